/**
 * Tests of BM25 scoring (./score.ts, design §2.1 and §2.4.1): a 12-document
 * hand corpus scored by an independent implementation written here (plain
 * Maps over the texts, no shared code) and against constants computed by
 * hand (Python's math.log, shown with their formulas), |ours − oracle| ≤ 1e-6
 * (they agree to ~1e-15); duplicates in the query, ties by ino, the empty
 * document, a term in every document, parameters k1/b; the same scores when
 * the corpus is spread over a base, deltas with tombstones and an overlay;
 * filter, exclude, depth and matched; random corpora against the oracle.
 */
import assert from "node:assert/strict";
import { FsError } from "../errors.ts";
import { rng } from "../test_random.ts";
import { countsOf, docOf } from "./_testutil.ts";
import type { DocInput } from "./layout.ts";
import { Bm25Index } from "./reader.ts";
import { liveDf, scoreBm25, type TextHit } from "./score.ts";
import { encodeSegment } from "./segment.ts";

const COLL = 4, SEED = 77, BS = 1024;
const P = { k1: 1.2, b: 0.75 };

/** The hand corpus: ino → text (3 is empty; "the" is in every other document; "zebra" in one). */
const CORPUS: Record<number, string> = {
  1: "the cat sat on the mat",
  2: "the dog sat",
  3: "",
  4: "the cat cat cat",
  5: "the",
  6: "the quick brown fox jumps over the lazy dog",
  7: "the cloud foundry deploy deploy",
  8: "the deploy",
  9: "the annotation annotation annotation annotation",
  10: "the mat",
  11: "the unique zebra",
  12: "the cat dog fox mat cloud",
};

/** Independent BM25 (Lucene ≥ 8) over texts split on spaces: plain Maps, nothing shared with ./score.ts. */
function oracle(texts: Map<number, string>, query: string[], k1: number, b: number): [number, number][] {
  const toks = new Map<number, string[]>();
  for (const [ino, t] of texts) toks.set(ino, t.split(" ").filter((w) => w !== ""));
  const lens = [...toks.values()].map((t) => t.length).filter((n) => n > 0);
  const N = lens.length, avgdl = lens.reduce((x, y) => x + y, 0) / N;
  const score = new Map<number, number>();
  for (const q of query) {
    const n = [...toks.values()].filter((t) => t.includes(q)).length;
    if (n === 0) continue;
    const idf = Math.log(1 + (N - n + 0.5) / (n + 0.5));
    for (const [ino, t] of toks) {
      const tf = t.filter((w) => w === q).length;
      if (tf > 0) score.set(ino, (score.get(ino) ?? 0) + idf * tf / (tf + k1 * (1 - b + b * t.length / avgdl)));
    }
  }
  return [...score].sort((x, y) => y[1] - x[1] || x[0] - y[0]);
}

function docsOf(texts: Map<number, string>): DocInput[] {
  return [...texts].map(([ino, t]) => docOf(ino, countsOf(t)));
}

function seg(docs: DocInput[], tombs: number[], id: number): Uint8Array {
  return encodeSegment(docs, tombs, { id, base: id === 1, blockSize: BS, collectionId: COLL, hashSeed: SEED });
}

function indexOf(texts: Map<number, string>): Bm25Index {
  return Bm25Index.fromSegments([seg(docsOf(texts), [], 1)], BS, COLL, SEED);
}

function assertScores(got: TextHit[], want: [number, number][], what: string): void {
  assert.deepEqual(got.map((h) => h.ino), want.map((w) => w[0]), `${what}: order`);
  got.forEach((h, i) =>
    assert.ok(Math.abs(h.score - want[i][1]) <= 1e-6, `${what}: ino ${h.ino} ${h.score} vs ${want[i][1]}`)
  );
}

const corpus = new Map(Object.entries(CORPUS).map(([k, v]) => [Number(k), v]));

Deno.test("scoreBm25: the hand corpus equals the independent oracle to 1e-6 (≈1e-15)", () => {
  const ix = indexOf(corpus);
  assert.equal(ix.docCount(), 11); // the empty document is not in N
  assert.equal(ix.totalTokens(), 46);
  const queries = [
    "zebra",
    "the",
    "cat",
    "cat cat",
    "deploy cloud foundry",
    "annotation",
    "mat the dog",
    "nothing here",
    "the the zebra fox",
  ];
  let worst = 0;
  for (const [k1, b] of [[1.2, 0.75], [2, 0], [1.2, 1], [0.5, 0.3], [0, 0.75]]) {
    for (const q of queries) {
      const terms = q.split(" ");
      const want = oracle(corpus, terms, k1, b);
      const { hits, matched } = scoreBm25(ix, terms, { k1, b });
      assertScores(hits, want, `${q} k1=${k1} b=${b}`);
      assert.equal(matched, want.length);
      hits.forEach((h, i) => worst = Math.max(worst, Math.abs(h.score - want[i][1])));
    }
  }
  assert.ok(worst < 1e-13, `worst difference ${worst}`);
});

Deno.test("scoreBm25: hand-computed constants (N 11, Σdl 46, avgdl 46/11)", () => {
  const ix = indexOf(corpus);
  const avgdl = 46 / 11;
  const s = (q: string, p = P) => scoreBm25(ix, q.split(" "), p).hits.map((h) => [h.ino, h.score]);
  // zebra: n = 1, idf = ln(1 + 10.5/1.5) = ln 8; doc 11 has dl 3, tf 1
  const zebra = Math.log(8) / (1 + 1.2 * (0.25 + 0.75 * 3 / avgdl));
  assert.ok(Math.abs(zebra - 1.068763250472318) < 1e-15);
  assert.deepEqual(s("zebra"), [[11, zebra]]);
  // "the": n = N = 11, idf = ln(1 + 0.5/11.5); doc 5 ("the", dl 1) ranks first; docs 8 and 10 tie (dl 2): ino order
  const the = s("the");
  assert.deepEqual(the.slice(0, 3).map((x) => x[0]), [5, 8, 10]);
  assert.ok(Math.abs(the[0][1] - 0.02808812429360992) < 1e-15);
  assert.equal(the[1][1], the[2][1]);
  assert.ok(Math.abs(the[1][1] - 0.02459475205106296) < 1e-15);
  assert.equal(the.length, 11);
  // a duplicate query token counts again: "cat cat" = 2 × "cat"
  const cat = s("cat"), cat2 = s("cat cat");
  assert.deepEqual(cat2.map((x) => x[0]), [4, 1, 12]);
  cat2.forEach((x, i) => assert.equal(x[1], 2 * (cat[i][1] as number)));
  assert.ok(Math.abs((cat2[0][1] as number) - 1.77675891346273) < 1e-14);
  // k1 2, b 0 (no length normalisation): doc 4, tf 3, n 3: ln(1 + 8.5/3.5) · 3/(3 + 2)
  assert.ok(Math.abs(s("cat", { k1: 2, b: 0 })[0][1] as number - Math.log(1 + 8.5 / 3.5) * 3 / 5) < 1e-15);
  assert.ok(Math.abs((s("cat", { k1: 2, b: 0 })[0][1] as number) - 0.7392862087755794) < 1e-15);
  // three terms, python's values
  assert.deepEqual(s("deploy cloud foundry").map((x) => x[0]), [7, 8, 12]);
  for (const [i, v] of [[0, 2.464572427124775], [1, 0.9064865857291066], [2, 0.605338357584202]]) {
    assert.ok(Math.abs((s("deploy cloud foundry")[i][1] as number) - v) < 1e-14);
  }
});

Deno.test("scoreBm25: filter, exclude, depth and matched", () => {
  const ix = indexOf(corpus);
  const all = scoreBm25(ix, ["the"], P);
  assert.equal(all.matched, 11);
  const even = scoreBm25(ix, ["the"], P, { filter: (ino) => ino % 2 === 0, exclude: new Set([8]), depth: 3 });
  assert.equal(even.matched, 5); // 2, 4, 6, 8, 10, 12 pass the filter, 8 is excluded
  assert.deepEqual(even.hits.map((h) => h.ino), [10, 2, 6]);
  assert.deepEqual(even.hits, all.hits.filter((h) => h.ino % 2 === 0 && h.ino !== 8).slice(0, 3));
  for (const depth of [0, 1, 2, 5, 10, 11, 50]) {
    assert.deepEqual(
      scoreBm25(ix, ["the", "cat"], P, { depth }).hits,
      scoreBm25(ix, ["the", "cat"], P).hits.slice(0, depth),
    );
  }
  assert.deepEqual(scoreBm25(ix, [], P), { hits: [], matched: 0 });
  assert.deepEqual(scoreBm25(ix, ["absent"], P), { hits: [], matched: 0 });
  const empty = Bm25Index.fromSegments([seg([docOf(3, new Map())], [], 1)], BS, COLL, SEED);
  assert.deepEqual(scoreBm25(empty, ["the"], P), { hits: [], matched: 0 });
  const einval = (p: { k1: number; b: number }, depth?: number) =>
    assert.throws(
      () => scoreBm25(ix, ["the"], p, { depth }),
      (e: unknown) => e instanceof FsError && e.code === "EINVAL",
    );
  einval({ k1: -1, b: 0.5 });
  einval({ k1: NaN, b: 0.5 });
  einval({ k1: 1.2, b: 1.5 });
  einval(P, -1);
});

Deno.test("scoreBm25: a base + deltas with tombstones + an overlay scores as a from-scratch build", () => {
  // base: the corpus with a few documents not yet in their final form
  const first = new Map(corpus);
  first.set(4, "the dog");
  first.set(7, "zebra zebra zebra");
  first.set(20, "the cat doomed document");
  const d1 = { docs: docsOf(new Map([[4, corpus.get(4)!], [21, "another cat doomed"]])), tombs: [4, 20, 21] };
  const d2 = { docs: docsOf(new Map([[7, corpus.get(7)!]])), tombs: [7, 21] };
  const ov = { docs: docsOf(new Map([[13, "a new cat in the overlay"]])), tombs: [13] };
  const final = new Map(corpus);
  final.set(13, "a new cat in the overlay");
  const disk = Bm25Index.fromSegments(
    [seg(docsOf(first), [], 1), seg(d1.docs, d1.tombs, 2), seg(d2.docs, d2.tombs, 3)],
    BS,
    COLL,
    SEED,
  );
  const ix = disk.withOverlay([seg(ov.docs, ov.tombs, 4)]);
  const scratch = indexOf(final);
  for (const q of ["the", "cat", "zebra", "deploy cloud foundry", "doomed", "the cat overlay zebra dog"]) {
    const terms = q.split(" ");
    const got = scoreBm25(ix, terms, P), ref = scoreBm25(scratch, terms, P);
    assert.deepEqual(got, ref, q); // bit-identical: same N, n(t), avgdl, same order of operations
    assertScores(got.hits, oracle(final, terms, 1.2, 0.75), q);
    for (const t of terms) assert.equal(liveDf(ix, t), liveDf(scratch, t), t);
  }
  assert.equal(liveDf(ix, "doomed"), 0);
});

Deno.test("scoreBm25: random corpora and queries equal the oracle", () => {
  const r = rng(12);
  const vocab = Array.from({ length: 40 }, (_, i) => `t${i}`);
  for (let round = 0; round < 20; round++) {
    const texts = new Map<number, string>();
    const n = 1 + Math.floor(r() * 60);
    for (let i = 0; i < n; i++) {
      const len = Math.floor(r() * 30);
      texts.set(1 + i * 3, Array.from({ length: len }, () => vocab[Math.floor(vocab.length * r() ** 2)]).join(" "));
    }
    if ([...texts.values()].every((t) => t === "")) continue;
    const ix = indexOf(texts);
    for (let q = 0; q < 10; q++) {
      const terms = Array.from({ length: 1 + Math.floor(r() * 4) }, () => vocab[Math.floor(vocab.length * r())]);
      const k1 = r() * 3, b = r();
      const want = oracle(texts, terms, k1, b);
      assertScores(scoreBm25(ix, terms, { k1, b }).hits, want, `round ${round} ${terms}`);
      // the heap path: a depth and a filter
      const depth = Math.floor(r() * 6), odd = (ino: number) => ino % 2 === 1;
      const cut = scoreBm25(ix, terms, { k1, b }, { depth, filter: odd });
      const passing = want.filter(([ino]) => odd(ino));
      assert.equal(cut.matched, passing.length);
      assertScores(cut.hits, passing.slice(0, depth), `round ${round} ${terms} depth ${depth}`);
    }
  }
});
