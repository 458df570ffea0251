/**
 * The data and the measurement of filtered vector search recall (design of
 * issue 12, §5.3), shared by the test (./filter_recall_test.ts) and the
 * benchmark (bench/filter_recall.ts): seeded Gaussian-mixture vectors in one
 * HNSW collection of an in-memory image, each file carrying `user.bucket`
 * (uniform 0..99: `= 7` selects 1 %, `< 10` 10 %) and `user.cluster` (its
 * mixture component: correlated with the vectors), and recall@k of
 * filtered searches against an exact scan over the files that pass.
 * @module
 */
import { MemDevice } from "../device/mem.ts";
import { ROOT_INO } from "../format/constants.ts";
import { parseWhere } from "../search/where.ts";
import { rng } from "../test_random.ts";
import { Vexfs } from "./fs.ts";
import { computeLayout, writeFilesystem } from "./mkfs.ts";
import { EXACT_SCAN_ELEMENTS, SUBTREE_EXACT_FRACTION, SUBTREE_EXACT_MAX } from "./vector_search.ts";
import type { SearchMethod } from "./vector_types.ts";

/** Sizes and parameters of a recall data set. */
export interface FilterRecallData {
  /** vectors (files) */
  n: number;
  dim: number;
  /** mixture components */
  clusters: number;
  /** queries (drawn from the same mixture) */
  queries: number;
  seed: number;
  /** HNSW M and efConstruction */
  m: number;
  efConstruction: number;
}

/** The open image with the collection (at `/c`, inode `root`) and the queries. */
export interface FilterRecallSet {
  fs: Vexfs;
  root: number;
  queries: Float32Array[];
  /** milliseconds spent creating files, setting vectors and attributes, and building the graph */
  buildMs: { files: number; graph: number };
}

/** A standard normal deviate (Box–Muller) from a uniform source. */
function gauss(r: () => number): number {
  const u = 1 - r();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

/**
 * Builds the data set: `n` files in `/c` of a fresh in-memory image (block
 * size 1 KiB so that each file's attribute block is small), vectors
 * `center[c] + N(0, 0.3²)` per element with centers uniform in [−1, 1]^dim,
 * `user.bucket` uniform 0..99 independent of the vector, `user.cluster` = c.
 * The caller closes `fs`.
 */
export function buildFilterRecallSet(d: FilterRecallData): FilterRecallSet {
  const r = rng(d.seed);
  // inode table, vectors, graph, one 1 KiB xattr block per file, directory: 4 KiB per file is plenty
  const bytes = Math.max(64 << 20, d.n * 4096 + d.n * d.dim * 4 * 3);
  const dev = new MemDevice(bytes);
  writeFilesystem(dev, computeLayout(dev.size, { blockSize: 1024, inodes: d.n + 1024 }), {
    uuid: Uint8Array.from({ length: 16 }, () => Math.floor(r() * 256)),
  });
  const fs = Vexfs.openDevice(dev);
  const t0 = performance.now();
  const root = fs.mkdir(ROOT_INO, "c");
  fs.collections.create(root, { dim: d.dim, metric: "l2", elem: "f32", index: "flat" });
  const centers = Array.from({ length: d.clusters }, () => Float32Array.from({ length: d.dim }, () => r() * 2 - 1));
  const draw = (c: number) => Float32Array.from(centers[c], (x) => x + 0.3 * gauss(r));
  const enc = new TextEncoder();
  const batch: { ino: number; vector: Float32Array }[] = [];
  for (let i = 0; i < d.n; i++) {
    const c = Math.floor(r() * d.clusters);
    const ino = fs.create(root, `f${i}`);
    fs.setxattr(ino, "user.bucket", enc.encode(String(Math.floor(r() * 100))));
    fs.setxattr(ino, "user.cluster", enc.encode(String(c)));
    batch.push({ ino, vector: draw(c) });
    if (batch.length === 2000 || i === d.n - 1) fs.collections.setVectors(batch.splice(0));
  }
  const t1 = performance.now();
  fs.collections.buildIndex(root, { m: d.m, efConstruction: d.efConstruction });
  const t2 = performance.now();
  const queries = Array.from({ length: d.queries }, () => draw(Math.floor(r() * d.clusters)));
  return { fs, root, queries, buildMs: { files: t1 - t0, graph: t2 - t1 } };
}

/** recall@k of one filter over the queries, and how the searches were answered. */
export interface FilterRecall {
  where: string;
  /** files passing the filter */
  passed: number;
  /** mean over the queries of |found ∩ exact| / |exact| */
  recall: number;
  /** the method of the last search (all searches of a filter take the same path) */
  method: SearchMethod;
  /** latency of the filtered searches, ms */
  p50: number;
  p95: number;
}

/**
 * Measures recall@k of `searchEx(root, q, k, { where })` (with the
 * collection's current thresholds) against an exact scan over the passing
 * files (`exact: true` with the same filter: a scan of exactly those slots).
 */
export function measureFilterRecall(s: FilterRecallSet, where: string, k = 10, ef?: number): FilterRecall {
  const w = parseWhere([where]);
  const c = s.fs.collections;
  let hit = 0, want = 0;
  let method: SearchMethod = { method: "unknown" };
  const times: number[] = [];
  c.search(s.root, s.queries[0], k, { where: w, paths: false }); // fills the attribute cache: not timed
  for (const q of s.queries) {
    const t0 = performance.now();
    const got = c.searchEx(s.root, q, k, { where: w, paths: false, ...(ef ? { ef } : {}) });
    times.push(performance.now() - t0);
    method = got.method;
    const exact = new Set(c.search(s.root, q, k, { where: w, paths: false, exact: true }).map((h) => h.ino));
    want += exact.size;
    hit += got.hits.filter((h) => exact.has(h.ino)).length;
  }
  times.sort((a, b) => a - b);
  const at = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
  return {
    where,
    passed: method.filterPassed ?? 0,
    recall: want ? hit / want : 1,
    method,
    p50: at(0.5),
    p95: at(0.95),
  };
}

/** Makes every filtered search of `s` take the filtered graph traversal (as the tests of hnsw_test.ts do). */
export function forceGraph(s: FilterRecallSet, on: boolean): void {
  const c = s.fs.collections;
  c.exactScanElements = on ? 0 : EXACT_SCAN_ELEMENTS;
  c.subtreeExactMax = on ? 0 : SUBTREE_EXACT_MAX;
  c.subtreeExactFraction = on ? 0 : SUBTREE_EXACT_FRACTION;
}
