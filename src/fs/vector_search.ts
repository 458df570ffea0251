/**
 * What a vector search decides before it scans or walks a graph: its
 * arguments checked, the default thresholds between exact scans and graph
 * searches, and the slots of the subtree and of the `--where` filter
 * (./xattr_filter.ts) it is restricted to.
 * @module
 */
import { check, FsError } from "../errors.ts";
import { ROOT_INO } from "../format/constants.ts";
import type { CollectionRecord } from "../format/collection.ts";
import { formatWhere, type Where } from "../search/where.ts";
import type { Loaded, SubtreeCache } from "./_loaded.ts";
import type { Vexfs } from "./fs.ts";
import { inoFilter, xattrFilterVersion } from "./xattr_filter.ts";

/**
 * Subtrees holding at most this fraction of a collection are searched by an
 * exact scan of their vectors; larger ones by a filtered graph traversal.
 */
export const SUBTREE_EXACT_FRACTION = 0.05;
/**
 * Collections of at most this many elements (vectors × dim) are scanned
 * exactly even with an HNSW index: a SIMD scan of them takes about a
 * millisecond, and its answer is exact.
 */
export const EXACT_SCAN_ELEMENTS = 4 << 20;
/** ... and subtrees of at most this many vectors always exactly. */
export const SUBTREE_EXACT_MAX = 4096;

/**
 * Checks a search of collection `rec` (id `id`): k in 1..65536, a finite
 * query of the collection's dimension, ef (when given) in 1..65535.
 * @throws FsError EINVAL naming the first bad argument
 */
export function checkSearchArgs(
  rec: CollectionRecord,
  id: number,
  query: Float32Array,
  k: number,
  ef: number | undefined,
): void {
  check(
    Number.isInteger(k) && k >= 1 && k <= 65536,
    "EINVAL",
    `k = ${k} is out of range (1..65536)`,
  );
  if (query.length !== rec.dim) {
    throw new FsError(
      "EINVAL",
      `query has ${query.length} elements but collection ${id} has dimension ${rec.dim}`,
    );
  }
  for (let i = 0; i < query.length; i++) {
    if (!Number.isFinite(query[i])) {
      throw new FsError(
        "EINVAL",
        `query element ${i} is ${query[i]}; vectors must be finite`,
      );
    }
  }
  if (ef !== undefined) {
    check(Number.isInteger(ef) && ef >= 1 && ef <= 65535, "EINVAL", `ef ${ef} (1..65535)`);
  }
}

/**
 * The slots of collection `l` whose files are below directory `dir`,
 * computed once and kept (with their graph filter) until the collection's
 * vectors or the namespace change, or another directory is searched.
 */
export function subtreeOf(fs: Vexfs, l: Loaded, dir: number): SubtreeCache {
  const c = l.subtree;
  const ns = fs.namespaceVersion;
  if (c && c.dir === dir && c.generation === l.rec.generation && c.count === l.rec.count && c.namespace === ns) {
    return c;
  }
  c?.filter?.free();
  const under = underDir(fs, dir);
  const slots: number[] = [];
  const owners = l.owners;
  for (let s = 0, n = l.rec.count; s < n; s++) if (under(owners[s])) slots.push(s);
  l.subtree = { dir, generation: l.rec.generation, count: l.rec.count, namespace: ns, slots };
  return l.subtree;
}

/** A predicate "file is below directory `dir`" with memoised ancestry of parent directories. */
export function underDir(fs: Vexfs, dir: number): (ino: number) => boolean {
  const memo = new Map<number, boolean>();
  const dirUnder = (d: number): boolean => {
    const chain: number[] = [];
    let cur = d;
    let ans = false;
    for (let guard = 0; guard < 4096; guard++) {
      const m = memo.get(cur);
      if (m !== undefined) {
        ans = m;
        break;
      }
      if (cur === dir) {
        ans = true;
        break;
      }
      chain.push(cur);
      if (cur === ROOT_INO) break;
      const p = fs.iget(cur).d.parentIno;
      if (!p) break;
      cur = p;
    }
    for (const c of chain) memo.set(c, ans);
    return ans;
  };
  return (ino: number) => {
    const p = fs.iget(ino).d.parentIno;
    if (p) return dirUnder(p);
    try {
      const path = fs.pathOf(ino);
      const base = fs.pathOf(dir);
      return path.startsWith(base + "/");
    } catch {
      return false;
    }
  };
}

/** A filter's answer over a collection (or a subtree of it), valid while nothing it depends on changed. */
interface WhereSlots {
  key: string;
  generation: number;
  count: number;
  namespace: number;
  version: number;
  slots: number[];
}
const whereCache = new WeakMap<Loaded, WhereSlots>();

/**
 * The slots of collection `l` whose files pass `where`: among `base` (the
 * slots of the subtree searched) or among all. Kept for the last filter and
 * directory searched until the collection's vectors, the namespace or an
 * attribute value the filter reads change.
 * @param dir the directory searched (part of the cache key)
 * @param base the subtree's slots, or null for the whole collection
 * @returns slots in ascending order
 * @throws FsError EUCLEAN when a file's attribute storage is damaged
 */
export function whereSlotsOf(fs: Vexfs, l: Loaded, dir: number, base: number[] | null, where: Where): number[] {
  const key = `${dir}\0${formatWhere(where)}`;
  const pass = inoFilter(fs, l.rec.id, where); // first: it may add columns (and so change the version)
  const c = whereCache.get(l);
  const ns = base ? fs.namespaceVersion : 0; // the whole collection's slots do not depend on names
  const version = xattrFilterVersion(fs);
  if (
    c && c.key === key && c.generation === l.rec.generation && c.count === l.rec.count && c.namespace === ns &&
    c.version === version
  ) {
    return c.slots;
  }
  const owners = l.owners;
  const slots: number[] = [];
  if (base) {
    for (const s of base) if (pass(owners[s])) slots.push(s);
  } else {
    for (let s = 0, n = l.rec.count; s < n; s++) if (pass(owners[s])) slots.push(s);
  }
  // reading attributes fills the cache but forgets nothing: the version is still the one above
  whereCache.set(l, { key, generation: l.rec.generation, count: l.rec.count, namespace: ns, version, slots });
  return slots;
}
