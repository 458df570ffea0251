/**
 * `vexfs search`: exact top-k similarity search in a collection.
 * @module
 */
import { type Command, InvalidArgumentError } from "commander";
import { type FsBackend, type HybridQuery, type HybridResult, withTarget } from "./backend.ts";
import { resolve } from "node:path";
import { OfflineBackend } from "./backend.ts";
import {
  action,
  c,
  CliError,
  defineCommand,
  examples,
  formatCount,
  formatDuration,
  formatRate,
  fsPath,
  positiveInt,
  say,
  table,
} from "./util.ts";
import {
  collectionJson,
  hitsJson,
  hybridHitsJson,
  hybridMethodJson,
  jsonLine,
  printJsonResult,
  roundMs,
  searchMethodJson,
} from "./json.ts";
import type { SearchMethod } from "../src/fs/vectors.ts";
import { FsError } from "../src/errors.ts";
import { formatWhere, parseWhere, type Where } from "../src/search/where.ts";
import { vectorFromOptions, type VectorSource } from "./vector.ts";

interface SearchFlags extends VectorSource {
  topK: number;
  like?: string;
  json?: boolean;
  includeSelf?: boolean;
  ef?: number;
  exact?: boolean;
  queries?: string;
  text?: string;
  fusion?: "rrf" | "weighted";
  alpha?: number;
  rrfK?: number;
  depth?: number;
  where?: string[];
}

/**
 * Reads many queries of dimension `dim` from a file: `.fvecs` (each vector an
 * int32 dimension then that many f32, as the ANN datasets ship them), JSONL
 * (one JSON array of numbers per line), or raw little-endian f32 (n × dim).
 * @returns the queries, each a Float32Array of length dim
 * @throws CliError naming the file, the line or the size that is wrong
 */
export function readQueries(path: string, dim: number): Float32Array[] {
  let bytes: Uint8Array;
  try {
    bytes = path === "-" ? readAllStdin() : Deno.readFileSync(path);
  } catch (e) {
    throw new CliError(`cannot read --queries ${path}: ${e instanceof Error ? e.message : e}`);
  }
  const out: Float32Array[] = [];
  const head = new TextDecoder().decode(bytes.subarray(0, 64)).trimStart();
  if (path.endsWith(".fvecs")) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    for (let off = 0; off < bytes.length;) {
      if (off + 4 > bytes.length) throw new CliError(`${path}: truncated .fvecs record at byte ${off}`);
      const d = dv.getInt32(off, true);
      if (d !== dim) throw new CliError(`${path}: vector ${out.length} has dimension ${d}, the collection ${dim}`);
      if (off + 4 + 4 * d > bytes.length) throw new CliError(`${path}: truncated .fvecs record at byte ${off}`);
      const v = new Float32Array(d);
      for (let i = 0; i < d; i++) v[i] = dv.getFloat32(off + 4 + 4 * i, true);
      out.push(v);
      off += 4 + 4 * d;
    }
  } else if (path.endsWith(".jsonl") || path.endsWith(".json") || head.startsWith("[")) {
    const lines = new TextDecoder().decode(bytes).split("\n");
    lines.forEach((line, i) => {
      if (!line.trim()) return;
      let a: unknown;
      try {
        a = JSON.parse(line);
      } catch {
        throw new CliError(`${path} line ${i + 1}: not a JSON array of numbers`);
      }
      if (!Array.isArray(a) || a.length !== dim || a.some((x) => typeof x !== "number" || !Number.isFinite(x))) {
        throw new CliError(`${path} line ${i + 1}: expected an array of ${dim} finite numbers`);
      }
      out.push(Float32Array.from(a as number[]));
    });
  } else {
    if (bytes.length % (4 * dim) !== 0) {
      throw new CliError(
        `${path} is ${bytes.length} bytes, not a whole number of ${dim}-d f32 vectors (${4 * dim} bytes each); ` +
          "use .fvecs or JSONL for other layouts",
      );
    }
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    for (let off = 0; off < bytes.length; off += 4 * dim) {
      const v = new Float32Array(dim);
      for (let i = 0; i < dim; i++) v[i] = dv.getFloat32(off + 4 * i, true);
      out.push(v);
    }
  }
  out.forEach((v, i) => {
    if (v.some((x) => !Number.isFinite(x))) throw new CliError(`${path}: query ${i} has a NaN or infinite element`);
  });
  return out;
}

function readAllStdin(): Uint8Array {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(1 << 16);
  for (;;) {
    const n = Deno.stdin.readSync(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  const out = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

function methodText(m: SearchMethod): string {
  const passed = m.filterPassed !== undefined ? `; ${formatCount(m.filterPassed)} files passed --where` : "";
  if (m.method === "hnsw") return `HNSW, ef ${m.ef}${passed}`;
  if (m.method === "exact") return (m.reason ? `exact scan (${m.reason})` : "exact scan") + passed;
  return "";
}

/** Resolves `--like`: absolute paths as they are, others relative to DIR first, then to the root. */
async function likePath(b: FsBackend, dir: string, like: string): Promise<string> {
  if (like.startsWith("/")) return fsPath(like);
  const rel = fsPath(`${fsPath(dir)}/${like}`);
  return (await b.stat(rel)) ? rel : b instanceof OfflineBackend ? fsPath(like) : resolve(like);
}

/** Score text: similarities and distances with 6 decimals. */
export function scoreText(s: number): string {
  return s.toFixed(6);
}

/** Parser of `--alpha`: a number from 0 to 1. */
function alphaArg(s: string): number {
  const v = Number(s);
  if (!/^\s*[0-9.eE+-]+\s*$/.test(s) || !Number.isFinite(v) || v < 0 || v > 1) {
    throw new InvalidArgumentError(`--alpha must be a number from 0 to 1, got '${s}'`);
  }
  return v;
}

/** Parser of `--fusion`. */
function fusionArg(s: string): "rrf" | "weighted" {
  if (s !== "rrf" && s !== "weighted") throw new InvalidArgumentError(`--fusion is rrf or weighted, got '${s}'`);
  return s;
}

/** `--where` may repeat: every expression is kept (they are ANDed). */
function collectArg(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

/** The `--where` filter of a search, or undefined without one. @throws CliError (a usage error) with the parser's message */
function whereOf(exprs: string[] | undefined): Where | undefined {
  if (!exprs?.length) return undefined;
  try {
    return parseWhere(exprs);
  } catch (e) {
    if (e instanceof FsError) throw new CliError(e.detail, 2, e.code);
    throw e;
  }
}

/**
 * Checks the combination of query options and returns the fusion asked for
 * (`--alpha` implies weighted, `--rrf-k` rrf).
 * @throws CliError naming the options that do not go together
 */
function checkQueryFlags(o: SearchFlags): "rrf" | "weighted" | undefined {
  const vectors = [o.vector, o.raw, o.like].filter((x) => x !== undefined).length;
  const queries = vectors + (o.queries !== undefined ? 1 : 0);
  if (o.text !== undefined ? queries > 1 || o.queries !== undefined : queries !== 1) {
    throw new CliError(
      "give one query: a vector (--vector, --raw, --like or --queries), --text, or --text with one of --vector, --raw or --like",
    );
  }
  const both = o.text !== undefined && vectors === 1;
  const fusionFlags = [
    o.fusion !== undefined && "--fusion",
    o.alpha !== undefined && "--alpha",
    o.rrfK !== undefined && "--rrf-k",
    o.depth !== undefined && "--depth",
  ].filter(Boolean);
  if (fusionFlags.length && !both) {
    throw new CliError(
      `${fusionFlags.join(", ")}: only for a hybrid search: give --text and one of --vector, --raw or --like`,
    );
  }
  if (o.text !== undefined && vectors === 0 && (o.ef !== undefined || o.exact)) {
    throw new CliError("--ef and --exact apply to a vector query; this search has only --text");
  }
  if (
    (o.alpha !== undefined && (o.fusion === "rrf" || o.rrfK !== undefined)) ||
    (o.rrfK !== undefined && o.fusion === "weighted")
  ) {
    throw new CliError("--alpha goes with --fusion weighted, --rrf-k with --fusion rrf");
  }
  return o.fusion ?? (o.alpha !== undefined ? "weighted" : o.rrfK !== undefined ? "rrf" : undefined);
}

/** "how it was answered" of a search by text, or by text and vector, for the human summary line. */
function hybridText(r: HybridResult): string {
  const m = r.method;
  const parts: string[] = [];
  if (m.vector) parts.push(`vector: ${methodText(m.vector) || "answered by the mount"}`);
  if (m.text) {
    parts.push(
      `text: ${m.text.terms.length ? `terms ${m.text.terms.join(", ")}` : "no terms after analysis"}; ${
        formatCount(m.text.matched)
      } of ${formatCount(m.text.docs)} documents match${m.text.caughtUp ? " (index caught up first)" : ""}`,
    );
  }
  const f = m.fusion;
  if (f) {
    parts.push(
      `fused by ${
        f.kind === "rrf" ? `RRF (k ${f.rrfK})` : `weighted sum (alpha ${f.alpha})`
      } of ${f.depth} candidates a side`,
    );
  }
  return parts.join("; ");
}

/** Registers `vexfs search`. */
export function register(program: Command): void {
  const cmd = defineCommand(
    program,
    "search",
    "find the files nearest to a query vector (HNSW or an exact scan), by keywords (BM25), or by both fused",
  )
    .argument(
      "<target>",
      "image file or device (IMAGE), or a path on a mounted VexFS (then leave out the next argument)",
    )
    .argument(
      "[dir]",
      "directory to search: a collection root or a directory below it (only its subtree is searched)",
    )
    .option(
      "-k, --top-k <k>",
      "number of results, 1..65536 (at most 256 on a mount; at most 4096 for a hybrid search)",
      positiveInt("--top-k"),
      10,
    )
    .option(
      "--vector <numbers>",
      "query vector as a JSON array '[0.1, 0.2]' or numbers separated by spaces or commas",
    )
    .option(
      "--raw <file>",
      "query vector as raw little-endian f32 from FILE, or - for standard input",
    )
    .option(
      "--like <path>",
      "use this file's own vector as the query (the file itself is left out of the results)",
    )
    .option(
      "--text <query>",
      "keywords: BM25 ranking of the files' text (needs the collection's text index: vexfs index build --text); " +
        "with --vector, --raw or --like too: a hybrid search, both rankings fused",
    )
    .option("--fusion <kind>", "hybrid: rrf (Reciprocal Rank Fusion, the default) or weighted", fusionArg)
    .option(
      "--alpha <a>",
      "hybrid, weighted fusion: weight of the vector side, 0..1 (default 0.5; implies --fusion weighted)",
      alphaArg,
    )
    .option("--rrf-k <n>", "hybrid, rrf fusion: the constant added to each rank (default 60)", positiveInt("--rrf-k"))
    .option(
      "--depth <n>",
      "hybrid: candidates taken from each side before fusion, k..4096 (default max(k, 100))",
      positiveInt("--depth"),
    )
    .option(
      "--where <expr>",
      "only files whose xattrs match, e.g. 'user.lang=en', 'user.year >= 2020', 'user.tag in (a, b)', " +
        "'user.reviewed exists'; repeat it or join with AND: all must match",
      collectArg,
    )
    .option("--include-self", "with --like: keep the query file in the results")
    .option(
      "--ef <n>",
      "HNSW search breadth (higher: better recall, slower; default the collection's or max(k, 64)); asks for the graph even where an exact scan would be chosen",
      positiveInt("--ef"),
    )
    .option("--exact", "scan every vector exactly even when the collection has an HNSW index")
    .option(
      "--queries <file>",
      "many queries at once: .fvecs, JSONL (one array per line) or raw f32 (n × dim); with --json one line per query",
    )
    .option(
      "--json",
      "print the hits {rank, path, ino, score} (with --text also each side's {rank, score}) and how they were found as JSON (docs/JSON.md)",
    )
    .action(
      action("search", async (image: string, dirArg: string | undefined, o: SearchFlags) => {
        const fusion = checkQueryFlags(o);
        if (o.exact && o.ef !== undefined) throw new CliError("--ef and --exact contradict each other; give one");
        if (o.includeSelf && o.like === undefined) {
          throw new CliError("--include-self only applies to --like");
        }
        // parsed before the image is opened: a bad expression is the parser's message, nothing else
        const where = whereOf(o.where);
        await withTarget(image, dirArg, false, async (b, dir) => {
          const coll = await b.collectionOfDir(dir);
          if (!coll) {
            throw new CliError(
              `${fsPath(dir)} is not inside a vector collection (create one with 'vexfs collection create')`,
            );
          }
          if (o.queries !== undefined) {
            const qs = readQueries(o.queries, coll.dim);
            const t0 = performance.now();
            let method: SearchMethod | undefined;
            const lines: string[] = [];
            for (let i = 0; i < qs.length; i++) {
              const r = await b.searchEx(dir, qs[i], o.topK, { ef: o.ef, exact: o.exact, where });
              method ??= r.method;
              if (o.json) {
                lines.push(
                  jsonLine("search", { query: i, search: searchMethodJson(r.method), hits: hitsJson(r.hits) }),
                );
              } else {
                lines.push(`${i}: ${r.hits.map((h) => `${h.path} (${scoreText(h.score)})`).join(", ")}`);
              }
            }
            const ms = performance.now() - t0;
            Deno.stdout.writeSync(new TextEncoder().encode(lines.length ? lines.join("\n") + "\n" : ""));
            console.error(
              c.dim(
                `${formatCount(qs.length)} queries in ${formatDuration(ms)} (${formatRate(qs.length, ms, "queries")})` +
                  (method ? `, ${methodText(method)}` : ""),
              ),
            );
            return;
          }
          let query: Float32Array | undefined;
          const exclude: string[] = [];
          if (o.like !== undefined) {
            const p = await likePath(b, dir, o.like);
            const r = await b.getVector(p);
            if (!r) throw new CliError(`${p} has no vector to search with`);
            if (r.collection.id !== coll.id) {
              throw new CliError(
                `${p} belongs to collection ${r.collection.id} (${r.collection.path}), not to ${coll.path}`,
              );
            }
            query = r.vector;
            if (!o.includeSelf) exclude.push(p);
          } else if (o.vector !== undefined || o.raw !== undefined) {
            query = await vectorFromOptions(o, coll.dim, ["--like"]);
          }
          const scoreName = coll.metric === "l2" ? "distance" : coll.metric === "cosine" ? "cosine" : "inner product";
          const summary = (n: number, elapsed: number, how: string) =>
            say(
              c.dim(
                `${n} result${n === 1 ? "" : "s"} from collection ${coll.id} (${coll.path}, ${coll.metric}, ${
                  formatCount(coll.count)
                } vectors) in ${formatDuration(elapsed)}${how ? `; ${how}` : ""}`,
              ),
            );
          if (o.text !== undefined) {
            const q: HybridQuery = {
              vector: query,
              text: o.text,
              k: o.topK,
              fusion,
              alpha: o.alpha,
              rrfK: o.rrfK,
              depth: o.depth,
              where,
              exclude,
              ef: o.ef,
              exact: o.exact,
            };
            const t0 = performance.now();
            const r = await b.hybrid(dir, q);
            const elapsed = performance.now() - t0;
            if (o.json) {
              return printJsonResult("search", {
                path: dirArg === undefined ? dir : fsPath(dir),
                collection: collectionJson(coll),
                k: o.topK,
                where: where ? formatWhere(where) : null,
                method: hybridMethodJson(r.method),
                elapsed_ms: roundMs(elapsed),
                hits: hybridHitsJson(r.hits),
              });
            }
            if (!r.hits.length) {
              say(c.dim(`no results: no file here ${query ? "carries a vector or " : ""}contains a query term`));
            } else if (query) {
              const rank = (s: { rank: number } | null) => s ? s.rank : "-";
              const sc = (s: { score: number } | null) => s ? scoreText(s.score) : "-";
              say(table(
                ["rank", r.method.fusion?.kind ?? "score", "vector rank", scoreName, "text rank", "bm25", "path"],
                r.hits.map((
                  h,
                  i,
                ) => [i + 1, scoreText(h.score), rank(h.vector), sc(h.vector), rank(h.text), sc(h.text), h.path]),
                ["right", "right", "right", "right", "right", "right", "left"],
              ));
            } else {
              say(table(["rank", "bm25", "path"], r.hits.map((h, i) => [i + 1, scoreText(h.score), h.path]), [
                "right",
                "right",
                "left",
              ]));
            }
            summary(r.hits.length, elapsed, hybridText(r));
            return;
          }
          const t0 = performance.now();
          const { hits, method } = await b.searchEx(dir, query!, o.topK, { exclude, ef: o.ef, exact: o.exact, where });
          const elapsed = performance.now() - t0;
          if (o.json) {
            return printJsonResult("search", {
              path: dirArg === undefined ? dir : fsPath(dir),
              collection: collectionJson(coll),
              k: o.topK,
              where: where ? formatWhere(where) : null,
              search: searchMethodJson(method),
              elapsed_ms: roundMs(elapsed),
              hits: hitsJson(hits),
            });
          }
          if (!hits.length) {
            say(
              c.dim(
                where
                  ? "no results: no file with a vector in this directory passes --where"
                  : "no results: no file in this directory carries a vector",
              ),
            );
          } else {
            say(
              table(
                ["rank", scoreName, "path"],
                hits.map((h, i) => [i + 1, scoreText(h.score), h.path]),
                ["right", "right", "left"],
              ),
            );
          }
          summary(hits.length, elapsed, methodText(method));
        });
      }),
    );
  cmd.addHelpText(
    "after",
    `
A collection with an HNSW index (the default) is searched through its graph:
approximate (--ef trades speed for recall; every score shown is exact), while
small collections (unless --ef is given) and small subtrees are scanned exactly,
as is every search with --exact and every search of a flat collection. Paths are relative to DIR.
Scores: l2 is a distance (lower is nearer); cosine and ip are similarities
(higher is nearer). Ties are broken by inode number.

--text ranks the files by BM25 (Lucene's formula, k1 and b set per collection)
through the collection's text index (vexfs index build --text DIR). With a
query vector as well, each side gives its best --depth candidates and they are
fused: rrf scores a file by the sum of 1/(60 + rank) over the sides (Cormack et
al. 2009), weighted by alpha * vector + (1 - alpha) * text over each side's
scores scaled to 0..1. --where filters by extended attributes (user.*):
numbers compare as numbers, other values as text; a file without the attribute
never matches. On a mount, --text and --where need the hybrid search ioctl.`,
  );
  examples(cmd, [
    "vexfs search disk.img /docs --top-k 5 --like /docs/intro.md",
    "vexfs search disk.img /docs/guides -k 3 --vector '[0.1, 0.2, 0.3]'",
    "vexfs search --json disk.img /docs -k 10 --raw query.f32",
    "vexfs search disk.img /docs -k 10 --ef 200 --like /docs/intro.md   # more recall",
    "vexfs search --json disk.img /mnist -k 10 --queries test.fvecs > results.jsonl",
    "vexfs search disk.img /docs --text 'deploy app to cloud foundry'    # keywords (BM25)",
    "vexfs search disk.img /docs --like /docs/intro.md --text 'cloud foundry' --json   # hybrid, RRF",
    "vexfs search disk.img /docs --like intro.md --text deploy --fusion weighted --alpha 0.7",
    "vexfs search disk.img /docs --like intro.md --where 'user.lang=en' --where 'user.year >= 2020'",
    "vexfs search /mnt/vexfs/docs --top-k 10 --like intro.md    # on a mounted VexFS (ioctl; k <= 256)",
    "vexfs search /mnt/vexfs/docs -k 10 --ef 200 --json --like intro.md   # --ef and --exact work on a mount too",
  ]);
}
