/**
 * The kernel module, read-only, in Debian's 6.1 and 6.12 kernels under QEMU
 * (src/kernel/qemu.ts): an image made and filled through the FUSE mount
 * (directories, a hashed directory of 300 names, a 3 MB file, a sparse file,
 * fast and long symlinks, a fifo, a device node) is mounted with
 * `mount -t vexfs -o ro` in the VM, and the tree it shows (names, mode, size,
 * links, owner, mtime, blocks, device numbers, the sha256 of every file, the
 * target of every symlink) must equal what the FUSE mount showed on the host.
 * Damaged images must be refused or give EUCLEAN with the module's dmesg
 * line, never an oops: an unknown incompat feature, a bad superblock
 * checksum, a corrupted root inode, an inode of an unknown type, a directory
 * whose size claims more blocks than it owns.
 *
 * The module is built by `buildModule` (vexfs build) against the headers of
 * the kernel the VM boots; without those headers or QEMU the test is skipped
 * with a message (scripts/bootstrap.sh test installs both).
 */
import { assert, assertEquals } from "../test_assert.ts";
import { withMount } from "../mount/_testutil.ts";
import { assertFsckClean } from "../fs/_testutil.ts";
import { decodeSuperblock, encodeSuperblock } from "../format/superblock.ts";
import { crc32cSeeded } from "../format/crc.ts";
import { vmTestKernelDir } from "./_vmtestutil.ts";
import { runInVm, summarize } from "./qemu.ts";
import { buildModule } from "./build.ts";

/** The listing both sides print, one line per path: `PATH MODE SIZE NLINK UID GID MTIME BLOCKS MAJ MIN DATA`. */
const LIST = `
find . | LC_ALL=C sort | while read -r p; do
	s=$(stat -c '%f %s %h %u %g %Y %b %t %T' "$p")
	if [ -L "$p" ]; then x=$(readlink "$p"); elif [ -f "$p" ]; then x=$(sha256sum < "$p" | cut -d' ' -f1); else x=-; fi
	echo "$p $s $x"
done
`;

async function sh(script: string, cwd: string): Promise<string> {
  const r = await new Deno.Command("sh", { args: ["-c", script], cwd, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  assertEquals(r.code, 0, dec.decode(r.stderr));
  return dec.decode(r.stdout);
}

/** Fills a fresh image through the FUSE mount; returns it and the host's listing. */
async function makeImage(): Promise<{ img: string; listing: string; fileIno: number; dirIno: number }> {
  let listing = "";
  let fileIno = 0;
  let dirIno = 0;
  let img = "";
  await withMount({ size: 64 << 20, keepImage: true }, async (mnt, image) => {
    img = image;
    await Deno.mkdir(`${mnt}/docs/sub`, { recursive: true });
    await Deno.writeTextFile(`${mnt}/docs/a.md`, "hello kernel\n");
    await Deno.writeTextFile(`${mnt}/docs/sub/b.txt`, "b".repeat(5000));
    await Deno.mkdir(`${mnt}/many`);
    for (let i = 0; i < 300; i++) await Deno.writeTextFile(`${mnt}/many/file-${i}`, `${i}\n`);
    const big = new Uint8Array(3_000_000).map((_, i) => (i * 2654435761) >>> 24);
    await Deno.writeFile(`${mnt}/big.bin`, big);
    const f = await Deno.open(`${mnt}/sparse`, { write: true, create: true });
    await f.seek(10 << 20, Deno.SeekMode.Start);
    await f.write(new TextEncoder().encode("end"));
    f.close();
    await Deno.symlink("docs/a.md", `${mnt}/link`);
    await Deno.symlink("x/".repeat(100) + "long-target", `${mnt}/longlink`);
    await sh("mkfifo fifo && mknod null c 1 3 && mknod blk b 259 70000", mnt);
    fileIno = Deno.statSync(`${mnt}/docs/a.md`).ino!;
    dirIno = Deno.statSync(`${mnt}/many`).ino!;
    listing = await sh(LIST, mnt);
  });
  assertFsckClean(img);
  return { img, listing, fileIno, dirIno };
}

/** Copies an image and changes it with `edit(bytes, blockSize, inodeTableStart)`. */
function damaged(img: string, edit: (b: Uint8Array, bs: number, table: number) => void): string {
  const out = Deno.makeTempFileSync({ suffix: ".img" });
  const b = Deno.readFileSync(img);
  const sb = decodeSuperblock(b.subarray(1024, 2048));
  edit(b, 1024 << sb.logBlockSize, sb.inodeTableStart);
  Deno.writeFileSync(out, b);
  return out;
}

for (const series of ["6.1", "6.12"] as const) {
  Deno.test(`kernel module on ${series} (QEMU): a FUSE-made image reads the same read-only; damage is refused`, async (t) => {
    const kdir = await vmTestKernelDir("module_ro_test", series);
    if (!kdir) return;
    const out = await Deno.makeTempDir({ prefix: "vexfs-ko-" });
    const { img, listing, fileIno, dirIno } = await makeImage();
    const extra: string[] = [];
    try {
      const built = await buildModule({ kernelDir: kdir, out });
      assertEquals(built.warnings, []);
      extra.push(damaged(img, (b) => { // an unknown incompat feature, checksum recomputed
        const sb = decodeSuperblock(b.subarray(1024, 2048));
        sb.featureIncompat |= 0x80;
        b.set(encodeSuperblock(sb), 1024);
      }));
      extra.push(damaged(img, (b) => b[1024 + 40] ^= 1)); // inode_count changed, checksum stale
      extra.push(damaged(img, (b, bs, table) => b[table * bs + 256 + 16] ^= 0x40)); // root inode's size
      extra.push(damaged(img, (b, bs, table) => { // a.md: an unknown file type, checksum recomputed
        const off = table * bs + (fileIno - 1) * 256;
        const v = new DataView(b.buffer, b.byteOffset + off, 256);
        v.setUint16(0, 0xf1a4, true);
        v.setUint32(252, crc32cSeeded(fileIno, b.subarray(off, off + 252)), true);
      }));
      extra.push(damaged(img, (b, bs, table) => { // /many: a size of 2^40 bytes, checksum recomputed
        const off = table * bs + (dirIno - 1) * 256;
        const v = new DataView(b.buffer, b.byteOffset + off, 256);
        v.setBigUint64(16, 1n << 40n, true);
        v.setUint32(252, crc32cSeeded(dirIno, b.subarray(off, off + 252)), true);
      }));
      const r = await runInVm({
        kernel: series,
        disks: [img, ...extra],
        modules: [built.ko],
        timeoutMs: 240_000,
        script: `
t_check "mount ro" mount -t vexfs -o ro /dev/vda /mnt
echo LIST-BEGIN
cd /mnt && { ${LIST} } ; cd /tmp
echo LIST-END
t_eq "lookup of a missing name" missing "$(stat /mnt/docs/nope 2>/dev/null || echo missing)"
t_check "umount" umount /mnt
t_check "unknown incompat refused" sh -c '! mount -t vexfs -o ro /dev/vdb /mnt'
t_check "bad superblock checksum refused" sh -c '! mount -t vexfs -o ro /dev/vdc /mnt'
t_check "corrupt root inode refused" sh -c '! mount -t vexfs -o ro /dev/vdd /mnt'
t_check "mount with a damaged file" mount -t vexfs -o ro /dev/vde /mnt
t_eq "damaged file gives EUCLEAN" "Structure needs cleaning" "$(cat /mnt/docs/a.md 2>&1 | sed 's/.*: //')"
t_eq "readdir still works" "/mnt/docs/a.md /mnt/docs/sub" "$(echo /mnt/docs/*)"
t_check "umount damaged" umount /mnt
t_check "mount with a damaged directory" mount -t vexfs -o ro /dev/vdf /mnt
t_eq "huge directory size gives EUCLEAN" "Structure needs cleaning" "$(ls /mnt/many 2>&1 | sed 's/.*: //')"
t_check "umount damaged directory" umount /mnt
`,
      });
      await t.step("no test failed and no oops", () => {
        assert(r.ok, `${summarize(r)}\n${r.log}`);
        assertEquals(r.failed, []);
      });
      await t.step("the tree, metadata and bytes equal the FUSE mount's", () => {
        const got = r.log.split("\n").map((l) => l.replace(/\r$/, ""));
        const inner = got.slice(got.indexOf("LIST-BEGIN") + 1, got.indexOf("LIST-END")).filter((l) =>
          l.startsWith(".")
        );
        const want = listing.trim().split("\n");
        const differ = want.filter((l) => !inner.includes(l)).map((l) => `FUSE:   ${l}`)
          .concat(inner.filter((l) => !want.includes(l)).map((l) => `kernel: ${l}`));
        assertEquals(differ, [], "lines that differ");
        assertEquals(inner, want);
      });
      await t.step("each refusal is explained in dmesg", () => {
        for (
          const want of [
            /vexfs: vdb: unknown incompatible features 0x80; refusing to mount/,
            /vexfs: vdc: superblock checksum mismatch/,
            /vexfs: vdd: inode 2: checksum mismatch/,
            new RegExp(`vexfs: vde: inode ${fileIno}: unknown file type`),
            new RegExp(`vexfs: vdf: inode ${dirIno}: directory size 1099511627776 does not match`),
          ]
        ) assert(want.test(r.log), `dmesg shows ${want}`);
      });
    } finally {
      for (const f of [img, ...extra]) await Deno.remove(f).catch(() => {});
      await Deno.remove(out, { recursive: true });
    }
  });
}
