/**
 * Writing repairs (the "repairs" phase, after pass 1b and before pass 5):
 * the model the passes changed goes to disk in place, outside any journal,
 * as e2fsck writes through its I/O channel.
 *
 * - {@link newInode}: an inode fsck creates (lost+found, a new root, the
 *   collection table, vector stores), in the model only until written;
 * - {@link writeFileContent}: a file's whole content (a rebuilt directory,
 *   a collection store), reusing its blocks where it can and allocating the
 *   rest from what pass 1b computed free;
 * - {@link rebuildDirectory}: a directory's hash tree rebuilt from its entry
 *   list with `dirInit`/`dirInsert` (src/fs/htree.ts) over memory, the way
 *   e2fsck's `rehash.c` rebuilds htree directories;
 * - {@link flushTree}: an extent tree rebuilt from an inode's extent list,
 *   laid out as the engine lays it out (full leaves, then index levels);
 * - {@link writeOut}: all of it in order, then every changed inode.
 *
 * Nothing here runs in check mode.
 * @module
 */
import {
  EXT_MAX_DEPTH,
  EXT_ROOT_MAX,
  EXT_UNWRITTEN,
  IFL_INLINE,
  INODE_DATA_SIZE,
  INODE_SIZE,
  S_IFDIR,
  S_IFMT,
} from "../format/constants.ts";
import { encodeExtentNode, type Extent, extentBlockMax } from "../format/extent.ts";
import { blankInode, encodeInode, type Inode } from "../format/inode.ts";
import { type DirBlocks, dirInit, dirInsert } from "../fs/htree.ts";
import { errText, type FsckContext, type InodeInfo, newInodeInfo } from "./context.ts";
import { ownedBlocks } from "./pass1_inodes.ts";
import { writeCollections } from "./collections.ts";
import { writeJournal } from "./journal.ts";

/** A repair that could not be made (the filesystem is full, a directory cannot hold its entries). */
export class RepairError extends Error {}

/** A fresh inode's fields: times now, no blocks, an empty extent root. */
function freshInode(mode: number, flags: number, parentIno: number, parentHash: number): Inode {
  const now = { sec: Math.floor(Date.now() / 1000), nsec: 0 };
  const data = new Uint8Array(INODE_DATA_SIZE);
  encodeExtentNode({ depth: 0, max: EXT_ROOT_MAX, extents: [] }, data, 0);
  return blankInode({ mode, flags, parentIno, parentHash, now, nlink: (mode & S_IFMT) === S_IFDIR ? 2 : 1, data });
}

/**
 * Creates inode `ino` in the model (it is written by {@link writeOut}); a
 * directory also gets an empty entry list and is marked for a rebuild, which
 * gives it its first block.
 * @param ino a number from {@link FsckContext.allocInodeNumber} or a reserved one (root, collection table)
 * @param mode full st_mode
 */
export function newInode(
  ctx: FsckContext,
  ino: number,
  mode: number,
  flags: number,
  parentIno: number,
  parentHash: number,
): InodeInfo {
  const info = newInodeInfo(ino, false);
  info.d = freshInode(mode, flags, parentIno, parentHash);
  info.csumOk = true;
  info.usable = true;
  info.created = true;
  info.dirty = true;
  info.treeDirty = true;
  info.type = mode & S_IFMT;
  if (info.type === S_IFDIR) {
    info.entries = [];
    info.rebuildDir = true;
  }
  ctx.infos.set(ino, info);
  ctx.freedInodes.delete(ino);
  ctx.allocatedInodes.add(ino);
  return info;
}

/**
 * Replaces a file's content with `content` (its size becomes
 * `content.length`): blocks mapped at the same file block are reused, the
 * rest are allocated, blocks no longer needed are freed, and the extent tree
 * is marked for {@link flushTree}.
 * @throws RepairError when no free block is left
 */
export function writeFileContent(ctx: FsckContext, info: InodeInfo, content: Uint8Array): void {
  const bs = ctx.bs;
  const n = Math.ceil(content.length / bs);
  const phys: (number | undefined)[] = new Array(n);
  const reused = new Set<number>();
  for (const e of info.exts) {
    for (let k = 0; k < e.length; k++) {
      const l = e.logical + k;
      const p = e.physical + k;
      if (l < n && !(e.flags & EXT_UNWRITTEN) && phys[l] === undefined && !ctx.dups.has(p)) {
        phys[l] = p;
        reused.add(p);
      }
    }
  }
  // allocate everything before giving anything back, so a full filesystem leaves the file as it was
  const fresh: number[] = [];
  for (let l = 0; l < n; l++) {
    if (phys[l] !== undefined) continue;
    const goal = l > 0 && phys[l - 1] !== undefined ? phys[l - 1]! + 1 : ctx.sb.firstDataBlock;
    const p = ctx.allocBlock(goal, info.ino, "data");
    if (p === null) {
      for (const b of fresh) ctx.freeBlock(b);
      throw new RepairError(`no free block left for inode ${info.ino}`);
    }
    phys[l] = p;
    fresh.push(p);
  }
  for (const e of info.exts) {
    for (let k = 0; k < e.length; k++) if (!reused.has(e.physical + k)) ctx.freeBlock(e.physical + k);
  }
  for (let l = 0; l < n; l++) {
    const block = new Uint8Array(bs);
    block.set(content.subarray(l * bs, Math.min(content.length, (l + 1) * bs)));
    ctx.writeBlock(phys[l]!, block);
  }
  const exts: Extent[] = [];
  for (let l = 0; l < n; l++) {
    const last = exts[exts.length - 1];
    if (last && last.physical + last.length === phys[l] && last.length < 0x7fffffff) last.length++;
    else exts.push({ logical: l, physical: phys[l]!, length: 1, flags: 0 });
  }
  info.exts = exts;
  info.treeDirty = true;
  info.d!.size = content.length;
  info.d!.flags &= ~IFL_INLINE;
  info.dirty = true;
}

/** Extent tree blocks needed for `n` extents beyond the in-inode root (as the engine's `treeBlocksFor`). */
function treeBlocksFor(n: number, bs: number): number {
  if (n <= EXT_ROOT_MAX) return 0;
  const m = extentBlockMax(bs);
  let nodes = Math.ceil(n / m);
  let total = nodes;
  while (nodes > EXT_ROOT_MAX) {
    nodes = Math.ceil(nodes / m);
    total += nodes;
  }
  return total;
}

/**
 * Writes an inode's extent tree from `info.exts`: in the inode when it has
 * at most 4 extents, else full leaf blocks and index levels above them
 * (reusing its old tree blocks, allocating more if needed).
 * @throws RepairError when no free block is left or the tree would be too deep
 */
export function flushTree(ctx: FsckContext, info: InodeInfo): void {
  const bs = ctx.bs;
  const d = info.d!;
  const exts = info.exts;
  const m = extentBlockMax(bs);
  const need = treeBlocksFor(exts.length, bs);
  const old = info.treeBlocks.filter((b) => !ctx.dups.has(b));
  const blocks = old.slice(0, need);
  for (const b of old.slice(need)) ctx.freeBlock(b);
  while (blocks.length < need) {
    const goal = blocks.length ? blocks[blocks.length - 1] + 1 : exts[0]?.physical ?? 0;
    const b = ctx.allocBlock(goal, info.ino, "extent tree block");
    if (b === null) throw new RepairError(`no free block left for the extent tree of inode ${info.ino}`);
    blocks.push(b);
  }
  const root = new Uint8Array(INODE_DATA_SIZE);
  if (exts.length <= EXT_ROOT_MAX) {
    encodeExtentNode({ depth: 0, max: EXT_ROOT_MAX, extents: exts }, root, info.ino);
  } else {
    let bi = 0;
    let level: { logical: number; child: number }[] = [];
    for (let i = 0; i < exts.length; i += m) {
      const b = blocks[bi++];
      const buf = new Uint8Array(bs);
      encodeExtentNode({ depth: 0, max: m, extents: exts.slice(i, i + m) }, buf, info.ino, bs);
      ctx.writeBlock(b, buf);
      level.push({ logical: exts[i].logical, child: b });
    }
    let depth = 1;
    while (level.length > EXT_ROOT_MAX) {
      const next: { logical: number; child: number }[] = [];
      for (let i = 0; i < level.length; i += m) {
        const b = blocks[bi++];
        const buf = new Uint8Array(bs);
        encodeExtentNode({ depth, max: m, index: level.slice(i, i + m) }, buf, info.ino, bs);
        ctx.writeBlock(b, buf);
        next.push({ logical: level[i].logical, child: b });
      }
      level = next;
      depth++;
    }
    if (depth > EXT_MAX_DEPTH) throw new RepairError(`inode ${info.ino} has too many extents for a tree`);
    encodeExtentNode({ depth, max: EXT_ROOT_MAX, index: level }, root, info.ino);
  }
  d.data = root;
  d.flags &= ~IFL_INLINE;
  info.treeBlocks = blocks;
  info.treeDirty = false;
  info.dirty = true;
}

/**
 * Rebuilds a directory's hash tree from `info.entries` in memory and writes
 * it as the directory's content (size = blocks × block size).
 * @throws RepairError when the entries cannot be stored
 */
export function rebuildDirectory(ctx: FsckContext, info: InodeInfo): void {
  const bs = ctx.bs;
  const blocks: Uint8Array[] = [new Uint8Array(bs)];
  const store: DirBlocks = {
    blockSize: bs,
    ino: info.ino,
    hashSeed: ctx.sb.hashSeed,
    blockCount: () => blocks.length,
    read: (l) => blocks[l],
    write: (l, data) => {
      blocks[l] = data;
    },
    append: () => {
      blocks.push(new Uint8Array(bs));
      return blocks.length - 1;
    },
  };
  dirInit(store);
  for (const e of info.entries ?? []) {
    try {
      dirInsert(store, e.name, e.ino, e.type);
    } catch (err) {
      throw new RepairError(`directory ${info.ino} cannot hold entry ino ${e.ino}: ${errText(err)}`);
    }
  }
  const content = new Uint8Array(blocks.length * bs);
  blocks.forEach((b, i) => content.set(b, i * bs));
  writeFileContent(ctx, info, content);
  info.rebuildDir = false;
}

/** Writes inode `ino`'s 256 bytes in the inode table. */
function writeInodeBytes(ctx: FsckContext, ino: number, d: Inode): void {
  ctx.write(ctx.sb.inodeTableStart * ctx.bs + (ino - 1) * INODE_SIZE, encodeInode(ino, d));
}

const ZERO_INODE: Inode = {
  mode: 0,
  uid: 0,
  gid: 0,
  nlink: 0,
  size: 0,
  blocks: 0,
  atime: { sec: 0, nsec: 0 },
  mtime: { sec: 0, nsec: 0 },
  ctime: { sec: 0, nsec: 0 },
  crtime: { sec: 0, nsec: 0 },
  flags: 0,
  generation: 0,
  xattrBlock: 0,
  parentIno: 0,
  parentHash: 0,
  collId: 0,
  vecSlot: 0,
  orphanNext: 0,
  rdev: 0,
  data: new Uint8Array(INODE_DATA_SIZE),
};

/**
 * The repairs phase: collection stores and the collection table, rebuilt
 * directories, extent trees, then every changed, created or cleared inode.
 * Each failure is reported as `REPAIR_FAILED` and the rest goes on.
 */
export function writeOut(ctx: FsckContext): void {
  const attempt = (what: string, f: () => void) => {
    try {
      f();
    } catch (e) {
      if (!(e instanceof RepairError)) throw e;
      ctx.note("REPAIR_FAILED", { where: what, what: what[0].toUpperCase() + what.slice(1), err: e.message });
    }
  };
  attempt("the journal", () => writeJournal(ctx));
  attempt("the collections", () => writeCollections(ctx));
  const infos = [...ctx.infos.values()].sort((a, b) => a.ino - b.ino);
  let n = 0;
  for (const info of infos) {
    if (info.usable && info.type === S_IFDIR && info.rebuildDir) {
      attempt(`directory ${info.ino}`, () => rebuildDirectory(ctx, info));
    }
    if (++n % 1024 === 0) ctx.progress("repairs", n, 2 * infos.length);
  }
  for (const info of infos) {
    if (info.usable && info.treeDirty && !(info.d!.flags & IFL_INLINE)) {
      attempt(`the extent tree of inode ${info.ino}`, () => flushTree(ctx, info));
    }
    if (info.cleared) writeInodeBytes(ctx, info.ino, ZERO_INODE);
    else if (info.usable && (info.dirty || info.created)) {
      info.d!.blocks = ownedBlocks(ctx, info);
      writeInodeBytes(ctx, info.ino, info.d!);
      info.dirty = false;
    }
    if (++n % 1024 === 0) ctx.progress("repairs", n, 2 * infos.length);
  }
  ctx.progress("repairs", 2 * infos.length, 2 * infos.length);
}
