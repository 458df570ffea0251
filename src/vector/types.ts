/**
 * Vector collection parameters: metric, element type and dimension, with the
 * on-disk codes of the collection record (docs/FORMAT.md §8.1).
 *
 * Two kinds of failure are distinguished:
 * - a bad user-supplied name or dimension is `EINVAL` ({@linkcode parseMetric},
 *   {@linkcode parseElemType}, {@linkcode checkDim});
 * - a bad on-disk code is corruption, `EUCLEAN` ({@linkcode decodeMetric},
 *   {@linkcode decodeElemType}).
 *
 * @example
 * ```ts
 * import { decodeMetric, elemSize, encodeMetric } from "./types.ts";
 * encodeMetric("cosine"); // 2
 * decodeMetric(3); // "ip"
 * elemSize("f16"); // 2
 * ```
 * @module
 */
import { FsError } from "../errors.ts";

/**
 * Similarity metric of a collection (FORMAT.md §8.4):
 * - `"l2"`: Euclidean distance, lower is nearer;
 * - `"cosine"`: cosine similarity in [-1, 1], higher is nearer (a zero vector
 *   has similarity 0 with everything);
 * - `"ip"`: inner product, higher is nearer.
 */
export type Metric = "l2" | "cosine" | "ip";

/**
 * Element type of stored vectors (FORMAT.md §8.1):
 * - `"f32"`: IEEE 754 binary32, 4 bytes;
 * - `"f16"`: IEEE 754-2008 binary16, 2 bytes;
 * - `"i8"`: signed integer -128..127, 1 byte.
 */
export type ElemType = "f32" | "f16" | "i8";

/** Largest dimension a collection may have (FORMAT.md §8: 1..4096). */
export const MAX_DIM = 4096;

/** All metrics, in on-disk code order (code = index + 1). */
export const METRICS: readonly Metric[] = ["l2", "cosine", "ip"];

/** All element types, in on-disk code order (code = index + 1). */
export const ELEM_TYPES: readonly ElemType[] = ["f32", "f16", "i8"];

/** On-disk `metric` byte of the collection record: l2 1, cosine 2, ip 3. */
export const METRIC_CODE: Readonly<Record<Metric, number>> = {
  l2: 1,
  cosine: 2,
  ip: 3,
};

/** On-disk `elem_type` byte of the collection record: f32 1, f16 2, i8 3. */
export const ELEM_CODE: Readonly<Record<ElemType, number>> = {
  f32: 1,
  f16: 2,
  i8: 3,
};

/** Whether `s` names a metric (`"l2"`, `"cosine"` or `"ip"`). */
export function isMetric(s: unknown): s is Metric {
  return s === "l2" || s === "cosine" || s === "ip";
}

/** Whether `s` names an element type (`"f32"`, `"f16"` or `"i8"`). */
export function isElemType(s: unknown): s is ElemType {
  return s === "f32" || s === "f16" || s === "i8";
}

/**
 * On-disk code of a metric (1 `l2`, 2 `cosine`, 3 `ip`).
 * @throws FsError `EINVAL` if `m` is not a metric (only possible from untyped callers)
 */
export function encodeMetric(m: Metric): number {
  if (!isMetric(m)) {
    throw new FsError(
      "EINVAL",
      `unknown metric ${JSON.stringify(m)} (expected l2, cosine or ip)`,
    );
  }
  return METRIC_CODE[m];
}

/**
 * Metric for an on-disk code read from a collection record.
 * @param code the record's `metric` byte
 * @throws FsError `EUCLEAN` if `code` is not 1, 2 or 3 (corrupt record)
 */
export function decodeMetric(code: number): Metric {
  const m = METRICS[code - 1];
  if (m === undefined || !Number.isInteger(code)) {
    throw new FsError(
      "EUCLEAN",
      `bad metric code ${code} in collection record (expected 1 l2, 2 cosine or 3 ip)`,
    );
  }
  return m;
}

/**
 * On-disk code of an element type (1 `f32`, 2 `f16`, 3 `i8`).
 * @throws FsError `EINVAL` if `t` is not an element type (only possible from untyped callers)
 */
export function encodeElemType(t: ElemType): number {
  if (!isElemType(t)) {
    throw new FsError(
      "EINVAL",
      `unknown element type ${JSON.stringify(t)} (expected f32, f16 or i8)`,
    );
  }
  return ELEM_CODE[t];
}

/**
 * Element type for an on-disk code read from a collection record.
 * @param code the record's `elem_type` byte
 * @throws FsError `EUCLEAN` if `code` is not 1, 2 or 3 (corrupt record)
 */
export function decodeElemType(code: number): ElemType {
  const t = ELEM_TYPES[code - 1];
  if (t === undefined || !Number.isInteger(code)) {
    throw new FsError(
      "EUCLEAN",
      `bad element type code ${code} in collection record (expected 1 f32, 2 f16 or 3 i8)`,
    );
  }
  return t;
}

/**
 * Parses a user-supplied metric name (case-insensitive, surrounding blanks
 * ignored).
 * @throws FsError `EINVAL` naming the accepted values
 */
export function parseMetric(s: string): Metric {
  const m = String(s).trim().toLowerCase();
  if (!isMetric(m)) {
    throw new FsError(
      "EINVAL",
      `unknown metric ${JSON.stringify(s)} (expected l2, cosine or ip)`,
    );
  }
  return m;
}

/**
 * Parses a user-supplied element type name (case-insensitive, surrounding
 * blanks ignored).
 * @throws FsError `EINVAL` naming the accepted values
 */
export function parseElemType(s: string): ElemType {
  const t = String(s).trim().toLowerCase();
  if (!isElemType(t)) {
    throw new FsError(
      "EINVAL",
      `unknown element type ${JSON.stringify(s)} (expected f32, f16 or i8)`,
    );
  }
  return t;
}

/**
 * Bytes per element: f32 4, f16 2, i8 1.
 * @throws FsError `EINVAL` for an unknown type (only possible from untyped callers)
 */
export function elemSize(t: ElemType): 4 | 2 | 1 {
  switch (t) {
    case "f32":
      return 4;
    case "f16":
      return 2;
    case "i8":
      return 1;
  }
  throw new FsError(
    "EINVAL",
    `unknown element type ${JSON.stringify(t)} (expected f32, f16 or i8)`,
  );
}

/**
 * Checks a collection dimension: an integer in 1..{@linkcode MAX_DIM}.
 * @returns `dim`
 * @throws FsError `EINVAL` saying what was wrong
 */
export function checkDim(dim: number): number {
  if (!Number.isInteger(dim) || dim < 1 || dim > MAX_DIM) {
    throw new FsError(
      "EINVAL",
      `bad dimension ${dim}: must be an integer in 1..${MAX_DIM}`,
    );
  }
  return dim;
}
