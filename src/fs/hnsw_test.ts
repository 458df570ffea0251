/**
 * The HNSW graph inside the engine (docs/FORMAT.md §8.6): it follows every
 * change to a collection, persists across opens, is caught up when it is
 * stale or damaged, never gives a wrong score, and keeps recall@10 ≥ 0.95
 * through deletes, replacements, moves and subtree searches.
 */
import assert from "node:assert/strict";
import { MemDevice } from "../device/mem.ts";
import { ROOT_INO } from "../format/constants.ts";
import { decodeCollection } from "../format/collection.ts";
import { fsck } from "../fsck/fsck.ts";
import { rng } from "../test_random.ts";
import { Vexfs } from "./fs.ts";
import { computeLayout, writeFilesystem } from "./mkfs.ts";

const DIM = 16;

function image(): MemDevice {
  const dev = new MemDevice(32 << 20);
  writeFilesystem(dev, computeLayout(dev.size, { blockSize: 4096, inodes: 8192 }), {
    uuid: crypto.getRandomValues(new Uint8Array(16)),
  });
  return dev;
}

/** Opens `bytes` with the graph used for every search (no exact shortcut for small collections). */
function open(bytes: Uint8Array): Vexfs {
  const fs = Vexfs.openDevice(new MemDevice(bytes));
  fs.collections.exactScanElements = 0;
  return fs;
}

function vec(r: () => number): Float32Array {
  return Float32Array.from({ length: DIM }, () => r() * 2 - 1);
}

/** recall@10 of graph searches against exact ones over `queries`. */
function recall(fs: Vexfs, dir: number, queries: Float32Array[], ef = 64): number {
  let hit = 0;
  for (const q of queries) {
    const a = fs.collections.searchEx(dir, q, 10, { ef, paths: false });
    assert.equal(a.method.method, "hnsw");
    const b = fs.collections.search(dir, q, 10, { exact: true, paths: false });
    const want = new Map(b.map((h) => [h.ino, h.score]));
    for (const h of a.hits) {
      if (want.has(h.ino)) {
        hit++;
        assert.equal(h.score, want.get(h.ino), "a graph hit's score is the exact score");
      }
    }
  }
  return hit / (10 * queries.length);
}

function fsckClean(bytes: Uint8Array): void {
  const r = fsck(new MemDevice(bytes, { readOnly: true }), { readOnly: true });
  assert.deepEqual(r.problems.filter((p) => p.severity !== "info"), [], "fsck");
}

Deno.test("hnsw: the graph follows sets, replacements, deletes and moves, and keeps recall@10 ≥ 0.95", () => {
  const dev = image();
  const r = rng(7);
  let fs = open(dev.bytes);
  const a = fs.mkdir(ROOT_INO, "a");
  const b = fs.mkdir(ROOT_INO, "b");
  fs.collections.create(a, { dim: DIM, metric: "l2", elem: "f32", m: 8, efConstruction: 64 });
  fs.collections.create(b, { dim: DIM, metric: "l2", elem: "f32", m: 8, efConstruction: 64 });
  const files: number[] = [];
  for (let i = 0; i < 1500; i++) {
    const f = fs.create(a, `f${i}`);
    fs.collections.setVector(f, vec(r));
    files.push(f);
  }
  const queries = Array.from({ length: 40 }, () => vec(r));
  assert.ok(recall(fs, a, queries) >= 0.95, "after inserts");
  // delete 30%, replace 10%, move 10% to the other collection
  for (let i = 0; i < 450; i++) fs.unlink(a, `f${i}`);
  for (let i = 450; i < 600; i++) fs.collections.setVector(files[i], vec(r));
  for (let i = 600; i < 750; i++) fs.rename(a, `f${i}`, b, `f${i}`);
  assert.equal(fs.collections.get(1).count, 1500 - 450 - 150);
  assert.equal(fs.collections.get(2).count, 150);
  assert.ok(recall(fs, a, queries) >= 0.95, "after deletes, replacements and moves out");
  assert.ok(recall(fs, b, queries) >= 0.95, "in the collection the files moved to");
  const st = fs.collections.indexStats(a);
  assert.equal(st.graph!.nodes, 900);
  assert.ok(st.graph!.nodeCount <= 1500, "deleted node ids are reused, the graph does not grow");
  fs.close();
  fsckClean(dev.bytes);
  // reopened: the graph on disk is current and answers the same
  fs = open(dev.bytes);
  const before = queries.map((q) => fs.collections.search(a, q, 10, { paths: false }));
  const s2 = fs.collections.indexStats(a);
  assert.equal(s2.note, "current");
  assert.equal(s2.current, true);
  assert.deepEqual(queries.map((q) => fs.collections.search(a, q, 10, { paths: false })), before);
  fs.close();
});

Deno.test("hnsw: a stale or damaged graph is caught up on load, and search is never wrong", () => {
  const dev = image();
  const r = rng(11);
  let fs = open(dev.bytes);
  const a = fs.mkdir(ROOT_INO, "a");
  fs.collections.create(a, { dim: DIM, metric: "cosine", elem: "f32", m: 8, efConstruction: 64 });
  for (let i = 0; i < 800; i++) fs.collections.setVector(fs.create(a, `f${i}`), vec(r));
  fs.close();
  const queries = Array.from({ length: 30 }, () => vec(r));
  // 1. Stale: a power cut after a commit and before the graph was written after it (FORMAT.md §8.6).
  {
    const bytes = dev.bytes.slice();
    fs = open(bytes);
    (fs.collections as unknown as { checkpoint: () => void }).checkpoint = () => {}; // the graph write never happens
    for (let i = 800; i < 900; i++) fs.collections.setVector(fs.create(a, `f${i}`), vec(r));
    for (let i = 0; i < 50; i++) fs.unlink(a, `f${i}`);
    fs.sync(); // the journal has the changes; the graph file is as it was
    const crashed = bytes.slice(); // the power cut: fs is never closed
    const fs2 = open(crashed);
    const st = fs2.collections.indexStats(a);
    assert.match(st.note, /caught up/);
    assert.equal(st.graph!.nodes, 850);
    assert.ok(recall(fs2, a, queries) >= 0.95, "after the catch-up");
    fs2.close();
    fsckClean(crashed);
  }
  // 2. Damaged: flip bytes in a graph block; the block fails its checksum, its nodes are reinserted.
  {
    const bytes = dev.bytes.slice();
    fs = open(bytes);
    const ino = fs.collections.record(1)!.hnswIno;
    const block = fs.bmap(fs.iget(ino), 1); // file block 1: the first block of the node region (FORMAT.md §8.6)
    fs.close();
    bytes[block * 4096 + 100] ^= 0xff;
    const fs2 = open(bytes);
    const st = fs2.collections.indexStats(a);
    assert.match(st.note, /caught up.*damaged/);
    assert.ok(recall(fs2, a, queries) >= 0.95, "after the damaged block was dropped and its nodes reinserted");
    fs2.close();
  }
});

Deno.test("hnsw: subtree search through the filtered traversal keeps recall@10 ≥ 0.95 at 1%, 10% and 100%", () => {
  const dev = image();
  const r = rng(3);
  const fs = open(dev.bytes);
  const root = fs.mkdir(ROOT_INO, "c");
  fs.collections.create(root, { dim: DIM, metric: "ip", elem: "f32", m: 8, efConstruction: 64 });
  const one = fs.mkdir(root, "one");
  const ten = fs.mkdir(root, "ten");
  const rest = fs.mkdir(root, "rest");
  for (let i = 0; i < 2000; i++) {
    const d = i % 100 === 0 ? one : i % 10 === 1 ? ten : rest;
    fs.collections.setVector(fs.create(d, `f${i}`), vec(r));
  }
  const queries = Array.from({ length: 30 }, () => vec(r));
  // the filtered traversal at every size (by default subtrees this small are scanned exactly)
  fs.collections.subtreeExactMax = 0;
  fs.collections.subtreeExactFraction = 0;
  for (const [dir, name] of [[one, "1%"], [ten, "10%"], [root, "100%"]] as const) {
    let hit = 0;
    for (const q of queries) {
      const ex = fs.collections.searchEx(dir, q, 10, { paths: false });
      assert.equal(ex.method.method, "hnsw", `subtree ${name} through the graph`);
      const a = ex.hits;
      const b = fs.collections.search(dir, q, 10, { exact: true, paths: false });
      const want = new Set(b.map((h) => h.ino));
      hit += a.filter((h) => want.has(h.ino)).length;
      assert.ok(a.every((h) => fs.pathOf(h.ino).startsWith(fs.pathOf(dir))), "only files below the directory");
    }
    assert.ok(hit / (10 * queries.length) >= 0.95, `subtree ${name}: recall ${hit / (10 * queries.length)}`);
  }
  fs.close();
});

Deno.test("hnsw: index drop makes a collection flat, build makes it HNSW again, optimize compacts", () => {
  const dev = image();
  const r = rng(5);
  let fs = open(dev.bytes);
  const a = fs.mkdir(ROOT_INO, "a");
  fs.collections.create(a, { dim: DIM, metric: "l2", elem: "f32", index: "flat" });
  for (let i = 0; i < 500; i++) fs.collections.setVector(fs.create(a, `f${i}`), vec(r));
  assert.equal(fs.collections.indexStats(a).index, "flat");
  assert.equal(fs.collections.searchEx(a, vec(r), 5).method.method, "exact");
  const built = fs.collections.buildIndex(a, { m: 8, efConstruction: 50 });
  assert.equal(built.index, "hnsw");
  assert.equal(built.graph!.nodes, 500);
  assert.equal(built.graph!.m, 8);
  for (let i = 0; i < 200; i++) fs.unlink(a, `f${i}`);
  const opt = fs.collections.optimizeIndex(a);
  assert.equal(opt.graph!.nodes, 300);
  assert.equal(opt.graph!.deleted + opt.graph!.free, 0, "no deleted or free nodes after optimize");
  fs.close();
  fsckClean(dev.bytes);
  fs = open(dev.bytes);
  assert.equal(fs.collections.indexStats(a).graph!.nodes, 300);
  fs.collections.dropIndex(a);
  assert.equal(fs.collections.record(1)!.hnswIno, 0);
  fs.close();
  fsckClean(dev.bytes);
  const raw = Vexfs.openDevice(new MemDevice(dev.bytes, { readOnly: true }), { readOnly: true });
  const t = raw.iget(3);
  assert.equal(decodeCollection(1, raw.read(3, 0, t.d.size).subarray(0, 256))!.flags & 2, 0);
  raw.close();
});

Deno.test("hnsw: fsck checks the graph; its repair drops a damaged one and the engine rebuilds it", () => {
  const dev = image();
  const r = rng(13);
  let fs = open(dev.bytes);
  const a = fs.mkdir(ROOT_INO, "a");
  fs.collections.create(a, { dim: DIM, metric: "l2", elem: "f32", m: 8, efConstruction: 64 });
  for (let i = 0; i < 600; i++) fs.collections.setVector(fs.create(a, `f${i}`), vec(r));
  fs.close();
  fsckClean(dev.bytes);
  fs = open(dev.bytes);
  const block = fs.bmap(fs.iget(fs.collections.record(1)!.hnswIno), 1);
  fs.close();
  dev.bytes[block * 4096 + 64] ^= 0x10;
  const n = fsck(new MemDevice(dev.bytes, { readOnly: true }), { readOnly: true });
  assert.ok(n.problems.some((p) => p.code === "HNSW_DAMAGED"), JSON.stringify(n.problems));
  const y = fsck(new MemDevice(dev.bytes), { yes: true });
  assert.equal(y.exitCode, 1, JSON.stringify(y.problems));
  fsckClean(dev.bytes);
  fs = open(dev.bytes);
  assert.equal(fs.collections.record(1)!.hnswIno, 0);
  const st = fs.collections.indexStats(a);
  assert.match(st.note, /built/);
  assert.equal(st.graph!.nodes, 600);
  fs.close();
  fsckClean(dev.bytes);
});

Deno.test("hnsw: a small collection is scanned exactly unless an ef is given, which asks for the graph", () => {
  const dev = image();
  const r = rng(11);
  const fs = Vexfs.openDevice(dev);
  const a = fs.mkdir(ROOT_INO, "a");
  fs.collections.create(a, { dim: DIM, metric: "cosine", elem: "f32" });
  for (let i = 0; i < 300; i++) fs.collections.setVector(fs.create(a, `f${i}`), vec(r));
  const q = vec(r);
  const auto = fs.collections.searchEx(a, q, 10);
  assert.equal(auto.method.method, "exact");
  assert.match(auto.method.reason ?? "", /small collection/);
  const withEf = fs.collections.searchEx(a, q, 10, { ef: 32 });
  assert.equal(withEf.method.method, "hnsw");
  assert.equal(withEf.method.ef, 32);
  const exact = fs.collections.searchEx(a, q, 10, { ef: 32, exact: true });
  assert.equal(exact.method.method, "exact", "--exact wins over --ef");
  assert.deepEqual(exact.hits, auto.hits);
  fs.close();
});

Deno.test("hnsw: a power cut right after a checkpoint leaves a graph that is current, even one written whole", () => {
  const dev = image();
  const r = rng(13);
  const fs = open(dev.bytes);
  const a = fs.mkdir(ROOT_INO, "a");
  fs.collections.create(a, { dim: DIM, metric: "l2", elem: "f32", m: 8, efConstruction: 64 });
  for (let round = 0; round < 3; round++) {
    // each round grows the graph past its layout, so the checkpoint writes the file whole (a new header block)
    for (let i = 0; i < 400 * (round + 1); i++) fs.collections.setVector(fs.create(a, `r${round}-${i}`), vec(r));
    fs.sync(); // commit, then the graph written after it; nothing commits after the header
    const crashed = dev.bytes.slice(); // the power cut: fs is never closed
    const fs2 = open(crashed);
    const st = fs2.collections.indexStats(a);
    assert.equal(st.note, "current", `round ${round}: the graph after the power cut: ${st.note}`);
    assert.equal(st.current, true);
    fs2.close();
    fsckClean(crashed);
  }
  fs.close();
});

Deno.test("hnsw: a graph too far behind is not caught up by a search, which scans exactly and says so", () => {
  const dev = image();
  const r = rng(17);
  let fs = open(dev.bytes);
  const a = fs.mkdir(ROOT_INO, "a");
  fs.collections.create(a, { dim: DIM, metric: "l2", elem: "f32", m: 8, efConstruction: 64 });
  for (let i = 0; i < 600; i++) fs.collections.setVector(fs.create(a, `f${i}`), vec(r));
  fs.close();
  fs = open(dev.bytes);
  (fs.collections as unknown as { checkpoint: () => void }).checkpoint = () => {}; // the graph write never happens
  for (let i = 600; i < 1000; i++) fs.collections.setVector(fs.create(a, `f${i}`), vec(r));
  fs.sync();
  const crashed = dev.bytes.slice(); // the power cut
  const fs2 = open(crashed);
  fs2.collections.searchCatchUpVectors = 100; // 400 vectors behind: more than a search may catch up
  const q = vec(r);
  const s = fs2.collections.searchEx(a, q, 10, { ef: 64 });
  assert.equal(s.method.method, "exact");
  assert.match(s.method.reason!, /far behind/);
  assert.deepEqual(s.hits, fs2.collections.search(a, q, 10, { exact: true }), "the scan's answer is exact");
  const st = fs2.collections.indexStats(a);
  assert.equal(st.current, false);
  assert.match(st.note, /400 vectors behind/);
  // a change to the collection catches the graph up, whatever it costs; searches use it again
  fs2.collections.setVector(fs2.create(a, "new"), vec(r));
  const after = fs2.collections.searchEx(a, q, 10, { ef: 64 });
  assert.equal(after.method.method, "hnsw");
  assert.match(fs2.collections.indexStats(a).note, /caught up.*400 inserted/);
  fs2.close();
  fsckClean(crashed);
});

Deno.test("subtree search follows renames, links, unlinks and vector changes (its slots are cached)", () => {
  const dev = image();
  const r = rng(19);
  const fs = open(dev.bytes);
  const root = fs.mkdir(ROOT_INO, "c");
  fs.collections.create(root, { dim: DIM, metric: "l2", elem: "f32", m: 8, efConstruction: 64 });
  const a = fs.mkdir(root, "a");
  const b = fs.mkdir(root, "b");
  const inos: number[] = [];
  for (let i = 0; i < 300; i++) {
    const f = fs.create(i < 100 ? a : b, `f${i}`);
    fs.collections.setVector(f, vec(r));
    inos.push(f);
  }
  const q = vec(r);
  const all = (dir: number) =>
    new Set(fs.collections.search(dir, q, 150, { exact: true, paths: false }).map((h) => h.ino));
  for (const forced of [false, true]) {
    // the graph's filtered traversal too (ef large enough to find all)
    fs.collections.subtreeExactMax = forced ? 0 : 4096;
    fs.collections.subtreeExactFraction = forced ? 0 : 0.05;
    const under = (dir: number) =>
      new Set(fs.collections.search(dir, q, 150, { paths: false, ...(forced ? { ef: 2000 } : {}) }).map((h) => h.ino));
    assert.deepEqual(under(a), all(a));
    assert.equal(
      fs.collections.searchEx(a, q, 150, forced ? { ef: 2000 } : {}).method.method,
      forced ? "hnsw" : "exact",
    );
    const moved = inos[150 + (forced ? 1 : 0)];
    fs.rename(b, `f${150 + (forced ? 1 : 0)}`, a, `m${forced}`);
    assert.ok(under(a).has(moved), "a file renamed into the directory is found below it");
    assert.ok(!under(b).has(moved), "and no longer below the old one");
    const fresh = fs.create(a, `new${forced}`);
    fs.collections.setVector(fresh, vec(r));
    assert.ok(under(a).has(fresh), "a new vector below the directory");
    fs.unlink(a, `new${forced}`);
    assert.ok(!under(a).has(fresh), "an unlinked file is gone");
    assert.deepEqual(under(a), all(a));
  }
  fs.close();
});
