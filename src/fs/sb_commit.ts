/**
 * Offline superblock changes for the administration tools (`vexfs tune`,
 * `vexfs resize`): open a filesystem that is not in use, bring it to a
 * quiescent state (journal replayed, log empty, RECOVER clear), and commit a
 * new superblock, its backup and a few other metadata blocks atomically.
 *
 * With a journal (docs/FORMAT.md §9.4) the new primary superblock's block,
 * the block that will hold the backup superblock (the last block, §2) and
 * the other blocks form one jbd2 transaction (a backup past the old end of
 * a grown filesystem is written and flushed before it instead: no state
 * before the commit uses that block, and replay skips blocks past the old
 * end); it is checkpointed home and
 * the log emptied before returning. A crash before the commit block is
 * durable leaves the old superblock and backup; after it, replay writes all
 * of them, so primary and backup never disagree on what the change set
 * (fsck compares their geometry, label and UUID). Journaling the backup's
 * block is an addition to what the engine journals, and harmless to any
 * replay: a tagged block is simply written home.
 *
 * Without a journal the other blocks are written and flushed first, then the
 * backup, a flush, and the primary, a flush: a crash in between leaves a
 * superblock pair fsck -p reconciles (SB_BACKUP_MISMATCH, rewritten from the
 * primary), the primary being either entirely old or entirely new (it is
 * one 1024-byte write).
 * @module
 */
import type { BlockDevice } from "../device/device.ts";
import { FsError } from "../errors.ts";
import { INCOMPAT_JOURNAL, INCOMPAT_RECOVER, SB_OFFSET } from "../format/constants.ts";
import { blockSizeOf, encodeSuperblock, type Superblock } from "../format/superblock.ts";
import { Journal } from "../journal/journal.ts";
import { readForOpen } from "./superblock_io.ts";

/**
 * Replays the journal onto `dev` when it needs recovery (FORMAT.md §9.5)
 * and returns the superblock as it then is on disk: with a journal, the log
 * is empty and RECOVER is clear afterwards.
 * @throws FsError EUCLEAN (not VexFS, damaged superblock or journal), EROFS
 *   (read-only-compatible features this version cannot write)
 */
export function quiesce(dev: BlockDevice): Superblock {
  const { sb } = readForOpen(dev, false);
  if (sb.featureIncompat & INCOMPAT_RECOVER) {
    throw new FsError("EUCLEAN", `${dev.path}: the journal still needs recovery after a replay; run vexfs fsck`);
  }
  return sb;
}

/**
 * Commits superblock `sb` (primary and backup, at `sb.blockCount - 1`)
 * together with `blocks` (filesystem block → `block_size` bytes), as the
 * module documentation describes. `sb.writeTime` is set to now.
 * @param journalSb the superblock that says where the journal is (the one on
 *   disk before the change; the log must be empty: see {@link quiesce})
 * @throws FsError EIO from the device, EFBIG when the blocks do not fit in one transaction
 */
export function commitSuperblock(
  dev: BlockDevice,
  journalSb: Superblock,
  sb: Superblock,
  blocks: Map<number, Uint8Array> = new Map(),
): void {
  const bs = blockSizeOf(sb);
  sb.featureIncompat &= ~INCOMPAT_RECOVER;
  sb.writeTime = Math.floor(Date.now() / 1000);
  const raw = encodeSuperblock(sb);
  const sbBlock = Math.floor(SB_OFFSET / bs);
  const backupBlock = sb.blockCount - 1;
  if (blocks.has(sbBlock) || blocks.has(backupBlock)) {
    throw new FsError("EINVAL", "commitSuperblock: the superblock blocks are its own");
  }
  const primary = new Uint8Array(bs);
  dev.read(sbBlock * bs, primary);
  primary.set(raw, SB_OFFSET - sbBlock * bs);
  const backup = new Uint8Array(bs);
  dev.read(backupBlock * bs, backup);
  backup.set(raw, 0);
  if (journalSb.featureIncompat & INCOMPAT_JOURNAL) {
    const j = Journal.load(dev, journalSb);
    const all = new Map(blocks);
    all.set(sbBlock, primary);
    if (backupBlock < journalSb.blockCount) all.set(backupBlock, backup);
    else {
      // A grown filesystem's backup lies past the old end, where no state before the commit looks and
      // where replay would not write it (it skips blocks outside the filesystem): write it first.
      dev.write(backupBlock * bs, backup);
      dev.sync();
    }
    j.commit(all, []);
    j.checkpointAll();
    return;
  }
  const sorted = [...blocks.entries()].sort((a, b) => a[0] - b[0]);
  for (const [b, data] of sorted) dev.write(b * bs, data);
  if (sorted.length) dev.sync();
  dev.write(backupBlock * bs, raw);
  dev.sync();
  dev.write(SB_OFFSET, raw);
  dev.sync();
}
