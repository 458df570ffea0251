/**
 * `vexfs bench`: sequential and random I/O, file creation and stat, and
 * search latency on VexFS, each compared in the same run with libfuse's
 * `passthrough_ll` over a directory on the same disk and with the disk
 * itself. The work is done by bench/; this module parses options and prints.
 * @module
 */
import { type Command, InvalidArgumentError } from "commander";
import { BenchError } from "../bench/exec.ts";
import {
  cpuTable,
  goalLines,
  journalGoalLines,
  journalTable,
  renderMarkdown,
  resultHeader,
  resultRows,
  searchSetupLine,
  searchTable,
  spreadTable,
  updateMarkdown,
  WORKLOAD_IDS,
  type WorkloadId,
} from "../bench/report.ts";
import { DEFAULT_APPENDS, DEFAULT_FILES, DEFAULT_SIZE, runBench } from "../bench/run.ts";
import { runVmBench, VM_DEFAULT_QUERIES } from "../bench/vm.ts";
import {
  fileTable,
  memoryTable,
  nativeEstimate,
  renderVmMarkdown,
  scanTable,
  searchTable as vmSearchTable,
  spreadTable as vmSpreadTable,
  targetLines as vmTargetLines,
  updateVmMarkdown,
} from "../bench/vm_report.ts";
import type { KernelSeries } from "../src/kernel/debian_kernel.ts";
import { TARGET_IDS, type TargetId } from "../bench/targets.ts";
import { runTextBench, TEXT_DEFAULTS } from "../bench/text.ts";
import {
  comparisonRows,
  detailLines,
  recordTextRun,
  renderTextMarkdown,
  textTargets,
  updateTextMarkdown,
} from "../bench/text_report.ts";
import { DEFAULT_VECTORS } from "../bench/vectors.ts";
import { DATASET_IDS, type DatasetId, DEFAULT_DATASETS, DEFAULT_SEED } from "../bench/ann/datasets.ts";
import { benchVectors, DEFAULT_HISTORY, DEFAULT_PLOTS } from "../bench/ann/main.ts";
import { SYSTEM_IDS, type SystemId } from "../bench/ann/protocol.ts";
import { changeTable, phaseLines, profileLines, summaryTable, targetLines } from "../bench/ann/report.ts";
import { DEFAULT_EF_CONSTRUCTION, DEFAULT_EFS, DEFAULT_M } from "../bench/ann/run.ts";
import {
  action,
  c,
  CliError,
  defineCommand,
  deprecatedAlias,
  examples,
  formatBytes,
  formatDuration,
  optionWithDefault,
  parseSize,
  positiveInt,
  say,
  table,
  warn,
} from "./util.ts";
import { printJsonResult } from "./json.ts";

interface BenchFlags {
  dir?: string;
  size: number;
  files: number;
  appends: number;
  vectors: number;
  queries: number;
  topK: number;
  randRuntime: number;
  repeat: number;
  targets?: TargetId[];
  only?: WorkloadId[];
  json?: boolean;
  writeMd?: string | boolean;
  keep?: boolean;
  buildDir?: string;
  kernel?: KernelSeries | true;
  text?: boolean;
  textDocs: number;
  history: boolean;
}

/** Kernel series `--kernel` accepts (Debian's, booted in QEMU). */
const KERNEL_SERIES: readonly KernelSeries[] = ["6.1", "6.12"];

function kernelSeries(s: string): KernelSeries {
  if (!(KERNEL_SERIES as readonly string[]).includes(s)) {
    throw new InvalidArgumentError(`unknown kernel '${s}' (choose from ${KERNEL_SERIES.join(", ")})`);
  }
  return s as KernelSeries;
}

/** Options of 'vexfs bench' that choose its own targets and workloads, which --kernel does not run. */
const NOT_WITH_KERNEL = ["targets", "only", "appends", "vectors", "buildDir"] as const;

/** `vexfs bench --kernel`: the module, FUSE and ext4 in one VM (bench/vm.ts). */
async function benchKernel(cmd: Command, program: Command, o: BenchFlags): Promise<void> {
  for (const key of NOT_WITH_KERNEL) {
    if (cmd.getOptionValueSource(key) === "cli") {
      const flag = `--${key.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`)}`;
      throw new CliError(`${flag} does not apply to --kernel, which runs its own targets and workloads in the VM`);
    }
  }
  const series: KernelSeries = o.kernel === true || o.kernel === undefined ? "6.12" : o.kernel;
  const queries: [number, number] = cmd.getOptionValueSource("queries") === "cli"
    ? [o.queries, Math.max(5, Math.ceil(o.queries / 25))]
    : [...VM_DEFAULT_QUERIES];
  const command = ["vexfs", "bench", ...Deno.args.slice(Deno.args.indexOf("bench") + 1)].join(" ");
  let report;
  try {
    report = await runVmBench({
      series,
      sizeBytes: o.size,
      files: o.files,
      repeat: o.repeat,
      randSeconds: o.randRuntime,
      queries,
      k: o.topK,
      parentDir: o.dir ?? "/var/tmp",
      keep: o.keep,
      version: program.version() ?? "unknown",
      command,
      log: (l) => warn(c.dim(`bench --kernel: ${l}`)),
    });
  } catch (e) {
    if (e instanceof BenchError) throw new CliError(e.message);
    throw e;
  }
  if (o.writeMd) {
    const file = typeof o.writeMd === "string" ? o.writeMd : "BENCHMARKS.md";
    let old: string | undefined;
    try {
      old = await Deno.readTextFile(file);
    } catch { /* new file */ }
    await Deno.writeTextFile(file, updateVmMarkdown(old, renderVmMarkdown(report)));
    warn(c.dim(`bench --kernel: wrote ${file}`));
  }
  if (o.json) return printJsonResult("bench", { report });
  say(c.bold(`VexFS kernel module, FUSE and ext4 in one VM, ${report.date}`));
  say(c.dim(
    `${report.kernel.release} in QEMU ${report.kernel.qemu} (TCG, ${report.kernel.memoryMiB} MiB) on ` +
      `${report.host.cpu} × ${report.host.cpus}; VM ${formatDuration(report.vmSeconds * 1000)}`,
  ));
  const right = (head: string[], from: number) => head.map((_, i) => (i >= from ? "right" as const : "left" as const));
  for (const t of [fileTable(report), vmSearchTable(report), scanTable(report), memoryTable(report)]) {
    if (t.rows.length) say(table(t.head, t.rows, right(t.head, t.head[1] === "unit" ? 2 : 1)));
  }
  if (report.settings.repeat > 1) {
    const sp = vmSpreadTable(report);
    say(c.dim(`medians of ${report.settings.repeat} runs; the runs:`));
    say(table(sp.head, sp.rows, right(sp.head, 1)));
  }
  for (const t of vmTargetLines(report)) say(t.met === false ? c.red(t.text) : t.text);
  const est = nativeEstimate(report);
  if (est) {
    say(c.dim(
      `TCG costs the scan loop ${est.factor.toFixed(1)}×: the module's 1,000-vector search would take ` +
        `about ${est.kernelUs.toFixed(2)} µs on this host's CPU`,
    ));
  }
  for (const [t, why] of Object.entries(report.unavailable)) say(c.yellow(`${t}: not measured: ${why}`));
  for (const e of report.errors) say(c.red(`error: ${e}`));
  for (const n of report.notes) say(c.yellow(`note: ${n}`));
}

/** Parser for a non-negative integer option. */
function nonNegativeInt(what: string): (s: string) => number {
  return (s: string) => {
    if (!/^\s*\d+\s*$/.test(s) || !Number.isSafeInteger(Number(s))) {
      throw new InvalidArgumentError(`${what} must be a whole number, got '${s}'`);
    }
    return Number(s);
  };
}

/** Options of 'vexfs bench' that --text does not use. */
const NOT_WITH_TEXT = [
  "size",
  "files",
  "appends",
  "vectors",
  "topK",
  "randRuntime",
  "targets",
  "only",
  "buildDir",
] as const;

/** `vexfs bench --text`: keyword and hybrid search against MiniSearch and Orama (bench/text.ts). */
async function benchText(cmd: Command, program: Command, o: BenchFlags): Promise<void> {
  for (const key of NOT_WITH_TEXT) {
    if (cmd.getOptionValueSource(key) === "cli") {
      const flag = `--${key.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`)}`;
      throw new CliError(`${flag} does not apply to --text`);
    }
  }
  const fromCli = (key: string) => cmd.getOptionValueSource(key) === "cli";
  const command = ["vexfs", "bench", ...Deno.args.slice(Deno.args.indexOf("bench") + 1)].join(" ");
  const report = await runTextBench({
    genDocs: o.textDocs,
    queries: fromCli("queries") ? o.queries : TEXT_DEFAULTS.queries,
    rounds: fromCli("repeat") ? o.repeat : TEXT_DEFAULTS.rounds,
    genRounds: fromCli("repeat") ? o.repeat : TEXT_DEFAULTS.genRounds,
    passes: TEXT_DEFAULTS.passes,
    seed: TEXT_DEFAULTS.seed,
    parentDir: o.dir ?? "/var/tmp",
    mount: true,
    keep: o.keep,
    version: program.version() ?? "unknown",
    command,
    log: (l) => warn(c.dim(`bench --text: ${l}`)),
  });
  if (o.history) {
    const id = recordTextRun(DEFAULT_HISTORY, report);
    warn(c.dim(`bench --text: run #${id} of ${DEFAULT_HISTORY} (table text_runs)`));
  }
  if (o.writeMd) {
    const file = typeof o.writeMd === "string" ? o.writeMd : "BENCHMARKS.md";
    let old: string | undefined;
    try {
      old = await Deno.readTextFile(file);
    } catch { /* new file */ }
    await Deno.writeTextFile(file, updateTextMarkdown(old, renderTextMarkdown(report)));
    warn(c.dim(`bench --text: wrote ${file}`));
  }
  if (o.json) return printJsonResult("bench", { report });
  const m = report.machine;
  say(c.bold(`VexFS keyword search against MiniSearch and Orama, ${report.date}`));
  say(c.dim(`${m.cpu} × ${m.cpus}; load average ${report.loadBefore ?? "?"} before, ${report.loadAfter ?? "?"} after`));
  for (const corpus of report.corpora) {
    const t = comparisonRows(corpus);
    say(c.bold(corpus.corpus));
    say(table(t.head, t.rows, t.head.map((_, i) => (i ? "right" as const : "left" as const))));
    for (const l of detailLines(corpus)) say(c.dim(l));
  }
  for (const x of report.corpora.flatMap(textTargets)) {
    const line = `${x.corpus} ${x.what}: ${x.ours} (target ${x.bound}) ${x.met ? "met" : "MISSED"}`;
    say(x.met ? line : c.red(line));
  }
  for (const n of report.notes) say(c.yellow(`note: ${n}`));
}

/** Parser for a comma-separated list of names from `allowed`. */
function listOf<T extends string>(what: string, allowed: readonly T[]): (s: string) => T[] {
  return (s: string) => {
    const items = s.split(",").map((x) => x.trim()).filter((x) => x !== "");
    for (const x of items) {
      if (!allowed.includes(x as T)) {
        throw new InvalidArgumentError(`unknown ${what} '${x}' (choose from ${allowed.join(", ")})`);
      }
    }
    if (!items.length) throw new InvalidArgumentError(`give at least one ${what}`);
    return items as T[];
  };
}

interface VectorsFlags {
  datasets?: DatasetId[];
  big?: boolean;
  systems?: SystemId[];
  topK: number;
  m: number;
  efConstruction: number;
  ef: number[];
  runs: number;
  maxPass: number;
  queries: number;
  seed: number;
  dir: string;
  cacheDir?: string;
  buildDir?: string;
  history: string | false;
  compare?: string | boolean;
  reportOnly?: boolean;
  plots: string | false;
  writeMd?: string | boolean;
  json?: boolean;
  keep?: boolean;
  profile?: boolean;
  extend: boolean;
}

/** Parser for a comma-separated list of positive integers. */
function intList(what: string): (s: string) => number[] {
  return (s: string) => {
    const items = s.split(",").map((x) => x.trim()).filter((x) => x !== "");
    if (!items.length) throw new InvalidArgumentError(`give at least one ${what}`);
    return items.map((x) => positiveInt(what)(x));
  };
}

/** Registers `vexfs bench vectors` below `bench`. */
function registerVectors(bench: Command, program: Command): void {
  const cmd = defineCommand(
    bench,
    "vectors",
    "vector search as ann-benchmarks measures it: VexFS (library and mount) vs hnswlib-node and usearch",
  )
    .option(
      "--datasets <list>",
      `datasets, comma-separated (${DATASET_IDS.join(", ")}); default ${DEFAULT_DATASETS.join(",")}`,
      listOf("dataset", DATASET_IDS),
    )
    .option("--big", "also the 1M × 128 dataset (random-1m)")
    .option(
      "--systems <list>",
      `systems, comma-separated (${SYSTEM_IDS.join(", ")}); default all`,
      listOf("system", SYSTEM_IDS),
    )
    .option("-k, --top-k <k>", "neighbours per query (recall@k)", positiveInt("--top-k"), 10)
    .option("--m <M>", "HNSW M of every system", positiveInt("--m"), DEFAULT_M)
    .option(
      "--ef-construction <n>",
      "HNSW efConstruction of every system",
      positiveInt("--ef-construction"),
      DEFAULT_EF_CONSTRUCTION,
    )
    .addOption(
      optionWithDefault(
        "--ef <list>",
        "the ef sweep, comma-separated",
        [...DEFAULT_EFS],
        DEFAULT_EFS.join(","),
        intList("ef"),
      ),
    )
    .option("--runs <n>", "passes over the queries per point; the fastest is kept", positiveInt("--runs"), 3)
    .addOption(
      optionWithDefault(
        "--max-pass <seconds>",
        "no further pass once one took longer than this",
        30,
        "30 s",
        positiveInt("--max-pass"),
      ),
    )
    .option("--queries <n>", "at most this many queries per dataset", positiveInt("--queries"), 1000)
    .option("--seed <n>", "seed of the random datasets", positiveInt("--seed"), DEFAULT_SEED)
    .option("--dir <path>", "make the work directory (images, indexes) below PATH", "/var/tmp")
    .option("--cache-dir <path>", "datasets and ground truth (default bench/.cache)")
    .option("--build-dir <path>", "where the C brute force is built (default bench/.build)")
    .addOption(
      optionWithDefault(
        "--history <file>",
        "SQLite history the run is appended to",
        DEFAULT_HISTORY,
        "bench/history.sqlite of the source tree",
      ),
    )
    .option("--no-history", "do not record the run")
    .option("--compare [run]", "print the change against the previous run (or history run RUN)")
    .option("--report-only", "do not run: redraw tables, plots and Markdown from the history's latest run")
    .addOption(
      optionWithDefault(
        "--plots <dir>",
        "where the recall-vs-QPS SVG plots go",
        DEFAULT_PLOTS,
        "bench/plots of the source tree",
      ),
    )
    .option("--no-plots", "draw no plots")
    .option(
      "--write-md [file]",
      "write the results into FILE (default BENCHMARKS.md), keeping text outside the markers",
    )
    .option("--json", "print the whole report as JSON on stdout (progress goes to stderr)")
    .option("--keep", "keep the work directory (image, indexes) afterwards")
    .option("--profile", "profile VexFS's build and its search at its best ef: where the time goes")
    .option("--no-extend", "do not go on up to ef 6400 when recall stays below 0.97")
    .action(action("bench vectors", async (o: VectorsFlags) => {
      // 'vexfs bench' has options of the same names; the program's options are not positional, so commander
      // gives an option written after 'vectors' to 'bench' when both know it: take it from there
      const parent = cmd.parent!;
      for (const key of ["dir", "queries", "topK", "json", "writeMd", "keep", "buildDir"] as const) {
        if (parent.getOptionValueSource(key) === "cli") {
          (o as unknown as Record<string, unknown>)[key] = parent.opts()[key];
        }
      }
      const datasets = [...(o.datasets ?? DEFAULT_DATASETS)];
      if (o.big && !datasets.includes("random-1m")) datasets.push("random-1m");
      let compare: boolean | number | undefined = undefined;
      if (o.compare === true) compare = true;
      else if (typeof o.compare === "string") {
        if (!/^\d+$/.test(o.compare)) {
          throw new CliError(`--compare takes a run number of the history, got '${o.compare}'`);
        }
        compare = Number(o.compare);
      }
      const args = Deno.args.slice(Deno.args.indexOf("vectors") + 1);
      const outcome = await benchVectors({
        run: {
          datasets,
          systems: o.systems ?? [...SYSTEM_IDS],
          k: o.topK,
          m: o.m,
          efConstruction: o.efConstruction,
          efs: o.ef,
          runs: o.runs,
          maxPassSeconds: o.maxPass,
          queries: o.queries,
          seed: o.seed,
          parentDir: o.dir,
          cacheDir: o.cacheDir,
          buildDir: o.buildDir,
          keep: o.keep,
          profile: o.profile,
          extend: o.extend,
          version: program.version() ?? "unknown",
          command: ["vexfs", "bench", "vectors", ...args].join(" "),
          log: (l) => warn(c.dim(`bench vectors: ${l}`)),
        },
        history: o.history,
        compare: compare ?? false,
        reportOnly: o.reportOnly,
        plots: o.plots,
        writeMd: o.writeMd ? (typeof o.writeMd === "string" ? o.writeMd : "BENCHMARKS.md") : undefined,
      }).catch((e) => {
        if (e instanceof BenchError) throw new CliError(e.message);
        throw e;
      });
      const r = outcome.report;
      if (outcome.mdFile) warn(c.dim(`bench vectors: wrote ${outcome.mdFile}`));
      for (const f of Object.values(outcome.plotFiles)) warn(c.dim(`bench vectors: wrote ${f}`));
      if (outcome.runId !== undefined && !o.reportOnly) {
        warn(c.dim(`bench vectors: run #${outcome.runId} of ${o.history}`));
      }
      if (o.json) return printJsonResult("bench vectors", { report: r });
      say(c.bold(`VexFS vector search benchmark, ${r.date}`));
      say(
        c.dim(
          `${r.machine.cpu} × ${r.machine.cpus}; ${
            Object.entries(r.machine.versions).filter(([k]) => !["fio", "libfuse", "fusermount3"].includes(k)).map((
              [k, v],
            ) => `${k} ${v}`).join("; ")
          }`,
        ),
      );
      const st = summaryTable(r);
      say(table(st.head, st.rows, ["left", "left", ...st.head.slice(2).map(() => "right" as const)]));
      for (const t of targetLines(r)) say(t.met === false ? c.red(t.text) : t.text);
      for (const p of phaseLines(r)) say(c.dim(p));
      for (const p of profileLines(r)) say(c.dim(p));
      if (compare !== undefined) {
        if (!outcome.changes.length) say(c.dim("nothing earlier in the history to compare with"));
        else {
          const ct = changeTable(outcome.changes);
          say(c.bold("change against the previous run:"));
          say(table(ct.head, ct.rows, ct.head.map((_, i) => (i >= 3 && i < 7 ? "right" : "left"))));
          const bad = outcome.changes.filter((x) => x.regressions.length);
          if (bad.length) say(c.red(`${bad.length} regression(s)`));
        }
      }
      for (const n of r.notes) say(c.yellow(`note: ${n}`));
      say(c.dim(`total ${formatDuration(r.seconds * 1000)}`));
    }));
  cmd.addHelpText(
    "after",
    `
For every dataset (fiori 778 × 384 cosine, MNIST 9,000 × 784 l2, 100,000 × 128
seeded random l2; with --big 1,000,000 × 128): exact ground truth (a C brute
force, cached in bench/.cache), then each system in its own process with the
same M and efConstruction: hnswlib-node and usearch (under node), VexFS as a
library on an image, VexFS through 'vexfs mount' and the search ioctl, VexFS's
exact scan and the C brute force (gcc -O3 -march=native). Reports build time,
index bytes, peak RSS, and for each ef of the sweep recall@k, queries per
second (one thread) and p50/p99 latency. Each run is appended to the SQLite
history (bench/history.sqlite); plots go to bench/plots/ (SVG).`,
  );
  examples(cmd, [
    "vexfs bench vectors                                  # fiori, MNIST, 100K × 128",
    "vexfs bench vectors --big --write-md --compare       # and 1M × 128; refresh BENCHMARKS.md",
    "vexfs bench vectors --datasets fiori --ef 10,40 --runs 1 --no-history",
    "vexfs bench vectors --report-only --compare          # the last run against the one before",
  ]);
}

/** Registers `vexfs bench`. */
export function register(program: Command): void {
  const cmd = defineCommand(
    program,
    "bench",
    "benchmark VexFS through FUSE against libfuse's passthrough_ll and the disk",
  )
    .option("--dir <path>", "make the work directory below PATH, on the disk to measure", "/var/tmp")
    .addOption(
      optionWithDefault(
        "-s, --size <size>",
        "size of the sequential file (bytes, or 256M, 1G)",
        DEFAULT_SIZE,
        formatBytes(DEFAULT_SIZE),
        parseSize,
      ),
    )
    .option("--files <n>", "files to create and stat", positiveInt("--files"), DEFAULT_FILES)
    .option("--appends <n>", "4-byte O_APPEND writes of the append workload", positiveInt("--appends"), DEFAULT_APPENDS)
    .option("--vectors <n>", "vectors to import (128-d f32, VexFS only)", positiveInt("--vectors"), DEFAULT_VECTORS)
    .option("--queries <n>", "timed search queries (document vectors, cycling)", positiveInt("--queries"), 778)
    .option("-k, --top-k <k>", "results per search", positiveInt("--top-k"), 10)
    .addOption(
      optionWithDefault(
        "--rand-runtime <seconds>",
        "stop the random reads after this many seconds",
        10,
        "10 s",
        positiveInt("--rand-runtime"),
      ),
    )
    .option(
      "--repeat <n>",
      "runs of each I/O and file workload; the median is reported",
      positiveInt("--repeat"),
      3,
    )
    .option(
      "--targets <list>",
      `targets to measure, comma-separated (${TARGET_IDS.join(", ")}); default all but vexfs-nostats ` +
        `(VexFS without its request counters, to measure their cost)`,
      listOf("target", TARGET_IDS),
    )
    .option(
      "--only <list>",
      `workloads to run, comma-separated (${WORKLOAD_IDS.join(", ")}); default all`,
      listOf("workload", WORKLOAD_IDS),
    )
    .option("--json", "print the whole report as JSON on stdout (progress goes to stderr)")
    .option(
      "--write-md [file]",
      "write the results into FILE (default BENCHMARKS.md), keeping text outside the markers",
    )
    .option("--keep", "keep the work directory (image, files) afterwards")
    .option("--build-dir <path>", "where passthrough_ll and fileops are built (default bench/.build)")
    .option(
      "--kernel [series]",
      `instead: the kernel module, the FUSE mount and ext4 side by side in one QEMU VM booting Debian's ` +
        `${KERNEL_SERIES.join(" or ")} (default 6.12)`,
      kernelSeries,
    )
    .option(
      "--text",
      "instead: keyword search (indexing, query latency, index size) against MiniSearch and Orama on the fiori " +
        "texts and a generated corpus, and hybrid search latency (offline and through a mount)",
    )
    .option(
      "--text-docs <n>",
      "with --text: documents of the generated corpus (0: fiori only)",
      nonNegativeInt("--text-docs"),
      TEXT_DEFAULTS.genDocs,
    )
    .option("--no-history", "with --text: do not append the run to bench/history.sqlite")
    .action(action("bench", async (o: BenchFlags) => {
      if (o.size < 2 ** 20 || o.size % 4096) {
        throw new CliError(`--size must be at least 1M and a multiple of 4K, got ${o.size} bytes`);
      }
      if (o.kernel !== undefined && o.text) throw new CliError("--kernel and --text are two different benchmarks");
      if (o.kernel !== undefined) return await benchKernel(cmd, program, o);
      if (o.text) return await benchText(cmd, program, o);
      const command = ["vexfs", "bench", ...Deno.args.slice(Deno.args.indexOf("bench") + 1)].join(" ");
      const started = performance.now();
      let report;
      try {
        report = await runBench({
          parentDir: o.dir,
          sizeBytes: o.size,
          files: o.files,
          appends: o.appends,
          vectors: o.vectors,
          queries: o.queries,
          k: o.topK,
          randRuntimeS: o.randRuntime,
          repeat: o.repeat,
          targets: o.targets,
          workloads: o.only,
          keep: o.keep,
          buildDir: o.buildDir,
          version: program.version() ?? "unknown",
          command,
          log: (l) => warn(c.dim(`bench: ${l}`)),
        });
      } catch (e) {
        if (e instanceof BenchError) throw new CliError(e.message);
        throw e;
      }
      if (o.writeMd) {
        const file = typeof o.writeMd === "string" ? o.writeMd : "BENCHMARKS.md";
        let old: string | undefined;
        try {
          old = await Deno.readTextFile(file);
        } catch { /* new file */ }
        await Deno.writeTextFile(file, updateMarkdown(old, renderMarkdown(report)));
        warn(c.dim(`bench: wrote ${file}`));
      }
      if (o.json) return printJsonResult("bench", { report });
      const m = report.machine;
      say(c.bold(`VexFS benchmark, ${m.date}`));
      say(c.dim(`${m.cpu} × ${m.cpus}, Linux ${m.kernel}, ${m.filesystem}, ${m.disk}`));
      say(c.dim(Object.entries(m.versions).map(([k, v]) => `${k} ${v}`).join("; ")));
      say(
        table(resultHeader(), resultRows(report), [
          "left",
          "left",
          ...resultHeader().slice(2).map(() => "right" as const),
        ]),
      );
      const st = searchTable(report);
      if (st.rows.length) say(table(st.head, st.rows, ["left", "right", "right", "right", "right"]));
      const setup = searchSetupLine(report);
      if (setup) say(c.dim(setup));
      if (report.settings.repeat > 1) {
        const sp = spreadTable(report);
        say(c.dim(`medians of ${report.settings.repeat} runs; their spread:`));
        say(table(sp.head, sp.rows, ["left", ...sp.head.slice(1).map(() => "right" as const)]));
      }
      const ct = cpuTable(report);
      if (ct.rows.length) {
        say(c.dim("CPU time ÷ wall time during each workload (100% = one core busy):"));
        say(table(ct.head, ct.rows, ["left", ...ct.head.slice(1).map(() => "right" as const)]));
      }
      const jt = journalTable(report);
      if (jt.rows.length) {
        say(c.dim("the journal's cost: VexFS with its journal ÷ VexFS on a --no-journal image:"));
        say(table(jt.head, jt.rows, ["left", "left", ...jt.head.slice(2).map(() => "right" as const)]));
      }
      for (const t of TARGET_IDS) {
        const x = report.targets[t];
        if (!x.available && x.reason !== "not requested") say(c.yellow(`${t}: not measured: ${x.reason}`));
      }
      for (const g of goalLines(report)) say(g.includes("BELOW") ? c.red(g) : g);
      for (const g of journalGoalLines(report)) say(g.includes("MISSES") ? c.red(g) : g);
      for (const n of report.notes) say(c.yellow(`note: ${n}`));
      say(c.dim(`total ${formatDuration(performance.now() - started)}`));
    }));
  cmd.addHelpText(
    "after",
    `
Sets up, on the disk holding --dir: a plain directory, libfuse's passthrough_ll
example (built with gcc from /usr/share/doc/libfuse3-dev/examples) over a
directory, and two VexFS images mounted with 'vexfs mount': one with its
metadata journal (vexfs), one made with 'mkfs --no-journal' (vexfs-nojournal).
Then, on each: fio sequential write (1 MiB blocks, fsync included) and read of
--size, fio random 4 KiB reads (queue depth 1) of that file, creating (ending
with an fsync of the directory) and stat'ing --files files, --appends 4-byte
O_APPEND writes to one file (a separate C
helper), on the VexFS targets 'vexfs import' of --vectors 128-d vectors plus an
fsync, each --repeat times with the targets interleaved (the median is
reported), and on VexFS the latency of the search ioctl over the 778 fiori
documents, against an in-process brute-force scan as the floor. The journal's
cost is reported as VexFS ÷ VexFS without journal for each workload.
Kernel caches are dropped before each workload (needs root; the report says
if that failed). Results are absolute (MB/s = 10^6 bytes/s, IOPS, files/s, µs)
and as ratios to passthrough_ll. Needs fio, gcc, pkg-config, libfuse3-dev
(bash scripts/bootstrap.sh bench installs them).

With --kernel: one QEMU VM (TCG) booting Debian's 6.12 (or 6.1) kernel runs the
same C workloads (bench/vm/vmbench.c, static) on the kernel module (mount -t
vexfs), on 'vexfs mount' (FUSE, inside the VM) and on ext4, each on its own
virtio disk: sequential write and read of --size, random 4 KiB reads for
--rand-runtime seconds, creating and stat'ing --files files, --repeat times
interleaved; then the search ioctl (-k results) on 1,000 and 100,000 128-d
vectors (flat collections filled through FUSE on the host) on the module and
on FUSE. Reports medians, module ÷ ext4 and module ÷ FUSE, the memory of each
(module size and slab, the daemon's RSS), and the issue's targets. Needs the
kernel headers and QEMU (bash scripts/bootstrap.sh test installs them) and gcc
with a static libc (libc6-dev).`,
  );
  cmd.enablePositionalOptions();
  registerVectors(cmd, program);
  deprecatedAlias(cmd, "-r <n>", "--repeat", "-r means --recursive in other vexfs commands");
  examples(cmd, [
    "vexfs bench vectors                          # vector search against hnswlib-node and usearch",
    "vexfs bench                                  # the full run: 1 GiB, 10,000 files",
    "vexfs bench --size 256M --files 2000 --rand-runtime 5 --repeat 1",
    "vexfs bench --targets disk,passthrough_ll --only seq-write,seq-read",
    "vexfs bench --targets vexfs,vexfs-nojournal --only seq-write,create,vectors   # the journal's cost",
    "vexfs bench --json > bench.json",
    "vexfs bench --write-md                       # refresh BENCHMARKS.md",
    "vexfs bench --kernel --write-md              # module vs FUSE vs ext4 in a 6.12 VM",
    "vexfs bench --kernel 6.1 --size 256M --files 2000 --repeat 1",
    "vexfs bench --text --write-md               # keyword search vs MiniSearch and Orama (fiori, 50,000 docs)",
    "vexfs bench --text --text-docs 2000 --queries 50 --repeat 1 --no-history   # a quick run",
  ]);
}
