/**
 * BM25 scoring over a {@linkcode Bm25Index} (design issue-12 §2.1): Lucene's
 * `BM25Similarity` as of Lucene 8 (Robertson and Zaragoza 2009, "The
 * Probabilistic Relevance Framework: BM25 and Beyond", §3.4, without the
 * constant `(k1 + 1)` numerator factor that LUCENE-8563 removed):
 *
 * ```
 * score(d) = Σ_i idf(q_i) · tf(q_i,d) / (tf(q_i,d) + k1 · (1 − b + b · dl(d) / avgdl))   over q_i with tf > 0
 * idf(t)   = ln(1 + (N − n(t) + 0.5) / (n(t) + 0.5))
 * ```
 *
 * `q_1..q_m` are the query's analysed tokens in order, duplicates kept (a
 * repeated token counts again); `N` = live documents with dl ≥ 1, `n(t)` =
 * live documents containing `t`, `avgdl` = Σ dl / N, all over every segment
 * and the overlay. Computed in f64 in exactly that order of operations (the
 * kernel's port must match it), each document's sum accumulated in query
 * order from 0. A document with no query token is not a hit. Order: score
 * descending, then ino ascending (FORMAT.md §8.4's tie rule).
 *
 * @example
 * ```ts
 * import { Bm25Index } from "./reader.ts";
 * import { encodeSegment } from "./segment.ts";
 * import { scoreBm25 } from "./score.ts";
 * const doc = (ino: number, words: string[]) => {
 *   const counts = new Map<string, number>();
 *   for (const w of words) counts.set(w, (counts.get(w) ?? 0) + 1);
 *   return { ino, igen: 1, dl: words.length, ctimeSec: 0, ctimeNsec: 0, crc: 0, size: 0, flags: 0, uniq: counts.size, counts };
 * };
 * const o = { id: 0, base: true, blockSize: 1024, collectionId: 1, hashSeed: 7 };
 * const seg = encodeSegment([doc(2, ["cloud", "foundry"]), doc(3, ["cloud"])], [], o);
 * const ix = Bm25Index.fromSegments([seg], 1024, 1, 7);
 * const { hits, matched } = scoreBm25(ix, ["foundry", "cloud"], { k1: 1.2, b: 0.75 });
 * // matched 2; hits[0].ino 2 (both terms); hits[1].ino 3
 * ```
 * @module
 */
import { FsError } from "../errors.ts";
import type { Bm25Index } from "./reader.ts";
import { termKey } from "./segment_decode.ts";

/** BM25 parameters: k1 > 0 (term-frequency saturation), 0 ≤ b ≤ 1 (length normalisation). */
export interface Bm25Params {
  /** tf saturation, 0 < k1 ≤ 10 in a collection record (default 1.2) */
  k1: number;
  /** length normalisation, 0..1 (default 0.75) */
  b: number;
}

/** One scored document. */
export interface TextHit {
  /** inode number */
  ino: number;
  /** BM25 score (> 0) */
  score: number;
}

/** Options of {@linkcode scoreBm25}. */
export interface ScoreOptions {
  /** keep the best `depth` hits (default: all) */
  depth?: number;
  /** only documents whose ino passes are hits (applied before the depth cut) */
  filter?: (ino: number) => boolean;
  /** documents never returned (applied before the depth cut) */
  exclude?: Set<number>;
}

/** Result of {@linkcode scoreBm25}. */
export interface ScoreResult {
  /** best first: score descending, ino ascending on ties; at most `depth` */
  hits: TextHit[];
  /** live documents holding at least one query term that pass `filter` and are not in `exclude` (before the cut) */
  matched: number;
}

/** Per index: an accumulator per (segment, ordinal), all zero between calls, and the ino of each. */
interface Scratch {
  acc: Float64Array;
  seen: Uint8Array;
  base: number[];
  inos: Float64Array;
}
const scratch = new WeakMap<Bm25Index, Scratch>();

function scratchOf(ix: Bm25Index): Scratch {
  let s = scratch.get(ix);
  if (s === undefined) {
    const base: number[] = [];
    let n = 0;
    for (const seg of ix.segments) {
      base.push(n);
      n += seg.docs.length;
    }
    const inos = new Float64Array(n);
    ix.segments.forEach((seg, i) => seg.docs.forEach((d, o) => inos[base[i] + o] = d.ino));
    s = { acc: new Float64Array(n), seen: new Uint8Array(n), base, inos };
    scratch.set(ix, s);
  }
  return s;
}

/**
 * Live document frequency n(t) of a term, over every segment of the index.
 * @param ix the index
 * @param term an analysed term
 * @returns live documents containing it
 * @throws FsError EUCLEAN when its postings do not decode
 */
export function liveDf(ix: Bm25Index, term: string): number {
  const key = termKey(term, ix.hashSeed);
  let n = 0;
  ix.segments.forEach((seg, s) => {
    const i = seg.find(key);
    if (i < 0) return;
    if (ix.allLive[s]) {
      n += seg.dfs[i];
      return;
    }
    const live = ix.live[s];
    for (const o of seg.postings(i).ords) n += live[o];
  });
  return n;
}

/**
 * Scores every live document holding a query term (design §2.1).
 * @param ix the index (with its overlay, if any)
 * @param terms the query's analysed tokens in order; duplicates count again
 * @param p k1 (finite, ≥ 0) and b (0..1)
 * @param o depth, filter, exclude
 * @returns the hits, best first, and the number of matching documents
 * @throws FsError EINVAL on bad parameters; EUCLEAN when a term's postings do not decode
 */
export function scoreBm25(ix: Bm25Index, terms: string[], p: Bm25Params, o: ScoreOptions = {}): ScoreResult {
  const { k1, b } = p;
  if (!(Number.isFinite(k1) && k1 >= 0) || !(b >= 0 && b <= 1)) {
    throw new FsError("EINVAL", `BM25 parameters k1 = ${k1}, b = ${b}: need k1 ≥ 0 and 0 ≤ b ≤ 1`);
  }
  const depth = o.depth ?? Infinity;
  if (!(depth >= 0)) throw new FsError("EINVAL", `BM25 depth ${depth}: need ≥ 0`);
  const N = ix.docCount();
  if (N === 0 || terms.length === 0) return { hits: [], matched: 0 };
  const avgdl = ix.totalTokens() / N;
  const { acc, seen, base, inos } = scratchOf(ix);
  const touched: number[] = [];
  const segs = ix.segments;
  // Per distinct term: its record in each segment and n(t), computed once.
  const found = new Map<string, { rec: number[]; n: number }>();
  for (const t of terms) {
    if (found.has(t)) continue;
    const key = termKey(t, ix.hashSeed);
    const rec = segs.map((seg) => seg.find(key));
    let n = 0;
    rec.forEach((i, s) => {
      if (i < 0) return;
      if (ix.allLive[s]) n += segs[s].dfs[i];
      else for (const ord of segs[s].postings(i).ords) n += ix.live[s][ord];
    });
    found.set(t, { rec, n });
  }
  try {
    for (const t of terms) {
      const { rec, n } = found.get(t)!;
      if (n === 0) continue;
      const idf = Math.log(1 + (N - n + 0.5) / (n + 0.5));
      for (let s = 0; s < segs.length; s++) {
        const i = rec[s];
        if (i < 0) continue;
        const seg = segs[s], live = ix.live[s], dl = seg.dl, off = base[s];
        const { ords, tfs } = seg.postings(i);
        for (let k = 0; k < ords.length; k++) {
          const ord = ords[k];
          if (live[ord] === 0) continue;
          const tf = tfs[k];
          const g = off + ord;
          if (seen[g] === 0) {
            seen[g] = 1;
            touched.push(g);
          }
          acc[g] += idf * tf / (tf + k1 * (1 - b + b * dl[ord] / avgdl));
        }
      }
    }
    // Keep the best `depth` passing documents in a heap of indices (worst at the root): no object per match.
    const better = (x: number, y: number) => acc[x] > acc[y] || (acc[x] === acc[y] && inos[x] < inos[y]);
    const heap: number[] = [];
    const cap = Math.min(depth, touched.length);
    let matched = 0;
    for (const g of touched) {
      const ino = inos[g];
      if ((o.filter && !o.filter(ino)) || o.exclude?.has(ino)) continue;
      matched++;
      if (heap.length < cap) {
        heap.push(g);
        for (let i = heap.length - 1; i > 0;) {
          const par = (i - 1) >> 1;
          if (!better(heap[par], heap[i])) break;
          [heap[i], heap[par]] = [heap[par], heap[i]];
          i = par;
        }
      } else if (cap > 0 && better(g, heap[0])) {
        heap[0] = g;
        for (let i = 0;;) {
          const l = 2 * i + 1, r = l + 1;
          let w = i;
          if (l < heap.length && better(heap[w], heap[l])) w = l;
          if (r < heap.length && better(heap[w], heap[r])) w = r;
          if (w === i) break;
          [heap[i], heap[w]] = [heap[w], heap[i]];
          i = w;
        }
      }
    }
    heap.sort((x, y) => better(x, y) ? -1 : 1);
    return { hits: heap.map((g) => ({ ino: inos[g], score: acc[g] })), matched };
  } finally {
    for (const g of touched) {
      acc[g] = 0;
      seen[g] = 0;
    }
  }
}
