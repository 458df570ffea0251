import fc from "fast-check";
import { crc32cSeeded } from "../format/crc.ts";
import { dirHash } from "../format/hash.ts";
import { FsError } from "../errors.ts";
import {
  type DirBlocks,
  dirCheck,
  type DirEntry,
  dirEntryCount,
  dirFindByIno,
  dirInit,
  dirInsert,
  dirIterate,
  dirLookup,
  dirRemove,
  dirReplace,
  DIRX_MAGIC,
  MAX_ROOT_LEVEL,
} from "./htree.ts";

// ---------------------------------------------------------------------------
// helpers (no std library is available offline)

function fail(msg: string): never {
  throw new Error(msg);
}

function eq(actual: unknown, expected: unknown, msg = "values differ"): void {
  if (actual !== expected) {
    fail(`${msg}: expected ${String(expected)}, got ${String(actual)}`);
  }
}

function ok(cond: unknown, msg: string): asserts cond {
  if (!cond) fail(msg);
}

function eqBytes(a: Uint8Array, b: Uint8Array, msg: string): void {
  ok(a.length === b.length && a.every((x, i) => x === b[i]), msg);
}

/** Runs `f`, expecting an FsError with `code`; returns it. */
function throwsCode(f: () => unknown, code: string, msg = ""): FsError {
  try {
    f();
  } catch (e) {
    if (e instanceof FsError && e.code === code) return e;
    fail(`${msg}: expected FsError ${code}, got ${e}`);
  }
  fail(`${msg}: expected FsError ${code}, nothing thrown`);
}

function noProblems(d: DirBlocks, msg = "dirCheck"): void {
  const p = dirCheck(d);
  if (p.length > 0) fail(`${msg}: ${p.slice(0, 5).join("; ")}`);
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const b = (s: string) => enc.encode(s);

/**
 * In-memory directory. `read` returns one shared scratch buffer (as a block
 * cache might), so the tree must copy what it keeps; `write` stores a copy.
 */
class MemDir implements DirBlocks {
  blocks: Uint8Array[];
  reads = 0;
  writes = 0;
  readLog: number[] = [];
  maxBlocks = Infinity;
  private scratch: Uint8Array;
  constructor(
    readonly blockSize: number,
    readonly hashSeed = 0x5eed1234,
    readonly ino = 4242,
  ) {
    this.scratch = new Uint8Array(blockSize);
    this.blocks = [new Uint8Array(blockSize)];
  }
  blockCount(): number {
    return this.blocks.length;
  }
  read(lblk: number): Uint8Array {
    this.reads++;
    this.readLog.push(lblk);
    const src = this.blocks[lblk];
    if (src === undefined) throw new Error(`read of missing block ${lblk}`);
    this.scratch.set(src);
    return this.scratch;
  }
  write(lblk: number, data: Uint8Array): void {
    eq(data.length, this.blockSize, "write length");
    ok(
      lblk >= 0 && lblk < this.blocks.length,
      `write of missing block ${lblk}`,
    );
    this.writes++;
    this.blocks[lblk] = data.slice();
  }
  append(): number {
    if (this.blocks.length >= this.maxBlocks) {
      throw new FsError("ENOSPC", "test device full");
    }
    this.blocks.push(new Uint8Array(this.blockSize));
    return this.blocks.length - 1;
  }
  /** Counts the block reads `f` makes. */
  countReads<T>(f: () => T): [T, number] {
    const before = this.reads;
    const r = f();
    return [r, this.reads - before];
  }
  /** Re-computes the checksum of a block after a test edited it. */
  reseal(lblk: number): void {
    const blk = this.blocks[lblk];
    const sum = crc32cSeeded(this.ino, blk.subarray(0, this.blockSize - 4));
    new DataView(blk.buffer).setUint32(this.blockSize - 4, sum, true);
  }
  view(lblk: number): DataView {
    return new DataView(this.blocks[lblk].buffer);
  }
  rootLevel(): number {
    return this.view(0).getUint16(4, true);
  }
}

function newDir(bs: number, seed?: number): MemDir {
  const d = new MemDir(bs, seed);
  dirInit(d);
  return d;
}

function cmpEntry(a: DirEntry, c: DirEntry): number {
  if (a.hash !== c.hash) return a.hash - c.hash;
  const n = Math.min(a.name.length, c.name.length);
  for (let i = 0; i < n; i++) {
    if (a.name[i] !== c.name[i]) return a.name[i] - c.name[i];
  }
  return a.name.length - c.name.length;
}

/** Iterates and checks count and strict (hash, name) order; returns the entries. */
function iterateChecked(d: DirBlocks): DirEntry[] {
  const all = [...dirIterate(d)];
  for (let i = 1; i < all.length; i++) {
    ok(cmpEntry(all[i - 1], all[i]) < 0, `iteration out of order at ${i}`);
  }
  eq(all.length, dirEntryCount(d), "iterate count vs entry_count");
  return all;
}

/** The leaf block holding `name` (the last block a lookup reads). */
function leafOf(d: MemDir, name: Uint8Array): number {
  d.readLog = [];
  ok(dirLookup(d, name) !== null, "leafOf: name present");
  return d.readLog[d.readLog.length - 1];
}

/** A valid name of exactly `len` bytes, unique for `i`. */
function longName(i: number, len: number): Uint8Array {
  const s = `n${i}-`;
  return b(s + "x".repeat(len - s.length));
}

// ---------------------------------------------------------------------------
// basic behaviour

for (const bs of [1024, 4096]) {
  Deno.test(`htree ${bs}: empty directory`, () => {
    const d = newDir(bs);
    eq(dirEntryCount(d), 0);
    eq(d.blockCount(), 1, "empty dir is just the root");
    const [r, reads] = d.countReads(() => dirLookup(d, b("x")));
    eq(r, null);
    eq(reads, 1, "empty lookup reads only the root");
    eq([...dirIterate(d)].length, 0);
    eq(dirFindByIno(d, 123, 5), null);
    throwsCode(() => dirRemove(d, b("x")), "ENOENT");
    throwsCode(() => dirReplace(d, b("x"), 5, 1), "ENOENT");
    noProblems(d);
    const v = d.view(0);
    eq(v.getUint32(0, true), DIRX_MAGIC, "root magic");
    eq(v.getUint16(8, true), Math.floor((bs - 36) / 8), "root limit");
  });

  Deno.test(`htree ${bs}: insert, lookup, replace, remove, iterate`, () => {
    const d = newDir(bs);
    const names = [
      "hello",
      "world",
      "a",
      "ünïcødé 名前",
      "x".repeat(255),
      "with space",
      ".hidden",
      "...",
    ];
    names.forEach((n, i) => dirInsert(d, b(n), 100 + i, (i % 7) + 1));
    eq(d.blockCount(), 2, "first insert appends one leaf");
    eq(dirEntryCount(d), names.length);
    names.forEach((n, i) => {
      const e = dirLookup(d, b(n));
      ok(e !== null, `lookup ${n}`);
      eq(e.ino, 100 + i);
      eq(e.type, (i % 7) + 1);
      eq(e.hash, dirHash(b(n), d.hashSeed));
      eqBytes(e.name, b(n), `name ${n}`);
    });
    eq(dirLookup(d, b("nope")), null);
    // returned entries are private copies
    const e0 = dirLookup(d, b("hello"))!;
    e0.name[0] = 0x58;
    eq(dirLookup(d, b("hello"))!.ino, 100);

    const it = iterateChecked(d);
    eq(it.length, names.length);
    noProblems(d);

    const old = dirReplace(d, b("world"), 999, 2);
    eq(old.ino, 101);
    eq(old.type, 2);
    eq(dirLookup(d, b("world"))!.ino, 999);
    eq(dirEntryCount(d), names.length, "replace keeps the count");

    const h = dirHash(b("world"), d.hashSeed);
    eq(dec.decode(dirFindByIno(d, h, 999)!.name), "world");
    eq(dirFindByIno(d, h, 101), null);

    throwsCode(() => dirInsert(d, b("hello"), 1, 1), "EEXIST");
    const r = dirRemove(d, b("hello"));
    eq(r.ino, 100);
    eq(dirLookup(d, b("hello")), null);
    throwsCode(() => dirRemove(d, b("hello")), "ENOENT");
    eq(dirEntryCount(d), names.length - 1);
    dirInsert(d, b("hello"), 7, 1);
    eq(dirLookup(d, b("hello"))!.ino, 7);
    for (const n of names) dirRemove(d, b(n));
    eq(dirEntryCount(d), 0);
    eq([...dirIterate(d)].length, 0);
    noProblems(d);
    // the emptied leaf stays, packed and zeroed
    const leaf = d.view(1);
    eq(leaf.getUint32(4, true), 0, "leaf count");
    eq(leaf.getUint32(8, true), 0, "leaf used");
    ok(
      d.blocks[1].subarray(16, bs - 4).every((x) => x === 0),
      "compacted leaf is zeroed",
    );
  });
}

Deno.test("htree: argument errors", () => {
  const d = newDir(1024);
  throwsCode(() => dirInsert(d, new Uint8Array(0), 5, 1), "EINVAL", "empty");
  throwsCode(
    () => dirInsert(d, new Uint8Array(256).fill(0x61), 5, 1),
    "ENAMETOOLONG",
  );
  throwsCode(
    () => dirLookup(d, new Uint8Array(300).fill(0x61)),
    "ENAMETOOLONG",
  );
  throwsCode(() => dirInsert(d, b("a/b"), 5, 1), "EINVAL", "slash");
  throwsCode(
    () => dirInsert(d, new Uint8Array([0x61, 0]), 5, 1),
    "EINVAL",
    "NUL",
  );
  throwsCode(() => dirInsert(d, b("."), 5, 1), "EINVAL", "dot");
  throwsCode(() => dirInsert(d, b(".."), 5, 1), "EINVAL", "dotdot");
  throwsCode(() => dirInsert(d, b("ok"), 0, 1), "EINVAL", "ino 0");
  throwsCode(() => dirInsert(d, b("ok"), 1.5, 1), "EINVAL", "ino 1.5");
  throwsCode(() => dirInsert(d, b("ok"), 5, 0), "EINVAL", "type 0");
  throwsCode(() => dirInsert(d, b("ok"), 5, 8), "EINVAL", "type 8");
  dirInsert(d, b("ok"), 5, 1);
  throwsCode(() => dirReplace(d, b("ok"), 5, 9), "EINVAL", "replace type");
  // large inode numbers survive the u64 field
  dirInsert(d, b("big"), 2 ** 40 + 3, 2);
  eq(dirLookup(d, b("big"))!.ino, 2 ** 40 + 3);
  eq(dirEntryCount(d), 2);
  noProblems(d);
  throwsCode(() => dirInit(new MemDir(1000)), "EINVAL", "block size");
});

Deno.test("htree: names with equal hashes stay in one leaf", () => {
  // Collisions of MurmurHash3 x86_32 with seed 0x5eed1234, found by search.
  const pairs = [["c88273", "c91920"], ["c88220", "c91973"], [
    "c32535",
    "c117764",
  ]];
  for (const [x, y] of pairs) {
    eq(dirHash(b(x), 0x5eed1234), dirHash(b(y), 0x5eed1234), "collision");
  }
  const d = newDir(1024, 0x5eed1234);
  let i = 0;
  for (const [x, y] of pairs) {
    dirInsert(d, b(x), 10 + i++, 1);
    dirInsert(d, b(y), 10 + i++, 1);
  }
  // fill around them so that many leaf splits happen
  for (let k = 0; k < 3000; k++) {
    dirInsert(d, longName(k, 40 + (k % 50)), 1000 + k, 1);
  }
  for (const [x, y] of pairs) {
    eq(leafOf(d, b(x)), leafOf(d, b(y)), "colliding names share a leaf");
    const h = dirHash(b(x), d.hashSeed);
    const ex = dirLookup(d, b(x))!;
    const ey = dirLookup(d, b(y))!;
    eq(dec.decode(dirFindByIno(d, h, ex.ino)!.name), x);
    eq(dec.decode(dirFindByIno(d, h, ey.ino)!.name), y);
    dirRemove(d, b(x));
    eq(dirLookup(d, b(y))!.ino, ey.ino);
    eq(dirFindByIno(d, h, ex.ino), null);
  }
  iterateChecked(d);
  noProblems(d);
});

// ---------------------------------------------------------------------------
// large directories

for (const bs of [1024, 4096]) {
  Deno.test(`htree ${bs}: 100,000 entries`, () => {
    const N = 100_000;
    const d = newDir(bs, 0x9e3779b9);
    const name = (i: number) => b(`file-${i}.dat`);
    let maxInsertReads = 0;
    const before = d.reads;
    for (let i = 0; i < N; i++) {
      const [, r] = d.countReads(() => dirInsert(d, name(i), i + 16, 1));
      if (r > maxInsertReads) maxInsertReads = r;
    }
    const avgInsertReads = (d.reads - before) / N;
    eq(dirEntryCount(d), N);
    const level = d.rootLevel();
    ok(level >= 1 && level <= MAX_ROOT_LEVEL, `root level ${level}`);
    // one root-to-leaf path, plus a re-read of the interior nodes on a split
    ok(
      maxInsertReads <= 2 * level + 2,
      `insert read ${maxInsertReads} blocks (root level ${level})`,
    );
    ok(
      avgInsertReads < level + 2.2,
      `insert read ${avgInsertReads} blocks on average`,
    );

    let maxLookupReads = 0;
    for (let i = 0; i < N; i++) {
      const [e, r] = d.countReads(() => dirLookup(d, name(i)));
      if (e === null || e.ino !== i + 16) fail(`lookup ${i}`);
      if (r > maxLookupReads) maxLookupReads = r;
    }
    eq(maxLookupReads, level + 2, "lookup reads root level + 2 blocks");
    ok(
      maxLookupReads <= 3,
      `lookup of 100k-entry dir read ${maxLookupReads} blocks`,
    );
    eq(dirLookup(d, b("file-100000.dat")), null);

    const all = iterateChecked(d);
    eq(all.length, N);
    noProblems(d);

    for (let i = 0; i < N; i += 3) dirRemove(d, name(i));
    for (let i = 1; i < N; i += 3) dirReplace(d, name(i), 7, 2);
    for (let i = 0; i < 30; i++) {
      const e = dirLookup(d, name(i));
      if (i % 3 === 0) eq(e, null, `removed ${i}`);
      else eq(e!.ino, i % 3 === 1 ? 7 : i + 16, `kept ${i}`);
    }
    eq(dirEntryCount(d), N - Math.ceil(N / 3));
    eq(iterateChecked(d).length, N - Math.ceil(N / 3));
    noProblems(d);
  });
}

Deno.test("htree 1024: growth to root level 1 and 2", () => {
  const d = newDir(1024, 0x1234567);
  const name = (i: number) => longName(i, 248);
  let n = 0;
  let level1At = -1;
  while (d.rootLevel() < 2) {
    dirInsert(d, name(n), n + 16, 1);
    n++;
    if (level1At < 0 && d.rootLevel() === 1) {
      level1At = n;
      noProblems(d, "at level 1");
      for (let i = 0; i < n; i++) {
        const [e, r] = d.countReads(() => dirLookup(d, name(i)));
        eq(e!.ino, i + 16);
        eq(r, 3, "level-1 lookup reads");
      }
    }
    ok(n < 200_000, "root never reached level 2");
  }
  ok(level1At > 0, "passed through level 1");
  eq(dirEntryCount(d), n);
  noProblems(d, "at level 2");
  for (let i = 0; i < n; i += 7) {
    const [e, r] = d.countReads(() => dirLookup(d, name(i)));
    eq(e!.ino, i + 16);
    eq(r, 4, "level-2 lookup reads");
  }
  // keep going a little at level 2, then delete most of it
  for (let i = n; i < n + 2000; i++) dirInsert(d, name(i), i + 16, 1);
  n += 2000;
  eq(iterateChecked(d).length, n);
  for (let i = 0; i < n; i += 2) dirRemove(d, name(i));
  eq(dirEntryCount(d), Math.floor(n / 2));
  for (let i = 1; i < n; i += 98) eq(dirLookup(d, name(i))!.ino, i + 16);
  noProblems(d, "after removals");
});

// ---------------------------------------------------------------------------
// randomized comparison with a Map

type Op =
  | { op: "ins"; name: Uint8Array; ino: number; type: number }
  | { op: "rm"; name: Uint8Array }
  | { op: "rep"; name: Uint8Array; ino: number; type: number }
  | { op: "get"; name: Uint8Array };

/** Valid names: few short ones (so they repeat) and long random ones (to force splits). */
const nameArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz".split("")).chain((c) =>
    fc.integer({ min: 1, max: 40 }).map((n) => b(c.repeat(n % 4 + 1) + n))
  ),
  fc.uint8Array({ minLength: 1, maxLength: 255 }).map((u) => {
    const v = u.map((x) => (x === 0 || x === 0x2f ? 0x41 : x));
    if (v.length <= 2 && v.every((x) => x === 0x2e)) v[0] = 0x42;
    return v;
  }),
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant("ins" as const),
      name: nameArb,
      ino: fc.integer({ min: 1, max: 2 ** 40 }),
      type: fc.integer({ min: 1, max: 7 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant("rm" as const), name: nameArb }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("rep" as const),
      name: nameArb,
      ino: fc.integer({ min: 1, max: 1000 }),
      type: fc.integer({ min: 1, max: 7 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant("get" as const), name: nameArb }),
  },
);

Deno.test("htree: randomized against a Map model", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(1024, 2048, 4096),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.array(opArb, { maxLength: 400, size: "max" }),
      (bs, seed, ops) => {
        const d = newDir(bs, seed);
        const model = new Map<
          string,
          { ino: number; type: number; name: Uint8Array }
        >();
        const key = (n: Uint8Array) => Array.from(n).join(",");
        for (const o of ops) {
          const k = key(o.name);
          const m = model.get(k);
          switch (o.op) {
            case "ins":
              if (m) {
                throwsCode(() => dirInsert(d, o.name, o.ino, o.type), "EEXIST");
              } else {
                dirInsert(d, o.name, o.ino, o.type);
                model.set(k, { ino: o.ino, type: o.type, name: o.name });
              }
              break;
            case "rm":
              if (!m) throwsCode(() => dirRemove(d, o.name), "ENOENT");
              else {
                eq(dirRemove(d, o.name).ino, m.ino);
                model.delete(k);
              }
              break;
            case "rep":
              if (!m) {
                throwsCode(
                  () => dirReplace(d, o.name, o.ino, o.type),
                  "ENOENT",
                );
              } else {
                const old = dirReplace(d, o.name, o.ino, o.type);
                eq(old.ino, m.ino);
                eq(old.type, m.type);
                model.set(k, { ino: o.ino, type: o.type, name: o.name });
              }
              break;
            case "get": {
              const e = dirLookup(d, o.name);
              if (!m) eq(e, null);
              else {
                eq(e?.ino, m.ino);
                eq(e?.type, m.type);
              }
            }
          }
        }
        eq(dirEntryCount(d), model.size);
        const all = iterateChecked(d);
        eq(all.length, model.size);
        for (const e of all) {
          const m = model.get(key(e.name));
          ok(m !== undefined, "iterated name is in the model");
          eq(e.ino, m.ino);
          eq(e.type, m.type);
          eq(dirFindByIno(d, e.hash, e.ino) !== null, true, "findByIno");
        }
        noProblems(d);
      },
    ),
    { numRuns: 60 },
  );
});

// ---------------------------------------------------------------------------
// running out of blocks

Deno.test("htree: ENOSPC from append leaves the tree intact", () => {
  // Allow only one new block per insert: inserts that need several (index
  // split, root growth) fail after appending some of them.
  const d = newDir(1024, 77);
  const name = (i: number) => longName(i, 200);
  let failures = 0;
  let count = 0;
  for (let i = 0; i < 1500; i++) {
    d.maxBlocks = d.blockCount() + 1;
    try {
      dirInsert(d, name(i), i + 16, 1);
      count++;
      continue;
    } catch (e) {
      ok(
        e instanceof FsError && e.code === "ENOSPC",
        `expected ENOSPC, got ${e}`,
      );
    }
    failures++;
    eq(dirLookup(d, name(i)), null, "failed insert left no entry");
    eq(dirEntryCount(d), count);
    noProblems(d, "after a failed split");
    d.maxBlocks = Infinity;
    dirInsert(d, name(i), i + 16, 1);
    count++;
  }
  ok(failures > 0, "some inserts needed more than one block");
  ok(d.rootLevel() >= 1, "tree grew");
  eq(iterateChecked(d).length, count);
  noProblems(d);

  // a completely full device: the first insert needing a block fails
  const f = newDir(1024);
  f.maxBlocks = 1;
  throwsCode(() => dirInsert(f, b("x"), 5, 1), "ENOSPC");
  eq(dirEntryCount(f), 0);
  noProblems(f);
});

// ---------------------------------------------------------------------------
// corruption

/** A level-1 directory at block size 1024 with 2000 entries. */
function corpus(): { d: MemDir; names: Uint8Array[] } {
  const d = newDir(1024, 0xabcdef);
  const names: Uint8Array[] = [];
  for (let i = 0; i < 2000; i++) {
    const n = longName(i, 30 + (i % 60));
    names.push(n);
    dirInsert(d, n, i + 16, 1 + (i % 7));
  }
  eq(d.rootLevel(), 1, "corpus root level");
  noProblems(d, "corpus");
  return { d, names };
}

function reports(d: DirBlocks, re: RegExp): void {
  const p = dirCheck(d);
  ok(
    p.some((s) => re.test(s)),
    `dirCheck should report ${re}, got: ${p.join("; ") || "nothing"}`,
  );
}

Deno.test("htree corruption: flipped byte in a leaf", () => {
  const { d, names } = corpus();
  const leaf = leafOf(d, names[5]);
  d.blocks[leaf][40] ^= 0x10;
  const e = throwsCode(() => dirLookup(d, names[5]), "EUCLEAN");
  ok(
    /bad checksum/.test(e.message) && e.message.includes(`block ${leaf}`),
    e.message,
  );
  throwsCode(() => dirInsert(d, names[5], 1, 1), "EUCLEAN");
  throwsCode(() => dirRemove(d, names[5]), "EUCLEAN");
  throwsCode(() => [...dirIterate(d)], "EUCLEAN");
  reports(d, new RegExp(`block ${leaf}: bad checksum`));
  // names in other leaves still resolve
  let fine = 0;
  for (const n of names) {
    try {
      if (dirLookup(d, n) !== null) fine++;
    } catch (e) {
      ok(e instanceof FsError && e.code === "EUCLEAN", "only EUCLEAN");
    }
  }
  ok(fine > names.length / 2, "other leaves still work");
});

Deno.test("htree corruption: flipped byte in an index block", () => {
  const { d, names } = corpus();
  d.readLog = [];
  dirLookup(d, names[9]);
  const idx = d.readLog[1];
  ok(idx !== 0, "level-0 index block");
  d.blocks[idx][100] ^= 0x01;
  throwsCode(() => dirLookup(d, names[9]), "EUCLEAN");
  reports(d, new RegExp(`block ${idx}: bad checksum`));
  // the root itself
  const { d: d2, names: n2 } = corpus();
  d2.blocks[0][33] ^= 0x80;
  throwsCode(() => dirLookup(d2, n2[0]), "EUCLEAN");
  throwsCode(() => dirEntryCount(d2), "EUCLEAN");
  reports(d2, /block 0: bad checksum/);
  // a bad magic
  const { d: d3 } = corpus();
  d3.blocks[0][0] = 0;
  d3.reseal(0);
  reports(d3, /block 0: expected the root index block/);
});

Deno.test("htree corruption: resealed structural damage", () => {
  {
    // wrong entry_count
    const { d } = corpus();
    d.view(0).setUint32(16, 1999, true);
    d.reseal(0);
    eq(dirEntryCount(d), 1999);
    reports(d, /entry_count 1999, but the tree holds 2000 entries/);
  }
  {
    // stored hash does not match the name
    const { d, names } = corpus();
    const leaf = leafOf(d, names[3]);
    const v = d.view(leaf);
    v.setUint32(16 + 8, v.getUint32(16 + 8, true) + 1, true);
    d.reseal(leaf);
    reports(d, /name hashes to/);
  }
  {
    // a block referenced twice
    const { d } = corpus();
    const v = d.view(0);
    const idx = v.getUint32(32 + 4, true);
    const iv = d.view(idx);
    iv.setUint32(32 + 8 + 4, iv.getUint32(32 + 4, true), true);
    d.reseal(idx);
    reports(d, /referenced twice/);
  }
  {
    // entries swapped inside a leaf: order and range problems
    const { d, names } = corpus();
    const leaf = leafOf(d, names[0]);
    const v = d.view(leaf);
    ok(v.getUint32(4, true) >= 2, "leaf has two entries");
    v.setUint32(8 + 16, 0xffffffff, true); // hash of entry 0
    d.reseal(leaf);
    reports(d, /out of \(hash, name\) order|outside the leaf's range/);
  }
  {
    // bad file type, bad name byte, leaf count mismatch
    const { d, names } = corpus();
    const leaf = leafOf(d, names[1]);
    const blk = d.blocks[leaf];
    blk[16 + 14] = 9;
    blk[16 + 16] = 0x2f;
    d.reseal(leaf);
    reports(d, /file type 9/);
    reports(d, /contains '\/'/);
    d.view(leaf).setUint32(4, d.view(leaf).getUint32(4, true) + 1, true);
    d.reseal(leaf);
    reports(d, /leaf count/);
  }
  {
    // index level inconsistent with the root
    const { d } = corpus();
    const idx = d.view(0).getUint32(32 + 4, true);
    d.view(idx).setUint16(4, 1, true);
    d.reseal(idx);
    reports(d, /index level 1, expected 0/);
    throwsCode(() => [...dirIterate(d)], "EUCLEAN");
  }
  {
    // child pointer outside the directory
    const { d } = corpus();
    const idx = d.view(0).getUint32(32 + 4, true);
    d.view(idx).setUint32(32 + 4, 99999, true);
    d.reseal(idx);
    reports(d, /outside the directory/);
  }
});

Deno.test("htree corruption: random damage never crashes dirCheck", () => {
  const { d: base, names } = corpus();
  const pristine = base.blocks.map((x) => x.slice());
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: pristine.length - 1 }),
      fc.array(
        fc.tuple(
          fc.integer({ min: 0, max: 1023 }),
          fc.integer({ min: 0, max: 255 }),
        ),
        {
          minLength: 1,
          maxLength: 8,
        },
      ),
      fc.boolean(),
      (blk, edits, reseal) => {
        base.blocks = pristine.map((x) => x.slice());
        for (const [off, val] of edits) base.blocks[blk][off] = val;
        if (reseal) base.reseal(blk);
        const changed = base.blocks[blk].some((x, i) => x !== pristine[blk][i]);
        const p = dirCheck(base);
        ok(Array.isArray(p), "dirCheck returns a list");
        if (changed && !reseal) ok(p.length > 0, "unsealed damage is reported");
        for (const n of names.slice(0, 50)) {
          try {
            dirLookup(base, n);
          } catch (e) {
            ok(
              e instanceof FsError && e.code === "EUCLEAN",
              `lookup threw ${e}`,
            );
          }
        }
      },
    ),
    { numRuns: 150 },
  );
});
