/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compat.h - the kernel API differences VexFS meets between the kernels it
 * supports (6.1 to 6.12, Debian bookworm and bookworm-security), in one
 * place, as sysprog21/simplefs does. The rest of the module calls only the
 * vexfs_* helpers below where the API changed.
 */
#ifndef _VEXFS_COMPAT_H
#define _VEXFS_COMPAT_H

#include <linux/version.h>
#include <linux/fs.h>

/* 6.12 moved <asm/unaligned.h> to <linux/unaligned.h>. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0)
#error "VexFS needs Linux 6.1 or later"
#endif

/*
 * 6.6 made the inode's ctime private (inode_set_ctime_to_ts), 6.7 its atime
 * and mtime (inode_set_atime_to_ts, inode_set_mtime_to_ts).
 */
static inline void vexfs_set_inode_times(struct inode *inode,
					 struct timespec64 atime,
					 struct timespec64 mtime,
					 struct timespec64 ctime)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	inode_set_atime_to_ts(inode, atime);
	inode_set_mtime_to_ts(inode, mtime);
	inode_set_ctime_to_ts(inode, ctime);
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
	inode->i_atime = atime;
	inode->i_mtime = mtime;
	inode_set_ctime_to_ts(inode, ctime);
#else
	inode->i_atime = atime;
	inode->i_mtime = mtime;
	inode->i_ctime = ctime;
#endif
}

static inline struct timespec64 vexfs_inode_atime(const struct inode *inode)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	return inode_get_atime(inode);
#else
	return inode->i_atime;
#endif
}

static inline struct timespec64 vexfs_inode_mtime(const struct inode *inode)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	return inode_get_mtime(inode);
#else
	return inode->i_mtime;
#endif
}

static inline struct timespec64 vexfs_inode_ctime(const struct inode *inode)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
	return inode_get_ctime(inode);
#else
	return inode->i_ctime;
#endif
}

/*
 * Sets an inode's ctime, and its mtime too when @mtime, to now (the
 * namespace and xattr changes); 6.6/6.7 made the fields private.
 */
static inline void vexfs_touch_times(struct inode *inode, bool mtime)
{
	struct timespec64 now = current_time(inode);

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	inode_set_ctime_to_ts(inode, now);
	if (mtime)
		inode_set_mtime_to_ts(inode, now);
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
	inode_set_ctime_to_ts(inode, now);
	if (mtime)
		inode->i_mtime = now;
#else
	inode->i_ctime = now;
	if (mtime)
		inode->i_mtime = now;
#endif
}

/*
 * 6.3 replaced the user_namespace argument of the inode operations by a
 * struct mnt_idmap; 6.6 added the request mask to generic_fillattr.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
#define VEXFS_IDMAP_ARG struct mnt_idmap *idmap
#else
#define VEXFS_IDMAP_ARG struct user_namespace *idmap
#endif

static inline void vexfs_fillattr(VEXFS_IDMAP_ARG, u32 request_mask,
				  struct inode *inode, struct kstat *stat)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
	generic_fillattr(idmap, request_mask, inode, stat);
#else
	generic_fillattr(idmap, inode, stat);
#endif
}

/*
 * 6.2 renamed the inode operation that reads an ACL from disk from get_acl
 * to get_inode_acl (get_acl became the dentry-based one). 6.7 made the
 * superblock's xattr handler array const.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
#define VEXFS_GET_ACL_OP get_inode_acl
#else
#define VEXFS_GET_ACL_OP get_acl
#endif
/* 6.2 made set_acl take the dentry instead of the inode. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
#define VEXFS_ACL_TARGET struct dentry *dentry
#define VEXFS_ACL_INODE d_inode(dentry)
#else
#define VEXFS_ACL_TARGET struct inode *acl_inode
#define VEXFS_ACL_INODE acl_inode
#endif
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
#define VEXFS_XATTR_HANDLERS_CONST const
#else
#define VEXFS_XATTR_HANDLERS_CONST
#endif

/* 6.5 replaced generic_file_splice_read by filemap_splice_read. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
#define vexfs_splice_read	filemap_splice_read
#else
#define vexfs_splice_read	generic_file_splice_read
#endif

/*
 * 6.12 passes folios to write_begin/write_end (and block_write_begin,
 * generic_write_end); 6.1 passes pages.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
typedef struct folio vexfs_wpage_t;
static inline void vexfs_wpage_release(struct folio *folio)
{
	folio_unlock(folio);
	folio_put(folio);
}
#else
typedef struct page vexfs_wpage_t;
static inline void vexfs_wpage_release(struct page *page)
{
	unlock_page(page);
	put_page(page);
}
#endif

/* 6.3: inode_init_owner takes a mnt_idmap. VexFS has no idmapped mounts. */
static inline void vexfs_inode_init_owner(struct inode *inode,
					  const struct inode *dir, umode_t mode)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	inode_init_owner(&nop_mnt_idmap, inode, dir, mode);
#else
	inode_init_owner(&init_user_ns, inode, dir, mode);
#endif
}

/* 6.3: inode_permission takes a mnt_idmap (6.1: a user_namespace). */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
#define VEXFS_NOP_IDMAP (&nop_mnt_idmap)
#else
#define VEXFS_NOP_IDMAP (&init_user_ns)
#endif

/* 6.5 replaced block_page_mkwrite_return by vmf_fs_error. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
#define vexfs_vmf_error(err) vmf_fs_error(err)
#else
#define vexfs_vmf_error(err) block_page_mkwrite_return(err)
#endif

#endif /* _VEXFS_COMPAT_H */
