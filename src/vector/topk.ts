/**
 * Bounded top-k selection for search results: keeps the k best hits seen so
 * far in a binary heap whose root is the worst kept hit, so each push costs
 * O(1) when the hit is not good enough and O(log k) otherwise.
 *
 * Order (FORMAT.md §8.4): by score in the metric's direction (l2 ascending,
 * cosine and ip descending), NaN scores last, ties by inode number ascending.
 * The result is independent of push order.
 *
 * @example
 * ```ts
 * import { TopK } from "./topk.ts";
 * const t = new TopK(2, "l2");
 * t.push(20, 0.5);
 * t.push(10, 0.5);
 * t.push(30, 0.1);
 * t.result(); // [{ ino: 30, score: 0.1 }, { ino: 10, score: 0.5 }]
 * ```
 * @module
 */
import { FsError } from "../errors.ts";
import { isMetric, type Metric } from "./types.ts";

/** One search hit: an inode and its score under the collection's metric. */
export interface Hit {
  /** inode number of the file carrying the vector */
  ino: number;
  /** score (l2 distance, cosine similarity or inner product) */
  score: number;
}

/** Bounded best-k selector; see the module documentation for the order. */
export class TopK {
  /** capacity: the number of hits kept */
  readonly k: number;
  /** metric whose direction orders the scores */
  readonly metric: Metric;
  readonly #low: boolean;
  #inos: Float64Array;
  #scores: Float64Array;
  #size = 0;

  /**
   * @param k hits to keep, an integer ≥ 1
   * @param metric the collection's metric
   * @throws FsError `EINVAL` if k is not a positive integer or metric unknown
   */
  constructor(k: number, metric: Metric) {
    if (!Number.isSafeInteger(k) || k < 1) {
      throw new FsError("EINVAL", `bad k ${k}: must be an integer ≥ 1`);
    }
    if (!isMetric(metric)) {
      throw new FsError("EINVAL", `unknown metric ${JSON.stringify(metric)}`);
    }
    this.k = k;
    this.metric = metric;
    this.#low = metric === "l2";
    // Grow lazily: k may be far larger than the number of candidates.
    const cap = Math.min(k, 1024);
    this.#inos = new Float64Array(cap);
    this.#scores = new Float64Array(cap);
  }

  /** Number of hits currently kept (at most k). */
  get size(): number {
    return this.#size;
  }

  /**
   * The worst kept score when k hits are kept (a candidate must beat it, or
   * tie it with a smaller inode, to enter); `undefined` while fewer than k.
   */
  get threshold(): number | undefined {
    return this.#size === this.k ? this.#scores[0] : undefined;
  }

  /** Whether hit a (sa, ia) ranks strictly after hit b (sb, ib). */
  #worse(sa: number, ia: number, sb: number, ib: number): boolean {
    if (sa !== sb && (sa === sa || sb === sb)) {
      if (sa !== sa) return true; // NaN is worst
      if (sb !== sb) return false;
      return this.#low ? sa > sb : sa < sb;
    }
    return ia > ib;
  }

  /**
   * Offers a hit.
   * @param ino inode number (a safe integer; duplicates are not detected)
   * @param score the hit's score
   */
  push(ino: number, score: number): void {
    const n = this.#size;
    if (n < this.k) {
      if (n === this.#inos.length) this.#grow();
      const inos = this.#inos;
      const scores = this.#scores;
      // Sift up: parents are worse-or-equal than children (root is worst).
      let i = n;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!this.#worse(score, ino, scores[p], inos[p])) break;
        scores[i] = scores[p];
        inos[i] = inos[p];
        i = p;
      }
      scores[i] = score;
      inos[i] = ino;
      this.#size = n + 1;
      return;
    }
    const inos = this.#inos;
    const scores = this.#scores;
    if (!this.#worse(scores[0], inos[0], score, ino)) return;
    // Replace the root and sift down.
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      let c = l;
      const r = l + 1;
      if (r < n && this.#worse(scores[r], inos[r], scores[l], inos[l])) c = r;
      if (!this.#worse(scores[c], inos[c], score, ino)) break;
      scores[i] = scores[c];
      inos[i] = inos[c];
      i = c;
    }
    scores[i] = score;
    inos[i] = ino;
  }

  #grow(): void {
    const cap = Math.min(this.k, this.#inos.length * 2);
    const inos = new Float64Array(cap);
    const scores = new Float64Array(cap);
    inos.set(this.#inos);
    scores.set(this.#scores);
    this.#inos = inos;
    this.#scores = scores;
  }

  /**
   * The kept hits, best first (score in the metric's direction, then inode
   * ascending). Does not modify the selector.
   * @returns a new array of at most k hits
   */
  result(): Hit[] {
    const out: Hit[] = [];
    for (let i = 0; i < this.#size; i++) {
      out.push({ ino: this.#inos[i], score: this.#scores[i] });
    }
    return out.sort((a, b) =>
      this.#worse(a.score, a.ino, b.score, b.ino) ? 1 : this.#worse(b.score, b.ino, a.score, a.ino) ? -1 : 0
    );
  }
}
