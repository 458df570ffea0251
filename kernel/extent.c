// SPDX-License-Identifier: GPL-2.0
/*
 * extent.c - mapping file blocks to device blocks through an inode's extent
 * tree (FORMAT.md section 5.2). Every node is checked: magic, counts,
 * capacity, depth, sort order, the block checksum seeded with the owner,
 * and that every block it names lies inside the filesystem.
 */
#include "vexfs.h"

static int vexfs_check_node(struct inode *inode,
			    const struct vexfs_extent_header *eh,
			    unsigned int capacity, int want_depth)
{
	unsigned int entries = le16_to_cpu(eh->eh_entries);
	unsigned int max = le16_to_cpu(eh->eh_max);
	int depth = le16_to_cpu(eh->eh_depth);

	if (le16_to_cpu(eh->eh_magic) != VEXFS_EXT_MAGIC ||
	    entries > max || max > capacity ||
	    depth > VEXFS_EXT_MAX_DEPTH ||
	    (want_depth >= 0 && depth != want_depth)) {
		vexfs_corrupt(inode->i_sb, inode->i_ino,
			      "bad extent node (magic 0x%x, %u/%u entries, depth %d)",
			      le16_to_cpu(eh->eh_magic), entries, max, depth);
		return -EUCLEAN;
	}
	return depth;
}

static int __vexfs_map_block(struct inode *inode, u64 lblk, u64 *pblk,
			     u32 *len, bool *unwritten, u64 *next);

/*
 * vexfs_map_block_next - as vexfs_map_block; in a hole also gives @next,
 *	the first mapped file block after @lblk (U64_MAX if none)
 */
int vexfs_map_block_next(struct inode *inode, u64 lblk, u64 *pblk, u32 *len,
			 bool *unwritten, u64 *next)
{
	return __vexfs_map_block(inode, lblk, pblk, len, unwritten, next);
}

/**
 * vexfs_map_block - find the device block of a file block
 * @inode: the file
 * @lblk: file block number
 * @pblk: set to the device block, when mapped
 * @len: set to the blocks mapped contiguously from @lblk (0: a hole)
 * @unwritten: set when the extent is allocated but reads as zeros
 *
 * Return: 0, or -EUCLEAN on a damaged tree, -EIO when a block cannot be read.
 */
int vexfs_map_block(struct inode *inode, u64 lblk, u64 *pblk, u32 *len,
		    bool *unwritten)
{
	u64 next;

	return __vexfs_map_block(inode, lblk, pblk, len, unwritten, &next);
}

static int __vexfs_map_block(struct inode *inode, u64 lblk, u64 *pblk,
			     u32 *len, bool *unwritten, u64 *next)
{
	u64 bound = U64_MAX;
	struct super_block *sb = inode->i_sb;
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	const u8 *node = VEXFS_I(inode)->i_data;
	unsigned int capacity = VEXFS_EXT_ROOT_MAX;
	struct buffer_head *bh = NULL;
	int want_depth = -1;
	int err = 0;

	*len = 0;
	*unwritten = false;
	*next = U64_MAX;
	for (;;) {
		const struct vexfs_extent_header *eh = (const void *)node;
		unsigned int i, n;
		int depth;

		depth = vexfs_check_node(inode, eh, capacity, want_depth);
		if (depth < 0) {
			err = depth;
			break;
		}
		n = le16_to_cpu(eh->eh_entries);
		if (depth == 0) {
			const struct vexfs_extent *ex = (const void *)(eh + 1);
			u64 prev_end = 0;

			for (i = 0; i < n; i++) {
				u64 l = le64_to_cpu(ex[i].ee_logical);
				u64 p = le64_to_cpu(ex[i].ee_physical);
				u32 elen = le32_to_cpu(ex[i].ee_len);

				if (elen == 0 || elen > VEXFS_EXT_MAX_LEN ||
				    l < prev_end || l + elen < l ||
				    !vexfs_data_run_ok(sbi, p, elen)) {
					vexfs_corrupt(sb, inode->i_ino,
						      "bad extent %u (file block %llu, device block %llu, %u blocks)",
						      i, l, p, elen);
					err = -EUCLEAN;
					break;
				}
				prev_end = l + elen;
				if (lblk < l) {
					*next = l;
					break;
				}
				if (lblk < l + elen) {
					*pblk = p + (lblk - l);
					*len = min_t(u64, l + elen - lblk, U32_MAX);
					*unwritten = le32_to_cpu(ex[i].ee_flags) &
						     VEXFS_EXT_UNWRITTEN;
					break;
				}
			}
			if (!err && i == n)
				*next = bound;
			break;
		} else {
			const struct vexfs_extent_idx *ix = (const void *)(eh + 1);
			u64 child = 0;

			for (i = 0; i < n; i++) {
				if (i > 0 && le64_to_cpu(ix[i].ei_logical) <=
					     le64_to_cpu(ix[i - 1].ei_logical)) {
					vexfs_corrupt(sb, inode->i_ino,
						      "extent index entries out of order");
					err = -EUCLEAN;
					break;
				}
				if (le64_to_cpu(ix[i].ei_logical) > lblk) {
					bound = le64_to_cpu(ix[i].ei_logical);
					break;
				}
				child = le64_to_cpu(ix[i].ei_child);
			}
			if (!err && !child)
				*next = bound;	/* a hole before the first entry */
			if (err || !child)
				break;
			if (!vexfs_data_run_ok(sbi, child, 1)) {
				vexfs_corrupt(sb, inode->i_ino,
					      "extent index names block %llu outside the data area",
					      child);
				err = -EUCLEAN;
				break;
			}
			brelse(bh);
			bh = sb_bread(sb, child);
			if (!bh) {
				err = -EIO;
				break;
			}
			if (!vexfs_block_csum_ok(bh->b_data, sbi->s_block_size,
						 inode->i_ino)) {
				vexfs_corrupt(sb, inode->i_ino,
					      "extent tree block %llu checksum mismatch",
					      child);
				err = -EUCLEAN;
				break;
			}
			node = (const u8 *)bh->b_data;
			capacity = VEXFS_EXT_BLOCK_MAX(sbi->s_block_size);
			want_depth = depth - 1;
		}
	}
	brelse(bh);
	return err;
}
