/**
 * The shapes of what an HNSW graph answers: search hits, statistics, the
 * blocks of a write, and the options of a decode.
 * @module
 */
import type { ElemType, Metric } from "../vector/types.ts";

export interface HnswHits {
  /** slots of the hits */
  slots: Uint32Array;
  /** their graph distances (squared L2, 1 − dot, 1 − cos) */
  distances: Float32Array;
}

/** What {@linkcode HnswGraph.stats} reports. */
export interface HnswStats {
  /** live (searchable) nodes */
  nodes: number;
  /** nodes marked deleted, not yet reclaimed */
  deleted: number;
  /** free node ids waiting for reuse */
  free: number;
  /** node ids in use or free (the node region's extent) */
  nodeCount: number;
  /** upper-level records in use or free */
  upperCount: number;
  /** nodes reclaimed (ids freed or reused) since the graph was built */
  reclaimed: number;
  /** live nodes by highest level: `levels[l]` nodes have level l */
  levels: number[];
  /** level of the entry point (the graph's top level) */
  maxLevel: number;
  /** entry point node, or -1 when empty */
  entry: number;
  /** bytes of the graph file at its current layout */
  bytes: number;
  /** bytes of wasm memory the graph holds (records, derived arrays, scratch) */
  memoryBytes: number;
  /** M: neighbours per node on levels ≥ 1 */
  m: number;
  /** M0 = 2M: neighbours per node on level 0 */
  m0: number;
  /** efConstruction of insertions */
  efConstruction: number;
  /** vector dimension */
  dim: number;
  /** the collection's metric */
  metric: Metric;
  /** element type of the stored vectors */
  elem: ElemType;
  /** milliseconds the last full build (build or optimize) took */
  buildMs: number;
  /** insertions since the last full build */
  insertsSinceBuild: number;
  /** distance computations since the graph was made (a counter, as hnswlib's metric_distance_computations) */
  distances: number;
  /** level-0 expansions of searches since the graph was made (hnswlib's metric_hops) */
  hops: number;
}

/** Blocks to write for {@linkcode HnswGraph.dirtyBlocks}. */
export interface HnswWritePlan {
  /**
   * true when the regions moved (first write, or a region outgrew its
   * capacity, FORMAT.md §8.6 "Growing"): the file must be resized to
   * `fileBlocks` and every block of `blocks` written (they are all the region
   * blocks); false: only changed blocks, in place
   */
  rewrite: boolean;
  /** the file's size in blocks (header included) */
  fileBlocks: number;
  /** region blocks (never block 0, the header): file block number and its bytes, ascending */
  blocks: { block: number; data: Uint8Array }[];
}

/** Options of {@linkcode HnswGraph.decode}. */
export interface HnswDecodeOptions {
  /**
   * false (default): any bad checksum or inconsistent record rejects the file
   * (FsError EUCLEAN). true: what can be trusted is kept and the rest dropped
   * (nodes of bad blocks, broken records, edges to them), for the catch-up of
   * FORMAT.md §8.6; the problems are in {@linkcode HnswGraph.decodeProblems}.
   * A file without problems is held exactly as read, at its layout (so
   * {@linkcode HnswGraph.markClean} may follow at once); one with problems
   * is rewritten whole by the next {@linkcode HnswGraph.dirtyBlocks}
   */
  lenient?: boolean;
}
