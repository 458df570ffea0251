/**
 * The system calls of the ioctl client (src/ioctl/client.ts): open, ioctl
 * and close of a path on a mounted VexFS.
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
import { ERRNO, FsError } from "../errors.ts";
import { O_CLOEXEC, O_RDONLY } from "../device/libc.ts";
import { errnoFsError } from "./abi.ts";

// ------------------------------------------------------------ system calls

const AT_FDCWD = -100;
const EINTR = 4;

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
export interface Sys {
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

/**
 * The process's system-call functions (open, ioctl, close), made once: the
 * raw stub where it can be built, else blocking libc calls.
 * @returns functions that resolve to the result or `-errno`
 */
export function system(): Sys {
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
export async function openPath(path: string): Promise<number> {
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
