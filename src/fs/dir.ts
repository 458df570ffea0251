/**
 * Directories and the namespace: the hash-tree block store of a directory
 * (docs/FORMAT.md §6), lookup, listing, and the operations that add,
 * remove and move names (create, mknod, symlink, link, unlink, rmdir,
 * rename) with the parent pointers they keep (§5.3) and orphans (§5.4).
 * Part of the {@link Vexfs} engine, as lib/ext2fs's dir and link code is of
 * ext2fs: every function takes the engine first; the `Vexfs` methods wrap
 * the mutating ones in their operation.
 * @module
 */
import { check, FsError } from "../errors.ts";
import {
  fileTypeOfMode,
  IFL_INLINE,
  INODE_DATA_SIZE,
  NAME_MAX,
  ROOT_INO,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  SYMLINK_MAX,
} from "../format/constants.ts";
import { blockChecksumOk } from "../format/extent.ts";
import { nowTimespec } from "../format/inode.ts";
import { dirHash } from "../format/hash.ts";
import { bmap, loadExtents, storeExtents, treeBlocksFor } from "./extents_ops.ts";
import { insertExtent } from "./extentmap.ts";
import { readInto } from "./file.ts";
import { addOrphan } from "./orphan.ts";
import {
  type DirBlocks,
  dirEntryCount,
  dirInit,
  dirInsert,
  dirIterate,
  DIRL_MAGIC,
  dirLookup,
  dirRemove,
  dirReplace,
  DIRX_MAGIC,
} from "./htree.ts";
import type { DirEntryInfo, InodeState, Name, Vexfs } from "./fs.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Converts a {@link Name} to bytes and validates it as one path component. */
export function nameBytes(name: Name): Uint8Array {
  const b = typeof name === "string" ? enc.encode(name) : name;
  if (b.length === 0) throw new FsError("ENOENT", "empty file name");
  if (b.length > NAME_MAX) {
    throw new FsError(
      "ENAMETOOLONG",
      `file name is ${b.length} bytes; at most ${NAME_MAX} are allowed`,
    );
  }
  if (b.includes(0x2f) || b.includes(0)) {
    throw new FsError(
      "EINVAL",
      `file name '${dec.decode(b)}' contains '/' or NUL`,
    );
  }
  if (
    (b.length === 1 && b[0] === 0x2e) ||
    (b.length === 2 && b[0] === 0x2e && b[1] === 0x2e)
  ) {
    throw new FsError("EINVAL", "'.' and '..' cannot be used as names here");
  }
  return b;
}

/** What {@link Vexfs.dirBlocks} does (its documentation says how). */
export function dirBlocks(fs: Vexfs, n: InodeState): DirBlocks {
  const bs = fs.blockSize;
  return {
    blockSize: bs,
    ino: n.ino,
    hashSeed: fs.sb.hashSeed,
    blockCount: () => Math.floor(n.d.size / bs),
    verifiedReads: true,
    read: (l: number) => {
      const p = bmap(fs, n, l);
      if (!p) {
        throw new FsError(
          "EUCLEAN",
          `directory ${n.ino}: block ${l} is not mapped`,
        );
      }
      // The checksum is verified when the block comes from disk (a block
      // with a wrong magic is left to the tree, which names what it found).
      return fs.cache.get(p, (buf) => {
        const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
        const magic = dv.getUint32(0, true);
        if ((magic === DIRX_MAGIC || magic === DIRL_MAGIC) && !blockChecksumOk(buf, n.ino)) {
          throw new FsError("EUCLEAN", `directory ${n.ino} block ${l}: bad checksum`);
        }
      });
    },
    write: (l: number, data: Uint8Array) => {
      const p = bmap(fs, n, l);
      if (!p) {
        throw new FsError(
          "EUCLEAN",
          `directory ${n.ino}: block ${l} is not mapped`,
        );
      }
      fs.cache.put(p, data);
    },
    append: () => {
      const l = Math.floor(n.d.size / bs);
      const exts = loadExtents(fs, n);
      const goal = exts.length ? exts[exts.length - 1].physical + exts[exts.length - 1].length : 0;
      if (fs.blockMap.available < 2 + treeBlocksFor(fs, exts.length + 1)) {
        throw new FsError("ENOSPC", "no space left on device");
      }
      const r = fs.balloc(goal, 1);
      const low = insertExtent(exts, {
        logical: l,
        physical: r.start,
        length: 1,
        flags: 0,
      });
      n.d.blocks += 1;
      n.d.size += bs;
      storeExtents(fs, n, low);
      fs.cache.getNew(r.start);
      return l;
    },
  };
}

/**
 * Inode `ino`, which must be a directory.
 * @throws FsError ENOTDIR, ENOENT
 */
export function dirInode(fs: Vexfs, ino: number): InodeState {
  const n = fs.iget(ino);
  if ((n.d.mode & S_IFMT) !== S_IFDIR) {
    throw new FsError("ENOTDIR", `inode ${ino} is not a directory`);
  }
  return n;
}

/** What {@link Vexfs.lookup} does (its documentation says how). */
export function lookupName(fs: Vexfs, dir: number, name: Name): number {
  const ino = fs.find(dir, name);
  if (ino === 0) {
    throw new FsError(
      "ENOENT",
      `no entry '${typeof name === "string" ? name : dec.decode(name)}' in directory ${dir}`,
    );
  }
  return ino;
}

/** What {@link Vexfs.find} does (its documentation says how), inside its operation. */
export function findName(fs: Vexfs, dir: number, name: Name): number {
  const d = dirInode(fs, dir);
  if (
    name === "." ||
    (name instanceof Uint8Array && name.length === 1 && name[0] === 0x2e)
  ) return dir;
  if (
    name === ".." ||
    (name instanceof Uint8Array && name.length === 2 && name[0] === 0x2e &&
      name[1] === 0x2e)
  ) {
    return dir === ROOT_INO ? ROOT_INO : d.d.parentIno;
  }
  const e = dirLookup(dirBlocks(fs, d), nameBytes(name));
  if (e && (e.ino < 1 || e.ino > fs.sb.inodeCount || !fs.inodeMap.test(e.ino - 1))) {
    throw new FsError(
      "EUCLEAN",
      `directory inode ${dir}: entry '${dec.decode(e.name)}' names inode ${e.ino}, which is not in use; run vexfs fsck`,
    );
  }
  return e ? e.ino : 0;
}

/** What {@link Vexfs.readdir} does (its documentation says how). */
export function* readDir(fs: Vexfs, dir: number): Generator<DirEntryInfo> {
  const d = dirInode(fs, dir);
  for (const e of dirIterate(dirBlocks(fs, d))) {
    yield {
      nameBytes: e.name,
      name: dec.decode(e.name),
      ino: e.ino,
      type: e.type,
    };
  }
}

/** What {@link Vexfs.dirSize} does (its documentation says how). */
export function dirSize(fs: Vexfs, dir: number): number {
  return dirEntryCount(dirBlocks(fs, dirInode(fs, dir)));
}

function touchDir(fs: Vexfs, d: InodeState): void {
  const now = nowTimespec();
  d.d.mtime = now;
  d.d.ctime = now;
  fs.dirty(d);
}

/**
 * Creates a new inode of type `mode & S_IFMT` linked as `name` in `dir`.
 * Used by create, mkdir, mknod and symlink.
 * @throws FsError EEXIST, ENOSPC, ENOTDIR, ENAMETOOLONG, EROFS
 */
export function makeNode(
  fs: Vexfs,
  dir: number,
  name: Name,
  mode: number,
  uid: number,
  gid: number,
): InodeState {
  fs._assertWritable();
  const d = dirInode(fs, dir);
  if (d.d.nlink === 0) {
    throw new FsError("ENOENT", `directory ${dir} has been removed`);
  }
  const nb = nameBytes(name);
  const blocks = dirBlocks(fs, d);
  if (dirLookup(blocks, nb)) {
    throw new FsError("EEXIST", `'${dec.decode(nb)}' already exists`);
  }
  const isDir = (mode & S_IFMT) === S_IFDIR;
  if (isDir && d.d.nlink >= 65000) {
    throw new FsError(
      "EMLINK",
      `directory ${dir} has too many subdirectories`,
    );
  }
  if (fs.blockMap.available < 4) {
    throw new FsError("ENOSPC", "no space left on device");
  }
  const hash = dirHash(nb, fs.sb.hashSeed);
  const n = fs.ialloc(mode, uid, gid, dir, hash);
  try {
    if (isDir) {
      n.d.nlink = 2;
      const nb2 = dirBlocks(fs, n);
      nb2.append();
      dirInit(nb2);
    }
    dirInsert(blocks, nb, n.ino, fileTypeOfMode(mode));
  } catch (e) {
    n.d.nlink = 0;
    fs._ifree(n);
    throw e;
  }
  if (isDir) d.d.nlink++;
  touchDir(fs, d);
  if ((mode & S_IFMT) === S_IFREG) fs.collections.text.touch(n.ino);
  return n;
}

/** What {@link Vexfs.mknod} does (its documentation says how), inside its operation. */
export function mknodIn(
  fs: Vexfs,
  dir: number,
  name: Name,
  mode: number,
  rdev: number,
  uid: number,
  gid: number,
): number {
  const t = mode & S_IFMT;
  check(
    t !== S_IFDIR && t !== S_IFLNK,
    "EINVAL",
    "use mkdir/symlink for directories and symlinks",
  );
  const n = makeNode(fs, dir, name, t === 0 ? S_IFREG | (mode & 0o7777) : mode, uid, gid);
  n.d.rdev = rdev;
  fs.dirty(n);
  return n.ino;
}

/** What {@link Vexfs.symlink} does (its documentation says how), inside its operation. */
export function symlinkIn(fs: Vexfs, dir: number, name: Name, target: Name, uid: number, gid: number): number {
  const t = typeof target === "string" ? enc.encode(target) : target;
  check(t.length > 0, "ENOENT", "empty symlink target");
  if (t.length > SYMLINK_MAX) {
    throw new FsError(
      "ENAMETOOLONG",
      `symlink target is ${t.length} bytes; at most ${SYMLINK_MAX}`,
    );
  }
  const n = makeNode(fs, dir, name, S_IFLNK | 0o777, uid, gid);
  if (t.length <= INODE_DATA_SIZE) {
    const data = new Uint8Array(INODE_DATA_SIZE);
    data.set(t);
    n.d.data = data;
    n.d.flags |= IFL_INLINE;
    n.exts = [];
    n.treeBlocks = [];
    n.d.size = t.length;
    fs.dirty(n);
  } else {
    try {
      fs.write(n.ino, 0, t);
    } catch (e) {
      fs.unlink(dir, name);
      throw e;
    }
  }
  return n.ino;
}

/** What {@link Vexfs.readlink} does (its documentation says how), inside its operation. */
export function readSymlink(fs: Vexfs, ino: number): Uint8Array {
  const n = fs.iget(ino);
  if ((n.d.mode & S_IFMT) !== S_IFLNK) {
    throw new FsError("EINVAL", `inode ${ino} is not a symlink`);
  }
  if (n.d.flags & IFL_INLINE) return n.d.data.slice(0, n.d.size);
  const out = new Uint8Array(n.d.size);
  readInto(fs, n, 0, out);
  return out;
}

/** What {@link Vexfs.link} does (its documentation says how), inside its operation. */
export function linkIn(fs: Vexfs, ino: number, dir: number, name: Name): void {
  fs._assertWritable();
  const n = fs.iget(ino);
  const d = dirInode(fs, dir);
  const nb = nameBytes(name);
  const blocks = dirBlocks(fs, d);
  // same order of checks as Linux: EEXIST (filename_create) before EPERM (vfs_link)
  if (dirLookup(blocks, nb)) {
    throw new FsError("EEXIST", `'${dec.decode(nb)}' already exists`);
  }
  if ((n.d.mode & S_IFMT) === S_IFDIR) {
    throw new FsError("EPERM", "hard links to directories are not allowed");
  }
  if (n.d.nlink === 0) {
    throw new FsError("ENOENT", `inode ${ino} has been removed`);
  }
  if (n.d.nlink >= 65000) {
    throw new FsError("EMLINK", `inode ${ino} has too many links`);
  }
  dirInsert(blocks, nb, ino, fileTypeOfMode(n.d.mode));
  n.d.nlink++;
  fs.namespaceVersion++;
  if (!n.d.parentIno) {
    n.d.parentIno = dir;
    n.d.parentHash = dirHash(nb, fs.sb.hashSeed);
  }
  n.d.ctime = nowTimespec();
  fs.dirty(n);
  touchDir(fs, d);
  fs.collections.text.touch(ino); // its collection may change when parent_ino was 0 (design issue 12 §4.2)
}

/** Drops one link of `n` (already removed from its directory). */
function dropLink(fs: Vexfs, n: InodeState, dir: number, hash: number): void {
  fs.namespaceVersion++;
  n.d.nlink--;
  n.d.ctime = nowTimespec();
  if (n.d.parentIno === dir && n.d.parentHash === hash) n.d.parentIno = 0;
  if (n.d.nlink === 0 || ((n.d.mode & S_IFMT) === S_IFDIR)) {
    n.d.nlink = 0;
    if (fs.openCount(n.ino) > 0) addOrphan(fs, n);
    else fs._ifree(n);
    return;
  }
  fs.dirty(n);
}

/**
 * The existing entry `name` of directory `dir` with its inode.
 * @throws FsError ENOENT, ENOTDIR, ENAMETOOLONG
 */
function existingEntry(fs: Vexfs, dir: number, name: Name) {
  const d = dirInode(fs, dir);
  const nb = nameBytes(name);
  const blocks = dirBlocks(fs, d);
  const e = dirLookup(blocks, nb);
  if (!e) throw new FsError("ENOENT", `no entry '${dec.decode(nb)}'`);
  return { d, nb, blocks, e, n: fs.iget(e.ino) };
}

/** What {@link Vexfs.unlink} does (its documentation says how), inside its operation. */
export function unlinkIn(fs: Vexfs, dir: number, name: Name): void {
  fs._assertWritable();
  const { d, nb, blocks, e, n } = existingEntry(fs, dir, name);
  if ((n.d.mode & S_IFMT) === S_IFDIR) {
    throw new FsError(
      "EISDIR",
      `'${dec.decode(nb)}' is a directory (use rmdir)`,
    );
  }
  fs.collections.text.touch(n.ino); // in its collection before the link goes (the text index drops it)
  dirRemove(blocks, nb);
  touchDir(fs, d);
  dropLink(fs, n, dir, e.hash);
  fs.collections.text.touch(n.ino); // a file with links left may now be another collection's
}

/** What {@link Vexfs.rmdir} does (its documentation says how), inside its operation. */
export function rmdirIn(fs: Vexfs, dir: number, name: Name): void {
  fs._assertWritable();
  const { d, nb, blocks, e, n } = existingEntry(fs, dir, name);
  if ((n.d.mode & S_IFMT) !== S_IFDIR) {
    throw new FsError("ENOTDIR", `'${dec.decode(nb)}' is not a directory`);
  }
  if (dirEntryCount(dirBlocks(fs, n)) > 0) {
    throw new FsError(
      "ENOTEMPTY",
      `directory '${dec.decode(nb)}' is not empty`,
    );
  }
  dirRemove(blocks, nb);
  d.d.nlink--;
  touchDir(fs, d);
  dropLink(fs, n, dir, e.hash);
}

/** What {@link Vexfs.isAncestor} does (its documentation says how). */
export function isAncestor(fs: Vexfs, a: number, b: number): boolean {
  let cur = b;
  for (let i = 0; i < 4096; i++) {
    if (cur === a) return true;
    if (cur === ROOT_INO) return false;
    const p = fs.iget(cur).d.parentIno;
    if (!p || p === cur) return false;
    cur = p;
  }
  throw new FsError(
    "ELOOP",
    "directory parent chain is too long (corrupted?)",
  );
}

/** What {@link Vexfs.rename} does (its documentation says how), inside its operation. */
export function renameIn(fs: Vexfs, oldDir: number, oldName: Name, newDir: number, newName: Name, flags: number): void {
  fs._assertWritable();
  check(
    (flags & ~3) === 0 && flags !== 3,
    "EINVAL",
    `invalid rename flags ${flags}`,
  );
  const od = dirInode(fs, oldDir);
  const nd = dirInode(fs, newDir);
  const onb = nameBytes(oldName);
  const nnb = nameBytes(newName);
  const ob = dirBlocks(fs, od);
  const nbk = dirBlocks(fs, nd);
  const src = dirLookup(ob, onb);
  if (!src) throw new FsError("ENOENT", `no entry '${dec.decode(onb)}'`);
  const dst = dirLookup(nbk, nnb);
  const sn = fs.iget(src.ino);
  const srcIsDir = (sn.d.mode & S_IFMT) === S_IFDIR;
  if (flags === 2) {
    if (!dst) {
      throw new FsError(
        "ENOENT",
        `no entry '${dec.decode(nnb)}' to exchange with`,
      );
    }
    const dn = fs.iget(dst.ino);
    const dstIsDir = (dn.d.mode & S_IFMT) === S_IFDIR;
    if (srcIsDir && oldDir !== newDir && isAncestor(fs, src.ino, newDir)) {
      throw new FsError("EINVAL", "cannot move a directory into itself");
    }
    if (dstIsDir && oldDir !== newDir && isAncestor(fs, dst.ino, oldDir)) {
      throw new FsError("EINVAL", "cannot move a directory into itself");
    }
    if (src.ino === dst.ino) return;
    fs.collections.checkMove(sn, newDir);
    fs.collections.checkMove(dn, oldDir);
    const textSrc = fs.collections.text.moving(sn.ino, oldDir, newDir);
    const textDst = fs.collections.text.moving(dn.ino, newDir, oldDir);
    dirReplace(ob, onb, dst.ino, dst.type);
    dirReplace(nbk, nnb, src.ino, src.type);
    reparent(fs, sn, oldDir, src.hash, newDir, dirHash(nnb, fs.sb.hashSeed));
    reparent(fs, dn, newDir, dst.hash, oldDir, dirHash(onb, fs.sb.hashSeed));
    if (srcIsDir !== dstIsDir && oldDir !== newDir) {
      if (srcIsDir) {
        od.d.nlink--;
        nd.d.nlink++;
      } else {
        od.d.nlink++;
        nd.d.nlink--;
      }
    }
    fs.collections.afterMove(sn, oldDir, newDir);
    fs.collections.afterMove(dn, newDir, oldDir);
    fs.collections.text.moved(textSrc);
    fs.collections.text.moved(textDst);
    touchDir(fs, od);
    touchDir(fs, nd);
    return;
  }
  if (dst && flags === 1) {
    throw new FsError("EEXIST", `'${dec.decode(nnb)}' already exists`);
  }
  if (dst && dst.ino === src.ino) return; // same inode: POSIX says do nothing
  if (srcIsDir && isAncestor(fs, src.ino, newDir)) {
    throw new FsError(
      "EINVAL",
      "cannot move a directory into itself or its subdirectory",
    );
  }
  let dn: InodeState | undefined;
  if (dst) {
    dn = fs.iget(dst.ino);
    const dstIsDir = (dn.d.mode & S_IFMT) === S_IFDIR;
    if (srcIsDir && !dstIsDir) {
      throw new FsError("ENOTDIR", `'${dec.decode(nnb)}' is not a directory`);
    }
    if (!srcIsDir && dstIsDir) {
      throw new FsError("EISDIR", `'${dec.decode(nnb)}' is a directory`);
    }
    if (dstIsDir && dirEntryCount(dirBlocks(fs, dn)) > 0) {
      throw new FsError(
        "ENOTEMPTY",
        `directory '${dec.decode(nnb)}' is not empty`,
      );
    }
  } else if (srcIsDir && oldDir !== newDir && nd.d.nlink >= 65000) {
    throw new FsError(
      "EMLINK",
      "target directory has too many subdirectories",
    );
  }
  fs.collections.checkMove(sn, newDir);
  const textSrc = fs.collections.text.moving(sn.ino, oldDir, newDir);
  if (dn) fs.collections.text.touch(dn.ino); // replaced: leaves its collection (or keeps other links)
  const newHash = dirHash(nnb, fs.sb.hashSeed);
  if (dst) {
    dirReplace(nbk, nnb, src.ino, src.type);
  } else {
    dirInsert(nbk, nnb, src.ino, src.type);
  }
  dirRemove(ob, onb);
  reparent(fs, sn, oldDir, src.hash, newDir, newHash);
  if (srcIsDir && oldDir !== newDir) {
    od.d.nlink--;
    nd.d.nlink++;
  }
  if (dn) {
    if ((dn.d.mode & S_IFMT) === S_IFDIR) nd.d.nlink--;
    dropLink(fs, dn, newDir, dst!.hash);
    fs.collections.text.touch(dn.ino);
  }
  fs.collections.afterMove(sn, oldDir, newDir);
  fs.collections.text.moved(textSrc);
  touchDir(fs, od);
  touchDir(fs, nd);
}

function reparent(
  fs: Vexfs,
  n: InodeState,
  oldDir: number,
  oldHash: number,
  newDir: number,
  newHash: number,
): void {
  const isDir = (n.d.mode & S_IFMT) === S_IFDIR;
  fs.namespaceVersion++;
  if (
    isDir || n.d.nlink === 1 ||
    (n.d.parentIno === oldDir && n.d.parentHash === oldHash) || !n.d.parentIno
  ) {
    n.d.parentIno = newDir;
    n.d.parentHash = newHash;
  }
  n.d.ctime = nowTimespec();
  fs.dirty(n);
}
