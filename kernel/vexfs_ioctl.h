/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR MIT) */
/*
 * vexfs_ioctl.h - the VexFS ioctl ABI: vectors, collections, search (structures of versions 1 and 2)
 *
 * Shared by the FUSE daemon (`vexfs mount`, src/ioctl/server.ts), the
 * command line (src/ioctl/client.ts), the kernel module (kernel/) and any
 * C program that talks to a mounted VexFS. docs/IOCTL.md is the full
 * description: layouts, errors, limits and versioning rules.
 *
 * Every command is a "restricted" ioctl in the sense of fs/fuse/ioctl.c:
 * the argument is one fixed-size structure without user pointers, and its
 * size is encoded in the command number (_IOC_SIZE, at most 16383 bytes,
 * include/uapi/asm-generic/ioctl.h). So the same numbers work through FUSE
 * and in the kernel module.
 *
 * Type byte 0xE7: not listed in
 * Documentation/userspace-api/ioctl/ioctl-number.rst and used by no
 * header in /usr/include/linux at the time of writing (the obvious 'V' is
 * taken by linux/vt.h and linux/videodev2.h). Numbers 0x00-0x3F of it are
 * reserved for VexFS.
 *
 * Layout rules (so that 32-bit and 64-bit callers see the same layout and
 * no compat_ioctl translation is needed):
 *  - every __u64/__s64 sits at an offset that is a multiple of 8 and every
 *    structure size is a multiple of 8;
 *  - values are in the CPU's byte order, which is little-endian on every
 *    platform VexFS supports (x86-64, arm64, like docs/FORMAT.md);
 *  - vector elements are IEEE 754 binary32 ("f32"): float in user space;
 *    for kernel code, where floating-point types are not freely usable,
 *    a __u32 holding the same bit pattern.
 *
 * Every command's structure starts with struct vexfs_ioc_hdr. On input
 * (_IOW and _IOWR commands) the caller sets magic = VEXFS_IOC_MAGIC, version =
 * VEXFS_IOC_VERSION (VEXFS_IOC_SEARCH2_VERSION for struct vexfs_ioc_search2),
 * size = sizeof the command's structure, flags = 0, and
 * every byte the command does not read (reserved fields, output fields,
 * vector elements past dim) to zero; anything else fails with EINVAL.
 * On output the header is filled the same way.
 */
#ifndef _UAPI_LINUX_VEXFS_IOCTL_H
#define _UAPI_LINUX_VEXFS_IOCTL_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* ioctl type byte ("magic number" in ioctl-number.rst terms). */
#define VEXFS_IOC_TYPE		0xE7

/* struct vexfs_ioc_hdr.magic: the bytes "VXIO" in little-endian order. */
#define VEXFS_IOC_MAGIC		0x4F495856U

/* struct vexfs_ioc_hdr.version of every structure but vexfs_ioc_search2. */
#define VEXFS_IOC_VERSION	1

/*
 * struct vexfs_ioc_hdr.version of struct vexfs_ioc_search2: the second
 * layout of the search (a new layout gets a new command number and
 * version 2; VEXFS_IOC_SEARCH keeps working unchanged).
 */
#define VEXFS_IOC_SEARCH2_VERSION	2

/*
 * Largest vector dimension that fits in an ioctl. Collections may have up
 * to VEXFS_MAX_DIM dimensions; vectors of collections wider than
 * VEXFS_IOC_MAX_DIM are read and written through the extended attribute
 * "user.vexfs.vector" (raw elements of the collection's element type).
 */
#define VEXFS_IOC_MAX_DIM	2048

/* Largest dimension of a collection (docs/FORMAT.md section 8). */
#define VEXFS_MAX_DIM		4096

/* Largest k of VEXFS_IOC_SEARCH. */
#define VEXFS_IOC_MAX_K		256

/* Size of vexfs_ioc_ino_path.path, including the terminating NUL. */
#define VEXFS_IOC_PATH_MAX	4096

/* Entries of vexfs_ioc_list_collections.entries: collections per call. */
#define VEXFS_IOC_LIST_MAX	64

/* Size of vexfs_ioc_fs_info.label, including the terminating NUL. */
#define VEXFS_IOC_LABEL_MAX	64

/* Metric codes (docs/FORMAT.md section 8.1). */
#define VEXFS_METRIC_L2		1	/* Euclidean distance, lower is nearer */
#define VEXFS_METRIC_COSINE	2	/* cosine similarity, higher is nearer */
#define VEXFS_METRIC_IP		3	/* inner product, higher is nearer */

/* Element type codes (docs/FORMAT.md section 8.1). */
#define VEXFS_ELEM_F32		1	/* IEEE 754 binary32, 4 bytes */
#define VEXFS_ELEM_F16		2	/* IEEE 754 binary16, 2 bytes */
#define VEXFS_ELEM_I8		3	/* signed integer -128..127, 1 byte */

/* vexfs_ioc_fs_info.fs_flags */
#define VEXFS_IOC_FS_RDONLY	0x1	/* mounted (or opened) read-only */

/*
 * VEXFS_IOC_SET_VECTORS: bytes of vexfs_ioc_set_vectors.data, and the most
 * items of dimension dim one call carries (a u64 inode and dim f32 each):
 * 31 at 128-d, 10 at 384-d, 1 at 2048-d.
 */
#define VEXFS_IOC_BATCH_DATA		16344
#define VEXFS_IOC_BATCH_MAX(dim)	(VEXFS_IOC_BATCH_DATA / (8 + 4 * (dim)))

/* vexfs_ioc_set_vectors.flags */
#define VEXFS_IOC_BATCH_CHECK	0x1	/* check every item as a real call would, set none */

/* Largest vexfs_ioc_search2.ef (HNSW search breadth). */
#define VEXFS_IOC_MAX_EF	65535

/* vexfs_ioc_search2.flags */
#define VEXFS_IOC_SEARCH2_EXACT	0x1	/* scan exactly whatever the index */

/* vexfs_ioc_search2.method: how the search was answered */
#define VEXFS_SEARCH_METHOD_EXACT	1	/* a scan of the stored vectors */
#define VEXFS_SEARCH_METHOD_HNSW	2	/* through the HNSW graph */

/* vexfs_ioc_search2.exact_reason: why an exact scan answered */
#define VEXFS_EXACT_FLAT	1	/* the collection has no HNSW index */
#define VEXFS_EXACT_ASKED	2	/* VEXFS_IOC_SEARCH2_EXACT */
#define VEXFS_EXACT_SMALL	3	/* small enough that a scan is as fast (ef 0) */
#define VEXFS_EXACT_SUBTREE	4	/* the subtree holds few of the vectors */
#define VEXFS_EXACT_FEW		5	/* k >= the number of vectors */
#define VEXFS_EXACT_STALE	6	/* the graph is far behind the vectors */
#define VEXFS_EXACT_OTHER	255	/* another reason (read unknown codes so) */

/* vexfs_ioc_index.op */
#define VEXFS_INDEX_OP_BUILD	1	/* build the HNSW graph from scratch */
#define VEXFS_INDEX_OP_DROP	2	/* drop it: the collection becomes flat */
#define VEXFS_INDEX_OP_OPTIMIZE	3	/* rebuild it without deleted or free nodes */
#define VEXFS_INDEX_OP_STATS	4	/* change nothing, report */

/* Entries of vexfs_ioc_index.levels and bytes of vexfs_ioc_index.note. */
#define VEXFS_IOC_INDEX_LEVELS	32
#define VEXFS_IOC_NOTE_MAX	128

/*
 * VEXFS_IOC_STATS: entries of vexfs_ioc_stats.ops (one per FUSE opcode,
 * enum fuse_opcode of linux/fuse.h), .errnos and .op_errnos.
 */
#define VEXFS_STATS_OPS		64
#define VEXFS_STATS_ERRNOS	32
#define VEXFS_STATS_OP_ERRNOS	128

/* vexfs_ioc_stats.stats_flags */
#define VEXFS_STATS_REQUESTS_OFF	0x1	/* no request counters kept: those fields are 0 */

/*
 * VEXFS_IOC_HYBRID: keyword (BM25), vector and hybrid search with xattr
 * filters (docs/IOCTL.md section 3.15).
 */
#define VEXFS_IOC_HYBRID_MAX_K		128	/* hits[]: 128 x 32 bytes */
#define VEXFS_IOC_HYBRID_MAX_CLAUSES	8
#define VEXFS_IOC_HYBRID_TEXT_MAX	1024	/* bytes of text[] */
#define VEXFS_IOC_HYBRID_MAX_TERMS	64	/* terms with VEXFS_IOC_HYBRID_TERMS */
#define VEXFS_IOC_HYBRID_TERM_MAX	64	/* bytes of one term */
#define VEXFS_IOC_HYBRID_MAX_DEPTH	4096	/* candidates per side */
#define VEXFS_IOC_HYBRID_RRF_K		60	/* rrf_k 0 means this */
#define VEXFS_IOC_HYBRID_MAX_RRF_K	65535

/* vexfs_ioc_hybrid.flags */
#define VEXFS_IOC_HYBRID_EXACT	0x1	/* vector side: scan exactly */
#define VEXFS_IOC_HYBRID_TERMS	0x2	/* text holds analysed terms {u8 len, bytes} */

/* vexfs_ioc_hybrid.fusion */
#define VEXFS_FUSION_RRF	0	/* Reciprocal Rank Fusion, 1 / (rrf_k + rank) */
#define VEXFS_FUSION_WEIGHTED	1	/* alpha * vector + (1 - alpha) * text, min-max normalised */

/* vexfs_ioc_filter_clause.op */
#define VEXFS_FILTER_EQ		1	/* = */
#define VEXFS_FILTER_NE		2	/* != */
#define VEXFS_FILTER_LT		3	/* < */
#define VEXFS_FILTER_LE		4	/* <= */
#define VEXFS_FILTER_GT		5	/* > */
#define VEXFS_FILTER_GE		6	/* >= */
#define VEXFS_FILTER_IN		7	/* in (v1, v2, ...) */
#define VEXFS_FILTER_EXISTS	8	/* the attribute exists */

/* vexfs_ioc_filter_clause.ns: the name's prefix (only "user." in version 1) */
#define VEXFS_FILTER_NS_USER	1

/* vexfs_ioc_filter_clause.cmp (only "auto" in version 1) */
#define VEXFS_FILTER_CMP_AUTO	0	/* numbers if both sides are JSON numbers, else bytes */

/* Bytes of vexfs_ioc_filter_clause.name and .values, most values of "in". */
#define VEXFS_IOC_FILTER_NAME_MAX	64	/* name_len 1..63, NUL padded */
#define VEXFS_IOC_FILTER_VALUES_MAX	120	/* {u8 len, bytes} x nvalues */
#define VEXFS_IOC_FILTER_MAX_VALUES	16

/* vexfs_ioc_text_index.op */
#define VEXFS_TEXT_INDEX_OP_BUILD	1	/* build from scratch; enables the index */
#define VEXFS_TEXT_INDEX_OP_DROP	2	/* drop it */
#define VEXFS_TEXT_INDEX_OP_STATS	3	/* change nothing, report */

/* vexfs_ioc_text_index.set: the build parameters that are given */
#define VEXFS_TEXT_INDEX_SET_K1		0x1
#define VEXFS_TEXT_INDEX_SET_B		0x2
#define VEXFS_TEXT_INDEX_SET_MAX_FILE	0x4
#define VEXFS_TEXT_INDEX_SET_ANALYZER	0x8	/* analyzer, stemmer, stopwords, lang */

/* vexfs_ioc_text_index.analyzer (docs/FORMAT.md section 8.1) */
#define VEXFS_ANALYZER_WORD_V1		1

/* Bytes of vexfs_ioc_text_index.lang and .signature. */
#define VEXFS_IOC_LANG_MAX		8
#define VEXFS_IOC_SIGNATURE_MAX		64

#ifdef __KERNEL__
typedef __u32 __vexfs_f32;		/* bit pattern of an IEEE 754 binary32 */
typedef __u64 __vexfs_f64;		/* bit pattern of an IEEE 754 binary64 */
#else
typedef float __vexfs_f32;
typedef double __vexfs_f64;
#endif

/* Sizes, for BUILD_BUG_ON() in the kernel and the checks at the end. */
#define VEXFS_IOC_HDR_SIZE			16
#define VEXFS_IOC_FS_INFO_SIZE			192
#define VEXFS_IOC_VECTOR_SIZE			8224
#define VEXFS_IOC_DEL_VECTOR_SIZE		16
#define VEXFS_IOC_COLLECTION_SIZE		64
#define VEXFS_IOC_CREATE_COLLECTION_SIZE	96
#define VEXFS_IOC_COLLECTION_INFO_SIZE		80
#define VEXFS_IOC_SEARCH_HIT_SIZE		16
#define VEXFS_IOC_SEARCH_SIZE			12344
#define VEXFS_IOC_INO_PATH_SIZE			4128
#define VEXFS_IOC_LIST_COLLECTIONS_SIZE		4128
#define VEXFS_IOC_SET_VECTORS_SIZE		16376
#define VEXFS_IOC_SEARCH2_SIZE			12360
#define VEXFS_IOC_INDEX_SIZE			448
#define VEXFS_IOC_STATS_OP_SIZE			56
#define VEXFS_IOC_STATS_ERRNO_SIZE		16
#define VEXFS_IOC_STATS_OP_ERRNO_SIZE		16
#define VEXFS_IOC_STATS_SIZE			6528
#define VEXFS_IOC_DROP_COLLECTION_SIZE		48
#define VEXFS_IOC_FILTER_CLAUSE_SIZE		192
#define VEXFS_IOC_HYBRID_HIT_SIZE		32
#define VEXFS_IOC_HYBRID_SIZE			14976
#define VEXFS_IOC_TEXT_INDEX_SIZE		336

/* Common header of every structure. */
struct vexfs_ioc_hdr {
	__u32 magic;		/* VEXFS_IOC_MAGIC */
	__u16 version;		/* VEXFS_IOC_VERSION */
	__u16 size;		/* sizeof the whole structure */
	__u32 flags;		/* none defined in version 1: 0 */
	__u32 reserved;		/* 0 */
};

/* VEXFS_IOC_FS_INFO (output only). */
struct vexfs_ioc_fs_info {
	struct vexfs_ioc_hdr hdr;
	__u16 format_major;	/* on-disk format version */
	__u16 format_minor;
	__u32 block_size;	/* bytes */
	__u64 block_count;
	__u64 free_blocks;
	__u64 inode_count;
	__u64 free_inodes;
	__u32 collection_count;
	__u32 max_dim;		/* VEXFS_MAX_DIM */
	__u32 ioc_max_dim;	/* VEXFS_IOC_MAX_DIM */
	__u32 ioc_max_k;	/* VEXFS_IOC_MAX_K */
	__u32 feature_compat;	/* superblock feature flags */
	__u32 feature_incompat;
	__u32 feature_ro_compat;
	__u32 fs_flags;		/* VEXFS_IOC_FS_* */
	__u8 uuid[16];
	char label[VEXFS_IOC_LABEL_MAX];	/* UTF-8, NUL-terminated */
	__u64 reserved[3];
};

/*
 * VEXFS_IOC_SET_VECTOR (input: dim, data[0..dim-1]) and
 * VEXFS_IOC_GET_VECTOR (output: everything).
 */
struct vexfs_ioc_vector {
	struct vexfs_ioc_hdr hdr;
	__u32 dim;		/* 1..VEXFS_IOC_MAX_DIM */
	__u32 collection_id;	/* out */
	__u8 metric;		/* out: VEXFS_METRIC_* */
	__u8 elem_type;		/* out: VEXFS_ELEM_* */
	__u16 reserved0;
	__u32 reserved1;
	__vexfs_f32 data[VEXFS_IOC_MAX_DIM];
};

/* VEXFS_IOC_DEL_VECTOR (input only; the header alone). */
struct vexfs_ioc_del_vector {
	struct vexfs_ioc_hdr hdr;
};

/* One collection, as the collection commands return it. */
/* Index kinds of a collection (struct vexfs_ioc_collection.index) */
#define VEXFS_INDEX_FLAT	1
#define VEXFS_INDEX_HNSW	2

struct vexfs_ioc_collection {
	__u32 id;		/* collection id, >= 1 */
	__u32 dim;		/* 1..VEXFS_MAX_DIM */
	__u64 root_ino;		/* inode of the collection root directory */
	__u8 metric;		/* VEXFS_METRIC_* */
	__u8 elem_type;		/* VEXFS_ELEM_* */
	__u16 elem_size;	/* bytes per element: 4, 2 or 1 */
	__u16 hnsw_m;		/* HNSW M, 0 for a flat collection */
	__u16 hnsw_ef_c;	/* HNSW efConstruction, 0 for a flat collection */
	__u64 count;		/* vectors stored */
	__u64 bytes;		/* count * dim * elem_size */
	__u64 generation;	/* bumped by every change to the vector store */
	__s64 created;		/* seconds since the epoch */
	__u32 ef_search;	/* default ef of a search, 0: the engine's */
	__u8 index;		/* VEXFS_INDEX_FLAT or VEXFS_INDEX_HNSW */
	__u8 reserved1[3];
};

/* VEXFS_IOC_CREATE_COLLECTION */
struct vexfs_ioc_create_collection {
	struct vexfs_ioc_hdr hdr;
	__u32 dim;		/* in: 1..VEXFS_MAX_DIM */
	__u8 metric;		/* in: VEXFS_METRIC_* */
	__u8 elem_type;		/* in: VEXFS_ELEM_* */
	__u8 index;		/* in: 0 default (HNSW), VEXFS_INDEX_FLAT, VEXFS_INDEX_HNSW */
	__u8 reserved0;
	__u16 hnsw_m;		/* in: M 2..128, 0 = default (16) */
	__u16 hnsw_ef_c;	/* in: efConstruction M..4096, 0 = default (200) */
	__u32 ef_search;	/* in: default ef of searches, 0 = the engine's */
	struct vexfs_ioc_collection info;	/* out */
};

/* VEXFS_IOC_COLLECTION_INFO */
struct vexfs_ioc_collection_info {
	struct vexfs_ioc_hdr hdr;
	struct vexfs_ioc_collection info;	/* out */
};

/* One search result. */
struct vexfs_ioc_search_hit {
	__u64 ino;		/* inode of the file */
	__vexfs_f32 score;	/* l2: distance; cosine, ip: similarity */
	__u32 reserved;
};

/* VEXFS_IOC_SEARCH */
struct vexfs_ioc_search {
	struct vexfs_ioc_hdr hdr;
	__u32 k;		/* in: 1..VEXFS_IOC_MAX_K */
	__u32 dim;		/* in: query length, = the collection's dim */
	__u64 exclude_ino;	/* in: inode to leave out, 0 for none */
	__u32 count;		/* out: hits[0..count-1] are valid */
	__u32 collection_id;	/* out */
	__u64 generation;	/* out: the collection's generation */
	__u8 metric;		/* out: VEXFS_METRIC_* (how to read scores) */
	__u8 elem_type;		/* out: VEXFS_ELEM_* */
	__u16 reserved0;
	__u32 reserved1;
	__vexfs_f32 query[VEXFS_IOC_MAX_DIM];	/* in: query[0..dim-1] */
	struct vexfs_ioc_search_hit hits[VEXFS_IOC_MAX_K];	/* out, best first */
};

/* VEXFS_IOC_INO_PATH */
struct vexfs_ioc_ino_path {
	struct vexfs_ioc_hdr hdr;
	__u64 ino;		/* in: inode to name */
	__u32 len;		/* out: strlen(path) */
	__u32 reserved0;
	char path[VEXFS_IOC_PATH_MAX];	/* out: relative to the directory, NUL-terminated */
};

/*
 * VEXFS_IOC_LIST_COLLECTIONS: every collection, VEXFS_IOC_LIST_MAX per
 * call; page by passing next_id back as start_id until next_id is 0.
 */
struct vexfs_ioc_list_collections {
	struct vexfs_ioc_hdr hdr;
	__u32 start_id;		/* in: first id to list (0 or 1: from the first) */
	__u32 count;		/* out: entries[0..count-1] are valid */
	__u32 next_id;		/* out: start_id of the next call, 0 at the end */
	__u32 total;		/* out: collections in the filesystem */
	struct vexfs_ioc_collection entries[VEXFS_IOC_LIST_MAX];	/* out, by id */
};

/*
 * VEXFS_IOC_SET_VECTORS (input only): the vectors of count regular files
 * below the descriptor's directory, named by inode number; all or nothing.
 * data holds __u64 ino[count], then __vexfs_f32 vector[count][dim]; reach
 * item i with VEXFS_IOC_BATCH_INO(s, i) and VEXFS_IOC_BATCH_VEC(s, i).
 */
struct vexfs_ioc_set_vectors {
	struct vexfs_ioc_hdr hdr;
	__u32 dim;		/* 1..VEXFS_IOC_MAX_DIM, of every vector */
	__u32 count;		/* 1..VEXFS_IOC_BATCH_MAX(dim) */
	__u32 flags;		/* 0 or VEXFS_IOC_BATCH_CHECK */
	__u32 reserved;
	union {
		__u64 ino[VEXFS_IOC_BATCH_DATA / 8];
		__vexfs_f32 f32[VEXFS_IOC_BATCH_DATA / 4];
	} data;			/* the rest (past the vectors) 0 */
};

/*
 * VEXFS_IOC_SEARCH2 (hdr.version = VEXFS_IOC_SEARCH2_VERSION): the fields of
 * struct vexfs_ioc_search at the same offsets, plus ef and flags in and
 * method, exact_reason and ef_used out.
 */
struct vexfs_ioc_search2 {
	struct vexfs_ioc_hdr hdr;
	__u32 k;		/* in: 1..VEXFS_IOC_MAX_K */
	__u32 dim;		/* in: query length, = the collection's dim */
	__u64 exclude_ino;	/* in: inode to leave out, 0 for none */
	__u32 count;		/* out: hits[0..count-1] are valid */
	__u32 collection_id;	/* out */
	__u64 generation;	/* out: the collection's generation */
	__u8 metric;		/* out: VEXFS_METRIC_* (how to read scores) */
	__u8 elem_type;		/* out: VEXFS_ELEM_* */
	__u16 reserved0;
	__u32 reserved1;
	__u32 ef;		/* in: 1..VEXFS_IOC_MAX_EF, 0 = the engine's choice */
	__u32 flags;		/* in: 0 or VEXFS_IOC_SEARCH2_EXACT */
	__u8 method;		/* out: VEXFS_SEARCH_METHOD_* */
	__u8 exact_reason;	/* out: VEXFS_EXACT_*, 0 for HNSW */
	__u16 reserved2;
	__u32 ef_used;		/* out: ef of the graph search, 0 for exact */
	__vexfs_f32 query[VEXFS_IOC_MAX_DIM];	/* in: query[0..dim-1] */
	struct vexfs_ioc_search_hit hits[VEXFS_IOC_MAX_K];	/* out, best first */
};

/*
 * VEXFS_IOC_INDEX: one operation on the HNSW index of the collection that
 * contains the directory; the index's figures after it.
 */
struct vexfs_ioc_index {
	struct vexfs_ioc_hdr hdr;
	__u32 op;		/* in: VEXFS_INDEX_OP_* */
	__u32 m;		/* in, build: M 2..128, 0 = keep; else 0 */
	__u32 ef_construction;	/* in, build: M..4096, 0 = keep; else 0 */
	__u32 reserved0;
	__u32 collection_id;	/* out */
	__u8 index;		/* out: VEXFS_INDEX_FLAT or VEXFS_INDEX_HNSW */
	__u8 current;		/* out: 1 the graph on disk matches the collection */
	__u8 metric;		/* out: VEXFS_METRIC_* */
	__u8 elem_type;		/* out: VEXFS_ELEM_* */
	__u64 generation;	/* out: the collection's, after the operation */
	__u64 file_bytes;	/* out: bytes of the graph file on disk */
	__u64 bytes;		/* out: bytes of the graph file at its layout */
	__u64 memory_bytes;	/* out: bytes of memory the graph holds */
	__u64 build_us;		/* out: microseconds of the last full build */
	__u64 distances;	/* out: distance computations (a counter) */
	__u64 hops;		/* out: level-0 expansions of searches */
	__u32 nodes;		/* out: live nodes */
	__u32 deleted;		/* out: nodes marked deleted */
	__u32 free;		/* out: free node ids */
	__u32 node_count;	/* out: node ids in use or free */
	__u32 upper_count;	/* out: upper-level records in use or free */
	__u32 reclaimed;	/* out: node ids reused since the last build */
	__u32 inserts_since_build;	/* out */
	__u32 ef_search;	/* out: the collection's default ef, 0: the engine's */
	__u16 hnsw_m;		/* out: M */
	__u16 hnsw_m0;		/* out: M0 = 2M */
	__u16 hnsw_ef_c;	/* out: efConstruction */
	__u8 max_level;		/* out: the entry point's level */
	__u8 level_count;	/* out: levels[0..level_count-1] are valid */
	__u32 dim;		/* out: the collection's dimension */
	__s32 entry;		/* out: entry point node, -1 when empty */
	__u32 levels[VEXFS_IOC_INDEX_LEVELS];	/* out: live nodes by top level */
	char note[VEXFS_IOC_NOTE_MAX];	/* out: UTF-8, NUL-terminated */
	__u64 reserved1[6];
};

/* One operation of vexfs_ioc_stats.ops, indexed by FUSE opcode. */
struct vexfs_ioc_stats_op {
	__u64 requests;		/* replied to since the mount */
	__u64 errors;		/* of them, answered with an errno */
	__u64 total_ns;		/* sum of latencies (arrival to reply) */
	__u64 p50_ns;		/* latency percentiles (within 12.5%) */
	__u64 p90_ns;
	__u64 p99_ns;
	__u64 max_ns;		/* exact */
};

/* Errors with one errno; err 0: every errno without an entry of its own. */
struct vexfs_ioc_stats_errno {
	__u32 err;		/* errno (EIO = 5, ...), 0 for "other" */
	__u32 reserved;
	__u64 count;
};

/* Errors of one operation with one errno; err 0: its other errnos. */
struct vexfs_ioc_stats_op_errno {
	__u32 opcode;		/* FUSE opcode */
	__u32 err;		/* errno, 0 for "other" */
	__u64 count;
};

/*
 * VEXFS_IOC_STATS (output only): the daemon's counters since the mount
 * (docs/MONITORING.md says what each means) and the superblock's error
 * record (docs/FORMAT.md section 3.2).
 */
struct vexfs_ioc_stats {
	struct vexfs_ioc_hdr hdr;
	__u64 uptime_ns;	/* since the mount */
	__s64 mount_time;	/* seconds since the epoch */
	__u64 requests;		/* every operation */
	__u64 errors;
	__u64 bytes_read;	/* file data returned by reads */
	__u64 bytes_written;	/* file data accepted by writes */
	__u64 block_cache_hits;	/* metadata block cache */
	__u64 block_cache_misses;	/* = blocks read from the device */
	__u64 inode_cache_hits;
	__u64 inode_cache_misses;
	__u64 journal_commits;	/* transactions committed */
	__u64 journal_blocks;	/* metadata blocks logged by them */
	__u64 journal_revokes;	/* revoke records logged */
	__u64 journal_checkpoints;	/* times the log was emptied */
	__u64 searches;		/* vector searches answered */
	__u64 search_total_ns;
	__u64 search_p50_ns;
	__u64 search_p90_ns;
	__u64 search_p99_ns;
	__u64 search_max_ns;
	__u64 vectors_set;	/* set or replaced */
	__u64 vectors_deleted;	/* deleted, also by dropping a collection */
	__u16 fs_state;		/* superblock state: 1 clean, 2 in use, 3 error */
	__u16 fs_errors;	/* errors= behaviour: 1 continue, 2 remount-ro, 3 panic */
	__u32 error_count;	/* errors since the last repair */
	__u32 first_error_errno;
	__u32 last_error_errno;
	__s64 first_error_time;	/* seconds since the epoch, 0 if none */
	__u64 first_error_ino;
	__s64 last_error_time;
	__u64 last_error_ino;
	char first_error_op[32];	/* ASCII, NUL padded */
	char last_error_op[32];
	__u32 stats_flags;	/* VEXFS_STATS_* */
	__u32 op_count;		/* ops[0..op_count-1] are valid */
	__u32 errno_count;	/* errnos[0..errno_count-1] are valid */
	__u32 op_errno_count;	/* op_errnos[0..op_errno_count-1] are valid */
	__u64 op_errno_other;	/* errors of pairs that did not fit op_errnos */
	__u64 xattr_cache_hits;	/* shared xattr stores: decoded entries reused */
	__u64 xattr_cache_misses;	/* ... entry blocks decoded */
	__u64 reserved[5];
	struct vexfs_ioc_stats_op ops[VEXFS_STATS_OPS];
	struct vexfs_ioc_stats_errno errnos[VEXFS_STATS_ERRNOS];	/* most first */
	struct vexfs_ioc_stats_op_errno op_errnos[VEXFS_STATS_OP_ERRNOS];	/* most first */
};

/*
 * VEXFS_IOC_DROP_COLLECTION: on the root directory of a collection; the
 * collection and its vectors go, the directory and its files stay.
 */
struct vexfs_ioc_drop_collection {
	struct vexfs_ioc_hdr hdr;
	__u32 collection_id;	/* out: the id the collection had */
	__u32 reserved0;
	__u64 vectors;		/* out: vectors deleted with it */
	__u64 root_ino;		/* out: inode of its root directory */
	__u64 reserved1;
};

/*
 * One clause of a VEXFS_IOC_HYBRID filter: the attribute "user." + name
 * compared by op with the values; the clauses of a filter are ANDed.
 */
struct vexfs_ioc_filter_clause {
	__u8 op;		/* VEXFS_FILTER_* */
	__u8 ns;		/* VEXFS_FILTER_NS_USER */
	__u8 name_len;		/* 1..63 */
	__u8 nvalues;		/* 0 for EXISTS, 1..16 for IN, else 1 */
	__u8 cmp;		/* VEXFS_FILTER_CMP_AUTO */
	__u8 reserved[3];
	__u8 name[VEXFS_IOC_FILTER_NAME_MAX];	/* without the prefix, NUL padded */
	__u8 values[VEXFS_IOC_FILTER_VALUES_MAX];	/* {u8 len, bytes} x nvalues, rest 0 */
};

/* One hit of VEXFS_IOC_HYBRID. */
struct vexfs_ioc_hybrid_hit {
	__u64 ino;		/* inode of the file */
	__vexfs_f32 score;	/* fused; with one side, that side's score */
	__vexfs_f32 vec_score;	/* the vector side's score (as SEARCH2), 0 if vec_rank is 0 */
	__vexfs_f32 text_score;	/* BM25 score, 0 if text_rank is 0 */
	__u32 vec_rank;		/* 1-based among the vector candidates, 0: not among them */
	__u32 text_rank;	/* 1-based among the text candidates, 0: not among them */
	__u32 reserved;
};

/*
 * VEXFS_IOC_HYBRID: on a directory in a collection; top-k of the files
 * below it by vector similarity, BM25 over their text, or both fused.
 */
struct vexfs_ioc_hybrid {
	struct vexfs_ioc_hdr hdr;
	__u32 k;		/* in: 1..VEXFS_IOC_HYBRID_MAX_K */
	__u32 dim;		/* in: 0 = no vector side, else the collection's dim */
	__u64 exclude_ino;	/* in: inode to leave out, 0 for none */
	__u32 ef;		/* in: as SEARCH2, 0 = the engine's choice */
	__u32 flags;		/* in: VEXFS_IOC_HYBRID_EXACT | VEXFS_IOC_HYBRID_TERMS */
	__u8 fusion;		/* in: VEXFS_FUSION_*; RRF (0) with one side */
	__u8 nclauses;		/* in: clauses[0..nclauses-1], 0..8 */
	__u16 text_len;		/* in: bytes of text used, 0 = no text side */
	__u32 rrf_k;		/* in: RRF only, 1..65535, 0 = 60 */
	__vexfs_f32 alpha;	/* in: weighted only, 0..1 (weight of the vector side) */
	__u32 depth;		/* in: candidates per side, 0 = max(k, 100); <= 4096 */
	__u32 count;		/* out: hits[0..count-1] are valid */
	__u32 collection_id;	/* out */
	__u64 generation;	/* out: the collection's (vector store) generation */
	__u64 text_generation;	/* out: the collection's text generation */
	__u8 metric;		/* out: VEXFS_METRIC_* (how to read vec_score) */
	__u8 vec_method;	/* out: VEXFS_SEARCH_METHOD_*, 0 without a vector side */
	__u8 exact_reason;	/* out: VEXFS_EXACT_*, as SEARCH2 */
	__u8 reserved0;
	__u32 ef_used;		/* out: ef of the graph search, 0 for exact */
	__u32 text_matched;	/* out: documents with a query term that pass the filter */
	__u32 filter_passed;	/* out: files that pass the filter, 0 without one */
	__u32 terms_used;	/* out: query terms after analysis */
	__u8 reserved1[28];
	struct vexfs_ioc_filter_clause clauses[VEXFS_IOC_HYBRID_MAX_CLAUSES];	/* in */
	__u8 text[VEXFS_IOC_HYBRID_TEXT_MAX];	/* in: UTF-8, or terms with VEXFS_IOC_HYBRID_TERMS */
	__vexfs_f32 query[VEXFS_IOC_MAX_DIM];	/* in: query[0..dim-1] */
	struct vexfs_ioc_hybrid_hit hits[VEXFS_IOC_HYBRID_MAX_K];	/* out, best first */
};

/*
 * VEXFS_IOC_TEXT_INDEX: one operation on the BM25 (keyword) index of the
 * collection that contains the directory; the index's figures after it.
 */
struct vexfs_ioc_text_index {
	struct vexfs_ioc_hdr hdr;
	__u32 op;		/* in: VEXFS_TEXT_INDEX_OP_* */
	__u32 set;		/* in, build: VEXFS_TEXT_INDEX_SET_*; else 0 */
	__vexfs_f64 k1;		/* in (SET_K1): 0 < k1 <= 10 / out */
	__vexfs_f64 b;		/* in (SET_B): 0 <= b <= 1 / out */
	__u32 max_file;		/* in (SET_MAX_FILE): 1024..2^30 bytes / out */
	__u8 analyzer;		/* in (SET_ANALYZER): VEXFS_ANALYZER_* / out, 0: no index */
	__u8 stemmer;		/* in (SET_ANALYZER): 0 or 1 / out */
	__u8 stopwords;		/* in (SET_ANALYZER): 0 or 1 / out */
	__u8 fresh;		/* out: 1 the index matches the files */
	char lang[VEXFS_IOC_LANG_MAX];	/* in (SET_ANALYZER) / out: ASCII, NUL padded */
	__u32 collection_id;	/* out */
	__u32 segments;		/* out */
	__u64 text_generation;	/* out */
	__u64 doc_count;	/* out: N, documents with a token */
	__u64 total_tokens;	/* out */
	__u64 terms;		/* out: dictionary records over the live segments */
	__u64 file_bytes;	/* out: allocated bytes of the index file */
	__u64 text_bytes;	/* out: bytes of the documents covered, 0: unknown */
	__u64 skipped_binary;	/* out */
	__u64 skipped_large;	/* out */
	__u64 build_us;		/* out: microseconds of the last full build */
	char signature[VEXFS_IOC_SIGNATURE_MAX];	/* out: analyzer build, ASCII, NUL padded */
	char note[VEXFS_IOC_NOTE_MAX];	/* out: UTF-8, NUL-terminated */
	__u64 reserved;
};

#define VEXFS_IOC_BATCH_INO(s, i)	((s)->data.ino[i])
#define VEXFS_IOC_BATCH_VEC(s, i) \
	(&(s)->data.f32[2 * (s)->count + (i) * (s)->dim])

/* Any descriptor on the filesystem: "is this VexFS, and which one". */
#define VEXFS_IOC_FS_INFO \
	_IOR(VEXFS_IOC_TYPE, 0x01, struct vexfs_ioc_fs_info)
/* Regular file: set (or replace) its vector. */
#define VEXFS_IOC_SET_VECTOR \
	_IOW(VEXFS_IOC_TYPE, 0x02, struct vexfs_ioc_vector)
/* Regular file: read its vector (ENODATA if it has none). */
#define VEXFS_IOC_GET_VECTOR \
	_IOWR(VEXFS_IOC_TYPE, 0x03, struct vexfs_ioc_vector)
/* Regular file: delete its vector (ENODATA if it has none). */
#define VEXFS_IOC_DEL_VECTOR \
	_IOW(VEXFS_IOC_TYPE, 0x04, struct vexfs_ioc_del_vector)
/* Directory: make it a collection root. */
#define VEXFS_IOC_CREATE_COLLECTION \
	_IOWR(VEXFS_IOC_TYPE, 0x05, struct vexfs_ioc_create_collection)
/* File or directory: the collection it is in (ENODATA if none). */
#define VEXFS_IOC_COLLECTION_INFO \
	_IOWR(VEXFS_IOC_TYPE, 0x06, struct vexfs_ioc_collection_info)
/* Directory in a collection: exact top-k search of the files below it. */
#define VEXFS_IOC_SEARCH \
	_IOWR(VEXFS_IOC_TYPE, 0x07, struct vexfs_ioc_search)
/* Directory: path of an inode below it. */
#define VEXFS_IOC_INO_PATH \
	_IOWR(VEXFS_IOC_TYPE, 0x08, struct vexfs_ioc_ino_path)
/* Any descriptor on the filesystem: list its collections. */
#define VEXFS_IOC_LIST_COLLECTIONS \
	_IOWR(VEXFS_IOC_TYPE, 0x09, struct vexfs_ioc_list_collections)
/* Directory: set the vectors of many files below it (by inode number). */
#define VEXFS_IOC_SET_VECTORS \
	_IOW(VEXFS_IOC_TYPE, 0x0A, struct vexfs_ioc_set_vectors)
/* Directory in a collection: top-k search with ef or exactly, and how. */
#define VEXFS_IOC_SEARCH2 \
	_IOWR(VEXFS_IOC_TYPE, 0x0B, struct vexfs_ioc_search2)
/* Directory in a collection: build, drop, optimize or inspect its index. */
#define VEXFS_IOC_INDEX \
	_IOWR(VEXFS_IOC_TYPE, 0x0C, struct vexfs_ioc_index)
/* Any descriptor on the filesystem: the daemon's counters since the mount. */
#define VEXFS_IOC_STATS \
	_IOR(VEXFS_IOC_TYPE, 0x0D, struct vexfs_ioc_stats)
/* Root directory of a collection: drop the collection, keep the files. */
#define VEXFS_IOC_DROP_COLLECTION \
	_IOWR(VEXFS_IOC_TYPE, 0x0E, struct vexfs_ioc_drop_collection)
/* Directory in a collection: keyword, vector or hybrid search with filters. */
#define VEXFS_IOC_HYBRID \
	_IOWR(VEXFS_IOC_TYPE, 0x0F, struct vexfs_ioc_hybrid)
/* Directory in a collection: build, drop or inspect its keyword index. */
#define VEXFS_IOC_TEXT_INDEX \
	_IOWR(VEXFS_IOC_TYPE, 0x10, struct vexfs_ioc_text_index)

/* Compile-time layout checks (C11, C++11; skipped by older compilers). */
#if defined(__cplusplus) && __cplusplus >= 201103L
#define __VEXFS_IOC_ASSERT(cond, msg)	static_assert(cond, msg)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define __VEXFS_IOC_ASSERT(cond, msg)	_Static_assert(cond, msg)
#endif

#ifdef __VEXFS_IOC_ASSERT
#define __VEXFS_IOC_SIZE(type, size) \
	__VEXFS_IOC_ASSERT(sizeof(struct type) == (size), \
			   "sizeof(struct " #type ") != " #size)
__VEXFS_IOC_SIZE(vexfs_ioc_hdr, VEXFS_IOC_HDR_SIZE);
__VEXFS_IOC_SIZE(vexfs_ioc_fs_info, VEXFS_IOC_FS_INFO_SIZE);
__VEXFS_IOC_SIZE(vexfs_ioc_vector, VEXFS_IOC_VECTOR_SIZE);
__VEXFS_IOC_SIZE(vexfs_ioc_del_vector, VEXFS_IOC_DEL_VECTOR_SIZE);
__VEXFS_IOC_SIZE(vexfs_ioc_collection, VEXFS_IOC_COLLECTION_SIZE);
__VEXFS_IOC_SIZE(vexfs_ioc_create_collection,
		 VEXFS_IOC_CREATE_COLLECTION_SIZE);
__VEXFS_IOC_SIZE(vexfs_ioc_collection_info, VEXFS_IOC_COLLECTION_INFO_SIZE);
__VEXFS_IOC_SIZE(vexfs_ioc_search_hit, VEXFS_IOC_SEARCH_HIT_SIZE);
__VEXFS_IOC_SIZE(vexfs_ioc_search, VEXFS_IOC_SEARCH_SIZE);
__VEXFS_IOC_SIZE(vexfs_ioc_ino_path, VEXFS_IOC_INO_PATH_SIZE);
__VEXFS_IOC_SIZE(vexfs_ioc_list_collections, VEXFS_IOC_LIST_COLLECTIONS_SIZE);
__VEXFS_IOC_SIZE(vexfs_ioc_set_vectors, VEXFS_IOC_SET_VECTORS_SIZE);
__VEXFS_IOC_SIZE(vexfs_ioc_search2, VEXFS_IOC_SEARCH2_SIZE);
__VEXFS_IOC_SIZE(vexfs_ioc_index, VEXFS_IOC_INDEX_SIZE);
__VEXFS_IOC_SIZE(vexfs_ioc_stats_op, VEXFS_IOC_STATS_OP_SIZE);
__VEXFS_IOC_SIZE(vexfs_ioc_stats_errno, VEXFS_IOC_STATS_ERRNO_SIZE);
__VEXFS_IOC_SIZE(vexfs_ioc_stats_op_errno, VEXFS_IOC_STATS_OP_ERRNO_SIZE);
__VEXFS_IOC_SIZE(vexfs_ioc_stats, VEXFS_IOC_STATS_SIZE);
__VEXFS_IOC_SIZE(vexfs_ioc_drop_collection, VEXFS_IOC_DROP_COLLECTION_SIZE);
__VEXFS_IOC_SIZE(vexfs_ioc_filter_clause, VEXFS_IOC_FILTER_CLAUSE_SIZE);
__VEXFS_IOC_SIZE(vexfs_ioc_hybrid_hit, VEXFS_IOC_HYBRID_HIT_SIZE);
__VEXFS_IOC_SIZE(vexfs_ioc_hybrid, VEXFS_IOC_HYBRID_SIZE);
__VEXFS_IOC_SIZE(vexfs_ioc_text_index, VEXFS_IOC_TEXT_INDEX_SIZE);
__VEXFS_IOC_ASSERT(sizeof(__vexfs_f32) == 4, "vector elements are 4 bytes");
__VEXFS_IOC_ASSERT(sizeof(__vexfs_f64) == 8, "k1 and b are 8 bytes");
__VEXFS_IOC_ASSERT(VEXFS_IOC_HYBRID_SIZE <= 16383,
		   "restricted ioctls carry at most 16383 bytes (_IOC_SIZE)");
__VEXFS_IOC_ASSERT(VEXFS_IOC_SET_VECTORS_SIZE <= 16383,
		   "restricted ioctls carry at most 16383 bytes (_IOC_SIZE)");
__VEXFS_IOC_ASSERT(VEXFS_IOC_BATCH_MAX(VEXFS_IOC_MAX_DIM) >= 1,
		   "one vector of the widest dimension fits a batch");
#undef __VEXFS_IOC_SIZE
#undef __VEXFS_IOC_ASSERT
#endif

#endif /* _UAPI_LINUX_VEXFS_IOCTL_H */
