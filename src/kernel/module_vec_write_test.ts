/**
 * Vectors changed in the kernel module (read-write mount, Debian's 6.1 and
 * 6.12 kernels under QEMU), then checked on the host: `vexfs fsck -n` finds
 * the image clean, the FUSE mount shows exactly the vectors the kernel left
 * (set, replaced, swap-removed, freed with their files) and answers the same
 * exact searches, and the HNSW graph that the FUSE mount built before is seen
 * as stale (the kernel bumped each collection's generation) and caught up:
 * a graph search finds every vector the kernel set and none it deleted.
 *
 * The image is made and filled through the FUSE mount: `h` (l2, f32, 64-d,
 * HNSW, 300 vectors), `q` (cosine, i8, 16-d, flat) and `p` (ip, f16, 32-d,
 * flat). In the VM the static `vexfs_vectool.c` sets vectors through
 * `VEXFS_IOC_SET_VECTOR` and `setxattr`, deletes them through
 * `VEXFS_IOC_DEL_VECTOR` and `removexattr`, `rm` frees files that carry one,
 * and the refusals of docs/IOCTL.md are checked. One VM boot per kernel.
 *
 * A second image holds a chain of orphans that carry vectors (a mount that
 * died with 640 unlinked open files, made offline): the mount's orphan
 * cleanup frees each one, and each eviction moves the vector of the last
 * slot, owned by the next orphan, whose eviction moves the next. The module
 * must run that chain one eviction after another, not nested on one stack.
 */
import { assert, assertEquals } from "../test_assert.ts";
import { withMount } from "../mount/_testutil.ts";
import { assertFsckClean, tmpImage } from "../fs/_testutil.ts";
import { Vexfs } from "../fs/fs.ts";
import { ROOT_INO } from "../format/constants.ts";
import { collectionInfo, createCollection, getVector, search2, setVectors } from "../ioctl/client.ts";
import { numberToF16Bits, roundToF16 } from "../vector/f16.ts";
import { rng } from "../test_random.ts";
import { vmTestKernelDir } from "./_vmtestutil.ts";
import { staticTool } from "./static_tool.ts";
import { runInVm, summarize } from "./qemu.ts";
import { buildModule } from "./build.ts";
import type { ElemType, Metric } from "../vector/types.ts";

const EINVAL = 22, ENODATA = 61, EEXIST = 17, EROFS = 30;

function f32s(v: ArrayLike<number>): string {
  return Array.from(v, (x) => Number.isNaN(x) ? "nan" : Math.fround(x).toPrecision(9)).join(" ");
}

interface Coll {
  dir: string;
  dim: number;
  metric: Metric;
  elem: ElemType;
  index: "hnsw" | "flat";
  n: number;
}

const COLLS: Coll[] = [
  { dir: "h", dim: 64, metric: "l2", elem: "f32", index: "hnsw", n: 300 },
  { dir: "q", dim: 16, metric: "cosine", elem: "i8", index: "flat", n: 20 },
  { dir: "p", dim: 32, metric: "ip", elem: "f16", index: "flat", n: 20 },
];

function randomVector(c: Coll, r: () => number): Float32Array {
  return new Float32Array(c.dim).map(() =>
    c.elem === "i8" ? Math.round(r() * 200 - 100) : c.elem === "f16" ? roundToF16(r() * 4 - 2) : r() * 2 - 1
  );
}

/** A vector as the collection stores it (what GET_VECTOR returns). */
function stored(c: Coll, v: Float32Array): Float32Array {
  // i8 stores integers: -0 comes back as 0
  return c.elem === "f16" ? v.map((x) => roundToF16(x)) : c.elem === "i8" ? v.map((x) => x || 0) : v.slice();
}

function hexOf(c: Coll, v: Float32Array): string {
  const size = c.elem === "f32" ? 4 : c.elem === "f16" ? 2 : 1;
  const b = new Uint8Array(c.dim * size);
  const dv = new DataView(b.buffer);
  v.forEach((x, i) => {
    if (c.elem === "f32") dv.setFloat32(4 * i, x, true);
    else if (c.elem === "i8") dv.setInt8(i, x);
    else dv.setUint16(2 * i, numberToF16Bits(x), true);
  });
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

interface Plan {
  img: string;
  cmds: string[];
  /** what each command's VT line must be (a prefix) */
  want: string[];
  /** the vectors every file must have afterwards (null: none; a missing file: freed) */
  model: Map<string, Float32Array | null>;
  generations: Map<string, number>;
  queries: { dir: string; q: Float32Array }[];
}

async function prepare(): Promise<Plan> {
  const r = rng(2024);
  const model = new Map<string, Float32Array | null>();
  const generations = new Map<string, number>();
  let img = "";
  await withMount({ size: 64 << 20, keepImage: true }, async (mnt, image) => {
    img = image;
    for (const c of COLLS) {
      await Deno.mkdir(`${mnt}/${c.dir}`);
      await createCollection(`${mnt}/${c.dir}`, { dim: c.dim, metric: c.metric, elem: c.elem, index: c.index });
      const items = [];
      for (let i = 0; i < c.n; i++) {
        const name = `${c.dir}/f-${String(i).padStart(3, "0")}`;
        await Deno.writeTextFile(`${mnt}/${name}`, name);
        const v = randomVector(c, r);
        items.push({ ino: Deno.statSync(`${mnt}/${name}`).ino!, vector: v });
        model.set(name, stored(c, v));
      }
      await setVectors(`${mnt}/${c.dir}`, items);
      for (let i = 0; i < 10; i++) {
        const name = `${c.dir}/new-${i}`;
        await Deno.writeTextFile(`${mnt}/${name}`, name);
        model.set(name, null);
      }
    }
    // an empty collection: removing its root drops it (module_drop_test.ts has more)
    await Deno.mkdir(`${mnt}/e`);
    await createCollection(`${mnt}/e`, { dim: 8, metric: "l2", elem: "f32", index: "flat" });
    await Deno.mkdir(`${mnt}/plain`);
    await Deno.writeTextFile(`${mnt}/plain/x`, "x");
    // the HNSW graph of h is built by the mount (and written at unmount)
    const g = await search2(`${mnt}/h`, model.get("h/f-000")!, 1, { ef: 16 });
    assertEquals(g.method.method, "hnsw");
    for (const c of COLLS) generations.set(c.dir, (await collectionInfo(`${mnt}/${c.dir}`))!.generation);
  });

  const cmds: string[] = [];
  const want: string[] = [];
  const bump = (dir: string) => generations.set(dir, generations.get(dir)! + 1);
  const op = (cmd: string, expect: string, dir?: string) => {
    cmds.push(cmd);
    want.push(expect);
    if (dir && / 0$/.test(expect)) bump(dir);
  };
  for (const c of COLLS) {
    for (let i = 0; i < 6; i++) { // appended
      const v = randomVector(c, r);
      op(`set /mnt/${c.dir}/new-${i} ${c.dim} ${f32s(v)}`, "VT SET 0", c.dir);
      model.set(`${c.dir}/new-${i}`, stored(c, v));
    }
    for (const i of [0, 1, 7]) { // replaced in place
      const v = randomVector(c, r);
      op(`set /mnt/${c.dir}/f-${String(i).padStart(3, "0")} ${c.dim} ${f32s(v)}`, "VT SET 0", c.dir);
      model.set(`${c.dir}/f-${String(i).padStart(3, "0")}`, stored(c, v));
    }
    for (const i of [2, 3, c.n - 1, 5]) { // swap-removed (one of them is the last slot)
      const name = `${c.dir}/f-${String(i).padStart(3, "0")}`;
      op(`del /mnt/${name}`, "VT DEL 0", c.dir);
      model.set(name, null);
    }
    op(`del /mnt/${c.dir}/f-002`, `VT DEL ${ENODATA}`);
    op(`set /mnt/${c.dir}/new-9 ${c.dim + 1} ${f32s(new Float32Array(c.dim + 1))}`, `VT SET ${EINVAL}`);
    op(`set /mnt/${c.dir}/new-9 ${c.dim} nan ${f32s(new Float32Array(c.dim - 1))}`, `VT SET ${EINVAL}`);
    // setxattr with the stored bytes, removexattr
    const xv = randomVector(c, r);
    op(`xset /mnt/${c.dir}/new-7 0 ${hexOf(c, stored(c, xv))}`, "VT XS 0", c.dir);
    model.set(`${c.dir}/new-7`, stored(c, xv));
    op(`xset /mnt/${c.dir}/new-7 1 ${hexOf(c, stored(c, xv))}`, `VT XS ${EEXIST}`); // XATTR_CREATE
    op(`xset /mnt/${c.dir}/new-8 0 00`, `VT XS ${EINVAL}`);
    op(`xdel /mnt/${c.dir}/f-004`, "VT XD 0", c.dir);
    model.set(`${c.dir}/f-004`, null);
    op(`xdel /mnt/${c.dir}/f-004`, `VT XD ${ENODATA}`);
  }
  op(`set /mnt/q/new-9 16 0.5 ${f32s(new Float32Array(15))}`, `VT SET ${EINVAL}`); // i8: not an integer
  op(`set /mnt/q/new-9 16 200 ${f32s(new Float32Array(15))}`, `VT SET ${EINVAL}`); // i8: out of range
  op(`set /mnt/p/new-9 32 70000 ${f32s(new Float32Array(31))}`, `VT SET ${EINVAL}`); // f16: overflows
  op(`set /mnt/plain/x 4 1 2 3 4`, `VT SET ${EINVAL}`); // not inside a collection
  op(`del /mnt/plain/x`, `VT DEL ${ENODATA}`);
  for (const c of COLLS) {
    for (const [name, v] of model) {
      if (!name.startsWith(`${c.dir}/`) || (!name.includes("new-") && !/f-00[0-9]/.test(name))) continue;
      op(
        `getv /mnt/${name}`,
        v ? `VT GV 0 ${c.dim} ${Array.from(v, (x) => hex32(x)).join(" ")}` : `VT GV ${ENODATA} 0`,
      );
    }
  }
  const queries = COLLS.map((c) => ({ dir: c.dir, q: randomVector(c, r) }));
  return { img, cmds, want, model, generations, queries };
}

function hex32(x: number): string {
  const dv = new DataView(new ArrayBuffer(4));
  dv.setFloat32(0, x, true);
  return dv.getUint32(0, true).toString(16).padStart(8, "0");
}

/** vexfs_vectool (src/kernel/vexfs_vectool.c, static, cached), for the host and the VM. */
function buildTool(): Promise<Uint8Array> {
  return staticTool("vexfs_vectool.c", { include: ["kernel"] });
}

for (const series of ["6.1", "6.12"] as const) {
  Deno.test(`kernel module on ${series} (QEMU): vectors set and deleted in the kernel are what fsck and the FUSE mount see`, async (t) => {
    const kdir = await vmTestKernelDir("module_vec_write_test", series);
    if (!kdir) return;
    const plan = await prepare();
    const chain = orphanChainImage();
    const out = await Deno.makeTempDir({ prefix: "vexfs-ko-" });
    try {
      const built = await buildModule({ kernelDir: kdir, out });
      assertEquals(built.warnings, []);
      const tool = await buildTool();
      // files whose last link goes: their vectors are freed (swap-remove), as the engine does
      const unlink = ["h/f-010", "h/f-200", "q/f-011", "p/f-012"];
      const parallel = Array.from({ length: 12 }, (_, i) => `h/f-${100 + i}`);
      const searches = plan.queries.map((s) => `search /mnt/${s.dir} 10 0 ${s.q.length} ${f32s(s.q)}`);
      const hv = COLLS[0];
      // collections created in the kernel: c2 (cosine, f32, flat) gets vectors, top/x (l2, i8, HNSW by default)
      const C2 = { dim: 8, a: new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]), b: new Float32Array(8).fill(-1) };
      const roSet = `set /mnt/h/new-9 ${hv.dim} ${f32s(new Float32Array(hv.dim))}`;
      const r = await runInVm({
        kernel: series,
        disks: [plan.img, chain.img],
        modules: [built.ko],
        files: { "/bin/vectool": tool, "/cmds.txt": plan.cmds.join("\n") + "\n" },
        timeoutMs: 400_000, // the VM takes 1-2 min; room for a loaded CI machine
        script: `
t_check "mount rw" mount -t vexfs /dev/vda /mnt
echo VT-BEGIN
vectool < /cmds.txt
echo VT-END
t_check "rm files that carry a vector" rm ${unlink.map((u) => `/mnt/${u}`).join(" ")}
t_check "a second link" ln /mnt/h/f-020 /mnt/h/link-020
t_check "rm the first link" rm /mnt/h/f-020
t_eq "the second link keeps the vector" "VT GV 0 ${hv.dim}" "$(echo 'getv /mnt/h/link-020' | vectool | cut -d' ' -f1-4)"
t_check "rename over a file that carries a vector" mv -f /mnt/q/new-9 /mnt/q/f-013
t_eq "the file renamed over it has none" "VT GV ${ENODATA}" "$(echo 'getv /mnt/q/f-013' | vectool | cut -d' ' -f1-3)"
exec 3</mnt/p/f-014
t_check "rm a file that carries a vector while it is open" rm /mnt/p/f-014
exec 3<&-
for f in ${parallel.map((u) => `/mnt/${u}`).join(" ")}; do rm "$f" & done; wait
t_eq "rm in parallel" "" "$(ls /mnt/h | grep -E '^f-1(0[0-9]|1[01])$')"
printf '%s\\n' ${searches.map((s) => `'${s}'`).join(" ")} | vectool | sed 's/^VT /VK /'
for d in h q p; do echo "info /mnt/$d" | vectool | sed 's/^VT /VI /'; done
t_eq "removing an empty collection root drops it" "0 gone" "$(rmdir /mnt/e; echo $?) $([ -d /mnt/e ] || echo gone)"
t_check "mkdir for new collections" mkdir -p /mnt/c2 /mnt/top/x /mnt/h/sub
touch /mnt/c2/a /mnt/c2/b
printf '%s\\n' 'create /mnt/c2 ${C2.dim} 2 1 1' 'create /mnt/top/x 4 1 3 0' 'create /mnt/top 4 1 1 1' \\
	'create /mnt/h/sub 4 1 1 1' 'create /mnt 4 1 1 1' 'create /mnt/top/x 4 1 1 1' 'create /mnt/plain 0 1 1 1' \\
	'create /mnt/plain 4 9 1 1' 'create /mnt/plain 4 1 4 1' 'create /mnt/plain 4 1 1 3' \\
	'set /mnt/c2/a ${C2.dim} ${f32s(C2.a)}' 'set /mnt/c2/b ${C2.dim} ${f32s(C2.b)}' 'del /mnt/c2/b' \\
	'info /mnt/c2' 'info /mnt/top/x' | vectool | sed 's/^VT /VC /'
t_check "remount ro" mount -o remount,ro /mnt
t_eq "SET_VECTOR on a read-only mount is EROFS" "VT SET ${EROFS}" "$(echo '${roSet}' | vectool)"
t_eq "DEL_VECTOR on a read-only mount is EROFS" "VT DEL ${EROFS}" "$(echo 'del /mnt/h/f-000' | vectool)"
t_eq "removexattr on a read-only mount is EROFS" "VT XD ${EROFS}" "$(echo 'xdel /mnt/h/f-000' | vectool)"
t_check "umount" umount /mnt
t_check "mount the orphan chain rw: its cleanup frees 640 orphans" mount -t vexfs /dev/vdb /mnt
t_eq "the kept files" "16" "$(ls /mnt/o | wc -l)"
t_check "umount the orphan chain" umount /mnt
`,
      });
      await t.step("no test failed and no oops", () => {
        assertEquals(r.failed, [], r.log.split("\n").filter((l) => /^(not ok|# )/.test(l)).join("\n"));
        assert(r.ok, `${summarize(r)}\n${r.log.slice(-4000)}`);
      });
      const lines = r.log.split("\n").map((l) => l.replace(/\r$/, ""));
      await t.step("each change and refusal answered as docs/IOCTL.md says", () => {
        const got = lines.slice(lines.indexOf("VT-BEGIN") + 1, lines.indexOf("VT-END")).filter((l) =>
          l.startsWith("VT ")
        );
        assertEquals(got.length, plan.want.length);
        const bad = plan.want.map((w, i) =>
          got[i].startsWith(w) ? null : `${plan.cmds[i].slice(0, 60)}: ${got[i].slice(0, 200)}, want ${w.slice(0, 200)}`
        )
          .filter((x) => x);
        assertEquals(bad.slice(0, 10), [], `${bad.length} differ`);
      });
      // the model after the removals: each freed vector bumps its collection once
      const freed = [...unlink, ...parallel, "q/f-013", "p/f-014"];
      for (const u of freed) {
        const c = COLLS.find((c) => u.startsWith(`${c.dir}/`))!;
        if (plan.model.get(u)) plan.generations.set(c.dir, plan.generations.get(c.dir)! + 1);
        plan.model.delete(u);
      }
      plan.model.set("q/f-013", null); // new-9's inode, renamed over it
      plan.model.delete("q/new-9");
      plan.model.set("h/link-020", plan.model.get("h/f-020")!);
      plan.model.delete("h/f-020");
      await t.step("the kernel bumped each collection's generation once per change", () => {
        const gens = lines.filter((l) => l.startsWith("VI ")).map((l) => Number(l.split(" ")[13]));
        assertEquals(gens, COLLS.map((c) => plan.generations.get(c.dir)));
      });
      await t.step("collections created in the kernel, and CREATE_COLLECTION's refusals (docs/IOCTL.md 3.5)", () => {
        const got = lines.filter((l) => l.startsWith("VC ")).map((l) => l.split(" ").slice(0, 4).join(" "));
        // ids: h 1, q 2, p 3 exist, e's 4 was dropped with it: c2 gets 4, top/x 5
        assertEquals(got.slice(0, 13), [
          "VC C 0 4",
          "VC C 0 5",
          `VC C ${EINVAL} 0`, // a collection below
          `VC C ${EINVAL} 0`, // inside a collection
          `VC C ${EINVAL} 0`, // the root: collections below
          `VC C ${EINVAL} 0`, // already a collection
          `VC C ${EINVAL} 0`, // dim 0
          `VC C ${EINVAL} 0`, // metric
          `VC C ${EINVAL} 0`, // element type
          `VC C ${EINVAL} 0`, // index
          "VC SET 0",
          "VC SET 0",
          "VC DEL 0",
        ]);
        const info = lines.filter((l) => l.startsWith("VC I ")).map((l) => l.split(" "));
        // VT I errno id dim root metric elem esize m efc count bytes gen index
        assertEquals(info.map((f) => [f[2], f[3], f[4], f[6], f[7], f[9], f[10], f[11], f[13], f[14]]), [
          ["0", "4", "8", "2", "1", "0", "0", "1", "3", "1"],
          ["0", "5", "4", "1", "3", "16", "200", "0", "0", "2"],
        ]);
      });
      await t.step("vexfs fsck -n finds the image clean", () => assertFsckClean(plan.img));
      await t.step("the orphan chain: freed, fsck-clean, the kept vectors in place", () => {
        assertFsckClean(chain.img);
        const fs = Vexfs.open(chain.img, { readOnly: true });
        try {
          assertEquals(fs.sb.orphanHead, 0);
          const o = fs.lookup(ROOT_INO, "o");
          assertEquals(fs.collections.get(fs.collections.collectionOfDir(o)).count, 16);
          for (const [ino, v] of chain.kept) assertEquals(hexAll(fs.collections.getVector(ino)!), hexAll(v));
        } finally {
          fs.close();
        }
      });
      await t.step(
        "the FUSE mount shows the kernel's vectors and searches, and its HNSW graph catches up",
        async () => {
          const kernelHits = lines.filter((l) => l.startsWith("VK S 0 ")).map((l) => l.split(" ").slice(8).join(" "));
          assertEquals(kernelHits.length, plan.queries.length);
          await withMount({ image: plan.img }, async (mnt) => {
            const bad: string[] = [];
            for (const [name, v] of plan.model) {
              const g = await getVector(`${mnt}/${name}`);
              if (v === null ? g !== null : !g || hexAll(g.vector) !== hexAll(v)) bad.push(name);
            }
            assertEquals(bad, [], "files whose vector differs from what the kernel set");
            for (const c of COLLS) {
              const i = (await collectionInfo(`${mnt}/${c.dir}`))!;
              assertEquals(i.count, [...plan.model].filter(([n, v]) => n.startsWith(`${c.dir}/`) && v).length);
            }
            for (const [i, s] of plan.queries.entries()) {
              const e = await search2(`${mnt}/${s.dir}`, s.q, 10, { exact: true });
              const fuse = e.hits.map((h) => `${h.ino}:${hex32(h.score)}`).join(" ");
              assertEquals(kernelHits[i], fuse, `search of ${s.dir}`);
            }
            const c2 = (await collectionInfo(`${mnt}/c2`))!;
            assertEquals([c2.dim, c2.metric, c2.elem, c2.count, c2.generation], [8, "cosine", "f32", 1, 3]);
            assertEquals(hexAll((await getVector(`${mnt}/c2/a`))!.vector), hexAll(C2.a));
            assertEquals(await getVector(`${mnt}/c2/b`), null);
            const x = (await collectionInfo(`${mnt}/top/x`))!;
            assertEquals([x.dim, x.metric, x.elem, x.count, x.index, x.m, x.efConstruction], [
              4,
              "l2",
              "i8",
              0,
              "hnsw",
              16,
              200,
            ]);
            // the graph: every vector the kernel set is found, none it removed
            for (const [name, v] of plan.model) {
              if (!v || !name.startsWith("h/new-")) continue;
              const g = await search2(`${mnt}/h`, v, 1, { ef: 32 });
              assertEquals(g.method.method, "hnsw");
              assertEquals(g.hits[0]?.ino, Deno.statSync(`${mnt}/${name}`).ino, `graph search for ${name}`);
              assertEquals(g.hits[0].score, 0);
            }
          });
        },
      );
    } finally {
      await Deno.remove(out, { recursive: true });
      await Deno.remove(plan.img).catch(() => {});
      await Deno.remove(chain.img).catch(() => {});
    }
  });
}

/**
 * An image whose collection `o` has 656 files with 8-d vectors, of which the
 * last 640 were unlinked while open, in reverse order, and never released
 * (as a FUSE mount killed then leaves them): the orphan list starts with
 * o/f16, and each orphan owns the slot the one before it will vacate.
 * @returns the image and the vectors of the 16 files kept, by inode
 */
function orphanChainImage(): { img: string; kept: Map<number, Float32Array> } {
  const img = tmpImage(16 << 20);
  const fs = Vexfs.open(img);
  const kept = new Map<number, Float32Array>();
  try {
    const c = fs.mkdir(ROOT_INO, "o");
    fs.collections.create(c, { dim: 8, metric: "l2", elem: "f32" });
    const inos: number[] = [];
    for (let i = 0; i < 656; i++) {
      const ino = fs.create(c, `f${i}`);
      const v = Float32Array.from({ length: 8 }, (_, j) => i * 8 + j);
      fs.collections.setVector(ino, v);
      inos.push(ino);
      if (i < 16) kept.set(ino, v);
    }
    for (let i = 655; i >= 16; i--) {
      fs.openInode(inos[i]);
      fs.unlink(c, `f${i}`);
    }
    fs.sync(); // the holder "dies" here: no release
    assertEquals(fs.sb.orphanHead, inos[16]);
  } finally {
    fs.dev.close();
  }
  return { img, kept };
}

function hexAll(v: Float32Array): string {
  return Array.from(v, hex32).join("");
}
