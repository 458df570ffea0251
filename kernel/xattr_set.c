// SPDX-License-Identifier: GPL-2.0
/*
 * xattr_set.c - writing extended attributes (FORMAT.md section 7.3).
 *
 * The module mounts read-only until the write path lands: the VFS refuses
 * setxattr/removexattr on a read-only mount with EROFS before a handler is
 * called, and this answers the same if it ever is.
 */
#include "vexfs.h"

/**
 * vexfs_xattr_set - set (@value non-NULL) or remove one stored attribute
 * @inode: the inode
 * @ns: VEXFS_XATTR_NS_*
 * @name: the name after its prefix
 * @value: the value, or NULL to remove
 * @size: value bytes
 * @flags: XATTR_CREATE / XATTR_REPLACE
 *
 * Return: -EROFS (read-only module).
 */
int vexfs_xattr_set(struct inode *inode, int ns, const char *name,
		    const void *value, size_t size, int flags)
{
	return -EROFS;
}
