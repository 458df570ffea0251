/**
 * Encoders and decoders of VEXFS_IOC_INDEX (docs/IOCTL.md): build, drop,
 * optimize and report a collection's HNSW index. Conventions are abi.ts's;
 * callers import from abi.ts.
 * @module
 */
import { FsError } from "../errors.ts";
import type { IndexStats } from "../fs/vectors.ts";
import { ELEM_CODE, type ElemType, type Metric, METRIC_CODE } from "../vector/types.ts";
import {
  INDEX,
  VEXFS_INDEX_FLAT,
  VEXFS_INDEX_HNSW,
  VEXFS_INDEX_OP_BUILD,
  VEXFS_INDEX_OP_DROP,
  VEXFS_INDEX_OP_OPTIMIZE,
  VEXFS_INDEX_OP_STATS,
  VEXFS_IOC_INDEX_LEVELS,
  VEXFS_IOC_NOTE_MAX,
} from "./abi_layout.ts";
import {
  checkHeader,
  checkZero,
  checkZeroFields,
  dec,
  elemOfCode,
  enc,
  getU64,
  metricOfCode,
  newStruct,
  setU32,
  setU64,
  view,
} from "./abi_codec.ts";
// ------------------------------------------------------------ INDEX

/** An operation of {@linkcode VEXFS_IOC_INDEX} (`vexfs index build|drop|optimize|stats`). */
export type IndexOpName = "build" | "drop" | "optimize" | "stats";

/** `VEXFS_INDEX_OP_*` code of each {@linkcode IndexOpName}. */
export const INDEX_OP_CODE: Readonly<Record<IndexOpName, number>> = Object.freeze({
  build: VEXFS_INDEX_OP_BUILD,
  drop: VEXFS_INDEX_OP_DROP,
  optimize: VEXFS_INDEX_OP_OPTIMIZE,
  stats: VEXFS_INDEX_OP_STATS,
});

/** The input of {@linkcode VEXFS_IOC_INDEX}. */
export interface IndexRequest {
  op: IndexOpName;
  /** build only: M, 2..128 (absent or 0: the collection's, else 16) */
  m?: number;
  /** build only: efConstruction, M..4096 (absent or 0: the collection's, else 200) */
  efConstruction?: number;
}

/**
 * The output of {@linkcode VEXFS_IOC_INDEX}: the engine's
 * {@linkcode IndexStats} plus the collection's figures the structure carries.
 */
export interface IndexReply extends IndexStats {
  collectionId: number;
  /** the collection's generation after the operation */
  generation: number;
  /** the collection's default search ef (0: the engine's, max(k, 64)) */
  efSearch: number;
  /** the collection's dimension, metric and element type */
  dim: number;
  metric: Metric;
  elem: ElemType;
}

/**
 * Builds the request of {@linkcode VEXFS_IOC_INDEX}.
 * @throws FsError EINVAL: m or efConstruction not a u32, or given (non-zero)
 *   for an operation other than build
 */
export function encodeIndex(r: IndexRequest): Uint8Array {
  const b = newStruct(INDEX);
  const dv = view(b);
  const o = INDEX.off;
  const m = r.m ?? 0, efc = r.efConstruction ?? 0;
  if (r.op !== "build" && (m || efc)) {
    throw new FsError("EINVAL", `index ${r.op}: m and efConstruction only apply to build`);
  }
  const code = INDEX_OP_CODE[r.op];
  if (code === undefined) throw new FsError("EINVAL", `unknown index operation ${JSON.stringify(r.op)}`);
  dv.setUint32(o.op, code, true);
  setU32(dv, o.m, m, "m", "EINVAL");
  setU32(dv, o.ef_construction, efc, "ef_construction", "EINVAL");
  return b;
}

/**
 * Reads and checks the request of {@linkcode VEXFS_IOC_INDEX}. M and
 * efConstruction are passed through for the engine to check (2..128, M..4096).
 * @returns the operation; `m`/`efConstruction` only where non-zero
 * @throws FsError EINVAL: bad header, unknown op, m or ef_construction
 *   non-zero for an operation other than build, non-zero reserved or
 *   output fields
 */
export function decodeIndex(b: Uint8Array): IndexRequest {
  checkHeader(b, INDEX);
  const dv = view(b);
  const o = INDEX.off;
  const code = dv.getUint32(o.op, true);
  const op = (Object.keys(INDEX_OP_CODE) as IndexOpName[]).find((x) => INDEX_OP_CODE[x] === code);
  if (!op) {
    throw new FsError(
      "EINVAL",
      `unknown index op ${code} (${VEXFS_INDEX_OP_BUILD} build, ${VEXFS_INDEX_OP_DROP} drop, ` +
        `${VEXFS_INDEX_OP_OPTIMIZE} optimize, ${VEXFS_INDEX_OP_STATS} stats)`,
    );
  }
  const m = dv.getUint32(o.m, true);
  const efc = dv.getUint32(o.ef_construction, true);
  if (op !== "build" && (m || efc)) {
    throw new FsError("EINVAL", `index ${op}: m = ${m}, ef_construction = ${efc}; both must be 0 except for build`);
  }
  checkZeroFields(b, INDEX, ["reserved0"], "EINVAL");
  checkZero(b, o.collection_id, INDEX.size - o.collection_id, `${INDEX.cName} output fields`, "EINVAL");
  return { op, ...(m ? { m } : {}), ...(efc ? { efConstruction: efc } : {}) };
}

/**
 * Builds the reply of {@linkcode VEXFS_IOC_INDEX}: the request echoed, the
 * figures filled (every graph figure 0 for a flat collection; the note cut
 * at 127 bytes on a character boundary; the build time rounded to
 * microseconds).
 * @throws FsError EIO for a figure that does not fit its field (a count
 *   that is not a u32 or u64, more than 32 levels)
 */
export function encodeIndexReply(r: IndexRequest, s: IndexReply): Uint8Array {
  const b = encodeIndex(r);
  const dv = view(b);
  const o = INDEX.off;
  const f = (name: string) => `${INDEX.cName}.${name}`;
  setU32(dv, o.collection_id, s.collectionId, f("collection_id"), "EIO");
  dv.setUint8(o.index, s.index === "hnsw" ? VEXFS_INDEX_HNSW : VEXFS_INDEX_FLAT);
  dv.setUint8(o.current, s.current ? 1 : 0);
  dv.setUint8(o.metric, METRIC_CODE[s.metric]);
  dv.setUint8(o.elem_type, ELEM_CODE[s.elem]);
  setU64(dv, o.generation, s.generation, f("generation"), "EIO");
  setU64(dv, o.file_bytes, s.fileBytes, f("file_bytes"), "EIO");
  setU32(dv, o.ef_search, s.efSearch, f("ef_search"), "EIO");
  setU32(dv, o.dim, s.dim, f("dim"), "EIO");
  let note = s.note;
  while (enc.encode(note).length > VEXFS_IOC_NOTE_MAX - 1) note = [...note].slice(0, -1).join("");
  b.set(enc.encode(note), o.note);
  const g = s.graph;
  if (s.index !== "hnsw" || !g) return b;
  setU64(dv, o.bytes, g.bytes, f("bytes"), "EIO");
  setU64(dv, o.memory_bytes, g.memoryBytes, f("memory_bytes"), "EIO");
  setU64(dv, o.build_us, Math.round(g.buildMs * 1000), f("build_us"), "EIO");
  setU64(dv, o.distances, g.distances, f("distances"), "EIO");
  setU64(dv, o.hops, g.hops, f("hops"), "EIO");
  setU32(dv, o.nodes, g.nodes, f("nodes"), "EIO");
  setU32(dv, o.deleted, g.deleted, f("deleted"), "EIO");
  setU32(dv, o.free, g.free, f("free"), "EIO");
  setU32(dv, o.node_count, g.nodeCount, f("node_count"), "EIO");
  setU32(dv, o.upper_count, g.upperCount, f("upper_count"), "EIO");
  setU32(dv, o.reclaimed, g.reclaimed, f("reclaimed"), "EIO");
  setU32(dv, o.inserts_since_build, g.insertsSinceBuild, f("inserts_since_build"), "EIO");
  for (const [k, v] of [["hnsw_m", g.m], ["hnsw_m0", g.m0], ["hnsw_ef_c", g.efConstruction]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new FsError("EIO", `${f(k)} = ${v} is not a u16`);
    dv.setUint16(o[k], v, true);
  }
  if (g.levels.length > VEXFS_IOC_INDEX_LEVELS || g.maxLevel < 0 || g.maxLevel >= VEXFS_IOC_INDEX_LEVELS) {
    throw new FsError("EIO", `the graph has ${g.levels.length} levels (max level ${g.maxLevel}); at most 32 fit`);
  }
  dv.setUint8(o.max_level, g.maxLevel);
  dv.setUint8(o.level_count, g.levels.length);
  if (!Number.isInteger(g.entry) || g.entry < -1 || g.entry > 0x7fffffff) {
    throw new FsError("EIO", `${f("entry")} = ${g.entry} is not an s32`);
  }
  dv.setInt32(o.entry, g.entry, true);
  g.levels.forEach((n, l) => setU32(dv, o.levels + 4 * l, n, `${f("levels")}[${l}]`, "EIO"));
  return b;
}

/**
 * Reads the reply of {@linkcode VEXFS_IOC_INDEX}: the figures as the
 * engine's {@linkcode IndexStats} (`graph` only for an HNSW index, `current`
 * null for a flat one) plus the collection's.
 * @throws FsError EIO if `b` is not a valid reply (bad header, unknown
 *   index, metric or element code, level_count above 32, a u64 above 2^53 - 1)
 */
export function decodeIndexReply(b: Uint8Array): IndexReply {
  checkHeader(b, INDEX, "EIO");
  const dv = view(b);
  const o = INDEX.off;
  const f = (name: string) => `${INDEX.cName}.${name}`;
  const index = dv.getUint8(o.index);
  if (index !== VEXFS_INDEX_FLAT && index !== VEXFS_INDEX_HNSW) {
    throw new FsError("EIO", `${f("index")} = ${index} (1 flat, 2 HNSW)`);
  }
  const metric = metricOfCode(dv.getUint8(o.metric), "EIO");
  const elem = elemOfCode(dv.getUint8(o.elem_type), "EIO");
  const dim = dv.getUint32(o.dim, true);
  const noteBytes = b.subarray(o.note, o.note + VEXFS_IOC_NOTE_MAX);
  const nul = noteBytes.indexOf(0);
  const base = {
    collectionId: dv.getUint32(o.collection_id, true),
    generation: getU64(dv, o.generation, f("generation")),
    efSearch: dv.getUint32(o.ef_search, true),
    dim,
    metric,
    elem,
    note: dec.decode(nul < 0 ? noteBytes : noteBytes.subarray(0, nul)),
    fileBytes: getU64(dv, o.file_bytes, f("file_bytes")),
  };
  if (index === VEXFS_INDEX_FLAT) return { ...base, index: "flat", current: null };
  const levelCount = dv.getUint8(o.level_count);
  if (levelCount > VEXFS_IOC_INDEX_LEVELS) throw new FsError("EIO", `${f("level_count")} = ${levelCount}`);
  // hnsw_m 0: the graph was not loaded (far behind the vectors; docs/IOCTL.md §3.12), its figures are 0
  if (dv.getUint16(o.hnsw_m, true) === 0) return { ...base, index: "hnsw", current: dv.getUint8(o.current) !== 0 };
  return {
    ...base,
    index: "hnsw",
    current: dv.getUint8(o.current) !== 0,
    graph: {
      nodes: dv.getUint32(o.nodes, true),
      deleted: dv.getUint32(o.deleted, true),
      free: dv.getUint32(o.free, true),
      nodeCount: dv.getUint32(o.node_count, true),
      upperCount: dv.getUint32(o.upper_count, true),
      reclaimed: dv.getUint32(o.reclaimed, true),
      levels: Array.from({ length: levelCount }, (_, l) => dv.getUint32(o.levels + 4 * l, true)),
      maxLevel: dv.getUint8(o.max_level),
      entry: dv.getInt32(o.entry, true),
      bytes: getU64(dv, o.bytes, f("bytes")),
      memoryBytes: getU64(dv, o.memory_bytes, f("memory_bytes")),
      m: dv.getUint16(o.hnsw_m, true),
      m0: dv.getUint16(o.hnsw_m0, true),
      efConstruction: dv.getUint16(o.hnsw_ef_c, true),
      dim,
      metric,
      elem,
      buildMs: getU64(dv, o.build_us, f("build_us")) / 1000,
      insertsSinceBuild: dv.getUint32(o.inserts_since_build, true),
      distances: getU64(dv, o.distances, f("distances")),
      hops: getU64(dv, o.hops, f("hops")),
    },
  };
}
