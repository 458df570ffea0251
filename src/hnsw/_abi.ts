/**
 * The ABI between the HNSW core in C (wasm/hnsw.c) and its wrapper
 * (./graph.ts): the fields of the state block, the result codes and the
 * exports. The state block is an array of u32 in the shared memory; field `F.X`
 * is the u32 at index `F.X` (the C enum `F_X`, in the same order). Addresses
 * are byte offsets in the shared memory. `graph_test.ts` checks the field
 * count against the module's `hn_nfields()`.
 * @module
 */

/** Indices of the u32 fields of the C state block (wasm/hnsw.c `enum F_*`). */
export const F = {
  DIM: 0,
  METRIC: 1,
  ELEM: 2,
  M: 3,
  M0: 4,
  EFC: 5,
  NODE_WORDS: 6,
  UPPER_WORDS: 7,
  NODE_PB: 8,
  UPPER_PB: 9,
  SLOT_PB: 10,
  STRIDE: 11,
  VEC: 12,
  NORM: 13,
  NODES: 14,
  NODE_COUNT: 15,
  NODE_CAP: 16,
  UPPERS: 17,
  UPPER_COUNT: 18,
  UPPER_CAP: 19,
  SLOTMAP: 20,
  SLOT_CAP: 21,
  FREE_NODE: 22,
  FREE_UPPER: 23,
  ENTRY: 24,
  MAX_LEVEL: 25,
  DELETED: 26,
  RECLAIMED: 27,
  INSERTS: 28,
  N2S: 29,
  INDEG: 30,
  VISITED: 31,
  EPOCH: 32,
  TOMBS: 33,
  TPOS: 34,
  HEAP_C: 35,
  HEAP_W: 36,
  HEAP_CAP: 37,
  CAND: 38,
  CAND2: 39,
  CAND_CAP: 40,
  QBUF: 41,
  EBUF: 42,
  NBUF: 43,
  RESULTS: 44,
  RESULT_CAP: 45,
  WATCH: 46,
  WATCH_CAP: 47,
  WATCH_COUNT: 48,
  NODE_DIRTY: 49,
  UPPER_DIRTY: 50,
  SLOT_DIRTY: 51,
  THRESH: 52,
  SEED_LO: 53,
  SEED_HI: 54,
  DISTS_LO: 55,
  DISTS_HI: 56,
  HOPS_LO: 57,
  HOPS_HI: 58,
  PINNED: 59,
  TODO: 60,
  OLDV: 61,
  EPD: 62,
  UPIN: 63,
  SINK: 64,
} as const;

/** Number of fields (C `F_NFIELDS`). */
export const NFIELDS = 65;

/** Result codes of the exported operations (C `HN_*`). */
export const HN = {
  /** a capacity must grow first; nothing changed */
  ENOSPC: -1,
  /** the slot is already indexed */
  EEXIST: -2,
  /** the slot is not indexed */
  ENOENT: -3,
  /** bad argument */
  EINVAL: -4,
} as const;

/** "None" in every u32 field of the records and the state (0xffffffff). */
export const NONE = 0xffffffff;

/** Node record flag: deleted (FORMAT.md §8.6). */
export const FLAG_DELETED = 1;

/** Highest level the generator gives (C `MAX_LEVEL`). */
export const MAX_LEVEL = 31;

/** Scratch sizes the C code assumes (words): `F_TODO` 512, `F_OLDV` 256, `F_WATCH` (capacity in `F_WATCH_CAP`). */
export const TODO_WORDS = 512;
/** See {@link TODO_WORDS}. */
export const OLDV_WORDS = 256;
/** Linkers a deletion's search records (beyond them a deleted node waits for reuse or consolidate). */
export const WATCH_CAP = 1024;

/** The exports of the `hnsw` module (wasm/hnsw.c), all on a state block address `g`. */
export interface HnswExports {
  /** number of state fields (checked against {@link NFIELDS}) */
  hn_nfields(): number;
  /** inserts a slot (level from insertion number ctrHi:ctrLo); node id or HN_* */
  hn_insert(g: number, slot: number, crc: number, ctrLo: number, ctrHi: number): number;
  /** inserts slots[start..n) (u32 arrays at `slots`, `crcs`); the index reached, or -(i+1)*8+code */
  hn_build(g: number, slots: number, crcs: number, n: number, start: number): number;
  /** deletes a slot's node (search: the slot still holds its vector); 0 or HN_* */
  hn_remove(g: number, slot: number, search: number): number;
  /** deletes a node by id without its vector; 0 or HN_* */
  hn_remove_node(g: number, node: number): number;
  /** the node of `from` now names `to`; 0 or HN_* */
  hn_move_slot(g: number, from: number, to: number): number;
  /** k-NN of the query in F_QBUF into F_RESULTS; hits or HN_* */
  hn_search(g: number, k: number, ef: number, filter: number): number;
  /** repairs every list naming a deleted node and frees them all; nodes freed */
  hn_consolidate(g: number): number;
  /** re-selects a live node's lists from its two-hop neighbourhood; 0 or HN_EINVAL */
  hn_refill(g: number, node: number): number;
  /** recomputes node → slot, in-degrees and the deleted list from the records */
  hn_derive(g: number): void;
  /** the level of insertion number ctrHi:ctrLo */
  hn_level_of(g: number, ctrLo: number, ctrHi: number): number;
}
