/**
 * The parameters of an HNSW graph (fixed for its life): their shape, the
 * defaults, their range check, and how a collection record
 * (FORMAT.md §8.1) gives them.
 * @module
 */
import { FsError } from "../errors.ts";
import { ELEM_TYPES, type ElemType, encodeElemType, encodeMetric, type Metric, METRICS } from "../vector/types.ts";
import type { CollectionRecord } from "../format/collection.ts";

/** Parameters of a graph (fixed for its life). */
export interface HnswParams {
  /** vector dimension, 1..4096 */
  dim: number;
  /** the collection's metric; graph distances are squared L2, 1 − dot (ip), 1 − cos (cosine) */
  metric: Metric;
  /** element type of the stored vectors (queries are f32) */
  elem: ElemType;
  /** M, 2..128: neighbours per node on levels ≥ 1 (M0 = 2M on level 0) */
  m: number;
  /** efConstruction, M..4096 */
  efConstruction: number;
  /** the collection id: seeds every block checksum (FORMAT.md §1) and, by default, the level generator */
  collectionId: number;
  /** the filesystem block size, 1024..65536 */
  blockSize: number;
  /** level generator seed (default: the collection id) */
  seed?: number;
}

/**
 * The parameters of the graph of collection record `rec` (FORMAT.md §8.1:
 * its metric, element type, `hnsw_m`, `hnsw_ef_construction` and id), on a
 * filesystem of `blockSize`-byte blocks; `m` and `efConstruction` may be
 * given instead of the record's (a rebuild with new ones).
 */
export function hnswParamsOf(
  rec: Pick<CollectionRecord, "dim" | "metric" | "elemType" | "hnswM" | "hnswEfConstruction" | "id">,
  blockSize: number,
  over: { m?: number; efConstruction?: number } = {},
): HnswParams {
  return {
    dim: rec.dim,
    metric: METRICS[rec.metric - 1],
    elem: ELEM_TYPES[rec.elemType - 1],
    m: over.m ?? rec.hnswM,
    efConstruction: over.efConstruction ?? rec.hnswEfConstruction,
    collectionId: rec.id,
    blockSize,
  };
}

/** Level-0 ef of a search when none is given. */
export const DEFAULT_EF = 64;

/** Insertions between two progress calls of {@link HnswGraph.build}. */
export const BUILD_PROGRESS_STEP = 2048;

/**
 * Checks parameters against their ranges (see {@linkcode HnswParams}).
 * @throws FsError `EINVAL` naming the parameter out of range
 */
export function checkParams(p: HnswParams): void {
  const bad = (why: string) => new FsError("EINVAL", `HNSW parameters: ${why}`);
  if (!Number.isInteger(p.dim) || p.dim < 1 || p.dim > 4096) throw bad(`dim ${p.dim} not in 1..4096`);
  if (!Number.isInteger(p.m) || p.m < 2 || p.m > 128) throw bad(`M ${p.m} not in 2..128`);
  if (!Number.isInteger(p.efConstruction) || p.efConstruction < p.m || p.efConstruction > 4096) {
    throw bad(`efConstruction ${p.efConstruction} not in M..4096`);
  }
  if (!Number.isSafeInteger(p.collectionId) || p.collectionId < 0) throw bad(`collection id ${p.collectionId}`);
  if (
    !Number.isInteger(p.blockSize) || p.blockSize < 1024 || p.blockSize > 65536 || (p.blockSize & (p.blockSize - 1))
  ) {
    throw bad(`block size ${p.blockSize}`);
  }
  encodeMetric(p.metric);
  encodeElemType(p.elem);
}
