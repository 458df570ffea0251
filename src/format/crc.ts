/**
 * CRC-32C (Castagnoli) checksums as used throughout the VexFS format
 * (docs/FORMAT.md §1): unsigned results, continuation from an earlier
 * result, and owner seeding.
 *
 * Speed: inputs of {@linkcode WASM_MIN_BYTES} bytes or more go to the
 * slicing-by-16 WebAssembly kernel of `wasm/crc32c.c` (three interleaved
 * chains for long inputs): about 2.5 GB/s, 1.3-1.5x the `crc-32` npm
 * package's JavaScript (a table-driven CRC is bound by its lookups in either;
 * only a CRC instruction, which WebAssembly lacks, runs at memory speed).
 * Bytes that already live in the shared wasm memory (a `WasmStore`'s vectors)
 * are read in place from {@linkcode WASM_MIN_BYTES_IN_PLACE} bytes; others are
 * copied into a 64 KiB scratch buffer chunk by chunk. Shorter inputs, where
 * the call and copy cost more than they save, use the `crc-32` package. Both
 * give the same values: the CRC is a function of the bytes. For many records
 * at once (every slot of a store) see `WasmStore.crcs` in src/vector/simd.ts.
 *
 * @example
 * ```ts
 * import { crc32c, crc32cSeeded } from "./crc.ts";
 * crc32c(new TextEncoder().encode("123456789")); // 0xE3069283 (RFC 3720 check value)
 * crc32c(new TextEncoder().encode("6789"), crc32c(new TextEncoder().encode("12345"))); // the same
 * crc32cSeeded(7, new Uint8Array(4)); // the CRC of u64le(7) followed by 4 zero bytes
 * ```
 * @module
 */
import CRC32C from "crc-32/crc32c.js";
import { KERNELS_WASM } from "../wasm/kernels_wasm.ts";
import { heapU8, inMemory, instantiate, WasmArray } from "../wasm/runtime.ts";

/**
 * JavaScript buffers shorter than this (bytes) are checksummed in
 * JavaScript: below it the copy into wasm memory and the call cost more than
 * they save (measured with `bench/kernels.ts --only crc`).
 */
export const WASM_MIN_BYTES = 512;

/** The same threshold for bytes already in wasm memory (no copy: only the call costs). */
export const WASM_MIN_BYTES_IN_PLACE = 64;

/** Chunk copied into wasm memory per call for inputs outside it. */
const CHUNK = 64 * 1024;

interface CrcExports {
  vx_crc32c(prev: number, p: number, n: number): number;
}

let k: CrcExports | undefined;
let scratch: WasmArray<Uint8ArrayConstructor> | undefined;

function kernel(): CrcExports {
  k ??= instantiate<CrcExports>(KERNELS_WASM);
  return k;
}

/**
 * CRC-32C of `data` (RFC 3720 §B.4), as an unsigned 32-bit number.
 * @param data bytes to checksum (anywhere: a JavaScript buffer or a view of wasm memory)
 * @param prev optional running CRC (the unsigned result of an earlier call) to continue
 * @returns the CRC, 0 .. 2^32 - 1
 */
export function crc32c(data: Uint8Array, prev?: number): number {
  const n = data.length;
  if (n >= WASM_MIN_BYTES_IN_PLACE && inMemory(data)) {
    return kernel().vx_crc32c(prev === undefined ? 0 : prev >>> 0, data.byteOffset, n) >>> 0;
  }
  if (n < WASM_MIN_BYTES) {
    return (prev === undefined ? CRC32C.buf(data) : CRC32C.buf(data, prev | 0)) >>> 0;
  }
  const K = kernel();
  let c = prev === undefined ? 0 : prev >>> 0;
  scratch ??= new WasmArray(Uint8Array, CHUNK, false);
  const p = scratch.ptr;
  const mem = heapU8();
  for (let o = 0; o < n; o += CHUNK) {
    const m = Math.min(CHUNK, n - o);
    mem.set(data.subarray(o, o + m), p);
    c = K.vx_crc32c(c, p, m) >>> 0;
  }
  return c;
}

/**
 * CRC-32C of `len` bytes of the shared wasm memory at address `ptr` (no copy).
 * @param ptr byte address in the memory of src/wasm/runtime.ts
 * @param len bytes
 * @param prev optional running CRC to continue (as {@linkcode crc32c})
 * @returns the unsigned CRC
 */
export function crc32cWasm(ptr: number, len: number, prev = 0): number {
  return kernel().vx_crc32c(prev >>> 0, ptr, len) >>> 0;
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
