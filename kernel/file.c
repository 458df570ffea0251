// SPDX-License-Identifier: GPL-2.0
/*
 * file.c - regular files: buffered read and write through the page cache
 * (the address space operations are in inode.c), truncate, fsync,
 * fallocate (modes 0, KEEP_SIZE, PUNCH_HOLE | KEEP_SIZE) and llseek with
 * SEEK_DATA / SEEK_HOLE, over the extent tree of FORMAT.md 5.2. Behaviour
 * and errnos follow ext4 (fs/ext4/file.c, fs/ext4/extents.c).
 */
#include "vexfs.h"
#include "vexfs_vec.h"
#include <linux/falloc.h>
#include <linux/blkdev.h>
#include <linux/mm.h>
#include <linux/jbd2.h>

/* Zeroes bytes [from, from + len) of one block through the page cache. */
static int vexfs_zero_partial(struct inode *inode, loff_t from, loff_t len)
{
	struct address_space *mapping = inode->i_mapping;
	u64 lblk = from >> inode->i_blkbits;
	struct folio *folio;
	bool unwritten;
	u64 pblk;
	u32 mlen;
	int err;

	if (len <= 0)
		return 0;
	down_read(&VEXFS_I(inode)->i_data_sem);
	err = vexfs_map_block(inode, lblk, &pblk, &mlen, &unwritten);
	up_read(&VEXFS_I(inode)->i_data_sem);
	if (err)
		return err;
	if (!mlen || unwritten)
		return 0;	/* reads as zeros already */
	folio = read_mapping_folio(mapping, from >> PAGE_SHIFT, NULL);
	if (IS_ERR(folio))
		return PTR_ERR(folio);
	folio_lock(folio);
	if (folio->mapping != mapping) {
		folio_unlock(folio);
		folio_put(folio);
		return -EAGAIN;
	}
	folio_zero_range(folio, offset_in_folio(folio, from), len);
	folio_mark_dirty(folio);
	folio_unlock(folio);
	folio_put(folio);
	return 0;
}

/*
 * Frees blocks from file block @from on, in as many transactions as it
 * takes; each leaves a consistent tree.
 */
static int vexfs_free_from(struct inode *inode, u64 from)
{
	handle_t *handle;
	int err, err2;

	handle = vexfs_journal_start(inode->i_sb, VEXFS_TRUNCATE_CREDITS);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	down_write(&VEXFS_I(inode)->i_data_sem);
	err = vexfs_ext_remove(handle, inode, from, U64_MAX);
	up_write(&VEXFS_I(inode)->i_data_sem);
	if (!err)
		err = vexfs_mark_inode_dirty(handle, inode);
	err2 = vexfs_journal_stop(handle);
	return err ? err : err2;
}

/**
 * vexfs_truncate - set a regular file's size, freeing blocks past it
 * @inode: the file, i_rwsem held
 * @size: the new size in bytes
 *
 * Shrinking zeroes the tail of the new last block, drops the page cache
 * past @size and frees every block (written or preallocated) past it;
 * growing leaves a hole. Return: 0 or a negative errno.
 */
int vexfs_truncate(struct inode *inode, loff_t size)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(inode->i_sb);
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	u64 first;
	int err;

	if (!S_ISREG(inode->i_mode))
		return -EINVAL;
	if (size > inode->i_sb->s_maxbytes)
		return -EFBIG;
	if (size < inode->i_size) {
		if (vi->i_jinode && sbi->s_journal) {
			err = jbd2_journal_begin_ordered_truncate(sbi->s_journal,
						vi->i_jinode, size);
			if (err)
				return err;
		}
		if (size & (inode->i_sb->s_blocksize - 1)) {
			err = vexfs_zero_partial(inode, size,
				inode->i_sb->s_blocksize -
				(size & (inode->i_sb->s_blocksize - 1)));
			if (err)
				return err;
		}
	}
	if (size >= inode->i_size) {
		truncate_setsize(inode, size);	/* growing: a hole */
		return 0;
	}
	truncate_setsize(inode, size);
	first = DIV_ROUND_UP_ULL((u64)size, inode->i_sb->s_blocksize);
	return vexfs_free_from(inode, first);
}

/**
 * vexfs_fsync - make a file's data and metadata durable (file_operations)
 * @file: the open file (a regular file or a directory)
 * @start: first byte of the range to write
 * @end: last byte of it
 * @datasync: fdatasync (treated as fsync)
 *
 * Writes and waits for the dirty pages, then commits the transaction that
 * last changed the inode and flushes the device cache (with a journal, as
 * ext4's ext4_fsync_journal); without a journal writes the inode and the
 * metadata blocks tied to it and flushes. Return: 0 or a negative errno.
 */
int vexfs_fsync(struct file *file, loff_t start, loff_t end, int datasync)
{
	struct inode *inode = file->f_mapping->host;
	struct super_block *sb = inode->i_sb;
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	journal_t *journal = sbi->s_journal;
	int err;

	err = file_write_and_wait_range(file, start, end);
	if (err)
		return err;
	if (sb_rdonly(sb))
		return 0;
	if (journal) {
		tid_t tid = VEXFS_I(inode)->i_sync_tid;
		bool barrier = !jbd2_trans_will_send_data_barrier(journal, tid);

		err = jbd2_complete_transaction(journal, tid);
		if (is_journal_aborted(journal))
			return -EIO;
		if (!err && barrier)
			err = blkdev_issue_flush(sb->s_bdev);
		return err;
	}
	err = sync_mapping_buffers(inode->i_mapping);
	if (!err)
		err = sync_inode_metadata(inode, 1);
	if (!err)
		err = blkdev_issue_flush(sb->s_bdev);
	return err;
}

/* The most bytes of one write whose blocks are allocated in one go. */
#define VEXFS_BULK_BYTES	(8U << 20)
/* Allocation calls (runs) per chunk before the rest goes page by page. */
#define VEXFS_BULK_RUNS		16

/*
 * vexfs_bulk_begin - allocate ahead the blocks of an appending write
 * @inode: a regular file, i_rwsem held
 * @pos: where the write starts, at or past i_size
 * @len: its bytes (at most VEXFS_BULK_BYTES)
 *
 * Instead of one allocation and one handle per page (write_begin), the
 * hole the write fills is allocated in a few handles as UNWRITTEN extents
 * (FORMAT.md 5.2), as fallocate(KEEP_SIZE) would: a crash at any point
 * leaves preallocated blocks past the end of the file, which read as
 * zeros and which fsck accepts. The pages are then written without a
 * handle (vexfs_get_block maps these blocks new) and vexfs_bulk_end
 * makes them written in the transaction that orders their data, as
 * ext4 converts unwritten extents after their I/O. Only a write into a
 * plain hole past i_size takes this path; anything else (a fallocated
 * range, ENOSPC at the first block) goes page by page as before.
 * Return: whether the range was set up (the caller must then call
 * vexfs_bulk_end).
 */
static bool vexfs_bulk_begin(struct inode *inode, loff_t pos, size_t len)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	unsigned int bits = inode->i_blkbits;
	u64 first, lblk, end, pblk, next;
	bool unwritten;
	int iter, err;
	u32 mlen;

	if (!len || pos < i_size_read(inode) || !S_ISREG(inode->i_mode))
		return false;
	first = (u64)pos >> bits;
	end = ((u64)(pos + len - 1) >> bits) + 1;
	lblk = first;
	down_read(&vi->i_data_sem);
	err = vexfs_map_block_next(inode, lblk, &pblk, &mlen, &unwritten,
				   &next);
	if (!err && mlen && !unwritten) {
		/* the block holding the end of the file: written already */
		lblk++;
		err = vexfs_map_block_next(inode, lblk, &pblk, &mlen,
					   &unwritten, &next);
	}
	up_read(&vi->i_data_sem);
	if (err || lblk >= end || mlen || next < end)
		return false;	/* not a plain hole: page by page */
	for (iter = 0; lblk < end && iter < VEXFS_BULK_RUNS; iter++) {
		handle_t *handle;
		u32 got = 0;

		handle = vexfs_journal_start(inode->i_sb, VEXFS_DATA_CREDITS);
		if (IS_ERR(handle))
			break;
		down_write(&vi->i_data_sem);
		err = vexfs_ext_alloc(handle, inode, lblk,
				      min_t(u64, end - lblk, VEXFS_EXT_MAX_LEN),
				      VEXFS_EXT_UNWRITTEN, &pblk, &got);
		if (!err) {
			if (iter == 0) {
				vi->i_bulk_first = first;
				vi->i_bulk_alloc = lblk;
				WRITE_ONCE(vi->i_bulk_task, current);
			}
			lblk += got;
			vi->i_bulk_end = lblk;
		}
		up_write(&vi->i_data_sem);
		err = vexfs_journal_stop(handle) ?: err;
		if (err)
			break;
	}
	return READ_ONCE(vi->i_bulk_task) == current;
}

/*
 * vexfs_bulk_end - finish an appending write set up by vexfs_bulk_begin
 * @inode: the file, i_rwsem held
 *
 * Converts the blocks the write filled (up to i_size) to written extents
 * and writes i_size, with their bytes added to the transaction's ordered
 * data, so the commit that maps them follows their data to the disk.
 * The blocks allocated past i_size (a short write) are freed, after the
 * page cache past i_size is dropped. Return: 0 or a negative errno (the
 * data is then not mapped on the disk: the write reports the error).
 */
static int vexfs_bulk_end(struct inode *inode)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	unsigned int bits = inode->i_blkbits;
	u64 lblk = vi->i_bulk_alloc, end = vi->i_bulk_end, filled;
	int err = 0, err2;

	filled = DIV_ROUND_UP_ULL((u64)i_size_read(inode), 1ULL << bits);
	filled = clamp_t(u64, filled, lblk, end);
	while (lblk < filled && !err) {
		handle_t *handle;
		bool unwritten;
		u64 pblk;
		u32 len = 0;

		handle = vexfs_journal_start(inode->i_sb,
					     2 * VEXFS_DATA_CREDITS);
		if (IS_ERR(handle)) {
			err = PTR_ERR(handle);
			break;
		}
		down_write(&vi->i_data_sem);
		err = vexfs_map_block(inode, lblk, &pblk, &len, &unwritten);
		if (!err && !len) {
			vexfs_error(inode->i_sb, inode->i_ino, EUCLEAN, "write",
				    "file block %llu allocated for the write is a hole",
				    lblk);
			err = -EUCLEAN;
		}
		if (!err) {
			len = min_t(u64, len, filled - lblk);
			if (unwritten)
				err = vexfs_ext_mark_written(handle, inode,
							     lblk, len);
		}
		up_write(&vi->i_data_sem);
		if (!err)
			err = vexfs_jbd2_inode_add_write(handle, inode,
					(loff_t)lblk << bits,
					(loff_t)len << bits);
		if (!err)
			err = vexfs_mark_inode_dirty(handle, inode);
		err = vexfs_journal_stop(handle) ?: err;
		lblk += len;
		cond_resched();
	}
	if (filled < end) {
		handle_t *handle;

		truncate_pagecache(inode, i_size_read(inode));
		handle = vexfs_journal_start(inode->i_sb,
					     VEXFS_TRUNCATE_CREDITS);
		if (IS_ERR(handle)) {
			err2 = PTR_ERR(handle);
		} else {
			down_write(&vi->i_data_sem);
			err2 = vexfs_ext_remove(handle, inode, filled, end);
			up_write(&vi->i_data_sem);
			if (!err2)
				err2 = vexfs_mark_inode_dirty(handle, inode);
			err2 = vexfs_journal_stop(handle) ?: err2;
		}
		err = err ?: err2;
	}
	down_write(&vi->i_data_sem);
	WRITE_ONCE(vi->i_bulk_task, NULL);
	up_write(&vi->i_data_sem);
	return err;
}

/*
 * Buffered writes (as generic_file_write_iter), in chunks of at most
 * VEXFS_BULK_BYTES so that an appending chunk's blocks are allocated in
 * one go (vexfs_bulk_begin). O_DIRECT is not offered (no direct_IO).
 */
static ssize_t vexfs_file_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct inode *inode = file_inode(iocb->ki_filp);
	ssize_t ret, done = 0;
	int err = 0;

	if (iocb->ki_flags & (IOCB_DIRECT | IOCB_NOWAIT))
		return generic_file_write_iter(iocb, from);
	inode_lock(inode);
	ret = generic_write_checks(iocb, from);
	while (ret > 0 && iov_iter_count(from)) {
		size_t left = iov_iter_count(from);
		size_t chunk = min_t(size_t, left, VEXFS_BULK_BYTES);
		bool bulk;

		iov_iter_truncate(from, chunk);
		bulk = vexfs_bulk_begin(inode, iocb->ki_pos, chunk);
		ret = __generic_file_write_iter(iocb, from);
		if (bulk)
			err = vexfs_bulk_end(inode);
		iov_iter_reexpand(from, iov_iter_count(from) + left - chunk);
		if (err)
			break;	/* the bytes are not mapped: fail the write */
		if (ret > 0)
			done += ret;
		if (ret < (ssize_t)chunk)
			break;
	}
	inode_unlock(inode);
	if (err)
		return err;
	if (done > 0)
		return generic_write_sync(iocb, done);
	return ret;
}

/* fallocate mode 0 / KEEP_SIZE: unwritten extents over the holes. */
static int vexfs_prealloc(struct inode *inode, int mode, loff_t offset,
			  loff_t len)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	unsigned int bits = inode->i_blkbits;
	u64 lblk = offset >> bits;
	u64 end = (offset + len + (1ULL << bits) - 1) >> bits;
	loff_t new_size = offset + len;
	int err = 0;

	while (lblk < end) {
		handle_t *handle;
		bool unwritten;
		u64 pblk;
		u32 mlen, got = 0;

		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
		handle = vexfs_journal_start(inode->i_sb, VEXFS_DATA_CREDITS);
		if (IS_ERR(handle))
			return PTR_ERR(handle);
		down_write(&vi->i_data_sem);
		err = vexfs_map_block(inode, lblk, &pblk, &mlen, &unwritten);
		if (!err && mlen) {
			got = min_t(u64, mlen, end - lblk);
		} else if (!err) {
			err = vexfs_ext_alloc(handle, inode, lblk,
					      min_t(u64, end - lblk,
						    VEXFS_EXT_MAX_LEN),
					      VEXFS_EXT_UNWRITTEN, &pblk, &got);
		}
		up_write(&vi->i_data_sem);
		lblk += got;
		if (!err && !(mode & FALLOC_FL_KEEP_SIZE)) {
			loff_t sz = min_t(loff_t, new_size, (loff_t)lblk << bits);

			if (sz > inode->i_size) {
				i_size_write(inode, sz);
				err = vexfs_mark_inode_dirty(handle, inode);
			}
		}
		err = vexfs_journal_stop(handle) ?: err;
		if (err)
			return err;
	}
	return 0;
}

/* fallocate PUNCH_HOLE | KEEP_SIZE. */
static int vexfs_punch(struct inode *inode, loff_t offset, loff_t len)
{
	unsigned int bs = inode->i_sb->s_blocksize;
	loff_t end = min_t(loff_t, offset + len, inode->i_size);
	loff_t first_full = round_up(offset, bs);
	loff_t last_full = round_down(end, bs);
	handle_t *handle;
	int err;

	if (offset >= end)
		return 0;
	if (first_full > last_full) {
		/* inside one block */
		err = vexfs_zero_partial(inode, offset, end - offset);
		if (!err)
			truncate_pagecache_range(inode, offset, end - 1);
		return err;
	}
	err = vexfs_zero_partial(inode, offset, first_full - offset);
	if (!err)
		err = vexfs_zero_partial(inode, last_full, end - last_full);
	if (err)
		return err;
	err = filemap_write_and_wait_range(inode->i_mapping, offset, end - 1);
	if (err)
		return err;
	if (last_full > first_full)
		truncate_pagecache_range(inode, first_full, last_full - 1);
	handle = vexfs_journal_start(inode->i_sb, VEXFS_TRUNCATE_CREDITS);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	down_write(&VEXFS_I(inode)->i_data_sem);
	err = vexfs_ext_remove(handle, inode, first_full >> inode->i_blkbits,
			       last_full >> inode->i_blkbits);
	up_write(&VEXFS_I(inode)->i_data_sem);
	if (!err)
		err = vexfs_mark_inode_dirty(handle, inode);
	return vexfs_journal_stop(handle) ?: err;
}

static long vexfs_fallocate(struct file *file, int mode, loff_t offset,
			    loff_t len)
{
	struct inode *inode = file_inode(file);
	handle_t *handle;
	long err;

	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE))
		return -EOPNOTSUPP;
	if ((mode & FALLOC_FL_PUNCH_HOLE) && !(mode & FALLOC_FL_KEEP_SIZE))
		return -EOPNOTSUPP;
	if (offset < 0 || len <= 0)
		return -EINVAL;
	if (offset + len > inode->i_sb->s_maxbytes || offset + len < offset)
		return -EFBIG;
	inode_lock(inode);
	err = file_modified(file);
	if (!err) {
		if (mode & FALLOC_FL_PUNCH_HOLE)
			err = vexfs_punch(inode, offset, len);
		else
			err = vexfs_prealloc(inode, mode, offset, len);
	}
	if (!err || mode & FALLOC_FL_PUNCH_HOLE) {
		handle = vexfs_journal_start(inode->i_sb, VEXFS_INODE_CREDITS);
		if (!IS_ERR(handle)) {
			vexfs_set_inode_times(inode, vexfs_inode_atime(inode),
					      vexfs_inode_mtime(inode),
					      current_time(inode));
			vexfs_mark_inode_dirty(handle, inode);
			vexfs_journal_stop(handle);
		}
	}
	inode_unlock(inode);
	return err;
}

/*
 * The first byte at or after @pos that is data (@data) or a hole, or
 * -ENXIO. Written and unwritten extents both count as data (allowed by
 * lseek(2): a filesystem may report holes as data).
 */
static loff_t vexfs_seek_data_hole(struct inode *inode, loff_t pos, bool data)
{
	unsigned int bits = inode->i_blkbits;
	loff_t size = i_size_read(inode);
	u64 lblk, last;
	int err = 0;

	if (pos < 0 || pos >= size)
		return -ENXIO;
	lblk = pos >> bits;
	last = (size - 1) >> bits;
	down_read(&VEXFS_I(inode)->i_data_sem);
	while (lblk <= last) {
		bool unwritten;
		u64 pblk, next;
		u32 len;

		err = vexfs_map_block_next(inode, lblk, &pblk, &len,
					   &unwritten, &next);
		if (err)
			break;
		if (len && data)
			break;
		if (!len && !data)
			break;
		lblk = len ? lblk + len : next;
		cond_resched();
	}
	up_read(&VEXFS_I(inode)->i_data_sem);
	if (err)
		return err;
	if (lblk > last)
		return data ? -ENXIO : size;
	return max_t(loff_t, pos, (loff_t)lblk << bits);
}

static loff_t vexfs_llseek(struct file *file, loff_t offset, int whence)
{
	struct inode *inode = file->f_mapping->host;
	loff_t pos;

	switch (whence) {
	case SEEK_DATA:
	case SEEK_HOLE:
		inode_lock_shared(inode);
		pos = vexfs_seek_data_hole(inode, offset, whence == SEEK_DATA);
		inode_unlock_shared(inode);
		if (pos < 0)
			return pos;
		return vfs_setpos(file, pos, inode->i_sb->s_maxbytes);
	default:
		return generic_file_llseek_size(file, offset, whence,
						inode->i_sb->s_maxbytes,
						i_size_read(inode));
	}
}

/* mmap writes into holes allocate (and order) their blocks here. */
static vm_fault_t vexfs_page_mkwrite(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct inode *inode = file_inode(vma->vm_file);
	unsigned int per_page = PAGE_SIZE >> inode->i_blkbits;
	handle_t *handle;
	loff_t pos;
	int err;

	sb_start_pagefault(inode->i_sb);
	file_update_time(vma->vm_file);
	handle = vexfs_journal_start(inode->i_sb,
				     VEXFS_DATA_CREDITS * (per_page ? per_page : 1));
	if (IS_ERR(handle)) {
		err = PTR_ERR(handle);
		goto out;
	}
	err = block_page_mkwrite(vma, vmf, vexfs_get_block);
	if (!err) {
		pos = (loff_t)vmf->pgoff << PAGE_SHIFT;
		err = vexfs_jbd2_inode_add_write(handle, inode, pos, PAGE_SIZE);
		if (err) {
			unlock_page(vmf->page);
		}
	}
	err = vexfs_journal_stop(handle) ?: err;
out:
	sb_end_pagefault(inode->i_sb);
	if (err)
		return vexfs_vmf_error(err);
	return VM_FAULT_LOCKED;
}

static const struct vm_operations_struct vexfs_file_vm_ops = {
	.fault		= filemap_fault,
	.map_pages	= filemap_map_pages,
	.page_mkwrite	= vexfs_page_mkwrite,
};

static int vexfs_file_mmap(struct file *file, struct vm_area_struct *vma)
{
	file_accessed(file);
	vma->vm_ops = &vexfs_file_vm_ops;
	return 0;
}

const struct file_operations vexfs_file_operations = {
	.llseek		= vexfs_llseek,
	.read_iter	= generic_file_read_iter,
	.write_iter	= vexfs_file_write_iter,
	.mmap		= vexfs_file_mmap,
	.open		= generic_file_open,
	.fsync		= vexfs_fsync,
	.splice_read	= vexfs_splice_read,
	.splice_write	= iter_file_splice_write,
	.fallocate	= vexfs_fallocate,
	.unlocked_ioctl	= vexfs_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};
