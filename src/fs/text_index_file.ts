/**
 * The text index file of a collection (`bm25_ino`, docs/FORMAT.md §8.7,
 * design issue 12 §1.4) as the engine reads and writes it: a block source
 * over the internal file (or over bytes in memory), its two header slots,
 * and the write protocol: a new segment into blocks allocated in a
 * transaction after the file's end, a commit (which flushes them), then
 * the header into the other slot with `seq + 1`, a flush, and the blocks
 * that neither slot names any more punched.
 * @module
 */
import { IFL_INTERNAL, S_IFREG } from "../format/constants.ts";
import type { CollectionRecord } from "../format/collection.ts";
import { type Bm25Header, decodeHeader, encodeHeader } from "../bm25/layout.ts";
import type { BlockSource } from "../bm25/reader.ts";
import type { Vexfs } from "./fs.ts";

/** Header slots are file blocks 0 and 1; segments start at block 2. */
export const FIRST_SEGMENT_BLOCK = 2;

/** Blocks `fileBlock .. fileBlock + count - 1` of internal file `ino` (holes and the part past the end read as zeros). */
export function fileSource(fs: Vexfs, ino: number): BlockSource {
  const bs = fs.blockSize;
  return {
    blockSize: bs,
    get fileBlocks() {
      return Math.ceil(fs.iget(ino).d.size / bs);
    },
    read(fileBlock: number, count: number): Uint8Array {
      const got = fs.read(ino, fileBlock * bs, count * bs);
      if (got.length === count * bs) return got;
      const out = new Uint8Array(count * bs);
      out.set(got);
      return out;
    },
  };
}

/** The two header slots of a file, decoded (null: not valid), and which is current (-1: none). */
export interface Slots {
  headers: [Bm25Header | null, Bm25Header | null];
  current: -1 | 0 | 1;
}

/** Reads and decodes both header slots of `src` (FORMAT.md §8.7: the valid slot with the higher `seq` is current). */
export function readSlots(src: BlockSource, collectionId: number): Slots {
  const two = src.read(0, 2);
  const bs = src.blockSize;
  const h0 = decodeHeader(two.subarray(0, bs), 0, collectionId);
  const h1 = decodeHeader(two.subarray(bs, 2 * bs), 1, collectionId);
  const current = h0 && h1 ? (h1.seq > h0.seq ? 1 : 0) : h0 ? 0 : h1 ? 1 : -1;
  return { headers: [h0, h1], current };
}

/**
 * Writes `segment` (whole blocks) into the index file of `rec` and makes a
 * header naming it current (design §1.4):
 * 1. in an operation: the file is allocated when `rec.bm25Ino` is 0 (the
 *    record saved with `saveRecord`), truncated when `rewrite` (a full
 *    build), its two header blocks allocated zeroed when it has none (so the
 *    commit holds them in its extents), and the segment written after its
 *    end, outside the journal;
 * 2. `fs.sync()`: the allocation commits and the segment is flushed;
 * 3. `makeHeader(firstBlock, blockCount)` is written into the slot that is
 *    not current (`slots`), outside the journal, and flushed;
 * 4. blocks named by neither slot (old segments) are punched, in an
 *    operation the next commit makes durable: a crash before it leaves
 *    garbage blocks, never a header naming freed blocks.
 * @returns the header written and the slots after the write
 * @throws FsError ENOSPC, EIO, EROFS
 */
export function writeSegment(
  fs: Vexfs,
  rec: CollectionRecord,
  saveRecord: (rec: CollectionRecord) => void,
  slots: Slots,
  segment: Uint8Array,
  rewrite: boolean,
  makeHeader: (seq: number, firstBlock: number, blockCount: number) => Bm25Header,
): Slots {
  const bs = fs.blockSize;
  let first = 0;
  fs.op(() => {
    if (!rec.bm25Ino) {
      rec.bm25Ino = fs.ialloc(S_IFREG | 0o600, 0, 0, 0, 0, IFL_INTERNAL).ino;
      saveRecord(rec);
    }
    const ino = rec.bm25Ino;
    if (rewrite) fs.truncate(ino, 0);
    const size = fs.iget(ino).d.size;
    if (size < FIRST_SEGMENT_BLOCK * bs) fs.writeUnjournaled(ino, 0, new Uint8Array(FIRST_SEGMENT_BLOCK * bs));
    first = Math.max(FIRST_SEGMENT_BLOCK, Math.ceil(fs.iget(ino).d.size / bs));
    if (segment.length) fs.writeUnjournaled(ino, first * bs, segment);
  }, "text index checkpoint");
  fs.sync();
  const cur = rewrite ? -1 : slots.current;
  const prevSeq = Math.max(slots.headers[0]?.seq ?? 0, slots.headers[1]?.seq ?? 0);
  const slot: 0 | 1 = cur === 0 ? 1 : 0;
  const h = makeHeader(prevSeq + 1, first, segment.length / bs);
  if (!segment.length) first = 0;
  fs.writeUnjournaled(rec.bm25Ino, slot * bs, encodeHeader(h, slot, bs, rec.id));
  fs.dev.sync();
  const other = cur === -1 ? null : slots.headers[cur];
  const after: Slots = { headers: slot === 0 ? [h, other] : [other, h], current: slot };
  punchUnnamed(fs, rec.bm25Ino, after);
  return after;
}

/** Punches the blocks of file `ino` past the header slots that neither valid slot names (garbage of old segments). */
export function punchUnnamed(fs: Vexfs, ino: number, slots: Slots): void {
  const bs = fs.blockSize;
  const named: [number, number][] = [];
  for (const h of slots.headers) {
    for (const s of h?.segments ?? []) named.push([s.firstBlock, s.firstBlock + s.blockCount]);
  }
  named.sort((a, b) => a[0] - b[0]);
  const end = Math.ceil(fs.iget(ino).d.size / bs);
  const holes: [number, number][] = [];
  let at = FIRST_SEGMENT_BLOCK;
  for (const [a, z] of named) {
    if (a > at) holes.push([at, a]);
    at = Math.max(at, z);
  }
  if (end > at) holes.push([at, end]);
  const exts = fs.extents(fs.iget(ino));
  const allocated = (a: number, z: number) => exts.some((e) => e.logical < z && e.logical + e.length > a);
  const todo = holes.filter(([a, z]) => allocated(a, z));
  if (!todo.length) return;
  fs.op(() => {
    for (const [a, z] of todo) fs.fallocate(ino, 3, a * bs, (z - a) * bs);
  }, "text index checkpoint");
}
