/**
 * Extent trees written incrementally (issue 8: "appending a vector costs the
 * same at 1,000 or 1,000,000 vectors"): the work an append does is counted,
 * not timed (tree blocks written, metadata blocks dirtied), at small and
 * large sizes; random changes are checked against a model across reopens;
 * internal files grow in preallocated chunks and keep FORMAT.md §8.2's exact
 * size; a tree of another shape read from disk is rewritten whole once.
 */
import assert from "node:assert/strict";
import { assertFsckClean, tmpImage } from "./_testutil.ts";
import { EXT_UNWRITTEN, ROOT_INO } from "../format/constants.ts";
import { encodeExtentNode, type Extent, extentBlockMax } from "../format/extent.ts";
import { decodeInode, encodeInode } from "../format/inode.ts";
import { INODE_SIZE } from "../format/constants.ts";
import { Vexfs } from "./fs.ts";

/** Asserts two byte arrays are equal, naming the first difference (deepEqual is slow on megabytes). */
function assertBytes(got: Uint8Array, want: Uint8Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) {
    if (got[i] !== want[i]) assert.fail(`${what}: byte ${i} is ${got[i]}, expected ${want[i]}`);
  }
}

/** Depth of the inode's extent tree (the root's depth field). */
function depthOf(fs: Vexfs, ino: number): number {
  return fs.iget(ino).d.data[6] | (fs.iget(ino).d.data[7] << 8);
}

/** Makes file `ino` hold `count` one-block extents (every other file block mapped, from block 0). */
function fragment(fs: Vexfs, ino: number, from: number, count: number): void {
  const bs = fs.blockSize;
  const block = new Uint8Array(bs);
  for (let i = from; i < from + count; i++) {
    block.fill(i & 255);
    fs.write(ino, 2 * i * bs, block);
  }
}

Deno.test("extent tree: an append writes one leaf and its index path, at 1,000 extents as at 100,000", () => {
  const img = tmpImage(512 << 20, 1024); // 1 KiB blocks: 41 extents a leaf, so 100,000 extents make 3 levels
  let fs = Vexfs.open(img);
  try {
    const f = fs.create(ROOT_INO, "frag");
    const perAppend = (at: number): number => {
      const before = fs.treeNodesWritten;
      fragment(fs, f, at, 200);
      return (fs.treeNodesWritten - before) / 200;
    };
    fragment(fs, f, 0, 1000);
    assert.equal(fs.extents(fs.iget(f)).length, 1000);
    const small = perAppend(1000);
    const smallDepth = depthOf(fs, f);
    fragment(fs, f, 1200, 98_800);
    assert.equal(fs.extents(fs.iget(f)).length, 100_000);
    const large = perAppend(100_000);
    const largeDepth = depthOf(fs, f);
    assert.equal(smallDepth, 2);
    assert.equal(largeDepth, 3);
    // one node per level (the leaf and the index nodes above it), plus the
    // occasional new node when a level's last one fills: never the whole tree
    assert.ok(small <= smallDepth + 0.1, `${small} tree blocks per append at 1,000 extents`);
    assert.ok(large <= largeDepth + 0.1, `${large} tree blocks per append at 100,000 extents`);
    const m = extentBlockMax(1024);
    assert.ok(large * 100 < 100_200 / m, "a whole rewrite would write every leaf");
    fs.close();
    fs = Vexfs.open(img);
    const exts = fs.extents(fs.iget(f));
    assert.equal(exts.length, 100_200);
    for (const i of [0, 999, 1000, 50_000, 100_199]) {
      assert.equal(fs.read(f, 2 * i * 1024 + 7, 1)[0], i & 255, `block of extent ${i}`);
      assert.equal(fs.read(f, (2 * i + 1) * 1024 + 7, 1)[0] ?? 0, 0, `hole after extent ${i}`);
    }
    assert.ok(fs.iget(f).treeLevels, "the tree read back has the canonical shape");
  } finally {
    fs.close();
  }
  assertFsckClean(img);
  Deno.removeSync(img);
});

Deno.test("extent tree: random writes, punches and truncates agree with a model across reopens", () => {
  const img = tmpImage(64 << 20, 1024);
  let fs = Vexfs.open(img);
  const bs = 1024;
  const blocks = 3000;
  const model = new Uint8Array(blocks * bs);
  let size = 0;
  let seed = 42;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  try {
    let f = fs.create(ROOT_INO, "r");
    const g = fs.create(ROOT_INO, "g"); // interleaved allocations keep f fragmented
    for (let op = 0; op < 4000; op++) {
      const k = rnd(100);
      if (k < 70) {
        const b = rnd(blocks - 8);
        const n = 1 + rnd(4);
        const data = new Uint8Array(n * bs).fill(1 + rnd(255));
        fs.write(f, b * bs, data);
        model.set(data, b * bs);
        size = Math.max(size, (b + n) * bs);
        fs.write(g, op * 16, new Uint8Array(16).fill(1));
      } else if (k < 90) {
        const b = rnd(blocks - 8);
        const n = 1 + rnd(6);
        fs.fallocate(f, 3, b * bs, n * bs);
        model.fill(0, b * bs, Math.min(size, (b + n) * bs));
      } else if (k < 97) {
        const to = rnd(size + 1);
        fs.truncate(f, to);
        model.fill(0, to);
        size = to;
      } else {
        fs.close();
        fs = Vexfs.open(img);
        f = fs.lookup(ROOT_INO, "r");
        assert.ok(fs.extents(fs.iget(f)).length >= 0);
        assert.ok(fs.iget(f).treeLevels, `op ${op}: the tree read back has the canonical shape`);
      }
      if (op % 250 === 0 || k >= 97) {
        assert.equal(fs.getattr(f).size, size);
        assertBytes(fs.read(f, 0, size), model.subarray(0, size), `op ${op}`);
      }
    }
    assertBytes(fs.read(f, 0, size), model.subarray(0, size), "at the end");
  } finally {
    fs.close();
  }
  assertFsckClean(img);
  Deno.removeSync(img);
});

Deno.test("extent tree: a tree of another shape read from disk is rewritten whole once, then incrementally", () => {
  const img = tmpImage(16 << 20, 1024);
  let fs = Vexfs.open(img);
  const m = extentBlockMax(1024);
  let ino = 0;
  let leaves: number[] = [];
  try {
    ino = fs.create(ROOT_INO, "f");
    fragment(fs, ino, 0, m + 10); // a full leaf and one of 10
    leaves = [...fs.iget(ino).treeLevels![0]];
    assert.equal(leaves.length, 2);
  } finally {
    fs.close();
  }
  // Re-pack the same extents as two leaves about half full, a shape the engine never writes.
  {
    const dev = Deno.openSync(img, { read: true, write: true });
    fs = Vexfs.open(img, { readOnly: true });
    const exts: Extent[] = fs.extents(fs.iget(ino)).map((e) => ({ ...e }));
    const sb = fs.sb;
    fs.close();
    const split = Math.floor((m + 10) / 2);
    const parts = [exts.slice(0, split), exts.slice(split)];
    parts.forEach((p, i) => {
      const buf = new Uint8Array(1024);
      encodeExtentNode({ depth: 0, max: m, extents: p }, buf, ino, 1024);
      dev.seekSync(leaves[i] * 1024, Deno.SeekMode.Start);
      dev.writeSync(buf);
    });
    const off = sb.inodeTableStart * 1024 + (ino - 1) * INODE_SIZE;
    const raw = new Uint8Array(INODE_SIZE);
    dev.seekSync(off, Deno.SeekMode.Start);
    dev.readSync(raw);
    const d = decodeInode(ino, raw);
    encodeExtentNode(
      { depth: 1, max: 4, index: parts.map((p, i) => ({ logical: p[0].logical, child: leaves[i] })) },
      d.data,
      ino,
    );
    encodeInode(ino, d, raw);
    dev.seekSync(off, Deno.SeekMode.Start);
    dev.writeSync(raw);
    dev.close();
  }
  assertFsckClean(img);
  fs = Vexfs.open(img);
  try {
    assert.equal(fs.extents(fs.iget(ino)).length, m + 10);
    assert.equal(fs.iget(ino).treeLevels, undefined, "not the canonical shape");
    const before = fs.treeNodesWritten;
    fragment(fs, ino, m + 10, 1);
    assert.equal(fs.treeNodesWritten - before, 2, "the first change rewrites the whole tree (both leaves)");
    assert.ok(fs.iget(ino).treeLevels);
    const again = fs.treeNodesWritten;
    fragment(fs, ino, m + 11, 1);
    assert.equal(fs.treeNodesWritten - again, 1, "then only the last leaf");
    for (const i of [0, m, m + 11]) assert.equal(fs.read(ino, 2 * i * 1024, 1)[0], i & 255);
  } finally {
    fs.close();
  }
  assertFsckClean(img);
  Deno.removeSync(img);
});

Deno.test("internal files grow in preallocated chunks: few extents, exact size, UNWRITTEN past the end", () => {
  const img = tmpImage(256 << 20, 4096, 32_768);
  let fs = Vexfs.open(img);
  const free0 = fs.statfs().bfree;
  try {
    const c = fs.mkdir(ROOT_INO, "c");
    const coll = fs.collections.create(c, { dim: 64, metric: "l2", elem: "f32" });
    const v = new Float32Array(64);
    const inos: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      // a file with data between vectors, so that the store never grows into free space next to it
      const ino = fs.create(c, `f${i}`);
      fs.write(ino, 0, new Uint8Array(100).fill(i & 255));
      v[0] = i;
      fs.collections.setVector(ino, v);
      inos.push(ino);
    }
    const rec = fs.collections.record(coll.id)!;
    const store = fs.iget(rec.vecIno);
    const stride = 64 * 4;
    assert.equal(store.d.size, 20_000 * stride, "FORMAT.md §8.2: size is exactly count * stride");
    const exts = fs.extents(store);
    assert.ok(exts.length <= 40, `${exts.length} extents for ${(20_000 * stride) / 4096} blocks`);
    const eof = Math.ceil(store.d.size / 4096);
    for (const e of exts) {
      if (e.logical + e.length > eof) assert.ok(e.flags & EXT_UNWRITTEN, "blocks past the end are UNWRITTEN");
    }
    assert.ok(fs.extents(fs.iget(rec.mapIno)).length <= 12);
    // shrinking keeps the window: deleting and adding at the edge frees and allocates nothing
    const free1 = fs.statfs().bfree;
    for (let i = 0; i < 50; i++) {
      fs.collections.deleteVector(inos[19_999]);
      v[0] = 19_999;
      fs.collections.setVector(inos[19_999], v);
    }
    assert.equal(fs.statfs().bfree, free1);
    for (let i = 0; i < 10_000; i++) fs.collections.deleteVector(inos[i]);
    assert.equal(fs.iget(rec.vecIno).d.size, 10_000 * stride);
    fs.close();
    assertFsckClean(img);
    fs = Vexfs.open(img);
    const got = fs.collections.search(c, new Float32Array(64).fill(0).map((_, i) => i ? 0 : 15_000), 1, {
      paths: false,
    });
    assert.equal(got[0].ino, inos[15_000]);
    for (const ino of inos) fs.unlink(c, `f${inos.indexOf(ino)}`);
    fs.rmdir(ROOT_INO, "c");
  } finally {
    fs.close();
  }
  fs = Vexfs.open(img);
  try {
    // what stays: the collection table's block and its window, the root directory's blocks (fsck checks the rest)
    assert.ok(fs.statfs().bfree >= free0 - 8, "dropping the collection gives its blocks back");
  } finally {
    fs.close();
  }
  assertFsckClean(img);
  Deno.removeSync(img);
});

Deno.test("vector store appends do the same work at 1,000 and 100,000 vectors", () => {
  const img = tmpImage(512 << 20, 4096, 131_072);
  const fs = Vexfs.open(img);
  try {
    const c = fs.mkdir(ROOT_INO, "c");
    fs.collections.create(c, { dim: 32, metric: "l2", elem: "f32" });
    const v = new Float32Array(32);
    let made = 0;
    const add = (n: number) => {
      const items = [];
      for (let i = 0; i < n; i++) {
        const ino = fs.create(c, `f${made}`);
        v[0] = made++;
        items.push({ ino, vector: v.slice() });
      }
      return items;
    };
    /** tree blocks written and metadata blocks dirtied by 1,024 appends, in one operation (no commit between) */
    const measure = () => {
      const items = add(1024);
      fs.sync();
      const tree0 = fs.treeNodesWritten;
      const reads0 = fs.cache.reads;
      let dirty = 0;
      fs.op(() => {
        for (const it of items) fs.collections.setVector(it.ino, it.vector);
        dirty = fs.cache.dirtyCount;
      });
      return { tree: fs.treeNodesWritten - tree0, dirty, reads: fs.cache.reads - reads0 };
    };
    for (const it of add(1000)) fs.collections.setVector(it.ino, it.vector);
    const small = measure();
    for (let i = 0; i < 99; i++) fs.collections.setVectors(add(1000));
    assert.equal(made, 101_024);
    const large = measure();
    // Per 1,024 appends of 128 bytes: 32 store blocks, 4-5 slot map blocks, the collection
    // table, the inode table blocks of the files, the store's tree (in the inode, or one leaf).
    assert.ok(Math.abs(large.dirty - small.dirty) <= 4, `dirty blocks ${small.dirty} at 1K, ${large.dirty} at 100K`);
    // A tree block is written when a block of the store, slot map or norms starts to be used (its
    // extent stops being UNWRITTEN): about 40 per 1,024 appends at any size once the internal
    // files have a tree leaf (at 1K their extents still fit in the inode: fewer), never more.
    assert.ok(large.tree <= 48, `tree blocks ${small.tree} at 1K, ${large.tree} at 100K`);
    assert.ok(large.reads <= small.reads + 4, `block reads ${small.reads} at 1K, ${large.reads} at 100K`);
  } finally {
    fs.close();
  }
  assertFsckClean(img);
  Deno.removeSync(img);
});
