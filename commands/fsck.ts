/**
 * `vexfs fsck`: check and repair a filesystem with src/fsck/fsck.ts, with
 * e2fsck's options (-n, -p/-a, -y, -f, -v) and fsck(8)'s exit codes.
 * @module
 */
import type { Command } from "commander";
import {
  fsck,
  FSCK_CANCELED,
  FSCK_ERROR,
  FSCK_NONDESTRUCT,
  FSCK_UNCORRECTED,
  FSCK_USAGE,
  type FsckOptions,
  type FsckProblem,
  type FsckReport,
} from "../src/fsck/fsck.ts";
import {
  action,
  c,
  CliError,
  defineCommand,
  deprecatedAlias,
  examples,
  formatDuration,
  kvTable,
  progress,
  say,
} from "./util.ts";
import { fsckJson, printJsonResult } from "./json.ts";

/** Exit code of fsck(8) for an operational error (FSCK_ERROR, kept under its older name for the commands). */
export const FSCK_OPERATIONAL_ERROR: number = FSCK_ERROR;

const SEVERITY_ORDER = ["error", "warning", "info"];

function severityColor(sev: string): (s: string) => string {
  if (sev === "error") return c.red;
  if (sev === "warning") return c.yellow;
  return c.dim;
}

/** Problems grouped by severity, most severe first. */
export function groupProblems(r: FsckReport): [string, FsckReport["problems"]][] {
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

/**
 * One problem as a line: code, where, message, e2fsck's "Fix? yes/no" when
 * it has a repair, and what to do next once it is repaired.
 */
export function problemLine(p: FsckProblem): string {
  const fix = p.fix ? ` ${p.fix}? ${p.fixed ? c.green("yes") : "no"}` : "";
  const next = p.next ? ` -> ${p.next}` : "";
  return `${p.code} ${p.where ? `${p.where}: ` : ""}${p.message}${fix}${next}`;
}

/** The one-line summary, in the spirit of e2fsck's. */
export function summaryLine(r: FsckReport): string {
  const s = r.stats;
  if (r.exitCode === FSCK_ERROR) return `${r.path}: ${c.red("not checked")} (operational error, exit code 8)`;
  if (r.exitCode === FSCK_USAGE) return `${r.path}: ${c.red("not checked")} (usage error, exit code 16)`;
  if (r.exitCode === FSCK_CANCELED) return `${r.path}: ${c.yellow("check cancelled")} (exit code 32)`;
  const errors = r.problems.filter((p) => p.severity === "error" && !p.fixed).length;
  const fixed = r.problems.filter((p) => p.fixed).length;
  const parts: string[] = [];
  if (r.exitCode & FSCK_NONDESTRUCT) parts.push(c.yellow(`${fixed} problem${fixed === 1 ? "" : "s"} fixed`));
  if (r.exitCode & FSCK_UNCORRECTED) parts.push(c.red(`${errors} error${errors === 1 ? "" : "s"} left`));
  if (!parts.length) parts.push(c.green("clean"));
  return `${r.path}: ${parts.join(", ")}, ${s.inodes} inodes (${s.files} files, ${s.dirs} directories, ${s.symlinks} ` +
    `symlinks), ${s.blocksUsed}/${s.blockCount} blocks, ${s.vectors} vectors in ${s.collections} collection${
      s.collections === 1 ? "" : "s"
    }${s.orphans ? `, ${s.orphans} orphans` : ""}${r.skipped ? " (not checked: marked clean; -f checks)" : ""} (${
      formatDuration(r.elapsedMs)
    })`;
}

/**
 * Runs the checker showing its progress on stderr (commands/progress.ts: one
 * bar relabelled per pass on a terminal, plain lines otherwise).
 * @param target image file or block device
 * @param opts the options of {@link fsck}; `true` is a full read-only check (`-n -f`), `false` a full check too
 * @param quiet show no progress
 */
export function runFsck(target: string, opts: boolean | FsckOptions, quiet = false): FsckReport {
  const o: FsckOptions = typeof opts === "boolean" ? { readOnly: true, force: true } : opts;
  const bar = progress("fsck", 0, { unit: "", quiet });
  try {
    return fsck(target, { ...o, onProgress: (phase, done, total) => bar.update(done, total, `fsck: ${phase}`) });
  } finally {
    bar.stop();
  }
}

interface CliOptions {
  dryRun?: boolean;
  preen?: boolean;
  auto?: boolean;
  yes?: boolean;
  force?: boolean;
  json?: boolean;
  verbose?: boolean;
  quiet?: boolean;
}

/** Registers `vexfs fsck`. */
export function register(program: Command): void {
  const cmd = defineCommand(
    program,
    "fsck",
    "check and repair a VexFS filesystem (like e2fsck: -n checks only, -p repairs what is safe, -y repairs all)",
  )
    .argument("<target>", "image file or block device (DEVICE|IMAGE); it must not be mounted to be repaired")
    .option(
      "-n, --dry-run",
      "open read-only and change nothing; answer 'no' to every repair (the default; given explicitly, a mounted " +
        "or in-use target is checked too, without its lock)",
    )
    .option(
      "-p, --preen",
      "repair what is safe without a person (counts, bitmaps, orphans, a dirty flag); stop at anything else",
    )
    .option("-a, --auto", "the same as -p (kept for compatibility, as in e2fsck)")
    .option("-y, --yes", "repair everything that can be repaired")
    .option("-f, --force", "check even when the filesystem is marked clean")
    .option("--json", "print the full report as JSON")
    .option("-v, --verbose", "also print informational findings and the statistics table")
    .option("-q, --quiet", "no progress on stderr (the report still prints)")
    .action(
      action("fsck", (target: string, o: CliOptions) => {
        const preen = !!(o.preen || o.auto);
        let r: FsckReport;
        try {
          r = runFsck(target, { readOnly: !!o.dryRun, preen, yes: !!o.yes, force: !!o.force }, !!o.quiet);
        } catch (e) {
          if (e instanceof CliError) throw e;
          throw new CliError((e as Error).message.replace(/^[A-Z0-9]+: /, ""), FSCK_OPERATIONAL_ERROR);
        }
        if (o.json) {
          printJsonResult("fsck", fsckJson(r));
          return r.exitCode;
        }
        for (const [sev, list] of groupProblems(r)) {
          if (sev === "info" && !o.verbose) continue;
          const col = severityColor(sev);
          say(col(c.bold(`${sev} (${list.length}):`)));
          for (const p of list) say(`  ${problemLine(p).replace(p.code, col(p.code))}`);
        }
        if (o.verbose) {
          const s = r.stats;
          say(kvTable([
            ["mode", r.skipped ? `${r.mode} (skipped: marked clean)` : r.mode],
            ["inodes in use", s.inodes],
            ["regular files", s.files],
            ["directories", s.dirs],
            ["symlinks", s.symlinks],
            ["blocks in use", `${s.blocksUsed} of ${s.blockCount}`],
            ["collections", s.collections],
            ["vectors", s.vectors],
            ["orphans", s.orphans],
            ["problems fixed", r.fixed],
            ["runs", r.runs],
            ["time", formatDuration(r.elapsedMs)],
            ["exit code", r.exitCode],
          ]));
        }
        if (r.exitCode & FSCK_NONDESTRUCT) say(c.bold(`***** ${r.path}: FILESYSTEM WAS MODIFIED *****`));
        if ((r.exitCode & FSCK_UNCORRECTED) && r.mode === "check") {
          say(`Nothing was changed. To repair: unmount it and run 'vexfs fsck -y ${target}'.`);
        }
        say(summaryLine(r));
        return r.exitCode;
      }),
    );
  deprecatedAlias(cmd, "--read-only", "--dry-run", "-n is --dry-run, as in mkfs");
  // fsck(8): a usage error is exit 16 (commander's own errors, such as an unknown option)
  cmd.exitOverride((err) => {
    if (err.exitCode !== 0) Deno.exit(FSCK_USAGE);
    Deno.exit(0);
  });
  cmd.addHelpText(
    "after",
    `
Modes (as e2fsck): without -p or -y nothing is changed (-n). -p (preen) repairs
only what is safe without a person and otherwise stops with "UNEXPECTED
INCONSISTENCY" and exit 4; -y repairs everything and then checks again until a
check finds nothing. Repairs are refused while the target is mounted or in use.
Without -f a filesystem marked clean is only scanned for its counts.

Problems are listed by severity (error, warning; info with -v), each with a
stable code, where it is, what it means, and its repair ("Fix? yes" when made).
The passes (superblock, journal, inodes, directories, orphans, collections,
connectivity, link counts, duplicates, repairs, bitmaps) show their progress on
stderr: a bar on a terminal, a plain line every 5 s otherwise (see 'vexfs
--help', VEXFS_PROGRESS); -q silences it.

Exit status (fsck(8), summed): 0 no errors (warnings allowed), 1 errors
corrected, 4 errors left uncorrected, 8 operational error (cannot open or read
the target, not a VexFS filesystem, in use, checker failure), 16 usage error
(such as -n with -y), 32 cancelled.`,
  );
  examples(cmd, [
    "vexfs fsck disk.img",
    "vexfs fsck -f -n /dev/sdb1",
    "vexfs fsck -p disk.img",
    "vexfs fsck -y disk.img",
    "vexfs fsck --json -f disk.img > report.json",
  ]);
}
