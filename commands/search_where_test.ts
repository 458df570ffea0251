/**
 * `vexfs search --where` on an image: JSONL fields become `user.*` xattrs
 * on import, and a filtered search answers as a brute force over the
 * records that pass; repeated `--where` are ANDed; a malformed filter is a
 * usage error naming the position; with `--queries` every query is
 * filtered.
 */
import assert from "node:assert/strict";
import { rng } from "../src/test_random.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;
const dec = new TextDecoder();

async function vexfs(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
}

async function ok(args: string[]): Promise<string> {
  const r = await vexfs(args);
  assert.equal(r.code, 0, `vexfs ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

Deno.test("vexfs search --where: only files whose xattrs pass, as a brute force over them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vexfs-where-" });
  try {
    const img = `${dir}/w.img`;
    await ok(["mkfs", "-s", "32M", img]);
    const r = rng(5);
    const dim = 8;
    const recs = Array.from({ length: 90 }, (_, i) => ({
      path: `d${i}`,
      vector: Array.from({ length: dim }, () => r() * 2 - 1),
      lang: ["en", "de", "fr"][i % 3],
      year: 2000 + (i % 30),
    }));
    await Deno.writeTextFile(`${dir}/w.jsonl`, recs.map((x) => JSON.stringify(x)).join("\n") + "\n");
    await ok(["import", img, "/c", "--jsonl", `${dir}/w.jsonl`, "--metric", "l2"]);
    const q = recs[0].vector;
    const brute = (pass: (x: typeof recs[number]) => boolean, k: number) =>
      recs.filter(pass)
        .map((x) => ({ path: x.path, d: Math.hypot(...x.vector.map((v, i) => v - q[i])) }))
        .sort((a, b) => a.d - b.d)
        .slice(0, k)
        .map((x) => x.path);
    const search = async (...where: string[]) => {
      const out = JSON.parse(
        await ok(["search", "--json", img, "/c", "-k", "5", "--vector", JSON.stringify(q), ...where]),
      );
      assert.equal(typeof out.search.filter_passed, "number", "--json says how many files passed");
      return out.hits.map((h: { path: string }) => h.path);
    };
    assert.deepEqual(await search("--where", "user.lang=de"), brute((x) => x.lang === "de", 5));
    // numbers compare as numbers; two --where are ANDed; in (...)
    assert.deepEqual(
      await search("--where", "user.year >= 2020", "--where", "user.lang in (en, fr)"),
      brute((x) => x.year >= 2020 && x.lang !== "de", 5),
    );
    // the human output says how many passed
    const text = await ok(["search", img, "/c", "-k", "2", "--vector", JSON.stringify(q), "--where", "user.lang=en"]);
    assert.match(text, /30 files passed --where/);
    // --queries: each query filtered
    await Deno.writeTextFile(`${dir}/q.jsonl`, JSON.stringify(q) + "\n" + JSON.stringify(q) + "\n");
    const lines =
      (await ok(["search", "--json", img, "/c", "-k", "3", "--queries", `${dir}/q.jsonl`, "--where", "user.lang=fr"]))
        .trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    for (const l of lines) {
      assert.deepEqual(l.hits.map((h: { path: string }) => h.path), brute((x) => x.lang === "fr", 3));
    }
    // a malformed filter: usage error (exit 2) naming the position and what was expected
    const bad = await vexfs(["search", img, "/c", "--vector", JSON.stringify(q), "--where", "user.lang ~ en"]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /at character 11: expected an operator/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /, "no stack trace");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
