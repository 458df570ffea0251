/**
 * Tests of merging (./merge.ts, design §1.4): the live documents recovered
 * from a base, deltas with tombstones and an overlay equal the model's; the
 * merged base is byte-identical to a from-scratch build of the same documents
 * (so it scores the same); a file whose postings disagree with its doc table
 * is EUCLEAN; the checkpoint rule (segment count, 25 % postings, 25 %
 * tombstones).
 */
import assert from "node:assert/strict";
import { FsError } from "../errors.ts";
import { buildFile, countsOf, docOf, MemFile, randomDocs, type SegmentSpec } from "./_testutil.ts";
import { type Bm25Header, type DocInput, emptyHeader, sealBlock } from "./layout.ts";
import { liveDocInputs, mergeSegments, planCheckpoint } from "./merge.ts";
import { Bm25Index, type SegmentInfo } from "./reader.ts";
import { scoreBm25 } from "./score.ts";
import { encodeSegment } from "./segment.ts";

const COLL = 2, SEED = 0xdeadbeef;

function model(specs: SegmentSpec[]): DocInput[] {
  const m = new Map<number, DocInput>();
  for (const s of specs) {
    for (const t of s.tombs) m.delete(t);
    for (const d of s.docs) m.set(d.ino, d);
  }
  return [...m.values()].sort((a, b) => a.ino - b.ino);
}

Deno.test("liveDocInputs and mergeSegments: a merged base equals a from-scratch build byte for byte, and scores the same", () => {
  for (const bs of [1024, 4096]) {
    const base = randomDocs(31, 200, 600, 50, 1, 1);
    const d1 = { docs: randomDocs(32, 30, 600, 50, 3, 5), tombs: [] as number[] };
    d1.tombs = [...d1.docs.map((d) => d.ino), 2, 4, 6, 8];
    const d2 = { docs: randomDocs(33, 25, 700, 50, 150, 3), tombs: [] as number[] }; // re-adds and new inos past 300
    d2.tombs = [...d2.docs.map((d) => d.ino), 10, 17];
    const specs = [{ docs: base, tombs: [] }, d1, d2];
    const { file } = buildFile(specs, { blockSize: bs, collectionId: COLL, hashSeed: SEED });
    const disk = Bm25Index.open(new MemFile(file, bs), COLL, SEED)!;
    const ov = { docs: [docOf(5, countsOf("overlay text text")), docOf(9999, new Map(), 2)], tombs: [5, 9999, 11] };
    const o = { blockSize: bs, collectionId: COLL, hashSeed: SEED };
    const ix = disk.withOverlay([encodeSegment(ov.docs, ov.tombs, { ...o, id: 77, base: false })]);
    const want = model([...specs, ov]);

    const got = liveDocInputs(ix);
    assert.deepEqual(got, want.map((d) => ({ ...d, uniq: d.counts.size })));
    const merged = encodeSegment(got, [], { ...o, id: 5, base: true });
    const scratch = encodeSegment(want, [], { ...o, id: 5, base: true });
    assert.deepEqual(merged, scratch);
    // the direct merge writes the same bytes
    assert.deepEqual(mergeSegments(ix, { ...o, id: 5 }), scratch);
    assert.deepEqual(
      mergeSegments(disk, { ...o, id: 5 }),
      encodeSegment(model(specs), [], { ...o, id: 5, base: true }),
    );

    const m = Bm25Index.fromSegments([merged], bs, COLL, SEED);
    assert.equal(m.docCount(), ix.docCount());
    assert.equal(m.totalTokens(), ix.totalTokens());
    for (const q of [["w1"], ["w2", "w3", "w2"], ["overlay", "w0"], ["ü5é", "東京7"]]) {
      assert.deepEqual(scoreBm25(m, q, { k1: 1.2, b: 0.75 }), scoreBm25(ix, q, { k1: 1.2, b: 0.75 }), q.join(" "));
    }
    // merging the merged index changes nothing
    assert.deepEqual(encodeSegment(liveDocInputs(m), [], { ...o, id: 5, base: true }), merged);
  }
});

Deno.test("liveDocInputs and mergeSegments: postings that disagree with the doc table are EUCLEAN", () => {
  const bs = 1024;
  const bytes = encodeSegment([docOf(3, countsOf("a b b")), docOf(4, countsOf("b c"))], [], {
    id: 1,
    base: true,
    blockSize: bs,
    collectionId: COLL,
    hashSeed: SEED,
  });
  const ix0 = Bm25Index.fromSegments([bytes], bs, COLL, SEED);
  const seg = ix0.segments[0];
  // lower tf of (inode 3, "b") from 2 to 1: still decodable, Σ tf 2 ≠ dl 3
  const bad = bytes.slice();
  const h = seg.header;
  let idx = -1;
  for (let i = 0; i < seg.termCount; i++) if (seg.termOf(i) === "b") idx = i;
  const at = h.postStart * bs + seg.postOffs[idx] + 1;
  assert.equal(bad[at], 2);
  bad[at] = 1;
  sealBlock(bad.subarray(h.postStart * bs, (h.postStart + 1) * bs), COLL, 1);
  const ix = Bm25Index.fromSegments([bad], bs, COLL, SEED);
  assert.throws(
    () => liveDocInputs(ix),
    (e: unknown) =>
      e instanceof FsError && e.code === "EUCLEAN" && /inode 3: postings give Σ tf 2 over 2 terms/.test(e.message),
  );
});

Deno.test("planCheckpoint: delta until 8 segments, 25 % of the base's postings or 25 % of its documents", () => {
  const info = (id: number, base: boolean, postBytes: number, docCount: number, tombCount: number): SegmentInfo => ({
    id,
    base,
    blockCount: 1,
    docCount,
    tombCount,
    termCount: 0,
    postBytes,
  });
  const header = (n: number): Bm25Header => ({
    ...emptyHeader(),
    nextSegmentId: n + 1,
    segments: Array.from({ length: n }, (_, i) => ({ firstBlock: 2 + i, blockCount: 1, id: i })),
  });
  const segs = (n: number, post = 10, tombs = 1) =>
    Array.from({ length: n }, (_, i) => i === 0 ? info(0, true, 1000, 100, 0) : info(i, false, post, 5, tombs));
  assert.deepEqual(planCheckpoint(header(1), segs(1), { postBytes: 250, tombCount: 25 }), { kind: "delta" });
  assert.equal(planCheckpoint(header(1), segs(1), { postBytes: 251, tombCount: 0 }).kind, "merge");
  assert.equal(planCheckpoint(header(1), segs(1), { postBytes: 0, tombCount: 26 }).kind, "merge");
  assert.equal(planCheckpoint(header(3), segs(3), { postBytes: 230, tombCount: 0 }).kind, "delta");
  assert.match(
    (planCheckpoint(header(3), segs(3), { postBytes: 231, tombCount: 0 }) as { reason: string }).reason,
    /251 postings bytes/,
  );
  assert.match(
    (planCheckpoint(header(3), segs(3, 0, 10), { postBytes: 0, tombCount: 6 }) as { reason: string }).reason,
    /26 tombstones/,
  );
  assert.deepEqual(planCheckpoint(header(6), segs(6, 1, 0), { postBytes: 1, tombCount: 0 }), { kind: "delta" });
  assert.match(
    (planCheckpoint(header(7), segs(7, 1, 0), { postBytes: 1, tombCount: 0 }) as { reason: string }).reason,
    /8 segments/,
  );
  // an empty base: any delta with postings or tombstones merges
  const empty = [info(0, true, 0, 0, 0)];
  assert.equal(planCheckpoint(header(1), empty, { postBytes: 2, tombCount: 0 }).kind, "merge");
  assert.equal(planCheckpoint(header(1), empty, { postBytes: 0, tombCount: 0 }).kind, "delta");
  const einval = (f: () => unknown) => assert.throws(f, (e: unknown) => e instanceof FsError && e.code === "EINVAL");
  einval(() => planCheckpoint(header(2), segs(1), { postBytes: 0, tombCount: 0 }));
  einval(() =>
    planCheckpoint(header(2), [info(0, false, 1, 1, 0), info(1, false, 1, 1, 0)], { postBytes: 0, tombCount: 0 })
  );
  einval(() => planCheckpoint(header(1), [info(9, true, 1, 1, 0)], { postBytes: 0, tombCount: 0 }));
});
