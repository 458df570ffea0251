/**
 * The in-memory state of one loaded vector collection, shared by the
 * collection manager (./vectors.ts) and its helpers (./vector_store.ts,
 * ./vector_index.ts, ./vector_search.ts).
 * @module
 */
import type { CollectionRecord } from "../format/collection.ts";
import type { HnswGraph } from "../hnsw/graph.ts";
import type { SlotFilter } from "../hnsw/slot_filter.ts";
import type { WasmStore } from "../vector/simd.ts";

/** One collection in memory: its record, slot map, and what was loaded of its store and graph. */
export interface Loaded {
  rec: CollectionRecord;
  owners: number[];
  crcs: number[];
  /** the vectors and norms in wasm memory, once read (then kept in step with every change) */
  mem?: WasmStore;
  /** the HNSW graph in memory, once loaded (kept current with every change) */
  graph?: HnswGraph;
  /** what loading the graph found (built, caught up, current), for `index stats` */
  graphNote?: string;
  /** vectors the graph on disk is behind by, when a search declined to catch it up (see {@link Collections.searchCatchUpVectors}) */
  behind?: number;
  /** the slots below the directory searched last (and its graph filter), while nothing they depend on changed */
  subtree?: SubtreeCache;
}

/** The slots of a directory's subtree, valid for one collection generation and namespace version. */
export interface SubtreeCache {
  dir: number;
  generation: number;
  count: number;
  namespace: number;
  slots: number[];
  /** the slots as a graph filter, made on first use */
  filter?: SlotFilter;
}
