/**
 * Tests of large and many extended attributes (FORMAT.md §7.2, §7.3): the
 * move from one xattr block to a store, thousands of attributes, 64 KiB
 * values, Linux's errors and limits, freeing, old images without the
 * feature, ENOSPC leaving nothing behind, and fsck finding and repairing
 * damaged store blocks. Every image ends fsck-clean.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { Vexfs } from "./fs.ts";
import { assertFsckClean, code, tmpImage } from "./_testutil.ts";
import {
  IFL_INTERNAL,
  IFL_XATTR_IN_STORE,
  IFL_XATTR_STORE,
  INCOMPAT_XATTR_STORE,
  ROOT_INO,
  SB_OFFSET,
  XATTR_VALUE_BASE,
} from "../format/constants.ts";
import { decodeSuperblock, encodeSuperblock } from "../format/superblock.ts";
import { XATTR_STORED_LIST_MAX } from "./xattrs.ts";
import { fsck } from "../fsck/fsck.ts";

const enc = new TextEncoder();

/** A value of `len` bytes that differs per `seed`. */
function pattern(len: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: len }, (_, i) => (i * 31 + seed * 17 + (i >> 8)) & 0xff);
}

/** The store inode of `ino` and its extents. */
function storeOf(fs: Vexfs, ino: number) {
  const n = fs.iget(ino);
  assert.ok(n.d.flags & IFL_XATTR_IN_STORE, `inode ${ino} keeps its attributes in a store`);
  const s = fs.iget(n.d.xattrBlock);
  return { ino: s.ino, d: s.d, exts: fs.extents(s) };
}

for (const bs of [1024, 4096]) {
  Deno.test(`xattrs (${bs}-byte blocks): 3,000 attributes on one file, all listed, after a remount`, () => {
    const img = tmpImage(32 << 20, bs);
    try {
      let fs = Vexfs.open(img);
      const f = fs.create(ROOT_INO, "many");
      for (let i = 0; i < 3000; i++) fs.setxattr(f, `user.attr${i}`, enc.encode(`value ${i}`));
      const s = storeOf(fs, f);
      assert.equal(s.d.flags & (IFL_INTERNAL | IFL_XATTR_STORE), IFL_INTERNAL | IFL_XATTR_STORE);
      assert.equal(s.d.parentIno, f);
      fs.close();
      assertFsckClean(img);
      fs = Vexfs.open(img);
      const names = fs.xattrNames(f);
      assert.equal(names.length, 3000);
      assert.deepEqual(new Set(names), new Set(Array.from({ length: 3000 }, (_, i) => `user.attr${i}`)));
      for (const i of [0, 1, 1234, 2999]) assert.deepEqual(fs.getxattr(f, `user.attr${i}`), enc.encode(`value ${i}`));
      const all = fs.listxattr(f);
      assert.equal(all.size, 3000);
      assert.deepEqual(all.get("user.attr77"), enc.encode("value 77"));
      fs.close();
    } finally {
      Deno.removeSync(img);
    }
  });

  Deno.test(`xattrs (${bs}-byte blocks): 64 KiB values round-trip, replace in both directions, remove`, () => {
    const img = tmpImage(32 << 20, bs);
    try {
      let fs = Vexfs.open(img);
      const f = fs.create(ROOT_INO, "big");
      fs.setxattr(f, "user.small", enc.encode("x"));
      const big = pattern(65536, 1);
      fs.setxattr(f, "user.big", big);
      fs.setxattr(f, "trusted.mid", pattern(5000, 2));
      fs.setxattr(f, "user.empty", new Uint8Array(0));
      assert.ok(storeOf(fs, f).exts.some((e) => e.logical >= XATTR_VALUE_BASE), "values in value runs");
      fs.close();
      assertFsckClean(img);
      fs = Vexfs.open(img);
      assert.deepEqual(fs.getxattr(f, "user.big"), big);
      assert.deepEqual(fs.getxattr(f, "trusted.mid"), pattern(5000, 2));
      assert.deepEqual(fs.getxattr(f, "user.empty"), new Uint8Array(0));
      // large -> small -> large, and a 64 KiB value replaced by another
      fs.setxattr(f, "user.big", enc.encode("now small"), 2);
      assert.deepEqual(fs.getxattr(f, "user.big"), enc.encode("now small"));
      fs.setxattr(f, "user.small", pattern(65536, 3));
      fs.setxattr(f, "user.small", pattern(65536, 4));
      assert.deepEqual(fs.getxattr(f, "user.small"), pattern(65536, 4));
      fs.removexattr(f, "trusted.mid");
      assert.equal(code(() => fs.getxattr(f, "trusted.mid")), "ENODATA");
      fs.close();
      assertFsckClean(img);
      fs = Vexfs.open(img);
      assert.deepEqual(fs.getxattr(f, "user.small"), pattern(65536, 4));
      assert.deepEqual(new Set(fs.xattrNames(f)), new Set(["user.small", "user.big", "user.empty"]));
      // the run blocks of replaced values were given back: the store holds only what is live
      const s = storeOf(fs, f);
      const valueBlocks = s.exts.filter((e) => e.logical >= XATTR_VALUE_BASE).reduce((a, e) => a + e.length, 0);
      assert.equal(valueBlocks, Math.ceil(65536 / (bs - 20)));
      fs.close();
    } finally {
      Deno.removeSync(img);
    }
  });
}

Deno.test("xattrs: Linux's errors (ERANGE, E2BIG, EEXIST, ENODATA, EOPNOTSUPP, EINVAL)", () => {
  const img = tmpImage(16 << 20, 4096);
  try {
    const fs = Vexfs.open(img);
    const f = fs.create(ROOT_INO, "f");
    assert.equal(code(() => fs.setxattr(f, "user." + "n".repeat(250), enc.encode("v"))), "ok"); // 255 bytes
    assert.equal(code(() => fs.setxattr(f, "user." + "n".repeat(251), enc.encode("v"))), "ERANGE");
    assert.equal(code(() => fs.setxattr(f, "user.v", new Uint8Array(65536))), "ok");
    assert.equal(code(() => fs.setxattr(f, "user.w", new Uint8Array(65537))), "E2BIG");
    assert.equal(code(() => fs.setxattr(f, "user.v", enc.encode("a"), 1)), "EEXIST");
    assert.equal(code(() => fs.setxattr(f, "user.nope", enc.encode("a"), 2)), "ENODATA");
    assert.equal(code(() => fs.removexattr(f, "user.nope")), "ENODATA");
    assert.equal(code(() => fs.setxattr(f, "other.x", enc.encode("a"))), "EOPNOTSUPP");
    assert.equal(code(() => fs.setxattr(f, "user.", enc.encode("a"))), "EINVAL");
    assert.equal(fs.getxattr(f, "user.v").length, 65536, "the failed calls changed nothing");
    assert.equal(code(() => fs.getxattr(f, "user.w")), "ENODATA");
    fs.close();
    assertFsckClean(img);
  } finally {
    Deno.removeSync(img);
  }
});

Deno.test("xattrs: the name list stops at 64 KiB less 32 bytes with ENOSPC, so listxattr always fits", () => {
  const img = tmpImage(16 << 20, 4096);
  try {
    const fs = Vexfs.open(img);
    const f = fs.create(ROOT_INO, "full");
    let n = 0;
    let listBytes = 0;
    for (;;) {
      const name = `user.${n.toString(36)}`;
      const r = code(() => fs.setxattr(f, name, new Uint8Array(0)));
      if (r !== "ok") {
        assert.equal(r, "ENOSPC");
        assert.ok(listBytes + name.length + 1 > XATTR_STORED_LIST_MAX);
        break;
      }
      listBytes += name.length + 1;
      n++;
    }
    assert.ok(listBytes > XATTR_STORED_LIST_MAX - 16, `${n} attributes, ${listBytes} bytes of names`);
    assert.ok(n > 7000, `${n} attributes of short names`);
    assert.equal(fs.xattrNames(f).length, n);
    // replacing an existing one still works at the limit
    fs.setxattr(f, "user.0", enc.encode("replaced"));
    assert.deepEqual(fs.getxattr(f, "user.0"), enc.encode("replaced"));
    fs.close();
    assertFsckClean(img);
  } finally {
    Deno.removeSync(img);
  }
});

Deno.test("xattrs: removing the last attribute, or the file, frees the store and every block", () => {
  const img = tmpImage(16 << 20, 1024);
  try {
    const fs = Vexfs.open(img);
    const f = fs.create(ROOT_INO, "f");
    const g = fs.create(ROOT_INO, "g");
    fs.sync();
    const base = fs.statfs();
    for (let i = 0; i < 200; i++) fs.setxattr(g, `user.a${i}`, pattern(i * 50, i));
    for (let i = 0; i < 200; i++) fs.removexattr(g, `user.a${i}`);
    assert.equal(fs.iget(g).d.xattrBlock, 0);
    assert.equal(fs.iget(g).d.flags & IFL_XATTR_IN_STORE, 0);
    fs.sync();
    assert.equal(fs.statfs().bfree, base.bfree, "g's store is gone");
    for (let i = 0; i < 200; i++) fs.setxattr(f, `user.a${i}`, pattern(i * 300, i));
    fs.unlink(ROOT_INO, "f");
    fs.unlink(ROOT_INO, "g");
    fs.sync();
    const after = fs.statfs();
    assert.equal(after.bfree, base.bfree, "f's store went with f");
    assert.equal(after.ffree, base.ffree + 2);
    fs.close();
    assertFsckClean(img);
  } finally {
    Deno.removeSync(img);
  }
});

Deno.test("xattrs: an image made before XATTR_STORE gets the flag when a file first needs a store", () => {
  const img = tmpImage(16 << 20, 4096);
  try {
    // make it an older image: no XATTR_STORE flag
    const file = Deno.openSync(img, { read: true, write: true });
    const raw = new Uint8Array(1024);
    file.seekSync(SB_OFFSET, Deno.SeekMode.Start);
    file.readSync(raw);
    const sb = decodeSuperblock(raw);
    sb.featureIncompat &= ~INCOMPAT_XATTR_STORE;
    for (const at of [SB_OFFSET, (sb.blockCount - 1) * 4096]) { // primary and backup
      file.seekSync(at, Deno.SeekMode.Start);
      file.writeSync(encodeSuperblock(sb));
    }
    file.close();
    assertFsckClean(img);
    let fs = Vexfs.open(img);
    const f = fs.create(ROOT_INO, "f");
    for (let i = 0; i < 50; i++) fs.setxattr(f, `user.k${i}`, enc.encode("short"));
    assert.equal(fs.sb.featureIncompat & INCOMPAT_XATTR_STORE, 0, "one block is enough: no upgrade");
    fs.setxattr(f, "user.big", pattern(10000, 9));
    assert.ok(fs.sb.featureIncompat & INCOMPAT_XATTR_STORE);
    fs.close();
    fs = Vexfs.open(img);
    assert.ok(fs.sb.featureIncompat & INCOMPAT_XATTR_STORE, "the flag is on disk");
    assert.deepEqual(fs.getxattr(f, "user.big"), pattern(10000, 9));
    assert.equal(fs.xattrNames(f).length, 51);
    fs.close();
    assertFsckClean(img);
  } finally {
    Deno.removeSync(img);
  }
});

Deno.test("xattrs: ENOSPC on a full filesystem changes nothing", () => {
  const img = tmpImage(2 << 20, 1024);
  try {
    const fs = Vexfs.open(img);
    const f = fs.create(ROOT_INO, "f");
    fs.setxattr(f, "user.keep", pattern(3000, 1));
    const filler = fs.create(ROOT_INO, "filler");
    const chunk = new Uint8Array(1024);
    for (let off = 0;; off += 1024) if (code(() => fs.write(filler, off, chunk)) !== "ok") break;
    // free a little, less than a 64 KiB value needs
    fs.truncate(filler, fs.getattr(filler).size - 20 * 1024);
    fs.sync();
    const before = fs.statfs().bfree;
    assert.equal(code(() => fs.setxattr(f, "user.big", pattern(65536, 2))), "ENOSPC");
    fs.sync();
    assert.equal(fs.statfs().bfree, before);
    assert.equal(code(() => fs.getxattr(f, "user.big")), "ENODATA");
    assert.deepEqual(fs.getxattr(f, "user.keep"), pattern(3000, 1));
    fs.close();
    assertFsckClean(img);
  } finally {
    Deno.removeSync(img);
  }
});

/** A file with a store of several entry blocks and value runs; returns its image and landmarks. */
function damagedBase(bs: number) {
  const img = tmpImage(16 << 20, bs);
  const fs = Vexfs.open(img);
  const f = fs.create(ROOT_INO, "f");
  for (let i = 0; i < 400; i++) fs.setxattr(f, `user.k${i}`, enc.encode(`v${i}`));
  fs.setxattr(f, "user.big", pattern(20000, 5));
  fs.setxattr(f, "user.big2", pattern(9000, 6));
  const s = storeOf(fs, f);
  const entry = s.exts.find((e) => e.logical < XATTR_VALUE_BASE)!;
  const value = s.exts.find((e) => e.logical >= XATTR_VALUE_BASE)!;
  fs.close();
  return { img, f, entryBlock: entry.physical, valueBlock: value.physical };
}

function poke(img: string, byte: number, f: (b: number) => number) {
  const file = Deno.openSync(img, { read: true, write: true });
  const one = new Uint8Array(1);
  file.seekSync(byte, Deno.SeekMode.Start);
  file.readSync(one);
  one[0] = f(one[0]);
  file.seekSync(byte, Deno.SeekMode.Start);
  file.writeSync(one);
  file.close();
}

function codes(img: string, yes = false): string[] {
  return fsck(img, { force: true, yes }).problems.filter((p) => p.severity !== "info").map((p) => p.code);
}

for (const bs of [1024, 4096]) {
  Deno.test(`fsck (${bs}-byte blocks): a store entry block with a bad checksum is found and its checksum rewritten`, () => {
    const { img, f, entryBlock } = damagedBase(bs);
    try {
      poke(img, entryBlock * bs + bs - 1, (b) => b ^ 0xff); // the checksum itself
      assert.deepEqual(codes(img), ["XATTR_STORE_CHECKSUM"]);
      const r = fsck(img, { force: true, yes: true });
      assert.equal(r.exitCode, 1);
      assertFsckClean(img);
      const fs = Vexfs.open(img);
      assert.equal(fs.xattrNames(f).length, 402, "nothing lost");
      fs.close();
    } finally {
      Deno.removeSync(img);
    }
  });

  Deno.test(`fsck (${bs}-byte blocks): a destroyed store entry block is removed, the rest kept`, () => {
    const { img, f, entryBlock } = damagedBase(bs);
    try {
      poke(img, entryBlock * bs, (b) => b ^ 0x55); // the magic
      const found = codes(img);
      assert.ok(found.includes("XATTR_STORE_BLOCK"), found.join());
      fsck(img, { force: true, yes: true });
      assertFsckClean(img);
      const fs = Vexfs.open(img);
      const left = fs.xattrNames(f).length;
      assert.ok(left > 0 && left < 402, `${left} attributes left`);
      fs.close();
    } finally {
      Deno.removeSync(img);
    }
  });

  Deno.test(`fsck (${bs}-byte blocks): a damaged value block drops its attribute and frees its run`, () => {
    const { img, f, valueBlock } = damagedBase(bs);
    try {
      poke(img, valueBlock * bs + 100, (b) => b ^ 1);
      const found = codes(img);
      assert.ok(found.includes("XATTR_STORE_ENTRY"), found.join());
      fsck(img, { force: true, yes: true });
      assertFsckClean(img);
      const fs = Vexfs.open(img);
      const names = fs.xattrNames(f);
      assert.equal(names.length, 401);
      assert.ok(!names.includes("user.big") || !names.includes("user.big2"));
      fs.close();
    } finally {
      Deno.removeSync(img);
    }
  });
}

Deno.test("fsck: a file whose store reference is wrong loses it, and the store is freed", () => {
  const { img, f } = damagedBase(4096);
  try {
    let fs = Vexfs.open(img);
    const sino = fs.iget(f).d.xattrBlock;
    fs.close();
    // point the store's parent elsewhere: the owner's reference becomes unusable
    fs = Vexfs.open(img);
    const s = fs.iget(sino);
    s.d.parentIno = ROOT_INO;
    fs.dirty(s);
    fs.close();
    const found = codes(img);
    assert.ok(found.includes("XATTR_STORE_REF"), found.join());
    assert.ok(found.includes("INTERNAL_UNCLAIMED"), found.join());
    fsck(img, { force: true, yes: true });
    assertFsckClean(img);
    fs = Vexfs.open(img);
    assert.deepEqual(fs.xattrNames(f), []);
    fs.close();
  } finally {
    Deno.removeSync(img);
  }
});

Deno.test("xattrs: random sets, replaces and removes of 0 B to 64 KiB + 1 values agree with a model, across reopens", () => {
  const img = tmpImage(64 << 20, 1024);
  try {
    const names = Array.from({ length: 24 }, (_, i) => (i % 5 === 4 ? "trusted.t" : "user.u") + i);
    const sizes = fc.oneof(fc.integer({ min: 0, max: 80 }), fc.integer({ min: 0, max: 3000 }), fc.constant(65536));
    const op = fc.oneof(
      fc.record({
        k: fc.constant("set" as const),
        name: fc.constantFrom(...names),
        len: sizes,
        flags: fc.constantFrom(0, 0, 1, 2),
      }),
      fc.record({ k: fc.constant("big" as const), name: fc.constantFrom(...names) }),
      fc.record({ k: fc.constant("remove" as const), name: fc.constantFrom(...names) }),
      fc.constant({ k: "reopen" as const }),
    );
    let runs = 0;
    let stores = 0;
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 80 }), (ops) => {
        let fs = Vexfs.open(img);
        const f = fs.create(ROOT_INO, `f${runs++}`);
        const model = new Map<string, Uint8Array>();
        let seed = 0;
        try {
          for (const o of ops) {
            if (o.k === "reopen") {
              fs.close();
              fs = Vexfs.open(img);
              continue;
            }
            if (o.k === "remove") {
              assert.equal(code(() => fs.removexattr(f, o.name)), model.delete(o.name) ? "ok" : "ENODATA");
              continue;
            }
            const len = o.k === "big" ? 65537 : o.len;
            const flags = o.k === "big" ? 0 : o.flags;
            const v = pattern(len, ++seed);
            const want = len > 65536
              ? "E2BIG"
              : flags === 1 && model.has(o.name)
              ? "EEXIST"
              : flags === 2 && !model.has(o.name)
              ? "ENODATA"
              : "ok";
            assert.equal(code(() => fs.setxattr(f, o.name, v, flags)), want, `${o.name} ${len} flags ${flags}`);
            if (want === "ok") model.set(o.name, v);
          }
          assert.deepEqual(new Set(fs.xattrNames(f)), new Set(model.keys()));
          for (const [k, v] of model) assert.deepEqual(fs.getxattr(f, k), v, k);
          if (fs.iget(f).d.flags & IFL_XATTR_IN_STORE) stores++;
          fs.unlink(ROOT_INO, `f${runs - 1}`);
        } finally {
          fs.close();
        }
      }),
      { numRuns: 25, seed: 7331 },
    );
    assert.ok(stores >= 5, `${stores} of ${runs} runs ended with an xattr store`);
    assertFsckClean(img);
  } finally {
    Deno.removeSync(img);
  }
});
