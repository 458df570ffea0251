/**
 * The shapes of what a collection's text (BM25) index takes and reports
 * (design issue 12 §1, docs/FORMAT.md §8.7): build parameters, statistics,
 * search options and how a search was answered. Type-only, so clients
 * (ioctl, commands) can import it without the engine.
 * @module
 */
import type { AnalyzerParams } from "../text/analyzer.ts";
import type { Where } from "../search/where.ts";

/** Parameters of a text index: the analyzer's and BM25's (k1, b) and the size limit of a document. */
export interface TextIndexParams extends AnalyzerParams {
  /** BM25 k1, 0 < k1 ≤ 10 (default 1.2) */
  k1: number;
  /** BM25 b, 0 ≤ b ≤ 1 (default 0.75) */
  b: number;
  /** files larger than this many bytes are skipped (1 KiB .. 1 GiB, default 4 MiB) */
  maxFile: number;
}

/** What `vexfs index stats --text` reports of a collection's text index. */
export interface TextIndexStats {
  /** the collection has COLL_INDEX_BM25 */
  enabled: boolean;
  /** the index on disk matches the files (its header's text generation is the record's, nothing pending) */
  fresh: boolean;
  /** what the engine did when it loaded the index (current, caught up, rebuilt, ...) */
  note: string;
  params: TextIndexParams | null;
  /** N: live documents with at least one token */
  docCount: number;
  /** Σ dl over those documents */
  totalTokens: number;
  /** dictionary records over the live segments (0 when the reader does not report them) */
  terms: number;
  /** segments the current header names */
  segments: number;
  /** allocated bytes of the index file */
  fileBytes: number;
  /** bytes of the text documents covered (not the skipped ones) */
  textBytes: number;
  skippedBinary: number;
  skippedLarge: number;
  /** text files with no token */
  emptyDocs: number;
  /** tokens dropped for being longer than 64 bytes (counted when documents are tokenized; a merge keeps the sum) */
  longTokens: number;
  /** the collection record's text generation */
  textGeneration: number;
  /** duration of the last full build, ms */
  buildMs: number;
  /** the analyzer build the index was made with */
  signature: string;
}

/** Options of a text search. */
export interface TextSearchOptions {
  /** xattr filter (AND of clauses), on top of the subtree */
  where?: Where;
  /** inodes to leave out of the results */
  exclude?: Set<number>;
  /** compute each hit's path (default true); `false` gives `""` paths */
  paths?: boolean;
  /** candidates to score before the cut to k (hybrid search passes its per-side depth); default k */
  depth?: number;
}

/** How a text search was answered. */
export interface TextMethod {
  /** N of the index answered from */
  docs: number;
  /** the analysed query terms */
  terms: string[];
  /** live documents with at least one query term passing the filters */
  matched: number;
  /** the collection record's text generation the answer matches */
  textGeneration: number;
  /** the index was stale (a crash, an analyzer change) and was caught up or rebuilt before this answer */
  caughtUp: boolean;
}
