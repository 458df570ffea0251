/**
 * The kernel module's namespace and metadata (kernel/namei.c, dir.c,
 * xattr.c, acl.c) against the FUSE mount, in Debian's 6.1 and 6.12 kernels
 * under QEMU (src/kernel/qemu.ts), one boot per kernel.
 *
 * The oracle is the FUSE mount of the same image, which already matches
 * ext4 (src/mount/*_test.ts): one probe script (`PROBE`) runs on the host
 * over the FUSE mount and in the VM over `mount -t vexfs`, printing one
 * `KEY: result` line per check (a value in hex, a listing, or the errno
 * name of a failure, from the static helper `vxt.c`), and every line must
 * be equal. The image holds attributes in an xattr block and in an xattr
 * store (many names, a value in a value run), all four namespaces, access
 * and default ACLs (whose enforcement is probed as an unprivileged user).
 * Damaged images: an xattr block with a bad checksum, a store entry whose
 * name runs past its block (checksum recomputed), an ACL value that is not
 * a valid ACL: each gives EUCLEAN with the module's dmesg line, no oops.
 *
 * Skipped with a message without QEMU, the kernel headers or a static libc.
 */
import { assert, assertEquals } from "../test_assert.ts";
import { withMount } from "../mount/_testutil.ts";
import { assertFsckClean } from "../fs/_testutil.ts";
import { decodeSuperblock } from "../format/superblock.ts";
import { decodeInode } from "../format/inode.ts";
import { crc32cSeeded } from "../format/crc.ts";
import { resolveKernel } from "./debian_kernel.ts";
import { runInVm, summarize } from "./qemu.ts";
import { buildModule } from "./build.ts";

const HERE = new URL(".", import.meta.url).pathname;
const dec = new TextDecoder();

/** Runs a shell script in `cwd`; returns stdout (asserting exit 0). */
async function sh(script: string, cwd: string, env: Record<string, string> = {}): Promise<string> {
  const r = await new Deno.Command("sh", { args: ["-c", script], cwd, env, stdout: "piped", stderr: "piped" })
    .output();
  assertEquals(r.code, 0, dec.decode(r.stderr));
  return dec.decode(r.stdout);
}

function hasQemu(): boolean {
  try {
    return new Deno.Command("qemu-system-x86_64", { args: ["--version"], stdout: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

/** Builds the static test helper vxt (src/kernel/vxt.c); null when gcc -static cannot. */
export async function buildVxt(): Promise<string | null> {
  const out = await Deno.makeTempFile({ prefix: "vxt-" });
  try {
    const r = await new Deno.Command("gcc", {
      args: ["-static", "-O1", "-Wall", "-Werror", "-o", out, `${HERE}vxt.c`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (r.success) return out;
    console.warn(`vxt.c did not build: ${dec.decode(r.stderr)}`);
  } catch (e) {
    console.warn(`gcc missing: ${e}`);
  }
  await Deno.remove(out).catch(() => {});
  return null;
}

/**
 * The read probe: one `KEY: result` line per check, run in the mount's root
 * with $VXT the helper. Results are single lines (newlines become spaces).
 */
export const PROBE_READ = `
p() { k=$1; shift; printf '%s: %s\\n' "$k" "$("$@" 2>&1 | tr '\\n' ' ' | sed 's/ $//')"; }
p list-small $VXT list xa/small
p get-user $VXT get xa/small user.a
p get-empty $VXT get xa/small user.empty
p get-trusted $VXT get xa/small trusted.t
p get-security $VXT get xa/small security.s
p get-missing $VXT get xa/small user.nope
p get-size-probe $VXT get xa/small user.a 0
p get-short-buffer $VXT get xa/small user.a 2
p list-size-probe $VXT list xa/small 0
p list-short-buffer $VXT list xa/small 5
p list-none $VXT list xa/none
p list-dir $VXT list xa
p list-store $VXT list xa/many
p list-store-size $VXT list xa/many 0
p get-store-inline $VXT get xa/many user.name-0077
p get-store-last $VXT get xa/many user.name-0199
p get-store-external sh -c "$VXT get xa/many user.big | sha256sum"
p get-store-external-len $VXT get xa/many user.big 0
p get-store-missing $VXT get xa/many user.name-9999
p list-symlink $VXT list xa/link
p lget-symlink $VXT lget xa/link user.a
p acl-access $VXT get acl/file system.posix_acl_access
p acl-default $VXT get acl/dir system.posix_acl_default
p acl-dir-access $VXT get acl/dir system.posix_acl_access
p acl-inherited $VXT get acl/dir/child system.posix_acl_access
p acl-none $VXT get xa/none system.posix_acl_access
p acl-list $VXT list acl/file
p acl-stat $VXT stat acl/file
p acl-read-granted $VXT runas 1000 1000 $VXT open acl/file 0
p acl-read-denied $VXT runas 1001 1001 $VXT open acl/file 0
p acl-child-granted $VXT runas 1000 1000 $VXT open acl/dir/child 0
p acl-child-denied $VXT runas 1001 1001 $VXT open acl/dir/child 0
`;

/** Fills an image through the FUSE mount; returns it, the probe's output and inode numbers. */
async function makeImage(vxt: string): Promise<{ img: string; probe: string; inos: Record<string, number> }> {
  let probe = "";
  let img = "";
  const inos: Record<string, number> = {};
  await withMount({ size: 64 << 20, keepImage: true, options: "allow_other" }, async (mnt, image) => {
    img = image;
    await sh(
      `
set -e
mkdir xa acl
echo small > xa/small
setfattr -n user.a -v 0x616263 xa/small
setfattr -n user.empty xa/small
setfattr -n trusted.t -v 0x7472 xa/small
setfattr -n security.s -v 0x0102 xa/small
setfattr -n user.d -v 0x01 xa
echo none > xa/none
ln -s small xa/link
echo many > xa/many
i=0; while [ $i -lt 200 ]; do
	setfattr -n user.name-$(printf %04d $i) -v "value-$i-$(printf %060d $i)" xa/many; i=$((i + 1))
done
head -c 20000 /dev/zero | tr '\\0' 'q' > /tmp/big.$$
setfattr -n user.big -v "$(cat /tmp/big.$$)" xa/many
rm /tmp/big.$$
echo secret > acl/file
chmod 600 acl/file
setfacl -m u:1000:r,u:1002:rw,m::r acl/file
mkdir acl/dir
setfacl -d -m u:1000:r,g::r,o::- acl/dir
echo child > acl/dir/child
chmod 755 acl
`,
      mnt,
    );
    for (const p of ["xa/small", "xa/many", "acl/file", "acl/dir"]) inos[p] = Deno.statSync(`${mnt}/${p}`).ino!;
    probe = await sh(PROBE_READ, mnt, { VXT: vxt, PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" });
  });
  assertFsckClean(img);
  return { img, probe, inos };
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

/** The xattr_block field of inode `ino`. */
function xattrBlockOf(b: Uint8Array, bs: number, table: number, ino: number): number {
  const off = table * bs + (ino - 1) * 256;
  return decodeInode(ino, b.subarray(off, off + 256)).xattrBlock;
}

/** Recomputes the checksum of block `blk` seeded with `seed` (FORMAT.md 1). */
function reseal(b: Uint8Array, bs: number, blk: number, seed: number): void {
  const at = blk * bs;
  new DataView(b.buffer, b.byteOffset).setUint32(at + bs - 4, crc32cSeeded(seed, b.subarray(at, at + bs - 4)), true);
}

/** KEY → result lines of a probe's output. */
function probeLines(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of out.split("\n")) {
    const i = l.indexOf(": ");
    if (i > 0 && /^[a-z0-9-]+$/.test(l.slice(0, i))) m.set(l.slice(0, i), l.slice(i + 2).replace(/\r$/, ""));
  }
  return m;
}

for (const series of ["6.1", "6.12"] as const) {
  Deno.test(`kernel module on ${series} (QEMU): xattrs and ACLs read as the FUSE mount shows them; damage is EUCLEAN`, async (t) => {
    if (!hasQemu()) {
      console.warn("module_ns_test: qemu-system-x86_64 missing, skipped (scripts/bootstrap.sh test installs it)");
      return;
    }
    const k = await resolveKernel(series);
    const kdir = `/usr/src/linux-headers-${k.release}`;
    try {
      Deno.statSync(`${kdir}/Makefile`);
    } catch {
      console.warn(`module_ns_test: ${kdir} missing, skipped (apt-get install ${k.headersPackage})`);
      return;
    }
    const vxt = await buildVxt();
    if (!vxt) {
      console.warn("module_ns_test: gcc -static failed (libc6-dev), skipped");
      return;
    }
    const out = await Deno.makeTempDir({ prefix: "vexfs-ko-" });
    const { img, probe, inos } = await makeImage(vxt);
    const extra: string[] = [];
    try {
      const built = await buildModule({ kernelDir: kdir, out });
      assertEquals(built.warnings, []);
      extra.push(damaged(img, (b, bs, table) => { // xa/small's xattr block: one bit flipped
        b[xattrBlockOf(b, bs, table, inos["xa/small"]) * bs + 20] ^= 1;
      }));
      let storeIno = 0;
      extra.push(damaged(img, (b, bs, table) => { // xa/many's store: entry 0's name_len 255, resealed
        storeIno = xattrBlockOf(b, bs, table, inos["xa/many"]);
        const soff = table * bs + (storeIno - 1) * 256;
        const root = new DataView(b.buffer, b.byteOffset + soff + 136, 116);
        const first = Number(root.getBigUint64(16 + 8, true)); // extent 0's physical block (file block 0)
        const used = new DataView(b.buffer, b.byteOffset + first * bs).getUint32(8, true);
        b[first * bs + 24 + 1] = 255;
        new DataView(b.buffer, b.byteOffset + first * bs).setUint32(8, Math.min(used, 200), true);
        reseal(b, bs, first, storeIno);
      }));
      extra.push(damaged(img, (b, bs, table) => { // acl/file's access ACL: version 3, resealed
        const blk = xattrBlockOf(b, bs, table, inos["acl/file"]);
        const at = blk * bs + 16;
        assertEquals(b[at], 4, "the ACL is the block's first entry (namespace system)");
        b[at + 8 + b[at + 1]] = 3;
        reseal(b, bs, blk, inos["acl/file"]);
      }));
      const r = await runInVm({
        kernel: series,
        disks: [img, ...extra],
        modules: [built.ko],
        files: { "/bin/vxt": await Deno.readFile(vxt) },
        timeoutMs: 240_000,
        script: `
export VXT=vxt
t_check "mount ro" mount -t vexfs -o ro /dev/vda /mnt
echo PROBE-BEGIN
cd /mnt && { ${PROBE_READ} } ; cd /tmp
echo PROBE-END
# ext4 answers EOPNOTSUPP for a namespace it has no handler for; the FUSE
# mount answers ENODATA (the FUSE kernel passes every name to the daemon)
t_eq "unknown namespace: EOPNOTSUPP as ext4" EOPNOTSUPP "$(vxt get /mnt/xa/small foo.bar)"
t_check "umount" umount /mnt
t_check "mount with a damaged xattr block" mount -t vexfs -o ro /dev/vdb /mnt
t_eq "damaged xattr block: getxattr EUCLEAN" EUCLEAN "$(vxt get /mnt/xa/small user.a)"
t_eq "damaged xattr block: listxattr EUCLEAN" EUCLEAN "$(vxt list /mnt/xa/small)"
t_eq "other files' attributes still read" 01 "$(vxt get /mnt/xa user.d)"
t_check "umount 2" umount /mnt
t_check "mount with a damaged xattr store" mount -t vexfs -o ro /dev/vdc /mnt
t_eq "damaged store entry: listxattr EUCLEAN" EUCLEAN "$(vxt list /mnt/xa/many)"
t_check "umount 3" umount /mnt
t_check "mount with a damaged ACL" mount -t vexfs -o ro /dev/vdd /mnt
t_eq "invalid ACL: getxattr EUCLEAN" EUCLEAN "$(vxt get /mnt/acl/file system.posix_acl_access)"
t_eq "invalid ACL: open as another user fails" EUCLEAN "$(vxt runas 1000 1000 vxt open /mnt/acl/file 0)"
t_check "umount 4" umount /mnt
`,
      });
      await t.step("no test failed and no oops", () => {
        assert(r.ok, `${summarize(r)}\n${r.log}`);
        assertEquals(r.failed, []);
      });
      await t.step("every probe equals the FUSE mount's", () => {
        const lines = r.log.split("\n").map((l) => l.replace(/\r$/, ""));
        const inner = lines.slice(lines.indexOf("PROBE-BEGIN") + 1, lines.indexOf("PROBE-END")).join("\n");
        const want = probeLines(probe);
        const got = probeLines(inner);
        assert(want.size >= 30, `host probe: ${probe}`);
        const differ = [...want].filter(([k, v]) => got.get(k) !== v).map(([k, v]) =>
          `${k}: FUSE ${v.slice(0, 200)} | kernel ${got.get(k)?.slice(0, 200)}`
        );
        assertEquals(differ, [], "probes that differ");
      });
      await t.step("each damage is explained in dmesg", () => {
        for (
          const want of [
            new RegExp(`vexfs: vdb: inode ${inos["xa/small"]}: xattr block \\d+: bad magic, checksum or size`),
            new RegExp(`vexfs: vdc: inode \\d+: bad xattr entry 0 in store entry block 0`),
            new RegExp(`vexfs: vdd: inode ${inos["acl/file"]}: stored posix_acl_access is not a valid ACL`),
          ]
        ) assert(want.test(r.log), `dmesg shows ${want}`);
      });
    } finally {
      for (const f of [img, ...extra, vxt]) await Deno.remove(f).catch(() => {});
      await Deno.remove(out, { recursive: true });
    }
  });
}
