/**
 * Tests of the graph file (FORMAT.md §8.6): header round trip, encode →
 * decode → encode byte identity, rejection of damaged or foreign files with a
 * reason, dirty-block writes that reproduce the full encoding, region growth,
 * and the catch-up after damage or a stale graph (catchup.ts).
 */
import assert from "node:assert/strict";
import { rng } from "../test_random.ts";
import { randomVectors, recall, TestStore } from "./_testutil.ts";
import { catchUp, planCatchUp } from "./catchup.ts";
import {
  decodeHeader,
  emptyHeader,
  encodeHeader,
  geometry,
  HEADER_BYTES,
  HNSW_MAGIC,
  planLayout,
  sealBlock,
} from "./codec.ts";
import { HnswGraph } from "./graph.ts";
import type { HnswParams } from "./params.ts";

const BS = 4096;
const P: HnswParams = {
  dim: 16,
  metric: "cosine",
  elem: "f32",
  m: 8,
  efConstruction: 48,
  collectionId: 42,
  blockSize: BS,
};

function built(n: number, seed = 1): { g: HnswGraph; store: TestStore } {
  const store = new TestStore(P.dim, P.elem, n);
  for (const v of randomVectors(n, P.dim, seed, 12)) store.push(v);
  const g = HnswGraph.create(P);
  store.bind(g);
  g.build(Uint32Array.from({ length: n }, (_, i) => i), store.crcs);
  return { g, store };
}

/** Writes a plan and header into a file image as the engine would. */
function apply(file: Uint8Array, g: HnswGraph, generation: number, count: number): Uint8Array {
  const plan = g.dirtyBlocks();
  let out = file;
  if (plan.rewrite || out.length !== plan.fileBlocks * BS) {
    out = new Uint8Array(plan.fileBlocks * BS);
    out.set(file.subarray(0, Math.min(file.length, out.length)));
  }
  for (const b of plan.blocks) {
    assert.notEqual(b.block, 0);
    out.set(b.data, b.block * BS);
  }
  out.set(g.encodeHeader(generation, count), 0);
  g.markClean();
  return out;
}

Deno.test("codec: header round trip and its checks", () => {
  const h = emptyHeader({ m: 16, efConstruction: 200, dim: 384, metric: 2, elem: 1, seed: 42 });
  Object.assign(h, planLayout(BS, 16, { nodes: 1000, uppers: 80, slots: 1000 }), {
    entry: 3,
    maxLevel: 2,
    nodeCount: 1000,
    upperCount: 70,
    slotCap: planLayout(BS, 16, { nodes: 1000, uppers: 80, slots: 1000 }).slotCap,
    generation: 2 ** 40 + 5,
    count: 999,
    deleted: 1,
    reclaimed: 9,
    buildNs: 123456789,
    inserts: 17,
  });
  delete (h as unknown as Record<string, unknown>).blockSize;
  delete (h as unknown as Record<string, unknown>).fileBlocks;
  const b = encodeHeader(h, 42, BS);
  assert.equal(b.length, BS);
  assert.equal(new DataView(b.buffer).getUint32(0, true), HNSW_MAGIC);
  assert.deepEqual(new TextDecoder().decode(b.subarray(0, 4)), "HNSW");
  for (let i = HEADER_BYTES; i < BS - 4; i++) assert.equal(b[i], 0);
  assert.deepEqual(decodeHeader(b, 42), h);
  assert.throws(() => decodeHeader(b, 43), /EUCLEAN.*checksum/);
  const bad = (patch: (v: DataView) => void, re: RegExp) => {
    const c = b.slice();
    patch(new DataView(c.buffer));
    sealBlock(c, 42);
    assert.throws(() => decodeHeader(c, 42), re);
  };
  bad((v) => v.setUint32(0, 0x12345678, true), /bad magic/);
  bad((v) => v.setUint16(4, 2, true), /unsupported version 2/);
  bad((v) => v.setUint16(8, 20, true), /M0 20 is not 2M/);
  bad((v) => v.setUint32(28, 5000, true), /node_count 5000 > node_cap/);
  bad((v) => v.setUint32(20, 1000, true), /entry 1000/);
  bad((v) => v.setBigUint64(80, 1n, true), /overlaps/);
  // geometry of FORMAT.md §8.6: records never straddle a block
  assert.deepEqual(geometry(4096, 16), { nodePerBlock: 28, upperPerBlock: 51, slotPerBlock: 1023 });
  assert.deepEqual(geometry(1024, 16), { nodePerBlock: 7, upperPerBlock: 12, slotPerBlock: 255 });
});

Deno.test("codec: encode → decode → encode is byte-identical and searches the same", () => {
  const { g, store } = built(1500);
  for (let s = 0; s < 200; s += 7) g.remove(s); // deleted and free nodes, free upper records
  const file = apply(new Uint8Array(0), g, 11, 1500);
  assert.deepEqual(file, g.encode(11, 1500));
  const d = HnswGraph.decode(file, P);
  store.bind(d);
  assert.deepEqual(d.check(), []);
  assert.deepEqual(d.matches, { generation: 11, count: 1500 });
  const a = g.stats(), b = d.stats();
  for (const k of ["nodes", "deleted", "free", "nodeCount", "upperCount", "reclaimed", "maxLevel", "entry"] as const) {
    assert.equal(b[k], a[k], k);
  }
  assert.deepEqual(b.levels, a.levels);
  assert.deepEqual(d.encode(11, 1500), file);
  for (const q of randomVectors(20, P.dim, 9, 12)) {
    assert.deepEqual(d.search(q, 10, 40), g.search(q, 10, 40));
  }
  // and it goes on identically
  for (const x of [g, d]) {
    for (let s = 0; s < 200; s += 7) x.insert(s, store.crcs[s]);
  }
  assert.deepEqual(d.encode(12, 1500), g.encode(12, 1500));
  g.free();
  d.free();
  store.free();
});

Deno.test("codec: a damaged or foreign file is refused with the reason", () => {
  const { g, store } = built(400);
  const file = g.encode(1, 400);
  const layout = decodeHeader(file.subarray(0, BS), 42);
  const flip = (block: number) => {
    const c = file.slice();
    c[block * BS + 100] ^= 0x40;
    return c;
  };
  assert.throws(() => HnswGraph.decode(flip(0), P), /EUCLEAN.*header.*checksum/);
  assert.throws(() => HnswGraph.decode(flip(layout.nodeStart), P), /EUCLEAN.*node region block 0.*checksum/);
  assert.throws(() => HnswGraph.decode(flip(layout.upperStart), P), /EUCLEAN.*upper region block 0/);
  assert.throws(() => HnswGraph.decode(flip(layout.slotStart), P), /EUCLEAN.*slot map region block 0/);
  assert.throws(() => HnswGraph.decode(file.subarray(0, file.length - BS), P), /EUCLEAN.*truncated/);
  assert.throws(() => HnswGraph.decode(file, { ...P, collectionId: 43 }), /EUCLEAN.*checksum/);
  assert.throws(() => HnswGraph.decode(file, { ...P, dim: 17 }), /EINVAL.*dim 16 differs/);
  assert.throws(() => HnswGraph.decode(file, { ...P, metric: "l2" }), /EINVAL.*metric/);
  // a record that checksums but is inconsistent: an edge to a node past node_count
  const c = file.slice();
  const v = new DataView(c.buffer, layout.nodeStart * BS);
  v.setUint32(16, 100000, true);
  sealBlock(c.subarray(layout.nodeStart * BS, (layout.nodeStart + 1) * BS), 42);
  assert.throws(() => HnswGraph.decode(c, P), /EUCLEAN.*inconsistent.*neighbour 100000/);
  g.free();
  store.free();
});

Deno.test("codec: dirty blocks reproduce the full encoding; growth rewrites the file", () => {
  const { g, store } = built(1000);
  let file = apply(new Uint8Array(0), g, 1, 1000);
  assert.deepEqual(file, g.encode(1, 1000));
  const total = file.length / BS;
  // one insertion touches a few blocks (its node, its neighbours', a slot map block), in place
  const s1 = store.push(randomVectors(1, P.dim, 99, 12)[0]);
  store.bind(g);
  g.insert(s1, store.crcs[s1]);
  assert.equal(g.dirty, true);
  const plan = g.dirtyBlocks();
  assert.equal(plan.rewrite, false);
  assert.ok(plan.blocks.length > 1 && plan.blocks.length <= 2 * P.m + 4, `${plan.blocks.length} of ${total} blocks`);
  file = apply(file, g, 2, 1001);
  assert.deepEqual(file, g.encode(2, 1001));
  // deletions and reinsertions too
  for (let s = 0; s < 10; s++) {
    g.remove(s * 50);
    g.insert(s * 50, store.crcs[s * 50]);
  }
  file = apply(file, g, 3, 1001);
  assert.deepEqual(file, g.encode(3, 1001));
  assert.equal(g.dirtyBlocks().blocks.length, 0);
  assert.equal(g.dirty, false);
  g.markClean();
  // growth past the node region's capacity moves the regions
  const more = randomVectors(1000, P.dim, 5, 12);
  for (const v of more) {
    const s = store.push(v);
    store.bind(g);
    g.insert(s, store.crcs[s]);
  }
  const grown = g.dirtyBlocks();
  assert.equal(grown.rewrite, true);
  assert.ok(grown.fileBlocks > total);
  assert.equal(grown.blocks.length, grown.fileBlocks - 1);
  file = apply(file, g, 4, 2001);
  assert.deepEqual(file, g.encode(4, 2001));
  const d = HnswGraph.decode(file, P);
  store.bind(d);
  assert.deepEqual(d.check(), []);
  assert.equal(d.stats().nodes, 2001);
  d.free();
  g.free();
  store.free();
});

Deno.test("codec: a lenient decode of a sound file holds it as read; in-place writes then stay consistent", () => {
  const { g, store } = built(800);
  const file = apply(new Uint8Array(0), g, 1, 800);
  const d = HnswGraph.decode(file, P, { lenient: true });
  assert.deepEqual(d.decodeProblems, []);
  store.bind(d);
  d.markClean(); // as the engine does when generation and count match
  assert.deepEqual(d.encode(1, 800), file);
  for (let s = 0; s < 800; s += 40) {
    d.remove(s);
    d.insert(s, store.crcs[s]);
  }
  const plan = d.dirtyBlocks();
  assert.equal(plan.rewrite, false);
  const after = apply(file, d, 2, 800);
  assert.deepEqual(after, d.encode(2, 800));
  const e = HnswGraph.decode(after, P);
  store.bind(e);
  assert.deepEqual(e.check(), []);
  for (const x of [g, d, e]) x.free();
  store.free();
});

Deno.test("catch-up: random damage is dropped and reinserted; recall and consistency come back", () => {
  const n = 2000;
  const { g, store } = built(n, 3);
  const file = g.encode(5, n);
  const h = decodeHeader(file.subarray(0, BS), 42);
  const r = rng(77);
  for (let trial = 0; trial < 4; trial++) {
    const c = file.slice();
    const blocks = (file.length / BS) - 1;
    for (let i = 0; i < 3 + trial; i++) {
      const b = 1 + Math.floor(r() * blocks);
      c[b * BS + Math.floor(r() * (BS - 4))] ^= 1 + Math.floor(r() * 255);
    }
    assert.throws(() => HnswGraph.decode(c, P), /EUCLEAN/);
    const d = HnswGraph.decode(c, P, { lenient: true });
    assert.ok(d.decodeProblems.length > 0);
    store.bind(d);
    const plan = catchUp(d, store.crcs);
    assert.ok(plan.insert.length > 0, `trial ${trial}: nothing reinserted`);
    assert.deepEqual(d.check(), [], `trial ${trial}`);
    for (let s = 0; s < n; s++) assert.ok(d.nodeOfSlot(s) >= 0, `slot ${s} not indexed`);
    assert.deepEqual(planCatchUp(d, store.crcs), { insert: [], remove: [] });
    const rec = recall(d, store, "cosine", randomVectors(30, P.dim, 8, 12), 10, 96);
    assert.ok(rec >= 0.95, `trial ${trial}: recall ${rec}`);
    assert.equal(d.stats().nodes, n);
    d.free();
  }
  // a damaged header cannot be caught up: the caller rebuilds
  const c = file.slice();
  c[50] ^= 1;
  assert.throws(() => HnswGraph.decode(c, P, { lenient: true }), /EUCLEAN.*header/);
  assert.ok(h.nodeCount === n);
  g.free();
  store.free();
});

Deno.test("catch-up: a stale graph follows the store's changes (set, delete, append) it missed", () => {
  const n = 1500;
  const { g, store } = built(n, 4);
  const file = g.encode(7, n);
  // the store changes behind the graph's back (a crash before the graph write, or a writer without HNSW)
  const fresh = randomVectors(300, P.dim, 6, 12);
  for (let i = 0; i < 100; i++) store.set(i * 13, fresh[i]); // changed in place
  for (let i = 0; i < 100; i++) store.swapRemove(Math.floor((i * 7919) % store.count)); // deleted
  for (let i = 100; i < 300; i++) store.push(fresh[i]); // appended
  const d = HnswGraph.decode(file, P); // checksums are fine: only generation and count are old
  assert.deepEqual(d.matches, { generation: 7, count: n });
  store.bind(d);
  const plan = planCatchUp(d, store.crcs);
  assert.ok(plan.insert.length >= 300 && plan.remove.length >= 100, `${plan.insert.length} ${plan.remove.length}`);
  catchUp(d, store.crcs);
  assert.deepEqual(d.check(), []);
  assert.deepEqual(planCatchUp(d, store.crcs), { insert: [], remove: [] });
  assert.equal(d.stats().nodes, store.count);
  const rec = recall(d, store, "cosine", randomVectors(30, P.dim, 8, 12), 10, 96);
  assert.ok(rec >= 0.95, `recall ${rec}`);
  g.free();
  d.free();
  store.free();
});
