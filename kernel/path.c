// SPDX-License-Identifier: GPL-2.0
/*
 * path.c - inode number to path (VEXFS_IOC_INO_PATH, docs/IOCTL.md 3.8):
 * up the parent pointers (FORMAT.md 5.3) to the descriptor's directory,
 * and for a file whose recorded link was removed while others remain, a
 * breadth-first search of the tree for another link, as src/fs/paths.ts.
 */
#include <linux/slab.h>
#include <linux/sched/signal.h>
#include "vexfs_vec.h"

/* Whether inode @ino's bit is set in the inode bitmap (FORMAT.md 2.1). */
static int vexfs_ino_in_use(struct super_block *sb, u64 ino)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	u64 bits = (u64)sb->s_blocksize * 8;
	u64 blk = div64_u64(ino - 1, bits);
	struct buffer_head *bh;
	int used;

	bh = sb_bread(sb, sbi->s_inode_bitmap_start + blk);
	if (!bh)
		return -EIO;
	used = test_bit_le(ino - 1 - blk * bits, bh->b_data);
	brelse(bh);
	return used;
}

/*
 * Calls @fn on each entry of directory @dir, leaf block by leaf block in
 * block order, each entry checked against its block first (FORMAT.md 5.2).
 * @fn returns 0 to go on, anything else to stop with that value.
 * Return: what @fn stopped with, 0 after the last entry, -EUCLEAN for a
 * damaged leaf, -EIO.
 */
static int vexfs_dir_walk(struct inode *dir,
			  int (*fn)(void *arg, const struct vexfs_dir_entry *de,
				    u32 nlen),
			  void *arg)
{
	struct super_block *sb = dir->i_sb;
	u64 nblocks = i_size_read(dir) >> sb->s_blocksize_bits, lblk;

	for (lblk = 0; lblk < nblocks; lblk++) {
		struct vexfs_dir_leaf_header *lh;
		struct buffer_head *bh;
		u32 count, used, off, i;
		int ret;

		bh = vexfs_dir_bread(dir, lblk, 0);
		if (IS_ERR(bh))
			return PTR_ERR(bh);
		if (!bh)
			continue;
		lh = (void *)bh->b_data;
		if (le32_to_cpu(lh->dl_magic) != VEXFS_DIRL_MAGIC) {
			brelse(bh);
			continue;
		}
		count = le32_to_cpu(lh->dl_count);
		used = le32_to_cpu(lh->dl_used);
		if (used > sb->s_blocksize - sizeof(*lh) - VEXFS_CSUM_SIZE)
			goto bad;
		off = sizeof(*lh);
		for (i = 0; i < count; i++) {
			struct vexfs_dir_entry *de = (void *)(bh->b_data + off);
			u32 nlen, rec;

			if (off + sizeof(*de) > sizeof(*lh) + used)
				goto bad;
			nlen = le16_to_cpu(de->d_name_len);
			rec = VEXFS_DIR_REC_LEN(nlen);
			if (nlen < 1 || nlen > VEXFS_NAME_LEN ||
			    off + rec > sizeof(*lh) + used)
				goto bad;
			ret = fn(arg, de, nlen);
			if (ret) {
				brelse(bh);
				return ret;
			}
			off += rec;
		}
		brelse(bh);
		cond_resched();
		continue;
bad:
		vexfs_corrupt(sb, dir->i_ino, "bad leaf block %llu", lblk);
		brelse(bh);
		return -EUCLEAN;
	}
	return 0;
}

struct vexfs_name_find {
	u64 ino;
	u32 hash;
	char *name;
	int found;
};

static int vexfs_name_find_fn(void *arg, const struct vexfs_dir_entry *de,
			      u32 nlen)
{
	struct vexfs_name_find *f = arg;

	if (le64_to_cpu(de->d_ino) != f->ino ||
	    (f->found >= 0 && le32_to_cpu(de->d_hash) != f->hash))
		return 0;
	memcpy(f->name, de->d_name, nlen);
	f->found = nlen;
	return le32_to_cpu(de->d_hash) == f->hash;	/* exact: stop */
}

/*
 * The name of the link of @ino in directory @dir: the entry naming @ino
 * whose hash is @hash (the parent pointer's, FORMAT.md 5.3), else the
 * first entry naming @ino. Return: its length (copied to @name), -ENOENT,
 * -EUCLEAN, -EIO.
 */
static int vexfs_name_in_dir(struct inode *dir, u64 ino, u32 hash, char *name)
{
	struct vexfs_name_find f = { .ino = ino, .hash = hash, .name = name,
				     .found = -ENOENT };
	int err = vexfs_dir_walk(dir, vexfs_name_find_fn, &f);

	return err < 0 ? err : f.found;
}

/* The breadth-first queue of directories vexfs_find_link visits. */
#define VEXFS_BFS_CHUNK 510
struct vexfs_bfs_chunk {
	struct vexfs_bfs_chunk *next;
	u32 n;
	u64 ino[VEXFS_BFS_CHUNK];
};

struct vexfs_bfs {
	struct vexfs_bfs_chunk *head, *tail;
	u32 pos;		/* next to take from head */
	u64 pushed, limit;	/* a tree has at most one entry per dir */
	u64 target;
	char *name;
	int len;
	struct super_block *sb;
};

static int vexfs_bfs_push(struct vexfs_bfs *q, u64 ino)
{
	if (++q->pushed > q->limit) {
		vexfs_corrupt(q->sb, ino,
			      "more directory links than directories");
		return -EUCLEAN;
	}
	if (!q->tail || q->tail->n == VEXFS_BFS_CHUNK) {
		struct vexfs_bfs_chunk *c = kmalloc(sizeof(*c), GFP_KERNEL);

		if (!c)
			return -ENOMEM;
		c->next = NULL;
		c->n = 0;
		if (q->tail)
			q->tail->next = c;
		else
			q->head = c;
		q->tail = c;
	}
	q->tail->ino[q->tail->n++] = ino;
	return 0;
}

/* The next directory to visit, 0 when none is left. */
static u64 vexfs_bfs_pop(struct vexfs_bfs *q)
{
	while (q->head && q->pos == q->head->n) {
		struct vexfs_bfs_chunk *c = q->head;

		if (c->n < VEXFS_BFS_CHUNK && !c->next)
			return 0;	/* the tail, all taken */
		q->head = c->next;
		if (!q->head)
			q->tail = NULL;
		kfree(c);
		q->pos = 0;
	}
	return q->head ? q->head->ino[q->pos++] : 0;
}

static void vexfs_bfs_free(struct vexfs_bfs *q)
{
	while (q->head) {
		struct vexfs_bfs_chunk *c = q->head;

		q->head = c->next;
		kfree(c);
	}
}

static int vexfs_bfs_fn(void *arg, const struct vexfs_dir_entry *de,
			u32 nlen)
{
	struct vexfs_bfs *q = arg;

	if (le64_to_cpu(de->d_ino) == q->target) {
		memcpy(q->name, de->d_name, nlen);
		q->len = nlen;
		return 1;
	}
	if (de->d_file_type == VEXFS_FT_DIR)
		return vexfs_bfs_push(q, le64_to_cpu(de->d_ino));
	return 0;
}

/*
 * vexfs_find_link - a directory that links @target, searched breadth-first
 * from the root, each directory's entries in block order, as searchPath of
 * src/fs/paths.ts does when a file's parent pointer is unset or names no
 * link (FORMAT.md 5.3: the link it recorded was removed while others stay).
 * @sb: the filesystem
 * @target: a non-directory inode in use
 * @name: VEXFS_NAME_LEN bytes for the link's name
 * @len: the name's length, out
 *
 * Return: the directory (the caller iputs it), or ERR_PTR(-ENOENT: linked
 * nowhere; -EUCLEAN: a damaged directory or a cycle; -EIO, -ENOMEM,
 * -EINTR: a fatal signal during a long search).
 */
static struct inode *vexfs_find_link(struct super_block *sb, u64 target,
				     char *name, int *len)
{
	struct vexfs_bfs q = { .target = target, .name = name, .sb = sb,
			       .limit = VEXFS_SB(sb)->s_inode_count };
	struct inode *dir = NULL;
	u64 dino;
	int err;

	err = vexfs_bfs_push(&q, VEXFS_ROOT_INO);
	while (!err && (dino = vexfs_bfs_pop(&q))) {
		if (fatal_signal_pending(current)) {
			err = -EINTR;
			break;
		}
		dir = vexfs_iget(sb, dino);
		if (IS_ERR(dir)) {
			err = PTR_ERR(dir);
			dir = NULL;
			break;
		}
		if (!S_ISDIR(dir->i_mode)) {
			vexfs_corrupt(sb, dino,
				      "a directory entry of type directory names a non-directory");
			err = -EUCLEAN;
			break;
		}
		err = vexfs_dir_walk(dir, vexfs_bfs_fn, &q);
		if (err > 0) {
			vexfs_bfs_free(&q);
			*len = q.len;
			return dir;
		}
		iput(dir);
		dir = NULL;
	}
	iput(dir);
	vexfs_bfs_free(&q);
	return ERR_PTR(err ? err : -ENOENT);
}

/*
 * vexfs_ino_path - the path of @target relative to @dir (docs/IOCTL.md
 * 3.8) into @path (VEXFS_IOC_PATH_MAX bytes), by the parent pointers
 * (FORMAT.md 5.3), or for a file whose recorded link is gone by a
 * breadth-first search from the root, as pathOf and inoPath of the engine. Return: its length, or -ENOENT (no
 * such linked, ordinary inode, or not below @dir), -ENAMETOOLONG, -EUCLEAN,
 * -EIO, -ENOMEM.
 */
int vexfs_ino_path(struct inode *dir, u64 target, char *path)
{
	struct super_block *sb = dir->i_sb;
	struct inode *cur = NULL;
	bool toolong = false;
	int pos = VEXFS_IOC_PATH_MAX - 1, depth, err, len;
	char *name;

	if (target == dir->i_ino) {
		strscpy(path, ".", VEXFS_IOC_PATH_MAX);
		return 1;
	}
	if (target != VEXFS_ROOT_INO &&
	    (target < VEXFS_FIRST_INO || target > VEXFS_SB(sb)->s_inode_count))
		return -ENOENT;
	err = vexfs_ino_in_use(sb, target);
	if (err <= 0)
		return err ? err : -ENOENT;
	cur = vexfs_iget(sb, target);
	if (IS_ERR(cur))
		return PTR_ERR(cur);
	if ((VEXFS_I(cur)->i_flags & VEXFS_IFL_INTERNAL) || !cur->i_nlink) {
		iput(cur);
		return -ENOENT;
	}
	name = kmalloc(VEXFS_NAME_LEN + 1, GFP_KERNEL);
	if (!name) {
		iput(cur);
		return -ENOMEM;
	}
	path[pos] = 0;
	err = -ENOENT;
	for (depth = 0; depth < VEXFS_MAX_DEPTH; depth++) {
		struct vexfs_inode_info *vi = VEXFS_I(cur);
		struct inode *parent;
		int n;

		if (cur->i_ino == dir->i_ino) {
			err = 0;
			break;
		}
		if (cur->i_ino == VEXFS_ROOT_INO)
			break;	/* not below @dir */
		if (!vi->i_parent_ino && S_ISDIR(cur->i_mode))
			break;	/* no recorded link */
		n = -ENOENT;
		parent = NULL;
		if (vi->i_parent_ino) {
			parent = vexfs_iget(sb, vi->i_parent_ino);
			if (IS_ERR(parent)) {
				err = PTR_ERR(parent);
				break;
			}
			if (!S_ISDIR(parent->i_mode)) {
				vexfs_corrupt(sb, cur->i_ino,
					      "parent pointer names non-directory %lu",
					      parent->i_ino);
				iput(parent);
				err = -EUCLEAN;
				break;
			}
			n = vexfs_name_in_dir(parent, cur->i_ino,
					      vi->i_parent_hash, name);
		}
		if (n == -ENOENT && !S_ISDIR(cur->i_mode)) {
			/* a file's recorded link is gone: search for another */
			iput(parent);
			parent = vexfs_find_link(sb, cur->i_ino, name, &n);
			if (IS_ERR(parent)) {
				err = PTR_ERR(parent);
				break;
			}
		}
		if (n < 0) {
			iput(parent);
			err = n;
			break;
		}
		if (!toolong) {
			int need = n + (pos < VEXFS_IOC_PATH_MAX - 1 ? 1 : 0);

			if (need > pos) {
				toolong = true;
			} else {
				if (pos < VEXFS_IOC_PATH_MAX - 1)
					path[--pos] = '/';
				pos -= n;
				memcpy(path + pos, name, n);
			}
		}
		iput(cur);
		cur = parent;
	}
	if (depth == VEXFS_MAX_DEPTH) {
		vexfs_corrupt(sb, target, "parent chain longer than %d",
			      VEXFS_MAX_DEPTH);
		err = -EUCLEAN;
	}
	iput(cur);
	kfree(name);
	if (err)
		return err;
	if (toolong)
		return -ENAMETOOLONG;
	len = VEXFS_IOC_PATH_MAX - 1 - pos;
	memmove(path, path + pos, len + 1);
	return len;
}

