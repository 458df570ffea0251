/**
 * The C side of the FUSE binding: the libfuse 3 and libc symbols the session
 * calls through `Deno.dlopen`, and the loading of the two libraries (once per
 * process, on first use). Signatures follow libfuse 3.14 `fuse_lowlevel.h`
 * (`fuse_session_*`, `fuse_reply_*`, `fuse_add_direntry*`,
 * `fuse_lowlevel_notify_inval_inode`) and glibc (`poll`, `eventfd`, `fcntl`,
 * `read`, `write`, `close`, `free`, `strlen`, `sched_yield`).
 *
 * Calls marked `callback: true` may call back into JS (the op slots), and
 * `poll_wait` runs on a Deno worker thread (`nonblocking: true`); see the
 * threading design in session.ts.
 * @module
 */

/** libfuse 3 symbols used by the session (`libfuse3.so.3`). */
export const FUSE_SYMBOLS = {
  fuse_session_new: {
    parameters: ["buffer", "buffer", "usize", "pointer"],
    result: "pointer",
  },
  fuse_session_mount: { parameters: ["pointer", "buffer"], result: "i32" },
  fuse_session_fd: { parameters: ["pointer"], result: "i32" },
  fuse_session_exit: { parameters: ["pointer"], result: "void" },
  fuse_session_destroy: {
    parameters: ["pointer"],
    result: "void",
    callback: true, // may call the `destroy` op
  },
  fuse_session_receive_buf: {
    parameters: ["pointer", "buffer"],
    result: "i32",
  },
  fuse_session_process_buf: {
    parameters: ["pointer", "buffer"],
    result: "void",
    callback: true, // calls the op slots synchronously
  },
  fuse_opt_free_args: { parameters: ["buffer"], result: "void" },
  fuse_req_ctx: { parameters: ["pointer"], result: "pointer" },
  fuse_req_interrupted: { parameters: ["pointer"], result: "i32" },
  fuse_reply_err: { parameters: ["pointer", "i32"], result: "i32" },
  fuse_reply_none: { parameters: ["pointer"], result: "void" },
  fuse_reply_entry: { parameters: ["pointer", "buffer"], result: "i32" },
  fuse_reply_create: {
    parameters: ["pointer", "buffer", "buffer"],
    result: "i32",
  },
  fuse_reply_attr: { parameters: ["pointer", "buffer", "f64"], result: "i32" },
  fuse_reply_readlink: { parameters: ["pointer", "buffer"], result: "i32" },
  fuse_reply_open: { parameters: ["pointer", "buffer"], result: "i32" },
  fuse_reply_write: { parameters: ["pointer", "usize"], result: "i32" },
  fuse_reply_buf: { parameters: ["pointer", "buffer", "usize"], result: "i32" },
  fuse_reply_statfs: { parameters: ["pointer", "buffer"], result: "i32" },
  fuse_reply_xattr: { parameters: ["pointer", "usize"], result: "i32" },
  fuse_reply_ioctl: {
    parameters: ["pointer", "i32", "buffer", "usize"],
    result: "i32",
  },
  fuse_add_direntry: {
    parameters: ["pointer", "pointer", "usize", "buffer", "buffer", "i64"],
    result: "usize",
  },
  fuse_add_direntry_plus: {
    parameters: ["pointer", "pointer", "usize", "buffer", "buffer", "i64"],
    result: "usize",
  },
  fuse_version: { parameters: [], result: "i32" },
  fuse_lowlevel_notify_inval_inode: {
    parameters: ["pointer", "u64", "i64", "i64"],
    result: "i32",
  },
} as const;

/** libc symbols used by the request loop (`libc.so.6`); `poll_wait` is `poll` on a worker thread. */
export const LIBC_SYMBOLS = {
  poll_wait: {
    name: "poll",
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  sched_yield: { parameters: [], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  free: { parameters: ["pointer"], result: "void" },
  strlen: { parameters: ["pointer"], result: "usize" },
} as const;

/** The bound libfuse functions. */
export type FuseLib = Deno.DynamicLibrary<typeof FUSE_SYMBOLS>["symbols"];
/** The bound libc functions. */
export type LibcLib = Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"];

let fuseLib: FuseLib | undefined;
let libcLib: LibcLib | undefined;

/**
 * The bound libfuse and libc, loaded on first call and kept for the process.
 * @throws Error if `libfuse3.so.3` cannot be loaded (install `fuse3 libfuse3-3`)
 */
export function libs(): { F: FuseLib; C: LibcLib } {
  if (!fuseLib) {
    try {
      fuseLib = Deno.dlopen("libfuse3.so.3", FUSE_SYMBOLS).symbols;
    } catch (e) {
      throw new Error(
        "cannot load libfuse3.so.3 (install it: apt-get install -y fuse3 libfuse3-3): " +
          (e instanceof Error ? e.message : String(e)),
      );
    }
  }
  if (!libcLib) libcLib = Deno.dlopen("libc.so.6", LIBC_SYMBOLS).symbols;
  return { F: fuseLib, C: libcLib };
}

/** Version of the loaded libfuse, e.g. 314 for 3.14 (`fuse_version()`). */
export function fuseVersion(): number {
  return libs().F.fuse_version();
}

// ------------------------------------------------------------- marshalling

const enc = new TextEncoder();

/** A byte array backed by a plain ArrayBuffer (what FFI `buffer` params take). */
export type Bytes = Uint8Array<ArrayBuffer>;

/** The bytes of a string (UTF-8) or the bytes themselves, typed for an FFI `buffer` parameter. */
export function bytes(s: string | Uint8Array): Bytes {
  return (typeof s === "string" ? enc.encode(s) : s) as Bytes;
}

/** NUL-terminated copy of a string or bytes. */
export function cString(s: string | Uint8Array): Bytes {
  const b = bytes(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}
