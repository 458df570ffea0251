/**
 * Client side of the hybrid search and of the keyword index on a mount
 * (docs/IOCTL.md §3.15 `VEXFS_IOC_HYBRID`, §3.16 `VEXFS_IOC_TEXT_INDEX`;
 * design of issue 12, §6.2, §6.5): a query vector, a query text, fusion
 * parameters and an xattr filter in one call, hits with fused and per-side
 * ranks and scores named by path; build, drop and report a collection's
 * keyword index. What the CLI's mounted backend (commands/mounted.ts) calls
 * for `vexfs search --text/--where` and `vexfs index ... --text` on a mount.
 *
 * The query text is analysed here with the collection's analyzer (its
 * parameters from `TEXT_INDEX` stats) and sent as terms
 * (`VEXFS_IOC_HYBRID_TERMS`), what the kernel module takes, so a mount
 * served by either answers the same. The raw text is sent instead, for the
 * filesystem to analyse, when the terms cannot stand for it: this build's
 * analyzer is not the one the index was made with (another signature), the
 * text has no terms (all stop words or punctuation: the filesystem answers
 * as the engine does), or the terms do not fit the ioctl (more than 64, over
 * 1024 bytes with their length bytes).
 *
 * A daemon older than `HYBRID` answers `ENOTTY`: a vector search without
 * text or filter then goes through `SEARCH2`, anything else is refused with
 * the advice to remount with this vexfs or search the unmounted image.
 * @module
 */
import { ERRNO, FsError } from "../errors.ts";
import type { TextIndexParams, TextIndexStats } from "../fs/text_index_types.ts";
import type { SearchHit, SearchMethod } from "../fs/vector_types.ts";
import type { FusedHit } from "../search/fusion.ts";
import { DEFAULT_RRF_K } from "../search/fusion.ts";
import type { FusionMethod, HybridTextMethod } from "../search/hybrid.ts";
import type { Where } from "../search/where.ts";
import { type AnalyzerParams, DEFAULT_ANALYZER, makeAnalyzer } from "../text/analyzer.ts";
import {
  decodeHybridReply,
  decodeTextIndexReply,
  encodeHybrid,
  encodeTextIndex,
  ENOTTY,
  errnoFsError,
  type HybridRequestInput,
  type TextIndexReply,
  type TextIndexRequest,
  VEXFS_IOC_HYBRID,
  VEXFS_IOC_HYBRID_MAX_TERMS,
  VEXFS_IOC_HYBRID_TEXT_MAX,
  VEXFS_IOC_TEXT_INDEX,
} from "./abi.ts";
import { commonError, explainVector, generic, infoFor, notInCollection } from "./client_errors.ts";
import { inoPathFd, isVexfs, searchExWithPaths } from "./client_search.ts";
import { ioctl, withFd } from "./client_sys.ts";

/** A hybrid search request on a mount (the fields of `struct vexfs_ioc_hybrid` the client fills). */
export interface HybridRequest {
  /** query vector (the collection's dimension), absent: no vector side */
  vector?: Float32Array;
  /** query text, absent: no text side */
  text?: string;
  /** 1..128 through the ioctl */
  k: number;
  fusion?: "rrf" | "weighted";
  alpha?: number;
  rrfK?: number;
  /** candidates per side, k..4096 (default max(k, 100)) */
  depth?: number;
  /** at most 8 clauses, names of at most 63 bytes after `user.`, 120 value bytes a clause through the ioctl */
  where?: Where;
  /** inode to leave out (the `--like` file) */
  excludeIno?: number;
  ef?: number;
  exact?: boolean;
}

/** Hits with paths relative to the searched directory, and how each side answered. */
export interface HybridReply {
  hits: (FusedHit & SearchHit)[];
  method: { vector: SearchMethod | null; text: HybridTextMethod | null; fusion: FusionMethod | null };
}

/** What a search asked of the mount that only the hybrid ioctl can answer, for messages. */
function asked(req: HybridRequest): string {
  const parts = [];
  if (req.text !== undefined) parts.push("--text");
  if (req.where?.length) parts.push("--where");
  return parts.join(" and ") || "a hybrid search";
}

function olderThan(dir: string, cmd: string, what: string): FsError {
  return errnoFsError(
    ENOTTY,
    `${dir}: the VexFS serving this mount is older than ${cmd}, so it cannot ${what}; remount it with this ` +
      `vexfs, or run the command on the unmounted image (vexfs ... IMAGE DIR)`,
  );
}

/** The TEXT_INDEX reply of `req` on `fd`, or the errno. */
async function textIndexFd(fd: number, req: TextIndexRequest): Promise<TextIndexReply | number> {
  const buf = encodeTextIndex(req);
  const r = await ioctl(fd, VEXFS_IOC_TEXT_INDEX, buf);
  return r >= 0 ? decodeTextIndexReply(buf) : -r;
}

/** The terms to send for `text` with the index's analyzer `p` (signature `sig`), or null to send the raw text. */
function termsFor(text: string, p: AnalyzerParams, sig: string): string[] | null {
  const a = makeAnalyzer(p);
  if (a.signature !== sig) return null;
  const terms = a.terms(text);
  if (terms.length === 0 || terms.length > VEXFS_IOC_HYBRID_MAX_TERMS) return null;
  const enc = new TextEncoder();
  const bytes = terms.reduce((s, t) => s + 1 + enc.encode(t).length, 0);
  return bytes <= VEXFS_IOC_HYBRID_TEXT_MAX ? terms : null;
}

/** The error of a refused HYBRID call; null for ENOTTY from a VexFS daemon older than HYBRID. */
async function hybridError(fd: number, dir: string, req: HybridRequest, errno: number): Promise<FsError | null> {
  if (errno === ENOTTY && (await isVexfs(fd))) return null;
  const what = "search";
  const common = commonError(errno, dir, what);
  if (common) return common;
  if (errno === ERRNO.ENOTDIR) {
    return errnoFsError(errno, `${dir} is not a directory; search a directory (the collection root or one below it)`);
  }
  if (errno === ERRNO.ENODATA) {
    return errnoFsError(
      errno,
      `the collection of ${dir} has no keyword index, so --text cannot be answered; build one with ` +
        `'vexfs index build --text ${dir}'`,
    );
  }
  if (errno === ERRNO.EINVAL) {
    if (req.vector) return errnoFsError(errno, await explainVector(fd, dir, req.vector, "query"));
    if (!(await infoFor(fd))) return errnoFsError(errno, notInCollection(dir));
    return errnoFsError(errno, `${dir}: the filesystem refused the search's parameters`);
  }
  return generic(errno, dir, what);
}

/**
 * Hybrid search below host directory `dir` on a mounted VexFS, hits named
 * by path (module doc: how the text is sent).
 * @param dir a directory on the mount (a collection root or below it)
 * @param req the query ({@link HybridRequest})
 * @returns hits best first with paths relative to `dir` (a hit deleted before it is named is left out), and the
 *   method: each side's (the text side's `docs` is the index's N when the text was analysed here, else 0;
 *   `caughtUp` is not reported through the ioctl: false)
 * @throws FsError EINVAL (a field out of the ioctl's range, a filter past its limits, a query of another
 *   dimension, not in a collection: the message says which), ENODATA (no keyword index: the message says how to
 *   build one), ENOTDIR, ENOTTY (not VexFS, or a daemon older than HYBRID: the message says to remount), ENOENT
 */
export async function hybridSearch(dir: string, req: HybridRequest): Promise<HybridReply> {
  const vec = req.vector !== undefined;
  const txt = req.text !== undefined;
  const both = vec && txt;
  const base: HybridRequestInput = {
    k: req.k,
    query: req.vector ?? null,
    excludeIno: req.excludeIno ?? 0,
    ef: req.ef ?? 0,
    exact: req.exact ?? false,
    fusion: both ? req.fusion ?? "rrf" : "rrf",
    rrfK: both && (req.fusion ?? "rrf") === "rrf" ? req.rrfK ?? 0 : 0,
    alpha: both && req.fusion === "weighted" ? req.alpha ?? 0.5 : 0,
    depth: both ? req.depth ?? 0 : 0,
    where: [...(req.where ?? [])],
  };
  if (txt && req.text!.trim() === "") throw new FsError("EINVAL", "the text query is empty");
  // checks every field before anything is sent (the text is checked again once it is known)
  encodeHybrid({ ...base, ...(txt ? { text: "x" } : {}) });
  return await withFd(dir, async (fd) => {
    let terms: string[] | null = null;
    let docs = 0;
    if (txt) {
      const st = await textIndexFd(fd, { op: "stats" });
      if (typeof st === "number") {
        if (st === ENOTTY && (await isVexfs(fd))) throw olderThan(dir, "VEXFS_IOC_HYBRID", `answer ${asked(req)}`);
        throw (await hybridError(fd, dir, req, st))!;
      }
      if (!st.params) throw (await hybridError(fd, dir, req, ERRNO.ENODATA))!;
      docs = st.docCount;
      terms = termsFor(req.text!, st.params, st.signature);
    }
    const buf = encodeHybrid({ ...base, ...(terms ? { terms } : txt ? { text: req.text } : {}) });
    const r = await ioctl(fd, VEXFS_IOC_HYBRID, buf);
    if (r < 0) {
      const err = await hybridError(fd, dir, req, -r);
      if (err) throw err;
      if (txt || req.where?.length) throw olderThan(dir, "VEXFS_IOC_HYBRID", `answer ${asked(req)}`);
      // a vector search without text or filter: SEARCH2 answers it
      const s = await searchExWithPaths(dir, req.vector!, req.k, {
        ...(req.excludeIno ? { excludeIno: req.excludeIno } : {}),
        ...(req.ef ? { ef: req.ef } : {}),
        ...(req.exact ? { exact: true } : {}),
      });
      return {
        hits: s.hits.map((h, i) => ({ ...h, vector: { rank: i + 1, score: h.score }, text: null })),
        method: { vector: s.method, text: null, fusion: null },
      };
    }
    const reply = decodeHybridReply(buf);
    const hits: (FusedHit & SearchHit)[] = [];
    for (const h of reply.hits) {
      const path = await inoPathFd(fd, dir, h.ino);
      if (path !== null) hits.push({ ...h, path });
    }
    const depth = base.depth || Math.max(req.k, 100);
    const fusion: FusionMethod | null = !both
      ? null
      : base.fusion === "weighted"
      ? { kind: "weighted", alpha: base.alpha!, depth }
      : { kind: "rrf", rrfK: base.rrfK || DEFAULT_RRF_K, depth };
    return {
      hits,
      method: {
        vector: reply.vecMethod,
        text: txt
          ? {
            docs,
            terms: terms ?? [],
            matched: reply.textMatched,
            textGeneration: reply.textGeneration,
            caughtUp: false,
          }
          : null,
        fusion,
      },
    };
  });
}

/** The engine's `TextIndexStats` shape of a TEXT_INDEX reply (emptyDocs and longTokens are not in the ioctl: 0). */
function statsOf(r: TextIndexReply): TextIndexStats {
  return {
    enabled: r.params !== null,
    fresh: r.fresh,
    note: r.note,
    params: r.params,
    docCount: r.docCount,
    totalTokens: r.totalTokens,
    terms: r.terms,
    segments: r.segments,
    fileBytes: r.fileBytes,
    textBytes: r.textBytes,
    skippedBinary: r.skippedBinary,
    skippedLarge: r.skippedLarge,
    emptyDocs: 0,
    longTokens: 0,
    textGeneration: r.textGeneration,
    buildMs: r.buildUs / 1000,
    signature: r.signature,
  };
}

/**
 * `vexfs index build|drop|stats --text` on a mounted VexFS
 * ({@linkcode VEXFS_IOC_TEXT_INDEX}, docs/IOCTL.md §3.16): one operation on
 * the keyword index of the collection containing host directory `dir`.
 * @param req build (the parameters given replace the collection's, the others are kept, or the defaults for a
 *   first build; analyzer fields given alone are completed from the collection's analyzer), drop, or stats
 * @returns the index's figures after the operation (`emptyDocs` and `longTokens` 0: the ioctl does not carry them)
 * @throws FsError EINVAL (a parameter out of range, a language without a stemmer or stop words, not in a
 *   collection), ENODATA (drop without an index), EACCES (build or drop without write permission on the
 *   collection's root), EROFS, ENOSPC, ENOTDIR, ENOTTY (not VexFS, or a daemon older than TEXT_INDEX: the message
 *   says to remount)
 */
export async function textIndex(
  dir: string,
  req: { op: "build"; params?: Partial<TextIndexParams> } | { op: "drop" } | { op: "stats" },
): Promise<TextIndexStats> {
  const what = req.op === "stats" ? "read the keyword index figures" : `${req.op} the keyword index`;
  return await withFd(dir, async (fd) => {
    let wire: TextIndexRequest = { op: req.op };
    if (req.op === "build" && req.params) {
      const p = req.params;
      wire = { op: "build", k1: p.k1, b: p.b, maxFile: p.maxFile };
      if (p.analyzer !== undefined || p.stemmer !== undefined || p.stopwords !== undefined || p.lang !== undefined) {
        const st = await textIndexFd(fd, { op: "stats" });
        const cur: AnalyzerParams = typeof st === "number" || !st.params ? DEFAULT_ANALYZER : st.params;
        wire.analyzer = {
          analyzer: p.analyzer ?? cur.analyzer,
          stemmer: p.stemmer ?? cur.stemmer,
          stopwords: p.stopwords ?? cur.stopwords,
          lang: p.lang ?? cur.lang,
        };
      }
      for (const k of ["k1", "b", "maxFile"] as const) if (wire[k] === undefined) delete wire[k];
    }
    const r = await textIndexFd(fd, wire);
    if (typeof r !== "number") return statsOf(r);
    if (r === ENOTTY && (await isVexfs(fd))) throw olderThan(dir, "VEXFS_IOC_TEXT_INDEX", what);
    const common = commonError(r, dir, what);
    if (common) throw common;
    if (r === ERRNO.ENODATA) {
      throw errnoFsError(r, `the collection of ${dir} has no keyword index to drop`);
    }
    if (r === ERRNO.ENOTDIR) {
      throw errnoFsError(r, `${dir} is not a directory; give the collection root or a directory below it`);
    }
    if (r === ERRNO.EINVAL && (await textIndexFd(fd, { op: "stats" })) === ERRNO.EINVAL) {
      throw errnoFsError(r, notInCollection(dir));
    }
    throw generic(r, dir, what);
  });
}
