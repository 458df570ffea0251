/**
 * The norm of a stored vector, exactly as docs/FORMAT.md §8.5 defines it, so
 * that the engine, fsck and the kernel module store the same bits.
 * @module
 */
import { decodeVector } from "./codec.ts";
import type { ElemType } from "./types.ts";

/**
 * sqrt of the sum of squares of the elements as stored (f16 decoded, i8 as
 * the integers), summed in double precision, rounded to f32.
 * @param bytes the stored vector (`dim * elem_size` bytes, little-endian)
 * @returns a float32 value (a JS number that `Math.fround` leaves unchanged)
 * @example
 * ```ts
 * import { vectorNorm } from "./norm.ts";
 * vectorNorm(new Uint8Array(new Float32Array([3, 4]).buffer), "f32", 2); // 5
 * ```
 */
export function vectorNorm(bytes: Uint8Array, elem: ElemType, dim: number): number {
  const v = decodeVector(bytes, elem, dim);
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.fround(Math.sqrt(s));
}
