/**
 * The orphan list (FORMAT.md §5.4; e2fsck's `release_orphan_inodes` in
 * `super.c`): inodes unlinked while still open, chained from the
 * superblock's `orphan_head` through `orphan_next`.
 *
 * Checks: every inode on the list is a valid inode number, in use, not
 * reached twice (a loop), with no links, the ORPHAN flag and no directory
 * entry naming it.
 *
 * Gathers for later passes: `onOrphanList` and a reference on each listed
 * inode, so pass 4 does not call a pending orphan leaked, and the count of
 * orphans.
 *
 * Repairs: a pending orphan is freed now (what the next read-write open
 * would do); an inode with links or entries is taken off the list and keeps
 * its data; a bad pointer or a loop cuts the list there. After a repairing
 * run the list is empty.
 * @module
 */
import { FIRST_INO, IFL_ORPHAN } from "../format/constants.ts";
import { clearInode, type FsckContext, type InodeInfo, typeName } from "./context.ts";
import { ensureInode } from "./pass1_inodes.ts";

/** Walks the orphan list. */
export function passOrphans(ctx: FsckContext): void {
  const sb = ctx.sb;
  const seen = new Set<number>();
  let cur = sb.orphanHead;
  /** the inode whose orphan_next points at `cur`; null: the superblock's orphan_head */
  let prev: InodeInfo | null = null;
  let from = "The superblock's orphan_head";
  const point = (next: number) => {
    if (prev) {
      prev.d!.orphanNext = next;
      prev.dirty = true;
    } else {
      sb.orphanHead = next;
      ctx.sbDirty = true;
    }
  };
  while (cur) {
    const c = { where: "orphan list", from, target: cur };
    if (!Number.isSafeInteger(cur) || cur < FIRST_INO || cur > ctx.sb.inodeCount) {
      if (ctx.ask("ORPHAN_BAD_INO", { ...c, why: "cannot be an orphan (not an ordinary inode number)" })) point(0);
      break;
    }
    if (seen.has(cur)) {
      if (ctx.ask("ORPHAN_LOOP", c)) point(0);
      break;
    }
    seen.add(cur);
    const t = ensureInode(ctx, cur);
    if (!t.usable) {
      const why = t.cleared ? "was cleared (it was damaged)" : t.inBitmap ? `is damaged (${t.why})` : "is free";
      if (ctx.ask("ORPHAN_BAD_INO", { ...c, why })) point(0);
      break;
    }
    ctx.stats.orphans++;
    const d = t.d!;
    const next = d.orphanNext;
    if (d.nlink !== 0 || !(d.flags & IFL_ORPHAN) || t.links.length) {
      const why = t.links.length
        ? ` and ${t.links.length} directory entr${t.links.length === 1 ? "y names" : "ies name"} it`
        : d.flags & IFL_ORPHAN
        ? ""
        : " and no ORPHAN flag";
      if (ctx.ask("ORPHAN_LINKED", { ino: cur, nlink: d.nlink, why })) {
        point(next);
        d.flags &= ~IFL_ORPHAN;
        d.orphanNext = 0;
        t.dirty = true;
      } else {
        t.onOrphanList = true;
        t.otherRefs++;
        prev = t;
      }
    } else if (
      ctx.ask("ORPHAN_PENDING", { ino: cur, type: typeName(t.type), size: d.size, blocks: d.blocks })
    ) {
      point(next);
      clearInode(ctx, t, "freed: deleted while open");
    } else {
      t.onOrphanList = true;
      t.otherRefs++;
      prev = t;
    }
    from = `Inode ${cur}'s orphan_next`;
    cur = next;
  }
  ctx.progress("orphans", seen.size, seen.size);
}
