/**
 * `vexfs mount` / `vexfs umount` at the command line (issue 3 §1): every
 * test runs the real command (`deno run main.ts ...` through `vexfsArgv`)
 * on temporary images and checks what the rest of the system sees
 * (/proc/self/mountinfo, mount(8), df(1)), how every way of ending a mount
 * leaves the superblock (clean), what is refused (second mount, offline
 * commands on a mounted image, a busy umount, bad options, bad
 * mountpoints, bad images), what other users may do (allow_other, modes,
 * the vector ioctls' write check) and what a crash of the daemon leaves
 * behind (fsynced and timer-committed data survive; fsck still reads it).
 */
import { INCOMPAT_RECOVER, ROOT_INO, SB_OFFSET, STATE_CLEAN } from "../src/format/constants.ts";
import { fsck } from "../src/fsck/fsck.ts";
import { mkfs } from "../src/fs/mkfs.ts";
import { Vexfs } from "../src/fs/fs.ts";
import { Device } from "../src/device/device.ts";
import { assertFsckClean } from "../src/fs/_testutil.ts";
import { mountImage, mountTest, sha256File, superblockOf } from "../src/mount/_testutil.ts";
import { vexfsArgv } from "../src/mount/self.ts";
import { findMount, listMounts } from "../src/mount/unmount.ts";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../src/test_assert.ts";

const dec = new TextDecoder();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout as bytes */
  out: Uint8Array;
}

/** Runs `vexfs args...` (the real program) to completion. */
async function vexfs(args: string[]): Promise<Run> {
  const [exe, ...rest] = vexfsArgv(args);
  const o = await new Deno.Command(exe, {
    args: rest,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr), out: o.stdout };
}

/** Runs `vexfs args...` and requires exit status 0. */
async function ok(args: string[]): Promise<Run> {
  const r = await vexfs(args);
  assertEquals(r.code, 0, `vexfs ${args.join(" ")}: ${r.stderr}`);
  return r;
}

/** A refusal: exit 1, a one-line `vexfs <cmd>: ...` message, no stack trace, mentioning every needle. */
function assertRefused(r: Run, cmd: string, ...needles: (string | RegExp)[]): void {
  assertEquals(r.code, 1, `exit status (stderr: ${r.stderr})`);
  assert(r.stderr.startsWith(`vexfs ${cmd}: `), `message starts with 'vexfs ${cmd}: ': ${r.stderr}`);
  assert(!/\n\s+at /.test(r.stderr) && !/Uncaught|panicked/.test(r.stderr), `no stack trace: ${r.stderr}`);
  for (const n of needles) {
    if (typeof n === "string") assertStringIncludes(r.stderr, n);
    else assertMatch(r.stderr, n);
  }
}

/** Runs a system tool; returns exit status and output. */
async function sh(cmd: string, args: string[]): Promise<Run> {
  const o = await new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" }).output();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr), out: o.stdout };
}

/** `n` random bytes (getRandomValues fills at most 64 KiB per call). */
function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let o = 0; o < n; o += 65536) crypto.getRandomValues(b.subarray(o, Math.min(n, o + 65536)));
  return b;
}

/** The superblock's state field (1 clean, 2 in use / not cleanly unmounted without a journal, 3 errors). */
function sbState(img: string): number {
  return superblockOf(img).state;
}

/** Whether the image's journal must be replayed before use (RECOVER set: in use, or the user crashed). */
function needsRecovery(img: string): boolean {
  return (superblockOf(img).featureIncompat & INCOMPAT_RECOVER) !== 0;
}

/** Mount entry with the superblock options (the field after the source), which findMount does not return. */
function mountinfo(mnt: string): { fstype: string; source: string; options: string; superOptions: string } | null {
  let found = null;
  for (const line of Deno.readTextFileSync("/proc/self/mountinfo").split("\n")) {
    const f = line.split(" ");
    const dash = f.indexOf("-", 6);
    if (dash < 0 || f[4] !== mnt) continue;
    found = { options: f[5], fstype: f[dash + 1], source: f[dash + 2], superOptions: f[dash + 3] };
  }
  return found;
}

/** Pids of live `vexfs mount --daemon-child ... MNT` processes. */
function daemonPids(mnt: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    let argv: string[];
    try {
      argv = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0");
    } catch {
      continue;
    }
    if (argv.includes("--daemon-child") && argv.includes(mnt) && alive(Number(e.name))) out.push(Number(e.name));
  }
  return out;
}

/** Whether `pid` runs (a zombie counts as ended: PID 1 here may not reap orphans). */
function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** The one daemon serving `mnt`. */
function daemonPid(mnt: string): number {
  const p = daemonPids(mnt);
  assertEquals(p.length, 1, `daemons serving ${mnt}`);
  return p[0];
}

async function waitFor(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Setup {
  dir: string;
  img: string;
  mnt: string;
}

/**
 * A temp dir with a fresh 64 MiB image and an empty mountpoint; afterwards
 * any mount left behind is detached, any daemon for it killed, the dir removed.
 */
async function withSetup(fn: (s: Setup) => Promise<void>, size = 64 << 20): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "vexfs-mount-cli-" });
  const s = { dir, img: `${dir}/disk.img`, mnt: `${dir}/mnt` };
  Deno.mkdirSync(s.mnt);
  mkfs(s.img, { size });
  try {
    await fn(s);
  } finally {
    if (findMount(s.mnt)) await sh("fusermount3", ["-u", "-z", s.mnt]);
    for (const pid of daemonPids(s.mnt)) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
    Deno.removeSync(dir, { recursive: true });
  }
}

/** `vexfs mount IMG MNT` (daemon mode), required to succeed and to show in mountinfo when it returns. */
async function mountDaemon(s: Setup, ...opts: string[]): Promise<Run> {
  const r = await ok(["mount", ...opts, s.img, s.mnt]);
  const m = findMount(s.mnt);
  assert(m, `${s.mnt} is mounted when 'vexfs mount' returns`);
  assertEquals(m.fstype, "fuse.vexfs");
  return r;
}

/**
 * Requires, right away: nothing mounted on `mnt`, the image free to claim
 * exclusively (the daemon has closed it), a clean superblock and a clean
 * fsck; and that the daemon process then exits.
 */
async function assertReleasedClean(s: Setup): Promise<void> {
  assertEquals(findMount(s.mnt), null, "no mount left");
  Device.open(s.img, { exclusive: true }).close(); // throws EBUSY while a daemon still holds it
  assertEquals(sbState(s.img), STATE_CLEAN, "superblock state");
  assert(!needsRecovery(s.img), "the journal was checkpointed and closed");
  assertFsckClean(s.img);
  await waitFor("the daemon to exit", () => daemonPids(s.mnt).length === 0);
}

Deno.test({
  name: "vexfs mount through mount.fuse3 (the /etc/fstab and 'mount -t fuse.vexfs' path): " +
    "'vexfs SOURCE MOUNTPOINT -o OPTS' mounts; umount(8) writes everything back",
  ...mountTest,
  ignore: !mountFuse3(),
  fn: () =>
    withSetup(async (s) => {
      // mount.fuse3 runs the program named by the type ('vexfs') from PATH, as 'vexfs SOURCE MOUNTPOINT -o OPTS'.
      const bin = `${s.dir}/bin`;
      Deno.mkdirSync(bin);
      const q = (x: string) => `'${x.replaceAll("'", `'\\''`)}'`;
      Deno.writeTextFileSync(`${bin}/vexfs`, `#!/bin/sh\nexec ${vexfsArgv([]).map(q).join(" ")} "$@"\n`, {
        mode: 0o755,
      });
      const o = await new Deno.Command(mountFuse3()!, {
        args: [s.img, s.mnt, "-t", "vexfs", "-o", "allow_other,noatime"],
        env: { PATH: `${bin}:${Deno.env.get("PATH")}`, NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(o.code, 0, `mount.fuse3: ${dec.decode(o.stderr)}`);
      const m = mountinfo(s.mnt);
      assert(m, "mounted when mount.fuse3 returns");
      assertEquals([m.fstype, m.source], ["fuse.vexfs", s.img]);
      assertMatch(m.superOptions, /allow_other/);
      assertMatch(m.options, /noatime/);
      Deno.writeTextFileSync(`${s.mnt}/fstab.txt`, "via mount.fuse3\n");
      assertEquals((await sh("umount", [s.mnt])).code, 0);
      await waitFor("the daemon to exit", () => daemonPids(s.mnt).length === 0);
      await assertReleasedClean(s);
      assertEquals((await ok(["cat", s.img, "/fstab.txt"])).stdout, "via mount.fuse3\n");
      // Without the subcommand, anything that is not SOURCE DIRECTORY is still an unknown command.
      for (const args of [[s.img, `${s.dir}/no-such-dir`], ["moutn", s.mnt], [`${s.dir}/no-such.img`, s.mnt]]) {
        const r = await vexfs(args);
        assertEquals(r.code, 1);
        assertMatch(r.stderr, /unknown command/);
      }
    }),
});

/** mount.fuse3 (Debian's fuse3), or null. */
function mountFuse3(): string | null {
  for (const p of ["/sbin/mount.fuse3", "/usr/sbin/mount.fuse3"]) {
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch { /* next */ }
  }
  return null;
}

// ------------------------------------------------------------------ the vector commands on a mount

Deno.test({
  name: "vexfs info, collection list/info, vector get and search on a mount print what they print on the " +
    "unmounted image; collection list pages past 64 collections",
  ...mountTest,
  fn: () =>
    withSetup(async (s) => {
      // 70 collections made by the engine (ids 1..70, 5..9 dropped again), so the list needs two ioctl pages.
      const fs = Vexfs.open(s.img);
      for (let i = 1; i <= 70; i++) {
        const d = fs.mkdir(ROOT_INO, `c${i}`);
        fs.collections.create(d, { dim: 1 + (i % 4), metric: (["l2", "cosine", "ip"] as const)[i % 3], elem: "f32" });
      }
      for (let i = 5; i < 10; i++) fs.rmdir(ROOT_INO, `c${i}`);
      fs.close();

      await mountDaemon(s);
      Deno.mkdirSync(`${s.mnt}/docs/sub`, { recursive: true });
      await ok(["collection", "create", `${s.mnt}/docs`, "--dim", "3", "--metric", "cosine"]);
      const vecs: [string, number[]][] = [
        ["a.txt", [1, 0, 0]],
        ["b.txt", [0.5, 0.5, 0]],
        ["sub/c.txt", [0, 1, 0.25]],
        ["sub/d.txt", [0.1, 0.2, 0.3]],
      ];
      for (const [f, v] of vecs) {
        Deno.writeTextFileSync(`${s.mnt}/docs/${f}`, `${f}\n`);
        await ok(["vector", "set", `${s.mnt}/docs/${f}`, "--vector", JSON.stringify(v)]);
      }
      // The same questions, asked of the mount and (later) of the image: [mount args, image args].
      const questions: [string[], string[]][] = [
        [["collection", "list", "--json", s.mnt], ["collection", "list", "--json", s.img]],
        [["collection", "list", "--json", `${s.mnt}/docs/sub`], ["collection", "list", "--json", s.img]],
        [["collection", "info", "--json", `${s.mnt}/docs/sub`], ["collection", "info", "--json", s.img, "/docs/sub"]],
        [["vector", "get", "--json", `${s.mnt}/docs/sub/c.txt`], ["vector", "get", "--json", s.img, "/docs/sub/c.txt"]],
        [
          ["search", "--json", `${s.mnt}/docs`, "-k", "3", "--vector", "[1,0.1,0]"],
          ["search", "--json", s.img, "/docs", "-k", "3", "--vector", "[1,0.1,0]"],
        ],
        [
          ["search", "--json", `${s.mnt}/docs/sub`, "-k", "10", "--like", `${s.mnt}/docs/sub/d.txt`],
          ["search", "--json", s.img, "/docs/sub", "-k", "10", "--like", "/docs/sub/d.txt"],
        ],
      ];
      // Host paths on the mount name the same things as image paths: /tmp/.../mnt/docs is /docs.
      // Timings differ from run to run: left out of the comparison.
      const norm = (out: string) =>
        JSON.parse(
          out.replaceAll(`"${s.mnt}/`, '"/').replaceAll(`"${s.mnt}"`, '"/"'),
          (k, v) => k === "elapsed_ms" ? undefined : v,
        );
      const onMount = [];
      for (const [m] of questions) onMount.push(norm((await ok(m)).stdout));
      const list = onMount[0].collections as { id: number; path: string; vectors: number }[];
      assertEquals(list.length, 66, "65 engine collections and /docs");
      // (/docs took the lowest free id, 5)
      assertEquals(list.map((c) => c.id), [1, 2, 3, 4, 5, ...Array.from({ length: 61 }, (_, i) => 10 + i)]);
      assertEquals([list[4].path, list[4].vectors], ["/docs", 4]);
      assertEquals([list[3].path, list[5].path, list[65].path], ["/c4", "/c10", "/c70"]);
      assertEquals(onMount[1], onMount[0], "any directory on the mount lists the whole filesystem");
      const table = await ok(["collection", "list", s.mnt]);
      assertStringIncludes(table.stdout, `${s.mnt}/docs`);
      // fsync commits and writes the collection's HNSW graph (derived data, FORMAT.md §8.6, written after a
      // commit), so the usage seen now is what the image holds after the unmount.
      assertEquals((await sh("sync", [`${s.mnt}/docs/a.txt`])).code, 0);
      const info = norm((await ok(["info", "--json", `${s.mnt}/docs`])).stdout);
      assertEquals([info.mount.mountpoint, info.mount.read_only, info.superblock], ["/", false, null]);
      const human = await ok(["info", s.mnt]);
      assertStringIncludes(human.stdout, `Filesystem mounted on ${s.mnt}`);
      assertStringIncludes(human.stdout, "Collections (66)");
      await ok(["umount", s.mnt]);
      const offline = norm((await ok(["info", "--json", s.img])).stdout);
      assertEquals(info.usage, offline.usage, "info: usage on the mount = on the image");
      assertEquals(info.collections, offline.collections, "info: collections");
      assertEquals(info.filesystem, offline.filesystem, "info: the filesystem on the mount = on the image");
      assertEquals([info.target, offline.target, offline.mount], ["/docs", s.img, null]);

      for (const [i, [, img]] of questions.entries()) {
        assertEquals(onMount[i], norm((await ok(img)).stdout), `${questions[i][0].slice(0, 2).join(" ")}`);
      }
      // A directory that is not on VexFS, and a mount that is gone, are refused clearly.
      const r = await vexfs(["collection", "list", s.mnt]);
      assertRefused(r, "collection list", "not on a mounted VexFS");
      assertRefused(await vexfs(["info", s.mnt]), "info", "not on a mounted VexFS");
      await assertReleasedClean(s);
    }),
});

// ------------------------------------------------------------------ lifecycle

Deno.test({
  name: "vexfs mount: daemon mode returns once mounted; mountinfo, mount(8) and df show fuse.vexfs on the image",
  ...mountTest,
  fn: () =>
    withSetup(async (s) => {
      const r = await mountDaemon(s);
      assertEquals(r.stdout, "");
      const m = mountinfo(s.mnt)!;
      assertEquals(m.fstype, "fuse.vexfs");
      assertEquals(m.source, s.img, "source is the image path");
      assertMatch(m.options, /^rw,/);
      assertMatch(m.superOptions, /default_permissions/);
      const pid = daemonPid(s.mnt);
      // The daemon left the caller's session and holds the image.
      const fds = [...Deno.readDirSync(`/proc/${pid}/fd`)].map((e) => {
        try {
          return Deno.readLinkSync(`/proc/${pid}/fd/${e.name}`);
        } catch {
          return "";
        }
      });
      assert(fds.includes(s.img), `the daemon holds ${s.img}: ${fds.join(" ")}`);
      assert(fds.includes("/dev/fuse"), "the daemon holds /dev/fuse");
      // Its standard fds were detached (the 'vexfs mount' above could only return because no pipe of its
      // output is held any more).
      for (const fd of [0, 1, 2]) assertEquals(Deno.readLinkSync(`/proc/${pid}/fd/${fd}`), "/dev/null");

      const mountOut = (await sh("mount", [])).stdout;
      assertStringIncludes(mountOut, `${s.img} on ${s.mnt} type fuse.vexfs (rw,`);
      const df = await sh("df", ["-P", "-k", s.mnt]);
      assertEquals(df.code, 0, df.stderr);
      const line = df.stdout.trim().split("\n")[1].split(/\s+/);
      assertEquals(line[0], s.img, `df source: ${df.stdout}`);
      assertEquals(line[5], s.mnt, `df mountpoint: ${df.stdout}`);
      assertEquals(Number(line[1]), (64 << 20) / 1024, "df size in KiB");
      const dfT = await sh("df", ["--output=fstype", s.mnt]);
      assertStringIncludes(dfT.stdout, "fuse.vexfs");

      // It is a working filesystem.
      Deno.writeTextFileSync(`${s.mnt}/hello.txt`, "hello\n");
      assertEquals(Deno.readTextFileSync(`${s.mnt}/hello.txt`), "hello\n");

      // vexfs umount returns only after the daemon wrote back and released the image.
      await ok(["umount", s.mnt]);
      Device.open(s.img, { exclusive: true }).close(); // the daemon has released the image
      assertEquals(sbState(s.img), STATE_CLEAN, "superblock clean right after 'vexfs umount'");
      const f = await vexfs(["fsck", s.img]);
      assertEquals(f.code, 0, f.stdout + f.stderr);
      assert(!/IN_USE|SB_DIRTY/.test(f.stdout + f.stderr), `fsck sees a released, clean image: ${f.stdout}`);
      assertEquals((await ok(["cat", s.img, "/hello.txt"])).stdout, "hello\n");
      await assertReleasedClean(s);
    }),
});

Deno.test({
  name: "vexfs umount: refuses a non-mountpoint, a non-FUSE mount and a busy mount with a clear message",
  ...mountTest,
  fn: () =>
    withSetup(async (s) => {
      assertRefused(await vexfs(["umount", s.mnt]), "umount", "is not a mountpoint");
      assertRefused(await vexfs(["umount", "/proc"]), "umount", "proc mount, not VexFS");
      await mountDaemon(s);
      Deno.writeTextFileSync(`${s.mnt}/open.txt`, "held open\n");
      const f = Deno.openSync(`${s.mnt}/open.txt`);
      try {
        assertRefused(await vexfs(["umount", s.mnt]), "umount", `cannot unmount ${s.mnt}`, "busy");
        assert(findMount(s.mnt), "still mounted");
        assertEquals(Deno.readTextFileSync(`${s.mnt}/open.txt`), "held open\n", "and still served");
      } finally {
        f.close();
      }
      await ok(["umount", s.mnt]);
      await assertReleasedClean(s);
    }),
});

for (const how of ["fusermount3 -u", "umount", "SIGINT", "SIGTERM"] as const) {
  Deno.test({
    name: `vexfs mount (daemon): ending it with ${how} writes back and leaves a clean superblock`,
    ...mountTest,
    fn: () =>
      withSetup(async (s) => {
        await mountDaemon(s);
        const pid = daemonPid(s.mnt);
        Deno.mkdirSync(`${s.mnt}/d`);
        const data = randomBytes(300_000);
        Deno.writeFileSync(`${s.mnt}/d/data.bin`, data);
        Deno.symlinkSync("d/data.bin", `${s.mnt}/link`);
        assert(needsRecovery(s.img), "the journal is marked in use (RECOVER) while mounted");
        if (how === "fusermount3 -u") assertEquals((await sh("fusermount3", ["-u", s.mnt])).code, 0);
        else if (how === "umount") assertEquals((await sh("umount", [s.mnt])).code, 0);
        else Deno.kill(pid, how);
        await waitFor("the daemon to exit", () => !alive(pid));
        await assertReleasedClean(s);
        assertEquals((await ok(["cat", s.img, "/d/data.bin"])).out, data, "data written back");
        assertMatch((await ok(["ls", s.img, "/"])).stdout, /link/);
      }),
  });
}

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  Deno.test({
    name: `vexfs mount -f: ${sig} unmounts, exits 0 and leaves a clean superblock`,
    ...mountTest,
    fn: () =>
      withSetup(async (s) => {
        const d = await mountImage({ image: s.img });
        try {
          Deno.writeTextFileSync(`${d.mnt}/f.txt`, "foreground\n");
          d.child.kill(sig);
          const st = await d.child.status;
          assertEquals(st.code, 0, `exit status after ${sig}: ${d.stderr()}`);
          assertEquals(findMount(d.mnt), null, "unmounted");
          assertEquals(sbState(s.img), STATE_CLEAN);
          assertFsckClean(s.img);
          assertEquals((await ok(["cat", s.img, "/f.txt"])).stdout, "foreground\n");
        } finally {
          if (findMount(d.mnt)) await sh("fusermount3", ["-u", "-z", d.mnt]);
          Deno.removeSync(d.mnt, { recursive: true });
        }
      }),
  });
}

// ------------------------------------------------------------------ exclusion

Deno.test({
  name: "vexfs mount: a mounted image is refused by a second mount (daemon and -f) and by offline commands",
  ...mountTest,
  fn: () =>
    withSetup(async (s) => {
      await mountDaemon(s);
      Deno.writeTextFileSync(`${s.mnt}/keep.txt`, "still here\n");
      const mnt2 = `${s.dir}/mnt2`;
      Deno.mkdirSync(mnt2);
      assertRefused(await vexfs(["mount", s.img, mnt2]), "mount", "already mounted or in use", s.img);
      assertRefused(await vexfs(["mount", "--foreground", s.img, mnt2]), "mount", "already mounted or in use");
      assertRefused(await vexfs(["mount", "-o", "ro", s.img, mnt2]), "mount", "already mounted or in use");
      assertEquals(findMount(mnt2), null, "no second mount");
      assertEquals(daemonPids(mnt2), [], "no second daemon");
      // Offline commands: reading and writing are both refused.
      assertRefused(await vexfs(["ls", s.img, "/"]), "ls", "in use");
      assertRefused(await vexfs(["cat", s.img, "/keep.txt"]), "cat", "in use");
      assertRefused(await vexfs(["mkdir", s.img, "/x"]), "mkdir", "in use");
      assertRefused(await vexfs(["mkfs", s.img, "--force", "--size", "64M"]), "mkfs", "in use", "mounted on");
      // The first mount is unharmed.
      assertEquals(Deno.readTextFileSync(`${s.mnt}/keep.txt`), "still here\n");
      assertEquals(Array.from(Deno.readDirSync(s.mnt), (e) => e.name), ["keep.txt"]);
      await ok(["umount", s.mnt]);
      await assertReleasedClean(s);
      assertEquals((await ok(["cat", s.img, "/keep.txt"])).stdout, "still here\n");
    }),
});

Deno.test({
  name:
    "vexfs mount: a directory that is already a mount point (VexFS, tmpfs, a dead mount) is refused, nothing started",
  ...mountTest,
  fn: () =>
    withSetup(async (s) => {
      const img2 = `${s.dir}/other.img`;
      mkfs(img2, { size: 64 << 20 });
      const mountsOn = (dir: string) => listMounts().filter((m) => m.mountpoint === dir).length;
      const refusedOn = async (dir: string, source: string, fstype: string) => {
        for (const fg of [[], ["--foreground"]]) {
          assertRefused(
            await vexfs(["mount", ...fg, img2, dir]),
            "mount",
            `${dir} is already a mount point of ${source} (${fstype}); unmount it first or choose another directory`,
          );
          assertEquals(mountsOn(dir), 1, `no second mount stacked on ${dir}`);
          assertEquals(daemonPids(dir).length, fstype === "fuse.vexfs" ? 1 : 0, "no second daemon");
          Device.open(img2, { exclusive: true }).close(); // the other image was not opened
          assertEquals(sbState(img2), STATE_CLEAN);
        }
      };
      await mountDaemon(s);
      await refusedOn(s.mnt, s.img, "fuse.vexfs");
      // the same image again on its own mountpoint: the mount point is named first
      assertRefused(await vexfs(["mount", s.img, s.mnt]), "mount", "is already a mount point of");
      // a relative spelling of the directory is the same directory
      const rel = await new Deno.Command(vexfsArgv([])[0], {
        args: [...vexfsArgv(["mount", img2, "mnt"]).slice(1)],
        cwd: s.dir,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
      assertStringIncludes(dec.decode(rel.stderr), "mnt is already a mount point of");
      assertEquals(rel.code, 1);
      assertEquals(mountsOn(s.mnt), 1);
      // any other filesystem
      const tmpfs = `${s.dir}/tmpfs`;
      Deno.mkdirSync(tmpfs);
      assertEquals((await sh("mount", ["-t", "tmpfs", "vexfs-test-tmpfs", tmpfs])).code, 0);
      try {
        await refusedOn(tmpfs, "vexfs-test-tmpfs", "tmpfs");
      } finally {
        await sh("umount", [tmpfs]);
      }
      // a dead mount (its daemon killed): stat fails, yet it is still a mount point
      Deno.kill(daemonPid(s.mnt), "SIGKILL");
      await waitFor("the daemon to die", () => daemonPids(s.mnt).length === 0);
      assertRefused(await vexfs(["mount", img2, s.mnt]), "mount", `${s.mnt} is already a mount point of ${s.img}`);
      assertEquals(mountsOn(s.mnt), 1);
      assertEquals((await sh("fusermount3", ["-u", "-z", s.mnt])).code, 0);
      // once unmounted, the directory takes a mount again
      await ok(["mount", img2, s.mnt]);
      assertEquals(findMount(s.mnt)?.source, img2);
      await ok(["umount", s.mnt]);
    }),
});

// ------------------------------------------------------------------ options

Deno.test({
  name: "vexfs mount -o ro: writes fail with EROFS and the image's bytes do not change",
  ...mountTest,
  fn: () =>
    withSetup(async (s) => {
      await ok(["mkdir", s.img, "/docs"]);
      await ok(["collection", "create", s.img, "/docs", "--dim", "3", "--metric", "l2"]);
      const src = `${s.dir}/a.txt`;
      Deno.writeTextFileSync(src, "read me\n");
      await ok(["put", s.img, src, "/docs/a.txt"]);
      await ok(["vector", "set", s.img, "/docs/a.txt", "--vector", "[1,2,3]"]);
      const before = sha256File(s.img);
      const mtimeBefore = Deno.statSync(s.img).mtime!.getTime();

      await mountDaemon(s, "-o", "ro");
      const m = mountinfo(s.mnt)!;
      assertMatch(m.options, /^ro,/);
      assertMatch(m.superOptions, /^ro,/);
      assertEquals(Deno.readTextFileSync(`${s.mnt}/docs/a.txt`), "read me\n");
      const erofs = (f: () => unknown, what: string) => {
        try {
          f();
        } catch (e) {
          assertEquals((e as { code?: string }).code, "EROFS", `${what}: ${e}`);
          return;
        }
        throw new Error(`${what} succeeded on a read-only mount`);
      };
      erofs(() => Deno.writeTextFileSync(`${s.mnt}/new.txt`, "x"), "create");
      erofs(() => Deno.writeTextFileSync(`${s.mnt}/docs/a.txt`, "x"), "overwrite");
      erofs(() => Deno.writeTextFileSync(`${s.mnt}/docs/a.txt`, "x", { append: true }), "append");
      erofs(() => Deno.mkdirSync(`${s.mnt}/d`), "mkdir");
      erofs(() => Deno.removeSync(`${s.mnt}/docs/a.txt`), "unlink");
      erofs(() => Deno.renameSync(`${s.mnt}/docs/a.txt`, `${s.mnt}/docs/b.txt`), "rename");
      erofs(() => Deno.chmodSync(`${s.mnt}/docs/a.txt`, 0o600), "chmod");
      erofs(() => Deno.utimeSync(`${s.mnt}/docs/a.txt`, 1, 1), "utime");
      erofs(() => Deno.symlinkSync("x", `${s.mnt}/l`), "symlink");
      erofs(() => Deno.truncateSync(`${s.mnt}/docs/a.txt`, 0), "truncate");
      const setf = await sh("setfattr", ["-n", "user.x", "-v", "1", `${s.mnt}/docs/a.txt`]);
      assert(setf.code !== 0 && /Read-only file system/.test(setf.stderr), `setfattr: ${setf.stderr}`);
      const vset = await vexfs(["vector", "set", `${s.mnt}/docs/a.txt`, "--vector", "[3,2,1]"]);
      assert(vset.code !== 0, `vector set on a read-only mount fails: ${vset.stdout}`);
      assertMatch(vset.stderr, /read-only/);
      // Reads and searches still work.
      const got = await ok(["vector", "get", `${s.mnt}/docs/a.txt`]);
      assertMatch(got.stdout, /1.*2.*3/);
      const sr = await ok(["search", `${s.mnt}/docs`, "--top-k", "1", "--vector", "[1,2,3]", "--json"]);
      assertStringIncludes(sr.stdout, "a.txt");

      await ok(["umount", s.mnt]);
      assertEquals(sha256File(s.img), before, "image bytes unchanged by a read-only mount");
      assertEquals(Deno.statSync(s.img).mtime!.getTime(), mtimeBefore, "image not even rewritten");
      await assertReleasedClean(s);
    }),
});

Deno.test({
  name: "vexfs mount -o allow_other,nosuid,noexec,fsname=...: options reach the kernel's mount table",
  ...mountTest,
  fn: () =>
    withSetup(async (s) => {
      await mountDaemon(s, "-o", "allow_other,noexec", "-o", "fsname=tank,noatime,commit=0");
      const m = mountinfo(s.mnt)!;
      assertMatch(m.superOptions, /(^|,)allow_other(,|$)/);
      assertMatch(m.options, /(^|,)noexec(,|$)/);
      assertMatch(m.options, /(^|,)noatime(,|$)/);
      assertEquals(m.source, "tank");
      assertStringIncludes((await sh("mount", [])).stdout, `tank on ${s.mnt} type fuse.vexfs (`);
      // Plenty to write back at unmount (commit=0: nothing was committed yet).
      Deno.mkdirSync(`${s.mnt}/d`);
      for (let i = 0; i < 2000; i++) Deno.writeTextFileSync(`${s.mnt}/d/f${i}`, `${i}\n`);
      // With a custom fsname the source is no path to wait on: vexfs umount still waits for the daemon.
      const pid = daemonPid(s.mnt);
      await ok(["umount", s.mnt]);
      assertEquals(alive(pid), false, "the daemon has exited when 'vexfs umount' returns");
      await assertReleasedClean(s);
      assertEquals((await ok(["ls", s.img, "/d"])).stdout.trim().split("\n").length, 2000);
    }),
});

/** Compiles a tiny C client that sets a vector with VEXFS_IOC_SET_VECTOR (kernel/vexfs_ioctl.h); returns its path. */
async function buildSetVector(dir: string): Promise<string> {
  const src = `${dir}/setvec.c`, exe = `${dir}/setvec`;
  Deno.writeTextFileSync(
    src,
    `#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "vexfs_ioctl.h"
int main(int argc, char **argv) {
  static struct vexfs_ioc_vector v;
  int fd, i;
  v.hdr.magic = VEXFS_IOC_MAGIC;
  v.hdr.version = VEXFS_IOC_VERSION;
  v.hdr.size = sizeof(v);
  v.dim = (unsigned)(argc - 2);
  for (i = 2; i < argc; i++) v.data[i - 2] = strtof(argv[i], NULL);
  fd = open(argv[1], O_RDONLY);
  if (fd < 0) { printf("open: %s\\n", strerror(errno)); return 1; }
  if (ioctl(fd, VEXFS_IOC_SET_VECTOR, &v) < 0) { printf("%s\\n", strerror(errno)); return 2; }
  printf("ok\\n");
  return 0;
}
`,
  );
  const kernel = new URL("../kernel", import.meta.url).pathname;
  const r = await sh("gcc", ["-Wall", "-I", kernel, "-o", exe, src]);
  assertEquals(r.code, 0, `gcc: ${r.stderr}`);
  return exe;
}

/** Runs `sh -c script` as nobody (uid/gid 65534, no supplementary groups). */
function asNobody(script: string): Promise<Run> {
  return sh("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", script]);
}

Deno.test({
  name: "vexfs mount: other users are shut out without allow_other; with it the kernel checks modes and owners",
  ...mountTest,
  fn: () =>
    withSetup(async (s) => {
      Deno.chmodSync(s.dir, 0o755); // let nobody reach the mountpoint
      await mountDaemon(s);
      Deno.writeTextFileSync(`${s.mnt}/pub.txt`, "public\n");
      Deno.writeTextFileSync(`${s.mnt}/private.txt`, "secret\n");
      Deno.chmodSync(`${s.mnt}/private.txt`, 0o600);
      Deno.mkdirSync(`${s.mnt}/docs`);
      await ok(["collection", "create", `${s.mnt}/docs`, "--dim", "2", "--metric", "l2"]);
      Deno.writeTextFileSync(`${s.mnt}/docs/d.txt`, "doc\n");
      await ok(["vector", "set", `${s.mnt}/docs/d.txt`, "--vector", "[1,2]"]);
      Deno.mkdirSync(`${s.mnt}/drop`);
      Deno.chmodSync(`${s.mnt}/drop`, 0o777);
      let r = await asNobody(`cat "${s.mnt}/pub.txt"`);
      assert(r.code !== 0 && /Permission denied/.test(r.stderr), `without allow_other: ${r.stdout}${r.stderr}`);
      await ok(["umount", s.mnt]);

      await mountDaemon(s, "-o", "allow_other");
      r = await asNobody(`cat "${s.mnt}/pub.txt"`);
      assertEquals([r.code, r.stdout], [0, "public\n"], r.stderr);
      for (
        const script of [
          `cat "${s.mnt}/private.txt"`,
          `echo x >> "${s.mnt}/pub.txt"`,
          `touch "${s.mnt}/new.txt"`,
          `rm "${s.mnt}/pub.txt"`,
          `chmod 777 "${s.mnt}/pub.txt"`,
          `setfattr -n user.x -v 1 "${s.mnt}/pub.txt"`,
          `setfattr -n user.vexfs.vector -v 0x0000803f00000040 "${s.mnt}/docs/d.txt"`,
        ]
      ) {
        r = await asNobody(script);
        assert(r.code !== 0 && /Permission denied|Operation not permitted/.test(r.stderr), `${script}: ${r.stderr}`);
      }
      r = await asNobody(`getfattr --only-values -n user.vexfs.vector "${s.mnt}/docs/d.txt" | od -A n -t f4`);
      assertEquals(r.stdout.trim().split(/\s+/), ["1", "2"], `reading a vector is allowed: ${r.stderr}`);
      // The vector ioctls that change something check write permission like setxattr would (the kernel does not).
      const setvec = await buildSetVector(s.dir);
      Deno.writeTextFileSync(`${s.mnt}/docs/open.txt`, "world-writable\n");
      Deno.chmodSync(`${s.mnt}/docs/open.txt`, 0o666);
      Deno.chmodSync(`${s.mnt}/docs`, 0o777);
      r = await asNobody(`"${setvec}" "${s.mnt}/docs/d.txt" 5 6`);
      assertEquals([r.code, r.stdout.trim()], [2, "Permission denied"], `SET_VECTOR by nobody on root's 0644 file`);
      r = await asNobody(`"${setvec}" "${s.mnt}/docs/open.txt" 5 6`);
      assertEquals([r.code, r.stdout.trim()], [0, "ok"], `SET_VECTOR by nobody on a 0666 file: ${r.stderr}`);
      r = await asNobody(`echo x > "${s.mnt}/docs/own.txt" && "${setvec}" "${s.mnt}/docs/own.txt" 7 8`);
      assertEquals([r.code, r.stdout.trim()], [0, "ok"], `SET_VECTOR by nobody on its own file: ${r.stderr}`);
      r = await asNobody(`echo mine > "${s.mnt}/drop/n.txt" && stat -c "%u %g %a" "${s.mnt}/drop/n.txt"`);
      assertEquals([r.code, r.stdout.trim()], [0, "65534 65534 644"], r.stderr);
      assertEquals(Deno.readTextFileSync(`${s.mnt}/pub.txt`), "public\n", "nothing was changed");
      const vec = async (f: string) =>
        JSON.parse((await ok(["vector", "get", `${s.mnt}/docs/${f}`, "--json"])).stdout).vector;
      assertEquals(await vec("d.txt"), [1, 2], "the refused SET_VECTOR changed nothing");
      assertEquals([await vec("open.txt"), await vec("own.txt")], [[5, 6], [7, 8]]);
      await ok(["umount", s.mnt]);
      await assertReleasedClean(s);
    }),
});

Deno.test({
  name: "vexfs mount: unknown or malformed -o options are refused with the known ones listed, nothing mounted",
  ...mountTest,
  fn: () =>
    withSetup(async (s) => {
      const before = sha256File(s.img);
      for (const o of ["bogus", "ro,bogus", "commit=-1", "commit=abc", "log=", "uid=0"]) {
        for (const fg of [[], ["--foreground"]]) {
          const r = await vexfs(["mount", ...fg, "-o", o, s.img, s.mnt]);
          assertRefused(r, "mount", "mount option");
          if (/bogus|uid/.test(o)) {
            assertStringIncludes(r.stderr, `unknown mount option '${o.split(",").pop()}'`);
            assertStringIncludes(r.stderr, "known options: ro, allow_other");
            assertStringIncludes(r.stderr, "log=FILE");
          }
          assertEquals(findMount(s.mnt), null);
          assertEquals(daemonPids(s.mnt), []);
        }
      }
      assertEquals(sha256File(s.img), before, "refused options do not touch the image");
    }),
});

Deno.test({
  name: "vexfs mount -o log=FILE: the daemon logs the mount, failed requests and the clean unmount",
  ...mountTest,
  fn: () =>
    withSetup(async (s) => {
      const log = `${s.dir}/vexfs.log`;
      await mountDaemon(s, "-o", `log=${log}`);
      Deno.mkdirSync(`${s.mnt}/full`);
      Deno.writeTextFileSync(`${s.mnt}/full/x`, "x");
      try {
        Deno.removeSync(`${s.mnt}/full`);
        throw new Error("rmdir of a non-empty directory succeeded");
      } catch (e) {
        assertEquals((e as { code?: string }).code, "ENOTEMPTY");
      }
      await ok(["umount", s.mnt]);
      const text = Deno.readTextFileSync(log);
      assertMatch(text, new RegExp(`mounted ${s.img} on ${s.mnt}`));
      assertMatch(text, /rmdir\(.*"full"\): ENOTEMPTY/);
      assertMatch(text, new RegExp(`unmounted ${s.mnt}; ${s.img} is clean`));
      for (const l of text.trim().split("\n")) assertMatch(l, /^\d{4}-\d\d-\d\dT[\d:.]+Z /, "timestamped lines");
      await assertReleasedClean(s);
    }),
});

Deno.test({
  name: "vexfs mount: a missing mountpoint, a file as mountpoint and a missing image are refused clearly",
  ...mountTest,
  fn: () =>
    withSetup(async (s) => {
      const before = sha256File(s.img);
      for (const fg of [[], ["--foreground"]]) {
        assertRefused(
          await vexfs(["mount", ...fg, s.img, `${s.dir}/nope`]),
          "mount",
          `mountpoint ${s.dir}/nope does not exist`,
        );
        const file = `${s.dir}/plain.txt`;
        Deno.writeTextFileSync(file, "");
        assertRefused(await vexfs(["mount", ...fg, s.img, file]), "mount", "is not a directory");
        assertRefused(
          await vexfs(["mount", ...fg, `${s.dir}/missing.img`, s.mnt]),
          "mount",
          "no such image file or device",
        );
        assertEquals(findMount(s.mnt), null);
      }
      assertEquals(sha256File(s.img), before, "refusals do not touch the image");
      assertEquals(sbState(s.img), STATE_CLEAN, "a refused mount does not leave the superblock marked in use");
    }),
});

// ------------------------------------------------------------------ crash

Deno.test({
  name: "vexfs mount: kill -9 of the daemon during writes; the dead mount is detectable, fsck reads the image, " +
    "fsynced files survive a remount",
  ...mountTest,
  fn: () =>
    withSetup(async (s) => {
      await mountDaemon(s);
      const pid = daemonPid(s.mnt);
      Deno.mkdirSync(`${s.mnt}/safe`);
      Deno.mkdirSync(`${s.mnt}/busy`);
      // Files written completely and fsynced before the crash.
      const safe = new Map<string, Uint8Array>();
      for (const [name, size] of [["a.bin", 2 << 20], ["b.bin", 4097], ["empty", 0]] as const) {
        const data = randomBytes(size);
        const f = Deno.openSync(`${s.mnt}/safe/${name}`, { write: true, create: true });
        let off = 0;
        while (off < size) off += f.writeSync(data.subarray(off));
        f.syncSync();
        f.close();
        safe.set(name, data);
      }
      // A writer that keeps creating and filling files until the mount dies.
      const writer = new Deno.Command("sh", {
        args: [
          "-c",
          'i=0; while head -c 100000 /dev/urandom > "$0/busy/f$i" && echo x >> "$0/busy/log"; do i=$((i+1)); done; exit 3',
          s.mnt,
        ],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      await waitFor("the writer to make progress", () => {
        try {
          return Deno.statSync(`${s.mnt}/busy/log`).size > 40;
        } catch {
          return false;
        }
      });
      Deno.kill(pid, "SIGKILL");
      await waitFor("the daemon to die", () => !alive(pid));
      const w = await writer.output();
      assertEquals(w.code, 3, `the writer fails once the daemon is gone: ${dec.decode(w.stderr)}`);

      // The mount is dead but still in the mount table.
      assert(findMount(s.mnt), "the dead mount is still listed");
      for (
        const [what, f] of [
          ["readdir", () => Deno.readDirSync(s.mnt).next()],
          ["stat of a new name", () => Deno.statSync(`${s.mnt}/never-looked-up`)],
          ["create", () => Deno.writeTextFileSync(`${s.mnt}/safe/new`, "x")],
        ] as const
      ) {
        let err: unknown;
        try {
          f();
        } catch (e) {
          err = e;
        }
        assert(err instanceof Error, `${what} on a dead mount fails`);
        assertMatch(err.message, /Transport endpoint is not connected/, what);
        assertEquals((err as { code?: string }).code, "ENOTCONN", what);
      }
      assertEquals((await sh("fusermount3", ["-u", s.mnt])).code, 0, "fusermount3 -u cleans up the dead mount");
      assertEquals(findMount(s.mnt), null);

      // fsck -n can read the image (it replays the journal in memory): no operational error (8) or crash.
      assert(needsRecovery(s.img), "the journal is marked as needing recovery");
      const f = await vexfs(["fsck", "-n", s.img]);
      assert(f.code < 8, `fsck exit ${f.code}: ${f.stdout}${f.stderr}`);
      assert(!/\n\s+at /.test(f.stderr), `fsck did not crash: ${f.stderr}`);

      // It mounts again (replaying the journal) and the fsynced files are intact.
      const r = await mountDaemon(s);
      assertMatch(r.stderr, /recovered the journal/);
      for (const [name, data] of safe) {
        assertEquals(Deno.readFileSync(`${s.mnt}/safe/${name}`), data, `fsynced file ${name}`);
      }
      // The filesystem is usable: write, and clean up the half-written directory.
      Deno.writeTextFileSync(`${s.mnt}/after-crash.txt`, "ok\n");
      for (const e of Deno.readDirSync(`${s.mnt}/busy`)) Deno.removeSync(`${s.mnt}/busy/${e.name}`);
      Deno.removeSync(`${s.mnt}/busy`);
      await ok(["umount", s.mnt]);
      assertEquals(sbState(s.img), STATE_CLEAN, "clean after the remount's unmount");
      const again = fsck(s.img);
      assert(again.exitCode < 8, `fsck after remount: ${JSON.stringify(again.problems)}`);
      assertEquals((await ok(["cat", s.img, "/after-crash.txt"])).stdout, "ok\n");
    }),
});

Deno.test({
  name: "vexfs mount -o commit=1: changes reach the image within the interval without fsync and survive kill -9; " +
    "a read-only mount of the crashed image changes nothing",
  ...mountTest,
  fn: () =>
    withSetup(async (s) => {
      await mountDaemon(s, "-o", "commit=1");
      const pid = daemonPid(s.mnt);
      const data = randomBytes(500_000);
      Deno.mkdirSync(`${s.mnt}/dir`);
      Deno.writeFileSync(`${s.mnt}/dir/committed.bin`, data);
      Deno.symlinkSync("dir/committed.bin", `${s.mnt}/link`);
      await new Promise((r) => setTimeout(r, 2500)); // > commit interval, no fsync
      Deno.kill(pid, "SIGKILL");
      await waitFor("the daemon to die", () => !alive(pid));
      assertEquals((await sh("fusermount3", ["-u", s.mnt])).code, 0);

      const before = sha256File(s.img);
      const r = await mountDaemon(s, "-o", "ro");
      assertMatch(r.stderr, /recovered the journal/, "a read-only mount replays the journal in memory");
      assertEquals(Deno.readFileSync(`${s.mnt}/dir/committed.bin`), data, "committed by the timer");
      assertEquals(Deno.readLinkSync(`${s.mnt}/link`), "dir/committed.bin");
      await ok(["umount", s.mnt]);
      assertEquals(sha256File(s.img), before, "a read-only mount writes nothing, not even the replay");
      assert(needsRecovery(s.img));

      await mountDaemon(s);
      assertEquals(Deno.readFileSync(`${s.mnt}/dir/committed.bin`), data);
      await ok(["umount", s.mnt]);
      await assertReleasedClean(s);
    }),
});

// ------------------------------------------------------------------ bad images

Deno.test({
  name: "vexfs mount: non-VexFS, ext4, truncated, empty and corrupted-superblock images are refused, nothing left",
  ...mountTest,
  fn: () =>
    withSetup(async (s) => {
      const cases: { name: string; make: (p: string) => Promise<void>; why: RegExp }[] = [
        {
          name: "random bytes",
          make: (p) => {
            Deno.writeFileSync(p, randomBytes(4 << 20));
            return Promise.resolve();
          },
          why: /no VexFS magic/,
        },
        {
          name: "ext4",
          make: async (p) => {
            const f = Deno.openSync(p, { write: true, create: true });
            f.truncateSync(32 << 20);
            f.close();
            const r = await sh("mkfs.ext4", ["-q", "-F", p]);
            assertEquals(r.code, 0, r.stderr);
          },
          why: /no VexFS magic/,
        },
        {
          name: "truncated",
          make: (p) => {
            mkfs(p, { size: 64 << 20 });
            Deno.truncateSync(p, 20 << 20);
            return Promise.resolve();
          },
          why: /truncated image/,
        },
        {
          name: "shorter than a superblock",
          make: (p) => {
            mkfs(p, { size: 64 << 20 });
            Deno.truncateSync(p, 1500);
            return Promise.resolve();
          },
          why: /too small to hold a VexFS superblock/,
        },
        {
          name: "empty file",
          make: (p) => Promise.resolve(Deno.writeFileSync(p, new Uint8Array())),
          why: /too small/,
        },
        {
          name: "flipped magic byte",
          make: (p) => Promise.resolve(flip(p, SB_OFFSET + 1)),
          why: /no VexFS magic/,
        },
        {
          name: "flipped checksum byte",
          make: (p) => Promise.resolve(flip(p, SB_OFFSET + 1021)),
          why: /checksum mismatch/,
        },
        {
          name: "flipped field byte (block count)",
          make: (p) => Promise.resolve(flip(p, SB_OFFSET + 8)),
          why: /checksum mismatch/,
        },
      ];
      function flip(p: string, at: number): void {
        mkfs(p, { size: 64 << 20 });
        const f = Deno.openSync(p, { read: true, write: true });
        const b = new Uint8Array(1);
        f.seekSync(at, Deno.SeekMode.Start);
        f.readSync(b);
        b[0] ^= 0xa5;
        f.seekSync(at, Deno.SeekMode.Start);
        f.writeSync(b);
        f.close();
      }
      for (const c of cases) {
        const p = `${s.dir}/bad-${c.name.replace(/\W+/g, "-")}.img`;
        await c.make(p);
        const before = sha256File(p);
        for (const fg of [[], ["--foreground"]]) {
          const r = await vexfs(["mount", ...fg, p, s.mnt]);
          assertRefused(r, "mount", `cannot mount ${p}`, c.why);
          assertEquals(findMount(s.mnt), null, `${c.name}: nothing mounted`);
          assertEquals(daemonPids(s.mnt), [], `${c.name}: no daemon left`);
        }
        assertEquals(sha256File(p), before, `${c.name}: the image is not modified`);
        Deno.removeSync(p);
      }
      // The good image next to them still mounts.
      await mountDaemon(s);
      await ok(["umount", s.mnt]);
      await assertReleasedClean(s);
    }),
});
