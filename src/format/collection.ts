/**
 * Collection records and slot-map blocks (docs/FORMAT.md §8.1, §8.3).
 * @module
 */
import { FsError } from "../errors.ts";
import { crc32cSeeded } from "./crc.ts";
import { COLL_MAGIC, COLL_RECORD_SIZE, SLOT_ENTRY_SIZE } from "./constants.ts";
import { blockChecksumOk, setBlockChecksum } from "./extent.ts";

/** Collection flag: the record is in use (always set in a used record). */
export const COLL_IN_USE = 0x1;
/** Collection flag: the collection keeps an HNSW graph in `hnswIno` (FORMAT.md §8.6). */
export const COLL_INDEX_HNSW = 0x2;

/** A collection record. `dim` in elements; metric 1 l2, 2 cosine, 3 ip; elemType 1 f32, 2 f16, 3 i8. */
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
