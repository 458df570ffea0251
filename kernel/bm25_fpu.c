// SPDX-License-Identifier: GPL-2.0
/*
 * bm25_fpu.c - the floating-point half of keyword and hybrid search: BM25
 * scores (FORMAT.md 8.7, as scoreBm25 of src/bm25/score.ts computes them:
 * f64, the operations in the order written, summed in query order, ln from
 * bm25_log.h, equal to V8's Math.log) and the fusion of the two sides
 * (src/search/fusion.ts: RRF and the weighted min-max sum), so the kernel's
 * scores equal the engine's before the ioctl's f32 rounding.
 *
 * Compiled with SSE and -ffp-contract=off (kernel/Kbuild); every function
 * here runs only between kernel_fpu_begin() and kernel_fpu_end() (bm25.c,
 * hybrid.c). It includes nothing of the module but bm25.h's FPU part.
 */
#define VEXFS_FPU_UNIT
#include <linux/string.h>
#include <linux/sort.h>
#include "bm25.h"
#include "bm25_log.h"

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

static inline u32 f32_bits(double d)
{
	float f = (float)d;
	u32 b;

	memcpy(&b, &f, sizeof(b));
	return b;
}

/**
 * vexfs_bm25_fpu_prepare - idf of each distinct term and avgdl
 * @q: doc_count >= 1, total_tokens, df[] set; idf[] and avgdl filled
 *
 * idf(t) = ln(1 + (N - n(t) + 0.5) / (n(t) + 0.5)) (FORMAT.md 8.7).
 */
void vexfs_bm25_fpu_prepare(struct vexfs_bm25_query *q)
{
	double n_docs = (double)q->doc_count;
	u32 d;

	for (d = 0; d < q->ndist; d++) {
		double n = (double)q->df[d];

		q->idf[d] = bits_of(vexfs_log(1 + (n_docs - n + 0.5) /
					      (n + 0.5)));
	}
	q->avgdl = bits_of((double)q->total_tokens / n_docs);
}

/* Whether (a, ai) ranks before (b, bi): higher score, then lower ino. */
static inline bool bm25_before(double a, u64 ai, double b, u64 bi)
{
	return a > b || (a == b && ai < bi);
}

static void bm25_push(struct vexfs_topk *top, u64 ino, double score)
{
	struct vexfs_topk_ent *e = top->ent;
	u32 lo = 0, hi = top->n;

	if (top->n == top->k &&
	    !bm25_before(score, ino, f64_of(e[top->n - 1].score),
			 e[top->n - 1].ino))
		return;
	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;

		if (bm25_before(score, ino, f64_of(e[mid].score), e[mid].ino))
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
 * vexfs_bm25_fpu_score - scores @n matched documents into @top
 * @q: prepared by vexfs_bm25_fpu_prepare()
 * @m: the documents: dl and tf per distinct term
 * @n: how many
 * @top: the best so far, kept best first (score desc, ino asc)
 *
 * score(d) = sum over query positions i with tf > 0 of
 * idf * tf / (tf + k1 * (1 - b + b * dl / avgdl)) (FORMAT.md 8.7).
 */
void vexfs_bm25_fpu_score(const struct vexfs_bm25_query *q,
			  const struct vexfs_bm25_match *m, u32 n,
			  struct vexfs_topk *top)
{
	double k1 = f64_of(q->k1), b = f64_of(q->b);
	double avgdl = f64_of(q->avgdl);
	u32 i, j;

	for (i = 0; i < n; i++) {
		double acc = 0, dl = (double)m[i].dl;

		for (j = 0; j < q->nterms; j++) {
			u32 d = q->dist[j];
			double tf;

			if (!m[i].tf[d] || !q->df[d])
				continue;
			tf = (double)m[i].tf[d];
			acc += f64_of(q->idf[d]) * tf /
			       (tf + k1 * (1 - b + b * dl / avgdl));
		}
		if (acc != 0)
			bm25_push(top, m[i].ino, acc);
	}
}

/**
 * vexfs_fpu_fuse - the fused score of each candidate (src/search/fusion.ts)
 * @e: the union of both sides' candidates, ranks and scores set
 * @n: entries
 * @weighted: false: RRF, sum of 1 / (rrf_k + rank); true: alpha * the
 *	      vector side's min-max normalised score + (1 - alpha) * the text
 *	      side's (normalised over each side's candidates; 1 when all equal;
 *	      reversed for l2), a missing side 0
 * @rrf_k: RRF constant
 * @alpha_f32: f32 bits of alpha
 * @vec_lower: the vector side's metric is l2 (lower is nearer)
 */
void vexfs_fpu_fuse(struct vexfs_fuse_ent *e, u32 n, bool weighted,
		    u32 rrf_k, u32 alpha_f32, bool vec_lower)
{
	double vmin = 0, vmax = 0, tmin = 0, tmax = 0, vspan, tspan, alpha;
	bool vany = false, tany = false;
	float af;
	u32 i;

	if (!weighted) {
		double rk = (double)rrf_k;

		for (i = 0; i < n; i++) {
			double v = e[i].vrank ? 1 / (rk + e[i].vrank) : 0;
			double t = e[i].trank ? 1 / (rk + e[i].trank) : 0;

			e[i].score = bits_of(v + t);
		}
		return;
	}
	memcpy(&af, &alpha_f32, sizeof(af));
	alpha = af;
	for (i = 0; i < n; i++) {
		double v = f64_of(e[i].vscore), t = f64_of(e[i].tscore);

		if (e[i].vrank) {
			if (!vany || v < vmin)
				vmin = v;
			if (!vany || v > vmax)
				vmax = v;
			vany = true;
		}
		if (e[i].trank) {
			if (!tany || t < tmin)
				tmin = t;
			if (!tany || t > tmax)
				tmax = t;
			tany = true;
		}
	}
	vspan = vmax - vmin;
	tspan = tmax - tmin;
	for (i = 0; i < n; i++) {
		double v = 0, t = 0, s;

		if (e[i].vrank) {
			s = f64_of(e[i].vscore);
			v = !(vspan > 0) ? 1 : vec_lower ? (vmax - s) / vspan :
			    (s - vmin) / vspan;
		}
		if (e[i].trank) {
			s = f64_of(e[i].tscore);
			t = !(tspan > 0) ? 1 : (s - tmin) / tspan;
		}
		e[i].score = bits_of(alpha * v + (1 - alpha) * t);
	}
}

static int fuse_cmp(const void *a, const void *b)
{
	const struct vexfs_fuse_ent *x = a, *y = b;
	double sx = f64_of(x->score), sy = f64_of(y->score);

	if (sx > sy)
		return -1;
	if (sx < sy)
		return 1;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/**
 * vexfs_fpu_sort_fused - orders candidates by fused score desc, ino asc
 * @e: entries
 * @n: how many
 */
void vexfs_fpu_sort_fused(struct vexfs_fuse_ent *e, u32 n)
{
	sort(e, n, sizeof(*e), fuse_cmp, NULL);
}

/**
 * vexfs_fpu_fuse_hits - the ioctl's hits from @n candidates, best first
 * @e: the candidates (scores rounded to f32 here)
 * @n: how many (at most the hits' room)
 * @hits: filled
 */
void vexfs_fpu_fuse_hits(const struct vexfs_fuse_ent *e, u32 n,
			 struct vexfs_ioc_hybrid_hit *hits)
{
	u32 i;

	for (i = 0; i < n; i++) {
		struct vexfs_ioc_hybrid_hit *h = &hits[i];
		u32 sb = f32_bits(f64_of(e[i].score));
		u32 vb = e[i].vrank ? f32_bits(f64_of(e[i].vscore)) : 0;
		u32 tb = e[i].trank ? f32_bits(f64_of(e[i].tscore)) : 0;

		h->ino = e[i].ino;
		memcpy(&h->score, &sb, 4);
		memcpy(&h->vec_score, &vb, 4);
		memcpy(&h->text_score, &tb, 4);
		h->vec_rank = e[i].vrank;
		h->text_rank = e[i].trank;
		h->reserved = 0;
	}
}
