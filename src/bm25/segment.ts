/**
 * Encoding of one BM25 index segment (docs/FORMAT.md §8.7; design issue-12
 * §1.2): the segment header block, the doc table (48-byte records sorted by
 * ino), the tombstones (sorted u64 inode numbers), the dictionary (32-byte
 * records sorted by (hash, term bytes), hash = the directory name hash of
 * FORMAT.md §6 seeded with the superblock's `hash_seed`), the term-bytes
 * stream and the postings stream (per term, in dictionary order, `df` pairs
 * `(ordinal delta, tf)` as unsigned LEB128 varints; the first delta is the
 * ordinal itself). Fixed-size records never straddle a block; the streams fill
 * `block_size - 4` bytes of every block. Every block ends with its CRC-32C
 * seeded with `(id << 32) | collectionId` (./layout.ts).
 *
 * Both streams are written contiguously in dictionary order (record `i + 1`'s
 * bytes follow record `i`'s); the decoder (./segment_decode.ts) checks that.
 *
 * @example
 * ```ts
 * import { encodeSegment } from "./segment.ts";
 * const doc = { ino: 12, igen: 1, dl: 3, ctimeSec: 0, ctimeNsec: 0, crc: 0, size: 14, flags: 0, uniq: 2,
 *   counts: new Map([["hello", 2], ["world", 1]]) };
 * const bytes = encodeSegment([doc], [12], { id: 1, base: false, blockSize: 4096, collectionId: 3, hashSeed: 99 });
 * bytes.length; // 5 × 4096: header, doc table, dictionary, term bytes, postings
 * ```
 * @module
 */
import { FsError } from "../errors.ts";
import { dirHash } from "../format/hash.ts";
import { varintLength, writeVarint } from "./_varint.ts";
import { type SegmentOptions, writeSegment } from "./_segment_write.ts";
import { checkBlockSize, DOC_BINARY, DOC_LARGE, type DocInput, MAX_TERM_BYTES } from "./layout.ts";

export type { SegmentOptions } from "./_segment_write.ts";

const utf8 = new TextEncoder();

/** Compares two byte strings: negative, 0 or positive, shorter first on a common prefix (memcmp order). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

function checkInt(x: number, max: number, what: string, ino = 0): void {
  if (!Number.isInteger(x) || x < 0 || x > max) {
    const of = ino > 0 ? `inode ${ino} ` : "";
    throw new FsError("EINVAL", `BM25 segment: ${of}${what} = ${x} is not an integer in 0..${max}`);
  }
}

/**
 * Encodes a segment from documents and tombstones.
 * @param docs the segment's documents in any order (inos distinct); each
 *   doc's `counts` sum to its `dl`; a skipped file (DOC_BINARY or DOC_LARGE)
 *   or an empty one has no counts and dl 0. `uniq` is written as `counts.size`.
 * @param tombstones inode numbers whose documents in OLDER segments are dead
 *   (any order, duplicates allowed); a writer lists every ino it re-adds here
 * @param o id, base flag, block size, CRC and hash seeds
 * @returns the segment: a whole number of blocks, every block sealed
 * @throws FsError EINVAL on a bad input (duplicate ino, counts ≠ dl, a term
 *   of 0 or more than 64 UTF-8 bytes, a field out of its range, more than
 *   2^32 - 1 records)
 */
export function encodeSegment(docs: DocInput[], tombstones: number[], o: SegmentOptions): Uint8Array {
  const bs = o.blockSize;
  checkBlockSize(bs);
  checkInt(o.id, 0xffffffff, "id");
  checkInt(o.collectionId, 0xffffffff, "collection id");
  const sorted = [...docs].sort((a, b) => a.ino - b.ino);
  const tombs = [...new Set(tombstones)].sort((a, b) => a - b);
  for (const t of tombs) checkInt(t, Number.MAX_SAFE_INTEGER, "tombstone ino");
  checkInt(sorted.length, 0xffffffff, "doc count");
  checkInt(tombs.length, 0xffffffff, "tombstone count");

  // Postings in document order as flat (term id, ordinal, tf) triples; term ids in first-seen order.
  let total = 0;
  for (const d of sorted) total += d.counts.size;
  const pTerm = new Uint32Array(total), pOrd = new Uint32Array(total), pTf = new Uint32Array(total);
  const termIds = new Map<string, number>();
  const names: string[] = [];
  let dfs = new Uint32Array(1024);
  let liveTokens = 0, k = 0;
  for (let ord = 0; ord < sorted.length; ord++) {
    const d = sorted[ord];
    checkDoc(d, ord > 0 ? sorted[ord - 1].ino : 0);
    let sum = 0;
    for (const [t, tf] of d.counts) {
      if (!Number.isInteger(tf) || tf < 1 || tf > 0xffffffff) {
        throw new FsError("EINVAL", `BM25 segment: inode ${d.ino} term ${JSON.stringify(t)} tf ${tf}`);
      }
      sum += tf;
      let id = termIds.get(t);
      if (id === undefined) {
        id = names.length;
        termIds.set(t, id);
        names.push(t);
        if (id === dfs.length) {
          const g = new Uint32Array(2 * id);
          g.set(dfs);
          dfs = g;
        }
      }
      dfs[id]++;
      pTerm[k] = id;
      pOrd[k] = ord;
      pTf[k++] = tf;
    }
    if (sum !== d.dl) {
      throw new FsError("EINVAL", `BM25 segment: inode ${d.ino} has dl ${d.dl}, its counts sum to ${sum}`);
    }
    liveTokens += d.dl;
  }
  // Group by term (a counting sort by term id keeps each term's ordinals ascending).
  const start = new Float64Array(names.length + 1);
  for (let id = 0; id < names.length; id++) start[id + 1] = start[id] + dfs[id];
  const fill = start.slice(0, names.length);
  const sOrd = new Uint32Array(total), sTf = new Uint32Array(total);
  for (let j = 0; j < total; j++) {
    const at = fill[pTerm[j]]++;
    sOrd[at] = pOrd[j];
    sTf[at] = pTf[j];
  }

  // Dictionary order: (hash, term bytes).
  const terms: { bytes: Uint8Array; hash: number; id: number }[] = new Array(names.length);
  for (let id = 0; id < names.length; id++) {
    const bytes = utf8.encode(names[id]);
    if (bytes.length < 1 || bytes.length > MAX_TERM_BYTES) {
      throw new FsError("EINVAL", `BM25 segment: term ${JSON.stringify(names[id])} has ${bytes.length} bytes (1..64)`);
    }
    terms[id] = { bytes, hash: dirHash(bytes, o.hashSeed), id };
  }
  terms.sort((a, b) => a.hash - b.hash || compareBytes(a.bytes, b.bytes));
  checkInt(terms.length, 0xffffffff, "term count");

  let termsBytes = 0, postBytes = 0;
  const postLen = new Array<number>(terms.length);
  for (let i = 0; i < terms.length; i++) {
    termsBytes += terms[i].bytes.length;
    const id = terms[i].id;
    let n = 0, prev = 0;
    for (let j = start[id]; j < start[id + 1]; j++) {
      n += varintLength(sOrd[j] - prev) + varintLength(sTf[j]);
      prev = sOrd[j];
    }
    if (n > 0xffffffff) throw new FsError("EINVAL", "BM25 segment: postings of one term exceed 2^32 - 1 bytes");
    postLen[i] = n;
    postBytes += n;
  }
  const termStream = new Uint8Array(termsBytes);
  const postStream = new Uint8Array(postBytes);
  const n = terms.length;
  const dict = {
    hashes: new Uint32Array(n),
    lens: new Uint16Array(n),
    dfs: new Uint32Array(n),
    postLens: Uint32Array.from(postLen),
  };
  let tpos = 0, ppos = 0;
  for (let i = 0; i < n; i++) {
    const t = terms[i];
    dict.hashes[i] = t.hash;
    dict.lens[i] = t.bytes.length;
    dict.dfs[i] = dfs[t.id];
    termStream.set(t.bytes, tpos);
    tpos += t.bytes.length;
    let prev = 0;
    for (let j = start[t.id]; j < start[t.id + 1]; j++) {
      ppos = writeVarint(postStream, ppos, sOrd[j] - prev);
      ppos = writeVarint(postStream, ppos, sTf[j]);
      prev = sOrd[j];
    }
  }
  return writeSegment({
    docs: sorted,
    uniq: Uint32Array.from(sorted, (d) => d.counts.size),
    tombs,
    ...dict,
    termStream,
    postStream,
    liveTokens,
  }, o);
}

/**
 * Checks one document's record fields and its counts' shape.
 * @param prevIno the previous document's ino (0 for the first)
 * @throws FsError EINVAL
 */
function checkDoc(d: DocInput, prevIno: number): void {
  checkInt(d.ino, Number.MAX_SAFE_INTEGER, "ino");
  if (d.ino < 1 || d.ino === prevIno) {
    throw new FsError("EINVAL", `BM25 segment: inode ${d.ino} is not a valid, distinct inode number`);
  }
  checkInt(d.igen, 0xffffffff, "igen", d.ino);
  checkInt(d.dl, 0xffffffff, "dl", d.ino);
  checkInt(d.ctimeNsec, 999_999_999, "ctime_nsec", d.ino);
  checkInt(d.crc, 0xffffffff, "crc", d.ino);
  checkInt(d.size, Number.MAX_SAFE_INTEGER, "size", d.ino);
  if (!Number.isSafeInteger(d.ctimeSec)) throw new FsError("EINVAL", `BM25 segment: inode ${d.ino} ctime_sec`);
  if ((d.flags & ~(DOC_BINARY | DOC_LARGE)) !== 0 || d.flags === (DOC_BINARY | DOC_LARGE)) {
    throw new FsError("EINVAL", `BM25 segment: inode ${d.ino} flags 0x${d.flags.toString(16)}`);
  }
  if (d.flags !== 0 && d.counts.size > 0) {
    throw new FsError("EINVAL", `BM25 segment: skipped inode ${d.ino} has term counts`);
  }
}
