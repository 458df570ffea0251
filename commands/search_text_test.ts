/**
 * `vexfs search --text` and `vexfs index ... --text` run as a user would (the
 * real CLI on a real image): the keyword ranking, hybrid RRF and weighted
 * fusion equal a hand composition of the two sides' own rankings (also
 * below a subtree with --where), --like leaves its file out, and the
 * keyword index is built, rebuilt with a parameter changed, and dropped.
 */
import assert from "node:assert/strict";
import { fails, ok, withImage } from "./_search_testutil.ts";

interface JHit {
  rank: number;
  path: string;
  ino: number;
  score: number;
  vector: { rank: number; score: number } | null;
  text: { rank: number; score: number } | null;
}

Deno.test("vexfs search --text: keyword, hybrid rrf and weighted equal a hand composition of the two sides; index --text", async () => {
  await withImage(async (img, docs) => {
    const json = async (args: string[]) => JSON.parse((await ok([...args, "--json"])).stdout);
    await fails(["search", img, "/docs", "--text", "cloud"], "vexfs index build --text");
    const built = await json(["index", "build", img, "/docs", "--text"]);
    assert.deepEqual([built.stats.index, built.stats.enabled, built.stats.fresh, built.stats.docs], [
      "bm25",
      true,
      true,
      40,
    ]);
    assert.deepEqual(built.stats.params.k1, 1.2);
    const rb = await json(["index", "rebuild", img, "/docs", "--text", "--b", "0.5"]);
    assert.deepEqual([rb.stats.params.b, rb.stats.params.k1], [0.5, 1.2], "rebuild keeps the parameters not given");

    const q = JSON.stringify(docs[3].vector);
    const text = "cloud foundry deploy";
    for (const [under, where] of [["", []], ["a", ["--where", "user.year >= 2018"]]] as const) {
      const dir = `/docs/${under}`;
      const t = await json(["search", img, dir, "-k", "20", "--text", text, ...where]);
      const v = await json(["search", img, dir, "-k", "20", "--vector", q, ...where]);
      assert.ok(t.hits.length > 0 && t.method.text.terms.length === 3, JSON.stringify(t.method));
      assert.equal(t.method.fusion, null);
      t.hits.forEach((h: JHit, i: number) => {
        assert.deepEqual([h.rank, h.vector, h.text?.rank, h.text?.score], [i + 1, null, i + 1, h.score]);
        if (i) assert.ok(h.score <= t.hits[i - 1].score, "BM25 scores descend");
      });
      // the hand composition: RRF over the two 20-deep rankings, ties by inode
      const vr = new Map<string, number>(v.hits.map((h: JHit, i: number) => [h.path, i + 1]));
      const tr = new Map<string, number>(t.hits.map((h: JHit, i: number) => [h.path, i + 1]));
      const ino = new Map<string, number>([...v.hits, ...t.hits].map((h: JHit) => [h.path, h.ino]));
      const fused = [...ino.keys()].map((p) => ({
        path: p,
        s: (vr.has(p) ? 1 / (60 + vr.get(p)!) : 0) + (tr.has(p) ? 1 / (60 + tr.get(p)!) : 0),
      })).sort((a, b) => b.s - a.s || ino.get(a.path)! - ino.get(b.path)!);
      const h = await json(["search", img, dir, "-k", "8", "--depth", "20", "--vector", q, "--text", text, ...where]);
      assert.deepEqual(h.method.fusion, { kind: "rrf", rrf_k: 60, alpha: null, depth: 20 });
      assert.deepEqual(h.hits.map((x: JHit) => x.path), fused.slice(0, 8).map((x) => x.path), `rrf ${dir} ${where}`);
      h.hits.forEach((x: JHit, i: number) => {
        assert.ok(Math.abs(x.score - fused[i].s) < 1e-6, "fused score");
        assert.equal(x.vector?.rank ?? null, vr.get(x.path) ?? null);
        assert.equal(x.text?.rank ?? null, tr.get(x.path) ?? null);
      });
      // weighted: min-max per side (cosine: higher is better), alpha 0.25
      const norm = (hits: JHit[]) => {
        const s = hits.map((x) => x.score), lo = Math.min(...s), hi = Math.max(...s);
        return new Map(hits.map((x) => [x.path, hi > lo ? (x.score - lo) / (hi - lo) : 1]));
      };
      const nv = norm(v.hits), nt = norm(t.hits);
      const wsum = [...ino.keys()].map((p) => ({ path: p, s: 0.25 * (nv.get(p) ?? 0) + 0.75 * (nt.get(p) ?? 0) }))
        .sort((a, b) => b.s - a.s || ino.get(a.path)! - ino.get(b.path)!);
      for (const x of [...t.hits, ...h.hits] as JHit[]) {
        const d = docs.find((d) => d.path === under + (under ? "/" : "") + x.path)!;
        assert.ok(d, `${x.path} is below ${dir}`);
        if (where.length) assert.ok(d.year >= 2018, `${x.path} passes --where`);
      }
      if (under) continue; // the weighted fusion once, over the whole collection
      const w = await json([
        "search",
        img,
        dir,
        "-k",
        "8",
        "--depth",
        "20",
        "--vector",
        q,
        "--text",
        text,
        "--alpha",
        "0.25",
        ...where,
      ]);
      assert.deepEqual(w.method.fusion, { kind: "weighted", rrf_k: null, alpha: 0.25, depth: 20 });
      w.hits.forEach((x: JHit, i: number) => assert.ok(Math.abs(x.score - wsum[i].s) < 1e-5, `weighted ${i}`));
    }
    // --like with --text leaves the query file out of both sides; the table shows both ranks
    const table = await ok(["search", img, "/docs", "-k", "40", "--like", "/docs/b/doc-0.txt", "--text", docs[0].text]);
    assert.match(table.stdout, /vector rank.*text rank.*bm25/s, table.stdout);
    assert.ok(!table.stdout.includes("b/doc-0.txt"), "the --like file is left out");
    assert.ok(table.stdout.includes("b/doc-2.txt"), table.stdout);
    await fails(["search", img, "/docs", "-k", "5000", "--vector", q, "--text", "x"], "at most 4096");
    const dropped = await json(["index", "drop", img, "/docs", "--text"]);
    assert.equal(dropped.stats.enabled, false);
    await fails(["search", img, "/docs", "--text", "cloud"], "vexfs index build --text");
  });
});
