/**
 * The benchmark report: its data model (also the `--json` output), ratios to
 * passthrough_ll, the rows of the terminal tables, and the Markdown block of
 * BENCHMARKS.md (refreshed between markers so that hand-written analysis
 * around it survives).
 * @module
 */
import type { SearchResult } from "./search.ts";
import type { LatencyStats } from "./search.ts";
import type { MachineInfo } from "./system.ts";
import { TARGET_IDS, type TargetId } from "./targets.ts";

/** Workloads, in run and report order. */
export const WORKLOAD_IDS = [
  "seq-write",
  "seq-read",
  "rand-read",
  "create",
  "stat",
  "append",
  "vectors",
  "search",
] as const;
/** One of {@linkcode WORKLOAD_IDS}. */
export type WorkloadId = typeof WORKLOAD_IDS[number];

/** Units of the workloads' main numbers. */
export type Unit = "MB/s" | "IOPS" | "files/s" | "writes/s" | "vectors/s" | "µs";

/** What the report says about each workload. */
export interface WorkloadInfo {
  /** unit of the main number (MB/s are 10^6 bytes per second) */
  unit: Unit;
  /** whether a larger number is better (throughput) or worse (latency) */
  higherIsBetter: boolean;
  /** a short label for the table, given the run's settings */
  label(s: Settings): string;
}

/** How to describe sizes in labels: 1 GiB, 256 MiB, 100 KiB. */
export function sizeLabel(bytes: number): string {
  for (const [u, f] of [["GiB", 2 ** 30], ["MiB", 2 ** 20], ["KiB", 2 ** 10]] as const) {
    if (bytes >= f && bytes % f === 0) return `${bytes / f} ${u}`;
  }
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${bytes} B`;
}

/** Metadata of every workload. */
export const WORKLOADS: Record<WorkloadId, WorkloadInfo> = {
  "seq-write": {
    unit: "MB/s",
    higherIsBetter: true,
    label: (s) => `sequential write ${sizeLabel(s.sizeBytes)} (1 MiB writes + fsync)`,
  },
  "seq-read": {
    unit: "MB/s",
    higherIsBetter: true,
    label: (s) => `sequential read ${sizeLabel(s.sizeBytes)} (1 MiB reads, cold cache)`,
  },
  "rand-read": {
    unit: "IOPS",
    higherIsBetter: true,
    label: (s) => `random 4 KiB reads in ${sizeLabel(s.sizeBytes)} (QD1, cold cache)`,
  },
  create: {
    unit: "files/s",
    higherIsBetter: true,
    label: (s) => `create ${s.files.toLocaleString("en-US")} empty files`,
  },
  stat: {
    unit: "files/s",
    higherIsBetter: true,
    label: (s) => `stat ${s.files.toLocaleString("en-US")} files (cold cache)`,
  },
  append: {
    unit: "writes/s",
    higherIsBetter: true,
    label: (s) => `append ${(s.appends ?? 0).toLocaleString("en-US")} × 4 bytes to one file (O_APPEND) + fsync`,
  },
  vectors: {
    unit: "vectors/s",
    higherIsBetter: true,
    label: (s) => `import ${s.vectors.toLocaleString("en-US")} vectors (128-d f32, files + ioctl) + fsync`,
  },
  search: {
    unit: "µs",
    higherIsBetter: false,
    label: (s) => `search ioctl, top-${s.k} of ${s.searchDocs} docs (median)`,
  },
};

/** One measurement of one workload on one target. */
export interface Measure {
  /** the main number, in the workload's {@linkcode WorkloadInfo.unit} */
  value: number;
  /** wall-clock seconds the workload took */
  seconds: number;
  /**
   * CPU time of the FUSE server during the workload divided by the wall time
   * (1.0 = one core busy the whole time); absent for the disk
   */
  serverCpu?: number;
  /** CPU time of the client (fio or fileops, user + system) divided by the wall time, when known */
  clientCpu?: number;
  /** the values of every run (the reported one is their median) */
  samples?: number[];
  /** more numbers: latencies in µs (`latMeanUs`, `latP50Us`, `latP99Us`, `maxUs`), counts */
  detail: Record<string, number>;
}

/** A measurement, or why there is none. */
export type Cell = { ok: true; m: Measure } | { ok: false; reason: string };

/** The run's settings. */
export interface Settings {
  /** size of the sequential file, bytes */
  sizeBytes: number;
  /** number of files created and stat'ed */
  files: number;
  /** 4-byte appending writes made by the `append` workload (absent in reports older than it) */
  appends?: number;
  /** number of vectors imported by the `vectors` workload */
  vectors: number;
  /** timed search queries */
  queries: number;
  /** results per search */
  k: number;
  /** documents in the search collection */
  searchDocs: number;
  /** random reads stop after this many seconds */
  randRuntimeS: number;
  /** runs of each I/O and file workload per target (the median is reported) */
  repeat: number;
  /** targets requested */
  targets: TargetId[];
  /** workloads requested */
  workloads: WorkloadId[];
}

/** Everything a run produced (the `--json` output). */
export interface BenchReport {
  machine: MachineInfo;
  settings: Settings;
  /** per target: whether it ran, how it was set up, or why not */
  targets: Record<TargetId, { available: boolean; description?: string; reason?: string }>;
  /** per workload and target */
  results: Partial<Record<WorkloadId, Partial<Record<TargetId, Cell>>>>;
  /** the VexFS search run in detail, or why it did not run */
  search?: { ok: true; r: SearchResult } | { ok: false; reason: string };
  /** the in-process brute-force floor over the same vectors and queries */
  bruteForce?: LatencyStats;
  /** whether the kernel caches were dropped before each cold workload */
  cachesDropped: boolean;
  /** warnings and remarks collected during the run */
  notes: string[];
  /** how the helpers were built (gcc command lines) */
  build: string[];
  /** the command line that reproduces the run */
  command: string;
}

/**
 * `value / base`: how many times passthrough_ll's number a target reached;
 * undefined when either is missing or the base is 0.
 */
export function ratio(value: number | undefined, base: number | undefined): number | undefined {
  if (value === undefined || base === undefined || !Number.isFinite(value) || !base) return undefined;
  return value / base;
}

/** The main number of a cell, or undefined. */
export function valueOf(c: Cell | undefined): number | undefined {
  return c?.ok ? c.m.value : undefined;
}

/** A number for tables: thousands separators, 2 decimals below 10, 1 below 100, none above. */
export function fmtNum(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return "—";
  const digits = Math.abs(v) < 10 ? 2 : Math.abs(v) < 100 ? 1 : 0;
  return v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** A ratio as `0.52×`, or `—`. */
export function fmtRatio(r: number | undefined): string {
  return r === undefined ? "—" : `${r.toFixed(2)}×`;
}

/** A fraction of a core as a percentage, `87%`, or `—`. */
export function fmtCpu(f: number | undefined): string {
  return f === undefined ? "—" : `${Math.round(f * 100)}%`;
}

const TARGET_LABEL: Record<TargetId, string> = {
  disk: "disk",
  passthrough_ll: "passthrough_ll",
  vexfs: "VexFS",
  "vexfs-nojournal": "VexFS no journal",
  "vexfs-nostats": "VexFS no counters",
};

/** Header of the results table. */
export function resultHeader(): string[] {
  return [
    "workload",
    "unit",
    ...TARGET_IDS.map((t) => TARGET_LABEL[t]),
    "disk ÷ pt_ll",
    "VexFS ÷ pt_ll",
    "no journal ÷ pt_ll",
  ];
}

/** `s` cut to `n` characters with an ellipsis (reasons in tables; JSON keeps them whole). */
export function clip(s: string, n = 90): string {
  return s.length <= n ? s : s.slice(0, n - 1) + "…";
}

/** Short text for a missing cell. */
function missing(c: Cell | undefined): string {
  if (!c) return "—";
  return c.ok ? fmtNum(c.m.value) : "n/a";
}

/** Rows of the results table: absolute numbers per target, then ratios to passthrough_ll. */
export function resultRows(r: BenchReport): string[][] {
  const rows: string[][] = [];
  for (const w of WORKLOAD_IDS) {
    const res = r.results[w];
    if (!res) continue;
    const info = WORKLOADS[w];
    const base = valueOf(res.passthrough_ll);
    rows.push([
      info.label(r.settings),
      info.unit,
      ...TARGET_IDS.map((t) => missing(res[t])),
      fmtRatio(ratio(valueOf(res.disk), base)),
      fmtRatio(ratio(valueOf(res.vexfs), base)),
      fmtRatio(ratio(valueOf(res["vexfs-nojournal"]), base)),
    ]);
  }
  return rows;
}

/** Header and rows of the spread table: the lowest and highest value of the runs of each workload. */
export function spreadTable(r: BenchReport): { head: string[]; rows: string[][] } {
  const head = ["workload (min – max of the runs)", ...TARGET_IDS.map((t) => TARGET_LABEL[t])];
  const rows: string[][] = [];
  for (const w of WORKLOAD_IDS) {
    const res = r.results[w];
    if (!res || w === "search") continue;
    rows.push([
      `${w} (${WORKLOADS[w].unit})`,
      ...TARGET_IDS.map((t) => {
        const c = res[t];
        const v = c?.ok ? c.m.samples : undefined;
        return v?.length ? `${fmtNum(Math.min(...v))} – ${fmtNum(Math.max(...v))}` : "—";
      }),
    ]);
  }
  return { head, rows };
}

/** Header and rows of the search table (VexFS ioctl vs the in-process floor). */
export function searchTable(r: BenchReport): { head: string[]; rows: string[][] } {
  const head = ["search, top-k by cosine", "median µs", "p99 µs", "mean µs", "÷ floor (median)"];
  const rows: string[][] = [];
  const floor = r.bruteForce;
  if (r.search?.ok) {
    const s = r.search.r.ioctl;
    rows.push([
      `VexFS search ioctl (${s.count} queries, from another process)`,
      fmtNum(s.medianUs),
      fmtNum(s.p99Us),
      fmtNum(s.meanUs),
      fmtRatio(ratio(s.medianUs, floor?.medianUs)),
    ]);
  } else if (r.search) {
    rows.push([`VexFS search ioctl: n/a (${clip(r.search.reason, 70)})`, "—", "—", "—", "—"]);
  }
  if (floor) {
    rows.push([
      `brute force in-process, Float32Array scan (floor)`,
      fmtNum(floor.medianUs),
      fmtNum(floor.p99Us),
      fmtNum(floor.meanUs),
      "1.00×",
    ]);
  }
  return { head, rows };
}

/** One sentence on how the search collection was loaded and whether its answers were right, or undefined. */
export function searchSetupLine(r: BenchReport): string | undefined {
  if (!r.search?.ok) return undefined;
  const s = r.search.r;
  return `Search set-up: ${s.docs} files with ${s.dim}-d f32 vectors (cosine) written through the mount in ` +
    `${s.loadSeconds.toFixed(2)} s; ${s.agreeing} of ${s.ioctl.count} ioctl answers equal the brute force.`;
}

/** Header and rows of the CPU table: how busy the FUSE servers were during each workload. */
export function cpuTable(r: BenchReport): { head: string[]; rows: string[][] } {
  const fuse: TargetId[] = ["passthrough_ll", "vexfs", "vexfs-nojournal", "vexfs-nostats"];
  const head = ["workload", ...fuse.map((t) => `${TARGET_LABEL[t]} server CPU`), "fio/fileops CPU (pt_ll)", "(VexFS)"];
  const rows: string[][] = [];
  for (const w of WORKLOAD_IDS) {
    if (w === "search") continue;
    const res = r.results[w];
    if (!res) continue;
    const cell = (t: TargetId, f: (m: Measure) => number | undefined) => {
      const c = res[t];
      return c?.ok ? fmtCpu(f(c.m)) : "—";
    };
    rows.push([
      w,
      ...fuse.map((t) => cell(t, (m) => m.serverCpu)),
      cell("passthrough_ll", (m) => m.clientCpu),
      cell("vexfs", (m) => m.clientCpu),
    ]);
  }
  return { head, rows };
}

/** The stage goal: at least this fraction of passthrough_ll's sequential throughput. */
export const SEQ_GOAL = 0.5;

/**
 * One line per sequential workload saying whether VexFS reached
 * {@linkcode SEQ_GOAL} of passthrough_ll, or why that is unknown.
 */
export function goalLines(r: BenchReport): string[] {
  const out: string[] = [];
  for (const w of ["seq-write", "seq-read"] as const) {
    const res = r.results[w];
    if (!res) continue;
    const q = ratio(valueOf(res.vexfs), valueOf(res.passthrough_ll));
    const name = w === "seq-write" ? "sequential write" : "sequential read";
    if (q === undefined) {
      const bad = (["vexfs", "passthrough_ll"] as const).find((t) => !res[t]?.ok);
      const cell = bad && res[bad];
      const why = cell && !cell.ok ? cell.reason : "not measured";
      out.push(`${name}: unknown (${bad === "passthrough_ll" ? "passthrough_ll" : "VexFS"}: ${why})`);
    } else {
      out.push(
        `${name}: VexFS reaches ${q.toFixed(3)}× passthrough_ll — ${
          q >= SEQ_GOAL ? "meets" : "BELOW"
        } the goal of ${SEQ_GOAL}×`,
      );
    }
  }
  return out;
}

/**
 * Targets of issue 7 §4 for the journal's cost: VexFS with its journal must
 * reach at least this fraction of the same workload on a `--no-journal`
 * image, measured in the same run.
 */
export const JOURNAL_TARGETS: Partial<Record<WorkloadId, number>> = { "seq-write": 0.9, create: 0.7 };

/** Workloads of the journal-cost table, in order (those measured on both VexFS targets are shown). */
export const JOURNAL_WORKLOADS: readonly WorkloadId[] = [
  "seq-write",
  "create",
  "vectors",
  "seq-read",
  "rand-read",
  "stat",
];

/**
 * `a[i] / b[i]` for runs made side by side (the targets are interleaved run
 * by run, so run `i` of both saw the same state of the machine); undefined
 * unless both have the same number of runs.
 */
export function pairedRatios(a: readonly number[] | undefined, b: readonly number[] | undefined): number[] | undefined {
  if (!a?.length || !b || a.length !== b.length) return undefined;
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) {
    const q = ratio(a[i], b[i]);
    if (q === undefined) return undefined;
    out.push(q);
  }
  return out;
}

/** The journal's cost on one workload: VexFS (journal) ÷ VexFS (no journal). */
export interface JournalCost {
  workload: WorkloadId;
  /** median with the journal */
  journal: number;
  /** median without */
  noJournal: number;
  /** `journal / noJournal` (for throughput: below 1 is the cost) */
  ratio: number;
  /** the ratio of each pair of runs, when both have every run */
  perRun?: number[];
  /** the issue's target, if this workload has one */
  target?: number;
  /** median of the final fsync's share, µs, with and without the journal (when the workload times it) */
  syncUs?: [number, number];
}

/** The journal's cost on each workload measured on both VexFS targets (see {@linkcode JOURNAL_WORKLOADS}). */
export function journalCosts(r: BenchReport): JournalCost[] {
  const out: JournalCost[] = [];
  for (const w of JOURNAL_WORKLOADS) {
    const j = r.results[w]?.vexfs;
    const n = r.results[w]?.["vexfs-nojournal"];
    if (!j?.ok || !n?.ok) continue;
    const q = ratio(j.m.value, n.m.value);
    if (q === undefined) continue;
    const c: JournalCost = { workload: w, journal: j.m.value, noJournal: n.m.value, ratio: q };
    const per = pairedRatios(j.m.samples, n.m.samples);
    if (per) c.perRun = per;
    if (JOURNAL_TARGETS[w] !== undefined) c.target = JOURNAL_TARGETS[w];
    if (j.m.detail.syncUs !== undefined && n.m.detail.syncUs !== undefined) {
      c.syncUs = [j.m.detail.syncUs, n.m.detail.syncUs];
    }
    out.push(c);
  }
  return out;
}

/** Header and rows of the journal-cost table. */
export function journalTable(r: BenchReport): { head: string[]; rows: string[][] } {
  const head = [
    "workload",
    "unit",
    "journal",
    "no journal",
    "journal ÷ no journal",
    "each run",
    "target",
    "final fsync (journal / none)",
  ];
  const rows = journalCosts(r).map((c) => [
    WORKLOADS[c.workload].label(r.settings),
    WORKLOADS[c.workload].unit,
    fmtNum(c.journal),
    fmtNum(c.noJournal),
    fmtRatio(c.ratio),
    c.perRun ? c.perRun.map((x) => x.toFixed(2)).join(", ") : "—",
    c.target === undefined ? "—" : `≥ ${c.target}× ${c.ratio >= c.target ? "met" : "MISSED"}`,
    c.syncUs ? `${fmtNum(c.syncUs[0] / 1000)} / ${fmtNum(c.syncUs[1] / 1000)} ms` : "—",
  ]);
  return { head, rows };
}

/**
 * One line per workload with a journal target saying whether VexFS with its
 * journal reached it against `--no-journal`, or why that is unknown.
 */
export function journalGoalLines(r: BenchReport): string[] {
  const out: string[] = [];
  const costs = new Map(journalCosts(r).map((c) => [c.workload, c]));
  for (const [w, target] of Object.entries(JOURNAL_TARGETS) as [WorkloadId, number][]) {
    const res = r.results[w];
    if (!res) continue;
    const c = costs.get(w);
    if (!c) {
      const bad = [res.vexfs, res["vexfs-nojournal"]].find((x) => x && !x.ok);
      const why = bad && !bad.ok ? bad.reason : "not measured on both VexFS targets";
      out.push(`${w}: journal cost unknown (${why})`);
      continue;
    }
    out.push(
      `${w}: VexFS with its journal reaches ${c.ratio.toFixed(3)}× VexFS without — ${
        c.ratio >= target ? "meets" : "MISSES"
      } the target of ${target}×` + (c.perRun ? ` (runs: ${c.perRun.map((x) => x.toFixed(2)).join(", ")})` : ""),
    );
  }
  return out;
}

/** A Markdown table with padded columns (stable under `deno fmt`); columns from `rightFrom` on are right-aligned. */
export function mdTable(head: string[], rows: string[][], rightFrom = 1): string {
  const esc = (c: string) => c.replaceAll("|", "\\|");
  const all = [head, ...rows].map((r) => r.map(esc));
  const width = head.map((_, i) => Math.max(3, ...all.map((r) => [...(r[i] ?? "")].length)));
  const pad = (c: string, i: number) => {
    const n = width[i] - [...c].length;
    return i >= rightFrom ? " ".repeat(n) + c : c + " ".repeat(n);
  };
  const line = (r: string[]) => `| ${r.map(pad).join(" | ")} |`;
  const sep = width.map((w, i) => (i >= rightFrom ? "-".repeat(w - 1) + ":" : "-".repeat(w)));
  return [line(all[0]), `| ${sep.join(" | ")} |`, ...all.slice(1).map(line)].join("\n");
}

/** Start and end markers of the generated part of BENCHMARKS.md. */
export const MD_BEGIN = "<!-- vexfs bench: generated results begin (refreshed by `vexfs bench --write-md`) -->";
/** See {@linkcode MD_BEGIN}. */
export const MD_END = "<!-- vexfs bench: generated results end -->";

/**
 * Greedy word wrap at `width` columns (as `deno fmt` wraps Markdown prose);
 * inline code spans are never split; continuation lines get `indent`.
 */
export function wrap(text: string, width = 120, indent = ""): string {
  const words = text.match(/(?:`[^`]*`|[^\s`])+/g) ?? [];
  const lines: string[] = [];
  let cur = "";
  for (const w of words) {
    const prefix = lines.length ? indent : "";
    if (cur && (prefix + cur + " " + w).length > width) {
      lines.push(prefix + cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) lines.push((lines.length ? indent : "") + cur);
  return lines.join("\n");
}

/** How the run was made, one sentence each (for the Markdown block). */
export function methodLines(r: BenchReport): string[] {
  const s = r.settings;
  const out = [
    `every target lives in ${r.machine.dir} on the same filesystem; targets are interleaved workload by workload, ` +
    "run by run, in alternating order (given order in runs 1, 3, …, reversed in runs 2, 4, …)",
    `fio ${s.repeat > 1 ? `(each workload ${s.repeat} times, median reported)` : "(one run)"}: one job, ` +
    "psync (buffered pread/pwrite, queue depth 1), fallocate=none; sequential: 1 MiB blocks, the write includes " +
    "a final fsync; random: 4 KiB blocks, each block at most once, at most " +
    `${s.randRuntimeS} seconds`,
    "create/stat: a separate C program (fileops) creates empty files with open(O_CREAT|O_EXCL)+close, ending " +
    "with an fsync of the directory (timed: the files are durable), then stat()s them in creation order; its " +
    "own clock",
    ...(r.results.append
      ? [
        `append: fileops opens one new file with O_APPEND and makes ${(s.appends ?? 0).toLocaleString("en-US")} ` +
        "write(2)s of 4 bytes to it, then fsyncs it (timed); every write is one FUSE request without a writeback cache",
      ]
      : []),
    r.cachesDropped
      ? "`sync; echo 3 > /proc/sys/vm/drop_caches` before every workload (FUSE servers' own caches stay: " +
        "VexFS keeps up to 64 MiB of metadata blocks in its process)"
      : "kernel caches could NOT be dropped (not root?): cold-cache numbers are warm",
    "passthrough_ll: libfuse's example built unchanged with gcc -O2, run with its defaults " +
    "(multi-threaded, 1 s entry/attribute timeouts, no writeback cache)",
    "MB/s are 10^6 bytes per second; ratios are target ÷ passthrough_ll (higher is better for every row but " +
    "the search, whose latency has no passthrough_ll counterpart)",
  ];
  if (r.results.vectors) {
    out.push(
      `vectors (VexFS targets only): \`vexfs import DIR --jsonl FILE --dim 128 --metric l2\` (DIR made just before) of ` +
        `${s.vectors.toLocaleString("en-US")} records (seeded random 128-d f32 vectors, a one-line text each) ` +
        "into a new directory on the mount: it creates the collection, writes each file through the kernel and " +
        "sets its vector with the SET_VECTOR ioctl; then an fsync of the directory; the time is the import's " +
        "own (without the start-up of the vexfs process) plus the fsync",
    );
  }
  if (r.search?.ok || r.bruteForce) {
    out.push(
      `search: ${s.queries} queries (a document's own vector each), top-${s.k}, timed one by one from the ` +
        "benchmark process through src/ioctl/client.ts (open + ioctl + close of the directory); the floor is " +
        "an exact scan over the same vectors in this process",
    );
  }
  return out;
}

/** The generated Markdown block (between {@linkcode MD_BEGIN} and {@linkcode MD_END}). */
export function renderMarkdown(r: BenchReport): string {
  const m = r.machine;
  const lines: string[] = [MD_BEGIN, ""];
  lines.push(wrap(`Run of ${m.date.replace("T", " ").replace(/\.\d+Z$/, " UTC")}: \`${r.command}\``), "");
  const mach: [string, string][] = [
    ["CPU", `${m.cpu} (${m.cpus} logical CPUs)`],
    ["memory", `${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB`],
    ["kernel", `Linux ${m.kernel} (${m.os})`],
    ["work directory", m.dir],
    ["filesystem", m.filesystem],
    ["disk", m.disk],
    ...Object.entries(m.versions),
  ];
  lines.push(mdTable(["machine", ""], mach, 9), "");
  lines.push(mdTable(resultHeader(), resultRows(r), 2));
  lines.push("");
  if (r.settings.repeat > 1) {
    lines.push(
      `Each I/O and file number is the median of ${r.settings.repeat} runs (targets interleaved); the spread:`,
      "",
    );
    const sp = spreadTable(r);
    lines.push(mdTable(sp.head, sp.rows, 1), "");
  }
  const jt = journalTable(r);
  if (jt.rows.length) {
    lines.push(
      wrap(
        "The journal's cost: VexFS on an image with its metadata journal (the default) ÷ VexFS on a " +
          "`vexfs mkfs --no-journal` image, both mounted in this run; each run pairs the two targets' runs made " +
          "side by side; higher is better, 1.00× = free.",
      ),
      "",
    );
    lines.push(mdTable(jt.head, jt.rows, 2), "");
    for (const g of journalGoalLines(r)) lines.push(wrap(`- ${g}`, 120, "  "));
    lines.push("");
  }
  const targetsLine = TARGET_IDS.map((t) => {
    const x = r.targets[t];
    return `${TARGET_LABEL[t]}: ${x.available ? "measured" : `not measured (${x.reason})`}`;
  });
  lines.push(wrap(`Targets: ${targetsLine.join("; ")}.`), "");
  lines.push("Method:", "");
  for (const m of methodLines(r)) lines.push(wrap(`- ${m}`, 120, "  "));
  lines.push("");
  const st = searchTable(r);
  if (st.rows.length) {
    lines.push(mdTable(st.head, st.rows, 1), "");
    const setup = searchSetupLine(r);
    if (setup) lines.push(wrap(setup), "");
  }
  const ct = cpuTable(r);
  if (ct.rows.length) {
    lines.push(
      wrap(
        "CPU use during each workload: CPU time ÷ wall time of the fio or fileops process (100% = one core busy " +
          "throughout); the server's threads are summed.",
      ),
      "",
    );
    lines.push(mdTable(ct.head, ct.rows, 1), "");
  }
  const goal = goalLines(r);
  if (goal.length) {
    lines.push("Goal of this stage (≥ 0.5× passthrough_ll sequential throughput):", "");
    for (const g of goal) lines.push(wrap(`- ${g}`, 120, "  "));
    lines.push("");
  }
  if (r.notes.length) {
    lines.push("Notes from the run:", "");
    for (const n of r.notes) lines.push(wrap(`- ${n}`, 120, "  "));
    lines.push("");
  }
  lines.push(MD_END);
  return lines.join("\n");
}

/** The text of a new BENCHMARKS.md around the generated block. */
export function markdownTemplate(block: string): string {
  return [
    "# Benchmarks",
    "",
    wrap(
      "Produced by `vexfs bench` (`deno task bench`); refresh with `vexfs bench --write-md`. The part between the " +
        "markers is generated; the rest is written by hand.",
    ),
    "",
    block,
    "",
  ].join("\n");
}

/**
 * Replaces the generated block in an existing BENCHMARKS.md text (or makes a
 * new document when `existing` is undefined or has no markers).
 */
export function updateMarkdown(existing: string | undefined, block: string): string {
  if (existing === undefined) return markdownTemplate(block);
  const a = existing.indexOf(MD_BEGIN);
  const b = existing.indexOf(MD_END);
  if (a < 0 || b < a) return existing.trimEnd() + "\n\n" + block + "\n";
  return existing.slice(0, a) + block + existing.slice(b + MD_END.length);
}
