/**
 * Writes a segment's blocks from its parts (docs/FORMAT.md §8.7; design
 * issue-12 §1.2): the header block, the doc table, tombstones and dictionary
 * (fixed-size records that never straddle a block), the term-bytes and
 * postings streams (`block_size - 4` bytes per block), every block sealed with
 * its CRC seeded `(id << 32) | collectionId`. Shared by ./segment.ts (from
 * documents) and ./merge.ts (from decoded segments, without re-building the
 * postings).
 * @module
 */
import { FsError } from "../errors.ts";
import {
  CRC_BYTES,
  DICT_RECORD_BYTES,
  DOC_RECORD_BYTES,
  type DocEntry,
  encodeSegmentHeader,
  recordsPerBlock,
  sealBlock,
  SEGMENT_BASE,
  segmentGeometry,
  setU64,
  TOMB_RECORD_BYTES,
} from "./layout.ts";

/** Options of {@linkcode encodeSegment}. */
export interface SegmentOptions {
  /** segment id (u32), unique within the file; seeds the block CRCs */
  id: number;
  /** a base segment (flag 0x1) */
  base: boolean;
  /** bytes of a block (power of two, 1024..65536) */
  blockSize: number;
  /** the collection id (low half of the CRC seed) */
  collectionId: number;
  /** the superblock's `hash_seed` (seed of the dictionary hash) */
  hashSeed: number;
}

/** A segment's contents, ready to be laid out. */
export interface SegmentParts {
  /** documents ascending by ino (distinct) */
  docs: readonly DocEntry[];
  /** the `uniq` field of each document, parallel to `docs` */
  uniq: Uint32Array;
  /** tombstones ascending, distinct */
  tombs: readonly number[];
  /** dictionary hashes in dictionary order (hash, then term bytes) */
  hashes: Uint32Array;
  /** term byte lengths, parallel */
  lens: Uint16Array;
  /** df, parallel */
  dfs: Uint32Array;
  /** postings byte lengths, parallel */
  postLens: Uint32Array;
  /** the term-bytes stream: every term's bytes in dictionary order */
  termStream: Uint8Array;
  /** the postings stream: every term's postings in dictionary order */
  postStream: Uint8Array;
  /** Σ dl of the documents */
  liveTokens: number;
}

/**
 * Lays a segment out in blocks.
 * @param p the contents (already checked by the caller)
 * @param o id, base flag, block size and CRC seed
 * @returns a whole number of sealed blocks
 * @throws FsError EINVAL when a count exceeds 2^32 - 1
 */
export function writeSegment(p: SegmentParts, o: SegmentOptions): Uint8Array {
  const bs = o.blockSize;
  const termCount = p.hashes.length;
  for (const [x, what] of [[p.docs.length, "docs"], [p.tombs.length, "tombstones"], [termCount, "terms"]] as const) {
    if (x > 0xffffffff) throw new FsError("EINVAL", `BM25 segment: ${x} ${what} (max 2^32 - 1)`);
  }
  const termsBytes = p.termStream.length, postBytes = p.postStream.length;
  const g = segmentGeometry(bs, {
    docCount: p.docs.length,
    tombCount: p.tombs.length,
    termCount,
    termsBytes,
    postBytes,
  });
  const out = new Uint8Array(g.blockCount * bs);
  const v = new DataView(out.buffer);
  encodeSegmentHeader({
    id: o.id,
    flags: o.base ? SEGMENT_BASE : 0,
    docCount: p.docs.length,
    tombCount: p.tombs.length,
    termCount,
    ...g,
    termsBytes,
    postBytes,
    liveTokens: p.liveTokens,
  }, out.subarray(0, bs));

  const perDoc = recordsPerBlock(bs, DOC_RECORD_BYTES);
  for (let i = 0; i < p.docs.length; i++) {
    const d = p.docs[i];
    const off = (g.docStart + Math.floor(i / perDoc)) * bs + (i % perDoc) * DOC_RECORD_BYTES;
    setU64(v, off, d.ino);
    v.setUint32(off + 8, d.igen, true);
    v.setUint32(off + 12, d.dl, true);
    v.setBigInt64(off + 16, BigInt(d.ctimeSec), true);
    v.setUint32(off + 24, d.ctimeNsec, true);
    v.setUint32(off + 28, d.crc, true);
    setU64(v, off + 32, d.size);
    v.setUint32(off + 40, d.flags, true);
    v.setUint32(off + 44, p.uniq[i], true);
  }
  const perTomb = recordsPerBlock(bs, TOMB_RECORD_BYTES);
  for (let i = 0; i < p.tombs.length; i++) {
    setU64(v, (g.tombStart + Math.floor(i / perTomb)) * bs + (i % perTomb) * TOMB_RECORD_BYTES, p.tombs[i]);
  }
  const perDict = recordsPerBlock(bs, DICT_RECORD_BYTES);
  let tpos = 0, ppos = 0;
  for (let i = 0; i < termCount; i++) {
    const off = (g.dictStart + Math.floor(i / perDict)) * bs + (i % perDict) * DICT_RECORD_BYTES;
    v.setUint32(off, p.hashes[i], true);
    v.setUint16(off + 4, p.lens[i], true);
    setU64(v, off + 8, tpos);
    setU64(v, off + 16, ppos);
    v.setUint32(off + 24, p.dfs[i], true);
    v.setUint32(off + 28, p.postLens[i], true);
    tpos += p.lens[i];
    ppos += p.postLens[i];
  }
  if (tpos !== termsBytes || ppos !== postBytes) {
    throw new Error(`writeSegment: dictionary sums ${tpos}/${ppos} ≠ streams ${termsBytes}/${postBytes}`);
  }
  putStream(out, p.termStream, g.termsStart, bs);
  putStream(out, p.postStream, g.postStart, bs);
  for (let b = 0; b < g.blockCount; b++) sealBlock(out.subarray(b * bs, (b + 1) * bs), o.collectionId, o.id);
  return out;
}

/** Copies a byte stream into consecutive blocks from `start`, `bs - 4` bytes per block. */
function putStream(out: Uint8Array, stream: Uint8Array, start: number, bs: number): void {
  const pay = bs - CRC_BYTES;
  for (let o = 0, b = start; o < stream.length; o += pay, b++) {
    out.set(stream.subarray(o, Math.min(o + pay, stream.length)), b * bs);
  }
}
