/**
 * The corpora and queries of the keyword-search benchmark (bench/text.ts, issue 12 §3, design §7):
 *
 * - the fiori texts (778 chunks of `@sap-ux/fiori-docs-embeddings`, src/data/fiori.ts);
 * - a generated corpus: a vocabulary of pseudo-words (lowercase ASCII syllables, so that every engine's tokenizer
 *   splits them alike) drawn with Zipf(s) frequencies (rank r has weight 1/r^s), document lengths log-normal with
 *   median `medianTokens` (σ 0.5 of the log), a full stop every 8-23 words; all deterministic from a seed
 *   (mulberry32, bench/vectors.ts);
 * - queries of 1-3 terms sampled by document-frequency bucket (1, 2-9, 10-99, 100-999, ≥ 1000; empty buckets
 *   skipped) from the terms every engine tokenizes the same (`[a-z]{2,}`).
 * @module
 */
import { mulberry32 } from "./vectors.ts";

/** Parameters of a generated corpus. */
export interface GeneratedCorpusOptions {
  /** documents */
  docs: number;
  /** distinct pseudo-words of the vocabulary (default 50,000) */
  vocabulary?: number;
  /** Zipf exponent s (default 1.1) */
  zipf?: number;
  /** median document length in tokens (default 300) */
  medianTokens?: number;
  /** seed (default 12) */
  seed?: number;
}

const CONSONANTS = "bcdfghjklmnprstvwz";
const VOWELS = "aeiou";

/**
 * The vocabulary: `n` distinct pseudo-words of 2-4 consonant-vowel syllables (optionally a closing consonant), in
 * random order (rank 1 first).
 */
export function pseudoWords(n: number, seed: number): string[] {
  const r = mulberry32(seed);
  const pick = (s: string) => s[Math.floor(r() * s.length)];
  const seen = new Set<string>();
  const out: string[] = [];
  while (out.length < n) {
    const syl = 2 + Math.floor(r() * 3);
    let w = "";
    for (let i = 0; i < syl; i++) w += pick(CONSONANTS) + pick(VOWELS);
    if (r() < 0.3) w += pick(CONSONANTS);
    if (seen.has(w)) continue;
    seen.add(w);
    out.push(w);
  }
  return out;
}

/**
 * A generated corpus (see the module doc): `docs` texts, deterministic from the options.
 * @returns the texts, each a string of words separated by spaces and full stops
 */
export function generatedCorpus(o: GeneratedCorpusOptions): string[] {
  const vocab = pseudoWords(o.vocabulary ?? 50_000, (o.seed ?? 12) ^ 0x5eed);
  const s = o.zipf ?? 1.1;
  const cdf = new Float64Array(vocab.length);
  let total = 0;
  for (let i = 0; i < vocab.length; i++) cdf[i] = total += 1 / Math.pow(i + 1, s);
  const r = mulberry32(o.seed ?? 12);
  const word = () => {
    const u = r() * total;
    let lo = 0, hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return vocab[lo];
  };
  const mu = Math.log(o.medianTokens ?? 300);
  const texts: string[] = [];
  for (let d = 0; d < o.docs; d++) {
    // Box-Muller: one standard normal
    const z = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    const len = Math.max(5, Math.round(Math.exp(mu + 0.5 * z)));
    const parts: string[] = [];
    let sentence = 8 + Math.floor(r() * 16);
    for (let i = 0; i < len; i++) {
      parts.push(word());
      if (--sentence === 0 || i === len - 1) {
        parts.push(". ");
        sentence = 8 + Math.floor(r() * 16);
      } else parts.push(" ");
    }
    texts.push(parts.join(""));
  }
  return texts;
}

/** Document-frequency buckets of the sampled queries: [low, high) */
export const DF_BUCKETS: readonly [number, number][] = [[1, 2], [2, 10], [10, 100], [100, 1000], [1000, Infinity]];

/**
 * Queries of 1, 2, 3 terms in turn, each term from a uniformly chosen non-empty df bucket
 * ({@link DF_BUCKETS}), uniformly within it; deterministic from `seed`.
 * @param df term → document frequency (terms not matching `[a-z]{2,}` are ignored)
 * @param count queries
 * @returns queries as text (terms separated by spaces)
 * @throws Error when no term qualifies
 */
export function sampleQueries(df: Map<string, number>, count: number, seed: number): string[] {
  const buckets: string[][] = DF_BUCKETS.map(() => []);
  for (const [t, n] of df) {
    if (!/^[a-z]{2,}$/.test(t)) continue;
    const b = DF_BUCKETS.findIndex(([lo, hi]) => n >= lo && n < hi);
    if (b >= 0) buckets[b].push(t);
  }
  const full = buckets.filter((b) => b.length).map((b) => b.sort());
  if (!full.length) throw new Error("no query term: the corpus has no [a-z]{2,} term");
  const r = mulberry32(seed);
  const out: string[] = [];
  for (let q = 0; q < count; q++) {
    const terms: string[] = [];
    for (let k = 0; k < 1 + (q % 3); k++) {
      const b = full[Math.floor(r() * full.length)];
      terms.push(b[Math.floor(r() * b.length)]);
    }
    out.push(terms.join(" "));
  }
  return out;
}

/** The p-th percentile (nearest rank: the ⌈p/100·n⌉-th smallest) of `xs`. @throws RangeError when empty */
export function percentile(xs: readonly number[], p: number): number {
  if (!xs.length) throw new RangeError("no samples");
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
