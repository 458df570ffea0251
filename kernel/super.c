// SPDX-License-Identifier: GPL-2.0
/*
 * super.c - module init and exit, the filesystem type, reading and checking
 * the superblock (FORMAT.md sections 2 and 3), statfs.
 *
 * This version mounts read-only: a read-write mount fails with EROFS and a
 * dmesg line saying so.
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/slab.h>
#include <linux/statfs.h>
#include <linux/fs_context.h>
#include <linux/blkdev.h>
#include "vexfs.h"

#define VEXFS_KNOWN_INCOMPAT (VEXFS_FEATURE_INCOMPAT_EXTENTS | \
	VEXFS_FEATURE_INCOMPAT_HTREE | VEXFS_FEATURE_INCOMPAT_VECTORS | \
	VEXFS_FEATURE_INCOMPAT_JOURNAL | VEXFS_FEATURE_INCOMPAT_RECOVER | \
	VEXFS_FEATURE_INCOMPAT_XATTR_STORE | VEXFS_FEATURE_INCOMPAT_FLEX_META)
#define VEXFS_KNOWN_RO_COMPAT (VEXFS_FEATURE_RO_COMPAT_PARENT_PTR | \
	VEXFS_FEATURE_RO_COMPAT_HNSW | VEXFS_FEATURE_RO_COMPAT_NORMS)

static struct kmem_cache *vexfs_inode_cachep;

static struct inode *vexfs_alloc_inode(struct super_block *sb)
{
	struct vexfs_inode_info *vi;

	vi = alloc_inode_sb(sb, vexfs_inode_cachep, GFP_KERNEL);
	if (!vi)
		return NULL;
	return &vi->vfs_inode;
}

static void vexfs_free_inode(struct inode *inode)
{
	kmem_cache_free(vexfs_inode_cachep, VEXFS_I(inode));
}

static void vexfs_inode_init_once(void *p)
{
	struct vexfs_inode_info *vi = p;

	init_rwsem(&vi->i_data_sem);
	init_rwsem(&vi->i_xattr_sem);
	inode_init_once(&vi->vfs_inode);
}

static void vexfs_put_super(struct super_block *sb)
{
	kfree(sb->s_fs_info);
	sb->s_fs_info = NULL;
}

static int vexfs_statfs(struct dentry *dentry, struct kstatfs *buf)
{
	struct super_block *sb = dentry->d_sb;
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	const struct vexfs_super_block *es = &sbi->s_es;
	u64 id = huge_encode_dev(sb->s_bdev->bd_dev);

	buf->f_type = VEXFS_MAGIC;
	buf->f_bsize = sbi->s_block_size;
	buf->f_frsize = sbi->s_block_size;
	buf->f_blocks = sbi->s_block_count;
	buf->f_bfree = le64_to_cpu(es->s_free_blocks);
	buf->f_bavail = buf->f_bfree;
	buf->f_files = sbi->s_inode_count;
	buf->f_ffree = le64_to_cpu(es->s_free_inodes);
	buf->f_namelen = VEXFS_NAME_LEN;
	buf->f_fsid = u64_to_fsid(id);
	return 0;
}

static const struct super_operations vexfs_sops = {
	.alloc_inode	= vexfs_alloc_inode,
	.free_inode	= vexfs_free_inode,
	.put_super	= vexfs_put_super,
	.statfs		= vexfs_statfs,
};

static u64 div_up(u64 a, u64 b)
{
	return div64_u64(a + b - 1, b);
}

/* Whether blocks [start, start + len) lie in the filesystem's metadata area. */
static bool run_ok(u64 start, u64 len, u64 first, u64 end)
{
	return len > 0 && start >= first && start < end && len <= end - start;
}

/*
 * Checks everything a mount relies on: version, features, block size and
 * the geometry of the regions (FORMAT.md sections 2 and 3). Prints why it
 * refuses; returns 0 or a negative errno.
 */
static int vexfs_check_super(struct super_block *sb,
			     const struct vexfs_super_block *es,
			     u64 dev_bytes, bool rdonly)
{
	u32 log_bs = le32_to_cpu(es->s_log_block_size);
	u32 incompat = le32_to_cpu(es->s_feature_incompat);
	u32 ro_compat = le32_to_cpu(es->s_feature_ro_compat);
	u64 blocks = le64_to_cpu(es->s_block_count);
	u64 inodes = le64_to_cpu(es->s_inode_count);
	u64 first_meta, end, bs;

	if (le16_to_cpu(es->s_version_major) != VEXFS_VERSION_MAJOR) {
		pr_err("vexfs: %s: format version %u.%u; this module reads version %u only\n",
		       sb->s_id, le16_to_cpu(es->s_version_major),
		       le16_to_cpu(es->s_version_minor), VEXFS_VERSION_MAJOR);
		return -EINVAL;
	}
	if (incompat & ~VEXFS_KNOWN_INCOMPAT) {
		pr_err("vexfs: %s: unknown incompatible features 0x%x; refusing to mount (a newer VexFS made this image)\n",
		       sb->s_id, incompat & ~VEXFS_KNOWN_INCOMPAT);
		return -EINVAL;
	}
	if ((ro_compat & ~VEXFS_KNOWN_RO_COMPAT) && !rdonly) {
		pr_err("vexfs: %s: unknown read-only-compatible features 0x%x; mount read-only (-o ro)\n",
		       sb->s_id, ro_compat & ~VEXFS_KNOWN_RO_COMPAT);
		return -EROFS;
	}
	if (incompat & VEXFS_FEATURE_INCOMPAT_RECOVER) {
		pr_err("vexfs: %s: the journal needs recovery, which this module cannot do yet; run 'vexfs fsck -y' or mount with 'vexfs mount' first\n",
		       sb->s_id);
		return -EINVAL;
	}
	if (log_bs > VEXFS_MAX_LOG_BLOCK_SIZE) {
		pr_err("vexfs: %s: bad block size exponent %u\n", sb->s_id, log_bs);
		return -EUCLEAN;
	}
	bs = VEXFS_MIN_BLOCK_SIZE << log_bs;
	if (bs > PAGE_SIZE) {
		pr_err("vexfs: %s: block size %llu is larger than the page size %lu; not supported by this kernel module\n",
		       sb->s_id, bs, PAGE_SIZE);
		return -EINVAL;
	}
	if (le16_to_cpu(es->s_inode_size) != VEXFS_INODE_SIZE ||
	    le64_to_cpu(es->s_root_ino) != VEXFS_ROOT_INO ||
	    le64_to_cpu(es->s_coll_table_ino) != VEXFS_COLL_TABLE_INO ||
	    le32_to_cpu(es->s_first_ino) != VEXFS_FIRST_INO ||
	    inodes < VEXFS_FIRST_INO || blocks < 64) {
		pr_err("vexfs: %s: superblock has impossible values (inode size, reserved inodes or counts)\n",
		       sb->s_id);
		return -EUCLEAN;
	}
	if (blocks > div64_u64(dev_bytes, bs)) {
		pr_err("vexfs: %s: filesystem has %llu blocks of %llu bytes but the device holds only %llu bytes\n",
		       sb->s_id, blocks, bs, dev_bytes);
		return -EINVAL;
	}
	first_meta = bs == 1024 ? 2 : 1;
	end = blocks - 1;	/* the backup superblock's block */
	if (le32_to_cpu(es->s_block_bitmap_blocks) != div_up(blocks, 8 * bs) ||
	    le32_to_cpu(es->s_inode_bitmap_blocks) != div_up(inodes, 8 * bs) ||
	    le64_to_cpu(es->s_inode_table_blocks) !=
			div_up(inodes * VEXFS_INODE_SIZE, bs) ||
	    !run_ok(le64_to_cpu(es->s_block_bitmap_start),
		    le32_to_cpu(es->s_block_bitmap_blocks), first_meta, end) ||
	    !run_ok(le64_to_cpu(es->s_inode_bitmap_start),
		    le32_to_cpu(es->s_inode_bitmap_blocks), first_meta, end) ||
	    !run_ok(le64_to_cpu(es->s_inode_table_start),
		    le64_to_cpu(es->s_inode_table_blocks), first_meta, end) ||
	    le64_to_cpu(es->s_first_data_block) < first_meta ||
	    le64_to_cpu(es->s_first_data_block) >= end) {
		pr_err("vexfs: %s: superblock geometry is inconsistent (bitmaps, inode table or data area outside the filesystem)\n",
		       sb->s_id);
		return -EUCLEAN;
	}
	if (le16_to_cpu(es->s_state) == VEXFS_STATE_ERROR)
		pr_warn("vexfs: %s: filesystem has errors (%u recorded); run 'vexfs fsck'\n",
			sb->s_id, le32_to_cpu(es->s_error_count));
	return 0;
}

static int vexfs_fill_super(struct super_block *sb, struct fs_context *fc)
{
	bool silent = fc->sb_flags & SB_SILENT;
	struct vexfs_sb_info *sbi;
	struct buffer_head *bh;
	struct vexfs_super_block *es;
	struct inode *root;
	unsigned int bs;
	u32 csum;
	int err;

	if (!(fc->sb_flags & SB_RDONLY)) {
		pr_err("vexfs: %s: this version of the kernel module mounts read-only only; use -o ro (or 'vexfs mount' for read-write)\n",
		       sb->s_id);
		return -EROFS;
	}
	sbi = kzalloc(sizeof(*sbi), GFP_KERNEL);
	if (!sbi)
		return -ENOMEM;
	sb->s_fs_info = sbi;

	/* The primary superblock is at byte 1024 whatever the block size. */
	bs = sb_min_blocksize(sb, VEXFS_MIN_BLOCK_SIZE);
	if (!bs) {
		pr_err("vexfs: %s: cannot set a block size\n", sb->s_id);
		return -EINVAL;
	}
	bh = sb_bread(sb, VEXFS_SB_OFFSET / bs);
	if (!bh) {
		pr_err("vexfs: %s: cannot read the superblock\n", sb->s_id);
		return -EIO;
	}
	es = (struct vexfs_super_block *)(bh->b_data + VEXFS_SB_OFFSET % bs);
	if (le32_to_cpu(es->s_magic) != VEXFS_MAGIC) {
		if (!silent)
			pr_err("vexfs: %s: no VexFS superblock (bad magic 0x%08x)\n",
			       sb->s_id, le32_to_cpu(es->s_magic));
		brelse(bh);
		return -EINVAL;
	}
	csum = vexfs_crc(es, offsetof(struct vexfs_super_block, s_checksum));
	if (csum != le32_to_cpu(es->s_checksum)) {
		pr_err("vexfs: %s: superblock checksum mismatch (stored 0x%08x, computed 0x%08x); run 'vexfs fsck'\n",
		       sb->s_id, le32_to_cpu(es->s_checksum), csum);
		brelse(bh);
		return -EUCLEAN;
	}
	memcpy(&sbi->s_es, es, sizeof(*es));
	brelse(bh);
	es = &sbi->s_es;

	err = vexfs_check_super(sb, es, bdev_nr_bytes(sb->s_bdev), true);
	if (err)
		return err;
	sbi->s_block_size = VEXFS_MIN_BLOCK_SIZE << le32_to_cpu(es->s_log_block_size);
	sbi->s_block_count = le64_to_cpu(es->s_block_count);
	sbi->s_inode_count = le64_to_cpu(es->s_inode_count);
	sbi->s_inode_table_start = le64_to_cpu(es->s_inode_table_start);
	sbi->s_inode_bitmap_start = le64_to_cpu(es->s_inode_bitmap_start);
	sbi->s_first_data_block = le64_to_cpu(es->s_first_data_block);
	sbi->s_hash_seed = le32_to_cpu(es->s_hash_seed);
	sbi->s_incompat = le32_to_cpu(es->s_feature_incompat);
	sbi->s_ro_compat = le32_to_cpu(es->s_feature_ro_compat);

	if (!sb_set_blocksize(sb, sbi->s_block_size)) {
		pr_err("vexfs: %s: block size %u is not supported by the device\n",
		       sb->s_id, sbi->s_block_size);
		return -EINVAL;
	}
	sb->s_magic = VEXFS_MAGIC;
	sb->s_op = &vexfs_sops;
	sb->s_xattr = vexfs_xattr_handlers;
	sb->s_flags |= SB_POSIXACL;	/* the acl default, as ext4 */
	sb->s_maxbytes = 1LL << 44;	/* FORMAT.md 5.2: 16 TiB */
	sb->s_time_min = S64_MIN;
	sb->s_time_max = S64_MAX;
	sb->s_time_gran = 1;
	sb->s_flags |= SB_RDONLY;
	memcpy(&sb->s_uuid, es->s_uuid, sizeof(sb->s_uuid));

	root = vexfs_iget(sb, VEXFS_ROOT_INO);
	if (IS_ERR(root))
		return PTR_ERR(root);
	if (!S_ISDIR(root->i_mode)) {
		pr_err("vexfs: %s: the root inode is not a directory; run 'vexfs fsck'\n",
		       sb->s_id);
		iput(root);
		return -EUCLEAN;
	}
	sb->s_root = d_make_root(root);
	if (!sb->s_root)
		return -ENOMEM;
	return 0;
}

static int vexfs_get_tree(struct fs_context *fc)
{
	return get_tree_bdev(fc, vexfs_fill_super);
}

static int vexfs_reconfigure(struct fs_context *fc)
{
	if (!(fc->sb_flags & SB_RDONLY)) {
		pr_err("vexfs: %s: this version of the kernel module cannot remount read-write\n",
		       fc->root->d_sb->s_id);
		return -EROFS;
	}
	return 0;
}

static const struct fs_context_operations vexfs_context_ops = {
	.get_tree	= vexfs_get_tree,
	.reconfigure	= vexfs_reconfigure,
};

static int vexfs_init_fs_context(struct fs_context *fc)
{
	fc->ops = &vexfs_context_ops;
	return 0;
}

static struct file_system_type vexfs_fs_type = {
	.owner			= THIS_MODULE,
	.name			= "vexfs",
	.init_fs_context	= vexfs_init_fs_context,
	.kill_sb		= kill_block_super,
	.fs_flags		= FS_REQUIRES_DEV,
};
MODULE_ALIAS_FS("vexfs");

static int __init vexfs_init(void)
{
	int err;

	/* i_data holds fast symlink targets, copied to user space by readlink. */
	vexfs_inode_cachep = kmem_cache_create_usercopy("vexfs_inode_cache",
				sizeof(struct vexfs_inode_info), 0,
				SLAB_RECLAIM_ACCOUNT | SLAB_ACCOUNT,
				offsetof(struct vexfs_inode_info, i_data),
				sizeof_field(struct vexfs_inode_info, i_data),
				vexfs_inode_init_once);
	if (!vexfs_inode_cachep)
		return -ENOMEM;
	err = register_filesystem(&vexfs_fs_type);
	if (err) {
		kmem_cache_destroy(vexfs_inode_cachep);
		return err;
	}
	pr_info("vexfs: registered (format version %u, read-only)\n",
		VEXFS_VERSION_MAJOR);
	return 0;
}

static void __exit vexfs_exit(void)
{
	unregister_filesystem(&vexfs_fs_type);
	rcu_barrier();	/* inodes freed by RCU before the cache goes */
	kmem_cache_destroy(vexfs_inode_cachep);
}

module_init(vexfs_init);
module_exit(vexfs_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("VexFS, a vector-native filesystem");
MODULE_SOFTDEP("pre: crc32c");
