/**
 * Extent trees: the map from a file's logical blocks to device blocks
 * (docs/FORMAT.md §5.2, after ext4's extent tree): loading and verifying a
 * tree, writing it back after the extent list changed (rewriting only the
 * nodes from the first changed entry on, when the tree has the canonical
 * shape), mapping a file block, and allocating or freeing file blocks.
 * Part of the {@link Vexfs} engine, as lib/ext2fs/extent.c is of ext2fs:
 * every function takes the engine first and runs inside the caller's
 * operation (`Vexfs.op`).
 * @module
 */
import { isDataRun } from "../format/superblock.ts";
import { FsError } from "../errors.ts";
import {
  EXT_MAX_DEPTH,
  EXT_ROOT_MAX,
  EXT_UNWRITTEN,
  IFL_INLINE,
  IFL_INTERNAL,
  IFL_XATTR_STORE,
  INODE_DATA_SIZE,
} from "../format/constants.ts";
import { blockChecksumOk, decodeExtentNode, encodeExtentNode, type Extent, extentBlockMax } from "../format/extent.ts";
import { firstEndingAfter, insertExtent, mappedEnd, punch, segments } from "./extentmap.ts";
import type { InodeState, Vexfs } from "./fs.ts";

/** Largest preallocation of an internal file, in bytes (see {@link Vexfs.write}). */
const PREALLOC_MAX_BYTES = 8 << 20;

/** What {@link Vexfs.extents} does (its documentation says how). */
export function loadExtents(fs: Vexfs, n: InodeState): Extent[] {
  if (n.exts) return n.exts;
  if (n.d.flags & IFL_INLINE) {
    n.exts = [];
    n.treeBlocks = [];
    n.treeLevels = [];
    return n.exts;
  }
  const exts: Extent[] = [];
  const tree: number[] = [];
  /** tree nodes by depth (0: leaves), in key order: block and entries */
  const shape: { block: number; count: number }[][] = [];
  const walk = (node: ReturnType<typeof decodeExtentNode>, level: number) => {
    if (node.depth === 0) {
      for (const e of (node as { extents: Extent[] }).extents) exts.push(e);
      return;
    }
    if (level > EXT_MAX_DEPTH) {
      throw new FsError("EUCLEAN", `inode ${n.ino}: extent tree too deep`);
    }
    for (const ix of (node as { index: { child: number }[] }).index) {
      checkBlockNo(fs, ix.child, n.ino);
      const b = fs.cache.get(ix.child);
      if (!blockChecksumOk(b, n.ino)) {
        throw new FsError(
          "EUCLEAN",
          `inode ${n.ino}: extent tree block ${ix.child} checksum mismatch`,
        );
      }
      tree.push(ix.child);
      const child = decodeExtentNode(b, n.ino);
      const entries = child.depth === 0
        ? (child as { extents: Extent[] }).extents.length
        : (child as { index: unknown[] }).index.length;
      (shape[child.depth] ??= []).push({ block: ix.child, count: entries });
      if (child.depth !== node.depth - 1) {
        throw new FsError(
          "EUCLEAN",
          `inode ${n.ino}: extent tree depth is inconsistent`,
        );
      }
      walk(child, level + 1);
    }
  };
  const root = decodeExtentNode(n.d.data, n.ino);
  walk(root, 0);
  for (let i = 0; i < exts.length; i++) {
    const e = exts[i];
    checkBlockNo(fs, e.physical, n.ino, e.length);
    if (i > 0 && exts[i - 1].logical + exts[i - 1].length > e.logical) {
      throw new FsError(
        "EUCLEAN",
        `inode ${n.ino}: extents overlap or are out of order`,
      );
    }
    checkInUse(fs, n.ino, e.physical, e.length);
  }
  for (const b of tree) checkInUse(fs, n.ino, b, 1);
  n.exts = exts;
  n.treeBlocks = tree;
  n.treeLevels = canonical(fs, exts.length, root.depth, shape) ? shape.map((l) => l.map((x) => x.block)) : undefined;
  return exts;
}

/**
 * Nodes per level of the canonical tree of `count` extents, leaves first
 * (empty when they fit in the inode's root); its length is the root's depth.
 */
function treeShape(fs: Vexfs, count: number): number[] {
  const out: number[] = [];
  if (count <= EXT_ROOT_MAX) return out;
  const m = extentBlockMax(fs.blockSize);
  let nodes = Math.ceil(count / m);
  out.push(nodes);
  while (nodes > EXT_ROOT_MAX) {
    nodes = Math.ceil(nodes / m);
    out.push(nodes);
  }
  return out;
}

/** Whether a loaded tree (root depth and nodes by depth) has the canonical shape of {@link treeShape}. */
function canonical(fs: Vexfs, count: number, depth: number, shape: { count: number }[][]): boolean {
  const want = treeShape(fs, count);
  if (depth !== want.length || shape.length !== want.length) return false;
  const m = extentBlockMax(fs.blockSize);
  return want.every((nodes, l) =>
    shape[l].length === nodes && shape[l].every((x, i) => i === nodes - 1 ? x.count > 0 : x.count === m)
  );
}

/** A block an inode uses must be marked in use: a free bit means a damaged bitmap (or tree). */
function checkInUse(fs: Vexfs, ino: number, b: number, len: number): void {
  if (fs.blockMap.countSet(b, b + len) !== len) {
    throw new FsError(
      "EUCLEAN",
      `inode ${ino}: blocks ${b}..${b + len - 1} belong to it but the block bitmap marks some of them free ` +
        `(damaged bitmap); run vexfs fsck`,
    );
  }
}

/** Blocks `b .. b+len-1` of inode `ino` must lie in the data area (not metadata, not the backup superblock). */
function checkBlockNo(fs: Vexfs, b: number, ino: number, len = 1): void {
  if (!isDataRun(fs.sb, b, len)) {
    throw new FsError(
      "EUCLEAN",
      `inode ${ino}: block ${b} (+${len}) lies outside the data area`,
    );
  }
}

/** What {@link Vexfs.treeBlocksFor} does (its documentation says how). */
export function treeBlocksFor(fs: Vexfs, n: number): number {
  if (n <= EXT_ROOT_MAX) return 0;
  const m = extentBlockMax(fs.blockSize);
  let total = 0;
  let nodes = Math.ceil(n / m);
  total += nodes;
  while (nodes > EXT_ROOT_MAX) {
    nodes = Math.ceil(nodes / m);
    total += nodes;
  }
  return total;
}

/**
 * Writes the on-disk extent tree of `n` after its extent list changed from
 * index `from` on: in the canonical shape (every node full but the last of
 * its level), only the nodes holding entries from `from` on are rewritten,
 * with their index path and the root in the inode, so appending costs the
 * same at 10 extents or 100,000; a tree of unknown shape is rewritten whole
 * (reusing its blocks). Tree blocks are allocated or freed as the shape
 * needs.
 * @throws FsError EFBIG past 5 levels, ENOSPC when a new tree block does not fit
 */
export function storeExtents(fs: Vexfs, n: InodeState, from: number): void {
  const exts = n.exts!;
  const m = extentBlockMax(fs.blockSize);
  const want = treeShape(fs, exts.length);
  if (want.length > EXT_MAX_DEPTH) throw new FsError("EFBIG", `inode ${n.ino}: too many extents`);
  n.d.flags &= ~IFL_INLINE;
  let old = n.treeLevels;
  const pool: number[] = [];
  if (!old) {
    pool.push(...(n.treeBlocks ?? []));
    old = [];
    from = 0;
  }
  let changed = !n.treeLevels;
  const free = (b: number) => {
    fs.bfree(b, 1);
    n.d.blocks--;
    changed = true;
  };
  /** the key of node `i` of level `l`: the first logical block below it */
  const key = (l: number, i: number) => exts[i * m ** (l + 1)].logical;
  const levels: number[][] = [];
  let first = from; // first changed entry of the level being written
  for (let l = 0; l < want.length; l++) {
    const blocks = old[l] ? [...old[l]] : [];
    first = Math.floor(first / m);
    while (blocks.length > want[l]) free(blocks.pop()!);
    if (blocks.length < want[l]) {
      first = Math.min(first, blocks.length);
      changed = true;
      while (blocks.length < want[l] && pool.length) blocks.push(pool.shift()!);
      while (blocks.length < want[l]) {
        const goal = blocks.length ? blocks[blocks.length - 1] + 1 : (levels[l - 1]?.at(-1) ?? exts[0].physical) + 1;
        const r = fs.balloc(goal, want[l] - blocks.length);
        for (let k = 0; k < r.length; k++) blocks.push(r.start + k);
        n.d.blocks += r.length;
      }
    }
    for (let i = first; i < want[l]; i++) {
      fs.treeNodesWritten++;
      const buf = fs.cache.getNew(blocks[i]);
      if (l === 0) {
        encodeExtentNode({ depth: 0, max: m, extents: exts.slice(i * m, (i + 1) * m) }, buf, n.ino, fs.blockSize);
      } else {
        const index = [];
        for (let c = i * m; c < Math.min((i + 1) * m, want[l - 1]); c++) {
          index.push({ logical: key(l - 1, c), child: levels[l - 1][c] });
        }
        encodeExtentNode({ depth: l, max: m, index }, buf, n.ino, fs.blockSize);
      }
    }
    levels.push(blocks);
  }
  for (let l = want.length; l < old.length; l++) for (const b of old[l]) free(b);
  for (const b of pool) free(b);
  const root = new Uint8Array(INODE_DATA_SIZE);
  const depth = want.length;
  if (depth === 0) encodeExtentNode({ depth: 0, max: EXT_ROOT_MAX, extents: exts }, root, n.ino);
  else {
    const index = levels[depth - 1].map((child, i) => ({ logical: key(depth - 1, i), child }));
    encodeExtentNode({ depth, max: EXT_ROOT_MAX, index }, root, n.ino);
  }
  n.d.data = root;
  n.treeLevels = levels;
  if (changed) n.treeBlocks = levels.flat();
  fs.dirty(n);
}

/** What {@link Vexfs.bmap} does (its documentation says how). */
export function bmap(fs: Vexfs, n: InodeState, lblk: number): number {
  const exts = loadExtents(fs, n);
  const e = exts[firstEndingAfter(exts, lblk)];
  return e && e.logical <= lblk ? e.physical + (lblk - e.logical) : 0;
}

/**
 * Whether allocating file blocks `lblk .. lblk+count-1` of `n` fits in the
 * free space: the data blocks of its holes, the extent tree blocks they may
 * add, and one block kept in reserve.
 */
export function fits(fs: Vexfs, n: InodeState, lblk: number, count: number): boolean {
  const exts = loadExtents(fs, n);
  const holes = segments(exts, lblk, count).filter((s) => s.physical === null);
  const need = holes.reduce((a, s) => a + s.count, 0);
  if (need === 0) return true;
  const treeNeed = treeBlocksFor(fs, exts.length + 2 * holes.length) - (n.treeBlocks?.length ?? 0);
  return need + Math.max(0, treeNeed) + 1 <= fs.blockMap.available;
}

/**
 * Blocks an internal file ending at file block `end` preallocates past it:
 * a quarter of its length, at least 4 blocks and at most 8 MiB, so that a
 * file of n blocks is in O(log n) extents while small and n / 8 MiB after
 * (see {@link Vexfs.write}).
 */
export function preallocWindow(fs: Vexfs, end: number): number {
  return Math.min(Math.floor(PREALLOC_MAX_BYTES / fs.blockSize), Math.max(4, end >> 2));
}

/**
 * Maps file blocks [lblk, lblk+count), allocating blocks for holes (with
 * extent `flags`). An internal file that grows at its end also gets
 * {@link preallocWindow} blocks past it as an UNWRITTEN extent, when
 * space is plentiful, so its store stays in few extents.
 * @returns the file-block ranges newly allocated, the preallocation included
 * @throws FsError ENOSPC before changing anything if space does not suffice
 */
export function allocRange(
  fs: Vexfs,
  n: InodeState,
  lblk: number,
  count: number,
  flags = 0,
): { lblk: number; count: number }[] {
  const exts = loadExtents(fs, n);
  const holes = segments(exts, lblk, count).filter((s) => s.physical === null);
  const need = holes.reduce((a, s) => a + s.count, 0);
  if (need === 0) return [];
  if (!fits(fs, n, lblk, count)) {
    throw new FsError(
      "ENOSPC",
      `no space left on device (${need} blocks needed, ${fs.blockMap.available} free)`,
    );
  }
  const added: { lblk: number; count: number }[] = [];
  let low = Infinity;
  const goalFor = (l: number) => {
    const p = l > 0 ? bmap(fs, n, l - 1) : 0;
    return p ? p + 1 : fs.blockMap.rotor;
  };
  for (const h of holes) {
    let l = h.lblk;
    let left = h.count;
    while (left > 0) {
      const r = fs.balloc(goalFor(l), left);
      low = Math.min(low, insertExtent(exts, { logical: l, physical: r.start, length: r.length, flags }));
      added.push({ lblk: l, count: r.length });
      n.d.blocks += r.length;
      l += r.length;
      left -= r.length;
    }
  }
  const end = lblk + count;
  // (not an xattr store: its value runs are placed in holes, FORMAT.md §7.3)
  if ((n.d.flags & (IFL_INTERNAL | IFL_XATTR_STORE)) === IFL_INTERNAL && flags === 0 && mappedEnd(exts) === end) {
    const extra = Math.min(preallocWindow(fs, end), Math.floor(fs.blockMap.available / 16));
    const treeNeed = Math.max(0, treeBlocksFor(fs, exts.length + 1) - (n.treeBlocks?.length ?? 0));
    if (extra > 0 && extra + treeNeed + 1 <= fs.blockMap.available) {
      const r = fs.balloc(goalFor(end), extra);
      low = Math.min(
        low,
        insertExtent(exts, { logical: end, physical: r.start, length: r.length, flags: EXT_UNWRITTEN }),
      );
      added.push({ lblk: end, count: r.length });
      n.d.blocks += r.length;
    }
  }
  storeExtents(fs, n, low);
  return added;
}

/** Frees every block of `n` at or beyond file block `fromLblk`. */
export function truncateBlocks(fs: Vexfs, n: InodeState, fromLblk: number): void {
  const exts = loadExtents(fs, n);
  const low = firstEndingAfter(exts, fromLblk);
  const freed = punch(exts, fromLblk);
  for (const f of freed) {
    fs.bfree(f.start, f.count);
    n.d.blocks -= f.count;
  }
  if (freed.length || !n.treeLevels) storeExtents(fs, n, low);
}
