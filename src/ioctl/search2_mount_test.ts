/**
 * VEXFS_IOC_SEARCH2 and VEXFS_IOC_INDEX through a real FUSE mount
 * (docs/IOCTL.md §3.11, §3.12): 3,000 random 32-d vectors in an HNSW
 * collection, set through the mount, searched with `ef` and exactly (exact
 * equals an independent brute force, ef 200 reaches recall@10 ≥ 0.95
 * through the graph), the index dropped, rebuilt and optimized with the
 * search method following, the same searches repeated by the offline
 * engine on the unmounted image (same hits, same method), refusals (bad
 * flags and ef, EROFS on a read-only mount) and the command line
 * (`vexfs index stats DIR`, `vexfs search DIR --ef 200 --json`, `--exact`,
 * `--queries`) on the mount.
 */
import { Vexfs } from "../fs/fs.ts";
import type { SearchMethod } from "../fs/vectors.ts";
import { assert, assertEquals, assertMatch } from "../test_assert.ts";
import { rng } from "../test_random.ts";
import { mountTest, withMount } from "../mount/_testutil.ts";
import * as posix from "../mount/_posix.ts";
import { vexfsArgv } from "../mount/self.ts";
import { encodeIndex, encodeSearch2, INDEX, SEARCH2, VEXFS_IOC_INDEX, VEXFS_IOC_SEARCH2 } from "./abi.ts";
import { BatchSetter, createCollection, DirSearcher, index, search2, searchExWithPaths } from "./client.ts";
import { ERRNO, FsError } from "../errors.ts";

const DIM = 32;
const COUNT = 3000;
const dec = new TextDecoder();

/** The test's vectors: `COUNT` random 32-d vectors in [-1, 1), file `f<i>` holds vector i. */
function vectors(): Float32Array[] {
  const r = rng(4242);
  return Array.from({ length: COUNT }, () => Float32Array.from({ length: DIM }, () => r() * 2 - 1));
}

/** Queries, seeded apart from the vectors. */
function queries(n: number): Float32Array[] {
  const r = rng(99);
  return Array.from({ length: n }, () => Float32Array.from({ length: DIM }, () => r() * 2 - 1));
}

/** Exact top-k file numbers by squared L2 in f64, ties by number: an independent brute force. */
function brute(vs: Float32Array[], q: Float32Array, k: number): number[] {
  return vs.map((v, i) => {
    let d = 0;
    for (let j = 0; j < DIM; j++) d += (q[j] - v[j]) ** 2;
    return { i, d };
  }).sort((a, b) => a.d - b.d || a.i - b.i).slice(0, k).map((x) => x.i);
}

/** File number of a hit path `f<i>`. */
const num = (path: string) => Number(path.replace(/^.*f/, ""));

/** Creates /c (32-d l2 HNSW) on the mount, writes the files and sets their vectors with SET_VECTORS. */
async function populate(mnt: string, vs: Float32Array[]): Promise<string> {
  const c = `${mnt}/c`;
  Deno.mkdirSync(c);
  await createCollection(c, { dim: DIM, metric: "l2", elem: "f32", index: "hnsw", m: 16, efConstruction: 100 });
  const items = vs.map((vector, i) => {
    Deno.writeTextFileSync(`${c}/f${i}`, `${i}\n`);
    return { ino: Deno.statSync(`${c}/f${i}`).ino!, vector };
  });
  const b = await BatchSetter.open(c);
  try {
    await b.set(items);
  } finally {
    await b.close();
  }
  return c;
}

/** One raw ioctl on `path` (this process does not serve the mount): 0 or the errno. */
function rawIoctl(path: string, cmd: number, buf: Uint8Array): number {
  const own = new Uint8Array(buf.length);
  own.set(buf);
  const fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC);
  try {
    posix.ioctl(fd, cmd, own);
    return 0;
  } catch (e) {
    if (e instanceof posix.PosixError) return e.errno;
    throw e;
  } finally {
    posix.close(fd);
  }
}

/** Runs `vexfs ARGS...` (the real command) and returns its exit code, stdout and stderr. */
async function vexfs(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const [exe, ...rest] = vexfsArgv(args);
  const o = await new Deno.Command(exe, {
    args: rest,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", VEXFS_NO_PROGRESS: "1" },
  }).output();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

async function rejects(f: () => Promise<unknown>, code: string, re?: RegExp): Promise<void> {
  const err = await f().then(() => null, (e) => e);
  assert(err instanceof FsError, `expected FsError ${code}, got ${err === null ? "success" : String(err)}`);
  assertEquals(err.code as string, code, err.message);
  if (re) assertMatch(err.message, re);
}

interface Recorded {
  q: number;
  ef?: number;
  exact?: boolean;
  paths: string[];
  method: SearchMethod;
}

Deno.test({
  name: "SEARCH2 and INDEX through the mount: ef, exact, drop, build, optimize; the offline engine agrees",
  ...mountTest,
  fn: async () => {
    const vs = vectors();
    const qs = queries(40);
    const recorded: Recorded[] = [];
    const img = await withMount({ keepImage: true, size: 128 << 20 }, async (mnt, img) => {
      const c = await populate(mnt, vs);
      // exact: a brute force; ef 200: the graph, recall@10 >= 0.95; ef 0: a collection this small is scanned
      let found = 0;
      for (let t = 0; t < qs.length; t++) {
        const truth = brute(vs, qs[t], 10);
        const ex = await searchExWithPaths(c, qs[t], 10, { exact: true });
        assertEquals(ex.hits.map((h) => num(h.path)), truth, `exact query ${t}`);
        assertEquals(ex.method, { method: "exact", reason: "exact search asked for" });
        const hn = await searchExWithPaths(c, qs[t], 10, { ef: 200 });
        assertEquals(hn.method, { method: "hnsw", ef: 200 });
        found += hn.hits.filter((h) => truth.includes(num(h.path))).length;
        const raw = await search2(c, qs[t], 10, { ef: 200 });
        assertEquals(raw.hits.map((h) => h.ino), hn.hits.map((h) => h.ino), "search2 and searchExWithPaths agree");
        assertEquals([raw.collectionId, raw.metric, raw.elem, raw.exactReason], [1, "l2", "f32", undefined]);
        const d = await searchExWithPaths(c, qs[t], 10);
        assertEquals(d.method.method, "exact");
        assertMatch(d.method.reason!, /small collection/);
        assertEquals(d.hits.map((h) => num(h.path)), truth);
      }
      assert(found / (10 * qs.length) >= 0.95, `recall@10 at ef 200 through the mount: ${found / (10 * qs.length)}`);

      // a held descriptor answers as one opened per call, until it is closed
      const held = await DirSearcher.open(c);
      for (let t = 0; t < qs.length; t++) {
        const a = await held.search(qs[t], 10, { ef: 200 });
        const b = await search2(c, qs[t], 10, { ef: 200 });
        assertEquals(a.hits.map((h) => h.ino), b.hits.map((h) => h.ino), `held descriptor, query ${t}`);
        assertEquals(a.method, b.method);
      }
      await held.close();
      await rejects(() => held.search(qs[0], 10), "EBADF", /closed/);

      // bad flags and ef: EINVAL from the daemon (the client would refuse them itself)
      const good = encodeSearch2({ k: 5, query: qs[0], excludeIno: 0, ef: 0, exact: false });
      const with32 = (off: number, v: number) => {
        const b = good.slice();
        new DataView(b.buffer).setUint32(off, v, true);
        return b;
      };
      assertEquals(rawIoctl(c, VEXFS_IOC_SEARCH2, good), 0);
      assertEquals(rawIoctl(c, VEXFS_IOC_SEARCH2, with32(SEARCH2.off.flags, 2)), ERRNO.EINVAL, "unknown flag");
      assertEquals(rawIoctl(c, VEXFS_IOC_SEARCH2, with32(SEARCH2.off.ef, 65536)), ERRNO.EINVAL, "ef > 65535");
      const both = with32(SEARCH2.off.ef, 10);
      new DataView(both.buffer).setUint32(SEARCH2.off.flags, 1, true);
      assertEquals(rawIoctl(c, VEXFS_IOC_SEARCH2, both), ERRNO.EINVAL, "ef with EXACT");
      const badOp = encodeIndex({ op: "stats" });
      new DataView(badOp.buffer).setUint32(INDEX.off.op, 0, true);
      assertEquals(rawIoctl(c, VEXFS_IOC_INDEX, badOp), ERRNO.EINVAL, "op 0");
      assertEquals(rawIoctl(mnt, VEXFS_IOC_INDEX, encodeIndex({ op: "stats" })), ERRNO.ENOENT, "not in a collection");
      await rejects(() => index(mnt, { op: "stats" }), "ENOENT", /not inside a vector collection/);
      await rejects(() => index(c, { op: "build", m: 200 }), "EINVAL", /M = 200/);
      await rejects(() => search2(c, qs[0], 5, { ef: 70000 }), "EINVAL", /ef = 70000/);

      // INDEX: stats, drop (searches scan), build (the graph again), optimize
      const st = await index(c, { op: "stats" });
      assertEquals([st.index, st.graph!.nodes, st.graph!.m, st.graph!.efConstruction], ["hnsw", COUNT, 16, 100]);
      const dropped = await index(c, { op: "drop" });
      assertEquals([dropped.index, dropped.graph, dropped.current], ["flat", undefined, null]);
      const flat = await searchExWithPaths(c, qs[1], 10, { ef: 200 });
      assertEquals(flat.method, { method: "exact" }, "a flat collection is scanned (no reason, as offline)");
      assertEquals(flat.hits.map((h) => num(h.path)), brute(vs, qs[1], 10));
      await rejects(() => index(c, { op: "optimize" }), "EINVAL", /no HNSW index to optimize/);
      const built = await index(c, { op: "build", m: 12, efConstruction: 120 });
      assertEquals([built.index, built.graph!.nodes, built.graph!.m, built.graph!.efConstruction], [
        "hnsw",
        COUNT,
        12,
        120,
      ]);
      assertEquals((await searchExWithPaths(c, qs[1], 10, { ef: 200 })).method, { method: "hnsw", ef: 200 });
      // delete 50 vectors (files removed), optimize: no deleted nodes left
      for (let i = 0; i < 50; i++) Deno.removeSync(`${c}/f${i}`);
      const opt = await index(c, { op: "optimize" });
      assertEquals([opt.graph!.nodes, opt.graph!.deleted, opt.graph!.m], [COUNT - 50, 0, 12]);
      const left = vs.map((v, i) => (i < 50 ? null : v));

      // the final state, recorded for the offline comparison
      for (let t = 0; t < 10; t++) {
        for (const o of [{ ef: 200 }, { ef: 40 }, { exact: true }, {}]) {
          const r = await searchExWithPaths(c, qs[t], 10, o);
          recorded.push({ q: t, ...o, paths: r.hits.map((h) => h.path), method: r.method });
          if (o.exact) {
            const live = left.flatMap((v, i) => (v ? [{ v, i }] : []));
            const truth = brute(live.map((x) => x.v), qs[t], 10).map((j) => live[j].i);
            assertEquals(r.hits.map((h) => num(h.path)), truth);
          }
        }
      }
      const f = Deno.openSync(c);
      f.syncSync();
      f.close();
      return img;
    });
    // The unmounted image: the offline engine gives the same answers the same way.
    const fs = Vexfs.open(img, { readOnly: true });
    try {
      const c = fs.resolve("/c");
      const st = fs.collections.indexStats(c);
      assertEquals([st.index, st.current, st.graph!.nodes, st.graph!.m], ["hnsw", true, COUNT - 50, 12]);
      for (const r of recorded) {
        const off = fs.collections.searchEx(c, qs[r.q], 10, { ef: r.ef, exact: r.exact });
        assertEquals(off.hits.map((h) => h.path), r.paths, `query ${r.q} ef ${r.ef} exact ${r.exact}: paths`);
        assertEquals(off.method, r.method, `query ${r.q} ef ${r.ef} exact ${r.exact}: method`);
      }
    } finally {
      fs.close();
    }
    // Read-only: stats and searches work, changes are EROFS.
    try {
      await withMount({ image: img, options: "ro" }, async (mnt) => {
        const c = `${mnt}/c`;
        assertEquals((await index(c, { op: "stats" })).graph!.nodes, COUNT - 50);
        assertEquals((await searchExWithPaths(c, qs[0], 5, { ef: 64 })).method, { method: "hnsw", ef: 64 });
        for (const op of ["build", "drop", "optimize"] as const) {
          await rejects(() => index(c, { op }), "EROFS", /read-only/);
        }
        const cli = await vexfs("index", "drop", c);
        assert(cli.code !== 0, "vexfs index drop on a read-only mount fails");
        assertMatch(cli.stderr, /read-only/);
        assertEquals((await index(c, { op: "stats" })).index, "hnsw", "nothing changed");
      });
    } finally {
      Deno.removeSync(img);
    }
  },
});

Deno.test({
  name: "vexfs index and vexfs search --ef/--exact/--queries on a mounted VexFS",
  ...mountTest,
  fn: async () => {
    const vs = vectors().slice(0, 1000);
    const qs = queries(5);
    await withMount({ size: 128 << 20 }, async (mnt) => {
      const c = await populate(mnt, vs);
      // index stats: the same figures as the ioctl
      const st = await vexfs("index", "stats", c, "--json");
      assertEquals(st.code, 0, st.stderr);
      const js = JSON.parse(st.stdout);
      assertEquals([js.schema_version, js.command], [1, "index stats"]);
      assertEquals(
        [js.collection.id, js.stats.index, js.stats.graph.nodes, js.stats.graph.m, js.stats.graph.ef_construction],
        [1, "hnsw", 1000, 16, 100],
      );
      const human = await vexfs("index", "stats", c);
      assertEquals(human.code, 0, human.stderr);
      assertMatch(human.stdout, /HNSW, M 16 \(level 0: 32\), efConstruction 100/);
      // search --ef 200 --json: the ioctl's answer; the method on stderr
      const vec = JSON.stringify(Array.from(qs[0]));
      const s = await vexfs("search", c, "--ef", "200", "--json", "-k", "10", "--vector", vec);
      assertEquals(s.code, 0, s.stderr);
      const sj = JSON.parse(s.stdout);
      assertEquals([sj.search.method, sj.search.ef], ["hnsw", 200], "the method in the JSON too");
      const hits = sj.hits as { rank: number; path: string; ino: number; score: number }[];
      const direct = await searchExWithPaths(c, qs[0], 10, { ef: 200 });
      assertEquals(hits.map((h) => h.path), direct.hits.map((h) => h.path));
      assertEquals(hits.map((h) => h.score), direct.hits.map((h) => h.score));
      const told = await vexfs("search", c, "--ef", "200", "-k", "3", "--vector", vec);
      assertEquals(told.code, 0, told.stderr);
      assertMatch(told.stdout, /HNSW, ef 200/);
      // --exact: a brute force, and says so
      const ex = await vexfs("search", c, "--exact", "-k", "10", "--vector", vec);
      assertEquals(ex.code, 0, ex.stderr);
      assertMatch(ex.stdout, /exact scan \(exact search asked for\)/);
      const exj = JSON.parse((await vexfs("search", c, "--exact", "--json", "-k", "10", "--vector", vec)).stdout);
      assertEquals(exj.search.method, "exact");
      assertEquals(exj.hits.map((h: { path: string }) => num(h.path)), brute(vs, qs[0], 10));
      // --queries FILE: ef passed for every query
      const qfile = Deno.makeTempFileSync({ suffix: ".jsonl" });
      try {
        Deno.writeTextFileSync(qfile, qs.map((q) => JSON.stringify(Array.from(q))).join("\n") + "\n");
        const b = await vexfs("search", c, "--queries", qfile, "--ef", "150", "--json", "-k", "5");
        assertEquals(b.code, 0, b.stderr);
        assertMatch(b.stderr, /HNSW, ef 150/);
        const lines = b.stdout.trim().split("\n").map((l) => JSON.parse(l));
        assertEquals(lines.length, qs.length);
        for (let i = 0; i < qs.length; i++) {
          const want = await searchExWithPaths(c, qs[i], 5, { ef: 150 });
          assertEquals(lines[i].hits.map((h: { path: string }) => h.path), want.hits.map((h) => h.path), `query ${i}`);
        }
        const be = await vexfs("search", c, "--queries", qfile, "--exact", "--json", "-k", "5");
        assertEquals(be.code, 0, be.stderr);
        assertMatch(be.stderr, /exact scan \(exact search asked for\)/);
        const blines = be.stdout.trim().split("\n").map((l) => JSON.parse(l));
        blines.forEach((l, i) => assertEquals(l.hits.map((h: { path: string }) => num(h.path)), brute(vs, qs[i], 5)));
      } finally {
        Deno.removeSync(qfile);
      }
      // index drop / build through the command line, and the search follows
      const drop = await vexfs("index", "drop", c);
      assertEquals(drop.code, 0, drop.stderr);
      assertMatch(drop.stdout, /index: none/);
      const flat = await vexfs("search", c, "--ef", "200", "-k", "3", "--vector", vec);
      assertMatch(flat.stdout, /exact scan/);
      const build = await vexfs("index", "build", c, "--m", "8", "--ef-construction", "64", "--json");
      assertEquals(build.code, 0, build.stderr);
      const bj = JSON.parse(build.stdout);
      assertEquals(
        [bj.collection.index, bj.stats.index, bj.stats.graph.nodes, bj.stats.graph.m, bj.stats.graph.ef_construction],
        ["hnsw", "hnsw", 1000, 8, 64],
      );
      const opt = await vexfs("index", "optimize", c);
      assertEquals(opt.code, 0, opt.stderr);
      assertMatch(opt.stdout, /index optimize of collection 1/);
      // a bad M is the command's error, not a crash
      const bad = await vexfs("index", "build", c, "--m", "500");
      assert(bad.code !== 0);
      assertMatch(bad.stderr, /M = 500 is out of range/);
    });
  },
});
