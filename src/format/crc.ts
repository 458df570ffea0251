/**
 * CRC-32C (Castagnoli) checksums as used throughout the VexFS format
 * (docs/FORMAT.md §1). The arithmetic comes from the `crc-32` npm package;
 * this module only fixes the conventions (unsigned result, owner seeding).
 *
 * @example
 * ```ts
 * import { crc32c } from "./crc.ts";
 * crc32c(new TextEncoder().encode("123456789")); // 0xE3069283
 * ```
 * @module
 */
import CRC32C from "crc-32/crc32c.js";

/**
 * CRC-32C of `data` (RFC 3720 §B.4), as an unsigned 32-bit number.
 * @param data bytes to checksum
 * @param prev optional running CRC (the unsigned result of an earlier call) to continue
 */
export function crc32c(data: Uint8Array, prev?: number): number {
  return (prev === undefined ? CRC32C.buf(data) : CRC32C.buf(data, prev | 0)) >>> 0;
}

const seedBuf = new Uint8Array(8);
const seedView = new DataView(seedBuf.buffer);

/**
 * CRC-32C "seeded with" an owner number: the CRC of the 8 little-endian bytes
 * of `seed` (a u64) followed by `data`, as one stream (docs/FORMAT.md §1).
 * @param seed owner number (inode number, collection id); must be a safe integer ≥ 0
 * @param data covered bytes
 */
export function crc32cSeeded(seed: number, data: Uint8Array): number {
  seedView.setBigUint64(0, BigInt(seed), true);
  return crc32c(data, crc32c(seedBuf));
}
