/**
 * One peer of `vexfs bench vectors` in its own process: hnswlib-node or usearch
 * (npm, native Node addons), run under `node` (the runtime they are made for;
 * Deno also loads both, `deno run -A` from the repository, which the harness
 * uses when node is missing).
 *
 *   node bench/ann/peer_runner.mjs JOB.json
 *
 * The job (written by bench/ann/run.ts, see bench/ann/protocol.ts for its
 * fields) names the system, the dataset files (raw little-endian f32 rows),
 * k, M, efConstruction and the ef sweep. The runner builds the index, saves it
 * to measure its bytes, then for every ef searches the queries one at a time,
 * each timed alone, `runs` passes (the fastest pass is kept, as
 * ann-benchmarks does), and writes the ids it found (nq * k little-endian i32,
 * -1 where fewer came back) and a result JSON. Recall is computed by the
 * harness, not here. Progress goes to stderr.
 *
 * Single thread throughout: hnswlib-node's addPoint and searchKnn are
 * single-threaded; usearch gets threads = 1 for add and search.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { createRequire } from "node:module";
import process from "node:process";

const require = createRequire(import.meta.url);

/** VmHWM and VmRSS of this process in bytes (/proc/self/status). */
function memory() {
  const s = readFileSync("/proc/self/status", "utf8");
  const kb = (name) => Number(new RegExp(`^${name}:\\s*(\\d+)`, "m").exec(s)?.[1] ?? "0") * 1024;
  return { peak: kb("VmHWM"), rss: kb("VmRSS") };
}

/** A raw f32 file as a Float32Array (copied, so the view is aligned). */
function readF32(path) {
  const b = readFileSync(path);
  const out = new Float32Array(b.length / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

/** |found ∩ true top k| / k over the queries (as overlapRecall in protocol.ts). */
function overlapRecall(ids, gtIds, k, gtK, nq) {
  let hit = 0;
  for (let q = 0; q < nq; q++) {
    const truth = new Set();
    for (let j = 0; j < k; j++) truth.add(gtIds[q * gtK + j]);
    for (let j = 0; j < k; j++) if (truth.has(ids[q * k + j])) hit++;
  }
  return nq ? hit / (nq * k) : 0;
}

/**
 * The ef values to measure: job.efs, then the extension ladder (job.extend)
 * while the last point's overlap recall is below its target (as efSequence in
 * protocol.ts).
 */
function* efSequence(job, sweeps) {
  let last = 0;
  for (const ef of job.efs) {
    last = ef;
    yield ef;
  }
  if (!job.extend) return;
  const b = readFileSync(job.extend.gtIds);
  const gt = new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
  for (const ef of job.extend.efs) {
    if (ef <= last) continue;
    const prev = sweeps[sweeps.length - 1];
    if (overlapRecall(prev.ids, gt, job.k, job.extend.gtK, job.dataset.nq) >= job.extend.recall) return;
    log(`${job.system}: recall still below ${job.extend.recall} at ef ${last}: ef ${ef}`);
    last = ef;
    yield ef;
  }
}

/** CPU seconds (user + system) of this process since `c0` (a process.cpuUsage()). */
function cpuSince(c0) {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6;
}

function log(msg) {
  process.stderr.write(`${msg}\n`);
}

function runtime() {
  const d = /** @type {any} */ (globalThis).Deno;
  return d ? `deno ${d.version.deno}` : `node ${process.versions.node}`;
}

/** The version in an installed package's package.json (found from its main module: exports maps hide it). */
function packageVersion(name) {
  try {
    let dir = dirname(require.resolve(name));
    for (let i = 0; i < 6; i++, dir = dirname(dir)) {
      const p = `${dir}/package.json`;
      if (!existsSync(p)) continue;
      const pkg = JSON.parse(readFileSync(p, "utf8"));
      if (pkg.name === name) return pkg.version;
    }
  } catch { /* fall through */ }
  return "unknown";
}

/**
 * Times `nq` queries one by one, `runs` passes (fewer when a pass takes longer
 * than `maxPassSeconds`); keeps the fastest pass.
 * @param search (q) => ids (array-like of numbers, nearest first)
 */
function sweep(nq, k, runs, maxPassSeconds, search, warmup = 0) {
  for (let q = 0; q < Math.min(warmup, nq); q++) search(q);
  let best;
  const passes = [];
  for (let r = 0; r < runs; r++) {
    const lat = new Float64Array(nq);
    const ids = new Int32Array(nq * k).fill(-1);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let q = 0; q < nq; q++) {
      const a = performance.now();
      const got = search(q);
      lat[q] = (performance.now() - a) * 1000;
      const n = Math.min(k, got.length);
      for (let j = 0; j < n; j++) ids[q * k + j] = Number(got[j]);
    }
    const secs = (performance.now() - t0) / 1000;
    const cu = process.cpuUsage(c0);
    passes.push(secs);
    let total = 0;
    for (let q = 0; q < nq; q++) total += lat[q];
    if (!best || total < best.total) best = { total, lat, ids, cpu: (cu.user + cu.system) / 1e6 };
    if (secs > maxPassSeconds) break;
  }
  return { passes, latenciesUs: Array.from(best.lat), ids: best.ids, cpuSeconds: best.cpu };
}

function main() {
  const jobPath = process.argv[2] ?? globalThis.Deno?.args?.[0];
  if (!jobPath) {
    log("usage: node bench/ann/peer_runner.mjs JOB.json");
    process.exit(2);
  }
  const job = JSON.parse(readFileSync(jobPath, "utf8"));
  const { dim, metric, n, nq } = job.dataset;
  const k = job.k;
  const base = readF32(job.dataset.base);
  const queries = readF32(job.dataset.queries);
  if (base.length !== n * dim || queries.length !== nq * dim) {
    throw new Error(`dataset files do not hold ${n} + ${nq} rows of ${dim}`);
  }
  const baseMem = memory();
  const notes = [];
  const sweeps = [];
  /** VmHWM after the build and the first ef's queries (usearch loads the index again for each other ef) */
  let firstPeak;
  let buildSeconds, buildCpuSeconds, indexBytes, version;
  const indexFile = `${job.workDir}/${job.system}.index`;

  if (job.system === "hnswlib") {
    version = `hnswlib-node ${packageVersion("hnswlib-node")}`;
    const { HierarchicalNSW } = require("hnswlib-node");
    const space = { l2: "l2", cosine: "cosine", ip: "ip" }[metric];
    const index = new HierarchicalNSW(space, dim);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    index.initIndex({ maxElements: n, m: job.m, efConstruction: job.efConstruction, randomSeed: 100 });
    for (let i = 0; i < n; i++) {
      // addPoint takes a plain array: the conversion is part of using it from JavaScript
      index.addPoint(Array.from(base.subarray(i * dim, (i + 1) * dim)), i);
      if (i % 20000 === 19999) log(`hnswlib: inserted ${i + 1}/${n}`);
    }
    buildSeconds = (performance.now() - t0) / 1000;
    buildCpuSeconds = cpuSince(c0);
    index.writeIndexSync(indexFile);
    indexBytes = statSync(indexFile).size;
    // queries as plain arrays, converted before timing (searchKnn takes number[])
    const qs = [];
    for (let q = 0; q < nq; q++) qs.push(Array.from(queries.subarray(q * dim, (q + 1) * dim)));
    notes.push("queries passed as number[] (converted before timing); inserts convert each Float32Array row");
    for (const ef of efSequence(job, sweeps)) {
      index.setEf(ef);
      const s = sweep(
        nq,
        k,
        job.runs,
        job.maxPassSeconds,
        (q) => index.searchKnn(qs[q], k).neighbors,
        ef === job.efs[0] ? job.warmup ?? 50 : 0,
      );
      sweeps.push({ label: job.system, ef, ...s });
      firstPeak ??= memory().peak;
      log(`hnswlib: ef ${ef}: ${(s.latenciesUs.reduce((a, b) => a + b, 0) / nq).toFixed(1)} µs/query`);
    }
  } else if (job.system === "usearch") {
    version = `usearch ${packageVersion("usearch")}`;
    const { Index } = require("usearch");
    const usMetric = { l2: "l2sq", cosine: "cos", ip: "ip" }[metric];
    const config = (ef) => ({
      dimensions: dim,
      metric: usMetric,
      quantization: "f32",
      connectivity: job.m,
      expansion_add: job.efConstruction,
      expansion_search: ef,
      multi: false,
    });
    const index = new Index(config(job.efs[0]));
    const keys = new BigUint64Array(n);
    for (let i = 0; i < n; i++) keys[i] = BigInt(i);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    // one call, one thread (threads = 1); usearch reserves the capacity itself
    const chunk = 20000;
    for (let i = 0; i < n; i += chunk) {
      const e = Math.min(n, i + chunk);
      index.add(keys.subarray(i, e), base.subarray(i * dim, e * dim), 1);
      log(`usearch: inserted ${e}/${n}`);
    }
    buildSeconds = (performance.now() - t0) / 1000;
    buildCpuSeconds = cpuSince(c0);
    index.save(indexFile);
    indexBytes = statSync(indexFile).size;
    notes.push("expansion_search is fixed when an Index is made: each ef loads the saved index into a new Index");
    const qs = [];
    for (let q = 0; q < nq; q++) qs.push(queries.slice(q * dim, (q + 1) * dim));
    let current = index;
    for (const ef of efSequence(job, sweeps)) {
      if (ef !== job.efs[0]) {
        current = new Index(config(ef));
        current.load(indexFile);
      }
      const s = sweep(
        nq,
        k,
        job.runs,
        job.maxPassSeconds,
        (q) => current.search(qs[q], k, 1).keys,
        ef === job.efs[0] ? job.warmup ?? 50 : 0,
      );
      sweeps.push({ label: job.system, ef, ...s });
      firstPeak ??= memory().peak;
      log(`usearch: ef ${ef}: ${(s.latenciesUs.reduce((a, b) => a + b, 0) / nq).toFixed(1)} µs/query`);
    }
  } else {
    throw new Error(`unknown peer system ${job.system}`);
  }

  const out = [];
  sweeps.forEach((s, i) => {
    const idsFile = `${job.out}.${i}.ids`;
    writeFileSync(idsFile, new Uint8Array(s.ids.buffer, s.ids.byteOffset, s.ids.byteLength));
    out.push({
      label: s.label,
      ef: s.ef,
      passes: s.passes,
      latenciesUs: s.latenciesUs,
      cpuSeconds: s.cpuSeconds,
      idsFile,
    });
  });
  const mem = memory();
  const result = {
    system: job.system,
    runtime: runtime(),
    version,
    buildSeconds,
    buildCpuSeconds,
    indexBytes,
    baseRssBytes: baseMem.rss,
    peakRssBytes: firstPeak ?? mem.peak,
    finalPeakRssBytes: mem.peak,
    sweeps: out,
    notes,
  };
  writeFileSync(job.out, JSON.stringify(result));
}

try {
  main();
} catch (e) {
  log(`peer runner: ${e?.stack ?? e}`);
  process.exit(1);
}
