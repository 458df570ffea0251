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
 * ## Never blocking the JavaScript thread
 *
 * `open`, `ioctl` and `close` on a FUSE mount wait for the daemon. A
 * process that serves the mount itself (or runs its tests against it)
 * would deadlock if they ran on the JavaScript thread, so they run as
 * `nonblocking: true` FFI calls on Deno's worker threads. Those cannot
 * read `errno` afterwards (it is thread-local and the next call may run
 * on another thread), so instead of the libc wrappers the calls go
 * through a three-instruction raw system-call stub (x86-64 `syscall`,
 * arm64 `svc #0`) built once in an executable page: the kernel's return
 * value is the result or `-errno`, in one call, on one thread. Where no
 * stub can be made (another architecture, or a policy that forbids
 * executable memory) the client falls back to blocking libc calls, which
 * are correct for every process except one serving the same mount.
 *
 * References: Linux `include/uapi/asm-generic/ioctl.h` (command
 * encoding), `fs/fuse/ioctl.c` (restricted ioctls),
 * `arch/x86/entry/syscalls/syscall_64.tbl` and
 * `include/uapi/asm-generic/unistd.h` (system call numbers).
 * @module
 */
import { dirname, resolve } from "node:path";
import { ERRNO, FsError } from "../errors.ts";
import { O_CLOEXEC, O_RDONLY } from "../device/libc.ts";
import type { CollectionInfo, CollectionParams, SearchHit, SearchMethod } from "../fs/vectors.ts";
import type { ElemType, Metric } from "../vector/types.ts";
import {
  type BatchItem,
  batchMax,
  decodeCollectionInfoReply,
  decodeCreateCollectionReply,
  decodeFsInfo,
  decodeGetVectorReply,
  decodeIndexReply,
  decodeInoPathReply,
  decodeListCollectionsReply,
  decodeSearch2Reply,
  decodeSearchReply,
  encodeCollectionInfo,
  encodeCreateCollection,
  encodeDelVector,
  encodeGetVector,
  encodeIndex,
  encodeInoPath,
  encodeListCollections,
  encodeSearch,
  encodeSearch2,
  encodeSetVector,
  encodeSetVectors,
  ENOTTY,
  errnoFsError,
  type FsInfo,
  type IndexReply,
  type IndexRequest,
  iocSize,
  type IoctlHit,
  type Search2Reply,
  type StoredVector,
  type U64,
  VECTOR_XATTR,
  VEXFS_IOC_COLLECTION_INFO,
  VEXFS_IOC_CREATE_COLLECTION,
  VEXFS_IOC_DEL_VECTOR,
  VEXFS_IOC_FS_INFO,
  VEXFS_IOC_GET_VECTOR,
  VEXFS_IOC_INDEX,
  VEXFS_IOC_INO_PATH,
  VEXFS_IOC_LIST_COLLECTIONS,
  VEXFS_IOC_MAX_DIM,
  VEXFS_IOC_MAX_EF,
  VEXFS_IOC_MAX_K,
  VEXFS_IOC_SEARCH,
  VEXFS_IOC_SEARCH2,
  VEXFS_IOC_SET_VECTOR,
  VEXFS_IOC_SET_VECTORS,
  VEXFS_MAX_DIM,
} from "./abi.ts";

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

// ------------------------------------------------------------ system calls

const AT_FDCWD = -100;
const EINTR = 4;
const ENOSYS = ERRNO.ENOSYS;
const EOPNOTSUPP = ERRNO.EOPNOTSUPP;

/**
 * Machine code of `long stub(long nr, long a1, long a2, long a3, long a4,
 * long a5)`: moves the C arguments into the system-call registers, traps,
 * and returns the kernel's result (≥ 0, or `-errno`). Exported for the
 * test that compares it with the assembler's output.
 * @internal
 */
export const SYSCALL_STUBS: Readonly<Record<"x86_64" | "aarch64", Uint8Array>> = Object.freeze({
  // mov rax,rdi; mov rdi,rsi; mov rsi,rdx; mov rdx,rcx; mov r10,r8; mov r8,r9; syscall; ret
  x86_64: new Uint8Array([
    0x48,
    0x89,
    0xf8,
    0x48,
    0x89,
    0xf7,
    0x48,
    0x89,
    0xd6,
    0x48,
    0x89,
    0xca,
    0x4d,
    0x89,
    0xc2,
    0x4d,
    0x89,
    0xc8,
    0x0f,
    0x05,
    0xc3,
  ]),
  // mov x8,x0; mov x0,x1; mov x1,x2; mov x2,x3; mov x3,x4; mov x4,x5; svc #0; ret
  aarch64: new Uint8Array(
    new Uint32Array([
      0xaa0003e8,
      0xaa0103e0,
      0xaa0203e1,
      0xaa0303e2,
      0xaa0403e3,
      0xaa0503e4,
      0xd4000001,
      0xd65f03c0,
    ]).buffer,
  ),
});

/** System call numbers of `openat`, `ioctl` and `close`. */
const SYS_NR = {
  x86_64: { openat: 257, ioctl: 16, close: 3 },
  aarch64: { openat: 56, ioctl: 29, close: 57 },
} as const;

const LIBC_SYMBOLS = {
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  mprotect: { parameters: ["pointer", "usize", "i32"], result: "i32" },
  memcpy: { parameters: ["pointer", "buffer", "usize"], result: "pointer" },
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The three calls the client makes, each returning the result or `-errno`. */
interface Sys {
  openat(path: Uint8Array, flags: number): Promise<number>;
  ioctl(fd: number, cmd: number, buf: Uint8Array): Promise<number>;
  close(fd: number): Promise<number>;
}

let sys: Sys | undefined;

function loadLibc(): Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"] {
  try {
    return Deno.dlopen("libc.so.6", LIBC_SYMBOLS).symbols;
  } catch (e) {
    throw new FsError(
      "ENOSYS",
      `cannot load libc.so.6 (the vector ioctls need Linux with glibc and --allow-ffi): ${(e as Error).message}`,
    );
  }
}

/** Raw system calls through the stub, off the JavaScript thread. */
function stubSys(libc: ReturnType<typeof loadLibc>): Sys | undefined {
  const arch = Deno.build.arch;
  if (Deno.build.os !== "linux" || (arch !== "x86_64" && arch !== "aarch64")) return undefined;
  const code = SYSCALL_STUBS[arch];
  const PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20;
  const page = libc.mmap(null, 4096n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0n);
  if (page === null || Deno.UnsafePointer.value(page) === 0xffffffffffffffffn) return undefined;
  libc.memcpy(page, code as Uint8Array<ArrayBuffer>, BigInt(code.length));
  // On arm64 the kernel cleans the data cache and invalidates the
  // instruction cache when a page becomes executable (set_pte_at).
  if (libc.mprotect(page, 4096n, PROT_READ | PROT_EXEC) !== 0) return undefined;
  const nr = SYS_NR[arch];
  const fn = page as Deno.PointerObject<never>; // one stub, three C signatures
  const open = new Deno.UnsafeFnPointer(
    fn,
    {
      parameters: ["i64", "i64", "buffer", "i64", "i64"],
      result: "i64",
      nonblocking: true,
    } as const,
  );
  const ioctl = new Deno.UnsafeFnPointer(
    fn,
    {
      parameters: ["i64", "i64", "i64", "buffer"],
      result: "i64",
      nonblocking: true,
    } as const,
  );
  const close = new Deno.UnsafeFnPointer(
    fn,
    {
      parameters: ["i64", "i64"],
      result: "i64",
      nonblocking: true,
    } as const,
  );
  return {
    async openat(path, flags) {
      const r = await open.call(
        BigInt(nr.openat),
        BigInt(AT_FDCWD),
        path as Uint8Array<ArrayBuffer>,
        BigInt(flags),
        0n,
      );
      void path; // keep the buffer alive until the call is done
      return Number(r);
    },
    async ioctl(fd, cmd, buf) {
      const r = await ioctl.call(BigInt(nr.ioctl), BigInt(fd), BigInt(cmd >>> 0), buf as Uint8Array<ArrayBuffer>);
      void buf;
      return Number(r);
    },
    async close(fd) {
      return Number(await close.call(BigInt(nr.close), BigInt(fd)));
    },
  };
}

/** Blocking libc calls (the fallback): correct, but they hold the JavaScript thread. */
function libcSys(libc: ReturnType<typeof loadLibc>): Sys {
  const errno = () => {
    const p = libc.__errno_location();
    return p === null ? ERRNO.EIO : new Deno.UnsafePointerView(p).getInt32(0);
  };
  const ret = (r: number) => Promise.resolve(r < 0 ? -errno() : r);
  return {
    openat: (path, flags) => ret(libc.open(path as Uint8Array<ArrayBuffer>, flags, 0)),
    ioctl: (fd, cmd, buf) => ret(libc.ioctl(fd, BigInt(cmd >>> 0), buf as Uint8Array<ArrayBuffer>)),
    close: (fd) => ret(libc.close(fd)),
  };
}

function system(): Sys {
  if (!sys) {
    const libc = loadLibc();
    sys = stubSys(libc) ?? libcSys(libc);
  }
  return sys;
}

// Load at import when FFI is already allowed, so that no single test is
// blamed by Deno's resource sanitizer for the library (as src/device/libc.ts does).
try {
  if (Deno.permissions.querySync({ name: "ffi" }).state === "granted") system();
} catch { /* reported on first use */ }

/** Retries a call interrupted by a signal. */
async function retry(f: () => Promise<number>): Promise<number> {
  for (;;) {
    const r = await f();
    if (r !== -EINTR) return r;
  }
}

const encoder = new TextEncoder();

/** Opens `path` read-only; `FsError` (ENOENT, EACCES, ...) naming the path on failure. */
async function openPath(path: string): Promise<number> {
  if (path.includes("\0")) throw new FsError("EINVAL", `path contains NUL: ${JSON.stringify(path)}`);
  const r = await retry(() => system().openat(encoder.encode(path + "\0"), O_RDONLY | O_CLOEXEC));
  if (r >= 0) return r;
  const e = -r;
  const why: Record<number, string> = {
    [ERRNO.ENOENT]: "does not exist",
    [ERRNO.EACCES]: "cannot be opened: permission denied",
    [ERRNO.ENOTDIR]: "does not exist (a component of it is not a directory)",
    [ERRNO.ELOOP]: "cannot be opened: too many symbolic links",
    [ERRNO.ENAMETOOLONG]: "cannot be opened: the name is too long",
  };
  throw errnoFsError(e, `${path} ${why[e] ?? "cannot be opened"}`);
}

/** Runs `f` on a read-only descriptor of `path`, closed after (for client_admin.ts too). */
export async function withFd<T>(path: string, f: (fd: number) => Promise<T>): Promise<T> {
  const fd = await openPath(path);
  try {
    return await f(fd);
  } finally {
    await system().close(fd);
  }
}

/** One ioctl: 0 or `-errno`; `buf` is read and/or written in place (for client_admin.ts too). */
export function ioctl(fd: number, cmd: number, buf: Uint8Array): Promise<number> {
  return retry(() => system().ioctl(fd, cmd, buf));
}

// ------------------------------------------------------------ error messages

const NOT_VEXFS = new Set([ENOTTY, ENOSYS, EOPNOTSUPP]);

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

function generic(errno: number, path: string, what: string): FsError {
  return errnoFsError(errno, `${path}: cannot ${what}`);
}

/** Best-effort collection info for an explanation: null when unknown. */
async function infoFor(fd: number): Promise<CollectionInfo | null> {
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
async function rootName(path: string, info: CollectionInfo): Promise<string> {
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

function notInCollection(path: string): string {
  return `${path} is not inside a vector collection; make a directory above it one with 'vexfs collection create'`;
}

/** Explains an EINVAL about a vector or query `v` sent to `path`. */
async function explainVector(fd: number, path: string, v: Float32Array, what: "vector" | "query"): Promise<string> {
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

async function inoPathFd(fd: number, dir: string, ino: U64): Promise<string | null> {
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
