// SPDX-License-Identifier: GPL-2.0
/*
 * super_write.c - writing the superblock (FORMAT.md section 3): the free
 * counts, the state and error fields, the backup copy in the last block,
 * sync_fs, and the errors= behaviour (FORMAT.md 3.2, as ext4's
 * __ext4_error and ext4_commit_super).
 */
#include <linux/blkdev.h>
#include <linux/jbd2.h>
#include "vexfs.h"

/* Copies s_es and the free counts into the primary's buffer, checksummed. */
static void vexfs_fill_raw(struct super_block *sb)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	struct vexfs_super_block *raw = sbi->s_raw;

	spin_lock(&sbi->s_lock);
	sbi->s_es.s_free_blocks = cpu_to_le64(sbi->s_free_blocks);
	sbi->s_es.s_free_inodes = cpu_to_le64(sbi->s_free_inodes);
	memcpy(raw, &sbi->s_es, sizeof(*raw));
	spin_unlock(&sbi->s_lock);
	raw->s_checksum = cpu_to_le32(vexfs_crc(raw,
				offsetof(struct vexfs_super_block, s_checksum)));
}

/**
 * vexfs_journal_super - write the in-memory superblock in a handle
 * @handle: the handle, or NULL
 * @sb: the filesystem
 *
 * Writes sbi->s_es with the current free counts and a fresh checksum into
 * the primary superblock's block, journaled with the handle's other
 * changes. Return: 0 or a negative errno.
 */
int vexfs_journal_super(handle_t *handle, struct super_block *sb)
{
	struct buffer_head *bh = VEXFS_SB(sb)->s_sbh;
	int err;

	err = vexfs_get_write_access(handle, bh);
	if (err)
		return err;
	lock_buffer(bh);
	vexfs_fill_raw(sb);
	unlock_buffer(bh);
	return vexfs_dirty_metadata(handle, NULL, bh);
}

/* The backup superblock: a copy of the primary at offset 0 of the last block. */
static int vexfs_write_backup(struct super_block *sb, bool sync)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	struct buffer_head *bh;
	int err = 0;

	bh = sb_getblk(sb, sbi->s_block_count - 1);
	if (!bh)
		return -ENOMEM;
	lock_buffer(bh);
	memset(bh->b_data, 0, sb->s_blocksize);
	spin_lock(&sbi->s_lock);
	memcpy(bh->b_data, &sbi->s_es, sizeof(sbi->s_es));
	spin_unlock(&sbi->s_lock);
	((struct vexfs_super_block *)bh->b_data)->s_checksum =
		cpu_to_le32(vexfs_crc(bh->b_data,
			offsetof(struct vexfs_super_block, s_checksum)));
	set_buffer_uptodate(bh);
	mark_buffer_dirty(bh);
	unlock_buffer(bh);
	if (sync)
		err = sync_dirty_buffer(bh);
	brelse(bh);
	return err;
}

/**
 * vexfs_commit_super - write the superblock directly, not journaled
 * @sb: the filesystem
 * @sync: wait until it is on the device
 *
 * Only where no transaction can hold the superblock's block: at mount
 * before the journal runs, at unmount and remount after the journal is
 * flushed, without a journal, or after the journal was aborted. Writes
 * the backup copy too (FORMAT.md 2). Return: 0 or a negative errno.
 */
int vexfs_commit_super(struct super_block *sb, bool sync)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	struct buffer_head *bh = sbi->s_sbh;
	int err = 0;

	if (bdev_read_only(sb->s_bdev))
		return -EROFS;
	spin_lock(&sbi->s_lock);
	sbi->s_es.s_write_time = cpu_to_le64(ktime_get_real_seconds());
	spin_unlock(&sbi->s_lock);
	lock_buffer(bh);
	vexfs_fill_raw(sb);
	if (buffer_write_io_error(bh)) {
		/* An earlier write failed: try again rather than give up. */
		clear_buffer_write_io_error(bh);
		set_buffer_uptodate(bh);
	}
	mark_buffer_dirty(bh);
	unlock_buffer(bh);
	if (sync)
		err = sync_dirty_buffer(bh);
	if (!err)
		err = vexfs_write_backup(sb, sync);
	return err;
}

/**
 * vexfs_sync_fs - make everything committed durable
 * @sb: the filesystem
 * @wait: wait for it
 *
 * With a journal: commit the running transaction and wait for it; the
 * backup superblock is refreshed. Without: write the superblock.
 */
int vexfs_sync_fs(struct super_block *sb, int wait)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	int err;

	if (sb_rdonly(sb))
		return 0;
	if (sbi->s_journal) {
		err = vexfs_journal_force_commit(sb, wait);
		if (!err)
			err = vexfs_write_backup(sb, wait);
		return err;
	}
	return vexfs_commit_super(sb, wait);
}

/* Writes the error fields recorded by vexfs_error (process context). */
static void vexfs_error_work(struct work_struct *work)
{
	struct vexfs_sb_info *sbi = container_of(work, struct vexfs_sb_info,
						 s_error_work);
	struct super_block *sb = sbi->s_sb;
	journal_t *journal = sbi->s_journal;
	handle_t *handle;

	if (bdev_read_only(sb->s_bdev))
		return;
	if (journal && !is_journal_aborted(journal) && !sb_rdonly(sb)) {
		handle = jbd2_journal_start(journal, VEXFS_SB_CREDITS);
		if (!IS_ERR(handle)) {
			if (vexfs_journal_super(handle, sb))
				jbd2_journal_abort_handle(handle);
			jbd2_journal_stop(handle);
			return;
		}
	}
	/* No journal, or it was abandoned: write the block directly. */
	vexfs_commit_super(sb, true);
}

static void vexfs_set_error_op(u8 *dst, const char *op)
{
	memset(dst, 0, VEXFS_ERROR_OP_LEN);
	strscpy(dst, op, VEXFS_ERROR_OP_LEN);
}

/**
 * vexfs_error - report corruption or an I/O error met while in use
 * @sb: the filesystem
 * @ino: the inode concerned, 0 if none
 * @err: the errno the request fails with (EUCLEAN, EIO, positive or not)
 * @op: the operation ("write", "lookup", ...), at most 31 characters kept
 * @fmt: the message
 *
 * Prints it, records it in the superblock (FORMAT.md 3.2: state 3,
 * error_count, first/last error fields; written from a work item), and
 * applies errors=: continue, remount read-only (the journal is aborted,
 * so the running transaction never commits), or panic.
 */
void vexfs_error(struct super_block *sb, u64 ino, int err, const char *op,
		 const char *fmt, ...)
{
	struct va_format vaf;
	va_list args;

	va_start(args, fmt);
	vaf.fmt = fmt;
	vaf.va = &args;
	pr_err_ratelimited("vexfs: %s: inode %llu: %s: %pV\n", sb->s_id,
			   (unsigned long long)ino, op, &vaf);
	va_end(args);
	vexfs_handle_error(sb, ino, err, op);
}

/**
 * vexfs_handle_error - record an error and apply errors= (vexfs_error
 *	without the message; vexfs_corrupt prints its own)
 * @sb: the filesystem
 * @ino: the inode concerned, 0 if none
 * @err: the errno
 * @op: the operation
 */
void vexfs_handle_error(struct super_block *sb, u64 ino, int err,
			const char *op)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	struct vexfs_super_block *es;
	s64 now = ktime_get_real_seconds();
	unsigned int mode;

	if (!sbi || !sbi->s_sb)
		return;
	es = &sbi->s_es;
	if (err < 0)
		err = -err;
	spin_lock(&sbi->s_lock);
	es->s_state = cpu_to_le16(VEXFS_STATE_ERROR);
	le32_add_cpu(&es->s_error_count, 1);
	if (!es->s_first_error_time && !es->s_first_error_errno) {
		es->s_first_error_errno = cpu_to_le32(err);
		es->s_first_error_time = cpu_to_le64(now);
		es->s_first_error_ino = cpu_to_le64(ino);
		vexfs_set_error_op(es->s_first_error_op, op);
	}
	es->s_last_error_errno = cpu_to_le32(err);
	es->s_last_error_time = cpu_to_le64(now);
	es->s_last_error_ino = cpu_to_le64(ino);
	vexfs_set_error_op(es->s_last_error_op, op);
	spin_unlock(&sbi->s_lock);

	mode = sbi->s_mount_opt & VEXFS_MOUNT_ERRORS_MASK;
	if (sb_rdonly(sb))
		return;	/* read-only: nothing is written, nothing to stop */
	if (mode == VEXFS_MOUNT_ERRORS_RO ||
	    mode == VEXFS_MOUNT_ERRORS_PANIC) {
		if (sbi->s_journal)
			jbd2_journal_abort(sbi->s_journal, -EIO);
		pr_crit("vexfs: %s: remounting read-only after an error\n",
			sb->s_id);
		if (mode == VEXFS_MOUNT_ERRORS_PANIC) {
			/*
			 * As ext4_handle_error: the error fields reach the
			 * disk before the panic (the journal is aborted, so
			 * directly), for fsck after the reboot.
			 */
			sb->s_flags |= SB_RDONLY;
			if (!bdev_read_only(sb->s_bdev))
				vexfs_commit_super(sb, true);
			panic("vexfs: %s: panic forced after error (errors=panic)\n",
			      sb->s_id);
		}
		/* The error fields first, then nothing else is written. */
		schedule_work(&sbi->s_error_work);
		smp_wmb();
		sb->s_flags |= SB_RDONLY;
		return;
	}
	schedule_work(&sbi->s_error_work);
}

/* Initialises the fields super_write.c uses; called by fill_super. */
void vexfs_super_write_init(struct super_block *sb)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);

	sbi->s_sb = sb;
	INIT_WORK(&sbi->s_error_work, vexfs_error_work);
}
