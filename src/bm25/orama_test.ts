/**
 * Ranking vs Orama 3.1.18 on the fiori corpus (design §2.3, §2.4.2).
 *
 * Orama's BM25 (`components/algorithms.ts` `BM25`) has the same idf and
 * `idf · (d + tf·(k + 1)) / (tf + k·(1 − b + b·fieldLength/avgFieldLength))`,
 * but its tf is RELATIVE (occurrences / field length,
 * `insertTokenScoreParameters`) and its tokenizer dedupes tokens, so tf =
 * 1/u and fieldLength = u (u = distinct terms of the document), and N counts
 * every document. That is a real ranking difference from Lucene's
 * `c / (c + k1·L)`, not a setting. So this test does not compare Orama with
 * our Lucene scores: it compares it with an "Orama variant" scorer computed
 * from OUR index (tf = 1/uniq, dl = uniq, N = live documents, df = our live
 * df), which proves that our statistics (N, df, per-document distinct terms)
 * are Orama's: with `{ k: 1.2, b: 0.75, d: 0 }`, their score = variant × 2.2.
 *
 * Orama is queried through its index component (`db.index.search`, exact
 * radix lookup, threshold 1 = every partial match) because `search()` with
 * `exact: true` adds a case-sensitive whole-word post-filter requiring every
 * query word, and with `exact: false` matches prefixes. Its tokenizer is our
 * analyzer, deduped (keeping duplicates breaks its df: it counts every
 * occurrence). Queries with a repeated term are skipped (Orama dedupes them).
 */
import assert from "node:assert/strict";
import { count, create, insertMultiple } from "@orama/orama";
import { assertSameRanking, fioriCorpus, FIXED_QUERIES, sampledQueries } from "./_fiori_testutil.ts";
import type { Bm25Index } from "./reader.ts";
import { type TextHit } from "./score.ts";
import { termKey } from "./segment_decode.ts";

/** Orama's formula over our index (d = 0, without the (k + 1) factor). */
function oramaVariant(ix: Bm25Index, terms: string[], k1: number, b: number): TextHit[] {
  const N = ix.liveCount();
  let sumU = 0;
  ix.segments.forEach((s, si) => s.docs.forEach((d, o) => sumU += ix.live[si][o] ? d.uniq : 0));
  const avgu = sumU / N;
  const acc = new Map<number, number>();
  for (const t of terms) {
    const key = termKey(t, ix.hashSeed);
    let n = 0;
    const lists: [number, number][] = [];
    ix.segments.forEach((seg, si) => {
      const i = seg.find(key);
      if (i < 0) return;
      for (const o of seg.postings(i).ords) {
        if (!ix.live[si][o]) continue;
        n++;
        lists.push([seg.docs[o].ino, seg.docs[o].uniq]);
      }
    });
    if (n === 0) continue;
    const idf = Math.log(1 + (N - n + 0.5) / (n + 0.5));
    for (const [ino, u] of lists) {
      const x = 1 / u;
      acc.set(ino, (acc.get(ino) ?? 0) + idf * x / (x + k1 * (1 - b + b * u / avgu)));
    }
  }
  return [...acc].map(([ino, score]) => ({ ino, score })).sort((x, y) => y.score - x.score || x.ino - y.ino);
}

/** The parts of an Orama instance this test reaches into (not a documented API: pinned 3.1.18). */
interface OramaInternals {
  index: {
    search(
      index: unknown,
      term: string,
      tokenizer: unknown,
      language: undefined,
      props: string[],
      exact: boolean,
      tolerance: number,
      boost: Record<string, number>,
      relevance: { k: number; b: number; d: number },
      docsCount: number,
      whereFiltersIDs: undefined,
      threshold: number,
    ): [number, number][];
  };
  data: { index: unknown };
  tokenizer: unknown;
  internalDocumentIDStore: { internalIdToId: string[] };
}

Deno.test("Orama 3.1.18 ranks fiori as the Orama-variant scorer over our index (scores × 2.2)", async () => {
  const { analyzer, texts, index } = await fioriCorpus();
  const tokenizer = {
    language: "english",
    normalizationCache: new Map(),
    tokenize: (s: string) => [...new Set(analyzer.terms(s))],
  };
  const db = create({
    schema: { content: "string" } as const,
    components: { tokenizer: tokenizer as unknown as never },
  });
  await insertMultiple(db, texts.map((content, i) => ({ id: String(i + 1), content })));
  const o = db as unknown as OramaInternals;
  const queries = [...FIXED_QUERIES, ...sampledQueries(index, 180, 2027)];
  let worst = 0, compared = 0;
  for (const q of queries) {
    const terms = analyzer.terms(q);
    if (new Set(terms).size !== terms.length) continue;
    const raw = o.index.search(
      o.data.index,
      q,
      o.tokenizer,
      undefined,
      ["content"],
      true,
      0,
      {},
      {
        k: 1.2,
        b: 0.75,
        d: 0,
      },
      count(db),
      undefined,
      1,
    );
    const theirs = raw.map(([id, s]) =>
      [Number(o.internalDocumentIDStore.internalIdToId[id - 1]), s] as [number, number]
    )
      .sort((x, y) => y[1] - x[1] || x[0] - y[0]);
    worst = Math.max(worst, assertSameRanking(oramaVariant(index, terms, 1.2, 0.75), theirs, 2.2, 20, q));
    compared++;
  }
  assert.ok(compared >= 190, `${compared} queries compared`);
  assert.ok(worst < 1e-12, `worst relative difference ${worst}`);
});
