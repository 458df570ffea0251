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
 * For i8 stores step 1 computes exact integer dot products against the query
 * quantized to i16 instead, and bounds the quantization error; f32 and f16
 * stores can be prefiltered the same way from 8-bit codes of their vectors
 * (SQ8, vx_scan_sq8) before the f32 pass (scan_codes_impl).
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

/* ---- fast scores, two slots at a time ----------------------------------------- */

/*
 * The fast family of vx_simd.h for two stored vectors at once: each query
 * block is loaded once for both, which is what limits a one-slot scan. Every
 * accumulator sees exactly the operations of VX_FAST_BODY in the same order,
 * so each result is bit-identical to vx_l2sq_<t> / vx_dot_<t> and the error
 * bound vx_f32_eps applies unchanged.
 */
#define VX_FAST_PAIR(T, LOAD16, LOAD4, X, L2)                                                   \
  v128_t a0 = wasm_f32x4_splat(0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0; \
  size_t j = 0;                                                                                \
  for (; j + 16 <= dim; j += 16) {                                                             \
    v128_t q0 = wasm_v128_load(q + j), q1 = wasm_v128_load(q + j + 4);                         \
    v128_t q2 = wasm_v128_load(q + j + 8), q3 = wasm_v128_load(q + j + 12);                    \
    {                                                                                          \
      const T *x = xa;                                                                         \
      v128_t x0, x1, x2, x3;                                                                   \
      LOAD16(j);                                                                               \
      PAIR_STEP(a0, q0, x0, L2);                                                               \
      PAIR_STEP(a1, q1, x1, L2);                                                               \
      PAIR_STEP(a2, q2, x2, L2);                                                               \
      PAIR_STEP(a3, q3, x3, L2);                                                               \
    }                                                                                          \
    {                                                                                          \
      const T *x = xb;                                                                         \
      v128_t x0, x1, x2, x3;                                                                   \
      LOAD16(j);                                                                               \
      PAIR_STEP(b0, q0, x0, L2);                                                               \
      PAIR_STEP(b1, q1, x1, L2);                                                               \
      PAIR_STEP(b2, q2, x2, L2);                                                               \
      PAIR_STEP(b3, q3, x3, L2);                                                               \
    }                                                                                          \
  }                                                                                            \
  if (j == dim) {                                                                              \
    /* No tail: both horizontal sums at once, each (l0 + l1) + (l2 + l3) as vx_hsum_f32x4. */  \
    v128_t A = wasm_f32x4_add(wasm_f32x4_add(a0, a1), wasm_f32x4_add(a2, a3));                \
    v128_t B = wasm_f32x4_add(wasm_f32x4_add(b0, b1), wasm_f32x4_add(b2, b3));                \
    v128_t s1 = wasm_f32x4_add(wasm_i32x4_shuffle(A, B, 0, 2, 4, 6), wasm_i32x4_shuffle(A, B, 1, 3, 5, 7)); \
    v128_t s2 = wasm_f32x4_add(s1, wasm_i32x4_shuffle(s1, s1, 1, 0, 3, 2));                   \
    out[0] = wasm_f32x4_extract_lane(s2, 0);                                                   \
    out[1] = wasm_f32x4_extract_lane(s2, 2);                                                   \
  } else {                                                                                     \
    out[0] = pair_tail_##T(L2, q, xa, dim, j, a0, a1, a2, a3);                                 \
    out[1] = pair_tail_##T(L2, q, xb, dim, j, b0, b1, b2, b3);                                 \
  }

#define PAIR_STEP(acc, qv, xv, L2)                 \
  do {                                             \
    if (L2) {                                      \
      v128_t e_ = wasm_f32x4_sub(qv, xv);          \
      acc = wasm_f32x4_add(acc, wasm_f32x4_mul(e_, e_)); \
    } else {                                       \
      acc = wasm_f32x4_add(acc, wasm_f32x4_mul(qv, xv)); \
    }                                              \
  } while (0)

/* The rest of VX_FAST_BODY after the 16-element blocks: the blocks of 4, the sums, the last elements. */
#define PAIR_TAIL(T, LOAD4, X)                                                                              \
  static VX_ALWAYS_INLINE float pair_tail_##T(int l2, const float *q, const T *x, size_t dim, size_t j,    \
                                              v128_t a0, v128_t a1, v128_t a2, v128_t a3) {                \
    for (; j + 4 <= dim; j += 4) {                                                                          \
      v128_t x0 = LOAD4(j), q0 = wasm_v128_load(q + j);                                                     \
      PAIR_STEP(a0, q0, x0, l2);                                                                            \
    }                                                                                                       \
    float s = vx_hsum_f32x4(a0, a1, a2, a3);                                                                \
    for (; j < dim; j++) {                                                                                  \
      float xj = X(j);                                                                                      \
      if (l2) {                                                                                             \
        float e = q[j] - xj;                                                                                \
        s += e * e;                                                                                         \
      } else {                                                                                              \
        s += q[j] * xj;                                                                                     \
      }                                                                                                     \
    }                                                                                                       \
    return s;                                                                                               \
  }

typedef float f32_t;
typedef uint16_t f16_t;
typedef int8_t i8_t;
PAIR_TAIL(f32_t, VX_F32_LOAD4, VX_F32_X)
PAIR_TAIL(f16_t, VX_F16_LOAD4, VX_F16_X)
PAIR_TAIL(i8_t, VX_I8_LOAD4, VX_I8_X)

static VX_ALWAYS_INLINE void pair_f32(int l2, const float *q, const f32_t *xa, const f32_t *xb, size_t dim, float *out) {
  VX_FAST_PAIR(f32_t, VX_F32_LOAD16, VX_F32_LOAD4, VX_F32_X, l2)
}
static VX_ALWAYS_INLINE void pair_f16(int l2, const float *q, const f16_t *xa, const f16_t *xb, size_t dim, float *out) {
  VX_FAST_PAIR(f16_t, VX_F16_LOAD16, VX_F16_LOAD4, VX_F16_X, l2)
}
static VX_ALWAYS_INLINE void pair_i8(int l2, const float *q, const i8_t *xa, const i8_t *xb, size_t dim, float *out) {
  VX_FAST_PAIR(i8_t, VX_I8_LOAD16, VX_I8_LOAD4, VX_I8_X, l2)
}

/* Fast scores (squared distance for l2, else the dot product) of two stored vectors. */
static VX_ALWAYS_INLINE void fast_pair(uint32_t elem, int l2, const float *q, const void *xa, const void *xb,
                                       size_t dim, float *out) {
  if (elem == VX_ELEM_F32) pair_f32(l2, q, xa, xb, dim, out);
  else if (elem == VX_ELEM_F16) pair_f16(l2, q, xa, xb, dim, out);
  else pair_i8(l2, q, xa, xb, dim, out);
}

/* Fast score of one stored vector. */
static VX_ALWAYS_INLINE float fast_one(uint32_t elem, int l2, const float *q, const void *x, size_t dim) {
  return l2 ? vx_l2sq(elem, q, x, dim) : vx_dot(elem, q, x, dim);
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

/* Slots scored per block: the fast pass fills a block of scores, then the bookkeeping runs over it. */
#define BLOCK 64

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
  /*
   * Quick rejection, derived from lo > t (the full test below decides; this
   * one only skips slots it would reject, with a relative slack of 2^-30):
   * l2: lo = s'(1 - c1) - c0 > t  <=>  s' > (t + c0) / (1 - c1) = lim;
   * ip: lo = -d - ipc xn - A > t  <=>  d < -(t + A) - ipc xn;
   * cosine: lo = -clamp(c + B) > t with c + B = (d + A) / (qn xn) + cosc
   *   <=>  d < (-t - cosc) qn xn - A  (t < 1; with t >= 1 nothing is rejected).
   * Before the heap is full nothing is rejected.
   */
  double lim = metric == VX_METRIC_L2 ? inf : -inf;
  uint32_t n = slots ? nslots : count;
  float score[BLOCK];
  uint32_t idx[BLOCK];
  for (uint32_t base = 0; base < n; base += BLOCK) {
    uint32_t m = n - base < BLOCK ? n - base : BLOCK;
    /* The block's slots to score: all of base .. base + m - 1, or those listed and allowed. */
    const int contiguous = !slots && !allow;
    uint32_t nb = m;
    if (!contiguous) {
      nb = 0;
      for (uint32_t i = 0; i < m; i++) {
        uint32_t s = slots ? slots[base + i] : base + i;
        if (!allow || allow[s]) idx[nb++] = s;
      }
    }
    /* Fast pass over them, two at a time. */
    uint32_t i = 0;
    if (contiguous) {
      const uint8_t *x = store + base * stride;
      for (; i + 2 <= nb; i += 2, x += 2 * stride) fast_pair(elem, metric == VX_METRIC_L2, q, x, x + stride, dim, score + i);
      if (i < nb) score[i] = fast_one(elem, metric == VX_METRIC_L2, q, x, dim);
    } else {
      for (; i + 2 <= nb; i += 2) {
        fast_pair(elem, metric == VX_METRIC_L2, q, store + idx[i] * stride, store + idx[i + 1] * stride, dim,
                  score + i);
      }
      if (i < nb) score[i] = fast_one(elem, metric == VX_METRIC_L2, q, store + idx[i] * stride, dim);
    }
    /* Bounds, candidates and the heap of the k smallest upper bounds. */
    for (uint32_t i = 0; i < nb; i++) {
      uint32_t s = contiguous ? base + i : idx[i];
      double d = score[i];
      double lo, hi;
      if (!(d - d == 0)) {
        /* Overflow (or NaN from corrupt data): the f32 score says nothing; rescore exactly. */
        cand[nc] = s;
        cand_lo[nc++] = -inf;
        continue;
      }
      if (metric == VX_METRIC_L2) {
        if (d > lim) continue;
        double b = l2c1 * d + l2c0;
        lo = d - b;
        hi = d + b;
      } else if (metric == VX_METRIC_IP) {
        double xn = norms[s];
        if (d < lim - ipc * xn) continue;
        double b = ipc * xn + abs_eps;
        lo = -d - b;
        hi = -d + b;
      } else {
        double xn = norms[s];
        double qx = qn * xn;
        if (d < lim * qx - abs_eps) continue;
        if (qn == 0 || xn == 0) {
          lo = hi = 0; /* exactly 0 (FORMAT.md §8.4) */
        } else {
          /* Both ends clamped like the score, so a dropped slot cannot tie a kept one at +-1. */
          double c = d / qx, b = cosc + abs_eps / qx;
          double up = c + b, down = c - b;
          lo = -(up > 1 ? 1 : up < -1 ? -1 : up);
          hi = -(down > 1 ? 1 : down < -1 ? -1 : down);
        }
      }
      /* hi - lo is finite and >= 0 only for finite, non-NaN bounds (a corrupt norm can make them not). */
      if (!(hi - lo >= 0 && hi - lo < inf)) {
        cand[nc] = s;
        cand_lo[nc++] = -inf;
        continue;
      }
      if (lo <= t) {
        cand[nc] = s;
        cand_lo[nc++] = lo;
      }
      if (hn < k || hi < t) {
        if (hn < k) {
          heap_push(heap, &hn, hi);
          if (hn < k) continue;
        } else {
          heap_replace_root(heap, hn, hi);
        }
        t = heap[0];
        /* New quick-rejection limit for the new t, loosened by 2^-30. */
        if (metric == VX_METRIC_L2) {
          lim = (t + l2c0) / (1 - l2c1);
          lim += (lim < 0 ? -lim : lim) * 0x1p-30;
        } else if (metric == VX_METRIC_IP) {
          lim = -(t + abs_eps);
          lim -= (lim < 0 ? -lim : lim) * 0x1p-30 + abs_eps;
        } else if (t < 1) {
          lim = -t - cosc;
          lim -= (lim < 0 ? -lim : lim) * 0x1p-30 + 0x1p-30;
        }
      }
    }
  }
  /* Keep the candidates that can still make the top k under the final bound. */
  uint32_t kept = 0;
  for (uint32_t i = 0; i < nc; i++) {
    if (cand_lo[i] <= t) cand[kept++] = cand[i];
  }
  return kept;
}

/* ---- 8-bit codes: the query quantized, exact integer dot products --------------- */

/*
 * Two scans work on 8-bit codes instead of f32 arithmetic:
 *
 * - i8 stores, whose elements are the codes (widening them to f32 is what
 *   limits the f32 fast pass);
 * - f32 and f16 stores through their SQ8 prefilter: per slot, codes c_i =
 *   rint(x_i / r) clamped to [-127, 127] with r = max |x_i| / 127 rounded to
 *   f32, and the exact norm e >= |x - r c| of what the codes miss
 *   (vx_sq8_encode; WasmStore in simd.ts keeps them with the vectors). A
 *   scan then reads a quarter of the bytes.
 *
 * The query is quantized once to i16, q~ = rint(q * S) with S a power of two,
 * and each slot's D = sum q~_i c_i is computed exactly in i32
 * (i32x4.dot_i16x8_s: eight i16 products summed in pairs): |D| <= dim * M *
 * 128 < 2^31 by the choice of M = max |q~|. Then, with x~ = r c (r = 1, e = 0
 * for an i8 store) and delta = |q - q~/S| computed exactly from the rounded
 * query, Cauchy-Schwarz gives
 *
 *   |q.x - r D / S| <= |q.(x - x~)| + |(q - q~/S).x~| <= |q| e + delta |x~|,
 *
 * with |x~| <= |x| + e. l2 uses |q - x|^2 = |q|^2 - 2 q.x + |x|^2, with |x|^2
 * the stored norm squared (rounded to f32: relative error below 2^-21);
 * cosine and ip use the dot product. Every
 * bound adds 2^-40 of the magnitudes involved for the f64 roundings of this
 * code and of the reference's own sums.
 */
static int16_t i8_query[4096];
static double i8_inv_s, i8_delta, i8_qq;
static int i8_query_ok;

/* Quantizes q (dim <= 4096) into i8_query; sets i8_query_ok = 0 for a query that is not finite. */
static void quantize_query(const float *q, size_t dim) {
  double maxabs = 0, qq = 0;
  for (size_t j = 0; j < dim; j++) {
    double a = q[j] < 0 ? -(double)q[j] : q[j];
    if (!(a <= 0x1p127)) { /* infinite or NaN */
      i8_query_ok = 0;
      return;
    }
    if (a > maxabs) maxabs = a;
    qq += (double)q[j] * q[j];
  }
  double m = 2147483647.0 / (128.0 * (double)dim);
  if (m > 32767) m = 32767;
  double scale = 1;
  if (maxabs > 0) {
    while (maxabs * scale > m) scale *= 0.5;
    while (maxabs * scale * 2 <= m) scale *= 2;
  }
  double d2 = 0;
  for (size_t j = 0; j < dim; j++) {
    double r = __builtin_rint(q[j] * scale);
    i8_query[j] = (int16_t)r;
    double e = q[j] - r / scale; /* exact: both are multiples of min(ulp(q_j), 1/S), |e| <= 1/(2S) */
    d2 += e * e;
  }
  i8_inv_s = 1 / scale;
  i8_delta = __builtin_sqrt(d2) * (1 + 0x1p-40);
  i8_qq = qq;
  i8_query_ok = 1;
}

/* Sums of the lanes of four i32x4 vectors, as one i32x4 (integer sums are exact in any order). */
static VX_ALWAYS_INLINE v128_t hsum4_i32x4(v128_t a, v128_t b, v128_t c, v128_t d) {
  v128_t ab = wasm_i32x4_add(wasm_i32x4_shuffle(a, b, 0, 1, 4, 5), wasm_i32x4_shuffle(a, b, 2, 3, 6, 7));
  v128_t cd = wasm_i32x4_add(wasm_i32x4_shuffle(c, d, 0, 1, 4, 5), wasm_i32x4_shuffle(c, d, 2, 3, 6, 7));
  return wasm_i32x4_add(wasm_i32x4_shuffle(ab, cd, 0, 2, 4, 6), wasm_i32x4_shuffle(ab, cd, 1, 3, 5, 7));
}

/* One block of 16 codes of one vector against the query, accumulated into d. */
#define CODE_STEP(x, d)                                                                                \
  do {                                                                                                 \
    v128_t c_ = wasm_v128_load((x) + j);                                                               \
    v128_t l_ = wasm_i16x8_extend_low_i8x16(c_), h_ = wasm_i16x8_extend_high_i8x16(c_);                \
    d = wasm_i32x4_add(d, wasm_i32x4_add(wasm_i32x4_dot_i16x8(l_, q0), wasm_i32x4_dot_i16x8(h_, q1))); \
  } while (0)

/* Exact D = sum q~_i c_i of four code vectors, into dot[0..3]. */
static VX_ALWAYS_INLINE void code_quad(const int8_t *xa, const int8_t *xb, const int8_t *xc, const int8_t *xd,
                                       size_t dim, int32_t *dot) {
  const int16_t *qi = i8_query;
  v128_t da = wasm_i32x4_splat(0), db = da, dc = da, dd = da;
  size_t j = 0;
  for (; j + 16 <= dim; j += 16) {
    v128_t q0 = wasm_v128_load(qi + j), q1 = wasm_v128_load(qi + j + 8);
    CODE_STEP(xa, da);
    CODE_STEP(xb, db);
    CODE_STEP(xc, dc);
    CODE_STEP(xd, dd);
  }
  wasm_v128_store(dot, hsum4_i32x4(da, db, dc, dd));
  if (j < dim) {
    const int8_t *x[4] = {xa, xb, xc, xd};
    for (int u = 0; u < 4; u++) {
      for (size_t i = j; i < dim; i++) dot[u] += qi[i] * x[u][i];
    }
  }
}

/*
 * Bounds [lo, hi] of two slots' keys (two f64 lanes) from their exact D,
 * scales r and residuals e (1 and 0 for an i8 store) and stored norms xn. A
 * slot without a finite bound (a vector that is not finite, a corrupt norm)
 * gets [-inf, inf]. Two lanes at a time: the bookkeeping costs as much as the
 * dot products otherwise.
 */
static VX_ALWAYS_INLINE void code_bounds2(uint32_t metric, double qn, v128_t D, v128_t r, v128_t e, v128_t xn,
                                          v128_t *lo, v128_t *hi) {
#define C(x) wasm_f64x2_splat(x)
#define ADD wasm_f64x2_add
#define SUB wasm_f64x2_sub
#define MUL wasm_f64x2_mul
  const v128_t inf = C(__builtin_inf());
  v128_t dot = MUL(r, MUL(D, C(i8_inv_s))); /* D * inv_s is exact; the product is rounded (in the margin) */
  /* |x| <= the stored f32 norm, enlarged by its rounding */
  v128_t xb = MUL(xn, C((1 + 0x1p-22) * (1 + 0x1p-40)));
  v128_t b = ADD(ADD(MUL(C(qn), e), MUL(C(i8_delta), ADD(xb, e))),
                 ADD(MUL(C(0x1p-40), ADD(MUL(C(qn), xb), wasm_f64x2_abs(dot))), C(0x1p-1000)));
  v128_t bad = wasm_v128_not(wasm_f64x2_lt(b, inf)); /* b infinite or NaN */
  if (metric == VX_METRIC_L2) {
    v128_t xx = MUL(xn, xn); /* |x|^2 within 2^-21 (the norm is rounded to f32) */
    v128_t sv = ADD(SUB(C(i8_qq), MUL(C(2), dot)), xx);
    v128_t bl = ADD(ADD(MUL(C(2), b), MUL(C(0x1p-40), ADD(C(i8_qq), xx))), MUL(C(0x1p-21), xx));
    *lo = SUB(sv, bl);
    *hi = ADD(sv, bl);
  } else if (metric == VX_METRIC_IP) {
    v128_t nd = wasm_f64x2_neg(dot);
    *lo = SUB(nd, b);
    *hi = ADD(nd, b);
  } else {
    v128_t qx = MUL(C(qn), xn);
    v128_t c = wasm_f64x2_div(dot, qx), bc = ADD(wasm_f64x2_div(b, qx), C(0x1p-40));
    /* clamp to [-1, 1]; pmin/pmax keep a NaN first operand, so a NaN stays NaN */
    v128_t up = wasm_f64x2_pmax(wasm_f64x2_pmin(ADD(c, bc), C(1)), C(-1));
    v128_t down = wasm_f64x2_pmax(wasm_f64x2_pmin(SUB(c, bc), C(1)), C(-1));
    v128_t zero = wasm_f64x2_eq(xn, C(0)); /* exactly 0 (FORMAT.md §8.4) */
    if (qn == 0) zero = wasm_i64x2_splat(-1);
    *lo = wasm_v128_andnot(wasm_f64x2_neg(up), zero);
    *hi = wasm_v128_andnot(wasm_f64x2_neg(down), zero);
    bad = wasm_v128_andnot(bad, zero);
  }
  *lo = wasm_v128_bitselect(wasm_f64x2_neg(inf), *lo, bad);
  *hi = wasm_v128_bitselect(inf, *hi, bad);
#undef C
#undef ADD
#undef SUB
#undef MUL
}

/*
 * Candidates from 8-bit codes (see above): codes holds dim bytes per slot
 * (the store itself for an i8 store, with rs = es = 0). The rest as
 * vx_scan_candidates.
 */
static VX_ALWAYS_INLINE uint32_t scan_codes_impl(uint32_t metric, int i8store, const int8_t *codes, uint32_t dim,
                                                 uint32_t count, const float *q, double qn, const float *norms,
                                                 const float *rs, const float *es, const uint32_t *slots,
                                                 uint32_t nslots, const uint8_t *allow, uint32_t k, double *heap,
                                                 uint32_t *cand, double *cand_lo) {
  const double inf = __builtin_inf();
  quantize_query(q, dim);
  uint32_t hn = 0, nc = 0;
  double t = inf;
  uint32_t n = slots ? nslots : count;
  uint32_t idx[BLOCK];
  int32_t dot[BLOCK];
  for (uint32_t base = 0; base < n; base += BLOCK) {
    uint32_t m = n - base < BLOCK ? n - base : BLOCK, nb = 0;
    for (uint32_t i = 0; i < m; i++) {
      uint32_t s = slots ? slots[base + i] : base + i;
      if (!allow || allow[s]) idx[nb++] = s;
    }
    if (!i8_query_ok) { /* a query that is not finite: the bounds say nothing; rescore everything */
      for (uint32_t i = 0; i < nb; i++) {
        cand[nc] = idx[i];
        cand_lo[nc++] = -inf;
      }
      continue;
    }
    /* Four slots at a time; the last group repeats its last slot (the arrays have room: BLOCK % 4 == 0). */
    for (uint32_t i = 0; i < nb; i += 4) {
      const int8_t *x[4];
      for (int u = 0; u < 4; u++) x[u] = codes + (size_t)idx[i + u < nb ? i + u : nb - 1] * dim;
      code_quad(x[0], x[1], x[2], x[3], dim, dot + i);
    }
    /* Bounds of the block, two slots at a time (an odd last slot is computed twice). */
    double los[BLOCK], his[BLOCK];
    for (uint32_t i = 0; i < nb; i += 2) {
      uint32_t s0 = idx[i], s1 = idx[i + 1 < nb ? i + 1 : i];
      uint32_t j1 = i + 1 < nb ? i + 1 : i;
      v128_t D = wasm_f64x2_make(dot[i], dot[j1]);
      v128_t r = i8store ? wasm_f64x2_splat(1) : wasm_f64x2_make(rs[s0], rs[s1]);
      v128_t e = i8store ? wasm_f64x2_splat(0) : wasm_f64x2_make(es[s0], es[s1]);
      v128_t xn = wasm_f64x2_make(norms[s0], norms[s1]);
      v128_t lo, hi;
      code_bounds2(metric, qn, D, r, e, xn, &lo, &hi);
      wasm_v128_store(los + i, lo); /* los and his have room for BLOCK (even) entries */
      wasm_v128_store(his + i, hi);
    }
    for (uint32_t i = 0; i < nb; i++) {
      double lo = los[i], hi = his[i];
      if (lo > t) continue; /* the common case: not a candidate, and hi >= lo > t */
      uint32_t s = idx[i];
      if (!(hi - lo >= 0 && hi - lo < inf)) { /* a vector that is not finite, or a corrupt norm */
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
  }
  uint32_t kept = 0;
  for (uint32_t i = 0; i < nc; i++) {
    if (cand_lo[i] <= t) cand[kept++] = cand[i];
  }
  return kept;
}

/*
 * SQ8 codes of count slots of an f32 or f16 store (see above): codes gets dim
 * bytes per slot, rs the scale r (f32), es the residual norm e (f32, rounded
 * up). A slot with a value that is not finite gets e = +infinity, so that a
 * scan always rescores it exactly.
 */
void VX_EXPORT(vx_sq8_encode)(uint32_t elem, const uint8_t *store, uint32_t dim, uint32_t count, int8_t *codes,
                              float *rs, float *es) {
  size_t stride = (size_t)dim * vx_elem_size(elem);
  for (uint32_t s = 0; s < count; s++) {
    const uint8_t *x = store + s * stride;
    int8_t *c = codes + (size_t)s * dim;
#define X(j) (elem == VX_ELEM_F32 ? ((const float *)x)[j] : vx_f16_to_f32(((const uint16_t *)x)[j]))
    double maxabs = 0;
    for (size_t j = 0; j < dim; j++) {
      double a = X(j);
      a = a < 0 ? -a : a;
      if (!(a <= maxabs)) maxabs = a; /* NaN makes maxabs NaN */
    }
    if (!(maxabs <= 0x1p128)) { /* infinite or NaN */
      __builtin_memset(c, 0, dim);
      rs[s] = 0;
      es[s] = __builtin_inf();
      continue;
    }
    float r = (float)(maxabs / 127);
    double e2 = 0;
    for (size_t j = 0; j < dim; j++) {
      double xj = X(j);
      double v = r > 0 ? __builtin_rint(xj / r) : 0;
      v = v > 127 ? 127 : v < -127 ? -127 : v;
      c[j] = (int8_t)v;
      double d = xj - v * (double)r; /* exact: v * r has at most 31 significant bits */
      e2 += d * d;
    }
#undef X
    rs[s] = r;
    es[s] = (float)(__builtin_sqrt(e2) * (1 + 0x1p-22)); /* rounding to f32 stays above the true norm */
  }
}

/*
 * Candidate slots for the k best of an f32 or f16 store from its SQ8 codes:
 * as vx_scan_candidates, with codes, rs and es from vx_sq8_encode. A first
 * filter: simd.ts runs the f32 pass over the candidates when they are many.
 */
uint32_t VX_EXPORT(vx_scan_sq8)(uint32_t metric, const int8_t *codes, uint32_t dim, uint32_t count, const float *q,
                                double qn, const float *norms, const float *rs, const float *es,
                                const uint32_t *slots, uint32_t nslots, const uint8_t *allow, uint32_t k, double *heap,
                                uint32_t *cand, double *cand_lo) {
  if (k == 0) return 0;
  if (metric == VX_METRIC_L2)
    return scan_codes_impl(VX_METRIC_L2, 0, codes, dim, count, q, qn, norms, rs, es, slots, nslots, allow, k, heap,
                           cand, cand_lo);
  if (metric == VX_METRIC_IP)
    return scan_codes_impl(VX_METRIC_IP, 0, codes, dim, count, q, qn, norms, rs, es, slots, nslots, allow, k, heap,
                           cand, cand_lo);
  return scan_codes_impl(VX_METRIC_COSINE, 0, codes, dim, count, q, qn, norms, rs, es, slots, nslots, allow, k, heap,
                         cand, cand_lo);
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
#undef METRICS
#undef CASE
  const int8_t *c = (const int8_t *)store;
  if (metric == VX_METRIC_L2)
    return scan_codes_impl(VX_METRIC_L2, 1, c, dim, count, q, qn, norms, 0, 0, slots, nslots, allow, k, heap, cand,
                           cand_lo);
  if (metric == VX_METRIC_IP)
    return scan_codes_impl(VX_METRIC_IP, 1, c, dim, count, q, qn, norms, 0, 0, slots, nslots, allow, k, heap, cand,
                           cand_lo);
  return scan_codes_impl(VX_METRIC_COSINE, 1, c, dim, count, q, qn, norms, 0, 0, slots, nslots, allow, k, heap, cand,
                         cand_lo);
}

/*
 * Fast (f32) scores of n slots into out (f32): the squared distance for l2,
 * the dot product for ip and cosine (not divided by the norms), bit-identical
 * to vx_l2sq / vx_dot of vx_simd.h. For benchmarks and tests of the fast
 * family; searches use vx_scan_candidates.
 */
void VX_EXPORT(vx_score_fast)(uint32_t elem, uint32_t metric, const uint8_t *store, uint32_t dim, const float *q,
                              const uint32_t *slots, uint32_t n, float *out) {
#define FAST_ALL(E, L2)                                                                   \
  do {                                                                                    \
    size_t stride = (size_t)dim * vx_elem_size(E);                                        \
    uint32_t i = 0;                                                                       \
    for (; i + 2 <= n; i += 2) {                                                          \
      uint32_t s = slots ? slots[i] : i, t = slots ? slots[i + 1] : i + 1;                \
      fast_pair(E, L2, q, store + s * stride, store + t * stride, dim, out + i);          \
    }                                                                                     \
    if (i < n) out[i] = fast_one(E, L2, q, store + (slots ? slots[i] : i) * stride, dim); \
  } while (0)
  int l2 = metric == VX_METRIC_L2;
  if (elem == VX_ELEM_F32) {
    if (l2) FAST_ALL(VX_ELEM_F32, 1);
    else FAST_ALL(VX_ELEM_F32, 0);
  } else if (elem == VX_ELEM_F16) {
    if (l2) FAST_ALL(VX_ELEM_F16, 1);
    else FAST_ALL(VX_ELEM_F16, 0);
  } else {
    if (l2) FAST_ALL(VX_ELEM_I8, 1);
    else FAST_ALL(VX_ELEM_I8, 0);
  }
#undef FAST_ALL
}
