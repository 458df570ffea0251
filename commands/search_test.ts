/**
 * `vexfs search` with filters, keywords and fusion, run as a user would
 * (the real CLI on a real image): `--where` equals a brute force over the
 * files whose attributes match; the query-option errors; a bad `--where`
 * is the parser's message.
 */
import assert from "node:assert/strict";
import { type CliRun, runVexfs } from "./_testutil.ts";
import { rng } from "../src/test_random.ts";

async function ok(args: string[]): Promise<CliRun> {
  const r = await runVexfs(args);
  assert.equal(r.code, 0, `vexfs ${args.join(" ")}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

async function fails(args: string[], ...needles: string[]): Promise<void> {
  const r = await runVexfs(args);
  assert.notEqual(r.code, 0, `vexfs ${args.join(" ")} fails: ${r.stdout}`);
  assert.match(r.stderr, /^vexfs search: /, r.stderr);
  assert.ok(!/\n\s+at /.test(r.stderr), `no stack trace: ${r.stderr}`);
  for (const n of needles) assert.ok(r.stderr.includes(n), `stderr mentions '${n}': ${r.stderr}`);
}

const DIM = 4;

interface Doc {
  path: string;
  vector: number[];
  text: string;
  lang: string;
  year: number;
}

/** A small corpus: vectors, texts, `user.lang` and `user.year`. */
function corpus(): Doc[] {
  const r = rng(12);
  const words = ["cloud", "foundry", "deploy", "app", "kernel", "module", "vector", "search", "file", "system"];
  return Array.from({ length: 40 }, (_, i) => ({
    path: `${i % 2 ? "a" : "b"}/doc-${i}.txt`,
    vector: Array.from({ length: DIM }, () => Math.fround(r() * 2 - 1)),
    text: Array.from({ length: 5 + (i % 7) }, () => words[Math.floor(r() * words.length)]).join(" ") + "\n",
    lang: i % 3 ? "en" : "de",
    year: 2015 + (i % 10),
  }));
}

function cosine(a: number[], b: number[]): number {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return d / Math.sqrt(na * nb);
}

async function withImage(fn: (img: string, docs: Doc[], dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "vexfs-search-test-" });
  try {
    const img = `${dir}/s.img`;
    await ok(["mkfs", "-q", "-s", "32M", img]);
    const docs = corpus();
    await Deno.writeTextFile(`${dir}/in.jsonl`, docs.map((d) => JSON.stringify(d)).join("\n") + "\n");
    await ok(["import", img, "/docs", "--jsonl", `${dir}/in.jsonl`]);
    await fn(img, docs, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

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
        [["user.missing exists"], () => false, ""],
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
});

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
    const st = await json(["index", "stats", img, "/docs", "--text"]);
    assert.equal(st.stats.docs, 40);
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
      for (const x of [...t.hits, ...h.hits, ...w.hits] as JHit[]) {
        const d = docs.find((d) => d.path === under + (under ? "/" : "") + x.path)!;
        assert.ok(d, `${x.path} is below ${dir}`);
        if (where.length) assert.ok(d.year >= 2018, `${x.path} passes --where`);
      }
    }
    // --like with --text leaves the query file out of both sides; the table shows both ranks
    const like = await json([
      "search",
      img,
      "/docs",
      "-k",
      "40",
      "--like",
      "/docs/b/doc-0.txt",
      "--text",
      docs[0].text,
    ]);
    assert.ok(!like.hits.some((x: JHit) => x.path === "b/doc-0.txt"), "the --like file is left out");
    const table = await ok(["search", img, "/docs", "-k", "3", "--like", "/docs/b/doc-0.txt", "--text", "cloud"]);
    assert.match(table.stdout, /vector rank.*text rank.*bm25/s, table.stdout);
    await fails(["search", img, "/docs", "-k", "5000", "--vector", q, "--text", "x"], "at most 4096");
    const dropped = await json(["index", "drop", img, "/docs", "--text"]);
    assert.equal(dropped.stats.enabled, false);
    await fails(["search", img, "/docs", "--text", "cloud"], "vexfs index build --text");
    const r = await runVexfs(["index", "build", img, "/docs", "--k1", "2"]);
    assert.match(r.stderr, /--k1: parameters of the keyword index; add --text/);
  });
});
