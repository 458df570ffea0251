/**
 * Real FUSE mounts of the in-memory test filesystem (_memfs.ts), exercised
 * only from subprocesses (never with sync calls from this thread, which
 * serves the mount). Needs root or fusermount3, /dev/fuse, and the Debian
 * packages fuse3, libfuse3-3, attr (setfattr/getfattr) and python3.
 */
import { assert, assertEquals, assertStringIncludes } from "../test_assert.ts";
import { createMemFs, IOCTL_SUM_PRODUCT } from "./_memfs.ts";
import { type FuseMount, fuseVersion, mountFuse } from "./session.ts";

const dec = new TextDecoder();

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

async function sh(cmd: string): Promise<Out> {
  const o = await new Deno.Command("sh", {
    args: ["-c", cmd],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: o.code,
    stdout: dec.decode(o.stdout),
    stderr: dec.decode(o.stderr),
  };
}

/** Run and require success; returns stdout. */
async function ok(cmd: string): Promise<string> {
  const o = await sh(cmd);
  assertEquals(o.code, 0, `'${cmd}' failed: ${o.stderr}`);
  return o.stdout;
}

/** Run and require failure with `msg` in stderr. */
async function fails(cmd: string, msg: string): Promise<void> {
  const o = await sh(cmd);
  assert(o.code !== 0, `'${cmd}' should fail, got: ${o.stdout}`);
  assertStringIncludes(o.stderr, msg, cmd);
}

async function isMounted(path: string): Promise<boolean> {
  const info = await Deno.readTextFile("/proc/self/mountinfo");
  return info.split("\n").some((l) => l.split(" ")[4] === path);
}

async function withTimeout<T>(
  p: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let t: number | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, rej) => {
        t = setTimeout(() => rej(new Error(`timeout: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(t);
  }
}

async function precheck(): Promise<void> {
  try {
    await Deno.stat("/dev/fuse");
  } catch {
    throw new Error(
      "/dev/fuse is missing: load the fuse module / run with a FUSE-capable container",
    );
  }
  fuseVersion(); // throws with "apt-get install -y fuse3 libfuse3-3" if missing
  for (
    const [tool, pkg] of [["fusermount3", "fuse3"], ["setfattr", "attr"], [
      "python3",
      "python3",
    ]]
  ) {
    const o = await sh(`command -v ${tool}`);
    if (o.code !== 0) {
      throw new Error(`${tool} not found: apt-get install -y ${pkg}`);
    }
  }
}

async function cleanup(mnt: string, m?: FuseMount): Promise<void> {
  if (await isMounted(mnt)) await sh(`fusermount3 -u -z '${mnt}'`);
  if (m) await withTimeout(m.closed, 10000, "closed after cleanup");
  await Deno.remove(mnt, { recursive: true }).catch(() => {});
}

Deno.test({
  name: "fuse session: memfs mounted and used from subprocesses",
  sanitizeResources: false, // libfuse/libc stay dlopen'ed for the process
  async fn() {
    await precheck();
    const mnt = await Deno.makeTempDir({ prefix: "vexfs-fuse-" });
    const scratch = await Deno.makeTempDir({ prefix: "vexfs-scratch-" });
    let m: FuseMount | undefined;
    const errors: string[] = [];
    try {
      m = mountFuse(createMemFs(), mnt, {
        options: ["fsname=memfs", "subtype=memfs", "default_permissions"],
        onError: (e, op) => errors.push(`${op}: ${e}`),
      });
      assert(await isMounted(mnt), "mounted");

      // Listing, reading, stat.
      assertEquals(
        (await ok(`ls -1a '${mnt}'`)).trim().split("\n").sort(),
        [".", "..", "data.bin", "hello.txt"],
      );
      assertEquals(await ok(`cat '${mnt}/hello.txt'`), "hello world\n");
      assertEquals(
        await ok(`od -An -tu1 '${mnt}/data.bin' | tr -s ' '`),
        " 0 1 2 3 255\n",
      );
      assertEquals(
        (await ok(`stat -c '%s %a %F %i' '${mnt}/hello.txt'`)).trim(),
        "12 644 regular file 2",
      );

      // create + write + append + read back.
      await ok(`echo hi > '${mnt}/f'`);
      assertEquals(await ok(`cat '${mnt}/f'`), "hi\n");
      await ok(`echo more >> '${mnt}/f'`);
      assertEquals(await ok(`cat '${mnt}/f'`), "hi\nmore\n");

      // A multi-request file (many WRITE and READ requests, batching).
      await ok(`head -c 700000 /dev/urandom > '${scratch}/big'`);
      await ok(`cp '${scratch}/big' '${mnt}/big'`);
      await ok(`cmp '${scratch}/big' '${mnt}/big'`);
      assertEquals((await ok(`stat -c %s '${mnt}/big'`)).trim(), "700000");

      // setattr: truncate, chmod, utimens.
      await ok(`truncate -s 5 '${mnt}/hello.txt'`);
      assertEquals(await ok(`cat '${mnt}/hello.txt'`), "hello");
      await ok(`chmod 600 '${mnt}/f'`);
      assertEquals((await ok(`stat -c %a '${mnt}/f'`)).trim(), "600");
      await ok(`touch -d '2001-02-03 04:05:06.5 UTC' '${mnt}/f'`);
      assertEquals((await ok(`stat -c %Y '${mnt}/f'`)).trim(), "981173106");

      // mkdir, nested files, rm, rmdir.
      await ok(`mkdir '${mnt}/d'`);
      assertEquals((await ok(`stat -c %F '${mnt}/d'`)).trim(), "directory");
      await ok(`echo x > '${mnt}/d/y'`);
      assertEquals(await ok(`cat '${mnt}/d/y'`), "x\n");
      await fails(`rmdir '${mnt}/d'`, "not empty");
      await ok(`rm '${mnt}/d/y'`);
      await ok(`rmdir '${mnt}/d'`);
      await ok(`rm '${mnt}/f'`);
      await fails(`cat '${mnt}/f'`, "No such file");
      assertEquals(
        (await ok(`ls -1 '${mnt}'`)).trim().split("\n").sort(),
        ["big", "data.bin", "hello.txt"],
      );

      // statfs.
      assertEquals(
        (await ok(`stat -f -c '%S %b %f %l' '${mnt}'`)).trim(),
        "4096 1000 600 255",
      );

      // xattrs.
      await ok(`setfattr -n user.color -v blue '${mnt}/hello.txt'`);
      await ok(`setfattr -n user.size -v 42 '${mnt}/hello.txt'`);
      assertEquals(
        await ok(`getfattr --only-values -n user.color '${mnt}/hello.txt'`),
        "blue",
      );
      const dump = await ok(`getfattr -d '${mnt}/hello.txt'`);
      assertStringIncludes(dump, 'user.color="blue"');
      assertStringIncludes(dump, 'user.size="42"');
      await ok(`setfattr -x user.color '${mnt}/hello.txt'`);
      await fails(
        `getfattr -n user.color '${mnt}/hello.txt'`,
        "No such attribute",
      );

      // Handler errors reach the caller as errno; the daemon keeps going.
      await fails(`stat '${mnt}/eacces'`, "Permission denied");
      await fails(`stat '${mnt}/crash'`, "Input/output error");
      await fails(`stat '${mnt}/async-fail'`, "Operation not supported");
      await fails(`mkdir '${mnt}/hello.txt'`, "File exists");
      assertEquals(await ok(`cat '${mnt}/hello.txt'`), "hello");
      assertEquals(errors.length, 1, errors.join("\n"));
      assertStringIncludes(errors[0], "simulated handler bug");

      // Restricted ioctl round trip: _IOWR('V', 1, struct { u32 a, b; }).
      const py = [
        "import fcntl, os, struct, sys",
        "fd = os.open(sys.argv[1], os.O_RDWR)",
        "buf = bytearray(struct.pack('<II', 6, 7))",
        `r = fcntl.ioctl(fd, ${IOCTL_SUM_PRODUCT}, buf, True)`,
        "print(r, *struct.unpack('<II', buf))",
        "try:",
        `    fcntl.ioctl(fd, ${IOCTL_SUM_PRODUCT + 1}, bytearray(8), True)`,
        "except OSError as e:",
        "    print('err', e.errno)",
      ].join("\n");
      assertEquals(
        await ok(`python3 -c "${py}" '${mnt}/hello.txt'`),
        "3 13 42\nerr 25\n",
      );

      // Clean shutdown on an external `fusermount3 -u`.
      await ok(`fusermount3 -u '${mnt}'`);
      await withTimeout(m.closed, 10000, "session end after fusermount3 -u");
      assert(!(await isMounted(mnt)), "unmounted");
      await m.unmount(); // idempotent after the fact
    } finally {
      await cleanup(mnt, m);
      await Deno.remove(scratch, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "fuse session: readdirplus, mount options, bad options",
  sanitizeResources: false,
  async fn() {
    await precheck();
    const mnt = await Deno.makeTempDir({ prefix: "vexfs-fuse-" });
    let m: FuseMount | undefined;
    try {
      let threw = false;
      try {
        mountFuse(createMemFs(), mnt, { options: ["no_such_option_xyz"] });
      } catch (e) {
        threw = true;
        assertStringIncludes(String(e), "fuse_session_new failed");
      }
      assert(threw, "unknown mount option must throw");
      assert(!(await isMounted(mnt)), "not mounted after failure");

      const fs = createMemFs({ readdirplus: true });
      m = mountFuse(fs, mnt, {
        options: [
          "ro",
          "fsname=memfs-ro",
          "subtype=memfs",
          "default_permissions",
          "allow_other",
        ],
      });
      const line = (await Deno.readTextFile("/proc/self/mountinfo"))
        .split("\n").find((l) => l.split(" ")[4] === mnt) ?? "";
      assertStringIncludes(line, " ro,");
      assertStringIncludes(line, " fuse.memfs memfs-ro ");
      assertStringIncludes(line, "allow_other");
      assertEquals(
        (await ok(`ls -1 '${mnt}'`)).trim().split("\n").sort(),
        ["data.bin", "hello.txt"],
      );
      assertEquals(
        (await ok(`stat -c '%s' '${mnt}/hello.txt'`)).trim(),
        "12",
      );
      assert(fs.plusCalls > 0, "readdirplus was used");
      await fails(`sh -c "echo x > '${mnt}/new'"`, "Read-only file system");
      await withTimeout(m.unmount(), 10000, "unmount");
    } finally {
      await cleanup(mnt, m);
    }
  },
});

Deno.test({
  name: "fuse session: unmount() while busy falls back to a forced detach",
  sanitizeResources: false,
  async fn() {
    await precheck();
    const mnt = await Deno.makeTempDir({ prefix: "vexfs-fuse-" });
    let m: FuseMount | undefined;
    let holder: Deno.ChildProcess | undefined;
    try {
      m = mountFuse(createMemFs(), mnt, { options: ["fsname=memfs"] });
      // Plain unmount of an idle mount.
      assertEquals(await ok(`cat '${mnt}/hello.txt'`), "hello world\n");
      await withTimeout(m.unmount(), 10000, "unmount idle");
      assert(!(await isMounted(mnt)), "unmounted (idle)");

      // Busy mount: a shell with its cwd inside keeps it busy → EBUSY → forced.
      m = mountFuse(createMemFs(), mnt, { options: ["fsname=memfs"] });
      holder = new Deno.Command("sh", {
        args: ["-c", `cd '${mnt}' && echo in && exec sleep 30`],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const reader = holder.stdout.getReader();
      assertEquals(dec.decode((await reader.read()).value), "in\n");
      reader.releaseLock();
      await withTimeout(m.unmount(), 15000, "unmount busy");
      assert(!(await isMounted(mnt)), "detached (busy)");
    } finally {
      if (holder) {
        holder.kill("SIGKILL");
        await holder.status;
        await holder.stdout.cancel().catch(() => {});
      }
      await cleanup(mnt, m);
    }
  },
});

Deno.test({
  name: "fuse session: SIGTERM and SIGINT unmount a daemon process cleanly",
  async fn() {
    await precheck();
    for (const sig of ["SIGTERM", "SIGINT"] as const) {
      const mnt = await Deno.makeTempDir({ prefix: "vexfs-fuse-" });
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("./_memfs_main.ts", import.meta.url).pathname,
          mnt,
        ],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      try {
        const reader = child.stdout.getReader();
        let out = "";
        while (!out.includes("ready")) {
          const r = await withTimeout(reader.read(), 20000, "daemon ready");
          if (r.done) break;
          out += dec.decode(r.value);
        }
        assertStringIncludes(out, "ready");
        assertEquals(await ok(`cat '${mnt}/hello.txt'`), "hello world\n");
        child.kill(sig);
        while (true) {
          const r = await withTimeout(reader.read(), 20000, "daemon exit");
          if (r.done) break;
          out += dec.decode(r.value);
        }
        const st = await child.status;
        assertEquals(st.code, 0, `${sig}: exit code`);
        assertStringIncludes(out, "closed");
        assert(!(await isMounted(mnt)), `${sig}: unmounted`);
      } finally {
        try {
          child.kill("SIGKILL");
        } catch { /* already exited */ }
        await child.status;
        await child.stderr.cancel().catch(() => {});
        await cleanup(mnt);
      }
    }
  },
});
