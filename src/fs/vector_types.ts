/**
 * The shapes of what the vector collections take and report (docs/FORMAT.md
 * §8): a collection's parameters and counts, search hits and options, how a
 * search was answered, and index statistics. Type-only apart from
 * {@linkcode HNSW_DEFAULTS}, so clients (ioctl, commands) can import it
 * without the engine.
 * @module
 */
import type { HnswStats } from "../hnsw/types.ts";
import type { ElemType, Metric } from "../vector/types.ts";
import type { Where } from "../search/where.ts";

/** A collection's parameters and counts, as the CLI and ioctls report them. */
export interface CollectionInfo {
  id: number;
  /** inode of the collection root directory */
  rootIno: number;
  dim: number;
  metric: Metric;
  elem: ElemType;
  /** vectors stored */
  count: number;
  /** bytes of vector data (count * dim * element size) */
  bytes: number;
  generation: number;
  created: number;
  /** "hnsw" when the collection keeps an HNSW graph (FORMAT.md §8.6), else "flat" (absent: not reported) */
  index?: "hnsw" | "flat";
  /** HNSW M and efConstruction (0 for flat) */
  m?: number;
  efConstruction?: number;
  /** default ef of a search (0: the engine's default) */
  efSearch?: number;
}

/** Parameters of a new collection. */
export interface CollectionParams {
  /** 1..4096 */
  dim: number;
  metric: Metric;
  elem: ElemType;
  /** "hnsw" (the default): keep an HNSW graph for approximate search; "flat": exact scans only */
  index?: "hnsw" | "flat";
  /** HNSW M, neighbours per node on the upper levels (2..128, default 16; level 0 keeps 2M) */
  m?: number;
  /** HNSW efConstruction (M..4096, default 200) */
  efConstruction?: number;
  /** default ef of a search (0..65535, default 0: max(k, 64)) */
  efSearch?: number;
}

/** Default HNSW parameters (as hnswlib's examples). */
export const HNSW_DEFAULTS = { m: 16, efConstruction: 200 } as const;

/** One search hit. `score` follows FORMAT.md §8.4 (l2: distance; cosine, ip: similarity). */
export interface SearchHit {
  ino: number;
  score: number;
  /** path relative to the searched directory (no leading slash) */
  path: string;
}

/** Options for {@link Collections.search}. */
export interface SearchOptions {
  /** inodes to leave out of the results (e.g. the query file itself) */
  exclude?: Set<number>;
  /**
   * Compute each hit's `path` (default true). With `false` every `path` is
   * `""`, which saves a parent-pointer walk per hit (the ioctl search
   * returns inode numbers only).
   */
  paths?: boolean;
  /** HNSW search breadth (ignored by exact scans); default the collection's `efSearch`, else max(k, 64) */
  ef?: number;
  /** scan exactly even when the collection has a usable graph */
  exact?: boolean;
  /**
   * Only files whose extended attributes pass this filter (../search/where.ts, `--where`), on top of the
   * subtree; absent or empty: no filter
   */
  where?: Where;
}

/** How a search was answered (what {@link Collections.searchEx} reports besides the hits). */
export interface SearchMethod {
  /** "hnsw": through the graph; "exact": a scan of the store (or of the subtree's vectors); "unknown": not reported */
  method: "hnsw" | "exact" | "unknown";
  /** why an HNSW collection was scanned exactly, when it was (stale graph, --exact, small subtree, ...) */
  reason?: string;
  /** the ef used, for "hnsw" */
  ef?: number;
  /** with a `where` filter: the files with a vector (below the searched directory) that passed it */
  filterPassed?: number;
}

/** What `vexfs index stats` reports of a collection's index. */
export interface IndexStats {
  /** "hnsw" or "flat" */
  index: "hnsw" | "flat";
  /** whether the graph on disk matches the collection (FORMAT.md §8.6); null for flat */
  current: boolean | null;
  /** what the engine did when it loaded the graph (built, caught up, ...) */
  note: string;
  /** the graph's own figures (HNSW only) */
  graph?: HnswStats;
  /** bytes of the graph file on disk */
  fileBytes: number;
}
