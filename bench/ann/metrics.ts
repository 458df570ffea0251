/**
 * The figures of `vexfs bench vectors`, computed the way ann-benchmarks
 * (Aumüller, Bernhardsson and Faithfull, Information Systems 2020;
 * github.com/erikbern/ann-benchmarks) computes them:
 *
 * - recall@k: for each query, the share of the k returned items whose true
 *   distance to the query is at most the distance of the k-th true neighbour
 *   plus ε = 10⁻³ (`knn_threshold` in ann_benchmarks/plotting/metrics.py, so
 *   ties at the k-th distance count), averaged over the queries; distances
 *   are recomputed here in double precision from the returned row numbers,
 *   not taken from the system;
 * - queries per second: 1 / mean latency of the queries, each timed alone on
 *   one thread (ann-benchmarks' `1 / best_search_time`);
 * - the curve: for each system the Pareto frontier of (recall, QPS) over its
 *   sweep of ef, as ann-benchmarks' `create_pointset` draws it.
 *
 * Pure functions, tested in ann_test.ts.
 * @module
 */
import { latencyStats } from "../search.ts";
import type { Metric, SystemId } from "./protocol.ts";

/** The recall the targets are stated at. */
export const RECALL_TARGET = 0.95;
/** ann-benchmarks' tolerance on the k-th distance. */
export const ANN_EPSILON = 1e-3;

/**
 * The distance the ground truth uses (smaller is nearer), in double precision:
 * l2 the Euclidean distance, cosine `1 - cos` (a zero vector has cos 0, as
 * FORMAT.md §8.4), ip `-dot`. The same forms as bench/ann/brute.c's `gt` mode.
 * @param an the norm of row a (cosine; computed when omitted)
 * @param bn the norm of row b (cosine; computed when omitted)
 */
export function distance(
  metric: Metric,
  a: Float32Array,
  ao: number,
  b: Float32Array,
  bo: number,
  dim: number,
  an?: number,
  bn?: number,
): number {
  if (metric === "l2") {
    let s = 0;
    for (let j = 0; j < dim; j++) {
      const d = a[ao + j] - b[bo + j];
      s += d * d;
    }
    return Math.sqrt(s);
  }
  let dot = 0;
  for (let j = 0; j < dim; j++) dot += a[ao + j] * b[bo + j];
  if (metric === "ip") return -dot;
  const na = an ?? norm(a, ao, dim);
  const nb = bn ?? norm(b, bo, dim);
  const den = na * nb;
  return 1 - (den > 0 ? dot / den : 0);
}

/** Euclidean norm of the row at `o`, double precision. */
export function norm(a: Float32Array, o: number, dim: number): number {
  let s = 0;
  for (let j = 0; j < dim; j++) s += a[o + j] * a[o + j];
  return Math.sqrt(s);
}

/** What {@linkcode recallAtK} needs. */
export interface RecallInput {
  k: number;
  nq: number;
  /** rows returned, nq * k, -1 for none */
  ids: Int32Array;
  /** true distances, nq * gtK, nearest first */
  gtDist: Float64Array;
  /** true neighbours kept per query (≥ k) */
  gtK: number;
  /** the true distance between query q and base row `row` */
  dist: (q: number, row: number) => number;
  /** tolerance (default {@linkcode ANN_EPSILON}) */
  epsilon?: number;
}

/**
 * recall@k as ann-benchmarks' `knn` metric: a returned row counts when its
 * distance is ≤ the k-th true distance + ε; a row returned twice counts once;
 * missing results (-1) count as misses.
 * @returns the mean over queries, in [0, 1]
 * @throws RangeError when the arrays are too short or gtK < k
 */
export function recallAtK(x: RecallInput): number {
  const { k, nq, ids, gtDist, gtK } = x;
  const eps = x.epsilon ?? ANN_EPSILON;
  if (gtK < k) throw new RangeError(`ground truth has ${gtK} neighbours per query, fewer than k = ${k}`);
  if (ids.length < nq * k || gtDist.length < nq * gtK) throw new RangeError("ids or ground truth too short");
  if (nq === 0) return 0;
  let sum = 0;
  for (let q = 0; q < nq; q++) {
    const threshold = gtDist[q * gtK + k - 1] + eps;
    const seen = new Set<number>();
    let hit = 0;
    for (let j = 0; j < k; j++) {
      const row = ids[q * k + j];
      if (row < 0 || seen.has(row)) continue;
      seen.add(row);
      if (x.dist(q, row) <= threshold) hit++;
    }
    sum += hit / k;
  }
  return sum / nq;
}

/**
 * The plain overlap |returned ∩ true top-k| / k, averaged (stricter than
 * {@linkcode recallAtK} when distances tie; reported beside it).
 */
export function idRecall(ids: Int32Array, gtIds: Int32Array, k: number, gtK: number, nq: number): number {
  if (nq === 0) return 0;
  let sum = 0;
  for (let q = 0; q < nq; q++) {
    const truth = new Set<number>();
    for (let j = 0; j < k; j++) truth.add(gtIds[q * gtK + j]);
    const seen = new Set<number>();
    for (let j = 0; j < k; j++) {
      const r = ids[q * k + j];
      if (r >= 0 && !seen.has(r) && truth.has(r)) sum++;
      seen.add(r);
    }
  }
  return sum / (nq * k);
}

/** One point of a system's curve. */
export interface SweepPoint {
  /** ef asked for; null for an exact scan */
  ef: number | null;
  recall: number;
  /** 1 / mean latency */
  qps: number;
  p50Us: number;
  p99Us: number;
  meanUs: number;
  /** how the engine answered, when it says ("hnsw", "exact") */
  method?: string;
  /**
   * queries per CPU second of the searching process (steadier than `qps` on a
   * shared machine: time other processes take is not counted); not for the mount
   */
  cpuQps?: number;
}

/** A sweep point's latency figures from its per-query latencies (µs). */
export function pointFromLatencies(
  ef: number | null,
  recall: number,
  latenciesUs: readonly number[],
  method?: string,
  cpuSeconds?: number,
): SweepPoint {
  const s = latencyStats(latenciesUs);
  return {
    ef,
    recall,
    qps: s.meanUs > 0 ? 1e6 / s.meanUs : Infinity,
    p50Us: s.medianUs,
    p99Us: s.p99Us,
    meanUs: s.meanUs,
    ...(method ? { method } : {}),
    ...(cpuSeconds !== undefined && cpuSeconds > 0 ? { cpuQps: latenciesUs.length / cpuSeconds } : {}),
  };
}

/**
 * The Pareto frontier of (recall, QPS), as ann-benchmarks' `create_pointset`:
 * points by recall, highest first (ties: faster first), each kept when it is
 * faster than every point of higher recall kept so far.
 * @returns the kept points, highest recall first
 */
export function paretoFrontier<T extends { recall: number; qps: number }>(points: readonly T[]): T[] {
  const sorted = [...points].sort((a, b) => b.recall - a.recall || b.qps - a.qps);
  const out: T[] = [];
  let best = -Infinity;
  for (const p of sorted) {
    if (p.qps > best) {
      out.push(p);
      best = p.qps;
    }
  }
  return out;
}

/**
 * The point of a sweep that serves the most queries per second with recall ≥
 * `target` (ann-benchmarks' reading of a curve at a recall), or undefined when
 * no point reaches it.
 * @param by `qps` (wall clock, the default) or `cpuQps` (per CPU second; points without it are skipped)
 */
export function bestAtRecall<T extends { recall: number; qps: number; cpuQps?: number; ef: number | null }>(
  points: readonly T[],
  target = RECALL_TARGET,
  by: "qps" | "cpuQps" = "qps",
): T | undefined {
  let best: T | undefined;
  for (const p of points) {
    const v = p[by];
    if (p.recall < target || v === undefined) continue;
    const b = best?.[by] ?? -Infinity;
    // a tie goes to the smaller ef (the cheaper setting)
    if (!best || v > b || (v === b && (p.ef ?? Infinity) < (best.ef ?? Infinity))) best = p;
  }
  return best;
}

/** Result of {@linkcode compareAtRecall}. */
export interface RecallComparison {
  system: SystemId;
  peer: SystemId;
  target: number;
  /** the system's best point at the target, if it reaches it */
  mine?: SweepPoint;
  /** the peer's best point at the target, if it reaches it */
  theirs?: SweepPoint;
  /** mine.qps ÷ theirs.qps when both reach the target */
  ratio?: number;
  /** met: at least as many QPS (or the peer never reaches the target while we do) */
  met: boolean;
}

/** Compares two systems' sweeps at recall ≥ `target` (QPS ratio, met when ≥ 1), by wall-clock QPS or per CPU second. */
export function compareAtRecall(
  system: SystemId,
  mine: readonly SweepPoint[],
  peer: SystemId,
  theirs: readonly SweepPoint[],
  target = RECALL_TARGET,
  by: "qps" | "cpuQps" = "qps",
): RecallComparison {
  const a = bestAtRecall(mine, target, by);
  const b = bestAtRecall(theirs, target, by);
  const ratio = a && b ? a[by]! / b[by]! : undefined;
  return {
    system,
    peer,
    target,
    ...(a ? { mine: a } : {}),
    ...(b ? { theirs: b } : {}),
    ...(ratio !== undefined ? { ratio } : {}),
    met: a !== undefined && (b === undefined || a[by]! >= b[by]!),
  };
}
