/**
 * Index blocks (`DIRX`) of a directory hash tree (docs/FORMAT.md §6):
 * reading and checking them, searching their `{hash, block}` entries,
 * making new ones, and the walk from the root to a leaf.
 * @module
 */
import {
  corrupt,
  type DirBlocks,
  DIRX_MAGIC,
  IDX_ENT,
  IDX_HDR,
  idxLimit,
  MAX_ROOT_LEVEL,
  readBlock,
  U32,
  viewOf,
} from "./htree_block.ts";

/** A verified index block on the path from the root to a leaf. */
export interface IdxNode {
  lblk: number;
  buf: Uint8Array;
  dv: DataView;
  level: number;
  count: number;
  /** Position of the entry the path follows. */
  pos: number;
}

/** Reads index block `lblk` (verified as {@linkcode readBlock} does), checking its header against its place (`wantLevel`, root rules). */
export function readIndex(
  d: DirBlocks,
  lblk: number,
  copy: boolean,
  wantLevel: number,
): IdxNode {
  const buf = readBlock(d, lblk, DIRX_MAGIC, copy);
  const dv = viewOf(buf);
  const level = dv.getUint16(4, true);
  const count = dv.getUint16(6, true);
  const limit = dv.getUint16(8, true);
  if (limit !== idxLimit(d.blockSize)) {
    throw corrupt(
      d,
      lblk,
      `index limit ${limit}, expected ${idxLimit(d.blockSize)}`,
    );
  }
  if (count > limit) {
    throw corrupt(d, lblk, `index count ${count} > limit ${limit}`);
  }
  if (lblk === 0) {
    if (level > MAX_ROOT_LEVEL) {
      throw corrupt(d, lblk, `root level ${level} > ${MAX_ROOT_LEVEL}`);
    }
    if (count === 0 && level !== 0) {
      throw corrupt(d, lblk, `empty root at level ${level}`);
    }
  } else {
    if (level !== wantLevel) {
      throw corrupt(d, lblk, `index level ${level}, expected ${wantLevel}`);
    }
    if (count === 0) throw corrupt(d, lblk, "empty index block");
  }
  return { lblk, buf, dv, level, count, pos: 0 };
}

/** The hash of entry `i` of index block `n`. */
export function idxHash(n: IdxNode, i: number): number {
  return n.dv.getUint32(IDX_HDR + i * IDX_ENT, true);
}

/** The child block of entry `i` of index block `n`. */
export function idxBlock(n: IdxNode, i: number): number {
  return n.dv.getUint32(IDX_HDR + i * IDX_ENT + 4, true);
}

/** Position of the last entry whose hash is ≤ `h` (entry 0 always qualifies). */
export function idxSearch(n: IdxNode, h: number): number {
  let lo = 0;
  let hi = n.count - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (idxHash(n, mid) <= h) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** A fresh index block image (checksum not yet set). */
export function newIndex(
  bs: number,
  level: number,
  entries: ArrayLike<number>, // flattened [hash0, block0, hash1, block1, ...]
): Uint8Array {
  const buf = new Uint8Array(bs);
  const dv = viewOf(buf);
  dv.setUint32(0, DIRX_MAGIC, true);
  dv.setUint16(4, level, true);
  dv.setUint16(6, entries.length / 2, true);
  dv.setUint16(8, idxLimit(bs), true);
  for (let i = 0; i < entries.length; i++) {
    dv.setUint32(IDX_HDR + i * 4, entries[i], true);
  }
  return buf;
}

/** The root's entry_count (u64 at offset 16). */
export function getEntryCount(dv: DataView): number {
  return dv.getUint32(20, true) * U32 + dv.getUint32(16, true);
}

/** Sets the root's entry_count (u64 at offset 16). */
export function setEntryCount(dv: DataView, n: number): void {
  dv.setUint32(16, n % U32, true);
  dv.setUint32(20, Math.floor(n / U32), true);
}

/**
 * Walks from the root to the leaf covering hash `h`. Returns the index path
 * (root first) and the leaf's file block, or `leaf = -1` for an empty
 * directory. With `copy`, the root's buffer is a private copy; the other
 * path buffers may be the store's shared buffer (only their header fields and
 * `pos` stay valid: re-read them with {@link ownPath} before modifying).
 */
export function descend(
  d: DirBlocks,
  h: number,
  copy: boolean,
): { path: IdxNode[]; leaf: number } {
  const root = readIndex(d, 0, copy, 0);
  const path = [root];
  if (root.count === 0) return { path, leaf: -1 };
  const nblk = d.blockCount();
  let node = root;
  for (;;) {
    node.pos = idxSearch(node, h);
    const child = idxBlock(node, node.pos);
    if (child === 0 || child >= nblk) {
      throw corrupt(
        d,
        node.lblk,
        `entry ${node.pos} points to block ${child} outside the directory`,
      );
    }
    if (node.level === 0) return { path, leaf: child };
    node = readIndex(d, child, false, node.level - 1);
    path.push(node);
  }
}
