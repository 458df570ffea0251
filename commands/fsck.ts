/**
 * `vexfs fsck`: check (and repair) a filesystem with src/fsck/fsck.ts; exit
 * codes as fsck(8).
 * @module
 */
import type { Command } from "commander";
import { fsck, type FsckReport } from "../src/fsck/fsck.ts";
import { action, c, CliError, defineCommand, examples, formatMs, kvTable, printJson, progress, say } from "./util.ts";

/** Exit code of fsck(8) for an operational error. */
export const FSCK_OPERATIONAL_ERROR = 8;

const SEVERITY_ORDER = ["error", "warning", "info"];

function severityColor(sev: string): (s: string) => string {
  if (sev === "error") return c.red;
  if (sev === "warning") return c.yellow;
  return c.dim;
}

/** Problems grouped by severity, most severe first. */
export function groupProblems(
  r: FsckReport,
): [string, FsckReport["problems"]][] {
  const groups = new Map<string, FsckReport["problems"]>();
  for (const p of r.problems) {
    const g = groups.get(p.severity) ?? [];
    g.push(p);
    groups.set(p.severity, g);
  }
  const rank = (s: string) => {
    const i = SEVERITY_ORDER.indexOf(s);
    return i < 0 ? SEVERITY_ORDER.length : i;
  };
  return [...groups.entries()].sort((a, b) => rank(a[0]) - rank(b[0]));
}

/** The one-line summary, in the spirit of e2fsck's. */
export function summaryLine(r: FsckReport): string {
  const s = r.stats;
  if (r.exitCode === FSCK_OPERATIONAL_ERROR) {
    return `${r.path}: ${c.red("not checked")} (operational error, exit code 8)`;
  }
  if (r.exitCode === 32) {
    return `${r.path}: ${c.yellow("check cancelled")} (exit code 32)`;
  }
  const errors = r.problems.filter((p) => p.severity === "error").length;
  const state = r.exitCode === 0
    ? c.green("clean")
    : errors
    ? c.red(`${errors} error${errors === 1 ? "" : "s"}`)
    : c.yellow(`exit ${r.exitCode}`);
  return `${r.path}: ${state}, ${s.inodes} inodes (${s.files} files, ${s.dirs} directories, ${s.symlinks} symlinks), ` +
    `${s.blocksUsed}/${s.blockCount} blocks, ${s.vectors} vectors in ${s.collections} collection${
      s.collections === 1 ? "" : "s"
    }` +
    `${s.orphans ? `, ${s.orphans} orphans` : ""} (${formatMs(r.elapsedMs)})`;
}

/** Runs the checker with a progress bar on stderr (one bar, relabelled per phase). */
export function runFsck(target: string, readOnly: boolean): FsckReport {
  const bar = progress("fsck", 1, "");
  try {
    return fsck(target, {
      readOnly,
      onProgress: (phase, done, total) => bar.update(done, total, `fsck: ${phase}`),
    });
  } finally {
    bar.stop();
  }
}

/** Registers `vexfs fsck`. */
export function register(program: Command): void {
  const cmd = defineCommand(
    program,
    "fsck",
    "check a VexFS filesystem for consistency (like e2fsck; this version checks, it does not repair)",
  )
    .argument(
      "<target>",
      "image file or block device (DEVICE|IMAGE); it must not be mounted",
    )
    .option(
      "-n, --read-only",
      "open read-only and change nothing, as e2fsck -n (this version never writes either way; without -n the report notes that repair is not implemented yet)",
    )
    .option("--json", "print the full report as JSON")
    .option(
      "-v, --verbose",
      "also print informational findings and the statistics table",
    )
    .action(
      action(
        "fsck",
        (
          target: string,
          o: { readOnly?: boolean; json?: boolean; verbose?: boolean },
        ) => {
          let r: FsckReport;
          try {
            r = runFsck(target, !!o.readOnly);
          } catch (e) {
            if (e instanceof CliError) throw e;
            throw new CliError(
              (e as Error).message.replace(/^[A-Z0-9]+: /, ""),
              FSCK_OPERATIONAL_ERROR,
            );
          }
          if (o.json) {
            printJson(r);
            return r.exitCode;
          }
          for (const [sev, list] of groupProblems(r)) {
            if (sev === "info" && !o.verbose) {
              continue;
            }
            const col = severityColor(sev);
            say(col(c.bold(`${sev} (${list.length}):`)));
            for (const p of list) {
              say(
                `  ${col(p.code)} ${p.where ? `${p.where}: ` : ""}${p.message}`,
              );
            }
          }
          if (o.verbose) {
            const s = r.stats;
            say(kvTable([
              ["inodes in use", s.inodes],
              ["regular files", s.files],
              ["directories", s.dirs],
              ["symlinks", s.symlinks],
              ["blocks in use", `${s.blocksUsed} of ${s.blockCount}`],
              ["collections", s.collections],
              ["vectors", s.vectors],
              ["orphans", s.orphans],
              ["time", formatMs(r.elapsedMs)],
              ["exit code", r.exitCode],
            ]));
          }
          say(summaryLine(r));
          return r.exitCode;
        },
      ),
    );
  cmd.addHelpText(
    "after",
    `
Problems are listed by severity (error, warning; info with -v), each with a
stable code, where it is and what it means, followed by a summary line.
The phases (superblock, inodes, directories, connectivity, orphans, collections,
link counts, bitmaps) are shown in a progress bar on stderr.

Exit status (fsck(8)): 0 no errors (warnings allowed), 1 errors corrected,
4 errors left uncorrected, 8 operational error (cannot open or read the target,
not a VexFS filesystem, checker failure), 32 cancelled.`,
  );
  examples(cmd, [
    "vexfs fsck disk.img",
    "vexfs fsck -n /dev/sdb1",
    "vexfs fsck --json disk.img > report.json",
  ]);
}
