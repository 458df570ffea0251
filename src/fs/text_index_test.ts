/**
 * The engine's text indexes (design issue 12 §1.4, §1.5, §4): every hook
 * (write, truncate, rename, moves between collections, unlink, link, drop)
 * leaves answers equal to a from-scratch index over the files as they are,
 * between checkpoints (overlay), after them (deltas, merges) and after a
 * reopen; a power cut between a commit and the header write, or a torn
 * header, is caught up, never answered from stale postings; a read-only
 * engine catches up in memory only.
 */
import assert from "node:assert/strict";
import { MemDevice } from "../device/mem.ts";
import { ROOT_INO } from "../format/constants.ts";
import { fsck } from "../fsck/fsck.ts";
import { rng } from "../test_random.ts";
import { parseWhere } from "../search/where.ts";
import { code } from "./_testutil.ts";
import { Vexfs } from "./fs.ts";
import { computeLayout, writeFilesystem } from "./mkfs.ts";
import { assertTextExact } from "./text_index_testutil.ts";

const enc = new TextEncoder();
const QUERIES = ["alpha", "beta gamma", "delta delta", "omega", "alpha beta gamma delta", "zeta eta theta"];

/** Every query of {@link QUERIES} answers as a from-scratch index does. */
function assertExact(fs: Vexfs, root: number, what: string): void {
  assertTextExact(fs, root, QUERIES, what);
}

function image(): MemDevice {
  const dev = new MemDevice(32 << 20);
  writeFilesystem(dev, computeLayout(dev.size, { blockSize: 4096, inodes: 8192 }), {
    uuid: crypto.getRandomValues(new Uint8Array(16)),
  });
  return dev;
}

function open(bytes: Uint8Array, readOnly = false): Vexfs {
  return Vexfs.openDevice(new MemDevice(bytes, { readOnly }));
}

function fsckClean(bytes: Uint8Array): void {
  const r = fsck(new MemDevice(bytes.slice(), { readOnly: true }), { readOnly: true });
  const bad = r.problems.filter((p) => p.severity !== "info");
  assert.deepEqual(bad, [], `fsck: ${bad.map((p) => `${p.code} at ${p.where}: ${p.message}`).join("; ")}`);
}

function put(fs: Vexfs, dir: number, name: string, text: string): number {
  const ino = fs.find(dir, name) || fs.create(dir, name);
  fs.truncate(ino, 0);
  fs.write(ino, 0, enc.encode(text));
  return ino;
}

/** Makes checkpoints write deltas until the file is full (the real rule merges small indexes at once). */
function deltasUntilFull(fs: Vexfs): void {
  fs.collections.text.plan = (h) => h.segments.length + 1 >= 8 ? { kind: "merge", reason: "full" } : { kind: "delta" };
}

/** Two collections a, b with a few files; `a` has a text index. */
function setup(): { dev: MemDevice; fs: Vexfs; a: number; b: number } {
  const dev = image();
  const fs = open(dev.bytes);
  const a = fs.mkdir(ROOT_INO, "a");
  const b = fs.mkdir(ROOT_INO, "b");
  fs.collections.create(a, { dim: 4, metric: "l2", elem: "f32" });
  fs.collections.create(b, { dim: 4, metric: "l2", elem: "f32" });
  put(fs, a, "one.txt", "alpha beta gamma");
  put(fs, a, "two.txt", "alpha alpha delta delta delta omega");
  const sub = fs.mkdir(a, "sub");
  put(fs, sub, "three.md", "beta gamma zeta eta theta alpha");
  fs.write(fs.create(a, "bin"), 0, new Uint8Array([0, 1, 2, 97, 108, 112, 104, 97]));
  put(fs, b, "four.txt", "omega alpha");
  fs.collections.text.build(a);
  return { dev, fs, a, b };
}

Deno.test("text index: build, search and the record's text generation", () => {
  const { dev, fs, a, b } = setup();
  const st = fs.collections.text.stats(a);
  assert.equal(st.enabled, true);
  assert.equal(st.fresh, true);
  assert.equal(st.docCount, 3);
  assert.equal(st.skippedBinary, 1);
  assert.equal(st.segments, 1);
  assertExact(fs, a, "after the build");
  const r = fs.collections.text.search(a, "alpha", 10);
  assert.deepEqual(r.hits.map((h) => h.path).sort(), ["one.txt", "sub/three.md", "two.txt"]);
  assert.deepEqual(fs.collections.text.search(fs.lookup(a, "sub"), "alpha", 10).hits.map((h) => h.path), [
    "three.md",
  ]);
  // xattr filters on top of the subtree
  fs.setxattr(fs.lookup(a, "two.txt"), "user.lang", enc.encode("en"));
  fs.setxattr(fs.lookup(fs.lookup(a, "sub"), "three.md"), "user.lang", enc.encode("de"));
  const en = fs.collections.text.search(a, "alpha", 10, { where: parseWhere(["user.lang=en"]) });
  assert.deepEqual(en.hits.map((h) => h.path), ["two.txt"]);
  assert.equal(en.method.matched, 1);
  const some = fs.collections.text.search(a, "alpha", 10, { where: parseWhere(["user.lang exists"]) });
  assert.deepEqual(some.hits.map((h) => h.path).sort(), ["sub/three.md", "two.txt"]);
  assert.equal(code(() => fs.collections.text.search(b, "alpha", 10)), "ENODATA");
  assert.equal(code(() => fs.collections.text.search(a, "  ", 10)), "EINVAL");
  assert.equal(code(() => fs.collections.text.search(a, "alpha", 0)), "EINVAL");
  assert.equal(code(() => fs.collections.text.search(fs.lookup(a, "one.txt"), "alpha", 1)), "ENOTDIR");
  assert.equal(code(() => fs.collections.text.build(a, { k1: 0 })), "EINVAL");
  assert.equal(code(() => fs.collections.text.build(a, { maxFile: 10 })), "EINVAL");
  assert.equal(fs.collections.text.stats(b).enabled, false);
  // one bump per transaction however many changes it holds; none for a collection without a text index
  const g0 = fs.collections.record(1)!.textGeneration;
  put(fs, a, "one.txt", "alpha");
  put(fs, a, "two.txt", "beta");
  put(fs, b, "four.txt", "beta");
  assert.equal(fs.collections.record(1)!.textGeneration, g0 + 1);
  assert.equal(fs.collections.record(2)!.textGeneration, 0);
  fs.sync();
  put(fs, a, "one.txt", "gamma");
  assert.equal(fs.collections.record(1)!.textGeneration, g0 + 2);
  assertExact(fs, a, "between checkpoints");
  fs.close();
  fsckClean(dev.bytes);
});

Deno.test("text index: every hook keeps answers equal to a from-scratch index, before and after checkpoints and reopens", () => {
  const { dev, fs: fs0, a, b } = setup();
  let fs = fs0;
  fs.collections.text.build(b);
  const steps: [string, (fs: Vexfs) => void][] = [
    ["write", (fs) => fs.write(fs.lookup(a, "one.txt"), 5, enc.encode(" omega omega"))],
    ["truncate", (fs) => fs.truncate(fs.lookup(a, "two.txt"), 11)],
    ["create", (fs) => put(fs, a, "new.txt", "theta theta omega")],
    ["rename within", (fs) => fs.rename(a, "new.txt", fs.lookup(a, "sub"), "renamed.txt")],
    ["rename between", (fs) => fs.rename(a, "one.txt", b, "one.txt")],
    ["rename back over", (fs) => fs.rename(b, "four.txt", a, "two.txt")],
    ["directory move", (fs) => fs.rename(a, "sub", b, "sub")],
    ["directory back", (fs) => fs.rename(b, "sub", a, "sub2")],
    ["link", (fs) => fs.link(fs.lookup(b, "one.txt"), a, "linked.txt")],
    ["unlink the recorded link", (fs) => fs.unlink(b, "one.txt")],
    ["unlink", (fs) => fs.unlink(a, "linked.txt")],
    ["unlink while open", (fs) => {
      const ino = fs.lookup(fs.lookup(a, "sub2"), "three.md");
      fs.openInode(ino);
      fs.unlink(fs.lookup(a, "sub2"), "three.md");
      assertExact(fs, a, "unlinked, still open");
      fs.release(ino);
    }],
    ["fallocate punch", (fs) => {
      const ino = put(fs, a, "big.txt", "alpha ".repeat(2000));
      fs.sync();
      fs.fallocate(ino, 3, 4096, 4096);
    }],
  ];
  for (const [i, [what, step]] of steps.entries()) {
    step(fs);
    assertExact(fs, a, `${what} (overlay)`);
    assertExact(fs, b, `${what} (overlay, b)`);
    fs.sync();
    assertExact(fs, a, `${what} (checkpointed)`);
    assertExact(fs, b, `${what} (checkpointed, b)`);
    fs.close();
    const ro = open(dev.bytes.slice(), true);
    assertExact(ro, a, `${what} (reopened read-only)`);
    assert.equal(ro.collections.text.stats(a).fresh, true, `${what}: the index on disk is fresh`);
    ro.close();
    if (i % 4 === 3) fsckClean(dev.bytes);
    fs = open(dev.bytes);
  }
  // drop collection b: its index file is freed with its store files
  const bIno = fs.collections.record(2)!.bm25Ino;
  assert.ok(bIno > 0);
  fs.collections.dropCollection(2);
  assert.equal(code(() => fs.iget(bIno)), "ENOENT");
  assert.equal(code(() => fs.collections.text.search(b, "alpha", 5)), "EINVAL");
  put(fs, b, "after.txt", "alpha");
  assertExact(fs, a, "after the drop of b");
  fs.close();
  fsckClean(dev.bytes);
});

Deno.test("text index: drop frees the file and clears the record; search says ENODATA", () => {
  const { dev, fs, a } = setup();
  const ino = fs.collections.record(1)!.bm25Ino;
  assert.ok(ino > 0);
  fs.collections.text.drop(a);
  const rec = fs.collections.record(1)!;
  assert.equal(rec.bm25Ino, 0);
  assert.equal(rec.textGeneration, 0);
  assert.equal(code(() => fs.collections.text.search(a, "alpha", 5)), "ENODATA");
  assert.equal(code(() => fs.iget(ino)), "ENOENT");
  put(fs, a, "one.txt", "beta"); // no index: nothing tracked
  fs.close();
  fsckClean(dev.bytes);
  const fs2 = open(dev.bytes);
  assert.equal(fs2.collections.text.stats(a).enabled, false);
  fs2.collections.text.build(a, { k1: 1.5, b: 0.5 });
  assert.equal(fs2.collections.text.stats(a).params!.k1, 1.5);
  fs2.close();
  fsckClean(dev.bytes);
});

Deno.test("text index: a power cut between a commit and the header write is caught up, never answered stale", () => {
  const { dev, fs, a } = setup();
  fs.close();
  const fs1 = open(dev.bytes);
  (fs1.collections.text as unknown as { checkpoint: () => void }).checkpoint = () => {}; // the index write never happens
  put(fs1, a, "one.txt", "omega omega omega");
  fs1.unlink(a, "two.txt");
  put(fs1, a, "new.txt", "delta alpha");
  fs1.sync();
  const crashed = dev.bytes.slice(); // the power cut: fs1 is never closed
  // read-only: caught up in memory, nothing written
  const before = crashed.slice();
  const ro = open(crashed, true);
  assertExact(ro, a, "read-only after the power cut");
  const m = ro.collections.text.search(a, "alpha", 5).method;
  assert.equal(m.caughtUp, true);
  assert.equal(ro.collections.text.stats(a).fresh, false);
  ro.close();
  assert.ok(before.every((x, i) => x === crashed[i]), "a read-only engine writes nothing");
  // read-write: caught up, then written at the next checkpoint
  const rw = open(crashed);
  assertExact(rw, a, "read-write after the power cut");
  assert.match(rw.collections.text.stats(a).note, /caught up/);
  rw.close();
  const again = open(crashed, true);
  assert.equal(again.collections.text.stats(a).fresh, true);
  assertExact(again, a, "after the catch-up was written");
  again.close();
  fsckClean(crashed);
});

Deno.test("text index: a power cut right after a checkpoint leaves an index that is current", () => {
  const { dev, fs: fs0, a } = setup();
  // closed once, so that the backup superblock carries the ro_compat flags set at runtime (the engine writes the
  // backup only at close: a power cut before any close leaves it without them, for HNSW as for BM25)
  fs0.close();
  const fs = open(dev.bytes);
  deltasUntilFull(fs);
  const seen = new Set<number>();
  for (let round = 0; round < 12; round++) {
    put(fs, a, `r${round}.txt`, `alpha round${round} ` + "beta ".repeat(round));
    if (round % 3 === 0) fs.unlink(a, `r${round}.txt`);
    fs.sync(); // commit, then the index written after it (a delta, or a merge when the deltas grew) when due
    fs.collections.checkpoint(); // due or not
    const crashed = dev.bytes.slice();
    const ro = open(crashed, true);
    assert.equal(ro.collections.text.stats(a).fresh, true, `round ${round}`);
    assertExact(ro, a, `round ${round}`);
    ro.close();
    if (round % 4 === 3) fsckClean(crashed);
    seen.add(fs.collections.text.stats(a).segments);
  }
  assert.ok(seen.has(7) && seen.has(1), `deltas up to 7 segments, then a merge: ${[...seen]}`);
  assert.ok(fs.collections.text.stats(a).segments <= 8);
  fs.close();
});

Deno.test("text index: a torn header slot is ignored, the other slot is used and caught up", () => {
  const { dev, fs, a } = setup();
  put(fs, a, "one.txt", "omega");
  fs.sync(); // a delta: header slot 1 now current, slot 0 names the base only
  put(fs, a, "two.txt", "zeta zeta");
  fs.close(); // slot 0 current again
  const bytes = dev.bytes.slice();
  const fs2 = open(bytes, true);
  const rec = fs2.collections.record(1)!;
  const n = fs2.iget(rec.bm25Ino);
  const slot0 = fs2.bmap(n, 0), slot1 = fs2.bmap(n, 1);
  fs2.close();
  // tear the current slot (the one with the higher seq): whichever it is, flip bytes in both in turn
  for (const blk of [slot0, slot1]) {
    const torn = bytes.slice();
    torn[blk * 4096 + 20] ^= 0xff;
    const ro = open(torn, true);
    assertExact(ro, a, `slot at block ${blk} torn`);
    ro.close();
    const rw = open(torn);
    assertExact(rw, a, `slot at block ${blk} torn, read-write`);
    rw.close();
    const after = open(torn, true);
    assert.equal(after.collections.text.stats(a).fresh, true);
    after.close();
    fsckClean(torn);
  }
});

Deno.test("text index: randomized writes, renames, links, unlinks, moves between two collections, reopens, power cuts", () => {
  const r = rng(1212);
  const { dev, fs: fs0, a, b } = setup();
  let img = dev.bytes;
  let fs = fs0;
  fs.collections.text.build(b);
  const deltas = deltasUntilFull;
  deltas(fs);
  const words = ["alpha", "beta", "gamma", "delta", "omega", "zeta", "eta", "theta", "iota", "kappa"];
  const text = () =>
    Array.from({ length: 1 + Math.floor(r() * 30) }, () => words[Math.floor(r() * words.length)]).join(" ");
  const dirs = () => [a, b, ...[a, b].flatMap((d) => [...fs.readdir(d)].filter((e) => e.type === 2).map((e) => e.ino))];
  const files = () =>
    dirs().flatMap((d) => [...fs.readdir(d)].filter((e) => e.type === 1).map((e) => ({ dir: d, name: e.name })));
  const pick = <T>(xs: T[]): T | undefined => xs[Math.floor(r() * xs.length)];
  for (let step = 0; step < 150; step++) {
    const op = r();
    const f = pick(files());
    if (op < 0.3 || !f) put(fs, pick(dirs())!, `f${Math.floor(r() * 40)}`, text());
    else if (op < 0.45) fs.write(fs.lookup(f.dir, f.name), Math.floor(r() * 50), enc.encode(text()));
    else if (op < 0.55) fs.truncate(fs.lookup(f.dir, f.name), Math.floor(r() * 40));
    else if (op < 0.7) {
      const to = pick(dirs())!;
      if (!fs.find(to, f.name)) fs.rename(f.dir, f.name, to, f.name);
    } else if (op < 0.8) fs.unlink(f.dir, f.name);
    else if (op < 0.85) {
      const from = pick([a, b])!, to = from === a ? b : a;
      const name = `d${Math.floor(r() * 4)}`;
      const d = fs.find(from, name);
      if (d && !fs.find(to, name)) fs.rename(from, name, to, name);
      else if (!d && !fs.find(to, name)) fs.mkdir(from, name);
    } else if (op < 0.88) {
      const to = pick(dirs())!, name = `l${Math.floor(r() * 10)}`;
      if (!fs.find(to, name)) fs.link(fs.lookup(f.dir, f.name), to, name);
    } else if (op < 0.93) fs.sync();
    else if (op < 0.96) {
      img = img.slice(); // a power cut: the engine is abandoned, the copy opened
      fs.collections.unloadAll();
      fs = open(img);
      if (r() < 0.5) deltas(fs);
    } else {
      fs.close();
      fs = open(img);
      if (r() < 0.5) deltas(fs);
    }
    assertExact(fs, a, `step ${step}`);
    assertExact(fs, b, `step ${step} (b)`);
  }
  fs.close();
  fsckClean(img);
});

Deno.test("text index: a file overwritten in place before a power cut (its bytes on disk, its transaction lost) is verified", () => {
  const { dev, fs: fs0, a } = setup();
  fs0.close();
  const fs = open(dev.bytes);
  const ino = fs.lookup(a, "one.txt");
  fs.write(ino, 0, enc.encode("omega zeta theta")); // as long as "alpha beta gamma": blocks and size unchanged
  const crashed = dev.bytes.slice(); // the power cut: the data is on disk, the bump of text_generation is not
  const ro = open(crashed.slice(), true);
  assert.match(ro.collections.text.stats(a).note, /verified after an unclean shutdown: 1 of/);
  assertExact(ro, a, "read-only, after the power cut");
  ro.close();
  const rw = open(crashed);
  assertExact(rw, a, "read-write, after the power cut");
  rw.close();
  const again = open(crashed, true);
  assert.equal(again.collections.text.stats(a).fresh, true);
  assert.match(again.collections.text.stats(a).note, /^current/);
  assertExact(again, a, "after the verified index was written");
  again.close();
  fsckClean(crashed);
  fs.close();
});

Deno.test("text index: a checkpoint that finds no space warns, keeps its changes pending and writes them later", () => {
  const { dev, fs: fs0, a } = setup();
  fs0.close();
  const warnings: string[] = [];
  const fs = Vexfs.openDevice(new MemDevice(dev.bytes), { onWarning: (m) => warnings.push(m) });
  put(fs, a, "new.txt", "alpha omega ".repeat(10));
  const filler = fs.create(ROOT_INO, "filler");
  fs.fallocate(filler, 0, 0, (fs.statfs().bavail - 8) * fs.blockSize); // what is left goes to its extent tree
  fs.sync();
  assert.equal(
    code(() => {
      for (let i = 0;; i++) fs.write(fs.create(ROOT_INO, `small${i}`), 0, new Uint8Array(4096));
    }),
    "ENOSPC",
  );
  fs.write(fs.lookup(a, "new.txt"), 0, enc.encode("zeta")); // in place: no block needed
  fs.sync(); // commits
  fs.collections.checkpoint(); // the index write after it has no room
  assert.ok(
    warnings.some((w) => /text index of collection 1 not written: .*ENOSPC|no space/.test(w)),
    `warnings: ${warnings.join("; ")}`,
  );
  assertExact(fs, a, "with the write pending");
  fs.unlink(ROOT_INO, "filler");
  fs.sync();
  fs.collections.checkpoint();
  assertExact(fs, a, "after the write");
  fs.close();
  const ro = open(dev.bytes, true);
  assert.equal(ro.collections.text.stats(a).fresh, true);
  assertExact(ro, a, "reopened");
  ro.close();
  fsckClean(dev.bytes);
});
