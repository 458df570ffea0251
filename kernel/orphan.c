// SPDX-License-Identifier: GPL-2.0
/*
 * orphan.c - the orphan list of FORMAT.md 5.4: inodes with nlink 0 that
 * are still open (or not yet freed) hang off superblock.orphan_head,
 * chained through the inodes' orphan_next, with the ORPHAN flag. The last
 * iput frees the inode and unlinks it; a read-write mount frees whatever
 * a crash left on the list, as ext4's orphan processing does.
 *
 * The list lives on disk only: orphan_next is changed in the inode table
 * block (under the buffer lock, with the inode's checksum recomputed), and
 * vexfs_mark_inode_dirty keeps the table's orphan_next as it is. Walks are
 * bounded by the inode count.
 */
#include "vexfs.h"

/* Sets inode @ino's orphan_next in its table block, checksummed. */
static int vexfs_set_orphan_next(handle_t *handle, struct super_block *sb,
				 u64 ino, u64 next)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	u64 byte = (ino - 1) * VEXFS_INODE_SIZE;
	struct vexfs_inode *raw;
	struct buffer_head *bh;
	int err;

	if (ino < VEXFS_FIRST_INO || ino > sbi->s_inode_count)
		return -EUCLEAN;
	bh = sb_bread(sb, sbi->s_inode_table_start +
			  (byte >> sb->s_blocksize_bits));
	if (!bh)
		return -EIO;
	raw = (struct vexfs_inode *)(bh->b_data +
				     (byte & (sb->s_blocksize - 1)));
	err = vexfs_get_write_access(handle, bh);
	if (!err) {
		lock_buffer(bh);
		raw->i_orphan_next = cpu_to_le64(next);
		raw->i_checksum = cpu_to_le32(vexfs_crc_seeded(ino, raw,
				offsetof(struct vexfs_inode, i_checksum)));
		unlock_buffer(bh);
		err = vexfs_dirty_metadata(handle, NULL, bh);
	}
	brelse(bh);
	return err;
}

/* Inode @ino's orphan_next as the table holds it (checksum checked). */
static int vexfs_get_orphan_next(struct super_block *sb, u64 ino, u64 *next)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	u64 byte = (ino - 1) * VEXFS_INODE_SIZE;
	struct vexfs_inode *raw;
	struct buffer_head *bh;
	int err = 0;

	if (ino < VEXFS_FIRST_INO || ino > sbi->s_inode_count)
		return -EUCLEAN;
	bh = sb_bread(sb, sbi->s_inode_table_start +
			  (byte >> sb->s_blocksize_bits));
	if (!bh)
		return -EIO;
	raw = (struct vexfs_inode *)(bh->b_data +
				     (byte & (sb->s_blocksize - 1)));
	lock_buffer(bh);
	if (vexfs_crc_seeded(ino, raw, offsetof(struct vexfs_inode, i_checksum)) !=
	    le32_to_cpu(raw->i_checksum))
		err = -EUCLEAN;
	*next = le64_to_cpu(raw->i_orphan_next);
	unlock_buffer(bh);
	brelse(bh);
	return err;
}

/**
 * vexfs_orphan_add - put an inode whose nlink reached 0 on the orphan list
 * @handle: the handle (VEXFS_ORPHAN_CREDITS), or NULL
 * @inode: the inode; its nlink is 0
 *
 * Pushes it at the head (FORMAT.md 5.4) and sets ORPHAN. Idempotent.
 * Return: 0 or a negative errno.
 */
int vexfs_orphan_add(handle_t *handle, struct inode *inode)
{
	struct super_block *sb = inode->i_sb;
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	u64 head;
	int err;

	if (vi->i_flags & VEXFS_IFL_ORPHAN)
		return 0;
	mutex_lock(&sbi->s_orphan_mutex);
	head = le64_to_cpu(sbi->s_es.s_orphan_head);
	vi->i_flags |= VEXFS_IFL_ORPHAN;
	err = vexfs_mark_inode_dirty(handle, inode);
	if (!err)
		err = vexfs_set_orphan_next(handle, sb, inode->i_ino, head);
	if (!err) {
		spin_lock(&sbi->s_lock);
		sbi->s_es.s_orphan_head = cpu_to_le64(inode->i_ino);
		spin_unlock(&sbi->s_lock);
		err = vexfs_journal_super(handle, sb);
	}
	if (err)
		vi->i_flags &= ~VEXFS_IFL_ORPHAN;
	mutex_unlock(&sbi->s_orphan_mutex);
	return err;
}

/**
 * vexfs_orphan_del - take an inode off the orphan list
 * @handle: the handle (VEXFS_ORPHAN_CREDITS), or NULL
 * @inode: the inode (ORPHAN set; otherwise nothing happens)
 *
 * Return: 0, -EUCLEAN (a damaged list, reported), -EIO.
 */
int vexfs_orphan_del(handle_t *handle, struct inode *inode)
{
	struct super_block *sb = inode->i_sb;
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	u64 ino = inode->i_ino, cur, next, mine, steps = 0;
	int err;

	if (!(vi->i_flags & VEXFS_IFL_ORPHAN))
		return 0;
	mutex_lock(&sbi->s_orphan_mutex);
	err = vexfs_get_orphan_next(sb, ino, &mine);
	if (err)
		goto corrupt;
	cur = le64_to_cpu(sbi->s_es.s_orphan_head);
	if (cur == ino) {
		spin_lock(&sbi->s_lock);
		sbi->s_es.s_orphan_head = cpu_to_le64(mine);
		spin_unlock(&sbi->s_lock);
		err = vexfs_journal_super(handle, sb);
	} else {
		while (cur) {
			if (++steps > sbi->s_inode_count) {
				err = -EUCLEAN;
				goto corrupt;
			}
			err = vexfs_get_orphan_next(sb, cur, &next);
			if (err)
				goto corrupt;
			if (next == ino)
				break;
			cur = next;
			cond_resched();
		}
		if (!cur) {
			err = -EUCLEAN;
			goto corrupt;
		}
		err = vexfs_set_orphan_next(handle, sb, cur, mine);
	}
	if (err)
		goto out;
	vi->i_flags &= ~VEXFS_IFL_ORPHAN;
	err = vexfs_set_orphan_next(handle, sb, ino, 0);
	if (!err)
		err = vexfs_mark_inode_dirty(handle, inode);
out:
	mutex_unlock(&sbi->s_orphan_mutex);
	return err;
corrupt:
	mutex_unlock(&sbi->s_orphan_mutex);
	vexfs_error(sb, ino, EUCLEAN, "orphan",
		    "the orphan list is damaged (%d)", err);
	return -EUCLEAN;
}

/**
 * vexfs_orphan_cleanup - free the inodes a crash left on the orphan list
 * @sb: the filesystem, mounted read-write
 *
 * Each inode on the list with nlink 0 is freed by its last iput; one with
 * links (not an orphan after all) just leaves the list. A damaged list is
 * reported and cut. Return: 0 or a negative errno.
 */
int vexfs_orphan_cleanup(struct super_block *sb)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	u64 ino, steps = 0, freed = 0;
	int err = 0;

	while ((ino = le64_to_cpu(sbi->s_es.s_orphan_head)) != 0) {
		struct inode *inode;
		handle_t *handle;

		if (++steps > sbi->s_inode_count || ino < VEXFS_FIRST_INO ||
		    ino > sbi->s_inode_count) {
			err = -EUCLEAN;
			break;
		}
		inode = vexfs_iget(sb, ino);
		if (IS_ERR(inode)) {
			err = PTR_ERR(inode);
			break;
		}
		if (!(VEXFS_I(inode)->i_flags & VEXFS_IFL_ORPHAN)) {
			iput(inode);
			err = -EUCLEAN;
			break;
		}
		if (inode->i_nlink) {
			handle = vexfs_journal_start(sb, VEXFS_ORPHAN_CREDITS);
			if (IS_ERR(handle)) {
				iput(inode);
				return PTR_ERR(handle);
			}
			err = vexfs_orphan_del(handle, inode);
			vexfs_journal_stop(handle);
			iput(inode);
		} else {
			iput(inode);	/* evict frees it and unlinks it */
			/* and the orphans whose vectors it moved (inode.c) */
			vexfs_iput_flush(sb);
			freed++;
			if (le64_to_cpu(sbi->s_es.s_orphan_head) == ino)
				err = -EIO;	/* could not free it */
		}
		if (err)
			break;
		cond_resched();
	}
	if (freed)
		pr_info("vexfs: %s: freed %llu orphan inode(s) left by an unclean unmount\n",
			sb->s_id, freed);
	if (err && err != -EIO) {
		handle_t *handle;

		vexfs_error(sb, ino, EUCLEAN, "orphan",
			    "the orphan list is damaged; cutting it (run 'vexfs fsck')");
		handle = vexfs_journal_start(sb, VEXFS_SB_CREDITS);
		if (!IS_ERR(handle)) {
			spin_lock(&sbi->s_lock);
			sbi->s_es.s_orphan_head = 0;
			spin_unlock(&sbi->s_lock);
			vexfs_journal_super(handle, sb);
			vexfs_journal_stop(handle);
		}
	}
	return err;
}
