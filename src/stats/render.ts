/**
 * `vexfs stats` output (docs/MONITORING.md): a {@linkcode StatsReport} as
 * the `--json` object (the JSON contract of docs/JSON.md: `schema_version`
 * 1, `command` "stats", snake_case names, `_ns`/`_bytes` suffixes, ISO-8601
 * UTC times) and as rows of the text tables, with human units.
 * @module
 */
import { errnoName } from "../device/libc.ts";
import { formatBytes, formatCount, formatDuration } from "../units.ts";
import type { ErrorEntry, StatsReport } from "./report.ts";

/** The superblock states (FORMAT.md §3.2) as `vexfs stats` and `vexfs info` name them. */
export const FS_STATES: Readonly<Record<number, string>> = { 1: "clean", 2: "in use", 3: "errors recorded" };
/** The `errors=` behaviours by code. */
export const ERRORS_BEHAVIOURS: Readonly<Record<number, string>> = { 1: "continue", 2: "remount-ro", 3: "panic" };

/** The name of an errno (`ENOENT`), `other` for 0 (the bucket of errnos without one), `errno N` if unknown. */
export function errnoLabel(errno: number): string {
  if (errno === 0) return "other";
  return errnoName(errno) ?? `errno ${errno}`;
}

/** A duration in ns for people: `850 ns`, `12 µs`, `4.6 ms`, `1.2 s`, `3 min 4 s` (src/units.ts formatDuration). */
export function formatNs(ns: number): string {
  return formatDuration(ns / 1e6);
}

/** A count with thousands separators (src/units.ts). */
export { formatCount };

/** hits / (hits + misses), or null when there was no lookup. */
export function hitRate(hits: number, misses: number): number | null {
  return hits + misses > 0 ? hits / (hits + misses) : null;
}

function iso(seconds: number): string | null {
  return seconds ? new Date(seconds * 1000).toISOString() : null;
}

/**
 * The counters of `vexfs stats --json` (documented field by field in
 * docs/MONITORING.md; JSON Schema docs/schema/stats.schema.json). The
 * command adds the envelope and `filesystem` (the superblock's state and
 * error record, in the shape every `--json` gives them: commands/json.ts).
 * @param mountpoint the mount's directory
 */
export function statsJson(r: StatsReport, mountpoint: string): Record<string, unknown> {
  const rate = (h: number, m: number) => {
    const x = hitRate(h, m);
    return x === null ? null : Math.round(x * 1e6) / 1e6;
  };
  return {
    mountpoint,
    mounted_at: iso(r.mountTime),
    uptime_ns: r.uptimeNs,
    requests_counted: r.requestsCounted,
    requests: r.requests,
    errors: r.errors,
    read_bytes: r.bytesRead,
    written_bytes: r.bytesWritten,
    caches: {
      block: {
        hits: r.blockCacheHits,
        misses: r.blockCacheMisses,
        hit_rate: rate(r.blockCacheHits, r.blockCacheMisses),
      },
      inode: {
        hits: r.inodeCacheHits,
        misses: r.inodeCacheMisses,
        hit_rate: rate(r.inodeCacheHits, r.inodeCacheMisses),
      },
      xattr: {
        hits: r.xattrCacheHits,
        misses: r.xattrCacheMisses,
        hit_rate: rate(r.xattrCacheHits, r.xattrCacheMisses),
      },
    },
    journal: {
      commits: r.journalCommits,
      blocks: r.journalBlocks,
      revokes: r.journalRevokes,
      checkpoints: r.journalCheckpoints,
    },
    search: {
      count: r.searches,
      total_ns: r.searchTotalNs,
      p50_ns: r.searchP50Ns,
      p90_ns: r.searchP90Ns,
      p99_ns: r.searchP99Ns,
      max_ns: r.searchMaxNs,
    },
    vectors: { set: r.vectorsSet, deleted: r.vectorsDeleted },
    operations: r.ops.map((o) => ({
      op: o.name,
      opcode: o.opcode,
      requests: o.requests,
      errors: o.errors,
      total_ns: o.totalNs,
      mean_ns: o.requests ? Math.round(o.totalNs / o.requests) : 0,
      p50_ns: o.p50Ns,
      p90_ns: o.p90Ns,
      p99_ns: o.p99Ns,
      max_ns: o.maxNs,
    })),
    errors_by_errno: r.errnos.map((e) => ({ errno: e.errno, errno_name: errnoLabel(e.errno), count: e.count })),
    errors_by_op: r.opErrnos.map((e) => ({
      op: e.name,
      errno: e.errno,
      errno_name: errnoLabel(e.errno),
      count: e.count,
    })),
    errors_by_op_other: r.opErrnoOther,
  };
}

/** One line of the superblock's error record, as `vexfs info` prints it. */
export function errorLine(e: ErrorEntry): string {
  return `${iso(e.time) ?? "?"}: ${e.op || "?"}${e.ino ? ` on inode ${e.ino}` : ""} (${errnoLabel(e.errno)})`;
}

/** The summary rows (label, value) of the text output. */
export function summaryRows(r: StatsReport): [string, string][] {
  const pct = (x: number | null) => x === null ? "no lookups" : `${(x * 100).toFixed(1)}% hits`;
  const cache = (h: number, m: number) => `${pct(hitRate(h, m))} (${formatCount(h)} hits, ${formatCount(m)} misses)`;
  const rows: [string, string][] = [
    ["up", `${formatNs(r.uptimeNs)} (mounted ${iso(r.mountTime) ?? "?"})`],
    [
      "requests",
      r.requestsCounted
        ? `${formatCount(r.requests)}, ${formatCount(r.errors)} failed${
          r.requests ? ` (${(100 * r.errors / r.requests).toFixed(2)}%)` : ""
        }`
        : "not counted (the daemon runs with VEXFS_STATS=off)",
    ],
    ["read", r.requestsCounted ? formatBytes(r.bytesRead) : "-"],
    ["written", r.requestsCounted ? formatBytes(r.bytesWritten) : "-"],
    ["block cache", cache(r.blockCacheHits, r.blockCacheMisses)],
    ["inode cache", cache(r.inodeCacheHits, r.inodeCacheMisses)],
    ["xattr store cache", cache(r.xattrCacheHits, r.xattrCacheMisses)],
    [
      "journal",
      `${formatCount(r.journalCommits)} commits, ${formatCount(r.journalBlocks)} blocks logged, ` +
      `${formatCount(r.journalRevokes)} revokes, ${formatCount(r.journalCheckpoints)} checkpoints`,
    ],
    [
      "searches",
      r.searches
        ? `${formatCount(r.searches)}: p50 ${formatNs(r.searchP50Ns)}, p90 ${formatNs(r.searchP90Ns)}, p99 ${
          formatNs(r.searchP99Ns)
        }, max ${formatNs(r.searchMaxNs)}`
        : "none",
    ],
    ["vectors", `${formatCount(r.vectorsSet)} set, ${formatCount(r.vectorsDeleted)} deleted`],
    [
      "filesystem",
      `${FS_STATES[r.fsState] ?? `state ${r.fsState}`}; on errors: ${ERRORS_BEHAVIOURS[r.fsErrors] ?? r.fsErrors}; ${
        r.errorCount ? `${r.errorCount} errors since the last repair (run vexfs fsck -y)` : "no errors recorded"
      }`,
    ],
  ];
  if (r.errorCount) {
    rows.push(["first error", errorLine(r.firstError)], ["last error", errorLine(r.lastError)]);
  }
  return rows;
}

/** Header and rows of the per-operation table, busiest first. */
export function opRows(r: StatsReport): { head: string[]; rows: string[][] } {
  const ops = [...r.ops].sort((a, b) => b.requests - a.requests || a.opcode - b.opcode);
  return {
    head: ["operation", "requests", "errors", "mean", "p50", "p90", "p99", "max"],
    rows: ops.map((o) => [
      o.name,
      formatCount(o.requests),
      formatCount(o.errors),
      formatNs(o.requests ? o.totalNs / o.requests : 0),
      formatNs(o.p50Ns),
      formatNs(o.p90Ns),
      formatNs(o.p99Ns),
      formatNs(o.maxNs),
    ]),
  };
}

/** Header and rows of the errors table: by errno, each with the operations that met it. */
export function errnoRows(r: StatsReport): { head: string[]; rows: string[][] } {
  return {
    head: ["errno", "count", "operations"],
    rows: r.errnos.map((e) => [
      errnoLabel(e.errno),
      formatCount(e.count),
      r.opErrnos.filter((p) => p.errno === e.errno).map((p) => `${p.name} ${formatCount(p.count)}`).join(", "),
    ]),
  };
}
