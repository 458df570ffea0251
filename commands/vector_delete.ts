/**
 * `vexfs vector delete`: remove the vectors of many files at once (paths,
 * globs inside an image, a list on stdin); the files stay.
 * @module
 */
import type { Command } from "commander";
import { expandGlob, hasGlob } from "../src/fs/glob.ts";
import { type FsBackend, OfflineBackend, withBackend } from "./backend.ts";
import { MountedBackend } from "./mounted.ts";
import { action, CliError, defineCommand, examples, fsPath, readStdin, say } from "./util.ts";
import { printJsonResult } from "./json.ts";

interface DeleteFlags {
  force?: boolean;
  stdin?: boolean;
  json?: boolean;
}

/** What a delete did. */
export interface DeleteSummary {
  /** vectors removed */
  deleted: number;
  /** files matched that had no vector (skipped) */
  withoutVector: number;
}

/**
 * Removes the vectors of `paths` (paths inside an image offline, host paths
 * on a mount; offline, a path with glob characters that names no file is
 * expanded, and its matches that are not regular files are skipped). Every
 * named path is checked first: a missing one, one that is not a regular
 * file, or (without `force`) one without a vector is refused before any
 * vector is removed.
 * @throws CliError naming the first bad path; a glob that matches nothing
 */
export async function deleteVectors(b: FsBackend, paths: string[], force: boolean): Promise<DeleteSummary> {
  const todo: string[] = [];
  const s: DeleteSummary = { deleted: 0, withoutVector: 0 };
  for (const p of paths) {
    const st = await b.stat(p);
    if (!st && b instanceof OfflineBackend && hasGlob(p)) {
      const m = expandGlob(b.fs, fsPath(p));
      if (!m.length) throw new CliError(`${p}: no file matches`);
      for (const q of m) {
        const sq = await b.stat(q);
        if (sq?.type !== "file") continue;
        if (sq.hasVector) todo.push(q);
        else s.withoutVector++;
      }
      continue;
    }
    if (!st) throw new CliError(`${p}: no such file (nothing was deleted)`);
    if (st.type !== "file") throw new CliError(`${p} is not a regular file (nothing was deleted)`);
    if (!st.hasVector) {
      if (!force) throw new CliError(`${p} has no vector (nothing was deleted; -f skips such files)`);
      s.withoutVector++;
      continue;
    }
    todo.push(p);
  }
  for (const p of new Set(todo)) if (await b.deleteVector(p)) s.deleted++;
  return s;
}

/** Registers `vexfs vector delete` on the `vector` command. */
export function registerDelete(vec: Command): void {
  const del = defineCommand(vec, "delete", "remove the vectors of files (the files stay)")
    .argument(
      "<target>",
      "image file or device (IMAGE), or a file on a mounted VexFS (then every FILE is one too), or a directory on one (only names the mount)",
    )
    .argument("[files...]", "regular files inside a collection (paths inside IMAGE, globs allowed)")
    .option("-f, --force", "skip files that have no vector instead of refusing")
    .option("--stdin", "also read paths from stdin, one a line (taken as they are, no globs)")
    .option("--json", "print {deleted, without_vector} as JSON (docs/JSON.md)")
    .action(
      action("vector delete", async (target: string, files: string[], o: DeleteFlags) => {
        const extra: string[] = [];
        if (o.stdin) {
          for (const l of new TextDecoder().decode(await readStdin()).split("\n")) {
            const t = l.endsWith("\r") ? l.slice(0, -1) : l;
            if (t !== "") extra.push(t);
          }
        }
        let st: Deno.FileInfo;
        try {
          st = await Deno.stat(target);
        } catch {
          throw new CliError(`${target}: no such image, device or file`);
        }
        const m = st.isDirectory || st.isFile ? await MountedBackend.at(target) : null;
        let s: DeleteSummary;
        if (m) {
          // a directory first names the mount only (e.g. with --stdin); a file is one to delete
          const paths = [...(st.isDirectory ? [] : [target]), ...files, ...extra];
          if (!paths.length) throw new CliError("give the files (or --stdin)");
          s = await deleteVectors(m, paths, !!o.force);
        } else {
          const paths = [...files, ...extra];
          if (!paths.length) throw new CliError("give the files inside IMAGE (or --stdin)");
          s = await withBackend(target, true, (b) => deleteVectors(b, paths, !!o.force));
        }
        if (o.json) printJsonResult("vector delete", { deleted: s.deleted, without_vector: s.withoutVector });
        else {
          say(
            `deleted ${s.deleted} vector${s.deleted === 1 ? "" : "s"}` +
              (s.withoutVector ? ` (${s.withoutVector} file(s) had none)` : ""),
          );
        }
      }),
    );
  del.addHelpText(
    "after",
    `
On a mount the shell expands globs; inside an unmounted image give them
quoted and vexfs expands them (*, ?, [...], ** for any depth). Every path
named is checked before anything is removed.`,
  );
  examples(del, [
    "vexfs vector delete disk.img /docs/a.md /docs/b.md",
    "vexfs vector delete disk.img '/docs/**/*.tmp'",
    "find /mnt/vexfs/docs -name '*.old' | vexfs vector delete --stdin /mnt/vexfs",
    "vexfs export disk.img /docs | jq -r '\"/docs/\" + .path' | vexfs vector delete --stdin disk.img",
    "vexfs vector delete /mnt/vexfs/docs/*.md               # on a mounted VexFS",
  ]);
}
