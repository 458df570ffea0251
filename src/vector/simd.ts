/**
 * Exact (flat) vector search with the WebAssembly SIMD kernels of
 * `wasm/kernels.c`, over a collection's store held in wasm memory
 * ({@linkcode WasmStore}). The engine calls {@linkcode scanTopK} where it
 * called `scanStore` + `TopK`.
 *
 * Results are identical to the scalar reference, `scanStore` + `TopK`
 * (src/vector/distance.ts, topk.ts): the same hits in the same order (score
 * in the metric's direction, NaN last, ties by inode ascending; FORMAT.md
 * §8.4) with bit-identical f64 scores. The one deliberate difference is
 * FORMAT.md §8.5: cosine divides by the stored f32 norm of each slot, where
 * `scanStore` recomputes `|x|` in f64 on every query; with that norm the
 * scores are again bit-identical to the reference formula
 * `dot / (norm(q) * norms[slot])` (clamped to [-1, 1], 0 for a zero norm).
 *
 * How (see wasm/kernels.c): a fast f32 SIMD pass with a rigorous error bound
 * (for i8 stores: exact integer dot products with the query quantized to i16,
 * and the quantization error bounded) keeps every slot that may be in the top
 * k (typically k to a few k), and only those are rescored in f64 with the
 * reference's arithmetic and ordered here by score and inode. A query that is not made of f32 values (any
 * `Float32Array` is) is scored exactly on every slot instead. The same code
 * runs on a mount and offline, so both give the same answers.
 *
 * @example
 * ```ts
 * import { scanTopK, WasmStore } from "./simd.ts";
 * const store = new WasmStore("f32", 2);
 * store.append(new Uint8Array(new Float32Array([1, 0, 0, 1, 3, 4]).buffer)); // 3 slots
 * const owners = [100, 101, 102]; // slot -> inode
 * const hits = scanTopK(store, { query: [1, 0], k: 2, metric: "l2", owners });
 * // [{ slot: 0, ino: 100, score: 0 }, { slot: 1, ino: 101, score: Math.SQRT2 }]
 * store.free();
 * ```
 * @module
 */
import { FsError } from "../errors.ts";
import { KERNELS_WASM } from "../wasm/kernels_wasm.ts";
import { inMemory, instantiate, WasmArray } from "../wasm/runtime.ts";
import { norm } from "./distance.ts";
import { F16_TO_F32 } from "./f16.ts";
import { TopK } from "./topk.ts";
import { ELEM_CODE, elemSize, type ElemType, isMetric, MAX_DIM, type Metric, METRIC_CODE } from "./types.ts";

export type { ElemType, Metric };

/** The exports of the `kernels` module (wasm/kernels.c, wasm/crc32c.c); pointers are byte addresses. */
export interface KernelsExports {
  /** FORMAT.md §8.5 norms of `count` slots into `out` (f32 each). */
  vx_norms(elem: number, store: number, dim: number, count: number, out: number): void;
  /** Exact f64 scores of `n` slots (`slots` u32 list, or 0 for 0..n-1) into `out`. */
  vx_score_exact(
    elem: number,
    metric: number,
    store: number,
    dim: number,
    q64: number,
    qn: number,
    norms: number,
    slots: number,
    n: number,
    out: number,
  ): void;
  /** Candidate slots for the top k (see wasm/kernels.c); returns how many were written to `cand`. */
  vx_scan_candidates(
    elem: number,
    metric: number,
    store: number,
    dim: number,
    count: number,
    q32: number,
    qn: number,
    norms: number,
    slots: number,
    nslots: number,
    allow: number,
    k: number,
    heap: number,
    cand: number,
    candLo: number,
  ): number;
  /** SQ8 codes (`dim` i8), scale and residual norm (f32 each) of `count` slots of an f32/f16 store. */
  vx_sq8_encode(elem: number, store: number, dim: number, count: number, codes: number, rs: number, es: number): void;
  /** Candidates from SQ8 codes (arguments as vx_scan_candidates, with the codes, scales and residuals). */
  vx_scan_sq8(
    metric: number,
    codes: number,
    dim: number,
    count: number,
    q32: number,
    qn: number,
    norms: number,
    rs: number,
    es: number,
    slots: number,
    nslots: number,
    allow: number,
    k: number,
    heap: number,
    cand: number,
    candLo: number,
  ): number;
  /** Fast f32 squared distances (l2) or dot products (others) of `n` slots into `out` (f32). */
  vx_score_fast(
    elem: number,
    metric: number,
    store: number,
    dim: number,
    q32: number,
    slots: number,
    n: number,
    out: number,
  ): void;
  /** CRC-32C of `n` bytes at `p` continuing `prev` (signed result; `>>> 0` it). */
  vx_crc32c(prev: number, p: number, n: number): number;
  /** CRC-32C of `count` records of `len` bytes, `stride` apart, into `out` (u32 each). */
  vx_crc32c_records(p: number, stride: number, len: number, count: number, out: number): void;
}

/** The `kernels` module's exports (instantiated on first use). */
export function kernels(): KernelsExports {
  return instantiate<KernelsExports>(KERNELS_WASM);
}

// ---- norms ---------------------------------------------------------------------

/**
 * The FORMAT.md §8.5 norm of one stored vector: `sqrt(Σ x_i²)` over its
 * elements as stored (f16 decoded exactly, i8 as integers), summed in f64 in
 * index order, the square root in f64, rounded to f32. Bit-identical to the
 * C `vx_norm_stored` (wasm/vx_simd.h) and to `vectorNorm` of
 * src/fs/vectors.ts.
 * @param bytes the vector as stored (`dim * elemSize(elem)` bytes, little-endian)
 * @param elem element type
 * @param dim dimension
 * @returns the norm, an f32 value (as a number)
 * @throws FsError `EINVAL` if `bytes` is shorter than one vector
 */
export function vectorNormOf(bytes: Uint8Array, elem: ElemType, dim: number): number {
  const size = dim * elemSize(elem);
  if (bytes.length < size) {
    throw new FsError("EINVAL", `vector has ${bytes.length} bytes, expected ${size}`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, size);
  let s = 0;
  if (elem === "f32") {
    for (let i = 0; i < dim; i++) {
      const x = dv.getFloat32(4 * i, true);
      s += x * x;
    }
  } else if (elem === "f16") {
    for (let i = 0; i < dim; i++) {
      const x = F16_TO_F32[dv.getUint16(2 * i, true)];
      s += x * x;
    }
  } else {
    for (let i = 0; i < dim; i++) {
      const x = dv.getInt8(i);
      s += x * x;
    }
  }
  return Math.fround(Math.sqrt(s));
}

// ---- the store in wasm memory ------------------------------------------------------

/**
 * A collection's vectors (FORMAT.md §8.2: slot `s` at `s * stride`) and
 * their §8.5 norms, in the shared wasm memory where the kernels read them.
 * The engine keeps one per loaded collection, changes it with every change
 * to the store (put, append, swap-remove) and calls {@linkcode free} when the
 * collection is unloaded or dropped. Capacity grows by half again when full
 * (amortised O(1) appends); growing may move the arrays and grow the memory,
 * so views from {@linkcode bytes}, {@linkcode norms} and {@linkcode vector}
 * are valid only until the next change (see src/wasm/runtime.ts).
 *
 * For f32 and f16 stores it also keeps an SQ8 prefilter: 8-bit codes of every
 * vector with its scale and the norm of what the codes miss
 * (`vx_sq8_encode`, wasm/kernels.c), `dim + 8` bytes a slot, so that a scan
 * reads a quarter of the bytes before the f32 pass and the exact rescoring.
 * It follows every change made through the methods; the views are for
 * reading: after writing into them, call {@linkcode refresh}.
 *
 * The norms must be the §8.5 norms of the vectors: cosine scores divide by
 * them, and every prefilter bound (SQ8, i8) takes |x| from them, so a wrong
 * norm could drop a slot from any metric's top k. Give norms only when they
 * were just computed from the vectors (as the engine does on a set); when
 * loading a store from disk, let {@linkcode append} compute them (in wasm, at
 * about the cost of one scan) or check the file's against them.
 */
export class WasmStore {
  /** element type */
  readonly elem: ElemType;
  /** dimension (1..4096) */
  readonly dim: number;
  /** bytes per vector, `dim * elemSize(elem)` */
  readonly stride: number;
  #data: WasmArray<Uint8ArrayConstructor>;
  #norms: WasmArray<Float32ArrayConstructor>;
  #sq8?: {
    codes: WasmArray<Int8ArrayConstructor>;
    rs: WasmArray<Float32ArrayConstructor>;
    es: WasmArray<Float32ArrayConstructor>;
  };
  #count = 0;

  /**
   * An empty store.
   * @param elem element type
   * @param dim dimension, 1..4096
   * @param capacity slots to reserve (default 16)
   * @param opts `prefilter`: keep the SQ8 prefilter (default true; f32 and f16 only)
   * @throws FsError `EINVAL` for a bad dim or element type, `ENOMEM`
   */
  constructor(elem: ElemType, dim: number, capacity = 16, opts: { prefilter?: boolean } = {}) {
    checkDim(dim);
    if (!(elem in ELEM_CODE)) throw new FsError("EINVAL", `unknown element type ${JSON.stringify(elem)}`);
    this.elem = elem;
    this.dim = dim;
    this.stride = dim * elemSize(elem);
    const cap = Math.max(1, capacity);
    this.#data = new WasmArray(Uint8Array, cap * this.stride, false);
    this.#norms = new WasmArray(Float32Array, cap, false);
    if ((opts.prefilter ?? true) && elem !== "i8") {
      this.#sq8 = {
        codes: new WasmArray(Int8Array, cap * dim, false),
        rs: new WasmArray(Float32Array, cap, false),
        es: new WasmArray(Float32Array, cap, false),
      };
    }
  }

  /**
   * A store holding a copy of `count` vectors, with their norms given or
   * computed (§8.5).
   * @param bytes at least `count * stride` bytes, slot after slot
   * @param norms the stored norms, when known (one per slot)
   * @param opts as the constructor's
   * @throws FsError `EINVAL` if `bytes` or `norms` is too short
   */
  static from(
    elem: ElemType,
    dim: number,
    bytes: Uint8Array,
    count: number = Math.floor(bytes.length / (dim * elemSize(elem))),
    norms?: ArrayLike<number>,
    opts: { prefilter?: boolean } = {},
  ): WasmStore {
    // Views of wasm memory (another store's) would be detached if allocating the new store grows it.
    if (inMemory(bytes)) bytes = bytes.slice(0, count * dim * elemSize(elem));
    if (norms && ArrayBuffer.isView(norms) && inMemory(norms)) norms = Float32Array.from(norms);
    const s = new WasmStore(elem, dim, count, opts);
    s.append(bytes.subarray(0, count * s.stride), norms);
    return s;
  }

  /** Number of slots in use. */
  get count(): number {
    return this.#count;
  }

  /** Slots the store holds without growing. */
  get capacity(): number {
    return this.#norms.length;
  }

  /** Address of slot 0 in wasm memory (changes when the store grows). */
  get dataPtr(): number {
    return this.#data.ptr;
  }

  /** Address of the norms (f32 per slot) in wasm memory. */
  get normsPtr(): number {
    return this.#norms.ptr;
  }

  /**
   * The SQ8 prefilter's arrays (codes: `dim` i8 per slot; rs, es: f32 per
   * slot), or `undefined` when the store keeps none.
   */
  get prefilter(): { codesPtr: number; rsPtr: number; esPtr: number } | undefined {
    const q = this.#sq8;
    return q && { codesPtr: q.codes.ptr, rsPtr: q.rs.ptr, esPtr: q.es.ptr };
  }

  /** The vectors, `count * stride` bytes (a view for reading, valid until the next change). */
  get bytes(): Uint8Array {
    return this.#data.view.subarray(0, this.#count * this.stride);
  }

  /** The norms, one f32 per slot (a view, valid until the next change). */
  get norms(): Float32Array {
    return this.#norms.view.subarray(0, this.#count);
  }

  /**
   * One slot's vector (a view, valid until the next change).
   * @throws FsError `EINVAL` if `slot` is not in use
   */
  vector(slot: number): Uint8Array {
    this.#checkSlot(slot, this.#count);
    return this.#data.view.subarray(slot * this.stride, (slot + 1) * this.stride);
  }

  /**
   * Makes room for `n` slots (growing by half again at least).
   * @throws FsError `ENOMEM`
   */
  reserve(n: number): void {
    if (n <= this.capacity) return;
    const cap = Math.max(n, Math.ceil(this.capacity * 1.5) + 16);
    this.#data.resize(cap * this.stride, false);
    this.#norms.resize(cap, false);
    if (this.#sq8) {
      this.#sq8.codes.resize(cap * this.dim, false);
      this.#sq8.rs.resize(cap, false);
      this.#sq8.es.resize(cap, false);
    }
  }

  /**
   * Sets slot `s` (`s < count`), or appends it (`s == count`).
   * @param v the vector as stored (`stride` bytes)
   * @param norm its §8.5 norm; computed ({@linkcode vectorNormOf}) when omitted
   * @throws FsError `EINVAL` for a slot past the end or a short vector, `ENOMEM`
   */
  put(s: number, v: Uint8Array, norm?: number): void {
    this.#checkSlot(s, this.#count + 1);
    if (v.length < this.stride) throw new FsError("EINVAL", `vector has ${v.length} bytes, expected ${this.stride}`);
    const n = norm ?? vectorNormOf(v, this.elem, this.dim);
    if (s === this.#count) {
      if (inMemory(v)) v = v.slice(0, this.stride); // a view of wasm memory would not survive its growth
      this.reserve(s + 1);
      this.#count++;
    }
    this.#data.view.set(v.subarray(0, this.stride), s * this.stride);
    this.#norms.view[s] = n;
    this.#encode(s, s + 1);
  }

  /**
   * Appends whole vectors (e.g. a store read from disk, or an import batch).
   * @param bytes a multiple of `stride` bytes
   * @param norms their §8.5 norms, when known; computed in wasm when omitted
   * @returns the first new slot
   * @throws FsError `EINVAL` for a partial vector or too few norms, `ENOMEM`
   */
  append(bytes: Uint8Array, norms?: ArrayLike<number>): number {
    if (bytes.length % this.stride !== 0) {
      throw new FsError("EINVAL", `${bytes.length} bytes are not a whole number of ${this.stride}-byte vectors`);
    }
    const n = bytes.length / this.stride;
    if (norms && norms.length < n) throw new FsError("EINVAL", `${norms.length} norms for ${n} vectors`);
    // Views of wasm memory (another store's) would be detached if reserving grows it: copy them first.
    if (inMemory(bytes)) bytes = bytes.slice();
    if (norms && ArrayBuffer.isView(norms) && inMemory(norms)) norms = Float32Array.from(norms);
    const first = this.#count;
    this.reserve(first + n);
    this.#data.view.set(bytes, first * this.stride);
    if (norms) {
      this.#norms.view.set(norms.length === n ? norms : Array.prototype.slice.call(norms, 0, n), first);
    } else {
      kernels().vx_norms(
        ELEM_CODE[this.elem],
        this.#data.ptr + first * this.stride,
        this.dim,
        n,
        this.#norms.ptr + 4 * first,
      );
    }
    this.#encode(first, first + n);
    this.#count += n;
    return first;
  }

  /**
   * The swap-remove of FORMAT.md §8.4: the last slot (vector and norm) moves
   * into `s` and the store shrinks by one.
   * @throws FsError `EINVAL` if `s` is not in use
   */
  removeSwap(s: number): void {
    this.#checkSlot(s, this.#count);
    const last = this.#count - 1;
    if (s !== last) {
      this.#data.view.copyWithin(s * this.stride, last * this.stride, (last + 1) * this.stride);
      const nv = this.#norms.view;
      nv[s] = nv[last];
      const q = this.#sq8;
      if (q) {
        q.codes.view.copyWithin(s * this.dim, last * this.dim, (last + 1) * this.dim);
        q.rs.view[s] = q.rs.view[last];
        q.es.view[s] = q.es.view[last];
      }
    }
    this.#count--;
  }

  /**
   * Keeps the first `count` slots (the capacity stays).
   * @throws FsError `EINVAL` if `count` is more than the slots in use
   */
  truncate(count: number): void {
    if (!Number.isSafeInteger(count) || count < 0 || count > this.#count) {
      throw new FsError("EINVAL", `cannot truncate ${this.#count} slots to ${count}`);
    }
    this.#count = count;
  }

  /**
   * Recomputes what is derived from the vectors of slots `from .. to-1`: their
   * §8.5 norms and SQ8 codes, in wasm. Needed only after writing into the
   * views directly.
   * @throws FsError `EINVAL` for a bad range
   */
  refresh(from = 0, to: number = this.#count): void {
    this.#checkRange(from, to);
    kernels().vx_norms(
      ELEM_CODE[this.elem],
      this.#data.ptr + from * this.stride,
      this.dim,
      to - from,
      this.#norms.ptr + 4 * from,
    );
    this.#encode(from, to);
  }

  /** SQ8 codes of slots from .. to-1 (no-op without a prefilter). */
  #encode(from: number, to: number): void {
    const q = this.#sq8;
    if (!q || to <= from) return;
    kernels().vx_sq8_encode(
      ELEM_CODE[this.elem],
      this.#data.ptr + from * this.stride,
      this.dim,
      to - from,
      q.codes.ptr + from * this.dim,
      q.rs.ptr + 4 * from,
      q.es.ptr + 4 * from,
    );
  }

  /**
   * CRC-32C of each slot's vector (FORMAT.md §8.3 `vec_crc`), for verifying a
   * store read from disk in one call.
   * @returns one unsigned CRC per slot `from .. to-1`
   */
  crcs(from = 0, to: number = this.#count): Uint32Array {
    this.#checkRange(from, to);
    const n = to - from;
    const out = scratch("crcs", Uint32Array, n);
    kernels().vx_crc32c_records(this.#data.ptr + from * this.stride, this.stride, this.stride, n, out.ptr);
    return out.view.slice(0, n);
  }

  /** Frees the wasm memory; the store must not be used after. Idempotent. */
  free(): void {
    this.#data.free();
    this.#norms.free();
    if (this.#sq8) {
      this.#sq8.codes.free();
      this.#sq8.rs.free();
      this.#sq8.es.free();
    }
    this.#count = 0;
  }

  #checkSlot(s: number, end: number): void {
    if (!Number.isSafeInteger(s) || s < 0 || s >= end) {
      throw new FsError("EINVAL", `slot ${s} out of range (0..${end - 1})`);
    }
  }

  #checkRange(from: number, to: number): void {
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || to < from || to > this.#count) {
      throw new FsError("EINVAL", `slot range ${from}..${to} out of 0..${this.#count}`);
    }
  }
}

// ---- scratch arrays --------------------------------------------------------------------

const scratches = new Map<string, WasmArray<ElementCtorAny>>();
type ElementCtorAny =
  | Uint8ArrayConstructor
  | Uint32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor;

/** A per-process scratch array in wasm memory with at least `n` elements (reused between calls). */
function scratch<C extends ElementCtorAny>(name: string, C: C, n: number): WasmArray<C> {
  let a = scratches.get(name) as WasmArray<C> | undefined;
  if (!a) {
    a = new WasmArray(C, Math.max(n, 16), false);
    scratches.set(name, a as unknown as WasmArray<ElementCtorAny>);
  } else if (a.length < n) {
    a.resize(Math.max(n, Math.ceil(a.length * 1.5)), false);
  }
  return a;
}

// ---- search ------------------------------------------------------------------------------

/** What the last {@linkcode scanTopK} did (for benchmarks and tests). */
export interface ScanStats {
  /** slots considered (after `slots` and `filter`) */
  scanned: number;
  /** candidates of the SQ8 prefilter (-1 when it did not run) */
  prefiltered: number;
  /** slots rescored exactly in f64 */
  rescored: number;
  /** whether the fast f32 pass ran (false: the query is not f32, every slot was scored exactly) */
  fast: boolean;
}

let lastStats: ScanStats = { scanned: 0, prefiltered: -1, rescored: 0, fast: false };

/** What the last {@linkcode scanTopK} call did (a copy). */
export function lastScanStats(): ScanStats {
  return { ...lastStats };
}

/** One hit of {@linkcode scanTopK}. */
export interface ScanHit {
  /** the slot in the store */
  slot: number;
  /** the slot's owner, `owners[slot]` */
  ino: number;
  /** FORMAT.md §8.4 score (f64; l2 distance, cosine similarity or inner product) */
  score: number;
}

/** What {@linkcode scanTopK} searches for. */
export interface ScanOptions {
  /** the query, `dim` finite numbers (a `Float32Array` takes the fast path) */
  query: ArrayLike<number>;
  /** hits wanted, an integer ≥ 1 */
  k: number;
  /** the collection's metric */
  metric: Metric;
  /** inode owning each slot (slot -> ino), at least `count` entries: ties are ordered by it */
  owners: ArrayLike<number>;
  /** inodes never returned (e.g. the file a `--like` search starts from) */
  exclude?: ReadonlySet<number>;
  /** only slots for which this returns true are considered (e.g. a subtree) */
  filter?: (slot: number) => boolean;
  /** only these slots are considered (e.g. a small subtree's slots; duplicates count once); combined with `filter` */
  slots?: ArrayLike<number>;
}

/**
 * Exact top-k search of a store: the k best slots by FORMAT.md §8.4 (score in
 * the metric's direction, NaN last, ties by inode ascending), identical to
 * pushing every considered slot's `scanStore` score into a `TopK` (see the
 * module doc for cosine's stored norms).
 *
 * @param store the collection's store (its norms must be the §8.5 norms of
 *   its vectors: cosine scores with them, and the fast pass of ip and cosine
 *   bounds its error with them)
 * @param opts query, k, metric, owners and optional restrictions
 * @returns at most k hits, best first
 * @throws FsError `EINVAL` for a query of the wrong length, a bad k or metric,
 *   too few owners, or a slot out of range
 */
export function scanTopK(store: WasmStore, opts: ScanOptions): ScanHit[] {
  const { query, k, metric, owners, exclude, filter } = opts;
  let slots = opts.slots;
  const dim = store.dim, count = store.count;
  if (!Number.isSafeInteger(k) || k < 1) throw new FsError("EINVAL", `bad k ${k}: must be an integer ≥ 1`);
  if (!isMetric(metric)) throw new FsError("EINVAL", `unknown metric ${JSON.stringify(metric)}`);
  if (query.length !== dim) throw new FsError("EINVAL", `query has ${query.length} elements, expected ${dim}`);
  if (owners.length < count) throw new FsError("EINVAL", `${owners.length} owners for ${count} slots`);
  const top = new TopK(k, metric);
  if (slots) slots = uniqueSlots(slots, count);
  const n = slots ? slots.length : count;
  if (count === 0 || n === 0) return [];

  // Scratch in wasm memory; every allocation comes before any view is taken.
  const q32 = scratch("q32", Float32Array, dim);
  const q64 = scratch("q64", Float64Array, dim);
  const slotList = slots ? scratch("slots", Uint32Array, n) : undefined;
  const allow = filter ? scratch("allow", Uint8Array, count) : undefined;
  const cand = scratch("cand", Uint32Array, n);
  const candLo = scratch("candLo", Float64Array, n);
  const kk = Math.min(k + (exclude?.size ?? 0), n);
  const heapArr = scratch("heap", Float64Array, kk);
  const scores = scratch("scores", Float64Array, n);

  const q64v = q64.view;
  let f32 = true;
  for (let i = 0; i < dim; i++) {
    const x = +query[i];
    q64v[i] = x;
    if (Math.fround(x) !== x) f32 = false; // also false for NaN
  }
  q32.view.set(q64v.subarray(0, dim));
  const qn = norm(q64v.subarray(0, dim));
  if (slotList) {
    slotList.view.set(slots!);
  }
  let scanned = n;
  if (allow) {
    const v = allow.view;
    scanned = 0;
    if (slots) {
      for (let i = 0; i < n; i++) scanned += v[slots[i]] = filter!(slots[i]) ? 1 : 0;
    } else {
      for (let s = 0; s < count; s++) scanned += v[s] = filter!(s) ? 1 : 0;
    }
  }

  const K = kernels();
  const elem = ELEM_CODE[store.elem], mcode = METRIC_CODE[metric];
  let nc: number;
  let prefiltered = -1;
  const pre = store.prefilter;
  if (slotList && !allow && n <= 2 * kk + 16) {
    // A few given slots (a graph search's candidates): the passes below would keep them all for the exact
    // rescoring anyway, so score them exactly at once (the same answer, without the passes' fixed cost).
    cand.view.set(slotList.view.subarray(0, n));
    nc = n;
  } else if (f32 && pre) {
    // SQ8 first; then the f32 pass over its candidates when they are many (exact rescoring costs ~4 f32 passes).
    nc = K.vx_scan_sq8(
      mcode,
      pre.codesPtr,
      dim,
      count,
      q32.ptr,
      qn,
      store.normsPtr,
      pre.rsPtr,
      pre.esPtr,
      slotList ? slotList.ptr : 0,
      n,
      allow ? allow.ptr : 0,
      kk,
      heapArr.ptr,
      cand.ptr,
      candLo.ptr,
    );
    prefiltered = nc;
    if (nc > 2 * kk + 16) {
      const again = scratch("again", Uint32Array, n);
      again.view.set(cand.view.subarray(0, nc));
      nc = K.vx_scan_candidates(
        elem,
        mcode,
        store.dataPtr,
        dim,
        count,
        q32.ptr,
        qn,
        store.normsPtr,
        again.ptr,
        nc,
        0,
        kk,
        heapArr.ptr,
        cand.ptr,
        candLo.ptr,
      );
    }
  } else if (f32) {
    nc = K.vx_scan_candidates(
      elem,
      mcode,
      store.dataPtr,
      dim,
      count,
      q32.ptr,
      qn,
      store.normsPtr,
      slotList ? slotList.ptr : 0,
      n,
      allow ? allow.ptr : 0,
      kk,
      heapArr.ptr,
      cand.ptr,
      candLo.ptr,
    );
  } else {
    // Not an f32 query: the fast pass's bound does not hold; score every considered slot exactly.
    const cv = cand.view, av = allow?.view;
    nc = 0;
    for (let i = 0; i < n; i++) {
      const s = slots ? slots[i] : i;
      if (!av || av[s]) cv[nc++] = s;
    }
  }
  K.vx_score_exact(elem, mcode, store.dataPtr, dim, q64.ptr, qn, store.normsPtr, cand.ptr, nc, scores.ptr);
  lastStats = { scanned, prefiltered, rescored: nc, fast: f32 };
  const cv = cand.view, sv = scores.view;
  const slotOf = new Map<number, number>();
  for (let i = 0; i < nc; i++) {
    const s = cv[i];
    const ino = owners[s];
    if (exclude?.has(ino)) continue;
    top.push(ino, sv[i]);
    slotOf.set(ino, s);
  }
  return top.result().map((h) => ({ slot: slotOf.get(h.ino)!, ino: h.ino, score: h.score }));
}

/**
 * Exact scores of every slot (or of `slots`), as `scanStore` reports them
 * (cosine with the stored norms): for callers that need all scores, such as
 * a filtered traversal or a test.
 * @param store the store
 * @param query `dim` numbers
 * @param metric the collection's metric
 * @param slots the slots to score (default 0..count-1)
 * @returns one f64 score per slot scored, in the same order
 * @throws FsError `EINVAL` for a bad query, metric or slot
 */
export function scoreAll(
  store: WasmStore,
  query: ArrayLike<number>,
  metric: Metric,
  slots?: ArrayLike<number>,
): Float64Array {
  const dim = store.dim;
  if (!isMetric(metric)) throw new FsError("EINVAL", `unknown metric ${JSON.stringify(metric)}`);
  if (query.length !== dim) throw new FsError("EINVAL", `query has ${query.length} elements, expected ${dim}`);
  const n = slots ? slots.length : store.count;
  const q64 = scratch("q64", Float64Array, dim);
  const slotList = slots ? scratch("slots", Uint32Array, n) : undefined;
  const scores = scratch("scores", Float64Array, n);
  const qv = q64.view;
  for (let i = 0; i < dim; i++) qv[i] = +query[i];
  if (slotList) {
    const v = slotList.view;
    for (let i = 0; i < n; i++) {
      const s = slots![i];
      if (!Number.isSafeInteger(s) || s < 0 || s >= store.count) throw new FsError("EINVAL", `slot ${s} out of range`);
      v[i] = s;
    }
  }
  kernels().vx_score_exact(
    ELEM_CODE[store.elem],
    METRIC_CODE[metric],
    store.dataPtr,
    dim,
    q64.ptr,
    norm(qv.subarray(0, dim)),
    store.normsPtr,
    slotList ? slotList.ptr : 0,
    n,
    scores.ptr,
  );
  return scores.view.slice(0, n);
}

/**
 * The distinct slots of a list, in first-seen order (a slot listed twice
 * would take two places among the k best).
 * @throws FsError `EINVAL` for a slot that is not an integer in 0..count-1
 */
/** Marks of {@linkcode uniqueSlots}, all 0 between calls (reused: a search's few candidates must not cost O(count)). */
let seenMarks = new Uint8Array(0);

function uniqueSlots(slots: ArrayLike<number>, count: number): Uint32Array {
  if (seenMarks.length < count) seenMarks = new Uint8Array(Math.max(count, 2 * seenMarks.length));
  const seen = seenMarks;
  const out = new Uint32Array(slots.length);
  let n = 0;
  try {
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i];
      if (!Number.isSafeInteger(s) || s < 0 || s >= count) throw new FsError("EINVAL", `slot ${s} out of range`);
      if (seen[s]) continue;
      seen[s] = 1;
      out[n++] = s;
    }
  } finally {
    for (let i = 0; i < n; i++) seen[out[i]] = 0;
  }
  return out.subarray(0, n);
}

function checkDim(dim: number): void {
  if (!Number.isInteger(dim) || dim < 1 || dim > MAX_DIM) {
    throw new FsError("EINVAL", `bad dimension ${dim}: must be an integer in 1..${MAX_DIM}`);
  }
}
