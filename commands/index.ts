/**
 * `vexfs index build|rebuild|drop|optimize|stats`: manage a collection's HNSW
 * graph (docs/FORMAT.md §8.6) on an image or, through the index ioctl, on a
 * mount; with `--text` (build, rebuild, drop, stats) its keyword (BM25)
 * index (FORMAT.md §8.7) instead.
 * @module
 */
import { type Command, InvalidArgumentError } from "commander";
import type { IndexStats } from "../src/fs/vectors.ts";
import type { TextIndexParams, TextIndexStats } from "../src/fs/text_index_types.ts";
import { type IndexOp, OfflineBackend, type TextIndexOp, withTarget } from "./backend.ts";
import {
  action,
  c,
  CliError,
  defineCommand,
  examples,
  formatBytes,
  formatCount,
  formatDuration,
  kvTable,
  parseSize,
  positiveInt,
  progress,
  say,
} from "./util.ts";
import { collectionJson, indexStatsJson, printJsonResult, roundMs, textIndexStatsJson } from "./json.ts";

function printStats(s: IndexStats): void {
  if (s.index === "flat") {
    say("index: none (a flat collection: every search scans exactly)");
    return;
  }
  if (!s.graph) {
    say(kvTable([
      ["index", "HNSW"],
      ["state", c.yellow("not loaded: far behind the vectors")],
      ["why", s.note || "-"],
      ["file", formatBytes(s.fileBytes)],
    ]));
    return;
  }
  const g = s.graph;
  say(kvTable([
    ["index", `HNSW, M ${g.m} (level 0: ${g.m0}), efConstruction ${g.efConstruction}`],
    ["state", s.current ? c.green("current") : c.yellow("changes not written yet (the next commit writes them)")],
    ["loaded", s.note || "-"],
    ["nodes", `${g.nodes} searchable, ${g.deleted} deleted awaiting repair, ${g.free} free ids`],
    ["reclaimed", `${g.reclaimed} node ids reused since the last build`],
    ["levels", g.levels.map((n, l) => `${l}: ${n}`).join(", ")],
    [
      "size",
      `${formatBytes(g.bytes)} as a file (${formatBytes(s.fileBytes)} written), ${
        formatBytes(g.memoryBytes)
      } in memory`,
    ],
    ["last build", `${formatDuration(g.buildMs)}; ${formatCount(g.insertsSinceBuild)} inserts since`],
  ]));
}

function printTextStats(s: TextIndexStats): void {
  const p = s.params;
  if (!s.enabled || !p) {
    say("keyword index: none (build one with 'vexfs index build --text')");
    return;
  }
  const lang = (on: number) => on ? p.lang : "off";
  say(kvTable([
    ["index", `keyword (BM25), k1 ${p.k1}, b ${p.b}`],
    [
      "analyzer",
      `${p.analyzer === 1 ? "word-v1" : p.analyzer}, stemming ${lang(p.stemmer)}, stop words ${lang(p.stopwords)}`,
    ],
    ["state", s.fresh ? c.green("fresh") : c.yellow("behind the files (caught up at the next write or search)")],
    ["note", s.note || "-"],
    [
      "documents",
      `${formatCount(s.docCount)} (${formatCount(s.totalTokens)} tokens, ${formatCount(s.terms)} terms); ${
        formatCount(s.emptyDocs)
      } without words`,
    ],
    [
      "skipped",
      `${formatCount(s.skippedBinary)} binary, ${formatCount(s.skippedLarge)} larger than ${formatBytes(p.maxFile)}; ${
        formatCount(s.longTokens)
      } words over 64 bytes`,
    ],
    [
      "size",
      `${formatBytes(s.fileBytes)} on disk for ${formatBytes(s.textBytes)} of text${
        s.textBytes ? ` (${(s.fileBytes / s.textBytes).toFixed(2)}×)` : ""
      }, ${s.segments} segment${s.segments === 1 ? "" : "s"}`,
    ],
    ["generation", `text generation ${s.textGeneration}; last build ${formatDuration(s.buildMs)}`],
    ["signature", s.signature || "-"],
  ]));
}

/** Parser of `--k1`: 0 < k1 ≤ 10. */
function k1Arg(v: string): number {
  const x = Number(v);
  if (!/^\s*[0-9.eE+-]+\s*$/.test(v) || !(x > 0 && x <= 10)) {
    throw new InvalidArgumentError(`--k1 must be a number above 0 and at most 10, got '${v}'`);
  }
  return x;
}

/** Parser of `--b`: 0 ≤ b ≤ 1. */
function bArg(v: string): number {
  const x = Number(v);
  if (!/^\s*[0-9.eE+-]+\s*$/.test(v) || !(x >= 0 && x <= 1)) {
    throw new InvalidArgumentError(`--b must be a number from 0 to 1, got '${v}'`);
  }
  return x;
}

interface IndexFlags {
  json?: boolean;
  m?: number;
  efConstruction?: number;
  quiet?: boolean;
  text?: boolean;
  k1?: number;
  b?: number;
  stem?: string;
  stopwords?: string;
  maxFileSize?: number;
}

/**
 * The keyword index's build parameters from the flags: k1, b, the size limit, and the analyzer as a whole when
 * `--stem` or `--stopwords` is given (the other one then off).
 * @throws CliError when --stem and --stopwords name different languages
 */
function textParams(o: IndexFlags): Partial<TextIndexParams> {
  const p: Partial<TextIndexParams> = {};
  if (o.k1 !== undefined) p.k1 = o.k1;
  if (o.b !== undefined) p.b = o.b;
  if (o.maxFileSize !== undefined) p.maxFile = o.maxFileSize;
  if (o.stem !== undefined || o.stopwords !== undefined) {
    if (o.stem !== undefined && o.stopwords !== undefined && o.stem !== o.stopwords) {
      throw new CliError("--stem and --stopwords take the same language (one per collection)");
    }
    Object.assign(p, {
      analyzer: 1,
      stemmer: o.stem !== undefined ? 1 : 0,
      stopwords: o.stopwords !== undefined ? 1 : 0,
      lang: (o.stem ?? o.stopwords)!,
    });
  }
  return p;
}

/** Registers `vexfs index ...`. */
export function register(program: Command): void {
  const idx = defineCommand(
    program,
    "index",
    "build, drop, optimize or inspect a collection's HNSW index, or (--text) its keyword index",
  );
  idx.addHelpText(
    "after",
    `
Collections get an HNSW graph by default (vexfs collection create --index);
the filesystem keeps it current with every vector set, changed, deleted or
moved, and writes it after each commit. These commands manage it by hand.
With --text they manage the collection's keyword (BM25) index over the text
of its files instead (what 'vexfs search --text' uses), which the filesystem
also keeps current as files change; a collection has none until
'vexfs index build --text' makes one.`,
  );
  const sub = (
    name: string,
    what: string,
    op: (o: { m?: number; efConstruction?: number }) => IndexOp,
    ex: string[],
  ) => {
    const cmd = defineCommand(idx, name, what)
      .argument("<target>", "image file or device (IMAGE), or a directory of a collection on a mounted VexFS")
      .argument("[dir]", "a directory of the collection inside IMAGE")
      .option("--json", "print the index's figures as JSON");
    if (name !== "optimize") cmd.option("--text", "the keyword (BM25) index of the files' text, not the HNSW graph");
    if (name === "build" || name === "rebuild") {
      cmd.option("--m <n>", "M: neighbours per node (2..128; default the collection's, else 16)", positiveInt("--m"))
        .option(
          "--ef-construction <n>",
          "efConstruction (M..4096; default the collection's, else 200)",
          positiveInt("--ef-construction"),
        )
        .option("-q, --quiet", "no progress on stderr")
        .option("--k1 <k1>", "with --text: BM25 k1, term frequency saturation, 0 < k1 <= 10 (default 1.2)", k1Arg)
        .option("--b <b>", "with --text: BM25 b, document length normalisation, 0..1 (default 0.75)", bArg)
        .option("--stem <lang>", "with --text: stem words of language LANG (ISO 639-1: en, de, fr, ...; default none)")
        .option("--stopwords <lang>", "with --text: leave out the stop words of language LANG (default none)")
        .option(
          "--max-file-size <size>",
          "with --text: skip files larger than SIZE (1K..1G, default 4M)",
          parseSize,
        )
        .addHelpText(
          "after",
          `
On an image or device the build shows its progress (vectors inserted, rate,
ETA) on stderr: a bar on a terminal, a plain line every 5 s otherwise
(VEXFS_PROGRESS, see 'vexfs --help'); -q silences it. On a mount the daemon
builds it inside one ioctl, without progress.`,
        );
    }
    cmd.action(action(`index ${name}`, async (target: string, dirArg: string | undefined, o: IndexFlags) => {
      const textOnly = [
        o.k1 !== undefined && "--k1",
        o.b !== undefined && "--b",
        o.stem !== undefined && "--stem",
        o.stopwords !== undefined && "--stopwords",
        o.maxFileSize !== undefined && "--max-file-size",
      ].filter(Boolean);
      if (!o.text && textOnly.length) {
        throw new CliError(`${textOnly.join(", ")}: parameters of the keyword index; add --text`);
      }
      if (o.text && (o.m !== undefined || o.efConstruction !== undefined)) {
        throw new CliError(
          "--m and --ef-construction are the HNSW graph's; the keyword index (--text) has --k1, --b, " +
            "--stem, --stopwords and --max-file-size",
        );
      }
      await withTarget(target, dirArg, name !== "stats", async (b, dir) => {
        const coll = await b.collectionOfDir(dir);
        if (!coll) throw new CliError(`${dir} is not inside a vector collection`);
        if (o.text) {
          const t0 = performance.now();
          const op: TextIndexOp = name === "stats"
            ? { op: "stats" }
            : name === "drop"
            ? { op: "drop" }
            : { op: "build", params: textParams(o) };
          const s = await b.textIndex(dir, op);
          const elapsed = performance.now() - t0;
          if (o.json) {
            return printJsonResult(`index ${name}`, {
              collection: collectionJson((await b.collectionOfDir(dir)) ?? coll),
              stats: textIndexStatsJson(s),
              elapsed_ms: roundMs(elapsed),
            });
          }
          if (name !== "stats") {
            say(`keyword index ${name} of collection ${coll.id} (${coll.path}): ${formatDuration(elapsed)}`);
          }
          printTextStats(s);
          return;
        }
        const t0 = performance.now();
        const what = op(o);
        // offline builds report their progress (HnswGraph.build); a mount's daemon builds inside one ioctl
        const bar = what.op === "build" && b instanceof OfflineBackend
          ? progress(`index ${name}`, coll.count, { unit: "vectors", quiet: o.quiet })
          : undefined;
        let s;
        try {
          s = await b.index(
            dir,
            bar && what.op === "build" ? { ...what, onProgress: (done) => bar.update(done) } : what,
          );
        } finally {
          bar?.stop();
        }
        const elapsed = performance.now() - t0;
        if (o.json) {
          // the collection as it is after the operation (a build or drop changes its index)
          const after = (await b.collectionOfDir(dir)) ?? coll;
          return printJsonResult(`index ${name}`, {
            collection: collectionJson(after),
            stats: indexStatsJson(s),
            elapsed_ms: roundMs(elapsed),
          });
        }
        if (name !== "stats") {
          say(`index ${name} of collection ${coll.id} (${coll.path}): ${formatDuration(elapsed)}`);
        }
        printStats(s);
      });
    }));
    examples(cmd, ex);
    return cmd;
  };
  sub(
    "build",
    "build the HNSW graph from the collection's vectors (a flat collection becomes an HNSW one), or with --text " +
      "the keyword index from its files' text",
    (o) => ({ op: "build", m: o.m, efConstruction: o.efConstruction }),
    [
      "vexfs index build disk.img /docs",
      "vexfs index build disk.img /docs --m 32 --ef-construction 400",
      "vexfs index build disk.img /docs --text                            # keyword index for search --text",
      "vexfs index build disk.img /docs --text --stem en --stopwords en --k1 1.5 --max-file-size 1M",
    ],
  );
  sub("rebuild", "build the graph again from scratch (the same as build)", (o) => ({
    op: "build",
    m: o.m,
    efConstruction: o.efConstruction,
  }), [
    "vexfs index rebuild disk.img /docs",
    "vexfs index rebuild /mnt/vexfs/docs --m 24",
    "vexfs index rebuild disk.img /docs --text --b 0.5   # the keyword index, other parameters kept",
  ]);
  sub(
    "drop",
    "drop the graph: the collection becomes flat (exact scans); with --text drop the keyword index",
    () => ({ op: "drop" }),
    ["vexfs index drop disk.img /docs", "vexfs index drop disk.img /docs --text"],
  );
  sub("optimize", "compact the graph: rebuild it without deleted or free nodes", () => ({ op: "optimize" }), [
    "vexfs index optimize disk.img /docs",
    "vexfs index optimize /mnt/vexfs/docs",
  ]);
  sub(
    "stats",
    "nodes, levels, deleted and reclaimed nodes, bytes, parameters, build time, whether it is current; with --text " +
      "the keyword index's documents, terms, bytes and parameters",
    () => ({
      op: "stats",
    }),
    [
      "vexfs index stats disk.img /docs",
      "vexfs index stats /mnt/vexfs/docs --json",
      "vexfs index stats disk.img /docs --text",
    ],
  );
  examples(idx, [
    "vexfs index stats disk.img /docs",
    "vexfs index build disk.img /docs --m 32 --ef-construction 400",
    "vexfs index optimize /mnt/vexfs/docs",
    "vexfs index drop disk.img /docs",
    "vexfs index build disk.img /docs --text",
  ]);
}
