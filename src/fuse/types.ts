/**
 * The public types of the FUSE binding: what a filesystem implements
 * ({@linkcode FuseOps}, one optional handler per op of
 * `struct fuse_lowlevel_ops`), what its handlers receive ({@linkcode FuseRequest},
 * {@linkcode SetAttrChanges}) and return (entry, attribute, open, directory,
 * ioctl and errno replies), and the options and handle of a mount
 * ({@linkcode MountOptions}, {@linkcode FuseMount}). The session that drives
 * them is session.ts, which re-exports all of this.
 *
 * Source of the C API: libfuse 3.14 `fuse_lowlevel.h`.
 * @module
 */

import type { ConnInfo, EntryParam, FileInfo, StatAttr, StatFs, U64 } from "./abi.ts";

/** A value or a promise of it. */
export type MaybePromise<T> = T | Promise<T>;

/** Inode number as passed to handlers (`fuse_ino_t`, root is 1n). */
export type Ino = bigint;

import type { FuseStats } from "../stats/fuse_stats.ts";

/** The FUSE root inode number (`FUSE_ROOT_ID`). */
export const FUSE_ROOT_ID = 1n;

/**
 * The request being served, with the identity of the calling process
 * (`fuse_req_ctx`). Valid until the reply has been made.
 */
export interface FuseRequest {
  /** Effective user id of the caller (0 if unknown, e.g. writeback). */
  readonly uid: number;
  /** Effective group id of the caller. */
  readonly gid: number;
  /** Thread id of the caller. */
  readonly pid: number;
  /** umask of the caller (meaningful for create/mkdir/mknod). */
  readonly umask: number;
  /** True if the kernel has sent FUSE_INTERRUPT for this request (`fuse_req_interrupted`). */
  interrupted(): boolean;
  /**
   * Tells the kernel to drop what it caches of inode `ino` (a FUSE node id)
   * (`fuse_lowlevel_notify_inval_inode`): always its attributes, and with
   * `offset` ≥ 0 also the page cache from byte `offset` for `length` bytes
   * (0 = to the end of the file). Use a negative `offset` from a handler of
   * a write to the same inode: the kernel holds those pages locked while it
   * waits for the reply, so dropping pages then would deadlock.
   * @returns 0, or a negative errno (-ENOENT when the kernel does not know
   *   the inode, which is harmless)
   */
  invalidateInode(ino: bigint, offset: bigint, length: bigint): number;
}

/**
 * Attributes to reply to getattr/setattr: either the attributes (cached for
 * the mount's `attrTimeout`) or `{ attr, timeout }` with a timeout in
 * seconds.
 */
export type AttrReply = StatAttr | { attr: StatAttr; timeout?: number };

/** What open/opendir/create may set in the reply's `fuse_file_info`. */
export interface OpenReply {
  /** File handle, passed back in `fi.fh` of later calls on this open file. */
  fh?: U64;
  /** Bypass the page cache for this open file. */
  directIo?: boolean;
  /** Keep previously cached data. */
  keepCache?: boolean;
  /** The file is not seekable. */
  nonseekable?: boolean;
  /** (opendir) allow the kernel to cache readdir results. */
  cacheReaddir?: boolean;
  /** No FLUSH on close. */
  noflush?: boolean;
}

/** Reply of create: the new entry plus the open file's flags. */
export type CreateReply = EntryParam & OpenReply;

/**
 * One directory entry for readdir. `offset` is the cookie the kernel will
 * pass back to continue *after* this entry; if omitted it is positional:
 * `requestOffset + index + 1` (entries must then be exactly those following
 * position `requestOffset` in a stable order).
 */
export interface DirEntry {
  /** File name (no slashes; "." and ".." allowed). */
  name: string | Uint8Array;
  /** Inode number. */
  ino: U64;
  /** File mode; only the type bits (`S_IFMT`) are used. */
  mode: number;
  /** Cookie of the next entry (see above). */
  offset?: U64;
}

/**
 * One directory entry for readdirplus. Each entry except "." and ".."
 * counts as a lookup (the kernel will `forget` it later).
 */
export interface DirEntryPlus {
  /** File name. */
  name: string | Uint8Array;
  /** The entry, as for lookup. */
  entry: EntryParam;
  /** Cookie of the next entry (see {@linkcode DirEntry.offset}). */
  offset?: U64;
}

/**
 * Decoded setattr request. Only fields whose bit is set in `valid`
 * (FUSE_SET_ATTR_*) are present. `atimeNow`/`mtimeNow` mean "set to the
 * current time"; the binding then also fills `atimeNs`/`mtimeNs` with the
 * current wall-clock time.
 */
export interface SetAttrChanges {
  /** FUSE_SET_ATTR_* bits as sent by libfuse (`to_set`). */
  valid: number;
  /** New permission bits (and type bits as in st_mode). */
  mode?: number;
  /** New owner. */
  uid?: number;
  /** New group. */
  gid?: number;
  /** New size in bytes (truncate/extend). */
  size?: bigint;
  /** New access time, ns since epoch. */
  atimeNs?: bigint;
  /** New modification time, ns since epoch. */
  mtimeNs?: bigint;
  /** New change time, ns since epoch. */
  ctimeNs?: bigint;
  /** atime set to "now" (UTIME_NOW). */
  atimeNow: boolean;
  /** mtime set to "now". */
  mtimeNow: boolean;
}

/**
 * An error reply returned (not thrown) by a handler: the request is answered
 * with `errno`, as if an error with that `errno` had been thrown, without the
 * cost of building an exception (a stack trace) on a hot path such as the
 * kernel's `getxattr("security.capability")` before every write. Handlers whose
 * type allows it may return one; make them with {@linkcode errnoReply}.
 */
export class ErrnoReply {
  /** @param errno positive errno, 1..4095 */
  constructor(readonly errno: number) {}
}

const errnoReplies = new Map<number, ErrnoReply>();

/**
 * The (shared, immutable) {@linkcode ErrnoReply} of `errno`.
 * @throws RangeError when `errno` is not an integer in 1..4095
 */
export function errnoReply(errno: number): ErrnoReply {
  let r = errnoReplies.get(errno);
  if (!r) {
    if (!Number.isInteger(errno) || errno < 1 || errno > 4095) throw new RangeError(`not an errno: ${errno}`);
    errnoReplies.set(errno, r = Object.freeze(new ErrnoReply(errno)));
  }
  return r;
}

/** Reply of an ioctl: the ioctl(2) return value and the output bytes. */
export interface IoctlReply {
  /** Return value seen by the caller of ioctl(2) (default 0). */
  result?: number;
  /** Output data, at most `outSize` bytes (copied to the caller's buffer). */
  data?: Uint8Array;
}

/**
 * The filesystem: one optional method per libfuse low-level op, with the
 * same parameter order as `struct fuse_lowlevel_ops` (fuse_lowlevel.h),
 * minus pointers the binding handles. Handlers return the reply's value (or
 * a Promise of it); the binding makes the `fuse_reply_*` call. To fail,
 * throw (or reject with) an object with a numeric `errno` (e.g. `FsError`
 * of src/errors.ts); any other exception replies EIO.
 *
 * Names (`Uint8Array`) are raw bytes without the NUL, copied out of libfuse
 * memory. Inodes are `bigint`. Omitted methods get libfuse's default
 * behaviour (usually ENOSYS; open/opendir/release/... succeed).
 *
 * Never touch the mountpoint from a handler (see the module doc of session.ts).
 */
export interface FuseOps {
  /**
   * Set when `write` is synchronous and keeps no reference to its `data` once
   * it returns: `data` is then a view of libfuse's receive buffer instead of a
   * copy of it (one copy of every written byte less). The buffer is reused for
   * the next request, so a `write` that returns a Promise is a bug: it is
   * reported to `onError` (the bytes it still reads may have changed).
   */
  readonly borrowWriteData?: boolean;
  /** Session start (FUSE_INIT). Synchronous; may change `conn.want` and limits in place. */
  init?(conn: ConnInfo): void;
  /** Session end (FUSE_DESTROY or fuse_session_destroy). Synchronous. */
  destroy?(): void;
  /** Look up `name` in directory `parent`; increments the inode's lookup count. */
  lookup?(
    req: FuseRequest,
    parent: Ino,
    name: Uint8Array,
  ): MaybePromise<EntryParam>;
  /** Drop `nlookup` lookups of `ino`. No reply is sent (fuse_reply_none). */
  forget?(req: FuseRequest, ino: Ino, nlookup: bigint): MaybePromise<void>;
  /** Attributes of `ino`; `fi` is set when called on an open file. */
  getattr?(
    req: FuseRequest,
    ino: Ino,
    fi: FileInfo | null,
  ): MaybePromise<AttrReply>;
  /** Change attributes (chmod/chown/truncate/utimens); reply with the new attributes. */
  setattr?(
    req: FuseRequest,
    ino: Ino,
    changes: SetAttrChanges,
    fi: FileInfo | null,
  ): MaybePromise<AttrReply>;
  /** Target of a symlink. */
  readlink?(req: FuseRequest, ino: Ino): MaybePromise<Uint8Array | string>;
  /** Create a file node (regular, device, fifo, socket). `mode` includes the type. */
  mknod?(
    req: FuseRequest,
    parent: Ino,
    name: Uint8Array,
    mode: number,
    rdev: bigint,
  ): MaybePromise<EntryParam>;
  /** Create a directory. `mode` has permission bits only (umask already applied unless DONT_MASK). */
  mkdir?(
    req: FuseRequest,
    parent: Ino,
    name: Uint8Array,
    mode: number,
  ): MaybePromise<EntryParam>;
  /** Remove a non-directory. */
  unlink?(req: FuseRequest, parent: Ino, name: Uint8Array): MaybePromise<void>;
  /** Remove an empty directory. */
  rmdir?(req: FuseRequest, parent: Ino, name: Uint8Array): MaybePromise<void>;
  /** Create a symlink `name` in `parent` pointing to `target`. */
  symlink?(
    req: FuseRequest,
    target: Uint8Array,
    parent: Ino,
    name: Uint8Array,
  ): MaybePromise<EntryParam>;
  /** Rename; `flags` may hold RENAME_NOREPLACE / RENAME_EXCHANGE. */
  rename?(
    req: FuseRequest,
    parent: Ino,
    name: Uint8Array,
    newParent: Ino,
    newName: Uint8Array,
    flags: number,
  ): MaybePromise<void>;
  /** Create a hard link to `ino` as `newName` in `newParent`. */
  link?(
    req: FuseRequest,
    ino: Ino,
    newParent: Ino,
    newName: Uint8Array,
  ): MaybePromise<EntryParam>;
  /** Open a file; `fi.flags` holds the open(2) flags. */
  open?(
    req: FuseRequest,
    ino: Ino,
    fi: FileInfo,
  ): MaybePromise<OpenReply | void>;
  /** Read up to `size` bytes at `offset`; a shorter result means EOF (unless direct_io). */
  read?(
    req: FuseRequest,
    ino: Ino,
    size: number,
    offset: bigint,
    fi: FileInfo,
  ): MaybePromise<Uint8Array>;
  /**
   * Write `data` at `offset`; return the number of bytes written (default: all).
   * `data` is a copy unless {@linkcode FuseOps.borrowWriteData} is set.
   */
  write?(
    req: FuseRequest,
    ino: Ino,
    data: Uint8Array,
    offset: bigint,
    fi: FileInfo,
  ): MaybePromise<number | void>;
  /** close(2) of one file descriptor of an open file. */
  flush?(req: FuseRequest, ino: Ino, fi: FileInfo): MaybePromise<void>;
  /** Last close of an open file. Errors are not seen by the caller. */
  release?(req: FuseRequest, ino: Ino, fi: FileInfo): MaybePromise<void>;
  /** fsync/fdatasync (`datasync` true: data only). */
  fsync?(
    req: FuseRequest,
    ino: Ino,
    datasync: boolean,
    fi: FileInfo,
  ): MaybePromise<void>;
  /** Open a directory. */
  opendir?(
    req: FuseRequest,
    ino: Ino,
    fi: FileInfo,
  ): MaybePromise<OpenReply | void>;
  /**
   * Entries after cookie `offset` (0 = from the start). The binding packs
   * as many as fit into `size` bytes; return at least those. An empty
   * array means end of directory.
   */
  readdir?(
    req: FuseRequest,
    ino: Ino,
    size: number,
    offset: bigint,
    fi: FileInfo,
  ): MaybePromise<Iterable<DirEntry>>;
  /** Like readdir, with full entries (see {@linkcode DirEntryPlus}). */
  readdirplus?(
    req: FuseRequest,
    ino: Ino,
    size: number,
    offset: bigint,
    fi: FileInfo,
  ): MaybePromise<Iterable<DirEntryPlus>>;
  /** Close a directory. */
  releasedir?(req: FuseRequest, ino: Ino, fi: FileInfo): MaybePromise<void>;
  /** fsync on a directory. */
  fsyncdir?(
    req: FuseRequest,
    ino: Ino,
    datasync: boolean,
    fi: FileInfo,
  ): MaybePromise<void>;
  /** Filesystem statistics (statfs(2)/df). */
  statfs?(req: FuseRequest, ino: Ino): MaybePromise<StatFs>;
  /** Set an extended attribute; `flags` 0, XATTR_CREATE or XATTR_REPLACE. */
  setxattr?(
    req: FuseRequest,
    ino: Ino,
    name: Uint8Array,
    value: Uint8Array,
    flags: number,
  ): MaybePromise<void>;
  /**
   * Value of an extended attribute (throw or return ENODATA if absent). The
   * binding answers size probes (`size` 0) and ERANGE itself.
   */
  getxattr?(
    req: FuseRequest,
    ino: Ino,
    name: Uint8Array,
    size: number,
  ): MaybePromise<Uint8Array | string | ErrnoReply>;
  /** Names of the extended attributes; the binding NUL-joins them and handles size/ERANGE. */
  listxattr?(
    req: FuseRequest,
    ino: Ino,
    size: number,
  ): MaybePromise<Iterable<Uint8Array | string>>;
  /** Remove an extended attribute. */
  removexattr?(
    req: FuseRequest,
    ino: Ino,
    name: Uint8Array,
  ): MaybePromise<void>;
  /** access(2) check; `mask` is R_OK/W_OK/X_OK bits or F_OK (0). */
  access?(req: FuseRequest, ino: Ino, mask: number): MaybePromise<void>;
  /** Create and open a file (O_CREAT). `mode` includes S_IFREG. */
  create?(
    req: FuseRequest,
    parent: Ino,
    name: Uint8Array,
    mode: number,
    fi: FileInfo,
  ): MaybePromise<CreateReply>;
  /** fallocate(2): `mode` FALLOC_FL_* bits, range in bytes. */
  fallocate?(
    req: FuseRequest,
    ino: Ino,
    mode: number,
    offset: bigint,
    length: bigint,
    fi: FileInfo,
  ): MaybePromise<void>;
  /**
   * Restricted ioctl(2) on an open file: `cmd` is the 32-bit request
   * (`_IOWR(...)`), `inData` the `_IOC_SIZE` bytes copied in for `_IOW`,
   * `outSize` how many bytes the caller expects back for `_IOR`. `flags`
   * holds FUSE_IOCTL_* bits (e.g. FUSE_IOCTL_DIR).
   */
  ioctl?(
    req: FuseRequest,
    ino: Ino,
    cmd: number,
    fi: FileInfo,
    flags: number,
    inData: Uint8Array,
    outSize: number,
  ): MaybePromise<IoctlReply | void>;
}

/** Options of {@linkcode mountFuse}. */
export interface MountOptions {
  /**
   * Mount options as for `-o`, one per element, e.g. `["fsname=vexfs",
   * "subtype=vexfs", "allow_other", "default_permissions", "ro"]`.
   * Unknown options make mounting fail.
   */
  options?: string[];
  /** Pass `-d` to libfuse: log every request to stderr. */
  debug?: boolean;
  /** Unmount on SIGINT/SIGTERM (default true). A second signal forces it. */
  handleSignals?: boolean;
  /** Default attribute cache timeout, seconds (default 1). */
  attrTimeout?: number;
  /** Default name cache timeout, seconds (default 1). */
  entryTimeout?: number;
  /** How long to wait for in-flight handlers after the loop ends, ms (default 5000). */
  drainTimeoutMs?: number;
  /**
   * Called for handler failures that are not errno errors (replied with
   * EIO) and for fatal session errors. Default: `console.error`.
   */
  onError?: (err: unknown, op: string) => void;
  /**
   * Request counters to keep (src/stats/fuse_stats.ts): every reply is
   * counted by opcode, errno and latency, and read and write replies by
   * bytes. None are kept without it.
   */
  stats?: FuseStats | null;
}

/** A live mount returned by {@linkcode mountFuse}. */
export interface FuseMount {
  /** Absolute path of the mountpoint. */
  readonly mountpoint: string;
  /**
   * Unmount and wait for the session to end. Tries `fusermount3 -u` (or
   * `umount`) while still serving requests; if that fails (e.g. EBUSY),
   * aborts the connection and detaches lazily (`-z`). Idempotent.
   */
  unmount(): Promise<void>;
  /** Resolves once the session has ended and all resources are released. */
  readonly closed: Promise<void>;
}
