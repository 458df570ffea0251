/**
 * Tests of the segment codec (./segment.ts, ./segment_decode.ts): encode →
 * decode round trips at 1 KiB and 4 KiB blocks checked against the input
 * documents (every term's postings, the doc table, tombstones), a segment
 * whose regions straddle many blocks, damage in every block located by the
 * decoder, re-sealed structural damage (postings, dictionary order, counts)
 * reported as EUCLEAN, and the encoder's argument checks.
 */
import assert from "node:assert/strict";
import { FsError } from "../errors.ts";
import { countsOf, docOf, randomDocs } from "./_testutil.ts";
import {
  blockOk,
  DICT_RECORD_BYTES,
  DOC_RECORD_BYTES,
  type DocInput,
  recordsPerBlock,
  sealBlock,
  SEGMENT_HEADER_BYTES,
} from "./layout.ts";
import { encodeSegment } from "./segment.ts";
import { decodeSegment, type Segment, termKey } from "./segment_decode.ts";

const COLL = 5, SEED = 0x9e3779b9;

function opts(bs: number, id = 3) {
  return { id, base: true, blockSize: bs, collectionId: COLL, hashSeed: SEED };
}

/** Asserts that `seg` holds exactly `docs` and `tombs`. */
function assertHolds(seg: Segment, docs: DocInput[], tombs: number[]): void {
  const sorted = [...docs].sort((a, b) => a.ino - b.ino);
  assert.deepEqual(seg.docs, sorted.map(({ counts: _c, ...d }) => ({ ...d, uniq: _c.size })));
  assert.deepEqual(seg.tombstones, [...new Set(tombs)].sort((a, b) => a - b));
  const want = new Map<string, [number, number][]>();
  sorted.forEach((d, ord) => {
    for (const [t, tf] of d.counts) {
      let a = want.get(t);
      if (!a) want.set(t, a = []);
      a.push([ord, tf]);
    }
  });
  assert.equal(seg.termCount, want.size);
  for (const [t, pairs] of want) {
    const i = seg.find(termKey(t, SEED));
    assert.ok(i >= 0, `term ${t} not found`);
    assert.equal(seg.termOf(i), t);
    const p = seg.postings(i);
    assert.deepEqual([...p.ords].map((o, k) => [o, p.tfs[k]]), pairs, `postings of ${t}`);
  }
  assert.equal(seg.find(termKey("not-a-term", SEED)), -1);
  seg.verify();
}

function assertEuclean(f: () => unknown, re: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof FsError, String(e));
    assert.equal(e.code, "EUCLEAN");
    assert.match(e.message, re);
    return true;
  });
}

Deno.test("encodeSegment → decodeSegment round trip with 1, 4 and 64 KiB blocks", () => {
  for (const bs of [1024, 4096, 65536]) {
    const docs = randomDocs(bs, 120, 400, 60);
    const tombs = [3, 500, 11, 11, 40];
    const bytes = encodeSegment(docs, tombs, opts(bs));
    assert.equal(bytes.length % bs, 0);
    const seg = decodeSegment(bytes, bs, COLL, SEED, "seg", 3);
    assertHolds(seg, docs, tombs);
    // deterministic: the input order does not matter
    assert.deepEqual(encodeSegment([...docs].reverse(), [...tombs].reverse(), opts(bs)), bytes);
  }
});

Deno.test("decodeSegment: an empty segment and a tombstone-only delta", () => {
  const empty = encodeSegment([], [], opts(1024));
  assert.equal(empty.length, 1024);
  assertHolds(decodeSegment(empty, 1024, COLL, SEED, "seg"), [], []);
  const delta = encodeSegment([docOf(9, new Map(), 1)], [9, 10, 12], { ...opts(1024), base: false });
  assertHolds(decodeSegment(delta, 1024, COLL, SEED, "seg"), [docOf(9, new Map(), 1)], [9, 10, 12]);
});

Deno.test("a big segment: doc table, tombstones, dictionary and both streams straddle many blocks", () => {
  const bs = 1024;
  const docs = randomDocs(7, 900, 6000, 120, 100, 3);
  const tombs = Array.from({ length: 700 }, (_, i) => 5 + i * 7);
  const bytes = encodeSegment(docs, tombs, opts(bs));
  const seg = decodeSegment(bytes, bs, COLL, SEED, "seg");
  const h = seg.header;
  assert.ok(h.tombStart - h.docStart >= 40, "doc table blocks");
  assert.ok(h.dictStart - h.tombStart >= 5, "tombstone blocks");
  assert.ok(h.termsStart - h.dictStart >= 100, "dictionary blocks");
  assert.ok(h.postStart - h.termsStart >= 10, "term-bytes blocks");
  assert.ok(h.blockCount - h.postStart >= 20, "postings blocks");
  assert.equal(seg.docs.length, 900);
  assertHolds(seg, docs, tombs);
});

Deno.test("decodeSegment: a flipped byte in any block is EUCLEAN naming that block", () => {
  const bs = 1024;
  const bytes = encodeSegment(randomDocs(11, 80, 300, 50), [1, 2, 3], opts(bs));
  const n = bytes.length / bs;
  assert.ok(n >= 8);
  for (let b = 0; b < n; b++) {
    for (const at of [0, 517, bs - 5, bs - 1]) {
      const bad = bytes.slice();
      bad[b * bs + at] ^= 0x20;
      assertEuclean(
        () => decodeSegment(bad, bs, COLL, SEED, "BM25 segment 3", 3),
        new RegExp(`segment 3: block ${b}:`),
      );
    }
  }
  // the right bytes under another owner: another segment id, another collection
  assertEuclean(() => decodeSegment(bytes, bs, COLL, SEED, "seg", 4), /block 0: checksum mismatch/);
  assertEuclean(() => decodeSegment(bytes, bs, COLL + 1, SEED, "seg", 3), /block 0: checksum mismatch/);
  // another hash seed: the dictionary hashes do not match
  assertEuclean(() => decodeSegment(bytes, bs, COLL, SEED + 1, "seg", 3), /dictionary block \d+ record 0: hash/);
  // truncated
  assertEuclean(() => decodeSegment(bytes.slice(0, bytes.length - bs), bs, COLL, SEED, "seg", 3), /header says/);
  assertEuclean(() => decodeSegment(bytes.slice(0, 100), bs, COLL, SEED, "seg", 3), /whole number of blocks/);
});

/** Applies `edit` to a block of a copy of `bytes`, re-seals it (damage the CRC cannot see) and decodes. */
function resealed(bytes: Uint8Array, bs: number, block: number, edit: (v: DataView) => void): Segment {
  const bad = bytes.slice();
  const blk = bad.subarray(block * bs, (block + 1) * bs);
  edit(new DataView(blk.buffer, blk.byteOffset, bs));
  sealBlock(blk, COLL, 3);
  assert.ok(blockOk(blk, COLL, 3));
  return decodeSegment(bad, bs, COLL, SEED, "BM25 segment 3", 3);
}

Deno.test("decodeSegment: structural damage under a good CRC is EUCLEAN naming the record", () => {
  const bs = 1024;
  const docs = [
    docOf(10, countsOf("alpha beta beta gamma")),
    docOf(20, countsOf("beta delta")),
    docOf(30, countsOf("gamma gamma gamma epsilon")),
  ];
  const bytes = encodeSegment(docs, [4, 8], opts(bs));
  const seg = decodeSegment(bytes, bs, COLL, SEED, "s", 3);
  const h = seg.header;
  const dictOff = (i: number) => (i % recordsPerBlock(bs, DICT_RECORD_BYTES)) * DICT_RECORD_BYTES;
  const beta = seg.find(termKey("beta", SEED));
  const postBlock = h.postStart;
  const postOff = seg.postOffs[beta];

  // segment header
  assertEuclean(() => resealed(bytes, bs, 0, (v) => v.setUint32(0, 0x12345678, true)), /header: bad magic/);
  assertEuclean(() => resealed(bytes, bs, 0, (v) => v.setUint32(16, 1_000_000, true)), /inside the region before it/);
  assertEuclean(() => resealed(bytes, bs, 0, (v) => v.setUint32(24, 0xffffffff, true)), /inside the region before it/);
  assertEuclean(() => resealed(bytes, bs, 0, (v) => v.setBigUint64(80, 1n << 60n, true)), /post_bytes .* ≥ 2\^53/);
  assertEuclean(() => resealed(bytes, bs, 0, (v) => v.setBigUint64(40, 0n, true)), /tombstones starts at block 0/);
  assertEuclean(() => resealed(bytes, bs, 0, (v) => v.setBigUint64(88, 3n, true)), /live_tokens 3/);
  assertEuclean(() => resealed(bytes, bs, 0, (v) => v.setUint8(SEGMENT_HEADER_BYTES + 3, 1)), /byte 99/);
  // doc table: order, flags
  assertEuclean(
    () => resealed(bytes, bs, h.docStart, (v) => v.setBigUint64(DOC_RECORD_BYTES, 5n, true)),
    /doc table block 1 record 1: ino 5/,
  );
  assertEuclean(
    () => resealed(bytes, bs, h.docStart, (v) => v.setUint32(40, 1, true)),
    /record 0: skipped file with dl 4/,
  );
  // tombstones: order
  assertEuclean(
    () => resealed(bytes, bs, h.tombStart, (v) => v.setBigUint64(8, 4n, true)),
    /tombstone block 2 record 1/,
  );
  // dictionary: length, offsets, df, hash, order
  const at = new RegExp(`dictionary block ${h.dictStart} record ${beta}`);
  assertEuclean(() => resealed(bytes, bs, h.dictStart, (v) => v.setUint16(dictOff(beta) + 4, 65, true)), at);
  assertEuclean(() => resealed(bytes, bs, h.dictStart, (v) => v.setUint32(dictOff(beta) + 24, 4, true)), at);
  assertEuclean(() => resealed(bytes, bs, h.dictStart, (v) => v.setUint32(dictOff(beta) + 28, 1, true)), at);
  assertEuclean(() => resealed(bytes, bs, h.dictStart, (v) => v.setBigUint64(dictOff(beta) + 16, 1n << 40n, true)), at);
  assertEuclean(() => resealed(bytes, bs, h.dictStart, (v) => v.setUint32(dictOff(beta), 7, true)), at);
  assertEuclean(() => resealed(bytes, bs, h.dictStart, (v) => v.setUint16(dictOff(beta) + 6, 1, true)), at);
  // two records swapped: both hashes valid, order broken
  assertEuclean(() =>
    resealed(bytes, bs, h.dictStart, (v) => {
      const a = new Uint8Array(v.buffer, v.byteOffset, bs);
      const r0 = a.slice(0, 32);
      a.copyWithin(0, 32, 64);
      a.set(r0, 32);
    }), /dictionary block \d+ record [01]/);

  // postings: decoded on demand, named by record
  const p = (edit: (v: DataView) => void) => {
    const s = resealed(bytes, bs, postBlock, edit);
    return () => s.postings(s.find(termKey("beta", SEED)));
  };
  const pat = new RegExp(`postings of dictionary record ${beta}`);
  // beta: (0, 2), (1, 1) → bytes 00 02 01 01
  assert.deepEqual(
    bytes.subarray(postBlock * bs + postOff, postBlock * bs + postOff + 4),
    new Uint8Array([0, 2, 1, 1]),
  );
  assertEuclean(p((v) => v.setUint8(postOff + 1, 0)), /pair 0 of 2\): tf 0/);
  assertEuclean(p((v) => v.setUint8(postOff + 1, 9)), /tf 9 > dl 4 of inode 10/);
  assertEuclean(p((v) => v.setUint8(postOff, 7)), /ordinal 7 ≥ doc_count 3/);
  assertEuclean(p((v) => v.setUint8(postOff + 2, 0)), /ordinal delta 0/);
  assertEuclean(p((v) => v.setUint8(postOff + 3, 0x81)), /runs past post_len|varint/);
  assertEuclean(p((v) => v.setUint8(postOff, 0x80)), pat);
  // a valid decode that ends early: (0,2),(1,1) → (0,2),(2,0)... tf 0; make a 2-byte first pair a shorter one instead
  assertEuclean(p((v) => v.setUint32(postOff, 0x01028080, true)), pat);
  // verify: Σ tf ≠ dl (tf lowered from 2 to 1 keeps the postings decodable)
  const s = resealed(bytes, bs, postBlock, (v) => v.setUint8(postOff + 1, 1));
  assertEuclean(() => s.verify(), /inode 10: Σ tf 3 ≠ dl 4/);
});

Deno.test("decodeSegment: long varints are rejected, the 5-byte maximum is accepted", () => {
  const bs = 1024;
  const big = 0xffffffff;
  const doc = docOf(1, new Map([["x", big]]));
  const bytes = encodeSegment([doc], [], opts(bs));
  const seg = decodeSegment(bytes, bs, COLL, SEED, "s");
  assert.deepEqual(seg.postings(0).tfs, new Uint32Array([big]));
  // 00 ff ff ff ff 0f: make the last byte 0x1f (above 2^32 - 1) or 0x8f (a 6th byte)
  const at = seg.header.postStart * bs + 5;
  assert.equal(bytes[at], 0x0f);
  for (const [x, re] of [[0x1f, /above 2\^32/], [0x8f, /above 2\^32/]] as const) {
    const bad = bytes.slice();
    bad[at] = x;
    sealBlock(bad.subarray(seg.header.postStart * bs, (seg.header.postStart + 1) * bs), COLL, 3);
    const s2 = decodeSegment(bad, bs, COLL, SEED, "s");
    assertEuclean(() => s2.postings(0), re);
  }
});

Deno.test("encodeSegment: bad arguments are EINVAL", () => {
  const einval = (f: () => unknown, re: RegExp) =>
    assert.throws(f, (e: unknown) => e instanceof FsError && e.code === "EINVAL" && re.test(e.message));
  const o = opts(1024);
  einval(() => encodeSegment([docOf(1, countsOf("a")), docOf(1, countsOf("b"))], [], o), /distinct/);
  einval(() => encodeSegment([{ ...docOf(1, countsOf("a b")), dl: 3 }], [], o), /dl 3, its counts sum to 2/);
  einval(() => encodeSegment([docOf(1, countsOf("x".repeat(65)))], [], o), /65 bytes/);
  einval(() => encodeSegment([docOf(1, new Map([["", 1]]))], [], o), /0 bytes/);
  einval(() => encodeSegment([docOf(1, countsOf("a"), 1)], [], o), /skipped inode 1 has term counts/);
  einval(() => encodeSegment([docOf(1, new Map([["a", 0]]))], [], o), /tf 0/);
  einval(() => encodeSegment([docOf(0, countsOf("a"))], [], o), /inode 0/);
  einval(() => encodeSegment([], [-1], o), /tombstone ino/);
  einval(() => encodeSegment([], [], { ...o, blockSize: 1000 }), /block size/);
  einval(() => encodeSegment([], [], { ...o, id: 2 ** 32 }), /id/);
});
