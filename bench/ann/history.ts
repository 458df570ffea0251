/**
 * The history of `vexfs bench vectors`: every run's figures appended to a
 * SQLite database (`node:sqlite`; default `bench/history.sqlite`, kept in the
 * repository), and the comparison of a run with the previous measurement of
 * each dataset and system, so that a regression shows (`--compare`).
 *
 * Schema (version 1; `meta.schema_version`):
 *
 * ```sql
 * CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
 * -- one row per run
 * CREATE TABLE runs (
 *   id INTEGER PRIMARY KEY AUTOINCREMENT,
 *   date TEXT NOT NULL,            -- ISO 8601, UTC, when the run started
 *   command TEXT NOT NULL,         -- the command line
 *   commit_id TEXT,                -- git HEAD (short), "+dirty" when the tree had changes
 *   host TEXT, cpu TEXT, cpus INTEGER, kernel TEXT,
 *   k INTEGER NOT NULL, m INTEGER NOT NULL, ef_construction INTEGER NOT NULL,
 *   passes INTEGER NOT NULL,       -- passes over the queries per point (the fastest kept)
 *   seconds REAL,                  -- how long the run took
 *   settings TEXT NOT NULL,        -- every setting, JSON
 *   versions TEXT NOT NULL,        -- program -> version, JSON
 *   report TEXT NOT NULL,          -- the whole report (the --json output), to redraw tables and plots
 *   load_before REAL, load_after REAL  -- 1-minute load average before and after the run
 * );
 * -- one row per run, dataset and system
 * CREATE TABLE results (
 *   run_id INTEGER NOT NULL REFERENCES runs(id),
 *   dataset TEXT NOT NULL, system TEXT NOT NULL,
 *   n INTEGER, nq INTEGER, dim INTEGER, metric TEXT,
 *   available INTEGER NOT NULL,    -- 0: not measured (reason says why)
 *   reason TEXT,
 *   build_s REAL, index_bytes INTEGER, peak_rss_bytes INTEGER, load_s REAL,
 *   best_ef INTEGER,               -- the point with recall >= 0.95 and the most QPS (NULL: none, or exact)
 *   best_recall REAL, best_qps REAL, best_p50_us REAL, best_p99_us REAL,
 *   max_recall REAL,               -- the highest recall of any point
 *   best_cpu_qps REAL,             -- that point's queries per CPU second (NULL for the mount)
 *   build_cpu_s REAL,              -- CPU seconds of the build
 *   PRIMARY KEY (run_id, dataset, system)
 * );
 * -- every point of every sweep
 * CREATE TABLE points (
 *   run_id INTEGER NOT NULL REFERENCES runs(id),
 *   dataset TEXT NOT NULL, system TEXT NOT NULL,
 *   ef INTEGER,                    -- NULL for an exact scan
 *   recall REAL NOT NULL,          -- recall@k, ann-benchmarks' definition (bench/ann/metrics.ts)
 *   id_recall REAL,                -- |found ∩ true top-k| / k
 *   qps REAL NOT NULL, p50_us REAL, p99_us REAL, mean_us REAL,
 *   method TEXT,                   -- how the engine answered, when it says
 *   cpu_qps REAL                   -- queries per CPU second of the searching process
 * );
 * CREATE INDEX points_run ON points (run_id, dataset, system);
 * ```
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { bestAtRecall, RECALL_TARGET } from "./metrics.ts";
import type { VectorsReport } from "./run.ts";

/**
 * Version of the schema above (2 added `results.best_cpu_qps` and
 * `points.cpu_qps`; 3 `results.build_cpu_s`, `runs.load_before` and `runs.load_after`).
 */
export const SCHEMA_VERSION = 3;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  date TEXT NOT NULL,
  command TEXT NOT NULL,
  commit_id TEXT,
  host TEXT, cpu TEXT, cpus INTEGER, kernel TEXT,
  k INTEGER NOT NULL, m INTEGER NOT NULL, ef_construction INTEGER NOT NULL,
  passes INTEGER NOT NULL,
  seconds REAL,
  settings TEXT NOT NULL,
  versions TEXT NOT NULL,
  report TEXT NOT NULL,
  load_before REAL, load_after REAL
);
CREATE TABLE IF NOT EXISTS results (
  run_id INTEGER NOT NULL REFERENCES runs(id),
  dataset TEXT NOT NULL, system TEXT NOT NULL,
  n INTEGER, nq INTEGER, dim INTEGER, metric TEXT,
  available INTEGER NOT NULL,
  reason TEXT,
  build_s REAL, index_bytes INTEGER, peak_rss_bytes INTEGER, load_s REAL,
  best_ef INTEGER,
  best_recall REAL, best_qps REAL, best_p50_us REAL, best_p99_us REAL,
  max_recall REAL,
  best_cpu_qps REAL,
  build_cpu_s REAL,
  PRIMARY KEY (run_id, dataset, system)
);
CREATE TABLE IF NOT EXISTS points (
  run_id INTEGER NOT NULL REFERENCES runs(id),
  dataset TEXT NOT NULL, system TEXT NOT NULL,
  ef INTEGER,
  recall REAL NOT NULL,
  id_recall REAL,
  qps REAL NOT NULL, p50_us REAL, p99_us REAL, mean_us REAL,
  method TEXT,
  cpu_qps REAL
);
CREATE INDEX IF NOT EXISTS points_run ON points (run_id, dataset, system);
`;

/**
 * Opens (creating if needed) the history database at `path` (":memory:" for a
 * throw-away one).
 * @throws Error when the file holds a newer schema than this program knows
 */
export function openHistory(path: string): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec(SCHEMA);
  const row = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string } | undefined;
  if (!row) db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', ?)").run(String(SCHEMA_VERSION));
  else if (Number(row.value) > SCHEMA_VERSION) {
    db.close();
    throw new Error(`${path} has history schema ${row.value}; this program knows ${SCHEMA_VERSION}`);
  } else if (Number(row.value) < SCHEMA_VERSION) {
    const from = Number(row.value);
    db.exec("BEGIN");
    if (from < 2) {
      db.exec("ALTER TABLE results ADD COLUMN best_cpu_qps REAL");
      db.exec("ALTER TABLE points ADD COLUMN cpu_qps REAL");
    }
    if (from < 3) {
      db.exec("ALTER TABLE results ADD COLUMN build_cpu_s REAL");
      db.exec("ALTER TABLE runs ADD COLUMN load_before REAL");
      db.exec("ALTER TABLE runs ADD COLUMN load_after REAL");
    }
    db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(String(SCHEMA_VERSION));
    db.exec("COMMIT");
  }
  return db;
}

/**
 * Appends a run's figures.
 * @returns the new run's id
 */
export function insertRun(db: DatabaseSync, r: VectorsReport): number {
  const s = r.settings;
  const commit = r.machine.versions["vexfs commit"]?.replace(" (with uncommitted changes)", "+dirty") ?? null;
  db.exec("BEGIN");
  try {
    const run = db.prepare(
      `INSERT INTO runs (date, command, commit_id, host, cpu, cpus, kernel, k, m, ef_construction, passes, seconds,
                         settings, versions, report, load_before, load_after)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      r.date,
      r.command,
      commit,
      r.machine.hostname,
      r.machine.cpu,
      r.machine.cpus,
      r.machine.kernel,
      s.k,
      s.m,
      s.efConstruction,
      s.runs,
      r.seconds,
      JSON.stringify(s),
      JSON.stringify(r.machine.versions),
      JSON.stringify(r),
      r.load?.before ?? null,
      r.load?.after ?? null,
    );
    const id = Number(run.lastInsertRowid);
    const res = db.prepare(
      `INSERT INTO results (run_id, dataset, system, n, nq, dim, metric, available, reason, build_s, index_bytes,
                            peak_rss_bytes, load_s, best_ef, best_recall, best_qps, best_p50_us, best_p99_us, max_recall,
                            best_cpu_qps, build_cpu_s)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const pt = db.prepare(
      `INSERT INTO points (run_id, dataset, system, ef, recall, id_recall, qps, p50_us, p99_us, mean_us, method, cpu_qps)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const d of r.datasets) {
      for (const x of d.systems) {
        const best = bestAtRecall(x.points, RECALL_TARGET);
        const maxRecall = x.points.length ? Math.max(...x.points.map((p) => p.recall)) : null;
        res.run(
          id,
          d.id,
          x.system,
          d.n,
          d.nq,
          d.dim,
          d.metric,
          x.available ? 1 : 0,
          x.reason ?? null,
          x.buildSeconds ?? null,
          x.indexBytes ?? null,
          x.peakRssBytes || null,
          x.loadSeconds ?? null,
          best?.ef ?? null,
          best?.recall ?? null,
          best?.qps ?? null,
          best?.p50Us ?? null,
          best?.p99Us ?? null,
          maxRecall,
          bestAtRecall(x.points, RECALL_TARGET, "cpuQps")?.cpuQps ?? null,
          x.buildCpuSeconds ?? null,
        );
        x.points.forEach((p, i) =>
          pt.run(
            id,
            d.id,
            x.system,
            p.ef,
            p.recall,
            x.idRecalls?.[i] ?? null,
            p.qps,
            p.p50Us,
            p.p99Us,
            p.meanUs,
            p.method ?? null,
            p.cpuQps ?? null,
          )
        );
      }
    }
    db.exec("COMMIT");
    return id;
  } catch (e) {
    db.exec("ROLLBACK");
    throw e;
  }
}

/** One row of `results`, as compared. */
export interface ResultRow {
  run_id: number;
  dataset: string;
  system: string;
  available: number;
  build_s: number | null;
  index_bytes: number | null;
  peak_rss_bytes: number | null;
  best_ef: number | null;
  best_recall: number | null;
  best_qps: number | null;
  best_p50_us: number | null;
  max_recall: number | null;
  /** schema 2 on */
  best_cpu_qps?: number | null;
  /** schema 3 on */
  build_cpu_s?: number | null;
}

/** The rows of run `runId`. */
export function resultsOf(db: DatabaseSync, runId: number): ResultRow[] {
  return db.prepare("SELECT * FROM results WHERE run_id = ? ORDER BY dataset, system").all(
    runId,
  ) as unknown as ResultRow[];
}

/** The report stored with run `runId`. */
export function reportOf(db: DatabaseSync, runId: number): VectorsReport | undefined {
  const r = db.prepare("SELECT report FROM runs WHERE id = ?").get(runId) as { report: string } | undefined;
  return r ? JSON.parse(r.report) as VectorsReport : undefined;
}

/** The latest run's id, or undefined for an empty history. */
export function latestRun(db: DatabaseSync): number | undefined {
  const r = db.prepare("SELECT max(id) AS id FROM runs").get() as { id: number | null } | undefined;
  return r?.id ?? undefined;
}

/** A run's date and commit. */
export function runInfo(
  db: DatabaseSync,
  runId: number,
): { id: number; date: string; commit_id: string | null } | undefined {
  return db.prepare("SELECT id, date, commit_id FROM runs WHERE id = ?").get(runId) as
    | { id: number; date: string; commit_id: string | null }
    | undefined;
}

/**
 * For each (dataset, system) of run `runId`, the latest measured row of an
 * earlier run (`before` limits it to that run).
 */
export function previousRows(db: DatabaseSync, runId: number, before?: number): Map<string, ResultRow> {
  const out = new Map<string, ResultRow>();
  const q = before !== undefined
    ? db.prepare("SELECT * FROM results WHERE run_id = ? AND dataset = ? AND system = ? AND available = 1")
    : db.prepare(
      `SELECT * FROM results WHERE run_id < ? AND dataset = ? AND system = ? AND available = 1
       ORDER BY run_id DESC LIMIT 1`,
    );
  for (const r of resultsOf(db, runId)) {
    const prev = q.get(before ?? runId, r.dataset, r.system) as unknown as ResultRow | undefined;
    if (prev) out.set(`${r.dataset}\u0000${r.system}`, prev);
  }
  return out;
}

/** How much worse counts as a regression (fractions). */
export interface Thresholds {
  /** QPS at the target falls by more than this (default 0.10) */
  qps: number;
  /** build time or peak memory grows by more than this (default 0.15) */
  cost: number;
  /** the highest recall falls by more than this, absolute (default 0.005) */
  recall: number;
}

/** Default {@linkcode Thresholds}. */
export const DEFAULT_THRESHOLDS: Thresholds = { qps: 0.10, cost: 0.15, recall: 0.005 };

/** One line of a comparison. */
export interface Change {
  dataset: string;
  system: string;
  /** the run compared with */
  previousRun: number;
  /** QPS at the target recall, per CPU second when both runs measured it, else wall clock */
  qps?: { now: number | null; before: number | null; ratio?: number; basis: string };
  /** build seconds, CPU when both runs measured it, else wall clock */
  buildS?: { now: number; before: number; ratio: number; basis: string };
  peakRss?: { now: number; before: number; ratio: number };
  maxRecall?: { now: number; before: number; delta: number };
  /** what got worse beyond the thresholds */
  regressions: string[];
}

function ratioOf(
  now: number | null,
  before: number | null,
): { now: number; before: number; ratio: number } | undefined {
  if (now === null || before === null || !(before > 0)) return undefined;
  return { now, before, ratio: now / before };
}

/**
 * Compares rows with earlier ones (pure): QPS at recall ≥ 0.95, build time,
 * peak memory, highest recall; regressions are the changes beyond `t`,
 * including a system that reached the target before and no longer does.
 */
export function compareRows(
  now: readonly ResultRow[],
  before: ReadonlyMap<string, ResultRow>,
  t: Thresholds = DEFAULT_THRESHOLDS,
): Change[] {
  const out: Change[] = [];
  for (const r of now) {
    const p = before.get(`${r.dataset}\u0000${r.system}`);
    if (!p) continue;
    const c: Change = { dataset: r.dataset, system: r.system, previousRun: p.run_id, regressions: [] };
    if (!r.available) {
      c.regressions.push("not measured in this run");
      out.push(c);
      continue;
    }
    // per CPU second when both runs have it (other work on the machine hides less in it), else wall clock
    const cpu = r.best_cpu_qps != null && p.best_cpu_qps != null;
    const qNow: number | null = cpu ? r.best_cpu_qps! : r.best_qps;
    const qBefore: number | null = cpu ? p.best_cpu_qps! : p.best_qps;
    if (qNow !== null || qBefore !== null) {
      c.qps = { now: qNow, before: qBefore, basis: cpu ? "per CPU second" : "wall clock" };
      if (qNow !== null && qBefore !== null && qBefore > 0) {
        c.qps.ratio = qNow / qBefore;
        if (c.qps.ratio < 1 - t.qps) {
          c.regressions.push(
            `QPS at recall ≥ ${RECALL_TARGET} (${c.qps.basis}) fell ${((1 - c.qps.ratio) * 100).toFixed(0)}%`,
          );
        }
      } else if (qNow === null && qBefore !== null) {
        c.regressions.push(`no longer reaches recall ${RECALL_TARGET}`);
      }
    }
    const cpuBuild = r.build_cpu_s != null && p.build_cpu_s != null;
    const b = cpuBuild ? ratioOf(r.build_cpu_s!, p.build_cpu_s!) : ratioOf(r.build_s, p.build_s);
    if (b) {
      c.buildS = { ...b, basis: cpuBuild ? "CPU" : "wall clock" };
      if (b.ratio > 1 + t.cost) {
        c.regressions.push(`build ${((b.ratio - 1) * 100).toFixed(0)}% slower (${c.buildS.basis})`);
      }
    }
    const m = ratioOf(r.peak_rss_bytes, p.peak_rss_bytes);
    if (m) {
      c.peakRss = m;
      if (m.ratio > 1 + t.cost) c.regressions.push(`peak memory ${((m.ratio - 1) * 100).toFixed(0)}% higher`);
    }
    if (r.max_recall !== null && p.max_recall !== null) {
      c.maxRecall = { now: r.max_recall, before: p.max_recall, delta: r.max_recall - p.max_recall };
      if (c.maxRecall.delta < -t.recall) {
        c.regressions.push(`highest recall fell by ${(-c.maxRecall.delta).toFixed(3)}`);
      }
    }
    out.push(c);
  }
  return out;
}

/** Compares run `runId` with the previous measurement of each of its datasets and systems (or with run `against`). */
export function compareRun(db: DatabaseSync, runId: number, against?: number, t?: Thresholds): Change[] {
  return compareRows(resultsOf(db, runId), previousRows(db, runId, against), t);
}
