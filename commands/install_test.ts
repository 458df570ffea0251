/**
 * Tests of `vexfs install` / `vexfs uninstall` with the system's own tools:
 * mkfs(8), fsck(8), mount(8) (with an fstab), findmnt(8), df(1), umount(8).
 * The helpers are installed into a temporary prefix; since mkfs(8), fsck(8)
 * and mount(8) look for them in /sbin (-> /usr/sbin on Debian 12), the
 * system-tool test runs in a private mount namespace (`unshare -m
 * --propagation private`) where /usr/sbin is a read-only overlay of the
 * temporary sbin directory on the real one: the host is not modified.
 * @module
 */
import { assertEquals, assertStringIncludes } from "../src/test_assert.ts";
import { assertFsckClean } from "../src/fs/_testutil.ts";
import { CAN_MOUNT, mountTest } from "../src/mount/_testutil.ts";
import { findCheckout, MARKER } from "../src/install/install.ts";
import { manPages } from "../src/docs/man.ts";
import { buildProgram } from "../main.ts";

const co = findCheckout();
const dec = new TextDecoder();

async function run(cmd: string, args: string[], env?: Record<string, string>) {
  const o = await new Deno.Command(cmd, { args, env, clearEnv: env !== undefined, stdout: "piped", stderr: "piped" })
    .output();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

const vexfs = (args: string[]) => run(co.deno, ["run", "-A", co.main, ...args]);

/** Every path under `dir` (relative), sorted. */
function tree(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(`${dir}/${rel}`)) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    out.push(p);
    if (e.isDirectory) out.push(...tree(dir, p));
  }
  return out.sort();
}

async function gunzip(b: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const s = new Blob([b]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(s).arrayBuffer());
}

Deno.test(
  "install: launcher and helpers run the pinned Deno binary by absolute path, work with an empty " +
    "environment, refuse to overwrite a foreign file, and uninstall removes exactly what was written",
  async () => {
    const dir = Deno.makeTempDirSync({ prefix: "vexfs-install-" });
    try {
      Deno.writeTextFileSync(`${dir}/keep`, "not ours\n");
      const prefix = `${dir}/p`;
      const r = await vexfs(["install", "--prefix", prefix]);
      assertEquals(r.code, 0, r.stderr);
      const pages = manPages(buildProgram()).map((p) => `p/share/man/man8/${p.file}`);
      assertEquals(tree(dir).filter((p) => !pages.includes(p)), [
        "keep",
        "p",
        "p/bin",
        "p/bin/vexfs",
        "p/sbin",
        "p/sbin/fsck.vexfs",
        "p/sbin/mkfs.vexfs",
        "p/sbin/mount.fuse.vexfs",
        "p/sbin/mount.vexfs",
        "p/share",
        "p/share/bash-completion",
        "p/share/bash-completion/completions",
        "p/share/bash-completion/completions/vexfs",
        "p/share/man",
        "p/share/man/man8",
        "p/share/vexfs",
        "p/share/vexfs/manifest",
        "p/share/zsh",
        "p/share/zsh/vendor-completions",
        "p/share/zsh/vendor-completions/_vexfs",
      ]);
      // every man page of every command, found by man(1) under the prefix, .so links included
      assertEquals(tree(`${prefix}/share/man/man8`), pages.map((p) => p.slice("p/share/man/man8/".length)).sort());
      assertEquals(pages.includes("p/share/man/man8/vexfs-install.8"), true);
      for (const [page, title] of [["mkfs.vexfs", "VEXFS-MKFS(8)"], ["vexfs-install", "VEXFS-INSTALL(8)"]]) {
        const mp = await run("man", ["-M", `${prefix}/share/man`, page], { PATH: "/usr/bin:/bin", MANWIDTH: "80" });
        assertEquals(mp.code, 0, mp.stderr);
        assertStringIncludes(mp.stdout, title);
      }
      // the installed bash completion, sourced as bash-completion's loader does, completes commands
      const bc = await run("bash", [
        "-c",
        `. ${prefix}/share/bash-completion/completions/vexfs; complete -p vexfs; ` +
        `COMP_WORDS=(vexfs umo); COMP_CWORD=1; _vexfs; echo "[\${COMPREPLY[*]}]"`,
      ], { PATH: "/usr/bin:/bin" });
      assertEquals(bc.stdout, "complete -F _vexfs vexfs\n[umount]\n", bc.stderr);
      assertStringIncludes(Deno.readTextFileSync(`${prefix}/share/zsh/vendor-completions/_vexfs`), "#compdef vexfs\n");
      const launcher = Deno.readTextFileSync(`${prefix}/bin/vexfs`);
      assertStringIncludes(launcher, MARKER);
      assertStringIncludes(launcher, `exec '${co.deno}' run -A '${co.main}' "$@"`);
      assertEquals(launcher.includes(".bin/deno"), false);
      assertEquals(co.deno.startsWith("/") && co.main.startsWith("/"), true);
      // as mount(8) runs helpers: no PATH, no HOME
      const v = await run(`${prefix}/bin/vexfs`, ["--version"], {});
      assertEquals([v.code, v.stdout.trim()], [0, "0.1.0"], v.stderr);
      const img = `${dir}/img`;
      const m = await run(`${prefix}/sbin/mkfs.vexfs`, ["-s", "64M", img], {});
      assertEquals(m.code, 0, m.stderr);
      // fsck(8)'s -C FD and e2fsck's -r are dropped, -f passed on
      const f = await run(`${prefix}/sbin/fsck.vexfs`, ["-C", "3", "-fr", img], {});
      assertEquals(f.code, 0, f.stderr + f.stdout);
      assertStringIncludes(f.stdout, "clean");
      assertEquals(f.stdout.includes("marked clean"), false, "-f reached vexfs fsck");
      assertFsckClean(img);

      // a reinstall replaces its own files; a foreign file at a target is left alone
      assertEquals((await vexfs(["install", "--prefix", prefix])).code, 0);
      const other = `${dir}/q`;
      Deno.mkdirSync(`${other}/sbin`, { recursive: true });
      Deno.writeTextFileSync(`${other}/sbin/mkfs.vexfs`, "#!/bin/sh\necho someone else's\n");
      const refused = await vexfs(["install", "--prefix", other]);
      assertEquals(refused.code, 1);
      assertStringIncludes(refused.stderr, "was not written by 'vexfs install'");
      assertEquals(Deno.readTextFileSync(`${other}/sbin/mkfs.vexfs`), "#!/bin/sh\necho someone else's\n");
      assertEquals(tree(other), ["sbin", "sbin/mkfs.vexfs"]);
      Deno.removeSync(other, { recursive: true });

      const u = await vexfs(["uninstall", "--prefix", prefix]);
      assertEquals(u.code, 0, u.stderr);
      assertEquals(tree(dir), ["img", "keep"]);
      const again = await vexfs(["uninstall", "--prefix", prefix]);
      assertEquals(again.code, 1);
      assertStringIncludes(again.stderr, "no install manifest");
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
);

const haveTools = ["unshare", "mkfs", "fsck", "mount", "findmnt", "df", "umount"].every((t) =>
  new Deno.Command("sh", { args: ["-c", `command -v ${t}`], stdout: "null" }).outputSync().success
);
const haveOverlay = (() => {
  try {
    return /\toverlay\n/.test(Deno.readTextFileSync("/proc/filesystems"));
  } catch {
    return false;
  }
})();

Deno.test({
  name: "install: mkfs(8), fsck(8) (exit codes 0, 4, 1 passed through), mount(8) -t vexfs and -t fuse.vexfs, " +
    "an fstab line with mount --fstab -a, findmnt, df, umount, in a private namespace with the helpers in /sbin",
  ...mountTest,
  ignore: !CAN_MOUNT || !haveTools || !haveOverlay,
  fn: async () => {
    const dir = Deno.makeTempDirSync({ prefix: "vexfs-install8-" });
    const q = (x: string) => `'${x.replaceAll("'", `'\\''`)}'`;
    try {
      const prefix = `${dir}/p`;
      assertEquals((await vexfs(["install", "--prefix", prefix])).code, 0);
      Deno.mkdirSync(`${dir}/m`);
      // a damaged image from the fsck corpus: a link count too high, which -y repairs
      const bad = `${dir}/bad.img`;
      Deno.writeFileSync(
        bad,
        await gunzip(Deno.readFileSync(new URL("../testdata/fsck/inode_nlink/image.gz", import.meta.url))),
      );
      Deno.writeTextFileSync(`${dir}/fstab`, `# test fstab\n${dir}/img ${dir}/m vexfs defaults,noatime 0 2\n`);
      const script = `
        set -u
        D=${q(dir)}
        mount -t overlay overlay -o lowerdir="$D/p/sbin:/usr/sbin" /usr/sbin || exit 99
        mkfs -t vexfs -s 64M "$D/img" > "$D/mkfs.out" 2>&1; echo "mkfs: $?"
        fsck -t vexfs -f "$D/img" > /dev/null 2>&1; echo "fsck-clean: $?"
        fsck -t vexfs -f "$D/bad.img" > "$D/fsck-bad.out" 2>&1; echo "fsck-bad: $?"
        fsck -t vexfs -fy "$D/bad.img" > "$D/fsck-y.out" 2>&1; echo "fsck-y: $?"
        fsck -t vexfs -f "$D/bad.img" > /dev/null 2>&1; echo "fsck-after: $?"
        mount -t vexfs "$D/img" "$D/m"; echo "mount: $?"
        echo hello > "$D/m/f" && cat "$D/m/f" | sed 's/^/read: /'
        findmnt -n -o SOURCE,FSTYPE "$D/m" | sed 's/^/findmnt: /'
        df -P "$D/m" | tail -n 1 | sed 's/^/df: /'
        umount "$D/m"; echo "umount: $?"
        mount --fstab "$D/fstab" -a; echo "mount-a: $?"
        findmnt -n -o FSTYPE,OPTIONS "$D/m" | sed 's/^/fstab: /'
        cat "$D/m/f" | sed 's/^/fstab-read: /'
        umount "$D/m"; echo "umount-a: $?"
        mount -t fuse.vexfs -o ro "$D/img" "$D/m"; echo "mount-fuse: $?"
        findmnt -n -o FSTYPE,OPTIONS "$D/m" | sed 's/^/fuse: /'
        umount "$D/m"; echo "umount-fuse: $?"
        findmnt -n "$D/m" > /dev/null; echo "still-mounted: $?"
      `;
      const r = await run("unshare", ["-m", "--propagation", "private", "sh", "-c", script]);
      const out = r.stdout;
      const ctx = `${out}\n${r.stderr}\nfsck -f bad:\n${Deno.readTextFileSync(`${dir}/fsck-bad.out`)}\nfsck -fy bad:\n${
        Deno.readTextFileSync(`${dir}/fsck-y.out`)
      }`;
      assertEquals(r.code, 0, ctx);
      for (
        const line of [
          "mkfs: 0",
          "fsck-clean: 0",
          "fsck-bad: 4", // errors left uncorrected (vexfs fsck is read-only without -y/-p)
          "fsck-y: 1", // errors corrected
          "fsck-after: 0",
          "mount: 0",
          "read: hello",
          `findmnt: ${dir}/img fuse.vexfs`,
          "umount: 0",
          "mount-a: 0",
          "fstab-read: hello",
          "umount-a: 0",
          "mount-fuse: 0",
          "umount-fuse: 0",
          "still-mounted: 1",
        ]
      ) assertStringIncludes(out, `${line}\n`, ctx);
      assertStringIncludes(Deno.readTextFileSync(`${dir}/fsck-bad.out`), "INODE_NLINK");
      assertEquals(/^df: \S+img\s+65536\s+\d+\s+\d+\s+\d+%\s+\S+\/m$/m.test(out), true, ctx);
      assertEquals(/^fstab: fuse\.vexfs rw,.*noatime/m.test(out), true, ctx);
      assertEquals(/^fuse: fuse\.vexfs ro,/m.test(out), true, ctx);
      // outside the namespace nothing was mounted and /usr/sbin is unchanged
      assertEquals((await run("findmnt", ["-n", `${dir}/m`])).code, 1);
      for (const h of ["mkfs.vexfs", "fsck.vexfs", "mount.vexfs"]) {
        assertEquals((await run("sh", ["-c", `test -e /usr/sbin/${h}`])).code, 1, `/usr/sbin/${h} on the host`);
      }
      assertFsckClean(`${dir}/img`);
      assertFsckClean(bad);
      assertEquals((await vexfs(["uninstall", "--prefix", prefix])).code, 0);
      assertEquals(tree(dir).filter((p) => p.startsWith("p")), []);
    } finally {
      await run("umount", ["-l", `${dir}/m`]).catch(() => {});
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
