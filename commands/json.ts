/**
 * The `--json` output contract of every `vexfs` command (docs/JSON.md): one
 * builder per shape, so that a collection, a file, a search hit, usage or an
 * error reads the same wherever it appears, and one {@link printJsonResult}
 * that puts the envelope (`schema_version`, `command`) around every result.
 * The JSON Schemas in docs/schema/ describe what these functions produce;
 * commands/json_contract_test.ts checks real output against them.
 *
 * Rules the builders follow (docs/JSON.md §2): snake_case names; sizes in
 * bytes as integers named `*_bytes`, quantities of blocks `*_blocks`, block
 * numbers `*_block`; timestamps as ISO-8601 UTC strings (null when never);
 * durations as numbers named `*_ms`; absent values as null, not left out.
 * @module
 */
import type { FileInfo } from "./backend.ts";
import type { CollectionView } from "./backend.ts";
import type { IndexStats, SearchHit, SearchMethod } from "../src/fs/vectors.ts";
import type { FsckReport } from "../src/fsck/fsck.ts";
import type { HybridHit, HybridMethod } from "../src/search/hybrid.ts";
import type { TextIndexStats } from "../src/fs/text_index_types.ts";
import { ERRNO, FsError } from "../src/errors.ts";
import { say } from "./util.ts";

/**
 * Version of the contract. Bumped on a breaking change (a field removed,
 * renamed, retyped or given a new meaning); adding a field is not one
 * (docs/JSON.md §5).
 */
export const SCHEMA_VERSION = 1;

/** A JSON object as the builders return it. */
export type JsonObject = Record<string, unknown>;

/** The envelope every `--json` document starts with. */
export function envelope(command: string): { schema_version: number; command: string } {
  return { schema_version: SCHEMA_VERSION, command };
}

/**
 * Prints `{"schema_version": 1, "command": command, ...payload}` as indented
 * JSON on stdout: the one way a command prints its `--json` result.
 * @param command the command's full name, e.g. `"collection list"`
 * @param payload the result's fields (must not use `schema_version`, `command` or `error`)
 */
export function printJsonResult(command: string, payload: JsonObject): void {
  say(JSON.stringify({ ...envelope(command), ...payload }, null, 2));
}

/**
 * One line of a JSON Lines stream (`search --queries --json`): the envelope
 * and `payload` on one line, without indentation.
 */
export function jsonLine(command: string, payload: JsonObject): string {
  return JSON.stringify({ ...envelope(command), ...payload });
}

/** Seconds since the epoch as ISO-8601 UTC (`2026-12-03T22:54:00.000Z`); 0 (never) as null. */
export function isoSeconds(sec: number): string | null {
  return sec ? new Date(sec * 1000).toISOString() : null;
}

/** Milliseconds since the epoch as ISO-8601 UTC. */
export function isoMs(ms: number): string {
  return new Date(ms).toISOString();
}

/** A duration in milliseconds, rounded to microseconds (3 decimals). */
export function roundMs(x: number): number {
  return Math.round(x * 1000) / 1000;
}

// ------------------------------------------------------------------ shared shapes

/**
 * A collection (`$defs/collection` of docs/schema/common.schema.json).
 * `path` is the root directory as the command names things: inside the
 * filesystem offline (`/docs`), the host path on a mount (`/mnt/vexfs/docs`).
 */
export function collectionJson(x: CollectionView): JsonObject {
  return {
    id: x.id,
    path: x.path,
    root_ino: x.rootIno,
    dim: x.dim,
    metric: x.metric,
    element_type: x.elem,
    vectors: x.count,
    vector_bytes: x.bytes,
    generation: x.generation,
    created: isoSeconds(x.created),
    index: x.index ?? null,
    hnsw: x.index === "hnsw"
      ? { m: x.m ?? null, ef_construction: x.efConstruction ?? null, ef_search: x.efSearch || null }
      : null,
  };
}

/** A file (an inode by path; `$defs/file`): what `ls` lists. `name` is the entry's name in its directory. */
export function fileJson(f: FileInfo, name: string): JsonObject {
  return {
    name,
    path: f.path,
    ino: f.ino,
    type: f.type,
    mode: "0" + (f.mode & 0o7777).toString(8),
    nlink: f.nlink,
    uid: f.uid,
    gid: f.gid,
    size_bytes: f.size,
    mtime: isoMs(f.mtime),
    has_vector: f.hasVector,
    root_of_collection: f.collectionRoot || null,
  };
}

/** Search hits (`$defs/hit`), ranked from 1 in the order given. */
export function hitsJson(hits: SearchHit[]): JsonObject[] {
  return hits.map((h, i) => ({ rank: i + 1, path: h.path, ino: h.ino, score: h.score }));
}

/**
 * How a vector search was answered (`$defs/search_method`); `filter_passed`: with `--where`, the files with a
 * vector below the searched directory that passed the filter (null without a filter or when not reported).
 */
export function searchMethodJson(m: SearchMethod | undefined): JsonObject {
  return {
    method: m?.method ?? "unknown",
    reason: m?.reason || null,
    ef: m?.ef ?? null,
    filter_passed: m?.filterPassed ?? null,
  };
}

/**
 * Hits of a search by text or by text and vector (`$defs/hybrid_hit`), ranked from 1: the fused score (one
 * side: that side's score) and each side's rank and score, null on a side that did not return the file.
 */
export function hybridHitsJson(hits: HybridHit[]): JsonObject[] {
  const side = (s: { rank: number; score: number } | null) => s && { rank: s.rank, score: s.score };
  return hits.map((h, i) => ({
    rank: i + 1,
    path: h.path,
    ino: h.ino,
    score: h.score,
    vector: side(h.vector),
    text: side(h.text),
  }));
}

/**
 * How a search by text or by text and vector was answered (`$defs/hybrid_method`): the vector side as
 * {@link searchMethodJson}, the text side (N, the analysed terms, matching documents, the text generation,
 * whether a stale index was caught up), the fusion (kind, its constant or weight, candidates per side); null for
 * a side not asked and for the fusion of a one-sided search.
 */
export function hybridMethodJson(m: HybridMethod): JsonObject {
  const t = m.text, f = m.fusion;
  return {
    vector: m.vector ? searchMethodJson(m.vector) : null,
    text: t
      ? {
        docs: t.docs,
        terms: t.terms,
        matched: t.matched,
        text_generation: t.textGeneration,
        caught_up: t.caughtUp,
      }
      : null,
    fusion: f
      ? {
        kind: f.kind,
        rrf_k: f.kind === "rrf" ? f.rrfK : null,
        alpha: f.kind === "weighted" ? f.alpha : null,
        depth: f.depth,
      }
      : null,
  };
}

/** Space and inode counts (`$defs/usage`); `blockSize` in bytes. */
export function usageJson(
  u: { blocks: number; freeBlocks: number; blockSize: number; inodes: number; freeInodes: number },
): JsonObject {
  const used = u.blocks - u.freeBlocks;
  return {
    total_blocks: u.blocks,
    used_blocks: used,
    free_blocks: u.freeBlocks,
    total_bytes: u.blocks * u.blockSize,
    used_bytes: used * u.blockSize,
    free_bytes: u.freeBlocks * u.blockSize,
    total_inodes: u.inodes,
    used_inodes: u.inodes - u.freeInodes,
    free_inodes: u.freeInodes,
  };
}

/** Superblock states (FORMAT.md §3.1) by code, as every `--json` names them (`$defs/fs_state`). */
export const FS_STATE_NAMES: Readonly<Record<number, string>> = { 1: "clean", 2: "dirty", 3: "errors" };
/** `errors=` behaviours by code (`$defs/errors_behaviour`). */
export const ERRORS_BEHAVIOUR_NAMES: Readonly<Record<number, string>> = { 1: "continue", 2: "remount-ro", 3: "panic" };

/** One entry of the superblock's error record (FORMAT.md §3.2): errno, time (s), inode, operation. */
export interface ErrorEntryLike {
  errno: number;
  /** seconds since the epoch, 0 = none */
  time: number;
  ino: number;
  op: string;
}

/**
 * The filesystem's health as the superblock records it (`state`,
 * `errors_behaviour`, `error_record`; `$defs` of the same names): the same
 * fields in `info` (offline under `superblock`, on a mount under `mount`),
 * `stats` (`filesystem`) and `tune` (`tunables`).
 * @param state superblock state code (1 clean, 2 dirty, 3 errors)
 * @param errors `errors=` behaviour code (1 continue, 2 remount-ro, 3 panic)
 * @param count errors recorded since the last repair (the record is null when none and no first error time)
 */
export function fsHealthJson(
  state: number,
  errors: number,
  count: number,
  first: ErrorEntryLike,
  last: ErrorEntryLike,
): { state: string; errors_behaviour: string; error_record: JsonObject | null } {
  const one = (e: ErrorEntryLike) => ({
    errno: e.errno,
    errno_name: errnoName(e.errno),
    time: isoSeconds(e.time),
    ino: e.ino || null,
    op: e.op || null,
  });
  return {
    state: FS_STATE_NAMES[state] ?? "unknown",
    errors_behaviour: ERRORS_BEHAVIOUR_NAMES[errors] ?? "unknown",
    error_record: count || first.time ? { count, first: one(first), last: one(last) } : null,
  };
}

/** An HNSW index's figures (`$defs/index_stats`). */
export function indexStatsJson(s: IndexStats): JsonObject {
  const g = s.graph;
  return {
    index: s.index,
    current: s.current,
    note: s.note || null,
    file_bytes: s.fileBytes,
    graph: g
      ? {
        nodes: g.nodes,
        deleted: g.deleted,
        free: g.free,
        reclaimed: g.reclaimed,
        levels: g.levels,
        max_level: g.maxLevel,
        m: g.m,
        ef_construction: g.efConstruction,
        size_bytes: g.bytes,
        memory_bytes: g.memoryBytes,
        build_ms: roundMs(g.buildMs),
        inserts_since_build: g.insertsSinceBuild,
      }
      : null,
  };
}

/**
 * A keyword (BM25) index's figures (`$defs/text_index_stats`, `vexfs index ... --text`): whether the collection
 * has one and it matches the files, its parameters (null without an index), documents, tokens, terms, segments,
 * bytes on disk and of the text covered, the skipped files, the text generation, the last build's duration and
 * the analyzer build it was made with.
 */
export function textIndexStatsJson(s: TextIndexStats): JsonObject {
  const p = s.params;
  return {
    index: "bm25",
    enabled: s.enabled,
    fresh: s.fresh,
    note: s.note || null,
    params: p
      ? {
        k1: p.k1,
        b: p.b,
        max_file_bytes: p.maxFile,
        analyzer: p.analyzer === 1 ? "word-v1" : String(p.analyzer),
        stemming: p.stemmer === 1,
        stop_words: p.stopwords === 1,
        lang: p.lang || null,
      }
      : null,
    docs: s.docCount,
    total_tokens: s.totalTokens,
    terms: s.terms,
    segments: s.segments,
    file_bytes: s.fileBytes,
    text_bytes: s.textBytes,
    skipped_binary: s.skippedBinary,
    skipped_large: s.skippedLarge,
    empty_docs: s.emptyDocs,
    long_tokens: s.longTokens,
    text_generation: s.textGeneration,
    build_ms: roundMs(s.buildMs),
    signature: s.signature || null,
  };
}

/** An fsck report (the payload of `fsck --json`). */
export function fsckJson(r: FsckReport): JsonObject {
  const s = r.stats;
  return {
    target: r.path,
    mode: r.mode,
    exit_status: r.exitCode,
    skipped: r.skipped,
    fixed: r.fixed,
    runs: r.runs,
    elapsed_ms: roundMs(r.elapsedMs),
    stats: {
      inodes: s.inodes,
      dirs: s.dirs,
      files: s.files,
      symlinks: s.symlinks,
      used_blocks: s.blocksUsed,
      total_blocks: s.blockCount,
      vectors: s.vectors,
      collections: s.collections,
      orphans: s.orphans,
    },
    problems: r.problems.map((p) => ({
      code: p.code,
      severity: p.severity,
      where: p.where,
      message: p.message,
      fix: p.fix ?? null,
      fixed: p.fixed,
      next: p.next ?? null,
    })),
  };
}

// ------------------------------------------------------------------ errors

const ERRNO_NAMES = new Map<number, string>(Object.entries(ERRNO).map(([name, n]) => [n, name]));

/** The errno name of Linux errno number `n` (`5` -> `"EIO"`), or null for 0 or a number the engine does not use. */
export function errnoName(n: number): string | null {
  return ERRNO_NAMES.get(n) ?? null;
}

const HOST_ERRNO: [new (...a: never[]) => Error, string][] = [
  [Deno.errors.NotFound, "ENOENT"],
  [Deno.errors.PermissionDenied, "EACCES"],
  [Deno.errors.AlreadyExists, "EEXIST"],
  [Deno.errors.IsADirectory, "EISDIR"],
  [Deno.errors.NotADirectory, "ENOTDIR"],
  [Deno.errors.Busy, "EBUSY"],
  [Deno.errors.InvalidData, "EINVAL"],
  [Deno.errors.WriteZero, "EIO"],
  [Deno.errors.UnexpectedEof, "EIO"],
];

/**
 * The code of a failure: its errno name when it has one (an engine
 * `FsError`, a host error Deno names, or a CLI error that carries one), else
 * `"ERROR"` (docs/JSON.md §4).
 */
export function errorCode(e: unknown): string {
  if (e instanceof FsError) return e.code;
  const own = (e as { code?: unknown } | null)?.code;
  if (typeof own === "string" && /^E[A-Z0-9]+$/.test(own)) return own;
  for (const [cls, name] of HOST_ERRNO) if (e instanceof cls) return name;
  return "ERROR";
}

/**
 * The error document of a failed `--json` command:
 * `{"schema_version": 1, "command": ..., "error": {"code", "message", "exit_status"}}`.
 */
export function errorJson(command: string, e: unknown, message: string, exitStatus: number): JsonObject {
  return { ...envelope(command), error: { code: errorCode(e), message, exit_status: exitStatus } };
}
