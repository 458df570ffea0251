/**
 * The ops table of a session: one `Deno.UnsafeCallback` per handler the
 * filesystem implements, written into its slot of `struct fuse_lowlevel_ops`
 * (slots left empty get libfuse's default reply, mostly `ENOSYS`). Each
 * callback runs synchronously on the JS thread inside
 * `fuse_session_process_buf`, copies its arguments out of libfuse memory
 * (names, `fuse_file_info`, `struct stat`, write data unless borrowed), calls
 * the handler through the session's dispatch and says which `fuse_reply_*`
 * answers it. The callbacks are made once per mount, not per request. The
 * request loop, dispatch and replies are in session.ts.
 *
 * Source of the C API: libfuse 3.14 `fuse_lowlevel.h` (`struct
 * fuse_lowlevel_ops`, the `fuse_reply_*` of each op).
 * @module
 */

import {
  decodeConnInfo,
  decodeStat,
  encodeConnInfo,
  encodeStat,
  encodeStatvfs,
  type EntryParam,
  type FileInfo,
  FUSE_CONN_INFO,
  FUSE_SET_ATTR_ATIME,
  FUSE_SET_ATTR_ATIME_NOW,
  FUSE_SET_ATTR_CTIME,
  FUSE_SET_ATTR_GID,
  FUSE_SET_ATTR_MODE,
  FUSE_SET_ATTR_MTIME,
  FUSE_SET_ATTR_MTIME_NOW,
  FUSE_SET_ATTR_SIZE,
  FUSE_SET_ATTR_UID,
  type LowlevelOpSlot,
  STAT,
  STATVFS,
  type U64,
} from "./abi.ts";
import { type Bytes, bytes, cString, type FuseLib } from "./ffi.ts";
import type { FuseStats } from "../stats/fuse_stats.ts";
import type { AttrReply, FuseOps, FuseRequest, OpenReply, SetAttrChanges } from "./types.ts";

/** A request as the callbacks see it: the handler's view plus libfuse's `fuse_req_t`. */
export interface SlotRequest extends FuseRequest {
  /** The `fuse_req_t` to reply to. */
  readonly ptr: Deno.PointerObject;
}

/**
 * What the callbacks need of their session (the session itself, see
 * session.ts): the bound libfuse, the dispatch that runs a handler and replies
 * exactly once, the reply helpers and the argument copies.
 */
export interface SlotHost {
  readonly F: FuseLib;
  /** the session's request counters (bytes of read and write replies are counted here), null when none are kept */
  readonly stats: FuseStats | null;
  readonly onError: (err: unknown, op: string) => void;
  /** Keeps `cb` for closing at the end and writes its pointer into `slot`. */
  setSlot(slot: LowlevelOpSlot, cb: Deno.UnsafeCallback): void;
  /** Runs `call` on the request at `reqPtr` and replies with `reply` (or `fuse_reply_none` if `noReply`). */
  dispatch<T>(
    op: string,
    reqPtr: Deno.PointerValue,
    call: (req: SlotRequest) => T | PromiseLike<T>,
    reply: (req: SlotRequest, value: T) => void,
    noReply?: boolean,
  ): void;
  /** Marks `req` replied, then makes the native reply (skipped if abandoned). */
  send(req: SlotRequest, native: () => unknown): void;
  replyOk(req: SlotRequest): void;
  replyEntry(req: SlotRequest, e: EntryParam): void;
  replyAttr(req: SlotRequest, a: AttrReply): void;
  entryBuf(e: EntryParam): Bytes;
  openBuf(fi: FileInfo, o: OpenReply | void): Bytes;
  replyBuf(req: SlotRequest, data: Uint8Array, max: number): void;
  replyXattrValue(req: SlotRequest, data: Bytes, size: number): void;
  copyIn(p: Deno.PointerValue, n: number): Bytes;
  name(p: Deno.PointerValue): Bytes;
  fi(p: Deno.PointerValue): FileInfo | null;
  fiReq(p: Deno.PointerValue): FileInfo;
  replyDir<E extends { name: string | Uint8Array; offset?: U64 }>(
    req: SlotRequest,
    size: number,
    start: bigint,
    entries: Iterable<E>,
    add: (e: E, buf: Deno.PointerValue, room: number, next: bigint) => number | bigint,
  ): void;
}

/** Whether a handler returned a promise (or any thenable) rather than its reply. */
export function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === "object" || typeof v === "function") &&
    typeof (v as { then?: unknown }).then === "function";
}

/** A view of `size` bytes of C memory at `p` (no copy; valid while the C side keeps it). */
function view(p: Deno.PointerObject, size: number): DataView {
  return new DataView(Deno.UnsafePointerView.getArrayBuffer(p, size));
}

/** The current time in ns since the epoch (for `FUSE_SET_ATTR_*_NOW`). */
function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/**
 * Makes the callback of every handler `o` implements and puts it in its slot
 * of the session's ops table (through `host.setSlot`); called once, before
 * `fuse_session_new`.
 */
export function registerOps(host: SlotHost, o: FuseOps): void {
  const F = host.F;
  const cb = <
    const P extends readonly Deno.NativeType[],
  >(
    slot: LowlevelOpSlot,
    parameters: P,
    fn: Deno.UnsafeCallbackFunction<P, "void">,
  ) => {
    host.setSlot(
      slot,
      new Deno.UnsafeCallback({ parameters, result: "void" }, fn),
    );
  };
  const ino = (v: number | bigint) => BigInt(v);

  if (o.init) {
    cb("init", ["pointer", "pointer"], (_ud, conn) => {
      if (!conn) return;
      try {
        const v = view(conn, FUSE_CONN_INFO.size);
        const c = decodeConnInfo(v, 0);
        o.init!(c);
        encodeConnInfo(v, 0, c);
      } catch (e) {
        host.onError(e, "init");
      }
    });
  }
  if (o.destroy) {
    cb("destroy", ["pointer"], () => {
      try {
        o.destroy!();
      } catch (e) {
        host.onError(e, "destroy");
      }
    });
  }
  if (o.lookup) {
    cb("lookup", ["pointer", "u64", "pointer"], (r, parent, name) => {
      const n = host.name(name);
      host.dispatch(
        "lookup",
        r,
        (q) => o.lookup!(q, ino(parent), n),
        host.replyEntry,
      );
    });
  }
  if (o.forget) {
    cb("forget", ["pointer", "u64", "u64"], (r, i, nlookup) => {
      host.dispatch(
        "forget",
        r,
        (q) => o.forget!(q, ino(i), BigInt(nlookup)),
        (q) => host.send(q, () => F.fuse_reply_none(q.ptr)),
        true,
      );
    });
  }
  if (o.getattr) {
    cb("getattr", ["pointer", "u64", "pointer"], (r, i, fi) => {
      const f = host.fi(fi);
      host.dispatch(
        "getattr",
        r,
        (q) => o.getattr!(q, ino(i), f),
        host.replyAttr,
      );
    });
  }
  if (o.setattr) {
    cb(
      "setattr",
      ["pointer", "u64", "pointer", "i32", "pointer"],
      (r, i, attr, toSet, fi) => {
        const f = host.fi(fi);
        const st = attr ? decodeStat(view(attr, STAT.size), 0) : null;
        const ch: SetAttrChanges = {
          valid: toSet,
          atimeNow: (toSet & FUSE_SET_ATTR_ATIME_NOW) !== 0,
          mtimeNow: (toSet & FUSE_SET_ATTR_MTIME_NOW) !== 0,
        };
        if (st) {
          if (toSet & FUSE_SET_ATTR_MODE) ch.mode = st.mode;
          if (toSet & FUSE_SET_ATTR_UID) ch.uid = st.uid;
          if (toSet & FUSE_SET_ATTR_GID) ch.gid = st.gid;
          if (toSet & FUSE_SET_ATTR_SIZE) ch.size = st.size;
          if (toSet & FUSE_SET_ATTR_ATIME) ch.atimeNs = st.atimeNs;
          if (toSet & FUSE_SET_ATTR_MTIME) ch.mtimeNs = st.mtimeNs;
          if (toSet & FUSE_SET_ATTR_CTIME) ch.ctimeNs = st.ctimeNs;
        }
        if (ch.atimeNow) ch.atimeNs = nowNs();
        if (ch.mtimeNow) ch.mtimeNs = nowNs();
        host.dispatch(
          "setattr",
          r,
          (q) => o.setattr!(q, ino(i), ch, f),
          host.replyAttr,
        );
      },
    );
  }
  if (o.readlink) {
    cb("readlink", ["pointer", "u64"], (r, i) => {
      host.dispatch("readlink", r, (q) => o.readlink!(q, ino(i)), (q, t) => {
        const s = cString(t);
        host.send(q, () => F.fuse_reply_readlink(q.ptr, s));
      });
    });
  }
  if (o.mknod) {
    cb(
      "mknod",
      ["pointer", "u64", "pointer", "u32", "u64"],
      (r, parent, name, mode, rdev) => {
        const n = host.name(name);
        host.dispatch(
          "mknod",
          r,
          (q) => o.mknod!(q, ino(parent), n, mode, BigInt(rdev)),
          host.replyEntry,
        );
      },
    );
  }
  if (o.mkdir) {
    cb(
      "mkdir",
      ["pointer", "u64", "pointer", "u32"],
      (r, parent, name, mode) => {
        const n = host.name(name);
        host.dispatch(
          "mkdir",
          r,
          (q) => o.mkdir!(q, ino(parent), n, mode),
          host.replyEntry,
        );
      },
    );
  }
  if (o.unlink) {
    cb("unlink", ["pointer", "u64", "pointer"], (r, parent, name) => {
      const n = host.name(name);
      host.dispatch(
        "unlink",
        r,
        (q) => o.unlink!(q, ino(parent), n),
        host.replyOk,
      );
    });
  }
  if (o.rmdir) {
    cb("rmdir", ["pointer", "u64", "pointer"], (r, parent, name) => {
      const n = host.name(name);
      host.dispatch(
        "rmdir",
        r,
        (q) => o.rmdir!(q, ino(parent), n),
        host.replyOk,
      );
    });
  }
  if (o.symlink) {
    cb(
      "symlink",
      ["pointer", "pointer", "u64", "pointer"],
      (r, link, parent, name) => {
        const t = host.name(link);
        const n = host.name(name);
        host.dispatch(
          "symlink",
          r,
          (q) => o.symlink!(q, t, ino(parent), n),
          host.replyEntry,
        );
      },
    );
  }
  if (o.rename) {
    cb(
      "rename",
      ["pointer", "u64", "pointer", "u64", "pointer", "u32"],
      (r, parent, name, np, nn, flags) => {
        const n = host.name(name);
        const n2 = host.name(nn);
        host.dispatch(
          "rename",
          r,
          (q) => o.rename!(q, ino(parent), n, ino(np), n2, flags),
          host.replyOk,
        );
      },
    );
  }
  if (o.link) {
    cb("link", ["pointer", "u64", "u64", "pointer"], (r, i, np, nn) => {
      const n = host.name(nn);
      host.dispatch(
        "link",
        r,
        (q) => o.link!(q, ino(i), ino(np), n),
        host.replyEntry,
      );
    });
  }
  const openLike = (slot: "open" | "opendir") => {
    const h = o[slot];
    if (!h) return;
    cb(slot, ["pointer", "u64", "pointer"], (r, i, fi) => {
      const f = host.fiReq(fi);
      host.dispatch(slot, r, (q) => h.call(o, q, ino(i), f), (q, res) => {
        const b = host.openBuf(f, res);
        host.send(q, () => F.fuse_reply_open(q.ptr, b));
      });
    });
  };
  openLike("open");
  openLike("opendir");
  if (o.read) {
    cb(
      "read",
      ["pointer", "u64", "usize", "i64", "pointer"],
      (r, i, size, off, fi) => {
        const f = host.fiReq(fi);
        const sz = Number(size);
        host.dispatch(
          "read",
          r,
          (q) => o.read!(q, ino(i), sz, BigInt(off), f),
          (q, data) => {
            if (host.stats) host.stats.bytesRead += Math.min(data.length, sz);
            host.replyBuf(q, data, sz);
          },
        );
      },
    );
  }
  if (o.write) {
    cb(
      "write",
      ["pointer", "u64", "pointer", "usize", "i64", "pointer"],
      (r, i, buf, size, off, fi) => {
        const n = Number(size);
        const data = o.borrowWriteData && buf && n > 0
          ? new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(buf, n))
          : host.copyIn(buf, n);
        const f = host.fiReq(fi);
        host.dispatch(
          "write",
          r,
          (q) => {
            const v = o.write!(q, ino(i), data, BigInt(off), f);
            if (o.borrowWriteData && isThenable(v)) {
              host.onError(new Error("write returned a Promise but borrows its data (borrowWriteData)"), "write");
            }
            return v;
          },
          (q, n) => {
            const count = typeof n === "number" ? n : data.length;
            if (host.stats) host.stats.bytesWritten += count;
            host.send(q, () => F.fuse_reply_write(q.ptr, BigInt(count)));
          },
        );
      },
    );
  }
  const fiOnly = (slot: "flush" | "release" | "releasedir") => {
    const h = o[slot];
    if (!h) return;
    cb(slot, ["pointer", "u64", "pointer"], (r, i, fi) => {
      const f = host.fiReq(fi);
      host.dispatch(slot, r, (q) => h.call(o, q, ino(i), f), host.replyOk);
    });
  };
  fiOnly("flush");
  fiOnly("release");
  fiOnly("releasedir");
  const syncLike = (slot: "fsync" | "fsyncdir") => {
    const h = o[slot];
    if (!h) return;
    cb(slot, ["pointer", "u64", "i32", "pointer"], (r, i, ds, fi) => {
      const f = host.fiReq(fi);
      host.dispatch(
        slot,
        r,
        (q) => h.call(o, q, ino(i), ds !== 0, f),
        host.replyOk,
      );
    });
  };
  syncLike("fsync");
  syncLike("fsyncdir");
  if (o.readdir) {
    cb(
      "readdir",
      ["pointer", "u64", "usize", "i64", "pointer"],
      (r, i, size, off, fi) => {
        const f = host.fiReq(fi);
        const sz = Number(size);
        const start = BigInt(off);
        host.dispatch(
          "readdir",
          r,
          (q) => o.readdir!(q, ino(i), sz, start, f),
          (q, entries) => {
            const st = new Uint8Array(STAT.size);
            const sv = new DataView(st.buffer);
            host.replyDir(q, sz, start, entries, (e, buf, room, next) => {
              encodeStat(sv, 0, { ino: e.ino, mode: e.mode });
              return F.fuse_add_direntry(
                q.ptr,
                buf,
                BigInt(room),
                cString(e.name),
                st,
                next,
              );
            });
          },
        );
      },
    );
  }
  if (o.readdirplus) {
    cb(
      "readdirplus",
      ["pointer", "u64", "usize", "i64", "pointer"],
      (r, i, size, off, fi) => {
        const f = host.fiReq(fi);
        const sz = Number(size);
        const start = BigInt(off);
        host.dispatch(
          "readdirplus",
          r,
          (q) => o.readdirplus!(q, ino(i), sz, start, f),
          (q, entries) => {
            host.replyDir(q, sz, start, entries, (e, buf, room, next) => {
              const eb = host.entryBuf(e.entry);
              return F.fuse_add_direntry_plus(
                q.ptr,
                buf,
                BigInt(room),
                cString(e.name),
                eb,
                next,
              );
            });
          },
        );
      },
    );
  }
  if (o.statfs) {
    cb("statfs", ["pointer", "u64"], (r, i) => {
      host.dispatch("statfs", r, (q) => o.statfs!(q, ino(i)), (q, s) => {
        const b = new Uint8Array(STATVFS.size);
        encodeStatvfs(new DataView(b.buffer), 0, s);
        host.send(q, () => F.fuse_reply_statfs(q.ptr, b));
      });
    });
  }
  if (o.setxattr) {
    cb(
      "setxattr",
      ["pointer", "u64", "pointer", "pointer", "usize", "i32"],
      (r, i, name, value, size, flags) => {
        const n = host.name(name);
        const v = host.copyIn(value, Number(size));
        host.dispatch(
          "setxattr",
          r,
          (q) => o.setxattr!(q, ino(i), n, v, flags),
          host.replyOk,
        );
      },
    );
  }
  if (o.getxattr) {
    cb(
      "getxattr",
      ["pointer", "u64", "pointer", "usize"],
      (r, i, name, size) => {
        const n = host.name(name);
        const sz = Number(size);
        host.dispatch(
          "getxattr",
          r,
          (q) => o.getxattr!(q, ino(i), n, sz),
          (q, v) => host.replyXattrValue(q, bytes(v as Uint8Array | string), sz),
        );
      },
    );
  }
  if (o.listxattr) {
    cb("listxattr", ["pointer", "u64", "usize"], (r, i, size) => {
      const sz = Number(size);
      host.dispatch(
        "listxattr",
        r,
        (q) => o.listxattr!(q, ino(i), sz),
        (q, names) => {
          const parts = [...names].map(cString);
          const all = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
          let at = 0;
          for (const p of parts) {
            all.set(p, at);
            at += p.length;
          }
          host.replyXattrValue(q, all, sz);
        },
      );
    });
  }
  if (o.removexattr) {
    cb("removexattr", ["pointer", "u64", "pointer"], (r, i, name) => {
      const n = host.name(name);
      host.dispatch(
        "removexattr",
        r,
        (q) => o.removexattr!(q, ino(i), n),
        host.replyOk,
      );
    });
  }
  if (o.access) {
    cb("access", ["pointer", "u64", "i32"], (r, i, mask) => {
      host.dispatch(
        "access",
        r,
        (q) => o.access!(q, ino(i), mask),
        host.replyOk,
      );
    });
  }
  if (o.create) {
    cb(
      "create",
      ["pointer", "u64", "pointer", "u32", "pointer"],
      (r, parent, name, mode, fi) => {
        const n = host.name(name);
        const f = host.fiReq(fi);
        host.dispatch(
          "create",
          r,
          (q) => o.create!(q, ino(parent), n, mode, f),
          (q, res) => {
            const e = host.entryBuf(res);
            const b = host.openBuf(f, res);
            host.send(q, () => F.fuse_reply_create(q.ptr, e, b));
          },
        );
      },
    );
  }
  if (o.fallocate) {
    cb(
      "fallocate",
      ["pointer", "u64", "i32", "i64", "i64", "pointer"],
      (r, i, mode, off, len, fi) => {
        const f = host.fiReq(fi);
        host.dispatch(
          "fallocate",
          r,
          (q) => o.fallocate!(q, ino(i), mode, BigInt(off), BigInt(len), f),
          host.replyOk,
        );
      },
    );
  }
  if (o.ioctl) {
    cb(
      "ioctl",
      [
        "pointer",
        "u64",
        "u32",
        "pointer",
        "pointer",
        "u32",
        "pointer",
        "usize",
        "usize",
      ],
      (r, i, cmd, _arg, fi, flags, inBuf, inSize, outSize) => {
        const f = host.fiReq(fi);
        const data = host.copyIn(inBuf, Number(inSize));
        const out = Number(outSize);
        host.dispatch(
          "ioctl",
          r,
          (q) => o.ioctl!(q, ino(i), cmd, f, flags, data, out),
          (q, res) => {
            const d0 = res?.data ?? new Uint8Array(0);
            const d = (d0.length > out ? d0.subarray(0, out) : d0) as Bytes;
            const result = res?.result ?? 0;
            host.send(
              q,
              () => F.fuse_reply_ioctl(q.ptr, result, d, BigInt(d.length)),
            );
          },
        );
      },
    );
  }
}
