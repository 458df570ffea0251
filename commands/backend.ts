/**
 * How the vector and import commands reach a filesystem: the
 * {@link OfflineBackend} opens an unmounted image or device directly with the
 * engine ({@link Vexfs.open}); the mounted backend (commands/mounted.ts:
 * files through the host kernel, vectors through the VexFS ioctls) serves a
 * path on a mounted VexFS. Both implement {@link FsBackend};
 * {@link withTarget} picks one from the command's arguments.
 * @module
 */
import { FsError } from "../src/errors.ts";
import { IFL_COLL_ROOT, IFL_HAS_VECTOR, S_IFDIR, S_IFMT, S_IFREG } from "../src/format/constants.ts";
import { COLL_INDEX_BM25 } from "../src/format/collection.ts";
import { Vexfs } from "../src/fs/fs.ts";
import type { CollectionInfo, CollectionParams, IndexStats, SearchHit, SearchMethod } from "../src/fs/vectors.ts";
import { dirname, resolve } from "node:path";
import type { TextIndexParams, TextIndexStats } from "../src/fs/text_index_types.ts";
import { type HybridHit, type HybridMethod, searchHybrid } from "../src/search/hybrid.ts";
import type { Where } from "../src/search/where.ts";
import { MountedBackend } from "./mounted.ts";
import { CliError, fsPath } from "./util.ts";

/** A collection with the path of its root directory. */
export interface CollectionView extends CollectionInfo {
  /** absolute path of the collection root inside the filesystem */
  path: string;
}

/** What `vexfs ls` and `stat` need to know about one file. */
export interface FileInfo {
  path: string;
  ino: number;
  /** "file", "dir", "symlink", "fifo", "char", "block", "socket" */
  type: string;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  /** modification time, ms since the epoch */
  mtime: number;
  hasVector: boolean;
  /** id of the collection rooted at this directory, or 0 */
  collectionRoot: number;
}

/** How a search runs: files to leave out, the HNSW breadth, or an exact scan. */
export interface SearchFlags {
  exclude?: string[];
  /** HNSW ef (default: the collection's, else max(k, 64)) */
  ef?: number;
  /** scan exactly even when the collection has a graph */
  exact?: boolean;
  /** only files whose xattrs pass this filter (`--where`, src/search/where.ts) */
  where?: Where;
}

/**
 * A search by vector, by text or by both fused (`vexfs search --text`,
 * src/search/hybrid.ts): the query, k, the fusion parameters and the
 * {@link SearchFlags} (exclude, ef, exact, where) for both sides.
 */
export interface HybridQuery extends SearchFlags {
  vector?: Float32Array;
  text?: string;
  k: number;
  /** "rrf" or "weighted", absent: rrf with both sides (must be absent with one) */
  fusion?: "rrf" | "weighted";
  alpha?: number;
  rrfK?: number;
  /** candidates per side with both sides (default max(k, 100), at most 4096) */
  depth?: number;
}

/** Hits of a hybrid search (paths relative to the searched directory) and how each side answered. */
export interface HybridResult {
  hits: HybridHit[];
  method: HybridMethod;
}

/** What `vexfs index` asks: build (or rebuild from scratch), drop, optimize, or stats. */
export type IndexOp =
  | { op: "build"; m?: number; efConstruction?: number; onProgress?: (done: number, total: number) => void }
  | { op: "drop" }
  | { op: "optimize" }
  | { op: "stats" };

/**
 * What `vexfs index ... --text` asks of a collection's keyword (BM25) index: build it from scratch (the
 * parameters given replace the collection's, the others are kept, or the defaults for a first build), drop it,
 * or report it.
 */
export type TextIndexOp =
  | { op: "build"; params?: Partial<TextIndexParams> }
  | { op: "drop" }
  | { op: "stats" };

/** A value, or a promise of it (the mounted backend is asynchronous). */
export type MaybePromise<T> = T | Promise<T>;

/**
 * Filesystem and vector operations the CLI needs, by path: a path inside
 * the filesystem for {@link OfflineBackend}, a host path on the mount for
 * the mounted backend (commands/mounted.ts). Callers `await` every result.
 */
export interface FsBackend {
  /** what was opened (for messages) */
  readonly target: string;
  /** Creates directory `path` and missing parents; returns whether it was created. */
  mkdirp(path: string): MaybePromise<boolean>;
  /** Creates or replaces regular file `path` with `data` (parents must exist unless `parents`). */
  writeFile(
    path: string,
    data: Uint8Array | AsyncIterable<Uint8Array>,
    opts?: { parents?: boolean },
  ): Promise<number>;
  /** Metadata of one path, or null if it does not exist. */
  stat(path: string): MaybePromise<FileInfo | null>;
  /** Makes directory `dir` a collection root. */
  createCollection(dir: string, p: CollectionParams): MaybePromise<CollectionView>;
  /** Every collection. */
  listCollections(): MaybePromise<CollectionView[]>;
  /** The collection containing directory `dir` (at or above it), or null. */
  collectionOfDir(dir: string): MaybePromise<CollectionView | null>;
  /** The collection a vector set on file `path` goes to. */
  collectionForFile(path: string): MaybePromise<CollectionView>;
  /** Sets or replaces the vector of file `path`. */
  setVector(path: string, v: Float32Array): MaybePromise<void>;
  /** The vector of file `path` (null if it has none) and its collection. */
  getVector(
    path: string,
  ): MaybePromise<{ vector: Float32Array; collection: CollectionView } | null>;
  /** Removes the vector of `path`; false if it had none. */
  deleteVector(path: string): MaybePromise<boolean>;
  /** Exact top-k in the collection containing `dir`, restricted to `dir`'s subtree; scores rounded to f32 (as the ioctl gives them). */
  search(
    dir: string,
    query: Float32Array,
    k: number,
    opts?: SearchFlags,
  ): MaybePromise<SearchHit[]>;
  /** {@link search} that also says how it was answered (HNSW with its ef, or an exact scan and why). */
  searchEx(
    dir: string,
    query: Float32Array,
    k: number,
    opts?: SearchFlags,
  ): MaybePromise<{ hits: SearchHit[]; method: SearchMethod }>;
  /**
   * Search by vector, text or both fused (src/search/hybrid.ts) below `dir`;
   * scores rounded to f32 (as an ioctl gives them).
   */
  hybrid(dir: string, q: HybridQuery): MaybePromise<HybridResult>;
  /** The index operations of `vexfs index` on the collection containing `dir`. */
  index(dir: string, op: IndexOp): MaybePromise<IndexStats>;
  /** The keyword-index operations of `vexfs index ... --text` on the collection containing `dir`; its figures after. */
  textIndex(dir: string, op: TextIndexOp): MaybePromise<TextIndexStats>;
  /**
   * Drops the collection rooted at `dir` (its vectors and index go, its
   * files stay) and returns it as it was.
   * @throws CliError when `dir` is not a collection root
   */
  dropCollection(dir: string): MaybePromise<CollectionView>;
  /**
   * Renames the root directory of the collection rooted at `from` to `to`
   * (which must not exist; its parent must); the collection keeps its id,
   * vectors and index. Returns the collection at its new path.
   * @throws CliError when `from` is not a collection root or `to` exists
   */
  renameCollection(from: string, to: string): MaybePromise<CollectionView>;
  /** Writes everything and releases the filesystem. */
  close(): void;
}

const TYPE_NAMES: Record<number, string> = {
  0o140000: "socket",
  0o120000: "symlink",
  0o100000: "file",
  0o060000: "block",
  0o040000: "dir",
  0o020000: "char",
  0o010000: "fifo",
};

const NOUNS: Record<string, string> = {
  socket: "a socket",
  symlink: "a symbolic link",
  file: "a regular file",
  block: "a block device",
  dir: "a directory",
  char: "a character device",
  fifo: "a FIFO",
};

/** "a directory", "a symbolic link", ... for messages. */
export function typeNoun(mode: number): string {
  return NOUNS[typeName(mode)] ?? "an unknown kind of file";
}

/** Name of the file type in `mode`. */
export function typeName(mode: number): string {
  return TYPE_NAMES[mode & S_IFMT] ?? "unknown";
}

/** Resolves `path` in `fs`, turning ENOENT/ENOTDIR into a message naming the path. */
export function resolveIn(
  fs: Vexfs,
  target: string,
  path: string,
  follow = true,
): number {
  const p = fsPath(path);
  try {
    return fs.resolve(p, follow);
  } catch (e) {
    if (e instanceof FsError && e.code === "ENOENT") {
      throw new CliError(`${p}: no such file or directory in ${target}`, 1, "ENOENT");
    }
    if (e instanceof FsError && e.code === "ENOTDIR") {
      throw new CliError(`${p}: a component of the path is not a directory`, 1, "ENOTDIR");
    }
    throw e;
  }
}

/** The unmounted-image backend: the engine opens the image or device itself. */
export class OfflineBackend implements FsBackend {
  readonly target: string;
  readonly fs: Vexfs;

  constructor(target: string, fs: Vexfs) {
    this.target = target;
    this.fs = fs;
  }

  resolve(path: string, follow = true): number {
    return resolveIn(this.fs, this.target, path, follow);
  }

  #view(info: CollectionInfo): CollectionView {
    let path: string;
    try {
      path = this.fs.pathOf(info.rootIno);
    } catch {
      path = `<inode ${info.rootIno}>`;
    }
    return { ...info, path };
  }

  #dir(path: string): number {
    const ino = this.resolve(path);
    if ((this.fs.getattr(ino).mode & S_IFMT) !== S_IFDIR) {
      throw new CliError(`${fsPath(path)} is not a directory`);
    }
    return ino;
  }

  #file(path: string): number {
    const ino = this.resolve(path);
    const m = this.fs.getattr(ino).mode & S_IFMT;
    if (m !== S_IFREG) {
      throw new CliError(
        `${fsPath(path)} is ${typeNoun(m)}; only regular files carry vectors`,
      );
    }
    return ino;
  }

  mkdirp(path: string): boolean {
    let ino = this.fs.sb.rootIno;
    let created = false;
    let sofar = "";
    for (const part of fsPath(path).split("/").filter(Boolean)) {
      sofar += "/" + part;
      let next: number;
      try {
        next = this.fs.lookup(ino, part);
      } catch (e) {
        if (!(e instanceof FsError && e.code === "ENOENT")) throw e;
        next = this.fs.mkdir(ino, part);
        created = true;
      }
      if ((this.fs.getattr(next).mode & S_IFMT) !== S_IFDIR) {
        throw new CliError(`${sofar} exists and is not a directory`);
      }
      ino = next;
    }
    return created;
  }

  async writeFile(
    path: string,
    data: Uint8Array | AsyncIterable<Uint8Array>,
    opts: { parents?: boolean } = {},
  ): Promise<number> {
    const p = fsPath(path);
    if (p === "/") throw new CliError("cannot write to the root directory");
    const slash = p.lastIndexOf("/");
    const parent = p.slice(0, slash) || "/";
    const name = p.slice(slash + 1);
    if (opts.parents) this.mkdirp(parent);
    const dir = this.#dir(parent);
    let ino: number;
    try {
      ino = this.fs.lookup(dir, name);
      const m = this.fs.getattr(ino).mode & S_IFMT;
      if (m !== S_IFREG) {
        throw new CliError(
          `${p} exists and is ${typeNoun(m)}, not a regular file`,
        );
      }
      this.fs.truncate(ino, 0);
    } catch (e) {
      if (!(e instanceof FsError && e.code === "ENOENT")) throw e;
      ino = this.fs.create(dir, name);
    }
    if (data instanceof Uint8Array) {
      if (data.length) this.fs.write(ino, 0, data);
      return ino;
    }
    let off = 0;
    for await (const chunk of data) {
      if (chunk.length) this.fs.write(ino, off, chunk);
      off += chunk.length;
    }
    return ino;
  }

  stat(path: string): FileInfo | null {
    let ino: number;
    try {
      ino = this.fs.resolve(fsPath(path), false);
    } catch (e) {
      if (
        e instanceof FsError && (e.code === "ENOENT" || e.code === "ENOTDIR")
      ) return null;
      throw e;
    }
    return this.statIno(ino, fsPath(path));
  }

  /** {@link FileInfo} of an inode known by number. */
  statIno(ino: number, path: string): FileInfo {
    const st = this.fs.getattr(ino);
    return {
      path,
      ino,
      type: typeName(st.mode),
      mode: st.mode,
      nlink: st.nlink,
      uid: st.uid,
      gid: st.gid,
      size: st.size,
      mtime: st.mtime.sec * 1000 + Math.floor(st.mtime.nsec / 1e6),
      hasVector: (st.flags & IFL_HAS_VECTOR) !== 0,
      collectionRoot: (st.flags & IFL_COLL_ROOT) ? this.fs.iget(ino).d.collId : 0,
    };
  }

  createCollection(dir: string, p: CollectionParams): CollectionView {
    return this.#view(this.fs.collections.create(this.#dir(dir), p));
  }

  listCollections(): CollectionView[] {
    return this.fs.collections.list().map((i) => this.#view(i));
  }

  collectionOfDir(dir: string): CollectionView | null {
    const id = this.fs.collections.collectionOfDir(this.#dir(dir));
    return id ? this.#view(this.fs.collections.get(id)) : null;
  }

  collectionForFile(path: string): CollectionView {
    const id = this.fs.collections.collectionForFile(this.#file(path));
    return this.#view(this.fs.collections.get(id));
  }

  setVector(path: string, v: Float32Array): void {
    this.fs.collections.setVector(this.#file(path), v);
  }

  getVector(
    path: string,
  ): { vector: Float32Array; collection: CollectionView } | null {
    const ino = this.#file(path);
    const vector = this.fs.collections.getVector(ino);
    if (!vector) return null;
    return {
      vector,
      collection: this.#view(
        this.fs.collections.get(this.fs.iget(ino).d.collId),
      ),
    };
  }

  deleteVector(path: string): boolean {
    return this.fs.collections.deleteVector(this.#file(path));
  }

  search(dir: string, query: Float32Array, k: number, opts: SearchFlags = {}): SearchHit[] {
    return this.searchEx(dir, query, k, opts).hits;
  }

  searchEx(
    dir: string,
    query: Float32Array,
    k: number,
    opts: SearchFlags = {},
  ): { hits: SearchHit[]; method: SearchMethod } {
    const d = this.#dir(dir);
    const exclude = new Set((opts.exclude ?? []).map((p) => this.resolve(p)));
    const r = this.fs.collections.searchEx(d, query, k, {
      exclude,
      ef: opts.ef,
      exact: opts.exact,
      where: opts.where,
    });
    // Scores rounded to f32, as the search ioctl returns them (docs/IOCTL.md §3.7), so that a search prints
    // the same on a mount and on the unmounted image.
    return { hits: r.hits.map((h) => ({ ...h, score: Math.fround(h.score) })), method: r.method };
  }

  hybrid(dir: string, q: HybridQuery): HybridResult {
    const d = this.#dir(dir);
    const exclude = new Set((q.exclude ?? []).map((p) => this.resolve(p)));
    const r = searchHybrid(this.fs, d, {
      vector: q.vector,
      text: q.text,
      k: q.k,
      fusion: q.fusion,
      alpha: q.alpha,
      rrfK: q.rrfK,
      depth: q.depth,
      where: q.where,
      exclude,
      ef: q.ef,
      exact: q.exact,
    });
    // f32 as the hybrid ioctl returns every score (design §6.2), so a search prints the same mounted and offline
    const f = (s: { rank: number; score: number } | null) => s && { rank: s.rank, score: Math.fround(s.score) };
    return {
      hits: r.hits.map((h) => ({ ...h, score: Math.fround(h.score), vector: f(h.vector), text: f(h.text) })),
      method: r.method,
    };
  }

  index(dir: string, op: IndexOp): IndexStats {
    const d = this.#dir(dir);
    const c = this.fs.collections;
    if (op.op === "build") {
      return c.buildIndex(d, { m: op.m, efConstruction: op.efConstruction, onProgress: op.onProgress });
    }
    if (op.op === "drop") {
      c.dropIndex(d);
      return c.indexStats(d);
    }
    if (op.op === "optimize") return c.optimizeIndex(d);
    return c.indexStats(d);
  }

  textIndex(dir: string, op: TextIndexOp): TextIndexStats {
    const d = this.#dir(dir);
    const t = this.fs.collections.text;
    if (op.op === "build") {
      // the collection's parameters (from its record: a damaged index must not stop its own rebuild), then the given
      const id = this.fs.collections.collectionOfDir(d);
      const rec = id ? this.fs.collections.record(id) : undefined;
      const had: Partial<TextIndexParams> = rec && (rec.flags & COLL_INDEX_BM25)
        ? {
          k1: rec.bm25K1,
          b: rec.bm25B,
          maxFile: rec.bm25MaxFile,
          analyzer: rec.bm25Analyzer,
          stemmer: rec.bm25Stemmer as 0 | 1,
          stopwords: rec.bm25Stopwords as 0 | 1,
          lang: rec.bm25Lang,
        }
        : {};
      return t.build(d, { ...had, ...op.params });
    }
    if (op.op === "drop") t.drop(d);
    return t.stats(d);
  }

  dropCollection(dir: string): CollectionView {
    const x = this.#root(dir);
    this.fs.collections.dropCollection(x.id);
    return x;
  }

  renameCollection(from: string, to: string): CollectionView {
    const x = this.#root(from);
    const src = fsPath(from), dst = fsPath(to);
    if (dst === "/" || dst.startsWith(src + "/")) throw new CliError(`cannot move ${src} into itself (${dst})`);
    const cut = (p: string) => [p.slice(0, p.lastIndexOf("/")) || "/", p.slice(p.lastIndexOf("/") + 1)];
    const [fromDir, fromName] = cut(src);
    const [toDir, toName] = cut(dst);
    if (this.fs.find(this.#dir(toDir), toName)) throw new CliError(`${dst} already exists`);
    this.fs.rename(this.#dir(fromDir), fromName, this.#dir(toDir), toName);
    return this.#view(this.fs.collections.get(x.id));
  }

  /** The collection rooted at `dir`; CliError when `dir` is not a collection's root. */
  #root(dir: string): CollectionView {
    const x = this.collectionOfDir(dir);
    if (!x || x.path !== fsPath(dir)) {
      throw new CliError(`${fsPath(dir)} is not a collection root` + (x ? ` (it is inside ${x.path})` : ""));
    }
    return x;
  }

  close(): void {
    this.fs.close();
  }
}

/**
 * Opens unmounted image or device `target` for the vector/import commands
 * ({@link OfflineBackend}); a directory is refused with a hint to give a
 * path on the mount instead (see {@link withTarget}).
 */
export function openBackend(
  target: string,
  opts: { write: boolean },
): OfflineBackend {
  return new OfflineBackend(target, openImage(target, opts));
}

/** Opens an unmounted image or device with the engine, with CLI-friendly errors. */
export function openImage(target: string, opts: { write: boolean }): Vexfs {
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(target);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new CliError(`${target}: no such image file or device`, 1, "ENOENT");
    }
    throw e;
  }
  if (st.isDirectory) {
    throw new CliError(
      `${target} is a directory: for a mounted VexFS give just the path on the mount (e.g. 'vexfs search /mnt/vexfs/docs ...'); ` +
        `for an unmounted one give the image file or device and a path inside it`,
    );
  }
  return Vexfs.open(target, { readOnly: !opts.write });
}

/**
 * Runs `fn` with the backend for a command's `<target> [path]` arguments and
 * the path to work on: with `path`, `target` is an unmounted image or device
 * ({@link OfflineBackend}); without it, `target` is itself a host path on a
 * mounted VexFS (the mounted backend, vectors through ioctls); with
 * `mayNotExist` (a command that creates it), `target` may be missing below
 * a directory on the mount.
 * @throws CliError when `target` alone is not on a mounted VexFS
 */
export async function withTarget<T>(
  target: string,
  path: string | undefined,
  write: boolean,
  fn: (b: FsBackend, path: string) => T | Promise<T>,
  opts: { mayNotExist?: boolean } = {},
): Promise<T> {
  if (path !== undefined) return await withBackend(target, write, (b) => fn(b, path));
  let st: Deno.FileInfo;
  /** what is looked up on the mount: `target`, or with `mayNotExist` its nearest existing ancestor */
  let probe = resolve(target);
  for (;;) {
    try {
      st = await Deno.stat(probe);
      break;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      const up = dirname(probe);
      if (!opts.mayNotExist || up === probe) throw new CliError(`${target}: no such file or directory`, 1, "ENOENT");
      probe = up;
    }
  }
  if (probe !== resolve(target) && !st.isDirectory) throw new CliError(`${probe} is not a directory`);
  const m = await MountedBackend.at(probe);
  if (!m) {
    throw new CliError(
      st.isFile || st.isBlockDevice
        ? `${target} looks like an image or device: give the path inside it too (IMAGE PATH)`
        : `${target} is not on a mounted VexFS: mount one with 'vexfs mount', or give IMAGE PATH for an unmounted image`,
    );
  }
  return await fn(m, resolve(target));
}

/**
 * Runs `fn` with the backend for a command that works on a whole
 * filesystem: `target` is an unmounted image or device, or any path on a
 * mounted VexFS (a directory; the mounted backend).
 * @throws CliError when `target` does not exist, or is a directory that is not on a mounted VexFS
 */
export async function withFilesystem<T>(
  target: string,
  write: boolean,
  fn: (b: FsBackend) => T | Promise<T>,
): Promise<T> {
  let st: Deno.FileInfo;
  try {
    st = await Deno.stat(target);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new CliError(`${target}: no such image, device or directory`, 1, "ENOENT");
    }
    throw e;
  }
  if (!st.isDirectory) return await withBackend(target, write, fn);
  return await fn(await mountOfDirectory(target));
}

/**
 * The mounted VexFS that directory `target` is on, for commands that take
 * an image, a device or a directory on a mount.
 * @throws CliError when `target` is not on a mounted VexFS
 */
export async function mountOfDirectory(target: string): Promise<MountedBackend> {
  const m = await MountedBackend.at(target);
  if (!m) {
    throw new CliError(
      `${target} is a directory but not on a mounted VexFS: give an image or device, or a path on a 'vexfs mount'`,
    );
  }
  return m;
}

/** Runs `fn` with a backend and always closes it. */
export async function withBackend<T>(
  target: string,
  write: boolean,
  fn: (b: OfflineBackend) => T | Promise<T>,
): Promise<T> {
  const b = openBackend(target, { write });
  try {
    return await fn(b);
  } finally {
    b.close();
  }
}
