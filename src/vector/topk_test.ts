import fc from "fast-check";
import { compareHits } from "./distance.ts";
import { assertEquals, assertFsError } from "../test_assert.ts";
import { TopK } from "./topk.ts";
import type { Metric } from "./types.ts";

const metricArb = fc.constantFrom<Metric>("l2", "cosine", "ip");

Deno.test("topk: example with ties broken by inode", () => {
  const t = new TopK(2, "l2");
  t.push(20, 0.5);
  t.push(10, 0.5);
  t.push(30, 0.1);
  t.push(40, 0.5);
  assertEquals(t.result(), [{ ino: 30, score: 0.1 }, { ino: 10, score: 0.5 }]);
  assertEquals(t.threshold, 0.5);
  const c = new TopK(3, "cosine");
  for (const [ino, s] of [[5, 0.2], [3, 0.9], [4, 0.9], [1, -1], [2, 0.2]]) {
    c.push(ino, s);
  }
  assertEquals(c.result(), [
    { ino: 3, score: 0.9 },
    { ino: 4, score: 0.9 },
    { ino: 2, score: 0.2 },
  ]);
  assertEquals(new TopK(1, "ip").threshold, undefined);
  assertEquals(new TopK(5, "ip").result(), []);
});

Deno.test("topk: bad k or metric is EINVAL", () => {
  for (const k of [0, -1, 1.5, NaN]) {
    assertFsError(() => new TopK(k, "l2"), "EINVAL", /bad k/);
  }
  assertFsError(() => new TopK(1, "dot" as Metric), "EINVAL", /metric/);
});

Deno.test("topk: equals a full sort, whatever the push order (property)", () => {
  const hits = fc.uniqueArray(
    fc.record({
      ino: fc.integer({ min: 1, max: 1e9 }),
      // few distinct scores, to force ties; NaN now and then
      score: fc.oneof(
        {
          weight: 10,
          arbitrary: fc.integer({ min: -5, max: 5 }).map((x) => x / 4),
        },
        { weight: 1, arbitrary: fc.constant(NaN) },
        { weight: 3, arbitrary: fc.double({ noNaN: true }) },
      ),
    }),
    { selector: (h) => h.ino, maxLength: 300 },
  );
  fc.assert(
    fc.property(
      hits,
      fc.integer({ min: 1, max: 40 }),
      metricArb,
      (hs, k, m) => {
        const t = new TopK(k, m);
        for (const h of hs) t.push(h.ino, h.score);
        const want = [...hs]
          .sort((a, b) => compareHits(m, a.score, a.ino, b.score, b.ino))
          .slice(0, k)
          .map((h) => ({ ino: h.ino, score: h.score }));
        assertEquals(t.result(), want);
        assertEquals(t.size, Math.min(k, hs.length));
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("topk: large k grows its heap", () => {
  const t = new TopK(5000, "ip");
  for (let i = 0; i < 3000; i++) t.push(i + 1, (i * 7919) % 1000);
  const r = t.result();
  assertEquals(r.length, 3000);
  for (let i = 1; i < r.length; i++) {
    const ok = r[i - 1].score > r[i].score ||
      (r[i - 1].score === r[i].score && r[i - 1].ino < r[i].ino);
    assertEquals(ok, true, `order at ${i}`);
  }
});
