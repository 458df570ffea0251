/**
 * `vexfs bench --text`: keyword search (issue 12 §3, design §7) against MiniSearch 7.2.0 and Orama 3.1.18 in their
 * default configurations, in one run, on the fiori texts and on a generated corpus (bench/text_corpus.ts), and the
 * hybrid search's latency.
 *
 * Per corpus:
 * - **indexing, in memory** (what compares with the others): strings → a ready index. VexFS: the collection's
 *   analyzer (`word-v1`, src/text) over each text, `encodeSegment` (src/bm25) of the documents, and
 *   `Bm25Index.fromSegments` (the decoded segment a query reads); MiniSearch: `new MiniSearch({ fields })` +
 *   `addAll`; Orama: `create({ schema })` + `insertMultiple`. `rounds` rounds, systems in rotating order, median.
 * - **indexing, end to end** (VexFS only, no counterpart): the texts written as files through the engine into a
 *   collection of a new image file, then `fs.collections.text.build` (reads every file, checks it is text, CRC,
 *   tokenizes, encodes, writes the index file and commits); and the close, reopen and first query (the index read
 *   back from its file).
 * - **query latency**: `queries` queries of 1-3 terms by df bucket, top 10 as ids/inode numbers: VexFS
 *   `fs.collections.text.search(dir, q, 10, { paths: false })` on that image (query analysis included), MiniSearch
 *   `search(q)` (OR, no prefix, no fuzzy), Orama `search(db, { term: q, limit: 10 })` (its default: prefix matching,
 *   threshold 1). A warm-up pass, then `passes` timed passes; each query runs on the three systems back to back in
 *   rotating order. p50/p95 over every timed call.
 * - **index size**: VexFS the allocated bytes of the index file (`stats().fileBytes`) against the text's UTF-8
 *   bytes (target ≤ 2×); MiniSearch `JSON.stringify(ms)` and Orama `JSON.stringify(save(db))` lengths (their
 *   serialised form: informational, they have no file).
 * - **hybrid** (fiori, which has vectors): `searchHybrid` (RRF, depth 100) of a document's vector and a query text,
 *   against the vector side alone and the text side alone, on the engine; through a FUSE mount when the daemon
 *   serves `VEXFS_IOC_HYBRID` (otherwise the report says why it is missing).
 *
 * Speed is never asserted in tests; bench/text_test.ts runs a quick mode and checks the report's shape.
 * @module
 */
import process from "node:process";
import type MiniSearchType from "minisearch";
import { loadFiori } from "../src/data/fiori.ts";
import { ROOT_INO } from "../src/format/constants.ts";
import { Vexfs } from "../src/fs/fs.ts";
import { mkfs } from "../src/fs/mkfs.ts";
import type { DocInput } from "../src/bm25/layout.ts";
import { encodeSegment } from "../src/bm25/segment.ts";
import { Bm25Index } from "../src/bm25/reader.ts";
import { DEFAULT_ANALYZER, makeAnalyzer } from "../src/text/analyzer.ts";
import { searchHybrid } from "../src/search/hybrid.ts";
import { loadAverage, type MachineInfo, machineInfo } from "./system.ts";
import { generatedCorpus, percentile, sampleQueries } from "./text_corpus.ts";
import { mountHybridLatency } from "./text_mount.ts";

/** The systems compared. */
export const TEXT_SYSTEMS = ["vexfs", "minisearch", "orama"] as const;
/** One of {@link TEXT_SYSTEMS}. */
export type TextSystem = typeof TEXT_SYSTEMS[number];

/** Defaults of a full run. */
export const TEXT_DEFAULTS = { genDocs: 50_000, queries: 500, rounds: 3, genRounds: 1, passes: 3, seed: 12 } as const;

/** What to run. */
export interface TextBenchOptions {
  /** documents of the generated corpus (0: none) */
  genDocs: number;
  /** queries per corpus */
  queries: number;
  /** indexing rounds on fiori (median) */
  rounds: number;
  /** indexing rounds on the generated corpus */
  genRounds: number;
  /** timed query passes (after one warm-up pass) */
  passes: number;
  /** only the first n fiori documents (quick mode); default all */
  fioriDocs?: number;
  /** seed of the generated corpus and the queries */
  seed: number;
  /** the image files go below this directory */
  parentDir: string;
  /** measure the hybrid search through a FUSE mount too */
  mount: boolean;
  /** keep the work directory */
  keep?: boolean;
  /** this program's version and command line, for the report */
  version: string;
  command: string;
  /** progress lines */
  log: (line: string) => void;
  /**
   * describe the machine with its tools' versions (fio, gcc, git, ... as child processes; default true); false
   * for tests, which must not spawn processes a parallel test's descriptors could leak into
   */
  describeMachine?: boolean;
}

/** Latency summary in µs. */
export interface Latency {
  count: number;
  p50Us: number;
  p95Us: number;
  meanUs: number;
}

/** Hybrid latency on one path (the engine in-process, or the mount's ioctl). */
export interface HybridLatency {
  available: boolean;
  /** why not measured */
  reason?: string;
  hybrid?: Latency;
  vector?: Latency;
  text?: Latency;
  /** through the mount: the client's `hybridSearch` as `vexfs search` calls it (open, TEXT_INDEX, hits named by path) */
  client?: Latency;
  /** how the vector side answered (hnsw, exact, ...) */
  vectorMethod?: string;
}

/** Results of one corpus. */
export interface CorpusReport {
  corpus: "fiori" | "generated";
  /** how it was made */
  description: string;
  docs: number;
  /** UTF-8 bytes of the texts */
  textBytes: number;
  /** Σ dl and distinct terms under word-v1 */
  tokens: number;
  terms: number;
  /** in-memory indexing, ms: every round and the median, per system */
  indexMs: Record<TextSystem, { median: number; runs: number[] }>;
  /**
   * CPU time of the process (user + system, all its threads: V8's GC helpers too) during each in-memory indexing
   * round, ms, per system: on a busy machine a fairer comparison than the wall clock
   */
  indexCpuMs: Record<TextSystem, { median: number; runs: number[] }>;
  /** query latency per system (VexFS: through the engine on the image) */
  query: Record<TextSystem, Latency>;
  /** mean hits returned per query (≤ 10), per system: a check that all answer */
  meanHits: Record<TextSystem, number>;
  /** fraction of queries whose VexFS top-10 shares its first hit with MiniSearch's top 10 (sanity, informational) */
  agreement: number;
  /** index sizes in bytes (null: could not serialise) */
  size: { vexfsFile: number; vexfsSegment: number; minisearchJson: number | null; oramaJson: number | null };
  /** VexFS end to end on an image */
  e2e: {
    /** files written through the engine (and synced) */
    writeMs: number;
    /** `fs.collections.text.build` wall time */
    buildMs: number;
    /** close, reopen read-only and the first query (the index loaded from its file) */
    reopenFirstQueryMs: number;
    fileBytes: number;
    textBytes: number;
    docCount: number;
    segments: number;
  };
  hybrid?: { engine: HybridLatency; mount: HybridLatency };
}

/** The whole run. */
export interface TextBenchReport {
  date: string;
  command: string;
  machine: MachineInfo;
  loadBefore?: number;
  loadAfter?: number;
  settings: Omit<TextBenchOptions, "log" | "version" | "command">;
  versions: Record<string, string>;
  corpora: CorpusReport[];
  seconds: number;
  notes: string[];
}

function latency(us: number[]): Latency {
  return {
    count: us.length,
    p50Us: percentile(us, 50),
    p95Us: percentile(us, 95),
    meanUs: us.reduce((a, b) => a + b, 0) / us.length,
  };
}

function median(xs: number[]): number {
  return percentile(xs, 50);
}

/** CPU time used by this process so far (user + system), ms. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
}

/** A built index of one system, answering top-10 ids. */
interface Built {
  query(q: string): Promise<unknown[]> | unknown[];
  size(): number | null;
}

type Doc = { id: string; text: string };

/** In-memory VexFS: analyzer + encodeSegment + decoded index (the query side is measured on the engine). */
function vexfsMemory(texts: string[]): { seg: Uint8Array; tokens: number; terms: number; df: Map<string, number> } {
  const a = makeAnalyzer(DEFAULT_ANALYZER);
  const docs: DocInput[] = new Array(texts.length);
  let tokens = 0;
  for (let i = 0; i < texts.length; i++) {
    const t = a.document(texts[i]);
    tokens += t.dl;
    docs[i] = {
      ino: i + 16,
      igen: 1,
      dl: t.dl,
      ctimeSec: 0,
      ctimeNsec: 0,
      crc: 0,
      size: texts[i].length,
      flags: 0,
      uniq: t.counts.size,
      counts: t.counts,
    };
  }
  const o = { id: 1, base: true, blockSize: 4096, collectionId: 1, hashSeed: 0x1234 };
  const seg = encodeSegment(docs, [], o);
  const ix = Bm25Index.fromSegments([seg], 4096, 1, 0x1234);
  const df = new Map<string, number>();
  for (const d of docs) for (const t of d.counts.keys()) df.set(t, (df.get(t) ?? 0) + 1);
  return { seg, tokens, terms: df.size + 0 * ix.docCount(), df };
}

/**
 * MiniSearch and Orama, imported when the benchmark runs: they are devDependencies, and a static import would make
 * every `vexfs` command fail to start ("Could not resolve") where only the dependencies are installed, as in the
 * tools image of the VM tests.
 */
let peers: { MiniSearch: typeof MiniSearchType; orama: typeof import("@orama/orama") } | undefined;

async function loadPeers(): Promise<NonNullable<typeof peers>> {
  if (!peers) {
    const [ms, orama] = await Promise.all([import("minisearch"), import("@orama/orama")]);
    peers = { MiniSearch: ms.default, orama };
  }
  return peers;
}

function miniSearch(docs: Doc[]): Built {
  const ms = new peers!.MiniSearch<Doc>({ fields: ["text"] });
  ms.addAll(docs);
  return {
    query: (q) => ms.search(q).slice(0, 10).map((r) => r.id),
    size: () => JSON.stringify(ms).length,
  };
}

async function orama(docs: Doc[]): Promise<Built> {
  const { create: oramaCreate, insertMultiple: oramaInsertMultiple, save: oramaSave, search: oramaSearch } =
    (await loadPeers()).orama;
  const db = oramaCreate({ schema: { text: "string" } as const });
  const r = oramaInsertMultiple(db, docs);
  if (r instanceof Promise) await r;
  return {
    query: (q) => {
      const res = oramaSearch(db, { term: q, limit: 10 });
      return res instanceof Promise ? res.then((x) => x.hits.map((h) => h.id)) : res.hits.map((h) => h.id);
    },
    size: () => JSON.stringify(oramaSave(db)).length,
  };
}

/** Rotates `xs` left by `n`. */
function rotate<T>(xs: readonly T[], n: number): T[] {
  const k = ((n % xs.length) + xs.length) % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

/** Image size for `docs` files holding `textBytes`: every file at least one 4 KiB block, the index, slack. */
function imageBytes(docs: number, textBytes: number): number {
  const b = docs * 4096 * 1.1 + textBytes * 1.6 + (96 << 20);
  return Math.ceil(b / (1 << 20)) * (1 << 20);
}

/** Runs one corpus. `vectors` (fiori) enables the hybrid measurements. */
async function runCorpus(
  o: TextBenchOptions,
  work: string,
  corpus: CorpusReport["corpus"],
  description: string,
  texts: string[],
  rounds: number,
  vectors?: Float32Array[],
): Promise<CorpusReport> {
  const log = (l: string) => o.log(`${corpus}: ${l}`);
  const enc = new TextEncoder();
  const bytes = texts.map((t) => enc.encode(t));
  const textBytes = bytes.reduce((n, b) => n + b.length, 0);
  const docs: Doc[] = texts.map((text, i) => ({ id: String(i), text }));
  log(`${texts.length} documents, ${(textBytes / 1e6).toFixed(1)} MB of text; indexing, ${rounds} round(s)`);

  // ---- indexing in memory, interleaved
  const runs: Record<TextSystem, number[]> = { vexfs: [], minisearch: [], orama: [] };
  const cpu: Record<TextSystem, number[]> = { vexfs: [], minisearch: [], orama: [] };
  let mem: ReturnType<typeof vexfsMemory> | undefined;
  let ms: Built | undefined, or: Built | undefined;
  for (let r = 0; r < rounds; r++) {
    for (const s of rotate(TEXT_SYSTEMS, r)) {
      // the previous round's index of this system is dropped first (memory)
      if (s === "minisearch") ms = undefined;
      if (s === "orama") or = undefined;
      const c0 = cpuMs();
      const t0 = performance.now();
      if (s === "vexfs") mem = vexfsMemory(texts);
      else if (s === "minisearch") ms = miniSearch(docs);
      else or = await orama(docs);
      const dt = performance.now() - t0;
      runs[s].push(dt);
      cpu[s].push(cpuMs() - c0);
      log(`round ${r + 1}: ${s} ${(dt / 1e3).toFixed(2)} s (CPU ${((cpuMs() - c0) / 1e3).toFixed(2)} s)`);
    }
  }

  // ---- end to end on an image
  const image = `${work}/${corpus}.img`;
  mkfs(image, { size: imageBytes(texts.length, textBytes), inodes: texts.length + 4096, label: "bench-text" });
  let fs = Vexfs.open(image);
  let dir: number;
  let writeMs: number, buildMs: number;
  let st;
  const inos: number[] = [];
  try {
    const t0 = performance.now();
    dir = fs.mkdir(ROOT_INO, "docs");
    fs.collections.create(dir, { dim: vectors ? vectors[0].length : 4, metric: "cosine", elem: "f32" });
    for (let i = 0; i < bytes.length; i++) {
      const ino = fs.create(dir, `d${String(i).padStart(6, "0")}.txt`);
      fs.write(ino, 0, bytes[i]);
      inos.push(ino);
    }
    if (vectors) fs.collections.setVectors(inos.map((ino, i) => ({ ino, vector: vectors[i] })));
    fs.sync();
    writeMs = performance.now() - t0;
    log(`wrote ${inos.length} files through the engine in ${(writeMs / 1e3).toFixed(1)} s; building the text index`);
    const t1 = performance.now();
    st = fs.collections.text.build(dir);
    buildMs = performance.now() - t1;
    log(`fs.collections.text.build: ${(buildMs / 1e3).toFixed(2)} s, ${st.fileBytes} bytes, ${st.segments} segment`);
  } finally {
    fs.close();
  }
  const queries = sampleQueries(mem!.df, o.queries, o.seed);
  const t2 = performance.now();
  fs = Vexfs.open(image, { readOnly: true });
  const result: CorpusReport = {
    corpus,
    description,
    docs: texts.length,
    textBytes,
    tokens: mem!.tokens,
    terms: mem!.terms,
    indexMs: {
      vexfs: { median: median(runs.vexfs), runs: runs.vexfs },
      minisearch: { median: median(runs.minisearch), runs: runs.minisearch },
      orama: { median: median(runs.orama), runs: runs.orama },
    },
    indexCpuMs: {
      vexfs: { median: median(cpu.vexfs), runs: cpu.vexfs },
      minisearch: { median: median(cpu.minisearch), runs: cpu.minisearch },
      orama: { median: median(cpu.orama), runs: cpu.orama },
    },
    query: {} as Record<TextSystem, Latency>,
    meanHits: {} as Record<TextSystem, number>,
    agreement: 0,
    size: { vexfsFile: st.fileBytes, vexfsSegment: mem!.seg.length, minisearchJson: null, oramaJson: null },
    e2e: {
      writeMs,
      buildMs,
      reopenFirstQueryMs: 0,
      fileBytes: st.fileBytes,
      textBytes: st.textBytes,
      docCount: st.docCount,
      segments: st.segments,
    },
  };
  mem = undefined;
  try {
    dir = fs.resolve("/docs");
    const text = fs.collections.text;
    text.search(dir, queries[0], 10, { paths: false });
    result.e2e.reopenFirstQueryMs = performance.now() - t2;

    // ---- queries, interleaved
    log(`${queries.length} queries × ${o.passes} timed passes (after a warm-up pass)`);
    const systems: Record<TextSystem, (q: string) => Promise<unknown[]> | unknown[]> = {
      vexfs: (q) => text.search(dir, q, 10, { paths: false }).hits.map((h) => h.ino),
      minisearch: ms!.query,
      orama: or!.query,
    };
    const us: Record<TextSystem, number[]> = { vexfs: [], minisearch: [], orama: [] };
    const hits: Record<TextSystem, number> = { vexfs: 0, minisearch: 0, orama: 0 };
    let agree = 0;
    for (let p = 0; p <= o.passes; p++) {
      for (let i = 0; i < queries.length; i++) {
        const got: Partial<Record<TextSystem, unknown[]>> = {};
        for (const s of rotate(TEXT_SYSTEMS, i + p)) {
          const t0 = performance.now();
          let r = systems[s](queries[i]);
          if (r instanceof Promise) r = await r;
          const dt = performance.now() - t0;
          if (p > 0) us[s].push(dt * 1e3);
          got[s] = r;
        }
        if (p === 0) {
          for (const s of TEXT_SYSTEMS) hits[s] += got[s]!.length;
          const first = got.vexfs![0] as number | undefined;
          const msTop = new Set((got.minisearch as string[]).map((id) => inos[Number(id)]));
          if (first === undefined ? msTop.size === 0 : msTop.has(first)) agree++;
        }
      }
    }
    for (const s of TEXT_SYSTEMS) {
      result.query[s] = latency(us[s]);
      result.meanHits[s] = hits[s] / queries.length;
    }
    result.agreement = agree / queries.length;

    // ---- hybrid (engine), fiori
    if (vectors) {
      result.hybrid = {
        engine: hybridEngine(fs, dir, queries, vectors, o.passes),
        mount: { available: false, reason: "not asked (--no-mount)" },
      };
    }
  } finally {
    fs.close();
  }
  if (vectors && o.mount) {
    log("hybrid search through a FUSE mount");
    try {
      result.hybrid!.mount = await mountHybridLatency(image, `${work}/mnt-${corpus}`, queries, vectors, o.passes);
    } catch (e) {
      result.hybrid!.mount = { available: false, reason: `failed: ${e instanceof Error ? e.message : e}` };
    }
  }

  // ---- their sizes (serialisation), last: it can take long and much memory
  for (const [s, b] of [["minisearch", ms], ["orama", or]] as const) {
    try {
      const n = b!.size();
      if (s === "minisearch") result.size.minisearchJson = n;
      else result.size.oramaJson = n;
    } catch (e) {
      log(`${s}: serialisation failed (${e instanceof Error ? e.message : e}); size not reported`);
    }
  }
  ms = or = undefined;
  return result;
}

/** Hybrid (RRF, k 10) vs either side alone, through the engine, interleaved. */
function hybridEngine(
  fs: Vexfs,
  dir: number,
  queries: string[],
  vectors: Float32Array[],
  passes: number,
): HybridLatency {
  const c = fs.collections;
  const n = Math.min(queries.length, 200);
  const vec = (i: number) => vectors[(i * 7919) % vectors.length];
  const runs: Record<"hybrid" | "vector" | "text", (i: number) => unknown> = {
    hybrid: (i) => searchHybrid(fs, dir, { vector: vec(i), text: queries[i], k: 10, paths: false }).hits,
    vector: (i) => c.searchEx(dir, vec(i), 10, { paths: false }).hits,
    text: (i) => c.text.search(dir, queries[i], 10, { paths: false }).hits,
  };
  const us: Record<string, number[]> = { hybrid: [], vector: [], text: [] };
  const names = ["hybrid", "vector", "text"] as const;
  for (let p = 0; p <= passes; p++) {
    for (let i = 0; i < n; i++) {
      for (const s of rotate(names, i + p)) {
        const t0 = performance.now();
        runs[s](i);
        if (p > 0) us[s].push((performance.now() - t0) * 1e3);
      }
    }
  }
  return {
    available: true,
    hybrid: latency(us.hybrid),
    vector: latency(us.vector),
    text: latency(us.text),
    vectorMethod: c.searchEx(dir, vec(0), 10, { paths: false }).method.method,
  };
}

/** The installed version of npm package `name` (its package.json under node_modules), or "unknown". */
function pkgVersion(name: string): string {
  try {
    const url = new URL(`../node_modules/${name}/package.json`, import.meta.url);
    return JSON.parse(Deno.readTextFileSync(url)).version ?? "unknown";
  } catch {
    return "unknown";
  }
}

/** Runs the whole benchmark. */
export async function runTextBench(o: TextBenchOptions): Promise<TextBenchReport> {
  await loadPeers();
  const started = performance.now();
  const loadBefore = loadAverage();
  const work = Deno.makeTempDirSync({ dir: o.parentDir, prefix: "vexfs-bench-text-" });
  const machine: MachineInfo = o.describeMachine === false
    ? {
      date: new Date().toISOString(),
      hostname: Deno.hostname(),
      cpu: "unknown",
      cpus: navigator.hardwareConcurrency,
      memoryBytes: Deno.systemMemoryInfo().total,
      kernel: Deno.osRelease(),
      os: "unknown",
      dir: work,
      filesystem: "unknown",
      disk: "unknown",
      versions: { vexfs: o.version },
    }
    : await machineInfo(work, o.version);
  const notes: string[] = [];
  const corpora: CorpusReport[] = [];
  try {
    const ds = await loadFiori();
    const fiori = ds.docs.slice(0, o.fioriDocs ?? ds.docs.length);
    corpora.push(
      await runCorpus(
        o,
        work,
        "fiori",
        `@sap-ux/fiori-docs-embeddings: ${fiori.length} documentation chunks, 384-d embeddings`,
        fiori.map((d) => d.content),
        o.rounds,
        fiori.map((d) => d.vector),
      ),
    );
    if (o.genDocs > 0) {
      o.log(`generated: making ${o.genDocs} documents`);
      const texts = generatedCorpus({ docs: o.genDocs, seed: o.seed });
      corpora.push(
        await runCorpus(
          o,
          work,
          "generated",
          `${o.genDocs} generated documents: 50,000 pseudo-words, Zipf(1.1), log-normal lengths (median 300 ` +
            `tokens, σ 0.5), seed ${o.seed}`,
          texts,
          o.genRounds,
        ),
      );
    }
  } finally {
    if (!o.keep) Deno.removeSync(work, { recursive: true });
    else notes.push(`work directory kept: ${work}`);
  }
  const loadAfter = loadAverage();
  if ((loadBefore ?? 0) > machine.cpus || (loadAfter ?? 0) > machine.cpus) {
    notes.push(
      `the machine was busy: load average ${loadBefore?.toFixed(1)} before, ${loadAfter?.toFixed(1)} after, on ` +
        `${machine.cpus} CPUs; every system suffered alike (interleaved), absolute times are inflated`,
    );
  }
  const { log: _l, version: _v, command: _c, describeMachine: _d, ...settings } = o;
  return {
    date: machine.date,
    command: o.command,
    machine,
    loadBefore,
    loadAfter,
    settings,
    versions: { ...machine.versions, minisearch: pkgVersion("minisearch"), "@orama/orama": pkgVersion("@orama/orama") },
    corpora,
    seconds: (performance.now() - started) / 1e3,
    notes,
  };
}
