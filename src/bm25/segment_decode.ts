/**
 * Decoding and checking of one BM25 index segment (docs/FORMAT.md §8.7;
 * design issue-12 §1.2), the inverse of ./segment.ts. A {@linkcode Segment}
 * holds the doc table, the tombstones and the dictionary decoded in memory,
 * and the two streams copied out of their blocks; postings are decoded per
 * term on demand (and cached, a bounded number of terms per segment).
 *
 * Everything read is checked before use, so a damaged segment gives
 * `FsError("EUCLEAN")` naming the segment, block or record, never a crash,
 * an endless loop or a wrong answer: every block's CRC, the header's counts
 * against the blocks, inode order, dictionary order and hashes, offsets within
 * the streams, and when postings are decoded: varints of at most 5 bytes,
 * ordinals below the doc count and ascending, 1 ≤ tf ≤ dl, exactly `post_len`
 * bytes for `df` pairs. {@linkcode Segment.verify} also checks Σ tf = dl and
 * distinct terms = uniq for every document (fsck; merges do it as they go).
 *
 * @example
 * ```ts
 * import { encodeSegment } from "./segment.ts";
 * import { decodeSegment, termKey } from "./segment_decode.ts";
 * const doc = { ino: 12, igen: 1, dl: 3, ctimeSec: 0, ctimeNsec: 0, crc: 0, size: 14, flags: 0, uniq: 2,
 *   counts: new Map([["hello", 2], ["world", 1]]) };
 * const o = { id: 1, base: true, blockSize: 1024, collectionId: 3, hashSeed: 99 };
 * const seg = decodeSegment(encodeSegment([doc], [], o), 1024, 3, 99, "BM25 segment 1");
 * seg.postings(seg.find(termKey("hello", 99))); // { ords: Uint32Array [0], tfs: Uint32Array [2] }
 * ```
 * @module
 */
import { FsError } from "../errors.ts";
import { dirHash } from "../format/hash.ts";
import {
  blockOk,
  CRC_BYTES,
  decodeSegmentHeader,
  DICT_RECORD_BYTES,
  DOC_BINARY,
  DOC_LARGE,
  DOC_RECORD_BYTES,
  type DocEntry,
  getU64,
  MAX_TERM_BYTES,
  recordsPerBlock,
  type SegmentHeader,
  TOMB_RECORD_BYTES,
} from "./layout.ts";
import { compareBytes } from "./segment.ts";

/** Decoded postings of one term in one segment: ordinals ascending, tf ≥ 1. */
export interface Postings {
  /** doc-table ordinals */
  ords: Uint32Array;
  /** term frequencies, parallel to `ords` */
  tfs: Uint32Array;
}

/** Terms whose decoded postings a segment keeps (most recently used). */
export const POSTINGS_CACHE_TERMS = 512;
/** Postings pairs a segment's cache holds at most (8 bytes each: 16 MiB); a longer list is not cached. */
export const POSTINGS_CACHE_PAIRS = 1 << 21;

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

/**
 * The UTF-8 bytes and dictionary hash of a query term, computed once and
 * looked up in every segment.
 */
export interface TermKey {
  /** the term's UTF-8 bytes */
  bytes: Uint8Array;
  /** MurmurHash3 x86_32 of the bytes seeded with hash_seed (FORMAT.md §6) */
  hash: number;
}

/** The lookup key of `term` for a dictionary hashed with `hashSeed`. */
export function termKey(term: string, hashSeed: number): TermKey {
  const bytes = utf8.encode(term);
  return { bytes, hash: dirHash(bytes, hashSeed) };
}

/** One decoded segment. Immutable but for its postings cache. */
export class Segment {
  /** how messages name it, e.g. "BM25 segment 3" */
  readonly where: string;
  /** the decoded segment header */
  readonly header: SegmentHeader;
  /** doc-table records in ordinal (= ino) order */
  readonly docs: DocEntry[];
  /** dl by ordinal */
  readonly dl: Uint32Array;
  /** tombstones, ascending */
  readonly tombstones: number[];
  /** dictionary hashes by record */
  readonly hashes: Uint32Array;
  /** term byte lengths by record */
  readonly lens: Uint16Array;
  /** term-bytes offsets by record */
  readonly termOffs: Float64Array;
  /** postings offsets by record */
  readonly postOffs: Float64Array;
  /** df by record */
  readonly dfs: Uint32Array;
  /** postings byte lengths by record */
  readonly postLens: Uint32Array;
  /** the term-bytes stream */
  readonly termBytes: Uint8Array;
  /** the postings stream */
  readonly postBytes: Uint8Array;
  #cache = new Map<number, Postings>();
  #cachedPairs = 0;

  /** @internal use {@linkcode decodeSegment} */
  constructor(
    where: string,
    header: SegmentHeader,
    docs: DocEntry[],
    dl: Uint32Array,
    tombstones: number[],
    dict: {
      hashes: Uint32Array;
      lens: Uint16Array;
      termOffs: Float64Array;
      postOffs: Float64Array;
      dfs: Uint32Array;
      postLens: Uint32Array;
    },
    termBytes: Uint8Array,
    postBytes: Uint8Array,
  ) {
    this.where = where;
    this.header = header;
    this.docs = docs;
    this.dl = dl;
    this.tombstones = tombstones;
    this.hashes = dict.hashes;
    this.lens = dict.lens;
    this.termOffs = dict.termOffs;
    this.postOffs = dict.postOffs;
    this.dfs = dict.dfs;
    this.postLens = dict.postLens;
    this.termBytes = termBytes;
    this.postBytes = postBytes;
  }

  /** segment id */
  get id(): number {
    return this.header.id;
  }

  /** dictionary records */
  get termCount(): number {
    return this.hashes.length;
  }

  /** The UTF-8 bytes of dictionary record `i` (a view of the stream). */
  termBytesOf(i: number): Uint8Array {
    return this.termBytes.subarray(this.termOffs[i], this.termOffs[i] + this.lens[i]);
  }

  /**
   * The term of dictionary record `i` as a string.
   * @throws FsError EUCLEAN if its bytes are not UTF-8
   */
  termOf(i: number): string {
    try {
      return utf8Strict.decode(this.termBytesOf(i));
    } catch {
      throw new FsError("EUCLEAN", `${this.where} dictionary record ${i}: term bytes are not UTF-8`);
    }
  }

  /**
   * Binary search of the dictionary (sorted by hash, then bytes).
   * @param key the term's {@linkcode TermKey} (bytes and hash)
   * @returns the record index, or -1 when the segment lacks the term
   */
  find(key: TermKey): number {
    const { bytes, hash } = key;
    const h = this.hashes;
    let lo = 0, hi = h.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (h[mid] < hash) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < h.length && h[i] === hash; i++) {
      if (this.lens[i] !== bytes.length) continue;
      const off = this.termOffs[i];
      let j = 0;
      while (j < bytes.length && this.termBytes[off + j] === bytes[j]) j++;
      if (j === bytes.length) return i;
    }
    return -1;
  }

  /**
   * Decodes (or returns the cached) postings of dictionary record `i`.
   * @throws FsError EUCLEAN naming the segment and record: a varint longer
   *   than 5 bytes or above 2^32 - 1, an ordinal ≥ doc_count or not
   *   ascending, tf = 0 or tf > the doc's dl, a length other than post_len
   */
  postings(i: number): Postings {
    const hit = this.#cache.get(i);
    if (hit !== undefined) {
      this.#cache.delete(i);
      this.#cache.set(i, hit);
      return hit;
    }
    const p = this.decodePostings(i);
    const n = p.ords.length;
    if (n > POSTINGS_CACHE_PAIRS) return p;
    while (this.#cache.size >= POSTINGS_CACHE_TERMS || this.#cachedPairs + n > POSTINGS_CACHE_PAIRS) {
      const [oldest, q] = this.#cache.entries().next().value!;
      this.#cache.delete(oldest);
      this.#cachedPairs -= q.ords.length;
    }
    this.#cache.set(i, p);
    this.#cachedPairs += n;
    return p;
  }

  /**
   * Decodes the postings of dictionary record `i` without the cache (a
   * merge or a check reads every term once).
   * @throws FsError EUCLEAN as {@linkcode Segment.postings}
   */
  decodePostings(i: number): Postings {
    const df = this.dfs[i];
    const buf = this.postBytes;
    let pos = this.postOffs[i];
    const end = pos + this.postLens[i];
    const ords = new Uint32Array(df), tfs = new Uint32Array(df);
    const n = this.docs.length, dl = this.dl;
    const bad = (why: string) =>
      new FsError("EUCLEAN", `${this.where} postings of dictionary record ${i} (pair ${k} of ${df}): ${why}`);
    let k = 0;
    // One varint: ≤ 5 bytes, the 5th ≤ 0x0f (value < 2^32), within the term's bytes.
    const varint = (): number => {
      let x = 0, mul = 1;
      for (let j = 0; j < 5; j++) {
        if (pos >= end) throw bad("runs past post_len");
        const c = buf[pos++];
        if (j === 4 && c > 0x0f) throw bad("varint above 2^32 - 1");
        x += (c & 0x7f) * mul;
        if (c < 0x80) return x;
        mul *= 128;
      }
      throw bad("varint longer than 5 bytes");
    };
    let ord = -1;
    for (; k < df; k++) {
      const delta = varint();
      if (k > 0 && delta === 0) throw bad("ordinal delta 0 (not ascending)");
      ord = k === 0 ? delta : ord + delta;
      if (ord >= n) throw bad(`ordinal ${ord} ≥ doc_count ${n}`);
      const tf = varint();
      if (tf === 0) throw bad("tf 0");
      if (tf > dl[ord]) throw bad(`tf ${tf} > dl ${dl[ord]} of inode ${this.docs[ord].ino}`);
      ords[k] = ord;
      tfs[k] = tf;
    }
    if (pos !== end) throw bad(`${end - pos} bytes left over in post_len`);
    return { ords, tfs };
  }

  /**
   * Full check of the postings against the doc table (fsck, merge): every
   * term's postings decode, and per document Σ tf = dl and the number of
   * distinct terms = uniq. Also checks that every term is UTF-8.
   * @throws FsError EUCLEAN naming the first problem
   */
  verify(): void {
    const sum = new Float64Array(this.docs.length);
    const uniq = new Uint32Array(this.docs.length);
    for (let i = 0; i < this.termCount; i++) {
      this.termOf(i);
      const { ords, tfs } = this.decodePostings(i);
      for (let k = 0; k < ords.length; k++) {
        sum[ords[k]] += tfs[k];
        uniq[ords[k]]++;
      }
    }
    for (let o = 0; o < this.docs.length; o++) {
      const d = this.docs[o];
      if (sum[o] !== d.dl) throw new FsError("EUCLEAN", `${this.where} inode ${d.ino}: Σ tf ${sum[o]} ≠ dl ${d.dl}`);
      if (uniq[o] !== d.uniq) {
        throw new FsError("EUCLEAN", `${this.where} inode ${d.ino}: ${uniq[o]} distinct terms ≠ uniq ${d.uniq}`);
      }
    }
  }
}

/**
 * Decodes a segment from its blocks.
 * @param bytes the segment's blocks (a whole number of `blockSize` blocks)
 * @param blockSize bytes of a block
 * @param collectionId collection id (low half of the CRC seed)
 * @param hashSeed the superblock's `hash_seed` (dictionary hashes are checked against it)
 * @param where how messages name the segment, e.g. "BM25 segment 3 (file blocks 2..9)"
 * @param expectId the id the header names (-1: take the id in the segment header, for in-memory segments)
 * @returns the decoded segment
 * @throws FsError EUCLEAN naming the segment and the block or record at fault
 */
export function decodeSegment(
  bytes: Uint8Array,
  blockSize: number,
  collectionId: number,
  hashSeed: number,
  where: string,
  expectId = -1,
): Segment {
  const bs = blockSize;
  const bad = (why: string) => new FsError("EUCLEAN", `${where}: ${why}`);
  if (bytes.length < bs || bytes.length % bs !== 0) throw bad(`${bytes.length} bytes is not a whole number of blocks`);
  const nblocks = bytes.length / bs;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const id = expectId >= 0 ? expectId : dv.getUint32(4, true);
  for (let b = 0; b < nblocks; b++) {
    if (!blockOk(bytes.subarray(b * bs, (b + 1) * bs), collectionId, id)) {
      throw bad(`block ${b}: checksum mismatch (seed segment ${id}, collection ${collectionId})`);
    }
  }
  const h = decodeSegmentHeader(bytes.subarray(0, bs), where);
  if (h.id !== id) throw bad(`header says id ${h.id}, expected ${id}`);
  if (h.blockCount !== nblocks) throw bad(`header says ${h.blockCount} blocks, the segment has ${nblocks}`);

  // Doc table.
  const perDoc = recordsPerBlock(bs, DOC_RECORD_BYTES);
  const docs: DocEntry[] = new Array(h.docCount);
  const dl = new Uint32Array(h.docCount);
  let liveTokens = 0;
  for (let i = 0; i < h.docCount; i++) {
    const blk = h.docStart + Math.floor(i / perDoc);
    const off = blk * bs + (i % perDoc) * DOC_RECORD_BYTES;
    const at = `doc table block ${blk} record ${i}`;
    const ino = safe(dv.getBigUint64(off, true), () => bad(`${at}: ino ≥ 2^53`));
    if (ino < 1 || (i > 0 && ino <= docs[i - 1].ino)) throw bad(`${at}: ino ${ino} not above the previous one`);
    const ctimeSec = dv.getBigInt64(off + 16, true);
    if (ctimeSec > BigInt(Number.MAX_SAFE_INTEGER) || ctimeSec < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw bad(`${at}: ctime_sec out of range`);
    }
    const d: DocEntry = {
      ino,
      igen: dv.getUint32(off + 8, true),
      dl: dv.getUint32(off + 12, true),
      ctimeSec: Number(ctimeSec),
      ctimeNsec: dv.getUint32(off + 24, true),
      crc: dv.getUint32(off + 28, true),
      size: safe(dv.getBigUint64(off + 32, true), () => bad(`${at}: size ≥ 2^53`)),
      flags: dv.getUint32(off + 40, true),
      uniq: dv.getUint32(off + 44, true),
    };
    if (d.ctimeNsec > 999_999_999) throw bad(`${at}: ctime_nsec ${d.ctimeNsec}`);
    if ((d.flags & ~(DOC_BINARY | DOC_LARGE)) !== 0 || d.flags === (DOC_BINARY | DOC_LARGE)) {
      throw bad(`${at}: flags 0x${d.flags.toString(16)}`);
    }
    if (d.flags !== 0 && (d.dl !== 0 || d.uniq !== 0)) throw bad(`${at}: skipped file with dl ${d.dl}`);
    if (d.uniq > d.dl) throw bad(`${at}: uniq ${d.uniq} > dl ${d.dl}`);
    docs[i] = d;
    dl[i] = d.dl;
    liveTokens += d.dl;
  }
  if (liveTokens !== h.liveTokens) throw bad(`live_tokens ${h.liveTokens}, the doc table sums to ${liveTokens}`);

  // Tombstones.
  const perTomb = recordsPerBlock(bs, TOMB_RECORD_BYTES);
  const tombstones: number[] = new Array(h.tombCount);
  for (let i = 0; i < h.tombCount; i++) {
    const blk = h.tombStart + Math.floor(i / perTomb);
    const t = safe(
      dv.getBigUint64(blk * bs + (i % perTomb) * TOMB_RECORD_BYTES, true),
      () => bad(`tombstone block ${blk} record ${i}: ino ≥ 2^53`),
    );
    if (t < 1 || (i > 0 && t <= tombstones[i - 1])) {
      throw bad(`tombstone block ${blk} record ${i}: ino ${t} not above the previous one`);
    }
    tombstones[i] = t;
  }

  // Streams, then the dictionary that points into them.
  const termBytes = readStream(bytes, bs, h.termsStart, h.termsBytes);
  const postBytes = readStream(bytes, bs, h.postStart, h.postBytes);
  const n = h.termCount;
  const dict = {
    hashes: new Uint32Array(n),
    lens: new Uint16Array(n),
    termOffs: new Float64Array(n),
    postOffs: new Float64Array(n),
    dfs: new Uint32Array(n),
    postLens: new Uint32Array(n),
  };
  const perDict = recordsPerBlock(bs, DICT_RECORD_BYTES);
  let tpos = 0, ppos = 0;
  for (let i = 0; i < n; i++) {
    const blk = h.dictStart + Math.floor(i / perDict);
    const off = blk * bs + (i % perDict) * DICT_RECORD_BYTES;
    const at = `dictionary block ${blk} record ${i}`;
    const hash = dv.getUint32(off, true);
    const len = dv.getUint16(off + 4, true);
    const termOff = getU64(dv, off + 8), postOff = getU64(dv, off + 16);
    const df = dv.getUint32(off + 24, true), postLen = dv.getUint32(off + 28, true);
    if (dv.getUint16(off + 6, true) !== 0) throw bad(`${at}: reserved field is not 0`);
    if (len < 1 || len > MAX_TERM_BYTES) throw bad(`${at}: term length ${len} (1..${MAX_TERM_BYTES})`);
    if (termOff !== tpos || tpos + len > h.termsBytes) {
      throw bad(`${at}: term_off ${termOff} (expected ${tpos}, stream of ${h.termsBytes} bytes)`);
    }
    if (df < 1 || df > h.docCount) throw bad(`${at}: df ${df} (1..${h.docCount})`);
    if (postOff !== ppos || postLen < 2 * df || postLen > 10 * df || ppos + postLen > h.postBytes) {
      throw bad(`${at}: post_off ${postOff} post_len ${postLen} (expected offset ${ppos}, 2..10 bytes per pair)`);
    }
    const term = termBytes.subarray(tpos, tpos + len);
    const want = dirHash(term, hashSeed);
    if (hash !== want) throw bad(`${at}: hash 0x${hash.toString(16)} is not the term's (0x${want.toString(16)})`);
    if (i > 0) {
      const ph = dict.hashes[i - 1];
      const prev = termBytes.subarray(dict.termOffs[i - 1], dict.termOffs[i - 1] + dict.lens[i - 1]);
      if (hash < ph || (hash === ph && compareBytes(prev, term) >= 0)) {
        throw bad(`${at}: not after the previous record`);
      }
    }
    dict.hashes[i] = hash;
    dict.lens[i] = len;
    dict.termOffs[i] = tpos;
    dict.postOffs[i] = ppos;
    dict.dfs[i] = df;
    dict.postLens[i] = postLen;
    tpos += len;
    ppos += postLen;
  }
  if (tpos !== h.termsBytes) throw bad(`terms_bytes ${h.termsBytes}, the dictionary uses ${tpos}`);
  if (ppos !== h.postBytes) throw bad(`post_bytes ${h.postBytes}, the dictionary uses ${ppos}`);
  return new Segment(where, h, docs, dl, tombstones, dict, termBytes, postBytes);
}

function safe(x: bigint, bad: () => FsError): number {
  if (x > BigInt(Number.MAX_SAFE_INTEGER)) throw bad();
  return Number(x);
}

/** Copies `len` stream bytes out of consecutive blocks from `start` (`bs - 4` bytes per block). */
function readStream(bytes: Uint8Array, bs: number, start: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  const pay = bs - CRC_BYTES;
  for (let o = 0, b = start; o < len; o += pay, b++) {
    const m = Math.min(pay, len - o);
    out.set(bytes.subarray(b * bs, b * bs + m), o);
  }
  return out;
}
