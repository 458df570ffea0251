/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bm25.h - the keyword (BM25) side of the module: reading a collection's
 * index file (bm25.c, FORMAT.md 8.7), its floating-point half (bm25_fpu.c)
 * and hybrid search (hybrid.c, docs/IOCTL.md 3.15 and 3.16). As in
 * vexfs_vec.h, no floating-point type crosses the FPU interface: f64
 * values travel as their bit patterns (u64).
 */
#ifndef _VEXFS_BM25_H
#define _VEXFS_BM25_H

#include "vexfs_vec.h"

/* Matched documents scored per FPU section. */
#define VEXFS_BM25_BATCH	128

/* A query prepared for scoring (bm25_fpu.c). */
struct vexfs_bm25_query {
	u32	nterms;			/* query positions, repeats kept */
	u32	ndist;			/* distinct terms */
	u8	dist[VEXFS_IOC_HYBRID_MAX_TERMS];	/* position -> distinct */
	u64	df[VEXFS_IOC_HYBRID_MAX_TERMS];		/* n(t): live documents */
	u64	idf[VEXFS_IOC_HYBRID_MAX_TERMS];	/* f64 bits (prepare) */
	u64	doc_count;		/* N */
	u64	total_tokens;
	u64	k1, b;			/* f64 bits */
	u64	avgdl;			/* f64 bits (prepare) */
};

/* A matched document: its term frequencies per distinct term (0: absent). */
struct vexfs_bm25_match {
	u64	ino;
	u32	dl;
	u32	tf[VEXFS_IOC_HYBRID_MAX_TERMS];
};

/* One candidate of a side or of the fused list (hybrid.c, bm25_fpu.c). */
struct vexfs_fuse_ent {
	u64	ino;
	u64	score;		/* fused, f64 bits */
	u64	vscore;		/* f64 bits */
	u64	tscore;		/* f64 bits */
	u32	vrank;		/* 1-based, 0: not a vector candidate */
	u32	trank;
};

void vexfs_bm25_fpu_prepare(struct vexfs_bm25_query *q);
void vexfs_bm25_fpu_score(const struct vexfs_bm25_query *q,
			  const struct vexfs_bm25_match *m, u32 n,
			  struct vexfs_topk *top);
void vexfs_fpu_fuse(struct vexfs_fuse_ent *e, u32 n, bool weighted,
		    u32 rrf_k, u32 alpha_f32, bool vec_lower);
void vexfs_fpu_fuse_hits(const struct vexfs_fuse_ent *e, u32 n,
			 struct vexfs_ioc_hybrid_hit *hits);
void vexfs_fpu_sort_fused(struct vexfs_fuse_ent *e, u32 n);

#ifndef VEXFS_FPU_UNIT

/* A filter a side applies to each candidate file; may sleep. */
typedef int (*vexfs_filter_fn)(void *ctx, u64 ino, bool *pass);

/* bm25.c */
struct vexfs_bm25_result {
	u32	matched;	/* documents with a query term passing the filter */
	u32	terms_used;
};
int vexfs_bm25_search(struct inode *dir, const struct vexfs_coll *c,
		      const u8 *terms, u32 text_len, u64 exclude_ino, vexfs_filter_fn filter, void *fctx,
		      struct vexfs_topk *top, struct vexfs_bm25_result *res);

/* What the header slot in use says (TEXT_INDEX stats). */
struct vexfs_bm25_stats {
	bool	valid;		/* a valid header slot exists */
	bool	fresh;
	u64	seq;
	u64	text_generation;
	u64	doc_count, total_tokens, skipped_binary, skipped_large;
	u64	long_tokens, empty_docs, build_ns;
	u32	segment_count;
	u64	terms;		/* dictionary records of the segments */
	u64	file_bytes;	/* allocated bytes of the file */
	u8	signature[VEXFS_BM25_SIGNATURE_LEN];
};
int vexfs_bm25_stats(struct super_block *sb, const struct vexfs_coll *c,
		     struct vexfs_bm25_stats *st);

/* search.c: the exact scan with a filter, top @top->k best first */
int vexfs_file_below(struct super_block *sb, struct xarray *memo, u64 dir,
		     u64 ino, bool *under);
int vexfs_search_top(struct inode *dir, const u32 *query, u32 dim,
		     u64 exclude_ino, vexfs_filter_fn filter, void *fctx,
		     struct vexfs_topk *top, u32 *passed, struct vexfs_coll *c);

/* hybrid.c */
int vexfs_ioc_hybrid(struct file *file, void *buf);
int vexfs_ioc_text_index(struct file *file, void *buf);

#endif /* VEXFS_FPU_UNIT */

#endif /* _VEXFS_BM25_H */
