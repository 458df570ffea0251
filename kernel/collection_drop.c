// SPDX-License-Identifier: GPL-2.0
/*
 * collection_drop.c - dropping a collection (FORMAT.md 8.1 to 8.6,
 * VEXFS_IOC_DROP_COLLECTION of docs/IOCTL.md 3.14, and rmdir or rename over
 * an empty collection root), as dropCollection of src/fs/vectors.ts does:
 * every file's vector goes, then the record and the store files, and the
 * root becomes an ordinary directory; the files stay as they are.
 *
 * The engine does it in one operation. A large collection does not fit one
 * jbd2 transaction, so the module does it in steps that each leave a valid
 * filesystem: first the vectors go one by one from the last slot
 * (vexfs_vec_drop_last, no slot moves), up to VEXFS_DROP_BATCH in one
 * handle, the handle restarted between them; a crash leaves a smaller
 * collection, which a repeated DROP (or rmdir) finishes. Then one handle
 * drops the empty collection: its record is zeroed, the superblock's
 * collection count goes down, the root loses COLL_ROOT, and the store
 * files (vector data, slot map, norms, HNSW graph) get nlink 0 and go on
 * the orphan list (FORMAT.md 5.4); their last iput frees them (the graph
 * may be large) and after a crash the orphan cleanup of the next mount does.
 *
 * Locking: the root's i_rwsem is held by the caller (rmdir, rename, the
 * ioctl); the handle is started before vexfs_vec_rwsem, which is never held
 * across a handle's extension (a restart waits for the commit, which waits
 * for every handle, one of which may wait for vexfs_vec_rwsem).
 */
#include <linux/slab.h>
#include "vexfs_vec.h"

/* Vectors deleted in one handle, which is extended before each. */
#define VEXFS_DROP_BATCH	64

/* Rounds of emptying and dropping before giving up (EBUSY): vectors set
 * meanwhile on files of the collection outside the locked root. */
#define VEXFS_DROP_ROUNDS	16

/**
 * vexfs_coll_empty - delete every vector of the collection rooted at @root
 * @root: a collection root directory (COLL_ROOT), its i_rwsem held
 * @deleted: incremented by the vectors deleted
 *
 * In transactions of up to VEXFS_DROP_BATCH vectors each, from the last
 * slot, each a consistent state. A fatal signal stops it between
 * transactions (-EINTR: the collection is smaller, and valid).
 * Return: 0, -EINTR, -EUCLEAN, -EIO, -ENOMEM, -ENOSPC.
 */
int vexfs_coll_empty(struct inode *root, u64 *deleted)
{
	struct super_block *sb = root->i_sb;
	u32 id = VEXFS_I(root)->i_coll_id;
	struct inode *owners[VEXFS_DROP_BATCH];
	u64 left = 1;
	int err = 0, err2, n, i;

	while (!err && left) {
		handle_t *handle;

		if (fatal_signal_pending(current))
			return -EINTR;
		handle = vexfs_journal_start(sb, VEXFS_VEC_DEL_CREDITS);
		if (IS_ERR(handle))
			return PTR_ERR(handle);
		for (n = 0; n < VEXFS_DROP_BATCH; n++) {
			owners[n] = NULL;
			if (n)
				err = vexfs_journal_extend(handle,
							   VEXFS_VEC_DEL_CREDITS);
			if (!err)
				err = vexfs_vec_drop_last(handle, sb, id,
							  &owners[n], &left);
			if (!err && owners[n])
				(*deleted)++;
			if (err || !left) {
				n++;
				break;
			}
		}
		err2 = vexfs_journal_stop(handle);
		if (!err)
			err = err2;
		for (i = 0; i < n; i++)
			iput(owners[i]);	/* after the handle */
		cond_resched();
	}
	return err;
}

/* Get store file @ino of collection @id for dropping; checked. */
static struct inode *vexfs_drop_file(struct super_block *sb, u32 id, u64 ino)
{
	struct inode *inode;

	if (ino < VEXFS_FIRST_INO || ino > VEXFS_SB(sb)->s_inode_count)
		goto bad;
	inode = vexfs_iget(sb, ino);
	if (IS_ERR(inode))
		return inode;
	if (S_ISREG(inode->i_mode) && inode->i_nlink == 1 &&
	    (VEXFS_I(inode)->i_flags &
	     (VEXFS_IFL_INTERNAL | VEXFS_IFL_ORPHAN | VEXFS_IFL_XATTR_STORE)) ==
	    VEXFS_IFL_INTERNAL)
		return inode;
	iput(inode);
bad:
	vexfs_corrupt(sb, ino, "is not a store file of collection %u", id);
	return ERR_PTR(-EUCLEAN);
}

/**
 * vexfs_coll_drop_handle - drop the empty collection rooted at @root
 * @handle: the handle (VEXFS_COLL_DROP_CREDITS), or NULL
 * @root: its root directory (COLL_ROOT), its i_rwsem held
 * @d: filled: the id and the store files, which vexfs_coll_drop_done
 *     releases (frees) after the handle stopped
 *
 * Nothing is changed when it fails. Return: 0; -EBUSY (the collection
 * has vectors: vexfs_coll_empty first); -EUCLEAN (the root names no
 * collection rooted there, or a store file is not one); -EIO.
 */
int vexfs_coll_drop_handle(handle_t *handle, struct inode *root,
			   struct vexfs_coll_drop *d)
{
	struct super_block *sb = root->i_sb;
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	struct vexfs_inode_info *ri = VEXFS_I(root);
	struct vexfs_collection *zero = NULL;
	struct inode *t = NULL;
	struct vexfs_coll c;
	u64 inos[4];
	int err, i, j;
	u32 count;

	memset(d->files, 0, sizeof(d->files));
	d->id = ri->i_coll_id;
	if (!(ri->i_flags & VEXFS_IFL_COLL_ROOT))
		return -EINVAL;
	down_write(&vexfs_vec_rwsem);
	err = vexfs_coll_get(sb, d->id, &c);
	if (!err && c.root_ino != root->i_ino)
		err = -ENOENT;
	if (err == -ENOENT) {
		vexfs_corrupt(sb, root->i_ino,
			      "root of collection %u, which is not rooted here",
			      d->id);
		err = -EUCLEAN;
	}
	if (err)
		goto unlock;
	if (c.count) {
		err = -EBUSY;
		goto unlock;
	}
	inos[0] = c.vec_ino;
	inos[1] = c.map_ino;
	inos[2] = c.norm_ino;
	inos[3] = c.hnsw_ino;
	for (i = 0; i < 4; i++) {
		if (!inos[i])
			continue;
		for (j = 0; j < i; j++)
			if (inos[j] == inos[i])
				break;
		if (j < i) {
			vexfs_corrupt(sb, inos[i],
				      "named twice by collection %u", d->id);
			err = -EUCLEAN;
			goto unlock;
		}
		d->files[i] = vexfs_drop_file(sb, d->id, inos[i]);
		if (IS_ERR(d->files[i])) {
			err = PTR_ERR(d->files[i]);
			d->files[i] = NULL;
			goto unlock;
		}
	}
	t = vexfs_iget(sb, VEXFS_COLL_TABLE_INO);
	zero = kzalloc(sizeof(*zero), GFP_NOFS);
	if (IS_ERR(t)) {
		err = PTR_ERR(t);
		t = NULL;
	} else if (!zero) {
		err = -ENOMEM;
	}
	if (err)
		goto unlock;

	/* from here on the handle changes the disk */
	for (i = 0; i < 4 && !err; i++) {
		if (!d->files[i])
			continue;
		clear_nlink(d->files[i]);
		err = vexfs_orphan_add(handle, d->files[i]);
	}
	if (!err)
		err = vexfs_vec_iwrite(handle, t,
				       (u64)(d->id - 1) * sizeof(*zero), zero,
				       sizeof(*zero));
	if (!err) {
		spin_lock(&sbi->s_lock);
		count = le32_to_cpu(sbi->s_es.s_coll_count);
		sbi->s_es.s_coll_count = cpu_to_le32(count ? count - 1 : 0);
		spin_unlock(&sbi->s_lock);
		err = vexfs_journal_super(handle, sb);
	}
	if (!err) {
		ri->i_flags &= ~VEXFS_IFL_COLL_ROOT;
		ri->i_coll_id = 0;
		err = vexfs_mark_inode_dirty(handle, root);
	}
	if (err) {
		/* the journal failed (it is aborted): free nothing now */
		vexfs_error(sb, root->i_ino, EIO, "drop",
			    "dropping collection %u failed (%d)", d->id, err);
		for (i = 0; i < 4; i++)
			if (d->files[i] && !d->files[i]->i_nlink)
				set_nlink(d->files[i], 1);
	}
unlock:
	up_write(&vexfs_vec_rwsem);
	if (err) {
		for (i = 0; i < 4; i++) {
			iput(d->files[i]);
			d->files[i] = NULL;
		}
	}
	iput(t);
	kfree(zero);
	return err;
}

/**
 * vexfs_coll_drop_done - release the store files of a dropped collection
 * @d: what vexfs_coll_drop_handle filled
 *
 * Called after the handle stopped: the last iput of each frees it (its
 * blocks in as many transactions as needed, inode.c).
 */
void vexfs_coll_drop_done(struct vexfs_coll_drop *d)
{
	int i;

	for (i = 0; i < 4; i++) {
		iput(d->files[i]);
		d->files[i] = NULL;
	}
}

/**
 * vexfs_coll_drop - VEXFS_IOC_DROP_COLLECTION on collection root @root
 * @root: the root directory (COLL_ROOT), its i_rwsem held by the caller
 * @d: filled: the id, the vectors deleted
 *
 * Empties the collection in bounded transactions, then drops it in one
 * more; vectors set meanwhile on its files outside @root's lock are
 * deleted in another round. Return: 0, -EINTR (a fatal signal: the
 * collection is smaller and valid; a repeated call finishes), -EBUSY,
 * -EUCLEAN, -EIO, -ENOMEM, -ENOSPC.
 */
int vexfs_coll_drop(struct inode *root, struct vexfs_coll_drop *d)
{
	struct super_block *sb = root->i_sb;
	handle_t *handle;
	int err = 0, err2, round;

	d->vectors = 0;
	for (round = 0; round < VEXFS_DROP_ROUNDS; round++) {
		err = vexfs_coll_empty(root, &d->vectors);
		if (err)
			return err;
		handle = vexfs_journal_start(sb, VEXFS_COLL_DROP_CREDITS);
		if (IS_ERR(handle))
			return PTR_ERR(handle);
		err = vexfs_coll_drop_handle(handle, root, d);
		err2 = vexfs_journal_stop(handle);
		vexfs_coll_drop_done(d);
		if (err != -EBUSY)
			return err ? err : err2;
	}
	return err;
}
