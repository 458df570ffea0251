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
import { assertFsckClean, tmpImage } from "../fs/_testutil.ts";
import { decodeSuperblock } from "../format/superblock.ts";
import { decodeInode } from "../format/inode.ts";
import { crc32cSeeded } from "../format/crc.ts";
import { vmTestKernelDir } from "./_vmtestutil.ts";
import { staticToolPath } from "./static_tool.ts";
import { runInVm, summarize } from "./qemu.ts";
import { buildModule } from "./build.ts";

const dec = new TextDecoder();

/** Runs a shell script in `cwd`; returns stdout (asserting exit 0). */
async function sh(script: string, cwd: string, env: Record<string, string> = {}): Promise<string> {
  const r = await new Deno.Command("sh", { args: ["-c", script], cwd, env, stdout: "piped", stderr: "piped" })
    .output();
  assertEquals(r.code, 0, dec.decode(r.stderr));
  return dec.decode(r.stdout);
}

/** The static test helper vxt (src/kernel/vxt.c, shared, cached); null when gcc -static cannot build it. */
export async function buildVxt(): Promise<string | null> {
  try {
    return await staticToolPath("vxt.c", { opt: "-O1" });
  } catch (e) {
    console.warn(`vxt.c did not build: ${e instanceof Error ? e.message : e}`);
    return null;
  }
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

/** An ACL in the xattr form (FORMAT.md 7): version 2, then {tag, perm, id} entries; hex. */
function aclHex(entries: [number, number, number][]): string {
  const b = new Uint8Array(4 + 8 * entries.length);
  const v = new DataView(b.buffer);
  v.setUint32(0, 2, true);
  entries.forEach(([tag, perm, id], i) => {
    v.setUint16(4 + 8 * i, tag, true);
    v.setUint16(6 + 8 * i, perm, true);
    v.setUint32(8 + 8 * i, id >>> 0, true);
  });
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}
const ACL = aclHex([[1, 6, -1], [2, 4, 1000], [4, 4, -1], [16, 5, -1], [32, 0, -1]]);
const ACL_MODE = aclHex([[1, 7, -1], [4, 5, -1], [32, 0, -1]]);
const DACL = aclHex([[1, 7, -1], [2, 5, 1000], [4, 5, -1], [16, 7, -1], [32, 1, -1]]);

/**
 * The write probe, run in the mount's root: every namespace operation with
 * its errnos, attributes and ACLs, timestamps of parents. Same output
 * format as PROBE_READ; its last lines list the tree it leaves.
 */
export const PROBE_WRITE = `
umask 022
p() { k=$1; shift; printf '%s: %s\\n' "$k" "$("$@" 2>&1 | tr '\\n' ' ' | sed 's/ $//')"; }
N255=$(printf '%0255d' 0); N256=$(printf '%0256d' 0); L200=$(awk 'BEGIN { for (i = 0; i < 100; i++) printf "l/" }')
touched() { $VXT times "$1" | awk -v w="$2" '{ split($w, a, "."); print (a[1] == 1 ? "same" : "changed") }'; }
reset() { $VXT utimens "$1" 1 0 1 0 > /dev/null; }
p mkdir $VXT mkdir w 755
p mkdir-exists $VXT mkdir w 755
p mkdir-stat $VXT stat w
reset w
p create $VXT open w/f 65 666
p create-mode $VXT stat w/f
p create-parent-mtime touched w 2
p create-excl-exists $VXT open w/f 193 644
p name-255 $VXT open w/$N255 65 644
p name-256 $VXT open w/$N256 65 644
p mkdir-name-256 $VXT mkdir w/$N256 755
p lookup-name-256 $VXT stat w/$N256
p link $VXT link w/f w/g
p link-exists $VXT link w/f w/g
p link-dir $VXT link w w/dirlink
p link-nlink $VXT stat w/f
reset w
p unlink $VXT unlink w/g
p unlink-parent-mtime touched w 2
p unlink-missing $VXT unlink w/g
p unlink-dir $VXT unlink w
p nlink-after $VXT stat w/f
p sub-mkdir $VXT mkdir w/d1 700
p sub-mkdir2 $VXT mkdir w/d2 755
p dir-nlink $VXT stat w
p sub-file $VXT open w/d1/x 65 644
p rmdir-notempty $VXT rmdir w/d1
p rmdir-notdir $VXT rmdir w/f
p rmdir-missing $VXT rmdir w/nothere
reset w
p rmdir $VXT rmdir w/d2
p rmdir-parent-mtime touched w 2
p dir-nlink2 $VXT stat w
p symlink-fast $VXT symlink target-of-a-fast-link w/sf
p symlink-long $VXT symlink $L200 w/sl
p readlink-fast $VXT readlink w/sf
p readlink-long $VXT readlink w/sl
p symlink-stat $VXT stat w/sl
p symlink-exists $VXT symlink x w/sf
p mknod-fifo $VXT mknod w/fifo 010644 0 0
p mknod-chr $VXT mknod w/chr 020600 1 3
p mknod-blk $VXT mknod w/blk 060600 259 70000
p mknod-sock $VXT mknod w/sock 0140644 0 0
p rdev stat -c '%F %t %T' w/chr w/blk w/fifo w/sock
p rename $VXT rename2 w/f w/f2 0
p rename-missing $VXT rename2 w/f w/f3 0
p rename-over-create $VXT open w/h 65 644
p rename-over $VXT rename2 w/h w/f2 0
p rename-over-stat $VXT stat w/f2
p rename-noreplace-exists $VXT rename2 w/f2 w/sf noreplace
p rename-noreplace $VXT rename2 w/f2 w/f4 noreplace
p rename-file-over-dir $VXT rename2 w/f4 w/d1 0
p rename-dir-over-file $VXT rename2 w/d1 w/f4 0
p rename-mk $VXT mkdir w/d3 755
p rename-mk2 $VXT mkdir w/d4 755
p rename-mk3 $VXT open w/d4/x 65 644
p rename-mk4 $VXT mkdir w/d5 755
p rename-dir-over-nonempty $VXT rename2 w/d3 w/d4 0
p rename-dir-over-empty $VXT rename2 w/d3 w/d5 0
p rename-into-self $VXT rename2 w/d1 w/d1/sub 0
reset w; reset w/d1
p rename-cross-dir $VXT rename2 w/d4 w/d1/d4 0
p rename-cross-old-mtime touched w 2
p rename-cross-new-mtime touched w/d1 2
p rename-cross-nlink $VXT stat w/d1
p rename-cross-dotdot sh -c '[ "$(stat -c %i w/d1/d4/..)" = "$(stat -c %i w/d1)" ] && echo same'
p exchange $VXT rename2 w/sf w/d1 exchange
p exchange-stat $VXT stat w/sf
p exchange-stat2 $VXT stat w/d1
p exchange-dotdot sh -c '[ "$(stat -c %i w/sf/d4/..)" = "$(stat -c %i w/sf)" ] && echo same'
p exchange-missing $VXT rename2 w/f4 w/nothere exchange
p exchange-dirs $VXT rename2 w/d5 w/sf/d4 exchange
p exchange-dirs-nlink $VXT stat w
p xattr-set $VXT set w/f4 user.k 6869
p xattr-create-exists $VXT set w/f4 user.k 00 create
p xattr-replace-missing $VXT set w/f4 user.m 00 replace
p xattr-replace $VXT set w/f4 user.k 7878 replace
p xattr-get $VXT get w/f4 user.k
p xattr-empty $VXT set w/f4 user.e -
p xattr-empty-get $VXT get w/f4 user.e
p xattr-rm $VXT rm w/f4 user.e
p xattr-rm-missing $VXT rm w/f4 user.e
p xattr-trusted $VXT set w/f4 trusted.t 01
p xattr-security $VXT set w/f4 security.s 02
p xattr-list $VXT list w/f4
p xattr-name-long $VXT set w/f4 user.$N255 01
p xattr-value-big $VXT setlen w/f4 user.big 65537
p xattr-value-max $VXT setlen w/f4 user.max 1000
p xattr-dir $VXT set w user.d 01
p xattr-symlink $VXT lset w/sl user.x 01
p xattr-fifo $VXT set w/fifo user.x 01
p xattr-unpriv-trusted $VXT runas 1000 1000 $VXT set w/f4 trusted.u 01
p xattr-list-final $VXT list w/f4
p acl-set $VXT set w/f4 system.posix_acl_access ${ACL}
p acl-mode $VXT stat w/f4
p acl-get $VXT get w/f4 system.posix_acl_access
p acl-granted $VXT runas 1000 1000 $VXT open w/f4 0
p acl-denied $VXT runas 1001 1001 $VXT open w/f4 0
p acl-equiv $VXT set w/f4 system.posix_acl_access ${ACL_MODE}
p acl-equiv-mode $VXT stat w/f4
p acl-equiv-get $VXT get w/f4 system.posix_acl_access
p acl-default-file $VXT set w/f4 system.posix_acl_default ${DACL}
p acl-dacl-mkdir $VXT mkdir w/dacl 755
p acl-default-dir $VXT set w/dacl system.posix_acl_default ${DACL}
p acl-inherit $VXT open w/dacl/c 65 666
p acl-inherit-mode $VXT stat w/dacl/c
p acl-inherit-get $VXT get w/dacl/c system.posix_acl_access
p acl-inherit-dir $VXT mkdir w/dacl/sub 777
p acl-inherit-dir-mode $VXT stat w/dacl/sub
p acl-inherit-dir-default $VXT get w/dacl/sub system.posix_acl_default
p acl-inherit-dir-access $VXT get w/dacl/sub system.posix_acl_access
p acl-rm $VXT rm w/dacl system.posix_acl_default
p acl-rm-missing $VXT rm w/dacl system.posix_acl_default
p acl-chmod-set $VXT set w/f4 system.posix_acl_access ${ACL}
p acl-chmod chmod 604 w/f4
p acl-chmod-get $VXT get w/f4 system.posix_acl_access
p unpriv-create $VXT runas 1000 1000 $VXT open w/u 65 644
p unpriv-mkdir $VXT runas 1000 1000 $VXT mkdir w/u 755
p unpriv-unlink $VXT runas 1000 1000 $VXT unlink w/f4
p sticky-mk $VXT mkdir w/st 1777
p sticky-chmod chmod 1777 w/st
p sticky-create $VXT runas 1000 1000 $VXT open w/st/a 65 644
p sticky-unlink-other $VXT runas 1001 1001 $VXT unlink w/st/a
p sticky-unlink-own $VXT runas 1000 1000 $VXT unlink w/st/a
p unlink-open sh -c 'echo still-here > w/ou; exec 3< w/ou; $VXT unlink w/ou; cat <&3; exec 3<&-'
`;

/** The tree a probe leaves, without times and inode numbers: `PATH MODE SIZE NLINK UID GID MAJ MIN DATA`. */
export const LIST_NS = `
find . | LC_ALL=C sort | while read -r p; do
	s=$(stat -c '%f %s %h %u %g %t %T' "$p")
	if [ -L "$p" ]; then x=$(readlink "$p"); elif [ -f "$p" ]; then x=$(sha256sum < "$p" | cut -d' ' -f1); else x=-; fi
	echo "$p $s $x"
done
`;

/** Fills an image through the FUSE mount; returns it, the probe's output and inode numbers. */
async function makeImage(vxt: string): Promise<{ img: string; probe: string; inos: Record<string, number> }> {
  let probe = "";
  let img = "";
  const inos: Record<string, number> = {};
  await withMount({ size: 32 << 20, keepImage: true, options: "allow_other" }, async (mnt, image) => {
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

/** Runs PROBE_WRITE and LIST_NS through the FUSE mount of `img` (changing it); returns both outputs. */
async function fuseWriteProbe(img: string, vxt: string): Promise<{ probe: string; list: string }> {
  let probe = "", list = "";
  await withMount({ image: img, options: "allow_other" }, async (mnt) => {
    const env = { VXT: vxt, PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" };
    probe = await sh(PROBE_WRITE, mnt, env);
    list = await sh(`cd w && ${LIST_NS}`, mnt, env);
  });
  return { probe, list };
}

/** LIST_NS of w/ and the names of big/ through the FUSE mount of `img` (read only). */
async function fuseList(img: string, dir: string): Promise<string> {
  let list = "";
  await withMount({ image: img, options: "ro" }, async (mnt) => {
    list = await sh(`cd ${dir} && ${LIST_NS}`, mnt);
  });
  return list;
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

/** What both kernels' runs share, made once: the helper, the FUSE-made image, both FUSE probes. */
interface Shared {
  vxt: string;
  base: string;
  probe: string;
  inos: Record<string, number>;
  fuse: { probe: string; list: string };
}
let shared: Promise<Shared | null> | null = null;

async function prepare(): Promise<Shared | null> {
  const vxt = await buildVxt();
  if (!vxt) return null;
  const { img, probe, inos } = await makeImage(vxt);
  const oracle = Deno.makeTempFileSync({ suffix: ".img" });
  Deno.copyFileSync(img, oracle);
  const fuse = await fuseWriteProbe(oracle, vxt);
  Deno.removeSync(oracle);
  globalThis.addEventListener("unload", () => {
    for (const f of [img]) {
      try {
        Deno.removeSync(f);
      } catch { /* gone */ }
    }
  });
  return { vxt, base: img, probe, inos, fuse };
}

for (const series of ["6.1", "6.12"] as const) {
  Deno.test(`kernel module on ${series} (QEMU): xattrs and ACLs read as the FUSE mount shows them; damage is EUCLEAN`, async (t) => {
    const kdir = await vmTestKernelDir("module_ns_test", series);
    if (!kdir) return;
    shared ??= prepare();
    const sh0 = await shared;
    if (!sh0) {
      console.warn("module_ns_test: gcc -static failed (libc6-dev), skipped");
      return;
    }
    const { vxt, probe, inos, fuse } = sh0;
    const out = await Deno.makeTempDir({ prefix: "vexfs-ko-" });
    const extra: string[] = [];
    const img = Deno.makeTempFileSync({ suffix: ".img" });
    const rw = Deno.makeTempFileSync({ suffix: ".img" });
    const big = tmpImage(32 << 20, 1024, 8192);
    try {
      Deno.copyFileSync(sh0.base, img);
      Deno.copyFileSync(sh0.base, rw);
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
        disks: [img, ...extra, rw, big],
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
t_check "mount rw" mount -t vexfs /dev/vde /mnt
echo WPROBE-BEGIN
cd /mnt && { ${PROBE_WRITE} } ; cd /tmp
echo WPROBE-END
echo WLIST-BEGIN
cd /mnt/w && { ${LIST_NS} } ; cd /tmp
echo WLIST-END
# ext4's answers where the FUSE mount has none to compare with
t_check "whiteout source" vxt open /mnt/w/wo 65 644
t_eq "RENAME_WHITEOUT" OK "$(vxt rename2 /mnt/w/wo /mnt/w/wo2 whiteout)"
t_eq "the whiteout is a 0:0 character device" "character special file 0 0" "$(stat -c '%F %t %T' /mnt/w/wo)"
t_eq "the attribute block fills: ENOSPC as ext4" ENOSPC "$(i=0; while [ $i -lt 200 ]; do r=$(vxt setlen /mnt/w/fifo trusted.fill-$i 100); [ "$r" = OK ] || break; i=$((i + 1)); done; echo $r)"
# O_TMPFILE: the FUSE mount has none (EOPNOTSUPP), ext4 has
t_eq "O_TMPFILE linked" OK "$(vxt tmpfile /mnt/w 600 /mnt/w/tl)"
t_eq "O_TMPFILE content" tmp "$(cat /mnt/w/tl)"
t_eq "O_TMPFILE stat" "100600 1 0 0 3" "$(vxt stat /mnt/w/tl)"
t_eq "O_TMPFILE never linked" OK "$(vxt tmpfile /mnt/w 600)"
t_check "umount rw" umount /mnt
# acl/noacl as ext4: ACL names neither listed nor settable, no inheritance
t_check "mount noacl" mount -t vexfs -o noacl /dev/vda /mnt
t_eq "noacl shown in the mount options" 1 "$(grep -c '^/dev/vda /mnt vexfs .*noacl' /proc/mounts)"
t_eq "noacl: ACL names not listed" - "$(vxt list /mnt/acl/file)"
t_eq "noacl: setting an ACL is EOPNOTSUPP" EOPNOTSUPP "$(vxt set /mnt/acl/file system.posix_acl_access ${ACL})"
t_eq "noacl: a default ACL is not inherited, the umask applies" "100644 1 0 0 0" "$(umask 022; vxt open /mnt/acl/dir/n 65 666 >/dev/null; vxt stat /mnt/acl/dir/n)"
t_check "remount acl" mount -o remount,acl /mnt
t_eq "acl: ACL names listed again" system.posix_acl_access "$(vxt list /mnt/acl/file)"
t_check "umount noacl" umount /mnt
t_check "mount the 1 KiB-block image" mount -t vexfs /dev/vdf /mnt
t_check "mkdir big" mkdir /mnt/big
t_eq "3000 names created" OK "$(vxt create-many /mnt/big 3000 a-much-longer-name-prefix)"
t_eq "3000 names listed" 3000 "$(ls /mnt/big | wc -l)"
t_eq "lookups after the splits" "/mnt/big/a-much-longer-name-prefix-0 /mnt/big/a-much-longer-name-prefix-2718 /mnt/big/a-much-longer-name-prefix-2999" "$(ls -d /mnt/big/a-much-longer-name-prefix-0 /mnt/big/a-much-longer-name-prefix-2718 /mnt/big/a-much-longer-name-prefix-2999 | tr '\n' ' ' | sed 's/ $//')"
t_eq "a duplicate name is EEXIST" EEXIST "$(vxt open /mnt/big/a-much-longer-name-prefix-77 193 644)"
t_eq "rmdir of the big directory is ENOTEMPTY" ENOTEMPTY "$(vxt rmdir /mnt/big)"
t_eq "1500 names removed" OK "$(vxt unlink-many /mnt/big 1500 a-much-longer-name-prefix)"
t_eq "1500 names left" 1500 "$(ls /mnt/big | wc -l)"
t_eq "a removed name is gone" ENOENT "$(vxt stat /mnt/big/a-much-longer-name-prefix-5)"
t_check "umount big" umount /mnt
`,
      });
      console.log(`module_ns_test ${series}: ${summarize(r)}, VM ${r.totalSeconds.toFixed(1)} s`);
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
      const wlines = r.log.split("\n").map((l) => l.replace(/\r$/, ""));
      await t.step("every write probe equals the FUSE mount's", () => {
        const inner = wlines.slice(wlines.indexOf("WPROBE-BEGIN") + 1, wlines.indexOf("WPROBE-END")).join("\n");
        const want = probeLines(fuse.probe);
        const got = probeLines(inner);
        assert(want.size >= 100, `host probe: ${fuse.probe}`);
        const differ = [...want].filter(([k, v]) => got.get(k) !== v).map(([k, v]) =>
          `${k}: FUSE ${v.slice(0, 200)} | kernel ${got.get(k)?.slice(0, 200)}`
        );
        assertEquals(differ, [], "write probes that differ");
      });
      await t.step("the kernel-written images are fsck-clean and the FUSE mount shows the same tree", async () => {
        assertFsckClean(rw);
        assertFsckClean(big);
        const inner = wlines.slice(wlines.indexOf("WLIST-BEGIN") + 1, wlines.indexOf("WLIST-END"))
          .filter((l) => l.startsWith(".")).join("\n");
        const seen = (await fuseList(rw, "w")).trim();
        const want = fuse.list.trim();
        const kernelOnly = (l: string) => !/^\.\/(wo|wo2|tl) /.test(l);
        assertEquals(
          seen.split("\n").filter(kernelOnly).join("\n"),
          want,
          "the FUSE mount's view of the kernel-written tree",
        );
        assertEquals(inner, want, "the kernel's view");
        assert(seen.includes("./wo 2000 0 1 0 0 0 0 -"), "the whiteout as the FUSE mount sees it");
        assert(seen.includes("./tl 8180 3 1 0 0 0 0 "), "the O_TMPFILE file as the FUSE mount sees it");
        const names = (await fuseList(big, "big")).trim().split("\n").filter((l) =>
          l.startsWith("./a-much-longer-name-prefix-")
        );
        assertEquals(names.length, 1500);
        assert(names.every((l) => Number(/a-much-longer-name-prefix-(\d+)/.exec(l)![1]) >= 1500));
        // the big directory's root rose a level (FORMAT.md 6): an index block of level 1
        const b = Deno.readFileSync(big);
        let raised = false;
        for (let off = 0; off < b.length && !raised; off += 1024) {
          raised = b[off] === 0x44 && b[off + 1] === 0x49 && b[off + 2] === 0x52 && b[off + 3] === 0x58 &&
            b[off + 4] === 1;
        }
        assert(raised, "a level-1 index block in the 1 KiB-block image");
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
      for (const f of [img, ...extra, rw, big]) await Deno.remove(f).catch(() => {});
      await Deno.remove(out, { recursive: true });
    }
  });
}
