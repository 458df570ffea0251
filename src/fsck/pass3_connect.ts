/**
 * Pass 3 (e2fsck's `pass3.c`): directory connectivity.
 *
 * Checks: that the root exists (pass 1 may have marked it for
 * re-creation), that no entry links the root, that every directory is
 * reachable from the root, and that each directory is linked exactly once
 * (a second link is either a loop, when it comes from inside the
 * directory, or a plain extra link).
 *
 * Gathers for later passes: the tree of first links extended with what is
 * reconnected, so pass 4 and the report name inodes by their new paths;
 * `/lost+found` once it is found or created.
 *
 * Repairs: a new empty root; the topmost directory of each unreachable
 * subtree (or one member of an unreachable loop) is reconnected under
 * `/lost+found` as `#<ino>`, which is created when missing (e2fsck's
 * `e2fsck_reconnect_file` and `e2fsck_get_lost_and_found`); extra links and
 * links to the root are removed. Pass 4 reconnects files the same way
 * ({@link reconnect}).
 * @module
 */
import { FT_DIR, ROOT_INO, S_IFDIR } from "../format/constants.ts";
import { dirHash } from "../format/hash.ts";
import type { DirEntry } from "../fs/htree.ts";
import { type FsckContext, FT_OF, type InodeInfo, nameText } from "./context.ts";
import { extendTree, removeEntry } from "./pass2_dirs.ts";
import { newInode } from "./rewrite.ts";

const enc = new TextEncoder();
const LOST_FOUND = enc.encode("lost+found");

/** Runs pass 3. */
export function passConnectivity(ctx: FsckContext): void {
  if (ctx.recreateRoot) {
    newInode(ctx, ROOT_INO, S_IFDIR | 0o755, 0, ROOT_INO, 0);
    ctx.tree.clear();
  }
  const root = ctx.infos.get(ROOT_INO);
  if (!root?.usable || root.type !== S_IFDIR) return;
  const dirs = [...ctx.infos.values()].filter((i) => i.usable && i.type === S_IFDIR).sort((a, b) => a.ino - b.ino);
  // entries linking the root
  for (const d of dirs) {
    for (const e of [...(d.entries ?? [])]) {
      if (e.ino !== ROOT_INO) continue;
      if (
        ctx.ask("DIR_LOOP", {
          ino: d.ino,
          tail: `entry '${nameText(e.name)}'`,
          detail: "The entry links the root directory, which makes a loop.",
        })
      ) removeEntry(ctx, d, e);
    }
  }
  // unreachable directories: reconnect the top of each unreachable subtree
  let n = 0;
  for (const d of dirs) {
    if (++n % 256 === 0) ctx.progress("connectivity", n, dirs.length);
    if (d.ino === ROOT_INO || ctx.tree.has(d.ino) || d.onOrphanList || !d.usable) continue;
    let top = d;
    let loop = false;
    const seen = new Set<number>([d.ino]);
    for (;;) {
      const l = top.links[0];
      if (!l || l.dir === ROOT_INO || ctx.tree.has(l.dir)) break;
      const up = ctx.infos.get(l.dir);
      if (!up?.usable || up.type !== S_IFDIR) break;
      if (seen.has(up.ino)) {
        loop = true;
        break;
      }
      seen.add(up.ino);
      top = up;
    }
    if (ctx.tree.has(top.ino)) continue;
    const detail = loop
      ? "The directory is part of a loop of directories not connected to the root."
      : `The directory (${top.d!.nlink} links, ${top.entries?.length ?? 0} entries) is not linked from any ` +
        "directory reachable from the root.";
    if (ctx.ask("DIR_UNREACHABLE", { ino: top.ino, detail, num: top.ino })) {
      if (reconnect(ctx, top)) extendTree(ctx, top.ino);
    }
  }
  // directories linked more than once: keep the tree's link
  for (const d of dirs) {
    if (d.ino === ROOT_INO || d.links.length < 2 || !d.usable) continue;
    const first = ctx.tree.get(d.ino);
    for (const l of [...d.links]) {
      if (first && l.dir === first.dir && l.name === first.name) continue;
      const parent = ctx.infos.get(l.dir)!;
      const e = parent.entries?.find((x) => x.name === l.name);
      if (!e) continue;
      const loop = isAncestor(ctx, d.ino, l.dir);
      const c = { ino: l.dir, tail: `entry '${nameText(l.name)}'`, target: d.ino };
      const fixed = loop
        ? ctx.ask("DIR_LOOP", {
          ...c,
          detail: `The entry links directory ${d.ino}, which contains this directory: a loop.`,
        })
        : ctx.ask("DIR_MULTIPLE_LINKS", c);
      if (fixed) removeEntry(ctx, parent, e);
    }
  }
  ctx.progress("connectivity", dirs.length, dirs.length);
}

/** Whether directory `a` is `b` or above it in the tree of first links. */
function isAncestor(ctx: FsckContext, a: number, b: number): boolean {
  for (let cur = b, guard = 0; guard < 100000; guard++) {
    if (cur === a) return true;
    const up = ctx.tree.get(cur);
    if (!up) return false;
    cur = up.dir;
  }
  return false;
}

/**
 * `/lost+found`, found in the root or created (asking `LOST_FOUND`), or
 * undefined when it cannot be had.
 */
function lostFound(ctx: FsckContext): InodeInfo | undefined {
  if (ctx.lostFound) return ctx.infos.get(ctx.lostFound);
  const root = ctx.infos.get(ROOT_INO);
  if (!root?.usable || root.type !== S_IFDIR) return undefined;
  const e = root.entries?.find((x) =>
    x.name.length === LOST_FOUND.length && x.name.every((b, i) => b === LOST_FOUND[i])
  );
  if (e) {
    const t = ctx.infos.get(e.ino);
    if (t?.usable && t.type === S_IFDIR) {
      ctx.lostFound = e.ino;
      return t;
    }
    if (!ctx.ask("LOST_FOUND", { where: "/lost+found", state: "is not a directory", fix: "Replace it" })) return;
    removeEntry(ctx, root, e);
  } else if (freeDataBlocks(ctx) < 4) {
    // e2fsck: "Cannot allocate space for /lost+found. Place lost files in root directory instead?"
    if (
      !ctx.ask("LOST_FOUND", {
        where: "/lost+found",
        state: "does not exist and the filesystem is too full to create it",
        fix: "Place what is reconnected in / instead",
      })
    ) return;
    ctx.lostFound = ROOT_INO;
    return root;
  } else if (!ctx.ask("LOST_FOUND", { where: "/lost+found", state: "does not exist" })) return;
  const ino = ctx.allocInodeNumber();
  if (ino === null) {
    ctx.note("REPAIR_FAILED", { where: "/lost+found", what: "/lost+found", err: "no free inode is left" });
    return;
  }
  const hash = dirHash(LOST_FOUND, ctx.sb.hashSeed);
  const lf = newInode(ctx, ino, S_IFDIR | 0o700, 0, ROOT_INO, hash);
  const entry: DirEntry = { name: LOST_FOUND.slice(), ino, type: FT_DIR, hash };
  root.entries!.push(entry);
  root.rebuildDir = true;
  root.subdirs++;
  // what fsck links it counts itself (e2fsck adjusts the parent's count the same way)
  root.d!.nlink++;
  root.dirty = true;
  lf.links.push({ dir: ROOT_INO, hash, name: entry.name });
  ctx.tree.set(ino, { dir: ROOT_INO, name: entry.name });
  ctx.lostFound = ino;
  return lf;
}

/** Free blocks in the data area as the block bitmap on disk says (before pass 1b knows better). */
function freeDataBlocks(ctx: FsckContext): number {
  const sb = ctx.sb;
  const bm = ctx.read(sb.blockBitmapStart * ctx.bs, sb.blockBitmapBlocks * ctx.bs);
  let free = 0;
  for (let b = sb.firstDataBlock; b < sb.blockCount - 1 && free < 64; b++) if (!(bm[b >>> 3] & (1 << (b & 7)))) free++;
  return free;
}

/**
 * Links `info` into `/lost+found` as `#<ino>` (e2fsck's naming) and points
 * its parent pointer there.
 * @returns false when `/lost+found` cannot be had
 */
export function reconnect(ctx: FsckContext, info: InodeInfo): boolean {
  const lf = lostFound(ctx);
  if (!lf) return false;
  const taken = new Set((lf.entries ?? []).map((e) => nameText(e.name)));
  let text = `#${info.ino}`;
  for (let k = 1; taken.has(text); k++) text = `#${info.ino}.${k}`;
  const name = enc.encode(text);
  const hash = dirHash(name, ctx.sb.hashSeed);
  lf.entries!.push({ name, ino: info.ino, type: FT_OF[info.type], hash });
  lf.rebuildDir = true;
  info.links.push({ dir: lf.ino, hash, name });
  if (info.type === S_IFDIR) {
    lf.subdirs++;
    lf.d!.nlink++;
    lf.dirty = true;
  }
  const d = info.d!;
  if (info.type === S_IFDIR || !info.links.some((l) => l.dir === d.parentIno && l.hash === d.parentHash)) {
    d.parentIno = lf.ino;
    d.parentHash = hash;
    info.dirty = true;
  }
  ctx.tree.set(info.ino, { dir: lf.ino, name });
  return true;
}
