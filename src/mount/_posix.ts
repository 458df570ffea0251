/**
 * Test helper: the POSIX calls the mount tests need that Deno's file API
 * lacks or reports without the exact errno (renameat2, fallocate, mknod,
 * xattrs, utimensat with nanoseconds, getdents64 with `.` and `..`, fstatat
 * with nanosecond times, statvfs, O_APPEND/O_EXCL opens), through
 * `Deno.dlopen` of glibc (2.33 or newer: fstatat and mknod are real symbols
 * there). Linux on x86-64 or arm64 only.
 *
 * Every call is a blocking FFI call on the JS thread, so `errno` read right
 * after it is the call's own. A failing call throws {@linkcode PosixError}
 * with the errno number and name; {@linkcode res} turns a call into `"ok"`
 * or the errno name, for comparing two filesystems.
 *
 * Never use these on a FUSE mount served by this same process (the calls
 * block the thread that would answer them); `withMount` of
 * src/mount/_testutil.ts serves from a separate process.
 * @module
 */
import {
  O_APPEND,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_NONBLOCK,
  O_RDONLY,
  O_RDWR,
  O_TRUNC,
  O_WRONLY,
} from "../device/libc.ts";
import { ERRNO } from "../errors.ts";

/** A failed call: `errno` and its name (`code`). */
export class PosixError extends Error {
  /** errno number */
  readonly errno: number;
  /** errno name, e.g. "ENOENT" ("E<number>" when unknown) */
  readonly code: string;
  constructor(errno: number, call: string, what: string) {
    const code = errnoName(errno);
    super(`${call}(${what}): ${code}`);
    this.name = "PosixError";
    this.errno = errno;
    this.code = code;
  }
}

const EXTRA: Record<number, string> = {
  3: "ESRCH",
  4: "EINTR",
  10: "ECHILD",
  14: "EFAULT",
  24: "EMFILE",
  26: "ETXTBSY",
  32: "EPIPE",
  122: "EDQUOT",
};
const NAMES = new Map<number, string>();
for (const [k, v] of Object.entries(ERRNO)) if (!NAMES.has(v)) NAMES.set(v, k);
NAMES.set(95, "EOPNOTSUPP");
for (const [k, v] of Object.entries(EXTRA)) NAMES.set(Number(k), v);

/** Name of an errno number ("E<n>" when unknown). */
export function errnoName(n: number): string {
  return NAMES.get(n) ?? `E${n}`;
}

// ------------------------------------------------------------- constants

/** open(2) flags (asm-generic/fcntl.h), as the device layer defines them. */
export {
  O_APPEND,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_NONBLOCK,
  O_RDONLY,
  O_RDWR,
  O_TRUNC,
  O_WRONLY,
};

/** `*at` calls: the current directory. */
export const AT_FDCWD = -100;
/** `*at` flag: do not follow a final symlink. */
export const AT_SYMLINK_NOFOLLOW = 0x100;

/** renameat2 flags. */
export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;
export const RENAME_WHITEOUT = 4;

/** fallocate modes (linux/falloc.h). */
export const FALLOC_FL_KEEP_SIZE = 0x01;
export const FALLOC_FL_PUNCH_HOLE = 0x02;
export const FALLOC_FL_COLLAPSE_RANGE = 0x08;
export const FALLOC_FL_ZERO_RANGE = 0x10;
export const FALLOC_FL_INSERT_RANGE = 0x20;
export const FALLOC_FL_UNSHARE_RANGE = 0x40;

/** setxattr flags. */
export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;

/** utimensat special nanosecond values. */
export const UTIME_NOW = (1 << 30) - 1;
export const UTIME_OMIT = (1 << 30) - 2;

/** File types (st_mode & S_IFMT): the same values as the on-disk format's. */
export { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK } from "../format/constants.ts";

// ------------------------------------------------------------- binding

const SYMBOLS = {
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  pread64: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  pwrite64: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  lseek64: { parameters: ["i32", "i64", "i32"], result: "i64" },
  ftruncate64: { parameters: ["i32", "i64"], result: "i32" },
  truncate64: { parameters: ["buffer", "i64"], result: "i32" },
  fsync: { parameters: ["i32"], result: "i32" },
  fdatasync: { parameters: ["i32"], result: "i32" },
  fallocate64: { parameters: ["i32", "i32", "i64", "i64"], result: "i32" },
  renameat2: { parameters: ["i32", "buffer", "i32", "buffer", "u32"], result: "i32" },
  mknod: { parameters: ["buffer", "u32", "u64"], result: "i32" },
  mkfifo: { parameters: ["buffer", "u32"], result: "i32" },
  mkdir: { parameters: ["buffer", "u32"], result: "i32" },
  rmdir: { parameters: ["buffer"], result: "i32" },
  unlink: { parameters: ["buffer"], result: "i32" },
  link: { parameters: ["buffer", "buffer"], result: "i32" },
  symlink: { parameters: ["buffer", "buffer"], result: "i32" },
  readlink: { parameters: ["buffer", "buffer", "usize"], result: "isize" },
  chmod: { parameters: ["buffer", "u32"], result: "i32" },
  fchmod: { parameters: ["i32", "u32"], result: "i32" },
  lchown: { parameters: ["buffer", "u32", "u32"], result: "i32" },
  utimensat: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  fstatat: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  fstat: { parameters: ["i32", "buffer"], result: "i32" },
  statvfs64: { parameters: ["buffer", "buffer"], result: "i32" },
  lsetxattr: { parameters: ["buffer", "buffer", "buffer", "usize", "i32"], result: "i32" },
  lgetxattr: { parameters: ["buffer", "buffer", "buffer", "usize"], result: "isize" },
  llistxattr: { parameters: ["buffer", "buffer", "usize"], result: "isize" },
  lremovexattr: { parameters: ["buffer", "buffer"], result: "i32" },
  fgetxattr: { parameters: ["i32", "buffer", "buffer", "usize"], result: "isize" },
  fsetxattr: { parameters: ["i32", "buffer", "buffer", "usize", "i32"], result: "i32" },
  getdents64: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  umask: { parameters: ["u32"], result: "u32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
let lib: Libc | undefined;

/** Loaded at import (tests run with -A), so no single test's resource sanitizer sees the library. */
function libc(): Libc {
  lib ??= Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  return lib;
}
try {
  if (Deno.permissions.querySync({ name: "ffi" }).state === "granted") libc();
} catch { /* loaded on first use */ }

/** The current thread's errno. */
export function errno(): number {
  const p = libc().__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32(0);
}

const enc = new TextEncoder();
const dec = new TextDecoder();
type Buf = Uint8Array<ArrayBuffer>;

function cstr(s: string | Uint8Array): Buf {
  const b = typeof s === "string" ? enc.encode(s) : s;
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

function ab(b: Uint8Array): Buf {
  return b as Buf;
}

function chk(r: number | bigint, call: string, what: string): number {
  const n = Number(r);
  if (n < 0) throw new PosixError(errno(), call, what);
  return n;
}

/**
 * Runs `f` and returns `"ok"` or the errno name of the {@linkcode PosixError}
 * it threw (anything else is rethrown).
 */
export function res(f: () => unknown): string {
  try {
    f();
    return "ok";
  } catch (e) {
    if (e instanceof PosixError) return e.code;
    throw e;
  }
}

/** Like {@linkcode res} but also returns the value. */
export function tryCall<T>(f: () => T): { code: string; value?: T } {
  try {
    return { code: "ok", value: f() };
  } catch (e) {
    if (e instanceof PosixError) return { code: e.code };
    throw e;
  }
}

// ------------------------------------------------------------- files

/**
 * open(2); returns the descriptor. It is always close-on-exec (O_CLOEXEC
 * is added): `deno test --parallel` runs test modules as threads of one
 * process, so a descriptor without it leaks into every child another test
 * spawns, and a leaked descriptor on a mount makes that mount's umount fail
 * with EBUSY ("target is busy") while the child runs.
 */
export function open(path: string, flags: number, mode = 0o644): number {
  return chk(libc().open(cstr(path), flags | O_CLOEXEC, mode), "open", path);
}

/** close(2). */
export function close(fd: number): void {
  chk(libc().close(fd), "close", `${fd}`);
}

/** F_DUPFD_CLOEXEC (asm-generic/fcntl.h): dup(2) whose new descriptor is close-on-exec. */
const F_DUPFD_CLOEXEC = 1030;

/** dup(2), as `fcntl(fd, F_DUPFD_CLOEXEC, 0)`: the copy is close-on-exec, see {@linkcode open}. */
export function dup(fd: number): number {
  return chk(libc().fcntl(fd, F_DUPFD_CLOEXEC, 0), "fcntl(F_DUPFD_CLOEXEC)", `${fd}`);
}

/** ioctl(2) with a pointer argument: `buf` is read and updated in place; returns ioctl's result. */
export function ioctl(fd: number, cmd: number, buf: Uint8Array<ArrayBuffer>): number {
  return chk(libc().ioctl(fd, BigInt(cmd >>> 0), buf), "ioctl", `${fd} 0x${(cmd >>> 0).toString(16)}`);
}

/** read(2) of up to `n` bytes at the file position. */
export function read(fd: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  const got = chk(libc().read(fd, b, BigInt(n)), "read", `${fd}`);
  return b.slice(0, got);
}

/** write(2) at the file position; returns the count written. */
export function write(fd: number, data: Uint8Array): number {
  return chk(libc().write(fd, ab(data), BigInt(data.length)), "write", `${fd}`);
}

/** pread(2) of up to `n` bytes at `offset` (one call: short at end of file). */
export function pread(fd: number, n: number, offset: number): Uint8Array {
  const b = new Uint8Array(n);
  const got = chk(libc().pread64(fd, b, BigInt(n), BigInt(offset)), "pread", `${fd}@${offset}`);
  return b.slice(0, got);
}

/** pwrite(2); returns the count written. */
export function pwrite(fd: number, data: Uint8Array, offset: number): number {
  return chk(libc().pwrite64(fd, ab(data), BigInt(data.length), BigInt(offset)), "pwrite", `${fd}@${offset}`);
}

/** lseek(2); whence 0 SET, 1 CUR, 2 END. */
export function lseek(fd: number, offset: number, whence: number): number {
  return chk(libc().lseek64(fd, BigInt(offset), whence), "lseek", `${fd}`);
}

/** Reads a whole file from `offset` to end of file through `fd`. */
export function readAll(fd: number): Uint8Array {
  const parts: Uint8Array[] = [];
  let off = 0;
  for (;;) {
    const c = pread(fd, 1 << 20, off);
    if (c.length === 0) break;
    parts.push(c);
    off += c.length;
  }
  const out = new Uint8Array(off);
  off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** ftruncate(2). */
export function ftruncate(fd: number, size: number): void {
  chk(libc().ftruncate64(fd, BigInt(size)), "ftruncate", `${fd}`);
}

/** truncate(2). */
export function truncate(path: string, size: number): void {
  chk(libc().truncate64(cstr(path), BigInt(size)), "truncate", path);
}

/** fsync(2). */
export function fsync(fd: number): void {
  chk(libc().fsync(fd), "fsync", `${fd}`);
}

/** fdatasync(2). */
export function fdatasync(fd: number): void {
  chk(libc().fdatasync(fd), "fdatasync", `${fd}`);
}

/** fallocate(2). */
export function fallocate(fd: number, mode: number, offset: number, length: number): void {
  chk(libc().fallocate64(fd, mode, BigInt(offset), BigInt(length)), "fallocate", `${fd} mode ${mode}`);
}

// ------------------------------------------------------------- names

/** renameat2(2) relative to the current directory (absolute paths recommended). */
export function renameat2(from: string, to: string, flags = 0): void {
  chk(libc().renameat2(AT_FDCWD, cstr(from), AT_FDCWD, cstr(to), flags), "renameat2", `${from} -> ${to}, ${flags}`);
}

/** makedev(3). */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major), mi = BigInt(minor);
  return ((ma & 0xfffn) << 8n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n) | ((ma & ~0xfffn) << 32n);
}

/** major(3) / minor(3) of a device number. */
export function majorMinor(dev: bigint): [number, number] {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return [Number(major), Number(minor)];
}

/** mknod(2); `mode` includes the file type. */
export function mknod(path: string, mode: number, dev: bigint = 0n): void {
  chk(libc().mknod(cstr(path), mode, dev), "mknod", path);
}

/** mkfifo(3). */
export function mkfifo(path: string, mode = 0o644): void {
  chk(libc().mkfifo(cstr(path), mode), "mkfifo", path);
}

/** mkdir(2). */
export function mkdir(path: string, mode = 0o755): void {
  chk(libc().mkdir(cstr(path), mode), "mkdir", path);
}

/** rmdir(2). */
export function rmdir(path: string): void {
  chk(libc().rmdir(cstr(path)), "rmdir", path);
}

/** unlink(2). */
export function unlink(path: string): void {
  chk(libc().unlink(cstr(path)), "unlink", path);
}

/** link(2) (a final symlink of `from` is not followed). */
export function link(from: string, to: string): void {
  chk(libc().link(cstr(from), cstr(to)), "link", `${from} -> ${to}`);
}

/** symlink(2): `path` pointing at `target`. */
export function symlink(target: string, path: string): void {
  chk(libc().symlink(cstr(target), cstr(path)), "symlink", path);
}

/** readlink(2) as a string. */
export function readlink(path: string): string {
  const b = new Uint8Array(8192);
  const n = chk(libc().readlink(cstr(path), b, BigInt(b.length)), "readlink", path);
  return dec.decode(b.subarray(0, n));
}

/** chmod(2) (follows symlinks). */
export function chmod(path: string, mode: number): void {
  chk(libc().chmod(cstr(path), mode), "chmod", path);
}

/** lchown(2); -1 leaves a field unchanged. */
export function lchown(path: string, uid: number, gid: number): void {
  chk(libc().lchown(cstr(path), uid >>> 0, gid >>> 0), "lchown", path);
}

/** A time for {@linkcode utimensat}: seconds and nanoseconds (or UTIME_NOW/UTIME_OMIT in `nsec`). */
export interface TimeSpec {
  sec: number;
  nsec: number;
}

/** utimensat(2); `times` null sets both to now. */
export function utimensat(path: string, times: [TimeSpec, TimeSpec] | null, flags = 0): void {
  let b: Buf | null = null;
  if (times) {
    b = new Uint8Array(32);
    const v = new DataView(b.buffer);
    times.forEach((t, i) => {
      v.setBigInt64(i * 16, BigInt(t.sec), true);
      v.setBigInt64(i * 16 + 8, BigInt(t.nsec), true);
    });
  }
  chk(libc().utimensat(AT_FDCWD, cstr(path), b, flags), "utimensat", path);
}

// ------------------------------------------------------------- stat

/** struct stat with nanosecond times (as bigint ns since the epoch). */
export interface Stat {
  dev: bigint;
  ino: bigint;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: bigint;
  size: number;
  blksize: number;
  blocks: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

const ARM = Deno.build.arch === "aarch64";

function decodeStat(b: Uint8Array): Stat {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const t = (o: number) => v.getBigInt64(o, true) * 1_000_000_000n + v.getBigInt64(o + 8, true);
  return {
    dev: v.getBigUint64(0, true),
    ino: v.getBigUint64(8, true),
    mode: ARM ? v.getUint32(16, true) : v.getUint32(24, true),
    nlink: ARM ? v.getUint32(20, true) : Number(v.getBigUint64(16, true)),
    uid: ARM ? v.getUint32(24, true) : v.getUint32(28, true),
    gid: ARM ? v.getUint32(28, true) : v.getUint32(32, true),
    rdev: ARM ? v.getBigUint64(32, true) : v.getBigUint64(40, true),
    size: Number(v.getBigInt64(48, true)),
    blksize: ARM ? v.getInt32(56, true) : Number(v.getBigInt64(56, true)),
    blocks: Number(v.getBigInt64(64, true)),
    atimeNs: t(72),
    mtimeNs: t(88),
    ctimeNs: t(104),
  };
}

/** stat(2) (follows symlinks). */
export function stat(path: string): Stat {
  const b = new Uint8Array(256);
  chk(libc().fstatat(AT_FDCWD, cstr(path), b, 0), "stat", path);
  return decodeStat(b);
}

/** lstat(2). */
export function lstat(path: string): Stat {
  const b = new Uint8Array(256);
  chk(libc().fstatat(AT_FDCWD, cstr(path), b, AT_SYMLINK_NOFOLLOW), "lstat", path);
  return decodeStat(b);
}

/** fstat(2). */
export function fstat(fd: number): Stat {
  const b = new Uint8Array(256);
  chk(libc().fstat(fd, b), "fstat", `${fd}`);
  return decodeStat(b);
}

/** struct statvfs (counts in units of `frsize`). */
export interface StatVfs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  favail: number;
  flag: number;
  namemax: number;
}

/** statvfs(3). */
export function statvfs(path: string): StatVfs {
  const b = new Uint8Array(128);
  chk(libc().statvfs64(cstr(path), b), "statvfs", path);
  const v = new DataView(b.buffer);
  const u = (i: number) => Number(v.getBigUint64(i * 8, true));
  return {
    bsize: u(0),
    frsize: u(1),
    blocks: u(2),
    bfree: u(3),
    bavail: u(4),
    files: u(5),
    ffree: u(6),
    favail: u(7),
    flag: u(9),
    namemax: u(10),
  };
}

/** One entry of {@linkcode getdents}. */
export interface Dirent {
  ino: bigint;
  off: bigint;
  type: number;
  name: string;
}

/** getdents64(2) once with a `size`-byte buffer; an empty array means end of directory. */
export function getdents(fd: number, size = 32768): Dirent[] {
  const b = new Uint8Array(size);
  const n = chk(libc().getdents64(fd, b, BigInt(size)), "getdents64", `${fd}`);
  const v = new DataView(b.buffer);
  const out: Dirent[] = [];
  for (let at = 0; at < n;) {
    const reclen = v.getUint16(at + 16, true);
    const nameEnd = b.indexOf(0, at + 19);
    out.push({
      ino: v.getBigUint64(at, true),
      off: v.getBigInt64(at + 8, true),
      type: b[at + 18],
      name: dec.decode(b.subarray(at + 19, nameEnd)),
    });
    at += reclen;
  }
  return out;
}

/** Every entry of a directory, `.` and `..` included, in the filesystem's order. */
export function listDir(path: string): Dirent[] {
  const fd = open(path, O_RDONLY | O_DIRECTORY);
  try {
    const all: Dirent[] = [];
    for (;;) {
      const part = getdents(fd);
      if (!part.length) return all;
      all.push(...part);
    }
  } finally {
    close(fd);
  }
}

/** umask(2); returns the previous mask. */
export function umask(mask: number): number {
  return libc().umask(mask);
}

// ------------------------------------------------------------- xattrs

/** lsetxattr(2). */
export function setxattr(path: string, name: string, value: Uint8Array | string, flags = 0): void {
  const v = typeof value === "string" ? enc.encode(value) : value;
  chk(libc().lsetxattr(cstr(path), cstr(name), ab(v), BigInt(v.length), flags), "setxattr", `${path} ${name}`);
}

/** fsetxattr(2). */
export function fsetxattr(fd: number, name: string, value: Uint8Array, flags = 0): void {
  chk(libc().fsetxattr(fd, cstr(name), ab(value), BigInt(value.length), flags), "fsetxattr", `${fd} ${name}`);
}

/**
 * lgetxattr(2) with a `size`-byte buffer: size 0 is a size probe and returns
 * the length (as a number); otherwise the value.
 */
export function getxattrRaw(path: string, name: string, size: number): number | Uint8Array {
  const b = size ? new Uint8Array(size) : null;
  const n = chk(libc().lgetxattr(cstr(path), cstr(name), b, BigInt(size)), "getxattr", `${path} ${name}`);
  return b ? b.slice(0, n) : n;
}

/** lgetxattr(2) of a whole value (probes the size first). */
export function getxattr(path: string, name: string): Uint8Array {
  const n = getxattrRaw(path, name, 0) as number;
  return n === 0 ? new Uint8Array(0) : getxattrRaw(path, name, n) as Uint8Array;
}

/** fgetxattr(2) of a whole value (64 KiB buffer). */
export function fgetxattr(fd: number, name: string): Uint8Array {
  const b = new Uint8Array(65536);
  const n = chk(libc().fgetxattr(fd, cstr(name), b, BigInt(b.length)), "fgetxattr", `${fd} ${name}`);
  return b.slice(0, n);
}

/** llistxattr(2) with a `size`-byte buffer: size 0 returns the length needed. */
export function listxattrRaw(path: string, size: number): number | Uint8Array {
  const b = size ? new Uint8Array(size) : null;
  const n = chk(libc().llistxattr(cstr(path), b, BigInt(size)), "listxattr", path);
  return b ? b.slice(0, n) : n;
}

/** llistxattr(2) as sorted names. */
export function listxattr(path: string): string[] {
  const n = listxattrRaw(path, 0) as number;
  if (n === 0) return [];
  const raw = listxattrRaw(path, n) as Uint8Array;
  return dec.decode(raw).split("\0").filter((s) => s.length > 0).sort();
}

/** lremovexattr(2). */
export function removexattr(path: string, name: string): void {
  chk(libc().lremovexattr(cstr(path), cstr(name)), "removexattr", `${path} ${name}`);
}
