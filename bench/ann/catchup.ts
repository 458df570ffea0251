/**
 * How long a large collection takes to answer from its HNSW index again
 * after a `kill -9` in the middle of an import (issue 8, §2 "Incremental").
 *
 * A child process imports `--n` seeded random vectors (128-d f32, l2, HNSW
 * M 16, efConstruction 200) into `/v` of a fresh image the way
 * `vexfs import` does offline (files created and vectors set in batches of
 * 1,000 inside one engine operation; the engine commits on its own). When
 * it reports `--kill-at` vectors set, the parent sends SIGKILL. Then, in
 * this process, it times:
 *
 * 1. `Vexfs.open` of the image (journal replay, FORMAT.md §9);
 * 2. the first search through the graph (reading the store and the graph
 *    file, checking the graph against the store's generation and catching
 *    up what the checkpoint had not written yet, FORMAT.md §8.6);
 * 3. the same on a clean reopen, for comparison;
 *
 * and checks recall@10 of 100 queries at ef 128 against exact scans, so the
 * caught-up graph is shown to be sound, and that fsck finds no error.
 *
 * ```sh
 * node_modules/deno/deno run -A bench/ann/catchup.ts --n 1000000 --kill-at 900000 --image /var/tmp/catchup.img
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { ROOT_INO } from "../../src/format/constants.ts";
import { Vexfs } from "../../src/fs/fs.ts";
import { mkfs } from "../../src/fs/mkfs.ts";
import { fsck } from "../../src/fsck/fsck.ts";
import { mulberry32 } from "../vectors.ts";

const DIM = 128;
const BATCH = 1000;

const { values: a } = parseArgs({
  args: Deno.args,
  options: {
    n: { type: "string", default: "1000000" },
    "kill-at": { type: "string" },
    image: { type: "string", default: "/var/tmp/vexfs-catchup.img" },
    child: { type: "boolean", default: false },
    seed: { type: "string", default: "12345" },
  },
});
const n = Number(a.n);
const killAt = Number(a["kill-at"] ?? Math.floor(n * 0.9));
const image = a.image!;
const seed = Number(a.seed);

/** Vector `i` of the seeded sequence: Float32Array of length DIM, uniform in [-1, 1). */
function vectors(count: number, s: number): Float32Array {
  const r = mulberry32(s);
  const v = new Float32Array(count * DIM);
  for (let i = 0; i < v.length; i++) v[i] = r() * 2 - 1;
  return v;
}

if (a.child) {
  const base = vectors(n, seed);
  const fs = Vexfs.open(image);
  const dir = fs.mkdir(ROOT_INO, "v");
  fs.collections.create(dir, { dim: DIM, metric: "l2", elem: "f32", index: "hnsw", m: 16, efConstruction: 200 });
  const t0 = performance.now();
  for (let i = 0; i < n; i += BATCH) {
    const end = Math.min(n, i + BATCH);
    fs.op(() => {
      const items: { ino: number; vector: Float32Array }[] = [];
      for (let j = i; j < end; j++) {
        items.push({
          ino: fs.create(dir, `v${String(j).padStart(7, "0")}`),
          vector: base.subarray(j * DIM, (j + 1) * DIM),
        });
      }
      fs.collections.setVectors(items);
    }, "catchup import");
    console.log(`set ${end} ${((performance.now() - t0) / 1000).toFixed(1)}`);
  }
  fs.close();
  Deno.exit(0);
}

const log = (s: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${s}`);
try {
  Deno.removeSync(image);
} catch { /* not there */ }
mkfs(image, {
  size: Math.ceil((n * 1400 + (256 << 20)) / 4096) * 4096,
  inodes: n + 4096,
  force: true,
  label: "catchup",
});
log(`mkfs ${image}; importing ${n} × ${DIM} vectors, kill -9 at ${killAt}`);
const child = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "-A",
    new URL(import.meta.url).pathname,
    "--child",
    "--n",
    String(n),
    "--image",
    image,
    "--seed",
    String(seed),
  ],
  stdout: "piped",
  stderr: "inherit",
}).spawn();
let last = "";
let killed = false;
const dec = new TextDecoder();
let buf = "";
for await (const chunk of child.stdout) {
  buf += dec.decode(chunk, { stream: true });
  let nl;
  while ((nl = buf.indexOf("\n")) >= 0) {
    last = buf.slice(0, nl);
    buf = buf.slice(nl + 1);
    const [, count, secs] = last.split(" ");
    if (Number(count) % 50_000 === 0) log(`import: ${count} vectors set in ${secs} s`);
    if (!killed && Number(count) >= killAt) {
      child.kill("SIGKILL");
      killed = true;
      log(`kill -9 after ${count} vectors set (${secs} s into the import)`);
    }
  }
}
const st = await child.status;
if (!killed) log(`the import ended before the kill (exit ${st.code})`);

const queries = vectors(100, seed + 1);
function firstAnswer(label: string): { fs: Vexfs; openS: number; firstS: number; method: string; note: string } {
  let t = performance.now();
  const fs = Vexfs.open(image);
  const openS = (performance.now() - t) / 1000;
  t = performance.now();
  const dir = fs.resolve("/v");
  const r = fs.collections.searchEx(dir, queries.subarray(0, DIM), 10, { ef: 128, paths: false });
  const firstS = (performance.now() - t) / 1000;
  const note = fs.collections.indexStats(dir).note;
  log(`${label}: open ${openS.toFixed(2)} s, first answer ${firstS.toFixed(2)} s by ${r.method.method} (${note})`);
  return { fs, openS, firstS, method: r.method.method, note };
}
const after = firstAnswer("after kill -9");
const dir = after.fs.resolve("/v");
const count = after.fs.collections.get(after.fs.collections.collectionOfDir(dir)).count;
let hit = 0;
for (let q = 0; q < 100; q++) {
  const qv = queries.subarray(q * DIM, (q + 1) * DIM);
  const g = after.fs.collections.searchEx(dir, qv, 10, { ef: 128, paths: false }).hits;
  const e = new Set(after.fs.collections.search(dir, qv, 10, { exact: true, paths: false }).map((h) => h.ino));
  for (const h of g) if (e.has(h.ino)) hit++;
}
log(`collection holds ${count} vectors; recall@10 at ef 128 after catch-up: ${(hit / 1000).toFixed(3)}`);
after.fs.close();
const clean = firstAnswer("clean reopen");
clean.fs.close();
const rep = fsck(image, { readOnly: true, force: true });
const errors = rep.problems.filter((p) => p.severity === "error");
log(`fsck -fn: ${errors.length} errors, ${rep.problems.length} findings`);
console.log(JSON.stringify({
  n,
  killAt,
  vectorsAfterReplay: count,
  openAfterKillS: after.openS,
  firstAnswerAfterKillS: after.firstS,
  noteAfterKill: after.note,
  openCleanS: clean.openS,
  firstAnswerCleanS: clean.firstS,
  recallAt10Ef128: hit / 1000,
  fsckErrors: errors.length,
}));
