/**
 * Tests of the benchmark's pure logic: reading fio's JSON, /proc parsing,
 * statistics, the brute-force top-k, ratios and the Markdown refresh. No
 * timing is asserted anywhere.
 * @module
 */
import { assert, assertEquals } from "../src/test_assert.ts";
import { BenchError } from "./exec.ts";
import { fioArgs, parseFioJson } from "./fio.ts";
import {
  type BenchReport,
  fmtNum,
  goalLines,
  journalCosts,
  journalGoalLines,
  journalTable,
  MD_BEGIN,
  MD_END,
  pairedRatios,
  ratio,
  renderMarkdown,
  resultRows,
  sizeLabel,
  updateMarkdown,
  type WorkloadId,
} from "./report.ts";
import { medianSample, runOrder } from "./run.ts";
import { BruteForce, latencyStats } from "./search.ts";
import { parseMountinfo, parseStatCpuTicks } from "./system.ts";
import { mulberry32, parseImportJson, vectorFileName, vectorJsonlLines } from "./vectors.ts";
import { readJsonl } from "../src/data/jsonl.ts";
import { MemDevice } from "../src/device/mem.ts";
import { CountingDevice } from "./journal_profile.ts";

function assertThrows(fn: () => unknown, cls: abstract new (...a: never[]) => Error, includes = ""): void {
  try {
    fn();
  } catch (e) {
    assert(e instanceof cls, `expected ${cls.name}, got ${e}`);
    assert(e.message.includes(includes), `message "${e.message}" lacks "${includes}"`);
    return;
  }
  throw new Error(`expected ${cls.name} to be thrown`);
}

// trimmed from a real `fio --output-format=json` (fio-3.33) random-read job
const FIO_JSON = `note: both iodepth >= 1 and synchronous I/O engine are selected, queue depth will be capped at 1
{
  "fio version" : "fio-3.33",
  "jobs" : [
    {
      "jobname" : "t",
      "error" : 0,
      "read" : {
        "io_bytes" : 409600,
        "bw_bytes" : 45511111,
        "iops" : 11111.111111,
        "runtime" : 9,
        "total_ios" : 100,
        "clat_ns" : {
          "min" : 60890, "max" : 263487, "mean" : 79739.05, "N" : 100,
          "percentile" : { "1.000000" : 60672, "50.000000" : 77312, "99.000000" : 164864, "99.900000" : 264192 }
        }
      },
      "write" : { "io_bytes" : 0, "bw_bytes" : 0, "iops" : 0.0, "runtime" : 0, "total_ios" : 0,
        "clat_ns" : { "min" : 0, "max" : 0, "mean" : 0.0, "N" : 0 } },
      "usr_cpu" : 12.5,
      "sys_cpu" : 37.5
    }
  ]
}
`;

Deno.test("parseFioJson reads throughput, IOPS, latency percentiles and CPU, skipping leading warnings", () => {
  const r = parseFioJson(FIO_JSON, "read");
  assertEquals(r.bytes, 409600);
  assertEquals(r.ios, 100);
  assertEquals(r.runtimeMs, 9);
  assertEquals(r.bytesPerS, 45511111);
  assertEquals(r.iops, 11111.111111);
  assert(Math.abs(r.latMeanUs - 79.73905) < 1e-9);
  assertEquals(r.latP50Us, 77.312);
  assertEquals(r.latP99Us, 164.864);
  assertEquals(r.usrCpuPct, 12.5);
  assertEquals(r.sysCpuPct, 37.5);
  const w = parseFioJson(FIO_JSON, "write");
  assertEquals(w.bytes, 0);
  assertEquals(w.latP50Us, undefined);
});

Deno.test("parseFioJson rejects non-JSON output and failed jobs", () => {
  assertThrows(() => parseFioJson("fio: failed to open file\n", "read"), BenchError);
  const failed = FIO_JSON.replace('"error" : 0', '"error" : 5');
  assertThrows(() => parseFioJson(failed, "read"), BenchError, "error 5");
  assertThrows(() => parseFioJson('{"jobs": []}', "read"), BenchError, "no jobs");
});

Deno.test("fioArgs: one synchronous buffered job, fsync and limits only when asked", () => {
  const a = fioArgs(
    { name: "w", filename: "/m/seq.dat", rw: "write", bs: 1 << 20, size: 2 ** 30, endFsync: true },
    "/o.json",
  );
  for (const x of ["--rw=write", "--bs=1048576", "--size=1073741824", "--ioengine=psync", "--fallocate=none"]) {
    assert(a.includes(x), x);
  }
  assert(a.includes("--end_fsync=1"));
  assert(a.includes("--output=/o.json"));
  const r = fioArgs(
    { name: "r", filename: "/f", rw: "randread", bs: 4096, size: 8192, runtimeS: 5, numberIos: 2 },
    "/o",
  );
  assert(!r.includes("--end_fsync=1"));
  assert(r.includes("--runtime=5") && r.includes("--number_ios=2"));
});

Deno.test("parseMountinfo unescapes paths and finds type and source after the separator", () => {
  const text = [
    "27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard",
    "42 27 0:39 / /var/tmp/a\\040b/pt-mnt rw,nosuid,nodev,relatime - fuse.passthrough_ll passthrough_ll rw,user_id=0",
    "garbage line",
  ].join("\n");
  const m = parseMountinfo(text);
  assertEquals(m.length, 2);
  assertEquals(m[0], { mountPoint: "/", fsType: "ext4", source: "/dev/vda", superOptions: "rw,discard" });
  assertEquals(m[1].mountPoint, "/var/tmp/a b/pt-mnt");
  assertEquals(m[1].fsType, "fuse.passthrough_ll");
});

Deno.test("parseStatCpuTicks adds utime and stime, also with spaces and parentheses in the name", () => {
  // fields: pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
  const line = "1234 (deno (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 4 0";
  assertEquals(parseStatCpuTicks(line), 325);
});

Deno.test("latencyStats uses nearest-rank percentiles", () => {
  const us = Array.from({ length: 200 }, (_, i) => 200 - i); // 1..200, unsorted
  const s = latencyStats(us);
  assertEquals(s.count, 200);
  assertEquals(s.medianUs, 100);
  assertEquals(s.p99Us, 198);
  assertEquals(s.minUs, 1);
  assertEquals(s.maxUs, 200);
  assertEquals(s.meanUs, 100.5);
  assertEquals(latencyStats([7]).p99Us, 7);
  assertThrows(() => latencyStats([]), RangeError);
});

Deno.test("BruteForce top-k equals a full sort by cosine (ties by row)", () => {
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5;
  const dim = 16;
  const vecs = Array.from({ length: 300 }, () => Float32Array.from({ length: dim }, rnd));
  vecs[7] = vecs[3].slice(); // an exact tie
  const bf = new BruteForce(vecs, dim);
  const cos = (a: Float32Array, b: Float32Array) => {
    let d = 0, na = 0, nb = 0;
    for (let i = 0; i < dim; i++) {
      d += a[i] * b[i];
      na += a[i] * a[i];
      nb += b[i] * b[i];
    }
    return d / Math.sqrt(na * nb);
  };
  for (const qi of [0, 3, 150, 299]) {
    for (const k of [1, 5, 10, 300, 400]) {
      const got = bf.search(vecs[qi], k);
      const want = vecs.map((v, row) => ({ row, score: cos(vecs[qi], v) }))
        .sort((a, b) => b.score - a.score || a.row - b.row).slice(0, k);
      assertEquals(got.length, want.length);
      got.forEach((g, i) => assert(Math.abs(g.score - want[i].score) < 1e-5, `q${qi} k${k} rank ${i}`));
    }
  }
  const top = bf.search(vecs[3], 2).map((h) => h.row);
  assertEquals(top, [3, 7]);
});

function fakeReport(vexfsWrite: number | undefined): BenchReport {
  const cell = (v: number) => ({ ok: true as const, m: { value: v, seconds: 1, detail: {} } });
  return {
    machine: {
      date: "2026-01-02T03:04:05.000Z",
      hostname: "h",
      cpu: "CPU",
      cpus: 2,
      memoryBytes: 2 ** 33,
      kernel: "6.1.0",
      os: "Debian",
      dir: "/var/tmp/x",
      filesystem: "/dev/vda on / (ext4)",
      disk: "/dev/vda",
      versions: { vexfs: "0.1.0" },
    },
    settings: {
      sizeBytes: 2 ** 30,
      files: 10000,
      vectors: 10000,
      queries: 778,
      k: 10,
      searchDocs: 778,
      randRuntimeS: 10,
      repeat: 3,
      targets: ["disk", "passthrough_ll", "vexfs"],
      workloads: ["seq-write"],
    },
    targets: {
      disk: { available: true },
      passthrough_ll: { available: true },
      vexfs: vexfsWrite === undefined ? { available: false, reason: "not available yet" } : { available: true },
      "vexfs-nojournal": { available: false, reason: "not requested" },
      "vexfs-nostats": { available: false, reason: "not requested" },
    },
    results: {
      "seq-write": {
        disk: cell(400),
        passthrough_ll: cell(200),
        vexfs: vexfsWrite === undefined ? { ok: false, reason: "not available yet" } : cell(vexfsWrite),
      },
    },
    cachesDropped: true,
    notes: [],
    build: [],
    command: "vexfs bench",
  };
}

Deno.test("ratios to passthrough_ll, table rows and the stage goal", () => {
  assertEquals(ratio(50, 200), 0.25);
  assertEquals(ratio(undefined, 200), undefined);
  assertEquals(ratio(5, 0), undefined);
  const rows = resultRows(fakeReport(90));
  assertEquals(rows.length, 1);
  // columns: disk, passthrough_ll, VexFS, no journal, no counters, then the ratios
  assertEquals(rows[0].slice(1), ["MB/s", "400", "200", "90.0", "—", "—", "2.00×", "0.45×", "—"]);
  assert(goalLines(fakeReport(90))[0].includes("BELOW"));
  assert(goalLines(fakeReport(100))[0].includes("meets"));
  const missing = resultRows(fakeReport(undefined));
  assertEquals(missing[0].slice(4), ["n/a", "—", "—", "2.00×", "—", "—"]);
  assert(goalLines(fakeReport(undefined))[0].includes("unknown"));
});

Deno.test("updateMarkdown replaces only the generated block and keeps hand-written text", () => {
  const block1 = renderMarkdown(fakeReport(90));
  assert(block1.startsWith(MD_BEGIN) && block1.endsWith(MD_END));
  const doc = updateMarkdown(undefined, block1);
  const edited = doc.replace("# Benchmarks", "# Benchmarks\n\nHand-written intro.") +
    "\n## Analysis\n\nHand-written.\n";
  const block2 = renderMarkdown(fakeReport(150));
  const out = updateMarkdown(edited, block2);
  assert(out.includes("Hand-written intro.") && out.includes("## Analysis\n\nHand-written."));
  assert(out.includes("0.75×") && !out.includes("0.45×"));
  assertEquals(out.split(MD_BEGIN).length, 2);
  // a document without markers gets the block appended
  assert(updateMarkdown("# Mine\n", block2).startsWith("# Mine\n\n" + MD_BEGIN));
});

Deno.test("labels and number formatting", () => {
  assertEquals(sizeLabel(2 ** 30), "1 GiB");
  assertEquals(sizeLabel(256 * 2 ** 20), "256 MiB");
  assertEquals(sizeLabel(4096), "4 KiB");
  assertEquals(fmtNum(12345.6), "12,346");
  assertEquals(fmtNum(45.67), "45.7");
  assertEquals(fmtNum(1.234), "1.23");
  assertEquals(fmtNum(undefined), "—");
});

Deno.test("medianSample picks the middle run and keeps every value", () => {
  const m = (value: number) => ({ value, seconds: value, detail: { tag: value } });
  assertEquals(medianSample([]), undefined);
  const r = medianSample([m(30), m(10), m(20)])!;
  assertEquals(r.value, 20);
  assertEquals(r.detail.tag, 20);
  assertEquals(r.samples, [30, 10, 20]);
  assertEquals(medianSample([m(4), m(1), m(3), m(2)])!.value, 2);
});

/** A report of the journal-cost workloads: [journal, no journal] samples of each. */
function journalReport(runs: Partial<Record<WorkloadId, [number[], number[]]>>): BenchReport {
  const r = fakeReport(100);
  r.targets["vexfs-nojournal"] = { available: true };
  r.results = {};
  const cell = (samples: number[], syncUs?: number) => ({
    ok: true as const,
    m: {
      value: medianSample(samples.map((value) => ({ value, seconds: 1, detail: {} })))!.value,
      seconds: 1,
      samples,
      detail: (syncUs === undefined ? {} : { syncUs }) as Record<string, number>,
    },
  });
  for (const [w, [j, n]] of Object.entries(runs) as [WorkloadId, [number[], number[]]][]) {
    r.results[w] = { vexfs: cell(j, w === "create" ? 20_000 : undefined), "vexfs-nojournal": cell(n, 5_000) };
  }
  return r;
}

Deno.test("pairedRatios divides run by run and refuses runs that do not pair", () => {
  assertEquals(pairedRatios([90, 100], [100, 125]), [0.9, 0.8]);
  assertEquals(pairedRatios([1, 2], [1]), undefined);
  assertEquals(pairedRatios([], []), undefined);
  assertEquals(pairedRatios([1], [0]), undefined);
  assertEquals(pairedRatios(undefined, [1]), undefined);
});

Deno.test("journal cost: journal ÷ no journal per workload, against the targets, with the final fsync", () => {
  const r = journalReport({
    "seq-write": [[500, 450, 470], [520, 480, 500]], // medians 470 / 500 = 0.94
    create: [[1000, 1200, 1100], [2000, 1800, 1600]], // 1100 / 1800 = 0.61
    vectors: [[300, 310, 290], [320, 330, 300]],
  });
  const costs = journalCosts(r);
  assertEquals(costs.map((c) => c.workload), ["seq-write", "create", "vectors"]);
  assert(Math.abs(costs[0].ratio - 0.94) < 1e-12);
  assertEquals(costs[0].target, 0.9);
  assertEquals(costs[0].perRun!.map((x) => x.toFixed(3)), ["0.962", "0.938", "0.940"]);
  assertEquals(costs[1].target, 0.7);
  assertEquals(costs[1].syncUs, [20_000, 5_000]);
  assertEquals(costs[2].target, undefined);
  const t = journalTable(r);
  assertEquals(t.rows.length, 3);
  assertEquals(t.rows[0].slice(2, 7), ["470", "500", "0.94×", "0.96, 0.94, 0.94", "≥ 0.9× met"]);
  assertEquals(t.rows[1][6], "≥ 0.7× MISSED");
  assertEquals(t.rows[1][7], "20.0 / 5.00 ms");
  const g = journalGoalLines(r);
  assertEquals(g.length, 2);
  assert(g[0].startsWith("seq-write:") && g[0].includes("meets the target of 0.9×"), g[0]);
  assert(g[1].startsWith("create:") && g[1].includes("MISSES"), g[1]);
  const md = renderMarkdown(r);
  assert(md.includes("The journal's cost") && md.includes("≥ 0.7× MISSED"));
  // a workload measured on one VexFS target only has no cost, and its goal says why
  r.results.create = { vexfs: { ok: false, reason: "fileops failed" }, "vexfs-nojournal": r.results.create!.vexfs };
  assertEquals(journalCosts(r).map((c) => c.workload), ["seq-write", "vectors"]);
  assert(journalGoalLines(r)[1].includes("unknown (fileops failed)"));
  // without the no-journal target the section is left out
  assert(!renderMarkdown(fakeReport(90)).includes("The journal's cost"));
});

Deno.test("vectors workload: seeded JSONL records the import parser accepts, import summary parsing", async () => {
  const a = [...vectorJsonlLines(3, 4, 7)];
  assertEquals(a, [...vectorJsonlLines(3, 4, 7)]);
  assert(a[0] !== [...vectorJsonlLines(1, 4, 8)][0]);
  const recs = [];
  const bytes = new TextEncoder().encode(a.join("\n") + "\n");
  for await (const rec of readJsonl(ReadableStream.from([bytes]), { dim: 4 })) recs.push(rec);
  assertEquals(recs.length, 3);
  assertEquals(recs[1].path, vectorFileName(1));
  assertEquals(recs[1].text, "vector 1\n");
  for (const rec of recs) {
    for (const x of rec.vector) assert(x >= -1 && x < 1 && Math.fround(x) === x);
  }
  const rnd = mulberry32(1);
  const xs = Array.from({ length: 1000 }, rnd);
  assert(xs.every((x) => x >= 0 && x < 1) && new Set(xs).size === 1000);
  assertEquals(vectorFileName(42), "v0000042.txt");
  const s = parseImportJson(
    '{\n "files": 2, "vectors": 2, "elapsed_ms": 12.5, "collection": {"dim": 4, "vectors": 2}\n}',
  );
  assertEquals(s.elapsed_ms, 12.5);
  assertThrows(() => parseImportJson("error: no such file"), BenchError);
  assertThrows(() => parseImportJson('{"files": 2}'), BenchError, "vectors");
});

Deno.test("CountingDevice passes I/O through and counts writes, reads and flushes", () => {
  const d = new CountingDevice(new MemDevice(8192));
  d.write(4096, new Uint8Array(4096).fill(9));
  d.write(0, new Uint8Array(512));
  const b = new Uint8Array(4096);
  d.read(4096, b);
  d.sync();
  assertEquals(b[4095], 9);
  assertEquals(d.size, 8192);
  const c = d.take();
  assertEquals([c.writes, c.writeBytes, c.reads, c.readBytes, c.flushes], [2, 4608, 1, 4096, 1]);
  assertEquals(d.take().writes, 0);
});

Deno.test("runOrder alternates the order of the targets run by run", () => {
  const t = ["disk", "passthrough_ll", "vexfs", "vexfs-nojournal"];
  assertEquals(runOrder(t, 0), t);
  assertEquals(runOrder(t, 1), ["vexfs-nojournal", "vexfs", "passthrough_ll", "disk"]);
  assertEquals(runOrder(t, 2), t);
  assert(runOrder(t, 0) !== t, "a copy");
});
