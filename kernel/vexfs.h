/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vexfs.h - the module's in-memory structures and the functions its files
 * share. The on-disk structures are in vexfs_fs.h.
 */
#ifndef _VEXFS_H
#define _VEXFS_H

#include <linux/fs.h>
#include <linux/buffer_head.h>
#include <linux/jbd2.h>
#include <linux/llist.h>
#include <linux/workqueue.h>
#include "vexfs_fs.h"
#include "compat.h"

/* Mount options (super.c). */
#define VEXFS_MOUNT_ERRORS_CONT		0x0001	/* errors=continue */
#define VEXFS_MOUNT_ERRORS_RO		0x0002	/* errors=remount-ro */
#define VEXFS_MOUNT_ERRORS_PANIC	0x0004	/* errors=panic */
#define VEXFS_MOUNT_ERRORS_MASK		0x0007

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

	/* --- read-write state (super.c, super_write.c, journal.c) --- */
	struct buffer_head *s_sbh;	/* block holding the primary sb */
	struct vexfs_super_block *s_raw; /* the primary sb inside s_sbh */
	struct journal_s *s_journal;	/* NULL: no JOURNAL feature */
	unsigned int s_mount_opt;	/* VEXFS_MOUNT_* */
	unsigned int s_commit_interval;	/* seconds (commit=), 0: default */
	spinlock_t s_lock;		/* free counts, s_es error fields */
	struct mutex s_alloc_mutex;	/* bitmaps (bitmap.c) */
	u64	s_free_blocks;		/* authoritative in memory */
	u64	s_free_inodes;
	u64	s_block_goal;		/* next-fit hint for new files */
	u64	s_inode_goal;
	struct list_head s_freed;	/* blocks freed, not yet committed */
	u64	s_block_bitmap_start;
	u32	s_block_bitmap_blocks;
	u32	s_inode_bitmap_blocks;
	u64	s_inode_table_blocks;
	struct mutex s_orphan_mutex;	/* the orphan list (orphan.c) */
	struct work_struct s_error_work; /* writes the error fields */
	struct super_block *s_sb;
	struct llist_head s_iput_list;	/* vexfs_iput_deferred (inode.c) */
	struct work_struct s_iput_work;	/* drops s_iput_list */
};

/* The in-memory inode: the VFS inode and the fields VexFS adds. */
struct vexfs_inode_info {
	__u8	i_data[VEXFS_INODE_DATA_SIZE + 1];	/* extent root or inline, NUL */
	u32	i_flags;
	u32	i_coll_id;
	u64	i_parent_ino;
	u64	i_xattr_block;
	u64	i_vec_slot;
	u32	i_parent_hash;		/* FORMAT.md 5.3 */
	u64	i_orphan_next;		/* FORMAT.md 5.4 */
	struct timespec64 i_crtime;
	struct rw_semaphore i_data_sem;	/* i_data (extent tree) changes */
	struct jbd2_inode *i_jinode;	/* ordered data, NULL: no journal */
	struct rw_semaphore i_xattr_sem;	/* xattr.c: readers, xattr_set.c */
	struct jbd2_inode i_jinode_s;	/* what i_jinode points to */
	tid_t	i_sync_tid;		/* last transaction that wrote it */
	/*
	 * An appending write in progress (file.c, vexfs_bulk_begin): its
	 * task, the first file block its pages touch, the first block it
	 * allocated unwritten ahead and the block after them. Changed under
	 * i_data_sem (write) by that task only; i_bulk_task NULL: none.
	 */
	struct task_struct *i_bulk_task;
	u64	i_bulk_first, i_bulk_alloc, i_bulk_end;
	struct llist_node i_iput_node;	/* on s_iput_list */
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

/*
 * ======================================================================
 * THE WRITE-PATH CONTRACT (every file that changes the disk follows it)
 * ======================================================================
 *
 * 1. Transactions (journal.c). Every change to metadata happens inside a
 *    handle:
 *
 *	handle = vexfs_journal_start(sb, credits);
 *	if (IS_ERR(handle))
 *		return PTR_ERR(handle);
 *	... vexfs_get_write_access / change / vexfs_dirty_metadata ...
 *	err2 = vexfs_journal_stop(handle);
 *
 *    - credits = the most blocks the handle may dirty: sum the
 *      VEXFS_*_CREDITS macros below for what the operation does. A handle
 *      that needs more calls vexfs_journal_extend() (which may restart the
 *      transaction: only at a point where the filesystem is consistent).
 *    - Images WITHOUT incompat JOURNAL (FORMAT.md 3.1: `mkfs --no-journal`
 *      and old images) are valid and mount read-write. There,
 *      vexfs_journal_start() returns NULL, which is a VALID handle: every
 *      vexfs_* function taking a handle_t accepts NULL and then writes
 *      through the buffer cache (mark_buffer_dirty), as ext4's nojournal
 *      mode. Test IS_ERR(handle), NEVER !handle. Never call a jbd2_*
 *      function directly: go through the wrappers below.
 *    - Never start a handle while holding a page lock or the
 *      s_alloc_mutex; lock order: inode lock (i_rwsem) -> handle ->
 *      i_data_sem -> s_alloc_mutex / s_orphan_mutex -> buffer lock.
 *    - Never sleep on I/O of data blocks inside a handle except through
 *      jbd2's ordered-data mechanism (vexfs_jbd2_inode_add_write).
 *
 * 2. Metadata buffers. Before changing any byte of a metadata block
 *    (superblock block, bitmap, inode table, directory, extent tree, xattr,
 *    internal files' blocks: FORMAT.md 9.4):
 *
 *	err = vexfs_get_write_access(handle, bh);  (new block:
 *	      vexfs_get_create_access after sb_getblk + lock/zero/uptodate)
 *	... change bh->b_data ...
 *	vexfs_block_csum_set(bh->b_data, bs, seed);  (checksummed blocks)
 *	err = vexfs_dirty_metadata(handle, inode, bh);
 *
 *    The CALLER that changes a checksummed block recomputes its checksum
 *    (FORMAT.md 1: seeded with the owner) after its last change and before
 *    vexfs_dirty_metadata(), while still holding the lock that serialises
 *    changes of that block (the directory's i_rwsem, the inode's
 *    i_data_sem, ...). Inode checksums are computed only by
 *    vexfs_mark_inode_dirty(); the superblock's only by super_write.c.
 *    Bitmaps have no checksum. Blocks read for writing are checked first
 *    (magic, checksum, ranges) exactly as the read path does.
 *
 * 3. Inodes. Change the in-memory inode (struct inode and vexfs_inode_info),
 *    then vexfs_mark_inode_dirty(handle, inode) in the same handle: it
 *    copies the whole inode into its inode table block with a fresh
 *    checksum. Plain mark_inode_dirty() also works (the VFS then calls
 *    vexfs_dirty_inode, which starts its own small handle) but only for
 *    changes made outside any handle (e.g. file_update_time).
 *    New inodes: vexfs_new_inode(handle, dir, mode, qstr) allocates the
 *    number near the parent, initialises all 256 bytes (FORMAT.md 4: uid/
 *    gid from the caller and dir's setgid, times = now, a new random
 *    generation differing from the slot's old one (4.2), i_parent_ino =
 *    dir, i_parent_hash = hash of qstr, i_coll_id = 0, empty extent root
 *    for REG/DIR/LNK, i_op/i_fop/a_ops set by vexfs_set_inode_ops) and
 *    returns it as ext4_new_inode does: hashed, I_NEW (locked), nlink 1
 *    (2 for a directory), already written in the handle. The caller links
 *    it and finishes with d_instantiate_new(dentry, inode); on failure:
 *    clear_nlink(inode); unlock_new_inode(inode); iput(inode) (evict then
 *    frees it). Vector code sets COLL_ROOT/coll_id itself, then
 *    vexfs_mark_inode_dirty.
 *    Unlinking: when unlink/rmdir/rename-over drops i_nlink to 0, call
 *    vexfs_orphan_add(handle, inode) in the same handle (FORMAT.md 5.4);
 *    the last iput (vexfs_evict_inode) frees blocks, xattr block, inode
 *    and takes it off the list; a crash in between is finished at mount.
 *    Superblock fields (orphan_head, coll_count, feature flags ...): change
 *    sbi->s_es under sbi->s_lock, then vexfs_journal_super(handle, sb) in
 *    the same handle; it writes s_es and the free counts with a checksum.
 *    Parent pointers (FORMAT.md 5.3) are the namespace code's job: a
 *    rename of a directory sets its i_parent_ino/i_parent_hash to the new
 *    parent and name; removing the link a multi-link file's pointer names
 *    sets i_parent_ino = 0; then vexfs_mark_inode_dirty in the same handle.
 *    Timestamps: current_time(inode), nanoseconds (s_time_gran = 1).
 *
 * 4. Blocks. vexfs_new_blocks(handle, inode, goal, &count, &pblk) gives
 *    up to *count contiguous free data blocks (1 <= *count), the first at
 *    or after goal if possible (goal 0: the allocator picks), sets *count
 *    to what it got and updates the free count and the inode's i_blocks
 *    (inode: the inode the blocks are for, never NULL; it is charged). Blocks
 *    freed by a transaction are not handed out before it commits.
 *    vexfs_free_blocks(handle, inode, pblk, count, flags) frees them;
 *    VEXFS_FREE_METADATA revokes them in the journal (freed extent tree,
 *    directory, xattr blocks, blocks of internal files) so replay never
 *    writes old metadata over their next use. Both validate the range
 *    (inside the data area, FORMAT.md 2.2) and report EUCLEAN through
 *    vexfs_error on a damaged bitmap or range (a bit already clear /
 *    set), never BUG.
 *
 * 5. Errors. vexfs_error(sb, ino, err, op, fmt, ...) prints a dmesg line,
 *    records the error in the superblock (FORMAT.md 3.2: state 3,
 *    error_count, first/last error fields), and applies errors= (continue:
 *    nothing more; remount-ro: abort the journal, SB_RDONLY; panic).
 *    Callers then return err (-EUCLEAN or -EIO). It may be called in any
 *    process context, with or without a handle (the superblock is written
 *    from a work item). vexfs_corrupt() (read path) reports the same way
 *    with EUCLEAN.
 */

/* Credits: blocks one handle may dirty, per kind of change. */
#define VEXFS_SB_CREDITS	1	/* the primary superblock's block */
#define VEXFS_INODE_CREDITS	1	/* one inode's inode table block */
/* Allocating or freeing one contiguous run: up to 2 bitmap blocks + sb. */
#define VEXFS_ALLOC_CREDITS	(2 + VEXFS_SB_CREDITS)
/*
 * Inserting or removing one extent: every level of the tree changes and
 * may split (one new block per level), plus the blocks the new tree blocks
 * take from the allocator, plus the inode.
 */
#define VEXFS_EXTENT_CREDITS	(2 * VEXFS_EXT_MAX_DEPTH + 1 + \
				 VEXFS_ALLOC_CREDITS + VEXFS_INODE_CREDITS)
/* Writing data into one new run of blocks: one extent + its blocks. */
#define VEXFS_DATA_CREDITS	(VEXFS_EXTENT_CREDITS + VEXFS_ALLOC_CREDITS)
/* A new inode: inode bitmap, its table block, sb. */
#define VEXFS_NEW_INODE_CREDITS	(1 + VEXFS_INODE_CREDITS + VEXFS_SB_CREDITS)
/* Adding/removing one name in a directory: the htree path (root + 2 index
 * levels + leaf), each possibly split, and growing the directory. */
#define VEXFS_DIR_CREDITS	(2 * (VEXFS_HTREE_MAX_LEVEL + 2) + \
				 VEXFS_DATA_CREDITS + VEXFS_INODE_CREDITS)
/* The orphan list: sb + the inode + its neighbour on the list. */
#define VEXFS_ORPHAN_CREDITS	(VEXFS_SB_CREDITS + 2 * VEXFS_INODE_CREDITS)
/* create/mkdir/mknod/symlink (a long symlink adds VEXFS_DATA_CREDITS). */
#define VEXFS_CREATE_CREDITS	(VEXFS_NEW_INODE_CREDITS + VEXFS_DIR_CREDITS + \
				 VEXFS_INODE_CREDITS + VEXFS_DATA_CREDITS)
/* Freeing blocks of a file per restart while truncating. */
#define VEXFS_TRUNCATE_CREDITS	(VEXFS_EXTENT_CREDITS + 2 * VEXFS_ALLOC_CREDITS + \
				 VEXFS_ORPHAN_CREDITS)

/* vexfs_free_blocks flags */
#define VEXFS_FREE_METADATA	0x1	/* revoke: the blocks held metadata */

/* journal.c: transactions; every function accepts the NULL handle. */
handle_t *vexfs_journal_start(struct super_block *sb, int credits);
int vexfs_journal_stop(handle_t *handle);
int vexfs_journal_extend(handle_t *handle, int credits);
int vexfs_get_write_access(handle_t *handle, struct buffer_head *bh);
int vexfs_get_create_access(handle_t *handle, struct buffer_head *bh);
int vexfs_dirty_metadata(handle_t *handle, struct inode *inode,
			 struct buffer_head *bh);
int vexfs_forget(handle_t *handle, bool is_metadata, struct inode *inode,
		 struct buffer_head *bh, u64 blocknr);
int vexfs_jbd2_inode_add_write(handle_t *handle, struct inode *inode,
			       loff_t start, loff_t len);
int vexfs_journal_force_commit(struct super_block *sb, bool wait);
int vexfs_journal_load(struct super_block *sb);
void vexfs_journal_destroy(struct super_block *sb);
static inline bool vexfs_handle_valid(handle_t *handle)
{
	return handle != NULL;
}

/* super_write.c: the superblock, free counts and errors. */
int vexfs_commit_super(struct super_block *sb, bool sync);
int vexfs_journal_super(handle_t *handle, struct super_block *sb);
__printf(5, 6) void vexfs_error(struct super_block *sb, u64 ino, int err,
				const char *op, const char *fmt, ...);
int vexfs_sync_fs(struct super_block *sb, int wait);
void vexfs_super_write_init(struct super_block *sb);
void vexfs_handle_error(struct super_block *sb, u64 ino, int err,
			const char *op);

/* bitmap.c: allocation (FORMAT.md 2.1) */
int vexfs_new_blocks(handle_t *handle, struct inode *inode, u64 goal,
		     u32 *count, u64 *pblk);
int vexfs_free_blocks(handle_t *handle, struct inode *inode, u64 pblk,
		      u64 count, int flags);
int vexfs_new_ino(handle_t *handle, struct super_block *sb, u64 goal,
		  u64 *ino);
int vexfs_free_ino(handle_t *handle, struct super_block *sb, u64 ino);
bool vexfs_data_run_ok(struct vexfs_sb_info *sbi, u64 pblk, u64 len);
void vexfs_release_freed(struct super_block *sb, tid_t committed);
int vexfs_count_free(struct super_block *sb);
void vexfs_bitmap_destroy(struct super_block *sb);

/* inode.c: write side */
struct inode *vexfs_new_inode(handle_t *handle, struct inode *dir,
			      umode_t mode, const struct qstr *qstr);
int vexfs_mark_inode_dirty(handle_t *handle, struct inode *inode);
void vexfs_set_inode_ops(struct inode *inode);
int vexfs_write_inode(struct inode *inode, struct writeback_control *wbc);
void vexfs_dirty_inode(struct inode *inode, int flags);
void vexfs_evict_inode(struct inode *inode);
void vexfs_iput_init(struct super_block *sb);
void vexfs_iput_deferred(struct inode *inode);
void vexfs_iput_flush(struct super_block *sb);
int vexfs_setattr(VEXFS_IDMAP_ARG, struct dentry *dentry,
		  struct iattr *attr);
int vexfs_get_block(struct inode *inode, sector_t iblock,
		    struct buffer_head *bh_result, int create);

/* extent_write.c: changing the extent tree (FORMAT.md 5.2) */
int vexfs_ext_insert(handle_t *handle, struct inode *inode, u64 lblk,
		     u64 pblk, u32 len, u32 flags);
int vexfs_ext_remove(handle_t *handle, struct inode *inode, u64 start,
		     u64 end);
int vexfs_ext_mark_written(handle_t *handle, struct inode *inode, u64 lblk,
			   u32 len);
void vexfs_ext_init_root(struct inode *inode);
int vexfs_ext_alloc(handle_t *handle, struct inode *inode, u64 lblk,
		    u32 want, u32 flags, u64 *pblk, u32 *got);

/* file.c */
extern const struct file_operations vexfs_file_operations;
int vexfs_truncate(struct inode *inode, loff_t size);
int vexfs_fsync(struct file *file, loff_t start, loff_t end, int datasync);

/* orphan.c (FORMAT.md 5.4) */
int vexfs_orphan_add(handle_t *handle, struct inode *inode);
int vexfs_orphan_del(handle_t *handle, struct inode *inode);
int vexfs_orphan_cleanup(struct super_block *sb);

/* checksum.c */
u32 vexfs_crc(const void *buf, size_t len);
u32 vexfs_crc_seeded(u64 seed, const void *buf, size_t len);
bool vexfs_block_csum_ok(const void *block, size_t bs, u64 seed);
void vexfs_block_csum_set(void *block, size_t bs, u64 seed);

/* inode.c */
struct inode *vexfs_iget(struct super_block *sb, u64 ino);
extern const struct address_space_operations vexfs_aops;
extern const struct inode_operations vexfs_file_inode_operations;
int vexfs_getattr(VEXFS_IDMAP_ARG, const struct path *path,
		  struct kstat *stat, u32 request_mask, unsigned int query_flags);

/* extent.c */
int vexfs_map_block(struct inode *inode, u64 lblk, u64 *pblk, u32 *len,
		    bool *unwritten);

int vexfs_map_block_next(struct inode *inode, u64 lblk, u64 *pblk, u32 *len,
			 bool *unwritten, u64 *next);

/* dir.c */
extern const struct file_operations vexfs_dir_operations;
struct buffer_head *vexfs_dir_bread(struct inode *dir, u64 lblk, u32 magic);

/* namei.c */
extern const struct inode_operations vexfs_dir_inode_operations;
u32 vexfs_name_hash(const unsigned char *name, unsigned int len, u32 seed);
#define VEXFS_LINK_MAX	65000	/* hard links of a file, subdirectories + 2 */

/* htree.c: changing directories (FORMAT.md 6); dir's i_rwsem held */
int vexfs_dir_init(handle_t *handle, struct inode *dir);
int vexfs_dir_add(handle_t *handle, struct inode *dir,
		  const struct qstr *name, u64 ino, u8 ftype);
int vexfs_dir_delete(handle_t *handle, struct inode *dir,
		     const struct qstr *name, u64 ino);
int vexfs_dir_set(handle_t *handle, struct inode *dir,
		  const struct qstr *name, u64 ino, u8 ftype);
int vexfs_dir_empty(struct inode *dir);
struct buffer_head *vexfs_dir_append(handle_t *handle, struct inode *dir,
				     u64 *lblk);

/* xattr.c: reading attributes (FORMAT.md 7) */
struct vexfs_xattr_ent {
	u8		ns;		/* VEXFS_XATTR_NS_* */
	u8		nlen;		/* 1..255 */
	const u8	*name;		/* after the prefix, not NUL-terminated */
	u32		vlen;		/* value bytes */
	const u8	*value;		/* inline value, NULL when external */
	u64		value_block;	/* external: first file block of the run */
};
struct vexfs_xattr_walk {
	struct inode	*inode;
	int		(*actor)(struct vexfs_xattr_walk *w,
				 const struct vexfs_xattr_ent *e);
	struct inode	*store;		/* set by the walk while it runs */
};
int vexfs_xattr_walk(struct vexfs_xattr_walk *w);
int vexfs_xattr_read_value(struct vexfs_xattr_walk *w,
			   const struct vexfs_xattr_ent *e, u8 *buf);
struct inode *vexfs_xattr_store_iget(struct inode *inode);
int vexfs_xattr_get(struct inode *inode, int ns, const char *name, void *buf,
		    size_t size);
ssize_t vexfs_listxattr(struct dentry *dentry, char *buf, size_t size);
extern const struct xattr_handler *VEXFS_XATTR_HANDLERS_CONST vexfs_xattr_handlers[];

/*
 * The hook for user.vexfs.vector (the vector helper, vector.c): when
 * vexfs_vector_xattr points at these operations, getxattr, setxattr and
 * removexattr of that one name (VEXFS_VECTOR_XATTR, after "user.") go to
 * them instead of the stored attributes, and listxattr adds the name when
 * present() is true. get returns the value's bytes (or its length for
 * size 0), -ERANGE or -ENODATA; set takes XATTR_CREATE/XATTR_REPLACE; all
 * return 0 or a negative errno. NULL (the default): the name is an
 * ordinary stored attribute.
 */
#define VEXFS_VECTOR_XATTR "vexfs.vector"
struct vexfs_vector_xattr_ops {
	int	(*get)(struct inode *inode, void *buf, size_t size);
	int	(*set)(struct inode *inode, const void *value, size_t size,
		       int flags);
	int	(*remove)(struct inode *inode);
	bool	(*present)(struct inode *inode);
};
extern const struct vexfs_vector_xattr_ops *vexfs_vector_xattr;

/* xattr_set.c: writing attributes */
int vexfs_xattr_set(struct inode *inode, int ns, const char *name,
		    const void *value, size_t size, int flags);

/* Credits of one attribute change in an xattr block: the block (new or
 * old), its allocation or freeing, the inode. */
#define VEXFS_XATTR_CREDITS	(1 + VEXFS_ALLOC_CREDITS + VEXFS_INODE_CREDITS)
int vexfs_xattr_set_handle(handle_t *handle, struct inode *inode, int ns,
			   const char *name, const void *value, size_t size,
			   int flags);
/* Handing a freed owner's xattr store to the orphan list: the store, its
 * neighbour on the list, the superblock, the owner. */
#define VEXFS_XATTR_DETACH_CREDITS (VEXFS_ORPHAN_CREDITS + VEXFS_INODE_CREDITS)
int vexfs_xattr_store_detach(handle_t *handle, struct inode *inode,
			     struct inode **store);

/* acl.c */
struct posix_acl *vexfs_get_acl(struct inode *inode, int type, bool rcu);
int vexfs_set_acl(VEXFS_IDMAP_ARG, VEXFS_ACL_TARGET, struct posix_acl *acl,
		  int type);
int vexfs_acl_set_handle(handle_t *handle, struct inode *inode, int type,
			 struct posix_acl *acl);
int vexfs_acl_create(handle_t *handle, struct inode *inode,
		     struct posix_acl *dacl, struct posix_acl *acl);
int vexfs_acl_chmod(VEXFS_IDMAP_ARG, struct dentry *dentry);

/* Report corruption: a dmesg line naming the device, inode and problem. */
#define vexfs_corrupt(sb, ino, fmt, ...)				\
	do {								\
		pr_err_ratelimited("vexfs: %s: inode %llu: " fmt "\n",	\
				   (sb)->s_id, (unsigned long long)(ino), \
				   ##__VA_ARGS__);			\
		vexfs_handle_error((sb), (ino), EUCLEAN, "read");	\
	} while (0)

#endif /* _VEXFS_H */
