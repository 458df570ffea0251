/**
 * IEEE 754-2008 binary16 ("half precision") conversion, used by `f16`
 * collections (docs/FORMAT.md §8.1).
 *
 * binary16 layout: 1 sign bit, 5 exponent bits (bias 15), 10 fraction bits.
 * Exponent 0 encodes ±0 and subnormals (`fraction × 2^-24`), exponent 31
 * encodes ±Infinity (fraction 0) and NaN (fraction ≠ 0). The largest finite
 * value is 65504, the smallest positive subnormal 2^-24 ≈ 5.96e-8.
 *
 * Encoding rounds to nearest, ties to even (IEEE 754-2008 §4.3.1,
 * roundTiesToEven), directly from the JavaScript number: an f32 input (any
 * value read from a `Float32Array`) is therefore rounded exactly once, as is
 * an arbitrary f64. Decoding is exact (every binary16 value is representable
 * in binary32) and goes through a precomputed 65536-entry table.
 *
 * @example
 * ```ts
 * import { f16BitsToNumber, numberToF16Bits } from "./f16.ts";
 * numberToF16Bits(1); // 0x3c00
 * numberToF16Bits(65520); // 0x7c00 (rounds to +Infinity)
 * f16BitsToNumber(0x0001); // 2^-24
 * ```
 * @module
 */

/** Largest finite binary16 value, 65504 = (2 - 2^-10) × 2^15. */
export const F16_MAX = 65504;

/** Smallest positive normal binary16 value, 2^-14. */
export const F16_MIN_NORMAL = 2 ** -14;

/** Smallest positive subnormal binary16 value, 2^-24. */
export const F16_MIN_SUBNORMAL = 2 ** -24;

/** Bit pattern this module produces for NaN: the quiet NaN 0x7e00. */
export const F16_NAN = 0x7e00;

/**
 * Exact f16 → f32 table: entry `h` is the value of the binary16 bit pattern
 * `h` (0..65535). NaN patterns map to a NaN (payload not preserved).
 * 256 KiB; built once at module load.
 */
export const F16_TO_F32: Float32Array = buildTable();

function buildTable(): Float32Array {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) t[h] = decodeSlow(h);
  return t;
}

function decodeSlow(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1024 + frac) * 2 ** (exp - 25);
}

/**
 * Value of a binary16 bit pattern.
 * @param h bit pattern, an integer 0..65535 (higher bits are ignored)
 * @returns the exact value as a number (±0, subnormal, normal, ±Infinity or NaN)
 */
export function f16BitsToNumber(h: number): number {
  return F16_TO_F32[h & 0xffff];
}

// Scratch used to read the binary exponent of a double exactly.
const scratchF64 = new Float64Array(1);
const scratchU32 = new Uint32Array(scratchF64.buffer);
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/** Rounds y ≥ 0 (with y < 2^52) to the nearest integer, ties to even. */
function roundHalfEven(y: number): number {
  const f = Math.floor(y);
  const d = y - f; // exact: y < 2^12 here
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Rounds a number to binary16 (round to nearest, ties to even) and returns
 * the bit pattern.
 *
 * - |x| ≥ 65520 (half-way between 65504 and 2^16) becomes ±Infinity
 *   (0x7c00 / 0xfc00), as IEEE 754 requires for overflow under
 *   roundTiesToEven;
 * - |x| < 2^-25 becomes ±0, values below 2^-14 become subnormals;
 * - the sign of zero is kept (-0 → 0x8000);
 * - NaN becomes {@linkcode F16_NAN} (0x7e00).
 *
 * @param x any number (typically an f32 element)
 * @returns bit pattern, an integer 0..65535
 */
export function numberToF16Bits(x: number): number {
  if (x !== x) return F16_NAN;
  const sign = x < 0 || (x === 0 && 1 / x < 0) ? 0x8000 : 0;
  const a = sign ? -x : x;
  if (a >= 65520) return sign | 0x7c00;
  if (a < F16_MIN_NORMAL) {
    // Subnormal range: value = m × 2^-24, m in 0..1024 (1024 = min normal).
    return sign | roundHalfEven(a * 16777216);
  }
  scratchF64[0] = a;
  const e = ((scratchU32[HI] >>> 20) & 0x7ff) - 1023; // exact: a is normal f64
  // Significand scaled to 11 bits: m in [1024, 2048]; 2048 carries into the
  // exponent field naturally below.
  const m = roundHalfEven(a * 2 ** (10 - e));
  return sign | (((e + 15) << 10) + (m - 1024));
}

/**
 * Rounds a number to the nearest binary16 value (ties to even) and returns
 * that value: `f16BitsToNumber(numberToF16Bits(x))`.
 */
export function roundToF16(x: number): number {
  return F16_TO_F32[numberToF16Bits(x)];
}

/** Whether a binary16 bit pattern is ±Infinity or NaN (exponent field 31). */
export function f16IsNonFinite(h: number): boolean {
  return (h & 0x7c00) === 0x7c00;
}
