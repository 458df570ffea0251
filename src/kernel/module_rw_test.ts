/**
 * The kernel module, read-write, in Debian's 6.1 and 6.12 kernels under QEMU
 * (src/kernel/qemu.ts), one VM boot per kernel:
 *
 * - vda, an image made and filled through the FUSE mount, gets a workload in
 *   the kernel: writes at offsets with holes, appends, overwrites, truncate
 *   down and up, fallocate (0, KEEP_SIZE, PUNCH_HOLE), SEEK_DATA/SEEK_HOLE,
 *   fsync, many files, a 16 MiB file, an unlinked open file (when the module
 *   can unlink), remount ro and rw, umount. On the host `vexfs fsck -n -f` is
 *   clean and the FUSE mount shows exactly the tree, bytes and metadata the
 *   VM listed.
 * - vdb, an image without a journal (FORMAT.md 3.1), the same kind of writes;
 *   fsck clean, FUSE listing equal.
 * - vdc and vdd, a file whose inode is damaged (an unknown flag, checksum
 *   recomputed): with errors=remount-ro opening it gives EUCLEAN and the
 *   mount turns read-only; with errors=continue it gives EUCLEAN and writes
 *   elsewhere go on. Either way the superblock records the error (state 3).
 * - vdf, frozen with fsfreeze(8) after unsynced writes and copied whole to
 *   vdg while frozen: the copy is marked clean (no journal replay needed),
 *   fsck-clean, and holds the writes; a write begun while frozen waits and
 *   lands after the thaw.
 * - vde, last: files written and fsync'd, others not, then the VM powers off
 *   without unmounting: vdh, a damaged image mounted with errors=panic,
 *   panics the kernel at the read of its damaged file (sysrq 'o' if it does
 *   not); on the host vdh records the error and vde's journal replays
 *   (fsck -n and the FUSE mount) clean with every fsync'd file intact.
 *
 * The module is built by `buildModule` (vexfs build) against the headers of
 * the kernel the VM boots; without those headers or QEMU the test is skipped
 * with a message (scripts/bootstrap.sh test installs both).
 */
import { assert, assertEquals } from "../test_assert.ts";
import { withMount } from "../mount/_testutil.ts";
import { assertFsckClean } from "../fs/_testutil.ts";
import { mkfs } from "../fs/mkfs.ts";
import { decodeSuperblock } from "../format/superblock.ts";
import { INCOMPAT_RECOVER } from "../format/constants.ts";
import { crc32cSeeded } from "../format/crc.ts";
import { vmTestKernelDir } from "./_vmtestutil.ts";
import { runInVm, summarize } from "./qemu.ts";
import { buildModule } from "./build.ts";
import { staticTool } from "./static_tool.ts";

/** The listing both sides print, one line per path: `PATH MODE SIZE NLINK UID GID MTIME BLOCKS DATA`. */
const LIST = `
find . | LC_ALL=C sort | while read -r p; do
	s=$(stat -c '%f %s %h %u %g %Y %b' "$p")
	if [ -L "$p" ]; then x=$(readlink "$p"); elif [ -f "$p" ]; then x=$(sha256sum < "$p" | cut -d' ' -f1); else x=-; fi
	echo "$p $s $x"
done
`;

const dec = new TextDecoder();

async function sh(script: string, cwd: string): Promise<string> {
  const r = await new Deno.Command("sh", { args: ["-c", script], cwd, stdout: "piped", stderr: "piped" }).output();
  assertEquals(r.code, 0, dec.decode(r.stderr));
  return dec.decode(r.stdout);
}

/** A fresh image (journal or not) filled through the FUSE mount by `fill`. */
async function fuseImage(journal: boolean, fill: (mnt: string) => Promise<void>): Promise<string> {
  const img = Deno.makeTempFileSync({ suffix: ".img" });
  Deno.removeSync(img);
  mkfs(img, { size: 96 << 20, blockSize: 4096, ...(journal ? {} : { journalBlocks: 0 }) });
  await withMount({ image: img, keepImage: true }, async (mnt) => await fill(mnt));
  return img;
}

/** Files the kernel workload writes into (the module may not create names yet). */
async function prepare(mnt: string): Promise<void> {
  for (
    const n of ["sparse", "app", "over", "big", "trunc", "grow", "fa0", "fkeep", "fpunch", "sync1", "sync2", "nosync"]
  ) {
    await Deno.writeTextFile(`${mnt}/${n}`, "");
  }
  await Deno.writeFile(`${mnt}/trunc`, new Uint8Array(100_000).map((_, i) => i & 0xff));
  await Deno.writeFile(`${mnt}/fpunch`, new Uint8Array(64 * 4096).fill(0x5a));
  await Deno.mkdir(`${mnt}/many`);
  for (let i = 0; i < 60; i++) await Deno.writeTextFile(`${mnt}/many/f${i}`, "");
}

/** The damaged-image cases need one file to damage and one to write. */
async function prepareDamage(mnt: string): Promise<void> {
  await Deno.writeFile(`${mnt}/dmg`, new Uint8Array(20_000).fill(7));
  await Deno.writeTextFile(`${mnt}/other`, "");
}

/** The power-cut case. */
async function prepareCrash(mnt: string): Promise<void> {
  for (const n of ["big", "sync1", "sync2", "nosync"]) await Deno.writeTextFile(`${mnt}/${n}`, "");
  await Deno.mkdir(`${mnt}/many`);
  for (let i = 0; i < 40; i++) await Deno.writeTextFile(`${mnt}/many/f${i}`, "");
}

/** The freeze case: one file written before the freeze. */
async function prepareFreeze(mnt: string): Promise<void> {
  await Deno.writeTextFile(`${mnt}/before`, "made through FUSE");
}

/** The listing of an image through the FUSE mount. */
async function fuseListing(img: string): Promise<string> {
  let listing = "";
  await withMount({ image: img, keepImage: true }, async (mnt) => {
    listing = await sh(LIST, mnt);
  });
  return listing;
}

/** The lines the VM printed between `BEGIN-tag` and `END-tag`. */
function block(log: string, tag: string): string[] {
  const got = log.split("\n").map((l) => l.replace(/\r$/, ""));
  return got.slice(got.indexOf(`BEGIN-${tag}`) + 1, got.indexOf(`END-${tag}`)).filter((l) => l.startsWith("."));
}

function assertSameListing(vm: string[], host: string) {
  const want = host.trim().split("\n");
  const differ = want.filter((l) => !vm.includes(l)).map((l) => `FUSE:   ${l}`)
    .concat(vm.filter((l) => !want.includes(l)).map((l) => `kernel: ${l}`));
  assertEquals(differ, [], "lines that differ");
  assertEquals(vm, want);
}

/** Damages file `name`'s inode (an unknown flag), checksum recomputed. */
async function damageInode(img: string, name: string): Promise<void> {
  let ino = 0;
  await withMount({ image: img, keepImage: true }, async (mnt) => {
    ino = (await Deno.stat(`${mnt}/${name}`)).ino!;
  });
  const b = Deno.readFileSync(img);
  const sb = decodeSuperblock(b.subarray(1024, 2048));
  const bs = 1024 << sb.logBlockSize;
  const off = sb.inodeTableStart * bs + (ino - 1) * 256;
  const v = new DataView(b.buffer, b.byteOffset + off, 256);
  v.setUint32(80, v.getUint32(80, true) | 0x8000, true);
  v.setUint32(252, crc32cSeeded(ino, b.subarray(off, off + 252)), true);
  Deno.writeFileSync(img, b);
}

/** The workload of vda and vdb: $1 is the device, $2 a tag. */
const WORKLOAD = `
work() {
	dev=$1; tag=$2
	t_check "$tag mount rw" mount -t vexfs $dev /mnt
	t_check "$tag sparse head" rwtool pwrite /mnt/sparse 0 head
	t_check "$tag sparse mid" rwtool pwrite /mnt/sparse 5000000 middle
	t_check "$tag sparse tail" rwtool pwrite /mnt/sparse 20000003 tail
	t_eq "$tag sparse size" 20000007 "$(stat -c %s /mnt/sparse)"
	t_eq "$tag seek data 4096" 4997120 "$(rwtool seek data 4096 /mnt/sparse)"
	t_eq "$tag seek hole 0" 4096 "$(rwtool seek hole 0 /mnt/sparse)"
	t_eq "$tag seek hole past the last data" 20000007 "$(rwtool seek hole 19999999 /mnt/sparse)"
	t_eq "$tag seek data past the end" ENXIO "$(rwtool seek data 20000007 /mnt/sparse)"
	t_eq "$tag hole reads zeros" 0000000000 "$(dd if=/mnt/sparse bs=1 skip=100000 count=5 2>/dev/null | od -An -tx1 | tr -d ' \\n')"
	echo line1 >> /mnt/app; echo line2 >> /mnt/app; printf 'x%.0s' $(seq 1 5000) >> /mnt/app
	t_eq "$tag append" 5012 "$(stat -c %s /mnt/app)"
	t_check "$tag overwrite base" dd if=/dev/urandom of=/mnt/over bs=4096 count=10
	t_check "$tag overwrite middle" dd if=/dev/zero of=/mnt/over bs=100 count=3 seek=7 conv=notrunc
	t_check "$tag big file" dd if=/dev/urandom of=/mnt/big bs=1M count=16
	t_check "$tag big write past the end" dd if=/dev/urandom of=/mnt/gap bs=3M seek=1 count=3
	t_eq "$tag the gap reads zeros" 00000000 "$(dd if=/mnt/gap bs=1 skip=1000000 count=4 2>/dev/null | od -An -tx1 | tr -d ' \\n')"
	t_check "$tag write into a fallocated tail" dd if=/dev/urandom of=/mnt/fkeep2 bs=64k count=3
	t_check "$tag fallocate keep past the end" rwtool falloc keep 196608 1048576 /mnt/fkeep2
	t_check "$tag append into the fallocated tail" dd if=/dev/urandom of=/mnt/fkeep2 bs=100k count=12 seek=2 conv=notrunc
	t_eq "$tag short copy writes what it copied" 2097152 "$(rwtool shortwrite /mnt/short 2)"
	t_eq "$tag short copy: blocks past the end freed" "2097152 4096" "$(stat -c '%s %b' /mnt/short)"
	t_eq "$tag short copy appended" "2097152 4194304" "$(rwtool shortwrite /mnt/short 2) $(stat -c %s /mnt/short)"
	t_check "$tag truncate down" truncate -s 12345 /mnt/trunc
	t_check "$tag truncate up" truncate -s 300000 /mnt/grow
	t_check "$tag write after growing" rwtool pwrite /mnt/grow 299990 end
	t_check "$tag fallocate 0" rwtool falloc 0 0 1000000 /mnt/fa0
	t_eq "$tag fallocate 0 size" 1000000 "$(stat -c %s /mnt/fa0)"
	t_eq "$tag fallocated reads zeros" 00000000 "$(dd if=/mnt/fa0 bs=1 skip=500000 count=4 2>/dev/null | od -An -tx1 | tr -d ' \\n')"
	t_check "$tag write into fallocated" rwtool pwrite /mnt/fa0 8192 inside
	t_check "$tag fallocate keep" rwtool falloc keep 0 409600 /mnt/fkeep
	t_eq "$tag keep size" 0 "$(stat -c %s /mnt/fkeep)"
	t_check "$tag punch" rwtool falloc punch 10000 100000 /mnt/fpunch
	t_eq "$tag punch reads zeros" 0000 "$(dd if=/mnt/fpunch bs=1 skip=50000 count=2 2>/dev/null | od -An -tx1 | tr -d ' \\n')"
	t_eq "$tag punch keeps the rest" 5a5a "$(dd if=/mnt/fpunch bs=1 skip=9998 count=2 2>/dev/null | od -An -tx1 | tr -d ' \\n')"
	t_eq "$tag punch size" 262144 "$(stat -c %s /mnt/fpunch)"
	i=0; while [ $i -lt 60 ]; do echo "file $i" > /mnt/many/f$i; i=$((i + 1)); done
	t_eq "$tag many files" "file 59" "$(cat /mnt/many/f59)"
	t_check "$tag fsync" rwtool fsync /mnt/big
	if rwtool orphan /mnt/orphan 2 > /tmp/orph-$tag; then
		t_eq "$tag unlinked open file keeps its bytes" "open ok" "$(cat /tmp/orph-$tag | tr '\\n' ' ' | sed 's/ $//')"
	else
		echo "# $tag: unlink not available yet: $(cat /tmp/orph-$tag)"
	fi
	t_check "$tag remount ro" mount -o remount,ro /mnt
	t_eq "$tag ro refuses writes" EROFS "$(rwtool pwrite /mnt/app 0 x)"
	t_check "$tag remount rw" mount -o remount,rw /mnt
	t_check "$tag write after remount" rwtool pwrite /mnt/app 5012 more
	t_check "$tag umount" umount /mnt
	t_check "$tag mount again" mount -t vexfs $dev /mnt
	echo BEGIN-$tag
	cd /mnt && { ${LIST} } ; cd /tmp
	echo END-$tag
	t_check "$tag final umount" umount /mnt
}
`;

for (const series of ["6.1", "6.12"] as const) {
  Deno.test(`kernel module on ${series} (QEMU): read-write workloads, errors=, and a power cut`, async (t) => {
    const kdir = await vmTestKernelDir("module_rw_test", series);
    if (!kdir) return;
    const out = await Deno.makeTempDir({ prefix: "vexfs-ko-" });
    const imgs: string[] = [];
    try {
      const built = await buildModule({ kernelDir: kdir, out });
      assertEquals(built.warnings, []);
      const [main, nojournal, dmgRo, dmgCont, crash] = [
        await fuseImage(true, prepare),
        await fuseImage(false, prepare),
        await fuseImage(true, prepareDamage),
        await fuseImage(true, prepareDamage),
        await fuseImage(true, prepareCrash),
      ];
      const frozen = await fuseImage(true, prepareFreeze);
      const copy = Deno.makeTempFileSync({ suffix: ".img" });
      Deno.truncateSync(copy, Deno.statSync(frozen).size);
      const dmgPanic = await fuseImage(true, prepareDamage);
      await damageInode(dmgPanic, "dmg");
      imgs.push(main, nojournal, dmgRo, dmgCont, crash, frozen, copy, dmgPanic);
      await damageInode(dmgRo, "dmg");
      await damageInode(dmgCont, "dmg");
      const r = await runInVm({
        kernel: series,
        disks: imgs,
        modules: [built.ko],
        files: { "/bin/rwtool": await staticTool("rwtool.c") },
        timeoutMs: 400_000,
        script: `${WORKLOAD}
work /dev/vda main
work /dev/vdb nojournal
t_check "remount-ro: mount" mount -t vexfs -o errors=remount-ro /dev/vdc /mnt
t_eq "remount-ro: damaged file gives EUCLEAN" "Structure needs cleaning" "$(cat /mnt/dmg 2>&1 >/dev/null | sed 's/.*: //')"
t_check "remount-ro: now read-only" grep -q ' /mnt vexfs ro,' /proc/mounts
t_eq "remount-ro: writes give EROFS" EROFS "$(rwtool pwrite /mnt/other 0 x)"
t_check "remount-ro: umount" umount /mnt
t_check "continue: mount" mount -t vexfs -o errors=continue /dev/vdd /mnt
t_eq "continue: damaged file gives EUCLEAN" "Structure needs cleaning" "$(cat /mnt/dmg 2>&1 >/dev/null | sed 's/.*: //')"
t_check "continue: still read-write" grep -q ' /mnt vexfs rw,' /proc/mounts
t_check "continue: writes go on" rwtool pwrite /mnt/other 0 still-writing
t_check "continue: umount" umount /mnt
t_check "freeze: mount" mount -t vexfs -o commit=60 /dev/vdf /mnt
t_check "freeze: unsynced big file" dd if=/dev/urandom of=/mnt/fz bs=1M count=4
echo "written before the freeze" > /mnt/fz2
t_check "freeze: fsfreeze --freeze" fsfreeze --freeze /mnt
(echo "written while frozen" > /mnt/during; echo done > /tmp/during-done) &
t_check "freeze: copy the frozen device" dd if=/dev/vdf of=/dev/vdg bs=1M iflag=direct oflag=direct
t_eq "freeze: a write begun while frozen waits" waiting "$([ -e /tmp/during-done ] && echo done || echo waiting)"
t_check "freeze: fsfreeze --unfreeze" fsfreeze --unfreeze /mnt
wait
t_eq "freeze: the waiting write lands after the thaw" "written while frozen" "$(cat /mnt/during)"
echo "FREEZE-SUMS $(sha256sum /mnt/fz | cut -d' ' -f1)"
t_check "freeze: umount" umount /mnt
t_check "crash: mount" mount -t vexfs -o commit=60 /dev/vde /mnt
t_check "crash: big written" dd if=/dev/urandom of=/mnt/big bs=1M count=8
t_check "crash: big fsync" rwtool fsync /mnt/big
t_check "crash: sync1" rwtool pwrite /mnt/sync1 0 durable-one
t_check "crash: sync2 at an offset" rwtool pwrite /mnt/sync2 70000 durable-two
i=0; while [ $i -lt 40 ]; do echo "fsynced $i" > /mnt/many/f$i; rwtool fsync /mnt/many/f$i; i=$((i + 1)); done
echo "not fsynced" > /mnt/nosync
echo "CRASH-SUMS $(sha256sum /mnt/big | cut -d' ' -f1) $(sha256sum /mnt/sync1 | cut -d' ' -f1) $(sha256sum /mnt/sync2 | cut -d' ' -f1) $(for i in $(seq 0 39); do cat /mnt/many/f$i; done | sha256sum | cut -d' ' -f1)"
echo "vmtest: dmesg begin"
dmesg | sed 's/^/dmesg: /'
echo "vmtest: dmesg end"
echo "CRASH-NOW"
mkdir -p /mnt2
mount -t vexfs -o errors=panic /dev/vdh /mnt2 && echo "PANIC-MOUNTED"
cat /mnt2/dmg > /dev/null 2>&1
echo "NO-PANIC"
echo o > /proc/sysrq-trigger
`,
      });
      // errors=panic, last: the damaged file panics the VM, which is the power cut
      const panicLine = /Kernel panic - not syncing: vexfs: vdh: panic forced after error \(errors=panic\)/;
      const crashes = r.crashes.filter((l) => !panicLine.test(l));
      await t.step("no test failed and no oops", () => {
        assert(crashes.length === 0 && !r.timedOut, `${summarize(r)}\n${r.log}`);
        const details = r.log.split("\n").filter((l) => /^(not ok|# )|vexfs|jbd2|JBD2/.test(l)).join("\n");
        assertEquals(r.failed, [], details);
        assert(r.log.includes("CRASH-NOW"), `the script ran to the power cut\n${r.log}`);
        assert(r.passed.length >= 60, `${r.passed.length} checks passed`);
      });
      await t.step("fsck is clean and the FUSE mount shows what the kernel wrote", async () => {
        for (const [img, tag] of [[main, "main"], [nojournal, "nojournal"]]) {
          assertFsckClean(img);
          assertSameListing(block(r.log, tag), await fuseListing(img));
        }
      });
      await t.step("errors=panic panics at the damage, after recording it", () => {
        assert(r.log.includes("PANIC-MOUNTED"), "mounted with errors=panic");
        assert(r.crashes.some((l) => panicLine.test(l)), `the panic line\n${r.log.slice(-3000)}`);
        assert(!r.log.includes("NO-PANIC"), "the read of the damaged file did not panic");
      });
      await t.step("errors= recorded the error in the superblock", () => {
        for (const img of [dmgRo, dmgCont, dmgPanic]) {
          const sb = decodeSuperblock(Deno.readFileSync(img).subarray(1024, 2048));
          assertEquals(sb.state, 3);
          assert((sb.errorCount ?? 0) >= 1, "error_count");
        }
      });
      await t.step("a copy taken while frozen is clean without a replay and holds the writes", async () => {
        const line = r.log.split("\n").find((l) => l.startsWith("FREEZE-SUMS "));
        assert(line, "the VM printed the sum");
        const sb = decodeSuperblock(Deno.readFileSync(copy).subarray(1024, 2048));
        assertEquals(sb.featureIncompat & INCOMPAT_RECOVER, 0, "the copy needs no journal replay");
        assertEquals(sb.state, 1, "the copy is marked clean");
        assertFsckClean(copy);
        await withMount({ image: copy, keepImage: true }, async (mnt) => {
          assertEquals(await Deno.readTextFile(`${mnt}/fz2`), "written before the freeze\n");
          assertEquals(await Deno.readTextFile(`${mnt}/before`), "made through FUSE");
          assertEquals((await sh("sha256sum fz | cut -d' ' -f1", mnt)).trim(), line.replace(/\r$/, "").split(" ")[1]);
          assert(
            !(await sh("ls", mnt)).split("\n").includes("during"),
            "the write begun while frozen is not in the copy",
          );
        });
        assertFsckClean(copy);
        assertFsckClean(frozen);
      });
      await t.step("after the power cut the journal replays clean with every fsync'd file intact", async () => {
        const line = r.log.split("\n").find((l) => l.startsWith("CRASH-SUMS "));
        assert(line, "the VM printed the sums");
        const want = line.replace(/\r$/, "").split(" ").slice(1);
        assertFsckClean(crash);
        let got: string[] = [];
        await withMount({ image: crash, keepImage: true }, async (mnt) => {
          got = (await sh(
            "for f in big sync1 sync2; do sha256sum $f | cut -d' ' -f1; done; for i in $(seq 0 39); do cat many/f$i; done | sha256sum | cut -d' ' -f1",
            mnt,
          )).trim().split("\n");
        });
        assertEquals(got, want);
        assertFsckClean(crash);
      });
    } finally {
      for (const f of imgs) await Deno.remove(f).catch(() => {});
      await Deno.remove(out, { recursive: true });
    }
  });
}
