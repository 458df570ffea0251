/**
 * `vexfs vector set|get|delete`: the vector carried by one file.
 * @module
 */
import type { Command } from "commander";
import { parseVectorRaw, parseVectorText } from "../src/vector/codec.ts";
import { withTarget } from "./backend.ts";
import { registerDelete } from "./vector_delete.ts";
import { action, CliError, defineCommand, examples, fsPath, readHostFile, say, writeStdout } from "./util.ts";
import { collectionJson, printJsonResult } from "./json.ts";

/** Where a vector given on the command line comes from. */
export interface VectorSource {
  /** text: a JSON array or numbers separated by spaces/commas */
  vector?: string;
  /** a file of raw little-endian f32, or - for stdin */
  raw?: string;
}

/** Parses the vector of `--vector` or `--raw` (exactly one must be given), checking its dimension. */
export async function vectorFromOptions(
  o: VectorSource,
  dim: number | undefined,
  extra: string[] = [],
): Promise<Float32Array> {
  const given = [o.vector !== undefined, o.raw !== undefined].filter(Boolean).length;
  const choices = ["--vector", "--raw", ...extra].join(", ");
  if (given !== 1) throw new CliError(`give exactly one of ${choices}`);
  if (o.vector !== undefined) return parseVectorText(o.vector, dim);
  return parseVectorRaw(await readHostFile(o.raw!), dim);
}

/** Shortest decimal text that reads back as the same f32. */
export function f32Text(x: number): string {
  if (x === 0) return Object.is(x, -0) ? "-0" : "0";
  for (let p = 1; p <= 9; p++) {
    const s = String(Number(x.toPrecision(p)));
    if (Math.fround(Number(s)) === x) return s;
  }
  return String(x);
}

/** A vector as JSON array text with shortest f32 numbers. */
export function vectorText(v: Float32Array): string {
  return "[" + Array.from(v, f32Text).join(", ") + "]";
}

/** Registers `vexfs vector ...`. */
export function register(program: Command): void {
  const vec = defineCommand(
    program,
    "vector",
    "set, get or delete the vector of a file",
  );
  vec.addHelpText(
    "after",
    "\nThe file must be a regular file below a collection root (see 'vexfs collection').",
  );
  examples(vec, [
    "vexfs vector set disk.img /docs/a.md --vector '[0.1, 0.2, 0.3]'",
    "vexfs vector get disk.img /docs/a.md",
    "vexfs vector delete disk.img /docs/a.md",
    "vexfs vector get /mnt/vexfs/docs/a.md          # on a mounted VexFS (ioctl)",
  ]);

  const set = defineCommand(vec, "set", "set (or replace) the vector of a file")
    .argument(
      "<target>",
      "image file or device (IMAGE), or a path on a mounted VexFS (then leave out the next argument)",
    )
    .argument("[file]", "regular file inside a collection (a path inside IMAGE)")
    .option(
      "--vector <numbers>",
      "the vector as a JSON array '[0.1, 0.2]' or numbers separated by spaces or commas",
    )
    .option(
      "--raw <file>",
      "read the vector as raw little-endian f32 from FILE, or - for standard input",
    )
    .action(
      action(
        "vector set",
        async (image: string, file: string | undefined, o: VectorSource) => {
          if (
            (o.vector === undefined) === (o.raw === undefined)
          ) throw new CliError("give exactly one of --vector, --raw");
          await withTarget(image, file, true, async (b, file) => {
            const coll = await b.collectionForFile(file);
            const v = await vectorFromOptions(o, coll.dim);
            await b.setVector(file, v);
          });
        },
      ),
    );
  set.addHelpText(
    "after",
    "\nThe vector must have the collection's dimension; it is stored in the collection's element type.",
  );
  examples(set, [
    "vexfs vector set disk.img /docs/a.md --vector '[0.1, 0.2, 0.3]'",
    "vexfs vector set disk.img /docs/a.md --vector '0.1 0.2 0.3'",
    "vexfs vector set disk.img /docs/a.md --raw emb.f32    # e.g. numpy: v.astype('<f4').tofile('emb.f32')",
    "cat emb.f32 | vexfs vector set disk.img /docs/a.md --raw -",
  ]);

  const get = defineCommand(vec, "get", "print the vector of a file")
    .argument(
      "<target>",
      "image file or device (IMAGE), or a path on a mounted VexFS (then leave out the next argument)",
    )
    .argument("[file]", "regular file inside a collection (a path inside IMAGE)")
    .option(
      "--json",
      "print {path, collection, vector} as JSON (docs/JSON.md)",
    )
    .option(
      "--raw",
      "write the vector as raw little-endian f32 bytes to standard output",
    )
    .action(
      action(
        "vector get",
        async (
          image: string,
          fileArg: string | undefined,
          o: { json?: boolean; raw?: boolean },
        ) => {
          if (o.json && o.raw) {
            throw new CliError(
              "give at most one of --json, --raw",
            );
          }
          await withTarget(image, fileArg, false, async (b, file) => {
            const r = await b.getVector(file);
            if (!r) {
              throw new CliError(
                `${fsPath(file)} has no vector (set one with 'vexfs vector set')`,
              );
            }
            if (o.raw) {
              const out = new Uint8Array(r.vector.length * 4);
              const dv = new DataView(out.buffer);
              r.vector.forEach((x, i) => dv.setFloat32(i * 4, x, true));
              writeStdout(out);
            } else if (o.json) {
              printJsonResult("vector get", {
                path: fsPath(file),
                collection: collectionJson(r.collection),
                vector: Array.from(r.vector, (x) => Number(f32Text(x))),
              });
            } else say(vectorText(r.vector));
          });
        },
      ),
    );
  get.addHelpText(
    "after",
    "\nWithout options the vector is printed as a JSON array, which 'vector set --vector' accepts.",
  );
  examples(get, [
    "vexfs vector get disk.img /docs/a.md",
    "vexfs vector get --json disk.img /docs/a.md",
    "vexfs vector get --raw disk.img /docs/a.md > a.f32",
  ]);

  registerDelete(vec);
}
