/**
 * Inode records: where an inode lies in the inode table, and a new inode
 * taken from the inode bitmap with its fields set as docs/FORMAT.md §4
 * says (one link, empty extent root, the four timestamps now) and a
 * generation the slot's previous inode never had (§4.2). The cache of
 * loaded inodes and their write-back stay in {@link Vexfs} (iget, dirty),
 * which owns the transaction they join.
 * @module
 */
import { FsError } from "../errors.ts";
import { INODE_SIZE } from "../format/constants.ts";
import { blankInode, nowTimespec, slotGeneration } from "../format/inode.ts";
import type { InodeState, Vexfs } from "./fs.ts";

/** The inode-table block holding inode `ino` and the byte offset of its record in that block. */
export function inodeLoc(fs: Vexfs, ino: number): { block: number; off: number } {
  const byte = (ino - 1) * INODE_SIZE;
  return {
    block: fs.sb.inodeTableStart + Math.floor(byte / fs.blockSize),
    off: byte % fs.blockSize,
  };
}

/**
 * Takes the next free inode number after the bitmap's rotor and builds its
 * record. The caller registers it (cache, dirty list) and stores its empty
 * extent root ({@link Vexfs.ialloc}).
 * @param mode full st_mode (type and permission bits)
 * @returns the new inode's state, with empty extent lists
 * @throws FsError ENOSPC when no inode is free
 */
export function newInode(
  fs: Vexfs,
  mode: number,
  uid: number,
  gid: number,
  parentIno: number,
  parentHash: number,
  flags: number,
): InodeState {
  const run = fs.inodeMap.findRun(fs.inodeMap.rotor, 1);
  if (!run) {
    throw new FsError(
      "ENOSPC",
      "no free inodes left (mkfs with more inodes: --inodes)",
    );
  }
  fs.inodeMap.set(run.start);
  fs.inodeMap.rotor = run.start + 1;
  const ino = run.start + 1;
  const d = blankInode({
    mode,
    uid,
    gid,
    flags,
    parentIno,
    parentHash,
    now: nowTimespec(),
    generation: newGeneration(fs, ino),
  });
  return { ino, d, exts: [], treeBlocks: [], treeLevels: [], dirty: true };
}

/**
 * The generation of a new inode `ino` (FORMAT.md §4.2): random, as ext4's,
 * and never the one the slot's previous inode had (read raw from the free
 * slot's bytes, which freeing leaves in place), so a file handle of that
 * inode is stale for this one.
 */
function newGeneration(fs: Vexfs, ino: number): number {
  const { block, off } = inodeLoc(fs, ino);
  const old = slotGeneration(fs.cache.get(block).subarray(off, off + INODE_SIZE));
  for (;;) {
    const g = (Math.random() * 0x100000000) >>> 0;
    if (g !== old) return g;
  }
}
