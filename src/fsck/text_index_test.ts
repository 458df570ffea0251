/**
 * fsck of the BM25 keyword index (./text_index.ts, FORMAT.md §8.7) on real
 * images in memory, built by the engine: a clean index and a stale one (a
 * power cut between a commit and the index write) are not errors; damaged
 * ones (a segment byte flipped, both header slots flipped, the file
 * truncated, doc records rewritten through the codec with valid CRCs but
 * wrong fields or a missing document, `bm25_ino` naming a user file) are
 * found by `fsck -n` with the right code, repaired by `-y` (or `-p`), and
 * the next run is clean; the engine then answers as a from-scratch index.
 * A file overwritten in place before a power cut under a fresh header is
 * info after an unclean shutdown, and the repair makes the index stale so
 * the engine catches it up.
 */
import assert from "node:assert/strict";
import { MemDevice } from "../device/mem.ts";
import { COLL_RECORD_SIZE, COLL_TABLE_INO, ROOT_INO } from "../format/constants.ts";
import { encodeCollection } from "../format/collection.ts";
import { encodeHeader, sealBlock } from "../bm25/layout.ts";
import { Bm25Index } from "../bm25/reader.ts";
import { liveDocInputs } from "../bm25/merge.ts";
import { encodeSegment } from "../bm25/segment.ts";
import { Vexfs } from "../fs/fs.ts";
import { computeLayout, writeFilesystem } from "../fs/mkfs.ts";
import { fileSource, readSlots } from "../fs/text_index_file.ts";
import { rng } from "../test_random.ts";
import { assertTextExact } from "../fs/text_index_testutil.ts";
import { fsck, type FsckReport } from "./fsck.ts";

const enc = new TextEncoder();
const BS = 4096;
const QUERIES = ["alpha", "beta gamma", "delta delta", "omega", "zeta eta theta"];

function open(bytes: Uint8Array, readOnly = false): Vexfs {
  return Vexfs.openDevice(new MemDevice(bytes, { readOnly }));
}

function put(fs: Vexfs, dir: number, name: string, text: string): number {
  const ino = fs.find(dir, name) || fs.create(dir, name);
  fs.truncate(ino, 0);
  fs.write(ino, 0, enc.encode(text));
  return ino;
}

/** A small image with collection `a` (a few text files, a binary one, a subdirectory) and its built text index. */
function setup(): { bytes: Uint8Array; a: number; id: number; outside: number } {
  const dev = new MemDevice(8 << 20);
  writeFilesystem(dev, computeLayout(dev.size, { blockSize: BS, inodes: 1024 }), {
    uuid: crypto.getRandomValues(new Uint8Array(16)),
  });
  const fs = open(dev.bytes);
  const a = fs.mkdir(ROOT_INO, "a");
  const id = fs.collections.create(a, { dim: 4, metric: "l2", elem: "f32" }).id;
  put(fs, a, "one.txt", "alpha beta gamma");
  put(fs, a, "two.txt", "alpha alpha delta delta delta omega");
  const sub = fs.mkdir(a, "sub");
  put(fs, sub, "three.md", "beta gamma zeta eta theta alpha");
  fs.write(fs.create(a, "bin"), 0, new Uint8Array([0, 1, 2, 97, 108, 112, 104, 97]));
  const outside = put(fs, ROOT_INO, "outside.txt", "alpha outside");
  fs.collections.text.build(a);
  fs.close();
  return { bytes: dev.bytes, a, id, outside };
}

/** `severity CODE` of every problem but the journal replay. */
function codes(r: FsckReport): string[] {
  return r.problems.filter((p) => p.code !== "JOURNAL_RECOVERED").map((p) => `${p.severity} ${p.code}`);
}

function text(r: FsckReport): string {
  return r.problems.map((p) => `${p.severity} ${p.code} at ${p.where}: ${p.message}`).join("\n");
}

/** `fsck -n` on a copy. */
function check(bytes: Uint8Array): FsckReport {
  return fsck(new MemDevice(bytes.slice(), { readOnly: true }), { readOnly: true });
}

/** The index file's inode and the device block of each of its file blocks. */
function indexFile(bytes: Uint8Array, id: number): { ino: number; phys: (fileBlock: number) => number } {
  const fs = open(bytes.slice(), true);
  try {
    const ino = fs.collections.record(id)!.bm25Ino;
    const n = fs.iget(ino);
    const blocks = Math.ceil(n.d.size / BS);
    const map = Array.from({ length: blocks }, (_, i) => fs.bmap(n, i));
    return { ino, phys: (b) => map[b] };
  } finally {
    fs.close();
  }
}

/** Writes whole blocks `data` at file block `fileBlock` of the index file, straight into the image. */
function writeBlocks(bytes: Uint8Array, id: number, fileBlock: number, data: Uint8Array): void {
  const { phys } = indexFile(bytes, id);
  for (let i = 0; i < data.length / BS; i++) bytes.set(data.subarray(i * BS, (i + 1) * BS), phys(fileBlock + i) * BS);
}

/** After a repair: a read-write open answers as a from-scratch index (rebuilding it), and the image checks clean. */
function engineExact(bytes: Uint8Array, a: number, what: string): void {
  const fs = open(bytes);
  try {
    assertTextExact(fs, a, QUERIES, what);
  } finally {
    fs.close();
  }
  const r = check(bytes);
  assert.deepEqual(codes(r), [], `${what}: after the engine's rebuild\n${text(r)}`);
}

/** -n finds `code` (the only error), the repair (-y or -p) fixes it, the next -n is clean, the engine is exact. */
function damaged(
  what: string,
  bytes: Uint8Array,
  a: number,
  code: string,
  detail: RegExp,
  o: { preen?: boolean; also?: string[] } = {},
): void {
  const n = check(bytes);
  const errors = n.problems.filter((p) => p.severity !== "info");
  assert.deepEqual(errors.map((p) => p.code).sort(), [code, ...(o.also ?? [])].sort(), `${what}:\n${text(n)}`);
  const p = n.problems.find((p) => p.code === code)!;
  assert.match(p.message, detail, what);
  assert.equal(n.exitCode, 4, what);
  const y = fsck(new MemDevice(bytes), o.preen ? { preen: true } : { yes: true });
  assert.equal(y.exitCode, 1, `${what}: repair\n${text(y)}`);
  assert.ok(y.problems.some((q) => q.code === code && q.fixed), `${what}: fixed`);
  const again = check(bytes);
  assert.deepEqual(codes(again), [], `${what}: after the repair\n${text(again)}`);
  assert.equal(again.exitCode, 0);
  engineExact(bytes, a, what);
}

Deno.test("fsck BM25: a built index checks clean, its file is claimed, and every case below starts from it", () => {
  const { bytes, a, id } = setup();
  const r = check(bytes);
  assert.deepEqual(codes(r), [], text(r));
  assert.equal(r.exitCode, 0);
  assert.ok(indexFile(bytes, id).ino > 0);
  // deltas too: a change, checkpointed
  const fs = open(bytes);
  put(fs, a, "one.txt", "omega omega");
  fs.unlink(a, "two.txt");
  fs.close();
  const r2 = check(bytes);
  assert.deepEqual(codes(r2), [], text(r2));
});

Deno.test("fsck BM25: a stale index (a power cut between a commit and the index write) is info, not an error", () => {
  const { bytes, a } = setup();
  const fs = open(bytes);
  (fs.collections.text as unknown as { checkpoint: () => void }).checkpoint = () => {}; // the index write never happens
  put(fs, a, "one.txt", "omega omega omega");
  put(fs, a, "new.txt", "delta alpha");
  fs.sync();
  const crashed = bytes.slice(); // the power cut: fs is never closed
  const r = check(crashed);
  assert.ok(r.problems.some((p) => p.code === "BM25_STALE" && /matches text generation/.test(p.message)), text(r));
  assert.deepEqual(r.problems.filter((p) => p.code.startsWith("BM25") && p.severity !== "info"), []);
  const y = fsck(new MemDevice(crashed), { yes: true });
  assert.ok(!y.problems.some((p) => p.code.startsWith("BM25") && p.fixed), text(y));
  const again = check(crashed);
  assert.deepEqual(codes(again).filter((c) => !c.startsWith("info")), [], text(again));
  engineExact(crashed, a, "stale, caught up by the engine");
});

Deno.test("fsck BM25: a flipped segment byte is BM25_DAMAGED; the repair drops the file (-p too)", () => {
  const { bytes, a, id } = setup();
  const { phys } = indexFile(bytes, id);
  const b = bytes.slice();
  b[phys(2) * BS + 40] ^= 0x01; // the segment header block of the base
  damaged("segment header", b, a, "BM25_DAMAGED", /checksum mismatch/);
  const c = bytes.slice();
  c[phys(3) * BS + 7] ^= 0x80; // the doc table
  damaged("doc table, preen", c, a, "BM25_DAMAGED", /checksum mismatch/, { preen: true });
});

Deno.test("fsck BM25: both header slots flipped is BM25_HEADER", () => {
  const { bytes, a, id } = setup();
  const fs = open(bytes);
  put(fs, a, "one.txt", "omega"); // a delta: both slots written
  fs.close();
  const { phys } = indexFile(bytes, id);
  bytes[phys(0) * BS + 20] ^= 0xff;
  bytes[phys(1) * BS + 20] ^= 0xff;
  damaged("both slots", bytes, a, "BM25_HEADER", /neither slot has a valid magic and CRC/);
});

Deno.test("fsck BM25: an index file truncated below its segments is BM25_DAMAGED", () => {
  const { bytes, a, id } = setup();
  const fs = open(bytes);
  const ino = fs.collections.record(id)!.bm25Ino;
  fs.op(() => fs.truncate(ino, 3 * BS));
  fs.close();
  damaged("truncated", bytes, a, "BM25_DAMAGED", /past the end of the file/);
});

Deno.test("fsck BM25: doc records with valid CRCs that disagree with the files are BM25_DOCS", () => {
  const { bytes, a, id, outside } = setup();
  const fs = open(bytes.slice(), true);
  const hashSeed = fs.sb.hashSeed;
  const ix = Bm25Index.open(fileSource(fs, fs.collections.record(id)!.bm25Ino), id, hashSeed)!;
  fs.close();
  const h = ix.header;
  assert.equal(h.segments.length, 1);
  const seg = h.segments[0];
  const o = { id: seg.id, base: true, blockSize: BS, collectionId: id, hashSeed };
  const cases: [string, (docs: ReturnType<typeof liveDocInputs>) => typeof docs, RegExp][] = [
    ["content CRC", (docs) => (docs[0].crc = (docs[0].crc ^ 1) >>> 0, docs), /content CRC/],
    ["size", (docs) => (docs[1].size += 1, docs), /bytes, its document says/],
    ["generation", (docs) => (docs[0].igen += 1, docs), /generation/],
    ["a file without a document", (docs) => docs.filter((d) => d.dl > 0).slice(1), /without a document/],
    ["a document of a file outside", (docs) => {
      const x = { ...docs[0], ino: outside, counts: new Map(docs[0].counts) };
      return [x, ...docs.slice(1)].sort((p, q) => p.ino - q.ino);
    }, /not a file of the collection/],
  ];
  for (const [what, edit, detail] of cases) {
    const b = bytes.slice();
    const docs = edit(liveDocInputs(ix));
    const data = encodeSegment(docs, [], o);
    assert.ok(data.length <= seg.blockCount * BS, what);
    const re = Bm25Index.fromSegments([data], BS, id, hashSeed);
    const st = re.liveStats();
    const hdr = { ...h, ...st, segments: [{ ...seg, blockCount: data.length / BS }] };
    writeBlocks(b, id, seg.firstBlock, data);
    writeBlocks(b, id, ix.slot, encodeHeader(hdr, ix.slot as 0 | 1, BS, id));
    damaged(what, b, a, "BM25_DOCS", detail);
  }
});

Deno.test("fsck BM25: bm25_ino naming a user file is found; the repair forgets it and frees the unused index", () => {
  const { bytes, a, id } = setup();
  const fs = open(bytes);
  const user = fs.lookup(ROOT_INO, "outside.txt");
  fs.op(() => {
    const rec = { ...fs.collections.record(id)!, bm25Ino: user };
    fs.write(COLL_TABLE_INO, (id - 1) * COLL_RECORD_SIZE, encodeCollection(rec));
  });
  fs.close();
  damaged("user file", bytes, a, "COLL_RECORD_FIELDS", /BM25 index inode \d+ is not usable/, {
    also: ["INTERNAL_UNCLAIMED"],
  });
  const ro = open(bytes, true);
  assert.equal(new TextDecoder().decode(ro.read(ro.lookup(ROOT_INO, "outside.txt"), 0, 100)), "alpha outside");
  ro.close();
});

Deno.test("fsck BM25: a file overwritten in place before a power cut is info; the repair makes the index stale", () => {
  const { bytes, a } = setup();
  const fs = open(bytes);
  fs.write(fs.lookup(a, "one.txt"), 0, enc.encode("omega zeta theta")); // same length: blocks and size unchanged
  const crashed = bytes.slice(); // the power cut: the data is on disk, the bump of text_generation is not
  fs.close();
  const r = check(crashed);
  assert.ok(r.problems.some((p) => p.code === "BM25_UNVERIFIED" && /content CRC/.test(p.message)), text(r));
  assert.deepEqual(r.problems.filter((p) => p.code.startsWith("BM25") && p.severity !== "info"), []);
  const y = fsck(new MemDevice(crashed), { yes: true });
  assert.ok(y.problems.some((p) => p.code === "BM25_UNVERIFIED" && p.fixed), text(y));
  const again = check(crashed);
  assert.ok(again.problems.some((p) => p.code === "BM25_STALE"), text(again));
  assert.deepEqual(codes(again).filter((c) => !c.startsWith("info")), [], text(again));
  engineExact(crashed, a, "verified by the engine after the repair");
});

Deno.test("fsck BM25: written blocks of the index file that neither header slot names are info (garbage)", () => {
  const { bytes, id } = setup();
  const fs = open(bytes);
  const ino = fs.collections.record(id)!.bm25Ino;
  fs.op(() => fs.write(ino, fs.iget(ino).d.size, new Uint8Array(2 * BS).fill(7))); // as a crash before the punch
  fs.close();
  const r = check(bytes);
  assert.deepEqual(codes(r), ["info BM25_GARBAGE"], text(r));
  assert.match(r.problems[0].message, /^2 block\(s\)/);
  assert.equal(r.exitCode, 0);
});

Deno.test("fsck BM25: random bytes of the index file changed and re-sealed: found or harmless, never a checker failure", () => {
  const { bytes, a, id } = setup();
  const fs = open(bytes);
  put(fs, a, "one.txt", "omega omega"); // a delta too: two segments, both slots written
  fs.close();
  const ro = open(bytes.slice(), true);
  const ino = ro.collections.record(id)!.bm25Ino;
  const blocks = Math.ceil(ro.iget(ino).d.size / BS);
  const map = Array.from({ length: blocks }, (_, i) => ro.bmap(ro.iget(ino), i));
  const slots = readSlots(fileSource(ro, ino), id);
  ro.close();
  // the segment each file block belongs to (-1: a header slot; undefined: garbage)
  const owner = new Map<number, number>([[0, -1], [1, -1]]);
  for (const h of slots.headers) {
    for (const s of h?.segments ?? []) for (let b = 0; b < s.blockCount; b++) owner.set(s.firstBlock + b, s.id);
  }
  const next = rng(0xb25f5c);
  const seen = new Set<string>();
  for (let round = 0; round < 24; round++) {
    const b = bytes.slice();
    const fb = Math.floor(next() * blocks);
    const at = map[fb] * BS;
    const block = b.subarray(at, at + BS);
    const off = Math.floor(next() * 160) + (next() < 0.5 ? 0 : Math.floor(next() * (BS - 164)));
    block[off] ^= 1 << Math.floor(next() * 8);
    if (owner.has(fb)) sealBlock(block, id, owner.get(fb)!);
    const what = `round ${round}: file block ${fb} byte ${off}`;
    const n = check(b);
    assert.ok([0, 4].includes(n.exitCode), `${what}\n${text(n)}`);
    assert.ok(!n.problems.some((p) => /CHECKER_FAILED|PHASE_ABORTED/.test(p.code)), `${what}\n${text(n)}`);
    for (const p of n.problems) seen.add(p.code);
    fsck(new MemDevice(b), { yes: true });
    const again = check(b);
    assert.deepEqual(
      codes(again).filter((c) => !c.startsWith("info")),
      [],
      `${what}: after the repair\n${text(again)}`,
    );
  }
  assert.ok(seen.has("BM25_DAMAGED"), [...seen].join(", "));
});

Deno.test("fsck BM25: damage under a stale header is a warning (the engine would rebuild it anyway), still dropped", () => {
  const { bytes, a, id } = setup();
  const { phys } = indexFile(bytes, id);
  const fs = open(bytes);
  (fs.collections.text as unknown as { checkpoint: () => void }).checkpoint = () => {}; // the index write never happens
  put(fs, a, "one.txt", "omega omega omega");
  fs.sync();
  const crashed = bytes.slice(); // the power cut: the header names the text generation before this change
  fs.close();
  crashed[phys(3) * BS + 7] ^= 0x80;
  const r = check(crashed);
  const p = r.problems.find((p) => p.code === "BM25_DAMAGED");
  assert.equal(p?.severity, "warning", text(r));
  assert.ok(!r.problems.some((p) => p.severity === "error"), text(r));
  fsck(new MemDevice(crashed), { yes: true });
  const again = check(crashed);
  assert.deepEqual(codes(again), [], text(again));
  engineExact(crashed, a, "stale and damaged, rebuilt");
});
