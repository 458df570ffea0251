/**
 * The daemon side of the vector ioctls (docs/IOCTL.md): what `vexfs mount`
 * answers when a program calls `ioctl(fd, VEXFS_IOC_*, &arg)` on a file or
 * directory of the mount. The FUSE `ioctl` op (src/fuse/session.ts) hands
 * over the command, the `_IOC_SIZE` input bytes and the output size of a
 * restricted ioctl (Linux `fs/fuse/ioctl.c`); {@linkcode handleIoctl} runs
 * the command on the engine and returns the output bytes.
 *
 * Checks happen in this order, and a refused call changes nothing:
 * 1. unknown command: `ENOTTY` (what every other filesystem answers);
 * 2. input/output sizes that are not the command's structure: `EINVAL`;
 * 3. the header (magic, version, size, flags, reserved): `EINVAL`;
 * 4. the descriptor's type: `EISDIR` for a vector command on a directory,
 *    `ENOTDIR` for a directory command on a file;
 * 5. `EROFS` for a change on a read-only filesystem;
 * 6. the structure's fields (ioctl limits, zero bytes): `EINVAL`;
 * 7. the engine's own checks (src/fs/vectors.ts): dimension mismatch,
 *    NaN/infinity, values out of range for the element type, nesting of
 *    collections, not in a collection (`EINVAL`), no vector (`ENODATA`)...
 *
 * `SET_VECTORS` names its files by inode number, so it checks each one here
 * (it must be a regular file below the descriptor's directory, which the
 * caller may search down to it and whose file it may write) with the
 * caller's ids the mount passes in ({@linkcode IoctlCaller}); every item
 * is checked before any is set (docs/IOCTL.md §3.10). `INDEX` changes the
 * collection for build, drop and optimize only: those are refused on a
 * read-only filesystem (`EROFS`) and need the caller to be allowed to write
 * the collection's root directory, which it checks with the same ids
 * (docs/IOCTL.md §3.12). `HYBRID` and `TEXT_INDEX` (keyword and hybrid
 * search, the keyword index: ./server_hybrid.ts) check the caller the same
 * way: a search's hits are the files the caller may read, build and drop
 * of the keyword index need write permission on the collection's root
 * (docs/IOCTL.md §3.15, §3.16).
 * @module
 */
import { FsError } from "../errors.ts";
import {
  IFL_HAS_VECTOR,
  IFL_INTERNAL,
  INCOMPAT_RECOVER,
  ROOT_INO,
  S_IFDIR,
  S_IFMT,
  S_IFREG,
} from "../format/constants.ts";
import { dirFindByIno } from "../fs/htree.ts";
import type { Vexfs } from "../fs/fs.ts";
import { mappedEnd } from "../fs/extentmap.ts";
import { slotsPerBlock } from "../format/collection.ts";
import { decodeVector, validateVector } from "../vector/codec.ts";
import { elemSize, MAX_DIM } from "../vector/types.ts";
import {
  checkHeader,
  COMMANDS,
  decodeCollectionInfo,
  decodeCreateCollection,
  decodeDelVector,
  decodeGetVector,
  decodeIndex,
  decodeInoPath,
  decodeListCollections,
  decodeSearch,
  decodeSearch2,
  decodeSetVector,
  decodeSetVectors,
  encodeCollectionInfoReply,
  encodeCreateCollectionReply,
  encodeFsInfo,
  encodeGetVectorReply,
  encodeIndexReply,
  encodeInoPathReply,
  encodeListCollectionsReply,
  encodeSearch2Reply,
  encodeSearchReply,
  ENOTTY,
  errnoFsError,
  exactReasonOf,
  INDEX,
  type IndexReply,
  type IndexRequest,
  IOC_READ,
  IOC_WRITE,
  iocDir,
  iocSize,
  type StructLayout,
  VECTOR_XATTR,
  VEXFS_INDEX_OP_STATS,
  VEXFS_IOC_COLLECTION_INFO,
  VEXFS_IOC_CREATE_COLLECTION,
  VEXFS_IOC_DEL_VECTOR,
  VEXFS_IOC_DROP_COLLECTION,
  VEXFS_IOC_FS_INFO,
  VEXFS_IOC_GET_VECTOR,
  VEXFS_IOC_HYBRID,
  VEXFS_IOC_INDEX,
  VEXFS_IOC_INO_PATH,
  VEXFS_IOC_LIST_COLLECTIONS,
  VEXFS_IOC_LIST_MAX,
  VEXFS_IOC_MAX_DIM,
  VEXFS_IOC_MAX_K,
  VEXFS_IOC_SEARCH,
  VEXFS_IOC_SEARCH2,
  VEXFS_IOC_SET_VECTOR,
  VEXFS_IOC_SET_VECTORS,
  VEXFS_IOC_STATS,
  VEXFS_IOC_TEXT_INDEX,
} from "./abi.ts";
import { decodeDropCollection, encodeDropCollectionReply, encodeStatsReply } from "./abi_admin.ts";
import type { StatsReport } from "../stats/report.ts";
import { type IoctlCaller, permits } from "./server_caller.ts";
import { hybrid, textIndex, textIndexWrites } from "./server_hybrid.ts";

export type { IoctlCaller } from "./server_caller.ts";

/** What a command needs its descriptor to be. */
type Target = "any" | "file" | "dir";

interface Handler {
  name: string;
  layout: StructLayout;
  target: Target;
  /**
   * changes the filesystem (refused with EROFS when read-only); a function
   * of the request (its header already checked) for a command that changes
   * it for some requests only
   */
  writes: boolean | ((inData: Uint8Array) => boolean);
  /** the mount checks that the caller may write the descriptor's file (the command checks its own items otherwise) */
  writesDescriptor: boolean;
  run(fs: Vexfs, ino: number, inData: Uint8Array, caller?: IoctlCaller, context?: IoctlContext): Uint8Array;
}

/**
 * What the server of the ioctls has besides the engine: the mount's
 * counters for `VEXFS_IOC_STATS` (src/stats/report.ts).
 */
export interface IoctlContext {
  /** The counters since the mount; without it `VEXFS_IOC_STATS` is `EOPNOTSUPP`. */
  stats?: () => StatsReport;
}

const enc = new TextEncoder();
const NONE = new Uint8Array(0);

function fsInfo(fs: Vexfs): Uint8Array {
  const sb = fs.sb;
  const st = fs.statfs();
  return encodeFsInfo({
    formatMajor: sb.versionMajor,
    formatMinor: sb.versionMinor,
    blockSize: fs.blockSize,
    blockCount: st.blocks,
    freeBlocks: st.bfree,
    inodeCount: st.files,
    freeInodes: st.ffree,
    collectionCount: fs.collections.list().length,
    maxDim: MAX_DIM,
    iocMaxDim: VEXFS_IOC_MAX_DIM,
    iocMaxK: VEXFS_IOC_MAX_K,
    featureCompat: sb.featureCompat,
    // RECOVER only says that this daemon has the journal open: not a feature of the filesystem.
    featureIncompat: sb.featureIncompat & ~INCOMPAT_RECOVER,
    featureRoCompat: sb.featureRoCompat,
    readOnly: fs.isReadOnly,
    uuid: sb.uuid,
    label: sb.label,
  });
}

function getVector(fs: Vexfs, ino: number, inData: Uint8Array): Uint8Array {
  decodeGetVector(inData);
  const got = fs.collections.getVectorBytes(ino);
  if (!got) throw new FsError("ENODATA", `inode ${ino} has no vector`);
  const info = fs.collections.get(got.collId);
  if (info.dim > VEXFS_IOC_MAX_DIM) {
    throw new FsError(
      "EOVERFLOW",
      `the vector has ${info.dim} elements (collection ${info.id}); at most ${VEXFS_IOC_MAX_DIM} fit in an ioctl, ` +
        `read the ${VECTOR_XATTR} extended attribute instead`,
    );
  }
  return encodeGetVectorReply({
    vector: decodeVector(got.bytes, info.elem, info.dim),
    collectionId: info.id,
    metric: info.metric,
    elem: info.elem,
  });
}

/**
 * The collection a file or directory is in, or 0: a directory's nearest
 * collection root at or above it; a file's vector's collection, else its
 * parent directory's (where a vector set on it would go).
 */
function collectionOf(fs: Vexfs, ino: number): number {
  const n = fs.iget(ino);
  if ((n.d.mode & S_IFMT) === S_IFDIR) return fs.collections.collectionOfDir(ino);
  if (n.d.flags & IFL_HAS_VECTOR) return n.d.collId;
  return n.d.parentIno ? fs.collections.collectionOfDir(n.d.parentIno) : 0;
}

function collectionInfo(fs: Vexfs, ino: number, inData: Uint8Array): Uint8Array {
  decodeCollectionInfo(inData);
  const id = collectionOf(fs, ino);
  if (!id) throw new FsError("ENODATA", `inode ${ino} is not inside a vector collection`);
  return encodeCollectionInfoReply(fs.collections.get(id));
}

function search(fs: Vexfs, ino: number, inData: Uint8Array): Uint8Array {
  const req = decodeSearch(inData);
  // A bigint exclude_ino (above 2^53 - 1) names no inode: nothing to leave out; the reply echoes it exactly.
  const exclude = typeof req.excludeIno === "number" && req.excludeIno ? new Set([req.excludeIno]) : undefined;
  const hits = fs.collections.search(ino, req.query, req.k, { exclude, paths: false });
  const info = fs.collections.get(fs.collections.collectionOfDir(ino));
  return encodeSearchReply(req, {
    hits: hits.map((h) => ({ ino: h.ino, score: h.score })),
    collectionId: info.id,
    generation: info.generation,
    metric: info.metric,
    elem: info.elem,
  });
}

/**
 * `VEXFS_IOC_SEARCH2` (docs/IOCTL.md §3.11): the engine's `searchEx` with
 * the request's `ef` (0: the engine's choice) and exact flag, and how it
 * answered.
 */
function search2(fs: Vexfs, ino: number, inData: Uint8Array): Uint8Array {
  const req = decodeSearch2(inData);
  const exclude = typeof req.excludeIno === "number" && req.excludeIno ? new Set([req.excludeIno]) : undefined;
  const r = fs.collections.searchEx(ino, req.query, req.k, {
    exclude,
    paths: false,
    ...(req.ef ? { ef: req.ef } : {}),
    exact: req.exact,
  });
  const info = fs.collections.get(fs.collections.collectionOfDir(ino));
  return encodeSearch2Reply(req, {
    hits: r.hits.map((h) => ({ ino: h.ino, score: h.score })),
    collectionId: info.id,
    generation: info.generation,
    metric: info.metric,
    elem: info.elem,
    method: r.method,
    ...(r.method.method === "exact" ? { exactReason: exactReasonOf(r.method, info.index !== "hnsw") } : {}),
  });
}

/** Whether an `INDEX` request changes the collection: every op but stats (an unknown op too, refused later). */
function indexWrites(inData: Uint8Array): boolean {
  return new DataView(inData.buffer, inData.byteOffset, inData.byteLength).getUint32(INDEX.off.op, true) !==
    VEXFS_INDEX_OP_STATS;
}

/**
 * `VEXFS_IOC_INDEX` (docs/IOCTL.md §3.12): checks the request, that the
 * directory is in a collection (`ENOENT`) and, for a change, that the
 * caller may write the collection's root directory (`EACCES`; a call
 * without caller ids is trusted: the mount always passes them), then runs
 * the operation on the engine and reports the index.
 */
function index(fs: Vexfs, dir: number, inData: Uint8Array, caller?: IoctlCaller): Uint8Array {
  const req: IndexRequest = decodeIndex(inData);
  const id = fs.collections.collectionOfDir(dir);
  if (!id) throw new FsError("ENOENT", `directory inode ${dir} is not inside a vector collection`);
  const c = fs.collections;
  if (req.op !== "stats" && caller) {
    const root = c.get(id).rootIno;
    if (!permits(caller, root, fs.iget(root).d, 2)) {
      throw new FsError(
        "EACCES",
        `index ${req.op}: uid ${caller.uid} may not write the collection's root directory (inode ${root})`,
      );
    }
  }
  if (req.op === "build") c.buildIndex(dir, { m: req.m, efConstruction: req.efConstruction });
  else if (req.op === "drop") c.dropIndex(dir);
  else if (req.op === "optimize") c.optimizeIndex(dir);
  const stats = c.indexStats(dir);
  const info = c.get(id);
  const reply: IndexReply = {
    ...stats,
    collectionId: id,
    generation: info.generation,
    efSearch: info.efSearch ?? 0,
    dim: info.dim,
    metric: info.metric,
    elem: info.elem,
  };
  return encodeIndexReply(req, reply);
}

/**
 * The name bytes of `target` relative to directory `dir` (which is an
 * ancestor of it), walking parent pointers like `Vexfs.pathOf` does but
 * keeping names as bytes. Only used when a name is not valid UTF-8.
 */
function pathBytes(fs: Vexfs, dir: number, target: number): Uint8Array {
  const names: Uint8Array[] = [];
  for (let cur = target, guard = 0; cur !== dir; guard++) {
    const n = fs.iget(cur);
    const p = n.d.parentIno;
    const e = p && guard < 4096 ? dirFindByIno(fs.dirBlocks(fs.iget(p)), n.d.parentHash, cur) : undefined;
    if (!e) throw new FsError("ENOENT", `inode ${target}: cannot name it below inode ${dir}`);
    names.push(e.name);
    cur = p;
  }
  names.reverse();
  const out = new Uint8Array(names.reduce((a, x) => a + x.length + 1, -1));
  let at = 0;
  for (const x of names) {
    if (at) out[at++] = 0x2f;
    out.set(x, at);
    at += x.length;
  }
  return out;
}

/**
 * Whether inode `ino` can have a path: the root, or an inode in use from
 * the superblock's `first_ino` on that is linked in a directory and not
 * internal. The reserved inodes (1, the collection table 3, the journal 4,
 * 5..first_ino-1), internal files (flag INTERNAL, in no directory) and
 * unlinked inodes have none. Reserved inodes are not read: an unused one
 * need not hold a valid inode record, and fsck, not a path lookup, judges
 * them.
 */
function hasPath(fs: Vexfs, ino: number): boolean {
  if (ino === ROOT_INO) return true;
  if (!Number.isSafeInteger(ino) || ino < fs.sb.firstIno || ino > fs.sb.inodeCount) return false;
  let flags: number, nlink: number;
  try {
    ({ flags, nlink } = fs.iget(ino).d);
  } catch (e) {
    if (e instanceof FsError && e.code === "ENOENT") return false; // not in use
    throw e;
  }
  return (flags & IFL_INTERNAL) === 0 && nlink > 0;
}

function inoPath(fs: Vexfs, dir: number, inData: Uint8Array): Uint8Array {
  const target = decodeInoPath(inData); // a bigint (above 2^53 - 1) names no inode
  if (target === dir) return encodeInoPathReply(target, enc.encode("."));
  if (typeof target !== "number" || !hasPath(fs, target)) {
    throw new FsError(
      "ENOENT",
      `inode ${target} has no path: it is not in use, reserved (below ${fs.sb.firstIno}), internal or unlinked`,
    );
  }
  const below = () => new FsError("ENOENT", `inode ${target} is not below directory inode ${dir}`);
  let abs: string;
  try {
    abs = fs.pathOf(target);
  } catch (e) {
    if (e instanceof FsError && e.code === "ENOENT") throw below();
    throw e;
  }
  const base = dir === ROOT_INO ? "" : fs.pathOf(dir);
  if (!abs.startsWith(base + "/")) throw below();
  const rel = abs.slice(base.length + 1);
  // pathOf decodes names as UTF-8; a name that is not valid UTF-8 needs its raw bytes.
  const bytes = rel.includes("\uFFFD") ? pathBytes(fs, dir, target) : enc.encode(rel);
  return encodeInoPathReply(target, bytes);
}

function listCollections(fs: Vexfs, _ino: number, inData: Uint8Array): Uint8Array {
  const start = decodeListCollections(inData);
  const all = fs.collections.list(); // ascending id
  const from = all.filter((c) => c.id >= start);
  const page = from.slice(0, VEXFS_IOC_LIST_MAX);
  const nextId = from.length > page.length ? from[page.length].id : 0;
  return encodeListCollectionsReply(start, { collections: page, nextId, total: all.length });
}

function handler(
  cmd: number,
  target: Target,
  writes: Handler["writes"],
  run: Handler["run"],
  writesDescriptor = writes === true,
): [number, Handler] {
  const c = COMMANDS.find((x) => x.cmd === cmd)!;
  return [cmd, { name: c.name, layout: c.layout, target, writes, writesDescriptor, run }];
}

function setVector(fs: Vexfs, ino: number, inData: Uint8Array): Uint8Array {
  fs.collections.setVector(ino, decodeSetVector(inData));
  return NONE;
}

/**
 * The checks of one `SET_VECTORS` call that depend on directories: whether
 * a directory is below the call's directory (by parent pointers) and the
 * caller may search it and every directory up to the call's, memoised.
 */
class BelowCheck {
  #ok = new Map<number, FsError | null>();
  constructor(readonly fs: Vexfs, readonly dir: number, readonly caller: IoctlCaller) {}

  /**
   * Throws ENOENT when directory `p` (a file's parent) is not below the
   * call's directory, else EACCES when the caller may not search a
   * directory from the call's down to `p`.
   */
  check(p: number, what: string): void {
    const chain: number[] = [];
    let cur = p;
    let verdict: FsError | null | undefined;
    for (let guard = 0; verdict === undefined; guard++) {
      const known = this.#ok.get(cur);
      if (known !== undefined) {
        verdict = known;
        break;
      }
      chain.push(cur);
      const parent = this.fs.iget(cur).d.parentIno;
      if (cur === this.dir) verdict = null;
      else if (cur === ROOT_INO || !parent || guard >= 4096) {
        verdict = new FsError("ENOENT", `${what} is not below directory inode ${this.dir}`);
      } else cur = parent;
    }
    // top down: a directory's verdict is the first one on the way from the call's directory that may not be searched
    for (let i = chain.length - 1; i >= 0; i--) {
      if (verdict === null && !permits(this.caller, chain[i], this.fs.iget(chain[i]).d, 1)) {
        verdict = new FsError("EACCES", `${what}: uid ${this.caller.uid} may not search directory inode ${chain[i]}`);
      }
      this.#ok.set(chain[i], verdict);
    }
    if (verdict) throw new FsError(verdict.code, verdict.detail.replace(/^item \d+ \(inode \d+\)/, what));
  }
}

/**
 * `VEXFS_IOC_SET_VECTORS` (docs/IOCTL.md §3.10): every item is checked
 * first (inode in use and linked, a regular file below `dir`, the caller's
 * permissions, its collection's dimension, its values, room for all the
 * new vectors), then all are set in one engine operation, or with
 * `VEXFS_IOC_BATCH_CHECK` none.
 */
function setVectors(fs: Vexfs, dir: number, inData: Uint8Array, caller?: IoctlCaller): Uint8Array {
  const req = decodeSetVectors(inData);
  if (!caller) throw new FsError("EPERM", "SET_VECTORS: the caller's ids are unknown, so no item can be checked");
  const below = new BelowCheck(fs, dir, caller);
  const items: { ino: number; vector: Float32Array }[] = [];
  /** collection id → new distinct files (their vectors take new slots) */
  const grow = new Map<number, Set<number>>();
  req.items.forEach((it, i) => {
    const what = `item ${i} (inode ${it.ino})`;
    const ino = it.ino;
    if (typeof ino !== "number" || !hasPath(fs, ino) || ino === ROOT_INO) {
      throw new FsError("ENOENT", `${what}: not in use, reserved, internal or unlinked`);
    }
    const n = fs.iget(ino);
    if ((n.d.mode & S_IFMT) !== S_IFREG) throw new FsError("EINVAL", `${what}: not a regular file`);
    below.check(n.d.parentIno, what);
    if (!permits(caller, ino, n.d, 2)) throw new FsError("EACCES", `${what}: uid ${caller.uid} may not write it`);
    let id: number;
    try {
      id = fs.collections.collectionForFile(ino);
      const info = fs.collections.get(id);
      if (info.dim !== req.dim) {
        throw new FsError("EINVAL", `vector has ${req.dim} elements but collection ${id} has dimension ${info.dim}`);
      }
      validateVector(it.vector, info.elem);
    } catch (e) {
      if (e instanceof FsError) throw new FsError(e.code, `${what}: ${e.detail}`);
      throw e;
    }
    if (!(n.d.flags & IFL_HAS_VECTOR)) {
      if (!grow.has(id)) grow.set(id, new Set());
      grow.get(id)!.add(ino);
    }
    items.push({ ino, vector: it.vector });
  });
  checkRoom(fs, grow);
  if (req.check) return NONE;
  fs.collections.setVectors(items);
  return NONE;
}

/**
 * Refuses with ENOSPC, before anything is set, when the new slots of each
 * collection do not fit: the blocks its store, slot map and norms grow by
 * past what they already map (their preallocation), plus a few extent tree
 * blocks, against what the allocator may hand out.
 */
function checkRoom(fs: Vexfs, grow: Map<number, Set<number>>): void {
  const bs = fs.blockSize;
  let need = 0;
  for (const [id, files] of grow) {
    const rec = fs.collections.record(id)!;
    const count = rec.count + files.size;
    const stride = rec.dim * elemSize(fs.collections.get(id).elem);
    const per = slotsPerBlock(bs);
    const files3: [number, number][] = [
      [rec.vecIno, Math.ceil((count * stride) / bs)],
      [rec.mapIno, Math.ceil(count / per)],
      [rec.normIno, Math.ceil((count * 4) / bs)],
    ];
    for (const [ino, blocks] of files3) {
      if (!ino) continue;
      need += Math.max(0, blocks - mappedEnd(fs.extents(fs.iget(ino)))) + 2;
    }
  }
  if (need && need + 1 > fs.blockMap.available) {
    throw new FsError(
      "ENOSPC",
      `SET_VECTORS: the new vectors need about ${need} blocks, ${fs.blockMap.available} are free`,
    );
  }
}

function deleteVector(fs: Vexfs, ino: number, inData: Uint8Array): Uint8Array {
  decodeDelVector(inData);
  if (!fs.collections.deleteVector(ino)) throw new FsError("ENODATA", `inode ${ino} has no vector`);
  return NONE;
}

function createCollection(fs: Vexfs, ino: number, inData: Uint8Array): Uint8Array {
  const p = decodeCreateCollection(inData);
  return encodeCreateCollectionReply(p, fs.collections.create(ino, p));
}

/**
 * `VEXFS_IOC_STATS` (docs/IOCTL.md §3.13): the counters the mount keeps.
 * @throws FsError EOPNOTSUPP when the server keeps none
 */
function stats(_fs: Vexfs, _ino: number, _in: Uint8Array, _caller?: IoctlCaller, context?: IoctlContext): Uint8Array {
  if (!context?.stats) throw new FsError("EOPNOTSUPP", "VEXFS_IOC_STATS: this server keeps no counters");
  return encodeStatsReply(context.stats());
}

/**
 * `VEXFS_IOC_DROP_COLLECTION` (docs/IOCTL.md §3.14): the descriptor must be
 * a collection's root directory; the collection, its vectors and its store
 * files go (`Collections.dropCollection`, as the offline `vexfs collection
 * drop`), the directory and its files stay.
 * @throws FsError ENODATA (not in a collection), EINVAL (inside one but not its root)
 */
function dropCollection(fs: Vexfs, ino: number, inData: Uint8Array): Uint8Array {
  decodeDropCollection(inData);
  const id = fs.collections.collectionOfDir(ino);
  if (!id) throw new FsError("ENODATA", `inode ${ino} is not inside a vector collection`);
  const info = fs.collections.get(id);
  if (info.rootIno !== ino) {
    throw new FsError(
      "EINVAL",
      `inode ${ino} is inside collection ${id} but is not its root (inode ${info.rootIno}); drop it from its root`,
    );
  }
  fs.collections.dropCollection(id);
  return encodeDropCollectionReply({ collectionId: id, vectors: info.count, rootIno: ino });
}

const HANDLERS = new Map<number, Handler>([
  handler(VEXFS_IOC_FS_INFO, "any", false, (fs) => fsInfo(fs)),
  handler(VEXFS_IOC_SET_VECTOR, "file", true, setVector),
  handler(VEXFS_IOC_GET_VECTOR, "file", false, getVector),
  handler(VEXFS_IOC_DEL_VECTOR, "file", true, deleteVector),
  handler(VEXFS_IOC_CREATE_COLLECTION, "dir", true, createCollection),
  handler(VEXFS_IOC_COLLECTION_INFO, "any", false, collectionInfo),
  handler(VEXFS_IOC_SEARCH, "dir", false, search),
  handler(VEXFS_IOC_INO_PATH, "dir", false, inoPath),
  handler(VEXFS_IOC_LIST_COLLECTIONS, "any", false, listCollections),
  handler(VEXFS_IOC_SET_VECTORS, "dir", true, setVectors, false),
  handler(VEXFS_IOC_SEARCH2, "dir", false, search2),
  handler(VEXFS_IOC_INDEX, "dir", indexWrites, index, false),
  handler(VEXFS_IOC_STATS, "any", false, stats),
  handler(VEXFS_IOC_DROP_COLLECTION, "dir", true, dropCollection),
  handler(VEXFS_IOC_HYBRID, "dir", false, hybrid),
  handler(VEXFS_IOC_TEXT_INDEX, "dir", textIndexWrites, textIndex, false),
]);

function checkTarget(fs: Vexfs, ino: number, h: Handler): void {
  if (h.target === "any") return;
  const type = fs.getattr(ino).mode & S_IFMT;
  if (h.target === "dir" && type !== S_IFDIR) {
    throw new FsError("ENOTDIR", `${h.name} needs a directory; inode ${ino} is not one`);
  }
  if (h.target === "file" && type === S_IFDIR) {
    throw new FsError("EISDIR", `${h.name} needs a regular file; inode ${ino} is a directory`);
  }
  if (h.target === "file" && type !== S_IFREG) {
    throw new FsError("EINVAL", `${h.name} needs a regular file; inode ${ino} is not one`);
  }
}

/**
 * Whether command `cmd` with request `inData` changes the filesystem
 * (`SET_VECTOR`, `DEL_VECTOR`, `CREATE_COLLECTION`, `SET_VECTORS`, and
 * `INDEX` for build, drop and optimize, not stats): the mount refuses these
 * with EROFS while read-only and arms its commit timer after them. Without
 * `inData`, or with one too short to say, a command that changes the
 * filesystem for some requests counts as changing it.
 * @returns false for read-only and unknown commands
 */
export function ioctlChangesFs(cmd: number, inData?: Uint8Array): boolean {
  const w = HANDLERS.get(cmd >>> 0)?.writes ?? false;
  if (typeof w !== "function") return w;
  if (!inData) return true;
  try {
    return w(inData);
  } catch {
    return true; // a malformed request: handleIoctl refuses it with EINVAL
  }
}

/**
 * Whether the caller of command `cmd` must be allowed to write the
 * descriptor's file or directory (`SET_VECTOR`, `DEL_VECTOR`,
 * `CREATE_COLLECTION`): {@linkcode handleIoctl} does not check that, so the
 * mount does before it calls it, as for a `setxattr` of
 * `user.vexfs.vector`. `SET_VECTORS` checks each of its items itself with
 * the {@linkcode IoctlCaller} the mount passes instead.
 * @returns false for every other command
 */
export function ioctlWritesDescriptor(cmd: number): boolean {
  return HANDLERS.get(cmd >>> 0)?.writesDescriptor ?? false;
}

/**
 * Serves one vector ioctl (docs/IOCTL.md) on the engine.
 *
 * @param fs the mounted engine
 * @param ino engine inode of the open file or directory (FUSE root id
 *   already mapped to `ROOT_INO`)
 * @param cmd the 32-bit command number (`VEXFS_IOC_*` of abi.ts)
 * @param inData the `_IOC_SIZE(cmd)` bytes copied in for `_IOW`/`_IOWR`
 *   commands; empty for `_IOR`
 * @param outSize bytes the caller expects back: `_IOC_SIZE(cmd)` for
 *   `_IOR`/`_IOWR`, 0 for `_IOW`
 * @returns exactly `outSize` bytes: the command's structure, or nothing
 * @throws FsError, changing nothing: `ENOTTY` (unknown command), `EINVAL`
 *   (sizes, header, fields, engine refusals such as a dimension mismatch,
 *   NaN/infinity, directory not in a collection for SET_VECTOR/SEARCH/SEARCH2,
 *   bad ef or flags of SEARCH2, bad op, M or efConstruction of INDEX),
 *   `EISDIR`/`ENOTDIR` (wrong descriptor type), `EROFS`, `ENODATA` (no
 *   vector; COLLECTION_INFO outside any collection), `EOVERFLOW`
 *   (GET_VECTOR of a vector wider than 2048), `ENOENT`/`ENAMETOOLONG`
 *   (INO_PATH, SET_VECTORS; INDEX outside any collection), `EACCES`
 *   (SET_VECTORS, INDEX), `EPERM` (SET_VECTORS without a caller),
 *   `ENOSPC`, `EUCLEAN` (corruption found); `STATS` without counters
 *   `EOPNOTSUPP`; `DROP_COLLECTION` `ENODATA` outside a collection, `EINVAL`
 *   on a directory inside one that is not its root; `HYBRID` and
 *   `TEXT_INDEX` `EINVAL` (fields, not in a collection), `ENODATA` (no
 *   keyword index), `EACCES` (TEXT_INDEX build or drop)
 * @param caller who calls (from the FUSE request): `SET_VECTORS` checks each
 *   item's permissions with it and is refused (`EPERM`) without it; `INDEX`
 *   checks a change's permission with it (and trusts a call without it)
 * @param context the mount's counters (`STATS` is `EOPNOTSUPP` without them)
 */
export function handleIoctl(
  fs: Vexfs,
  ino: number,
  cmd: number,
  inData: Uint8Array,
  outSize: number,
  caller?: IoctlCaller,
  context?: IoctlContext,
): Uint8Array {
  const c = cmd >>> 0;
  const h = HANDLERS.get(c);
  if (!h) {
    throw errnoFsError(ENOTTY, `ioctl 0x${c.toString(16).padStart(8, "0")} is not a VexFS command`);
  }
  const size = iocSize(c);
  const dir = iocDir(c);
  const wantIn = dir & IOC_WRITE ? size : 0;
  const wantOut = dir & IOC_READ ? size : 0;
  if (inData.length !== wantIn) {
    throw new FsError("EINVAL", `${h.name}: ${inData.length} input bytes, ${wantIn} expected`);
  }
  if (outSize !== wantOut) {
    throw new FsError("EINVAL", `${h.name}: ${outSize} output bytes asked for, ${wantOut} expected`);
  }
  if (wantIn) checkHeader(inData, h.layout);
  checkTarget(fs, ino, h);
  const writes = typeof h.writes === "function" ? h.writes(inData) : h.writes;
  if (writes && fs.readOnly) throw new FsError("EROFS", `${h.name}: the filesystem is read-only`);
  const out = h.run(fs, ino, inData, caller, context);
  if (out.length !== outSize) throw new Error(`${h.name} produced ${out.length} bytes, ${outSize} expected`);
  return out;
}
