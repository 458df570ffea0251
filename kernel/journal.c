// SPDX-License-Identifier: GPL-2.0
/*
 * journal.c - the metadata journal through the kernel's jbd2 (FORMAT.md
 * section 9: jbd2's own on-disk format in inode 4), in the manner of
 * fs/ext4/ext4_jbd2.c and the journal parts of fs/ext4/super.c.
 *
 * Every wrapper accepts the NULL handle, which is what vexfs_journal_start
 * returns on an image without the JOURNAL feature: changes then go
 * straight to the buffer cache (ext4's nojournal mode).
 */
#include <linux/jbd2.h>
#include <linux/blkdev.h>
#include <linux/writeback.h>
#include "vexfs.h"

/**
 * vexfs_journal_start - open a handle for one atomic change
 * @sb: the filesystem
 * @credits: the most metadata blocks the change dirties (VEXFS_*_CREDITS)
 *
 * Return: the handle; NULL (a valid handle) without a journal;
 * ERR_PTR(-EROFS) on a read-only or aborted filesystem, ERR_PTR(-ENOMEM).
 */
handle_t *vexfs_journal_start(struct super_block *sb, int credits)
{
	journal_t *journal = VEXFS_SB(sb)->s_journal;

	if (sb_rdonly(sb))
		return ERR_PTR(-EROFS);
	if (!journal)
		return NULL;
	if (is_journal_aborted(journal))
		return ERR_PTR(-EROFS);
	/* Revoke records: at most one per credit (freed metadata blocks). */
	return jbd2__journal_start(journal, credits, 0, credits, GFP_NOFS,
				   0, 0);
}

/**
 * vexfs_journal_stop - close a handle from vexfs_journal_start
 * @handle: the handle, or NULL
 *
 * Return: 0, or the error that aborted the transaction.
 */
int vexfs_journal_stop(handle_t *handle)
{
	if (!handle)
		return 0;
	return jbd2_journal_stop(handle);
}

/**
 * vexfs_journal_extend - add credits to a running handle
 * @handle: the handle, or NULL
 * @credits: buffer credits to add
 *
 * Extends the handle, or when its transaction cannot grow, commits what
 * the handle did so far and restarts it: call only where the filesystem
 * is consistent. Return: 0 or a negative errno.
 */
int vexfs_journal_extend(handle_t *handle, int credits)
{
	int err;

	if (!handle)
		return 0;
	if (jbd2_handle_buffer_credits(handle) >= credits &&
	    handle->h_revoke_credits >= credits)
		return 0;
	err = jbd2_journal_extend(handle, credits, credits);
	if (err <= 0)
		return err;
	return jbd2__journal_restart(handle, credits, credits, GFP_NOFS);
}

int vexfs_get_write_access(handle_t *handle, struct buffer_head *bh)
{
	if (!handle)
		return 0;
	return jbd2_journal_get_write_access(handle, bh);
}

int vexfs_get_create_access(handle_t *handle, struct buffer_head *bh)
{
	if (!handle)
		return 0;
	return jbd2_journal_get_create_access(handle, bh);
}

/**
 * vexfs_dirty_metadata - record a changed metadata block
 * @handle: the handle, or NULL
 * @inode: the inode the block belongs to (for fsync without a journal),
 *	or NULL
 * @bh: the block, after vexfs_get_write_access and the change
 *
 * A handle out of credits is extended first, so jbd2 never sees a handle
 * overrun. Return: 0 or a negative errno (the transaction is then
 * aborted by jbd2 and the caller reports through vexfs_error).
 */
int vexfs_dirty_metadata(handle_t *handle, struct inode *inode,
			 struct buffer_head *bh)
{
	int err;

	if (!handle) {
		set_buffer_uptodate(bh);
		if (inode)
			mark_buffer_dirty_inode(bh, inode);
		else
			mark_buffer_dirty(bh);
		return 0;
	}
	if (jbd2_handle_buffer_credits(handle) < 1) {
		err = jbd2_journal_extend(handle, 4, 0);
		if (err) {
			pr_err_ratelimited("vexfs: out of journal credits (%d)\n",
					   err);
			return err < 0 ? err : -ENOSPC;
		}
	}
	set_buffer_uptodate(bh);
	err = jbd2_journal_dirty_metadata(handle, bh);
	if (err)
		pr_err_ratelimited("vexfs: journaling block %llu failed: %d\n",
				   (unsigned long long)bh->b_blocknr, err);
	return err;
}

/**
 * vexfs_forget - a metadata block is freed by this handle
 * @handle: the handle, or NULL
 * @is_metadata: the block held journaled metadata: revoke it
 * @inode: its owner, or NULL
 * @bh: its buffer (sb_find_get_block), or NULL; the reference is consumed
 * @blocknr: the device block
 *
 * Revoking keeps replay from writing the block's old contents over its
 * next use, and forgetting the buffer keeps the checkpoint from writing
 * it (FORMAT.md 9.4). Return: 0 or a negative errno.
 */
int vexfs_forget(handle_t *handle, bool is_metadata, struct inode *inode,
		 struct buffer_head *bh, u64 blocknr)
{
	int err;

	if (!handle) {
		if (bh) {
			clear_buffer_dirty(bh);
			bforget(bh);
		}
		return 0;
	}
	if (!is_metadata) {
		if (bh)
			return jbd2_journal_forget(handle, bh);
		return 0;
	}
	if (handle->h_revoke_credits < 1) {
		err = jbd2_journal_extend(handle, 0, 8);
		if (err) {
			brelse(bh);
			return err < 0 ? err : -ENOSPC;
		}
	}
	return jbd2_journal_revoke(handle, blocknr, bh);
}

/**
 * vexfs_jbd2_inode_add_write - ordered data: write these file bytes
 *	before the running transaction commits
 * @handle: the handle, or NULL
 * @inode: the file
 * @start: first byte
 * @len: bytes
 */
int vexfs_jbd2_inode_add_write(handle_t *handle, struct inode *inode,
			       loff_t start, loff_t len)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);

	if (!handle || !vi->i_jinode || len <= 0)
		return 0;
	return jbd2_journal_inode_ranged_write(handle, vi->i_jinode, start,
					       len);
}

/**
 * vexfs_journal_force_commit - commit the running transaction
 * @sb: the filesystem
 * @wait: wait until the commit block is durable
 *
 * Return: 0, or a negative errno (-EIO for an aborted journal).
 */
int vexfs_journal_force_commit(struct super_block *sb, bool wait)
{
	journal_t *journal = VEXFS_SB(sb)->s_journal;
	tid_t tid;

	if (!journal)
		return 0;
	if (!wait) {
		jbd2_journal_start_commit(journal, &tid);
		return 0;
	}
	return jbd2_journal_force_commit(journal);
}

/* Ordered data: write a file's dirty range before the commit block. */
static int vexfs_submit_inode_data(struct jbd2_inode *jinode)
{
	struct address_space *mapping = jinode->i_vfs_inode->i_mapping;
	struct writeback_control wbc = {
		.sync_mode = WB_SYNC_ALL,
		.nr_to_write = LONG_MAX,
		.range_start = jinode->i_dirty_start,
		.range_end = jinode->i_dirty_end,
	};

	return filemap_fdatawrite_wbc(mapping, &wbc);
}

/* Blocks freed by a committed transaction may be reused now. */
static void vexfs_commit_callback(journal_t *journal,
				  transaction_t *transaction)
{
	vexfs_release_freed(journal->j_private, transaction->t_tid);
}

/*
 * Checks inode 4 as FORMAT.md 9.1 describes it before jbd2 sees it: a
 * regular internal file of journal_blocks * block_size bytes whose every
 * block is mapped (no holes, no unwritten extents) inside the data area.
 */
static int vexfs_check_journal_inode(struct super_block *sb,
				     struct inode *inode, u64 jblocks)
{
	u64 lblk = 0, pblk;
	bool unwritten;
	u32 len;
	int err;

	if (!S_ISREG(inode->i_mode) ||
	    !(VEXFS_I(inode)->i_flags & VEXFS_IFL_INTERNAL) ||
	    (VEXFS_I(inode)->i_flags & VEXFS_IFL_INLINE) ||
	    jblocks < VEXFS_JOURNAL_MIN_BLOCKS ||
	    jblocks > VEXFS_JOURNAL_MAX_BLOCKS ||
	    inode->i_size != (loff_t)(jblocks << sb->s_blocksize_bits)) {
		pr_err("vexfs: %s: the journal inode is not what FORMAT.md 9.1 says (mode 0%o, size %lld, %llu blocks); run 'vexfs fsck'\n",
		       sb->s_id, inode->i_mode, inode->i_size, jblocks);
		return -EUCLEAN;
	}
	while (lblk < jblocks) {
		err = vexfs_map_block(inode, lblk, &pblk, &len, &unwritten);
		if (err)
			return err;
		if (len == 0 || unwritten) {
			pr_err("vexfs: %s: the journal has a hole or an unwritten extent at block %llu; run 'vexfs fsck'\n",
			       sb->s_id, lblk);
			return -EUCLEAN;
		}
		lblk += len;
		cond_resched();
	}
	return 0;
}

/**
 * vexfs_journal_load - open the journal of an image with JOURNAL
 * @sb: the filesystem, its superblock read and checked
 *
 * Checks inode 4, hands it to jbd2, which checks the journal superblock
 * and replays committed transactions (FORMAT.md 9.5; as ext4, a read-only
 * mount replays too unless the device itself is read-only). Sets
 * sbi->s_journal. Return: 0 or a negative errno, with a dmesg line.
 */
int vexfs_journal_load(struct super_block *sb)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	u64 jino = le64_to_cpu(sbi->s_es.s_journal_ino);
	u64 jblocks = le64_to_cpu(sbi->s_es.s_journal_blocks);
	bool ro = sb_rdonly(sb);
	struct inode *inode;
	journal_t *journal;
	int err;

	if (jino != VEXFS_JOURNAL_INO) {
		pr_err("vexfs: %s: journal inode %llu, expected %u; run 'vexfs fsck'\n",
		       sb->s_id, jino, VEXFS_JOURNAL_INO);
		return -EUCLEAN;
	}
	inode = vexfs_iget(sb, jino);
	if (IS_ERR(inode)) {
		pr_err("vexfs: %s: cannot read the journal inode: %ld\n",
		       sb->s_id, PTR_ERR(inode));
		return PTR_ERR(inode);
	}
	err = vexfs_check_journal_inode(sb, inode, jblocks);
	if (err) {
		iput(inode);
		return err;
	}
	journal = jbd2_journal_init_inode(inode);
	if (IS_ERR_OR_NULL(journal)) {
		pr_err("vexfs: %s: jbd2 refused the journal inode\n", sb->s_id);
		iput(inode);
		return journal ? PTR_ERR(journal) : -EINVAL;
	}
	journal->j_private = sb;
	journal->j_commit_callback = vexfs_commit_callback;
	journal->j_submit_inode_data_buffers = vexfs_submit_inode_data;
	journal->j_finish_inode_data_buffers =
		jbd2_journal_finish_inode_data_buffers;
	if (sbi->s_commit_interval)
		journal->j_commit_interval = sbi->s_commit_interval * HZ;
	write_lock(&journal->j_state_lock);
	journal->j_flags |= JBD2_BARRIER;
	write_unlock(&journal->j_state_lock);

	if (ro && bdev_read_only(sb->s_bdev) &&
	    (sbi->s_incompat & VEXFS_FEATURE_INCOMPAT_RECOVER)) {
		pr_err("vexfs: %s: the journal needs recovery and the device is read-only; replay it with 'vexfs fsck -y' or make the device writable\n",
		       sb->s_id);
		err = -EROFS;
		goto fail;
	}
	err = jbd2_journal_load(journal);	/* replays, as ext4 even ro */
	if (err) {
		pr_err("vexfs: %s: cannot load the journal (%d); run 'vexfs fsck'\n",
		       sb->s_id, err);
		goto fail;
	}
	if (!jbd2_journal_check_used_features(journal, 0, 0,
			JBD2_FEATURE_INCOMPAT_64BIT |
			JBD2_FEATURE_INCOMPAT_CSUM_V3)) {
		pr_err("vexfs: %s: the journal lacks the 64bit and csum_v3 features VexFS writes (FORMAT.md 9.3)\n",
		       sb->s_id);
		err = -EUCLEAN;
		goto fail_loaded;
	}
	err = jbd2_journal_errno(journal);
	if (err) {
		pr_warn("vexfs: %s: the journal was aborted by an error (%d) before; run 'vexfs fsck'\n",
			sb->s_id, err);
		if (!ro)
			jbd2_journal_clear_err(journal);
	}
	sbi->s_journal = journal;
	return 0;
fail_loaded:
fail:
	jbd2_journal_destroy(journal);	/* drops the inode too */
	return err;
}

/**
 * vexfs_journal_destroy - checkpoint everything and close the journal
 * @sb: the filesystem
 *
 * After it every committed change is in place and the log is empty
 * (s_start = 0), unless the journal was aborted.
 */
void vexfs_journal_destroy(struct super_block *sb)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	journal_t *journal = sbi->s_journal;

	if (!journal)
		return;
	sbi->s_journal = NULL;
	jbd2_journal_destroy(journal);
}
