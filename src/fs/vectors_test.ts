import assert from "node:assert/strict";
import { assertFsckClean, code, tmpImage } from "./_testutil.ts";
import { ROOT_INO } from "../format/constants.ts";
import { Vexfs } from "./fs.ts";

function bruteL2(vs: Map<number, number[]>, q: number[], k: number) {
  return [...vs].map(([ino, v]) => ({
    ino,
    score: Math.sqrt(v.reduce((a, x, i) => a + (x - q[i]) ** 2, 0)),
  }))
    .sort((a, b) => a.score - b.score || a.ino - b.ino).slice(0, k);
}

Deno.test("vectors: set, replace, get, delete with swap-remove; results equal brute force after reopen", () => {
  const img = tmpImage(32 << 20, 1024); // 1 KiB blocks: slot map spans several blocks
  let fs = Vexfs.open(img);
  try {
    const c = fs.mkdir(ROOT_INO, "c");
    fs.collections.create(c, { dim: 8, metric: "l2", elem: "f32" });
    const want = new Map<number, number[]>();
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5;
    const inos: number[] = [];
    for (let i = 0; i < 300; i++) {
      const ino = fs.create(c, `f${i}`);
      const v = Array.from({ length: 8 }, rnd).map((x) => Math.fround(x));
      fs.collections.setVector(ino, new Float32Array(v));
      want.set(ino, v);
      inos.push(ino);
    }
    // replace some, delete some (explicitly and by unlink)
    for (let i = 0; i < 300; i += 7) {
      const v = Array.from({ length: 8 }, rnd).map((x) => Math.fround(x));
      fs.collections.setVector(inos[i], new Float32Array(v));
      want.set(inos[i], v);
    }
    for (let i = 1; i < 300; i += 5) {
      assert.equal(fs.collections.deleteVector(inos[i]), true);
      want.delete(inos[i]);
    }
    for (let i = 3; i < 300; i += 11) {
      fs.unlink(c, `f${i}`);
      want.delete(inos[i]);
    }
    fs.close();
    fs = Vexfs.open(img);
    const info = fs.collections.get(1);
    assert.equal(info.count, want.size);
    for (const [ino, v] of want) {
      assert.deepEqual([...fs.collections.getVector(ino)!], v);
    }
    assert.equal(fs.collections.getVector(inos[1]), null);
    const q = Array.from({ length: 8 }, rnd);
    const got = fs.collections.search(c, new Float32Array(q), 10);
    const exp = bruteL2(want, [...new Float32Array(q)], 10);
    assert.deepEqual(got.map((h) => h.ino), exp.map((h) => h.ino));
    for (let i = 0; i < 10; i++) {
      assert.ok(Math.abs(got[i].score - exp[i].score) < 1e-5);
    }
    assert.equal(got[0].path, `f${inos.indexOf(got[0].ino)}`);
  } finally {
    fs.close();
  }
  assertFsckClean(img);
  Deno.removeSync(img);
});

Deno.test("vectors: bad input is refused and changes nothing", () => {
  const img = tmpImage();
  const fs = Vexfs.open(img);
  try {
    const c = fs.mkdir(ROOT_INO, "c");
    const out = fs.create(ROOT_INO, "outside");
    fs.collections.create(c, { dim: 3, metric: "cosine", elem: "i8" });
    const f = fs.create(c, "f");
    assert.equal(
      code(() => fs.collections.setVector(f, new Float32Array([1, 2]))),
      "EINVAL",
    );
    assert.equal(
      code(() => fs.collections.setVector(f, new Float32Array([1, NaN, 2]))),
      "EINVAL",
    );
    assert.equal(
      code(() => fs.collections.setVector(f, new Float32Array([1, 200, 2]))),
      "EINVAL",
    );
    assert.equal(
      code(() => fs.collections.setVector(f, new Float32Array([1, 1.5, 2]))),
      "EINVAL",
    );
    assert.equal(
      code(() => fs.collections.setVector(out, new Float32Array([1, 2, 3]))),
      "EINVAL",
    );
    assert.equal(
      code(() => fs.collections.setVector(c, new Float32Array([1, 2, 3]))),
      "EINVAL",
    );
    assert.equal(fs.collections.get(1).count, 0);
    fs.collections.setVector(f, new Float32Array([1, -128, 127]));
    assert.deepEqual([...fs.collections.getVector(f)!], [1, -128, 127]);
    assert.equal(
      code(() => fs.collections.search(c, new Float32Array([1, 2]), 5)),
      "EINVAL",
    );
    assert.equal(
      code(() => fs.collections.search(c, new Float32Array([1, 2, Infinity]), 5)),
      "EINVAL",
    );
    assert.equal(
      code(() => fs.collections.search(c, new Float32Array([1, 2, 3]), 0)),
      "EINVAL",
    );
    assert.equal(
      code(() => fs.collections.search(ROOT_INO, new Float32Array([1, 2, 3]), 1)),
      "EINVAL",
    );
    // nesting refused both ways
    const inner = fs.mkdir(c, "inner");
    assert.equal(
      code(() => fs.collections.create(inner, { dim: 3, metric: "l2", elem: "f32" })),
      "EINVAL",
    );
    assert.equal(
      code(() => fs.collections.create(ROOT_INO, { dim: 3, metric: "l2", elem: "f32" })),
      "EINVAL",
    );
    assert.equal(
      code(() =>
        fs.collections.create(fs.mkdir(ROOT_INO, "z"), {
          dim: 5000,
          metric: "l2",
          elem: "f32",
        })
      ),
      "EINVAL",
    );
  } finally {
    fs.close();
  }
  assertFsckClean(img);
  Deno.removeSync(img);
});

Deno.test("vectors: moves follow FORMAT.md §8.4 (same collection keeps, compatible moves, incompatible deletes)", () => {
  const img = tmpImage();
  const fs = Vexfs.open(img);
  try {
    const a = fs.mkdir(ROOT_INO, "a");
    const b = fs.mkdir(ROOT_INO, "b");
    const z = fs.mkdir(ROOT_INO, "z");
    fs.collections.create(a, { dim: 2, metric: "l2", elem: "f32" });
    fs.collections.create(b, { dim: 2, metric: "ip", elem: "f32" });
    fs.collections.create(z, { dim: 3, metric: "l2", elem: "f32" });
    const sub = fs.mkdir(a, "sub");
    const f = fs.create(sub, "f");
    const g = fs.create(sub, "g");
    fs.collections.setVector(f, new Float32Array([1, 2]));
    fs.collections.setVector(g, new Float32Array([3, 4]));
    fs.rename(sub, "f", a, "f2"); // within the collection
    assert.deepEqual([...fs.collections.getVector(f)!], [1, 2]);
    fs.rename(a, "f2", b, "f"); // compatible: moves to b
    assert.equal(fs.collections.get(1).count, 1);
    assert.equal(fs.collections.get(2).count, 1);
    assert.deepEqual(
      fs.collections.search(b, new Float32Array([1, 1]), 5).map((h) => h.path),
      ["f"],
    );
    fs.rename(a, "sub", z, "sub"); // a directory moves to an incompatible collection: g loses its vector
    assert.equal(fs.collections.getVector(g), null);
    assert.equal(fs.collections.get(1).count, 0);
    fs.rename(b, "f", ROOT_INO, "f"); // out of every collection: deleted
    assert.equal(fs.collections.getVector(f), null);
    assert.equal(code(() => fs.rename(ROOT_INO, "a", b, "a")), "EINVAL"); // collections do not nest
  } finally {
    fs.close();
  }
  assertFsckClean(img);
  Deno.removeSync(img);
});

Deno.test("search in a subdirectory sees only the files below it, with relative paths", () => {
  const img = tmpImage();
  const fs = Vexfs.open(img);
  try {
    const c = fs.mkdir(ROOT_INO, "c");
    fs.collections.create(c, { dim: 2, metric: "l2", elem: "f16" });
    const x = fs.mkdir(c, "x");
    const y = fs.mkdir(c, "y");
    const deep = fs.mkdir(x, "deep");
    for (
      const [d, name, v] of [[x, "x1", [0, 0]], [deep, "d1", [0, 1]], [
        y,
        "y1",
        [0, 0.5],
      ]] as const
    ) {
      fs.collections.setVector(fs.create(d, name), new Float32Array(v));
    }
    assert.deepEqual(
      fs.collections.search(x, new Float32Array([0, 0.5]), 10).map((h) => h.path),
      ["x1", "deep/d1"],
    );
    assert.deepEqual(
      fs.collections.search(c, new Float32Array([0, 0.5]), 1).map((h) => h.path),
      ["y/y1"],
    );
    assert.equal(
      fs.collections.search(y, new Float32Array([0, 0.5]), 10)[0].score,
      0,
    );
  } finally {
    fs.close();
  }
  assertFsckClean(img);
  Deno.removeSync(img);
});

Deno.test("setVectors: a batch that runs out of space keeps the items before the failing one, consistently", () => {
  const img = tmpImage(4 << 20, 1024, 1024);
  let fs = Vexfs.open(img);
  const dir = fs.mkdir(ROOT_INO, "c");
  fs.collections.create(dir, { dim: 64, metric: "l2", elem: "f32", index: "flat" });
  const files: number[] = [];
  for (let i = 0; i < 400; i++) files.push(fs.create(dir, `f${i}`));
  // fill the disk, leaving room for some of the 256-byte vectors and their slot-map blocks
  const filler = fs.create(ROOT_INO, "filler");
  const chunk = new Uint8Array(64 << 10);
  for (let off = 0; fs.statfs().bavail > 60; off += chunk.length) {
    fs.write(filler, off, chunk.subarray(0, Math.min(chunk.length, (fs.statfs().bavail - 60) * 1024)));
  }
  const items = files.map((ino, i) => ({ ino, vector: new Float32Array(64).fill(i) }));
  let failed = -1;
  try {
    fs.collections.setVectors(items);
  } catch (e) {
    assert.equal(
      code(() => {
        throw e;
      }),
      "ENOSPC",
    );
    failed = Number(/item (\d+)/.exec(String(e))![1]);
  }
  assert.ok(failed > 0 && failed < items.length, `the batch failed part way (item ${failed})`);
  const id = fs.collections.collectionOfDir(dir);
  assert.equal(fs.collections.get(id).count, failed);
  fs.close();
  assertFsckClean(img);
  fs = Vexfs.open(img, { readOnly: true });
  assert.equal(fs.collections.get(id).count, failed);
  for (let i = 0; i < failed; i++) assert.deepEqual(fs.collections.getVector(files[i]), items[i].vector);
  assert.equal(fs.collections.getVector(files[failed]), null);
  fs.close();
  Deno.removeSync(img);
});
