/**
 * `vexfs search`: exact top-k similarity search in a collection.
 * @module
 */
import type { Command } from "commander";
import { type FsBackend, withTarget } from "./backend.ts";
import { resolve } from "node:path";
import { OfflineBackend } from "./backend.ts";
import { action, c, CliError, defineCommand, examples, fsPath, positiveInt, printJson, say, table } from "./util.ts";
import { vectorFromOptions, type VectorSource } from "./vector.ts";

interface SearchFlags extends VectorSource {
  topK: number;
  like?: string;
  json?: boolean;
  includeSelf?: boolean;
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

/** Registers `vexfs search`. */
export function register(program: Command): void {
  const cmd = defineCommand(
    program,
    "search",
    "find the files whose vectors are nearest to a query (exact top-k)",
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
      "number of results, 1..65536",
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
    .option("--include-self", "with --like: keep the query file in the results")
    .option("--json", "print [{rank, path, ino, score}] as JSON")
    .action(
      action("search", async (image: string, dirArg: string | undefined, o: SearchFlags) => {
        const given = [o.vector, o.raw, o.like].filter((x) => x !== undefined).length;
        if (given !== 1) {
          throw new CliError(
            "give exactly one query: --vector, --raw or --like",
          );
        }
        if (o.includeSelf && o.like === undefined) {
          throw new CliError("--include-self only applies to --like");
        }
        await withTarget(image, dirArg, false, async (b, dir) => {
          const coll = await b.collectionOfDir(dir);
          if (!coll) {
            throw new CliError(
              `${fsPath(dir)} is not inside a vector collection (create one with 'vexfs collection create')`,
            );
          }
          let query: Float32Array;
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
          } else query = await vectorFromOptions(o, coll.dim, ["--like"]);
          const t0 = performance.now();
          const hits = await b.search(dir, query, o.topK, { exclude });
          const ms = performance.now() - t0;
          if (o.json) {
            return printJson(
              hits.map((h, i) => ({
                rank: i + 1,
                path: h.path,
                ino: h.ino,
                score: h.score,
              })),
            );
          }
          const scoreName = coll.metric === "l2" ? "distance" : coll.metric === "cosine" ? "cosine" : "inner product";
          if (!hits.length) {
            say(
              c.dim("no results: no file in this directory carries a vector"),
            );
          } else {say(
              table(
                ["rank", scoreName, "path"],
                hits.map((h, i) => [i + 1, scoreText(h.score), h.path]),
                ["right", "right", "left"],
              ),
            );}
          say(
            c.dim(
              `${hits.length} result${
                hits.length === 1 ? "" : "s"
              } from collection ${coll.id} (${coll.path}, ${coll.metric}, ${coll.count} vectors) in ${
                ms.toFixed(1)
              } ms`,
            ),
          );
        });
      }),
    );
  cmd.addHelpText(
    "after",
    `
The search is exact (every vector in the subtree is compared). Paths are
relative to DIR. Scores: l2 is a distance (lower is nearer); cosine and ip are
similarities (higher is nearer). Ties are broken by inode number.`,
  );
  examples(cmd, [
    "vexfs search disk.img /docs --top-k 5 --like /docs/intro.md",
    "vexfs search disk.img /docs/guides -k 3 --vector '[0.1, 0.2, 0.3]'",
    "vexfs search --json disk.img /docs -k 10 --raw query.f32",
    "vexfs search /mnt/vexfs/docs --top-k 10 --like intro.md    # on a mounted VexFS (ioctl; k <= 256)",
  ]);
}
