/**
 * POSIX behaviour through a real `vexfs mount` (FUSE): one or more
 * hand-written cases for every operation of src/mount/ops.ts, checked with
 * the system calls a program would make (src/mount/_posix.ts) and, for
 * permissions, with ordinary tools run as `nobody` through setpriv(1).
 * Every mount ends with an unmount, daemon exit 0 and a clean fsck
 * (`withMount`).
 * @module
 */
import { tmpImage } from "../fs/_testutil.ts";
import { Vexfs } from "../fs/fs.ts";
import { fsck } from "../fsck/fsck.ts";
import { getVector } from "../ioctl/client.ts";
import { assert, assertEquals } from "../test_assert.ts";
import * as P from "./_posix.ts";
import { mountTest, withMount } from "./_testutil.ts";
import { vexfsArgv } from "./self.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The process umask (read without changing it for longer than a moment). */
const UMASK = (() => {
  const old = P.umask(0o022);
  P.umask(old);
  return old;
})();

/** Asserts that `f` fails with errno `code`. */
function assertErrno(f: () => unknown, code: string, what = ""): void {
  const got = P.res(f);
  assertEquals(got, code, what || f.toString());
}

function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/** Creates (or replaces) `path` with `data`. */
function put(path: string, data: string | Uint8Array, mode = 0o644): void {
  const fd = P.open(path, P.O_CREAT | P.O_WRONLY | P.O_TRUNC, mode);
  try {
    const b = typeof data === "string" ? enc.encode(data) : data;
    if (b.length) assertEquals(P.pwrite(fd, b, 0), b.length);
  } finally {
    P.close(fd);
  }
}

/** Whole contents of `path`. */
function get(path: string): Uint8Array {
  const fd = P.open(path, P.O_RDONLY);
  try {
    return P.readAll(fd);
  } finally {
    P.close(fd);
  }
}

function getText(path: string): string {
  return dec.decode(get(path));
}

function names(dir: string): string[] {
  return P.listDir(dir).map((e) => e.name).sort();
}

function type(st: P.Stat): number {
  return st.mode & P.S_IFMT;
}

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 255;
  }
  return b;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Waits (briefly) until `cond()` holds: FUSE sends RELEASE asynchronously after close(2). */
async function eventually(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const SETPRIV = ["--reuid=nobody", "--regid=nogroup", "--clear-groups"];
const NOBODY = 65534;

/** Runs `sh -c script` as nobody:nogroup; returns success and output. */
function asNobody(script: string): { ok: boolean; out: string; err: string } {
  const o = new Deno.Command("setpriv", {
    args: [...SETPRIV, "sh", "-c", script],
    cwd: "/",
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  return { ok: o.success, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

/** Runs the vexfs command (offline subcommands) and returns stdout; throws on failure. */
function vexfs(...args: string[]): string {
  const [exe, ...rest] = vexfsArgv(args);
  const o = new Deno.Command(exe, { args: rest, stdout: "piped", stderr: "piped" }).outputSync();
  if (!o.success) throw new Error(`vexfs ${args.join(" ")}: ${dec.decode(o.stderr)}`);
  return dec.decode(o.stdout);
}

// ------------------------------------------------------------------ lookup / getattr

Deno.test({
  name: "posix: lookup and getattr report every stat field",
  ...mountTest,
  fn: () =>
    withMount({ size: 64 << 20 }, (mnt) => {
      const root = P.stat(mnt);
      assertEquals(root.ino, 2n, "root inode is 2 as on ext4");
      assertEquals(type(root), P.S_IFDIR);
      assertEquals(root.mode & 0o7777, 0o755);
      assertEquals([root.nlink, root.uid, root.gid], [2, 0, 0]);
      const t0 = nowNs() - 5_000_000n;
      put(`${mnt}/f`, "hello", 0o640);
      const t1 = nowNs() + 5_000_000n;
      const st = P.stat(`${mnt}/f`);
      assertEquals(type(st), P.S_IFREG);
      assertEquals(st.mode & 0o7777, 0o640 & ~UMASK);
      assertEquals([st.nlink, st.uid, st.gid, st.size], [1, 0, 0, 5]);
      assertEquals(st.blksize, 4096);
      assertEquals(st.blocks, 8, "one 4 KiB block in 512-byte units");
      assertEquals(st.rdev, 0n);
      assertEquals(st.dev, root.dev);
      for (const [k, t] of [["mtime", st.mtimeNs], ["ctime", st.ctimeNs], ["atime", st.atimeNs]] as const) {
        assert(t >= t0 && t <= t1, `${k} ${t} within [${t0}, ${t1}]`);
      }
      // the inode number is the same through stat, fstat and readdir
      const fd = P.open(`${mnt}/f`, P.O_RDONLY);
      assertEquals(P.fstat(fd).ino, st.ino);
      P.close(fd);
      assertEquals(P.listDir(mnt).find((e) => e.name === "f")?.ino, st.ino);
      // lookup failures
      assertErrno(() => P.stat(`${mnt}/missing`), "ENOENT");
      assertErrno(() => P.stat(`${mnt}/f/x`), "ENOTDIR");
      assertErrno(() => P.stat(`${mnt}/${"n".repeat(256)}`), "ENAMETOOLONG");
      put(`${mnt}/${"n".repeat(255)}`, "");
      assertEquals(P.stat(`${mnt}/${"n".repeat(255)}`).size, 0);
      // non-ASCII and odd names are plain bytes
      put(`${mnt}/ünï cödé ✓`, "x");
      assert(names(mnt).includes("ünï cödé ✓"));
      assertEquals(getText(`${mnt}/ünï cödé ✓`), "x");
    }),
});

// ------------------------------------------------------------------ setattr

Deno.test({
  name: "posix: setattr: chmod, chown, truncate up and down, utimensat (explicit ns, UTIME_NOW, UTIME_OMIT)",
  ...mountTest,
  fn: () =>
    withMount({ size: 64 << 20 }, async (mnt) => {
      const f = `${mnt}/f`;
      put(f, "0123456789");
      // chmod, including set-id and sticky bits, keeps the type
      const c0 = P.stat(f).ctimeNs;
      await new Promise((r) => setTimeout(r, 2));
      P.chmod(f, 0o4751);
      let st = P.stat(f);
      assertEquals(st.mode, P.S_IFREG | 0o4751);
      assert(st.ctimeNs > c0, "chmod updates ctime");
      // chown; -1 keeps a field; chown clears set-user-id as on every Linux filesystem
      P.lchown(f, 1234, 5678);
      st = P.stat(f);
      assertEquals([st.uid, st.gid], [1234, 5678]);
      assertEquals(st.mode & 0o7777, 0o751, "chown clears S_ISUID");
      P.lchown(f, -1, 42);
      st = P.stat(f);
      assertEquals([st.uid, st.gid], [1234, 42]);
      P.lchown(f, 0, 0);

      // truncate down, then up: the tail comes back as zeros, not old data
      P.truncate(f, 4);
      assertEquals(getText(f), "0123");
      P.truncate(f, 8);
      assertEquals([...get(f)], [48, 49, 50, 51, 0, 0, 0, 0]);
      // truncate far up makes a hole: no blocks are allocated
      const b0 = P.stat(f).blocks;
      P.truncate(f, 10 << 20);
      st = P.stat(f);
      assertEquals(st.size, 10 << 20);
      assertEquals(st.blocks, b0, "growing by truncate allocates nothing");
      const fd = P.open(f, P.O_RDWR);
      assert(P.pread(fd, 4096, 5 << 20).every((b) => b === 0), "hole reads zeros");
      P.ftruncate(fd, 2);
      assertEquals(P.fstat(fd).size, 2);
      P.close(fd);
      assertEquals(getText(f), "01");
      P.truncate(f, 0);
      assertEquals(P.stat(f).blocks, 0, "truncate to 0 frees every block");
      assertErrno(() => P.truncate(mnt, 0), "EISDIR");
      assertErrno(() => P.truncate(f, -1), "EINVAL");

      // utimensat with explicit nanoseconds, before and after 1970
      P.utimensat(f, [{ sec: 1_000_000_000, nsec: 123_456_789 }, { sec: 1_500_000_000, nsec: 987_654_321 }]);
      st = P.stat(f);
      assertEquals(st.atimeNs, 1_000_000_000_123_456_789n);
      assertEquals(st.mtimeNs, 1_500_000_000_987_654_321n);
      P.utimensat(f, [{ sec: -5, nsec: 1 }, { sec: 0, nsec: 999_999_999 }]);
      st = P.stat(f);
      assertEquals([st.atimeNs, st.mtimeNs], [-4_999_999_999n, 999_999_999n]);
      // UTIME_OMIT keeps one, UTIME_NOW sets the other to now
      const t0 = nowNs() - 5_000_000n;
      P.utimensat(f, [{ sec: 0, nsec: P.UTIME_OMIT }, { sec: 0, nsec: P.UTIME_NOW }]);
      st = P.stat(f);
      assertEquals(st.atimeNs, -4_999_999_999n, "UTIME_OMIT keeps atime");
      assert(st.mtimeNs >= t0 && st.mtimeNs <= nowNs() + 5_000_000n, "UTIME_NOW sets mtime to now");
      // NULL times: both now
      P.utimensat(f, null);
      st = P.stat(f);
      assert(st.atimeNs >= t0 && st.mtimeNs >= t0, "utimensat(NULL) sets both to now");
      assertErrno(() => P.utimensat(f, [{ sec: 0, nsec: 1_000_000_000 }, { sec: 0, nsec: 0 }]), "EINVAL");
      // symlinks themselves (AT_SYMLINK_NOFOLLOW)
      P.symlink("f", `${mnt}/l`);
      P.utimensat(`${mnt}/l`, [{ sec: 7, nsec: 7 }, { sec: 8, nsec: 8 }], P.AT_SYMLINK_NOFOLLOW);
      assertEquals(P.lstat(`${mnt}/l`).mtimeNs, 8_000_000_008n);
      assert(P.stat(f).mtimeNs !== 8_000_000_008n, "the target is not touched");
    }),
});

// ------------------------------------------------------------------ readlink, symlink

Deno.test({
  name: "posix: symlink and readlink (inline and block targets, 4095-byte limit, ELOOP, dangling)",
  ...mountTest,
  fn: () =>
    withMount({ size: 64 << 20 }, (mnt) => {
      put(`${mnt}/target`, "data");
      P.symlink("target", `${mnt}/s`);
      assertEquals(P.readlink(`${mnt}/s`), "target");
      const l = P.lstat(`${mnt}/s`);
      assertEquals(l.mode, P.S_IFLNK | 0o777);
      assertEquals([l.size, l.nlink], [6, 1]);
      assertEquals(getText(`${mnt}/s`), "data", "open follows the link");
      assertEquals(P.stat(`${mnt}/s`).ino, P.stat(`${mnt}/target`).ino);
      for (const len of [116, 117, 200, 4095]) {
        const t = "x/".repeat(len).slice(0, len - 1) + "y";
        P.symlink(t, `${mnt}/long${len}`);
        assertEquals(P.readlink(`${mnt}/long${len}`), t, `target of ${len} bytes`);
        assertEquals(P.lstat(`${mnt}/long${len}`).size, len);
      }
      assertErrno(() => P.symlink("z".repeat(4096), `${mnt}/toolong`), "ENAMETOOLONG");
      assertErrno(() => P.symlink("target", `${mnt}/s`), "EEXIST");
      assertErrno(() => P.readlink(`${mnt}/target`), "EINVAL");
      P.symlink("nowhere", `${mnt}/dangling`);
      assertErrno(() => P.stat(`${mnt}/dangling`), "ENOENT");
      assertEquals(P.readlink(`${mnt}/dangling`), "nowhere");
      P.symlink("loop2", `${mnt}/loop1`);
      P.symlink("loop1", `${mnt}/loop2`);
      assertErrno(() => P.stat(`${mnt}/loop1`), "ELOOP");
      assertErrno(() => P.open(`${mnt}/s`, P.O_RDONLY | P.O_NOFOLLOW), "ELOOP");
      // a symlink through a directory
      P.mkdir(`${mnt}/d`);
      put(`${mnt}/d/inner`, "in");
      P.symlink("d", `${mnt}/dl`);
      assertEquals(getText(`${mnt}/dl/inner`), "in");
      P.symlink("../target", `${mnt}/d/up`);
      assertEquals(getText(`${mnt}/d/up`), "data");
    }),
});

// ------------------------------------------------------------------ mknod, mkdir

Deno.test({
  name: "posix: mknod makes fifos, sockets, character and block devices and regular files",
  ...mountTest,
  fn: () =>
    withMount({ size: 64 << 20 }, async (mnt) => {
      P.mkfifo(`${mnt}/fifo`, 0o640);
      let st = P.lstat(`${mnt}/fifo`);
      assertEquals(st.mode, P.S_IFIFO | (0o640 & ~UMASK));
      // the pipe itself is the kernel's: data goes through it
      const r = P.open(`${mnt}/fifo`, P.O_RDONLY | P.O_NONBLOCK);
      const w = P.open(`${mnt}/fifo`, P.O_WRONLY | P.O_NONBLOCK);
      P.write(w, enc.encode("through the pipe"));
      assertEquals(dec.decode(P.read(r, 100)), "through the pipe");
      P.close(w);
      P.close(r);
      assertEquals(P.lstat(`${mnt}/fifo`).size, 0);
      // a fifo removed while open (the kernel never sends FUSE open for it) stays usable, nlink 0,
      // and is freed when the kernel forgets it after the last close
      P.mkfifo(`${mnt}/fifo2`, 0o600);
      const ffree = P.statvfs(mnt).ffree;
      const r2 = P.open(`${mnt}/fifo2`, P.O_RDWR | P.O_NONBLOCK);
      P.unlink(`${mnt}/fifo2`);
      st = P.fstat(r2);
      assertEquals([type(st), st.nlink], [P.S_IFIFO, 0]);
      P.write(r2, enc.encode("still a pipe"));
      assertEquals(dec.decode(P.read(r2, 100)), "still a pipe");
      assertEquals(P.statvfs(mnt).ffree, ffree, "held while open");
      P.close(r2);
      await eventually(() => P.statvfs(mnt).ffree === ffree + 1, "the fifo is freed after the last close");

      P.mknod(`${mnt}/null`, P.S_IFCHR | 0o666, P.makedev(1, 3));
      st = P.lstat(`${mnt}/null`);
      assertEquals(type(st), P.S_IFCHR);
      assertEquals(P.majorMinor(st.rdev), [1, 3]);
      P.mknod(`${mnt}/big`, P.S_IFCHR | 0o600, P.makedev(300, 70000));
      assertEquals(P.majorMinor(P.lstat(`${mnt}/big`).rdev), [300, 70000], "large major/minor numbers");
      P.mknod(`${mnt}/loop`, P.S_IFBLK | 0o660, P.makedev(7, 0));
      st = P.lstat(`${mnt}/loop`);
      assertEquals(type(st), P.S_IFBLK);
      assertEquals(P.majorMinor(st.rdev), [7, 0]);
      P.mknod(`${mnt}/sock`, P.S_IFSOCK | 0o644);
      assertEquals(type(P.lstat(`${mnt}/sock`)), P.S_IFSOCK);
      P.mknod(`${mnt}/plain`, P.S_IFREG | 0o600);
      st = P.lstat(`${mnt}/plain`);
      assertEquals([type(st), st.size, st.nlink], [P.S_IFREG, 0, 1]);
      put(`${mnt}/plain`, "regular");
      assertEquals(getText(`${mnt}/plain`), "regular");
      assertErrno(() => P.mknod(`${mnt}/fifo`, P.S_IFIFO | 0o644), "EEXIST");
      assertErrno(() => P.mknod(`${mnt}/plain/x`, P.S_IFIFO | 0o644), "ENOTDIR");
      const types = Object.fromEntries(P.listDir(mnt).map((e) => [e.name, e.type]));
      assertEquals(
        [types.fifo, types.null, types.loop, types.sock, types.plain],
        [1, 2, 6, 12, 8],
        "readdir d_type of fifo, chr, blk, sock, reg",
      );
    }),
});

Deno.test({
  name: "posix: mkdir: modes, nlink, EEXIST/ENOTDIR/ENOENT, set-group-id inheritance",
  ...mountTest,
  fn: () =>
    withMount({ size: 64 << 20 }, (mnt) => {
      P.mkdir(`${mnt}/d`, 0o750);
      const st = P.stat(`${mnt}/d`);
      assertEquals(st.mode, P.S_IFDIR | (0o750 & ~UMASK));
      assertEquals(st.nlink, 2);
      assertEquals(P.stat(mnt).nlink, 3, "the parent counts the new '..'");
      P.mkdir(`${mnt}/d/e`);
      P.mkdir(`${mnt}/d/e/f`);
      assertEquals(P.stat(`${mnt}/d`).nlink, 3);
      assertEquals(P.stat(mnt).nlink, 3);
      assertErrno(() => P.mkdir(`${mnt}/d`), "EEXIST");
      put(`${mnt}/file`, "");
      assertErrno(() => P.mkdir(`${mnt}/file`), "EEXIST");
      assertErrno(() => P.mkdir(`${mnt}/file/sub`), "ENOTDIR");
      assertErrno(() => P.mkdir(`${mnt}/nope/sub`), "ENOENT");
      // a set-group-id directory gives its group to new entries, and its bit to new directories
      P.mkdir(`${mnt}/sg`);
      P.lchown(`${mnt}/sg`, 0, 777);
      P.chmod(`${mnt}/sg`, 0o2775);
      P.mkdir(`${mnt}/sg/sub`, 0o755);
      const sub = P.stat(`${mnt}/sg/sub`);
      assertEquals(sub.gid, 777);
      assertEquals(sub.mode & 0o7777, 0o2755, "S_ISGID inherited by a directory");
      put(`${mnt}/sg/file`, "x", 0o644);
      const file = P.stat(`${mnt}/sg/file`);
      assertEquals([file.gid, file.mode & 0o7777], [777, 0o644 & ~UMASK]);
      P.symlink("file", `${mnt}/sg/link`);
      assertEquals(P.lstat(`${mnt}/sg/link`).gid, 777);
    }),
});

// ------------------------------------------------------------------ unlink, rmdir

Deno.test({
  name: "posix: unlink and rmdir (ENOTEMPTY, ENOTDIR, EISDIR, EINVAL for '.')",
  ...mountTest,
  fn: () =>
    withMount({ size: 64 << 20 }, async (mnt) => {
      put(`${mnt}/f`, "x");
      P.mkdir(`${mnt}/d`);
      put(`${mnt}/d/g`, "y");
      assertErrno(() => P.rmdir(`${mnt}/d`), "ENOTEMPTY");
      assertErrno(() => P.rmdir(`${mnt}/f`), "ENOTDIR");
      assertErrno(() => P.unlink(`${mnt}/d`), "EISDIR");
      assertErrno(() => P.rmdir(`${mnt}/d/.`), "EINVAL");
      assertErrno(() => P.rmdir(`${mnt}/missing`), "ENOENT");
      assertErrno(() => P.unlink(`${mnt}/missing`), "ENOENT");
      assertErrno(() => P.unlink(`${mnt}/f/x`), "ENOTDIR");
      const ffree = P.statvfs(mnt).ffree;
      P.unlink(`${mnt}/d/g`);
      assertErrno(() => P.stat(`${mnt}/d/g`), "ENOENT");
      assertEquals(P.statvfs(mnt).ffree, ffree + 1, "the inode is freed at once");
      assertEquals(P.stat(mnt).nlink, 3);
      P.rmdir(`${mnt}/d`);
      assertEquals(P.stat(mnt).nlink, 2);
      assertErrno(() => P.stat(`${mnt}/d`), "ENOENT");
      P.unlink(`${mnt}/f`);
      assertEquals(names(mnt), [".", ".."]);
      // a symlink is removed, not its target
      put(`${mnt}/t`, "t");
      P.symlink("t", `${mnt}/s`);
      P.unlink(`${mnt}/s`);
      assertEquals(getText(`${mnt}/t`), "t");
      // an open directory that is removed: fstat and fsync still work (nlink 0), readdir fails as on ext4;
      // it is freed when the kernel forgets it after the close
      P.mkdir(`${mnt}/gone`);
      const free0 = P.statvfs(mnt).ffree;
      const fd = P.open(`${mnt}/gone`, P.O_RDONLY | P.O_DIRECTORY);
      P.rmdir(`${mnt}/gone`);
      const st = P.fstat(fd);
      assertEquals([type(st), st.nlink], [P.S_IFDIR, 0]);
      P.fsync(fd);
      assertErrno(() => P.getdents(fd), "ENOENT");
      assertErrno(() => P.stat(`${mnt}/gone`), "ENOENT");
      P.close(fd);
      await eventually(() => P.statvfs(mnt).ffree === free0 + 1, "the directory is freed at its last close");
    }),
});

// ------------------------------------------------------------------ rename

Deno.test({
  name: "posix: rename: plain, over a file, over an empty dir, into its own subtree, NOREPLACE, EXCHANGE",
  ...mountTest,
  fn: () =>
    withMount({ size: 64 << 20 }, async (mnt) => {
      const m = (p: string) => `${mnt}/${p}`;
      put(m("a"), "A");
      const ino = P.stat(m("a")).ino;
      P.renameat2(m("a"), m("b"));
      assertErrno(() => P.stat(m("a")), "ENOENT");
      assertEquals(P.stat(m("b")).ino, ino);
      assertEquals(getText(m("b")), "A");

      // over an existing file: the old one is gone (its last link), an open descriptor still reads it
      put(m("c"), "C");
      const fd = P.open(m("c"), P.O_RDONLY);
      const ffree = P.statvfs(mnt).ffree;
      P.renameat2(m("b"), m("c"));
      assertEquals(getText(m("c")), "A");
      assertEquals(P.fstat(fd).nlink, 0);
      assertEquals(dec.decode(P.pread(fd, 10, 0)), "C");
      P.close(fd);
      await eventually(() => P.statvfs(mnt).ffree === ffree + 1, "the replaced file is freed at its last close");

      // directories across parents: '..' and the link counts follow
      P.mkdir(m("d1"));
      P.mkdir(m("d2"));
      P.mkdir(m("d1/sub"));
      put(m("d1/sub/x"), "x");
      P.renameat2(m("d1/sub"), m("d2/sub"));
      assertEquals([P.stat(m("d1")).nlink, P.stat(m("d2")).nlink], [2, 3]);
      const dots = Object.fromEntries(P.listDir(m("d2/sub")).map((e) => [e.name, e.ino]));
      assertEquals(dots[".."], P.stat(m("d2")).ino, "'..' points at the new parent");
      assertEquals(getText(m("d2/sub/x")), "x");

      // over an empty directory; not over a non-empty one; type mismatches
      P.mkdir(m("empty"));
      P.renameat2(m("d1"), m("empty"));
      assertErrno(() => P.stat(m("d1")), "ENOENT");
      assertEquals(type(P.stat(m("empty"))), P.S_IFDIR);
      assertErrno(() => P.renameat2(m("empty"), m("d2")), "ENOTEMPTY");
      assertErrno(() => P.renameat2(m("c"), m("d2")), "EISDIR");
      assertErrno(() => P.renameat2(m("d2"), m("c")), "ENOTDIR");
      assertErrno(() => P.renameat2(m("d2"), m("d2/sub/inside")), "EINVAL");
      assertErrno(() => P.renameat2(m("d2"), m("d2/sub")), "EINVAL"); // the source is an ancestor of the target
      assertErrno(() => P.renameat2(m("d2/sub"), m("d2")), "ENOTEMPTY"); // the target is an ancestor of the source
      assertErrno(() => P.renameat2(m("missing"), m("x")), "ENOENT");
      assertErrno(() => P.renameat2(m("c"), m("missing/x")), "ENOENT");

      // RENAME_NOREPLACE
      put(m("n1"), "1");
      put(m("n2"), "2");
      assertErrno(() => P.renameat2(m("n1"), m("n2"), P.RENAME_NOREPLACE), "EEXIST");
      assertEquals([getText(m("n1")), getText(m("n2"))], ["1", "2"]);
      P.renameat2(m("n1"), m("n3"), P.RENAME_NOREPLACE);
      assertEquals(getText(m("n3")), "1");

      // RENAME_EXCHANGE of a file and a directory in different parents
      const fileIno = P.stat(m("n3")).ino;
      const dirIno = P.stat(m("d2/sub")).ino;
      P.renameat2(m("n3"), m("d2/sub"), P.RENAME_EXCHANGE);
      assertEquals(P.lstat(m("n3")).ino, dirIno);
      assertEquals(P.lstat(m("d2/sub")).ino, fileIno);
      assertEquals(type(P.stat(m("n3"))), P.S_IFDIR);
      assertEquals(getText(m("d2/sub")), "1");
      assertEquals(getText(m("n3/x")), "x");
      assertEquals(P.stat(m("d2")).nlink, 2, "the directory left d2");
      assertEquals(
        Object.fromEntries(P.listDir(m("n3")).map((e) => [e.name, e.ino]))[".."],
        2n,
        "'..' of the exchanged directory",
      );
      assertErrno(() => P.renameat2(m("n2"), m("nothing"), P.RENAME_EXCHANGE), "ENOENT");
      assertErrno(() => P.renameat2(m("n3"), m("n3/x"), P.RENAME_EXCHANGE), "EINVAL");
      assertErrno(() => P.renameat2(m("n2"), m("c"), P.RENAME_EXCHANGE | P.RENAME_NOREPLACE), "EINVAL");
      // RENAME_WHITEOUT (overlayfs) is not supported: EINVAL and nothing changes (ext4 supports it)
      assertErrno(() => P.renameat2(m("n2"), m("w"), P.RENAME_WHITEOUT), "EINVAL");
      assertEquals(getText(m("n2")), "2");

      // two names of one inode: renaming one onto the other does nothing
      P.link(m("n2"), m("n2b"));
      P.renameat2(m("n2"), m("n2b"));
      assertEquals([P.stat(m("n2")).nlink, P.stat(m("n2b")).nlink], [2, 2]);
      // same name
      P.renameat2(m("c"), m("c"));
      assertEquals(getText(m("c")), "A");
    }),
});

// ------------------------------------------------------------------ link

Deno.test({
  name: "posix: link: nlink counts, same inode, EPERM on directories, EEXIST, links to symlinks",
  ...mountTest,
  fn: () =>
    withMount({ size: 64 << 20 }, (mnt) => {
      put(`${mnt}/f`, "shared");
      P.mkdir(`${mnt}/d`);
      P.link(`${mnt}/f`, `${mnt}/d/g`);
      P.link(`${mnt}/f`, `${mnt}/h`);
      const st = P.stat(`${mnt}/f`);
      assertEquals(st.nlink, 3);
      assertEquals(P.stat(`${mnt}/d/g`).ino, st.ino);
      assertEquals(P.stat(`${mnt}/d/g`).nlink, 3);
      put(`${mnt}/h`, "changed");
      assertEquals(getText(`${mnt}/d/g`), "changed");
      P.unlink(`${mnt}/f`);
      assertEquals(P.stat(`${mnt}/h`).nlink, 2);
      P.unlink(`${mnt}/h`);
      assertEquals(P.stat(`${mnt}/d/g`).nlink, 1);
      assertEquals(getText(`${mnt}/d/g`), "changed");
      assertErrno(() => P.link(`${mnt}/d`, `${mnt}/dlink`), "EPERM");
      assertErrno(() => P.link(`${mnt}/d/g`, `${mnt}/d`), "EEXIST");
      assertErrno(() => P.link(`${mnt}/missing`, `${mnt}/x`), "ENOENT");
      assertErrno(() => P.link(`${mnt}/d/g`, `${mnt}/missing/x`), "ENOENT");
      // link(2) does not follow a final symlink: the new name is a second link to the symlink
      P.symlink("d/g", `${mnt}/sl`);
      P.link(`${mnt}/sl`, `${mnt}/sl2`);
      assertEquals(P.lstat(`${mnt}/sl2`).ino, P.lstat(`${mnt}/sl`).ino);
      assertEquals(P.lstat(`${mnt}/sl`).nlink, 2);
      assertEquals(P.readlink(`${mnt}/sl2`), "d/g");
      // fifos can be linked too
      P.mkfifo(`${mnt}/p`);
      P.link(`${mnt}/p`, `${mnt}/p2`);
      assertEquals(P.lstat(`${mnt}/p`).nlink, 2);
    }),
});

// ------------------------------------------------------------------ open / create / read / write

Deno.test({
  name: "posix: open and create: O_EXCL, O_TRUNC, O_APPEND, O_DIRECTORY, EISDIR, umask",
  ...mountTest,
  fn: () =>
    withMount({ size: 64 << 20 }, async (mnt) => {
      const f = `${mnt}/f`;
      let fd = P.open(f, P.O_CREAT | P.O_EXCL | P.O_WRONLY, 0o666);
      assertEquals(P.fstat(fd).mode, P.S_IFREG | (0o666 & ~UMASK));
      P.write(fd, enc.encode("hello world"));
      P.close(fd);
      assertErrno(() => P.open(f, P.O_CREAT | P.O_EXCL | P.O_WRONLY), "EEXIST");
      P.symlink("dangling-target", `${mnt}/dl`);
      assertErrno(() => P.open(`${mnt}/dl`, P.O_CREAT | P.O_EXCL | P.O_WRONLY), "EEXIST");
      assertErrno(() => P.stat(`${mnt}/dangling-target`), "ENOENT");
      // O_CREAT through a dangling symlink creates its target
      P.close(P.open(`${mnt}/dl`, P.O_CREAT | P.O_WRONLY));
      assertEquals(type(P.lstat(`${mnt}/dangling-target`)), P.S_IFREG);
      // O_CREAT without O_EXCL opens the existing file and leaves it alone
      fd = P.open(f, P.O_CREAT | P.O_RDWR, 0o600);
      assertEquals(dec.decode(P.pread(fd, 100, 0)), "hello world");
      assertEquals(P.fstat(fd).mode & 0o777, 0o666 & ~UMASK, "mode of an existing file is kept");
      P.close(fd);

      // O_TRUNC empties an existing file, updates mtime, and frees its blocks
      const m0 = P.stat(f).mtimeNs;
      await new Promise((r) => setTimeout(r, 2));
      fd = P.open(f, P.O_WRONLY | P.O_TRUNC);
      assertEquals(P.fstat(fd).size, 0);
      P.close(fd);
      let st = P.stat(f);
      assertEquals([st.size, st.blocks], [0, 0], "O_TRUNC truncated");
      assert(st.mtimeNs > m0, "O_TRUNC updates mtime");
      assertEquals(get(f).length, 0);
      put(f, "again");
      fd = P.open(f, P.O_CREAT | P.O_TRUNC | P.O_RDWR);
      assertEquals(P.pread(fd, 10, 0).length, 0, "O_CREAT|O_TRUNC on an existing file");
      P.close(fd);
      assertEquals(P.stat(f).size, 0);

      // O_APPEND writes at the end whatever the position
      put(f, "abc");
      fd = P.open(f, P.O_WRONLY | P.O_APPEND);
      P.lseek(fd, 0, 0);
      P.write(fd, enc.encode("def"));
      P.pwrite(fd, enc.encode("ghi"), 0); // Linux: pwrite on O_APPEND appends too
      P.close(fd);
      assertEquals(getText(f), "abcdefghi");
      // write(2) at the file position, read(2) at the file position
      fd = P.open(f, P.O_RDWR);
      assertEquals(dec.decode(P.read(fd, 4)), "abcd");
      P.write(fd, enc.encode("XY"));
      assertEquals(P.lseek(fd, 0, 1), 6);
      assertEquals(dec.decode(P.read(fd, 100)), "ghi");
      assertEquals(P.read(fd, 100).length, 0, "EOF");
      assertEquals(P.lseek(fd, 0, 2), 9, "SEEK_END");
      P.close(fd);
      assertEquals(getText(f), "abcdXYghi");

      // errors
      assertErrno(() => P.open(`${mnt}/missing`, P.O_RDONLY), "ENOENT");
      assertErrno(() => P.open(mnt, P.O_WRONLY), "EISDIR");
      assertErrno(() => P.open(mnt, P.O_RDWR), "EISDIR");
      assertErrno(() => P.open(f, P.O_RDONLY | P.O_DIRECTORY), "ENOTDIR");
      assertErrno(() => P.open(`${mnt}/missing/x`, P.O_CREAT | P.O_WRONLY), "ENOENT");
      assertErrno(() => P.open(`${f}/x`, P.O_CREAT | P.O_WRONLY), "ENOTDIR");
      fd = P.open(f, P.O_RDONLY);
      assertErrno(() => P.write(fd, enc.encode("x")), "EBADF");
      P.close(fd);
      fd = P.open(f, P.O_WRONLY);
      assertErrno(() => P.read(fd, 1), "EBADF");
      P.close(fd);
      fd = P.open(mnt, P.O_RDONLY | P.O_DIRECTORY);
      assertErrno(() => P.read(fd, 1), "EISDIR");
      P.close(fd);
      st = P.stat(f);
      assertEquals(st.size, 9);
    }),
});

Deno.test({
  name: "posix: read and write at offsets: holes read as zeros, block-crossing writes, large files",
  ...mountTest,
  fn: () =>
    withMount({ size: 64 << 20 }, (mnt) => {
      const f = `${mnt}/f`;
      const fd = P.open(f, P.O_CREAT | P.O_RDWR, 0o644);
      const ref = new Uint8Array(3 * 1024 * 1024 + 77);
      const w = (off: number, data: Uint8Array) => {
        assertEquals(P.pwrite(fd, data, off), data.length);
        ref.set(data, off);
      };
      w(10, enc.encode("first"));
      w(4090, pattern(20, 1)); // crosses a block boundary
      w(1 << 20, pattern(8192, 2)); // block aligned, two blocks
      w((2 << 20) + 4095, pattern(3 * 4096 + 2, 3)); // unaligned, crossing four blocks
      w(3 * 1024 * 1024 + 70, pattern(7, 4));
      assertEquals(P.fstat(fd).size, ref.length);
      assert(sameBytes(P.readAll(fd), ref), "whole contents");
      // reads at odd offsets and sizes, including across the end of file
      for (const [off, n] of [[0, 10], [5, 10], [4090, 20], [12345, 100000], [(2 << 20) + 4000, 20000]]) {
        assert(sameBytes(P.pread(fd, n, off), ref.subarray(off, off + n)), `pread ${off}+${n}`);
      }
      assertEquals(P.pread(fd, 100, ref.length - 3).length, 3, "short read at EOF");
      assertEquals(P.pread(fd, 100, ref.length + 100).length, 0, "read past EOF");
      // only written blocks are allocated
      const blocks = P.fstat(fd).blocks / 8;
      assert(blocks >= 9 && blocks <= 11, `allocated 4 KiB blocks: ${blocks}`);
      // overwrite in place keeps the rest
      w(12, enc.encode("RS"));
      assertEquals(dec.decode(P.pread(fd, 5, 10)), "fiRSt");
      // a large write, read back through a fresh descriptor
      const big = pattern(5 << 20, 9);
      P.pwrite(fd, big, 7);
      P.close(fd);
      const all = get(f);
      assertEquals(all.length, 7 + big.length);
      assert(sameBytes(all.subarray(7), big), "large write read back");
      assert(sameBytes(all.subarray(0, 7), ref.subarray(0, 7)), "head intact");
      // writing past the end leaves a hole that reads as zeros
      const g = `${mnt}/g`;
      const gd = P.open(g, P.O_CREAT | P.O_RDWR);
      P.pwrite(gd, enc.encode("end"), 100000);
      const got = P.readAll(gd);
      assertEquals(got.length, 100003);
      assert(got.subarray(0, 100000).every((b) => b === 0), "the hole reads zeros");
      assertEquals(P.fstat(gd).blocks, 8, "one block for the tail only");
      P.close(gd);
    }),
});

Deno.test({
  name: "posix: flush/release: data is visible to other descriptors and survives unmount and remount",
  ...mountTest,
  fn: async () => {
    const img = tmpImage(64 << 20);
    try {
      await withMount({ image: img }, (mnt) => {
        const a = P.open(`${mnt}/f`, P.O_CREAT | P.O_RDWR, 0o644);
        const b = P.open(`${mnt}/f`, P.O_RDONLY);
        P.pwrite(a, enc.encode("written through a"), 0);
        assertEquals(dec.decode(P.pread(b, 100, 0)), "written through a");
        const c = P.dup(a);
        P.close(a); // flush of one descriptor; the open file stays
        P.pwrite(c, enc.encode("A"), 16);
        P.close(c); // last close: release
        assertEquals(dec.decode(P.pread(b, 100, 0)), "written through A");
        P.close(b);
        P.mkdir(`${mnt}/d`);
        put(`${mnt}/d/big`, pattern(1 << 20, 5));
        P.setxattr(`${mnt}/d/big`, "user.k", "v");
      });
      await withMount({ image: img }, (mnt) => {
        assertEquals(getText(`${mnt}/f`), "written through A");
        assert(sameBytes(get(`${mnt}/d/big`), pattern(1 << 20, 5)), "1 MiB file after remount");
        assertEquals(dec.decode(P.getxattr(`${mnt}/d/big`, "user.k")), "v");
      });
    } finally {
      Deno.removeSync(img);
    }
  },
});

Deno.test({
  name: "posix: fsync and fdatasync make data and metadata durable (a copy of the image taken then is consistent)",
  ...mountTest,
  fn: () =>
    withMount({ size: 32 << 20, options: "commit=0" }, (mnt, img) => {
      const fd = P.open(`${mnt}/f`, P.O_CREAT | P.O_RDWR, 0o644);
      P.pwrite(fd, pattern(50000, 7), 0);
      P.fsync(fd);
      P.pwrite(fd, enc.encode("tail"), 50000);
      P.fdatasync(fd);
      P.mkdir(`${mnt}/d`);
      const dfd = P.open(`${mnt}/d`, P.O_RDONLY | P.O_DIRECTORY);
      P.fsync(dfd); // fsyncdir
      P.close(dfd);
      // the image as a crash would leave it now
      const copy = `${img}.copy`;
      const o = new Deno.Command("cp", { args: ["--sparse=always", img, copy] }).outputSync();
      assert(o.success, "cp");
      try {
        const r = fsck(copy);
        assertEquals(r.problems.filter((p) => p.severity === "error"), [], "fsck of the synced copy");
        const fs = Vexfs.open(copy, { readOnly: true });
        try {
          const ino = fs.resolve("/f");
          assertEquals(fs.getattr(ino).size, 50004);
          assert(sameBytes(fs.read(ino, 0, 50000), pattern(50000, 7)), "data of the copy");
          assertEquals(dec.decode(fs.read(ino, 50000, 4)), "tail");
          assertEquals(fs.getattr(fs.resolve("/d")).mode & P.S_IFMT, P.S_IFDIR);
        } finally {
          fs.close();
        }
      } finally {
        Deno.removeSync(copy);
      }
      P.close(fd);
    }),
});

// ------------------------------------------------------------------ readdir

Deno.test({
  name: "posix: readdir: '.' and '..', d_type, small buffers, entries added, removed and renamed while listing",
  ...mountTest,
  fn: () =>
    withMount({ size: 64 << 20 }, (mnt) => {
      P.mkdir(`${mnt}/d`);
      P.mkdir(`${mnt}/d/sub`);
      P.symlink("x", `${mnt}/d/sym`);
      const root = P.listDir(mnt);
      assertEquals(root.filter((e) => e.name === "." || e.name === "..").map((e) => [e.name, e.ino, e.type]), [
        [".", 2n, 4],
        ["..", 2n, 4],
      ]);
      const dIno = P.stat(`${mnt}/d`).ino;
      const sub = Object.fromEntries(P.listDir(`${mnt}/d/sub`).map((e) => [e.name, e]));
      assertEquals([sub["."].ino, sub[".."].ino], [P.stat(`${mnt}/d/sub`).ino, dIno]);
      assertEquals(Object.fromEntries(P.listDir(`${mnt}/d`).map((e) => [e.name, e.type])), {
        ".": 4,
        "..": 4,
        sub: 4,
        sym: 10,
      });
      // 300 entries read through a small buffer: each exactly once
      for (let i = 0; i < 300; i++) put(`${mnt}/d/file-with-a-longish-name-${i}`, "");
      let fd = P.open(`${mnt}/d`, P.O_RDONLY | P.O_DIRECTORY);
      const seen: string[] = [];
      for (;;) {
        const part = P.getdents(fd, 512);
        if (!part.length) break;
        seen.push(...part.map((e) => e.name));
      }
      P.close(fd);
      assertEquals(seen.length, 304);
      assertEquals(new Set(seen).size, 304, "no duplicates");

      // changes while listing: every entry present throughout is returned exactly once;
      // new ones may or may not appear; removed and renamed names must not come back to life
      fd = P.open(`${mnt}/d`, P.O_RDONLY | P.O_DIRECTORY);
      const first = P.getdents(fd, 600).map((e) => e.name);
      assert(first.length > 2 && first.length < 100, `a partial listing (${first.length})`);
      // the entries right after the part already read (listing order), so that the next
      // getdents, a READDIRPLUS, covers them: it must not plant their old names in the dcache
      const rest = P.listDir(`${mnt}/d`).map((e) => e.name).filter((n) => !first.includes(n) && n.startsWith("file"));
      const [renamed, removed] = rest;
      P.renameat2(`${mnt}/d/${renamed}`, `${mnt}/d/renamed-while-listing`);
      P.unlink(`${mnt}/d/${removed}`);
      for (let i = 0; i < 50; i++) put(`${mnt}/d/new-${i}`, "");
      assertErrno(() => P.stat(`${mnt}/d/no-such-name`), "ENOENT"); // a lookup makes the kernel use READDIRPLUS next
      const later: string[] = [];
      for (;;) {
        const part = P.getdents(fd, 600);
        if (!part.length) break;
        later.push(...part.map((e) => e.name));
      }
      P.close(fd);
      const all = [...first, ...later];
      const counts = new Map<string, number>();
      for (const n of all) counts.set(n, (counts.get(n) ?? 0) + 1);
      for (const n of names(`${mnt}/d`)) {
        if (n.startsWith("new-") || n === "renamed-while-listing") continue;
        assertEquals(counts.get(n), 1, `'${n}' listed once`);
      }
      for (const [n, c] of counts) assertEquals(c, 1, `'${n}' listed ${c} times`);
      assertErrno(() => P.lstat(`${mnt}/d/${renamed}`), "ENOENT", "the old name of an entry renamed while listing");
      assertErrno(() => P.lstat(`${mnt}/d/${removed}`), "ENOENT", "an entry removed while listing");
      assertEquals(P.stat(`${mnt}/d/renamed-while-listing`).size, 0);
      // rewinddir (offset 0) starts a fresh listing that includes the new names
      fd = P.open(`${mnt}/d`, P.O_RDONLY | P.O_DIRECTORY);
      P.getdents(fd, 600);
      P.lseek(fd, 0, 0);
      const again: string[] = [];
      for (;;) {
        const part = P.getdents(fd, 4096);
        if (!part.length) break;
        again.push(...part.map((e) => e.name));
      }
      P.close(fd);
      assertEquals(again.sort(), names(`${mnt}/d`));
      assert(again.includes("new-49") && again.includes("renamed-while-listing"));
    }),
});

// ------------------------------------------------------------------ statfs

Deno.test({
  name: "posix: statfs: sizes, free blocks and inodes follow writes and deletes; df agrees",
  ...mountTest,
  fn: async () =>
    await withMount({ size: 64 << 20 }, async (mnt) => {
      const fd = P.open(`${mnt}/f`, P.O_CREAT | P.O_WRONLY);
      // measured after the create: the directory may grow by a block, and directories do not shrink
      const s0 = P.statvfs(mnt);
      assertEquals([s0.bsize, s0.frsize, s0.namemax], [4096, 4096, 255]);
      assertEquals(s0.blocks, (64 << 20) / 4096);
      assert(s0.bfree <= s0.blocks && s0.bavail === s0.bfree - 1, "bavail = bfree - 1 (the allocator's reserve block)");
      assert(s0.ffree <= s0.files && s0.favail === s0.ffree);
      assertEquals(s0.flag & 1, 0, "not ST_RDONLY");
      P.pwrite(fd, pattern(1 << 20, 3), 0);
      P.close(fd);
      const s1 = P.statvfs(mnt);
      assertEquals(s1.ffree, s0.ffree);
      const used = s0.bfree - s1.bfree;
      assert(used >= 256 && used <= 258, `1 MiB uses 256 blocks plus at most 2 of metadata, got ${used}`);
      // df shows the same numbers
      const o = new Deno.Command("df", {
        args: ["-B4096", "--output=size,used,avail,itotal,iavail", mnt],
        stdout: "piped",
      }).outputSync();
      const [size, usedDf, avail, itotal, iavail] = dec.decode(o.stdout).trim().split("\n")[1].trim().split(/\s+/)
        .map(Number);
      assertEquals([size, usedDf, avail, itotal, iavail], [
        s1.blocks,
        s1.blocks - s1.bfree,
        s1.bavail,
        s1.files,
        s1.ffree,
      ]);
      P.unlink(`${mnt}/f`);
      await eventually(() => P.statvfs(mnt).bfree === s0.bfree, "blocks freed by unlink");
      assertEquals(P.statvfs(mnt).ffree, s0.ffree + 1);
    }),
});

// ------------------------------------------------------------------ xattrs

Deno.test({
  name: "posix: xattrs: set/get/list/remove, XATTR_CREATE/REPLACE, ENODATA, size probes, ERANGE, namespaces",
  ...mountTest,
  fn: () =>
    withMount({ size: 64 << 20 }, (mnt) => {
      const f = `${mnt}/f`;
      put(f, "x");
      assertEquals(P.listxattr(f), []);
      assertEquals(P.listxattrRaw(f, 0), 0);
      assertErrno(() => P.getxattr(f, "user.a"), "ENODATA");
      P.setxattr(f, "user.a", "alpha");
      P.setxattr(f, "user.empty", "");
      P.setxattr(f, "trusted.t", "root only");
      P.setxattr(f, "security.s", "sec");
      P.setxattr(f, "user.bin", new Uint8Array([0, 1, 2, 255]));
      assertEquals(P.listxattr(f), ["security.s", "trusted.t", "user.a", "user.bin", "user.empty"]);
      assertEquals(dec.decode(P.getxattr(f, "user.a")), "alpha");
      assertEquals(P.getxattr(f, "user.empty").length, 0);
      assertEquals([...P.getxattr(f, "user.bin")], [0, 1, 2, 255]);
      // size probes and ERANGE
      assertEquals(P.getxattrRaw(f, "user.a", 0), 5);
      assertEquals(dec.decode(P.getxattrRaw(f, "user.a", 5) as Uint8Array), "alpha");
      assertErrno(() => P.getxattrRaw(f, "user.a", 4), "ERANGE");
      const listLen = P.listxattrRaw(f, 0) as number;
      assertEquals(listLen, "security.s trusted.t user.a user.bin user.empty ".length);
      assertErrno(() => P.listxattrRaw(f, listLen - 1), "ERANGE");
      // flags
      assertErrno(() => P.setxattr(f, "user.a", "again", P.XATTR_CREATE), "EEXIST");
      assertErrno(() => P.setxattr(f, "user.new", "v", P.XATTR_REPLACE), "ENODATA");
      P.setxattr(f, "user.a", "replaced", P.XATTR_REPLACE);
      P.setxattr(f, "user.c", "created", P.XATTR_CREATE);
      assertEquals(dec.decode(P.getxattr(f, "user.a")), "replaced");
      // both flags: each one's rule applies, as on ext4 and tmpfs
      assertErrno(() => P.setxattr(f, "user.d", "v", P.XATTR_CREATE | P.XATTR_REPLACE), "ENODATA");
      assertErrno(() => P.setxattr(f, "user.c", "v", P.XATTR_CREATE | P.XATTR_REPLACE), "EEXIST");
      assertEquals(dec.decode(P.getxattr(f, "user.c")), "created");
      // remove
      P.removexattr(f, "user.a");
      assertErrno(() => P.getxattr(f, "user.a"), "ENODATA");
      assertErrno(() => P.removexattr(f, "user.a"), "ENODATA");
      assertEquals(P.listxattr(f), ["security.s", "trusted.t", "user.bin", "user.c", "user.empty"]);
      // names: unknown namespaces, empty and over-long names
      assertErrno(() => P.setxattr(f, "bogus.name", "v"), "EOPNOTSUPP");
      assertErrno(() => P.setxattr(f, "user.", "v"), "EINVAL");
      assertErrno(() => P.setxattr(f, "user." + "n".repeat(251), "v"), "ERANGE");
      // values up to 64 KiB fit (an xattr store, FORMAT.md §7.2, as ext4 with ea_inode); one more byte is E2BIG
      assertErrno(() => P.setxattr(f, "user.huge", new Uint8Array(65537)), "E2BIG");
      assertEquals(P.listxattr(f).length, 5, "failed sets change nothing");
      P.setxattr(f, "user.huge", new Uint8Array(65536).fill(7));
      assertEquals(P.getxattr(f, "user.huge"), new Uint8Array(65536).fill(7));
      P.removexattr(f, "user.huge");
      // directories carry user xattrs; symlinks and fifos cannot (the kernel's rule for user.*)
      P.mkdir(`${mnt}/d`);
      P.setxattr(`${mnt}/d`, "user.dir", "yes");
      assertEquals(dec.decode(P.getxattr(`${mnt}/d`, "user.dir")), "yes");
      P.symlink("f", `${mnt}/s`);
      assertErrno(() => P.setxattr(`${mnt}/s`, "user.x", "v"), "EPERM");
      P.setxattr(`${mnt}/s`, "trusted.x", "on the link itself");
      assertEquals(P.listxattr(`${mnt}/s`), ["trusted.x"]);
      assertEquals(P.listxattr(f).includes("trusted.x"), false);
      P.mkfifo(`${mnt}/p`);
      assertErrno(() => P.setxattr(`${mnt}/p`, "user.x", "v"), "EPERM");
      // xattrs change ctime and survive a rename
      const c0 = P.stat(f).ctimeNs;
      P.setxattr(f, "user.late", "1");
      assert(P.stat(f).ctimeNs >= c0);
      P.renameat2(f, `${mnt}/d/moved`);
      assertEquals(dec.decode(P.getxattr(`${mnt}/d/moved`, "user.late")), "1");
      // through a descriptor
      const fd = P.open(`${mnt}/d/moved`, P.O_RDONLY);
      P.fsetxattr(fd, "user.fd", enc.encode("via fd"));
      assertEquals(dec.decode(P.fgetxattr(fd, "user.fd")), "via fd");
      P.close(fd);
      // removing every attribute frees the attribute block
      const free0 = P.statvfs(mnt).bfree;
      for (const n of P.listxattr(`${mnt}/d/moved`)) P.removexattr(`${mnt}/d/moved`, n);
      assertEquals(P.listxattr(`${mnt}/d/moved`), []);
      assertEquals(P.statvfs(mnt).bfree, free0 + 1);
    }),
});

Deno.test({
  name: "posix: user.vexfs.vector xattr on files of a collection (made offline with the CLI)",
  ...mountTest,
  fn: async () => {
    const img = tmpImage(64 << 20);
    try {
      vexfs("collection", "create", "-p", img, "/docs", "--dim", "4", "--metric", "cosine");
      await withMount({ image: img }, async (mnt) => {
        const f = `${mnt}/docs/a.txt`;
        put(f, "some text");
        const V = "user.vexfs.vector";
        assertErrno(() => P.getxattr(f, V), "ENODATA");
        assertEquals(P.listxattr(f), []);
        assertErrno(() => P.setxattr(f, V, new Uint8Array(16), P.XATTR_REPLACE), "ENODATA");
        const vec = new Float32Array([1, 2, 3, 4.5]);
        const raw = new Uint8Array(vec.buffer);
        P.setxattr(f, V, raw, P.XATTR_CREATE);
        assertEquals([...P.getxattr(f, V)], [...raw]);
        assertEquals(P.getxattrRaw(f, V, 0), 16);
        assertErrno(() => P.getxattrRaw(f, V, 15), "ERANGE");
        assertEquals(P.listxattr(f), [V]);
        assertErrno(() => P.setxattr(f, V, raw, P.XATTR_CREATE), "EEXIST");
        assertErrno(() => P.setxattr(f, V, new Uint8Array(12)), "EINVAL");
        assertErrno(() => P.setxattr(f, V, new Uint8Array(17)), "EINVAL");
        // the same vector through the ioctl interface
        const got = await getVector(f);
        assertEquals([...got!.vector], [1, 2, 3, 4.5]);
        // replace, and ordinary attributes beside it
        const v2 = new Uint8Array(new Float32Array([-1, 0, 0.25, 8]).buffer);
        P.setxattr(f, V, v2, P.XATTR_REPLACE);
        P.setxattr(f, "user.other", "o");
        assertEquals(P.listxattr(f), ["user.other", V]);
        assertEquals([...P.getxattr(f, V)], [...v2]);
        // the vector follows a rename inside the collection
        P.mkdir(`${mnt}/docs/sub`);
        P.renameat2(f, `${mnt}/docs/sub/a.txt`);
        assertEquals([...P.getxattr(`${mnt}/docs/sub/a.txt`, V)], [...v2]);
        P.removexattr(`${mnt}/docs/sub/a.txt`, V);
        assertErrno(() => P.getxattr(`${mnt}/docs/sub/a.txt`, V), "ENODATA");
        assertErrno(() => P.removexattr(`${mnt}/docs/sub/a.txt`, V), "ENODATA");
        assertEquals(P.listxattr(`${mnt}/docs/sub/a.txt`), ["user.other"]);
        assertEquals(await getVector(`${mnt}/docs/sub/a.txt`), null);
        // outside a collection: nothing to read, and nowhere to store one
        put(`${mnt}/outside`, "x");
        assertErrno(() => P.getxattr(`${mnt}/outside`, V), "ENODATA");
        assertErrno(() => P.setxattr(`${mnt}/outside`, V, raw), "EINVAL");
        assertErrno(() => P.removexattr(`${mnt}/outside`, V), "ENODATA");
        // set again and leave it for the offline check
        P.setxattr(`${mnt}/docs/sub/a.txt`, V, raw);
      });
      const out = vexfs("vector", "get", img, "/docs/sub/a.txt", "--json");
      assertEquals(JSON.parse(out).vector, [1, 2, 3, 4.5]);
    } finally {
      Deno.removeSync(img);
    }
  },
});

// ------------------------------------------------------------------ fallocate

Deno.test({
  name: "posix: fallocate: mode 0, KEEP_SIZE, PUNCH_HOLE|KEEP_SIZE; other modes EOPNOTSUPP",
  ...mountTest,
  fn: () =>
    withMount({ size: 64 << 20 }, (mnt) => {
      const fd = P.open(`${mnt}/f`, P.O_CREAT | P.O_RDWR, 0o644);
      const free0 = P.statvfs(mnt).bfree;
      P.fallocate(fd, 0, 0, 1 << 20);
      let st = P.fstat(fd);
      assertEquals(st.size, 1 << 20, "mode 0 extends the size");
      assertEquals(st.blocks, (1 << 20) / 512);
      assert(P.statvfs(mnt).bfree <= free0 - 256);
      assert(P.pread(fd, 1 << 20, 0).every((b) => b === 0), "preallocated space reads zeros");
      P.fallocate(fd, P.FALLOC_FL_KEEP_SIZE, 1 << 20, 1 << 20);
      st = P.fstat(fd);
      assertEquals(st.size, 1 << 20, "KEEP_SIZE keeps it");
      assertEquals(st.blocks, (2 << 20) / 512, "but allocates");
      // mode 0 inside the file changes nothing visible
      P.pwrite(fd, pattern(3 * 4096, 1), 0);
      P.fallocate(fd, 0, 0, 100);
      assert(sameBytes(P.pread(fd, 3 * 4096, 0), pattern(3 * 4096, 1)));
      // punch a hole over [100, 8292): the middle block is freed, the edges zeroed
      const b0 = P.fstat(fd).blocks;
      P.fallocate(fd, P.FALLOC_FL_PUNCH_HOLE | P.FALLOC_FL_KEEP_SIZE, 100, 8192);
      const want = pattern(3 * 4096, 1);
      want.fill(0, 100, 8292);
      assert(sameBytes(P.pread(fd, 3 * 4096, 0), want), "punched range reads zeros, the rest is intact");
      assertEquals(P.fstat(fd).size, 1 << 20);
      assertEquals(P.fstat(fd).blocks, b0 - 8, "one whole block freed");
      // a hole past the end changes nothing (it used to zero the file's last block)
      const g = P.open(`${mnt}/g`, P.O_CREAT | P.O_RDWR, 0o644);
      P.pwrite(g, enc.encode("keep me"), 100);
      P.fallocate(g, P.FALLOC_FL_PUNCH_HOLE | P.FALLOC_FL_KEEP_SIZE, 4096, 1);
      P.fallocate(g, P.FALLOC_FL_PUNCH_HOLE | P.FALLOC_FL_KEEP_SIZE, 107, 10);
      assertEquals(dec.decode(P.pread(g, 7, 100)), "keep me");
      assertEquals(P.fstat(g).size, 107);
      P.close(g);
      P.fallocate(fd, P.FALLOC_FL_PUNCH_HOLE | P.FALLOC_FL_KEEP_SIZE, 4 << 20, 4096);
      assertEquals(P.fstat(fd).size, 1 << 20);
      // unsupported modes
      for (
        const mode of [
          P.FALLOC_FL_ZERO_RANGE,
          P.FALLOC_FL_ZERO_RANGE | P.FALLOC_FL_KEEP_SIZE,
          P.FALLOC_FL_COLLAPSE_RANGE,
          P.FALLOC_FL_INSERT_RANGE,
          P.FALLOC_FL_UNSHARE_RANGE,
          P.FALLOC_FL_PUNCH_HOLE, // without KEEP_SIZE: refused by the kernel
        ]
      ) {
        assertErrno(() => P.fallocate(fd, mode, 0, 4096), "EOPNOTSUPP", `fallocate mode 0x${mode.toString(16)}`);
      }
      assertErrno(() => P.fallocate(fd, 0, 0, 0), "EINVAL");
      assertErrno(() => P.fallocate(fd, 0, -1, 10), "EINVAL");
      // more than the free space: ENOSPC and nothing changes
      const before = [P.fstat(fd).size, P.fstat(fd).blocks, P.statvfs(mnt).bfree];
      assertErrno(() => P.fallocate(fd, 0, 0, 1 << 30), "ENOSPC");
      assertEquals([P.fstat(fd).size, P.fstat(fd).blocks, P.statvfs(mnt).bfree], before);
      P.close(fd);
      const ro = P.open(`${mnt}/f`, P.O_RDONLY);
      assertErrno(() => P.fallocate(ro, 0, 0, 4096), "EBADF");
      P.close(ro);
    }),
});

// ------------------------------------------------------------------ unlinked but open

Deno.test({
  name: "posix: an unlinked file stays usable through its descriptor (nlink 0); its space is freed at close",
  ...mountTest,
  fn: () =>
    withMount({ size: 64 << 20 }, async (mnt) => {
      const fd = P.open(`${mnt}/tmp`, P.O_CREAT | P.O_RDWR, 0o600);
      const s0 = P.statvfs(mnt); // after the create: see the statfs test
      P.pwrite(fd, pattern(2 << 20, 8), 0);
      P.setxattr(`${mnt}/tmp`, "user.k", "v");
      const fd2 = P.open(`${mnt}/tmp`, P.O_RDONLY);
      P.unlink(`${mnt}/tmp`);
      assertErrno(() => P.stat(`${mnt}/tmp`), "ENOENT");
      assertEquals(names(mnt), [".", ".."]);
      let st = P.fstat(fd);
      assertEquals([st.nlink, st.size], [0, 2 << 20]);
      // still readable and writable
      assert(sameBytes(P.pread(fd, 1000, 12345), pattern(2 << 20, 8).subarray(12345, 13345)));
      P.pwrite(fd, enc.encode("more"), 2 << 20);
      P.ftruncate(fd, (2 << 20) + 2);
      st = P.fstat(fd);
      assertEquals(st.size, (2 << 20) + 2);
      assertEquals(dec.decode(P.pread(fd2, 10, 2 << 20)), "mo");
      assertEquals(dec.decode(P.fgetxattr(fd, "user.k")), "v");
      // a new file of the same name is another file
      put(`${mnt}/tmp`, "new");
      assertEquals(dec.decode(P.pread(fd, 3, 0)), dec.decode(pattern(3, 8)));
      P.unlink(`${mnt}/tmp`);
      const s1 = P.statvfs(mnt);
      assertEquals(s1.ffree, s0.ffree, "the second file is freed at once, the first one is still open");
      assert(s0.bfree - s1.bfree >= 512, "the unlinked file still holds its blocks");
      P.close(fd);
      assertEquals(dec.decode(P.pread(fd2, 2, 0)), dec.decode(pattern(2, 8)), "the other descriptor still works");
      P.close(fd2);
      await eventually(() => P.statvfs(mnt).bfree === s0.bfree, "blocks freed at the last close");
      assertEquals(P.statvfs(mnt).ffree, s0.ffree + 1);
      // the image must fsck clean after unmount (withMount checks)
    }),
});

// ------------------------------------------------------------------ permissions

Deno.test({
  name: "posix: permissions for a non-root user (default_permissions): EACCES, EPERM, ownership, sticky bit",
  ...mountTest,
  fn: () =>
    withMount({ size: 64 << 20, options: "allow_other" }, (mnt) => {
      put(`${mnt}/secret`, "top secret", 0o600);
      P.chmod(`${mnt}/secret`, 0o600);
      put(`${mnt}/public`, "hello all", 0o644);
      P.chmod(`${mnt}/public`, 0o644);
      P.mkdir(`${mnt}/closed`);
      P.chmod(`${mnt}/closed`, 0o755);
      P.mkdir(`${mnt}/open`);
      P.chmod(`${mnt}/open`, 0o777);
      P.mkdir(`${mnt}/sticky`);
      P.chmod(`${mnt}/sticky`, 0o1777);
      put(`${mnt}/sticky/roots`, "r", 0o666);
      P.chmod(`${mnt}/sticky/roots`, 0o666);
      P.mkdir(`${mnt}/noexec`);
      put(`${mnt}/noexec/inner`, "i");
      P.chmod(`${mnt}/noexec`, 0o700);

      let r = asNobody(`cat ${mnt}/secret`);
      assert(!r.ok && r.err.includes("Permission denied"), `read 0600 root file: ${JSON.stringify(r)}`);
      r = asNobody(`cat ${mnt}/public`);
      assert(r.ok && r.out === "hello all", `read 0644 file: ${JSON.stringify(r)}`);
      r = asNobody(`echo x >> ${mnt}/public`);
      assert(!r.ok && r.err.includes("Permission denied"), `append to 0644 root file: ${JSON.stringify(r)}`);
      assertEquals(getText(`${mnt}/public`), "hello all");
      r = asNobody(`touch ${mnt}/closed/new`);
      assert(!r.ok && r.err.includes("Permission denied"), `create in 0755 root dir: ${JSON.stringify(r)}`);
      assertErrno(() => P.stat(`${mnt}/closed/new`), "ENOENT");
      r = asNobody(`cat ${mnt}/noexec/inner`);
      assert(!r.ok && r.err.includes("Permission denied"), `search a 0700 dir: ${JSON.stringify(r)}`);
      r = asNobody(`echo mine > ${mnt}/open/new && mkdir ${mnt}/open/dir && ln -s new ${mnt}/open/sym`);
      assert(r.ok, `create in a 0777 dir: ${JSON.stringify(r)}`);
      for (const p of ["new", "dir", "sym"]) {
        const st = P.lstat(`${mnt}/open/${p}`);
        assertEquals([st.uid, st.gid], [NOBODY, NOBODY], `owner of ${p} made by nobody`);
      }
      assertEquals(getText(`${mnt}/open/new`), "mine\n");
      r = asNobody(`chmod 600 ${mnt}/open/new && chmod 777 ${mnt}/public`);
      assert(!r.ok && r.err.includes("Operation not permitted"), `chmod of another's file: ${JSON.stringify(r)}`);
      assertEquals(P.stat(`${mnt}/open/new`).mode & 0o777, 0o600, "chmod of one's own file works");
      assertEquals(P.stat(`${mnt}/public`).mode & 0o777, 0o644);
      r = asNobody(`chown nobody ${mnt}/public`);
      assert(!r.ok && r.err.includes("Operation not permitted"), `chown: ${JSON.stringify(r)}`);
      r = asNobody(`setfattr -n user.x -v 1 ${mnt}/public`);
      assert(!r.ok && r.err.includes("Permission denied"), `setxattr on another's 0644 file: ${JSON.stringify(r)}`);
      r = asNobody(`setfattr -n user.x -v 1 ${mnt}/open/new && getfattr -n user.x --only-values ${mnt}/open/new`);
      assert(r.ok && r.out === "1", `xattr on one's own file: ${JSON.stringify(r)}`);
      r = asNobody(`setfattr -n trusted.x -v 1 ${mnt}/open/new`);
      assert(!r.ok, `trusted.* needs CAP_SYS_ADMIN: ${JSON.stringify(r)}`);
      const m0 = P.stat(`${mnt}/public`).mtimeNs;
      r = asNobody(`touch -d @1000 ${mnt}/public`);
      assert(!r.ok, `explicit times on another's file: ${JSON.stringify(r)}`);
      assertEquals(P.stat(`${mnt}/public`).mtimeNs, m0);
      // sticky directory: others' files cannot be removed or renamed away, one's own can
      r = asNobody(`rm -f ${mnt}/sticky/roots`);
      assert(!r.ok && r.err.includes("Operation not permitted"), `sticky: rm another's file: ${JSON.stringify(r)}`);
      r = asNobody(`mv ${mnt}/sticky/roots ${mnt}/sticky/stolen`);
      assert(!r.ok, `sticky: rename another's file: ${JSON.stringify(r)}`);
      assertEquals(getText(`${mnt}/sticky/roots`), "r");
      r = asNobody(`echo x > ${mnt}/sticky/roots`);
      assert(r.ok, `writing a 0666 file in a sticky dir is allowed: ${JSON.stringify(r)}`);
      r = asNobody(`touch ${mnt}/sticky/mine && mv ${mnt}/sticky/mine ${mnt}/sticky/mine2 && rm ${mnt}/sticky/mine2`);
      assert(r.ok, `sticky: own file: ${JSON.stringify(r)}`);
      assertEquals(names(`${mnt}/sticky`), [".", "..", "roots"]);
      // root may do anything
      P.unlink(`${mnt}/open/new`);
      P.unlink(`${mnt}/open/sym`);
      P.rmdir(`${mnt}/open/dir`);
    }),
});

// ------------------------------------------------------------------ read-only mount

Deno.test({
  name: "posix: read-only mount: reads work, every change fails with EROFS, the image is unchanged",
  ...mountTest,
  fn: async () => {
    const img = tmpImage(32 << 20);
    try {
      await withMount({ image: img }, (mnt) => {
        P.mkdir(`${mnt}/d`);
        put(`${mnt}/d/f`, "content");
        P.setxattr(`${mnt}/d/f`, "user.k", "v");
        P.symlink("f", `${mnt}/d/s`);
      });
      const before = await crypto.subtle.digest("SHA-256", Deno.readFileSync(img));
      await withMount({ image: img, options: "ro" }, (mnt) => {
        const f = `${mnt}/d/f`;
        assertEquals(getText(f), "content");
        assertEquals(getText(`${mnt}/d/s`), "content");
        assertEquals(dec.decode(P.getxattr(f, "user.k")), "v");
        assertEquals(names(`${mnt}/d`), [".", "..", "f", "s"]);
        assertEquals(P.statvfs(mnt).flag & 1, 1, "ST_RDONLY");
        const ops: [string, () => unknown][] = [
          ["open O_WRONLY", () => P.open(f, P.O_WRONLY)],
          ["open O_RDWR", () => P.open(f, P.O_RDWR)],
          ["open O_TRUNC", () => P.open(f, P.O_RDONLY | P.O_TRUNC)],
          ["create", () => P.open(`${mnt}/new`, P.O_CREAT | P.O_WRONLY)],
          ["mkdir", () => P.mkdir(`${mnt}/nd`)],
          ["mknod", () => P.mkfifo(`${mnt}/p`)],
          ["symlink", () => P.symlink("x", `${mnt}/sl`)],
          ["link", () => P.link(f, `${mnt}/hl`)],
          ["unlink", () => P.unlink(f)],
          ["rmdir", () => P.rmdir(`${mnt}/d`)],
          ["rename", () => P.renameat2(f, `${mnt}/d/g`)],
          ["chmod", () => P.chmod(f, 0o600)],
          ["chown", () => P.lchown(f, 1, 1)],
          ["truncate", () => P.truncate(f, 0)],
          ["utimensat", () => P.utimensat(f, null)],
          ["setxattr", () => P.setxattr(f, "user.k", "w")],
          ["removexattr", () => P.removexattr(f, "user.k")],
        ];
        for (const [what, op] of ops) assertErrno(op, "EROFS", what);
        const fd = P.open(f, P.O_RDONLY);
        assertEquals(dec.decode(P.pread(fd, 100, 0)), "content");
        assertErrno(() => P.fallocate(fd, 0, 0, 10), "EBADF");
        P.close(fd);
      });
      const after = await crypto.subtle.digest("SHA-256", Deno.readFileSync(img));
      assertEquals(new Uint8Array(after), new Uint8Array(before), "the image is byte-for-byte unchanged");
    } finally {
      Deno.removeSync(img);
    }
  },
});
