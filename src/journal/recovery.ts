/**
 * Journal recovery (docs/FORMAT.md §9.5): replays the committed transactions
 * of a jbd2-format journal in the three passes of the kernel's
 * `fs/jbd2/recovery.c` (shared with e2fsprogs as `e2fsck/recovery.c`):
 *
 * 1. scan from the log tail (`s_start`, `s_sequence`) to the end of the log,
 *    the last transaction whose commit block is present and checksums;
 * 2. collect revoke records, keeping the highest tid that revoked each block;
 * 3. replay each tagged block in log order unless a later-or-equal revoke
 *    covers it, verifying its tag checksum and restoring escaped magic.
 *
 * {@link scanLog} and {@link replayLog} know nothing of VexFS beyond a way to
 * read journal blocks, so the same code replays an ext4 journal in tests
 * against e2fsprogs; {@link recoverJournal} is the VexFS entry point used by
 * the engine, fsck and the read-only paths.
 *
 * @example
 * ```ts
 * import { Device } from "../device/device.ts";
 * import { decodeSuperblock } from "../format/superblock.ts";
 * import { recoverJournal } from "./recovery.ts";
 * const dev = Device.open("disk.img", { readOnly: true });
 * const raw = new Uint8Array(1024);
 * dev.read(1024, raw);
 * const r = recoverJournal(dev, decodeSuperblock(raw), { write: false });
 * console.log(r.transactions, "transactions,", r.overlay?.size, "blocks in memory");
 * ```
 * @module
 */
import type { BlockDevice } from "../device/device.ts";
import { FsError } from "../errors.ts";
import { INCOMPAT_JOURNAL, INCOMPAT_RECOVER, JOURNAL_INO } from "../format/constants.ts";
import {
  blockTailOk,
  commitChecksumOk,
  commitTime,
  decodeDescriptorTags,
  decodeJournalSuperblock,
  decodeRevoke,
  encodeJournalSuperblock,
  JBD2_COMMIT_BLOCK,
  JBD2_DESCRIPTOR_BLOCK,
  JBD2_FEATURE_INCOMPAT_64BIT,
  JBD2_FLAG_ESCAPE,
  JBD2_MAGIC,
  JBD2_REVOKE_BLOCK,
  journalCsumSeed,
  type JournalSuperblock,
  journalSuperblockProblems,
  readHeader,
  tagChecksum,
  tidGeq,
  unescapeBlock,
} from "../format/journal.ts";
import { blockSizeOf, type Superblock } from "../format/superblock.ts";
import { journalMap } from "./map.ts";

/** One journaled block of a transaction found by {@link scanLog}. */
export interface LoggedBlock {
  /** filesystem block it belongs to */
  fsBlock: number;
  /** journal block holding its new contents */
  journalBlock: number;
  /** JBD2_FLAG_* of its tag */
  flags: number;
  /** its tag checksum */
  checksum: number;
}

/** One committed transaction found by {@link scanLog}. */
export interface LoggedTransaction {
  tid: number;
  /** journal block of its first block */
  start: number;
  blocks: LoggedBlock[];
  /** filesystem blocks it revoked */
  revokes: number[];
  /** commit time, seconds since the epoch */
  commitSec: number;
}

/** What {@link scanLog} found. */
export interface LogScan {
  /** committed transactions, oldest first */
  transactions: LoggedTransaction[];
  /** the tid after the last committed transaction (what the next writer uses) */
  nextTid: number;
  /** journal block after the last committed transaction */
  end: number;
  /** why the scan ended where it did, when that was not a clean end of log */
  notes: string[];
}

/**
 * Pass 1: finds the committed transactions from the log tail. A block with
 * the wrong magic or sequence, a descriptor or revoke block whose checksum
 * fails, or a commit block whose checksum fails ends the log (the
 * transaction in progress there never committed, or its blocks were torn);
 * checksum failures are noted.
 * @param readJ returns journal block `j` (blockSize bytes)
 * @param jsb the decoded journal superblock (already validated)
 */
export function scanLog(readJ: (j: number) => Uint8Array, jsb: JournalSuperblock): LogScan {
  const out: LogScan = { transactions: [], nextTid: jsb.sequence, end: jsb.start, notes: [] };
  if (jsb.start === 0) return out;
  const seed = journalCsumSeed(jsb.uuid);
  const is64 = (jsb.featureIncompat & JBD2_FEATURE_INCOMPAT_64BIT) !== 0;
  const logLen = jsb.maxlen - jsb.first;
  const wrap = (j: number) => (j >= jsb.maxlen ? jsb.first + (j - jsb.maxlen) : j);
  let tid = jsb.sequence;
  let j = jsb.start;
  let scanned = 0;
  let cur: LoggedTransaction = { tid, start: j, blocks: [], revokes: [], commitSec: 0 };
  while (scanned < logLen) {
    const b = readJ(j);
    const here = j;
    j = wrap(j + 1);
    scanned++;
    const h = readHeader(b);
    if (h.magic !== JBD2_MAGIC || h.sequence !== tid) break;
    if (h.blockType === JBD2_DESCRIPTOR_BLOCK) {
      if (!blockTailOk(b, seed)) {
        out.notes.push(`descriptor block ${here} of transaction ${tid} fails its checksum; the log ends there`);
        break;
      }
      const tags = decodeDescriptorTags(b, is64);
      if (scanned + tags.length > logLen) {
        out.notes.push(`descriptor block ${here} of transaction ${tid} tags more blocks than the log holds`);
        break;
      }
      for (const t of tags) {
        cur.blocks.push({ fsBlock: t.block, journalBlock: j, flags: t.flags, checksum: t.checksum });
        j = wrap(j + 1);
        scanned++;
      }
    } else if (h.blockType === JBD2_REVOKE_BLOCK) {
      if (!blockTailOk(b, seed)) {
        out.notes.push(`revoke block ${here} of transaction ${tid} fails its checksum; the log ends there`);
        break;
      }
      cur.revokes.push(...decodeRevoke(b, is64));
    } else if (h.blockType === JBD2_COMMIT_BLOCK) {
      if (!commitChecksumOk(b, seed)) {
        out.notes.push(`commit block ${here} of transaction ${tid} fails its checksum; the log ends there`);
        break;
      }
      cur.commitSec = commitTime(b);
      out.transactions.push(cur);
      tid = (tid + 1) >>> 0;
      out.nextTid = tid;
      out.end = j;
      cur = { tid, start: j, blocks: [], revokes: [], commitSec: 0 };
    } else break;
  }
  if (out.transactions.length === 0) out.end = jsb.start;
  return out;
}

/** What {@link replayLog} did. */
export interface ReplayStats {
  /** blocks written (or put in the overlay), counting a block once per transaction */
  blocks: number;
  /** tagged blocks skipped because a revoke record covers them */
  revoked: number;
  /** filesystem blocks whose journal copy failed its tag checksum (skipped) */
  badBlocks: number[];
  /** tagged blocks outside the filesystem (skipped) */
  outOfRange: number[];
}

/**
 * Passes 2 and 3: revoke records, then replay. `apply(fsBlock, bytes)` is
 * called in log order with each block's new contents (unescaped).
 * @param blockCount filesystem blocks; tags at or past it are skipped
 */
export function replayLog(
  readJ: (j: number) => Uint8Array,
  jsb: JournalSuperblock,
  scan: LogScan,
  blockCount: number,
  apply: (fsBlock: number, bytes: Uint8Array) => void,
): ReplayStats {
  const seed = journalCsumSeed(jsb.uuid);
  const revoked = new Map<number, number>();
  for (const t of scan.transactions) {
    for (const b of t.revokes) {
      const old = revoked.get(b);
      if (old === undefined || tidGeq(t.tid, old)) revoked.set(b, t.tid);
    }
  }
  const stats: ReplayStats = { blocks: 0, revoked: 0, badBlocks: [], outOfRange: [] };
  for (const t of scan.transactions) {
    for (const lb of t.blocks) {
      const r = revoked.get(lb.fsBlock);
      if (r !== undefined && tidGeq(r, t.tid)) {
        stats.revoked++;
        continue;
      }
      const data = readJ(lb.journalBlock).slice();
      if (tagChecksum(seed, t.tid, data) !== lb.checksum) {
        stats.badBlocks.push(lb.fsBlock);
        continue;
      }
      if (lb.fsBlock >= blockCount) {
        stats.outOfRange.push(lb.fsBlock);
        continue;
      }
      if (lb.flags & JBD2_FLAG_ESCAPE) unescapeBlock(data);
      apply(lb.fsBlock, data);
      stats.blocks++;
    }
  }
  return stats;
}

/** What {@link recoverJournal} did. */
export interface RecoveryResult {
  /** whether the journal needed recovery (s_start ≠ 0 or RECOVER set) */
  needed: boolean;
  /** committed transactions replayed */
  transactions: number;
  /** blocks written (or overlaid) */
  blocks: number;
  /** tagged blocks skipped because revoked */
  revoked: number;
  /** filesystem blocks whose journal copy failed its checksum (skipped, reported) */
  badBlocks: number[];
  /** tid of the last replayed transaction (s_sequence - 1 if none) */
  lastTid: number;
  /** with `write: false`: the replayed blocks, block number → contents (block size bytes) */
  overlay?: Map<number, Uint8Array>;
  /**
   * What is wrong with the journal itself (its inode, its superblock, a
   * checksum that ended the log early). A journal with a bad superblock is
   * not replayed.
   */
  problems: string[];
}

/** Options of {@link recoverJournal}. */
export interface RecoverOptions {
  /**
   * true: write the replayed blocks home, mark the log empty and clear
   * RECOVER (the device must be writable). false: replay into
   * `overlay` and write nothing.
   */
  write: boolean;
}

/**
 * Replays the journal of a VexFS filesystem if it needs recovery (FORMAT.md
 * §9.5). Does nothing (needed: false) for a filesystem without a journal or
 * with an empty log and RECOVER clear.
 *
 * With `write: true` the sequence is: replay every block, barrier, journal
 * superblock with `s_start` = 0 and `s_sequence` = last tid + 1, barrier,
 * then the VexFS superblock (as replayed) without RECOVER, barrier. A crash
 * at any point leaves a journal that replays again to the same result.
 *
 * @param dev the filesystem's device
 * @param sb its superblock as read from disk (before replay)
 * @throws FsError EUCLEAN when the journal inode cannot be mapped (its
 *   extents are damaged); EIO from the device. Journal superblock problems do
 *   not throw: they come back in `problems` with nothing replayed.
 */
export function recoverJournal(dev: BlockDevice, sb: Superblock, opts: RecoverOptions): RecoveryResult {
  const result: RecoveryResult = {
    needed: false,
    transactions: 0,
    blocks: 0,
    revoked: 0,
    badBlocks: [],
    lastTid: 0,
    problems: [],
  };
  if (!(sb.featureIncompat & INCOMPAT_JOURNAL)) return result;
  if (sb.journalIno !== JOURNAL_INO) {
    result.problems.push(`journal_ino is ${sb.journalIno}, not ${JOURNAL_INO}`);
    return result;
  }
  const bs = blockSizeOf(sb);
  const map = journalMap(dev, sb);
  const readJ = (j: number) => {
    const buf = new Uint8Array(bs);
    dev.read(map(j) * bs, buf);
    return buf;
  };
  const raw = readJ(0);
  const jp = journalSuperblockProblems(raw, bs, sb.journalBlocks);
  if (jp.length) {
    result.problems.push(...jp.map((p) => `journal superblock: ${p}`));
    result.needed = (sb.featureIncompat & INCOMPAT_RECOVER) !== 0;
    return result;
  }
  const jsb = decodeJournalSuperblock(raw);
  result.needed = jsb.start !== 0 || (sb.featureIncompat & INCOMPAT_RECOVER) !== 0;
  result.lastTid = (jsb.sequence - 1) >>> 0;
  if (!result.needed) return result;
  const scan = scanLog(readJ, jsb);
  result.problems.push(...scan.notes);
  const overlay = new Map<number, Uint8Array>();
  const stats = replayLog(readJ, jsb, scan, sb.blockCount, (b, data) => {
    if (opts.write) dev.write(b * bs, data);
    else overlay.set(b, data);
  });
  result.transactions = scan.transactions.length;
  result.blocks = stats.blocks;
  result.revoked = stats.revoked;
  result.badBlocks = stats.badBlocks;
  if (stats.badBlocks.length) {
    result.problems.push(
      `${stats.badBlocks.length} journaled block(s) failed their checksum and were not replayed: ${
        stats.badBlocks.slice(0, 10).join(", ")
      }`,
    );
  }
  if (stats.outOfRange.length) {
    result.problems.push(`${stats.outOfRange.length} journaled block(s) lie outside the filesystem and were skipped`);
  }
  result.lastTid = (scan.nextTid - 1) >>> 0;
  if (!opts.write) {
    result.overlay = overlay;
    return result;
  }
  dev.sync();
  jsb.start = 0;
  jsb.sequence = scan.nextTid;
  dev.write(map(0) * bs, encodeJournalSuperblock(jsb, bs));
  dev.sync();
  return result;
}

/**
 * Whether the filesystem's journal needs recovery, without replaying:
 * RECOVER is set or the journal superblock's `s_start` ≠ 0.
 * @throws FsError EUCLEAN when the journal inode cannot be mapped
 */
export function journalNeedsRecovery(dev: BlockDevice, sb: Superblock): boolean {
  if (!(sb.featureIncompat & INCOMPAT_JOURNAL)) return false;
  if (sb.featureIncompat & INCOMPAT_RECOVER) return true;
  const bs = blockSizeOf(sb);
  const raw = new Uint8Array(bs);
  try {
    dev.read(journalMap(dev, sb)(0) * bs, raw);
  } catch (e) {
    if (e instanceof FsError) return false;
    throw e;
  }
  return decodeJournalSuperblock(raw).start !== 0;
}
