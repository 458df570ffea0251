/**
 * Hybrid search (./hybrid.ts): the composition against a hand composition
 * of each side's ranking (one side → that side's top k unfused; both → each
 * side's top `depth`, fused by ./fusion.ts), the option checks, and the
 * vector side on a real engine (subtree, `where`, `exclude`, paths) equal to
 * the vector search it wraps.
 */
import assert from "node:assert/strict";
import { MemDevice } from "../device/mem.ts";
import { FsError } from "../errors.ts";
import { ROOT_INO } from "../format/constants.ts";
import { Vexfs } from "../fs/fs.ts";
import { computeLayout, writeFilesystem } from "../fs/mkfs.ts";
import type { SearchMethod } from "../fs/vector_types.ts";
import { rng } from "../test_random.ts";
import { fuseRrf, fuseWeighted, type RankedHit } from "./fusion.ts";
import { composeHybrid, type HybridSides, type HybridTextMethod, searchHybrid } from "./hybrid.ts";
import { parseWhere } from "./where.ts";

const enc = new TextEncoder();
const VM: SearchMethod = { method: "exact" };
const TM: HybridTextMethod = { docs: 9, terms: ["a"], matched: 5, textGeneration: 3, caughtUp: false };

/** Fake sides over fixed rankings that record how many candidates each was asked for. */
function sides(vec: RankedHit[], text: RankedHit[], lower = false) {
  const asked: { vector: number[]; text: number[] } = { vector: [], text: [] };
  const s: HybridSides = {
    vector: (n) => (asked.vector.push(n), { hits: vec.slice(0, n), method: VM }),
    text: (n) => (asked.text.push(n), { hits: text.slice(0, n), method: TM }),
    vecLowerIsBetter: lower,
  };
  return { s, asked };
}

function errno(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof FsError) return `${e.code}: ${e.message}`;
    throw e;
  }
  return "no error";
}

const q = new Float32Array(2);

Deno.test("composeHybrid: one side is that side's top k, unfused, with its ranks", () => {
  const vec = Array.from({ length: 30 }, (_, i) => ({ ino: 100 + i, score: 1 - i / 100 }));
  const text = Array.from({ length: 30 }, (_, i) => ({ ino: 200 - i, score: 30 - i }));
  const { s, asked } = sides(vec, text);
  const v = composeHybrid(s, { vector: q, k: 5 });
  assert.deepEqual(asked, { vector: [5], text: [] }, "one side is asked for k, not a depth");
  assert.deepEqual(v.method, { vector: VM, text: null, fusion: null });
  assert.deepEqual(
    v.hits,
    vec.slice(0, 5).map((h, i) => ({
      ino: h.ino,
      score: h.score,
      path: "",
      vector: { rank: i + 1, score: h.score },
      text: null,
    })),
  );
  const t = composeHybrid(s, { text: "x", k: 3 });
  assert.deepEqual(t.method, { vector: null, text: TM, fusion: null });
  assert.deepEqual(
    t.hits,
    text.slice(0, 3).map((h, i) => ({
      ino: h.ino,
      score: h.score,
      path: "",
      vector: null,
      text: { rank: i + 1, score: h.score },
    })),
  );
  assert.deepEqual(composeHybrid(s, { terms: ["x"], k: 2 }).hits.map((h) => h.ino), [200, 199]);
});

Deno.test("composeHybrid: both sides give depth candidates, fused by rrf or weighted as fusion.ts does", () => {
  const r = rng(3);
  const vec = Array.from({ length: 300 }, (_, i) => ({ ino: 1 + Math.floor(r() * 400), score: i / 10 }));
  const text = Array.from({ length: 300 }, (_, i) => ({ ino: 1 + Math.floor(r() * 400), score: 50 - i / 7 }));
  const { s, asked } = sides(vec, text, true);
  const rrf = composeHybrid(s, { vector: q, text: "x", k: 10 });
  assert.deepEqual(asked, { vector: [100], text: [100] }, "default depth max(k, 100)");
  assert.deepEqual(rrf.method, { vector: VM, text: TM, fusion: { kind: "rrf", rrfK: 60, depth: 100 } });
  assert.deepEqual(rrf.hits, fuseRrf(vec.slice(0, 100), text.slice(0, 100), 10).map((h) => ({ ...h, path: "" })));
  const k7 = composeHybrid(s, { vector: q, terms: ["x"], k: 120, rrfK: 7, fusion: "rrf" });
  assert.deepEqual(asked.vector.at(-1), 120, "depth is at least k");
  assert.deepEqual(k7.hits.map((h) => h.ino), fuseRrf(vec.slice(0, 120), text.slice(0, 120), 120, 7).map((h) => h.ino));
  const w = composeHybrid(s, { vector: q, text: "x", k: 15, fusion: "weighted", alpha: 0.3, depth: 40 });
  assert.deepEqual(w.method.fusion, { kind: "weighted", alpha: 0.3, depth: 40 });
  assert.deepEqual(
    w.hits,
    fuseWeighted(vec.slice(0, 40), text.slice(0, 40), 15, 0.3, true).map((h) => ({ ...h, path: "" })),
  );
  const w5 = composeHybrid(s, { vector: q, text: "x", k: 15, fusion: "weighted" });
  assert.deepEqual(w5.method.fusion, { kind: "weighted", alpha: 0.5, depth: 100 });
});

Deno.test("composeHybrid: option errors say what is wrong", () => {
  const { s } = sides([], []);
  const cases: [Parameters<typeof composeHybrid>[1], RegExp][] = [
    [{ k: 1 }, /needs a query vector, a query text, or both/],
    [{ text: "a", terms: ["a"], k: 1 }, /not both/],
    [{ vector: q, k: 1, fusion: "rrf" }, /fusion parameters \(fusion\) need both .* only a vector query/],
    [{ text: "a", k: 1, alpha: 0.5 }, /\(alpha\) need .*only a text query/],
    [{ text: "a", k: 1, depth: 50 }, /\(depth\)/],
    [{ vector: q, text: "a", k: 1, fusion: "weighted", alpha: 1.5 }, /alpha = 1.5: must be in \[0, 1\]/],
    [{ vector: q, text: "a", k: 1, fusion: "weighted", alpha: NaN }, /alpha = NaN/],
    [{ vector: q, text: "a", k: 1, alpha: 0.5 }, /alpha applies to the weighted fusion/],
    [{ vector: q, text: "a", k: 1, fusion: "weighted", rrfK: 3 }, /rrf k applies to the rrf fusion/],
    [{ vector: q, text: "a", k: 1, rrfK: 0 }, /rrf k = 0/],
    [{ vector: q, text: "a", k: 20, depth: 10 }, /depth = 10: .*from k \(20\) to 4096/],
    [{ vector: q, text: "a", k: 5, depth: 5000 }, /depth = 5000/],
    [{ vector: q, text: "a", k: 5000 }, /k = 5000: a hybrid search returns at most 4096/],
    [{ vector: q, k: 0 }, /k = 0 is out of range/],
    [{ vector: q, text: "a", k: 1, fusion: "max" as "rrf" }, /fusion max: give rrf or weighted/],
  ];
  for (const [o, re] of cases) {
    const got = errno(() => composeHybrid(s, o));
    assert.match(got, /^EINVAL: /, JSON.stringify(o));
    assert.match(got, re, JSON.stringify(o));
  }
});

Deno.test("searchHybrid: the vector side on a real engine equals searchEx with subtree, where and exclude; paths relative", () => {
  const dev = new MemDevice(16 << 20);
  writeFilesystem(dev, computeLayout(dev.size, { blockSize: 4096, inodes: 2048 }), {
    uuid: crypto.getRandomValues(new Uint8Array(16)),
  });
  const fs = Vexfs.openDevice(dev);
  try {
    const r = rng(11);
    const root = fs.mkdir(ROOT_INO, "docs");
    fs.collections.create(root, { dim: 4, metric: "l2", elem: "f32", index: "flat" });
    const sub = fs.mkdir(root, "sub");
    const files: number[] = [];
    for (let i = 0; i < 40; i++) {
      const f = fs.create(i % 2 ? sub : root, `f${i}.txt`);
      fs.write(f, 0, enc.encode(`file ${i}`));
      fs.collections.setVector(f, Float32Array.from({ length: 4 }, () => r()));
      fs.setxattr(f, "user.n", enc.encode(String(i)));
      files.push(f);
    }
    const query = Float32Array.from([0.5, 0.5, 0.5, 0.5]);
    const where = parseWhere(["user.n < 30"]);
    for (const [dir, base] of [[root, "/docs/"], [sub, "/docs/sub/"]] as const) {
      const exclude = new Set([files[1], files[4]]);
      const got = searchHybrid(fs, dir, { vector: query, k: 7, where, exclude });
      const want = fs.collections.searchEx(dir, query, 7, { where, exclude });
      assert.deepEqual(got.method, { vector: want.method, text: null, fusion: null });
      assert.ok(got.method.vector?.filterPassed !== undefined, "the filter is reported");
      assert.deepEqual(
        got.hits,
        want.hits.map((h, i) => ({ ...h, vector: { rank: i + 1, score: h.score }, text: null })),
      );
      for (const h of got.hits) {
        assert.equal(fs.pathOf(h.ino), base + h.path, "path relative to the searched directory");
        assert.ok(!exclude.has(h.ino));
      }
      assert.deepEqual(
        searchHybrid(fs, dir, { vector: query, k: 7, paths: false }).hits.map((h) => h.path),
        Array(7).fill(""),
      );
    }
    assert.match(
      errno(() => searchHybrid(fs, ROOT_INO, { vector: query, k: 3 })),
      /^EINVAL: .*not inside a vector collection/,
    );
  } finally {
    fs.close();
  }
});

/** A real engine with a collection of small text files with vectors and `user.n`, half of them in `sub/`. */
function textCorpus(metric: "l2" | "cosine") {
  const dev = new MemDevice(16 << 20);
  writeFilesystem(dev, computeLayout(dev.size, { blockSize: 4096, inodes: 2048 }), {
    uuid: crypto.getRandomValues(new Uint8Array(16)),
  });
  const fs = Vexfs.openDevice(dev);
  const r = rng(21);
  const words = ["cloud", "foundry", "deploy", "app", "kernel", "module", "vector", "search", "file", "disk", "index"];
  const root = fs.mkdir(ROOT_INO, "docs");
  fs.collections.create(root, { dim: 4, metric, elem: "f32", index: "flat" });
  const sub = fs.mkdir(root, "sub");
  const files: number[] = [];
  for (let i = 0; i < 60; i++) {
    const f = fs.create(i % 2 ? sub : root, `f${i}.txt`);
    const text = Array.from({ length: 3 + (i % 9) }, () => words[Math.floor(r() * words.length)]).join(" ");
    fs.write(f, 0, enc.encode(text + "\n"));
    // a few files carry no vector: they can only come from the text side
    if (i % 10 !== 3) fs.collections.setVector(f, Float32Array.from({ length: 4 }, () => r() * 2 - 1));
    fs.setxattr(f, "user.n", enc.encode(String(i)));
    files.push(f);
  }
  return { fs, root, sub, files };
}

const ranked = (hits: { ino: number; score: number }[]) => hits.map((h) => ({ ino: h.ino, score: h.score }));

Deno.test("searchHybrid on a real image: text-only, hybrid rrf and weighted equal a hand composition of the two sides", () => {
  for (const metric of ["l2", "cosine"] as const) {
    const { fs, root, sub, files } = textCorpus(metric);
    try {
      const c = fs.collections;
      assert.match(
        errno(() => searchHybrid(fs, root, { text: "cloud", k: 3 })),
        /^ENODATA: .*vexfs index build --text/,
        "no text index: the message says how to build one",
      );
      c.text.build(root);
      const query = Float32Array.from([0.3, -0.2, 0.5, 0.1]);
      const text = "cloud foundry deploy";
      for (const [dir, base] of [[root, "/docs/"], [sub, "/docs/sub/"]] as const) {
        for (const where of [undefined, parseWhere(["user.n >= 20"])]) {
          const exclude = new Set([files[7], files[8]]);
          const o = { where, exclude };
          // text only: the text side's own top k
          const t = searchHybrid(fs, dir, { text, k: 6, ...o });
          const tw = c.text.search(dir, text, 6, o);
          assert.deepEqual(t.method, { vector: null, text: tw.method, fusion: null });
          assert.deepEqual(
            t.hits,
            tw.hits.map((h, i) => ({ ...h, vector: null, text: { rank: i + 1, score: h.score } })),
          );
          assert.ok(t.hits.length > 0, "the query matches something");
          // both sides: each side's top depth, fused
          const vs = c.searchEx(dir, query, 50, { ...o, paths: false });
          const ts = c.text.search(dir, text, 50, { ...o, paths: false });
          const rrf = searchHybrid(fs, dir, { vector: query, text, k: 8, depth: 50, ...o });
          assert.deepEqual(rrf.method, {
            vector: vs.method,
            text: ts.method,
            fusion: { kind: "rrf", rrfK: 60, depth: 50 },
          });
          const want = fuseRrf(ranked(vs.hits), ranked(ts.hits), 8);
          assert.deepEqual(rrf.hits.map(({ path: _, ...h }) => h), want);
          const w = searchHybrid(fs, dir, {
            vector: query,
            text,
            k: 8,
            depth: 50,
            fusion: "weighted",
            alpha: 0.7,
            ...o,
          });
          assert.deepEqual(
            w.hits.map(({ path: _, ...h }) => h),
            fuseWeighted(ranked(vs.hits), ranked(ts.hits), 8, 0.7, metric === "l2"),
          );
          for (const h of [...t.hits, ...rrf.hits, ...w.hits]) {
            assert.equal(fs.pathOf(h.ino), base + h.path, "path relative to the searched directory");
            assert.ok(!exclude.has(h.ino), "excluded files stay out");
            if (where) assert.ok(Number(new TextDecoder().decode(fs.getxattr(h.ino, "user.n"))) >= 20, "filtered");
          }
          assert.ok(rrf.hits.some((h) => h.vector && h.text), "some hits come from both sides");
        }
      }
      // a file without a vector comes from the text side only
      const novec = files[13];
      const only = searchHybrid(fs, root, {
        vector: query,
        terms: c.text.analyzerOf(root).terms(new TextDecoder().decode(fs.read(novec, 0, 4096))),
        k: 60,
        depth: 60,
      });
      const h = only.hits.find((x) => x.ino === novec);
      assert.ok(h && h.vector === null && h.text !== null, "the file without a vector is a text-only hit");
    } finally {
      fs.close();
    }
  }
});
