// SPDX-License-Identifier: GPL-2.0
/*
 * xattr_set.c - writing extended attributes (FORMAT.md 7.1 and 7.3) with
 * the errors of Linux and ext4: XATTR_CREATE on an existing name EEXIST,
 * XATTR_REPLACE or a removal of a missing one ENODATA, ENOSPC when the
 * names would pass the 65,504-byte list limit of 7.2 or the attributes no
 * longer fit in the inode's xattr block. The VFS has already refused a
 * name over 255 bytes (ERANGE) and a value over 64 KiB (E2BIG).
 *
 * A change rewrites the inode's one xattr block, kept sorted by
 * (namespace, name): the old block is read and checked through xattr.c's
 * walk, the new contents are built in memory, then written in the handle
 * (the block allocated for the first attribute, freed with the last).
 * Attributes in an xattr store (7.2, made by the FUSE mount when a file's
 * attributes outgrow one block) are read by this module but not changed:
 * such a change is ENOSPC with a dmesg line, the store left as it was.
 */
#include <linux/slab.h>
#include <linux/xattr.h>
#include "vexfs.h"

struct vexfs_xattr_build {
	struct vexfs_xattr_walk w;
	u8	*buf;		/* the new block */
	u32	size;		/* block size */
	u32	off;		/* next free byte in buf */
	u32	count;
	u32	list_bytes;	/* listxattr bytes of the names kept */
	bool	found, placed, overflow;
	u8	ns;
	const char *name;
	u32	nlen;
	const void *value;	/* NULL: removing */
	u32	vlen;
};

static const u8 vexfs_prefix_len[] = {
	[VEXFS_XATTR_NS_USER]		= XATTR_USER_PREFIX_LEN,
	[VEXFS_XATTR_NS_TRUSTED]	= XATTR_TRUSTED_PREFIX_LEN,
	[VEXFS_XATTR_NS_SECURITY]	= XATTR_SECURITY_PREFIX_LEN,
	[VEXFS_XATTR_NS_SYSTEM]		= XATTR_SYSTEM_PREFIX_LEN,
};

static void vexfs_xattr_emit(struct vexfs_xattr_build *b, u8 ns,
			     const u8 *name, u32 nlen, const void *value,
			     u32 vlen)
{
	u32 rec = ALIGN(sizeof(struct vexfs_xattr_entry) + nlen + vlen, 8);
	struct vexfs_xattr_entry *e;

	b->list_bytes += vexfs_prefix_len[ns] + nlen + 1;
	if (b->off + rec > b->size - VEXFS_CSUM_SIZE) {
		b->overflow = true;
		return;
	}
	e = (void *)(b->buf + b->off);
	e->xe_namespace = ns;
	e->xe_name_len = nlen;
	e->xe_value_len = cpu_to_le32(vlen);
	memcpy(e->xe_name, name, nlen);
	if (vlen)
		memcpy(e->xe_name + nlen, value, vlen);
	b->off += rec;
	b->count++;
}

static void vexfs_xattr_place(struct vexfs_xattr_build *b)
{
	if (b->placed)
		return;
	b->placed = true;
	if (b->value)
		vexfs_xattr_emit(b, b->ns, (const u8 *)b->name, b->nlen,
				 b->value, b->vlen);
}

static int vexfs_xattr_build_actor(struct vexfs_xattr_walk *w,
				   const struct vexfs_xattr_ent *e)
{
	struct vexfs_xattr_build *b = container_of(w, struct vexfs_xattr_build, w);
	int c = (int)e->ns - (int)b->ns;

	if (!c) {
		c = memcmp(e->name, b->name, min_t(u32, e->nlen, b->nlen));
		if (!c)
			c = (int)e->nlen - (int)b->nlen;
	}
	if (c == 0) {
		b->found = true;
		vexfs_xattr_place(b);	/* replaces the old value */
		return 0;
	}
	if (c > 0)
		vexfs_xattr_place(b);
	vexfs_xattr_emit(b, e->ns, e->name, e->nlen, e->value, e->vlen);
	return 0;
}

/**
 * vexfs_xattr_set_handle - set (@value non-NULL) or remove one attribute
 * @handle: the running handle, VEXFS_XATTR_CREDITS for this change
 * @inode: the inode (its i_rwsem held by the VFS or a new inode)
 * @ns: VEXFS_XATTR_NS_*
 * @name: the name after its prefix, 1..255 bytes, NUL-terminated
 * @value: the value (any bytes, may be empty), or NULL to remove
 * @size: value bytes, at most 65,536
 * @flags: XATTR_CREATE, XATTR_REPLACE
 *
 * Return: 0; -EEXIST, -ENODATA as above; -ENOSPC when the block is full,
 * the list limit is passed, no block is free, or the attributes are in an
 * xattr store; -EINVAL for an empty name; -EUCLEAN / -EIO from reading.
 */
int vexfs_xattr_set_handle(handle_t *handle, struct inode *inode, int ns,
			   const char *name, const void *value, size_t size,
			   int flags)
{
	struct super_block *sb = inode->i_sb;
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	struct vexfs_xattr_build b = {
		.w = { .inode = inode, .actor = vexfs_xattr_build_actor },
		.size = sb->s_blocksize, .off = sizeof(struct vexfs_xattr_header),
		.ns = ns, .name = name, .nlen = strlen(name),
		.value = value, .vlen = size,
	};
	struct vexfs_xattr_header *xh;
	struct buffer_head *bh = NULL;
	u64 pblk;
	int err;

	if (b.nlen == 0)
		return -EINVAL;
	if (b.nlen > VEXFS_NAME_LEN)
		return -ERANGE;
	if (size > VEXFS_XATTR_SIZE_MAX)
		return -E2BIG;
	if (ns < VEXFS_XATTR_NS_USER || ns > VEXFS_XATTR_NS_SYSTEM)
		return -EOPNOTSUPP;
	b.buf = kzalloc(sb->s_blocksize, GFP_NOFS);
	if (!b.buf)
		return -ENOMEM;
	down_write(&vi->i_xattr_sem);
	if (vi->i_flags & VEXFS_IFL_XATTR_IN_STORE) {
		pr_warn_ratelimited("vexfs: %s: inode %lu: its attributes are in an xattr store, which this module does not change; use the FUSE mount\n",
				    sb->s_id, inode->i_ino);
		err = -ENOSPC;
		goto out;
	}
	err = vexfs_xattr_walk(&b.w);
	if (err)
		goto out;
	vexfs_xattr_place(&b);
	if (b.found && (flags & XATTR_CREATE)) {
		err = -EEXIST;
		goto out;
	}
	if (!b.found && (!value || (flags & XATTR_REPLACE))) {
		err = -ENODATA;
		goto out;
	}
	if (b.overflow || b.list_bytes > VEXFS_XATTR_LIST_MAX -
					  VEXFS_XATTR_LIST_RESERVED) {
		err = -ENOSPC;
		goto out;
	}
	xh = (void *)b.buf;
	xh->xh_magic = cpu_to_le32(VEXFS_XATTR_MAGIC);
	xh->xh_count = cpu_to_le32(b.count);
	xh->xh_used = cpu_to_le32(b.off - sizeof(*xh));

	pblk = vi->i_xattr_block;
	if (b.count == 0) {
		/* the last attribute went: free the block */
		err = vexfs_free_blocks(handle, inode, pblk, 1,
					VEXFS_FREE_METADATA);
		if (err)
			goto out;
		vi->i_xattr_block = 0;
	} else {
		if (pblk) {
			bh = sb_bread(sb, pblk);
			if (!bh) {
				err = -EIO;
				goto out;
			}
			err = vexfs_get_write_access(handle, bh);
		} else {
			u32 got = 1;

			err = vexfs_new_blocks(handle, inode, 0, &got, &pblk);
			if (err)
				goto out;
			bh = sb_getblk(sb, pblk);
			if (!bh) {
				vexfs_free_blocks(handle, inode, pblk, 1,
						  VEXFS_FREE_METADATA);
				err = -ENOMEM;
				goto out;
			}
			lock_buffer(bh);	/* create access under the lock */
			err = vexfs_get_create_access(handle, bh);
			memset(bh->b_data, 0, sb->s_blocksize);
			set_buffer_uptodate(bh);
			unlock_buffer(bh);
			if (err) {
				vexfs_free_blocks(handle, inode, pblk, 1,
						  VEXFS_FREE_METADATA);
				goto out;
			}
			vi->i_xattr_block = pblk;
		}
		if (err)
			goto out;
		lock_buffer(bh);
		memcpy(bh->b_data, b.buf, sb->s_blocksize);
		vexfs_block_csum_set(bh->b_data, sb->s_blocksize, inode->i_ino);
		unlock_buffer(bh);
		err = vexfs_dirty_metadata(handle, inode, bh);
		if (err)
			goto out;
	}
	vexfs_touch_times(inode, false);
	err = vexfs_mark_inode_dirty(handle, inode);
out:
	up_write(&vi->i_xattr_sem);
	brelse(bh);
	kfree(b.buf);
	return err;
}

/**
 * vexfs_xattr_set - set or remove one attribute in a handle of its own
 * (the xattr handlers' set; see vexfs_xattr_set_handle)
 * @inode: the inode
 * @ns: VEXFS_XATTR_NS_*
 * @name: the name after its prefix
 * @value: the value, or NULL to remove
 * @size: value bytes
 * @flags: XATTR_CREATE / XATTR_REPLACE
 *
 * Return: 0 or a negative errno as vexfs_xattr_set_handle.
 */
int vexfs_xattr_set(struct inode *inode, int ns, const char *name,
		    const void *value, size_t size, int flags)
{
	handle_t *handle;
	int err, err2;

	handle = vexfs_journal_start(inode->i_sb, VEXFS_XATTR_CREDITS);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	err = vexfs_xattr_set_handle(handle, inode, ns, name, value, size,
				     flags);
	err2 = vexfs_journal_stop(handle);
	return err ? err : err2;
}

/**
 * vexfs_xattr_store_detach - hand an owner's xattr store to the orphan list
 * @handle: the handle that frees @inode (VEXFS_XATTR_DETACH_CREDITS), or NULL
 * @inode: the owner, being freed (nlink 0), with XATTR_IN_STORE
 * @store: set to the store inode (the caller iputs it after its handle
 *	   stopped, which frees it), or NULL when there was none
 *
 * A store may hold thousands of blocks, more than one transaction may
 * free, so it is not freed here: in @handle the store gets nlink 0 and goes
 * on the orphan list (keeping INTERNAL, so its blocks are revoked when
 * freed) and the owner forgets it (FORMAT.md 5.4 and 7.2; the engine frees
 * it with its owner, #freeStore of src/fs/xattrs.ts). Its eviction then
 * frees its blocks in as many transactions as it needs; a crash in between
 * leaves it to the orphan cleanup of the next mount, and fsck sees a
 * pending orphan. Return: 0, -EUCLEAN (the store is not the owner's: the
 * owner stays as it is), -EIO, -ENOMEM.
 */
int vexfs_xattr_store_detach(handle_t *handle, struct inode *inode,
			     struct inode **store)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	struct inode *s;
	int err;

	*store = NULL;
	if (!(vi->i_flags & VEXFS_IFL_XATTR_IN_STORE))
		return 0;
	s = vexfs_xattr_store_iget(inode);
	if (IS_ERR(s))
		return PTR_ERR(s);
	if (s->i_nlink != 1) {
		vexfs_error(inode->i_sb, s->i_ino, EUCLEAN, "xattr",
			    "xattr store of inode %lu has %u links",
			    inode->i_ino, s->i_nlink);
		iput(s);
		return -EUCLEAN;
	}
	clear_nlink(s);
	err = vexfs_orphan_add(handle, s);	/* writes the store */
	if (err) {
		set_nlink(s, 1);
		iput(s);
		return err;
	}
	*store = s;
	vi->i_flags &= ~VEXFS_IFL_XATTR_IN_STORE;
	vi->i_xattr_block = 0;
	return vexfs_mark_inode_dirty(handle, inode);
}
