/**
 * POSIX ACLs through a real `vexfs mount` (FUSE), compared with ext4 on a
 * loop device (ACLs on by default there too): the same shell scripts run
 * with setfacl/getfacl/getfattr/stat in a directory of each, and their
 * outputs must be the same (paths shown relative). Covers setting access
 * ACLs (mode bits follow, an ACL the mode says in full is dropped, setgid
 * cleared for a setter outside the group), chmod (the mask follows),
 * enforcement for a non-owner (uid 65534 through setpriv), default ACLs
 * inherited by files, directories, fifos and device nodes (umask ignored
 * under a default ACL, applied otherwise), `noacl`, and ACLs surviving a
 * remount. The reference for `noacl` is btrfs `-o noacl`: ext4 refuses
 * `noacl` on recent kernels (6.18 says "Unknown parameter 'noacl'"), and
 * btrfs mounted so does what ext4 `noacl` did (no SB_POSIXACL: the ACL
 * xattrs fail with EOPNOTSUPP and the VFS applies the umask).
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "../test_assert.ts";
import { CAN_MOUNT, mountImage, unmount, withExt4, withMount } from "./_testutil.ts";
import { assertFsckClean, tmpImage } from "../fs/_testutil.ts";
import { aclOption, parseMountOptions } from "./options.ts";
import { aclsOnAt } from "./acl.ts";
import { vexfsArgv } from "./self.ts";

const dec = new TextDecoder();

function have(tool: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${tool}`], stdout: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

/** Real mounts, and the acl and attr tools (Debian packages `acl`, `attr`; scripts/bootstrap.sh installs them). */
const aclTest = {
  ignore: !CAN_MOUNT || !have("setfacl") || !have("getfattr") || !have("setpriv"),
  sanitizeResources: false,
  sanitizeOps: false,
};

/**
 * Runs `sh -c script` in `dir` (as nobody:nogroup without supplementary
 * groups when `nobody`), returning its stdout and stderr, with `dir`
 * written as `D`.
 */
function sh(dir: string, script: string, nobody = false): string {
  const argv = nobody
    ? ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "sh", "-c", script]
    : ["sh", "-c", script];
  const o = new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd: dir,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  })
    .outputSync();
  return (dec.decode(o.stdout) + dec.decode(o.stderr)).replaceAll(dir, "D");
}

/** Runs each script of `scripts` in a fresh subdirectory (mode 755) of `root`; returns the outputs. */
function runAll(root: string, scripts: Record<string, (dir: string) => string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, f] of Object.entries(scripts)) {
    const dir = `${root}/${name}`;
    Deno.mkdirSync(dir);
    Deno.chmodSync(dir, 0o755);
    out[name] = f(dir);
  }
  return out;
}

/** getfacl without the header, ids numeric; the mode string and the raw attributes in hex. */
const show = (f: string) => `stat -c '%n %A %u:%g' ${f}; getfacl -cn ${f} 2>&1; getfattr -m - -e hex -d ${f} 2>&1`;

const ACCESS: Record<string, (dir: string) => string> = {
  "set-and-chmod": (d) =>
    sh(
      d,
      `umask 022; touch f
      setfacl -m u:nobody:rw f; echo "setfacl $?"; ${show("f")}
      chmod 640 f; ${show("f")}
      chmod 2775 f; ${show("f")}
      setfacl -m m::r f; ${show("f")}
      setfacl -m u::rwx,g::r,o::- f; ${show("f")}
      setfacl -x u:nobody f; ${show("f")}
      setfacl -b f; ${show("f")}
      touch g; setfacl --set u::rw,g::r,o::r g; echo "set $?"; ${show("g")}
      touch h; chmod 604 h; setfacl -m g:nogroup:rx h; ${show("h")}
      setfacl -m g::w h; chmod 751 h; ${show("h")}
      mkdir e; setfacl -m u:nobody:rwx e; ${show("e")}
      chmod 700 e; ${show("e")}
      setfattr -x system.posix_acl_access e; echo "remove $?"; ${show("e")}
      setfattr -x system.posix_acl_access e; echo "remove again $?"
      setfacl -m d:u:nobody:r h; echo "default on a file $?"`,
    ),
  "setgid-kill": (d) => {
    // nobody owns the files; group 0 (nobody is not in it) or nogroup (nobody's own)
    const out = sh(d, `touch a b; chown nobody:0 a; chown nobody:nogroup b; chmod 2775 a b; ${show("a")}`);
    return out + sh(d, `setfacl -m u:daemon:r a; echo "a $?"; setfacl -m u:daemon:r b; echo "b $?"`, true) +
      sh(d, `${show("a")}; ${show("b")}`);
  },
  "malformed": (d) =>
    sh(
      d,
      `touch f
      setfattr -n system.posix_acl_access -v 0x02000000010006000000000004000400 f; echo "no other $?"
      setfattr -n system.posix_acl_access -v 0x0200000001000600ffffffff04000400ffffffff20000400ffffffff02000600e8030000 f; echo "unsorted $?"
      setfattr -n system.posix_acl_access -v 0x0300000001000600ffffffff04000400ffffffff20000400ffffffff f; echo "version 3 $?"
      setfattr -n system.posix_acl_access -v 0x0200000001000600ffffffff04000400ffffffff200004 f; echo "short $?"
      setfattr -n system.posix_acl_access -v 0x0200000001000f00ffffffff04000400ffffffff20000400ffffffff f; echo "perm 15 $?"
      setfattr -n system.posix_acl_access -v 0x0200000001000600ffffffff02000600e803000004000400ffffffff20000400ffffffff f; echo "no mask $?"
      ${show("f")}`,
    ),
};

const ENFORCE: Record<string, (dir: string) => string> = {
  "named-entries": (d) => {
    const steps: [string, string][] = [
      ["echo data > f; chmod 600 f; setfacl -m u:nobody:r f", 'cat f; echo "read $?"; echo x >> f; echo "write $?"'],
      ["setfacl -m u:nobody:rw,m::r f", 'echo x >> f; echo "write $?"'],
      ["setfacl -m u:nobody:rw f", 'echo x >> f; echo "write $?"'],
      ["chmod 600 f", 'cat f; echo "read after chmod $?"'],
      ["echo data > g; chmod 600 g; setfacl -m g:nogroup:rw g", 'echo y >> g; echo "group write $?"'],
      ["echo data > h; chmod 604 h; setfacl -m g:nogroup:- h", 'cat h; echo "matching group without bits $?"'],
      ["setfacl -m g:nogroup:r,g::r h", 'cat h; echo "named group read $?"'],
      ["mkdir e; chmod 700 e; setfacl -m u:nobody:rx e", 'ls e; echo "list $?"; touch e/x; echo "create $?"'],
      ["setfacl -m u:nobody:rwx e", "touch e/x; echo \"create $?\"; stat -c '%A %u:%g' e/x"],
      ["chmod 750 e", 'ls e; echo "list after chmod $?"'],
      // only the owner may set an ACL; a symlink has none
      ["ln -s f l", 'setfacl -m u:nobody:rwx f; echo "not owner $?"; setfacl -x u:nobody f; echo "not owner $?"'],
      [
        'setfattr -h -n system.posix_acl_access -v 0x0200000001000600ffffffff04000400ffffffff20000400ffffffff l; echo "symlink $?"; getfattr -h -m - -d l',
        "",
      ],
      // nobody creates under a default ACL that names it
      ["mkdir g2; chmod 777 g2; setfacl -d -m u:nobody:rwx,g:nogroup:r g2", "umask 022; touch g2/a; mkdir g2/b"],
      ["getfacl -cn g2/a g2/b; stat -c '%n %A %u:%g' g2/a g2/b", ""],
    ];
    return steps.map(([root, user]) => sh(d, root) + sh(d, user, true)).join("") + sh(d, show("f"));
  },
};

const INHERIT: Record<string, (dir: string) => string> = {
  "default-acl": (d) =>
    sh(
      d,
      `mkdir d; setfacl -d -m u:nobody:rwx,g::rx,o::- d; ${show("d")}
      umask 077
      touch d/f; mkdir d/sub; mkfifo d/p; mknod d/c c 1 3; ln -s f d/l; mkdir d/sub/deeper; touch d/sub/deeper/x
      mkdir -m 750 d/m750; mkfifo -m 604 d/p604; mknod -m 640 d/b b 7 0
      for x in d/f d/sub d/p d/c d/sub/deeper d/sub/deeper/x d/m750 d/p604 d/b; do ${show("$x")}; done
      stat -c '%n %A' d/l; getfattr -h -m - -d d/l 2>&1`,
    ),
  "umask": (d) =>
    sh(
      d,
      `mkdir e; umask 027; touch e/f; mkdir e/g; mkfifo e/p
      umask 0; touch e/h; mkdir e/i
      for x in e/f e/g e/p e/h e/i; do ${show("$x")}; done`,
    ),
  "minimal-default": (d) =>
    sh(
      d,
      `mkdir q; setfacl -d --set u::rwx,g::rx,o::- q; ${show("q")}
      umask 077; touch q/f; mkdir q/s; for x in q/f q/s; do ${show("$x")}; done`,
    ),
  "mask-default": (d) =>
    sh(
      d,
      `mkdir m; setfacl -d -m g:nogroup:rwx,m::r m; umask 0; touch m/f; mkdir m/s; chmod 2770 m
      chgrp nogroup m; mkdir m/t; touch m/u
      for x in m m/f m/s m/t m/u; do ${show("$x")}; done`,
    ),
};

const NOACL: Record<string, (dir: string) => string> = {
  "refused": (d) =>
    sh(
      d,
      `touch f; setfacl -m u:nobody:rw f; echo "setfacl $?"; ${show("f")}
      getfattr -n system.posix_acl_access f; echo "getfattr $?"
      setfattr -n system.posix_acl_access -v 0x0200000001000600ffffffff04000400ffffffff20000400ffffffff f
      echo "setfattr $?"; setfattr -x system.posix_acl_default .; echo "remove $?"
      mkdir d; setfacl -d -m u:nobody:rwx d; echo "default $?"
      umask 027; touch g; mkdir h; ${show("g")}; ${show("h")}`,
    ),
  "group-bits": (d) =>
    sh(d, "echo data > f; chgrp nogroup f; chmod 640 f; echo data > g; chmod 604 g; chgrp nogroup g") +
    sh(d, 'cat f; echo "group read $?"; cat g; echo "other read with group --- $?"', true),
};

/** Mounts a fresh 256 MiB btrfs `-o noacl` on a loop device, runs `fn(dir)`, unmounts, removes the image. */
async function withBtrfsNoacl<T>(fn: (dir: string) => T | Promise<T>): Promise<T> {
  const dir = Deno.makeTempDirSync({ prefix: "vexfs-ref-" });
  const img = Deno.makeTempFileSync({ prefix: "vexfs-ref-btrfs-", suffix: ".img" });
  const run = (cmd: string, ...args: string[]) => {
    const o = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
    if (!o.success) throw new Error(`${cmd} ${args.join(" ")}: ${dec.decode(o.stderr)}`);
  };
  try {
    Deno.truncateSync(img, 256 << 20);
    run("mkfs.btrfs", "-q", "-f", img);
    run("mount", "-o", "loop,noacl", img, dir);
    try {
      return await fn(dir);
    } finally {
      run("umount", dir);
    }
  } finally {
    Deno.removeSync(dir);
    Deno.removeSync(img);
  }
}

async function differential(scripts: Record<string, (dir: string) => string>, options?: string) {
  const [ref, kind] = options === "noacl"
    ? await withBtrfsNoacl((dir) => [runAll(dir, scripts), "btrfs -o noacl"] as const)
    : await withExt4((dir, kind) => [runAll(dir, scripts), kind] as const);
  assert(kind === "ext4" || kind === "btrfs -o noacl", `an ext4 reference is needed (got ${kind})`);
  const vex = await withMount(
    { size: 64 << 20, options: options ? `allow_other,${options}` : "allow_other" },
    (mnt) => runAll(mnt, scripts),
  );
  for (const name of Object.keys(scripts)) assertEquals(vex[name], ref[name], `${name}: VexFS vs ${kind}`);
  return vex;
}

Deno.test({
  name: "acl: setfacl sets the mode's bits, chmod sets the mask, setgid and bad values as on ext4",
  ...aclTest,
  fn: async () => {
    const out = await differential(ACCESS);
    // not vacuous: the named entry and the mask show up, and a malformed value is refused
    assertStringIncludes(out["set-and-chmod"], "user:65534:rw-");
    assertStringIncludes(out["set-and-chmod"], "mask::r--");
    assertStringIncludes(out["malformed"], "Invalid argument");
  },
});

Deno.test({
  name: "acl: named user and group entries grant and deny a non-owner as on ext4",
  ...aclTest,
  fn: async () => {
    const out = await differential(ENFORCE);
    assertStringIncludes(out["named-entries"], "read 0");
    assertStringIncludes(out["named-entries"], "Permission denied");
  },
});

Deno.test({
  name: "acl: default ACLs are inherited by files, directories, fifos and devices; umask only without one",
  ...aclTest,
  fn: async () => {
    const out = await differential(INHERIT);
    assertStringIncludes(out["default-acl"], "d/f -rw-rw----");
  },
});

Deno.test({
  name: "acl: noacl refuses ACLs with EOPNOTSUPP and the group bits are plain permissions (as btrfs -o noacl)",
  ...aclTest,
  ignore: aclTest.ignore || !have("mkfs.btrfs"),
  fn: async () => {
    const out = await differential(NOACL, "noacl");
    assertStringIncludes(out["refused"], "Operation not supported");
    assertStringIncludes(out["group-bits"], "group read 0");
  },
});

Deno.test({
  name: "acl: ACLs survive unmount and mount; a noacl mount hides them and a later acl mount has them back",
  ...aclTest,
  fn: async () => {
    const img = tmpImage(64 << 20, 4096);
    const script = `${show("f")}; ${show("d")}`;
    const probe = 'cat f; echo "read $?"; touch d/x; echo "create $?"';
    try {
      let d = await mountImage({ image: img, options: "allow_other" });
      let before: string, asNobody: string;
      try {
        sh(d.mnt, "echo data > f; chmod 600 f; setfacl -m u:nobody:r f; mkdir d; chmod 700 d");
        sh(d.mnt, "setfacl -m u:nobody:rwx d; setfacl -d -m u:nobody:rw d");
        before = sh(d.mnt, script);
        asNobody = sh(d.mnt, probe, true);
        sh(d.mnt, "rm d/x");
      } finally {
        await unmount(d);
      }
      assertEquals(asNobody, "data\nread 0\ncreate 0\n");
      assertFsckClean(img);

      d = await mountImage({ image: img, options: "allow_other" });
      try {
        assertEquals(sh(d.mnt, script), before);
        assertEquals(sh(d.mnt, probe, true), asNobody);
        sh(d.mnt, "rm d/x");
      } finally {
        await unmount(d);
      }

      d = await mountImage({ image: img, options: "allow_other,noacl" });
      try {
        const hidden = sh(d.mnt, script);
        assert(!hidden.includes("65534"), hidden);
        assertStringIncludes(sh(d.mnt, probe, true), "Permission denied");
      } finally {
        await unmount(d);
      }

      d = await mountImage({ image: img, options: "allow_other,acl" });
      try {
        assertEquals(sh(d.mnt, script), before);
      } finally {
        await unmount(d);
      }
      assertFsckClean(img);
    } finally {
      Deno.removeSync(img);
    }
  },
});

Deno.test("acl: -o acl is the default, noacl turns ACLs off, the last one wins, neither takes a value", () => {
  assertEquals(parseMountOptions([]).acl, true);
  assertEquals(parseMountOptions(["noacl"]).acl, false);
  assertEquals(parseMountOptions(["noacl,rw", "acl"]).acl, true);
  assertEquals(parseMountOptions(["acl,noacl"]).acl, false);
  let err = "";
  try {
    parseMountOptions(["noacl=1"]);
  } catch (e) {
    err = String(e);
  }
  assertStringIncludes(err, "noacl takes no value");
});

Deno.test({
  name: "acl: a remount cannot switch acl/noacl and says so; repeating the mount's own setting is fine",
  ...aclTest,
  fn: async () => {
    const vexfs = (...args: string[]) => {
      const [exe, ...rest] = vexfsArgv(args);
      const o = new Deno.Command(exe, { args: rest, stdin: "null", stdout: "piped", stderr: "piped" }).outputSync();
      return { code: o.code, stderr: dec.decode(o.stderr) };
    };
    for (const [mounted, other] of [["acl", "noacl"], ["noacl", "acl"]]) {
      await withMount({ size: 64 << 20, options: mounted }, (mnt) => {
        assertEquals(aclsOnAt(mnt), mounted === "acl");
        const bad = vexfs("mount", "-o", `remount,${other}`, mnt);
        assertEquals(bad.code, 1, bad.stderr);
        assertStringIncludes(bad.stderr, `is mounted ${mounted}; a remount cannot change that`);
        const same = vexfs("mount", "-o", `remount,rw,${mounted}`, mnt);
        assertEquals(same.code, 0, same.stderr);
        assertEquals(aclsOnAt(mnt), mounted === "acl");
      });
    }
    assertEquals(aclOption(["rw", "noacl,acl"]), true);
    assertEquals(aclOption(["remount,ro"]), undefined);
    assertEquals(aclsOnAt("/nonexistent-vexfs-path"), null);
  },
});
