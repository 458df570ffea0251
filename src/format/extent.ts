/**
 * Extent tree node codec (docs/FORMAT.md §5.2), modelled on ext4's
 * (fs/ext4/ext4_extents.h) with 24-byte entries and 64-bit block numbers.
 * @module
 */
import { FsError } from "../errors.ts";
import { crc32cSeeded } from "./crc.ts";
import { EXT_ENTRY_SIZE, EXT_HEADER_SIZE, EXT_MAGIC } from "./constants.ts";

/** A mapping of `length` file blocks from `logical` to device blocks from `physical`. */
export interface Extent {
  logical: number;
  physical: number;
  length: number;
  /** 0, or EXT_UNWRITTEN (reads as zeros) */
  flags: number;
}

/** An index entry: the child node at block `child` covers file blocks from `logical`. */
export interface ExtentIndex {
  logical: number;
  child: number;
}

/** A decoded node: leaves (depth 0) carry extents, others index entries. */
export type ExtentNode =
  | { depth: 0; max: number; extents: Extent[] }
  | { depth: number; max: number; index: ExtentIndex[] };

/** Capacity in entries of an extent tree block of `blockSize` bytes. */
export function extentBlockMax(blockSize: number): number {
  return Math.floor((blockSize - EXT_HEADER_SIZE - 4) / EXT_ENTRY_SIZE);
}

/**
 * Decodes a node from `b` (the inode's 116-byte data area or a whole tree block).
 * @param owner inode number, for error messages
 * @throws FsError EUCLEAN on a bad magic or impossible counts
 */
export function decodeExtentNode(b: Uint8Array, owner: number): ExtentNode {
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const magic = dv.getUint16(0, true);
  const entries = dv.getUint16(2, true);
  const max = dv.getUint16(4, true);
  const depth = dv.getUint16(6, true);
  if (magic !== EXT_MAGIC) {
    throw new FsError("EUCLEAN", `inode ${owner}: extent node has bad magic 0x${magic.toString(16)}`);
  }
  if (entries > max || EXT_HEADER_SIZE + max * EXT_ENTRY_SIZE > b.length) {
    throw new FsError("EUCLEAN", `inode ${owner}: extent node claims ${entries}/${max} entries`);
  }
  if (depth > 5) throw new FsError("EUCLEAN", `inode ${owner}: extent tree depth ${depth} exceeds 5`);
  const get64 = (off: number) => {
    const v = dv.getBigUint64(off, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FsError("EUCLEAN", `inode ${owner}: extent field out of range`);
    return Number(v);
  };
  if (depth === 0) {
    const extents: Extent[] = [];
    for (let i = 0; i < entries; i++) {
      const o = EXT_HEADER_SIZE + i * EXT_ENTRY_SIZE;
      extents.push({
        logical: get64(o),
        physical: get64(o + 8),
        length: dv.getUint32(o + 16, true),
        flags: dv.getUint32(o + 20, true),
      });
    }
    return { depth: 0, max, extents };
  }
  const index: ExtentIndex[] = [];
  for (let i = 0; i < entries; i++) {
    const o = EXT_HEADER_SIZE + i * EXT_ENTRY_SIZE;
    index.push({ logical: get64(o), child: get64(o + 8) });
  }
  return { depth, max, index };
}

/**
 * Encodes a node into `out` (zero-filling unused entries). For tree blocks
 * (`blockSize` given) the CRC-32C tail seeded with `owner` is set.
 */
export function encodeExtentNode(node: ExtentNode, out: Uint8Array, owner: number, blockSize?: number): void {
  out.fill(0);
  const dv = new DataView(out.buffer, out.byteOffset, out.length);
  const entries = node.depth === 0 ? (node as { extents: Extent[] }).extents : (node as { index: ExtentIndex[] }).index;
  if (entries.length > node.max) throw new Error(`extent node overflow: ${entries.length} > ${node.max}`);
  dv.setUint16(0, EXT_MAGIC, true);
  dv.setUint16(2, entries.length, true);
  dv.setUint16(4, node.max, true);
  dv.setUint16(6, node.depth, true);
  if (node.depth === 0) {
    (node as { extents: Extent[] }).extents.forEach((e, i) => {
      const o = EXT_HEADER_SIZE + i * EXT_ENTRY_SIZE;
      dv.setBigUint64(o, BigInt(e.logical), true);
      dv.setBigUint64(o + 8, BigInt(e.physical), true);
      dv.setUint32(o + 16, e.length, true);
      dv.setUint32(o + 20, e.flags, true);
    });
  } else {
    (node as { index: ExtentIndex[] }).index.forEach((e, i) => {
      const o = EXT_HEADER_SIZE + i * EXT_ENTRY_SIZE;
      dv.setBigUint64(o, BigInt(e.logical), true);
      dv.setBigUint64(o + 8, BigInt(e.child), true);
    });
  }
  if (blockSize !== undefined) {
    dv.setUint32(blockSize - 4, crc32cSeeded(owner, out.subarray(0, blockSize - 4)), true);
  }
}

/** True when a tree block's CRC-32C tail matches (seeded with the owner inode). */
export function blockChecksumOk(b: Uint8Array, seed: number): boolean {
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  return dv.getUint32(b.length - 4, true) === crc32cSeeded(seed, b.subarray(0, b.length - 4));
}

/** Sets a block's CRC-32C tail (last 4 bytes) seeded with `seed`. */
export function setBlockChecksum(b: Uint8Array, seed: number): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  dv.setUint32(b.length - 4, crc32cSeeded(seed, b.subarray(0, b.length - 4)), true);
}
