/**
 * The orphan list (docs/FORMAT.md §5.4, as ext4's): inodes with no links
 * left that are still open, chained from the superblock's `orphan_head`
 * through each inode's `orphan_next`, so that opening after a crash frees
 * them. Part of the {@link Vexfs} engine: every function takes the engine
 * first and runs inside the caller's operation.
 * @module
 */
import { IFL_ORPHAN } from "../format/constants.ts";
import type { InodeState, Vexfs } from "./fs.ts";

/** Puts `n` (no links left, still open) at the head of the orphan list. */
export function addOrphan(fs: Vexfs, n: InodeState): void {
  n.d.flags |= IFL_ORPHAN;
  n.d.orphanNext = fs.sb.orphanHead;
  fs.sb.orphanHead = n.ino;
  fs.dirty(n);
}

/** Takes `n` off the orphan list (nothing when it is not on it). */
export function removeOrphan(fs: Vexfs, n: InodeState): void {
  if (!(n.d.flags & IFL_ORPHAN)) return;
  if (fs.sb.orphanHead === n.ino) fs.sb.orphanHead = n.d.orphanNext;
  else {
    let cur = fs.sb.orphanHead;
    for (let guard = 0; cur && guard < fs.sb.inodeCount; guard++) {
      const c = fs.iget(cur);
      if (c.d.orphanNext === n.ino) {
        c.d.orphanNext = n.d.orphanNext;
        fs.dirty(c);
        break;
      }
      cur = c.d.orphanNext;
    }
  }
  n.d.flags &= ~IFL_ORPHAN;
  n.d.orphanNext = 0;
}

/**
 * Walks the orphan list at open (the previous holder died): frees every
 * inode on it that has no links, recording it in `fs.recoveredOrphans`, and
 * empties the list. A broken list stops the walk (fsck reports it).
 */
export function recoverOrphans(fs: Vexfs): void {
  let cur = fs.sb.orphanHead;
  const seen = new Set<number>();
  while (cur && !seen.has(cur)) {
    seen.add(cur);
    let n: InodeState;
    try {
      n = fs.iget(cur);
    } catch {
      break; // fsck reports a broken list
    }
    const next = n.d.orphanNext;
    n.d.flags &= ~IFL_ORPHAN;
    n.d.orphanNext = 0;
    if (n.d.nlink === 0) {
      fs._ifree(n);
      fs.recoveredOrphans.push(cur);
    } else fs.dirty(n);
    cur = next;
  }
  fs.sb.orphanHead = 0;
}
