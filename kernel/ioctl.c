// SPDX-License-Identifier: GPL-2.0
/*
 * ioctl.c - the vector ioctls of vexfs_ioctl.h in the kernel, with the
 * checks and errnos of docs/IOCTL.md, in the order handleIoctl of
 * src/ioctl/server.ts applies them: unknown command ENOTTY; a known
 * number with another size or direction EINVAL; a bad header or a
 * non-zero byte the command does not read EINVAL; the wrong descriptor
 * type EISDIR / ENOTDIR / EINVAL; EROFS for a change on a read-only
 * mount; then the command's own checks. A refused call changes nothing.
 *
 * The kernel serves FS_INFO, GET_VECTOR, COLLECTION_INFO, SEARCH (always
 * exactly), SEARCH2 (exactly, saying so), INO_PATH, LIST_COLLECTIONS,
 * HYBRID (from a fresh keyword index, analysed terms only: hybrid.c) and
 * TEXT_INDEX stats; SET_VECTOR, DEL_VECTOR, CREATE_COLLECTION and
 * DROP_COLLECTION need a read-write mount. The commands that only make
 * sense for the user-space engine (SET_VECTORS, INDEX, STATS) answer
 * EOPNOTSUPP (docs/IOCTL.md, "In the kernel module").
 */
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/uaccess.h>
#include <linux/statfs.h>
#include <linux/mount.h>
#include "bm25.h"

enum vexfs_target { VEXFS_ANY, VEXFS_FILE, VEXFS_DIR };

struct vexfs_ioc_cmd {
	unsigned int cmd;
	enum vexfs_target target;
	bool writes;
	int (*run)(struct file *file, void *buf);
};

/* Whether bytes [off, off + len) of @buf are all zero. */
static bool vexfs_zero(const void *buf, size_t off, size_t len)
{
	return !memchr_inv((const u8 *)buf + off, 0, len);
}

#define VEXFS_ZERO_FROM(buf, type, field) \
	vexfs_zero(buf, offsetof(type, field), sizeof(type) - offsetof(type, field))
#define VEXFS_ZERO_FIELD(buf, type, field) \
	vexfs_zero(buf, offsetof(type, field), sizeof_field(type, field))

/* docs/IOCTL.md 2: magic, version, size, flags 0, reserved 0. */
static bool vexfs_hdr_ok(const struct vexfs_ioc_hdr *h, unsigned int size,
			 u16 version)
{
	return h->magic == VEXFS_IOC_MAGIC && h->version == version &&
	       h->size == size && !h->flags && !h->reserved;
}

static int vexfs_ioc_fs_info(struct file *file, void *buf)
{
	struct super_block *sb = file_inode(file)->i_sb;
	const struct vexfs_super_block *es = &VEXFS_SB(sb)->s_es;
	struct vexfs_ioc_fs_info *fi = buf;
	struct vexfs_ioc_list_collections *l;
	struct kstatfs st;
	int err;

	err = vfs_statfs(&file->f_path, &st);
	if (err)
		return err;
	l = kzalloc(sizeof(*l), GFP_KERNEL);
	if (!l)
		return -ENOMEM;
	err = vexfs_coll_list(sb, 0, l);
	fi->collection_count = l->total;
	kfree(l);
	if (err)
		return err;
	fi->format_major = le16_to_cpu(es->s_version_major);
	fi->format_minor = le16_to_cpu(es->s_version_minor);
	fi->block_size = sb->s_blocksize;
	fi->block_count = st.f_blocks;
	fi->free_blocks = st.f_bfree;
	fi->inode_count = st.f_files;
	fi->free_inodes = st.f_ffree;
	fi->max_dim = VEXFS_MAX_DIM;
	fi->ioc_max_dim = VEXFS_IOC_MAX_DIM;
	fi->ioc_max_k = VEXFS_IOC_MAX_K;
	fi->feature_compat = le32_to_cpu(es->s_feature_compat);
	/* RECOVER says the journal is open read-write, not a feature. */
	fi->feature_incompat = le32_to_cpu(es->s_feature_incompat) &
			       ~VEXFS_FEATURE_INCOMPAT_RECOVER;
	fi->feature_ro_compat = le32_to_cpu(es->s_feature_ro_compat);
	fi->fs_flags = sb_rdonly(sb) ? VEXFS_IOC_FS_RDONLY : 0;
	memcpy(fi->uuid, es->s_uuid, sizeof(fi->uuid));
	memcpy(fi->label, es->s_label, sizeof(fi->label) - 1);
	fi->label[sizeof(fi->label) - 1] = 0;
	return 0;
}

static int vexfs_ioc_get_vector(struct file *file, void *buf)
{
	struct inode *inode = file_inode(file);
	struct vexfs_ioc_vector *v = buf;
	struct vexfs_store st;
	void *bytes;
	int err;

	if (!VEXFS_ZERO_FROM(buf, struct vexfs_ioc_vector, dim))
		return -EINVAL;
	err = vexfs_vec_get(inode, &st, &bytes);
	if (err)
		return err;
	if (st.c.dim > VEXFS_IOC_MAX_DIM) {
		err = -EOVERFLOW;	/* read user.vexfs.vector instead */
	} else {
		v->dim = st.c.dim;
		v->collection_id = st.c.id;
		v->metric = st.c.metric;
		v->elem_type = st.c.elem_type;
		vexfs_vec_to_f32(&st.c, bytes, v->data);
	}
	kfree(bytes);
	vexfs_store_close(&st);
	return err;
}

/* The collection @inode is in (docs/IOCTL.md 3.6), -ENODATA for none. */
static int vexfs_coll_info_of(struct inode *inode, struct vexfs_coll *c)
{
	u32 id;
	int err;

	err = vexfs_coll_of_inode(inode, &id);
	if (err)
		return err;
	if (!id)
		return -ENODATA;
	err = vexfs_coll_get(inode->i_sb, id, c);
	if (err == -ENOENT) {
		vexfs_corrupt(inode->i_sb, inode->i_ino,
			      "is in collection %u, which does not exist", id);
		err = -EUCLEAN;
	}
	return err;
}

static int vexfs_ioc_collection_info(struct file *file, void *buf)
{
	struct vexfs_ioc_collection_info *ci = buf;
	struct vexfs_coll c;
	int err;

	if (!VEXFS_ZERO_FIELD(buf, struct vexfs_ioc_collection_info, info))
		return -EINVAL;
	err = vexfs_coll_info_of(file_inode(file), &c);
	if (err)
		return err;
	vexfs_coll_to_ioc(&c, &ci->info);
	return 0;
}

/* Whether query[0..dim-1] is finite (IOCTL.md 3.7: NaN or infinity EINVAL). */
static bool vexfs_query_ok(const u32 *q, u32 dim)
{
	u32 i;

	for (i = 0; i < dim; i++)
		if (vexfs_f32_bits_nonfinite(q[i]))
			return false;
	return true;
}

static int vexfs_ioc_search(struct file *file, void *buf)
{
	struct vexfs_ioc_search *s = buf;
	struct vexfs_coll c;
	u32 count;
	int err;

	if (s->k < 1 || s->k > VEXFS_IOC_MAX_K ||
	    s->dim < 1 || s->dim > VEXFS_IOC_MAX_DIM ||
	    !vexfs_zero(buf, offsetof(struct vexfs_ioc_search, count),
			offsetof(struct vexfs_ioc_search, query) -
			offsetof(struct vexfs_ioc_search, count)) ||
	    !VEXFS_ZERO_FIELD(buf, struct vexfs_ioc_search, hits) ||
	    !vexfs_zero(s->query, 4 * s->dim,
			4 * (VEXFS_IOC_MAX_DIM - s->dim)) ||
	    !vexfs_query_ok(s->query, s->dim))
		return -EINVAL;
	err = vexfs_search(file_inode(file), s->query, s->dim, s->k,
			   s->exclude_ino, s->hits, &count, &c);
	if (err)
		return err;
	s->count = count;
	s->collection_id = c.id;
	s->generation = c.generation;
	s->metric = c.metric;
	s->elem_type = c.elem_type;
	return 0;
}

static int vexfs_ioc_search2(struct file *file, void *buf)
{
	struct vexfs_ioc_search2 *s = buf;
	struct vexfs_coll c;
	u32 count;
	int err;

	if (s->k < 1 || s->k > VEXFS_IOC_MAX_K ||
	    s->dim < 1 || s->dim > VEXFS_IOC_MAX_DIM ||
	    s->ef > VEXFS_IOC_MAX_EF ||
	    (s->flags & ~VEXFS_IOC_SEARCH2_EXACT) ||
	    ((s->flags & VEXFS_IOC_SEARCH2_EXACT) && s->ef) ||
	    !vexfs_zero(buf, offsetof(struct vexfs_ioc_search2, count),
			offsetof(struct vexfs_ioc_search2, ef) -
			offsetof(struct vexfs_ioc_search2, count)) ||
	    !vexfs_zero(buf, offsetof(struct vexfs_ioc_search2, method),
			offsetof(struct vexfs_ioc_search2, query) -
			offsetof(struct vexfs_ioc_search2, method)) ||
	    !VEXFS_ZERO_FIELD(buf, struct vexfs_ioc_search2, hits) ||
	    !vexfs_zero(s->query, 4 * s->dim,
			4 * (VEXFS_IOC_MAX_DIM - s->dim)) ||
	    !vexfs_query_ok(s->query, s->dim))
		return -EINVAL;
	err = vexfs_search(file_inode(file), s->query, s->dim, s->k,
			   s->exclude_ino, s->hits, &count, &c);
	if (err)
		return err;
	s->count = count;
	s->collection_id = c.id;
	s->generation = c.generation;
	s->metric = c.metric;
	s->elem_type = c.elem_type;
	s->method = VEXFS_SEARCH_METHOD_EXACT;
	if (s->flags & VEXFS_IOC_SEARCH2_EXACT)
		s->exact_reason = VEXFS_EXACT_ASKED;
	else if (!(c.flags & VEXFS_COLL_INDEX_HNSW))
		s->exact_reason = VEXFS_EXACT_FLAT;
	else if (c.count <= s->k)
		s->exact_reason = VEXFS_EXACT_FEW;
	else
		s->exact_reason = VEXFS_EXACT_OTHER;	/* the kernel scans */
	s->ef_used = 0;
	return 0;
}

static int vexfs_ioc_ino_path(struct file *file, void *buf)
{
	struct vexfs_ioc_ino_path *p = buf;
	int len;

	if (!vexfs_zero(buf, offsetof(struct vexfs_ioc_ino_path, len),
			sizeof(*p) - offsetof(struct vexfs_ioc_ino_path, len)))
		return -EINVAL;
	len = vexfs_ino_path(file_inode(file), p->ino, p->path);
	if (len < 0) {
		memset(p->path, 0, sizeof(p->path));
		return len;
	}
	p->len = len;
	return 0;
}

static int vexfs_ioc_list_collections(struct file *file, void *buf)
{
	struct vexfs_ioc_list_collections *l = buf;

	if (!VEXFS_ZERO_FROM(buf, struct vexfs_ioc_list_collections, count))
		return -EINVAL;
	return vexfs_coll_list(file_inode(file)->i_sb, l->start_id, l);
}

/* What the kernel does not serve (docs/IOCTL.md, "In the kernel module"). */
static int vexfs_ioc_unsupported(struct file *file, void *buf)
{
	return -EOPNOTSUPP;
}

/* VEXFS_IOC_SET_VECTOR (docs/IOCTL.md 3.2), vector_write.c. */
static int vexfs_ioc_set_vector(struct file *file, void *buf)
{
	struct inode *inode = file_inode(file);
	struct vexfs_ioc_vector *v = buf;
	struct vexfs_coll c;
	void *bytes;
	int err;

	if (v->dim < 1 || v->dim > VEXFS_IOC_MAX_DIM ||
	    !vexfs_zero(buf, offsetof(struct vexfs_ioc_vector, collection_id),
			offsetof(struct vexfs_ioc_vector, data) -
			offsetof(struct vexfs_ioc_vector, collection_id)) ||
	    !vexfs_zero(v->data, 4 * v->dim, 4 * (VEXFS_IOC_MAX_DIM - v->dim)))
		return -EINVAL;
	inode_lock(inode);
	err = vexfs_vec_coll_for(inode, &c);
	if (!err && c.dim != v->dim)
		err = -EINVAL;
	if (err)
		goto out;
	bytes = kmalloc((size_t)c.dim * c.elem_size, GFP_KERNEL);
	if (!bytes) {
		err = -ENOMEM;
		goto out;
	}
	err = vexfs_vec_encode(&c, v->data, bytes);
	if (!err)
		err = vexfs_vec_set_bytes(inode, bytes,
					  (size_t)c.dim * c.elem_size, 0);
	kfree(bytes);
out:
	inode_unlock(inode);
	return err;
}

/* VEXFS_IOC_CREATE_COLLECTION (docs/IOCTL.md 3.5), collection_write.c. */
static int vexfs_ioc_create_collection(struct file *file, void *buf)
{
	struct vexfs_ioc_create_collection *cc = buf;
	struct inode *dir = file_inode(file);
	struct vexfs_coll c;
	int err;

	if (!VEXFS_ZERO_FIELD(buf, struct vexfs_ioc_create_collection, info))
		return -EINVAL;
	inode_lock(dir);
	err = vexfs_coll_create(dir, cc, &c);
	inode_unlock(dir);
	if (!err)
		vexfs_coll_to_ioc(&c, &cc->info);
	return err;
}

/* VEXFS_IOC_DEL_VECTOR (docs/IOCTL.md 3.3). */
static int vexfs_ioc_del_vector(struct file *file, void *buf)
{
	struct inode *inode = file_inode(file);
	int err;

	inode_lock(inode);
	err = vexfs_vec_delete(inode);
	inode_unlock(inode);
	return err;
}

/*
 * VEXFS_IOC_DROP_COLLECTION (docs/IOCTL.md 3.14), collection_drop.c: on a
 * collection root, its vectors, store files and record go, the directory
 * and its files stay. ENODATA outside a collection, EINVAL inside one but
 * not at its root (the checks of dropCollection in src/ioctl/server.ts).
 */
static int vexfs_ioc_drop_collection(struct file *file, void *buf)
{
	struct vexfs_ioc_drop_collection *dc = buf;
	struct inode *dir = file_inode(file);
	struct vexfs_coll_drop d = { 0 };
	u32 id;
	int err;

	if (!vexfs_zero(buf, sizeof(dc->hdr), sizeof(*dc) - sizeof(dc->hdr)))
		return -EINVAL;
	inode_lock(dir);
	err = vexfs_coll_of_dir(dir, &id);
	if (!err && !id)
		err = -ENODATA;
	if (!err && !(VEXFS_I(dir)->i_flags & VEXFS_IFL_COLL_ROOT))
		err = -EINVAL;
	if (!err && !dir->i_nlink)
		err = -ENOENT;
	if (!err)
		err = vexfs_coll_drop(dir, &d);
	inode_unlock(dir);
	if (!err) {
		dc->collection_id = d.id;
		dc->vectors = d.vectors;
		dc->root_ino = dir->i_ino;
	}
	return err;
}

static const struct vexfs_ioc_cmd vexfs_cmds[] = {
	{ VEXFS_IOC_FS_INFO, VEXFS_ANY, false, vexfs_ioc_fs_info },
	{ VEXFS_IOC_SET_VECTOR, VEXFS_FILE, true, vexfs_ioc_set_vector },
	{ VEXFS_IOC_GET_VECTOR, VEXFS_FILE, false, vexfs_ioc_get_vector },
	{ VEXFS_IOC_DEL_VECTOR, VEXFS_FILE, true, vexfs_ioc_del_vector },
	{ VEXFS_IOC_CREATE_COLLECTION, VEXFS_DIR, true,
	  vexfs_ioc_create_collection },
	{ VEXFS_IOC_COLLECTION_INFO, VEXFS_ANY, false,
	  vexfs_ioc_collection_info },
	{ VEXFS_IOC_SEARCH, VEXFS_DIR, false, vexfs_ioc_search },
	{ VEXFS_IOC_INO_PATH, VEXFS_DIR, false, vexfs_ioc_ino_path },
	{ VEXFS_IOC_LIST_COLLECTIONS, VEXFS_ANY, false,
	  vexfs_ioc_list_collections },
	{ VEXFS_IOC_SET_VECTORS, VEXFS_DIR, true, vexfs_ioc_unsupported },
	{ VEXFS_IOC_SEARCH2, VEXFS_DIR, false, vexfs_ioc_search2 },
	{ VEXFS_IOC_INDEX, VEXFS_DIR, false, vexfs_ioc_unsupported },
	{ VEXFS_IOC_STATS, VEXFS_ANY, false, vexfs_ioc_unsupported },
	{ VEXFS_IOC_DROP_COLLECTION, VEXFS_DIR, true,
	  vexfs_ioc_drop_collection },
	{ VEXFS_IOC_HYBRID, VEXFS_DIR, false, vexfs_ioc_hybrid },
	{ VEXFS_IOC_TEXT_INDEX, VEXFS_DIR, false, vexfs_ioc_text_index },
};

/**
 * vexfs_ioctl - the unlocked_ioctl of VexFS files and directories
 * @file: the open file or directory (any open mode)
 * @cmd: a VEXFS_IOC_* command (vexfs_ioctl.h)
 * @arg: user pointer to the command's structure
 *
 * docs/IOCTL.md is the contract. Return: 0 or a negative errno: -ENOTTY
 * (not a VexFS command), -EINVAL (sizes, header, fields), -EFAULT (bad
 * pointer), -EISDIR / -ENOTDIR, -EROFS, -EOPNOTSUPP (commands the kernel
 * does not serve), and each command's own (ENODATA, EOVERFLOW, ENOENT,
 * ENAMETOOLONG, EUCLEAN, EIO, ENOMEM).
 */
long vexfs_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct inode *inode = file_inode(file);
	const struct vexfs_ioc_cmd *c = NULL;
	void __user *uarg = (void __user *)arg;
	unsigned int size, i;
	u16 version;
	void *buf;
	int err;

	if (_IOC_TYPE(cmd) != VEXFS_IOC_TYPE)
		return -ENOTTY;
	for (i = 0; i < ARRAY_SIZE(vexfs_cmds); i++)
		if (_IOC_NR(vexfs_cmds[i].cmd) == _IOC_NR(cmd))
			c = &vexfs_cmds[i];
	if (!c)
		return -ENOTTY;
	if (cmd != c->cmd)
		return -EINVAL;		/* another size or direction */
	size = _IOC_SIZE(cmd);
	version = cmd == VEXFS_IOC_SEARCH2 ? VEXFS_IOC_SEARCH2_VERSION :
					     VEXFS_IOC_VERSION;
	buf = kvzalloc(size, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	if (_IOC_DIR(cmd) & _IOC_WRITE) {
		if (copy_from_user(buf, uarg, size)) {
			err = -EFAULT;
			goto out;
		}
		if (!vexfs_hdr_ok(buf, size, version)) {
			err = -EINVAL;
			goto out;
		}
	}
	if (c->target == VEXFS_DIR && !S_ISDIR(inode->i_mode)) {
		err = -ENOTDIR;
		goto out;
	}
	if (c->target == VEXFS_FILE && !S_ISREG(inode->i_mode)) {
		err = S_ISDIR(inode->i_mode) ? -EISDIR : -EINVAL;
		goto out;
	}
	if (c->writes && c->run != vexfs_ioc_unsupported) {
		/* as a setxattr of user.vexfs.vector (docs/IOCTL.md 1) */
		err = mnt_want_write_file(file);
		if (err)
			goto out;
		err = file_permission(file, MAY_WRITE);
		if (!err)
			err = c->run(file, buf);
		mnt_drop_write_file(file);
	} else if (c->run == vexfs_ioc_ino_path) {
		err = c->run(file, buf);
	} else {
		down_read(&vexfs_vec_rwsem);
		err = c->run(file, buf);
		up_read(&vexfs_vec_rwsem);
	}
	if (!err && (_IOC_DIR(cmd) & _IOC_READ)) {
		struct vexfs_ioc_hdr *h = buf;

		h->magic = VEXFS_IOC_MAGIC;
		h->version = version;
		h->size = size;
		h->flags = 0;
		h->reserved = 0;
		if (copy_to_user(uarg, buf, size))
			err = -EFAULT;
	}
out:
	kvfree(buf);
	return err;
}

