// SPDX-License-Identifier: GPL-2.0
/*
 * search.c - exact top-k search of a collection (FORMAT.md 8.4), the
 * kernel's VEXFS_IOC_SEARCH (docs/IOCTL.md 3.7). The store is read in
 * chunks of whole vectors through the buffer cache (vector.c), every slot
 * and vector checked (slot-map block checksums, slot owners, the vectors'
 * CRC-32C), then each chunk is scored by search_fpu.c between
 * kernel_fpu_begin() and kernel_fpu_end(); reading (which may sleep) is
 * outside those sections, and the scan yields the CPU between chunks.
 *
 * A search from a directory below the collection root is restricted to
 * the files below it, by their parent pointers (FORMAT.md 5.3), as
 * underDir of src/fs/vector_search.ts; a file whose parent pointer is 0 (a
 * hard link whose recorded link was removed) counts as not below it.
 */
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/xarray.h>
#include <linux/sched/signal.h>
#include "bm25.h"
#ifdef CONFIG_X86_64
#include <asm/fpu/api.h>
#endif

/* Bytes of vectors scored per FPU section (whole vectors, at least one). */
#define VEXFS_SCAN_CHUNK	65536

/**
 * vexfs_raw_parent - the parent pointer of inode @ino (FORMAT.md 5.3)
 * @sb: the filesystem
 * @ino: the inode
 * @parent: set to its parent_ino
 *
 * Read from its inode table block (checksum checked), not through iget:
 * callers hold vexfs_vec_rwsem, and dropping the last reference of an
 * unlinked file would evict it, which may take that lock. The write path
 * copies every change of an inode into its block at once (vexfs.h contract,
 * 3). Return: 0, -EUCLEAN, -EIO.
 */
int vexfs_raw_parent(struct super_block *sb, u64 ino, u64 *parent)
{
	struct vexfs_sb_info *sbi = VEXFS_SB(sb);
	u64 byte = (ino - 1) * VEXFS_INODE_SIZE;
	const struct vexfs_inode *raw;
	struct buffer_head *bh;

	if (ino < 1 || ino > sbi->s_inode_count) {
		vexfs_corrupt(sb, ino, "inode number out of range");
		return -EUCLEAN;
	}
	bh = sb_bread(sb, sbi->s_inode_table_start +
			  (byte >> sb->s_blocksize_bits));
	if (!bh)
		return -EIO;
	raw = (const void *)(bh->b_data + (byte & (sb->s_blocksize - 1)));
	if (vexfs_crc_seeded(ino, raw, offsetof(struct vexfs_inode,
						i_checksum)) !=
	    le32_to_cpu(raw->i_checksum)) {
		brelse(bh);
		vexfs_corrupt(sb, ino, "checksum mismatch");
		return -EUCLEAN;
	}
	*parent = le64_to_cpu(raw->i_parent_ino);
	brelse(bh);
	return 0;
}

/* Whether directory @d is @dir or below it; memoised in @memo. */
static int vexfs_dir_under(struct super_block *sb, struct xarray *memo,
			   u64 dir, u64 d, bool *under)
{
	u64 chain[16];
	unsigned int n = 0, i, depth;
	bool ans = false;
	int err = 0;

	for (depth = 0; depth < VEXFS_MAX_DEPTH; depth++) {
		void *m = xa_load(memo, d);

		if (m) {
			ans = xa_to_value(m) == 2;
			break;
		}
		if (d == dir) {
			ans = true;
			break;
		}
		if (n < ARRAY_SIZE(chain))
			chain[n++] = d;
		if (d == VEXFS_ROOT_INO)
			break;
		err = vexfs_raw_parent(sb, d, &d);
		if (err)
			return err;
		if (!d)
			break;
	}
	if (depth == VEXFS_MAX_DEPTH) {
		vexfs_corrupt(sb, d, "parent chain longer than %d",
			      VEXFS_MAX_DEPTH);
		return -EUCLEAN;
	}
	for (i = 0; i < n && !err; i++)
		err = xa_err(xa_store(memo, chain[i],
				      xa_mk_value(ans ? 2 : 1), GFP_KERNEL));
	*under = ans;
	return err;
}

/**
 * vexfs_file_below - whether file @ino is below directory @dir
 * @sb: the filesystem
 * @memo: directories already answered (xa_init()ed by the caller)
 * @dir: the directory
 * @ino: the file
 * @under: the answer; false for a parent pointer of 0
 *
 * By the parent pointers (FORMAT.md 5.3). Return: 0, -EUCLEAN, -EIO,
 * -ENOMEM.
 */
int vexfs_file_below(struct super_block *sb, struct xarray *memo, u64 dir,
		     u64 ino, bool *under)
{
	u64 parent;
	int err = vexfs_raw_parent(sb, ino, &parent);

	*under = false;
	if (err || !parent)
		return err;
	return vexfs_dir_under(sb, memo, dir, parent, under);
}

/* The scan's buffers. */
struct vexfs_scan {
	struct vexfs_store st;
	struct vexfs_query q;
	struct vexfs_topk top;
	u8 *vecs;		/* chunk of vectors */
	u64 *inos;		/* their owners, 0: left out */
	u32 *crcs;		/* their slot CRCs */
	u32 *norms;		/* their norms (cosine) */
	u32 chunk;		/* vectors per chunk */
	struct xarray memo;	/* directory ino -> 1 not below, 2 below */
};

/*
 * The owners and CRCs of slots [s, s + n) from the slot map; *bh caches
 * the last slot-map block read. FORMAT.md 8.3.
 */
static int vexfs_scan_slots(struct vexfs_scan *sc, u64 s, u32 n,
			    struct buffer_head **bh, u64 *bh_lblk)
{
	struct vexfs_store *st = &sc->st;
	struct super_block *sb = st->map->i_sb;
	u64 inodes = VEXFS_SB(sb)->s_inode_count;
	u32 i;

	for (i = 0; i < n; i++) {
		u64 slot = s + i, lblk = div_u64(slot, st->per_block);
		const struct vexfs_slot *e;
		u64 ino;

		if (!*bh || *bh_lblk != lblk) {
			brelse(*bh);
			*bh = vexfs_map_bread(st, lblk);
			if (IS_ERR(*bh)) {
				int err = PTR_ERR(*bh);

				*bh = NULL;
				return err;
			}
			*bh_lblk = lblk;
		}
		e = (const struct vexfs_slot *)(*bh)->b_data +
		    (slot - lblk * st->per_block);
		ino = le64_to_cpu(e->sl_ino);
		if (!(le32_to_cpu(e->sl_flags) & VEXFS_SLOT_IN_USE) ||
		    ino < VEXFS_FIRST_INO || ino > inodes) {
			vexfs_corrupt(sb, st->map->i_ino,
				      "collection %u: slot %llu is not in use or names inode %llu",
				      st->c.id, slot, ino);
			return -EUCLEAN;
		}
		sc->inos[i] = ino;
		sc->crcs[i] = le32_to_cpu(e->sl_vec_crc);
	}
	return 0;
}

static void vexfs_scan_free(struct vexfs_scan *sc)
{
	kvfree(sc->vecs);
	kfree(sc->inos);
	kfree(sc->crcs);
	kfree(sc->norms);
	kfree(sc->q.q);
	kfree(sc->top.ent);
	xa_destroy(&sc->memo);
	vexfs_store_close(&sc->st);
}

#ifdef CONFIG_X86_64
/* Scores one chunk of @n vectors (norms computed when the store has none). */
static void vexfs_scan_fpu(struct vexfs_scan *sc, u32 n, bool need_norms)
{
	kernel_fpu_begin();
	if (need_norms)
		vexfs_fpu_norms(sc->q.elem_type, sc->vecs, sc->q.dim, n,
				sc->norms);
	vexfs_fpu_score(&sc->q, sc->vecs, n, sc->inos, sc->norms, &sc->top);
	kernel_fpu_end();
}
#endif

/**
 * vexfs_search - exact top-k search of the collection @dir is in
 * @dir: a directory; the search covers the files below it (all of the
 *	 collection for its root)
 * @query: @dim finite f32 bit patterns
 * @dim: must equal the collection's dimension
 * @k: 1..VEXFS_IOC_MAX_K
 * @exclude_ino: an inode to leave out, 0 for none
 * @hits: at least @k entries; the hits, best first (FORMAT.md 8.4)
 * @count: set to the number of hits
 * @c: set to the collection searched (its generation as searched)
 *
 * Return: 0; -EINVAL (@dir is not inside a collection, or @dim is not the
 * collection's); -EUCLEAN (damaged metadata met), -EIO, -ENOMEM, -EINTR
 * (a fatal signal during a long scan); -EOPNOTSUPP on an architecture
 * without the FPU half (not x86-64).
 */
int vexfs_search(struct inode *dir, const u32 *query, u32 dim, u32 k,
		 u64 exclude_ino, struct vexfs_ioc_search_hit *hits,
		 u32 *count, struct vexfs_coll *c)
{
#ifdef CONFIG_X86_64
	struct vexfs_topk top = { .k = k };
	int err;

	*count = 0;
	top.ent = kcalloc(k, sizeof(*top.ent), GFP_KERNEL);
	if (!top.ent)
		return -ENOMEM;
	err = vexfs_search_top(dir, query, dim, exclude_ino, NULL, NULL, &top,
			       NULL, c);
	if (!err) {
		kernel_fpu_begin();
		vexfs_fpu_hits(&top, hits);
		kernel_fpu_end();
		*count = top.n;
	}
	kfree(top.ent);
	return err;
#else
	return -EOPNOTSUPP;
#endif
}

/**
 * vexfs_search_top - exact search of the collection @dir is in, kept as f64
 * @dir: a directory; the files below it (all of the collection at its root)
 * @query: @dim finite f32 bit patterns
 * @dim: must equal the collection's dimension
 * @exclude_ino: an inode to leave out, 0 for none
 * @filter: called for each vector's owner (below @dir, not excluded);
 *	    NULL: all pass. May sleep.
 * @fctx: its context
 * @top: top->k >= 1 and top->ent (k entries) set by the caller; filled best
 *	 first (the metric's order, then ino ascending: FORMAT.md 8.4)
 * @passed: if not NULL, set to the vectors that passed @filter
 * @c: set to the collection searched
 *
 * Return: as vexfs_search().
 */
int vexfs_search_top(struct inode *dir, const u32 *query, u32 dim,
		     u64 exclude_ino, vexfs_filter_fn filter, void *fctx,
		     struct vexfs_topk *top, u32 *passed, struct vexfs_coll *c)
{
#ifdef CONFIG_X86_64
	struct super_block *sb = dir->i_sb;
	struct vexfs_scan *sc;
	struct buffer_head *bh = NULL;
	u64 bh_lblk = 0, s, total;
	bool cosine, subtree;
	u32 id, vb;
	u32 npass = 0;
	int err;

	top->n = 0;
	err = vexfs_coll_of_dir(dir, &id);
	if (err)
		return err;
	if (!id)
		return -EINVAL;
	sc = kzalloc(sizeof(*sc), GFP_KERNEL);
	if (!sc)
		return -ENOMEM;
	xa_init(&sc->memo);
	err = vexfs_store_open(sb, id, &sc->st);
	if (err) {
		if (err == -ENOENT) {
			vexfs_corrupt(sb, dir->i_ino,
				      "is in collection %u, which does not exist",
				      id);
			err = -EUCLEAN;
		}
		xa_destroy(&sc->memo);
		kfree(sc);
		return err;
	}
	*c = sc->st.c;
	if (dim != c->dim) {
		err = -EINVAL;
		goto out;
	}
	vb = sc->st.vec_bytes;
	total = c->count;
	cosine = c->metric == VEXFS_METRIC_COSINE;
	subtree = dir->i_ino != c->root_ino;
	sc->chunk = max_t(u32, 1, VEXFS_SCAN_CHUNK / vb);
	sc->q.dim = dim;
	sc->q.metric = c->metric;
	sc->q.elem_type = c->elem_type;
	sc->top.k = top->k;
	sc->top.metric = c->metric;
	sc->top.ent = top->ent;
	top->metric = c->metric;
	sc->vecs = kvmalloc(array_size(sc->chunk, vb), GFP_KERNEL);
	sc->inos = kcalloc(sc->chunk, sizeof(u64), GFP_KERNEL);
	sc->crcs = kcalloc(sc->chunk, sizeof(u32), GFP_KERNEL);
	sc->norms = kcalloc(sc->chunk, sizeof(u32), GFP_KERNEL);
	sc->q.q = kcalloc(dim, sizeof(u64), GFP_KERNEL);
	if (!sc->vecs || !sc->inos || !sc->crcs || !sc->norms || !sc->q.q) {
		err = -ENOMEM;
		goto out;
	}
	kernel_fpu_begin();
	vexfs_fpu_query_prepare(&sc->q, query);
	kernel_fpu_end();

	for (s = 0; s < total; s += sc->chunk) {
		u32 n = min_t(u64, sc->chunk, total - s), i;

		err = vexfs_scan_slots(sc, s, n, &bh, &bh_lblk);
		if (err)
			break;
		err = vexfs_internal_read(sc->st.vec, s * vb, sc->vecs,
					  (size_t)n * vb);
		if (err)
			break;
		for (i = 0; i < n; i++) {
			if (vexfs_crc(sc->vecs + (size_t)i * vb, vb) !=
			    sc->crcs[i]) {
				vexfs_corrupt(sb, sc->inos[i],
					      "collection %u: the vector in slot %llu fails its checksum",
					      id, s + i);
				err = -EUCLEAN;
				break;
			}
		}
		if (err)
			break;
		if (cosine && sc->st.norm) {
			err = vexfs_internal_read(sc->st.norm, 4 * s,
						  sc->norms, 4 * (size_t)n);
			if (err)
				break;
			for (i = 0; i < n; i++)
				sc->norms[i] = le32_to_cpu((__force __le32)
							   sc->norms[i]);
		}
		for (i = 0; i < n; i++) {
			bool under = true;

			if (sc->inos[i] == exclude_ino) {
				sc->inos[i] = 0;
				continue;
			}
			if (subtree) {
				err = vexfs_file_below(sb, &sc->memo,
						       dir->i_ino, sc->inos[i],
						       &under);
				if (err)
					break;
				if (!under) {
					sc->inos[i] = 0;
					continue;
				}
			}
			if (filter) {
				err = filter(fctx, sc->inos[i], &under);
				if (err)
					break;
				if (!under) {
					sc->inos[i] = 0;
					continue;
				}
			}
			npass++;
		}
		if (err)
			break;
		vexfs_scan_fpu(sc, n, cosine && !sc->st.norm);
		if (fatal_signal_pending(current)) {
			err = -EINTR;
			break;
		}
		cond_resched();
	}
	brelse(bh);
	top->n = err ? 0 : sc->top.n;
	if (passed)
		*passed = npass;
out:
	sc->top.ent = NULL;	/* the caller's */
	vexfs_scan_free(sc);
	kfree(sc);
	return err;
#else
	return -EOPNOTSUPP;
#endif
}
