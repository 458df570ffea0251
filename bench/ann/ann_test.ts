/**
 * Tests of the pure logic of `vexfs bench vectors`: recall, the choice of the
 * point at recall ≥ 0.95, the Pareto frontier, the history and its
 * comparison, the plot specification and the Markdown block. No speed is
 * asserted.
 * @module
 */
import { assert, assertClose, assertEquals } from "../../src/test_assert.ts";
import { cacheKey, datasetSpec, randomRows } from "./datasets.ts";
import {
  compareRows,
  compareRun,
  DEFAULT_THRESHOLDS,
  insertRun,
  latestRun,
  openHistory,
  previousRows,
  reportOf,
  type ResultRow,
  resultsOf,
} from "./history.ts";
import { relativeTo } from "./main.ts";
import {
  bestAtRecall,
  compareAtRecall,
  distance,
  idRecall,
  paretoFrontier,
  pointFromLatencies,
  recallAtK,
  type SweepPoint,
} from "./metrics.ts";
import { plotData, plotSpec, renderSvg } from "./plot.ts";
import { shortUrl, summarizeProfile } from "./profile.ts";
import { efSequence, type Job, overlapRecall, parseProcMemory } from "./protocol.ts";
import {
  renderVectorsMarkdown,
  summaryTable,
  targetLines,
  updateVectorsMarkdown,
  VMD_BEGIN,
  VMD_END,
} from "./report.ts";
import type { DatasetReport, SystemReport, VectorsReport } from "./run.ts";
import { which } from "../exec.ts";
import { buildBrute } from "./native.ts";
import { readF64, readI32, writeTyped } from "./protocol.ts";

// ------------------------------------------------------------------ recall

Deno.test("distance: l2, cosine (zero vector = cos 0), ip", () => {
  const a = new Float32Array([3, 4, 0, 0]);
  const b = new Float32Array([0, 0, 0, 0]);
  assertEquals(distance("l2", a, 0, a, 2, 2), 5);
  assertEquals(distance("ip", a, 0, a, 0, 2), -25);
  assertClose(distance("cosine", a, 0, new Float32Array([6, 8]), 0, 2), 0, 1e-12);
  assertEquals(distance("cosine", a, 0, b, 0, 2), 1);
  assertClose(distance("cosine", new Float32Array([1, 0]), 0, new Float32Array([0, 2]), 0, 2), 1, 1e-12);
});

/** 1-d data: base row i is the value i; query q is the value `qs[q]`. */
function line(qs: number[], gtK: number) {
  const dist = (q: number, row: number) => Math.abs(qs[q] - row);
  const gtDist = new Float64Array(qs.length * gtK);
  const gtIds = new Int32Array(qs.length * gtK);
  qs.forEach((v, q) => {
    const rows = Array.from({ length: 100 }, (_, i) => i).sort((a, b) => dist(q, a) - dist(q, b) || a - b);
    for (let j = 0; j < gtK; j++) {
      gtIds[q * gtK + j] = rows[j];
      gtDist[q * gtK + j] = dist(q, rows[j]);
    }
    void v;
  });
  return { dist, gtDist, gtIds };
}

Deno.test("recallAtK: exact answers are 1, misses and missing results lower it", () => {
  const { dist, gtDist, gtIds } = line([10.2, 50.2], 5);
  const k = 3;
  const ids = new Int32Array([10, 11, 9, 50, 51, 49]);
  assertEquals(recallAtK({ k, nq: 2, ids, gtDist, gtK: 5, dist }), 1);
  // query 1 gets one far row and one missing result: 1/3 for it
  const worse = new Int32Array([10, 11, 9, 50, 90, -1]);
  assertClose(recallAtK({ k, nq: 2, ids: worse, gtDist, gtK: 5, dist }), (1 + 1 / 3) / 2, 1e-12);
  assertEquals(idRecall(ids, gtIds, k, 5, 2), 1);
  assertClose(idRecall(worse, gtIds, k, 5, 2), 4 / 6, 1e-12);
});

Deno.test("recallAtK: a row at the k-th distance (a tie) counts; one returned twice counts once", () => {
  // query 10.5: rows 10 and 11 tie at 0.5; the true top-1 is 10, but 11 is as near
  const { dist, gtDist, gtIds } = line([10.5], 4);
  assertEquals(recallAtK({ k: 1, nq: 1, ids: new Int32Array([11]), gtDist, gtK: 4, dist }), 1);
  assertEquals(idRecall(new Int32Array([11]), gtIds, 1, 4, 1), 0);
  // within epsilon counts, beyond it does not
  const d2 = (_q: number, row: number) => (row === 7 ? 0.5 + 5e-4 : 0.5 + 5e-3);
  assertEquals(recallAtK({ k: 1, nq: 1, ids: new Int32Array([7]), gtDist, gtK: 4, dist: d2 }), 1);
  assertEquals(recallAtK({ k: 1, nq: 1, ids: new Int32Array([8]), gtDist, gtK: 4, dist: d2 }), 0);
  assertEquals(recallAtK({ k: 2, nq: 1, ids: new Int32Array([10, 10]), gtDist, gtK: 4, dist }), 0.5);
  let threw = false;
  try {
    recallAtK({ k: 5, nq: 1, ids: new Int32Array(5), gtDist, gtK: 4, dist });
  } catch (e) {
    threw = e instanceof RangeError;
  }
  assert(threw, "gtK < k must throw a RangeError");
});

Deno.test("pointFromLatencies: QPS is 1 / mean latency; p50 and p99 by nearest rank", () => {
  const lat = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100 µs, mean 50.5
  const p = pointFromLatencies(40, 0.9, lat, "hnsw");
  assertClose(p.qps, 1e6 / 50.5, 1e-9);
  assertEquals(p.p50Us, 50);
  assertEquals(p.p99Us, 99);
  assertEquals(p.method, "hnsw");
});

const pt = (ef: number | null, recall: number, qps: number): SweepPoint => ({
  ef,
  recall,
  qps,
  p50Us: 1e6 / qps,
  p99Us: 2e6 / qps,
  meanUs: 1e6 / qps,
});

Deno.test("paretoFrontier: keeps the points no other beats on both recall and QPS", () => {
  const pts = [pt(10, 0.8, 1000), pt(20, 0.9, 1200), pt(40, 0.95, 600), pt(80, 0.95, 500), pt(400, 0.99, 100)];
  const f = paretoFrontier(pts);
  assertEquals(f.map((p) => p.ef), [400, 40, 20]);
});

Deno.test("bestAtRecall: most QPS among points with recall ≥ 0.95, none when unreached", () => {
  const pts = [pt(10, 0.9, 5000), pt(40, 0.951, 3000), pt(80, 0.97, 2000), pt(120, 0.99, 3000)];
  assertEquals(bestAtRecall(pts)?.ef, 40); // 40 and 120 tie on QPS: the smaller ef
  assertEquals(bestAtRecall([pt(10, 0.9, 5000), pt(20, 0.949, 4000)]), undefined);
  assertEquals(bestAtRecall([pt(null, 1, 100)])?.ef, null);
  assertEquals(bestAtRecall(pts, 0.98)?.ef, 120);
});

Deno.test("compareAtRecall: met when at least as fast as the peer at the target", () => {
  const peer = [pt(20, 0.96, 10000)];
  const slow = compareAtRecall("vexfs", [pt(40, 0.97, 5000)], "hnswlib", peer);
  assertEquals(slow.met, false);
  assertClose(slow.ratio!, 0.5, 1e-12);
  assertEquals(compareAtRecall("vexfs", [pt(40, 0.97, 12000)], "hnswlib", peer).met, true);
  assertEquals(compareAtRecall("vexfs", [pt(40, 0.9, 12000)], "hnswlib", peer).met, false);
  assertEquals(compareAtRecall("vexfs", [pt(40, 0.97, 1)], "hnswlib", [pt(20, 0.5, 1e6)]).met, true);
});

// ------------------------------------------------------------------ datasets

Deno.test("datasets: seeded random rows are reproducible and in [-1, 1); specs and cache keys", () => {
  const a = randomRows(10, 4, 7), b = randomRows(10, 4, 7), c = randomRows(10, 4, 8);
  assertEquals(a, b);
  assert(a.some((x, i) => x !== c[i]));
  assert(a.every((x) => x >= -1 && x < 1));
  assertEquals(datasetSpec("fiori").nq, 778);
  assertEquals(datasetSpec("mnist").n + datasetSpec("mnist").nq, 10_000);
  assertEquals(datasetSpec("random-1m", 3, 500).nq, 500);
  // the 100K variants share their vectors
  assertEquals(cacheKey(datasetSpec("random-100k")), cacheKey(datasetSpec("random-100k-ip")));
  assert(cacheKey(datasetSpec("random-100k", 1)) !== cacheKey(datasetSpec("random-100k", 2)));
});

Deno.test("parseProcMemory: VmHWM and VmRSS in bytes", () => {
  const m = parseProcMemory("Name:\tx\nVmPeak:\t  9 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\n");
  assertEquals(m, { peak: 2048 * 1024, rss: 1024 * 1024 });
  assertEquals(parseProcMemory(""), { peak: 0, rss: 0 });
});

Deno.test("relativeTo: plot links relative to the Markdown file", () => {
  assertEquals(relativeTo("/r/BENCHMARKS.md", "/r/bench/plots/a.svg"), "bench/plots/a.svg");
  assertEquals(relativeTo("/r/docs/X.md", "/r/bench/plots/a.svg"), "../bench/plots/a.svg");
});

Deno.test({
  name: "brute.c: ground truth and scan agree with the distances of metrics.ts",
  ignore: !which("gcc"),
  async fn() {
    const brute = (await buildBrute()).path;
    const dir = await Deno.makeTempDir();
    try {
      const dim = 5, n = 60, nq = 4, k = 6;
      const base = randomRows(n, dim, 1), queries = randomRows(nq, dim, 2);
      await writeTyped(`${dir}/b`, base);
      await writeTyped(`${dir}/q`, queries);
      for (const metric of ["l2", "cosine", "ip"] as const) {
        const gt = new Deno.Command(brute, {
          args: ["gt", String(dim), metric, String(k), `${dir}/b`, `${dir}/q`, `${dir}/gi`, `${dir}/gd`],
          stdout: "null",
        });
        assertEquals((await gt.output()).code, 0);
        const ids = await readI32(`${dir}/gi`), dist = await readF64(`${dir}/gd`);
        for (let q = 0; q < nq; q++) {
          const want = Array.from(
            { length: n },
            (_, i) => ({ i, d: distance(metric, queries, q * dim, base, i * dim, dim) }),
          )
            .sort((a, b) => a.d - b.d || a.i - b.i).slice(0, k);
          assertEquals(Array.from(ids.subarray(q * k, (q + 1) * k)), want.map((w) => w.i));
          want.forEach((w, j) => assertClose(dist[q * k + j], w.d, 1e-9));
        }
        const scan = new Deno.Command(brute, {
          args: ["scan", String(dim), metric, String(k), `${dir}/b`, `${dir}/q`, `${dir}/si`, `${dir}/sl`, "1"],
          stdout: "null",
        });
        assertEquals((await scan.output()).code, 0);
        const gtIds = await readI32(`${dir}/gi`);
        const dfn = (q: number, row: number) => distance(metric, queries, q * dim, base, row * dim, dim);
        assertEquals(recallAtK({ k, nq, ids: await readI32(`${dir}/si`), gtDist: dist, gtK: k, dist: dfn }), 1);
        assertEquals(idRecall(gtIds, gtIds, k, k, nq), 1);
        assertEquals((await readF64(`${dir}/sl`)).length, nq);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ------------------------------------------------------------------ a report

function sys(system: SystemReport["system"], points: SweepPoint[], extra: Partial<SystemReport> = {}): SystemReport {
  return { system, label: system, available: true, points, notes: [], ...extra };
}

function report(scale = 1, date = "2026-12-04T10:00:00.000Z"): VectorsReport {
  const d100: DatasetReport = {
    id: "random-100k",
    title: "random 100K × 128 (l2)",
    dim: 128,
    metric: "l2",
    n: 100_000,
    nq: 1000,
    hash: "abc",
    gtSeconds: 0,
    systems: [
      sys("hnswlib", [pt(40, 0.9, 8000), pt(200, 0.96, 3000)], {
        buildSeconds: 30,
        peakRssBytes: 2e8,
        indexBytes: 7e7,
      }),
      sys("vexfs", [pt(40, 0.91, 6000 * scale), pt(200, 0.97, 2500 * scale)], {
        buildSeconds: 60 / scale,
        peakRssBytes: 3e8,
        phases: { "set vectors": 50 },
        loadSeconds: 0.5,
      }),
      sys("vexfs-mount", [pt(200, 0.97, 4000 * scale)]),
      sys("vexfs-exact", [pt(null, 1, 50)]),
      sys("brute-c", [pt(null, 1, 100)]),
      { system: "usearch", label: "usearch", available: false, reason: "no node", points: [], notes: [] },
    ],
  };
  return {
    date,
    command: "vexfs bench vectors",
    machine: {
      date,
      hostname: "h",
      cpu: "cpu",
      cpus: 2,
      memoryBytes: 2 ** 34,
      kernel: "6",
      os: "Debian",
      dir: "/var/tmp",
      filesystem: "ext4",
      disk: "vda",
      versions: { vexfs: "0.1.0", "vexfs commit": "abc1234" },
    },
    settings: {
      k: 10,
      m: 16,
      efConstruction: 200,
      efs: [40, 200],
      runs: 3,
      maxPassSeconds: 30,
      queries: 1000,
      seed: 42,
    },
    datasets: [d100],
    notes: [],
    seconds: 100,
  };
}

Deno.test("history: runs go in, the report comes back, a slower run shows as a regression", () => {
  const db = openHistory(":memory:");
  try {
    assertEquals(latestRun(db), undefined);
    const a = insertRun(db, report(1));
    const b = insertRun(db, report(0.5, "2026-12-05T10:00:00.000Z"));
    assertEquals(latestRun(db), b);
    assertEquals(reportOf(db, a)?.datasets[0].systems.length, 6);
    const rows = resultsOf(db, b);
    const v = rows.find((r) => r.system === "vexfs")!;
    assertEquals(v.best_ef, 200);
    assertClose(v.best_qps!, 1250, 1e-9);
    assertEquals(rows.find((r) => r.system === "usearch")!.available, 0);
    const changes = compareRun(db, b);
    const cv = changes.find((c) => c.system === "vexfs")!;
    assertEquals(cv.previousRun, a);
    assertEquals(cv.qps!.basis, "wall clock"); // the synthetic report has no CPU figures
    assertClose(cv.qps!.ratio!, 0.5, 1e-12);
    assert(cv.regressions.some((r) => r.startsWith("QPS")));
    assert(cv.regressions.some((r) => r.startsWith("build")));
    assertEquals(changes.find((c) => c.system === "hnswlib")!.regressions, []);
    // the first run has nothing before it; an explicit run to compare with
    assertEquals(compareRun(db, a), []);
    assertEquals(previousRows(db, b, a).size, 5); // usearch was never measured
    const points = db.prepare("SELECT count(*) AS n FROM points WHERE run_id = ?").get(a) as { n: number };
    assertEquals(points.n, 7);
  } finally {
    db.close();
  }
});

Deno.test("compareRows: a system that stops reaching the target, recall falls, memory grows", () => {
  const row = (o: Partial<ResultRow>): ResultRow => ({
    run_id: 2,
    dataset: "d",
    system: "vexfs",
    available: 1,
    build_s: 10,
    index_bytes: 1,
    peak_rss_bytes: 100,
    best_ef: 40,
    best_recall: 0.96,
    best_qps: 1000,
    best_p50_us: 1000,
    max_recall: 0.99,
    ...o,
  });
  const before = new Map([["d\u0000vexfs", row({ run_id: 1 })]]);
  const c = compareRows([row({ best_qps: null, best_ef: null, max_recall: 0.93, peak_rss_bytes: 200 })], before)[0];
  assertEquals(c.regressions.length, 3);
  assert(c.regressions[0].includes("no longer reaches"));
  // within the thresholds: nothing
  const ok = compareRows([row({ best_qps: 950, build_s: 11, max_recall: 0.988 })], before, DEFAULT_THRESHOLDS)[0];
  assertEquals(ok.regressions, []);
  assertEquals(compareRows([row({ available: 0 })], before)[0].regressions, ["not measured in this run"]);
  assertEquals(compareRows([row({ dataset: "other" })], before), []);
});

// ------------------------------------------------------------------ plot and Markdown

Deno.test("plot: frontier flags, log QPS axis, the recall target, one colour per system present", async () => {
  const series = [
    { system: "hnswlib" as const, points: [pt(10, 0.8, 1000), pt(20, 0.9, 1200), pt(400, 0.99, 100)] },
    { system: "vexfs" as const, points: [pt(null, 1, 50)] },
  ];
  const data = plotData(series);
  assertEquals(data.length, 4);
  assertEquals(data.filter((d) => d.frontier).map((d) => d.ef), ["20", "400", "exact"]);
  const spec = plotSpec("t", 10, series) as {
    layer: { encoding: { y?: { scale: { type: string } }; x: { field: string } }; data?: { values: unknown[] } }[];
  };
  assertEquals(spec.layer[1].encoding.y!.scale.type, "log");
  assertEquals(spec.layer[0].data!.values, [{ recall: 0.95 }]);
  const json = JSON.stringify(spec);
  assert(json.includes('"domain":["hnswlib-node","VexFS (library)"]'));
  assert(!json.includes("usearch"));
  const svg = await renderSvg(plotSpec("t", 10, series));
  assert(svg.startsWith("<svg"));
  assert(svg.includes("Recall@10"));
});

Deno.test("Markdown: the block replaces the marked part, or is appended as a section", () => {
  const r = report();
  const block = renderVectorsMarkdown(r, { "random-100k": "bench/plots/random-100k.svg" });
  assert(block.startsWith(VMD_BEGIN) && block.endsWith(VMD_END));
  assert(block.includes("![random 100K × 128 (l2)"));
  const doc = `# B\n\nintro\n\n${VMD_BEGIN}\nold\n${VMD_END}\n\nafter\n`;
  const upd = updateVectorsMarkdown(doc, block);
  assert(upd.includes("intro") && upd.includes("after") && !upd.includes("\nold\n"));
  const appended = updateVectorsMarkdown("# B\n", block);
  assert(appended.includes("## Vector search") && appended.includes(VMD_BEGIN));
  assertEquals(updateVectorsMarkdown(upd, block), upd);
});

Deno.test("targets: each stated with figures, met or missed", () => {
  const lines = targetLines(report());
  const lib = lines.find((l) => l.text.startsWith("random-100k: VexFS (library)"))!;
  assertEquals(lib.met, false);
  assert(lib.text.includes("0.83×"));
  const mount = lines.find((l) => l.text.startsWith("mount p50"))!;
  assertEquals(mount.met, true); // p50 250 µs
  const exact = lines.find((l) => l.text.includes("exact scan"))!;
  assertEquals(exact.met, false);
  assert(exact.text.includes("0.50×"));
  assert(lines.some((l) => l.text.startsWith("1M × 128: not run")));
  const st = summaryTable(report());
  assertEquals(st.rows.length, 6);
  assert(st.rows.some((r) => r[1] === "usearch" && r[2].startsWith("not measured")));
});

Deno.test("summarizeProfile: self time by function and by file, idle left out", () => {
  const frame = (functionName: string, url: string, lineNumber = 0) => ({ functionName, url, lineNumber });
  const prof = {
    nodes: [
      { id: 1, callFrame: frame("(root)", "") },
      { id: 2, callFrame: frame("scan", "file:///repo/src/vector/distance.ts", 9), children: [6] },
      { id: 3, callFrame: frame("walk", "file:///repo/src/hnsw/graph.ts", 99) },
      { id: 4, callFrame: frame("(garbage collector)", "") },
      { id: 5, callFrame: frame("(idle)", "") },
      { id: 6, callFrame: frame("", "wasm://wasm/abc", 0) },
    ],
    startTime: 0,
    endTime: 1000,
    samples: [2, 2, 3, 4, 5, 6, 2],
    timeDeltas: [100, 100, 200, 50, 500, 25, 100],
  };
  const s = summarizeProfile(prof, "/repo");
  assertEquals(s.totalMs, 0.575);
  assertEquals(s.functions[0].name, "scan src/vector/distance.ts:10");
  assertClose(s.functions[0].share, 300 / 575, 1e-12);
  assertEquals(s.files.map((f) => f.name), [
    "src/vector/distance.ts",
    "src/hnsw/graph.ts",
    "(gc)",
    "wasm (from src/vector/distance.ts)",
  ]);
  assertEquals(s.functions[3].name, "wasm called by scan src/vector/distance.ts:10");
  assertEquals(shortUrl("file:///x/node_modules/vega/build/vega.js", "/repo"), "node_modules/vega/build/vega.js");
  assertEquals(shortUrl("ext:core/01_core.js", "/repo"), "runtime (ext:core)");
});

Deno.test("efSequence: the sweep, then the ladder while recall stays below the target", () => {
  const job = {
    efs: [10, 40],
    extend: { gtIds: "", gtK: 2, recall: 0.9, efs: [20, 1200, 1600, 2400] },
  } as unknown as Job;
  let calls = 0;
  const seq = [...efSequence(job, () => ++calls < 3)];
  assertEquals(seq, [10, 40, 1200, 1600]); // 20 is below the sweep's last ef; the third check says stop
  assertEquals([...efSequence({ efs: [10] } as unknown as Job, () => true)], [10]);
  const gt = new Int32Array([1, 2, 9, 9, 3, 4, 9, 9]);
  assertEquals(overlapRecall(new Int32Array([2, 1, 3, 5]), gt, 2, 4, 2), 0.75);
});

Deno.test("per CPU second: points carry it, the best point and the comparison can use it", () => {
  const p = pointFromLatencies(10, 0.96, [100, 100], undefined, 0.0005);
  assertEquals(p.cpuQps, 4000);
  assertEquals(pointFromLatencies(10, 0.96, [100], undefined, undefined).cpuQps, undefined);
  const mine = [{ ...pt(40, 0.96, 1000), cpuQps: 3000 }, { ...pt(80, 0.97, 1500), cpuQps: 2000 }];
  const theirs = [{ ...pt(20, 0.96, 2000), cpuQps: 2500 }];
  assertEquals(bestAtRecall(mine)?.ef, 80);
  assertEquals(bestAtRecall(mine, 0.95, "cpuQps")?.ef, 40);
  assertEquals(compareAtRecall("vexfs", mine, "hnswlib", theirs).met, false);
  const c = compareAtRecall("vexfs", mine, "hnswlib", theirs, 0.95, "cpuQps");
  assertEquals(c.met, true);
  assertClose(c.ratio!, 1.2, 1e-12);
});

Deno.test("history: a schema 1 file gains the columns of schemas 2 and 3 when opened", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const f = `${dir}/h.sqlite`;
    let db = openHistory(f);
    insertRun(db, report());
    db.exec("ALTER TABLE results DROP COLUMN best_cpu_qps");
    db.exec("ALTER TABLE points DROP COLUMN cpu_qps");
    db.exec("ALTER TABLE results DROP COLUMN build_cpu_s");
    db.exec("ALTER TABLE runs DROP COLUMN load_before");
    db.exec("ALTER TABLE runs DROP COLUMN load_after");
    db.exec("UPDATE meta SET value = '1' WHERE key = 'schema_version'");
    db.close();
    db = openHistory(f);
    try {
      const v = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string };
      assertEquals(v.value, "3");
      insertRun(db, report());
      assertEquals(resultsOf(db, 2).length, 6);
      assertEquals(compareRun(db, 2).length, 5);
    } finally {
      db.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("compareRows: per CPU second and build CPU when both runs have them", () => {
  const base: ResultRow = {
    run_id: 1,
    dataset: "d",
    system: "vexfs",
    available: 1,
    build_s: 10,
    index_bytes: 1,
    peak_rss_bytes: 100,
    best_ef: 40,
    best_recall: 0.96,
    best_qps: 1000,
    best_p50_us: 1000,
    max_recall: 0.99,
    best_cpu_qps: 2000,
    build_cpu_s: 8,
  };
  // the wall clock halved (a busy machine) but the CPU figures held: no regression
  const busy = { ...base, run_id: 2, best_qps: 500, build_s: 20, best_cpu_qps: 1950, build_cpu_s: 8.2 };
  const c = compareRows([busy], new Map([["d\u0000vexfs", base]]))[0];
  assertEquals(c.qps!.basis, "per CPU second");
  assertEquals(c.buildS!.basis, "CPU");
  assertEquals(c.regressions, []);
  const worse = { ...busy, best_cpu_qps: 1000 };
  assert(compareRows([worse], new Map([["d\u0000vexfs", base]]))[0].regressions[0].includes("per CPU second"));
});
