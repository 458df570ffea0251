/**
 * Test helpers of the text indexes: the answer of a BM25 index built from
 * scratch over a collection's files as they are (B's encodeSegment and
 * scoreBm25 over files tokenized here, independently of the engine's
 * tracking), and the assertion that the engine answers the same.
 * @module
 */
import assert from "node:assert/strict";
import { S_IFMT, S_IFREG } from "../format/constants.ts";
import { crc32c } from "../format/crc.ts";
import { DEFAULT_ANALYZER, makeAnalyzer } from "../text/analyzer.ts";
import { decodeText } from "../text/binary.ts";
import type { DocInput } from "../bm25/layout.ts";
import { encodeSegment } from "../bm25/segment.ts";
import { Bm25Index } from "../bm25/reader.ts";
import { scoreBm25 } from "../bm25/score.ts";
import type { Vexfs } from "./fs.ts";

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
