/**
 * The SIMD search against its scalar reference: `scanStore` + `TopK`
 * (distance.ts, topk.ts), with cosine divided by the stored §8.5 norm. Hits,
 * order and f64 scores must be identical (Object.is), on random data of every
 * element type, metric and many dimensions (not multiples of 4 or 16), with
 * many exact ties, duplicates, zero vectors, extreme magnitudes and
 * restrictions (exclude, filter, slots).
 * @module
 */
import assert from "node:assert/strict";
import { FsError } from "../errors.ts";
import { rng } from "../test_random.ts";
import { decodeVector } from "./codec.ts";
import { isBetter, norm, scanStore } from "./distance.ts";
import { numberToF16Bits } from "./f16.ts";
import { kernels, lastScanStats, type ScanOptions, scanTopK, scoreAll, vectorNormOf, WasmStore } from "./simd.ts";
import { TopK } from "./topk.ts";
import { heap, WasmArray } from "../wasm/runtime.ts";
import { elemSize, type ElemType, type Metric } from "./types.ts";

const ELEMS: ElemType[] = ["f32", "f16", "i8"];
const METRICS: Metric[] = ["l2", "cosine", "ip"];

/** The reference: every considered slot's scanStore score (cosine with the stored norm) into a TopK. */
function reference(store: WasmStore, o: ScanOptions): { ino: number; score: number }[] {
  const top = new TopK(o.k, o.metric);
  const qn = norm(Float64Array.from(o.query));
  const norms = store.norms;
  const consider = new Set<number>(o.slots ? Array.from(o.slots) : [...Array(store.count).keys()]);
  scanStore(
    store.bytes,
    store.elem,
    store.dim,
    store.count,
    o.query,
    o.metric === "cosine" ? "ip" : o.metric,
    (s, d) => {
      if (!consider.has(s)) return;
      if (o.filter && !o.filter(s)) return;
      const ino = o.owners[s];
      if (o.exclude?.has(ino)) return;
      let score = d;
      if (o.metric === "cosine") {
        const xn = norms[s];
        if (qn === 0 || xn === 0) score = 0;
        else {
          const c = d / (qn * xn);
          score = c > 1 ? 1 : c < -1 ? -1 : c;
        }
      }
      top.push(ino, score);
    },
  );
  return top.result();
}

function same(got: { ino: number; score: number }[], want: { ino: number; score: number }[], what: string): void {
  assert.equal(got.length, want.length, `${what}: ${got.length} hits, want ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    if (got[i].ino !== want[i].ino || !Object.is(got[i].score, want[i].score)) {
      assert.fail(
        `${what}: hit ${i} is ino ${got[i].ino} score ${got[i].score}, want ino ${want[i].ino} score ${want[i].score}`,
      );
    }
  }
}

type Gen = (r: () => number, i: number) => number;

/** Element generators (values are encoded to the element type afterwards). */
const KINDS: Record<string, Gen> = {
  uniform: (r) => r() * 2 - 1,
  gauss: (r) => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r()),
  smallint: (r) => Math.floor(r() * 5) - 2, // many exact ties
  huge: (r) => (r() * 2 - 1) * 1e30, // squares overflow f32, not f64
  tiny: (r) => (r() * 2 - 1) * 1e-30, // squares underflow f32
  wide: (r) => (r() * 2 - 1) * 10 ** (r() * 60 - 30),
  // one base vector perturbed in the last bits: f32 scores nearly tie, the exact ones decide
  near: (r, i) => Math.sin(i * 12.9898 + 1) * (1 + (r() - 0.5) * (r() < 0.5 ? 1e-6 : 1e-3)),
};

function encode(vals: number[], elem: ElemType): Uint8Array {
  const out = new Uint8Array(vals.length * elemSize(elem));
  const dv = new DataView(out.buffer);
  vals.forEach((v, i) => {
    if (elem === "f32") dv.setFloat32(4 * i, v, true);
    else if (elem === "f16") dv.setUint16(2 * i, numberToF16Bits(Math.max(-65504, Math.min(65504, v))), true);
    else dv.setInt8(i, Math.max(-128, Math.min(127, Math.round(v * (Math.abs(v) <= 2 ? 1 : 100)))));
  });
  return out;
}

function makeStore(r: () => number, elem: ElemType, dim: number, count: number, kind: string): WasmStore {
  const g = KINDS[kind];
  const rows: Uint8Array[] = [];
  for (let s = 0; s < count; s++) {
    const p = r();
    if (p < 0.05) rows.push(new Uint8Array(dim * elemSize(elem))); // zero vector
    else if (p < 0.15 && rows.length) rows.push(rows[Math.floor(r() * rows.length)]); // duplicate
    else rows.push(encode(Array.from({ length: dim }, (_, i) => g(r, i)), elem));
  }
  const bytes = new Uint8Array(count * dim * elemSize(elem));
  rows.forEach((row, s) => bytes.set(row, s * row.length));
  return WasmStore.from(elem, dim, bytes, count);
}

function queryFor(r: () => number, store: WasmStore, kind: string, f64: boolean): ArrayLike<number> {
  const g = KINDS[kind];
  const p = r();
  if (p < 0.3 && store.count > 0) {
    // a stored vector: exact matches and ties at the top
    return decodeVector(store.vector(Math.floor(r() * store.count)).slice(), store.elem, store.dim);
  }
  if (p < 0.35) return new Float32Array(store.dim); // zero query
  const v = Array.from({ length: store.dim }, (_, i) => g(r, i));
  return f64 ? v : Float32Array.from(v);
}

// VEXFS_SIMD_FUZZ=N adds N more seeds (a longer fuzz run than the suite's).
const extraSeeds = Array.from({ length: Number(Deno.env.get("VEXFS_SIMD_FUZZ") ?? 0) }, (_, i) => 1000 + i);
for (const seed of [20240601, 77, 4242, ...extraSeeds]) {
  Deno.test(`simd: scanTopK equals scanStore + TopK on random stores (all types, metrics, awkward dims; seed ${seed})`, () => {
    randomStores(seed);
  });
}

function randomStores(seed: number): void {
  const r = rng(seed);
  const dims = [1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 33, 63, 100, 129, 300];
  let cases = 0;
  for (const elem of ELEMS) {
    for (const dim of dims) {
      for (const kind of Object.keys(KINDS)) {
        const count = 1 + Math.floor(r() * (dim > 100 ? 150 : 400));
        const store = makeStore(r, elem, dim, count, kind);
        // The same vectors without the SQ8 prefilter: the f32 pass alone.
        const plain = WasmStore.from(elem, dim, store.bytes.slice(), count, undefined, { prefilter: false });
        const owners = Array.from({ length: count }, (_, s) => 1000 + ((s * 7919) % 10007)); // not in slot order
        for (const metric of METRICS) {
          for (let t = 0; t < 3; t++) {
            const query = queryFor(r, store, kind, t === 2);
            const k = 1 + Math.floor(r() * (r() < 0.8 ? 12 : count + 5));
            const o: ScanOptions = { query, k, metric, owners };
            if (r() < 0.2) o.exclude = new Set([owners[Math.floor(r() * count)], 5]);
            if (r() < 0.2) o.filter = (s) => s % 3 !== 1;
            if (r() < 0.15) o.slots = Array.from({ length: Math.floor(r() * count) }, () => Math.floor(r() * count));
            const what = `${elem} dim ${dim} ${kind} ${metric} count ${count} k ${k}`;
            const want = reference(store, o);
            same(scanTopK(store, o), want, what);
            same(scanTopK(plain, o), want, `${what} (no prefilter)`);
            cases++;
          }
        }
        store.free();
        plain.free();
      }
    }
  }
  assert.ok(cases > 1000);
}

Deno.test("simd: MNIST-like and 128-d stores with k = 10: same hits as the reference, few candidates rescored", () => {
  const r = rng(99);
  for (const [dim, count] of [[784, 600], [128, 3000]]) {
    const vals = new Float32Array(dim * count);
    for (let i = 0; i < vals.length; i++) vals[i] = dim === 784 ? (r() < 0.8 ? 0 : Math.round(r() * 255) / 255) : r();
    const store = WasmStore.from("f32", dim, new Uint8Array(vals.buffer));
    const owners = Array.from({ length: count }, (_, s) => s + 11);
    for (const metric of METRICS) {
      for (let t = 0; t < 5; t++) {
        const query = vals.slice(t * dim, (t + 1) * dim);
        const o = { query, k: 10, metric, owners };
        same(scanTopK(store, o), reference(store, o), `${dim}-d ${metric}`);
        const st = lastScanStats();
        assert.ok(st.fast && st.prefiltered >= 10 && st.rescored <= 30, `${dim}-d ${metric}: ${JSON.stringify(st)}`);
      }
    }
    store.free();
  }
});

Deno.test("simd: NaN and infinite stored values (corruption) rank as the reference ranks them", () => {
  for (const elem of ["f32", "f16"] as const) {
    const dim = 5, count = 40;
    const r = rng(3);
    const store = makeStore(r, elem, dim, count, "uniform");
    const bytes = store.bytes;
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    for (const s of [3, 17, 30]) {
      if (elem === "f32") dv.setFloat32(s * dim * 4 + 4, s === 3 ? NaN : s === 17 ? Infinity : -Infinity, true);
      else dv.setUint16(s * dim * 2 + 2, s === 3 ? 0x7e00 : s === 17 ? 0x7c00 : 0xfc00, true);
    }
    store.refresh();
    const owners = Array.from({ length: count }, (_, s) => 100 - s);
    for (const metric of METRICS) {
      for (const k of [1, 5, 40, 50]) {
        const o = { query: new Float32Array([0.5, -0.25, 1, 0, 2]), k, metric, owners };
        same(scanTopK(store, o), reference(store, o), `${elem} ${metric} k ${k}`);
      }
    }
    store.free();
  }
});

Deno.test("simd: i8 stores at the limits of the quantized query (dim 4096, -128 everywhere, wide query ranges)", () => {
  const r = rng(17);
  for (const dim of [4096, 4095, 1000, 33]) {
    const count = 24;
    const bytes = new Int8Array(count * dim);
    for (let s = 0; s < count; s++) {
      for (let i = 0; i < dim; i++) bytes[s * dim + i] = s < 4 ? -128 : s < 8 ? 127 : Math.floor(r() * 256) - 128;
    }
    const store = WasmStore.from("i8", dim, new Uint8Array(bytes.buffer));
    const owners = Array.from({ length: count }, (_, s) => 50 + s);
    const queries = [
      new Float32Array(dim).fill(-3e38), // |q~| at its limit, products at the i32 limit
      Float32Array.from({ length: dim }, (_, i) => (i === 0 ? 1e30 : r() - 0.5)), // one element dominates
      Float32Array.from({ length: dim }, () => (r() - 0.5) * 1e-30),
      Float32Array.from({ length: dim }, (_, i) => bytes[5 * dim + i] + (r() - 0.5) * 1e-3), // next to slot 5
    ];
    for (const query of queries) {
      for (const metric of METRICS) {
        for (const k of [1, 3, 10]) {
          const o = { query, k, metric, owners };
          same(scanTopK(store, o), reference(store, o), `i8 dim ${dim} ${metric} k ${k}`);
        }
      }
    }
    store.free();
  }
});

Deno.test("simd: scoreAll gives the reference's score of every slot", () => {
  const r = rng(5);
  for (const elem of ELEMS) {
    const store = makeStore(r, elem, 19, 50, "gauss");
    for (const metric of METRICS) {
      const q = Float32Array.from({ length: 19 }, () => r() - 0.5);
      const got = scoreAll(store, q, metric);
      const qn = norm(Float64Array.from(q));
      scanStore(store.bytes, elem, 19, 50, q, metric === "cosine" ? "ip" : metric, (s, d) => {
        let want = d;
        if (metric === "cosine") {
          const xn = store.norms[s];
          want = qn === 0 || xn === 0 ? 0 : Math.max(-1, Math.min(1, d / (qn * xn)));
        }
        assert.ok(Object.is(got[s], want), `${elem} ${metric} slot ${s}: ${got[s]} vs ${want}`);
      });
      const some = scoreAll(store, q, metric, [7, 3]);
      assert.ok(Object.is(some[0], got[7]) && Object.is(some[1], got[3]));
    }
    store.free();
  }
});

Deno.test("simd: norms follow FORMAT.md §8.5 bit for bit (TS, C, and the rule)", () => {
  const r = rng(11);
  for (const elem of ELEMS) {
    for (const kind of Object.keys(KINDS)) {
      for (const dim of [1, 3, 16, 37, 384]) {
        const store = makeStore(r, elem, dim, 20, kind);
        const c = store.norms.slice(); // computed in C by append
        for (let s = 0; s < 20; s++) {
          const v = decodeVector(store.vector(s).slice(), elem, dim);
          let sum = 0;
          for (let i = 0; i < dim; i++) sum += v[i] * v[i];
          const rule = Math.fround(Math.sqrt(sum));
          assert.ok(Object.is(c[s], rule), `${elem} ${kind} dim ${dim} slot ${s}: C ${c[s]} rule ${rule}`);
          assert.ok(Object.is(vectorNormOf(store.vector(s), elem, dim), rule), `TS norm ${elem} ${kind}`);
        }
        store.free();
      }
    }
  }
});

Deno.test("simd: WasmStore put/append/removeSwap keep vectors and norms in step; CRCs per slot", async () => {
  const { crc32c } = await import("../format/crc.ts");
  const s = new WasmStore("f32", 3, 1);
  const vec = (a: number, b: number, c: number) => new Uint8Array(new Float32Array([a, b, c]).buffer);
  s.put(0, vec(3, 4, 0));
  s.append(new Uint8Array(new Float32Array([1, 0, 0, 0, 0, 2]).buffer));
  s.put(3, vec(0, 0, 0), 0);
  assert.equal(s.count, 4);
  assert.deepEqual(Array.from(s.norms), [5, 1, 2, 0]);
  s.removeSwap(1);
  assert.deepEqual(Array.from(s.norms), [5, 0, 2]);
  assert.deepEqual(Array.from(new Float32Array(s.vector(1).slice().buffer)), [0, 0, 0]);
  const crcs = s.crcs();
  for (let i = 0; i < 3; i++) assert.equal(crcs[i], crc32c(s.vector(i)));
  s.put(1, vec(1, 2, 2));
  assert.equal(s.norms[1], 3);
  // Another store's views as the source, while appending grows the memory (which detaches them).
  const filler = heap().alloc(Math.max(16, heap().stats().free - 64));
  const copy = WasmStore.from("f32", 3, s.bytes, s.count, s.norms);
  heap().free(filler);
  assert.deepEqual(Array.from(copy.norms), Array.from(s.norms));
  assert.deepEqual(copy.bytes, s.bytes);
  copy.put(copy.count, s.vector(0));
  assert.deepEqual(copy.vector(3), s.vector(0));
  copy.free();
  assert.throws(() => s.put(5, vec(1, 1, 1)), FsError);
  assert.throws(() => s.removeSwap(3), FsError);
  s.truncate(1);
  assert.equal(s.count, 1);
  s.free();
});

Deno.test("simd: WasmStore.crcs equals crc32c of each slot (records of every length class, in groups of four)", async () => {
  const { crc32c } = await import("../format/crc.ts");
  const r = rng(31);
  for (
    const [elem, dim, count] of [["i8", 5, 37], ["f32", 3, 9], ["f32", 128, 41], ["f16", 1000, 7], [
      "f32",
      4000,
      5,
    ]] as const
  ) {
    const store = makeStore(r, elem, dim, count, "gauss");
    const crcs = store.crcs();
    for (let s = 0; s < count; s++) assert.equal(crcs[s], crc32c(store.vector(s)), `${elem} dim ${dim} slot ${s}`);
    assert.deepEqual(Array.from(store.crcs(2, 5)), Array.from(crcs.slice(2, 5)));
    store.free();
  }
});

Deno.test("simd: argument errors", () => {
  const s = WasmStore.from("f32", 2, new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer));
  const owners = [1, 2];
  assert.throws(() => scanTopK(s, { query: [1], k: 1, metric: "l2", owners }), FsError);
  assert.throws(() => scanTopK(s, { query: [1, 2], k: 0, metric: "l2", owners }), FsError);
  assert.throws(() => scanTopK(s, { query: [1, 2], k: 1, metric: "dot" as Metric, owners }), FsError);
  assert.throws(() => scanTopK(s, { query: [1, 2], k: 1, metric: "l2", owners: [1] }), FsError);
  assert.throws(() => scanTopK(s, { query: [1, 2], k: 1, metric: "l2", owners, slots: [2] }), FsError);
  assert.throws(() => new WasmStore("f32", 0), FsError);
  assert.deepEqual(scanTopK(new WasmStore("i8", 4), { query: [1, 2, 3, 4], k: 3, metric: "ip", owners: [] }), []);
  s.free();
});

Deno.test("simd: the fast f32 kernels agree with the exact ones within their documented bound", () => {
  const K = kernels();
  const r = rng(8);
  const codes = { f32: 1, f16: 2, i8: 3 } as const;
  for (const elem of ELEMS) {
    for (const dim of [1, 5, 16, 33, 200, 784]) {
      const store = makeStore(r, elem, dim, 30, "gauss");
      const q = new WasmArray(Float32Array, dim);
      q.view.set(Float32Array.from({ length: dim }, () => r() * 2 - 1));
      const out = new WasmArray(Float32Array, 30);
      const eps = (Math.floor(dim / 16) + 16) * 2 ** -23; // vx_f32_eps
      const qn = norm(Float64Array.from(q.view));
      for (const [metric, code] of [["l2", 1], ["ip", 3]] as const) {
        K.vx_score_fast(codes[elem], code, store.dataPtr, dim, q.ptr, 0, 30, out.ptr);
        // Two slots at a time give each slot the bits of the one-slot kernel.
        const one = new WasmArray(Float32Array, 1), sl = new WasmArray(Uint32Array, 1);
        for (let s = 0; s < 30; s++) {
          sl.view[0] = s;
          K.vx_score_fast(codes[elem], code, store.dataPtr, dim, q.ptr, sl.ptr, 1, one.ptr);
          assert.ok(Object.is(one.view[0], out.view[s]), `${elem} dim ${dim} ${metric} slot ${s}: pair vs one`);
        }
        one.free();
        sl.free();
        const exact = scoreAll(store, q.view, metric);
        for (let s = 0; s < 30; s++) {
          const want = metric === "l2" ? exact[s] ** 2 : exact[s];
          const scale = metric === "l2" ? want : qn * store.norms[s];
          const err = Math.abs(out.view[s] - want);
          assert.ok(
            err <= eps * scale + 1e-300,
            `${elem} dim ${dim} ${metric} slot ${s}: error ${err} > ${eps * scale}`,
          );
          assert.ok(err <= (eps / 2) * scale + 1e-300, "within the undoubled bound too");
        }
      }
      q.free();
      out.free();
      store.free();
    }
  }
});

Deno.test("simd: isBetter agrees with the order scanTopK returns", () => {
  const r = rng(12);
  const store = makeStore(r, "f32", 8, 200, "smallint");
  const owners = Array.from({ length: 200 }, (_, s) => 500 - s);
  for (const metric of METRICS) {
    const hits = scanTopK(store, { query: new Float32Array([1, 0, -1, 2, 0, 0, 1, 1]), k: 50, metric, owners });
    for (let i = 1; i < hits.length; i++) {
      const a = hits[i - 1], b = hits[i];
      assert.ok(!isBetter(metric, b.score, a.score));
      if (a.score === b.score) assert.ok(a.ino < b.ino);
    }
  }
  store.free();
});
