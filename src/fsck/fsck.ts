/**
 * `fsck`: the consistency checker and repairer of VexFS, what e2fsck(8) is
 * to ext4. It reads the raw on-disk structures of docs/FORMAT.md through the
 * format codecs (never through the engine), so a damaged structure becomes a
 * reported problem instead of an exception, and repairs in place.
 *
 * This file is the driver (e2fsck's `unix.c` and `e2fsck.c`): options, the
 * device, the pass table and the restarts. The passes, one module each, share
 * one {@link FsckContext} (`context.ts`); every problem is an entry of
 * `PROBLEM_CODES` (`problems.ts`):
 *
 * | phase          | module              | e2fsck      | what                                                   |
 * | -------------- | ------------------- | ----------- | ------------------------------------------------------ |
 * | `superblock`   | `superblock.ts`     | `super.c`   | primary and backup superblock, state, error record     |
 * | `journal`      | `journal.ts`        | `journal.c` | journal inode and superblock, replay                   |
 * | `inodes`       | `pass1_inodes.ts`   | `pass1.c`   | every inode: checksum, flags, extents, xattrs, sizes   |
 * | `xattr stores` | `xattr_stores.ts`   | (VexFS)     | xattr store inodes, entry blocks, value runs           |
 * | `directories`  | `pass2_dirs.ts`     | `pass2.c`   | hash trees, entries and their targets                  |
 * | `orphans`      | `orphans.ts`        | `super.c`   | the orphan list                                        |
 * | `collections`  | `collections.ts`    | (VexFS)     | collection table, slot maps, vector stores, vectors    |
 * | `connectivity` | `pass3_connect.ts`  | `pass3.c`   | every directory reachable once; /lost+found            |
 * | `link counts`  | `pass4_links.ts`    | `pass4.c`   | nlink, parent pointers, unlinked inodes                |
 * | `duplicates`   | `pass1b_dups.ts`    | `pass1b.c`  | blocks claimed twice; the computed block bitmap        |
 * | `repairs`      | `rewrite.ts`        | (rehash.c)  | writes what the passes changed (repairs only)          |
 * | `bitmaps`      | `pass5_bitmaps.ts`  | `pass5.c`   | both bitmaps and the free counts                       |
 *
 * Modes, as e2fsck's options: check only (`readOnly`, -n, the default: the
 * device is opened read-only and nothing is written), preen (`preen`, -p:
 * only the repairs marked safe, else stop with exit 4 and a `PREEN_HALT`
 * problem) and yes (`yes`, -y: every repair). A repairing run that changed
 * anything is followed by another run from the start (e2fsck's restart), up
 * to {@link MAX_RUNS}, until a run finds nothing to repair: a second
 * `fsck -y` then changes nothing and exits 0. Without `force` a filesystem
 * marked clean is only scanned quickly (`superblock.ts`'s `quickCheck`).
 *
 * Exit codes follow fsck(8) and are named in `context.ts`: 0 clean, 1
 * errors corrected, 4 errors left uncorrected (1 + 4 = 5 when some were
 * corrected and some not), 8 operational error (cannot open or read, not
 * VexFS, in use and a repair was asked, checker failure), 16 usage error,
 * 32 cancelled (`onProgress` threw {@link FsckCancelled}).
 *
 * @example
 * ```ts
 * import { fsck } from "./fsck.ts";
 * const r = fsck("disk.img", { yes: true });
 * for (const p of r.problems) console.log(`${p.code} ${p.where}: ${p.message}${p.fixed ? " (fixed)" : ""}`);
 * Deno.exit(r.exitCode);
 * ```
 * @module
 */
import { type BlockDevice, Device } from "../device/device.ts";
import { mountedState } from "../device/probe.ts";
import { FsError } from "../errors.ts";
import {
  errText,
  FSCK_CANCELED,
  FSCK_ERROR,
  FSCK_NONDESTRUCT,
  FSCK_OK,
  FSCK_UNCORRECTED,
  FSCK_USAGE,
  FsckCancelled,
  FsckContext,
  type FsckMode,
  type FsckOptions,
  type FsckProblem,
  type FsckReport,
  type FsckStats,
  PreenHalt,
} from "./context.ts";
import { passSuperblock, quickCheck, writeSuperblock } from "./superblock.ts";
import { passJournal, recoverBeforeCheck } from "./journal.ts";
import { passInodes } from "./pass1_inodes.ts";
import { passDirectories } from "./pass2_dirs.ts";
import { passXattrStores } from "./xattr_stores.ts";
import { passOrphans } from "./orphans.ts";
import { passCollections } from "./collections.ts";
import { passConnectivity } from "./pass3_connect.ts";
import { passLinks } from "./pass4_links.ts";
import { passDuplicates } from "./pass1b_dups.ts";
import { writeOut } from "./rewrite.ts";
import { passBitmaps } from "./pass5_bitmaps.ts";
import { S_IFDIR, S_IFLNK, S_IFREG } from "../format/constants.ts";

export {
  FSCK_CANCELED,
  FSCK_ERROR,
  FSCK_NONDESTRUCT,
  FSCK_OK,
  FSCK_REBOOT,
  FSCK_UNCORRECTED,
  FSCK_USAGE,
  FsckCancelled,
  type FsckMode,
  type FsckOptions,
  type FsckProblem,
  type FsckReport,
  type FsckSeverity,
  type FsckStats,
} from "./context.ts";
export { PROBLEM_CODES, type ProblemDef } from "./problems.ts";

/** Runs at most this many times over the filesystem when repairs keep changing it. */
export const MAX_RUNS = 5;

/**
 * The pass table, in order (the superblock comes first, `writeSuperblock`
 * last). `repairOnly` passes run only when repairing.
 */
const PASSES: readonly { name: string; run: (ctx: FsckContext) => void; repairOnly?: boolean }[] = [
  { name: "journal", run: passJournal },
  { name: "inodes", run: passInodes },
  { name: "xattr stores", run: passXattrStores },
  { name: "directories", run: passDirectories },
  { name: "orphans", run: passOrphans },
  { name: "collections", run: passCollections },
  { name: "connectivity", run: passConnectivity },
  { name: "link counts", run: passLinks },
  { name: "duplicates", run: passDuplicates },
  { name: "repairs", run: writeOut, repairOnly: true },
  { name: "bitmaps", run: passBitmaps },
];

function emptyStats(): FsckStats {
  return {
    inodes: 0,
    dirs: 0,
    files: 0,
    symlinks: 0,
    blocksUsed: 0,
    blockCount: 0,
    vectors: 0,
    collections: 0,
    orphans: 0,
  };
}

/** One problem made outside a run (options, opening the device). */
function problem(code: string, severity: FsckProblem["severity"], where: string, message: string): FsckProblem {
  return { code, severity, where, message, fixed: false };
}

/**
 * Checks, and with `preen` or `yes` repairs, the VexFS filesystem on an
 * image file, a block device, or an open {@link BlockDevice}.
 *
 * Never throws for anything about the filesystem: an unopenable path gives
 * exit code 8 with an `OPEN_FAILED` problem, a file without VexFS gives 8
 * with `NOT_VEXFS`, a corrupted structure gives problems and exit code 4
 * (or 1 once repaired).
 *
 * Opening a path: to check, an image file is opened read-only with a shared
 * `flock`; if another process holds it exclusively (a read-write mount) it is
 * read without the lock and an `IN_USE` warning says the results may show
 * changes in flight; a mounted block device gets the same warning. To
 * repair, the path is opened read-write and claimed exclusively (`O_EXCL`
 * for a block device, an exclusive `flock` for an image); a mounted or
 * otherwise held one is refused with `IN_USE` and exit 8, as e2fsck refuses.
 * A {@link BlockDevice} given by the caller (such as a `MemDevice`) is used
 * as it is, without locks or mount probes, and left open.
 *
 * @param target image file or block device path, or an open {@link BlockDevice}
 * @param opts see {@link FsckOptions}; the default checks fully and changes nothing
 * @returns the report; `exitCode` follows fsck(8) (see the module documentation)
 */
export function fsck(target: string | BlockDevice, opts: FsckOptions = {}): FsckReport {
  const t0 = performance.now();
  const path = typeof target === "string" ? target : target.path;
  const mode: FsckMode = opts.yes ? "yes" : opts.preen ? "preen" : "check";
  const problems: FsckProblem[] = [];
  let stats = emptyStats();
  let runs = 0;
  const done = (exitCode: number, skipped = false): FsckReport => ({
    path,
    mode,
    problems,
    exitCode,
    skipped,
    fixed: problems.filter((p) => p.fixed).length,
    runs,
    stats,
    elapsedMs: performance.now() - t0,
  });
  if ((opts.readOnly && (opts.yes || opts.preen)) || (opts.yes && opts.preen)) {
    problems.push(problem(
      "USAGE",
      "error",
      path,
      opts.yes && opts.preen
        ? "-p (preen) and -y (fix everything) cannot be combined."
        : `-n (change nothing) cannot be combined with ${opts.yes ? "-y" : "-p"}.`,
    ));
    return done(FSCK_USAGE);
  }
  const opened = openTarget(target, mode, problems, opts.readOnly === true);
  if (!opened) return done(FSCK_ERROR);
  const { owned } = opened;
  let dev = opened.dev;
  try {
    if (opts.force === false) {
      const q = quickCheck(dev);
      if ("stats" in q) {
        stats = q.stats;
        return done(FSCK_OK, true);
      }
    }
    const rec = recoverBeforeCheck(dev, mode);
    problems.push(...rec.problems);
    dev = rec.dev;
    let exit: number | undefined;
    let last: FsckContext | undefined;
    for (runs = 1; runs <= MAX_RUNS; runs++) {
      const ctx = new FsckContext(path, mode, opts.onProgress);
      ctx.dev = dev;
      ctx.replayed = rec.replayed;
      let halted = false;
      try {
        exit = runOnce(ctx);
      } catch (e) {
        if (e instanceof PreenHalt) halted = true;
        else if (e instanceof FsckCancelled) {
          problems.push(...ctx.finish());
          return done(FSCK_CANCELED);
        } else {
          ctx.note("CHECKER_FAILED", {
            where: path,
            err: errText(e),
            state: ctx.wrote ? "repairs made before the failure were written" : "the filesystem was not modified",
          });
          exit = FSCK_ERROR;
        }
      }
      if (runs > 1 && ctx.problemCount) {
        problems.push({
          code: "RESTARTED",
          severity: "info",
          where: path,
          message:
            `The repairs changed the filesystem, so it was checked again from the start to verify them (run ${runs}).`,
          fixed: false,
        });
      }
      // a halted preen writes none of the repairs it had decided
      problems.push(...ctx.finish().map((p) => halted && !ctx.wrote ? { ...p, fixed: false } : p));
      stats = statsOf(ctx);
      last = ctx;
      if (ctx.wrote) dev.sync();
      if (halted) {
        exit = FSCK_UNCORRECTED;
        break;
      }
      if (exit !== undefined || mode === "check" || ctx.fixes === 0) break;
      if (runs === MAX_RUNS) {
        problems.push(problem(
          "REPAIR_FAILED",
          "error",
          path,
          `The repairs had not settled after ${MAX_RUNS} runs; run fsck again.`,
        ));
      }
    }
    runs = Math.min(runs, MAX_RUNS);
    const corrected = problems.some((p) => p.fixed && p.severity !== "info");
    if (exit === undefined) {
      const left = (last?.uncorrected ?? false) ||
        problems.some((p) => p.code === "REPAIR_FAILED" && p.severity === "error");
      exit = (corrected ? FSCK_NONDESTRUCT : 0) | (left ? FSCK_UNCORRECTED : 0);
    } else if (exit === FSCK_UNCORRECTED && corrected) exit |= FSCK_NONDESTRUCT;
    return done(exit);
  } catch (e) {
    if (e instanceof FsckCancelled) return done(FSCK_CANCELED);
    problems.push(problem(
      "CHECKER_FAILED",
      "error",
      path,
      `The checker stopped unexpectedly: ${errText(e)}. Please report this as a bug.`,
    ));
    return done(FSCK_ERROR);
  } finally {
    if (owned) {
      try {
        opened.dev.close();
      } catch { /* a close error after sync changes nothing */ }
    }
  }
}

/** One run of every pass over the filesystem; returns an exit code when it cannot go on. */
function runOnce(ctx: FsckContext): number | undefined {
  ctx.progress("superblock", 0, 1);
  const sbExit = passSuperblock(ctx);
  ctx.progress("superblock", 1, 1);
  if (sbExit !== undefined) return sbExit;
  for (const p of PASSES) {
    if (p.repairOnly && !ctx.repairing) continue;
    try {
      p.run(ctx);
    } catch (e) {
      if (e instanceof FsckCancelled || e instanceof PreenHalt) throw e;
      ctx.note("PHASE_ABORTED", { where: `phase ${p.name}`, phase: p.name, err: errText(e) });
      // a repair on an incomplete picture could do harm: stop before anything more is written
      if (ctx.repairing) return FSCK_ERROR;
    }
  }
  writeSuperblock(ctx);
  return undefined;
}

/** The report's counts from the model of a run. */
function statsOf(ctx: FsckContext): FsckStats {
  const s = { ...ctx.stats, inodes: 0, dirs: 0, files: 0, symlinks: 0 };
  for (const i of ctx.infos.values()) {
    if (!i.usable) continue;
    s.inodes++;
    if (i.type === S_IFDIR) s.dirs++;
    else if (i.type === S_IFLNK) s.symlinks++;
    else if (i.type === S_IFREG && !(i.d!.flags & 0x4)) s.files++;
  }
  return s;
}

/** Opens the target for the mode; on failure records why and returns undefined. */
function openTarget(
  target: string | BlockDevice,
  mode: FsckMode,
  problems: FsckProblem[],
  explicitReadOnly: boolean,
): { dev: BlockDevice; owned: boolean } | undefined {
  if (typeof target !== "string") {
    if (!target.isOpen) {
      problems.push(problem("OPEN_FAILED", "error", target.path, `Cannot open ${target.path}: the device is closed.`));
      return;
    }
    if (mode !== "check" && target.readOnly) {
      problems.push(problem(
        "OPEN_FAILED",
        "error",
        target.path,
        `Cannot repair ${target.path}: the device is read-only. Check it with -n instead.`,
      ));
      return;
    }
    return { dev: target, owned: false };
  }
  const path = target;
  const failed = (e: unknown) => {
    problems.push(problem("OPEN_FAILED", "error", path, `Cannot open ${path}: ${errText(e)}.`));
    return undefined;
  };
  if (mode !== "check") {
    try {
      return { dev: Device.open(path, { readOnly: false, exclusive: true }), owned: true };
    } catch (e) {
      if (e instanceof FsError && e.code === "EBUSY") {
        problems.push(problem(
          "IN_USE",
          "error",
          path,
          `${path} is in use (mounted, or held by another process): it cannot be repaired while in use. Unmount it ` +
            "first, or check it without changes with -n.",
        ));
        return;
      }
      return failed(e);
    }
  }
  let dev: Device;
  try {
    dev = Device.open(path, { readOnly: true, exclusive: false });
  } catch (e) {
    if (!(e instanceof FsError && e.code === "EBUSY")) return failed(e);
    if (!explicitReadOnly) {
      // As e2fsck: a filesystem in use is checked only when -n was asked for explicitly.
      problems.push(problem(
        "IN_USE",
        "error",
        path,
        `${path} is in use (mounted, or held by another process): unmount it first, or check it read-only with ` +
          "-n (the results may then show changes in flight).",
      ));
      return;
    }
    try {
      dev = Device.open(path, { readOnly: true, exclusive: false, lock: false });
    } catch (e2) {
      return failed(e2);
    }
    problems.push(problem(
      "IN_USE",
      "warning",
      path,
      "The image is held read-write by another process (mounted?); it was checked without its lock and the results " +
        "may show changes in flight. Unmount it for a reliable check.",
    ));
  }
  if (dev.kind === "block") {
    try {
      const ms = mountedState(path);
      if ((ms.mounted || ms.busy) && !explicitReadOnly) {
        dev.close();
        problems.push(problem(
          "IN_USE",
          "error",
          path,
          `${path} is in use (${ms.users.join("; ") || `mounted on ${ms.where}`}): unmount it first, or check it ` +
            "read-only with -n (the results may then show changes in flight).",
        ));
        return;
      }
      if (ms.mounted || ms.busy) {
        problems.push(problem(
          "IN_USE",
          "warning",
          path,
          `The device is in use (${ms.users.join("; ") || `mounted on ${ms.where}`}); it was checked read-only and ` +
            "the results may show changes in flight. Unmount it for a reliable check.",
        ));
      }
    } catch { /* best effort */ }
  }
  return { dev, owned: true };
}
