/**
 * Vector encoding: validation and conversion between in-memory vectors
 * (`Float32Array`) and the on-disk element bytes of a vector store
 * (docs/FORMAT.md §8.2: little-endian, `dim × elem_size` bytes per vector),
 * plus parsers for vectors given by users as text or as raw f32 bytes.
 *
 * All validation failures are `FsError("EINVAL")` whose message names the
 * offending index and the rule that was broken.
 *
 * @example
 * ```ts
 * import { decodeVector, encodeVector, parseVectorText } from "./codec.ts";
 * const v = parseVectorText("[1, -2.5, 3]", 3);
 * const bytes = encodeVector(v, "f16"); // 6 bytes
 * decodeVector(bytes, "f16", 3); // Float32Array [1, -2.5, 3]
 * ```
 * @module
 */
import { FsError } from "../errors.ts";
import { F16_MAX, F16_TO_F32, numberToF16Bits } from "./f16.ts";
import { elemSize, type ElemType, MAX_DIM } from "./types.ts";

/** Whether this platform stores typed-array elements little-endian. */
export const LITTLE_ENDIAN: boolean = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function describe(x: number): string {
  if (x !== x) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  return String(x);
}

/**
 * Checks that every element of `v` can be stored as `elem`:
 * - all types: finite (no NaN, no ±Infinity);
 * - `f16`: |x| must not round to Infinity, i.e. |x| < 65520 (values up to
 *   that round to at most 65504, the largest binary16);
 * - `i8`: an integer in -128..127.
 *
 * Also checks the length: 1..{@linkcode MAX_DIM}.
 * @param v vector, length dim
 * @throws FsError `EINVAL` naming the first bad index, e.g.
 *   `vector[3] is NaN: elements must be finite numbers`
 */
export function validateVector(v: ArrayLike<number>, elem: ElemType): void {
  const n = v.length;
  if (n < 1 || n > MAX_DIM) {
    throw new FsError(
      "EINVAL",
      `vector has ${n} elements: dimension must be 1..${MAX_DIM}`,
    );
  }
  elemSize(elem); // rejects unknown types
  for (let i = 0; i < n; i++) {
    const x = v[i];
    if (typeof x !== "number" || !Number.isFinite(x)) {
      throw new FsError(
        "EINVAL",
        `vector[${i}] is ${typeof x === "number" ? describe(x) : typeof x}: elements must be finite numbers`,
      );
    }
    if (elem === "i8") {
      if (!Number.isInteger(x) || x < -128 || x > 127) {
        throw new FsError(
          "EINVAL",
          `vector[${i}] = ${x}: i8 elements must be integers in -128..127`,
        );
      }
    } else if (elem === "f16") {
      if (x >= 65520 || x <= -65520) {
        throw new FsError(
          "EINVAL",
          `vector[${i}] = ${x} overflows f16 (largest finite value ±${F16_MAX})`,
        );
      }
    }
  }
}

/**
 * Encodes a vector as on-disk element bytes.
 *
 * `f32` elements are stored as given; `f16` elements are rounded to nearest,
 * ties to even (IEEE 754-2008 binary16, see `f16.ts`); `i8` elements are
 * stored as given (they must already be integers).
 *
 * @param v vector, a `Float32Array` of length dim (1..4096)
 * @param elem element type of the target collection
 * @returns a new `Uint8Array` of length `dim × elemSize(elem)`, little-endian
 * @throws FsError `EINVAL` if {@linkcode validateVector} rejects `v`
 */
export function encodeVector(v: Float32Array, elem: ElemType): Uint8Array {
  validateVector(v, elem);
  const n = v.length;
  if (elem === "f32") {
    const out = new Uint8Array(n * 4);
    if (LITTLE_ENDIAN) {
      new Float32Array(out.buffer).set(v);
    } else {
      const dv = new DataView(out.buffer);
      for (let i = 0; i < n; i++) dv.setFloat32(i * 4, v[i], true);
    }
    return out;
  }
  if (elem === "f16") {
    const out = new Uint8Array(n * 2);
    for (let i = 0; i < n; i++) {
      const h = numberToF16Bits(v[i]);
      out[2 * i] = h & 0xff;
      out[2 * i + 1] = h >>> 8;
    }
    return out;
  }
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = v[i] & 0xff;
  return out;
}

/**
 * Decodes on-disk element bytes into a vector. Values are not validated
 * (a corrupt f32/f16 store may yield NaN or Infinity); stores are protected
 * by the per-slot CRC of the slot map (FORMAT.md §8.3).
 *
 * @param bytes exactly `dim × elemSize(elem)` little-endian bytes (any alignment)
 * @param elem element type of the store
 * @param dim dimension, 1..4096
 * @returns a new `Float32Array` of length `dim` (f16 and i8 are widened exactly)
 * @throws FsError `EINVAL` if the byte length is not `dim × elemSize(elem)`
 */
export function decodeVector(
  bytes: Uint8Array,
  elem: ElemType,
  dim: number,
): Float32Array {
  const size = elemSize(elem);
  if (!Number.isInteger(dim) || dim < 1 || dim > MAX_DIM) {
    throw new FsError(
      "EINVAL",
      `bad dimension ${dim}: must be an integer in 1..${MAX_DIM}`,
    );
  }
  if (bytes.length !== dim * size) {
    throw new FsError(
      "EINVAL",
      `${elem} vector of dimension ${dim} needs ${dim * size} bytes, got ${bytes.length}`,
    );
  }
  const out = new Float32Array(dim);
  if (elem === "f32") {
    if (LITTLE_ENDIAN) {
      new Uint8Array(out.buffer).set(bytes);
    } else {
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
      for (let i = 0; i < dim; i++) out[i] = dv.getFloat32(i * 4, true);
    }
  } else if (elem === "f16") {
    for (let i = 0; i < dim; i++) {
      out[i] = F16_TO_F32[bytes[2 * i] | (bytes[2 * i + 1] << 8)];
    }
  } else {
    for (let i = 0; i < dim; i++) out[i] = (bytes[i] << 24) >> 24;
  }
  return out;
}

const NUMBER_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function checkCount(n: number, dim: number | undefined, what: string): void {
  if (dim !== undefined && n !== dim) {
    throw new FsError(
      "EINVAL",
      `${what} has ${n} numbers, expected ${dim}`,
    );
  }
  if (n === 0) throw new FsError("EINVAL", `${what} is empty`);
  if (n > MAX_DIM) {
    throw new FsError(
      "EINVAL",
      `${what} has ${n} numbers: dimension must be at most ${MAX_DIM}`,
    );
  }
}

function toF32(x: number, i: number, out: Float32Array, what: string): void {
  const f = Math.fround(x);
  if (!Number.isFinite(f)) {
    throw new FsError(
      "EINVAL",
      Number.isFinite(x)
        ? `${what}[${i}] = ${x} overflows f32 (largest finite value ±3.4028235e38)`
        : `${what}[${i}] is ${describe(x)}: elements must be finite numbers`,
    );
  }
  out[i] = f;
}

/**
 * Parses a vector written as text: either a JSON array of numbers
 * (`[0.1, -2, 3e-4]`) or numbers separated by whitespace and/or commas
 * (`0.1 -2 3e-4`, `0.1,-2,3e-4`). Surrounding whitespace is ignored.
 * Numbers are rounded to f32.
 *
 * @param text the vector text (for instance the contents of a file or an xattr value)
 * @param dim if given, the required number of elements
 * @returns a new `Float32Array` of length dim (1..4096)
 * @throws FsError `EINVAL` for malformed JSON, a non-number element or token
 *   (naming its index), NaN/Infinity, a value that overflows f32, an empty
 *   vector, more than 4096 numbers, or a count different from `dim`
 */
export function parseVectorText(text: string, dim?: number): Float32Array {
  const s = text.replace(/^\uFEFF/, "").trim();
  if (s.startsWith("[")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(s);
    } catch (e) {
      throw new FsError(
        "EINVAL",
        `vector text is not valid JSON: ${(e as Error).message}`,
      );
    }
    return vectorFromArray(parsed as unknown[], dim, "vector");
  }
  const tokens = s === "" ? [] : s.split(/[\s,]+/);
  checkCount(tokens.length, dim, "vector");
  const out = new Float32Array(tokens.length);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (!NUMBER_RE.test(t)) {
      throw new FsError(
        "EINVAL",
        `vector[${i}] = ${JSON.stringify(t.length > 40 ? t.slice(0, 40) + "…" : t)} is not a decimal number`,
      );
    }
    toF32(Number(t), i, out, "vector");
  }
  return out;
}

/**
 * Converts a parsed JSON value that should be an array of numbers to an f32
 * vector (shared by {@linkcode parseVectorText} and the JSONL importer).
 *
 * @param a the value (must be an array of finite numbers)
 * @param dim if given, the required length
 * @param what how to name the vector in messages, e.g. `"line 3: vector"`
 * @returns a new `Float32Array`
 * @throws FsError `EINVAL` if `a` is not an array, an element is not a finite
 *   number, a value overflows f32, or the length is wrong
 */
export function vectorFromArray(
  a: unknown,
  dim: number | undefined,
  what = "vector",
): Float32Array {
  if (!Array.isArray(a)) {
    throw new FsError("EINVAL", `${what} must be a JSON array of numbers`);
  }
  checkCount(a.length, dim, what);
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    if (typeof x !== "number") {
      throw new FsError(
        "EINVAL",
        `${what}[${i}] is ${x === null ? "null" : typeof x}, expected a number`,
      );
    }
    toF32(x, i, out, what);
  }
  return out;
}

/**
 * Parses a vector given as raw little-endian IEEE 754 binary32 bytes (the
 * format of `embeddings.bin`-style files and of `numpy.float32.tobytes()` on
 * little-endian machines).
 *
 * @param bytes raw bytes, any alignment; length a multiple of 4
 * @param dim if given, the required dimension (then `bytes.length` must be `dim × 4`)
 * @returns a new `Float32Array` of length `bytes.length / 4`
 * @throws FsError `EINVAL` if the length is wrong (saying what was expected),
 *   the vector is empty or longer than 4096, or an element is NaN/Infinity
 *   (naming its index)
 */
export function parseVectorRaw(bytes: Uint8Array, dim?: number): Float32Array {
  if (dim !== undefined && bytes.length !== dim * 4) {
    throw new FsError(
      "EINVAL",
      `raw f32 vector has ${bytes.length} bytes, expected ${dim * 4} (dimension ${dim} × 4 bytes)`,
    );
  }
  if (bytes.length % 4 !== 0) {
    throw new FsError(
      "EINVAL",
      `raw f32 vector has ${bytes.length} bytes, expected a multiple of 4`,
    );
  }
  const n = bytes.length / 4;
  checkCount(n, undefined, "raw f32 vector");
  const out = decodeVector(bytes, "f32", n);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(out[i])) {
      throw new FsError(
        "EINVAL",
        `vector[${i}] is ${describe(out[i])}: elements must be finite numbers`,
      );
    }
  }
  return out;
}
