/**
 * Issue 12 §3: "After random sequences of writes, renames, unlinks and
 * moves (through the mount, with remounts), every query answers exactly as
 * an index rebuilt from scratch does." A seeded random run through a real
 * FUSE mount of an image with two text-indexed collections `a` and `b`:
 * writes, overwrites, appends, truncates, binary files, renames within and
 * between collections (onto existing names too), moves of directories
 * between collections, unlinks, hard links and mkdirs, made with Deno's
 * file API on the mount. Every {@link CHECK_EVERY} steps the queries are
 * asked through the hybrid ioctl on the live mount, the image is unmounted
 * (withMount: fsck clean), and both the mount's answers (f32 scores) and
 * the offline engine's are compared with a from-scratch index
 * (`reference`); then it is mounted again.
 */
import assert from "node:assert/strict";
import { ROOT_INO } from "../format/constants.ts";
import { hybridSearch } from "../ioctl/client_hybrid.ts";
import { mountTest, withMount } from "../mount/_testutil.ts";
import { rng } from "../test_random.ts";
import { tmpImage } from "./_testutil.ts";
import { Vexfs } from "./fs.ts";
import { assertTextExact, reference } from "./text_index_testutil.ts";

const WORDS = ["deploy", "cloud", "foundry", "app", "zebra", "report", "list", "fiori", "launch", "alpha", "beta"];
const QUERIES = ["deploy", "cloud foundry", "deploy the app", "zebra zebra", "report list fiori", "alpha beta launch"];
const K = 20;
const CHECK_EVERY = 10;

type Answers = Map<string, { ino: number; score: number }[]>;

/** Every file and directory below the mount (paths relative to it), collection roots included. */
function walk(mnt: string): { files: string[]; dirs: string[] } {
  const files: string[] = [];
  const dirs: string[] = [];
  const stack = ["a", "b"];
  while (stack.length) {
    const d = stack.pop()!;
    dirs.push(d);
    for (const e of Deno.readDirSync(`${mnt}/${d}`)) {
      if (e.isDirectory) stack.push(`${d}/${e.name}`);
      else files.push(`${d}/${e.name}`);
    }
  }
  return { files: files.sort(), dirs: dirs.sort() };
}

/** One random change through the mount; returns what it did (for failure messages). */
function step(mnt: string, r: () => number, n: number): string {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)];
  const text = () => Array.from({ length: Math.floor(r() * 16) }, () => pick(WORDS)).join(" ");
  const { files, dirs } = walk(mnt);
  const x = r();
  const newName = (dir: string) => `${dir}/f${n}.${pick(["md", "txt"])}`;
  if (files.length < 4 || x < 0.2) {
    const p = newName(pick(dirs));
    if (r() < 0.1) Deno.writeFileSync(`${mnt}/${p}`, new Uint8Array([0, 1, 2, 100, 101, 112]));
    else Deno.writeTextFileSync(`${mnt}/${p}`, text());
    return `create ${p}`;
  }
  const f = pick(files);
  if (x < 0.3) {
    Deno.writeTextFileSync(`${mnt}/${f}`, text());
    return `overwrite ${f}`;
  }
  if (x < 0.4) {
    Deno.writeTextFileSync(`${mnt}/${f}`, " " + text(), { append: true });
    return `append ${f}`;
  }
  if (x < 0.48) {
    const len = Math.floor(r() * (Deno.statSync(`${mnt}/${f}`).size + 4));
    Deno.truncateSync(`${mnt}/${f}`, len);
    return `truncate ${f} ${len}`;
  }
  if (x < 0.62) {
    const to = r() < 0.3 ? pick(files) : newName(pick(dirs));
    if (to === f) return "nothing";
    try {
      Deno.renameSync(`${mnt}/${f}`, `${mnt}/${to}`);
    } catch (e) {
      // a hard-linked file may not leave its collection
      if (!(e instanceof Error && "code" in e && e.code === "EXDEV")) throw e;
      return `rename ${f} ${to}: EXDEV`;
    }
    return `rename ${f} ${to}`;
  }
  if (x < 0.72) {
    Deno.removeSync(`${mnt}/${f}`);
    return `unlink ${f}`;
  }
  if (x < 0.78) {
    const to = newName(pick(dirs.filter((d) => d[0] === f[0])));
    Deno.linkSync(`${mnt}/${f}`, `${mnt}/${to}`);
    return `link ${f} ${to}`;
  }
  if (x < 0.85 || dirs.length < 4) {
    const d = `${pick(dirs)}/d${n}`;
    Deno.mkdirSync(`${mnt}/${d}`);
    return `mkdir ${d}`;
  }
  const d = pick(dirs.filter((d) => d.includes("/")));
  const into = pick(dirs.filter((t) => t !== d && !t.startsWith(d + "/")));
  const to = `${into}/m${n}`;
  if (r() < 0.15) {
    Deno.removeSync(`${mnt}/${d}`, { recursive: true });
    return `rm -r ${d}`;
  }
  try {
    Deno.renameSync(`${mnt}/${d}`, `${mnt}/${to}`);
  } catch (e) {
    if (!(e instanceof Error && "code" in e && e.code === "EXDEV")) throw e;
    return `rename ${d} ${to}: EXDEV`;
  }
  return `rename ${d} ${to}`;
}

/** The text-only answers of the live mount for every query in both collections. */
async function askMount(mnt: string): Promise<Answers> {
  const out: Answers = new Map();
  for (const c of ["a", "b"]) {
    for (const q of QUERIES) {
      const rep = await hybridSearch(`${mnt}/${c}`, { k: K, text: q });
      out.set(`${c}\0${q}`, rep.hits.map((h) => ({ ino: h.ino, score: h.text!.score })));
    }
  }
  return out;
}

/** The engine's index on the unmounted image is fresh and exact, and so were the mount's answers. */
function check(img: string, got: Answers, what: string): void {
  const fs = Vexfs.open(img, { readOnly: true });
  try {
    for (const c of ["a", "b"]) {
      const root = fs.lookup(ROOT_INO, c);
      assert.equal(fs.collections.text.stats(root).fresh, true, `${what}: the index of ${c} is fresh`);
      assertTextExact(fs, root, QUERIES, `${what} (${c})`);
      for (const q of QUERIES) {
        const want = reference(fs, root, q, K);
        const hits = got.get(`${c}\0${q}`)!;
        const msg = `${what}: mount's hits of '${q}' in ${c}: ${JSON.stringify(hits)} vs ${JSON.stringify(want)}`;
        assert.deepEqual(hits.map((h) => h.ino), want.map((h) => h.ino), msg);
        hits.forEach((h, i) => assert.ok(Math.abs(h.score - want[i].score) <= 1e-6 * Math.max(1, want[i].score), msg));
      }
    }
  } finally {
    fs.close();
  }
}

async function run(seed: number, steps: number): Promise<void> {
  const img = tmpImage(64 << 20);
  try {
    const fs = Vexfs.open(img);
    for (const name of ["a", "b"]) {
      const root = fs.mkdir(ROOT_INO, name);
      fs.collections.create(root, { dim: 4, metric: "l2", elem: "f32" });
      fs.collections.text.build(root);
    }
    fs.close();
    const r = rng(seed);
    const log: string[] = [];
    for (let n = 0; n < steps; n += CHECK_EVERY) {
      const got = await withMount({ image: img }, async (mnt) => {
        for (let i = n; i < Math.min(steps, n + CHECK_EVERY); i++) log.push(`${i}: ${step(mnt, r, i)}`);
        return await askMount(mnt);
      });
      check(img, got, `seed ${seed}, after step ${log.length - 1} (${log.slice(-CHECK_EVERY).join("; ")})`);
    }
  } finally {
    Deno.removeSync(img);
  }
}

Deno.test({
  name: "text index: random changes through the mount, across remounts, answer as a rebuilt index (seed 1201)",
  ...mountTest,
  fn: () => run(1201, 100),
});

Deno.test({
  name: "text index: random changes through the mount, across remounts, answer as a rebuilt index (seed 77)",
  ...mountTest,
  fn: () => run(77, 60),
});
