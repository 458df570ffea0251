/**
 * One collection's HNSW graph (Malkov and Yashunin, IEEE TPAMI 2018) in the
 * shared WebAssembly memory, in the terms of docs/FORMAT.md §8.6: node ids of
 * its own, a slot map slot → node, node records of 16 + 4·M0 bytes and upper
 * records of 16 + 4·M bytes, persisted block by block with owner-seeded
 * checksums. The algorithm runs in C (wasm/hnsw.c); this class owns its
 * arrays, grows them, and encodes, decodes and checks the file.
 * The rest lives beside it: the parameters in ./params.ts, the shapes of
 * its answers in ./types.ts, the arrays and the C state block in
 * ./memory.ts, the C module in ./_core.ts, the header codec in ./codec.ts,
 * the region blocks in ./regions.ts, the consistency rules in ./check.ts,
 * the lenient load in ./sanitize.ts and the search filter in
 * ./slot_filter.ts.
 *
 * The engine's side of the contract:
 * - the vectors are the collection's contiguous store in the shared memory
 *   (slot `s` at `vecPtr + s * dim * elemSize`) with one f32 norm per slot at
 *   `normPtr + 4 * s` (FORMAT.md §8.5, needed for cosine); pass both with
 *   {@linkcode HnswGraph.setStore} before any operation and whenever the store
 *   moves or changes size;
 * - {@linkcode HnswGraph.remove} is called while the slot still holds the
 *   vector being deleted (before the swap-remove of §8.4 overwrites it), then
 *   {@linkcode HnswGraph.moveSlot} for the slot that moved; a vector changed
 *   in place is {@linkcode HnswGraph.replace}d after the store has the new one;
 * - persistence: {@linkcode HnswGraph.dirtyBlocks} (write them), flush,
 *   {@linkcode HnswGraph.encodeHeader} (block 0), flush,
 *   {@linkcode HnswGraph.markClean}.
 *
 * Graph distances (smaller is nearer): squared L2, 1 − dot (ip), 1 − cos with
 * the stored norms (cosine; 1 when either norm is 0). Searches return slots
 * with these distances; the engine rescores from the store (§8.4 scores).
 *
 * @example
 * ```ts
 * import { HnswGraph } from "./graph.ts";
 * import { WasmArray } from "../wasm/runtime.ts";
 * const dim = 4, n = 100;
 * const store = new WasmArray(Float32Array, n * dim);
 * for (let i = 0; i < n * dim; i++) store.view[i] = Math.sin(i);
 * const g = HnswGraph.create({ dim, metric: "l2", elem: "f32", m: 8, efConstruction: 64, collectionId: 1, blockSize: 4096 });
 * g.setStore(store.ptr, 0, n);
 * g.build(Uint32Array.from({ length: n }, (_, i) => i), new Uint32Array(n));
 * const { slots } = g.search(store.view.slice(5 * dim, 6 * dim), 1, 32);
 * slots[0]; // 5
 * g.free();
 * store.free();
 * ```
 * @module
 */
import { FsError } from "../errors.ts";
import { memory, WasmArray } from "../wasm/runtime.ts";
import {
  decodeElemType,
  decodeMetric,
  elemSize,
  type ElemType,
  encodeElemType,
  encodeMetric,
  type Metric,
} from "../vector/types.ts";
import { F, FLAG_DELETED, HN, type HnswExports, MAX_LEVEL, NONE, WATCH_CAP } from "./_abi.ts";
import {
  decodeHeader,
  emptyHeader,
  encodeHeader,
  geometry,
  type HnswHeader,
  type HnswLayout,
  layoutOf,
  nodeRecordSize,
  planLayout,
  type RegionGeometry,
  upperRecordSize,
} from "./codec.ts";
import { BUILD_PROGRESS_STEP, checkParams, DEFAULT_EF, type HnswParams } from "./params.ts";
import type { HnswDecodeOptions, HnswHits, HnswStats, HnswWritePlan } from "./types.ts";
import { checkDerivedCounts, checkRecords } from "./check.ts";
import { sanitizeRecords } from "./sanitize.ts";
import { core, hnswError } from "./_core.ts";
import { encodeRegionBlock, readRegions, type RegionSource, type RegionTarget } from "./regions.ts";
import { GraphMemory } from "./memory.ts";

type U8A = WasmArray<Uint8ArrayConstructor>;

/**
 * An HNSW graph over one collection's vector store. Not thread-safe; one
 * operation at a time. Free it with {@linkcode free}.
 */
export class HnswGraph {
  /** the parameters (with the seed filled in) */
  readonly params: Readonly<Required<HnswParams>>;
  /** records per block of the node, upper and slot map regions */
  readonly geometry: Readonly<RegionGeometry>;
  readonly #ex: HnswExports;
  /** the arrays in the shared memory and the C state block naming them */
  readonly #m: GraphMemory;
  readonly #nodeWords: number;
  readonly #upperWords: number;
  #freed = false;
  /** layout of the file as last written (markClean), null before */
  #layout: HnswLayout | null = null;
  /** layout the next write uses (set by dirtyBlocks) */
  #pending: HnswLayout | null = null;
  /** slots the slot map must cover on disk: the store count */
  #count = 0;
  #buildNs = 0;
  /** generation and count of the header last decoded or encoded */
  #generation = 0;
  #headerCount = 0;
  #problems: string[] = [];
  /** distance computations per unit of ef of unfiltered searches (moving average), for preferExactScan */
  #distPerEf = 0;
  /** live nodes that lost edges in a lenient decode, to refill once a store is set */
  #damaged: number[] = [];

  private constructor(params: HnswParams, caps: { nodes: number; uppers: number; slots: number }) {
    checkParams(params);
    this.params = { ...params, seed: params.seed ?? params.collectionId };
    this.geometry = geometry(params.blockSize, params.m);
    this.#ex = core();
    const m = params.m, m0 = 2 * m;
    this.#nodeWords = nodeRecordSize(m0) / 4;
    this.#upperWords = upperRecordSize(m) / 4;
    this.#m = new GraphMemory(params, this.geometry, this.#nodeWords, this.#upperWords, caps);
    const s = this.#m.st.view;
    s[F.DIM] = params.dim;
    s[F.METRIC] = encodeMetric(params.metric);
    s[F.ELEM] = encodeElemType(params.elem);
    s[F.M] = m;
    s[F.M0] = m0;
    s[F.EFC] = params.efConstruction;
    s[F.NODE_WORDS] = this.#nodeWords;
    s[F.UPPER_WORDS] = this.#upperWords;
    s[F.NODE_PB] = this.geometry.nodePerBlock;
    s[F.UPPER_PB] = this.geometry.upperPerBlock;
    s[F.SLOT_PB] = this.geometry.slotPerBlock;
    s[F.STRIDE] = params.dim * elemSize(params.elem);
    s[F.FREE_NODE] = NONE;
    s[F.FREE_UPPER] = NONE;
    s[F.ENTRY] = NONE;
    s[F.CAND_CAP] = this.#m.candCap;
    s[F.WATCH_CAP] = WATCH_CAP;
    s[F.PINNED] = NONE;
    const seed = BigInt(this.params.seed);
    s[F.SEED_LO] = Number(seed & 0xffffffffn);
    s[F.SEED_HI] = Number((seed >> 32n) & 0xffffffffn);
    this.#m.pointers();
  }

  /**
   * An empty graph.
   * @throws FsError `EINVAL` for parameters out of range (see {@linkcode HnswParams};
   *   also when a node record does not fit a block)
   */
  static create(params: HnswParams): HnswGraph {
    return new HnswGraph(params, { nodes: 64, uppers: 16, slots: 64 });
  }

  /**
   * Decodes a graph file (FORMAT.md §8.6).
   * @param file the whole file, `fileBlocks * blockSize` bytes
   * @param params the collection's parameters: dim, metric, elem and M must be
   *   the header's (efConstruction and the seed are taken from the header)
   * @param opts `lenient` for the catch-up (see {@linkcode HnswDecodeOptions})
   * @throws FsError `EUCLEAN` with the reason: bad magic, version or header
   *   checksum (always), a region block's checksum or an inconsistent record
   *   (unless lenient), a truncated file; `EINVAL` when the header's
   *   parameters are not the collection's
   */
  static decode(file: Uint8Array, params: HnswParams, opts: HnswDecodeOptions = {}): HnswGraph {
    const bs = params.blockSize;
    if (file.buffer === memory().buffer) file = file.slice(); // the allocations below would detach a view of wasm memory
    if (file.length < bs) throw new FsError("EUCLEAN", `HNSW graph file of ${file.length} bytes has no header block`);
    const h = decodeHeader(file.subarray(0, bs), params.collectionId);
    const want = {
      dim: params.dim,
      metric: encodeMetric(params.metric),
      elem: encodeElemType(params.elem),
      m: params.m,
    };
    for (const [k, v] of Object.entries(want)) {
      if ((h as unknown as Record<string, number>)[k] !== v) {
        throw new FsError(
          "EINVAL",
          `HNSW graph header: ${k} ${(h as unknown as Record<string, number>)[k]} differs from the collection's ${v}`,
        );
      }
    }
    const layout = layoutOf(h, bs);
    if (file.length < layout.fileBlocks * bs) {
      throw new FsError(
        "EUCLEAN",
        `HNSW graph file truncated: ${file.length} bytes, its regions end at ${layout.fileBlocks * bs}`,
      );
    }
    const g = new HnswGraph(
      { ...params, efConstruction: h.efConstruction, seed: h.seed },
      { nodes: Math.max(h.nodeCap, 1), uppers: Math.max(h.upperCap, 1), slots: Math.max(h.slotCap, 1) },
    );
    try {
      g.#load(file, h, layout, !!opts.lenient);
    } catch (e) {
      g.free();
      throw e;
    }
    return g;
  }

  // ---- memory ---------------------------------------------------------------------------

  #live(): void {
    if (this.#freed) throw new FsError("EINVAL", "HnswGraph used after free");
  }

  #need(why: string): void {
    const s = this.#m.st.view;
    if (!s[F.VEC] || (this.params.metric === "cosine" && !s[F.NORM])) {
      throw new FsError("EINVAL", `HnswGraph.${why}: no vector store set (setStore)`);
    }
  }

  // ---- the engine's operations ----------------------------------------------------------

  /**
   * Tells the graph where the collection's vectors are: call before any
   * operation and again whenever the store moves or changes size.
   * @param vecPtr address of slot 0's vector in the shared memory (slot s at vecPtr + s·dim·elemSize)
   * @param normPtr address of slot 0's f32 norm (FORMAT.md §8.5); required for cosine, else may be 0
   * @param count slots in the store (the slot map region covers at least this many)
   */
  setStore(vecPtr: number, normPtr: number, count: number): void {
    this.#live();
    const s = this.#m.st.view;
    s[F.VEC] = vecPtr;
    s[F.NORM] = normPtr;
    this.#count = count;
    this.#m.growSlots(count);
  }

  /**
   * Inserts slot `slot` (Alg. 1 of the paper): a level from the seeded
   * generator (mL = 1/ln M), a greedy descent to that level, then on each
   * level below a search with efConstruction and links to the M neighbours
   * the heuristic (Alg. 4) selects, with backlinks pruned to M (M0 on level 0).
   * Takes a free node id, else a new one; when no id is free and deleted
   * nodes still named by edges number 16 and 1/64 of the nodes,
   * {@linkcode consolidate} runs first and frees them.
   * @param slot a slot of the store, not yet indexed
   * @param vecCrc the slot map's vec_crc of the slot (FORMAT.md §8.3), kept in the node for the catch-up
   * @returns the node id
   * @throws FsError `EEXIST` if the slot is indexed; `EINVAL` without a store
   */
  insert(slot: number, vecCrc: number): number {
    this.#live();
    this.#need("insert");
    this.#m.growSlots(slot + 1);
    for (;;) {
      const s = this.#m.st.view;
      const r = this.#ex.hn_insert(this.#m.st.ptr, slot, vecCrc >>> 0, s[F.INSERTS], 1);
      if (r >= 0) return r;
      if (r === HN.ENOSPC) {
        const uppers = s[F.UPPER_COUNT];
        this.#m.growNodes(s[F.NODE_COUNT] + 1); // may grow the memory: `s` is stale after it
        this.#m.growUppers(uppers + MAX_LEVEL + 1);
        continue;
      }
      throw hnswError(r, `insert of slot ${slot}`);
    }
  }

  /**
   * Deletes the node of `slot`: marks it deleted (never a result, never
   * traversed), repairs the nodes linking to it (its neighbours that link
   * back, every upper-level list naming it, and, with `vectorPresent`, the
   * linkers a search for its vector reaches: each gets its list re-selected
   * by the heuristic from its other neighbours and the deleted node's,
   * FreshDiskANN-style), and reclaims the node id and its upper records as
   * soon as no edge names it. A node still named (a far node's level-0 edge
   * the search did not reach) stays deleted, skipped by searches, until
   * {@linkcode consolidate} runs: by itself when an insertion needs an id and
   * enough wait (see {@linkcode insert}), or when deleted nodes exceed a tenth
   * of the nodes.
   * @param slot an indexed slot
   * @param opts `vectorPresent` (default true): the store still holds the
   *   slot's deleted vector; false when it is gone or changed
   * @throws FsError `ENOENT` if the slot is not indexed
   */
  remove(slot: number, opts: { vectorPresent?: boolean } = {}): void {
    this.#live();
    this.#need("remove");
    const r = this.#ex.hn_remove(this.#m.st.ptr, slot, opts.vectorPresent === false ? 0 : 1);
    if (r < 0) throw hnswError(r, `remove of slot ${slot}`);
    const s = this.#m.st.view;
    if (s[F.DELETED] > 16 && s[F.DELETED] * 10 > s[F.NODE_COUNT]) this.consolidate();
  }

  /**
   * The swap-remove of FORMAT.md §8.4: the node of slot `from` now names slot
   * `to`; no edge changes. Call after {@linkcode remove} of `to`'s node (or
   * with `to` unindexed). A `from` that is not indexed just leaves `to` unindexed.
   * @throws FsError `EEXIST` if `to` is indexed
   */
  moveSlot(from: number, to: number): void {
    this.#live();
    this.#m.growSlots(Math.max(from, to) + 1);
    const r = this.#ex.hn_move_slot(this.#m.st.ptr, from, to);
    if (r < 0) throw hnswError(r, `move of slot ${from} to ${to}`);
  }

  /**
   * Re-indexes a slot whose vector changed (already in the store): delete
   * (without a search, the old vector being gone) and insert; the node id is
   * usually the same.
   * @returns the node id
   */
  replace(slot: number, vecCrc: number): number {
    this.#live();
    this.#need("replace");
    if (this.nodeOfSlot(slot) !== -1) {
      const r = this.#ex.hn_remove(this.#m.st.ptr, slot, 0);
      if (r < 0) throw hnswError(r, `replace of slot ${slot}`);
    }
    return this.insert(slot, vecCrc);
  }

  /**
   * k-NN search (Alg. 5): greedy descent through the upper levels, then a
   * level-0 search with max(ef, k) candidates.
   *
   * With `filter`, a bitmap over slots in the shared memory (bit `s & 7` of
   * byte `s >> 3` set = slot s may be returned, e.g. a {@linkcode SlotFilter}),
   * the traversal still walks through the other nodes but keeps only matching
   * ones, and goes on until ef matching nodes are found or the reachable graph
   * is exhausted: recall holds at any selectivity, but a filter matching few
   * slots visits much of the graph. Recommended: scan the matching slots
   * exactly when they are fewer than about 5% of the collection (see
   * `bench/hnsw_core.ts` for the crossover).
   *
   * @param query f32 vector of length dim
   * @param k hits wanted (≥ 1)
   * @param ef level-0 candidate list size (default {@link DEFAULT_EF}; raised to k)
   * @param filter address of a slot bitmap covering every slot, or 0 / undefined for none
   * @returns up to k hits, nearest first (ties by slot)
   * @throws FsError `EINVAL` for a query of the wrong length or without a store
   */
  search(query: Float32Array, k: number, ef: number = DEFAULT_EF, filter?: number | { ptr: number }): HnswHits {
    this.#live();
    this.#need("search");
    if (query.length !== this.params.dim) {
      throw new FsError(
        "EINVAL",
        `HNSW search: query of ${query.length} elements, the graph's dim is ${this.params.dim}`,
      );
    }
    if (!(k >= 1)) return { slots: new Uint32Array(0), distances: new Float32Array(0) };
    // the query first: it may be a view of wasm memory, which growing the results would detach
    this.#m.qbuf.view.set(query);
    if (this.#m.results.length < 2 * k) {
      this.#m.results.resize(2 * k);
      this.#m.pointers();
    }
    const f = filter === undefined ? 0 : typeof filter === "number" ? filter : filter.ptr;
    const s = this.#m.st.view;
    const d0 = s[F.DISTS_LO];
    const n = this.#ex.hn_search(this.#m.st.ptr, k, Math.max(ef, k), f);
    if (n < 0) throw hnswError(n, "search");
    if (!f) {
      const per = ((this.#m.st.view[F.DISTS_LO] - d0) >>> 0) / Math.max(ef, k);
      this.#distPerEf = this.#distPerEf ? 0.95 * this.#distPerEf + 0.05 * per : per;
    }
    const r = this.#m.results.view;
    const slots = new Uint32Array(n);
    const distances = new Float32Array(n);
    const fv = new Float32Array(r.buffer, r.byteOffset, 2 * n);
    for (let i = 0; i < n; i++) {
      distances[i] = fv[2 * i];
      slots[i] = r[2 * i + 1];
    }
    // Equal distances: the heap's order is by node id; report by slot.
    for (let i = 1; i < n; i++) {
      if (distances[i] === distances[i - 1] && slots[i] < slots[i - 1]) {
        let j = i;
        while (j > 0 && distances[j] === distances[j - 1] && slots[j] < slots[j - 1]) {
          [slots[j], slots[j - 1]] = [slots[j - 1], slots[j]];
          j--;
        }
      }
    }
    return { slots, distances };
  }

  /**
   * Whether a search restricted to `matching` slots (a subtree) should scan
   * those slots exactly instead of a filtered graph search. Cost model: a
   * filtered search needs about D / s distance computations to find ef
   * matching nodes (D: those of an unfiltered search at that ef, measured
   * from this graph's searches, else M0/2 per unit of ef; s: the matching
   * fraction), the exact scan s·N, each about 4 times cheaper (sequential,
   * no heap); so scan when matching² ≤ 4·D·N. Measured with
   * `bench/hnsw_core.ts --filter`: on MNIST (9,000 × 784) the scan is faster
   * up to about 30% of the slots, on 100K × 128 up to about 10%; both
   * crossovers agree with the model. Recall is not the criterion: the
   * filtered search keeps recall at any selectivity (it walks the whole
   * reachable graph if it must), the scan is exact.
   * @param matching slots the filter lets through
   * @param ef the search's ef (default {@link DEFAULT_EF})
   */
  preferExactScan(matching: number, ef: number = DEFAULT_EF): boolean {
    this.#live();
    const s = this.#m.st.view;
    const n = this.#count || s[F.NODE_COUNT] - s[F.DELETED];
    if (matching >= n) return false;
    const d = (this.#distPerEf || this.params.m) * Math.max(ef, 10);
    return matching * matching <= 4 * d * n;
  }

  /**
   * Builds the graph from scratch by inserting `slots` in order (the level of
   * the i-th is the generator's i-th draw, so the same slots in the same order
   * give the same bytes). Whatever the graph held is dropped.
   * @param slots slots of the store to index (distinct)
   * @param crcs their vec_crc (FORMAT.md §8.3), same length
   * @param onProgress called with (inserted, total) every {@link BUILD_PROGRESS_STEP}
   *   insertions and at the end (the build runs in chunks then; the bytes are the same)
   * @throws FsError `EINVAL` for a repeated slot or mismatched lengths
   */
  build(
    slots: ArrayLike<number>,
    crcs: ArrayLike<number>,
    onProgress?: (done: number, total: number) => void,
  ): void {
    this.#live();
    this.#need("build");
    if (slots.length !== crcs.length) {
      throw new FsError("EINVAL", `HNSW build: ${slots.length} slots, ${crcs.length} crcs`);
    }
    const t0 = performance.now();
    // copies first: the arguments may be views of wasm memory, which the allocations below can detach
    slots = Uint32Array.from(slots);
    crcs = Uint32Array.from(crcs);
    this.#m.clear();
    const n = slots.length;
    let maxSlot = -1;
    for (let i = 0; i < n; i++) maxSlot = Math.max(maxSlot, slots[i]);
    this.#m.growSlots(maxSlot + 1);
    this.#m.growNodes(n);
    this.#m.growUppers(Math.ceil((n / (this.params.m - 1)) * 1.2) + MAX_LEVEL + 1);
    const sl = new WasmArray(Uint32Array, n, false);
    const cr = new WasmArray(Uint32Array, n, false);
    try {
      sl.view.set(slots);
      cr.view.set(crcs);
      let i = 0;
      while (i < n) {
        // hn_build inserts slots[i] .. slots[end - 1] with level counters i..: chunks give the same graph
        const end = onProgress ? Math.min(n, i + BUILD_PROGRESS_STEP) : n;
        const r = this.#ex.hn_build(this.#m.st.ptr, sl.ptr, cr.ptr, end, i);
        if (r < 0) {
          const at = Math.floor(-r / 8) - 1, code = -(-r % 8);
          throw hnswError(code === 0 ? HN.EINVAL : code, `build at slot ${slots[at]}`);
        }
        if (r > i) onProgress?.(r, n);
        if (r === n) break;
        i = r;
        if (r === end) continue; // a chunk done, no room needed yet
        const s = this.#m.st.view;
        const nodes = s[F.NODE_COUNT], uppers = s[F.UPPER_COUNT];
        this.#m.growNodes(nodes + (n - i)); // may grow the memory: `s` is stale after it
        this.#m.growUppers(uppers + MAX_LEVEL + 1);
      }
    } finally {
      sl.free();
      cr.free();
    }
    this.#m.st.view[F.INSERTS] = 0;
    this.#m.st.view[F.RECLAIMED] = 0;
    this.#buildNs = Math.round((performance.now() - t0) * 1e6);
  }

  /**
   * Rebuilds the graph compactly: the live nodes' slots are reinserted in slot
   * order into a fresh graph (node ids 0..n-1, no deleted or free node). The
   * file must then be rewritten if it shrinks; dirtyBlocks reports what changed.
   */
  optimize(): void {
    this.#live();
    const map = this.#m.slotmap.view;
    const slots: number[] = [];
    const crcs: number[] = [];
    const nodes = this.#m.nodes.view, w = this.#nodeWords;
    for (let s = 0; s < map.length; s++) {
      const n = map[s];
      if (n === NONE) continue;
      slots.push(s);
      crcs.push(nodes[n * w + 3]);
    }
    this.build(slots, crcs);
  }

  /**
   * Repairs every list naming a deleted node and frees all deleted nodes
   * (FreshDiskANN's consolidation; O(nodes · M0) plus a heuristic per
   * affected list).
   * @returns the nodes freed
   */
  consolidate(): number {
    this.#live();
    this.#need("consolidate");
    return this.#ex.hn_consolidate(this.#m.st.ptr);
  }

  // ---- queries --------------------------------------------------------------------------

  /** The node of a slot, or -1 when the slot is not indexed. */
  nodeOfSlot(slot: number): number {
    this.#live();
    const map = this.#m.slotmap.view;
    return slot < map.length && map[slot] !== NONE ? map[slot] : -1;
  }

  /** The slot a node names, or -1 for a free or deleted node (or an id out of range). */
  slotOfNode(node: number): number {
    this.#live();
    const s = this.#m.st.view;
    if (node < 0 || node >= s[F.NODE_COUNT]) return -1;
    const v = this.#m.n2s.view[2 * node];
    return v === NONE ? -1 : v;
  }

  /** A node's record: slot (NONE for free), level, flags, vec_crc, and its neighbours per level. */
  node(n: number): { slot: number; level: number; flags: number; vecCrc: number; neighbors: number[][] } {
    this.#live();
    const nodes = this.#m.nodes.view, ups = this.#m.uppers.view;
    const w = this.#nodeWords, uw = this.#upperWords;
    const b = n * w;
    const level = nodes[b + 1] & 0xff, flags = (nodes[b + 1] >> 8) & 0xff;
    const neighbors: number[][] = [Array.from(nodes.subarray(b + 4, b + 4 + (nodes[b + 1] >>> 16)))];
    let u = nodes[b + 2];
    for (let l = 1; l <= level && u !== NONE; l++) {
      const ub = u * uw;
      neighbors.push(Array.from(ups.subarray(ub + 4, ub + 4 + ((ups[ub + 1] >> 8) & 0xff))));
      u = ups[ub + 2];
    }
    return { slot: nodes[b], level, flags, vecCrc: nodes[b + 3], neighbors };
  }

  /** Node ids in use, deleted or free: nodes 0 .. nodeCount - 1 exist (FORMAT.md §8.6 `node_count`). */
  get nodeCount(): number {
    this.#live();
    return this.#m.st.view[F.NODE_COUNT];
  }

  /** Entry point node (-1 when empty) and the top level. */
  get entry(): { node: number; level: number } {
    this.#live();
    const s = this.#m.st.view;
    return { node: s[F.ENTRY] === NONE ? -1 : s[F.ENTRY], level: s[F.MAX_LEVEL] };
  }

  /** Statistics (see {@linkcode HnswStats}). */
  stats(): HnswStats {
    this.#live();
    const s = this.#m.st.view;
    const nodes = this.#m.nodes.view, w = this.#nodeWords;
    const levels: number[] = [];
    let live = 0, free = 0;
    for (let n = 0; n < s[F.NODE_COUNT]; n++) {
      const b = n * w;
      if (nodes[b + 1] & (FLAG_DELETED << 8)) continue;
      if (nodes[b] === NONE) {
        free++;
        continue;
      }
      live++;
      const l = nodes[b + 1] & 0xff;
      while (levels.length <= l) levels.push(0);
      levels[l]++;
    }
    const layout = this.#pending ?? this.#layout ?? this.#planned();
    const mem = this.#m.bytes;
    return {
      nodes: live,
      deleted: s[F.DELETED],
      free,
      nodeCount: s[F.NODE_COUNT],
      upperCount: s[F.UPPER_COUNT],
      reclaimed: s[F.RECLAIMED],
      levels,
      maxLevel: s[F.MAX_LEVEL],
      entry: s[F.ENTRY] === NONE ? -1 : s[F.ENTRY],
      bytes: layout.fileBlocks * this.params.blockSize,
      memoryBytes: mem,
      m: this.params.m,
      m0: 2 * this.params.m,
      efConstruction: this.params.efConstruction,
      dim: this.params.dim,
      metric: this.params.metric,
      elem: this.params.elem,
      buildMs: this.#buildNs / 1e6,
      insertsSinceBuild: s[F.INSERTS],
      distances: s[F.DISTS_HI] * 2 ** 32 + s[F.DISTS_LO],
      hops: s[F.HOPS_HI] * 2 ** 32 + s[F.HOPS_LO],
    };
  }

  /** Problems found by the last lenient {@linkcode decode} (empty otherwise). */
  get decodeProblems(): readonly string[] {
    return this.#problems;
  }

  /**
   * Consistency check (for fsck): every edge names an existing, non-free node
   * whose level reaches the edge's level, no node links itself or names a
   * neighbour twice, counts ≤ M0 on level 0 and ≤ M above, each node's upper
   * records form its chain of levels 1..level and every upper record is used
   * once or is on the free list, the free lists hold exactly the free nodes
   * and records, slot map and node slots agree both ways for live nodes, the
   * entry point is a live node on the top level and no live node is above it.
   * @returns the problems, one sentence each (empty when consistent)
   */
  check(): string[] {
    this.#live();
    const s = this.#m.st.view;
    return checkRecords({
      nodes: this.#m.nodes.view,
      uppers: this.#m.uppers.view,
      slotmap: this.#m.slotmap.view,
      nodeWords: this.#nodeWords,
      upperWords: this.#upperWords,
      m: this.params.m,
      nodeCount: s[F.NODE_COUNT],
      upperCount: s[F.UPPER_COUNT],
      freeNode: s[F.FREE_NODE],
      freeUpper: s[F.FREE_UPPER],
      entry: s[F.ENTRY],
      maxLevel: s[F.MAX_LEVEL],
    });
  }

  /**
   * The derived in-degrees (all levels, and levels ≥ 1) against the edges the
   * records hold, for tests of mutation sequences: a count below the truth
   * would free a node still named. Only meaningful on a live graph (after
   * create, build or decode).
   * @returns the mismatches, one sentence each (empty when they agree)
   * @throws FsError EINVAL after {@link HnswGraph.free}
   */
  checkDerived(): string[] {
    this.#live();
    const s = this.#m.st.view;
    return checkDerivedCounts({
      nodes: this.#m.nodes.view,
      uppers: this.#m.uppers.view,
      nodeWords: this.#nodeWords,
      upperWords: this.#upperWords,
      nodeCount: s[F.NODE_COUNT],
      indeg: this.#m.indeg.view,
      upin: this.#m.upin.view,
    });
  }

  // ---- persistence ----------------------------------------------------------------------

  /** The layout the current contents need (the written one while it fits). */
  #planned(): HnswLayout {
    const s = this.#m.st.view;
    const need = { nodes: s[F.NODE_COUNT], uppers: s[F.UPPER_COUNT], slots: Math.max(this.#count, this.#slotExtent()) };
    const l = this.#layout;
    if (l && need.nodes <= l.nodeCap && need.uppers <= l.upperCap && need.slots <= l.slotCap) return l;
    return planLayout(this.params.blockSize, this.params.m, need);
  }

  /** One past the highest indexed slot. */
  #slotExtent(): number {
    const map = this.#m.slotmap.view;
    for (let s = map.length - 1; s >= 0; s--) if (map[s] !== NONE) return s + 1;
    return 0;
  }

  /**
   * Whether {@linkcode dirtyBlocks} would return any block: a record changed
   * since {@linkcode markClean}, or the layout must change. Cheap (a scan of
   * one byte per region block, no encoding).
   */
  get dirty(): boolean {
    this.#live();
    if (this.#planned() !== this.#layout) return true;
    for (const d of [this.#m.nodeDirty, this.#m.upperDirty, this.#m.slotDirty]) {
      const v = d.view;
      for (let i = 0; i < v.length; i++) if (v[i]) return true;
    }
    return false;
  }

  /**
   * The region blocks to write: the changed ones in place, or every one when
   * the layout changes (first write, a region full; FORMAT.md §8.6). The
   * layout chosen here is the one {@linkcode encodeHeader} describes until
   * {@linkcode markClean}.
   */
  dirtyBlocks(): HnswWritePlan {
    this.#live();
    const layout = this.#planned();
    this.#pending = layout;
    const rewrite = layout !== this.#layout;
    const blocks: { block: number; data: Uint8Array }[] = [];
    const g = this.geometry;
    const regions: [number, number, number, U8A][] = [
      [layout.nodeStart, Math.ceil(layout.nodeCap / g.nodePerBlock), 0, this.#m.nodeDirty],
      [layout.upperStart, Math.ceil(layout.upperCap / g.upperPerBlock), 1, this.#m.upperDirty],
      [layout.slotStart, Math.ceil(layout.slotCap / g.slotPerBlock), 2, this.#m.slotDirty],
    ];
    for (const [start, n, which, dirty] of regions) {
      const d = dirty.view;
      for (let b = 0; b < n; b++) {
        if (rewrite || (b < d.length && d[b])) blocks.push({ block: start + b, data: this.#regionBlock(which, b) });
      }
    }
    blocks.sort((a, b) => a.block - b.block);
    return { rewrite, fileBlocks: layout.fileBlocks, blocks };
  }

  /** Region block b of region `which` (0 nodes, 1 uppers, 2 slot map), sealed. */
  #regionBlock(which: number, b: number): Uint8Array {
    const g = this.geometry;
    let r: RegionSource;
    if (which === 0) {
      r = {
        src: this.#m.nodes.view,
        recWords: this.#nodeWords,
        perBlock: g.nodePerBlock,
        have: this.#m.st.view[F.NODE_COUNT],
        slotMap: false,
      };
    } else if (which === 1) {
      r = {
        src: this.#m.uppers.view,
        recWords: this.#upperWords,
        perBlock: g.upperPerBlock,
        have: this.#m.st.view[F.UPPER_COUNT],
        slotMap: false,
      };
    } else {r = {
        src: this.#m.slotmap.view,
        recWords: 1,
        perBlock: g.slotPerBlock,
        have: this.#m.slotmap.length,
        slotMap: true,
      };}
    return encodeRegionBlock(r, b, this.params.blockSize, this.params.collectionId);
  }

  /** The header as it would be written now (after {@linkcode dirtyBlocks}, else at the planned layout). */
  header(generation: number = this.#generation, count: number = this.#headerCount): HnswHeader {
    this.#live();
    const s = this.#m.st.view;
    const layout = this.#pending ?? this.#planned();
    const h = emptyHeader({
      m: this.params.m,
      efConstruction: this.params.efConstruction,
      dim: this.params.dim,
      metric: encodeMetric(this.params.metric),
      elem: encodeElemType(this.params.elem),
      seed: this.params.seed,
    });
    return {
      ...h,
      entry: s[F.ENTRY],
      maxLevel: s[F.MAX_LEVEL],
      nodeCount: s[F.NODE_COUNT],
      nodeCap: layout.nodeCap,
      upperCount: s[F.UPPER_COUNT],
      upperCap: layout.upperCap,
      slotCap: layout.slotCap,
      freeNode: s[F.FREE_NODE],
      freeUpper: s[F.FREE_UPPER],
      generation,
      count,
      nodeStart: layout.nodeStart,
      upperStart: layout.upperStart,
      slotStart: layout.slotStart,
      deleted: s[F.DELETED],
      reclaimed: s[F.RECLAIMED],
      buildNs: this.#buildNs,
      inserts: s[F.INSERTS],
    };
  }

  /**
   * Block 0 for the collection generation and count the graph now matches
   * (written last, after the region blocks and a flush).
   */
  encodeHeader(generation: number, count: number): Uint8Array {
    this.#live();
    this.#generation = generation;
    this.#headerCount = count;
    return encodeHeader(this.header(generation, count), this.params.collectionId, this.params.blockSize);
  }

  /** The region blocks and header were written: the layout is the file's, nothing is dirty. */
  markClean(): void {
    this.#live();
    this.#layout = this.#pending ?? this.#planned();
    this.#pending = null;
    this.#m.nodeDirty.view.fill(0);
    this.#m.upperDirty.view.fill(0);
    this.#m.slotDirty.view.fill(0);
  }

  /**
   * The whole file (header and every region block) for a collection
   * generation and count, at the layout {@linkcode dirtyBlocks} would choose;
   * does not change what is dirty.
   */
  encode(generation: number, count: number): Uint8Array {
    this.#live();
    const saved = this.#pending;
    const layout = this.#planned();
    this.#pending = layout;
    const bs = this.params.blockSize;
    const out = new Uint8Array(layout.fileBlocks * bs);
    const g = this.geometry;
    const regions: [number, number, number][] = [
      [layout.nodeStart, Math.ceil(layout.nodeCap / g.nodePerBlock), 0],
      [layout.upperStart, Math.ceil(layout.upperCap / g.upperPerBlock), 1],
      [layout.slotStart, Math.ceil(layout.slotCap / g.slotPerBlock), 2],
    ];
    for (const [start, n, which] of regions) {
      for (let b = 0; b < n; b++) out.set(this.#regionBlock(which, b), (start + b) * bs);
    }
    out.set(encodeHeader(this.header(generation, count), this.params.collectionId, bs), 0);
    this.#pending = saved;
    return out;
  }

  /** The collection generation and count of the header last decoded or encoded. */
  get matches(): { generation: number; count: number } {
    return { generation: this.#generation, count: this.#headerCount };
  }

  #load(file: Uint8Array, h: HnswHeader, layout: HnswLayout, lenient: boolean): void {
    const bs = this.params.blockSize;
    const g = this.geometry;
    const badNodeBlocks = new Set<number>(), badUpperBlocks = new Set<number>(), badSlotBlocks = new Set<number>();
    const regions: RegionTarget[] = [
      [
        "node",
        layout.nodeStart,
        g.nodePerBlock,
        h.nodeCap,
        badNodeBlocks,
        this.#m.nodes.view,
        this.#nodeWords,
        h.nodeCount,
      ],
      [
        "upper",
        layout.upperStart,
        g.upperPerBlock,
        h.upperCap,
        badUpperBlocks,
        this.#m.uppers.view,
        this.#upperWords,
        h.upperCount,
      ],
      ["slot map", layout.slotStart, g.slotPerBlock, h.slotCap, badSlotBlocks, this.#m.slotmap.view, 1, h.slotCap],
    ];
    const problems = readRegions(file, regions, bs, this.params.collectionId, lenient);
    const s = this.#m.st.view;
    s[F.NODE_COUNT] = h.nodeCount;
    s[F.UPPER_COUNT] = h.upperCount;
    s[F.FREE_NODE] = h.freeNode;
    s[F.FREE_UPPER] = h.freeUpper;
    s[F.ENTRY] = h.entry;
    s[F.MAX_LEVEL] = h.maxLevel;
    s[F.RECLAIMED] = h.reclaimed;
    s[F.INSERTS] = h.inserts;
    this.#buildNs = h.buildNs;
    this.#generation = h.generation;
    this.#headerCount = h.count;
    this.#count = h.count;
    // thresholds from the header's mL (a graph built with another mL keeps it)
    const t = this.#m.thresh.view;
    for (let l = 0; l <= MAX_LEVEL; l++) t[l] = Math.exp(-l / h.ml);

    const bad = badNodeBlocks.size + badUpperBlocks.size + badSlotBlocks.size;
    const found = bad ? ["bad blocks"] : this.check();
    if (lenient && found.length) {
      // something is wrong: keep what can be trusted; the file is rewritten whole at the next write
      if (!bad) problems.push(`HNSW graph inconsistent (${found.length} problems): ${found.slice(0, 3).join("; ")}`);
      problems.push(...this.#sanitize(badNodeBlocks, badUpperBlocks, badSlotBlocks));
      this.#problems = problems;
      this.#ex.hn_derive(this.#m.st.ptr);
      this.#layout = null;
      const left = this.check();
      if (left.length) {
        throw new FsError("EUCLEAN", `HNSW graph: sanitizing left problems: ${left.slice(0, 3).join("; ")}`);
      }
      return;
    }
    if (found.length) {
      throw new FsError(
        "EUCLEAN",
        `HNSW graph inconsistent (${found.length} problems): ${found.slice(0, 3).join("; ")}`,
      );
    }
    // sound: the memory holds exactly what the file does (lenient or not), at the file's layout
    this.#ex.hn_derive(this.#m.st.ptr);
    if (s[F.DELETED] !== h.deleted && !lenient) {
      throw new FsError("EUCLEAN", `HNSW graph header: deleted ${h.deleted}, the node records mark ${s[F.DELETED]}`);
    }
    this.#problems = [];
    this.#layout = layout;
  }

  /**
   * Lenient load: drops what cannot be trusted so the records are consistent:
   * nodes of bad node blocks, nodes whose record or upper chain is broken
   * (or runs through a bad upper block), slot map entries of bad blocks or
   * naming a node that does not name the slot, edges to dropped or free
   * nodes; rebuilds both free lists and the entry point.
   * @returns what was dropped, one sentence per kind
   */
  #sanitize(badNode: Set<number>, badUpper: Set<number>, badSlot: Set<number>): string[] {
    const { problems, damaged } = sanitizeRecords(
      {
        st: this.#m.st.view,
        nodes: this.#m.nodes.view,
        uppers: this.#m.uppers.view,
        slotmap: this.#m.slotmap.view,
        nodeWords: this.#nodeWords,
        upperWords: this.#upperWords,
        geometry: this.geometry,
        m: this.params.m,
      },
      badNode,
      badUpper,
      badSlot,
    );
    this.#damaged = damaged;
    this.#m.nodeDirty.view.fill(1);
    this.#m.upperDirty.view.fill(1);
    this.#m.slotDirty.view.fill(1);
    return problems;
  }

  // ---- catch-up support -----------------------------------------------------------------

  /**
   * Deletes a node by id, without its vector (FORMAT.md §8.6 catch-up: a node
   * whose slot no longer names it): its neighbours that link back are
   * repaired, the node is freed when nothing names it.
   * @throws FsError `ENOENT` for a free node, `EINVAL` out of range
   */
  removeNode(node: number): void {
    this.#live();
    this.#need("removeNode");
    const r = this.#ex.hn_remove_node(this.#m.st.ptr, node);
    if (r < 0) throw hnswError(r, `remove of node ${node}`);
  }

  /**
   * After a lenient decode: re-selects the lists of the live nodes that lost
   * edges to dropped nodes from their two-hop neighbourhood (by the repair
   * heuristic), so they are as well connected as before. Needs the store;
   * {@linkcode catchUp} of ./catchup.ts calls it.
   * @returns the nodes refilled
   */
  refillDamaged(): number {
    this.#live();
    this.#need("refillDamaged");
    let n = 0;
    for (const node of this.#damaged) if (this.#ex.hn_refill(this.#m.st.ptr, node) === 0) n++;
    this.#damaged = [];
    return n;
  }

  /** The vec_crc recorded in a node (for the catch-up), or -1 for a free node. */
  nodeCrc(node: number): number {
    this.#live();
    const nodes = this.#m.nodes.view, b = node * this.#nodeWords;
    return nodes[b] === NONE ? -1 : nodes[b + 3];
  }

  /** Whether a node is live (not free, not deleted). */
  isLive(node: number): boolean {
    this.#live();
    return node >= 0 && node < this.#m.st.view[F.NODE_COUNT] && this.#m.n2s.view[2 * node] !== NONE;
  }

  /** Clears a slot map entry (catch-up: a slot whose node is not trusted). */
  unmapSlot(slot: number): void {
    this.#live();
    const map = this.#m.slotmap.view;
    if (slot >= map.length || map[slot] === NONE) return;
    const n = map[slot];
    map[slot] = NONE;
    this.#m.slotDirty.view[Math.floor(slot / this.geometry.slotPerBlock)] = 1;
    if (n < this.#m.st.view[F.NODE_COUNT] && this.#m.n2s.view[2 * n] === slot) {
      // a live node no slot names is removed by the caller (removeNode)
    }
  }

  /** The level the generator gives insertion number `ctr` of the incremental stream (tests). */
  levelOf(ctr: number, stream = 1): number {
    return this.#ex.hn_level_of(this.#m.st.ptr, ctr >>> 0, stream);
  }

  /** Frees the graph's memory; the object must not be used after. Idempotent. */
  free(): void {
    if (this.#freed) return;
    this.#freed = true;
    this.#m.free();
  }

  /** Metric and element type from header codes (FORMAT.md §8.1). */
  static paramsOfHeader(h: HnswHeader): { metric: Metric; elem: ElemType } {
    return { metric: decodeMetric(h.metric), elem: decodeElemType(h.elem) };
  }
}
