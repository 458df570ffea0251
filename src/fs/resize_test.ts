/**
 * Tests of src/fs/resize.ts against oracles: the whole tree (contents,
 * xattrs, vectors, collections: src/crash/oracle.ts's snapshot) and the
 * answers of HNSW searches are identical after a grow; fsck is clean; the
 * new blocks and inodes are usable up to the last one; every crash state of
 * a recorded resize (each flush point, and random subsets of the writes in
 * flight) replays to a clean filesystem holding the old tree; and the plan
 * refuses shrinking and growth too small for what must move.
 */
import assert from "node:assert/strict";
import { MemDevice } from "../device/mem.ts";
import { RecordingDevice } from "../device/recording.ts";
import { snapshot } from "../crash/oracle.ts";
import { enumerateStates, StateBuilder } from "../crash/states.ts";
import { INCOMPAT_FLEX_META, SB_OFFSET, SB_SIZE } from "../format/constants.ts";
import { decodeSuperblock, type Superblock } from "../format/superblock.ts";
import { fsck } from "../fsck/fsck.ts";
import { assertFsckClean, code } from "./_testutil.ts";
import { Vexfs } from "./fs.ts";
import { computeLayout, mkfs, randomUuid, writeFilesystem } from "./mkfs.ts";
import { planResize, resize } from "./resize.ts";
import { fillTree, searches } from "./_filltree.ts";

function sbOf(bytes: Uint8Array): Superblock {
  return decodeSuperblock(bytes.subarray(SB_OFFSET, SB_OFFSET + SB_SIZE));
}

/** Creates files of one block until ENOSPC; returns how many. */
function fillUp(fs: Vexfs): number {
  const d = fs.mkdir(2, "fill");
  let n = 0;
  for (;;) {
    try {
      fs.write(fs.create(d, `n${n}`), 0, new Uint8Array(100).fill(n & 0xff));
      n++;
    } catch (e) {
      if ((e as { code?: string }).code === "ENOSPC") return n;
      throw e;
    }
  }
}

Deno.test("resize grows a filled image: same tree, same searches, fsck clean, every new inode and block usable", () => {
  const img = Deno.makeTempFileSync({ suffix: ".img" });
  Deno.removeSync(img);
  try {
    mkfs(img, { size: 24 << 20 });
    let fs = Vexfs.open(img);
    fillTree(fs, 1);
    fs.close();
    fs = Vexfs.open(img, { readOnly: true });
    const tree = snapshot(fs);
    const answers = searches(fs);
    const old = fs.sb;
    fs.close();
    // grow the image as an administrator would: truncate, then resize to the device size
    Deno.truncateSync(img, 96 << 20);
    const r = resize(img);
    assert.equal(r.oldBlocks, old.blockCount);
    assert.equal(r.newBlocks, (96 << 20) / 4096);
    assert.equal(r.newInodes, old.inodeCount * 4, "inodes grow with the size, as mkfs chose them");
    assert.ok(r.moved.some((m) => m.region === "inode table"));
    assert.ok(r.checked, "fsck ran first");
    assertFsckClean(img);
    const sb = sbOf(Deno.readFileSync(img));
    assert.ok(sb.featureIncompat & INCOMPAT_FLEX_META);
    assert.equal(sb.blockCount, r.newBlocks);
    fs = Vexfs.open(img, { readOnly: true });
    assert.deepEqual(snapshot(fs), tree, "every file, xattr and vector as before");
    assert.deepEqual(searches(fs), answers, "identical search answers");
    assert.equal(fs.statfs().ffree, r.freeInodes);
    fs.close();
    // the new inodes and blocks are usable: fill the inodes, then the blocks
    fs = Vexfs.open(img);
    const big = fs.create(2, "big");
    const made = fillUp(fs);
    assert.equal(fs.statfs().ffree, 0, "every inode used");
    assert.ok(made > old.freeInodes, `${made} files made, more than the ${old.freeInodes} inodes free before`);
    let off = 0;
    const chunk = new Uint8Array(1 << 20).fill(7);
    for (;;) {
      try {
        fs.write(big, off, chunk);
        off += chunk.length;
      } catch (e) {
        if ((e as { code?: string }).code !== "ENOSPC") throw e;
        break;
      }
    }
    assert.ok(off > 40 << 20, `a file of ${off} bytes filled the new space`);
    fs.close();
    assertFsckClean(img);
    fs = Vexfs.open(img, { readOnly: true });
    const now = snapshot(fs);
    for (const [p, n] of tree) if (p !== "/") assert.deepEqual(now.get(p), n, `${p} unchanged by the fill`);
    fs.close();
    // grow again, a little: the bitmaps' last blocks have room, nothing moves
    Deno.truncateSync(img, (96 << 20) + (1 << 20));
    const r2 = resize(img);
    assert.deepEqual(r2.moved, []);
    assert.equal(r2.newBlocks, r.newBlocks + 256);
    assertFsckClean(img);
  } finally {
    Deno.removeSync(img);
  }
});

Deno.test("resize to a size: refuses shrinking and a size past a device, grows a file image, --inodes", () => {
  const img = Deno.makeTempFileSync({ suffix: ".img" });
  Deno.removeSync(img);
  try {
    mkfs(img, { size: 16 << 20 });
    const before = Deno.readFileSync(img);
    assert.throws(() => resize(img, { size: 8 << 20 }), /shrinking is not supported/);
    assert.throws(() => resize(img, { size: 32 << 20, inodes: 10 }), /can only grow/);
    const dry = resize(img, { size: 64 << 20, dryRun: true });
    assert.equal(dry.dryRun, true);
    assert.equal(dry.newBlocks, 16384);
    const after = Deno.readFileSync(img);
    assert.ok(after.length === before.length && after.every((x, i) => x === before[i]), "a dry run writes nothing");
    const r = resize(img, { size: 48 << 20, inodes: 20000 });
    assert.equal(r.grewFileTo, 48 << 20);
    assert.equal(Deno.statSync(img).size, 48 << 20);
    assert.equal(r.newInodes, 20000);
    assert.equal(resize(img).nothingToDo, true, "already the device's size");
    assertFsckClean(img);
  } finally {
    Deno.removeSync(img);
  }
});

Deno.test("planResize: in place when the regions keep their length, ENOSPC when what must move does not fit", () => {
  const dev = new MemDevice(64 << 20);
  writeFilesystem(dev, computeLayout(dev.size, { blockSize: 1024 }), { uuid: randomUuid() });
  const sb = sbOf(dev.bytes);
  // 1 KiB blocks: a bitmap block covers 8192 blocks; 65536 blocks use exactly 8, so any growth moves it
  assert.equal(sb.blockBitmapBlocks, 8);
  assert.equal(code(() => planResize(sb, sb.blockCount + 4)), "ENOSPC", "9 bitmap blocks cannot move into 4");
  assert.throws(() => planResize(sb, sb.blockCount + 4), /grow to at least \d+ bytes/);
  assert.equal(code(() => planResize(sb, sb.blockCount - 1)), "EINVAL");
  // room for the block bitmap but not for a proportionally larger inode table: the most inodes that fit in place
  const q = planResize(sb, sb.blockCount + 100);
  assert.deepEqual(q.moved.map((m) => m.region), ["block bitmap"]);
  assert.equal(q.newInodes, sb.inodeTableBlocks * 1024 / 256);
  assert.match(q.inodeNote, /inodes fit/);
  assert.equal(code(() => planResize(sb, sb.blockCount + 100, sb.inodeCount * 2)), "ENOSPC", "asked for: refused");
  // a 4 KiB filesystem of 4096 blocks has room in its last bitmap block: growth in place, no FLEX_META
  const small = new MemDevice(16 << 20);
  writeFilesystem(small, computeLayout(small.size, { inodes: 1024 * 16 }), { uuid: randomUuid() });
  const s2 = sbOf(small.bytes);
  const inPlace = planResize(s2, s2.blockCount + 1000, s2.inodeCount);
  assert.deepEqual(inPlace.moved, []);
  assert.equal(inPlace.flexMeta, false);
});

/**
 * A filesystem of `oldSize` bytes filled by fillTree(...fill), on an image
 * grown to `newSize` bytes, resized on a {@link RecordingDevice}: the image
 * before the resize, the tree it holds (snapshot), the write log and the
 * resize's result.
 */
function recordedResize(
  oldSize: number,
  newSize: number,
  o: { journalBlocks?: number; hashSeed: number; fill: [number, number, number] },
) {
  const base = new MemDevice(oldSize);
  const layoutOpts = o.journalBlocks === undefined ? {} : { journalBlocks: o.journalBlocks };
  writeFilesystem(base, computeLayout(oldSize, layoutOpts), { uuid: randomUuid(), hashSeed: o.hashSeed, time: 1 });
  let fs = Vexfs.openDevice(base);
  fillTree(fs, ...o.fill);
  fs.close();
  const image = new Uint8Array(newSize);
  image.set(base.bytes);
  fs = Vexfs.openDevice(new MemDevice(image.slice(), { readOnly: true }), { readOnly: true });
  const tree = snapshot(fs);
  fs.close();
  const rec = new RecordingDevice(new MemDevice(image.slice()));
  const result = resize(rec);
  return { image, tree, rec, result };
}

Deno.test("every crash state of a resize replays to a clean filesystem with the whole old tree", () => {
  const { image, tree, rec, result: r } = recordedResize(12 << 20, 40 << 20, { hashSeed: 3, fill: [5, 40, 120] });
  assert.ok(r.moved.length > 0, "the inode table moves");
  const states = enumerateStates(rec.log, { randomStates: 30, seed: 11 });
  const builder = new StateBuilder(image, rec.log, 1024);
  let oldSeen = 0, newSeen = 0;
  for (const st of states) {
    const dev = builder.build(st);
    const report = fsck(dev, { readOnly: true, force: true });
    const bad = report.problems.filter((p) => p.severity !== "info");
    assert.deepEqual(bad, [], `${st.kind} cut ${st.cut}: ${bad.map((p) => `${p.code}: ${p.message}`).join("; ")}`);
    const f = Vexfs.openDevice(dev, { readOnly: true });
    if (f.sb.blockCount === r.newBlocks) newSeen++;
    else {
      assert.equal(f.sb.blockCount, r.oldBlocks);
      oldSeen++;
    }
    assert.deepEqual(snapshot(f), tree, `${st.kind} cut ${st.cut}: the old tree`);
    f.close();
  }
  assert.ok(oldSeen > 0 && newSeen > 0, `states before (${oldSeen}) and after (${newSeen}) the commit`);
});

Deno.test("without a journal, every crash state of a resize is repaired by fsck -y with the whole old tree", () => {
  const { image, tree, rec } = recordedResize(8 << 20, 24 << 20, { journalBlocks: 0, hashSeed: 4, fill: [6, 20, 40] });
  const states = enumerateStates(rec.log, { randomStates: 12, seed: 5 });
  const builder = new StateBuilder(image, rec.log, 1024);
  for (const st of states) {
    const dev = builder.build(st);
    const r = fsck(dev, { yes: true, force: true });
    assert.ok(r.exitCode === 0 || r.exitCode === 1, `${st.kind} cut ${st.cut}: fsck -y exit ${r.exitCode}`);
    assert.equal(fsck(dev, { readOnly: true, force: true }).exitCode, 0, `${st.kind} cut ${st.cut}: clean after`);
    const f = Vexfs.openDevice(dev, { readOnly: true });
    assert.deepEqual(snapshot(f), tree, `${st.kind} cut ${st.cut}: the old tree`);
    f.close();
  }
});
