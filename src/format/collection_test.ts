/**
 * The BM25 fields of the collection record (FORMAT.md §8.1): round trip at
 * their byte offsets, records written before them decode with zeros, and
 * the record rules fsck and the engine apply (bm25RecordProblems).
 */
import { assert, assertEquals, assertFsError } from "../test_assert.ts";
import {
  bm25RecordProblems,
  COLL_INDEX_BM25,
  COLL_INDEX_HNSW,
  type CollectionRecord,
  collectionReservedZero,
  decodeCollection,
  encodeCollection,
} from "./collection.ts";
import { COLL_RECORD_SIZE } from "./constants.ts";
import { crc32cSeeded } from "./crc.ts";

const base: CollectionRecord = {
  id: 5,
  flags: 1,
  rootIno: 40,
  dim: 16,
  metric: 2,
  elemType: 1,
  count: 3,
  vecIno: 41,
  mapIno: 42,
  hnswIno: 0,
  bm25Ino: 0,
  created: 1700000000,
  generation: 9,
  hnswM: 0,
  hnswEfConstruction: 0,
  hnswEfSearch: 0,
  normIno: 43,
  textGeneration: 0,
  bm25K1: 0,
  bm25B: 0,
  bm25MaxFile: 0,
  bm25Analyzer: 0,
  bm25Stemmer: 0,
  bm25Stopwords: 0,
  bm25Lang: "",
};

const withBm25: CollectionRecord = {
  ...base,
  flags: 1 | COLL_INDEX_HNSW | COLL_INDEX_BM25,
  hnswIno: 44,
  hnswM: 16,
  hnswEfConstruction: 200,
  bm25Ino: 45,
  textGeneration: 2 ** 53 - 1,
  bm25K1: 1.2,
  bm25B: 0.75,
  bm25MaxFile: 4 << 20,
  bm25Analyzer: 1,
  bm25Stemmer: 1,
  bm25Stopwords: 1,
  bm25Lang: "en",
};

/** `raw` with its checksum set again for record `id`. */
function reseal(raw: Uint8Array, id: number): Uint8Array {
  new DataView(raw.buffer, raw.byteOffset).setUint32(252, crc32cSeeded(id, raw.subarray(0, 252)), true);
  return raw;
}

Deno.test("collection record: the BM25 fields round trip at their FORMAT.md §8.1 offsets", () => {
  const raw = encodeCollection(withBm25);
  assertEquals(decodeCollection(5, raw), withBm25);
  const dv = new DataView(raw.buffer);
  assertEquals(dv.getUint32(4, true), 7);
  assertEquals(dv.getBigUint64(56, true), 45n);
  assertEquals(dv.getBigUint64(96, true), 2n ** 53n - 1n);
  assertEquals(dv.getFloat64(104, true), 1.2);
  assertEquals(dv.getFloat64(112, true), 0.75);
  assertEquals(dv.getUint32(120, true), 4 << 20);
  assertEquals([...raw.subarray(124, 136)], [1, 1, 1, 0, 0x65, 0x6e, 0, 0, 0, 0, 0, 0]);
  assert(raw.subarray(136, 252).every((x) => x === 0), "bytes 136..251 stay reserved");
  assertEquals(bm25RecordProblems(raw), []);
  assert(collectionReservedZero(raw));
  // an 8-letter code fills the field with no NUL
  const long = encodeCollection({ ...withBm25, bm25Lang: "abcdefgh" });
  assertEquals(decodeCollection(5, long)!.bm25Lang, "abcdefgh");
  assertEquals(bm25RecordProblems(long), []);
  assertFsError(() => encodeCollection({ ...withBm25, bm25Lang: "abcdefghi" }), "EINVAL", /language code/);
});

Deno.test("collection record: a record written before the BM25 fields decodes with them zero", () => {
  // bytes 96..251 of an old record are zero: encode one field by field as the old encoder did
  const raw = new Uint8Array(COLL_RECORD_SIZE);
  const dv = new DataView(raw.buffer);
  dv.setUint32(0, 0x4c4c4f43, true);
  dv.setUint32(4, 3, true);
  dv.setBigUint64(8, 40n, true);
  dv.setUint32(16, 16, true);
  raw[20] = 2;
  raw[21] = 1;
  dv.setBigUint64(24, 3n, true);
  dv.setBigUint64(32, 41n, true);
  dv.setBigUint64(40, 42n, true);
  dv.setBigUint64(48, 44n, true);
  dv.setBigInt64(64, 1700000000n, true);
  dv.setBigUint64(72, 9n, true);
  dv.setUint16(80, 16, true);
  dv.setUint16(82, 200, true);
  dv.setBigUint64(88, 43n, true);
  reseal(raw, 5);
  const rec = decodeCollection(5, raw)!;
  assertEquals(rec, { ...base, flags: 3, hnswIno: 44, hnswM: 16, hnswEfConstruction: 200 });
  assertEquals(encodeCollection(rec), raw);
  assertEquals(bm25RecordProblems(raw), []);
});

Deno.test("collection record: bm25RecordProblems finds each out-of-range BM25 field", () => {
  const cases: [string, (raw: Uint8Array, dv: DataView) => void, RegExp][] = [
    ["k1 0", (_r, dv) => dv.setFloat64(104, 0, true), /k1 0 is out of range/],
    ["k1 > 10", (_r, dv) => dv.setFloat64(104, 10.5, true), /k1 10.5/],
    ["k1 NaN", (_r, dv) => dv.setFloat64(104, NaN, true), /k1 NaN/],
    ["b < 0", (_r, dv) => dv.setFloat64(112, -0.1, true), /b -0.1 is out of range/],
    ["b > 1", (_r, dv) => dv.setFloat64(112, 1.5, true), /b 1.5/],
    ["max_file small", (_r, dv) => dv.setUint32(120, 1023, true), /max_file 1023/],
    ["max_file large", (_r, dv) => dv.setUint32(120, 2 ** 30 + 1, true), /max_file 1073741825/],
    ["analyzer", (r) => r[124] = 2, /analyzer 2 is unknown/],
    ["stemmer", (r) => r[125] = 2, /stemmer 2/],
    ["stopwords", (r) => r[126] = 3, /stopwords 3/],
    ["byte 127", (r) => r[127] = 1, /reserved byte 127/],
    ["lang upper case", (r) => r[128] = 0x45, /lang is not ASCII lowercase/],
    ["lang after NUL", (r) => r[131] = 0x61, /lang is not ASCII lowercase/],
    ["stemmer without lang", (r) => r.fill(0, 128, 136), /without a lang/],
    ["text_generation 2^53", (_r, dv) => dv.setBigUint64(96, 2n ** 53n, true), /not below 2\^53/],
  ];
  for (const [name, damage, want] of cases) {
    const raw = encodeCollection(withBm25);
    damage(raw, new DataView(raw.buffer));
    const p = bm25RecordProblems(raw);
    assertEquals(p.length, 1, `${name}: ${p.join("; ")}`);
    assert(want.test(p[0]), `${name}: ${p[0]}`);
  }
  // stemming off and no stop words: no language needed; k1 10 and b 0 and 1 are in range
  for (const r of [{ bm25Stemmer: 0, bm25Stopwords: 0, bm25Lang: "" }, { bm25K1: 10, bm25B: 0 }, { bm25B: 1 }]) {
    assertEquals(bm25RecordProblems(encodeCollection({ ...withBm25, ...r })), [], JSON.stringify(r));
  }
  // without COLL_INDEX_BM25 every BM25 field must be zero
  for (const r of [{ bm25Ino: 45 }, { textGeneration: 1 }, { bm25K1: 1.2 }, { bm25Lang: "en" }, { bm25Stopwords: 1 }]) {
    const p = bm25RecordProblems(encodeCollection({ ...base, ...r }));
    assertEquals(p, ["BM25 fields are set but the collection has no BM25 index"], JSON.stringify(r));
  }
  const raw = encodeCollection(base);
  raw[200] = 1;
  assert(!collectionReservedZero(raw));
});
