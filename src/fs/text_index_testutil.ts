/**
 * Test helpers of the text indexes: in-memory images, the two-collection
 * setup the engine tests share, and the answer of a BM25 index built from
 * scratch over a collection's files as they are (B's encodeSegment and
 * scoreBm25 over files tokenized here, independently of the engine's
 * tracking), with the assertion that the engine answers the same.
 * @module
 */
import assert from "node:assert/strict";
import { MemDevice } from "../device/mem.ts";
import { ROOT_INO, S_IFMT, S_IFREG } from "../format/constants.ts";
import { crc32c } from "../format/crc.ts";
import { fsck } from "../fsck/fsck.ts";
import { DEFAULT_ANALYZER, makeAnalyzer } from "../text/analyzer.ts";
import { decodeText } from "../text/binary.ts";
import type { DocInput } from "../bm25/layout.ts";
import { encodeSegment } from "../bm25/segment.ts";
import { Bm25Index } from "../bm25/reader.ts";
import { scoreBm25 } from "../bm25/score.ts";
import { Vexfs } from "./fs.ts";
import { computeLayout, writeFilesystem } from "./mkfs.ts";

const ANALYZER = makeAnalyzer(DEFAULT_ANALYZER);

/** Regular files below `dir` whose recorded parent is below it too (the parent_ino rule of the tests' trees). */
export function filesBelow(fs: Vexfs, dir: number): number[] {
  const out = new Set<number>();
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    for (const e of fs.readdir(d)) {
      if (e.type === 2) stack.push(e.ino);
      else if ((fs.iget(e.ino).d.mode & S_IFMT) === S_IFREG) out.add(e.ino);
    }
  }
  const base = fs.pathOf(dir) + "/";
  return [...out].filter((ino) => {
    const p = fs.iget(ino).d.parentIno;
    return p ? fs.isAncestor(dir, p) : fs.pathOf(ino).startsWith(base);
  }).sort((a, b) => a - b);
}

/** The answer of an index built from scratch over the files below collection root `root`, independently of the engine's. */
export function reference(fs: Vexfs, root: number, query: string, k: number): { ino: number; score: number }[] {
  const id = fs.iget(root).d.collId;
  const docs: DocInput[] = [];
  for (const ino of filesBelow(fs, root)) {
    const n = fs.iget(ino);
    const bytes = fs.read(ino, 0, n.d.size);
    const text = decodeText(bytes);
    const t = text === null ? null : ANALYZER.document(text);
    docs.push({
      ino,
      igen: n.d.generation,
      dl: t?.dl ?? 0,
      ctimeSec: n.d.ctime.sec,
      ctimeNsec: n.d.ctime.nsec,
      crc: crc32c(bytes),
      size: n.d.size,
      flags: t ? 0 : 1,
      uniq: t?.counts.size ?? 0,
      counts: t?.counts ?? new Map(),
    });
  }
  const o = { id: 1, base: true, blockSize: fs.blockSize, collectionId: id, hashSeed: fs.sb.hashSeed };
  const ix = Bm25Index.fromSegments([encodeSegment(docs, [], o)], fs.blockSize, id, fs.sb.hashSeed);
  return scoreBm25(ix, ANALYZER.terms(query), { k1: 1.2, b: 0.75 }, { depth: k }).hits.slice(0, k);
}

/** Every query of `queries` (k = 20) answers as the from-scratch index does (same hits, scores within 1e-12). */
export function assertTextExact(fs: Vexfs, root: number, queries: string[], what: string): void {
  for (const q of queries) {
    const got = fs.collections.text.search(root, q, 20, { paths: false }).hits;
    const want = reference(fs, root, q, 20);
    assert.deepEqual(
      got.map((h) => h.ino),
      want.map((h) => h.ino),
      `${what}: hits of '${q}': ${JSON.stringify(got)} vs ${JSON.stringify(want)}`,
    );
    got.forEach((h, i) => {
      assert.ok(Math.abs(h.score - want[i].score) <= 1e-12, `${what}: score of ${h.ino} for '${q}'`);
    });
  }
}

export const enc: TextEncoder = new TextEncoder();
export const QUERIES: string[] = [
  "alpha",
  "beta gamma",
  "delta delta",
  "omega",
  "alpha beta gamma delta",
  "zeta eta theta",
];

/** Every query of {@link QUERIES} answers as a from-scratch index does. */
export function assertExact(fs: Vexfs, root: number, what: string): void {
  assertTextExact(fs, root, QUERIES, what);
}

export function image(): MemDevice {
  const dev = new MemDevice(32 << 20);
  writeFilesystem(dev, computeLayout(dev.size, { blockSize: 4096, inodes: 8192 }), {
    uuid: crypto.getRandomValues(new Uint8Array(16)),
  });
  return dev;
}

export function open(bytes: Uint8Array, readOnly = false): Vexfs {
  return Vexfs.openDevice(new MemDevice(bytes, { readOnly }));
}

export function fsckClean(bytes: Uint8Array): void {
  const r = fsck(new MemDevice(bytes.slice(), { readOnly: true }), { readOnly: true });
  const bad = r.problems.filter((p) => p.severity !== "info");
  assert.deepEqual(bad, [], `fsck: ${bad.map((p) => `${p.code} at ${p.where}: ${p.message}`).join("; ")}`);
}

export function put(fs: Vexfs, dir: number, name: string, text: string): number {
  const ino = fs.find(dir, name) || fs.create(dir, name);
  fs.truncate(ino, 0);
  fs.write(ino, 0, enc.encode(text));
  return ino;
}

/** Makes checkpoints write deltas until the file is full (the real rule merges small indexes at once). */
export function deltasUntilFull(fs: Vexfs): void {
  fs.collections.text.plan = (h) => h.segments.length + 1 >= 8 ? { kind: "merge", reason: "full" } : { kind: "delta" };
}

/** Two collections a, b with a few files; `a` has a text index. */
export function setup(): { dev: MemDevice; fs: Vexfs; a: number; b: number } {
  const dev = image();
  const fs = open(dev.bytes);
  const a = fs.mkdir(ROOT_INO, "a");
  const b = fs.mkdir(ROOT_INO, "b");
  fs.collections.create(a, { dim: 4, metric: "l2", elem: "f32" });
  fs.collections.create(b, { dim: 4, metric: "l2", elem: "f32" });
  put(fs, a, "one.txt", "alpha beta gamma");
  put(fs, a, "two.txt", "alpha alpha delta delta delta omega");
  const sub = fs.mkdir(a, "sub");
  put(fs, sub, "three.md", "beta gamma zeta eta theta alpha");
  fs.write(fs.create(a, "bin"), 0, new Uint8Array([0, 1, 2, 97, 108, 112, 104, 97]));
  put(fs, b, "four.txt", "omega alpha");
  fs.collections.text.build(a);
  return { dev, fs, a, b };
}
