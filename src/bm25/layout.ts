/**
 * Layout of a collection's BM25 index file (`bm25_ino`, docs/FORMAT.md §8.7;
 * design issue-12 §1.2): constants, the record shapes shared by the codec and
 * the reader, the two header slots (file blocks 0 and 1), the segment header,
 * and the per-block CRC-32C tail with its seeds.
 *
 * Every block ends with a CRC-32C at `block_size - 4` over bytes
 * `0 .. block_size - 5`, seeded (FORMAT.md §1: the 8 little-endian bytes of a
 * u64 before the covered bytes) with the collection id for the header slots
 * and with `(segmentId << 32) | collectionId` for the blocks of segment
 * `segmentId`, so a block of a freed segment, or one written to the wrong
 * place, fails its check. The CRC itself is src/format/crc.ts's.
 *
 * The segment's regions (doc table, tombstones, dictionary, term bytes,
 * postings) are in ./segment.ts and ./_segment_decode.ts.
 *
 * @example
 * ```ts
 * import { decodeHeader, emptyHeader, encodeHeader } from "./layout.ts";
 * const h = { ...emptyHeader(), seq: 3, segments: [{ firstBlock: 2, blockCount: 5, id: 1 }] };
 * const block = encodeHeader(h, 1, 4096, 7);
 * decodeHeader(block, 1, 7)?.seq; // 3
 * decodeHeader(block, 1, 8); // null: seeded with another collection id
 * ```
 * @module
 */
import { FsError } from "../errors.ts";
import { crc32c } from "../format/crc.ts";

/** Magic of a header slot: bytes `B M 2 5` read as a little-endian u32. */
export const BM25_MAGIC = 0x35324d42;
/** Magic of a segment header block: bytes `S G 2 5` read as a little-endian u32. */
export const SEGMENT_MAGIC = 0x35324753;
/** Header slot version this code writes and reads. */
export const BM25_VERSION = 1;
/** Bytes of the header slot that carry fields (the rest of the block up to the CRC is 0). */
export const HEADER_BYTES = 296;
/** Bytes of the segment header's fields. */
export const SEGMENT_HEADER_BYTES = 96;
/** Segments a header can name: one base and up to 7 deltas. */
export const MAX_SEGMENTS = 8;
/** Bytes of a doc-table record. */
export const DOC_RECORD_BYTES = 48;
/** Bytes of a tombstone (a u64 inode number). */
export const TOMB_RECORD_BYTES = 8;
/** Bytes of a dictionary record. */
export const DICT_RECORD_BYTES = 32;
/** Longest term in UTF-8 bytes (longer tokens are dropped by the analyzer). */
export const MAX_TERM_BYTES = 64;
/** Bytes of the CRC tail of every block. */
export const CRC_BYTES = 4;
/** Doc flag: skipped, binary content (no postings, dl 0). */
export const DOC_BINARY = 0x1;
/** Doc flag: skipped, larger than the collection's `bm25_max_file` (no postings, dl 0). */
export const DOC_LARGE = 0x2;
/** Segment flag: a base segment (the oldest; written by a build or merge). */
export const SEGMENT_BASE = 0x1;
/** Smallest block size the layout supports (the header slot needs 296 + 4 bytes). */
export const MIN_BLOCK_BYTES = 1024;
/** Largest block size of the format. */
export const MAX_BLOCK_BYTES = 65536;

/** One doc-table record: a regular file of the collection as it was tokenized. */
export interface DocEntry {
  /** inode number, 1 .. 2^53 - 1 */
  ino: number;
  /** the inode's generation (FORMAT.md §4.2): a reused inode number is a new document */
  igen: number;
  /** tokens kept by the analyzer; 0 for empty and skipped files */
  dl: number;
  /** the inode's ctime (seconds, signed) when tokenized */
  ctimeSec: number;
  /** nanoseconds of that ctime, 0 .. 999,999,999 */
  ctimeNsec: number;
  /** CRC-32C of the file's bytes when tokenized */
  crc: number;
  /** file size in bytes when tokenized */
  size: number;
  /** DOC_BINARY, DOC_LARGE or 0 */
  flags: number;
  /** distinct terms (informational) */
  uniq: number;
}

/** A document to write: its record and its term counts (empty for skipped and empty files). */
export interface DocInput extends DocEntry {
  /** term → occurrences (tf ≥ 1); Σ of the values must equal `dl` */
  counts: Map<string, number>;
}

/** One entry of the header's segment list: a contiguous run of file blocks. */
export interface SegmentRef {
  /** first file block of the segment (≥ 2: blocks 0 and 1 are the header slots) */
  firstBlock: number;
  /** blocks of the segment, its header block included */
  blockCount: number;
  /** segment id (u32, never reused within a file); seeds the segment's block CRCs */
  id: number;
}

/** A header slot (design §1.2). u64 fields are numbers below 2^53. */
export interface Bm25Header {
  /** write sequence: the valid slot with the higher seq is current */
  seq: number;
  /** the collection record's `text_generation` this index matches */
  textGeneration: number;
  /** analyzer id (1 = word-v1) */
  analyzer: number;
  /** 0 none, 1 the stemmer of `lang` */
  stemmer: number;
  /** 0 none, 1 the stop words of `lang` */
  stopwords: number;
  /** files larger than this many bytes were skipped */
  maxFile: number;
  /** ASCII language code, at most 8 bytes ("" for none) */
  lang: string;
  /** ASCII analyzer build signature, at most 64 bytes */
  signature: string;
  /** N: live documents with at least one token */
  docCount: number;
  /** Σ dl over those documents */
  totalTokens: number;
  /** files skipped as binary */
  skippedBinary: number;
  /** files skipped as larger than maxFile */
  skippedLarge: number;
  /** tokens dropped for being longer than 64 bytes */
  longTokens: number;
  /** text files with no token */
  emptyDocs: number;
  /** id the next segment written gets */
  nextSegmentId: number;
  /** duration of the last full build, nanoseconds (informational) */
  buildNs: number;
  /** 1..8 segments, the base first, newer ones after */
  segments: SegmentRef[];
}

/** The segment header (block 0 of a segment). Region starts are block offsets within the segment. */
export interface SegmentHeader {
  /** segment id (= the header's entry) */
  id: number;
  /** blocks of the segment */
  blockCount: number;
  /** SEGMENT_BASE or 0 */
  flags: number;
  /** doc-table records */
  docCount: number;
  /** tombstones */
  tombCount: number;
  /** dictionary records */
  termCount: number;
  /** first block of the doc table */
  docStart: number;
  /** first block of the tombstones */
  tombStart: number;
  /** first block of the dictionary */
  dictStart: number;
  /** first block of the term-bytes stream */
  termsStart: number;
  /** first block of the postings stream */
  postStart: number;
  /** bytes of the term-bytes stream */
  termsBytes: number;
  /** bytes of the postings stream */
  postBytes: number;
  /** Σ dl of the segment's documents */
  liveTokens: number;
}

/** A header with every count 0 and no segment (a starting point for a writer). */
export function emptyHeader(): Bm25Header {
  return {
    seq: 0,
    textGeneration: 0,
    analyzer: 0,
    stemmer: 0,
    stopwords: 0,
    maxFile: 0,
    lang: "",
    signature: "",
    docCount: 0,
    totalTokens: 0,
    skippedBinary: 0,
    skippedLarge: 0,
    longTokens: 0,
    emptyDocs: 0,
    nextSegmentId: 0,
    buildNs: 0,
    segments: [],
  };
}

/**
 * Records of `recordBytes` bytes that fit in one block (records never straddle a block).
 * @param blockSize bytes of a block
 * @param recordBytes bytes of a record
 */
export function recordsPerBlock(blockSize: number, recordBytes: number): number {
  return Math.floor((blockSize - CRC_BYTES) / recordBytes);
}

/**
 * Writes a u64 (a safe integer ≥ 0) little-endian without BigInt (hot paths: dictionary records).
 */
export function setU64(v: DataView, off: number, x: number): void {
  v.setUint32(off, x % 0x100000000, true);
  v.setUint32(off + 4, Math.floor(x / 0x100000000), true);
}

/**
 * Reads a little-endian u64 without BigInt. Exact below 2^53; a larger value
 * comes back ≥ 2^53 (inexact), so a comparison with a safe integer still fails.
 */
export function getU64(v: DataView, off: number): number {
  return v.getUint32(off, true) + v.getUint32(off + 4, true) * 0x100000000;
}

const seedBytes = new Uint8Array(8);
const seedView = new DataView(seedBytes.buffer);

/**
 * The CRC-32C of a block's covered bytes (`0 .. block.length - 5`) seeded
 * with the u64 `(high << 32) | low` (FORMAT.md §1).
 */
function blockCrc(block: Uint8Array, high: number, low: number): number {
  seedView.setUint32(0, low >>> 0, true);
  seedView.setUint32(4, high >>> 0, true);
  return crc32c(block.subarray(0, block.length - CRC_BYTES), crc32c(seedBytes));
}

/**
 * Writes the CRC tail of a block of the index file.
 * @param block the whole block (its length is the block size)
 * @param collectionId the collection id (low 32 bits of the seed)
 * @param segmentId the segment the block belongs to, or -1 for a header slot (seed = collection id)
 */
export function sealBlock(block: Uint8Array, collectionId: number, segmentId: number): void {
  const crc = blockCrc(block, segmentId < 0 ? 0 : segmentId, collectionId);
  new DataView(block.buffer, block.byteOffset, block.length).setUint32(block.length - CRC_BYTES, crc, true);
}

/**
 * Whether a block's CRC tail matches its bytes and owner.
 * @param block the whole block
 * @param collectionId the collection id
 * @param segmentId the segment, or -1 for a header slot
 */
export function blockOk(block: Uint8Array, collectionId: number, segmentId: number): boolean {
  if (block.length <= CRC_BYTES) return false;
  const want = new DataView(block.buffer, block.byteOffset, block.length).getUint32(block.length - CRC_BYTES, true);
  return blockCrc(block, segmentId < 0 ? 0 : segmentId, collectionId) === want;
}

/**
 * Checks that a block size is one the layout supports.
 * @throws FsError EINVAL unless a power of two in 1024 .. 65536
 */
export function checkBlockSize(bs: number): void {
  if (!Number.isInteger(bs) || bs < MIN_BLOCK_BYTES || bs > MAX_BLOCK_BYTES || (bs & (bs - 1)) !== 0) {
    throw new FsError("EINVAL", `BM25 index: block size ${bs} is not a power of two in 1024..65536`);
  }
}

function putAscii(v: DataView, off: number, max: number, s: string, what: string): void {
  if (s.length > max || !/^[\x20-\x7e]*$/.test(s)) {
    throw new FsError("EINVAL", `BM25 header: ${what} ${JSON.stringify(s)} is not printable ASCII of ≤ ${max} bytes`);
  }
  for (let i = 0; i < s.length; i++) v.setUint8(off + i, s.charCodeAt(i));
}

function getAscii(b: Uint8Array, off: number, max: number): string | null {
  let s = "";
  let end = false;
  for (let i = 0; i < max; i++) {
    const c = b[off + i];
    if (c === 0) {
      end = true;
      continue;
    }
    if (end || c < 0x20 || c > 0x7e) return null; // a byte after the NUL padding, or not printable
    s += String.fromCharCode(c);
  }
  return s;
}

function checkU(x: number, bits: 8 | 16 | 32 | 53, what: string): void {
  const max = bits === 53 ? Number.MAX_SAFE_INTEGER : 2 ** bits - 1;
  if (!Number.isInteger(x) || x < 0 || x > max) {
    throw new FsError("EINVAL", `BM25 index: ${what} = ${x} is not an integer in 0..${max}`);
  }
}

/**
 * Encodes a header slot: the fields of design §1.2 at their offsets, zeros,
 * the CRC tail seeded with the collection id.
 * @param h the header (1..8 segments)
 * @param slot which slot this block is written to (0 or 1 = its file block)
 * @param blockSize bytes of a block (power of two, 1024..65536)
 * @param collectionId the collection id (checksum seed)
 * @returns one block
 * @throws FsError EINVAL on a field out of its range (a caller bug)
 */
export function encodeHeader(h: Bm25Header, slot: 0 | 1, blockSize: number, collectionId: number): Uint8Array {
  checkBlockSize(blockSize);
  if (h.segments.length < 1 || h.segments.length > MAX_SEGMENTS) {
    throw new FsError("EINVAL", `BM25 header: ${h.segments.length} segments (1..${MAX_SEGMENTS})`);
  }
  const b = new Uint8Array(blockSize);
  const v = new DataView(b.buffer);
  const u64 = (off: number, x: number, what: string) => {
    checkU(x, 53, what);
    v.setBigUint64(off, BigInt(x), true);
  };
  v.setUint32(0, BM25_MAGIC, true);
  v.setUint16(4, BM25_VERSION, true);
  v.setUint16(6, slot, true);
  u64(8, h.seq, "seq");
  u64(16, h.textGeneration, "text_generation");
  for (
    const [off, x, what] of [[24, h.analyzer, "analyzer"], [25, h.stemmer, "stemmer"], [
      26,
      h.stopwords,
      "stopwords",
    ]] as const
  ) {
    checkU(x, 8, what);
    v.setUint8(off, x);
  }
  checkU(h.maxFile, 32, "max_file");
  v.setUint32(28, h.maxFile, true);
  putAscii(v, 32, 8, h.lang, "lang");
  putAscii(v, 40, 64, h.signature, "signature");
  u64(104, h.docCount, "doc_count");
  u64(112, h.totalTokens, "total_tokens");
  u64(120, h.skippedBinary, "skipped_binary");
  u64(128, h.skippedLarge, "skipped_large");
  u64(136, h.longTokens, "long_tokens");
  u64(144, h.emptyDocs, "empty_docs");
  v.setUint32(152, h.segments.length, true);
  checkU(h.nextSegmentId, 32, "next_segment_id");
  v.setUint32(156, h.nextSegmentId, true);
  u64(160, h.buildNs, "build_ns");
  h.segments.forEach((s, i) => {
    u64(168 + 16 * i, s.firstBlock, `segment ${i} first_block`);
    checkU(s.blockCount, 32, `segment ${i} block_count`);
    checkU(s.id, 32, `segment ${i} id`);
    v.setUint32(176 + 16 * i, s.blockCount, true);
    v.setUint32(180 + 16 * i, s.id, true);
  });
  checkSegmentList(h, (why) => new FsError("EINVAL", `BM25 header: ${why}`));
  sealBlock(b, collectionId, -1);
  return b;
}

/** The rules on a header's segment list, shared by encode (EINVAL) and decode (EUCLEAN). */
function checkSegmentList(h: Bm25Header, bad: (why: string) => FsError): void {
  const ids = new Set<number>();
  const runs = [...h.segments].sort((a, b) => a.firstBlock - b.firstBlock);
  for (let i = 0; i < runs.length; i++) {
    const s = runs[i];
    if (s.firstBlock < 2) throw bad(`segment ${s.id} starts at file block ${s.firstBlock} (the header slots are 0, 1)`);
    if (s.blockCount < 1) throw bad(`segment ${s.id} has no block`);
    if (i > 0 && runs[i - 1].firstBlock + runs[i - 1].blockCount > s.firstBlock) {
      throw bad(`segments ${runs[i - 1].id} and ${s.id} overlap`);
    }
    if (s.firstBlock + s.blockCount > Number.MAX_SAFE_INTEGER) throw bad(`segment ${s.id} ends past 2^53 blocks`);
    if (ids.has(s.id)) throw bad(`segment id ${s.id} listed twice`);
    ids.add(s.id);
    if (s.id >= h.nextSegmentId) throw bad(`segment id ${s.id} ≥ next_segment_id ${h.nextSegmentId}`);
  }
}

/**
 * Decodes a header slot.
 * @param block the block read from file block `slot`
 * @param slot 0 or 1
 * @param collectionId the collection id (checksum seed)
 * @returns the header, or null when the slot holds no valid header: a bad
 *   magic or CRC (never written, torn write, another collection's block)
 * @throws FsError EUCLEAN when the CRC is right but a field is not (an
 *   unknown version, the wrong slot number, a bad segment list, non-zero
 *   padding): that is a writer bug or damage the CRC missed, not a torn write
 */
export function decodeHeader(block: Uint8Array, slot: 0 | 1, collectionId: number): Bm25Header | null {
  if (block.length < MIN_BLOCK_BYTES) return null;
  const v = new DataView(block.buffer, block.byteOffset, block.length);
  if (v.getUint32(0, true) !== BM25_MAGIC || !blockOk(block, collectionId, -1)) return null;
  const bad = (why: string) => new FsError("EUCLEAN", `BM25 index header slot ${slot}: ${why}`);
  const version = v.getUint16(4, true);
  if (version !== BM25_VERSION) throw bad(`unsupported version ${version} (this reader knows ${BM25_VERSION})`);
  if (v.getUint16(6, true) !== slot) throw bad(`says it is slot ${v.getUint16(6, true)}`);
  const u64 = (off: number, what: string) => {
    const x = v.getBigUint64(off, true);
    if (x > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`${what} ${x} ≥ 2^53`);
    return Number(x);
  };
  const lang = getAscii(block, 32, 8);
  const signature = getAscii(block, 40, 64);
  if (lang === null) throw bad("lang is not NUL-padded printable ASCII");
  if (signature === null) throw bad("signature is not NUL-padded printable ASCII");
  const count = v.getUint32(152, true);
  if (count < 1 || count > MAX_SEGMENTS) throw bad(`segment_count ${count} (1..${MAX_SEGMENTS})`);
  if (block[27] !== 0) throw bad("reserved byte 27 is not 0");
  for (let i = 168 + 16 * count; i < block.length - CRC_BYTES; i++) {
    if (block[i] !== 0) throw bad(`byte ${i} past the segment list is not 0`);
  }
  const h: Bm25Header = {
    seq: u64(8, "seq"),
    textGeneration: u64(16, "text_generation"),
    analyzer: block[24],
    stemmer: block[25],
    stopwords: block[26],
    maxFile: v.getUint32(28, true),
    lang,
    signature,
    docCount: u64(104, "doc_count"),
    totalTokens: u64(112, "total_tokens"),
    skippedBinary: u64(120, "skipped_binary"),
    skippedLarge: u64(128, "skipped_large"),
    longTokens: u64(136, "long_tokens"),
    emptyDocs: u64(144, "empty_docs"),
    nextSegmentId: v.getUint32(156, true),
    buildNs: u64(160, "build_ns"),
    segments: [],
  };
  for (let i = 0; i < count; i++) {
    h.segments.push({
      firstBlock: u64(168 + 16 * i, `segment ${i} first_block`),
      blockCount: v.getUint32(176 + 16 * i, true),
      id: v.getUint32(180 + 16 * i, true),
    });
  }
  checkSegmentList(h, bad);
  return h;
}

/**
 * Encodes a segment header into the first `SEGMENT_HEADER_BYTES` of `block`
 * (the caller seals the block).
 */
export function encodeSegmentHeader(s: SegmentHeader, block: Uint8Array): void {
  const v = new DataView(block.buffer, block.byteOffset, block.length);
  v.setUint32(0, SEGMENT_MAGIC, true);
  v.setUint32(4, s.id, true);
  v.setUint32(8, s.blockCount, true);
  v.setUint32(12, s.flags, true);
  v.setUint32(16, s.docCount, true);
  v.setUint32(20, s.tombCount, true);
  v.setUint32(24, s.termCount, true);
  const u64 = (off: number, x: number) => v.setBigUint64(off, BigInt(x), true);
  u64(32, s.docStart);
  u64(40, s.tombStart);
  u64(48, s.dictStart);
  u64(56, s.termsStart);
  u64(64, s.postStart);
  u64(72, s.termsBytes);
  u64(80, s.postBytes);
  u64(88, s.liveTokens);
}

/**
 * The regions a segment of these counts needs, in blocks, in file order
 * (design §1.2): header, doc table, tombstones, dictionary, term bytes,
 * postings. Fixed-size records never straddle a block; the two streams fill
 * `blockSize - 4` payload bytes per block.
 * @returns the region starts (block offsets within the segment) and the total block count
 */
export function segmentGeometry(
  blockSize: number,
  c: { docCount: number; tombCount: number; termCount: number; termsBytes: number; postBytes: number },
): {
  docStart: number;
  tombStart: number;
  dictStart: number;
  termsStart: number;
  postStart: number;
  blockCount: number;
} {
  const pay = blockSize - CRC_BYTES;
  const docStart = 1;
  const tombStart = docStart + Math.ceil(c.docCount / recordsPerBlock(blockSize, DOC_RECORD_BYTES));
  const dictStart = tombStart + Math.ceil(c.tombCount / recordsPerBlock(blockSize, TOMB_RECORD_BYTES));
  const termsStart = dictStart + Math.ceil(c.termCount / recordsPerBlock(blockSize, DICT_RECORD_BYTES));
  const postStart = termsStart + Math.ceil(c.termsBytes / pay);
  const blockCount = postStart + Math.ceil(c.postBytes / pay);
  return { docStart, tombStart, dictStart, termsStart, postStart, blockCount };
}

/**
 * Decodes and checks a segment header block (its CRC already checked).
 * @param block the segment's first block
 * @param where how messages name the segment, e.g. "BM25 segment 3"
 * @throws FsError EUCLEAN: bad magic, a count or region that does not fit
 *   `blockCount` blocks, regions out of order, a non-zero reserved field
 */
export function decodeSegmentHeader(block: Uint8Array, where: string): SegmentHeader {
  const bad = (why: string) => new FsError("EUCLEAN", `${where} header: ${why}`);
  const v = new DataView(block.buffer, block.byteOffset, block.length);
  const magic = v.getUint32(0, true);
  if (magic !== SEGMENT_MAGIC) {
    throw bad(`bad magic 0x${magic.toString(16)} (expected 0x${SEGMENT_MAGIC.toString(16)})`);
  }
  const u64 = (off: number, what: string) => {
    const x = v.getBigUint64(off, true);
    if (x > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`${what} ${x} ≥ 2^53`);
    return Number(x);
  };
  const s: SegmentHeader = {
    id: v.getUint32(4, true),
    blockCount: v.getUint32(8, true),
    flags: v.getUint32(12, true),
    docCount: v.getUint32(16, true),
    tombCount: v.getUint32(20, true),
    termCount: v.getUint32(24, true),
    docStart: u64(32, "doc_start"),
    tombStart: u64(40, "tomb_start"),
    dictStart: u64(48, "dict_start"),
    termsStart: u64(56, "terms_start"),
    postStart: u64(64, "post_start"),
    termsBytes: u64(72, "terms_bytes"),
    postBytes: u64(80, "post_bytes"),
    liveTokens: u64(88, "live_tokens"),
  };
  if (v.getUint32(28, true) !== 0) throw bad("reserved field at 28 is not 0");
  if ((s.flags & ~SEGMENT_BASE) !== 0) throw bad(`unknown flags 0x${s.flags.toString(16)}`);
  for (let i = SEGMENT_HEADER_BYTES; i < block.length - CRC_BYTES; i++) {
    if (block[i] !== 0) throw bad(`byte ${i} past the fields is not 0`);
  }
  // Each region must hold its count and end before the next starts; the last ends by block_count.
  const need = segmentGeometry(block.length, { ...s });
  const regions: [string, number, number][] = [
    ["doc table", s.docStart, need.tombStart - need.docStart],
    ["tombstones", s.tombStart, need.dictStart - need.tombStart],
    ["dictionary", s.dictStart, need.termsStart - need.dictStart],
    ["term bytes", s.termsStart, need.postStart - need.termsStart],
    ["postings", s.postStart, need.blockCount - need.postStart],
  ];
  let end = 1;
  for (const [name, start, blocks] of regions) {
    if (start < end) throw bad(`${name} starts at block ${start}, inside the region before it (ends at ${end})`);
    end = start + blocks;
  }
  if (end > s.blockCount) throw bad(`regions need ${end} blocks, the segment has ${s.blockCount}`);
  return s;
}
