/**
 * Import throughput (issue 8, §3), each figure taken in this one run:
 *
 * 1. the JSONL parse floor: `readJsonlFile` over the records alone (no filesystem);
 * 2. `vexfs import IMAGE /v --jsonl FILE` offline, into a flat and into an HNSW collection
 *    (files with their text, vectors in batches), as a user runs it (its `--json` `elapsed_ms`);
 * 3. through a mount: `vexfs import MOUNT/v --jsonl FILE` (files written through FUSE,
 *    vectors by the batch ioctl), and the batch ioctl alone (`VEXFS_IOC_SET_VECTORS` through
 *    `BatchSetter`) setting the vectors of files that exist, flat and HNSW;
 *
 * plus an append at 1,000 and at 100,000 vectors (engine, flat), to show that appending costs
 * the same whatever the collection holds.
 *
 * ```sh
 * node_modules/deno/deno run -A bench/ann/import_rate.ts [--n 50000] [--dir /var/tmp]
 * ```
 * Records: 128-d f32 seeded uniform vectors with a short text (bench/vectors.ts).
 * @module
 */
import { parseArgs } from "node:util";
import { readJsonlFile } from "../../src/data/jsonl.ts";
import { MemDevice } from "../../src/device/mem.ts";
import { ROOT_INO } from "../../src/format/constants.ts";
import { Vexfs } from "../../src/fs/fs.ts";
import { mkfs } from "../../src/fs/mkfs.ts";
import { computeLayout, writeFilesystem } from "../../src/fs/mkfs.ts";
import { BatchSetter, createCollection } from "../../src/ioctl/client.ts";
import { vexfsArgv } from "../../src/mount/self.ts";
import { mulberry32, vectorJsonlLines } from "../vectors.ts";

const { values: a } = parseArgs({
  args: Deno.args,
  options: { n: { type: "string", default: "50000" }, dir: { type: "string", default: "/var/tmp" } },
});
const n = Number(a.n);
const work = Deno.makeTempDirSync({ dir: a.dir, prefix: "vexfs-import-rate-" });
const jsonl = `${work}/v.jsonl`;
const log = (s: string) => console.error(s);
const rows: [string, number, string][] = [];
const rate = (what: string, count: number, ms: number, note = "") => {
  rows.push([what, count / (ms / 1000), note]);
  log(`${what}: ${Math.round(count / (ms / 1000)).toLocaleString("en-US")}/s ${note}`);
};

async function vexfs(args: string[]): Promise<string> {
  const [exe, ...rest] = vexfsArgv(args);
  const r = await new Deno.Command(exe, { args: rest, stdout: "piped", stderr: "piped" }).output();
  const out = new TextDecoder().decode(r.stdout);
  if (!r.success) throw new Error(`vexfs ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
  return out;
}

try {
  {
    const f = await Deno.open(jsonl, { write: true, create: true, truncate: true });
    const enc = new TextEncoder();
    let buf: string[] = [];
    for (const l of vectorJsonlLines(n, 128, 7)) {
      buf.push(l);
      if (buf.length === 1000) {
        await f.write(enc.encode(buf.join("\n") + "\n"));
        buf = [];
      }
    }
    if (buf.length) await f.write(enc.encode(buf.join("\n") + "\n"));
    f.close();
  }
  // 1. parse floor (best of 3)
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    let c = 0;
    for await (const _ of readJsonlFile(jsonl, { dim: 128 })) c++;
    best = Math.min(best, performance.now() - t);
    if (c !== n) throw new Error(`parsed ${c} of ${n}`);
  }
  rate("JSONL parse floor (readJsonlFile)", n, best);
  const floor = rows[0][1];

  // 2. offline imports
  const size = `${Math.ceil((n * 6000 + (64 << 20)) / (1 << 20))}M`;
  for (const index of ["flat", "hnsw"]) {
    const img = `${work}/off-${index}.img`;
    mkfs(img, { size: parseInt(size) << 20, inodes: n + 4096, force: true });
    const out = JSON.parse(
      await vexfs(["import", img, "/v", "--jsonl", jsonl, "--metric", "l2", "--index", index, "--json"]),
    );
    rate(
      `vexfs import offline, ${index}`,
      n,
      out.elapsed_ms,
      `(${(n / (out.elapsed_ms / 1000) / floor).toFixed(2)}× the parse floor)`,
    );
    Deno.removeSync(img);
  }

  // 3. through a mount
  for (const index of ["flat", "hnsw"]) {
    const img = `${work}/mnt-${index}.img`;
    const mnt = `${work}/mnt-${index}`;
    Deno.mkdirSync(mnt);
    mkfs(img, { size: parseInt(size) << 20, inodes: 2 * n + 4096, force: true });
    await vexfs(["mount", img, mnt]);
    try {
      // vexfs import on the mount: files through FUSE + batch ioctl
      const out = JSON.parse(
        await vexfs(["import", `${mnt}/v`, "--jsonl", jsonl, "--metric", "l2", "--index", index, "--json"]),
      );
      rate(`vexfs import on a mount, ${index}`, n, out.elapsed_ms, "(files and vectors)");
      // the batch ioctl alone, on files that exist
      const dir = `${mnt}/w`;
      Deno.mkdirSync(dir);
      await createCollection(
        dir,
        { dim: 128, metric: "l2", elem: "f32", index } as Parameters<typeof createCollection>[1],
      );
      const r = mulberry32(99);
      const items = [];
      for (let i = 0; i < n; i++) {
        const p = `${dir}/f${i}`;
        Deno.writeFileSync(p, new Uint8Array(0));
        items.push({ ino: Deno.statSync(p).ino!, vector: Float32Array.from({ length: 128 }, () => r() * 2 - 1) });
      }
      const b = await BatchSetter.open(dir);
      const t = performance.now();
      await b.set(items);
      const ms = performance.now() - t;
      const calls = b.calls;
      await b.close();
      rate(`VEXFS_IOC_SET_VECTORS on a mount, ${index}`, n, ms, `(vectors only, ${calls} calls)`);
    } finally {
      await vexfs(["umount", mnt]);
    }
    Deno.removeSync(img);
  }

  // 4. append cost at 1,000 and at 100,000 vectors (engine, flat, in memory)
  {
    const dev = new MemDevice(256 << 20);
    writeFilesystem(dev, computeLayout(dev.size, { blockSize: 4096, inodes: 120_000 }), { uuid: new Uint8Array(16) });
    const fs = Vexfs.openDevice(dev);
    // warm the JIT up on another collection first, so that the first batch measured is not its compile time
    const warm = fs.mkdir(ROOT_INO, "warm");
    fs.collections.create(warm, { dim: 128, metric: "l2", elem: "f32", index: "flat" });
    for (let i = 0; i < 10; i++) {
      fs.collections.setVectors(
        Array.from({ length: 1000 }, (_, j) => ({
          ino: fs.create(warm, `w${i}-${j}`),
          vector: new Float32Array(128).fill(j),
        })),
      );
    }
    const v = fs.mkdir(ROOT_INO, "v");
    fs.collections.create(v, { dim: 128, metric: "l2", elem: "f32", index: "flat" });
    const r = mulberry32(5);
    const vec = () => Float32Array.from({ length: 128 }, () => r() * 2 - 1);
    const inos: number[] = [];
    for (let i = 0; i < 101_000; i++) inos.push(fs.create(v, `f${i}`));
    const timeBatch = (from: number) => {
      const items = inos.slice(from, from + 1000).map((ino) => ({ ino, vector: vec() }));
      const t = performance.now();
      fs.collections.setVectors(items);
      return performance.now() - t;
    };
    timeBatch(0);
    const at1k = timeBatch(1000);
    for (let i = 2000; i < 99_000; i += 1000) {
      fs.collections.setVectors(inos.slice(i, i + 1000).map((ino) => ({ ino, vector: vec() })));
    }
    const at100k = timeBatch(100_000 - 1000);
    rate("append 1,000 vectors at 1,000 (engine, flat)", 1000, at1k);
    rate(
      "append 1,000 vectors at 100,000 (engine, flat)",
      1000,
      at100k,
      `(${(at100k / at1k).toFixed(2)}× the time at 1,000)`,
    );
    fs.close();
  }
} finally {
  Deno.removeSync(work, { recursive: true });
}
console.log(
  [
    "| what | per second | note |",
    "| --- | --: | --- |",
    ...rows.map(([w, r, n]) => `| ${w} | ${Math.round(r).toLocaleString("en-US")} | ${n} |`),
  ]
    .join("\n"),
);
