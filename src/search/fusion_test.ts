/**
 * Fusion (design §6.1) against hand-computed examples: RRF sums, the
 * min-max normalisation both ways (l2 distances and similarities), all-equal
 * sides, missing sides, ties broken by inode, the cut to k, and argument
 * errors.
 */
import assert from "node:assert/strict";
import { FsError } from "../errors.ts";
import { fuseRrf, fuseWeighted, type RankedHit } from "./fusion.ts";

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-15, `${what}: ${a} vs ${b}`);

Deno.test("fuseRrf: Σ 1/(60 + rank) with ranks and raw scores of each side", () => {
  const vec: RankedHit[] = [{ ino: 10, score: 0.95 }, { ino: 20, score: 0.9 }, { ino: 30, score: 0.5 }];
  const text: RankedHit[] = [{ ino: 30, score: 7.5 }, { ino: 40, score: 6 }, { ino: 10, score: 1 }];
  const hits = fuseRrf(vec, text, 10);
  // 10: 1/61 + 1/63 = 0.032266..; 30: 1/63 + 1/61 (same) → tie, ino ascending; 20: 1/62; 40: 1/62 → tie
  assert.deepEqual(hits.map((h) => h.ino), [10, 30, 20, 40]);
  close(hits[0].score, 1 / 61 + 1 / 63, "10");
  close(hits[1].score, 1 / 63 + 1 / 61, "30");
  assert.equal(hits[0].score, hits[1].score, "the same sum in the same order: an exact tie");
  close(hits[2].score, 1 / 62, "20");
  close(hits[3].score, 1 / 62, "40");
  assert.deepEqual(hits[0].vector, { rank: 1, score: 0.95 });
  assert.deepEqual(hits[0].text, { rank: 3, score: 1 });
  assert.deepEqual(hits[2].text, null, "20 is not a text hit");
  assert.deepEqual(hits[3].vector, null, "40 is not a vector hit");
  assert.deepEqual(hits[3].text, { rank: 2, score: 6 });
});

Deno.test("fuseRrf: rrfK, k cut, one side empty, repeated inodes keep their first rank", () => {
  const vec: RankedHit[] = [{ ino: 1, score: 3 }, { ino: 2, score: 2 }, { ino: 3, score: 1 }];
  const text: RankedHit[] = [{ ino: 3, score: 9 }, { ino: 3, score: 8 }];
  const hits = fuseRrf(vec, text, 2, 0);
  // rrfK 0: 1 → 1/1 = 1; 3 → 1/3 + 1/1 = 1.333; 2 → 1/2
  assert.deepEqual(hits.map((h) => [h.ino, h.score]), [[3, 1 / 3 + 1], [1, 1]]);
  assert.deepEqual(hits[0].text, { rank: 1, score: 9 });
  const only = fuseRrf([], text, 5);
  assert.deepEqual(only.map((h) => [h.ino, h.score, h.vector]), [[3, 1 / 61, null]]);
  assert.deepEqual(fuseRrf([], [], 5), []);
});

Deno.test("fuseWeighted: min-max per side, l2 inverted, missing side 0, alpha weights", () => {
  // l2 distances: 0.2 nearest, 1.0 farthest → normalised 1, 0.5, 0
  const vec: RankedHit[] = [{ ino: 1, score: 0.2 }, { ino: 2, score: 0.6 }, { ino: 3, score: 1.0 }];
  // BM25: 8 best, 2 worst → 1, 0.5 (5), 0
  const text: RankedHit[] = [{ ino: 3, score: 8 }, { ino: 4, score: 5 }, { ino: 2, score: 2 }];
  const hits = fuseWeighted(vec, text, 10, 0.25, true);
  // 1: .25·1 = .25; 2: .25·.5 + .75·0 = .125; 3: .25·0 + .75·1 = .75; 4: .75·.5 = .375
  assert.deepEqual(hits.map((h) => h.ino), [3, 4, 1, 2]);
  close(hits[0].score, 0.75, "3");
  close(hits[1].score, 0.375, "4");
  close(hits[2].score, 0.25, "1");
  close(hits[3].score, 0.125, "2");
  assert.deepEqual(hits[0].vector, { rank: 3, score: 1.0 }, "raw scores are kept");
  assert.deepEqual(hits[0].text, { rank: 1, score: 8 });
  assert.equal(hits[1].vector, null);
  // similarities (cosine/ip): higher is better, (s − min)/(max − min)
  const sim: RankedHit[] = [{ ino: 1, score: 0.9 }, { ino: 2, score: 0.5 }, { ino: 3, score: 0.1 }];
  const h2 = fuseWeighted(sim, [], 10, 1, false);
  assert.deepEqual(h2.map((h) => [h.ino, h.score]), [[1, 1], [2, 0.5], [3, 0]]);
  // alpha 0: only the text side counts; vector-only hits score 0 and sort by ino
  const h3 = fuseWeighted(vec, text, 10, 0, true);
  assert.deepEqual(h3.map((h) => [h.ino, h.score]), [[3, 1], [4, 0.5], [1, 0], [2, 0]]);
});

Deno.test("fuseWeighted: a side whose scores are all equal normalises to 1; ties by ino; k cut", () => {
  const vec: RankedHit[] = [{ ino: 9, score: 0.3 }, { ino: 5, score: 0.3 }];
  const text: RankedHit[] = [{ ino: 7, score: 2 }];
  const hits = fuseWeighted(vec, text, 2, 0.5, true);
  // 9, 5: 0.5·1; 7: 0.5·1 → three-way tie, ino ascending, cut to 2
  assert.deepEqual(hits.map((h) => [h.ino, h.score]), [[5, 0.5], [7, 0.5]]);
  assert.deepEqual(fuseWeighted([], [], 3, 0.5, false), []);
});

Deno.test("fusion: EINVAL on k, rrfK, alpha", () => {
  const bad: [() => unknown, RegExp][] = [
    [() => fuseRrf([], [], 0), /k = 0/],
    [() => fuseRrf([], [], 1.5), /k = 1.5/],
    [() => fuseRrf([], [], 1, -1), /rrf k = -1/],
    [() => fuseRrf([], [], 1, NaN), /rrf k = NaN/],
    [() => fuseWeighted([], [], 1, 1.5, false), /alpha = 1.5/],
    [() => fuseWeighted([], [], 1, NaN, false), /alpha = NaN/],
  ];
  for (const [f, re] of bad) {
    assert.throws(f, (e: unknown) => e instanceof FsError && e.code === "EINVAL" && re.test(e.message));
  }
});
