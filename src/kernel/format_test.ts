/**
 * Checks kernel/vexfs_fs.h, the C structures of the on-disk format, against
 * docs/FORMAT.md and the TypeScript codecs of src/format and src/hnsw:
 *
 * - a probe compiled with gcc (`-Wpadded -Werror`: no hidden padding) prints
 *   `sizeof` and `offsetof`/member size of every structure and field, which
 *   must equal the layout table below (the tables of FORMAT.md);
 * - the probe fills a superblock, an inode, an extent node, a collection
 *   record, a slot entry, an HNSW header and the BM25 index file's header
 *   slot, segment header, doc and dictionary records through the C structures; the
 *   TypeScript decoders must read back exactly the values C stored, and the
 *   TypeScript encoders must produce the same bytes from them.
 *
 * Needs gcc and <linux/types.h> (linux-libc-dev); without gcc the test is
 * skipped with a message. Runs on a little-endian host (the probe stores
 * through `__le*` types without conversion).
 */
import { assert, assertEquals } from "../test_assert.ts";
import { crc32cSeeded } from "../format/crc.ts";
import { decodeSuperblock, encodeSuperblock } from "../format/superblock.ts";
import { decodeInode, encodeInode } from "../format/inode.ts";
import { decodeExtentNode, extentBlockMax } from "../format/extent.ts";
import { decodeCollection, decodeSlotBlock, encodeCollection } from "../format/collection.ts";
import { crc32c } from "../format/crc.ts";
import { decodeHeader, encodeHeader, sealBlock } from "../hnsw/codec.ts";
import {
  decodeHeader as decodeBm25Header,
  decodeSegmentHeader,
  encodeHeader as encodeBm25Header,
  encodeSegmentHeader,
  sealBlock as bm25SealBlock,
} from "../bm25/layout.ts";

const HEADER_DIR = new URL("../../kernel", import.meta.url).pathname;

/** FORMAT.md's tables: struct → [sizeof, {field: [offset, size]}]; size 0 marks a flexible array member. */
const LAYOUT: Record<string, [number, Record<string, [number, number]>]> = {
  vexfs_super_block: [1024, {
    s_magic: [0, 4],
    s_version_major: [4, 2],
    s_version_minor: [6, 2],
    s_feature_compat: [8, 4],
    s_feature_incompat: [12, 4],
    s_feature_ro_compat: [16, 4],
    s_log_block_size: [20, 4],
    s_block_count: [24, 8],
    s_free_blocks: [32, 8],
    s_inode_count: [40, 8],
    s_free_inodes: [48, 8],
    s_block_bitmap_start: [56, 8],
    s_block_bitmap_blocks: [64, 4],
    s_inode_bitmap_blocks: [68, 4],
    s_inode_bitmap_start: [72, 8],
    s_inode_table_start: [80, 8],
    s_inode_table_blocks: [88, 8],
    s_first_data_block: [96, 8],
    s_root_ino: [104, 8],
    s_coll_table_ino: [112, 8],
    s_inode_size: [120, 2],
    s_state: [122, 2],
    s_errors: [124, 2],
    s_reserved1: [126, 2],
    s_mount_count: [128, 4],
    s_max_mount_count: [132, 4],
    s_mkfs_time: [136, 8],
    s_mount_time: [144, 8],
    s_write_time: [152, 8],
    s_check_time: [160, 8],
    s_uuid: [168, 16],
    s_label: [184, 64],
    s_hash_seed: [248, 4],
    s_first_ino: [252, 4],
    s_orphan_head: [256, 8],
    s_journal_ino: [264, 8],
    s_journal_blocks: [272, 8],
    s_coll_count: [280, 4],
    s_reserved2: [284, 4],
    s_mkfs_inode_ratio: [288, 8],
    s_error_count: [296, 4],
    s_first_error_errno: [300, 4],
    s_first_error_time: [304, 8],
    s_first_error_ino: [312, 8],
    s_first_error_op: [320, 32],
    s_last_error_errno: [352, 4],
    s_reserved3: [356, 4],
    s_last_error_time: [360, 8],
    s_last_error_ino: [368, 8],
    s_last_error_op: [376, 32],
    s_reserved4: [408, 612],
    s_checksum: [1020, 4],
  }],
  vexfs_inode: [256, {
    i_mode: [0, 2],
    i_reserved1: [2, 2],
    i_uid: [4, 4],
    i_gid: [8, 4],
    i_nlink: [12, 4],
    i_size: [16, 8],
    i_blocks: [24, 8],
    i_atime_sec: [32, 8],
    i_mtime_sec: [40, 8],
    i_ctime_sec: [48, 8],
    i_crtime_sec: [56, 8],
    i_atime_nsec: [64, 4],
    i_mtime_nsec: [68, 4],
    i_ctime_nsec: [72, 4],
    i_crtime_nsec: [76, 4],
    i_flags: [80, 4],
    i_generation: [84, 4],
    i_xattr_block: [88, 8],
    i_parent_ino: [96, 8],
    i_parent_hash: [104, 4],
    i_coll_id: [108, 4],
    i_vec_slot: [112, 8],
    i_orphan_next: [120, 8],
    i_rdev: [128, 4],
    i_reserved2: [132, 4],
    i_data: [136, 116],
    i_checksum: [252, 4],
  }],
  vexfs_extent_header: [16, {
    eh_magic: [0, 2],
    eh_entries: [2, 2],
    eh_max: [4, 2],
    eh_depth: [6, 2],
    eh_generation: [8, 4],
    eh_reserved: [12, 4],
  }],
  vexfs_extent: [24, { ee_logical: [0, 8], ee_physical: [8, 8], ee_len: [16, 4], ee_flags: [20, 4] }],
  vexfs_extent_idx: [24, { ei_logical: [0, 8], ei_child: [8, 8], ei_reserved: [16, 8] }],
  vexfs_dx_header: [32, {
    dx_magic: [0, 4],
    dx_level: [4, 2],
    dx_count: [6, 2],
    dx_limit: [8, 2],
    dx_reserved1: [10, 2],
    dx_reserved2: [12, 4],
    dx_entry_count: [16, 8],
    dx_reserved3: [24, 8],
  }],
  vexfs_dx_entry: [8, { hash: [0, 4], block: [4, 4] }],
  vexfs_dir_leaf_header: [16, { dl_magic: [0, 4], dl_count: [4, 4], dl_used: [8, 4], dl_reserved: [12, 4] }],
  vexfs_dir_entry: [16, {
    d_ino: [0, 8],
    d_hash: [8, 4],
    d_name_len: [12, 2],
    d_file_type: [14, 1],
    d_reserved: [15, 1],
    d_name: [16, 0],
  }],
  vexfs_xattr_header: [16, { xh_magic: [0, 4], xh_count: [4, 4], xh_used: [8, 4], xh_reserved: [12, 4] }],
  vexfs_xattr_entry: [8, {
    xe_namespace: [0, 1],
    xe_name_len: [1, 1],
    xe_reserved: [2, 2],
    xe_value_len: [4, 4],
    xe_name: [8, 0],
  }],
  vexfs_xattr_store_header: [24, {
    xs_magic: [0, 4],
    xs_count: [4, 4],
    xs_used: [8, 4],
    xs_reserved: [12, 4],
    xs_file_block: [16, 8],
  }],
  vexfs_xattr_store_entry: [16, {
    xse_namespace: [0, 1],
    xse_name_len: [1, 1],
    xse_flags: [2, 2],
    xse_value_len: [4, 4],
    xse_value_block: [8, 8],
    xse_name: [16, 0],
  }],
  vexfs_xattr_value_header: [16, { xv_magic: [0, 4], xv_length: [4, 4], xv_file_block: [8, 8] }],
  vexfs_collection: [256, {
    c_magic: [0, 4],
    c_flags: [4, 4],
    c_root_ino: [8, 8],
    c_dim: [16, 4],
    c_metric: [20, 1],
    c_elem_type: [21, 1],
    c_reserved1: [22, 2],
    c_count: [24, 8],
    c_vec_ino: [32, 8],
    c_map_ino: [40, 8],
    c_hnsw_ino: [48, 8],
    c_bm25_ino: [56, 8],
    c_created: [64, 8],
    c_generation: [72, 8],
    c_hnsw_m: [80, 2],
    c_hnsw_ef_construction: [82, 2],
    c_hnsw_ef_search: [84, 4],
    c_norm_ino: [88, 8],
    c_text_generation: [96, 8],
    c_bm25_k1: [104, 8],
    c_bm25_b: [112, 8],
    c_bm25_max_file: [120, 4],
    c_bm25_analyzer: [124, 1],
    c_bm25_stemmer: [125, 1],
    c_bm25_stopwords: [126, 1],
    c_reserved3: [127, 1],
    c_bm25_lang: [128, 8],
    c_reserved2: [136, 116],
    c_checksum: [252, 4],
  }],
  vexfs_slot: [16, { sl_ino: [0, 8], sl_vec_crc: [8, 4], sl_flags: [12, 4] }],
  vexfs_hnsw_header: [144, {
    h_magic: [0, 4],
    h_version: [4, 2],
    h_m: [6, 2],
    h_m0: [8, 2],
    h_ef_construction: [10, 2],
    h_dim: [12, 4],
    h_metric: [16, 1],
    h_elem_type: [17, 1],
    h_reserved: [18, 2],
    h_entry: [20, 4],
    h_max_level: [24, 4],
    h_node_count: [28, 4],
    h_node_cap: [32, 4],
    h_upper_count: [36, 4],
    h_upper_cap: [40, 4],
    h_slot_cap: [44, 4],
    h_free_node: [48, 4],
    h_free_upper: [52, 4],
    h_generation: [56, 8],
    h_count: [64, 8],
    h_node_start: [72, 8],
    h_upper_start: [80, 8],
    h_slot_start: [88, 8],
    h_seed: [96, 8],
    h_ml: [104, 8],
    h_deleted: [112, 8],
    h_reclaimed: [120, 8],
    h_build_ns: [128, 8],
    h_inserts: [136, 8],
  }],
  vexfs_hnsw_node: [16, {
    n_slot: [0, 4],
    n_level: [4, 1],
    n_flags: [5, 1],
    n_count: [6, 2],
    n_upper: [8, 4],
    n_vec_crc: [12, 4],
    n_neighbors: [16, 0],
  }],
  vexfs_hnsw_upper: [16, {
    u_node: [0, 4],
    u_level: [4, 1],
    u_count: [5, 1],
    u_reserved1: [6, 2],
    u_next: [8, 4],
    u_reserved2: [12, 4],
    u_neighbors: [16, 0],
  }],
  vexfs_bm25_segref: [16, { bs_first_block: [0, 8], bs_block_count: [8, 4], bs_id: [12, 4] }],
  vexfs_bm25_header: [296, {
    bh_magic: [0, 4],
    bh_version: [4, 2],
    bh_slot: [6, 2],
    bh_seq: [8, 8],
    bh_text_generation: [16, 8],
    bh_analyzer: [24, 1],
    bh_stemmer: [25, 1],
    bh_stopwords: [26, 1],
    bh_reserved: [27, 1],
    bh_max_file: [28, 4],
    bh_lang: [32, 8],
    bh_signature: [40, 64],
    bh_doc_count: [104, 8],
    bh_total_tokens: [112, 8],
    bh_skipped_binary: [120, 8],
    bh_skipped_large: [128, 8],
    bh_long_tokens: [136, 8],
    bh_empty_docs: [144, 8],
    bh_segment_count: [152, 4],
    bh_next_segment_id: [156, 4],
    bh_build_ns: [160, 8],
    bh_segments: [168, 128],
  }],
  vexfs_bm25_segment: [96, {
    bm_magic: [0, 4],
    bm_id: [4, 4],
    bm_block_count: [8, 4],
    bm_seg_flags: [12, 4],
    bm_doc_count: [16, 4],
    bm_tomb_count: [20, 4],
    bm_term_count: [24, 4],
    bm_reserved: [28, 4],
    bm_doc_start: [32, 8],
    bm_tomb_start: [40, 8],
    bm_dict_start: [48, 8],
    bm_terms_start: [56, 8],
    bm_post_start: [64, 8],
    bm_terms_bytes: [72, 8],
    bm_post_bytes: [80, 8],
    bm_live_tokens: [88, 8],
  }],
  vexfs_bm25_doc: [48, {
    bd_ino: [0, 8],
    bd_igen: [8, 4],
    bd_dl: [12, 4],
    bd_ctime_sec: [16, 8],
    bd_ctime_nsec: [24, 4],
    bd_crc: [28, 4],
    bd_size: [32, 8],
    bd_flags: [40, 4],
    bd_uniq: [44, 4],
  }],
  vexfs_bm25_term: [32, {
    bt_hash: [0, 4],
    bt_len: [4, 2],
    bt_reserved: [6, 2],
    bt_term_off: [8, 8],
    bt_post_off: [16, 8],
    bt_df: [24, 4],
    bt_post_len: [28, 4],
  }],
};

/** C statements filling structures through the header; the TS side below expects exactly these values. */
const FILL = `
static void dump(const char *name, const void *p, size_t n)
{
	const unsigned char *b = p;
	printf("D %s ", name);
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
	printf("\\n");
}

static void fill(void)
{
	struct vexfs_super_block sb;
	struct vexfs_inode in;
	struct vexfs_collection c;
	struct vexfs_slot sl[3];
	static unsigned char blk[4096];
	struct vexfs_extent_header *eh;
	struct vexfs_extent *ex;
	struct vexfs_hnsw_header *h;

	memset(&sb, 0, sizeof(sb));
	sb.s_magic = VEXFS_MAGIC;
	sb.s_version_major = VEXFS_VERSION_MAJOR;
	sb.s_version_minor = VEXFS_VERSION_MINOR;
	sb.s_feature_compat = VEXFS_FEATURE_COMPAT_XATTR | VEXFS_FEATURE_COMPAT_BACKUP_SB;
	sb.s_feature_incompat = VEXFS_FEATURE_INCOMPAT_EXTENTS | VEXFS_FEATURE_INCOMPAT_JOURNAL;
	sb.s_feature_ro_compat = VEXFS_FEATURE_RO_COMPAT_PARENT_PTR | VEXFS_FEATURE_RO_COMPAT_NORMS;
	sb.s_log_block_size = 2;
	sb.s_block_count = 0x123456789aULL;
	sb.s_free_blocks = 0x23456789abULL;
	sb.s_inode_count = 0x3456789abcULL;
	sb.s_free_inodes = 0x456789abcdULL;
	sb.s_block_bitmap_start = 11;
	sb.s_block_bitmap_blocks = 12;
	sb.s_inode_bitmap_blocks = 13;
	sb.s_inode_bitmap_start = 14;
	sb.s_inode_table_start = 15;
	sb.s_inode_table_blocks = 16;
	sb.s_first_data_block = 17;
	sb.s_root_ino = VEXFS_ROOT_INO;
	sb.s_coll_table_ino = VEXFS_COLL_TABLE_INO;
	sb.s_inode_size = VEXFS_INODE_SIZE;
	sb.s_state = VEXFS_STATE_ERROR;
	sb.s_errors = VEXFS_ERRORS_RO;
	sb.s_mount_count = 21;
	sb.s_max_mount_count = 22;
	sb.s_mkfs_time = (__u64)-1000;
	sb.s_mount_time = 1700000001;
	sb.s_write_time = 1700000002;
	sb.s_check_time = 1700000003;
	for (int i = 0; i < VEXFS_UUID_LEN; i++)
		sb.s_uuid[i] = 0xa0 + i;
	memcpy(sb.s_label, "label", 5);
	sb.s_hash_seed = 0xdeadbeef;
	sb.s_first_ino = VEXFS_FIRST_INO;
	sb.s_orphan_head = 31;
	sb.s_journal_ino = VEXFS_JOURNAL_INO;
	sb.s_journal_blocks = 1024;
	sb.s_coll_count = 33;
	sb.s_mkfs_inode_ratio = 16384;
	sb.s_error_count = 41;
	sb.s_first_error_errno = 117;
	sb.s_first_error_time = 1700000004;
	sb.s_first_error_ino = 42;
	memcpy(sb.s_first_error_op, "lookup", 6);
	sb.s_last_error_errno = 5;
	sb.s_last_error_time = 1700000005;
	sb.s_last_error_ino = 43;
	memcpy(sb.s_last_error_op, "write", 5);
	dump("super", &sb, sizeof(sb));

	memset(&in, 0, sizeof(in));
	in.i_mode = 0100644;
	in.i_uid = 1000;
	in.i_gid = 1001;
	in.i_nlink = 3;
	in.i_size = 0x10000000001ULL;
	in.i_blocks = 77;
	in.i_atime_sec = (__u64)-5;
	in.i_mtime_sec = 1700000010;
	in.i_ctime_sec = 1700000011;
	in.i_crtime_sec = 1700000012;
	in.i_atime_nsec = 999999999;
	in.i_mtime_nsec = 1;
	in.i_ctime_nsec = 2;
	in.i_crtime_nsec = 3;
	in.i_flags = VEXFS_IFL_HAS_VECTOR | VEXFS_IFL_XATTR_IN_STORE;
	in.i_generation = 0xcafebabe;
	in.i_xattr_block = 51;
	in.i_parent_ino = 52;
	in.i_parent_hash = 0x87654321;
	in.i_coll_id = 7;
	in.i_vec_slot = 53;
	in.i_orphan_next = 54;
	in.i_rdev = (8u << 20) | 1;
	for (int i = 0; i < VEXFS_INODE_DATA_SIZE; i++)
		in.i_data[i] = i + 1;
	dump("inode", &in, sizeof(in));

	memset(blk, 0, sizeof(blk));
	eh = (struct vexfs_extent_header *)blk;
	eh->eh_magic = VEXFS_EXT_MAGIC;
	eh->eh_entries = 2;
	eh->eh_max = VEXFS_EXT_BLOCK_MAX(4096);
	eh->eh_depth = 0;
	ex = (struct vexfs_extent *)(eh + 1);
	ex[0].ee_logical = 0;
	ex[0].ee_physical = 0x100000000ULL;
	ex[0].ee_len = 8;
	ex[1].ee_logical = 100;
	ex[1].ee_physical = 200;
	ex[1].ee_len = VEXFS_EXT_MAX_LEN;
	ex[1].ee_flags = VEXFS_EXT_UNWRITTEN;
	dump("extent", blk, sizeof(blk));

	memset(&c, 0, sizeof(c));
	c.c_magic = VEXFS_COLL_MAGIC;
	c.c_flags = VEXFS_COLL_IN_USE | VEXFS_COLL_INDEX_HNSW;
	c.c_root_ino = 61;
	c.c_dim = VEXFS_COLL_MAX_DIM;
	c.c_metric = VEXFS_METRIC_COSINE;
	c.c_elem_type = VEXFS_ELEM_F16;
	c.c_count = 62;
	c.c_vec_ino = 63;
	c.c_map_ino = 64;
	c.c_hnsw_ino = 65;
	c.c_bm25_ino = 0;
	c.c_created = 1700000020;
	c.c_generation = 0x1000000002ULL;
	c.c_hnsw_m = 16;
	c.c_hnsw_ef_construction = 200;
	c.c_hnsw_ef_search = 64;
	c.c_norm_ino = 66;
	c.c_flags |= VEXFS_COLL_INDEX_BM25;
	c.c_bm25_ino = 67;
	c.c_text_generation = 0x1000000003ULL;
	{
		double k1 = 1.2, b = 0.75;

		memcpy(&c.c_bm25_k1, &k1, sizeof(k1));
		memcpy(&c.c_bm25_b, &b, sizeof(b));
	}
	c.c_bm25_max_file = 4u << 20;
	c.c_bm25_analyzer = VEXFS_BM25_ANALYZER_WORD_V1;
	c.c_bm25_stemmer = 1;
	c.c_bm25_stopwords = 1;
	memcpy(c.c_bm25_lang, "en", 2);
	dump("coll", &c, sizeof(c));

	memset(sl, 0, sizeof(sl));
	for (int i = 0; i < 3; i++) {
		sl[i].sl_ino = 1000 + i;
		sl[i].sl_vec_crc = 0x11111111u * (i + 1);
		sl[i].sl_flags = VEXFS_SLOT_IN_USE;
	}
	dump("slots", sl, sizeof(sl));

	memset(blk, 0, sizeof(blk));
	h = (struct vexfs_hnsw_header *)blk;
	{
		double ml = 0.36067376022224085;

		h->h_magic = VEXFS_HNSW_MAGIC;
		h->h_version = VEXFS_HNSW_VERSION;
		h->h_m = 16;
		h->h_m0 = 32;
		h->h_ef_construction = 200;
		h->h_dim = 128;
		h->h_metric = VEXFS_METRIC_L2;
		h->h_elem_type = VEXFS_ELEM_F32;
		h->h_entry = 3;
		h->h_max_level = 2;
		h->h_node_count = 10;
		h->h_node_cap = 30;
		h->h_upper_count = 4;
		h->h_upper_cap = 20;
		h->h_slot_cap = 1000;
		h->h_free_node = VEXFS_HNSW_NONE;
		h->h_free_upper = 2;
		h->h_generation = 71;
		h->h_count = 9;
		h->h_node_start = 1;
		h->h_upper_start = 3;
		h->h_slot_start = 4;
		h->h_seed = 0x5eed;
		memcpy(&h->h_ml, &ml, sizeof(ml));
		h->h_deleted = 1;
		h->h_reclaimed = 2;
		h->h_build_ns = 123456789;
		h->h_inserts = 5;
	}
	dump("hnsw", blk, sizeof(blk));

	memset(blk, 0, sizeof(blk));
	{
		struct vexfs_bm25_header *bh = (struct vexfs_bm25_header *)blk;

		bh->bh_magic = VEXFS_BM25_MAGIC;
		bh->bh_version = VEXFS_BM25_VERSION;
		bh->bh_slot = 1;
		bh->bh_seq = 0x100000005ULL;
		bh->bh_text_generation = 0x1000000003ULL;
		bh->bh_analyzer = VEXFS_BM25_ANALYZER_WORD_V1;
		bh->bh_stemmer = 1;
		bh->bh_stopwords = 1;
		bh->bh_max_file = 4u << 20;
		memcpy(bh->bh_lang, "en", 2);
		memcpy(bh->bh_signature, "word-v1 icu71.1 u14.0", 21);
		bh->bh_doc_count = 778;
		bh->bh_total_tokens = 657426;
		bh->bh_skipped_binary = 3;
		bh->bh_skipped_large = 4;
		bh->bh_long_tokens = 5;
		bh->bh_empty_docs = 6;
		bh->bh_segment_count = 2;
		bh->bh_next_segment_id = 9;
		bh->bh_build_ns = 0x123456789aULL;
		bh->bh_segments[0].bs_first_block = 2;
		bh->bh_segments[0].bs_block_count = 100;
		bh->bh_segments[0].bs_id = 7;
		bh->bh_segments[1].bs_first_block = 0x100000000ULL;
		bh->bh_segments[1].bs_block_count = 6;
		bh->bh_segments[1].bs_id = 8;
	}
	dump("bm25", blk, sizeof(blk));

	memset(blk, 0, sizeof(blk));
	{
		struct vexfs_bm25_segment *sg = (struct vexfs_bm25_segment *)blk;

		sg->bm_magic = VEXFS_BM25_SEGMENT_MAGIC;
		sg->bm_id = 8;
		sg->bm_block_count = 6;
		sg->bm_seg_flags = VEXFS_BM25_SEGMENT_BASE;
		sg->bm_doc_count = 3;
		sg->bm_tomb_count = 1;
		sg->bm_term_count = 5;
		sg->bm_doc_start = 1;
		sg->bm_tomb_start = 2;
		sg->bm_dict_start = 3;
		sg->bm_terms_start = 4;
		sg->bm_post_start = 5;
		sg->bm_terms_bytes = 20;
		sg->bm_post_bytes = 30;
		sg->bm_live_tokens = 17;
	}
	dump("segment", blk, sizeof(blk));
	{
		struct vexfs_bm25_doc d = {
			.bd_ino = 0x100000001ULL, .bd_igen = 0xcafebabe, .bd_dl = 12,
			.bd_ctime_sec = (__u64)-7, .bd_ctime_nsec = 999999999,
			.bd_crc = 0x11223344, .bd_size = 0x200000000ULL,
			.bd_flags = VEXFS_BM25_DOC_LARGE, .bd_uniq = 9,
		};
		struct vexfs_bm25_term t = {
			.bt_hash = 0x89abcdef, .bt_len = VEXFS_BM25_MAX_TERM,
			.bt_term_off = 0x100000002ULL, .bt_post_off = 0x100000003ULL,
			.bt_df = 0x12345, .bt_post_len = 0x23456,
		};

		dump("doc", &d, sizeof(d));
		dump("term", &t, sizeof(t));
	}
}
`;

function probeSource(): string {
  const lines = [
    "#include <stdio.h>",
    "#include <string.h>",
    "#include <linux/types.h>",
    '#include "vexfs_fs.h"',
    FILL,
    "int main(void)\n{",
  ];
  for (const [s, [, fields]] of Object.entries(LAYOUT)) {
    lines.push(`\tprintf("S ${s} %zu\\n", sizeof(struct ${s}));`);
    for (const [f, [, size]] of Object.entries(fields)) {
      const sz = size === 0 ? "(size_t)0" : `sizeof(((struct ${s} *)0)->${f})`;
      lines.push(`\tprintf("F ${s}.${f} %zu %zu\\n", offsetof(struct ${s}, ${f}), ${sz});`);
    }
  }
  lines.push("\tfill();", "\treturn 0;", "}");
  return lines.join("\n") + "\n";
}

async function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function hasGcc(): Promise<boolean> {
  try {
    return (await run("gcc", ["--version"])).code === 0;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

const GCC = await hasGcc();
if (!GCC) console.warn("kernel/format_test: gcc not found, vexfs_fs.h checks skipped (apt-get install -y gcc)");

function unhex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Compiles and runs the probe; returns its lines. */
async function probe(): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "vexfs-fs-h-" });
  try {
    await Deno.writeTextFile(`${dir}/probe.c`, probeSource());
    const cc = await run("gcc", [
      "-std=c11",
      "-Wall",
      "-Wextra",
      "-Wpadded",
      "-Werror",
      "-I",
      HEADER_DIR,
      `${dir}/probe.c`,
      "-o",
      `${dir}/probe`,
    ]);
    assertEquals(cc.code, 0, `gcc failed:\n${cc.stderr}`);
    const r = await run(`${dir}/probe`, []);
    assertEquals(r.code, 0, r.stderr);
    return r.stdout.trim().split("\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "kernel/vexfs_fs.h: sizes and offsets of every structure and field equal FORMAT.md's tables",
  ignore: !GCC,
  async fn() {
    const lines = await probe();
    let structs = 0, fields = 0;
    for (const line of lines) {
      const [kind, name, a, b] = line.split(" ");
      if (kind === "S") {
        assertEquals(Number(a), LAYOUT[name][0], `sizeof(struct ${name})`);
        structs++;
      } else if (kind === "F") {
        const [s, f] = name.split(".");
        assertEquals([Number(a), Number(b)], LAYOUT[s][1][f], `offsetof/size of ${name}`);
        fields++;
      }
    }
    assertEquals(structs, Object.keys(LAYOUT).length);
    // Every structure's fields tile it exactly: no gaps, no overlaps (FORMAT.md reserves every byte).
    for (const [s, [size, fs]] of Object.entries(LAYOUT)) {
      let end = 0;
      for (const [f, [off, n]] of Object.entries(fs).sort((x, y) => x[1][0] - y[1][0])) {
        assertEquals(off, end, `${s}.${f} starts at ${off}, previous field ends at ${end}`);
        end = off + n;
      }
      assertEquals(end, size, `${s}: fields end at ${end}, sizeof is ${size}`);
    }
    assert(fields > 200, `only ${fields} fields checked`);
  },
});

Deno.test({
  name: "kernel/vexfs_fs.h: structures filled in C decode with the TypeScript codecs, which re-encode the same bytes",
  ignore: !GCC,
  async fn() {
    const dumps = new Map<string, Uint8Array>();
    for (const line of await probe()) {
      const [kind, name, hex] = line.split(" ");
      if (kind === "D") dumps.set(name, unhex(hex));
    }

    const sbBytes = dumps.get("super")!;
    new DataView(sbBytes.buffer).setUint32(1020, crc32c(sbBytes.subarray(0, 1020)), true);
    const sb = decodeSuperblock(sbBytes);
    assertEquals(
      [sb.magic, sb.versionMajor, sb.versionMinor, sb.featureCompat, sb.featureIncompat, sb.featureRoCompat],
      [0x53465856, 1, 0, 0x3, 0x9, 0x9],
    );
    assertEquals(
      [sb.logBlockSize, sb.blockCount, sb.freeBlocks, sb.inodeCount, sb.freeInodes],
      [2, 0x123456789a, 0x23456789ab, 0x3456789abc, 0x456789abcd],
    );
    assertEquals(
      [
        sb.blockBitmapStart,
        sb.blockBitmapBlocks,
        sb.inodeBitmapBlocks,
        sb.inodeBitmapStart,
        sb.inodeTableStart,
        sb.inodeTableBlocks,
        sb.firstDataBlock,
        sb.rootIno,
        sb.collTableIno,
        sb.inodeSize,
        sb.state,
        sb.errors,
      ],
      [11, 12, 13, 14, 15, 16, 17, 2, 3, 256, 3, 2],
    );
    assertEquals(
      [sb.mountCount, sb.maxMountCount, sb.mkfsTime, sb.mountTime, sb.writeTime, sb.checkTime],
      [21, 22, -1000, 1700000001, 1700000002, 1700000003],
    );
    assertEquals(Array.from(sb.uuid), Array.from({ length: 16 }, (_, i) => 0xa0 + i));
    assertEquals(
      [sb.label, sb.hashSeed, sb.firstIno, sb.orphanHead, sb.journalIno, sb.journalBlocks, sb.collCount, sb.inodeRatio],
      ["label", 0xdeadbeef, 16, 31, 4, 1024, 33, 16384],
    );
    assertEquals(
      [sb.errorCount, sb.firstErrorErrno, sb.firstErrorTime, sb.firstErrorIno, sb.firstErrorOp],
      [41, 117, 1700000004, 42, "lookup"],
    );
    assertEquals(
      [sb.lastErrorErrno, sb.lastErrorTime, sb.lastErrorIno, sb.lastErrorOp],
      [5, 1700000005, 43, "write"],
    );
    assertEquals(encodeSuperblock(sb), sbBytes);

    const inBytes = dumps.get("inode")!;
    const ino = 1234;
    new DataView(inBytes.buffer).setUint32(252, crc32cSeeded(ino, inBytes.subarray(0, 252)), true);
    const n = decodeInode(ino, inBytes);
    assertEquals([n.mode, n.uid, n.gid, n.nlink, n.size, n.blocks], [0o100644, 1000, 1001, 3, 0x10000000001, 77]);
    assertEquals(
      [n.atime, n.mtime, n.ctime, n.crtime],
      [{ sec: -5, nsec: 999999999 }, { sec: 1700000010, nsec: 1 }, { sec: 1700000011, nsec: 2 }, {
        sec: 1700000012,
        nsec: 3,
      }],
    );
    assertEquals(
      [n.flags, n.generation, n.xattrBlock, n.parentIno, n.parentHash, n.collId, n.vecSlot, n.orphanNext, n.rdev],
      [0x21, 0xcafebabe, 51, 52, 0x87654321, 7, 53, 54, (8 << 20) | 1],
    );
    assertEquals(Array.from(n.data), Array.from({ length: 116 }, (_, i) => i + 1));
    assertEquals(encodeInode(ino, n), inBytes);

    const node = decodeExtentNode(dumps.get("extent")!, ino);
    assertEquals(node, {
      depth: 0,
      max: extentBlockMax(4096),
      extents: [
        { logical: 0, physical: 0x100000000, length: 8, flags: 0 },
        { logical: 100, physical: 200, length: 0x7fffffff, flags: 1 },
      ],
    });

    const cBytes = dumps.get("coll")!;
    const id = 7;
    new DataView(cBytes.buffer).setUint32(252, crc32cSeeded(id, cBytes.subarray(0, 252)), true);
    const c = decodeCollection(id, cBytes)!;
    assertEquals(c, {
      id,
      flags: 7,
      rootIno: 61,
      dim: 4096,
      metric: 2,
      elemType: 2,
      count: 62,
      vecIno: 63,
      mapIno: 64,
      hnswIno: 65,
      bm25Ino: 67,
      created: 1700000020,
      generation: 0x1000000002,
      hnswM: 16,
      hnswEfConstruction: 200,
      hnswEfSearch: 64,
      normIno: 66,
      textGeneration: 0x1000000003,
      bm25K1: 1.2,
      bm25B: 0.75,
      bm25MaxFile: 4 << 20,
      bm25Analyzer: 1,
      bm25Stemmer: 1,
      bm25Stopwords: 1,
      bm25Lang: "en",
    });
    assertEquals(encodeCollection(c), cBytes);

    const slotBlock = new Uint8Array(4096);
    slotBlock.set(dumps.get("slots")!);
    new DataView(slotBlock.buffer).setUint32(4092, crc32cSeeded(id, slotBlock.subarray(0, 4092)), true);
    assertEquals(
      decodeSlotBlock(slotBlock, id, 3).map((e) => [e.ino, e.vecCrc]),
      [[1000, 0x11111111], [1001, 0x22222222], [1002, 0x33333333]],
    );

    const hBlock = dumps.get("hnsw")!;
    sealBlock(hBlock, id);
    const h = decodeHeader(hBlock, id);
    assertEquals(h, {
      m: 16,
      m0: 32,
      efConstruction: 200,
      dim: 128,
      metric: 1,
      elem: 1,
      entry: 3,
      maxLevel: 2,
      nodeCount: 10,
      nodeCap: 30,
      upperCount: 4,
      upperCap: 20,
      slotCap: 1000,
      freeNode: 0xffffffff,
      freeUpper: 2,
      generation: 71,
      count: 9,
      nodeStart: 1,
      upperStart: 3,
      slotStart: 4,
      seed: 0x5eed,
      ml: 0.36067376022224085,
      deleted: 1,
      reclaimed: 2,
      buildNs: 123456789,
      inserts: 5,
    });
    assertEquals(encodeHeader(h, id, 4096), hBlock);

    // the BM25 index file (FORMAT.md §8.7) through src/bm25/layout.ts
    const bBlock = dumps.get("bm25")!;
    bm25SealBlock(bBlock, id, -1);
    const bh = decodeBm25Header(bBlock, 1, id)!;
    assertEquals(bh, {
      seq: 0x100000005,
      textGeneration: 0x1000000003,
      analyzer: 1,
      stemmer: 1,
      stopwords: 1,
      maxFile: 4 << 20,
      lang: "en",
      signature: "word-v1 icu71.1 u14.0",
      docCount: 778,
      totalTokens: 657426,
      skippedBinary: 3,
      skippedLarge: 4,
      longTokens: 5,
      emptyDocs: 6,
      nextSegmentId: 9,
      buildNs: 0x123456789a,
      segments: [{ firstBlock: 2, blockCount: 100, id: 7 }, { firstBlock: 0x100000000, blockCount: 6, id: 8 }],
    });
    assertEquals(encodeBm25Header(bh, 1, 4096, id), bBlock);
    const sgBlock = dumps.get("segment")!;
    const sg = decodeSegmentHeader(sgBlock, "BM25 segment 8");
    assertEquals(sg, {
      id: 8,
      blockCount: 6,
      flags: 1,
      docCount: 3,
      tombCount: 1,
      termCount: 5,
      docStart: 1,
      tombStart: 2,
      dictStart: 3,
      termsStart: 4,
      postStart: 5,
      termsBytes: 20,
      postBytes: 30,
      liveTokens: 17,
    });
    const sgOut = new Uint8Array(4096);
    encodeSegmentHeader(sg, sgOut);
    assertEquals(sgOut, sgBlock);
    // doc and dictionary records at FORMAT.md's offsets (their codec is inside src/bm25/segment*.ts)
    const dv = (name: string) => new DataView(dumps.get(name)!.buffer);
    const d = dv("doc");
    assertEquals(
      [
        d.getBigUint64(0, true),
        d.getUint32(8, true),
        d.getUint32(12, true),
        d.getBigInt64(16, true),
        d.getUint32(24, true),
        d.getUint32(28, true),
        d.getBigUint64(32, true),
        d.getUint32(40, true),
        d.getUint32(44, true),
      ],
      [0x100000001n, 0xcafebabe, 12, -7n, 999999999, 0x11223344, 0x200000000n, 2, 9],
    );
    const t = dv("term");
    assertEquals(
      [
        t.getUint32(0, true),
        t.getUint16(4, true),
        t.getUint16(6, true),
        t.getBigUint64(8, true),
        t.getBigUint64(16, true),
        t.getUint32(24, true),
        t.getUint32(28, true),
      ],
      [0x89abcdef, 64, 0, 0x100000002n, 0x100000003n, 0x12345, 0x23456],
    );
  },
});
