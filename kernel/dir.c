// SPDX-License-Identifier: GPL-2.0
/*
 * dir.c - reading directory blocks (FORMAT.md section 6) and readdir. Every
 * block is checked (magic, checksum seeded with the directory's inode
 * number) and every entry (length, name length, inode number, file type)
 * before it is used. "." and ".." are not stored: ".." is parent_ino.
 *
 * The position of an entry is 2 + (file block << 16) + its index in the
 * leaf (a leaf of at most 64 KiB holds fewer than 65536 entries).
 */
#include "vexfs.h"
#include "vexfs_vec.h"

/**
 * vexfs_dir_bread - read and check file block @lblk of directory @dir
 * @dir: the directory
 * @lblk: file block
 * @magic: VEXFS_DIRX_MAGIC or VEXFS_DIRL_MAGIC, or 0 for either
 *
 * Return: the buffer, NULL for a hole, or ERR_PTR(-EUCLEAN / -EIO).
 */
struct buffer_head *vexfs_dir_bread(struct inode *dir, u64 lblk, u32 magic)
{
	struct super_block *sb = dir->i_sb;
	struct buffer_head *bh;
	bool unwritten;
	u64 pblk;
	u32 len, m;
	int err;

	err = vexfs_map_block(dir, lblk, &pblk, &len, &unwritten);
	if (err)
		return ERR_PTR(err);
	if (len == 0 || unwritten)
		return NULL;
	bh = sb_bread(sb, pblk);
	if (!bh)
		return ERR_PTR(-EIO);
	m = le32_to_cpu(*(__le32 *)bh->b_data);
	if ((magic && m != magic) ||
	    (m != VEXFS_DIRX_MAGIC && m != VEXFS_DIRL_MAGIC)) {
		vexfs_corrupt(sb, dir->i_ino,
			      "directory block %llu has magic 0x%08x", lblk, m);
		goto bad;
	}
	if (!vexfs_block_csum_ok(bh->b_data, sb->s_blocksize, dir->i_ino)) {
		vexfs_corrupt(sb, dir->i_ino,
			      "directory block %llu checksum mismatch", lblk);
		goto bad;
	}
	return bh;
bad:
	brelse(bh);
	return ERR_PTR(-EUCLEAN);
}

static unsigned char vexfs_dtype(u8 ft)
{
	static const unsigned char types[] = {
		[VEXFS_FT_REG] = DT_REG, [VEXFS_FT_DIR] = DT_DIR,
		[VEXFS_FT_CHR] = DT_CHR, [VEXFS_FT_BLK] = DT_BLK,
		[VEXFS_FT_FIFO] = DT_FIFO, [VEXFS_FT_SOCK] = DT_SOCK,
		[VEXFS_FT_SYMLINK] = DT_LNK,
	};

	return ft < ARRAY_SIZE(types) ? types[ft] : DT_UNKNOWN;
}

static int vexfs_readdir(struct file *file, struct dir_context *ctx)
{
	struct inode *dir = file_inode(file);
	struct super_block *sb = dir->i_sb;
	u64 nblocks = dir->i_size >> sb->s_blocksize_bits;
	u64 inodes = VEXFS_SB(sb)->s_inode_count;

	if (ctx->pos < 2) {
		if (!dir_emit_dots(file, ctx))
			return 0;
	}
	while ((u64)(ctx->pos - 2) >> 16 < nblocks) {
		u64 lblk = (u64)(ctx->pos - 2) >> 16;
		u32 skip = (ctx->pos - 2) & 0xffff;
		struct vexfs_dir_leaf_header *lh;
		struct buffer_head *bh;
		u32 count, used, off, i;

		bh = vexfs_dir_bread(dir, lblk, 0);
		if (IS_ERR(bh))
			return PTR_ERR(bh);
		lh = bh ? (void *)bh->b_data : NULL;
		if (!lh || le32_to_cpu(lh->dl_magic) != VEXFS_DIRL_MAGIC) {
			brelse(bh);	/* a hole or an index block */
			ctx->pos = 2 + ((lblk + 1) << 16);
			continue;
		}
		count = le32_to_cpu(lh->dl_count);
		used = le32_to_cpu(lh->dl_used);
		if (used > sb->s_blocksize - sizeof(*lh) - VEXFS_CSUM_SIZE) {
			vexfs_corrupt(sb, dir->i_ino,
				      "leaf block %llu claims %u bytes", lblk,
				      used);
			brelse(bh);
			return -EUCLEAN;
		}
		off = sizeof(*lh);
		for (i = 0; i < count; i++) {
			struct vexfs_dir_entry *de = (void *)(bh->b_data + off);
			u32 nlen, rec;
			u64 ino;

			if (off + sizeof(*de) > sizeof(*lh) + used)
				goto bad;
			nlen = le16_to_cpu(de->d_name_len);
			rec = VEXFS_DIR_REC_LEN(nlen);
			ino = le64_to_cpu(de->d_ino);
			if (nlen < 1 || nlen > VEXFS_NAME_LEN ||
			    off + rec > sizeof(*lh) + used ||
			    ino < 1 || ino > inodes)
				goto bad;
			if (i >= skip) {
				if (!dir_emit(ctx, (const char *)de->d_name,
					      nlen, ino,
					      vexfs_dtype(de->d_file_type))) {
					brelse(bh);
					return 0;
				}
				ctx->pos++;
			}
			off += rec;
		}
		brelse(bh);
		ctx->pos = 2 + ((lblk + 1) << 16);
		cond_resched();
		continue;
bad:
		vexfs_corrupt(sb, dir->i_ino,
			      "bad entry %u in leaf block %llu", i, lblk);
		brelse(bh);
		return -EUCLEAN;
	}
	return 0;
}

const struct file_operations vexfs_dir_operations = {
	.llseek		= generic_file_llseek,
	.read		= generic_read_dir,
	.iterate_shared	= vexfs_readdir,
	.fsync		= vexfs_fsync,
	.unlocked_ioctl	= vexfs_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};
