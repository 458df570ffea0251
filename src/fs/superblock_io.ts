/**
 * What opening reads before it trusts anything: the primary superblock
 * (docs/FORMAT.md §3), the backup one at the start of the last block (§2)
 * found without the primary, and the checks of the bitmaps against the
 * superblock (§2.1) that decide whether a read-write open may go on. Used
 * by {@link Vexfs.openDevice}, as ext2fs_open2 reads and checks the
 * superblock before the rest.
 * @module
 */
import type { BlockDevice } from "../device/device.ts";
import { FsError } from "../errors.ts";
import { FIRST_INO, INCOMPAT_JOURNAL, SB_OFFSET, SB_SIZE, STATE_CLEAN } from "../format/constants.ts";
import { blockSizeOf, decodeSuperblock, type Superblock, superblockProblems } from "../format/superblock.ts";
import { journalExtents } from "../journal/map.ts";
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
  if (fs.blockMap.countSet(0, sb.firstDataBlock) !== sb.firstDataBlock || !fs.blockMap.test(sb.blockCount - 1)) {
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
