// SPDX-License-Identifier: GPL-2.0
/*
 * extent_write.c - changing an inode's extent tree (FORMAT.md 5.2): insert
 * a run (merging with its neighbours), remove a range (truncate, punch,
 * freeing the inode), turn unwritten blocks written, allocate blocks for a
 * hole. The ideas follow fs/ext4/extents.c (a path from the root to a
 * leaf; a full node splits in two and its parent gains an index entry; a
 * full root moves into a new block and the tree grows one level), kept
 * simpler: every change loads the path again, so each step starts from a
 * checked, consistent tree.
 *
 * Every node on a path is checked before it is changed (magic, counts,
 * depth, order, blocks inside the data area, checksum); a damaged tree is
 * reported through vexfs_error and the change fails with EUCLEAN.
 *
 * Callers hold the inode's i_data_sem for writing and a handle.
 */
#include "vexfs.h"
#include <linux/jbd2.h>

struct vexfs_path_elem {
	struct buffer_head *bh;		/* NULL: the root in i_data */
	struct vexfs_extent_header *eh;
	int idx;			/* index entry followed, or -1 */
};

struct vexfs_path {
	int depth;			/* levels below the root */
	struct vexfs_path_elem p[VEXFS_EXT_MAX_DEPTH + 1];
};

#define EXT_FIRST(eh)	((struct vexfs_extent *)((eh) + 1))
#define IDX_FIRST(eh)	((struct vexfs_extent_idx *)((eh) + 1))

static void vexfs_path_put(struct vexfs_path *path)
{
	int i;

	for (i = 0; i <= VEXFS_EXT_MAX_DEPTH; i++) {
		brelse(path->p[i].bh);
		path->p[i].bh = NULL;
	}
}

static unsigned int vexfs_node_cap(struct inode *inode, bool root)
{
	return root ? VEXFS_EXT_ROOT_MAX :
	       VEXFS_EXT_BLOCK_MAX(inode->i_sb->s_blocksize);
}

static int vexfs_ext_corrupt(struct inode *inode, const char *what, u64 v)
{
	vexfs_error(inode->i_sb, inode->i_ino, EUCLEAN, "extent",
		    "damaged extent tree: %s (%llu)", what, v);
	return -EUCLEAN;
}

/* Checks one node's header and entries; @depth is what the path expects. */
static int vexfs_check_node_w(struct inode *inode,
			      struct vexfs_extent_header *eh, bool root,
			      int depth)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(inode->i_sb);
	unsigned int n = le16_to_cpu(eh->eh_entries);
	unsigned int i;

	if (le16_to_cpu(eh->eh_magic) != VEXFS_EXT_MAGIC)
		return vexfs_ext_corrupt(inode, "bad magic", le16_to_cpu(eh->eh_magic));
	if (le16_to_cpu(eh->eh_max) > vexfs_node_cap(inode, root) ||
	    le16_to_cpu(eh->eh_max) == 0 || n > le16_to_cpu(eh->eh_max))
		return vexfs_ext_corrupt(inode, "bad entry count", n);
	if (le16_to_cpu(eh->eh_depth) != depth ||
	    depth > VEXFS_EXT_MAX_DEPTH)
		return vexfs_ext_corrupt(inode, "bad depth", le16_to_cpu(eh->eh_depth));
	if (depth == 0) {
		struct vexfs_extent *ex = EXT_FIRST(eh);
		u64 prev_end = 0;

		for (i = 0; i < n; i++) {
			u64 l = le64_to_cpu(ex[i].ee_logical);
			u32 len = le32_to_cpu(ex[i].ee_len);

			if (len == 0 || len > VEXFS_EXT_MAX_LEN ||
			    l < prev_end || l + len < l ||
			    (le32_to_cpu(ex[i].ee_flags) & ~VEXFS_EXT_UNWRITTEN) ||
			    !vexfs_data_run_ok(sbi, le64_to_cpu(ex[i].ee_physical), len))
				return vexfs_ext_corrupt(inode, "bad extent at file block", l);
			prev_end = l + len;
		}
	} else {
		struct vexfs_extent_idx *ix = IDX_FIRST(eh);

		if (n == 0)
			return vexfs_ext_corrupt(inode, "empty index node", depth);
		for (i = 0; i < n; i++) {
			if ((i > 0 && le64_to_cpu(ix[i].ei_logical) <=
				      le64_to_cpu(ix[i - 1].ei_logical)) ||
			    !vexfs_data_run_ok(sbi, le64_to_cpu(ix[i].ei_child), 1))
				return vexfs_ext_corrupt(inode, "bad index entry for file block",
							 le64_to_cpu(ix[i].ei_logical));
		}
	}
	return 0;
}

/*
 * Loads the path to the leaf that holds (or would hold) file block @lblk,
 * with write access to every block on it.
 */
static int vexfs_find_path(handle_t *handle, struct inode *inode, u64 lblk,
			   struct vexfs_path *path)
{
	struct vexfs_extent_header *eh = (void *)VEXFS_I(inode)->i_data;
	int depth, k, err;

	memset(path, 0, sizeof(*path));
	depth = le16_to_cpu(eh->eh_depth);
	if (depth > VEXFS_EXT_MAX_DEPTH)
		return vexfs_ext_corrupt(inode, "tree too deep", depth);
	err = vexfs_check_node_w(inode, eh, true, depth);
	if (err)
		return err;
	path->depth = depth;
	path->p[0].eh = eh;
	for (k = 0; k < depth; k++) {
		struct vexfs_extent_idx *ix = IDX_FIRST(eh);
		unsigned int n = le16_to_cpu(eh->eh_entries);
		struct buffer_head *bh;
		unsigned int i = 0;
		u64 child;

		while (i + 1 < n && le64_to_cpu(ix[i + 1].ei_logical) <= lblk)
			i++;
		path->p[k].idx = i;
		child = le64_to_cpu(ix[i].ei_child);
		bh = sb_bread(inode->i_sb, child);
		if (!bh) {
			err = -EIO;
			goto fail;
		}
		path->p[k + 1].bh = bh;
		if (!vexfs_block_csum_ok(bh->b_data, inode->i_sb->s_blocksize,
					 inode->i_ino)) {
			err = vexfs_ext_corrupt(inode, "tree block checksum mismatch, block",
						child);
			goto fail;
		}
		eh = (void *)bh->b_data;
		err = vexfs_check_node_w(inode, eh, false, depth - k - 1);
		if (err)
			goto fail;
		err = vexfs_get_write_access(handle, bh);
		if (err)
			goto fail;
		path->p[k + 1].eh = eh;
	}
	path->p[depth].idx = -1;
	return 0;
fail:
	vexfs_path_put(path);
	return err;
}

/* Writes a changed node: a block with a fresh checksum, or the root. */
static int vexfs_dirty_node(handle_t *handle, struct inode *inode,
			    struct vexfs_path_elem *e)
{
	if (!e->bh)
		return 0;	/* the root: the caller writes the inode */
	vexfs_block_csum_set(e->bh->b_data, inode->i_sb->s_blocksize,
			     inode->i_ino);
	return vexfs_dirty_metadata(handle, inode, e->bh);
}

/* A new, empty tree block of the given depth, with create access. */
static struct buffer_head *vexfs_new_node(handle_t *handle,
					  struct inode *inode, u64 goal,
					  int depth)
{
	struct super_block *sb = inode->i_sb;
	struct vexfs_extent_header *eh;
	struct buffer_head *bh;
	u32 count = 1;
	u64 blk;
	int err;

	err = vexfs_new_blocks(handle, inode, goal, &count, &blk);
	if (err)
		return ERR_PTR(err);
	bh = sb_getblk(sb, blk);
	if (!bh) {
		vexfs_free_blocks(handle, inode, blk, 1, 0);
		return ERR_PTR(-ENOMEM);
	}
	lock_buffer(bh);
	err = vexfs_get_create_access(handle, bh);
	if (err) {
		unlock_buffer(bh);
		brelse(bh);
		vexfs_free_blocks(handle, inode, blk, 1, 0);
		return ERR_PTR(err);
	}
	memset(bh->b_data, 0, sb->s_blocksize);
	eh = (void *)bh->b_data;
	eh->eh_magic = cpu_to_le16(VEXFS_EXT_MAGIC);
	eh->eh_max = cpu_to_le16(VEXFS_EXT_BLOCK_MAX(sb->s_blocksize));
	eh->eh_depth = cpu_to_le16(depth);
	set_buffer_uptodate(bh);
	unlock_buffer(bh);
	return bh;
}

/* The first logical block a node covers (its first entry's key). */
static u64 vexfs_node_first(struct vexfs_extent_header *eh)
{
	if (le16_to_cpu(eh->eh_depth) == 0)
		return le64_to_cpu(EXT_FIRST(eh)->ee_logical);
	return le64_to_cpu(IDX_FIRST(eh)->ei_logical);
}

/* Moves the root's entries into a new block; the tree grows one level. */
static int vexfs_grow_root(handle_t *handle, struct inode *inode,
			   struct vexfs_path *path, u64 goal)
{
	struct vexfs_extent_header *root = path->p[0].eh;
	int depth = le16_to_cpu(root->eh_depth);
	unsigned int n = le16_to_cpu(root->eh_entries);
	struct vexfs_extent_header *eh;
	struct vexfs_extent_idx *ix;
	struct buffer_head *bh;
	int err;

	if (depth + 1 > VEXFS_EXT_MAX_DEPTH)
		return -ENOSPC;
	bh = vexfs_new_node(handle, inode, goal, depth);
	if (IS_ERR(bh))
		return PTR_ERR(bh);
	eh = (void *)bh->b_data;
	memcpy(eh + 1, root + 1, n * sizeof(struct vexfs_extent));
	eh->eh_entries = cpu_to_le16(n);
	vexfs_block_csum_set(bh->b_data, inode->i_sb->s_blocksize,
			     inode->i_ino);
	err = vexfs_dirty_metadata(handle, inode, bh);
	if (!err) {
		ix = IDX_FIRST(root);
		ix->ei_logical = cpu_to_le64(n ? vexfs_node_first(eh) : 0);
		ix->ei_child = cpu_to_le64(bh->b_blocknr);
		ix->ei_reserved = 0;
		root->eh_entries = cpu_to_le16(1);
		root->eh_depth = cpu_to_le16(depth + 1);
		memset(ix + 1, 0, (VEXFS_EXT_ROOT_MAX - 1) * sizeof(*ix));
	}
	brelse(bh);
	return err;
}

/* Splits the full node p[k] (k >= 1) whose parent has room. */
static int vexfs_split_node(handle_t *handle, struct inode *inode,
			    struct vexfs_path *path, int k, u64 goal)
{
	struct vexfs_extent_header *eh = path->p[k].eh;
	struct vexfs_extent_header *parent = path->p[k - 1].eh;
	unsigned int n = le16_to_cpu(eh->eh_entries);
	unsigned int m = n / 2, pn = le16_to_cpu(parent->eh_entries);
	int pi = path->p[k - 1].idx;
	struct vexfs_extent_header *neh;
	struct vexfs_extent_idx *pix;
	struct buffer_head *bh;
	int err;

	bh = vexfs_new_node(handle, inode, goal, le16_to_cpu(eh->eh_depth));
	if (IS_ERR(bh))
		return PTR_ERR(bh);
	neh = (void *)bh->b_data;
	/* Extents and index entries are both 24 bytes. */
	memcpy(neh + 1, (struct vexfs_extent *)(eh + 1) + m,
	       (n - m) * sizeof(struct vexfs_extent));
	neh->eh_entries = cpu_to_le16(n - m);
	vexfs_block_csum_set(bh->b_data, inode->i_sb->s_blocksize,
			     inode->i_ino);
	err = vexfs_dirty_metadata(handle, inode, bh);
	if (err)
		goto out;
	memset((struct vexfs_extent *)(eh + 1) + m, 0,
	       (n - m) * sizeof(struct vexfs_extent));
	eh->eh_entries = cpu_to_le16(m);
	err = vexfs_dirty_node(handle, inode, &path->p[k]);
	if (err)
		goto out;
	pix = IDX_FIRST(parent);
	memmove(pix + pi + 2, pix + pi + 1, (pn - pi - 1) * sizeof(*pix));
	pix[pi + 1].ei_logical = cpu_to_le64(vexfs_node_first(neh));
	pix[pi + 1].ei_child = cpu_to_le64(bh->b_blocknr);
	pix[pi + 1].ei_reserved = 0;
	parent->eh_entries = cpu_to_le16(pn + 1);
	err = vexfs_dirty_node(handle, inode, &path->p[k - 1]);
out:
	brelse(bh);
	return err;
}

static bool vexfs_node_full(struct vexfs_extent_header *eh)
{
	return le16_to_cpu(eh->eh_entries) >= le16_to_cpu(eh->eh_max);
}

/* A goal for a new tree block: near the file's data. */
static u64 vexfs_tree_goal(struct vexfs_path *path)
{
	struct vexfs_extent_header *leaf = path->p[path->depth].eh;
	unsigned int n = le16_to_cpu(leaf->eh_entries);

	if (n) {
		struct vexfs_extent *ex = EXT_FIRST(leaf) + n - 1;

		return le64_to_cpu(ex->ee_physical) + le32_to_cpu(ex->ee_len);
	}
	return 0;
}

/*
 * Makes room for one more extent in the leaf of @lblk: splits the highest
 * full node whose parent has room, or grows the root, until the leaf has
 * a free slot. Returns with @path loaded and the leaf not full.
 */
static int vexfs_make_room(handle_t *handle, struct inode *inode, u64 lblk,
			   struct vexfs_path *path)
{
	int iter, err, j;

	for (iter = 0; iter < 4 * (VEXFS_EXT_MAX_DEPTH + 1); iter++) {
		u64 goal;

		err = vexfs_find_path(handle, inode, lblk, path);
		if (err)
			return err;
		if (!vexfs_node_full(path->p[path->depth].eh))
			return 0;
		j = path->depth;
		while (j > 0 && vexfs_node_full(path->p[j - 1].eh))
			j--;
		goal = vexfs_tree_goal(path);
		if (j == 0)
			err = vexfs_grow_root(handle, inode, path, goal);
		else
			err = vexfs_split_node(handle, inode, path, j, goal);
		vexfs_path_put(path);
		if (err)
			return err;
	}
	return vexfs_ext_corrupt(inode, "cannot make room in the tree", lblk);
}

/* Lowers the keys on the path so they stay <= the leaf's new first block. */
static int vexfs_fix_keys(handle_t *handle, struct inode *inode,
			  struct vexfs_path *path, u64 first)
{
	int k, err;

	for (k = path->depth - 1; k >= 0; k--) {
		struct vexfs_extent_idx *ix = IDX_FIRST(path->p[k].eh) +
					      path->p[k].idx;

		if (le64_to_cpu(ix->ei_logical) <= first)
			break;
		ix->ei_logical = cpu_to_le64(first);
		err = vexfs_dirty_node(handle, inode, &path->p[k]);
		if (err)
			return err;
	}
	return 0;
}

static bool vexfs_can_merge(struct vexfs_extent *a, u64 l, u64 p, u32 len,
			    u32 flags)
{
	return le32_to_cpu(a->ee_flags) == flags &&
	       le64_to_cpu(a->ee_logical) + le32_to_cpu(a->ee_len) == l &&
	       le64_to_cpu(a->ee_physical) + le32_to_cpu(a->ee_len) == p &&
	       (u64)le32_to_cpu(a->ee_len) + len <= VEXFS_EXT_MAX_LEN;
}

/**
 * vexfs_ext_insert - map file blocks [lblk, lblk + len) to device blocks
 *	[pblk, pblk + len)
 * @handle: the handle (VEXFS_EXTENT_CREDITS), or NULL
 * @inode: the file; i_data_sem held for writing
 * @lblk: first file block; the range must be a hole
 * @pblk: first device block, already allocated
 * @len: 1 .. VEXFS_EXT_MAX_LEN
 * @flags: 0 or VEXFS_EXT_UNWRITTEN
 *
 * Merges with a neighbour extent when both runs are contiguous. Writes
 * the inode (its root) too. Return: 0, -EUCLEAN (damaged tree, or the
 * range is not a hole), -ENOSPC (no block for a split), -EIO.
 */
int vexfs_ext_insert(handle_t *handle, struct inode *inode, u64 lblk,
		     u64 pblk, u32 len, u32 flags)
{
	struct vexfs_path path;
	struct vexfs_extent_header *leaf;
	struct vexfs_extent *ex;
	unsigned int n, i;
	int err;

	if (!len || len > VEXFS_EXT_MAX_LEN || lblk + len < lblk)
		return -EINVAL;
	err = vexfs_find_path(handle, inode, lblk, &path);
	if (err)
		return err;
	leaf = path.p[path.depth].eh;
	n = le16_to_cpu(leaf->eh_entries);
	ex = EXT_FIRST(leaf);
	for (i = 0; i < n && le64_to_cpu(ex[i].ee_logical) < lblk; i++)
		;
	/* ex[i - 1] starts before lblk, ex[i] at or after. */
	if ((i > 0 && le64_to_cpu(ex[i - 1].ee_logical) +
		      le32_to_cpu(ex[i - 1].ee_len) > lblk) ||
	    (i < n && le64_to_cpu(ex[i].ee_logical) < lblk + len)) {
		vexfs_path_put(&path);
		return vexfs_ext_corrupt(inode, "inserting over a mapped block", lblk);
	}
	if (i > 0 && vexfs_can_merge(&ex[i - 1], lblk, pblk, len, flags)) {
		le32_add_cpu(&ex[i - 1].ee_len, len);
		if (i < n && vexfs_can_merge(&ex[i - 1],
				le64_to_cpu(ex[i].ee_logical),
				le64_to_cpu(ex[i].ee_physical),
				le32_to_cpu(ex[i].ee_len),
				le32_to_cpu(ex[i].ee_flags))) {
			le32_add_cpu(&ex[i - 1].ee_len, le32_to_cpu(ex[i].ee_len));
			memmove(&ex[i], &ex[i + 1], (n - i - 1) * sizeof(*ex));
			memset(&ex[n - 1], 0, sizeof(*ex));
			leaf->eh_entries = cpu_to_le16(n - 1);
		}
		err = vexfs_dirty_node(handle, inode, &path.p[path.depth]);
		goto out;
	}
	if (i < n && le32_to_cpu(ex[i].ee_flags) == flags &&
	    lblk + len == le64_to_cpu(ex[i].ee_logical) &&
	    pblk + len == le64_to_cpu(ex[i].ee_physical) &&
	    (u64)le32_to_cpu(ex[i].ee_len) + len <= VEXFS_EXT_MAX_LEN) {
		ex[i].ee_logical = cpu_to_le64(lblk);
		ex[i].ee_physical = cpu_to_le64(pblk);
		le32_add_cpu(&ex[i].ee_len, len);
		err = vexfs_dirty_node(handle, inode, &path.p[path.depth]);
		if (!err && i == 0)
			err = vexfs_fix_keys(handle, inode, &path, lblk);
		goto out;
	}
	if (n >= le16_to_cpu(leaf->eh_max)) {
		vexfs_path_put(&path);
		err = vexfs_make_room(handle, inode, lblk, &path);
		if (err)
			return err;
		leaf = path.p[path.depth].eh;
		n = le16_to_cpu(leaf->eh_entries);
		ex = EXT_FIRST(leaf);
		for (i = 0; i < n && le64_to_cpu(ex[i].ee_logical) < lblk; i++)
			;
	}
	memmove(&ex[i + 1], &ex[i], (n - i) * sizeof(*ex));
	ex[i].ee_logical = cpu_to_le64(lblk);
	ex[i].ee_physical = cpu_to_le64(pblk);
	ex[i].ee_len = cpu_to_le32(len);
	ex[i].ee_flags = cpu_to_le32(flags);
	leaf->eh_entries = cpu_to_le16(n + 1);
	err = vexfs_dirty_node(handle, inode, &path.p[path.depth]);
	if (!err && i == 0)
		err = vexfs_fix_keys(handle, inode, &path, lblk);
out:
	vexfs_path_put(&path);
	if (!err)
		err = vexfs_mark_inode_dirty(handle, inode);
	return err;
}

/* The smallest key right of the path's leaf, or U64_MAX. */
static u64 vexfs_next_key(struct vexfs_path *path)
{
	int k;

	for (k = path->depth - 1; k >= 0; k--) {
		struct vexfs_extent_header *eh = path->p[k].eh;

		if (path->p[k].idx + 1 < le16_to_cpu(eh->eh_entries))
			return le64_to_cpu(IDX_FIRST(eh)[path->p[k].idx + 1].ei_logical);
	}
	return U64_MAX;
}

/* Takes empty nodes at the bottom of the path out of the tree. */
static int vexfs_collapse(handle_t *handle, struct inode *inode,
			  struct vexfs_path *path)
{
	int k = path->depth, err;

	while (k > 0 && le16_to_cpu(path->p[k].eh->eh_entries) == 0) {
		struct vexfs_extent_header *parent = path->p[k - 1].eh;
		struct vexfs_extent_idx *pix = IDX_FIRST(parent);
		unsigned int pn = le16_to_cpu(parent->eh_entries);
		int pi = path->p[k - 1].idx;
		u64 blk = path->p[k].bh->b_blocknr;

		memmove(pix + pi, pix + pi + 1, (pn - pi - 1) * sizeof(*pix));
		memset(pix + pn - 1, 0, sizeof(*pix));
		parent->eh_entries = cpu_to_le16(pn - 1);
		err = vexfs_dirty_node(handle, inode, &path->p[k - 1]);
		if (err)
			return err;
		brelse(path->p[k].bh);
		path->p[k].bh = NULL;
		err = vexfs_free_blocks(handle, inode, blk, 1,
					VEXFS_FREE_METADATA);
		if (err)
			return err;
		k--;
	}
	if (k == 0 && path->depth > 0 &&
	    le16_to_cpu(path->p[0].eh->eh_entries) == 0)
		vexfs_ext_init_root(inode);
	return 0;
}

/*
 * Credits for the next removal step. When the transaction cannot grow, it
 * is committed and the handle restarted; i_data_sem is dropped meanwhile
 * (the tree is consistent between steps), since the commit may have to
 * write this file's ordered data, which maps blocks under it (as ext4's
 * ext4_datasem_ensure_credits).
 */
static int vexfs_remove_credits(handle_t *handle, struct inode *inode)
{
	int want = VEXFS_TRUNCATE_CREDITS, err;

	if (!handle)
		return 0;
	if (jbd2_handle_buffer_credits(handle) >= want &&
	    handle->h_revoke_credits >= want)
		return 0;
	err = jbd2_journal_extend(handle, want, want);
	if (err <= 0)
		return err;
	up_write(&VEXFS_I(inode)->i_data_sem);
	err = jbd2__journal_restart(handle, want, want, GFP_NOFS);
	down_write(&VEXFS_I(inode)->i_data_sem);
	return err;
}

/* Whether a file's blocks hold journaled metadata (FORMAT.md 9.4). */
static int vexfs_free_flags(struct inode *inode)
{
	if (S_ISREG(inode->i_mode) &&
	    !(VEXFS_I(inode)->i_flags & VEXFS_IFL_INTERNAL))
		return 0;
	if (S_ISLNK(inode->i_mode))
		return 0;
	return VEXFS_FREE_METADATA;
}

/**
 * vexfs_ext_remove - unmap and free file blocks [start, end)
 * @handle: the handle; it is extended (or restarted between steps, where
 *	the tree is consistent) as the removal goes
 * @inode: the file; i_data_sem held for writing
 * @start: first file block
 * @end: first file block after the range (U64_MAX: to the end)
 *
 * Extents are trimmed, split or dropped; emptied tree blocks are freed.
 * Blocks of directories and internal files are revoked (journaled
 * metadata). Return: 0, -EUCLEAN (damaged tree), -EIO, -ENOSPC.
 */
int vexfs_ext_remove(handle_t *handle, struct inode *inode, u64 start,
		     u64 end)
{
	u64 chunk = (u64)inode->i_sb->s_blocksize << 3;
	int fflags = vexfs_free_flags(inode);
	struct vexfs_path path;
	unsigned long iter;
	int err = 0;

	for (iter = 0; start < end; iter++) {
		struct vexfs_extent_header *leaf;
		struct vexfs_extent *ex, *e;
		unsigned int n, i;
		u64 el, ep, eend, s, t, cnt;
		u32 elen, ef;

		cond_resched();
		if (iter > 4 * VEXFS_SB(inode->i_sb)->s_block_count + 64)
			return vexfs_ext_corrupt(inode, "removal does not end", start);
		err = vexfs_remove_credits(handle, inode);
		if (err)
			break;
		err = vexfs_find_path(handle, inode, start, &path);
		if (err)
			break;
		leaf = path.p[path.depth].eh;
		n = le16_to_cpu(leaf->eh_entries);
		ex = EXT_FIRST(leaf);
		for (i = 0; i < n; i++)
			if (le64_to_cpu(ex[i].ee_logical) +
			    le32_to_cpu(ex[i].ee_len) > start)
				break;
		if (i == n) {
			u64 next = vexfs_next_key(&path);

			if (n == 0 && path.depth > 0)
				err = vexfs_collapse(handle, inode, &path);
			vexfs_path_put(&path);
			if (err || next == U64_MAX || next >= end)
				break;
			start = max(start, next);
			if (n != 0)
				continue;
			continue;
		}
		e = &ex[i];
		el = le64_to_cpu(e->ee_logical);
		ep = le64_to_cpu(e->ee_physical);
		elen = le32_to_cpu(e->ee_len);
		ef = le32_to_cpu(e->ee_flags);
		eend = el + elen;
		if (el >= end) {
			vexfs_path_put(&path);
			break;
		}
		s = max(el, start);
		t = min(eend, end);
		if (s > el && t < eend) {
			/*
			 * Inside one extent: keep [el, s), free [s, s + cnt),
			 * put [s + cnt, eend) back as its own extent (the gap
			 * keeps it from merging with [el, s) again).
			 */
			cnt = min(t - s, chunk);
			e->ee_len = cpu_to_le32(s - el);
			err = vexfs_dirty_node(handle, inode, &path.p[path.depth]);
			vexfs_path_put(&path);
			if (!err)
				err = vexfs_mark_inode_dirty(handle, inode);
			if (!err)
				err = vexfs_ext_insert(handle, inode, s + cnt,
						       ep + (s + cnt - el),
						       eend - (s + cnt), ef);
			if (!err)
				err = vexfs_free_blocks(handle, inode,
							ep + (s - el), cnt,
							fflags);
			if (err)
				break;
			continue;
		}
		if (s == el) {
			cnt = min(t - s, chunk);
			err = vexfs_free_blocks(handle, inode, ep, cnt, fflags);
			if (cnt == elen) {
				memmove(e, e + 1, (n - i - 1) * sizeof(*e));
				memset(&ex[n - 1], 0, sizeof(*e));
				leaf->eh_entries = cpu_to_le16(n - 1);
			} else {
				e->ee_logical = cpu_to_le64(el + cnt);
				e->ee_physical = cpu_to_le64(ep + cnt);
				e->ee_len = cpu_to_le32(elen - cnt);
			}
		} else {
			cnt = min(t - s, chunk);
			err = vexfs_free_blocks(handle, inode,
						ep + elen - cnt, cnt, fflags);
			e->ee_len = cpu_to_le32(elen - cnt);
		}
		if (!err)
			err = vexfs_dirty_node(handle, inode, &path.p[path.depth]);
		if (!err && le16_to_cpu(leaf->eh_entries) == 0 && path.depth > 0)
			err = vexfs_collapse(handle, inode, &path);
		vexfs_path_put(&path);
		if (!err)
			err = vexfs_mark_inode_dirty(handle, inode);
		if (err)
			break;
	}
	return err;
}

/**
 * vexfs_ext_mark_written - unwritten blocks [lblk, lblk + len) become
 *	written (after write_begin zeroed or filled them)
 * @handle: the handle (2 * VEXFS_EXTENT_CREDITS), or NULL
 * @inode: the file; i_data_sem held for writing
 * @lblk: first file block, inside one unwritten extent
 * @len: blocks, clamped to that extent
 *
 * Return: 0, -EUCLEAN, -ENOSPC, -EIO.
 */
int vexfs_ext_mark_written(handle_t *handle, struct inode *inode, u64 lblk,
			   u32 len)
{
	struct vexfs_extent_header *leaf;
	struct vexfs_extent *ex, *e;
	struct vexfs_path path;
	u64 el, ep, eend, end;
	unsigned int n, i;
	u32 elen;
	int err;

	err = vexfs_find_path(handle, inode, lblk, &path);
	if (err)
		return err;
	leaf = path.p[path.depth].eh;
	n = le16_to_cpu(leaf->eh_entries);
	ex = EXT_FIRST(leaf);
	for (i = 0; i < n; i++)
		if (le64_to_cpu(ex[i].ee_logical) +
		    le32_to_cpu(ex[i].ee_len) > lblk)
			break;
	if (i == n || le64_to_cpu(ex[i].ee_logical) > lblk ||
	    !(le32_to_cpu(ex[i].ee_flags) & VEXFS_EXT_UNWRITTEN)) {
		vexfs_path_put(&path);
		return 0;	/* already written (or a hole): nothing to do */
	}
	e = &ex[i];
	el = le64_to_cpu(e->ee_logical);
	ep = le64_to_cpu(e->ee_physical);
	elen = le32_to_cpu(e->ee_len);
	eend = el + elen;
	end = min_t(u64, lblk + len, eend);
	if (lblk == el && end == eend) {
		if (i > 0 && vexfs_can_merge(&ex[i - 1], el, ep, elen, 0)) {
			/* the written extent before grows over it */
			le32_add_cpu(&ex[i - 1].ee_len, elen);
			memmove(&ex[i], &ex[i + 1], (n - i - 1) * sizeof(*ex));
			memset(&ex[n - 1], 0, sizeof(*ex));
			leaf->eh_entries = cpu_to_le16(n - 1);
		} else {
			e->ee_flags = 0;
		}
		err = vexfs_dirty_node(handle, inode, &path.p[path.depth]);
		vexfs_path_put(&path);
		goto out;
	}
	if (lblk == el && i > 0 &&
	    vexfs_can_merge(&ex[i - 1], el, ep, end - el, 0)) {
		le32_add_cpu(&ex[i - 1].ee_len, end - el);
		e->ee_logical = cpu_to_le64(end);
		e->ee_physical = cpu_to_le64(ep + (end - el));
		e->ee_len = cpu_to_le32(eend - end);
		err = vexfs_dirty_node(handle, inode, &path.p[path.depth]);
		vexfs_path_put(&path);
		goto out;
	}
	/* Shrink the unwritten extent to its head, then insert the rest. */
	if (lblk == el) {
		/* written head: [el, end) written, [end, eend) unwritten */
		e->ee_len = cpu_to_le32(end - el);
		e->ee_flags = 0;
		err = vexfs_dirty_node(handle, inode, &path.p[path.depth]);
		vexfs_path_put(&path);
		if (!err)
			err = vexfs_mark_inode_dirty(handle, inode);
		if (!err)
			err = vexfs_ext_insert(handle, inode, end,
					       ep + (end - el), eend - end,
					       VEXFS_EXT_UNWRITTEN);
		return err;
	}
	e->ee_len = cpu_to_le32(lblk - el);
	err = vexfs_dirty_node(handle, inode, &path.p[path.depth]);
	vexfs_path_put(&path);
	if (!err)
		err = vexfs_mark_inode_dirty(handle, inode);
	if (!err)
		err = vexfs_ext_insert(handle, inode, lblk, ep + (lblk - el),
				       end - lblk, 0);
	if (!err && end < eend)
		err = vexfs_ext_insert(handle, inode, end, ep + (end - el),
				       eend - end, VEXFS_EXT_UNWRITTEN);
	return err;
out:
	if (!err)
		err = vexfs_mark_inode_dirty(handle, inode);
	return err;
}

/**
 * vexfs_ext_init_root - an empty extent tree in the inode (FORMAT.md 5.2)
 * @inode: a regular file, directory or long symlink without blocks
 */
void vexfs_ext_init_root(struct inode *inode)
{
	struct vexfs_extent_header *eh = (void *)VEXFS_I(inode)->i_data;

	memset(VEXFS_I(inode)->i_data, 0, VEXFS_INODE_DATA_SIZE);
	eh->eh_magic = cpu_to_le16(VEXFS_EXT_MAGIC);
	eh->eh_max = cpu_to_le16(VEXFS_EXT_ROOT_MAX);
}

/**
 * vexfs_ext_alloc - allocate and map blocks for a hole
 * @handle: the handle (VEXFS_DATA_CREDITS), or NULL
 * @inode: the file; i_data_sem held for writing
 * @lblk: first file block, in a hole
 * @want: blocks wanted (clamped to the hole)
 * @flags: 0 or VEXFS_EXT_UNWRITTEN (fallocate)
 * @pblk: out: first device block
 * @got: out: blocks mapped, >= 1
 *
 * The goal is the block after the extent before @lblk, so a file written
 * in order stays contiguous. Return: 0, -ENOSPC, -EUCLEAN, -EIO.
 */
int vexfs_ext_alloc(handle_t *handle, struct inode *inode, u64 lblk,
		    u32 want, u32 flags, u64 *pblk, u32 *got)
{
	struct vexfs_extent_header *leaf;
	struct vexfs_extent *ex;
	struct vexfs_path path;
	unsigned int n, i;
	u64 goal = 0, limit = U64_MAX;
	u32 count;
	int err;

	err = vexfs_find_path(handle, inode, lblk, &path);
	if (err)
		return err;
	leaf = path.p[path.depth].eh;
	n = le16_to_cpu(leaf->eh_entries);
	ex = EXT_FIRST(leaf);
	for (i = 0; i < n && le64_to_cpu(ex[i].ee_logical) <= lblk; i++)
		;
	if (i > 0) {
		u64 l = le64_to_cpu(ex[i - 1].ee_logical);

		if (l + le32_to_cpu(ex[i - 1].ee_len) > lblk) {
			vexfs_path_put(&path);
			return vexfs_ext_corrupt(inode, "allocating a mapped block", lblk);
		}
		goal = le64_to_cpu(ex[i - 1].ee_physical) + (lblk - l);
	}
	if (i < n)
		limit = le64_to_cpu(ex[i].ee_logical);
	else
		limit = vexfs_next_key(&path);
	vexfs_path_put(&path);
	if (limit <= lblk)
		return vexfs_ext_corrupt(inode, "index key inside a hole", lblk);
	count = min_t(u64, want ? want : 1, limit - lblk);
	count = min_t(u32, count, VEXFS_EXT_MAX_LEN);
	err = vexfs_new_blocks(handle, inode, goal, &count, pblk);
	if (err)
		return err;
	err = vexfs_ext_insert(handle, inode, lblk, *pblk, count, flags);
	if (err) {
		vexfs_free_blocks(handle, inode, *pblk, count, 0);
		return err;
	}
	*got = count;
	return 0;
}
