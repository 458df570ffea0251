/**
 * VEXFS_IOC_SET_VECTORS against the engine (docs/IOCTL.md §3.10): many
 * vectors in one call equal one SET_VECTOR each; every refusal (of the
 * call's fields, of any one item, of its caller's permissions, of room)
 * changes nothing at all, not even the items before the refused one; the
 * CHECK flag answers like the real call and sets nothing.
 */
import assert from "node:assert/strict";
import { FsError } from "../errors.ts";
import { COLL_TABLE_INO, ROOT_INO, S_IFMT } from "../format/constants.ts";
import { Vexfs } from "../fs/fs.ts";
import { assertFsckClean, tmpImage } from "../fs/_testutil.ts";
import {
  batchMax,
  decodeSetVectors,
  encodeSetVectors,
  SET_VECTORS,
  VEXFS_IOC_BATCH_DATA,
  VEXFS_IOC_SET_VECTORS,
} from "./abi.ts";
import { handleIoctl, type IoctlCaller, ioctlChangesFs, ioctlWritesDescriptor } from "./server.ts";

const ROOT: IoctlCaller = { uid: 0, gid: 0 };

/** One SET_VECTORS call on directory `dir`. */
function setMany(
  fs: Vexfs,
  dir: number,
  items: { ino: number | bigint; vector: Float32Array }[],
  caller: IoctlCaller = ROOT,
  check = false,
): void {
  handleIoctl(fs, dir, VEXFS_IOC_SET_VECTORS, encodeSetVectors(items, { check }), 0, caller);
}

/** Everything a refused call must leave as it was. */
function state(fs: Vexfs, inos: number[]): string {
  return JSON.stringify({
    collections: fs.collections.list(),
    statfs: fs.statfs(),
    inodes: inos.map((i) => {
      const n = fs.iget(i).d;
      const v = fs.collections.getVectorBytes(i);
      return [i, n.flags, n.collId, n.vecSlot, n.ctime, v ? [...v.bytes] : null];
    }),
  });
}

/** Asserts that `f` throws FsError `code` and changes nothing. */
function refused(fs: Vexfs, inos: number[], code: string, f: () => unknown, re?: RegExp): void {
  const before = state(fs, inos);
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof FsError, String(e));
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
  assert.equal(state(fs, inos), before, `state after a refused call (${code})`);
}

interface World {
  img: string;
  fs: Vexfs;
  /** /c: 4-d l2 f32 collection; files c/f0..f39 (f0..f9 with vectors), c/sub/s0..s9 */
  c: number;
  sub: number;
  files: number[];
  subs: number[];
  /** /q: 4-d ip i8; /h: 3-d cosine; /out: no collection */
  q: number;
  qf: number;
  h: number;
  hf: number;
  out: number;
  of: number;
  all: number[];
}

function world(size = 64 << 20): World {
  const img = tmpImage(size);
  const fs = Vexfs.open(img);
  const c = fs.mkdir(ROOT_INO, "c", 0o755, 1000, 1000);
  fs.collections.create(c, { dim: 4, metric: "l2", elem: "f32" });
  const sub = fs.mkdir(c, "sub", 0o755, 1000, 1000);
  const files: number[] = [];
  for (let i = 0; i < 40; i++) files.push(fs.create(c, `f${i}`, 0o644, 1000, 1000));
  for (let i = 0; i < 10; i++) fs.collections.setVector(files[i], new Float32Array([i, 0, 0, 0]));
  const subs: number[] = [];
  for (let i = 0; i < 10; i++) subs.push(fs.create(sub, `s${i}`, 0o644, 1000, 1000));
  const q = fs.mkdir(ROOT_INO, "q");
  fs.collections.create(q, { dim: 4, metric: "ip", elem: "i8" });
  const qf = fs.create(q, "qf");
  const h = fs.mkdir(ROOT_INO, "h");
  fs.collections.create(h, { dim: 3, metric: "cosine", elem: "f32" });
  const hf = fs.create(h, "hf");
  const out = fs.mkdir(ROOT_INO, "out");
  const of = fs.create(out, "of");
  const all = [ROOT_INO, c, sub, ...files, ...subs, q, qf, h, hf, out, of];
  return { img, fs, c, sub, files, subs, q, qf, h, hf, out, of, all };
}

function done(w: World): void {
  w.fs.close();
  assertFsckClean(w.img);
  Deno.removeSync(w.img);
}

const v4 = (a: number, b = 0, c = 0, d = 0) => new Float32Array([a, b, c, d]);

Deno.test("SET_VECTORS: the request round trips; its limits and zero bytes are checked", () => {
  assert.equal(SET_VECTORS.size, 16376);
  assert.deepEqual([batchMax(1), batchMax(128), batchMax(384), batchMax(768), batchMax(2048)], [1362, 31, 10, 5, 1]);
  const items = [{ ino: 12, vector: v4(1, 2, 3, 4) }, { ino: 2n ** 60n, vector: v4(-1, 0.5, 0, 7) }];
  assert.deepEqual(decodeSetVectors(encodeSetVectors(items)), { dim: 4, items, check: false });
  assert.equal(decodeSetVectors(encodeSetVectors(items, { check: true })).check, true);
  const full = Array.from({ length: batchMax(128) }, (_, i) => ({ ino: i + 1, vector: new Float32Array(128).fill(i) }));
  assert.deepEqual(decodeSetVectors(encodeSetVectors(full)).items, full);
  const einval = (f: () => unknown, re: RegExp) =>
    assert.throws(f, (e: unknown) => e instanceof FsError && e.code === "EINVAL" && re.test(e.message));
  einval(() => encodeSetVectors([]), /at least one item/);
  einval(() => encodeSetVectors([...full, full[0]]), /at most 31/);
  einval(() => encodeSetVectors([{ ino: 1, vector: v4(1) }, { ino: 2, vector: new Float32Array(3) }]), /item 1/);
  einval(() => encodeSetVectors([{ ino: -1, vector: v4(1) }]), /item 0 ino/);
  einval(() => encodeSetVectors([{ ino: 1, vector: new Float32Array(2049) }]), /1\.\.2048/);
  const b = encodeSetVectors(items);
  const dv = new DataView(b.buffer);
  const poke = (off: number, v: number, re: RegExp) => {
    const c = b.slice();
    new DataView(c.buffer).setUint32(off, v, true);
    einval(() => decodeSetVectors(c), re);
  };
  poke(SET_VECTORS.off.count, 0, /count = 0/);
  poke(SET_VECTORS.off.count, batchMax(4) + 1, /count = 682 .*1\.\.681/);
  poke(SET_VECTORS.off.dim, 0, /dim = 0/);
  poke(SET_VECTORS.off.dim, 2049, /dim = 2049/);
  poke(SET_VECTORS.off.flags, 2, /flags = 0x2/);
  poke(SET_VECTORS.off.reserved, 1, /reserved/);
  poke(SET_VECTORS.off.data + 16 + 32, 1, /past 2 items/); // the first byte after the vectors
  poke(SET_VECTORS.off.data + VEXFS_IOC_BATCH_DATA - 4, 1, /past 2 items/);
  assert.equal(dv.getUint32(SET_VECTORS.off.count, true), 2);
  assert.equal(ioctlChangesFs(VEXFS_IOC_SET_VECTORS), true);
  assert.equal(ioctlWritesDescriptor(VEXFS_IOC_SET_VECTORS), false, "it checks each item itself");
});

Deno.test("SET_VECTORS: many vectors in one call equal one SET_VECTOR each, in one operation", () => {
  const w = world();
  const img2 = tmpImage();
  const fs2 = Vexfs.open(img2);
  try {
    const { fs, c, sub } = w;
    // the same tree in a second image, set one by one
    const c2 = fs2.mkdir(ROOT_INO, "c");
    fs2.collections.create(c2, { dim: 4, metric: "l2", elem: "f32" });
    const sub2 = fs2.mkdir(c2, "sub");
    const f2 = w.files.map((_, i) => fs2.create(c2, `f${i}`));
    const s2 = w.subs.map((_, i) => fs2.create(sub2, `s${i}`));
    for (let i = 0; i < 10; i++) fs2.collections.setVector(f2[i], v4(i));
    // replace 5, add 30, add the subdirectory's, one inode twice (the last vector stays)
    const items = [
      ...w.files.slice(5, 40).map((ino, i) => ({ ino, vector: v4(i + 100, i, -i, 0.5) })),
      ...w.subs.map((ino, i) => ({ ino, vector: v4(-i, 1, 2, 3) })),
      { ino: w.files[39], vector: v4(7, 7, 7, 7) },
    ];
    const gen0 = fs.collections.get(fs.collections.collectionOfDir(c)).generation;
    const commits0 = fs.journal!.stats.commits;
    setMany(fs, c, items);
    assert.ok(fs.journal!.stats.commits - commits0 <= 1, "one transaction");
    const twin = new Map([...w.files.map((x, i) => [x, f2[i]] as const), ...w.subs.map((x, i) => [x, s2[i]] as const)]);
    for (const it of items) fs2.collections.setVector(twin.get(it.ino)!, it.vector);
    for (const [a, b] of twin) {
      assert.deepEqual(fs.collections.getVector(a), fs2.collections.getVector(b), `vector of inode ${a}`);
    }
    const info = fs.collections.get(fs.collections.collectionOfDir(c));
    assert.equal(info.count, 50);
    assert.equal(info.generation - gen0, items.length, "one generation per item, as one call each");
    // a call on a subdirectory for files below it
    setMany(fs, sub, [{ ino: w.subs[0], vector: v4(9, 9, 9, 9) }]);
    assert.deepEqual(fs.collections.getVector(w.subs[0]), v4(9, 9, 9, 9));
    fs2.collections.setVector(s2[0], v4(9, 9, 9, 9));
    const q = v4(3, 1, 0, 0);
    assert.deepEqual(
      fs.collections.search(c, q, 10, { paths: false, exact: true }).map((h) => h.score),
      fs2.collections.search(c2, q, 10, { paths: false, exact: true }).map((h) => h.score),
    );
  } finally {
    fs2.close();
    assertFsckClean(img2);
    Deno.removeSync(img2);
    done(w);
  }
});

Deno.test("SET_VECTORS: a refusal changes nothing, not even the items before the refused one", () => {
  const w = world();
  try {
    const { fs, c } = w;
    const good = w.files.slice(10, 20).map((ino, i) => ({ ino, vector: v4(i, 1, 1, 1) }));
    const call = (bad: { ino: number | bigint; vector: Float32Array }, at = 5, dir = c, caller = ROOT) => () =>
      setMany(fs, dir, [...good.slice(0, at), bad, ...good.slice(at)], caller);
    // the item's inode
    refused(fs, w.all, "ENOENT", call({ ino: 999_999, vector: v4(1) }), /item 5 \(inode 999999\)/);
    refused(fs, w.all, "ENOENT", call({ ino: 2n ** 60n, vector: v4(1) }));
    refused(fs, w.all, "ENOENT", call({ ino: COLL_TABLE_INO, vector: v4(1) }), /reserved|internal/);
    const rec = fs.collections.record(fs.collections.collectionOfDir(c))!;
    refused(fs, w.all, "ENOENT", call({ ino: rec.vecIno, vector: v4(1) }), /internal/);
    refused(fs, w.all, "ENOENT", call({ ino: w.qf, vector: v4(1) }), /not below/);
    refused(fs, w.all, "ENOENT", call({ ino: w.files[0], vector: v4(1) }, 0, w.sub), /not below/);
    // what it is
    refused(fs, w.all, "EINVAL", call({ ino: w.sub, vector: v4(1) }), /not a regular file/);
    // its collection
    refused(fs, w.all, "EINVAL", call({ ino: w.of, vector: v4(1) }, 5, ROOT_INO), /not inside a vector collection/);
    refused(fs, w.all, "EINVAL", call({ ino: w.hf, vector: v4(1) }, 5, ROOT_INO), /dimension 3/);
    refused(fs, w.all, "EINVAL", call({ ino: w.qf, vector: v4(0.5) }, 5, ROOT_INO), /i8/);
    refused(fs, w.all, "EINVAL", call({ ino: w.files[30], vector: v4(NaN) }), /NaN|finite/);
    refused(fs, w.all, "EINVAL", call({ ino: w.files[30], vector: v4(Infinity) }, 9));
    // the descriptor
    refused(fs, w.all, "ENOTDIR", () => setMany(fs, w.files[0], good));
    // without the caller's ids nothing can be checked
    refused(fs, w.all, "EPERM", () => handleIoctl(fs, c, VEXFS_IOC_SET_VECTORS, encodeSetVectors(good), 0));
    // bad fields
    const raw = encodeSetVectors(good);
    raw[SET_VECTORS.off.reserved] = 1;
    refused(fs, w.all, "EINVAL", () => handleIoctl(fs, c, VEXFS_IOC_SET_VECTORS, raw, 0, ROOT));
    refused(fs, w.all, "EINVAL", () => handleIoctl(fs, c, VEXFS_IOC_SET_VECTORS, encodeSetVectors(good), 16376, ROOT));
    // the CHECK flag answers like the real call and sets nothing, refused or not
    refused(fs, w.all, "ENOENT", () => setMany(fs, c, [...good, { ino: 999_999, vector: v4(1) }], ROOT, true));
    const before = state(fs, w.all);
    setMany(fs, c, good, ROOT, true);
    assert.equal(state(fs, w.all), before, "a successful check sets nothing");
    setMany(fs, c, good);
    assert.deepEqual(fs.collections.getVector(good[3].ino), good[3].vector);
  } finally {
    done(w);
  }
});

Deno.test("SET_VECTORS: each item is checked with the caller's ids: write on the file, search on the way", () => {
  const w = world();
  try {
    const { fs, c, sub } = w;
    const owner: IoctlCaller = { uid: 1000, gid: 1000 };
    const other: IoctlCaller = { uid: 2000, gid: 2000 };
    const group: IoctlCaller = { uid: 3000, gid: 1000 };
    const item = (ino: number, x = 1) => [{ ino, vector: v4(x) }];
    setMany(fs, c, item(w.files[20]), owner);
    refused(fs, w.all, "EACCES", () => setMany(fs, c, item(w.files[21]), other), /may not write/);
    refused(fs, w.all, "EACCES", () => setMany(fs, c, item(w.files[21]), group), /may not write/);
    fs.setattr(w.files[21], { mode: 0o664 });
    setMany(fs, c, item(w.files[21]), group);
    fs.setattr(w.files[22], { mode: 0o666 });
    setMany(fs, c, item(w.files[22]), other);
    // a world-writable file in a directory the caller may not search stays out of reach
    fs.setattr(w.subs[0], { mode: 0o666 });
    fs.setattr(sub, { mode: 0o700 });
    refused(fs, w.all, "EACCES", () => setMany(fs, c, item(w.subs[0]), other), /may not search/);
    setMany(fs, c, item(w.subs[0]), owner);
    setMany(fs, c, item(w.subs[0], 2), ROOT);
    // one forbidden item refuses the whole call
    refused(fs, w.all, "EACCES", () => setMany(fs, c, [...item(w.files[22], 5), ...item(w.files[23])], other));
    const mode = fs.getattr(c).mode & ~S_IFMT;
    assert.equal(mode, 0o755);
  } finally {
    done(w);
  }
});

Deno.test("SET_VECTORS: no room is ENOSPC before anything is set; a read-only filesystem is EROFS", () => {
  const w = world(4 << 20);
  try {
    const { fs, c } = w;
    const wide = fs.mkdir(ROOT_INO, "wide");
    fs.collections.create(wide, { dim: 2048, metric: "l2", elem: "f32", index: "flat" });
    const filler = fs.create(ROOT_INO, "filler");
    // fill the disk, leaving a little room
    const chunk = new Uint8Array(64 << 10);
    for (let off = 0; fs.statfs().bavail > 40; off += chunk.length) {
      fs.write(filler, off, chunk.subarray(0, Math.min(chunk.length, (fs.statfs().bavail - 40) * 4096)));
    }
    const files: number[] = [];
    for (let i = 0; i < 60; i++) files.push(fs.create(wide, `w${i}`));
    const all = [...w.all, ...files];
    // 8 KiB a vector: 60 of them do not fit in what is left; one call at a time (1 item of 2048-d)
    let set = 0;
    let err: unknown;
    for (const ino of files) {
      try {
        setMany(fs, wide, [{ ino, vector: new Float32Array(2048).fill(set) }]);
        set++;
      } catch (e) {
        err = e;
        break;
      }
    }
    assert.ok(err instanceof FsError && err.code === "ENOSPC", String(err));
    assert.ok(set > 0 && set < 60, `${set} vectors fit`);
    refused(fs, all, "ENOSPC", () => setMany(fs, wide, [{ ino: files[set], vector: new Float32Array(2048) }]));
    assert.equal(fs.collections.get(fs.collections.collectionOfDir(wide)).count, set);
    void c;
  } finally {
    done(w);
  }
  const w2 = world();
  const img = w2.img;
  w2.fs.close();
  const ro = Vexfs.open(img, { readOnly: true });
  try {
    refused(ro, [], "EROFS", () => setMany(ro, w2.c, [{ ino: w2.files[0], vector: v4(1) }]));
  } finally {
    ro.close();
  }
  assertFsckClean(img);
  Deno.removeSync(img);
});
