/**
 * One benchmark run: sets up the targets (plain directory, passthrough_ll,
 * VexFS with and without its metadata journal) under one work directory on the disk being measured, runs every
 * workload on every target (workload by workload, so that slow drift of the
 * machine affects all targets alike), tears everything down, and returns a
 * {@linkcode BenchReport}.
 *
 * Workloads (defaults are the sizes of the issue):
 * - `seq-write`: fio, 1 MiB writes of a new `size`-byte file, fsync at the end;
 * - `seq-read`: fio, 1 MiB reads of that file, kernel caches dropped first;
 * - `rand-read`: fio, 4 KiB reads at random offsets of that file, each block
 *   at most once, caches dropped first, stopped after `randRuntimeS`;
 * - `create`: `fileops create` makes `files` empty files in a new directory;
 *   then fsyncs the directory (timed);
 * - `stat`: `fileops stat` stats them, caches dropped first;
 * - `append`: `fileops append` makes `appends` 4-byte O_APPEND writes to one
 *   new file, then fsyncs it;
 * - `vectors`: VexFS targets only, `vexfs import` of `vectors` seeded random
 *   128-d vectors into a new collection, then an fsync (./vectors.ts);
 * - `search`: VexFS only, see ./search.ts.
 *
 * Caches are dropped with `sync; echo 3 > /proc/sys/vm/drop_caches` before
 * every workload; when that is not permitted the run continues and the
 * report says so.
 * @module
 */
import { buildTools, type Tools } from "./build.ts";
import { BenchError, lastLines, run, which } from "./exec.ts";
import { runFio } from "./fio.ts";
import { formatDuration } from "../src/units.ts";
import { type BenchReport, type Cell, type Measure, type Settings, WORKLOAD_IDS, type WorkloadId } from "./report.ts";
import { bruteForceLatency, fioriDocs, loadIoctlClient, searchBench } from "./search.ts";
import { clockTicks, dropCaches, loadAverage, machineInfo, mounts, processCpuSeconds } from "./system.ts";
import {
  isVexfs,
  startDisk,
  startPassthrough,
  startVexfs,
  type Target,
  TARGET_IDS,
  type TargetId,
  vexfsMountAvailable,
} from "./targets.ts";
import { DEFAULT_VECTORS, importVectors, VECTOR_DIM, VECTOR_SEED, writeVectorJsonl } from "./vectors.ts";

/** Options of {@linkcode runBench}. */
export interface BenchOptions {
  /** parent directory of the work directory, on the disk to measure (default /var/tmp) */
  parentDir?: string;
  /** size of the sequential file in bytes (default 1 GiB) */
  sizeBytes?: number;
  /** files created and stat'ed (default 10,000) */
  files?: number;
  /** 4-byte appending writes of the `append` workload (default 20,000) */
  appends?: number;
  /** vectors imported by the `vectors` workload (default 10,000) */
  vectors?: number;
  /** timed search queries (default 778: every document once) */
  queries?: number;
  /** results per search (default 10) */
  k?: number;
  /** random reads stop after this many seconds (default 10) */
  randRuntimeS?: number;
  /** runs of each I/O and file workload per target; the median is reported (default 3) */
  repeat?: number;
  /** targets to measure (default all but `vexfs-nostats`) */
  targets?: TargetId[];
  /** workloads to run (default all) */
  workloads?: WorkloadId[];
  /** keep the work directory (images, files) afterwards */
  keep?: boolean;
  /** where the helpers are built (default bench/.build) */
  buildDir?: string;
  /** version of this program, for the report */
  version: string;
  /** the command line, for the report */
  command: string;
  /** progress messages (one line each) */
  log?: (line: string) => void;
}

/** Block size of the sequential workloads, bytes. */
export const SEQ_BS = 1 << 20;
/** Block size of the random reads, bytes. */
export const RAND_BS = 4096;
/** Default size of the sequential file, bytes (the issue's 1 GiB). */
export const DEFAULT_SIZE = 2 ** 30;
/** Default number of files (the issue's 10,000). */
export const DEFAULT_FILES = 10_000;
/** Default number of 4-byte appending writes (issue 9 asks for at least 20,000 per second). */
export const DEFAULT_APPENDS = 20_000;

/** Fraction of a core: CPU seconds used by `pids` between two samples over `wallS` seconds. */
class CpuMeter {
  #pids: number[];
  #tck: number;
  #t0 = 0;
  #c0 = 0;
  constructor(pids: number[], tck: number) {
    this.#pids = pids;
    this.#tck = tck;
  }
  #sample(): number | undefined {
    let sum = 0;
    for (const p of this.#pids) {
      const s = processCpuSeconds(p, this.#tck);
      if (s === undefined) return undefined;
      sum += s;
    }
    return sum;
  }
  start(): void {
    this.#t0 = performance.now();
    this.#c0 = this.#sample() ?? NaN;
  }
  /** CPU time ÷ wall time since start(), or undefined if unknown. */
  stop(): number | undefined {
    const wall = (performance.now() - this.#t0) / 1000;
    const c1 = this.#sample();
    if (!this.#pids.length || c1 === undefined || !Number.isFinite(this.#c0) || wall <= 0) return undefined;
    return (c1 - this.#c0) / wall;
  }
}

/**
 * The sample with the median value (the lower middle one for an even count),
 * with every sample's value in `samples`; undefined for none.
 */
export function medianSample(ms: readonly Measure[]): Measure | undefined {
  if (!ms.length) return undefined;
  const sorted = [...ms].sort((a, b) => a.value - b.value);
  const mid = sorted[Math.floor((sorted.length - 1) / 2)];
  return { ...mid, samples: ms.map((m) => m.value) };
}

/**
 * The order of the targets in run `rep` of a workload: as given in even
 * runs, reversed in odd ones, so that no target always comes first or last.
 * On a virtual disk cached by the host, the target written or read last has
 * its image hotter in the host's cache (dropping the guest's caches does not
 * touch the host's); alternating spreads that advantage over the targets.
 */
export function runOrder<T>(targets: readonly T[], rep: number): T[] {
  return rep % 2 ? [...targets].reverse() : [...targets];
}

/** Runs `fileops create|stat|append DIR N` and turns its JSON line into a measure. */
async function fileops(tools: Tools, op: "create" | "stat" | "append", dir: string, n: number): Promise<Measure> {
  const t0 = performance.now();
  const r = await run(tools.fileops, [op, dir, String(n)]);
  const wall = (performance.now() - t0) / 1000;
  if (r.code !== 0) throw new BenchError(`fileops ${op} in ${dir} failed: ${lastLines(r.stderr)}`);
  const j = JSON.parse(r.stdout.trim());
  return {
    value: j.count / j.seconds,
    seconds: j.seconds,
    detail: {
      count: j.count,
      latP50Us: j.p50_us,
      latP99Us: j.p99_us,
      maxUs: j.max_us,
      processSeconds: wall,
      ...(op !== "stat" && typeof j.sync_us === "number" ? { syncUs: j.sync_us } : {}),
    },
  };
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Runs the benchmark. Never leaves a mount behind: targets are unmounted in
 * a `finally` and on SIGINT/SIGTERM.
 * @throws BenchError when nothing can be measured (no target available)
 */
export async function runBench(o: BenchOptions): Promise<BenchReport> {
  const log = o.log ?? (() => {});
  // vexfs-nostats only when asked for: it measures the counters' cost (docs/MONITORING.md)
  const targetsWanted = TARGET_IDS.filter((t) => o.targets ? o.targets.includes(t) : t !== "vexfs-nostats");
  const workloads = WORKLOAD_IDS.filter((w) => !o.workloads || o.workloads.includes(w));
  const sizeBytes = o.sizeBytes ?? DEFAULT_SIZE;
  const repeat = Math.max(1, o.repeat ?? 3);
  if (sizeBytes < SEQ_BS || sizeBytes % RAND_BS) {
    throw new BenchError(`size must be at least 1 MiB and a multiple of 4 KiB, got ${sizeBytes} bytes`);
  }
  const settings: Settings = {
    sizeBytes,
    files: o.files ?? DEFAULT_FILES,
    appends: o.appends ?? DEFAULT_APPENDS,
    vectors: o.vectors ?? DEFAULT_VECTORS,
    queries: o.queries ?? 778,
    k: o.k ?? 10,
    searchDocs: 0,
    randRuntimeS: o.randRuntimeS ?? 10,
    repeat,
    targets: targetsWanted,
    workloads,
  };
  const needFio = workloads.some((w) => w.startsWith("seq-") || w === "rand-read");
  if (needFio && !which("fio")) {
    throw new BenchError("fio not found: apt-get install fio (or: bash scripts/bootstrap.sh bench)");
  }
  const parent = o.parentDir ?? "/var/tmp";
  const root = await Deno.makeTempDir({ dir: parent, prefix: "vexfs-bench-" });
  log(`work directory ${root}`);
  const machine = await machineInfo(root, o.version);
  if (/tmpfs|ramfs/.test(machine.filesystem)) {
    log(`warning: ${root} is on ${machine.filesystem}: that is memory, not a disk; choose --dir on a disk`);
  }
  const report: BenchReport = {
    machine,
    settings,
    targets: {
      disk: { available: false, reason: "not requested" },
      passthrough_ll: { available: false, reason: "not requested" },
      vexfs: { available: false, reason: "not requested" },
      "vexfs-nojournal": { available: false, reason: "not requested" },
      "vexfs-nostats": { available: false, reason: "not requested" },
    },
    results: {},
    cachesDropped: true,
    notes: [],
    build: [],
    command: o.command,
  };
  const note = (s: string) => {
    if (!report.notes.includes(s)) report.notes.push(s);
    log(s);
  };
  const loadBefore = loadAverage();

  const targets: Target[] = [];
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    stopping ??= (async () => {
      for (const t of [...targets].reverse()) {
        try {
          await t.stop();
        } catch (e) {
          note(`stopping ${t.id}: ${errText(e)}`);
        }
      }
      if (o.keep) return;
      // never remove recursively through a mount that is still there
      const left = mounts().filter((m) => m.mountPoint.startsWith(root + "/"));
      if (left.length) {
        note(`not removing ${root}: still mounted: ${left.map((m) => m.mountPoint).join(", ")}`);
      } else await Deno.remove(root, { recursive: true }).catch(() => {});
    })();
  const onSignal = () => {
    log("interrupted: unmounting and cleaning up");
    stopAll().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    // ---------------------------------------------------------------- targets
    let tools: Tools | undefined;
    let buildError = "";
    const needTools = targetsWanted.includes("passthrough_ll") ||
      workloads.some((w) => w === "create" || w === "stat" || w === "append");
    if (needTools) {
      log("building passthrough_ll and fileops (cached)");
      try {
        tools = await buildTools(o.buildDir);
        report.build = tools.commands;
      } catch (e) {
        buildError = errText(e);
        note(`cannot build the helpers, so no passthrough_ll and no create/stat: ${buildError}`);
      }
    }
    /** The built helpers, or the build error. */
    const needBuilt = (): Tools => {
      if (!tools) throw new BenchError(buildError);
      return tools;
    };
    for (const id of targetsWanted) {
      try {
        let t: Target;
        if (id === "disk") t = await startDisk(root);
        else if (id === "passthrough_ll") t = await startPassthrough(root, needBuilt().passthroughLl);
        else {
          const av = await vexfsMountAvailable();
          if (!av.ok) throw new BenchError(av.reason);
          const image = sizeBytes + 2 ** 30 + (settings.files + settings.vectors) * 8192;
          t = await startVexfs(root, image, Math.floor(image / 16384) + settings.files + settings.vectors, id);
        }
        targets.push(t);
        report.targets[id] = { available: true, description: t.description };
        log(`${id}: ${t.description}`);
        for (const n of t.notes ?? []) note(`${id}: ${n}`);
      } catch (e) {
        report.targets[id] = { available: false, reason: errText(e) };
        log(`${id}: not available: ${errText(e)}`);
      }
    }
    if (!targets.length) throw new BenchError("no target could be set up (see the messages above)");
    const tck = await clockTicks();
    const meters = new Map(targets.map((t) => [t.id, new CpuMeter(t.serverPids, tck)]));

    const cold = async () => {
      const d = await dropCaches();
      if (!d.ok) {
        report.cachesDropped = false;
        note(`${d.reason}; "cold cache" workloads ran with whatever the kernel had cached`);
      }
    };
    const seqFile = (t: Target) => `${t.dir}/seq.dat`;
    const written = new Set<TargetId>();
    const created = new Set<string>();
    const tmp = `${root}/fio-out`;
    await Deno.mkdir(tmp);

    /** Samples planned and taken, for the count, rate and ETA in the log (one sample per measure). */
    const planned = workloads.filter((w) => w !== "search")
      .reduce(
        (n, w) => n + repeat * (w === "vectors" ? targets.filter((t) => isVexfs(t.id)).length : targets.length),
        0,
      );
    let taken = 0;
    const sampling = performance.now();
    /** "[3/24 samples, ETA 5 min]": where the run is, and the time left at the pace so far */
    const pace = () => {
      const ms = performance.now() - sampling;
      const left = planned > taken && taken > 0 ? `, ETA ${formatDuration((ms / taken) * (planned - taken))}` : "";
      return `[${taken}/${planned} samples${left}]`;
    };
    /** Samples of each workload on each target, finished into report.results by {@linkcode finish}. */
    const samples = new Map<string, { ok: Measure[]; errors: string[] }>();
    /** Runs `fn` on `t` as one sample of workload `w`, with the server's CPU use. */
    const measure = async (w: WorkloadId, t: Target, rep: number, fn: () => Promise<Measure>) => {
      const key = `${w}/${t.id}`;
      const bag = samples.get(key) ?? { ok: [], errors: [] };
      samples.set(key, bag);
      const meter = meters.get(t.id)!;
      const tag = `${w} on ${t.id}${repeat > 1 ? ` (run ${rep + 1}/${repeat})` : ""}`;
      log(`${tag} ...`);
      try {
        meter.start();
        const m = await fn();
        const cpu = meter.stop();
        if (cpu !== undefined && t.serverPids.length) m.serverCpu = cpu;
        bag.ok.push(m);
        taken++;
        log(`${tag}: ${m.value.toFixed(1)} in ${formatDuration(m.seconds * 1000)} ${pace()}`);
      } catch (e) {
        bag.errors.push(errText(e));
        taken++;
        log(`${tag} failed: ${errText(e)} ${pace()}`);
      }
    };
    /** Records a failure that prevented a sample. */
    const fail = (w: WorkloadId, t: Target, reason: string) => {
      const key = `${w}/${t.id}`;
      const bag = samples.get(key) ?? { ok: [], errors: [] };
      samples.set(key, bag);
      bag.errors.push(reason);
    };
    /** The median sample of each workload and target becomes the result. */
    const finish = (w: WorkloadId) => {
      const res = report.results[w] ??= {};
      for (const t of targets) {
        const bag = samples.get(`${w}/${t.id}`);
        if (!bag) continue;
        const m = medianSample(bag.ok);
        if (m) {
          res[t.id] = { ok: true, m };
          if (bag.errors.length) note(`${w} on ${t.id}: ${bag.errors.length} run(s) failed: ${bag.errors[0]}`);
        } else res[t.id] = { ok: false, reason: bag.errors[0] ?? "not run" } as Cell;
      }
    };
    const fioMeasure = async (job: Parameters<typeof runFio>[0], unit: "MB/s" | "IOPS") => {
      const f = await runFio(job, tmp);
      return {
        value: unit === "MB/s" ? f.bytesPerS / 1e6 : f.iops,
        seconds: f.runtimeMs / 1000,
        clientCpu: (f.usrCpuPct + f.sysCpuPct) / 100,
        detail: {
          bytes: f.bytes,
          ios: f.ios,
          latMeanUs: f.latMeanUs,
          ...(f.latP50Us !== undefined ? { latP50Us: f.latP50Us } : {}),
          ...(f.latP99Us !== undefined ? { latP99Us: f.latP99Us } : {}),
          ...(unit === "IOPS" ? { mbPerS: f.bytesPerS / 1e6 } : { iops: f.iops }),
        },
      } satisfies Measure;
    };
    const writeJob = (t: Target) => ({
      name: `seq-write-${t.id}`,
      filename: seqFile(t),
      rw: "write" as const,
      bs: SEQ_BS,
      size: sizeBytes,
      endFsync: true,
    });
    /** Lays out the sequential file (untimed) when seq-write was not run. */
    const ensureFile = async (t: Target) => {
      if (written.has(t.id)) return;
      log(`writing ${seqFile(t)} first (untimed)`);
      await runFio(writeJob(t), tmp);
      written.add(t.id);
    };
    const filesDir = (t: Target, rep: number) => `${t.dir}/files${rep}`;
    /** The JSONL file of the `vectors` workload (written once, untimed, outside the targets). */
    let vectorsFile: string | undefined;
    const ensureVectorsFile = async () => {
      if (vectorsFile) return vectorsFile;
      const f = `${root}/vectors.jsonl`;
      log(`writing ${settings.vectors} seeded ${VECTOR_DIM}-d vectors to ${f} (untimed)`);
      await writeVectorJsonl(f, settings.vectors, VECTOR_DIM, VECTOR_SEED);
      return vectorsFile = f;
    };

    // ---------------------------------------------------------------- workloads
    for (const w of workloads) {
      if (w === "search") continue;
      for (let rep = 0; rep < repeat; rep++) {
        for (const t of runOrder(targets, rep)) {
          if (w === "seq-write") {
            await Deno.remove(seqFile(t)).catch(() => {});
            await cold();
            await measure(w, t, rep, async () => {
              const m = await fioMeasure(writeJob(t), "MB/s");
              written.add(t.id);
              return m;
            });
          } else if (w === "seq-read" || w === "rand-read") {
            try {
              await ensureFile(t);
            } catch (e) {
              fail(w, t, `no file to read: ${errText(e)}`);
              continue;
            }
            await cold();
            await measure(
              w,
              t,
              rep,
              () =>
                w === "seq-read"
                  ? fioMeasure({
                    name: `seq-read-${t.id}`,
                    filename: seqFile(t),
                    rw: "read",
                    bs: SEQ_BS,
                    size: sizeBytes,
                  }, "MB/s")
                  : fioMeasure({
                    name: `rand-read-${t.id}`,
                    filename: seqFile(t),
                    rw: "randread",
                    bs: RAND_BS,
                    size: sizeBytes,
                    runtimeS: settings.randRuntimeS,
                    numberIos: sizeBytes / RAND_BS,
                  }, "IOPS"),
            );
          } else if (w === "create") {
            const dir = filesDir(t, rep);
            await Deno.mkdir(dir);
            await cold();
            await measure(w, t, rep, async () => {
              const m = await fileops(needBuilt(), "create", dir, settings.files);
              created.add(`${t.id}/${rep}`);
              return m;
            });
          } else if (w === "stat") {
            const dir = filesDir(t, rep);
            if (!created.has(`${t.id}/${rep}`)) {
              try {
                await Deno.mkdir(dir, { recursive: true });
                log(`creating ${settings.files} files in ${dir} first (untimed)`);
                await fileops(needBuilt(), "create", dir, settings.files);
                created.add(`${t.id}/${rep}`);
              } catch (e) {
                fail(w, t, `no files to stat: ${errText(e)}`);
                continue;
              }
            }
            await cold();
            await measure(w, t, rep, () => fileops(needBuilt(), "stat", dir, settings.files));
          } else if (w === "append") {
            const dir = `${t.dir}/append${rep}`;
            await Deno.mkdir(dir);
            await cold();
            await measure(w, t, rep, () => fileops(needBuilt(), "append", dir, settings.appends!));
          } else if (w === "vectors") {
            if (!isVexfs(t.id)) {
              if (rep === 0) fail(w, t, "no vector ioctls");
              continue;
            }
            let jsonl: string;
            try {
              jsonl = await ensureVectorsFile();
            } catch (e) {
              fail(w, t, `cannot write the vectors: ${errText(e)}`);
              continue;
            }
            const dir = `${t.dir}/vec${rep}`;
            await Deno.mkdir(dir);
            await cold();
            await measure(w, t, rep, () => importVectors(dir, jsonl, settings.vectors, VECTOR_DIM));
          }
        }
      }
      finish(w);
    }

    // ---------------------------------------------------------------- search
    if (workloads.includes("search")) {
      const { dim, docs } = await fioriDocs();
      settings.searchDocs = docs.length;
      log(`search floor: brute force over ${docs.length} ${dim}-d vectors in this process`);
      report.bruteForce = bruteForceLatency(docs, dim, settings.queries, settings.k);
      const res = report.results.search ??= {};
      for (const id of ["disk", "passthrough_ll"] as const) {
        if (targetsWanted.includes(id)) res[id] = { ok: false, reason: "no search ioctl" };
      }
      const vx = targets.find((t) => t.id === "vexfs");
      if (!targetsWanted.includes("vexfs")) {
        report.search = { ok: false, reason: "VexFS not requested" };
      } else if (!vx) {
        report.search = { ok: false, reason: "VexFS not mounted" };
        res.vexfs = { ok: false, reason: report.targets.vexfs.reason ?? "VexFS not mounted" };
      } else {
        try {
          const client = await loadIoctlClient();
          const meter = meters.get("vexfs")!;
          log(`search: loading ${docs.length} documents into ${vx.dir}/docs`);
          meter.start();
          const r = await searchBench(client, `${vx.dir}/docs`, {
            queries: settings.queries,
            k: settings.k,
            onProgress: log,
          });
          const cpu = meter.stop();
          report.search = { ok: true, r };
          res.vexfs = {
            ok: true,
            m: {
              value: r.ioctl.medianUs,
              seconds: r.ioctl.meanUs * r.ioctl.count / 1e6,
              ...(cpu !== undefined ? { serverCpu: cpu } : {}),
              detail: {
                latP99Us: r.ioctl.p99Us,
                latMeanUs: r.ioctl.meanUs,
                queries: r.ioctl.count,
                agreeing: r.agreeing,
              },
            },
          };
          log(`search on vexfs: median ${r.ioctl.medianUs.toFixed(1)} µs, p99 ${r.ioctl.p99Us.toFixed(1)} µs`);
          if (r.agreeing !== r.ioctl.count) {
            note(`search: only ${r.agreeing} of ${r.ioctl.count} VexFS answers equal the brute force`);
          }
        } catch (e) {
          report.search = { ok: false, reason: errText(e) };
          res.vexfs = { ok: false, reason: errText(e) };
          log(`search on vexfs failed: ${errText(e)}`);
        }
      }
      if (settings.queries < 200) note(`only ${settings.queries} search queries timed (the benchmark asks for ≥ 200)`);
    }
    const loadAfter = loadAverage();
    if (loadBefore !== undefined && loadAfter !== undefined) {
      report.notes.push(
        `load average (1 min): ${loadBefore.toFixed(2)} before the run, ${loadAfter.toFixed(2)} at its end` +
          (loadBefore > 0.5 ? ` (other work was running on this ${navigator.hardwareConcurrency}-CPU machine)` : ""),
      );
    }
  } finally {
    log("unmounting");
    await stopAll();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    if (o.keep) log(`kept ${root}`);
  }
  return report;
}
