/**
 * The `vectors` workload (VexFS targets only): importing `count` seeded
 * random vectors (128-d f32 by default) into a new collection on the mount
 * the way a user does it,
 *
 * ```sh
 * vexfs import MOUNT/vecN --jsonl vectors.jsonl --dim 128 --metric l2
 * ```
 *
 * which creates the collection, then for every record writes a small file
 * (its `text`) through the kernel and sets its vector with the SET_VECTOR
 * ioctl; then an fsync of the collection directory (the daemon commits), so
 * that the time includes making the import durable. The clock is the
 * import's own (`elapsed_ms` of its `--json` summary, which leaves out the
 * start-up of the `vexfs` process) plus the fsync, timed here.
 * @module
 */
import { BenchError, lastLines, run, selfArgv } from "./exec.ts";
import type { Measure } from "./report.ts";

/** Dimension of the imported vectors. */
export const VECTOR_DIM = 128;
/** Default number of vectors (the 10,000). */
export const DEFAULT_VECTORS = 10_000;
/** Seed of the vectors' random numbers. */
export const VECTOR_SEED = 0x5eed_7;

/** mulberry32: a small seeded generator of uniform numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** File name of record `i` in the collection: `v0000042.txt`. */
export function vectorFileName(i: number): string {
  return `v${String(i).padStart(7, "0")}.txt`;
}

/**
 * The JSONL lines of `count` records `{"path","text","vector"}`: uniform
 * f32 elements in [-1, 1) from {@linkcode mulberry32}(`seed`), printed with
 * 9 significant digits (enough to give back the same f32), one line each,
 * without line ends. The same arguments give the same lines.
 */
export function* vectorJsonlLines(count: number, dim: number, seed: number): Generator<string> {
  const rnd = mulberry32(seed);
  const el = new Array<string>(dim);
  for (let i = 0; i < count; i++) {
    for (let d = 0; d < dim; d++) el[d] = String(Number(Math.fround(rnd() * 2 - 1).toPrecision(9)));
    yield `{"path":"${vectorFileName(i)}","text":"vector ${i}\\n","vector":[${el.join(",")}]}`;
  }
}

/** Writes the records of {@linkcode vectorJsonlLines} to `file`. */
export async function writeVectorJsonl(file: string, count: number, dim: number, seed: number): Promise<void> {
  const enc = new TextEncoder();
  const f = await Deno.open(file, { write: true, create: true, truncate: true });
  try {
    const w = f.writable.getWriter();
    let batch: string[] = [];
    for (const line of vectorJsonlLines(count, dim, seed)) {
      batch.push(line);
      if (batch.length === 512) {
        await w.write(enc.encode(batch.join("\n") + "\n"));
        batch = [];
      }
    }
    if (batch.length) await w.write(enc.encode(batch.join("\n") + "\n"));
    await w.close();
  } catch (e) {
    try {
      f.close();
    } catch { /* closed by the stream */ }
    throw e;
  }
}

/** The fields of `vexfs import --json` that the benchmark reads. */
export interface ImportJson {
  files: number;
  vectors: number;
  /** milliseconds */
  elapsed_ms: number;
  collection: { dim: number; metric: string; vectors: number } | null;
}

/**
 * Reads the summary that `vexfs import --json` prints (the last JSON object
 * of its standard output).
 * @throws BenchError when it is not such a summary
 */
export function parseImportJson(stdout: string): ImportJson {
  const start = stdout.indexOf("{");
  let j: Record<string, unknown>;
  try {
    if (start < 0) throw new Error("no JSON object");
    j = JSON.parse(stdout.slice(start));
  } catch (e) {
    throw new BenchError(`vexfs import --json printed no summary (${e instanceof Error ? e.message : e})`);
  }
  for (const k of ["files", "vectors", "elapsed_ms"]) {
    if (typeof j[k] !== "number" || !Number.isFinite(j[k])) throw new BenchError(`vexfs import --json: no "${k}"`);
  }
  return j as unknown as ImportJson;
}

/** Opens directory `dir` and fsyncs it (FSYNCDIR: the VexFS daemon commits). */
export async function fsyncDir(dir: string): Promise<void> {
  const f = await Deno.open(dir, { read: true });
  try {
    await f.sync();
  } finally {
    f.close();
  }
}

/**
 * Imports `count` vectors from `jsonl` into the new directory `dir` (on a
 * VexFS mount) with `vexfs import`, fsyncs `dir`, and checks that the
 * collection holds `count` vectors of `dim` dimensions.
 * @returns vectors per second over the import's own time plus the fsync
 * @throws BenchError when the import fails or the collection is not as expected
 */
export async function importVectors(dir: string, jsonl: string, count: number, dim: number): Promise<Measure> {
  const [exe, ...args] = selfArgv([
    "import",
    dir,
    "--jsonl",
    jsonl,
    "--dim",
    String(dim),
    "--metric",
    "l2",
    "--json",
  ]);
  const t0 = performance.now();
  const r = await run(exe, args, { timeoutMs: 1_800_000 });
  const t1 = performance.now();
  if (r.code !== 0) throw new BenchError(`vexfs import into ${dir} failed: ${lastLines(r.stderr || r.stdout)}`);
  const s = parseImportJson(r.stdout);
  await fsyncDir(dir);
  const syncS = (performance.now() - t1) / 1000;
  if (s.vectors !== count || s.collection?.vectors !== count || s.collection?.dim !== dim) {
    throw new BenchError(
      `vexfs import into ${dir}: ${s.vectors} vectors set, collection ${JSON.stringify(s.collection)}; ` +
        `expected ${count} of ${dim} dimensions`,
    );
  }
  const seconds = s.elapsed_ms / 1000 + syncS;
  return {
    value: count / seconds,
    seconds,
    detail: {
      count,
      importSeconds: s.elapsed_ms / 1000,
      syncUs: syncS * 1e6,
      processSeconds: (t1 - t0) / 1000 + syncS,
    },
  };
}
