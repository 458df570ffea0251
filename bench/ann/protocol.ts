/**
 * What the harness of `vexfs bench vectors` (bench/ann/run.ts) and the
 * processes that run each system exchange, through files: a job (JSON) in,
 * a result (JSON) and one ids file per sweep point out. The peers' runner
 * (peer_runner.mjs, plain JavaScript for node) follows the same shapes.
 * @module
 */

/** Metrics, as VexFS names them (FORMAT.md §8.4). */
export type Metric = "l2" | "cosine" | "ip";

/**
 * The systems compared, each a line of the plot:
 * - `hnswlib`: hnswlib-node (npm), its own process under node;
 * - `usearch`: usearch (npm), its own process under node;
 * - `vexfs`: the VexFS engine in-process on an image (`Vexfs.open`,
 *   `fs.collections.search(dir, q, k, { ef })`), a Deno process;
 * - `vexfs-mount`: VexFS through a real `vexfs mount`, queries through the
 *   search ioctl from another process;
 * - `vexfs-exact`: the engine's exact scan (`{ exact: true }`), in the `vexfs` process;
 * - `brute-c`: a C brute force (gcc -O3 -march=native), the floor of an exact scan.
 */
export const SYSTEM_IDS = ["hnswlib", "usearch", "vexfs", "vexfs-mount", "vexfs-exact", "brute-c"] as const;
/** One of {@linkcode SYSTEM_IDS}. */
export type SystemId = typeof SYSTEM_IDS[number];

/** Names in tables and plots. */
export const SYSTEM_LABELS: Record<SystemId, string> = {
  hnswlib: "hnswlib-node",
  usearch: "usearch",
  vexfs: "VexFS (library)",
  "vexfs-mount": "VexFS (mount, ioctl)",
  "vexfs-exact": "VexFS exact scan",
  "brute-c": "C brute force -O3",
};

/** The dataset as a runner sees it: raw little-endian f32 rows in two files. */
export interface JobDataset {
  id: string;
  dim: number;
  metric: Metric;
  /** rows of `base` */
  n: number;
  /** rows of `queries` */
  nq: number;
  base: string;
  queries: string;
}

/** What a runner is asked to do. */
export interface Job {
  system: SystemId;
  dataset: JobDataset;
  /** neighbours per query */
  k: number;
  /** HNSW M */
  m: number;
  /** HNSW efConstruction */
  efConstruction: number;
  /** the ef sweep */
  efs: number[];
  /** passes over the queries per ef; the fastest is kept */
  runs: number;
  /** no further pass once one took longer than this */
  maxPassSeconds: number;
  /** where the system may keep its files (index, image) */
  workDir: string;
  /** the result JSON; ids files are `${out}.${i}.ids` */
  out: string;
  /** VexFS: the image the library builds (and the mount then serves) */
  image?: string;
  /** VexFS: the directory searched, a path inside the image (library) or on the mount (ioctl) */
  dir?: string;
  /** VexFS: the ids file mapping row → inode, written by the library runner, read by the mount runner */
  inodes?: string;
  /** VexFS: also time the exact scan (`vexfs-exact`) */
  exact?: boolean;
  /** VexFS mount: the ef a search without one uses (the collection's default) */
  mountDefaultEf?: number;
  /** VexFS mount: the library answered exactly whatever the ef; measure one point */
  exactOnly?: boolean;
  /** the version of the program running the benchmark */
  version?: string;
  /** queries run untimed before the first timed pass (default 50) */
  warmup?: number;
  /**
   * After job.efs, keep going up this ladder of ef while the overlap recall
   * (|found ∩ true top k| / k, against the ground truth ids file) of the last
   * point is below `recall`: a hard dataset then still gets a point above the
   * target recall
   */
  extend?: { gtIds: string; gtK: number; recall: number; efs: number[] };
  /** VexFS library: profile the build (V8's sampling profiler) */
  profile?: boolean;
  /** VexFS library: no build; search the existing image at this ef only (null: exact), profiled */
  searchOnly?: { ef: number | null };
}

/** One point of a sweep as a runner reports it (recall is the harness's job). */
export interface RunnerSweep {
  /** the system this point belongs to (the `vexfs` runner also reports `vexfs-exact`) */
  label: SystemId;
  /** ef asked for; null for an exact scan */
  ef: number | null;
  /** how the engine answered ("hnsw", "exact"), when it says */
  method?: string;
  /** why it did so, when it says */
  reason?: string;
  /** seconds of each pass over the queries */
  passes: number[];
  /** per-query latency of the kept (fastest) pass, µs */
  latenciesUs: number[];
  /** CPU seconds (user + system) of the process during the kept pass, when they mean something */
  cpuSeconds?: number;
  /** nq * k little-endian i32 row numbers, -1 for none */
  idsFile: string;
}

/** What a runner writes to `job.out`. */
export interface RunnerResult {
  system: SystemId;
  /** runtime and version, e.g. "node 20.20.2" */
  runtime: string;
  /** the system's own version */
  version: string;
  /** seconds to build the index from the vectors in memory (VexFS: the whole import) */
  buildSeconds: number;
  /** CPU seconds (user + system) of the build */
  buildCpuSeconds?: number;
  /** named parts of the build or load, seconds */
  phases?: Record<string, number>;
  /** bytes of the saved index (vectors included), null when unknown */
  indexBytes: number | null;
  /** what `indexBytes` counts, when it needs saying */
  indexBytesNote?: string;
  /** RSS once the dataset was loaded, before the build */
  baseRssBytes: number;
  /** RSS high-water mark (VmHWM) after the build and the first ef's queries */
  peakRssBytes: number;
  /** VmHWM at the end */
  finalPeakRssBytes?: number;
  /** VexFS: VmHWM right after the build (before the image is opened again) */
  buildPeakRssBytes?: number;
  /** VexFS: VmRSS while searching (after the sweep), the build's memory given back or not */
  searchRssBytes?: number;
  /** seconds until the first answer of a freshly opened index, when measured */
  loadSeconds?: number;
  sweeps: RunnerSweep[];
  notes: string[];
  /** VexFS library: the ef a search without one uses */
  defaultEf?: number;
  /** VexFS mount: median µs of a call that does no search (open + FS_INFO ioctl + close), the floor of each query */
  ioctlFloorUs?: number;
  /** CPU profiles written (`build`, `search`): their files */
  profiles?: Record<string, string>;
}

/** Reads a raw little-endian f32 file (aligned copy). */
export async function readF32(path: string): Promise<Float32Array> {
  const b = await Deno.readFile(path);
  const out = new Float32Array(b.length >>> 2);
  new Uint8Array(out.buffer).set(b.subarray(0, out.length * 4));
  return out;
}

/** Reads a raw little-endian i32 file. */
export async function readI32(path: string): Promise<Int32Array> {
  const b = await Deno.readFile(path);
  const out = new Int32Array(b.length >>> 2);
  new Uint8Array(out.buffer).set(b.subarray(0, out.length * 4));
  return out;
}

/** Reads a raw little-endian f64 file. */
export async function readF64(path: string): Promise<Float64Array> {
  const b = await Deno.readFile(path);
  const out = new Float64Array(b.length >>> 3);
  new Uint8Array(out.buffer).set(b.subarray(0, out.length * 8));
  return out;
}

/** Writes a typed array's bytes (little-endian on every machine this runs on). */
export async function writeTyped(path: string, a: ArrayBufferView): Promise<void> {
  await Deno.writeFile(path, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
}

/** `VmHWM` and `VmRSS` of a /proc/PID/status text, in bytes (0 when absent). */
export function parseProcMemory(status: string): { peak: number; rss: number } {
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s*(\\d+)`, "m").exec(status)?.[1] ?? "0") * 1024;
  return { peak: kb("VmHWM"), rss: kb("VmRSS") };
}

/** VmHWM and VmRSS of process `pid` (default this one), bytes; undefined when it is gone. */
export function processMemory(pid: number | "self" = "self"): { peak: number; rss: number } | undefined {
  try {
    return parseProcMemory(Deno.readTextFileSync(`/proc/${pid}/status`));
  } catch {
    return undefined;
  }
}

/** |found ∩ true top k| / k over the queries (the stopping rule of {@linkcode Job.extend}). */
export function overlapRecall(ids: Int32Array, gtIds: Int32Array, k: number, gtK: number, nq: number): number {
  let hit = 0;
  for (let q = 0; q < nq; q++) {
    const truth = new Set<number>();
    for (let j = 0; j < k; j++) truth.add(gtIds[q * gtK + j]);
    for (let j = 0; j < k; j++) if (truth.has(ids[q * k + j])) hit++;
  }
  return nq ? hit / (nq * k) : 0;
}

/** The ef values to measure: job.efs, then (while `below(lastIds)` says so) the extension ladder. */
export function* efSequence(job: Job, below: () => boolean): Generator<number> {
  let last = 0;
  for (const ef of job.efs) {
    last = ef;
    yield ef;
  }
  for (const ef of job.extend?.efs ?? []) {
    if (ef <= last) continue;
    if (!below()) return;
    last = ef;
    yield ef;
  }
}
