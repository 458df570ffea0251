import assert from "node:assert/strict";
import fc from "fast-check";
import { FsError } from "../errors.ts";
import { assertFsckClean, code, tmpImage } from "./_testutil.ts";
import { INCOMPAT_RECOVER, ROOT_INO, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG } from "../format/constants.ts";
import { mkfs } from "./mkfs.ts";
import { Vexfs } from "./fs.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

// ------------------------------------------------------------------ model

type MNode = {
  kind: "file";
  data: Uint8Array;
  nlink: number;
  xattrs: Map<string, string>;
} | {
  kind: "dir";
  entries: Map<string, number>;
  parent: number;
  xattrs: Map<string, string>;
} | {
  kind: "link";
  target: string;
  nlink: number;
  xattrs: Map<string, string>;
};

/** A deliberately simple in-memory POSIX model: what the engine must agree with. */
class Model {
  nodes = new Map<number, MNode>([[1, {
    kind: "dir",
    entries: new Map(),
    parent: 1,
    xattrs: new Map(),
  }]]);
  next = 2;
  dir(path: string[]): number {
    let cur = 1;
    for (const p of path) {
      const d = this.nodes.get(cur)!;
      if (d.kind === "link") throw new FsError("ENOENT", ""); // symlinks dangle (see "symlink" below)
      if (d.kind !== "dir") throw new FsError("ENOTDIR", "");
      const c = d.entries.get(p);
      if (c === undefined) throw new FsError("ENOENT", "");
      cur = c;
    }
    const k = this.nodes.get(cur)!.kind;
    if (k === "link") throw new FsError("ENOENT", "");
    if (k !== "dir") throw new FsError("ENOTDIR", "");
    return cur;
  }
  entries(d: number) {
    return (this.nodes.get(d) as { entries: Map<string, number> }).entries;
  }
  get(path: string[]): number {
    const d = this.dir(path.slice(0, -1));
    const c = this.entries(d).get(path[path.length - 1]);
    if (c === undefined) throw new FsError("ENOENT", "");
    return c;
  }
  add(path: string[], node: MNode): number {
    const d = this.dir(path.slice(0, -1));
    const name = path[path.length - 1];
    if (this.entries(d).has(name)) throw new FsError("EEXIST", "");
    const id = this.next++;
    this.nodes.set(id, node);
    this.entries(d).set(name, id);
    return id;
  }
  drop(id: number) {
    const n = this.nodes.get(id)!;
    if (n.kind !== "dir") {
      n.nlink--;
      if (n.nlink === 0) this.nodes.delete(id);
    } else this.nodes.delete(id);
  }
  isAncestor(a: number, b: number): boolean {
    let cur = b;
    for (;;) {
      if (cur === a) return true;
      if (cur === 1) return false;
      cur = (this.nodes.get(cur) as { parent: number }).parent;
    }
  }
}

type Op =
  | { op: "create" | "mkdir" | "unlink" | "rmdir" | "symlink"; path: string[] }
  | { op: "write"; path: string[]; offset: number; len: number; byte: number }
  | { op: "truncate"; path: string[]; size: number }
  | { op: "rename"; from: string[]; to: string[]; flags: number }
  | { op: "link"; from: string[]; to: string[] }
  | { op: "setxattr"; path: string[]; name: string; value: string }
  | { op: "removexattr"; path: string[]; name: string }
  | { op: "reopen" };

const nameArb = fc.constantFrom("a", "b", "c", "d");
const pathArb = fc.array(nameArb, { minLength: 1, maxLength: 3 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constantFrom("create" as const, "mkdir" as const),
      path: pathArb,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constantFrom(
        "unlink" as const,
        "rmdir" as const,
        "symlink" as const,
      ),
      path: pathArb,
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("write" as const),
      path: pathArb,
      offset: fc.oneof(
        fc.integer({ min: 0, max: 9000 }),
        fc.integer({ min: 0, max: 3 << 20 }),
      ),
      len: fc.integer({ min: 0, max: 10000 }),
      byte: fc.integer({ min: 0, max: 255 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("truncate" as const),
      path: pathArb,
      size: fc.integer({ min: 0, max: 20000 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("rename" as const),
      from: pathArb,
      to: pathArb,
      flags: fc.constantFrom(0, 0, 1, 2),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("link" as const),
      from: pathArb,
      to: pathArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("setxattr" as const),
      path: pathArb,
      name: fc.constantFrom("user.x", "user.y"),
      value: fc.string({ maxLength: 40 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("removexattr" as const),
      path: pathArb,
      name: fc.constantFrom("user.x", "user.y"),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ op: "reopen" as const }) },
);

function applyModel(m: Model, o: Op): void {
  switch (o.op) {
    case "create":
      m.add(o.path, {
        kind: "file",
        data: new Uint8Array(0),
        nlink: 1,
        xattrs: new Map(),
      });
      return;
    case "mkdir": {
      const parent = m.dir(o.path.slice(0, -1));
      m.add(o.path, {
        kind: "dir",
        entries: new Map(),
        parent,
        xattrs: new Map(),
      });
      return;
    }
    case "symlink":
      m.add(o.path, {
        kind: "link",
        target: "/nonexistent/" + o.path.join("/"),
        nlink: 1,
        xattrs: new Map(),
      });
      return;
    case "unlink": {
      const id = m.get(o.path);
      if (m.nodes.get(id)!.kind === "dir") throw new FsError("EISDIR", "");
      m.entries(m.dir(o.path.slice(0, -1))).delete(o.path[o.path.length - 1]);
      m.drop(id);
      return;
    }
    case "rmdir": {
      const id = m.get(o.path);
      const n = m.nodes.get(id)!;
      if (n.kind !== "dir") throw new FsError("ENOTDIR", "");
      if (n.entries.size) throw new FsError("ENOTEMPTY", "");
      m.entries(m.dir(o.path.slice(0, -1))).delete(o.path[o.path.length - 1]);
      m.drop(id);
      return;
    }
    case "write": {
      const n = m.nodes.get(m.get(o.path))!;
      if (n.kind === "dir") throw new FsError("EISDIR", "");
      if (n.kind !== "file") throw new FsError("EINVAL", "");
      if (o.len === 0) return;
      const end = o.offset + o.len;
      if (end > n.data.length) {
        const d = new Uint8Array(end);
        d.set(n.data);
        n.data = d;
      }
      n.data.fill(o.byte, o.offset, end);
      return;
    }
    case "truncate": {
      const n = m.nodes.get(m.get(o.path))!;
      if (n.kind === "dir") throw new FsError("EISDIR", "");
      if (n.kind !== "file") throw new FsError("EINVAL", "");
      const d = new Uint8Array(o.size);
      d.set(n.data.subarray(0, o.size));
      n.data = d;
      return;
    }
    case "link": {
      // Linux order: old path, new parent, EEXIST (filename_create), then EPERM (vfs_link)
      const id = m.get(o.from);
      const n = m.nodes.get(id)!;
      const d = m.dir(o.to.slice(0, -1));
      if (m.entries(d).has(o.to[o.to.length - 1])) {
        throw new FsError("EEXIST", "");
      }
      if (n.kind === "dir") throw new FsError("EPERM", "");
      m.entries(d).set(o.to[o.to.length - 1], id);
      n.nlink++;
      return;
    }
    case "setxattr":
      m.nodes.get(m.get(o.path))!.xattrs.set(o.name, o.value);
      return;
    case "removexattr":
      if (!m.nodes.get(m.get(o.path))!.xattrs.delete(o.name)) {
        throw new FsError("ENODATA", "");
      }
      return;
    case "rename": {
      const od = m.dir(o.from.slice(0, -1));
      const nd = m.dir(o.to.slice(0, -1)); // both parents are resolved before the source is looked up
      const on = o.from[o.from.length - 1];
      const src = m.entries(od).get(on);
      if (src === undefined) throw new FsError("ENOENT", "");
      const nn = o.to[o.to.length - 1];
      const dst = m.entries(nd).get(nn);
      const sn = m.nodes.get(src)!;
      if (o.flags === 2) {
        if (dst === undefined) throw new FsError("ENOENT", "");
        const dn = m.nodes.get(dst)!;
        if (sn.kind === "dir" && m.isAncestor(src, nd)) {
          throw new FsError("EINVAL", "");
        }
        if (dn.kind === "dir" && m.isAncestor(dst, od)) {
          throw new FsError("EINVAL", "");
        }
        if (src === dst) return;
        m.entries(od).set(on, dst);
        m.entries(nd).set(nn, src);
        if (sn.kind === "dir") sn.parent = nd;
        if (dn.kind === "dir") dn.parent = od;
        return;
      }
      if (dst !== undefined && o.flags === 1) throw new FsError("EEXIST", "");
      if (dst === src) return;
      if (sn.kind === "dir" && m.isAncestor(src, nd)) {
        throw new FsError("EINVAL", "");
      }
      if (dst !== undefined) {
        const dn = m.nodes.get(dst)!;
        if (sn.kind === "dir" && dn.kind !== "dir") {
          throw new FsError("ENOTDIR", "");
        }
        if (sn.kind !== "dir" && dn.kind === "dir") {
          throw new FsError("EISDIR", "");
        }
        if (dn.kind === "dir" && dn.entries.size) {
          throw new FsError("ENOTEMPTY", "");
        }
        m.drop(dst);
      }
      m.entries(nd).set(nn, src);
      m.entries(od).delete(on);
      if (sn.kind === "dir") sn.parent = nd;
      return;
    }
    case "reopen":
      return;
  }
}

function applyFs(fs: Vexfs, o: Op): void {
  const parent = (p: string[]) => {
    const ino = fs.resolve("/" + p.slice(0, -1).join("/"), true);
    fs.lookup(ino, "."); // ENOTDIR when a path component is not a directory, as path walk does
    return ino;
  };
  const last = (p: string[]) => p[p.length - 1];
  const at = (p: string[]) => fs.resolve("/" + p.join("/"), false);
  switch (o.op) {
    case "create":
      fs.create(parent(o.path), last(o.path));
      return;
    case "mkdir":
      fs.mkdir(parent(o.path), last(o.path));
      return;
    case "symlink":
      fs.symlink(
        parent(o.path),
        last(o.path),
        "/nonexistent/" + o.path.join("/"),
      );
      return;
    case "unlink":
      fs.unlink(parent(o.path), last(o.path));
      return;
    case "rmdir":
      fs.rmdir(parent(o.path), last(o.path));
      return;
    case "write": {
      const ino = at(o.path);
      const t = fs.getattr(ino).mode & S_IFMT;
      if (t === S_IFLNK) throw new FsError("EINVAL", "");
      fs.write(ino, o.offset, new Uint8Array(o.len).fill(o.byte));
      return;
    }
    case "truncate": {
      const ino = at(o.path);
      if ((fs.getattr(ino).mode & S_IFMT) === S_IFLNK) {
        throw new FsError("EINVAL", "");
      }
      fs.truncate(ino, o.size);
      return;
    }
    case "link":
      fs.link(at(o.from), parent(o.to), last(o.to));
      return;
    case "setxattr":
      fs.setxattr(at(o.path), o.name, enc.encode(o.value));
      return;
    case "removexattr":
      fs.removexattr(at(o.path), o.name);
      return;
    case "rename":
      fs.rename(
        parent(o.from),
        last(o.from),
        parent(o.to),
        last(o.to),
        o.flags,
      );
      return;
    case "reopen":
      return;
  }
}

function compareTrees(fs: Vexfs, m: Model): void {
  const walk = (ino: number, id: number, path: string) => {
    const md = m.nodes.get(id)!;
    assert.equal(md.kind, "dir");
    const want = (md as { entries: Map<string, number> }).entries;
    const got = new Map([...fs.readdir(ino)].map((e) => [e.name, e]));
    assert.deepEqual(
      [...got.keys()].sort(),
      [...want.keys()].sort(),
      `entries of ${path}`,
    );
    assert.equal(fs.dirSize(ino), want.size);
    let subdirs = 0;
    for (const [name, cid] of want) {
      const e = got.get(name)!;
      const n = m.nodes.get(cid)!;
      const st = fs.getattr(e.ino);
      const p = `${path}/${name}`;
      assert.equal(st.ino, e.ino);
      for (const [k, v] of n.xattrs) {
        assert.equal(
          dec.decode(fs.getxattr(e.ino, k)),
          v,
          `xattr ${k} of ${p}`,
        );
      }
      assert.equal(
        fs.listxattr(e.ino).size,
        n.xattrs.size,
        `xattr count of ${p}`,
      );
      if (n.kind === "dir") {
        subdirs++;
        assert.equal(st.mode & S_IFMT, S_IFDIR, p);
        assert.equal(fs.lookup(e.ino, ".."), ino, `.. of ${p}`);
        walk(e.ino, cid, p);
      } else if (n.kind === "file") {
        assert.equal(st.mode & S_IFMT, S_IFREG, p);
        assert.equal(st.size, n.data.length, `size of ${p}`);
        assert.equal(st.nlink, n.nlink, `nlink of ${p}`);
        const data = fs.read(e.ino, 0, n.data.length + 10);
        assert.ok(
          data.length === n.data.length &&
            data.every((b, i) => b === n.data[i]),
          `contents of ${p}`,
        );
      } else {
        assert.equal(st.mode & S_IFMT, S_IFLNK, p);
        assert.equal(dec.decode(fs.readlink(e.ino)), n.target);
        assert.equal(st.nlink, n.nlink, `nlink of ${p}`);
      }
    }
    assert.equal(
      fs.getattr(ino).nlink,
      2 + subdirs,
      `nlink of directory ${path || "/"}`,
    );
  };
  walk(ROOT_INO, 1, "");
}

Deno.test("random operation sequences agree with an in-memory model, across reopen", () => {
  for (const bs of [1024, 4096]) {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => {
        const img = tmpImage(16 << 20, bs);
        let fs = Vexfs.open(img);
        const m = new Model();
        try {
          for (const o of ops) {
            const want = code(() => applyModel(m, o));
            const got = code(() => applyFs(fs, o));
            assert.equal(
              got,
              want,
              `${JSON.stringify(o)}: engine ${got}, model ${want}`,
            );
            if (o.op === "reopen") {
              fs.close();
              fs = Vexfs.open(img);
            }
          }
          compareTrees(fs, m);
          fs.close();
          assertFsckClean(img);
          fs = Vexfs.open(img, { readOnly: true });
          compareTrees(fs, m);
        } finally {
          fs.close();
          Deno.removeSync(img);
        }
      }),
      { numRuns: bs === 1024 ? 40 : 60 },
    );
  }
});

Deno.test("sparse files: holes read as zeros, truncate up and down, blocks freed", () => {
  const img = tmpImage();
  const fs = Vexfs.open(img);
  try {
    const f = fs.create(ROOT_INO, "sparse");
    const free0 = fs.statfs().bfree;
    fs.write(f, 10 * 4096 + 100, enc.encode("xyz"));
    assert.equal(fs.getattr(f).size, 10 * 4096 + 103);
    assert.equal(fs.getattr(f).blocks, 8); // one 4 KiB block in 512-byte units
    const all = fs.read(f, 0, 50000);
    assert.equal(all.length, 10 * 4096 + 103);
    assert.ok(all.subarray(0, 10 * 4096 + 100).every((b) => b === 0));
    assert.equal(dec.decode(all.subarray(10 * 4096 + 100)), "xyz");
    fs.truncate(f, 10 * 4096 + 101);
    fs.truncate(f, 20 * 4096);
    const again = fs.read(f, 10 * 4096 + 100, 10);
    assert.deepEqual([...again], [0x78, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    fs.truncate(f, 0);
    assert.equal(fs.getattr(f).blocks, 0);
    assert.equal(fs.statfs().bfree, free0);
    // write at a 1 TiB offset: extent-mapped, nothing allocated in between
    fs.write(f, 2 ** 40, enc.encode("far"));
    assert.equal(fs.getattr(f).size, 2 ** 40 + 3);
    assert.equal(dec.decode(fs.read(f, 2 ** 40, 3)), "far");
    assert.equal(code(() => fs.write(f, 2 ** 44, enc.encode("x"))), "EFBIG");
  } finally {
    fs.close();
  }
  assertFsckClean(img);
  Deno.removeSync(img);
});

Deno.test("fragmented file builds a multi-level extent tree that survives reopen", () => {
  const img = tmpImage(64 << 20, 1024);
  let fs = Vexfs.open(img);
  try {
    const a = fs.create(ROOT_INO, "a");
    const b = fs.create(ROOT_INO, "b");
    // interleave writes so neither file gets contiguous blocks
    for (let i = 0; i < 3000; i++) {
      fs.write(a, i * 1024, new Uint8Array(1024).fill(i & 255));
      fs.write(b, i * 1024, new Uint8Array(1024).fill((i + 1) & 255));
    }
    assert.ok(fs.iget(a).d.data[6] >= 1, "tree has depth >= 1");
    fs.close();
    fs = Vexfs.open(img);
    assert.ok(fs.extents(fs.iget(a)).length >= 2000);
    for (const i of [0, 1, 1500, 2999]) {
      assert.equal(fs.read(a, i * 1024 + 5, 1)[0], i & 255);
      assert.equal(fs.read(b, i * 1024 + 5, 1)[0], (i + 1) & 255);
    }
    fs.truncate(a, 100 * 1024);
    fs.close();
    fs = Vexfs.open(img);
    assert.equal(fs.read(a, 99 * 1024, 1)[0], 99);
    assert.equal(fs.getattr(a).size, 100 * 1024);
  } finally {
    fs.close();
  }
  assertFsckClean(img);
  Deno.removeSync(img);
});

Deno.test("unlinked open file stays readable until release; a crash leaves an orphan that is freed at next open", () => {
  const img = tmpImage();
  let fs = Vexfs.open(img);
  try {
    const f = fs.create(ROOT_INO, "tmp");
    fs.write(f, 0, enc.encode("still here"));
    fs.openInode(f);
    fs.unlink(ROOT_INO, "tmp");
    assert.equal(code(() => fs.lookup(ROOT_INO, "tmp")), "ENOENT");
    assert.equal(dec.decode(fs.read(f, 0, 100)), "still here");
    assert.equal(fs.getattr(f).nlink, 0);
    fs.release(f);
    assert.equal(code(() => fs.getattr(f)), "ENOENT");

    const g = fs.create(ROOT_INO, "tmp2");
    fs.write(g, 0, new Uint8Array(100000));
    fs.openInode(g);
    fs.unlink(ROOT_INO, "tmp2");
    fs.sync(); // the holder "dies" here: no release, no close
    const freeBefore = fs.statfs().bfree;
    const dev = fs.dev;
    dev.close();
    fs = Vexfs.open(img);
    assert.deepEqual(fs.recoveredOrphans, [g]);
    assert.equal(code(() => fs.getattr(g)), "ENOENT");
    assert.ok(fs.statfs().bfree > freeBefore);
    assert.equal(fs.sb.orphanHead, 0);
  } finally {
    fs.close();
  }
  assertFsckClean(img);
  Deno.removeSync(img);
});

Deno.test("a full disk gives ENOSPC and loses nothing that was there", () => {
  const img = tmpImage(2 << 20, 1024);
  let fs = Vexfs.open(img);
  try {
    const keep = fs.create(ROOT_INO, "keep");
    fs.write(keep, 0, enc.encode("precious"));
    let n = 0;
    let err = "";
    for (;;) {
      const f = code(() => fs.create(ROOT_INO, `f${n}`));
      if (f !== "ok") {
        err = f;
        break;
      }
      const w = code(() => fs.write(fs.lookup(ROOT_INO, `f${n}`), 0, new Uint8Array(50000).fill(7)));
      n++;
      if (w !== "ok") {
        err = w;
        break;
      }
    }
    assert.equal(err, "ENOSPC");
    const bfree = fs.statfs().bfree; // before the mkdir, which may take a block
    assert.equal(code(() => fs.mkdir(ROOT_INO, "more")), bfree < 4 ? "ENOSPC" : "ok");
    fs.close();
    fs = Vexfs.open(img);
    assert.equal(
      dec.decode(fs.read(fs.lookup(ROOT_INO, "keep"), 0, 100)),
      "precious",
    );
    for (let i = 0; i < n - 1; i++) {
      assert.equal(fs.getattr(fs.lookup(ROOT_INO, `f${i}`)).size, 50000);
    }
    // freeing space makes writes possible again
    for (let i = 0; i < n; i++) fs.unlink(ROOT_INO, `f${i}`);
    fs.write(keep, 8, new Uint8Array(100000));
  } finally {
    fs.close();
  }
  assertFsckClean(img);
  Deno.removeSync(img);
});

Deno.test("writeSome: on a nearly full disk a write is short, not refused; write stays all or nothing", () => {
  const img = tmpImage(2 << 20, 1024);
  const fs = Vexfs.open(img);
  try {
    const big = fs.create(ROOT_INO, "big");
    const data = new Uint8Array(8 << 20).map((_, i) => (i * 7) & 0xff);
    const free0 = fs.statfs().bfree;
    // all or nothing: refused, nothing allocated
    assert.equal(code(() => fs.write(big, 0, data)), "ENOSPC");
    assert.equal(fs.statfs().bfree, free0);
    assert.equal(fs.getattr(big).size, 0);
    // short: starts mid-block, ends on a block boundary, fills what is available
    const n = fs.writeSome(big, 100, data);
    assert.ok(n > (free0 - 40) * 1024 && n < data.length, `short count ${n} with ${free0} blocks free`);
    assert.equal((100 + n) % 1024, 0, "ends on a block boundary");
    assert.equal(fs.getattr(big).size, 100 + n);
    assert.equal(fs.statfs().bavail, 0, "nothing is left available for data");
    assert.deepEqual(fs.read(big, 100, n), data.subarray(0, n));
    assert.deepEqual(fs.read(big, 0, 100), new Uint8Array(100), "the hole before it reads as zeros");
    // nothing fits now: ENOSPC, nothing changed; overwriting allocated blocks still works
    assert.equal(code(() => fs.writeSome(big, 100 + n, data.subarray(0, 10))), "ENOSPC");
    assert.equal(fs.getattr(big).size, 100 + n);
    assert.equal(fs.writeSome(big, 100, data.subarray(5, 5000)), 4995);
    assert.equal(fs.writeSome(big, 0, new Uint8Array(0)), 0);
  } finally {
    fs.close();
  }
  assertFsckClean(img);
  Deno.removeSync(img);
});

Deno.test("rename: over files, directories across parents, into itself refused, exchange", () => {
  const img = tmpImage();
  const fs = Vexfs.open(img);
  try {
    const a = fs.mkdir(ROOT_INO, "a");
    const b = fs.mkdir(ROOT_INO, "b");
    const sub = fs.mkdir(a, "sub");
    assert.equal(code(() => fs.rename(ROOT_INO, "a", sub, "x")), "EINVAL");
    assert.equal(code(() => fs.rename(ROOT_INO, "a", a, "x")), "EINVAL");
    fs.rename(a, "sub", b, "moved");
    assert.equal(fs.getattr(a).nlink, 2);
    assert.equal(fs.getattr(b).nlink, 3);
    assert.equal(fs.lookup(sub, ".."), b);
    assert.equal(fs.pathOf(sub), "/b/moved");
    const f1 = fs.create(ROOT_INO, "f1");
    const f2 = fs.create(ROOT_INO, "f2");
    fs.rename(ROOT_INO, "f1", ROOT_INO, "f2");
    assert.equal(fs.lookup(ROOT_INO, "f2"), f1);
    assert.equal(code(() => fs.getattr(f2)), "ENOENT");
    const f3 = fs.create(ROOT_INO, "f3");
    assert.equal(
      code(() => fs.rename(ROOT_INO, "f2", ROOT_INO, "f3", 1)),
      "EEXIST",
    );
    fs.rename(ROOT_INO, "f2", b, "moved", 2); // exchange a file with a directory
    assert.equal(fs.lookup(b, "moved"), f1);
    assert.equal(fs.lookup(ROOT_INO, "f2"), sub);
    assert.equal(fs.lookup(sub, ".."), ROOT_INO);
    assert.equal(fs.getattr(b).nlink, 2);
    assert.equal(fs.getattr(ROOT_INO).nlink, 2 + 3);
    assert.equal(fs.pathOf(f3), "/f3");
  } finally {
    fs.close();
  }
  assertFsckClean(img);
  Deno.removeSync(img);
});

Deno.test("hard links, symlinks (inline and long), fifos, modes, owners and nanosecond times", () => {
  const img = tmpImage();
  let fs = Vexfs.open(img);
  try {
    const d = fs.mkdir(ROOT_INO, "d", 0o700, 1000, 1000);
    const f = fs.create(d, "f", 0o640, 1000, 100);
    fs.link(f, ROOT_INO, "hl");
    assert.equal(fs.getattr(f).nlink, 2);
    assert.equal(code(() => fs.link(d, ROOT_INO, "dl")), "EPERM");
    const long = "x/".repeat(100) + "end";
    fs.symlink(ROOT_INO, "short", "d/f");
    fs.symlink(ROOT_INO, "long", long);
    const fifo = fs.mknod(ROOT_INO, "fifo", S_IFIFO | 0o600);
    fs.setattr(f, {
      mode: 0o4755,
      uid: 7,
      gid: 8,
      atime: { sec: 1234567890, nsec: 123456789 },
      mtime: { sec: -5, nsec: 999999999 },
    });
    fs.unlink(d, "f");
    assert.equal(fs.pathOf(f), "/hl"); // parent pointer fell back to the tree search
    fs.close();
    fs = Vexfs.open(img);
    assert.equal(dec.decode(fs.readlink(fs.lookup(ROOT_INO, "short"))), "d/f");
    assert.equal(dec.decode(fs.readlink(fs.lookup(ROOT_INO, "long"))), long);
    assert.equal(fs.getattr(fifo).mode & S_IFMT, S_IFIFO);
    const st = fs.getattr(f);
    assert.equal(st.mode & 0o7777, 0o4755);
    assert.deepEqual([st.uid, st.gid, st.nlink], [7, 8, 1]);
    assert.deepEqual(st.atime, { sec: 1234567890, nsec: 123456789 });
    assert.deepEqual(st.mtime, { sec: -5, nsec: 999999999 });
    assert.deepEqual([fs.getattr(d).uid, fs.getattr(d).mode & 0o7777], [
      1000,
      0o700,
    ]);
    assert.equal(
      code(() => fs.create(ROOT_INO, "x".repeat(256))),
      "ENAMETOOLONG",
    );
    assert.equal(code(() => fs.create(ROOT_INO, "a/b")), "EINVAL");
    assert.equal(code(() => fs.rmdir(ROOT_INO, "hl")), "ENOTDIR");
    assert.equal(code(() => fs.unlink(ROOT_INO, "d")), "EISDIR");
    fs.create(d, "g");
    assert.equal(code(() => fs.rmdir(ROOT_INO, "d")), "ENOTEMPTY");
  } finally {
    fs.close();
  }
  assertFsckClean(img);
  Deno.removeSync(img);
});

Deno.test("xattrs: create/replace flags, namespaces, past one block into a store", () => {
  const img = tmpImage(8 << 20, 1024);
  const fs = Vexfs.open(img);
  try {
    const f = fs.create(ROOT_INO, "f");
    fs.setxattr(f, "user.a", enc.encode("1"), 1);
    assert.equal(
      code(() => fs.setxattr(f, "user.a", enc.encode("2"), 1)),
      "EEXIST",
    );
    assert.equal(
      code(() => fs.setxattr(f, "user.b", enc.encode("2"), 2)),
      "ENODATA",
    );
    fs.setxattr(f, "user.a", enc.encode("2"), 2);
    fs.setxattr(f, "trusted.t", new Uint8Array(0));
    assert.equal(
      code(() => fs.setxattr(f, "bogus.x", enc.encode("1"))),
      "EOPNOTSUPP",
    );
    const blocks = fs.getattr(f).blocks;
    // more than one 1 KiB block holds: the attributes move to a store (FORMAT.md §7.2),
    // whose blocks are its own, not the file's
    fs.setxattr(f, "user.big", new Uint8Array(2000));
    assert.deepEqual([...fs.listxattr(f).keys()].sort(), [
      "trusted.t",
      "user.a",
      "user.big",
    ]);
    assert.equal(fs.getattr(f).blocks, blocks - 2);
    fs.removexattr(f, "user.big");
    fs.removexattr(f, "user.a");
    fs.removexattr(f, "trusted.t");
    assert.equal(fs.getattr(f).blocks, blocks - 2);
    assert.equal(code(() => fs.getxattr(f, "user.a")), "ENODATA");
  } finally {
    fs.close();
  }
  assertFsckClean(img);
  Deno.removeSync(img);
});

Deno.test("a directory of 20,000 entries: lookup, listing and removal", () => {
  const img = tmpImage(128 << 20, 4096, 30000);
  let fs = Vexfs.open(img);
  try {
    const d = fs.mkdir(ROOT_INO, "big");
    for (let i = 0; i < 20000; i++) fs.create(d, `file-${i}`);
    fs.close();
    fs = Vexfs.open(img);
    const reads0 = fs.cache.reads;
    assert.equal(fs.lookup(d, "file-12345") > 0, true);
    assert.ok(
      fs.cache.reads - reads0 <= 6,
      `lookup read ${fs.cache.reads - reads0} blocks`,
    );
    assert.equal(new Set([...fs.readdir(d)].map((e) => e.name)).size, 20000);
    for (let i = 0; i < 20000; i++) fs.unlink(d, `file-${i}`);
    assert.equal(fs.dirSize(d), 0);
    fs.rmdir(ROOT_INO, "big");
  } finally {
    fs.close();
  }
  assertFsckClean(img);
  Deno.removeSync(img);
});

Deno.test("read-only open writes nothing and refuses changes with EROFS", () => {
  const img = tmpImage();
  const before = Deno.readFileSync(img);
  const fs = Vexfs.open(img, { readOnly: true });
  try {
    assert.equal(code(() => fs.create(ROOT_INO, "x")), "EROFS");
    assert.equal(fs.dirSize(ROOT_INO), 0);
  } finally {
    fs.close();
  }
  const after = Deno.readFileSync(img);
  assert.ok(
    before.length === after.length && before.every((b, i) => b === after[i]),
  );
  Deno.removeSync(img);
});

Deno.test("a second read-write open of the same image is refused with EBUSY", () => {
  const img = tmpImage();
  const fs = Vexfs.open(img);
  try {
    assert.equal(code(() => Vexfs.open(img)), "EBUSY");
  } finally {
    fs.close();
  }
  assertFsckClean(img);
  Deno.removeSync(img);
});

Deno.test("superblock state: without a journal dirty while open, with one clean and RECOVER set; clean after close", () => {
  for (const journal of [false, true]) {
    const img = Deno.makeTempFileSync({ suffix: ".img" });
    Deno.removeSync(img);
    mkfs(img, { size: 64 << 20, journalBlocks: journal ? undefined : 0 });
    const fs = Vexfs.open(img);
    const raw = () => {
      const b = new Uint8Array(1024);
      const f = Deno.openSync(img);
      f.seekSync(1024, Deno.SeekMode.Start);
      f.readSync(b);
      f.close();
      const dv = new DataView(b.buffer);
      return { state: dv.getUint16(122, true), recover: (dv.getUint32(12, true) & INCOMPAT_RECOVER) !== 0 };
    };
    assert.deepEqual(raw(), journal ? { state: 1, recover: true } : { state: 2, recover: false });
    fs.close();
    assert.deepEqual(raw(), { state: 1, recover: false });
    Deno.removeSync(img);
  }
});

Deno.test("regressions found through the mount: stale bytes of a reused block, punch past EOF, fallocate mtime, xattr flags", () => {
  const img = tmpImage();
  const fs = Vexfs.open(img);
  try {
    // A partial write into a fresh block merged into an old neighbour's extent zero-fills the rest of the block.
    const f = fs.create(ROOT_INO, "f");
    fs.write(f, 0, new Uint8Array(5000).fill(0xaa));
    fs.truncate(f, 1259);
    fs.write(f, 4050, new Uint8Array(115).fill(0xbb));
    fs.truncate(f, 8192);
    assert.deepEqual(fs.read(f, 4165, 835), new Uint8Array(835));
    // Punching a hole at or past the end of file changes nothing.
    const g = fs.create(ROOT_INO, "g");
    fs.write(g, 0, new Uint8Array(107).fill(7));
    fs.fallocate(g, 3, 4096, 1);
    assert.deepEqual(fs.read(g, 0, 107), new Uint8Array(107).fill(7));
    // fallocate is a modification: mtime moves with ctime.
    fs.setattr(g, { mtime: { sec: 1, nsec: 0 } });
    fs.fallocate(g, 0, 0, 8192);
    assert.notDeepEqual(fs.getattr(g).mtime, { sec: 1, nsec: 0 });
    // XATTR_CREATE|XATTR_REPLACE checks both flags.
    fs.setxattr(g, "user.a", new Uint8Array([1]));
    assert.equal(code(() => fs.setxattr(g, "user.a", new Uint8Array([2]), 3)), "EEXIST");
    assert.equal(code(() => fs.setxattr(g, "user.b", new Uint8Array([2]), 3)), "ENODATA");
  } finally {
    fs.close();
  }
  assertFsckClean(img);
  Deno.removeSync(img);
});
