/**
 * Test helpers of commands/search_test.ts and search_text_test.ts: the real
 * CLI run on a small corpus imported into a temporary image (vectors, text,
 * `user.lang`, `user.year`), and its exit checks.
 * @module
 */
import assert from "node:assert/strict";
import { type CliRun, runVexfs } from "./_testutil.ts";
import { rng } from "../src/test_random.ts";

export async function ok(args: string[]): Promise<CliRun> {
  const r = await runVexfs(args);
  assert.equal(r.code, 0, `vexfs ${args.join(" ")}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

export async function fails(args: string[], ...needles: string[]): Promise<void> {
  const r = await runVexfs(args);
  assert.notEqual(r.code, 0, `vexfs ${args.join(" ")} fails: ${r.stdout}`);
  assert.match(r.stderr, /^vexfs search: /, r.stderr);
  assert.ok(!/\n\s+at /.test(r.stderr), `no stack trace: ${r.stderr}`);
  for (const n of needles) assert.ok(r.stderr.includes(n), `stderr mentions '${n}': ${r.stderr}`);
}

export const DIM = 4;

export interface Doc {
  path: string;
  vector: number[];
  text: string;
  lang: string;
  year: number;
}

/** A small corpus: vectors, texts, `user.lang` and `user.year`. */
export function corpus(): Doc[] {
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

export function cosine(a: number[], b: number[]): number {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return d / Math.sqrt(na * nb);
}

export async function withImage(fn: (img: string, docs: Doc[], dir: string) => Promise<void>): Promise<void> {
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
