/**
 * The engine's text indexes (design issue 12 §1.4, §4): build, search,
 * filters and errors; every hook (write, truncate, rename, moves between
 * collections, unlink, link, drop) leaves answers equal to a from-scratch
 * index over the files as they are, between checkpoints (overlay), after
 * them and after a reopen; a checkpoint without space; another analyzer.
 * Crashes: text_index_crash_test.ts.
 */
import assert from "node:assert/strict";
import { MemDevice } from "../device/mem.ts";
import { ROOT_INO } from "../format/constants.ts";
import { parseWhere } from "../search/where.ts";
import { code } from "./_testutil.ts";
import { Vexfs } from "./fs.ts";
import { assertExact, enc, fsckClean, open, put, setup } from "./text_index_testutil.ts";

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

Deno.test("text index: a header made with another analyzer is rebuilt; files over max_file are skipped by size", () => {
  const { dev, fs, a } = setup();
  fs.collections.text.build(a, { maxFile: 1024 });
  put(fs, a, "large.txt", "alpha ".repeat(200)); // 1200 bytes > 1 KiB: skipped, counted
  fs.sync();
  fs.collections.checkpoint();
  let st = fs.collections.text.stats(a);
  assert.equal(st.skippedLarge, 1);
  assert.ok(
    !fs.collections.text.search(a, "alpha", 10, { paths: false }).hits.some((h) => h.ino === fs.lookup(a, "large.txt")),
  );
  fs.collections.text.build(a); // back to the 4 MiB default: large.txt is a document again
  assert.equal(fs.collections.text.stats(a).skippedLarge, 0);
  assertExact(fs, a, "rebuilt with the default size limit");
  // the record names stop words the header does not: the index is stale and rebuilt (here in memory, read-only)
  const rec = fs.collections.record(1)!;
  rec.bm25Stopwords = 1;
  rec.bm25Lang = "en";
  fs.collections.saveRecord(rec);
  fs.close();
  const ro = open(dev.bytes.slice(), true);
  st = ro.collections.text.stats(a);
  assert.match(st.note, /rebuilt \(the index was made with another analyzer/);
  assert.ok(!ro.collections.text.search(a, "the alpha", 10).method.terms.includes("the"), "stop words dropped");
  ro.close();
  const rw = open(dev.bytes);
  rw.collections.text.stats(a);
  rw.close();
  const after = open(dev.bytes, true);
  assert.equal(after.collections.text.stats(a).fresh, true);
  assert.match(after.collections.text.stats(a).note, /^current/);
  after.close();
  fsckClean(dev.bytes);
});
