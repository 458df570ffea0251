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

/**
 * vexfs_acl_set_handle - store (or remove, @acl NULL) an ACL in a handle
 * @handle: the running handle, VEXFS_XATTR_CREDITS
 * @inode: the inode
 * @type: ACL_TYPE_ACCESS or ACL_TYPE_DEFAULT
 * @acl: the ACL, or NULL
 *
 * Encodes @acl in the xattr form (FORMAT.md 7, posix_acl_to_xattr) and
 * updates the VFS's cached copy. Removing an absent ACL is not an error.
 *
 * Return: 0 or a negative errno of vexfs_xattr_set_handle.
 */
int vexfs_acl_set_handle(handle_t *handle, struct inode *inode, int type,
			 struct posix_acl *acl)
{
	void *value = NULL;
	size_t size = 0;
	int err;

	if (acl) {
		size = posix_acl_xattr_size(acl->a_count);
		value = kmalloc(size, GFP_NOFS);
		if (!value)
			return -ENOMEM;
		err = posix_acl_to_xattr(&init_user_ns, acl, value, size);
		if (err < 0) {
			kfree(value);
			return err;
		}
	}
	err = vexfs_xattr_set_handle(handle, inode, VEXFS_XATTR_NS_SYSTEM,
				     vexfs_acl_name(type), value, size, 0);
	kfree(value);
	if (err == -ENODATA && !acl)
		err = 0;
	if (!err)
		set_cached_acl(inode, type, acl);
	return err;
}

/*
 * vexfs_set_acl - the set_acl inode operation (setfacl, chmod's
 * posix_acl_chmod): stores @acl of @type for the inode (6.1) or dentry.
 *
 * For an access ACL the mode follows (posix_acl_update_mode: the group bits
 * become the mask, an ACL the mode says in full is not stored, setgid
 * dropped for a setter outside the group), in the same transaction. A
 * default ACL belongs to a directory only (EACCES elsewhere, as ext4).
 *
 * Return: 0 or a negative errno.
 */
int vexfs_set_acl(VEXFS_IDMAP_ARG, VEXFS_ACL_TARGET, struct posix_acl *acl,
		  int type)
{
	struct inode *inode = VEXFS_ACL_INODE;
	umode_t mode = inode->i_mode;
	handle_t *handle;
	int err, err2;

	if (type == ACL_TYPE_DEFAULT && !S_ISDIR(inode->i_mode))
		return acl ? -EACCES : 0;
	if (type == ACL_TYPE_ACCESS && acl) {
		err = posix_acl_update_mode(idmap, inode, &mode, &acl);
		if (err)
			return err;
	}
	handle = vexfs_journal_start(inode->i_sb, VEXFS_XATTR_CREDITS +
				     VEXFS_INODE_CREDITS);
	if (IS_ERR(handle))
		return PTR_ERR(handle);
	err = vexfs_acl_set_handle(handle, inode, type, acl);
	if (!err && mode != inode->i_mode) {
		inode->i_mode = mode;
		vexfs_touch_times(inode, false);
		err = vexfs_mark_inode_dirty(handle, inode);
	}
	err2 = vexfs_journal_stop(handle);
	return err ? err : err2;
}

/**
 * vexfs_acl_create - the ACLs a new inode inherits from its directory
 * @handle: the running handle, 2 * VEXFS_XATTR_CREDITS
 * @inode: the new inode
 * @dacl: the default ACL posix_acl_create() gave (NULL: none); released
 * @acl: the access ACL posix_acl_create() gave (NULL: none); released
 *
 * Return: 0 or a negative errno.
 */
int vexfs_acl_create(handle_t *handle, struct inode *inode,
		     struct posix_acl *dacl, struct posix_acl *acl)
{
	int err = 0;

	if (dacl) {
		if (S_ISDIR(inode->i_mode))
			err = vexfs_acl_set_handle(handle, inode,
						   ACL_TYPE_DEFAULT, dacl);
		posix_acl_release(dacl);
	}
	if (acl) {
		if (!err)
			err = vexfs_acl_set_handle(handle, inode,
						   ACL_TYPE_ACCESS, acl);
		posix_acl_release(acl);
	}
	return err;
}

/*
 * vexfs_acl_chmod - rewrite the access ACL of @dentry after a mode change
 * (setattr), for the mount's idmap (user namespace before 6.3):
 * posix_acl_chmod, the ACL's user_obj, mask (or group_obj) and other
 * entries follow the new mode, as chmod does on ext4. Returns 0 or a
 * negative errno.
 */
int vexfs_acl_chmod(VEXFS_IDMAP_ARG, struct dentry *dentry)
{
	struct inode *inode = d_inode(dentry);

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
	return posix_acl_chmod(idmap, dentry, inode->i_mode);
#else
	return posix_acl_chmod(idmap, inode, inode->i_mode);
#endif
}
