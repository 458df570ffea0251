// SPDX-License-Identifier: GPL-2.0
/*
 * namei.c - name lookup through a directory's hash tree (FORMAT.md section
 * 6): hash the name (MurmurHash3 x86_32 seeded with the superblock's
 * hash_seed), descend the index blocks to the leaf covering the hash, and
 * compare names there. All entries of one hash are in one leaf.
 *
 * The namespace operations (create, mkdir, mknod, symlink, tmpfile, link,
 * unlink, rmdir, rename with RENAME_NOREPLACE, RENAME_EXCHANGE and
 * RENAME_WHITEOUT) with ext4's errnos, each one journal handle: the entry
 * changes are htree.c's, new inodes and the orphan list the write-path
 * contract's (vexfs.h). Parent pointers follow FORMAT.md 5.3, '..' being a
 * directory's parent pointer. Moving a file with a vector, or a directory,
 * between two collections (FORMAT.md 8.4) would move or drop vectors, which
 * is the FUSE mount's work: the module answers EXDEV (mv copies instead);
 * a collection root moved into another collection is EINVAL.
 */
#include "vexfs.h"
#include "vexfs_vec.h"
#include <linux/posix_acl.h>

static u32 rotl32(u32 x, int r)
{
	return (x << r) | (x >> (32 - r));
}

/* MurmurHash3_x86_32 (Austin Appleby, SMHasher), as src/format/hash.ts. */
u32 vexfs_name_hash(const unsigned char *name, unsigned int len, u32 seed)
{
	const u32 c1 = 0xcc9e2d51, c2 = 0x1b873593;
	unsigned int i, nblocks = len / 4;
	u32 h = seed, k;

	for (i = 0; i < nblocks; i++) {
		k = get_unaligned_le32(name + 4 * i);
		k *= c1;
		k = rotl32(k, 15);
		k *= c2;
		h ^= k;
		h = rotl32(h, 13);
		h = h * 5 + 0xe6546b64;
	}
	k = 0;
	switch (len & 3) {
	case 3:
		k ^= (u32)name[4 * nblocks + 2] << 16;
		fallthrough;
	case 2:
		k ^= (u32)name[4 * nblocks + 1] << 8;
		fallthrough;
	case 1:
		k ^= name[4 * nblocks];
		k *= c1;
		k = rotl32(k, 15);
		k *= c2;
		h ^= k;
	}
	h ^= len;
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

/* The leaf block (file block) of @dir covering @hash, 0 with *empty set if none. */
static int vexfs_find_leaf(struct inode *dir, u32 hash, u64 *leaf, bool *empty)
{
	struct super_block *sb = dir->i_sb;
	u32 limit = VEXFS_DX_LIMIT(sb->s_blocksize);
	u64 nblocks = dir->i_size >> sb->s_blocksize_bits;
	int want_level = -1;
	u64 lblk = 0;

	*empty = false;
	for (;;) {
		struct buffer_head *bh = vexfs_dir_bread(dir, lblk,
							 VEXFS_DIRX_MAGIC);
		struct vexfs_dx_header *dx;
		struct vexfs_dx_entry *de;
		u32 count, level, i, next = 0;

		if (IS_ERR(bh))
			return PTR_ERR(bh);
		if (!bh) {
			vexfs_corrupt(sb, dir->i_ino,
				      "index block %llu is a hole", lblk);
			return -EUCLEAN;
		}
		dx = (void *)bh->b_data;
		de = (void *)(dx + 1);
		count = le16_to_cpu(dx->dx_count);
		level = le16_to_cpu(dx->dx_level);
		if (count > limit || le16_to_cpu(dx->dx_limit) != limit ||
		    level > VEXFS_HTREE_MAX_LEVEL ||
		    (want_level >= 0 && level != want_level) ||
		    (count > 0 && le32_to_cpu(de[0].hash) != 0))
			goto bad;
		if (count == 0) {
			brelse(bh);
			if (lblk == 0) {
				*empty = true;
				return 0;
			}
			goto bad_nobh;
		}
		for (i = 0; i < count; i++) {
			if (i > 0 && le32_to_cpu(de[i].hash) <
				     le32_to_cpu(de[i - 1].hash))
				goto bad;
			if (le32_to_cpu(de[i].hash) > hash)
				break;
			next = le32_to_cpu(de[i].block);
		}
		brelse(bh);
		if (next == 0 || next >= nblocks)
			goto bad_nobh;
		if (level == 0) {
			*leaf = next;
			return 0;
		}
		lblk = next;
		want_level = level - 1;
		continue;
bad:
		brelse(bh);
bad_nobh:
		vexfs_corrupt(sb, dir->i_ino, "bad index block %llu", lblk);
		return -EUCLEAN;
	}
}

/* The inode number of @name in @dir, 0 if absent, or a negative errno. */
static s64 vexfs_find_entry(struct inode *dir, const struct qstr *name)
{
	struct super_block *sb = dir->i_sb;
	u32 hash = vexfs_name_hash(name->name, name->len,
				   VEXFS_SB(sb)->s_hash_seed);
	struct vexfs_dir_leaf_header *lh;
	struct buffer_head *bh;
	u32 count, used, off, i;
	s64 found = 0;
	bool empty;
	u64 leaf;
	int err;

	err = vexfs_find_leaf(dir, hash, &leaf, &empty);
	if (err)
		return err;
	if (empty)
		return 0;
	bh = vexfs_dir_bread(dir, leaf, VEXFS_DIRL_MAGIC);
	if (IS_ERR_OR_NULL(bh)) {
		if (!bh)
			vexfs_corrupt(sb, dir->i_ino, "leaf block %llu is a hole",
				      leaf);
		return bh ? PTR_ERR(bh) : -EUCLEAN;
	}
	lh = (void *)bh->b_data;
	count = le32_to_cpu(lh->dl_count);
	used = le32_to_cpu(lh->dl_used);
	if (used > sb->s_blocksize - sizeof(*lh) - VEXFS_CSUM_SIZE)
		goto bad;
	off = sizeof(*lh);
	for (i = 0; i < count; i++) {
		struct vexfs_dir_entry *de = (void *)(bh->b_data + off);
		u32 nlen, rec;

		if (off + sizeof(*de) > sizeof(*lh) + used)
			goto bad;
		nlen = le16_to_cpu(de->d_name_len);
		rec = VEXFS_DIR_REC_LEN(nlen);
		if (nlen < 1 || nlen > VEXFS_NAME_LEN ||
		    off + rec > sizeof(*lh) + used)
			goto bad;
		if (le32_to_cpu(de->d_hash) == hash && nlen == name->len &&
		    !memcmp(de->d_name, name->name, nlen)) {
			found = le64_to_cpu(de->d_ino);
			if (found < 1 || (u64)found > VEXFS_SB(sb)->s_inode_count)
				goto bad;
			break;
		}
		off += rec;
	}
	brelse(bh);
	return found;
bad:
	vexfs_corrupt(sb, dir->i_ino, "bad entry in leaf block %llu", leaf);
	brelse(bh);
	return -EUCLEAN;
}

static struct dentry *vexfs_lookup(struct inode *dir, struct dentry *dentry,
				   unsigned int flags)
{
	struct inode *inode = NULL;
	s64 ino;

	if (dentry->d_name.len > VEXFS_NAME_LEN)
		return ERR_PTR(-ENAMETOOLONG);
	ino = vexfs_find_entry(dir, &dentry->d_name);
	if (ino < 0)
		return ERR_PTR(ino);
	if (ino > 0) {
		inode = vexfs_iget(dir->i_sb, ino);
		if (IS_ERR(inode))
			return ERR_CAST(inode);
	}
	return d_splice_alias(inode, dentry);
}


static u8 vexfs_ftype(umode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:	return VEXFS_FT_REG;
	case S_IFDIR:	return VEXFS_FT_DIR;
	case S_IFCHR:	return VEXFS_FT_CHR;
	case S_IFBLK:	return VEXFS_FT_BLK;
	case S_IFIFO:	return VEXFS_FT_FIFO;
	case S_IFSOCK:	return VEXFS_FT_SOCK;
	case S_IFLNK:	return VEXFS_FT_SYMLINK;
	}
	return VEXFS_FT_UNKNOWN;
}

static u32 vexfs_qhash(struct inode *dir, const struct qstr *name)
{
	return vexfs_name_hash(name->name, name->len,
			       VEXFS_SB(dir->i_sb)->s_hash_seed);
}

/* Sets mtime and ctime of @dir to now and writes it in @handle. */
static int vexfs_dir_touch(handle_t *handle, struct inode *dir)
{
	vexfs_touch_times(dir, true);
	return vexfs_mark_inode_dirty(handle, dir);
}

/* Writes a long symlink's target into its first data block. */
static int vexfs_symlink_block(handle_t *handle, struct inode *inode,
			       const char *target, u32 len)
{
	struct super_block *sb = inode->i_sb;
	struct buffer_head *bh;
	u64 pblk;
	u32 got;
	int err;

	err = vexfs_ext_alloc(handle, inode, 0, 1, 0, &pblk, &got);
	if (err)
		return err;
	bh = sb_getblk(sb, pblk);
	if (!bh)
		return -ENOMEM;
	lock_buffer(bh);
	memset(bh->b_data, 0, sb->s_blocksize);
	memcpy(bh->b_data, target, len);
	set_buffer_uptodate(bh);
	unlock_buffer(bh);
	/* file contents: on disk before the commit that links them (9.4) */
	mark_buffer_dirty(bh);
	err = sync_dirty_buffer(bh);
	brelse(bh);
	return err;
}

/*
 * The common part of create, mkdir, mknod, symlink and tmpfile: a new inode
 * of @mode in @dir, linked as @dentry (tmpfile: @dentry NULL, @file set).
 */
static int vexfs_make(struct inode *dir, struct dentry *dentry,
		      struct file *file, umode_t mode, dev_t rdev,
		      const char *target)
{
	struct super_block *sb = dir->i_sb;
	struct posix_acl *dacl = NULL, *acl = NULL;
	const struct qstr *name = dentry ? &dentry->d_name : NULL;
	u32 tlen = target ? strlen(target) : 0;
	int credits = VEXFS_CREATE_CREDITS + 2 * VEXFS_XATTR_CREDITS +
		      VEXFS_ORPHAN_CREDITS;
	struct inode *inode;
	handle_t *handle;
	int err, err2;

	if (name && name->len > VEXFS_NAME_LEN)
		return -ENAMETOOLONG;
	if (S_ISDIR(mode) && dir->i_nlink >= VEXFS_LINK_MAX)
		return -EMLINK;
	if (target && (tlen == 0 || tlen >= sb->s_blocksize || tlen >= PATH_MAX))
		return -ENAMETOOLONG;
	err = posix_acl_create(dir, &mode, &dacl, &acl);
	if (err)
		return err;
	handle = vexfs_journal_start(sb, credits);
	if (IS_ERR(handle)) {
		posix_acl_release(dacl);
		posix_acl_release(acl);
		return PTR_ERR(handle);
	}
	inode = vexfs_new_inode(handle, dir, mode, name);
	if (IS_ERR(inode)) {
		posix_acl_release(dacl);
		posix_acl_release(acl);
		err = PTR_ERR(inode);
		inode = NULL;
		goto stop;
	}
	err = vexfs_acl_create(handle, inode, dacl, acl);
	if (err)
		goto fail;
	if (S_ISDIR(mode)) {
		err = vexfs_dir_init(handle, inode);
	} else if (S_ISLNK(mode)) {
		if (tlen <= VEXFS_INODE_DATA_SIZE) {
			struct vexfs_inode_info *vi = VEXFS_I(inode);

			memset(vi->i_data, 0, sizeof(vi->i_data));
			memcpy(vi->i_data, target, tlen);
			vi->i_flags |= VEXFS_IFL_INLINE;
			inode->i_link = (char *)vi->i_data;
		} else {
			err = vexfs_symlink_block(handle, inode, target, tlen);
		}
		i_size_write(inode, tlen);
		vexfs_set_inode_ops(inode);
	} else if (!S_ISREG(mode)) {
		/* an empty extent root, as the engine and fsck expect */
		vexfs_ext_init_root(inode);
		init_special_inode(inode, mode, rdev);
		vexfs_set_inode_ops(inode);
	}
	if (err)
		goto fail;
	if (!dentry) {
		/* O_TMPFILE: no name, on the orphan list until linked */
		VEXFS_I(inode)->i_parent_ino = 0;
		VEXFS_I(inode)->i_parent_hash = 0;
		err = vexfs_mark_inode_dirty(handle, inode);
		if (err)
			goto fail;
		d_tmpfile(file, inode);
		err = vexfs_orphan_add(handle, inode);
		if (err) {
			/* d_tmpfile dropped nlink; evict frees the inode */
			unlock_new_inode(inode);
			goto stop;
		}
		unlock_new_inode(inode);
		goto stop;
	}
	err = vexfs_mark_inode_dirty(handle, inode);
	if (!err)
		err = vexfs_dir_add(handle, dir, name, inode->i_ino,
				    vexfs_ftype(mode));
	if (err)
		goto fail;
	if (S_ISDIR(mode))
		inc_nlink(dir);
	err = vexfs_dir_touch(handle, dir);
	d_instantiate_new(dentry, inode);
	inode = NULL;
	goto stop;
fail:
	clear_nlink(inode);
	vexfs_mark_inode_dirty(handle, inode);
	unlock_new_inode(inode);
stop:
	err2 = vexfs_journal_stop(handle);
	if (inode && dentry)
		iput(inode);
	if (!err)
		err = err2;
	return err;
}

static int vexfs_create(VEXFS_IDMAP_ARG, struct inode *dir,
			struct dentry *dentry, umode_t mode, bool excl)
{
	return vexfs_make(dir, dentry, NULL, mode, 0, NULL);
}

static int vexfs_mknod(VEXFS_IDMAP_ARG, struct inode *dir,
		       struct dentry *dentry, umode_t mode, dev_t rdev)
{
	return vexfs_make(dir, dentry, NULL, mode, rdev, NULL);
}

static int vexfs_symlink(VEXFS_IDMAP_ARG, struct inode *dir,
			 struct dentry *dentry, const char *target)
{
	return vexfs_make(dir, dentry, NULL, S_IFLNK | 0777, 0, target);
}

static int vexfs_mkdir(VEXFS_IDMAP_ARG, struct inode *dir,
		       struct dentry *dentry, umode_t mode)
{
	return vexfs_make(dir, dentry, NULL, S_IFDIR | mode, 0, NULL);
}

static int vexfs_tmpfile(VEXFS_IDMAP_ARG, struct inode *dir,
			 struct file *file, umode_t mode)
{
	int err = vexfs_make(dir, NULL, file, mode, 0, NULL);

	return finish_open_simple(file, err);
}

/* Drops one link of @inode, whose entry @name in @dir was removed. */
static int vexfs_drop_link(handle_t *handle, struct inode *dir,
			   const struct qstr *name, struct inode *inode)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);

	if (inode->i_nlink == 0) {
		vexfs_error(inode->i_sb, inode->i_ino, -EUCLEAN, "unlink",
			    "removing a link of an inode with no links");
		return -EUCLEAN;
	}
	if (S_ISDIR(inode->i_mode))
		clear_nlink(inode);
	else
		drop_nlink(inode);
	if (vi->i_parent_ino == dir->i_ino &&
	    vi->i_parent_hash == vexfs_qhash(dir, name))
		vi->i_parent_ino = 0;
	vexfs_touch_times(inode, false);
	if (!inode->i_nlink) {
		int err = vexfs_orphan_add(handle, inode);

		if (err)
			return err;
	}
	return vexfs_mark_inode_dirty(handle, inode);
}

/*
 * A collection root that loses its last link (rmdir, rename over an empty
 * one) takes its collection with it, as the engine's _ifree does with
 * dropCollection (src/fs/fs.ts): its vectors go first, in bounded
 * transactions of their own (collection_drop.c; files elsewhere may still
 * carry them through hard links), then the record and the store files in
 * the operation's own handle (vexfs_coll_drop_handle). A crash in between
 * leaves the directory and a smaller collection.
 */
static bool vexfs_is_coll_root(struct inode *inode)
{
	return inode && S_ISDIR(inode->i_mode) &&
	       (VEXFS_I(inode)->i_flags & VEXFS_IFL_COLL_ROOT);
}

static int vexfs_coll_root_prepare(struct inode *inode)
{
	u64 deleted = 0;

	if (!vexfs_is_coll_root(inode))
		return 0;
	return vexfs_coll_empty(inode, &deleted);
}

/* Credits to free @inode's vector if it loses its last link here. */
static int vexfs_vec_drop_credits(struct inode *inode)
{
	if (!inode || !(VEXFS_I(inode)->i_flags & VEXFS_IFL_HAS_VECTOR) ||
	    S_ISDIR(inode->i_mode) || inode->i_nlink > 1)
		return 0;
	return VEXFS_VEC_DEL_CREDITS;
}

/*
 * @inode lost its last link in @handle (it is on the orphan list): its
 * vector goes now, at the end of the operation, where the filesystem is
 * consistent (FORMAT.md 8.4, deleteVector of src/fs/vectors.ts; the
 * engine does it when the inode is freed). Done here rather than at evict
 * so that no inode being evicted ever waits for vexfs_vec_rwsem while
 * another holder of it looks the inode up as the owner of a moved slot.
 * A failure (a damaged store, reported by vexfs_corrupt) does not undo the
 * removal: the orphan keeps its vector and evict tries again.
 */
static void vexfs_vec_drop(handle_t *handle, struct inode *inode,
			   struct inode **moved)
{
	*moved = NULL;
	if (inode && !inode->i_nlink && !S_ISDIR(inode->i_mode))
		vexfs_vec_release(handle, inode, moved);
}

static int vexfs_remove(struct inode *dir, struct dentry *dentry, bool isdir)
{
	struct inode *moved = NULL;
	struct inode *inode = d_inode(dentry);
	struct vexfs_coll_drop drop = { 0 };
	handle_t *handle;
	bool coll;
	int err, err2;

	if (isdir) {
		err = vexfs_dir_empty(inode);
		if (err <= 0)
			return err ? err : -ENOTEMPTY;
	}
	coll = isdir && vexfs_is_coll_root(inode);
	if (coll) {
		err = vexfs_coll_root_prepare(inode);
		if (err)
			return err;
	}
	handle = vexfs_journal_start(dir->i_sb, VEXFS_DIR_CREDITS +
				     2 * VEXFS_INODE_CREDITS +
				     VEXFS_ORPHAN_CREDITS +
				     vexfs_vec_drop_credits(inode) +
				     (coll ? VEXFS_COLL_DROP_CREDITS : 0));
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	if (coll) {
		err = vexfs_coll_drop_handle(handle, inode, &drop);
		if (err)
			goto stop;
	}
	err = vexfs_dir_delete(handle, dir, &dentry->d_name, inode->i_ino);
	if (err == -ENOENT) {
		vexfs_error(dir->i_sb, dir->i_ino, -EUCLEAN, "unlink",
			    "entry of inode %lu vanished", inode->i_ino);
		err = -EUCLEAN;
	}
	if (err)
		goto stop;
	if (isdir && dir->i_nlink > 2)
		drop_nlink(dir);
	err = vexfs_dir_touch(handle, dir);
	if (!err) {
		/* the victim's ctime is the directory's */
		err = vexfs_drop_link(handle, dir, &dentry->d_name, inode);
	}
	if (!err)
		vexfs_vec_drop(handle, inode, &moved);
stop:
	err2 = vexfs_journal_stop(handle);
	iput(moved);	/* after the handle: it may evict */
	vexfs_coll_drop_done(&drop);	/* frees the store files */
	return err ? err : err2;
}

static int vexfs_unlink(struct inode *dir, struct dentry *dentry)
{
	return vexfs_remove(dir, dentry, false);
}

static int vexfs_rmdir(struct inode *dir, struct dentry *dentry)
{
	return vexfs_remove(dir, dentry, true);
}

static int vexfs_link(struct dentry *old_dentry, struct inode *dir,
		      struct dentry *dentry)
{
	struct inode *inode = d_inode(old_dentry);
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	bool tmp = inode->i_nlink == 0;
	handle_t *handle;
	int err, err2;

	if (inode->i_nlink >= VEXFS_LINK_MAX)
		return -EMLINK;
	handle = vexfs_journal_start(dir->i_sb, VEXFS_DIR_CREDITS +
				     2 * VEXFS_INODE_CREDITS +
				     VEXFS_ORPHAN_CREDITS);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	err = vexfs_dir_add(handle, dir, &dentry->d_name, inode->i_ino,
			    vexfs_ftype(inode->i_mode));
	if (err)
		goto stop;
	inc_nlink(inode);
	if (!vi->i_parent_ino) {
		vi->i_parent_ino = dir->i_ino;
		vi->i_parent_hash = vexfs_qhash(dir, &dentry->d_name);
	}
	vexfs_touch_times(inode, false);
	if (tmp)	/* an O_TMPFILE file gets its first name */
		err = vexfs_orphan_del(handle, inode);
	if (!err)
		err = vexfs_mark_inode_dirty(handle, inode);
	if (!err)
		err = vexfs_dir_touch(handle, dir);
	ihold(inode);
	d_instantiate(dentry, inode);
stop:
	err2 = vexfs_journal_stop(handle);
	return err ? err : err2;
}

/*
 * The collection (FORMAT.md 8) directory @dir is in: the coll_id of the
 * nearest COLL_ROOT on its parent pointers, 0 for none.
 */
static s64 vexfs_dir_coll(struct inode *dir)
{
	struct super_block *sb = dir->i_sb;
	struct inode *cur = igrab(dir);
	int depth;

	for (depth = 0; cur && depth < 4096; depth++) {
		struct vexfs_inode_info *vi = VEXFS_I(cur);
		struct inode *up;
		u64 parent;

		if (vi->i_flags & VEXFS_IFL_COLL_ROOT) {
			s64 id = vi->i_coll_id;

			iput(cur);
			return id;
		}
		parent = vi->i_parent_ino;
		if (cur->i_ino == VEXFS_ROOT_INO || !parent) {
			iput(cur);
			return 0;
		}
		up = vexfs_iget(sb, parent);
		iput(cur);
		if (IS_ERR(up))
			return PTR_ERR(up);
		cur = up;
		cond_resched();
	}
	iput(cur);
	vexfs_error(sb, dir->i_ino, -EUCLEAN, "rename",
		    "parent pointers loop or nest over 4096 levels");
	return -EUCLEAN;
}

/* Whether @inode may move from @from to @to as for collections (8.4). */
static int vexfs_coll_move_ok(struct inode *inode, struct inode *from,
			      struct inode *to)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	s64 a, b;

	if (from == to)
		return 0;
	if (!S_ISDIR(inode->i_mode) && !(vi->i_flags & VEXFS_IFL_HAS_VECTOR))
		return 0;
	b = vexfs_dir_coll(to);
	if (b < 0)
		return b;
	if (vi->i_flags & VEXFS_IFL_COLL_ROOT)
		return b ? -EINVAL : 0;
	a = vexfs_dir_coll(from);
	if (a < 0)
		return a;
	return a == b ? 0 : -EXDEV;
}

/* Points @inode's parent at (@dir, @name) after a move (FORMAT.md 5.3). */
static int vexfs_reparent(handle_t *handle, struct inode *inode,
			  struct inode *odir, const struct qstr *oname,
			  struct inode *ndir, const struct qstr *nname)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);

	if (S_ISDIR(inode->i_mode) || inode->i_nlink == 1 ||
	    !vi->i_parent_ino ||
	    (vi->i_parent_ino == odir->i_ino &&
	     vi->i_parent_hash == vexfs_qhash(odir, oname))) {
		vi->i_parent_ino = ndir->i_ino;
		vi->i_parent_hash = vexfs_qhash(ndir, nname);
	}
	vexfs_touch_times(inode, false);
	return vexfs_mark_inode_dirty(handle, inode);
}

static int vexfs_rename(VEXFS_IDMAP_ARG, struct inode *odir,
			struct dentry *odentry, struct inode *ndir,
			struct dentry *ndentry, unsigned int flags)
{
	struct super_block *sb = odir->i_sb;
	struct inode *old = d_inode(odentry), *victim = d_inode(ndentry);
	const struct qstr *oname = &odentry->d_name, *nname = &ndentry->d_name;
	struct inode *wh = NULL, *moved = NULL;
	struct vexfs_coll_drop drop = { 0 };
	bool coll = false;
	handle_t *handle;
	int err, err2;

	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT))
		return -EINVAL;
	if (nname->len > VEXFS_NAME_LEN)
		return -ENAMETOOLONG;
	err = vexfs_coll_move_ok(old, odir, ndir);
	if (!err && (flags & RENAME_EXCHANGE))
		err = vexfs_coll_move_ok(victim, ndir, odir);
	if (err)
		return err;
	if (!(flags & RENAME_EXCHANGE)) {
		if (victim && S_ISDIR(victim->i_mode)) {
			err = vexfs_dir_empty(victim);
			if (err <= 0)
				return err ? err : -ENOTEMPTY;
		}
		coll = vexfs_is_coll_root(victim);
		if (coll) {
			err = vexfs_coll_root_prepare(victim);
			if (err)
				return err;
		}
		if (S_ISDIR(old->i_mode) && !victim && odir != ndir &&
		    ndir->i_nlink >= VEXFS_LINK_MAX)
			return -EMLINK;
	}
	handle = vexfs_journal_start(sb, 2 * VEXFS_DIR_CREDITS +
				     6 * VEXFS_INODE_CREDITS +
				     VEXFS_ORPHAN_CREDITS +
				     VEXFS_NEW_INODE_CREDITS +
				     ((flags & RENAME_EXCHANGE) ? 0 :
				      vexfs_vec_drop_credits(victim)) +
				     (coll ? VEXFS_COLL_DROP_CREDITS : 0));
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	if (coll) {
		err = vexfs_coll_drop_handle(handle, victim, &drop);
		if (err)
			goto stop;
	}

	if (flags & RENAME_EXCHANGE) {
		err = vexfs_dir_set(handle, odir, oname, victim->i_ino,
				    vexfs_ftype(victim->i_mode));
		if (!err)
			err = vexfs_dir_set(handle, ndir, nname, old->i_ino,
					    vexfs_ftype(old->i_mode));
		if (err)
			goto stop;
		err = vexfs_reparent(handle, old, odir, oname, ndir, nname);
		if (!err)
			err = vexfs_reparent(handle, victim, ndir, nname, odir,
					     oname);
		if (!err && odir != ndir &&
		    S_ISDIR(old->i_mode) != S_ISDIR(victim->i_mode)) {
			if (S_ISDIR(old->i_mode)) {
				drop_nlink(odir);
				inc_nlink(ndir);
			} else {
				drop_nlink(ndir);
				inc_nlink(odir);
			}
		}
		goto touch;
	}

	if (flags & RENAME_WHITEOUT) {
		wh = vexfs_new_inode(handle, odir, S_IFCHR | WHITEOUT_MODE,
				     oname);
		if (IS_ERR(wh)) {
			err = PTR_ERR(wh);
			wh = NULL;
			goto stop;
		}
		vexfs_ext_init_root(wh);
		init_special_inode(wh, wh->i_mode, WHITEOUT_DEV);
		vexfs_set_inode_ops(wh);
		err = vexfs_mark_inode_dirty(handle, wh);
		if (err)
			goto stop;
	}
	if (victim)
		err = vexfs_dir_set(handle, ndir, nname, old->i_ino,
				    vexfs_ftype(old->i_mode));
	else
		err = vexfs_dir_add(handle, ndir, nname, old->i_ino,
				    vexfs_ftype(old->i_mode));
	if (err)
		goto stop;
	if (wh)
		err = vexfs_dir_set(handle, odir, oname, wh->i_ino,
				    VEXFS_FT_CHR);
	else
		err = vexfs_dir_delete(handle, odir, oname, old->i_ino);
	if (err)
		goto stop;
	err = vexfs_reparent(handle, old, odir, oname, ndir, nname);
	if (err)
		goto stop;
	if (victim) {
		if (S_ISDIR(victim->i_mode) && ndir->i_nlink > 2)
			drop_nlink(ndir);
		err = vexfs_drop_link(handle, ndir, nname, victim);
		if (err)
			goto stop;
	}
	if (S_ISDIR(old->i_mode) && odir != ndir) {
		if (odir->i_nlink > 2)
			drop_nlink(odir);
		inc_nlink(ndir);
	}
touch:
	if (!err)
		err = vexfs_dir_touch(handle, odir);
	if (!err && ndir != odir)
		err = vexfs_dir_touch(handle, ndir);
	if (!err && !(flags & RENAME_EXCHANGE))
		vexfs_vec_drop(handle, victim, &moved);
stop:
	if (wh) {
		if (err) {
			clear_nlink(wh);
			vexfs_mark_inode_dirty(handle, wh);
		}
		unlock_new_inode(wh);
	}
	err2 = vexfs_journal_stop(handle);
	if (wh)
		iput(wh);
	iput(moved);	/* after the handle: it may evict */
	vexfs_coll_drop_done(&drop);	/* frees the store files */
	return err ? err : err2;
}

const struct inode_operations vexfs_dir_inode_operations = {
	.lookup		= vexfs_lookup,
	.create		= vexfs_create,
	.link		= vexfs_link,
	.unlink		= vexfs_unlink,
	.symlink	= vexfs_symlink,
	.mkdir		= vexfs_mkdir,
	.rmdir		= vexfs_rmdir,
	.mknod		= vexfs_mknod,
	.tmpfile	= vexfs_tmpfile,
	.rename		= vexfs_rename,
	.getattr	= vexfs_getattr,
	.setattr	= vexfs_setattr,
	.listxattr	= vexfs_listxattr,
	.VEXFS_GET_ACL_OP = vexfs_get_acl,
	.set_acl	= vexfs_set_acl,
};
