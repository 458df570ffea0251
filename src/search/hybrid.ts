/**
 * Hybrid search (design of issue 12, §6.1): one query answered by a
 * collection's vector search, its keyword (BM25) search, or both fused into
 * one ranking.
 *
 * - Vector side: `Collections.searchEx` (../fs/vectors.ts) over the
 *   directory's subtree with the xattr filter, `ef`/`exact` as a vector
 *   search takes them.
 * - Text side: the collection's text index, `fs.collections.text`
 *   (../fs/text_index.ts), with the query text (analysed by the collection's
 *   analyzer) or terms already analysed (what the kernel ioctl takes).
 * - With both: each side gives its top `depth` candidates (default
 *   max(k, 100), at most {@link HYBRID_MAX_DEPTH}), filtered and without
 *   `exclude`, and ./fusion.ts fuses them by Reciprocal Rank Fusion (default)
 *   or a weighted sum of min-max normalised scores (l2 distances inverted).
 *   With one side: that side's own top-k ranking, unfused; each hit's score
 *   is the side's score.
 *
 * Paths are computed only for the final k hits, relative to the searched
 * directory as a vector search gives them.
 * @module
 */
import { check } from "../errors.ts";
import { ROOT_INO } from "../format/constants.ts";
import type { Vexfs } from "../fs/fs.ts";
import type { TextMethod, TextSearchOptions } from "../fs/text_index_types.ts";
import type { SearchMethod } from "../fs/vector_types.ts";
import { DEFAULT_RRF_K, type FusedHit, fuseRrf, fuseWeighted, type RankedHit } from "./fusion.ts";
import type { Where } from "./where.ts";

/** Default candidates per side: at least this many, and at least k. */
export const HYBRID_DEFAULT_DEPTH = 100;
/** Most candidates a side may give (design §6.1; the HYBRID ioctl's limit). */
export const HYBRID_MAX_DEPTH = 4096;

/** How the text side was answered (the engine's `TextMethod`, ../fs/text_index_types.ts). */
export type HybridTextMethod = TextMethod;

/** A hybrid search's query and parameters. Give `vector`, `text` or `terms` (not both of the last two), or both sides. */
export interface HybridOptions {
  /** query vector, the collection's dimension (no NaN/Inf) */
  vector?: Float32Array;
  /** query text, analysed with the collection's analyzer */
  text?: string;
  /** query terms already analysed (duplicates count again) */
  terms?: string[];
  /** hits to return: 1..65536 with one side, 1..depth with both */
  k: number;
  /** fusion with both sides: "rrf" (default) or "weighted"; must be absent with one side */
  fusion?: "rrf" | "weighted";
  /** weighted: the vector side's weight in [0, 1] (default 0.5); the text side gets 1 − alpha */
  alpha?: number;
  /** rrf: the constant added to each rank (default 60) */
  rrfK?: number;
  /** candidates per side with both sides: k..4096, default max(k, 100) */
  depth?: number;
  /** xattr filter (AND of clauses) on top of the subtree, on both sides */
  where?: Where;
  /** inodes to leave out (e.g. the file whose vector is the query) */
  exclude?: Set<number>;
  /** vector side: HNSW ef */
  ef?: number;
  /** vector side: exact scan */
  exact?: boolean;
  /** compute each hit's path (default true) */
  paths?: boolean;
}

/** How the fusion was done: RRF with its constant, or the weighted sum with alpha; `depth` candidates per side. */
export type FusionMethod =
  | { kind: "rrf"; rrfK: number; depth: number }
  | { kind: "weighted"; alpha: number; depth: number };

/** How a hybrid search was answered: each side's method (null: side not asked) and the fusion (null: one side). */
export interface HybridMethod {
  vector: SearchMethod | null;
  text: HybridTextMethod | null;
  fusion: FusionMethod | null;
}

/** One hit: the fused score (one side: that side's score), each side's rank and score, the path relative to dir. */
export interface HybridHit extends FusedHit {
  /** relative to the searched directory (`""` with `paths: false`) */
  path: string;
}

/** Both rankings a hybrid search composes, as functions of the number of candidates wanted. */
export interface HybridSides {
  /** the vector side's top `n`, best first */
  vector?: (n: number) => { hits: RankedHit[]; method: SearchMethod };
  /** the text side's top `n`, best first */
  text?: (n: number) => { hits: RankedHit[]; method: HybridTextMethod };
  /** the vector scores are distances (metric l2): lower is better */
  vecLowerIsBetter: boolean;
}

/**
 * Checks the options that do not need the collection and returns the
 * per-side depth (0 with one side).
 * @throws FsError EINVAL: no side, text and terms both, fusion parameters with one side or the wrong fusion,
 *   alpha outside [0, 1], a bad rrfK, k or depth out of range
 */
export function checkHybridOptions(o: HybridOptions): number {
  const hasVec = o.vector !== undefined;
  const hasText = o.text !== undefined || o.terms !== undefined;
  check(hasVec || hasText, "EINVAL", "a search needs a query vector, a query text, or both");
  check(!(o.text !== undefined && o.terms !== undefined), "EINVAL", "give the query text or its terms, not both");
  check(Number.isInteger(o.k) && o.k >= 1 && o.k <= 65536, "EINVAL", `k = ${o.k} is out of range (1..65536)`);
  const both = hasVec && hasText;
  if (!both) {
    const given = [
      o.fusion !== undefined && "fusion",
      o.alpha !== undefined && "alpha",
      o.rrfK !== undefined && "rrf k",
      o.depth !== undefined && "depth",
    ].filter(Boolean);
    check(
      given.length === 0,
      "EINVAL",
      `fusion parameters (${given.join(", ")}) need both a vector query and a text query; this search has only a ${
        hasVec ? "vector" : "text"
      } query`,
    );
    return 0;
  }
  const kind = o.fusion ?? "rrf";
  check(kind === "rrf" || kind === "weighted", "EINVAL", `fusion ${kind}: give rrf or weighted`);
  if (kind === "rrf") check(o.alpha === undefined, "EINVAL", "alpha applies to the weighted fusion, not to rrf");
  else check(o.rrfK === undefined, "EINVAL", "rrf k applies to the rrf fusion, not to weighted");
  if (o.alpha !== undefined) {
    check(Number.isFinite(o.alpha) && o.alpha >= 0 && o.alpha <= 1, "EINVAL", `alpha = ${o.alpha}: must be in [0, 1]`);
  }
  if (o.rrfK !== undefined) {
    check(
      Number.isInteger(o.rrfK) && o.rrfK >= 1 && o.rrfK <= 65535,
      "EINVAL",
      `rrf k = ${o.rrfK}: must be a whole number in 1..65535 (default 60)`,
    );
  }
  check(
    o.k <= HYBRID_MAX_DEPTH,
    "EINVAL",
    `k = ${o.k}: a hybrid search returns at most ${HYBRID_MAX_DEPTH} hits (its per-side depth limit)`,
  );
  const depth = o.depth ?? Math.max(o.k, HYBRID_DEFAULT_DEPTH);
  check(
    Number.isInteger(depth) && depth >= o.k && depth <= HYBRID_MAX_DEPTH,
    "EINVAL",
    `depth = ${depth}: candidates per side must be a whole number from k (${o.k}) to ${HYBRID_MAX_DEPTH}`,
  );
  return depth;
}

/**
 * Composes the two rankings of `sides` as {@link searchHybrid} does (pure
 * apart from the side functions): one side → its top k unfused; both → each
 * side's top `depth`, fused. Paths are left `""`.
 * @throws FsError EINVAL as {@link checkHybridOptions}; whatever a side throws
 */
export function composeHybrid(sides: HybridSides, o: HybridOptions): { hits: HybridHit[]; method: HybridMethod } {
  const depth = checkHybridOptions(o);
  const vec = o.vector !== undefined;
  const txt = o.text !== undefined || o.terms !== undefined;
  check(!vec || sides.vector !== undefined, "EINVAL", "a vector query needs the vector side");
  check(!txt || sides.text !== undefined, "EINVAL", "a text query needs the text side");
  if (!txt) {
    const r = sides.vector!(o.k);
    return {
      hits: r.hits.map((h, i) => ({ ...one(h), vector: { rank: i + 1, score: h.score }, text: null })),
      method: { vector: r.method, text: null, fusion: null },
    };
  }
  if (!vec) {
    const r = sides.text!(o.k);
    return {
      hits: r.hits.map((h, i) => ({ ...one(h), vector: null, text: { rank: i + 1, score: h.score } })),
      method: { vector: null, text: r.method, fusion: null },
    };
  }
  const v = sides.vector!(depth);
  const t = sides.text!(depth);
  const kind = o.fusion ?? "rrf";
  const fused = kind === "rrf"
    ? fuseRrf(v.hits, t.hits, o.k, o.rrfK ?? DEFAULT_RRF_K)
    : fuseWeighted(v.hits, t.hits, o.k, o.alpha ?? 0.5, sides.vecLowerIsBetter);
  const fusion: FusionMethod = kind === "rrf"
    ? { kind, rrfK: o.rrfK ?? DEFAULT_RRF_K, depth }
    : { kind, alpha: o.alpha ?? 0.5, depth };
  return { hits: fused.map((h) => ({ ...h, path: "" })), method: { vector: v.method, text: t.method, fusion } };
}

function one(h: RankedHit): { ino: number; score: number; path: string } {
  return { ino: h.ino, score: h.score, path: "" };
}

/**
 * Searches directory `dir` (a collection root or a directory below it) by
 * vector, by text, or by both fused (module doc).
 * @param fs an open engine
 * @param dir inode of the directory
 * @param o the query and its parameters ({@link HybridOptions})
 * @returns at most k hits, best first (fused score descending, then ino ascending; one side: that side's order),
 *   each with both sides' ranks and scores (null where a side did not return it) and its path; how each side
 *   answered and the fusion
 * @throws FsError EINVAL (see {@link checkHybridOptions}; not in a collection, wrong dimension, empty query text),
 *   ENOTDIR, ENODATA (a text query and the collection has no text index: `vexfs index build --text DIR`),
 *   EUCLEAN (a damaged text index)
 * @example
 * ```ts
 * import { Vexfs } from "../fs/fs.ts";
 * import { searchHybrid } from "./hybrid.ts";
 * const fs = Vexfs.open("disk.img", { readOnly: true });
 * const dir = fs.resolve("/docs");
 * const { hits } = searchHybrid(fs, dir, { vector: new Float32Array(384), text: "cloud foundry", k: 10 });
 * for (const h of hits) console.log(h.path, h.score, h.vector?.rank, h.text?.rank);
 * fs.close();
 * ```
 */
export function searchHybrid(fs: Vexfs, dir: number, o: HybridOptions): { hits: HybridHit[]; method: HybridMethod } {
  checkHybridOptions(o);
  const c = fs.collections;
  const id = c.collectionOfDir(dir);
  check(id !== 0, "EINVAL", `${fs.pathOf(dir)} is not inside a vector collection`);
  const metric = c.get(id).metric;
  const query = o.vector;
  const sides: HybridSides = { vecLowerIsBetter: metric === "l2" };
  if (query !== undefined) {
    sides.vector = (n) =>
      c.searchEx(dir, query, n, { where: o.where, exclude: o.exclude, ef: o.ef, exact: o.exact, paths: false });
  }
  if (o.text !== undefined || o.terms !== undefined) {
    const t = c.text;
    const opts: TextSearchOptions = { where: o.where, exclude: o.exclude, paths: false };
    sides.text = (n) => o.terms !== undefined ? t.searchTerms(dir, o.terms, n, opts) : t.search(dir, o.text!, n, opts);
  }
  const r = composeHybrid(sides, o);
  if (o.paths !== false) {
    const base = dir === ROOT_INO ? "" : fs.pathOf(dir);
    for (const h of r.hits) {
      const p = fs.pathOf(h.ino);
      h.path = p.startsWith(base + "/") ? p.slice(base.length + 1) : p;
    }
  }
  return r;
}
