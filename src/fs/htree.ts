/**
 * Directory hash tree of the VexFS format (docs/FORMAT.md §6), over an
 * abstract store of the directory's file blocks ({@link DirBlocks}).
 *
 * The structure follows the idea of ext4's htree (`fs/ext4/namei.c`: a small
 * B+tree keyed by a hash of the name, whose root lives in file block 0), with
 * the fixed-size headers of FORMAT.md §6:
 *
 * - file block 0 is the root index block (`DIRX`); index blocks hold
 *   `{u32 hash, u32 block}` entries sorted by hash, entry 0 storing hash 0;
 *   an entry covers the hashes from its own up to the next entry's;
 * - leaf blocks (`DIRL`) hold directory entries packed from offset 16,
 *   sorted by `(hash, name bytes)`; all entries with one hash live in one leaf;
 * - every block ends with a CRC-32C seeded with the directory's inode number,
 *   verified on every read (`EUCLEAN` when wrong) and set on every write.
 *
 * Lookups binary-search one index block per level and scan one leaf, so they
 * read `root level + 2` blocks whatever the directory size. Insertion only
 * touches the blocks on one root-to-leaf path plus the blocks created by
 * splits.
 *
 * This module holds the operations; the blocks, layout and checksums are in
 * ./htree_block.ts, index blocks in ./htree_index.ts, leaf blocks in
 * ./htree_leaf.ts, name checks in ./htree_name.ts and the fsck check in
 * ./htree_check.ts.
 *
 * @module
 */
import { dirHash } from "../format/hash.ts";
import { FsError } from "../errors.ts";
import {
  corrupt,
  type DirBlocks,
  type DirEntry,
  DIRL_MAGIC,
  entrySize,
  IDX_ENT,
  IDX_HDR,
  idxLimit,
  LEAF_HDR,
  leafCap,
  MAX_ROOT_LEVEL,
  readBlock,
  U32,
  viewOf,
  writeBlock,
} from "./htree_block.ts";
import {
  descend,
  getEntryCount,
  idxBlock,
  idxHash,
  type IdxNode,
  newIndex,
  readIndex,
  setEntryCount,
} from "./htree_index.ts";
import {
  chooseSplit,
  cmpBytes,
  entryAt,
  entryNameLen,
  leafEntries,
  leafFind,
  leafHdr,
  newLeaf,
  readIno,
  writeEntry,
} from "./htree_leaf.ts";
import { checkName, checkTarget } from "./htree_name.ts";

export type { DirBlocks, DirEntry } from "./htree_block.ts";
export { DIRL_MAGIC, DIRX_MAGIC, MAX_ROOT_LEVEL } from "./htree_block.ts";
export { dirCheck } from "./htree_check.ts";

/**
 * Writes an empty root index block (level 0, count 0, entry_count 0) at file
 * block 0. The caller must already have given the directory at least one
 * block (`d.blockCount() >= 1`); other blocks are left alone and unused.
 * @throws FsError EINVAL if the directory has no block or the block size is out of range
 */
export function dirInit(d: DirBlocks): void {
  if (!(d.blockSize >= 1024 && d.blockSize <= 65536 && d.blockSize % 8 === 0)) {
    throw new FsError("EINVAL", `bad directory block size ${d.blockSize}`);
  }
  if (d.blockCount() < 1) {
    throw new FsError("EINVAL", `directory ${d.ino} has no block 0`);
  }
  writeBlock(d, 0, newIndex(d.blockSize, 0, []));
}

/**
 * Looks `name` up: hashes it, binary-searches one index block per level and
 * scans one leaf (reads `root level + 2` blocks, 1 if the directory is empty).
 * @param name raw name bytes, 1..255
 * @returns a copy of the entry, or null if there is none
 * @throws FsError EUCLEAN on a corrupt block; ENAMETOOLONG / EINVAL for an invalid name
 */
export function dirLookup(d: DirBlocks, name: Uint8Array): DirEntry | null {
  checkName(name);
  const h = dirHash(name, d.hashSeed);
  const { leaf } = descend(d, h, false);
  if (leaf < 0) return null;
  const buf = readBlock(d, leaf, DIRL_MAGIC, false);
  const p = leafFind(d, leaf, buf, h, name);
  return p.found ? entryAt(buf, viewOf(buf), p.off, p.len) : null;
}

/**
 * Adds the entry `name → (ino, type)`. The new entry goes to its place in the
 * leaf covering its hash; a full leaf is split at a hash boundary near the
 * middle into a newly appended block, and `{split hash, new block}` is added
 * to the parent index; full index blocks split the same way and a full root
 * moves its entries into a new index block and rises one level (up to level
 * 2). All blocks a split needs are appended before anything is written, so a
 * failed `append()` leaves the tree unchanged (the blocks appended before the
 * failure are left as unreferenced empty leaves). Reads and writes only the
 * blocks on one root-to-leaf path plus the new blocks.
 * @param name raw name bytes: 1..255, no `/` or NUL, not `.` or `..`
 * @param ino target inode number (≥ 1)
 * @param type file type 1..7
 * @throws FsError EEXIST if the name exists; ENOSPC if the leaf cannot be split
 *   (all its entries share one hash), the tree is full at root level 2, or
 *   `append()` fails; ENAMETOOLONG / EINVAL for a bad name, ino or type;
 *   EUCLEAN on a corrupt block
 */
export function dirInsert(
  d: DirBlocks,
  name: Uint8Array,
  ino: number,
  type: number,
): void {
  checkName(name);
  checkTarget(ino, type);
  const bs = d.blockSize;
  const h = dirHash(name, d.hashSeed);
  const entry: DirEntry = { name, ino, type, hash: h };
  const size = entrySize(name.length);
  const { path, leaf } = descend(d, h, true);
  const root = path[0];

  if (leaf < 0) {
    // Empty directory: the first leaf covers every hash.
    const blk = d.append();
    if (blk <= 0 || blk >= U32) {
      throw new FsError("ENOSPC", `directory block ${blk} not addressable`);
    }
    writeBlock(d, blk, newLeaf(bs, [entry]));
    root.dv.setUint16(6, 1, true);
    root.dv.setUint32(IDX_HDR, 0, true);
    root.dv.setUint32(IDX_HDR + 4, blk, true);
    setEntryCount(root.dv, getEntryCount(root.dv) + 1);
    writeBlock(d, 0, root.buf);
    return;
  }

  const lbuf = readBlock(d, leaf, DIRL_MAGIC, true);
  const p = leafFind(d, leaf, lbuf, h, name);
  if (p.found) throw new FsError("EEXIST", "name exists");
  const used = p.hdr.end - LEAF_HDR;

  if (used + size <= leafCap(bs)) {
    const ldv = viewOf(lbuf);
    lbuf.copyWithin(p.off + size, p.off, p.hdr.end);
    writeEntry(ldv, lbuf, p.off, entry);
    ldv.setUint32(4, p.hdr.count + 1, true);
    ldv.setUint32(8, used + size, true);
    writeBlock(d, leaf, lbuf);
  } else {
    // Split the leaf; plan everything (and allocate) before writing.
    const entries = leafEntries(d, leaf, lbuf);
    let at = 0;
    while (at < entries.length) {
      const e = entries[at];
      if (e.hash > h || (e.hash === h && cmpBytes(name, e.name) < 0)) break;
      at++;
    }
    entries.splice(at, 0, entry);
    const cut = chooseSplit(entries, leafCap(bs));
    if (cut < 0) {
      throw new FsError(
        "ENOSPC",
        `directory ${d.ino}: leaf ${leaf} cannot be split (entries share one hash)`,
      );
    }
    const limit = idxLimit(bs);
    let need = 1;
    for (let i = path.length - 1; i >= 0; i--) {
      if (path[i].count < limit) break;
      if (i > 0) {
        need++;
      } else {
        if (root.level >= MAX_ROOT_LEVEL) {
          throw new FsError("ENOSPC", `directory ${d.ino}: hash tree is full`);
        }
        need += 2;
      }
    }
    ownPath(d, path);
    const fresh: number[] = [];
    try {
      for (let i = 0; i < need; i++) {
        const b = d.append();
        fresh.push(b);
        if (b <= 0 || b >= U32) {
          throw new FsError("ENOSPC", `directory block ${b} not addressable`);
        }
      }
    } catch (e) {
      for (const b of fresh) {
        if (b > 0 && b < d.blockCount()) writeBlock(d, b, newLeaf(bs, []));
      }
      throw e;
    }

    const upperBlk = fresh.shift()!;
    writeBlock(d, upperBlk, newLeaf(bs, entries.slice(cut)));
    writeBlock(d, leaf, newLeaf(bs, entries.slice(0, cut)));
    insertIndex(d, path, path.length - 1, entries[cut].hash, upperBlk, fresh);
  }

  setEntryCount(root.dv, getEntryCount(root.dv) + 1);
  writeBlock(d, 0, root.buf);
}

/** Replaces the interior nodes of `path` by verified private copies. */
function ownPath(d: DirBlocks, path: IdxNode[]): void {
  for (let i = 1; i < path.length; i++) {
    const n = path[i];
    const c = readIndex(d, n.lblk, true, n.level);
    if (c.count !== n.count) throw corrupt(d, n.lblk, "index block changed");
    c.pos = n.pos;
    path[i] = c;
  }
}

/**
 * Adds `{key, child}` after `path[i].pos`, splitting full index blocks
 * upward and growing the root when needed. Writes every changed block except
 * the root (the caller writes it). `fresh` holds the pre-allocated blocks.
 */
function insertIndex(
  d: DirBlocks,
  path: IdxNode[],
  i: number,
  key: number,
  child: number,
  fresh: number[],
): void {
  const bs = d.blockSize;
  const limit = idxLimit(bs);
  for (;;) {
    const n = path[i];
    const at = n.pos + 1;
    if (n.count < limit) {
      const base = IDX_HDR + at * IDX_ENT;
      n.buf.copyWithin(base + IDX_ENT, base, IDX_HDR + n.count * IDX_ENT);
      n.dv.setUint32(base, key, true);
      n.dv.setUint32(base + 4, child, true);
      n.count++;
      n.dv.setUint16(6, n.count, true);
      if (i > 0) writeBlock(d, n.lblk, n.buf);
      return;
    }
    if (i === 0) {
      // Full root: move its entries into a new index block one level down,
      // leave the root with the single entry {0, new}, then split that child.
      const c = fresh.shift()!;
      const cbuf = newIndex(bs, n.level, []);
      cbuf.set(n.buf.subarray(IDX_HDR, IDX_HDR + n.count * IDX_ENT), IDX_HDR);
      const cdv = viewOf(cbuf);
      cdv.setUint16(6, n.count, true);
      const cnode: IdxNode = {
        lblk: c,
        buf: cbuf,
        dv: cdv,
        level: n.level,
        count: n.count,
        pos: n.pos,
      };
      n.buf.fill(0, IDX_HDR, IDX_HDR + n.count * IDX_ENT);
      n.level++;
      n.count = 1;
      n.pos = 0;
      n.dv.setUint16(4, n.level, true);
      n.dv.setUint16(6, 1, true);
      n.dv.setUint32(IDX_HDR + 4, c, true);
      path.splice(1, 0, cnode);
      i = 1;
      continue;
    }
    // Split a full interior block: the upper half moves to a new block whose
    // entry 0 stores hash 0; its real first hash becomes the parent's key.
    const flat: number[] = [];
    for (let k = 0; k < n.count; k++) {
      if (k === at) flat.push(key, child);
      flat.push(idxHash(n, k), idxBlock(n, k));
    }
    if (at === n.count) flat.push(key, child);
    const total = flat.length / 2;
    const mid = total >>> 1;
    const upKey = flat[mid * 2];
    const upper = flat.slice(mid * 2);
    upper[0] = 0;
    const nb = fresh.shift()!;
    writeBlock(d, nb, newIndex(bs, n.level, upper));
    writeBlock(d, n.lblk, newIndex(bs, n.level, flat.slice(0, mid * 2)));
    key = upKey;
    child = nb;
    i--;
  }
}

/**
 * Removes the entry `name` and compacts its leaf (an emptied leaf stays in
 * the tree). Writes the leaf and the root (entry_count).
 * @returns the removed entry
 * @throws FsError ENOENT if absent; ENAMETOOLONG / EINVAL for an invalid name; EUCLEAN on corruption
 */
export function dirRemove(d: DirBlocks, name: Uint8Array): DirEntry {
  checkName(name);
  const h = dirHash(name, d.hashSeed);
  const { path, leaf } = descend(d, h, true);
  if (leaf < 0) throw new FsError("ENOENT", "no such entry");
  const buf = readBlock(d, leaf, DIRL_MAGIC, true);
  const p = leafFind(d, leaf, buf, h, name);
  if (!p.found) throw new FsError("ENOENT", "no such entry");
  const dv = viewOf(buf);
  const old = entryAt(buf, dv, p.off, p.len);
  const size = entrySize(p.len);
  buf.copyWithin(p.off, p.off + size, p.hdr.end);
  buf.fill(0, p.hdr.end - size, p.hdr.end);
  dv.setUint32(4, p.hdr.count - 1, true);
  dv.setUint32(8, p.hdr.end - LEAF_HDR - size, true);
  writeBlock(d, leaf, buf);
  const root = path[0];
  const n = getEntryCount(root.dv);
  if (n === 0) throw corrupt(d, 0, "entry_count is 0 in a non-empty directory");
  setEntryCount(root.dv, n - 1);
  writeBlock(d, 0, root.buf);
  return old;
}

/**
 * Points the existing entry `name` at `(ino, type)` in place (for rename over
 * an existing name). Writes only its leaf.
 * @returns the entry as it was before
 * @throws FsError ENOENT if absent; EINVAL / ENAMETOOLONG for a bad name, ino or type; EUCLEAN on corruption
 */
export function dirReplace(
  d: DirBlocks,
  name: Uint8Array,
  ino: number,
  type: number,
): DirEntry {
  checkName(name);
  checkTarget(ino, type);
  const h = dirHash(name, d.hashSeed);
  const { leaf } = descend(d, h, false);
  if (leaf < 0) throw new FsError("ENOENT", "no such entry");
  const buf = readBlock(d, leaf, DIRL_MAGIC, true);
  const p = leafFind(d, leaf, buf, h, name);
  if (!p.found) throw new FsError("ENOENT", "no such entry");
  const dv = viewOf(buf);
  const old = entryAt(buf, dv, p.off, p.len);
  dv.setUint32(p.off, ino % U32, true);
  dv.setUint32(p.off + 4, Math.floor(ino / U32), true);
  buf[p.off + 14] = type;
  writeBlock(d, leaf, buf);
  return old;
}

/**
 * Number of names in the directory, from the root's `entry_count` (one block
 * read; `.` and `..` are not counted).
 * @throws FsError EUCLEAN if the root block is corrupt
 */
export function dirEntryCount(d: DirBlocks): number {
  return getEntryCount(readIndex(d, 0, false, 0).dv);
}

/**
 * Every entry of the directory in `(hash, name bytes)` order (a depth-first
 * walk of the tree; each leaf is read once, when reached). The directory must
 * not be modified while the generator is running.
 * @throws FsError EUCLEAN on a corrupt block (when reached)
 */
export function* dirIterate(d: DirBlocks): Generator<DirEntry> {
  const root = readIndex(d, 0, true, 0);
  yield* walkEntries(d, root);
}

function* walkEntries(d: DirBlocks, n: IdxNode): Generator<DirEntry> {
  const nblk = d.blockCount();
  for (let i = 0; i < n.count; i++) {
    const child = idxBlock(n, i);
    if (child === 0 || child >= nblk) {
      throw corrupt(
        d,
        n.lblk,
        `entry ${i} points to block ${child} outside the directory`,
      );
    }
    if (n.level > 0) {
      yield* walkEntries(d, readIndex(d, child, true, n.level - 1));
    } else {
      const buf = readBlock(d, child, DIRL_MAGIC, false);
      yield* leafEntries(d, child, buf);
    }
  }
}

/**
 * The entry with name hash `hash` that links inode `ino` (resolving an
 * inode's parent pointer, FORMAT.md §5.3): reads the one leaf covering `hash`.
 * @param hash the inode's `parent_hash`
 * @param ino the inode number to match
 * @returns the first such entry in name order, or null
 * @throws FsError EUCLEAN on a corrupt block
 */
export function dirFindByIno(
  d: DirBlocks,
  hash: number,
  ino: number,
): DirEntry | null {
  const h = hash >>> 0;
  const { leaf } = descend(d, h, false);
  if (leaf < 0) return null;
  const buf = readBlock(d, leaf, DIRL_MAGIC, false);
  const dv = viewOf(buf);
  const hdr = leafHdr(d, leaf, dv);
  let off = LEAF_HDR;
  for (let i = 0; i < hdr.count; i++) {
    const len = entryNameLen(d, leaf, dv, off, hdr.end);
    const eh = dv.getUint32(off + 8, true);
    if (eh > h) break;
    if (eh === h && readIno(dv, off) === ino) return entryAt(buf, dv, off, len);
    off += entrySize(len);
  }
  return null;
}
