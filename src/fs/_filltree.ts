/**
 * A filled filesystem for the resize tests (src/fs/resize_test.ts,
 * commands/resize_test.ts): files of many sizes, xattrs (one file's in an
 * xattr store), a symlink, a hard link and an HNSW collection, and the
 * answers of searches through its graph.
 * @module
 */
import assert from "node:assert/strict";
import { rng } from "../test_random.ts";
import type { Vexfs } from "./fs.ts";

const enc = new TextEncoder();
/** Dimension of the test collection's vectors. */
export const DIM = 8;

/** Files of many sizes, xattrs (one file's in an xattr store), a symlink, a hard link, and an HNSW collection. */
export function fillTree(fs: Vexfs, seed: number, files = 120, vectors = 300): void {
  const r = rng(seed);
  const plain = fs.mkdir(2, "plain");
  for (let i = 0; i < files; i++) {
    const data = new Uint8Array(Math.floor(r() * (i % 10 === 0 ? 300_000 : 9000)));
    for (let k = 0; k < data.length; k += 97) data[k] = (i * 31 + k) & 0xff;
    const ino = fs.create(plain, `f${i}.bin`);
    fs.write(ino, 0, data);
    if (i % 7 === 0) fs.setxattr(ino, "user.tag", enc.encode(`tag ${i}`));
  }
  const big = fs.create(plain, "many-xattrs");
  for (let i = 0; i < 30; i++) fs.setxattr(big, `user.attr${i}`, new Uint8Array(900).fill(i)); // past one block: a store
  fs.symlink(plain, "link", "f1.bin");
  fs.link(fs.lookup(plain, "f2.bin"), 2, "hard");
  const docs = fs.mkdir(2, "docs");
  fs.collections.create(docs, { dim: DIM, metric: "cosine", elem: "f32", m: 8, efConstruction: 64 });
  const sub = fs.mkdir(docs, "sub");
  for (let i = 0; i < vectors; i++) {
    const ino = fs.create(i % 3 ? docs : sub, `d${i}.txt`);
    fs.write(ino, 0, enc.encode(`document ${i}\n`));
    fs.collections.setVector(ino, Float32Array.from({ length: DIM }, () => r() * 2 - 1));
  }
}

/** The answers of 12 searches of /docs through its HNSW graph. */
export function searches(fs: Vexfs): unknown[] {
  fs.collections.exactScanElements = 0; // use the graph, not an exact scan of a small collection
  const r = rng(99);
  const docs = fs.resolve("/docs");
  const out: unknown[] = [];
  for (let q = 0; q < 12; q++) {
    const v = Float32Array.from({ length: DIM }, () => r() * 2 - 1);
    const { hits, method } = fs.collections.searchEx(docs, v, 10);
    assert.equal(method.method, "hnsw", `search ${q} went through the graph (${method.reason ?? ""})`);
    out.push(hits.map((h) => [h.ino, h.score, h.path]));
  }
  return out;
}
