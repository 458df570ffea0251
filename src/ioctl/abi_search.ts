/**
 * Encoders and decoders of the search ioctls (docs/IOCTL.md): SEARCH, the
 * first layout, and SEARCH2, which adds the method's knobs (ef, exact) and
 * reports how the answer was found. Both carry the same hits array
 * (`struct vexfs_ioc_search_hit`), read and written by one pair of
 * functions here. Conventions are abi.ts's; callers import from abi.ts.
 * @module
 */
import type { StructLayout } from "../struct_layout.ts";
import { FsError } from "../errors.ts";
import type { SearchMethod } from "../fs/vectors.ts";
import { ELEM_CODE, type ElemType, type Metric, METRIC_CODE } from "../vector/types.ts";
import {
  HDR,
  SEARCH,
  SEARCH2,
  SEARCH_HIT,
  VEXFS_EXACT_ASKED,
  VEXFS_EXACT_FEW,
  VEXFS_EXACT_FLAT,
  VEXFS_EXACT_OTHER,
  VEXFS_EXACT_SMALL,
  VEXFS_EXACT_STALE,
  VEXFS_EXACT_SUBTREE,
  VEXFS_IOC_MAX_DIM,
  VEXFS_IOC_MAX_EF,
  VEXFS_IOC_MAX_K,
  VEXFS_IOC_SEARCH2_EXACT,
  VEXFS_SEARCH_METHOD_EXACT,
  VEXFS_SEARCH_METHOD_HNSW,
} from "./abi_layout.ts";
import {
  checkDim,
  checkHeader,
  checkZero,
  checkZeroFields,
  type Code,
  elemOfCode,
  getF32s,
  getU64,
  getU64Exact,
  metricOfCode,
  newStruct,
  putF32s,
  setU32,
  setU64,
  type U64,
  view,
} from "./abi_codec.ts";
// ------------------------------------------------------------ search

/** The input of {@linkcode VEXFS_IOC_SEARCH}. */
export interface SearchRequest {
  /** hits wanted, 1..256 */
  k: number;
  /** Float32Array of length 1..2048 (the collection's dim) */
  query: Float32Array;
  /**
   * inode left out of the results (e.g. the query's own file), 0 for none;
   * any u64 (a bigint above 2^53 - 1, which names no inode, so nothing is left out)
   */
  excludeIno: U64;
}

/** One hit: inode and score (FORMAT.md §8.4: l2 distance, lower is nearer; cosine/ip similarity, higher is nearer). */
export interface IoctlHit {
  ino: number;
  /** rounded to float32 */
  score: number;
}

/** The output of {@linkcode VEXFS_IOC_SEARCH}. */
export interface SearchReply {
  /** best first, at most k */
  hits: IoctlHit[];
  collectionId: number;
  /** the collection's generation when it was searched */
  generation: number;
  metric: Metric;
  elem: ElemType;
}

/** The members SEARCH and SEARCH2 share, at their own offsets in each. */
type SearchOutputLayout = StructLayout<
  "k" | "count" | "collection_id" | "generation" | "metric" | "elem_type" | "hits"
>;

/**
 * Writes the outputs both search replies carry: count, collection,
 * generation, metric, element type and the hits (`struct vexfs_ioc_search_hit`).
 * @throws FsError EIO for a collection id, generation or hit inode that does not fit
 */
function writeReplyCommon(dv: DataView, layout: SearchOutputLayout, out: SearchReply): void {
  const o = layout.off;
  dv.setUint32(o.count, out.hits.length, true);
  setU32(dv, o.collection_id, out.collectionId, "collection_id", "EIO");
  setU64(dv, o.generation, out.generation, "generation", "EIO");
  dv.setUint8(o.metric, METRIC_CODE[out.metric]);
  dv.setUint8(o.elem_type, ELEM_CODE[out.elem]);
  out.hits.forEach((h, i) => {
    const at = o.hits + i * SEARCH_HIT.size;
    setU64(dv, at + SEARCH_HIT.off.ino, h.ino, `hits[${i}].ino`, "EIO");
    dv.setFloat32(at + SEARCH_HIT.off.score, h.score, true);
  });
}

/**
 * Checks a search reply's header and reads the outputs both layouts carry.
 * @throws FsError EIO for a bad header, count > k, a hit inode or the
 *   generation above 2^53 - 1, an unknown metric or element code
 */
function readReplyCommon(b: Uint8Array, layout: SearchOutputLayout): SearchReply {
  checkHeader(b, layout, "EIO");
  const dv = view(b);
  const o = layout.off;
  const count = dv.getUint32(o.count, true);
  const k = dv.getUint32(o.k, true);
  if (count > k || count > VEXFS_IOC_MAX_K) throw new FsError("EIO", `search reply has count ${count} for k = ${k}`);
  const hits: IoctlHit[] = [];
  for (let i = 0; i < count; i++) {
    const at = o.hits + i * SEARCH_HIT.size;
    hits.push({
      ino: getU64(dv, at + SEARCH_HIT.off.ino, `${layout.cName}.hits[${i}].ino`),
      score: dv.getFloat32(at + SEARCH_HIT.off.score, true),
    });
  }
  return {
    hits,
    collectionId: dv.getUint32(o.collection_id, true),
    generation: getU64(dv, o.generation, `${layout.cName}.generation`),
    metric: metricOfCode(dv.getUint8(o.metric), "EIO"),
    elem: elemOfCode(dv.getUint8(o.elem_type), "EIO"),
  };
}

/**
 * Builds the request of {@linkcode VEXFS_IOC_SEARCH}.
 * @throws FsError EINVAL: k out of 1..256, query length out of 1..2048,
 *   excludeIno not a u64
 */
export function encodeSearch(r: SearchRequest): Uint8Array {
  if (!Number.isInteger(r.k) || r.k < 1 || r.k > VEXFS_IOC_MAX_K) {
    throw new FsError("EINVAL", `k = ${r.k} is out of range (1..${VEXFS_IOC_MAX_K} through an ioctl)`);
  }
  checkDim(r.query.length, "query length", "EINVAL");
  const b = newStruct(SEARCH);
  const dv = view(b);
  const o = SEARCH.off;
  dv.setUint32(o.k, r.k, true);
  dv.setUint32(o.dim, r.query.length, true);
  setU64(dv, o.exclude_ino, r.excludeIno, "exclude_ino", "EINVAL");
  putF32s(dv, o.query, r.query);
  return b;
}

/**
 * Reads and checks the request of {@linkcode VEXFS_IOC_SEARCH}. Query
 * values are not checked (the engine refuses NaN and infinities).
 * `excludeIno` is exact: a bigint above 2^53 - 1, so that the reply echoes it.
 * @throws FsError EINVAL: bad header, k out of 1..256, dim out of 1..2048,
 *   non-zero output fields, reserved fields, query elements past dim or hits
 */
export function decodeSearch(b: Uint8Array): SearchRequest {
  checkHeader(b, SEARCH);
  const dv = view(b);
  const o = SEARCH.off;
  const k = dv.getUint32(o.k, true);
  if (k < 1 || k > VEXFS_IOC_MAX_K) {
    throw new FsError("EINVAL", `k = ${k} is out of range (1..${VEXFS_IOC_MAX_K})`);
  }
  const dim = dv.getUint32(o.dim, true);
  checkDim(dim, "dim", "EINVAL");
  checkZeroFields(
    b,
    SEARCH,
    ["count", "collection_id", "generation", "metric", "elem_type", "reserved0", "reserved1", "hits"],
    "EINVAL",
  );
  checkZero(b, o.query + 4 * dim, 4 * (VEXFS_IOC_MAX_DIM - dim), `query past dim ${dim}`, "EINVAL");
  return { k, query: getF32s(dv, o.query, dim), excludeIno: getU64Exact(dv, o.exclude_ino) };
}

/**
 * Builds the reply of {@linkcode VEXFS_IOC_SEARCH}: the request echoed,
 * the outputs filled.
 * @throws RangeError if there are more hits than `k`; FsError EIO for a
 *   generation or hit inode that is not a u64
 */
export function encodeSearchReply(r: SearchRequest, out: SearchReply): Uint8Array {
  if (out.hits.length > r.k) throw new RangeError(`${out.hits.length} hits for k = ${r.k}`);
  const b = encodeSearch(r);
  const dv = view(b);
  writeReplyCommon(dv, SEARCH, out);
  return b;
}

/**
 * Reads the reply of {@linkcode VEXFS_IOC_SEARCH}.
 * @throws FsError EIO if `b` is not a valid reply (bad header, count > k,
 *   a hit inode or the generation above 2^53 - 1)
 */
export function decodeSearchReply(b: Uint8Array): SearchReply {
  return readReplyCommon(b, SEARCH);
}

// ------------------------------------------------------------ SEARCH2

/** The input of {@linkcode VEXFS_IOC_SEARCH2}: a {@linkcode SearchRequest} plus the method's knobs. */
export interface Search2Request extends SearchRequest {
  /**
   * HNSW search breadth 1..65535 ({@linkcode VEXFS_IOC_MAX_EF}), or 0 for
   * the engine's choice (the collection's `ef_search`, and an exact scan of
   * a small collection)
   */
  ef: number;
  /** scan exactly whatever the collection's index ({@linkcode VEXFS_IOC_SEARCH2_EXACT}); excludes a non-zero `ef` */
  exact: boolean;
}

/** Why an exact scan answered a search (`vexfs_ioc_search2.exact_reason`, docs/IOCTL.md §3.11). */
export type ExactReason = "flat" | "asked" | "small" | "subtree" | "few" | "stale" | "other";

/** `VEXFS_EXACT_*` code of each {@linkcode ExactReason}. */
export const EXACT_REASON_CODE: Readonly<Record<ExactReason, number>> = Object.freeze({
  flat: VEXFS_EXACT_FLAT,
  asked: VEXFS_EXACT_ASKED,
  small: VEXFS_EXACT_SMALL,
  subtree: VEXFS_EXACT_SUBTREE,
  few: VEXFS_EXACT_FEW,
  stale: VEXFS_EXACT_STALE,
  other: VEXFS_EXACT_OTHER,
});

/**
 * How the engine words each {@linkcode ExactReason} in `SearchMethod.reason`
 * (src/fs/vectors.ts `Collections.searchEx`), so that a search on a mount
 * prints what the same search prints on the unmounted image; a flat
 * collection's scan has no reason there (undefined).
 */
export const EXACT_REASON_TEXT: Readonly<Record<ExactReason, string | undefined>> = Object.freeze({
  flat: undefined,
  asked: "exact search asked for",
  small: "a small collection: an exact scan is as fast",
  subtree: "a small subtree is scanned",
  few: "k ≥ vectors",
  stale: "the HNSW graph is far behind the vectors; scanned exactly until it is caught up",
  other: "another reason (reported by a newer VexFS)",
});

/**
 * The {@linkcode ExactReason} of an engine search answered by a scan.
 * @param m what `Collections.searchEx` reported (`method` "exact")
 * @param flat whether the collection has no HNSW index (the engine gives no reason then)
 * @returns the reason; `"other"` for a wording this module does not know
 */
export function exactReasonOf(m: SearchMethod, flat: boolean): ExactReason {
  if (flat) return "flat";
  const r = m.reason ?? "";
  if (/asked/.test(r)) return "asked";
  if (/subtree|pass the filter/.test(r)) return "subtree"; // HYBRID: the files below dir that pass the filter are few
  if (/small collection/.test(r)) return "small";
  if (/k (≥|>=) vectors/.test(r)) return "few";
  if (/far behind/.test(r)) return "stale";
  return "other";
}

/** The output of {@linkcode VEXFS_IOC_SEARCH2}: a {@linkcode SearchReply} plus how it was answered. */
export interface Search2Reply extends SearchReply {
  /**
   * the method as the engine reports it: `{method: "hnsw", ef}` (the ef
   * used) or `{method: "exact", reason}` (reason: {@linkcode EXACT_REASON_TEXT}
   * of `exactReason`, absent for a flat collection); `{method: "unknown"}`
   * for a method code this module does not know
   */
  method: SearchMethod;
  /** why an exact scan answered; absent for HNSW */
  exactReason?: ExactReason;
}

/**
 * Builds the request of {@linkcode VEXFS_IOC_SEARCH2}.
 * @throws FsError EINVAL: k out of 1..256, query length out of 1..2048,
 *   excludeIno not a u64, ef not an integer 0..65535, `exact` with a
 *   non-zero ef
 */
export function encodeSearch2(r: Search2Request): Uint8Array {
  checkEf(r.ef, r.exact, "EINVAL");
  const b = newStruct(SEARCH2);
  const v1 = encodeSearch(r);
  // the fields SEARCH2 shares with SEARCH, at the same offsets
  b.set(v1.subarray(HDR.size, SEARCH.off.query), HDR.size);
  const dv = view(b);
  const o = SEARCH2.off;
  dv.setUint32(o.ef, r.ef, true);
  dv.setUint32(o.flags, r.exact ? VEXFS_IOC_SEARCH2_EXACT : 0, true);
  putF32s(dv, o.query, r.query);
  return b;
}

function checkEf(ef: number, exact: boolean, code: Code): void {
  if (!Number.isInteger(ef) || ef < 0 || ef > VEXFS_IOC_MAX_EF) {
    throw new FsError(code, `ef = ${ef} is out of range (1..${VEXFS_IOC_MAX_EF}, or 0 for the collection's)`);
  }
  if (exact && ef !== 0) {
    throw new FsError(
      code,
      `ef = ${ef} with an exact scan: ef is the breadth of a graph search; give one or the other`,
    );
  }
}

/**
 * Reads and checks the request of {@linkcode VEXFS_IOC_SEARCH2}. Query
 * values are not checked (the engine refuses NaN and infinities);
 * `excludeIno` is exact (a bigint above 2^53 - 1).
 * @throws FsError EINVAL: bad header (version 2 expected), k out of 1..256,
 *   dim out of 1..2048, ef above 65535, unknown flags, EXACT with a
 *   non-zero ef, non-zero output or reserved fields, query elements past
 *   dim or hits
 */
export function decodeSearch2(b: Uint8Array): Search2Request {
  checkHeader(b, SEARCH2);
  const dv = view(b);
  const o = SEARCH2.off;
  const k = dv.getUint32(o.k, true);
  if (k < 1 || k > VEXFS_IOC_MAX_K) {
    throw new FsError("EINVAL", `k = ${k} is out of range (1..${VEXFS_IOC_MAX_K})`);
  }
  const dim = dv.getUint32(o.dim, true);
  checkDim(dim, "dim", "EINVAL");
  const flags = dv.getUint32(o.flags, true);
  if (flags & ~VEXFS_IOC_SEARCH2_EXACT) {
    throw new FsError(
      "EINVAL",
      `flags = 0x${flags.toString(16)}; only VEXFS_IOC_SEARCH2_EXACT (0x${
        VEXFS_IOC_SEARCH2_EXACT.toString(16)
      }) is defined`,
    );
  }
  const exact = (flags & VEXFS_IOC_SEARCH2_EXACT) !== 0;
  const ef = dv.getUint32(o.ef, true);
  checkEf(ef, exact, "EINVAL");
  checkZeroFields(
    b,
    SEARCH2,
    [
      "count",
      "collection_id",
      "generation",
      "metric",
      "elem_type",
      "reserved0",
      "reserved1",
      "method",
      "exact_reason",
      "reserved2",
      "ef_used",
      "hits",
    ],
    "EINVAL",
  );
  checkZero(b, o.query + 4 * dim, 4 * (VEXFS_IOC_MAX_DIM - dim), `query past dim ${dim}`, "EINVAL");
  return { k, query: getF32s(dv, o.query, dim), excludeIno: getU64Exact(dv, o.exclude_ino), ef, exact };
}

/**
 * Builds the reply of {@linkcode VEXFS_IOC_SEARCH2}: the request echoed,
 * the outputs filled (`method` and `ef_used` from `out.method`,
 * `exact_reason` from `out.exactReason`, "other" when an exact scan has none).
 * @throws RangeError if there are more hits than `k`; FsError EIO for a
 *   generation or hit inode that is not a u64, or an HNSW ef that is not a u32
 */
export function encodeSearch2Reply(r: Search2Request, out: Search2Reply): Uint8Array {
  if (out.hits.length > r.k) throw new RangeError(`${out.hits.length} hits for k = ${r.k}`);
  const b = encodeSearch2(r);
  const dv = view(b);
  const o = SEARCH2.off;
  writeReplyCommon(dv, SEARCH2, out);
  const m = out.method.method;
  if (m === "hnsw") {
    dv.setUint8(o.method, VEXFS_SEARCH_METHOD_HNSW);
    setU32(dv, o.ef_used, out.method.ef ?? 0, "ef_used", "EIO");
  } else if (m === "exact") {
    dv.setUint8(o.method, VEXFS_SEARCH_METHOD_EXACT);
    dv.setUint8(o.exact_reason, EXACT_REASON_CODE[out.exactReason ?? "other"]);
  }
  return b;
}

/**
 * Reads the reply of {@linkcode VEXFS_IOC_SEARCH2}. An unknown
 * `exact_reason` reads as "other", an unknown `method` as "unknown" (a
 * newer daemon may define more).
 * @throws FsError EIO if `b` is not a valid reply (bad header, count > k,
 *   a hit inode or the generation above 2^53 - 1, unknown metric or element code)
 */
export function decodeSearch2Reply(b: Uint8Array): Search2Reply {
  const common = readReplyCommon(b, SEARCH2);
  const dv = view(b);
  const o = SEARCH2.off;
  const mcode = dv.getUint8(o.method);
  let method: SearchMethod;
  let exactReason: ExactReason | undefined;
  if (mcode === VEXFS_SEARCH_METHOD_HNSW) method = { method: "hnsw", ef: dv.getUint32(o.ef_used, true) };
  else if (mcode === VEXFS_SEARCH_METHOD_EXACT) {
    const rc = dv.getUint8(o.exact_reason);
    exactReason = (Object.keys(EXACT_REASON_CODE) as ExactReason[]).find((x) => EXACT_REASON_CODE[x] === rc) ??
      "other";
    const text = EXACT_REASON_TEXT[exactReason];
    method = { method: "exact", ...(text !== undefined ? { reason: text } : {}) };
  } else method = { method: "unknown" };
  return {
    ...common,
    method,
    ...(exactReason ? { exactReason } : {}),
  };
}
