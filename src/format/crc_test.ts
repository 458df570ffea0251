import assert from "node:assert/strict";
import CRC32C from "crc-32/crc32c.js";
import { rng } from "../test_random.ts";
import { WasmArray } from "../wasm/runtime.ts";
import { crc32c, crc32cSeeded, crc32cWasm, WASM_MIN_BYTES } from "./crc.ts";

/** The crc-32 package, the implementation crc.ts used before the wasm kernel: the reference. */
function ref(data: Uint8Array, prev?: number): number {
  return (prev === undefined ? CRC32C.buf(data) : CRC32C.buf(data, prev | 0)) >>> 0;
}

Deno.test("crc32c: RFC 3720 check value, on both paths", () => {
  const nine = new TextEncoder().encode("123456789");
  assert.equal(crc32c(nine), 0xe3069283);
  // The same bytes repeated past the wasm threshold, against the package.
  const long = new Uint8Array(9 * 100);
  for (let i = 0; i < 100; i++) long.set(nine, 9 * i);
  assert.ok(long.length >= WASM_MIN_BYTES);
  assert.equal(crc32c(long), ref(long));
  // RFC 3720 §B.4: 32 bytes of zeros, of ones, incrementing, decrementing.
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
  assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
});

Deno.test("crc32c: equals the crc-32 package on random inputs of every length class, offsets and continuations", () => {
  const r = rng(321);
  const sizes = [0, 1, 7, 8, 9, 63, 127, 128, 129, 1000, 4095, 4096, 12287, 12288, 12289, 24583, 65535, 65536, 65537];
  for (let t = 0; t < 40; t++) sizes.push(Math.floor(r() * 200_000));
  const big = new Uint8Array(300_000);
  for (let i = 0; i < big.length; i++) big[i] = (r() * 256) | 0;
  for (const n of sizes) {
    const off = Math.floor(r() * 16);
    const data = big.subarray(off, off + n); // unaligned views too
    assert.equal(crc32c(data), ref(data), `length ${n} at offset ${off}`);
    const prev = Math.floor(r() * 2 ** 32);
    assert.equal(crc32c(data, prev), ref(data, prev), `length ${n} continuing ${prev}`);
    const cut = Math.floor(r() * (n + 1));
    assert.equal(crc32c(data.subarray(cut), crc32c(data.subarray(0, cut))), ref(data), `split at ${cut} of ${n}`);
  }
});

Deno.test("crc32c: bytes already in wasm memory are read in place, with the same result", () => {
  const r = rng(9);
  const a = new WasmArray(Uint8Array, 100_003);
  const v = a.view;
  for (let i = 0; i < v.length; i++) v[i] = (r() * 256) | 0;
  for (const [o, n] of [[0, 100_003], [3, 50_000], [1, 200], [17, 12_289]]) {
    const want = ref(v.slice(o, o + n));
    assert.equal(crc32c(a.view.subarray(o, o + n)), want);
    assert.equal(crc32cWasm(a.ptr + o, n), want);
    assert.equal(crc32cWasm(a.ptr + o + 10, n - 10, crc32cWasm(a.ptr + o, 10)), want);
  }
  a.free();
});

Deno.test("crc32cSeeded: the CRC of the u64 seed then the data", () => {
  const data = new Uint8Array(300).map((_, i) => i * 7);
  const joined = new Uint8Array(308);
  new DataView(joined.buffer).setBigUint64(0, 0x1234_5678_9abn, true);
  joined.set(data, 8);
  assert.equal(crc32cSeeded(0x1234_5678_9ab, data), ref(joined));
});
