/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vexfs.h - the module's in-memory structures and the functions its files
 * share. The on-disk structures are in vexfs_fs.h.
 */
#ifndef _VEXFS_H
#define _VEXFS_H

#include <linux/fs.h>
#include <linux/buffer_head.h>
#include "vexfs_fs.h"
#include "compat.h"

/* The filesystem's in-memory superblock information. */
struct vexfs_sb_info {
	struct vexfs_super_block s_es;	/* copy of the on-disk superblock */
	u32	s_block_size;
	u64	s_block_count;
	u64	s_inode_count;
	u64	s_inode_table_start;
	u64	s_inode_bitmap_start;
	u64	s_first_data_block;
	u32	s_hash_seed;
	u32	s_incompat;
	u32	s_ro_compat;
};

/* The in-memory inode: the VFS inode and the fields VexFS adds. */
struct vexfs_inode_info {
	__u8	i_data[VEXFS_INODE_DATA_SIZE + 1];	/* extent root or inline, NUL */
	u32	i_flags;
	u32	i_coll_id;
	u64	i_parent_ino;
	u64	i_xattr_block;
	u64	i_vec_slot;
	struct inode vfs_inode;
};

static inline struct vexfs_sb_info *VEXFS_SB(struct super_block *sb)
{
	return sb->s_fs_info;
}

static inline struct vexfs_inode_info *VEXFS_I(struct inode *inode)
{
	return container_of(inode, struct vexfs_inode_info, vfs_inode);
}

/* checksum.c */
u32 vexfs_crc(const void *buf, size_t len);
u32 vexfs_crc_seeded(u64 seed, const void *buf, size_t len);
bool vexfs_block_csum_ok(const void *block, size_t bs, u64 seed);

/* inode.c */
struct inode *vexfs_iget(struct super_block *sb, u64 ino);
extern const struct address_space_operations vexfs_aops;
extern const struct inode_operations vexfs_file_inode_operations;
int vexfs_getattr(VEXFS_IDMAP_ARG, const struct path *path,
		  struct kstat *stat, u32 request_mask, unsigned int query_flags);

/* extent.c */
int vexfs_map_block(struct inode *inode, u64 lblk, u64 *pblk, u32 *len,
		    bool *unwritten);

/* dir.c */
extern const struct file_operations vexfs_dir_operations;
struct buffer_head *vexfs_dir_bread(struct inode *dir, u64 lblk, u32 magic);

/* namei.c */
extern const struct inode_operations vexfs_dir_inode_operations;
u32 vexfs_name_hash(const unsigned char *name, unsigned int len, u32 seed);

/* Report corruption: a dmesg line naming the device, inode and problem. */
#define vexfs_corrupt(sb, ino, fmt, ...)				\
	pr_err_ratelimited("vexfs: %s: inode %llu: " fmt "\n",		\
			   (sb)->s_id, (unsigned long long)(ino),	\
			   ##__VA_ARGS__)

#endif /* _VEXFS_H */
