/**
 * The VexFS engine ({@linkcode Vexfs}) as FUSE low-level operations
 * ({@linkcode FuseOps} of src/fuse/session.ts): what `vexfs mount` serves.
 *
 * Mapping rules:
 * - FUSE node id 1 (`FUSE_ROOT_ID`) is the engine's root inode 2
 *   (`ROOT_INO`); every other node id is the engine inode number. `st_ino`
 *   is always the engine inode number (the root shows 2, as on ext2/ext4).
 * - Permission checks are the kernel's (`default_permissions` is always
 *   on), POSIX ACLs included: the kernel enforces them, the daemon keeps
 *   them in step with the mode and applies default ACLs and the umask to
 *   new inodes (src/mount/acl.ts). New inodes get the caller's uid and, as
 *   on ext4 without `grpid`, the caller's gid unless the parent directory is set-group-id, in which
 *   case they get its group (and new directories inherit the S_ISGID bit).
 * - Open files are counted with {@linkcode Vexfs.openInode} /
 *   {@linkcode Vexfs.release}, so an unlinked file stays readable through
 *   its open descriptors and is freed at the last close (the orphan list of
 *   FORMAT.md §5.4 makes that crash-safe).
 * - Directory listings are snapshotted at the first `readdir` of an open
 *   directory (and again at offset 0, i.e. `rewinddir`); the cookie of an entry is its position + 1. Entries
 *   created while a listing is open may or may not appear, as POSIX allows;
 *   entries removed or renamed since the snapshot are skipped, so a listing
 *   never returns a name that no longer exists (readdirplus would plant it
 *   in the kernel's dentry cache).
 * - Export support (src/mount/export.ts): a file handle is the node id and
 *   the inode's generation, so it names the same file after a cache drop or
 *   a remount; LOOKUP of "." and ".." answers the kernel's handle decoding.
 * - The kernel's lookup count of every inode (entry replies minus `forget`)
 *   is kept. A directory, fifo, socket, device or symlink that loses its
 *   last link while the kernel still knows it (open through a descriptor:
 *   these never send `open`) is held open in the engine as an orphan until
 *   `forget`, so `fstat` and `fsync` on the descriptor keep working. Regular
 *   files are held by `open`/`release` only, so an unlinked file that is
 *   not open is freed (and its vector leaves the collection) at once.
 * - The vector of a file is also the extended attribute `user.vexfs.vector`
 *   (raw little-endian elements of the collection's element type,
 *   docs/IOCTL.md); the vector ioctls are served by src/ioctl/server.ts.
 * - Metadata is written back at least every `commitSeconds` when something
 *   changed, on fsync/fsyncdir, and at unmount ({@linkcode VexfsFuse.close}
 *   marks the superblock clean).
 *
 * Handlers never touch the mountpoint (that would deadlock the session).
 * @module
 */
import { ERRNO, FsError } from "../errors.ts";
import { O_ACCMODE, O_TRUNC } from "../device/libc.ts";
import { IFL_HAS_VECTOR, IFL_INLINE, ROOT_INO, S_IFDIR, S_IFMT, S_IFREG } from "../format/constants.ts";
import { nowTimespec, type Timespec } from "../format/inode.ts";
import type { Stat, Vexfs } from "../fs/fs.ts";
import { FUSE_CAP } from "../fuse/abi.ts";
import { errnoReply } from "../fuse/session.ts";
import type {
  AttrReply,
  ConnInfo,
  CreateReply,
  DirEntry,
  DirEntryPlus,
  EntryParam,
  FileInfo,
  FuseOps,
  FuseRequest,
  Ino,
  IoctlReply,
  OpenReply,
  SetAttrChanges,
  StatAttr,
  StatFs,
} from "../fuse/session.ts";
import { secondsOf, timespecOf } from "../format/inode.ts";
import { handleIoctl, ioctlChangesFs, ioctlWritesDescriptor } from "../ioctl/server.ts";
import { decodeVector } from "../vector/codec.ts";
import { elemSize } from "../vector/types.ts";
import { isAclXattr } from "../fs/acl.ts";
import { type Inherited, mountAcls } from "./acl.ts";
import { dotName, exportLookup } from "./export.ts";
import type { AtimeMode } from "./options.ts";
import type { MountCounters } from "../stats/report.ts";

/** Name of the extended attribute that mirrors a file's vector. */
export const VECTOR_XATTR = "user.vexfs.vector";

const S_ISUID = 0o4000;
const S_ISGID = 0o2000;
const S_IXGRP = 0o010;
/** Bit of CAP_FSETID in the capability masks of /proc/PID/status (linux/capability.h). */
const CAP_FSETID_BIT = 1n << 4n;
const XATTR_CREATE = 1;
const XATTR_REPLACE = 2;
const NS_PER_SEC = 1_000_000_000n;

const dec = new TextDecoder();
const ENODATA = errnoReply(ERRNO.ENODATA);

/** Options of {@linkcode createVexfsOps}. */
export interface VexfsOpsOptions {
  /** Attribute cache timeout in seconds (default 1). */
  attrTimeout?: number;
  /** Name cache timeout in seconds (default 1). */
  entryTimeout?: number;
  /** Write metadata back at most this many seconds after a change (default 5; 0 = only on sync/unmount). */
  commitSeconds?: number;
  /** Log one line per failed request (errno errors included) when set. */
  log?: (line: string) => void;
  /** The atime policy of reads, readdir and exec (default `relatime`, as on ext4). */
  atime?: AtimeMode;
  /** Never update directories' atime (`nodiratime`). */
  nodiratime?: boolean;
  /** POSIX ACLs (src/mount/acl.ts): on by default as on ext4; false for `noacl`. */
  acl?: boolean;
  /**
   * The mount's counters (src/stats/report.ts), which `VEXFS_IOC_STATS`
   * reports; an engine reopened by a remount is folded in first. Without
   * them the ioctl answers EOPNOTSUPP.
   */
  counters?: MountCounters;
  /**
   * Opens the filesystem again (the old engine is closed first), read-write
   * for a remount read-write of a filesystem whose engine was opened
   * read-only, read-only again if that failed; without it such a remount
   * leaves the engine read-only.
   */
  reopen?: (readOnly: boolean) => Vexfs;
  /**
   * Called before a change is refused because the mount is read-only: a
   * remount read-write the kernel has made but the daemon has not seen yet
   * is followed now ({@linkcode VexfsFuse.setReadOnly}), not answered EROFS.
   */
  recheckReadOnly?: () => void;
}

/** The FUSE operations plus the lifecycle hooks the mount command needs. */
export interface VexfsFuse {
  /** Handlers to pass to `mountFuse`. */
  readonly ops: FuseOps;
  /** Writes everything back now (the superblock stays "in use"). */
  sync(): void;
  /** Stops the commit timer, writes everything and closes the engine (superblock marked clean). */
  close(): void;
  /**
   * Follows a remount: read-only commits everything, marks the superblock
   * clean and reopens the engine read-only (as ext4; kept open read-write,
   * idle, while an unlinked file is open), then refuses every change with
   * EROFS (atime updates stop); read-write allows changes again,
   * reopening the engine read-write (journal replayed, orphans and open files
   * carried over) if it was opened read-only.
   * @throws the reopen's error (the mount then stays read-only in the daemon)
   */
  setReadOnly(readOnly: boolean): void;
  /** Follows a remount that changed the atime flags. */
  setAtime(mode: AtimeMode, nodiratime: boolean): void;
  /** Whether changes are refused (read-only mount or remount). */
  readonly readOnly: boolean;
  /** The engine now serving (a remount read-write may have replaced it). */
  readonly engine: Vexfs;
}

function toEngine(ino: Ino): number {
  if (ino === 1n) return ROOT_INO;
  if (ino > 0xffffffffn) throw new FsError("ESTALE", `node id ${ino} is not a VexFS inode`);
  return Number(ino);
}

function toFuse(ino: number): bigint {
  return ino === ROOT_INO ? 1n : BigInt(ino);
}

function ns(t: Timespec): bigint {
  return secondsOf(t) * NS_PER_SEC + BigInt(t.nsec);
}

function timespec(v: bigint): Timespec {
  let sec = v / NS_PER_SEC;
  let nsec = v % NS_PER_SEC;
  if (nsec < 0n) {
    nsec += NS_PER_SEC;
    sec -= 1n;
  }
  return timespecOf(sec, Number(nsec)); // exact seconds beyond 2^53 (FORMAT.md §4)
}

/** What the kill-privileges rule needs to know of a caller. */
interface Caller {
  /** holds CAP_FSETID (may keep setuid/setgid bits while writing) */
  fsetid: boolean;
  /** filesystem gid and supplementary groups */
  groups: Set<number>;
}

/**
 * The caller's capabilities and groups from /proc/PID/status (what
 * libfuse's `fuse_req_getgroups` reads too). If the process is gone, a uid
 * of 0 counts as CAP_FSETID and the request's gid as the only group.
 */
function caller(req: FuseRequest): Caller {
  try {
    const st = Deno.readTextFileSync(`/proc/${req.pid}/status`);
    const cap = /^CapEff:\s*([0-9a-f]+)$/m.exec(st);
    const groups = /^Groups:\s*(.*)$/m.exec(st);
    return {
      fsetid: cap ? (BigInt(`0x${cap[1]}`) & CAP_FSETID_BIT) !== 0n : req.uid === 0,
      groups: new Set([req.gid, ...(groups ? groups[1].trim().split(/\s+/).filter(Boolean).map(Number) : [])]),
    };
  } catch {
    return { fsetid: req.uid === 0, groups: new Set([req.gid]) };
  }
}

/**
 * The mode a regular file keeps when `c` writes, truncates or fallocates it
 * (the kernel's `file_remove_privs` → `setattr_should_drop_suidgid`, as
 * ext4 gets it): without CAP_FSETID the set-user-id bit goes, and the
 * set-group-id bit goes when the group may execute the file or the caller
 * is not in the file's group.
 * @param mode st_mode (type and permission bits)
 * @param gid the file's group
 * @returns the new st_mode, `mode` itself when nothing changes
 */
export function killSuidSgid(mode: number, gid: number, c: Caller): number {
  if ((mode & S_IFMT) !== S_IFREG || !(mode & (S_ISUID | S_ISGID)) || c.fsetid) return mode;
  let m = mode & ~S_ISUID;
  if (m & S_ISGID && (m & S_IXGRP || !c.groups.has(gid))) m &= ~S_ISGID;
  return m;
}

/** `Stat` of the engine as the binding's `struct stat` fields. */
export function statAttr(st: Stat): StatAttr {
  return {
    ino: BigInt(st.ino),
    mode: st.mode,
    nlink: BigInt(st.nlink),
    uid: st.uid,
    gid: st.gid,
    rdev: BigInt(st.rdev),
    size: BigInt(st.size),
    blksize: BigInt(st.blksize),
    blocks: BigInt(st.blocks),
    atimeNs: ns(st.atime),
    mtimeNs: ns(st.mtime),
    ctimeNs: ns(st.ctime),
  };
}

/** Size of one `struct fuse_dirent` with a name of `len` bytes (fuse_kernel.h FUSE_DIRENT_SIZE). */
function direntSize(len: number): number {
  return (24 + len + 7) & ~7;
}

/** Size of one `struct fuse_direntplus` (fuse_entry_out is 128 bytes). */
function direntPlusSize(len: number): number {
  return (128 + 24 + len + 7) & ~7;
}

interface Listing {
  dir: number;
  entries: { name: Uint8Array; ino: number }[];
}

/**
 * Builds the FUSE operations for an opened engine.
 *
 * @param fs the engine, opened read-write or read-only; owned by the result
 *   from now on ({@linkcode VexfsFuse.close} closes it)
 * @param opts cache timeouts, commit interval, request log
 * @returns the ops table and the sync/close hooks
 *
 * @example
 * ```ts
 * const fs = Vexfs.open("disk.img");
 * const v = createVexfsOps(fs);
 * const m = mountFuse(v.ops, "/mnt/vexfs", { options: ["fsname=disk.img", "subtype=vexfs"] });
 * await m.closed;
 * v.close();
 * ```
 */
export function createVexfsOps(fs: Vexfs, opts: VexfsOpsOptions = {}): VexfsFuse {
  const attrTimeout = opts.attrTimeout ?? 1;
  const entryTimeout = opts.entryTimeout ?? 1;
  const commitMs = (opts.commitSeconds ?? 5) * 1000;
  const log = opts.log;
  let atimeMode: AtimeMode = opts.atime ?? "relatime";
  let nodiratime = opts.nodiratime ?? false;
  /** Changes refused: mounted or remounted read-only. */
  let ro = fs.readOnly;
  /** Whether changes are refused, after asking whether a remount read-write has happened. */
  const refusing = (): boolean => {
    if (ro) opts.recheckReadOnly?.();
    return ro;
  };
  /** How often the engine holds each inode open for us (kept across an engine reopen). */
  const opened = new Map<number, number>();
  /** The counters VEXFS_IOC_STATS reports, of the engine of the moment. */
  const counters = opts.counters;
  const statsContext = counters ? { stats: () => counters.report(fs) } : undefined;
  const openInode = (ino: number) => {
    fs.openInode(ino);
    opened.set(ino, (opened.get(ino) ?? 0) + 1);
  };
  const releaseInode = (ino: number) => {
    const n = (opened.get(ino) ?? 1) - 1;
    if (n > 0) opened.set(ino, n);
    else opened.delete(ino);
    fs.release(ino);
  };
  const listings = new Map<bigint, Listing>();
  let nextFh = 1n;
  let changed = false;
  let timer: number | undefined;

  /** Marks metadata dirty and arms the commit timer. */
  const touched = () => {
    changed = true;
    if (commitMs > 0 && timer === undefined && !ro) {
      timer = setTimeout(() => {
        timer = undefined;
        commit();
      }, commitMs);
      Deno.unrefTimer(timer);
    }
  };
  const commit = () => {
    if (!changed || fs.closed) return;
    changed = false;
    try {
      fs.sync();
    } catch (e) {
      log?.(`commit failed: ${e instanceof Error ? e.message : e}`);
    }
  };

  const attr = (ino: number): StatAttr => statAttr(fs.getattr(ino));
  const entryParam = (ino: number): EntryParam => ({
    ino: toFuse(ino),
    // the kernel's root inode has generation 0 whatever the disk says (fuse_lookup_name)
    generation: ino === ROOT_INO ? 0n : BigInt(fs.iget(ino).d.generation),
    attr: attr(ino),
    attrTimeout,
    entryTimeout,
  });

  /** Kernel lookup counts: entry replies handed out minus `forget`s (the root is never forgotten). */
  const lookups = new Map<number, bigint>();
  /** Unlinked inodes held open in the engine until the kernel forgets them. */
  const pinned = new Set<number>();

  /** The reply to a request that makes the kernel hold one more lookup of `ino`. */
  const entry = (ino: number): EntryParam => {
    const e = entryParam(ino);
    if (ino !== ROOT_INO) lookups.set(ino, (lookups.get(ino) ?? 0n) + 1n);
    return e;
  };

  /**
   * Runs `f`, which may drop the last link of the inode named `name` in
   * `dir` (unlink, rmdir, rename over it); if that inode is not a regular
   * file and the kernel still knows it, it stays allocated (an orphan) until
   * `forget`.
   */
  const removing = (dir: number, name: Uint8Array, f: () => void): void => {
    let victim = 0;
    try {
      victim = fs.find(dir, name);
    } catch { /* f reports the error */ }
    const pin = victim !== 0 && !pinned.has(victim) && (lookups.get(victim) ?? 0n) > 0n &&
      (fs.iget(victim).d.mode & S_IFMT) !== S_IFREG;
    if (pin) openInode(victim);
    try {
      f();
    } catch (e) {
      if (pin) releaseInode(victim);
      throw e;
    }
    if (!pin) return;
    if (fs.iget(victim).d.nlink === 0) pinned.add(victim);
    else releaseInode(victim);
  };
  /** The reply to a lookup of a name that does not exist (see `lookup`). */
  const negative: EntryParam = Object.freeze({ ino: 0n, attr: { mode: 0 }, attrTimeout, entryTimeout });
  const attrReply = (ino: number): AttrReply => ({ attr: attr(ino), timeout: attrTimeout });

  const acls = mountAcls(() => fs, opts.acl ?? true, log);
  /**
   * Makes an inode named `name` in `dir` with `make(mode)`, the mode and ACLs
   * coming from the directory's default ACL or the umask; a failure to store
   * the ACLs takes the new name away again.
   */
  const born = (req: FuseRequest, dir: number, name: Uint8Array, mode: number, make: (m: number) => number) => {
    const inh: Inherited = acls.inherit(dir, mode, req.umask);
    const ino = make(inh.mode);
    try {
      acls.applyInherited(ino, inh);
    } catch (e) {
      if ((inh.mode & S_IFMT) === S_IFDIR) fs.rmdir(dir, name);
      else fs.unlink(dir, name);
      throw e;
    }
    return ino;
  };

  /** uid/gid and extra mode bits of a new inode in `dir` made by `req` (ext4's inode_init_owner). */
  const owner = (req: FuseRequest, dir: number, isDir: boolean) => {
    const d = fs.iget(dir).d;
    if (d.mode & S_ISGID) {
      return { uid: req.uid, gid: d.gid, extra: isDir ? S_ISGID : 0 };
    }
    return { uid: req.uid, gid: req.gid, extra: 0 };
  };

  /**
   * The kernel's write-permission rule (fs/namei.c generic_permission, the
   * ACL included) for ioctls that change a file, which the kernel does not check.
   */
  const mayWrite = (req: FuseRequest, ino: number) => {
    if (req.uid === 0) return;
    if (!acls.permits(ino, { uid: req.uid, groups: caller(req).groups }, 2)) {
      throw new FsError("EACCES", `uid ${req.uid} may not change the vector data of inode ${ino}`);
    }
  };

  /**
   * Clears setuid/setgid of `ino` as the kernel does when an unprivileged
   * caller changes a file's data ({@linkcode killSuidSgid}). The kernel asks
   * for the setuid bit itself (a setattr before the write) but keeps
   * set-group-id unless the group may execute, where ext4 also clears it
   * for a caller outside the file's group: this finishes the job.
   * @param cached true when the kernel may hold the old mode (any reply but
   *   setattr's): its cached attributes are dropped
   */
  const killPrivs = (req: FuseRequest, ino: number, cached: boolean): void => {
    const d = fs.iget(ino).d;
    if ((d.mode & S_IFMT) !== S_IFREG || !(d.mode & (S_ISUID | S_ISGID))) return;
    const mode = killSuidSgid(d.mode, d.gid, caller(req));
    if (mode === d.mode) return;
    fs.setattr(ino, { mode: mode & 0o7777 });
    touched();
    if (cached) req.invalidateInode?.(toFuse(ino), -1n, 0n);
  };

  /** Runs a mutating engine call and arms the commit timer; EROFS while remounted read-only. */
  const mutate = <T>(f: () => T): T => {
    if (refusing()) throw new FsError("EROFS", "the filesystem is mounted read-only");
    const r = f();
    touched();
    return r;
  };

  const later = (a: Timespec, b: Timespec) => a.sec > b.sec || (a.sec === b.sec && a.nsec > b.nsec);
  /**
   * Whether reading `ino` now would update its atime (ext4's atime_needs_update
   * and relatime_need_update): never with noatime (or nodiratime for a
   * directory) or read-only; always with strictatime; with relatime when
   * atime is not later than mtime or ctime, or more than 24 h old.
   */
  const wantsAccess = (ino: number, isDir = false): boolean => {
    if (ro || fs.isReadOnly || atimeMode === "noatime" || (isDir && nodiratime)) return false;
    if (atimeMode === "strictatime") return true;
    const d = fs.iget(ino).d;
    return !later(d.atime, d.mtime) || !later(d.atime, d.ctime) || nowTimespec().sec - d.atime.sec >= 86400;
  };
  /**
   * Records an access (read, readdir, readlink; exec reads): sets atime to
   * now when {@linkcode wantsAccess} says so, committed with the next commit
   * (opens answer keepCache only when no update is due, so the first read
   * after a change reaches us; later reads served from the page cache within
   * one open do not, which only matters with strictatime; nor does a read
   * of an empty file, which the kernel answers alone).
   */
  const accessed = (ino: number, isDir: boolean) => {
    if (!wantsAccess(ino, isDir)) return;
    const n = fs.iget(ino);
    n.d.atime = nowTimespec();
    fs.dirty(n);
    touched();
  };

  const snapshot = (dir: number): Listing => {
    const entries: Listing["entries"] = [];
    for (const e of fs.readdir(dir)) entries.push({ name: e.nameBytes, ino: e.ino });
    return { dir, entries };
  };

  const parentOf = (dir: number): number => fs.lookup(dir, "..");

  /** Whether a snapshot entry still names the same inode (not removed or renamed since). */
  const current = (dir: number, x: Listing["entries"][number]): boolean => {
    try {
      return fs.find(dir, x.name) === x.ino;
    } catch {
      return false;
    }
  };

  const listing = (ino: number, offset: bigint, fi: FileInfo): Listing => {
    let l = listings.get(fi.fh);
    if (!l || offset === 0n) {
      l = snapshot(ino);
      listings.set(fi.fh, l);
    }
    return l;
  };

  const vectorInfo = (ino: number) => {
    const id = fs.collections.collectionForFile(ino);
    return fs.collections.get(id);
  };

  /** The bytes of the last read (reused: the reply is made before the next request is read). */
  let readBuf = new Uint8Array(0);
  /**
   * Up to `size` bytes of regular file `ino` from `offset`, in a buffer shared by
   * every read: no new zeroed buffer per request (128 KiB for each readahead).
   */
  const readShared = (ino: number, offset: number, size: number): Uint8Array => {
    const n = fs.iget(ino);
    if ((n.d.mode & S_IFMT) !== S_IFREG || n.d.flags & IFL_INLINE || offset >= n.d.size || offset < 0) {
      return fs.read(ino, offset, size); // errors, empty reads and inline data: the general path
    }
    const len = Math.min(size, n.d.size - offset);
    if (readBuf.length < len) readBuf = new Uint8Array(Math.max(len, 128 << 10));
    const out = readBuf.subarray(0, len);
    fs.op(() => fs.readInto(n, offset, out), "read");
    return out;
  };

  const ops: FuseOps = {
    // write and everything it calls are synchronous and copy what they keep (devices copy too)
    borrowWriteData: true,

    init(conn: ConnInfo) {
      // EXPORT_SUPPORT: file handles survive cache drops and remounts (src/mount/export.ts)
      conn.want |= conn.capable &
        (FUSE_CAP.IOCTL_DIR | FUSE_CAP.ASYNC_READ | FUSE_CAP.ATOMIC_O_TRUNC | FUSE_CAP.EXPORT_SUPPORT);
      // No writeback cache (issue 9 §6 asked for it "where safe"; it is not, with this libfuse):
      // the kernel would send cached writes later, as uid 0 with no caller, so the daemon could not
      // clear setuid/setgid for an unprivileged writer (libfuse 3.14 cannot ask for HANDLE_KILLPRIV_V2,
      // which makes the kernel flag such writes); it would keep mtime/ctime itself and send them in a
      // setattr at close, and trust its own size for O_APPEND. Small writes would still cost a round
      // trip each: before every write(2) the kernel asks for security.capability (no SB_NOSEC
      // without HANDLE_KILLPRIV_V2), answered without an exception (getxattr below).
      conn.want &= ~FUSE_CAP.WRITEBACK_CACHE;
      conn.timeGran = 1;
      acls.negotiate(conn);
    },

    lookup(_req, parent, name) {
      const dot = dotName(name);
      // "." and ".." come only from file handles of inodes the kernel does not hold
      if (dot) return entry(exportLookup(fs, parent, dot));
      const ino = fs.find(toEngine(parent), name);
      // A miss is a negative entry (node id 0): ENOENT for the caller, and the kernel
      // keeps the name as absent for entryTimeout; every creation goes through it.
      return ino === 0 ? negative : entry(ino);
    },

    forget(_req, ino, nlookup) {
      const e = toEngine(ino);
      const n = (lookups.get(e) ?? 0n) - nlookup;
      if (n > 0n) {
        lookups.set(e, n);
        return;
      }
      lookups.delete(e);
      if (pinned.delete(e)) {
        releaseInode(e); // frees the orphan
        if (!ro) touched();
      }
    },

    getattr(_req, ino) {
      return attrReply(toEngine(ino));
    },

    setattr(req, ino, c: SetAttrChanges) {
      const e = toEngine(ino);
      return mutate(() => {
        fs.setattr(e, {
          mode: c.mode,
          uid: c.uid,
          gid: c.gid,
          size: c.size === undefined ? undefined : Number(c.size),
          atime: c.atimeNow ? "now" : c.atimeNs === undefined ? undefined : timespec(c.atimeNs),
          mtime: c.mtimeNow ? "now" : c.mtimeNs === undefined ? undefined : timespec(c.mtimeNs),
        });
        if (c.mode !== undefined) acls.chmod(e); // the access ACL follows (posix_acl_chmod)
        // after the request's own mode (the kernel's setuid-only kill) is applied
        if (c.size !== undefined) killPrivs(req, e, false);
        return attrReply(e);
      });
    },

    readlink(_req, ino) {
      const e = toEngine(ino);
      const target = fs.readlink(e);
      accessed(e, false);
      return target;
    },

    mknod(req, parent, name, mode, rdev) {
      const dir = toEngine(parent);
      const o = owner(req, dir, false);
      return mutate(() => entry(born(req, dir, name, mode, (m) => fs.mknod(dir, name, m, Number(rdev), o.uid, o.gid))));
    },

    mkdir(req, parent, name, mode) {
      const dir = toEngine(parent);
      const o = owner(req, dir, true);
      const m = S_IFDIR | (mode & 0o7777) | o.extra;
      return mutate(() => entry(born(req, dir, name, m, (m) => fs.mkdir(dir, name, m & 0o7777, o.uid, o.gid))));
    },

    unlink(_req, parent, name) {
      const dir = toEngine(parent);
      mutate(() => removing(dir, name, () => fs.unlink(dir, name)));
    },

    rmdir(_req, parent, name) {
      const dir = toEngine(parent);
      mutate(() => removing(dir, name, () => fs.rmdir(dir, name)));
    },

    symlink(req, target, parent, name) {
      const dir = toEngine(parent);
      const o = owner(req, dir, false);
      return mutate(() => entry(fs.symlink(dir, name, target, o.uid, o.gid)));
    },

    rename(_req, parent, name, newParent, newName, flags) {
      const [from, to] = [toEngine(parent), toEngine(newParent)];
      mutate(() => removing(to, newName, () => fs.rename(from, name, to, newName, flags)));
    },

    link(_req, ino, newParent, newName) {
      const e = toEngine(ino);
      return mutate(() => {
        fs.link(e, toEngine(newParent), newName);
        return entry(e);
      });
    },

    open(req, ino, fi): OpenReply {
      const e = toEngine(ino);
      if ((fs.iget(e).d.mode & S_IFMT) === S_IFDIR) throw new FsError("EISDIR", `inode ${e} is a directory`);
      if (((fi.flags & O_ACCMODE) !== 0 || fi.flags & O_TRUNC) && refusing()) {
        throw new FsError("EROFS", "the filesystem is mounted read-only");
      }
      // FUSE_CAP_ATOMIC_O_TRUNC: the kernel sends no setattr for O_TRUNC, open does it
      if (fi.flags & O_TRUNC) {
        mutate(() => fs.truncate(e, 0));
        killPrivs(req, e, true);
      }
      openInode(e);
      // noflush: close(2) sends no FLUSH (flush has nothing to do: no writeback cache, no remote locks)
      return { fh: nextFh++, keepCache: !wantsAccess(e), noflush: true };
    },

    read(_req, ino, size, offset) {
      const e = toEngine(ino);
      const data = readShared(e, Number(offset), size);
      accessed(e, false);
      return data;
    },

    write(req, ino, data, offset) {
      const e = toEngine(ino);
      killPrivs(req, e, true);
      return mutate(() => fs.writeSome(e, Number(offset), data));
    },

    flush() {},

    release(_req, ino) {
      const e = toEngine(ino);
      releaseInode(e); // may free an unlinked file: a change even while read-only, as ext4 does
      if (!ro) touched();
    },

    fsync() {
      changed = true;
      commit();
    },

    opendir(_req, ino) {
      if ((fs.iget(toEngine(ino)).d.mode & S_IFMT) !== S_IFDIR) throw new FsError("ENOTDIR", "not a directory");
      // The snapshot is taken by the first readdir: an open for an ioctl (search) never pays for it.
      return { fh: nextFh++ };
    },

    readdir(_req, ino, size, offset, fi): DirEntry[] {
      const e = toEngine(ino);
      const l = listing(e, offset, fi);
      const out: DirEntry[] = [];
      let used = 0;
      const dots: DirEntry[] = [
        { name: ".", ino: BigInt(e), mode: S_IFDIR },
        { name: "..", ino: BigInt(parentOf(e)), mode: S_IFDIR },
      ];
      for (let i = Number(offset); i < l.entries.length + 2; i++) {
        let d: DirEntry;
        if (i < 2) d = { ...dots[i], offset: BigInt(i + 1) };
        else {
          const x = l.entries[i - 2];
          if (!current(e, x)) continue; // removed or renamed since the snapshot
          d = { name: x.name, ino: BigInt(x.ino), mode: fs.iget(x.ino).d.mode, offset: BigInt(i + 1) };
        }
        used += direntSize(d.name.length); // "." and ".." are ASCII: string length = bytes
        if (used > size && out.length) break;
        out.push(d);
      }
      accessed(e, true);
      return out;
    },

    readdirplus(_req, ino, size, offset, fi): DirEntryPlus[] {
      const e = toEngine(ino);
      const l = listing(e, offset, fi);
      const out: DirEntryPlus[] = [];
      let used = 0;
      for (let i = Number(offset); i < l.entries.length + 2; i++) {
        const x = i < 2 ? null : l.entries[i - 2];
        if (x && !current(e, x)) continue; // removed or renamed since the snapshot
        const name = x ? x.name : i === 0 ? "." : "..";
        used += direntPlusSize(name.length);
        if (used > size && out.length) break;
        // "." and ".." do not count as lookups (the kernel ignores their entries)
        const ent = x ? entry(x.ino) : entryParam(i === 0 ? e : parentOf(e));
        out.push({ name, entry: ent, offset: BigInt(i + 1) });
      }
      accessed(e, true);
      return out;
    },

    releasedir(_req, _ino, fi) {
      listings.delete(fi.fh);
    },

    fsyncdir() {
      changed = true;
      commit();
    },

    statfs(): StatFs {
      const s = fs.statfs();
      return {
        bsize: s.bsize,
        frsize: s.bsize,
        blocks: BigInt(s.blocks),
        bfree: BigInt(s.bfree),
        bavail: BigInt(s.bavail),
        files: BigInt(s.files),
        ffree: BigInt(s.ffree),
        favail: BigInt(s.ffree),
        namemax: s.namelen,
      };
    },

    setxattr(req, ino, nameBytes, value, flags) {
      const e = toEngine(ino);
      const name = dec.decode(nameBytes);
      if (isAclXattr(name)) {
        const d = fs.iget(e).d;
        const c = caller(req);
        mutate(() => acls.set(e, name, value, c.fsetid || c.groups.has(d.gid)));
        return;
      }
      if (name !== VECTOR_XATTR) {
        mutate(() => fs.setxattr(e, name, value, flags));
        return;
      }
      const has = (fs.iget(e).d.flags & IFL_HAS_VECTOR) !== 0;
      if (flags & XATTR_CREATE && has) throw new FsError("EEXIST", "the file already has a vector");
      if (flags & XATTR_REPLACE && !has) throw new FsError("ENODATA", "the file has no vector");
      const info = vectorInfo(e);
      const want = info.dim * elemSize(info.elem);
      if (value.length !== want) {
        throw new FsError(
          "EINVAL",
          `${VECTOR_XATTR} must be ${want} bytes (${info.dim} × ${info.elem}), got ${value.length}`,
        );
      }
      const v = decodeVector(value, info.elem, info.dim);
      mutate(() => fs.collections.setVector(e, v));
    },

    getxattr(_req, ino, nameBytes) {
      const e = toEngine(ino);
      const name = dec.decode(nameBytes);
      if (isAclXattr(name)) return acls.get(e, name) ?? ENODATA;
      // Answered without an exception when absent: the kernel asks for security.capability
      // before every write (to clear it), and almost no file has one.
      if (name !== VECTOR_XATTR) return fs.findxattr(e, name) ?? ENODATA;
      return fs.collections.getVectorBytes(e)?.bytes ?? ENODATA;
    },

    listxattr(_req, ino) {
      const e = toEngine(ino);
      const names = acls.visible(fs.xattrNames(e));
      if (fs.iget(e).d.flags & IFL_HAS_VECTOR) names.push(VECTOR_XATTR);
      return names;
    },

    removexattr(_req, ino, nameBytes) {
      const e = toEngine(ino);
      const name = dec.decode(nameBytes);
      if (isAclXattr(name)) {
        mutate(() => acls.remove(e, name));
        return;
      }
      if (name !== VECTOR_XATTR) {
        mutate(() => fs.removexattr(e, name));
        return;
      }
      if (!mutate(() => fs.collections.deleteVector(e))) throw new FsError("ENODATA", "the file has no vector");
    },

    create(req, parent, name, mode): CreateReply {
      const dir = toEngine(parent);
      const o = owner(req, dir, false);
      return mutate(() => {
        const m = S_IFREG | (mode & 0o7777);
        const ino = born(req, dir, name, m, (m) => fs.create(dir, name, m & 0o7777, o.uid, o.gid));
        openInode(ino);
        return { ...entry(ino), fh: nextFh++, keepCache: true, noflush: true };
      });
    },

    fallocate(req, ino, mode, offset, length) {
      const e = toEngine(ino);
      mutate(() => fs.fallocate(e, mode, Number(offset), Number(length)));
      killPrivs(req, e, true);
    },

    ioctl(req, ino, cmd, _fi, _flags, inData, outSize): IoctlReply {
      const e = toEngine(ino);
      const writes = ioctlChangesFs(cmd, inData);
      if (writes && refusing()) throw new FsError("EROFS", "the filesystem is mounted read-only");
      if (ioctlWritesDescriptor(cmd)) mayWrite(req, e);
      // SET_VECTORS checks each file it names with the caller's ids
      let groups: Set<number> | undefined; // read once, when a check needs them
      const data = handleIoctl(fs, e, cmd >>> 0, inData, outSize, {
        uid: req.uid,
        gid: req.gid,
        // by mode and ACL, with the supplementary groups
        permits: (ino, want) => acls.permits(ino, { uid: req.uid, groups: groups ??= caller(req).groups }, want),
      }, statsContext);
      if (writes) touched();
      return { result: 0, data };
    },
  };

  if (log) {
    for (const [k, f] of Object.entries(ops)) {
      if (typeof f !== "function" || k === "init" || k === "destroy") continue;
      // deno-lint-ignore no-explicit-any
      (ops as any)[k] = (...args: any[]) => {
        try {
          return f(...args);
        } catch (e) {
          log(`${k}(${args.slice(1, 3).map(show).join(", ")}): ${e instanceof Error ? e.message : String(e)}`);
          throw e;
        }
      };
    }
  }

  return {
    ops,
    sync() {
      changed = true;
      commit();
    },
    close() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      listings.clear();
      lookups.clear();
      pinned.clear(); // fs.close frees the orphans
      fs.close();
    },
    setReadOnly(readOnly: boolean) {
      if (readOnly === ro) return;
      if (readOnly) {
        changed = true;
        commit();
        if (timer !== undefined) clearTimeout(timer);
        timer = undefined;
        ro = true;
        // As ext4's remount read-only: the superblock marked clean and the journal
        // closed (the engine reopened read-only), unless an unlinked file is still
        // open (the orphan must outlive the open; the engine stays read-write, idle).
        const orphans = pinned.size > 0 || [...opened.keys()].some((i) => fs.iget(i).d.nlink === 0);
        if (!opts.reopen || fs.readOnly || orphans) return;
        opts.counters?.retire(fs);
        fs.close();
        try {
          fs = opts.reopen(true);
        } catch (e) {
          log?.(`reopening read-only failed, staying read-write but idle: ${e instanceof Error ? e.message : e}`);
          fs = opts.reopen(false);
        }
        for (const [ino, n] of opened) for (let i = 0; i < n; i++) fs.openInode(ino);
        return;
      }
      if (fs.readOnly) {
        if (!opts.reopen) return;
        opts.counters?.retire(fs);
        fs.close();
        let failed: unknown;
        try {
          fs = opts.reopen(false);
        } catch (e) {
          failed = e;
          fs = opts.reopen(true);
        }
        for (const [ino, n] of opened) for (let i = 0; i < n; i++) fs.openInode(ino);
        if (failed) throw failed;
      }
      ro = fs.readOnly;
    },
    setAtime(mode: AtimeMode, noDir: boolean) {
      atimeMode = mode;
      nodiratime = noDir;
    },
    get readOnly() {
      return ro;
    },
    get engine() {
      return fs;
    },
  };
}

function show(a: unknown): string {
  if (a instanceof Uint8Array) return JSON.stringify(dec.decode(a));
  if (typeof a === "bigint") return a.toString();
  return typeof a === "object" ? "{…}" : String(a);
}
