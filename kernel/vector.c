// SPDX-License-Identifier: GPL-2.0
/*
 * vector.c - a collection's vector store (FORMAT.md sections 8.2, 8.3 and
 * 8.5) and a file's vector. The store's internal files (vector data, slot
 * map, norms) are metadata (FORMAT.md 9.4): they are read through the
 * buffer cache of the device, block by block through their extent trees,
 * like every other metadata block, never through their page cache.
 *
 * Everything read is checked before use: the internal files' types, flags
 * and sizes against the collection record, each slot-map block's checksum
 * (seeded with the collection id), that a slot names the inode that claims
 * it, and the CRC-32C of every vector (as src/fs/vectors.ts does on load).
 */
#include <linux/slab.h>
#include <linux/xattr.h>
#include "vexfs_vec.h"

/*
 * Serialises changes of every vector store (vector_write.c, taken for
 * writing inside a handle) against reads of them (searches, reads of a
 * vector or a collection, taken for reading without a handle).
 */
DECLARE_RWSEM(vexfs_vec_rwsem);

/**
 * vexfs_internal_read - read bytes of an internal file through the buffer
 * cache
 * @inode: the internal file (collection table, vector data, slot map,
 *	   norms)
 * @pos: byte offset
 * @buf: destination
 * @len: bytes, @pos + @len at most the file's size
 *
 * Holes and unwritten extents read as zeros (the checksums of what is read
 * then catch a store that should not have them).
 * Return: 0, -EUCLEAN for a read past the end or a damaged extent tree,
 * -EIO.
 */
int vexfs_internal_read(struct inode *inode, u64 pos, void *buf, size_t len)
{
	struct super_block *sb = inode->i_sb;
	u8 *dst = buf;

	if (pos > (u64)i_size_read(inode) ||
	    len > (u64)i_size_read(inode) - pos) {
		vexfs_corrupt(sb, inode->i_ino,
			      "read of %zu bytes at %llu past the end (%lld bytes)",
			      len, pos, i_size_read(inode));
		return -EUCLEAN;
	}
	while (len) {
		u64 lblk = pos >> sb->s_blocksize_bits;
		size_t off = pos & (sb->s_blocksize - 1);
		size_t n = min_t(size_t, len, sb->s_blocksize - off);
		struct buffer_head *bh;
		bool unwritten;
		u64 pblk;
		u32 mapped;
		int err;

		err = vexfs_map_block(inode, lblk, &pblk, &mapped, &unwritten);
		if (err)
			return err;
		if (!mapped || unwritten) {
			memset(dst, 0, n);
		} else {
			bh = sb_bread(sb, pblk);
			if (!bh)
				return -EIO;
			memcpy(dst, bh->b_data + off, n);
			brelse(bh);
		}
		dst += n;
		pos += n;
		len -= n;
	}
	return 0;
}

/* An internal file of the store, checked: regular, INTERNAL, @size bytes. */
static struct inode *vexfs_store_file(struct super_block *sb, u32 id,
				      u64 ino, u64 size, bool at_least,
				      const char *what)
{
	struct inode *inode = vexfs_iget(sb, ino);
	u64 have;

	if (IS_ERR(inode))
		return inode;
	have = i_size_read(inode);
	if (!S_ISREG(inode->i_mode) || !inode->i_nlink ||
	    !(VEXFS_I(inode)->i_flags & VEXFS_IFL_INTERNAL) ||
	    (at_least ? have < size : have != size)) {
		vexfs_corrupt(sb, ino,
			      "collection %u: the %s is not an internal file of %llu bytes (%llu)",
			      id, what, size, have);
		/*
		 * A damaged record naming an unlinked inode: this iput,
		 * made under vexfs_vec_rwsem, must not free it (evict would
		 * release its vector under the same lock).
		 */
		if (!inode->i_nlink)
			make_bad_inode(inode);
		iput(inode);
		return ERR_PTR(-EUCLEAN);
	}
	return inode;
}

/**
 * vexfs_store_open - open the vector store of collection @id
 * @sb: the filesystem
 * @id: collection id
 * @st: filled; vexfs_store_close() releases it
 *
 * Reads the collection record and checks the internal files against it
 * (FORMAT.md 8.2: vector data of exactly count * dim * elem_size bytes;
 * 8.3: a slot map covering count slots; 8.5: norms of exactly 4 * count
 * bytes). Return: 0, -ENOENT (no such collection), -EUCLEAN, -EIO.
 */
int vexfs_store_open(struct super_block *sb, u32 id, struct vexfs_store *st)
{
	struct vexfs_coll *c = &st->c;
	u64 map_blocks;
	int err;

	memset(st, 0, sizeof(*st));
	err = vexfs_coll_get(sb, id, c);
	if (err)
		return err;
	st->vec_bytes = c->dim * c->elem_size;
	st->per_block = VEXFS_SLOTS_PER_BLOCK(sb->s_blocksize);
	map_blocks = div_u64(c->count + st->per_block - 1, st->per_block);
	st->vec = vexfs_store_file(sb, id, c->vec_ino,
				   c->count * st->vec_bytes, false,
				   "vector data");
	if (IS_ERR(st->vec)) {
		err = PTR_ERR(st->vec);
		st->vec = NULL;
		goto fail;
	}
	st->map = vexfs_store_file(sb, id, c->map_ino,
				   map_blocks << sb->s_blocksize_bits, true,
				   "slot map");
	if (IS_ERR(st->map)) {
		err = PTR_ERR(st->map);
		st->map = NULL;
		goto fail;
	}
	if (c->norm_ino) {
		st->norm = vexfs_store_file(sb, id, c->norm_ino, 4 * c->count,
					    false, "norms file");
		if (IS_ERR(st->norm)) {
			err = PTR_ERR(st->norm);
			st->norm = NULL;
			goto fail;
		}
	}
	return 0;
fail:
	vexfs_store_close(st);
	return err;
}

/**
 * vexfs_store_close - release what vexfs_store_open() took
 * @st: the store (may be partly open)
 */
void vexfs_store_close(struct vexfs_store *st)
{
	iput(st->vec);
	iput(st->map);
	iput(st->norm);
	st->vec = st->map = st->norm = NULL;
}

/**
 * vexfs_map_bread - read and check block @lblk of the store's slot map
 * @st: an open store
 * @lblk: file block of the slot map
 *
 * FORMAT.md 8.3: the block's CRC-32C at block_size - 4, seeded with the
 * collection id. Return: the buffer, or ERR_PTR(-EUCLEAN / -EIO).
 */
struct buffer_head *vexfs_map_bread(struct vexfs_store *st, u64 lblk)
{
	struct super_block *sb = st->map->i_sb;
	struct buffer_head *bh;
	bool unwritten;
	u64 pblk;
	u32 len;
	int err;

	err = vexfs_map_block(st->map, lblk, &pblk, &len, &unwritten);
	if (err)
		return ERR_PTR(err);
	if (!len || unwritten) {
		vexfs_corrupt(sb, st->map->i_ino,
			      "collection %u: slot map block %llu is a hole",
			      st->c.id, lblk);
		return ERR_PTR(-EUCLEAN);
	}
	bh = sb_bread(sb, pblk);
	if (!bh)
		return ERR_PTR(-EIO);
	if (!vexfs_block_csum_ok(bh->b_data, sb->s_blocksize, st->c.id)) {
		vexfs_corrupt(sb, st->map->i_ino,
			      "collection %u: slot map block %llu checksum mismatch",
			      st->c.id, lblk);
		brelse(bh);
		return ERR_PTR(-EUCLEAN);
	}
	return bh;
}

/**
 * vexfs_vec_get - the stored vector of a regular file
 * @inode: the file
 * @st: opened on the file's collection; the caller closes it on success
 * @bytes: set to a kmalloc'ed copy of the stored bytes (dim * elem_size,
 *	   FORMAT.md 8.2), which the caller kfrees
 *
 * Checks that the slot is in use, is claimed by @inode (FORMAT.md 8.3
 * invariants) and that the bytes match the slot's CRC-32C.
 * Return: 0, -ENODATA (no vector), -EUCLEAN, -EIO, -ENOMEM.
 */
int vexfs_vec_get(struct inode *inode, struct vexfs_store *st, void **bytes)
{
	struct vexfs_inode_info *vi = VEXFS_I(inode);
	struct super_block *sb = inode->i_sb;
	const struct vexfs_slot *e;
	struct buffer_head *bh;
	u64 slot = vi->i_vec_slot;
	u32 crc;
	void *buf;
	int err;

	*bytes = NULL;
	if (!(vi->i_flags & VEXFS_IFL_HAS_VECTOR))
		return -ENODATA;
	err = vexfs_store_open(sb, vi->i_coll_id, st);
	if (err == -ENOENT) {
		vexfs_corrupt(sb, inode->i_ino,
			      "has a vector in collection %u, which does not exist",
			      vi->i_coll_id);
		return -EUCLEAN;
	}
	if (err)
		return err;
	if (slot >= st->c.count) {
		vexfs_corrupt(sb, inode->i_ino,
			      "vector slot %llu of collection %u, which has %llu",
			      slot, st->c.id, st->c.count);
		err = -EUCLEAN;
		goto fail;
	}
	bh = vexfs_map_bread(st, div_u64(slot, st->per_block));
	if (IS_ERR(bh)) {
		err = PTR_ERR(bh);
		goto fail;
	}
	e = (const struct vexfs_slot *)bh->b_data +
	    (slot - div_u64(slot, st->per_block) * st->per_block);
	crc = le32_to_cpu(e->sl_vec_crc);
	if (le64_to_cpu(e->sl_ino) != inode->i_ino ||
	    !(le32_to_cpu(e->sl_flags) & VEXFS_SLOT_IN_USE)) {
		vexfs_corrupt(sb, inode->i_ino,
			      "collection %u: slot %llu belongs to inode %llu",
			      st->c.id, slot, le64_to_cpu(e->sl_ino));
		brelse(bh);
		err = -EUCLEAN;
		goto fail;
	}
	brelse(bh);
	buf = kmalloc(st->vec_bytes, GFP_KERNEL);
	if (!buf) {
		err = -ENOMEM;
		goto fail;
	}
	err = vexfs_internal_read(st->vec, slot * st->vec_bytes, buf,
				  st->vec_bytes);
	if (!err && vexfs_crc(buf, st->vec_bytes) != crc) {
		vexfs_corrupt(sb, inode->i_ino,
			      "collection %u: the vector in slot %llu fails its checksum",
			      st->c.id, slot);
		err = -EUCLEAN;
	}
	if (err) {
		kfree(buf);
		goto fail;
	}
	*bytes = buf;
	return 0;
fail:
	vexfs_store_close(st);
	return err;
}

/**
 * vexfs_vec_to_f32 - decode a stored vector to f32 bit patterns
 * @c: its collection (dim, element type)
 * @raw: dim * elem_size stored bytes, little-endian (FORMAT.md 8.2)
 * @out: dim f32 bit patterns (f16 widened exactly, i8 as integers)
 *
 * Integer arithmetic only: no FPU needed.
 */
void vexfs_vec_to_f32(const struct vexfs_coll *c, const void *raw, u32 *out)
{
	const u8 *p = raw;
	u32 i;

	for (i = 0; i < c->dim; i++) {
		switch (c->elem_type) {
		case VEXFS_ELEM_F32:
			out[i] = get_unaligned_le32(p + 4 * i);
			break;
		case VEXFS_ELEM_F16:
			out[i] = vexfs_f16_to_f32_bits(get_unaligned_le16(p + 2 * i));
			break;
		default:
			out[i] = vexfs_int_to_f32_bits((s8)p[i]);
			break;
		}
	}
}

/* user.vexfs.vector (docs/IOCTL.md 5): the stored bytes of the vector. */
static int vexfs_vec_xattr_get(struct inode *inode, void *buf, size_t size)
{
	struct vexfs_store st;
	void *bytes;
	int err;

	if (!S_ISREG(inode->i_mode))
		return -ENODATA;
	down_read(&vexfs_vec_rwsem);
	err = vexfs_vec_get(inode, &st, &bytes);
	up_read(&vexfs_vec_rwsem);
	if (err)
		return err;
	err = st.vec_bytes;
	if (size && size < st.vec_bytes)
		err = -ERANGE;
	else if (size)
		memcpy(buf, bytes, st.vec_bytes);
	kfree(bytes);
	vexfs_store_close(&st);
	return err;
}

/* setxattr: exactly dim * elem_size stored bytes, no NaN or infinity. */
static int vexfs_vec_xattr_set(struct inode *inode, const void *value,
			       size_t size, int flags)
{
	struct vexfs_coll c;
	int err;

	if (!S_ISREG(inode->i_mode))
		return -EINVAL;
	err = vexfs_vec_coll_for(inode, &c);
	if (err)
		return err;
	if (size != (size_t)c.dim * c.elem_size ||
	    vexfs_vec_check_stored(&c, value))
		return -EINVAL;
	return vexfs_vec_set_bytes(inode, value, size, flags);
}

/* removexattr: delete the vector (ENODATA without one). */
static int vexfs_vec_xattr_remove(struct inode *inode)
{
	if (!S_ISREG(inode->i_mode))
		return -ENODATA;
	return vexfs_vec_delete(inode);
}

static bool vexfs_vec_xattr_present(struct inode *inode)
{
	return S_ISREG(inode->i_mode) &&
	       (VEXFS_I(inode)->i_flags & VEXFS_IFL_HAS_VECTOR);
}

/* The operations of the hook of xattr.c (vexfs.h), set at module init. */
const struct vexfs_vector_xattr_ops vexfs_vec_xattr_ops = {
	.get		= vexfs_vec_xattr_get,
	.set		= vexfs_vec_xattr_set,
	.remove		= vexfs_vec_xattr_remove,
	.present	= vexfs_vec_xattr_present,
};
