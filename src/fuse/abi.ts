/**
 * Binary layouts of the libfuse 3 low-level API for x86_64 Linux (LP64,
 * glibc), as seen by a program compiled with `FUSE_USE_VERSION 35`.
 *
 * Every struct is described by a {@linkcode StructLayout}: its C name, its
 * `sizeof`, and for every member the binding touches an `[offset, size]`
 * pair. `abi_test.ts` compiles a C program against the installed headers
 * (`/usr/include/fuse3`) and checks every number in this file, so any
 * drift between this file and the real ABI fails the test suite.
 *
 * Sources: libfuse 3.14 `fuse_lowlevel.h`, `fuse_common.h`, `fuse_opt.h`;
 * glibc `bits/struct_stat.h`, `bits/statvfs.h`, `sys/xattr.h`, `stdio.h`.
 * @module
 */
import { defineStruct, type StructLayout } from "../struct_layout.ts";

/**
 * The `FUSE_USE_VERSION` the layouts below correspond to. 35 selects the
 * `ioctl` signature with an `unsigned int cmd`; the low-level ops table is
 * otherwise identical for every API version from 3.0 to 3.14.
 */
export const FUSE_USE_VERSION = 35;

/** Size of a pointer, `size_t`, `long` and `off_t` on x86_64. */
export const PTR_SIZE = 8;

export type { StructLayout };

/** `struct timespec` (time_t tv_sec; long tv_nsec). */
export const TIMESPEC: StructLayout<
  "tv_sec" | "tv_nsec"
> = defineStruct("struct timespec", 16, {
  tv_sec: [0, 8],
  tv_nsec: [8, 8],
});

/** glibc x86_64 `struct stat` (144 bytes). */
export const STAT: StructLayout<
  | "st_dev"
  | "st_ino"
  | "st_nlink"
  | "st_mode"
  | "st_uid"
  | "st_gid"
  | "st_rdev"
  | "st_size"
  | "st_blksize"
  | "st_blocks"
  | "st_atim"
  | "st_atim.tv_sec"
  | "st_atim.tv_nsec"
  | "st_mtim"
  | "st_mtim.tv_sec"
  | "st_mtim.tv_nsec"
  | "st_ctim"
  | "st_ctim.tv_sec"
  | "st_ctim.tv_nsec"
> = defineStruct("struct stat", 144, {
  st_dev: [0, 8],
  st_ino: [8, 8],
  st_nlink: [16, 8],
  st_mode: [24, 4],
  st_uid: [28, 4],
  st_gid: [32, 4],
  st_rdev: [40, 8],
  st_size: [48, 8],
  st_blksize: [56, 8],
  st_blocks: [64, 8],
  st_atim: [72, 16],
  "st_atim.tv_sec": [72, 8],
  "st_atim.tv_nsec": [80, 8],
  st_mtim: [88, 16],
  "st_mtim.tv_sec": [88, 8],
  "st_mtim.tv_nsec": [96, 8],
  st_ctim: [104, 16],
  "st_ctim.tv_sec": [104, 8],
  "st_ctim.tv_nsec": [112, 8],
});

/** glibc x86_64 `struct statvfs` (112 bytes). */
export const STATVFS: StructLayout<
  | "f_bsize"
  | "f_frsize"
  | "f_blocks"
  | "f_bfree"
  | "f_bavail"
  | "f_files"
  | "f_ffree"
  | "f_favail"
  | "f_fsid"
  | "f_flag"
  | "f_namemax"
> = defineStruct("struct statvfs", 112, {
  f_bsize: [0, 8],
  f_frsize: [8, 8],
  f_blocks: [16, 8],
  f_bfree: [24, 8],
  f_bavail: [32, 8],
  f_files: [40, 8],
  f_ffree: [48, 8],
  f_favail: [56, 8],
  f_fsid: [64, 8],
  f_flag: [72, 8],
  f_namemax: [80, 8],
});

/** `struct fuse_entry_param` (fuse_lowlevel.h), argument of fuse_reply_entry/create. */
export const FUSE_ENTRY_PARAM: StructLayout<
  "ino" | "generation" | "attr" | "attr_timeout" | "entry_timeout"
> = defineStruct("struct fuse_entry_param", 176, {
  ino: [0, 8],
  generation: [8, 8],
  attr: [16, 144],
  attr_timeout: [160, 8],
  entry_timeout: [168, 8],
});

/**
 * `struct fuse_file_info` (fuse_common.h). The one-bit flags live in the
 * `unsigned int` that follows `flags`; see {@linkcode FILE_INFO_BITS}.
 */
export const FUSE_FILE_INFO: StructLayout<
  "flags" | "fh" | "lock_owner" | "poll_events"
> = defineStruct("struct fuse_file_info", 40, {
  flags: [0, 4],
  fh: [16, 8],
  lock_owner: [24, 8],
  poll_events: [32, 4],
});

/** Byte offset of the 32-bit word holding the fuse_file_info bitfields. */
export const FILE_INFO_BITFIELD_OFFSET = 4;

/**
 * Bit index (LSB = 0, within the little-endian u32 at
 * {@linkcode FILE_INFO_BITFIELD_OFFSET}) of each one-bit fuse_file_info flag.
 */
export const FILE_INFO_BITS: Readonly<{
  writepage: 0;
  direct_io: 1;
  keep_cache: 2;
  flush: 3;
  nonseekable: 4;
  flock_release: 5;
  cache_readdir: 6;
  noflush: 7;
}> = Object.freeze(
  {
    writepage: 0,
    direct_io: 1,
    keep_cache: 2,
    flush: 3,
    nonseekable: 4,
    flock_release: 5,
    cache_readdir: 6,
    noflush: 7,
  } as const,
);

/** Name of a one-bit fuse_file_info flag. */
export type FileInfoBit = keyof typeof FILE_INFO_BITS;

/** `struct fuse_ctx` (fuse_lowlevel.h), returned by fuse_req_ctx(). */
export const FUSE_CTX: StructLayout<
  "uid" | "gid" | "pid" | "umask"
> = defineStruct("struct fuse_ctx", 16, {
  uid: [0, 4],
  gid: [4, 4],
  pid: [8, 4],
  umask: [12, 4],
});

/** `struct fuse_conn_info` (fuse_common.h), passed to the `init` op. */
export const FUSE_CONN_INFO: StructLayout<
  | "proto_major"
  | "proto_minor"
  | "max_write"
  | "max_read"
  | "max_readahead"
  | "capable"
  | "want"
  | "max_background"
  | "congestion_threshold"
  | "time_gran"
> = defineStruct("struct fuse_conn_info", 128, {
  proto_major: [0, 4],
  proto_minor: [4, 4],
  max_write: [8, 4],
  max_read: [12, 4],
  max_readahead: [16, 4],
  capable: [20, 4],
  want: [24, 4],
  max_background: [28, 4],
  congestion_threshold: [32, 4],
  time_gran: [36, 4],
});

/** `struct fuse_args` (fuse_opt.h): int argc; char **argv; int allocated. */
export const FUSE_ARGS: StructLayout<
  "argc" | "argv" | "allocated"
> = defineStruct("struct fuse_args", 24, {
  argc: [0, 4],
  argv: [8, 8],
  allocated: [16, 4],
});

/** `struct fuse_buf` (fuse_common.h), used with fuse_session_receive_buf. */
export const FUSE_BUF: StructLayout<
  "size" | "flags" | "mem" | "fd" | "pos"
> = defineStruct("struct fuse_buf", 40, {
  size: [0, 8],
  flags: [8, 4],
  mem: [16, 8],
  fd: [24, 4],
  pos: [32, 8],
});

/** `struct pollfd` (poll.h). */
export const POLLFD: StructLayout<
  "fd" | "events" | "revents"
> = defineStruct("struct pollfd", 8, {
  fd: [0, 4],
  events: [4, 2],
  revents: [6, 2],
});

/** Name of a `struct fuse_lowlevel_ops` slot. */
export type LowlevelOpSlot =
  | "init"
  | "destroy"
  | "lookup"
  | "forget"
  | "getattr"
  | "setattr"
  | "readlink"
  | "mknod"
  | "mkdir"
  | "unlink"
  | "rmdir"
  | "symlink"
  | "rename"
  | "link"
  | "open"
  | "read"
  | "write"
  | "flush"
  | "release"
  | "fsync"
  | "opendir"
  | "readdir"
  | "releasedir"
  | "fsyncdir"
  | "statfs"
  | "setxattr"
  | "getxattr"
  | "listxattr"
  | "removexattr"
  | "access"
  | "create"
  | "getlk"
  | "setlk"
  | "bmap"
  | "ioctl"
  | "poll"
  | "write_buf"
  | "retrieve_reply"
  | "forget_multi"
  | "flock"
  | "fallocate"
  | "readdirplus"
  | "copy_file_range"
  | "lseek";

/**
 * Function-pointer slots of `struct fuse_lowlevel_ops`, in declaration
 * order. Slot `i` is at byte offset `i * 8`.
 */
export const LOWLEVEL_OPS_SLOTS: readonly LowlevelOpSlot[] = Object.freeze(
  [
    "init",
    "destroy",
    "lookup",
    "forget",
    "getattr",
    "setattr",
    "readlink",
    "mknod",
    "mkdir",
    "unlink",
    "rmdir",
    "symlink",
    "rename",
    "link",
    "open",
    "read",
    "write",
    "flush",
    "release",
    "fsync",
    "opendir",
    "readdir",
    "releasedir",
    "fsyncdir",
    "statfs",
    "setxattr",
    "getxattr",
    "listxattr",
    "removexattr",
    "access",
    "create",
    "getlk",
    "setlk",
    "bmap",
    "ioctl",
    "poll",
    "write_buf",
    "retrieve_reply",
    "forget_multi",
    "flock",
    "fallocate",
    "readdirplus",
    "copy_file_range",
    "lseek",
  ] as const,
);

/** `sizeof(struct fuse_lowlevel_ops)`: the `op_size` for fuse_session_new. */
export const LOWLEVEL_OPS_SIZE = LOWLEVEL_OPS_SLOTS.length * PTR_SIZE;

/** Byte offset of a slot in `struct fuse_lowlevel_ops`. */
export function opsSlotOffset(slot: LowlevelOpSlot): number {
  return LOWLEVEL_OPS_SLOTS.indexOf(slot) * PTR_SIZE;
}

// ---------------------------------------------------------------- constants

/** `to_set` bits of the setattr op (fuse_lowlevel.h). */
export const FUSE_SET_ATTR_MODE = 1 << 0;
/** setattr: uid is valid. */
export const FUSE_SET_ATTR_UID = 1 << 1;
/** setattr: gid is valid. */
export const FUSE_SET_ATTR_GID = 1 << 2;
/** setattr: size is valid (truncate). */
export const FUSE_SET_ATTR_SIZE = 1 << 3;
/** setattr: st_atim is valid. */
export const FUSE_SET_ATTR_ATIME = 1 << 4;
/** setattr: st_mtim is valid. */
export const FUSE_SET_ATTR_MTIME = 1 << 5;
/** setattr: set atime to the current time. */
export const FUSE_SET_ATTR_ATIME_NOW = 1 << 7;
/** setattr: set mtime to the current time. */
export const FUSE_SET_ATTR_MTIME_NOW = 1 << 8;
/** setattr: internal to the kernel protocol (ATTR_FORCE). */
export const FUSE_SET_ATTR_FORCE = 1 << 9;
/** setattr: st_ctim is valid. */
export const FUSE_SET_ATTR_CTIME = 1 << 10;
/** setattr: kill the setuid bit. */
export const FUSE_SET_ATTR_KILL_SUID = 1 << 11;
/** setattr: kill the setgid bit. */
export const FUSE_SET_ATTR_KILL_SGID = 1 << 12;
/** setattr: a file handle is given (fi is set). */
export const FUSE_SET_ATTR_FILE = 1 << 13;
/** setattr: kill security privileges (suid/sgid/caps). */
export const FUSE_SET_ATTR_KILL_PRIV = 1 << 14;
/** setattr: truncate as part of open(O_TRUNC). */
export const FUSE_SET_ATTR_OPEN = 1 << 15;
/** setattr: times were given explicitly (not "now"). */
export const FUSE_SET_ATTR_TIMES_SET = 1 << 16;
/** setattr: touch (utimes with NULL). */
export const FUSE_SET_ATTR_TOUCH = 1 << 17;

/** ioctl flags (fuse_common.h): 32-bit compat ioctl. */
export const FUSE_IOCTL_COMPAT = 1 << 0;
/** ioctl flags: not restricted to well-formed ioctls (CUSE only). */
export const FUSE_IOCTL_UNRESTRICTED = 1 << 1;
/** ioctl flags: retry with new iovecs. */
export const FUSE_IOCTL_RETRY = 1 << 2;
/** ioctl flags: the ioctl is on a directory. */
export const FUSE_IOCTL_DIR = 1 << 4;
/** Maximum number of iovecs in an ioctl retry. */
export const FUSE_IOCTL_MAX_IOV = 256;

/** renameat2 flag: fail with EEXIST if the target exists. */
export const RENAME_NOREPLACE = 1 << 0;
/** renameat2 flag: atomically exchange source and target. */
export const RENAME_EXCHANGE = 1 << 1;

/** setxattr flag: fail with EEXIST if the attribute exists. */
export const XATTR_CREATE = 1;
/** setxattr flag: fail with ENODATA if the attribute does not exist. */
export const XATTR_REPLACE = 2;

/** Capability bits of fuse_conn_info.capable / .want (fuse_common.h). */
export const FUSE_CAP: Readonly<
  Record<
    | "ASYNC_READ"
    | "POSIX_LOCKS"
    | "ATOMIC_O_TRUNC"
    | "EXPORT_SUPPORT"
    | "DONT_MASK"
    | "SPLICE_WRITE"
    | "SPLICE_MOVE"
    | "SPLICE_READ"
    | "FLOCK_LOCKS"
    | "IOCTL_DIR"
    | "AUTO_INVAL_DATA"
    | "READDIRPLUS"
    | "READDIRPLUS_AUTO"
    | "ASYNC_DIO"
    | "WRITEBACK_CACHE"
    | "NO_OPEN_SUPPORT"
    | "PARALLEL_DIROPS"
    | "POSIX_ACL"
    | "HANDLE_KILLPRIV"
    | "CACHE_SYMLINKS"
    | "NO_OPENDIR_SUPPORT"
    | "EXPLICIT_INVAL_DATA"
    | "EXPIRE_ONLY",
    number
  >
> = Object.freeze({
  ASYNC_READ: 1 << 0,
  POSIX_LOCKS: 1 << 1,
  ATOMIC_O_TRUNC: 1 << 3,
  EXPORT_SUPPORT: 1 << 4,
  DONT_MASK: 1 << 6,
  SPLICE_WRITE: 1 << 7,
  SPLICE_MOVE: 1 << 8,
  SPLICE_READ: 1 << 9,
  FLOCK_LOCKS: 1 << 10,
  IOCTL_DIR: 1 << 11,
  AUTO_INVAL_DATA: 1 << 12,
  READDIRPLUS: 1 << 13,
  READDIRPLUS_AUTO: 1 << 14,
  ASYNC_DIO: 1 << 15,
  WRITEBACK_CACHE: 1 << 16,
  NO_OPEN_SUPPORT: 1 << 17,
  PARALLEL_DIROPS: 1 << 18,
  POSIX_ACL: 1 << 19,
  HANDLE_KILLPRIV: 1 << 20,
  CACHE_SYMLINKS: 1 << 23,
  NO_OPENDIR_SUPPORT: 1 << 24,
  EXPLICIT_INVAL_DATA: 1 << 25,
  EXPIRE_ONLY: 1 << 26,
});

/** libc constants used by the session loop (poll.h, sys/eventfd.h, fcntl.h). */
export const LIBC: Readonly<
  Record<
    | "POLLIN"
    | "POLLERR"
    | "POLLHUP"
    | "POLLNVAL"
    | "EFD_CLOEXEC"
    | "EFD_NONBLOCK"
    | "F_GETFL"
    | "F_SETFL"
    | "O_NONBLOCK",
    number
  >
> = Object.freeze({
  POLLIN: 0x001,
  POLLERR: 0x008,
  POLLHUP: 0x010,
  POLLNVAL: 0x020,
  EFD_CLOEXEC: 0o2000000,
  EFD_NONBLOCK: 0o4000,
  F_GETFL: 3,
  F_SETFL: 4,
  O_NONBLOCK: 0o4000,
});

/**
 * Every named integer constant above, keyed by its C macro name; used by
 * abi_test.ts to compare against the headers.
 */
export const C_CONSTANTS: Readonly<Record<string, number>> = Object.freeze({
  FUSE_SET_ATTR_MODE,
  FUSE_SET_ATTR_UID,
  FUSE_SET_ATTR_GID,
  FUSE_SET_ATTR_SIZE,
  FUSE_SET_ATTR_ATIME,
  FUSE_SET_ATTR_MTIME,
  FUSE_SET_ATTR_ATIME_NOW,
  FUSE_SET_ATTR_MTIME_NOW,
  FUSE_SET_ATTR_FORCE,
  FUSE_SET_ATTR_CTIME,
  FUSE_SET_ATTR_KILL_SUID,
  FUSE_SET_ATTR_KILL_SGID,
  FUSE_SET_ATTR_FILE,
  FUSE_SET_ATTR_KILL_PRIV,
  FUSE_SET_ATTR_OPEN,
  FUSE_SET_ATTR_TIMES_SET,
  FUSE_SET_ATTR_TOUCH,
  FUSE_IOCTL_COMPAT,
  FUSE_IOCTL_UNRESTRICTED,
  FUSE_IOCTL_RETRY,
  FUSE_IOCTL_DIR,
  FUSE_IOCTL_MAX_IOV,
  RENAME_NOREPLACE,
  RENAME_EXCHANGE,
  XATTR_CREATE,
  XATTR_REPLACE,
  ...Object.fromEntries(
    Object.entries(FUSE_CAP).map(([k, v]) => [`FUSE_CAP_${k}`, v]),
  ),
  ...LIBC,
});

// ------------------------------------------------------------ value types

/** A 64-bit unsigned integer given as a JS number (must be safe) or bigint. */
export type U64 = number | bigint;

/**
 * File attributes, the JS view of `struct stat`. Times are nanoseconds
 * since the Unix epoch. Omitted fields encode as: `nlink` 1, `uid`/`gid`
 * 0, `size` 0, `blksize` 4096, `blocks` ceil(size / 512), times 0.
 */
export interface StatAttr {
  /** Inode number (`st_ino`). */
  ino: U64;
  /** File type and permission bits (`st_mode`, e.g. `0o100644`). */
  mode: number;
  /** Link count. */
  nlink?: U64;
  /** Owner user id. */
  uid?: number;
  /** Owner group id. */
  gid?: number;
  /** Device id for character/block devices. */
  rdev?: U64;
  /** Size in bytes. */
  size?: U64;
  /** Preferred I/O block size in bytes. */
  blksize?: U64;
  /** Number of 512-byte blocks allocated. */
  blocks?: U64;
  /** Access time, ns since epoch. */
  atimeNs?: bigint;
  /** Modification time, ns since epoch. */
  mtimeNs?: bigint;
  /** Status change time, ns since epoch. */
  ctimeNs?: bigint;
  /** Device id of the containing filesystem (ignored by FUSE). */
  dev?: U64;
}

/** Decoded `struct stat` (all fields present). */
export interface DecodedStat {
  /** st_dev */
  dev: bigint;
  /** st_ino */
  ino: bigint;
  /** st_nlink */
  nlink: bigint;
  /** st_mode (type and permission bits) */
  mode: number;
  /** st_uid */
  uid: number;
  /** st_gid */
  gid: number;
  /** st_rdev */
  rdev: bigint;
  /** st_size, bytes */
  size: bigint;
  /** st_blksize, bytes */
  blksize: bigint;
  /** st_blocks, 512-byte units */
  blocks: bigint;
  /** st_atim, ns since epoch */
  atimeNs: bigint;
  /** st_mtim, ns since epoch */
  mtimeNs: bigint;
  /** st_ctim, ns since epoch */
  ctimeNs: bigint;
}

/** Filesystem statistics, the JS view of `struct statvfs`. Counts are in blocks of `frsize` bytes. */
export interface StatFs {
  /** Preferred block size in bytes (default 4096). */
  bsize?: number;
  /** Fundamental block size in bytes (default `bsize`). */
  frsize?: number;
  /** Total blocks. */
  blocks?: U64;
  /** Free blocks. */
  bfree?: U64;
  /** Free blocks available to unprivileged users (default `bfree`). */
  bavail?: U64;
  /** Total inodes. */
  files?: U64;
  /** Free inodes. */
  ffree?: U64;
  /** Free inodes for unprivileged users (default `ffree`). */
  favail?: U64;
  /** Filesystem id (ignored by FUSE). */
  fsid?: U64;
  /** Mount flags (ignored by FUSE). */
  flag?: U64;
  /** Maximum filename length in bytes (default 255). */
  namemax?: number;
}

/** Arguments of a `struct fuse_entry_param`. Timeouts are in seconds. */
export interface EntryParam {
  /** Inode number; 0 means a negative (cacheable "does not exist") entry. */
  ino: U64;
  /** Generation number, (ino, generation) must be unique over the fs lifetime. */
  generation?: U64;
  /** Attributes of the inode (`attr.ino` defaults to `ino`). */
  attr: Omit<StatAttr, "ino"> & { ino?: U64 };
  /** How long the kernel may cache the attributes, seconds. */
  attrTimeout?: number;
  /** How long the kernel may cache the name, seconds. */
  entryTimeout?: number;
}

/** Decoded `struct fuse_file_info`. */
export interface FileInfo {
  /** open(2) flags (O_RDONLY, O_TRUNC, ...). */
  flags: number;
  /** This write comes from the page cache (writeback); ctx may be invalid. */
  writepage: boolean;
  /** Use direct I/O for this open file (set by open/create). */
  directIo: boolean;
  /** Do not invalidate the page cache on open (set by open/create). */
  keepCache: boolean;
  /** Set on flush, and on release when a flush is implied. */
  flush: boolean;
  /** The file is not seekable (set by open/create). */
  nonseekable: boolean;
  /** flock locks should be released (release only). */
  flockRelease: boolean;
  /** Cache readdir results (set by opendir). */
  cacheReaddir: boolean;
  /** No flush needed on close (set by open/create). */
  noflush: boolean;
  /** File handle chosen by open/create/opendir. */
  fh: bigint;
  /** Lock owner id (flush, locking ops). */
  lockOwner: bigint;
  /** Requested poll events. */
  pollEvents: number;
}

/** Decoded `struct fuse_ctx`: the process that caused a request. */
export interface FuseCtx {
  /** Effective uid of the caller. */
  uid: number;
  /** Effective gid of the caller. */
  gid: number;
  /** Thread id of the caller. */
  pid: number;
  /** umask of the caller. */
  umask: number;
}

/** Decoded `struct fuse_conn_info`. */
export interface ConnInfo {
  /** Kernel protocol major version (read-only). */
  protoMajor: number;
  /** Kernel protocol minor version (read-only). */
  protoMinor: number;
  /** Maximum size of a WRITE request, bytes. */
  maxWrite: number;
  /** Maximum size of a READ request, bytes (0 = no limit). */
  maxRead: number;
  /** Maximum readahead, bytes. */
  maxReadahead: number;
  /** FUSE_CAP_* bits supported by kernel and library (read-only). */
  capable: number;
  /** FUSE_CAP_* bits requested by the filesystem. */
  want: number;
  /** Maximum number of pending background requests. */
  maxBackground: number;
  /** Background requests at which the kernel reports congestion. */
  congestionThreshold: number;
  /** Timestamp granularity in ns (1 = ns precision). */
  timeGran: number;
}

// --------------------------------------------------------------- helpers

const NS_PER_SEC = 1_000_000_000n;

function big(v: U64 | undefined, dflt: bigint): bigint {
  return v === undefined ? dflt : BigInt(v);
}

/** Write `struct timespec` for `ns` nanoseconds since the epoch (floor division). */
export function encodeTimespec(view: DataView, off: number, ns: bigint): void {
  let sec = ns / NS_PER_SEC;
  let nsec = ns % NS_PER_SEC;
  if (nsec < 0n) {
    nsec += NS_PER_SEC;
    sec -= 1n;
  }
  view.setBigInt64(off + TIMESPEC.off.tv_sec, sec, true);
  view.setBigInt64(off + TIMESPEC.off.tv_nsec, nsec, true);
}

/** Read a `struct timespec` as nanoseconds since the epoch. */
export function decodeTimespec(view: DataView, off: number): bigint {
  return view.getBigInt64(off + TIMESPEC.off.tv_sec, true) * NS_PER_SEC +
    view.getBigInt64(off + TIMESPEC.off.tv_nsec, true);
}

/** Write a `struct stat` (the whole 144 bytes, zeroing unused fields). */
export function encodeStat(view: DataView, off: number, a: StatAttr): void {
  for (let i = 0; i < STAT.size; i += 8) view.setBigUint64(off + i, 0n, true);
  const S = STAT.off;
  const size = big(a.size, 0n);
  view.setBigUint64(off + S.st_dev, big(a.dev, 0n), true);
  view.setBigUint64(off + S.st_ino, BigInt(a.ino), true);
  view.setBigUint64(off + S.st_nlink, big(a.nlink, 1n), true);
  view.setUint32(off + S.st_mode, a.mode >>> 0, true);
  view.setUint32(off + S.st_uid, (a.uid ?? 0) >>> 0, true);
  view.setUint32(off + S.st_gid, (a.gid ?? 0) >>> 0, true);
  view.setBigUint64(off + S.st_rdev, big(a.rdev, 0n), true);
  view.setBigInt64(off + S.st_size, size, true);
  view.setBigInt64(off + S.st_blksize, big(a.blksize, 4096n), true);
  view.setBigInt64(
    off + S.st_blocks,
    big(a.blocks, (size + 511n) / 512n),
    true,
  );
  encodeTimespec(view, off + S.st_atim, a.atimeNs ?? 0n);
  encodeTimespec(view, off + S.st_mtim, a.mtimeNs ?? 0n);
  encodeTimespec(view, off + S.st_ctim, a.ctimeNs ?? 0n);
}

/** Read a `struct stat`. */
export function decodeStat(view: DataView, off: number): DecodedStat {
  const S = STAT.off;
  return {
    dev: view.getBigUint64(off + S.st_dev, true),
    ino: view.getBigUint64(off + S.st_ino, true),
    nlink: view.getBigUint64(off + S.st_nlink, true),
    mode: view.getUint32(off + S.st_mode, true),
    uid: view.getUint32(off + S.st_uid, true),
    gid: view.getUint32(off + S.st_gid, true),
    rdev: view.getBigUint64(off + S.st_rdev, true),
    size: view.getBigInt64(off + S.st_size, true),
    blksize: view.getBigInt64(off + S.st_blksize, true),
    blocks: view.getBigInt64(off + S.st_blocks, true),
    atimeNs: decodeTimespec(view, off + S.st_atim),
    mtimeNs: decodeTimespec(view, off + S.st_mtim),
    ctimeNs: decodeTimespec(view, off + S.st_ctim),
  };
}

/** Write a `struct statvfs` (whole struct, spare fields zeroed). */
export function encodeStatvfs(view: DataView, off: number, s: StatFs): void {
  for (let i = 0; i < STATVFS.size; i += 8) {
    view.setBigUint64(off + i, 0n, true);
  }
  const V = STATVFS.off;
  const bsize = s.bsize ?? 4096;
  const bfree = big(s.bfree, 0n);
  const ffree = big(s.ffree, 0n);
  view.setBigUint64(off + V.f_bsize, BigInt(bsize), true);
  view.setBigUint64(off + V.f_frsize, BigInt(s.frsize ?? bsize), true);
  view.setBigUint64(off + V.f_blocks, big(s.blocks, 0n), true);
  view.setBigUint64(off + V.f_bfree, bfree, true);
  view.setBigUint64(off + V.f_bavail, big(s.bavail, bfree), true);
  view.setBigUint64(off + V.f_files, big(s.files, 0n), true);
  view.setBigUint64(off + V.f_ffree, ffree, true);
  view.setBigUint64(off + V.f_favail, big(s.favail, ffree), true);
  view.setBigUint64(off + V.f_fsid, big(s.fsid, 0n), true);
  view.setBigUint64(off + V.f_flag, big(s.flag, 0n), true);
  view.setBigUint64(off + V.f_namemax, BigInt(s.namemax ?? 255), true);
}

/** Read a `struct statvfs`. */
export function decodeStatvfs(view: DataView, off: number): Required<StatFs> {
  const V = STATVFS.off;
  const u = (o: number) => view.getBigUint64(off + o, true);
  return {
    bsize: Number(u(V.f_bsize)),
    frsize: Number(u(V.f_frsize)),
    blocks: u(V.f_blocks),
    bfree: u(V.f_bfree),
    bavail: u(V.f_bavail),
    files: u(V.f_files),
    ffree: u(V.f_ffree),
    favail: u(V.f_favail),
    fsid: u(V.f_fsid),
    flag: u(V.f_flag),
    namemax: Number(u(V.f_namemax)),
  };
}

/**
 * Write a `struct fuse_entry_param`. Timeouts default to `defaultTimeout`
 * seconds.
 */
export function encodeEntryParam(
  view: DataView,
  off: number,
  e: EntryParam,
  defaultTimeout = 1,
): void {
  const E = FUSE_ENTRY_PARAM.off;
  view.setBigUint64(off + E.ino, BigInt(e.ino), true);
  view.setBigUint64(off + E.generation, big(e.generation, 0n), true);
  encodeStat(view, off + E.attr, { ...e.attr, ino: e.attr.ino ?? e.ino });
  view.setFloat64(off + E.attr_timeout, e.attrTimeout ?? defaultTimeout, true);
  view.setFloat64(
    off + E.entry_timeout,
    e.entryTimeout ?? defaultTimeout,
    true,
  );
}

const BIT_NAMES: ReadonlyArray<[FileInfoBit, keyof FileInfo]> = [
  ["writepage", "writepage"],
  ["direct_io", "directIo"],
  ["keep_cache", "keepCache"],
  ["flush", "flush"],
  ["nonseekable", "nonseekable"],
  ["flock_release", "flockRelease"],
  ["cache_readdir", "cacheReaddir"],
  ["noflush", "noflush"],
];

/** Read a `struct fuse_file_info`, including its bitfields. */
export function decodeFileInfo(view: DataView, off: number): FileInfo {
  const F = FUSE_FILE_INFO.off;
  const bits = view.getUint32(off + FILE_INFO_BITFIELD_OFFSET, true);
  const fi = {
    flags: view.getInt32(off + F.flags, true),
    fh: view.getBigUint64(off + F.fh, true),
    lockOwner: view.getBigUint64(off + F.lock_owner, true),
    pollEvents: view.getUint32(off + F.poll_events, true),
  } as FileInfo;
  for (const [c, js] of BIT_NAMES) {
    (fi as unknown as Record<string, boolean>)[js] = ((bits >>> FILE_INFO_BITS[c]) & 1) === 1;
  }
  return fi;
}

/** Write a `struct fuse_file_info` (whole struct; padding bits zeroed). */
export function encodeFileInfo(
  view: DataView,
  off: number,
  fi: Partial<FileInfo>,
): void {
  const F = FUSE_FILE_INFO.off;
  for (let i = 0; i < FUSE_FILE_INFO.size; i += 8) {
    view.setBigUint64(off + i, 0n, true);
  }
  let bits = 0;
  for (const [c, js] of BIT_NAMES) {
    if (fi[js]) bits |= 1 << FILE_INFO_BITS[c];
  }
  view.setInt32(off + F.flags, fi.flags ?? 0, true);
  view.setUint32(off + FILE_INFO_BITFIELD_OFFSET, bits >>> 0, true);
  view.setBigUint64(off + F.fh, fi.fh ?? 0n, true);
  view.setBigUint64(off + F.lock_owner, fi.lockOwner ?? 0n, true);
  view.setUint32(off + F.poll_events, fi.pollEvents ?? 0, true);
}

/** Read a `struct fuse_ctx`. */
export function decodeCtx(view: DataView, off: number): FuseCtx {
  const C = FUSE_CTX.off;
  return {
    uid: view.getUint32(off + C.uid, true),
    gid: view.getUint32(off + C.gid, true),
    pid: view.getInt32(off + C.pid, true),
    umask: view.getUint32(off + C.umask, true),
  };
}

/** Read a `struct fuse_conn_info`. */
export function decodeConnInfo(view: DataView, off: number): ConnInfo {
  const C = FUSE_CONN_INFO.off;
  const u = (o: number) => view.getUint32(off + o, true);
  return {
    protoMajor: u(C.proto_major),
    protoMinor: u(C.proto_minor),
    maxWrite: u(C.max_write),
    maxRead: u(C.max_read),
    maxReadahead: u(C.max_readahead),
    capable: u(C.capable),
    want: u(C.want),
    maxBackground: u(C.max_background),
    congestionThreshold: u(C.congestion_threshold),
    timeGran: u(C.time_gran),
  };
}

/**
 * Write back the fields of `struct fuse_conn_info` a filesystem may change
 * in `init` (want, max_write, max_read, max_readahead, max_background,
 * congestion_threshold, time_gran). proto_* and capable are left alone.
 */
export function encodeConnInfo(view: DataView, off: number, c: ConnInfo): void {
  const C = FUSE_CONN_INFO.off;
  const s = (o: number, v: number) => view.setUint32(off + o, v >>> 0, true);
  s(C.want, c.want);
  s(C.max_write, c.maxWrite);
  s(C.max_read, c.maxRead);
  s(C.max_readahead, c.maxReadahead);
  s(C.max_background, c.maxBackground);
  s(C.congestion_threshold, c.congestionThreshold);
  s(C.time_gran, c.timeGran);
}

/** Write a `struct fuse_args`. `argv` is the address of a NULL-terminated `char *[]`. */
export function encodeFuseArgs(
  view: DataView,
  off: number,
  argc: number,
  argv: bigint,
  allocated = 0,
): void {
  view.setInt32(off + FUSE_ARGS.off.argc, argc, true);
  view.setInt32(off + 4, 0, true);
  view.setBigUint64(off + FUSE_ARGS.off.argv, argv, true);
  view.setInt32(off + FUSE_ARGS.off.allocated, allocated, true);
  view.setInt32(off + 20, 0, true);
}
