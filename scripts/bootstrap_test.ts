/**
 * How scripts/bootstrap.sh (`npm test`, `npm run demo`, the README's
 * commands) launches Deno: the real binary, by `exec`, so that a Deno killed
 * by a signal is reported as killed (exit 128+N to a shell) and a signal sent
 * to the launcher reaches Deno, here a foreground `vexfs mount --foreground` daemon.
 * npm's wrapper node_modules/.bin/deno did neither: it exited 0 when Deno
 * died on SIGKILL and left the daemon running when it got SIGTERM.
 *
 * The tests run bootstrap.sh itself, so they only run where it has nothing
 * left to install (the npm packages match package-lock.json, FUSE is there),
 * as after `npm test` has bootstrapped the machine.
 */
import { STATE_CLEAN } from "../src/format/constants.ts";
import { mkfs } from "../src/fs/mkfs.ts";
import { assertFsckClean } from "../src/fs/_testutil.ts";
import { CAN_MOUNT } from "../src/mount/_testutil.ts";
import { findMount } from "../src/mount/unmount.ts";
import { Vexfs } from "../src/fs/fs.ts";
import { assert, assertEquals, assertStringIncludes } from "../src/test_assert.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const BOOTSTRAP = `${ROOT}/scripts/bootstrap.sh`;
const dec = new TextDecoder();

function sameBytes(a: string, b: string): boolean {
  try {
    const x = Deno.readFileSync(a), y = Deno.readFileSync(b);
    return x.length === y.length && x.every((v, i) => v === y[i]);
  } catch {
    return false;
  }
}

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

function onPath(cmd: string): boolean {
  return (Deno.env.get("PATH") ?? "").split(":").some((d) => d && exists(`${d}/${cmd}`));
}

/** bootstrap.sh would install nothing (npm packages as locked, the real Deno binary there). */
const NPM_READY = sameBytes(`${ROOT}/package-lock.json`, `${ROOT}/node_modules/.vexfs-lock-stamp`) &&
  exists(`${ROOT}/node_modules/deno/deno`);
/** ... nor Debian packages for `vexfs` (FUSE), and mounts work here. */
const MOUNT_READY = NPM_READY && CAN_MOUNT && onPath("fusermount3") &&
  exists("/usr/lib/x86_64-linux-gnu/libfuse3.so.3");

const npmTest = { ignore: !NPM_READY, sanitizeResources: false, sanitizeOps: false };
const mountTest = { ignore: !MOUNT_READY, sanitizeResources: false, sanitizeOps: false };

function bootstrap(args: string[]): Deno.ChildProcess {
  return new Deno.Command("bash", {
    args: [BOOTSTRAP, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
}

async function waitFor(what: string, cond: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** Live processes whose command line names `mnt` (the daemon, and anything between it and the launcher). */
function processesOn(mnt: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    try {
      const argv = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0");
      if (argv.includes(mnt) && alive(Number(e.name))) out.push(Number(e.name));
    } catch { /* gone */ }
  }
  return out;
}

function sbState(img: string): number {
  const fs = Vexfs.open(img, { readOnly: true });
  try {
    return fs.stateAtOpen;
  } finally {
    fs.close();
  }
}

Deno.test({
  name: "bootstrap.sh runs the real Deno binary in its own process: exit codes and SIGKILL come through",
  ...npmTest,
  fn: async () => {
    // the launcher is Deno itself (exec): same pid, the binary npm installs, not a script
    const who = bootstrap(["deno", "eval", "console.log(Deno.pid, Deno.execPath())"]);
    const out = await who.output();
    assertEquals(out.code, 0, dec.decode(out.stderr));
    const [pid, exe] = dec.decode(out.stdout).trim().split(" ");
    assertEquals(Number(pid), who.pid, "no process between the launcher and Deno");
    assertEquals(Deno.realPathSync(exe), Deno.realPathSync(`${ROOT}/node_modules/deno/deno`));
    const head = new Uint8Array(2);
    const f = Deno.openSync(exe);
    f.readSync(head);
    f.close();
    assert(dec.decode(head) !== "#!", "a binary, not npm's wrapper script");
    // an exit status passes through
    assertEquals((await bootstrap(["deno", "eval", "Deno.exit(3)"]).output()).code, 3);
    // a Deno killed by SIGKILL is reported as killed by SIGKILL (npm's wrapper said exit 0)
    const st = await bootstrap(["deno", "eval", "Deno.kill(Deno.pid, 'SIGKILL')"]).status;
    assertEquals([st.success, st.signal], [false, "SIGKILL"]);
    assertEquals(st.code, 137);
    // ... and a shell running it sees 137
    const sh = await new Deno.Command("bash", {
      args: ["-c", `bash ${BOOTSTRAP} deno eval "Deno.kill(Deno.pid, 'SIGKILL')"; echo "status $?"`],
      stdout: "piped",
      stderr: "null",
    }).output();
    assertStringIncludes(dec.decode(sh.stdout), "status 137");
  },
});

Deno.test({
  name: "bootstrap.sh finds the platform package's binary when node_modules/deno/deno is missing, never a script",
  ...npmTest,
  fn: async () => {
    const dir = Deno.makeTempDirSync({ prefix: "vexfs-bootstrap-repo-" });
    try {
      // a checkout whose npm packages are installed, but where the deno package's postinstall did not run
      Deno.mkdirSync(`${dir}/scripts`);
      Deno.copyFileSync(BOOTSTRAP, `${dir}/scripts/bootstrap.sh`);
      Deno.copyFileSync(`${ROOT}/package-lock.json`, `${dir}/package-lock.json`);
      const platform = `linux-${Deno.build.arch === "aarch64" ? "arm64" : "x64"}-glibc`;
      Deno.mkdirSync(`${dir}/node_modules/deno`, { recursive: true });
      Deno.mkdirSync(`${dir}/node_modules/@deno/${platform}`, { recursive: true });
      Deno.mkdirSync(`${dir}/node_modules/.bin`);
      Deno.copyFileSync(`${ROOT}/package-lock.json`, `${dir}/node_modules/.vexfs-lock-stamp`);
      Deno.symlinkSync(
        Deno.realPathSync(`${ROOT}/node_modules/deno/deno`),
        `${dir}/node_modules/@deno/${platform}/deno`,
      );
      // npm's wrapper is there, and would say "killed" as exit 0: it must not be picked
      Deno.writeTextFileSync(`${dir}/node_modules/deno/bin.cjs`, "#!/usr/bin/env node\nprocess.exitCode = 0;\n");
      Deno.chmodSync(`${dir}/node_modules/deno/bin.cjs`, 0o755);
      Deno.symlinkSync("../deno/bin.cjs", `${dir}/node_modules/.bin/deno`);
      const run = (script: string) =>
        new Deno.Command("bash", {
          args: [`${dir}/scripts/bootstrap.sh`, "deno", "eval", script],
          stdout: "piped",
          stderr: "piped",
        }).output();
      const o = await run("console.log('real deno', Deno.version.deno)");
      assertEquals(o.code, 0, dec.decode(o.stderr));
      assertStringIncludes(dec.decode(o.stdout), "real deno");
      assertStringIncludes(dec.decode(o.stderr), `using node_modules/@deno/${platform}/deno`);
      const k = await run("Deno.kill(Deno.pid, 'SIGKILL')");
      assertEquals([k.signal, k.code], ["SIGKILL", 137]);
      // a script in place of node_modules/deno/deno (as the wrapper is) is not taken for the binary either
      Deno.writeTextFileSync(`${dir}/node_modules/deno/deno`, "#!/bin/sh\nexit 0\n");
      Deno.chmodSync(`${dir}/node_modules/deno/deno`, 0o755);
      const w = await run("Deno.kill(Deno.pid, 'SIGKILL')");
      assertEquals([w.signal, w.code], ["SIGKILL", 137]);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test("no script, task or README command goes through node_modules/.bin/deno", () => {
  // `deno task` resolves a bare `deno` to node_modules/.bin/deno (npm's wrapper), so no task may use one.
  const tasks = JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`)).tasks as Record<string, string>;
  for (const [name, cmd] of Object.entries(tasks)) {
    assert(cmd.startsWith("./node_modules/deno/deno "), `task ${name} runs the real binary: ${cmd}`);
  }
  const runs = /\.bin\/deno\b["'`]?\s+(task|run|test|eval|check|compile)\b|=\S*\.bin\/deno\b/;
  for (const f of ["README.md", "scripts/bootstrap.sh", "package.json", ".ci/run"]) {
    const uses = Deno.readTextFileSync(`${ROOT}/${f}`).split("\n").filter((l) => runs.test(l));
    assertEquals(uses, [], `${f} runs node_modules/.bin/deno`);
  }
});

/** A fresh image and mountpoint; afterwards any mount and process left on it are cleaned up. */
async function withImage(fn: (img: string, mnt: string) => Promise<void>): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "vexfs-bootstrap-test-" });
  const img = `${dir}/disk.img`, mnt = `${dir}/mnt`;
  Deno.mkdirSync(mnt);
  mkfs(img, { size: 64 << 20 });
  try {
    await fn(img, mnt);
  } finally {
    for (const pid of processesOn(mnt)) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
    while (findMount(mnt)) {
      const o = await new Deno.Command("fusermount3", { args: ["-u", "-z", mnt], stderr: "null" }).output();
      if (!o.success) break;
    }
    Deno.removeSync(dir, { recursive: true });
  }
}

interface Launched {
  child: Deno.ChildProcess;
  stderr(): string;
  /** the launcher's status, or an error after `ms` (a launcher that does not exit must fail the test, not hang it) */
  exited(ms: number): Promise<Deno.CommandStatus>;
}

/** `bash scripts/bootstrap.sh vexfs mount --foreground IMG MNT`, once the mount is up. */
async function mountThroughBootstrap(img: string, mnt: string): Promise<Launched> {
  const child = new Deno.Command("bash", {
    args: [BOOTSTRAP, "vexfs", "mount", "--foreground", img, mnt],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let err = "";
  (async () => {
    for await (const ch of child.stderr) err += dec.decode(ch);
  })();
  let exited = false;
  child.status.then(() => exited = true);
  await waitFor("the mount", () => exited || findMount(mnt)?.fstype === "fuse.vexfs");
  if (exited) throw new Error(`vexfs mount --foreground exited early: ${err}`);
  return {
    child,
    stderr: () => err,
    exited: (ms) => {
      let timer = 0;
      return Promise.race([
        child.status.finally(() => clearTimeout(timer)),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`the launcher did not exit within ${ms / 1000} s`)), ms);
        }),
      ]);
    },
  };
}

Deno.test({
  name: "bootstrap.sh vexfs mount --foreground: SIGTERM to the launcher reaches the daemon, which unmounts cleanly",
  ...mountTest,
  fn: () =>
    withImage(async (img, mnt) => {
      const l = await mountThroughBootstrap(img, mnt);
      Deno.writeTextFileSync(`${mnt}/f.txt`, "kept\n");
      l.child.kill("SIGTERM");
      const st = await l.exited(30_000);
      assertEquals(st.code, 0, `exit status after SIGTERM: ${l.stderr()}`);
      await waitFor("nothing left serving the mountpoint", () => processesOn(mnt).length === 0, 10_000);
      assertEquals(findMount(mnt), null, "unmounted");
      assertEquals(sbState(img), STATE_CLEAN, "superblock marked clean");
      assertFsckClean(img);
      const fs = Vexfs.open(img, { readOnly: true });
      try {
        assertEquals(dec.decode(fs.read(fs.resolve("/f.txt"), 0, 100)), "kept\n");
      } finally {
        fs.close();
      }
    }),
});

Deno.test({
  name: "bootstrap.sh vexfs mount --foreground: a daemon killed by SIGKILL is reported as killed by SIGKILL",
  ...mountTest,
  fn: () =>
    withImage(async (img, mnt) => {
      const l = await mountThroughBootstrap(img, mnt);
      // the Deno process serving the mount, running main.ts (the launcher itself once bootstrap has exec'd it;
      // with npm's wrapper, the grandchild of a `deno task` and of the wrapper)
      const daemons = processesOn(mnt).filter((p) => {
        const argv = Deno.readTextFileSync(`/proc/${p}/cmdline`).split("\0");
        return Deno.readLinkSync(`/proc/${p}/exe`).endsWith("/deno") && argv.some((a) => a.endsWith("main.ts")) &&
          !argv.some((a) => a.endsWith("bin.cjs"));
      });
      assertEquals(daemons.length, 1, `one Deno serving ${mnt}: ${daemons}`);
      Deno.kill(daemons[0], "SIGKILL");
      const st = await l.exited(30_000);
      assertEquals([st.success, st.signal, st.code], [false, "SIGKILL", 137], "the launcher reports the signal");
    }),
});
