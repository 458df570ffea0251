/**
 * The FUSE daemon's request counters (`vexfs stats`, docs/MONITORING.md):
 * requests, errors by errno and latency of every operation since the mount,
 * and the bytes read and written. The session (src/fuse/session.ts) calls
 * {@linkcode FuseStats.record} once per reply; everything is in typed arrays
 * indexed by the kernel's FUSE opcode (Linux `include/uapi/linux/fuse.h`,
 * `enum fuse_opcode`), so recording allocates nothing and looks nothing up
 * in a Map.
 *
 * Errnos are counted per operation in {@linkcode ERRNO_BUCKETS} buckets: the
 * errnos a filesystem commonly answers, each with its own, and "other" for
 * the rest (`VEXFS_IOC_STATS` carries the same buckets, docs/IOCTL.md §3.13).
 * @module
 */
import { bucketOf, BUCKETS, quantile } from "./histogram.ts";

/** Entries of the per-operation tables: FUSE opcodes 0..63 (the kernel uses 1..52 today). */
export const OP_SLOTS = 64;

/**
 * FUSE opcode of each libfuse low-level op (`struct fuse_lowlevel_ops` slot
 * name → `enum fuse_opcode`). libfuse serves RENAME2 through `rename`, the
 * lock requests through `setlk`/`flock`, BATCH_FORGET through `forget_multi`.
 */
export const FUSE_OPCODE: Readonly<Record<string, number>> = Object.freeze({
  lookup: 1,
  forget: 2,
  getattr: 3,
  setattr: 4,
  readlink: 5,
  symlink: 6,
  mknod: 8,
  mkdir: 9,
  unlink: 10,
  rmdir: 11,
  rename: 12,
  link: 13,
  open: 14,
  read: 15,
  write: 16,
  statfs: 17,
  release: 18,
  fsync: 20,
  setxattr: 21,
  getxattr: 22,
  listxattr: 23,
  removexattr: 24,
  flush: 25,
  init: 26,
  opendir: 27,
  readdir: 28,
  releasedir: 29,
  fsyncdir: 30,
  getlk: 31,
  setlk: 32,
  flock: 32,
  access: 34,
  create: 35,
  bmap: 37,
  destroy: 38,
  ioctl: 39,
  poll: 40,
  retrieve_reply: 41,
  forget_multi: 42,
  fallocate: 43,
  readdirplus: 44,
  lseek: 46,
  copy_file_range: 47,
  write_buf: 16,
});

/** Name of each FUSE opcode (lower case, as `enum fuse_opcode` without `FUSE_`), "" for unused numbers. */
export const OP_NAMES: readonly string[] = (() => {
  const n = new Array<string>(OP_SLOTS).fill("");
  const names: [number, string][] = [
    [1, "lookup"],
    [2, "forget"],
    [3, "getattr"],
    [4, "setattr"],
    [5, "readlink"],
    [6, "symlink"],
    [8, "mknod"],
    [9, "mkdir"],
    [10, "unlink"],
    [11, "rmdir"],
    [12, "rename"],
    [13, "link"],
    [14, "open"],
    [15, "read"],
    [16, "write"],
    [17, "statfs"],
    [18, "release"],
    [20, "fsync"],
    [21, "setxattr"],
    [22, "getxattr"],
    [23, "listxattr"],
    [24, "removexattr"],
    [25, "flush"],
    [26, "init"],
    [27, "opendir"],
    [28, "readdir"],
    [29, "releasedir"],
    [30, "fsyncdir"],
    [31, "getlk"],
    [32, "setlk"],
    [33, "setlkw"],
    [34, "access"],
    [35, "create"],
    [36, "interrupt"],
    [37, "bmap"],
    [38, "destroy"],
    [39, "ioctl"],
    [40, "poll"],
    [41, "notify_reply"],
    [42, "batch_forget"],
    [43, "fallocate"],
    [44, "readdirplus"],
    [45, "rename2"],
    [46, "lseek"],
    [47, "copy_file_range"],
    [48, "setupmapping"],
    [49, "removemapping"],
    [50, "syncfs"],
    [51, "tmpfile"],
    [52, "statx"],
  ];
  for (const [i, s] of names) n[i] = s;
  return Object.freeze(n);
})();

/**
 * The errnos with a bucket of their own, in bucket order; every other errno
 * counts in the last bucket, "other" ({@linkcode ERRNO_OTHER}).
 */
export const ERRNO_LIST: readonly number[] = Object.freeze([
  1, // EPERM
  2, // ENOENT
  4, // EINTR
  5, // EIO
  9, // EBADF
  11, // EAGAIN
  12, // ENOMEM
  13, // EACCES
  16, // EBUSY
  17, // EEXIST
  18, // EXDEV
  20, // ENOTDIR
  21, // EISDIR
  22, // EINVAL
  25, // ENOTTY
  26, // ETXTBSY
  27, // EFBIG
  28, // ENOSPC
  30, // EROFS
  31, // EMLINK
  34, // ERANGE
  36, // ENAMETOOLONG
  38, // ENOSYS
  39, // ENOTEMPTY
  40, // ELOOP
  61, // ENODATA
  75, // EOVERFLOW
  95, // EOPNOTSUPP
  116, // ESTALE
  117, // EUCLEAN
  122, // EDQUOT
]);
/** Buckets per operation: one per errno of {@linkcode ERRNO_LIST} and "other". */
export const ERRNO_BUCKETS = ERRNO_LIST.length + 1;
/** The bucket of errnos not in {@linkcode ERRNO_LIST}. */
export const ERRNO_OTHER = ERRNO_LIST.length;

/** errno (1..4095) → bucket. */
const BUCKET_OF_ERRNO = (() => {
  const t = new Uint8Array(4096).fill(ERRNO_OTHER);
  ERRNO_LIST.forEach((e, i) => t[e] = i);
  return t;
})();

/** The errno bucket of `errno` (any positive errno; unknown ones are "other"). */
export function errnoBucket(errno: number): number {
  return errno > 0 && errno < 4096 ? BUCKET_OF_ERRNO[errno] : ERRNO_OTHER;
}

/** Whether request counters are kept: not when the environment says `VEXFS_STATS=off` (or `0`, `no`, `false`). */
export function statsEnabled(env: (name: string) => string | undefined = safeEnv): boolean {
  const v = env("VEXFS_STATS")?.trim().toLowerCase();
  return !(v === "off" || v === "0" || v === "no" || v === "false");
}

function safeEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env: counters stay on
  }
}

/** One operation's figures, as {@linkcode FuseStats.op} computes them. */
export interface OpFigures {
  /** FUSE opcode */
  opcode: number;
  /** its name (`lookup`, `write`, ...) */
  name: string;
  requests: number;
  errors: number;
  totalNs: number;
  p50Ns: number;
  p90Ns: number;
  p99Ns: number;
  maxNs: number;
}

/**
 * Counters of one FUSE session. Latency is from the request's arrival in
 * the op callback to its reply (an asynchronous handler's wait included),
 * in integer nanoseconds from `performance.now()`.
 */
export class FuseStats {
  /** requests by opcode */
  readonly requests = new Float64Array(OP_SLOTS);
  /** failed requests (errno reply) by opcode */
  readonly errors = new Float64Array(OP_SLOTS);
  /** failed requests by opcode and errno bucket: `[op * ERRNO_BUCKETS + bucket]` */
  readonly errnos = new Float64Array(OP_SLOTS * ERRNO_BUCKETS);
  /** the sum of latencies by opcode, ns */
  readonly totalNs = new Float64Array(OP_SLOTS);
  /** the largest latency by opcode, ns */
  readonly maxNs = new Float64Array(OP_SLOTS);
  /** latency histograms by opcode: `[op * BUCKETS + bucket]` (src/stats/histogram.ts) */
  readonly hist = new Float64Array(OP_SLOTS * BUCKETS);
  /** file bytes returned by read replies */
  bytesRead = 0;
  /** file bytes accepted by write replies */
  bytesWritten = 0;
  /** when counting started: `Date.now()` (ms since the epoch) */
  readonly startedMs = Date.now();
  /** `performance.now()` at the start, ms */
  readonly startedPerf = performance.now();

  /**
   * Counts one replied request.
   * @param op FUSE opcode (0..63; others are ignored)
   * @param ns its latency in ns (an integer ≥ 0)
   * @param errno 0 for success, else the errno replied
   */
  record(op: number, ns: number, errno: number): void {
    if (!(op >= 0 && op < OP_SLOTS)) return;
    this.requests[op]++;
    this.totalNs[op] += ns;
    if (ns > this.maxNs[op]) this.maxNs[op] = ns;
    this.hist[op * BUCKETS + bucketOf(ns)]++;
    if (errno !== 0) {
      this.errors[op]++;
      this.errnos[op * ERRNO_BUCKETS + errnoBucket(errno)]++;
    }
  }

  /** The figures of opcode `op` (percentiles from its histogram, within 12.5%; max exact). */
  op(op: number): OpFigures {
    const n = this.requests[op];
    const max = this.maxNs[op];
    const q = (x: number) => quantile(this.hist, op * BUCKETS, n, x, max);
    return {
      opcode: op,
      name: OP_NAMES[op] || `op${op}`,
      requests: n,
      errors: this.errors[op],
      totalNs: this.totalNs[op],
      p50Ns: q(0.5),
      p90Ns: q(0.9),
      p99Ns: q(0.99),
      maxNs: max,
    };
  }
}
