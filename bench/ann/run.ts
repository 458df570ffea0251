/**
 * One run of `vexfs bench vectors`: for every dataset, its files and exact
 * ground truth (bench/ann/datasets.ts), then every system in its own
 * process, one after the other (never two at once):
 *
 * 1. `brute-c`: the C brute force (bench/ann/brute.c, gcc -O3 -march=native);
 * 2. `hnswlib`, `usearch`: bench/ann/peer_runner.mjs under node;
 * 3. `vexfs` (+ `vexfs-exact`): bench/ann/vexfs_runner.ts under Deno, which
 *    builds the image and searches it through the engine;
 * 4. `vexfs-mount`: that image mounted with `vexfs mount`, searched through the
 *    ioctl by bench/ann/vexfs_runner.ts; the daemon's VmHWM is its memory.
 *
 * Each runner writes the rows it found; recall is computed here against the
 * ground truth (bench/ann/metrics.ts).
 * @module
 */
import { defaultBuildDir } from "../build.ts";
import { BenchError, lastLines, REPO_DIR, run, which } from "../exec.ts";
import { loadAverage, type MachineInfo, machineInfo } from "../system.ts";
import { mountVexfs } from "../targets.ts";
import { type DatasetId, datasetSpec, DEFAULT_SEED, prepareDataset, type PreparedDataset } from "./datasets.ts";
import { bestAtRecall, distance, idRecall, norm, pointFromLatencies, recallAtK, type SweepPoint } from "./metrics.ts";
import { buildBrute } from "./native.ts";
import { type CpuProfile, type ProfileSummary, summarizeProfile } from "./profile.ts";
import {
  type Job,
  processMemory,
  readF64,
  readI32,
  type RunnerResult,
  SYSTEM_IDS,
  SYSTEM_LABELS,
  type SystemId,
} from "./protocol.ts";

/** The default ef sweep (ann-benchmarks' hnswlib sweep up to 800). */
export const DEFAULT_EFS: readonly number[] = [10, 20, 40, 80, 120, 200, 400, 800];
/**
 * Beyond the sweep: while a system's last point finds fewer than this share
 * of the true top k, it goes on up {@linkcode EXTEND_EFS} (uniform random
 * vectors need an ef in the thousands for recall 0.95 at M 16).
 */
export const EXTEND_RECALL = 0.97;
/** The ef ladder after the sweep. */
export const EXTEND_EFS: readonly number[] = [1200, 1600, 2400, 3200, 4800, 6400];
/** Default HNSW M and efConstruction (hnswlib's examples, and VexFS's defaults). */
export const DEFAULT_M = 16;
export const DEFAULT_EF_CONSTRUCTION = 200;

/** Options of {@linkcode runVectorsBench}. */
export interface VectorsBenchOptions {
  datasets: DatasetId[];
  systems: SystemId[];
  k: number;
  m: number;
  efConstruction: number;
  efs: number[];
  /** passes over the queries per point (the fastest is kept) */
  runs: number;
  /** no further pass once one took longer than this */
  maxPassSeconds: number;
  /** at most this many queries per dataset */
  queries: number;
  seed: number;
  /** the work directory is made below this (images, indexes) */
  parentDir: string;
  /** datasets and ground truth (default bench/.cache) */
  cacheDir?: string;
  /** the C brute force's build (default bench/.build) */
  buildDir?: string;
  keep?: boolean;
  /** go up {@linkcode EXTEND_EFS} while recall is below {@linkcode EXTEND_RECALL} (default true) */
  extend?: boolean;
  /** profile VexFS's build and its search at its best ef (bench/ann/profile.ts) */
  profile?: boolean;
  version: string;
  command: string;
  log: (line: string) => void;
}

/** One system on one dataset. */
export interface SystemReport {
  system: SystemId;
  label: string;
  available: boolean;
  /** why it was not measured */
  reason?: string;
  runtime?: string;
  version?: string;
  buildSeconds?: number;
  /** CPU seconds of the build */
  buildCpuSeconds?: number;
  phases?: Record<string, number>;
  indexBytes?: number | null;
  indexBytesNote?: string;
  /** RSS high-water mark of the process that holds the index (the daemon for the mount) */
  peakRssBytes?: number;
  /** RSS of that process with the dataset loaded, before the build */
  baseRssBytes?: number;
  /** VexFS: VmHWM right after the build; VmRSS while searching */
  buildPeakRssBytes?: number;
  searchRssBytes?: number;
  /** seconds to the first answer of a freshly opened index */
  loadSeconds?: number;
  /** the mount: median µs of an ioctl call with no search (open + FS_INFO + close) */
  ioctlFloorUs?: number;
  points: SweepPoint[];
  /** id-overlap recall of each point (same order) */
  idRecalls?: number[];
  notes: string[];
  /** where the time went (`--profile`): the build, and the search at `searchEf` */
  profile?: { build?: ProfileSummary; search?: ProfileSummary; searchEf?: number | null };
}

/** One dataset's results. */
export interface DatasetReport {
  id: DatasetId;
  title: string;
  dim: number;
  metric: string;
  n: number;
  nq: number;
  hash: string;
  /** seconds the ground truth took, 0 when cached */
  gtSeconds: number;
  systems: SystemReport[];
}

/** A whole run (the `--json` output). */
export interface VectorsReport {
  date: string;
  command: string;
  machine: MachineInfo;
  settings: {
    /** the overlap recall below which the sweep went on up the ef ladder */
    extendRecall?: number;
    k: number;
    m: number;
    efConstruction: number;
    efs: number[];
    runs: number;
    maxPassSeconds: number;
    queries: number;
    seed: number;
    bruteCommand?: string;
  };
  datasets: DatasetReport[];
  notes: string[];
  seconds: number;
  /** 1-minute load average before and after the run */
  load?: { before?: number; after?: number };
}

/** Spawns a runner and waits; its stderr lines go to `log`. */
async function spawnRunner(
  cmd: string,
  args: string[],
  log: (s: string) => void,
  prefix: string,
): Promise<{ code: number; tail: string; stdout: string }> {
  const child = new Deno.Command(cmd, { args, cwd: REPO_DIR, stdin: "null", stdout: "piped", stderr: "piped" })
    .spawn();
  const lines: string[] = [];
  let stdout = "";
  const dec = new TextDecoder();
  const pump = async (s: ReadableStream<Uint8Array>, show: boolean) => {
    let buf = "";
    for await (const ch of s) {
      buf += dec.decode(ch, { stream: true });
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        if (lines.length > 50) lines.shift();
        if (show) log(`${prefix}${line}`);
        else stdout += line + "\n";
      }
    }
    if (buf) lines.push(buf);
  };
  const [st] = await Promise.all([child.status, pump(child.stdout, false), pump(child.stderr, true)]);
  return { code: st.code, tail: lastLines(lines.join("\n"), 4), stdout };
}

/** The recall of each sweep of a runner's result against the dataset's ground truth. */
export async function scoreSweeps(
  d: PreparedDataset,
  k: number,
  r: RunnerResult,
  dist: (q: number, row: number) => number,
): Promise<Map<SystemId, { points: SweepPoint[]; idRecalls: number[] }>> {
  const out = new Map<SystemId, { points: SweepPoint[]; idRecalls: number[] }>();
  for (const s of r.sweeps) {
    const ids = await readI32(s.idsFile);
    const recall = recallAtK({ k, nq: d.spec.nq, ids, gtDist: d.gtDist, gtK: d.gtK, dist });
    const e = out.get(s.label) ?? { points: [], idRecalls: [] };
    e.points.push(pointFromLatencies(s.ef, recall, s.latenciesUs, s.method, s.cpuSeconds));
    e.idRecalls.push(idRecall(ids, d.gtIds, k, d.gtK, d.spec.nq));
    out.set(s.label, e);
  }
  return out;
}

/** A distance function over the prepared dataset (norms precomputed for cosine). */
export function datasetDistance(d: PreparedDataset): (q: number, row: number) => number {
  const { dim, metric, n, nq } = d.spec;
  let bn: Float64Array | undefined, qn: Float64Array | undefined;
  if (metric === "cosine") {
    bn = new Float64Array(n);
    for (let i = 0; i < n; i++) bn[i] = norm(d.base, i * dim, dim);
    qn = new Float64Array(nq);
    for (let i = 0; i < nq; i++) qn[i] = norm(d.queries, i * dim, dim);
  }
  return (q, row) => distance(metric, d.queries, q * dim, d.base, row * dim, dim, qn?.[q], bn?.[row]);
}

function unavailable(system: SystemId, reason: string): SystemReport {
  return { system, label: SYSTEM_LABELS[system], available: false, reason, points: [], notes: [] };
}

/** Whether FUSE mounts can work here (fusermount3 and /dev/fuse). */
function fuseReason(): string | undefined {
  if (!which("fusermount3")) return "fusermount3 not found (apt-get install fuse3)";
  try {
    Deno.statSync("/dev/fuse");
  } catch {
    return "/dev/fuse is missing";
  }
  return undefined;
}

/** Runs the benchmark. */
export async function runVectorsBench(o: VectorsBenchOptions): Promise<VectorsReport> {
  const started = performance.now();
  const log = o.log;
  const cacheDir = o.cacheDir ?? `${REPO_DIR}/bench/.cache`;
  await Deno.mkdir(o.parentDir, { recursive: true });
  const work = await Deno.makeTempDir({ dir: o.parentDir, prefix: "vexfs-bench-vectors-" });
  const machine = await machineInfo(work, o.version);
  const notes: string[] = [];
  const node = which("node");
  if (!node) notes.push("node not found: the peers ran under Deno (which loads their Node-API addons)");
  else {
    const v = await run(node, ["--version"]).catch(() => undefined);
    if (v?.code === 0) machine.versions.node = v.stdout.trim();
  }
  log(`work directory ${work}`);
  const loadBefore = loadAverage();
  const brute = await buildBrute(o.buildDir ?? defaultBuildDir());
  const reports: DatasetReport[] = [];
  try {
    for (const id of o.datasets) {
      const spec = datasetSpec(id, o.seed, o.queries);
      const d = await prepareDataset(spec, cacheDir, brute.path, log);
      const dist = datasetDistance(d);
      const dir = `${work}/${id}`;
      await Deno.mkdir(dir, { recursive: true });
      const systems: SystemReport[] = [];
      const job = (system: SystemId, extra: Partial<Job> = {}): Job => ({
        system,
        dataset: d.files,
        k: o.k,
        m: o.m,
        efConstruction: o.efConstruction,
        efs: o.efs,
        runs: o.runs,
        maxPassSeconds: o.maxPassSeconds,
        workDir: dir,
        out: `${dir}/${system}.result.json`,
        version: o.version,
        ...(o.extend !== false
          ? { extend: { gtIds: d.gtIdsFile, gtK: d.gtK, recall: EXTEND_RECALL, efs: [...EXTEND_EFS] } }
          : {}),
        ...extra,
      });
      const runJob = async (j: Job, cmd: string, args: string[]): Promise<RunnerResult | string> => {
        await Deno.writeTextFile(`${dir}/${j.system}.job.json`, JSON.stringify(j, null, 1));
        const r = await spawnRunner(cmd, [...args, `${dir}/${j.system}.job.json`], log, `${id} ${j.system}: `);
        if (r.code !== 0) return `its runner failed (exit ${r.code}): ${r.tail}`;
        return JSON.parse(await Deno.readTextFile(j.out)) as RunnerResult;
      };
      const add = async (r: RunnerResult, extra: Partial<SystemReport> = {}) => {
        const scored = await scoreSweeps(d, o.k, r, dist);
        for (const [label, s] of scored) {
          const own = label === r.system;
          systems.push({
            system: label,
            label: SYSTEM_LABELS[label],
            available: true,
            runtime: r.runtime,
            version: r.version,
            ...(own
              ? {
                buildSeconds: r.buildSeconds,
                buildCpuSeconds: r.buildCpuSeconds,
                buildPeakRssBytes: r.buildPeakRssBytes,
                searchRssBytes: r.searchRssBytes,
                phases: r.phases,
                indexBytes: r.indexBytes,
                indexBytesNote: r.indexBytesNote,
                peakRssBytes: r.peakRssBytes,
                baseRssBytes: r.baseRssBytes,
                loadSeconds: r.loadSeconds,
                ioctlFloorUs: r.ioctlFloorUs,
              }
              : {}),
            points: s.points,
            idRecalls: s.idRecalls,
            notes: own ? r.notes : [],
            ...(own ? extra : {}),
          });
        }
      };
      const want = (s: SystemId) => o.systems.includes(s);

      // 1. the C brute force
      if (want("brute-c")) {
        log(`${id}: C brute force`);
        const ids = `${dir}/brute-c.0.ids`, lat = `${dir}/brute-c.lat`;
        const r = await spawnRunner(
          brute.path,
          [
            "scan",
            String(d.spec.dim),
            d.spec.metric,
            String(o.k),
            d.files.base,
            d.files.queries,
            ids,
            lat,
            String(o.runs),
            String(o.maxPassSeconds),
          ],
          log,
          `${id} brute-c: `,
        );
        if (r.code !== 0) systems.push(unavailable("brute-c", `brute failed (exit ${r.code}): ${r.tail}`));
        else {
          const lats = Array.from(await readF64(lat));
          let peakKb = 0, cpuSeconds: number | undefined;
          try {
            const out = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}");
            peakKb = out.peakKb ?? 0;
            cpuSeconds = out.cpuSeconds;
          } catch { /* no figure */ }
          await add({
            system: "brute-c",
            runtime: "native",
            version: brute.gcc,
            buildSeconds: 0,
            indexBytes: d.spec.n * d.spec.dim * 4,
            baseRssBytes: 0,
            peakRssBytes: peakKb * 1024,
            sweeps: [{ label: "brute-c", ef: null, passes: [], latenciesUs: lats, cpuSeconds, idsFile: ids }],
            notes: [brute.command],
          });
        }
      }
      // 2. the peers
      for (const peer of ["hnswlib", "usearch"] as const) {
        if (!want(peer)) continue;
        log(`${id}: ${peer}`);
        const [cmd, args] = node
          ? [node, [`${REPO_DIR}/bench/ann/peer_runner.mjs`]]
          : [Deno.execPath(), ["run", "-A", `${REPO_DIR}/bench/ann/peer_runner.mjs`]];
        const r = await runJob(job(peer), cmd, args);
        if (typeof r === "string") systems.push(unavailable(peer, r));
        else await add(r);
        await Deno.remove(`${dir}/${peer}.index`).catch(() => {});
      }
      // 3. VexFS, the library (and its exact scan)
      const image = `${dir}/vexfs.img`;
      const inodes = `${dir}/vexfs.inodes.i32`;
      let libraryExactOnly = false;
      let libraryEfs: number[] = o.efs;
      let mountDefaultEf: number | undefined;
      let built = false;
      if (want("vexfs") || want("vexfs-exact") || want("vexfs-mount")) {
        log(`${id}: VexFS library`);
        const j = job("vexfs", { image, inodes, dir: "/v", exact: want("vexfs-exact"), profile: o.profile });
        const denoArgs = ["run", "-A", "--config", `${REPO_DIR}/deno.json`, `${REPO_DIR}/bench/ann/vexfs_runner.ts`];
        const r = await runJob(j, Deno.execPath(), denoArgs);
        if (typeof r === "string") {
          systems.push(unavailable("vexfs", r));
        } else {
          built = true;
          libraryExactOnly = r.sweeps.filter((s) => s.label === "vexfs").every((s) => s.ef === null);
          libraryEfs = r.sweeps.filter((s) => s.label === "vexfs" && s.ef !== null).map((s) => s.ef!);
          mountDefaultEf = r.defaultEf;
          if (!want("vexfs")) r.sweeps = r.sweeps.filter((s) => s.label !== "vexfs");
          await add(r);
          const lib = systems.find((s) => s.system === "vexfs");
          if (o.profile && lib) {
            const summary = async (f?: string) =>
              f ? summarizeProfile(JSON.parse(await Deno.readTextFile(f)) as CpuProfile, REPO_DIR) : undefined;
            // the search alone, at the point reported: the best at recall >= 0.95, else the highest recall
            const at = bestAtRecall(lib.points) ?? [...lib.points].sort((a, b) => b.recall - a.recall)[0];
            lib.profile = { build: await summary(r.profiles?.build), searchEf: at?.ef ?? null };
            if (at) {
              log(`${id}: VexFS search under the profiler at ${at.ef === null ? "exact" : `ef ${at.ef}`}`);
              const pj = job("vexfs", { image, inodes, dir: "/v", searchOnly: { ef: at.ef } });
              pj.out = `${dir}/vexfs-profile.result.json`;
              const pr = await runJob(pj, Deno.execPath(), denoArgs);
              if (typeof pr === "string") lib.notes.push(`profiling the search failed: ${pr}`);
              else lib.profile.search = await summary(pr.profiles?.search);
            }
          }
        }
      }
      // 4. VexFS through a mount
      if (want("vexfs-mount")) {
        const why = !built ? "the library run that builds its image failed" : fuseReason();
        if (why) systems.push(unavailable("vexfs-mount", why));
        else {
          log(`${id}: VexFS through the mount`);
          const mnt = `${dir}/mnt`;
          let target;
          try {
            target = await mountVexfs(image, mnt, "vexfs");
          } catch (e) {
            systems.push(unavailable("vexfs-mount", e instanceof Error ? e.message : String(e)));
          }
          if (target) {
            try {
              // the efs the library measured (its sweep and extension)
              const j = job("vexfs-mount", {
                image,
                inodes,
                dir: `${mnt}/v`,
                exactOnly: libraryExactOnly,
                mountDefaultEf,
                efs: libraryEfs.length ? libraryEfs : o.efs,
                extend: undefined,
              });
              const r = await runJob(j, Deno.execPath(), [
                "run",
                "-A",
                "--config",
                `${REPO_DIR}/deno.json`,
                `${REPO_DIR}/bench/ann/vexfs_runner.ts`,
              ]);
              const mem = target.serverPids.map((p) => processMemory(p)).filter((m) => m !== undefined);
              if (typeof r === "string") systems.push(unavailable("vexfs-mount", r));
              else {
                r.peakRssBytes = mem.reduce((s, m) => s + m!.peak, 0);
                r.notes.push(`daemon pid ${target.serverPids.join(", ")}; ${target.description}`);
                await add(r);
              }
            } finally {
              await target.stop();
            }
          }
        }
      }
      if (!o.keep) {
        for (const f of [image, `${dir}/mnt`]) await Deno.remove(f, { recursive: true }).catch(() => {});
      }
      reports.push({
        id,
        title: d.spec.title,
        dim: d.spec.dim,
        metric: d.spec.metric,
        n: d.spec.n,
        nq: d.spec.nq,
        hash: d.hash,
        gtSeconds: d.gtSeconds,
        systems: SYSTEM_IDS.flatMap((s) => systems.filter((x) => x.system === s)),
      });
    }
  } finally {
    if (!o.keep) await Deno.remove(work, { recursive: true }).catch(() => {});
  }
  const loadAfter = loadAverage();
  if (loadBefore !== undefined && loadAfter !== undefined) {
    notes.push(
      `load average (1 min): ${loadBefore.toFixed(2)} before the run, ${loadAfter.toFixed(2)} at its end ` +
        `(${machine.cpus} CPUs; other work on the machine slows the wall clock, less the CPU time)`,
    );
  }
  for (const d of reports) {
    for (const s of d.systems) {
      const m = s.version && /^(hnswlib-node|usearch) (.+)$/.exec(s.version);
      if (m) machine.versions[m[1]] = m[2];
    }
  }
  return {
    date: machine.date,
    command: o.command,
    machine,
    settings: {
      extendRecall: o.extend !== false ? EXTEND_RECALL : undefined,
      k: o.k,
      m: o.m,
      efConstruction: o.efConstruction,
      efs: o.efs,
      runs: o.runs,
      maxPassSeconds: o.maxPassSeconds,
      queries: o.queries,
      seed: o.seed ?? DEFAULT_SEED,
      bruteCommand: brute.command,
    },
    datasets: reports,
    notes,
    seconds: (performance.now() - started) / 1000,
    load: { before: loadBefore, after: loadAfter },
  };
}

export { BenchError };
