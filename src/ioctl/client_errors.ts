/**
 * The error messages of the ioctl client: an errno from a `VEXFS_IOC_*`
 * call turned into an `FsError` that says what was wrong and what to do
 * (asking the filesystem for the collection's parameters to explain an
 * EINVAL).
 * @module
 */
import { dirname, resolve } from "node:path";
import { ERRNO, FsError } from "../errors.ts";
import type { CollectionInfo } from "../fs/vectors.ts";
import {
  decodeCollectionInfoReply,
  encodeCollectionInfo,
  ENOTTY,
  errnoFsError,
  VECTOR_XATTR,
  VEXFS_IOC_COLLECTION_INFO,
  VEXFS_IOC_MAX_DIM,
} from "./abi.ts";
import { ioctl } from "./client_sys.ts";

// ------------------------------------------------------------ error messages

const ENOSYS = ERRNO.ENOSYS;
const EOPNOTSUPP = ERRNO.EOPNOTSUPP;

/** errnos that mean "this path is not on VexFS" (no such ioctl there). */
export const NOT_VEXFS = new Set([ENOTTY, ENOSYS, EOPNOTSUPP]);

/** The errno for "this is not VexFS" plus a message saying what to do instead. */
function notVexfs(errno: number, path: string, what: string): FsError {
  return errnoFsError(
    errno,
    `${path} is not on a mounted VexFS (${what} is not supported there); ` +
      `mount the image with 'vexfs mount', or run the command on the unmounted image`,
  );
}

/** Messages common to every command; undefined when the errno needs the command's own explanation. */
export function commonError(errno: number, path: string, what: string): FsError | undefined {
  if (NOT_VEXFS.has(errno)) return notVexfs(errno, path, what);
  switch (errno) {
    case ERRNO.EROFS:
      return errnoFsError(errno, `${path}: the filesystem is mounted read-only; remount it read-write to ${what}`);
    case ERRNO.EACCES:
    case ERRNO.EPERM:
      return errnoFsError(errno, `${path}: permission denied to ${what}`);
    case ERRNO.ENOSPC:
      return errnoFsError(errno, `${path}: the filesystem is full; cannot ${what}`);
    case ERRNO.EUCLEAN:
      return errnoFsError(
        errno,
        `${path}: VexFS found corrupted metadata while trying to ${what}; unmount it and run 'vexfs fsck'`,
      );
  }
  return undefined;
}

/** The fallback error: errno `errno` (an `FsError` named after it) with "PATH: cannot WHAT". */
export function generic(errno: number, path: string, what: string): FsError {
  return errnoFsError(errno, `${path}: cannot ${what}`);
}

/** Best-effort collection info for an explanation: null when unknown. */
export async function infoFor(fd: number): Promise<CollectionInfo | null> {
  const buf = encodeCollectionInfo();
  if ((await ioctl(fd, VEXFS_IOC_COLLECTION_INFO, buf)) < 0) return null;
  try {
    return decodeCollectionInfoReply(buf);
  } catch {
    return null;
  }
}

/**
 * Names the root of collection `info` for a message: the nearest of
 * `path` and its ancestors whose inode is the root, else "collection N".
 */
export async function rootName(path: string, info: CollectionInfo): Promise<string> {
  let cur = resolve(path);
  for (let i = 0; i < 4096; i++) {
    try {
      if ((await Deno.stat(cur)).ino === info.rootIno) return cur;
    } catch { /* keep walking up */ }
    const up = dirname(cur);
    if (up === cur) break;
    cur = up;
  }
  return `collection ${info.id} (root inode ${info.rootIno})`;
}

/** The message for a path outside every collection, with the command that makes one. */
export function notInCollection(path: string): string {
  return `${path} is not inside a vector collection; make a directory above it one with 'vexfs collection create'`;
}

/** Explains an EINVAL about a vector or query `v` sent to `path`. */
export async function explainVector(
  fd: number,
  path: string,
  v: Float32Array,
  what: "vector" | "query",
): Promise<string> {
  const info = await infoFor(fd);
  if (!info) return notInCollection(path);
  const at = await rootName(path, info);
  if (info.dim !== v.length) {
    const wide = info.dim > VEXFS_IOC_MAX_DIM
      ? `; vectors wider than ${VEXFS_IOC_MAX_DIM} cannot go through an ioctl` +
        (what === "vector" ? ` (write the ${VECTOR_XATTR} extended attribute instead)` : "")
      : "";
    return `${what} has ${v.length} elements but the collection at ${at} has dimension ${info.dim}${wide}`;
  }
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i])) return `${what} element ${i} is ${v[i]}; values must be finite`;
  }
  if (what === "vector" && info.elem === "i8") {
    const i = v.findIndex((x) => !Number.isInteger(x) || x < -128 || x > 127);
    if (i >= 0) {
      return `vector element ${i} = ${
        v[i]
      }: the collection at ${at} stores i8, so values must be integers in -128..127`;
    }
  }
  if (what === "vector" && info.elem === "f16") {
    const i = v.findIndex((x) => Math.abs(x) >= 65520);
    if (i >= 0) return `vector element ${i} = ${v[i]} overflows the f16 elements of the collection at ${at}`;
  }
  return `${path}: the filesystem refused the ${what} (collection at ${at}: ${info.dim}-d ${info.metric} ${info.elem})`;
}
