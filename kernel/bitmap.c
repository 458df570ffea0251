// SPDX-License-Identifier: GPL-2.0
/*
 * bitmap.c - the block and inode bitmaps (FORMAT.md 2.1): allocation with
 * a goal, freeing, the free counts. Bit i is bit i % 8 of byte i / 8, a set
 * bit is "in use"; the block bitmap covers every block, the inode bitmap
 * inode i + 1 at bit i. Bitmaps have no checksum: every block number and
 * bit is checked against the geometry before use, and a bit found in the
 * wrong state is reported through vexfs_error (EUCLEAN).
 *
 * Blocks freed by a transaction are kept on sbi->s_freed until it commits
 * (FORMAT.md 9.4), as ext4 does with its freed-data list: the allocator
 * skips them.
 */
#include <linux/slab.h>
#include <linux/random.h>
#include "vexfs.h"

static void vexfs_set_run(void *map, u64 off, u64 n)
{
	while (n--)
		set_bit_le(off++, map);
}

static void vexfs_clear_run(void *map, u64 off, u64 n)
{
	while (n--)
		clear_bit_le(off++, map);
}

struct vexfs_freed {
	struct list_head list;
	u64 start;
	u64 len;
	tid_t tid;
};

/* Whether [b, b + len) overlaps one of the FLEX_META runs (FORMAT.md 2.2). */
static bool vexfs_meta_overlap(struct vexfs_sb_info *sbi, u64 b, u64 len)
{
	u64 runs[3][2] = {
		{ sbi->s_block_bitmap_start, sbi->s_block_bitmap_blocks },
		{ sbi->s_inode_bitmap_start, sbi->s_inode_bitmap_blocks },
		{ sbi->s_inode_table_start, sbi->s_inode_table_blocks },
	};
	int i;

	for (i = 0; i < 3; i++)
		if (b < runs[i][0] + runs[i][1] && runs[i][0] < b + len)
			return true;
	return false;
}

/**
 * vexfs_data_run_ok - whether [pblk, pblk + len) lies in the data area
 * @sbi: the filesystem
 * @pblk: first device block
 * @len: blocks, > 0
 *
 * The data area is first_data_block .. block_count - 2 without the
 * bitmaps and the inode table (FORMAT.md 2 and 2.2). Return: true when
 * the whole run is inside it.
 */
bool vexfs_data_run_ok(struct vexfs_sb_info *sbi, u64 pblk, u64 len)
{
	return len > 0 && pblk >= sbi->s_first_data_block &&
	       pblk < sbi->s_block_count - 1 &&
	       len <= sbi->s_block_count - 1 - pblk &&
	       !vexfs_meta_overlap(sbi, pblk, len);
}

/* Blocks of [b, b + len) freed but not committed: the end of the first such
 * run that overlaps, or 0. Called under s_alloc_mutex. */
static u64 vexfs_freed_overlap(struct vexfs_sb_info *sbi, u64 b, u64 len)
{
	struct vexfs_freed *f;

	list_for_each_entry(f, &sbi->s_freed, list)
		if (b < f->start + f->len && f->start < b + len)
			return f->start + f->len;
	return 0;
}

/*
 * vexfs_release_freed - blocks freed by transactions up to @committed may
 *	be reused (the jbd2 commit callback)
 */
void vexfs_release_freed(struct super_block *sb, tid_t committed)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	struct vexfs_freed *f, *n;
	LIST_HEAD(done);

	mutex_lock(&sbi->s_alloc_mutex);
	list_for_each_entry_safe(f, n, &sbi->s_freed, list)
		if (!tid_gt(f->tid, committed))
			list_move(&f->list, &done);
	mutex_unlock(&sbi->s_alloc_mutex);
	list_for_each_entry_safe(f, n, &done, list)
		kfree(f);
}

/* Drops the whole list (unmount, after the last commit). */
static void vexfs_drop_freed(struct vexfs_sb_info *sbi)
{
	struct vexfs_freed *f, *n;

	list_for_each_entry_safe(f, n, &sbi->s_freed, list)
		kfree(f);
	INIT_LIST_HEAD(&sbi->s_freed);
}

/* The block bitmap block holding bit @bit, read. */
static struct buffer_head *vexfs_bitmap_bread(struct super_block *sb,
					      u64 start, u64 nblocks, u64 bit)
{
	u64 idx = bit >> (sb->s_blocksize_bits + 3);
	struct buffer_head *bh;

	if (idx >= nblocks)
		return ERR_PTR(-EUCLEAN);
	bh = sb_bread(sb, start + idx);
	if (!bh)
		return ERR_PTR(-EIO);
	return bh;
}

/**
 * vexfs_new_blocks - allocate a run of contiguous data blocks
 * @handle: the handle (credits: VEXFS_ALLOC_CREDITS), or NULL
 * @inode: the inode charged (i_blocks), or NULL
 * @goal: the block wanted first, 0 for the allocator's choice
 * @count: in: blocks wanted (>= 1); out: blocks given (>= 1)
 * @pblk: out: the first block
 *
 * Next fit from @goal over the block bitmap, wrapping once; a run never
 * crosses a bitmap block, so it changes one bitmap block. The run is not
 * zeroed. Return: 0, -ENOSPC, -EUCLEAN (a damaged bitmap, reported), -EIO.
 */
int vexfs_new_blocks(handle_t *handle, struct inode *inode, u64 goal,
		     u32 *count, u64 *pblk)
{
	struct super_block *sb;
	struct vexfs_sb_info *sbi;
	u64 bits_per = 0, total, scanned = 0, b, end;
	struct buffer_head *bh = NULL;
	u32 want = *count;
	int err = -ENOSPC;

	sb = inode ? inode->i_sb : NULL;
	if (!sb || !want)
		return -EINVAL;
	sbi = VEXFS_SB(sb);
	bits_per = (u64)sb->s_blocksize << 3;
	total = sbi->s_block_count;
	if (goal < sbi->s_first_data_block || goal >= total - 1)
		goal = sbi->s_block_goal;
	if (goal < sbi->s_first_data_block || goal >= total - 1)
		goal = sbi->s_first_data_block;

	mutex_lock(&sbi->s_alloc_mutex);
	if (sbi->s_free_blocks == 0)
		goto out;
	b = goal;
	while (scanned < total) {
		u64 base = b - (b & (bits_per - 1));
		u64 off = b - base, lim = min_t(u64, bits_per, total - base);
		u64 found, run, skip;

		brelse(bh);
		bh = vexfs_bitmap_bread(sb, sbi->s_block_bitmap_start,
					sbi->s_block_bitmap_blocks, b);
		if (IS_ERR(bh)) {
			err = PTR_ERR(bh);
			bh = NULL;
			goto out;
		}
		found = find_next_zero_bit_le(bh->b_data, lim, off);
		if (found >= lim) {
			scanned += lim - off;
			b = base + lim;
			if (b >= total - 1)
				b = sbi->s_first_data_block;
			cond_resched();
			continue;
		}
		b = base + found;
		skip = vexfs_freed_overlap(sbi, b, 1);
		if (skip) {
			scanned += skip - b;
			b = skip >= total - 1 ? sbi->s_first_data_block : skip;
			continue;
		}
		if (!vexfs_data_run_ok(sbi, b, 1)) {
			if (b >= total - 1 || b < sbi->s_first_data_block) {
				/* the area before the data or the backup */
				scanned += 1;
				b = b + 1 >= total - 1 ?
				    sbi->s_first_data_block : b + 1;
				continue;
			}
			vexfs_error(sb, 0, EUCLEAN, "alloc",
				    "block %llu of the metadata area is free in the block bitmap",
				    b);
			err = -EUCLEAN;
			goto out;
		}
		end = find_next_bit_le(bh->b_data, lim, found);
		run = min_t(u64, end - found, want);
		run = min_t(u64, run, total - 1 - b);
		skip = vexfs_freed_overlap(sbi, b, run);
		while (run > 1 && (skip || !vexfs_data_run_ok(sbi, b, run))) {
			run = run / 2;
			skip = vexfs_freed_overlap(sbi, b, run);
		}
		if (skip || !vexfs_data_run_ok(sbi, b, run)) {
			scanned += 1;
			b++;
			continue;
		}
		if (run > sbi->s_free_blocks) {
			vexfs_error(sb, 0, EUCLEAN, "alloc",
				    "the free block count %llu is below the bitmap's",
				    sbi->s_free_blocks);
			err = -EUCLEAN;
			goto out;
		}
		err = vexfs_get_write_access(handle, bh);
		if (err)
			goto out;
		lock_buffer(bh);
		vexfs_set_run(bh->b_data, found, run);
		unlock_buffer(bh);
		err = vexfs_dirty_metadata(handle, NULL, bh);
		if (err)
			goto out;
		spin_lock(&sbi->s_lock);
		sbi->s_free_blocks -= run;
		spin_unlock(&sbi->s_lock);
		sbi->s_block_goal = b + run;
		err = vexfs_journal_super(handle, sb);
		if (err)
			goto out;
		*pblk = b;
		*count = run;
		if (inode)
			inode_add_bytes(inode, run << sb->s_blocksize_bits);
		err = 0;
		goto out;
	}
	err = -ENOSPC;
out:
	mutex_unlock(&sbi->s_alloc_mutex);
	brelse(bh);
	return err;
}

/**
 * vexfs_free_blocks - free a run of data blocks
 * @handle: the handle (credits: VEXFS_ALLOC_CREDITS), or NULL
 * @inode: the inode charged (i_blocks), or NULL
 * @pblk: the first block
 * @count: blocks
 * @flags: VEXFS_FREE_METADATA: revoke them (they held metadata)
 *
 * Return: 0, -EUCLEAN for a run outside the data area or a block already
 * free (reported, nothing freed), -EIO, -ENOMEM.
 */
int vexfs_free_blocks(handle_t *handle, struct inode *inode, u64 pblk,
		      u64 count, int flags)
{
	struct super_block *sb = inode->i_sb;
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	u64 bits_per = (u64)sb->s_blocksize << 3;
	u64 done = 0;
	int err = 0;

	if (!count)
		return 0;
	if (!vexfs_data_run_ok(sbi, pblk, count)) {
		vexfs_error(sb, inode->i_ino, EUCLEAN, "free",
			    "freeing blocks %llu..%llu outside the data area",
			    pblk, pblk + count - 1);
		return -EUCLEAN;
	}
	if (flags & VEXFS_FREE_METADATA) {
		u64 i;

		for (i = 0; i < count; i++) {
			err = vexfs_forget(handle, true, inode,
					   sb_find_get_block(sb, pblk + i),
					   pblk + i);
			if (err)
				return err;
		}
	}
	mutex_lock(&sbi->s_alloc_mutex);
	while (done < count) {
		u64 b = pblk + done;
		u64 off = b & (bits_per - 1);
		u64 n = min_t(u64, count - done, bits_per - off);
		struct buffer_head *bh;
		u64 i;

		bh = vexfs_bitmap_bread(sb, sbi->s_block_bitmap_start,
					sbi->s_block_bitmap_blocks, b);
		if (IS_ERR(bh)) {
			err = PTR_ERR(bh);
			break;
		}
		for (i = 0; i < n; i++)
			if (!test_bit_le(off + i, bh->b_data))
				break;
		if (i < n) {
			brelse(bh);
			vexfs_error(sb, inode->i_ino, EUCLEAN, "free",
				    "block %llu is already free in the bitmap",
				    b + i);
			err = -EUCLEAN;
			break;
		}
		if (handle) {
			struct vexfs_freed *f = kmalloc(sizeof(*f), GFP_NOFS);

			if (!f) {
				brelse(bh);
				err = -ENOMEM;
				break;
			}
			f->start = b;
			f->len = n;
			f->tid = handle->h_transaction->t_tid;
			list_add_tail(&f->list, &sbi->s_freed);
		}
		err = vexfs_get_write_access(handle, bh);
		if (!err) {
			lock_buffer(bh);
			vexfs_clear_run(bh->b_data, off, n);
			unlock_buffer(bh);
			err = vexfs_dirty_metadata(handle, NULL, bh);
		}
		brelse(bh);
		if (err)
			break;
		spin_lock(&sbi->s_lock);
		sbi->s_free_blocks += n;
		spin_unlock(&sbi->s_lock);
		inode_sub_bytes(inode, n << sb->s_blocksize_bits);
		done += n;
	}
	mutex_unlock(&sbi->s_alloc_mutex);
	if (done) {
		int e = vexfs_journal_super(handle, sb);

		if (!err)
			err = e;
	}
	return err;
}

/**
 * vexfs_new_ino - allocate an inode number
 * @handle: the handle (credits: VEXFS_NEW_INODE_CREDITS), or NULL
 * @sb: the filesystem
 * @goal: the number wanted first (the parent's), 0 for any
 * @ino: out: the number, first_ino .. inode_count
 *
 * Return: 0, -ENOSPC, -EUCLEAN (a damaged bitmap, reported), -EIO.
 */
int vexfs_new_ino(handle_t *handle, struct super_block *sb, u64 goal,
		  u64 *ino)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	u64 bits_per = (u64)sb->s_blocksize << 3;
	u64 total = sbi->s_inode_count;
	u64 bit, scanned = 0;
	struct buffer_head *bh;
	int err = -ENOSPC;

	if (goal < VEXFS_FIRST_INO || goal > total)
		goal = sbi->s_inode_goal;
	if (goal < VEXFS_FIRST_INO || goal > total)
		goal = VEXFS_FIRST_INO;
	bit = goal - 1;
	mutex_lock(&sbi->s_alloc_mutex);
	if (!sbi->s_free_inodes)
		goto out;
	while (scanned < total) {
		u64 base = bit - (bit & (bits_per - 1));
		u64 lim = min_t(u64, bits_per, total - base);
		u64 found;

		bh = vexfs_bitmap_bread(sb, sbi->s_inode_bitmap_start,
					sbi->s_inode_bitmap_blocks, bit);
		if (IS_ERR(bh)) {
			err = PTR_ERR(bh);
			goto out;
		}
		found = find_next_zero_bit_le(bh->b_data, lim, bit - base);
		if (found >= lim) {
			brelse(bh);
			scanned += lim - (bit - base);
			bit = base + lim;
			if (bit >= total)
				bit = VEXFS_FIRST_INO - 1;
			cond_resched();
			continue;
		}
		if (base + found < VEXFS_FIRST_INO - 1) {
			brelse(bh);
			vexfs_error(sb, base + found + 1, EUCLEAN, "ialloc",
				    "reserved inode is free in the inode bitmap");
			err = -EUCLEAN;
			goto out;
		}
		err = vexfs_get_write_access(handle, bh);
		if (!err) {
			lock_buffer(bh);
			set_bit_le(found, bh->b_data);
			unlock_buffer(bh);
			err = vexfs_dirty_metadata(handle, NULL, bh);
		}
		brelse(bh);
		if (err)
			goto out;
		spin_lock(&sbi->s_lock);
		if (sbi->s_free_inodes)
			sbi->s_free_inodes--;
		spin_unlock(&sbi->s_lock);
		*ino = base + found + 1;
		sbi->s_inode_goal = *ino + 1;
		err = vexfs_journal_super(handle, sb);
		goto out;
	}
	err = -ENOSPC;
out:
	mutex_unlock(&sbi->s_alloc_mutex);
	return err;
}

/**
 * vexfs_free_ino - free an inode number (its bytes stay, FORMAT.md 4.2)
 * @handle: the handle, or NULL
 * @sb: the filesystem
 * @ino: first_ino .. inode_count
 *
 * Return: 0, -EUCLEAN (out of range or already free, reported), -EIO.
 */
int vexfs_free_ino(handle_t *handle, struct super_block *sb, u64 ino)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	u64 bits_per = (u64)sb->s_blocksize << 3;
	struct buffer_head *bh;
	u64 bit = ino - 1;
	int err;

	if (ino < VEXFS_FIRST_INO || ino > sbi->s_inode_count) {
		vexfs_error(sb, ino, EUCLEAN, "ifree", "freeing a reserved or out of range inode");
		return -EUCLEAN;
	}
	mutex_lock(&sbi->s_alloc_mutex);
	bh = vexfs_bitmap_bread(sb, sbi->s_inode_bitmap_start,
				sbi->s_inode_bitmap_blocks, bit);
	if (IS_ERR(bh)) {
		err = PTR_ERR(bh);
		goto out;
	}
	bit &= bits_per - 1;
	if (!test_bit_le(bit, bh->b_data)) {
		brelse(bh);
		vexfs_error(sb, ino, EUCLEAN, "ifree", "inode is already free in the bitmap");
		err = -EUCLEAN;
		goto out;
	}
	err = vexfs_get_write_access(handle, bh);
	if (!err) {
		lock_buffer(bh);
		clear_bit_le(bit, bh->b_data);
		unlock_buffer(bh);
		err = vexfs_dirty_metadata(handle, NULL, bh);
	}
	brelse(bh);
	if (err)
		goto out;
	spin_lock(&sbi->s_lock);
	sbi->s_free_inodes++;
	spin_unlock(&sbi->s_lock);
	err = vexfs_journal_super(handle, sb);
out:
	mutex_unlock(&sbi->s_alloc_mutex);
	return err;
}

/* Zero bits in [0, lim) of a bitmap block. */
static u64 vexfs_count_zero(const u8 *map, u64 lim)
{
	u64 i, used = 0;

	for (i = 0; i < lim / 8; i++)
		used += hweight8(map[i]);
	for (i = lim & ~7ULL; i < lim; i++)
		used += test_bit_le(i, map);
	return lim - used;
}

/**
 * vexfs_count_free - count the free blocks and inodes from the bitmaps
 * @sb: the filesystem
 *
 * The bitmaps are authoritative (FORMAT.md 3); the counts of the
 * superblock are replaced by these at a read-write mount. The bitmap
 * padding past the counts must be set (2.1). Return: 0, -EIO.
 */
int vexfs_count_free(struct super_block *sb)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	u64 bits_per = (u64)sb->s_blocksize << 3;
	u64 fb = 0, fi = 0, i;

	for (i = 0; i < sbi->s_block_bitmap_blocks; i++) {
		struct buffer_head *bh = sb_bread(sb, sbi->s_block_bitmap_start + i);
		u64 lim = min_t(u64, bits_per, sbi->s_block_count - i * bits_per);

		if (!bh)
			return -EIO;
		fb += vexfs_count_zero(bh->b_data, lim);
		brelse(bh);
		cond_resched();
	}
	for (i = 0; i < sbi->s_inode_bitmap_blocks; i++) {
		struct buffer_head *bh = sb_bread(sb, sbi->s_inode_bitmap_start + i);
		u64 lim = min_t(u64, bits_per, sbi->s_inode_count - i * bits_per);

		if (!bh)
			return -EIO;
		fi += vexfs_count_zero(bh->b_data, lim);
		brelse(bh);
		cond_resched();
	}
	spin_lock(&sbi->s_lock);
	sbi->s_free_blocks = fb;
	sbi->s_free_inodes = fi;
	spin_unlock(&sbi->s_lock);
	return 0;
}

/* Frees the freed-block list at unmount (everything has committed). */
void vexfs_bitmap_destroy(struct super_block *sb)
{
	vexfs_drop_freed(VEXFS_SB(sb));
}
