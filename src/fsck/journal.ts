/**
 * The journal (FORMAT.md §9; e2fsck's `journal.c`): inode 4 and the jbd2
 * superblock in its block 0, and the replay of a log that needs recovery.
 *
 * {@link recoverBeforeCheck} runs before the first pass, as e2fsck replays
 * before it checks: with -n the committed transactions are replayed into
 * memory and the check reads through an {@link OverlayDevice}, so it sees
 * the state a mount would see and writes nothing; with -p or -y they are
 * replayed onto the device ("recovering journal").
 *
 * Checks ({@link passJournal}, after the superblock): `journal_ino` is 4 and
 * `journal_blocks` is a valid length; inode 4 is an internal regular file
 * mapping exactly `journal_blocks` blocks from file block 0 without holes or
 * unwritten extents; its superblock passes `journalSuperblockProblems`
 * (src/format/journal.ts); no error is recorded in it; after a replay the
 * log is empty.
 *
 * Gathers for later passes: inode 4 as the internal file "journal", so its
 * blocks are claimed like any other inode's.
 *
 * Repairs: a damaged journal superblock, or a log that could not be
 * replayed, is replaced by a fresh empty journal superblock; a damaged
 * journal inode is cleared and a new journal of the same length is made in
 * the repairs phase ({@link writeJournal}), as e2fsck offers to recreate
 * the journal; when no room is left for it the filesystem loses its
 * journal. The RECOVER flag is cleared once the log is empty.
 * @module
 */
import type { BlockDevice } from "../device/device.ts";
import { OverlayDevice } from "../device/overlay.ts";
import {
  EXT_UNWRITTEN,
  IFL_INTERNAL,
  INCOMPAT_JOURNAL,
  INCOMPAT_RECOVER,
  JOURNAL_INO,
  S_IFREG,
  SB_OFFSET,
  SB_SIZE,
} from "../format/constants.ts";
import {
  decodeJournalSuperblock,
  encodeJournalSuperblock,
  JBD2_MAX_JOURNAL_BLOCKS,
  JBD2_MIN_JOURNAL_BLOCKS,
  journalSuperblockProblems,
  newJournalSuperblock,
} from "../format/journal.ts";
import { decodeSuperblock, superblockProblems } from "../format/superblock.ts";
import { recoverJournal } from "../journal/recovery.ts";
import {
  clearInode,
  errText,
  type FsckContext,
  type FsckMode,
  type FsckProblem,
  type InodeInfo,
  typeName,
} from "./context.ts";
import { ensureInode, hasJournal, loadInodeBitmap } from "./pass1_inodes.ts";
import { newInode, RepairError, writeFileContent } from "./rewrite.ts";

interface State {
  /** write a fresh journal superblock into this device block */
  resetAt?: number;
  /** sequence for the fresh journal superblock */
  sequence: number;
  /** re-create inode 4 and its journal */
  recreate: boolean;
}

const STATE = new WeakMap<FsckContext, State>();

/**
 * Replays a journal that needs recovery, before anything is checked.
 * @param dev the opened device
 * @param mode check: into memory; preen/yes: onto the device
 * @returns the device to check (an overlay in check mode when blocks were
 *   replayed), whether a replay happened, and the problems to report
 */
export function recoverBeforeCheck(
  dev: BlockDevice,
  mode: FsckMode,
): { dev: BlockDevice; replayed: boolean; problems: FsckProblem[] } {
  const problems: FsckProblem[] = [];
  const none = { dev, replayed: false, problems };
  if (dev.size < SB_OFFSET + SB_SIZE) return none;
  const raw = new Uint8Array(SB_SIZE);
  dev.read(SB_OFFSET, raw);
  if (superblockProblems(raw, dev.size).length) return none;
  const sb = decodeSuperblock(raw);
  if (!(sb.featureIncompat & INCOMPAT_JOURNAL)) return none;
  let r;
  try {
    r = recoverJournal(dev, sb, { write: mode !== "check" });
  } catch {
    return none; // the journal inode cannot be mapped: passJournal reports it
  }
  if (!r.needed || r.problems.some((p) => p.startsWith("journal superblock") || p.startsWith("journal_ino"))) {
    return none;
  }
  const bs = 1024 << sb.logBlockSize;
  problems.push({
    code: "JOURNAL_RECOVERED",
    severity: "info",
    where: "journal",
    message: `The journal held ${r.transactions} committed transaction(s) (${r.blocks} blocks, ${r.revoked} revoked)${
      mode === "check"
        ? "; they were replayed in memory for this check and nothing was written"
        : "; they were replayed onto the device (recovering journal)"
    }.`,
    fix: "Replay it",
    fixed: mode !== "check",
  });
  for (const p of r.problems) {
    const bad = r.badBlocks.length > 0 && p.includes("failed their checksum");
    problems.push({
      code: "JOURNAL_REPLAY_PROBLEM",
      severity: bad ? "warning" : "info",
      where: "journal",
      message: `Journal replay: ${p}.`,
      fixed: false,
    });
  }
  if (mode === "check" && r.overlay?.size) {
    return { dev: new OverlayDevice(dev, bs, r.overlay), replayed: true, problems };
  }
  return { dev, replayed: true, problems };
}

/** What is wrong with inode 4 as the journal, or undefined. */
function journalInodeProblem(ctx: FsckContext, info: InodeInfo): string | undefined {
  if (!info.usable) return info.cleared ? "it was cleared" : `it is not a valid inode (${info.why})`;
  const d = info.d!;
  if (info.type !== S_IFREG) return `it is a ${typeName(info.type)}`;
  if (!(d.flags & IFL_INTERNAL)) return "it lacks the INTERNAL flag";
  let next = 0;
  for (const e of info.exts) {
    if (e.logical !== next) return `file block ${next} is not mapped (a hole)`;
    if (e.flags & EXT_UNWRITTEN) return `the extent at file block ${e.logical} is unwritten`;
    next += e.length;
  }
  const n = ctx.sb.journalBlocks;
  if (next !== n) return `it maps ${next} blocks but journal_blocks is ${n}`;
  if (d.size !== n * ctx.bs) return `its size is ${d.size} bytes, not ${n * ctx.bs}`;
  return undefined;
}

/** Checks the journal (see the module documentation). */
export function passJournal(ctx: FsckContext): void {
  const st: State = { sequence: 1, recreate: false };
  STATE.set(ctx, st);
  if (!hasJournal(ctx)) return;
  const sb = ctx.sb;
  ctx.internalRole.set(JOURNAL_INO, "journal");
  loadInodeBitmap(ctx);
  if (sb.journalIno !== JOURNAL_INO) {
    if (
      ctx.ask("JOURNAL_FIELDS", {
        where: "superblock",
        detail: `journal_ino is ${sb.journalIno}; the journal is always inode ${JOURNAL_INO}.`,
      })
    ) {
      sb.journalIno = JOURNAL_INO;
      ctx.sbDirty = true;
    }
  }
  const info = ensureInode(ctx, JOURNAL_INO);
  let why: string | undefined;
  if (
    !Number.isSafeInteger(sb.journalBlocks) || sb.journalBlocks < JBD2_MIN_JOURNAL_BLOCKS ||
    sb.journalBlocks > JBD2_MAX_JOURNAL_BLOCKS || sb.journalBlocks >= sb.blockCount
  ) {
    why = `journal_blocks ${sb.journalBlocks} is not a valid journal length (${JBD2_MIN_JOURNAL_BLOCKS}..${
      Math.min(JBD2_MAX_JOURNAL_BLOCKS, sb.blockCount - 1)
    })`;
  } else why = journalInodeProblem(ctx, info);
  if (why) {
    if (ctx.ask("JOURNAL_INODE", { ino: JOURNAL_INO, why })) {
      if (info.usable) clearInode(ctx, info, "cleared: not a usable journal");
      st.recreate = true;
    }
    return;
  }
  const block0 = info.exts[0].physical;
  let raw: Uint8Array;
  try {
    raw = ctx.readBlock(block0);
  } catch (e) {
    ctx.note("READ_ERROR", { ino: JOURNAL_INO, what: "The journal superblock", err: errText(e) });
    return;
  }
  const problems = journalSuperblockProblems(raw, ctx.bs, sb.journalBlocks);
  const jsb = decodeJournalSuperblock(raw);
  st.sequence = problems.length ? 1 : (jsb.sequence + 1) >>> 0 || 1;
  if (problems.length) {
    if (ctx.ask("JOURNAL_SUPERBLOCK", { ino: JOURNAL_INO, why: problems.join("; ") })) st.resetAt = block0;
  } else if (jsb.start !== 0 && ctx.repairing) {
    // the replay before the check did not empty it
    if (ctx.ask("JOURNAL_SUPERBLOCK", { ino: JOURNAL_INO, why: "its log is not empty but could not be replayed" })) {
      st.resetAt = block0;
    }
  } else if (jsb.errno !== 0) {
    if (
      ctx.ask("JOURNAL_FIELDS", {
        ino: JOURNAL_INO,
        detail: `The journal records error ${jsb.errno} from an earlier use (a user abandoned it after an error).`,
        fix: "Clear the error",
      })
    ) {
      st.resetAt = block0;
      st.sequence = jsb.sequence;
    }
  }
  if ((sb.featureIncompat & INCOMPAT_RECOVER) && ctx.repairing) {
    // the log was replayed (or reset) before anything else: nothing is left to recover
    sb.featureIncompat &= ~INCOMPAT_RECOVER;
    ctx.sbDirty = true;
  }
}

/**
 * Repairs phase: writes a fresh journal superblock, or re-creates inode 4
 * with an empty journal of `journal_blocks` blocks; without room for it, the
 * filesystem loses its journal (the JOURNAL and RECOVER flags and the journal
 * fields are cleared) and the report says so.
 */
export function writeJournal(ctx: FsckContext): void {
  const st = STATE.get(ctx);
  if (!st) return;
  const sb = ctx.sb;
  const fresh = () => {
    const j = newJournalSuperblock(ctx.bs, sb.journalBlocks, sb.uuid);
    j.sequence = st.sequence;
    return encodeJournalSuperblock(j, ctx.bs);
  };
  if (st.resetAt !== undefined) ctx.writeBlock(st.resetAt, fresh());
  if (!st.recreate) return;
  const n = sb.journalBlocks;
  const valid = Number.isSafeInteger(n) && n >= JBD2_MIN_JOURNAL_BLOCKS && n <= JBD2_MAX_JOURNAL_BLOCKS;
  let free = 0;
  for (let b = sb.firstDataBlock; b < sb.blockCount - 1 && valid && free < n + 64; b++) if (!ctx.isClaimed(b)) free++;
  if (valid && free >= n + 64) {
    const info = newInode(ctx, JOURNAL_INO, S_IFREG | 0o600, IFL_INTERNAL, 0, 0);
    const content = new Uint8Array(n * ctx.bs);
    content.set(fresh());
    try {
      writeFileContent(ctx, info, content);
      sb.featureIncompat &= ~INCOMPAT_RECOVER;
      sb.journalIno = JOURNAL_INO;
      ctx.sbDirty = true;
      return;
    } catch (e) {
      if (!(e instanceof RepairError)) throw e;
      clearInode(ctx, info, "cleared: no room for a journal");
    }
  }
  sb.featureIncompat &= ~(INCOMPAT_JOURNAL | INCOMPAT_RECOVER);
  sb.journalIno = 0;
  sb.journalBlocks = 0;
  ctx.sbDirty = true;
  ctx.internalRole.delete(JOURNAL_INO);
  ctx.note("REPAIR_FAILED", {
    where: "journal",
    what: "The journal",
    err: "there is no room for a new one, so the filesystem now runs without a journal",
    severity: "warning",
  });
}
