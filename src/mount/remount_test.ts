/**
 * Remounts and mount options through a real mount (issue 9 §1): read-only
 * ↔ read-write with files open (EROFS while read-only, everything committed
 * before, the data intact after, a read-only engine reopened read-write),
 * the fstab-style generic options mount(8) hands mount.fuse3, and each atime
 * mode (relatime, strictatime, noatime, nodiratime) compared with ext4 on a
 * loop device.
 */
import * as P from "./_posix.ts";
import { mountImage, mountTest, superblockOf, unmount } from "./_testutil.ts";
import { parseMountOptions } from "./options.ts";
import { mountStates, MS, remountFlags } from "./remount.ts";
import { vexfsArgv } from "./self.ts";
import { Vexfs } from "../fs/fs.ts";
import { INCOMPAT_RECOVER, ROOT_INO, STATE_CLEAN } from "../format/constants.ts";
import { assertFsckClean, tmpImage } from "../fs/_testutil.ts";
import { FsError } from "../errors.ts";
import { getVector, setVector } from "../ioctl/client.ts";
import { assertEquals, assertStringIncludes } from "../test_assert.ts";

const dec = new TextDecoder();

const enc = new TextEncoder();

async function vexfs(args: string[]): Promise<{ code: number; stderr: string }> {
  const [exe, ...rest] = vexfsArgv(args);
  const o = await new Deno.Command(exe, { args: rest, stdin: "null", stdout: "piped", stderr: "piped" }).output();
  return { code: o.code, stderr: dec.decode(o.stderr) };
}

async function sh(cmd: string, args: string[], env?: Record<string, string>) {
  const o = await new Deno.Command(cmd, { args, env, stdin: "null", stdout: "piped", stderr: "piped" }).output();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

/**
 * Runs `f` again every 100 ms, for up to 5 s, while it fails with a message
 * matching `busy` (a release of descriptors just closed may still be on its
 * way to the daemon under load); returns its last result.
 */
async function whileBusy<T extends { code: number; stderr: string }>(busy: RegExp, f: () => Promise<T>): Promise<T> {
  let r = await f();
  for (let i = 0; i < 50 && r.code !== 0 && busy.test(r.stderr); i++) {
    await new Promise((res) => setTimeout(res, 100));
    r = await f();
  }
  return r;
}

async function waitFor(what: string, f: () => boolean, ms = 10_000): Promise<void> {
  for (let t = 0; t < ms; t += 50) {
    if (f()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const logText = (path: string) => {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
};

/** Waits until the daemon logged that it follows the `n`th remount. */
const followed = (log: string, n: number) =>
  waitFor(`remount ${n} in the daemon log`, () => (logText(log).match(/remounted: /g) ?? []).length >= n);
/** How many remounts to `mode` the daemon log records. */
const remountsTo = (log: string, mode: "ro" | "rw") =>
  (logText(log).match(new RegExp(` remounted: ${mode}\\b`, "g")) ?? []).length;

Deno.test("mount options: every generic mount(8) option is accepted; atime policy; remount", () => {
  const o = parseMountOptions([
    "defaults,async,sync,dirsync,atime,noatime,diratime,nodiratime,relatime,norelatime,strictatime,lazytime,nolazytime",
    "dev,nodev,exec,noexec,suid,nosuid,ro,rw,auto,noauto,user,nouser,users,group,owner,nofail,_netdev,x-systemd.auto",
    "comment=x,mand,nomand,iversion,noiversion,symfollow,nosymfollow,silent,loud",
  ]);
  assertEquals(o.atime, "strictatime");
  assertEquals([o.nodiratime, o.nosymfollow, o.readOnly, o.remount], [true, true, false, false]);
  assertEquals(o.vfsFlags.sort(), ["dirsync", "nodev", "noexec", "nosuid", "sync"]);
  assertEquals(parseMountOptions([]).atime, "relatime");
  assertEquals(parseMountOptions(["noatime"]).vfsFlags, ["noatime"]);
  assertEquals(parseMountOptions(["noatime,atime"]).atime, "relatime");
  assertEquals(parseMountOptions(["noatime,norelatime"]).atime, "noatime");
  // A remount accepts the mount's own options (mount(8) repeats them) and ignores them.
  assertEquals(parseMountOptions(["remount,ro,user_id=0,group_id=0,allow_other"]).remount, true);
  let err = "";
  try {
    parseMountOptions(["user_id=0"]);
  } catch (e) {
    err = String(e);
  }
  assertStringIncludes(err, "unknown mount option 'user_id=0'");
  // remountFlags keeps what is not given, as mount(8) does
  const cur = {
    id: "1",
    mountpoint: "/m",
    source: "s",
    fstype: "fuse.vexfs",
    options: ["rw", "nosuid", "nodiratime"],
    superOptions: ["rw", "user_id=0"],
    readOnly: false,
    atime: "strictatime" as const,
    nodiratime: true,
    line: "",
  };
  assertEquals(remountFlags(cur, ["remount,ro"]), MS.RDONLY | MS.NOSUID | MS.NODIRATIME | MS.STRICTATIME);
  assertEquals(remountFlags(cur, ["remount,suid,noatime,diratime"]), MS.NOATIME);
});

Deno.test({
  name: "remount: read-only with files open (written before; EROFS for every change; " +
    "refused while a file is open for writing; committed and marked clean before: kill -9 then needs no replay), read-write again, data intact",
  ...mountTest,
  fn: async () => {
    const dir = Deno.makeTempDirSync({ prefix: "vexfs-remount-" });
    const log = `${dir}/log`;
    const d = await mountImage({ options: `commit=0,log=${log}`, size: 64 << 20 });
    try {
      const a = `${d.mnt}/a.txt`;
      Deno.writeTextFileSync(a, "before\n");
      const rd = P.open(a, P.O_RDONLY);
      const wr = P.open(`${d.mnt}/w.txt`, P.O_WRONLY | P.O_CREAT);
      P.write(wr, enc.encode("written through an open descriptor\n"));
      // open for writing: the kernel refuses to go read-only (as for ext4)
      const busy = await vexfs(["mount", "-o", "remount,ro", d.mnt]);
      assertEquals(busy.code, 1, busy.stderr);
      assertStringIncludes(busy.stderr, "open for writing");
      P.close(wr);
      // the writer's release may still be on its way (the kernel counts it open for writing until then)
      const r = await whileBusy(/open for writing/, () => vexfs(["mount", "-o", "remount,ro", d.mnt]));
      assertEquals(r.code, 0, r.stderr);
      assertEquals(mountStates().find((m) => m.mountpoint === d.mnt)?.readOnly, true);
      await followed(log, 1);
      assertEquals(P.res(() => P.open(`${d.mnt}/b`, P.O_WRONLY | P.O_CREAT)), "EROFS");
      assertEquals(P.res(() => P.open(a, P.O_WRONLY)), "EROFS");
      assertEquals(P.res(() => P.mkdir(`${d.mnt}/dir`)), "EROFS");
      assertEquals(P.res(() => P.unlink(a)), "EROFS");
      assertEquals(dec.decode(P.pread(rd, 100, 0)), "before\n", "the descriptor open before still reads");
      // mount(8)'s own spelling works too (the flags are the kernel's: no vexfs helper on mount(8)'s PATH here)
      const again = await sh("mount", ["-i", "-o", "remount,ro", d.mnt]);
      assertEquals(again.code, 0, again.stderr);
      // back to read-write; the old descriptor still works, new writes land
      const rwBefore = remountsTo(log, "rw");
      const rw = await vexfs(["mount", "-o", "remount,rw", d.mnt]);
      assertEquals(rw.code, 0, rw.stderr);
      await waitFor("read-write", () => remountsTo(log, "rw") > rwBefore);
      Deno.writeTextFileSync(a, "after\n", { append: true });
      assertEquals(dec.decode(P.pread(rd, 100, 0)), "before\nafter\n");
      P.close(rd);
      // read-only once more, then kill -9: commit=0 commits only on fsync/unmount, so
      // the files' presence in the image proves that going read-only committed everything
      Deno.writeTextFileSync(`${d.mnt}/c.txt`, "committed by the remount\n");
      // (counted: the log's last lines may still hold the first remount read-only)
      const roBefore = remountsTo(log, "ro");
      const ro = await whileBusy(/open for writing/, () => vexfs(["mount", "-o", "remount,ro", d.mnt]));
      assertEquals(ro.code, 0, ro.stderr);
      await waitFor("ro", () => remountsTo(log, "ro") > roBefore);
      d.child.kill("SIGKILL");
      await d.child.status;
      await sh("fusermount3", ["-u", "-z", d.mnt]);
      // and, as ext4's remount read-only, the superblock was marked clean and the journal closed
      const sb = superblockOf(d.img);
      assertEquals(sb.state, STATE_CLEAN, "superblock state after kill -9 while read-only");
      assertEquals(sb.featureIncompat & INCOMPAT_RECOVER, 0, "no journal replay needed");
      const fs = Vexfs.open(d.img, { readOnly: true });
      try {
        const read = (p: string) => dec.decode(fs.read(fs.resolve(p), 0, 1000));
        assertEquals(read("/a.txt"), "before\nafter\n");
        assertEquals(read("/w.txt"), "written through an open descriptor\n");
        assertEquals(read("/c.txt"), "committed by the remount\n");
      } finally {
        fs.close();
      }
      assertFsckClean(d.img);
    } finally {
      await sh("fusermount3", ["-u", "-z", d.mnt]);
      try {
        Deno.removeSync(d.mnt);
      } catch { /* busy */ }
      Deno.removeSync(d.img);
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "remount: a read-only mount made read-write through mount.fuse3 (what mount(8) runs for " +
    "'mount -o remount,rw') reopens the engine with files open; fstab-style options are accepted",
  ...mountTest,
  ignore: mountTest.ignore || !mountFuse3(),
  fn: async () => {
    const dir = Deno.makeTempDirSync({ prefix: "vexfs-remount-" });
    const img = `${dir}/img`;
    const mnt = `${dir}/m`;
    Deno.mkdirSync(mnt);
    assertEquals((await vexfs(["mkfs", "-s", "64M", img])).code, 0);
    const pre = Vexfs.open(img);
    pre.writeSome(pre.create(ROOT_INO, "old.txt"), 0, enc.encode("made before the mount\n"));
    pre.close();
    const bin = `${dir}/bin`;
    Deno.mkdirSync(bin);
    const q = (x: string) => `'${x.replaceAll("'", `'\\''`)}'`;
    Deno.writeTextFileSync(`${bin}/vexfs`, `#!/bin/sh\nexec ${vexfsArgv([]).map(q).join(" ")} "$@"\n`, {
      mode: 0o755,
    });
    const env = { PATH: `${bin}:${Deno.env.get("PATH")}` };
    const helper = (opts: string) => sh(mountFuse3()!, [img, mnt, "-t", "vexfs", "-o", opts], env);
    const log = `${dir}/log`;
    try {
      const m = await helper(
        `defaults,ro,nodiratime,noauto,nofail,_netdev,x-systemd.automount,lazytime,users,comment=x,log=${log}`,
      );
      assertEquals(m.code, 0, m.stderr);
      const st = mountStates().find((s) => s.mountpoint === mnt)!;
      assertEquals([st.readOnly, st.nodiratime, st.atime], [true, true, "relatime"]);
      assertEquals(P.res(() => P.open(`${mnt}/x`, P.O_WRONLY | P.O_CREAT)), "EROFS");
      const old = P.open(`${mnt}/old.txt`, P.O_RDONLY); // held open across the engine's reopen
      // as mount(8) calls the helper for a remount: the mount's options repeated
      const r = await helper("remount,rw,user_id=0,group_id=0,default_permissions,dev,suid");
      assertEquals(r.code, 0, r.stderr);
      await followed(log, 1);
      assertStringIncludes(logText(log), "remounted: rw,relatime,nodiratime");
      Deno.writeTextFileSync(`${mnt}/x`, "now writable\n");
      assertEquals(dec.decode(P.pread(old, 100, 0)), "made before the mount\n");
      P.close(old);
      assertEquals(Deno.readTextFileSync(`${mnt}/x`), "now writable\n");
      // a release of the descriptors just closed may still be on its way to the daemon: busy for a moment
      const um = await whileBusy(/busy/i, () => sh("umount", [mnt]));
      assertEquals(um.code, 0, um.stderr);
      await waitFor("the daemon to finish", () => /is clean/.test(logText(log)));
      const fs = Vexfs.open(img, { readOnly: true });
      try {
        assertEquals(dec.decode(fs.read(fs.resolve("/x"), 0, 100)), "now writable\n");
      } finally {
        fs.close();
      }
      assertFsckClean(img);
    } finally {
      await sh("fusermount3", ["-u", "-z", mnt]);
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

function mountFuse3(): string | null {
  for (const p of ["/sbin/mount.fuse3", "/usr/sbin/mount.fuse3"]) {
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch { /* next */ }
  }
  return null;
}

// ------------------------------------------------------------------ atime as on ext4

/** Runs the atime scenario in `root` and returns, step by step, whether each watched atime changed. */
async function atimeScenario(root: string): Promise<Record<string, boolean>> {
  const f = `${root}/run.sh`;
  const d = `${root}/d`;
  Deno.writeTextFileSync(f, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  Deno.mkdirSync(d);
  Deno.writeTextFileSync(`${d}/x`, "x");
  const l = `${root}/link`;
  Deno.symlinkSync("run.sh", l);
  const atime = (p: string) => P.lstat(p).atimeNs;
  const out: Record<string, boolean> = {};
  const step = async (name: string, p: string, act: () => unknown | Promise<unknown>) => {
    await new Promise((r) => setTimeout(r, 30));
    const before = atime(p);
    await act();
    out[name] = atime(p) !== before;
  };
  const readdir = () => [...Deno.readDirSync(d)];
  await step("first read", f, () => Deno.readFileSync(f));
  await step("second read", f, () => Deno.readFileSync(f));
  await step("first readdir", d, readdir);
  await step("second readdir", d, readdir);
  Deno.writeTextFileSync(f, "#!/bin/sh\nexit 0\n");
  await step("exec after a write", f, async () => assertEquals((await sh(f, [])).code, 0));
  await step("exec again", f, async () => assertEquals((await sh(f, [])).code, 0));
  Deno.writeTextFileSync(`${d}/y`, "y");
  await step("readdir after a change", d, readdir);
  await step("first readlink", l, () => Deno.readLinkSync(l));
  await step("second readlink", l, () => Deno.readLinkSync(l));
  return out;
}

for (const mode of ["relatime", "strictatime", "noatime", "nodiratime"]) {
  Deno.test({
    name: `atime: ${mode} updates atime on read, readdir and exec as ext4 does`,
    ...mountTest,
    ignore: mountTest.ignore || (await sh("which", ["mkfs.ext4"]).catch(() => ({ code: 1 }))).code !== 0,
    fn: async () => {
      const dir = Deno.makeTempDirSync({ prefix: "vexfs-atime-" });
      const extImg = `${dir}/ext4.img`;
      const ext = `${dir}/ext4`;
      Deno.mkdirSync(ext);
      const f = Deno.openSync(extImg, { write: true, create: true });
      f.truncateSync(32 << 20);
      f.close();
      assertEquals((await sh("mkfs.ext4", ["-q", "-F", extImg])).code, 0);
      const m = await sh("mount", ["-o", `loop,${mode}`, extImg, ext]);
      assertEquals(m.code, 0, m.stderr);
      let want: Record<string, boolean>;
      try {
        want = await atimeScenario(ext);
      } finally {
        await sh("umount", [ext]);
      }
      // what ext4 does, spelled out (the scenario's steps in order)
      const reads = mode === "noatime" ? [false, false] : [true, mode === "strictatime"];
      const dirs = mode === "noatime" || mode === "nodiratime" ? [false, false, false] : [
        true,
        mode === "strictatime",
        true,
      ];
      assertEquals(want, {
        "first read": reads[0],
        "second read": reads[1],
        "first readdir": dirs[0],
        "second readdir": dirs[1],
        "exec after a write": reads[0],
        "exec again": reads[1],
        "readdir after a change": dirs[2],
        "first readlink": reads[0],
        "second readlink": reads[1],
      }, `${mode} on ext4`);
      const d = await mountImage({ options: `${mode},attr_timeout=0,entry_timeout=0`, size: 64 << 20 });
      try {
        const got = await atimeScenario(d.mnt);
        assertEquals(got, want, `${mode}: VexFS (got) against ext4 (want)`);
      } finally {
        await unmount(d);
        Deno.removeSync(d.img);
        Deno.removeSync(dir, { recursive: true });
      }
    },
  });
}

Deno.test({
  name: "remount: read-only refuses the vector ioctls (which the kernel lets through on a read-only open) " +
    "with EROFS; read-write takes them again",
  ...mountTest,
  fn: async () => {
    const img = tmpImage(64 << 20);
    const pre = Vexfs.open(img);
    const c = pre.mkdir(ROOT_INO, "c");
    pre.collections.create(c, { dim: 3, metric: "l2", elem: "f32" });
    pre.create(c, "a");
    pre.close();
    const dir = Deno.makeTempDirSync({ prefix: "vexfs-remount-" });
    const log = `${dir}/log`;
    const d = await mountImage({ image: img, options: `log=${log}` });
    try {
      const a = `${d.mnt}/c/a`;
      await setVector(a, new Float32Array([1, 2, 3]));
      assertEquals((await vexfs(["mount", "-o", "remount,ro", d.mnt])).code, 0);
      await followed(log, 1);
      let code = "";
      try {
        await setVector(a, new Float32Array([4, 5, 6]));
      } catch (e) {
        code = e instanceof FsError ? e.code : String(e);
      }
      assertEquals(code, "EROFS");
      assertEquals([...(await getVector(a))!.vector], [1, 2, 3]);
      assertEquals((await vexfs(["mount", "-o", "remount,rw", d.mnt])).code, 0);
      await followed(log, 2);
      await setVector(a, new Float32Array([4, 5, 6]));
      assertEquals([...(await getVector(a))!.vector], [4, 5, 6]);
      await unmount(d);
      assertFsckClean(img);
    } finally {
      await sh("fusermount3", ["-u", "-z", d.mnt]);
      try {
        Deno.removeSync(d.mnt);
      } catch { /* removed by unmount */ }
      Deno.removeSync(img);
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "mount(8) itself: 'mount -t fuse.vexfs' with fstab options, 'mount -o remount,ro' and " +
    "'mount -o remount,rw,strictatime' (vexfs on mount(8)'s PATH, in a private mount namespace)",
  ...mountTest,
  ignore: mountTest.ignore || !mountFuse3() || (await sh("which", ["unshare"]).catch(() => ({ code: 1 }))).code !== 0,
  fn: async () => {
    const dir = Deno.makeTempDirSync({ prefix: "vexfs-mount8-" });
    try {
      Deno.mkdirSync(`${dir}/bin`);
      Deno.mkdirSync(`${dir}/m`);
      const q = (x: string) => `'${x.replaceAll("'", `'\\''`)}'`;
      Deno.writeTextFileSync(`${dir}/bin/vexfs`, `#!/bin/sh\nexec ${vexfsArgv([]).map(q).join(" ")} "$@"\n`, {
        mode: 0o755,
      });
      assertEquals((await vexfs(["mkfs", "-s", "64M", `${dir}/img`])).code, 0);
      // /usr/local/bin (on mount(8)'s PATH) holds vexfs only inside this namespace
      const script = `
        set -e
        D=${q(dir)}
        mount --bind "$D/bin" /usr/local/bin
        mount -t fuse.vexfs -o defaults,nodiratime,noauto,nofail,_netdev,x-systemd.automount,log="$D/log" "$D/img" "$D/m"
        echo first > "$D/m/a"
        exec 5<"$D/m/a"
        mount -o remount,ro "$D/m"
        grep " $D/m " /proc/self/mountinfo | cut -d' ' -f6 | sed 's/^/ro-flags: /'
        if echo no > "$D/m/b" 2>/dev/null; then echo "ro-write: ok"; else echo "ro-write: refused"; fi
        mount -o remount,rw,strictatime "$D/m"
        grep " $D/m " /proc/self/mountinfo | cut -d' ' -f6 | sed 's/^/rw-flags: /'
        # the daemon learns of a remount from mountinfo within 0.2 s (src/mount/remount.ts): wait for it
        for i in $(seq 1 50); do grep -q "remounted: rw,strictatime" "$D/log" && break; sleep 0.1; done
        echo second >> "$D/m/a"
        cat <&5 | tr '\\n' ' ' | sed 's/^/contents: /'; echo
        exec 5<&-
        umount "$D/m"
      `;
      const r = await sh("unshare", ["-m", "--propagation", "private", "sh", "-c", script]);
      assertEquals(r.code, 0, r.stderr + r.stdout);
      assertStringIncludes(r.stdout, "ro-flags: ro,nodiratime,relatime\n");
      assertStringIncludes(r.stdout, "ro-write: refused\n");
      assertStringIncludes(r.stdout, "rw-flags: rw,nodiratime\n"); // strictatime: neither relatime nor noatime
      assertStringIncludes(r.stdout, "contents: first second \n");
      await waitFor("the daemon to finish", () => /is clean/.test(logText(`${dir}/log`)));
      assertStringIncludes(logText(`${dir}/log`), "remounted: rw,strictatime,nodiratime");
      assertFsckClean(`${dir}/img`);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "atime: relatime also updates an atime more than 24 h old though it is later than mtime and ctime " +
    "(ext4's relatime_need_update), and leaves a recent one",
  ...mountTest,
  fn: async () => {
    const img = tmpImage(64 << 20);
    const fs = Vexfs.open(img);
    const now = Math.floor(Date.now() / 1000);
    for (const [name, age] of [["old", 25 * 3600], ["recent", 3600]] as const) {
      const ino = fs.create(ROOT_INO, name);
      fs.writeSome(ino, 0, enc.encode(name)); // an empty file sends no read: the kernel answers it alone
      const n = fs.iget(ino);
      n.d.mtime = n.d.ctime = { sec: now - age - 3600, nsec: 0 };
      n.d.atime = { sec: now - age, nsec: 0 };
      fs.dirty(n);
    }
    fs.close();
    const d = await mountImage({ image: img, options: "attr_timeout=0,entry_timeout=0" });
    try {
      const before = (p: string) => P.stat(`${d.mnt}/${p}`).atimeNs;
      const [old, recent] = [before("old"), before("recent")];
      Deno.readFileSync(`${d.mnt}/old`);
      Deno.readFileSync(`${d.mnt}/recent`);
      const after = P.stat(`${d.mnt}/old`).atimeNs;
      assertEquals(after !== old && after / 1_000_000_000n >= BigInt(now), true, `old: ${old} -> ${after}`);
      assertEquals(P.stat(`${d.mnt}/recent`).atimeNs, recent);
    } finally {
      await unmount(d);
      assertFsckClean(img);
      Deno.removeSync(img);
    }
  },
});
