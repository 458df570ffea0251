/**
 * Tests of the checker: images built with mkfs() and the engine must check
 * clean at 1 KiB and 4 KiB blocks, and every injected corruption must be
 * found with the right problem code. The byte to damage is always located
 * through the engine (inode locations, bmap, extent tree blocks, superblock
 * layout), never guessed.
 */
import assert from "node:assert/strict";
import { mkfs } from "../fs/mkfs.ts";
import { Vexfs } from "../fs/fs.ts";
import { COLL_RECORD_SIZE, COLL_TABLE_INO, INODE_SIZE, S_IFIFO } from "../format/constants.ts";
import { decodeInode, encodeInode } from "../format/inode.ts";
import { fsck, FsckCancelled, type FsckReport } from "./fsck.ts";

const enc = new TextEncoder();
const assertEquals = (a: unknown, b: unknown, msg?: string) => assert.deepStrictEqual(a, b, msg);
const IMAGE_BYTES = 8 << 20;

/** Byte offsets and numbers found through the engine for one base image. */
interface Landmarks {
  bs: number;
  blockCount: number;
  fileIno: number;
  inodeOffset: number;
  dirLeafBlock: number;
  dirIndexBlock: number;
  fileDataBlock: number;
  freeBlock: number;
  blockBitmapStart: number;
  inodeBitmapStart: number;
  freeIno: number;
  extentTreeBlock: number;
  xattrBlock: number;
  collRecordOffset: number;
  slotMapBlock: number;
  vectorByteOffset: number;
}

function build(dir: string, bs: number): { path: string; lm: Landmarks } {
  const path = `${dir}/base-${bs}.img`;
  mkfs(path, { size: IMAGE_BYTES, blockSize: bs, hashSeed: 12345 });
  const fs = Vexfs.open(path);
  const docs = fs.mkdir(2, "docs");
  const sub = fs.mkdir(docs, "sub");
  const a = fs.create(docs, "a.md");
  fs.write(a, 0, new Uint8Array(3000).fill(0x61));
  fs.setxattr(a, "user.tag", enc.encode("hello"));
  fs.link(a, sub, "a-link.md");
  for (let i = 0; i < 20; i++) fs.create(docs, `note-${i}.txt`);
  fs.symlink(docs, "short", "a.md");
  fs.symlink(2, "long", "/docs/" + "x".repeat(300));
  fs.mknod(docs, "pipe", S_IFIFO | 0o644);
  // two files written block by block in turn: each gets > 4 extents, so an extent tree block
  const frag = fs.create(2, "frag");
  const fill = fs.create(2, "fill");
  const blk = new Uint8Array(bs).fill(0x42);
  for (let i = 0; i < 10; i++) {
    fs.write(frag, i * bs, blk);
    fs.write(fill, i * bs, blk);
  }
  const vecs = fs.mkdir(2, "vecs");
  fs.collections.create(vecs, { dim: 8, metric: "l2", elem: "f32" });
  for (let i = 0; i < 6; i++) {
    const f = fs.create(vecs, `v${i}`);
    fs.collections.setVector(
      f,
      Float32Array.from({ length: 8 }, (_, k) => i + k * 0.5),
    );
  }
  fs.unlink(vecs, "v2"); // swap-remove of a vector
  fs.close();

  const ro = Vexfs.open(path, { readOnly: true });
  try {
    const sb = ro.sb;
    const an = ro.iget(a);
    const dn = ro.iget(docs);
    const fn = ro.iget(frag);
    ro.extents(fn);
    const leaf = ro.bmap(dn, 1);
    const magic = new DataView(ro.cache.get(leaf).buffer).getUint32(0, true);
    assertEquals(magic, 0x4c524944, "block 1 of /docs should be a leaf");
    let freeBlock = sb.blockCount - 2;
    while (ro.blockMap.test(freeBlock)) freeBlock--;
    let freeIno = sb.inodeCount;
    while (ro.inodeMap.test(freeIno - 1)) freeIno--;
    const rec = ro.collections.record(1)!;
    const stride = 8 * 4;
    const vecOff = 1 * stride + 5;
    const vn = ro.iget(rec.vecIno);
    assert(
      fn.treeBlocks!.length > 0,
      "the fragmented file must have an extent tree block",
    );
    const lm: Landmarks = {
      bs,
      blockCount: sb.blockCount,
      fileIno: a,
      inodeOffset: sb.inodeTableStart * bs + (a - 1) * INODE_SIZE,
      dirLeafBlock: leaf,
      dirIndexBlock: ro.bmap(dn, 0),
      fileDataBlock: ro.bmap(an, 0),
      freeBlock,
      blockBitmapStart: sb.blockBitmapStart,
      inodeBitmapStart: sb.inodeBitmapStart,
      freeIno,
      extentTreeBlock: fn.treeBlocks![0],
      xattrBlock: an.d.xattrBlock,
      collRecordOffset: ro.bmap(ro.iget(COLL_TABLE_INO), 0) * bs +
        0 * COLL_RECORD_SIZE,
      slotMapBlock: ro.bmap(ro.iget(rec.mapIno), 0),
      vectorByteOffset: ro.bmap(vn, Math.floor(vecOff / bs)) * bs +
        (vecOff % bs),
    };
    return { path, lm };
  } finally {
    ro.close();
  }
}

function flipBit(path: string, offset: number, bit = 0): void {
  const f = Deno.openSync(path, { read: true, write: true });
  try {
    const b = new Uint8Array(1);
    f.seekSync(offset, Deno.SeekMode.Start);
    f.readSync(b);
    b[0] ^= 1 << bit;
    f.seekSync(offset, Deno.SeekMode.Start);
    f.writeSync(b);
  } finally {
    f.close();
  }
}

function show(r: FsckReport): string {
  return r.problems.map((p) => `  ${p.severity} ${p.code} @ ${p.where}: ${p.message}`).join("\n");
}

function codes(r: FsckReport, severity?: string): Set<string> {
  return new Set(
    r.problems.filter((p) => !severity || p.severity === severity).map((p) => p.code),
  );
}

function expectFound(r: FsckReport, code: string, exit = 4): void {
  if (Deno.env.get("FSCK_SHOW")) console.log(`--- ${code}\n${show(r)}`);
  assert(codes(r).has(code), `expected ${code}; got:\n${show(r)}`);
  assertEquals(r.exitCode, exit, `exit code; problems:\n${show(r)}`);
  assert(
    !codes(r).has("CHECKER_FAILED") && !codes(r).has("PHASE_ABORTED"),
    `checker trouble:\n${show(r)}`,
  );
}

for (const bs of [1024, 4096]) {
  Deno.test(`fsck: engine-made image with ${bs}-byte blocks, clean and corrupted`, async (t) => {
    const dir = Deno.makeTempDirSync({ prefix: "vexfs-fsck-" });
    try {
      const { path: base, lm } = build(dir, bs);
      let n = 0;
      const copy = () => {
        const p = `${dir}/c${n++}.img`;
        Deno.copyFileSync(base, p);
        return p;
      };

      await t.step("clean image: no problems, exit 0, sensible stats", () => {
        const phases = new Set<string>();
        const r = fsck(base, { onProgress: (p) => phases.add(p) });
        assertEquals(r.problems, [], show(r));
        assertEquals(r.exitCode, 0);
        assertEquals(r.stats.collections, 1);
        assertEquals(r.stats.vectors, 5);
        assertEquals(r.stats.symlinks, 2);
        assertEquals(r.stats.dirs, 4);
        assertEquals(r.stats.blockCount, lm.blockCount);
        assert(r.stats.files >= 28, `files ${r.stats.files}`);
        for (
          const p of [
            "superblock",
            "inodes",
            "directories",
            "connectivity",
            "collections",
            "link counts",
            "bitmaps",
          ]
        ) {
          assert(phases.has(p), `phase ${p} reported`);
        }
      });

      await t.step(
        "open orphan and unclean unmount: warning and info only, exit 0",
        () => {
          const p = copy();
          const fs = Vexfs.open(p);
          const ino = fs.create(2, "tmp");
          fs.write(ino, 0, new Uint8Array(5000));
          fs.openInode(ino);
          fs.unlink(2, "tmp");
          fs.sync();
          fs.dev.close(); // crash: never released, never cleanly closed
          const r = fsck(p);
          assertEquals(r.exitCode, 0, show(r));
          assertEquals(codes(r, "error").size, 0, show(r));
          // with a journal a crash is not dirt: the log is replayed (in memory, for -n)
          assert(codes(r, "info").has("JOURNAL_RECOVERED"), show(r));
          const orphan = r.problems.find((x) => x.code === "ORPHAN_PENDING");
          assert(
            orphan && orphan.severity === "info" &&
              orphan.where.includes(`inode ${ino}`),
            show(r),
          );
          assertEquals(r.stats.orphans, 1);
        },
      );

      await t.step("primary superblock bit flip: backup used", () => {
        const p = copy();
        flipBit(p, 1024 + 140); // mkfs_time
        const r = fsck(p);
        expectFound(r, "SB_CHECKSUM");
        assert(
          r.problems.some((x) => x.code === "SB_CHECKSUM" && x.where === "primary superblock"),
          show(r),
        );
        assert(codes(r).has("SB_USING_BACKUP"), show(r));
        assertEquals([...codes(r, "error")], ["SB_CHECKSUM"], show(r));
      });

      await t.step("backup superblock bit flip", () => {
        const p = copy();
        flipBit(p, (lm.blockCount - 1) * bs + 140);
        const r = fsck(p);
        expectFound(r, "SB_BACKUP_BAD");
        assertEquals([...codes(r, "error")], ["SB_BACKUP_BAD"], show(r));
      });

      await t.step("inode bit flip", () => {
        const p = copy();
        flipBit(p, lm.inodeOffset + 44, 3); // mtime seconds
        const r = fsck(p);
        expectFound(r, "INODE_CHECKSUM");
        assert(
          r.problems.some((x) => x.code === "INODE_CHECKSUM" && x.where.includes("/docs/a.md")),
          show(r),
        );
      });

      await t.step("directory leaf block bit flip", () => {
        const p = copy();
        flipBit(p, lm.dirLeafBlock * bs + bs - 10);
        expectFound(fsck(p), "DIR_CHECKSUM");
      });

      await t.step("directory index block bit flip", () => {
        const p = copy();
        flipBit(p, lm.dirIndexBlock * bs + bs - 10);
        const r = fsck(p);
        expectFound(r, "DIR_CHECKSUM");
        assert(
          r.problems.some((x) => x.code === "DIR_CHECKSUM" && x.where.includes("block 0")),
          show(r),
        );
      });

      await t.step("block bitmap: a used block marked free", () => {
        const p = copy();
        flipBit(
          p,
          lm.blockBitmapStart * bs + (lm.fileDataBlock >>> 3),
          lm.fileDataBlock & 7,
        );
        const r = fsck(p);
        expectFound(r, "BLOCK_BITMAP_MISSING");
        assert(
          r.problems.some((x) =>
            x.code === "BLOCK_BITMAP_MISSING" &&
            x.message.includes(`inode ${lm.fileIno}`)
          ),
          show(r),
        );
      });

      await t.step("block bitmap: a free block marked used", () => {
        const p = copy();
        flipBit(
          p,
          lm.blockBitmapStart * bs + (lm.freeBlock >>> 3),
          lm.freeBlock & 7,
        );
        const r = fsck(p);
        expectFound(r, "BLOCK_BITMAP_EXTRA");
        assert(
          r.problems.some((x) =>
            x.code === "BLOCK_BITMAP_EXTRA" &&
            x.where.includes(`block ${lm.freeBlock}`)
          ),
          show(r),
        );
      });

      await t.step("inode bitmap: a used inode marked free", () => {
        const p = copy();
        const i = lm.fileIno - 1;
        flipBit(p, lm.inodeBitmapStart * bs + (i >>> 3), i & 7);
        expectFound(fsck(p), "INODE_BITMAP_MISSING");
      });

      await t.step("inode bitmap: a free inode marked used", () => {
        const p = copy();
        const i = lm.freeIno - 1;
        flipBit(p, lm.inodeBitmapStart * bs + (i >>> 3), i & 7);
        expectFound(fsck(p), "INODE_BITMAP_EXTRA");
      });

      await t.step("extent tree block bit flip", () => {
        const p = copy();
        flipBit(p, lm.extentTreeBlock * bs + bs - 10);
        expectFound(fsck(p), "EXTENT_CHECKSUM");
      });

      await t.step("xattr block bit flip", () => {
        const p = copy();
        flipBit(p, lm.xattrBlock * bs + bs - 10);
        expectFound(fsck(p), "XATTR_CHECKSUM");
      });

      await t.step("collection record bit flip", () => {
        const p = copy();
        flipBit(p, lm.collRecordOffset + 100);
        expectFound(fsck(p), "COLL_RECORD_CHECKSUM");
      });

      await t.step("slot-map block bit flip", () => {
        const p = copy();
        flipBit(p, lm.slotMapBlock * bs + bs - 10);
        expectFound(fsck(p), "SLOTMAP_CHECKSUM");
      });

      await t.step("vector data bit flip", () => {
        const p = copy();
        flipBit(p, lm.vectorByteOffset, 6);
        const r = fsck(p);
        expectFound(r, "VECTOR_CHECKSUM");
        assertEquals([...codes(r, "error")], ["VECTOR_CHECKSUM"], show(r));
        assert(
          r.problems.some((x) => x.where === "collection 1 slot 1"),
          show(r),
        );
      });

      await t.step("wrong link count (valid checksum)", () => {
        const p = copy();
        const f = Deno.openSync(p, { read: true, write: true });
        const raw = new Uint8Array(INODE_SIZE);
        f.seekSync(lm.inodeOffset, Deno.SeekMode.Start);
        f.readSync(raw);
        const d = decodeInode(lm.fileIno, raw);
        d.nlink += 3;
        f.seekSync(lm.inodeOffset, Deno.SeekMode.Start);
        f.writeSync(encodeInode(lm.fileIno, d));
        f.close();
        const r = fsck(p);
        expectFound(r, "INODE_NLINK");
        assertEquals([...codes(r, "error")], ["INODE_NLINK"], show(r));
      });

      await t.step("truncated image", () => {
        const p = copy();
        Deno.truncateSync(p, Math.floor(IMAGE_BYTES / 2));
        expectFound(fsck(p), "DEVICE_TRUNCATED");
      });

      await t.step(
        "random bit flips in used blocks never crash the checker",
        () => {
          const p = copy();
          const used: number[] = [];
          const ro = Vexfs.open(base, { readOnly: true });
          for (let b = 0; b < lm.blockCount; b++) {
            if (ro.blockMap.test(b)) used.push(b);
          }
          ro.close();
          let seed = 0x9e3779b9 ^ bs;
          const rnd = (n: number) => {
            seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
            return seed % n;
          };
          const rounds = Number(Deno.env.get("FSCK_FUZZ") ?? 60);
          for (let i = 0; i < rounds; i++) {
            Deno.copyFileSync(base, p);
            const flips: number[] = [];
            for (let k = 0; k < 1 + rnd(3); k++) {
              const off = used[rnd(used.length)] * bs + rnd(bs);
              flips.push(off);
              flipBit(p, off, rnd(8));
            }
            const r = fsck(p);
            const bad = r.problems.filter((x) => x.code === "CHECKER_FAILED" || x.code === "PHASE_ABORTED");
            if (Deno.env.get("FSCK_SHOW") && r.exitCode !== 0) {
              console.log(`--- flips ${flips}\n${show(r)}`);
            }
            assertEquals(bad, [], `flips at ${flips}:\n${show(r)}`);
            assert(
              r.exitCode === 0 || r.exitCode === 4 || r.exitCode === 8,
              `exit ${r.exitCode}`,
            );
          }
        },
      );

      await t.step(
        "image held read-write by the engine: -n checks it without its lock, with a warning; -y and -p refuse it",
        () => {
          const p = copy();
          const fs = Vexfs.open(p);
          try {
            const r = fsck(p, { readOnly: true });
            assertEquals(r.exitCode, 0, show(r));
            assert(codes(r, "warning").has("IN_USE"), show(r));
            // a repair is refused while in use, as e2fsck refuses a mounted filesystem
            for (const opts of [{ yes: true }, { preen: true }, {}]) {
              const y = fsck(p, opts);
              assertEquals(y.exitCode, 8, show(y));
              assertEquals([...codes(y, "error")], ["IN_USE"], show(y));
            }
          } finally {
            fs.close();
          }
          assertEquals(fsck(p).problems, []);
        },
      );

      await t.step("cancellation from onProgress gives exit 32", () => {
        const r = fsck(base, {
          onProgress: (phase) => {
            if (phase === "directories") throw new FsckCancelled();
          },
        });
        assertEquals(r.exitCode, 32);
      });
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  });
}

Deno.test("fsck: a file that is not VexFS, and a missing path, give exit 8", () => {
  const dir = Deno.makeTempDirSync({ prefix: "vexfs-fsck-" });
  try {
    const p = `${dir}/random.img`;
    const data = new Uint8Array(1 << 20);
    for (let i = 0; i < data.length; i += 65536) {
      crypto.getRandomValues(data.subarray(i, i + 65536));
    }
    Deno.writeFileSync(p, data);
    const r = fsck(p);
    assertEquals(r.exitCode, 8, show(r));
    assert(codes(r).has("NOT_VEXFS"), show(r));
    const small = `${dir}/small.img`;
    Deno.writeFileSync(small, new Uint8Array(100));
    assertEquals(fsck(small).exitCode, 8);
    const m = fsck(`${dir}/missing.img`);
    assertEquals(m.exitCode, 8);
    assert(codes(m).has("OPEN_FAILED"), show(m));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
