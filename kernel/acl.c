// SPDX-License-Identifier: GPL-2.0
/*
 * acl.c - POSIX ACLs (FORMAT.md section 7, end): the attributes
 * system.posix_acl_access and system.posix_acl_default, stored in the
 * little-endian form of the kernel's xattr interface (linux/posix_acl_xattr.h,
 * version 2), so they are decoded with posix_acl_from_xattr() and must pass
 * posix_acl_valid(); anything else on disk is EUCLEAN. The VFS caches the
 * result per inode and enforces it (generic_permission); ACLs are on unless
 * the filesystem is mounted with noacl (SB_POSIXACL, super.c).
 */
#include <linux/xattr.h>
#include <linux/posix_acl_xattr.h>
#include <linux/slab.h>
#include "vexfs.h"

static const char *vexfs_acl_name(int type)
{
	return type == ACL_TYPE_ACCESS ? XATTR_POSIX_ACL_ACCESS :
					 XATTR_POSIX_ACL_DEFAULT;
}

/**
 * vexfs_get_acl - read the access or default ACL of @inode from disk
 * @inode: the inode
 * @type: ACL_TYPE_ACCESS or ACL_TYPE_DEFAULT
 * @rcu: called under RCU (not supported: -ECHILD, the VFS retries)
 *
 * The get_inode_acl inode operation (get_acl before Linux 6.2).
 *
 * Return: the ACL, NULL when none is stored, ERR_PTR(-EUCLEAN) for a stored
 * value that is not a valid ACL, ERR_PTR(-EIO / -ENOMEM).
 */
struct posix_acl *vexfs_get_acl(struct inode *inode, int type, bool rcu)
{
	const char *name = vexfs_acl_name(type);
	struct posix_acl *acl;
	void *value;
	int len, tries;

	if (rcu)
		return ERR_PTR(-ECHILD);
	if (type != ACL_TYPE_ACCESS && type != ACL_TYPE_DEFAULT)
		return ERR_PTR(-EINVAL);
	for (tries = 0; ; tries++) {
		len = vexfs_xattr_get(inode, VEXFS_XATTR_NS_SYSTEM, name,
				      NULL, 0);
		if (len == -ENODATA)
			return NULL;
		if (len < 0)
			return ERR_PTR(len);
		value = kmalloc(max(len, 1), GFP_NOFS);
		if (!value)
			return ERR_PTR(-ENOMEM);
		len = vexfs_xattr_get(inode, VEXFS_XATTR_NS_SYSTEM, name,
				      value, len);
		if (len >= 0)
			break;
		kfree(value);
		/* changed between the two reads: read again, a few times */
		if ((len != -ENODATA && len != -ERANGE) || tries == 3)
			return ERR_PTR(len == -ERANGE ? -EAGAIN : len);
		if (len == -ENODATA)
			return NULL;
	}
	acl = posix_acl_from_xattr(&init_user_ns, value, len);
	kfree(value);
	if (IS_ERR_OR_NULL(acl) ||
	    posix_acl_valid(&init_user_ns, acl) ||
	    (type == ACL_TYPE_DEFAULT && !S_ISDIR(inode->i_mode))) {
		if (!IS_ERR_OR_NULL(acl))
			posix_acl_release(acl);
		vexfs_corrupt(inode->i_sb, inode->i_ino,
			      "stored %s is not a valid ACL", name);
		return ERR_PTR(-EUCLEAN);
	}
	return acl;
}
