// SPDX-License-Identifier: GPL-2.0
/*
 * inode.c - reading inodes from the inode table (FORMAT.md section 4) and
 * the address space operations that read file contents through the extent
 * tree. An inode is used only when its bit is set in the inode bitmap and
 * its checksum (seeded with its number) matches; otherwise EUCLEAN.
 */
#include "vexfs.h"
#include "vexfs_vec.h"
#include <linux/mpage.h>

int vexfs_get_block(struct inode *inode, sector_t iblock,
		    struct buffer_head *bh_result, int create)
{
	unsigned int max = bh_result->b_size >> inode->i_blkbits;
	bool unwritten;
	u64 pblk;
	u32 len;
	int err;

	if (create)
		return -EROFS;
	err = vexfs_map_block(inode, iblock, &pblk, &len, &unwritten);
	if (err)
		return err;
	if (len == 0 || unwritten)
		return 0;	/* a hole, or unwritten: reads as zeros */
	map_bh(bh_result, inode->i_sb, pblk);
	bh_result->b_size = (size_t)min_t(u64, len, max ? max : 1)
			    << inode->i_blkbits;
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

const struct address_space_operations vexfs_aops = {
	.read_folio	= vexfs_read_folio,
	.readahead	= vexfs_readahead,
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
};

static const struct inode_operations vexfs_fast_symlink_inode_operations = {
	.get_link	= simple_get_link,
	.getattr	= vexfs_getattr,
	.listxattr	= vexfs_listxattr,
};

static const struct inode_operations vexfs_symlink_inode_operations = {
	.get_link	= page_get_link,
	.getattr	= vexfs_getattr,
	.listxattr	= vexfs_listxattr,
};

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

	switch (mode & S_IFMT) {
	case S_IFREG:
		inode->i_op = &vexfs_file_inode_operations;
		inode->i_fop = &vexfs_ro_file_operations;
		inode->i_mapping->a_ops = &vexfs_aops;
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
		inode->i_op = &vexfs_dir_inode_operations;
		inode->i_fop = &vexfs_dir_operations;
		inode->i_mapping->a_ops = &vexfs_aops;
		break;
	case S_IFLNK:
		if (size == 0 || size > PATH_MAX - 1) {
			vexfs_corrupt(sb, inode->i_ino,
				      "symlink length %llu", size);
			return -EUCLEAN;
		}
		if (vi->i_flags & VEXFS_IFL_INLINE) {
			if (size > VEXFS_INODE_DATA_SIZE) {
				vexfs_corrupt(sb, inode->i_ino,
					      "inline symlink of %llu bytes",
					      size);
				return -EUCLEAN;
			}
			vi->i_data[size] = 0;	/* i_data has a spare byte */
			inode->i_link = (char *)vi->i_data;
			inode->i_op = &vexfs_fast_symlink_inode_operations;
		} else {
			inode->i_op = &vexfs_symlink_inode_operations;
			inode_nohighmem(inode);
			inode->i_mapping->a_ops = &vexfs_aops;
		}
		break;
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		inode->i_op = &vexfs_file_inode_operations;
		init_special_inode(inode, mode, new_decode_dev(rdev));
		break;
	default:
		vexfs_corrupt(sb, inode->i_ino, "unknown file type in mode 0%o",
			      mode);
		return -EUCLEAN;
	}
	return 0;
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
