/**
 * The client side of the vector ioctls (docs/IOCTL.md): what the `vexfs`
 * commands use on a path of a mounted VexFS (FUSE now, the kernel module
 * later). Each function opens the path (`O_RDONLY | O_CLOEXEC`), issues
 * one or more `VEXFS_IOC_*` ioctls on the descriptor and closes it.
 *
 * Results use the engine's own types ({@linkcode CollectionInfo},
 * {@linkcode CollectionParams}, {@linkcode SearchHit}, {@linkcode Metric},
 * {@linkcode ElemType}), so a command can use them interchangeably with
 * the offline engine (src/fs/vectors.ts) on an unmounted image.
 *
 * Errors are `FsError`s named after the errno (`ENOTTY` for a path that is
 * not on VexFS) with a message that says what was wrong and what to do;
 * for an `EINVAL` the client asks the filesystem for the collection's
 * parameters to explain it (e.g. "vector has 3 elements but the collection
 * at /mnt/docs has dimension 384").
 *
 * The code is split: client_sys.ts makes the system calls (see there why
 * they never block the JavaScript thread), client_errors.ts words the
 * errors, client_search.ts holds SEARCH, SEARCH2 and INDEX, client_batch.ts
 * SET_VECTORS; this module has the vector and collection commands and
 * re-exports the rest.
 *
 * References: Linux `include/uapi/asm-generic/ioctl.h` (command
 * encoding), `fs/fuse/ioctl.c` (restricted ioctls),
 * `arch/x86/entry/syscalls/syscall_64.tbl` and
 * `include/uapi/asm-generic/unistd.h` (system call numbers).
 * @module
 */
import { ERRNO, FsError } from "../errors.ts";
import type { CollectionInfo, CollectionParams, SearchHit, SearchMethod } from "../fs/vectors.ts";
import type { ElemType, Metric } from "../vector/types.ts";
import {
  type BatchItem,
  decodeCollectionInfoReply,
  decodeCreateCollectionReply,
  decodeFsInfo,
  decodeGetVectorReply,
  decodeListCollectionsReply,
  encodeCollectionInfo,
  encodeCreateCollection,
  encodeDelVector,
  encodeGetVector,
  encodeListCollections,
  encodeSetVector,
  ENOTTY,
  errnoFsError,
  type FsInfo,
  type IndexReply,
  type IndexRequest,
  iocSize,
  type IoctlHit,
  type Search2Reply,
  type StoredVector,
  VECTOR_XATTR,
  VEXFS_IOC_COLLECTION_INFO,
  VEXFS_IOC_CREATE_COLLECTION,
  VEXFS_IOC_DEL_VECTOR,
  VEXFS_IOC_FS_INFO,
  VEXFS_IOC_GET_VECTOR,
  VEXFS_IOC_LIST_COLLECTIONS,
  VEXFS_IOC_MAX_DIM,
  VEXFS_IOC_SET_VECTOR,
  VEXFS_MAX_DIM,
} from "./abi.ts";
import { ioctl, withFd } from "./client_sys.ts";
import { commonError, explainVector, generic, infoFor, NOT_VEXFS, rootName } from "./client_errors.ts";

export type {
  BatchItem,
  CollectionInfo,
  CollectionParams,
  ElemType,
  FsInfo,
  IndexReply,
  IndexRequest,
  IoctlHit,
  Metric,
  Search2Reply,
  SearchHit,
  SearchMethod,
  StoredVector,
};

// ------------------------------------------------------------ commands

/**
 * Whether `path` is on a mounted VexFS, and its numbers
 * ({@linkcode VEXFS_IOC_FS_INFO}).
 * @param path any file or directory
 * @returns the filesystem's information, or null when `path` is on another
 *   filesystem (it answered ENOTTY, ENOSYS, EOPNOTSUPP or EINVAL, or a
 *   reply that is not a VexFS structure)
 * @throws FsError ENOENT, EACCES ... when `path` cannot be opened
 */
export async function fsInfo(path: string): Promise<FsInfo | null> {
  return await withFd(path, async (fd) => {
    const buf = new Uint8Array(iocSize(VEXFS_IOC_FS_INFO));
    const r = await ioctl(fd, VEXFS_IOC_FS_INFO, buf);
    if (r < 0) {
      if (NOT_VEXFS.has(-r) || -r === ERRNO.EINVAL) return null;
      throw generic(-r, path, "read the filesystem information");
    }
    try {
      return decodeFsInfo(buf);
    } catch {
      return null;
    }
  });
}

/**
 * Sets (or replaces) the vector of regular file `path`
 * ({@linkcode VEXFS_IOC_SET_VECTOR}); the filesystem stores it in the
 * collection's element type (f16 rounds, i8 needs integers).
 * @param vector Float32Array of length dim of the file's collection, at
 *   most 2048 (wider vectors: write the `user.vexfs.vector` xattr)
 * @throws FsError EINVAL (length, NaN/infinity, out of range for the
 *   element type, not in a collection; the message says which), EISDIR,
 *   EROFS, ENOSPC, ENOTTY (not VexFS), ENOENT
 */
export async function setVector(path: string, vector: Float32Array): Promise<void> {
  const what = "set a vector";
  if (vector.length > VEXFS_IOC_MAX_DIM) {
    throw new FsError(
      "EINVAL",
      `vector has ${vector.length} elements; at most ${VEXFS_IOC_MAX_DIM} go through an ioctl: ` +
        `write the ${VECTOR_XATTR} extended attribute of ${path} instead (raw elements of the collection's type)`,
    );
  }
  const buf = encodeSetVector(vector);
  await withFd(path, async (fd) => {
    const r = await ioctl(fd, VEXFS_IOC_SET_VECTOR, buf);
    if (r >= 0) return;
    const e = -r;
    const common = commonError(e, path, what);
    if (common) throw common;
    if (e === ERRNO.EISDIR) {
      throw errnoFsError(e, `${path} is a directory; vectors belong to regular files`);
    }
    if (e === ERRNO.EINVAL) throw errnoFsError(e, await explainVector(fd, path, vector, "vector"));
    throw generic(e, path, what);
  });
}

/**
 * The vector of regular file `path` ({@linkcode VEXFS_IOC_GET_VECTOR}),
 * decoded to f32, with its collection's id, metric and element type.
 * @returns the vector (Float32Array of length dim), or null if the file has none
 * @throws FsError EOVERFLOW (collection wider than 2048: read the
 *   `user.vexfs.vector` xattr), EISDIR, ENOTTY (not VexFS), ENOENT
 */
export async function getVector(path: string): Promise<StoredVector | null> {
  const what = "read a vector";
  return await withFd(path, async (fd) => {
    const buf = encodeGetVector();
    const r = await ioctl(fd, VEXFS_IOC_GET_VECTOR, buf);
    if (r >= 0) return decodeGetVectorReply(buf);
    const e = -r;
    if (e === ERRNO.ENODATA) return null;
    const common = commonError(e, path, what);
    if (common) throw common;
    if (e === ERRNO.EISDIR) throw errnoFsError(e, `${path} is a directory; vectors belong to regular files`);
    if (e === ERRNO.EOVERFLOW) {
      const info = await infoFor(fd);
      const at = info ? `the collection at ${await rootName(path, info)} has dimension ${info.dim}` : "it is too wide";
      throw errnoFsError(
        e,
        `the vector of ${path} does not fit in an ioctl (${at}; at most ${VEXFS_IOC_MAX_DIM}); ` +
          `read the ${VECTOR_XATTR} extended attribute instead (raw elements of the collection's type)`,
      );
    }
    throw generic(e, path, what);
  });
}

/**
 * Deletes the vector of regular file `path` ({@linkcode VEXFS_IOC_DEL_VECTOR}).
 * @returns true if it had one, false if not
 * @throws FsError EISDIR, EROFS, ENOTTY (not VexFS), ENOENT
 */
export async function deleteVector(path: string): Promise<boolean> {
  const what = "delete a vector";
  return await withFd(path, async (fd) => {
    const r = await ioctl(fd, VEXFS_IOC_DEL_VECTOR, encodeDelVector());
    if (r >= 0) return true;
    const e = -r;
    if (e === ERRNO.ENODATA) return false;
    const common = commonError(e, path, what);
    if (common) throw common;
    if (e === ERRNO.EISDIR) throw errnoFsError(e, `${path} is a directory; vectors belong to regular files`);
    throw generic(e, path, what);
  });
}

/**
 * Makes directory `dir` a collection root ({@linkcode VEXFS_IOC_CREATE_COLLECTION}).
 * @param p dim 1..4096 (vectors wider than 2048 are then set through the
 *   `user.vexfs.vector` xattr), metric, element type
 * @returns the new collection
 * @throws FsError EINVAL (dimension out of range; `dir` inside or above a
 *   collection: the message says which), ENOTDIR, EROFS, ENOSPC, ENOTTY, ENOENT
 */
export async function createCollection(dir: string, p: CollectionParams): Promise<CollectionInfo> {
  const what = "create a collection";
  const buf = encodeCreateCollection(p);
  return await withFd(dir, async (fd) => {
    const r = await ioctl(fd, VEXFS_IOC_CREATE_COLLECTION, buf);
    if (r >= 0) return decodeCreateCollectionReply(buf);
    const e = -r;
    const common = commonError(e, dir, what);
    if (common) throw common;
    if (e === ERRNO.ENOTDIR) throw errnoFsError(e, `${dir} is not a directory; a collection is rooted at a directory`);
    if (e === ERRNO.EINVAL) {
      if (!Number.isInteger(p.dim) || p.dim < 1 || p.dim > VEXFS_MAX_DIM) {
        throw errnoFsError(e, `dimension ${p.dim} is out of range (1..${VEXFS_MAX_DIM})`);
      }
      const info = await infoFor(fd);
      if (info) {
        throw errnoFsError(
          e,
          `${dir} is already inside collection ${info.id} (rooted at ${await rootName(dir, info)}); ` +
            `collections do not nest`,
        );
      }
      throw errnoFsError(
        e,
        `${dir} cannot become a collection: a directory below it already is one (collections do not nest)`,
      );
    }
    throw generic(e, dir, what);
  });
}

/**
 * The collection that file or directory `path` is in ({@linkcode VEXFS_IOC_COLLECTION_INFO}):
 * for a directory the nearest collection root at or above it, for a file
 * its vector's collection or else its directory's.
 * @returns the collection, or null if `path` is not inside one
 * @throws FsError ENOTTY (not on VexFS: use {@linkcode fsInfo} to probe), ENOENT
 */
export async function collectionInfo(path: string): Promise<CollectionInfo | null> {
  const what = "read collection information";
  return await withFd(path, async (fd) => {
    const buf = encodeCollectionInfo();
    const r = await ioctl(fd, VEXFS_IOC_COLLECTION_INFO, buf);
    if (r >= 0) return decodeCollectionInfoReply(buf);
    const e = -r;
    if (e === ERRNO.ENODATA) return null;
    throw commonError(e, path, what) ?? generic(e, path, what);
  });
}

/**
 * Every collection of the VexFS that `path` is on
 * ({@linkcode VEXFS_IOC_LIST_COLLECTIONS}, paged 64 at a time), ascending
 * id. Name a collection's root with {@linkcode inoPath} on the mount's root
 * directory.
 * @param path any file or directory on the mount
 * @throws FsError ENOTTY (not VexFS, or a daemon older than this command:
 *   the message says which), ENOENT, EACCES (`path` cannot be opened)
 */
export async function listCollections(path: string): Promise<CollectionInfo[]> {
  const what = "list collections";
  return await withFd(path, async (fd) => {
    const out: CollectionInfo[] = [];
    for (let start = 0, pages = 0;; pages++) {
      const buf = encodeListCollections(start);
      const r = await ioctl(fd, VEXFS_IOC_LIST_COLLECTIONS, buf);
      if (r < 0) {
        const e = -r;
        if (
          e === ENOTTY && pages === 0 &&
          (await ioctl(fd, VEXFS_IOC_FS_INFO, new Uint8Array(iocSize(VEXFS_IOC_FS_INFO)))) >= 0
        ) {
          throw errnoFsError(
            e,
            `${path}: the VexFS serving this mount is older than VEXFS_IOC_LIST_COLLECTIONS; remount it with this ` +
              `vexfs, or list the collections of the unmounted image`,
          );
        }
        throw commonError(e, path, what) ?? generic(e, path, what);
      }
      const page = decodeListCollectionsReply(buf);
      out.push(...page.collections);
      if (!page.nextId) return out;
      start = page.nextId;
    }
  });
}

export { ioctl, SYSCALL_STUBS, withFd } from "./client_sys.ts";
export { commonError } from "./client_errors.ts";
export * from "./client_search.ts";
export * from "./client_batch.ts";
