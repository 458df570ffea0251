// SPDX-License-Identifier: GPL-2.0
/*
 * namei.c - name lookup through a directory's hash tree (FORMAT.md section
 * 6): hash the name (MurmurHash3 x86_32 seeded with the superblock's
 * hash_seed), descend the index blocks to the leaf covering the hash, and
 * compare names there. All entries of one hash are in one leaf.
 */
#include "vexfs.h"

static u32 rotl32(u32 x, int r)
{
	return (x << r) | (x >> (32 - r));
}

/* MurmurHash3_x86_32 (Austin Appleby, SMHasher), as src/format/hash.ts. */
u32 vexfs_name_hash(const unsigned char *name, unsigned int len, u32 seed)
{
	const u32 c1 = 0xcc9e2d51, c2 = 0x1b873593;
	unsigned int i, nblocks = len / 4;
	u32 h = seed, k;

	for (i = 0; i < nblocks; i++) {
		k = get_unaligned_le32(name + 4 * i);
		k *= c1;
		k = rotl32(k, 15);
		k *= c2;
		h ^= k;
		h = rotl32(h, 13);
		h = h * 5 + 0xe6546b64;
	}
	k = 0;
	switch (len & 3) {
	case 3:
		k ^= (u32)name[4 * nblocks + 2] << 16;
		fallthrough;
	case 2:
		k ^= (u32)name[4 * nblocks + 1] << 8;
		fallthrough;
	case 1:
		k ^= name[4 * nblocks];
		k *= c1;
		k = rotl32(k, 15);
		k *= c2;
		h ^= k;
	}
	h ^= len;
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

/* The leaf block (file block) of @dir covering @hash, 0 with *empty set if none. */
static int vexfs_find_leaf(struct inode *dir, u32 hash, u64 *leaf, bool *empty)
{
	struct super_block *sb = dir->i_sb;
	u32 limit = VEXFS_DX_LIMIT(sb->s_blocksize);
	u64 nblocks = dir->i_size >> sb->s_blocksize_bits;
	int want_level = -1;
	u64 lblk = 0;

	*empty = false;
	for (;;) {
		struct buffer_head *bh = vexfs_dir_bread(dir, lblk,
							 VEXFS_DIRX_MAGIC);
		struct vexfs_dx_header *dx;
		struct vexfs_dx_entry *de;
		u32 count, level, i, next = 0;

		if (IS_ERR(bh))
			return PTR_ERR(bh);
		if (!bh) {
			vexfs_corrupt(sb, dir->i_ino,
				      "index block %llu is a hole", lblk);
			return -EUCLEAN;
		}
		dx = (void *)bh->b_data;
		de = (void *)(dx + 1);
		count = le16_to_cpu(dx->dx_count);
		level = le16_to_cpu(dx->dx_level);
		if (count > limit || le16_to_cpu(dx->dx_limit) != limit ||
		    level > VEXFS_HTREE_MAX_LEVEL ||
		    (want_level >= 0 && level != want_level) ||
		    (count > 0 && le32_to_cpu(de[0].hash) != 0))
			goto bad;
		if (count == 0) {
			brelse(bh);
			if (lblk == 0) {
				*empty = true;
				return 0;
			}
			goto bad_nobh;
		}
		for (i = 0; i < count; i++) {
			if (i > 0 && le32_to_cpu(de[i].hash) <
				     le32_to_cpu(de[i - 1].hash))
				goto bad;
			if (le32_to_cpu(de[i].hash) > hash)
				break;
			next = le32_to_cpu(de[i].block);
		}
		brelse(bh);
		if (next == 0 || next >= nblocks)
			goto bad_nobh;
		if (level == 0) {
			*leaf = next;
			return 0;
		}
		lblk = next;
		want_level = level - 1;
		continue;
bad:
		brelse(bh);
bad_nobh:
		vexfs_corrupt(sb, dir->i_ino, "bad index block %llu", lblk);
		return -EUCLEAN;
	}
}

/* The inode number of @name in @dir, 0 if absent, or a negative errno. */
static s64 vexfs_find_entry(struct inode *dir, const struct qstr *name)
{
	struct super_block *sb = dir->i_sb;
	u32 hash = vexfs_name_hash(name->name, name->len,
				   VEXFS_SB(sb)->s_hash_seed);
	struct vexfs_dir_leaf_header *lh;
	struct buffer_head *bh;
	u32 count, used, off, i;
	s64 found = 0;
	bool empty;
	u64 leaf;
	int err;

	err = vexfs_find_leaf(dir, hash, &leaf, &empty);
	if (err)
		return err;
	if (empty)
		return 0;
	bh = vexfs_dir_bread(dir, leaf, VEXFS_DIRL_MAGIC);
	if (IS_ERR_OR_NULL(bh)) {
		if (!bh)
			vexfs_corrupt(sb, dir->i_ino, "leaf block %llu is a hole",
				      leaf);
		return bh ? PTR_ERR(bh) : -EUCLEAN;
	}
	lh = (void *)bh->b_data;
	count = le32_to_cpu(lh->dl_count);
	used = le32_to_cpu(lh->dl_used);
	if (used > sb->s_blocksize - sizeof(*lh) - VEXFS_CSUM_SIZE)
		goto bad;
	off = sizeof(*lh);
	for (i = 0; i < count; i++) {
		struct vexfs_dir_entry *de = (void *)(bh->b_data + off);
		u32 nlen, rec;

		if (off + sizeof(*de) > sizeof(*lh) + used)
			goto bad;
		nlen = le16_to_cpu(de->d_name_len);
		rec = VEXFS_DIR_REC_LEN(nlen);
		if (nlen < 1 || nlen > VEXFS_NAME_LEN ||
		    off + rec > sizeof(*lh) + used)
			goto bad;
		if (le32_to_cpu(de->d_hash) == hash && nlen == name->len &&
		    !memcmp(de->d_name, name->name, nlen)) {
			found = le64_to_cpu(de->d_ino);
			if (found < 1 || (u64)found > VEXFS_SB(sb)->s_inode_count)
				goto bad;
			break;
		}
		off += rec;
	}
	brelse(bh);
	return found;
bad:
	vexfs_corrupt(sb, dir->i_ino, "bad entry in leaf block %llu", leaf);
	brelse(bh);
	return -EUCLEAN;
}

static struct dentry *vexfs_lookup(struct inode *dir, struct dentry *dentry,
				   unsigned int flags)
{
	struct inode *inode = NULL;
	s64 ino;

	if (dentry->d_name.len > VEXFS_NAME_LEN)
		return ERR_PTR(-ENAMETOOLONG);
	ino = vexfs_find_entry(dir, &dentry->d_name);
	if (ino < 0)
		return ERR_PTR(ino);
	if (ino > 0) {
		inode = vexfs_iget(dir->i_sb, ino);
		if (IS_ERR(inode))
			return ERR_CAST(inode);
	}
	return d_splice_alias(inode, dentry);
}

const struct inode_operations vexfs_dir_inode_operations = {
	.lookup		= vexfs_lookup,
	.getattr	= vexfs_getattr,
	.listxattr	= vexfs_listxattr,
	.VEXFS_GET_ACL_OP = vexfs_get_acl,
};
