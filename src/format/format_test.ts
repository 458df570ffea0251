import assert from "node:assert/strict";
import fc from "fast-check";
import { FsError } from "../errors.ts";
import { decodeCollection, decodeSlotBlock, encodeCollection, encodeSlotBlock, slotsPerBlock } from "./collection.ts";
import { crc32c, crc32cSeeded } from "./crc.ts";
import { blockChecksumOk, decodeExtentNode, encodeExtentNode, extentBlockMax } from "./extent.ts";
import { decodeInode, encodeInode, type Inode } from "./inode.ts";
import {
  decodeSuperblock,
  encodeSuperblock,
  type Superblock,
  superblockProblems,
  uuidFromString,
  uuidToString,
} from "./superblock.ts";
import { decodeXattrBlock, encodeXattrBlock } from "./xattr.ts";

const u64 = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const s64 = fc.integer({
  min: Number.MIN_SAFE_INTEGER,
  max: Number.MAX_SAFE_INTEGER,
});
const ts = fc.record({
  sec: s64,
  nsec: fc.integer({ min: 0, max: 999_999_999 }),
});

function flipEachByte(
  raw: Uint8Array,
  check: (b: Uint8Array) => boolean,
  limit: number,
) {
  for (let i = 0; i < limit; i++) {
    const b = raw.slice();
    b[i] ^= 1 << (i % 8);
    assert.equal(check(b), false, `bit flip in byte ${i} not detected`);
  }
}

Deno.test("crc32c: RFC 3720 check value and seeding", () => {
  assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
  const seed = new Uint8Array(8);
  new DataView(seed.buffer).setBigUint64(0, 42n, true);
  const body = new Uint8Array([1, 2, 3]);
  assert.equal(
    crc32cSeeded(42, body),
    crc32c(new Uint8Array([...seed, ...body])),
  );
});

Deno.test("superblock: encode/decode round trip, every bit flip detected", () => {
  const sbArb = fc.record({
    featureCompat: u32,
    featureRoCompat: u32,
    blockCount: u64,
    freeBlocks: u64,
    inodeCount: u64,
    mountCount: u32,
    mkfsTime: s64,
    label: fc.string({ maxLength: 20 }),
    uuid: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    hashSeed: u32,
    orphanHead: u64,
    state: fc.integer({ min: 1, max: 3 }),
  });
  fc.assert(
    fc.property(sbArb, (p) => {
      const sb: Superblock = {
        magic: 0,
        versionMajor: 1,
        versionMinor: 0,
        featureIncompat: 7,
        logBlockSize: 2,
        inodeBitmapBlocks: 1,
        blockBitmapBlocks: 1,
        freeInodes: 5,
        blockBitmapStart: 1,
        inodeBitmapStart: 2,
        inodeTableStart: 3,
        inodeTableBlocks: 4,
        firstDataBlock: 7,
        rootIno: 2,
        collTableIno: 3,
        inodeSize: 256,
        errors: 1,
        maxMountCount: 0,
        mountTime: 1,
        writeTime: 2,
        checkTime: 3,
        firstIno: 16,
        journalIno: 0,
        journalBlocks: 0,
        collCount: 0,
        inodeRatio: 16384,
        checksum: 0,
        ...p,
      };
      const raw = encodeSuperblock(sb);
      const back = decodeSuperblock(raw);
      const { checksum: _c, magic: _m, ...rest } = back;
      const { checksum: _c2, magic: _m2, ...want } = { ...sb };
      assert.deepEqual(rest, want);
      assert.ok(!superblockProblems(raw).some((s) => s.includes("checksum")));
    }),
    { numRuns: 200 },
  );
});

Deno.test("superblock problems are reported in words", () => {
  const raw = new Uint8Array(1024);
  assert.match(superblockProblems(raw)[0], /no VexFS magic/);
  assert.equal(
    uuidToString(uuidFromString("0123f567-89ab-4def-8123-456789abcdef")),
    "0123f567-89ab-4def-8123-456789abcdef",
  );
  assert.throws(() => uuidFromString("nope"), FsError);
});

Deno.test("inode: encode/decode round trip; checksum bound to the inode number; bit flips detected", () => {
  const inodeArb = fc.record({
    mode: fc.integer({ min: 0, max: 0xffff }),
    uid: u32,
    gid: u32,
    nlink: u32,
    size: u64,
    blocks: u64,
    atime: ts,
    mtime: ts,
    ctime: ts,
    crtime: ts,
    flags: u32,
    generation: u32,
    xattrBlock: u64,
    parentIno: u64,
    parentHash: u32,
    collId: u32,
    vecSlot: u64,
    orphanNext: u64,
    rdev: u32,
    data: fc.uint8Array({ minLength: 116, maxLength: 116 }),
  });
  fc.assert(
    fc.property(
      inodeArb,
      fc.integer({ min: 1, max: 2 ** 40 }),
      (n: Inode, ino) => {
        const raw = encodeInode(ino, n);
        assert.deepEqual(decodeInode(ino, raw), {
          ...n,
          atime: { ...n.atime },
          mtime: { ...n.mtime },
          ctime: { ...n.ctime },
          crtime: { ...n.crtime },
        });
        assert.throws(() => decodeInode(ino + 1, raw), /checksum/);
      },
    ),
    { numRuns: 200 },
  );
  const raw = encodeInode(
    5,
    decodeInode(5, encodeInode(5, { ...fc.sample(inodeArb, 1)[0] })),
  );
  flipEachByte(raw, (b) => {
    try {
      decodeInode(5, b);
      return true;
    } catch {
      return false;
    }
  }, 256);
});

Deno.test("extent nodes: leaf and index round trips in the inode root and in blocks", () => {
  const ext = fc.record({
    logical: u64,
    physical: u64,
    length: fc.integer({ min: 1, max: 0x7fffffff }),
    flags: fc.constantFrom(0, 1),
  });
  fc.assert(fc.property(fc.array(ext, { maxLength: 4 }), (extents) => {
    const root = new Uint8Array(116);
    encodeExtentNode({ depth: 0, max: 4, extents }, root, 9);
    assert.deepEqual(decodeExtentNode(root, 9), {
      depth: 0,
      max: 4,
      extents: extents.map((e) => ({ ...e })),
    });
  }));
  const bs = 1024;
  const m = extentBlockMax(bs);
  assert.equal(m, 41);
  fc.assert(
    fc.property(
      fc.array(fc.record({ logical: u64, child: u64 }), {
        minLength: 1,
        maxLength: m,
      }),
      (index) => {
        const b = new Uint8Array(bs);
        encodeExtentNode({ depth: 2, max: m, index }, b, 77, bs);
        assert.ok(blockChecksumOk(b, 77));
        assert.ok(!blockChecksumOk(b, 78));
        assert.deepEqual(decodeExtentNode(b, 77), {
          depth: 2,
          max: m,
          index: index.map((e) => ({ ...e })),
        });
      },
    ),
  );
  const bad = new Uint8Array(116);
  assert.throws(() => decodeExtentNode(bad, 1), /bad magic/);
});

Deno.test("xattr block: round trip, sorted, size limit, corruption detected", () => {
  fc.assert(fc.property(
    fc.dictionary(
      fc.stringMatching(/^[a-z]{1,12}$/),
      fc.uint8Array({ maxLength: 60 }),
      { maxKeys: 8 },
    ),
    (d) => {
      const attrs = new Map(
        Object.entries(d).map(([k, v]) => [`user.${k}`, v]),
      );
      const b = encodeXattrBlock(attrs, 1024, 3);
      const back = decodeXattrBlock(b, 3);
      assert.deepEqual(new Map([...back].sort()), new Map([...attrs].sort()));
    },
  ));
  assert.throws(
    () => encodeXattrBlock(new Map([["user.a", new Uint8Array(1100)]]), 1024, 3),
    /ENOSPC/,
  );
  const b = encodeXattrBlock(
    new Map([["security.selinux", new Uint8Array([1])]]),
    1024,
    3,
  );
  b[20] ^= 1;
  assert.throws(() => decodeXattrBlock(b, 3), /checksum/);
});

Deno.test("collection records and slot-map blocks round trip and detect corruption", () => {
  const rec = {
    id: 3,
    rootIno: 99,
    dim: 384,
    metric: 2,
    elemType: 1,
    count: 778,
    vecIno: 100,
    mapIno: 101,
    hnswIno: 0,
    bm25Ino: 0,
    created: 1700000000,
    generation: 12,
    hnswM: 0,
    hnswEfConstruction: 0,
    hnswEfSearch: 0,
    normIno: 0,
    textGeneration: 0,
    bm25K1: 0,
    bm25B: 0,
    bm25MaxFile: 0,
    bm25Analyzer: 0,
    bm25Stemmer: 0,
    bm25Stopwords: 0,
    bm25Lang: "",
    flags: 1,
  };
  const raw = encodeCollection(rec);
  assert.deepEqual(decodeCollection(3, raw), rec);
  assert.equal(decodeCollection(3, new Uint8Array(256)), null);
  assert.throws(() => decodeCollection(4, raw), /checksum/);
  assert.equal(slotsPerBlock(4096), 255);
  assert.equal(slotsPerBlock(1024), 63);
  const entries = Array.from(
    { length: 63 },
    (_, i) => ({ ino: 1000 + i, vecCrc: (i * 2654435761) >>> 0 }),
  );
  const blk = encodeSlotBlock(entries, 1024, 3);
  assert.deepEqual(decodeSlotBlock(blk, 3, 63), entries);
  blk[100] ^= 4;
  assert.throws(() => decodeSlotBlock(blk, 3, 63), /checksum/);
});
