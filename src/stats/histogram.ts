/**
 * A fixed-bucket log-linear histogram of durations, for the daemon's latency
 * counters (`vexfs stats`, docs/MONITORING.md): cheap enough to record every
 * request, with no allocation per value.
 *
 * The buckets are those of an HDR histogram with 3 significant bits: values
 * 0..7 get a bucket each; above, every power-of-two range [2^e, 2^(e+1)) is
 * split into 8 equal sub-buckets, so a bucket's width is at most 1/8 of its
 * lower bound and a percentile read from it is within 12.5% of the true
 * value (Gil Tene's HdrHistogram, "sub-bucket" layout; here with one fixed
 * precision and no resizing). Values are integers (nanoseconds here) up to
 * 2^48 - 1 (about 78 hours); larger ones count in the last bucket.
 *
 * Many histograms live in one `Float64Array` (one per FUSE opcode), each
 * {@linkcode BUCKETS} counts long from an offset: recording is an index
 * computation and one increment. Float64 counts are exact up to 2^53.
 * @module
 */

/** Sub-buckets per power of two, as bits: 3 → 8 sub-buckets, ≤ 12.5% relative error. */
const SUB_BITS = 3;
const SUB = 1 << SUB_BITS;
/** Largest power-of-two exponent with buckets of its own (values < 2^48). */
const MAX_EXP = 47;
/** Counts per histogram: 8 linear buckets for 0..7, then 8 for each exponent 3..47. */
export const BUCKETS = SUB + (MAX_EXP - SUB_BITS + 1) * SUB;

const TWO32 = 2 ** 32;

/**
 * The bucket of value `v` (an integer ≥ 0; a fraction is truncated, a
 * negative value counts as 0).
 * @returns 0..{@linkcode BUCKETS}-1
 */
export function bucketOf(v: number): number {
  if (!(v >= SUB)) return v > 0 ? v | 0 : 0;
  let e: number;
  if (v < TWO32) e = 31 - Math.clz32(v);
  else {
    const hi = Math.floor(v / TWO32);
    e = hi >= TWO32 ? 64 : 63 - Math.clz32(hi);
  }
  if (e > MAX_EXP) return BUCKETS - 1;
  const mant = Math.floor(v / 2 ** (e - SUB_BITS)); // 8..15
  return SUB + (e - SUB_BITS) * SUB + (mant - SUB);
}

/** Smallest value of bucket `i`. */
export function bucketLow(i: number): number {
  if (i < SUB) return i;
  const e = SUB_BITS + Math.floor((i - SUB) / SUB);
  return ((i - SUB) % SUB + SUB) * 2 ** (e - SUB_BITS);
}

/** Largest value of bucket `i` (the next bucket's lowest, less one). */
export function bucketHigh(i: number): number {
  return i >= BUCKETS - 1 ? 2 ** (MAX_EXP + 1) - 1 : bucketLow(i + 1) - 1;
}

/**
 * The value at quantile `q` of the histogram at `counts[base .. base+BUCKETS)`:
 * the highest value of the bucket that holds the ⌈q·total⌉-th smallest
 * recording (as HdrHistogram's `getValueAtPercentile`), never more than
 * `max` (the largest value recorded, kept exactly by the caller).
 * @param counts the histograms' counts
 * @param base offset of this histogram in `counts`
 * @param total the number of values recorded in it
 * @param q 0..1 (0.5 median, 0.99 the 99th percentile)
 * @param max the largest value recorded
 * @returns 0 when nothing was recorded
 */
export function quantile(counts: Float64Array, base: number, total: number, q: number, max: number): number {
  if (total <= 0) return 0;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < BUCKETS; i++) {
    seen += counts[base + i];
    if (seen >= rank) return Math.min(bucketHigh(i), max);
  }
  return max;
}

/** One histogram of its own: {@linkcode LatencyHistogram.record} values, read count, total, max and quantiles. */
export class LatencyHistogram {
  readonly counts = new Float64Array(BUCKETS);
  count = 0;
  total = 0;
  max = 0;

  /** Records one value (ns, an integer ≥ 0). */
  record(v: number): void {
    this.counts[bucketOf(v)]++;
    this.count++;
    this.total += v;
    if (v > this.max) this.max = v;
  }

  /** The value at quantile `q` (0..1), see {@linkcode quantile}. */
  quantile(q: number): number {
    return quantile(this.counts, 0, this.count, q, this.max);
  }

  /** Adds every recording of `o` to this one. */
  add(o: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] += o.counts[i];
    this.count += o.count;
    this.total += o.total;
    if (o.max > this.max) this.max = o.max;
  }
}
