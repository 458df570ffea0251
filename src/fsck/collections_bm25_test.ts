/**
 * fsck's rules for the BM25 fields of a collection record (FORMAT.md §8.1):
 * a valid record with COLL_INDEX_BM25 (and its internal index file) checks
 * clean, each out-of-range field is COLL_RECORD_FIELDS and the repair drops
 * only the text index (the HNSW index stays), fields set without the flag
 * are found, and a BM25 collection needs the superblock's ro_compat BM25.
 * The records are written through the engine's transactions on real images.
 */
import { assert, assertEquals } from "../test_assert.ts";
import { tmpImage } from "../fs/_testutil.ts";
import { Vexfs } from "../fs/fs.ts";
import { fsck, type FsckReport } from "./fsck.ts";
import { crc32cSeeded } from "../format/crc.ts";
import {
  COLL_INDEX_BM25,
  COLL_INDEX_HNSW,
  type CollectionRecord,
  decodeCollection,
  encodeCollection,
} from "../format/collection.ts";
import {
  COLL_RECORD_SIZE,
  COLL_TABLE_INO,
  IFL_INTERNAL,
  RO_COMPAT_BM25,
  ROOT_INO,
  S_IFREG,
} from "../format/constants.ts";

function problems(r: FsckReport): string[] {
  return r.problems.filter((p) => p.code !== "JOURNAL_RECOVERED").map((p) => `${p.severity} ${p.code}: ${p.message}`);
}

/** An image with one HNSW collection of two vectors; returns its path and the collection id. */
function baseImage(): { img: string; id: number } {
  const img = tmpImage(16 << 20);
  const fs = Vexfs.open(img);
  try {
    const dir = fs.mkdir(ROOT_INO, "docs");
    const id = fs.collections.create(dir, { dim: 4, metric: "cosine", elem: "f32" }).id;
    for (let i = 0; i < 2; i++) {
      const f = fs.create(dir, `d${i}.txt`);
      fs.write(f, 0, new TextEncoder().encode(`text ${i}`));
      fs.collections.setVector(f, Float32Array.of(1, i, 0, 1));
    }
    return { img, id };
  } finally {
    fs.close();
  }
}

/**
 * Rewrites record `id` as `edit` makes it, in one engine transaction; with
 * `index` also an internal index file for `bm25Ino`; `roCompat` (default true) sets ro_compat BM25; `damage`
 * changes the encoded bytes.
 */
function setRecord(
  img: string,
  id: number,
  edit: (rec: CollectionRecord) => void,
  o: { index?: boolean; roCompat?: boolean; damage?: (raw: Uint8Array) => void } = {},
): void {
  const fs = Vexfs.open(img);
  try {
    fs.op(() => {
      const rec = { ...fs.collections.record(id)! };
      if (o.index) rec.bm25Ino = fs.ialloc(S_IFREG | 0o600, 0, 0, 0, 0, IFL_INTERNAL).ino;
      edit(rec);
      const raw = encodeCollection(rec);
      if (o.damage) {
        o.damage(raw);
        new DataView(raw.buffer).setUint32(252, crc32cSeeded(id, raw.subarray(0, 252)), true);
      }
      fs.write(COLL_TABLE_INO, (id - 1) * COLL_RECORD_SIZE, raw);
      if (o.roCompat ?? true) fs.sb.featureRoCompat |= RO_COMPAT_BM25;
    });
  } finally {
    fs.close(); // the backup superblock gets the new ro_compat features
  }
}

const valid = (rec: CollectionRecord) => {
  rec.flags |= COLL_INDEX_BM25;
  rec.textGeneration = 3;
  rec.bm25K1 = 1.2;
  rec.bm25B = 0.75;
  rec.bm25MaxFile = 4 << 20;
  rec.bm25Analyzer = 1;
  rec.bm25Stemmer = 1;
  rec.bm25Stopwords = 0;
  rec.bm25Lang = "en";
};

Deno.test("fsck: a collection record with a valid BM25 index checks clean and the engine opens it read-write", () => {
  const { img, id } = baseImage();
  try {
    setRecord(img, id, valid, { index: true });
    assertEquals(problems(fsck(img)), []);
    const fs = Vexfs.open(img);
    try {
      const rec = fs.collections.record(id)!;
      assertEquals(rec.flags, 1 | COLL_INDEX_HNSW | COLL_INDEX_BM25);
      assertEquals([rec.textGeneration, rec.bm25K1, rec.bm25B, rec.bm25MaxFile], [3, 1.2, 0.75, 4 << 20]);
      assertEquals([rec.bm25Analyzer, rec.bm25Stemmer, rec.bm25Stopwords, rec.bm25Lang], [1, 1, 0, "en"]);
      assert(rec.bm25Ino > 0, "the index inode is kept");
      assert(fs.sb.featureRoCompat & RO_COMPAT_BM25, "ro_compat BM25 is known and kept");
    } finally {
      fs.close();
    }
    assertEquals(problems(fsck(img)), []);
  } finally {
    Deno.removeSync(img);
  }
});

Deno.test("fsck: an out-of-range BM25 field is found and the repair drops only the text index", () => {
  const { img, id } = baseImage();
  const copy = `${img}.case`;
  const cases: [string, (rec: CollectionRecord) => void, RegExp, ((r: Uint8Array) => void)?][] = [
    ["k1", (rec) => (valid(rec), rec.bm25K1 = 11), /BM25 k1 11 is out of range/],
    ["b", (rec) => (valid(rec), rec.bm25B = -1), /BM25 b -1 is out of range/],
    ["max_file", (rec) => (valid(rec), rec.bm25MaxFile = 100), /BM25 max_file 100 is out of range/],
    ["analyzer", (rec) => (valid(rec), rec.bm25Analyzer = 9), /BM25 analyzer 9 is unknown/],
    ["stop words", (rec) => (valid(rec), rec.bm25Stopwords = 2), /BM25 stopwords 2/],
    ["lang", (rec) => (valid(rec), rec.bm25Lang = "EN"), /BM25 lang is not ASCII lowercase/],
    ["no lang", (rec) => (valid(rec), rec.bm25Lang = ""), /without a lang/],
    ["byte 127", valid, /reserved byte 127/, (r) => r[127] = 1],
    ["reserved tail", () => {}, /reserved bytes 136..251 are not zero/, (r) => r[200] = 1],
    ["without the flag", (rec) => rec.bm25K1 = 1.2, /BM25 fields are set but the collection has no BM25 index/],
  ];
  try {
    for (const [name, edit, want, damage] of cases) {
      Deno.copyFileSync(img, copy);
      setRecord(copy, id, edit, { index: true, damage });
      const found = problems(fsck(copy));
      assertEquals(found.length, 1, `${name}: ${found.join("\n")}`);
      assert(found[0].startsWith("error COLL_RECORD_FIELDS") && want.test(found[0]), `${name}: ${found[0]}`);
      const fixed = fsck(copy, { yes: true });
      assert(fixed.fixed >= 1, `${name}: ${problems(fixed).join("\n")}`);
      assertEquals(problems(fsck(copy)), [], `${name}: clean after the repair`);
      const fs = Vexfs.open(copy, { readOnly: true });
      try {
        const rec = fs.collections.record(id)!;
        assertEquals(rec.flags, 1 | COLL_INDEX_HNSW, `${name}: the HNSW index stays`);
        assertEquals([rec.bm25Ino, rec.textGeneration, rec.bm25K1, rec.bm25Lang], [0, 0, 0, ""], name);
        assertEquals(fs.collections.search(fs.collections.get(id).rootIno, Float32Array.of(1, 0, 0, 1), 2).length, 2);
      } finally {
        fs.close();
      }
    }
  } finally {
    Deno.removeSync(img);
    try {
      Deno.removeSync(copy);
    } catch { /* a case failed before the copy */ }
  }
});

Deno.test("fsck: a BM25 collection on a superblock without ro_compat BM25 gets the flag", () => {
  const { img, id } = baseImage();
  try {
    setRecord(img, id, valid, { roCompat: false });
    const found = problems(fsck(img));
    assertEquals(found.length, 1, found.join("\n"));
    assert(/error SB_FEATURES: .*ro_compat BM25 flag is clear/.test(found[0]), found[0]);
    assertEquals(fsck(img, { yes: true }).fixed, 1);
    assertEquals(problems(fsck(img)), []);
    const fs = Vexfs.open(img, { readOnly: true });
    try {
      assert(fs.sb.featureRoCompat & RO_COMPAT_BM25);
      const raw = fs.read(COLL_TABLE_INO, (id - 1) * COLL_RECORD_SIZE, COLL_RECORD_SIZE);
      assertEquals(decodeCollection(id, raw)!.bm25Lang, "en");
    } finally {
      fs.close();
    }
  } finally {
    Deno.removeSync(img);
  }
});
