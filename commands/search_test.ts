/**
 * `vexfs search` with filters, run as a user would (the real CLI on a real
 * image): `--where` equals a brute force over the files whose attributes
 * match; the query-option errors of filters, keywords and fusion; a bad
 * `--where` is the parser's message. Keywords and fusion: search_text_test.ts.
 */
import assert from "node:assert/strict";
import { runVexfs } from "./_testutil.ts";
import { cosine, type Doc, fails, ok, withImage } from "./_search_testutil.ts";

Deno.test("vexfs search --where: a vector search over the matching files equals a brute force; errors", async () => {
  await withImage(async (img, docs) => {
    const q = docs[5].vector;
    const brute = (keep: (d: Doc) => boolean, under = "") =>
      docs.filter((d) => keep(d) && d.path.startsWith(under))
        .map((d) => ({ path: d.path.slice(under.length), score: cosine(q, d.vector) }))
        .sort((a, b) => b.score - a.score);
    for (
      const [where, keep, under] of [
        [["user.lang=en"], (d: Doc) => d.lang === "en", ""],
        [["user.year >= 2020", "user.lang = de"], (d: Doc) => d.year >= 2020 && d.lang === "de", ""],
        [["user.year in (2016, 2018) AND user.lang exists"], (d: Doc) => [2016, 2018].includes(d.year), "a/"],
      ] as const
    ) {
      const args = ["search", "--json", img, `/docs/${under}`, "-k", "8", "--vector", JSON.stringify(q)];
      for (const w of where) args.push("--where", w);
      const got = JSON.parse((await ok(args)).stdout);
      const want = brute(keep, under).slice(0, 8);
      assert.deepEqual(got.hits.map((h: { path: string }) => h.path), want.map((w) => w.path), where.join(" & "));
      got.hits.forEach((h: { score: number }, i: number) => assert.ok(Math.abs(h.score - want[i].score) < 1e-5));
      assert.equal(got.search.filter_passed, brute(keep, under).length, "filter_passed counts the matching files");
    }
    // --like leaves the query file out, the filter still applies; the table says how many passed
    const t = await ok(["search", img, "/docs", "-k", "3", "--like", "/docs/b/doc-0.txt", "--where", "user.lang=de"]);
    assert.ok(!t.stdout.includes("b/doc-0.txt"), t.stdout);
    assert.match(t.stdout, /14 files passed --where/, t.stdout);
    await fails(["search", img, "/docs", "--vector", JSON.stringify(q), "--where", "lang=en"], "user.");
    await fails(["search", img, "/docs", "--vector", JSON.stringify(q), "--where", "user.x ~ 3"]);
  });
});

Deno.test("vexfs search: query option errors say what goes with what", async () => {
  const v = ["--vector", "[1, 0, 0, 0]"];
  await fails(["search", "x.img", "/docs"], "give one query");
  await fails(["search", "x.img", "/docs", ...v, "--like", "a"], "give one query");
  await fails(["search", "x.img", "/docs", "--text", "a", "--queries", "q.fvecs"], "give one query");
  await fails(["search", "x.img", "/docs", ...v, "--fusion", "rrf"], "--fusion: only for a hybrid search");
  await fails(["search", "x.img", "/docs", "--text", "a", "--alpha", "0.5", "--depth", "9"], "--alpha, --depth: only");
  await fails(
    ["search", "x.img", "/docs", ...v, "--text", "a", "--alpha", "1.5"],
    "--alpha must be a number from 0 to 1",
  );
  await fails(["search", "x.img", "/docs", ...v, "--text", "a", "--fusion", "max"], "--fusion is rrf or weighted");
  await fails(
    ["search", "x.img", "/docs", ...v, "--text", "a", "--fusion", "rrf", "--alpha", "0.2"],
    "--alpha goes with",
  );
  await fails(["search", "x.img", "/docs", "--text", "a", "--exact"], "--ef and --exact apply to a vector query");
  const r = await runVexfs(["index", "build", "x.img", "/docs", "--k1", "2"]);
  assert.match(r.stderr, /--k1: parameters of the keyword index; add --text/);
});
