/**
 * The text indexes across crashes (design issue 12 §1.4, §1.5): a power cut
 * between a commit and the header write, right after checkpoints (through
 * deltas and a merge), a torn header slot, a file overwritten in place
 * whose transaction is lost, and a seeded randomized run over two
 * collections with reopens and power cuts: caught up or verified, never
 * answered from stale postings; read-only engines write nothing.
 */
import assert from "node:assert/strict";
import { rng } from "../test_random.ts";
import { assertExact, deltasUntilFull, enc, fsckClean, open, put, setup } from "./text_index_testutil.ts";

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
  // closed once: the power cuts below start from a cleanly closed image (the backup superblock has carried the
  // run-time features without a close since they are journaled with it: src/fs/sb_backup_test.ts)
  fs0.close();
  const fs = open(dev.bytes);
  deltasUntilFull(fs);
  const seen = new Set<number>();
  for (let round = 0; round < 9; round++) {
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
