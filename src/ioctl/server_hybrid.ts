/**
 * The daemon side of `VEXFS_IOC_HYBRID` (keyword, vector or hybrid search
 * with xattr filters) and `VEXFS_IOC_TEXT_INDEX` (build, drop or inspect a
 * collection's BM25 index): docs/IOCTL.md §3.15 and §3.16. server.ts
 * dispatches to these after its common checks (sizes, header, descriptor
 * type, `EROFS`); the requests are decoded and checked by ./abi_hybrid.ts.
 *
 * `HYBRID` answers what `searchHybrid` (../search/hybrid.ts) answers on the
 * unmounted image, composed from the same two sides with `composeHybrid`,
 * restricted to the files the caller may read (docs/IOCTL.md §3.15
 * "Permissions"): a side's candidate that the caller may not read is added
 * to the side's exclusion set and the side is asked again, until its
 * candidates are all readable. Each side's list is then exactly its top-n
 * among the readable files (every readable file stays eligible, and the
 * list holds only readable ones), so the fusion is that of a collection
 * without the unreadable files, while N, df and avgdl still count them.
 * Only candidates are checked: a caller who may read everything (uid 0,
 * the owner of every file) pays one search per side.
 * @module
 */
import { FsError } from "../errors.ts";
import { COLL_INDEX_BM25 } from "../format/collection.ts";
import type { Vexfs } from "../fs/fs.ts";
import type { TextIndexParams } from "../fs/text_index_types.ts";
import type { RankedHit } from "../search/fusion.ts";
import { composeHybrid, type HybridOptions, type HybridSides } from "../search/hybrid.ts";
import {
  decodeHybrid,
  decodeTextIndex,
  encodeHybridReply,
  encodeTextIndexReply,
  exactReasonOf,
  type HybridRequest,
  TEXT_INDEX,
  type TextIndexRequest,
  VEXFS_TEXT_INDEX_OP_STATS,
} from "./abi.ts";
import { type IoctlCaller, permits } from "./server_caller.ts";

/** MAY_READ of permission checks (docs/IOCTL.md §1). */
const READ = 4;
/** MAY_WRITE. */
const WRITE = 2;

/**
 * The collection of directory `dir`.
 * @throws FsError EINVAL when `dir` is not inside one (docs/IOCTL.md §3.15, §3.16)
 */
function collectionOf(fs: Vexfs, dir: number, what: string): number {
  const id = fs.collections.collectionOfDir(dir);
  if (!id) {
    throw new FsError(
      "EINVAL",
      `${what}: directory inode ${dir} is not inside a vector collection; make a directory above it one with ` +
        `'vexfs collection create'`,
    );
  }
  return id;
}

/**
 * The options of `searchHybrid` for a decoded request: fusion parameters
 * only with both sides (0 = the default), `depth` at least `k` (a request
 * may ask fewer candidates than hits; the engine's rule is depth ≥ k).
 */
export function hybridOptions(req: HybridRequest): HybridOptions {
  const o: HybridOptions = { k: req.k };
  const vec = req.query !== null;
  const txt = req.text !== null || req.terms !== null;
  if (req.query) {
    o.vector = req.query;
    if (req.ef) o.ef = req.ef;
    if (req.exact) o.exact = true;
  }
  if (req.terms !== null) o.terms = req.terms;
  else if (req.text !== null) o.text = req.text;
  if (vec && txt) {
    o.fusion = req.fusion;
    if (req.fusion === "weighted") o.alpha = req.alpha;
    else if (req.rrfK) o.rrfK = req.rrfK;
    if (req.depth) o.depth = Math.max(req.depth, req.k);
  }
  if (req.where.length) o.where = req.where;
  if (typeof req.excludeIno === "number" && req.excludeIno) o.exclude = new Set([req.excludeIno]);
  return o;
}

/**
 * Wraps a side so that its candidates are only files `ok` accepts: the
 * refused ones join `excluded` (shared by both sides) and the side is asked
 * again (module doc).
 */
function readableSide<T extends { hits: RankedHit[] }>(
  run: (n: number, exclude: Set<number> | undefined) => T,
  excluded: Set<number>,
  ok: (ino: number) => boolean,
): (n: number) => T {
  return (n) => {
    for (;;) {
      const r = run(n, excluded.size ? new Set(excluded) : undefined);
      let refused = false;
      for (const h of r.hits) {
        if (!ok(h.ino)) {
          excluded.add(h.ino);
          refused = true;
        }
      }
      if (!refused) return r;
    }
  };
}

/** Whether `caller` may read inode `ino`, memoised for one call; everything without a caller or for uid 0. */
function readCheck(fs: Vexfs, caller?: IoctlCaller): (ino: number) => boolean {
  if (!caller || caller.uid === 0) return () => true;
  const seen = new Map<number, boolean>();
  return (ino) => {
    let v = seen.get(ino);
    if (v === undefined) {
      v = permits(caller, ino, fs.iget(ino).d, READ);
      seen.set(ino, v);
    }
    return v;
  };
}

/**
 * `VEXFS_IOC_HYBRID` (docs/IOCTL.md §3.15): decodes and checks the request,
 * runs the hybrid search of directory `dir` with the caller's read
 * permission (module doc) and fills the hits (scores rounded to f32), the
 * collection's generations and how each side answered.
 * @throws FsError EINVAL (a field, not in a collection, a query of another
 *   dimension, an empty query text), ENODATA (a text side and no keyword
 *   index), EUCLEAN
 */
export function hybrid(fs: Vexfs, dir: number, inData: Uint8Array, caller?: IoctlCaller): Uint8Array {
  const req = decodeHybrid(inData);
  const c = fs.collections;
  const id = collectionOf(fs, dir, "hybrid search");
  const o = hybridOptions(req);
  const excluded = new Set(o.exclude ?? []);
  const ok = readCheck(fs, caller);
  const sides: HybridSides = { vecLowerIsBetter: c.get(id).metric === "l2" };
  const query = o.vector;
  if (query) {
    sides.vector = readableSide(
      (n, exclude) => c.searchEx(dir, query, n, { where: o.where, exclude, ef: o.ef, exact: o.exact, paths: false }),
      excluded,
      ok,
    );
  }
  if (o.text !== undefined || o.terms !== undefined) {
    sides.text = readableSide(
      (n, exclude) => {
        const opts = { where: o.where, exclude, paths: false };
        return o.terms !== undefined ? c.text.searchTerms(dir, o.terms, n, opts) : c.text.search(dir, o.text!, n, opts);
      },
      excluded,
      ok,
    );
  }
  const r = composeHybrid(sides, o);
  const info = c.get(id);
  const vm = r.method.vector;
  return encodeHybridReply(req, {
    hits: r.hits.map((h) => ({ ino: h.ino, score: h.score, vector: h.vector, text: h.text })),
    collectionId: id,
    generation: info.generation,
    textGeneration: r.method.text?.textGeneration ?? c.record(id)!.textGeneration,
    metric: info.metric,
    vecMethod: vm,
    ...(vm?.method === "exact" ? { exactReason: exactReasonOf(vm, info.index !== "hnsw") } : {}),
    textMatched: r.method.text?.matched ?? 0,
    filterPassed: vm?.filterPassed ?? 0,
    termsUsed: r.method.text?.terms.length ?? 0,
  });
}

/** Whether a `TEXT_INDEX` request changes the collection: build and drop (an unknown op too, refused later). */
export function textIndexWrites(inData: Uint8Array): boolean {
  return new DataView(inData.buffer, inData.byteOffset, inData.byteLength).getUint32(TEXT_INDEX.off.op, true) !==
    VEXFS_TEXT_INDEX_OP_STATS;
}

/**
 * The build parameters of a `TEXT_INDEX` request: those it sets over the
 * collection's current ones (when it has a keyword index), the engine's
 * defaults for the rest (docs/IOCTL.md §3.16).
 */
function buildParams(fs: Vexfs, id: number, req: TextIndexRequest): Partial<TextIndexParams> {
  const rec = fs.collections.record(id)!;
  const p: Partial<TextIndexParams> = rec.flags & COLL_INDEX_BM25
    ? {
      k1: rec.bm25K1,
      b: rec.bm25B,
      maxFile: rec.bm25MaxFile,
      analyzer: rec.bm25Analyzer,
      stemmer: rec.bm25Stemmer as 0 | 1,
      stopwords: rec.bm25Stopwords as 0 | 1,
      lang: rec.bm25Lang,
    }
    : {};
  if (req.k1 !== undefined) p.k1 = req.k1;
  if (req.b !== undefined) p.b = req.b;
  if (req.maxFile !== undefined) p.maxFile = req.maxFile;
  if (req.analyzer) Object.assign(p, req.analyzer);
  return p;
}

/**
 * `VEXFS_IOC_TEXT_INDEX` (docs/IOCTL.md §3.16): checks the request, that
 * the directory is in a collection (`EINVAL`) and, for build and drop, that
 * the caller may write the collection's root directory (`EACCES`; a call
 * without caller ids is trusted: the mount always passes them, as for
 * `INDEX`), runs the operation on the engine (`fs.collections.text`) and
 * reports the index.
 * @throws FsError EINVAL, EACCES, ENODATA (drop without an index), EROFS, ENOSPC, EUCLEAN
 */
export function textIndex(fs: Vexfs, dir: number, inData: Uint8Array, caller?: IoctlCaller): Uint8Array {
  const req = decodeTextIndex(inData);
  const c = fs.collections;
  const id = collectionOf(fs, dir, `text index ${req.op}`);
  if (req.op !== "stats" && caller) {
    const root = c.get(id).rootIno;
    if (!permits(caller, root, fs.iget(root).d, WRITE)) {
      throw new FsError(
        "EACCES",
        `text index ${req.op}: uid ${caller.uid} may not write the collection's root directory (inode ${root})`,
      );
    }
  }
  if (req.op === "build") c.text.build(dir, buildParams(fs, id, req));
  else if (req.op === "drop") c.text.drop(dir);
  const s = c.text.stats(dir);
  return encodeTextIndexReply(req, {
    params: s.params,
    fresh: s.fresh,
    collectionId: id,
    segments: s.segments,
    textGeneration: s.textGeneration,
    docCount: s.docCount,
    totalTokens: s.totalTokens,
    terms: s.terms,
    fileBytes: s.fileBytes,
    textBytes: s.textBytes,
    skippedBinary: s.skippedBinary,
    skippedLarge: s.skippedLarge,
    buildUs: Math.round(s.buildMs * 1000),
    signature: s.signature,
    note: s.note,
  });
}
