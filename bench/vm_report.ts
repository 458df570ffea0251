/**
 * The report of `vexfs bench --kernel` (bench/vm.ts): what the VM printed, turned into
 * medians, ratios (module ÷ ext4, module ÷ FUSE), the memory each implementation used,
 * the issue's targets met or missed, and the generated block of BENCHMARKS.md.
 * Everything here is pure (no I/O), so `vm_report_test.ts` checks it on made-up logs.
 *
 * The VM's script (bench/vm.ts) prints `bench: ` lines on the serial console:
 * - `bench: TARGET REP {json}`: one workload or search sample (`bench/vm/vmbench.c`
 *   prints the JSON) on target `kernel` (the module), `fuse` (`vexfs mount`), `ext4`,
 *   or `vm` (the in-memory scan loop run in the VM), run REP (1-based);
 * - `bench: unavailable TARGET REASON…`: that target could not be measured;
 * - `bench: mem KEY VALUE`: a memory figure in bytes (see {@link MEMORY_KEYS}).
 * @module
 */

import { fmtNum, fmtRatio, mdTable, wrap } from "./report.ts";

/** The targets of the VM benchmark: the kernel module, the FUSE daemon, ext4. */
export const VM_TARGETS = ["kernel", "fuse", "ext4"] as const;
export type VmTarget = typeof VM_TARGETS[number];

/** File workloads, in the order they run. */
export const VM_WORKLOADS = ["seq-write", "seq-read", "rand-read", "create", "stat"] as const;
export type VmWorkload = typeof VM_WORKLOADS[number];

/** Unit of each workload's figure (higher is better for all). */
export const VM_UNITS: Record<VmWorkload, string> = {
  "seq-write": "MB/s",
  "seq-read": "MB/s",
  "rand-read": "IOPS",
  create: "files/s",
  stat: "files/s",
};

/** Sizes of the vector collections searched (128-d f32, l2, flat: exact scans on both sides). */
export const SEARCH_SIZES = [1000, 100_000] as const;

/** The issue's targets: module ÷ ext4 on file I/O, and the 1,000 × 128 search in the kernel. */
export const FILE_IO_TARGET = 0.8;
export const SEARCH_TARGET_US = 10;

/** Memory figures the script reports (bytes), and what they mean. */
export const MEMORY_KEYS: Record<string, string> = {
  "kernel.module": "vexfs.ko in memory (/sys/module/vexfs/coresize)",
  "kernel.slab": "the module's slab caches after the workloads (objects × object size, /proc/slabinfo)",
  "kernel.slab-vectors": "the module's slab caches after the searches of both collections",
  "ext4.module": "ext4.ko + jbd2.ko + mbcache.ko in memory (coresize)",
  "fuse.rss-peak": "the FUSE daemon's peak RSS over the file workloads (VmHWM)",
  "fuse.rss": "the FUSE daemon's RSS after them (VmRSS)",
  "fusevec.rss-peak": "the FUSE daemon serving the vectors: peak RSS after the searches (VmHWM)",
  "deno.binary": "the Deno binary the daemon runs (file size; mapped, partly resident)",
};

/** One `bench: TARGET REP {json}` line. */
export interface VmSample {
  target: string;
  rep: number;
  rec: Record<string, unknown>;
}

/** What the VM printed, sorted out. */
export interface ParsedVmLog {
  samples: VmSample[];
  /** target → why it was not measured */
  unavailable: Record<string, string>;
  /** MEMORY_KEYS key → bytes */
  memory: Record<string, number>;
  /** samples whose JSON carried "error" (target, rep, op and message) */
  errors: string[];
}

/** Reads the `bench: ` lines of a VM console log (other lines are ignored). */
export function parseVmBenchLog(log: string): ParsedVmLog {
  const out: ParsedVmLog = { samples: [], unavailable: {}, memory: {}, errors: [] };
  for (const raw of log.split("\n")) {
    const line = raw.replaceAll("\r", "").trim();
    let m;
    if ((m = /^bench: unavailable (\S+) (.*)$/.exec(line))) out.unavailable[m[1]] ??= m[2].trim();
    else if ((m = /^bench: mem (\S+) (\d+)$/.exec(line))) out.memory[m[1]] = Number(m[2]);
    else if ((m = /^bench: (\S+) (\d+) (\{.*\})$/.exec(line))) {
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(m[3]);
      } catch {
        out.errors.push(`${m[1]} run ${m[2]}: unreadable output ${m[3]}`);
        continue;
      }
      if (typeof rec.error === "string") out.errors.push(`${m[1]} run ${m[2]} ${rec.op}: ${rec.error}`);
      else out.samples.push({ target: m[1], rep: Number(m[2]), rec });
    }
  }
  return out;
}

/** The figure of a file-workload sample in its unit (MB/s = 10^6 bytes/s), or undefined. */
export function workloadValue(rec: Record<string, unknown>): number | undefined {
  const s = Number(rec.seconds);
  if (!(s > 0)) return undefined;
  switch (rec.op) {
    case "seq-write":
    case "seq-read":
      return Number(rec.bytes) / s / 1e6;
    case "rand-read":
      return Number(rec.ops) / s;
    case "create":
    case "stat":
      return Number(rec.files) / s;
  }
  return undefined;
}

/** Median (mean of the middle two for an even count); undefined for none. */
export function median(xs: readonly number[]): number | undefined {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/** Search latency of one target and collection size: medians over the runs of each run's figures. */
export interface SearchResult {
  p50Us: number;
  p99Us: number;
  minUs: number;
  queries: number;
  runs: number;
  vectors: number;
  /** inode of the best hit of the last query (the same queries on both targets: must agree) */
  firstIno: number;
}

/** The in-memory scan loop of vmbench.c: p50 per query, by where it ran and collection size. */
export interface ScanFigures {
  /** "host" (native, -O2), "host-simd" (native, -O3 AVX2 FMA), "vm" (-O2 under TCG), "vm-simd" */
  [where: string]: Partial<Record<string, number>>;
}

/** The two phases of each sequential-write run, seconds (vmbench.c's writeSeconds, fsyncSeconds). */
export interface SeqWritePhases {
  write: number[];
  fsync: number[];
}

/** The whole report (the `--json` output of `vexfs bench --kernel`). */
export interface VmBenchReport {
  date: string;
  command: string;
  version: string;
  commit?: string;
  kernel: { series: string; release: string; qemu: string; memoryMiB: number; cpu: string };
  host: { cpu: string; cpus: number };
  settings: { sizeBytes: number; files: number; repeat: number; randSeconds: number; queries: number[]; k: number };
  /** target → reason, for targets not measured */
  unavailable: Record<string, string>;
  /** target → workload → one figure per run */
  runs: Partial<Record<VmTarget, Partial<Record<VmWorkload, number[]>>>>;
  /** target → the seq-write runs split: seconds in the write(2)s (with the open) and in the fsync */
  phases?: Partial<Record<VmTarget, SeqWritePhases>>;
  /** target (kernel, fuse) → vectors → result */
  search: Partial<Record<"kernel" | "fuse", Partial<Record<string, SearchResult>>>>;
  scan: ScanFigures;
  memory: Record<string, number>;
  errors: string[];
  notes: string[];
  bootSeconds: number | null;
  vmSeconds: number;
}

/** Sorts the samples of a parsed log into the report's runs, search results and VM scan figures. */
export function collect(p: ParsedVmLog): Pick<VmBenchReport, "runs" | "phases" | "search" | "scan"> {
  const runs: VmBenchReport["runs"] = {};
  const phases: NonNullable<VmBenchReport["phases"]> = {};
  const lat = new Map<string, { p50: number[]; p99: number[]; min: number[]; q: number; ino: number; n: number }>();
  const scan: ScanFigures = {};
  for (const s of p.samples) {
    const op = String(s.rec.op);
    if ((VM_TARGETS as readonly string[]).includes(s.target) && (VM_WORKLOADS as readonly string[]).includes(op)) {
      const v = workloadValue(s.rec);
      if (v === undefined) continue;
      const t = (runs[s.target as VmTarget] ??= {});
      (t[op as VmWorkload] ??= []).push(v);
      const w = Number(s.rec.writeSeconds), f = Number(s.rec.fsyncSeconds);
      if (op === "seq-write" && w >= 0 && f >= 0) {
        const ph = (phases[s.target as VmTarget] ??= { write: [], fsync: [] });
        ph.write.push(w);
        ph.fsync.push(f);
      }
    } else if (op === "search" && (s.target === "kernel" || s.target === "fuse")) {
      const key = `${s.target}/${s.rec.vectors}`;
      const e = lat.get(key) ?? { p50: [], p99: [], min: [], q: 0, ino: 0, n: Number(s.rec.vectors) };
      e.p50.push(Number(s.rec.p50Us));
      e.p99.push(Number(s.rec.p99Us));
      e.min.push(Number(s.rec.minUs));
      e.q = Number(s.rec.queries);
      e.ino = Number(s.rec.firstIno);
      lat.set(key, e);
    } else if (op === "scan") {
      (scan[s.target] ??= {})[String(s.rec.vectors)] = Number(s.rec.p50Us);
    }
  }
  const search: VmBenchReport["search"] = {};
  for (const [key, e] of lat) {
    const [t] = key.split("/") as ["kernel" | "fuse"];
    (search[t] ??= {})[String(e.n)] = {
      p50Us: median(e.p50)!,
      p99Us: median(e.p99)!,
      minUs: Math.min(...e.min),
      queries: e.q,
      runs: e.p50.length,
      vectors: e.n,
      firstIno: e.ino,
    };
  }
  return { runs, phases, search, scan };
}

/** The median figure of a target and workload, or undefined. */
export function figure(r: Pick<VmBenchReport, "runs">, t: VmTarget, w: VmWorkload): number | undefined {
  return median(r.runs[t]?.[w] ?? []);
}

/** `a / b`, or undefined when either is missing or b is 0. */
export function ratioOf(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined || !b ? undefined : a / b;
}

const LABEL: Record<VmTarget, string> = { kernel: "module", fuse: "FUSE", ext4: "ext4" };

/** The file-workload table: figure per target, then module ÷ ext4 and module ÷ FUSE. */
export function fileTable(r: VmBenchReport): { head: string[]; rows: string[][] } {
  const head = ["workload", "unit", ...VM_TARGETS.map((t) => LABEL[t]), "module ÷ ext4", "module ÷ FUSE"];
  const rows = VM_WORKLOADS.map((w) => {
    const [k, f, e] = VM_TARGETS.map((t) => figure(r, t, w));
    return [w, VM_UNITS[w], fmtNum(k), fmtNum(f), fmtNum(e), fmtRatio(ratioOf(k, e)), fmtRatio(ratioOf(k, f))];
  });
  return { head, rows };
}

/**
 * Where each sequential write's time went: the write(2)s (into the page cache, with the
 * writeback and throttling they meet) and the fsync, seconds per run; undefined without figures.
 */
export function phaseTable(r: VmBenchReport): { head: string[]; rows: string[][] } | undefined {
  const rows = VM_TARGETS.filter((t) => r.phases?.[t]?.write.length).map((t) => {
    const p = r.phases![t]!;
    const s = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(", ");
    return [LABEL[t], s(p.write), s(p.fsync)];
  });
  return rows.length ? { head: ["seq-write runs", "write(2)s, s", "fsync, s"], rows } : undefined;
}

/** The spread of each file workload's runs (min–max), to judge TCG noise. */
export function spreadTable(r: VmBenchReport): { head: string[]; rows: string[][] } {
  const head = ["workload", ...VM_TARGETS.map((t) => `${LABEL[t]} runs`)];
  const rows = VM_WORKLOADS.map((w) => [
    w,
    ...VM_TARGETS.map((t) => (r.runs[t]?.[w] ?? []).map((v) => fmtNum(v)).join(", ") || "—"),
  ]);
  return { head, rows };
}

function us(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return "—";
  return v < 10 ? v.toFixed(2) : v < 1000 ? v.toFixed(1) : fmtNum(Math.round(v));
}

/** The search table: p50 / p99 per target and size, module ÷ FUSE (of latency: below 1 is faster). */
export function searchTable(r: VmBenchReport): { head: string[]; rows: string[][] } {
  const head = ["vectors (128-d)", "module p50 µs", "module p99 µs", "FUSE p50 µs", "FUSE p99 µs", "module ÷ FUSE"];
  const rows = SEARCH_SIZES.map((n) => {
    const k = r.search.kernel?.[String(n)], f = r.search.fuse?.[String(n)];
    return [
      fmtNum(n),
      us(k?.p50Us),
      us(k?.p99Us),
      us(f?.p50Us),
      us(f?.p99Us),
      fmtRatio(ratioOf(k?.p50Us, f?.p50Us)),
    ];
  });
  return { head, rows };
}

/** The scan-loop table: the same C loop natively on the host and under TCG in the VM. */
export function scanTable(r: VmBenchReport): { head: string[]; rows: string[][] } {
  const where = ["host", "host-simd", "vm", "vm-simd"].filter((w) => r.scan[w]);
  const label: Record<string, string> = {
    host: "host, -O2 (scalar)",
    "host-simd": "host, -O3 AVX2+FMA",
    vm: "VM (TCG), -O2",
    "vm-simd": "VM (TCG), -O3 AVX2+FMA",
  };
  const head = ["the flat-scan loop of vmbench.c", ...SEARCH_SIZES.map((n) => `${fmtNum(n)} p50 µs`)];
  const rows = where.map((w) => [label[w] ?? w, ...SEARCH_SIZES.map((n) => us(r.scan[w][String(n)]))]);
  return { head, rows };
}

function mib(b: number | undefined): string {
  if (b === undefined) return "—";
  return b < 2 ** 20 ? `${(b / 1024).toFixed(0)} KiB` : `${(b / 2 ** 20).toFixed(1)} MiB`;
}

/** Memory: each figure the VM reported, with what it is. */
export function memoryTable(r: VmBenchReport): { head: string[]; rows: string[][] } {
  const rows = Object.entries(MEMORY_KEYS).filter(([k]) => r.memory[k] !== undefined).map(([k, what]) => [
    what,
    mib(r.memory[k]),
  ]);
  return { head: ["memory", "size"], rows };
}

/** One target line: the text and whether it was met (undefined: not measured). */
export interface TargetLine {
  text: string;
  met: boolean | undefined;
}

/** The issue's targets, each met or missed with the measured figure. */
export function targetLines(r: VmBenchReport): TargetLine[] {
  const out: TargetLine[] = [];
  for (const w of VM_WORKLOADS) {
    const q = ratioOf(figure(r, "kernel", w), figure(r, "ext4", w));
    out.push(
      q === undefined
        ? {
          text: `module ≥ ${FILE_IO_TARGET}× ext4 on ${w}: not measured (${
            r.unavailable.kernel ?? r.unavailable.ext4 ?? "no figure"
          })`,
          met: undefined,
        }
        : {
          text: `module ≥ ${FILE_IO_TARGET}× ext4 on ${w}: ${fmtRatio(q)} — ${q >= FILE_IO_TARGET ? "met" : "MISSED"}`,
          met: q >= FILE_IO_TARGET,
        },
    );
  }
  const s = r.search.kernel?.["1000"];
  out.push(
    s === undefined
      ? {
        text: `search of 1,000 × 128 in the kernel < ${SEARCH_TARGET_US} µs: not measured (${
          r.unavailable["kernel-search"] ?? "no figure"
        })`,
        met: undefined,
      }
      : {
        text: `search of 1,000 × 128 in the kernel < ${SEARCH_TARGET_US} µs: p50 ${us(s.p50Us)} µs in the VM (TCG) — ${
          s.p50Us < SEARCH_TARGET_US ? "met" : "MISSED"
        }`,
        met: s.p50Us < SEARCH_TARGET_US,
      },
  );
  return out;
}

/**
 * TCG's cost factor on the scan loop (VM p50 ÷ host p50 for 1,000 vectors) and the
 * module's 1,000-vector p50 scaled by it: an estimate of the module on real hardware,
 * undefined when a figure is missing.
 */
export function nativeEstimate(r: VmBenchReport): { factor: number; kernelUs: number } | undefined {
  const f = ratioOf(r.scan.vm?.["1000"], r.scan.host?.["1000"]);
  const k = r.search.kernel?.["1000"]?.p50Us;
  return f === undefined || k === undefined ? undefined : { factor: f, kernelUs: k / f };
}

/** Start and end markers of the generated block of BENCHMARKS.md. */
export const VM_MD_BEGIN =
  "<!-- vexfs bench --kernel: generated results begin (refreshed by `vexfs bench --kernel --write-md`) -->";
/** See {@linkcode VM_MD_BEGIN}. */
export const VM_MD_END = "<!-- vexfs bench --kernel: generated results end -->";

/** The generated block of BENCHMARKS.md (markers included). */
export function renderVmMarkdown(r: VmBenchReport): string {
  const s = r.settings;
  const out: string[] = [VM_MD_BEGIN, ""];
  out.push(
    wrap(
      `Run of ${r.date}${r.commit ? ` (commit ${r.commit})` : ""}: \`${r.command}\`. One VM (QEMU ${r.kernel.qemu}, ` +
        `\`-accel tcg -cpu max\`, 1 vCPU, ${r.kernel.memoryMiB} MiB) booting Debian's ${r.kernel.release}, on a host ` +
        `${r.host.cpu} × ${r.host.cpus}. The three targets are virtio disks of the same VM: the module ` +
        `(\`mount -t vexfs\`), the FUSE daemon (\`vexfs mount\`, the real program on Deno inside the VM) and ext4 ` +
        `(Debian's mke2fs defaults). ${s.repeat} run${s.repeat > 1 ? "s" : ""}, targets interleaved workload by ` +
        `workload in rotating order, medians reported; caches dropped before every read workload. Before the runs ` +
        `the VM writes once to all but 256 MiB of its free memory (\`vmbench touchmem\`): QEMU backs guest RAM on the host at its first ` +
        `write, a cost that would otherwise fall on whichever target runs first.`,
    ),
  );
  out.push("");
  out.push(
    wrap(
      `Workloads (\`bench/vm/vmbench.c\`, static): sequential write of ${
        fmtNum(s.sizeBytes / 2 ** 20)
      } MiB in 1 MiB writes plus fsync; its sequential read in 1 MiB reads; random 4 KiB preads of it (each block ` +
        `once, ${s.randSeconds} s); creating ${fmtNum(s.files)} empty files plus fsync of the directory; stat of each.`,
    ),
  );
  out.push("");
  const ft = fileTable(r);
  out.push(mdTable(ft.head, ft.rows, 2), "");
  if (s.repeat > 1) {
    const sp = spreadTable(r);
    out.push(mdTable(sp.head, sp.rows), "");
  }
  const ph = phaseTable(r);
  if (ph) out.push(mdTable(ph.head, ph.rows), "");
  out.push(
    wrap(
      `Search: \`VEXFS_IOC_SEARCH\` (k = ${s.k}) on flat collections of 1,000 and 100,000 seeded 128-d f32 vectors ` +
        `(l2), made through the FUSE mount on the host; the same image attached twice, one copy mounted by the ` +
        `module, one by the FUSE daemon; ${s.queries.join(" and ")} seeded queries per run (after 5 untimed), ` +
        `latency per ioctl. Both answer exactly (a scan).`,
    ),
  );
  out.push("");
  const st = searchTable(r);
  out.push(mdTable(st.head, st.rows), "");
  const sc = scanTable(r);
  if (sc.rows.length) out.push(mdTable(sc.head, sc.rows), "");
  const mt = memoryTable(r);
  if (mt.rows.length) out.push(mdTable(mt.head, mt.rows), "");
  out.push("Targets:", "");
  for (const t of targetLines(r)) out.push(`- ${t.text}`);
  const est = nativeEstimate(r);
  if (est) {
    out.push(
      `- TCG costs the scan loop ${est.factor.toFixed(1)}× (VM ÷ host); the module's 1,000-vector p50 divided by ` +
        `that: about ${us(est.kernelUs)} µs on the host's CPU`,
    );
  }
  for (const [t, why] of Object.entries(r.unavailable)) out.push(`- not measured: ${t}: ${why}`);
  for (const e of r.errors) out.push(`- error: ${e}`);
  for (const n of r.notes) out.push(`- note: ${n}`);
  out.push("", VM_MD_END);
  return out.join("\n");
}

/**
 * `existing` with its generated kernel block replaced by `block`; the block is appended
 * (after a heading) when the file has none yet.
 */
export function updateVmMarkdown(existing: string | undefined, block: string): string {
  const text = existing ?? "# Benchmarks\n";
  const a = text.indexOf(VM_MD_BEGIN);
  const b = text.indexOf(VM_MD_END);
  if (a < 0 || b < a) {
    return text.trimEnd() + "\n\n## The kernel module against FUSE and ext4: `vexfs bench --kernel`\n\n" + block + "\n";
  }
  return text.slice(0, a) + block + text.slice(b + VM_MD_END.length);
}
