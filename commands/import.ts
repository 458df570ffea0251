/**
 * `vexfs import`: fill a directory of an image from a host directory tree or
 * from a JSONL dataset, setting vectors and creating the collection if needed.
 * @module
 */
import type { Command } from "commander";
import { formatBytes } from "../src/device/probe.ts";
import { type ImportRecord, readJsonlFile, relativeFilePath } from "../src/data/jsonl.ts";
import { FsError } from "../src/errors.ts";
import { parseVectorText, vectorFromArray } from "../src/vector/codec.ts";
import { type ElemType, type Metric, parseElemType, parseMetric } from "../src/vector/types.ts";
import { type CollectionView, type FsBackend, withTarget } from "./backend.ts";
import { DEFAULT_METRIC, DEFAULT_TYPE } from "./collection.ts";
import {
  action,
  c,
  CliError,
  defineCommand,
  errorMessage,
  examples,
  formatMs,
  fsPath,
  kvTable,
  positiveInt,
  printJson,
  progress,
  say,
  warn,
  yielder,
} from "./util.ts";

interface ImportFlags {
  fromDir?: string;
  vectorsFromJsonl?: string;
  jsonl?: string;
  dim?: number;
  metric?: string;
  type?: string;
  json?: boolean;
  quiet?: boolean;
}

/** What an import did. */
export interface ImportSummary {
  dir: string;
  source: string;
  dirsCreated: number;
  files: number;
  bytes: number;
  vectors: number;
  /** host entries that were neither files nor directories (symlinks, devices) */
  skipped: number;
  /** JSONL records that matched no file (directory import) */
  unmatched: number;
  collection: CollectionView | null;
  collectionCreated: boolean;
  elapsedMs: number;
}

interface CollectionWish {
  dim?: number;
  metric?: Metric;
  elem?: ElemType;
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
  });
  return { coll, created: true };
}

/** Refuses an existing collection whose parameters differ from those asked for explicitly. */
function checkWish(dir: string, have: CollectionView, want: CollectionWish): void {
  const bad: string[] = [];
  if (want.dim !== undefined && want.dim !== have.dim) {
    bad.push(`dimension ${have.dim}, not ${want.dim}`);
  }
  if (want.metric !== undefined && want.metric !== have.metric) {
    bad.push(`metric ${have.metric}, not ${want.metric}`);
  }
  if (want.elem !== undefined && want.elem !== have.elem) {
    bad.push(`type ${have.elem}, not ${want.elem}`);
  }
  if (bad.length) {
    throw new CliError(
      `${fsPath(dir)} is in collection ${have.id} (${have.path}) with ${bad.join(", ")}`,
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
 * @returns the last line holding a record
 */
async function checkJsonl(
  file: string,
  dim: number | undefined,
  each: (rec: ImportRecord) => void = () => {},
): Promise<number> {
  let lines = 0;
  try {
    for await (const rec of readJsonlFile(file, { dim })) {
      lines = rec.line;
      each(rec);
    }
  } catch (e) {
    if (e instanceof FsError) throw e;
    throw new CliError(`cannot read ${file}: ${errorMessage(e).replace(`${file}: `, "")}`);
  }
  return lines;
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
    elapsedMs: 0,
  };
}

/** Imports a JSONL dataset of {path or id, text, vector} into `dir`. */
export async function importJsonl(
  b: FsBackend,
  dir: string,
  file: string,
  want: CollectionWish,
): Promise<ImportSummary> {
  const t0 = performance.now();
  const base = fsPath(dir);
  // Nothing is written until the whole file has been read and checked.
  const existing = await collectionAbove(b, base, want);
  const dim = existing?.dim ?? want.dim;
  const total = await checkJsonl(file, dim);
  const s = await newSummary(b, base, file);
  const bar = progress("importing", total, "records");
  const tick = yielder(256);
  const enc = new TextEncoder();
  try {
    for await (const rec of readJsonlFile(file, { dim })) {
      if (!s.collection) {
        const r = await ensureCollection(b, base, want, rec.vector.length);
        s.collection = r.coll;
        s.collectionCreated = r.created;
      }
      // checked by the parser: relative, no "..", no empty component, no NUL
      const rel = relativeFilePath(rec.path ?? rec.id!);
      const target = `${base === "/" ? "" : base}/${rel}`;
      try {
        if (rec.text !== undefined || !await b.stat(target)) {
          const data = enc.encode(rec.text ?? "");
          await b.writeFile(target, data, { parents: true });
          s.files++;
          s.bytes += data.length;
        }
        await b.setVector(target, rec.vector);
      } catch (e) {
        throw new CliError(
          `${file} line ${rec.line}: ${errorMessage(e)} (lines before it stay imported; ` +
            `running the import again is safe)`,
        );
      }
      s.vectors++;
      bar.update(rec.line);
      await tick();
    }
  } finally {
    bar.stop();
  }
  if (s.collection) s.collection = await b.collectionOfDir(base);
  s.elapsedMs = performance.now() - t0;
  return s;
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
): Promise<ImportSummary> {
  const t0 = performance.now();
  const base = fsPath(dir);
  // Nothing is written until the tree has been listed and the JSONL file read and checked.
  const entries = await walk(hostDir);
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
  const bar = progress("importing", files, "files");
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
    `Imported ${s.files} file${s.files === 1 ? "" : "s"} (${formatBytes(s.bytes)}) and ${s.vectors} vector${
      s.vectors === 1 ? "" : "s"
    } into ${s.dir} in ${formatMs(s.elapsedMs)}`,
  );
  const rows: [string, string | number][] = [
    ["source", s.source],
    ["directories created", s.dirsCreated],
    ["files written", s.files],
    ["bytes written", `${formatBytes(s.bytes)} (${s.bytes})`],
    ["vectors set", s.vectors],
  ];
  if (s.skipped) rows.push(["skipped (not files)", s.skipped]);
  if (s.unmatched) rows.push(["JSONL records without a file", s.unmatched]);
  if (s.collection) {
    const x = s.collection;
    rows.push([
      "collection",
      `${x.id} at ${x.path} (${
        s.collectionCreated ? "created; " : ""
      }${x.dim}-d ${x.metric} ${x.elem}, ${x.count} vectors)`,
    ]);
  }
  rows.push(["time", formatMs(s.elapsedMs)]);
  rows.push([
    "rate",
    `${(s.files / Math.max(s.elapsedMs / 1000, 1e-6)).toFixed(0)} files/s`,
  ]);
  say(kvTable(rows));
}

/** Registers `vexfs import`. */
export function register(program: Command): void {
  const cmd = defineCommand(
    program,
    "import",
    "import files and vectors into a directory of an unmounted image",
  )
    .argument(
      "<target>",
      "image file or device (IMAGE), or a path on a mounted VexFS (then leave out the next argument)",
    )
    .argument(
      "[dir]",
      "destination directory inside the filesystem (created if missing)",
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
    .option("--json", "print the summary as JSON")
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
        const want: CollectionWish = {
          dim: o.dim,
          metric: o.metric === undefined ? undefined : parseMetric(o.metric),
          elem: o.type === undefined ? undefined : parseElemType(o.type),
        };
        const s = await withTarget(
          image,
          dirArg,
          true,
          (b, dir) =>
            o.jsonl !== undefined
              ? importJsonl(b, dir, o.jsonl, want)
              : importDir(b, dir, o.fromDir!, o.vectorsFromJsonl, want),
        );
        if (o.json) {
          printJson({
            ...s,
            collection: s.collection &&
              {
                id: s.collection.id,
                root: s.collection.path,
                dim: s.collection.dim,
                metric: s.collection.metric,
                type: s.collection.elem,
                count: s.collection.count,
              },
          });
        } else printSummary(s);
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
first vector's dimension), --metric and --type. If it is, vectors must match
its dimension. Existing files with the same names are replaced.

Sidecar file (--from-dir): notes.md.vec.json holds a JSON array [0.1, ...]
or an object {"vector": [...]}; sidecars themselves are not copied.
JSONL (--jsonl): {"path": "guides/intro.md", "text": "...", "vector": [...]};
"id" names the file when "path" is absent; paths are relative to DIR and
must stay inside it: a path that is absolute or has a ".." or empty
component, or a NUL, is refused with its line number.

What a failure leaves behind: the input (JSONL file, host tree, sidecars)
is read and checked in full before anything is written, so a missing file,
a malformed line, a wrong dimension or an unsafe path changes nothing, not
even DIR. A failure while writing (no space left, a value the collection's
type cannot hold) stops at that line or file: those before it stay
imported. Running the same import again is safe: it replaces the files and
vectors it already wrote.`,
  );
  examples(cmd, [
    "vexfs import disk.img /docs --jsonl corpus.jsonl",
    "vexfs import disk.img /docs --jsonl corpus.jsonl --metric l2 --type f16",
    "vexfs import disk.img /photos --from-dir ~/photos                   # sidecars photo.jpg.vec.json",
    "vexfs import disk.img /notes --from-dir ./notes --vectors-from-jsonl notes-embeddings.jsonl",
  ]);
}
