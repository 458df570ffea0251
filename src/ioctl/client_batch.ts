/**
 * The batch command of the ioctl client: SET_VECTORS, many vectors per
 * call ({@linkcode BatchSetter}, {@linkcode setVectors}; docs/IOCTL.md §3.10),
 * with a per-item error ({@linkcode BatchItemError}).
 * @module
 */
import { ERRNO, FsError } from "../errors.ts";
import {
  type BatchItem,
  batchMax,
  encodeSetVectors,
  ENOTTY,
  errnoFsError,
  iocSize,
  type U64,
  VECTOR_XATTR,
  VEXFS_IOC_FS_INFO,
  VEXFS_IOC_MAX_DIM,
  VEXFS_IOC_SET_VECTORS,
} from "./abi.ts";
import { ioctl, openPath, system } from "./client_sys.ts";
import { commonError, generic } from "./client_errors.ts";

// ------------------------------------------------------------ SET_VECTORS

/** A `SET_VECTORS` item the filesystem refused: which one, so that the caller can name it (a path, a line). */
export class BatchItemError extends FsError {
  /** index of the item in the items given to {@linkcode BatchSetter.set} */
  readonly index: number;
  /** its inode number */
  readonly ino: U64;
  constructor(errno: number, message: string, index: number, ino: U64) {
    const e = errnoFsError(errno, message);
    super(e.code, e.detail);
    this.index = index;
    this.ino = ino;
  }
}

/** errnos of `SET_VECTORS` that one item causes (bisected to name it); the others concern the whole call. */
const ITEM_ERRNOS = new Set<number>([ERRNO.EINVAL, ERRNO.ENOENT, ERRNO.EACCES]);

/** What an item refused with `errno` may be, for messages. */
function itemWhy(errno: number, dir: string): string {
  switch (errno) {
    case ERRNO.EINVAL:
      return "is not a regular file, is not in a collection of this dimension, or has a value its collection's " +
        "element type cannot hold (NaN, infinity, out of range)";
    case ERRNO.ENOENT:
      return `does not exist, has no link, or is not below ${dir}`;
    default:
      return `permission denied: the file may not be written, or a directory between ${dir} and it searched`;
  }
}

/**
 * Sets the vectors of many files below one directory of a mounted VexFS
 * with {@linkcode VEXFS_IOC_SET_VECTORS} (docs/IOCTL.md §3.10), keeping the
 * directory open across calls: files are named by inode number (`st_ino`).
 *
 * Each call carries up to `batchMax(dim)` items and is all or nothing;
 * {@linkcode BatchSetter.set} sends the items in order, call by call, so a
 * refusal leaves the items before the refused one set and none after:
 * when a call is refused for an item's sake (`EINVAL`, `ENOENT`,
 * `EACCES`) the setter finds that item with `VEXFS_IOC_BATCH_CHECK` calls
 * (which change nothing), sets the items before it and throws a
 * {@linkcode BatchItemError} naming it.
 *
 * @example
 * ```ts
 * import { BatchSetter } from "./client.ts";
 * const b = await BatchSetter.open("/mnt/vexfs/docs");
 * try {
 *   const ino = (await Deno.stat("/mnt/vexfs/docs/a.md")).ino!;
 *   await b.set([{ ino, vector: new Float32Array(384) }]);
 * } finally {
 *   await b.close();
 * }
 * ```
 */
export class BatchSetter {
  /** the directory the items are below */
  readonly dir: string;
  #fd: number;
  #closed = false;
  /** `SET_VECTORS` calls made (checks included), for tests and benchmarks */
  calls = 0;

  private constructor(dir: string, fd: number) {
    this.dir = dir;
    this.#fd = fd;
  }

  /**
   * Opens directory `dir` (read-only) for {@linkcode BatchSetter.set}.
   * @throws FsError ENOENT, EACCES... when it cannot be opened
   */
  static async open(dir: string): Promise<BatchSetter> {
    return new BatchSetter(dir, await openPath(dir));
  }

  /**
   * Sets the vectors of `items`, in order, in as few calls as their
   * dimensions allow (consecutive items of one dimension share calls).
   * @param items files below the directory by inode number, and their
   *   vectors (each of 1..2048 elements, its file's collection's dimension)
   * @returns how many were set (all of them)
   * @throws BatchItemError for a refused item (the ones before it are set);
   *   FsError ENOTTY (not VexFS, or a daemon older than `SET_VECTORS`: the
   *   message says which), ENOTDIR, EROFS, ENOSPC (checked per call before
   *   it sets anything), EUCLEAN
   */
  async set(items: readonly BatchItem[]): Promise<number> {
    if (this.#closed) throw new FsError("EBADF", `${this.dir}: the batch setter is closed`);
    let at = 0;
    while (at < items.length) {
      const dim = items[at].vector.length;
      if (dim < 1 || dim > VEXFS_IOC_MAX_DIM) {
        throw new BatchItemError(
          ERRNO.EINVAL,
          `item ${at}: vector has ${dim} elements; 1..${VEXFS_IOC_MAX_DIM} go through an ioctl ` +
            `(write the ${VECTOR_XATTR} extended attribute for wider ones)`,
          at,
          items[at].ino,
        );
      }
      let end = at + 1;
      const max = Math.min(items.length, at + batchMax(dim));
      while (end < max && items[end].vector.length === dim) end++;
      await this.#call(items.slice(at, end), at);
      at = end;
    }
    return items.length;
  }

  /** One call; on an item's refusal, bisect for it with checks, set the items before it, throw. */
  async #call(chunk: BatchItem[], base: number): Promise<void> {
    const r = await this.#ioctl(chunk, false);
    if (r >= 0) return;
    const e = -r;
    if (e === ENOTTY && (await ioctl(this.#fd, VEXFS_IOC_FS_INFO, new Uint8Array(iocSize(VEXFS_IOC_FS_INFO)))) >= 0) {
      throw errnoFsError(
        e,
        `${this.dir}: the VexFS serving this mount is older than VEXFS_IOC_SET_VECTORS; set vectors one file at a ` +
          `time (VEXFS_IOC_SET_VECTOR) or remount it with this vexfs`,
      );
    }
    if (!ITEM_ERRNOS.has(e)) {
      const what = `set the vectors of items ${base}..${base + chunk.length - 1}`;
      if (e === ERRNO.ENOTDIR) throw errnoFsError(e, `${this.dir} is not a directory`);
      throw commonError(e, this.dir, what) ?? generic(e, this.dir, what);
    }
    // The smallest refused prefix ends with the item refused (checks are per item).
    let lo = 1, hi = chunk.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((await this.#ioctl(chunk.slice(0, mid), true)) < 0) hi = mid;
      else lo = mid + 1;
    }
    const bad = lo - 1;
    if (bad > 0) {
      const r2 = await this.#ioctl(chunk.slice(0, bad), false);
      if (r2 < 0) throw generic(-r2, this.dir, `set the vectors of items ${base}..${base + bad - 1}`);
    }
    const ino = chunk[bad].ino;
    throw new BatchItemError(e, `item ${base + bad} (inode ${ino}) ${itemWhy(e, this.dir)}`, base + bad, ino);
  }

  #ioctl(items: BatchItem[], check: boolean): Promise<number> {
    this.calls++;
    return ioctl(this.#fd, VEXFS_IOC_SET_VECTORS, encodeSetVectors(items, { check }));
  }

  /** Closes the directory. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await system().close(this.#fd);
  }
}

/**
 * Sets the vectors of files below directory `dir` of a mounted VexFS, named
 * by inode number ({@linkcode VEXFS_IOC_SET_VECTORS}, through a
 * {@linkcode BatchSetter}).
 * @returns how many were set (all of them)
 * @throws as {@linkcode BatchSetter.set}
 */
export async function setVectors(dir: string, items: readonly BatchItem[]): Promise<number> {
  const b = await BatchSetter.open(dir);
  try {
    return await b.set(items);
  } finally {
    await b.close();
  }
}
