/**
 * The arrays of one HNSW graph in the shared WebAssembly memory: its
 * records (nodes, uppers, slot map), the arrays derived from them, the
 * scratch of the C core and the dirty-block bits; their allocation, their
 * growth, and their addresses in the C state block (./_abi.ts), which lives
 * here too. The graph (./graph.ts) decides when to grow; the C core reads
 * and writes the arrays through the state block.
 * @module
 */
import { WasmArray } from "../wasm/runtime.ts";
import { F, MAX_LEVEL, NFIELDS, NONE, OLDV_WORDS, TODO_WORDS, WATCH_CAP } from "./_abi.ts";
import type { RegionGeometry } from "./codec.ts";

type U32A = WasmArray<Uint32ArrayConstructor>;
type U8A = WasmArray<Uint8ArrayConstructor>;

/** Record, derived and scratch arrays of one graph, and the state block naming them. */
export class GraphMemory {
  readonly st: U32A;
  readonly thresh: WasmArray<Float64ArrayConstructor>;
  nodes!: U32A;
  uppers!: U32A;
  slotmap!: U32A;
  /** node → slot (NONE when deleted or free) at 2n, the node's visited tag at 2n + 1 */
  n2s!: U32A;
  indeg!: U32A;
  upin!: U32A;
  tombs!: U32A;
  tpos!: U32A;
  heapC!: U32A;
  heapW!: U32A;
  nodeDirty!: U8A;
  upperDirty!: U8A;
  slotDirty!: U8A;
  readonly cand: U32A;
  readonly cand2: U32A;
  readonly qbuf: WasmArray<Float32ArrayConstructor>;
  readonly ebuf: WasmArray<Float32ArrayConstructor>;
  readonly nbuf: WasmArray<Float32ArrayConstructor>;
  results: U32A;
  readonly watch: U32A;
  readonly todo: U32A;
  readonly oldv: U32A;
  /** capacity of the candidate lists (`F.CAND_CAP`) */
  readonly candCap: number;
  readonly #dim: number;
  readonly #nodeWords: number;
  readonly #upperWords: number;
  readonly #geometry: Readonly<RegionGeometry>;

  /**
   * Allocates every array (the record arrays at `caps`) and the level
   * thresholds for mL = 1/ln M; the caller fills the state block's other
   * fields, then calls {@linkcode pointers}.
   */
  constructor(
    params: { dim: number; m: number; efConstruction: number },
    geometry: Readonly<RegionGeometry>,
    nodeWords: number,
    upperWords: number,
    caps: { nodes: number; uppers: number; slots: number },
  ) {
    this.#dim = params.dim;
    this.#nodeWords = nodeWords;
    this.#upperWords = upperWords;
    this.#geometry = geometry;
    const m = params.m, m0 = 2 * m;
    this.st = new WasmArray(Uint32Array, NFIELDS);
    this.thresh = new WasmArray(Float64Array, MAX_LEVEL + 1);
    const ml = 1 / Math.log(m);
    const t = this.thresh.view;
    for (let l = 0; l <= MAX_LEVEL; l++) t[l] = Math.exp(-l / ml);
    const candCap = Math.max(params.efConstruction, m0 * (m0 + 1)) + 2;
    this.candCap = candCap;
    this.cand = new WasmArray(Uint32Array, 2 * candCap);
    this.cand2 = new WasmArray(Uint32Array, 2 * candCap);
    this.qbuf = new WasmArray(Float32Array, params.dim);
    this.ebuf = new WasmArray(Float32Array, params.dim);
    this.nbuf = new WasmArray(Float32Array, params.dim);
    this.results = new WasmArray(Uint32Array, 2 * 16);
    this.watch = new WasmArray(Uint32Array, WATCH_CAP);
    this.todo = new WasmArray(Uint32Array, TODO_WORDS);
    this.oldv = new WasmArray(Uint32Array, OLDV_WORDS);
    this.#alloc(caps);
  }

  #alloc(caps: { nodes: number; uppers: number; slots: number }): void {
    const g = this.#geometry;
    this.nodes = new WasmArray(Uint32Array, caps.nodes * this.#nodeWords);
    this.uppers = new WasmArray(Uint32Array, caps.uppers * this.#upperWords);
    this.slotmap = new WasmArray(Uint32Array, caps.slots, false);
    this.slotmap.view.fill(NONE);
    this.n2s = new WasmArray(Uint32Array, 2 * caps.nodes);
    fillSlots(this.n2s.view, 0);
    this.indeg = new WasmArray(Uint32Array, caps.nodes);
    this.upin = new WasmArray(Uint32Array, caps.nodes);
    this.tombs = new WasmArray(Uint32Array, caps.nodes);
    this.tpos = new WasmArray(Uint32Array, caps.nodes);
    this.heapC = new WasmArray(Uint32Array, 2 * (caps.nodes + 2));
    this.heapW = new WasmArray(Uint32Array, 2 * (caps.nodes + 2));
    this.nodeDirty = new WasmArray(Uint8Array, Math.ceil(caps.nodes / g.nodePerBlock));
    this.upperDirty = new WasmArray(Uint8Array, Math.ceil(caps.uppers / g.upperPerBlock));
    this.slotDirty = new WasmArray(Uint8Array, Math.ceil(caps.slots / g.slotPerBlock));
    const s = this.st.view;
    s[F.NODE_CAP] = caps.nodes;
    s[F.UPPER_CAP] = caps.uppers;
    s[F.SLOT_CAP] = caps.slots;
    s[F.HEAP_CAP] = caps.nodes + 2;
  }

  /** Writes every array's address into the state block (after any resize). */
  pointers(): void {
    const s = this.st.view;
    s[F.THRESH] = this.thresh.ptr;
    s[F.NODES] = this.nodes.ptr;
    s[F.UPPERS] = this.uppers.ptr;
    s[F.SLOTMAP] = this.slotmap.ptr;
    s[F.N2S] = this.n2s.ptr;
    s[F.INDEG] = this.indeg.ptr;
    s[F.UPIN] = this.upin.ptr;
    s[F.VISITED] = this.n2s.ptr;
    s[F.TOMBS] = this.tombs.ptr;
    s[F.TPOS] = this.tpos.ptr;
    s[F.HEAP_C] = this.heapC.ptr;
    s[F.HEAP_W] = this.heapW.ptr;
    s[F.CAND] = this.cand.ptr;
    s[F.CAND2] = this.cand2.ptr;
    s[F.QBUF] = this.qbuf.ptr;
    s[F.EBUF] = this.ebuf.ptr;
    s[F.NBUF] = this.nbuf.ptr;
    s[F.RESULTS] = this.results.ptr;
    s[F.RESULT_CAP] = this.results.length / 2;
    s[F.WATCH] = this.watch.ptr;
    s[F.TODO] = this.todo.ptr;
    s[F.OLDV] = this.oldv.ptr;
    s[F.NODE_DIRTY] = this.nodeDirty.ptr;
    s[F.UPPER_DIRTY] = this.upperDirty.ptr;
    s[F.SLOT_DIRTY] = this.slotDirty.ptr;
  }

  /** Grows the node arrays (records, derived, heaps, dirty bits) to at least `cap` nodes, by half at least. */
  growNodes(cap: number): void {
    const s = this.st.view;
    const old = s[F.NODE_CAP];
    if (cap <= old) return;
    cap = Math.max(cap, Math.ceil(old * 1.5), 64);
    this.nodes.resize(cap * this.#nodeWords);
    this.n2s.resize(2 * cap);
    fillSlots(this.n2s.view, old);
    this.indeg.resize(cap);
    this.upin.resize(cap);
    this.tombs.resize(cap);
    this.tpos.resize(cap);
    this.heapC.resize(2 * (cap + 2), false);
    this.heapW.resize(2 * (cap + 2), false);
    this.nodeDirty.resize(Math.ceil(cap / this.#geometry.nodePerBlock));
    const t = this.st.view;
    t[F.NODE_CAP] = cap;
    t[F.HEAP_CAP] = cap + 2;
    this.pointers();
  }

  /** Grows the upper records to at least `cap`, by half at least. */
  growUppers(cap: number): void {
    const old = this.st.view[F.UPPER_CAP];
    if (cap <= old) return;
    cap = Math.max(cap, Math.ceil(old * 1.5), 16);
    this.uppers.resize(cap * this.#upperWords);
    this.upperDirty.resize(Math.ceil(cap / this.#geometry.upperPerBlock));
    this.st.view[F.UPPER_CAP] = cap;
    this.pointers();
  }

  /** Grows the slot map to at least `cap` slots (new entries none), by half at least. */
  growSlots(cap: number): void {
    const old = this.st.view[F.SLOT_CAP];
    if (cap <= old) return;
    cap = Math.max(cap, Math.ceil(old * 1.5), 64);
    this.slotmap.resize(cap, false);
    this.slotmap.view.fill(NONE, old);
    this.slotDirty.resize(Math.ceil(cap / this.#geometry.slotPerBlock));
    this.st.view[F.SLOT_CAP] = cap;
    this.pointers();
  }

  /** Drops everything (nodes, uppers, slot map), keeping capacities. */
  clear(): void {
    this.nodes.view.fill(0);
    this.uppers.view.fill(0);
    this.slotmap.view.fill(NONE);
    this.n2s.view.fill(0);
    fillSlots(this.n2s.view, 0);
    this.indeg.view.fill(0);
    this.upin.view.fill(0);
    this.nodeDirty.view.fill(1);
    this.upperDirty.view.fill(1);
    this.slotDirty.view.fill(1);
    const s = this.st.view;
    s[F.NODE_COUNT] = 0;
    s[F.UPPER_COUNT] = 0;
    s[F.FREE_NODE] = NONE;
    s[F.FREE_UPPER] = NONE;
    s[F.ENTRY] = NONE;
    s[F.MAX_LEVEL] = 0;
    s[F.DELETED] = 0;
    s[F.EPOCH] = 0;
  }

  /** Bytes of wasm memory the arrays hold (records, derived arrays, scratch). */
  get bytes(): number {
    const arrays: { length: number; ptr: number }[] = [
      this.nodes,
      this.uppers,
      this.slotmap,
      this.n2s,
      this.indeg,
      this.upin,
      this.tombs,
      this.tpos,
      this.heapC,
      this.heapW,
      this.cand,
      this.cand2,
      this.results,
      this.watch,
      this.todo,
      this.oldv,
    ];
    let mem = arrays.reduce((a, x) => a + 4 * x.length, 0);
    mem += 3 * 4 * this.#dim + this.nodeDirty.length + this.upperDirty.length + this.slotDirty.length;
    return mem;
  }

  /** Frees every array. */
  free(): void {
    for (
      const a of [
        this.st,
        this.thresh,
        this.nodes,
        this.uppers,
        this.slotmap,
        this.n2s,
        this.indeg,
        this.upin,
        this.tombs,
        this.tpos,
        this.heapC,
        this.heapW,
        this.nodeDirty,
        this.upperDirty,
        this.slotDirty,
        this.cand,
        this.cand2,
        this.qbuf,
        this.ebuf,
        this.nbuf,
        this.results,
        this.watch,
        this.todo,
        this.oldv,
      ]
    ) a?.free();
  }
}

/** Sets the slot words (even indices) of the node → slot / visited array to NONE from node `from` on. */
function fillSlots(a: Uint32Array, from: number): void {
  for (let i = 2 * from; i < a.length; i += 2) a[i] = NONE;
}
