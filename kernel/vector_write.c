// SPDX-License-Identifier: GPL-2.0
/*
 * vector_write.c - changing a collection's vector store (FORMAT.md 8.2 to
 * 8.5) in journaled transactions, as setVector and deleteVector of
 * src/fs/vectors.ts do: a new vector is appended as the last slot; a
 * replaced one is rewritten in its slot; a deleted one is swap-removed
 * (the last slot moves into the freed one, its owner's vec_slot follows)
 * and the store's files shrink. Every change writes the slot's CRC-32C,
 * the slot-map block's checksum, the norm (FORMAT.md 8.5), and bumps the
 * collection's generation in its record, so that a user-space HNSW graph
 * (FORMAT.md 8.6) is seen as stale and caught up, never trusted.
 *
 * Locking: the caller holds a handle (vexfs.h contract); the vector
 * store's changes are serialised by vexfs_vec_rwsem (taken for writing
 * after the handle was started, and for reading by searches and reads).
 * Every block read for writing is checked as the read path checks it.
 */
#include <linux/slab.h>
#include <linux/xattr.h>
#include "vexfs_vec.h"

/* A change of the inode's ctime (6.6 made it private). */
static void vexfs_touch_ctime(struct inode *inode)
{
	vexfs_set_inode_times(inode, vexfs_inode_atime(inode),
			      vexfs_inode_mtime(inode), current_time(inode));
}
#ifdef CONFIG_X86_64
#include <asm/fpu/api.h>
#endif

/**
 * vexfs_vec_iwrite - write bytes of an internal file in a handle
 * @handle: the handle (VEXFS_DATA_CREDITS per extent it adds, one credit
 *	    per block it writes), or NULL
 * @inode: an internal file (a store file, the collection table)
 * @pos: byte offset
 * @buf: @len bytes
 * @len: bytes
 *
 * Allocates blocks as src/fs/vectors.ts writes its store files; blocks
 * allocated here, or preallocated (unwritten) by the engine, are zeroed
 * first, so the bytes of a block past the file's size are zero, as the
 * engine leaves them. The size grows to @pos + @len if smaller.
 * Return: 0, -ENOSPC, -EUCLEAN, -EIO, -ENOMEM.
 */
int vexfs_vec_iwrite(handle_t *handle, struct inode *inode, u64 pos,
		     const void *buf, size_t len)
{
	struct super_block *sb = inode->i_sb;
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	const u8 *src = buf;
	u64 end = pos + len;
	u64 fresh_from = 0, fresh_to = 0;	/* blocks allocated here */
	int err = 0;

	while (len) {
		u64 lblk = pos >> sb->s_blocksize_bits;
		size_t off = pos & (sb->s_blocksize - 1);
		size_t n = min_t(size_t, len, sb->s_blocksize - off);
		struct buffer_head *bh;
		bool unwritten, fresh = lblk >= fresh_from && lblk < fresh_to;
		u64 pblk;
		u32 mapped, got;

		down_write(&vi->i_data_sem);
		err = vexfs_map_block(inode, lblk, &pblk, &mapped, &unwritten);
		if (!err && mapped && unwritten) {
			/* preallocated by the engine: reads as zeros */
			err = vexfs_ext_mark_written(handle, inode, lblk, 1);
			fresh = true;
		}
		if (!err && !mapped) {
			u64 last = (end - 1) >> sb->s_blocksize_bits;

			err = vexfs_ext_alloc(handle, inode, lblk,
					      min_t(u64, last - lblk + 1, 64),
					      0, &pblk, &got);
			if (!err) {
				fresh = true;
				fresh_from = lblk;
				fresh_to = lblk + got;
			}
		}
		up_write(&vi->i_data_sem);
		if (err)
			return err;
		if (fresh) {
			bh = sb_getblk(sb, pblk);
			if (!bh)
				return -ENOMEM;
			/* the contract's order: lock, create access, zero */
			lock_buffer(bh);
			err = vexfs_get_create_access(handle, bh);
			if (!err) {
				memset(bh->b_data, 0, sb->s_blocksize);
				set_buffer_uptodate(bh);
			}
			unlock_buffer(bh);
		} else {
			bh = sb_bread(sb, pblk);
			if (!bh)
				return -EIO;
			err = vexfs_get_write_access(handle, bh);
		}
		if (!err) {
			memcpy(bh->b_data + off, src, n);
			err = vexfs_dirty_metadata(handle, inode, bh);
		}
		brelse(bh);
		if (err)
			return err;
		src += n;
		pos += n;
		len -= n;
	}
	if (end > (u64)i_size_read(inode)) {
		i_size_write(inode, end);
		err = vexfs_mark_inode_dirty(handle, inode);
	}
	return err;
}

/* Shrink internal file @inode to @size bytes, freeing whole blocks past it. */
static int vexfs_ishrink(handle_t *handle, struct inode *inode, u64 size)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	u64 first = (size + inode->i_sb->s_blocksize - 1) >>
		    inode->i_sb->s_blocksize_bits;
	int err;

	if (size >= (u64)i_size_read(inode))
		return 0;
	down_write(&vi->i_data_sem);
	err = vexfs_ext_remove(handle, inode, first, U64_MAX);
	up_write(&vi->i_data_sem);
	if (err)
		return err;
	i_size_write(inode, size);
	return vexfs_mark_inode_dirty(handle, inode);
}

/*
 * Set slot @slot's map entry (FORMAT.md 8.3): @ino 0 clears it. A new map
 * block is zeroed; the block's checksum (seeded with the id) is rewritten.
 */
static int vexfs_map_put(handle_t *handle, struct vexfs_store *st, u64 slot,
			 u64 ino, u32 crc)
{
	struct super_block *sb = st->map->i_sb;
	u64 lblk = div_u64(slot, st->per_block);
	u32 idx = slot - lblk * st->per_block;
	struct vexfs_slot *e;
	struct buffer_head *bh;
	int err;

	if ((lblk + 1) << sb->s_blocksize_bits > (u64)i_size_read(st->map)) {
		u8 *zero = kzalloc(sb->s_blocksize, GFP_NOFS);

		if (!zero)
			return -ENOMEM;
		vexfs_block_csum_set(zero, sb->s_blocksize, st->c.id);
		err = vexfs_vec_iwrite(handle, st->map,
				   lblk << sb->s_blocksize_bits, zero,
				   sb->s_blocksize);
		kfree(zero);
		if (err)
			return err;
	}
	bh = vexfs_map_bread(st, lblk);
	if (IS_ERR(bh))
		return PTR_ERR(bh);
	err = vexfs_get_write_access(handle, bh);
	if (!err) {
		e = (struct vexfs_slot *)bh->b_data + idx;
		e->sl_ino = cpu_to_le64(ino);
		e->sl_vec_crc = cpu_to_le32(ino ? crc : 0);
		e->sl_flags = cpu_to_le32(ino ? VEXFS_SLOT_IN_USE : 0);
		vexfs_block_csum_set(bh->b_data, sb->s_blocksize, st->c.id);
		err = vexfs_dirty_metadata(handle, st->map, bh);
	}
	brelse(bh);
	return err;
}

/* Write the collection record's count and a bumped generation. */
static int vexfs_coll_bump(handle_t *handle, struct super_block *sb,
			   struct vexfs_coll *c)
{
	struct inode *t = vexfs_iget(sb, VEXFS_COLL_TABLE_INO);
	u64 pos = (u64)(c->id - 1) * sizeof(struct vexfs_collection);
	struct vexfs_collection *raw;
	struct buffer_head *bh;
	bool unwritten;
	u64 pblk;
	u32 len;
	int err;

	if (IS_ERR(t))
		return PTR_ERR(t);
	err = vexfs_map_block(t, pos >> sb->s_blocksize_bits, &pblk, &len,
			      &unwritten);
	if (!err && (!len || unwritten))
		err = -EUCLEAN;
	if (err)
		goto out;
	bh = sb_bread(sb, pblk);
	if (!bh) {
		err = -EIO;
		goto out;
	}
	raw = (void *)(bh->b_data + (pos & (sb->s_blocksize - 1)));
	/* the record read for writing is checked as vexfs_coll_get did */
	if (le32_to_cpu(raw->c_magic) != VEXFS_COLL_MAGIC ||
	    le32_to_cpu(raw->c_checksum) !=
	    vexfs_crc_seeded(c->id, raw,
			     offsetof(struct vexfs_collection, c_checksum))) {
		vexfs_corrupt(sb, VEXFS_COLL_TABLE_INO,
			      "collection %u: record changed under a write",
			      c->id);
		err = -EUCLEAN;
	} else {
		err = vexfs_get_write_access(handle, bh);
	}
	if (!err) {
		c->generation++;
		raw->c_count = cpu_to_le64(c->count);
		raw->c_generation = cpu_to_le64(c->generation);
		raw->c_checksum = cpu_to_le32(vexfs_crc_seeded(c->id, raw,
				offsetof(struct vexfs_collection, c_checksum)));
		err = vexfs_dirty_metadata(handle, t, bh);
	}
	brelse(bh);
out:
	iput(t);
	return err;
}

/*
 * Check slot @slot's map entry before it is written (FORMAT.md 8.3): a
 * slot in use names @ino (in use); a slot past the count (@ino 0), when
 * its block exists, is zero. Return: 0, -EUCLEAN, -EIO.
 */
static int vexfs_slot_check(struct vexfs_store *st, u64 slot, u64 ino)
{
	struct super_block *sb = st->map->i_sb;
	u64 lblk = div_u64(slot, st->per_block);
	const struct vexfs_slot *e;
	struct buffer_head *bh;
	bool ok;

	if ((lblk + 1) << sb->s_blocksize_bits > (u64)i_size_read(st->map))
		return ino ? -EUCLEAN : 0;
	bh = vexfs_map_bread(st, lblk);
	if (IS_ERR(bh))
		return PTR_ERR(bh);
	e = (const struct vexfs_slot *)bh->b_data + (slot - lblk * st->per_block);
	if (ino)
		ok = le64_to_cpu(e->sl_ino) == ino &&
		     (le32_to_cpu(e->sl_flags) & VEXFS_SLOT_IN_USE);
	else
		ok = !e->sl_ino && !e->sl_vec_crc && !e->sl_flags;
	brelse(bh);
	if (!ok) {
		vexfs_corrupt(sb, st->map->i_ino,
			      "collection %u: slot %llu does not name inode %llu",
			      st->c.id, slot, ino);
		return -EUCLEAN;
	}
	return 0;
}

/* The FORMAT.md 8.5 norm of stored bytes, as f32 bits. */
static int vexfs_norm_of(const struct vexfs_coll *c, const void *bytes,
			 u32 *norm)
{
#ifdef CONFIG_X86_64
	kernel_fpu_begin();
	vexfs_fpu_norms(c->elem_type, bytes, c->dim, 1, norm);
	kernel_fpu_end();
	return 0;
#else
	return -EOPNOTSUPP;
#endif
}

/* Write the vector, map entry and norm of @slot. */
static int vexfs_slot_write(handle_t *handle, struct vexfs_store *st,
			    u64 slot, u64 ino, const void *bytes)
{
	u32 crc = vexfs_crc(bytes, st->vec_bytes);
	__le32 le;
	u32 norm;
	int err;

	err = vexfs_vec_iwrite(handle, st->vec, slot * st->vec_bytes, bytes,
			   st->vec_bytes);
	if (!err)
		err = vexfs_map_put(handle, st, slot, ino, crc);
	if (!err && st->norm) {
		err = vexfs_norm_of(&st->c, bytes, &norm);
		le = cpu_to_le32(norm);
		if (!err)
			err = vexfs_vec_iwrite(handle, st->norm, 4 * slot, &le, 4);
	}
	return err;
}

static int vexfs_vec_target(struct inode *inode, u32 *id);

/* Undo a failed append of slot @slot: sizes back, its map entry cleared. */
static void vexfs_vec_rollback(handle_t *handle, struct vexfs_store *st,
			       u64 slot)
{
	struct super_block *sb = st->map->i_sb;
	u64 blocks = div_u64(slot + st->per_block - 1, st->per_block);

	if (((div_u64(slot, st->per_block) + 1) << sb->s_blocksize_bits) <=
	    (u64)i_size_read(st->map))
		vexfs_map_put(handle, st, slot, 0, 0);
	vexfs_ishrink(handle, st->vec, slot * st->vec_bytes);
	vexfs_ishrink(handle, st->map, blocks << sb->s_blocksize_bits);
	if (st->norm)
		vexfs_ishrink(handle, st->norm, 4 * slot);
}

/**
 * vexfs_vec_coll_for - the collection a new vector of @inode goes to
 * @inode: a regular file
 * @c: filled
 *
 * Its vector's collection, else its parent directory's. Return: 0,
 * -EINVAL (not inside a collection), -EUCLEAN, -EIO.
 */
int vexfs_vec_coll_for(struct inode *inode, struct vexfs_coll *c)
{
	u32 id;
	int err;

	if (!inode->i_nlink)
		return -EINVAL;		/* unlinked: in no directory */
	/* parent lookups may iput: never under vexfs_vec_rwsem */
	err = vexfs_vec_target(inode, &id);
	if (!err && !id)
		err = -EINVAL;
	if (err)
		return err;
	down_read(&vexfs_vec_rwsem);
	err = vexfs_coll_get(inode->i_sb, id, c);
	up_read(&vexfs_vec_rwsem);
	return err == -ENOENT ? -EUCLEAN : err;
}

/* The file's collection for a new vector: its parent directory's. */
static int vexfs_vec_target(struct inode *inode, u32 *id)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);

	if (vi->i_flags & VEXFS_IFL_HAS_VECTOR) {
		*id = vi->i_coll_id;
		return 0;
	}
	return vexfs_coll_of_inode(inode, id);
}

/*
 * Remove @inode's vector from open store @st (swap-remove, FORMAT.md 8.4);
 * @touch: set the file's ctime (not when its collection is dropped, as the
 * engine's dropCollection).
 */
static int vexfs_vec_remove(handle_t *handle, struct inode *inode,
			    struct vexfs_store *st, struct inode **moved,
			    bool touch)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	struct super_block *sb = inode->i_sb;
	u64 slot = vi->i_vec_slot, last;
	struct buffer_head *bh;
	struct inode *mover;
	void *bytes = NULL;
	int err;

	if (!st->c.count || slot >= st->c.count) {
		vexfs_corrupt(sb, inode->i_ino,
			      "vector slot %llu of collection %u, which has %llu",
			      slot, st->c.id, st->c.count);
		return -EUCLEAN;
	}
	err = vexfs_slot_check(st, slot, inode->i_ino);
	if (err)
		return err;
	last = st->c.count - 1;
	if (slot != last) {
		const struct vexfs_slot *e;
		u64 owner;
		u32 crc;

		bh = vexfs_map_bread(st, div_u64(last, st->per_block));
		if (IS_ERR(bh))
			return PTR_ERR(bh);
		e = (const struct vexfs_slot *)bh->b_data +
		    (last - div_u64(last, st->per_block) * st->per_block);
		owner = le64_to_cpu(e->sl_ino);
		crc = le32_to_cpu(e->sl_vec_crc);
		brelse(bh);
		if (!(le32_to_cpu(e->sl_flags) & VEXFS_SLOT_IN_USE) ||
		    owner < VEXFS_FIRST_INO ||
		    owner > VEXFS_SB(sb)->s_inode_count || owner == inode->i_ino) {
			vexfs_corrupt(sb, st->map->i_ino,
				      "collection %u: last slot names inode %llu",
				      st->c.id, owner);
			return -EUCLEAN;
		}
		bytes = kmalloc(st->vec_bytes, GFP_NOFS);
		if (!bytes)
			return -ENOMEM;
		err = vexfs_internal_read(st->vec, last * st->vec_bytes, bytes,
					  st->vec_bytes);
		if (!err && vexfs_crc(bytes, st->vec_bytes) != crc) {
			vexfs_corrupt(sb, owner,
				      "collection %u: the vector in slot %llu fails its checksum",
				      st->c.id, last);
			err = -EUCLEAN;
		}
		if (err)
			goto out;
		mover = vexfs_iget(sb, owner);
		if (IS_ERR(mover)) {
			err = PTR_ERR(mover);
			goto out;
		}
		/*
		 * iput by the caller after its handle stopped, even when it
		 * is refused: the last reference of an orphan evicts it,
		 * which takes a handle and vexfs_vec_rwsem of its own
		 */
		*moved = mover;
		if (!S_ISREG(mover->i_mode) ||
		    !(VEXFS_I(mover)->i_flags & VEXFS_IFL_HAS_VECTOR) ||
		    VEXFS_I(mover)->i_coll_id != st->c.id ||
		    VEXFS_I(mover)->i_vec_slot != last) {
			vexfs_corrupt(sb, owner,
				      "does not claim slot %llu of collection %u",
				      last, st->c.id);
			err = -EUCLEAN;
			goto out;
		}
		err = vexfs_slot_write(handle, st, slot, owner, bytes);
		if (!err) {
			VEXFS_I(mover)->i_vec_slot = slot;
			err = vexfs_mark_inode_dirty(handle, mover);
		}
		if (err)
			goto out;
	}
	err = vexfs_map_put(handle, st, last, 0, 0);
	if (err)
		goto out;
	st->c.count = last;
	err = vexfs_ishrink(handle, st->vec, st->c.count * st->vec_bytes);
	if (!err)
		err = vexfs_ishrink(handle, st->map,
				    div_u64(st->c.count + st->per_block - 1,
					    st->per_block) << sb->s_blocksize_bits);
	if (!err && st->norm)
		err = vexfs_ishrink(handle, st->norm, 4 * st->c.count);
	if (!err)
		err = vexfs_coll_bump(handle, sb, &st->c);
	if (!err) {
		vi->i_flags &= ~VEXFS_IFL_HAS_VECTOR;
		vi->i_coll_id = 0;
		vi->i_vec_slot = 0;
		if (inode->i_nlink && touch)
			vexfs_touch_ctime(inode);
		err = vexfs_mark_inode_dirty(handle, inode);
	}
out:
	kfree(bytes);
	return err;
}

/**
 * vexfs_vec_set_bytes - set or replace the stored vector of a regular file
 * @inode: the file (its i_rwsem held by the caller)
 * @bytes: dim * elem_size stored bytes, already checked (finite, in range)
 * @len: their length, which must be the collection's dim * elem_size
 * @flags: XATTR_CREATE (fail with EEXIST when it has one), XATTR_REPLACE
 *	   (ENODATA when it has none), or 0
 *
 * One transaction: the slot's bytes, map entry and norm, the record's
 * count and generation, the inode. Return: 0, -EINVAL (not inside a
 * collection, wrong length), -EEXIST, -ENODATA, -ENOSPC, -EUCLEAN, -EIO.
 */
int vexfs_vec_set_bytes(struct inode *inode, const void *bytes, size_t len,
			int flags)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	struct super_block *sb = inode->i_sb;
	struct vexfs_store st;
	handle_t *handle;
	bool had;
	u32 id;
	int err, err2;

	if (!S_ISREG(inode->i_mode) || (vi->i_flags & VEXFS_IFL_INTERNAL) ||
	    !inode->i_nlink)
		return -EINVAL;
	/*
	 * The collection before the handle and the lock: the parent lookup
	 * may iput. The caller's i_rwsem keeps the parent and the vector.
	 */
	err = vexfs_vec_target(inode, &id);
	if (err)
		return err;
	if (!id)
		return -EINVAL;
	had = vi->i_flags & VEXFS_IFL_HAS_VECTOR;
	if (had && (flags & XATTR_CREATE))
		return -EEXIST;
	if (!had && (flags & XATTR_REPLACE))
		return -ENODATA;
	handle = vexfs_journal_start(sb, VEXFS_VEC_SET_CREDITS);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	down_write(&vexfs_vec_rwsem);
	err = vexfs_store_open(sb, id, &st);
	if (err == -ENOENT)
		err = -EUCLEAN;
	if (err)
		goto unlock;
	if (len != st.vec_bytes) {
		err = -EINVAL;
	} else if (had) {
		if (vi->i_vec_slot >= st.c.count) {
			vexfs_corrupt(sb, inode->i_ino,
				      "vector slot %llu of collection %u, which has %llu",
				      vi->i_vec_slot, id, st.c.count);
			err = -EUCLEAN;
		} else {
			err = vexfs_slot_check(&st, vi->i_vec_slot,
					       inode->i_ino);
		}
		if (!err) {
			err = vexfs_slot_write(handle, &st, vi->i_vec_slot,
					       inode->i_ino, bytes);
			if (!err)
				err = vexfs_coll_bump(handle, sb, &st.c);
		}
	} else {
		u64 slot = st.c.count;

		err = vexfs_slot_check(&st, slot, 0);
		if (err)
			goto close;
		err = vexfs_slot_write(handle, &st, slot, inode->i_ino, bytes);
		if (err) {
			/* what was written past the store goes (as shrinkFiles) */
			vexfs_vec_rollback(handle, &st, slot);
		} else {
			st.c.count++;
			err = vexfs_coll_bump(handle, sb, &st.c);
		}
		if (!err) {
			vi->i_flags |= VEXFS_IFL_HAS_VECTOR;
			vi->i_coll_id = id;
			vi->i_vec_slot = slot;
		}
	}
	if (!err) {
		vexfs_touch_ctime(inode);
		err = vexfs_mark_inode_dirty(handle, inode);
	}
close:
	vexfs_store_close(&st);
unlock:
	up_write(&vexfs_vec_rwsem);
	err2 = vexfs_journal_stop(handle);
	return err ? err : err2;
}

/**
 * vexfs_vec_release - delete @inode's vector inside the caller's handle
 * @handle: the caller's handle, at a point where the filesystem is
 *	    consistent (it is extended by VEXFS_VEC_DEL_CREDITS, which may
 *	    commit what it did so far)
 * @inode: a regular file; its last link may be gone (nlink 0)
 * @moved: set to the owner of the slot that moved into the freed one, or
 *	   NULL; the caller iputs it AFTER stopping its handle (the last
 *	   reference of an orphan evicts it, which starts a handle of its own)
 *
 * What happens to the vector when a file loses its last link (namei.c),
 * is freed (an orphan of a crash, inode.c) or its vector is deleted:
 * deleteVector of src/fs/vectors.ts (FORMAT.md 8.4). Lock order: handle,
 * then vexfs_vec_rwsem. Return: 0 (also when it has none), -EUCLEAN,
 * -EIO, -ENOSPC, -ENOMEM.
 */
int vexfs_vec_release(handle_t *handle, struct inode *inode,
		      struct inode **moved)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	struct vexfs_store st;
	int err;

	*moved = NULL;
	if (!(vi->i_flags & VEXFS_IFL_HAS_VECTOR))
		return 0;
	err = vexfs_journal_extend(handle, VEXFS_VEC_DEL_CREDITS);
	if (err)
		return err;
	down_write(&vexfs_vec_rwsem);
	if (!(vi->i_flags & VEXFS_IFL_HAS_VECTOR)) {
		err = 0;	/* deleted meanwhile */
		goto unlock;
	}
	err = vexfs_store_open(inode->i_sb, vi->i_coll_id, &st);
	if (err == -ENOENT)
		err = -EUCLEAN;
	if (!err) {
		err = vexfs_vec_remove(handle, inode, &st, moved, true);
		vexfs_store_close(&st);
	}
unlock:
	up_write(&vexfs_vec_rwsem);
	return err;
}

/**
 * vexfs_vec_drop_last - delete the vector in the last slot of a collection
 * @handle: the caller's handle, extended by VEXFS_VEC_DEL_CREDITS just
 *	    before (vexfs_vec_rwsem is not held across that, see below)
 * @sb: the filesystem
 * @id: the collection
 * @owner: set to the inode whose vector went, or NULL; the caller iputs it
 *	   after stopping its handle (as vexfs_vec_release's @moved)
 * @left: set to the vectors the collection still has
 *
 * A step of dropping a collection (collection_drop.c): the last slot goes
 * without moving another (FORMAT.md 8.4), with its owner's HAS_VECTOR, the
 * files shrink and the record's count and generation change, so every step
 * leaves a valid, smaller collection. The owner's ctime is kept, as the
 * engine's dropCollection keeps it. Return: 0, -EUCLEAN (a damaged slot
 * map or owner, reported), -EIO, -ENOMEM.
 */
int vexfs_vec_drop_last(handle_t *handle, struct super_block *sb, u32 id,
			struct inode **owner, u64 *left)
{
	struct inode *o, *moved = NULL;
	const struct vexfs_slot *e;
	struct buffer_head *bh;
	struct vexfs_store st;
	u64 last, ino;
	u32 flags;
	int err;

	*owner = NULL;
	*left = 0;
	down_write(&vexfs_vec_rwsem);
	err = vexfs_store_open(sb, id, &st);
	if (err == -ENOENT)
		err = -EUCLEAN;
	if (err)
		goto unlock;
	if (!st.c.count)
		goto close;
	last = st.c.count - 1;
	bh = vexfs_map_bread(&st, div_u64(last, st.per_block));
	if (IS_ERR(bh)) {
		err = PTR_ERR(bh);
		goto close;
	}
	e = (const struct vexfs_slot *)bh->b_data +
	    (last - div_u64(last, st.per_block) * st.per_block);
	ino = le64_to_cpu(e->sl_ino);
	flags = le32_to_cpu(e->sl_flags);
	brelse(bh);
	if (!(flags & VEXFS_SLOT_IN_USE) || ino < VEXFS_FIRST_INO ||
	    ino > VEXFS_SB(sb)->s_inode_count) {
		vexfs_corrupt(sb, st.map->i_ino,
			      "collection %u: last slot names inode %llu", id,
			      ino);
		err = -EUCLEAN;
		goto close;
	}
	o = vexfs_iget(sb, ino);
	if (IS_ERR(o)) {
		err = PTR_ERR(o);
		goto close;
	}
	*owner = o;
	if (!S_ISREG(o->i_mode) ||
	    !(VEXFS_I(o)->i_flags & VEXFS_IFL_HAS_VECTOR) ||
	    VEXFS_I(o)->i_coll_id != id || VEXFS_I(o)->i_vec_slot != last) {
		vexfs_corrupt(sb, ino, "does not claim slot %llu of collection %u",
			      last, id);
		err = -EUCLEAN;
		goto close;
	}
	err = vexfs_vec_remove(handle, o, &st, &moved, false);
	*left = st.c.count;
close:
	vexfs_store_close(&st);
unlock:
	up_write(&vexfs_vec_rwsem);
	iput(moved);	/* NULL: the last slot moves nowhere */
	return err;
}

/**
 * vexfs_vec_delete - VEXFS_IOC_DEL_VECTOR and removexattr of
 * user.vexfs.vector: delete the file's vector in its own transaction
 * @inode: the file (its i_rwsem held by the caller)
 *
 * Return: 0, -ENODATA (no vector), -EUCLEAN, -EIO, ...
 */
int vexfs_vec_delete(struct inode *inode)
{
	struct inode *moved;
	handle_t *handle;
	int err, err2;

	if (!(VEXFS_I(inode)->i_flags & VEXFS_IFL_HAS_VECTOR))
		return -ENODATA;
	handle = vexfs_journal_start(inode->i_sb, VEXFS_VEC_DEL_CREDITS);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	err = vexfs_vec_release(handle, inode, &moved);
	err2 = vexfs_journal_stop(handle);
	iput(moved);
	return err ? err : err2;
}

/* binary16 bits of a finite f32 (bits), rounded to nearest, ties to even. */
static u16 vexfs_f32_to_f16(u32 f)
{
	u32 sign = (f >> 16) & 0x8000, a = f & 0x7fffffff, h, rem;

	if (a >= 0x477ff000)		/* >= 65520: rounds to infinity */
		return sign | 0x7c00;
	if (a < 0x38800000) {		/* below 2^-14: a subnormal half */
		u32 e = a >> 23, shift = e ? 126 - e : 125;
		u64 mant = (a & 0x7fffff) | (e ? 0x800000 : 0);
		u64 half;

		if (shift > 40)
			return sign;
		half = 1ULL << (shift - 1);
		h = mant >> shift;
		rem = mant & ((1ULL << shift) - 1);
		if (rem > half || (rem == half && (h & 1)))
			h++;
		return sign | h;
	}
	h = ((((a >> 23) - 127 + 15) << 10) | ((a & 0x7fffff) >> 13));
	rem = a & 0x1fff;
	if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
		h++;
	return sign | h;
}

/*
 * The i8 value of f32 bits when it is an integer in -128..127
 * (docs/IOCTL.md 3.2), else false.
 */
static bool vexfs_f32_to_i8(u32 f, s8 *out)
{
	u32 a = f & 0x7fffffff, mant;
	int e = (int)(a >> 23) - 127;
	s32 v;

	if (!a) {
		*out = 0;
		return true;
	}
	if (e < 0 || e > 7)
		return false;
	mant = (a & 0x7fffff) | 0x800000;
	if (mant & ((1U << (23 - e)) - 1))
		return false;
	v = mant >> (23 - e);
	if (f >> 31)
		v = -v;
	if (v < -128 || v > 127)
		return false;
	*out = v;
	return true;
}

/**
 * vexfs_vec_encode - f32 values as a collection stores them
 * @c: the collection
 * @f32: c->dim f32 bit patterns
 * @out: c->dim * c->elem_size bytes
 *
 * docs/IOCTL.md 3.2: f32 as given, f16 rounded to nearest (ties to even),
 * i8 only integers -128..127. Return: 0, or -EINVAL for NaN, infinity or
 * a value out of range for the element type.
 */
int vexfs_vec_encode(const struct vexfs_coll *c, const u32 *f32, void *out)
{
	u8 *p = out;
	u32 i;

	for (i = 0; i < c->dim; i++) {
		if (vexfs_f32_bits_nonfinite(f32[i]))
			return -EINVAL;
		switch (c->elem_type) {
		case VEXFS_ELEM_F32:
			put_unaligned_le32(f32[i], p + 4 * i);
			break;
		case VEXFS_ELEM_F16: {
			u16 h = vexfs_f32_to_f16(f32[i]);

			if ((h & 0x7c00) == 0x7c00)
				return -EINVAL;
			put_unaligned_le16(h, p + 2 * i);
			break;
		}
		default:
			if (!vexfs_f32_to_i8(f32[i], (s8 *)p + i))
				return -EINVAL;
			break;
		}
	}
	return 0;
}

/**
 * vexfs_vec_check_stored - check stored bytes given through the xattr
 * @c: the collection
 * @bytes: c->dim elements of its element type
 *
 * Return: 0, or -EINVAL for a NaN or an infinity (docs/IOCTL.md 5).
 */
int vexfs_vec_check_stored(const struct vexfs_coll *c, const void *bytes)
{
	const u8 *p = bytes;
	u32 i;

	for (i = 0; i < c->dim; i++) {
		if (c->elem_type == VEXFS_ELEM_F32 &&
		    vexfs_f32_bits_nonfinite(get_unaligned_le32(p + 4 * i)))
			return -EINVAL;
		if (c->elem_type == VEXFS_ELEM_F16 &&
		    (get_unaligned_le16(p + 2 * i) & 0x7c00) == 0x7c00)
			return -EINVAL;
	}
	return 0;
}
