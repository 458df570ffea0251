// SPDX-License-Identifier: GPL-2.0
/*
 * search_fpu.c - the floating-point half of exact search (FORMAT.md 8.4,
 * 8.5): scores in f64 and the top k. Kbuild compiles this file alone with
 * SSE enabled (as lib/raid6 and amdgpu's display code do); every function
 * here runs only between kernel_fpu_begin() and kernel_fpu_end(), which
 * search.c calls around them, and nothing here sleeps.
 *
 * The arithmetic is that of the engine's exact scan, so that scores are
 * bit-identical and ties fall the same way (src/vector/distance.ts and the
 * exact family of wasm/vx_simd.h): elements widened exactly to f64, four
 * interleaved f64 partial sums (j = 0, 1, 2, 3 mod 4, the tail into the
 * first) added as (a0 + a1) + (a2 + a3); l2 is the square root of the sum
 * of squared differences, ip the dot product, cosine the dot product over
 * |q| (the same four-way sum) times the stored f32 norm of the vector,
 * clamped to [-1, 1], 0 when either norm is 0. The order is the metric's
 * (NaN last), then inode ascending (distance.ts compareHits).
 */
#define VEXFS_FPU_UNIT
#include <linux/string.h>
#include <asm/byteorder.h>
#include "vexfs_vec.h"

static inline double f64_of(u64 b)
{
	double d;

	memcpy(&d, &b, sizeof(d));
	return d;
}

static inline u64 bits_of(double d)
{
	u64 b;

	memcpy(&b, &d, sizeof(b));
	return b;
}

static inline double f32_to_f64(u32 b)
{
	float f;

	memcpy(&f, &b, sizeof(f));
	return f;
}

/* sqrtsd: IEEE 754 square root, correctly rounded, no libm, no errno. */
static inline double vexfs_sqrt(double x)
{
	double r;

	asm("sqrtsd %1, %0" : "=x" (r) : "x" (x));
	return r;
}

static inline u32 le32_at(const u8 *p)
{
	__le32 v;

	memcpy(&v, p, sizeof(v));
	return le32_to_cpu(v);
}

static inline u16 le16_at(const u8 *p)
{
	__le16 v;

	memcpy(&v, p, sizeof(v));
	return le16_to_cpu(v);
}

/* Element j of a stored vector as f64, exactly. */
static inline double elem_at(u8 elem_type, const u8 *x, u32 j)
{
	switch (elem_type) {
	case VEXFS_ELEM_F32:
		return f32_to_f64(le32_at(x + 4 * j));
	case VEXFS_ELEM_F16:
		return f32_to_f64(vexfs_f16_to_f32_bits(
				le16_at(x + 2 * j)));
	default:
		return (s8)x[j];
	}
}

/* Sum of (q_j - x_j)^2 or of q_j * x_j, in the engine's order. */
static double vexfs_sum(const double *q, u8 elem_type, const u8 *x, u32 dim,
			bool l2)
{
	double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
	u32 j = 0;

	for (; j + 4 <= dim; j += 4) {
		double x0 = elem_at(elem_type, x, j);
		double x1 = elem_at(elem_type, x, j + 1);
		double x2 = elem_at(elem_type, x, j + 2);
		double x3 = elem_at(elem_type, x, j + 3);

		if (l2) {
			double e0 = q[j] - x0, e1 = q[j + 1] - x1;
			double e2 = q[j + 2] - x2, e3 = q[j + 3] - x3;

			a0 += e0 * e0;
			a1 += e1 * e1;
			a2 += e2 * e2;
			a3 += e3 * e3;
		} else {
			a0 += q[j] * x0;
			a1 += q[j + 1] * x1;
			a2 += q[j + 2] * x2;
			a3 += q[j + 3] * x3;
		}
	}
	for (; j < dim; j++) {
		double xj = elem_at(elem_type, x, j);

		if (l2) {
			double e = q[j] - xj;

			a0 += e * e;
		} else {
			a0 += q[j] * xj;
		}
	}
	return (a0 + a1) + (a2 + a3);
}

/**
 * vexfs_fpu_query_prepare - the query as f64 and its norm
 * @q: dim, metric and the q array (dim u64) set; q->q and q->qn filled
 * @f32: the query's dim f32 bit patterns (finite: checked by the caller)
 */
void vexfs_fpu_query_prepare(struct vexfs_query *q, const u32 *f32)
{
	double *d = (double *)q->q;
	double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	u32 j;

	for (j = 0; j < q->dim; j++)
		d[j] = f32_to_f64(f32[j]);
	/* distance.ts norm(): sqrt of the four-way inner product with itself */
	for (j = 0; j + 4 <= q->dim; j += 4) {
		s0 += d[j] * d[j];
		s1 += d[j + 1] * d[j + 1];
		s2 += d[j + 2] * d[j + 2];
		s3 += d[j + 3] * d[j + 3];
	}
	for (; j < q->dim; j++)
		s0 += d[j] * d[j];
	q->qn = bits_of(vexfs_sqrt((s0 + s1) + (s2 + s3)));
}

/* isBetter of distance.ts: strictly nearer, NaN never better. */
static inline bool vexfs_better(u8 metric, double a, double b)
{
	if (b != b)
		return a == a;
	return metric == VEXFS_METRIC_L2 ? a < b : a > b;
}

/* Whether hit (a, ai) comes before hit (b, bi): compareHits < 0. */
static inline bool vexfs_before(u8 metric, double a, u64 ai, double b, u64 bi)
{
	if (vexfs_better(metric, a, b))
		return true;
	if (vexfs_better(metric, b, a))
		return false;
	return ai < bi;
}

static void vexfs_topk_push(struct vexfs_topk *top, u64 ino, double score)
{
	struct vexfs_topk_ent *e = top->ent;
	u32 lo = 0, hi = top->n;

	if (top->n == top->k &&
	    !vexfs_before(top->metric, score, ino, f64_of(e[top->n - 1].score),
			  e[top->n - 1].ino))
		return;
	while (lo < hi) {	/* first entry that the new hit comes before */
		u32 mid = lo + (hi - lo) / 2;

		if (vexfs_before(top->metric, score, ino, f64_of(e[mid].score),
				 e[mid].ino))
			hi = mid;
		else
			lo = mid + 1;
	}
	if (top->n == top->k)
		top->n--;
	memmove(&e[lo + 1], &e[lo], (top->n - lo) * sizeof(*e));
	e[lo].ino = ino;
	e[lo].score = bits_of(score);
	top->n++;
}

/**
 * vexfs_fpu_score - score @n contiguous stored vectors into the top k
 * @q: the prepared query
 * @vecs: n * dim * elem_size stored bytes (FORMAT.md 8.2)
 * @n: vectors
 * @inos: the owner of each; 0 leaves the vector out (excluded, not below
 *	  the searched directory)
 * @norms: their FORMAT.md 8.5 norms as f32 bits (cosine only, else unused)
 * @top: the top k so far
 */
void vexfs_fpu_score(const struct vexfs_query *q, const void *vecs, u32 n,
		     const u64 *inos, const u32 *norms, struct vexfs_topk *top)
{
	const double *qd = (const double *)q->q;
	u32 stride = q->dim * vexfs_elem_size(q->elem_type);
	const u8 *x = vecs;
	double qn = f64_of(q->qn);
	u32 i;

	for (i = 0; i < n; i++, x += stride) {
		double s, xn;

		if (!inos[i])
			continue;
		switch (q->metric) {
		case VEXFS_METRIC_L2:
			s = vexfs_sqrt(vexfs_sum(qd, q->elem_type, x, q->dim,
						 true));
			break;
		case VEXFS_METRIC_IP:
			s = vexfs_sum(qd, q->elem_type, x, q->dim, false);
			break;
		default:
			xn = f32_to_f64(norms[i]);
			if (qn == 0 || xn == 0) {
				s = 0;
				break;
			}
			s = vexfs_sum(qd, q->elem_type, x, q->dim, false) /
			    (qn * xn);
			s = s > 1 ? 1 : s < -1 ? -1 : s;
			break;
		}
		vexfs_topk_push(top, inos[i], s);
	}
}

/**
 * vexfs_fpu_norms - the FORMAT.md 8.5 norms of @n stored vectors
 * @elem_type: element type code
 * @vecs: n * dim * elem_size stored bytes
 * @dim: dimension
 * @n: vectors
 * @out: n f32 bit patterns: sqrt of the sum of squares, summed in index
 *	 order in f64, rounded to f32 (vx_norm_stored of wasm/vx_simd.h)
 */
void vexfs_fpu_norms(u8 elem_type, const void *vecs, u32 dim, u32 n,
		     u32 *out)
{
	u32 stride = dim * vexfs_elem_size(elem_type);
	const u8 *x = vecs;
	u32 i, j;

	for (i = 0; i < n; i++, x += stride) {
		double s = 0;
		float f;

		for (j = 0; j < dim; j++) {
			double e = elem_at(elem_type, x, j);

			s += e * e;
		}
		f = (float)vexfs_sqrt(s);
		memcpy(&out[i], &f, sizeof(f));
	}
}

/**
 * vexfs_fpu_hits - the top k as ioctl hits, best first
 * @top: the top k
 * @hits: top->n hits: inode, and the f64 score rounded to f32 (to nearest,
 *	  as the FUSE daemon's setFloat32)
 */
void vexfs_fpu_hits(const struct vexfs_topk *top,
		    struct vexfs_ioc_search_hit *hits)
{
	u32 i;

	for (i = 0; i < top->n; i++) {
		float f = (float)f64_of(top->ent[i].score);

		hits[i].ino = top->ent[i].ino;
		memcpy(&hits[i].score, &f, sizeof(f));
		hits[i].reserved = 0;
	}
}
