/**
 * Distance kernels for exact (flat) vector search over a collection's store
 * (docs/FORMAT.md §8.2, §8.4).
 *
 * Scores (FORMAT.md §8.4):
 * - `l2`: Euclidean distance `sqrt(Σ (q_i - x_i)²)`, lower is nearer;
 * - `cosine`: cosine similarity `Σ q_i x_i / (‖q‖ ‖x‖)`, clamped to [-1, 1],
 *   higher is nearer; 0 if either vector is all zeros;
 * - `ip`: inner product `Σ q_i x_i`, higher is nearer.
 *
 * Numerical behaviour: every element (f32, f16 widened exactly through a
 * table, i8) is read as an f64 JavaScript number, and all arithmetic is in
 * f64. Products of two f32 values are exact in f64; the sums are accumulated
 * in four interleaved f64 partial sums (elements `j ≡ 0, 1, 2, 3 mod 4`)
 * which are added at the end as `(a0 + a1) + (a2 + a3)`. The result therefore
 * differs from a sequential f64 sum only by f64 rounding (relative error of
 * order `dim × 2⁻⁵³`, far below f32 resolution), and it is deterministic: the
 * same store and query always give bit-identical scores. Scores are returned
 * as f64 and not rounded to f32. A store holding NaN or Infinity (only
 * possible through corruption; the codec rejects them) yields NaN or infinite
 * scores; {@linkcode isBetter} ranks NaN below every number.
 *
 * @example
 * ```ts
 * import { scanStore } from "./distance.ts";
 * import { TopK } from "./topk.ts";
 * const top = new TopK(10, "cosine");
 * scanStore(store, "f32", dim, count, query, "cosine", (slot, score) =>
 *   top.push(inoOfSlot[slot], score));
 * top.result(); // [{ ino, score }, ...] best first
 * ```
 * @module
 */
import { FsError } from "../errors.ts";
import { LITTLE_ENDIAN } from "./codec.ts";
import { F16_TO_F32 } from "./f16.ts";
import { elemSize, type ElemType, MAX_DIM, type Metric } from "./types.ts";

/**
 * Scores two vectors of equal length under a metric (see the module doc for
 * the formula and numerical behaviour).
 * @param q query vector, length dim
 * @param x stored vector, length dim
 * @returns the score (l2: distance ≥ 0; cosine: similarity in [-1, 1]; ip: inner product)
 */
export type ScoreFn = (q: ArrayLike<number>, x: ArrayLike<number>) => number;

/** Euclidean distance of two equal-length vectors, f64 accumulation. */
export function l2Distance(q: ArrayLike<number>, x: ArrayLike<number>): number {
  checkSameLength(q, x);
  const n = q.length;
  const n4 = n - (n & 3);
  let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  let j = 0;
  for (; j < n4; j += 4) {
    const d0 = q[j] - x[j];
    const d1 = q[j + 1] - x[j + 1];
    const d2 = q[j + 2] - x[j + 2];
    const d3 = q[j + 3] - x[j + 3];
    a0 += d0 * d0;
    a1 += d1 * d1;
    a2 += d2 * d2;
    a3 += d3 * d3;
  }
  for (; j < n; j++) {
    const d = q[j] - x[j];
    a0 += d * d;
  }
  return Math.sqrt((a0 + a1) + (a2 + a3));
}

/** Inner product of two equal-length vectors, f64 accumulation. */
export function innerProduct(
  q: ArrayLike<number>,
  x: ArrayLike<number>,
): number {
  checkSameLength(q, x);
  const n = q.length;
  const n4 = n - (n & 3);
  let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  let j = 0;
  for (; j < n4; j += 4) {
    a0 += q[j] * x[j];
    a1 += q[j + 1] * x[j + 1];
    a2 += q[j + 2] * x[j + 2];
    a3 += q[j + 3] * x[j + 3];
  }
  for (; j < n; j++) a0 += q[j] * x[j];
  return (a0 + a1) + (a2 + a3);
}

/** Euclidean norm `sqrt(Σ v_i²)`, f64 accumulation. */
export function norm(v: ArrayLike<number>): number {
  return Math.sqrt(innerProduct(v, v));
}

/**
 * Cosine similarity of two equal-length vectors, clamped to [-1, 1]; 0 when
 * either vector is all zeros (FORMAT.md §8.4).
 */
export function cosineSimilarity(
  q: ArrayLike<number>,
  x: ArrayLike<number>,
): number {
  checkSameLength(q, x);
  const qn = norm(q);
  const xn = norm(x);
  return cosineFrom(innerProduct(q, x), qn, xn);
}

function cosineFrom(dot: number, qn: number, xn: number): number {
  if (qn === 0 || xn === 0) return 0;
  const c = dot / (qn * xn);
  return c > 1 ? 1 : c < -1 ? -1 : c;
}

function checkSameLength(q: ArrayLike<number>, x: ArrayLike<number>): void {
  if (q.length !== x.length) {
    throw new FsError(
      "EINVAL",
      `vector lengths differ: ${q.length} and ${x.length}`,
    );
  }
}

/**
 * The scoring function of a metric: {@linkcode l2Distance},
 * {@linkcode cosineSimilarity} or {@linkcode innerProduct}.
 * @throws FsError `EINVAL` for an unknown metric
 */
export function scoreFn(metric: Metric): ScoreFn {
  switch (metric) {
    case "l2":
      return l2Distance;
    case "cosine":
      return cosineSimilarity;
    case "ip":
      return innerProduct;
  }
  throw new FsError("EINVAL", `unknown metric ${JSON.stringify(metric)}`);
}

/** Whether lower scores are nearer for `metric` (true only for `l2`). */
export function lowerIsBetter(metric: Metric): boolean {
  return metric === "l2";
}

/**
 * Whether score `a` is strictly nearer than score `b` under `metric`
 * (l2: a < b; cosine, ip: a > b). NaN is never better than anything, and
 * every number is better than NaN. Equal scores are not better (ties are
 * broken by the caller, by inode number; see `topk.ts`).
 */
export function isBetter(metric: Metric, a: number, b: number): boolean {
  if (b !== b) return a === a;
  return metric === "l2" ? a < b : a > b;
}

/**
 * Total order of search hits, best first: by score in the metric's
 * direction (NaN last), then by inode number ascending (FORMAT.md §8.4).
 * @returns negative if hit a comes first, positive if b does, 0 if identical
 */
export function compareHits(
  metric: Metric,
  aScore: number,
  aIno: number,
  bScore: number,
  bIno: number,
): number {
  if (isBetter(metric, aScore, bScore)) return -1;
  if (isBetter(metric, bScore, aScore)) return 1;
  return aIno - bIno;
}

/**
 * Scans a contiguous vector store and reports the score of every slot.
 *
 * The store is viewed in place when possible (`Float32Array` for f32 at a
 * 4-byte-aligned offset, `Uint16Array` for f16 at a 2-byte-aligned offset,
 * `Int8Array` for i8; otherwise it is copied once into an aligned buffer),
 * f16 elements are widened through the {@linkcode F16_TO_F32} table, and
 * each metric/type pair has its own 4-way unrolled loop. For `cosine`, the
 * query norm is computed once and each slot's norm in the same pass as the
 * dot product.
 *
 * @param store `count × dim × elemSize(elem)` bytes (more are ignored), slots
 *   in order, little-endian (FORMAT.md §8.2)
 * @param elem element type of the store
 * @param dim dimension, 1..4096
 * @param count slots to scan (0 allowed)
 * @param query query vector, length dim (any finite values; it is not rounded
 *   to the store's element type)
 * @param metric the collection's metric
 * @param visit called once per slot in ascending slot order with the slot's
 *   score (see module doc)
 * @throws FsError `EINVAL` if dim, count, the query length or the store size
 *   is wrong
 */
export function scanStore(
  store: Uint8Array,
  elem: ElemType,
  dim: number,
  count: number,
  query: ArrayLike<number>,
  metric: Metric,
  visit: (slot: number, score: number) => void,
): void {
  const size = elemSize(elem);
  if (!Number.isInteger(dim) || dim < 1 || dim > MAX_DIM) {
    throw new FsError(
      "EINVAL",
      `bad dimension ${dim}: must be an integer in 1..${MAX_DIM}`,
    );
  }
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new FsError("EINVAL", `bad slot count ${count}`);
  }
  if (query.length !== dim) {
    throw new FsError(
      "EINVAL",
      `query has ${query.length} elements, expected ${dim}`,
    );
  }
  const n = count * dim;
  if (store.length < n * size) {
    throw new FsError(
      "EINVAL",
      `vector store has ${store.length} bytes, expected ${n * size} (${count} slots × ${dim} × ${size})`,
    );
  }
  scoreFn(metric); // rejects unknown metrics
  if (count === 0) return;
  const q = Float64Array.from(query);
  if (elem === "f32") {
    const x = f32View(store, n);
    if (metric === "l2") l2F32(x, q, dim, count, visit);
    else if (metric === "ip") ipF32(x, q, dim, count, visit);
    else cosF32(x, q, norm(q), dim, count, visit);
  } else if (elem === "f16") {
    const x = u16View(store, n);
    if (metric === "l2") l2F16(x, q, dim, count, visit);
    else if (metric === "ip") ipF16(x, q, dim, count, visit);
    else cosF16(x, q, norm(q), dim, count, visit);
  } else {
    const x = new Int8Array(store.buffer, store.byteOffset, n);
    if (metric === "l2") l2I8(x, q, dim, count, visit);
    else if (metric === "ip") ipI8(x, q, dim, count, visit);
    else cosI8(x, q, norm(q), dim, count, visit);
  }
}

/** A Float32Array of n elements over the store, viewed in place if aligned. */
function f32View(store: Uint8Array, n: number): Float32Array {
  if (LITTLE_ENDIAN && store.byteOffset % 4 === 0) {
    return new Float32Array(store.buffer, store.byteOffset, n);
  }
  const out = new Float32Array(n);
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(store.subarray(0, n * 4));
  } else {
    const dv = new DataView(store.buffer, store.byteOffset, n * 4);
    for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
  }
  return out;
}

/** A Uint16Array of n elements over the store, viewed in place if aligned. */
function u16View(store: Uint8Array, n: number): Uint16Array {
  if (LITTLE_ENDIAN && store.byteOffset % 2 === 0) {
    return new Uint16Array(store.buffer, store.byteOffset, n);
  }
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = store[2 * i] | (store[2 * i + 1] << 8);
  return out;
}

type Visit = (slot: number, score: number) => void;

// ---- f32 kernels -----------------------------------------------------------

function l2F32(
  x: Float32Array,
  q: Float64Array,
  dim: number,
  count: number,
  visit: Visit,
): void {
  const d4 = dim - (dim & 3);
  for (let s = 0, b = 0; s < count; s++, b += dim) {
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    let j = 0;
    for (; j < d4; j += 4) {
      const e0 = q[j] - x[b + j];
      const e1 = q[j + 1] - x[b + j + 1];
      const e2 = q[j + 2] - x[b + j + 2];
      const e3 = q[j + 3] - x[b + j + 3];
      a0 += e0 * e0;
      a1 += e1 * e1;
      a2 += e2 * e2;
      a3 += e3 * e3;
    }
    for (; j < dim; j++) {
      const e = q[j] - x[b + j];
      a0 += e * e;
    }
    visit(s, Math.sqrt((a0 + a1) + (a2 + a3)));
  }
}

function ipF32(
  x: Float32Array,
  q: Float64Array,
  dim: number,
  count: number,
  visit: Visit,
): void {
  const d4 = dim - (dim & 3);
  for (let s = 0, b = 0; s < count; s++, b += dim) {
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    let j = 0;
    for (; j < d4; j += 4) {
      a0 += q[j] * x[b + j];
      a1 += q[j + 1] * x[b + j + 1];
      a2 += q[j + 2] * x[b + j + 2];
      a3 += q[j + 3] * x[b + j + 3];
    }
    for (; j < dim; j++) a0 += q[j] * x[b + j];
    visit(s, (a0 + a1) + (a2 + a3));
  }
}

function cosF32(
  x: Float32Array,
  q: Float64Array,
  qn: number,
  dim: number,
  count: number,
  visit: Visit,
): void {
  const d4 = dim - (dim & 3);
  for (let s = 0, b = 0; s < count; s++, b += dim) {
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    let n0 = 0, n1 = 0, n2 = 0, n3 = 0;
    let j = 0;
    for (; j < d4; j += 4) {
      const x0 = x[b + j], x1 = x[b + j + 1];
      const x2 = x[b + j + 2], x3 = x[b + j + 3];
      a0 += q[j] * x0;
      a1 += q[j + 1] * x1;
      a2 += q[j + 2] * x2;
      a3 += q[j + 3] * x3;
      n0 += x0 * x0;
      n1 += x1 * x1;
      n2 += x2 * x2;
      n3 += x3 * x3;
    }
    for (; j < dim; j++) {
      const x0 = x[b + j];
      a0 += q[j] * x0;
      n0 += x0 * x0;
    }
    visit(
      s,
      cosineFrom((a0 + a1) + (a2 + a3), qn, Math.sqrt((n0 + n1) + (n2 + n3))),
    );
  }
}

// ---- f16 kernels (table lookup) --------------------------------------------

function l2F16(
  x: Uint16Array,
  q: Float64Array,
  dim: number,
  count: number,
  visit: Visit,
): void {
  const t = F16_TO_F32;
  const d4 = dim - (dim & 3);
  for (let s = 0, b = 0; s < count; s++, b += dim) {
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    let j = 0;
    for (; j < d4; j += 4) {
      const e0 = q[j] - t[x[b + j]];
      const e1 = q[j + 1] - t[x[b + j + 1]];
      const e2 = q[j + 2] - t[x[b + j + 2]];
      const e3 = q[j + 3] - t[x[b + j + 3]];
      a0 += e0 * e0;
      a1 += e1 * e1;
      a2 += e2 * e2;
      a3 += e3 * e3;
    }
    for (; j < dim; j++) {
      const e = q[j] - t[x[b + j]];
      a0 += e * e;
    }
    visit(s, Math.sqrt((a0 + a1) + (a2 + a3)));
  }
}

function ipF16(
  x: Uint16Array,
  q: Float64Array,
  dim: number,
  count: number,
  visit: Visit,
): void {
  const t = F16_TO_F32;
  const d4 = dim - (dim & 3);
  for (let s = 0, b = 0; s < count; s++, b += dim) {
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    let j = 0;
    for (; j < d4; j += 4) {
      a0 += q[j] * t[x[b + j]];
      a1 += q[j + 1] * t[x[b + j + 1]];
      a2 += q[j + 2] * t[x[b + j + 2]];
      a3 += q[j + 3] * t[x[b + j + 3]];
    }
    for (; j < dim; j++) a0 += q[j] * t[x[b + j]];
    visit(s, (a0 + a1) + (a2 + a3));
  }
}

function cosF16(
  x: Uint16Array,
  q: Float64Array,
  qn: number,
  dim: number,
  count: number,
  visit: Visit,
): void {
  const t = F16_TO_F32;
  const d4 = dim - (dim & 3);
  for (let s = 0, b = 0; s < count; s++, b += dim) {
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    let n0 = 0, n1 = 0, n2 = 0, n3 = 0;
    let j = 0;
    for (; j < d4; j += 4) {
      const x0 = t[x[b + j]], x1 = t[x[b + j + 1]];
      const x2 = t[x[b + j + 2]], x3 = t[x[b + j + 3]];
      a0 += q[j] * x0;
      a1 += q[j + 1] * x1;
      a2 += q[j + 2] * x2;
      a3 += q[j + 3] * x3;
      n0 += x0 * x0;
      n1 += x1 * x1;
      n2 += x2 * x2;
      n3 += x3 * x3;
    }
    for (; j < dim; j++) {
      const x0 = t[x[b + j]];
      a0 += q[j] * x0;
      n0 += x0 * x0;
    }
    visit(
      s,
      cosineFrom((a0 + a1) + (a2 + a3), qn, Math.sqrt((n0 + n1) + (n2 + n3))),
    );
  }
}

// ---- i8 kernels ------------------------------------------------------------

function l2I8(
  x: Int8Array,
  q: Float64Array,
  dim: number,
  count: number,
  visit: Visit,
): void {
  const d4 = dim - (dim & 3);
  for (let s = 0, b = 0; s < count; s++, b += dim) {
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    let j = 0;
    for (; j < d4; j += 4) {
      const e0 = q[j] - x[b + j];
      const e1 = q[j + 1] - x[b + j + 1];
      const e2 = q[j + 2] - x[b + j + 2];
      const e3 = q[j + 3] - x[b + j + 3];
      a0 += e0 * e0;
      a1 += e1 * e1;
      a2 += e2 * e2;
      a3 += e3 * e3;
    }
    for (; j < dim; j++) {
      const e = q[j] - x[b + j];
      a0 += e * e;
    }
    visit(s, Math.sqrt((a0 + a1) + (a2 + a3)));
  }
}

function ipI8(
  x: Int8Array,
  q: Float64Array,
  dim: number,
  count: number,
  visit: Visit,
): void {
  const d4 = dim - (dim & 3);
  for (let s = 0, b = 0; s < count; s++, b += dim) {
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    let j = 0;
    for (; j < d4; j += 4) {
      a0 += q[j] * x[b + j];
      a1 += q[j + 1] * x[b + j + 1];
      a2 += q[j + 2] * x[b + j + 2];
      a3 += q[j + 3] * x[b + j + 3];
    }
    for (; j < dim; j++) a0 += q[j] * x[b + j];
    visit(s, (a0 + a1) + (a2 + a3));
  }
}

function cosI8(
  x: Int8Array,
  q: Float64Array,
  qn: number,
  dim: number,
  count: number,
  visit: Visit,
): void {
  const d4 = dim - (dim & 3);
  for (let s = 0, b = 0; s < count; s++, b += dim) {
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    let n0 = 0, n1 = 0, n2 = 0, n3 = 0;
    let j = 0;
    for (; j < d4; j += 4) {
      const x0 = x[b + j], x1 = x[b + j + 1];
      const x2 = x[b + j + 2], x3 = x[b + j + 3];
      a0 += q[j] * x0;
      a1 += q[j + 1] * x1;
      a2 += q[j + 2] * x2;
      a3 += q[j + 3] * x3;
      n0 += x0 * x0;
      n1 += x1 * x1;
      n2 += x2 * x2;
      n3 += x3 * x3;
    }
    for (; j < dim; j++) {
      const x0 = x[b + j];
      a0 += q[j] * x0;
      n0 += x0 * x0;
    }
    visit(
      s,
      cosineFrom((a0 + a1) + (a2 + a3), qn, Math.sqrt((n0 + n1) + (n2 + n3))),
    );
  }
}
