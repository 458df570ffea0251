import { rng } from "../test_random.ts";
import fc from "fast-check";
import { loadFiori } from "../data/fiori.ts";
import { loadMnist } from "../data/mnist.ts";
import { decodeVector, encodeVector } from "./codec.ts";
import { compareHits, cosineSimilarity, innerProduct, isBetter, l2Distance, scanStore, scoreFn } from "./distance.ts";
import { assert, assertClose, assertEquals, assertFsError } from "../test_assert.ts";
import { TopK } from "./topk.ts";
import { elemSize, type ElemType, type Metric } from "./types.ts";

const METRICS: Metric[] = ["l2", "cosine", "ip"];

// ---- independent reference: plain sequential loops over number[] in f64 ----

function refScore(metric: Metric, q: number[], x: number[]): number {
  if (metric === "l2") {
    let s = 0;
    for (let i = 0; i < q.length; i++) s += (q[i] - x[i]) * (q[i] - x[i]);
    return Math.sqrt(s);
  }
  let dot = 0, qq = 0, xx = 0;
  for (let i = 0; i < q.length; i++) {
    dot += q[i] * x[i];
    qq += q[i] * q[i];
    xx += x[i] * x[i];
  }
  if (metric === "ip") return dot;
  if (qq === 0 || xx === 0) return 0;
  return dot / Math.sqrt(qq * xx);
}

interface RefHit {
  ino: number;
  score: number;
}

/** All hits sorted best first: score direction, then inode ascending. */
function refRank(metric: Metric, q: number[], xs: number[][], inos: number[]) {
  const hits: RefHit[] = xs.map((x, i) => ({
    ino: inos[i],
    score: refScore(metric, q, x),
  }));
  const sign = metric === "l2" ? 1 : -1;
  hits.sort((a, b) => sign * (a.score - b.score) || a.ino - b.ino);
  return hits;
}

const tolFor = (s: number) => 1e-5 * Math.max(1, Math.abs(s));

/**
 * Checks `got` against the full reference ranking: same length, scores
 * within tolerance position by position, distinct inodes, and each returned
 * inode's own reference score within tolerance of the reference score at
 * that position (i.e. same order up to ties).
 */
function checkAgainst(got: RefHit[], ref: RefHit[], k: number, what: string) {
  assertEquals(got.length, Math.min(k, ref.length), `${what}: length`);
  const byIno = new Map(ref.map((h) => [h.ino, h.score]));
  const seen = new Set<number>();
  for (let i = 0; i < got.length; i++) {
    const g = got[i], r = ref[i];
    assert(!seen.has(g.ino), `${what}: duplicate ino ${g.ino}`);
    seen.add(g.ino);
    assertClose(g.score, r.score, tolFor(r.score), `${what}: score at ${i}`);
    const own = byIno.get(g.ino);
    assert(own !== undefined, `${what}: unknown ino ${g.ino}`);
    assertClose(own, r.score, tolFor(r.score), `${what}: ino ${g.ino} at ${i}`);
  }
}

function makeStore(vs: Float32Array[], elem: ElemType, offset = 0) {
  const dim = vs[0]?.length ?? 1;
  const size = elemSize(elem);
  const buf = new Uint8Array(offset + vs.length * dim * size);
  vs.forEach((v, i) => buf.set(encodeVector(v, elem), offset + i * dim * size));
  return buf.subarray(offset);
}

function searchStore(
  store: Uint8Array,
  elem: ElemType,
  dim: number,
  count: number,
  q: Float32Array,
  metric: Metric,
  k: number,
  inos: number[],
) {
  const top = new TopK(k, metric);
  scanStore(store, elem, dim, count, q, metric, (s, score) => {
    top.push(inos[s], score);
  });
  return top.result();
}

// ---- real data --------------------------------------------------------------

Deno.test("distance: scanStore+TopK equals brute force on fiori (778 × 384, f32)", async () => {
  const { dim, docs } = await loadFiori();
  assertEquals(docs.length, 778);
  const vs = docs.map((d) => d.vector);
  const xs = vs.map((v) => Array.from(v));
  const store = makeStore(vs, "f32");
  // Inode numbers in a shuffled order so that slot order ≠ inode order.
  const r = rng(7);
  const inos = vs.map((_, i) => 16 + i);
  for (let i = inos.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [inos[i], inos[j]] = [inos[j], inos[i]];
  }
  const mean = new Float32Array(dim);
  for (const v of vs) for (let j = 0; j < dim; j++) mean[j] += v[j] / vs.length;
  const queries: Float32Array[] = [
    vs[0],
    vs[123],
    vs[777],
    vs[400].map((x) => -x),
    mean,
    Float32Array.from({ length: dim }, () => r() * 2 - 1),
  ];
  for (const q of queries) {
    for (const m of METRICS) {
      const got = searchStore(store, "f32", dim, vs.length, q, m, 10, inos);
      const ref = refRank(m, Array.from(q), xs, inos);
      checkAgainst(got, ref, 10, `fiori ${m}`);
    }
  }
  // A document is its own nearest neighbour under l2 and cosine.
  const self = searchStore(
    store,
    "f32",
    dim,
    vs.length,
    vs[123],
    "cosine",
    1,
    inos,
  );
  assertEquals(self[0].ino, inos[123]);
  assertClose(self[0].score, 1, 1e-6);
});

Deno.test("distance: scanStore+TopK equals brute force on MNIST (3000 × 784, f32)", async () => {
  const { dim, images, labels } = await loadMnist(3050);
  const base = images.slice(0, 3000);
  const xs = base.map((v) => Array.from(v));
  const store = makeStore(base, "f32");
  const inos = base.map((_, i) => 1000 + i);
  let correct = 0;
  for (let qi = 3000; qi < 3050; qi += 7) {
    const q = images[qi];
    for (const m of METRICS) {
      const got = searchStore(store, "f32", dim, base.length, q, m, 10, inos);
      const ref = refRank(m, Array.from(q), xs, inos);
      checkAgainst(got, ref, 10, `mnist ${m} q${qi}`);
      if (m === "l2" && labels[got[0].ino - 1000] === labels[qi]) correct++;
    }
  }
  // Sanity: 1-NN on raw pixels classifies most of the 8 queries correctly.
  assert(correct >= 6, `1-NN correct ${correct}/8`);
});

// ---- all element types, random data -----------------------------------------

Deno.test("distance: f32/f16/i8 stores match the reference on decoded values (property)", () => {
  const elemArb = fc.constantFrom<ElemType>("f32", "f16", "i8");
  const caseArb = fc.record({
    elem: elemArb,
    metric: fc.constantFrom<Metric>(...METRICS),
    dim: fc.integer({ min: 1, max: 37 }),
    count: fc.integer({ min: 0, max: 25 }),
    k: fc.integer({ min: 1, max: 30 }),
    offset: fc.integer({ min: 0, max: 3 }),
    seed: fc.integer(),
    zeros: fc.boolean(),
  });
  fc.assert(
    fc.property(caseArb, (c) => {
      const r = rng(c.seed);
      const gen = (): number =>
        c.elem === "i8" ? Math.floor(r() * 256) - 128 : c.elem === "f16" ? (r() * 2 - 1) * 300 : (r() * 2 - 1) * 1e3;
      const vs = Array.from({ length: c.count }, (_, i) =>
        Float32Array.from(
          { length: c.dim },
          () => c.zeros && i % 3 === 0 ? 0 : Math.round(gen() * 4) / 4,
        ));
      const q = Float32Array.from({ length: c.dim }, gen);
      const store = c.count ? makeStore(vs, c.elem, c.offset) : new Uint8Array(0);
      const xs = vs.map((v) => Array.from(decodeVector(encodeVector(v, c.elem), c.elem, c.dim)));
      const inos = vs.map((_, i) => 100 - i); // descending: tests tie-break
      const got = searchStore(
        store,
        c.elem,
        c.dim,
        c.count,
        q,
        c.metric,
        c.k,
        inos,
      );
      const ref = refRank(c.metric, Array.from(q), xs, inos);
      checkAgainst(got, ref, c.k, `${c.elem} ${c.metric}`);
      // Every slot is visited once, in order, with the ScoreFn's exact score.
      const f = scoreFn(c.metric);
      let next = 0;
      scanStore(store, c.elem, c.dim, c.count, q, c.metric, (s, score) => {
        assertEquals(s, next++);
        assertEquals(score, f(q, xs[s]));
      });
      assertEquals(next, c.count);
    }),
    { numRuns: 400 },
  );
});

Deno.test("distance: exact ties are ordered by inode ascending", () => {
  const v = new Float32Array([1, 2, 3]);
  const store = makeStore([v, v, v, v], "f32");
  for (const m of METRICS) {
    const got = searchStore(store, "f32", 3, 4, v, m, 3, [40, 10, 30, 20]);
    assertEquals(got.map((h) => h.ino), [10, 20, 30]);
  }
});

Deno.test("distance: scoring conventions of FORMAT.md §8.4", () => {
  const a = [3, 4], b = [0, 0], c = [-3, -4], d = [4, -3];
  assertEquals(l2Distance(a, b), 5);
  assertEquals(l2Distance(a, c), 10);
  assertEquals(cosineSimilarity(a, c), -1);
  assertEquals(cosineSimilarity(a, d), 0);
  assertEquals(cosineSimilarity(a, b), 0); // zero vector
  assertEquals(cosineSimilarity(b, b), 0);
  assertEquals(innerProduct(a, d), 0);
  assertEquals(innerProduct(a, a), 25);
  // cosine is clamped to [-1, 1] despite rounding
  const x = [0.1, 0.2, 0.3];
  assert(cosineSimilarity(x, x) <= 1);
  // zero vector in a store and as query
  const store = makeStore(
    [new Float32Array(2), new Float32Array([3, 4])],
    "f16",
  );
  const seen: number[] = [];
  scanStore(store, "f16", 2, 2, [0, 0], "cosine", (_s, sc) => seen.push(sc));
  assertEquals(seen, [0, 0]);
  assert(
    isBetter("l2", 1, 2) && !isBetter("l2", 2, 1) && !isBetter("l2", 1, 1),
  );
  assert(isBetter("ip", 2, 1) && isBetter("cosine", 0.5, 0.1));
  assert(
    isBetter("l2", 7, NaN) && !isBetter("ip", NaN, 7) &&
      !isBetter("l2", NaN, NaN),
  );
  assert(
    compareHits("l2", 1, 9, 1, 3) > 0 && compareHits("ip", 2, 9, 1, 3) < 0,
  );
});

Deno.test("distance: scanStore argument errors", () => {
  const store = new Uint8Array(24);
  const q = [1, 2, 3];
  const nop = () => {};
  assertFsError(
    () => scanStore(store, "f32", 3, 2, [1, 2], "l2", nop),
    "EINVAL",
    /query has 2 elements, expected 3/,
  );
  assertFsError(
    () => scanStore(store, "f32", 3, 3, q, "l2", nop),
    "EINVAL",
    /has 24 bytes, expected 36/,
  );
  assertFsError(
    () => scanStore(store, "f32", 0, 2, [], "l2", nop),
    "EINVAL",
    /dimension/,
  );
  assertFsError(
    () => scanStore(store, "f32", 3, -1, q, "l2", nop),
    "EINVAL",
    /slot count/,
  );
  assertFsError(
    () => scanStore(store, "f32", 3, 1, q, "dot" as Metric, nop),
    "EINVAL",
    /metric/,
  );
  assertFsError(() => l2Distance([1], [1, 2]), "EINVAL", /lengths differ/);
});
