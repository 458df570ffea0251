// SPDX-License-Identifier: GPL-2.0
/*
 * hybrid.c - VEXFS_IOC_HYBRID (docs/IOCTL.md 3.15) and VEXFS_IOC_TEXT_INDEX
 * stats (3.16) in the kernel: the request checked field by field in the
 * order of decodeHybrid (src/ioctl/abi_hybrid.ts), then the vector side
 * (the exact scan of search.c) and the text side (bm25.c, analysed terms
 * only: VEXFS_IOC_HYBRID_TERMS) restricted to the files below the
 * directory that the caller may read (inode_permission(MAY_READ)) and
 * whose user. attributes pass the clauses (matchWhere of
 * src/search/where.ts), then fused as composeHybrid of src/search/hybrid.ts
 * (bm25_fpu.c). The daemon's results are the reference: the same inodes in
 * the same order, the same scores before the f32 rounding.
 */
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/sort.h>
#include <linux/xarray.h>
#include <linux/bsearch.h>
#include "bm25.h"
#ifdef CONFIG_X86_64
#include <asm/fpu/api.h>
#endif

/* Whether bytes [off, off + len) of @buf are all zero. */
static bool hy_zero(const void *buf, size_t off, size_t len)
{
	return !memchr_inv((const u8 *)buf + off, 0, len);
}

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
static bool hy_utf8(const u8 *s, u32 n)
{
	u32 i = 0;

	while (i < n) {
		u8 c = s[i];
		u32 need, cp, j;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i - 1 < need)
			return false;
		for (j = 1; j <= need; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (need == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		i += need + 1;
	}
	return true;
}

/* A clause checked as getClause of abi_hybrid.ts does. */
static bool hy_clause_ok(const struct vexfs_ioc_filter_clause *cl)
{
	u32 n = cl->nvalues, p = 0, j;
	bool ok;

	if (cl->op < VEXFS_FILTER_EQ || cl->op > VEXFS_FILTER_EXISTS ||
	    cl->ns != VEXFS_FILTER_NS_USER || cl->cmp != VEXFS_FILTER_CMP_AUTO ||
	    !hy_zero(cl->reserved, 0, sizeof(cl->reserved)) ||
	    cl->name_len < 1 || cl->name_len >= VEXFS_IOC_FILTER_NAME_MAX ||
	    memchr(cl->name, 0, cl->name_len) ||
	    !hy_zero(cl->name, cl->name_len,
		     VEXFS_IOC_FILTER_NAME_MAX - cl->name_len) ||
	    !hy_utf8(cl->name, cl->name_len))
		return false;
	ok = cl->op == VEXFS_FILTER_EXISTS ? n == 0 :
	     cl->op == VEXFS_FILTER_IN ?
	     n >= 1 && n <= VEXFS_IOC_FILTER_MAX_VALUES : n == 1;
	if (!ok)
		return false;
	for (j = 0; j < n; j++) {
		u32 vl;

		if (p >= VEXFS_IOC_FILTER_VALUES_MAX)
			return false;
		vl = cl->values[p];
		if (p + 1 + vl > VEXFS_IOC_FILTER_VALUES_MAX ||
		    !hy_utf8(cl->values + p + 1, vl))
			return false;
		p += 1 + vl;
	}
	return hy_zero(cl->values, p, VEXFS_IOC_FILTER_VALUES_MAX - p);
}

/* Terms {u8 len 1..64, UTF-8} filling exactly @n bytes, at most 64. */
static bool hy_terms_ok(const u8 *t, u32 n)
{
	u32 p = 0, count = 0;

	while (p < n) {
		u32 l = t[p];

		if (l < 1 || l > VEXFS_IOC_HYBRID_TERM_MAX || l > n - p - 1 ||
		    ++count > VEXFS_IOC_HYBRID_MAX_TERMS ||
		    !hy_utf8(t + p + 1, l))
			return false;
		p += 1 + l;
	}
	return true;
}

/* A JSON number (RFC 8259 syntax) as an exact decimal: sign, digits, exponent. */
struct hy_num {
	bool	neg;
	bool	zero;
	const u8 *dig;	/* significant digits, no leading zero ... */
	u32	ndig;	/* ... and no trailing zero (skipped when compared) */
	u32	lead;	/* leading zeros to skip in dig */
	s64	exp;	/* value = 0.d1d2... x 10^exp */
};

/* Parses @s as jsonNumber of where.ts; false when it is not one. */
static bool hy_number(const u8 *s, u32 n, struct hy_num *x)
{
	u32 i = 0, int_start, int_end, frac_start = 0, frac_end = 0;
	s64 e = 0, pos;
	bool eneg = false;
	u32 d, first = U32_MAX, last = 0, k;

	memset(x, 0, sizeof(*x));
	if (i < n && s[i] == '-') {
		x->neg = true;
		i++;
	}
	if (i >= n || s[i] < '0' || s[i] > '9')
		return false;
	int_start = i;
	if (s[i] == '0')
		i++;
	else
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	int_end = i;
	if (i < n && s[i] == '.') {
		i++;
		if (i >= n || s[i] < '0' || s[i] > '9')
			return false;
		frac_start = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		frac_end = i;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			eneg = s[i++] == '-';
		if (i >= n || s[i] < '0' || s[i] > '9')
			return false;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			if (e < 1000000000LL)
				e = e * 10 + (s[i] - '0');
			i++;
		}
	}
	if (i != n)
		return false;
	if (eneg)
		e = -e;
	/* digits: int part then fraction; find the first and last non-zero */
	for (k = 0, d = int_start; d < int_end; d++, k++)
		if (s[d] != '0') {
			if (first == U32_MAX)
				first = k;
			last = k;
		}
	for (d = frac_start; d < frac_end; d++, k++)
		if (s[d] != '0') {
			if (first == U32_MAX)
				first = k;
			last = k;
		}
	if (first == U32_MAX) {
		x->zero = true;
		return true;
	}
	/* value = 0.D x 10^(int digits - first + e) */
	pos = (s64)(int_end - int_start) - first + e;
	x->exp = pos;
	x->lead = first;
	x->ndig = last - first + 1;
	x->dig = s + int_start;	/* int digits, '.', fraction digits */
	return true;
}

/* Digit @k (0-based, counting the int digits then the fraction) of @s. */
static u8 hy_digit(const u8 *num, u32 int_len, u32 k)
{
	return k < int_len ? num[k] : num[int_len + 1 + (k - int_len)];
}

/* Compares two JSON numbers exactly: <0, 0, >0. */
static int hy_numcmp(const u8 *a, u32 an, const u8 *b, u32 bn)
{
	struct hy_num x, y;
	u32 xi, yi, i;
	int mag = 0;

	hy_number(a, an, &x);
	hy_number(b, bn, &y);
	if (x.zero && y.zero)
		return 0;
	if (x.zero)
		return y.neg ? 1 : -1;
	if (y.zero)
		return x.neg ? -1 : 1;
	if (x.neg != y.neg)
		return x.neg ? -1 : 1;
	/* int part lengths, to step over the '.' */
	for (xi = 0; x.dig + xi < a + an && x.dig[xi] >= '0' && x.dig[xi] <= '9'; xi++)
		;
	for (yi = 0; y.dig + yi < b + bn && y.dig[yi] >= '0' && y.dig[yi] <= '9'; yi++)
		;
	if (x.exp != y.exp) {
		mag = x.exp > y.exp ? 1 : -1;
	} else {
		for (i = 0; i < min(x.ndig, y.ndig) && !mag; i++) {
			u8 dx = hy_digit(x.dig, xi, x.lead + i);
			u8 dy = hy_digit(y.dig, yi, y.lead + i);

			if (dx != dy)
				mag = dx > dy ? 1 : -1;
		}
		if (!mag && x.ndig != y.ndig)
			mag = x.ndig > y.ndig ? 1 : -1;
	}
	return x.neg ? -mag : mag;
}

/* compareValue of where.ts: stored value vs literal. */
static int hy_compare(const u8 *v, u32 vn, const u8 *lit, u32 ln)
{
	struct hy_num t;
	u32 n = min(vn, ln);
	int c;

	if (hy_number(lit, ln, &t) && hy_number(v, vn, &t))
		return hy_numcmp(v, vn, lit, ln);
	c = memcmp(v, lit, n);
	if (c)
		return c;
	return vn < ln ? -1 : vn > ln;
}

/* Whether clause @cl holds for value @v (clauseHolds of where.ts). */
static bool hy_holds(const struct vexfs_ioc_filter_clause *cl, const u8 *v,
		     u32 vn)
{
	const u8 *lit = cl->values + 1;
	u32 ln = cl->values[0], j, p = 0;
	int c;

	switch (cl->op) {
	case VEXFS_FILTER_EXISTS:
		return true;
	case VEXFS_FILTER_IN:
		for (j = 0; j < cl->nvalues; j++) {
			if (!hy_compare(v, vn, cl->values + p + 1,
					cl->values[p]))
				return true;
			p += 1 + cl->values[p];
		}
		return false;
	}
	c = hy_compare(v, vn, lit, ln);
	switch (cl->op) {
	case VEXFS_FILTER_EQ:
		return c == 0;
	case VEXFS_FILTER_NE:
		return c != 0;
	case VEXFS_FILTER_LT:
		return c < 0;
	case VEXFS_FILTER_LE:
		return c <= 0;
	case VEXFS_FILTER_GT:
		return c > 0;
	default:
		return c >= 0;
	}
}

/* The filter both sides apply: below the directory, readable, clauses. */
struct hy_filter {
	struct super_block *sb;
	u64 dir;
	bool subtree;
	struct xarray memo;
	const struct vexfs_ioc_filter_clause *cl;
	u32 ncl;
	u32 passed;
};

static int hy_filter_fn(void *ctx, u64 ino, bool *pass)
{
	struct hy_filter *f = ctx;
	struct inode *inode;
	char name[VEXFS_IOC_FILTER_NAME_MAX];
	u32 i;
	int err = 0;

	*pass = false;
	if (f->subtree) {
		err = vexfs_file_below(f->sb, &f->memo, f->dir, ino, pass);
		if (err || !*pass)
			return err;
		*pass = false;
	}
	inode = vexfs_iget(f->sb, ino);
	if (IS_ERR(inode)) {
		err = PTR_ERR(inode);
		return err == -ESTALE || err == -ENOENT ? 0 : err;
	}
	if (inode_permission(VEXFS_NOP_IDMAP, inode, MAY_READ))
		goto out;
	for (i = 0; i < f->ncl; i++) {
		const struct vexfs_ioc_filter_clause *cl = &f->cl[i];
		u8 *v;
		int len;

		memcpy(name, cl->name, sizeof(name));
		len = vexfs_xattr_get(inode, VEXFS_XATTR_NS_USER, name, NULL, 0);
		if (len == -ENODATA)
			goto out;
		if (len < 0) {
			err = len;
			goto out;
		}
		v = kmalloc(max(len, 1), GFP_KERNEL);
		if (!v) {
			err = -ENOMEM;
			goto out;
		}
		len = vexfs_xattr_get(inode, VEXFS_XATTR_NS_USER, name, v, len);
		if (len >= 0 && !hy_holds(cl, v, len)) {
			kfree(v);
			goto out;
		}
		kfree(v);
		if (len < 0) {
			err = len == -ENODATA ? 0 : len;
			goto out;
		}
	}
	*pass = true;
	if (f->ncl)
		f->passed++;
out:
	vexfs_iput_deferred(inode);
	return err;
}

static int hy_ino_cmp(const void *a, const void *b)
{
	const struct vexfs_fuse_ent *x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/**
 * vexfs_ioc_hybrid - VEXFS_IOC_HYBRID on a directory (docs/IOCTL.md 3.15)
 * @file: the directory
 * @buf: the request, header checked; the answer on return
 *
 * Return: 0; -EINVAL (fields, not in a collection, dim), -EOPNOTSUPP (raw
 * text: the kernel takes analysed terms; not x86-64), -ENODATA (no keyword
 * index), -ESTALE (the keyword index is behind the files), -EUCLEAN, -EIO,
 * -ENOMEM, -EINTR.
 */
int vexfs_ioc_hybrid(struct file *file, void *buf)
{
#ifdef CONFIG_X86_64
	struct vexfs_ioc_hybrid *h = buf;
	struct inode *dir = file_inode(file);
	struct super_block *sb = dir->i_sb;
	bool vec = h->dim != 0, txt = h->text_len != 0, both;
	struct vexfs_topk vt = { 0 }, tt = { 0 };
	struct vexfs_bm25_result tr = { 0 };
	struct vexfs_fuse_ent *e = NULL;
	struct hy_filter *f;
	struct vexfs_coll c;
	u32 n, i, j, id, depth, ne = 0, abits = h->alpha;
	int err;

	/* the order of decodeHybrid, then checkHybridFields */
	if ((h->flags & ~(VEXFS_IOC_HYBRID_EXACT | VEXFS_IOC_HYBRID_TERMS)) ||
	    h->fusion > VEXFS_FUSION_WEIGHTED ||
	    h->nclauses > VEXFS_IOC_HYBRID_MAX_CLAUSES ||
	    h->text_len > VEXFS_IOC_HYBRID_TEXT_MAX ||
	    ((h->flags & VEXFS_IOC_HYBRID_TERMS) && !txt) ||
	    h->dim > VEXFS_IOC_MAX_DIM ||
	    !hy_zero(buf, offsetof(struct vexfs_ioc_hybrid, count),
		     offsetof(struct vexfs_ioc_hybrid, clauses) -
		     offsetof(struct vexfs_ioc_hybrid, count)) ||
	    !hy_zero(buf, offsetof(struct vexfs_ioc_hybrid, hits),
		     sizeof(h->hits)) ||
	    !hy_zero(h->text, h->text_len,
		     VEXFS_IOC_HYBRID_TEXT_MAX - h->text_len) ||
	    !hy_zero(h->query, 4 * h->dim, 4 * (VEXFS_IOC_MAX_DIM - h->dim)) ||
	    !hy_zero(h->clauses, h->nclauses * sizeof(h->clauses[0]),
		     (VEXFS_IOC_HYBRID_MAX_CLAUSES - h->nclauses) *
		     sizeof(h->clauses[0])))
		return -EINVAL;
	for (i = 0; i < h->nclauses; i++)
		if (!hy_clause_ok(&h->clauses[i]))
			return -EINVAL;
	if ((h->flags & VEXFS_IOC_HYBRID_TERMS) ?
	    !hy_terms_ok(h->text, h->text_len) : !hy_utf8(h->text, h->text_len))
		return -EINVAL;
	both = vec && txt;
	if (h->k < 1 || h->k > VEXFS_IOC_HYBRID_MAX_K || (!vec && !txt) ||
	    h->ef > VEXFS_IOC_MAX_EF ||
	    (!vec && (h->ef || (h->flags & VEXFS_IOC_HYBRID_EXACT))) ||
	    ((h->flags & VEXFS_IOC_HYBRID_EXACT) && h->ef) ||
	    h->depth > VEXFS_IOC_HYBRID_MAX_DEPTH ||
	    (!both && (h->fusion || h->rrf_k || abits)) ||
	    (h->fusion == VEXFS_FUSION_RRF &&
	     (h->rrf_k > VEXFS_IOC_HYBRID_MAX_RRF_K || abits)) ||
	    (h->fusion == VEXFS_FUSION_WEIGHTED &&
	     (h->rrf_k || (abits != 0x80000000 && abits > 0x3f800000))) ||
	    (both && h->depth && h->depth < h->k))
		return -EINVAL;
	for (i = 0; i < h->dim; i++)
		if (vexfs_f32_bits_nonfinite(h->query[i]))
			return -EINVAL;
	if (txt && !(h->flags & VEXFS_IOC_HYBRID_TERMS))
		return -EOPNOTSUPP;	/* the kernel does not tokenize */
	err = vexfs_coll_of_dir(dir, &id);
	if (err)
		return err;
	if (!id)
		return -EINVAL;
	err = vexfs_coll_get(sb, id, &c);
	if (err == -ENOENT) {
		vexfs_corrupt(sb, dir->i_ino,
			      "is in collection %u, which does not exist", id);
		err = -EUCLEAN;
	}
	if (err)
		return err;
	if (vec && h->dim != c.dim)
		return -EINVAL;
	if (txt && (!(c.flags & VEXFS_COLL_INDEX_BM25) || !c.bm25_ino))
		return -ENODATA;
	depth = !both ? h->k : h->depth ? h->depth : max_t(u32, h->k, 100);

	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	f->sb = sb;
	f->dir = dir->i_ino;
	f->subtree = dir->i_ino != c.root_ino;
	xa_init(&f->memo);
	f->cl = h->clauses;
	f->ncl = h->nclauses;
	vt.k = depth;
	tt.k = depth;
	vt.ent = kvcalloc(depth, sizeof(*vt.ent), GFP_KERNEL);
	tt.ent = kvcalloc(depth, sizeof(*tt.ent), GFP_KERNEL);
	e = kvcalloc(2 * depth, sizeof(*e), GFP_KERNEL);
	if (!vt.ent || !tt.ent || !e) {
		err = -ENOMEM;
		goto out;
	}
	if (txt) {
		err = vexfs_bm25_search(dir, &c, h->text, h->text_len,
					h->exclude_ino, hy_filter_fn, f, &tt,
					&tr);
		if (err)
			goto out;
		h->text_matched = tr.matched;
		h->terms_used = tr.terms_used;
	}
	if (vec) {
		struct vexfs_coll c2;
		u32 npass = 0;
		u32 before = f->passed;

		/* the vector scan counts its own passes */
		err = vexfs_search_top(dir, h->query, h->dim, h->exclude_ino,
				       hy_filter_fn, f, &vt, &npass, &c2);
		if (err)
			goto out;
		h->filter_passed = h->nclauses ? npass : 0;
		f->passed = before;
		c = c2;
		h->vec_method = VEXFS_SEARCH_METHOD_EXACT;
		if (h->flags & VEXFS_IOC_HYBRID_EXACT)
			h->exact_reason = VEXFS_EXACT_ASKED;
		else if (!(c.flags & VEXFS_COLL_INDEX_HNSW))
			h->exact_reason = VEXFS_EXACT_FLAT;
		else if (h->nclauses || f->subtree)
			h->exact_reason = VEXFS_EXACT_SUBTREE;
		else if (c.count <= depth)
			h->exact_reason = VEXFS_EXACT_FEW;
		else
			h->exact_reason = VEXFS_EXACT_OTHER;
	}
	/* the union of both candidate lists, by ino */
	for (i = 0; i < vt.n; i++) {
		e[ne].ino = vt.ent[i].ino;
		e[ne].vscore = vt.ent[i].score;
		e[ne].vrank = i + 1;
		ne++;
	}
	n = ne;
	sort(e, n, sizeof(*e), hy_ino_cmp, NULL);
	for (i = 0; i < tt.n; i++) {
		struct vexfs_fuse_ent key = { .ino = tt.ent[i].ino }, *m;

		m = n ? bsearch(&key, e, n, sizeof(*e), hy_ino_cmp) : NULL;
		if (!m) {
			m = &e[ne++];
			m->ino = tt.ent[i].ino;
		}
		m->tscore = tt.ent[i].score;
		m->trank = i + 1;
	}
	kernel_fpu_begin();
	if (both) {
		vexfs_fpu_fuse(e, ne, h->fusion == VEXFS_FUSION_WEIGHTED,
			       h->rrf_k ? h->rrf_k : VEXFS_IOC_HYBRID_RRF_K,
			       abits, c.metric == VEXFS_METRIC_L2);
	} else {
		for (j = 0; j < ne; j++)
			e[j].score = vec ? e[j].vscore : e[j].tscore;
	}
	if (both || !vec)
		vexfs_fpu_sort_fused(e, ne);
	kernel_fpu_end();
	if (vec && !both) {
		/* one vector side: the scan's own order (the metric's) */
		for (j = 0; j < ne; j++) {
			e[j].ino = vt.ent[j].ino;
			e[j].score = e[j].vscore = vt.ent[j].score;
			e[j].vrank = j + 1;
			e[j].trank = 0;
		}
	}
	ne = min(ne, h->k);
	kernel_fpu_begin();
	vexfs_fpu_fuse_hits(e, ne, h->hits);
	kernel_fpu_end();
	h->count = ne;
	h->collection_id = c.id;
	h->generation = c.generation;
	h->text_generation = c.text_generation;
	h->metric = c.metric;
out:
	if (err)
		memset(h->hits, 0, sizeof(h->hits));
	kvfree(e);
	kvfree(vt.ent);
	kvfree(tt.ent);
	xa_destroy(&f->memo);
	kfree(f);
	return err;
#else
	return -EOPNOTSUPP;
#endif
}

/**
 * vexfs_ioc_text_index - VEXFS_IOC_TEXT_INDEX (docs/IOCTL.md 3.16): stats
 * @file: a directory in a collection
 * @buf: the request, header checked; the answer on return
 *
 * Build and drop are the engine's: -EOPNOTSUPP after the checks. Stats
 * come from the record and the header slot in use (text_bytes 0: unknown;
 * fresh ignores the analyzer signature). Return: 0, -EINVAL, -EOPNOTSUPP,
 * -EUCLEAN, -EIO, -ENOMEM.
 */
int vexfs_ioc_text_index(struct file *file, void *buf)
{
	struct vexfs_ioc_text_index *t = buf;
	struct inode *dir = file_inode(file);
	struct vexfs_bm25_stats *st;
	struct vexfs_coll c;
	u32 id;
	int err;

	if (t->op < VEXFS_TEXT_INDEX_OP_BUILD ||
	    t->op > VEXFS_TEXT_INDEX_OP_STATS ||
	    (t->set & ~(VEXFS_TEXT_INDEX_SET_K1 | VEXFS_TEXT_INDEX_SET_B |
			VEXFS_TEXT_INDEX_SET_MAX_FILE |
			VEXFS_TEXT_INDEX_SET_ANALYZER)) ||
	    (t->op != VEXFS_TEXT_INDEX_OP_BUILD && t->set) ||
	    !hy_zero(buf, offsetof(struct vexfs_ioc_text_index, fresh), 1) ||
	    !hy_zero(buf, offsetof(struct vexfs_ioc_text_index, collection_id),
		     sizeof(*t) -
		     offsetof(struct vexfs_ioc_text_index, collection_id)))
		return -EINVAL;
	if (!(t->set & VEXFS_TEXT_INDEX_SET_K1) && t->k1)
		return -EINVAL;
	if (!(t->set & VEXFS_TEXT_INDEX_SET_B) && t->b)
		return -EINVAL;
	if (!(t->set & VEXFS_TEXT_INDEX_SET_MAX_FILE) && t->max_file)
		return -EINVAL;
	if (!(t->set & VEXFS_TEXT_INDEX_SET_ANALYZER) &&
	    (t->analyzer || t->stemmer || t->stopwords ||
	     !hy_zero(t->lang, 0, sizeof(t->lang))))
		return -EINVAL;
	err = vexfs_coll_of_dir(dir, &id);
	if (err)
		return err;
	if (!id)
		return -EINVAL;
	if (t->op != VEXFS_TEXT_INDEX_OP_STATS)
		return -EOPNOTSUPP;	/* the engine's: vexfs mount or offline */
	err = vexfs_coll_get(dir->i_sb, id, &c);
	if (err == -ENOENT)
		err = -EUCLEAN;
	if (err)
		return err;
	memset((u8 *)buf + sizeof(t->hdr), 0, sizeof(*t) - sizeof(t->hdr));
	t->op = VEXFS_TEXT_INDEX_OP_STATS;
	t->collection_id = c.id;
	if (!(c.flags & VEXFS_COLL_INDEX_BM25))
		return 0;
	t->k1 = c.bm25_k1;
	t->b = c.bm25_b;
	t->max_file = c.bm25_max_file;
	t->analyzer = c.bm25_analyzer;
	t->stemmer = c.bm25_stemmer;
	t->stopwords = c.bm25_stopwords;
	memcpy(t->lang, c.bm25_lang, sizeof(t->lang));
	t->text_generation = c.text_generation;
	st = kzalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		return -ENOMEM;
	err = vexfs_bm25_stats(dir->i_sb, &c, st);
	if (err == -ENODATA) {
		strscpy(t->note, "the index is not built yet", sizeof(t->note));
		err = 0;
	} else if (!err && !st->valid) {
		strscpy(t->note, "no valid header slot: the index is stale",
			sizeof(t->note));
	} else if (!err) {
		t->fresh = st->fresh;
		t->segments = st->segment_count;
		t->doc_count = st->doc_count;
		t->total_tokens = st->total_tokens;
		t->terms = st->terms;
		t->file_bytes = st->file_bytes;
		t->skipped_binary = st->skipped_binary;
		t->skipped_large = st->skipped_large;
		t->build_us = div_u64(st->build_ns, 1000);
		memcpy(t->signature, st->signature, sizeof(t->signature));
		if (!st->fresh)
			snprintf(t->note, sizeof(t->note),
				 "stale: the index is at text generation %llu, the collection at %llu",
				 st->text_generation, c.text_generation);
	}
	kfree(st);
	return err;
}
