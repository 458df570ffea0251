/**
 * The search commands of the ioctl client: SEARCH, SEARCH2 (with the
 * method's knobs and the fallback to SEARCH on an older daemon), hits with
 * paths through INO_PATH, {@linkcode DirSearcher} for many queries on one
 * descriptor, and INDEX (docs/IOCTL.md §3.7, §3.11, §3.12).
 * @module
 */
import { ERRNO, FsError } from "../errors.ts";
import type { SearchHit, SearchMethod } from "../fs/vectors.ts";
import {
  decodeIndexReply,
  decodeInoPathReply,
  decodeSearch2Reply,
  decodeSearchReply,
  encodeIndex,
  encodeInoPath,
  encodeSearch,
  encodeSearch2,
  ENOTTY,
  errnoFsError,
  type IndexReply,
  type IndexRequest,
  iocSize,
  type IoctlHit,
  type Search2Reply,
  type U64,
  VEXFS_IOC_FS_INFO,
  VEXFS_IOC_INDEX,
  VEXFS_IOC_INO_PATH,
  VEXFS_IOC_MAX_DIM,
  VEXFS_IOC_MAX_EF,
  VEXFS_IOC_MAX_K,
  VEXFS_IOC_SEARCH,
  VEXFS_IOC_SEARCH2,
} from "./abi.ts";
import { ioctl, openPath, system, withFd } from "./client_sys.ts";
import { commonError, explainVector, generic, infoFor, notInCollection, rootName } from "./client_errors.ts";

/** Options of {@linkcode search} and {@linkcode searchWithPaths}. */
export interface IoctlSearchOptions {
  /** inode to leave out of the results (e.g. the query's own file); any u64 (a bigint above 2^53 - 1) */
  excludeIno?: U64;
}

async function searchFd(
  fd: number,
  dir: string,
  query: Float32Array,
  k: number,
  opts: IoctlSearchOptions,
): Promise<IoctlHit[]> {
  const what = "search";
  const buf = encodeSearch({ k, query, excludeIno: opts.excludeIno ?? 0 });
  const r = await ioctl(fd, VEXFS_IOC_SEARCH, buf);
  if (r >= 0) return decodeSearchReply(buf).hits;
  const e = -r;
  const common = commonError(e, dir, what);
  if (common) throw common;
  if (e === ERRNO.ENOTDIR) {
    throw errnoFsError(e, `${dir} is not a directory; search a directory (the collection root or one below it)`);
  }
  if (e === ERRNO.EINVAL) throw errnoFsError(e, await explainVector(fd, dir, query, "query"));
  throw generic(e, dir, what);
}

function checkSearchArgs(query: Float32Array, k: number): void {
  if (!Number.isInteger(k) || k < 1 || k > VEXFS_IOC_MAX_K) {
    throw new FsError(
      "EINVAL",
      `k = ${k} is out of range (1..${VEXFS_IOC_MAX_K} on a mounted VexFS; search the unmounted image for more)`,
    );
  }
  if (query.length < 1 || query.length > VEXFS_IOC_MAX_DIM) {
    throw new FsError(
      "EINVAL",
      `query has ${query.length} elements; 1..${VEXFS_IOC_MAX_DIM} go through an ioctl ` +
        `(search the unmounted image for wider collections)`,
    );
  }
}

/**
 * Exact top-k search of the files below directory `dir` ({@linkcode VEXFS_IOC_SEARCH}).
 * @param dir the collection root or any directory below it (only that subtree is searched)
 * @param query Float32Array of length dim of the collection (≤ 2048), finite
 * @param k 1..256
 * @returns hits, best first; scores per FORMAT.md §8.4 (l2: distance,
 *   lower is nearer; cosine, ip: similarity, higher is nearer), rounded to f32
 * @throws FsError EINVAL (k, length, NaN, not in a collection: the message
 *   says which), ENOTDIR, ENOTTY (not VexFS), ENOENT
 */
export async function search(
  dir: string,
  query: Float32Array,
  k: number,
  opts: IoctlSearchOptions = {},
): Promise<IoctlHit[]> {
  checkSearchArgs(query, k);
  return await withFd(dir, (fd) => searchFd(fd, dir, query, k, opts));
}

/**
 * The path of inode `ino` relative to `dir` on open descriptor `fd` (`INO_PATH`), or null when it has none
 * any more (deleted since the search).
 * @throws FsError as {@linkcode inoPath}
 */
export async function inoPathFd(fd: number, dir: string, ino: U64): Promise<string | null> {
  const buf = encodeInoPath(ino);
  const r = await ioctl(fd, VEXFS_IOC_INO_PATH, buf);
  if (r >= 0) return decodeInoPathReply(buf);
  const e = -r;
  if (e === ERRNO.ENOENT) return null;
  const what = `name inode ${ino}`;
  const common = commonError(e, dir, what);
  if (common) throw common;
  if (e === ERRNO.ENOTDIR) throw errnoFsError(e, `${dir} is not a directory; inodes are named relative to a directory`);
  if (e === ERRNO.ENAMETOOLONG) {
    throw errnoFsError(
      e,
      `the path of inode ${ino} below ${dir} is longer than 4095 bytes; name it from a deeper directory`,
    );
  }
  throw generic(e, dir, what);
}

/**
 * The path of inode `ino` relative to directory `dir` ({@linkcode VEXFS_IOC_INO_PATH}),
 * e.g. to name search hits; `"."` for `dir` itself.
 * @throws FsError ENOENT (the inode is not below `dir`, or no longer exists),
 *   ENAMETOOLONG (over 4095 bytes), ENOTDIR, ENOTTY (not VexFS)
 */
export async function inoPath(dir: string, ino: U64): Promise<string> {
  return await withFd(dir, async (fd) => {
    const p = await inoPathFd(fd, dir, ino);
    if (p === null) {
      throw new FsError("ENOENT", `inode ${ino} is not below ${dir} (it was deleted, or lives elsewhere)`);
    }
    return p;
  });
}

/**
 * {@linkcode search} plus {@linkcode inoPath} for every hit, on one open
 * descriptor: hits shaped like the engine's `Collections.search`. A hit
 * deleted between the search and its naming is left out.
 * @returns hits, best first, with paths relative to `dir`
 * @throws FsError as {@linkcode search} and {@linkcode inoPath}
 */
export async function searchWithPaths(
  dir: string,
  query: Float32Array,
  k: number,
  opts: IoctlSearchOptions = {},
): Promise<SearchHit[]> {
  checkSearchArgs(query, k);
  return await withFd(dir, async (fd) => {
    const out: SearchHit[] = [];
    for (const h of await searchFd(fd, dir, query, k, opts)) {
      const path = await inoPathFd(fd, dir, h.ino);
      if (path !== null) out.push({ ino: h.ino, score: h.score, path });
    }
    return out;
  });
}

// ------------------------------------------------------------ SEARCH2 and INDEX

/** Options of {@linkcode search2} and {@linkcode searchExWithPaths}. */
export interface IoctlSearch2Options extends IoctlSearchOptions {
  /**
   * HNSW search breadth, 1..65535: search the graph with it even where the
   * collection is small enough to scan; absent (or 0): the collection's
   * `ef_search`, and the engine's choice of method
   */
  ef?: number;
  /** scan every vector exactly whatever the collection's index (excludes `ef`) */
  exact?: boolean;
}

/** What {@linkcode searchExWithPaths} returns: hits shaped as the engine's, and how they were found. */
export interface SearchExResult {
  /** best first, with paths relative to the directory */
  hits: SearchHit[];
  /** the engine's method (`"unknown"` from a daemon older than `SEARCH2`, which cannot say) */
  method: SearchMethod;
}

function checkSearch2Args(query: Float32Array, k: number, opts: IoctlSearch2Options): void {
  checkSearchArgs(query, k);
  const ef = opts.ef ?? 0;
  if (!Number.isInteger(ef) || ef < 0 || ef > VEXFS_IOC_MAX_EF) {
    throw new FsError("EINVAL", `ef = ${opts.ef} is out of range (1..${VEXFS_IOC_MAX_EF})`);
  }
  if (opts.exact && ef) {
    throw new FsError("EINVAL", "ef and an exact scan contradict each other (ef is the breadth of a graph search)");
  }
}

/** Whether the filesystem of `fd` is VexFS (it answers FS_INFO): an ENOTTY then means "a daemon older than this command". */
export async function isVexfs(fd: number): Promise<boolean> {
  return (await ioctl(fd, VEXFS_IOC_FS_INFO, new Uint8Array(iocSize(VEXFS_IOC_FS_INFO)))) >= 0;
}

/** The error of a refused `SEARCH2`; ENOTTY from a VexFS daemon older than it is `null` (the caller may fall back). */
async function search2Error(
  fd: number,
  dir: string,
  query: Float32Array,
  errno: number,
): Promise<FsError | null> {
  if (errno === ENOTTY && (await isVexfs(fd))) return null;
  const common = commonError(errno, dir, "search");
  if (common) return common;
  if (errno === ERRNO.ENOTDIR) {
    return errnoFsError(errno, `${dir} is not a directory; search a directory (the collection root or one below it)`);
  }
  if (errno === ERRNO.EINVAL) return errnoFsError(errno, await explainVector(fd, dir, query, "query"));
  return generic(errno, dir, "search");
}

function olderThanSearch2(dir: string): FsError {
  return errnoFsError(
    ENOTTY,
    `${dir}: the VexFS serving this mount is older than VEXFS_IOC_SEARCH2, so it cannot search with --ef or ` +
      `--exact; remount it with this vexfs, or search the unmounted image`,
  );
}

/** The checked {@linkcode VEXFS_IOC_SEARCH2} request for `query`, `k` and `opts` (ef 0: the engine's choice). */
function search2Request(query: Float32Array, k: number, opts: IoctlSearch2Options): Uint8Array {
  checkSearch2Args(query, k, opts);
  return encodeSearch2({
    k,
    query,
    excludeIno: opts.excludeIno ?? 0,
    ef: opts.ef ?? 0,
    exact: opts.exact ?? false,
  });
}

/**
 * Top-k search of the files below directory `dir` with a chosen method
 * ({@linkcode VEXFS_IOC_SEARCH2}, docs/IOCTL.md §3.11), saying how it was
 * answered.
 * @param dir the collection root or any directory below it (only that subtree is searched)
 * @param query Float32Array of length dim of the collection (≤ 2048), finite
 * @param k 1..256
 * @returns hits (inode numbers, best first, scores rounded to f32), the
 *   collection's id, generation, metric and element type, the method (HNSW
 *   with the ef used, or an exact scan and why)
 * @throws FsError EINVAL (k, length, ef out of 1..65535, ef with exact,
 *   NaN, not in a collection: the message says which), ENOTDIR, ENOTTY (not
 *   VexFS, or a daemon older than SEARCH2: the message says which), ENOENT
 */
export async function search2(
  dir: string,
  query: Float32Array,
  k: number,
  opts: IoctlSearch2Options = {},
): Promise<Search2Reply> {
  const buf = search2Request(query, k, opts);
  return await withFd(dir, async (fd) => {
    const r = await ioctl(fd, VEXFS_IOC_SEARCH2, buf);
    if (r >= 0) return decodeSearch2Reply(buf);
    throw (await search2Error(fd, dir, query, -r)) ?? olderThanSearch2(dir);
  });
}

/**
 * A directory of a mounted VexFS held open for many searches: each
 * {@linkcode DirSearcher.search} is one {@linkcode VEXFS_IOC_SEARCH2} on the
 * same descriptor, without the open and close that {@linkcode search2} pays
 * per call (what a service answering queries, or `vexfs bench vectors`, does).
 *
 * @example
 * ```ts
 * const s = await DirSearcher.open("/mnt/vexfs/docs");
 * try {
 *   const r = await s.search(new Float32Array(384), 10, { ef: 64 });
 *   console.log(r.method, r.hits.map((h) => h.ino));
 * } finally {
 *   await s.close();
 * }
 * ```
 */
export class DirSearcher {
  /** the directory searched */
  readonly dir: string;
  #fd: number;
  #closed = false;

  private constructor(dir: string, fd: number) {
    this.dir = dir;
    this.#fd = fd;
  }

  /**
   * Opens directory `dir` (read-only).
   * @throws FsError ENOENT, EACCES... when it cannot be opened
   */
  static async open(dir: string): Promise<DirSearcher> {
    return new DirSearcher(dir, await openPath(dir));
  }

  /**
   * Top-k search below the directory, as {@linkcode search2}.
   * @param query Float32Array of the collection's dimension (1..2048, finite)
   * @param k 1..256
   * @throws FsError EBADF once closed; otherwise as {@linkcode search2}
   */
  async search(query: Float32Array, k: number, opts: IoctlSearch2Options = {}): Promise<Search2Reply> {
    if (this.#closed) throw new FsError("EBADF", `${this.dir}: the searcher is closed`);
    const buf = search2Request(query, k, opts);
    const r = await ioctl(this.#fd, VEXFS_IOC_SEARCH2, buf);
    if (r >= 0) return decodeSearch2Reply(buf);
    throw (await search2Error(this.#fd, this.dir, query, -r)) ?? olderThanSearch2(this.dir);
  }

  /** Closes the directory. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await system().close(this.#fd);
  }
}

/**
 * {@linkcode search2} plus {@linkcode inoPath} for every hit, on one open
 * descriptor: the engine's `Collections.searchEx` through the mount. A
 * daemon older than `SEARCH2` is asked with `SEARCH` instead when neither
 * `ef` nor `exact` is given (the method is then `"unknown"`). A hit deleted
 * between the search and its naming is left out.
 * @returns hits, best first, with paths relative to `dir`, and the method
 * @throws FsError as {@linkcode search2} and {@linkcode inoPath}
 */
export async function searchExWithPaths(
  dir: string,
  query: Float32Array,
  k: number,
  opts: IoctlSearch2Options = {},
): Promise<SearchExResult> {
  const buf = search2Request(query, k, opts);
  return await withFd(dir, async (fd) => {
    const r = await ioctl(fd, VEXFS_IOC_SEARCH2, buf);
    let found: IoctlHit[];
    let method: SearchMethod;
    if (r >= 0) {
      const reply = decodeSearch2Reply(buf);
      found = reply.hits;
      method = reply.method;
    } else {
      const err = await search2Error(fd, dir, query, -r);
      if (err) throw err;
      if (opts.ef || opts.exact) throw olderThanSearch2(dir);
      found = await searchFd(fd, dir, query, k, opts);
      method = { method: "unknown" };
    }
    const hits: SearchHit[] = [];
    for (const h of found) {
      const path = await inoPathFd(fd, dir, h.ino);
      if (path !== null) hits.push({ ino: h.ino, score: h.score, path });
    }
    return { hits, method };
  });
}

/**
 * One operation on the HNSW index of the collection that contains
 * directory `dir` ({@linkcode VEXFS_IOC_INDEX}, docs/IOCTL.md §3.12):
 * build it (from scratch, with M and efConstruction), drop it, optimize it,
 * or only report it.
 * @param req the operation; `m` (2..128) and `efConstruction` (M..4096)
 *   for build only, absent: the collection's (else 16 and 200)
 * @returns the index's figures after the operation (the engine's
 *   `IndexStats` plus the collection's id, generation, ef_search, dim,
 *   metric and element type)
 * @throws FsError ENOENT (`dir` is not inside a collection, or does not
 *   exist), EINVAL (M or efConstruction out of range, optimize of a flat
 *   collection: the message says which), EACCES (may not write the
 *   collection's root), EROFS (a change on a read-only mount), ENOSPC,
 *   ENOTDIR, ENOTTY (not VexFS, or a daemon older than INDEX: the message
 *   says which)
 */
export async function index(dir: string, req: IndexRequest): Promise<IndexReply> {
  const what = req.op === "stats" ? "read the index figures" : `${req.op} the index`;
  const buf = encodeIndex(req);
  return await withFd(dir, async (fd) => {
    const r = await ioctl(fd, VEXFS_IOC_INDEX, buf);
    if (r >= 0) return decodeIndexReply(buf);
    const e = -r;
    if (e === ENOTTY && (await isVexfs(fd))) {
      throw errnoFsError(
        e,
        `${dir}: the VexFS serving this mount is older than VEXFS_IOC_INDEX; remount it with this vexfs, or run ` +
          `'vexfs index ${req.op}' on the unmounted image`,
      );
    }
    const common = commonError(e, dir, what);
    if (common) throw common;
    if (e === ERRNO.ENOENT) throw errnoFsError(e, notInCollection(dir));
    if (e === ERRNO.ENOTDIR) {
      throw errnoFsError(e, `${dir} is not a directory; give the collection root or a directory below it`);
    }
    if (e === ERRNO.EINVAL) {
      const info = await infoFor(fd);
      if (req.op === "optimize" && info && info.index !== "hnsw") {
        throw errnoFsError(
          e,
          `the collection at ${await rootName(dir, info)} has no HNSW index to optimize; build one`,
        );
      }
      if (req.op === "build") {
        const m = req.m || info?.m || 16;
        const efc = req.efConstruction || info?.efConstruction || 200;
        if (m < 2 || m > 128) throw errnoFsError(e, `M = ${m} is out of range (2..128)`);
        if (efc < m || efc > 4096) throw errnoFsError(e, `efConstruction = ${efc} is out of range (M = ${m}..4096)`);
      }
    }
    throw generic(e, dir, what);
  });
}
