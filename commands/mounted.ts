/**
 * The "mounted path" backend of the vector and import commands: files go
 * through the host kernel like any program's I/O, vectors and collections
 * through the VexFS ioctls (src/ioctl/client.ts, docs/IOCTL.md). Paths are
 * host paths on the mount (`/mnt/vexfs/docs/a.md`).
 * @module
 */
import { dirname, join, relative, resolve } from "node:path";
import { FsError } from "../src/errors.ts";
import * as ioctl from "../src/ioctl/client.ts";
import { dropCollection } from "../src/ioctl/client_admin.ts";
import { hybridSearch, textIndex } from "../src/ioctl/client_hybrid.ts";
import type { TextIndexStats } from "../src/fs/text_index_types.ts";
import type { CollectionInfo, CollectionParams, IndexStats, SearchHit, SearchMethod } from "../src/fs/vectors.ts";
import {
  type CollectionView,
  type FileInfo,
  type FsBackend,
  type HybridQuery,
  type HybridResult,
  type IndexOp,
  type SearchFlags,
  type TextIndexOp,
  typeName,
  typeNoun,
} from "./backend.ts";
import { CliError } from "./util.ts";

/** A VexFS mounted at `target`; every path given to the methods is a host path. */
export class MountedBackend implements FsBackend {
  /** the mountpoint */
  readonly target: string;

  constructor(mountpoint: string) {
    this.target = mountpoint;
  }

  /** Finds the mountpoint of host path `path` (a VexFS mount), or null if it is not on one. */
  static async at(path: string): Promise<MountedBackend | null> {
    let cur = resolve(path);
    if (!(await ioctl.fsInfo(cur))) return null;
    const dev = (await Deno.stat(cur)).dev;
    for (;;) {
      const up = dirname(cur);
      if (up === cur) break;
      const st = await Deno.stat(up);
      if (st.dev !== dev) break;
      cur = up;
    }
    return new MountedBackend(cur);
  }

  async #view(info: CollectionInfo): Promise<CollectionView> {
    let rel: string;
    try {
      rel = await ioctl.inoPath(this.target, info.rootIno);
    } catch {
      return { ...info, path: `<inode ${info.rootIno}>` };
    }
    return { ...info, path: rel === "." ? this.target : join(this.target, rel) };
  }

  async #kind(path: string, want: "dir" | "file"): Promise<void> {
    let st: Deno.FileInfo;
    try {
      st = await Deno.stat(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) throw new CliError(`${path}: no such file or directory`, 1, "ENOENT");
      throw e;
    }
    const type = typeName(st.mode ?? 0);
    if (want === "dir" && type !== "dir") throw new CliError(`${path} is not a directory`);
    if (want === "file" && type !== "file") {
      throw new CliError(`${path} is ${typeNoun(st.mode ?? 0)}; only regular files carry vectors`);
    }
  }

  async mkdirp(path: string): Promise<boolean> {
    try {
      if ((await Deno.stat(path)).isDirectory) return false;
    } catch { /* create it */ }
    await Deno.mkdir(path, { recursive: true });
    return true;
  }

  async writeFile(
    path: string,
    data: Uint8Array | AsyncIterable<Uint8Array>,
    opts: { parents?: boolean } = {},
  ): Promise<number> {
    if (opts.parents) await Deno.mkdir(dirname(path), { recursive: true });
    if (data instanceof Uint8Array) {
      await Deno.writeFile(path, data);
      return data.length;
    }
    const f = await Deno.open(path, { write: true, create: true, truncate: true });
    let n = 0;
    try {
      for await (const chunk of data) {
        let off = 0;
        while (off < chunk.length) off += await f.write(chunk.subarray(off));
        n += chunk.length;
      }
    } finally {
      f.close();
    }
    return n;
  }

  async stat(path: string): Promise<FileInfo | null> {
    let st: Deno.FileInfo;
    try {
      st = await Deno.lstat(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return null;
      throw e;
    }
    const type = typeName(st.mode ?? 0);
    let hasVector = false;
    let collectionRoot = 0;
    if (type === "file") {
      try {
        hasVector = (await ioctl.getVector(path)) !== null;
      } catch { /* not in a collection */ }
    } else if (type === "dir") {
      const c = await ioctl.collectionInfo(path);
      if (c && c.rootIno === st.ino) collectionRoot = c.id;
    }
    return {
      path,
      ino: st.ino ?? 0,
      type,
      mode: st.mode ?? 0,
      nlink: st.nlink ?? 0,
      uid: st.uid ?? 0,
      gid: st.gid ?? 0,
      size: st.size,
      mtime: st.mtime?.getTime() ?? 0,
      hasVector,
      collectionRoot,
    };
  }

  async createCollection(dir: string, p: CollectionParams): Promise<CollectionView> {
    await this.#kind(dir, "dir");
    return await this.#view(await ioctl.createCollection(dir, p));
  }

  async listCollections(): Promise<CollectionView[]> {
    const all = await ioctl.listCollections(this.target);
    const out: CollectionView[] = [];
    for (const c of all) out.push(await this.#view(c));
    return out;
  }

  async collectionOfDir(dir: string): Promise<CollectionView | null> {
    await this.#kind(dir, "dir");
    const c = await ioctl.collectionInfo(dir);
    return c ? await this.#view(c) : null;
  }

  async dropCollection(dir: string): Promise<CollectionView> {
    const x = await this.#root(dir);
    await dropCollection(dir);
    return x;
  }

  async renameCollection(from: string, to: string): Promise<CollectionView> {
    const x = await this.#root(from);
    const dst = resolve(to);
    if (await Deno.lstat(dst).then(() => true, () => false)) throw new CliError(`${dst} already exists`);
    const top = dirname(dst);
    if (!(await Deno.stat(top).then((s) => s.isDirectory, () => false))) {
      throw new CliError(`${top} is not an existing directory`);
    }
    if ((await Deno.stat(top)).dev !== (await Deno.stat(from)).dev) {
      throw new CliError(`${dst} is not on the same mount as ${from}: a collection is renamed within its filesystem`);
    }
    try {
      await Deno.rename(from, dst); // rename(2): the engine moves the root; the collection follows it
    } catch (e) {
      if (e instanceof Error && /os error 22|Invalid argument/.test(e.message)) {
        throw new CliError(`cannot move ${from} to ${dst}: collections do not nest (the target is inside one)`);
      }
      throw e;
    }
    const c = await ioctl.collectionInfo(dst);
    if (!c || c.id !== x.id) throw new CliError(`${dst}: the collection did not follow the rename`);
    return await this.#view(c);
  }

  /** The collection rooted at host directory `dir`; CliError when `dir` is not a collection's root. */
  async #root(dir: string): Promise<CollectionView> {
    const x = await this.collectionOfDir(dir);
    if (!x) throw new CliError(`${dir} is not inside a vector collection`);
    if (x.rootIno !== (await Deno.stat(dir)).ino) {
      throw new CliError(`${dir} is not a collection root (it is inside ${x.path})`);
    }
    return x;
  }

  async collectionForFile(path: string): Promise<CollectionView> {
    await this.#kind(path, "file");
    const c = await ioctl.collectionInfo(path);
    if (!c) {
      throw new CliError(
        `${path} is not inside a vector collection; make a directory above it one with 'vexfs collection create'`,
      );
    }
    return await this.#view(c);
  }

  async setVector(path: string, v: Float32Array): Promise<void> {
    await this.#kind(path, "file");
    await ioctl.setVector(path, v);
  }

  async getVector(path: string): Promise<{ vector: Float32Array; collection: CollectionView } | null> {
    await this.#kind(path, "file");
    const r = await ioctl.getVector(path);
    if (!r) return null;
    const c = await ioctl.collectionInfo(path);
    if (!c) throw new FsError("EIO", `${path} has a vector but no collection`);
    return { vector: r.vector, collection: await this.#view(c) };
  }

  async deleteVector(path: string): Promise<boolean> {
    await this.#kind(path, "file");
    return await ioctl.deleteVector(path);
  }

  /**
   * Top-k search through `VEXFS_IOC_SEARCH2` (docs/IOCTL.md §3.11) with
   * `opts.ef` and `opts.exact`, reporting how the daemon answered (HNSW
   * with its ef, or an exact scan and why); against a daemon older than
   * SEARCH2 it falls back to `VEXFS_IOC_SEARCH` when neither is given
   * (method "unknown").
   * @param dir host directory on the mount (the collection root or below it)
   * @param k 1..256 through an ioctl
   * @returns hits with paths relative to `dir`, scores rounded to f32
   * @throws CliError (not a directory, more than one file to exclude);
   *   FsError EINVAL (k, ef, dimension, NaN, not in a collection), ENOTTY
   *   (a daemon older than SEARCH2 with ef or exact), ENOENT
   */
  async searchEx(
    dir: string,
    query: Float32Array,
    k: number,
    opts: SearchFlags = {},
  ): Promise<{ hits: SearchHit[]; method: SearchMethod }> {
    await this.#kind(dir, "dir");
    const ex = opts.exclude ?? [];
    if (ex.length > 1) throw new CliError("a search on a mount can leave out at most one file");
    const excludeIno = ex.length ? (await Deno.stat(ex[0])).ino ?? undefined : undefined;
    if (opts.where?.length) {
      // SEARCH2 has no filter: a filtered vector search is a hybrid search without text (design §6.2)
      const h = await hybridSearch(dir, {
        vector: query,
        k,
        where: opts.where,
        excludeIno,
        ef: opts.ef,
        exact: opts.exact,
      });
      return {
        hits: h.hits.map((x) => ({ ino: x.ino, score: x.score, path: x.path })),
        method: h.method.vector ?? { method: "unknown" },
      };
    }
    const r = await ioctl.searchExWithPaths(dir, query, k, { excludeIno, ef: opts.ef, exact: opts.exact });
    return {
      hits: r.hits.map((h) => ({ ...h, path: h.path.startsWith("/") ? relative(dir, h.path) : h.path })),
      method: r.method,
    };
  }

  /**
   * Search by vector, text or both through the hybrid search ioctl
   * (src/ioctl/client_hybrid.ts, design §6.2).
   * @throws CliError (not a directory, more than one file to exclude); FsError as `hybridSearch`
   */
  async hybrid(dir: string, q: HybridQuery): Promise<HybridResult> {
    await this.#kind(dir, "dir");
    const ex = q.exclude ?? [];
    if (ex.length > 1) throw new CliError("a search on a mount can leave out at most one file");
    const excludeIno = ex.length ? (await Deno.stat(ex[0])).ino ?? undefined : undefined;
    return await hybridSearch(dir, { ...q, excludeIno });
  }

  /**
   * `vexfs index build|drop|optimize|stats` through `VEXFS_IOC_INDEX`
   * (docs/IOCTL.md §3.12) on the collection containing host directory `dir`.
   * @returns the index's figures after the operation
   * @throws CliError (not a directory); FsError ENOENT (not in a
   *   collection), EINVAL (M, efConstruction; optimize of a flat
   *   collection), EACCES, EROFS, ENOSPC, ENOTTY (a daemon older than INDEX)
   */
  async index(dir: string, op: IndexOp): Promise<IndexStats> {
    await this.#kind(dir, "dir");
    return await ioctl.index(dir, op);
  }

  /**
   * `vexfs index build|drop|stats --text` through the text index ioctl (src/ioctl/client_hybrid.ts).
   * @throws CliError (not a directory); FsError as `textIndex`
   */
  async textIndex(dir: string, op: TextIndexOp): Promise<TextIndexStats> {
    await this.#kind(dir, "dir");
    return await textIndex(dir, op);
  }

  /** {@link searchEx} without the method: what `FsBackend.search` asks. */
  async search(
    dir: string,
    query: Float32Array,
    k: number,
    opts: SearchFlags = {},
  ): Promise<SearchHit[]> {
    return (await this.searchEx(dir, query, k, opts)).hits;
  }

  close(): void {}
}
