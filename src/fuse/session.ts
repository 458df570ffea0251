/**
 * A libfuse 3 low-level session driven from Deno through `Deno.dlopen`:
 * mount a filesystem described by a {@linkcode FuseOps} object with
 * {@linkcode mountFuse}. Engine-agnostic; the engine only implements the
 * handlers it supports.
 *
 * ## Threading design
 *
 * Deno runs JavaScript on one thread, and FFI callbacks can only run there.
 * The obvious design — `fuse_session_loop()` on an FFI worker thread
 * (`nonblocking: true`) with `Deno.UnsafeCallback.threadSafe` slots — does
 * not work with libfuse: a thread-safe callback only *queues* the call and
 * returns to C at once, so libfuse goes on while every pointer argument is
 * still unread: the `name` and `write` data point into the receive buffer
 * that the very next `read(/dev/fuse)` overwrites, and `fuse_file_info` /
 * `struct stat` arguments live on the C stack frame that has just been
 * popped. Copying them out "later" from JS is a use-after-free.
 *
 * So the only work done off the JS thread is *waiting*:
 *
 * 1. `/dev/fuse` (`fuse_session_fd`) is switched to `O_NONBLOCK`.
 * 2. JS calls `fuse_session_receive_buf()` and `fuse_session_process_buf()`
 *    *synchronously*. libfuse decodes the request and calls our ordinary
 *    `Deno.UnsafeCallback` slot synchronously on the JS thread, which copies
 *    every argument into JS memory before returning (a synchronous `write`
 *    handler may borrow its data instead: {@linkcode FuseOps.borrowWriteData}).
 * 3. While no handler is still running (every request so far was answered
 *    synchronously), the JS thread waits for each next request itself:
 *    checking `/dev/fuse` (and an `eventfd` used to wake the loop for
 *    shutdown) with `poll()` without sleeping for {@linkcode BUSY_POLL_US},
 *    then a plain blocking `poll()` with a short timeout ({@linkcode SPIN_MS});
 *    then step 2 for one request. A request arriving then wakes this thread
 *    directly, and its reply is made without any other thread taking part.
 *    That is the fast path: answering a request that came in while the loop
 *    waited on a worker thread costs two more thread wake-ups (the worker's,
 *    then the event loop's through Deno's op completion) — about as much as
 *    the request itself for a stat or a small write. The synchronous wait is
 *    bounded: after {@linkcode SPIN_MS} without a request, or once the event
 *    loop has had no turn for {@linkcode YIELD_MS} (timers, signals,
 *    subprocesses and async handlers need it), or while an async handler is
 *    pending, the loop waits as before the fast path existed:
 * 4. JS serves what is queued (step 2, up to 64 requests, until `EAGAIN`),
 *    then calls the same `poll()` as a `nonblocking: true` FFI call, i.e. on
 *    a Deno worker thread, and awaits the result without blocking the event
 *    loop; then goes back to 3.
 * 5. The handler may return a value or a Promise; the reply
 *    (`fuse_reply_*`) is made from JS when it settles. libfuse keeps the
 *    `fuse_req_t` alive until it is replied to, so late replies are legal.
 *
 * All libfuse calls therefore happen on the JS thread; libfuse's session is
 * never used concurrently, and no locks are needed.
 *
 * ## Guarantees
 *
 * - Every request is replied to exactly once: with the handler's value, or
 *   with `fuse_reply_err` if it throws/rejects (an error object with a
 *   numeric `errno` property in 1..4095 gives that errno, anything else
 *   `EIO` and a call to `onError`). `forget` is answered with
 *   `fuse_reply_none`. Unimplemented ops are left out of the ops table, so
 *   libfuse applies its documented default (mostly `ENOSYS`).
 * - Handlers must never access the mountpoint themselves (stat, open,
 *   readdir...): the kernel would send a request to this very thread, which
 *   is busy waiting for the kernel — a self-deadlock.
 * - Shutdown on `fusermount3 -u`/`umount` (the kernel aborts the
 *   connection, poll reports it), on {@linkcode FuseMount.unmount}, and on
 *   SIGINT/SIGTERM (Deno signal listeners calling `unmount()`; libfuse's own
 *   `fuse_set_signal_handlers` is not used because it would fight Deno's
 *   handlers). After the loop ends, in-flight handlers get
 *   `drainTimeoutMs` to finish, then `fuse_session_destroy` closes the
 *   device.
 *
 * - Unmounting uses `fusermount3 -u` (falling back to `umount`) run as a
 *   subprocess while the loop keeps serving, not `fuse_session_unmount`:
 *   that call closes `/dev/fuse` first (aborting in-flight requests)
 *   and, in libfuse releases before ~3.10, leaves `se->fd` set so that
 *   `fuse_session_destroy` closes the descriptor a second time (in a
 *   multi-threaded process that number may already belong to someone
 *   else). The session is torn down with `fuse_session_destroy` only.
 *
 * Requires `--allow-ffi` (and `--allow-run` for unmounting via
 * `fusermount3`), Linux x86_64, and `libfuse3.so.3` (Debian: `libfuse3-3`,
 * `fuse3`).
 *
 * Source of the C API: libfuse 3.14 `fuse_lowlevel.h`.
 * @module
 */

import {
  decodeCtx,
  decodeFileInfo,
  encodeEntryParam,
  encodeFileInfo,
  encodeFuseArgs,
  encodeStat,
  type EntryParam,
  type FileInfo,
  FUSE_ARGS,
  FUSE_BUF,
  FUSE_CTX,
  FUSE_ENTRY_PARAM,
  FUSE_FILE_INFO,
  LIBC,
  LOWLEVEL_OPS_SIZE,
  type LowlevelOpSlot,
  opsSlotOffset,
  STAT,
  type U64,
} from "./abi.ts";
import { type Bytes, cString, type FuseLib, type LibcLib, libs } from "./ffi.ts";
import { isThenable, registerOps, type SlotHost } from "./op_slots.ts";
import { FUSE_OPCODE, type FuseStats } from "../stats/fuse_stats.ts";
import {
  type AttrReply,
  ErrnoReply,
  type FuseMount,
  type FuseOps,
  type FuseRequest,
  type MountOptions,
  type OpenReply,
} from "./types.ts";

export type { ConnInfo, EntryParam, FileInfo, StatAttr, StatFs, U64 } from "./abi.ts";
export {
  type AttrReply,
  type CreateReply,
  type DirEntry,
  type DirEntryPlus,
  ErrnoReply,
  errnoReply,
  FUSE_ROOT_ID,
  type FuseMount,
  type FuseOps,
  type FuseRequest,
  type Ino,
  type IoctlReply,
  type MaybePromise,
  type MountOptions,
  type OpenReply,
  type SetAttrChanges,
} from "./types.ts";
export { fuseVersion } from "./ffi.ts";

const ENOENT = 2;
const EINTR = 4;
const EIO = 5;
const ENOTCONN = 107;
const EAGAIN = 11;
const ERANGE = 34;
const BATCH = 64;
/**
 * How long the JS thread itself waits in `poll()` for the next request before
 * handing the wait to a worker thread and the event loop, ms. The wait sleeps
 * in the kernel (no spinning); it only delays timers and other event-loop work.
 */
export const SPIN_MS = 2;
/**
 * Before that sleeping wait, how long the JS thread keeps checking
 * `/dev/fuse` without sleeping (yielding the CPU to anything runnable on it
 * between checks), µs. A client answering at queue depth 1 sends its next
 * request within tens of µs; on a virtual machine, waking a thread whose
 * virtual CPU has gone idle costs about as much again (measured on the
 * benchmark's 2-CPU VM with the client on the other CPU: 4-byte appends 108
 * → 50 µs, stats 66 → 34 µs at the median).
 */
export const BUSY_POLL_US = 100;
/** Longest time the event loop goes without a turn while requests keep coming, ms. */
export const YIELD_MS = 20;

// ------------------------------------------------------------- helpers

function errnoOf(e: unknown): number | undefined {
  if (e !== null && typeof e === "object" && "errno" in e) {
    const n = (e as { errno: unknown }).errno;
    if (typeof n === "number" && Number.isInteger(n)) {
      const a = Math.abs(n);
      if (a >= 1 && a <= 4095) return a;
    }
  }
  return undefined;
}

/**
 * A reusable copy of a small C struct: `read(p)` copies `size` bytes at `p`
 * into one buffer kept for the session (a copy into the JS heap is cheaper
 * than wrapping the C memory in a new external ArrayBuffer per request, which
 * the garbage collector must then track) and returns a view of it, valid until
 * the next `read`.
 */
class StructCopy {
  readonly bytes: Uint8Array<ArrayBuffer>;
  readonly view: DataView;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }
  read(p: Deno.PointerObject): DataView {
    Deno.UnsafePointerView.copyInto(p, this.bytes);
    return this.view;
  }
}

/** Copies of `struct fuse_ctx` and `struct fuse_file_info` (decoded at once, on the JS thread only). */
const ctxCopy = new StructCopy(FUSE_CTX.size);
const fileInfoCopy = new StructCopy(FUSE_FILE_INFO.size);

async function runUnmountCommand(
  mountpoint: string,
  lazy: boolean,
): Promise<{ ok: boolean; message: string }> {
  const tries: [string, string[]][] = [
    ["fusermount3", ["-u", ...(lazy ? ["-z"] : []), mountpoint]],
    ["umount", [...(lazy ? ["-l"] : []), mountpoint]],
  ];
  let message = "no unmount command found (install fuse3)";
  for (const [cmd, args] of tries) {
    try {
      const out = await new Deno.Command(cmd, {
        args,
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).output();
      return {
        ok: out.success,
        message: new TextDecoder().decode(out.stderr).trim(),
      };
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      message = e instanceof Error ? e.message : String(e);
      break;
    }
  }
  return { ok: false, message };
}

/** Per-request reply state: guarantees exactly one reply. */
class Req implements FuseRequest {
  done = false;
  abandoned = false;
  /** FUSE opcode, for the counters */
  op = 0;
  /** `performance.now()` when the request reached its callback (ms; 0 without counters) */
  t0 = 0;
  /** the errno of the reply (0: success), for the counters */
  errno = 0;
  readonly uid: number;
  readonly gid: number;
  readonly pid: number;
  readonly umask: number;
  constructor(
    readonly ptr: Deno.PointerObject,
    private F: FuseLib,
    private se: Deno.PointerObject | null,
  ) {
    const c = F.fuse_req_ctx(ptr);
    const ctx = c ? decodeCtx(ctxCopy.read(c), 0) : { uid: 0, gid: 0, pid: 0, umask: 0 };
    this.uid = ctx.uid;
    this.gid = ctx.gid;
    this.pid = ctx.pid;
    this.umask = ctx.umask;
  }
  interrupted(): boolean {
    return !this.done && this.F.fuse_req_interrupted(this.ptr) !== 0;
  }
  invalidateInode(ino: bigint, offset: bigint, length: bigint): number {
    if (!this.se) return -ENOTCONN;
    return this.F.fuse_lowlevel_notify_inval_inode(this.se, ino, offset, length);
  }
}

// ------------------------------------------------------------- session

/**
 * One mount: its libfuse session, request loop, dispatch and replies. The
 * members not marked private are its {@linkcode SlotHost} side, used by the
 * op callbacks of op_slots.ts (the class itself is not exported).
 */
class Session implements FuseMount, SlotHost {
  readonly mountpoint: string;
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;
  readonly F: FuseLib;
  private C: LibcLib;
  private se: Deno.PointerObject | null = null;
  private callbacks: Deno.UnsafeCallback[] = [];
  private opsTable = new BigUint64Array(
    new ArrayBuffer(LOWLEVEL_OPS_SIZE),
  );
  // Explicit ArrayBuffers: their backing stores are off the V8 heap and
  // never move (pollfds is read by poll() on a worker thread).
  private fbuf = new Uint8Array(new ArrayBuffer(FUSE_BUF.size));
  private pollfds = new Uint8Array(new ArrayBuffer(16));
  // Reply structs, reused: libfuse copies them before a fuse_reply_* returns.
  private entryBytes = new Uint8Array(FUSE_ENTRY_PARAM.size);
  private entryView = new DataView(this.entryBytes.buffer);
  private statBytes = new Uint8Array(STAT.size);
  private statView = new DataView(this.statBytes.buffer);
  private fd = -1;
  private wakeFd = -1;
  private stopRequested = false;
  private forced = false;
  private unmounting: Promise<void> | null = null;
  private inflight = new Set<Promise<void>>();
  private pending = new Set<Req>();
  private attrTimeout: number;
  private entryTimeout: number;
  readonly onError: (err: unknown, op: string) => void;
  /** request counters, or null when none are kept ({@linkcode MountOptions.stats}) */
  readonly stats: FuseStats | null;
  private signalHandler: (() => void) | null = null;

  constructor(
    private ops: FuseOps,
    mountpoint: string,
    private opts: MountOptions,
  ) {
    const { F, C } = libs();
    this.F = F;
    this.C = C;
    this.mountpoint = mountpoint.startsWith("/") ? mountpoint : `${Deno.cwd()}/${mountpoint}`;
    this.attrTimeout = opts.attrTimeout ?? 1;
    this.entryTimeout = opts.entryTimeout ?? 1;
    this.onError = opts.onError ??
      ((err, op) => console.error(`vexfs fuse: ${op}:`, err));
    this.closed = new Promise((r) => (this.resolveClosed = r));
    this.stats = opts.stats ?? null;
  }

  // ---- setup

  start(): void {
    this.wakeFd = this.C.eventfd(0, LIBC.EFD_CLOEXEC | LIBC.EFD_NONBLOCK);
    if (this.wakeFd < 0) throw new Error("eventfd() failed");
    try {
      this.createAndMount();
    } catch (e) {
      this.C.close(this.wakeFd);
      this.wakeFd = -1;
      this.closeCallbacks();
      throw e;
    }
    if (this.opts.handleSignals !== false) {
      this.signalHandler = () => {
        if (this.unmounting) {
          this.forced = true;
          this.requestStop();
        } else {
          this.unmount();
        }
      };
      Deno.addSignalListener("SIGINT", this.signalHandler);
      Deno.addSignalListener("SIGTERM", this.signalHandler);
    }
    this.loop().then(
      () => this.finish(),
      (e) => {
        this.onError(e, "session loop");
        this.forced = true;
        return this.finish();
      },
    );
  }

  private createAndMount(): void {
    registerOps(this, this.ops);
    const argvStrings = [
      "vexfs",
      ...(this.opts.debug ? ["-d"] : []),
      ...(this.opts.options?.length ? ["-o", this.opts.options.join(",")] : []),
    ].map(cString);
    const argv = new BigUint64Array(argvStrings.length + 1);
    argvStrings.forEach((s, i) => argv[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(s))));
    const args = new Uint8Array(FUSE_ARGS.size);
    encodeFuseArgs(
      new DataView(args.buffer),
      0,
      argvStrings.length,
      BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(argv))),
    );
    const se = this.F.fuse_session_new(
      args,
      new Uint8Array(this.opsTable.buffer),
      BigInt(LOWLEVEL_OPS_SIZE),
      null,
    );
    this.F.fuse_opt_free_args(args);
    if (!se) {
      throw new Error(
        `fuse_session_new failed (invalid mount options? ${JSON.stringify(this.opts.options ?? [])})`,
      );
    }
    if (this.F.fuse_session_mount(se, cString(this.mountpoint)) !== 0) {
      this.F.fuse_session_destroy(se);
      throw new Error(`fuse_session_mount failed for ${this.mountpoint}`);
    }
    this.se = se;
    this.fd = this.F.fuse_session_fd(se);
    const fl = this.C.fcntl(this.fd, LIBC.F_GETFL, 0);
    this.C.fcntl(this.fd, LIBC.F_SETFL, fl | LIBC.O_NONBLOCK);
  }

  setSlot(
    slot: LowlevelOpSlot,
    cb: Deno.UnsafeCallback,
  ): void {
    this.callbacks.push(cb);
    this.opsTable[opsSlotOffset(slot) / 8] = BigInt(
      Deno.UnsafePointer.value(cb.pointer),
    );
  }

  private closeCallbacks(): void {
    for (const cb of this.callbacks) cb.close();
    this.callbacks = [];
  }

  // ---- the loop

  private requestStop(): void {
    this.stopRequested = true;
    if (this.se) this.F.fuse_session_exit(this.se);
    if (this.wakeFd >= 0) {
      const one = new BigUint64Array([1n]);
      this.C.write(this.wakeFd, new Uint8Array(one.buffer), 8n);
    }
  }

  private async loop(): Promise<void> {
    const se = this.se!;
    const pv = new DataView(this.pollfds.buffer);
    pv.setInt32(0, this.fd, true);
    pv.setInt16(4, LIBC.POLLIN, true);
    pv.setInt32(8, this.wakeFd, true);
    pv.setInt16(12, LIBC.POLLIN, true);
    const drain = new Uint8Array(8);
    const resetEvents = () => {
      pv.setInt16(6, 0, true);
      pv.setInt16(14, 0, true);
    };
    /** When the event loop last had a turn (performance.now(), ms). */
    let turn = performance.now();
    while (true) {
      if (this.stopRequested) return;
      if (this.pending.size === 0 && performance.now() - turn < YIELD_MS) {
        // The fast path (module doc, step 3): wait on this thread, then serve one request.
        // Polling first, not reading until EAGAIN, spares a failed read(2) per request.
        resetEvents();
        let r = this.C.poll(this.pollfds, 2n, 0);
        if (r === 0) {
          const until = performance.now() + BUSY_POLL_US / 1000;
          do {
            this.C.sched_yield();
            r = this.C.poll(this.pollfds, 2n, 0);
          } while (r === 0 && performance.now() < until);
        }
        if (r === 0) r = this.C.poll(this.pollfds, 2n, SPIN_MS);
        if (r !== 0) {
          if (r > 0 && pv.getInt16(14, true) & LIBC.POLLIN) this.C.read(this.wakeFd, drain, 8n);
          // a request or a hang-up (the receive reports it); EINTR (r < 0): poll again
          if (r > 0 && pv.getInt16(6, true) !== 0 && this.receive(se) === "ended") return;
          continue;
        }
      } else {
        // Handlers are pending or the event loop is due a turn: serve what is queued, then wait off-thread.
        let n = 0;
        for (; n < BATCH; n++) {
          if (this.stopRequested) return;
          const got = this.receive(se);
          if (got === "ended") return;
          if (got === "empty") break;
        }
        if (n >= BATCH) {
          // Let timers and I/O of async handlers run before the next batch.
          await new Promise((r) => setTimeout(r, 0));
          turn = performance.now();
          continue;
        }
      }
      if (this.stopRequested) return;
      resetEvents();
      await this.C.poll_wait(this.pollfds, 2n, -1);
      turn = performance.now();
      if (pv.getInt16(14, true) & LIBC.POLLIN) {
        this.C.read(this.wakeFd, drain, 8n);
      }
    }
  }

  /**
   * Reads one request from `/dev/fuse` and processes it (its handler runs, and
   * replies unless it is async).
   * @returns "served", "empty" (nothing queued) or "ended" (unmounted or exited)
   * @throws Error when reading `/dev/fuse` fails otherwise
   */
  private receive(se: Deno.PointerObject): "served" | "empty" | "ended" {
    while (true) {
      const r = this.F.fuse_session_receive_buf(se, this.fbuf);
      if (r > 0) {
        this.F.fuse_session_process_buf(se, this.fbuf);
        return "served";
      }
      if (r === 0) return "ended"; // unmounted (ENODEV) or exited
      if (r === -EAGAIN) return "empty";
      if (r !== -EINTR) throw new Error(`reading /dev/fuse failed (errno ${-r})`);
    }
  }

  private async finish(): Promise<void> {
    if (this.signalHandler) {
      Deno.removeSignalListener("SIGINT", this.signalHandler);
      Deno.removeSignalListener("SIGTERM", this.signalHandler);
      this.signalHandler = null;
    }
    // Let in-flight handlers reply (late replies to a dead connection are
    // harmless), then abandon the rest so no reply touches freed memory.
    if (this.inflight.size > 0) {
      let timer: number | undefined;
      await Promise.race([
        Promise.allSettled([...this.inflight]),
        new Promise((r) => {
          timer = setTimeout(r, this.opts.drainTimeoutMs ?? 5000);
        }),
      ]);
      clearTimeout(timer);
    }
    for (const p of this.pending) p.abandoned = true;
    const se = this.se!;
    this.se = null;
    const mem = new DataView(this.fbuf.buffer).getBigUint64(
      FUSE_BUF.off.mem,
      true,
    );
    // Closes /dev/fuse (aborting the connection if still mounted) and calls
    // the destroy op if INIT was seen without DESTROY.
    this.F.fuse_session_destroy(se);
    if (mem !== 0n) this.C.free(Deno.UnsafePointer.create(mem));
    this.C.close(this.wakeFd);
    this.wakeFd = -1;
    if (this.forced) {
      // The connection is aborted; accesses now fail with ENOTCONN, so a
      // lazy unmount cannot hang on us. It fails harmlessly if already gone.
      await runUnmountCommand(this.mountpoint, true);
    }
    this.closeCallbacks();
    this.resolveClosed();
  }

  unmount(): Promise<void> {
    if (!this.unmounting) this.unmounting = this.doUnmount();
    return this.unmounting;
  }

  private async doUnmount(): Promise<void> {
    if (this.se && !this.stopRequested) {
      const r = await runUnmountCommand(this.mountpoint, false);
      if (!r.ok) {
        this.forced = true;
        this.requestStop();
      } else {
        // The kernel aborts the connection when the superblock goes away;
        // if it does not within 3 s (e.g. bind-mounted elsewhere), force.
        let timer: number | undefined;
        const t = new Promise<"timeout">((res) => {
          timer = setTimeout(() => res("timeout"), 3000);
        });
        const w = await Promise.race([this.closed, t]);
        clearTimeout(timer);
        if (w === "timeout") {
          this.forced = true;
          this.requestStop();
        }
      }
    }
    await this.closed;
  }

  // ---- dispatch

  /** Run a handler and reply exactly once. */
  dispatch<T>(
    op: string,
    reqPtr: Deno.PointerValue,
    call: (req: Req) => T | PromiseLike<T>,
    reply: (req: Req, value: T) => void,
    noReply = false,
  ): void {
    if (!reqPtr) return;
    let req: Req;
    try {
      req = new Req(reqPtr, this.F, this.se);
      if (this.stats) {
        req.op = FUSE_OPCODE[op] ?? 0;
        req.t0 = performance.now();
      }
    } catch (e) {
      this.onError(e, op);
      if (noReply) this.F.fuse_reply_none(reqPtr);
      else this.F.fuse_reply_err(reqPtr, EIO);
      return;
    }
    let r: T | PromiseLike<T>;
    try {
      r = call(req);
    } catch (e) {
      this.fail(op, req, e, noReply);
      return;
    }
    if (!isThenable(r)) {
      this.complete(op, req, r, reply, noReply);
      return;
    }
    this.pending.add(req);
    const p = Promise.resolve(r).then(
      (v) => this.complete(op, req, v, reply, noReply),
      (e) => this.fail(op, req, e, noReply),
    ).finally(() => {
      this.pending.delete(req);
      this.inflight.delete(p);
    });
    this.inflight.add(p);
  }

  private complete<T>(
    op: string,
    req: Req,
    v: T,
    reply: (req: Req, value: T) => void,
    noReply: boolean,
  ): void {
    if (req.done) return;
    if (v instanceof ErrnoReply) {
      const n = v.errno;
      req.errno = n;
      this.send(req, () => noReply ? this.F.fuse_reply_none(req.ptr) : this.F.fuse_reply_err(req.ptr, n));
      return;
    }
    try {
      reply(req, v);
    } catch (e) {
      this.fail(op, req, e, noReply);
      return;
    }
    if (!req.done) this.fail(op, req, new Error("no reply made"), noReply);
  }

  private fail(op: string, req: Req, e: unknown, noReply: boolean): void {
    if (req.done) return;
    let errno = errnoOf(e);
    if (errno === undefined) {
      errno = EIO;
      try {
        this.onError(e, op);
      } catch { /* a throwing logger must not break the reply */ }
    }
    const n = errno;
    req.errno = n;
    this.send(
      req,
      () => noReply ? this.F.fuse_reply_none(req.ptr) : this.F.fuse_reply_err(req.ptr, n),
    );
  }

  /** Mark replied, then call the native reply (skipped if abandoned). */
  send(req: Req, native: () => unknown): void {
    if (req.done) return;
    req.done = true;
    const st = this.stats;
    if (st) st.record(req.op, Math.round((performance.now() - req.t0) * 1e6), req.errno);
    if (req.abandoned) return;
    native();
  }

  replyOk = (req: Req): void => {
    this.send(req, () => this.F.fuse_reply_err(req.ptr, 0));
  };

  /**
   * Encodes `e` into the session's `struct fuse_entry_param` buffer, which is
   * reused: pass it to libfuse at once (replies are made synchronously).
   */
  entryBuf(e: EntryParam): Bytes {
    const b = this.entryBytes;
    encodeEntryParam(this.entryView, 0, {
      ...e,
      attrTimeout: e.attrTimeout ?? this.attrTimeout,
      entryTimeout: e.entryTimeout ?? this.entryTimeout,
    });
    return b;
  }

  replyEntry = (req: Req, e: EntryParam): void => {
    // A negative entry (node id 0) is the caller's ENOENT: counted as one.
    if (e.ino === 0n || e.ino === 0) req.errno = ENOENT;
    const b = this.entryBuf(e);
    this.send(req, () => this.F.fuse_reply_entry(req.ptr, b));
  };

  replyAttr = (req: Req, a: AttrReply): void => {
    const attr = "attr" in a ? a.attr : a;
    const timeout = "attr" in a ? a.timeout ?? this.attrTimeout : this.attrTimeout;
    const b = this.statBytes;
    encodeStat(this.statView, 0, attr);
    this.send(req, () => this.F.fuse_reply_attr(req.ptr, b, timeout));
  };

  openBuf(fi: FileInfo, o: OpenReply | void): Bytes {
    const b = new Uint8Array(FUSE_FILE_INFO.size);
    const r = o ?? {};
    encodeFileInfo(new DataView(b.buffer), 0, {
      ...fi,
      fh: r.fh !== undefined ? BigInt(r.fh) : fi.fh,
      directIo: r.directIo ?? false,
      keepCache: r.keepCache ?? false,
      nonseekable: r.nonseekable ?? false,
      cacheReaddir: r.cacheReaddir ?? false,
      noflush: r.noflush ?? false,
    });
    return b;
  }

  replyBuf(req: Req, data: Uint8Array, max: number): void {
    const d = (data.length > max ? data.subarray(0, max) : data) as Bytes;
    this.send(req, () => this.F.fuse_reply_buf(req.ptr, d, BigInt(d.length)));
  }

  replyXattrValue(req: Req, data: Bytes, size: number): void {
    if (size === 0) {
      this.send(
        req,
        () => this.F.fuse_reply_xattr(req.ptr, BigInt(data.length)),
      );
    } else if (data.length > size) {
      req.errno = ERANGE;
      this.send(req, () => this.F.fuse_reply_err(req.ptr, ERANGE));
    } else {
      this.send(
        req,
        () => this.F.fuse_reply_buf(req.ptr, data, BigInt(data.length)),
      );
    }
  }

  copyIn(p: Deno.PointerValue, n: number): Bytes {
    const out = new Uint8Array(n);
    if (p && n > 0) Deno.UnsafePointerView.copyInto(p, out);
    return out;
  }

  name(p: Deno.PointerValue): Bytes {
    if (!p) return new Uint8Array(0);
    return this.copyIn(p, Number(this.C.strlen(p)));
  }

  fi(p: Deno.PointerValue): FileInfo | null {
    return p ? decodeFileInfo(fileInfoCopy.read(p), 0) : null;
  }

  fiReq(p: Deno.PointerValue): FileInfo {
    return this.fi(p) ?? decodeFileInfo(new DataView(new ArrayBuffer(40)), 0);
  }

  /** Pack directory entries into a `size`-byte buffer and reply with it. */
  replyDir<E extends { name: string | Uint8Array; offset?: U64 }>(
    req: Req,
    size: number,
    start: bigint,
    entries: Iterable<E>,
    add: (
      e: E,
      buf: Deno.PointerValue,
      room: number,
      next: bigint,
    ) => number | bigint,
  ): void {
    const buf = new Uint8Array(size);
    const base = Deno.UnsafePointer.of(buf);
    let used = 0;
    let idx = 0n;
    for (const e of entries) {
      idx++;
      const next = e.offset !== undefined ? BigInt(e.offset) : start + idx;
      const room = size - used;
      const need = Number(
        add(e, Deno.UnsafePointer.offset(base!, used), room, next),
      );
      if (need > room) break; // did not fit; the kernel will ask again
      used += need;
    }
    this.replyBuf(req, buf, used);
  }
}

/**
 * Mount a FUSE filesystem at `mountpoint` (an existing directory) and start
 * serving it on this thread's event loop.
 *
 * @param ops the filesystem handlers; see {@linkcode FuseOps}
 * @param mountpoint directory to mount on (absolute, or relative to cwd)
 * @param options mount options (`-o` list, debug, timeouts, signals)
 * @returns the live mount; `closed` resolves when it has ended
 * @throws Error if libfuse cannot be loaded (install `fuse3 libfuse3-3`),
 *   the options are invalid, or mounting fails (not root and no
 *   `fusermount3`, no `/dev/fuse`, bad mountpoint — libfuse prints the
 *   reason on stderr).
 */
export function mountFuse(
  ops: FuseOps,
  mountpoint: string,
  options: MountOptions = {},
): FuseMount {
  const s = new Session(ops, mountpoint, options);
  s.start();
  return s;
}
