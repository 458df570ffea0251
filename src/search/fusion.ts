/**
 * Fusion of a vector ranking and a keyword ranking into one (design of
 * issue 12, §6.1). Pure: each side is a list of candidates, best first, as
 * the vector search and the BM25 scorer return them.
 *
 * - Reciprocal Rank Fusion (Cormack, Clarke and Büttcher, "Reciprocal Rank
 *   Fusion outperforms Condorcet and individual Rank Learning Methods",
 *   SIGIR 2009): `fused(d) = Σ_side 1 / (rrfK + rank_side(d))`, ranks
 *   1-based, a side that did not return `d` adds 0; `rrfK` = 60 as in the
 *   paper.
 * - Weighted sum of min-max normalised scores (the shape of Weaviate's
 *   relativeScoreFusion and OpenSearch's min_max normalisation with an
 *   arithmetic mean): each side's scores are mapped to [0, 1] over its own
 *   candidate list, `(s − min) / (max − min)`, or `(max − s) / (max − min)`
 *   for a metric where lower is nearer (l2); all equal → 1; then
 *   `fused = alpha · vector + (1 − alpha) · text`, a missing side 0.
 *
 * Both order the fused list by fused score descending, then inode number
 * ascending, and keep each side's 1-based rank and raw score per hit.
 * @module
 */
import { check } from "../errors.ts";

/** One side's candidate: a file and its score there (vector: FORMAT.md §8.4 score; text: BM25). */
export interface RankedHit {
  ino: number;
  score: number;
}

/**
 * One fused hit: the fused score, and the file's rank (1-based) and raw
 * score on each side, null on a side that did not return it.
 */
export interface FusedHit {
  ino: number;
  score: number;
  vector: { rank: number; score: number } | null;
  text: { rank: number; score: number } | null;
}

/** The RRF constant of Cormack et al. 2009. */
export const DEFAULT_RRF_K = 60;

/** Each side's hits by inode with their 1-based ranks (a repeated inode keeps its first, best, place). */
function ranks(list: RankedHit[]): Map<number, { rank: number; score: number }> {
  const m = new Map<number, { rank: number; score: number }>();
  for (let i = 0; i < list.length; i++) {
    if (!m.has(list[i].ino)) m.set(list[i].ino, { rank: i + 1, score: list[i].score });
  }
  return m;
}

function checkK(k: number): void {
  check(Number.isInteger(k) && k >= 1, "EINVAL", `k = ${k}: fusion needs a whole number of hits, at least 1`);
}

/** Joins both sides' candidates, scores them with `fused`, orders them (score desc, ino asc) and cuts to `k`. */
function fuse(
  vec: RankedHit[],
  text: RankedHit[],
  k: number,
  fused: (v: { rank: number; score: number } | null, t: { rank: number; score: number } | null) => number,
): FusedHit[] {
  const rv = ranks(vec);
  const rt = ranks(text);
  const out: FusedHit[] = [];
  for (const [ino, v] of rv) {
    const t = rt.get(ino) ?? null;
    out.push({ ino, score: fused(v, t), vector: v, text: t });
  }
  for (const [ino, t] of rt) if (!rv.has(ino)) out.push({ ino, score: fused(null, t), vector: null, text: t });
  out.sort((a, b) => b.score - a.score || a.ino - b.ino);
  return out.slice(0, k);
}

/**
 * Reciprocal Rank Fusion of a vector and a text ranking.
 * @param vec vector candidates, best first (their order gives the ranks; scores are kept, not used)
 * @param text BM25 candidates, best first
 * @param k hits to return (≥ 1)
 * @param rrfK the constant added to each rank (≥ 0, finite; default 60)
 * @returns at most `k` hits, fused score `Σ 1/(rrfK + rank)` descending, then ino ascending
 * @throws FsError EINVAL on a bad `k` or `rrfK`
 * @example
 * ```ts
 * import { fuseRrf } from "./fusion.ts";
 * const hits = fuseRrf([{ ino: 5, score: 0.9 }, { ino: 7, score: 0.8 }], [{ ino: 7, score: 3.1 }], 10);
 * // hits[0]: ino 7, score 1/62 + 1/61 (rank 2 on the vector side, 1 on the text side)
 * ```
 */
export function fuseRrf(vec: RankedHit[], text: RankedHit[], k: number, rrfK: number = DEFAULT_RRF_K): FusedHit[] {
  checkK(k);
  check(Number.isFinite(rrfK) && rrfK >= 0, "EINVAL", `rrf k = ${rrfK}: must be a finite number ≥ 0 (default 60)`);
  return fuse(vec, text, k, (v, t) => (v ? 1 / (rrfK + v.rank) : 0) + (t ? 1 / (rrfK + t.rank) : 0));
}

/** Min-max normaliser over one side's scores: maps a score to [0, 1], 1 = best; all equal → 1. */
function normaliser(list: RankedHit[], lowerIsBetter: boolean): (s: number) => number {
  let min = Infinity, max = -Infinity;
  for (const h of list) {
    if (h.score < min) min = h.score;
    if (h.score > max) max = h.score;
  }
  const span = max - min;
  if (!(span > 0)) return () => 1;
  return lowerIsBetter ? (s) => (max - s) / span : (s) => (s - min) / span;
}

/**
 * Weighted sum of min-max normalised scores.
 * @param vec vector candidates, best first, with their FORMAT.md §8.4 scores
 * @param text BM25 candidates, best first
 * @param k hits to return (≥ 1)
 * @param alpha weight of the vector side in [0, 1] (the text side gets 1 − alpha)
 * @param vecLowerIsBetter true when the vector scores are distances (metric l2)
 * @returns at most `k` hits, `alpha · vec' + (1 − alpha) · text'` descending (a missing side counts 0), then
 *   ino ascending; each side keeps its raw score
 * @throws FsError EINVAL on a bad `k` or `alpha`
 * @example
 * ```ts
 * import { fuseWeighted } from "./fusion.ts";
 * const vec = [{ ino: 1, score: 0.1 }, { ino: 2, score: 0.5 }]; // l2 distances
 * const text = [{ ino: 2, score: 4 }, { ino: 3, score: 2 }];
 * fuseWeighted(vec, text, 3, 0.5, true);
 * // ino 2: 0.5·0 + 0.5·1 = 0.5; ino 1: 0.5·1 = 0.5; ino 3: 0.5·0 = 0 → order 1, 2, 3
 * ```
 */
export function fuseWeighted(
  vec: RankedHit[],
  text: RankedHit[],
  k: number,
  alpha: number,
  vecLowerIsBetter: boolean,
): FusedHit[] {
  checkK(k);
  check(Number.isFinite(alpha) && alpha >= 0 && alpha <= 1, "EINVAL", `alpha = ${alpha}: must be in [0, 1]`);
  const nv = normaliser(vec, vecLowerIsBetter);
  const nt = normaliser(text, false);
  return fuse(vec, text, k, (v, t) => alpha * (v ? nv(v.score) : 0) + (1 - alpha) * (t ? nt(t.score) : 0));
}
