/**
 * Tests of the index reader (./reader.ts) and the header slots (./layout.ts):
 * header round trip, slot choice by seq, torn slots (one bad → the other,
 * both bad → null), damage in any block of a whole file located by open,
 * deltas with tombstones and an in-memory overlay checked against a Map
 * model of "newest segment wins", and the checks that keep a wrong file from
 * giving wrong answers (a live inode twice, header counts, segments past the
 * end of the file).
 */
import assert from "node:assert/strict";
import { FsError } from "../errors.ts";
import { buildFile, countsOf, docOf, MemFile, randomDocs, type SegmentSpec } from "./_testutil.ts";
import {
  BM25_MAGIC,
  type Bm25Header,
  decodeHeader,
  type DocEntry,
  type DocInput,
  emptyHeader,
  encodeHeader,
  sealBlock,
} from "./layout.ts";
import { Bm25Index } from "./reader.ts";
import { encodeSegment } from "./segment.ts";
import { termKey } from "./segment_decode.ts";

const COLL = 9, SEED = 12345;

function assertEuclean(f: () => unknown, re: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof FsError, String(e));
    assert.equal(e.code, "EUCLEAN");
    assert.match(e.message, re);
    return true;
  });
}

/** The live documents by the model: later specs replace earlier ones; tombstones hide older docs. */
function model(specs: SegmentSpec[]): Map<number, DocInput> {
  const m = new Map<number, DocInput>();
  for (const s of specs) {
    for (const t of s.tombs) m.delete(t);
    for (const d of s.docs) m.set(d.ino, d);
  }
  return m;
}

/** Asserts the index's live docs, N, Σ dl and per-term live postings equal the model's. */
function assertLive(ix: Bm25Index, want: Map<number, DocInput>): void {
  const strip = ({ counts, ...d }: DocInput): DocEntry => ({ ...d, uniq: counts.size });
  const docs = [...want.values()].sort((a, b) => a.ino - b.ino);
  assert.deepEqual(ix.liveDocs(), docs.map(strip));
  assert.equal(ix.docCount(), docs.filter((d) => d.dl > 0).length);
  assert.equal(ix.totalTokens(), docs.reduce((a, d) => a + d.dl, 0));
  assert.equal(ix.liveCount(), docs.length);
  const st = ix.liveStats();
  assert.deepEqual([st.docCount, st.totalTokens, st.liveDocs], [ix.docCount(), ix.totalTokens(), docs.length]);
  assert.equal(st.skippedBinary, docs.filter((d) => d.flags === 1).length);
  assert.equal(st.skippedLarge, docs.filter((d) => d.flags === 2).length);
  assert.equal(st.emptyDocs, docs.filter((d) => d.flags === 0 && d.dl === 0).length);
  assert.equal(st.termRecords, ix.segments.reduce((a, s) => a + s.termCount, 0));
  for (const d of docs.slice(0, 20)) assert.deepEqual(ix.doc(d.ino), strip(d));
  assert.equal(ix.doc(999_999), undefined);
  // every live (ino, tf) of a few terms, gathered across segments
  const terms = new Set<string>();
  for (const d of docs.slice(0, 10)) for (const t of d.counts.keys()) terms.add(t);
  for (const t of terms) {
    const got: [number, number][] = [];
    ix.segments.forEach((s, si) => {
      const i = s.find(termKey(t, SEED));
      if (i < 0) return;
      const p = s.postings(i);
      p.ords.forEach((o, k) => {
        if (ix.live[si][o]) got.push([s.docs[o].ino, p.tfs[k]]);
      });
    });
    const exp = docs.filter((d) => d.counts.has(t)).map((d) => [d.ino, d.counts.get(t)!]);
    assert.deepEqual(got.sort((a, b) => a[0] - b[0]), exp, `term ${t}`);
  }
}

Deno.test("header slot (1, 4, 64 KiB blocks): encode → decode round trip, and null for another slot, collection or a torn block", () => {
  for (const bs of [1024, 4096, 65536]) {
    const h: Bm25Header = {
      ...emptyHeader(),
      seq: 2 ** 40 + 3,
      textGeneration: 77,
      analyzer: 1,
      stemmer: 1,
      stopwords: 1,
      maxFile: 4 << 20,
      lang: "en",
      signature: "word-v1 icu71.1 u14.0 @orama/stemmers@3.1.18",
      docCount: 778,
      totalTokens: 657426,
      skippedBinary: 2,
      skippedLarge: 1,
      longTokens: 5,
      emptyDocs: 3,
      nextSegmentId: 9,
      buildNs: 812_000_000,
      segments: [{ firstBlock: 2, blockCount: 300, id: 4 }, { firstBlock: 400, blockCount: 3, id: 8 }],
    };
    const b = encodeHeader(h, 1, bs, COLL);
    assert.equal(b.length, bs);
    assert.deepEqual(decodeHeader(b, 1, COLL), h);
    assert.equal(new DataView(b.buffer).getUint32(0, true), BM25_MAGIC);
    assert.equal(decodeHeader(b, 1, COLL + 1), null, "another collection");
    assertEuclean(() => decodeHeader(b, 0, COLL), /slot 0: says it is slot 1/);
    for (const at of [0, 8, 100, 295, 296, bs - 5, bs - 1]) {
      const torn = b.slice();
      torn[at] ^= 1;
      assert.equal(decodeHeader(torn, 1, COLL), null, `byte ${at}`);
    }
    assert.equal(decodeHeader(new Uint8Array(bs), 0, COLL), null);
  }
});

Deno.test("header slot: bad fields under a good CRC are EUCLEAN; bad arguments EINVAL", () => {
  const h: Bm25Header = { ...emptyHeader(), nextSegmentId: 3, segments: [{ firstBlock: 2, blockCount: 4, id: 1 }] };
  const good = encodeHeader(h, 0, 1024, COLL);
  const edit = (f: (v: DataView) => void) => {
    const b = good.slice();
    f(new DataView(b.buffer));
    sealBlock(b, COLL, -1);
    return () => decodeHeader(b, 0, COLL);
  };
  assertEuclean(edit((v) => v.setUint16(4, 2)), /unsupported version/);
  assertEuclean(edit((v) => v.setUint32(152, 0, true)), /segment_count 0/);
  assertEuclean(edit((v) => v.setUint32(152, 9, true)), /segment_count 9/);
  assertEuclean(edit((v) => v.setBigUint64(168, 1n, true)), /starts at file block 1/);
  assertEuclean(edit((v) => v.setUint32(180, 3, true)), /id 3 ≥ next_segment_id 3/);
  assertEuclean(edit((v) => v.setUint8(40, 7)), /signature/);
  assertEuclean(edit((v) => v.setUint8(500, 1)), /byte 500/);
  assertEuclean(edit((v) => v.setBigUint64(104, 1n << 62n, true)), /doc_count/);
  const two = { ...h, segments: [...h.segments, { firstBlock: 5, blockCount: 1, id: 2 }] };
  assert.throws(() => encodeHeader(two, 0, 1024, COLL), /overlap/);
  assert.throws(() => encodeHeader({ ...h, segments: [] }, 0, 1024, COLL), /0 segments/);
  assert.throws(() => encodeHeader({ ...h, lang: "englishxx" }, 0, 1024, COLL), /lang/);
  assert.throws(() => encodeHeader({ ...h, seq: -1 }, 0, 1024, COLL), /seq/);
});

Deno.test("Bm25Index.open: one base segment round trip with 1 KiB and 4 KiB blocks", () => {
  for (const bs of [1024, 4096]) {
    const specs = [{ docs: randomDocs(bs + 1, 150, 500, 80), tombs: [] }];
    const { file, header } = buildFile(specs, { blockSize: bs, collectionId: COLL, hashSeed: SEED, gap: 3 });
    const ix = Bm25Index.open(new MemFile(file, bs), COLL, SEED)!;
    assert.equal(ix.slot, 0);
    assert.deepEqual(ix.header, header);
    assertLive(ix, model(specs));
    assert.deepEqual(ix.segmentInfo().map((s) => [s.id, s.base]), [[1, true]]);
  }
});

Deno.test("Bm25Index.open: the valid slot with the higher seq; a torn slot falls back; both bad → null", () => {
  const bs = 1024;
  const a = buildFile([{ docs: [docOf(5, countsOf("old text"))], tombs: [] }], {
    blockSize: bs,
    collectionId: COLL,
    hashSeed: SEED,
    slot: 0,
    seq: 4,
  });
  // slot 1: a newer header naming a new base after the old one (as a merge writes it)
  const newDocs = [docOf(5, countsOf("new text here"))];
  const seg = encodeSegment(newDocs, [], { id: 2, base: true, blockSize: bs, collectionId: COLL, hashSeed: SEED });
  const at = a.file.length / bs;
  const file = new Uint8Array(a.file.length + seg.length);
  file.set(a.file);
  file.set(seg, a.file.length);
  const h1: Bm25Header = {
    ...a.header,
    seq: 5,
    nextSegmentId: 3,
    docCount: 1,
    totalTokens: 3,
    segments: [{ firstBlock: at, blockCount: seg.length / bs, id: 2 }],
  };
  file.set(encodeHeader(h1, 1, bs, COLL), bs);
  const open = (f: Uint8Array) => Bm25Index.open(new MemFile(f, bs), COLL, SEED);
  assert.equal(open(file)!.slot, 1);
  assert.equal(open(file)!.doc(5)!.dl, 3);
  // tear slot 1 (any byte): slot 0 with the old segment
  for (const b of [0, 9, 200, bs - 1]) {
    const torn = file.slice();
    torn[bs + b] ^= 0x40;
    const ix = open(torn)!;
    assert.equal(ix.slot, 0, `byte ${b}`);
    assert.equal(ix.doc(5)!.dl, 2);
  }
  // tear slot 0: slot 1 still wins
  const t0 = file.slice();
  t0[3] ^= 1;
  assert.equal(open(t0)!.slot, 1);
  // both torn, zero, or a file too short to hold them
  const both = t0.slice();
  both[bs + 3] ^= 1;
  assert.equal(open(both), null);
  assert.equal(open(new Uint8Array(4 * bs)), null);
  assert.equal(open(new Uint8Array(0)), null);
  assertEuclean(() => open(file.slice(0, bs)), /segment 1 .*past the end of the file \(1 blocks\)/);
  // another collection's file: no valid slot
  assert.equal(Bm25Index.open(new MemFile(file, bs), COLL + 1, SEED), null);
});

Deno.test("Bm25Index.open: a flipped byte in any block of the current segments is EUCLEAN naming it", () => {
  const bs = 1024;
  const specs = [
    { docs: randomDocs(3, 60, 200, 40), tombs: [] },
    { docs: randomDocs(4, 10, 200, 40, 12, 2), tombs: [12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 1000] },
  ];
  const { file, header } = buildFile(specs, { blockSize: bs, collectionId: COLL, hashSeed: SEED, gap: 2 });
  const open = (f: Uint8Array) => Bm25Index.open(new MemFile(f, bs), COLL, SEED);
  assertLive(open(file)!, model(specs));
  for (const ref of header.segments) {
    for (let b = ref.firstBlock; b < ref.firstBlock + ref.blockCount; b++) {
      const bad = file.slice();
      bad[b * bs + 100] ^= 0x80;
      assertEuclean(
        () => open(bad),
        new RegExp(
          `segment ${ref.id} \\(file blocks ${ref.firstBlock}\\.\\.${ref.firstBlock + ref.blockCount - 1}, ` +
            `header slot 0\\): block ${b - ref.firstBlock}: checksum`,
        ),
      );
    }
  }
  // the gap blocks are named by no header: damage there is not looked at
  const gap = file.slice();
  gap[2 * bs + 5] = 1;
  assert.ok(open(gap));
  // a segment block moved to another segment's place fails its seed
  const moved = file.slice();
  const [s1, s2] = header.segments;
  moved.set(file.subarray(s1.firstBlock * bs, (s1.firstBlock + 1) * bs), s2.firstBlock * bs);
  assertEuclean(() => open(moved), /segment 2 .*block 0: checksum mismatch/);
  // the file cut short: the last segment lies past its end
  assertEuclean(() => open(file.slice(0, file.length - bs)), /past the end of the file/);
});

Deno.test("Bm25Index: deltas with tombstones and an overlay follow 'newest wins'", () => {
  const bs = 1024;
  const base = randomDocs(21, 200, 300, 50, 1, 1); // inos 1..200
  const d1 = { docs: randomDocs(22, 30, 300, 50, 5, 5), tombs: [] as number[] }; // re-adds 5, 10, ..., 150
  d1.tombs = [...d1.docs.map((d) => d.ino), 3, 4, 777]; // 3, 4 deleted; 777 never existed
  const d2 = {
    docs: [...randomDocs(23, 5, 300, 50, 10, 10), ...randomDocs(24, 3, 300, 50, 500, 1)],
    tombs: [] as number[],
  };
  d2.tombs = [...d2.docs.map((d) => d.ino), 6];
  const specs = [{ docs: base, tombs: [] }, d1, d2];
  const { file } = buildFile(specs, { blockSize: bs, collectionId: COLL, hashSeed: SEED });
  const ix = Bm25Index.open(new MemFile(file, bs), COLL, SEED)!;
  assertLive(ix, model(specs));
  assert.ok(!ix.allLive[0] && !ix.allLive[1] && ix.allLive[2]);

  // overlay: two more in-memory segments; the file's view is unchanged
  const o1 = { docs: [docOf(7, countsOf("overlay words words"))], tombs: [7, 8, 9] };
  const o2 = { docs: [docOf(8, countsOf("back again")), docOf(9000, new Map())], tombs: [8, 9000] };
  const enc = (s: SegmentSpec, id: number) =>
    encodeSegment(s.docs, s.tombs, { id, base: false, blockSize: bs, collectionId: COLL, hashSeed: SEED });
  const ov = ix.withOverlay([enc(o1, 100), enc(o2, 101)]);
  assertLive(ov, model([...specs, o1, o2]));
  assertLive(ix, model(specs));
  assert.equal(ov.header, ix.header);
  assert.equal(ov.segmentInfo().length, 3);
  // an overlay with the same bytes as an in-memory build
  const mem = Bm25Index.fromSegments([...specs, o1, o2].map((s, i) => enc(s, i + 1)), bs, COLL, SEED);
  assert.deepEqual(mem.liveDocs(), ov.liveDocs());
  assert.equal(mem.header.docCount, ov.docCount());
  // an in-memory index keeps its own segments under an overlay
  assert.deepEqual(mem.withOverlay([]).liveDocs(), mem.liveDocs());
});

Deno.test("Bm25Index: a live inode listed twice, or header counts that disagree, are EUCLEAN", () => {
  const bs = 1024;
  const specs = [{ docs: [docOf(5, countsOf("a b"))], tombs: [] }, { docs: [docOf(5, countsOf("c"))], tombs: [] }];
  assertEuclean(
    () => buildFile(specs, { blockSize: bs, collectionId: COLL, hashSeed: SEED }),
    /in-memory segment 1 re-adds inode 5 without a tombstone for it/,
  );
  const { file, header } = buildFile([specs[0]], { blockSize: bs, collectionId: COLL, hashSeed: SEED });
  const ix = Bm25Index.open(new MemFile(file, bs), COLL, SEED)!;
  const seg = encodeSegment(specs[1].docs, [], {
    id: 50,
    base: false,
    blockSize: bs,
    collectionId: COLL,
    hashSeed: SEED,
  });
  assertEuclean(() => ix.withOverlay([seg]), /overlay segment 0 re-adds inode 5/);
  const wrong = file.slice();
  wrong.set(encodeHeader({ ...header, totalTokens: 3 }, 0, bs, COLL), 0);
  assertEuclean(() => Bm25Index.open(new MemFile(wrong, bs), COLL, SEED), /total_tokens 3, the segments hold 1 \/ 2/);
  // a delta as the first segment
  const notBase = file.slice();
  const s = encodeSegment(specs[0].docs, [], { id: 1, base: false, blockSize: bs, collectionId: COLL, hashSeed: SEED });
  notBase.set(s, header.segments[0].firstBlock * bs);
  assertEuclean(() => Bm25Index.open(new MemFile(notBase, bs), COLL, SEED), /first segment is not a base/);
});
