/**
 * Collection records and slot-map blocks (docs/FORMAT.md §8.1, §8.3).
 * @module
 */
import {
  BM25_ANALYZER_WORD_V1,
  BM25_K1_MAX,
  BM25_MAX_FILE_MAX,
  BM25_MAX_FILE_MIN,
  bm25LangValid,
} from "./bm25_params.ts";
import { FsError } from "../errors.ts";
import { crc32cSeeded } from "./crc.ts";
import { COLL_MAGIC, COLL_RECORD_SIZE, SLOT_ENTRY_SIZE } from "./constants.ts";
import { blockChecksumOk, setBlockChecksum } from "./extent.ts";

/** Collection flag: the record is in use (always set in a used record). */
export const COLL_IN_USE = 0x1;
/** Collection flag: the collection keeps an HNSW graph in `hnswIno` (FORMAT.md §8.6). */
export const COLL_INDEX_HNSW = 0x2;
/** Collection flag: the collection keeps a BM25 keyword index in `bm25Ino` (FORMAT.md §8.7). */
export const COLL_INDEX_BM25 = 0x4;
/** Byte length of the record's `bm25_lang` field (FORMAT.md §8.1). */
export const BM25_LANG_BYTES = 8;

/**
 * A collection record (FORMAT.md §8.1). `dim` in elements; metric 1 l2, 2 cosine, 3 ip; elemType 1 f32, 2 f16, 3 i8.
 * The `textGeneration` and `bm25*` fields are 0 / "" unless `flags` has {@link COLL_INDEX_BM25}; records written
 * before the BM25 index existed decode with those zero.
 */
export interface CollectionRecord {
  id: number;
  /** COLL_* flags; {@link encodeCollection} always sets COLL_IN_USE */
  flags: number;
  rootIno: number;
  dim: number;
  metric: number;
  elemType: number;
  count: number;
  vecIno: number;
  mapIno: number;
  hnswIno: number;
  bm25Ino: number;
  created: number;
  generation: number;
  hnswM: number;
  hnswEfConstruction: number;
  /** default ef of a search, 0 for the engine's default */
  hnswEfSearch: number;
  /** internal inode of the vector norms (FORMAT.md §8.5), 0 if none */
  normIno: number;
  /** with COLL_INDEX_BM25: bumped by every transaction that changes the collection's text documents (< 2^53) */
  textGeneration: number;
  /** BM25 k1, 0 < k1 <= 10 (f64) */
  bm25K1: number;
  /** BM25 b, 0 <= b <= 1 (f64) */
  bm25B: number;
  /** files larger than this many bytes are not indexed (1 KiB .. 1 GiB) */
  bm25MaxFile: number;
  /** analyzer id: 1 = word-v1 */
  bm25Analyzer: number;
  /** 0 none, 1 the stemmer of `bm25Lang` */
  bm25Stemmer: number;
  /** 0 none, 1 the stop-word list of `bm25Lang` */
  bm25Stopwords: number;
  /** ASCII language code ("en"), at most 8 bytes; "" for none */
  bm25Lang: string;
}

/**
 * The `bm25_lang` bytes of `lang`: one byte per character, NUL padded to 8 bytes. Byte-preserving, so a
 * decoded record encodes back to the same bytes; whether the code is valid is {@link bm25LangValid}'s question.
 * @throws FsError EINVAL when `lang` is longer than 8 characters or has a character outside 0x01..0xff
 */
export function encodeLang(lang: string): Uint8Array {
  const out = new Uint8Array(BM25_LANG_BYTES);
  const bad = () => new FsError("EINVAL", `language code ${JSON.stringify(lang)} is not 0..8 ASCII letters`);
  if (lang.length > BM25_LANG_BYTES) throw bad();
  for (let i = 0; i < lang.length; i++) {
    const c = lang.charCodeAt(i);
    if (c < 1 || c > 0xff) throw bad();
    out[i] = c;
  }
  return out;
}

/** The text of `bm25_lang` bytes: up to the first NUL, each byte as one character. */
export function decodeLang(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length && b[i] !== 0; i++) s += String.fromCharCode(b[i]);
  return s;
}

/** Encodes a record (256 bytes) with its checksum seeded by `rec.id`. */
export function encodeCollection(rec: CollectionRecord, out = new Uint8Array(COLL_RECORD_SIZE)): Uint8Array {
  out.fill(0, 0, COLL_RECORD_SIZE);
  const dv = new DataView(out.buffer, out.byteOffset, COLL_RECORD_SIZE);
  dv.setUint32(0, COLL_MAGIC, true);
  dv.setUint32(4, (rec.flags | COLL_IN_USE) >>> 0, true);
  dv.setBigUint64(8, BigInt(rec.rootIno), true);
  dv.setUint32(16, rec.dim, true);
  out[20] = rec.metric;
  out[21] = rec.elemType;
  dv.setBigUint64(24, BigInt(rec.count), true);
  dv.setBigUint64(32, BigInt(rec.vecIno), true);
  dv.setBigUint64(40, BigInt(rec.mapIno), true);
  dv.setBigUint64(48, BigInt(rec.hnswIno), true);
  dv.setBigUint64(56, BigInt(rec.bm25Ino), true);
  dv.setBigInt64(64, BigInt(rec.created), true);
  dv.setBigUint64(72, BigInt(rec.generation), true);
  dv.setUint16(80, rec.hnswM, true);
  dv.setUint16(82, rec.hnswEfConstruction, true);
  dv.setUint32(84, rec.hnswEfSearch, true);
  dv.setBigUint64(88, BigInt(rec.normIno), true);
  dv.setBigUint64(96, BigInt(rec.textGeneration), true);
  dv.setFloat64(104, rec.bm25K1, true);
  dv.setFloat64(112, rec.bm25B, true);
  dv.setUint32(120, rec.bm25MaxFile, true);
  out[124] = rec.bm25Analyzer;
  out[125] = rec.bm25Stemmer;
  out[126] = rec.bm25Stopwords;
  out.set(encodeLang(rec.bm25Lang), 128);
  dv.setUint32(252, crc32cSeeded(rec.id, out.subarray(0, 252)), true);
  return out;
}

/**
 * Decodes record `id` from 256 bytes; returns null for a free (all-zero magic) record.
 * @throws FsError EUCLEAN on a bad magic or checksum
 */
export function decodeCollection(id: number, b: Uint8Array): CollectionRecord | null {
  const dv = new DataView(b.buffer, b.byteOffset, COLL_RECORD_SIZE);
  const magic = dv.getUint32(0, true);
  if (magic === 0) return null;
  if (magic !== COLL_MAGIC) throw new FsError("EUCLEAN", `collection ${id}: bad magic 0x${magic.toString(16)}`);
  if (dv.getUint32(252, true) !== crc32cSeeded(id, b.subarray(0, 252))) {
    throw new FsError("EUCLEAN", `collection ${id}: record checksum mismatch`);
  }
  const n = (off: number) => Number(dv.getBigUint64(off, true));
  return {
    id,
    flags: dv.getUint32(4, true),
    rootIno: n(8),
    dim: dv.getUint32(16, true),
    metric: b[20],
    elemType: b[21],
    count: n(24),
    vecIno: n(32),
    mapIno: n(40),
    hnswIno: n(48),
    bm25Ino: n(56),
    created: Number(dv.getBigInt64(64, true)),
    generation: n(72),
    hnswM: dv.getUint16(80, true),
    hnswEfConstruction: dv.getUint16(82, true),
    hnswEfSearch: dv.getUint32(84, true),
    normIno: n(88),
    textGeneration: n(96),
    bm25K1: dv.getFloat64(104, true),
    bm25B: dv.getFloat64(112, true),
    bm25MaxFile: dv.getUint32(120, true),
    bm25Analyzer: b[124],
    bm25Stemmer: b[125],
    bm25Stopwords: b[126],
    bm25Lang: decodeLang(b.subarray(128, 128 + BM25_LANG_BYTES)),
  };
}

/** A slot-map entry: the owner inode of a slot and the CRC-32C of its vector bytes. */
export interface SlotEntry {
  ino: number;
  vecCrc: number;
}

/** Slot-map entries per block of `blockSize` bytes. */
export function slotsPerBlock(blockSize: number): number {
  return Math.floor((blockSize - 16) / SLOT_ENTRY_SIZE);
}

/**
 * Decodes the used entries of a slot-map block.
 * @param n how many entries of this block are in use
 * @throws FsError EUCLEAN on a checksum mismatch
 */
export function decodeSlotBlock(b: Uint8Array, collId: number, n: number): SlotEntry[] {
  if (!blockChecksumOk(b, collId)) {
    throw new FsError("EUCLEAN", `collection ${collId}: slot map block checksum mismatch`);
  }
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const out: SlotEntry[] = [];
  for (let i = 0; i < n; i++) {
    const o = i * SLOT_ENTRY_SIZE;
    out.push({ ino: Number(dv.getBigUint64(o, true)), vecCrc: dv.getUint32(o + 8, true) });
  }
  return out;
}

/** Encodes slot-map entries into one block with its checksum (unused entries zero). */
export function encodeSlotBlock(entries: SlotEntry[], blockSize: number, collId: number): Uint8Array {
  const b = new Uint8Array(blockSize);
  const dv = new DataView(b.buffer);
  entries.forEach((e, i) => {
    const o = i * SLOT_ENTRY_SIZE;
    dv.setBigUint64(o, BigInt(e.ino), true);
    dv.setUint32(o + 8, e.vecCrc, true);
    dv.setUint32(o + 12, 1, true);
  });
  setBlockChecksum(b, collId);
  return b;
}

export {
  BM25_ANALYZER_WORD_V1,
  BM25_K1_MAX,
  BM25_MAX_FILE_MAX,
  BM25_MAX_FILE_MIN,
  bm25LangValid,
} from "./bm25_params.ts";

/**
 * The problems of the BM25 fields of a 256-byte record (FORMAT.md §8.1 rules): with COLL_INDEX_BM25 in
 * `flags`, `text_generation` < 2^53, 0 < k1 <= 10, 0 <= b <= 1, max_file 1 KiB..1 GiB, analyzer 1,
 * stemmer and stop words 0 or 1 and only with a language, `bm25_lang` ASCII lowercase letters NUL
 * padded, reserved byte 127 zero; without it `bm25_ino` and bytes 96..135 must be zero. Does not look
 * at the index file itself. Returns one short phrase per problem, [] for a valid record.
 */
export function bm25RecordProblems(b: Uint8Array): string[] {
  const dv = new DataView(b.buffer, b.byteOffset, COLL_RECORD_SIZE);
  const enabled = (dv.getUint32(4, true) & COLL_INDEX_BM25) !== 0;
  const out: string[] = [];
  if (!enabled) {
    if (dv.getBigUint64(56, true) !== 0n || b.subarray(96, 136).some((x) => x !== 0)) {
      out.push("BM25 fields are set but the collection has no BM25 index");
    }
    return out;
  }
  const gen = dv.getBigUint64(96, true);
  if (gen >= 2n ** 53n) out.push(`BM25 text_generation ${gen} is not below 2^53`);
  const k1 = dv.getFloat64(104, true);
  if (!(k1 > 0 && k1 <= BM25_K1_MAX)) out.push(`BM25 k1 ${k1} is out of range (0 < k1 <= ${BM25_K1_MAX})`);
  const bb = dv.getFloat64(112, true);
  if (!(bb >= 0 && bb <= 1)) out.push(`BM25 b ${bb} is out of range (0..1)`);
  const maxFile = dv.getUint32(120, true);
  if (maxFile < BM25_MAX_FILE_MIN || maxFile > BM25_MAX_FILE_MAX) {
    out.push(`BM25 max_file ${maxFile} is out of range (${BM25_MAX_FILE_MIN}..${BM25_MAX_FILE_MAX})`);
  }
  if (b[124] !== BM25_ANALYZER_WORD_V1) out.push(`BM25 analyzer ${b[124]} is unknown (1 = word-v1)`);
  if (b[125] > 1) out.push(`BM25 stemmer ${b[125]} is not 0 or 1`);
  if (b[126] > 1) out.push(`BM25 stopwords ${b[126]} is not 0 or 1`);
  if (b[127] !== 0) out.push("BM25 reserved byte 127 is not zero");
  const lang = b.subarray(128, 128 + BM25_LANG_BYTES);
  if (!bm25LangValid(lang)) out.push("BM25 lang is not ASCII lowercase letters padded with NULs");
  else if ((b[125] || b[126]) && lang[0] === 0) out.push("BM25 stemming or stop words are on without a lang");
  return out;
}

/** Whether bytes 136..251 of a 256-byte record (reserved, FORMAT.md §8.1) are all zero. */
export function collectionReservedZero(b: Uint8Array): boolean {
  return b.subarray(136, 252).every((x) => x === 0);
}
