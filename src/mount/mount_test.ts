/**
 * Persistence through real mounts (issue 3 §1): a tree of files of awkward
 * sizes, symlinks, hard links, special files, xattrs, modes, owners,
 * nanosecond times and vectors is written through a `vexfs mount --foreground`
 * daemon, then checked after a read-write remount and after a third,
 * read-only mount: same bytes (sha256), same `stat` fields (inode, mode,
 * uid/gid, nlink, size, blocks, rdev, atime/mtime/ctime in ns), same
 * xattrs and vectors. Also a real block device: a loop device formatted,
 * mounted as `/dev/loopN`, written, unmounted and checked with fsck.
 */
import { createHash } from "node:crypto";
import { Vexfs } from "../fs/fs.ts";
import { mkfs } from "../fs/mkfs.ts";
import { assertFsckClean } from "../fs/_testutil.ts";
import { CAN_LOOP, sparseFile, withLoop } from "../device/_testutil.ts";
import { createCollection, getVector, setVector } from "../ioctl/client.ts";
import { assert, assertEquals } from "../test_assert.ts";
import { type Daemon, detachDeadMount, mountImage, mountTest, sha256File, unmount } from "./_testutil.ts";
import { findMount } from "./unmount.ts";
import * as posix from "./_posix.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

// ------------------------------------------------------------------ helpers

function run(cmd: string, args: string[], cwd?: string): string {
  const o = new Deno.Command(cmd, { args, cwd, stdin: "null", stdout: "piped", stderr: "piped" }).outputSync();
  if (!o.success) throw new Error(`${cmd} ${args.join(" ")}: ${dec.decode(o.stderr)}`);
  return dec.decode(o.stdout);
}

/** Reproducible pseudo-random bytes (xorshift32). */
function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

function sha(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

/** Every path below `root` (relative, sorted), directories included, the root as ".". */
function walk(root: string): string[] {
  const out = ["."];
  const rec = (rel: string) => {
    for (const e of Deno.readDirSync(`${root}/${rel}`)) {
      const p = rel === "." ? e.name : `${rel}/${e.name}`;
      out.push(p);
      if (e.isDirectory) rec(p);
    }
  };
  rec(".");
  return out.sort();
}

/**
 * `stat` of every path (GNU stat, nanosecond times): inode, mode (hex), uid,
 * gid, nlink, size, blocks, rdev major/minor, atime, mtime, ctime.
 */
function stats(root: string, paths: string[]): Map<string, string> {
  const out = new Map<string, string>();
  const fmt = "%i %f %u %g %h %s %b %t:%T %.9X %.9Y %.9Z|%n\\0";
  for (let i = 0; i < paths.length; i += 200) {
    const text = run("stat", ["--printf", fmt, "--", ...paths.slice(i, i + 200)], root);
    for (const rec of text.split("\0")) {
      if (!rec) continue;
      const bar = rec.indexOf("|");
      out.set(rec.slice(bar + 1), rec.slice(0, bar));
    }
  }
  assertEquals(out.size, paths.length, "stat of every path");
  return out;
}

/** Everything about the tree that must survive a remount, except the stat lines. */
interface Content {
  /** sha256 of regular files */
  data: Map<string, string>;
  /** symlink targets */
  links: Map<string, string>;
  /** xattrs (name=hex value) of everything but symlinks */
  xattrs: Map<string, string[]>;
  /** vectors (via the ioctl) of files in collections */
  vectors: Map<string, number[]>;
}

async function content(root: string, paths: string[]): Promise<Content> {
  const c: Content = { data: new Map(), links: new Map(), xattrs: new Map(), vectors: new Map() };
  for (const p of paths) {
    const full = `${root}/${p}`;
    const st = Deno.lstatSync(full);
    if (st.isSymlink) {
      c.links.set(p, Deno.readLinkSync(full));
      continue;
    }
    c.xattrs.set(
      p,
      posix.listxattr(full).map((n) => `${n}=${Array.from(posix.getxattr(full, n), (b) => b.toString(16)).join(",")}`),
    );
    if (st.isFile) {
      c.data.set(p, sha256File(full));
      if (p.startsWith("vec")) {
        const v = await getVector(full);
        if (v) c.vectors.set(p, Array.from(v.vector));
      }
    }
  }
  return c;
}

function assertSameStats(got: Map<string, string>, want: Map<string, string>, when: string): void {
  assertEquals([...got.keys()], [...want.keys()], `${when}: the same paths`);
  for (const [p, s] of want) assertEquals(got.get(p), s, `${when}: stat of ${p}`);
}

function assertSameContent(got: Content, want: Content, when: string): void {
  for (const k of ["data", "links", "xattrs", "vectors"] as const) {
    assertEquals([...got[k].keys()], [...want[k].keys()], `${when}: ${k} paths`);
    for (const [p, v] of want[k]) assertEquals(got[k].get(p), v, `${when}: ${k} of ${p}`);
  }
}

// ------------------------------------------------------------------ the tree

const SIZES = [0, 1, 4095, 4096, 4097, 65536, 65537, (1 << 20) + 123, (3 << 20) + 4096];
const T_OLD = "1000000000.123456789"; // 2001-09-09, with nanoseconds
const T_MID = "1234567890.987654321";

/** Builds the test tree through the mount; returns the expected sha256 of every regular file. */
async function buildTree(mnt: string): Promise<Map<string, string>> {
  const expect = new Map<string, string>();
  const put = (rel: string, b: Uint8Array) => {
    Deno.writeFileSync(`${mnt}/${rel}`, b);
    expect.set(rel, sha(b));
  };
  Deno.mkdirSync(`${mnt}/files/nested/a/b/c`, { recursive: true });
  for (const [i, n] of SIZES.entries()) put(`files/size-${n}`, bytes(n, i + 1));
  put("files/nested/a/b/c/deep.txt", enc.encode("deep\n"));
  put("files/ünïcödé name with spaces.txt", enc.encode("utf-8 name\n"));
  put(`files/${"n".repeat(255)}`, enc.encode("longest name\n"));
  // Written in pieces at odd offsets (overwrite, extend, holes).
  const f = Deno.openSync(`${mnt}/files/patched`, { read: true, write: true, create: true });
  const patched = new Uint8Array(300_000);
  for (const [off, len, seed] of [[0, 200_000, 7], [100_001, 50_000, 8], [250_000, 50_000, 9], [4095, 2, 10]]) {
    const b = bytes(len, seed);
    f.seekSync(off, Deno.SeekMode.Start);
    f.writeSync(b);
    patched.set(b, off);
  }
  f.close();
  expect.set("files/patched", sha(patched));
  // Sparse: one byte at 10 MiB, a hole before it.
  const sp = Deno.openSync(`${mnt}/files/sparse`, { write: true, create: true });
  sp.seekSync(10 << 20, Deno.SeekMode.Start);
  sp.writeSync(new Uint8Array([0x5a]));
  sp.close();
  const sparse = new Uint8Array((10 << 20) + 1);
  sparse[10 << 20] = 0x5a;
  expect.set("files/sparse", sha(sparse));
  // Truncated down and up.
  put("files/truncated", bytes(100_000, 11));
  Deno.truncateSync(`${mnt}/files/truncated`, 5000);
  Deno.truncateSync(`${mnt}/files/truncated`, 9000);
  const tr = new Uint8Array(9000);
  tr.set(bytes(100_000, 11).subarray(0, 5000));
  expect.set("files/truncated", sha(tr));

  // Symlinks: relative, absolute, dangling, long (out of the inode), to a directory.
  Deno.mkdirSync(`${mnt}/links`);
  Deno.symlinkSync("../files/size-1", `${mnt}/links/rel`);
  Deno.symlinkSync("/etc/passwd", `${mnt}/links/abs`);
  Deno.symlinkSync("nowhere/at/all", `${mnt}/links/dangling`);
  Deno.symlinkSync("x/".repeat(1000) + "end", `${mnt}/links/long`);
  Deno.symlinkSync("../files/nested", `${mnt}/links/dir`);
  // Hard links: three names across directories; one whose first name is gone.
  put("files/hl", bytes(7000, 12));
  Deno.linkSync(`${mnt}/files/hl`, `${mnt}/links/hl-1`);
  Deno.linkSync(`${mnt}/files/hl`, `${mnt}/links/hl-2`);
  expect.set("links/hl-1", expect.get("files/hl")!);
  expect.set("links/hl-2", expect.get("files/hl")!);
  put("files/moved-away", bytes(3000, 13));
  Deno.linkSync(`${mnt}/files/moved-away`, `${mnt}/links/survivor`);
  Deno.removeSync(`${mnt}/files/moved-away`);
  expect.delete("files/moved-away");
  expect.set("links/survivor", sha(bytes(3000, 13)));
  // Renamed over an existing file.
  put("files/rename-src", enc.encode("new\n"));
  put("files/rename-dst", enc.encode("old\n"));
  Deno.renameSync(`${mnt}/files/rename-src`, `${mnt}/files/rename-dst`);
  expect.delete("files/rename-src");
  expect.set("files/rename-dst", sha(enc.encode("new\n")));

  // Special files.
  Deno.mkdirSync(`${mnt}/special`);
  run("mkfifo", ["-m", "0640", `${mnt}/special/fifo`]);
  run("mknod", ["-m", "0600", `${mnt}/special/null`, "c", "1", "3"]);
  run("mknod", ["-m", "0660", `${mnt}/special/blk`, "b", "7", "200"]);

  // Modes and owners (chown before chmod: chown clears set-id bits).
  Deno.mkdirSync(`${mnt}/modes`);
  for (
    const [name, mode, uid, gid] of [
      ["private", 0o600, 1234, 5678],
      ["setuid", 0o4755, 0, 0],
      ["setgid", 0o2711, 42, 4242],
      ["none", 0o000, 65534, 65534],
      ["all", 0o777, 4_000_000_000, 3_000_000_000],
    ] as const
  ) {
    put(`modes/${name}`, enc.encode(name));
    Deno.chownSync(`${mnt}/modes/${name}`, uid, gid);
    Deno.chmodSync(`${mnt}/modes/${name}`, mode);
  }
  Deno.mkdirSync(`${mnt}/modes/sticky`);
  Deno.chmodSync(`${mnt}/modes/sticky`, 0o1777);
  Deno.mkdirSync(`${mnt}/modes/sgid-dir`);
  Deno.chownSync(`${mnt}/modes/sgid-dir`, 0, 777);
  Deno.chmodSync(`${mnt}/modes/sgid-dir`, 0o2775);
  put("modes/sgid-dir/inherits-gid", enc.encode("gid 777"));
  Deno.mkdirSync(`${mnt}/modes/sgid-dir/sub`); // inherits gid 777 and S_ISGID
  run("chown", ["-h", "99:98", `${mnt}/links/rel`]);

  // Extended attributes: empty, small, large (own block), on files and directories.
  posix.setxattr(`${mnt}/files/size-4097`, "user.empty", new Uint8Array());
  posix.setxattr(`${mnt}/files/size-4097`, "user.small", enc.encode("v"));
  posix.setxattr(`${mnt}/files/size-4097`, "user.big", bytes(3000, 14));
  posix.setxattr(`${mnt}/files/nested`, "user.on-a-dir", enc.encode("dir value"));
  posix.setxattr(`${mnt}/files/hl`, "user.shared", enc.encode("by all links"));
  posix.setxattr(`${mnt}/modes/private`, "trusted.root-only", enc.encode("t"));

  // Vectors: an f32 l2 collection (ioctl and xattr), an f16 cosine one.
  Deno.mkdirSync(`${mnt}/vec32/sub`, { recursive: true });
  await createCollection(`${mnt}/vec32`, { dim: 8, metric: "l2", elem: "f32" });
  for (let i = 0; i < 12; i++) {
    const rel = `vec32/${i % 3 === 0 ? "sub/" : ""}v${i}`;
    put(rel, enc.encode(`vector file ${i}\n`));
    const v = Float32Array.from({ length: 8 }, (_, j) => Math.fround(Math.sin(i * 8 + j) * 10));
    if (i === 5) {
      posix.setxattr(`${mnt}/${rel}`, "user.vexfs.vector", new Uint8Array(v.buffer));
    } else await setVector(`${mnt}/${rel}`, v);
  }
  put("vec32/no-vector", enc.encode("none"));
  Deno.linkSync(`${mnt}/vec32/v1`, `${mnt}/vec32/sub/v1-link`);
  expect.set("vec32/sub/v1-link", expect.get("vec32/v1")!);
  Deno.mkdirSync(`${mnt}/vec16`);
  await createCollection(`${mnt}/vec16`, { dim: 5, metric: "cosine", elem: "f16" });
  for (let i = 0; i < 4; i++) {
    put(`vec16/h${i}`, bytes(100 * i, 20 + i));
    await setVector(`${mnt}/vec16/h${i}`, Float32Array.from([0.1 * i, -1, 2.5, 1e-3, 65504]));
  }

  // Times last (after every change below each directory), with nanoseconds; symlinks with -h.
  const all = walk(mnt).reverse(); // children before parents
  for (const [i, p] of all.entries()) {
    const t = i % 2 ? T_OLD : T_MID;
    run("touch", ["-h", "-m", "-d", `@${t}`, "--", p], mnt);
    run("touch", ["-h", "-a", "-d", `@${i % 2 ? T_MID : T_OLD}`, "--", p], mnt);
  }
  return expect;
}

// ------------------------------------------------------------------ tests

Deno.test({
  name: "mount: a tree of files, links, special files, xattrs, modes, owners, ns times and vectors survives " +
    "two remounts (read-write, then read-only) byte for byte and stat for stat",
  ...mountTest,
  async fn() {
    let d: Daemon = await mountImage({ size: 128 << 20 });
    const img = d.img;
    try {
      const expect = await buildTree(d.mnt);
      const paths = walk(d.mnt);
      // What was set is what stat shows, before anything reads the files.
      const first = stats(d.mnt, paths);
      const f1 = first.get("files/size-1")!.split(" ");
      assertEquals(f1.slice(1, 4), ["81a4", "0", "0"], "mode 0644, uid/gid 0");
      assertEquals(f1.slice(-3, -1).sort(), [T_MID, T_OLD].sort(), "atime and mtime in ns as set");
      assertEquals(first.get("modes/private")!.split(" ").slice(1, 4), ["8180", "1234", "5678"]);
      assertEquals(first.get("modes/setuid")!.split(" ")[1], (0o104755).toString(16));
      assertEquals(first.get("modes/all")!.split(" ").slice(2, 4), ["4000000000", "3000000000"]);
      assertEquals(first.get("modes/sgid-dir/inherits-gid")!.split(" ")[3], "777");
      assertEquals(first.get("modes/sgid-dir/sub")!.split(" ")[1], (0o42755).toString(16));
      assertEquals(first.get("files/hl")!.split(" ")[4], "3", "nlink of a file with three names");
      assertEquals(first.get("links/survivor")!.split(" ")[4], "1");
      assertEquals(first.get("special/blk")!.split(" ")[7], "7:c8", "rdev of the block node");
      assertEquals(first.get("links/rel")!.split(" ").slice(2, 4), ["99", "98"], "lchown of a symlink");
      assertEquals(first.get("files/sparse")!.split(" ")[5], String((10 << 20) + 1));
      assert(Number(first.get("files/sparse")!.split(" ")[6]) < 100, "the hole takes no blocks");

      const c1 = await content(d.mnt, paths);
      for (const [p, h] of expect) assertEquals(c1.data.get(p), h, `bytes of ${p}`);
      assertEquals(c1.data.size, expect.size, "every regular file checked");
      assertEquals(c1.links.get("links/long"), "x/".repeat(1000) + "end");
      assertEquals(c1.vectors.size, 17, "vectors of 12 + 4 files, and the hard link's");
      assert(!c1.vectors.has("vec32/no-vector"));
      assertEquals(c1.vectors.get("vec32/sub/v1-link"), c1.vectors.get("vec32/v1"), "hard links share a vector");
      assertEquals(c1.vectors.get("vec16/h2"), [0.199951171875, -1, 2.5, 0.0010004043579101562, 65504], "f16 rounding");
      assertEquals(c1.xattrs.get("files/size-4097"), [
        `user.big=${Array.from(bytes(3000, 14), (b) => b.toString(16)).join(",")}`,
        "user.empty=",
        "user.small=76",
      ]);
      assert(c1.xattrs.get("vec32/v5")![0].startsWith("user.vexfs.vector="), "vector as xattr");
      // Reading updated atimes (relatime): take the stats that must survive now.
      const settled = stats(d.mnt, paths);
      await unmount(d);
      assertFsckClean(img);

      // Second mount, read-write: stats before any read, then contents.
      d = await mountImage({ image: img });
      assertSameStats(stats(d.mnt, walk(d.mnt)), settled, "after the first remount");
      assertSameContent(await content(d.mnt, paths), c1, "after the first remount");
      assertSameStats(stats(d.mnt, paths), settled, "reading again changes nothing");
      await unmount(d);
      assertFsckClean(img);

      // Third mount, read-only.
      d = await mountImage({ image: img, options: "ro" });
      assertSameStats(stats(d.mnt, walk(d.mnt)), settled, "after the second remount (ro)");
      assertSameContent(await content(d.mnt, paths), c1, "after the second remount (ro)");
      await unmount(d);
      assertFsckClean(img);

      // What the mount showed is what the engine has on disk.
      const fs = Vexfs.open(img, { readOnly: true });
      try {
        for (const p of ["files/size-4097", "modes/setuid", "links/long", "special/blk", "files/nested"]) {
          const st = fs.getattr(fs.resolve(`/${p}`, false));
          const line = settled.get(p)!.split(" ");
          assertEquals(String(st.ino), line[0], `ino of ${p}`);
          assertEquals(st.mode.toString(16), line[1], `mode of ${p}`);
          assertEquals(`${st.mtime.sec}.${String(st.mtime.nsec).padStart(9, "0")}`, line[9], `mtime of ${p}`);
        }
      } finally {
        fs.close();
      }
    } finally {
      if (findMount(d.mnt)) await unmount(d).catch(() => {});
      Deno.removeSync(img);
    }
  },
});

Deno.test({
  name: "mount: a real loop device is formatted, mounted as /dev/loopN, written, unmounted and fsck-clean",
  ...mountTest,
  ignore: mountTest.ignore || !CAN_LOOP,
  async fn() {
    const dir = Deno.makeTempDirSync({ prefix: "vexfs-loop-mount-" });
    try {
      const backing = `${dir}/backing.img`;
      sparseFile(backing, 96 << 20);
      await withLoop(backing, async (loop) => {
        mkfs(loop, {});
        let d = await mountImage({ image: loop });
        const m = findMount(d.mnt)!;
        assertEquals(m.source, loop, "the mount's source is the loop device");
        assertEquals(m.fstype, "fuse.vexfs");
        Deno.mkdirSync(`${d.mnt}/docs`);
        await createCollection(`${d.mnt}/docs`, { dim: 4, metric: "ip", elem: "f32" });
        const data = bytes(5 << 20, 99);
        Deno.writeFileSync(`${d.mnt}/docs/big.bin`, data);
        await setVector(`${d.mnt}/docs/big.bin`, Float32Array.from([1, 2, 3, 4]));
        for (let i = 0; i < 50; i++) Deno.writeTextFileSync(`${d.mnt}/docs/f${i}.txt`, `file ${i}\n`);
        // The device is claimed: a second mount through the loop device is refused.
        const second = await mountImage({ image: loop }).catch((e) => String(e));
        if (typeof second !== "string") {
          await unmount(second);
          throw new Error("second mount of a mounted loop device succeeded");
        }
        assert(/already mounted or in use/.test(second), second);
        await unmount(d);
        assertFsckClean(loop);

        d = await mountImage({ image: loop });
        assertEquals(sha256File(`${d.mnt}/docs/big.bin`), sha(data));
        assertEquals(Array.from((await getVector(`${d.mnt}/docs/big.bin`))!.vector), [1, 2, 3, 4]);
        assertEquals(Array.from(Deno.readDirSync(`${d.mnt}/docs`)).length, 51);
        assertEquals(Deno.readTextFileSync(`${d.mnt}/docs/f49.txt`), "file 49\n");
        await unmount(d);
        assertFsckClean(loop);
      });
      // The bytes went to the backing file.
      assertFsckClean(backing);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

/** Free blocks and free inodes of the filesystem mounted at `mnt` (statfs through stat -f). */
function statfs(mnt: string): { blocks: number; inodes: number } {
  const [blocks, inodes] = run("stat", ["-f", "-c", "%f %d", mnt]).trim().split(" ").map(Number);
  return { blocks, inodes };
}

Deno.test({
  name: "mount: a file unlinked while open stays readable and writable, is freed at close, and after a kill -9 " +
    "of the daemon the remount frees it from the orphan list (fsck clean)",
  ...mountTest,
  async fn() {
    let d: Daemon = await mountImage({ size: 64 << 20 });
    const img = d.img;
    try {
      Deno.writeTextFileSync(`${d.mnt}/keep.txt`, "kept\n");
      const empty = statfs(d.mnt); // (the first entry grows the root directory: count from here)
      // Unlinked while open, then closed: freed at the last close.
      const data = bytes(3 << 20, 5);
      Deno.writeFileSync(`${d.mnt}/tmp.bin`, data);
      const f = Deno.openSync(`${d.mnt}/tmp.bin`, { read: true, write: true });
      Deno.removeSync(`${d.mnt}/tmp.bin`);
      assertEquals(Array.from(Deno.readDirSync(d.mnt), (e) => e.name), ["keep.txt"], "the name is gone");
      const back = new Uint8Array(data.length);
      let got = 0;
      while (got < back.length) got += f.readSync(back.subarray(got)) ?? back.length;
      assertEquals(sha(back), sha(data), "still readable through the descriptor");
      f.seekSync(0, Deno.SeekMode.End);
      f.writeSync(enc.encode("more"));
      assertEquals(f.statSync().size, data.length + 4, "and writable");
      assertEquals(f.statSync().nlink, 0);
      assert(statfs(d.mnt).blocks < empty.blocks - 700, "its blocks are still in use while open");
      f.close();
      await waitUntil(() => statfs(d.mnt).blocks === empty.blocks, "blocks freed at the last close");
      assertEquals(statfs(d.mnt).inodes, empty.inodes, "inode freed at the last close");

      // Now the same, but the daemon dies while the file is open and unlinked.
      Deno.writeFileSync(`${d.mnt}/orphan.bin`, data);
      const o = Deno.openSync(`${d.mnt}/orphan.bin`, { read: true, write: true });
      Deno.removeSync(`${d.mnt}/orphan.bin`);
      o.syncSync(); // commits everything, the orphan list included
      d.child.kill("SIGKILL");
      await d.child.status;
      o.close(); // on a dead connection: nothing to release any more
      await detachDeadMount(d.mnt);
      assertEquals(findMount(d.mnt), null);

      d = await mountImage({ image: img });
      assertEquals(Deno.readTextFileSync(`${d.mnt}/keep.txt`), "kept\n");
      assertEquals(Array.from(Deno.readDirSync(d.mnt), (e) => e.name), ["keep.txt"]);
      const after = statfs(d.mnt);
      assertEquals(after, empty, "the orphan's blocks and inode were freed");
      // The warning comes after the mount appears in mountinfo, and stderr is read in the background: wait for it.
      const dd = d;
      await waitUntil(
        () => /recovered the journal/.test(dd.stderr()),
        `the remount reports the replay (stderr: ${dd.stderr()})`,
      );
      await unmount(d);
      assertFsckClean(img);
    } finally {
      if (findMount(d.mnt)) await unmount(d).catch(() => {});
      Deno.removeSync(img);
    }
  },
});

async function waitUntil(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 20_000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test({
  name:
    "mount: a full disk answers ENOSPC to writes, mkdir, xattrs and vectors, keeps every earlier byte and vector, " +
    "gives the space back on unlink, and unmounts fsck-clean",
  ...mountTest,
  async fn() {
    let d: Daemon = await mountImage({ size: 16 << 20 });
    const img = d.img;
    try {
      // What was there before the disk filled up.
      const keep = new Map<string, Uint8Array>();
      Deno.mkdirSync(`${d.mnt}/docs`);
      await createCollection(`${d.mnt}/docs`, { dim: 64, metric: "l2", elem: "f32" });
      for (let i = 0; i < 8; i++) {
        const data = bytes(50_000 + 777 * i, 100 + i);
        keep.set(`docs/k${i}.bin`, data);
        Deno.writeFileSync(`${d.mnt}/docs/k${i}.bin`, data);
        await setVector(`${d.mnt}/docs/k${i}.bin`, new Float32Array(64).fill(i));
      }
      posix.setxattr(`${d.mnt}/docs/k0.bin`, "user.note", "kept");
      const before = statfs(d.mnt);

      // Fill it with one file, 1 MiB per write(2), until the filesystem says ENOSPC.
      const fd = posix.open(`${d.mnt}/fill.bin`, posix.O_CREAT | posix.O_WRONLY, 0o644);
      const chunk = bytes(1 << 20, 7);
      let written = 0;
      let code = "ok";
      while (code === "ok") {
        const r = posix.tryCall(() => posix.write(fd, chunk));
        code = r.code;
        if (r.value) written += r.value;
        assert(written < 32 << 20, "a 16 MiB filesystem took more than 32 MiB");
      }
      assertEquals(code, "ENOSPC");
      assert(written > 10 << 20, `only ${written} bytes fitted`);
      assertEquals(posix.res(() => posix.fsync(fd)), "ok", "what was written is durable");
      posix.close(fd);
      assertEquals(Deno.statSync(`${d.mnt}/fill.bin`).size, written, "the size is what write(2) reported");
      assertEquals(run("stat", ["-f", "-c", "%a", d.mnt]).trim(), "0", "no block available (df says 0)");
      assert(statfs(d.mnt).blocks <= 1, "at most the allocator's reserve block is free");

      // Everything that needs a block is refused; nothing that was there changes.
      // (metadata may take the allocator's reserve block: one directory or xattr block may still fit)
      let dirs = 0, xattrs = 0;
      while (posix.res(() => posix.mkdir(`${d.mnt}/dir${dirs}`, 0o755)) === "ok") dirs++;
      while (
        posix.res(() => posix.setxattr(`${d.mnt}/docs/k${1 + xattrs}.bin`, "user.big", new Uint8Array(3000))) === "ok"
      ) {
        xattrs++;
      }
      assert(dirs + xattrs <= 1, `${dirs} directories and ${xattrs} xattr blocks made on a full disk`);
      assertEquals(posix.res(() => posix.mkdir(`${d.mnt}/newdir`, 0o755)), "ENOSPC");
      assertEquals(posix.res(() => posix.setxattr(`${d.mnt}/docs/k7.bin`, "user.big", new Uint8Array(3000))), "ENOSPC");
      const more: string[] = [];
      let vcode = "ok";
      for (let i = 0; vcode === "ok" && i < 2000; i++) {
        const p = `${d.mnt}/docs/v${i}`;
        const c = posix.tryCall(() => posix.close(posix.open(p, posix.O_CREAT | posix.O_WRONLY, 0o644)));
        if (c.code !== "ok") {
          vcode = c.code;
          break;
        }
        more.push(p);
        try {
          await setVector(p, new Float32Array(64).fill(-i));
        } catch (e) {
          vcode = (e as { code?: string }).code ?? String(e);
        }
      }
      assertEquals(vcode, "ENOSPC", "vectors (or directory entries) run out of space with ENOSPC");
      for (const [rel, data] of keep) {
        assertEquals(sha(Deno.readFileSync(`${d.mnt}/${rel}`)), sha(data), rel);
        const i = Number(/k(\d)/.exec(rel)![1]);
        assertEquals((await getVector(`${d.mnt}/${rel}`))!.vector, new Float32Array(64).fill(i), `${rel} vector`);
      }
      assertEquals(dec.decode(posix.getxattr(`${d.mnt}/docs/k0.bin`, "user.note")), "kept");

      // Unlinking gives the space back; the disk works again.
      Deno.removeSync(`${d.mnt}/fill.bin`);
      for (const p of more) Deno.removeSync(p);
      for (let i = 0; i < dirs; i++) Deno.removeSync(`${d.mnt}/dir${i}`);
      for (let i = 0; i < xattrs; i++) posix.removexattr(`${d.mnt}/docs/k${1 + i}.bin`, "user.big");
      await waitUntil(() => statfs(d.mnt).blocks >= before.blocks - 2, "blocks freed by the unlinks");
      Deno.mkdirSync(`${d.mnt}/newdir`);
      Deno.writeTextFileSync(`${d.mnt}/newdir/after.txt`, "room again\n");
      await unmount(d);
      assertFsckClean(img);

      d = await mountImage({ image: img });
      for (const [rel, data] of keep) assertEquals(sha(Deno.readFileSync(`${d.mnt}/${rel}`)), sha(data), rel);
      assertEquals(Deno.readTextFileSync(`${d.mnt}/newdir/after.txt`), "room again\n");
      await unmount(d);
      assertFsckClean(img);
    } finally {
      if (findMount(d.mnt)) await unmount(d).catch(() => {});
      Deno.removeSync(img);
    }
  },
});
