/**
 * Decodes the golden images in testdata/ field by field with the format
 * codecs alone (no engine), so any change to docs/FORMAT.md or to the
 * encoders that is not made on purpose fails here. Regenerate with
 * `deno run -A testdata/make_golden.ts` only when the format changes, and
 * update the expected values below together with the kernel module.
 */
import assert from "node:assert/strict";
import { decodeCollection, decodeSlotBlock } from "./collection.ts";
import { crc32c } from "./crc.ts";
import { decodeExtentNode, type Extent } from "./extent.ts";
import { decodeInode } from "./inode.ts";
import { decodeSuperblock, superblockProblems, uuidToString } from "./superblock.ts";
import { decodeXattrBlock } from "./xattr.ts";
import { dirHash } from "./hash.ts";
import { dirEntryCount, dirIterate, dirLookup } from "../fs/htree.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

for (
  const [name, bs, blocks, firstData] of [["golden-1k.vexfs", 1024, 128, 20], ["golden-4k.vexfs", 4096, 64, 7]] as const
) {
  Deno.test(`golden image ${name} decodes field by field`, () => {
    const img = Deno.readFileSync(new URL(`../../testdata/${name}`, import.meta.url));
    const sbRaw = img.subarray(1024, 2048);
    assert.deepEqual(superblockProblems(sbRaw, img.length), []);
    const sb = decodeSuperblock(sbRaw);
    assert.equal(sb.magic, 0x53465856);
    assert.equal(dec.decode(img.subarray(1024, 1028)), "VXFS");
    assert.deepEqual([sb.versionMajor, sb.versionMinor], [1, 0]);
    assert.deepEqual([sb.featureCompat, sb.featureIncompat, sb.featureRoCompat], [3, 7, 1]);
    assert.equal(1024 << sb.logBlockSize, bs);
    assert.equal(sb.blockCount, blocks);
    assert.equal(sb.inodeCount, 64);
    assert.equal(sb.blockBitmapStart, bs === 1024 ? 2 : 1);
    assert.equal(sb.blockBitmapBlocks, 1);
    assert.equal(sb.inodeBitmapBlocks, 1);
    assert.equal(sb.inodeTableBlocks, (64 * 256) / bs);
    assert.equal(sb.firstDataBlock, firstData);
    assert.deepEqual([sb.rootIno, sb.collTableIno, sb.firstIno, sb.inodeSize], [2, 3, 16, 256]);
    assert.equal(sb.state, 1, "clean");
    assert.equal(sb.mkfsTime, 1700000000);
    assert.equal(uuidToString(sb.uuid), "0123f567-89ab-4def-8123-456789abcdef");
    assert.equal(sb.label, "golden");
    assert.equal(sb.hashSeed, 0x12345678);
    assert.equal(sb.orphanHead, 0);
    assert.equal(sb.collCount, 1);
    assert.equal(sb.freeInodes, 64 - 22);
    // backup superblock in the last block, same checksum-valid content but for state/times
    const backup = decodeSuperblock(img.subarray((blocks - 1) * bs, (blocks - 1) * bs + 1024));
    assert.deepEqual(superblockProblems(img.subarray((blocks - 1) * bs, (blocks - 1) * bs + 1024)), []);
    assert.equal(backup.blockCount, sb.blockCount);

    // bitmaps: metadata and backup block used, padding bits set
    const bbm = img.subarray(sb.blockBitmapStart * bs, (sb.blockBitmapStart + 1) * bs);
    const bit = (bm: Uint8Array, i: number) => (bm[i >> 3] >> (i & 7)) & 1;
    for (let b = 0; b < firstData; b++) assert.equal(bit(bbm, b), 1, `metadata block ${b} in use`);
    assert.equal(bit(bbm, blocks - 1), 1);
    assert.equal(bit(bbm, blocks), 1, "padding bit");
    let used = 0;
    for (let b = 0; b < blocks; b++) used += bit(bbm, b);
    assert.equal(blocks - used, sb.freeBlocks);
    const ibm = img.subarray(sb.inodeBitmapStart * bs, (sb.inodeBitmapStart + 1) * bs);
    for (let i = 0; i < 22; i++) assert.equal(bit(ibm, i), 1, `inode ${i + 1} in use`);
    assert.equal(bit(ibm, 22), 0);

    const inode = (ino: number) => {
      const off = sb.inodeTableStart * bs + (ino - 1) * 256;
      return decodeInode(ino, img.subarray(off, off + 256));
    };
    const extentsOf = (ino: number): Extent[] => {
      const n = decodeExtentNode(inode(ino).data, ino);
      assert.equal(n.depth, 0);
      return (n as { extents: Extent[] }).extents;
    };
    const fileBytes = (ino: number) => {
      const n = inode(ino);
      const out = new Uint8Array(n.size);
      for (const e of extentsOf(ino)) {
        const src = img.subarray(e.physical * bs, (e.physical + e.length) * bs);
        out.set(src.subarray(0, Math.min(src.length, n.size - e.logical * bs)), e.logical * bs);
      }
      return out;
    };
    const dirOf = (ino: number) => ({
      blockSize: bs,
      ino,
      hashSeed: sb.hashSeed,
      blockCount: () => inode(ino).size / bs,
      read: (l: number) => {
        const e = extentsOf(ino).find((x) => l >= x.logical && l < x.logical + x.length)!;
        return img.slice((e.physical + l - e.logical) * bs, (e.physical + l - e.logical + 1) * bs);
      },
      write: () => {
        throw new Error("read-only");
      },
      append: () => {
        throw new Error("read-only");
      },
    });

    // root directory
    const root = inode(2);
    assert.equal(root.mode, 0o40755);
    assert.equal(root.nlink, 3);
    assert.equal(root.parentIno, 2);
    assert.deepEqual(extentsOf(2)[0].physical, firstData);
    assert.equal(dirEntryCount(dirOf(2)), 3);
    assert.deepEqual([...dirIterate(dirOf(2))].map((e) => [dec.decode(e.name), e.ino, e.type]).sort(), [
      ["docs", 18, 2],
      ["hello.txt", 16, 1],
      ["link", 17, 7],
    ]);
    const he = dirLookup(dirOf(2), enc.encode("hello.txt"))!;
    assert.equal(he.hash, dirHash(enc.encode("hello.txt"), 0x12345678));

    // a regular file with an xattr
    const hello = inode(16);
    assert.equal(hello.mode, 0o100644);
    assert.deepEqual([hello.uid, hello.gid, hello.nlink, hello.size, hello.blocks], [1000, 1000, 1, 14, 2]);
    assert.deepEqual(hello.mtime, { sec: 1700000001, nsec: 500000000 });
    assert.deepEqual(hello.atime, { sec: 1700000001, nsec: 500000000 });
    assert.equal(hello.parentIno, 2);
    assert.equal(hello.parentHash, he.hash);
    assert.equal(dec.decode(fileBytes(16)), "Hello, VexFS!\n");
    assert.deepEqual(
      [...decodeXattrBlock(img.subarray(hello.xattrBlock * bs, (hello.xattrBlock + 1) * bs), 16)].map((
        [k, v],
      ) => [k, dec.decode(v)]),
      [["user.tag", "golden"]],
    );

    // a fast symlink
    const link = inode(17);
    assert.equal(link.mode, 0o120777);
    assert.equal(link.flags & 0x10, 0x10, "INLINE");
    assert.equal(dec.decode(link.data.subarray(0, link.size)), "hello.txt");
    assert.equal(link.blocks, 0);

    // the collection root and its records
    const docs = inode(18);
    assert.equal(docs.flags & 0x2, 0x2, "COLL_ROOT");
    assert.equal(docs.collId, 1);
    const table = fileBytes(3);
    assert.equal(table.length, 256);
    const rec = decodeCollection(1, table)!;
    assert.deepEqual([
      rec.rootIno,
      rec.dim,
      rec.metric,
      rec.elemType,
      rec.count,
      rec.vecIno,
      rec.mapIno,
      rec.hnswIno,
      rec.bm25Ino,
    ], [18, 4, 1, 1, 2, 19, 20, 0, 0]);
    assert.equal(inode(19).flags & 0x4, 0x4, "INTERNAL");
    const vec = fileBytes(19);
    assert.equal(vec.length, 2 * 4 * 4);
    assert.deepEqual([...new Float32Array(vec.slice().buffer)], [1, 2, 3, 4, 0.5, -1, 0, 2]);
    const map = fileBytes(20);
    assert.equal(map.length, bs);
    const slots = decodeSlotBlock(map, 1, 2);
    assert.deepEqual(slots.map((s) => s.ino), [21, 22]);
    assert.equal(slots[0].vecCrc, crc32c(vec.subarray(0, 16)));
    assert.equal(slots[1].vecCrc, crc32c(vec.subarray(16, 32)));
    for (const [ino, slot] of [[21, 0], [22, 1]]) {
      const f = inode(ino);
      assert.equal(f.flags & 0x1, 0x1, "HAS_VECTOR");
      assert.deepEqual([f.collId, f.vecSlot, f.parentIno], [1, slot, 18]);
    }
    assert.equal(dec.decode(fileBytes(21)), "alpha\n");
  });
}
