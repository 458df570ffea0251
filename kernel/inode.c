// SPDX-License-Identifier: GPL-2.0
/*
 * inode.c - inodes (FORMAT.md section 4): reading and checking them from
 * the inode table, writing them back (vexfs_mark_inode_dirty), new inodes,
 * eviction and freeing, setattr, and the address space operations that
 * read and write file contents through the extent tree (non-delayed
 * allocation with ordered data, as ext4's nodelalloc mode). An inode is
 * used only when its bit is set in the inode bitmap and its checksum
 * (seeded with its number) matches; otherwise EUCLEAN.
 */
#include "vexfs.h"
#include "vexfs_vec.h"
#include <linux/mpage.h>
#include <linux/random.h>
#include <linux/writeback.h>
#include <linux/jbd2.h>

/*
 * An unwritten block of an appending write in progress (file.c,
 * vexfs_bulk_begin) that may be mapped as data although its extent is
 * still unwritten: for the writing task's own write_begin (@create), any
 * block it allocated ahead; for readers, only the blocks below i_size,
 * which the write has filled in the page cache already (a page read back
 * after writeback finds its data on the disk). i_data_sem held. Returns
 * how many blocks from @iblock qualify, at most @len.
 */
static u32 vexfs_bulk_blocks(struct inode *inode, u64 iblock, u32 len,
			     int create)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	u64 end;

	if (!vi->i_bulk_task || iblock < vi->i_bulk_alloc ||
	    iblock >= vi->i_bulk_end)
		return 0;
	end = vi->i_bulk_end;
	if (create) {
		if (vi->i_bulk_task != current)
			return 0;
	} else {
		u64 eof = DIV_ROUND_UP_ULL((u64)i_size_read(inode),
					   inode->i_sb->s_blocksize);

		end = min(end, eof);
		if (iblock >= end)
			return 0;
	}
	return min_t(u64, len, end - iblock);
}

/**
 * vexfs_get_block - map (and with @create, allocate) one file block
 * @inode: the file
 * @iblock: file block
 * @bh_result: in: b_size = bytes wanted; out: mapped, or not for a hole
 * @create: allocate a hole, or make an unwritten block written; only
 *	inside a handle (write_begin, page_mkwrite, fallocate paths), or
 *	for the blocks an appending write allocated ahead (file.c)
 *
 * New blocks are marked new (the caller zeroes what it does not write)
 * and ordered: their data reaches the disk before the transaction that
 * maps them commits. Blocks allocated ahead by an appending write are
 * mapped new but stay unwritten until that write converts them, with
 * their data ordered, in vexfs_bulk_end. Return: 0 or a negative errno;
 * -EIO when the writing task finds a hole in the range it allocated.
 */
int vexfs_get_block(struct inode *inode, sector_t iblock,
		    struct buffer_head *bh_result, int create)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	unsigned int max = bh_result->b_size >> inode->i_blkbits;
	handle_t *handle;
	bool unwritten;
	u64 pblk;
	u32 len, bulk = 0;
	int err;

	if (!max)
		max = 1;
	down_read(&vi->i_data_sem);
	err = vexfs_map_block(inode, iblock, &pblk, &len, &unwritten);
	if (!err && len && unwritten)
		bulk = vexfs_bulk_blocks(inode, iblock, min_t(u32, len, max),
					 create);
	else if (!err && !len && create && READ_ONCE(vi->i_bulk_task) == current &&
		 iblock >= vi->i_bulk_first && iblock < vi->i_bulk_end)
		err = -EIO;	/* the range was mapped up front */
	up_read(&vi->i_data_sem);
	if (err)
		return err;
	if (len && !unwritten) {
		map_bh(bh_result, inode->i_sb, pblk);
		bh_result->b_size = (size_t)min_t(u64, len, max)
				    << inode->i_blkbits;
		return 0;
	}
	if (bulk) {
		map_bh(bh_result, inode->i_sb, pblk);
		if (create) {
			set_buffer_new(bh_result);
			bulk = 1;
		}
		bh_result->b_size = (size_t)bulk << inode->i_blkbits;
		return 0;
	}
	if (!create)
		return 0;	/* a hole, or unwritten: reads as zeros */
	handle = journal_current_handle();
	if (VEXFS_SB(inode->i_sb)->s_journal && !handle)
		return 0;	/* writeback of a hole in a dirty page: skip it */
	down_write(&vi->i_data_sem);
	err = vexfs_map_block(inode, iblock, &pblk, &len, &unwritten);
	if (!err && len && unwritten)
		err = vexfs_ext_mark_written(handle, inode, iblock, 1);
	else if (!err && !len)
		err = vexfs_ext_alloc(handle, inode, iblock, 1, 0, &pblk, &len);
	up_write(&vi->i_data_sem);
	if (err)
		return err;
	set_buffer_new(bh_result);
	map_bh(bh_result, inode->i_sb, pblk);
	bh_result->b_size = 1U << inode->i_blkbits;
	return 0;
}

static int vexfs_read_folio(struct file *file, struct folio *folio)
{
	return mpage_read_folio(folio, vexfs_get_block);
}

static void vexfs_readahead(struct readahead_control *rac)
{
	mpage_readahead(rac, vexfs_get_block);
}

static int vexfs_writepages(struct address_space *mapping,
			    struct writeback_control *wbc)
{
	/* Blocks are allocated at write_begin: writeback never allocates. */
	return mpage_writepages(mapping, wbc, vexfs_get_block);
}

static sector_t vexfs_bmap(struct address_space *mapping, sector_t block)
{
	return generic_block_bmap(mapping, block, vexfs_get_block);
}

/* Blocks past i_size left by a failed write are given back. */
static void vexfs_write_failed(struct inode *inode, loff_t to)
{
	if (to > inode->i_size) {
		truncate_pagecache(inode, inode->i_size);
		vexfs_truncate(inode, inode->i_size);
	}
}

/* fsdata of a page written inside an appending write's mapped range. */
static char vexfs_bulk_page;

/*
 * Whether the bytes [pos, pos + len) lie in the range the current task's
 * appending write mapped up front (vexfs_bulk_begin): then its pages need
 * no handle; vexfs_bulk_end converts and orders them in one.
 */
static bool vexfs_in_bulk(struct inode *inode, loff_t pos, unsigned int len)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	unsigned int bits = inode->i_blkbits;

	return len && READ_ONCE(vi->i_bulk_task) == current &&
	       ((u64)pos >> bits) >= vi->i_bulk_first &&
	       ((u64)(pos + len - 1) >> bits) < vi->i_bulk_end;
}

static int vexfs_write_begin(struct file *file, struct address_space *mapping,
			     loff_t pos, unsigned int len,
			     vexfs_wpage_t **pagep, void **fsdata)
{
	struct inode *inode = mapping->host;
	unsigned int per_page = PAGE_SIZE >> inode->i_blkbits;
	handle_t *handle;
	int err;

	if (vexfs_in_bulk(inode, pos, len)) {
		/* the blocks past i_size are freed by vexfs_bulk_end */
		err = block_write_begin(mapping, pos, len, pagep,
					vexfs_get_block);
		if (!err)
			*fsdata = &vexfs_bulk_page;
		return err;
	}
	handle = vexfs_journal_start(inode->i_sb,
				     VEXFS_DATA_CREDITS * (per_page ? per_page : 1));
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	err = block_write_begin(mapping, pos, len, pagep, vexfs_get_block);
	if (err) {
		vexfs_journal_stop(handle);
		vexfs_write_failed(inode, pos + len);
		return err;
	}
	*fsdata = handle;
	return 0;
}

static int vexfs_write_end(struct file *file, struct address_space *mapping,
			   loff_t pos, unsigned int len, unsigned int copied,
			   vexfs_wpage_t *page, void *fsdata)
{
	struct inode *inode = mapping->host;
	handle_t *handle = fsdata;
	bool grew = false;
	int ret, err;

	if (fsdata == &vexfs_bulk_page) {
		/* i_size reaches the disk with the conversion (file.c) */
		ret = block_write_end(file, mapping, pos, len, copied, page,
				      NULL);
		if (ret > 0 && pos + ret > inode->i_size)
			i_size_write(inode, pos + ret);
		vexfs_wpage_release(page);
		return ret;
	}
	ret = block_write_end(file, mapping, pos, len, copied, page, fsdata);
	if (ret > 0 && pos + ret > inode->i_size) {
		i_size_write(inode, pos + ret);
		grew = true;
	}
	vexfs_wpage_release(page);
	if (ret > 0) {
		err = vexfs_jbd2_inode_add_write(handle, inode, pos, ret);
		/* Allocation wrote the inode already (vexfs_ext_alloc). */
		if (!err && grew)
			err = vexfs_mark_inode_dirty(handle, inode);
		if (err)
			ret = err;
	}
	err = vexfs_journal_stop(handle);
	if (err && ret >= 0)
		ret = err;
	if (ret < (int)len)
		vexfs_write_failed(inode, pos + len);
	return ret;
}

const struct address_space_operations vexfs_aops = {
	.read_folio	= vexfs_read_folio,
	.readahead	= vexfs_readahead,
	.writepages	= vexfs_writepages,
	.write_begin	= vexfs_write_begin,
	.write_end	= vexfs_write_end,
	.bmap		= vexfs_bmap,
	.dirty_folio	= block_dirty_folio,
	.invalidate_folio = block_invalidate_folio,
};

int vexfs_getattr(VEXFS_IDMAP_ARG, const struct path *path,
			 struct kstat *stat, u32 request_mask,
			 unsigned int query_flags)
{
	struct inode *inode = d_inode(path->dentry);

	vexfs_fillattr(idmap, request_mask, inode, stat);
	return 0;
}

const struct inode_operations vexfs_file_inode_operations = {
	.getattr	= vexfs_getattr,
	.listxattr	= vexfs_listxattr,
	.VEXFS_GET_ACL_OP = vexfs_get_acl,
	.set_acl	= vexfs_set_acl,
	.setattr	= vexfs_setattr,
};

const struct inode_operations vexfs_fast_symlink_inode_operations = {
	.get_link	= simple_get_link,
	.getattr	= vexfs_getattr,
	.listxattr	= vexfs_listxattr,
	.setattr	= vexfs_setattr,
};

const struct inode_operations vexfs_symlink_inode_operations = {
	.get_link	= page_get_link,
	.getattr	= vexfs_getattr,
	.listxattr	= vexfs_listxattr,
	.setattr	= vexfs_setattr,
};

const struct inode_operations vexfs_special_inode_operations = {
	.getattr	= vexfs_getattr,
	.setattr	= vexfs_setattr,
	.listxattr	= vexfs_listxattr,
	.VEXFS_GET_ACL_OP = vexfs_get_acl,
	.set_acl	= vexfs_set_acl,
};

/**
 * vexfs_set_inode_ops - the operations of an inode by its type
 * @inode: mode, size and i_data set; for a fast symlink the INLINE flag
 *	and the target in i_data; for devices i_rdev
 */
void vexfs_set_inode_ops(struct inode *inode)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);

	switch (inode->i_mode & S_IFMT) {
	case S_IFREG:
		inode->i_op = &vexfs_file_inode_operations;
		inode->i_fop = &vexfs_file_operations;
		inode->i_mapping->a_ops = &vexfs_aops;
		break;
	case S_IFDIR:
		inode->i_op = &vexfs_dir_inode_operations;
		inode->i_fop = &vexfs_dir_operations;
		inode->i_mapping->a_ops = &vexfs_aops;
		break;
	case S_IFLNK:
		if (vi->i_flags & VEXFS_IFL_INLINE) {
			vi->i_data[min_t(loff_t, inode->i_size,
					 VEXFS_INODE_DATA_SIZE)] = 0;
			inode->i_link = (char *)vi->i_data;
			inode->i_op = &vexfs_fast_symlink_inode_operations;
		} else {
			inode->i_op = &vexfs_symlink_inode_operations;
			inode_nohighmem(inode);
			inode->i_mapping->a_ops = &vexfs_aops;
		}
		break;
	default:
		inode->i_op = &vexfs_special_inode_operations;
		init_special_inode(inode, inode->i_mode, inode->i_rdev);
		break;
	}
}

/* Whether inode ino's bit is set in the inode bitmap (FORMAT.md 2.1). */
static int vexfs_inode_in_use(struct super_block *sb, u64 ino)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	u64 bits = (u64)sbi->s_block_size * 8;
	u64 bit = ino - 1;
	struct buffer_head *bh;
	int used;

	bh = sb_bread(sb, sbi->s_inode_bitmap_start + div64_u64(bit, bits));
	if (!bh)
		return -EIO;
	bit -= div64_u64(bit, bits) * bits;
	used = test_bit_le(bit, bh->b_data);
	brelse(bh);
	return used;
}

static struct timespec64 vexfs_ts(__le64 sec, __le32 nsec)
{
	struct timespec64 ts = {
		.tv_sec = (s64)le64_to_cpu(sec),
		.tv_nsec = le32_to_cpu(nsec),
	};
	return ts;
}

static int vexfs_fill_inode(struct inode *inode, const struct vexfs_inode *raw)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	struct super_block *sb = inode->i_sb;
	u64 size = le64_to_cpu(raw->i_size);
	u32 rdev = le32_to_cpu(raw->i_rdev);
	u16 mode = le16_to_cpu(raw->i_mode);

	if (le32_to_cpu(raw->i_atime_nsec) >= NSEC_PER_SEC ||
	    le32_to_cpu(raw->i_mtime_nsec) >= NSEC_PER_SEC ||
	    le32_to_cpu(raw->i_ctime_nsec) >= NSEC_PER_SEC ||
	    size > (u64)sb->s_maxbytes ||
	    (le32_to_cpu(raw->i_flags) & ~VEXFS_IFL_KNOWN)) {
		vexfs_corrupt(sb, inode->i_ino,
			      "impossible timestamps, size or flags");
		return -EUCLEAN;
	}
	inode->i_mode = mode;
	i_uid_write(inode, le32_to_cpu(raw->i_uid));
	i_gid_write(inode, le32_to_cpu(raw->i_gid));
	set_nlink(inode, le32_to_cpu(raw->i_nlink));
	inode->i_size = size;
	inode->i_blocks = le64_to_cpu(raw->i_blocks) <<
			  (inode->i_blkbits - 9);
	inode->i_generation = le32_to_cpu(raw->i_generation);
	vexfs_set_inode_times(inode,
			      vexfs_ts(raw->i_atime_sec, raw->i_atime_nsec),
			      vexfs_ts(raw->i_mtime_sec, raw->i_mtime_nsec),
			      vexfs_ts(raw->i_ctime_sec, raw->i_ctime_nsec));
	memcpy(vi->i_data, raw->i_data, VEXFS_INODE_DATA_SIZE);
	vi->i_flags = le32_to_cpu(raw->i_flags);
	vi->i_coll_id = le32_to_cpu(raw->i_coll_id);
	vi->i_parent_ino = le64_to_cpu(raw->i_parent_ino);
	vi->i_xattr_block = le64_to_cpu(raw->i_xattr_block);
	vi->i_vec_slot = le64_to_cpu(raw->i_vec_slot);

	vi->i_parent_hash = le32_to_cpu(raw->i_parent_hash);
	vi->i_orphan_next = le64_to_cpu(raw->i_orphan_next);
	vi->i_crtime = vexfs_ts(raw->i_crtime_sec, raw->i_crtime_nsec);
	if (le32_to_cpu(raw->i_crtime_nsec) >= NSEC_PER_SEC) {
		vexfs_corrupt(sb, inode->i_ino, "impossible creation time");
		return -EUCLEAN;
	}
	inode->i_rdev = new_decode_dev(rdev);

	switch (mode & S_IFMT) {
	case S_IFREG:
		break;
	case S_IFDIR:
		/*
		 * Whole blocks, all of them owned (FORMAT.md 4: size is
		 * blocks * block_size): bounds what readdir walks.
		 */
		if (size & (VEXFS_SB(sb)->s_block_size - 1) ||
		    (size >> sb->s_blocksize_bits) > le64_to_cpu(raw->i_blocks) ||
		    le64_to_cpu(raw->i_blocks) > VEXFS_SB(sb)->s_block_count) {
			vexfs_corrupt(sb, inode->i_ino,
				      "directory size %llu does not match its %llu blocks",
				      size, le64_to_cpu(raw->i_blocks));
			return -EUCLEAN;
		}
		break;
	case S_IFLNK:
		if (size == 0 || size > PATH_MAX - 1) {
			vexfs_corrupt(sb, inode->i_ino,
				      "symlink length %llu", size);
			return -EUCLEAN;
		}
		if ((vi->i_flags & VEXFS_IFL_INLINE) &&
		    size > VEXFS_INODE_DATA_SIZE) {
			vexfs_corrupt(sb, inode->i_ino,
				      "inline symlink of %llu bytes", size);
			return -EUCLEAN;
		}
		break;
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		break;
	default:
		vexfs_corrupt(sb, inode->i_ino, "unknown file type in mode 0%o",
			      mode);
		return -EUCLEAN;
	}
	if ((vi->i_flags & VEXFS_IFL_INLINE) && !S_ISLNK(mode)) {
		vexfs_corrupt(sb, inode->i_ino, "INLINE flag on a non-symlink");
		return -EUCLEAN;
	}
	vexfs_set_inode_ops(inode);
	return 0;
}

/* Inode table blocks read ahead when iget misses the cache. */
#define VEXFS_ITABLE_RA	16

/*
 * When inode table block @block is not in the cache, starts reading it and
 * the next blocks of the table together (as ext4's inode_readahead_blks):
 * a walk of a directory's inodes (stat of every file) then waits for one
 * read per VEXFS_ITABLE_RA blocks instead of one per block.
 */
static void vexfs_itable_readahead(struct super_block *sb, u64 block)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	u64 end = min_t(u64, block + VEXFS_ITABLE_RA,
			sbi->s_inode_table_start + sbi->s_inode_table_blocks);
	struct buffer_head *bh;
	bool cached;

	bh = sb_find_get_block(sb, block);
	cached = bh && buffer_uptodate(bh);
	brelse(bh);
	if (cached)
		return;
	for (; block < end; block++)
		sb_breadahead(sb, block);
}

/**
 * vexfs_iget - the in-memory inode of inode number @ino
 * @sb: the filesystem
 * @ino: inode number, 1 .. inode_count
 *
 * Return: the inode, or ERR_PTR(-EUCLEAN) for a number out of range, a free
 * inode, a checksum mismatch or impossible fields; ERR_PTR(-EIO) when the
 * table cannot be read.
 */
struct inode *vexfs_iget(struct super_block *sb, u64 ino)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	struct vexfs_inode *raw;
	struct buffer_head *bh;
	struct inode *inode;
	u64 byte, block;
	u32 csum;
	int err;

	if (ino < 1 || ino > sbi->s_inode_count) {
		pr_err_ratelimited("vexfs: %s: inode number %llu out of range\n",
				   sb->s_id, ino);
		return ERR_PTR(-EUCLEAN);
	}
	inode = iget_locked(sb, ino);
	if (!inode)
		return ERR_PTR(-ENOMEM);
	if (!(inode->i_state & I_NEW))
		return inode;

	err = vexfs_inode_in_use(sb, ino);
	if (err <= 0) {
		if (err == 0) {
			vexfs_corrupt(sb, ino, "is free in the inode bitmap but referenced");
			err = -EUCLEAN;
		}
		goto fail;
	}
	byte = (ino - 1) * VEXFS_INODE_SIZE;
	block = sbi->s_inode_table_start + (byte >> sb->s_blocksize_bits);
	vexfs_itable_readahead(sb, block);
	bh = sb_bread(sb, block);
	if (!bh) {
		err = -EIO;
		goto fail;
	}
	raw = (struct vexfs_inode *)(bh->b_data +
				     (byte & (sb->s_blocksize - 1)));
	csum = vexfs_crc_seeded(ino, raw,
				offsetof(struct vexfs_inode, i_checksum));
	if (csum != le32_to_cpu(raw->i_checksum)) {
		vexfs_corrupt(sb, ino, "checksum mismatch (stored 0x%08x, computed 0x%08x)",
			      le32_to_cpu(raw->i_checksum), csum);
		brelse(bh);
		err = -EUCLEAN;
		goto fail;
	}
	err = vexfs_fill_inode(inode, raw);
	brelse(bh);
	if (err)
		goto fail;
	unlock_new_inode(inode);
	return inode;
fail:
	iget_failed(inode);
	return ERR_PTR(err);
}

/* The inode table block and offset of inode @ino, read. */
static struct buffer_head *vexfs_itable_bread(struct super_block *sb, u64 ino,
					      struct vexfs_inode **raw)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	u64 byte = (ino - 1) * VEXFS_INODE_SIZE;
	struct buffer_head *bh;

	if (ino < 1 || ino > sbi->s_inode_count)
		return ERR_PTR(-EUCLEAN);
	bh = sb_bread(sb, sbi->s_inode_table_start +
			  (byte >> sb->s_blocksize_bits));
	if (!bh)
		return ERR_PTR(-EIO);
	*raw = (struct vexfs_inode *)(bh->b_data +
				      (byte & (sb->s_blocksize - 1)));
	return bh;
}

static void vexfs_put_ts(__le64 *sec, __le32 *nsec, struct timespec64 ts)
{
	*sec = cpu_to_le64(ts.tv_sec);
	*nsec = cpu_to_le32(ts.tv_nsec);
}

/*
 * Fills all 256 bytes of the on-disk inode from the in-memory one with a
 * fresh checksum. orphan_next is kept from the table (orphan.c owns it)
 * unless @fresh (a new inode: 0).
 */
static void vexfs_fill_raw_inode(struct inode *inode, struct vexfs_inode *raw,
				 bool fresh)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	__le64 orphan_next = fresh ? 0 : raw->i_orphan_next;
	struct timespec64 ts;

	memset(raw, 0, sizeof(*raw));
	raw->i_mode = cpu_to_le16(inode->i_mode);
	raw->i_uid = cpu_to_le32(i_uid_read(inode));
	raw->i_gid = cpu_to_le32(i_gid_read(inode));
	raw->i_nlink = cpu_to_le32(inode->i_nlink);
	raw->i_size = cpu_to_le64(inode->i_size);
	raw->i_blocks = cpu_to_le64(inode->i_blocks >> (inode->i_blkbits - 9));
	ts = vexfs_inode_atime(inode);
	vexfs_put_ts(&raw->i_atime_sec, &raw->i_atime_nsec, ts);
	ts = vexfs_inode_mtime(inode);
	vexfs_put_ts(&raw->i_mtime_sec, &raw->i_mtime_nsec, ts);
	ts = vexfs_inode_ctime(inode);
	vexfs_put_ts(&raw->i_ctime_sec, &raw->i_ctime_nsec, ts);
	vexfs_put_ts(&raw->i_crtime_sec, &raw->i_crtime_nsec, vi->i_crtime);
	raw->i_flags = cpu_to_le32(vi->i_flags);
	raw->i_generation = cpu_to_le32(inode->i_generation);
	raw->i_xattr_block = cpu_to_le64(vi->i_xattr_block);
	raw->i_parent_ino = cpu_to_le64(vi->i_parent_ino);
	raw->i_parent_hash = cpu_to_le32(vi->i_parent_hash);
	raw->i_coll_id = cpu_to_le32(vi->i_coll_id);
	raw->i_vec_slot = cpu_to_le64(vi->i_vec_slot);
	raw->i_orphan_next = orphan_next;
	if (S_ISCHR(inode->i_mode) || S_ISBLK(inode->i_mode))
		raw->i_rdev = cpu_to_le32(new_encode_dev(inode->i_rdev));
	memcpy(raw->i_data, vi->i_data, VEXFS_INODE_DATA_SIZE);
	raw->i_checksum = cpu_to_le32(vexfs_crc_seeded(inode->i_ino, raw,
				offsetof(struct vexfs_inode, i_checksum)));
}

static int __vexfs_mark_inode_dirty(handle_t *handle, struct inode *inode,
				    bool fresh)
{
	struct super_block *sb = inode->i_sb;
	struct vexfs_inode *raw;
	struct buffer_head *bh;
	int err;

	bh = vexfs_itable_bread(sb, inode->i_ino, &raw);
	if (IS_ERR(bh))
		return PTR_ERR(bh);
	err = vexfs_get_write_access(handle, bh);
	if (!err) {
		lock_buffer(bh);
		vexfs_fill_raw_inode(inode, raw, fresh);
		unlock_buffer(bh);
		err = vexfs_dirty_metadata(handle, inode, bh);
	}
	if (!err && handle)
		VEXFS_I(inode)->i_sync_tid = handle->h_transaction->t_tid;
	brelse(bh);
	if (err)
		vexfs_error(sb, inode->i_ino, err, "write_inode",
			    "cannot write the inode (%d)", err);
	return err;
}

/**
 * vexfs_mark_inode_dirty - write an inode into its table block in a handle
 * @handle: the handle (VEXFS_INODE_CREDITS), or NULL
 * @inode: the inode, its in-memory fields changed
 *
 * Return: 0 or a negative errno (reported through vexfs_error).
 */
int vexfs_mark_inode_dirty(handle_t *handle, struct inode *inode)
{
	return __vexfs_mark_inode_dirty(handle, inode, false);
}

/**
 * vexfs_dirty_inode - super_operations.dirty_inode: the VFS changed the
 *	inode (times, size) outside a VexFS handle; journal it
 * @inode: the inode
 * @flags: I_DIRTY_* (lazytime-only changes are left to writeback)
 */
void vexfs_dirty_inode(struct inode *inode, int flags)
{
	handle_t *handle;

	if (flags == I_DIRTY_TIME || sb_rdonly(inode->i_sb) ||
	    inode->i_ino < VEXFS_ROOT_INO)
		return;
	handle = vexfs_journal_start(inode->i_sb, VEXFS_INODE_CREDITS);
	if (IS_ERR(handle))
		return;
	vexfs_mark_inode_dirty(handle, inode);
	vexfs_journal_stop(handle);
}

/**
 * vexfs_write_inode - super_operations.write_inode: make the inode durable
 * @inode: the inode
 * @wbc: WB_SYNC_ALL for sync and fsync
 *
 * With a journal: commit the transaction that last wrote it; without:
 * write its table block. Return: 0 or a negative errno.
 */
int vexfs_write_inode(struct inode *inode, struct writeback_control *wbc)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(inode->i_sb);
	struct vexfs_inode *raw;
	struct buffer_head *bh;
	int err;

	if (current->flags & PF_MEMALLOC || sb_rdonly(inode->i_sb))
		return 0;
	if (sbi->s_journal) {
		if (wbc->sync_mode != WB_SYNC_ALL || wbc->for_sync)
			return 0;
		return jbd2_complete_transaction(sbi->s_journal,
						 VEXFS_I(inode)->i_sync_tid);
	}
	err = vexfs_mark_inode_dirty(NULL, inode);
	if (err || wbc->sync_mode != WB_SYNC_ALL)
		return err;
	bh = vexfs_itable_bread(inode->i_sb, inode->i_ino, &raw);
	if (IS_ERR(bh))
		return PTR_ERR(bh);
	err = sync_dirty_buffer(bh);
	brelse(bh);
	return err;
}

/**
 * vexfs_new_inode - allocate and initialise a new inode (FORMAT.md 4)
 * @handle: the handle (VEXFS_NEW_INODE_CREDITS), or NULL
 * @dir: the directory it will be linked in (parent pointer, 5.3)
 * @mode: type and permissions (the caller applied the umask)
 * @qstr: its name in @dir (for parent_hash), or NULL (internal files)
 *
 * Return: the inode, I_NEW and hashed, written in the handle; or
 * ERR_PTR(-ENOSPC), ERR_PTR(-EUCLEAN) (damaged bitmap), ERR_PTR(-EIO),
 * ERR_PTR(-ENOMEM). See the contract in vexfs.h.
 */
struct inode *vexfs_new_inode(handle_t *handle, struct inode *dir,
			      umode_t mode, const struct qstr *qstr)
{
	struct super_block *sb = dir->i_sb;
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	struct vexfs_inode_info *vi;
	struct vexfs_inode *raw;
	struct buffer_head *bh;
	struct timespec64 now;
	struct inode *inode;
	u32 old_gen, gen;
	u64 ino;
	int err;

	inode = new_inode(sb);
	if (!inode)
		return ERR_PTR(-ENOMEM);
	err = vexfs_new_ino(handle, sb, dir->i_ino, &ino);
	if (err)
		goto fail_iput;
	bh = vexfs_itable_bread(sb, ino, &raw);
	if (IS_ERR(bh)) {
		err = PTR_ERR(bh);
		goto fail_ino;
	}
	old_gen = le32_to_cpu(raw->i_generation);	/* FORMAT.md 4.2 */
	brelse(bh);
	do {
		gen = get_random_u32();
	} while (gen == old_gen);

	vi = VEXFS_I(inode);
	inode->i_ino = ino;
	vexfs_inode_init_owner(inode, dir, mode);
	inode->i_generation = gen;
	inode->i_size = 0;
	inode->i_blocks = 0;
	inode->i_rdev = 0;
	now = current_time(inode);
	vexfs_set_inode_times(inode, now, now, now);
	vi->i_crtime = now;
	vi->i_flags = 0;
	vi->i_coll_id = 0;
	vi->i_vec_slot = 0;
	vi->i_xattr_block = 0;
	vi->i_orphan_next = 0;
	vi->i_parent_ino = dir->i_ino;
	vi->i_parent_hash = qstr ? vexfs_name_hash(qstr->name, qstr->len,
						   sbi->s_hash_seed) : 0;
	memset(vi->i_data, 0, sizeof(vi->i_data));
	if (S_ISREG(mode) || S_ISDIR(mode) || S_ISLNK(mode))
		vexfs_ext_init_root(inode);
	set_nlink(inode, S_ISDIR(mode) ? 2 : 1);
	if (insert_inode_locked(inode) < 0) {
		vexfs_error(sb, ino, EUCLEAN, "ialloc",
			    "inode is free in the bitmap but in use");
		err = -EUCLEAN;
		goto fail_iput;
	}
	vexfs_set_inode_ops(inode);
	err = __vexfs_mark_inode_dirty(handle, inode, true);
	if (err) {
		clear_nlink(inode);
		unlock_new_inode(inode);
		iput(inode);
		return ERR_PTR(err);
	}
	return inode;
fail_ino:
	vexfs_free_ino(handle, sb, ino);
fail_iput:
	make_bad_inode(inode);
	iput(inode);
	return ERR_PTR(err);
}

static void vexfs_iput_work(struct work_struct *work)
{
	struct vexfs_sb_info *sbi = container_of(work, struct vexfs_sb_info,
						 s_iput_work);
	struct llist_node *node = llist_del_all(&sbi->s_iput_list);

	while (node) {
		struct vexfs_inode_info *vi = llist_entry(node,
				struct vexfs_inode_info, i_iput_node);

		node = node->next;	/* before iput frees vi */
		iput(&vi->vfs_inode);
		cond_resched();
	}
}

/* Sets up the deferred iputs of @sb; called by fill_super. */
void vexfs_iput_init(struct super_block *sb)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);

	init_llist_head(&sbi->s_iput_list);
	INIT_WORK(&sbi->s_iput_work, vexfs_iput_work);
}

/**
 * vexfs_iput_deferred - drop a reference that may be an inode's last
 * @inode: the inode, or NULL (nothing to do)
 *
 * A reference that is not the last is dropped at once. The last one is
 * dropped by a worker, so that an eviction that must drop a reference
 * (evict releasing a vector moves the last slot's owner, vector_write.c)
 * never evicts a second inode on its own stack: a chain of such evictions
 * runs one after the other in the worker instead (as btrfs's delayed
 * iputs, fs/btrfs/inode.c btrfs_add_delayed_iput).
 */
void vexfs_iput_deferred(struct inode *inode)
{
	struct vexfs_sb_info *sbi;

	if (!inode || atomic_add_unless(&inode->i_count, -1, 1))
		return;
	sbi = VEXFS_SB(inode->i_sb);
	if (llist_add(&VEXFS_I(inode)->i_iput_node, &sbi->s_iput_list))
		queue_work(system_unbound_wq, &sbi->s_iput_work);
}

/**
 * vexfs_iput_flush - wait until every deferred iput of @sb is done
 * @sb: the filesystem
 *
 * The evictions it waits for may defer more; it waits for those too.
 * Called before the journal goes (put_super) and by the orphan cleanup.
 */
void vexfs_iput_flush(struct super_block *sb)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);

	do {
		flush_work(&sbi->s_iput_work);
	} while (!llist_empty(&sbi->s_iput_list));
}

/*
 * vexfs_evict_inode - the last reference went away; an unlinked inode
 *	is freed: its blocks, its xattr block, its number, and it leaves the
 *	orphan list (FORMAT.md 5.4); its xattr store takes its place there
 *	and is freed next. If that fails it stays on the list and the next
 *	read-write mount finishes it.
 */
void vexfs_evict_inode(struct inode *inode)
{
	struct super_block *sb = inode->i_sb;
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	bool free = !inode->i_nlink && !is_bad_inode(inode) &&
		    inode->i_ino >= VEXFS_FIRST_INO && !sb_rdonly(sb);
	struct inode *moved = NULL, *store = NULL;
	handle_t *handle;
	int err;

	if (free && vi->i_jinode && sbi->s_journal)
		jbd2_journal_begin_ordered_truncate(sbi->s_journal,
						    vi->i_jinode, 0);
	truncate_inode_pages_final(&inode->i_data);
	if (free) {
		sb_start_intwrite(sb);
		handle = vexfs_journal_start(sb, VEXFS_TRUNCATE_CREDITS);
		if (IS_ERR(handle))
			goto out;
		inode->i_size = 0;
		/*
		 * FORMAT.md 8.4: its vector goes with it (vector_write.c).
		 * Unlink and rename release it when the last link goes; an
		 * orphan left by a crash or by the FUSE mount still has it.
		 */
		err = vexfs_vec_release(handle, inode, &moved);
		if (!err && (S_ISREG(inode->i_mode) || S_ISDIR(inode->i_mode) ||
		    (S_ISLNK(inode->i_mode) &&
		     !(vi->i_flags & VEXFS_IFL_INLINE)))) {
			down_write(&vi->i_data_sem);
			err = vexfs_ext_remove(handle, inode, 0, U64_MAX);
			up_write(&vi->i_data_sem);
		}
		if (!err && vi->i_xattr_block &&
		    !(vi->i_flags & VEXFS_IFL_XATTR_IN_STORE)) {
			err = vexfs_journal_extend(handle, VEXFS_ALLOC_CREDITS + 1);
			if (!err)
				err = vexfs_free_blocks(handle, inode,
							vi->i_xattr_block, 1,
							VEXFS_FREE_METADATA);
			if (!err)
				vi->i_xattr_block = 0;
		}
		if (!err)
			err = vexfs_journal_extend(handle, VEXFS_ORPHAN_CREDITS +
						   VEXFS_NEW_INODE_CREDITS +
						   VEXFS_XATTR_DETACH_CREDITS);
		/* its xattr store goes on the orphan list (xattr_set.c) */
		if (!err)
			err = vexfs_xattr_store_detach(handle, inode, &store);
		if (!err)
			err = vexfs_orphan_del(handle, inode);
		if (!err)
			err = vexfs_free_ino(handle, sb, inode->i_ino);
		if (err)
			vexfs_mark_inode_dirty(handle, inode);
		vexfs_journal_stop(handle);
out:
		sb_end_intwrite(sb);
		/*
		 * After the handle, and never from here: the mover may be an
		 * orphan whose last reference evicts it, which releases its
		 * vector and may move another orphan, and so on. Called here,
		 * such a chain (orphans of a FUSE mount killed with unlinked
		 * open files, or a damaged image) would nest one eviction per
		 * orphan on the kernel stack.
		 */
		vexfs_iput_deferred(moved);
		vexfs_iput_deferred(store);	/* frees it, as moved */
	}
	invalidate_inode_buffers(inode);
	clear_inode(inode);
	if (vi->i_jinode && sbi->s_journal)
		jbd2_journal_release_jbd_inode(sbi->s_journal, vi->i_jinode);
}

/*
 * vexfs_setattr - chmod, chown, utimes, truncate (inode_operations)
 *
 * Return: 0 or a negative errno (setattr_prepare's, or the truncate's).
 */
int vexfs_setattr(VEXFS_IDMAP_ARG, struct dentry *dentry, struct iattr *attr)
{
	struct inode *inode = d_inode(dentry);
	handle_t *handle;
	int err;

	err = setattr_prepare(idmap, dentry, attr);
	if (err)
		return err;
	if ((attr->ia_valid & ATTR_SIZE) && S_ISREG(inode->i_mode) &&
	    attr->ia_size != inode->i_size) {
		inode_dio_wait(inode);
		err = vexfs_truncate(inode, attr->ia_size);
		if (err)
			return err;
		/*
		 * truncate(2) passes no ATTR_MTIME/ATTR_CTIME (ftruncate and
		 * O_TRUNC do): a size change sets both, as ext4_setattr
		 * (pjdfstest truncate/00.t)
		 */
		vexfs_touch_times(inode, true);
	}
	setattr_copy(idmap, inode, attr);
	handle = vexfs_journal_start(inode->i_sb, VEXFS_INODE_CREDITS);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	err = vexfs_mark_inode_dirty(handle, inode);
	err = vexfs_journal_stop(handle) ?: err;
	if (!err && (attr->ia_valid & ATTR_MODE))
		err = vexfs_acl_chmod(idmap, dentry);	/* acl.c */
	return err;
}
