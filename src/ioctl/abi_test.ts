/**
 * Checks abi.ts against kernel/vexfs_ioctl.h: a generated C probe compiled
 * with gcc prints every command number, `sizeof`, `offsetof` and member
 * size, every constant, and structures filled in C; all must equal the
 * TypeScript tables and encoders. Also compiles the header as C89, C11,
 * C++11 (when g++ is installed) and kernel code, and checks that the C
 * example of docs/IOCTL.md is kernel/examples/vexfs_search.c and builds
 * cleanly.
 *
 * Needs gcc; without it the C checks are skipped with a message (the
 * pure TypeScript checks still run).
 */
import { assert, assertEquals, assertMatch } from "../test_assert.ts";
import { FsError } from "../errors.ts";
import {
  batchMax,
  C_CONSTANTS,
  COLLECTION,
  COLLECTION_INFO,
  COMMANDS,
  CREATE_COLLECTION,
  decodeCollectionInfoReply,
  decodeCreateCollection,
  decodeCreateCollectionReply,
  decodeFsInfo,
  decodeGetVectorReply,
  decodeIndex,
  decodeIndexReply,
  decodeInoPath,
  decodeInoPathReply,
  decodeListCollections,
  decodeListCollectionsReply,
  decodeSearch,
  decodeSearch2,
  decodeSearch2Reply,
  decodeSearchReply,
  decodeSetVector,
  decodeSetVectors,
  encodeCollectionInfoReply,
  encodeCreateCollection,
  encodeCreateCollectionReply,
  encodeFsInfo,
  encodeGetVectorReply,
  encodeIndex,
  encodeIndexReply,
  encodeInoPath,
  encodeInoPathReply,
  encodeListCollections,
  encodeListCollectionsReply,
  encodeSearch,
  encodeSearch2,
  encodeSearch2Reply,
  encodeSearchReply,
  encodeSetVector,
  encodeSetVectors,
  errnoFsError,
  exactReasonOf,
  FS_INFO,
  HDR,
  INDEX,
  type IndexReply,
  INO_PATH,
  IOC_READ,
  IOC_SIZE_MAX,
  IOC_WRITE,
  iocDir,
  iocNr,
  iocSize,
  iocType,
  SEARCH,
  SEARCH2,
  type Search2Reply,
  STRUCTS,
  structVersion,
  VECTOR,
  VEXFS_IOC_DROP_COLLECTION,
  VEXFS_IOC_FS_INFO,
  VEXFS_IOC_GET_VECTOR,
  VEXFS_IOC_INDEX,
  VEXFS_IOC_LIST_COLLECTIONS,
  VEXFS_IOC_LIST_MAX,
  VEXFS_IOC_MAX_DIM,
  VEXFS_IOC_SEARCH,
  VEXFS_IOC_SEARCH2,
  VEXFS_IOC_SEARCH2_VERSION,
  VEXFS_IOC_SET_VECTOR,
  VEXFS_IOC_STATS,
  VEXFS_IOC_TYPE,
  VEXFS_IOC_VERSION,
} from "./abi.ts";
import * as client from "./client.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const HEADER_DIR = `${ROOT}kernel`;
const EXAMPLE = `${ROOT}kernel/examples/vexfs_search.c`;
const DOC = `${ROOT}docs/IOCTL.md`;

async function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function findGcc(): Promise<string | null> {
  for (const cc of ["gcc", "cc"]) {
    try {
      if ((await run(cc, ["--version"])).code === 0) return cc;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return null;
}

const CC = await findGcc();
if (!CC) console.warn("abi_test: gcc not found, C header checks skipped (apt-get install -y gcc)");

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function unhex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

// ------------------------------------------------------------ TypeScript only

Deno.test("ioctl abi: command numbers encode type, number, direction and size", () => {
  const dirs: Record<string, number> = {
    VEXFS_IOC_FS_INFO: IOC_READ,
    VEXFS_IOC_SET_VECTOR: IOC_WRITE,
    VEXFS_IOC_GET_VECTOR: IOC_READ | IOC_WRITE,
    VEXFS_IOC_DEL_VECTOR: IOC_WRITE,
    VEXFS_IOC_CREATE_COLLECTION: IOC_READ | IOC_WRITE,
    VEXFS_IOC_COLLECTION_INFO: IOC_READ | IOC_WRITE,
    VEXFS_IOC_SEARCH: IOC_READ | IOC_WRITE,
    VEXFS_IOC_INO_PATH: IOC_READ | IOC_WRITE,
    VEXFS_IOC_LIST_COLLECTIONS: IOC_READ | IOC_WRITE,
    VEXFS_IOC_SET_VECTORS: IOC_WRITE,
    VEXFS_IOC_SEARCH2: IOC_READ | IOC_WRITE,
    VEXFS_IOC_INDEX: IOC_READ | IOC_WRITE,
    VEXFS_IOC_STATS: IOC_READ,
    VEXFS_IOC_DROP_COLLECTION: IOC_READ | IOC_WRITE,
    VEXFS_IOC_HYBRID: IOC_READ | IOC_WRITE,
    VEXFS_IOC_TEXT_INDEX: IOC_READ | IOC_WRITE,
  };
  assertEquals(COMMANDS.map((c) => c.name), Object.keys(dirs));
  COMMANDS.forEach((c, i) => {
    assertEquals(iocType(c.cmd), VEXFS_IOC_TYPE, c.name);
    assertEquals(iocNr(c.cmd), i + 1, c.name);
    assertEquals(iocDir(c.cmd), dirs[c.name], c.name);
    assertEquals(iocSize(c.cmd), c.layout.size, c.name);
    assert(c.layout.size <= IOC_SIZE_MAX, `${c.name} fits a restricted ioctl`);
  });
  assertEquals(new Set(COMMANDS.map((c) => c.cmd)).size, COMMANDS.length);
  assertEquals(VEXFS_IOC_FS_INFO, 0x80c0e701);
  assertEquals(VEXFS_IOC_SEARCH, 0xf038e707);
  assertEquals(VEXFS_IOC_LIST_COLLECTIONS, 0xd020e709);
  // the numbers docs/IOCTL.md §3 lists
  assertEquals(VEXFS_IOC_SEARCH2, 0xf048e70b);
  assertEquals(VEXFS_IOC_INDEX, 0xc1c0e70c);
  assertEquals(VEXFS_IOC_STATS, 0x9980e70d);
  assertEquals(VEXFS_IOC_DROP_COLLECTION, 0xc030e70e);
});

Deno.test("ioctl abi: SEARCH2 is SEARCH's fields at the same offsets plus its own, with hdr.version 2", () => {
  for (const [f, at] of Object.entries(SEARCH.fields)) {
    if (f === "query" || f === "hits") continue;
    assertEquals(SEARCH2.fields[f as keyof typeof SEARCH2.fields], at, `${f} where SEARCH has it`);
  }
  assertEquals(SEARCH2.fields.query[1], SEARCH.fields.query[1]);
  assertEquals(SEARCH2.fields.hits[1], SEARCH.fields.hits[1]);
  assertEquals(SEARCH2.size, SEARCH.size + 16);
  assertEquals(SEARCH2.off.hits % 8, 0, "hits (u64 ino) 8-aligned");
  assertEquals([structVersion(SEARCH2), structVersion(SEARCH), structVersion(INDEX)], [2, 1, 1]);
  const b = encodeSearch2({ k: 1, query: new Float32Array([1]), excludeIno: 0, ef: 0, exact: false });
  assertEquals(new DataView(b.buffer).getUint16(4, true), VEXFS_IOC_SEARCH2_VERSION);
  // a SEARCH2 structure that says version 1 (a caller that mixed the headers up) is refused
  const v1 = b.slice();
  new DataView(v1.buffer).setUint16(4, VEXFS_IOC_VERSION, true);
  try {
    decodeSearch2(v1);
    throw new Error("no error");
  } catch (e) {
    assert(e instanceof FsError && e.code === "EINVAL", String(e));
    assertMatch(e.message, /hdr\.version is 1; this structure is version 2/);
  }
});

Deno.test("ioctl abi: SEARCH2 requests and replies round trip; bad ef, flags and fields are EINVAL", () => {
  const q = new Float32Array([0.5, -1, 2]);
  for (
    const r of [
      { k: 10, query: q, excludeIno: 5, ef: 0, exact: false },
      { k: 256, query: q, excludeIno: 2n ** 60n, ef: 65535, exact: false },
      { k: 1, query: q, excludeIno: 0, ef: 0, exact: true },
    ]
  ) assertEquals(decodeSearch2(encodeSearch2(r)), r);
  const req = { k: 3, query: q, excludeIno: 0, ef: 200, exact: false };
  const base = {
    hits: [{ ino: 17, score: 0.5 }, { ino: 2 ** 33, score: 1.25 }],
    collectionId: 4,
    generation: 2 ** 40,
    metric: "l2" as const,
    elem: "f16" as const,
  };
  const replies: Search2Reply[] = [
    { ...base, method: { method: "hnsw", ef: 200 } },
    { ...base, method: { method: "exact" }, exactReason: "flat" },
    { ...base, method: { method: "exact", reason: "exact search asked for" }, exactReason: "asked" },
    {
      ...base,
      method: { method: "exact", reason: "a small collection: an exact scan is as fast" },
      exactReason: "small",
    },
    { ...base, method: { method: "exact", reason: "a small subtree is scanned" }, exactReason: "subtree" },
    { ...base, method: { method: "exact", reason: "k ≥ vectors" }, exactReason: "few" },
    {
      ...base,
      method: {
        method: "exact",
        reason: "the HNSW graph is far behind the vectors; scanned exactly until it is caught up",
      },
      exactReason: "stale",
    },
  ];
  for (const rep of replies) {
    assertEquals(decodeSearch2Reply(encodeSearch2Reply(req, rep)), rep);
    // the engine's own wording maps back to the code
    if (rep.exactReason) {
      assertEquals(exactReasonOf(rep.method, rep.exactReason === "flat"), rep.exactReason);
    }
  }
  // unknown codes a newer daemon may send: "other" and "unknown", not an error
  const odd = encodeSearch2Reply(req, replies[1]);
  odd[SEARCH2.off.exact_reason] = 77;
  assertEquals(decodeSearch2Reply(odd).exactReason, "other");
  odd[SEARCH2.off.method] = 9;
  assertEquals(decodeSearch2Reply(odd).method, { method: "unknown" });
  assertEquals(exactReasonOf({ method: "exact", reason: "the moon" }, false), "other");
  // HYBRID with a filter: the files that pass it are few (src/fs/vectors.ts's wording)
  assertEquals(
    exactReasonOf({ method: "exact", reason: "few files pass the filter: they are scanned" }, false),
    "subtree",
  );
  const einval = (f: () => unknown, re: RegExp) => {
    try {
      f();
    } catch (e) {
      assert(e instanceof FsError && e.code === "EINVAL", String(e));
      assertMatch(e.message, re);
      return;
    }
    throw new Error(`no error, ${re} expected`);
  };
  einval(() => encodeSearch2({ ...req, ef: 65536 }), /ef = 65536/);
  einval(() => encodeSearch2({ ...req, ef: -1 }), /ef = -1/);
  einval(() => encodeSearch2({ ...req, ef: 1.5 }), /ef = 1\.5/);
  einval(() => encodeSearch2({ ...req, ef: 10, exact: true }), /exact/);
  const good = encodeSearch2(req);
  const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
  const with32 = (off: number, v: number) => {
    const c = good.slice();
    dv(c).setUint32(off, v, true);
    return c;
  };
  einval(() => decodeSearch2(with32(SEARCH2.off.flags, 2)), /flags = 0x2/);
  einval(() => decodeSearch2(with32(SEARCH2.off.flags, 0x80000001)), /flags/);
  einval(() => decodeSearch2(with32(SEARCH2.off.ef, 65536)), /ef = 65536/);
  einval(() => decodeSearch2(with32(SEARCH2.off.flags, 1)), /exact/); // ef 200 and EXACT
  einval(() => decodeSearch2(with32(SEARCH2.off.k, 0)), /k = 0/);
  for (const f of ["method", "exact_reason", "reserved2", "ef_used", "count", "reserved1"] as const) {
    const c = good.slice();
    c[SEARCH2.off[f]] = 1;
    einval(() => decodeSearch2(c), new RegExp(f));
  }
  const past = good.slice();
  past[SEARCH2.off.query + 4 * 3] = 1;
  einval(() => decodeSearch2(past), /query past dim 3/);
  einval(() => decodeSearch2(encodeSearch({ k: 1, query: q, excludeIno: 0 })), /bytes/);
  // a reply with count > k is EIO
  const broken = encodeSearch2Reply(req, replies[0]);
  dv(broken).setUint32(SEARCH2.off.count, 4, true);
  try {
    decodeSearch2Reply(broken);
    throw new Error("no error");
  } catch (e) {
    assert(e instanceof FsError && e.code === "EIO", String(e));
  }
});

/** An HNSW index reply with every figure set (values that survive the structure exactly). */
function hnswIndexReply(): IndexReply {
  return {
    index: "hnsw",
    current: true,
    note: "built from 3000 vectors in 812 ms",
    fileBytes: 2 ** 35 + 4096,
    collectionId: 7,
    generation: 2 ** 41 + 3,
    efSearch: 50,
    dim: 32,
    metric: "cosine",
    elem: "f32",
    graph: {
      nodes: 2990,
      deleted: 7,
      free: 3,
      nodeCount: 3000,
      upperCount: 210,
      reclaimed: 11,
      levels: [2800, 170, 18, 2],
      maxLevel: 3,
      entry: 1234,
      bytes: 1 << 20,
      memoryBytes: 3 << 20,
      m: 16,
      m0: 32,
      efConstruction: 200,
      dim: 32,
      metric: "cosine",
      elem: "f32",
      buildMs: 812.345,
      insertsSinceBuild: 12,
      distances: 2 ** 36 + 1,
      hops: 999999,
    },
  };
}

Deno.test("ioctl abi: INDEX requests and replies round trip; bad ops and fields are EINVAL", () => {
  for (
    const r of [
      { op: "build" as const },
      { op: "build" as const, m: 24, efConstruction: 400 },
      { op: "drop" as const },
      { op: "optimize" as const },
      { op: "stats" as const },
    ]
  ) assertEquals(decodeIndex(encodeIndex(r)), r);
  // m and ef_construction of 0 read as absent (the collection's)
  assertEquals(decodeIndex(encodeIndex({ op: "build", m: 0, efConstruction: 0 })), { op: "build" });
  const h = hnswIndexReply();
  assertEquals(decodeIndexReply(encodeIndexReply({ op: "stats" }, h)), h);
  const flat: IndexReply = {
    index: "flat",
    current: null,
    note: "exact scans",
    fileBytes: 0,
    collectionId: 2,
    generation: 9,
    efSearch: 0,
    dim: 3,
    metric: "l2",
    elem: "i8",
  };
  const fb = encodeIndexReply({ op: "drop" }, flat);
  assertEquals(decodeIndexReply(fb), flat);
  // a flat reply leaves every graph figure 0
  assertEquals(fb.subarray(INDEX.off.bytes, INDEX.off.ef_search).every((x) => x === 0), true);
  assertEquals(fb.subarray(INDEX.off.hnsw_m, INDEX.off.dim).every((x) => x === 0), true);
  // a long note is cut at a character boundary
  const long = decodeIndexReply(encodeIndexReply({ op: "stats" }, { ...h, note: "é".repeat(100) }));
  assertEquals(long.note, "é".repeat(63));
  const einval = (f: () => unknown, re: RegExp) => {
    try {
      f();
    } catch (e) {
      assert(e instanceof FsError && e.code === "EINVAL", String(e));
      assertMatch(e.message, re);
      return;
    }
    throw new Error(`no error, ${re} expected`);
  };
  einval(() => encodeIndex({ op: "drop", m: 8 } as never), /only apply to build/);
  einval(() => encodeIndex({ op: "build", m: -1 }), /m = -1 is not a u32/);
  einval(() => encodeIndex({ op: "rebuild" } as never), /unknown index operation/);
  const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (const op of [0, 5, 0xffffffff]) {
    const b = encodeIndex({ op: "stats" });
    dv(b).setUint32(INDEX.off.op, op, true);
    einval(() => decodeIndex(b), new RegExp(`unknown index op ${op}`));
  }
  const drop = encodeIndex({ op: "drop" });
  dv(drop).setUint32(INDEX.off.ef_construction, 5, true);
  einval(() => decodeIndex(drop), /except for build/);
  for (const f of ["reserved0", "collection_id", "current", "generation", "levels", "note", "reserved1"] as const) {
    const b = encodeIndex({ op: "stats" });
    b[INDEX.off[f]] = 1;
    einval(() => decodeIndex(b), /must be zero/);
  }
  // replies a broken daemon could send are EIO
  const bad = encodeIndexReply({ op: "stats" }, h);
  bad[INDEX.off.index] = 3;
  try {
    decodeIndexReply(bad);
    throw new Error("no error");
  } catch (e) {
    assert(e instanceof FsError && e.code === "EIO", String(e));
  }
  try {
    encodeIndexReply({ op: "stats" }, { ...h, graph: { ...h.graph!, levels: new Array(33).fill(1) } });
    throw new Error("no error");
  } catch (e) {
    assert(e instanceof FsError && e.code === "EIO", String(e));
  }
});

Deno.test("ioctl abi: layouts are packed, aligned and the same for 32- and 64-bit callers", () => {
  for (const s of STRUCTS) {
    assertEquals(s.size % 8, 0, `${s.cName} size is a multiple of 8`);
    const top = Object.entries(s.fields).filter(([k]) => !k.includes("."));
    if ("hdr.magic" in s.fields) top.push(["hdr", [0, HDR.size]]);
    let end = 0;
    for (const [k, [o, n]] of top.sort((a, b) => a[1][0] - b[1][0])) {
      assertEquals(o, end, `${s.cName}.${k} follows the previous member without padding`);
      end = o + n;
      if (n === 8) assertEquals(o % 8, 0, `${s.cName}.${k} is 8-aligned`);
    }
    assertEquals(end, s.size, `${s.cName} has no tail padding`);
    const embedded = [
      "struct vexfs_ioc_search_hit",
      "struct vexfs_ioc_stats_op",
      "struct vexfs_ioc_stats_errno",
      "struct vexfs_ioc_filter_clause",
      "struct vexfs_ioc_hybrid_hit",
    ];
    if (s !== HDR && s !== COLLECTION && !embedded.includes(s.cName) && s.cName !== "struct vexfs_ioc_stats_op_errno") {
      assertEquals(s.fields["hdr.magic" as keyof typeof s.fields], [0, 4], `${s.cName} starts with the header`);
    }
  }
});

Deno.test("ioctl abi: requests round trip and bad fields are EINVAL", () => {
  const v = new Float32Array([1.5, -2, 0.25]);
  assertEquals(decodeSetVector(encodeSetVector(v)), v);
  const big = new Float32Array(VEXFS_IOC_MAX_DIM).map((_, i) => i / 7);
  assertEquals(decodeSetVector(encodeSetVector(big)), big);
  const r = { k: 256, query: new Float32Array([0.5, -1]), excludeIno: 77 };
  assertEquals(decodeSearch(encodeSearch(r)), r);
  assertEquals(decodeCreateCollection(encodeCreateCollection({ dim: 384, metric: "cosine", elem: "f16" })), {
    dim: 384,
    metric: "cosine",
    elem: "f16",
  });
  assertEquals(decodeInoPath(encodeInoPath(0x123456789)), 0x123456789);
  const einval = (f: () => unknown, re: RegExp) => {
    try {
      f();
    } catch (e) {
      assert(e instanceof FsError && e.code === "EINVAL", String(e));
      assertMatch(e.message, re);
      return;
    }
    throw new Error("no error");
  };
  einval(() => encodeSetVector(new Float32Array(0)), /1\.\.2048/);
  einval(() => encodeSetVector(new Float32Array(2049)), /user\.vexfs\.vector/);
  einval(() => encodeSearch({ k: 0, query: v, excludeIno: 0 }), /k = 0/);
  einval(() => encodeSearch({ k: 257, query: v, excludeIno: 0 }), /k = 257/);
  einval(() => decodeSetVector(new Uint8Array(VECTOR.size)), /magic/);
  einval(() => decodeSetVector(encodeSetVector(v).subarray(8)), /bytes/);
});

Deno.test("ioctl abi: replies round trip; a foreign reply is EIO", () => {
  const info = {
    id: 3,
    rootIno: 2 ** 40 + 5,
    dim: 4096,
    metric: "ip" as const,
    elem: "i8" as const,
    count: 123456789,
    bytes: 123456789 * 4096,
    generation: 2 ** 50,
    created: -5,
  };
  assertEquals(decodeCollectionInfoReply(encodeCollectionInfoReply(info)), info);
  assertEquals(
    decodeCreateCollectionReply(encodeCreateCollectionReply({ dim: 4096, metric: "ip", elem: "i8" }, info)),
    info,
  );
  const sv = { vector: new Float32Array([1, 2]), collectionId: 9, metric: "l2" as const, elem: "f16" as const };
  assertEquals(decodeGetVectorReply(encodeGetVectorReply(sv)), sv);
  const req = { k: 3, query: new Float32Array([1, 0]), excludeIno: 0 };
  const rep = {
    hits: [{ ino: 17, score: 0.5 }, { ino: 2 ** 33, score: -1.25 }],
    collectionId: 1,
    generation: 42,
    metric: "cosine" as const,
    elem: "f32" as const,
  };
  assertEquals(decodeSearchReply(encodeSearchReply(req, rep)), rep);
  assertEquals(decodeInoPathReply(encodeInoPathReply(5, new TextEncoder().encode("a/é/b"))), "a/é/b");
  const page = { collections: [info, { ...info, id: 70 }], nextId: 71, total: 200 };
  assertEquals(decodeListCollectionsReply(encodeListCollectionsReply(3, page)), page);
  assertEquals(decodeListCollections(encodeListCollections(71)), 71);
  const last = { collections: [], nextId: 0, total: 0 };
  assertEquals(decodeListCollectionsReply(encodeListCollectionsReply(0, last)), last);
  // Replies that would make a pager loop or go backwards are EIO.
  for (
    const bad of [
      { start: 0, page: { collections: [], nextId: 5, total: 9 } }, // more to come, yet nothing here
      { start: 0, page: { collections: [info], nextId: 3, total: 9 } }, // next id not past the last id
      { start: 4, page: { collections: [info], nextId: 0, total: 9 } }, // id 3 below the start id 4
      { start: 0, page: { collections: [info, info], nextId: 0, total: 9 } }, // ids not ascending
    ]
  ) {
    try {
      decodeListCollectionsReply(encodeListCollectionsReply(bad.start, bad.page));
      throw new Error(`no error for ${JSON.stringify(bad)}`);
    } catch (e) {
      assert(e instanceof FsError && e.code === "EIO", String(e));
    }
  }
  const full = Array.from({ length: VEXFS_IOC_LIST_MAX + 1 }, (_, i) => ({ ...info, id: i + 1 }));
  try {
    encodeListCollectionsReply(0, { collections: full, nextId: 0, total: full.length });
    throw new Error("no error for 65 collections in a page");
  } catch (e) {
    assert(e instanceof RangeError, String(e));
  }
  const fi = {
    formatMajor: 1,
    formatMinor: 0,
    blockSize: 4096,
    blockCount: 2 ** 36,
    freeBlocks: 7,
    inodeCount: 1000,
    freeInodes: 900,
    collectionCount: 2,
    maxDim: 4096,
    iocMaxDim: 2048,
    iocMaxK: 256,
    featureCompat: 3,
    featureIncompat: 7,
    featureRoCompat: 1,
    readOnly: true,
    uuid: new Uint8Array(16).map((_, i) => i * 17),
    label: "notes ✓",
  };
  assertEquals(decodeFsInfo(encodeFsInfo(fi)), fi);
  assertEquals(decodeFsInfo(encodeFsInfo({ ...fi, label: "é".repeat(40) })).label, "é".repeat(31));
  for (const f of [() => decodeFsInfo(new Uint8Array(FS_INFO.size)), () => decodeSearchReply(new Uint8Array(12))]) {
    try {
      f();
      throw new Error("no error");
    } catch (e) {
      assert(e instanceof FsError && e.code === "EIO", String(e));
    }
  }
  // count > k is a broken reply
  const broken = encodeSearchReply(req, rep);
  new DataView(broken.buffer).setUint32(SEARCH.off.count, 4, true);
  try {
    decodeSearchReply(broken);
    throw new Error("no error");
  } catch (e) {
    assert(e instanceof FsError && e.code === "EIO", String(e));
  }
});

Deno.test("ioctl abi: every u64 field round-trips or is refused with an errno, never a RangeError", () => {
  const u64 = (b: Uint8Array, off: number) => new DataView(b.buffer, b.byteOffset).getBigUint64(off, true);
  const setU64 = (b: Uint8Array, off: number, v: bigint) => {
    const c = b.slice();
    new DataView(c.buffer).setBigUint64(off, v, true);
    return c;
  };
  const fails = (f: () => unknown, code: string, re: RegExp) => {
    try {
      f();
    } catch (e) {
      assert(e instanceof FsError, `FsError ${code} expected, got ${String(e)}`);
      assertEquals(e.code, code, e.message);
      assertMatch(e.message, re);
      return;
    }
    throw new Error(`no error, ${code} expected`);
  };
  const q = new Float32Array([1, 0]);
  // Requests: the inode numbers a caller passes in are any u64 and come back exactly, as number or bigint.
  for (const ino of [0, 1, Number.MAX_SAFE_INTEGER, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n]) {
    const req = encodeSearch({ k: 2, query: q, excludeIno: ino });
    assertEquals(u64(req, SEARCH.off.exclude_ino), BigInt(ino));
    const back = decodeSearch(req);
    assertEquals(back.excludeIno, typeof ino === "bigint" && ino <= 2n ** 53n - 1n ? Number(ino) : ino);
    // the daemon echoes the request: the reply has the same exclude_ino (this threw a RangeError at 2^53)
    const reply = encodeSearchReply(back, {
      hits: [{ ino: 7, score: 1 }],
      collectionId: 1,
      generation: 2,
      metric: "l2",
      elem: "f32",
    });
    assertEquals(u64(reply, SEARCH.off.exclude_ino), BigInt(ino));
    assertEquals(decodeSearchReply(reply).hits, [{ ino: 7, score: 1 }]);
    const ip = encodeInoPath(ino);
    assertEquals(u64(ip, INO_PATH.off.ino), BigInt(ino));
    assertEquals(decodeInoPath(ip), back.excludeIno);
    assertEquals(
      u64(encodeInoPathReply(decodeInoPath(ip), new TextEncoder().encode("a")), INO_PATH.off.ino),
      BigInt(ino),
    );
  }
  // Values that are not a u64 are the caller's mistake: EINVAL naming the field.
  for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 53, 2 ** 64, -1n, 2n ** 64n]) {
    fails(() => encodeSearch({ k: 2, query: q, excludeIno: bad }), "EINVAL", /exclude_ino = .* is not a u64/);
    fails(() => encodeInoPath(bad), "EINVAL", /^EINVAL: ino = .* is not a u64/);
  }
  fails(() => encodeInoPath(2 ** 60), "EINVAL", /lost its low bits; pass a bigint/);
  fails(() => encodeCreateCollection({ dim: -1, metric: "l2", elem: "f32" }), "EINVAL", /dim = -1 is not a u32/);
  fails(() => encodeListCollections(2 ** 32), "EINVAL", /start_id = 4294967296 is not a u32/);
  // Replies: a u64 above 2^53 - 1 cannot be held by a number: EIO naming the field, not a rounded value.
  const info = {
    id: 3,
    rootIno: 9,
    dim: 4,
    metric: "l2" as const,
    elem: "f32" as const,
    count: 1,
    bytes: 16,
    generation: 5,
    created: 1,
  };
  const coll = encodeCollectionInfoReply(info);
  for (const f of ["root_ino", "count", "bytes", "generation"] as const) {
    const at = COLLECTION_INFO.off.info + COLLECTION.off[f];
    assertEquals(
      decodeCollectionInfoReply(setU64(coll, at, 2n ** 53n - 1n))[
        ({ root_ino: "rootIno", count: "count", bytes: "bytes", generation: "generation" } as const)[f]
      ],
      2 ** 53 - 1,
    );
    fails(() => decodeCollectionInfoReply(setU64(coll, at, 2n ** 53n)), "EIO", new RegExp(`${f} = 9007199254740992`));
    fails(() => decodeCollectionInfoReply(setU64(coll, at, 2n ** 64n - 1n)), "EIO", /above 2\^53 - 1/);
  }
  fails(
    () => decodeCollectionInfoReply(setU64(coll, COLLECTION_INFO.off.info + COLLECTION.off.created, 2n ** 63n)),
    "EIO",
    /created = -9223372036854775808/,
  );
  const sr = encodeSearchReply({ k: 2, query: q, excludeIno: 0 }, {
    hits: [{ ino: 7, score: 1 }],
    collectionId: 1,
    generation: 2,
    metric: "l2",
    elem: "f32",
  });
  fails(
    () => decodeSearchReply(setU64(sr, SEARCH.off.hits, 2n ** 64n - 1n)),
    "EIO",
    /hits\[0\]\.ino = 18446744073709551615/,
  );
  fails(() => decodeSearchReply(setU64(sr, SEARCH.off.generation, 2n ** 53n)), "EIO", /generation/);
  const fi = encodeFsInfo({
    formatMajor: 1,
    formatMinor: 0,
    blockSize: 4096,
    blockCount: 100,
    freeBlocks: 7,
    inodeCount: 1000,
    freeInodes: 900,
    collectionCount: 2,
    maxDim: 4096,
    iocMaxDim: 2048,
    iocMaxK: 256,
    featureCompat: 3,
    featureIncompat: 7,
    featureRoCompat: 1,
    readOnly: false,
    uuid: new Uint8Array(16),
    label: "x",
  });
  for (const f of ["block_count", "free_blocks", "inode_count", "free_inodes"] as const) {
    fails(() => decodeFsInfo(setU64(fi, FS_INFO.off[f], 2n ** 60n)), "EIO", new RegExp(`${f} = 1152921504606846976`));
  }
  // A value the filesystem cannot put in a reply (a corrupted count read as a rounded number) is EIO, not a RangeError.
  fails(() => encodeCollectionInfoReply({ ...info, generation: 2 ** 64 }), "EIO", /generation = .* is not a u64/);
  fails(() => encodeCollectionInfoReply({ ...info, count: -1 }), "EIO", /count = -1 is not a u64/);
  fails(() => encodeCollectionInfoReply({ ...info, created: NaN }), "EIO", /created/);
  fails(
    () =>
      encodeSearchReply({ k: 2, query: q, excludeIno: 0 }, {
        hits: [{ ino: 2 ** 53 + 2, score: 1 }],
        collectionId: 1,
        generation: 2,
        metric: "l2",
        elem: "f32",
      }),
    "EIO",
    /hits\[0\]\.ino/,
  );
});

Deno.test("ioctl abi: errnoFsError names errnos, ENOTTY included", () => {
  const e = errnoFsError(25, "not VexFS");
  assert(e instanceof FsError);
  assertEquals([e.code as string, e.errno, e.message], ["ENOTTY", 25, "ENOTTY: not VexFS"]);
  assertEquals([errnoFsError(61, "x").code, errnoFsError(61, "x").errno], ["ENODATA", 61]);
  assertEquals([errnoFsError(999, "x").code, errnoFsError(999, "x").message], ["EIO", "EIO: x (errno 999)"]);
});

// ------------------------------------------------------------ against gcc

/** The probe: prints sizes, offsets, constants, command numbers and structures filled in C. */
function probeProgram(): string {
  const L: string[] = [];
  L.push("#include <stdio.h>", "#include <stddef.h>", "#include <string.h>", '#include "vexfs_ioctl.h"');
  L.push("static void dump(const char *tag, const void *p, size_t n) {");
  L.push('  const unsigned char *b = p; printf("dump\\t%s\\t", tag);');
  L.push('  for (size_t i = 0; i < n; i++) printf("%02x", b[i]);');
  L.push('  printf("\\n");', "}");
  L.push("static void hdr(struct vexfs_ioc_hdr *h, size_t n) {");
  L.push("  memset(h, 0, n); h->magic = VEXFS_IOC_MAGIC; h->version = VEXFS_IOC_VERSION; h->size = (__u16)n;", "}");
  L.push("int main(void) {");
  for (const s of STRUCTS) {
    L.push(`  printf("size\\t%s\\t%zu\\n", "${s.cName}", sizeof(${s.cName}));`);
    for (const f of Object.keys(s.fields)) {
      L.push(
        `  printf("field\\t%s\\t%s\\t%zu\\t%zu\\n", "${s.cName}", "${f}", ` +
          `offsetof(${s.cName}, ${f}), sizeof(((${s.cName} *)0)->${f}));`,
      );
    }
  }
  for (const c of COMMANDS) L.push(`  printf("cmd\\t%s\\t%lu\\n", "${c.name}", (unsigned long)(${c.name}));`);
  for (const name of Object.keys(C_CONSTANTS)) {
    L.push(`  printf("const\\t%s\\t%lld\\n", "${name}", (long long)(${name}));`);
  }
  L.push(`  printf("limit\\t_IOC_SIZEMASK\\t%lu\\n", (unsigned long)_IOC_SIZEMASK);`);
  // Requests filled in C, compared with the TypeScript encoders.
  L.push("  { static struct vexfs_ioc_vector v; hdr(&v.hdr, sizeof v);");
  L.push('    v.dim = 3; v.data[0] = 1.5f; v.data[1] = -2.0f; v.data[2] = 0.25f; dump("set", &v, sizeof v); }');
  L.push("  { static struct vexfs_ioc_search s; hdr(&s.hdr, sizeof s);");
  L.push("    s.k = 10; s.dim = 2; s.exclude_ino = 77; s.query[0] = 0.5f; s.query[1] = -1.0f;");
  L.push('    dump("search", &s, sizeof s);');
  L.push("    s.count = 2; s.collection_id = 4; s.generation = 0x100000001ULL;");
  L.push("    s.metric = VEXFS_METRIC_COSINE; s.elem_type = VEXFS_ELEM_F16;");
  L.push("    s.hits[0].ino = 21; s.hits[0].score = 0.75f; s.hits[1].ino = 0x200000000ULL; s.hits[1].score = -3.0f;");
  L.push('    dump("search_reply", &s, sizeof s); }');
  L.push("  { struct vexfs_ioc_create_collection c; hdr(&c.hdr, sizeof c);");
  L.push("    c.dim = 384; c.metric = VEXFS_METRIC_COSINE; c.elem_type = VEXFS_ELEM_F16;");
  L.push('    dump("create", &c, sizeof c);');
  L.push("    c.info.id = 2; c.info.dim = 384; c.info.root_ino = 12; c.info.metric = VEXFS_METRIC_COSINE;");
  L.push("    c.info.elem_type = VEXFS_ELEM_F16; c.info.elem_size = 2; c.info.count = 5; c.info.bytes = 3840;");
  L.push("    c.info.generation = 9; c.info.created = 1700000000;");
  L.push('    dump("create_reply", &c, sizeof c); }');
  L.push("  { static struct vexfs_ioc_ino_path p; hdr(&p.hdr, sizeof p); p.ino = 0x123456789ULL;");
  L.push('    dump("ino_path", &p, sizeof p);');
  L.push('    p.len = 3; memcpy(p.path, "a/b", 4); dump("ino_path_reply", &p, sizeof p); }');
  L.push("  { static struct vexfs_ioc_list_collections l; hdr(&l.hdr, sizeof l); l.start_id = 7;");
  L.push('    dump("list", &l, sizeof l);');
  L.push("    l.count = 2; l.next_id = 0x40; l.total = 100;");
  L.push("    for (int i = 0; i < 2; i++) { struct vexfs_ioc_collection *c = &l.entries[i];");
  L.push("      c->id = (__u32)(7 + 9 * i); c->dim = 3; c->root_ino = 0x300000000ULL + (__u64)i;");
  L.push("      c->metric = VEXFS_METRIC_L2; c->elem_type = VEXFS_ELEM_F32; c->elem_size = 4;");
  L.push("      c->count = 10; c->bytes = 120; c->generation = 11; c->created = -1; }");
  L.push('    dump("list_reply", &l, sizeof l); }');
  L.push("  { struct vexfs_ioc_fs_info f; hdr(&f.hdr, sizeof f);");
  L.push("    f.format_major = 1; f.format_minor = 2; f.block_size = 4096; f.block_count = 0x1000000000ULL;");
  L.push("    f.free_blocks = 5; f.inode_count = 64; f.free_inodes = 40; f.collection_count = 3;");
  L.push("    f.max_dim = VEXFS_MAX_DIM; f.ioc_max_dim = VEXFS_IOC_MAX_DIM; f.ioc_max_k = VEXFS_IOC_MAX_K;");
  L.push(
    "    f.feature_compat = 3; f.feature_incompat = 7; f.feature_ro_compat = 1; f.fs_flags = VEXFS_IOC_FS_RDONLY;",
  );
  L.push("    for (int i = 0; i < 16; i++) f.uuid[i] = (__u8)(i * 17);");
  L.push('    strcpy(f.label, "notes"); dump("fs_info", &f, sizeof f); }');
  L.push("  { static struct vexfs_ioc_vector v; hdr(&v.hdr, sizeof v);");
  L.push("    v.dim = 2; v.collection_id = 7; v.metric = VEXFS_METRIC_IP; v.elem_type = VEXFS_ELEM_I8;");
  L.push('    v.data[0] = -128.0f; v.data[1] = 127.0f; dump("get_reply", &v, sizeof v); }');
  // SET_VECTORS filled through the header's item macros
  L.push("  { static struct vexfs_ioc_set_vectors s; hdr(&s.hdr, sizeof s); s.dim = 3; s.count = 2;");
  L.push("    s.flags = VEXFS_IOC_BATCH_CHECK;");
  L.push("    VEXFS_IOC_BATCH_INO(&s, 0) = 12; VEXFS_IOC_BATCH_INO(&s, 1) = 0x300000000ULL;");
  L.push("    VEXFS_IOC_BATCH_VEC(&s, 0)[0] = 1.5f; VEXFS_IOC_BATCH_VEC(&s, 0)[2] = -2.0f;");
  L.push("    VEXFS_IOC_BATCH_VEC(&s, 1)[1] = 0.25f; VEXFS_IOC_BATCH_VEC(&s, 1)[2] = 8.0f;");
  L.push('    dump("set_vectors", &s, sizeof s); }');
  // SEARCH2: request and reply; hdr.version is VEXFS_IOC_SEARCH2_VERSION
  L.push("  { static struct vexfs_ioc_search2 s; hdr(&s.hdr, sizeof s); s.hdr.version = VEXFS_IOC_SEARCH2_VERSION;");
  L.push("    s.k = 10; s.dim = 2; s.exclude_ino = 77; s.ef = 200; s.query[0] = 0.5f; s.query[1] = -1.0f;");
  L.push('    dump("search2", &s, sizeof s);');
  L.push("    s.count = 2; s.collection_id = 4; s.generation = 0x100000001ULL;");
  L.push("    s.metric = VEXFS_METRIC_L2; s.elem_type = VEXFS_ELEM_F32;");
  L.push("    s.method = VEXFS_SEARCH_METHOD_HNSW; s.ef_used = 200;");
  L.push("    s.hits[0].ino = 21; s.hits[0].score = 0.75f; s.hits[1].ino = 0x200000000ULL; s.hits[1].score = 3.0f;");
  L.push('    dump("search2_reply", &s, sizeof s);');
  L.push("    s.ef = 0; s.flags = VEXFS_IOC_SEARCH2_EXACT; s.method = VEXFS_SEARCH_METHOD_EXACT;");
  L.push('    s.exact_reason = VEXFS_EXACT_ASKED; s.ef_used = 0; dump("search2_exact_reply", &s, sizeof s); }');
  // INDEX: request and an HNSW reply
  L.push("  { struct vexfs_ioc_index x; hdr(&x.hdr, sizeof x);");
  L.push('    x.op = VEXFS_INDEX_OP_BUILD; x.m = 24; x.ef_construction = 400; dump("index", &x, sizeof x);');
  L.push("    x.collection_id = 7; x.index = VEXFS_INDEX_HNSW; x.current = 1; x.metric = VEXFS_METRIC_COSINE;");
  L.push("    x.elem_type = VEXFS_ELEM_F32; x.generation = 0x20000000003ULL; x.file_bytes = 0x800001000ULL;");
  L.push("    x.bytes = 1 << 20; x.memory_bytes = 3 << 20; x.build_us = 812345; x.distances = 0x1000000001ULL;");
  L.push("    x.hops = 999999; x.nodes = 2990; x.deleted = 7; x.free = 3; x.node_count = 3000;");
  L.push("    x.upper_count = 210; x.reclaimed = 11; x.inserts_since_build = 12; x.ef_search = 50;");
  L.push("    x.hnsw_m = 16; x.hnsw_m0 = 32; x.hnsw_ef_c = 200; x.max_level = 3; x.level_count = 4;");
  L.push("    x.dim = 32; x.entry = 1234;");
  L.push("    x.levels[0] = 2800; x.levels[1] = 170; x.levels[2] = 18; x.levels[3] = 2;");
  L.push('    strcpy(x.note, "built from 3000 vectors in 812 ms"); dump("index_reply", &x, sizeof x); }');
  L.push("  { struct vexfs_ioc_index x; hdr(&x.hdr, sizeof x); x.op = VEXFS_INDEX_OP_STATS; x.entry = -1;");
  L.push('    dump("index_entry", &x, sizeof x); }');
  for (const d of [1, 3, 128, 384, 2048]) {
    L.push(`  printf("batch_max\\t%d\\t%d\\n", ${d}, (int)VEXFS_IOC_BATCH_MAX(${d}));`);
  }
  L.push("  return 0;", "}");
  return L.join("\n") + "\n";
}

Deno.test({
  name: "ioctl abi: abi.ts matches kernel/vexfs_ioctl.h compiled with gcc",
  ignore: CC === null,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "vexfs-ioctl-abi-" });
    try {
      const src = `${dir}/probe.c`;
      const exe = `${dir}/probe`;
      await Deno.writeTextFile(src, probeProgram());
      const cc = await run(CC!, ["-std=c11", "-Wall", "-Wextra", "-Werror", "-I", HEADER_DIR, src, "-o", exe]);
      assertEquals(cc.code, 0, `gcc failed:\n${cc.stderr}`);
      const probe = await run(exe, []);
      assertEquals(probe.code, 0, probe.stderr);
      const sizes = new Map<string, number>();
      const fields = new Map<string, [number, number]>();
      const cmds = new Map<string, number>();
      const consts = new Map<string, number>();
      const dumps = new Map<string, Uint8Array>();
      let sizeMask = 0;
      const batchMaxes = new Map<number, number>();
      for (const line of probe.stdout.trim().split("\n")) {
        const p = line.split("\t");
        if (p[0] === "size") sizes.set(p[1], Number(p[2]));
        else if (p[0] === "field") fields.set(`${p[1]}.${p[2]}`, [Number(p[3]), Number(p[4])]);
        else if (p[0] === "cmd") cmds.set(p[1], Number(p[2]));
        else if (p[0] === "const") consts.set(p[1], Number(p[2]));
        else if (p[0] === "dump") dumps.set(p[1], unhex(p[2]));
        else if (p[0] === "limit") sizeMask = Number(p[2]);
        else if (p[0] === "batch_max") batchMaxes.set(Number(p[1]), Number(p[2]));
      }
      for (const s of STRUCTS) {
        assertEquals(sizes.get(s.cName), s.size, `sizeof(${s.cName})`);
        for (const [f, want] of Object.entries(s.fields)) {
          assertEquals(fields.get(`${s.cName}.${f}`), [...want], `${s.cName}.${f} [offset, size]`);
        }
      }
      for (const c of COMMANDS) assertEquals(cmds.get(c.name), c.cmd, `${c.name} = 0x${c.cmd.toString(16)}`);
      for (const [name, v] of Object.entries(C_CONSTANTS)) assertEquals(consts.get(name), v, name);
      assertEquals(sizeMask, IOC_SIZE_MAX, "_IOC_SIZEMASK");

      // Encoders produce the bytes C produces.
      assertEquals(hex(encodeSetVector(new Float32Array([1.5, -2, 0.25]))), hex(dumps.get("set")!), "SET_VECTOR");
      const sreq = { k: 10, query: new Float32Array([0.5, -1]), excludeIno: 77 };
      assertEquals(hex(encodeSearch(sreq)), hex(dumps.get("search")!), "SEARCH request");
      const srep = {
        hits: [{ ino: 21, score: 0.75 }, { ino: 2 ** 33, score: -3 }],
        collectionId: 4,
        generation: 2 ** 32 + 1,
        metric: "cosine" as const,
        elem: "f16" as const,
      };
      assertEquals(hex(encodeSearchReply(sreq, srep)), hex(dumps.get("search_reply")!), "SEARCH reply");
      assertEquals(decodeSearchReply(dumps.get("search_reply")!), srep);
      const cp = { dim: 384, metric: "cosine" as const, elem: "f16" as const };
      assertEquals(hex(encodeCreateCollection(cp)), hex(dumps.get("create")!), "CREATE_COLLECTION request");
      const ci = {
        id: 2,
        rootIno: 12,
        dim: 384,
        metric: "cosine" as const,
        elem: "f16" as const,
        count: 5,
        bytes: 3840,
        generation: 9,
        created: 1700000000,
      };
      assertEquals(hex(encodeCreateCollectionReply(cp, ci)), hex(dumps.get("create_reply")!), "CREATE reply");
      assertEquals(decodeCreateCollectionReply(dumps.get("create_reply")!), ci);
      assertEquals(hex(encodeInoPath(0x123456789)), hex(dumps.get("ino_path")!), "INO_PATH request");
      assertEquals(decodeInoPathReply(dumps.get("ino_path_reply")!), "a/b");
      assertEquals(
        hex(encodeInoPathReply(0x123456789, new TextEncoder().encode("a/b"))),
        hex(dumps.get("ino_path_reply")!),
      );
      assertEquals(hex(encodeListCollections(7)), hex(dumps.get("list")!), "LIST_COLLECTIONS request");
      const lc = { rootIno: 3 * 2 ** 32, dim: 3, metric: "l2" as const, elem: "f32" as const, count: 10 };
      const lpage = {
        collections: [
          { ...lc, id: 7, bytes: 120, generation: 11, created: -1 },
          { ...lc, id: 16, rootIno: 3 * 2 ** 32 + 1, bytes: 120, generation: 11, created: -1 },
        ],
        nextId: 0x40,
        total: 100,
      };
      assertEquals(decodeListCollectionsReply(dumps.get("list_reply")!), lpage);
      assertEquals(hex(encodeListCollectionsReply(7, lpage)), hex(dumps.get("list_reply")!), "LIST reply");
      const fi = decodeFsInfo(dumps.get("fs_info")!);
      assertEquals(fi, {
        formatMajor: 1,
        formatMinor: 2,
        blockSize: 4096,
        blockCount: 2 ** 36,
        freeBlocks: 5,
        inodeCount: 64,
        freeInodes: 40,
        collectionCount: 3,
        maxDim: 4096,
        iocMaxDim: 2048,
        iocMaxK: 256,
        featureCompat: 3,
        featureIncompat: 7,
        featureRoCompat: 1,
        readOnly: true,
        uuid: new Uint8Array(16).map((_, i) => i * 17),
        label: "notes",
      });
      assertEquals(hex(encodeFsInfo(fi)), hex(dumps.get("fs_info")!), "FS_INFO");
      const gv = decodeGetVectorReply(dumps.get("get_reply")!);
      assertEquals(gv, { vector: new Float32Array([-128, 127]), collectionId: 7, metric: "ip", elem: "i8" });
      assertEquals(hex(encodeGetVectorReply(gv)), hex(dumps.get("get_reply")!), "GET_VECTOR reply");
      assertEquals(VEXFS_IOC_GET_VECTOR & 0xffff, (VEXFS_IOC_TYPE << 8) | 3);
      const batch = [
        { ino: 12, vector: new Float32Array([1.5, 0, -2]) },
        { ino: 0x300000000, vector: new Float32Array([0, 0.25, 8]) },
      ];
      assertEquals(hex(encodeSetVectors(batch, { check: true })), hex(dumps.get("set_vectors")!), "SET_VECTORS");
      assertEquals(decodeSetVectors(dumps.get("set_vectors")!), { dim: 3, items: batch, check: true });
      for (const [d, n] of batchMaxes) assertEquals(batchMax(d), n, `VEXFS_IOC_BATCH_MAX(${d})`);
      assertEquals(batchMaxes.size, 5);
      assertEquals(CREATE_COLLECTION.off.info, 32);
      // SEARCH2 and INDEX filled in C equal the TypeScript encoders
      const s2req = { k: 10, query: new Float32Array([0.5, -1]), excludeIno: 77, ef: 200, exact: false };
      assertEquals(hex(encodeSearch2(s2req)), hex(dumps.get("search2")!), "SEARCH2 request");
      const s2rep: Search2Reply = {
        hits: [{ ino: 21, score: 0.75 }, { ino: 2 ** 33, score: 3 }],
        collectionId: 4,
        generation: 2 ** 32 + 1,
        metric: "l2",
        elem: "f32",
        method: { method: "hnsw", ef: 200 },
      };
      assertEquals(hex(encodeSearch2Reply(s2req, s2rep)), hex(dumps.get("search2_reply")!), "SEARCH2 reply");
      assertEquals(decodeSearch2Reply(dumps.get("search2_reply")!), s2rep);
      const s2exact = { ...s2req, ef: 0, exact: true };
      const s2erep: Search2Reply = {
        ...s2rep,
        method: { method: "exact", reason: "exact search asked for" },
        exactReason: "asked",
      };
      assertEquals(hex(encodeSearch2Reply(s2exact, s2erep)), hex(dumps.get("search2_exact_reply")!), "exact reply");
      assertEquals(decodeSearch2Reply(dumps.get("search2_exact_reply")!), s2erep);
      assertEquals(decodeSearch2(dumps.get("search2")!), s2req);
      const ireq = { op: "build" as const, m: 24, efConstruction: 400 };
      assertEquals(hex(encodeIndex(ireq)), hex(dumps.get("index")!), "INDEX request");
      assertEquals(decodeIndex(dumps.get("index")!), ireq);
      const h = hnswIndexReply();
      assertEquals(hex(encodeIndexReply(ireq, h)), hex(dumps.get("index_reply")!), "INDEX reply");
      assertEquals(decodeIndexReply(dumps.get("index_reply")!), h);
      assertEquals(
        new DataView(dumps.get("index_entry")!.buffer).getInt32(INDEX.off.entry, true),
        -1,
        "entry is signed",
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "ioctl abi: the header builds as C89, C11, C++11 and kernel code",
  ignore: CC === null,
  async fn() {
    const h = `${HEADER_DIR}/vexfs_ioctl.h`;
    const variants: [string, string[]][] = [
      ["C89", ["-x", "c", "-std=c89", "-pedantic"]],
      ["C11", ["-x", "c", "-std=c11", "-pedantic"]],
      ["gnu11 with __KERNEL__", ["-x", "c", "-std=gnu11", "-D__KERNEL__"]],
      ["C++11", ["-x", "c++", "-std=c++11", "-pedantic"]],
    ];
    for (const [what, flags] of variants) {
      const r = await run(CC!, [...flags, "-Wall", "-Wextra", "-Werror", "-fsyntax-only", h]);
      if (what === "C++11" && r.code !== 0 && /cc1plus|not installed|No such file/.test(r.stderr)) {
        console.warn(`abi_test: no C++ compiler (apt-get install -y g++), C++ check of the header skipped`);
        continue;
      }
      assertEquals(r.code, 0, `${what}:\n${r.stderr}`);
    }
    // A size macro that disagrees with the structure fails the build (the _Static_assert works).
    const dir = await Deno.makeTempDir({ prefix: "vexfs-ioctl-hdr-" });
    let bad: { code: number; stderr: string };
    try {
      const text = await Deno.readTextFile(h);
      const broken = text.replace(/(#define VEXFS_IOC_SEARCH_SIZE\s+)12344/, (_, def) => `${def}12352`);
      assert(broken !== text, "VEXFS_IOC_SEARCH_SIZE is defined as 12344");
      await Deno.writeTextFile(`${dir}/vexfs_ioctl.h`, broken);
      bad = await run(CC!, ["-x", "c", "-std=c11", "-fsyntax-only", `${dir}/vexfs_ioctl.h`]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
    assertMatch(bad.stderr, /sizeof\(struct vexfs_ioc_search\) != VEXFS_IOC_SEARCH_SIZE/);
    assert(bad.code !== 0, "a wrong size macro must fail the build");
  },
});

Deno.test({
  name: "ioctl abi: the C example of docs/IOCTL.md is kernel/examples/vexfs_search.c and builds cleanly",
  ignore: CC === null,
  async fn() {
    const doc = await Deno.readTextFile(DOC);
    const example = await Deno.readTextFile(EXAMPLE);
    const m = doc.match(/```c\n(\/\*\n \* vexfs_search:[\s\S]*?)```/);
    assert(m, "docs/IOCTL.md has the vexfs_search example in a ```c block");
    assertEquals(m[1], example, "the example in docs/IOCTL.md and kernel/examples/vexfs_search.c differ");
    const dir = await Deno.makeTempDir({ prefix: "vexfs-ioctl-example-" });
    try {
      const exe = `${dir}/vexfs_search`;
      const cc = await run(CC!, [
        "-std=c11",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-pedantic",
        "-I",
        HEADER_DIR,
        EXAMPLE,
        "-o",
        exe,
      ]);
      assertEquals(cc.code, 0, `gcc failed:\n${cc.stderr}`);
      // On a directory that is not VexFS it says so and exits with 2.
      const r = await run(exe, [dir, "3", "0.1", "0.2"]);
      assertEquals(r.code, 2, r.stderr);
      assertMatch(r.stderr, /not on a mounted VexFS/);
      assertEquals((await run(exe, [])).code, 1);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ------------------------------------------------------------ client, without a mount

/** Assembles `src` for `arch` and returns the bytes of .text, or null without an assembler for it. */
async function assemble(arch: "x86_64" | "aarch64", src: string, dir: string): Promise<Uint8Array | null> {
  const obj = `${dir}/${arch}.o`;
  const bin = `${dir}/${arch}.bin`;
  await Deno.writeTextFile(`${dir}/${arch}.s`, src);
  const native = Deno.build.arch === arch;
  const r = native
    ? await run(CC!, ["-c", "-x", "assembler", `${dir}/${arch}.s`, "-o", obj])
    : await run("llvm-mc", [`-triple=${arch}-linux-gnu`, "-filetype=obj", `${dir}/${arch}.s`, "-o", obj])
      .catch(() => null);
  if (!r || r.code !== 0) {
    if (native) throw new Error(`assembler failed:\n${r?.stderr}`);
    return null;
  }
  const oc = await run("objcopy", ["-O", "binary", "-j", ".text", obj, bin]).catch(() => null);
  if (!oc || oc.code !== 0) return null;
  return await Deno.readFile(bin);
}

Deno.test({
  name: "ioctl client: the raw system-call stubs are what the assembler makes",
  ignore: CC === null,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "vexfs-ioctl-stub-" });
    try {
      const x86 = await assemble(
        "x86_64",
        "mov %rdi, %rax\nmov %rsi, %rdi\nmov %rdx, %rsi\nmov %rcx, %rdx\nmov %r8, %r10\nmov %r9, %r8\nsyscall\nret\n",
        dir,
      );
      const arm = await assemble(
        "aarch64",
        "mov x8, x0\nmov x0, x1\nmov x1, x2\nmov x2, x3\nmov x3, x4\nmov x4, x5\nsvc #0\nret\n",
        dir,
      );
      if (x86) assertEquals(hex(client.SYSCALL_STUBS.x86_64), hex(x86), "x86_64 stub");
      if (arm) assertEquals(hex(client.SYSCALL_STUBS.aarch64), hex(arm), "aarch64 stub");
      assert(x86 || arm, "at least the native stub was checked");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("ioctl client: a path that is not on VexFS", async () => {
  const dir = await Deno.makeTempDir({ prefix: "vexfs-ioctl-client-" });
  try {
    const file = `${dir}/f`;
    await Deno.writeTextFile(file, "x");
    assertEquals(await client.fsInfo(dir), null);
    assertEquals(await client.fsInfo(file), null);
    for (
      const f of [
        () => client.collectionInfo(dir),
        () => client.getVector(file),
        () => client.setVector(file, new Float32Array([1, 2])),
        () => client.search(dir, new Float32Array([1]), 1),
        () => client.search2(dir, new Float32Array([1]), 1, { ef: 10 }),
        () => client.searchExWithPaths(dir, new Float32Array([1]), 1),
        () => client.index(dir, { op: "stats" }),
        () => client.index(dir, { op: "build", m: 8 }),
      ]
    ) {
      try {
        await f();
        throw new Error("no error");
      } catch (e) {
        assert(e instanceof FsError, String(e));
        assertEquals([e.code as string, e.errno], ["ENOTTY", 25]);
        assertMatch(e.message, /not on a mounted VexFS/);
      }
    }
    try {
      await client.fsInfo(`${dir}/missing`);
      throw new Error("no error");
    } catch (e) {
      assert(e instanceof FsError && e.code === "ENOENT", String(e));
      assertMatch(e.message, /missing/);
    }
    // limits checked before any system call
    for (
      const [f, re] of [
        [() => client.setVector(file, new Float32Array(2049)), /user\.vexfs\.vector/],
        [() => client.search(dir, new Float32Array([1]), 0), /k = 0/],
        [() => client.search2(dir, new Float32Array([1]), 1, { ef: 65536 }), /ef = 65536/],
        [() => client.searchExWithPaths(dir, new Float32Array([1]), 1, { ef: 5, exact: true }), /contradict/],
        [() => client.index(dir, { op: "drop", m: 4 } as never), /only apply to build/],
      ] as const
    ) {
      try {
        await f();
        throw new Error("no error");
      } catch (e) {
        assert(e instanceof FsError && e.code === "EINVAL", String(e));
        assertMatch(e.message, re);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ioctl abi: SET/GET use one structure; SEARCH fits a restricted ioctl", () => {
  assertEquals(iocSize(VEXFS_IOC_SET_VECTOR), iocSize(VEXFS_IOC_GET_VECTOR));
  assertEquals(SEARCH.size, HDR.size + 40 + 4 * 2048 + 16 * 256);
  assert(SEARCH.size <= IOC_SIZE_MAX);
});
