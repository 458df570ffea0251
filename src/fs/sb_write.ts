/**
 * The superblock as the running engine writes it (docs/FORMAT.md §2, §3):
 * its image with the counts of now, put into its block in the cache for the
 * journal, or written in place with the backup in the last block.
 * @module
 */
import { INCOMPAT_RECOVER, SB_OFFSET } from "../format/constants.ts";
import type { Superblock } from "../format/superblock.ts";
import { encodeSuperblock } from "../format/superblock.ts";
import type { Vexfs } from "./fs.ts";

/** The block that holds the primary superblock (FORMAT.md §2). */
export function sbBlock(blockSize: number): number {
  return Math.floor(SB_OFFSET / blockSize);
}

/** The superblock's 1024 bytes with the counts of now; `stamp` also sets write_time. */
export function superblockImage(fs: Vexfs, stamp: boolean): Uint8Array {
  fs.sb.freeBlocks = fs.blockMap.free;
  fs.sb.freeInodes = fs.inodeMap.free;
  if (stamp) fs.sb.writeTime = Math.floor(Date.now() / 1000);
  return encodeSuperblock(fs.sb);
}

/** Puts the superblock into its block in the cache, for the journal. */
export function stageSuperblock(fs: Vexfs): void {
  const b = sbBlock(fs.blockSize);
  const buf = fs.cache.get(b);
  buf.set(superblockImage(fs, true), SB_OFFSET - b * fs.blockSize);
  fs.cache.markDirty(b);
}

/**
 * Puts the superblock image (with the counts of now, write_time as last staged) at offset 0 of the last block
 * (FORMAT.md §2), in the cache, for the journal: the backup joins the running transaction. Replay writes it home
 * like any tagged block.
 */
export function stageBackupSuperblock(fs: Vexfs): void {
  const b = fs.sb.blockCount - 1;
  const buf = fs.cache.get(b);
  buf.set(superblockImage(fs, false), 0);
  fs.cache.markDirty(b);
}

/** The superblock's feature words as one string, to tell when the backup's copy of them is out of date. */
export function featureWords(sb: Superblock): string {
  return `${sb.featureCompat}/${sb.featureIncompat & ~INCOMPAT_RECOVER}/${sb.featureRoCompat}`;
}

/** Writes the superblock in place (and the backup): at open and close, when the log is empty. */
export function writeSuperblock(fs: Vexfs, backup: boolean): void {
  const raw = superblockImage(fs, true);
  fs.dev.write(SB_OFFSET, raw);
  if (backup) fs.dev.write((fs.sb.blockCount - 1) * fs.blockSize, raw);
  const b = sbBlock(fs.blockSize);
  fs.cache.forget(b); // the cached copy of its block is stale now
}
