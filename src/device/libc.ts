/**
 * A minimal binding to the C library (`libc.so.6`, glibc on Linux) through
 * `Deno.dlopen`, for the few system calls the device layer needs that Deno's
 * own file API lacks: `O_EXCL` opens of block devices, positioned I/O with
 * 64-bit offsets, `flock`, `fdatasync`, `ioctl` and `clock_gettime`.
 *
 * Every failing call throws {@link FsError} with the errno's name (numbers
 * from `asm-generic/errno-base.h` / `errno.h`, mapped with `ERRNO` of
 * `src/errors.ts`); an errno the engine has no name for becomes `EIO` with the
 * number in the message. Messages name the call and the path.
 *
 * The library is loaded once and shared by all callers: at import when FFI
 * is already permitted (`--allow-ffi`/`-A`), else lazily on first use.
 * Linux only (flag values are those of `asm-generic/fcntl.h`, x86-64 and
 * arm64 alike).
 * @module
 */
import { ERRNO, type ErrnoName, FsError } from "../errors.ts";

/** `open(2)` flag: read only (asm-generic/fcntl.h). */
export const O_RDONLY = 0;
/** `open(2)` flag: write only. */
export const O_WRONLY = 0o1;
/** `open(2)` flag: read and write. */
export const O_RDWR = 0o2;
/** `open(2)` flag: create the file if it does not exist. */
export const O_CREAT = 0o100;
/**
 * `open(2)` flag: with `O_CREAT`, fail with EEXIST if the file exists; on a
 * block device without `O_CREAT`, claim it exclusively (the kernel answers
 * EBUSY when it is mounted, used as swap, held by device-mapper/md, or opened
 * with `O_EXCL` by anyone else).
 */
export const O_EXCL = 0o200;
/** `open(2)` flag: truncate an existing regular file to length 0. */
export const O_TRUNC = 0o1000;
/** `open(2)` flag: every write goes to the end of the file. */
export const O_APPEND = 0o2000;
/** `open(2)` flag: non-blocking I/O. */
export const O_NONBLOCK = 0o4000;
/** `open(2)` flag: fail with ENOTDIR unless the path is a directory. */
export const O_DIRECTORY = 0o200000;
/** `open(2)` flag: fail with ELOOP if the last component is a symlink. */
export const O_NOFOLLOW = 0o400000;
/** `open(2)` flag: close the descriptor on `execve`. */
export const O_CLOEXEC = 0o2000000;
/** Mask of the access mode (`O_RDONLY`, `O_WRONLY`, `O_RDWR`) in open flags. */
export const O_ACCMODE = 3;

/** `flock(2)` operation: shared lock. */
export const LOCK_SH = 1;
/** `flock(2)` operation: exclusive lock. */
export const LOCK_EX = 2;
/** `flock(2)` flag: fail with EWOULDBLOCK (= EAGAIN) instead of waiting. */
export const LOCK_NB = 4;
/** `flock(2)` operation: release the lock. */
export const LOCK_UN = 8;

/** `ioctl` request: size of a block device in bytes, into a `u64` (linux/fs.h `_IOR(0x12, 114, size_t)`). */
export const BLKGETSIZE64 = 0x80081272n;
/** `ioctl` request: logical sector size of a block device in bytes, into an `int` (linux/fs.h `_IO(0x12, 104)`). */
export const BLKSSZGET = 0x1268n;
/** `ioctl` request: non-zero `int` if the block device is read-only (linux/fs.h `_IO(0x12, 94)`). */
export const BLKROGET = 0x125en;

const EINTR = 4;

/** errno numbers the engine has no `ErrnoName` for, for messages only. */
const EXTRA_ERRNO_NAMES: Record<number, string> = {
  3: "ESRCH",
  4: "EINTR",
  8: "ENOEXEC",
  10: "ECHILD",
  14: "EFAULT",
  15: "ENOTBLK",
  24: "EMFILE",
  26: "ETXTBSY",
  32: "EPIPE",
  37: "ENOLCK",
  110: "ETIMEDOUT",
  122: "EDQUOT",
};

let errnoNames: Map<number, ErrnoName> | undefined;

/**
 * The `FsError` code for an errno number: its name when `src/errors.ts`
 * knows it (the first name listed for numbers with aliases, so 95 is
 * `ENOTSUP` and 11 is `EAGAIN`), else `"EIO"`.
 */
export function errnoName(errno: number): ErrnoName | undefined {
  if (!errnoNames) {
    errnoNames = new Map();
    for (const [name, num] of Object.entries(ERRNO)) {
      if (!errnoNames.has(num)) errnoNames.set(num, name as ErrnoName);
    }
  }
  return errnoNames.get(errno);
}

/**
 * Builds the `FsError` for a failed call: `"<call> <what>: <strerror-ish>"`.
 * Unknown errno numbers become `EIO` with the number (and its usual name when
 * known) in the message.
 * @param errno errno number reported by libc
 * @param call the C function that failed, e.g. `"pread"`
 * @param what what it was applied to, usually the path (and offset)
 */
export function errnoError(errno: number, call: string, what: string): FsError {
  const name = errnoName(errno);
  if (name) return new FsError(name, `${call} ${what} failed (errno ${errno})`);
  const extra = EXTRA_ERRNO_NAMES[errno];
  return new FsError(
    "EIO",
    `${call} ${what} failed with errno ${errno}${extra ? ` (${extra})` : ""}`,
  );
}

const SYMBOLS = {
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  pread64: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  pwrite64: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  fsync: { parameters: ["i32"], result: "i32" },
  fdatasync: { parameters: ["i32"], result: "i32" },
  ftruncate64: { parameters: ["i32", "i64"], result: "i32" },
  flock: { parameters: ["i32", "i32"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
let lib: Libc | undefined;

/**
 * Loads libc now if FFI is already permitted. Loading happens on first use
 * otherwise; doing it at import when allowed keeps the one-time load out of
 * any single `Deno.test` (whose resource sanitizer would report the library
 * as leaked by whichever test touched a device first), and never triggers a
 * permission prompt in programs that import but do not use this module.
 */
function preload(): void {
  try {
    if (Deno.permissions.querySync({ name: "ffi" }).state === "granted") {
      libc();
    }
  } catch { /* reported on first use */ }
}

function libc(): Libc {
  if (!lib) {
    try {
      lib = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
    } catch (e) {
      throw new FsError(
        "ENOSYS",
        `cannot load libc.so.6 (needs Linux with glibc and --allow-ffi): ${(e as Error).message}`,
      );
    }
  }
  return lib;
}

preload();

/** The calling thread's current `errno` (glibc `__errno_location`). */
export function errno(): number {
  const p = libc().__errno_location();
  if (p === null) return 0;
  return new Deno.UnsafePointerView(p).getInt32(0);
}

const encoder = new TextEncoder();

function cstr(s: string): Uint8Array {
  if (s.includes("\0")) throw new FsError("EINVAL", `path contains NUL: ${s}`);
  return encoder.encode(s + "\0");
}

/** FFI buffers: any byte view (its byteOffset is honoured). */
function ab(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return b as Uint8Array<ArrayBuffer>;
}

function num(v: number | bigint): number {
  return typeof v === "bigint" ? Number(v) : v;
}

/**
 * `open(2)`: opens `path` and returns the descriptor. Retries on EINTR.
 * @param path file or device path
 * @param flags `O_*` flags (this module's constants)
 * @param mode permission bits for a file created with `O_CREAT` (default 0o644)
 * @throws FsError with the errno name, e.g. ENOENT, EACCES, EBUSY (block device
 *   with `O_EXCL` in use), EROFS, EEXIST (`O_CREAT|O_EXCL`)
 */
export function open(path: string, flags: number, mode = 0o644): number {
  const p = cstr(path);
  for (;;) {
    const fd = libc().open(ab(p), flags, mode);
    if (fd >= 0) return fd;
    const e = errno();
    if (e !== EINTR) throw errnoError(e, "open", path);
  }
}

/**
 * `close(2)`. EINTR is not retried (on Linux the descriptor is gone anyway).
 * @throws FsError (EBADF, EIO: a delayed write error)
 */
export function close(fd: number, path = `fd ${fd}`): void {
  if (libc().close(fd) !== 0) {
    const e = errno();
    if (e !== EINTR) throw errnoError(e, "close", path);
  }
}

function checkOffset(offset: number, call: string, path: string): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new FsError("EINVAL", `${call} ${path}: bad offset ${offset}`);
  }
}

/**
 * `pread(2)` until `buf` is full or end of file: reads `buf.length` bytes
 * from byte `offset`, looping over short reads and retrying EINTR.
 * @param offset byte offset, a safe integer ≥ 0 (64-bit `off_t`)
 * @returns bytes read: less than `buf.length` only at end of file/device
 * @throws FsError (EIO, EINVAL, EBADF ...)
 */
export function pread(
  fd: number,
  buf: Uint8Array,
  offset: number,
  path = `fd ${fd}`,
): number {
  checkOffset(offset, "pread", path);
  let done = 0;
  while (done < buf.length) {
    const chunk = buf.subarray(done);
    const n = num(
      libc().pread64(
        fd,
        ab(chunk),
        BigInt(chunk.length),
        BigInt(offset + done),
      ),
    );
    if (n < 0) {
      const e = errno();
      if (e === EINTR) continue;
      throw errnoError(e, "pread", `${path} at byte ${offset + done}`);
    }
    if (n === 0) break;
    done += n;
  }
  return done;
}

/**
 * `pwrite(2)` of all of `data` at byte `offset`, looping over short writes
 * and retrying EINTR.
 * @param offset byte offset, a safe integer ≥ 0 (64-bit `off_t`)
 * @throws FsError: ENOSPC (no room, or past the end of a block device), EIO,
 *   EFBIG, EROFS, EBADF (descriptor not open for writing) ...
 */
export function pwrite(
  fd: number,
  data: Uint8Array,
  offset: number,
  path = `fd ${fd}`,
): void {
  checkOffset(offset, "pwrite", path);
  let done = 0;
  while (done < data.length) {
    const chunk = data.subarray(done);
    const n = num(
      libc().pwrite64(
        fd,
        ab(chunk),
        BigInt(chunk.length),
        BigInt(offset + done),
      ),
    );
    if (n < 0) {
      const e = errno();
      if (e === EINTR) continue;
      throw errnoError(e, "pwrite", `${path} at byte ${offset + done}`);
    }
    if (n === 0) {
      // A zero-length write of a non-empty buffer: the device has no room.
      throw new FsError(
        "ENOSPC",
        `pwrite ${path} at byte ${offset + done}: device accepted 0 bytes`,
      );
    }
    done += n;
  }
}

function simple(
  call: "fsync" | "fdatasync",
  fd: number,
  path: string,
): void {
  for (;;) {
    if (libc()[call](fd) === 0) return;
    const e = errno();
    if (e !== EINTR) throw errnoError(e, call, path);
  }
}

/**
 * `fsync(2)`: flushes data and metadata to stable storage (and, on a block
 * device, the device's write cache).
 * @throws FsError (EIO: a write-back error)
 */
export function fsync(fd: number, path = `fd ${fd}`): void {
  simple("fsync", fd, path);
}

/**
 * `fdatasync(2)`: flushes data (and the metadata needed to read it back).
 * @throws FsError (EIO: a write-back error)
 */
export function fdatasync(fd: number, path = `fd ${fd}`): void {
  simple("fdatasync", fd, path);
}

/**
 * `ftruncate(2)`: sets the file size to `size` bytes (sparse when growing).
 * @throws FsError (EFBIG, EINVAL, EROFS, EPERM ...)
 */
export function ftruncate(fd: number, size: number, path = `fd ${fd}`): void {
  checkOffset(size, "ftruncate", path);
  for (;;) {
    if (libc().ftruncate64(fd, BigInt(size)) === 0) return;
    const e = errno();
    if (e !== EINTR) throw errnoError(e, "ftruncate", path);
  }
}

/**
 * `flock(2)`: an advisory whole-file lock tied to the open file description
 * (so two opens even in one process conflict).
 * @param op `LOCK_SH`, `LOCK_EX` or `LOCK_UN`, optionally `| LOCK_NB`
 * @returns true if taken; false if `LOCK_NB` was given and another open file
 *   description holds a conflicting lock (EWOULDBLOCK)
 * @throws FsError for other errors (EBADF, ENOLCK → EIO ...)
 */
export function flock(fd: number, op: number, path = `fd ${fd}`): boolean {
  for (;;) {
    if (libc().flock(fd, op) === 0) return true;
    const e = errno();
    if (e === EINTR) continue;
    if (e === ERRNO.EAGAIN && (op & LOCK_NB)) return false;
    throw errnoError(e, "flock", path);
  }
}

/**
 * Generic `ioctl(2)` whose argument is a pointer to `buf` (the kernel reads
 * and/or writes it in place). Retries EINTR.
 * @param request request number (e.g. {@link BLKGETSIZE64}); bigint for values ≥ 2^31
 * @param buf argument buffer, at least as large as the request's structure
 * @returns the call's non-negative result
 * @throws FsError (ENOTTY → EIO "errno 25", EINVAL, EFAULT ...)
 */
export function ioctl(
  fd: number,
  request: bigint | number,
  buf: Uint8Array,
  path = `fd ${fd}`,
): number {
  const req = BigInt(request);
  for (;;) {
    const r = libc().ioctl(fd, req, ab(buf));
    if (r >= 0) return r;
    const e = errno();
    if (e !== EINTR) {
      throw errnoError(e, `ioctl 0x${req.toString(16)}`, path);
    }
  }
}

/**
 * Size of a block device in bytes, from the kernel (`BLKGETSIZE64`).
 * @throws FsError (ENOTTY → EIO if `fd` is not a block device)
 */
export function blockDeviceSize(fd: number, path = `fd ${fd}`): number {
  const buf = new Uint8Array(8);
  ioctl(fd, BLKGETSIZE64, buf, path);
  return Number(new DataView(buf.buffer).getBigUint64(0, true));
}

/**
 * Logical sector size of a block device in bytes (`BLKSSZGET`), usually 512
 * or 4096.
 * @throws FsError (ENOTTY → EIO if `fd` is not a block device)
 */
export function blockSectorSize(fd: number, path = `fd ${fd}`): number {
  const buf = new Uint8Array(4);
  ioctl(fd, BLKSSZGET, buf, path);
  return new DataView(buf.buffer).getInt32(0, true);
}

/**
 * Whether a block device is read-only in the kernel (`BLKROGET`).
 * @throws FsError (ENOTTY → EIO if `fd` is not a block device)
 */
export function blockReadOnly(fd: number, path = `fd ${fd}`): boolean {
  const buf = new Uint8Array(4);
  ioctl(fd, BLKROGET, buf, path);
  return new DataView(buf.buffer).getInt32(0, true) !== 0;
}

/** `clock_gettime(2)` clock id of the settable wall clock (linux/time.h). */
export const CLOCK_REALTIME = 0;

let noClock = false;
const tsBuf = new Uint8Array(16);
const tsView = new DataView(tsBuf.buffer);

/**
 * The kernel's `CLOCK_REALTIME` with nanoseconds (`clock_gettime(2)`): the
 * clock the kernel itself stamps files with on ext4 or tmpfs.
 *
 * Returns `undefined` instead of throwing when libc cannot be used (FFI not
 * permitted, or no glibc), so callers can fall back to a pure clock.
 * @returns seconds since the epoch (a safe integer) and nanoseconds 0..999,999,999,
 *   or `undefined` when libc is not available
 */
export function clockRealtime(): { sec: number; nsec: number } | undefined {
  if (!lib) {
    if (noClock) return undefined;
    try {
      if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") throw new Error("no FFI");
      libc();
    } catch {
      noClock = true; // asked once: FFI is not granted later without a prompt
      return undefined;
    }
  }
  if (lib!.clock_gettime(CLOCK_REALTIME, tsBuf) !== 0) return undefined;
  // struct timespec on 64-bit Linux: time_t tv_sec, long tv_nsec (both 64-bit)
  return { sec: Number(tsView.getBigInt64(0, true)), nsec: Number(tsView.getBigInt64(8, true)) };
}
