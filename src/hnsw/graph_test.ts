/**
 * Tests of the HNSW graph against exact search (the oracle): recall on real
 * data (fiori 384-d cosine, MNIST 784-d l2) and random 128-d, deletes with
 * reclaimed ids, the swap-remove, filtered search, f16 and i8 stores,
 * determinism, and the consistency check after every mutation sequence.
 * Persistence and catch-up are in codec_test.ts and catchup_test.ts.
 */
import assert from "node:assert/strict";
import { loadFiori } from "../data/fiori.ts";
import { loadMnist } from "../data/mnist.ts";
import { rng } from "../test_random.ts";
import { NFIELDS } from "./_abi.ts";
import { exactTopK, randomVectors, recall, TestStore } from "./_testutil.ts";
import { HnswGraph } from "./graph.ts";
import { BUILD_PROGRESS_STEP, type HnswParams } from "./params.ts";
import { SlotFilter } from "./slot_filter.ts";
import { sealBlock } from "./codec.ts";
import type { ElemType, Metric } from "../vector/types.ts";

function params(dim: number, metric: Metric, elem: ElemType = "f32", m = 16, efConstruction = 100): HnswParams {
  return { dim, metric, elem, m, efConstruction, collectionId: 7, blockSize: 4096 };
}

/** A graph built over `vectors` in slot order. */
function built(p: HnswParams, vectors: Float32Array[]): { g: HnswGraph; store: TestStore } {
  const store = new TestStore(p.dim, p.elem, vectors.length);
  for (const v of vectors) store.push(v);
  const g = HnswGraph.create(p);
  store.bind(g);
  g.build(Uint32Array.from({ length: store.count }, (_, i) => i), store.crcs);
  return { g, store };
}

Deno.test("HnswGraph: the wrapper's state block matches the module's", () => {
  const g = HnswGraph.create(params(4, "l2"));
  assert.equal(NFIELDS, 65);
  assert.deepEqual(g.check(), []);
  g.free();
});

Deno.test("HnswGraph: parameters out of range are EINVAL", () => {
  for (
    const bad of [
      { m: 1 },
      { m: 129 },
      { efConstruction: 8 },
      { dim: 0 },
      { dim: 5000 },
      { blockSize: 1000 },
      { blockSize: 1024, m: 128 },
    ]
  ) {
    assert.throws(() => HnswGraph.create({ ...params(8, "l2"), ...bad }), (e: Error) => /EINVAL/.test(e.message));
  }
});

Deno.test("HnswGraph: recall@10 ≥ 0.95 on random 128-d (l2)", () => {
  const vs = randomVectors(3000, 128, 1);
  const { g, store } = built(params(128, "l2"), vs);
  assert.deepEqual(g.check(), []);
  const qs = randomVectors(100, 128, 2);
  const r = recall(g, store, "l2", qs, 10, 200);
  assert.ok(r >= 0.95, `recall ${r}`);
  const s = g.stats();
  assert.equal(s.nodes, 3000);
  assert.equal(s.levels.reduce((a, b) => a + b, 0), 3000);
  assert.ok(s.levels[0] > 2600 && s.levels[1] > 100, `levels ${s.levels}`);
  g.free();
  store.free();
});

Deno.test("HnswGraph: recall@10 ≥ 0.95 on fiori (384-d cosine, held-out queries)", async () => {
  const { docs } = await loadFiori();
  const base = docs.slice(0, docs.length - 78).map((d) => d.vector);
  const qs = docs.slice(docs.length - 78).map((d) => d.vector);
  const { g, store } = built(params(384, "cosine"), base);
  assert.deepEqual(g.check(), []);
  const r = recall(g, store, "cosine", qs, 10, 32);
  assert.ok(r >= 0.95, `recall ${r}`);
  // a stored vector finds itself first, at distance ~0
  const hit = g.search(base[123], 1, 32);
  assert.equal(hit.slots[0], 123);
  assert.ok(Math.abs(hit.distances[0]) < 1e-5);
  g.free();
  store.free();
});

Deno.test("HnswGraph: recall@10 ≥ 0.95 on MNIST (784-d l2, 2,000 images)", async () => {
  const { images } = await loadMnist(2100);
  const { g, store } = built(params(784, "l2"), images.slice(0, 2000));
  const r = recall(g, store, "l2", images.slice(2000), 10, 40);
  assert.ok(r >= 0.95, `recall ${r}`);
  g.free();
  store.free();
});

Deno.test("HnswGraph: f16 and i8 stores, every metric", () => {
  const r0 = rng(5);
  for (const elem of ["f16", "i8"] as const) {
    for (const metric of ["l2", "cosine", "ip"] as const) {
      let vs = randomVectors(800, 24, 3, 20);
      let qs = randomVectors(40, 24, 4, 20);
      if (elem === "i8") {
        const toI8 = (v: Float32Array) => v.map((x) => Math.max(-128, Math.min(127, Math.round(x * 60))));
        vs = vs.map(toI8);
        qs = qs.map(toI8);
      }
      if (metric === "ip") {
        // ip over unit vectors (as embeddings are), so 1 − dot orders like cosine
        const unit = (v: Float32Array) => {
          const n = Math.hypot(...v) || 1;
          return elem === "i8" ? v : v.map((x) => x / n);
        };
        vs = vs.map(unit);
        qs = qs.map(unit);
      }
      const { g, store } = built(params(24, metric, elem, 8, 64), vs);
      assert.deepEqual(g.check(), [], `${elem} ${metric}`);
      // raw inner products of unnormalised i8 vectors are not a metric: a wider search
      const r = recall(g, store, metric, qs, 10, metric === "ip" && elem === "i8" ? 160 : 64);
      assert.ok(r >= 0.95, `${elem} ${metric}: recall ${r}`);
      g.free();
      store.free();
    }
  }
  assert.ok(r0() >= 0);
});

Deno.test("HnswGraph: zero vectors under cosine are at distance 1", () => {
  const vs = randomVectors(50, 8, 9);
  vs[10] = new Float32Array(8);
  const { g, store } = built(params(8, "cosine", "f32", 4, 16), vs);
  const { slots, distances } = g.search(new Float32Array(8), 5, 32);
  assert.equal(slots.length, 5);
  for (const d of distances) assert.equal(d, 1);
  assert.deepEqual(g.check(), []);
  g.free();
  store.free();
});

Deno.test("HnswGraph: deleting 30% and reinserting keeps recall ≥ 0.95 and reuses node ids", () => {
  const dim = 32, metric = "l2";
  const vs = randomVectors(3000, dim, 11, 40);
  const { g, store } = built(params(dim, metric, "f32", 12, 100), vs);
  const nodeCount = g.nodeCount;
  const r = rng(12);
  // delete 30% by the engine's protocol: remove, swap-remove the store, move the last slot
  const removed: Float32Array[] = [];
  while (removed.length < 900) {
    const s = Math.floor(r() * store.count);
    removed.push(store.rows[s]);
    g.remove(s);
    const last = store.swapRemove(s);
    if (last !== s) g.moveSlot(last, s);
    store.bind(g);
  }
  assert.deepEqual(g.check(), []);
  let st = g.stats();
  assert.equal(st.nodes, 2100);
  const qs = randomVectors(60, dim, 13, 40);
  const r1 = recall(g, store, metric, qs, 10, 100);
  assert.ok(r1 >= 0.95, `recall after deletes ${r1}`);
  assert.ok(st.reclaimed + st.deleted >= 900 - 0, `reclaimed ${st.reclaimed} deleted ${st.deleted}`);
  for (const v of removed) {
    const s = store.push(v);
    store.bind(g);
    g.insert(s, store.crcs[s]);
  }
  assert.deepEqual(g.check(), []);
  st = g.stats();
  assert.equal(st.nodes, 3000);
  assert.ok(g.nodeCount <= nodeCount, `node ids grew from ${nodeCount} to ${g.nodeCount}`);
  const r2 = recall(g, store, metric, qs, 10, 100);
  assert.ok(r2 >= 0.95, `recall after reinsert ${r2}`);
  g.free();
  store.free();
});

Deno.test("HnswGraph: replace after a vector changed, consolidate frees every deleted node", () => {
  const dim = 16;
  const vs = randomVectors(1000, dim, 21, 10);
  const { g, store } = built(params(dim, "l2", "f32", 8, 64), vs);
  const fresh = randomVectors(300, dim, 22, 10);
  for (let i = 0; i < 300; i++) {
    const s = (i * 7) % 1000;
    store.set(s, fresh[i]);
    g.replace(s, store.crcs[s]);
  }
  assert.deepEqual(g.check(), []);
  assert.equal(g.stats().nodes, 1000);
  for (let s = 0; s < 1000; s += 3) g.remove(s, { vectorPresent: true });
  g.consolidate();
  const st = g.stats();
  assert.equal(st.deleted, 0);
  assert.deepEqual(g.check(), []);
  // the remaining slots still find themselves
  let found = 0, tried = 0;
  for (let s = 1; s < 1000; s += 3, tried++) if (g.search(store.rows[s], 1, 32).slots[0] === s) found++;
  assert.ok(found >= 0.98 * tried, `${found} of ${tried} slots found themselves`);
  g.free();
  store.free();
});

Deno.test("HnswGraph: moveSlot renames a node's slot without touching edges", () => {
  const vs = randomVectors(200, 8, 31);
  const { g, store } = built(params(8, "l2", "f32", 6, 32), vs);
  const n = g.nodeOfSlot(199);
  const before = g.node(n).neighbors;
  g.remove(5);
  const last = store.swapRemove(5);
  g.moveSlot(last, 5);
  store.bind(g);
  assert.equal(g.nodeOfSlot(5), n);
  assert.equal(g.nodeOfSlot(199), -1);
  assert.equal(g.slotOfNode(n), 5);
  const after = g.node(n).neighbors;
  // edges of n change only where they named the removed node
  assert.equal(after.length, before.length);
  assert.equal(g.search(store.rows[5], 1, 32).slots[0], 5);
  assert.deepEqual(g.check(), []);
  assert.throws(() => g.moveSlot(6, 7), /EEXIST/);
  assert.throws(() => g.remove(199), /ENOENT/);
  assert.throws(() => g.insert(6, 0), /EEXIST/);
  g.free();
  store.free();
});

Deno.test("HnswGraph: filtered search keeps recall@10 ≥ 0.95 at 1%, 10% and 100% of slots", () => {
  const dim = 32;
  const vs = randomVectors(4000, dim, 41, 30);
  const { g, store } = built(params(dim, "l2", "f32", 16, 100), vs);
  const qs = randomVectors(40, dim, 42, 30);
  const r = rng(43);
  for (const frac of [0.01, 0.1, 1]) {
    const f = new SlotFilter(store.count);
    for (let s = 0; s < store.count; s++) if (r() < frac) f.add(s);
    const rec = recall(g, store, "l2", qs, 10, 64, f);
    assert.ok(rec >= 0.95, `filter ${frac}: recall ${rec}`);
    for (const q of qs.slice(0, 5)) for (const s of g.search(q, 10, 64, f).slots) assert.ok(f.has(s));
    f.free();
  }
  // the engine's choice: a handful of slots is scanned, most of the collection is searched
  // (a 4,000-vector collection is small: at ef 64 scanning most of it is as cheap as the graph)
  assert.equal(g.preferExactScan(20, 64), true);
  assert.equal(g.preferExactScan(4000, 64), false);
  assert.equal(g.preferExactScan(2000, 8), false);
  assert.equal(g.preferExactScan(2000, 1000), true);
  // a filter nothing passes returns nothing
  const none = new SlotFilter(store.count);
  assert.equal(g.search(qs[0], 10, 64, none).slots.length, 0);
  none.free();
  g.free();
  store.free();
});

Deno.test("HnswGraph: the same insertions with the same seed give the same bytes", () => {
  const vs = randomVectors(600, 16, 51, 8);
  const a = built(params(16, "cosine", "f32", 8, 48), vs);
  const b = built(params(16, "cosine", "f32", 8, 48), vs);
  // every byte but the header's build time (FORMAT.md §8.6 build_ns, offset 128)
  const same = (x: Uint8Array, y: Uint8Array) => {
    assert.equal(x.length, y.length);
    x.fill(0, 128, 136);
    y.fill(0, 128, 136);
    sealBlock(x.subarray(0, 4096), 7);
    sealBlock(y.subarray(0, 4096), 7);
    assert.deepEqual(x, y);
  };
  same(a.g.encode(3, 600), b.g.encode(3, 600));
  // incremental inserts and removes too
  for (const x of [a, b]) {
    for (let s = 0; s < 100; s++) x.g.remove(s * 5);
    const extra = randomVectors(50, 16, 52, 8);
    for (let i = 0; i < 50; i++) {
      const s = i * 5;
      x.store.set(s, extra[i]);
      x.g.insert(s, x.store.crcs[s]);
    }
  }
  same(a.g.encode(4, 600), b.g.encode(4, 600));
  // another seed, other levels
  const c = built({ ...params(16, "cosine", "f32", 8, 48), seed: 99 }, vs);
  const levels = (x: HnswGraph) => Array.from({ length: 600 }, (_, n) => x.node(n).level).join();
  assert.notEqual(levels(a.g), levels(c.g));
  for (const x of [a, b, c]) {
    x.g.free();
    x.store.free();
  }
});

Deno.test("HnswGraph: levels follow mL = 1/ln M (P(level ≥ l) = M^-l)", () => {
  const g = HnswGraph.create(params(4, "l2", "f32", 16, 32));
  const counts = [0, 0, 0, 0];
  const n = 200000;
  for (let i = 0; i < n; i++) counts[Math.min(3, g.levelOf(i))]++;
  const ge1 = (n - counts[0]) / n, ge2 = (counts[2] + counts[3]) / n;
  assert.ok(Math.abs(ge1 - 1 / 16) < 0.003, `P(≥1) ${ge1}`);
  assert.ok(Math.abs(ge2 - 1 / 256) < 0.001, `P(≥2) ${ge2}`);
  g.free();
});

Deno.test("HnswGraph: optimize rebuilds compactly", () => {
  const vs = randomVectors(1000, 16, 61, 10);
  const { g, store } = built(params(16, "l2", "f32", 8, 48), vs);
  for (let s = 999; s >= 600; s--) {
    g.remove(s);
    store.swapRemove(s);
  }
  store.bind(g);
  g.optimize();
  const st = g.stats();
  assert.equal(st.nodes, 600);
  assert.equal(g.nodeCount, 600);
  assert.equal(st.deleted + st.free, 0);
  assert.deepEqual(g.check(), []);
  const qs = randomVectors(30, 16, 62, 10);
  assert.ok(recall(g, store, "l2", qs, 10, 48) >= 0.95);
  assert.deepEqual(exactTopK(store, "l2", store.rows[7], 1), [7]);
  g.free();
  store.free();
});

Deno.test("HnswGraph: random interleavings of insert, delete (swap-remove), replace and catch-up keep check() clean", () => {
  // The engine's protocols in every order: a slot may be stored before it is indexed (the
  // catch-up indexes it later), deleted while indexed or not, and changed in place. check()
  // also compares the derived in-degrees with the records: a count below the truth once let
  // a consolidation free a node still named, whose id the next insertion reused.
  for (let seed = 1; seed <= 24; seed++) {
    const r = rng(seed);
    const m = [4, 8, 16][seed % 3];
    const g = HnswGraph.create(params(16, "l2", "f32", m, 2 * m + 8));
    const store = new TestStore(16, "f32", 64);
    const indexed = new Set<number>();
    let next = 0;
    const fresh = () => randomVectors(1, 16, seed * 100_000 + next++)[0];
    for (let step = 0; step < 500; step++) {
      const x = r();
      let op: string;
      if (x < 0.4 || store.count < 3) {
        const s = store.push(fresh());
        store.bind(g);
        op = `store ${s}`;
        if (r() < 0.5) {
          g.insert(s, store.crcs[s]);
          indexed.add(s);
          op = `store and index ${s}`;
        }
      } else if (x < 0.55) {
        op = "catch-up";
        for (let s = 0; s < store.count; s++) {
          if (!indexed.has(s)) g.insert(s, store.crcs[s]), indexed.add(s);
        }
      } else if (x < 0.8) {
        const s = Math.floor(r() * store.count);
        if (indexed.delete(s)) g.remove(s, { vectorPresent: true });
        const last = store.swapRemove(s);
        if (last !== s) {
          g.moveSlot(last, s);
          if (indexed.delete(last)) indexed.add(s);
        }
        store.bind(g);
        op = `delete ${s}`;
      } else {
        const s = Math.floor(r() * store.count);
        store.set(s, fresh());
        if (indexed.has(s)) g.replace(s, store.crcs[s]);
        op = `change ${s}`;
      }
      assert.deepEqual([...g.check(), ...g.checkDerived()], [], `seed ${seed} step ${step} (${op})`);
    }
    for (let s = 0; s < store.count; s++) if (!indexed.has(s)) g.insert(s, store.crcs[s]);
    let found = 0;
    for (let s = 0; s < store.count; s++) if (g.search(store.rows[s], 1, 64).slots[0] === s) found++;
    assert.ok(found >= 0.95 * store.count, `seed ${seed}: ${found} of ${store.count} slots find themselves`);
    g.free();
    store.free();
  }
});

Deno.test("HnswGraph: a build with progress calls runs in chunks and gives the same bytes", () => {
  const n = 2 * BUILD_PROGRESS_STEP + 123; // three chunks, the last a partial one
  const vs = randomVectors(n, 8, 61, 4);
  const p = params(8, "l2", "f32", 4, 16);
  const a = built(p, vs);
  const store = new TestStore(p.dim, p.elem, n);
  for (const v of vs) store.push(v);
  const b = HnswGraph.create(p);
  store.bind(b);
  const calls: [number, number][] = [];
  b.build(Uint32Array.from({ length: n }, (_, i) => i), store.crcs, (done, total) => calls.push([done, total]));
  assert.deepEqual(calls, [[BUILD_PROGRESS_STEP, n], [2 * BUILD_PROGRESS_STEP, n], [n, n]]);
  assert.deepEqual(b.check(), []);
  const x = a.g.encode(3, n), y = b.encode(3, n);
  x.fill(0, 128, 136); // the header's build time (FORMAT.md §8.6 build_ns)
  y.fill(0, 128, 136);
  sealBlock(x.subarray(0, 4096), 7);
  sealBlock(y.subarray(0, 4096), 7);
  assert.deepEqual(x, y);
  for (const g of [a.g, b]) g.free();
  a.store.free();
  store.free();
});
