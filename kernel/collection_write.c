// SPDX-License-Identifier: GPL-2.0
/*
 * collection_write.c - making a directory a collection root (FORMAT.md
 * 8.1, VEXFS_IOC_CREATE_COLLECTION of docs/IOCTL.md 3.5), as create() of
 * src/fs/vectors.ts does: the checks in its order, three internal inodes
 * (vector data, slot map, norms), the lowest free record, the NORMS (and
 * HNSW) ro_compat features and the superblock's collection count, the root's
 * COLL_ROOT flag, all in one journaled transaction. The HNSW graph itself is
 * the user-space engine's: the record asks for one (INDEX_HNSW, hnsw_ino 0)
 * and `vexfs mount` builds it.
 */
#include <linux/slab.h>
#include "vexfs_vec.h"

/*
 * Serialises creations: the check that no collection is above the new root
 * (vexfs_coll_of_dir, before the handle) and the one that none is below it
 * (under vexfs_vec_rwsem) must see every other creation. Lock order: the
 * directory's i_rwsem, this mutex, the handle, vexfs_vec_rwsem.
 */
static DEFINE_MUTEX(vexfs_coll_create_mutex);

/* What the engine defaults to (HNSW_DEFAULTS of src/vector/hnsw.ts). */
#define VEXFS_HNSW_DEFAULT_M	16
#define VEXFS_HNSW_DEFAULT_EFC	200

/* Whether directory @dir is an ancestor of (or is) inode @ino, by parents. */
static int vexfs_dir_above(struct super_block *sb, u64 dir, u64 ino,
			   bool *above)
{
	int depth, err;

	*above = false;
	for (depth = 0; depth < VEXFS_MAX_DEPTH && ino; depth++) {
		if (ino == dir) {
			*above = true;
			return 0;
		}
		if (ino == VEXFS_ROOT_INO)
			return 0;
		err = vexfs_raw_parent(sb, ino, &ino);
		if (err)
			return err;
	}
	if (ino && depth == VEXFS_MAX_DEPTH) {
		vexfs_corrupt(sb, ino, "parent chain longer than %d",
			      VEXFS_MAX_DEPTH);
		return -EUCLEAN;
	}
	return 0;
}

/* A new internal file of the store: S_IFREG 0600, uid/gid 0, no parent. */
static struct inode *vexfs_new_store_file(handle_t *handle,
					  struct inode *dir)
{
	struct inode *inode = vexfs_new_inode(handle, dir, S_IFREG | 0600,
					      NULL);
	struct vexfs_inode_info *vi;
	int err;

	if (IS_ERR(inode))
		return inode;
	vi = VEXFS_I(inode);
	i_uid_write(inode, 0);
	i_gid_write(inode, 0);
	vi->i_flags = VEXFS_IFL_INTERNAL;
	vi->i_parent_ino = 0;
	vi->i_parent_hash = 0;
	vexfs_set_inode_ops(inode);
	err = vexfs_mark_inode_dirty(handle, inode);
	if (err) {
		clear_nlink(inode);
		unlock_new_inode(inode);
		iput(inode);
		return ERR_PTR(err);
	}
	unlock_new_inode(inode);
	return inode;
}

/**
 * vexfs_coll_create - make directory @dir a collection root
 * @dir: the directory (its i_rwsem held by the caller)
 * @cc: the request, its fields checked here (docs/IOCTL.md 3.5)
 * @out: the new collection
 *
 * Return: 0; -EINVAL (a field out of range, @dir inside a collection or
 * above one); -ENOSPC (no inode or block); -EUCLEAN; -EIO.
 */
int vexfs_coll_create(struct inode *dir,
		      const struct vexfs_ioc_create_collection *cc,
		      struct vexfs_coll *out)
{
	struct super_block *sb = dir->i_sb;
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	struct vexfs_inode_info *di = VEXFS_I(dir);
	struct inode *files[3] = { NULL, NULL, NULL };
	struct vexfs_collection *raw = NULL;
	u32 records, id, inside, n_in_use = 0, i;
	bool hnsw = cc->index != VEXFS_INDEX_FLAT;
	u16 m = cc->hnsw_m ? cc->hnsw_m : VEXFS_HNSW_DEFAULT_M;
	u16 efc = cc->hnsw_ef_c ? cc->hnsw_ef_c : VEXFS_HNSW_DEFAULT_EFC;
	struct inode *t;
	handle_t *handle;
	int err, err2;

	/* the engine's order: dim, metric, element, nesting, index, M, ef */
	if (cc->dim < 1 || cc->dim > VEXFS_COLL_MAX_DIM ||
	    cc->metric < VEXFS_METRIC_L2 || cc->metric > VEXFS_METRIC_IP ||
	    cc->elem_type < VEXFS_ELEM_F32 || cc->elem_type > VEXFS_ELEM_I8 ||
	    cc->index > VEXFS_INDEX_HNSW || cc->reserved0)
		return -EINVAL;
	if (hnsw && (m < 2 || m > 128 || efc < m || efc > 4096))
		return -EINVAL;
	if (cc->ef_search > 65535)
		return -EINVAL;
	if (!dir->i_nlink)
		return -ENOENT;
	mutex_lock(&vexfs_coll_create_mutex);
	err = vexfs_coll_of_dir(dir, &inside);
	if (!err && inside)
		err = -EINVAL;
	if (err)
		goto unlock;
	handle = vexfs_journal_start(sb, VEXFS_COLL_CREATE_CREDITS);
	if (IS_ERR(handle)) {
		err = PTR_ERR(handle);
		goto unlock;
	}
	down_write(&vexfs_vec_rwsem);
	raw = kzalloc(sizeof(*raw), GFP_NOFS);
	t = vexfs_iget(sb, VEXFS_COLL_TABLE_INO);
	if (IS_ERR(t)) {
		err = PTR_ERR(t);
		t = NULL;
		goto out;
	}
	if (!raw) {
		err = -ENOMEM;
		goto out;
	}
	/* collections do not nest: none may be below @dir either */
	records = div_u64(i_size_read(t), sizeof(*raw));
	id = 0;
	for (i = 1; i <= records; i++) {
		struct vexfs_coll c;
		bool above;

		if (fatal_signal_pending(current)) {
			err = -EINTR;
			goto out;
		}

		err = vexfs_coll_get(sb, i, &c);
		if (err == -ENOENT) {
			if (!id)
				id = i;
			continue;
		}
		if (err)
			goto out;
		n_in_use++;
		err = vexfs_dir_above(sb, dir->i_ino, c.root_ino, &above);
		if (err)
			goto out;
		if (above) {
			err = -EINVAL;
			goto out;
		}
		cond_resched();
	}
	if (!id)
		id = records + 1;
	for (i = 0; i < 3; i++) {
		files[i] = vexfs_new_store_file(handle, dir);
		if (IS_ERR(files[i])) {
			err = PTR_ERR(files[i]);
			files[i] = NULL;
			goto out;
		}
	}
	memset(out, 0, sizeof(*out));
	out->id = id;
	out->flags = VEXFS_COLL_IN_USE | (hnsw ? VEXFS_COLL_INDEX_HNSW : 0);
	out->root_ino = dir->i_ino;
	out->dim = cc->dim;
	out->metric = cc->metric;
	out->elem_type = cc->elem_type;
	out->elem_size = cc->elem_type == VEXFS_ELEM_F32 ? 4 :
			 cc->elem_type == VEXFS_ELEM_F16 ? 2 : 1;
	out->vec_ino = files[0]->i_ino;
	out->map_ino = files[1]->i_ino;
	out->norm_ino = files[2]->i_ino;
	out->created = ktime_get_real_seconds();
	out->hnsw_m = hnsw ? m : 0;
	out->hnsw_ef_c = hnsw ? efc : 0;
	out->ef_search = cc->ef_search;

	raw->c_magic = cpu_to_le32(VEXFS_COLL_MAGIC);
	raw->c_flags = cpu_to_le32(out->flags);
	raw->c_root_ino = cpu_to_le64(out->root_ino);
	raw->c_dim = cpu_to_le32(out->dim);
	raw->c_metric = out->metric;
	raw->c_elem_type = out->elem_type;
	raw->c_vec_ino = cpu_to_le64(out->vec_ino);
	raw->c_map_ino = cpu_to_le64(out->map_ino);
	raw->c_created = cpu_to_le64(out->created);
	raw->c_hnsw_m = cpu_to_le16(out->hnsw_m);
	raw->c_hnsw_ef_construction = cpu_to_le16(out->hnsw_ef_c);
	raw->c_hnsw_ef_search = cpu_to_le32(out->ef_search);
	raw->c_norm_ino = cpu_to_le64(out->norm_ino);
	raw->c_checksum = cpu_to_le32(vexfs_crc_seeded(id, raw,
			offsetof(struct vexfs_collection, c_checksum)));
	err = vexfs_vec_iwrite(handle, t, (u64)(id - 1) * sizeof(*raw),
			       raw, sizeof(*raw));
	if (err)
		goto out;

	spin_lock(&sbi->s_lock);
	sbi->s_ro_compat |= VEXFS_FEATURE_RO_COMPAT_NORMS |
			    (hnsw ? VEXFS_FEATURE_RO_COMPAT_HNSW : 0);
	sbi->s_es.s_feature_ro_compat = cpu_to_le32(sbi->s_ro_compat);
	sbi->s_es.s_coll_count = cpu_to_le32(n_in_use + 1);
	spin_unlock(&sbi->s_lock);
	err = vexfs_journal_super(handle, sb);
	if (err)
		goto out;

	di->i_flags |= VEXFS_IFL_COLL_ROOT;
	di->i_coll_id = id;
	err = vexfs_mark_inode_dirty(handle, dir);
out:
	if (err) {
		/* the new store files go again (evict frees them) */
		for (i = 0; i < 3; i++)
			if (files[i]) {
				clear_nlink(files[i]);
				vexfs_mark_inode_dirty(handle, files[i]);
			}
	}
	up_write(&vexfs_vec_rwsem);
	err2 = vexfs_journal_stop(handle);
	for (i = 0; i < 3; i++)
		iput(files[i]);		/* after the handle: it may evict */
	iput(t);
	kfree(raw);
	if (!err)
		err = err2;
unlock:
	mutex_unlock(&vexfs_coll_create_mutex);
	return err;
}
