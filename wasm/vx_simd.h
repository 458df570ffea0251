/*
 * vx_simd.h - WebAssembly SIMD128 distance helpers shared by every VexFS
 * wasm module (wasm/kernels.c for flat scans, wasm/hnsw.c for the graph), so
 * both score vectors with one implementation.
 *
 * Stored vectors are the elements of docs/FORMAT.md §8.2: f32, f16 (IEEE 754
 * binary16 bits, little-endian u16) or i8 (-128..127). The query is always f32
 * (fast family) or f64 (exact family).
 *
 * Two families:
 *
 * 1. Fast, f32 arithmetic: vx_l2sq_<t>() and vx_dot_<t>() for t = f32, f16,
 *    i8. Elements are widened exactly to f32 (f16 by vx_f16x4_to_f32x4(), i8 by
 *    integer extension) and multiplied and summed in f32 in a fixed order:
 *    four f32x4 accumulators over blocks of 16 elements, a f32x4 loop over the
 *    remaining blocks of 4 into the first accumulator, the accumulators summed
 *    as (a+b)+(c+d), the four lanes as (l0+l1)+(l2+l3), then the last dim % 4
 *    elements one by one. No FMA (wasm SIMD128 has none), so results are the
 *    same on every machine. Any element's term takes part in at most
 *    dim/16 + 10 additions and (for l2) 2 more roundings, so the classic
 *    bound (Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed.,
 *    §4.2) gives |computed - exact| <= gamma(dim/16 + 12) * sum |term_i| plus
 *    an absolute underflow error of at most 2^-150 per rounding;
 *    vx_f32_eps() and vx_f32_abs_eps() return safe (doubled) versions of
 *    these two constants. The graph search uses this family as is; the flat
 *    scan uses it to pick candidates and rescoring them with the exact
 *    family (kernels.c).
 *
 * 2. Exact, f64 arithmetic: vx_l2sq_exact_<t>() and vx_dot_exact_<t>() are
 *    bit-identical to the scalar reference of src/vector/distance.ts (the
 *    query as f64, every product and sum in f64, four interleaved partial sums
 *    a[j % 4] returned as (a0 + a1) + (a2 + a3), the dim % 4 tail added to
 *    a0). Lanes (a0, a1) and (a2, a3) are two f64x2 vectors, so each partial
 *    sum sees exactly the operations of the scalar loop in the same order.
 *    They return the sum of squares (l2) or the dot product, before any sqrt.
 *
 * All functions are static inline; pointers need no alignment (v128 loads are
 * unaligned in wasm). dim may be any value >= 0 (0 gives 0).
 */
#ifndef VX_SIMD_H
#define VX_SIMD_H

#include <stddef.h>
#include <stdint.h>
#include <wasm_simd128.h>

/* ---- element conversion ------------------------------------------------ */

/*
 * Four binary16 values (the low 16 bits of each u32 lane) to f32, exactly.
 * Normal and subnormal halves: the exponent and fraction shifted into f32
 * position form a value 2^-112 times too small, and one exact multiplication
 * by 2^112 fixes it (it also yields the right f32 for subnormal halves, which
 * become normal f32). Exponent 31 (infinity, NaN) gets the f32 exponent 255.
 */
static inline v128_t vx_f16x4_to_f32x4(v128_t h) {
  v128_t em = wasm_v128_and(h, wasm_i32x4_splat(0x7fff));
  v128_t sign = wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x8000)), 16);
  v128_t bits = wasm_i32x4_shl(em, 13);
  v128_t f = wasm_f32x4_mul(bits, wasm_f32x4_splat(0x1p112f));
  v128_t special = wasm_i32x4_ge(em, wasm_i32x4_splat(0x7c00));
  v128_t inf_nan = wasm_v128_or(bits, wasm_i32x4_splat(0x7f800000));
  return wasm_v128_or(wasm_v128_bitselect(inf_nan, f, special), sign);
}

/* Low and high four halves of eight binary16 values, as f32x4. */
static inline v128_t vx_f16x8_lo(v128_t h8) { return vx_f16x4_to_f32x4(wasm_u32x4_extend_low_u16x8(h8)); }
static inline v128_t vx_f16x8_hi(v128_t h8) { return vx_f16x4_to_f32x4(wasm_u32x4_extend_high_u16x8(h8)); }

/* One binary16 value to f32, exactly (scalar form of vx_f16x4_to_f32x4). */
static inline float vx_f16_to_f32(uint16_t h) {
  return wasm_f32x4_extract_lane(vx_f16x4_to_f32x4(wasm_i32x4_splat(h)), 0);
}

/* Eight binary16 values at p (unaligned). */
static inline v128_t vx_load_f16x8(const uint16_t *p) { return wasm_v128_load(p); }

/* Four binary16 values at p as f32x4. */
static inline v128_t vx_load_f16x4(const uint16_t *p) {
  return vx_f16x4_to_f32x4(wasm_u32x4_load16x4(p));
}

/* Four i8 values at p as f32x4 (exact). */
static inline v128_t vx_load_i8x4(const int8_t *p) {
  int32_t w;
  __builtin_memcpy(&w, p, 4);
  v128_t b = wasm_i32x4_splat(w);
  return wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(wasm_i16x8_extend_low_i8x16(b)));
}

/* ---- error bounds of the fast family ----------------------------------- */

/*
 * Relative error bound of the fast family for vectors of dim elements:
 * |computed - exact| <= vx_f32_eps(dim) * sum_i |term_i| + vx_f32_abs_eps(dim),
 * where term_i is (q_i - x_i)^2 (l2) or q_i * x_i (dot) in exact arithmetic.
 * Twice gamma(dim/16 + 12) with u = 2^-24, so it also covers the rounding of
 * the caller's own bound arithmetic (done in f64). Only valid when the result
 * is finite (an overflow gives +-infinity or NaN, never a finite wrong value).
 */
static inline double vx_f32_eps(size_t dim) { return (double)(dim / 16 + 16) * 0x1p-23; }

/* Absolute (underflow) part of the bound: at most 3*dim+16 roundings, each off by at most 2^-150, doubled. */
static inline double vx_f32_abs_eps(size_t dim) { return (double)(3 * dim + 16) * 0x1p-149; }

/* ---- fast family: f32 arithmetic ---------------------------------------- */

static inline float vx_hsum_f32x4(v128_t a, v128_t b, v128_t c, v128_t d) {
  v128_t s = wasm_f32x4_add(wasm_f32x4_add(a, b), wasm_f32x4_add(c, d));
  return (wasm_f32x4_extract_lane(s, 0) + wasm_f32x4_extract_lane(s, 1)) +
         (wasm_f32x4_extract_lane(s, 2) + wasm_f32x4_extract_lane(s, 3));
}

/*
 * The loop skeleton of the fast family. LOAD4(j) yields f32x4 stored elements
 * j..j+3, X(j) one stored element as float; TERM is the l2 or dot step.
 */
#define VX_FAST_BODY(LOAD16, LOAD4, X, L2)                                      \
  v128_t a0 = wasm_f32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;                  \
  size_t j = 0;                                                                \
  for (; j + 16 <= dim; j += 16) {                                             \
    v128_t x0, x1, x2, x3;                                                     \
    LOAD16(j);                                                                 \
    v128_t q0 = wasm_v128_load(q + j), q1 = wasm_v128_load(q + j + 4);         \
    v128_t q2 = wasm_v128_load(q + j + 8), q3 = wasm_v128_load(q + j + 12);    \
    if (L2) {                                                                  \
      v128_t e0 = wasm_f32x4_sub(q0, x0), e1 = wasm_f32x4_sub(q1, x1);         \
      v128_t e2 = wasm_f32x4_sub(q2, x2), e3 = wasm_f32x4_sub(q3, x3);         \
      a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(e0, e0));                         \
      a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(e1, e1));                         \
      a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(e2, e2));                         \
      a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(e3, e3));                         \
    } else {                                                                   \
      a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(q0, x0));                         \
      a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(q1, x1));                         \
      a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(q2, x2));                         \
      a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(q3, x3));                         \
    }                                                                          \
  }                                                                            \
  for (; j + 4 <= dim; j += 4) {                                               \
    v128_t x0 = LOAD4(j), q0 = wasm_v128_load(q + j);                          \
    if (L2) {                                                                  \
      v128_t e0 = wasm_f32x4_sub(q0, x0);                                      \
      a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(e0, e0));                         \
    } else {                                                                   \
      a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(q0, x0));                         \
    }                                                                          \
  }                                                                            \
  float s = vx_hsum_f32x4(a0, a1, a2, a3);                                     \
  for (; j < dim; j++) {                                                       \
    float xj = X(j);                                                           \
    if (L2) {                                                                  \
      float e = q[j] - xj;                                                     \
      s += e * e;                                                              \
    } else {                                                                   \
      s += q[j] * xj;                                                          \
    }                                                                          \
  }                                                                            \
  return s;

#define VX_F32_LOAD16(j)                                                        \
  x0 = wasm_v128_load(x + (j)), x1 = wasm_v128_load(x + (j) + 4);              \
  x2 = wasm_v128_load(x + (j) + 8), x3 = wasm_v128_load(x + (j) + 12)
#define VX_F32_LOAD4(j) wasm_v128_load(x + (j))
#define VX_F32_X(j) x[j]

#define VX_F16_LOAD16(j)                                                        \
  do {                                                                         \
    v128_t h0 = wasm_v128_load(x + (j)), h1 = wasm_v128_load(x + (j) + 8);     \
    x0 = vx_f16x8_lo(h0), x1 = vx_f16x8_hi(h0);                                \
    x2 = vx_f16x8_lo(h1), x3 = vx_f16x8_hi(h1);                                \
  } while (0)
#define VX_F16_LOAD4(j) vx_load_f16x4(x + (j))
#define VX_F16_X(j) vx_f16_to_f32(x[j])

#define VX_I8_LOAD16(j)                                                         \
  do {                                                                         \
    v128_t b = wasm_v128_load(x + (j));                                        \
    v128_t lo = wasm_i16x8_extend_low_i8x16(b), hi = wasm_i16x8_extend_high_i8x16(b); \
    x0 = wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(lo));            \
    x1 = wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(lo));           \
    x2 = wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(hi));            \
    x3 = wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(hi));           \
  } while (0)
#define VX_I8_LOAD4(j) vx_load_i8x4(x + (j))
#define VX_I8_X(j) ((float)x[j])

/* Squared Euclidean distance sum (q_i - x_i)^2 of two f32 vectors, f32 arithmetic. */
static inline float vx_l2sq_f32(const float *q, const float *x, size_t dim) {
  VX_FAST_BODY(VX_F32_LOAD16, VX_F32_LOAD4, VX_F32_X, 1)
}
/* Dot product sum q_i * x_i of two f32 vectors, f32 arithmetic. */
static inline float vx_dot_f32(const float *q, const float *x, size_t dim) {
  VX_FAST_BODY(VX_F32_LOAD16, VX_F32_LOAD4, VX_F32_X, 0)
}
/* Squared L2 distance of an f32 query and a stored f16 vector (binary16 bits). */
static inline float vx_l2sq_f16(const float *q, const uint16_t *x, size_t dim) {
  VX_FAST_BODY(VX_F16_LOAD16, VX_F16_LOAD4, VX_F16_X, 1)
}
/* Dot product of an f32 query and a stored f16 vector. */
static inline float vx_dot_f16(const float *q, const uint16_t *x, size_t dim) {
  VX_FAST_BODY(VX_F16_LOAD16, VX_F16_LOAD4, VX_F16_X, 0)
}
/* Squared L2 distance of an f32 query and a stored i8 vector. */
static inline float vx_l2sq_i8(const float *q, const int8_t *x, size_t dim) {
  VX_FAST_BODY(VX_I8_LOAD16, VX_I8_LOAD4, VX_I8_X, 1)
}
/* Dot product of an f32 query and a stored i8 vector. */
static inline float vx_dot_i8(const float *q, const int8_t *x, size_t dim) {
  VX_FAST_BODY(VX_I8_LOAD16, VX_I8_LOAD4, VX_I8_X, 0)
}

/* Element types as FORMAT.md §8.1 codes them. */
#define VX_ELEM_F32 1
#define VX_ELEM_F16 2
#define VX_ELEM_I8 3
/* Metrics as FORMAT.md §8.1 codes them. */
#define VX_METRIC_L2 1
#define VX_METRIC_COSINE 2
#define VX_METRIC_IP 3

/* Bytes per element of a FORMAT.md §8.1 element type code (0 for an unknown code). */
static inline size_t vx_elem_size(uint32_t elem) {
  return elem == VX_ELEM_F32 ? 4 : elem == VX_ELEM_F16 ? 2 : elem == VX_ELEM_I8 ? 1 : 0;
}

/* Fast squared L2 of an f32 query against a stored vector of element type elem. */
static inline float vx_l2sq(uint32_t elem, const float *q, const void *x, size_t dim) {
  if (elem == VX_ELEM_F32) return vx_l2sq_f32(q, (const float *)x, dim);
  if (elem == VX_ELEM_F16) return vx_l2sq_f16(q, (const uint16_t *)x, dim);
  return vx_l2sq_i8(q, (const int8_t *)x, dim);
}
/* Fast dot product of an f32 query and a stored vector of element type elem. */
static inline float vx_dot(uint32_t elem, const float *q, const void *x, size_t dim) {
  if (elem == VX_ELEM_F32) return vx_dot_f32(q, (const float *)x, dim);
  if (elem == VX_ELEM_F16) return vx_dot_f16(q, (const uint16_t *)x, dim);
  return vx_dot_i8(q, (const int8_t *)x, dim);
}

/* ---- exact family: f64 arithmetic, bit-identical to distance.ts --------- */

/*
 * LOAD4D(j, lo, hi) sets lo = (x_j, x_j+1) and hi = (x_j+2, x_j+3) as f64x2;
 * XD(j) is x_j as double. q is the query as f64.
 */
#define VX_EXACT_BODY(LOAD4D, XD, L2)                                           \
  v128_t a01 = wasm_f64x2_splat(0), a23 = a01;                                 \
  size_t j = 0;                                                                \
  for (; j + 4 <= dim; j += 4) {                                               \
    v128_t lo, hi;                                                             \
    LOAD4D(j, lo, hi);                                                         \
    v128_t q01 = wasm_v128_load(q + j), q23 = wasm_v128_load(q + j + 2);       \
    if (L2) {                                                                  \
      v128_t e01 = wasm_f64x2_sub(q01, lo), e23 = wasm_f64x2_sub(q23, hi);     \
      a01 = wasm_f64x2_add(a01, wasm_f64x2_mul(e01, e01));                     \
      a23 = wasm_f64x2_add(a23, wasm_f64x2_mul(e23, e23));                     \
    } else {                                                                   \
      a01 = wasm_f64x2_add(a01, wasm_f64x2_mul(q01, lo));                      \
      a23 = wasm_f64x2_add(a23, wasm_f64x2_mul(q23, hi));                      \
    }                                                                          \
  }                                                                            \
  double s0 = wasm_f64x2_extract_lane(a01, 0), s1 = wasm_f64x2_extract_lane(a01, 1); \
  double s2 = wasm_f64x2_extract_lane(a23, 0), s3 = wasm_f64x2_extract_lane(a23, 1); \
  for (; j < dim; j++) {                                                       \
    double xj = XD(j);                                                         \
    if (L2) {                                                                  \
      double e = q[j] - xj;                                                    \
      s0 += e * e;                                                             \
    } else {                                                                   \
      s0 += q[j] * xj;                                                         \
    }                                                                          \
  }                                                                            \
  return (s0 + s1) + (s2 + s3);

static inline void vx_split_f32x4(v128_t f, v128_t *lo, v128_t *hi) {
  *lo = wasm_f64x2_promote_low_f32x4(f);
  *hi = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(f, f, 2, 3, 2, 3));
}

#define VX_F32_LOAD4D(j, lo, hi) vx_split_f32x4(wasm_v128_load(x + (j)), &lo, &hi)
#define VX_F32_XD(j) ((double)x[j])
#define VX_F16_LOAD4D(j, lo, hi) vx_split_f32x4(vx_load_f16x4(x + (j)), &lo, &hi)
#define VX_F16_XD(j) ((double)vx_f16_to_f32(x[j]))
#define VX_I8_LOAD4D(j, lo, hi)                                                 \
  do {                                                                         \
    int32_t w;                                                                 \
    __builtin_memcpy(&w, x + (j), 4);                                          \
    v128_t i4 = wasm_i32x4_extend_low_i16x8(wasm_i16x8_extend_low_i8x16(wasm_i32x4_splat(w))); \
    lo = wasm_f64x2_convert_low_i32x4(i4);                                     \
    hi = wasm_f64x2_convert_low_i32x4(wasm_i32x4_shuffle(i4, i4, 2, 3, 2, 3)); \
  } while (0)
#define VX_I8_XD(j) ((double)x[j])

/* Exact (distance.ts) sum of squares of q - x, f64 query, f32 stored vector. */
static inline double vx_l2sq_exact_f32(const double *q, const float *x, size_t dim) {
  VX_EXACT_BODY(VX_F32_LOAD4D, VX_F32_XD, 1)
}
/* Exact (distance.ts) dot product, f64 query, f32 stored vector. */
static inline double vx_dot_exact_f32(const double *q, const float *x, size_t dim) {
  VX_EXACT_BODY(VX_F32_LOAD4D, VX_F32_XD, 0)
}
/* Exact sum of squares of q - x, f64 query, f16 stored vector. */
static inline double vx_l2sq_exact_f16(const double *q, const uint16_t *x, size_t dim) {
  VX_EXACT_BODY(VX_F16_LOAD4D, VX_F16_XD, 1)
}
/* Exact dot product, f64 query, f16 stored vector. */
static inline double vx_dot_exact_f16(const double *q, const uint16_t *x, size_t dim) {
  VX_EXACT_BODY(VX_F16_LOAD4D, VX_F16_XD, 0)
}
/* Exact sum of squares of q - x, f64 query, i8 stored vector. */
static inline double vx_l2sq_exact_i8(const double *q, const int8_t *x, size_t dim) {
  VX_EXACT_BODY(VX_I8_LOAD4D, VX_I8_XD, 1)
}
/* Exact dot product, f64 query, i8 stored vector. */
static inline double vx_dot_exact_i8(const double *q, const int8_t *x, size_t dim) {
  VX_EXACT_BODY(VX_I8_LOAD4D, VX_I8_XD, 0)
}

/* Exact sum of squares for element type elem. */
static inline double vx_l2sq_exact(uint32_t elem, const double *q, const void *x, size_t dim) {
  if (elem == VX_ELEM_F32) return vx_l2sq_exact_f32(q, (const float *)x, dim);
  if (elem == VX_ELEM_F16) return vx_l2sq_exact_f16(q, (const uint16_t *)x, dim);
  return vx_l2sq_exact_i8(q, (const int8_t *)x, dim);
}
/* Exact dot product for element type elem. */
static inline double vx_dot_exact(uint32_t elem, const double *q, const void *x, size_t dim) {
  if (elem == VX_ELEM_F32) return vx_dot_exact_f32(q, (const float *)x, dim);
  if (elem == VX_ELEM_F16) return vx_dot_exact_f16(q, (const uint16_t *)x, dim);
  return vx_dot_exact_i8(q, (const int8_t *)x, dim);
}

/*
 * FORMAT.md §8.4 score from an exact dot product: the cosine similarity
 * dot / (qn * xn) clamped to [-1, 1], 0 when either norm is 0 (as cosineFrom
 * in distance.ts).
 */
static inline double vx_cosine_from(double dot, double qn, double xn) {
  if (qn == 0 || xn == 0) return 0;
  double c = dot / (qn * xn);
  return c > 1 ? 1 : c < -1 ? -1 : c;
}

/*
 * The FORMAT.md §8.5 norm of a stored vector: sqrt of the sum of squares of
 * its elements as stored, summed in f64 in index order, rounded to f32 (the
 * rule of vectorNorm in src/fs/vectors.ts, so every implementation stores the
 * same bits).
 */
static inline float vx_norm_stored(uint32_t elem, const void *x, size_t dim) {
  double s = 0;
  if (elem == VX_ELEM_F32) {
    const float *v = (const float *)x;
    for (size_t j = 0; j < dim; j++) s += (double)v[j] * (double)v[j];
  } else if (elem == VX_ELEM_F16) {
    const uint16_t *v = (const uint16_t *)x;
    for (size_t j = 0; j < dim; j++) {
      double e = vx_f16_to_f32(v[j]);
      s += e * e;
    }
  } else {
    const int8_t *v = (const int8_t *)x;
    for (size_t j = 0; j < dim; j++) s += (double)v[j] * (double)v[j];
  }
  return (float)__builtin_sqrt(s);
}

#endif /* VX_SIMD_H */
