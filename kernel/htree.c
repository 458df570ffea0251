// SPDX-License-Identifier: GPL-2.0
/*
 * htree.c - changing a directory's hash tree (FORMAT.md section 6): adding,
 * removing and re-pointing entries, the empty test of rmdir, and a new
 * directory's root. The algorithm is the VexFS engine's (src/fs/htree.ts):
 * an entry goes to its place, sorted by (hash, name), in the leaf covering
 * its hash; a full leaf splits at the hash boundary nearest half its bytes
 * into a block appended to the directory, and {split hash, new block} goes
 * into the parent index; a full index block splits in two (the upper half's
 * entry 0 stores hash 0, its real first hash becomes the parent's key) and
 * a full root moves its entries one level down (root level at most 2).
 * Removing compacts the leaf; an emptied leaf stays in the tree.
 *
 * Every block on the path is checked before it is changed (magic,
 * checksum, counts, order, levels, child numbers, and every entry of the
 * leaf), so a damaged directory is EUCLEAN through vexfs_error and never
 * reaches the journal. All blocks a split needs are appended before any
 * block is changed. The caller holds the directory's i_rwsem and a handle
 * with VEXFS_DIR_CREDITS for each name added or removed.
 */
#include <linux/slab.h>
#include "vexfs.h"

struct vexfs_dx_frame {
	struct buffer_head *bh;
	u64	lblk;
	u32	pos;		/* the entry followed */
	u16	level;
	u16	count;
};

struct vexfs_dx_path {
	struct vexfs_dx_frame f[VEXFS_HTREE_MAX_LEVEL + 2];
	int	n;		/* frames in use; f[0] is the root */
	u64	leaf;		/* file block of the leaf, 0 for none */
};

static void vexfs_dx_release(struct vexfs_dx_path *p)
{
	int i;

	for (i = 0; i < p->n; i++)
		brelse(p->f[i].bh);
	p->n = 0;
}

static int vexfs_dx_bad(struct inode *dir, u64 lblk, const char *what)
{
	vexfs_error(dir->i_sb, dir->i_ino, -EUCLEAN, "dir",
		    "directory block %llu: %s", lblk, what);
	return -EUCLEAN;
}

static inline struct vexfs_dx_entry *vexfs_dx_entries(struct buffer_head *bh)
{
	return (struct vexfs_dx_entry *)(bh->b_data +
					 sizeof(struct vexfs_dx_header));
}

/* Reads the index path from the root to the leaf covering @hash. */
static int vexfs_dx_descend(struct inode *dir, u32 hash,
			    struct vexfs_dx_path *p)
{
	struct super_block *sb = dir->i_sb;
	u32 limit = VEXFS_DX_LIMIT(sb->s_blocksize);
	u64 nblocks = dir->i_size >> sb->s_blocksize_bits;
	int want = -1;
	u64 lblk = 0;

	p->n = 0;
	p->leaf = 0;
	for (;;) {
		struct vexfs_dx_frame *f = &p->f[p->n];
		struct vexfs_dx_header *dx;
		struct vexfs_dx_entry *de;
		u32 i, count, level;

		f->bh = vexfs_dir_bread(dir, lblk, VEXFS_DIRX_MAGIC);
		if (IS_ERR_OR_NULL(f->bh)) {
			int err = f->bh ? PTR_ERR(f->bh) : -EUCLEAN;

			f->bh = NULL;
			vexfs_dx_release(p);
			return err == -EUCLEAN ?
				vexfs_dx_bad(dir, lblk, "unreadable index") : err;
		}
		p->n++;
		dx = (void *)f->bh->b_data;
		de = vexfs_dx_entries(f->bh);
		count = le16_to_cpu(dx->dx_count);
		level = le16_to_cpu(dx->dx_level);
		f->lblk = lblk;
		f->level = level;
		f->count = count;
		f->pos = 0;
		if (count > limit || le16_to_cpu(dx->dx_limit) != limit ||
		    level > VEXFS_HTREE_MAX_LEVEL ||
		    (want >= 0 && level != want) ||
		    (count > 0 && le32_to_cpu(de[0].hash) != 0) ||
		    (count == 0 && lblk != 0))
			goto bad;
		if (count == 0)
			return 0;	/* an empty directory */
		for (i = 1; i < count; i++) {
			if (le32_to_cpu(de[i].hash) < le32_to_cpu(de[i - 1].hash))
				goto bad;
			if (le32_to_cpu(de[i].hash) <= hash)
				f->pos = i;
		}
		for (i = 0; i < count; i++)
			if (le32_to_cpu(de[i].block) == 0 ||
			    le32_to_cpu(de[i].block) >= nblocks)
				goto bad;
		lblk = le32_to_cpu(de[f->pos].block);
		if (level == 0) {
			p->leaf = lblk;
			return 0;
		}
		if (p->n > VEXFS_HTREE_MAX_LEVEL)
			goto bad;
		want = level - 1;
	}
bad:
	lblk = p->f[p->n - 1].lblk;
	vexfs_dx_release(p);
	return vexfs_dx_bad(dir, lblk, "bad index block");
}

/* A leaf's entries, checked: header, each entry's bounds, name, inode, order. */
static int vexfs_leaf_check(struct inode *dir, struct buffer_head *bh,
			    u64 lblk)
{
	struct super_block *sb = dir->i_sb;
	struct vexfs_dir_leaf_header *lh = (void *)bh->b_data;
	u32 count = le32_to_cpu(lh->dl_count);
	u32 used = le32_to_cpu(lh->dl_used);
	u32 end = sizeof(*lh) + used, off = sizeof(*lh), i;
	u32 prev = 0;

	if (used > sb->s_blocksize - sizeof(*lh) - VEXFS_CSUM_SIZE)
		goto bad;
	for (i = 0; i < count; i++) {
		struct vexfs_dir_entry *de = (void *)(bh->b_data + off);
		u32 nlen, h;
		u64 ino;

		if (off + sizeof(*de) > end)
			goto bad;
		nlen = le16_to_cpu(de->d_name_len);
		h = le32_to_cpu(de->d_hash);
		ino = le64_to_cpu(de->d_ino);
		if (nlen < 1 || nlen > VEXFS_NAME_LEN ||
		    off + VEXFS_DIR_REC_LEN(nlen) > end || h < prev ||
		    ino < 1 || ino > VEXFS_SB(sb)->s_inode_count)
			goto bad;
		prev = h;
		off += VEXFS_DIR_REC_LEN(nlen);
	}
	if (off != end)
		goto bad;
	return 0;
bad:
	return vexfs_dx_bad(dir, lblk, "bad leaf entries");
}

/* Reads and checks the leaf of @p. */
static struct buffer_head *vexfs_leaf_read(struct inode *dir, u64 lblk)
{
	struct buffer_head *bh = vexfs_dir_bread(dir, lblk, VEXFS_DIRL_MAGIC);
	int err;

	if (IS_ERR_OR_NULL(bh)) {
		err = bh ? PTR_ERR(bh) : -EUCLEAN;
		if (err == -EUCLEAN)
			vexfs_dx_bad(dir, lblk, "unreadable leaf");
		return ERR_PTR(err);
	}
	err = vexfs_leaf_check(dir, bh, lblk);
	if (err) {
		brelse(bh);
		return ERR_PTR(err);
	}
	return bh;
}

static int vexfs_name_cmp(u32 h1, const u8 *n1, u32 l1, u32 h2,
			  const u8 *n2, u32 l2)
{
	int c;

	if (h1 != h2)
		return h1 < h2 ? -1 : 1;
	c = memcmp(n1, n2, min(l1, l2));
	if (c)
		return c;
	return l1 < l2 ? -1 : l1 > l2;
}

/*
 * Position of (hash, name) in a checked leaf: *off is the entry's offset
 * when found (return 1) or where it goes (return 0).
 */
static int vexfs_leaf_find(struct buffer_head *bh, u32 hash,
			   const struct qstr *name, u32 *off)
{
	struct vexfs_dir_leaf_header *lh = (void *)bh->b_data;
	u32 count = le32_to_cpu(lh->dl_count), i;

	*off = sizeof(*lh);
	for (i = 0; i < count; i++) {
		struct vexfs_dir_entry *de = (void *)(bh->b_data + *off);
		u32 nlen = le16_to_cpu(de->d_name_len);
		int c = vexfs_name_cmp(hash, name->name, name->len,
				       le32_to_cpu(de->d_hash), de->d_name,
				       nlen);

		if (c == 0)
			return 1;
		if (c < 0)
			return 0;
		*off += VEXFS_DIR_REC_LEN(nlen);
	}
	return 0;
}

static void vexfs_put_entry(u8 *at, u64 ino, u32 hash, const u8 *name,
			    u32 nlen, u8 ftype)
{
	struct vexfs_dir_entry *de = (void *)at;

	memset(at, 0, VEXFS_DIR_REC_LEN(nlen));
	de->d_ino = cpu_to_le64(ino);
	de->d_hash = cpu_to_le32(hash);
	de->d_name_len = cpu_to_le16(nlen);
	de->d_file_type = ftype;
	memcpy(de->d_name, name, nlen);
}

static int vexfs_dx_dirty(handle_t *handle, struct inode *dir,
			  struct buffer_head *bh)
{
	vexfs_block_csum_set(bh->b_data, dir->i_sb->s_blocksize, dir->i_ino);
	return vexfs_dirty_metadata(handle, dir, bh);
}

/**
 * vexfs_dir_append - give directory @dir one more (zeroed) block
 * @handle: the running handle
 * @dir: the directory (i_rwsem held)
 * @lblk: set to the new file block
 *
 * Allocates and maps file block i_size / block_size, grows i_size (the
 * caller marks the inode dirty), and returns the new block's buffer, zeroed
 * and with create access in @handle.
 *
 * Return: the buffer or ERR_PTR(-ENOSPC / -EIO / -EUCLEAN / -ENOMEM).
 */
struct buffer_head *vexfs_dir_append(handle_t *handle, struct inode *dir,
				     u64 *lblk)
{
	struct super_block *sb = dir->i_sb;
	struct buffer_head *bh;
	bool unwritten;
	u64 pblk;
	u32 got;
	int err;

	*lblk = dir->i_size >> sb->s_blocksize_bits;
	if (*lblk >= U32_MAX)	/* index entries hold u32 file blocks */
		return ERR_PTR(-ENOSPC);
	/* a block past i_size must be a hole, or size and tree disagree */
	err = vexfs_map_block(dir, *lblk, &pblk, &got, &unwritten);
	if (err)
		return ERR_PTR(err);
	if (got) {
		vexfs_error(sb, dir->i_ino, -EUCLEAN, "dir",
			    "file block %llu past the directory's size is mapped",
			    *lblk);
		return ERR_PTR(-EUCLEAN);
	}
	err = vexfs_ext_alloc(handle, dir, *lblk, 1, 0, &pblk, &got);
	if (err)
		return ERR_PTR(err);
	bh = sb_getblk(sb, pblk);
	if (!bh)
		return ERR_PTR(-ENOMEM);
	lock_buffer(bh);	/* jbd2 wants create access under the lock */
	err = vexfs_get_create_access(handle, bh);
	if (err) {
		unlock_buffer(bh);
		brelse(bh);
		return ERR_PTR(err);
	}
	memset(bh->b_data, 0, sb->s_blocksize);
	set_buffer_uptodate(bh);
	unlock_buffer(bh);
	i_size_write(dir, dir->i_size + sb->s_blocksize);
	return bh;
}

static void vexfs_dx_init(struct buffer_head *bh, u32 bs, u16 level)
{
	struct vexfs_dx_header *dx = (void *)bh->b_data;

	memset(bh->b_data, 0, bs);
	dx->dx_magic = cpu_to_le32(VEXFS_DIRX_MAGIC);
	dx->dx_level = cpu_to_le16(level);
	dx->dx_limit = cpu_to_le16(VEXFS_DX_LIMIT(bs));
}

/**
 * vexfs_dir_init - write the empty root of a new directory (FORMAT.md 6)
 * @handle: the running handle
 * @dir: the new directory, with no blocks yet
 *
 * Return: 0 or a negative errno from the allocator.
 */
int vexfs_dir_init(handle_t *handle, struct inode *dir)
{
	struct buffer_head *bh;
	u64 lblk;
	int err;

	bh = vexfs_dir_append(handle, dir, &lblk);
	if (IS_ERR(bh))
		return PTR_ERR(bh);
	vexfs_dx_init(bh, dir->i_sb->s_blocksize, 0);
	err = vexfs_dx_dirty(handle, dir, bh);
	brelse(bh);
	return err;
}

static void vexfs_root_count(struct buffer_head *root, int delta)
{
	struct vexfs_dx_header *dx = (void *)root->b_data;

	le64_add_cpu(&dx->dx_entry_count, delta);
}

/* Chooses the split of @n sorted entries (offsets @offs, sizes @lens). */
static int vexfs_choose_split(const u32 *hashes, const u32 *lens, int n,
			      u32 cap)
{
	u32 total = 0, lower = 0, best_dist = U32_MAX, dist;
	int i, best = -1;

	for (i = 0; i < n; i++)
		total += lens[i];
	for (i = 1; i < n; i++) {
		lower += lens[i - 1];
		if (hashes[i] == hashes[i - 1])
			continue;
		if (lower > cap || total - lower > cap)
			continue;
		dist = 2 * lower > total ? 2 * lower - total : total - 2 * lower;
		if (dist < best_dist) {
			best_dist = dist;
			best = i;
		}
	}
	return best;
}

/*
 * Adds {key, child} after path->f[i].pos, splitting full index blocks and
 * growing the root, with pre-allocated blocks @fresh (their lblk in
 * @fresh_lblk). Every frame on the path has write access already.
 */
static int vexfs_dx_insert(handle_t *handle, struct inode *dir,
			   struct vexfs_dx_path *p, int i, u32 key, u32 child,
			   struct buffer_head **fresh, u64 *fresh_lblk,
			   int *nfresh)
{
	u32 bs = dir->i_sb->s_blocksize, limit = VEXFS_DX_LIMIT(bs);
	int err;

	for (;;) {
		struct vexfs_dx_frame *f = &p->f[i];
		struct vexfs_dx_entry *de = vexfs_dx_entries(f->bh);
		struct vexfs_dx_header *dx = (void *)f->bh->b_data;
		u32 at = f->pos + 1;

		if (f->count < limit) {
			memmove(&de[at + 1], &de[at],
				(f->count - at) * sizeof(*de));
			de[at].hash = cpu_to_le32(key);
			de[at].block = cpu_to_le32(child);
			f->count++;
			dx->dx_count = cpu_to_le16(f->count);
			return 0;
		}
		if (*nfresh == 0)
			return -EUCLEAN;	/* planned wrong: never */
		if (i == 0) {
			/* Full root: its entries move one level down. */
			struct buffer_head *cbh = fresh[--(*nfresh)];
			u64 clblk = fresh_lblk[*nfresh];
			struct vexfs_dx_header *cdx;
			int k;

			vexfs_dx_init(cbh, bs, f->level);
			cdx = (void *)cbh->b_data;
			memcpy(vexfs_dx_entries(cbh), de, f->count * sizeof(*de));
			cdx->dx_count = cpu_to_le16(f->count);
			memset(de, 0, f->count * sizeof(*de));
			de[0].block = cpu_to_le32(clblk);
			for (k = p->n; k > 1; k--)
				p->f[k] = p->f[k - 1];
			p->n++;
			p->f[1].bh = cbh;
			p->f[1].lblk = clblk;
			p->f[1].level = f->level;
			p->f[1].count = f->count;
			p->f[1].pos = f->pos;
			f->level++;
			f->count = 1;
			f->pos = 0;
			dx->dx_level = cpu_to_le16(f->level);
			dx->dx_count = cpu_to_le16(1);
			i = 1;
			continue;
		}
		{
			/* Split a full interior block in two. */
			struct buffer_head *nbh = fresh[--(*nfresh)];
			u64 nlblk = fresh_lblk[*nfresh];
			u32 total = f->count + 1, mid = total / 2, k, j;
			struct vexfs_dx_entry *all, *nde;
			u32 upkey;

			all = kmalloc_array(total, sizeof(*all), GFP_NOFS);
			if (!all)
				return -ENOMEM;
			for (k = 0, j = 0; k < f->count; k++) {
				if (k == at)
					all[j].hash = cpu_to_le32(key),
					all[j++].block = cpu_to_le32(child);
				all[j++] = de[k];
			}
			if (at == f->count)
				all[j].hash = cpu_to_le32(key),
				all[j++].block = cpu_to_le32(child);
			upkey = le32_to_cpu(all[mid].hash);
			vexfs_dx_init(nbh, bs, f->level);
			nde = vexfs_dx_entries(nbh);
			memcpy(nde, &all[mid], (total - mid) * sizeof(*all));
			nde[0].hash = 0;
			((struct vexfs_dx_header *)nbh->b_data)->dx_count =
				cpu_to_le16(total - mid);
			memset(de, 0, f->count * sizeof(*de));
			memcpy(de, all, mid * sizeof(*all));
			f->count = mid;
			dx->dx_count = cpu_to_le16(mid);
			kfree(all);
			err = vexfs_dx_dirty(handle, dir, nbh);
			if (err)
				return err;
			key = upkey;
			child = nlblk;
			i--;
		}
	}
}

/**
 * vexfs_dir_add - add the entry @name -> @ino to directory @dir
 * @handle: the running handle (VEXFS_DIR_CREDITS)
 * @dir: the directory, i_rwsem held; the caller looked the name up
 * @name: 1..255 bytes
 * @ino: the inode
 * @ftype: VEXFS_FT_*
 *
 * Return: 0; -EEXIST when the name is there after all; -ENOSPC when the
 * leaf cannot be split (all its entries share one hash), the tree is full
 * at root level 2, or no block is free; -EUCLEAN on a damaged directory
 * (reported through vexfs_error); -EIO, -ENOMEM.
 */
int vexfs_dir_add(handle_t *handle, struct inode *dir,
		  const struct qstr *name, u64 ino, u8 ftype)
{
	struct super_block *sb = dir->i_sb;
	u32 bs = sb->s_blocksize;
	u32 cap = bs - sizeof(struct vexfs_dir_leaf_header) - VEXFS_CSUM_SIZE;
	u32 hash = vexfs_name_hash(name->name, name->len,
				   VEXFS_SB(sb)->s_hash_seed);
	u32 rec = VEXFS_DIR_REC_LEN(name->len);
	struct buffer_head *fresh[VEXFS_HTREE_MAX_LEVEL + 3] = {};
	u64 fresh_lblk[VEXFS_HTREE_MAX_LEVEL + 3];
	struct vexfs_dir_leaf_header *lh;
	struct vexfs_dx_path p;
	struct buffer_head *lbh = NULL;
	loff_t old_size = dir->i_size;
	int err, i, need = 0, nfresh = 0;
	u32 off, used, count;

	if (name->len < 1 || name->len > VEXFS_NAME_LEN)
		return -ENAMETOOLONG;
	err = vexfs_dx_descend(dir, hash, &p);
	if (err)
		return err;
	for (i = 0; i < p.n; i++) {
		err = vexfs_get_write_access(handle, p.f[i].bh);
		if (err)
			goto out;
	}
	if (!p.leaf) {
		/* Empty directory: the first leaf covers every hash. */
		struct vexfs_dx_entry *de = vexfs_dx_entries(p.f[0].bh);
		u64 lblk;

		lbh = vexfs_dir_append(handle, dir, &lblk);
		if (IS_ERR(lbh)) {
			err = PTR_ERR(lbh);
			lbh = NULL;
			goto out;
		}
		lh = (void *)lbh->b_data;
		lh->dl_magic = cpu_to_le32(VEXFS_DIRL_MAGIC);
		lh->dl_count = cpu_to_le32(1);
		lh->dl_used = cpu_to_le32(rec);
		vexfs_put_entry((u8 *)(lh + 1), ino, hash, name->name,
				name->len, ftype);
		err = vexfs_dx_dirty(handle, dir, lbh);
		if (err)
			goto out;
		de[0].hash = 0;
		de[0].block = cpu_to_le32(lblk);
		((struct vexfs_dx_header *)p.f[0].bh->b_data)->dx_count =
			cpu_to_le16(1);
		goto done;
	}

	lbh = vexfs_leaf_read(dir, p.leaf);
	if (IS_ERR(lbh)) {
		err = PTR_ERR(lbh);
		lbh = NULL;
		goto out;
	}
	if (vexfs_leaf_find(lbh, hash, name, &off)) {
		err = -EEXIST;
		goto out;
	}
	err = vexfs_get_write_access(handle, lbh);
	if (err)
		goto out;
	lh = (void *)lbh->b_data;
	used = le32_to_cpu(lh->dl_used);
	count = le32_to_cpu(lh->dl_count);
	if (used + rec <= cap) {
		u8 *base = (u8 *)lbh->b_data;

		memmove(base + off + rec, base + off,
			sizeof(*lh) + used - off);
		vexfs_put_entry(base + off, ino, hash, name->name, name->len,
				ftype);
		lh->dl_count = cpu_to_le32(count + 1);
		lh->dl_used = cpu_to_le32(used + rec);
		err = vexfs_dx_dirty(handle, dir, lbh);
		if (err)
			goto out;
	} else {
		/* Split the leaf; plan and allocate before changing anything. */
		u32 n = count + 1, k, o, cut_off, lim = VEXFS_DX_LIMIT(bs);
		u32 *hashes, *lens;
		u8 *tmp;
		int cut;
		u64 lblk;

		tmp = kmalloc(2 * bs, GFP_NOFS);
		hashes = kmalloc_array(2 * n, sizeof(u32), GFP_NOFS);
		if (!tmp || !hashes) {
			kfree(tmp);
			kfree(hashes);
			err = -ENOMEM;
			goto out;
		}
		lens = hashes + n;
		/* The leaf's entries with the new one in place, in tmp. */
		memcpy(tmp, lbh->b_data + sizeof(*lh), off - sizeof(*lh));
		vexfs_put_entry(tmp + off - sizeof(*lh), ino, hash, name->name,
				name->len, ftype);
		memcpy(tmp + off - sizeof(*lh) + rec, lbh->b_data + off,
		       sizeof(*lh) + used - off);
		for (k = 0, o = 0; k < n; k++) {
			struct vexfs_dir_entry *de = (void *)(tmp + o);

			hashes[k] = le32_to_cpu(de->d_hash);
			lens[k] = VEXFS_DIR_REC_LEN(le16_to_cpu(de->d_name_len));
			o += lens[k];
		}
		cut = vexfs_choose_split(hashes, lens, n, cap);
		if (cut < 0) {
			kfree(tmp);
			kfree(hashes);
			pr_warn_ratelimited("vexfs: %s: inode %lu: leaf %llu cannot be split: its entries share one hash\n",
					    sb->s_id, dir->i_ino, p.leaf);
			err = -ENOSPC;
			goto out;
		}
		need = 1;
		for (i = p.n - 1; i >= 0; i--) {
			if (p.f[i].count < lim)
				break;
			if (i > 0) {
				need++;
			} else if (p.f[0].level >= VEXFS_HTREE_MAX_LEVEL) {
				err = -ENOSPC;
			} else {
				need += 2;
			}
		}
		for (k = 0; !err && k < need; k++) {
			fresh[k] = vexfs_dir_append(handle, dir, &fresh_lblk[k]);
			if (IS_ERR(fresh[k])) {
				err = PTR_ERR(fresh[k]);
				fresh[k] = NULL;
			} else {
				nfresh++;
			}
		}
		if (err) {
			/* Appended blocks stay as empty leaves (harmless). */
			for (k = 0; k < nfresh; k++) {
				lh = (void *)fresh[k]->b_data;
				lh->dl_magic = cpu_to_le32(VEXFS_DIRL_MAGIC);
				vexfs_dx_dirty(handle, dir, fresh[k]);
			}
			kfree(tmp);
			kfree(hashes);
			goto out;
		}
		for (k = 0, cut_off = 0; k < (u32)cut; k++)
			cut_off += lens[k];
		/* The upper half goes to the first fresh block. */
		{
			struct buffer_head *ubh = fresh[0];
			struct vexfs_dir_leaf_header *uh = (void *)ubh->b_data;

			uh->dl_magic = cpu_to_le32(VEXFS_DIRL_MAGIC);
			uh->dl_count = cpu_to_le32(n - cut);
			uh->dl_used = cpu_to_le32(o - cut_off);
			memcpy(uh + 1, tmp + cut_off, o - cut_off);
			lblk = fresh_lblk[0];
		}
		memset(lbh->b_data + sizeof(*lh), 0, cap);
		memcpy(lbh->b_data + sizeof(*lh), tmp, cut_off);
		lh = (void *)lbh->b_data;
		lh->dl_count = cpu_to_le32(cut);
		lh->dl_used = cpu_to_le32(cut_off);
		kfree(tmp);
		err = vexfs_dx_dirty(handle, dir, fresh[0]);
		if (!err)
			err = vexfs_dx_dirty(handle, dir, lbh);
		/* fresh[1..] are used from the end by vexfs_dx_insert. */
		if (!err) {
			struct buffer_head *rest[VEXFS_HTREE_MAX_LEVEL + 3];
			u64 rest_lblk[VEXFS_HTREE_MAX_LEVEL + 3];
			int nrest = nfresh - 1;

			for (k = 0; k < (u32)nrest; k++) {
				rest[k] = fresh[nfresh - 1 - k];
				rest_lblk[k] = fresh_lblk[nfresh - 1 - k];
			}
			err = vexfs_dx_insert(handle, dir, &p, p.n - 1,
					      hashes[cut], lblk, rest,
					      rest_lblk, &nrest);
		}
		kfree(hashes);
		if (err)
			goto out;
		for (i = 1; i < p.n; i++) {
			err = vexfs_dx_dirty(handle, dir, p.f[i].bh);
			if (err)
				goto out;
		}
	}
done:
	vexfs_root_count(p.f[0].bh, 1);
	err = vexfs_dx_dirty(handle, dir, p.f[0].bh);
out:
	/* frames added by a root split are fresh buffers: drop them once */
	for (i = 0; i < p.n; i++) {
		int k;

		for (k = 0; k < nfresh; k++)
			if (fresh[k] == p.f[i].bh)
				fresh[k] = NULL;
	}
	for (i = 0; i < nfresh; i++)
		brelse(fresh[i]);
	vexfs_dx_release(&p);
	brelse(lbh);
	if (dir->i_size != old_size) {
		int err2 = vexfs_mark_inode_dirty(handle, dir);

		if (!err)
			err = err2;
	}
	return err;
}

/*
 * Finds @name for a change: the path (root kept for entry_count) and the
 * checked leaf with write access, *off the entry's offset.
 */
static int vexfs_dir_find_mod(handle_t *handle, struct inode *dir,
			      const struct qstr *name, struct vexfs_dx_path *p,
			      struct buffer_head **lbh, u32 *off)
{
	u32 hash = vexfs_name_hash(name->name, name->len,
				   VEXFS_SB(dir->i_sb)->s_hash_seed);
	int err;

	*lbh = NULL;
	err = vexfs_dx_descend(dir, hash, p);
	if (err)
		return err;
	if (!p->leaf) {
		err = -ENOENT;
		goto out;
	}
	*lbh = vexfs_leaf_read(dir, p->leaf);
	if (IS_ERR(*lbh)) {
		err = PTR_ERR(*lbh);
		*lbh = NULL;
		goto out;
	}
	if (!vexfs_leaf_find(*lbh, hash, name, off)) {
		err = -ENOENT;
		goto out;
	}
	err = vexfs_get_write_access(handle, *lbh);
	if (err)
		goto out;
	return 0;
out:
	brelse(*lbh);
	*lbh = NULL;
	vexfs_dx_release(p);
	return err;
}

/**
 * vexfs_dir_delete - remove the entry @name from directory @dir
 * @handle: the running handle (VEXFS_DIR_CREDITS)
 * @dir: the directory, i_rwsem held
 * @name: the name
 * @ino: if not NULL, the entry must name this inode (else -ENOENT)
 *
 * Return: 0, -ENOENT, -EUCLEAN (reported), -EIO.
 */
int vexfs_dir_delete(handle_t *handle, struct inode *dir,
		     const struct qstr *name, u64 ino)
{
	struct vexfs_dir_leaf_header *lh;
	struct vexfs_dir_entry *de;
	struct vexfs_dx_header *dx;
	struct vexfs_dx_path p;
	struct buffer_head *lbh;
	u32 off, rec, used;
	int err;

	err = vexfs_dir_find_mod(handle, dir, name, &p, &lbh, &off);
	if (err)
		return err;
	lh = (void *)lbh->b_data;
	de = (void *)(lbh->b_data + off);
	if (ino && le64_to_cpu(de->d_ino) != ino) {
		err = -ENOENT;
		goto out;
	}
	dx = (void *)p.f[0].bh->b_data;
	if (le64_to_cpu(dx->dx_entry_count) == 0) {
		err = vexfs_dx_bad(dir, 0, "entry_count 0 in a non-empty directory");
		goto out;
	}
	err = vexfs_get_write_access(handle, p.f[0].bh);
	if (err)
		goto out;
	rec = VEXFS_DIR_REC_LEN(le16_to_cpu(de->d_name_len));
	used = le32_to_cpu(lh->dl_used);
	memmove(lbh->b_data + off, lbh->b_data + off + rec,
		sizeof(*lh) + used - off - rec);
	memset(lbh->b_data + sizeof(*lh) + used - rec, 0, rec);
	lh->dl_used = cpu_to_le32(used - rec);
	le32_add_cpu(&lh->dl_count, -1);
	err = vexfs_dx_dirty(handle, dir, lbh);
	if (err)
		goto out;
	vexfs_root_count(p.f[0].bh, -1);
	err = vexfs_dx_dirty(handle, dir, p.f[0].bh);
out:
	brelse(lbh);
	vexfs_dx_release(&p);
	return err;
}

/**
 * vexfs_dir_set - point the existing entry @name of @dir at @ino (rename
 * over an existing name, RENAME_EXCHANGE)
 * @handle: the running handle (VEXFS_DIR_CREDITS)
 * @dir: the directory, i_rwsem held
 * @name: the name
 * @ino: the new inode
 * @ftype: its VEXFS_FT_*
 *
 * Return: 0, -ENOENT, -EUCLEAN (reported), -EIO.
 */
int vexfs_dir_set(handle_t *handle, struct inode *dir,
		  const struct qstr *name, u64 ino, u8 ftype)
{
	struct vexfs_dir_entry *de;
	struct vexfs_dx_path p;
	struct buffer_head *lbh;
	u32 off;
	int err;

	err = vexfs_dir_find_mod(handle, dir, name, &p, &lbh, &off);
	if (err)
		return err;
	de = (void *)(lbh->b_data + off);
	de->d_ino = cpu_to_le64(ino);
	de->d_file_type = ftype;
	err = vexfs_dx_dirty(handle, dir, lbh);
	brelse(lbh);
	vexfs_dx_release(&p);
	return err;
}

/**
 * vexfs_dir_empty - whether directory @dir holds no names (rmdir)
 * @dir: the directory
 *
 * Reads every leaf (not only the root's entry_count, which a damaged
 * image could get wrong): a leaf with an entry means not empty.
 *
 * Return: 1 empty, 0 not empty, -EUCLEAN / -EIO.
 */
int vexfs_dir_empty(struct inode *dir)
{
	u64 nblocks = dir->i_size >> dir->i_sb->s_blocksize_bits, lblk;

	for (lblk = 1; lblk < nblocks; lblk++) {
		struct buffer_head *bh = vexfs_dir_bread(dir, lblk, 0);
		struct vexfs_dir_leaf_header *lh;
		bool used;

		if (IS_ERR(bh))
			return PTR_ERR(bh);
		if (!bh)
			continue;
		lh = (void *)bh->b_data;
		used = le32_to_cpu(lh->dl_magic) == VEXFS_DIRL_MAGIC &&
		       lh->dl_count != 0;
		brelse(bh);
		if (used)
			return 0;
		cond_resched();
	}
	return 1;
}
