/**
 * Smoke test of `vexfs bench --text` (bench/text.ts) in its quick mode: every system indexes and answers on a slice
 * of fiori and a small generated corpus, the report has every figure, the Markdown block and the history row are
 * written. The generated corpus is deterministic and Zipf-shaped. No timing is asserted.
 * @module
 */
import { assert, assertEquals } from "../src/test_assert.ts";
import { DatabaseSync } from "node:sqlite";
import { runTextBench, TEXT_SYSTEMS } from "./text.ts";
import { generatedCorpus, percentile, pseudoWords, sampleQueries } from "./text_corpus.ts";
import {
  recordTextRun,
  renderTextMarkdown,
  TEXT_MD_BEGIN,
  TEXT_MD_END,
  textTargets,
  updateTextMarkdown,
} from "./text_report.ts";

Deno.test("generated corpus: deterministic, distinct lowercase pseudo-words, Zipf-shaped, lengths around the median", () => {
  const w = pseudoWords(2000, 7);
  assertEquals(new Set(w).size, 2000);
  assert(w.every((x) => /^[a-z]{4,}$/.test(x)), "lowercase ASCII words");
  const a = generatedCorpus({ docs: 200, seed: 3 });
  assertEquals(a, generatedCorpus({ docs: 200, seed: 3 }));
  assert(a.join("") !== generatedCorpus({ docs: 200, seed: 4 }).join(""), "the seed matters");
  const counts = new Map<string, number>();
  const lens: number[] = [];
  for (const t of a) {
    const words = t.split(/[ .]+/).filter(Boolean);
    lens.push(words.length);
    for (const x of words) counts.set(x, (counts.get(x) ?? 0) + 1);
  }
  const med = percentile(lens, 50);
  assert(med > 200 && med < 450, `median length ${med}`);
  const freq = [...counts.values()].sort((x, y) => y - x);
  // Zipf(1.1): the most frequent word about 2^1.1 ≈ 2.1 times the second, far above the hundredth
  assert(freq[0] / freq[1] > 1.5 && freq[0] / freq[1] < 3, `${freq[0]} / ${freq[1]}`);
  assert(freq[0] / freq[99] > 50, `${freq[0]} / ${freq[99]}`);
});

Deno.test("sampleQueries: 1-3 terms in turn, from [a-z]{2,} terms of every df bucket present", () => {
  const df = new Map([["rare", 1], ["some", 5], ["many", 50], ["x", 3], ["v1", 9], ["most", 500], ["all", 5000]]);
  const q = sampleQueries(df, 300, 1);
  assertEquals(q.slice(0, 3).map((s) => s.split(" ").length), [1, 2, 3]);
  const used = new Set(q.flatMap((s) => s.split(" ")));
  assertEquals([...used].sort(), ["all", "many", "most", "rare", "some"]);
});

Deno.test("vexfs bench --text, quick mode: every system indexes and answers; report, Markdown and history", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "vexfs-text-bench-test-" });
  try {
    const r = await runTextBench({
      genDocs: 120,
      queries: 9,
      rounds: 1,
      genRounds: 1,
      passes: 1,
      fioriDocs: 40,
      seed: 5,
      parentDir: dir,
      mount: false,
      version: "test",
      command: "vexfs bench --text (test)",
      log: () => {},
      describeMachine: false,
    });
    assertEquals(r.corpora.map((c) => [c.corpus, c.docs]), [["fiori", 40], ["generated", 120]]);
    for (const c of r.corpora) {
      for (const s of TEXT_SYSTEMS) {
        assert(c.indexMs[s].median > 0, `${c.corpus} ${s} indexing`);
        assertEquals(c.query[s].count, 9);
        assert(c.meanHits[s] > 0 && c.meanHits[s] <= 10, `${c.corpus} ${s} answers`);
      }
      // the same documents match the same terms (generated: plain words; fiori: the tokenizers differ on a few)
      if (c.corpus === "generated") assertEquals(c.meanHits.vexfs, c.meanHits.minisearch, "hits per query");
      else assert(Math.abs(c.meanHits.vexfs - c.meanHits.minisearch) <= 1, `fiori hits ${JSON.stringify(c.meanHits)}`);
      assert(c.agreement >= 0.5, `${c.corpus}: top hits agree with MiniSearch's top 10 (${c.agreement})`);
      assertEquals(c.e2e.docCount, c.docs);
      assert(c.size.vexfsFile > 0 && c.size.minisearchJson! > 0 && c.size.oramaJson! > 0);
      assertEquals(textTargets(c).length, 3);
    }
    const h = r.corpora[0].hybrid!;
    assert(h.engine.available && h.engine.hybrid!.count === 9, "hybrid through the engine measured");
    assertEquals(h.mount.available, false);
    assertEquals(r.corpora[1].hybrid, undefined);
    const md = renderTextMarkdown(r);
    assert(md.startsWith(TEXT_MD_BEGIN) && md.endsWith(TEXT_MD_END));
    const page = updateTextMarkdown(`# B\n\nbefore\n\n${TEXT_MD_BEGIN}\nold\n${TEXT_MD_END}\n\nafter\n`, md);
    assert(page.includes("before") && page.includes("after") && !page.includes("\nold\n") && page.includes("fiori"));
    assert(updateTextMarkdown("# B\n", md).endsWith(`${TEXT_MD_END}\n`), "appended when absent");
    const db = `${dir}/history.sqlite`;
    assertEquals(recordTextRun(db, r), 1);
    assertEquals(recordTextRun(db, r), 2);
    const conn = new DatabaseSync(db);
    try {
      const row = conn.prepare("SELECT command, report FROM text_runs WHERE id = 2").get() as {
        command: string;
        report: string;
      };
      assertEquals(row.command, "vexfs bench --text (test)");
      assertEquals(JSON.parse(row.report).corpora.length, 2);
    } finally {
      conn.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
