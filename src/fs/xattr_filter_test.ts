/**
 * The attribute column cache behind `--where` (./xattr_filter.ts) and the
 * filtered vector search (`searchEx({ where })`): the predicate equals
 * matchWhere over the file's attributes as they are now, through sets,
 * removals, replacements, unlinks and inode reuse; each file's attributes
 * are read once; searches return only passing files, exactly as a brute
 * force over them, by scan or by the filtered graph traversal, combined
 * with a subtree.
 */
import assert from "node:assert/strict";
import { MemDevice } from "../device/mem.ts";
import { IFL_XATTR_IN_STORE, ROOT_INO } from "../format/constants.ts";
import { rng } from "../test_random.ts";
import { matchWhere, parseWhere } from "../search/where.ts";
import { Vexfs } from "./fs.ts";
import { computeLayout, writeFilesystem } from "./mkfs.ts";
import { inoFilter, xattrFilterStats } from "./xattr_filter.ts";

const DIM = 8;
const enc = new TextEncoder();

function openFresh(): Vexfs {
  const dev = new MemDevice(16 << 20);
  writeFilesystem(dev, computeLayout(dev.size, { blockSize: 4096, inodes: 4096 }), {
    uuid: crypto.getRandomValues(new Uint8Array(16)),
  });
  return Vexfs.openDevice(dev);
}

function vec(r: () => number): Float32Array {
  return Float32Array.from({ length: DIM }, () => r() * 2 - 1);
}

/** The truth: matchWhere over the file's attributes read now, without any cache. */
function truth(fs: Vexfs, expr: string, ino: number): boolean {
  const attrs = fs.listxattr(ino);
  return matchWhere(parseWhere([expr]), (n) => attrs.get(n) ?? null);
}

Deno.test("inoFilter: reads each file's attributes once and follows sets, removals, unlinks and inode reuse", () => {
  const fs = openFresh();
  const r = rng(7);
  const root = fs.mkdir(ROOT_INO, "c");
  fs.collections.create(root, { dim: DIM, metric: "l2", elem: "f32", index: "flat" });
  const files: number[] = [];
  for (let i = 0; i < 60; i++) {
    const f = fs.create(root, `f${i}`);
    fs.collections.setVector(f, vec(r));
    if (i % 3) fs.setxattr(f, "user.n", enc.encode(String(i)));
    if (i % 4 === 0) fs.setxattr(f, "user.lang", enc.encode(i % 8 ? "en" : "de"));
    files.push(f);
  }
  const exprs = ["user.n < 30", "user.lang = en AND user.n exists", "user.lang != de", "user.n in (3, 4, 5.0)"];
  let reads = 0;
  const find = fs.findxattr.bind(fs);
  fs.findxattr = (ino, name) => {
    reads++;
    return find(ino, name);
  };
  const check = (what: string) => {
    for (const e of exprs) {
      const pass = inoFilter(fs, 1, parseWhere([e]));
      for (const f of files) assert.equal(pass(f), truth(fs, e, f), `${what}: ${e} on inode ${f}`);
    }
  };
  check("first use");
  const first = reads;
  assert.ok(first > 0 && first <= 2 * files.length, `each file's two names read at most once: ${first}`);
  check("again");
  assert.equal(reads, first, "nothing changed: nothing read again");
  // changes: set, replace, remove, on files with and without the attribute
  fs.setxattr(files[1], "user.n", enc.encode("100"));
  fs.setxattr(files[3], "user.n", enc.encode("2"));
  fs.removexattr(files[2], "user.n");
  fs.setxattr(files[0], "user.lang", enc.encode("en"));
  fs.removexattr(files[8], "user.lang");
  check("after changes");
  assert.equal(reads, first + 5, "only the changed values are read again");
  // unlink frees the inode; the next file created reuses the number with other attributes
  const gone = files[4];
  fs.unlink(root, "f4");
  assert.equal(inoFilter(fs, 1, parseWhere(["user.n exists"]))(gone), false, "a freed inode passes nothing");
  const again = fs.create(root, "reused");
  fs.collections.setVector(again, vec(r));
  files[4] = again;
  if (again === gone) fs.setxattr(again, "user.lang", enc.encode("de"));
  check("after unlink and reuse");
  assert.ok(xattrFilterStats(fs).columns >= 2);
  fs.close();
});

Deno.test("searchEx where: only passing files, as a brute force over them, by scan and by the graph, with a subtree", () => {
  const fs = openFresh();
  const r = rng(11);
  const root = fs.mkdir(ROOT_INO, "c");
  fs.collections.create(root, { dim: DIM, metric: "cosine", elem: "f32", m: 8, efConstruction: 64 });
  const sub = fs.mkdir(root, "sub");
  const files: number[] = [];
  for (let i = 0; i < 800; i++) {
    const f = fs.create(i % 2 ? sub : root, `f${i}`);
    fs.collections.setVector(f, vec(r));
    fs.setxattr(f, "user.bucket", enc.encode(String(i % 10)));
    files.push(f);
  }
  const plain = fs.create(root, "novector");
  fs.setxattr(plain, "user.bucket", enc.encode("3"));
  const brute = (dir: number, q: Float32Array, expr: string, k: number) => {
    const pass = inoFilter(fs, 1, parseWhere([expr]));
    const all = fs.collections.search(dir, q, 1000, { exact: true, paths: false });
    return all.filter((h) => pass(h.ino)).slice(0, k);
  };
  const q = vec(r);
  for (const forced of [false, true]) {
    fs.collections.exactScanElements = forced ? 0 : 4 << 20;
    fs.collections.subtreeExactMax = forced ? 0 : 4096;
    fs.collections.subtreeExactFraction = forced ? 0 : 0.05;
    for (const [dir, expr, passing] of [[root, "user.bucket = 3", 80], [sub, "user.bucket < 4", 160]] as const) {
      const ex = fs.collections.searchEx(dir, q, 10, { where: parseWhere([expr]), paths: false, ef: 800 });
      assert.equal(ex.method.filterPassed, passing, `${expr}: files passing: ${ex.method.filterPassed}`);
      assert.equal(ex.method.method, forced ? "hnsw" : "exact");
      if (!forced) assert.match(ex.method.reason ?? "", /few files pass the filter/);
      // ef 800 ≥ the collection: the traversal reaches every node, so its answer is the brute force's
      assert.deepEqual(ex.hits, brute(dir, q, expr, 10), `${expr} ${forced ? "graph" : "scan"}`);
    }
  }
  // a filter nothing passes; the synthetic vector attribute
  assert.deepEqual(fs.collections.search(root, q, 5, { where: parseWhere(["user.bucket = 42"]) }), []);
  const withVec = fs.collections.searchEx(root, q, 3, { where: parseWhere(["user.vexfs.vector exists"]) });
  assert.equal(withVec.method.filterPassed, 800);
  // a change of an attribute changes the next answer (the cached slots are dropped)
  fs.collections.exactScanElements = 4 << 20;
  const best = fs.collections.search(root, q, 1, { where: parseWhere(["user.bucket = 3"]), paths: false })[0];
  fs.setxattr(best.ino, "user.bucket", enc.encode("4"));
  const next = fs.collections.searchEx(root, q, 1, { where: parseWhere(["user.bucket = 3"]), paths: false });
  assert.notEqual(next.hits[0].ino, best.ino);
  assert.equal(next.method.filterPassed, 79);
  fs.removexattr(next.hits[0].ino, "user.bucket");
  assert.equal(
    fs.collections.searchEx(root, q, 1, { where: parseWhere(["user.bucket = 3"]) }).method.filterPassed,
    78,
  );
  // no filter: no filterPassed
  assert.equal(fs.collections.searchEx(root, q, 1).method.filterPassed, undefined);
  fs.close();
});

Deno.test("inoFilter equals matchWhere on the attributes as they are, through random sets, removals, large values and unlinks", () => {
  const fs = openFresh();
  const r = rng(23);
  const root = fs.mkdir(ROOT_INO, "c");
  fs.collections.create(root, { dim: DIM, metric: "l2", elem: "f32", index: "flat" });
  const live: { name: string; ino: number }[] = [];
  let made = 0;
  const add = () => {
    const name = `f${made++}`;
    const ino = fs.create(root, name);
    fs.collections.setVector(ino, vec(r));
    live.push({ name, ino });
  };
  for (let i = 0; i < 30; i++) add();
  const names = ["user.a", "user.b", "user.c"];
  const values = ["1", "2", "10", "x", "y", "", "2.0"];
  const exprs = ["user.a < 5", "user.a = x AND user.b exists", "user.b != 2", "user.c in (1, y)", "user.a >= 2"];
  for (let step = 0; step < 400; step++) {
    const f = live[Math.floor(r() * live.length)];
    const op = r();
    const name = names[Math.floor(r() * names.length)];
    if (op < 0.55) {
      // now and then a value too large for an inline entry, pushing the file's attributes into a store
      const v = r() < 0.1 ? "9".repeat(600) : values[Math.floor(r() * values.length)];
      fs.setxattr(f.ino, name, enc.encode(v));
    } else if (op < 0.8) {
      if (fs.findxattr(f.ino, name)) fs.removexattr(f.ino, name);
    } else if (op < 0.9) {
      fs.unlink(root, f.name);
      live.splice(live.indexOf(f), 1);
      add();
    } else {
      for (let i = 0; i < 8; i++) fs.setxattr(f.ino, `user.pad${i}`, new Uint8Array(700));
    }
    if (step % 20 === 19) {
      for (const e of exprs) {
        const pass = inoFilter(fs, 1, parseWhere([e]));
        for (const x of live) assert.equal(pass(x.ino), truth(fs, e, x.ino), `step ${step}: ${e} on inode ${x.ino}`);
      }
    }
  }
  assert.ok(
    live.some((x) => fs.iget(x.ino).d.flags & IFL_XATTR_IN_STORE),
    "some files keep their attributes in a store",
  );
  fs.close();
});
