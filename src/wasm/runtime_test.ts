import assert from "node:assert/strict";
import { FsError } from "../errors.ts";
import { rng } from "../test_random.ts";
import { KERNELS_WASM } from "./kernels_wasm.ts";
import { heap, HEAP_BASE, heapU8, inMemory, instantiate, memory, memoryBytes, WasmArray } from "./runtime.ts";

Deno.test("runtime: alloc/free/realloc keep blocks disjoint, aligned and their bytes intact (random ops vs a model)", () => {
  const h = heap();
  const before = h.stats();
  const r = rng(7);
  const live = new Map<number, { size: number; align: number; fill: number }>();
  const check = (p: number, size: number, fill: number) => {
    const u = heapU8();
    for (const o of [0, size >> 1, size - 1]) {
      if (size > 0) assert.equal(u[p + o], fill, `byte ${o} of block ${p}`);
    }
  };
  for (let step = 0; step < 3000; step++) {
    const op = r();
    if (op < 0.45 || live.size === 0) {
      const size = r() < 0.1 ? Math.floor(r() * 300_000) : Math.floor(r() * 5000);
      const align = 2 ** Math.floor(r() * 13); // 1 .. 4096
      const p = h.alloc(size, align);
      assert.ok(p >= HEAP_BASE && p % Math.max(align, 16) === 0 && p + size <= memoryBytes(), `alloc ${size}@${align}`);
      const fill = step & 0xff;
      heapU8().fill(fill, p, p + size);
      live.set(p, { size, align, fill });
    } else {
      const ptrs = [...live.keys()];
      const p = ptrs[Math.floor(r() * ptrs.length)];
      const b = live.get(p)!;
      check(p, b.size, b.fill);
      live.delete(p);
      if (op < 0.75) {
        h.free(p);
      } else {
        const size = Math.floor(r() * 20000);
        const q = h.realloc(p, size, b.align);
        assert.ok(q % Math.max(b.align, 16) === 0);
        check(q, Math.min(size, b.size), b.fill);
        heapU8().fill(b.fill, q, q + size);
        live.set(q, { size, align: b.align, fill: b.fill });
      }
    }
    if (step % 500 === 0) {
      // No two live blocks overlap.
      const sorted = [...live.entries()].sort((a, b) => a[0] - b[0]);
      for (let i = 1; i < sorted.length; i++) {
        assert.ok(sorted[i - 1][0] + sorted[i - 1][1].size <= sorted[i][0], "blocks overlap");
      }
    }
  }
  for (const [p, b] of live) {
    check(p, b.size, b.fill);
    h.free(p);
  }
  const after = h.stats();
  assert.equal(after.used, before.used, "everything freed");
  assert.equal(after.blocks, before.blocks);
  assert.ok(after.holes <= before.holes + 1, `free space coalesced (${after.holes} holes)`);
});

Deno.test("runtime: realloc grows in place into free space and at the end of memory", () => {
  const h = heap();
  const p = h.alloc(1 << 20);
  const end = p + (1 << 20);
  // At the end of the heap (or before a free range): growing keeps the address.
  const q = h.realloc(p, 3 << 20);
  if (end >= memoryBytes() - (1 << 20)) assert.equal(q, p);
  assert.equal(h.sizeOf(q), 3 << 20);
  const s = h.realloc(q, 100);
  assert.equal(s, q, "shrinking stays in place");
  h.free(s);
});

Deno.test("runtime: errors: double free, bad alignment, bad size, more than 4 GiB", () => {
  const h = heap();
  const p = h.alloc(64);
  h.free(p);
  assert.throws(() => h.free(p), (e: unknown) => e instanceof FsError && e.code === "EINVAL");
  assert.throws(() => h.realloc(p, 10), (e: unknown) => e instanceof FsError && e.code === "EINVAL");
  assert.throws(() => h.alloc(16, 3), (e: unknown) => e instanceof FsError && e.code === "EINVAL");
  assert.throws(() => h.alloc(-1), (e: unknown) => e instanceof FsError && e.code === "EINVAL");
  assert.throws(() => h.alloc(5 * 2 ** 30), (e: unknown) => e instanceof FsError && e.code === "ENOMEM");
});

Deno.test("runtime: a WasmArray's view survives memory growth; raw views do not", () => {
  const a = new WasmArray(Float32Array, 1000);
  a.view[999] = 1.5;
  assert.ok(inMemory(a.view) && !inMemory(new Float32Array(4)));
  const raw = new Float32Array(memory().buffer, a.ptr, 1000);
  const big = heap().alloc(memoryBytes()); // forces growth
  assert.equal(raw.length, 0, "the old buffer is detached");
  assert.equal(a.view[999], 1.5);
  a.resize(200_000);
  assert.equal(a.view[999], 1.5);
  assert.equal(a.view[199_999], 0, "new elements are zero");
  heap().free(big);
  a.free();
  a.free(); // idempotent
  assert.throws(() => a.view, FsError);
});

Deno.test("runtime: instantiate gives one instance per module on the shared memory", () => {
  const k1 = instantiate<{ vx_crc32c(prev: number, p: number, n: number): number }>(KERNELS_WASM);
  const k2 = instantiate<{ vx_crc32c(prev: number, p: number, n: number): number }>(KERNELS_WASM);
  assert.equal(k1, k2);
  const buf = new WasmArray(Uint8Array, 9);
  buf.view.set(new TextEncoder().encode("123456789"));
  assert.equal(k1.vx_crc32c(0, buf.ptr, 9) >>> 0, 0xe3069283); // RFC 3720 check value
  buf.free();
});
