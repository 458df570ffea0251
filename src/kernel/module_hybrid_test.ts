/**
 * VEXFS_IOC_HYBRID and VEXFS_IOC_TEXT_INDEX stats in the kernel module
 * (kernel/bm25.c, bm25_fpu.c, hybrid.c), in Debian's 6.1 and 6.12 kernels
 * under QEMU, against the engine's answers (src/search/hybrid.ts).
 *
 * On the host the engine makes an image: a collection of 240 generated text
 * files (8-d l2 vectors on most, `user.lang` and `user.year` attributes,
 * 40 of them in a subdirectory, a binary file) with a keyword index built
 * and then changed, so that it has a delta segment whose tombstones hide
 * older documents; and a second collection without one. The engine answers
 * a set of queries (keyword only, hybrid RRF and weighted, filters, a
 * subtree, an excluded file, a vector side only) with the terms its
 * analyzer gives. In the VM the static C program `vexfs_hytool.c` sends the
 * same requests (encoded on the host by src/ioctl/abi_hybrid.ts, with
 * `VEXFS_IOC_HYBRID_TERMS`) to the module's read-only mount: the same inodes
 * in the same order, the same ranks, and scores equal after the f32
 * rounding (the module computes BM25 as the engine does, with the same ln).
 * Also: raw text EOPNOTSUPP, no index ENODATA, a field out of range EINVAL,
 * TEXT_INDEX stats as the engine's and build EOPNOTSUPP; an image whose
 * record's text_generation moved past the index (a change committed, the
 * index write lost) ESTALE and stats not fresh; a damaged segment EUCLEAN
 * (no oops); and the module still refuses a read-write mount of an image
 * with ro_compat BM25. One VM boot per kernel.
 */
import { assert, assertEquals } from "../test_assert.ts";
import { MemDevice } from "../device/mem.ts";
import { ROOT_INO } from "../format/constants.ts";
import { Vexfs } from "../fs/fs.ts";
import { computeLayout, writeFilesystem } from "../fs/mkfs.ts";
import { rng } from "../test_random.ts";
import { parseWhere } from "../search/where.ts";
import { searchHybrid } from "../search/hybrid.ts";
import type { HybridOptions } from "../search/hybrid.ts";
import { decodeHybridReply, decodeTextIndexReply, encodeHybrid, encodeTextIndex } from "../ioctl/abi_hybrid.ts";
import type { HybridRequestInput } from "../ioctl/abi_hybrid.ts";
import { vmTestKernelDir } from "./_vmtestutil.ts";
import { staticTool } from "./static_tool.ts";
import { runInVm, summarize } from "./qemu.ts";
import { buildModule } from "./build.ts";

const EINVAL = 22, ENODATA = 61, ESTALE = 116, EOPNOTSUPP = 95, EUCLEAN = 117;
const enc = new TextEncoder();
const HYBRID_SIZE = 14976, HITS_OFF = 10880;

const WORDS = ("deploy app cloud foundry fiori launchpad tile catalog role user service odata model view " +
  "controller binding filter sort table chart list object page form field value help search index token " +
  "theme icon route target manifest component library test mock server build destination connectivity " +
  "security auth token cache sync batch draft annotation extension adaptation card overview analytic")
  .split(" ");

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function unhex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

interface Query {
  name: string;
  dir: string;
  req: HybridRequestInput;
  want: { ino: number; score: number; vrank: number; trank: number }[];
  /** the engine's filter_passed: vectors that pass the filter, 0 without one or without a vector side */
  passed: number;
}

interface Setup {
  img: string;
  stale: string;
  damaged: string;
  queries: Query[];
  stats: { docCount: number; segments: number; textGeneration: number; totalTokens: number };
  staleGen: number;
  mutated: number;
}

function text(r: () => number, n: number): string {
  const out: string[] = [];
  // a skewed choice: early words are common, late ones rare
  for (let i = 0; i < n; i++) out.push(WORDS[Math.floor(WORDS.length * r() * r())]);
  return out.join(" ");
}

function makeImages(): Setup {
  const r = rng(1212);
  const dev = new MemDevice(48 << 20);
  writeFilesystem(dev, computeLayout(dev.size, { blockSize: 4096, inodes: 4096 }), {
    uuid: crypto.getRandomValues(new Uint8Array(16)),
  });
  let fs = Vexfs.openDevice(dev);
  const docs = fs.mkdir(ROOT_INO, "docs");
  const plain = fs.mkdir(ROOT_INO, "plain");
  fs.collections.create(docs, { dim: 8, metric: "l2", elem: "f32" });
  fs.collections.create(plain, { dim: 8, metric: "l2", elem: "f32" });
  const sub = fs.mkdir(docs, "sub");
  const langs = ["en", "de", "fr"];
  const put = (dir: number, name: string, body: string) => {
    const ino = fs.find(dir, name) || fs.create(dir, name);
    fs.truncate(ino, 0);
    fs.write(ino, 0, enc.encode(body));
    return ino;
  };
  const inos: number[] = [];
  for (let i = 0; i < 240; i++) {
    const ino = put(i < 40 ? sub : docs, `d-${i}.txt`, text(r, 5 + Math.floor(r() * 60)));
    inos.push(ino);
    if (i % 7 !== 3) fs.setxattr(ino, "user.lang", enc.encode(langs[i % 3]));
    fs.setxattr(ino, "user.year", enc.encode(String(1995 + (i % 30))));
    if (i % 11 !== 5) fs.collections.setVector(ino, Float32Array.from({ length: 8 }, () => r() * 2 - 1));
  }
  fs.write(fs.create(docs, "blob.bin"), 0, new Uint8Array([0, 1, 2, 3, 100, 101]));
  put(plain, "p.txt", "deploy app");
  fs.collections.text.build(docs);
  fs.sync();
  // changes after the build: a delta segment with tombstones over the base
  fs.collections.text.plan = () => ({ kind: "delta" });
  for (let i = 0; i < 30; i++) {
    put(i < 5 ? sub : docs, `d-${i < 5 ? i : i + 40}.txt`, text(r, 10 + Math.floor(r() * 30)));
  }
  fs.unlink(docs, "d-100.txt");
  put(docs, "new.txt", "deploy deploy cloud foundry app");
  fs.sync();
  fs.collections.text.checkpoint(true);
  fs.close();
  const good = dev.bytes.slice();

  fs = Vexfs.openDevice(new MemDevice(good.slice(), { readOnly: true }));
  const st = fs.collections.text.stats(docs);
  assert(st.segments >= 2, `the index has ${st.segments} segments; the test wants a delta`);
  assertEquals(st.fresh, true);
  const analyzer = fs.collections.text.analyzerOf(docs);
  const subIno = fs.lookup(docs, "sub");
  const exclude = fs.lookup(docs, "d-120.txt");
  const qv = (seed: number) => {
    const q = rng(seed);
    return Float32Array.from({ length: 8 }, () => q() * 2 - 1);
  };
  const defs: { name: string; dir: string; o: HybridOptions }[] = [
    { name: "text", dir: "docs", o: { k: 10, terms: analyzer.terms("deploy cloud foundry") } },
    { name: "text repeated", dir: "docs", o: { k: 25, terms: analyzer.terms("Search index search TOKEN") } },
    { name: "text rare", dir: "docs", o: { k: 128, terms: analyzer.terms("analytic overview card") } },
    { name: "text none", dir: "docs", o: { k: 5, terms: ["nosuchword"] } },
    { name: "text subtree", dir: "docs/sub", o: { k: 20, terms: analyzer.terms("app model view") } },
    {
      name: "text where",
      dir: "docs",
      o: { k: 30, terms: analyzer.terms("fiori tile role"), where: parseWhere(["user.lang=en"]) },
    },
    {
      name: "text where numbers",
      dir: "docs",
      o: {
        k: 40,
        terms: analyzer.terms("deploy app"),
        where: parseWhere(["user.year >= 2010", "user.lang in (de, fr)"]),
      },
    },
    { name: "rrf", dir: "docs", o: { k: 10, vector: qv(1), terms: analyzer.terms("cloud deploy") } },
    {
      name: "rrf k depth where",
      dir: "docs",
      o: {
        k: 15,
        vector: qv(2),
        terms: analyzer.terms("service odata"),
        rrfK: 10,
        depth: 40,
        where: parseWhere(["user.year < 2015"]),
      },
    },
    {
      name: "weighted",
      dir: "docs",
      o: { k: 20, vector: qv(3), terms: analyzer.terms("filter sort table"), fusion: "weighted", alpha: 0.25 },
    },
    {
      name: "weighted subtree exclude",
      dir: "docs/sub",
      o: { k: 12, vector: qv(4), terms: analyzer.terms("app"), fusion: "weighted", alpha: 0.5 },
    },
    {
      name: "rrf exclude",
      dir: "docs",
      o: { k: 10, vector: qv(5), terms: analyzer.terms("deploy"), exclude: new Set([exclude]) },
    },
    { name: "vector where", dir: "docs", o: { k: 10, vector: qv(6), where: parseWhere(["user.lang != de"]) } },
  ];
  const queries: Query[] = defs.map(({ name, dir, o }) => {
    const d = dir === "docs" ? docs : subIno;
    const res = searchHybrid(fs, d, { ...o, paths: false });
    const req: HybridRequestInput = {
      k: o.k,
      query: o.vector ?? null,
      terms: o.terms ?? null,
      fusion: o.fusion,
      rrfK: o.rrfK,
      alpha: o.alpha,
      depth: o.depth,
      where: o.where ? [...o.where] : [],
      excludeIno: o.exclude ? [...o.exclude][0] : 0,
    };
    return {
      name,
      dir,
      req,
      want: res.hits.map((h) => ({
        ino: h.ino,
        score: h.score,
        vrank: h.vector?.rank ?? 0,
        trank: h.text?.rank ?? 0,
      })),
      passed: res.method.vector?.filterPassed ?? 0,
    };
  });
  assert(queries.filter((q) => q.want.length > 0).length >= 11, "most queries have hits");
  const stats = {
    docCount: st.docCount,
    segments: st.segments,
    textGeneration: fs.collections.record(1)!.textGeneration,
    totalTokens: st.totalTokens,
  };
  fs.close();

  // stale: a change committed, the index write lost (the power cut of text_index_test)
  const sdev = new MemDevice(good.slice());
  const fs1 = Vexfs.openDevice(sdev);
  (fs1.collections.text as unknown as { checkpoint: () => void }).checkpoint = () => {};
  const ino = fs1.lookup(docs, "new.txt");
  fs1.write(ino, 0, enc.encode("cloud"));
  fs1.sync();
  const staleGen = fs1.collections.record(1)!.textGeneration;
  const staleBytes = sdev.bytes.slice();

  // damaged: a segment header block of the index changed in its zero padding (its CRC fails)
  const dmg = good.slice();
  let mutated = 0;
  for (let off = 0; off < dmg.length; off += 4096) {
    if (dmg[off] === 0x53 && dmg[off + 1] === 0x47 && dmg[off + 2] === 0x32 && dmg[off + 3] === 0x35) {
      dmg[off + 200] ^= 0x5a;
      mutated++;
    }
  }
  const write = (b: Uint8Array) => {
    const p = Deno.makeTempFileSync({ prefix: "vexfs-hy-", suffix: ".img" });
    Deno.writeFileSync(p, b);
    return p;
  };
  return {
    img: write(good),
    stale: write(staleBytes),
    damaged: write(dmg),
    queries,
    stats,
    staleGen,
    mutated,
  };
}

/** One command line for vexfs_hytool. */
function hyLine(dir: string, req: HybridRequestInput, patch?: (b: Uint8Array) => void): string {
  const b = encodeHybrid(req);
  patch?.(b);
  return `h /mnt/${dir} ${hex(b)}`;
}

function tiLine(dir: string, op: "stats" | "build"): string {
  return `t /mnt/${dir} ${hex(encodeTextIndex({ op }))}`;
}

interface Answer {
  errno: number;
  reply?: ReturnType<typeof decodeHybridReply>;
}

function parseHy(line: string): Answer {
  const [, e, head, hits] = line.split(" ");
  const errno = Number(e);
  if (errno) return { errno };
  const b = new Uint8Array(HYBRID_SIZE);
  b.set(unhex(head), 0);
  if (hits) b.set(unhex(hits), HITS_OFF);
  return { errno, reply: decodeHybridReply(b) };
}

let toolBytes: Promise<Uint8Array> | null = null;
let setup: Setup | null = null;

for (const series of ["6.1", "6.12"] as const) {
  Deno.test(`kernel module on ${series} (QEMU): HYBRID and TEXT_INDEX stats answer as the engine`, async (t) => {
    const kdir = await vmTestKernelDir("module_hybrid_test", series);
    if (!kdir) return;
    setup ??= makeImages();
    const s = setup;
    assert(s.mutated >= 2, `${s.mutated} segment headers damaged`);
    const out = await Deno.makeTempDir({ prefix: "vexfs-ko-" });
    const disks = [s.img, s.stale, s.damaged].map((f) => {
      const p = Deno.makeTempFileSync({ prefix: "vexfs-hy-vm-", suffix: ".img" });
      Deno.copyFileSync(f, p);
      return p;
    });
    try {
      const built = await buildModule({ kernelDir: kdir, out });
      assertEquals(built.warnings, []);
      toolBytes ??= staticTool("vexfs_hytool.c", { include: ["kernel"] });
      const tool = await toolBytes;
      const first = s.queries[0].req;
      const lines = [
        ...s.queries.map((q) => hyLine(q.dir, q.req)),
        // errnos, in this order
        `h /mnt/docs ${hex(encodeHybrid({ k: 5, text: "deploy" }))}`,
        hyLine("plain", { k: 5, terms: ["deploy"] }),
        hyLine("docs", first, (b) => b.fill(0, 16, 20)), // k = 0
        hyLine("docs", { k: 5, terms: ["deploy"], query: new Float32Array(4) }), // dim is not the collection's
        tiLine("docs", "build"),
        tiLine("docs", "stats"),
        tiLine("plain", "stats"),
      ];
      const cmds = lines.join("\n") + "\n";
      const r = await runInVm({
        kernel: series,
        disks,
        modules: [built.ko],
        files: {
          "/bin/hytool": tool,
          "/cmds.txt": cmds,
          "/stale.txt": hyLine("docs", first) + "\n" + tiLine("docs", "stats") + "\n",
          "/dmg.txt": hyLine("docs", first) + "\n",
        },
        timeoutMs: 240_000,
        script: `
t_eq "a read-write mount of an image with a keyword index is refused (busybox mount then retries read-only)" "ro" \\
	"$(if mount -t vexfs /dev/vda /mnt >/dev/null 2>&1; then grep -q ' /mnt vexfs ro[,]' /proc/mounts && echo ro || echo rw; umount /mnt; else echo ro; fi)"
t_check "mount ro" mount -t vexfs -o ro /dev/vda /mnt
echo HY-BEGIN
hytool < /cmds.txt
echo HY-END
t_check "umount" umount /mnt
t_check "mount stale ro" mount -t vexfs -o ro /dev/vdb /mnt
hytool < /stale.txt | sed 's/^/ST /'
t_check "umount stale" umount /mnt
t_check "mount damaged ro" mount -t vexfs -o ro /dev/vdc /mnt
hytool < /dmg.txt | sed 's/^/DM /'
t_check "umount damaged" umount /mnt
`,
      });
      await t.step("no test failed and no oops", () => {
        assertEquals(r.failed, [], r.log.split("\n").filter((l) => /^(not ok|# )/.test(l)).join("\n"));
        assert(r.ok, `${summarize(r)}\n${r.log.slice(-4000)}`);
      });
      const log = r.log.split("\n").map((l) => l.replace(/\r$/, ""));
      const got = log.slice(log.indexOf("HY-BEGIN") + 1, log.indexOf("HY-END")).filter((l) => /^(HY|TI) /.test(l));
      assertEquals(got.length, lines.length, `${got.length} answers for ${lines.length} commands`);
      await t.step("every query answers as the engine", () => {
        let same = 0, total = 0;
        const bad: string[] = [];
        s.queries.forEach((q, i) => {
          const a = parseHy(got[i]);
          if (a.errno || !a.reply) {
            bad.push(`${q.name}: errno ${a.errno}`);
            return;
          }
          const hits = a.reply.hits.map((h) => ({
            ino: h.ino,
            vrank: h.vector?.rank ?? 0,
            trank: h.text?.rank ?? 0,
          }));
          const want = q.want.map((h) => ({ ino: h.ino, vrank: h.vrank, trank: h.trank }));
          if (a.reply.filterPassed !== q.passed) {
            bad.push(`${q.name}: filter_passed ${a.reply.filterPassed}, engine ${q.passed}`);
          }
          if (JSON.stringify(hits) !== JSON.stringify(want)) {
            bad.push(`${q.name}: got ${JSON.stringify(hits.slice(0, 5))}, want ${JSON.stringify(want.slice(0, 5))}`);
            return;
          }
          a.reply.hits.forEach((h, j) => {
            total++;
            const w = Math.fround(q.want[j].score);
            if (h.score === w) same++;
            else if (Math.abs(h.score - w) > 1e-6 * Math.max(1, Math.abs(w))) {
              bad.push(`${q.name} hit ${j}: score ${h.score}, engine ${q.want[j].score}`);
            }
          });
        });
        assertEquals(bad, []);
        console.log(
          `module_hybrid_test ${series}: ${s.queries.length} queries, ${same} of ${total} scores bit-identical`,
        );
      });
      await t.step("errnos and TEXT_INDEX stats", () => {
        const n = s.queries.length;
        assertEquals(got.slice(n, n + 4).map((l) => parseHy(l).errno), [EOPNOTSUPP, ENODATA, EINVAL, EINVAL]);
        assertEquals(got[n + 4].split(" ")[1], String(EOPNOTSUPP));
        const st = got[n + 5].split(" ");
        assertEquals(st[1], "0");
        const ti = decodeTextIndexReply(unhex(st[2]));
        assertEquals(
          {
            fresh: ti.fresh,
            docCount: ti.docCount,
            segments: ti.segments,
            textGeneration: ti.textGeneration,
            totalTokens: ti.totalTokens,
          },
          { fresh: true, ...s.stats },
        );
        const pl = got[n + 6].split(" ");
        assertEquals(pl[1], "0");
        assertEquals(decodeTextIndexReply(unhex(pl[2])).params, null);
      });
      await t.step("a stale index is ESTALE, a damaged one EUCLEAN", () => {
        const st = log.filter((l) => l.startsWith("ST "));
        assertEquals(st.length, 2);
        assertEquals(st[0].split(" ")[2], String(ESTALE));
        const ti = st[1].split(" ");
        assertEquals(ti[2], "0");
        const rep = decodeTextIndexReply(unhex(ti[3]));
        assertEquals([rep.fresh, rep.textGeneration], [false, s.staleGen]);
        const dm = log.filter((l) => l.startsWith("DM "));
        assertEquals(dm.map((l) => l.split(" ")[2]), [String(EUCLEAN)]);
        assert(/BM25 index: block \d+ fails its checksum/.test(r.log), "dmesg names the block");
      });
    } finally {
      await Deno.remove(out, { recursive: true });
      for (const f of disks) await Deno.remove(f).catch(() => {});
    }
  });
}

Deno.test("module_hybrid_test: remove the images", { sanitizeResources: false, sanitizeOps: false }, async () => {
  if (!setup) return;
  for (const f of [setup.img, setup.stale, setup.damaged]) await Deno.remove(f).catch(() => {});
});
