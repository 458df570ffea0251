/**
 * `vexfs import`: fill a directory of an image from a host directory tree or
 * from a JSONL dataset, setting vectors and creating the collection if needed.
 *
 * A JSONL import reads and checks its input once, keeping the records in
 * memory (up to {@link KEEP_RECORDS_BYTES} of input; a larger file is
 * parsed again while writing), then writes the files and sets the vectors
 * in batches: offline in one engine operation per {@link OFFLINE_BATCH}
 * records (`Collections.setVectors`), on a mount with
 * `VEXFS_IOC_SET_VECTORS` (docs/IOCTL.md §3.10), up to 31 128-d vectors a
 * call, after writing each window of files through the kernel
 * {@link MOUNT_WRITERS} at a time.
 * @module
 */
import type { Command } from "commander";
import { dirname } from "node:path";
import { type ImportRecord, readJsonlFile, relativeFilePath } from "../src/data/jsonl.ts";
import { type CollectionSettings, readJsonlSettings } from "../src/data/jsonl_settings.ts";
import { xattrOfField } from "../src/data/export.ts";
import { FsError } from "../src/errors.ts";
import { setxattr } from "../src/mount/_posix.ts";
import { S_IFMT, S_IFREG } from "../src/format/constants.ts";
import { BatchItemError, BatchSetter } from "../src/ioctl/client.ts";
import { parseVectorText, validateVector, vectorFromArray } from "../src/vector/codec.ts";
import { type ElemType, type Metric, parseElemType, parseMetric } from "../src/vector/types.ts";
import { type CollectionView, type FsBackend, OfflineBackend, withTarget } from "./backend.ts";
import { MountedBackend } from "./mounted.ts";
import { DEFAULT_METRIC, DEFAULT_TYPE } from "./collection.ts";
import {
  action,
  c,
  CliError,
  defineCommand,
  errorMessage,
  examples,
  formatBytes,
  formatCount,
  formatDuration,
  formatRate,
  fsPath,
  kvTable,
  positiveInt,
  progress,
  say,
  warn,
  yielder,
} from "./util.ts";
import { collectionJson, printJsonResult, roundMs } from "./json.ts";

interface ImportFlags {
  fromDir?: string;
  vectorsFromJsonl?: string;
  jsonl?: string;
  dim?: number;
  metric?: string;
  type?: string;
  index?: string;
  json?: boolean;
  quiet?: boolean;
}

/** JSONL inputs up to this size are parsed once and kept in memory; larger ones are parsed again to write. */
export const KEEP_RECORDS_BYTES = 2 ** 31;
/** Records whose vectors one offline engine operation sets. */
export const OFFLINE_BATCH = 4096;
/** Files a mounted import writes through the kernel at once (FUSE pipelines their requests). */
export const MOUNT_WRITERS = 16;
/** Records a mounted import writes before it sets their vectors. */
const MOUNT_WINDOW = 1024;

/** What an import did. */
export interface ImportSummary {
  /** the directory imported into (a path in the filesystem, or on the mount) */
  dir: string;
  /** the JSONL file or host directory imported */
  source: string;
  /** directories created (the target itself when it was missing) */
  dirsCreated: number;
  /** files written (created, or replaced by a record's text) */
  files: number;
  /** bytes of the files written */
  bytes: number;
  /** vectors set */
  vectors: number;
  /** host entries that were neither files nor directories (symlinks, devices) */
  skipped: number;
  /** JSONL records that matched no file (directory import) */
  unmatched: number;
  /** the collection the vectors went to, as it is after the import (null when no vector was set) */
  collection: CollectionView | null;
  /** whether the import created it */
  collectionCreated: boolean;
  /**
   * How the vectors were set: engine operations (offline) or
   * `SET_VECTORS` calls (on a mount) that set many at once; 0 when they
   * were set one by one (a directory import, or a daemon without
   * `SET_VECTORS`)
   */
  vectorBatches: number;
  /** wall-clock time of the import, reading the input included */
  elapsedMs: number;
}

interface CollectionWish {
  dim?: number;
  metric?: Metric;
  elem?: ElemType;
  /** index of a collection the import creates (the engine's default: hnsw) */
  index?: "hnsw" | "flat";
  /** HNSW M, efConstruction and default search ef of a collection the import creates (from a JSONL header) */
  m?: number;
  efConstruction?: number;
  efSearch?: number;
  /** the settings that came from the JSONL header rather than an option (for messages) */
  fromHeader?: Set<"dim" | "metric" | "elem">;
}

/**
 * The wish of the command-line options completed by a JSONL collection
 * header (docs/JSONL.md): an option wins over the header; the header's HNSW
 * parameters apply unless the index is flat.
 */
function withHeader(want: CollectionWish, h: CollectionSettings | null): CollectionWish {
  if (!h) return want;
  const fromHeader = new Set<"dim" | "metric" | "elem">();
  const pick = <K extends "dim" | "metric" | "elem">(k: K, v: CollectionWish[K]): CollectionWish[K] => {
    if (want[k] !== undefined) return want[k];
    if (v !== undefined) fromHeader.add(k);
    return v;
  };
  const out: CollectionWish = {
    dim: pick("dim", h.dim),
    metric: pick("metric", h.metric),
    elem: pick("elem", h.elem),
    index: want.index ?? h.index,
    fromHeader,
  };
  if (out.index !== "flat") {
    if (h.m !== undefined) out.m = h.m;
    if (h.efConstruction !== undefined) out.efConstruction = h.efConstruction;
    if (h.efSearch) out.efSearch = h.efSearch;
  }
  return out;
}

/** The collection header of JSONL file `file`, or null (none, or the file cannot be read: the full read says why). */
async function headerOf(file: string): Promise<CollectionSettings | null> {
  try {
    return await readJsonlSettings(file);
  } catch (e) {
    if (e instanceof FsError) throw e;
    return null;
  }
}

/**
 * Makes sure `dir` is in a collection: returns the existing one (checking
 * explicitly requested parameters) or creates one with `dim` (given, or
 * inferred from the first vector).
 */
async function ensureCollection(
  b: FsBackend,
  dir: string,
  want: CollectionWish,
  firstDim: number | undefined,
): Promise<{ coll: CollectionView; created: boolean }> {
  const have = await b.collectionOfDir(dir);
  if (have) {
    checkWish(dir, have, want);
    return { coll: have, created: false };
  }
  const dim = want.dim ?? firstDim;
  if (dim === undefined) {
    throw new CliError(
      `${fsPath(dir)} is not in a collection and there is no vector to infer the dimension from; give --dim`,
    );
  }
  const coll = await b.createCollection(dir, {
    dim,
    metric: want.metric ?? DEFAULT_METRIC,
    elem: want.elem ?? DEFAULT_TYPE,
    ...(want.index ? { index: want.index } : {}),
    ...(want.index !== "flat" && want.m !== undefined ? { m: want.m } : {}),
    ...(want.index !== "flat" && want.efConstruction !== undefined ? { efConstruction: want.efConstruction } : {}),
    ...(want.index !== "flat" && want.efSearch ? { efSearch: want.efSearch } : {}),
  });
  return { coll, created: true };
}

/** Refuses an existing collection whose parameters differ from those asked for (by an option or a JSONL header). */
function checkWish(dir: string, have: CollectionView, want: CollectionWish): void {
  const bad: string[] = [];
  const headerSaid: string[] = [];
  const differs = (k: "dim" | "metric" | "elem", what: string, mine: unknown, theirs: unknown) => {
    if (mine === undefined || mine === theirs) return;
    bad.push(`${what} ${theirs}, not ${mine}`);
    if (want.fromHeader?.has(k)) headerSaid.push(what);
  };
  differs("dim", "dimension", want.dim, have.dim);
  differs("metric", "metric", want.metric, have.metric);
  differs("elem", "type", want.elem, have.elem);
  if (bad.length) {
    const header = headerSaid.length
      ? ` (the ${headerSaid.join(" and ")} asked for by the JSONL file's collection header; ` +
        `--metric and --type override the header's)`
      : "";
    throw new CliError(
      `${fsPath(dir)} is in collection ${have.id} (${have.path}) with ${bad.join(", ")}${header}`,
    );
  }
}

/**
 * The collection `dir` is in, or will be in once created: that of `dir`, or
 * of its nearest existing ancestor (a new directory joins its parent's
 * collection). Changes nothing; checks the explicitly requested parameters.
 */
async function collectionAbove(b: FsBackend, dir: string, want: CollectionWish): Promise<CollectionView | null> {
  let d = fsPath(dir);
  for (;;) {
    const st = await b.stat(d);
    if (st) {
      if (st.type !== "dir" && st.type !== "symlink") throw new CliError(`${d} exists and is not a directory`);
      const have = await b.collectionOfDir(d);
      if (have) checkWish(dir, have, want);
      return have;
    }
    if (d === "/") return null;
    d = d.slice(0, d.lastIndexOf("/")) || "/";
  }
}

/**
 * Reads the whole JSONL file once, writing nothing, so that a missing file,
 * malformed line, wrong dimension or unsafe path is refused before the
 * import changes anything.
 * @param each called with every record
 * @returns the number of records
 */
async function checkJsonl(
  file: string,
  dim: number | undefined,
  each: ((rec: ImportRecord) => void) | undefined = undefined,
): Promise<number> {
  let records = 0;
  try {
    for await (const rec of readJsonlFile(file, { dim })) {
      records++;
      each?.(rec);
    }
  } catch (e) {
    if (e instanceof FsError) throw e;
    throw new CliError(`cannot read ${file}: ${errorMessage(e).replace(`${file}: `, "")}`);
  }
  return records;
}

/** An empty summary for an import into `base` from `source`; creates `base` (and parents) if missing. */
async function newSummary(b: FsBackend, base: string, source: string): Promise<ImportSummary> {
  return {
    dir: base,
    source,
    dirsCreated: await b.mkdirp(base) ? 1 : 0,
    files: 0,
    bytes: 0,
    vectors: 0,
    skipped: 0,
    unmatched: 0,
    collection: null,
    collectionCreated: false,
    vectorBatches: 0,
    elapsedMs: 0,
  };
}

/** One record on its way into the filesystem. */
interface Pending {
  line: number;
  /** path relative to the import's directory */
  rel: string;
  text?: string;
  vector: Float32Array;
  /** extra fields, kept as `user.<name>` xattrs ({@link xattrOfField}) */
  fields?: Record<string, unknown>;
}

/** The xattrs a record's extra fields become. */
function recordXattrs(r: Pending): { name: string; value: Uint8Array }[] {
  const out: { name: string; value: Uint8Array }[] = [];
  for (const [k, v] of Object.entries(r.fields ?? {})) {
    const x = xattrOfField(k, v);
    if (x) out.push(x);
  }
  return out;
}

/**
 * Where a JSONL import writes: the files of records and, in batches, their
 * vectors. `add` may write at once or queue; `flush` finishes what is
 * queued. A failure names the record's line.
 */
interface RecordSink {
  add(r: Pending): Promise<void>;
  flush(): Promise<void>;
}

/** The error of a record that could not be written, naming its line. */
function lineError(file: string, line: number | string, e: unknown): CliError {
  return new CliError(
    `${file} line ${line}: ${errorMessage(e)} (lines before it stay imported; running the import again is safe)`,
  );
}

/**
 * Offline: files through the engine directly (each parent directory
 * resolved once), vectors {@link OFFLINE_BATCH} at a time in one engine
 * operation.
 */
class OfflineSink implements RecordSink {
  #dirs = new Map<string, number>();
  #queue: { ino: number; vector: Float32Array; line: number }[] = [];
  #enc = new TextEncoder();
  constructor(readonly b: OfflineBackend, readonly base: string, readonly file: string, readonly s: ImportSummary) {}

  #dir(relDir: string): number {
    let ino = this.#dirs.get(relDir);
    if (ino === undefined) {
      const path = relDir === "" ? this.base : `${this.base === "/" ? "" : this.base}/${relDir}`;
      this.b.mkdirp(path);
      ino = this.b.resolve(path);
      this.#dirs.set(relDir, ino);
    }
    return ino;
  }

  add(r: Pending): Promise<void> {
    const fs = this.b.fs;
    try {
      const slash = r.rel.lastIndexOf("/");
      const dir = this.#dir(slash < 0 ? "" : r.rel.slice(0, slash));
      const name = r.rel.slice(slash + 1);
      let ino: number;
      let write = r.text !== undefined;
      try {
        ino = fs.create(dir, name);
        write = true;
      } catch (e) {
        if (!(e instanceof FsError && e.code === "EEXIST")) throw e;
        ino = fs.lookup(dir, name);
        if ((fs.getattr(ino).mode & S_IFMT) !== S_IFREG) {
          throw new CliError(`${r.rel} exists and is not a regular file`);
        }
        if (write) fs.truncate(ino, 0);
      }
      if (write) {
        const data = this.#enc.encode(r.text ?? "");
        if (data.length) fs.write(ino, 0, data);
        this.s.files++;
        this.s.bytes += data.length;
      }
      for (const x of recordXattrs(r)) fs.setxattr(ino, x.name, x.value);
      this.#queue.push({ ino, vector: r.vector, line: r.line });
    } catch (e) {
      throw lineError(this.file, r.line, e);
    }
    return this.#queue.length >= OFFLINE_BATCH ? this.flush() : Promise.resolve();
  }

  flush(): Promise<void> {
    const q = this.#queue;
    if (!q.length) return Promise.resolve();
    this.#queue = [];
    try {
      this.b.fs.collections.setVectors(q);
      this.s.vectorBatches++;
    } catch (e) {
      // values were checked before the files were written: what is left is the whole batch's (no space)
      throw lineError(this.file, `${q[0].line}..${q[q.length - 1].line}`, e);
    }
    this.s.vectors += q.length;
    return Promise.resolve();
  }
}

/**
 * On a mount: a window of files written through the kernel,
 * {@link MOUNT_WRITERS} at once, then their vectors through a
 * {@link BatchSetter} on the import's directory (`SET_VECTORS`, by inode
 * number); against a daemon older than `SET_VECTORS`, one `SET_VECTOR` per
 * file.
 */
class MountSink implements RecordSink {
  #window: Pending[] = [];
  #dirs = new Set<string>();
  #setter: BatchSetter | null = null;
  #batch = true;
  #enc = new TextEncoder();
  constructor(readonly b: MountedBackend, readonly base: string, readonly file: string, readonly s: ImportSummary) {}

  add(r: Pending): Promise<void> {
    this.#window.push(r);
    return this.#window.length >= MOUNT_WINDOW ? this.flush() : Promise.resolve();
  }

  #path(rel: string): string {
    return `${this.base === "/" ? "" : this.base}/${rel}`;
  }

  /** Writes the record's file (unless it exists and the record has no text) and returns its inode number. */
  async #write(r: Pending): Promise<number> {
    const ino = await this.#writeFile(r);
    for (const x of recordXattrs(r)) setxattr(this.#path(r.rel), x.name, x.value);
    return ino;
  }

  async #writeFile(r: Pending): Promise<number> {
    const path = this.#path(r.rel);
    const dir = dirname(path);
    if (!this.#dirs.has(dir)) {
      await Deno.mkdir(dir, { recursive: true });
      this.#dirs.add(dir);
    }
    if (r.text === undefined) {
      try {
        const st = await Deno.lstat(path);
        if (!st.isFile) throw new CliError(`${path} exists and is not a regular file`);
        return st.ino!;
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
    const data = this.#enc.encode(r.text ?? "");
    const f = await Deno.open(path, { write: true, create: true, truncate: true });
    try {
      let off = 0;
      while (off < data.length) off += await f.write(data.subarray(off));
      const ino = (await f.stat()).ino!;
      this.s.files++;
      this.s.bytes += data.length;
      return ino;
    } finally {
      f.close();
    }
  }

  async flush(): Promise<void> {
    const w = this.#window;
    if (!w.length) return;
    this.#window = [];
    const inos = new Array<number>(w.length);
    let next = 0;
    let failAt = w.length;
    let failErr: unknown;
    const worker = async () => {
      for (let i = next++; i < w.length && failAt === w.length; i = next++) {
        try {
          inos[i] = await this.#write(w[i]);
        } catch (e) {
          if (i < failAt) [failAt, failErr] = [i, e];
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(MOUNT_WRITERS, w.length) }, worker));
    // the vectors of the records before a failed one are set, as when writing one by one
    await this.#vectors(w.slice(0, failAt), inos.slice(0, failAt));
    if (failAt < w.length) throw lineError(this.file, w[failAt].line, failErr);
  }

  async #vectors(recs: Pending[], inos: number[]): Promise<void> {
    if (!recs.length) return;
    if (this.#batch) {
      try {
        this.#setter ??= await BatchSetter.open(this.base);
        const calls = this.#setter.calls;
        try {
          await this.#setter.set(recs.map((r, i) => ({ ino: inos[i], vector: r.vector })));
        } catch (e) {
          if (e instanceof BatchItemError) this.s.vectorBatches += this.#setter.calls - calls;
          throw e;
        }
        this.s.vectorBatches += this.#setter.calls - calls;
        this.s.vectors += recs.length;
        return;
      } catch (e) {
        if (e instanceof BatchItemError) {
          this.s.vectors += e.index;
          const r = recs[e.index];
          throw lineError(this.file, r.line, new Error(`${this.#path(r.rel)}: ${e.detail.replace(/^item \d+ /, "")}`));
        }
        if (!(e instanceof FsError && (e.code as string) === "ENOTTY")) throw e;
        this.#batch = false; // an older daemon: one SET_VECTOR a file
      }
    }
    for (const r of recs) {
      try {
        await this.b.setVector(this.#path(r.rel), r.vector);
      } catch (e) {
        throw lineError(this.file, r.line, e);
      }
      this.s.vectors++;
    }
  }

  async close(): Promise<void> {
    await this.#setter?.close();
  }
}

/** Any other backend: one file and one vector at a time, through its methods. */
class GenericSink implements RecordSink {
  #enc = new TextEncoder();
  constructor(readonly b: FsBackend, readonly base: string, readonly file: string, readonly s: ImportSummary) {}

  async add(r: Pending): Promise<void> {
    const target = `${this.base === "/" ? "" : this.base}/${r.rel}`;
    try {
      if (r.text !== undefined || !await this.b.stat(target)) {
        const data = this.#enc.encode(r.text ?? "");
        await this.b.writeFile(target, data, { parents: true });
        this.s.files++;
        this.s.bytes += data.length;
      }
      if (r.fields) throw new CliError("extra fields (xattrs) are only imported into an image or a mount");
      await this.b.setVector(target, r.vector);
    } catch (e) {
      throw lineError(this.file, r.line, e);
    }
    this.s.vectors++;
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * The records of a JSONL file, read and checked in full: kept in memory
 * when the file is at most {@link KEEP_RECORDS_BYTES}, else parsed again
 * (after the check pass) while writing.
 */
async function loadRecords(
  file: string,
  dim: number | undefined,
  quiet: boolean,
): Promise<{ total: number; records: () => AsyncIterable<ImportRecord> | Iterable<ImportRecord> }> {
  let size = 0;
  try {
    size = (await Deno.stat(file)).size;
  } catch { /* checkJsonl says why */ }
  const keep = size <= KEEP_RECORDS_BYTES;
  const kept: ImportRecord[] = [];
  // the check pass of a large file takes a while too: records read so far and their rate (the total is not known yet)
  const bar = progress("import: checking", 0, { unit: "records", quiet });
  let n = 0;
  let total: number;
  try {
    total = await checkJsonl(file, dim, (r) => {
      if (keep) kept.push(r);
      if (++n % 256 === 0) bar.update(n);
    });
    bar.update(n);
  } finally {
    bar.stop();
  }
  return { total, records: () => keep ? kept : readJsonlFile(file, { dim }) };
}

/** Imports a JSONL dataset of {path or id, text, vector} into `dir`; progress on stderr unless `quiet`. */
export async function importJsonl(
  b: FsBackend,
  dir: string,
  file: string,
  want: CollectionWish,
  quiet = false,
): Promise<ImportSummary> {
  const t0 = performance.now();
  const base = fsPath(dir);
  want = withHeader(want, await headerOf(file));
  // Nothing is written until the whole file has been read and checked.
  const existing = await collectionAbove(b, base, want);
  const dim = existing?.dim ?? want.dim;
  const { total, records } = await loadRecords(file, dim, quiet);
  const s = await newSummary(b, base, file);
  const bar = progress("import", total, { unit: "records", quiet });
  let done = 0;
  const tick = yielder(256);
  const sink: RecordSink = b instanceof OfflineBackend
    ? new OfflineSink(b, base, file, s)
    : b instanceof MountedBackend
    ? new MountSink(b, base, file, s)
    : new GenericSink(b, base, file, s);
  try {
    try {
      await importRecords();
    } catch (e) {
      // the records before the failing one stay imported: finish what is queued
      await sink.flush().catch(() => {});
      throw e;
    }
    await sink.flush();
  } finally {
    bar.stop();
    if (sink instanceof MountSink) await sink.close();
  }
  if (s.collection) s.collection = await b.collectionOfDir(base);
  s.elapsedMs = performance.now() - t0;
  return s;

  async function importRecords(): Promise<void> {
    for await (const rec of records()) {
      if (!s.collection) {
        const r = await ensureCollection(b, base, want, rec.vector.length);
        s.collection = r.coll;
        s.collectionCreated = r.created;
      }
      try {
        // a value the collection's type cannot hold is refused before its file is written
        validateVector(rec.vector, s.collection.elem);
      } catch (e) {
        throw lineError(file, rec.line, e);
      }
      // checked by the parser: relative, no "..", no empty component, no NUL
      await sink.add({
        line: rec.line,
        rel: relativeFilePath(rec.path ?? rec.id!),
        text: rec.text,
        vector: rec.vector,
        fields: rec.fields,
      });
      bar.update(++done);
      await tick();
    }
  }
}

interface HostEntry {
  rel: string;
  host: string;
  kind: "file" | "dir" | "other";
  size: number;
}

async function walk(root: string): Promise<HostEntry[]> {
  const out: HostEntry[] = [];
  const rec = async (hostDir: string, rel: string) => {
    const names: Deno.DirEntry[] = [];
    for await (const e of Deno.readDir(hostDir)) names.push(e);
    names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of names) {
      const host = `${hostDir}/${e.name}`;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) {
        out.push({ rel: r, host, kind: "dir", size: 0 });
        await rec(host, r);
      } else if (e.isFile) {
        if (e.name.endsWith(".vec.json")) continue; // sidecar: read with its file
        out.push({
          rel: r,
          host,
          kind: "file",
          size: (await Deno.stat(host)).size,
        });
      } else out.push({ rel: r, host, kind: "other", size: 0 });
    }
  };
  try {
    const st = await Deno.stat(root);
    if (!st.isDirectory) throw new CliError(`${root} is not a directory`);
    await rec(root.replace(/\/+$/, "") || "/", "");
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot read ${root}: ${errorMessage(e)}`);
  }
  return out;
}

async function sidecarVector(host: string): Promise<Float32Array | undefined> {
  const p = `${host}.vec.json`;
  let text: string;
  try {
    text = await Deno.readTextFile(p);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new CliError(`cannot read ${p}: ${errorMessage(e)}`);
  }
  try {
    const t = text.trim();
    if (t.startsWith("{")) {
      return vectorFromArray(
        (JSON.parse(t) as { vector?: unknown }).vector,
        undefined,
        `${p}: "vector"`,
      );
    }
    return parseVectorText(t);
  } catch (e) {
    throw new CliError(`${p}: ${errorMessage(e)}`);
  }
}

/** Imports a host directory tree into `dir`, with vectors from sidecars or a JSONL file. */
export async function importDir(
  b: FsBackend,
  dir: string,
  hostDir: string,
  jsonl: string | undefined,
  want: CollectionWish,
  quiet = false,
): Promise<ImportSummary> {
  const t0 = performance.now();
  const base = fsPath(dir);
  // Nothing is written until the tree has been listed and the JSONL file read and checked.
  const entries = await walk(hostDir);
  if (jsonl) want = withHeader(want, await headerOf(jsonl));
  const existing = await collectionAbove(b, base, want);
  const byKey = new Map<string, { v: Float32Array; line: number }>();
  if (jsonl) {
    await checkJsonl(jsonl, existing?.dim ?? want.dim, (r) => {
      byKey.set(relativeFilePath(r.path ?? r.id!), { v: r.vector, line: r.line });
    });
  }
  // vectors per file: the sidecar wins over the JSONL record
  const vectors = new Map<string, Float32Array>();
  const used = new Set<string>();
  let firstDim: number | undefined;
  for (const e of entries) {
    if (e.kind !== "file") continue;
    const v = (await sidecarVector(e.host)) ?? byKey.get(e.rel)?.v;
    if (byKey.has(e.rel)) used.add(e.rel);
    if (v) {
      vectors.set(e.rel, v);
      firstDim ??= v.length;
    }
  }
  const s = await newSummary(b, base, hostDir);
  for (const k of byKey.keys()) if (!used.has(k)) s.unmatched++;
  if (vectors.size || want.dim !== undefined) {
    const r = await ensureCollection(b, base, want, firstDim);
    s.collection = r.coll;
    s.collectionCreated = r.created;
  }
  const prefix = base === "/" ? "" : base;
  const files = entries.filter((e) => e.kind === "file").length;
  const bar = progress("import", files, { unit: "files", quiet });
  const tick = yielder(32);
  try {
    for (const e of entries) {
      const target = `${prefix}/${e.rel}`;
      if (e.kind === "dir") {
        if (await b.mkdirp(target)) s.dirsCreated++;
        continue;
      }
      if (e.kind === "other") {
        s.skipped++;
        continue;
      }
      const f = await Deno.open(e.host, { read: true });
      try {
        await b.writeFile(target, f.readable);
      } finally {
        try {
          f.close();
        } catch { /* closed by the stream */ }
      }
      s.files++;
      s.bytes += e.size;
      const v = vectors.get(e.rel);
      if (v) {
        try {
          await b.setVector(target, v);
        } catch (err) {
          throw new CliError(`vector of ${e.host}: ${errorMessage(err)}`);
        }
        s.vectors++;
      }
      bar.increment();
      await tick();
    }
  } finally {
    bar.stop();
  }
  if (s.collection) s.collection = await b.collectionOfDir(base);
  s.elapsedMs = performance.now() - t0;
  return s;
}

/** Prints an import summary. */
export function printSummary(s: ImportSummary): void {
  say(
    `Imported ${formatCount(s.files)} file${s.files === 1 ? "" : "s"} (${formatBytes(s.bytes)}) and ${
      formatCount(s.vectors)
    } vector${s.vectors === 1 ? "" : "s"} into ${s.dir} in ${formatDuration(s.elapsedMs)}`,
  );
  const rows: [string, string | number][] = [
    ["source", s.source],
    ["directories created", formatCount(s.dirsCreated)],
    ["files written", formatCount(s.files)],
    ["bytes written", `${formatBytes(s.bytes)} (${formatCount(s.bytes)} bytes)`],
    ["vectors set", formatCount(s.vectors)],
  ];
  if (s.skipped) rows.push(["skipped (not files)", formatCount(s.skipped)]);
  if (s.unmatched) rows.push(["JSONL records without a file", formatCount(s.unmatched)]);
  if (s.collection) {
    const x = s.collection;
    rows.push([
      "collection",
      `${x.id} at ${x.path} (${s.collectionCreated ? "created; " : ""}${x.dim}-d ${x.metric} ${x.elem}, ${
        formatCount(x.count)
      } vectors)`,
    ]);
  }
  if (s.vectorBatches) {
    rows.push([
      "vector batches",
      `${formatCount(s.vectorBatches)} (${(s.vectors / s.vectorBatches).toFixed(1)} a batch)`,
    ]);
  }
  rows.push(["time", formatDuration(s.elapsedMs)]);
  rows.push([
    "rate",
    formatRate(s.files, s.elapsedMs, "files") + (s.vectors ? `, ${formatRate(s.vectors, s.elapsedMs, "vectors")}` : ""),
  ]);
  say(kvTable(rows));
}

/** Registers `vexfs import`. */
export function register(program: Command): void {
  const cmd = defineCommand(
    program,
    "import",
    "import files and vectors into a directory of an image, a device or a mounted VexFS",
  )
    .argument(
      "<target>",
      "image file or device (IMAGE), or a path on a mounted VexFS (then leave out the next argument)",
    )
    .argument(
      "[dir]",
      "destination directory inside IMAGE (created, with missing parents, if it does not exist)",
    )
    .option(
      "--from-dir <hostdir>",
      "copy this host directory tree; a file's vector comes from a sidecar <file>.vec.json",
    )
    .option(
      "--vectors-from-jsonl <file>",
      "with --from-dir: vectors from a JSONL file of {path, vector} (path relative to HOSTDIR)",
    )
    .option(
      "--jsonl <file>",
      "import a JSONL dataset: one {path or id, text, vector} per line; text becomes the file's content",
    )
    .option(
      "-d, --dim <n>",
      "dimension of the collection to create (default: that of the first vector)",
      positiveInt("--dim"),
    )
    .option(
      "-m, --metric <metric>",
      `metric of a new collection: l2, cosine or ip (default ${DEFAULT_METRIC})`,
    )
    .option(
      "-t, --type <type>",
      `element type of a new collection: f32, f16 or i8 (default ${DEFAULT_TYPE})`,
    )
    .option("--index <kind>", "index of a collection the import creates: hnsw (the default) or flat")
    .option("--json", "print the summary as JSON")
    .option("-q, --quiet", "no progress on stderr and no summary (errors, and --json, still print)")
    .action(
      action("import", async (image: string, dirArg: string | undefined, o: ImportFlags) => {
        if ((o.fromDir === undefined) === (o.jsonl === undefined)) {
          throw new CliError(
            "give exactly one source: --from-dir HOSTDIR or --jsonl FILE",
          );
        }
        if (o.vectorsFromJsonl !== undefined && o.fromDir === undefined) {
          throw new CliError("--vectors-from-jsonl needs --from-dir");
        }
        if (o.index !== undefined && o.index !== "hnsw" && o.index !== "flat") {
          throw new CliError(`--index must be hnsw or flat, not '${o.index}'`);
        }
        const want: CollectionWish = {
          dim: o.dim,
          metric: o.metric === undefined ? undefined : parseMetric(o.metric),
          elem: o.type === undefined ? undefined : parseElemType(o.type),
          index: o.index as "hnsw" | "flat" | undefined,
        };
        const s = await withTarget(
          image,
          dirArg,
          true,
          (b, dir) =>
            o.jsonl !== undefined
              ? importJsonl(b, dir, o.jsonl, want, !!o.quiet)
              : importDir(b, dir, o.fromDir!, o.vectorsFromJsonl, want, !!o.quiet),
          { mayNotExist: true }, // the destination is created if missing, on a mount as offline
        );
        if (o.json) {
          printJsonResult("import", {
            path: s.dir,
            source: s.source,
            dirs_created: s.dirsCreated,
            files: s.files,
            written_bytes: s.bytes,
            vectors: s.vectors,
            skipped: s.skipped,
            unmatched: s.unmatched,
            collection: s.collection && collectionJson(s.collection),
            collection_created: s.collectionCreated,
            vector_batches: s.vectorBatches,
            elapsed_ms: roundMs(s.elapsedMs),
          });
        } else if (!o.quiet) printSummary(s);
        if (s.unmatched) {
          warn(
            `${c.yellow("note")}: ${s.unmatched} JSONL record(s) matched no file under ${o.fromDir}`,
          );
        }
      }),
    );
  cmd.addHelpText(
    "after",
    `
If DIR is not inside a collection, one is created at DIR with --dim (or the
first vector's dimension), --metric and --type. A JSONL file that starts
with a collection header ({"vexfs_collection": {"dim": ..., "metric": ...}},
as 'vexfs export' writes it) gives those settings and the index's (M,
efConstruction, ef); options given on the command line win. If DIR is in a
collection, vectors must match its dimension, and a metric, type or
dimension asked for (by an option or the header) must be the collection's.
Existing files with the same names are replaced.

Sidecar file (--from-dir): notes.md.vec.json holds a JSON array [0.1, ...]
or an object {"vector": [...]}; sidecars themselves are not copied.
JSONL (--jsonl): {"path": "guides/intro.md", "text": "...", "vector": [...]};
"id" names the file when "path" is absent; any other field is kept as
an xattr: "lang": "en" becomes user.lang = "en" (a non-string value is
stored as its JSON text, null is skipped; docs/JSONL.md); paths are relative to DIR and
must stay inside it: a path that is absolute or has a ".." or empty
component, or a NUL, is refused with its line number.

What a failure leaves behind: the input (JSONL file, host tree, sidecars)
is read and checked in full before anything is written, so a missing file,
a malformed line, a wrong dimension or an unsafe path changes nothing, not
even DIR. A failure while writing (no space left, a value the collection's
type cannot hold) stops at that line or file: those before it stay
imported (files are written a batch ahead of their vectors, so files of a
few later lines may exist without theirs). Running the same import again
is safe: it replaces the files and vectors it already wrote.

On a mount, files are written through the kernel and vectors set in
batches with the VEXFS_IOC_SET_VECTORS ioctl (one SET_VECTOR per file on
an older daemon); offline, straight into the image. On a mount, TARGET is
the destination directory itself; it and missing parents are created as
offline.

Progress (records or files, rate, ETA) goes to stderr: a bar on a terminal,
a plain line every 5 s otherwise (see 'vexfs --help', VEXFS_PROGRESS); -q
silences it and the summary.`,
  );
  examples(cmd, [
    "vexfs import disk.img /docs --jsonl corpus.jsonl",
    "vexfs import disk.img /docs --jsonl corpus.jsonl --metric l2 --type f16",
    "vexfs import disk.img /photos --from-dir ~/photos                   # sidecars photo.jpg.vec.json",
    "vexfs import disk.img /notes --from-dir ./notes --vectors-from-jsonl notes-embeddings.jsonl",
  ]);
}
