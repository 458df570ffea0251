/**
 * Leaf blocks (`DIRL`) of a directory hash tree (docs/FORMAT.md §6): their
 * entries parsed and bounds-checked, the `(hash, name)` order, new leaves,
 * and where an overfull leaf splits.
 * @module
 */
import {
  corrupt,
  DE_HDR,
  type DirBlocks,
  type DirEntry,
  DIRL_MAGIC,
  entrySize,
  LEAF_HDR,
  leafCap,
  NAME_MAX,
  U32,
  viewOf,
} from "./htree_block.ts";

/** The header fields of a leaf block. */
export interface LeafHdr {
  count: number;
  /** Offset one past the last entry byte (16 + used). */
  end: number;
}

/** The header of leaf block `lblk`, its used bytes checked against the capacity. */
export function leafHdr(d: DirBlocks, lblk: number, dv: DataView): LeafHdr {
  const count = dv.getUint32(4, true);
  const used = dv.getUint32(8, true);
  if (used > leafCap(d.blockSize) || used % 8 !== 0) {
    throw corrupt(
      d,
      lblk,
      `leaf used ${used} bytes (capacity ${leafCap(d.blockSize)})`,
    );
  }
  return { count, end: LEAF_HDR + used };
}

/** Name length of the entry at `off`, bounds-checked against `end`. */
export function entryNameLen(
  d: DirBlocks,
  lblk: number,
  dv: DataView,
  off: number,
  end: number,
): number {
  if (off + DE_HDR > end) {
    throw corrupt(d, lblk, `entry at ${off} beyond used bytes`);
  }
  const len = dv.getUint16(off + 12, true);
  if (len < 1 || len > NAME_MAX || off + entrySize(len) > end) {
    throw corrupt(d, lblk, `entry at ${off} has bad name length ${len}`);
  }
  return len;
}

/** Lexicographic comparison of `a` with `len` bytes of `b` at `off` (shorter prefix first). */
export function cmpName(
  a: Uint8Array,
  b: Uint8Array,
  off: number,
  len: number,
): number {
  const n = Math.min(a.length, len);
  for (let i = 0; i < n; i++) {
    const x = a[i] - b[off + i];
    if (x !== 0) return x;
  }
  return a.length - len;
}

/** Lexicographic comparison of two names (shorter prefix first). */
export function cmpBytes(a: Uint8Array, b: Uint8Array): number {
  return cmpName(a, b, 0, b.length);
}

/** The inode number (u64) of the entry at `off`. */
export function readIno(dv: DataView, off: number): number {
  return dv.getUint32(off + 4, true) * U32 + dv.getUint32(off, true);
}

/** Writes entry `e` at `off` (padding zeroed); returns its size. */
export function writeEntry(
  dv: DataView,
  buf: Uint8Array,
  off: number,
  e: { name: Uint8Array; ino: number; type: number; hash: number },
): number {
  const size = entrySize(e.name.length);
  buf.fill(0, off, off + size);
  dv.setUint32(off, e.ino % U32, true);
  dv.setUint32(off + 4, Math.floor(e.ino / U32), true);
  dv.setUint32(off + 8, e.hash, true);
  dv.setUint16(off + 12, e.name.length, true);
  buf[off + 14] = e.type;
  buf.set(e.name, off + DE_HDR);
  return size;
}

/** The entry at `off` with a name of `len` bytes, parsed (name copied). */
export function entryAt(
  buf: Uint8Array,
  dv: DataView,
  off: number,
  len: number,
): DirEntry {
  return {
    name: buf.slice(off + DE_HDR, off + DE_HDR + len),
    ino: readIno(dv, off),
    type: buf[off + 14],
    hash: dv.getUint32(off + 8, true),
  };
}

/** Where `(h, name)` is, or would go, in a leaf. */
export interface LeafPos {
  /** Offset of the matching entry, or of the first entry after the name. */
  off: number;
  found: boolean;
  /** Name length of the matching entry (when found). */
  len: number;
  hdr: LeafHdr;
}

/** Finds `(h, name)` in leaf block `lblk` (see {@linkcode LeafPos}). */
export function leafFind(
  d: DirBlocks,
  lblk: number,
  buf: Uint8Array,
  h: number,
  name: Uint8Array,
): LeafPos {
  const dv = viewOf(buf);
  const hdr = leafHdr(d, lblk, dv);
  let off = LEAF_HDR;
  for (let i = 0; i < hdr.count; i++) {
    const len = entryNameLen(d, lblk, dv, off, hdr.end);
    const eh = dv.getUint32(off + 8, true);
    if (eh === h) {
      const c = cmpName(name, buf, off + DE_HDR, len);
      if (c === 0) return { off, found: true, len, hdr };
      if (c < 0) return { off, found: false, len: 0, hdr };
    } else if (eh > h) {
      return { off, found: false, len: 0, hdr };
    }
    off += entrySize(len);
  }
  if (off !== hdr.end) {
    throw corrupt(d, lblk, `leaf count ${hdr.count} does not match used bytes`);
  }
  return { off, found: false, len: 0, hdr };
}

/** Every entry of a leaf, parsed and bounds-checked. */
export function leafEntries(d: DirBlocks, lblk: number, buf: Uint8Array): DirEntry[] {
  const dv = viewOf(buf);
  const hdr = leafHdr(d, lblk, dv);
  const out: DirEntry[] = [];
  let off = LEAF_HDR;
  for (let i = 0; i < hdr.count; i++) {
    const len = entryNameLen(d, lblk, dv, off, hdr.end);
    out.push(entryAt(buf, dv, off, len));
    off += entrySize(len);
  }
  if (off !== hdr.end) {
    throw corrupt(d, lblk, `leaf count ${hdr.count} does not match used bytes`);
  }
  return out;
}

/** A fresh leaf image holding `entries` (already sorted; checksum not yet set). */
export function newLeaf(bs: number, entries: DirEntry[]): Uint8Array {
  const buf = new Uint8Array(bs);
  const dv = viewOf(buf);
  dv.setUint32(0, DIRL_MAGIC, true);
  let off = LEAF_HDR;
  for (const e of entries) off += writeEntry(dv, buf, off, e);
  dv.setUint32(4, entries.length, true);
  dv.setUint32(8, off - LEAF_HDR, true);
  return buf;
}

/**
 * Chooses where to split the sorted `entries` of an overfull leaf: the index
 * of the first entry of the upper half. Only hash boundaries qualify (entries
 * with equal hashes stay together) and both halves must fit in a leaf; among
 * those, the one closest to half the bytes wins. Returns -1 if none exists.
 */
export function chooseSplit(entries: DirEntry[], cap: number): number {
  let total = 0;
  for (const e of entries) total += entrySize(e.name.length);
  let best = -1;
  let bestDist = Infinity;
  let lower = 0;
  for (let i = 1; i < entries.length; i++) {
    lower += entrySize(entries[i - 1].name.length);
    if (entries[i].hash === entries[i - 1].hash) continue;
    if (lower > cap || total - lower > cap) continue;
    const dist = Math.abs(2 * lower - total);
    if (dist < bestDist) {
      bestDist = dist;
      best = i;
    }
  }
  return best;
}
