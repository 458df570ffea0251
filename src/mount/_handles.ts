/**
 * Test helper: file handles through glibc — `name_to_handle_at(2)`,
 * `open_by_handle_at(2)` and `openat(2)` by `Deno.dlopen`, failing with
 * {@linkcode PosixError} (errno and its name) as src/mount/_posix.ts does.
 * `open_by_handle_at` needs CAP_DAC_READ_SEARCH (tests run as root).
 *
 * Like _posix.ts: blocking calls on the JS thread, so never on a FUSE mount
 * served by this same process. Linux on x86-64 or arm64 only.
 * @module
 */
import { errno, O_CLOEXEC, PosixError } from "./_posix.ts";

/** Largest handle the kernel makes (linux/fcntl.h MAX_HANDLE_SZ). */
export const MAX_HANDLE_SZ = 128;
/** `name_to_handle_at` flag: a handle of the target of a final symlink. */
export const AT_SYMLINK_FOLLOW = 0x400;
/** Handle type of a FUSE inode: node id (u64, high word first) and generation (u32). */
export const FILEID_INO64_GEN = 0x81;

/** A file handle as `struct file_handle` carries it. */
export interface FileHandle {
  /** `handle_type`: the filesystem's encoding (FUSE: {@linkcode FILEID_INO64_GEN}; ext4: 1) */
  type: number;
  /** `f_handle`, `handle_bytes` long */
  bytes: Uint8Array;
}

const SYMBOLS = {
  name_to_handle_at: { parameters: ["i32", "buffer", "buffer", "buffer", "i32"], result: "i32" },
  open_by_handle_at: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  openat: { parameters: ["i32", "buffer", "i32", "u32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

let lib: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] | undefined;
const libc = () => lib ??= Deno.dlopen("libc.so.6", SYMBOLS).symbols;
try {
  // loaded at import so no single test's resource sanitizer sees the library
  if (Deno.permissions.querySync({ name: "ffi" }).state === "granted") libc();
} catch { /* loaded on first use */ }

const enc = new TextEncoder();
function cstr(s: string): Uint8Array<ArrayBuffer> {
  const b = enc.encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

function chk(r: number, call: string, what: string): number {
  if (r < 0) throw new PosixError(errno(), call, what);
  return r;
}

/**
 * `name_to_handle_at(AT_FDCWD, path, …, flags)`.
 * @returns the handle and the mount id the kernel reports
 * @throws PosixError (EOPNOTSUPP where the filesystem cannot export)
 */
export function nameToHandle(path: string, flags = 0): { handle: FileHandle; mountId: number } {
  const fh = new Uint8Array(8 + MAX_HANDLE_SZ);
  const dv = new DataView(fh.buffer);
  dv.setUint32(0, MAX_HANDLE_SZ, true);
  const mid = new Uint8Array(4);
  chk(libc().name_to_handle_at(-100, cstr(path), fh, mid, flags), "name_to_handle_at", path);
  const n = dv.getUint32(0, true);
  return {
    handle: { type: dv.getInt32(4, true), bytes: fh.slice(8, 8 + n) },
    mountId: new DataView(mid.buffer).getInt32(0, true),
  };
}

/**
 * `open_by_handle_at(mountFd, handle, flags)`: opens the file the handle
 * names on the filesystem of `mountFd` (any descriptor of that mount). The
 * descriptor is close-on-exec (see `open` in _posix.ts for why).
 * @returns the new descriptor
 * @throws PosixError ESTALE when the handle's file is gone
 */
export function openByHandle(mountFd: number, h: FileHandle, flags: number): number {
  const fh = new Uint8Array(8 + h.bytes.length);
  const dv = new DataView(fh.buffer);
  dv.setUint32(0, h.bytes.length, true);
  dv.setInt32(4, h.type, true);
  fh.set(h.bytes, 8);
  return chk(libc().open_by_handle_at(mountFd, fh, flags | O_CLOEXEC), "open_by_handle_at", `type ${h.type}`);
}

/** `openat(dirFd, path, flags)`; returns the descriptor. */
export function openat(dirFd: number, path: string, flags: number): number {
  return chk(libc().openat(dirFd, cstr(path), flags | O_CLOEXEC, 0), "openat", path);
}

/** A FUSE handle made by hand ({@linkcode FILEID_INO64_GEN}): node id and generation, host byte order. */
export function fuseHandle(nodeid: bigint, generation: number): FileHandle {
  const b = new Uint8Array(12);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, Number(nodeid >> 32n), true);
  dv.setUint32(4, Number(nodeid & 0xffffffffn), true);
  dv.setUint32(8, generation >>> 0, true);
  return { type: FILEID_INO64_GEN, bytes: b };
}

/** The node id and generation of a FUSE handle ({@linkcode FILEID_INO64_GEN}). */
export function fuseHandleFields(h: FileHandle): { nodeid: bigint; generation: number } {
  if (h.type !== FILEID_INO64_GEN || h.bytes.length < 12) throw new Error(`not a FUSE handle: type ${h.type}`);
  const dv = new DataView(h.bytes.buffer, h.bytes.byteOffset, h.bytes.length);
  return {
    nodeid: (BigInt(dv.getUint32(0, true)) << 32n) | BigInt(dv.getUint32(4, true)),
    generation: dv.getUint32(8, true),
  };
}
