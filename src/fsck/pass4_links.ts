/**
 * Pass 4 (e2fsck's `pass4.c`): link counts and parent pointers.
 *
 * Checks: every inode in use against the directory entries naming it
 * (gathered by pass 2, changed by pass 3): an internal file has one link
 * (none while it waits on the orphan list to be freed, FORMAT.md §5.4); a
 * directory has 2 + its subdirectories; a file has one link per entry; an
 * inode with no links must be on the orphan list (else its space is leaked);
 * an inode with links must be named by some entry; the ORPHAN flag only on
 * listed inodes; and parent pointers (FORMAT.md §5.3): the root's is itself,
 * a directory's names the entry that links it, a file's names one of its
 * links or is 0. An inode marked in use that holds no valid inode and is
 * still referred to is damaged.
 *
 * Gathers nothing new: pass 5 uses which inodes are in use.
 *
 * Repairs: set link counts (preen-safe, as e2fsck's "ref count is X, should
 * be Y"); free leaked inodes and stray orphans; reconnect files no directory
 * names under `/lost+found`; correct parent pointers; clear damaged inodes.
 * @module
 */
import { IFL_INTERNAL, IFL_ORPHAN, ROOT_INO, S_IFDIR } from "../format/constants.ts";
import { clearInode, type FsckContext, hex, typeName } from "./context.ts";
import { reconnect } from "./pass3_connect.ts";

/** Runs pass 4. */
export function passLinks(ctx: FsckContext): void {
  const root = ctx.infos.get(ROOT_INO);
  const rootUsable = !!root?.usable && root.type === S_IFDIR;
  const infos = [...ctx.infos.values()].sort((a, b) => a.ino - b.ino);
  for (const info of infos) {
    if (info.usable && info.type === S_IFDIR) {
      info.subdirs = (info.entries ?? []).filter((e) => {
        const t = ctx.infos.get(e.ino);
        return t?.usable && t.type === S_IFDIR;
      }).length;
    }
  }
  // files no directory names go to /lost+found first, so the counts below see their new links
  if (rootUsable) {
    for (const info of infos) {
      const d = info.d;
      if (
        !info.usable || info.type === S_IFDIR || info.ino === ROOT_INO || info.links.length || info.onOrphanList ||
        !d || d.nlink === 0 || (d.flags & IFL_INTERNAL)
      ) continue;
      if (
        ctx.ask("INODE_UNLINKED", {
          ino: info.ino,
          type: typeName(info.type),
          nlink: d.nlink,
          size: d.size,
          num: info.ino,
        })
      ) {
        reconnect(ctx, info);
      }
    }
  }
  let n = 0;
  for (const info of infos) {
    if (++n % 4096 === 0) ctx.progress("link counts", n, infos.length);
    const ino = info.ino;
    if (!info.usable) {
      if (info.inBitmap && !info.cleared && (info.links.length || info.otherRefs)) {
        if (ctx.ask("INODE_DAMAGED", { ino, why: info.why ?? "unknown" })) clearInode(ctx, info, info.why ?? "damaged");
      }
      continue;
    }
    const d = info.d!;
    const isDir = info.type === S_IFDIR;
    const refs = info.links.length;
    if (d.flags & IFL_INTERNAL) {
      // a store being freed (FORMAT.md §5.4) is a pending orphan with no link
      if (d.nlink !== 1 && !(d.nlink === 0 && info.onOrphanList)) {
        if (ctx.ask("INODE_NLINK", { ino, have: d.nlink, want: 1, reason: "internal files have exactly 1" })) {
          d.nlink = 1;
          info.dirty = true;
        }
      }
      continue;
    }
    if ((d.flags & IFL_ORPHAN) && !info.onOrphanList) {
      const free = d.nlink === 0 && refs === 0;
      if (ctx.ask("ORPHAN_NOT_LISTED", { ino, fix: free ? "Free it" : "Clear the flag" })) {
        if (free) {
          clearInode(ctx, info, "freed: a lost orphan");
          continue;
        }
        d.flags &= ~IFL_ORPHAN;
        d.orphanNext = 0;
        info.dirty = true;
      }
    }
    if (d.nlink === 0 && refs === 0) {
      if (!info.onOrphanList && !(d.flags & IFL_ORPHAN)) {
        if (ctx.ask("INODE_NLINK_ZERO", { ino })) clearInode(ctx, info, "freed: no links");
      }
      continue;
    }
    if (info.onOrphanList) continue;
    // unlinked: directories were reconnected by pass 3, files above (or left, when not repairing)
    if (ino !== ROOT_INO && refs === 0) continue;
    const links = info.links.length;
    const want = isDir ? 2 + info.subdirs : links;
    if (d.nlink !== want) {
      const reason = isDir
        ? `a directory with ${info.subdirs} subdirectories`
        : `${links} directory ${links === 1 ? "entry names" : "entries name"} it`;
      if (ctx.ask("INODE_NLINK", { ino, have: d.nlink, want, reason })) {
        d.nlink = want;
        info.dirty = true;
      }
    }
    checkParent(ctx, info.ino);
  }
  ctx.progress("link counts", infos.length, infos.length);
}

/** Parent pointers (FORMAT.md §5.3). */
function checkParent(ctx: FsckContext, ino: number): void {
  const info = ctx.infos.get(ino)!;
  const d = info.d!;
  if (ino === ROOT_INO) {
    if (d.parentIno !== ROOT_INO) {
      if (
        ctx.ask("DIR_PARENT", {
          ino,
          pino: d.parentIno,
          phash: hex(d.parentHash),
          dir: ROOT_INO,
          hash: hex(d.parentHash),
        })
      ) {
        d.parentIno = ROOT_INO;
        info.dirty = true;
      }
    }
    return;
  }
  if (!info.links.length) return;
  if (info.type === S_IFDIR) {
    const t = ctx.tree.get(ino);
    const l = (t && info.links.find((x) => x.dir === t.dir && x.name === t.name)) ?? info.links[0];
    if (d.parentIno !== l.dir || d.parentHash !== l.hash) {
      if (ctx.ask("DIR_PARENT", { ino, pino: d.parentIno, phash: hex(d.parentHash), dir: l.dir, hash: hex(l.hash) })) {
        d.parentIno = l.dir;
        d.parentHash = l.hash;
        info.dirty = true;
      }
    }
  } else if (d.parentIno !== 0 && !info.links.some((x) => x.dir === d.parentIno && x.hash === d.parentHash)) {
    if (ctx.ask("INODE_PARENT", { ino, pino: d.parentIno, phash: hex(d.parentHash) })) {
      d.parentIno = info.links[0].dir;
      d.parentHash = info.links[0].hash;
      info.dirty = true;
    }
  }
}
