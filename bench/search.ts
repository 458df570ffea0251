/**
 * Search latency: the 778 fiori documents (384-d MiniLM embeddings) are
 * written into a fresh collection on a VexFS mount (files with
 * `Deno.writeFile`, vectors and searches through the VexFS ioctls of
 * `src/ioctl/client.ts`), then many searches are timed one by one from this
 * process (never the daemon), each query being a document's own vector.
 *
 * The floor is the same exact top-k search done by brute force in this
 * process over a contiguous `Float32Array` (what a program could do with the
 * vectors in memory and no filesystem at all).
 * @module
 */
import { fileNameFor, type FioriDoc, loadFiori } from "../src/data/fiori.ts";
import { BenchError } from "./exec.ts";

/** What the benchmark uses of the VexFS ioctl client (src/ioctl/client.ts). */
export interface IoctlClient {
  createCollection(
    dir: string,
    p: { dim: number; metric: "l2" | "cosine" | "ip"; elem: "f32" | "f16" | "i8" },
  ): Promise<
    unknown
  >;
  setVector(path: string, v: Float32Array): Promise<unknown>;
  search(dir: string, query: Float32Array, k: number): Promise<{ ino: number; score: number }[]>;
}

/**
 * Loads the ioctl client (lazily: it sets up FFI system-call stubs that only
 * the search needs).
 * @throws BenchError if the module cannot be loaded
 */
export async function loadIoctlClient(): Promise<IoctlClient> {
  try {
    return await import("../src/ioctl/client.ts");
  } catch (e) {
    throw new BenchError(`the VexFS ioctl client is not available (${e instanceof Error ? e.message : e})`);
  }
}

/** Latency statistics of repeated operations, in microseconds. */
export interface LatencyStats {
  /** number of timed operations */
  count: number;
  /** median in µs */
  medianUs: number;
  /** 99th percentile in µs (nearest rank) */
  p99Us: number;
  /** mean in µs */
  meanUs: number;
  /** fastest in µs */
  minUs: number;
  /** slowest in µs */
  maxUs: number;
}

/**
 * Summarises latencies given in microseconds: nearest-rank percentiles
 * (p-th percentile = the ⌈p/100·n⌉-th smallest value).
 * @throws RangeError for an empty list
 */
export function latencyStats(us: readonly number[]): LatencyStats {
  if (us.length === 0) throw new RangeError("no samples");
  const s = [...us].sort((a, b) => a - b);
  const rank = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
  return {
    count: s.length,
    medianUs: rank(50),
    p99Us: rank(99),
    meanUs: s.reduce((a, b) => a + b, 0) / s.length,
    minUs: s[0],
    maxUs: s[s.length - 1],
  };
}

/** Exact top-k by cosine similarity over vectors stored row by row, in plain TypeScript. */
export class BruteForce {
  readonly dim: number;
  readonly count: number;
  #data: Float32Array;
  #norms: Float32Array;

  /** Copies `vectors` (each of length `dim`) into one contiguous array and precomputes their norms. */
  constructor(vectors: readonly Float32Array[], dim: number) {
    this.dim = dim;
    this.count = vectors.length;
    this.#data = new Float32Array(vectors.length * dim);
    this.#norms = new Float32Array(vectors.length);
    vectors.forEach((v, i) => {
      this.#data.set(v, i * dim);
      let n = 0;
      for (let j = 0; j < dim; j++) n += v[j] * v[j];
      this.#norms[i] = Math.sqrt(n);
    });
  }

  /**
   * The `k` rows most similar to `q` by cosine, best first (ties: lower row first).
   * @returns `{ row, score }[]` of length min(k, count)
   */
  search(q: Float32Array, k: number): { row: number; score: number }[] {
    const dim = this.dim, data = this.#data;
    let qn = 0;
    for (let j = 0; j < dim; j++) qn += q[j] * q[j];
    qn = Math.sqrt(qn);
    const rows: number[] = [];
    const scores: number[] = [];
    for (let i = 0; i < this.count; i++) {
      let dot = 0;
      const o = i * dim;
      for (let j = 0; j < dim; j++) dot += data[o + j] * q[j];
      const d = this.#norms[i] * qn;
      const s = d ? dot / d : 0;
      if (rows.length === k && s <= scores[k - 1]) continue;
      // insertion into the sorted top-k
      let p = rows.length < k ? rows.length : k - 1;
      while (p > 0 && scores[p - 1] < s) {
        if (p < k) {
          rows[p] = rows[p - 1];
          scores[p] = scores[p - 1];
        }
        p--;
      }
      rows[p] = i;
      scores[p] = s;
    }
    return rows.map((row, i) => ({ row, score: scores[i] }));
  }
}

/** Result of {@linkcode searchBench}. */
export interface SearchResult {
  /** documents loaded */
  docs: number;
  /** vector dimension */
  dim: number;
  /** results per query */
  k: number;
  /** seconds to write the files and set their vectors through the mount */
  loadSeconds: number;
  /** the search ioctl, timed in this process */
  ioctl: LatencyStats;
  /** in-process brute force over the same vectors and queries (the floor) */
  bruteForce: LatencyStats;
  /** queries whose ioctl results equal the brute force (same scores, rank by rank, within 1e-4) */
  agreeing: number;
}

/** The dataset, loaded once per process. */
let fiori: Promise<{ dim: number; docs: FioriDoc[] }> | undefined;

/** Loads the fiori dataset (cached). */
export function fioriDocs(): Promise<{ dim: number; docs: FioriDoc[] }> {
  fiori ??= loadFiori();
  return fiori;
}

/**
 * Times the in-process brute force: `queries` searches (document i's vector
 * for query i, cycling), after a warm-up.
 */
export function bruteForceLatency(docs: FioriDoc[], dim: number, queries: number, k: number): LatencyStats {
  const bf = new BruteForce(docs.map((d) => d.vector), dim);
  for (let i = 0; i < 50; i++) bf.search(docs[i % docs.length].vector, k); // JIT warm-up
  const us: number[] = [];
  for (let i = 0; i < queries; i++) {
    const q = docs[i % docs.length].vector;
    const t0 = performance.now();
    bf.search(q, k);
    us.push((performance.now() - t0) * 1000);
  }
  return latencyStats(us);
}

/**
 * Loads the documents into a new collection `dir` (which must not exist) on
 * a VexFS mount and times `queries` searches with top-`k`.
 * @param onProgress called with a short status line now and then
 */
export async function searchBench(
  client: IoctlClient,
  dir: string,
  opts: { queries: number; k: number; onProgress?: (s: string) => void },
): Promise<SearchResult> {
  const { dim, docs } = await fioriDocs();
  const { queries, k } = opts;
  await Deno.mkdir(dir);
  const t0 = performance.now();
  await client.createCollection(dir, { dim, metric: "cosine", elem: "f32" });
  const used = new Set<string>();
  const enc = new TextEncoder();
  const rowOfIno = new Map<number, number>();
  for (let i = 0; i < docs.length; i++) {
    const path = `${dir}/${fileNameFor(docs[i].title, docs[i].id, used)}`;
    await Deno.writeFile(path, enc.encode(docs[i].content));
    await client.setVector(path, docs[i].vector);
    rowOfIno.set((await Deno.stat(path)).ino!, i);
    if (i % 200 === 199) opts.onProgress?.(`loaded ${i + 1}/${docs.length} documents`);
  }
  const loadSeconds = (performance.now() - t0) / 1000;
  const bf = new BruteForce(docs.map((d) => d.vector), dim);
  for (let i = 0; i < 20; i++) await client.search(dir, docs[i % docs.length].vector, k); // warm-up
  const us: number[] = [];
  let agreeing = 0;
  for (let i = 0; i < queries; i++) {
    const q = docs[i % docs.length].vector;
    const t = performance.now();
    const hits = await client.search(dir, q, k);
    us.push((performance.now() - t) * 1000);
    const want = bf.search(q, k);
    const same = hits.length === want.length &&
      hits.every((h, r) => rowOfIno.has(h.ino) && Math.abs(h.score - want[r].score) < 1e-4);
    if (same) agreeing++;
  }
  if (us.length === 0) throw new BenchError("no queries");
  return {
    docs: docs.length,
    dim,
    k,
    loadSeconds,
    ioctl: latencyStats(us),
    bruteForce: bruteForceLatency(docs, dim, queries, k),
    agreeing,
  };
}
