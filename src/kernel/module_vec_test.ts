/**
 * The vector ioctls of the kernel module, read side, in Debian's 6.1 and 6.12
 * kernels under QEMU (src/kernel/qemu.ts), against the FUSE mount's answers.
 *
 * An image is made and filled through the FUSE mount on the host: the 778
 * real documents of `@sap-ux/fiori-docs-embeddings` (384-d, cosine, f32, the
 * default HNSW index; 120 of them in a subdirectory), and 128-d and 64-d
 * random sets for every metric and element type (l2 f32 flat with exact
 * duplicates, so ties are broken by inode; ip f16; cosine i8 with a zero
 * vector). On the host the FUSE mount answers every query with an exact
 * search (`SEARCH2` with `VEXFS_IOC_SEARCH2_EXACT`), every file's vector
 * (`GET_VECTOR`), the collections (`COLLECTION_INFO`, `LIST_COLLECTIONS`).
 * In the VM the static C program `vexfs_vectool.c` (gcc -static) runs the
 * same ioctls on the kernel module's read-only mount (read-write, files with
 * a vector are removed, a collection root that is not empty cannot be): the same inodes in the
 * same order, scores within 1e-6 (the kernel computes them as the engine
 * does, so they are in fact bit-identical, which the test reports), the same
 * vectors, collections, paths; the errno cases of docs/IOCTL.md; and a
 * damaged copy of the image (a vector, a slot-map block, a collection
 * record and the size of a store, each in its own collection) gives EUCLEAN,
 * never an oops. One VM boot per kernel.
 */
import { assert, assertEquals } from "../test_assert.ts";
import { withMount } from "../mount/_testutil.ts";
import { collectionInfo, createCollection, getVector, listCollections, search2, setVectors } from "../ioctl/client.ts";
import { loadFiori } from "../data/fiori.ts";
import { rng } from "../test_random.ts";
import { Vexfs } from "../fs/fs.ts";
import { crc32cSeeded } from "../format/crc.ts";
import { vmTestKernelDir } from "./_vmtestutil.ts";
import { staticTool } from "./static_tool.ts";
import { runInVm, summarize } from "./qemu.ts";
import { buildModule } from "./build.ts";
import type { ElemType, Metric } from "../vector/types.ts";

const METRIC = { l2: 1, cosine: 2, ip: 3 } as const;
const ELEM = { f32: 1, f16: 2, i8: 3 } as const;
const ERR = { EINVAL: 22, EISDIR: 21, ENOTDIR: 20, ENOTTY: 25, ENODATA: 61, ENOENT: 2, EFAULT: 14 } as const;
const EOPNOTSUPP = 95;
const EROFS = 30;
const EUCLEAN = 117;

/** An f32 value as a decimal that strtof reads back exactly. */
function f32s(v: Float32Array): string {
  return Array.from(v, (x) => Math.fround(x).toPrecision(9)).join(" ");
}

/** FNV-1a 64 of a vector's f32 bytes (as vexfs_vectool's `get`). */
function fnv(v: Float32Array): string {
  let h = 0xcbf29ce484222325n;
  for (const b of new Uint8Array(v.buffer, v.byteOffset, v.byteLength)) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, "0");
}

function f32Bits(x: number): number {
  const b = new DataView(new ArrayBuffer(4));
  b.setFloat32(0, x, true);
  return b.getUint32(0, true);
}

function bitsF32(hex: string): number {
  const b = new DataView(new ArrayBuffer(4));
  b.setUint32(0, parseInt(hex, 16), true);
  return b.getFloat32(0, true);
}

interface Query {
  /** directory below /mnt */
  dir: string;
  k: number;
  exclude: number;
  query: Float32Array;
  /** the FUSE mount's exact answer */
  want: { ino: number; score: number }[];
  generation: number;
}

interface Setup {
  img: string;
  queries: Query[];
  /** file path below /mnt -> FUSE GET_VECTOR: "dim coll metric elem fnv" or errno */
  vectors: Map<string, string>;
  /** path below /mnt -> COLLECTION_INFO line as the tool prints it */
  infos: Map<string, string>;
  /** LIST_COLLECTIONS from the root */
  list: string;
  /** getxattr/listxattr of user.vexfs.vector: the tool's commands and its output on the FUSE mount */
  xattrCmds: string[];
  xattrWant: string[];
  /** INO_PATH cases: [dir, ino, want errno, want path] */
  paths: [string, number, number, string][];
  /** the damaged copy and the files its checks read */
  damaged: string;
  damage: { l2File: string; ipDir: string; cosDir: string; fioriDir: string };
}

interface Coll {
  dir: string;
  dim: number;
  metric: Metric;
  elem: ElemType;
  index: "hnsw" | "flat";
  files: { name: string; vector: Float32Array }[];
}

function randomColl(
  dir: string,
  n: number,
  dim: number,
  metric: Metric,
  elem: ElemType,
  seed: number,
): Coll {
  const r = rng(seed);
  const files: Coll["files"] = [];
  for (let i = 0; i < n; i++) {
    const v = new Float32Array(dim);
    for (let j = 0; j < dim; j++) {
      v[j] = elem === "i8"
        ? Math.round(r() * 200 - 100)
        : elem === "f16"
        ? Math.round((r() * 4 - 2) * 1024) / 1024
        : r() * 2 - 1;
    }
    files.push({ name: `v-${String(i).padStart(4, "0")}`, vector: v });
  }
  return { dir, dim, metric, elem, index: "flat", files };
}

async function makeImage(): Promise<Setup> {
  const fiori = await loadFiori();
  const colls: Coll[] = [
    {
      dir: "fiori",
      dim: fiori.dim,
      metric: "cosine",
      elem: "f32",
      index: "hnsw",
      files: fiori.docs.map((d, i) => ({
        name: `${i < 120 ? "sub/" : ""}doc-${String(i).padStart(3, "0")}.md`,
        vector: d.vector,
      })),
    },
    randomColl("r128l2", 200, 128, "l2", "f32", 11),
    randomColl("r128ip", 200, 128, "ip", "f16", 12),
    randomColl("r64cos", 150, 64, "cosine", "i8", 13),
  ];
  // exact duplicates (ties broken by inode) and a zero vector (cosine 0)
  const l2 = colls[1];
  for (const i of [5, 50, 150]) l2.files.push({ name: `dup-${i}`, vector: l2.files[7].vector.slice() });
  colls[3].files.push({ name: "zero", vector: new Float32Array(64) });

  let img = "";
  const queries: Query[] = [];
  const vectors = new Map<string, string>();
  const infos = new Map<string, string>();
  const paths: Setup["paths"] = [];
  let list = "";
  let xattrCmds: string[] = [];
  let xattrWant: string[] = [];
  const inos = new Map<string, number>();
  await withMount({ size: 64 << 20, keepImage: true }, async (mnt, image) => {
    img = image;
    for (const c of colls) {
      await Deno.mkdir(`${mnt}/${c.dir}/sub`, { recursive: true });
      await createCollection(`${mnt}/${c.dir}`, { dim: c.dim, metric: c.metric, elem: c.elem, index: c.index });
      const items = [];
      for (const f of c.files) {
        const p = `${mnt}/${c.dir}/${f.name}`;
        await Deno.writeTextFile(p, `${f.name}\n`);
        const ino = Deno.statSync(p).ino!;
        inos.set(`${c.dir}/${f.name}`, ino);
        items.push({ ino, vector: f.vector });
      }
      await setVectors(`${mnt}/${c.dir}`, items);
    }
    await Deno.mkdir(`${mnt}/plain`);
    await Deno.writeTextFile(`${mnt}/plain/x`, "x");
    await Deno.writeTextFile(`${mnt}/fiori/novec.md`, "no vector");

    const r = rng(99);
    const ask = async (dir: string, q: Float32Array, k: number, exclude: number) => {
      const rep = await search2(`${mnt}/${dir}`, q, k, { exact: true, excludeIno: exclude || undefined });
      queries.push({ dir, k, exclude, query: q, want: rep.hits, generation: rep.generation });
    };
    const fc = colls[0];
    for (const i of [0, 3, 130, 200, 333, 500, 640, 777]) {
      await ask("fiori", fc.files[i].vector, 10, inos.get(`fiori/${fc.files[i].name}`)!);
    }
    for (const i of [1, 60, 400]) await ask("fiori/sub", fc.files[i].vector, 5, 0);
    await ask("fiori", fc.files[42].vector, 256, 0);
    for (const c of colls.slice(1)) {
      for (let n = 0; n < 5; n++) {
        const q = new Float32Array(c.dim).map(() => r() * 2 - 1);
        await ask(c.dir, q, 10, 0);
      }
      await ask(c.dir, c.files[7].vector, 6, 0); // ties in r128l2
      await ask(c.dir, c.files[c.files.length - 1].vector, 3, 0);
    }
    await ask("r64cos", new Float32Array(64), 5, 0); // zero query: all 0, by inode

    for (const c of colls) {
      for (const f of c.files) {
        const g = await getVector(`${mnt}/${c.dir}/${f.name}`);
        assert(g);
        vectors.set(
          `${c.dir}/${f.name}`,
          `0 ${g.vector.length} ${g.collectionId} ${METRIC[g.metric]} ${ELEM[g.elem]} ${fnv(g.vector)}`,
        );
      }
    }
    vectors.set("fiori/novec.md", `${ERR.ENODATA}`);
    for (
      const p of [
        "fiori",
        "fiori/sub",
        "fiori/sub/doc-001.md",
        "fiori/novec.md",
        "r128l2",
        "r128ip/v-0001",
        "r64cos/zero",
      ]
    ) {
      const i = await collectionInfo(`${mnt}/${p}`);
      assert(i);
      infos.set(
        p,
        [
          0,
          i.id,
          i.dim,
          i.rootIno,
          METRIC[i.metric],
          ELEM[i.elem],
          { f32: 4, f16: 2, i8: 1 }[i.elem],
          i.m ?? 0,
          i.efConstruction ?? 0,
          i.count,
          i.bytes,
          i.generation,
          i.index === "hnsw" ? 2 : 1,
        ].join(" "),
      );
    }
    infos.set("plain", `${ERR.ENODATA}`);
    infos.set("plain/x", `${ERR.ENODATA}`);
    const xcmds: string[] = [];
    for (const c of colls) {
      for (const f of c.files.slice(0, 8)) {
        xcmds.push(
          `xget /mnt/${c.dir}/${f.name} 65536`,
          `xget /mnt/${c.dir}/${f.name} 0`,
          `xlist /mnt/${c.dir}/${f.name}`,
        );
      }
    }
    xcmds.push("xget /mnt/r64cos/v-0001 3", "xget /mnt/fiori/novec.md 65536", "xlist /mnt/fiori/novec.md");
    xattrCmds = xcmds;
    xattrWant = await hostTool(xcmds.map((c) => c.replaceAll("/mnt/", `${mnt}/`)).join("\n") + "\n");
    // the FUSE mount's own answers are what docs/IOCTL.md §5 says: the stored bytes, ERANGE, ENODATA
    assertEquals(xattrWant.length, xcmds.length);
    assert(xattrWant[0].startsWith("VT X 0 1536 ") && xattrWant[2] === "VT XL 0 1", xattrWant.slice(0, 3).join("; "));
    assertEquals(xattrWant.slice(-3).map((l) => l.split(" ").slice(0, 4).join(" ")), [
      "VT X 34 0",
      "VT X 61 0",
      "VT XL 0 0",
    ]);
    const all = await listCollections(mnt);
    list = `0 ${all.length} 0 ${all.length} ${all.map((c) => `${c.id}:${c.count}`).join(" ")}`;

    const sub1 = inos.get("fiori/sub/doc-001.md")!;
    const top = inos.get("fiori/doc-300.md")!;
    paths.push(["fiori", sub1, 0, "sub/doc-001.md"]);
    paths.push(["", sub1, 0, "fiori/sub/doc-001.md"]);
    paths.push(["fiori/sub", sub1, 0, "doc-001.md"]);
    paths.push(["fiori/sub", top, ERR.ENOENT, "-"]);
    paths.push(["fiori", Deno.statSync(`${mnt}/fiori`).ino!, 0, "."]);
    paths.push(["", Deno.statSync(`${mnt}/r64cos/zero`).ino!, 0, "r64cos/zero"]);
    paths.push(["fiori", 999_999, ERR.ENOENT, "-"]);
    // a file whose recorded link (its parent pointer, FORMAT.md 5.3) was removed while another stays
    await Deno.writeTextFile(`${mnt}/relink.txt`, "two links, then one");
    await Deno.link(`${mnt}/relink.txt`, `${mnt}/fiori/sub/relinked.txt`);
    await Deno.remove(`${mnt}/relink.txt`);
    const relinked = Deno.statSync(`${mnt}/fiori/sub/relinked.txt`).ino!;
    const relinkedPaths: [string, number, number, string][] = [
      ["", relinked, 0, "fiori/sub/relinked.txt"],
      ["fiori", relinked, 0, "sub/relinked.txt"],
      ["fiori/sub", relinked, 0, "relinked.txt"],
      ["r64cos", relinked, ERR.ENOENT, "-"],
    ];
    // the FUSE mount's answers are the ones the kernel must give
    const fusePaths = await hostTool(relinkedPaths.map(([d, i]) => `path ${mnt}/${d} ${i}`).join("\n") + "\n");
    assertEquals(
      fusePaths,
      relinkedPaths.map(([, , e, p]) => `VT P ${e} ${e ? 0 : new TextEncoder().encode(p).length} ${p}`),
    );
    paths.push(...relinkedPaths);
  });

  // The damaged copy: each collection broken in its own way.
  const damaged = Deno.makeTempFileSync({ suffix: ".img" });
  Deno.copyFileSync(img, damaged);
  const fs = Vexfs.open(damaged, { readOnly: true });
  const bs = fs.blockSize;
  const recs = new Map<string, { id: number; vec: number; map: number }>();
  for (const c of fs.collections.list()) {
    const raw = fs.read(3, (c.id - 1) * 256, 256);
    const v = new DataView(raw.buffer, raw.byteOffset, 256);
    recs.set(fs.pathOf(c.rootIno).slice(1), {
      id: c.id,
      vec: Number(v.getBigUint64(32, true)),
      map: Number(v.getBigUint64(40, true)),
    });
  }
  const blockOf = (ino: number, lblk: number) => fs.bmap(fs.iget(ino), lblk);
  const vecBlock = blockOf(recs.get("r128l2")!.vec, 0);
  const mapBlock = blockOf(recs.get("r128ip")!.map, 0);
  const tableBlock = (id: number) => ({
    blk: blockOf(3, Math.floor(((id - 1) * 256) / bs)),
    off: ((id - 1) * 256) % bs,
  });
  const cos = tableBlock(recs.get("r64cos")!.id);
  const fio = tableBlock(recs.get("fiori")!.id);
  fs.close();
  const b = Deno.readFileSync(damaged);
  b[vecBlock * bs + 100] ^= 0x10; // a vector of r128l2: its CRC fails
  b[mapBlock * bs + 3] ^= 0x01; // r128ip's slot map block: its checksum fails
  const rewrite = (t: { blk: number; off: number }, id: number, edit: (v: DataView) => void) => {
    const at = t.blk * bs + t.off;
    const v = new DataView(b.buffer, b.byteOffset + at, 256);
    edit(v);
    v.setUint32(252, crc32cSeeded(id, b.subarray(at, at + 252)), true);
  };
  rewrite(cos, recs.get("r64cos")!.id, (v) => v.setUint32(16, 0, true)); // dim 0, checksum recomputed
  rewrite(fio, recs.get("fiori")!.id, (v) => v.setBigUint64(24, 5000n, true)); // count 5000: store too short
  Deno.writeFileSync(damaged, b);
  return {
    img,
    queries,
    vectors,
    infos,
    list,
    xattrCmds,
    xattrWant,
    paths,
    damaged,
    damage: { l2File: "r128l2/v-0000", ipDir: "r128ip", cosDir: "r64cos", fioriDir: "fiori" },
  };
}

/** The commands of vexfs_vectool and what each line of its output must be. */
function commands(s: Setup): { cmds: string; checks: ((line: string) => string | null)[] } {
  const cmds: string[] = [];
  const checks: ((line: string) => string | null)[] = [];
  for (const q of s.queries) {
    cmds.push(`search /mnt/${q.dir} ${q.k} ${q.exclude} ${q.query.length} ${f32s(q.query)}`);
    checks.push((l) => {
      const f = l.split(" ");
      const what = `search ${q.dir} k=${q.k}`;
      if (f[1] !== "S" || f[2] !== "0") return `${what}: ${l}`;
      if (Number(f[3]) !== q.want.length) return `${what}: ${f[3]} hits, FUSE ${q.want.length}`;
      if (Number(f[5]) !== q.generation) return `${what}: generation ${f[5]}, FUSE ${q.generation}`;
      for (let i = 0; i < q.want.length; i++) {
        const [ino, bits] = f[8 + i].split(":");
        if (Number(ino) !== q.want[i].ino) return `${what}: hit ${i} is inode ${ino}, FUSE ${q.want[i].ino}`;
        const got = bitsF32(bits);
        if (!(Math.abs(got - q.want[i].score) <= 1e-6)) {
          return `${what}: hit ${i} scores ${got}, FUSE ${q.want[i].score}`;
        }
        if (parseInt(bits, 16) !== f32Bits(q.want[i].score)) identical.differ++;
        else identical.same++;
      }
      return null;
    });
  }
  // SEARCH2 exact and with an ef (the kernel scans and says so)
  const q0 = s.queries[0];
  for (const [ef, flags, reason] of [[0, 1, 2], [16, 0, 255]]) {
    cmds.push(`search2 /mnt/${q0.dir} ${q0.k} ${ef} ${flags} ${q0.query.length} ${f32s(q0.query)}`);
    checks.push((l) => {
      const f = l.split(" ");
      if (f[1] !== "S2" || f[2] !== "0" || f[4] !== "1" || f[5] !== String(reason) || f[6] !== "0") {
        return `search2: ${l}`;
      }
      // without exclude, the query's own file comes first
      return Number(f[7].split(":")[0]) === q0.exclude ? null : `search2: first hit ${f[7]}`;
    });
  }
  for (const [p, want] of s.vectors) {
    cmds.push(`get /mnt/${p}`);
    checks.push((l) => l.startsWith(`VT G ${want}`) ? null : `get ${p}: ${l}, FUSE ${want}`);
  }
  for (const [p, want] of s.infos) {
    cmds.push(`info /mnt/${p}`);
    checks.push((l) => l.startsWith(`VT I ${want}`) ? null : `info ${p}: ${l}, FUSE ${want}`);
  }
  s.xattrCmds.forEach((c, i) => {
    cmds.push(c);
    checks.push((l) => l === s.xattrWant[i] ? null : `${c}: ${l}, FUSE ${s.xattrWant[i]}`);
  });
  cmds.push(`list /mnt 0`);
  checks.push((l) => l === `VT L ${s.list}` ? null : `list: ${l}, FUSE ${s.list}`);
  cmds.push(`list /mnt/fiori 3`);
  checks.push((l) => /^VT L 0 2 0 4 3:\d+ 4:\d+$/.test(l) ? null : `list from 3: ${l}`);
  for (const [dir, ino, e, p] of s.paths) {
    cmds.push(`path /mnt/${dir} ${ino}`);
    const want = `VT P ${e} ${e ? 0 : new TextEncoder().encode(p).length} ${p}`;
    checks.push((l) => l === want ? null : `path ${dir} ${ino}: ${l}, want ${want}`);
  }
  cmds.push(`fsinfo /mnt/fiori/sub/doc-001.md`);
  checks.push((l) => l === "VT F 0 1 4096 4 2048 256 1" ? null : `fsinfo: ${l}`);
  // a change on the read-only mount
  cmds.push(`set /mnt/fiori/novec.md 384 ${f32s(new Float32Array(384).fill(0.5))}`);
  checks.push((l) => l === `VT SET ${EROFS}` ? null : `set on ro: ${l}`);
  cmds.push(`del /mnt/fiori/doc-300.md`);
  checks.push((l) => l === `VT DEL ${EROFS}` ? null : `del on ro: ${l}`);
  cmds.push(`create /mnt/plain 8 1 1 1`);
  checks.push((l) => l === `VT C ${EROFS} 0` ? null : `create on ro: ${l}`);
  return { cmds: cmds.join("\n") + "\n", checks };
}

/** docs/IOCTL.md errnos of vexfs_vectool's `errs` cases on /mnt/r128l2 and one of its files. */
const ERRS: Record<string, number> = {
  "bad-magic": ERR.EINVAL,
  "bad-version": ERR.EINVAL,
  "bad-size-field": ERR.EINVAL,
  "hdr-flags": ERR.EINVAL,
  "hdr-reserved": ERR.EINVAL,
  "wrong-size-cmd": ERR.EINVAL,
  "unknown-nr": ERR.ENOTTY,
  "other-type": ERR.ENOTTY,
  "get-on-dir": ERR.EISDIR,
  "search-on-file": ERR.ENOTDIR,
  "path-on-file": ERR.ENOTDIR,
  "get-nonzero-dim": ERR.EINVAL,
  "get-nonzero-data": ERR.EINVAL,
  "search-k0": ERR.EINVAL,
  "search-k257": ERR.EINVAL,
  "search-dim0": ERR.EINVAL,
  "search-dim2049": ERR.EINVAL,
  "search-dim-mismatch": ERR.EINVAL,
  "search-nan": ERR.EINVAL,
  "search-query-past-dim": ERR.EINVAL,
  "search-output-set": ERR.EINVAL,
  "search-hits-set": ERR.EINVAL,
  "search2-v1": ERR.EINVAL,
  "search2-ef-big": ERR.EINVAL,
  "search2-exact-ef": ERR.EINVAL,
  "search2-flags": ERR.EINVAL,
  "search-root-not-in-collection": ERR.EINVAL,
  "info-root-enodata": ERR.ENODATA,
  "info-nonzero": ERR.EINVAL,
  "list-nonzero": ERR.EINVAL,
  "path-nonzero": ERR.EINVAL,
  "path-ino1": ERR.ENOENT,
  "path-ino3": ERR.ENOENT,
  "path-huge": ERR.ENOENT,
  "path-root-from-dir": ERR.ENOENT,
  "stats": EOPNOTSUPP,
  "index": EOPNOTSUPP,
  "drop": EROFS, // served (module_drop_test.ts), but this mount is read-only
  "set-vectors": EOPNOTSUPP,
  "efault": ERR.EFAULT,
};

const identical = { same: 0, differ: 0 };

let toolBytes: Promise<Uint8Array> | null = null;

/** Runs vexfs_vectool on the host (against the FUSE mount) with `cmds` as its input; its VT lines. */
async function hostTool(cmds: string): Promise<string[]> {
  toolBytes ??= buildTool();
  const path = Deno.makeTempFileSync({ suffix: ".vectool" });
  try {
    Deno.writeFileSync(path, await toolBytes, { mode: 0o755 });
    const p = new Deno.Command(path, { stdin: "piped", stdout: "piped" }).spawn();
    const w = p.stdin.getWriter();
    await w.write(new TextEncoder().encode(cmds));
    await w.close();
    const o = await p.output();
    return new TextDecoder().decode(o.stdout).split("\n").filter((l) => l.startsWith("VT "));
  } finally {
    Deno.removeSync(path);
  }
}

/** vexfs_vectool (src/kernel/vexfs_vectool.c, static, cached), for the host and the VM. */
function buildTool(): Promise<Uint8Array> {
  return staticTool("vexfs_vectool.c", { include: ["kernel"] });
}

let setup: Promise<Setup> | null = null;

for (const series of ["6.1", "6.12"] as const) {
  Deno.test(`kernel module on ${series} (QEMU): vector ioctls answer as the FUSE mount (fiori 778×384, every metric and element type)`, async (t) => {
    const kdir = await vmTestKernelDir("module_vec_test", series);
    if (!kdir) return;
    setup ??= makeImage();
    const s = await setup;
    const out = await Deno.makeTempDir({ prefix: "vexfs-ko-" });
    const img = Deno.makeTempFileSync({ suffix: ".img" });
    const dmg = Deno.makeTempFileSync({ suffix: ".img" });
    Deno.copyFileSync(s.img, img);
    Deno.copyFileSync(s.damaged, dmg);
    try {
      const built = await buildModule({ kernelDir: kdir, out });
      assertEquals(built.warnings, []);
      toolBytes ??= buildTool();
      const tool = await toolBytes;
      const { cmds, checks } = commands(s);
      const d = s.damage;
      const r = await runInVm({
        kernel: series,
        disks: [img, dmg],
        modules: [built.ko],
        files: { "/bin/vectool": tool, "/cmds.txt": cmds },
        timeoutMs: 240_000,
        script: `
t_check "mount ro" mount -t vexfs -o ro /dev/vda /mnt
echo VT-BEGIN
vectool < /cmds.txt
echo VT-END
echo "errs /mnt/r128l2 /mnt/r128l2/v-0003" | vectool
t_check "umount" umount /mnt
t_check "mount rw" mount -t vexfs /dev/vda /mnt
t_eq "a second link of a file with a vector goes" "0" "$(ln /mnt/r128l2/v-0003 /mnt/r128l2/extra && rm /mnt/r128l2/extra; echo $?)"
t_check "removing the last link of a file with a vector frees it (module_vec_write_test checks the store)" rm /mnt/r128l2/v-0003
t_check "create a file in the collection" touch /mnt/r128l2/new
t_check "renaming over a file with a vector" mv -f /mnt/r128l2/new /mnt/r128l2/v-0004
t_eq "removing a collection root that is not empty is ENOTEMPTY" "1 kept" \\
	"$(rmdir /mnt/r128l2 2>&1 | grep -c 'not empty') $([ -d /mnt/r128l2 ] && echo kept)"
t_check "umount rw" umount /mnt
t_check "mount damaged ro" mount -t vexfs -o ro /dev/vdb /mnt
for c in "get /mnt/${d.l2File}" "search /mnt/r128l2 3 0 128 ${f32s(new Float32Array(128))}" \\
	"search /mnt/${d.ipDir} 3 0 128 ${f32s(new Float32Array(128))}" "get /mnt/${d.ipDir}/v-0002" \\
	"info /mnt/${d.cosDir}" "search /mnt/${d.cosDir} 3 0 64 ${f32s(new Float32Array(64))}" "list /mnt 0" \\
	"search /mnt/${d.fioriDir} 3 0 384 ${f32s(new Float32Array(384))}" "get /mnt/${d.fioriDir}/doc-300.md"; do
	echo "$c" | vectool | sed 's/^VT /VD /'
done
t_check "umount damaged" umount /mnt
`,
      });
      await t.step("no test failed and no oops", () => {
        assertEquals(r.failed, [], r.log.split("\n").filter((l) => /^(not ok|# )/.test(l)).join("\n"));
        assert(r.ok, `${summarize(r)}\n${r.log.slice(-4000)}`);
      });
      const lines = r.log.split("\n").map((l) => l.replace(/\r$/, ""));
      await t.step("search, vectors, collections and paths equal the FUSE mount's", () => {
        identical.same = identical.differ = 0;
        const got = lines.slice(lines.indexOf("VT-BEGIN") + 1, lines.indexOf("VT-END")).filter((l) =>
          l.startsWith("VT ")
        );
        assertEquals(got.length, checks.length, `${got.length} answers for ${checks.length} commands`);
        const bad = checks.map((c, i) => c(got[i])).filter((x) => x !== null);
        assertEquals(bad.slice(0, 10), [], `${bad.length} answers differ; the first 10`);
        console.log(
          `module_vec_test ${series}: ${s.queries.length} searches, ${identical.same} scores bit-identical to the FUSE mount's, ${identical.differ} within 1e-6`,
        );
      });
      await t.step("the errnos of docs/IOCTL.md", () => {
        const got: Record<string, number> = {};
        for (const l of lines) {
          const m = /^VT E (\S+) (\d+)$/.exec(l);
          if (m) got[m[1]] = Number(m[2]);
        }
        assertEquals(got, ERRS);
      });
      await t.step("a damaged store gives EUCLEAN, the rest still answers", () => {
        const got = lines.filter((l) => l.startsWith("VD ")).map((l) => l.split(" ").slice(0, 3).join(" "));
        assertEquals(got, [
          `VD G ${EUCLEAN}`, // the vector fails its CRC
          `VD S ${EUCLEAN}`, // the scan meets it
          `VD S ${EUCLEAN}`, // r128ip's slot map block
          `VD G ${EUCLEAN}`,
          `VD I ${EUCLEAN}`, // r64cos's record: dim 0
          `VD S ${EUCLEAN}`,
          `VD L ${EUCLEAN}`, // listing meets the damaged record
          `VD S ${EUCLEAN}`, // fiori: count 5000, the store is shorter
          `VD G ${EUCLEAN}`,
        ]);
        assert(
          /vexfs: vdb: inode \d+: collection \d+: the vector in slot \d+ fails its checksum/.test(r.log),
          "dmesg names the vector",
        );
        assert(/slot map block 0 checksum mismatch/.test(r.log), "dmesg names the slot map block");
        assert(/has impossible fields/.test(r.log), "dmesg names the collection record");
      });
    } finally {
      await Deno.remove(out, { recursive: true });
      for (const f of [img, dmg]) await Deno.remove(f).catch(() => {});
    }
  });
}

Deno.test("module_vec_test: remove the images", { sanitizeResources: false, sanitizeOps: false }, async () => {
  if (!setup) return;
  const s = await setup.catch(() => null);
  if (s) { for (const f of [s.img, s.damaged]) await Deno.remove(f).catch(() => {}); }
});
