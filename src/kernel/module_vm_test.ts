/**
 * The VexFS kernel module in Debian's 6.1 and 6.12 kernels, booted in QEMU (`qemu.ts`).
 *
 * For each kernel: vexfs.ko is built against the headers of the same N/M as the kernel
 * booted (`_vmtestutil.ts`), an image made by `vexfs mkfs` is filled on the host
 * through the FUSE mount (a large file, a sparse file, a directory of 400 entries,
 * a symlink, a fifo and a device node), and in the VM: insmod succeeds,
 * /proc/filesystems lists vexfs, `mount -t vexfs -o ro` succeeds and shows the same
 * tree (names, types, sizes, modes, link counts, owners, mtimes: `stat` output) and
 * the same file contents (sha256) as the FUSE mount did. A read-write mount does what
 * the module's source says it does: while super.c refuses it, it must fail with that
 * exact dmesg line and the image must come back unchanged byte for byte. No oops,
 * BUG or WARNING may appear; the image stays fsck-clean.
 *
 * Skipped (the name says so) only when kernel/ holds no module sources.
 */

import assert from "node:assert/strict";
import { assertFsckClean } from "../fs/_testutil.ts";
import { mountTest, sha256File, withMount } from "../mount/_testutil.ts";
import { buildModuleFor, moduleSource, moduleSourcesPresent } from "./_vmtestutil.ts";
import { type KernelSeries, runInVm, summarize } from "./qemu.ts";

const HAVE_SOURCES = moduleSourcesPresent();
const STAT = "stat -c '%n|%F|%s|%a|%h|%u|%g|%Y'";
const TREE = `find . | sort | xargs ${STAT}`;
const SUMS = "find . -type f | sort | xargs sha256sum";

async function sh(dir: string, cmd: string): Promise<string> {
  const o = await new Deno.Command("sh", { args: ["-c", cmd], cwd: dir, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  assert.equal(o.code, 0, `${cmd}: ${dec.decode(o.stderr)}`);
  return dec.decode(o.stdout);
}

/** Fills a fresh image through the FUSE mount; returns it with the tree and sums the mount showed. */
async function filledImage(): Promise<{ img: string; tree: string; sums: string }> {
  let tree = "", sums = "";
  const img = await withMount({ size: 64 << 20, keepImage: true }, async (mnt, img) => {
    await Deno.writeTextFile(`${mnt}/hello.txt`, "hello from the host\n");
    await Deno.writeFile(`${mnt}/big.bin`, crypto.getRandomValues(new Uint8Array(65536)).map((b, i) => b ^ i));
    const big = await Deno.open(`${mnt}/big.bin`, { append: true });
    for (let i = 0; i < 4; i++) await big.write(crypto.getRandomValues(new Uint8Array(65536)));
    big.close();
    const sparse = await Deno.open(`${mnt}/sparse.bin`, { write: true, create: true });
    await sparse.seek(3 << 20, Deno.SeekMode.Start);
    await sparse.write(new TextEncoder().encode("after a 3 MiB hole"));
    sparse.close();
    await Deno.mkdir(`${mnt}/dir/sub`, { recursive: true });
    for (let i = 0; i < 400; i++) {
      await Deno.writeTextFile(`${mnt}/dir/entry-with-a-longer-name-${String(i).padStart(3, "0")}`, `${i}\n`);
    }
    await Deno.symlink("hello.txt", `${mnt}/link`);
    await Deno.link(`${mnt}/hello.txt`, `${mnt}/dir/sub/hardlink`);
    await sh(mnt, "mkfifo fifo && mknod null c 1 3 && chmod 0640 hello.txt");
    tree = await sh(mnt, TREE);
    sums = await sh(mnt, SUMS);
    return img;
  });
  assert.match(tree, /\.\/dir\/entry-with-a-longer-name-399\|regular file\|4\|/);
  return { img, tree, sums };
}

/** The dmesg line super.c prints when refusing a read-write mount, or null when it has none. */
function readOnlyRefusal(): string | null {
  const m = /pr_err\("(vexfs: %s: this version of the kernel module mounts read-only only[^"]*)\\n"/.exec(
    moduleSource("super.c"),
  );
  return m ? m[1].replace("%s", "vda") : null;
}

for (const series of ["6.1", "6.12"] as KernelSeries[]) {
  Deno.test({
    name: `QEMU ${series}: vexfs.ko built for the kernel loads, registers, and mounts an image filled through FUSE` +
      (HAVE_SOURCES ? "" : " (skipped: kernel/ holds no module sources yet)"),
    ...mountTest,
    ignore: mountTest.ignore || !HAVE_SOURCES,
    fn: async () => {
      const mod = await buildModuleFor(series);
      const { img, tree, sums } = await filledImage();
      try {
        assert.deepEqual(mod.warnings, [], `W=1 warnings building for ${mod.release}`);
        const before = sha256File(img);
        const refusal = readOnlyRefusal();
        const rw = refusal === null
          ? `t_check "mount -t vexfs (read-write)" mount -t vexfs /dev/vda /mnt && umount /mnt`
          // busybox mount answers EROFS by retrying read-only, as util-linux does
          : `t_check "mount -t vexfs (read-write asked)" mount -t vexfs /dev/vda /mnt
t_eq "read-write refused: mounted read-only" ro "$(grep '^/dev/vda /mnt vexfs ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1)"
t_eq "writes fail with EROFS" "touch: /mnt/new: Read-only file system" "$(touch /mnt/new 2>&1)"
t_check "umount again" umount /mnt
t_eq "refusal logged in dmesg" 1 "$(dmesg | grep -cF "${refusal}")"`;
        const r = await runInVm({
          kernel: series,
          disks: [img],
          modules: [mod.ko],
          files: { "/expected/tree": tree, "/expected/sums": sums },
          script: `
t_check "/proc/filesystems lists vexfs" grep -qw vexfs /proc/filesystems
t_check "mount -t vexfs -o ro" mount -t vexfs -o ro /dev/vda /mnt
cd /mnt
t_check "same tree and metadata as the FUSE mount" sh -c "${TREE} | diff /expected/tree -"
t_check "same contents as the FUSE mount" sh -c "${SUMS} | diff /expected/sums -"
t_eq "symlink target" hello.txt "$(readlink link)"
cd /
t_check "umount" umount /mnt
${rw}
`,
        });
        assert.equal(r.ok, true, `${summarize(r)}\n${r.log}`);
        assert.equal(r.release, mod.release);
        assert.equal(r.passed.length, refusal === null ? 8 : 12, r.passed.join(", "));
        if (refusal !== null) assert.equal(sha256File(img), before, "a refused and a read-only mount change nothing");
        assertFsckClean(img);
        console.log(`${summarize(r)} (module built with ${mod.via}); whole VM ${r.totalSeconds.toFixed(1)} s`);
      } finally {
        await Deno.remove(img);
        await mod.dispose();
      }
    },
  });
}
