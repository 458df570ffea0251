/*
 * wasm/hnsw.c: the HNSW index core (Malkov and Yashunin, "Efficient and robust
 * approximate nearest neighbor search using Hierarchical Navigable Small World
 * graphs", IEEE TPAMI 2018), on the records of docs/FORMAT.md §8.6, for
 * WebAssembly with an imported memory.
 *
 * What is here: insertion (paper Alg. 1), search of one layer (Alg. 2), the
 * neighbour-selection heuristic (Alg. 4), k-NN search (Alg. 5), deletion with
 * neighbour repair and node reclaiming, a full repair sweep (consolidate),
 * and a slot move. Everything is single-threaded and allocation-free: the
 * TypeScript wrapper (src/hnsw/graph.ts) allocates every array in the shared
 * memory, writes their addresses into the state block `g` (an array of u32
 * fields, the F_* indices below, mirrored by src/hnsw/_abi.ts) and grows them
 * before an operation that needs room; an operation that would overflow a
 * capacity returns HN_ENOSPC having changed nothing.
 *
 * In-memory layout = on-disk layout. The node region, the upper region and
 * the slot map region are held exactly as FORMAT.md §8.6 lays out their
 * records (little-endian u32 words), so encoding a block is a copy and a CRC:
 *   node record  (4 + M0 words): slot | level,flags,count(u16) | upper | vec_crc | nb[M0]
 *   upper record (4 + M words):  node | level,count,reserved  | next  | 0       | nb[M]
 * Every record change marks its region block dirty (F_*_DIRTY, one byte per
 * block of F_*_PB records) so the wrapper writes only changed blocks.
 *
 * Derived arrays, in memory only: n2s (node -> slot, NONE for a deleted or
 * free node: one load tells the search whether to skip a node, and a small
 * array stays in cache where the 16 + 4*M0 byte records would not), indeg
 * (edges pointing at each node, so a deleted node is reclaimed exactly when
 * no edge names it), visited epoch tags, the list of deleted nodes.
 *
 * Deleted nodes ("tombstones", flag 0x1) are skipped by every traversal: the
 * vector of their slot may already belong to another file, so no distance to
 * them is ever computed. A deletion repairs every node found linking to the
 * deleted one (its neighbours that link back, every upper-level list naming
 * it, and the nodes a search for its vector reaches), as FreshDiskANN's
 * delete consolidation does for in-neighbours: the linker takes some of the
 * deleted node's neighbours (repair_one). The node is freed (id and upper
 * records reclaimed) when no edge names it; else it stays deleted until
 * consolidate() repairs every remaining linker, which insert() runs when it
 * needs an id and enough deleted nodes wait (CONSOLIDATE_AT). An id is never
 * reused while an edge names it.
 *
 * Distances are FORMAT.md §8.6's graph distances, smaller is nearer: squared
 * L2, 1 - dot (ip), 1 - cos with the stored norms (§8.5; 1 when a norm is 0).
 * Kernels: wasm/hnsw_dist.h (simd128, deterministic).
 */
#include "hnsw_dist.h"

typedef unsigned int u32;
typedef int i32;
typedef unsigned long long u64;
typedef unsigned char u8;

#define NONE 0xffffffffu
#define EXPORT(name) __attribute__((export_name(#name)))
#define PTR(T, x) ((T *)(__UINTPTR_TYPE__)(x))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Result codes (negative) of the exported operations. */
#define HN_ENOSPC (-1)  /* a capacity must grow first; nothing changed */
#define HN_EEXIST (-2)  /* the slot is already indexed */
#define HN_ENOENT (-3)  /* the slot is not indexed */
#define HN_EINVAL (-4)  /* bad argument */



#define FLAG_DELETED 1u
#define MAX_LEVEL 31u

/* The state block: u32 fields; addresses are byte offsets in the memory. */
enum {
  F_DIM, F_METRIC, F_ELEM, F_M, F_M0, F_EFC,
  F_NODE_WORDS, F_UPPER_WORDS, F_NODE_PB, F_UPPER_PB, F_SLOT_PB, F_STRIDE,
  F_VEC, F_NORM,
  F_NODES, F_NODE_COUNT, F_NODE_CAP,
  F_UPPERS, F_UPPER_COUNT, F_UPPER_CAP,
  F_SLOTMAP, F_SLOT_CAP,
  F_FREE_NODE, F_FREE_UPPER, F_ENTRY, F_MAX_LEVEL,
  F_DELETED, F_RECLAIMED, F_INSERTS,
  F_N2S, F_INDEG, F_VISITED, F_EPOCH, F_TOMBS, F_TPOS,
  F_HEAP_C, F_HEAP_W, F_HEAP_CAP,
  F_CAND, F_CAND2, F_CAND_CAP,
  F_QBUF, F_EBUF, F_NBUF,
  F_RESULTS, F_RESULT_CAP,
  F_WATCH, F_WATCH_CAP, F_WATCH_COUNT,
  F_NODE_DIRTY, F_UPPER_DIRTY, F_SLOT_DIRTY,
  F_THRESH, F_SEED_LO, F_SEED_HI,
  F_DISTS_LO, F_DISTS_HI, F_HOPS_LO, F_HOPS_HI,
  F_PINNED, F_TODO, F_OLDV, F_EPD, F_UPIN, F_SINK,
  F_NFIELDS
};

enum { METRIC_L2 = 1, METRIC_COSINE = 2, METRIC_IP = 3 };
enum { ELEM_F32 = 1, ELEM_F16 = 2, ELEM_I8 = 3 };

typedef struct {
  float d;
  u32 id;
} pair;

static inline float u2f(u32 u) { return __builtin_bit_cast(float, u); }
static inline u32 f2u(float f) { return __builtin_bit_cast(u32, f); }

/* ------------------------------------------------------------------ records */

static inline u32 *node_rec(const u32 *g, u32 n) { return PTR(u32, g[F_NODES]) + n * g[F_NODE_WORDS]; }
static inline u32 *upper_rec(const u32 *g, u32 u) { return PTR(u32, g[F_UPPERS]) + u * g[F_UPPER_WORDS]; }
static inline u32 *slotmap(const u32 *g) { return PTR(u32, g[F_SLOTMAP]); }
/* node -> slot (NONE for a deleted or free node) and the node's visited tag,
 * interleaved (slot at 2n, tag at 2n + 1): the search reads both for every
 * neighbour, so they share a cache line. F_VISITED names the same array. */
static inline u32 *n2s(const u32 *g) { return PTR(u32, g[F_N2S]); }
static inline u32 *indeg(const u32 *g) { return PTR(u32, g[F_INDEG]); }
/* edges into each node on levels >= 1 (a deleted node named there is not reused: the new node may not reach that level) */
static inline u32 *upin(const u32 *g) { return PTR(u32, g[F_UPIN]); }

static inline u32 node_level(const u32 *r) { return r[1] & 0xff; }
static inline u32 node_flags(const u32 *r) { return (r[1] >> 8) & 0xff; }
static inline u32 node_count(const u32 *r) { return r[1] >> 16; }

static inline void dirty_node(u32 *g, u32 n) { PTR(u8, g[F_NODE_DIRTY])[n / g[F_NODE_PB]] = 1; }
static inline void dirty_upper(u32 *g, u32 u) { PTR(u8, g[F_UPPER_DIRTY])[u / g[F_UPPER_PB]] = 1; }
static inline void dirty_slot(u32 *g, u32 s) { PTR(u8, g[F_SLOT_DIRTY])[s / g[F_SLOT_PB]] = 1; }

static inline void set_slotmap(u32 *g, u32 s, u32 n) {
  slotmap(g)[s] = n;
  dirty_slot(g, s);
}

/* The neighbour list of node n at level l: its words and how to count them. */
typedef struct {
  u32 *rec; /* node record (level 0) or upper record */
  u32 upper; /* NONE for level 0, else the upper record's index */
} lst;

static inline lst get_lst(const u32 *g, u32 n, u32 l) {
  lst r;
  u32 *nr = node_rec(g, n);
  if (l == 0) {
    r.rec = nr;
    r.upper = NONE;
    return r;
  }
  u32 u = nr[2];
  for (u32 i = 1; i < l; i++) u = upper_rec(g, u)[2];
  r.rec = upper_rec(g, u);
  r.upper = u;
  return r;
}
static inline u32 *lst_nb(lst r) { return r.rec + 4; }
static inline u32 lst_count(lst r) { return r.upper == NONE ? r.rec[1] >> 16 : (r.rec[1] >> 8) & 0xff; }
static inline void lst_set_count(u32 *g, u32 n, lst r, u32 c) {
  if (r.upper == NONE) {
    r.rec[1] = (r.rec[1] & 0xffff) | (c << 16);
    dirty_node(g, n);
  } else {
    r.rec[1] = (r.rec[1] & 0xffff00ffu) | (c << 8);
    dirty_upper(g, r.upper);
  }
}
static inline u32 max_links(const u32 *g, u32 l) { return l == 0 ? g[F_M0] : g[F_M]; }

/* ---------------------------------------------------------------- distances */

#define ALWAYS_INLINE __attribute__((always_inline)) inline

/* Distance of the f32 vector q (with qinv = 1/|q|, 0 for a zero vector; only
 * read for cosine) to the stored vector of slot s, for a metric and element
 * type known at compile time where the caller is specialised (see KINDS). */
static ALWAYS_INLINE float dist_mk(const u32 *g, u32 metric, u32 elem, const float *q, float qinv, u32 s) {
  const u32 dim = g[F_DIM];
  const u8 *x = PTR(u8, g[F_VEC]) + (__SIZE_TYPE__)s * g[F_STRIDE];
  float v;
  switch (elem) {
  case ELEM_F32:
    v = metric == METRIC_L2 ? hd_l2_f32(q, (const float *)x, dim) : hd_dot_f32(q, (const float *)x, dim);
    break;
  case ELEM_F16:
    v = metric == METRIC_L2 ? hd_l2_f16(q, (const unsigned short *)x, dim) : hd_dot_f16(q, (const unsigned short *)x, dim);
    break;
  default:
    v = metric == METRIC_L2 ? hd_l2_i8(q, (const signed char *)x, dim) : hd_dot_i8(q, (const signed char *)x, dim);
    break;
  }
  if (metric == METRIC_L2) return v;
  if (metric == METRIC_IP) return 1.0f - v;
  float xn = PTR(float, g[F_NORM])[s];
  if (qinv == 0.0f || xn == 0.0f) return 1.0f;
  return 1.0f - (v * qinv) / xn;
}

/* The same with the metric and type read from the state (not specialised). */
static float dist_slot(const u32 *g, const float *q, float qinv, u32 s) {
  return dist_mk(g, g[F_METRIC], g[F_ELEM], q, qinv, s);
}

/* Calls FN(g, metric, elem, args...) with metric and elem as constants, one
 * specialised copy per combination (the hot loops then have no dispatch). */
#define KINDS(RET, FN, g, ...)                                                   \
  switch (g[F_METRIC] * 4 + g[F_ELEM]) {                                         \
  case METRIC_L2 * 4 + ELEM_F32: { RET FN(g, METRIC_L2, ELEM_F32, __VA_ARGS__); break; }     \
  case METRIC_L2 * 4 + ELEM_F16: { RET FN(g, METRIC_L2, ELEM_F16, __VA_ARGS__); break; }     \
  case METRIC_L2 * 4 + ELEM_I8: { RET FN(g, METRIC_L2, ELEM_I8, __VA_ARGS__); break; }       \
  case METRIC_COSINE * 4 + ELEM_F32: { RET FN(g, METRIC_COSINE, ELEM_F32, __VA_ARGS__); break; } \
  case METRIC_COSINE * 4 + ELEM_F16: { RET FN(g, METRIC_COSINE, ELEM_F16, __VA_ARGS__); break; } \
  case METRIC_COSINE * 4 + ELEM_I8: { RET FN(g, METRIC_COSINE, ELEM_I8, __VA_ARGS__); break; } \
  case METRIC_IP * 4 + ELEM_F32: { RET FN(g, METRIC_IP, ELEM_F32, __VA_ARGS__); break; }     \
  case METRIC_IP * 4 + ELEM_F16: { RET FN(g, METRIC_IP, ELEM_F16, __VA_ARGS__); break; }     \
  default: { RET FN(g, METRIC_IP, ELEM_I8, __VA_ARGS__); }                            \
  }

/* The stored vector of slot s as f32: the store itself for f32, else decoded
 * into buf. */
static ALWAYS_INLINE const float *vec_f32_k(const u32 *g, u32 elem, u32 s, float *buf) {
  const u32 dim = g[F_DIM];
  const u8 *x = PTR(u8, g[F_VEC]) + (__SIZE_TYPE__)s * g[F_STRIDE];
  switch (elem) {
  case ELEM_F32:
    return (const float *)x;
  case ELEM_F16: {
    const unsigned short *h = (const unsigned short *)x;
    for (u32 i = 0; i < dim; i++) buf[i] = hd_h2f1(h[i]);
    return buf;
  }
  default: {
    const signed char *b = (const signed char *)x;
    for (u32 i = 0; i < dim; i++) buf[i] = (float)b[i];
    return buf;
  }
  }
}

static const float *vec_f32(const u32 *g, u32 s, float *buf) { return vec_f32_k(g, g[F_ELEM], s, buf); }

/* 1/|x| of slot s for cosine (stored norm), 0 for a zero vector. */
static inline float slot_inv(const u32 *g, u32 s) {
  if (g[F_METRIC] != METRIC_COSINE) return 0.0f;
  float n = PTR(float, g[F_NORM])[s];
  return n == 0.0f ? 0.0f : 1.0f / n;
}

static inline void count_dists(u32 *g, u32 n) {
  u64 c = ((u64)g[F_DISTS_HI] << 32 | g[F_DISTS_LO]) + n;
  g[F_DISTS_LO] = (u32)c;
  g[F_DISTS_HI] = (u32)(c >> 32);
}
static inline void count_hops(u32 *g, u32 n) {
  u64 c = ((u64)g[F_HOPS_HI] << 32 | g[F_HOPS_LO]) + n;
  g[F_HOPS_LO] = (u32)c;
  g[F_HOPS_HI] = (u32)(c >> 32);
}

/* -------------------------------------------------------------------- heaps */

/* Min-heap on (d, id) for candidates, max-heap for the results W. Ties are
 * broken by id so the order never depends on more than the inputs. */
static inline int pair_lt(pair a, pair b) { return a.d < b.d || (a.d == b.d && a.id < b.id); }

static inline void minheap_push(pair *h, u32 *n, pair v) {
  u32 i = (*n)++;
  while (i > 0) {
    u32 p = (i - 1) >> 1;
    if (!pair_lt(v, h[p])) break;
    h[i] = h[p];
    i = p;
  }
  h[i] = v;
}
static inline pair minheap_pop(pair *h, u32 *n) {
  pair top = h[0];
  pair v = h[--(*n)];
  u32 m = *n, i = 0;
  for (;;) {
    u32 c = 2 * i + 1;
    if (c >= m) break;
    if (c + 1 < m && pair_lt(h[c + 1], h[c])) c++;
    if (!pair_lt(h[c], v)) break;
    h[i] = h[c];
    i = c;
  }
  if (m) h[i] = v;
  return top;
}
static inline void maxheap_push(pair *h, u32 *n, pair v) {
  u32 i = (*n)++;
  while (i > 0) {
    u32 p = (i - 1) >> 1;
    if (!pair_lt(h[p], v)) break;
    h[i] = h[p];
    i = p;
  }
  h[i] = v;
}
static inline pair maxheap_pop(pair *h, u32 *n) {
  pair top = h[0];
  pair v = h[--(*n)];
  u32 m = *n, i = 0;
  for (;;) {
    u32 c = 2 * i + 1;
    if (c >= m) break;
    if (c + 1 < m && pair_lt(h[c], h[c + 1])) c++;
    if (!pair_lt(v, h[c])) break;
    h[i] = h[c];
    i = c;
  }
  if (m) h[i] = v;
  return top;
}

/* Sort a short array ascending by (d, id): insertion sort (lists ≤ ~100). */
static void sort_pairs(pair *a, u32 n) {
  for (u32 i = 1; i < n; i++) {
    pair v = a[i];
    u32 j = i;
    while (j > 0 && pair_lt(v, a[j - 1])) {
      a[j] = a[j - 1];
      j--;
    }
    a[j] = v;
  }
}

/* A fresh visited epoch; tags are cleared when the counter wraps. */
static u32 new_epoch(u32 *g) {
  u32 e = g[F_EPOCH] + 1;
  if (UNLIKELY(e == 0)) {
    u32 *v = PTR(u32, g[F_VISITED]);
    for (u32 i = 0, n = g[F_NODE_CAP]; i < n; i++) v[2 * i + 1] = 0;
    e = 1;
  }
  g[F_EPOCH] = e;
  return e;
}

/* ------------------------------------------------------------------- search */

/* Greedy descent on one upper layer (Alg. 2 with ef = 1, hnswlib's form):
 * move to a nearer neighbour while there is one. */
static ALWAYS_INLINE u32 greedy_mk(u32 *g, u32 metric, u32 elem, const float *q, float qinv, u32 ep, u32 level) {
  const u32 *map = n2s(g);
  float best = u2f(g[F_EPD]);
  u32 dists = 0, changed = 1;
  while (changed) {
    changed = 0;
    lst r = get_lst(g, ep, level);
    u32 c = lst_count(r);
    const u32 *nb = lst_nb(r);
    for (u32 i = 0; i < c; i++) {
      u32 t = nb[i];
      u32 s = map[2 * (t)];
      if (s == NONE) continue;
      float d = dist_mk(g, metric, elem, q, qinv, s);
      dists++;
      if (d < best) {
        best = d;
        ep = t;
        changed = 1;
      }
    }
  }
  count_dists(g, dists);
  g[F_EPD] = f2u(best);
  return ep;
}
static u32 greedy(u32 *g, const float *q, float qinv, u32 ep, u32 level) { KINDS(return, greedy_mk, g, q, qinv, ep, level) }

/* Alg. 2 SEARCH-LAYER from one entry point ep (a live node) at `level`,
 * keeping the ef nearest allowed nodes in the max-heap F_HEAP_W (returns
 * their number). Deleted nodes are skipped. With a filter (a bitmap over
 * slots) nodes outside it are walked through but not kept, and the search
 * goes on until ef of them are found or the reachable graph is exhausted.
 * With watch != NONE, every node reached (expanded or only measured) whose
 * list holds `watch` is recorded in F_WATCH (the linkers a deletion must
 * repair). */
static ALWAYS_INLINE u32 search_layer_mk(u32 *g, u32 metric, u32 elem, const float *q, float qinv, u32 ep, u32 ef, u32 level,
                                          const u8 *filter, u32 watch) {
  pair *C = PTR(pair, g[F_HEAP_C]);
  pair *W = PTR(pair, g[F_HEAP_W]);
  u32 *vis = PTR(u32, g[F_VISITED]);
  const u32 *map = n2s(g);
  u32 *watched = PTR(u32, g[F_WATCH]);
  const u32 watch_cap = g[F_WATCH_CAP];
  u32 nc = 0, nw = 0, dists = 0, hops = 0;
  const u32 tag = new_epoch(g);
  const u8 *vec = PTR(u8, g[F_VEC]);
  const u32 stride = g[F_STRIDE];

  u32 es = map[2 * (ep)];
  float ed = dist_mk(g, metric, elem, q, qinv, es);
  u32 sink = 0;
  dists++;
  vis[2 * (ep) + 1] = tag;
  minheap_push(C, &nc, (pair){ed, ep});
  if (!filter || ((filter[es >> 3] >> (es & 7)) & 1)) maxheap_push(W, &nw, (pair){ed, ep});
  float lower = nw ? W[0].d : __builtin_inff();

  while (nc) {
    pair cur = C[0];
    if (cur.d > lower && nw >= ef) break;
    minheap_pop(C, &nc);
    hops++;
    lst r = get_lst(g, cur.id, level);
    const u32 cnt = lst_count(r);
    const u32 *nb = lst_nb(r);
    /* Gather the unvisited live neighbours first, loading one word of every
     * cache line of their vectors (a stand-in for the prefetch wasm lacks:
     * the misses of all of them overlap instead of coming one line at a time
     * inside each distance; measured on 100K x 128: 0.65x hnswlib's QPS
     * without, 0.87x touching the first line, 0.99x touching all), then
     * measure them. */
    u32 *todo_n = PTR(u32, g[F_TODO]);
    u32 *todo_s = todo_n + 256;
    u32 nt = 0;
    for (u32 i = 0; i < cnt; i++) {
      u32 t = nb[i];
      if (UNLIKELY(t == watch) && watched) {
        u32 wc = g[F_WATCH_COUNT];
        if (wc < watch_cap) watched[wc] = cur.id;
        g[F_WATCH_COUNT] = wc + 1;
      }
      if (vis[2 * (t) + 1] == tag) continue;
      vis[2 * (t) + 1] = tag;
      u32 s = map[2 * (t)];
      if (s == NONE) continue;
      if (UNLIKELY(watch != NONE) && watched) {
        /* a deletion's search: every node it reaches, expanded or not, is
         * checked for an edge to the deleted node */
        lst rt = get_lst(g, t, level);
        const u32 ct = lst_count(rt), *nbt = lst_nb(rt);
        for (u32 j = 0; j < ct; j++) {
          if (nbt[j] == watch) {
            u32 wc = g[F_WATCH_COUNT];
            if (wc < watch_cap) watched[wc] = t;
            g[F_WATCH_COUNT] = wc + 1;
            break;
          }
        }
      }
      todo_n[nt] = t;
      todo_s[nt] = s;
      nt++;
      const u8 *p = vec + (__SIZE_TYPE__)s * stride;
      for (u32 o = 0; o < stride; o += 64) sink += *(const u32 *)(p + o);
    }
    for (u32 i = 0; i < nt; i++) {
      u32 s = todo_s[i];
      float d = dist_mk(g, metric, elem, q, qinv, s);
      if (nw < ef || d < lower) {
        u32 t = todo_n[i];
        minheap_push(C, &nc, (pair){d, t});
        if (!filter || ((filter[s >> 3] >> (s & 7)) & 1)) {
          maxheap_push(W, &nw, (pair){d, t});
          if (nw > ef) maxheap_pop(W, &nw);
          lower = W[0].d;
        }
      }
    }
    dists += nt;
    if (nc && level == 0) { /* the next node to expand: its list, as hnswlib prefetches it */
      const u32 *nr = node_rec(g, C[0].id), w = g[F_NODE_WORDS];
      sink += nr[1] + nr[w > 16 ? 16 : w - 1] + nr[w > 32 ? 32 : w - 1];
    }
  }
  g[F_SINK] += sink;
  count_dists(g, dists);
  count_hops(g, hops);
  return nw;
}
static u32 search_layer(u32 *g, const float *q, float qinv, u32 ep, u32 ef, u32 level, const u8 *filter, u32 watch) {
  KINDS(return, search_layer_mk, g, q, qinv, ep, ef, level, filter, watch)
}

/* Pops the max-heap W (nw entries) into cand ascending. */
static void drain_sorted(pair *W, u32 nw, pair *cand) {
  u32 n = nw;
  while (n) {
    pair p = maxheap_pop(W, &n);
    cand[n] = p;
  }
}

/* ---------------------------------------------------------------- heuristic */

/* Alg. 4 SELECT-NEIGHBORS-HEURISTIC (hnswlib's getNeighborsByHeuristic2):
 * cand[0..n) ascending by distance to the base; keeps, in order, each
 * candidate that is nearer to the base than to every candidate already kept
 * (times alpha: 1 for insertion as the paper; above 1 keeps longer edges, as
 * DiskANN's RobustPrune), up to maxc. The kept ones are moved to the front,
 * the rejected follow; returns the number kept. Candidates are live nodes. */
static ALWAYS_INLINE u32 heuristic_mk(u32 *g, u32 metric, u32 elem, pair *cand, u32 n, u32 maxc, float alpha) {
  if (n < maxc) return n;
  const u32 *map = n2s(g);
  float *ebuf = PTR(float, g[F_EBUF]);
  u32 kept = 0, dists = 0;
  for (u32 i = 0; i < n && kept < maxc; i++) {
    pair e = cand[i];
    int good = 1;
    if (kept) {
      u32 es = map[2 * (e.id)];
      const float *ev = vec_f32_k(g, elem, es, ebuf);
      float einv = slot_inv(g, es);
      for (u32 j = 0; j < kept; j++) {
        float d = dist_mk(g, metric, elem, ev, einv, map[2 * (cand[j].id)]);
        dists++;
        if (d * alpha < e.d) {
          good = 0;
          break;
        }
      }
    }
    if (good) {
      cand[i] = cand[kept]; /* the rejected stay behind the kept ones */
      cand[kept++] = e;
    }
  }
  count_dists(g, dists);
  return kept;
}
static u32 heuristic_a(u32 *g, pair *cand, u32 n, u32 maxc, float alpha) {
  KINDS(return, heuristic_mk, g, cand, n, maxc, alpha)
}

/* alpha of a repair's heuristic (FreshDiskANN uses 1.2 for its delete
 * consolidation). Measured on 4,000 clustered 32-d vectors with 30% deleted
 * (see bench/hnsw_core.ts --deletes for the same on real data): recall@10
 * at ef 64 after the deletions was 0.88 re-selecting with alpha 1 and no
 * fill, 0.99 with 1.2 and fill, 0.98 with repair_one below (half the
 * distances), 0.95 for a rebuild of the remaining vectors. */
#define REPAIR_ALPHA 1.2f

/* The heuristic with REPAIR_ALPHA, then, if it kept fewer than maxc, the
 * nearest of the rejected up to maxc (hnswlib's keepPrunedConnections): used
 * where a list is rebuilt from a deleted node's neighbourhood, whose
 * candidates are few, so that repeated repairs do not wear the degree down. */
static u32 heuristic_fill(u32 *g, pair *cand, u32 n, u32 maxc) {
  u32 kept = heuristic_a(g, cand, n, maxc, REPAIR_ALPHA);
  if (kept < maxc && kept < n) {
    sort_pairs(cand + kept, n - kept);
    kept = n < maxc ? n : maxc;
  }
  return kept;
}

/* The paper's heuristic (alpha 1), for insertion. */
static u32 heuristic(u32 *g, pair *cand, u32 n, u32 maxc) { return heuristic_a(g, cand, n, maxc, 1.0f); }
/* ------------------------------------------------------- node bookkeeping */

static void node_free(u32 *g, u32 n, int cascade);

static inline int is_tomb(const u32 *g, u32 n) { return node_flags(node_rec(g, n)) & FLAG_DELETED; }

static void tomb_add(u32 *g, u32 n) {
  u32 *tombs = PTR(u32, g[F_TOMBS]);
  u32 i = g[F_DELETED]++;
  tombs[i] = n;
  PTR(u32, g[F_TPOS])[n] = i;
}
static void tomb_del(u32 *g, u32 n) {
  u32 *tombs = PTR(u32, g[F_TOMBS]);
  u32 *tpos = PTR(u32, g[F_TPOS]);
  u32 i = tpos[n], last = --g[F_DELETED];
  u32 m = tombs[last];
  tombs[i] = m;
  tpos[m] = i;
}

/* One edge into t is gone: a deleted node nothing names any more is freed. */
static inline void edge_dropped(u32 *g, u32 t, int cascade) {
  u32 *in = indeg(g);
  in[t]--;
  if (cascade && in[t] == 0 && t != g[F_PINNED] && is_tomb(g, t)) node_free(g, t, 1);
}

/* Drops every out-edge of n (all levels) and frees its upper records. */
static void release_links(u32 *g, u32 n, int cascade) {
  u32 *nr = node_rec(g, n);
  u32 level = node_level(nr);
  /* level 0 */
  u32 c = node_count(nr);
  for (u32 i = 0; i < c; i++) {
    u32 t = nr[4 + i];
    nr[4 + i] = 0;
    edge_dropped(g, t, cascade);
    nr = node_rec(g, n);
  }
  nr[1] &= 0xffff;
  u32 u = nr[2];
  for (u32 l = 1; l <= level && u != NONE; l++) {
    u32 *ur = upper_rec(g, u);
    u32 uc = (ur[1] >> 8) & 0xff;
    for (u32 i = 0; i < uc; i++) {
      u32 t = ur[4 + i];
      ur[4 + i] = 0;
      upin(g)[t]--;
      edge_dropped(g, t, cascade);
    }
    u32 next = ur[2];
    for (u32 i = 0, w = g[F_UPPER_WORDS]; i < w; i++) ur[i] = 0;
    ur[0] = NONE;
    ur[2] = g[F_FREE_UPPER];
    g[F_FREE_UPPER] = u;
    dirty_upper(g, u);
    u = next;
  }
  nr = node_rec(g, n);
  nr[2] = NONE;
  nr[1] &= 0xff00u; /* level 0, count 0; flags kept */
  dirty_node(g, n);
}

/* Frees node n (no edge may name it, unless the caller frees every deleted
 * node at once): its links and upper records go, its record is zeroed and
 * chained on the free list. */
static void node_free(u32 *g, u32 n, int cascade) {
  release_links(g, n, cascade);
  u32 *nr = node_rec(g, n);
  for (u32 i = 0, w = g[F_NODE_WORDS]; i < w; i++) nr[i] = 0;
  nr[0] = NONE;
  nr[2] = g[F_FREE_NODE];
  g[F_FREE_NODE] = n;
  n2s(g)[2 * (n)] = NONE;
  indeg(g)[n] = 0;
  upin(g)[n] = 0;
  tomb_del(g, n);
  g[F_RECLAIMED]++;
  dirty_node(g, n);
}

/* The node id a new insertion takes: a free one, else a new one; NONE
 * (nothing changed) without room. A deleted node is never reused while an
 * edge names it (unlike hnswlib's replace_deleted, whose remaining edges then
 * lead to an unrelated node): insert() consolidates first when enough of them
 * wait (see CONSOLIDATE_AT). */
static u32 take_node(u32 *g) {
  u32 n = g[F_FREE_NODE];
  if (n != NONE) {
    g[F_FREE_NODE] = node_rec(g, n)[2];
    return n;
  }
  if (g[F_NODE_COUNT] < g[F_NODE_CAP]) return g[F_NODE_COUNT]++;
  return NONE;
}

static i32 consolidate(u32 *g);

/* Deleted nodes still named (waiting for a consolidation) worth one before a
 * new node id is taken: 16, and at least 1/64 of the nodes, so the node
 * region grows by at most that much and the O(nodes * M0) sweep is paid
 * once per that many deletions. */
#define CONSOLIDATE_AT(g) ((g)[F_DELETED] >= 16 && (g)[F_DELETED] * 64 >= (g)[F_NODE_COUNT])

static u32 take_upper(u32 *g) {
  u32 u = g[F_FREE_UPPER];
  if (u != NONE) {
    g[F_FREE_UPPER] = upper_rec(g, u)[2];
    return u;
  }
  return g[F_UPPER_COUNT]++;
}

/* Free upper records available without growing. */
static u32 uppers_free(const u32 *g) {
  u32 n = g[F_UPPER_CAP] - g[F_UPPER_COUNT];
  for (u32 u = g[F_FREE_UPPER]; u != NONE && n < MAX_LEVEL; u = upper_rec(g, u)[2]) n++;
  return n;
}

/* Sets n's list at level l to the ids of cand[0..k), adjusting in-degrees
 * (drops first, then adds, then frees deleted nodes nothing names). */
static void write_list(u32 *g, u32 n, u32 l, const pair *cand, u32 k) {
  lst r = get_lst(g, n, l);
  u32 *nb = lst_nb(r);
  u32 old = lst_count(r);
  u32 *in = indeg(g);
  for (u32 i = 0; i < old; i++) in[nb[i]]--;
  for (u32 i = 0; i < k; i++) in[cand[i].id]++;
  if (l) {
    u32 *up = upin(g);
    for (u32 i = 0; i < old; i++) up[nb[i]]--;
    for (u32 i = 0; i < k; i++) up[cand[i].id]++;
  }
  /* freed after the new list is in place (node_free may rewrite records) */
  u32 *oldv = PTR(u32, g[F_OLDV]);
  for (u32 i = 0; i < old; i++) oldv[i] = nb[i];
  for (u32 i = 0; i < k; i++) nb[i] = cand[i].id;
  for (u32 i = k; i < old; i++) nb[i] = 0;
  lst_set_count(g, n, r, k);
  for (u32 i = 0; i < old; i++) {
    u32 t = oldv[i];
    if (in[t] == 0 && t != g[F_PINNED] && is_tomb(g, t)) node_free(g, t, 1);
  }
}

/* ------------------------------------------------------------------- levels */

static inline u64 splitmix64(u64 x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* The level of the insertion numbered `ctr` (paper §4.1: floor(-ln(u) * mL),
 * u uniform in (0, 1]): the number of L ≥ 1 with u ≤ exp(-L / mL), the
 * thresholds F_THRESH[L] the wrapper computes from mL; capped at 31. */
static u32 random_level(const u32 *g, u64 ctr) {
  u64 seed = (u64)g[F_SEED_HI] << 32 | g[F_SEED_LO];
  u64 x = splitmix64(seed ^ splitmix64(ctr));
  double u = (double)((x >> 11) + 1) * 0x1p-53;
  const double *thr = PTR(double, g[F_THRESH]);
  u32 l = 0;
  while (l < MAX_LEVEL && u <= thr[l + 1]) l++;
  return l;
}

/* --------------------------------------------------------------- insertion */

/* Adds the backlink n -> x at level l (x at distance dx from n), pruning n's
 * list by the heuristic when it is full (hnswlib's mutuallyConnectNewElement). */
static ALWAYS_INLINE void backlink_mk(u32 *g, u32 metric, u32 elem, u32 n, u32 x, float dx, u32 l) {
  lst r = get_lst(g, n, l);
  u32 *nb = lst_nb(r);
  u32 c = lst_count(r);
  for (u32 i = 0; i < c; i++)
    if (nb[i] == x) return; /* a reused id can still be named */
  u32 maxc = max_links(g, l);
  if (c < maxc) {
    nb[c] = x;
    indeg(g)[x]++;
    if (l) upin(g)[x]++;
    lst_set_count(g, n, r, c + 1);
    return;
  }
  pair *cand = PTR(pair, g[F_CAND2]);
  const u32 *map = n2s(g);
  u32 ns = map[2 * (n)];
  float *nbuf = PTR(float, g[F_NBUF]);
  const float *nv = vec_f32_k(g, elem, ns, nbuf);
  float ninv = slot_inv(g, ns);
  u32 k = 0;
  for (u32 i = 0; i < c; i++) {
    u32 t = nb[i];
    u32 s = map[2 * (t)];
    if (s == NONE) continue; /* a deleted neighbour is dropped here */
    cand[k++] = (pair){dist_mk(g, metric, elem, nv, ninv, s), t};
  }
  count_dists(g, k);
  cand[k++] = (pair){dx, x};
  sort_pairs(cand, k);
  k = heuristic_mk(g, metric, elem, cand, k, maxc, 1.0f);
  write_list(g, n, l, cand, k);
}
static void backlink(u32 *g, u32 n, u32 x, float dx, u32 l) { KINDS(, backlink_mk, g, n, x, dx, l) }

/* Connects node x (vector q) at level l to the selected cand[0..k) and them
 * back to it. */
static void connect(u32 *g, u32 x, u32 l, const pair *cand, u32 k) {
  lst r = get_lst(g, x, l);
  u32 *nb = lst_nb(r);
  u32 *in = indeg(g);
  for (u32 i = 0; i < k; i++) {
    nb[i] = cand[i].id;
    in[cand[i].id]++;
    if (l) upin(g)[cand[i].id]++;
  }
  lst_set_count(g, x, r, k);
  for (u32 i = 0; i < k; i++) backlink(g, cand[i].id, x, cand[i].d, l);
}

/* Alg. 1 INSERT of slot s with the given vec_crc; ctr numbers the insertion
 * for the level generator. Returns the node id, or HN_*. */
static i32 insert(u32 *g, u32 s, u32 crc, u64 ctr) {
  if (s >= g[F_SLOT_CAP]) return HN_EINVAL;
  if (slotmap(g)[s] != NONE) return HN_EEXIST;
  u32 level = random_level(g, ctr);
  if (uppers_free(g) < level) return HN_ENOSPC;
  if (g[F_FREE_NODE] == NONE && CONSOLIDATE_AT(g)) consolidate(g);
  u32 x = take_node(g);
  if (x == NONE) return HN_ENOSPC;

  /* the record: slot, level, no links; upper records for levels 1..level */
  u32 *xr = node_rec(g, x);
  for (u32 i = 0, w = g[F_NODE_WORDS]; i < w; i++) xr[i] = 0;
  xr[0] = s;
  xr[1] = level;
  xr[2] = NONE;
  xr[3] = crc;
  u32 prev = NONE;
  for (u32 l = 1; l <= level; l++) {
    u32 u = take_upper(g);
    u32 *ur = upper_rec(g, u);
    for (u32 i = 0, w = g[F_UPPER_WORDS]; i < w; i++) ur[i] = 0;
    ur[0] = x;
    ur[1] = l;
    ur[2] = NONE;
    if (prev == NONE) node_rec(g, x)[2] = u;
    else {
      upper_rec(g, prev)[2] = u;
      dirty_upper(g, prev);
    }
    dirty_upper(g, u);
    prev = u;
  }
  dirty_node(g, x);
  set_slotmap(g, s, x);
  g[F_INSERTS]++;

  float *q = PTR(float, g[F_QBUF]);
  {
    const float *v = vec_f32(g, s, q);
    if (v != q)
      for (u32 i = 0, d = g[F_DIM]; i < d; i++) q[i] = v[i];
  }
  float qinv = slot_inv(g, s);
  /* x's slot is known from here on (the backlink heuristic measures it); no
   * search reaches x before it is linked, level by level, below. */
  n2s(g)[2 * (x)] = s;

  u32 ep = g[F_ENTRY];
  if (ep == NONE) {
    g[F_ENTRY] = x;
    g[F_MAX_LEVEL] = level;
    return (i32)x;
  }
  u32 maxl = g[F_MAX_LEVEL];
  g[F_EPD] = f2u(dist_slot(g, q, qinv, n2s(g)[2 * (ep)]));
  count_dists(g, 1);
  for (u32 l = maxl; l > level; l--) ep = greedy(g, q, qinv, ep, l);
  pair *cand = PTR(pair, g[F_CAND]);
  for (u32 l = level < maxl ? level : maxl;; l--) {
    u32 nw = search_layer(g, q, qinv, ep, g[F_EFC], l, 0, NONE);
    drain_sorted(PTR(pair, g[F_HEAP_W]), nw, cand);
    if (nw) ep = cand[0].id;
    u32 k = heuristic(g, cand, nw, g[F_M]);
    connect(g, x, l, cand, k);
    if (l == 0) break;
  }
  if (level > maxl) {
    g[F_ENTRY] = x;
    g[F_MAX_LEVEL] = level;
  }
  return (i32)x;
}

/* ----------------------------------------------------------------- deletion */

/* A new entry point when the entry is deleted: a live neighbour on the top
 * level, else the live node of highest level (lowest id among equals). */
static void choose_entry(u32 *g) {
  u32 old = g[F_ENTRY], top = g[F_MAX_LEVEL];
  const u32 *map = n2s(g);
  lst r = get_lst(g, old, top);
  u32 c = lst_count(r);
  const u32 *nb = lst_nb(r);
  for (u32 i = 0; i < c; i++) {
    if (map[2 * (nb[i])] != NONE && nb[i] != old) {
      g[F_ENTRY] = nb[i];
      return;
    }
  }
  u32 best = NONE, bl = 0;
  for (u32 n = 0, cnt = g[F_NODE_COUNT]; n < cnt; n++) {
    if (map[2 * (n)] == NONE || n == old) continue;
    u32 l = node_level(node_rec(g, n));
    if (best == NONE || l > bl) {
      best = n;
      bl = l;
    }
  }
  g[F_ENTRY] = best;
  g[F_MAX_LEVEL] = best == NONE ? 0 : bl;
}

/* One deleted neighbour d of live node n at level l: n keeps its other live
 * neighbours (a heuristic chose them) and takes, nearest first, those of d's
 * live neighbours that pass the repair heuristic against its list (alpha
 * REPAIR_ALPHA), up to the list's maximum; if none passes, the nearest one
 * takes d's place. About a fifth of the distances of re-selecting the whole
 * union. */
static void repair_one(u32 *g, u32 n, u32 l, u32 d) {
  const u32 *map = n2s(g);
  const u32 ns = map[2 * n];
  pair *cand = PTR(pair, g[F_CAND2]);
  u32 *vis = PTR(u32, g[F_VISITED]);
  const u32 tag = new_epoch(g);
  float *nbuf = PTR(float, g[F_NBUF]), *ebuf = PTR(float, g[F_EBUF]);
  const float *nv = vec_f32(g, ns, nbuf);
  const float ninv = slot_inv(g, ns);
  const u32 maxc = max_links(g, l);
  lst r = get_lst(g, n, l);
  u32 c = lst_count(r);
  const u32 *nb = lst_nb(r);
  /* cand[0..k): the kept list (distance unused, 0); then the new candidates */
  u32 k = 0;
  vis[2 * n + 1] = tag;
  for (u32 i = 0; i < c; i++) {
    u32 t = nb[i];
    vis[2 * t + 1] = tag;
    if (map[2 * t] != NONE) cand[k++] = (pair){0, t};
  }
  const u32 kept0 = k;
  u32 m = k;
  lst rd = get_lst(g, d, l);
  u32 cd = lst_count(rd);
  const u32 *nbd = lst_nb(rd);
  for (u32 j = 0; j < cd; j++) {
    u32 v = nbd[j];
    if (vis[2 * v + 1] == tag || map[2 * v] == NONE) continue;
    vis[2 * v + 1] = tag;
    cand[m++] = (pair){dist_slot(g, nv, ninv, map[2 * v]), v};
  }
  u32 dists = m - kept0;
  sort_pairs(cand + kept0, m - kept0);
  u32 first_new = kept0;
  for (u32 i = kept0; i < m && k < maxc; i++) {
    pair e = cand[i];
    u32 es = map[2 * e.id];
    const float *ev = vec_f32(g, es, ebuf);
    const float einv = slot_inv(g, es);
    int good = 1;
    for (u32 j = 0; j < k; j++) {
      dists++;
      if (dist_slot(g, ev, einv, map[2 * cand[j].id]) * REPAIR_ALPHA < e.d) {
        good = 0;
        break;
      }
    }
    if (good) {
      cand[i] = cand[k];
      cand[k++] = e;
    }
  }
  if (k == kept0 && m > kept0 && k < maxc) {
    /* none passed: the nearest takes d's place (cand[first_new] is the nearest: nothing moved) */
    cand[k++] = cand[first_new];
  }
  count_dists(g, dists);
  write_list(g, n, l, cand, k);
}

/* Re-selects n's list at level l without the deleted nodes in it: the
 * candidates are its live neighbours and the live neighbours of its deleted
 * ones (all of them, or only `d` when d != NONE), by the heuristic. */
static void repair(u32 *g, u32 n, u32 l, u32 d) {
  const u32 *map = n2s(g);
  u32 ns = map[2 * (n)];
  lst r = get_lst(g, n, l);
  u32 c = lst_count(r);
  const u32 *nb = lst_nb(r);
  if (ns == NONE) {
    /* a deleted linker: just drop the edges to d (it is never traversed) */
    pair *cand = PTR(pair, g[F_CAND2]);
    u32 k = 0;
    for (u32 i = 0; i < c; i++)
      if (nb[i] != d) cand[k++] = (pair){0, nb[i]};
    if (k != c) write_list(g, n, l, cand, k);
    return;
  }
  u32 found = 0;
  for (u32 i = 0; i < c; i++)
    if (d == NONE ? map[2 * (nb[i])] == NONE : nb[i] == d) found = 1;
  if (!found) return;
  if (d != NONE) {
    repair_one(g, n, l, d);
    return;
  }
  pair *cand = PTR(pair, g[F_CAND2]);
  const u32 cap = g[F_CAND_CAP];
  u32 *vis = PTR(u32, g[F_VISITED]);
  u32 tag = new_epoch(g);
  float *nbuf = PTR(float, g[F_NBUF]);
  const float *nv = vec_f32(g, ns, nbuf);
  float ninv = slot_inv(g, ns);
  u32 k = 0;
  vis[2 * (n) + 1] = tag;
  for (u32 i = 0; i < c; i++) {
    u32 t = nb[i];
    if (vis[2 * (t) + 1] == tag) continue;
    vis[2 * (t) + 1] = tag;
    if (map[2 * (t)] != NONE) {
      if (k < cap) cand[k++] = (pair){dist_slot(g, nv, ninv, map[2 * (t)]), t};
      continue;
    }
    if (d != NONE && t != d) continue;
    lst rt = get_lst(g, t, l);
    u32 ct = lst_count(rt);
    const u32 *nbt = lst_nb(rt);
    for (u32 j = 0; j < ct; j++) {
      u32 v = nbt[j];
      if (vis[2 * (v) + 1] == tag || map[2 * (v)] == NONE) continue;
      vis[2 * (v) + 1] = tag;
      if (k < cap) cand[k++] = (pair){dist_slot(g, nv, ninv, map[2 * (v)]), v};
    }
  }
  count_dists(g, k);
  sort_pairs(cand, k);
  k = heuristic_fill(g, cand, k, max_links(g, l));
  write_list(g, n, l, cand, k);
}

/* Re-selects n's list at level l from its live neighbours and theirs (two
 * hops), by the repair heuristic: for a node that lost edges without a
 * deleted node to take candidates from (its neighbours were dropped from a
 * damaged file). */
static void refill(u32 *g, u32 n, u32 l) {
  const u32 *map = n2s(g);
  u32 ns = map[2 * (n)];
  if (ns == NONE) return;
  pair *cand = PTR(pair, g[F_CAND2]);
  const u32 cap = g[F_CAND_CAP];
  u32 *vis = PTR(u32, g[F_VISITED]);
  u32 tag = new_epoch(g);
  float *nbuf = PTR(float, g[F_NBUF]);
  const float *nv = vec_f32(g, ns, nbuf);
  float ninv = slot_inv(g, ns);
  lst r = get_lst(g, n, l);
  u32 c = lst_count(r);
  const u32 *nb = lst_nb(r);
  u32 k = 0;
  vis[2 * (n) + 1] = tag;
  for (u32 i = 0; i < c; i++) {
    u32 t = nb[i];
    if (map[2 * (t)] == NONE || vis[2 * (t) + 1] == tag) continue;
    vis[2 * (t) + 1] = tag;
    if (k < cap) cand[k++] = (pair){dist_slot(g, nv, ninv, map[2 * (t)]), t};
  }
  u32 first = k;
  for (u32 i = 0; i < first; i++) {
    lst rt = get_lst(g, cand[i].id, l);
    u32 ct = lst_count(rt);
    const u32 *nbt = lst_nb(rt);
    for (u32 j = 0; j < ct; j++) {
      u32 v = nbt[j];
      if (vis[2 * (v) + 1] == tag || map[2 * (v)] == NONE) continue;
      vis[2 * (v) + 1] = tag;
      if (k < cap) cand[k++] = (pair){dist_slot(g, nv, ninv, map[2 * (v)]), v};
    }
  }
  count_dists(g, k);
  sort_pairs(cand, k);
  k = heuristic_fill(g, cand, k, max_links(g, l));
  write_list(g, n, l, cand, k);
}

/* Repairs every upper-level list still naming d (d's in-edges above level 0
 * that its neighbours and the search did not reveal): the upper records are
 * few (about nodes / (M - 1)), so a scan of them is cheap, and afterwards no
 * edge names d above level 0, so its id can be reused by a node of any level. */
static void sweep_upper(u32 *g, u32 d) {
  u32 *up = upin(g);
  for (u32 u = 0, uc = g[F_UPPER_COUNT]; u < uc && up[d]; u++) {
    u32 *ur = upper_rec(g, u);
    if (ur[0] == NONE || ur[0] == d) continue;
    u32 c = (ur[1] >> 8) & 0xff;
    for (u32 i = 0; i < c; i++) {
      if (ur[4 + i] == d) {
        repair(g, ur[0], ur[1] & 0xff, d);
        break;
      }
    }
  }
}

/* Deletes the node of slot s. With search != 0 the slot's vector must still be
 * the deleted one: a search for it finds the nodes linking to the deleted node
 * beyond its own neighbours. */
static i32 remove_slot(u32 *g, u32 s, u32 search) {
  if (s >= g[F_SLOT_CAP]) return HN_EINVAL;
  u32 d = slotmap(g)[s];
  if (d == NONE) return HN_ENOENT;
  set_slotmap(g, s, NONE);
  u32 *dr = node_rec(g, d);
  dr[1] |= FLAG_DELETED << 8;
  dirty_node(g, d);
  n2s(g)[2 * (d)] = NONE;
  tomb_add(g, d);
  g[F_PINNED] = d;
  if (g[F_ENTRY] == d) choose_entry(g);
  u32 level = node_level(dr);

  /* its neighbours that link back */
  u32 *in = indeg(g);
  for (u32 l = 0; l <= level && in[d]; l++) {
    lst r = get_lst(g, d, l);
    u32 c = lst_count(r);
    for (u32 i = 0; i < c && in[d]; i++) repair(g, lst_nb(get_lst(g, d, l))[i], l, d);
  }
  /* the other linkers, found by a search for its vector */
  if (search && in[d] && g[F_ENTRY] != NONE) {
    float *q = PTR(float, g[F_QBUF]);
    const float *v = vec_f32(g, s, q);
    if (v != q)
      for (u32 i = 0, n = g[F_DIM]; i < n; i++) q[i] = v[i];
    float qinv = slot_inv(g, s);
    u32 ep = g[F_ENTRY];
    u32 maxl = g[F_MAX_LEVEL];
    g[F_EPD] = f2u(dist_slot(g, q, qinv, n2s(g)[2 * (ep)]));
    for (u32 l = maxl; l > level; l--) ep = greedy(g, q, qinv, ep, l);
    u32 *watched = PTR(u32, g[F_WATCH]);
    pair *cand = PTR(pair, g[F_CAND]);
    for (u32 l = level < maxl ? level : maxl;; l--) {
      g[F_WATCH_COUNT] = 0;
      u32 nw = search_layer(g, q, qinv, ep, g[F_EFC], l, 0, d);
      drain_sorted(PTR(pair, g[F_HEAP_W]), nw, cand);
      if (nw) ep = cand[0].id;
      u32 wc = g[F_WATCH_COUNT];
      if (wc > g[F_WATCH_CAP]) wc = g[F_WATCH_CAP];
      for (u32 i = 0; i < wc && in[d]; i++) repair(g, watched[i], l, d);
      if (l == 0 || !in[d]) break;
    }
  }
  if (upin(g)[d]) sweep_upper(g, d);
  g[F_PINNED] = NONE;
  if (in[d] == 0) node_free(g, d, 1);
  return 0;
}

/* ---------------------------------------------------------------- exports */

/** Number of u32 fields of the state block (the wrapper checks its mirror). */
EXPORT(hn_nfields) u32 hn_nfields(void) { return F_NFIELDS; }

/** Inserts slot s (its vector at F_VEC + s * stride, its norm at F_NORM[s]);
 * ctr_hi:ctr_lo numbers the insertion for the level generator. Returns the
 * node id or HN_ENOSPC / HN_EEXIST / HN_EINVAL. */
EXPORT(hn_insert) i32 hn_insert(u32 *g, u32 s, u32 crc, u32 ctr_lo, u32 ctr_hi) {
  return insert(g, s, crc, (u64)ctr_hi << 32 | ctr_lo);
}

/** Inserts slots[i] (with crcs[i], level counter i) for i = start .. n-1;
 * returns the index it stopped at (n when done; earlier with HN_ENOSPC, the
 * caller grows and calls again from there), or a negative HN_* code minus
 * the index when an insertion fails otherwise: -(index + 1) * 8 + code. */
EXPORT(hn_build) i32 hn_build(u32 *g, const u32 *slots, const u32 *crcs, u32 n, u32 start) {
  for (u32 i = start; i < n; i++) {
    i32 r = insert(g, slots[i], crcs[i], (u64)i);
    if (r == HN_ENOSPC) return (i32)i;
    if (r < 0) return -(i32)(i + 1) * 8 + r;
  }
  return (i32)n;
}

/** Deletes the node of slot s (see remove_slot); 0 or HN_ENOENT / HN_EINVAL. */
EXPORT(hn_remove) i32 hn_remove(u32 *g, u32 s, u32 search) { return remove_slot(g, s, search); }

/** Marks node n deleted without a slot (catch-up of FORMAT.md §8.6: its slot
 * no longer names it), repairs its neighbours that link back, frees it when
 * nothing names it. */
EXPORT(hn_remove_node) i32 hn_remove_node(u32 *g, u32 n) {
  if (n >= g[F_NODE_COUNT]) return HN_EINVAL;
  u32 *nr = node_rec(g, n);
  if (nr[0] == NONE && !(node_flags(nr) & FLAG_DELETED)) return HN_ENOENT; /* free */
  if (node_flags(nr) & FLAG_DELETED) return 0;
  u32 s = nr[0];
  if (s < g[F_SLOT_CAP] && slotmap(g)[s] == n) set_slotmap(g, s, NONE);
  nr[1] |= FLAG_DELETED << 8;
  dirty_node(g, n);
  n2s(g)[2 * (n)] = NONE;
  tomb_add(g, n);
  g[F_PINNED] = n;
  if (g[F_ENTRY] == n) choose_entry(g);
  u32 level = node_level(nr);
  u32 *in = indeg(g);
  for (u32 l = 0; l <= level && in[n]; l++) {
    u32 c = lst_count(get_lst(g, n, l));
    for (u32 i = 0; i < c && in[n]; i++) repair(g, lst_nb(get_lst(g, n, l))[i], l, n);
  }
  if (upin(g)[n]) sweep_upper(g, n);
  g[F_PINNED] = NONE;
  if (in[n] == 0) node_free(g, n, 1);
  return 0;
}

/** The swap-remove of FORMAT.md §8.4: the node of slot `from` now names slot
 * `to` (which must be unindexed); no edge changes. 0, HN_EEXIST, HN_EINVAL. */
EXPORT(hn_move_slot) i32 hn_move_slot(u32 *g, u32 from, u32 to) {
  if (from >= g[F_SLOT_CAP] || to >= g[F_SLOT_CAP]) return HN_EINVAL;
  if (from == to) return 0;
  u32 *sm = slotmap(g);
  if (sm[to] != NONE) return HN_EEXIST;
  u32 n = sm[from];
  set_slotmap(g, from, NONE);
  set_slotmap(g, to, n);
  if (n != NONE) {
    node_rec(g, n)[0] = to;
    dirty_node(g, n);
    if (n2s(g)[2 * (n)] != NONE) n2s(g)[2 * (n)] = to;
  }
  return 0;
}

/** k-NN search (Alg. 5) for the f32 query in F_QBUF: greedy descent on the
 * upper levels, then SEARCH-LAYER on level 0 with max(ef, k). With filter != 0
 * (a bitmap over slots) only slots whose bit is set are returned. Writes up to
 * k (slot, distance) pairs ascending to F_RESULTS; returns their number. */
EXPORT(hn_search) i32 hn_search(u32 *g, u32 k, u32 ef, u32 filter) {
  u32 ep = g[F_ENTRY];
  if (ep == NONE || k == 0) return 0;
  if (k > g[F_RESULT_CAP]) return HN_EINVAL;
  if (ef < k) ef = k;
  if (ef > g[F_HEAP_CAP] - 1) ef = g[F_HEAP_CAP] - 1;
  const float *q = PTR(float, g[F_QBUF]);
  float qinv = 0;
  if (g[F_METRIC] == METRIC_COSINE) {
    float n2 = hd_dot_f32(q, q, g[F_DIM]);
    qinv = n2 > 0 ? 1.0f / __builtin_sqrtf(n2) : 0.0f;
  }
  g[F_EPD] = f2u(dist_slot(g, q, qinv, n2s(g)[2 * (ep)]));
  count_dists(g, 1);
  for (u32 l = g[F_MAX_LEVEL]; l > 0; l--) ep = greedy(g, q, qinv, ep, l);
  u32 nw = search_layer(g, q, qinv, ep, ef, 0, filter ? PTR(u8, filter) : 0, NONE);
  pair *W = PTR(pair, g[F_HEAP_W]);
  while (nw > k) maxheap_pop(W, &nw);
  pair *out = PTR(pair, g[F_RESULTS]);
  const u32 *map = n2s(g);
  u32 n = nw;
  while (n) {
    pair p = maxheap_pop(W, &n);
    out[n] = (pair){p.d, map[2 * (p.id)]};
  }
  return (i32)nw;
}

/** Repairs every live node's lists that name deleted nodes (candidates: its
 * live neighbours and those of its deleted ones), then frees every deleted
 * node (FreshDiskANN's delete consolidation). Returns the nodes freed. */
EXPORT(hn_consolidate) i32 hn_consolidate(u32 *g) { return consolidate(g); }

static i32 consolidate(u32 *g) {
  if (!g[F_DELETED]) return 0;
  const u32 *map = n2s(g);
  u32 before = g[F_DELETED];
  g[F_PINNED] = NONE;
  /* pin every deleted node: none is freed while lists are rebuilt */
  u32 *in = indeg(g);
  u32 *tombs = PTR(u32, g[F_TOMBS]);
  for (u32 i = 0; i < before; i++) in[tombs[i]] += 1u << 30;
  for (u32 n = 0, cnt = g[F_NODE_COUNT]; n < cnt; n++) {
    if (map[2 * (n)] == NONE) continue;
    u32 level = node_level(node_rec(g, n));
    for (u32 l = 0; l <= level; l++) repair(g, n, l, NONE);
  }
  for (u32 i = 0; i < before; i++) in[tombs[i]] -= 1u << 30;
  /* Drop every deleted node's out-edges before freeing any of them: a node
   * freed first has its in-degree zeroed, and a later one still naming it
   * would then count it below zero (a reused id would be freed while named). */
  for (u32 i = 0; i < before; i++) release_links(g, tombs[i], 0);
  while (g[F_DELETED]) node_free(g, tombs[g[F_DELETED] - 1], 0);
  return (i32)before;
}

/** Recomputes the derived arrays from the records (after loading a graph):
 * n2s, in-degrees, the deleted list. Records are trusted (the wrapper checks
 * them first). */
EXPORT(hn_derive) void hn_derive(u32 *g) {
  u32 cnt = g[F_NODE_COUNT];
  u32 *map = n2s(g);
  u32 *in = indeg(g);
  u32 *up = upin(g);
  g[F_DELETED] = 0;
  for (u32 n = 0; n < g[F_NODE_CAP]; n++) {
    map[2 * (n)] = NONE;
    map[2 * (n) + 1] = 0;
    in[n] = 0;
    up[n] = 0;
  }
  for (u32 n = 0; n < cnt; n++) {
    u32 *nr = node_rec(g, n);
    u32 flags = node_flags(nr);
    if (flags & FLAG_DELETED) tomb_add(g, n);
    else if (nr[0] != NONE) map[2 * (n)] = nr[0];
  }
  for (u32 n = 0; n < cnt; n++) {
    u32 *nr = node_rec(g, n);
    if (nr[0] == NONE && !(node_flags(nr) & FLAG_DELETED)) continue;
    u32 level = node_level(nr);
    for (u32 l = 0; l <= level; l++) {
      lst r = get_lst(g, n, l);
      u32 c = lst_count(r);
      const u32 *nb = lst_nb(r);
      for (u32 i = 0; i < c; i++) {
        in[nb[i]]++;
        if (l) up[nb[i]]++;
      }
    }
  }
}

/** Re-selects every list of live node n from its two-hop neighbourhood
 * (see refill); 0, or HN_EINVAL for a node that is not live. */
EXPORT(hn_refill) i32 hn_refill(u32 *g, u32 n) {
  if (n >= g[F_NODE_COUNT] || n2s(g)[2 * (n)] == NONE) return HN_EINVAL;
  u32 level = node_level(node_rec(g, n));
  for (u32 l = 0; l <= level; l++) refill(g, n, l);
  return 0;
}

/** The level the insertion numbered ctr_hi:ctr_lo gets (for tests). */
EXPORT(hn_level_of) u32 hn_level_of(u32 *g, u32 ctr_lo, u32 ctr_hi) { return random_level(g, (u64)ctr_hi << 32 | ctr_lo); }
