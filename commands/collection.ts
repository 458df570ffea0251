/**
 * `vexfs collection create|list|info|drop|rename`: vector collections (docs/FORMAT.md §8).
 * @module
 */
import type { Command } from "commander";
import { formatBytes } from "../src/device/probe.ts";
import { parseElemType, parseMetric } from "../src/vector/types.ts";
import { type CollectionView, withFilesystem, withTarget } from "./backend.ts";
import { COLLECTION_HEAD, collectionRows } from "./info.ts";
import { collectionJson, printJsonResult } from "./json.ts";
import { action, c, CliError, defineCommand, examples, fsPath, kvTable, positiveInt, say, table } from "./util.ts";

/** Default metric of new collections. */
export const DEFAULT_METRIC = "cosine";
/** Default element type of new collections. */
export const DEFAULT_TYPE = "f32";

function describe(x: CollectionView): string {
  const index = x.index === "hnsw"
    ? `, HNSW index (M ${x.m}, efConstruction ${x.efConstruction}${x.efSearch ? `, ef ${x.efSearch}` : ""})`
    : x.index === "flat"
    ? ", exact scans (no index)"
    : "";
  return `collection ${x.id} at ${x.path}: dimension ${x.dim}, metric ${x.metric}, ${x.elem} elements, ${x.count} vector${
    x.count === 1 ? "" : "s"
  }${index}`;
}

/** Registers `vexfs collection ...`. */
export function register(program: Command): void {
  const coll = defineCommand(
    program,
    "collection",
    "create and inspect vector collections (directories whose files carry vectors)",
  );
  coll.addHelpText(
    "after",
    `
A collection is a directory (the collection root) with a dimension, a metric and
an element type. Every regular file below it may carry one vector of that
dimension; 'vexfs search' ranks them. Collections do not nest.`,
  );
  examples(coll, [
    "vexfs collection create disk.img /docs --dim 384 --metric cosine",
    "vexfs collection list disk.img",
    "vexfs collection info disk.img /docs",
  ]);

  const create = defineCommand(
    coll,
    "create",
    "make a directory a collection root",
  )
    .argument(
      "<target>",
      "image file or device (IMAGE), or a path on a mounted VexFS (then leave out the next argument)",
    )
    .argument("[dir]", "directory inside IMAGE")
    .requiredOption(
      "-d, --dim <n>",
      "vector dimension, 1..4096 (required)",
      positiveInt("--dim"),
    )
    .option(
      "-m, --metric <metric>",
      "l2 (Euclidean distance), cosine (cosine similarity) or ip (inner product)",
      DEFAULT_METRIC,
    )
    .option(
      "-t, --type <type>",
      "element type stored: f32, f16 or i8",
      DEFAULT_TYPE,
    )
    .option(
      "-p, --parents",
      "create the directory (and missing parents) if it does not exist",
    )
    .option("--index <kind>", "hnsw (an approximate-search graph) or flat (exact scans only)", "hnsw")
    .option("--m <n>", "HNSW M: neighbours per node (2..128, default 16)", positiveInt("--m"))
    .option("--ef-construction <n>", "HNSW efConstruction (M..4096, default 200)", positiveInt("--ef-construction"))
    .option("--ef <n>", "default ef of searches (default max(k, 64))", positiveInt("--ef"))
    .option("--json", "print the new collection as JSON")
    .action(
      action(
        "collection create",
        async (
          image: string,
          dirArg: string | undefined,
          o: {
            dim: number;
            metric: string;
            type: string;
            parents?: boolean;
            json?: boolean;
            index: string;
            m?: number;
            efConstruction?: number;
            ef?: number;
          },
        ) => {
          if (o.index !== "hnsw" && o.index !== "flat") {
            throw new CliError(`--index must be hnsw or flat, not '${o.index}'`);
          }
          if (o.index === "flat" && (o.m !== undefined || o.efConstruction !== undefined)) {
            throw new CliError("--m and --ef-construction only apply to --index hnsw");
          }
          const metric = parseMetric(o.metric);
          const elem = parseElemType(o.type);
          await withTarget(image, dirArg, true, async (b, dir) => {
            if (o.parents) {
              // refuse before creating anything when the nearest existing ancestor is in a collection
              let existing = fsPath(dir);
              while (existing !== "/" && !(await b.stat(existing))) {
                existing = existing.slice(0, existing.lastIndexOf("/")) || "/";
              }
              const inside = (await b.stat(existing))?.type === "dir" ? await b.collectionOfDir(existing) : null;
              if (inside) {
                throw new CliError(
                  `${
                    fsPath(dir)
                  } would be inside collection ${inside.id} (rooted at ${inside.path}); collections do not nest`,
                );
              }
              await b.mkdirp(dir);
            }
            const x = await b.createCollection(dir, {
              dim: o.dim,
              metric,
              elem,
              index: o.index as "hnsw" | "flat",
              m: o.m,
              efConstruction: o.efConstruction,
              efSearch: o.ef,
            });
            if (o.json) printJsonResult("collection create", { collection: collectionJson(x) });
            else say(`Created ${describe(x)}`);
          }, { mayNotExist: !!o.parents }); // -p on a mount: the directory may be missing too
        },
      ),
    );
  create.addHelpText(
    "after",
    `\nScores: l2 is a distance (lower is nearer); cosine and ip are similarities (higher is nearer).`,
  );
  examples(create, [
    "vexfs collection create disk.img /docs --dim 384",
    "vexfs collection create -p disk.img /images --dim 512 --metric l2 --type f16",
  ]);

  const list = defineCommand(coll, "list", "list every collection")
    .argument("<target>", "image file or device (IMAGE), or any directory on a mounted VexFS")
    .option("--json", "print the collections as JSON (docs/JSON.md)")
    .action(
      action(
        "collection list",
        async (image: string, o: { json?: boolean }) => {
          await withFilesystem(image, false, async (b) => {
            const all = await b.listCollections();
            if (o.json) return printJsonResult("collection list", { collections: all.map(collectionJson) });
            if (!all.length) {
              return say(
                c.dim(
                  "no collections; create one with 'vexfs collection create'",
                ),
              );
            }
            say(
              table(COLLECTION_HEAD, collectionRows(all), [
                "right",
                "left",
                "right",
                "left",
                "left",
                "right",
                "right",
              ]),
            );
          });
        },
      ),
    );
  examples(list, [
    "vexfs collection list disk.img",
    "vexfs collection list --json disk.img",
    "vexfs collection list /mnt/vexfs",
  ]);

  const info = defineCommand(
    coll,
    "info",
    "show the collection that contains a directory",
  )
    .argument(
      "<target>",
      "image file or device (IMAGE), or a path on a mounted VexFS (then leave out the next argument)",
    )
    .argument("[dir]", "the collection root or any directory below it, inside IMAGE")
    .option("--json", "print the collection as JSON")
    .action(
      action(
        "collection info",
        async (image: string, dirArg: string | undefined, o: { json?: boolean }) => {
          await withTarget(image, dirArg, false, async (b, dir) => {
            const x = await b.collectionOfDir(dir);
            if (!x) {
              throw new CliError(
                `${fsPath(dir)} is not inside a vector collection (create one with 'vexfs collection create')`,
              );
            }
            if (o.json) return printJsonResult("collection info", { collection: collectionJson(x) });
            if (x.path !== fsPath(dir)) {
              say(
                c.dim(
                  `${fsPath(dir)} is inside the collection rooted at ${x.path}`,
                ),
              );
            }
            say(kvTable([
              ["id", x.id],
              ["root", `${x.path} (inode ${x.rootIno})`],
              ["dimension", x.dim],
              [
                "metric",
                `${x.metric} (${x.metric === "l2" ? "distance: lower is nearer" : "similarity: higher is nearer"})`,
              ],
              ["element type", x.elem],
              ["vectors", x.count],
              [
                "vector data",
                x.bytes < 1024 ? formatBytes(x.bytes) : `${formatBytes(x.bytes)} (${x.bytes} bytes)`,
              ],
              ["generation", x.generation],
              ["created", new Date(x.created * 1000).toISOString()],
              [
                "index",
                x.index === "hnsw"
                  ? `HNSW: M ${x.m}, efConstruction ${x.efConstruction}, default ef ${x.efSearch || "max(k, 64)"}`
                  : x.index === "flat"
                  ? "none: exact scans"
                  : "(not reported)",
              ],
            ]));
          });
        },
      ),
    );
  examples(info, [
    "vexfs collection info disk.img /docs",
    "vexfs collection info --json disk.img /docs/sub",
  ]);

  const drop = defineCommand(coll, "drop", "remove a collection and its vectors; its directory and files stay")
    .argument(
      "<target>",
      "image file or device (IMAGE), or the collection's root on a mounted VexFS (then leave out the next argument)",
    )
    .argument("[dir]", "the collection's root directory inside IMAGE")
    .option("--json", "print the dropped collection as JSON")
    .action(
      action("collection drop", async (target: string, dirArg: string | undefined, o: { json?: boolean }) => {
        await withTarget(target, dirArg, true, async (b, dir) => {
          const x = await b.dropCollection(dir);
          if (o.json) printJsonResult("collection drop", { collection: collectionJson(x) });
          else say(`dropped collection ${x.id} at ${x.path} (${x.count} vectors); its files stay`);
        });
      }),
    );
  drop.addHelpText(
    "after",
    "\nOn a mount the daemon drops it (VEXFS_IOC_DROP_COLLECTION); the caller must be allowed to write the root.",
  );
  examples(drop, [
    "vexfs collection drop disk.img /docs",
    "vexfs collection drop /mnt/vexfs/docs",
    "vexfs export disk.img /docs --text -o docs.jsonl && vexfs collection drop disk.img /docs   # keep the vectors aside",
  ]);

  const rename = defineCommand(
    coll,
    "rename",
    "rename (or move) a collection's root directory; the collection keeps its id, vectors and index",
  )
    .argument("<target>", "image file or device (IMAGE), or the collection's root on a mounted VexFS (OLD)")
    .argument("<old-or-new>", "with IMAGE: the collection's root inside it (OLD); on a mount: the new path (NEW)")
    .argument("[new]", "with IMAGE: the new path inside it (NEW)")
    .option("--json", "print the renamed collection as JSON")
    .action(
      action(
        "collection rename",
        async (target: string, second: string, third: string | undefined, o: { json?: boolean }) => {
          const offline = third !== undefined;
          const from = offline ? second : target;
          const to = offline ? third! : second;
          await withTarget(offline ? target : from, offline ? from : undefined, true, async (b, dir) => {
            const x = await b.renameCollection(dir, to);
            if (o.json) printJsonResult("collection rename", { collection: collectionJson(x) });
            else say(`collection ${x.id} is now at ${x.path} (${x.count} vectors)`);
          });
        },
      ),
    );
  rename.addHelpText(
    "after",
    "\nA rename of the root directory (rename(2) on a mount, the engine's rename offline): NEW must not exist, its " +
      "parent must, and it may not be inside another collection (collections do not nest).",
  );
  examples(rename, [
    "vexfs collection rename /mnt/vexfs/docs /mnt/vexfs/notes",
    "vexfs collection rename disk.img /docs /archive/docs-2026",
  ]);
}
