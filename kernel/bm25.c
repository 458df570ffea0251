// SPDX-License-Identifier: GPL-2.0
/*
 * bm25.c - reading a collection's BM25 keyword index (FORMAT.md 8.7) for
 * VEXFS_IOC_HYBRID and VEXFS_IOC_TEXT_INDEX stats: the header slot in use
 * (magic, CRC-32C, higher seq), its freshness against the collection
 * record (text_generation, analyzer fields, max_file, lang; the analyzer
 * signature is ignored: the module never tokenizes), each query term
 * found by a binary search of every segment's dictionary, postings decoded
 * document-at-a-time over at most 64 cursors, liveness by a binary search
 * of the newer segments' tombstones, n(t) counted over live documents in
 * a first pass. Memory is O(terms x block size + depth): no accumulator
 * per document. Every block read is checked against its CRC (seeded with
 * the collection id for the header slots, (segment id << 32) | id for a
 * segment) and every count, offset and varint is bounded: a damaged index
 * under a fresh header is -EUCLEAN with vexfs_corrupt(), never an oops or
 * a wrong answer. The scoring itself is bm25_fpu.c's (f64, fdlibm's ln),
 * as scoreBm25 of src/bm25/score.ts computes it.
 */
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include "bm25.h"
#ifdef CONFIG_X86_64
#include <asm/fpu/api.h>
#endif

#define VEXFS_BM25_CACHE	8	/* blocks cached for records */

struct vexfs_bm25_seg {
	u32	id;
	u64	first;		/* file block of the segment header */
	u32	blocks;
	u32	docs, tombs, terms;
	u64	doc_start, tomb_start, dict_start, terms_start, post_start;
	u64	terms_bytes, post_bytes;
	u32	per_doc, per_tomb, per_term;
};

struct vexfs_bm25_cblk {
	u64	lblk;		/* U64_MAX: empty */
	u8	*data;
};

struct vexfs_bm25 {
	struct super_block *sb;
	struct inode *file;
	u32	coll;
	u32	bs, payload;
	u64	file_blocks;
	struct vexfs_bm25_header h;
	u32	nseg;
	struct vexfs_bm25_seg seg[VEXFS_BM25_MAX_SEGMENTS];
	struct vexfs_bm25_cblk cache[VEXFS_BM25_CACHE];
	u32	next_victim;
};

/* A postings cursor (one query term in one segment). */
struct vexfs_bm25_cur {
	u8	*buf;		/* the block being decoded */
	u64	lblk;		/* its file block */
	u32	off;		/* next byte in buf */
	u32	left;		/* bytes of the postings still to read */
	u32	n_left;		/* postings still to decode */
	u32	ord, tf;
	bool	done;
	u8	dist;		/* its distinct term */
};

#define bm25_corrupt(b, fmt, ...)					\
	vexfs_corrupt((b)->sb, (b)->file->i_ino, "collection %u: BM25 index: " \
		      fmt, (b)->coll, ##__VA_ARGS__)

/* Reads file block @lblk into @buf and checks its CRC seeded with @seed. */
static int bm25_read(struct vexfs_bm25 *b, u64 lblk, u64 seed, u8 *buf)
{
	int err;

	if (lblk >= b->file_blocks) {
		bm25_corrupt(b, "block %llu is past the file (%llu blocks)",
			     lblk, b->file_blocks);
		return -EUCLEAN;
	}
	err = vexfs_internal_read(b->file, lblk * b->bs, buf, b->bs);
	if (err)
		return err;
	if (!vexfs_block_csum_ok(buf, b->bs, seed)) {
		bm25_corrupt(b, "block %llu fails its checksum", lblk);
		return -EUCLEAN;
	}
	return 0;
}

static u64 bm25_seed(const struct vexfs_bm25 *b, const struct vexfs_bm25_seg *s)
{
	return ((u64)s->id << 32) | b->coll;
}

/* Block @rel of segment @s through the record cache; valid until the next call. */
static const u8 *bm25_cached(struct vexfs_bm25 *b, const struct vexfs_bm25_seg *s,
			     u64 rel, int *err)
{
	u64 lblk = s->first + rel;
	struct vexfs_bm25_cblk *c;
	u32 i;

	for (i = 0; i < VEXFS_BM25_CACHE; i++)
		if (b->cache[i].lblk == lblk)
			return b->cache[i].data;
	c = &b->cache[b->next_victim];
	b->next_victim = (b->next_victim + 1) % VEXFS_BM25_CACHE;
	c->lblk = U64_MAX;
	*err = bm25_read(b, lblk, bm25_seed(b, s), c->data);
	if (*err)
		return NULL;
	c->lblk = lblk;
	return c->data;
}

/* Record @i of a fixed-size region starting at block @start, @per a block. */
static int bm25_record(struct vexfs_bm25 *b, const struct vexfs_bm25_seg *s,
		       u64 start, u32 per, u32 size, u32 i, void *out)
{
	int err = 0;
	const u8 *d = bm25_cached(b, s, start + i / per, &err);

	if (!d)
		return err;
	memcpy(out, d + (size_t)(i % per) * size, size);
	return 0;
}

/* Bytes [off, off + len) of a stream region starting at block @start. */
static int bm25_stream(struct vexfs_bm25 *b, const struct vexfs_bm25_seg *s,
		       u64 start, u64 off, u32 len, u8 *out)
{
	while (len) {
		u32 in = off % b->payload;
		u32 n = min_t(u32, len, b->payload - in);
		int err = 0;
		const u8 *d = bm25_cached(b, s, start + div_u64(off, b->payload),
					  &err);

		if (!d)
			return err;
		memcpy(out, d + in, n);
		out += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int bm25_doc(struct vexfs_bm25 *b, const struct vexfs_bm25_seg *s,
		    u32 ord, u64 *ino, u32 *dl)
{
	struct vexfs_bm25_doc d;
	int err = bm25_record(b, s, s->doc_start, s->per_doc, sizeof(d), ord,
			      &d);

	if (err)
		return err;
	*ino = le64_to_cpu(d.bd_ino);
	*dl = le32_to_cpu(d.bd_dl);
	return 0;
}

/* Whether @ino is a tombstone of segment @s (binary search). */
static int bm25_tombstoned(struct vexfs_bm25 *b, const struct vexfs_bm25_seg *s,
			   u64 ino, bool *dead)
{
	u32 lo = 0, hi = s->tombs;

	*dead = false;
	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;
		__le64 t;
		u64 v;
		int err = bm25_record(b, s, s->tomb_start, s->per_tomb, 8, mid,
				      &t);

		if (err)
			return err;
		v = le64_to_cpu(t);
		if (v == ino) {
			*dead = true;
			return 0;
		}
		if (v < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Whether document @ino of segment @si is live (no newer tombstone). */
static int bm25_live(struct vexfs_bm25 *b, u32 si, u64 ino, bool *live)
{
	u32 j;

	*live = true;
	for (j = si + 1; j < b->nseg; j++) {
		bool dead;
		int err = bm25_tombstoned(b, &b->seg[j], ino, &dead);

		if (err)
			return err;
		if (dead) {
			*live = false;
			return 0;
		}
	}
	return 0;
}

/* Blocks a region of @n records of @per per block, or of @bytes stream, needs. */
static u64 bm25_blocks(u64 n, u32 per)
{
	return div_u64(n + per - 1, per);
}

/* Decodes and checks the header of segment @i (FORMAT.md 8.7). */
static int bm25_seg_open(struct vexfs_bm25 *b, u32 i)
{
	const struct vexfs_bm25_segref *r = &b->h.bh_segments[i];
	struct vexfs_bm25_seg *s = &b->seg[i];
	const struct vexfs_bm25_segment *g;
	u64 end;
	int err = 0;

	s->id = le32_to_cpu(r->bs_id);
	s->first = le64_to_cpu(r->bs_first_block);
	s->blocks = le32_to_cpu(r->bs_block_count);
	if (s->first < 2 || !s->blocks || s->first >= b->file_blocks ||
	    s->blocks > b->file_blocks - s->first ||
	    s->id >= le32_to_cpu(b->h.bh_next_segment_id)) {
		bm25_corrupt(b, "segment entry %u (id %u, blocks %llu+%u) is impossible",
			     i, s->id, s->first, s->blocks);
		return -EUCLEAN;
	}
	g = (const void *)bm25_cached(b, s, 0, &err);
	if (!g)
		return err;
	s->docs = le32_to_cpu(g->bm_doc_count);
	s->tombs = le32_to_cpu(g->bm_tomb_count);
	s->terms = le32_to_cpu(g->bm_term_count);
	s->doc_start = le64_to_cpu(g->bm_doc_start);
	s->tomb_start = le64_to_cpu(g->bm_tomb_start);
	s->dict_start = le64_to_cpu(g->bm_dict_start);
	s->terms_start = le64_to_cpu(g->bm_terms_start);
	s->post_start = le64_to_cpu(g->bm_post_start);
	s->terms_bytes = le64_to_cpu(g->bm_terms_bytes);
	s->post_bytes = le64_to_cpu(g->bm_post_bytes);
	s->per_doc = VEXFS_BM25_PER_BLOCK(b->bs, vexfs_bm25_doc);
	s->per_tomb = (b->bs - 4) / 8;
	s->per_term = VEXFS_BM25_PER_BLOCK(b->bs, vexfs_bm25_term);
	end = s->blocks;
	if (le32_to_cpu(g->bm_magic) != VEXFS_BM25_SEGMENT_MAGIC ||
	    le32_to_cpu(g->bm_id) != s->id ||
	    le32_to_cpu(g->bm_block_count) != s->blocks ||
	    (le32_to_cpu(g->bm_seg_flags) & ~VEXFS_BM25_SEGMENT_BASE) ||
	    !!(le32_to_cpu(g->bm_seg_flags) & VEXFS_BM25_SEGMENT_BASE) != !i ||
	    s->doc_start != 1 || s->tomb_start < s->doc_start ||
	    s->dict_start < s->tomb_start || s->terms_start < s->dict_start ||
	    s->post_start < s->terms_start || s->post_start > end ||
	    bm25_blocks(s->docs, s->per_doc) > s->tomb_start - s->doc_start ||
	    bm25_blocks(s->tombs, s->per_tomb) > s->dict_start - s->tomb_start ||
	    bm25_blocks(s->terms, s->per_term) > s->terms_start - s->dict_start ||
	    s->terms_bytes > (u64)b->payload * (s->post_start - s->terms_start) ||
	    s->post_bytes > (u64)b->payload * (end - s->post_start)) {
		bm25_corrupt(b, "segment %u: header fields are impossible", s->id);
		return -EUCLEAN;
	}
	return 0;
}

/* Checks header slot @slot (in @d); sets *valid for a good magic and CRC. */
static int bm25_slot(struct vexfs_bm25 *b, u32 slot, const u8 *d, bool *valid)
{
	const struct vexfs_bm25_header *h = (const void *)d;

	*valid = le32_to_cpu(h->bh_magic) == VEXFS_BM25_MAGIC &&
		 vexfs_block_csum_ok(d, b->bs, b->coll);
	if (!*valid)
		return 0;	/* never written, or torn */
	if (le16_to_cpu(h->bh_version) != VEXFS_BM25_VERSION ||
	    le16_to_cpu(h->bh_slot) != slot ||
	    le32_to_cpu(h->bh_segment_count) < 1 ||
	    le32_to_cpu(h->bh_segment_count) > VEXFS_BM25_MAX_SEGMENTS ||
	    le64_to_cpu(h->bh_total_tokens) < le64_to_cpu(h->bh_doc_count)) {
		bm25_corrupt(b, "header slot %u has impossible fields", slot);
		return -EUCLEAN;
	}
	return 0;
}

static void bm25_close(struct vexfs_bm25 *b)
{
	u32 i;

	for (i = 0; i < VEXFS_BM25_CACHE; i++)
		kvfree(b->cache[i].data);
	if (b->file)
		vexfs_iput_deferred(b->file);
	kfree(b);
}

/* Whether the header @h matches the record @c (FORMAT.md 8.7 freshness). */
static bool bm25_fresh(const struct vexfs_bm25_header *h,
		       const struct vexfs_coll *c)
{
	return le64_to_cpu(h->bh_text_generation) == c->text_generation &&
	       h->bh_analyzer == c->bm25_analyzer &&
	       h->bh_stemmer == c->bm25_stemmer &&
	       h->bh_stopwords == c->bm25_stopwords &&
	       le32_to_cpu(h->bh_max_file) == c->bm25_max_file &&
	       !memcmp(h->bh_lang, c->bm25_lang, VEXFS_BM25_LANG_LEN);
}

/*
 * Opens the index of @c: the file, the current header slot (*valid false
 * when neither slot is valid) and, with @segments, every segment header.
 * Return: the reader or an ERR_PTR: -ENODATA (no index), -EUCLEAN, -EIO,
 * -ENOMEM.
 */
static struct vexfs_bm25 *bm25_open(struct super_block *sb,
				    const struct vexfs_coll *c, bool *valid)
{
	struct vexfs_bm25 *b;
	bool ok[2] = { false, false };
	u8 *slot[2];
	u32 i;
	int err = 0;

	*valid = false;
	if (!(c->flags & VEXFS_COLL_INDEX_BM25) || !c->bm25_ino)
		return ERR_PTR(-ENODATA);
	b = kzalloc(sizeof(*b), GFP_KERNEL);
	if (!b)
		return ERR_PTR(-ENOMEM);
	b->sb = sb;
	b->coll = c->id;
	b->bs = sb->s_blocksize;
	b->payload = b->bs - 4;
	for (i = 0; i < VEXFS_BM25_CACHE; i++) {
		b->cache[i].lblk = U64_MAX;
		b->cache[i].data = kvmalloc(b->bs, GFP_KERNEL);
		if (!b->cache[i].data)
			err = -ENOMEM;
	}
	if (err)
		goto fail;
	b->file = vexfs_iget(sb, c->bm25_ino);
	if (IS_ERR(b->file)) {
		err = PTR_ERR(b->file);
		b->file = NULL;
		goto fail;
	}
	b->file_blocks = i_size_read(b->file) >> sb->s_blocksize_bits;
	if (!S_ISREG(b->file->i_mode) ||
	    !(VEXFS_I(b->file)->i_flags & VEXFS_IFL_INTERNAL)) {
		vexfs_corrupt(sb, c->bm25_ino,
			      "collection %u: the BM25 index is not an internal file",
			      c->id);
		err = -EUCLEAN;
		goto fail;
	}
	if (b->file_blocks < 2)
		return b;	/* no header written yet: not valid */
	/* the two slots go in cache entries 0 and 1 */
	for (i = 0; i < 2; i++) {
		slot[i] = b->cache[i].data;
		err = vexfs_internal_read(b->file, (u64)i * b->bs, slot[i],
					  b->bs);
		if (!err)
			err = bm25_slot(b, i, slot[i], &ok[i]);
		if (err)
			goto fail;
	}
	if (!ok[0] && !ok[1])
		return b;
	i = ok[0] && (!ok[1] ||
		      le64_to_cpu(((struct vexfs_bm25_header *)slot[0])->bh_seq) >=
		      le64_to_cpu(((struct vexfs_bm25_header *)slot[1])->bh_seq)) ?
	    0 : 1;
	memcpy(&b->h, slot[i], sizeof(b->h));
	*valid = true;
	return b;
fail:
	bm25_close(b);
	return ERR_PTR(err);
}

/* Opens every segment of the current header (after bm25_open). */
static int bm25_open_segments(struct vexfs_bm25 *b)
{
	u32 i, j;
	int err;

	b->nseg = le32_to_cpu(b->h.bh_segment_count);
	for (i = 0; i < b->nseg; i++) {
		err = bm25_seg_open(b, i);
		if (err)
			return err;
		for (j = 0; j < i; j++)
			if (b->seg[j].id == b->seg[i].id ||
			    (b->seg[i].first < b->seg[j].first + b->seg[j].blocks &&
			     b->seg[j].first < b->seg[i].first + b->seg[i].blocks)) {
				bm25_corrupt(b, "segments %u and %u overlap",
					     b->seg[j].id, b->seg[i].id);
				return -EUCLEAN;
			}
	}
	return 0;
}

/**
 * vexfs_bm25_stats - what the index of collection @c says about itself
 * @sb: the filesystem
 * @c: the collection (with VEXFS_COLL_INDEX_BM25)
 * @st: filled from the header slot in use
 *
 * FORMAT.md 8.7. Return: 0 (st->valid false when no slot is valid),
 * -ENODATA (no index file), -EUCLEAN, -EIO, -ENOMEM.
 */
int vexfs_bm25_stats(struct super_block *sb, const struct vexfs_coll *c,
		     struct vexfs_bm25_stats *st)
{
	struct vexfs_bm25 *b;
	bool valid;

	memset(st, 0, sizeof(*st));
	b = bm25_open(sb, c, &valid);
	if (IS_ERR(b))
		return PTR_ERR(b);
	st->file_bytes = (u64)b->file->i_blocks << 9;
	st->valid = valid;
	if (valid) {
		const struct vexfs_bm25_header *h = &b->h;
		int err = bm25_open_segments(b);
		u32 i;

		if (err) {
			bm25_close(b);
			return err;
		}
		for (i = 0; i < b->nseg; i++)
			st->terms += b->seg[i].terms;

		st->fresh = bm25_fresh(h, c);
		st->seq = le64_to_cpu(h->bh_seq);
		st->text_generation = le64_to_cpu(h->bh_text_generation);
		st->doc_count = le64_to_cpu(h->bh_doc_count);
		st->total_tokens = le64_to_cpu(h->bh_total_tokens);
		st->skipped_binary = le64_to_cpu(h->bh_skipped_binary);
		st->skipped_large = le64_to_cpu(h->bh_skipped_large);
		st->long_tokens = le64_to_cpu(h->bh_long_tokens);
		st->empty_docs = le64_to_cpu(h->bh_empty_docs);
		st->build_ns = le64_to_cpu(h->bh_build_ns);
		st->segment_count = le32_to_cpu(h->bh_segment_count);
		memcpy(st->signature, h->bh_signature, sizeof(st->signature));
	}
	bm25_close(b);
	return 0;
}

/* Finds @term (@len bytes, hash @hash) in segment @s; *rec.bt_df 0: absent. */
static int bm25_find(struct vexfs_bm25 *b, const struct vexfs_bm25_seg *s,
		     const u8 *term, u32 len, u32 hash,
		     struct vexfs_bm25_term *rec)
{
	u32 lo = 0, hi = s->terms, i;
	u8 bytes[VEXFS_BM25_MAX_TERM];
	int err;

	memset(rec, 0, sizeof(*rec));
	while (lo < hi) {	/* first record with hash >= @hash */
		u32 mid = lo + (hi - lo) / 2;

		err = bm25_record(b, s, s->dict_start, s->per_term,
				  sizeof(*rec), mid, rec);
		if (err)
			return err;
		if (le32_to_cpu(rec->bt_hash) < hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo; i < s->terms; i++) {
		u32 rlen;
		u64 toff, poff;

		err = bm25_record(b, s, s->dict_start, s->per_term,
				  sizeof(*rec), i, rec);
		if (err)
			return err;
		if (le32_to_cpu(rec->bt_hash) != hash)
			break;
		rlen = le16_to_cpu(rec->bt_len);
		toff = le64_to_cpu(rec->bt_term_off);
		poff = le64_to_cpu(rec->bt_post_off);
		if (rlen < 1 || rlen > VEXFS_BM25_MAX_TERM ||
		    toff > s->terms_bytes || rlen > s->terms_bytes - toff ||
		    poff > s->post_bytes ||
		    le32_to_cpu(rec->bt_post_len) > s->post_bytes - poff ||
		    le32_to_cpu(rec->bt_df) < 1 ||
		    le32_to_cpu(rec->bt_df) > s->docs) {
			bm25_corrupt(b, "segment %u: dictionary record %u is impossible",
				     s->id, i);
			return -EUCLEAN;
		}
		if (rlen != len)
			continue;
		err = bm25_stream(b, s, s->terms_start, toff, rlen, bytes);
		if (err)
			return err;
		if (!memcmp(bytes, term, len))
			return 0;
		if (!(i & 255))
			cond_resched();
	}
	memset(rec, 0, sizeof(*rec));
	return 0;
}

/* Starts cursor @cu over the postings of @rec in segment @s. */
static int bm25_cur_start(struct vexfs_bm25 *b, const struct vexfs_bm25_seg *s,
			  const struct vexfs_bm25_term *rec,
			  struct vexfs_bm25_cur *cu)
{
	u64 off = le64_to_cpu(rec->bt_post_off);

	cu->lblk = s->first + s->post_start + div_u64(off, b->payload);
	cu->off = off % b->payload;
	cu->left = le32_to_cpu(rec->bt_post_len);
	cu->n_left = le32_to_cpu(rec->bt_df);
	cu->done = false;
	cu->ord = 0;
	cu->tf = 0;
	return bm25_read(b, cu->lblk, bm25_seed(b, s), cu->buf);
}

/* Next byte of the postings; -EUCLEAN past their length. */
static int bm25_cur_byte(struct vexfs_bm25 *b, const struct vexfs_bm25_seg *s,
			 struct vexfs_bm25_cur *cu, u8 *out)
{
	int err;

	if (!cu->left) {
		bm25_corrupt(b, "segment %u: postings run past their length",
			     s->id);
		return -EUCLEAN;
	}
	if (cu->off == b->payload) {
		cu->lblk++;
		cu->off = 0;
		if (cu->lblk >= s->first + s->blocks) {
			bm25_corrupt(b, "segment %u: postings run past the segment",
				     s->id);
			return -EUCLEAN;
		}
		err = bm25_read(b, cu->lblk, bm25_seed(b, s), cu->buf);
		if (err)
			return err;
	}
	*out = cu->buf[cu->off++];
	cu->left--;
	return 0;
}

/* An unsigned LEB128 varint of at most 5 bytes and 32 bits. */
static int bm25_cur_varint(struct vexfs_bm25 *b, const struct vexfs_bm25_seg *s,
			   struct vexfs_bm25_cur *cu, u32 *v)
{
	u64 x = 0;
	u32 i;
	u8 c;

	for (i = 0; i < 5; i++) {
		int err = bm25_cur_byte(b, s, cu, &c);

		if (err)
			return err;
		x |= (u64)(c & 0x7f) << (7 * i);
		if (!(c & 0x80)) {
			if (x > U32_MAX)
				break;
			*v = x;
			return 0;
		}
	}
	bm25_corrupt(b, "segment %u: a postings varint is too long", s->id);
	return -EUCLEAN;
}

/* Advances @cu to its next posting (cu->done at the end). */
static int bm25_cur_next(struct vexfs_bm25 *b, const struct vexfs_bm25_seg *s,
			 struct vexfs_bm25_cur *cu)
{
	u32 delta, tf;
	int err;

	if (!cu->n_left) {
		if (cu->left) {
			bm25_corrupt(b, "segment %u: postings longer than their df",
				     s->id);
			return -EUCLEAN;
		}
		cu->done = true;
		return 0;
	}
	err = bm25_cur_varint(b, s, cu, &delta);
	if (!err)
		err = bm25_cur_varint(b, s, cu, &tf);
	if (err)
		return err;
	if (cu->tf) {		/* not the first posting: tf of the last >= 1 */
		if (!delta || delta > U32_MAX - cu->ord) {
			bm25_corrupt(b, "segment %u: postings not ascending",
				     s->id);
			return -EUCLEAN;
		}
		delta += cu->ord;
	}
	if (delta >= s->docs || !tf) {
		bm25_corrupt(b, "segment %u: posting of ordinal %u, tf %u is impossible",
			     s->id, delta, tf);
		return -EUCLEAN;
	}
	cu->ord = delta;
	cu->tf = tf;
	cu->n_left--;
	return 0;
}

/* The search's state. */
struct vexfs_bm25_run {
	struct vexfs_bm25 *b;
	struct vexfs_bm25_query q;
	u8 term_len[VEXFS_IOC_HYBRID_MAX_TERMS];	/* per distinct term */
	const u8 *term[VEXFS_IOC_HYBRID_MAX_TERMS];
	u32 hash[VEXFS_IOC_HYBRID_MAX_TERMS];
	struct vexfs_bm25_term rec[VEXFS_BM25_MAX_SEGMENTS][VEXFS_IOC_HYBRID_MAX_TERMS];
	struct vexfs_bm25_cur cur[VEXFS_IOC_HYBRID_MAX_TERMS];
	struct vexfs_bm25_match *batch;
	u32 nbatch;
};

/* Parses the {u8 len, bytes} terms (checked by the caller) into distinct ones. */
static void bm25_terms(struct vexfs_bm25_run *r, const u8 *t, u32 len,
		       u32 seed)
{
	u32 p = 0, d;

	while (p < len && r->q.nterms < VEXFS_IOC_HYBRID_MAX_TERMS) {
		u8 l = t[p];
		const u8 *w = t + p + 1;

		for (d = 0; d < r->q.ndist; d++)
			if (r->term_len[d] == l && !memcmp(r->term[d], w, l))
				break;
		if (d == r->q.ndist) {
			r->term_len[d] = l;
			r->term[d] = w;
			r->hash[d] = vexfs_name_hash(w, l, seed);
			r->q.ndist++;
		}
		r->q.dist[r->q.nterms++] = d;
		p += 1 + l;
	}
}

#ifdef CONFIG_X86_64
static void bm25_flush(struct vexfs_bm25_run *r, struct vexfs_topk *top)
{
	if (!r->nbatch)
		return;
	kernel_fpu_begin();
	vexfs_bm25_fpu_score(&r->q, r->batch, r->nbatch, top);
	kernel_fpu_end();
	r->nbatch = 0;
}
#endif

/* Pass 1: n(t) of every distinct term over the live documents. */
static int bm25_count_df(struct vexfs_bm25_run *r)
{
	struct vexfs_bm25 *b = r->b;
	u32 s, d;
	int err;

	for (d = 0; d < r->q.ndist; d++) {
		u64 n = 0;

		for (s = 0; s < b->nseg; s++) {
			const struct vexfs_bm25_term *rec = &r->rec[s][d];
			struct vexfs_bm25_cur *cu = &r->cur[0];

			if (!rec->bt_df)
				continue;
			if (s == b->nseg - 1) {	/* the newest: all live */
				n += le32_to_cpu(rec->bt_df);
				continue;
			}
			err = bm25_cur_start(b, &b->seg[s], rec, cu);
			while (!err) {
				u64 ino;
				u32 dl;
				bool live;

				err = bm25_cur_next(b, &b->seg[s], cu);
				if (err || cu->done)
					break;
				err = bm25_doc(b, &b->seg[s], cu->ord, &ino, &dl);
				if (!err)
					err = bm25_live(b, s, ino, &live);
				if (!err && live)
					n++;
				if (fatal_signal_pending(current))
					err = -EINTR;
			}
			if (err)
				return err;
			cond_resched();
		}
		r->q.df[d] = n;
	}
	return 0;
}

/**
 * vexfs_bm25_search - the best @top->k documents of @dir's collection for
 * the analysed @terms, by BM25 (FORMAT.md 8.7)
 * @dir: a directory of the collection; documents below it only
 * @c: its collection
 * @terms: {u8 len (1..64), bytes} records filling @text_len bytes, checked
 * @text_len: bytes of @terms
 * @exclude_ino: a document to leave out, 0 for none
 * @filter: called for each matched document (sleeps allowed); NULL: all pass
 * @fctx: its context
 * @top: capacity top->k >= 1; filled best first (score desc, ino asc)
 * @res: matched documents and terms used
 *
 * Return: 0; -ENODATA (no index), -ESTALE (the index is behind the record
 * or no header slot is valid), -EUCLEAN (damage), -EIO, -ENOMEM, -EINTR;
 * -EOPNOTSUPP off x86-64.
 */
int vexfs_bm25_search(struct inode *dir, const struct vexfs_coll *c,
		      const u8 *terms, u32 text_len, u64 exclude_ino, vexfs_filter_fn filter, void *fctx,
		      struct vexfs_topk *top, struct vexfs_bm25_result *res)
{
#ifdef CONFIG_X86_64
	struct super_block *sb = dir->i_sb;
	struct vexfs_bm25_run *r;
	bool valid;
	u32 s, d;
	int err = 0;

	memset(res, 0, sizeof(*res));
	top->n = 0;
	r = kvzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	r->b = bm25_open(sb, c, &valid);
	if (IS_ERR(r->b)) {
		err = PTR_ERR(r->b);
		r->b = NULL;
		goto out;
	}
	if (!valid || !bm25_fresh(&r->b->h, c)) {
		err = -ESTALE;
		goto out;
	}
	err = bm25_open_segments(r->b);
	if (err)
		goto out;
	bm25_terms(r, terms, text_len, VEXFS_SB(sb)->s_hash_seed);
	res->terms_used = r->q.nterms;
	r->q.doc_count = le64_to_cpu(r->b->h.bh_doc_count);
	r->q.total_tokens = le64_to_cpu(r->b->h.bh_total_tokens);
	r->q.k1 = c->bm25_k1;
	r->q.b = c->bm25_b;
	if (!r->q.doc_count || !r->q.nterms)
		goto out;
	r->batch = kvmalloc_array(VEXFS_BM25_BATCH, sizeof(*r->batch),
				  GFP_KERNEL);
	if (!r->batch) {
		err = -ENOMEM;
		goto out;
	}
	for (d = 0; d < r->q.ndist; d++) {
		r->cur[d].buf = kvmalloc(r->b->bs, GFP_KERNEL);
		if (!r->cur[d].buf) {
			err = -ENOMEM;
			goto out;
		}
		r->cur[d].dist = d;
		for (s = 0; s < r->b->nseg && !err; s++)
			err = bm25_find(r->b, &r->b->seg[s], r->term[d],
					r->term_len[d], r->hash[d],
					&r->rec[s][d]);
		if (err)
			goto out;
	}
	err = bm25_count_df(r);
	if (err)
		goto out;
	kernel_fpu_begin();
	vexfs_bm25_fpu_prepare(&r->q);
	kernel_fpu_end();

	/* Pass 2: document-at-a-time, segment by segment. */
	for (s = 0; s < r->b->nseg && !err; s++) {
		struct vexfs_bm25_seg *sg = &r->b->seg[s];
		struct vexfs_bm25_cur *act[VEXFS_IOC_HYBRID_MAX_TERMS];
		u32 nact = 0, i;

		for (d = 0; d < r->q.ndist && !err; d++) {
			if (!r->rec[s][d].bt_df || !r->q.df[d])
				continue;
			err = bm25_cur_start(r->b, sg, &r->rec[s][d], &r->cur[d]);
			if (!err)
				err = bm25_cur_next(r->b, sg, &r->cur[d]);
			if (!err)
				act[nact++] = &r->cur[d];
		}
		while (!err) {
			struct vexfs_bm25_match *m;
			u32 ord = U32_MAX, maxtf = 0;
			bool any = false, live, pass = true;
			u64 ino;
			u32 dl;

			for (i = 0; i < nact; i++)
				if (!act[i]->done && act[i]->ord < ord) {
					ord = act[i]->ord;
					any = true;
				}
			if (!any)
				break;
			m = &r->batch[r->nbatch];
			memset(m->tf, 0, sizeof(m->tf[0]) * r->q.ndist);
			for (i = 0; i < nact && !err; i++) {
				if (act[i]->done || act[i]->ord != ord)
					continue;
				m->tf[act[i]->dist] = act[i]->tf;
				maxtf = max(maxtf, act[i]->tf);
				err = bm25_cur_next(r->b, sg, act[i]);
			}
			if (!err)
				err = bm25_doc(r->b, sg, ord, &ino, &dl);
			if (err)
				break;
			if (maxtf > dl) {
				bm25_corrupt(r->b, "segment %u: tf %u above dl %u of inode %llu",
					     sg->id, maxtf, dl, ino);
				err = -EUCLEAN;
				break;
			}
			err = bm25_live(r->b, s, ino, &live);
			if (err)
				break;
			if (!live || ino == exclude_ino)
				continue;
			if (filter) {
				err = filter(fctx, ino, &pass);
				if (err)
					break;
			}
			if (!pass)
				continue;
			res->matched++;
			m->ino = ino;
			m->dl = dl;
			if (++r->nbatch == VEXFS_BM25_BATCH) {
				bm25_flush(r, top);
				if (fatal_signal_pending(current))
					err = -EINTR;
				cond_resched();
			}
		}
	}
	if (!err)
		bm25_flush(r, top);
out:
	if (err)
		top->n = 0;
	for (d = 0; d < VEXFS_IOC_HYBRID_MAX_TERMS; d++)
		kvfree(r->cur[d].buf);
	kvfree(r->batch);
	if (r->b)
		bm25_close(r->b);
	kvfree(r);
	return err;
#else
	return -EOPNOTSUPP;
#endif
}
