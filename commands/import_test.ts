/**
 * `vexfs import --jsonl` in batches: offline (one engine operation per 4096
 * records) and on a mount (`VEXFS_IOC_SET_VECTORS`, docs/IOCTL.md §3.10);
 * a large import answers searches as a brute force over its input does; a
 * failing line on a mount keeps the lines before it, vectors included.
 */
import assert from "node:assert/strict";
import { Vexfs } from "../src/fs/fs.ts";
import { assertFsckClean, tmpImage } from "../src/fs/_testutil.ts";
import { mountTest, withMount } from "../src/mount/_testutil.ts";
import { vexfsArgv } from "../src/mount/self.ts";
import { batchMax } from "../src/ioctl/abi.ts";
import { MOUNT_WRITERS, OFFLINE_BATCH } from "./import.ts";

const dec = new TextDecoder();

/** Runs the real `vexfs` command; returns exit code and output. */
async function vexfs(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const [exe, ...rest] = vexfsArgv(args);
  const o = await new Deno.Command(exe, { args: rest, stdout: "piped", stderr: "piped", env: { NO_COLOR: "1" } })
    .output();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

/** A seeded dataset of `n` records of `dim` (f32-exact values), written as JSONL; returns its vectors. */
async function dataset(file: string, n: number, dim: number, seed = 1): Promise<Float32Array[]> {
  let s = seed;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5;
  const vs: Float32Array[] = [];
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const v = new Float32Array(dim).map(() => rnd());
    vs.push(v);
    lines.push(JSON.stringify({ path: `d${i % 7}/r${i}.txt`, text: `record ${i}\n`, vector: Array.from(v) }));
  }
  await Deno.writeTextFile(file, lines.join("\n") + "\n");
  return vs;
}

/** The k nearest records to `q` by l2, ties by record number (inode numbers follow record order). */
function brute(vs: Float32Array[], q: Float32Array, k: number): number[] {
  return vs.map((v, i) => ({ i, d: v.reduce((a, x, j) => a + (x - q[j]) ** 2, 0) }))
    .sort((a, b) => a.d - b.d || a.i - b.i).slice(0, k).map((x) => x.i);
}

/** Checks every record's file and vector, and exact searches against the brute force. */
function checkImage(img: string, dir: string, vs: Float32Array[]): void {
  const fs = Vexfs.open(img, { readOnly: true });
  try {
    const base = fs.resolve(dir);
    const rec = new Map<number, number>();
    for (let i = 0; i < vs.length; i++) {
      const ino = fs.resolve(`${dir}/d${i % 7}/r${i}.txt`);
      rec.set(ino, i);
      if (i % 97 === 0) {
        assert.equal(dec.decode(fs.read(ino, 0, 100)), `record ${i}\n`);
        assert.deepEqual(fs.collections.getVector(ino), vs[i], `vector of record ${i}`);
      }
    }
    assert.equal(fs.collections.get(fs.collections.collectionOfDir(base)).count, vs.length);
    for (const qi of [0, 17, vs.length - 1]) {
      const q = vs[qi].map((x, j) => x + (j % 3 === 0 ? 0.01 : -0.02));
      const got = fs.collections.search(base, q, 10, { paths: false, exact: true });
      const want = brute(vs, q, 10);
      assert.deepEqual(got.map((h) => rec.get(h.ino)), want, `top 10 of query ${qi}`);
    }
  } finally {
    fs.close();
  }
}

Deno.test("import offline: 30,000 records in engine batches; every vector and search equal the input's", async () => {
  const img = tmpImage(512 << 20, 4096, 65_536);
  const dir = await Deno.makeTempDir();
  try {
    const vs = await dataset(`${dir}/d.jsonl`, 30_000, 24);
    const r = await vexfs(
      "import",
      img,
      "/big",
      "--jsonl",
      `${dir}/d.jsonl`,
      "--metric",
      "l2",
      "--index",
      "flat",
      "--json",
    );
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.deepEqual([s.files, s.vectors, s.collection.vectors], [30_000, 30_000, 30_000]);
    assert.equal(s.vector_batches, Math.ceil(30_000 / OFFLINE_BATCH));
    checkImage(img, "/big", vs);
    assertFsckClean(img);
  } finally {
    Deno.removeSync(img);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "import on a mount: files through the kernel, vectors with SET_VECTORS; equal to the input after unmount",
  ...mountTest,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const n = 3000, dim = 64;
      const vs = await dataset(`${dir}/d.jsonl`, n, dim, 7);
      const img = await withMount({ keepImage: true }, async (mnt, img) => {
        // the destination does not exist yet: the import makes it, on a mount as offline
        const missing = await vexfs("import", `${mnt}/nowhere/c`, "--jsonl", `${dir}/none.jsonl`);
        assert.equal(missing.code, 1);
        assert.match(missing.stderr, /none\.jsonl/, "the missing input is the error, not the destination");
        const r = await vexfs(
          "import",
          `${mnt}/c`,
          "--jsonl",
          `${dir}/d.jsonl`,
          "--metric",
          "l2",
          "--index",
          "flat",
          "--json",
        );
        assert.equal(r.code, 0, r.stderr);
        const s = JSON.parse(r.stdout);
        assert.deepEqual([s.files, s.vectors, s.collection.vectors], [n, n, n]);
        // windows of 1,024 records, each in calls of batchMax(64) = 62 vectors
        const calls = [1024, 1024, 952].reduce((a, w) => a + Math.ceil(w / batchMax(dim)), 0);
        assert.equal(s.vector_batches, calls, `SET_VECTORS calls (${MOUNT_WRITERS} writers)`);
        const f = Deno.openSync(`${mnt}/c`);
        f.syncSync();
        f.close();
        // a failing line keeps the lines before it, their vectors too: an i8 collection given 1000
        Deno.mkdirSync(`${mnt}/q`);
        await Deno.writeTextFile(
          `${dir}/q.jsonl`,
          [[1, 1], [2, 2], [1000, 1], [3, 3]].map((v, i) => JSON.stringify({ path: `q${i}`, text: "x", vector: v }))
            .join("\n"),
        );
        const c = await vexfs("collection", "create", `${mnt}/q`, "--dim", "2", "--type", "i8", "--index", "flat");
        assert.equal(c.code, 0, c.stderr);
        const bad = await vexfs("import", `${mnt}/q`, "--jsonl", `${dir}/q.jsonl`);
        assert.equal(bad.code, 1);
        assert.match(bad.stderr, /line 3: .*i8/);
        for (const [i, want] of [[0, "[\n  1,\n  1\n]"], [1, "[\n  2,\n  2\n]"]] as const) {
          const g = await vexfs("vector", "get", `${mnt}/q/q${i}`, "--json");
          assert.equal(g.code, 0, g.stderr);
          assert.deepEqual(JSON.parse(g.stdout).vector, JSON.parse(want));
        }
        assert.throws(() => Deno.statSync(`${mnt}/q/q3`), "nothing after the failing line");
        return img;
      });
      checkImage(img, "/c", vs);
      Deno.removeSync(img);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
