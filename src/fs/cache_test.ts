/**
 * The buffer cache: checksums verified when a block comes from the device,
 * never on a hit (issue 8); clean blocks evicted least recently used first
 * in O(1) however many dirty blocks a transaction holds; dirty blocks never
 * evicted with a journal. And through the engine: directory blocks are
 * verified once per read from disk, and a damaged one is still refused.
 */
import assert from "node:assert/strict";
import { BufferCache } from "./cache.ts";
import { FsError } from "../errors.ts";
import { ROOT_INO } from "../format/constants.ts";
import { assertFsckClean, code, tmpImage } from "./_testutil.ts";
import { Vexfs } from "./fs.ts";

/** A device of `blocks` blocks of 64 bytes in memory, counting reads. */
function memDevice(blocks: number) {
  const bytes = new Uint8Array(blocks * 64);
  for (let b = 0; b < blocks; b++) bytes[b * 64] = b & 255;
  const dev = {
    bytes,
    reads: 0,
    read(off: number, buf: Uint8Array) {
      dev.reads++;
      buf.set(bytes.subarray(off, off + buf.length));
    },
    write(off: number, data: Uint8Array) {
      bytes.set(data, off);
    },
  };
  return dev;
}

Deno.test("cache: a verifier runs when a block comes from the device, not on hits", () => {
  const dev = memDevice(1000);
  const c = new BufferCache(dev, 64, 64 * 100);
  let calls = 0;
  const verify = (buf: Uint8Array) => {
    calls++;
    if (buf[1] === 0xee) throw new FsError("EUCLEAN", "bad block");
  };
  c.get(5, verify);
  c.get(5, verify);
  c.get(5);
  assert.equal(calls, 1, "verified once, on the miss");
  assert.equal(c.verified, 1);
  // read without a verifier first: the first get that brings one verifies it, once
  c.get(6);
  c.get(6, verify);
  c.get(6, verify);
  assert.equal(calls, 2);
  // a damaged block is refused and not cached: the next access reads and refuses it again
  dev.bytes[7 * 64 + 1] = 0xee;
  assert.equal(code(() => c.get(7, verify)), "EUCLEAN");
  const reads = dev.reads;
  assert.equal(code(() => c.get(7, verify)), "EUCLEAN");
  assert.equal(dev.reads, reads + 1);
  // a block read unverified that turns out damaged is dropped, not trusted
  dev.bytes[8 * 64 + 1] = 0xee;
  c.get(8);
  assert.equal(code(() => c.get(8, verify)), "EUCLEAN");
  assert.equal(code(() => c.get(8, verify)), "EUCLEAN");
  // blocks the engine writes itself are trusted
  c.getNew(9)[1] = 0xee;
  c.put(10, new Uint8Array(64).fill(0xee));
  c.takeDirty();
  assert.equal(c.get(9, verify)[1], 0xee);
  assert.equal(c.get(10, verify)[1], 0xee);
});

Deno.test("cache: clean blocks are evicted least recently used first; dirty ones stay", () => {
  const dev = memDevice(10_000);
  const c = new BufferCache(dev, 64, 64 * 64); // 64 blocks
  c.writeBack = false; // as with a journal
  for (let b = 0; b < 5000; b++) c.getNew(b)[0] = 1; // a large transaction: 5000 dirty blocks
  assert.equal(c.dirtyCount, 5000);
  for (let b = 5000; b < 6000; b++) c.get(b); // clean reads beyond the capacity
  assert.equal(c.dirtyCount, 5000, "no dirty block evicted");
  assert.ok(c.size <= 5001, `clean blocks evicted down to the capacity (${c.size})`);
  assert.equal(c.get(3)[0], 1, "a dirty block is still there");
  const taken = c.takeDirty();
  assert.equal(taken.size, 5000);
  assert.ok(c.size <= 64, "after the commit the cache is back within its capacity");
  // LRU order among clean blocks: a block used recently outlives older ones
  const d2 = memDevice(200);
  const c2 = new BufferCache(d2, 64, 64 * 64);
  for (let b = 0; b < 64; b++) c2.get(b);
  c2.get(0); // refresh block 0
  c2.get(100); // evicts the least recently used: block 1
  const reads = d2.reads;
  c2.get(0);
  assert.equal(d2.reads, reads, "block 0 stayed");
  c2.get(1);
  assert.equal(d2.reads, reads + 1, "block 1 was evicted");
});

Deno.test("cache: cold blocks (written once by their owner) are evicted before every other clean block", () => {
  const dev = memDevice(1000);
  const c = new BufferCache(dev, 64, 64 * 64);
  for (let b = 0; b < 32; b++) c.get(b); // hot, read first: the oldest
  for (let b = 100; b < 132; b++) {
    c.put(b, new Uint8Array(64).fill(1));
    c.markCold(b);
  }
  c.takeDirty(); // committed: clean and cold
  const reads = dev.reads;
  for (let b = 200; b < 232; b++) c.get(b); // 32 more: 32 blocks must go
  for (let b = 0; b < 32; b++) c.get(b);
  assert.equal(dev.reads, reads + 32, "the hot blocks stayed, though older than the cold ones");
  c.get(100);
  assert.equal(dev.reads, reads + 33, "the cold ones went first");
  // a cold block changed again without the mark is an ordinary block
  c.getNew(500);
  c.markCold(500);
  c.put(500, new Uint8Array(64).fill(2));
  c.takeDirty(); // 500 is the most recently used hot block; 63 older hot ones are cached with it
  for (let b = 300; b < 308; b++) {
    c.put(b, new Uint8Array(64));
    c.markCold(b);
  }
  c.takeDirty(); // 8 cold blocks pushed out the 8 oldest hot ones
  for (let b = 600; b < 608; b++) c.get(b); // the 8 cold ones go now, not older hot blocks
  const r2 = dev.reads;
  assert.equal(c.get(500)[0], 2, "block 500 is hot again");
  c.get(300);
  assert.equal(dev.reads, r2 + 1, "the cold block was evicted, not block 500");
});

Deno.test("cache: a directory's blocks are checksummed once per read from disk, and damage is still found", () => {
  const img = tmpImage(16 << 20);
  let fs = Vexfs.open(img);
  let leaf = 0;
  try {
    const d = fs.mkdir(ROOT_INO, "d");
    for (let i = 0; i < 300; i++) fs.create(d, `file-${i}`);
    fs.sync();
    fs.cache.dropClean();
    const v0 = fs.cache.verified;
    for (let i = 0; i < 300; i++) fs.lookup(d, `file-${i}`);
    const first = fs.cache.verified - v0;
    assert.ok(first >= 1 && first <= 8, `${first} blocks verified by the first lookups`);
    for (let round = 0; round < 3; round++) for (let i = 0; i < 300; i++) fs.lookup(d, `file-${i}`);
    assert.equal(fs.cache.verified - v0, first, "cached blocks are not verified again");
    leaf = fs.bmap(fs.iget(d), 1); // a leaf (block 0 is the index root)
  } finally {
    fs.close();
  }
  // flip a byte of a leaf of the directory on disk: the next open refuses to read it
  const f = Deno.openSync(img, { read: true, write: true });
  const b = new Uint8Array(1);
  f.seekSync(leaf * 4096 + 100, Deno.SeekMode.Start);
  f.readSync(b);
  b[0] ^= 0xff;
  f.seekSync(leaf * 4096 + 100, Deno.SeekMode.Start);
  f.writeSync(b);
  f.close();
  fs = Vexfs.open(img, { readOnly: true });
  try {
    const d = fs.lookup(ROOT_INO, "d");
    assert.equal(code(() => [...fs.readdir(d)]), "EUCLEAN");
    assert.equal(code(() => [...fs.readdir(d)]), "EUCLEAN", "still refused: a damaged block is not cached");
  } finally {
    fs.close();
  }
  // put the byte back: clean again
  const g = Deno.openSync(img, { read: true, write: true });
  b[0] ^= 0xff;
  g.seekSync(leaf * 4096 + 100, Deno.SeekMode.Start);
  g.writeSync(b);
  g.close();
  assertFsckClean(img);
  Deno.removeSync(img);
});
