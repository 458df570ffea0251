/**
 * Test helpers for the HNSW graph: a vector store in the shared memory laid
 * out as the engine's (FORMAT.md §8.2 slots, §8.5 norms) with the §8.4
 * swap-remove, exact k-NN over it as the oracle, recall@k, and seeded data.
 * @module
 */
import { crc32c } from "../format/crc.ts";
import { decodeVector, encodeVector } from "../vector/codec.ts";
import { elemSize, type ElemType, type Metric } from "../vector/types.ts";
import { WasmArray } from "../wasm/runtime.ts";
import { rng } from "../test_random.ts";
import type { HnswGraph } from "./graph.ts";

/** A collection's store: vectors and norms in the shared memory, slot by slot. */
export class TestStore {
  readonly dim: number;
  readonly elem: ElemType;
  readonly stride: number;
  #vec: WasmArray<Uint8ArrayConstructor>;
  #norms: WasmArray<Float32ArrayConstructor>;
  /** the stored vectors as f32 (decoded), per slot */
  rows: Float32Array[] = [];
  /** vec_crc per slot (FORMAT.md §8.3) */
  crcs: number[] = [];
  constructor(dim: number, elem: ElemType = "f32", cap = 1024) {
    this.dim = dim;
    this.elem = elem;
    this.stride = dim * elemSize(elem);
    this.#vec = new WasmArray(Uint8Array, cap * this.stride);
    this.#norms = new WasmArray(Float32Array, cap);
  }
  get count(): number {
    return this.rows.length;
  }
  get vecPtr(): number {
    return this.#vec.ptr;
  }
  get normPtr(): number {
    return this.#norms.ptr;
  }
  /** Points the graph at this store (after any change of count). */
  bind(g: HnswGraph): void {
    g.setStore(this.#vec.ptr, this.#norms.ptr, this.count);
  }
  /** Writes slot s (s ≤ count): encodes v in the element type, sets its norm and crc. */
  set(s: number, v: Float32Array): void {
    if (s >= this.#norms.length) {
      this.#vec.resize(Math.max(2 * this.#norms.length, s + 1) * this.stride);
      this.#norms.resize(Math.max(2 * this.#norms.length, s + 1));
    }
    const bytes = encodeVector(v, this.elem);
    this.#vec.view.set(bytes, s * this.stride);
    const x = decodeVector(bytes, this.elem, this.dim);
    const row = Float32Array.from(x);
    let n = 0;
    for (let i = 0; i < this.dim; i++) n += row[i] * row[i];
    this.#norms.view[s] = Math.sqrt(n);
    this.rows[s] = row;
    this.crcs[s] = crc32c(bytes);
  }
  /** Appends a vector; returns its slot. */
  push(v: Float32Array): number {
    const s = this.count;
    this.set(s, v);
    return s;
  }
  /** FORMAT.md §8.4: the last slot moves into s; returns the slot that moved (s itself if last). */
  swapRemove(s: number): number {
    const last = this.count - 1;
    if (s !== last) {
      this.#vec.view.copyWithin(s * this.stride, last * this.stride, (last + 1) * this.stride);
      this.#norms.view[s] = this.#norms.view[last];
      this.rows[s] = this.rows[last];
      this.crcs[s] = this.crcs[last];
    }
    this.rows.pop();
    this.crcs.pop();
    return last;
  }
  free(): void {
    this.#vec.free();
    this.#norms.free();
  }
}

/** Graph distance in f64 (the oracle's): squared L2, 1 − dot, 1 − cos. */
export function graphDistance(metric: Metric, q: Float32Array, x: Float32Array): number {
  let a = 0, qq = 0, xx = 0;
  for (let i = 0; i < q.length; i++) {
    if (metric === "l2") {
      const d = q[i] - x[i];
      a += d * d;
    } else {
      a += q[i] * x[i];
      qq += q[i] * q[i];
      xx += x[i] * x[i];
    }
  }
  if (metric === "l2") return a;
  if (metric === "ip") return 1 - a;
  return qq === 0 || xx === 0 ? 1 : 1 - a / Math.sqrt(qq * xx);
}

/** Exact k nearest slots (ties by slot), optionally only those `pass` accepts. */
export function exactTopK(
  store: TestStore,
  metric: Metric,
  q: Float32Array,
  k: number,
  pass?: (s: number) => boolean,
): number[] {
  const d: [number, number][] = [];
  for (let s = 0; s < store.count; s++) {
    if (pass && !pass(s)) continue;
    d.push([graphDistance(metric, q, store.rows[s]), s]);
  }
  d.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return d.slice(0, k).map((x) => x[1]);
}

/** Mean recall@k of the graph's search against the exact answer. */
export function recall(
  g: HnswGraph,
  store: TestStore,
  metric: Metric,
  queries: Float32Array[],
  k: number,
  ef: number,
  filter?: { ptr: number; has(s: number): boolean },
): number {
  let hit = 0, total = 0;
  for (const q of queries) {
    const want = exactTopK(store, metric, q, k, filter ? (s) => filter.has(s) : undefined);
    const got = new Set(g.search(q, k, ef, filter).slots);
    for (const s of want) if (got.has(s)) hit++;
    total += want.length;
  }
  return total ? hit / total : 1;
}

/** Seeded vectors: uniform in [-1, 1) per element, or clustered (Gaussian-ish around `clusters` centres). */
export function randomVectors(n: number, dim: number, seed: number, clusters = 0): Float32Array[] {
  const r = rng(seed);
  const centres = Array.from({ length: clusters }, () => Float32Array.from({ length: dim }, () => 2 * r() - 1));
  const out: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    const v = new Float32Array(dim);
    const c = clusters ? centres[Math.floor(r() * clusters)] : undefined;
    for (let j = 0; j < dim; j++) v[j] = c ? c[j] + 0.3 * (r() + r() + r() - 1.5) : 2 * r() - 1;
    out.push(v);
  }
  return out;
}
