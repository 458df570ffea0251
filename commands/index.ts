/**
 * `vexfs index build|rebuild|drop|optimize|stats`: manage a collection's HNSW
 * graph (docs/FORMAT.md §8.6) on an image or, through the index ioctl, on a
 * mount.
 * @module
 */
import type { Command } from "commander";
import type { IndexStats } from "../src/fs/vectors.ts";
import { type IndexOp, OfflineBackend, withTarget } from "./backend.ts";
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
  positiveInt,
  progress,
  say,
} from "./util.ts";
import { collectionJson, indexStatsJson, printJsonResult, roundMs } from "./json.ts";

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

/** Registers `vexfs index ...`. */
export function register(program: Command): void {
  const idx = defineCommand(program, "index", "build, drop, optimize or inspect a collection's HNSW index");
  idx.addHelpText(
    "after",
    `
Collections get an HNSW graph by default (vexfs collection create --index);
the filesystem keeps it current with every vector set, changed, deleted or
moved, and writes it after each commit. These commands manage it by hand.`,
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
    if (name === "build" || name === "rebuild") {
      cmd.option("--m <n>", "M: neighbours per node (2..128; default the collection's, else 16)", positiveInt("--m"))
        .option(
          "--ef-construction <n>",
          "efConstruction (M..4096; default the collection's, else 200)",
          positiveInt("--ef-construction"),
        )
        .option("-q, --quiet", "no progress on stderr")
        .addHelpText(
          "after",
          `
On an image or device the build shows its progress (vectors inserted, rate,
ETA) on stderr: a bar on a terminal, a plain line every 5 s otherwise
(VEXFS_PROGRESS, see 'vexfs --help'); -q silences it. On a mount the daemon
builds it inside one ioctl, without progress.`,
        );
    }
    cmd.action(action(`index ${name}`, async (target: string, dirArg: string | undefined, o: {
      json?: boolean;
      m?: number;
      efConstruction?: number;
      quiet?: boolean;
    }) => {
      await withTarget(target, dirArg, name !== "stats", async (b, dir) => {
        const coll = await b.collectionOfDir(dir);
        if (!coll) throw new CliError(`${dir} is not inside a vector collection`);
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
  sub("build", "build the HNSW graph from the collection's vectors (a flat collection becomes an HNSW one)", (o) => ({
    op: "build",
    m: o.m,
    efConstruction: o.efConstruction,
  }), ["vexfs index build disk.img /docs", "vexfs index build disk.img /docs --m 32 --ef-construction 400"]);
  sub("rebuild", "build the graph again from scratch (the same as build)", (o) => ({
    op: "build",
    m: o.m,
    efConstruction: o.efConstruction,
  }), ["vexfs index rebuild disk.img /docs", "vexfs index rebuild /mnt/vexfs/docs --m 24"]);
  sub("drop", "drop the graph: the collection becomes flat (exact scans)", () => ({ op: "drop" }), [
    "vexfs index drop disk.img /docs",
  ]);
  sub("optimize", "compact the graph: rebuild it without deleted or free nodes", () => ({ op: "optimize" }), [
    "vexfs index optimize disk.img /docs",
    "vexfs index optimize /mnt/vexfs/docs",
  ]);
  sub(
    "stats",
    "nodes, levels, deleted and reclaimed nodes, bytes, parameters, build time, whether it is current",
    () => ({
      op: "stats",
    }),
    ["vexfs index stats disk.img /docs", "vexfs index stats /mnt/vexfs/docs --json"],
  );
  examples(idx, [
    "vexfs index stats disk.img /docs",
    "vexfs index build disk.img /docs --m 32 --ef-construction 400",
    "vexfs index optimize /mnt/vexfs/docs",
    "vexfs index drop disk.img /docs",
  ]);
}
