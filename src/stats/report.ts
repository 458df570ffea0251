/**
 * What `vexfs stats` reports (docs/MONITORING.md): the daemon's counters
 * since the mount — its FUSE requests ({@linkcode FuseStats}) and the
 * engine's caches, journal, searches and vector changes — plus the
 * superblock's error record (FORMAT.md §3.2). {@linkcode MountCounters}
 * gathers them on the daemon; `VEXFS_IOC_STATS` carries a
 * {@linkcode StatsReport} to the command (src/ioctl/abi_admin.ts).
 *
 * The engine counts in plain fields of its objects (`BufferCache.hits` and
 * `reads`, `Vexfs.inodeHits`/`inodeMisses`, `Journal.stats`,
 * `Collections.searchLatency`, `vectorsSet`, `vectorsDeleted`); a remount
 * that reopens the engine folds the old engine's counts in first
 * ({@linkcode MountCounters.retire}), so the figures always run from the mount.
 * @module
 */
import type { Vexfs } from "../fs/fs.ts";
import { ERRNO_BUCKETS, ERRNO_LIST, ERRNO_OTHER, type FuseStats, OP_NAMES, OP_SLOTS } from "./fuse_stats.ts";
import { LatencyHistogram } from "./histogram.ts";

/** One operation's figures (latencies in ns; percentiles within 12.5%, max exact). */
export interface OpReport {
  /** FUSE opcode (Linux `enum fuse_opcode`) */
  opcode: number;
  /** its name: `lookup`, `write`, ... (`op<N>` for a number without one) */
  name: string;
  requests: number;
  errors: number;
  totalNs: number;
  p50Ns: number;
  p90Ns: number;
  p99Ns: number;
  maxNs: number;
}

/** One entry of the superblock's error record. */
export interface ErrorEntry {
  /** errno (117 EUCLEAN, 5 EIO), 0 if none */
  errno: number;
  /** seconds since the epoch, 0 if none */
  time: number;
  /** inode concerned, 0 if unknown */
  ino: number;
  /** operation that met it */
  op: string;
}

/** The daemon's counters since the mount, as `VEXFS_IOC_STATS` carries them. */
export interface StatsReport {
  /** ns since the mount */
  uptimeNs: number;
  /** when the mount was made, seconds since the epoch */
  mountTime: number;
  /** false when the daemon keeps no request counters (`VEXFS_STATS=off`): requests, errors, bytes and ops are 0 */
  requestsCounted: boolean;
  requests: number;
  errors: number;
  bytesRead: number;
  bytesWritten: number;
  blockCacheHits: number;
  blockCacheMisses: number;
  inodeCacheHits: number;
  inodeCacheMisses: number;
  /** loads of a shared xattr store's entries from the decoded copies the engine keeps */
  xattrCacheHits: number;
  xattrCacheMisses: number;
  journalCommits: number;
  journalBlocks: number;
  journalRevokes: number;
  journalCheckpoints: number;
  searches: number;
  searchTotalNs: number;
  searchP50Ns: number;
  searchP90Ns: number;
  searchP99Ns: number;
  searchMaxNs: number;
  vectorsSet: number;
  vectorsDeleted: number;
  /** superblock state: 1 clean, 2 in use (or not cleanly unmounted), 3 errors recorded */
  fsState: number;
  /** what the engine does on corruption: 1 continue, 2 remount read-only, 3 panic */
  fsErrors: number;
  /** errors met since the last repair */
  errorCount: number;
  firstError: ErrorEntry;
  lastError: ErrorEntry;
  /** operations with at least one request, by opcode */
  ops: OpReport[];
  /** errors by errno, most first; errno 0 counts the errnos without an entry of their own */
  errnos: { errno: number; count: number }[];
  /** errors by operation and errno, most first (errno 0: that operation's other errnos) */
  opErrnos: { opcode: number; name: string; errno: number; count: number }[];
  /** errors of (operation, errno) pairs beyond the {@linkcode StatsReport.opErrnos} the report holds */
  opErrnoOther: number;
}

/** Most entries of {@link StatsReport.errnos} and {@link StatsReport.opErrnos} (the ioctl's table sizes). */
export const REPORT_LIMITS = { errnos: 32, opErrnos: 128 } as const;

/** Engine counts that run from the open of one engine (see the module doc). */
type EngineCounts = Pick<
  StatsReport,
  | "blockCacheHits"
  | "blockCacheMisses"
  | "inodeCacheHits"
  | "inodeCacheMisses"
  | "xattrCacheHits"
  | "xattrCacheMisses"
  | "journalCommits"
  | "journalBlocks"
  | "journalRevokes"
  | "journalCheckpoints"
  | "vectorsSet"
  | "vectorsDeleted"
>;

function engineCounts(fs: Vexfs): EngineCounts {
  const j = fs.journal?.stats;
  return {
    blockCacheHits: fs.cache.hits,
    blockCacheMisses: fs.cache.reads,
    inodeCacheHits: fs.inodeHits,
    inodeCacheMisses: fs.inodeMisses,
    xattrCacheHits: fs.xattrs.storeHits,
    xattrCacheMisses: fs.xattrs.storeMisses,
    journalCommits: j?.commits ?? 0,
    journalBlocks: j?.blocks ?? 0,
    journalRevokes: j?.revokes ?? 0,
    journalCheckpoints: j?.checkpoints ?? 0,
    vectorsSet: fs.collections.vectorsSet,
    vectorsDeleted: fs.collections.vectorsDeleted,
  };
}

const ERRORS_CODE = { "continue": 1, "remount-ro": 2, "panic": 3 } as const;

/**
 * The counters of one mount: its session's {@linkcode FuseStats} (null when
 * request counters are off) and the counts of the engines it has had.
 */
export class MountCounters {
  readonly fuse: FuseStats | null;
  /** when the mount began, ms since the epoch */
  readonly startedMs = Date.now();
  readonly #startedPerf = performance.now();
  #base: EngineCounts = engineCountsZero();
  #searchBase = new LatencyHistogram();

  constructor(fuse: FuseStats | null) {
    this.fuse = fuse;
  }

  /** Folds the counts of an engine about to be closed and replaced (a remount that reopens it) into the totals. */
  retire(fs: Vexfs): void {
    const c = engineCounts(fs);
    for (const k of Object.keys(c) as (keyof EngineCounts)[]) this.#base[k] += c[k];
    this.#searchBase.add(fs.collections.searchLatency);
  }

  /** The report of now, with engine `fs` (the mount's current one). */
  report(fs: Vexfs): StatsReport {
    const e = engineCounts(fs);
    for (const k of Object.keys(e) as (keyof EngineCounts)[]) e[k] += this.#base[k];
    const s = new LatencyHistogram();
    s.add(this.#searchBase);
    s.add(fs.collections.searchLatency);
    const sb = fs.sb;
    const f = this.fuse;
    const ops: OpReport[] = [];
    let requests = 0, errors = 0;
    const byErrno = new Float64Array(ERRNO_BUCKETS);
    const pairs: { opcode: number; name: string; errno: number; count: number }[] = [];
    if (f) {
      for (let op = 0; op < OP_SLOTS; op++) {
        if (!f.requests[op]) continue;
        const r = f.op(op);
        ops.push(r);
        requests += r.requests;
        errors += r.errors;
        if (!r.errors) continue;
        for (let b = 0; b < ERRNO_BUCKETS; b++) {
          const n = f.errnos[op * ERRNO_BUCKETS + b];
          if (!n) continue;
          byErrno[b] += n;
          pairs.push({ opcode: op, name: r.name, errno: b === ERRNO_OTHER ? 0 : ERRNO_LIST[b], count: n });
        }
      }
    }
    const errnos = [...byErrno].map((count, b) => ({ errno: b === ERRNO_OTHER ? 0 : ERRNO_LIST[b], count }))
      .filter((x) => x.count > 0).sort((a, b) => b.count - a.count || a.errno - b.errno);
    pairs.sort((a, b) => b.count - a.count || a.opcode - b.opcode || a.errno - b.errno);
    const kept = pairs.slice(0, REPORT_LIMITS.opErrnos);
    return {
      uptimeNs: Math.round((performance.now() - this.#startedPerf) * 1e6),
      mountTime: Math.floor(this.startedMs / 1000),
      requestsCounted: f !== null,
      requests,
      errors,
      bytesRead: f?.bytesRead ?? 0,
      bytesWritten: f?.bytesWritten ?? 0,
      ...e,
      searches: s.count,
      searchTotalNs: s.total,
      searchP50Ns: s.quantile(0.5),
      searchP90Ns: s.quantile(0.9),
      searchP99Ns: s.quantile(0.99),
      searchMaxNs: s.max,
      fsState: sb.state,
      fsErrors: ERRORS_CODE[fs.errorsBehaviour] ?? 1,
      errorCount: sb.errorCount ?? 0,
      firstError: {
        errno: sb.firstErrorErrno ?? 0,
        time: sb.firstErrorTime ?? 0,
        ino: sb.firstErrorIno ?? 0,
        op: sb.firstErrorOp ?? "",
      },
      lastError: {
        errno: sb.lastErrorErrno ?? 0,
        time: sb.lastErrorTime ?? 0,
        ino: sb.lastErrorIno ?? 0,
        op: sb.lastErrorOp ?? "",
      },
      ops,
      errnos,
      opErrnos: kept,
      opErrnoOther: pairs.slice(REPORT_LIMITS.opErrnos).reduce((a, x) => a + x.count, 0),
    };
  }
}

function engineCountsZero(): EngineCounts {
  return {
    blockCacheHits: 0,
    blockCacheMisses: 0,
    inodeCacheHits: 0,
    inodeCacheMisses: 0,
    xattrCacheHits: 0,
    xattrCacheMisses: 0,
    journalCommits: 0,
    journalBlocks: 0,
    journalRevokes: 0,
    journalCheckpoints: 0,
    vectorsSet: 0,
    vectorsDeleted: 0,
  };
}

/** The name of a FUSE opcode (`op<N>` for one without a name). */
export function opName(opcode: number): string {
  return OP_NAMES[opcode] || `op${opcode}`;
}
