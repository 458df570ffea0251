// SPDX-License-Identifier: GPL-2.0
/*
 * xattr.c - reading extended attributes (FORMAT.md section 7): the single
 * xattr block of 7.1 and the xattr store of 7.2 (an internal file of entry
 * blocks and value runs), the xattr handlers of the user., trusted. and
 * security. namespaces, and listxattr. POSIX ACLs (system.posix_acl_*) are
 * read through acl.c, which calls vexfs_xattr_get() here; writing is in
 * xattr_set.c.
 *
 * Every block is checked before use (magic, checksum seeded with its owner,
 * recorded file block, used bytes) and every entry (namespace, name length,
 * value length, flags, value run) before it is trusted: a damaged block is
 * EUCLEAN with a dmesg line, never an out-of-bounds read.
 *
 * The vector helper's attribute user.vexfs.vector is not stored here: when
 * vector.c sets vexfs_vector_xattr (vexfs.h) the user handler hands that one
 * name to it and listxattr adds it for files that carry a vector.
 */
#include <linux/xattr.h>
#include <linux/posix_acl_xattr.h>
#include <linux/slab.h>
#include "vexfs.h"

const struct vexfs_vector_xattr_ops *vexfs_vector_xattr;

static const char *const vexfs_xattr_prefix[] = {
	[VEXFS_XATTR_NS_USER]		= XATTR_USER_PREFIX,
	[VEXFS_XATTR_NS_TRUSTED]	= XATTR_TRUSTED_PREFIX,
	[VEXFS_XATTR_NS_SECURITY]	= XATTR_SECURITY_PREFIX,
	[VEXFS_XATTR_NS_SYSTEM]		= XATTR_SYSTEM_PREFIX,
};

/* Whether [pblk, pblk + 1) is a data block of the filesystem (FORMAT.md 2). */
static bool vexfs_xattr_block_ok(struct vexfs_sb_info *sbi, u64 pblk)
{
	return pblk >= sbi->s_first_data_block && pblk < sbi->s_block_count - 1;
}

/**
 * vexfs_xattr_store_iget - the xattr store inode of @inode (FORMAT.md 7.2)
 * @inode: an inode with XATTR_IN_STORE
 *
 * Checks that the store is a regular internal file flagged XATTR_STORE whose
 * parent pointer names @inode.
 *
 * Return: the store inode (iput it), or ERR_PTR(-EUCLEAN / -EIO).
 */
struct inode *vexfs_xattr_store_iget(struct inode *inode)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	const u32 want = VEXFS_IFL_INTERNAL | VEXFS_IFL_XATTR_STORE;
	struct inode *store;
	u64 sino = vi->i_xattr_block;

	if (sino < VEXFS_FIRST_INO || sino == inode->i_ino) {
		vexfs_corrupt(inode->i_sb, inode->i_ino,
			      "xattr store %llu is a reserved inode", sino);
		return ERR_PTR(-EUCLEAN);
	}
	store = vexfs_iget(inode->i_sb, sino);
	if (IS_ERR(store))
		return store;
	if ((VEXFS_I(store)->i_flags & want) != want ||
	    VEXFS_I(store)->i_parent_ino != inode->i_ino ||
	    !S_ISREG(store->i_mode)) {
		vexfs_corrupt(inode->i_sb, inode->i_ino,
			      "inode %llu is not its xattr store", sino);
		iput(store);
		return ERR_PTR(-EUCLEAN);
	}
	return store;
}

/* Reads store block @lblk; NULL for a hole (*pblk 0), else checked magic/csum/file block. */
static struct buffer_head *vexfs_store_bread(struct inode *store, u64 lblk,
					     u32 magic, int *err)
{
	struct super_block *sb = store->i_sb;
	struct buffer_head *bh;
	bool unwritten;
	u64 pblk;
	u32 len;
	__le64 fb;

	*err = vexfs_map_block(store, lblk, &pblk, &len, &unwritten);
	if (*err)
		return NULL;
	if (len == 0 || unwritten)
		return NULL;
	bh = sb_bread(sb, pblk);
	if (!bh) {
		*err = -EIO;
		return NULL;
	}
	fb = magic == VEXFS_XATTR_ENTRY_MAGIC ?
		((struct vexfs_xattr_store_header *)bh->b_data)->xs_file_block :
		((struct vexfs_xattr_value_header *)bh->b_data)->xv_file_block;
	if (le32_to_cpu(*(__le32 *)bh->b_data) != magic ||
	    !vexfs_block_csum_ok(bh->b_data, sb->s_blocksize, store->i_ino) ||
	    le64_to_cpu(fb) != lblk) {
		vexfs_corrupt(sb, store->i_ino,
			      "xattr store block %llu: bad magic, checksum or file block",
			      lblk);
		brelse(bh);
		*err = -EUCLEAN;
		return NULL;
	}
	return bh;
}

/* Parses the entries of one 7.1 block or 7.2 entry block, calling @actor. */
static int vexfs_xattr_parse(struct vexfs_xattr_walk *w, const u8 *data,
			     u32 count, u32 used, bool store, u64 where)
{
	u32 hdr = store ? sizeof(struct vexfs_xattr_store_header) :
			  sizeof(struct vexfs_xattr_header);
	u32 fixed = store ? sizeof(struct vexfs_xattr_store_entry) :
			    sizeof(struct vexfs_xattr_entry);
	u32 end = hdr + used, off = hdr, i;
	int ret;

	for (i = 0; i < count; i++) {
		struct vexfs_xattr_ent e = {};
		u32 inline_len, rec;

		if (off + fixed > end)
			goto bad;
		if (store) {
			const struct vexfs_xattr_store_entry *se =
				(const void *)(data + off);
			u16 flags = le16_to_cpu(se->xse_flags);

			e.ns = se->xse_namespace;
			e.nlen = se->xse_name_len;
			e.vlen = le32_to_cpu(se->xse_value_len);
			e.name = se->xse_name;
			if (flags & ~VEXFS_XATTR_EXTERNAL)
				goto bad;
			if (flags & VEXFS_XATTR_EXTERNAL) {
				e.value_block = le64_to_cpu(se->xse_value_block);
				if (e.vlen == 0 || e.value_block <
						   VEXFS_XATTR_VALUE_BASE ||
				    e.value_block > U32_MAX)
					goto bad;
				inline_len = 0;
			} else {
				inline_len = e.vlen;
			}
		} else {
			const struct vexfs_xattr_entry *be =
				(const void *)(data + off);

			e.ns = be->xe_namespace;
			e.nlen = be->xe_name_len;
			e.vlen = le32_to_cpu(be->xe_value_len);
			e.name = be->xe_name;
			inline_len = e.vlen;
		}
		if (e.ns < VEXFS_XATTR_NS_USER || e.ns > VEXFS_XATTR_NS_SYSTEM ||
		    e.nlen == 0 || e.vlen > VEXFS_XATTR_SIZE_MAX)
			goto bad;
		rec = ALIGN(fixed + e.nlen + inline_len, 8);
		if (rec > end - off)
			goto bad;
		if (!e.value_block)
			e.value = e.name + e.nlen;
		ret = w->actor(w, &e);
		if (ret)
			return ret;
		off += rec;
	}
	if (!store && off != end)
		goto bad;
	return 0;
bad:
	vexfs_corrupt(w->inode->i_sb, w->inode->i_ino,
		      "bad xattr entry %u in %s %llu", i,
		      store ? "store entry block" : "xattr block", where);
	return -EUCLEAN;
}

/**
 * vexfs_xattr_walk - call w->actor for every stored attribute of w->inode
 * @w: the walk; inode and actor set by the caller
 *
 * Reads the xattr block (7.1) or every entry block of the store (7.2). The
 * actor returns 0 to go on, a positive value to stop (returned), or a
 * negative errno (returned). While the actor runs, w->store is the store
 * inode (NULL for a block) for vexfs_xattr_read_value().
 *
 * Return: 0, the actor's stop value, or -EUCLEAN / -EIO / -ENOMEM.
 */
int vexfs_xattr_walk(struct vexfs_xattr_walk *w)
{
	struct inode *inode = w->inode;
	struct super_block *sb = inode->i_sb;
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	u32 bs = sb->s_blocksize;
	struct buffer_head *bh;
	u64 lblk, nblocks;
	int ret = 0;

	w->store = NULL;
	if (!vi->i_xattr_block)
		return 0;
	if (!(vi->i_flags & VEXFS_IFL_XATTR_IN_STORE)) {
		const struct vexfs_xattr_header *xh;
		u64 pblk = vi->i_xattr_block;

		if (!vexfs_xattr_block_ok(VEXFS_SB(sb), pblk)) {
			vexfs_corrupt(sb, inode->i_ino,
				      "xattr block %llu outside the data area",
				      pblk);
			return -EUCLEAN;
		}
		bh = sb_bread(sb, pblk);
		if (!bh)
			return -EIO;
		xh = (const void *)bh->b_data;
		if (le32_to_cpu(xh->xh_magic) != VEXFS_XATTR_MAGIC ||
		    !vexfs_block_csum_ok(bh->b_data, bs, inode->i_ino) ||
		    le32_to_cpu(xh->xh_used) >
				bs - sizeof(*xh) - VEXFS_CSUM_SIZE) {
			vexfs_corrupt(sb, inode->i_ino,
				      "xattr block %llu: bad magic, checksum or size",
				      pblk);
			brelse(bh);
			return -EUCLEAN;
		}
		ret = vexfs_xattr_parse(w, bh->b_data,
					le32_to_cpu(xh->xh_count),
					le32_to_cpu(xh->xh_used), false, pblk);
		brelse(bh);
		return ret;
	}

	w->store = vexfs_xattr_store_iget(inode);
	if (IS_ERR(w->store)) {
		ret = PTR_ERR(w->store);
		w->store = NULL;
		return ret;
	}
	nblocks = min_t(u64, VEXFS_XATTR_VALUE_BASE,
			DIV_ROUND_UP_ULL(i_size_read(w->store), bs));
	for (lblk = 0; lblk < nblocks; lblk++) {
		const struct vexfs_xattr_store_header *xs;

		bh = vexfs_store_bread(w->store, lblk, VEXFS_XATTR_ENTRY_MAGIC,
				       &ret);
		if (!bh) {
			if (ret)
				break;
			continue;
		}
		xs = (const void *)bh->b_data;
		if (le32_to_cpu(xs->xs_used) >
		    bs - sizeof(*xs) - VEXFS_CSUM_SIZE) {
			vexfs_corrupt(sb, w->store->i_ino,
				      "xattr store entry block %llu claims %u bytes",
				      lblk, le32_to_cpu(xs->xs_used));
			ret = -EUCLEAN;
		} else {
			ret = vexfs_xattr_parse(w, bh->b_data,
						le32_to_cpu(xs->xs_count),
						le32_to_cpu(xs->xs_used), true,
						lblk);
		}
		brelse(bh);
		if (ret)
			break;
		cond_resched();
	}
	iput(w->store);
	w->store = NULL;
	return ret;
}

/**
 * vexfs_xattr_read_value - copy an attribute's value to @buf
 * @w: the walk the entry came from (its store, for a value run)
 * @e: the entry
 * @buf: room for e->vlen bytes
 *
 * Reads an external value from its value run (FORMAT.md 7.2), checking each
 * block (magic, checksum, file block, length).
 *
 * Return: 0, or -EUCLEAN / -EIO.
 */
int vexfs_xattr_read_value(struct vexfs_xattr_walk *w,
			   const struct vexfs_xattr_ent *e, u8 *buf)
{
	u32 bs, payload, done = 0;
	u64 lblk;
	int err;

	if (e->value) {
		memcpy(buf, e->value, e->vlen);
		return 0;
	}
	if (!w->store)
		return -EUCLEAN;
	bs = w->store->i_sb->s_blocksize;
	payload = bs - sizeof(struct vexfs_xattr_value_header) -
		  VEXFS_CSUM_SIZE;
	for (lblk = e->value_block; done < e->vlen; lblk++) {
		const struct vexfs_xattr_value_header *xv;
		u32 want = min(payload, e->vlen - done);
		struct buffer_head *bh;

		bh = vexfs_store_bread(w->store, lblk, VEXFS_XATTR_VALUE_MAGIC,
				       &err);
		if (!bh) {
			if (!err) {
				vexfs_corrupt(w->store->i_sb, w->store->i_ino,
					      "xattr value block %llu is not mapped",
					      lblk);
				err = -EUCLEAN;
			}
			return err;
		}
		xv = (const void *)bh->b_data;
		if (le32_to_cpu(xv->xv_length) != want) {
			vexfs_corrupt(w->store->i_sb, w->store->i_ino,
				      "xattr value block %llu holds %u bytes, not %u",
				      lblk, le32_to_cpu(xv->xv_length), want);
			brelse(bh);
			return -EUCLEAN;
		}
		memcpy(buf + done, xv + 1, want);
		done += want;
		brelse(bh);
	}
	return 0;
}

struct vexfs_xattr_get_ctx {
	struct vexfs_xattr_walk w;
	int ns;
	const char *name;
	size_t nlen;
	void *buf;
	size_t size;
	int result;
};

static int vexfs_xattr_get_actor(struct vexfs_xattr_walk *w,
				 const struct vexfs_xattr_ent *e)
{
	struct vexfs_xattr_get_ctx *c = container_of(w, struct vexfs_xattr_get_ctx, w);
	int err;

	if (e->ns != c->ns || e->nlen != c->nlen ||
	    memcmp(e->name, c->name, c->nlen))
		return 0;
	if (!c->buf || !c->size) {
		c->result = e->vlen;
		return 1;
	}
	if (e->vlen > c->size) {
		c->result = -ERANGE;
		return 1;
	}
	err = vexfs_xattr_read_value(w, e, c->buf);
	c->result = err ? err : e->vlen;
	return 1;
}

/**
 * vexfs_xattr_get - read one stored attribute
 * @inode: the inode
 * @ns: VEXFS_XATTR_NS_*
 * @name: the name after its prefix, NUL-terminated
 * @buf: where to copy the value, or NULL (with @size 0) to ask its length
 * @size: room in @buf
 *
 * Return: the value's length in bytes, -ENODATA when absent, -ERANGE when
 * @size is too small, -EUCLEAN / -EIO on a damaged or unreadable store.
 */
int vexfs_xattr_get(struct inode *inode, int ns, const char *name, void *buf,
		    size_t size)
{
	struct vexfs_xattr_get_ctx c = {
		.w = { .inode = inode, .actor = vexfs_xattr_get_actor },
		.ns = ns, .name = name, .nlen = strlen(name),
		.buf = buf, .size = size, .result = -ENODATA,
	};
	int ret;

	if (c.nlen == 0 || c.nlen > VEXFS_NAME_LEN)
		return -ENODATA;
	down_read(&VEXFS_I(inode)->i_xattr_sem);
	ret = vexfs_xattr_walk(&c.w);
	up_read(&VEXFS_I(inode)->i_xattr_sem);
	return ret < 0 ? ret : c.result;
}

struct vexfs_xattr_list_ctx {
	struct vexfs_xattr_walk w;
	bool trusted, acl;
	char *buf;
	size_t size;
	size_t len;
};

static bool vexfs_xattr_is_acl(const struct vexfs_xattr_ent *e)
{
	static const char *const names[] = {
		XATTR_POSIX_ACL_ACCESS, XATTR_POSIX_ACL_DEFAULT,
	};
	int i;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (e->nlen == strlen(names[i]) &&
		    !memcmp(e->name, names[i], e->nlen))
			return true;
	return false;
}

static int vexfs_xattr_list_actor(struct vexfs_xattr_walk *w,
				  const struct vexfs_xattr_ent *e)
{
	struct vexfs_xattr_list_ctx *c = container_of(w, struct vexfs_xattr_list_ctx, w);
	const char *prefix = vexfs_xattr_prefix[e->ns];
	size_t plen = strlen(prefix), total = plen + e->nlen + 1;

	if (e->ns == VEXFS_XATTR_NS_TRUSTED && !c->trusted)
		return 0;
	if (e->ns == VEXFS_XATTR_NS_SYSTEM &&
	    (!c->acl || !vexfs_xattr_is_acl(e)))
		return 0;
	if (c->buf) {
		if (c->len + total > c->size)
			return -ERANGE;
		memcpy(c->buf + c->len, prefix, plen);
		memcpy(c->buf + c->len + plen, e->name, e->nlen);
		c->buf[c->len + total - 1] = 0;
	}
	c->len += total;
	return 0;
}

/**
 * vexfs_listxattr - the inode operation listxattr(2) reaches
 * @dentry: the file
 * @buf: where to write the names (each prefix + name + NUL), or NULL
 * @size: room in @buf (0 to ask the length)
 *
 * Lists stored attributes as ext4 does: trusted. only for CAP_SYS_ADMIN,
 * the POSIX ACL names only when ACLs are on (the acl mount option), and
 * user.vexfs.vector when vector.c says the file carries a vector.
 *
 * Return: bytes of the list, -ERANGE when @size is too small, -EUCLEAN/-EIO.
 */
ssize_t vexfs_listxattr(struct dentry *dentry, char *buf, size_t size)
{
	struct inode *inode = d_inode(dentry);
	struct vexfs_xattr_list_ctx c = {
		.w = { .inode = inode, .actor = vexfs_xattr_list_actor },
		.trusted = capable(CAP_SYS_ADMIN),
		.acl = IS_POSIXACL(inode),
		.buf = size ? buf : NULL, .size = size,
	};
	const struct vexfs_vector_xattr_ops *vops = READ_ONCE(vexfs_vector_xattr);
	int ret;

	down_read(&VEXFS_I(inode)->i_xattr_sem);
	ret = vexfs_xattr_walk(&c.w);
	up_read(&VEXFS_I(inode)->i_xattr_sem);
	if (ret < 0)
		return ret;
	if (vops && vops->present(inode)) {
		static const char vname[] = XATTR_USER_PREFIX VEXFS_VECTOR_XATTR;

		if (c.buf) {
			if (c.len + sizeof(vname) > c.size)
				return -ERANGE;
			memcpy(c.buf + c.len, vname, sizeof(vname));
		}
		c.len += sizeof(vname);
	}
	if (c.len > XATTR_LIST_MAX && c.buf)
		return -E2BIG;
	return c.len;
}

static int vexfs_xattr_handler_get(const struct xattr_handler *handler,
				   struct dentry *unused, struct inode *inode,
				   const char *name, void *buffer, size_t size)
{
	const struct vexfs_vector_xattr_ops *vops = READ_ONCE(vexfs_vector_xattr);

	if (handler->flags == VEXFS_XATTR_NS_USER && vops &&
	    !strcmp(name, VEXFS_VECTOR_XATTR))
		return vops->get(inode, buffer, size);
	return vexfs_xattr_get(inode, handler->flags, name, buffer, size);
}

static int vexfs_xattr_handler_set(const struct xattr_handler *handler,
				   VEXFS_IDMAP_ARG, struct dentry *unused,
				   struct inode *inode, const char *name,
				   const void *value, size_t size, int flags)
{
	const struct vexfs_vector_xattr_ops *vops = READ_ONCE(vexfs_vector_xattr);

	if (handler->flags == VEXFS_XATTR_NS_USER && vops &&
	    !strcmp(name, VEXFS_VECTOR_XATTR))
		return value ? vops->set(inode, value, size, flags) :
			       vops->remove(inode);
	return vexfs_xattr_set(inode, handler->flags, name, value, size,
			       flags);
}

static bool vexfs_xattr_trusted_list(struct dentry *dentry)
{
	return capable(CAP_SYS_ADMIN);
}

static const struct xattr_handler vexfs_xattr_user_handler = {
	.prefix	= XATTR_USER_PREFIX,
	.flags	= VEXFS_XATTR_NS_USER,
	.get	= vexfs_xattr_handler_get,
	.set	= vexfs_xattr_handler_set,
};

static const struct xattr_handler vexfs_xattr_trusted_handler = {
	.prefix	= XATTR_TRUSTED_PREFIX,
	.flags	= VEXFS_XATTR_NS_TRUSTED,
	.list	= vexfs_xattr_trusted_list,
	.get	= vexfs_xattr_handler_get,
	.set	= vexfs_xattr_handler_set,
};

static const struct xattr_handler vexfs_xattr_security_handler = {
	.prefix	= XATTR_SECURITY_PREFIX,
	.flags	= VEXFS_XATTR_NS_SECURITY,
	.get	= vexfs_xattr_handler_get,
	.set	= vexfs_xattr_handler_set,
};

/* sb->s_xattr; the ACL names go through get/set_acl (acl.c). */
const struct xattr_handler *VEXFS_XATTR_HANDLERS_CONST vexfs_xattr_handlers[] = {
	&vexfs_xattr_user_handler,
	&vexfs_xattr_trusted_handler,
	&vexfs_xattr_security_handler,
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 2, 0)
	&posix_acl_access_xattr_handler,
	&posix_acl_default_xattr_handler,
#endif
	NULL
};
