/**
 * Subtree search at scale (issue 8, §2): recall@10 and time per query of a
 * search below a directory holding 1%, 10%, 89% or all of a collection, as
 * the engine chooses (an exact scan of a small subtree, a filtered graph
 * traversal of a large one) and, for comparison, with the filtered
 * traversal forced at every size.
 *
 * Data: 100,000 × 128 f32 (l2) in 1,000 Gaussian clusters (seeded; centres
 * uniform in [-1, 1), σ 0.3 per element), which neighbours search as real
 * embeddings do; each file is put in `/v/a` (1%), `/v/b` (10%) or `/v/c`
 * (the rest) at random, so a subtree is an uncorrelated filter, the hard
 * case for a filtered traversal. 200 queries from the same distribution;
 * ground truth by the engine's exact scan of the same subtree.
 *
 * Then the whole collection through a mount: p50/p99 latency and recall@10
 * of `VEXFS_IOC_SEARCH2` on one held descriptor at the default ef, 32 and 128.
 *
 * ```sh
 * node_modules/deno/deno run -A bench/ann/subtree.ts [--n 100000] [--image /var/tmp/vexfs-subtree.img]
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { ROOT_INO } from "../../src/format/constants.ts";
import { Vexfs } from "../../src/fs/fs.ts";
import { mkfs } from "../../src/fs/mkfs.ts";
import { DirSearcher } from "../../src/ioctl/client.ts";
import { vexfsArgv } from "../../src/mount/self.ts";
import { mulberry32 } from "../vectors.ts";

const { values: a } = parseArgs({
  args: Deno.args,
  options: {
    n: { type: "string", default: "100000" },
    image: { type: "string", default: "/var/tmp/vexfs-subtree.img" },
    queries: { type: "string", default: "200" },
  },
});
const n = Number(a.n), nq = Number(a.queries), DIM = 128, CLUSTERS = 1000;
const r = mulberry32(2024);
const gauss = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
const centres = Float32Array.from({ length: CLUSTERS * DIM }, () => r() * 2 - 1);
const point = (out: Float32Array, at: number) => {
  const c = Math.floor(r() * CLUSTERS);
  for (let d = 0; d < DIM; d++) out[at + d] = centres[c * DIM + d] + 0.3 * gauss();
};
const base = new Float32Array(n * DIM);
for (let i = 0; i < n; i++) point(base, i * DIM);
const queries = new Float32Array(nq * DIM);
for (let q = 0; q < nq; q++) point(queries, q * DIM);

try {
  Deno.removeSync(a.image!);
} catch { /* not there */ }
mkfs(a.image!, { size: Math.ceil((n * 1400 + (256 << 20)) / 4096) * 4096, inodes: n + 4096, force: true });
let fs = Vexfs.open(a.image!);
const v = fs.mkdir(ROOT_INO, "v");
fs.collections.create(v, { dim: DIM, metric: "l2", elem: "f32", index: "hnsw", m: 16, efConstruction: 200 });
const sub = [fs.mkdir(v, "a"), fs.mkdir(v, "b"), fs.mkdir(v, "c")];
const t0 = performance.now();
for (let i = 0; i < n; i += 1000) {
  fs.op(() => {
    const items = [];
    for (let j = i; j < Math.min(n, i + 1000); j++) {
      const x = r();
      const d = x < 0.01 ? sub[0] : x < 0.11 ? sub[1] : sub[2];
      items.push({ ino: fs.create(d, `f${j}`), vector: base.subarray(j * DIM, (j + 1) * DIM) });
    }
    fs.collections.setVectors(items);
  }, "subtree bench import");
}
fs.close();
console.error(`built ${n} vectors in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
fs = Vexfs.open(a.image!, { readOnly: true });
const c = fs.collections;
const defaultScan = c.exactScanElements;
c.searchEx(v, queries.subarray(0, DIM), 10); // load the store and the graph
const rows: string[] = [];
const dirs = [["/v/a", "1%"], ["/v/b", "10%"], ["/v/c", "89%"], ["/v", "100%"]] as const;
for (const forced of [false, true]) {
  c.subtreeExactMax = forced ? 0 : 4096;
  c.subtreeExactFraction = forced ? 0 : 0.05;
  c.exactScanElements = forced ? 0 : defaultScan;
  for (const [path, share] of dirs) {
    const dir = fs.resolve(path);
    for (const ef of [undefined, 128]) {
      let hit = 0, us = 0, method = "";
      for (let q = 0; q < nq; q++) {
        const qv = queries.subarray(q * DIM, (q + 1) * DIM);
        const t = performance.now();
        const got = c.searchEx(dir, qv, 10, { paths: false, ...(ef ? { ef } : {}) });
        us += (performance.now() - t) * 1000;
        method = got.method.method + (got.method.ef ? ` (ef ${got.method.ef})` : "");
        const want = new Set(c.search(dir, qv, 10, { exact: true, paths: false }).map((h) => h.ino));
        hit += got.hits.filter((h) => want.has(h.ino)).length;
      }
      rows.push(
        `| ${share} | ${forced ? "filtered traversal forced" : "engine's choice"} | ${ef ?? "default"} | ${method} | ${
          (hit / (10 * nq)).toFixed(3)
        } | ${(us / nq).toFixed(0)} |`,
      );
      console.error(rows.at(-1));
    }
  }
}
// the whole collection through a mount: p50 of SEARCH2 on a held descriptor, recall against the exact scan
const truth: Set<number>[] = [];
for (let q = 0; q < nq; q++) {
  const qv = queries.subarray(q * DIM, (q + 1) * DIM);
  truth.push(new Set(c.search(v, qv, 10, { exact: true, paths: false }).map((h) => h.ino)));
}
fs.close();
const mnt = Deno.makeTempDirSync({ prefix: "vexfs-subtree-mnt-" });
const run = async (args: string[]) => {
  const [exe, ...rest] = vexfsArgv(args);
  const o = await new Deno.Command(exe, { args: rest, stdout: "piped", stderr: "piped" }).output();
  if (!o.success) throw new Error(new TextDecoder().decode(o.stderr));
};
await run(["mount", a.image!, mnt]);
const mountRows: string[] = [];
try {
  const s = await DirSearcher.open(`${mnt}/v`);
  for (const ef of [undefined, 32, 128]) {
    for (let q = 0; q < 20; q++) await s.search(queries.subarray(q * DIM, (q + 1) * DIM), 10, ef ? { ef } : {});
    const lat: number[] = [];
    let hit = 0, method = "";
    for (let q = 0; q < nq; q++) {
      const t = performance.now();
      const r = await s.search(queries.subarray(q * DIM, (q + 1) * DIM), 10, ef ? { ef } : {});
      lat.push((performance.now() - t) * 1000);
      hit += r.hits.filter((h) => truth[q].has(Number(h.ino))).length;
      method = r.method.method + (r.method.method === "hnsw" ? ` (ef ${r.method.ef})` : "");
    }
    lat.sort((x, y) => x - y);
    mountRows.push(
      `| ${ef ?? "default"} | ${method} | ${(hit / (10 * nq)).toFixed(3)} | ${lat[Math.floor(nq / 2)].toFixed(0)} | ${
        lat[Math.floor(nq * 0.99)].toFixed(0)
      } |`,
    );
    console.error(mountRows.at(-1));
  }
  await s.close();
} finally {
  await run(["umount", mnt]);
  Deno.removeSync(mnt);
}
console.log(
  [
    "| subtree | how | ef | answered by | recall@10 | µs/query |",
    "| --- | --- | --- | --- | --: | --: |",
    ...rows,
    "",
    "Through the mount (`vexfs mount`, VEXFS_IOC_SEARCH2 on one descriptor), the whole collection:",
    "",
    "| ef | answered by | recall@10 | p50 µs | p99 µs |",
    "| --- | --- | --: | --: | --: |",
    ...mountRows,
  ].join("\n"),
);
