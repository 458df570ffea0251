/**
 * What opening reads before it trusts anything: the primary superblock
 * (docs/FORMAT.md §3), the backup one at the start of the last block (§2)
 * found without the primary, the journal replayed when it needs recovery
 * (§9.5), and the checks of the bitmaps against the
 * superblock (§2.1) that decide whether a read-write open may go on. Used
 * by {@link Vexfs.openDevice}, as ext2fs_open2 reads and checks the
 * superblock before the rest.
 * @module
 */
import type { BlockDevice } from "../device/device.ts";
import { FsError } from "../errors.ts";
import {
  FIRST_INO,
  INCOMPAT_JOURNAL,
  SB_OFFSET,
  SB_SIZE,
  STATE_CLEAN,
  SUPPORTED_RO_COMPAT,
} from "../format/constants.ts";
import {
  blockSizeOf,
  decodeSuperblock,
  metaRegions,
  type Superblock,
  superblockProblems,
} from "../format/superblock.ts";
import { journalExtents } from "../journal/map.ts";
import { OverlayDevice } from "../device/overlay.ts";
import { recoverJournal, type RecoveryResult } from "../journal/recovery.ts";
import type { Vexfs } from "./fs.ts";

/**
 * Reads and validates the primary superblock of `dev`.
 * @throws FsError EUCLEAN naming what is wrong
 */
export function readSuperblock(dev: BlockDevice): Superblock {
  if (dev.size < SB_OFFSET + SB_SIZE) {
    throw new FsError(
      "EUCLEAN",
      `${dev.path} is only ${dev.size} bytes: too small to hold a VexFS superblock`,
    );
  }
  const raw = new Uint8Array(SB_SIZE);
  dev.read(SB_OFFSET, raw);
  const problems = superblockProblems(raw, dev.size);
  if (problems.length) {
    throw new FsError(
      "EUCLEAN",
      `${dev.path} does not hold a usable VexFS filesystem: ${problems.join("; ")}`,
    );
  }
  return decodeSuperblock(raw);
}

/**
 * Reads the superblock for an open and replays the journal when it needs
 * recovery (FORMAT.md §9.5): onto the device when `readOnly` is false, into
 * memory otherwise, when the device returned is an overlay over `dev` that
 * shows the replayed blocks. A primary superblock torn by a power cut is
 * recovered through the backup's journal location.
 * @returns the device to use, the superblock, and what the replay did (null without a journal)
 * @throws FsError EUCLEAN (not VexFS, damaged superblock, a journal that
 *   needs recovery but cannot be replayed), EROFS (read-only-compatible
 *   features this version cannot write, unless `readOnly`)
 */
export function readForOpen(
  dev: BlockDevice,
  readOnly: boolean,
): { dev: BlockDevice; sb: Superblock; recovery: RecoveryResult | null } {
  let sb: Superblock;
  let recovery: RecoveryResult | null = null;
  try {
    sb = readSuperblock(dev);
  } catch (e) {
    // A primary superblock torn by a power cut during its home write is repaired
    // by replaying the journal, which holds the superblock's block in every
    // transaction (FORMAT.md §9.4); the backup superblock says where the journal is.
    const backup = findBackupSuperblock(dev);
    if (!backup || !(backup.featureIncompat & INCOMPAT_JOURNAL)) throw e;
    recovery = recoverJournal(dev, backup, { write: !readOnly });
    if (!recovery.needed || recovery.transactions === 0) throw e;
    if (readOnly && recovery.overlay?.size) dev = new OverlayDevice(dev, blockSizeOf(backup), recovery.overlay);
    sb = readSuperblock(dev);
  }
  if (!readOnly && (sb.featureRoCompat & ~SUPPORTED_RO_COMPAT)) {
    throw new FsError(
      "EROFS",
      `${dev.path} uses features 0x${
        (sb.featureRoCompat & ~SUPPORTED_RO_COMPAT).toString(16)
      } that this version can only read: open it read-only`,
    );
  }
  if (sb.featureIncompat & INCOMPAT_JOURNAL && !recovery) {
    recovery = recoverJournal(dev, sb, { write: !readOnly });
    const broken = recovery.problems.filter((p) => p.startsWith("journal superblock") || p.startsWith("journal_ino"));
    if (broken.length && (recovery.needed || !readOnly)) {
      throw new FsError(
        "EUCLEAN",
        `${dev.path}: the journal ${recovery.needed ? "needs recovery but " : ""}is damaged (${
          broken.join("; ")
        }); run vexfs fsck`,
      );
    }
    if (recovery.needed) {
      if (readOnly && recovery.overlay?.size) dev = new OverlayDevice(dev, blockSizeOf(sb), recovery.overlay);
      sb = readSuperblock(dev);
    }
  }
  return { dev, sb, recovery };
}

/**
 * The backup superblock (FORMAT.md §2: offset 0 of the last block), found
 * without the primary by trying every block size; null when none is valid.
 */
export function findBackupSuperblock(dev: BlockDevice): Superblock | null {
  for (let bs = 1024; bs <= 65536; bs *= 2) {
    const count = Math.floor(dev.size / bs);
    if (count < 64) break;
    const raw = new Uint8Array(SB_SIZE);
    try {
      dev.read((count - 1) * bs, raw);
    } catch {
      continue;
    }
    if (superblockProblems(raw, dev.size).length) continue;
    const sb = decodeSuperblock(raw);
    if (blockSizeOf(sb) === bs && sb.blockCount === count) return sb;
  }
  return null;
}

/**
 * What the metadata read at open contradicts (the mount must not trust a
 * damaged bitmap, FORMAT.md §2.1): free counts of the bitmaps against the
 * superblock (when the superblock is known to be current: a journal, or a
 * clean close) and the bits that must always be set (metadata, the backup
 * superblock, the journal, reserved inodes). Empty when all agree.
 */
export function distrust(fs: Vexfs): string[] {
  const sb = fs.sb;
  const out: string[] = [];
  const current = (sb.featureIncompat & INCOMPAT_JOURNAL) !== 0 || sb.state === STATE_CLEAN;
  if (current && fs.blockMap.free !== sb.freeBlocks) {
    out.push(`the block bitmap counts ${fs.blockMap.free} free blocks but the superblock says ${sb.freeBlocks}`);
  }
  if (current && fs.inodeMap.free !== sb.freeInodes) {
    out.push(`the inode bitmap counts ${fs.inodeMap.free} free inodes but the superblock says ${sb.freeInodes}`);
  }
  if (
    fs.blockMap.countSet(0, sb.firstDataBlock) !== sb.firstDataBlock || !fs.blockMap.test(sb.blockCount - 1) ||
    metaRegions(sb).some((r) => fs.blockMap.countSet(r.start, r.start + r.length) !== r.length)
  ) {
    out.push("the block bitmap marks metadata blocks free");
  }
  if (sb.journalBlocks && sb.featureIncompat & INCOMPAT_JOURNAL) {
    try {
      const js = journalExtents(fs.dev, sb);
      if (js.some((e) => fs.blockMap.countSet(e.physical, e.physical + e.length) !== e.length)) {
        out.push("the block bitmap marks journal blocks free");
      }
    } catch (e) {
      out.push(e instanceof Error ? e.message : String(e));
    }
  }
  if (fs.inodeMap.countSet(0, FIRST_INO - 1) !== FIRST_INO - 1) {
    out.push("the inode bitmap marks reserved inodes free");
  }
  return out;
}
