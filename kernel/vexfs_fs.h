/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vexfs_fs.h - the VexFS on-disk format, version 1, as C structures.
 *
 * This header follows docs/FORMAT.md, the contract between the TypeScript
 * engine (src/format, src/fs, src/hnsw, src/bm25) and the kernel module. Every
 * structure has a fixed little-endian layout; the sizes and the offsets of
 * the fields the format names are checked at compile time below and, in
 * user space, against the TypeScript codecs by src/kernel/format_test.ts.
 *
 * Only the journal's own structures are absent: the journal is jbd2's
 * format (FORMAT.md section 9), which <linux/jbd2.h> describes.
 *
 * Outside the kernel define the __le16/__le32/__le64/__u8 types before
 * including this header (<linux/types.h> provides them).
 */
#ifndef _VEXFS_FS_H
#define _VEXFS_FS_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/stddef.h>
#include <linux/build_bug.h>
#define VEXFS_STATIC_ASSERT(e, msg) static_assert(e, msg)
#else
#include <stddef.h>
#define VEXFS_STATIC_ASSERT(e, msg) _Static_assert(e, msg)
#endif

/* ---------------------------------------------------------- section 1, 2 */

/* Byte offset of the primary superblock, whatever the block size. */
#define VEXFS_SB_OFFSET		1024
#define VEXFS_SB_SIZE		1024
#define VEXFS_MAGIC		0x53465856	/* bytes "VXFS" */
#define VEXFS_VERSION_MAJOR	1
#define VEXFS_VERSION_MINOR	0

#define VEXFS_MIN_LOG_BLOCK_SIZE 0		/* 1024 bytes */
#define VEXFS_MAX_LOG_BLOCK_SIZE 6		/* 65536 bytes */
#define VEXFS_MIN_BLOCK_SIZE	1024
#define VEXFS_MAX_BLOCK_SIZE	65536

/* Every structure's checksum is its last 4 bytes (FORMAT.md section 1). */
#define VEXFS_CSUM_SIZE		4

/* ------------------------------------------------------------- section 3 */

#define VEXFS_STATE_CLEAN	1
#define VEXFS_STATE_DIRTY	2
#define VEXFS_STATE_ERROR	3

#define VEXFS_ERRORS_CONTINUE	1
#define VEXFS_ERRORS_RO		2
#define VEXFS_ERRORS_PANIC	3

#define VEXFS_FEATURE_INCOMPAT_EXTENTS		0x0001
#define VEXFS_FEATURE_INCOMPAT_HTREE		0x0002
#define VEXFS_FEATURE_INCOMPAT_VECTORS		0x0004
#define VEXFS_FEATURE_INCOMPAT_JOURNAL		0x0008
#define VEXFS_FEATURE_INCOMPAT_RECOVER		0x0010
#define VEXFS_FEATURE_INCOMPAT_XATTR_STORE	0x0020
#define VEXFS_FEATURE_INCOMPAT_FLEX_META	0x0040

#define VEXFS_FEATURE_RO_COMPAT_PARENT_PTR	0x0001
#define VEXFS_FEATURE_RO_COMPAT_HNSW		0x0002
#define VEXFS_FEATURE_RO_COMPAT_BM25		0x0004
#define VEXFS_FEATURE_RO_COMPAT_NORMS		0x0008

#define VEXFS_FEATURE_COMPAT_XATTR		0x0001
#define VEXFS_FEATURE_COMPAT_BACKUP_SB		0x0002

#define VEXFS_ERROR_OP_LEN	32
#define VEXFS_LABEL_LEN		64
#define VEXFS_UUID_LEN		16

/* The superblock: 1024 bytes at byte 1024 of the device (section 3). */
struct vexfs_super_block {
	__le32	s_magic;		/* 0 VEXFS_MAGIC */
	__le16	s_version_major;	/* 4 */
	__le16	s_version_minor;	/* 6 */
	__le32	s_feature_compat;	/* 8 */
	__le32	s_feature_incompat;	/* 12 */
	__le32	s_feature_ro_compat;	/* 16 */
	__le32	s_log_block_size;	/* 20 block size = 1024 << this */
	__le64	s_block_count;		/* 24 */
	__le64	s_free_blocks;		/* 32 */
	__le64	s_inode_count;		/* 40 */
	__le64	s_free_inodes;		/* 48 */
	__le64	s_block_bitmap_start;	/* 56 */
	__le32	s_block_bitmap_blocks;	/* 64 */
	__le32	s_inode_bitmap_blocks;	/* 68 */
	__le64	s_inode_bitmap_start;	/* 72 */
	__le64	s_inode_table_start;	/* 80 */
	__le64	s_inode_table_blocks;	/* 88 */
	__le64	s_first_data_block;	/* 96 */
	__le64	s_root_ino;		/* 104 always 2 */
	__le64	s_coll_table_ino;	/* 112 always 3 */
	__le16	s_inode_size;		/* 120 always 256 */
	__le16	s_state;		/* 122 VEXFS_STATE_* */
	__le16	s_errors;		/* 124 VEXFS_ERRORS_* */
	__le16	s_reserved1;		/* 126 */
	__le32	s_mount_count;		/* 128 */
	__le32	s_max_mount_count;	/* 132 */
	__le64	s_mkfs_time;		/* 136 s64 seconds */
	__le64	s_mount_time;		/* 144 */
	__le64	s_write_time;		/* 152 */
	__le64	s_check_time;		/* 160 */
	__u8	s_uuid[VEXFS_UUID_LEN];	/* 168 */
	__u8	s_label[VEXFS_LABEL_LEN]; /* 184 NUL padded */
	__le32	s_hash_seed;		/* 248 */
	__le32	s_first_ino;		/* 252 */
	__le64	s_orphan_head;		/* 256 */
	__le64	s_journal_ino;		/* 264 */
	__le64	s_journal_blocks;	/* 272 */
	__le32	s_coll_count;		/* 280 */
	__le32	s_reserved2;		/* 284 */
	__le64	s_mkfs_inode_ratio;	/* 288 */
	__le32	s_error_count;		/* 296 */
	__le32	s_first_error_errno;	/* 300 */
	__le64	s_first_error_time;	/* 304 */
	__le64	s_first_error_ino;	/* 312 */
	__u8	s_first_error_op[VEXFS_ERROR_OP_LEN];	/* 320 */
	__le32	s_last_error_errno;	/* 352 */
	__le32	s_reserved3;		/* 356 */
	__le64	s_last_error_time;	/* 360 */
	__le64	s_last_error_ino;	/* 368 */
	__u8	s_last_error_op[VEXFS_ERROR_OP_LEN];	/* 376 */
	__u8	s_reserved4[612];	/* 408 */
	__le32	s_checksum;		/* 1020 CRC-32C of bytes 0..1019 */
};

/* ------------------------------------------------------------- section 4 */

#define VEXFS_INODE_SIZE	256
#define VEXFS_INODE_DATA_SIZE	116
#define VEXFS_ROOT_INO		2
#define VEXFS_COLL_TABLE_INO	3
#define VEXFS_JOURNAL_INO	4
#define VEXFS_FIRST_INO		16

#define VEXFS_IFL_HAS_VECTOR	0x0001
#define VEXFS_IFL_COLL_ROOT	0x0002
#define VEXFS_IFL_INTERNAL	0x0004
#define VEXFS_IFL_ORPHAN	0x0008
#define VEXFS_IFL_INLINE	0x0010
#define VEXFS_IFL_XATTR_IN_STORE 0x0020
#define VEXFS_IFL_XATTR_STORE	0x0040
#define VEXFS_IFL_KNOWN		0x007f

/* An inode: 256 bytes, inode n at byte (n - 1) * 256 of the table. */
struct vexfs_inode {
	__le16	i_mode;			/* 0 */
	__le16	i_reserved1;		/* 2 */
	__le32	i_uid;			/* 4 */
	__le32	i_gid;			/* 8 */
	__le32	i_nlink;		/* 12 */
	__le64	i_size;			/* 16 bytes */
	__le64	i_blocks;		/* 24 filesystem blocks */
	__le64	i_atime_sec;		/* 32 s64 */
	__le64	i_mtime_sec;		/* 40 */
	__le64	i_ctime_sec;		/* 48 */
	__le64	i_crtime_sec;		/* 56 */
	__le32	i_atime_nsec;		/* 64 */
	__le32	i_mtime_nsec;		/* 68 */
	__le32	i_ctime_nsec;		/* 72 */
	__le32	i_crtime_nsec;		/* 76 */
	__le32	i_flags;		/* 80 VEXFS_IFL_* */
	__le32	i_generation;		/* 84 */
	__le64	i_xattr_block;		/* 88 block, or store inode */
	__le64	i_parent_ino;		/* 96 */
	__le32	i_parent_hash;		/* 104 */
	__le32	i_coll_id;		/* 108 */
	__le64	i_vec_slot;		/* 112 */
	__le64	i_orphan_next;		/* 120 */
	__le32	i_rdev;			/* 128 new_encode_dev() form */
	__le32	i_reserved2;		/* 132 */
	__u8	i_data[VEXFS_INODE_DATA_SIZE];	/* 136 extent root or inline */
	__le32	i_checksum;		/* 252 seeded with the inode number */
};

/* ----------------------------------------------------------- section 5.2 */

#define VEXFS_EXT_MAGIC		0xF30B
#define VEXFS_EXT_ROOT_MAX	4
#define VEXFS_EXT_UNWRITTEN	0x1
#define VEXFS_EXT_MAX_DEPTH	5
#define VEXFS_EXT_MAX_LEN	0x7fffffff

/* Extent tree node header, 16 bytes (in i_data or at the start of a block). */
struct vexfs_extent_header {
	__le16	eh_magic;		/* 0 VEXFS_EXT_MAGIC */
	__le16	eh_entries;		/* 2 */
	__le16	eh_max;			/* 4 */
	__le16	eh_depth;		/* 6 0 = leaves */
	__le32	eh_generation;		/* 8 */
	__le32	eh_reserved;		/* 12 */
};

/* Leaf entry: an extent, 24 bytes. */
struct vexfs_extent {
	__le64	ee_logical;		/* 0 first file block */
	__le64	ee_physical;		/* 8 first device block */
	__le32	ee_len;			/* 16 1 .. 2^31 - 1 */
	__le32	ee_flags;		/* 20 VEXFS_EXT_UNWRITTEN */
};

/* Index entry, 24 bytes. */
struct vexfs_extent_idx {
	__le64	ei_logical;		/* 0 */
	__le64	ei_child;		/* 8 block of the child node */
	__le64	ei_reserved;		/* 16 */
};

/* Entries a tree block holds: (block_size - 20) / 24. */
#define VEXFS_EXT_BLOCK_MAX(bs) \
	(((bs) - sizeof(struct vexfs_extent_header) - VEXFS_CSUM_SIZE) / \
	 sizeof(struct vexfs_extent))

/* ------------------------------------------------------------- section 6 */

#define VEXFS_DIRX_MAGIC	0x58524944	/* bytes "DIRX" */
#define VEXFS_DIRL_MAGIC	0x4c524944	/* bytes "DIRL" */
#define VEXFS_NAME_LEN		255
#define VEXFS_HTREE_MAX_LEVEL	2

#define VEXFS_FT_UNKNOWN	0
#define VEXFS_FT_REG		1
#define VEXFS_FT_DIR		2
#define VEXFS_FT_CHR		3
#define VEXFS_FT_BLK		4
#define VEXFS_FT_FIFO		5
#define VEXFS_FT_SOCK		6
#define VEXFS_FT_SYMLINK	7

/* Directory index block header (root or interior), 32 bytes. */
struct vexfs_dx_header {
	__le32	dx_magic;		/* 0 VEXFS_DIRX_MAGIC */
	__le16	dx_level;		/* 4 */
	__le16	dx_count;		/* 6 */
	__le16	dx_limit;		/* 8 (block_size - 36) / 8 */
	__le16	dx_reserved1;		/* 10 */
	__le32	dx_reserved2;		/* 12 */
	__le64	dx_entry_count;		/* 16 root only */
	__le64	dx_reserved3;		/* 24 */
};

/* Directory index entry, 8 bytes, from offset 32. */
struct vexfs_dx_entry {
	__le32	hash;			/* 0 */
	__le32	block;			/* 4 file block of the directory */
};

#define VEXFS_DX_LIMIT(bs) \
	(((bs) - sizeof(struct vexfs_dx_header) - VEXFS_CSUM_SIZE) / \
	 sizeof(struct vexfs_dx_entry))

/* Directory leaf block header, 16 bytes; entries follow. */
struct vexfs_dir_leaf_header {
	__le32	dl_magic;		/* 0 VEXFS_DIRL_MAGIC */
	__le32	dl_count;		/* 4 entries */
	__le32	dl_used;		/* 8 bytes of entries from 16 */
	__le32	dl_reserved;		/* 12 */
};

/* Directory entry, align8(16 + name_len) bytes. */
struct vexfs_dir_entry {
	__le64	d_ino;			/* 0 */
	__le32	d_hash;			/* 8 */
	__le16	d_name_len;		/* 12 1..255 */
	__u8	d_file_type;		/* 14 VEXFS_FT_* */
	__u8	d_reserved;		/* 15 */
	__u8	d_name[];		/* 16 */
};

#define VEXFS_DIR_REC_LEN(name_len) \
	((sizeof(struct vexfs_dir_entry) + (name_len) + 7) & ~(size_t)7)

/* ------------------------------------------------------------- section 7 */

#define VEXFS_XATTR_MAGIC	0x52544158	/* bytes "XATR" */
#define VEXFS_XATTR_ENTRY_MAGIC	0x45544158	/* bytes "XATE" */
#define VEXFS_XATTR_VALUE_MAGIC	0x56544158	/* bytes "XATV" */
#define VEXFS_XATTR_VALUE_BASE	65536
#define VEXFS_XATTR_SIZE_MAX	65536
#define VEXFS_XATTR_LIST_MAX	65536
#define VEXFS_XATTR_LIST_RESERVED 32

#define VEXFS_XATTR_NS_USER	1
#define VEXFS_XATTR_NS_TRUSTED	2
#define VEXFS_XATTR_NS_SECURITY	3
#define VEXFS_XATTR_NS_SYSTEM	4

#define VEXFS_XATTR_EXTERNAL	0x1

/* Xattr block header (7.1), 16 bytes; entries follow. */
struct vexfs_xattr_header {
	__le32	xh_magic;		/* 0 VEXFS_XATTR_MAGIC */
	__le32	xh_count;		/* 4 */
	__le32	xh_used;		/* 8 bytes of entries from 16 */
	__le32	xh_reserved;		/* 12 */
};

/* Xattr block entry (7.1): 8 bytes, then name, value, zeros to align 8. */
struct vexfs_xattr_entry {
	__u8	xe_namespace;		/* 0 VEXFS_XATTR_NS_* */
	__u8	xe_name_len;		/* 1 */
	__le16	xe_reserved;		/* 2 */
	__le32	xe_value_len;		/* 4 */
	__u8	xe_name[];		/* 8 */
};

/* Xattr store entry block header (7.2), 24 bytes; entries follow. */
struct vexfs_xattr_store_header {
	__le32	xs_magic;		/* 0 VEXFS_XATTR_ENTRY_MAGIC */
	__le32	xs_count;		/* 4 */
	__le32	xs_used;		/* 8 bytes of entries from 24 */
	__le32	xs_reserved;		/* 12 */
	__le64	xs_file_block;		/* 16 */
};

/* Xattr store entry (7.2): 16 bytes, then name, inline value, align 8. */
struct vexfs_xattr_store_entry {
	__u8	xse_namespace;		/* 0 */
	__u8	xse_name_len;		/* 1 */
	__le16	xse_flags;		/* 2 VEXFS_XATTR_EXTERNAL */
	__le32	xse_value_len;		/* 4 */
	__le64	xse_value_block;	/* 8 */
	__u8	xse_name[];		/* 16 */
};

/* Xattr store value block header (7.2), 16 bytes; data follows. */
struct vexfs_xattr_value_header {
	__le32	xv_magic;		/* 0 VEXFS_XATTR_VALUE_MAGIC */
	__le32	xv_length;		/* 4 */
	__le64	xv_file_block;		/* 8 */
};

/* ------------------------------------------------------------- section 8 */

#define VEXFS_COLL_MAGIC	0x4c4c4f43	/* bytes "COLL" */
#define VEXFS_COLL_IN_USE	0x1
#define VEXFS_COLL_INDEX_HNSW	0x2
#define VEXFS_COLL_INDEX_BM25	0x4
#define VEXFS_COLL_MAX_DIM	4096

/* BM25 fields of a record with VEXFS_COLL_INDEX_BM25 (8.1). */
#define VEXFS_BM25_ANALYZER_WORD_V1	1
#define VEXFS_BM25_LANG_LEN		8
#define VEXFS_BM25_MAX_FILE_MIN		1024u
#define VEXFS_BM25_MAX_FILE_MAX		(1u << 30)

#define VEXFS_METRIC_L2		1
#define VEXFS_METRIC_COSINE	2
#define VEXFS_METRIC_IP		3

#define VEXFS_ELEM_F32		1
#define VEXFS_ELEM_F16		2
#define VEXFS_ELEM_I8		3

/* A collection record (8.1): record i of inode 3 is collection i + 1. */
struct vexfs_collection {
	__le32	c_magic;		/* 0 VEXFS_COLL_MAGIC or 0 */
	__le32	c_flags;		/* 4 VEXFS_COLL_* */
	__le64	c_root_ino;		/* 8 */
	__le32	c_dim;			/* 16 */
	__u8	c_metric;		/* 20 */
	__u8	c_elem_type;		/* 21 */
	__le16	c_reserved1;		/* 22 */
	__le64	c_count;		/* 24 */
	__le64	c_vec_ino;		/* 32 */
	__le64	c_map_ino;		/* 40 */
	__le64	c_hnsw_ino;		/* 48 */
	__le64	c_bm25_ino;		/* 56 */
	__le64	c_created;		/* 64 s64 seconds */
	__le64	c_generation;		/* 72 */
	__le16	c_hnsw_m;		/* 80 */
	__le16	c_hnsw_ef_construction;	/* 82 */
	__le32	c_hnsw_ef_search;	/* 84 */
	__le64	c_norm_ino;		/* 88 */
	/* 96..135: with VEXFS_COLL_INDEX_BM25, else all 0 (8.1, 8.7) */
	__le64	c_text_generation;	/* 96 */
	__le64	c_bm25_k1;		/* 104 f64 bits, 0 < k1 <= 10 */
	__le64	c_bm25_b;		/* 112 f64 bits, 0 <= b <= 1 */
	__le32	c_bm25_max_file;	/* 120 bytes, 1 KiB .. 1 GiB */
	__u8	c_bm25_analyzer;	/* 124 VEXFS_BM25_ANALYZER_* */
	__u8	c_bm25_stemmer;		/* 125 0 or 1 */
	__u8	c_bm25_stopwords;	/* 126 0 or 1 */
	__u8	c_reserved3;		/* 127 */
	__u8	c_bm25_lang[VEXFS_BM25_LANG_LEN]; /* 128 ASCII, NUL padded */
	__u8	c_reserved2[116];	/* 136 */
	__le32	c_checksum;		/* 252 seeded with the collection id */
};

#define VEXFS_SLOT_IN_USE	0x1

/* A slot map entry (8.3): (block_size - 16) / 16 per block. */
struct vexfs_slot {
	__le64	sl_ino;			/* 0 */
	__le32	sl_vec_crc;		/* 8 */
	__le32	sl_flags;		/* 12 VEXFS_SLOT_IN_USE */
};

#define VEXFS_SLOTS_PER_BLOCK(bs)	(((bs) - 16) / sizeof(struct vexfs_slot))

/* ----------------------------------------------------------- section 8.6 */

#define VEXFS_HNSW_MAGIC	0x57534e48	/* bytes "HNSW" */
#define VEXFS_HNSW_VERSION	1
#define VEXFS_HNSW_NONE		0xffffffff
#define VEXFS_HNSW_NODE_DELETED	0x1

/*
 * HNSW graph header (block 0 of the graph file). Search in the kernel is
 * exact, so the module only needs this to know whether a graph is current
 * (generation, count) after it changes a collection.
 */
struct vexfs_hnsw_header {
	__le32	h_magic;		/* 0 VEXFS_HNSW_MAGIC */
	__le16	h_version;		/* 4 */
	__le16	h_m;			/* 6 */
	__le16	h_m0;			/* 8 */
	__le16	h_ef_construction;	/* 10 */
	__le32	h_dim;			/* 12 */
	__u8	h_metric;		/* 16 */
	__u8	h_elem_type;		/* 17 */
	__le16	h_reserved;		/* 18 */
	__le32	h_entry;		/* 20 */
	__le32	h_max_level;		/* 24 */
	__le32	h_node_count;		/* 28 */
	__le32	h_node_cap;		/* 32 */
	__le32	h_upper_count;		/* 36 */
	__le32	h_upper_cap;		/* 40 */
	__le32	h_slot_cap;		/* 44 */
	__le32	h_free_node;		/* 48 */
	__le32	h_free_upper;		/* 52 */
	__le64	h_generation;		/* 56 */
	__le64	h_count;		/* 64 */
	__le64	h_node_start;		/* 72 */
	__le64	h_upper_start;		/* 80 */
	__le64	h_slot_start;		/* 88 */
	__le64	h_seed;			/* 96 */
	__le64	h_ml;			/* 104 f64 bits */
	__le64	h_deleted;		/* 112 */
	__le64	h_reclaimed;		/* 120 */
	__le64	h_build_ns;		/* 128 */
	__le64	h_inserts;		/* 136 */
};

/* HNSW node record header (16 bytes), then __le32 neighbors[m0]. */
struct vexfs_hnsw_node {
	__le32	n_slot;			/* 0 */
	__u8	n_level;		/* 4 */
	__u8	n_flags;		/* 5 */
	__le16	n_count;		/* 6 */
	__le32	n_upper;		/* 8 */
	__le32	n_vec_crc;		/* 12 */
	__le32	n_neighbors[];		/* 16 */
};

/* HNSW upper-level record header (16 bytes), then __le32 neighbors[m]. */
struct vexfs_hnsw_upper {
	__le32	u_node;			/* 0 */
	__u8	u_level;		/* 4 */
	__u8	u_count;		/* 5 */
	__le16	u_reserved1;		/* 6 */
	__le32	u_next;			/* 8 */
	__le32	u_reserved2;		/* 12 */
	__le32	u_neighbors[];		/* 16 */
};

/* ----------------------------------------------------------- section 8.7 */

/*
 * The BM25 index file (bm25_ino): header slots in file blocks 0 and 1, then
 * up to VEXFS_BM25_MAX_SEGMENTS segments, each a contiguous run of blocks.
 * Every block ends with a CRC-32C at block_size - 4, seeded with the
 * collection id (header slots) or (segment_id << 32) | collection_id.
 */
#define VEXFS_BM25_MAGIC		0x35324d42	/* bytes "BM25" */
#define VEXFS_BM25_SEGMENT_MAGIC	0x35324753	/* bytes "SG25" */
#define VEXFS_BM25_VERSION		1
#define VEXFS_BM25_MAX_SEGMENTS		8
#define VEXFS_BM25_SIGNATURE_LEN	64
#define VEXFS_BM25_MAX_TERM		64
#define VEXFS_BM25_SEGMENT_BASE		0x1	/* bm_seg_flags */
#define VEXFS_BM25_DOC_BINARY		0x1	/* bd_flags: skipped, binary */
#define VEXFS_BM25_DOC_LARGE		0x2	/* bd_flags: skipped, > max_file */
#define VEXFS_BM25_HEADER_BYTES		296	/* rest of the slot block is 0 */
/* fixed-size records per block; they never straddle a block */
#define VEXFS_BM25_PER_BLOCK(bs, type)	(((bs) - 4) / sizeof(struct type))

/* An entry of the header's segment list; unused entries are 0. */
struct vexfs_bm25_segref {
	__le64	bs_first_block;		/* 0 file block */
	__le32	bs_block_count;		/* 8 */
	__le32	bs_id;			/* 12 seeds the segment's block CRCs */
};

/* A header slot (file block 0 or 1); the valid slot with the higher seq is current. */
struct vexfs_bm25_header {
	__le32	bh_magic;		/* 0 VEXFS_BM25_MAGIC */
	__le16	bh_version;		/* 4 */
	__le16	bh_slot;		/* 6 0 or 1 */
	__le64	bh_seq;			/* 8 */
	__le64	bh_text_generation;	/* 16 fresh iff = c_text_generation */
	__u8	bh_analyzer;		/* 24 copies of the record's fields */
	__u8	bh_stemmer;		/* 25 */
	__u8	bh_stopwords;		/* 26 */
	__u8	bh_reserved;		/* 27 */
	__le32	bh_max_file;		/* 28 */
	__u8	bh_lang[VEXFS_BM25_LANG_LEN];	/* 32 */
	__u8	bh_signature[VEXFS_BM25_SIGNATURE_LEN]; /* 40 ASCII; kernel ignores */
	__le64	bh_doc_count;		/* 104 N */
	__le64	bh_total_tokens;	/* 112 avgdl = total_tokens / N */
	__le64	bh_skipped_binary;	/* 120 */
	__le64	bh_skipped_large;	/* 128 */
	__le64	bh_long_tokens;		/* 136 */
	__le64	bh_empty_docs;		/* 144 */
	__le32	bh_segment_count;	/* 152 1..8 */
	__le32	bh_next_segment_id;	/* 156 */
	__le64	bh_build_ns;		/* 160 */
	struct vexfs_bm25_segref bh_segments[VEXFS_BM25_MAX_SEGMENTS]; /* 168 */
};

/* Block 0 of a segment; region starts are block offsets within the segment. */
struct vexfs_bm25_segment {
	__le32	bm_magic;		/* 0 VEXFS_BM25_SEGMENT_MAGIC */
	__le32	bm_id;			/* 4 */
	__le32	bm_block_count;		/* 8 */
	__le32	bm_seg_flags;		/* 12 VEXFS_BM25_SEGMENT_BASE */
	__le32	bm_doc_count;		/* 16 */
	__le32	bm_tomb_count;		/* 20 */
	__le32	bm_term_count;		/* 24 */
	__le32	bm_reserved;		/* 28 */
	__le64	bm_doc_start;		/* 32 */
	__le64	bm_tomb_start;		/* 40 __le64 inos, sorted */
	__le64	bm_dict_start;		/* 48 */
	__le64	bm_terms_start;		/* 56 byte stream */
	__le64	bm_post_start;		/* 64 byte stream, LEB128 (delta, tf) */
	__le64	bm_terms_bytes;		/* 72 */
	__le64	bm_post_bytes;		/* 80 */
	__le64	bm_live_tokens;		/* 88 */
};

/* A doc-table record, sorted by ino; ordinal i = record i. */
struct vexfs_bm25_doc {
	__le64	bd_ino;			/* 0 */
	__le32	bd_igen;		/* 8 i_generation */
	__le32	bd_dl;			/* 12 tokens kept */
	__le64	bd_ctime_sec;		/* 16 s64 */
	__le32	bd_ctime_nsec;		/* 24 */
	__le32	bd_crc;			/* 28 CRC-32C of the content */
	__le64	bd_size;		/* 32 */
	__le32	bd_flags;		/* 40 VEXFS_BM25_DOC_* */
	__le32	bd_uniq;		/* 44 distinct terms */
};

/* A dictionary record, sorted by (hash, term bytes); hash = FORMAT.md section 6 of the bytes. */
struct vexfs_bm25_term {
	__le32	bt_hash;		/* 0 */
	__le16	bt_len;			/* 4 1..64 */
	__le16	bt_reserved;		/* 6 */
	__le64	bt_term_off;		/* 8 in the term-bytes stream */
	__le64	bt_post_off;		/* 16 in the postings stream */
	__le32	bt_df;			/* 24 */
	__le32	bt_post_len;		/* 28 */
};

/* ----------------------------------------------------------- section 9 */

/* The journal is jbd2's own format (big-endian, <linux/jbd2.h>). */
#define VEXFS_JOURNAL_MIN_BLOCKS	1024
#define VEXFS_JOURNAL_MAX_BLOCKS	10240000

/* -------------------------------------------------- compile-time checks */

#define VEXFS_CHECK_SIZE(type, size) \
	VEXFS_STATIC_ASSERT(sizeof(struct type) == (size), \
			    "sizeof(struct " #type ") != " #size)
#define VEXFS_CHECK_OFF(type, field, off) \
	VEXFS_STATIC_ASSERT(offsetof(struct type, field) == (off), \
			    "offsetof(struct " #type ", " #field ") != " #off)

VEXFS_CHECK_SIZE(vexfs_super_block, 1024);
VEXFS_CHECK_OFF(vexfs_super_block, s_block_count, 24);
VEXFS_CHECK_OFF(vexfs_super_block, s_inode_bitmap_start, 72);
VEXFS_CHECK_OFF(vexfs_super_block, s_inode_size, 120);
VEXFS_CHECK_OFF(vexfs_super_block, s_uuid, 168);
VEXFS_CHECK_OFF(vexfs_super_block, s_label, 184);
VEXFS_CHECK_OFF(vexfs_super_block, s_hash_seed, 248);
VEXFS_CHECK_OFF(vexfs_super_block, s_orphan_head, 256);
VEXFS_CHECK_OFF(vexfs_super_block, s_error_count, 296);
VEXFS_CHECK_OFF(vexfs_super_block, s_last_error_op, 376);
VEXFS_CHECK_OFF(vexfs_super_block, s_checksum, 1020);

VEXFS_CHECK_SIZE(vexfs_inode, 256);
VEXFS_CHECK_OFF(vexfs_inode, i_size, 16);
VEXFS_CHECK_OFF(vexfs_inode, i_atime_nsec, 64);
VEXFS_CHECK_OFF(vexfs_inode, i_flags, 80);
VEXFS_CHECK_OFF(vexfs_inode, i_xattr_block, 88);
VEXFS_CHECK_OFF(vexfs_inode, i_vec_slot, 112);
VEXFS_CHECK_OFF(vexfs_inode, i_rdev, 128);
VEXFS_CHECK_OFF(vexfs_inode, i_data, 136);
VEXFS_CHECK_OFF(vexfs_inode, i_checksum, 252);

VEXFS_CHECK_SIZE(vexfs_extent_header, 16);
VEXFS_CHECK_SIZE(vexfs_extent, 24);
VEXFS_CHECK_SIZE(vexfs_extent_idx, 24);
VEXFS_CHECK_OFF(vexfs_extent, ee_len, 16);
VEXFS_STATIC_ASSERT(sizeof(struct vexfs_extent_header) +
		    VEXFS_EXT_ROOT_MAX * sizeof(struct vexfs_extent) <=
		    VEXFS_INODE_DATA_SIZE, "extent root does not fit i_data");

VEXFS_CHECK_SIZE(vexfs_dx_header, 32);
VEXFS_CHECK_SIZE(vexfs_dx_entry, 8);
VEXFS_CHECK_OFF(vexfs_dx_header, dx_entry_count, 16);
VEXFS_CHECK_SIZE(vexfs_dir_leaf_header, 16);
VEXFS_CHECK_SIZE(vexfs_dir_entry, 16);
VEXFS_CHECK_OFF(vexfs_dir_entry, d_name_len, 12);
VEXFS_CHECK_OFF(vexfs_dir_entry, d_file_type, 14);

VEXFS_CHECK_SIZE(vexfs_xattr_header, 16);
VEXFS_CHECK_SIZE(vexfs_xattr_entry, 8);
VEXFS_CHECK_SIZE(vexfs_xattr_store_header, 24);
VEXFS_CHECK_SIZE(vexfs_xattr_store_entry, 16);
VEXFS_CHECK_OFF(vexfs_xattr_store_entry, xse_value_block, 8);
VEXFS_CHECK_SIZE(vexfs_xattr_value_header, 16);

VEXFS_CHECK_SIZE(vexfs_collection, 256);
VEXFS_CHECK_OFF(vexfs_collection, c_metric, 20);
VEXFS_CHECK_OFF(vexfs_collection, c_count, 24);
VEXFS_CHECK_OFF(vexfs_collection, c_generation, 72);
VEXFS_CHECK_OFF(vexfs_collection, c_norm_ino, 88);
VEXFS_CHECK_OFF(vexfs_collection, c_text_generation, 96);
VEXFS_CHECK_OFF(vexfs_collection, c_bm25_max_file, 120);
VEXFS_CHECK_OFF(vexfs_collection, c_bm25_lang, 128);
VEXFS_CHECK_OFF(vexfs_collection, c_reserved2, 136);
VEXFS_CHECK_OFF(vexfs_collection, c_checksum, 252);
VEXFS_CHECK_SIZE(vexfs_slot, 16);

VEXFS_CHECK_SIZE(vexfs_hnsw_header, 144);
VEXFS_CHECK_OFF(vexfs_hnsw_header, h_entry, 20);
VEXFS_CHECK_OFF(vexfs_hnsw_header, h_generation, 56);
VEXFS_CHECK_OFF(vexfs_hnsw_header, h_ml, 104);
VEXFS_CHECK_SIZE(vexfs_hnsw_node, 16);
VEXFS_CHECK_SIZE(vexfs_hnsw_upper, 16);

VEXFS_CHECK_SIZE(vexfs_bm25_segref, 16);
VEXFS_CHECK_SIZE(vexfs_bm25_header, VEXFS_BM25_HEADER_BYTES);
VEXFS_CHECK_OFF(vexfs_bm25_header, bh_max_file, 28);
VEXFS_CHECK_OFF(vexfs_bm25_header, bh_signature, 40);
VEXFS_CHECK_OFF(vexfs_bm25_header, bh_doc_count, 104);
VEXFS_CHECK_OFF(vexfs_bm25_header, bh_segment_count, 152);
VEXFS_CHECK_OFF(vexfs_bm25_header, bh_segments, 168);
VEXFS_CHECK_SIZE(vexfs_bm25_segment, 96);
VEXFS_CHECK_OFF(vexfs_bm25_segment, bm_doc_start, 32);
VEXFS_CHECK_OFF(vexfs_bm25_segment, bm_live_tokens, 88);
VEXFS_CHECK_SIZE(vexfs_bm25_doc, 48);
VEXFS_CHECK_OFF(vexfs_bm25_doc, bd_ctime_sec, 16);
VEXFS_CHECK_OFF(vexfs_bm25_doc, bd_flags, 40);
VEXFS_CHECK_SIZE(vexfs_bm25_term, 32);
VEXFS_CHECK_OFF(vexfs_bm25_term, bt_post_off, 16);
VEXFS_CHECK_OFF(vexfs_bm25_term, bt_post_len, 28);

#endif /* _VEXFS_FS_H */
