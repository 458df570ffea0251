/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vexfs_vec.h - the vector side of the module: collections (collection.c),
 * a file's vector and the vector store (vector.c), exact search (search.c
 * and its floating-point half search_fpu.c) and the ioctls (ioctl.c).
 * FORMAT.md section 8 is the on-disk contract, docs/IOCTL.md the ABI.
 */
#ifndef _VEXFS_VEC_H
#define _VEXFS_VEC_H

#include <linux/types.h>
#include <linux/bitops.h>
#include "vexfs_fs.h"
/*
 * struct vexfs_ioc_index has a field named "current", the kernel's macro
 * for the running task: hide the macro while the UAPI header is read.
 */
#pragma push_macro("current")
#undef current
#include "vexfs_ioctl.h"
#pragma pop_macro("current")

/*
 * search_fpu.c: the floating-point half of search. Every function below
 * uses SSE registers: call it only between kernel_fpu_begin() and
 * kernel_fpu_end() (search.c does). No floating-point type crosses this
 * interface: f64 values travel as their bit patterns (u64), f32 as u32.
 */
struct vexfs_topk_ent {
	u64	ino;
	u64	score;		/* f64 bits */
};

struct vexfs_topk {
	u32	k;		/* capacity */
	u32	n;		/* entries in use, best first */
	u8	metric;
	struct vexfs_topk_ent *ent;
};

struct vexfs_query {
	u32	dim;
	u8	metric;
	u8	elem_type;
	u64	qn;		/* f64 bits of |q| (distance.ts norm()) */
	u64	*q;		/* dim f64 bit patterns */
};

void vexfs_fpu_query_prepare(struct vexfs_query *q, const u32 *f32);
void vexfs_fpu_score(const struct vexfs_query *q, const void *vecs, u32 n,
		     const u64 *inos, const u32 *norms, struct vexfs_topk *top);
void vexfs_fpu_norms(u8 elem_type, const void *vecs, u32 dim, u32 n,
		     u32 *out);
void vexfs_fpu_hits(const struct vexfs_topk *top,
		    struct vexfs_ioc_search_hit *hits);

/* Bytes per element of an element type code, 0 for an unknown code. */
static inline u32 vexfs_elem_size(u8 elem_type)
{
	switch (elem_type) {
	case VEXFS_ELEM_F32:
		return 4;
	case VEXFS_ELEM_F16:
		return 2;
	case VEXFS_ELEM_I8:
		return 1;
	}
	return 0;
}

/*
 * The f32 bit pattern of an IEEE 754 binary16 value, exactly (subnormals,
 * infinities and NaN included); integer arithmetic only, as F16_TO_F32 of
 * src/vector/f16.ts.
 */
static inline u32 vexfs_f16_to_f32_bits(u16 h)
{
	u32 sign = (u32)(h & 0x8000) << 16;
	u32 exp = (h >> 10) & 0x1f;
	u32 man = h & 0x3ff;

	if (exp == 0x1f)
		return sign | 0x7f800000 | (man << 13);
	if (exp == 0) {
		if (man == 0)
			return sign;
		exp = 127 - 15 + 1;
		while (!(man & 0x400)) {
			man <<= 1;
			exp--;
		}
		return sign | (exp << 23) | ((man & 0x3ff) << 13);
	}
	return sign | ((exp + 127 - 15) << 23) | (man << 13);
}

/* The f32 bit pattern of a small integer (|v| < 2^24), exactly. */
static inline u32 vexfs_int_to_f32_bits(s32 v)
{
	u32 sign = v < 0 ? 0x80000000 : 0;
	u32 mag = v < 0 ? -v : v;
	u32 e;

	if (!mag)
		return 0;
	e = fls(mag) - 1;
	return sign | ((127 + e) << 23) | ((mag << (23 - e)) & 0x7fffff);
}

/* Whether an f32 bit pattern is NaN or an infinity. */
static inline bool vexfs_f32_bits_nonfinite(u32 b)
{
	return (b & 0x7f800000) == 0x7f800000;
}

/*
 * search_fpu.c, compiled with SSE enabled, sees only the part above: it
 * defines VEXFS_FPU_UNIT and includes nothing else of the module.
 */
#ifndef VEXFS_FPU_UNIT

#include "vexfs.h"

/* Longest parent chain walked (as the engine's collectionOfDir, pathOf). */
#define VEXFS_MAX_DEPTH		4096

/* A collection record (FORMAT.md 8.1), decoded and checked. */
struct vexfs_coll {
	u32	id;
	u32	flags;		/* VEXFS_COLL_* */
	u64	root_ino;
	u32	dim;		/* 1..VEXFS_COLL_MAX_DIM */
	u8	metric;		/* VEXFS_METRIC_* */
	u8	elem_type;	/* VEXFS_ELEM_* */
	u32	elem_size;	/* 4, 2 or 1 */
	u64	count;		/* vectors = slots in use */
	u64	vec_ino;
	u64	map_ino;
	u64	hnsw_ino;
	u64	norm_ino;	/* 0: norms computed when read */
	s64	created;
	u64	generation;
	u16	hnsw_m;
	u16	hnsw_ef_c;
	u32	ef_search;
	/* with VEXFS_COLL_INDEX_BM25 (FORMAT.md 8.1, 8.7), else 0 */
	u64	bm25_ino;
	u64	text_generation;
	u64	bm25_k1;	/* f64 bits */
	u64	bm25_b;		/* f64 bits */
	u32	bm25_max_file;
	u8	bm25_analyzer;
	u8	bm25_stemmer;
	u8	bm25_stopwords;
	u8	bm25_lang[VEXFS_BM25_LANG_LEN];
};

/* The open vector store of a collection (FORMAT.md 8.2, 8.3, 8.5). */
struct vexfs_store {
	struct vexfs_coll c;
	struct inode *vec;	/* the vector data */
	struct inode *map;	/* the slot map */
	struct inode *norm;	/* the norms, NULL when norm_ino is 0 */
	u32 vec_bytes;		/* dim * elem_size */
	u32 per_block;		/* slot map entries per block */
};

/* collection.c */
int vexfs_coll_get(struct super_block *sb, u32 id, struct vexfs_coll *c);
int vexfs_coll_of_dir(struct inode *dir, u32 *id);
int vexfs_coll_of_inode(struct inode *inode, u32 *id);
void vexfs_coll_to_ioc(const struct vexfs_coll *c,
		       struct vexfs_ioc_collection *out);
int vexfs_coll_list(struct super_block *sb, u32 start,
		    struct vexfs_ioc_list_collections *l);

/* vector.c */
int vexfs_internal_read(struct inode *inode, u64 pos, void *buf, size_t len);
int vexfs_store_open(struct super_block *sb, u32 id, struct vexfs_store *st);
void vexfs_store_close(struct vexfs_store *st);
struct buffer_head *vexfs_map_bread(struct vexfs_store *st, u64 lblk);
int vexfs_vec_get(struct inode *inode, struct vexfs_store *st, void **bytes);
void vexfs_vec_to_f32(const struct vexfs_coll *c, const void *raw,
		      u32 *out);
extern const struct vexfs_vector_xattr_ops vexfs_vec_xattr_ops;
extern struct rw_semaphore vexfs_vec_rwsem;

/*
 * vector_write.c. Credits of one vector change: the blocks a vector of at
 * most 16 KiB touches in 1 KiB blocks (17) plus a map and a norm block,
 * one allocation per store file, the record, the file, the moved owner,
 * the store's three inodes and the superblock (VEXFS_INODE_CREDITS each).
 */
#define VEXFS_VEC_SET_CREDITS	(17 + 2 + 3 * VEXFS_DATA_CREDITS + 1 + \
				 6 * VEXFS_INODE_CREDITS + VEXFS_SB_CREDITS)
#define VEXFS_VEC_DEL_CREDITS	(2 * 17 + 4 + 3 * VEXFS_TRUNCATE_CREDITS + \
				 1 + 6 * VEXFS_INODE_CREDITS + VEXFS_SB_CREDITS)
int vexfs_vec_iwrite(handle_t *handle, struct inode *inode, u64 pos,
		     const void *buf, size_t len);
int vexfs_vec_set_bytes(struct inode *inode, const void *bytes, size_t len,
			int flags);
int vexfs_vec_release(handle_t *handle, struct inode *inode,
		      struct inode **moved);
int vexfs_vec_delete(struct inode *inode);
int vexfs_vec_drop_last(handle_t *handle, struct super_block *sb, u32 id,
			struct inode **owner, u64 *left);
int vexfs_vec_encode(const struct vexfs_coll *c, const u32 *f32, void *out);
int vexfs_vec_check_stored(const struct vexfs_coll *c, const void *bytes);
int vexfs_vec_coll_for(struct inode *inode, struct vexfs_coll *c);

/*
 * collection_write.c. Credits of a new collection: three new inodes, the
 * record (its block, and an extent for it when the table grows), the
 * superblock, the root directory.
 */
#define VEXFS_COLL_CREATE_CREDITS (3 * VEXFS_NEW_INODE_CREDITS + 1 + \
				   VEXFS_DATA_CREDITS + VEXFS_SB_CREDITS + \
				   VEXFS_INODE_CREDITS)
struct vexfs_ioc_create_collection;
int vexfs_coll_create(struct inode *dir,
		      const struct vexfs_ioc_create_collection *cc,
		      struct vexfs_coll *out);

/*
 * collection_drop.c. Credits of the last step of dropping a collection:
 * four store files pushed on the orphan list, the record, the superblock,
 * the root directory.
 */
#define VEXFS_COLL_DROP_CREDITS	(4 * (VEXFS_ORPHAN_CREDITS + \
				      VEXFS_INODE_CREDITS) + 1 + \
				 VEXFS_SB_CREDITS + VEXFS_INODE_CREDITS)
struct vexfs_coll_drop {
	u32	id;
	u64	vectors;		/* deleted */
	struct inode *files[4];		/* the store files, freed by done */
};
int vexfs_coll_empty(struct inode *root, u64 *deleted);
int vexfs_coll_drop_handle(handle_t *handle, struct inode *root,
			   struct vexfs_coll_drop *d);
void vexfs_coll_drop_done(struct vexfs_coll_drop *d);
int vexfs_coll_drop(struct inode *root, struct vexfs_coll_drop *d);

/* search.c */
int vexfs_raw_parent(struct super_block *sb, u64 ino, u64 *parent);
int vexfs_search(struct inode *dir, const u32 *query, u32 dim, u32 k,
		 u64 exclude_ino, struct vexfs_ioc_search_hit *hits,
		 u32 *count, struct vexfs_coll *c);

/* path.c */
int vexfs_ino_path(struct inode *dir, u64 target, char *path);

/* ioctl.c */
long vexfs_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

#endif /* VEXFS_FPU_UNIT */

#endif /* _VEXFS_VEC_H */
