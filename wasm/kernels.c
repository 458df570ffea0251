/*
 * kernels.c - flat (exact) vector search over a collection's store in wasm
 * memory: the `kernels` module, wrapped by src/vector/simd.ts.
 *
 * A store is FORMAT.md §8.2's array: slot s at s * dim * elem_size. Scores are
 * FORMAT.md §8.4's: l2 the Euclidean distance (lower is nearer), cosine the
 * similarity dot / (|q| |x|) with |x| the stored f32 norm of §8.5 (0 when a
 * norm is 0), ip the dot product (higher is nearer).
 *
 * Exactness: search results must be identical to the scalar reference
 * (src/vector/distance.ts + topk.ts), which computes in f64. f64 SIMD (two
 * lanes) is several times slower than f32 SIMD, so a search runs in two steps
 * ("filter and refine"):
 *
 * 1. vx_scan_candidates scores every slot with the fast f32 kernels of
 *    vx_simd.h and a rigorous error bound B (vx_f32_eps), giving an interval
 *    [lo, hi] that holds the exact score's key (key = squared distance for
 *    l2, minus the score for cosine and ip, so lower is better). It keeps the
 *    k smallest `hi` in a max-heap; its root T bounds the k-th best exact key
 *    from above. A slot whose lo > T is strictly worse than k others and is
 *    dropped; every other slot is a candidate (slots whose fast score is not
 *    finite, from overflow or corrupt data, are always candidates). The
 *    margin of 2 in the bound makes "strictly worse" survive the sqrt of l2
 *    and the clamp of cosine, so no dropped slot can tie with a kept one.
 * 2. vx_score_exact rescores the candidates with the exact family of
 *    vx_simd.h (bit-identical to distance.ts) and TypeScript orders them by
 *    score, then inode (topk.ts), which needs the inode numbers C does not
 *    have. Typically k to a few k candidates remain.
 *
 * Queries must be f32 values for step 1 (the bound assumes the f32 query is
 * the query); simd.ts scores every slot exactly otherwise.
 */
#include "vx_simd.h"
#include "vx_wasm.h"



/* ---- norms -------------------------------------------------------------- */

/* out[s] = FORMAT.md §8.5 norm of slot s of the store, s = 0 .. count-1. */
void VX_EXPORT(vx_norms)(uint32_t elem, const uint8_t *store, uint32_t dim, uint32_t count, float *out) {
  size_t stride = (size_t)dim * vx_elem_size(elem);
  for (uint32_t s = 0; s < count; s++) out[s] = vx_norm_stored(elem, store + s * stride, dim);
}

/* ---- exact scores --------------------------------------------------------- */

static VX_ALWAYS_INLINE void score_exact_impl(uint32_t elem, uint32_t metric, const uint8_t *store, uint32_t dim,
                                           const double *q, double qn, const float *norms, const uint32_t *slots,
                                           uint32_t n, double *out) {
  size_t stride = (size_t)dim * vx_elem_size(elem);
  for (uint32_t i = 0; i < n; i++) {
    uint32_t s = slots ? slots[i] : i;
    const uint8_t *x = store + s * stride;
    if (metric == VX_METRIC_L2) {
      out[i] = __builtin_sqrt(vx_l2sq_exact(elem, q, x, dim));
    } else if (metric == VX_METRIC_IP) {
      out[i] = vx_dot_exact(elem, q, x, dim);
    } else {
      out[i] = vx_cosine_from(vx_dot_exact(elem, q, x, dim), qn, norms[s]);
    }
  }
}

/*
 * Exact scores (bit-identical to src/vector/distance.ts; cosine with the
 * stored norms) of n slots into out[0..n-1] (f64): slot slots[i], or slot i
 * when slots is 0.
 * elem, metric: FORMAT.md §8.1 codes. q: the query as f64 (dim values).
 * qn: |q| as distance.ts's norm() computes it (cosine only). norms: the
 * store's §8.5 norms (cosine only; may be 0 otherwise).
 */
void VX_EXPORT(vx_score_exact)(uint32_t elem, uint32_t metric, const uint8_t *store, uint32_t dim, const double *q,
                               double qn, const float *norms, const uint32_t *slots, uint32_t n, double *out) {
#define CASE(E, M) score_exact_impl(E, M, store, dim, q, qn, norms, slots, n, out)
#define METRICS(E)                                                                                                  \
  if (metric == VX_METRIC_L2) CASE(E, VX_METRIC_L2);                                                                \
  else if (metric == VX_METRIC_IP) CASE(E, VX_METRIC_IP);                                                           \
  else CASE(E, VX_METRIC_COSINE)
  if (elem == VX_ELEM_F32) {
    METRICS(VX_ELEM_F32);
  } else if (elem == VX_ELEM_F16) {
    METRICS(VX_ELEM_F16);
  } else {
    METRICS(VX_ELEM_I8);
  }
#undef METRICS
#undef CASE
}

/* ---- fast candidates --------------------------------------------------------- */

/* Max-heap of doubles (the root is the largest). */
static VX_ALWAYS_INLINE void heap_push(double *h, uint32_t *n, double v) {
  uint32_t i = (*n)++;
  while (i > 0) {
    uint32_t p = (i - 1) >> 1;
    if (!(h[p] < v)) break;
    h[i] = h[p];
    i = p;
  }
  h[i] = v;
}

static VX_ALWAYS_INLINE void heap_replace_root(double *h, uint32_t n, double v) {
  uint32_t i = 0;
  for (;;) {
    uint32_t l = 2 * i + 1;
    if (l >= n) break;
    uint32_t c = l;
    if (l + 1 < n && h[l + 1] > h[l]) c = l + 1;
    if (!(h[c] > v)) break;
    h[i] = h[c];
    i = c;
  }
  h[i] = v;
}

static VX_ALWAYS_INLINE uint32_t scan_impl(uint32_t elem, uint32_t metric, const uint8_t *store, uint32_t dim,
                                        uint32_t count, const float *q, double qn, const float *norms,
                                        const uint32_t *slots, uint32_t nslots, const uint8_t *allow, uint32_t k,
                                        double *heap, uint32_t *cand, double *cand_lo) {
  size_t stride = (size_t)dim * vx_elem_size(elem);
  const double eps = vx_f32_eps(dim), abs_eps = vx_f32_abs_eps(dim);
  const double inf = __builtin_inf();
  /* l2: |s' - s| <= eps * s + A with s <= (s' + A) / (1 - eps), so B = c1 * s' + c0. */
  const double l2c1 = eps / (1 - eps), l2c0 = abs_eps / (1 - eps) + abs_eps;
  /* ip: sum |q_i x_i| <= |q| |x| <= qn * xn * (1 + 2^-20) (xn is rounded to f32). */
  const double ipc = eps * qn * (1 + 0x1p-20);
  const double cosc = eps * (1 + 0x1p-20);
  uint32_t hn = 0, nc = 0;
  double t = inf; /* root of the heap once it holds k values */
  uint32_t n = slots ? nslots : count;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t s = slots ? slots[i] : i;
    if (allow && !allow[s]) continue;
    const uint8_t *x = store + s * stride;
    double lo, hi;
    if (metric == VX_METRIC_L2) {
      double d = vx_l2sq(elem, q, x, dim);
      double b = l2c1 * d + l2c0;
      lo = d - b;
      hi = d + b;
    } else if (metric == VX_METRIC_IP) {
      double d = vx_dot(elem, q, x, dim);
      double xn = norms[s];
      double b = ipc * xn + abs_eps;
      lo = -d - b;
      hi = -d + b;
    } else {
      double xn = norms[s];
      if (qn == 0 || xn == 0) {
        lo = hi = 0; /* exactly 0 (FORMAT.md §8.4) */
      } else {
        double d = vx_dot(elem, q, x, dim);
        double qx = qn * xn;
        double c = d / qx, b = cosc + abs_eps / qx;
        double up = c + b, down = c - b;
        lo = -(up > 1 ? 1 : up);
        hi = -(down < -1 ? -1 : down);
      }
    }
    /* hi - lo is finite and >= 0 only for finite, non-NaN bounds. */
    if (!(hi - lo >= 0 && hi - lo < inf)) {
      cand[nc] = s;
      cand_lo[nc++] = -inf;
      continue;
    }
    if (lo <= t) {
      cand[nc] = s;
      cand_lo[nc++] = lo;
    }
    if (hn < k) {
      heap_push(heap, &hn, hi);
      if (hn == k) t = heap[0];
    } else if (hi < t) {
      heap_replace_root(heap, hn, hi);
      t = heap[0];
    }
  }
  /* Keep the candidates that can still make the top k under the final bound. */
  uint32_t m = 0;
  for (uint32_t i = 0; i < nc; i++) {
    if (cand_lo[i] <= t) cand[m++] = cand[i];
  }
  return m;
}

/*
 * Candidate slots for the k best of a store under a metric (step 1 above).
 *
 * elem, metric: FORMAT.md §8.1 codes. store: count slots of dim elements.
 * q: the query (dim f32). qn: the query's norm in f64 (cosine and ip).
 * norms: the store's §8.5 norms (cosine and ip; unused for l2).
 * slots/nslots: when slots is not 0, only these slots are scanned (in this
 * order), else slots 0 .. count-1. allow: when not 0, a byte per slot; slots
 * whose byte is 0 are skipped. k >= 1.
 * Scratch: heap (k doubles), cand_lo (one double per scanned slot).
 * Output: cand (one u32 per scanned slot at most) gets the candidate slots in
 * scan order; returns how many. Every slot of the exact top k (ties by any
 * order) is among them.
 */
uint32_t VX_EXPORT(vx_scan_candidates)(uint32_t elem, uint32_t metric, const uint8_t *store, uint32_t dim,
                                       uint32_t count, const float *q, double qn, const float *norms,
                                       const uint32_t *slots, uint32_t nslots, const uint8_t *allow, uint32_t k,
                                       double *heap, uint32_t *cand, double *cand_lo) {
  if (k == 0) return 0;
#define CASE(E, M) return scan_impl(E, M, store, dim, count, q, qn, norms, slots, nslots, allow, k, heap, cand, cand_lo)
#define METRICS(E)                                                                                                  \
  if (metric == VX_METRIC_L2) CASE(E, VX_METRIC_L2);                                                                \
  if (metric == VX_METRIC_IP) CASE(E, VX_METRIC_IP);                                                                \
  CASE(E, VX_METRIC_COSINE)
  if (elem == VX_ELEM_F32) {
    METRICS(VX_ELEM_F32);
  }
  if (elem == VX_ELEM_F16) {
    METRICS(VX_ELEM_F16);
  }
  METRICS(VX_ELEM_I8);
#undef METRICS
#undef CASE
}

/*
 * Fast (f32) scores of n slots into out (f32): the squared distance for l2,
 * the dot product for ip and cosine (not divided by the norms). For
 * benchmarks and tests of the fast family; searches use vx_scan_candidates.
 */
void VX_EXPORT(vx_score_fast)(uint32_t elem, uint32_t metric, const uint8_t *store, uint32_t dim, const float *q,
                              const uint32_t *slots, uint32_t n, float *out) {
  size_t stride = (size_t)dim * vx_elem_size(elem);
  for (uint32_t i = 0; i < n; i++) {
    uint32_t s = slots ? slots[i] : i;
    const uint8_t *x = store + s * stride;
    out[i] = metric == VX_METRIC_L2 ? vx_l2sq(elem, q, x, dim) : vx_dot(elem, q, x, dim);
  }
}
