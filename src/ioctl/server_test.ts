/**
 * Tests of handleIoctl against the engine on temporary images: every
 * command, every refusal, and that a refused call changes nothing.
 */
import { assert, assertEquals, assertMatch } from "../test_assert.ts";
import { FsError } from "../errors.ts";
import { IFL_INTERNAL, INCOMPAT_RECOVER, ROOT_INO } from "../format/constants.ts";
import { Vexfs } from "../fs/fs.ts";
import { assertFsckClean, tmpImage } from "../fs/_testutil.ts";
import {
  COLLECTION_INFO,
  CREATE_COLLECTION,
  decodeCollectionInfoReply,
  decodeCreateCollectionReply,
  decodeFsInfo,
  decodeGetVectorReply,
  decodeIndexReply,
  decodeInoPathReply,
  decodeListCollectionsReply,
  decodeSearch2Reply,
  decodeSearchReply,
  encodeCollectionInfo,
  encodeCreateCollection,
  encodeDelVector,
  encodeGetVector,
  encodeIndex,
  encodeInoPath,
  encodeListCollections,
  encodeSearch,
  encodeSearch2,
  encodeSetVector,
  INDEX,
  type IndexReply,
  type IndexRequest,
  INO_PATH,
  IOC_READ,
  iocDir,
  iocSize,
  iowr,
  LIST_COLLECTIONS,
  SEARCH,
  SEARCH2,
  type Search2Reply,
  VECTOR,
  VEXFS_IOC_COLLECTION_INFO,
  VEXFS_IOC_CREATE_COLLECTION,
  VEXFS_IOC_DEL_VECTOR,
  VEXFS_IOC_FS_INFO,
  VEXFS_IOC_GET_VECTOR,
  VEXFS_IOC_INDEX,
  VEXFS_IOC_INO_PATH,
  VEXFS_IOC_LIST_COLLECTIONS,
  VEXFS_IOC_LIST_MAX,
  VEXFS_IOC_MAGIC,
  VEXFS_IOC_SEARCH,
  VEXFS_IOC_SEARCH2,
  VEXFS_IOC_SET_VECTOR,
  VEXFS_IOC_TYPE,
} from "./abi.ts";
import { handleIoctl, type IoctlCaller, ioctlChangesFs, ioctlWritesDescriptor } from "./server.ts";
import { rng } from "../test_random.ts";

/** Calls handleIoctl with the output size the kernel would ask for. */
function call(fs: Vexfs, ino: number, cmd: number, inData: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = iocDir(cmd) & IOC_READ ? iocSize(cmd) : 0;
  const r = handleIoctl(fs, ino, cmd, inData, out);
  assertEquals(r.length, out, "reply length");
  return r;
}

/** What a refused call must leave alone. */
function snapshot(fs: Vexfs, inos: number[]): string {
  return JSON.stringify({
    collections: fs.collections.list(),
    statfs: fs.statfs(),
    collCount: fs.sb.collCount,
    inodes: inos.map((i) => {
      const n = fs.iget(i).d;
      const v = fs.collections.getVectorBytes(i);
      return [i, n.flags, n.collId, n.vecSlot, n.ctime, v ? [...v.bytes] : null];
    }),
  });
}

/** Asserts that `f` throws FsError `code` (message matching `re`) and changes nothing. */
function refused(fs: Vexfs, inos: number[], code: string, f: () => unknown, re?: RegExp): FsError {
  const before = snapshot(fs, inos);
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  assert(err instanceof FsError, `expected FsError ${code}, got ${err === undefined ? "success" : String(err)}`);
  assertEquals(err.code, code, err.message);
  if (re) assertMatch(err.message, re);
  assertEquals(snapshot(fs, inos), before, `state after refused call (${code})`);
  return err;
}

function poke(b: Uint8Array, off: number, v: number): Uint8Array {
  const c = b.slice();
  c[off] = v;
  return c;
}

function f32(xs: number[]): Float32Array {
  return new Float32Array(xs);
}

interface World {
  img: string;
  fs: Vexfs;
  c: number;
  sub: number;
  a: number;
  b: number;
  s1: number;
  plain: number;
  out: number;
  o: number;
  h: number;
  hf: number;
  big: number;
  w: number;
  q: number;
  qf: number;
  all: number[];
}

/**
 * /c (3-d l2 f32) with a, b (vectors) and sub/s1 (vector), sub/plain (none);
 * /out (no collection) with o; /h (3-d cosine f16) with hf; /q (2-d ip i8)
 * with qf; /big (3000-d l2 f16) with w (vector).
 */
function world(): World {
  const img = tmpImage();
  const fs = Vexfs.open(img);
  const c = fs.mkdir(ROOT_INO, "c");
  fs.collections.create(c, { dim: 3, metric: "l2", elem: "f32" });
  const sub = fs.mkdir(c, "sub");
  const a = fs.create(c, "a");
  const b = fs.create(c, "b");
  const s1 = fs.create(sub, "s1");
  const plain = fs.create(sub, "plain");
  fs.collections.setVector(a, f32([1, 0, 0]));
  fs.collections.setVector(b, f32([0, 1, 0]));
  fs.collections.setVector(s1, f32([0.9, 0.1, 0]));
  const out = fs.mkdir(ROOT_INO, "out");
  const o = fs.create(out, "o");
  const h = fs.mkdir(ROOT_INO, "h");
  fs.collections.create(h, { dim: 3, metric: "cosine", elem: "f16" });
  const hf = fs.create(h, "hf");
  const q = fs.mkdir(ROOT_INO, "q");
  fs.collections.create(q, { dim: 2, metric: "ip", elem: "i8" });
  const qf = fs.create(q, "qf");
  const big = fs.mkdir(ROOT_INO, "big");
  fs.collections.create(big, { dim: 3000, metric: "l2", elem: "f16" });
  const w = fs.create(big, "w");
  fs.collections.setVector(w, new Float32Array(3000).fill(0.5));
  const all = [ROOT_INO, c, sub, a, b, s1, plain, out, o, h, hf, q, qf, big, w];
  return { img, fs, c, sub, a, b, s1, plain, out, o, h, hf, big, w, q, qf, all };
}

function done(w: World): void {
  w.fs.close();
  assertFsckClean(w.img);
  Deno.removeSync(w.img);
}

Deno.test("ioctl server: FS_INFO answers on any descriptor", () => {
  const w = world();
  try {
    for (const ino of [ROOT_INO, w.c, w.a, w.o]) {
      const i = decodeFsInfo(call(w.fs, ino, VEXFS_IOC_FS_INFO));
      assertEquals(i.blockSize, w.fs.blockSize);
      assertEquals(i.formatMajor, w.fs.sb.versionMajor);
      assertEquals(i.formatMinor, w.fs.sb.versionMinor);
      assertEquals(i.uuid, w.fs.sb.uuid);
      assertEquals(i.label, w.fs.sb.label);
      assertEquals(i.collectionCount, 4);
      assertEquals(i.blockCount, w.fs.sb.blockCount);
      assertEquals(i.freeBlocks, w.fs.statfs().bfree);
      assertEquals(i.inodeCount, w.fs.sb.inodeCount);
      assertEquals(i.freeInodes, w.fs.statfs().ffree);
      assertEquals([i.maxDim, i.iocMaxDim, i.iocMaxK], [4096, 2048, 256]);
      // the RECOVER flag only says the journal is open here: FS_INFO leaves it out
      assertEquals(i.featureIncompat, w.fs.sb.featureIncompat & ~INCOMPAT_RECOVER);
      assertEquals(i.readOnly, false);
    }
    // FUSE hands over an unsigned command; a signed 32-bit one works as well
    assertEquals(decodeFsInfo(call(w.fs, ROOT_INO, VEXFS_IOC_FS_INFO | 0)).blockSize, w.fs.blockSize);
    refused(w.fs, w.all, "EINVAL", () => handleIoctl(w.fs, ROOT_INO, VEXFS_IOC_FS_INFO, new Uint8Array(192), 192));
    refused(w.fs, w.all, "EINVAL", () => handleIoctl(w.fs, ROOT_INO, VEXFS_IOC_FS_INFO, new Uint8Array(0), 100));
    refused(w.fs, w.all, "EINVAL", () => handleIoctl(w.fs, ROOT_INO, VEXFS_IOC_FS_INFO, new Uint8Array(0), 0));
  } finally {
    done(w);
  }
});

Deno.test("ioctl server: ioctlChangesFs names the commands that need write permission", () => {
  const writes = [VEXFS_IOC_SET_VECTOR, VEXFS_IOC_DEL_VECTOR, VEXFS_IOC_CREATE_COLLECTION];
  const reads = [
    VEXFS_IOC_FS_INFO,
    VEXFS_IOC_GET_VECTOR,
    VEXFS_IOC_COLLECTION_INFO,
    VEXFS_IOC_SEARCH,
    VEXFS_IOC_INO_PATH,
    VEXFS_IOC_LIST_COLLECTIONS,
    VEXFS_IOC_SEARCH2,
  ];
  for (const c of writes) assertEquals(ioctlChangesFs(c), true);
  for (const c of [...reads, 0, 0xc0085601]) assertEquals(ioctlChangesFs(c), false);
  assertEquals(ioctlChangesFs(VEXFS_IOC_CREATE_COLLECTION | 0), true, "negative (signed 32-bit) numbers work too");
});

Deno.test("ioctl server: unknown commands are ENOTTY", () => {
  const w = world();
  try {
    const cmds = [
      0,
      iowr(VEXFS_IOC_TYPE, 0x0d, 16), // next free VexFS number
      iowr(VEXFS_IOC_TYPE, 0x0a, 16), // SET_VECTORS' number with another size and direction
      iowr(VEXFS_IOC_TYPE, 0x0b, SEARCH.size), // SEARCH2's number with SEARCH's structure
      iowr(VEXFS_IOC_TYPE, 0x09, 16), // LIST_COLLECTIONS' number with another size
      iowr(VEXFS_IOC_TYPE, 0x03, 16), // GET_VECTOR's number with another size
      0xc0085601, // _IOWR('V', 1, 8 bytes)
      0x80086601, // FS_IOC_GETFLAGS
      VEXFS_IOC_SEARCH ^ 0x40000000, // SEARCH as _IOR
    ];
    for (const cmd of cmds) {
      const e = refused(w.fs, w.all, "ENOTTY" as never, () => handleIoctl(w.fs, w.c, cmd, new Uint8Array(0), 0));
      assertEquals(e.errno, 25);
      assertMatch(e.message, /^ENOTTY: .*not a VexFS command/);
    }
  } finally {
    done(w);
  }
});

Deno.test("ioctl server: sizes and headers are checked before anything else", () => {
  const w = world();
  const { fs, all } = w;
  try {
    const set = encodeSetVector(f32([1, 2, 3]));
    // wrong input length, wrong output size
    refused(fs, all, "EINVAL", () => handleIoctl(fs, w.a, VEXFS_IOC_SET_VECTOR, set.subarray(1), 0));
    refused(fs, all, "EINVAL", () => handleIoctl(fs, w.a, VEXFS_IOC_SET_VECTOR, new Uint8Array([...set, 0]), 0));
    refused(fs, all, "EINVAL", () => handleIoctl(fs, w.a, VEXFS_IOC_SET_VECTOR, set, VECTOR.size));
    refused(fs, all, "EINVAL", () => handleIoctl(fs, w.a, VEXFS_IOC_GET_VECTOR, encodeGetVector(), 0));
    refused(fs, all, "EINVAL", () => handleIoctl(fs, w.a, VEXFS_IOC_GET_VECTOR, new Uint8Array(0), VECTOR.size));
    // header fields, for every command with input
    const requests: [number, number, Uint8Array][] = [
      [w.a, VEXFS_IOC_SET_VECTOR, set],
      [w.a, VEXFS_IOC_GET_VECTOR, encodeGetVector()],
      [w.a, VEXFS_IOC_DEL_VECTOR, encodeDelVector()],
      [w.out, VEXFS_IOC_CREATE_COLLECTION, encodeCreateCollection({ dim: 4, metric: "l2", elem: "f32" })],
      [w.c, VEXFS_IOC_COLLECTION_INFO, encodeCollectionInfo()],
      [w.c, VEXFS_IOC_SEARCH, encodeSearch({ k: 2, query: f32([1, 0, 0]), excludeIno: 0 })],
      [w.c, VEXFS_IOC_INO_PATH, encodeInoPath(w.a)],
      [w.o, VEXFS_IOC_LIST_COLLECTIONS, encodeListCollections()],
      [w.c, VEXFS_IOC_SEARCH2, encodeSearch2({ k: 2, query: f32([1, 0, 0]), excludeIno: 0, ef: 0, exact: false })],
      [w.c, VEXFS_IOC_INDEX, encodeIndex({ op: "stats" })],
    ];
    for (const [ino, cmd, req] of requests) {
      const out = iocDir(cmd) & IOC_READ ? req.length : 0;
      const bad: [string, Uint8Array][] = [
        ["magic", poke(req, 0, 0x57)],
        ["version", poke(req, 4, req[4] === 2 ? 1 : 2)], // SEARCH2 is version 2, every other 1
        ["size", poke(req, 6, req[6] ^ 8)],
        ["flags", poke(req, 8, 1)],
        ["reserved", poke(req, 15, 1)],
      ];
      for (const [what, b] of bad) {
        refused(fs, all, "EINVAL", () => handleIoctl(fs, ino, cmd, b, out), new RegExp(`hdr\\.${what}`));
      }
    }
    // a bad header wins over a wrong descriptor type
    refused(fs, all, "EINVAL", () => handleIoctl(fs, w.c, VEXFS_IOC_SET_VECTOR, poke(set, 0, 0), 0));
    // the requests above are fine as they are
    const magic = new DataView(set.buffer).getUint32(0, true);
    assertEquals(magic, VEXFS_IOC_MAGIC);
  } finally {
    done(w);
  }
});

Deno.test("ioctl server: SET_VECTOR and GET_VECTOR round trip, quantized to the element type", () => {
  const w = world();
  const { fs } = w;
  try {
    const genBefore = fs.collections.get(1).generation;
    call(fs, w.a, VEXFS_IOC_SET_VECTOR, encodeSetVector(f32([0.25, -2, 3.5])));
    assertEquals(fs.collections.getVector(w.a), f32([0.25, -2, 3.5]));
    assertEquals(fs.collections.get(1).generation, genBefore + 1);
    let r = decodeGetVectorReply(call(fs, w.a, VEXFS_IOC_GET_VECTOR, encodeGetVector()));
    assertEquals(r, { vector: f32([0.25, -2, 3.5]), collectionId: 1, metric: "l2", elem: "f32" });
    // a file without a vector yet (in a subdirectory of the collection)
    call(fs, w.plain, VEXFS_IOC_SET_VECTOR, encodeSetVector(f32([7, 8, 9])));
    assertEquals(fs.collections.get(1).count, 4);
    // f16: stored rounded, returned decoded
    call(fs, w.hf, VEXFS_IOC_SET_VECTOR, encodeSetVector(f32([0.1, 1, -3])));
    r = decodeGetVectorReply(call(fs, w.hf, VEXFS_IOC_GET_VECTOR, encodeGetVector()));
    assertEquals(r.metric, "cosine");
    assertEquals(r.elem, "f16");
    assertEquals(r.collectionId, 2);
    assert(Math.abs(r.vector[0] - 0.1) < 1e-4 && r.vector[0] !== Math.fround(0.1), "0.1 rounded to f16");
    assertEquals([r.vector[1], r.vector[2]], [1, -3]);
    assertEquals(fs.collections.getVector(w.hf), r.vector);
    // i8
    call(fs, w.qf, VEXFS_IOC_SET_VECTOR, encodeSetVector(f32([-128, 127])));
    r = decodeGetVectorReply(call(fs, w.qf, VEXFS_IOC_GET_VECTOR, encodeGetVector()));
    assertEquals(r, { vector: f32([-128, 127]), collectionId: 3, metric: "ip", elem: "i8" });
    // the request's own fields come back untouched in the reply header
    const raw = call(fs, w.qf, VEXFS_IOC_GET_VECTOR, encodeGetVector());
    assertEquals(new DataView(raw.buffer).getUint16(6, true), VECTOR.size);
  } finally {
    done(w);
  }
});

Deno.test("ioctl server: SET_VECTOR refusals change nothing", () => {
  const w = world();
  const { fs, all } = w;
  const set = (ino: number, b: Uint8Array) => () => handleIoctl(fs, ino, VEXFS_IOC_SET_VECTOR, b, 0);
  try {
    refused(
      fs,
      all,
      "EINVAL",
      set(w.a, encodeSetVector(f32([1, 2]))),
      /has 2 elements but collection 1 has dimension 3/,
    );
    refused(fs, all, "EINVAL", set(w.a, encodeSetVector(f32([1, NaN, 3]))), /NaN|finite/);
    refused(fs, all, "EINVAL", set(w.a, encodeSetVector(f32([1, Infinity, 3]))), /finite/);
    refused(fs, all, "EINVAL", set(w.hf, encodeSetVector(f32([1, 70000, 3]))), /f16/);
    refused(fs, all, "EINVAL", set(w.qf, encodeSetVector(f32([1.5, 2]))), /i8/);
    refused(fs, all, "EINVAL", set(w.qf, encodeSetVector(f32([200, 2]))), /i8/);
    refused(fs, all, "EINVAL", set(w.o, encodeSetVector(f32([1, 2, 3]))), /not inside a vector collection/);
    refused(fs, all, "EINVAL", set(w.w, encodeSetVector(new Float32Array(2048))), /dimension 3000/);
    refused(fs, all, "EISDIR", set(w.c, encodeSetVector(f32([1, 2, 3]))));
    refused(fs, all, "EISDIR", set(ROOT_INO, encodeSetVector(f32([1, 2, 3]))));
    // dim field out of range, garbage in fields the command does not read
    const ok = encodeSetVector(f32([1, 2, 3]));
    const dv = (b: Uint8Array) => new DataView(b.buffer);
    const dim0 = ok.slice();
    dv(dim0).setUint32(VECTOR.off.dim, 0, true);
    refused(fs, all, "EINVAL", set(w.a, dim0), /dim = 0/);
    const dimBig = ok.slice();
    dv(dimBig).setUint32(VECTOR.off.dim, 2049, true);
    refused(fs, all, "EINVAL", set(w.a, dimBig), /dim = 2049.*user\.vexfs\.vector/);
    refused(fs, all, "EINVAL", set(w.a, poke(ok, VECTOR.off.data + 12, 1)), /data past dim 3/);
    refused(fs, all, "EINVAL", set(w.a, poke(ok, VECTOR.off.data + 8191, 1)), /data past dim 3/);
    refused(fs, all, "EINVAL", set(w.a, poke(ok, VECTOR.off.collection_id, 1)), /collection_id/);
    refused(fs, all, "EINVAL", set(w.a, poke(ok, VECTOR.off.metric, 1)), /metric/);
    refused(fs, all, "EINVAL", set(w.a, poke(ok, VECTOR.off.elem_type, 1)), /elem_type/);
    refused(fs, all, "EINVAL", set(w.a, poke(ok, VECTOR.off.reserved0 + 1, 1)), /reserved0/);
    refused(fs, all, "EINVAL", set(w.a, poke(ok, VECTOR.off.reserved1, 1)), /reserved1/);
    // a valid request still works afterwards
    call(fs, w.a, VEXFS_IOC_SET_VECTOR, ok);
    assertEquals(fs.collections.getVector(w.a), f32([1, 2, 3]));
  } finally {
    done(w);
  }
});

Deno.test("ioctl server: GET_VECTOR refusals", () => {
  const w = world();
  const { fs, all } = w;
  const get = (ino: number, b = encodeGetVector()) => () => handleIoctl(fs, ino, VEXFS_IOC_GET_VECTOR, b, VECTOR.size);
  try {
    refused(fs, all, "ENODATA", get(w.plain));
    refused(fs, all, "ENODATA", get(w.o));
    refused(fs, all, "EISDIR", get(w.c));
    refused(fs, all, "EOVERFLOW", get(w.w), /3000 elements.*user\.vexfs\.vector/);
    refused(fs, all, "EINVAL", get(w.a, poke(encodeGetVector(), VECTOR.off.dim, 3)));
    refused(fs, all, "EINVAL", get(w.a, poke(encodeGetVector(), VECTOR.off.data + 100, 3)));
  } finally {
    done(w);
  }
});

Deno.test("ioctl server: DEL_VECTOR deletes once, then ENODATA", () => {
  const w = world();
  const { fs, all } = w;
  const del = (ino: number, b = encodeDelVector()) => () => handleIoctl(fs, ino, VEXFS_IOC_DEL_VECTOR, b, 0);
  try {
    assertEquals(call(fs, w.a, VEXFS_IOC_DEL_VECTOR, encodeDelVector()).length, 0);
    assertEquals(fs.collections.getVector(w.a), null);
    assertEquals(fs.collections.get(1).count, 2);
    refused(fs, all, "ENODATA", del(w.a));
    refused(fs, all, "ENODATA", del(w.plain));
    refused(fs, all, "ENODATA", del(w.o));
    refused(fs, all, "EISDIR", del(w.c));
    refused(fs, all, "EINVAL", del(w.b, poke(encodeDelVector(), 12, 9)), /hdr\.reserved/);
    // the other vectors are intact (swap-remove moved one of them)
    assertEquals(fs.collections.getVector(w.b), f32([0, 1, 0]));
    assertEquals(fs.collections.getVector(w.s1), f32([0.9, 0.1, 0]));
  } finally {
    done(w);
  }
});

Deno.test("ioctl server: CREATE_COLLECTION makes a collection and returns it", () => {
  const P8 = { dim: 8, metric: "l2", elem: "f32" } as const;
  const w = world();
  const { fs, all } = w;
  const create = (ino: number, b: Uint8Array) => () =>
    handleIoctl(fs, ino, VEXFS_IOC_CREATE_COLLECTION, b, CREATE_COLLECTION.size);
  try {
    const d = fs.mkdir(w.out, "new");
    const info = decodeCreateCollectionReply(
      call(fs, d, VEXFS_IOC_CREATE_COLLECTION, encodeCreateCollection({ dim: 4096, metric: "ip", elem: "i8" })),
    );
    assertEquals(info, fs.collections.get(info.id));
    assertEquals([info.rootIno, info.dim, info.metric, info.elem, info.count], [d, 4096, "ip", "i8", 0]);
    assertEquals(fs.sb.collCount, 5);
    const all2 = [...all, d];
    const req = encodeCreateCollection({ dim: 8, metric: "l2", elem: "f32" });
    refused(fs, all2, "EINVAL", create(w.sub, req), /already inside collection 1/);
    refused(fs, all2, "EINVAL", create(w.c, req), /already inside collection 1/);
    refused(fs, all2, "EINVAL", create(ROOT_INO, req), /contains collection/);
    refused(fs, all2, "EINVAL", create(w.out, req), /contains collection/);
    refused(fs, all2, "ENOTDIR", create(w.o, req));
    const e = fs.mkdir(ROOT_INO, "e");
    const all3 = [...all2, e];
    refused(fs, all3, "EINVAL", create(e, encodeCreateCollection({ dim: 0, metric: "l2", elem: "f32" })), /dimension/);
    refused(fs, all3, "EINVAL", create(e, encodeCreateCollection({ dim: 4097, metric: "l2", elem: "f32" })));
    refused(fs, all3, "EINVAL", create(e, poke(req, CREATE_COLLECTION.off.metric, 4)), /metric code 4/);
    refused(fs, all3, "EINVAL", create(e, poke(req, CREATE_COLLECTION.off.metric, 0)), /metric code 0/);
    refused(fs, all3, "EINVAL", create(e, poke(req, CREATE_COLLECTION.off.elem_type, 0)), /element type code 0/);
    refused(fs, all3, "EINVAL", create(e, poke(req, CREATE_COLLECTION.off.reserved0, 1)), /reserved0/);
    refused(fs, all3, "EINVAL", create(e, poke(req, CREATE_COLLECTION.off.index, 3)), /index code 3/);
    refused(fs, all3, "EINVAL", create(e, encodeCreateCollection({ ...P8, m: 1 })), /M 1/);
    refused(
      fs,
      all3,
      "EINVAL",
      create(e, encodeCreateCollection({ ...P8, m: 16, efConstruction: 8 })),
      /efConstruction/,
    );
    // the index parameters arrive and come back in info
    const h = fs.mkdir(ROOT_INO, "hnsw-made");
    const hi = decodeCreateCollectionReply(
      call(
        fs,
        h,
        VEXFS_IOC_CREATE_COLLECTION,
        encodeCreateCollection({ ...P8, m: 8, efConstruction: 64, efSearch: 50 }),
      ),
    );
    assertEquals([hi.index, hi.m, hi.efConstruction, hi.efSearch], ["hnsw", 8, 64, 50]);
    const g = fs.mkdir(ROOT_INO, "flat-made");
    const gi = decodeCreateCollectionReply(
      call(fs, g, VEXFS_IOC_CREATE_COLLECTION, encodeCreateCollection({ ...P8, index: "flat" })),
    );
    assertEquals([gi.index, gi.m, gi.efConstruction], ["flat", 0, 0]);
    refused(fs, all3, "EINVAL", create(e, poke(req, CREATE_COLLECTION.off["info.count"], 1)), /info/);
    // the echo of the request: dim, metric and elem come back as sent
    const f = fs.mkdir(ROOT_INO, "f");
    const raw = call(fs, f, VEXFS_IOC_CREATE_COLLECTION, req);
    assertEquals(raw.subarray(0, 32), req.subarray(0, 32));
    assertEquals(decodeCreateCollectionReply(raw).dim, 8);
  } finally {
    done(w);
  }
});

Deno.test("ioctl server: COLLECTION_INFO of files and directories", () => {
  const w = world();
  const { fs, all } = w;
  const info = (ino: number) =>
    decodeCollectionInfoReply(call(fs, ino, VEXFS_IOC_COLLECTION_INFO, encodeCollectionInfo()));
  try {
    const c1 = fs.collections.get(1);
    for (const ino of [w.c, w.sub, w.a, w.s1, w.plain]) assertEquals(info(ino), c1);
    assertEquals(c1.count, 3);
    assertEquals(c1.bytes, 3 * 3 * 4);
    assertEquals(info(w.w).dim, 3000);
    assertEquals(info(w.w).bytes, 3000 * 2);
    const raw = call(fs, w.c, VEXFS_IOC_COLLECTION_INFO, encodeCollectionInfo());
    const dv = new DataView(raw.buffer);
    assertEquals(dv.getUint16(COLLECTION_INFO.off["info.elem_size"], true), 4);
    assertEquals(dv.getUint8(COLLECTION_INFO.off["info.metric"]), 1);
    const get = (ino: number, b = encodeCollectionInfo()) => () =>
      handleIoctl(fs, ino, VEXFS_IOC_COLLECTION_INFO, b, COLLECTION_INFO.size);
    refused(fs, all, "ENODATA", get(ROOT_INO), /not inside a vector collection/);
    refused(fs, all, "ENODATA", get(w.out));
    refused(fs, all, "ENODATA", get(w.o));
    refused(fs, all, "EINVAL", get(w.c, poke(encodeCollectionInfo(), COLLECTION_INFO.off["info.id"], 1)), /info/);
  } finally {
    done(w);
  }
});

Deno.test("ioctl server: LIST_COLLECTIONS pages through every collection by id, gaps included", () => {
  const w = world();
  const { fs } = w;
  const page = (ino: number, start: number) =>
    decodeListCollectionsReply(call(fs, ino, VEXFS_IOC_LIST_COLLECTIONS, encodeListCollections(start)));
  const listAll = (ino: number) => {
    const got = [];
    let pages = 0;
    for (let start = 0;; pages++) {
      const p = page(ino, start);
      assertEquals(p.total, fs.collections.list().length, "total");
      got.push(...p.collections);
      if (!p.nextId) break;
      assertEquals(p.collections.length, VEXFS_IOC_LIST_MAX, "only the last page is short");
      start = p.nextId;
    }
    return { got, pages: pages + 1 };
  };
  try {
    // the world's 4, from any descriptor, in one page
    for (const ino of [ROOT_INO, w.c, w.a, w.o]) {
      assertEquals(listAll(ino), { got: fs.collections.list(), pages: 1 });
    }
    assertEquals(page(ROOT_INO, 1), page(ROOT_INO, 0), "0 and 1 both start at the first");
    assertEquals(page(ROOT_INO, 3).collections.map((c) => c.id), [3, 4]);
    assertEquals(page(ROOT_INO, 5), { collections: [], nextId: 0, total: 4 });
    assertEquals(page(ROOT_INO, 0xffffffff), { collections: [], nextId: 0, total: 4 });
    // 150 more, then a gap: ids 10..19 dropped with their roots
    const roots = new Map<number, number>();
    for (let i = 0; i < 150; i++) {
      const d = fs.mkdir(ROOT_INO, `m${i}`);
      roots.set(fs.collections.create(d, { dim: 2 + (i % 5), metric: "cosine", elem: "f32" }).id, d);
    }
    for (let id = 10; id < 20; id++) fs.rmdir(ROOT_INO, `m${id - 5}`);
    const all = fs.collections.list();
    assertEquals(all.length, 144);
    assert(!all.some((c) => c.id >= 10 && c.id < 20), "the dropped ids are gone");
    const { got, pages } = listAll(w.sub);
    assertEquals(got, all, "every collection once, in id order, as COLLECTION_INFO reports it");
    assertEquals(pages, 3);
    assertEquals(page(ROOT_INO, 10).collections[0].id, 20, "a start id in a gap starts at the next one");
    // refusals: output fields set on input
    const req = (field: keyof typeof LIST_COLLECTIONS.off, at = 0) =>
      poke(encodeListCollections(), LIST_COLLECTIONS.off[field] + at, 1);
    for (const [field, at] of [["count", 0], ["next_id", 0], ["total", 3], ["entries", 4095]] as const) {
      refused(
        fs,
        w.all,
        "EINVAL",
        () => handleIoctl(fs, ROOT_INO, VEXFS_IOC_LIST_COLLECTIONS, req(field, at), LIST_COLLECTIONS.size),
        new RegExp(field),
      );
    }
  } finally {
    done(w);
  }
});

Deno.test("ioctl server: SEARCH equals the engine's search, restricted to the directory", () => {
  const w = world();
  const { fs } = w;
  try {
    let seed = 11;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5;
    for (let i = 0; i < 40; i++) {
      const f = fs.create(i % 2 ? w.sub : w.c, `r${i}`);
      fs.collections.setVector(f, f32([rnd(), rnd(), rnd()]));
    }
    const gen = fs.collections.get(1).generation;
    for (const dir of [w.c, w.sub]) {
      for (const k of [1, 5, 256]) {
        const query = f32([rnd(), rnd(), rnd()]);
        const req = encodeSearch({ k, query, excludeIno: 0 });
        const raw = call(fs, dir, VEXFS_IOC_SEARCH, req);
        const r = decodeSearchReply(raw);
        const want = fs.collections.search(dir, query, k);
        assertEquals(r.hits.map((h) => h.ino), want.map((h) => h.ino));
        for (let i = 0; i < want.length; i++) assertEquals(r.hits[i].score, Math.fround(want[i].score));
        assertEquals([r.collectionId, r.generation, r.metric, r.elem], [1, gen, "l2", "f32"]);
        // inputs echoed
        assertEquals(raw.subarray(0, 32), req.subarray(0, 32));
        assertEquals(
          raw.subarray(SEARCH.off.query, SEARCH.off.query + 12),
          req.subarray(SEARCH.off.query, SEARCH.off.query + 12),
        );
        // INO_PATH names every hit like the engine's path
        for (let i = 0; i < want.length; i++) {
          const p = decodeInoPathReply(call(fs, dir, VEXFS_IOC_INO_PATH, encodeInoPath(r.hits[i].ino)));
          assertEquals(p, want[i].path);
        }
      }
    }
    // below /c/sub only files of sub: 20 random + s1
    assertEquals(
      decodeSearchReply(
        call(fs, w.sub, VEXFS_IOC_SEARCH, encodeSearch({ k: 256, query: f32([0, 0, 0]), excludeIno: 0 })),
      ).hits.length,
      21,
    );
    // exclude
    const ex = decodeSearchReply(
      call(fs, w.c, VEXFS_IOC_SEARCH, encodeSearch({ k: 3, query: f32([1, 0, 0]), excludeIno: w.a })),
    );
    assert(!ex.hits.some((h) => h.ino === w.a), "excluded inode is not a hit");
    const inc = decodeSearchReply(
      call(fs, w.c, VEXFS_IOC_SEARCH, encodeSearch({ k: 3, query: f32([1, 0, 0]), excludeIno: 0 })),
    );
    assertEquals(inc.hits[0], { ino: w.a, score: 0 });
    // cosine scores on the f16 collection
    fs.collections.setVector(w.hf, f32([1, 1, 0]));
    const cos = decodeSearchReply(
      call(fs, w.h, VEXFS_IOC_SEARCH, encodeSearch({ k: 1, query: f32([2, 2, 0]), excludeIno: 0 })),
    );
    assertEquals(cos.metric, "cosine");
    assert(Math.abs(cos.hits[0].score - 1) < 1e-6, `cosine score ${cos.hits[0].score}`);
    // empty collection: no hits
    assertEquals(
      decodeSearchReply(call(fs, w.q, VEXFS_IOC_SEARCH, encodeSearch({ k: 4, query: f32([1, 1]), excludeIno: 0 })))
        .hits,
      [],
    );
  } finally {
    done(w);
  }
});

Deno.test("ioctl server: SEARCH and INO_PATH take any u64 inode number (above 2^53 it names no inode)", () => {
  const w = world();
  const { fs, all } = w;
  const withU64 = (b: Uint8Array, off: number, v: bigint) => {
    new DataView(b.buffer).setBigUint64(off, v, true);
    return b;
  };
  try {
    const plain = decodeSearchReply(
      call(fs, w.c, VEXFS_IOC_SEARCH, encodeSearch({ k: 3, query: f32([1, 0, 0]), excludeIno: 0 })),
    );
    assertEquals(plain.hits[0].ino, w.a);
    for (const ino of [2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 64n - 1n]) {
      // raw request bytes, as a C caller would pass them: the exclude_ino excludes nothing and is echoed exactly
      const req = withU64(
        encodeSearch({ k: 3, query: f32([1, 0, 0]), excludeIno: 0 }),
        SEARCH.off.exclude_ino,
        ino,
      );
      const raw = call(fs, w.c, VEXFS_IOC_SEARCH, req);
      assertEquals(decodeSearchReply(raw).hits, plain.hits, `exclude_ino ${ino}`);
      assertEquals(new DataView(raw.buffer).getBigUint64(SEARCH.off.exclude_ino, true), ino);
      assertEquals(raw.subarray(0, 32), req.subarray(0, 32), "inputs echoed");
      // INO_PATH of such a number: ENOENT like any inode that does not exist
      const ip = withU64(encodeInoPath(1), INO_PATH.off.ino, ino);
      refused(fs, all, "ENOENT", () => handleIoctl(fs, w.c, VEXFS_IOC_INO_PATH, ip, INO_PATH.size), /has no path/);
    }
  } finally {
    done(w);
  }
});

Deno.test("ioctl server: SEARCH refusals change nothing", () => {
  const w = world();
  const { fs, all } = w;
  const search = (ino: number, b: Uint8Array) => () => handleIoctl(fs, ino, VEXFS_IOC_SEARCH, b, SEARCH.size);
  const req = encodeSearch({ k: 2, query: f32([1, 0, 0]), excludeIno: 0 });
  const dv = (b: Uint8Array) => new DataView(b.buffer);
  try {
    refused(fs, all, "ENOTDIR", search(w.a, req));
    refused(fs, all, "EINVAL", search(w.out, req), /not inside a vector collection/);
    refused(fs, all, "EINVAL", search(ROOT_INO, req), /not inside a vector collection/);
    refused(
      fs,
      all,
      "EINVAL",
      search(w.c, encodeSearch({ k: 2, query: f32([1, 0]), excludeIno: 0 })),
      /2 elements.*dimension 3/,
    );
    refused(
      fs,
      all,
      "EINVAL",
      search(w.big, encodeSearch({ k: 2, query: new Float32Array(2048), excludeIno: 0 })),
      /dimension 3000/,
    );
    refused(fs, all, "EINVAL", search(w.c, encodeSearch({ k: 2, query: f32([1, NaN, 0]), excludeIno: 0 })), /NaN/);
    refused(
      fs,
      all,
      "EINVAL",
      search(w.c, encodeSearch({ k: 2, query: f32([1, -Infinity, 0]), excludeIno: 0 })),
      /finite/,
    );
    const k0 = req.slice();
    dv(k0).setUint32(SEARCH.off.k, 0, true);
    refused(fs, all, "EINVAL", search(w.c, k0), /k = 0/);
    const k257 = req.slice();
    dv(k257).setUint32(SEARCH.off.k, 257, true);
    refused(fs, all, "EINVAL", search(w.c, k257), /k = 257/);
    const d0 = req.slice();
    dv(d0).setUint32(SEARCH.off.dim, 0, true);
    refused(fs, all, "EINVAL", search(w.c, d0), /dim = 0/);
    const d2049 = req.slice();
    dv(d2049).setUint32(SEARCH.off.dim, 2049, true);
    refused(fs, all, "EINVAL", search(w.c, d2049), /dim = 2049/);
    for (
      const f of ["count", "collection_id", "generation", "metric", "elem_type", "reserved0", "reserved1"] as const
    ) {
      refused(fs, all, "EINVAL", search(w.c, poke(req, SEARCH.off[f], 1)), new RegExp(f));
    }
    refused(fs, all, "EINVAL", search(w.c, poke(req, SEARCH.off.query + 12, 1)), /query past dim 3/);
    refused(fs, all, "EINVAL", search(w.c, poke(req, SEARCH.off.hits + 4000, 1)), /hits/);
  } finally {
    done(w);
  }
});

Deno.test("ioctl server: INO_PATH names inodes below the directory", () => {
  const w = world();
  const { fs, all } = w;
  const path = (dir: number, ino: number) => decodeInoPathReply(call(fs, dir, VEXFS_IOC_INO_PATH, encodeInoPath(ino)));
  const get = (dir: number, b: Uint8Array) => () => handleIoctl(fs, dir, VEXFS_IOC_INO_PATH, b, INO_PATH.size);
  try {
    assertEquals(path(ROOT_INO, w.s1), "c/sub/s1");
    assertEquals(path(ROOT_INO, w.c), "c");
    assertEquals(path(w.c, w.s1), "sub/s1");
    assertEquals(path(w.c, w.a), "a");
    assertEquals(path(w.sub, w.s1), "s1");
    assertEquals(path(w.c, w.c), ".");
    assertEquals(path(ROOT_INO, ROOT_INO), ".");
    const raw = call(fs, w.c, VEXFS_IOC_INO_PATH, encodeInoPath(w.s1));
    const dv = new DataView(raw.buffer);
    assertEquals(Number(dv.getBigUint64(INO_PATH.off.ino, true)), w.s1);
    assertEquals(dv.getUint32(INO_PATH.off.len, true), 6);
    assertEquals(raw[INO_PATH.off.path + 6], 0);
    // names that are not UTF-8 come back as their bytes
    const name = new Uint8Array([0x66, 0xff, 0xfe, 0x2e]);
    const odd = fs.create(w.sub, name);
    const oddRaw = call(fs, w.c, VEXFS_IOC_INO_PATH, encodeInoPath(odd));
    const len = new DataView(oddRaw.buffer).getUint32(INO_PATH.off.len, true);
    assertEquals(
      oddRaw.subarray(INO_PATH.off.path, INO_PATH.off.path + len),
      new Uint8Array([...new TextEncoder().encode("sub/"), ...name]),
    );
    // long paths
    let d = w.out;
    for (let i = 0; i < 15; i++) d = fs.mkdir(d, String(i % 10).repeat(255));
    const deep = fs.create(d, "x".repeat(253));
    assertEquals(path(w.out, deep).length, 4093); // fits (4095 + NUL); from the root it is 4097
    assertEquals(path(d, deep), "x".repeat(253));
    const all2 = [...all, odd, d, deep];
    refused(fs, all2, "ENAMETOOLONG", get(ROOT_INO, encodeInoPath(deep)), /4095/);
    // refusals
    refused(fs, all2, "ENOENT", get(w.c, encodeInoPath(w.o)), /not below/);
    refused(fs, all2, "ENOENT", get(w.sub, encodeInoPath(w.a)), /not below/);
    refused(fs, all2, "ENOENT", get(w.sub, encodeInoPath(w.c)), /not below/);
    refused(fs, all2, "ENOENT", get(w.c, encodeInoPath(3))); // the collection table: internal
    // The reserved inodes (1, the collection table 3, the journal 4, 5..first_ino-1) and internal files (the
    // collections' vector stores) have no path: ENOENT as IOCTL.md says, never EUCLEAN on a healthy filesystem.
    const internal: number[] = [];
    for (let i = fs.sb.firstIno; i <= fs.sb.inodeCount && internal.length < 6; i++) {
      if (fs.inodeMap.test(i - 1) && fs.iget(i).d.flags & IFL_INTERNAL) internal.push(i);
    }
    assertEquals(internal.length, 6, "vector and map files of the collections");
    for (const ino of [1, 3, 4, 5, 14, 15, ...internal]) {
      for (const from of [ROOT_INO, w.c]) refused(fs, all2, "ENOENT", get(from, encodeInoPath(ino)), /has no path/);
    }
    refused(fs, all2, "ENOENT", get(w.c, encodeInoPath(0)));
    refused(fs, all2, "ENOENT", get(w.c, encodeInoPath(fs.sb.inodeCount + 1)));
    refused(fs, all2, "ENOENT", get(w.c, encodeInoPath(Number.MAX_SAFE_INTEGER)));
    refused(fs, all2, "ENOTDIR", get(w.a, encodeInoPath(w.a)));
    refused(fs, all2, "EINVAL", get(w.c, poke(encodeInoPath(w.a), INO_PATH.off.len, 1)), /len/);
    refused(fs, all2, "EINVAL", get(w.c, poke(encodeInoPath(w.a), INO_PATH.off.path + 4095, 1)), /path/);
    // an unlinked file has no path
    fs.unlink(w.c, "b");
    refused(fs, all2.filter((i) => i !== w.b), "ENOENT", get(w.c, encodeInoPath(w.b)));
  } finally {
    done(w);
  }
});

Deno.test("ioctl server: a read-only filesystem answers queries and refuses changes with EROFS", () => {
  const w = world();
  w.fs.close();
  const fs = Vexfs.open(w.img, { readOnly: true });
  const ro = { ...w, fs };
  const { all } = ro;
  try {
    const i = decodeFsInfo(call(fs, ROOT_INO, VEXFS_IOC_FS_INFO));
    assertEquals(i.readOnly, true);
    assertEquals(decodeGetVectorReply(call(fs, w.a, VEXFS_IOC_GET_VECTOR, encodeGetVector())).vector, f32([1, 0, 0]));
    assertEquals(decodeCollectionInfoReply(call(fs, w.c, VEXFS_IOC_COLLECTION_INFO, encodeCollectionInfo())).id, 1);
    assertEquals(
      decodeSearchReply(call(fs, w.c, VEXFS_IOC_SEARCH, encodeSearch({ k: 1, query: f32([1, 0, 0]), excludeIno: 0 })))
        .hits[0].ino,
      w.a,
    );
    assertEquals(decodeInoPathReply(call(fs, ROOT_INO, VEXFS_IOC_INO_PATH, encodeInoPath(w.a))), "c/a");
    refused(fs, all, "EROFS", () => handleIoctl(fs, w.a, VEXFS_IOC_SET_VECTOR, encodeSetVector(f32([1, 2, 3])), 0));
    refused(fs, all, "EROFS", () => handleIoctl(fs, w.plain, VEXFS_IOC_SET_VECTOR, encodeSetVector(f32([1, 2, 3])), 0));
    refused(fs, all, "EROFS", () => handleIoctl(fs, w.a, VEXFS_IOC_DEL_VECTOR, encodeDelVector(), 0));
    refused(fs, all, "EROFS", () => handleIoctl(fs, w.s1, VEXFS_IOC_DEL_VECTOR, encodeDelVector(), 0));
    refused(
      fs,
      all,
      "EROFS",
      () =>
        handleIoctl(
          fs,
          w.out,
          VEXFS_IOC_CREATE_COLLECTION,
          encodeCreateCollection({ dim: 3, metric: "l2", elem: "f32" }),
          CREATE_COLLECTION.size,
        ),
    );
    // the vector store is still intact
    assertEquals(fs.collections.getVector(w.s1), f32([0.9, 0.1, 0]));
    assertEquals(fs.collections.owners(1).length, 3);
  } finally {
    fs.close();
    assertFsckClean(w.img);
    Deno.removeSync(w.img);
  }
});

// ------------------------------------------------------------ SEARCH2 and INDEX

interface HnswWorld {
  img: string;
  fs: Vexfs;
  /** /v: 32-d l2 HNSW collection, 2700 files in /v and 300 in /v/sub */
  v: number;
  sub: number;
  /** inode and vector of every file of /v */
  items: { ino: number; vector: Float32Array }[];
  /** /flat: 4-d flat collection with 3 files */
  flat: number;
  /** /few: 4-d HNSW collection with 5 files */
  few: number;
  /** /out: no collection, with file o */
  out: number;
  o: number;
  all: number[];
}

/** 3,000 random 32-d vectors in an HNSW collection, and small flat and HNSW ones (see {@linkcode HnswWorld}). */
function hnswWorld(): HnswWorld {
  const img = tmpImage(128 << 20);
  const fs = Vexfs.open(img);
  const r = rng(2024);
  const v = fs.mkdir(ROOT_INO, "v");
  fs.collections.create(v, { dim: 32, metric: "l2", elem: "f32", index: "hnsw", m: 16, efConstruction: 100 });
  const sub = fs.mkdir(v, "sub");
  const items: { ino: number; vector: Float32Array }[] = [];
  for (let i = 0; i < 3000; i++) {
    const ino = fs.create(i < 2700 ? v : sub, `f${i}`);
    items.push({ ino, vector: Float32Array.from({ length: 32 }, () => r() * 2 - 1) });
  }
  fs.collections.setVectors(items);
  const flat = fs.mkdir(ROOT_INO, "flat");
  fs.collections.create(flat, { dim: 4, metric: "l2", elem: "f32", index: "flat" });
  const few = fs.mkdir(ROOT_INO, "few");
  fs.collections.create(few, { dim: 4, metric: "l2", elem: "f32", index: "hnsw" });
  for (let i = 0; i < 5; i++) {
    fs.collections.setVector(fs.create(flat, `a${i}`), f32([i, 0, 0, 0]));
    fs.collections.setVector(fs.create(few, `b${i}`), f32([0, i, 0, 0]));
  }
  const out = fs.mkdir(ROOT_INO, "out");
  const o = fs.create(out, "o");
  fs.sync();
  return { img, fs, v, sub, items, flat, few, out, o, all: [ROOT_INO, v, sub, flat, few, out, o] };
}

function doneHnsw(w: HnswWorld): void {
  w.fs.close();
  assertFsckClean(w.img);
  Deno.removeSync(w.img);
}

/** Exact top-k by squared L2 (f64), ties by inode: an independent brute force. */
function bruteL2(items: { ino: number; vector: Float32Array }[], q: Float32Array, k: number): number[] {
  return items.map(({ ino, vector }) => {
    let d = 0;
    for (let i = 0; i < q.length; i++) d += (q[i] - vector[i]) ** 2;
    return { ino, d };
  }).sort((a, b) => a.d - b.d || a.ino - b.ino).slice(0, k).map((x) => x.ino);
}

function s2(
  fs: Vexfs,
  dir: number,
  query: Float32Array,
  k: number,
  o: { ef?: number; exact?: boolean; excludeIno?: number } = {},
): Search2Reply {
  const req = { k, query, excludeIno: o.excludeIno ?? 0, ef: o.ef ?? 0, exact: o.exact ?? false };
  const raw = call(fs, dir, VEXFS_IOC_SEARCH2, encodeSearch2(req));
  // the inputs come back unchanged
  const sent = encodeSearch2(req);
  assertEquals(raw.subarray(0, 32), sent.subarray(0, 32));
  assertEquals(raw.subarray(SEARCH2.off.ef, SEARCH2.off.method), sent.subarray(SEARCH2.off.ef, SEARCH2.off.method));
  return decodeSearch2Reply(raw);
}

Deno.test("ioctl server: SEARCH2 answers as the engine's searchEx, with ef through the graph and exact as brute force", () => {
  const w = hnswWorld();
  const { fs } = w;
  try {
    const r = rng(7);
    const gen = fs.collections.get(1).generation;
    let found = 0, wanted = 0;
    for (let t = 0; t < 30; t++) {
      const q = Float32Array.from({ length: 32 }, () => r() * 2 - 1);
      const truth = bruteL2(w.items, q, 10);
      // EXACT: a brute force, whatever the index
      const ex = s2(fs, w.v, q, 10, { exact: true });
      assertEquals(ex.hits.map((h) => h.ino), truth, `exact query ${t}`);
      assertEquals(ex.method, { method: "exact", reason: "exact search asked for" });
      assertEquals(ex.exactReason, "asked");
      assertEquals([ex.collectionId, ex.generation, ex.metric, ex.elem], [1, gen, "l2", "f32"]);
      // an ef: the graph, even though the collection is small enough to scan; the engine's own answer
      const hn = s2(fs, w.v, q, 10, { ef: 200 });
      assertEquals(hn.method, { method: "hnsw", ef: 200 });
      assertEquals(hn.exactReason, undefined);
      const eng = fs.collections.searchEx(w.v, q, 10, { ef: 200, paths: false });
      assertEquals(hn.hits.map((h) => h.ino), eng.hits.map((h) => h.ino));
      hn.hits.forEach((h, i) => assertEquals(h.score, Math.fround(eng.hits[i].score)));
      found += hn.hits.filter((h) => truth.includes(h.ino)).length;
      wanted += truth.length;
      // ef 0: the engine's choice, an exact scan of a collection this small
      const dflt = s2(fs, w.v, q, 10);
      assertEquals(dflt.exactReason, "small");
      assertEquals(dflt.method, { method: "exact", reason: "a small collection: an exact scan is as fast" });
      assertEquals(dflt.hits.map((h) => h.ino), truth);
    }
    assert(found / wanted >= 0.95, `recall@10 at ef 200: ${found / wanted}`);
    const q = f32(new Array(32).fill(0.1));
    // ef below k is raised to k
    assertEquals(s2(fs, w.v, q, 50, { ef: 10 }).method, { method: "hnsw", ef: 50 });
    // a subtree of 300 of 3000 vectors is scanned, ef or not
    const sub = s2(fs, w.sub, q, 10, { ef: 300 });
    assertEquals(sub.exactReason, "subtree");
    const subItems = w.items.slice(2700);
    assertEquals(sub.hits.map((h) => h.ino), bruteL2(subItems, q, 10));
    // exclude
    const first = bruteL2(w.items, q, 1)[0];
    assert(!s2(fs, w.v, q, 5, { ef: 100, excludeIno: first }).hits.some((h) => h.ino === first));
    // a flat collection: exact, reason "flat" (the engine gives none)
    const fl = s2(fs, w.flat, f32([0.9, 0, 0, 0]), 2, { ef: 100 });
    assertEquals([fl.method, fl.exactReason], [{ method: "exact" }, "flat"]);
    assertEquals(fl.hits.map((h) => h.ino), [fs.lookup(w.flat, "a1"), fs.lookup(w.flat, "a0")]);
    assert(Math.abs(fl.hits[0].score - 0.1) < 1e-6 && Math.abs(fl.hits[1].score - 0.9) < 1e-6, "flat scores");
    // k at least the vectors: exact
    const fw = s2(fs, w.few, f32([0, 2, 0, 0]), 10, { ef: 100 });
    assertEquals([fw.method.method, fw.exactReason, fw.hits.length], ["exact", "few", 5]);
    // SEARCH (v1) answers as SEARCH2 with ef 0
    const v1 = decodeSearchReply(call(fs, w.v, VEXFS_IOC_SEARCH, encodeSearch({ k: 10, query: q, excludeIno: 0 })));
    assertEquals(v1.hits, s2(fs, w.v, q, 10).hits);
  } finally {
    doneHnsw(w);
  }
});

Deno.test("ioctl server: SEARCH2 refusals change nothing", () => {
  const w = hnswWorld();
  const { fs, all } = w;
  try {
    const q = f32(new Array(32).fill(0));
    const good = encodeSearch2({ k: 3, query: q, excludeIno: 0, ef: 0, exact: false });
    const set32 = (off: number, v: number) => {
      const b = good.slice();
      new DataView(b.buffer).setUint32(off, v, true);
      return b;
    };
    const run = (ino: number, b: Uint8Array) => () => handleIoctl(fs, ino, VEXFS_IOC_SEARCH2, b, SEARCH2.size);
    refused(fs, all, "EINVAL", run(w.v, set32(SEARCH2.off.flags, 2)), /flags = 0x2/);
    refused(fs, all, "EINVAL", run(w.v, set32(SEARCH2.off.ef, 65536)), /ef = 65536/);
    const both = set32(SEARCH2.off.ef, 50);
    new DataView(both.buffer).setUint32(SEARCH2.off.flags, 1, true);
    refused(fs, all, "EINVAL", run(w.v, both), /exact/);
    refused(fs, all, "EINVAL", run(w.v, poke(good, SEARCH2.off.ef_used, 1)), /ef_used/);
    refused(fs, all, "EINVAL", run(w.v, poke(good, 4, 1)), /hdr\.version is 1/);
    // the engine's checks: dimension, NaN, not in a collection
    const wrongDim = encodeSearch2({ k: 3, query: f32([1, 2, 3]), excludeIno: 0, ef: 0, exact: false });
    refused(fs, all, "EINVAL", run(w.v, wrongDim), /dimension 32/);
    const nan = encodeSearch2({ k: 3, query: f32(new Array(32).fill(NaN)), excludeIno: 0, ef: 50, exact: false });
    refused(fs, all, "EINVAL", run(w.v, nan), /finite/);
    refused(fs, all, "EINVAL", run(w.out, good), /not inside a vector collection/);
    refused(fs, all, "ENOTDIR", run(w.o, good));
    refused(fs, all, "EINVAL", () => handleIoctl(fs, w.v, VEXFS_IOC_SEARCH2, good, SEARCH.size));
  } finally {
    doneHnsw(w);
  }
});

function idx(fs: Vexfs, dir: number, req: IndexRequest, caller?: IoctlCaller): IndexReply {
  const raw = handleIoctl(fs, dir, VEXFS_IOC_INDEX, encodeIndex(req), INDEX.size, caller);
  assertEquals(raw.subarray(0, 32), encodeIndex(req).subarray(0, 32), "the request echoed");
  return decodeIndexReply(raw);
}

Deno.test("ioctl server: INDEX stats, drop, build and optimize; search follows the index", () => {
  const w = hnswWorld();
  const { fs } = w;
  try {
    const q = f32(new Array(32).fill(0.2));
    const st = idx(fs, w.sub, { op: "stats" }); // any directory of the collection
    const eng = fs.collections.indexStats(w.v);
    assertEquals(st.index, "hnsw");
    assertEquals(st.graph!.nodes, 3000);
    assertEquals([st.graph!.m, st.graph!.m0, st.graph!.efConstruction], [16, 32, 100]);
    assertEquals(st.graph!.levels, eng.graph!.levels);
    assertEquals(st.graph!.levels.reduce((a, b) => a + b, 0), 3000);
    assertEquals([st.graph!.maxLevel, st.graph!.entry, st.graph!.bytes], [
      eng.graph!.maxLevel,
      eng.graph!.entry,
      eng.graph!.bytes,
    ]);
    assertEquals([st.collectionId, st.dim, st.metric, st.elem, st.efSearch], [1, 32, "l2", "f32", 0]);
    assertEquals(st.generation, fs.collections.get(1).generation);
    assertEquals([st.current, st.fileBytes], [eng.current, eng.fileBytes]);
    // drop: flat; searches scan
    const gen0 = st.generation;
    const dropped = idx(fs, w.v, { op: "drop" });
    assertEquals([dropped.index, dropped.current, dropped.graph, dropped.fileBytes], ["flat", null, undefined, 0]);
    assert(dropped.generation > gen0, "drop makes a new generation");
    assertEquals(fs.collections.get(1).index, "flat");
    const ex = s2(fs, w.v, q, 10, { ef: 100 });
    assertEquals([ex.method.method, ex.exactReason], ["exact", "flat"]);
    assertEquals(ex.hits.map((h) => h.ino), bruteL2(w.items, q, 10));
    // optimize needs a graph
    refused(fs, w.all, "EINVAL", () => idx(fs, w.v, { op: "optimize" }), /no HNSW index/);
    // build with new parameters: HNSW again
    const built = idx(fs, w.v, { op: "build", m: 8, efConstruction: 64 });
    assertEquals(built.index, "hnsw");
    assertEquals([built.graph!.m, built.graph!.efConstruction, built.graph!.nodes], [8, 64, 3000]);
    assertEquals(built.current, false, "the new graph is written after the next commit");
    assertMatch(built.note, /built from 3000 vectors/);
    assert(built.graph!.buildMs > 0);
    assertEquals([fs.collections.get(1).m, fs.collections.get(1).efConstruction], [8, 64]);
    assertEquals(s2(fs, w.v, q, 10, { ef: 100 }).method, { method: "hnsw", ef: 100 });
    // build without parameters keeps the collection's
    const again = idx(fs, w.v, { op: "build" });
    assertEquals([again.graph!.m, again.graph!.efConstruction], [8, 64]);
    // delete some vectors, then optimize compacts the graph
    for (const it of w.items.slice(0, 100)) fs.collections.deleteVector(it.ino);
    const opt = idx(fs, w.v, { op: "optimize" });
    assertEquals([opt.graph!.nodes, opt.graph!.deleted, opt.graph!.free], [2900, 0, 0]);
    // a commit writes the graph: then it is current
    fs.sync();
    assertEquals(idx(fs, w.v, { op: "stats" }).current, true);
    // the flat collection: stats says so; the engine's figures
    const fl = idx(fs, w.flat, { op: "stats" });
    assertEquals([fl.index, fl.current, fl.graph, fl.collectionId, fl.dim], ["flat", null, undefined, 2, 4]);
  } finally {
    doneHnsw(w);
  }
});

Deno.test("ioctl server: INDEX refusals change nothing: ENOENT, EINVAL, EACCES, ENOTDIR", () => {
  const w = hnswWorld();
  const { fs, all } = w;
  try {
    const run = (ino: number, b: Uint8Array, caller?: IoctlCaller) => () =>
      handleIoctl(fs, ino, VEXFS_IOC_INDEX, b, INDEX.size, caller);
    refused(fs, all, "ENOENT", run(w.out, encodeIndex({ op: "stats" })), /not inside a vector collection/);
    refused(fs, all, "ENOENT", run(ROOT_INO, encodeIndex({ op: "build" })));
    refused(fs, all, "ENOTDIR", run(w.o, encodeIndex({ op: "stats" })));
    refused(fs, all, "EINVAL", run(w.v, encodeIndex({ op: "build", m: 1 })), /M 1/);
    refused(fs, all, "EINVAL", run(w.v, encodeIndex({ op: "build", m: 129 })), /M 129/);
    refused(fs, all, "EINVAL", run(w.v, encodeIndex({ op: "build", m: 32, efConstruction: 16 })), /efConstruction/);
    refused(fs, all, "EINVAL", run(w.v, encodeIndex({ op: "build", efConstruction: 5000 })), /efConstruction/);
    const badOp = encodeIndex({ op: "stats" });
    new DataView(badOp.buffer).setUint32(INDEX.off.op, 9, true);
    refused(fs, all, "EINVAL", run(w.v, badOp), /unknown index op 9/);
    refused(fs, all, "EINVAL", run(w.v, poke(encodeIndex({ op: "stats" }), INDEX.off.note, 65)), /must be zero/);
    refused(fs, all, "EINVAL", run(w.flat, encodeIndex({ op: "optimize" })), /no HNSW index/);
    // a caller who may not write the collection's root may look, not change
    const nobody = { uid: 65534, gid: 65534 };
    for (const op of ["build", "drop", "optimize"] as const) {
      refused(fs, all, "EACCES", run(w.v, encodeIndex({ op }), nobody), /may not write the collection's root/);
    }
    assertEquals(idx(fs, w.sub, { op: "stats" }, nobody).index, "hnsw");
    // ... unless the root's mode lets them
    fs.setattr(w.few, { mode: 0o40777 });
    assertEquals(idx(fs, w.few, { op: "drop" }, nobody).index, "flat");
    // INDEX may change the filesystem (the mount arms its commit timer), but checks its caller itself
    assertEquals(ioctlChangesFs(VEXFS_IOC_INDEX), true);
    // ... by its request: stats reads (a read-only mount answers it), build/drop/optimize change
    assertEquals(ioctlChangesFs(VEXFS_IOC_INDEX, encodeIndex({ op: "stats" })), false);
    for (const op of ["build", "drop", "optimize"] as const) {
      assertEquals(ioctlChangesFs(VEXFS_IOC_INDEX, encodeIndex({ op })), true, op);
    }
    assertEquals(ioctlWritesDescriptor(VEXFS_IOC_INDEX), false);
    assertEquals([ioctlChangesFs(VEXFS_IOC_SEARCH2), ioctlWritesDescriptor(VEXFS_IOC_SEARCH2)], [false, false]);
  } finally {
    doneHnsw(w);
  }
});

Deno.test("ioctl server: a read-only filesystem answers INDEX stats and SEARCH2, refuses index changes with EROFS", () => {
  const w = hnswWorld();
  w.fs.close();
  const fs = Vexfs.open(w.img, { readOnly: true });
  try {
    const st = idx(fs, w.v, { op: "stats" });
    assertEquals([st.index, st.current, st.graph!.nodes], ["hnsw", true, 3000]);
    assertEquals(s2(fs, w.v, f32(new Array(32).fill(0)), 3, { ef: 64 }).method, { method: "hnsw", ef: 64 });
    for (const op of ["build", "drop", "optimize"] as const) {
      refused(fs, w.all, "EROFS", () => idx(fs, w.v, { op }), /read-only/);
    }
    // EROFS comes before the fields are looked at (docs/IOCTL.md §1)
    const badOp = encodeIndex({ op: "stats" });
    new DataView(badOp.buffer).setUint32(INDEX.off.op, 9, true);
    refused(fs, w.all, "EROFS", () => handleIoctl(fs, w.v, VEXFS_IOC_INDEX, badOp, INDEX.size));
    assertEquals(fs.collections.get(1).index, "hnsw");
  } finally {
    fs.close();
    assertFsckClean(w.img);
    Deno.removeSync(w.img);
  }
});
