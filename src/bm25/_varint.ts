/**
 * Unsigned LEB128 varints of u32 values, as the BM25 postings stream stores
 * them (design issue-12 §1.2; the encoding of DWARF 5 §7.6 and WebAssembly's
 * `varuint32`): 7 bits a byte, low bits first, the high bit set on every byte
 * but the last; at most 5 bytes.
 * @module
 */

/** Largest value a varint here may hold. */
export const VARINT_MAX = 0xffffffff;

/** Bytes of the varint of `x` (0 ≤ x ≤ 2^32 - 1): 1..5. */
export function varintLength(x: number): number {
  return x < 0x80 ? 1 : x < 0x4000 ? 2 : x < 0x200000 ? 3 : x < 0x10000000 ? 4 : 5;
}

/**
 * Writes the varint of `x` at `out[pos]`.
 * @returns the position after it
 */
export function writeVarint(out: Uint8Array, pos: number, x: number): number {
  while (x >= 0x80) {
    out[pos++] = (x & 0x7f) | 0x80;
    x = Math.floor(x / 128);
  }
  out[pos++] = x;
  return pos;
}
