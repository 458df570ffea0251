/**
 * `vexfs export`: the files with a vector under a directory (a collection,
 * or any subtree of one) as JSONL that `vexfs import --jsonl` reads back
 * (docs/JSONL.md); streamed, one record at a time, to a file or stdout.
 * @module
 */
import type { Command } from "commander";
import { type ExportEntry, exportLine, mountedEntries, offlineEntries } from "../src/data/export.ts";
import { settingsLine } from "../src/data/jsonl_settings.ts";
import { OfflineBackend, withTarget } from "./backend.ts";
import {
  action,
  CliError,
  defineCommand,
  examples,
  formatCount,
  formatDuration,
  fsPath,
  progress,
  warn,
} from "./util.ts";

interface ExportFlags {
  output?: string;
  text?: boolean;
  quiet?: boolean;
  /** false with --no-settings */
  settings?: boolean;
}

/** Records written per write to the output (lines are joined first). */
const LINES_PER_WRITE = 64;

/** Registers `vexfs export`. */
export function register(program: Command): void {
  const cmd = defineCommand(program, "export", "write the files with a vector under a directory as JSONL")
    .argument(
      "<target>",
      "image file or device (IMAGE), or a directory on a mounted VexFS (then leave out the next argument)",
    )
    .argument("[dir]", "directory inside IMAGE to export (a collection root or below it)")
    .option("-o, --output <file>", "write to this file (default: stdout)")
    .option("--text", 'include each file\'s content as "text" (it must be UTF-8)')
    .option("--no-settings", "leave out the first line with the collection's settings (docs/JSONL.md)")
    .option("-q, --quiet", "no progress and no summary on stderr")
    .action(
      action("export", async (target: string, dirArg: string | undefined, o: ExportFlags) => {
        const out = o.output === undefined
          ? Deno.stdout
          : await Deno.open(o.output, { write: true, create: true, truncate: true });
        const enc = new TextEncoder();
        let n = 0;
        const t0 = performance.now();
        // streamed: the number of files is known ahead only for a whole collection (its vector count)
        const bar = progress("export", 0, { unit: "files", quiet: o.quiet });
        try {
          await withTarget(target, dirArg, false, async (b, dir) => {
            const st = await b.stat(dir);
            if (!st) throw new CliError(`${dir}: no such directory`);
            if (st.type !== "dir") throw new CliError(`${dir} is not a directory`);
            const entries: Iterable<ExportEntry> | AsyncIterable<ExportEntry> = b instanceof OfflineBackend
              ? offlineEntries(b.fs, b.resolve(fsPath(dir)), { text: o.text })
              : mountedEntries(dir, { text: o.text });
            let buf: string[] = [];
            // the collection's settings first, so that an import can create it alike
            const around = await b.collectionOfDir(dir);
            if (around && around.rootIno === st.ino) bar.update(0, around.count);
            const coll = o.settings === false ? null : around;
            if (coll) buf.push(settingsLine(coll) + "\n");
            const flush = async () => {
              const data = enc.encode(buf.join(""));
              buf = [];
              let off = 0;
              while (off < data.length) off += await out.write(data.subarray(off));
            };
            for await (const e of entries) {
              buf.push(exportLine(e) + "\n");
              n++;
              bar.update(n);
              if (buf.length >= LINES_PER_WRITE) await flush();
            }
            await flush();
          });
        } finally {
          bar.stop();
          if (out !== Deno.stdout) out.close();
        }
        if (!o.quiet) {
          warn(
            `exported ${formatCount(n)} file${n === 1 ? "" : "s"}${o.output ? ` to ${o.output}` : ""} in ${
              formatDuration(performance.now() - t0)
            }`,
          );
        }
      }),
    );
  cmd.addHelpText(
    "after",
    `
First, when DIR is in a collection, a line with its settings (unless
--no-settings):
  {"vexfs_collection": {"dim": 384, "metric": "cosine", "type": "f32", ...}}
then one JSON object per line for every regular file with a vector under DIR
(subdirectories included, names in sorted order):
  {"path": "guides/intro.md", "vector": [...], "text": "...", "lang": "en"}
"path" is relative to DIR; "text" only with --text; every user.* xattr of
the file (but the vector's own user.vexfs.*) becomes a field of its name
without "user.". 'vexfs import --jsonl' reads it back into the same files,
vectors (bit for bit), texts and xattrs, and creates a missing collection
with the same settings. Format: docs/JSONL.md.

Progress (files and rate) goes to stderr, as a bar on a terminal and a plain
line every 5 s otherwise (VEXFS_PROGRESS, see 'vexfs --help'), then a summary
line; -q silences both.`,
  );
  examples(cmd, [
    "vexfs export disk.img /docs --text -o docs.jsonl",
    "vexfs export /mnt/vexfs/docs --text > docs.jsonl        # on a mounted VexFS",
    "vexfs import new.img /docs --jsonl docs.jsonl           # and back",
  ]);
}
