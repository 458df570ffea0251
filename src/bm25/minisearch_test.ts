/**
 * Ranking vs MiniSearch 7.2.0 on the fiori corpus (design §2.2, §2.4.2).
 *
 * MiniSearch's BM25 (`calcBM25Score`, src/MiniSearch.ts) is BM25+ with
 * defaults k 1.2, b 0.7, d 0.5, the (k + 1) numerator factor, fieldLength =
 * the number of DISTINCT tokens of the field, and each result multiplied by
 * the number of query terms it matched (a coordination factor like Lucene's
 * old `coord`: it changes MiniSearch's own order of multi-term results, so
 * their results are re-ranked here after the division). Configured to compute our formula:
 * `bm25: { k: 1.2, b: 0.75, d: 0 }`; the document tokenizer = our analyzer
 * with each token made unique (`i\u0001term`, stripped again by
 * `processTerm`) so that fieldLength = dl; the query tokenizer = our
 * analyzer; the score divided by `queryTerms.length`. What remains is the
 * (k1 + 1) = 2.2 factor: their score = ours × 2.2. Fiori has no document
 * without a token, so MiniSearch's document count (all documents) equals
 * our N (documents with dl ≥ 1).
 *
 * Checked on 200 queries (20 human, 180 sampled by df bucket): the same
 * matching documents, every score within 1e-12 relative, the same top 20
 * except for exact ties.
 */
import assert from "node:assert/strict";
import MiniSearch from "minisearch";
import { assertSameRanking, fioriCorpus, FIXED_QUERIES, sampledQueries } from "./_fiori_testutil.ts";
import { scoreBm25 } from "./score.ts";

Deno.test("scoreBm25 ranks fiori as MiniSearch 7.2.0 configured for the same formula (scores × 2.2)", async () => {
  const { analyzer, texts, index } = await fioriCorpus();
  assert.equal(index.docCount(), texts.length, "every fiori chunk has a token");
  const strip = (t: string) => {
    const i = t.indexOf("\u0001");
    return i < 0 ? t : t.slice(i + 1);
  };
  const ms = new MiniSearch<{ id: number; content: string }>({
    fields: ["content"],
    tokenize: (s: string) => analyzer.terms(s).map((t, i) => `${i}\u0001${t}`),
    processTerm: strip,
    searchOptions: {
      bm25: { k: 1.2, b: 0.75, d: 0 },
      tokenize: (s: string) => analyzer.terms(s),
      processTerm: (t: string) => t,
      combineWith: "OR",
    },
  });
  ms.addAll(texts.map((content, i) => ({ id: i + 1, content })));
  const queries = [...FIXED_QUERIES, ...sampledQueries(index, 180, 2026)];
  let worst = 0, compared = 0;
  for (const q of queries) {
    const terms = analyzer.terms(q);
    if (new Set(terms).size !== terms.length) continue; // MiniSearch's quality factor counts a repeated term once
    const ours = scoreBm25(index, terms, { k1: 1.2, b: 0.75 });
    // their order includes the quality factor: rank by the divided score (ties by ino, as ours)
    const theirs = ms.search(q).map((r) => [r.id as number, r.score / r.queryTerms.length] as [number, number])
      .sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    assert.equal(ours.matched, theirs.length, q);
    worst = Math.max(worst, assertSameRanking(ours.hits, theirs, 2.2, 20, q));
    compared++;
  }
  assert.ok(compared >= 190, `${compared} queries compared`);
  assert.ok(worst < 1e-12, `worst relative difference ${worst}`);
});

Deno.test("the fiori index is at most 2 × the text it covers (design §1.3: ≈ 0.19)", async () => {
  const { index, indexBytes, textBytes } = await fioriCorpus();
  assert.equal(index.docCount(), 778);
  // measured 1,155,072 bytes (282 blocks of 4 KiB, header slots included) for 6,162,290 bytes of text: 0.187
  assert.ok(indexBytes <= 0.25 * textBytes, `${indexBytes} index bytes for ${textBytes} text bytes`);
});
