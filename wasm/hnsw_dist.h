/*
 * wasm/hnsw_dist.h: the distance kernels the HNSW core (wasm/hnsw.c) uses, a
 * query in f32 against one stored vector in f32, f16 or i8 (docs/FORMAT.md
 * §8.2), in WebAssembly SIMD (simd128, not relaxed: results are the same bits
 * on every machine, so graphs built anywhere are byte-identical).
 *
 * The kernels are the fast family of the shared wasm/vx_simd.h (also used by
 * the flat scan of wasm/kernels.c), mapped to the hd_* names below. When that
 * header is absent the core's own copies follow, which sum in the same order
 * (four f32x4 accumulators over blocks of 16, blocks of 4 into the first, the
 * accumulators as (a+b)+(c+d), lanes as (l0+l1)+(l2+l3), then the tail), so
 * a graph is the same bytes either way for finite vectors.
 *
 * Exports nothing; every function is static inline.
 */
#ifndef HNSW_DIST_H
#define HNSW_DIST_H

#include <wasm_simd128.h>

#if __has_include("vx_simd.h")
#include "vx_simd.h"
#define hd_h2f1(h) vx_f16_to_f32(h)
#define hd_dot_f32(q, x, n) vx_dot_f32((q), (x), (n))
#define hd_l2_f32(q, x, n) vx_l2sq_f32((q), (x), (n))
#define hd_dot_f16(q, x, n) vx_dot_f16((q), (x), (n))
#define hd_l2_f16(q, x, n) vx_l2sq_f16((q), (x), (n))
#define hd_dot_i8(q, x, n) vx_dot_i8((q), (const int8_t *)(x), (n))
#define hd_l2_i8(q, x, n) vx_l2sq_i8((q), (const int8_t *)(x), (n))
#else /* the core's own kernels */

typedef unsigned int hd_u32;

/* Horizontal sum of four accumulators, in a fixed order. */
static inline float hd_hsum(v128_t a, v128_t b, v128_t c, v128_t d) {
  v128_t s = wasm_f32x4_add(wasm_f32x4_add(a, b), wasm_f32x4_add(c, d));
  return (wasm_f32x4_extract_lane(s, 0) + wasm_f32x4_extract_lane(s, 1)) +
         (wasm_f32x4_extract_lane(s, 2) + wasm_f32x4_extract_lane(s, 3));
}

/* IEEE binary16 (low 16 bits of each lane) to f32: exact for finite values,
 * subnormals included (the exponent is rebased by a multiplication by 2^112).
 * Stored vectors are finite (src/vector/codec.ts validates them). */
static inline v128_t hd_h2f(v128_t h) {
  v128_t sign = wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x8000)), 16);
  v128_t em = wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x7fff)), 13);
  v128_t f = wasm_f32x4_mul(em, wasm_f32x4_splat(0x1p112f));
  return wasm_v128_or(f, sign);
}

static inline float hd_h2f1(unsigned short h) {
  union { hd_u32 u; float f; } a, s;
  a.u = ((hd_u32)(h & 0x7fff)) << 13;
  float f = a.f * 0x1p112f;
  s.f = f;
  s.u |= ((hd_u32)(h & 0x8000)) << 16;
  return s.f;
}

/* ---- f32 ---- */

static inline float hd_dot_f32(const float *q, const float *x, hd_u32 n) {
  v128_t a0 = wasm_f32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;
  hd_u32 i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(wasm_v128_load(q + i), wasm_v128_load(x + i)));
    a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(wasm_v128_load(q + i + 4), wasm_v128_load(x + i + 4)));
    a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(wasm_v128_load(q + i + 8), wasm_v128_load(x + i + 8)));
    a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(wasm_v128_load(q + i + 12), wasm_v128_load(x + i + 12)));
  }
  for (; i + 4 <= n; i += 4) a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(wasm_v128_load(q + i), wasm_v128_load(x + i)));
  float s = hd_hsum(a0, a1, a2, a3);
  for (; i < n; i++) s += q[i] * x[i];
  return s;
}

static inline float hd_l2_f32(const float *q, const float *x, hd_u32 n) {
  v128_t a0 = wasm_f32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;
  hd_u32 i = 0;
  for (; i + 16 <= n; i += 16) {
    v128_t d0 = wasm_f32x4_sub(wasm_v128_load(q + i), wasm_v128_load(x + i));
    v128_t d1 = wasm_f32x4_sub(wasm_v128_load(q + i + 4), wasm_v128_load(x + i + 4));
    v128_t d2 = wasm_f32x4_sub(wasm_v128_load(q + i + 8), wasm_v128_load(x + i + 8));
    v128_t d3 = wasm_f32x4_sub(wasm_v128_load(q + i + 12), wasm_v128_load(x + i + 12));
    a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(d0, d0));
    a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(d1, d1));
    a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(d2, d2));
    a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(d3, d3));
  }
  for (; i + 4 <= n; i += 4) {
    v128_t d0 = wasm_f32x4_sub(wasm_v128_load(q + i), wasm_v128_load(x + i));
    a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(d0, d0));
  }
  float s = hd_hsum(a0, a1, a2, a3);
  for (; i < n; i++) {
    float d = q[i] - x[i];
    s += d * d;
  }
  return s;
}

/* ---- f16 ---- */

#define HD_LOAD_F16(p, lo, hi)                           \
  do {                                                   \
    v128_t h_ = wasm_v128_load(p);                       \
    lo = hd_h2f(wasm_u32x4_extend_low_u16x8(h_));        \
    hi = hd_h2f(wasm_u32x4_extend_high_u16x8(h_));       \
  } while (0)

static inline float hd_dot_f16(const float *q, const unsigned short *x, hd_u32 n) {
  v128_t a0 = wasm_f32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;
  hd_u32 i = 0;
  for (; i + 16 <= n; i += 16) {
    v128_t x0, x1, x2, x3;
    HD_LOAD_F16(x + i, x0, x1);
    HD_LOAD_F16(x + i + 8, x2, x3);
    a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(wasm_v128_load(q + i), x0));
    a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(wasm_v128_load(q + i + 4), x1));
    a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(wasm_v128_load(q + i + 8), x2));
    a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(wasm_v128_load(q + i + 12), x3));
  }
  float s = hd_hsum(a0, a1, a2, a3);
  for (; i < n; i++) s += q[i] * hd_h2f1(x[i]);
  return s;
}

static inline float hd_l2_f16(const float *q, const unsigned short *x, hd_u32 n) {
  v128_t a0 = wasm_f32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;
  hd_u32 i = 0;
  for (; i + 16 <= n; i += 16) {
    v128_t x0, x1, x2, x3;
    HD_LOAD_F16(x + i, x0, x1);
    HD_LOAD_F16(x + i + 8, x2, x3);
    v128_t d0 = wasm_f32x4_sub(wasm_v128_load(q + i), x0);
    v128_t d1 = wasm_f32x4_sub(wasm_v128_load(q + i + 4), x1);
    v128_t d2 = wasm_f32x4_sub(wasm_v128_load(q + i + 8), x2);
    v128_t d3 = wasm_f32x4_sub(wasm_v128_load(q + i + 12), x3);
    a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(d0, d0));
    a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(d1, d1));
    a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(d2, d2));
    a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(d3, d3));
  }
  float s = hd_hsum(a0, a1, a2, a3);
  for (; i < n; i++) {
    float d = q[i] - hd_h2f1(x[i]);
    s += d * d;
  }
  return s;
}

/* ---- i8 ---- */

#define HD_LOAD_I8(p, x0, x1, x2, x3)                                   \
  do {                                                                  \
    v128_t b_ = wasm_v128_load(p);                                      \
    v128_t l_ = wasm_i16x8_extend_low_i8x16(b_);                        \
    v128_t h_ = wasm_i16x8_extend_high_i8x16(b_);                       \
    x0 = wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(l_));     \
    x1 = wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(l_));    \
    x2 = wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(h_));     \
    x3 = wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(h_));    \
  } while (0)

static inline float hd_dot_i8(const float *q, const signed char *x, hd_u32 n) {
  v128_t a0 = wasm_f32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;
  hd_u32 i = 0;
  for (; i + 16 <= n; i += 16) {
    v128_t x0, x1, x2, x3;
    HD_LOAD_I8(x + i, x0, x1, x2, x3);
    a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(wasm_v128_load(q + i), x0));
    a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(wasm_v128_load(q + i + 4), x1));
    a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(wasm_v128_load(q + i + 8), x2));
    a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(wasm_v128_load(q + i + 12), x3));
  }
  float s = hd_hsum(a0, a1, a2, a3);
  for (; i < n; i++) s += q[i] * (float)x[i];
  return s;
}

static inline float hd_l2_i8(const float *q, const signed char *x, hd_u32 n) {
  v128_t a0 = wasm_f32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;
  hd_u32 i = 0;
  for (; i + 16 <= n; i += 16) {
    v128_t x0, x1, x2, x3;
    HD_LOAD_I8(x + i, x0, x1, x2, x3);
    v128_t d0 = wasm_f32x4_sub(wasm_v128_load(q + i), x0);
    v128_t d1 = wasm_f32x4_sub(wasm_v128_load(q + i + 4), x1);
    v128_t d2 = wasm_f32x4_sub(wasm_v128_load(q + i + 8), x2);
    v128_t d3 = wasm_f32x4_sub(wasm_v128_load(q + i + 12), x3);
    a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(d0, d0));
    a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(d1, d1));
    a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(d2, d2));
    a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(d3, d3));
  }
  float s = hd_hsum(a0, a1, a2, a3);
  for (; i < n; i++) {
    float d = q[i] - (float)x[i];
    s += d * d;
  }
  return s;
}

#endif /* vx_simd.h */
#endif /* HNSW_DIST_H */
