// SPDX-License-Identifier: GPL-2.0
/*
 * super.c - module init and exit, the filesystem type, reading and checking
 * the superblock (FORMAT.md sections 2 and 3), statfs.
 *
 * Read-write: the journal is opened (and replayed) at mount, the free
 * counts are recounted from the bitmaps, unlinked-open files left by a
 * crash are freed (orphan.c). Options: errors=continue|remount-ro|panic,
 * commit=SECONDS (FORMAT.md 3.2 and 9).
 */
#include <linux/module.h>
#include <linux/init.h>
#include <linux/slab.h>
#include <linux/statfs.h>
#include <linux/fs_context.h>
#include <linux/blkdev.h>
#include <linux/fs_parser.h>
#include <linux/seq_file.h>
#include <linux/jbd2.h>
#include "vexfs.h"
#include "vexfs_vec.h"

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
	jbd2_journal_init_jbd_inode(&vi->i_jinode_s, &vi->vfs_inode);
	vi->i_jinode = VEXFS_SB(sb)->s_journal ? &vi->i_jinode_s : NULL;
	vi->i_sync_tid = 0;
	vi->i_bulk_task = NULL;
	vi->i_flags = 0;
	vi->i_orphan_next = 0;
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

/*
 * Marks the image in use (FORMAT.md 3.2, 9.5): RECOVER with a journal, else
 * state dirty unless an error is recorded. The caller commits the
 * superblock.
 */
static void vexfs_mark_in_use(struct vexfs_sb_info *sbi)
{
	struct vexfs_super_block *es = &sbi->s_es;

	if (sbi->s_journal)
		es->s_feature_incompat |=
			cpu_to_le32(VEXFS_FEATURE_INCOMPAT_RECOVER);
	else if (le16_to_cpu(es->s_state) != VEXFS_STATE_ERROR)
		es->s_state = cpu_to_le16(VEXFS_STATE_DIRTY);
	sbi->s_incompat = le32_to_cpu(es->s_feature_incompat);
}

/* Marks the superblock in use (a read-write mount, FORMAT.md 3.2, 9.5). */
static int vexfs_setup_rw(struct super_block *sb)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	struct vexfs_super_block *es = &sbi->s_es;
	int err;

	err = vexfs_count_free(sb);
	if (err)
		return err;
	spin_lock(&sbi->s_lock);
	vexfs_mark_in_use(sbi);
	le32_add_cpu(&es->s_mount_count, 1);
	es->s_mount_time = cpu_to_le64(ktime_get_real_seconds());
	spin_unlock(&sbi->s_lock);
	return vexfs_commit_super(sb, true);
}

/*
 * The clean-close state (FORMAT.md 3.2, 9.5): everything checkpointed,
 * RECOVER cleared, state 1 unless an error was recorded.
 */
static int vexfs_mark_clean(struct super_block *sb)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	struct vexfs_super_block *es = &sbi->s_es;
	int err = 0;

	if (sbi->s_journal) {
		if (is_journal_aborted(sbi->s_journal))
			return -EIO;
		err = jbd2_journal_flush(sbi->s_journal, 0);
		if (err)
			return err;
	}
	spin_lock(&sbi->s_lock);
	es->s_feature_incompat &= ~cpu_to_le32(VEXFS_FEATURE_INCOMPAT_RECOVER);
	if (le16_to_cpu(es->s_state) != VEXFS_STATE_ERROR)
		es->s_state = cpu_to_le16(VEXFS_STATE_CLEAN);
	sbi->s_incompat = le32_to_cpu(es->s_feature_incompat);
	spin_unlock(&sbi->s_lock);
	return vexfs_commit_super(sb, true);
}

/*
 * freeze_fs (FIFREEZE, fsfreeze(8), as ext4_freeze): the VFS has blocked
 * new writers and synced; block new jbd2 handles, checkpoint the journal
 * and mark the image clean, so a copy taken while frozen (dd, a snapshot)
 * mounts and checks clean without a journal replay.
 */
static int vexfs_freeze_fs(struct super_block *sb)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	int err;

	if (sb_rdonly(sb))
		return 0;
	vexfs_iput_flush(sb);	/* deferred evictions take handles */
	if (sbi->s_journal)
		jbd2_journal_lock_updates(sbi->s_journal);
	err = vexfs_mark_clean(sb);
	if (err && sbi->s_journal)
		jbd2_journal_unlock_updates(sbi->s_journal);
	return err;
}

/* unfreeze_fs: the image is in use again (RECOVER or state dirty). */
static int vexfs_unfreeze_fs(struct super_block *sb)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	int err;

	if (sb_rdonly(sb))
		return 0;
	spin_lock(&sbi->s_lock);
	vexfs_mark_in_use(sbi);
	spin_unlock(&sbi->s_lock);
	err = vexfs_commit_super(sb, true);
	if (sbi->s_journal)
		jbd2_journal_unlock_updates(sbi->s_journal);
	return err;
}

static void vexfs_put_super(struct super_block *sb)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	bool aborted = sbi->s_journal && is_journal_aborted(sbi->s_journal);

	vexfs_iput_flush(sb);
	flush_work(&sbi->s_error_work);
	if (!sb_rdonly(sb) && !aborted)
		vexfs_mark_clean(sb);
	vexfs_journal_destroy(sb);
	flush_work(&sbi->s_error_work);
	vexfs_bitmap_destroy(sb);
	brelse(sbi->s_sbh);
	kfree(sbi);
	sb->s_fs_info = NULL;
}

static int vexfs_statfs(struct dentry *dentry, struct kstatfs *buf)
{
	struct super_block *sb = dentry->d_sb;
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	u64 id = huge_encode_dev(sb->s_bdev->bd_dev);

	buf->f_type = VEXFS_MAGIC;
	buf->f_bsize = sbi->s_block_size;
	buf->f_frsize = sbi->s_block_size;
	buf->f_blocks = sbi->s_block_count;
	spin_lock(&sbi->s_lock);
	buf->f_bfree = sbi->s_free_blocks;
	buf->f_ffree = sbi->s_free_inodes;
	spin_unlock(&sbi->s_lock);
	buf->f_bavail = buf->f_bfree;
	buf->f_files = sbi->s_inode_count;
	buf->f_namelen = VEXFS_NAME_LEN;
	buf->f_fsid = u64_to_fsid(id);
	return 0;
}

static int vexfs_show_options(struct seq_file *seq, struct dentry *root)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(root->d_sb);

	switch (sbi->s_mount_opt & VEXFS_MOUNT_ERRORS_MASK) {
	case VEXFS_MOUNT_ERRORS_RO:
		seq_puts(seq, ",errors=remount-ro");
		break;
	case VEXFS_MOUNT_ERRORS_PANIC:
		seq_puts(seq, ",errors=panic");
		break;
	default:
		seq_puts(seq, ",errors=continue");
	}
	if (sbi->s_commit_interval)
		seq_printf(seq, ",commit=%u", sbi->s_commit_interval);
	if (!(root->d_sb->s_flags & SB_POSIXACL))
		seq_puts(seq, ",noacl");
	return 0;
}

static const struct super_operations vexfs_sops = {
	.alloc_inode	= vexfs_alloc_inode,
	.free_inode	= vexfs_free_inode,
	.write_inode	= vexfs_write_inode,
	.dirty_inode	= vexfs_dirty_inode,
	.evict_inode	= vexfs_evict_inode,
	.put_super	= vexfs_put_super,
	.sync_fs	= vexfs_sync_fs,
	.freeze_fs	= vexfs_freeze_fs,
	.unfreeze_fs	= vexfs_unfreeze_fs,
	.statfs		= vexfs_statfs,
	.show_options	= vexfs_show_options,
};

/* Mount options (as ext4's errors= and commit=). */
enum { Opt_errors, Opt_commit, Opt_acl, Opt_noacl };

static const struct constant_table vexfs_param_errors[] = {
	{ "continue",	VEXFS_MOUNT_ERRORS_CONT },
	{ "remount-ro",	VEXFS_MOUNT_ERRORS_RO },
	{ "panic",	VEXFS_MOUNT_ERRORS_PANIC },
	{}
};

static const struct fs_parameter_spec vexfs_param_specs[] = {
	fsparam_enum("errors", Opt_errors, vexfs_param_errors),
	fsparam_u32("commit", Opt_commit),
	fsparam_flag("acl", Opt_acl),		/* namei.c, acl.c */
	fsparam_flag("noacl", Opt_noacl),
	{}
};

struct vexfs_fs_context {
	unsigned int errors;	/* VEXFS_MOUNT_ERRORS_*, 0: the image's */
	unsigned int commit;
	bool commit_set;
	int acl;		/* remount: 1 acl, -1 noacl, 0 unchanged */
};

static int vexfs_parse_param(struct fs_context *fc,
			     struct fs_parameter *param)
{
	struct vexfs_fs_context *ctx = fc->fs_private;
	struct fs_parse_result result;
	int opt;

	opt = fs_parse(fc, vexfs_param_specs, param, &result);
	if (opt < 0)
		return opt;
	switch (opt) {
	case Opt_errors:
		ctx->errors = result.uint_32;
		break;
	case Opt_commit:
		if (result.uint_32 > 24 * 3600)
			return invalf(fc, "vexfs: commit=%u is too long (at most a day)",
				      result.uint_32);
		ctx->commit = result.uint_32;
		ctx->commit_set = true;
		break;
	case Opt_acl:	/* POSIX ACLs on (the default) or off, as ext4 */
	case Opt_noacl:
		/*
		 * A new superblock takes fc->sb_flags; a remount may change
		 * only MS_RMT_MASK through them, so vexfs_reconfigure
		 * applies ctx->acl itself.
		 */
		ctx->acl = opt == Opt_acl ? 1 : -1;
		if (opt == Opt_acl)
			fc->sb_flags |= SB_POSIXACL;
		else
			fc->sb_flags &= ~SB_POSIXACL;
		break;
	}
	return 0;
}

static void vexfs_apply_options(struct super_block *sb,
				struct vexfs_fs_context *ctx)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	unsigned int mode = ctx->errors;

	if (!mode) {
		switch (le16_to_cpu(sbi->s_es.s_errors)) {
		case VEXFS_ERRORS_RO:
			mode = VEXFS_MOUNT_ERRORS_RO;
			break;
		case VEXFS_ERRORS_PANIC:
			mode = VEXFS_MOUNT_ERRORS_PANIC;
			break;
		default:
			mode = VEXFS_MOUNT_ERRORS_CONT;
		}
	}
	sbi->s_mount_opt = (sbi->s_mount_opt & ~VEXFS_MOUNT_ERRORS_MASK) |
			   mode;
	if (ctx->commit_set) {
		sbi->s_commit_interval = ctx->commit;
		if (sbi->s_journal)
			sbi->s_journal->j_commit_interval =
				(ctx->commit ? ctx->commit : 5) * HZ;
	}
}

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
	if ((incompat & VEXFS_FEATURE_INCOMPAT_RECOVER) &&
	    !(incompat & VEXFS_FEATURE_INCOMPAT_JOURNAL)) {
		pr_err("vexfs: %s: RECOVER is set but the image has no journal; run 'vexfs fsck'\n",
		       sb->s_id);
		return -EUCLEAN;
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

/* Reads and checks the superblock in the buffer cache into sbi->s_es. */
static int vexfs_load_super(struct super_block *sb, struct buffer_head *bh,
			    unsigned int off, bool silent)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	struct vexfs_super_block *es;
	u32 csum;

	es = (struct vexfs_super_block *)(bh->b_data + off);
	if (le32_to_cpu(es->s_magic) != VEXFS_MAGIC) {
		if (!silent)
			pr_err("vexfs: %s: no VexFS superblock (bad magic 0x%08x)\n",
			       sb->s_id, le32_to_cpu(es->s_magic));
		return -EINVAL;
	}
	csum = vexfs_crc(es, offsetof(struct vexfs_super_block, s_checksum));
	if (csum != le32_to_cpu(es->s_checksum)) {
		pr_err("vexfs: %s: superblock checksum mismatch (stored 0x%08x, computed 0x%08x); run 'vexfs fsck'\n",
		       sb->s_id, le32_to_cpu(es->s_checksum), csum);
		return -EUCLEAN;
	}
	memcpy(&sbi->s_es, es, sizeof(*es));
	return 0;
}

static void vexfs_init_sbi(struct vexfs_sb_info *sbi)
{
	const struct vexfs_super_block *es = &sbi->s_es;

	sbi->s_block_size = VEXFS_MIN_BLOCK_SIZE << le32_to_cpu(es->s_log_block_size);
	sbi->s_block_count = le64_to_cpu(es->s_block_count);
	sbi->s_inode_count = le64_to_cpu(es->s_inode_count);
	sbi->s_inode_table_start = le64_to_cpu(es->s_inode_table_start);
	sbi->s_inode_bitmap_start = le64_to_cpu(es->s_inode_bitmap_start);
	sbi->s_first_data_block = le64_to_cpu(es->s_first_data_block);
	sbi->s_hash_seed = le32_to_cpu(es->s_hash_seed);
	sbi->s_incompat = le32_to_cpu(es->s_feature_incompat);
	sbi->s_ro_compat = le32_to_cpu(es->s_feature_ro_compat);
	sbi->s_block_bitmap_start = le64_to_cpu(es->s_block_bitmap_start);
	sbi->s_block_bitmap_blocks = le32_to_cpu(es->s_block_bitmap_blocks);
	sbi->s_inode_bitmap_blocks = le32_to_cpu(es->s_inode_bitmap_blocks);
	sbi->s_inode_table_blocks = le64_to_cpu(es->s_inode_table_blocks);
	sbi->s_free_blocks = le64_to_cpu(es->s_free_blocks);
	sbi->s_free_inodes = le64_to_cpu(es->s_free_inodes);
}

static int vexfs_fill_super(struct super_block *sb, struct fs_context *fc)
{
	bool silent = fc->sb_flags & SB_SILENT;
	bool rdonly = fc->sb_flags & SB_RDONLY;
	struct vexfs_sb_info *sbi;
	struct buffer_head *bh;
	struct inode *root;
	unsigned int bs;
	int err;

	sbi = kzalloc(sizeof(*sbi), GFP_KERNEL);
	if (!sbi)
		return -ENOMEM;
	sb->s_fs_info = sbi;
	spin_lock_init(&sbi->s_lock);
	mutex_init(&sbi->s_alloc_mutex);
	mutex_init(&sbi->s_orphan_mutex);
	INIT_LIST_HEAD(&sbi->s_freed);
	vexfs_super_write_init(sb);
	vexfs_iput_init(sb);

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
	err = vexfs_load_super(sb, bh, VEXFS_SB_OFFSET % bs, silent);
	brelse(bh);
	if (err)
		return err;
	err = vexfs_check_super(sb, &sbi->s_es, bdev_nr_bytes(sb->s_bdev),
				rdonly);
	if (err)
		return err;
	vexfs_init_sbi(sbi);
	if (!sb_set_blocksize(sb, sbi->s_block_size)) {
		pr_err("vexfs: %s: block size %u is not supported by the device\n",
		       sb->s_id, sbi->s_block_size);
		return -EINVAL;
	}
	bs = sbi->s_block_size;
	sbi->s_sbh = sb_bread(sb, VEXFS_SB_OFFSET / bs);
	if (!sbi->s_sbh) {
		pr_err("vexfs: %s: cannot read the superblock\n", sb->s_id);
		return -EIO;
	}
	sbi->s_raw = (struct vexfs_super_block *)(sbi->s_sbh->b_data +
						  VEXFS_SB_OFFSET % bs);
	vexfs_apply_options(sb, fc->fs_private);

	sb->s_magic = VEXFS_MAGIC;
	sb->s_op = &vexfs_sops;
	sb->s_xattr = vexfs_xattr_handlers;
	sb->s_maxbytes = 1LL << 44;	/* FORMAT.md 5.2: 16 TiB */
	sb->s_time_min = S64_MIN;
	sb->s_time_max = S64_MAX;
	sb->s_time_gran = 1;
	memcpy(&sb->s_uuid, sbi->s_es.s_uuid, sizeof(sb->s_uuid));

	if (sbi->s_incompat & VEXFS_FEATURE_INCOMPAT_JOURNAL) {
		err = vexfs_journal_load(sb);
		if (err)
			goto fail;
		/* Replay may have changed the superblock: read it again. */
		err = vexfs_load_super(sb, sbi->s_sbh, VEXFS_SB_OFFSET % bs,
				       false);
		if (!err)
			err = vexfs_check_super(sb, &sbi->s_es,
						bdev_nr_bytes(sb->s_bdev),
						rdonly);
		if (!err && VEXFS_MIN_BLOCK_SIZE <<
			    le32_to_cpu(sbi->s_es.s_log_block_size) != bs) {
			pr_err("vexfs: %s: the replayed superblock changed the block size\n",
			       sb->s_id);
			err = -EUCLEAN;
		}
		if (err)
			goto fail;
		vexfs_init_sbi(sbi);
		vexfs_apply_options(sb, fc->fs_private);
	} else if (le64_to_cpu(sbi->s_es.s_journal_ino)) {
		pr_err("vexfs: %s: journal inode set without the JOURNAL feature; run 'vexfs fsck'\n",
		       sb->s_id);
		err = -EUCLEAN;
		goto fail;
	}
	if (!rdonly) {
		if (!sbi->s_journal &&
		    le16_to_cpu(sbi->s_es.s_state) == VEXFS_STATE_DIRTY)
			pr_warn("vexfs: %s: not cleanly unmounted and without a journal; run 'vexfs fsck'\n",
				sb->s_id);
		err = vexfs_setup_rw(sb);
		if (err)
			goto fail;
	}

	root = vexfs_iget(sb, VEXFS_ROOT_INO);
	if (IS_ERR(root)) {
		err = PTR_ERR(root);
		goto fail;
	}
	if (!S_ISDIR(root->i_mode)) {
		pr_err("vexfs: %s: the root inode is not a directory; run 'vexfs fsck'\n",
		       sb->s_id);
		iput(root);
		err = -EUCLEAN;
		goto fail;
	}
	sb->s_root = d_make_root(root);
	if (!sb->s_root) {
		err = -ENOMEM;
		goto fail;
	}
	if (!rdonly)
		vexfs_orphan_cleanup(sb);
	return 0;
fail:
	/* Nothing was written but the in-use marks: leave them for fsck. */
	vexfs_journal_destroy(sb);
	flush_work(&sbi->s_error_work);
	vexfs_bitmap_destroy(sb);
	brelse(sbi->s_sbh);
	sbi->s_sbh = NULL;
	kfree(sbi);
	sb->s_fs_info = NULL;
	return err;
}

static int vexfs_get_tree(struct fs_context *fc)
{
	return get_tree_bdev(fc, vexfs_fill_super);
}

static int vexfs_reconfigure(struct fs_context *fc)
{
	struct super_block *sb = fc->root->d_sb;
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	bool want_ro = fc->sb_flags & SB_RDONLY;
	int err = 0;

	vexfs_iput_flush(sb);	/* orphans freed while still read-write */
	sync_filesystem(sb);
	vexfs_apply_options(sb, fc->fs_private);
	if (((struct vexfs_fs_context *)fc->fs_private)->acl > 0)
		sb->s_flags |= SB_POSIXACL;
	else if (((struct vexfs_fs_context *)fc->fs_private)->acl < 0)
		sb->s_flags &= ~SB_POSIXACL;
	if (want_ro == sb_rdonly(sb))
		return 0;
	if (want_ro) {
		err = vexfs_mark_clean(sb);
		if (err == -EIO)	/* aborted journal: stays as it is */
			err = 0;
		return err;
	}
	/* read-only -> read-write */
	if (sbi->s_ro_compat & ~VEXFS_KNOWN_RO_COMPAT) {
		pr_err("vexfs: %s: unknown read-only-compatible features 0x%x; cannot remount read-write\n",
		       sb->s_id, sbi->s_ro_compat & ~VEXFS_KNOWN_RO_COMPAT);
		return -EROFS;
	}
	if (sbi->s_journal && is_journal_aborted(sbi->s_journal)) {
		pr_err("vexfs: %s: the journal was aborted after an error; unmount and run 'vexfs fsck'\n",
		       sb->s_id);
		return -EROFS;
	}
	if (bdev_read_only(sb->s_bdev))
		return -EACCES;
	sb->s_flags &= ~SB_RDONLY;
	err = vexfs_setup_rw(sb);
	if (err) {
		sb->s_flags |= SB_RDONLY;
		return err;
	}
	vexfs_orphan_cleanup(sb);
	return 0;
}

static void vexfs_free_fc(struct fs_context *fc)
{
	kfree(fc->fs_private);
}

static const struct fs_context_operations vexfs_context_ops = {
	.parse_param	= vexfs_parse_param,
	.get_tree	= vexfs_get_tree,
	.reconfigure	= vexfs_reconfigure,
	.free		= vexfs_free_fc,
};

static int vexfs_init_fs_context(struct fs_context *fc)
{
	fc->fs_private = kzalloc(sizeof(struct vexfs_fs_context), GFP_KERNEL);
	if (!fc->fs_private)
		return -ENOMEM;
	fc->ops = &vexfs_context_ops;
	if (fc->purpose == FS_CONTEXT_FOR_MOUNT)
		fc->sb_flags |= SB_POSIXACL;	/* acl is the default */
	return 0;
}

static struct file_system_type vexfs_fs_type = {
	.owner			= THIS_MODULE,
	.name			= "vexfs",
	.init_fs_context	= vexfs_init_fs_context,
	.kill_sb		= kill_block_super,
	.fs_flags		= FS_REQUIRES_DEV,
	.parameters		= vexfs_param_specs,
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
	vexfs_vector_xattr = &vexfs_vec_xattr_ops;	/* vector.c */
	err = register_filesystem(&vexfs_fs_type);
	if (err) {
		kmem_cache_destroy(vexfs_inode_cachep);
		return err;
	}
	pr_info("vexfs: registered (format version %u)\n",
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
