/**
 * What the kernel module frees that it used to refuse (EOPNOTSUPP): files
 * and directories whose attributes live in an xattr store (FORMAT.md §7.2),
 * collection roots removed by rmdir or renamed over (the collection is
 * dropped), and `VEXFS_IOC_DROP_COLLECTION` (docs/IOCTL.md §3.14), in Debian's
 * 6.1 and 6.12 kernels under QEMU, against the FUSE mount doing the same.
 *
 * The image is made on the host: `big`, a collection of 3,000 8-d vectors in
 * ten subdirectories (made offline by the engine), with the HNSW graph the
 * FUSE mount builds and writes; then through the FUSE mount files and a
 * directory with attributes too big for one block (so they live in a store),
 * a hard-linked one, empty collection roots, a collection whose only file
 * keeps a hard link outside it, and a collection that stays. One workload
 * (shell and the static `vexfs_vectool.c`) runs in the VM on the module and
 * on the host on the FUSE mount of a copy: the same exit codes and ioctl
 * answers, then `vexfs fsck -n` finds both images clean and they hold the
 * same tree, bytes, attributes, vectors and collections (the dropped ones
 * gone, their files byte for byte as they were).
 *
 * A second image holds what a crash leaves (made offline): an owner of an
 * xattr store unlinked while open (an orphan with its store), and a store
 * already on the orphan list after its owner was freed. The module's orphan
 * cleanup at mount must free all of it: afterwards the free inode and block
 * counts are those of before the files existed (but for the directory's
 * growth), and fsck is clean.
 */
import { assert, assertEquals } from "../test_assert.ts";
import { withMount } from "../mount/_testutil.ts";
import { setxattr } from "../mount/_posix.ts";
import { assertFsckClean, tmpImage } from "../fs/_testutil.ts";
import { fsck } from "../fsck/fsck.ts";
import { Vexfs } from "../fs/fs.ts";
import { addOrphan } from "../fs/orphan.ts";
import { IFL_XATTR_IN_STORE, ROOT_INO, S_IFDIR, S_IFMT, S_IFREG } from "../format/constants.ts";
import { createCollection, search2, setVectors } from "../ioctl/client.ts";
import { crc32c } from "../format/crc.ts";
import { vmTestKernelDir } from "./_vmtestutil.ts";
import { staticToolPath } from "./static_tool.ts";
import { runInVm, summarize } from "./qemu.ts";
import { buildModule } from "./build.ts";

const enc = new TextEncoder();
const BIG_DIRS = 10, BIG_PER_DIR = 300, BIG_DIM = 8;

/** Four attributes of 3,000 bytes: more than one 4 KiB xattr block holds. */
function bigXattrs(path: string, seed: number): void {
  for (let i = 0; i < 4; i++) setxattr(path, `user.big${i}`, new Uint8Array(3000).fill((seed * 7 + i) & 0xff));
}

/** The image of the workload, and what its files must look like. */
async function prepare(): Promise<string> {
  const img = tmpImage(64 << 20);
  const fs = Vexfs.open(img);
  try {
    const big = fs.mkdir(ROOT_INO, "big");
    fs.collections.create(big, { dim: BIG_DIM, metric: "l2", elem: "f32" });
    for (let d = 0; d < BIG_DIRS; d++) {
      const sub = fs.mkdir(big, `d${d}`);
      for (let i = 0; i < BIG_PER_DIR; i++) {
        const ino = fs.create(sub, `f${i}`);
        fs.write(ino, 0, enc.encode(`big/d${d}/f${i}\n`));
        fs.collections.setVector(ino, Float32Array.from({ length: BIG_DIM }, (_, j) => (d * 1000 + i) * 0.01 + j));
      }
    }
  } finally {
    fs.close();
  }
  await withMount({ image: img }, async (mnt) => {
    // the mount builds big's HNSW graph and writes it at unmount
    const g = await search2(`${mnt}/big`, new Float32Array(BIG_DIM), 1, { ef: 16 });
    assertEquals(g.method.method, "hnsw");
    await Deno.mkdir(`${mnt}/x/d`, { recursive: true });
    for (const [i, f] of ["a", "b", "open", "keep"].entries()) {
      await Deno.writeTextFile(`${mnt}/x/${f}`, `x/${f} `.repeat(1000 * (i + 1)));
      bigXattrs(`${mnt}/x/${f}`, i);
    }
    await Deno.link(`${mnt}/x/b`, `${mnt}/x/b2`);
    bigXattrs(`${mnt}/x/d`, 9);
    for (const c of ["e", "e2"]) {
      await Deno.mkdir(`${mnt}/${c}`);
      await createCollection(`${mnt}/${c}`, { dim: 4, metric: "l2", elem: "f32", index: c === "e" ? "flat" : "hnsw" });
    }
    await Deno.mkdir(`${mnt}/tmpd`);
    await Deno.writeTextFile(`${mnt}/tmpd/t`, "moved over a collection root");
    await Deno.mkdir(`${mnt}/plain`);
    await Deno.writeTextFile(`${mnt}/plain/x`, "x");
    // hl: its only file keeps a link outside, with its vector
    await Deno.mkdir(`${mnt}/hl`);
    await createCollection(`${mnt}/hl`, { dim: 4, metric: "cosine", elem: "f32", index: "flat" });
    await Deno.writeTextFile(`${mnt}/hl/f`, "hl/f");
    await setVectors(`${mnt}/hl`, [{ ino: Deno.statSync(`${mnt}/hl/f`).ino!, vector: new Float32Array([1, 2, 3, 4]) }]);
    await Deno.link(`${mnt}/hl/f`, `${mnt}/plain/hlink`);
    // keep: stays, with a subdirectory and vectors
    await Deno.mkdir(`${mnt}/keep/sub`, { recursive: true });
    await createCollection(`${mnt}/keep`, { dim: 4, metric: "ip", elem: "f16", index: "flat" });
    const items = [];
    for (let i = 0; i < 5; i++) {
      await Deno.writeTextFile(`${mnt}/keep/sub/k${i}`, `k${i}`);
      items.push({ ino: Deno.statSync(`${mnt}/keep/sub/k${i}`).ino!, vector: new Float32Array([i, 1, 2, 3]) });
    }
    await setVectors(`${mnt}/keep`, items);
  });
  const fs2 = Vexfs.open(img, { readOnly: true });
  try {
    for (const p of ["x/a", "x/b", "x/open", "x/keep", "x/d"]) {
      const ino = p.split("/").reduce((d, n) => fs2.lookup(d, n), ROOT_INO);
      assert(fs2.iget(ino).d.flags & IFL_XATTR_IN_STORE, `${p} keeps its attributes in a store`);
    }
  } finally {
    fs2.close();
  }
  return img;
}

/**
 * The workload, for busybox sh in the VM and sh on the host, with $M the
 * mount: each step prints `R name status` or vexfs_vectool's `VT` line.
 */
const WORKLOAD = `
r() { n=$1; shift; "$@" >/dev/null 2>&1; echo "R $n $?"; }
r rm-store-owner rm $M/x/a
r rm-first-link rm $M/x/b
r rm-last-link rm $M/x/b2
exec 3<$M/x/open
r rm-open-owner rm $M/x/open
exec 3<&-
r rmdir-store-owner rmdir $M/x/d
r rmdir-empty-root rmdir $M/e
r rmdir-nonempty-root rmdir $M/keep
r rm-hl-file rm $M/hl/f
r rmdir-root-with-linked-vector rmdir $M/hl
r rmdir-again rmdir $M/e
rm $M/tmpd/t
printf '%s\\n' "rename $M/tmpd $M/e2" "drop $M/plain" "drop $M/keep/sub" "drop $M/keep bad" "drop $M/keep/sub/k0" \\
	"drop $M/big" "drop $M/big" "drop $M/big/d3" "info $M/keep" "getv $M/plain/hlink" "list $M 0" | vectool
`;

function runHost(mnt: string, tool: string): string[] {
  const o = new Deno.Command("sh", {
    args: ["-c", `vectool() { ${tool}; }\nM=${mnt}\n${WORKLOAD}`],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  assert(o.success, new TextDecoder().decode(o.stderr));
  return answers(new TextDecoder().decode(o.stdout), mnt);
}

/** The R and VT lines of a run, the mount's path replaced by /mnt. */
function answers(out: string, mnt: string): string[] {
  return out.split("\n").map((l) => l.replace(/\r$/, "")).filter((l) => /^(R|VT) /.test(l))
    .map((l) => l.replaceAll(mnt, "/mnt"));
}

/** Everything a user sees of an image, by path (inode numbers and times left out). */
function snapshot(img: string): { tree: Record<string, string>; colls: string[]; sb: string } {
  const fs = Vexfs.open(img, { readOnly: true });
  try {
    const tree: Record<string, string> = {};
    const paths = new Map<number, string>();
    const walk = (dir: number, path: string) => {
      paths.set(dir, path);
      for (const e of fs.readdir(dir)) {
        if (e.name === "." || e.name === ".." || (dir === ROOT_INO && e.name === "lost+found")) continue;
        const p = `${path}/${e.name}`;
        const st = fs.getattr(e.ino);
        const xattrs = [...fs.listxattr(e.ino)].sort(([a], [b]) => a < b ? -1 : 1)
          .map(([k, v]) => `${k}=${v.length}:${crc32c(v)}`).join(",");
        let what = `${(st.mode & S_IFMT).toString(8)} ${st.mode & 0o7777} n${st.nlink} ${xattrs}`;
        if ((st.mode & S_IFMT) === S_IFREG) {
          const v = fs.collections.getVector(e.ino);
          what += ` ${st.size}:${crc32c(fs.read(e.ino, 0, st.size))} vec=${v ? Array.from(v).join("/") : "-"}`;
        }
        tree[p] = what;
        if ((st.mode & S_IFMT) === S_IFDIR) walk(e.ino, p);
      }
    };
    walk(ROOT_INO, "");
    const colls = fs.collections.list().map((c) =>
      `${paths.get(c.rootIno)} ${c.dim} ${c.metric} ${c.elem} ${c.count} ${c.index}`
    );
    return { tree, colls, sb: `colls=${fs.sb.collCount} orphans=${fs.sb.orphanHead}` };
  } finally {
    fs.close();
  }
}

/**
 * An image with what a crash leaves: `c/o1` (its attributes in a store) was
 * unlinked while open and never released; the store of `c/o2` is on the
 * orphan list with nlink 0 and `c/o2` itself is freed (the state the module
 * commits when it frees an owner). Returns the free counts before the files.
 */
function crashImage(): { img: string; freeInodes: number; freeBlocks: number; dirBlocks: number } {
  const img = tmpImage(16 << 20);
  const fs = Vexfs.open(img);
  let freeInodes = 0, freeBlocks = 0, dirBlocks = 0;
  try {
    const c = fs.mkdir(ROOT_INO, "c");
    fs.sync();
    freeInodes = fs.sb.freeInodes;
    freeBlocks = fs.sb.freeBlocks;
    dirBlocks = fs.iget(c).d.blocks;
    const owners = ["o1", "o2"].map((n, k) => {
      const ino = fs.create(c, n);
      fs.write(ino, 0, new Uint8Array(20000).fill(k + 1));
      for (let i = 0; i < 6; i++) fs.setxattr(ino, `user.a${i}`, new Uint8Array(3000).fill(i + 1));
      assert(fs.iget(ino).d.flags & IFL_XATTR_IN_STORE);
      return ino;
    });
    fs.openInode(owners[0]);
    fs.unlink(c, "o1");
    fs.op(() => {
      const n = fs.iget(owners[1]);
      const s = fs.iget(n.d.xattrBlock);
      n.d.flags &= ~IFL_XATTR_IN_STORE;
      n.d.xattrBlock = 0;
      fs.dirty(n);
      s.d.nlink = 0;
      addOrphan(fs, s);
    });
    fs.unlink(c, "o2");
    fs.sync(); // the holder "dies" here
    assert(fs.sb.orphanHead !== 0);
  } finally {
    fs.dev.close();
  }
  return { img, freeInodes, freeBlocks, dirBlocks };
}

for (const series of ["6.1", "6.12"] as const) {
  Deno.test(`kernel module on ${series} (QEMU): xattr stores freed, collections dropped by rmdir and DROP_COLLECTION, as the FUSE mount does`, async (t) => {
    const kdir = await vmTestKernelDir("module_drop_test", series);
    if (!kdir) return;
    const img = await prepare();
    const fuseImg = `${img}.fuse`;
    Deno.copyFileSync(img, fuseImg);
    const crash = crashImage();
    const out = await Deno.makeTempDir({ prefix: "vexfs-ko-" });
    try {
      const built = await buildModule({ kernelDir: kdir, out });
      assertEquals(built.warnings, []);
      // vexfs_vectool (static, cached), for the VM and the host
      const toolPath = await staticToolPath("vexfs_vectool.c", { include: ["kernel"] });
      const tool = Deno.readFileSync(toolPath);
      await t.step("fsck -n accepts the crash image (pending orphans only)", () => assertFsckClean(crash.img));
      const r = await runInVm({
        kernel: series,
        disks: [img, crash.img],
        modules: [built.ko],
        files: { "/bin/vectool": tool, "/work.sh": WORKLOAD },
        timeoutMs: 400_000,
        script: `
t_check "mount rw" mount -t vexfs /dev/vda /mnt
echo W-BEGIN
M=/mnt
. /work.sh
echo W-END
t_check "umount" umount /mnt
t_check "mount the crash image rw: the orphan cleanup frees the owner and both stores" mount -t vexfs /dev/vdb /mnt
t_eq "nothing left in c" "" "$(ls /mnt/c)"
t_check "umount the crash image" umount /mnt
`,
      });
      await t.step("no test failed and no oops", () => {
        assertEquals(r.failed, [], r.log.split("\n").filter((l) => /^(not ok|# )/.test(l)).join("\n"));
        assert(r.ok, `${summarize(r)}\n${r.log.slice(-4000)}`);
      });
      const log = r.log.replace(/\r/g, "");
      const kernel = answers(log.slice(log.indexOf("W-BEGIN"), log.indexOf("W-END")), "/mnt");
      let fuse: string[] = [];
      await withMount({ image: fuseImg }, (mnt) => {
        fuse = runHost(mnt, toolPath);
      });
      await t.step("the same exit codes and ioctl answers as the FUSE mount", () => {
        assertEquals(kernel, fuse);
        // and what they are (docs/IOCTL.md 3.14)
        const dropped = kernel.filter((l) => l.startsWith("VT D "));
        assertEquals(dropped.map((l) => l.split(" ").slice(0, 3).join(" ")), [
          "VT D 61", // plain: not in a collection
          "VT D 22", // keep/sub: inside one, not its root
          "VT D 22", // a non-zero input byte
          "VT D 20", // a file
          "VT D 0", // big
          "VT D 61", // big again: gone
          "VT D 61", // big/d3: no longer in a collection
        ]);
        assertEquals(dropped[4].split(" ")[4], String(BIG_DIRS * BIG_PER_DIR));
        assertEquals(kernel.filter((l) => l.startsWith("R ")), [
          "R rm-store-owner 0",
          "R rm-first-link 0",
          "R rm-last-link 0",
          "R rm-open-owner 0",
          "R rmdir-store-owner 0",
          "R rmdir-empty-root 0",
          "R rmdir-nonempty-root 1",
          "R rm-hl-file 0",
          "R rmdir-root-with-linked-vector 0",
          "R rmdir-again 1",
        ]);
        assert(kernel.includes("VT R 0"), "rename over an empty collection root");
      });
      await t.step("vexfs fsck -n finds the kernel's image clean", () => assertFsckClean(img));
      await t.step("the kernel's image holds what the FUSE mount's does", () => {
        const a = snapshot(img), b = snapshot(fuseImg);
        const differ = [...new Set([...Object.keys(a.tree), ...Object.keys(b.tree)])]
          .filter((p) => a.tree[p] !== b.tree[p]).map((p) => `${p}: kernel ${a.tree[p]}, FUSE ${b.tree[p]}`);
        assertEquals(differ.slice(0, 10), [], `${differ.length} paths differ`);
        assertEquals([a.colls, a.sb], [b.colls, b.sb]);
        assertEquals(a.colls.map((c) => c.split(" ")[0]), ["/keep"]);
        assertEquals(a.tree["/plain/hlink"].endsWith("vec=-"), true);
        assertEquals(Object.keys(a.tree).filter((p) => p.startsWith("/big/")).length, BIG_DIRS * (BIG_PER_DIR + 1));
        assertEquals(a.tree["/big/d7/f123"].split(" ").at(-1), "vec=-");
        assert(a.tree["/x/keep"].includes("user.big3=3000"), a.tree["/x/keep"]);
      });
      await t.step("the crash image: everything freed, fsck clean", () => {
        const rep = fsck(crash.img);
        assertEquals(rep.problems.filter((p) => p.code !== "JOURNAL_RECOVERED").map((p) => p.code), []);
        const fs = Vexfs.open(crash.img, { readOnly: true });
        try {
          assertEquals(fs.sb.orphanHead, 0);
          // c may have grown a block (the engine's doing); nothing else stays allocated
          const grown = fs.iget(fs.lookup(ROOT_INO, "c")).d.blocks - crash.dirBlocks;
          assertEquals([fs.sb.freeInodes, fs.sb.freeBlocks + grown], [crash.freeInodes, crash.freeBlocks]);
        } finally {
          fs.close();
        }
      });
    } finally {
      await Deno.remove(out, { recursive: true });
      for (const f of [img, fuseImg, crash.img]) await Deno.remove(f).catch(() => {});
    }
  });
}
