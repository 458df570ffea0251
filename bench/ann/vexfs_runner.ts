/**
 * VexFS in `vexfs bench vectors`, in its own Deno process:
 *
 *   deno run -A bench/ann/vexfs_runner.ts JOB.json
 *
 * - job.system `vexfs` (the library): formats job.image, opens it with
 *   `Vexfs.open`, makes the collection `/v` (job.m, job.efConstruction; the
 *   engine's default index), creates one empty file per base row
 *   (`v0000000.txt`, ...) and sets the rows' vectors with
 *   `Collections.setVectors` in batches, one engine operation per batch,
 *   then syncs and closes: that is the build, timed with its phases. Then it
 *   opens the image again, as a user would, times the first answer (reading
 *   the store and the graph), and searches the queries one at a time with
 *   `fs.collections.search(dir, q, k, { ef })` for every ef of the sweep; with
 *   job.exact also `{ exact: true }` (the `vexfs-exact` line). It writes the
 *   row → inode map the mount runner needs.
 * - job.system `vexfs-mount`: the image is mounted by the harness (`vexfs
 *   mount`); the queries go through the search ioctl (src/ioctl/client.ts:
 *   open + ioctl + close of job.dir each) with the same sweep.
 *
 * A search that the engine answers exactly whatever the ef (a collection
 * without a usable graph, or an engine before HNSW) is reported once, as one
 * exact point, instead of as a sweep of identical points.
 * @module
 */
import process from "node:process";
import { mkfs } from "../../src/fs/mkfs.ts";
import { Vexfs } from "../../src/fs/fs.ts";
import type { CollectionParams, SearchOptions } from "../../src/fs/vectors.ts";
import { ROOT_INO } from "../../src/format/constants.ts";
import { DEFAULT_EF } from "../../src/hnsw/params.ts";
import { vectorFileName } from "../vectors.ts";
import { type CpuProfile, startProfile } from "./profile.ts";
import {
  efSequence,
  type Job,
  overlapRecall,
  processMemory,
  readF32,
  readI32,
  type RunnerResult,
  type RunnerSweep,
  type SystemId,
  writeTyped,
} from "./protocol.ts";

/** Files created and vectors set per engine operation while building. */
export const BATCH = 1000;
/** Queries run untimed before the first timed pass (JIT, caches). */
export const WARMUP = 50;

function log(s: string): void {
  console.error(s);
}

/** Bytes for an image of `n` files with `dim`-d f32 vectors (sparse; generous). */
export function imageBytes(n: number, dim: number): number {
  const perVector = dim * 4 * 2 + 2048; // vector, its copy in the journal, inode, entry, map, norm, graph
  const bytes = 256 * 2 ** 20 + n * perVector;
  return Math.ceil(bytes / 2 ** 20) * 2 ** 20;
}

/** What a search call gives back, whatever the engine's version. */
interface Answer {
  inos: number[];
  method?: string;
  reason?: string;
}

type Searcher = (q: Float32Array, ef: number | null) => Answer | Promise<Answer>;

/**
 * Times `nq` queries one by one, `runs` passes (fewer once a pass takes
 * longer than `maxPassSeconds`), keeping the fastest pass.
 */
async function sweepPoint(
  job: Job,
  queries: Float32Array,
  rowOf: (ino: number) => number,
  search: Searcher,
  ef: number | null,
  label: SystemId,
  index: number,
): Promise<RunnerSweep> {
  const { dim, nq } = job.dataset;
  const k = job.k;
  let best: { total: number; lat: number[]; ids: Int32Array; cpu: number } | undefined;
  const passes: number[] = [];
  let method: string | undefined, reason: string | undefined;
  for (let r = 0; r < job.runs; r++) {
    const lat = new Array<number>(nq);
    const ids = new Int32Array(nq * k).fill(-1);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let q = 0; q < nq; q++) {
      const qv = queries.subarray(q * dim, (q + 1) * dim);
      const a = performance.now();
      let ans = search(qv, ef);
      if (ans instanceof Promise) ans = await ans;
      lat[q] = (performance.now() - a) * 1000;
      const n = Math.min(k, ans.inos.length);
      for (let j = 0; j < n; j++) ids[q * k + j] = rowOf(ans.inos[j]);
      if (q === 0 && r === 0) {
        method = ans.method;
        reason = ans.reason;
      }
    }
    const secs = (performance.now() - t0) / 1000;
    const cu = process.cpuUsage(c0);
    passes.push(secs);
    const total = lat.reduce((s, x) => s + x, 0);
    if (!best || total < best.total) best = { total, lat, ids, cpu: (cu.user + cu.system) / 1e6 };
    if (secs > job.maxPassSeconds) break;
  }
  const idsFile = `${job.out}.${index}.ids`;
  await writeTyped(idsFile, best!.ids);
  const mean = best!.total / nq;
  log(
    `${label}: ef ${ef ?? "exact"}: ${mean.toFixed(1)} µs/query${
      method ? ` (${method}${reason ? `: ${reason}` : ""})` : ""
    }`,
  );
  return {
    label,
    ef,
    ...(method ? { method } : {}),
    ...(reason ? { reason } : {}),
    passes,
    latenciesUs: best!.lat,
    // the client's CPU says nothing of a search served by the mount's daemon
    ...(label === "vexfs-mount" ? {} : { cpuSeconds: best!.cpu }),
    idsFile,
  };
}

/** Runs the sweep of job.efs with `search`; collapses it to one exact point when the engine scans exactly. */
async function sweepAll(
  job: Job,
  queries: Float32Array,
  rowOf: (ino: number) => number,
  search: Searcher,
  label: SystemId,
  first: number,
  notes: string[],
): Promise<RunnerSweep[]> {
  const out: RunnerSweep[] = [];
  const gt = job.extend ? await readI32(job.extend.gtIds) : undefined;
  let lastIds: Int32Array | undefined;
  const below = () =>
    !!gt && !!lastIds &&
    overlapRecall(lastIds, gt, job.k, job.extend!.gtK, job.dataset.nq) < job.extend!.recall;
  for (const ef of efSequence(job, below)) {
    if (!job.efs.includes(ef)) log(`${label}: recall still below ${job.extend!.recall}: ef ${ef}`);
    const s = await sweepPoint(job, queries, rowOf, search, ef, label, first + out.length);
    lastIds = await readI32(s.idsFile);
    out.push(s);
    if (s.method === "exact" && ef === job.efs[0]) {
      s.ef = null;
      notes.push(
        `${label}: the engine answered ef ${ef} by an exact scan (${
          s.reason ?? "no reason given"
        }); one point, no sweep`,
      );
      break;
    }
  }
  return out;
}

/** A row → inode map as an inode → row lookup. */
function inverse(inos: Int32Array): (ino: number) => number {
  let max = 0;
  for (const i of inos) if (i > max) max = i;
  const rows = new Int32Array(max + 1).fill(-1);
  inos.forEach((ino, row) => (rows[ino] = row));
  return (ino) => (ino >= 0 && ino < rows.length ? rows[ino] : -1);
}

/** The engine's answer to one query, with `searchEx`'s method when the engine has it. */
function engineSearcher(fs: Vexfs, dir: number, k: number, extra: Record<string, unknown>): Searcher {
  // deno-lint-ignore no-explicit-any
  const c = fs.collections as any;
  const withMethod = typeof c.searchEx === "function";
  return (q, ef) => {
    const opts = { paths: false, ...extra, ...(ef !== null ? { ef } : {}) } as SearchOptions;
    if (withMethod) {
      const r = c.searchEx(dir, q, k, opts);
      const hits: { ino: number }[] = Array.isArray(r) ? r : r.hits;
      const m = r.method && typeof r.method === "object" ? r.method : r;
      return { inos: hits.map((h) => h.ino), method: m.method, reason: m.reason };
    }
    // an engine without searchEx has no approximate search: every answer is an exact scan
    return {
      inos: fs.collections.search(dir, q, k, opts).map((h) => h.ino),
      method: "exact",
      reason: "this engine has exact search only",
    };
  };
}

function memNow(): { peak: number; rss: number } {
  return processMemory() ?? { peak: 0, rss: 0 };
}

async function runLibrary(job: Job): Promise<RunnerResult> {
  const { dim, metric, n, nq } = job.dataset;
  const image = job.image!;
  const base = await readF32(job.dataset.base);
  const queries = await readF32(job.dataset.queries);
  const baseMem = memNow();
  const notes: string[] = [];
  const phases: Record<string, number> = {};
  try {
    await Deno.remove(image);
  } catch { /* not there */ }
  let t = performance.now();
  mkfs(image, { size: imageBytes(n, dim), inodes: n + 4096, force: true, label: "bench-vectors" });
  notes.push(
    `mkfs of the ${(imageBytes(n, dim) / 2 ** 30).toFixed(2)} GiB image took ${
      ((performance.now() - t) / 1000).toFixed(2)
    } s (not in the build)`,
  );

  // ---- build: create the files, set the vectors, commit
  const stopProfile = job.profile ? await startProfile() : undefined;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const fs = Vexfs.open(image);
  const dir = fs.mkdir(ROOT_INO, "v");
  const params = { dim, metric, elem: "f32", index: "hnsw", m: job.m, efConstruction: job.efConstruction };
  const info = fs.collections.create(dir, params as CollectionParams) as unknown as Record<string, unknown>;
  const defaultEf = Number(info.efSearch) || Math.max(job.k, DEFAULT_EF);
  if (info.index === undefined) notes.push("this engine's collections have no index parameters (exact search only)");
  else if (info.index !== "hnsw") notes.push(`the collection was made with index ${info.index}`);
  const inos = new Int32Array(n);
  let tCreate = 0, tSet = 0;
  for (let i = 0; i < n; i += BATCH) {
    const end = Math.min(n, i + BATCH);
    fs.op(() => {
      const a = performance.now();
      const items: { ino: number; vector: Float32Array }[] = [];
      for (let j = i; j < end; j++) {
        const ino = fs.create(dir, vectorFileName(j));
        inos[j] = ino;
        items.push({ ino, vector: base.subarray(j * dim, (j + 1) * dim) });
      }
      const b = performance.now();
      fs.collections.setVectors(items);
      tCreate += b - a;
      tSet += performance.now() - b;
    }, "bench import");
    if ((end / BATCH) % 20 === 0 || end === n) {
      log(`vexfs: ${end}/${n} vectors set (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    }
  }
  phases["create files"] = tCreate / 1000;
  phases["set vectors"] = tSet / 1000;
  const collId = fs.collections.collectionOfDir(dir);
  t = performance.now();
  fs.sync();
  phases.sync = (performance.now() - t) / 1000;
  const rec = fs.collections.record(collId) as unknown as Record<string, number> | undefined;
  const sizeOf = (ino: number | undefined) => (ino ? fs.iget(ino).d.size : 0);
  const sizes = {
    vectors: sizeOf(rec?.vecIno),
    slotMap: sizeOf(rec?.mapIno),
    norms: sizeOf(rec?.normIno),
    graph: sizeOf(rec?.hnswIno),
  };
  t = performance.now();
  fs.close();
  phases.close = (performance.now() - t) / 1000;
  const buildSeconds = (performance.now() - t0) / 1000;
  const cu = process.cpuUsage(c0);
  const buildCpuSeconds = (cu.user + cu.system) / 1e6;
  const buildPeakRssBytes = memNow().peak;
  const profiles: Record<string, string> = {};
  if (stopProfile) {
    profiles.build = `${job.out}.build.cpuprofile`;
    await writeProfile(profiles.build, await stopProfile());
    notes.push("the build ran under V8's sampling profiler (--profile)");
  }
  // the graph is written after the commit it matches (FORMAT.md §8.6): measure its file again after the close
  if (rec?.hnswIno !== undefined) {
    const again = Vexfs.open(image, { readOnly: true });
    try {
      const r2 = again.collections.record(collId) as unknown as Record<string, number> | undefined;
      sizes.graph = r2?.hnswIno ? again.iget(r2.hnswIno).d.size : 0;
    } finally {
      again.close();
    }
  }
  const indexBytes = sizes.vectors + sizes.slotMap + sizes.norms + sizes.graph;
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  const indexBytesNote = `graph ${mib(sizes.graph)} MiB + vectors ${mib(sizes.vectors)} + norms ${
    mib(sizes.norms)
  } + slot map ${mib(sizes.slotMap)} MiB`;
  await writeTyped(job.inodes!, inos);
  const rowOf = inverse(inos);

  // ---- search: a fresh open, as a user would
  t = performance.now();
  const ro = Vexfs.open(image, { readOnly: true });
  const rdir = ro.resolve("/v");
  const lib = engineSearcher(ro, rdir, job.k, {});
  const first = await lib(queries.subarray(0, dim), job.efs[0]);
  const loadSeconds = (performance.now() - t) / 1000;
  if (first.method) {
    notes.push(`first answer after opening: ${first.method}${first.reason ? ` (${first.reason})` : ""}`);
  }
  for (let q = 0; q < Math.min(job.warmup ?? WARMUP, nq); q++) {
    await lib(queries.subarray(q * dim, (q + 1) * dim), job.efs[0]);
  }
  const sweeps = await sweepAll(job, queries, rowOf, lib, "vexfs", 0, notes);
  const peak = memNow().peak;
  const searchRssBytes = memNow().rss;
  if (job.exact) {
    const exact = engineSearcher(ro, rdir, job.k, { exact: true });
    for (let q = 0; q < Math.min(job.warmup ?? WARMUP, nq); q++) {
      await exact(queries.subarray(q * dim, (q + 1) * dim), null);
    }
    sweeps.push(await sweepPoint(job, queries, rowOf, exact, null, "vexfs-exact", sweeps.length));
  }
  ro.close();
  void metric;
  return {
    system: "vexfs",
    runtime: `deno ${Deno.version.deno}`,
    version: `vexfs ${job.version ?? ""}`.trim(),
    buildSeconds,
    buildCpuSeconds,
    phases,
    indexBytes,
    indexBytesNote,
    baseRssBytes: baseMem.rss,
    peakRssBytes: peak,
    finalPeakRssBytes: memNow().peak,
    buildPeakRssBytes,
    searchRssBytes,
    loadSeconds,
    defaultEf,
    sweeps,
    notes,
    profiles,
  };
}

async function writeProfile(path: string, p: CpuProfile): Promise<void> {
  await Deno.writeTextFile(path, JSON.stringify(p));
}

/** The search alone at one ef, on the image built before, under the profiler. */
async function runSearchProfile(job: Job): Promise<RunnerResult> {
  const { dim, nq } = job.dataset;
  const queries = await readF32(job.dataset.queries);
  const rowOf = inverse(await readI32(job.inodes!));
  const ef = job.searchOnly!.ef;
  const ro = Vexfs.open(job.image!, { readOnly: true });
  const search = engineSearcher(ro, ro.resolve("/v"), job.k, ef === null ? { exact: true } : {});
  for (let q = 0; q < Math.min(job.warmup ?? WARMUP, nq); q++) {
    await search(queries.subarray(q * dim, (q + 1) * dim), ef);
  }
  const stop = await startProfile();
  const sweep = await sweepPoint(job, queries, rowOf, search, ef, "vexfs", 0);
  const profiles = { search: `${job.out}.search.cpuprofile` };
  await writeProfile(profiles.search, await stop());
  ro.close();
  return {
    system: "vexfs",
    runtime: `deno ${Deno.version.deno}`,
    version: `vexfs ${job.version ?? ""}`.trim(),
    buildSeconds: 0,
    indexBytes: null,
    baseRssBytes: 0,
    peakRssBytes: 0,
    sweeps: [sweep],
    notes: [],
    profiles,
  };
}

async function runMount(job: Job): Promise<RunnerResult> {
  const { dim, nq } = job.dataset;
  const client = await import("../../src/ioctl/client.ts");
  const queries = await readF32(job.dataset.queries);
  const rowOf = inverse(await readI32(job.inodes!));
  const notes: string[] = [];
  const dir = job.dir!;
  // one descriptor for every query (SEARCH2 with the sweep's ef), as a service answering queries holds it;
  // the cost of opening the directory per call is measured below (the floor)
  const searcher = await client.DirSearcher.open(dir);
  const ioctl: Searcher = async (q, ef) => {
    const r = await searcher.search(q, job.k, ef !== null ? { ef } : {});
    return { inos: r.hits.map((h) => Number(h.ino)), method: r.method.method };
  };
  const t = performance.now();
  await ioctl(queries.subarray(0, dim), job.efs[0]);
  const loadSeconds = (performance.now() - t) / 1000;
  for (let q = 0; q < Math.min(job.warmup ?? WARMUP, nq); q++) {
    await ioctl(queries.subarray(q * dim, (q + 1) * dim), job.efs[0]);
  }
  // the floor of a call through the mount: the same open + ioctl + close with no search in it
  const floor: number[] = [];
  for (let i = 0; i < 300; i++) {
    const a = performance.now();
    await client.fsInfo(dir);
    if (i >= 50) floor.push((performance.now() - a) * 1000);
  }
  floor.sort((a, b) => a - b);
  const ioctlFloorUs = floor[Math.floor(floor.length / 2)];
  const sweeps: RunnerSweep[] = [];
  if (job.exactOnly) {
    // the library answered every ef by an exact scan: one point here too
    const s = await sweepPoint(job, queries, rowOf, ioctl, job.efs[0], "vexfs-mount", 0);
    sweeps.push({ ...s, ef: null, method: "exact" });
    notes.push("the library answered exactly whatever the ef, so the mount was measured at one point");
  } else {
    for (const ef of job.efs) {
      sweeps.push(await sweepPoint(job, queries, rowOf, ioctl, ef, "vexfs-mount", sweeps.length));
    }
  }
  await searcher.close();
  notes.push("one descriptor held for every query (VEXFS_IOC_SEARCH2); opening the directory per call adds the floor");
  return {
    system: "vexfs-mount",
    runtime: `deno ${Deno.version.deno}`,
    version: `vexfs ${job.version ?? ""}`.trim(),
    buildSeconds: 0,
    indexBytes: null,
    baseRssBytes: 0,
    peakRssBytes: 0,
    loadSeconds,
    ioctlFloorUs,
    sweeps,
    notes,
  };
}

if (import.meta.main) {
  const jobPath = Deno.args[0];
  if (!jobPath) {
    log("usage: deno run -A bench/ann/vexfs_runner.ts JOB.json");
    Deno.exit(2);
  }
  const job: Job = JSON.parse(await Deno.readTextFile(jobPath));
  try {
    const result = job.system === "vexfs-mount"
      ? await runMount(job)
      : job.searchOnly
      ? await runSearchProfile(job)
      : await runLibrary(job);
    await Deno.writeTextFile(job.out, JSON.stringify(result));
  } catch (e) {
    log(`vexfs runner: ${e instanceof Error ? e.stack : e}`);
    Deno.exit(1);
  }
}
