/**
 * Encoders and decoders of VEXFS_IOC_HYBRID (keyword, vector and hybrid
 * search with xattr filters) and VEXFS_IOC_TEXT_INDEX (build, drop and
 * report a collection's BM25 index): docs/IOCTL.md §3.15 and §3.16, the
 * structures of kernel/vexfs_ioctl.h, issue 12's design §6.2 and §6.5.
 * Conventions are abi.ts's (requests EINVAL, replies EIO, naming the field);
 * callers import from abi.ts.
 *
 * @example
 * ```ts
 * import { decodeHybridReply, encodeHybrid, VEXFS_IOC_HYBRID } from "./abi.ts";
 * const req = encodeHybrid({ k: 10, terms: ["deploy", "cloud"], where: [{ name: "user.lang", op: "=", values: ["en"] }] });
 * // ioctl(fd, VEXFS_IOC_HYBRID, req) fills req in place; then:
 * // const { hits } = decodeHybridReply(req);
 * ```
 * @module
 */
import { FsError } from "../errors.ts";
import { BM25_K1_MAX, BM25_MAX_FILE_MAX, BM25_MAX_FILE_MIN, bm25LangValid } from "../format/bm25_params.ts";
import type { SearchMethod } from "../fs/vectors.ts";
import type { FusedHit } from "../search/fusion.ts";
import type { WhereClause, WhereOp } from "../search/where.ts";
import type { AnalyzerParams } from "../text/analyzer.ts";
import { type Metric, METRIC_CODE } from "../vector/types.ts";
import {
  FILTER_CLAUSE,
  HYBRID,
  HYBRID_HIT,
  TEXT_INDEX,
  VEXFS_ANALYZER_WORD_V1,
  VEXFS_FILTER_CMP_AUTO,
  VEXFS_FILTER_EQ,
  VEXFS_FILTER_EXISTS,
  VEXFS_FILTER_GE,
  VEXFS_FILTER_GT,
  VEXFS_FILTER_IN,
  VEXFS_FILTER_LE,
  VEXFS_FILTER_LT,
  VEXFS_FILTER_NE,
  VEXFS_FILTER_NS_USER,
  VEXFS_FUSION_RRF,
  VEXFS_FUSION_WEIGHTED,
  VEXFS_IOC_FILTER_MAX_VALUES,
  VEXFS_IOC_FILTER_NAME_MAX,
  VEXFS_IOC_FILTER_VALUES_MAX,
  VEXFS_IOC_HYBRID_EXACT,
  VEXFS_IOC_HYBRID_MAX_CLAUSES,
  VEXFS_IOC_HYBRID_MAX_DEPTH,
  VEXFS_IOC_HYBRID_MAX_K,
  VEXFS_IOC_HYBRID_MAX_RRF_K,
  VEXFS_IOC_HYBRID_MAX_TERMS,
  VEXFS_IOC_HYBRID_TERM_MAX,
  VEXFS_IOC_HYBRID_TERMS,
  VEXFS_IOC_HYBRID_TEXT_MAX,
  VEXFS_IOC_LANG_MAX,
  VEXFS_IOC_MAX_DIM,
  VEXFS_IOC_MAX_EF,
  VEXFS_IOC_NOTE_MAX,
  VEXFS_IOC_SIGNATURE_MAX,
  VEXFS_SEARCH_METHOD_EXACT,
  VEXFS_SEARCH_METHOD_HNSW,
  VEXFS_TEXT_INDEX_OP_BUILD,
  VEXFS_TEXT_INDEX_OP_DROP,
  VEXFS_TEXT_INDEX_OP_STATS,
  VEXFS_TEXT_INDEX_SET_ANALYZER,
  VEXFS_TEXT_INDEX_SET_B,
  VEXFS_TEXT_INDEX_SET_K1,
  VEXFS_TEXT_INDEX_SET_MAX_FILE,
} from "./abi_layout.ts";
import {
  checkHeader,
  checkZero,
  checkZeroFields,
  type Code,
  enc,
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
import { EXACT_REASON_CODE, EXACT_REASON_TEXT, type ExactReason } from "./abi_search.ts";

/** Strict UTF-8: invalid bytes are an error, not U+FFFD. */
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Text of UTF-8 bytes, or FsError `code` naming `what` when they are not valid UTF-8. */
function text(b: Uint8Array, what: string, code: Code): string {
  try {
    return utf8.decode(b);
  } catch {
    throw new FsError(code, `${what} is not valid UTF-8`);
  }
}

// ------------------------------------------------------------ filter clauses

/** `VEXFS_FILTER_*` code of each {@linkcode WhereOp}. */
export const FILTER_OP_CODE: Readonly<Record<WhereOp, number>> = Object.freeze({
  "=": VEXFS_FILTER_EQ,
  "!=": VEXFS_FILTER_NE,
  "<": VEXFS_FILTER_LT,
  "<=": VEXFS_FILTER_LE,
  ">": VEXFS_FILTER_GT,
  ">=": VEXFS_FILTER_GE,
  in: VEXFS_FILTER_IN,
  exists: VEXFS_FILTER_EXISTS,
});

const OP_OF_CODE = new Map(Object.entries(FILTER_OP_CODE).map(([op, c]) => [c, op as WhereOp]));
const USER = "user.";

/**
 * Writes one clause at byte `at` (FILTER_CLAUSE layout).
 * @throws FsError EINVAL: a name outside `user.` or longer than 63 bytes after it, a number of values that
 *   does not suit the op (0 for exists, 1..16 for in, else 1), values over 120 bytes with their length bytes
 */
function putClause(b: Uint8Array, at: number, c: WhereClause, i: number): void {
  const where = `where clause ${i + 1} (${c.name} ${c.op})`;
  if (!c.name.startsWith(USER)) {
    throw new FsError("EINVAL", `${where}: only user. attributes can be filtered on (the name is ${c.name})`);
  }
  const name = enc.encode(c.name.slice(USER.length));
  if (name.length < 1 || name.length >= VEXFS_IOC_FILTER_NAME_MAX || name.includes(0)) {
    throw new FsError(
      "EINVAL",
      `${where}: the name after user. is ${name.length} bytes; an ioctl filter takes 1..${
        VEXFS_IOC_FILTER_NAME_MAX - 1
      } (without NUL); search the image offline for longer names`,
    );
  }
  const n = c.values.length;
  const want = c.op === "exists" ? n === 0 : c.op === "in" ? n >= 1 && n <= VEXFS_IOC_FILTER_MAX_VALUES : n === 1;
  if (!want) {
    throw new FsError(
      "EINVAL",
      `${where}: ${n} values; ${c.op} takes ${
        c.op === "exists" ? "none" : c.op === "in" ? `1..${VEXFS_IOC_FILTER_MAX_VALUES} through an ioctl` : "one"
      }`,
    );
  }
  const o = FILTER_CLAUSE.off;
  b[at + o.op] = FILTER_OP_CODE[c.op];
  b[at + o.ns] = VEXFS_FILTER_NS_USER;
  b[at + o.name_len] = name.length;
  b[at + o.nvalues] = n;
  b[at + o.cmp] = VEXFS_FILTER_CMP_AUTO;
  b.set(name, at + o.name);
  let p = 0;
  for (const v of c.values) {
    const bytes = enc.encode(v);
    if (p + 1 + bytes.length > VEXFS_IOC_FILTER_VALUES_MAX) {
      throw new FsError(
        "EINVAL",
        `${where}: the values take more than ${VEXFS_IOC_FILTER_VALUES_MAX} bytes with a length byte each ` +
          `(an ioctl filter's limit); search the image offline for longer values`,
      );
    }
    b[at + o.values + p] = bytes.length;
    b.set(bytes, at + o.values + p + 1);
    p += 1 + bytes.length;
  }
}

/**
 * Reads and checks clause `i` at byte `at` of a request.
 * @throws FsError EINVAL: unknown op, namespace or cmp, name length, values that do not suit the op or
 *   overrun, bytes past the name or values not zero, invalid UTF-8
 */
function getClause(b: Uint8Array, at: number, i: number): WhereClause {
  const o = FILTER_CLAUSE.off;
  const what = `clauses[${i}]`;
  const bad = (why: string) => new FsError("EINVAL", `${what}: ${why}`);
  const op = OP_OF_CODE.get(b[at + o.op]);
  if (!op) throw bad(`op = ${b[at + o.op]} is unknown (1..8, VEXFS_FILTER_*)`);
  if (b[at + o.ns] !== VEXFS_FILTER_NS_USER) {
    throw bad(`ns = ${b[at + o.ns]}; only VEXFS_FILTER_NS_USER (1) is defined`);
  }
  if (b[at + o.cmp] !== VEXFS_FILTER_CMP_AUTO) {
    throw bad(`cmp = ${b[at + o.cmp]}; only VEXFS_FILTER_CMP_AUTO (0) is defined`);
  }
  checkZero(b, at + o.reserved, 3, `${what}.reserved`, "EINVAL");
  const len = b[at + o.name_len];
  if (len < 1 || len >= VEXFS_IOC_FILTER_NAME_MAX) {
    throw bad(`name_len = ${len} is out of range (1..${VEXFS_IOC_FILTER_NAME_MAX - 1})`);
  }
  const nameBytes = b.subarray(at + o.name, at + o.name + len);
  if (nameBytes.includes(0)) throw bad("the name holds a NUL byte");
  checkZero(b, at + o.name + len, VEXFS_IOC_FILTER_NAME_MAX - len, `${what}.name past name_len`, "EINVAL");
  const name = USER + text(nameBytes, `${what}.name`, "EINVAL");
  const n = b[at + o.nvalues];
  const okCount = op === "exists" ? n === 0 : op === "in" ? n >= 1 && n <= VEXFS_IOC_FILTER_MAX_VALUES : n === 1;
  if (!okCount) {
    throw bad(
      `nvalues = ${n}; ${op} takes ${op === "exists" ? "0" : op === "in" ? `1..${VEXFS_IOC_FILTER_MAX_VALUES}` : "1"}`,
    );
  }
  const values: string[] = [];
  let p = 0;
  for (let j = 0; j < n; j++) {
    if (p >= VEXFS_IOC_FILTER_VALUES_MAX) throw bad(`value ${j + 1} starts past the values`);
    const vl = b[at + o.values + p];
    if (p + 1 + vl > VEXFS_IOC_FILTER_VALUES_MAX) throw bad(`value ${j + 1} (${vl} bytes) runs past the values`);
    const s = at + o.values + p + 1;
    values.push(text(b.subarray(s, s + vl), `${what} value ${j + 1}`, "EINVAL"));
    p += 1 + vl;
  }
  checkZero(b, at + o.values + p, VEXFS_IOC_FILTER_VALUES_MAX - p, `${what}.values past the last value`, "EINVAL");
  return { name, op, values };
}

// ------------------------------------------------------------ HYBRID request

/** How the two sides are fused (`vexfs_ioc_hybrid.fusion`). */
export type FusionName = "rrf" | "weighted";

/**
 * The input of {@linkcode VEXFS_IOC_HYBRID} as {@linkcode decodeHybrid}
 * returns it: every field present. A vector side when `query` is non-null,
 * a text side when `text` or `terms` is non-null (at least one side).
 */
export interface HybridRequest {
  /** hits wanted, 1..128 */
  k: number;
  /** query vector (length 1..2048, the collection's dim), or null for no vector side */
  query: Float32Array | null;
  /** inode to leave out, 0 for none (exact u64: a bigint above 2^53 - 1) */
  excludeIno: U64;
  /** HNSW breadth of the vector side, 0..65535 (0 = the engine's choice) */
  ef: number;
  /** scan the vector side exactly (excludes a non-zero ef) */
  exact: boolean;
  /** raw query text (the daemon analyses it), or null */
  text: string | null;
  /** analysed query terms (`VEXFS_IOC_HYBRID_TERMS`: what the kernel module takes), or null */
  terms: string[] | null;
  /** fusion of two sides; "rrf" with one side */
  fusion: FusionName;
  /** RRF constant 1..65535, 0 = 60; 0 with weighted fusion and with one side */
  rrfK: number;
  /** weight of the vector side 0..1 with weighted fusion; else 0 */
  alpha: number;
  /** candidates per side, 0..4096 (0 = max(k, 100)) */
  depth: number;
  /** filter: the AND of up to 8 clauses on user. attributes */
  where: WhereClause[];
}

/** What {@linkcode encodeHybrid} takes: `k` and at least one side; the rest defaults to 0 / none. */
export type HybridRequestInput = Partial<HybridRequest> & { k: number };

/** The request with every default filled in (the shape {@linkcode decodeHybrid} returns). */
export function hybridRequest(r: HybridRequestInput): HybridRequest {
  return {
    k: r.k,
    query: r.query ?? null,
    excludeIno: r.excludeIno ?? 0,
    ef: r.ef ?? 0,
    exact: r.exact ?? false,
    text: r.text ?? null,
    terms: r.terms ?? null,
    fusion: r.fusion ?? "rrf",
    rrfK: r.rrfK ?? 0,
    alpha: r.alpha ?? 0,
    depth: r.depth ?? 0,
    where: r.where ?? [],
  };
}

/** The `text` bytes of a list of terms: `{u8 len, bytes}` each. */
function termBytes(terms: readonly string[], code: Code): Uint8Array {
  if (terms.length < 1 || terms.length > VEXFS_IOC_HYBRID_MAX_TERMS) {
    throw new FsError(code, `${terms.length} query terms; an ioctl takes 1..${VEXFS_IOC_HYBRID_MAX_TERMS}`);
  }
  const parts = terms.map((t) => enc.encode(t));
  const total = parts.reduce((a, p) => a + 1 + p.length, 0);
  if (total > VEXFS_IOC_HYBRID_TEXT_MAX) {
    throw new FsError(
      code,
      `the query terms take ${total} bytes with a length byte each; an ioctl takes ${VEXFS_IOC_HYBRID_TEXT_MAX}`,
    );
  }
  const out = new Uint8Array(total);
  let p = 0;
  parts.forEach((t, i) => {
    if (t.length < 1 || t.length > VEXFS_IOC_HYBRID_TERM_MAX) {
      throw new FsError(code, `query term ${i + 1} is ${t.length} bytes (1..${VEXFS_IOC_HYBRID_TERM_MAX})`);
    }
    out[p] = t.length;
    out.set(t, p + 1);
    p += 1 + t.length;
  });
  return out;
}

/** The rules on the scalar fields both the encoder and the decoder apply; FsError `code` naming the field. */
function checkHybridFields(r: HybridRequest, code: Code): void {
  const bad = (why: string) => new FsError(code, why);
  const int = (x: number, lo: number, hi: number) => Number.isInteger(x) && x >= lo && x <= hi;
  if (!int(r.k, 1, VEXFS_IOC_HYBRID_MAX_K)) throw bad(`k = ${r.k} is out of range (1..${VEXFS_IOC_HYBRID_MAX_K})`);
  const vec = r.query !== null;
  const txt = r.text !== null || r.terms !== null;
  if (r.text !== null && r.terms !== null) throw bad("both text and terms: give the query text or its terms");
  if (!vec && !txt) throw bad("neither a query vector nor a query text: give at least one");
  if (vec && (r.query!.length < 1 || r.query!.length > VEXFS_IOC_MAX_DIM)) {
    throw bad(`dim = ${r.query!.length} is out of range (1..${VEXFS_IOC_MAX_DIM} through an ioctl)`);
  }
  if (!int(r.ef, 0, VEXFS_IOC_MAX_EF)) {
    throw bad(`ef = ${r.ef} is out of range (1..${VEXFS_IOC_MAX_EF}, or 0 for the engine's choice)`);
  }
  if (!vec && (r.ef !== 0 || r.exact)) throw bad("ef or exact without a query vector: they tune the vector side");
  if (r.exact && r.ef !== 0) {
    throw bad(`ef = ${r.ef} with an exact scan: ef is the breadth of a graph search; give one or the other`);
  }
  if (!int(r.depth, 0, VEXFS_IOC_HYBRID_MAX_DEPTH)) {
    throw bad(`depth = ${r.depth} is out of range (0..${VEXFS_IOC_HYBRID_MAX_DEPTH}; 0 = max(k, 100))`);
  }
  if (r.fusion !== "rrf" && r.fusion !== "weighted") throw bad(`fusion "${r.fusion}" is unknown (rrf or weighted)`);
  const both = vec && txt;
  if (!both && (r.fusion !== "rrf" || r.rrfK !== 0 || !Object.is(r.alpha, 0))) {
    throw bad("fusion, rrf_k or alpha with one side: they only apply when both a vector and a text are given");
  }
  if (r.fusion === "rrf") {
    if (!int(r.rrfK, 0, VEXFS_IOC_HYBRID_MAX_RRF_K)) {
      throw bad(`rrf_k = ${r.rrfK} is out of range (1..${VEXFS_IOC_HYBRID_MAX_RRF_K}, or 0 for 60)`);
    }
    if (!Object.is(r.alpha, 0)) throw bad(`alpha = ${r.alpha} with RRF: alpha is the weight of weighted fusion`);
  } else {
    if (r.rrfK !== 0) throw bad(`rrf_k = ${r.rrfK} with weighted fusion: rrf_k is RRF's constant`);
    if (!(r.alpha >= 0 && r.alpha <= 1)) throw bad(`alpha = ${r.alpha} is out of range (0..1)`);
  }
  if (r.where.length > VEXFS_IOC_HYBRID_MAX_CLAUSES) {
    throw bad(`${r.where.length} where clauses; an ioctl takes ${VEXFS_IOC_HYBRID_MAX_CLAUSES}`);
  }
}

/**
 * Builds the request of {@linkcode VEXFS_IOC_HYBRID}.
 * @throws FsError EINVAL: k out of 1..128; no side, or both text and terms; query length out of 1..2048;
 *   ef out of 0..65535 or given without a vector or with `exact`; depth over 4096; fusion fields with one
 *   side or for the other fusion (rrf_k with weighted, alpha with RRF), alpha outside 0..1, rrf_k over
 *   65535; text over 1024 bytes; terms that are empty, over 64 bytes, more than 64 or over 1024 bytes in
 *   all; more than 8 clauses, a clause outside user., with a name over 63 bytes or values over 120 bytes;
 *   excludeIno not a u64
 */
export function encodeHybrid(input: HybridRequestInput): Uint8Array {
  const r = hybridRequest(input);
  checkHybridFields(r, "EINVAL");
  const b = newStruct(HYBRID);
  const dv = view(b);
  const o = HYBRID.off;
  dv.setUint32(o.k, r.k, true);
  setU64(dv, o.exclude_ino, r.excludeIno, "exclude_ino", "EINVAL");
  dv.setUint32(o.ef, r.ef, true);
  dv.setUint32(o.flags, (r.exact ? VEXFS_IOC_HYBRID_EXACT : 0) | (r.terms ? VEXFS_IOC_HYBRID_TERMS : 0), true);
  b[o.fusion] = r.fusion === "weighted" ? VEXFS_FUSION_WEIGHTED : VEXFS_FUSION_RRF;
  b[o.nclauses] = r.where.length;
  dv.setUint32(o.rrf_k, r.rrfK, true);
  dv.setFloat32(o.alpha, r.alpha, true);
  dv.setUint32(o.depth, r.depth, true);
  r.where.forEach((c, i) => putClause(b, o.clauses + i * FILTER_CLAUSE.size, c, i));
  if (r.text !== null || r.terms !== null) {
    const t = r.terms ? termBytes(r.terms, "EINVAL") : enc.encode(r.text!);
    if (t.length < 1 || t.length > VEXFS_IOC_HYBRID_TEXT_MAX) {
      throw new FsError(
        "EINVAL",
        `the query text is ${t.length} bytes; an ioctl takes 1..${VEXFS_IOC_HYBRID_TEXT_MAX} (search the image ` +
          "offline for a longer one)",
      );
    }
    b.set(t, o.text);
    dv.setUint16(o.text_len, t.length, true);
  }
  if (r.query) {
    dv.setUint32(o.dim, r.query.length, true);
    putF32s(dv, o.query, r.query);
  }
  return b;
}

/** The terms of `text` bytes with VEXFS_IOC_HYBRID_TERMS; FsError EINVAL when they are malformed. */
function parseTerms(t: Uint8Array): string[] {
  const terms: string[] = [];
  let p = 0;
  while (p < t.length) {
    const n = t[p];
    if (n < 1 || n > VEXFS_IOC_HYBRID_TERM_MAX) {
      throw new FsError("EINVAL", `text: term ${terms.length + 1} has length ${n} (1..${VEXFS_IOC_HYBRID_TERM_MAX})`);
    }
    if (p + 1 + n > t.length) {
      throw new FsError("EINVAL", `text: term ${terms.length + 1} (${n} bytes) runs past text_len ${t.length}`);
    }
    if (terms.length === VEXFS_IOC_HYBRID_MAX_TERMS) {
      throw new FsError("EINVAL", `text: more than ${VEXFS_IOC_HYBRID_MAX_TERMS} terms`);
    }
    terms.push(text(t.subarray(p + 1, p + 1 + n), `text: term ${terms.length + 1}`, "EINVAL"));
    p += 1 + n;
  }
  return terms;
}

/**
 * Reads and checks the request of {@linkcode VEXFS_IOC_HYBRID} (the daemon's side). Query values are not
 * checked (the engine refuses NaN and infinities); whether `dim` is the collection's is the engine's check.
 * @throws FsError EINVAL: a bad header; any rule of {@linkcode encodeHybrid}; unknown flags, fusion code,
 *   TERMS without text; alpha NaN; nclauses over 8, a malformed clause, a clause past nclauses not zero;
 *   text_len over 1024, text past text_len not zero, text not UTF-8, malformed terms; output or reserved
 *   fields not zero; query elements past dim not zero
 */
export function decodeHybrid(b: Uint8Array): HybridRequest {
  checkHeader(b, HYBRID);
  const dv = view(b);
  const o = HYBRID.off;
  const flags = dv.getUint32(o.flags, true);
  if (flags & ~(VEXFS_IOC_HYBRID_EXACT | VEXFS_IOC_HYBRID_TERMS)) {
    throw new FsError("EINVAL", `flags = 0x${flags.toString(16)}; only EXACT (0x1) and TERMS (0x2) are defined`);
  }
  const fusionCode = b[o.fusion];
  if (fusionCode !== VEXFS_FUSION_RRF && fusionCode !== VEXFS_FUSION_WEIGHTED) {
    throw new FsError("EINVAL", `fusion = ${fusionCode} is unknown (0 RRF, 1 weighted)`);
  }
  const nclauses = b[o.nclauses];
  if (nclauses > VEXFS_IOC_HYBRID_MAX_CLAUSES) {
    throw new FsError("EINVAL", `nclauses = ${nclauses} is out of range (0..${VEXFS_IOC_HYBRID_MAX_CLAUSES})`);
  }
  const textLen = dv.getUint16(o.text_len, true);
  if (textLen > VEXFS_IOC_HYBRID_TEXT_MAX) {
    throw new FsError("EINVAL", `text_len = ${textLen} is over ${VEXFS_IOC_HYBRID_TEXT_MAX}`);
  }
  const termsFlag = (flags & VEXFS_IOC_HYBRID_TERMS) !== 0;
  if (termsFlag && textLen === 0) throw new FsError("EINVAL", "flags has TERMS but text_len is 0: no terms");
  const dim = dv.getUint32(o.dim, true);
  if (dim > VEXFS_IOC_MAX_DIM) {
    throw new FsError("EINVAL", `dim = ${dim} is out of range (0 for no vector, else 1..${VEXFS_IOC_MAX_DIM})`);
  }
  checkZeroFields(
    b,
    HYBRID,
    [
      "count",
      "collection_id",
      "generation",
      "text_generation",
      "metric",
      "vec_method",
      "exact_reason",
      "reserved0",
      "ef_used",
      "text_matched",
      "filter_passed",
      "terms_used",
      "reserved1",
      "hits",
    ],
    "EINVAL",
  );
  checkZero(b, o.text + textLen, VEXFS_IOC_HYBRID_TEXT_MAX - textLen, "text past text_len", "EINVAL");
  checkZero(b, o.query + 4 * dim, 4 * (VEXFS_IOC_MAX_DIM - dim), `query past dim ${dim}`, "EINVAL");
  const clausesEnd = o.clauses + nclauses * FILTER_CLAUSE.size;
  checkZero(
    b,
    clausesEnd,
    (VEXFS_IOC_HYBRID_MAX_CLAUSES - nclauses) * FILTER_CLAUSE.size,
    `clauses past nclauses ${nclauses}`,
    "EINVAL",
  );
  const t = b.subarray(o.text, o.text + textLen);
  const alpha = dv.getFloat32(o.alpha, true);
  if (Number.isNaN(alpha)) throw new FsError("EINVAL", "alpha is NaN");
  const r: HybridRequest = {
    k: dv.getUint32(o.k, true),
    query: dim ? getF32s(dv, o.query, dim) : null,
    excludeIno: getU64Exact(dv, o.exclude_ino),
    ef: dv.getUint32(o.ef, true),
    exact: (flags & VEXFS_IOC_HYBRID_EXACT) !== 0,
    text: textLen && !termsFlag ? text(t, "text", "EINVAL") : null,
    terms: termsFlag ? parseTerms(t) : null,
    fusion: fusionCode === VEXFS_FUSION_WEIGHTED ? "weighted" : "rrf",
    rrfK: dv.getUint32(o.rrf_k, true),
    alpha,
    depth: dv.getUint32(o.depth, true),
    where: Array.from({ length: nclauses }, (_, i) => getClause(b, o.clauses + i * FILTER_CLAUSE.size, i)),
  };
  checkHybridFields(r, "EINVAL");
  return r;
}

// ------------------------------------------------------------ HYBRID reply

/** The output of {@linkcode VEXFS_IOC_HYBRID}. */
export interface HybridReply {
  /** best first: the fused score (f32), each side's 1-based rank and score or null (not among its candidates) */
  hits: FusedHit[];
  collectionId: number;
  /** the collection's vector-store generation */
  generation: number;
  /** the collection's text generation (FORMAT.md §8.1) */
  textGeneration: number;
  /** the collection's metric: how to read the vector scores */
  metric: Metric;
  /** how the vector side was answered (as SEARCH2), null without a vector side */
  vecMethod: SearchMethod | null;
  /** why an exact scan answered the vector side; absent otherwise */
  exactReason?: ExactReason;
  /** documents with at least one query term that pass the filter */
  textMatched: number;
  /** files that pass the filter; 0 without one */
  filterPassed: number;
  /** query terms after analysis */
  termsUsed: number;
}

/**
 * Builds the reply of {@linkcode VEXFS_IOC_HYBRID} (the daemon's side): the request echoed, the outputs
 * filled; hit scores are rounded to f32.
 * @throws RangeError if there are more hits than `k`; FsError EIO for a generation or hit inode that is not
 *   a u64, a count or rank that is not a u32
 */
export function encodeHybridReply(r: HybridRequestInput, out: HybridReply): Uint8Array {
  if (out.hits.length > r.k) throw new RangeError(`${out.hits.length} hits for k = ${r.k}`);
  const b = encodeHybrid(r);
  const dv = view(b);
  const o = HYBRID.off;
  dv.setUint32(o.count, out.hits.length, true);
  setU32(dv, o.collection_id, out.collectionId, "collection_id", "EIO");
  setU64(dv, o.generation, out.generation, "generation", "EIO");
  setU64(dv, o.text_generation, out.textGeneration, "text_generation", "EIO");
  b[o.metric] = METRIC_CODE[out.metric];
  const m = out.vecMethod?.method;
  if (m === "hnsw") {
    b[o.vec_method] = VEXFS_SEARCH_METHOD_HNSW;
    setU32(dv, o.ef_used, out.vecMethod!.ef ?? 0, "ef_used", "EIO");
  } else if (m === "exact") {
    b[o.vec_method] = VEXFS_SEARCH_METHOD_EXACT;
    b[o.exact_reason] = EXACT_REASON_CODE[out.exactReason ?? "other"];
  }
  setU32(dv, o.text_matched, out.textMatched, "text_matched", "EIO");
  setU32(dv, o.filter_passed, out.filterPassed, "filter_passed", "EIO");
  setU32(dv, o.terms_used, out.termsUsed, "terms_used", "EIO");
  const h = HYBRID_HIT.off;
  out.hits.forEach((x, i) => {
    const at = o.hits + i * HYBRID_HIT.size;
    setU64(dv, at + h.ino, x.ino, `hits[${i}].ino`, "EIO");
    dv.setFloat32(at + h.score, x.score, true);
    if (x.vector) {
      dv.setFloat32(at + h.vec_score, x.vector.score, true);
      setU32(dv, at + h.vec_rank, x.vector.rank, `hits[${i}].vec_rank`, "EIO");
    }
    if (x.text) {
      dv.setFloat32(at + h.text_score, x.text.score, true);
      setU32(dv, at + h.text_rank, x.text.rank, `hits[${i}].text_rank`, "EIO");
    }
  });
  return b;
}

/**
 * Reads the reply of {@linkcode VEXFS_IOC_HYBRID} (the client's side). An unknown `exact_reason` reads as
 * "other", an unknown `vec_method` as `{method: "unknown"}`.
 * @throws FsError EIO: a bad header, count over k or 128, a hit inode or generation above 2^53 - 1, an
 *   unknown metric, a hit with rank 0 but a non-zero score on that side
 */
export function decodeHybridReply(b: Uint8Array): HybridReply {
  checkHeader(b, HYBRID, "EIO");
  const dv = view(b);
  const o = HYBRID.off;
  const k = dv.getUint32(o.k, true);
  const count = dv.getUint32(o.count, true);
  if (count > k || count > VEXFS_IOC_HYBRID_MAX_K) {
    throw new FsError("EIO", `hybrid reply has count ${count} for k = ${k}`);
  }
  const h = HYBRID_HIT.off;
  const hits: FusedHit[] = [];
  for (let i = 0; i < count; i++) {
    const at = o.hits + i * HYBRID_HIT.size;
    const side = (rankOff: number, scoreOff: number, name: string) => {
      const rank = dv.getUint32(at + rankOff, true);
      const score = dv.getFloat32(at + scoreOff, true);
      if (rank === 0 && score !== 0) throw new FsError("EIO", `hits[${i}]: ${name} score ${score} with rank 0`);
      return rank ? { rank, score } : null;
    };
    hits.push({
      ino: getU64(dv, at + h.ino, `${HYBRID.cName}.hits[${i}].ino`),
      score: dv.getFloat32(at + h.score, true),
      vector: side(h.vec_rank, h.vec_score, "vector"),
      text: side(h.text_rank, h.text_score, "text"),
    });
  }
  const mcode = b[o.vec_method];
  let vecMethod: SearchMethod | null = null;
  let exactReason: ExactReason | undefined;
  if (mcode === VEXFS_SEARCH_METHOD_HNSW) vecMethod = { method: "hnsw", ef: dv.getUint32(o.ef_used, true) };
  else if (mcode === VEXFS_SEARCH_METHOD_EXACT) {
    const rc = b[o.exact_reason];
    exactReason = (Object.keys(EXACT_REASON_CODE) as ExactReason[]).find((x) => EXACT_REASON_CODE[x] === rc) ??
      "other";
    const why = EXACT_REASON_TEXT[exactReason];
    vecMethod = { method: "exact", ...(why !== undefined ? { reason: why } : {}) };
  } else if (mcode !== 0) vecMethod = { method: "unknown" };
  return {
    hits,
    collectionId: dv.getUint32(o.collection_id, true),
    generation: getU64(dv, o.generation, `${HYBRID.cName}.generation`),
    textGeneration: getU64(dv, o.text_generation, `${HYBRID.cName}.text_generation`),
    metric: metricOfCode(b[o.metric], "EIO"),
    vecMethod,
    ...(exactReason ? { exactReason } : {}),
    textMatched: dv.getUint32(o.text_matched, true),
    filterPassed: dv.getUint32(o.filter_passed, true),
    termsUsed: dv.getUint32(o.terms_used, true),
  };
}

// ------------------------------------------------------------ TEXT_INDEX

/** An operation of {@linkcode VEXFS_IOC_TEXT_INDEX} (`vexfs index build|drop|stats --text`). */
export type TextIndexOpName = "build" | "drop" | "stats";

/** `VEXFS_TEXT_INDEX_OP_*` code of each {@linkcode TextIndexOpName}. */
export const TEXT_INDEX_OP_CODE: Readonly<Record<TextIndexOpName, number>> = Object.freeze({
  build: VEXFS_TEXT_INDEX_OP_BUILD,
  drop: VEXFS_TEXT_INDEX_OP_DROP,
  stats: VEXFS_TEXT_INDEX_OP_STATS,
});

/**
 * The input of {@linkcode VEXFS_IOC_TEXT_INDEX}: the operation and, for a build, the parameters that are
 * given (the others keep the collection's values, or the defaults for a first build).
 */
export interface TextIndexRequest {
  op: TextIndexOpName;
  /** BM25 k1, 0 < k1 <= 10 */
  k1?: number;
  /** BM25 b, 0 <= b <= 1 */
  b?: number;
  /** files larger than this many bytes are skipped, 1024 .. 2^30 */
  maxFile?: number;
  /** the analyzer: all four fields together */
  analyzer?: AnalyzerParams;
}

/** The parameters of a keyword index, as TEXT_INDEX reports them (the engine's `TextIndexParams` shape). */
export interface TextIndexWireParams extends AnalyzerParams {
  k1: number;
  b: number;
  maxFile: number;
}

/** The output of {@linkcode VEXFS_IOC_TEXT_INDEX}: the index's figures after the operation. */
export interface TextIndexReply {
  /** the index's parameters; null when the collection has no keyword index (`analyzer` 0) */
  params: TextIndexWireParams | null;
  /** the index matches the files */
  fresh: boolean;
  collectionId: number;
  segments: number;
  textGeneration: number;
  /** N: documents with at least one token */
  docCount: number;
  totalTokens: number;
  /** dictionary records over the live segments */
  terms: number;
  /** allocated bytes of the index file */
  fileBytes: number;
  /** bytes of the documents covered, 0 when unknown (the kernel module) */
  textBytes: number;
  skippedBinary: number;
  skippedLarge: number;
  /** microseconds of the last full build */
  buildUs: number;
  /** the analyzer build the index was made with (ASCII) */
  signature: string;
  /** why the index is stale, what a catch-up did (UTF-8, at most 127 bytes) */
  note: string;
}

/** The rules on a request's parameters; FsError `code` naming the field. */
function checkTextIndexParams(r: TextIndexRequest, code: Code): void {
  const bad = (why: string) => new FsError(code, why);
  const any = r.k1 !== undefined || r.b !== undefined || r.maxFile !== undefined || r.analyzer !== undefined;
  if (r.op !== "build" && any) throw bad(`k1, b, max_file and the analyzer only apply to build, not ${r.op}`);
  if (r.k1 !== undefined && !(r.k1 > 0 && r.k1 <= BM25_K1_MAX)) {
    throw bad(`k1 = ${r.k1} is out of range (0 < k1 <= ${BM25_K1_MAX})`);
  }
  if (r.b !== undefined && !(r.b >= 0 && r.b <= 1)) throw bad(`b = ${r.b} is out of range (0..1)`);
  if (
    r.maxFile !== undefined &&
    !(Number.isInteger(r.maxFile) && r.maxFile >= BM25_MAX_FILE_MIN && r.maxFile <= BM25_MAX_FILE_MAX)
  ) {
    throw bad(`max_file = ${r.maxFile} is out of range (${BM25_MAX_FILE_MIN}..${BM25_MAX_FILE_MAX} bytes)`);
  }
  const a = r.analyzer;
  if (a) {
    if (a.analyzer !== VEXFS_ANALYZER_WORD_V1) throw bad(`analyzer = ${a.analyzer} is unknown (1 = word-v1)`);
    if ((a.stemmer !== 0 && a.stemmer !== 1) || (a.stopwords !== 0 && a.stopwords !== 1)) {
      throw bad(`stemmer = ${a.stemmer}, stopwords = ${a.stopwords}: each is 0 or 1`);
    }
    const lang = enc.encode(a.lang);
    const padded = new Uint8Array(VEXFS_IOC_LANG_MAX);
    if (lang.length > VEXFS_IOC_LANG_MAX || (padded.set(lang), !bm25LangValid(padded))) {
      throw bad(`lang "${a.lang}" is not 0..${VEXFS_IOC_LANG_MAX} lowercase ASCII letters`);
    }
    if ((a.stemmer || a.stopwords) && a.lang === "") throw bad("stemming or stop words need a lang");
  }
}

/**
 * Builds the request of {@linkcode VEXFS_IOC_TEXT_INDEX}.
 * @throws FsError EINVAL: parameters with drop or stats; k1, b, maxFile out of range; an unknown analyzer,
 *   stemmer or stopwords not 0/1, a lang that is not 0..8 lowercase ASCII letters, stemming or stop words
 *   without a lang
 */
export function encodeTextIndex(r: TextIndexRequest): Uint8Array {
  checkTextIndexParams(r, "EINVAL");
  const b = newStruct(TEXT_INDEX);
  const dv = view(b);
  const o = TEXT_INDEX.off;
  dv.setUint32(o.op, TEXT_INDEX_OP_CODE[r.op], true);
  let set = 0;
  if (r.k1 !== undefined) {
    set |= VEXFS_TEXT_INDEX_SET_K1;
    dv.setFloat64(o.k1, r.k1, true);
  }
  if (r.b !== undefined) {
    set |= VEXFS_TEXT_INDEX_SET_B;
    dv.setFloat64(o.b, r.b, true);
  }
  if (r.maxFile !== undefined) {
    set |= VEXFS_TEXT_INDEX_SET_MAX_FILE;
    dv.setUint32(o.max_file, r.maxFile, true);
  }
  if (r.analyzer) {
    set |= VEXFS_TEXT_INDEX_SET_ANALYZER;
    putParams(b, r.analyzer);
  }
  dv.setUint32(o.set, set, true);
  return b;
}

function putParams(b: Uint8Array, a: AnalyzerParams): void {
  const o = TEXT_INDEX.off;
  b[o.analyzer] = a.analyzer;
  b[o.stemmer] = a.stemmer;
  b[o.stopwords] = a.stopwords;
  b.fill(0, o.lang, o.lang + VEXFS_IOC_LANG_MAX);
  b.set(enc.encode(a.lang), o.lang);
}

/**
 * Reads and checks the request of {@linkcode VEXFS_IOC_TEXT_INDEX} (the daemon's side).
 * @throws FsError EINVAL: a bad header, an unknown op or set bit, set with drop or stats, a field not
 *   named by set that is not zero, the rules of {@linkcode encodeTextIndex}, output or reserved fields
 *   not zero
 */
export function decodeTextIndex(b: Uint8Array): TextIndexRequest {
  checkHeader(b, TEXT_INDEX);
  const dv = view(b);
  const o = TEXT_INDEX.off;
  const code = dv.getUint32(o.op, true);
  const op = (Object.keys(TEXT_INDEX_OP_CODE) as TextIndexOpName[]).find((x) => TEXT_INDEX_OP_CODE[x] === code);
  if (!op) throw new FsError("EINVAL", `op = ${code} is unknown (1 build, 2 drop, 3 stats)`);
  const set = dv.getUint32(o.set, true);
  const all = VEXFS_TEXT_INDEX_SET_K1 | VEXFS_TEXT_INDEX_SET_B | VEXFS_TEXT_INDEX_SET_MAX_FILE |
    VEXFS_TEXT_INDEX_SET_ANALYZER;
  if (set & ~all) throw new FsError("EINVAL", `set = 0x${set.toString(16)}; only 0x1..0x8 are defined`);
  if (set && op !== "build") throw new FsError("EINVAL", `set = 0x${set.toString(16)} with ${op}: only build takes it`);
  const r: TextIndexRequest = { op };
  const unset: (keyof typeof o)[] = [];
  if (set & VEXFS_TEXT_INDEX_SET_K1) r.k1 = dv.getFloat64(o.k1, true);
  else unset.push("k1");
  if (set & VEXFS_TEXT_INDEX_SET_B) r.b = dv.getFloat64(o.b, true);
  else unset.push("b");
  if (set & VEXFS_TEXT_INDEX_SET_MAX_FILE) r.maxFile = dv.getUint32(o.max_file, true);
  else unset.push("max_file");
  if (set & VEXFS_TEXT_INDEX_SET_ANALYZER) {
    const lang = b.subarray(o.lang, o.lang + VEXFS_IOC_LANG_MAX);
    if (!bm25LangValid(lang)) throw new FsError("EINVAL", "lang is not lowercase ASCII letters padded with NULs");
    const stemmer = b[o.stemmer], stopwords = b[o.stopwords];
    if (stemmer > 1 || stopwords > 1) {
      throw new FsError("EINVAL", `stemmer = ${stemmer}, stopwords = ${stopwords}: each is 0 or 1`);
    }
    r.analyzer = {
      analyzer: b[o.analyzer],
      stemmer: stemmer as 0 | 1,
      stopwords: stopwords as 0 | 1,
      lang: String.fromCharCode(...lang.subarray(0, lang.indexOf(0) < 0 ? lang.length : lang.indexOf(0))),
    };
  } else unset.push("analyzer", "stemmer", "stopwords", "lang");
  checkZeroFields(b, TEXT_INDEX, unset, "EINVAL");
  checkZeroFields(
    b,
    TEXT_INDEX,
    [
      "fresh",
      "collection_id",
      "segments",
      "text_generation",
      "doc_count",
      "total_tokens",
      "terms",
      "file_bytes",
      "text_bytes",
      "skipped_binary",
      "skipped_large",
      "build_us",
      "signature",
      "note",
      "reserved",
    ],
    "EINVAL",
  );
  checkTextIndexParams(r, "EINVAL");
  return r;
}

/**
 * Builds the reply of {@linkcode VEXFS_IOC_TEXT_INDEX} (the daemon's side): the request echoed, the
 * parameters and figures filled (the parameters 0 when `out.params` is null); the note is cut to 127
 * bytes at a character boundary.
 * @throws FsError EIO for a figure that is not a u64 (a count that is not a u32), a signature that is not
 *   0..64 printable ASCII characters, parameters outside the record's rules
 */
export function encodeTextIndexReply(r: TextIndexRequest, out: TextIndexReply): Uint8Array {
  const b = encodeTextIndex(r);
  const dv = view(b);
  const o = TEXT_INDEX.off;
  b.fill(0, o.k1, o.lang + VEXFS_IOC_LANG_MAX);
  if (out.params) {
    try {
      checkTextIndexParams({ op: "build", ...out.params, analyzer: out.params }, "EIO");
    } catch (e) {
      throw new FsError("EIO", `text index reply: ${(e as Error).message}`);
    }
    dv.setFloat64(o.k1, out.params.k1, true);
    dv.setFloat64(o.b, out.params.b, true);
    dv.setUint32(o.max_file, out.params.maxFile, true);
    putParams(b, out.params);
  }
  b[o.fresh] = out.fresh ? 1 : 0;
  setU32(dv, o.collection_id, out.collectionId, "collection_id", "EIO");
  setU32(dv, o.segments, out.segments, "segments", "EIO");
  const u64s: [keyof typeof o, number][] = [
    ["text_generation", out.textGeneration],
    ["doc_count", out.docCount],
    ["total_tokens", out.totalTokens],
    ["terms", out.terms],
    ["file_bytes", out.fileBytes],
    ["text_bytes", out.textBytes],
    ["skipped_binary", out.skippedBinary],
    ["skipped_large", out.skippedLarge],
    ["build_us", out.buildUs],
  ];
  for (const [f, v] of u64s) setU64(dv, o[f], v, f, "EIO");
  if (out.signature.length > VEXFS_IOC_SIGNATURE_MAX || !/^[\x20-\x7e]*$/.test(out.signature)) {
    throw new FsError("EIO", `signature "${out.signature}" is not 0..64 printable ASCII characters`);
  }
  b.set(enc.encode(out.signature), o.signature);
  let note = out.note;
  while (enc.encode(note).length > VEXFS_IOC_NOTE_MAX - 1) note = [...note].slice(0, -1).join("");
  b.set(enc.encode(note), o.note);
  return b;
}

/** Text of a NUL-padded (or NUL-terminated) field, up to its first NUL. */
function cString(b: Uint8Array, what: string): string {
  const nul = b.indexOf(0);
  return text(nul < 0 ? b : b.subarray(0, nul), what, "EIO");
}

/**
 * Reads the reply of {@linkcode VEXFS_IOC_TEXT_INDEX} (the client's side).
 * @throws FsError EIO: a bad header, a figure above 2^53 - 1, `fresh` not 0/1, parameters outside the
 *   record's rules, a lang or signature that is not ASCII, a note that is not UTF-8
 */
export function decodeTextIndexReply(b: Uint8Array): TextIndexReply {
  checkHeader(b, TEXT_INDEX, "EIO");
  const dv = view(b);
  const o = TEXT_INDEX.off;
  const f = (name: keyof typeof o) => getU64(dv, o[name], `${TEXT_INDEX.cName}.${name}`);
  if (b[o.fresh] > 1) throw new FsError("EIO", `fresh = ${b[o.fresh]} (0 or 1)`);
  let params: TextIndexWireParams | null = null;
  if (b[o.analyzer] !== 0) {
    const lang = b.subarray(o.lang, o.lang + VEXFS_IOC_LANG_MAX);
    if (!bm25LangValid(lang)) throw new FsError("EIO", "text index reply: lang is not lowercase ASCII letters");
    params = {
      analyzer: b[o.analyzer],
      stemmer: b[o.stemmer] as 0 | 1,
      stopwords: b[o.stopwords] as 0 | 1,
      lang: cString(lang, "lang"),
      k1: dv.getFloat64(o.k1, true),
      b: dv.getFloat64(o.b, true),
      maxFile: dv.getUint32(o.max_file, true),
    };
    try {
      checkTextIndexParams({ op: "build", ...params, analyzer: params }, "EIO");
    } catch (e) {
      throw new FsError("EIO", `text index reply: ${(e as Error).message}`);
    }
  }
  const signature = cString(b.subarray(o.signature, o.signature + VEXFS_IOC_SIGNATURE_MAX), "signature");
  if (!/^[\x20-\x7e]*$/.test(signature)) throw new FsError("EIO", "text index reply: signature is not ASCII");
  return {
    params,
    fresh: b[o.fresh] === 1,
    collectionId: dv.getUint32(o.collection_id, true),
    segments: dv.getUint32(o.segments, true),
    textGeneration: f("text_generation"),
    docCount: f("doc_count"),
    totalTokens: f("total_tokens"),
    terms: f("terms"),
    fileBytes: f("file_bytes"),
    textBytes: f("text_bytes"),
    skippedBinary: f("skipped_binary"),
    skippedLarge: f("skipped_large"),
    buildUs: f("build_us"),
    signature,
    note: cString(b.subarray(o.note, o.note + VEXFS_IOC_NOTE_MAX), "note"),
  };
}
