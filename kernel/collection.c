// SPDX-License-Identifier: GPL-2.0
/*
 * collection.c - the collection table (FORMAT.md section 8.1): reading and
 * checking collection records, finding the collection a directory or file
 * is in, listing them for VEXFS_IOC_LIST_COLLECTIONS. Record i of the
 * internal file inode 3 is collection i + 1; a record is used only when
 * its magic, flags, checksum (seeded with the id) and fields are sound.
 * Mirrors the collection table (src/fs/collection_table.ts) and collectionOfDir of src/fs/vectors.ts.
 */
#include "vexfs_vec.h"

#define VEXFS_COLL_REC_SIZE	sizeof(struct vexfs_collection)
/* Largest file the format allows the engine to write (FORMAT.md 5.2). */
#define VEXFS_MAX_FILE_BYTES	(1ULL << 44)

/* Whether @ino may name an ordinary (non-reserved) inode. */
static bool vexfs_ino_ok(struct super_block *sb, u64 ino)
{
	return ino >= VEXFS_FIRST_INO && ino <= VEXFS_SB(sb)->s_inode_count;
}

/*
 * The collection table inode (3), checked: an internal regular file of
 * whole 256-byte records. Return: the inode (iput it) or an ERR_PTR.
 */
static struct inode *vexfs_coll_table(struct super_block *sb, u32 *records)
{
	struct inode *t = vexfs_iget(sb, VEXFS_COLL_TABLE_INO);
	u64 n;

	if (IS_ERR(t))
		return t;
	n = i_size_read(t) / VEXFS_COLL_REC_SIZE;
	if (!S_ISREG(t->i_mode) ||
	    !(VEXFS_I(t)->i_flags & VEXFS_IFL_INTERNAL) ||
	    i_size_read(t) % VEXFS_COLL_REC_SIZE || n > U32_MAX) {
		vexfs_corrupt(sb, VEXFS_COLL_TABLE_INO,
			      "collection table is not an internal file of 256-byte records (size %lld)",
			      i_size_read(t));
		iput(t);
		return ERR_PTR(-EUCLEAN);
	}
	*records = n;
	return t;
}

/*
 * Decodes and checks record @id (FORMAT.md 8.1). Return: 0, -ENOENT for a
 * free record, -EUCLEAN for a damaged one.
 */
static int vexfs_coll_decode(struct super_block *sb, u32 id,
			     const struct vexfs_collection *raw,
			     struct vexfs_coll *c)
{
	u32 flags = le32_to_cpu(raw->c_flags);
	u32 csum;

	if (le32_to_cpu(raw->c_magic) == 0)
		return -ENOENT;		/* a free record (FORMAT.md 8.1) */
	csum = vexfs_crc_seeded(id, raw, offsetof(struct vexfs_collection,
						  c_checksum));
	if (le32_to_cpu(raw->c_magic) != VEXFS_COLL_MAGIC ||
	    csum != le32_to_cpu(raw->c_checksum)) {
		vexfs_corrupt(sb, VEXFS_COLL_TABLE_INO,
			      "collection %u: bad magic 0x%08x or checksum (stored 0x%08x, computed 0x%08x)",
			      id, le32_to_cpu(raw->c_magic),
			      le32_to_cpu(raw->c_checksum), csum);
		return -EUCLEAN;
	}
	if (!(flags & VEXFS_COLL_IN_USE))
		return -ENOENT;
	memset(c, 0, sizeof(*c));
	c->id = id;
	c->flags = flags;
	c->root_ino = le64_to_cpu(raw->c_root_ino);
	c->dim = le32_to_cpu(raw->c_dim);
	c->metric = raw->c_metric;
	c->elem_type = raw->c_elem_type;
	c->elem_size = vexfs_elem_size(c->elem_type);
	c->count = le64_to_cpu(raw->c_count);
	c->vec_ino = le64_to_cpu(raw->c_vec_ino);
	c->map_ino = le64_to_cpu(raw->c_map_ino);
	c->hnsw_ino = le64_to_cpu(raw->c_hnsw_ino);
	c->norm_ino = le64_to_cpu(raw->c_norm_ino);
	c->created = (s64)le64_to_cpu(raw->c_created);
	c->generation = le64_to_cpu(raw->c_generation);
	c->hnsw_m = le16_to_cpu(raw->c_hnsw_m);
	c->hnsw_ef_c = le16_to_cpu(raw->c_hnsw_ef_construction);
	c->ef_search = le32_to_cpu(raw->c_hnsw_ef_search);
	c->bm25_ino = le64_to_cpu(raw->c_bm25_ino);
	c->text_generation = le64_to_cpu(raw->c_text_generation);
	c->bm25_k1 = le64_to_cpu(raw->c_bm25_k1);
	c->bm25_b = le64_to_cpu(raw->c_bm25_b);
	c->bm25_max_file = le32_to_cpu(raw->c_bm25_max_file);
	c->bm25_analyzer = raw->c_bm25_analyzer;
	c->bm25_stemmer = raw->c_bm25_stemmer;
	c->bm25_stopwords = raw->c_bm25_stopwords;
	memcpy(c->bm25_lang, raw->c_bm25_lang, sizeof(c->bm25_lang));
	if ((flags & ~(VEXFS_COLL_IN_USE | VEXFS_COLL_INDEX_HNSW |
		       VEXFS_COLL_INDEX_BM25)) ||
	    (c->bm25_ino && !vexfs_ino_ok(sb, c->bm25_ino)) ||
	    c->dim < 1 || c->dim > VEXFS_COLL_MAX_DIM ||
	    c->metric < VEXFS_METRIC_L2 || c->metric > VEXFS_METRIC_IP ||
	    !c->elem_size ||
	    (c->root_ino != VEXFS_ROOT_INO && !vexfs_ino_ok(sb, c->root_ino)) ||
	    !vexfs_ino_ok(sb, c->vec_ino) || !vexfs_ino_ok(sb, c->map_ino) ||
	    (c->norm_ino && !vexfs_ino_ok(sb, c->norm_ino)) ||
	    c->count > VEXFS_SB(sb)->s_inode_count ||
	    c->count > div_u64(VEXFS_MAX_FILE_BYTES, c->dim * c->elem_size)) {
		vexfs_corrupt(sb, VEXFS_COLL_TABLE_INO,
			      "collection %u has impossible fields (flags 0x%x, dim %u, metric %u, element %u, %llu vectors)",
			      id, flags, c->dim, c->metric, c->elem_type,
			      c->count);
		return -EUCLEAN;
	}
	return 0;
}

/* Reads record @id (1..records) of table @t into @raw. */
static int vexfs_coll_read_raw(struct inode *t, u32 id,
			       struct vexfs_collection *raw)
{
	return vexfs_internal_read(t, (u64)(id - 1) * VEXFS_COLL_REC_SIZE, raw,
				   VEXFS_COLL_REC_SIZE);
}

/**
 * vexfs_coll_get - read and check collection @id
 * @sb: the filesystem
 * @id: collection id, >= 1
 * @c: filled with the decoded record
 *
 * FORMAT.md 8.1. Return: 0; -ENOENT when there is no such collection (id
 * past the table or a free record); -EUCLEAN for a damaged table or
 * record; -EIO.
 */
int vexfs_coll_get(struct super_block *sb, u32 id, struct vexfs_coll *c)
{
	struct vexfs_collection raw;
	struct inode *t;
	u32 records;
	int err;

	t = vexfs_coll_table(sb, &records);
	if (IS_ERR(t))
		return PTR_ERR(t);
	if (id < 1 || id > records) {
		iput(t);
		return -ENOENT;
	}
	err = vexfs_coll_read_raw(t, id, &raw);
	iput(t);
	if (err)
		return err;
	return vexfs_coll_decode(sb, id, &raw, c);
}

/**
 * vexfs_coll_of_dir - the collection directory @dir is in
 * @dir: a directory
 * @id: set to the id of its nearest collection root at or above it, 0 for
 *	none
 *
 * Walks the parent pointers (FORMAT.md 5.3) up to a directory with
 * COLL_ROOT or the root, as collectionOfDir of src/fs/vectors.ts.
 * Return: 0; -EUCLEAN for a damaged or endless chain; -EIO.
 */
int vexfs_coll_of_dir(struct inode *dir, u32 *id)
{
	struct super_block *sb = dir->i_sb;
	struct inode *cur = dir;
	int depth, err = 0;

	*id = 0;
	ihold(cur);
	for (depth = 0; depth < VEXFS_MAX_DEPTH; depth++) {
		struct vexfs_inode_info *vi = VEXFS_I(cur);
		struct inode *up;
		u64 parent;

		if (!S_ISDIR(cur->i_mode)) {
			vexfs_corrupt(sb, cur->i_ino,
				      "parent pointer names a non-directory");
			err = -EUCLEAN;
			break;
		}
		if (vi->i_flags & VEXFS_IFL_COLL_ROOT) {
			*id = vi->i_coll_id;
			break;
		}
		parent = vi->i_parent_ino;
		if (cur->i_ino == VEXFS_ROOT_INO || !parent)
			break;
		up = vexfs_iget(sb, parent);
		iput(cur);
		if (IS_ERR(up))
			return PTR_ERR(up);
		cur = up;
	}
	iput(cur);
	if (!err && depth == VEXFS_MAX_DEPTH) {
		vexfs_corrupt(sb, dir->i_ino, "parent chain longer than %d",
			      VEXFS_MAX_DEPTH);
		err = -EUCLEAN;
	}
	return err;
}

/**
 * vexfs_coll_of_inode - the collection a file or directory is in
 * @inode: any inode of the filesystem
 * @id: set to the collection id, 0 for none
 *
 * docs/IOCTL.md 3.6: a directory's nearest collection root at or above
 * it; a file's vector's collection, else its parent directory's (where a
 * vector set on it would go). Return: 0 or a negative errno.
 */
int vexfs_coll_of_inode(struct inode *inode, u32 *id)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	struct inode *parent;
	int err;

	*id = 0;
	if (S_ISDIR(inode->i_mode))
		return vexfs_coll_of_dir(inode, id);
	if (vi->i_flags & VEXFS_IFL_HAS_VECTOR) {
		*id = vi->i_coll_id;
		return 0;
	}
	if (!vi->i_parent_ino)
		return 0;
	parent = vexfs_iget(inode->i_sb, vi->i_parent_ino);
	if (IS_ERR(parent))
		return PTR_ERR(parent);
	err = vexfs_coll_of_dir(parent, id);
	iput(parent);
	return err;
}

/**
 * vexfs_coll_to_ioc - a collection as the ioctls report it
 * @c: the decoded record
 * @out: struct vexfs_ioc_collection to fill (docs/IOCTL.md 3.4)
 */
void vexfs_coll_to_ioc(const struct vexfs_coll *c,
		       struct vexfs_ioc_collection *out)
{
	bool hnsw = c->flags & VEXFS_COLL_INDEX_HNSW;

	memset(out, 0, sizeof(*out));
	out->id = c->id;
	out->dim = c->dim;
	out->root_ino = c->root_ino;
	out->metric = c->metric;
	out->elem_type = c->elem_type;
	out->elem_size = c->elem_size;
	out->hnsw_m = hnsw ? c->hnsw_m : 0;
	out->hnsw_ef_c = hnsw ? c->hnsw_ef_c : 0;
	out->count = c->count;
	out->bytes = c->count * c->dim * c->elem_size;
	out->generation = c->generation;
	out->created = c->created;
	out->ef_search = c->ef_search;
	out->index = hnsw ? VEXFS_INDEX_HNSW : VEXFS_INDEX_FLAT;
}

/**
 * vexfs_coll_list - one page of VEXFS_IOC_LIST_COLLECTIONS
 * @sb: the filesystem
 * @start: first id to list (0 and 1: from the first)
 * @l: count, next_id, total and entries are filled (docs/IOCTL.md 3.9)
 *
 * Reads every record (total counts them all). Return: 0 or a negative
 * errno (-EUCLEAN for a damaged record).
 */
int vexfs_coll_list(struct super_block *sb, u32 start,
		    struct vexfs_ioc_list_collections *l)
{
	struct vexfs_collection raw;
	struct vexfs_coll c;
	struct inode *t;
	u32 records, id;
	int err = 0;

	t = vexfs_coll_table(sb, &records);
	if (IS_ERR(t))
		return PTR_ERR(t);
	l->count = 0;
	l->next_id = 0;
	l->total = 0;
	for (id = 1; id <= records; id++) {
		err = vexfs_coll_read_raw(t, id, &raw);
		if (!err)
			err = vexfs_coll_decode(sb, id, &raw, &c);
		if (err == -ENOENT) {
			err = 0;
			continue;
		}
		if (err)
			break;
		l->total++;
		if (id >= start) {
			if (l->count < VEXFS_IOC_LIST_MAX)
				vexfs_coll_to_ioc(&c, &l->entries[l->count++]);
			else if (!l->next_id)
				l->next_id = id;
		}
		if (!(id & 63))
			cond_resched();
	}
	iput(t);
	return err;
}
