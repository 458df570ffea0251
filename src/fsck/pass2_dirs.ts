/**
 * Pass 2 (e2fsck's `pass2.c`): every directory's hash tree and entries.
 *
 * Checks: the hash tree of each directory with `dirCheck` (src/fs/htree_check.ts:
 * block magics and checksums, index invariants, hashes, order, duplicate
 * names), then every entry: a valid name, no duplicate, an existing inode
 * number, not a reserved or internal inode, a target that is in use, and a
 * file type equal to the target's.
 *
 * Gathers for later passes: each directory's entries (`InodeInfo.entries`)
 * and subdirectory count, each inode's links (`InodeInfo.links`, with name
 * hashes recomputed from the names), and the tree of first links from the
 * root (`FsckContext.tree`, which names inodes by path and which pass 3
 * checks for connectivity). Targets not in the inode bitmap are loaded (and
 * checked by pass 1's rules) when an entry names them.
 *
 * Repairs: a damaged directory keeps every entry that can still be read
 * (every leaf block is salvaged, e2fsck's `salvage_directory`) and is marked
 * for a rebuild of its whole hash tree (`rewrite.ts`, as e2fsck's `-D`
 * rehash); bad entries are removed and wrong file types corrected in the
 * entry list, which the rebuild writes.
 * @module
 */
import { FIRST_INO, ROOT_INO, S_IFDIR } from "../format/constants.ts";
import { setBlockChecksum } from "../format/extent.ts";
import { dirHash } from "../format/hash.ts";
import { type DirBlocks, dirCheck, type DirEntry, dirIterate, DIRL_MAGIC } from "../fs/htree.ts";
import { segments } from "../fs/extentmap.ts";
import { FsError } from "../errors.ts";
import { type FsckContext, FT_NAME, FT_OF, type InodeInfo, nameText, typeName } from "./context.ts";
import { ensureInode } from "./pass1_inodes.ts";

/** Device block of file block `l` of `info`, or null for a hole or an unwritten extent. */
export function bmap(info: InodeInfo, l: number): number | null {
  const s = segments(info.exts, l, 1)[0];
  return s.physical !== null && !s.unwritten ? s.physical : null;
}

/** The directory's blocks as the hash tree code reads them; `lenient` accepts bad checksums. */
function dirBlocks(ctx: FsckContext, info: InodeInfo, lenient: boolean): DirBlocks {
  const bs = ctx.bs;
  return {
    blockSize: bs,
    ino: info.ino,
    hashSeed: ctx.sb.hashSeed,
    blockCount: () => Math.min(Math.floor(info.d!.size / bs), 0xffffffff),
    read: (l: number) => {
      const p = bmap(info, l);
      if (p === null) throw new Error(`file block ${l} is not mapped`);
      const b = ctx.readBlock(p);
      if (lenient) setBlockChecksum(b, info.ino);
      return b;
    },
    write: () => {
      throw new FsError("EROFS", "fsck reads directories through this store");
    },
    append: () => {
      throw new FsError("EROFS", "fsck reads directories through this store");
    },
  };
}

/** Why `name` cannot be a directory entry name (FORMAT.md §6), or null. */
export function badName(name: Uint8Array): string | null {
  if (name.length < 1 || name.length > 255) return `${name.length} bytes`;
  if (name.length <= 2 && name[0] === 0x2e && (name.length === 1 || name[1] === 0x2e)) {
    return "'.' and '..' are implied";
  }
  if (name.includes(0)) return "it contains a NUL byte";
  if (name.includes(0x2f)) return "it contains '/'";
  return null;
}

/** Runs pass 2 over every directory in use, then builds the tree of first links from the root. */
export function passDirectories(ctx: FsckContext): void {
  const queue = [...ctx.infos.values()].filter((i) => i.usable && i.type === S_IFDIR).map((i) => i.ino).sort((a, b) =>
    a - b
  );
  const done = new Set<number>();
  let n = 0;
  ctx.progress("directories", 0, queue.length);
  while (queue.length) {
    const ino = queue.shift()!;
    if (done.has(ino)) continue;
    done.add(ino);
    const info = ctx.infos.get(ino)!;
    if (info.usable && info.type === S_IFDIR) checkDir(ctx, info, queue);
    n++;
    if (n % 256 === 0) ctx.progress("directories", n, n + queue.length);
  }
  ctx.progress("directories", n, n);
  buildTree(ctx);
}

function checkDir(ctx: FsckContext, info: InodeInfo, queue: number[]): void {
  const ino = info.ino;
  let damaged = info.rebuildDir;
  if (!damaged) {
    for (const m of dirCheck(dirBlocks(ctx, info, false))) {
      const rest = m.replace(/^directory \d+ /, "");
      const blk = /^block (\d+): /.exec(rest);
      const what = blk ? rest.slice(blk[0].length) : rest.replace(/^: /, "");
      const tail = blk ? `block ${blk[1]}` : undefined;
      let code = "DIR_STRUCTURE";
      if (/bad checksum/.test(what)) code = "DIR_CHECKSUM";
      else if (/stored hash .* name hashes to/.test(what)) code = "DIR_HASH";
      else if (/duplicate name/.test(what)) code = "DIR_DUPLICATE";
      const detail = `${what[0].toUpperCase()}${what.slice(1)}.`;
      if (ctx.ask(code, { ino, tail, detail })) info.rebuildDir = true;
      damaged = true;
    }
  }
  let entries: DirEntry[] = [];
  if (damaged) entries = salvageDir(ctx, info);
  else {
    try {
      for (const e of dirIterate(dirBlocks(ctx, info, true))) entries.push(e);
    } catch {
      entries = salvageDir(ctx, info);
    }
  }
  info.entries = [];
  info.subdirs = 0;
  const names = new Set<string>();
  const remove = () => {
    info.rebuildDir = true;
  };
  for (const e of entries) {
    const nm = nameText(e.name);
    const tail = `entry '${nm}'`;
    const c = { ino, tail, target: e.ino };
    const why = badName(e.name);
    if (why !== null) {
      if (ctx.ask("DIR_ENTRY_NAME", { ...c, why })) remove();
      continue;
    }
    const key = String.fromCharCode(...e.name);
    if (names.has(key)) {
      if (
        ctx.ask("DIR_DUPLICATE", { ...c, detail: `The name appears more than once; the later entry is not kept.` })
      ) remove();
      continue;
    }
    if (!Number.isSafeInteger(e.ino) || e.ino < 1 || e.ino > ctx.sb.inodeCount) {
      if (ctx.ask("DIR_ENTRY_BAD_INO", { ...c, max: ctx.sb.inodeCount })) remove();
      continue;
    }
    if (e.ino !== ROOT_INO && e.ino < FIRST_INO) {
      if (ctx.ask("DIR_ENTRY_RESERVED", c)) remove();
      continue;
    }
    const t = ensureInode(ctx, e.ino);
    if (!t.usable) {
      const state = t.cleared ? "cleared (it was damaged)" : !t.inBitmap ? "free" : `damaged beyond use (${t.why})`;
      if (ctx.ask("DIR_ENTRY_FREE_INODE", { ...c, state })) {
        remove();
        if (t.cleared) ctx.formerLinks.set(t.ino, { dir: ino, name: e.name });
      } else t.otherRefs++;
      continue;
    }
    if (t.d!.flags & 0x4 /* IFL_INTERNAL */) {
      if (ctx.ask("DIR_ENTRY_INTERNAL", c)) remove();
      continue;
    }
    const ft = FT_OF[t.type];
    if (e.type !== ft) {
      if (
        ctx.ask("DIR_ENTRY_TYPE", {
          ...c,
          said: FT_NAME[e.type] ?? `type ${e.type}`,
          is: typeName(t.type),
        })
      ) {
        e.type = ft;
        info.rebuildDir = true;
      }
    }
    names.add(key);
    e.hash = dirHash(e.name, ctx.sb.hashSeed);
    t.links.push({ dir: ino, hash: e.hash, name: e.name });
    info.entries.push(e);
    if (t.type === S_IFDIR) {
      info.subdirs++;
      queue.push(t.ino);
    }
  }
}

/**
 * Every plausible entry of every leaf block of a damaged directory, in block
 * order: entries are parsed from offset 16 up to the leaf's used bytes
 * (clamped to its capacity) until the first malformed one. Bounded by the
 * directory's mapped blocks, whatever its size field says.
 */
function salvageDir(ctx: FsckContext, info: InodeInfo): DirEntry[] {
  const bs = ctx.bs;
  const out: DirEntry[] = [];
  for (const ext of info.exts) {
    if (ext.flags & 1) continue;
    for (let k = 0; k < ext.length; k++) {
      if (ext.logical + k === 0) continue;
      let b: Uint8Array;
      try {
        b = ctx.readBlock(ext.physical + k);
      } catch {
        continue;
      }
      const dv = new DataView(b.buffer);
      if (dv.getUint32(0, true) !== DIRL_MAGIC) continue;
      const end = 16 + Math.min(dv.getUint32(8, true), bs - 20);
      for (let off = 16; off + 16 <= end;) {
        const len = dv.getUint16(off + 12, true);
        const size = (16 + len + 7) & ~7;
        if (len < 1 || len > 255 || off + size > end) break;
        const raw = dv.getBigUint64(off, true);
        const ino = raw > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(raw);
        if (ino !== 0) {
          out.push({
            name: b.slice(off + 16, off + 16 + len),
            ino,
            type: b[off + 14],
            hash: dv.getUint32(off + 8, true),
          });
        }
        off += size;
      }
    }
  }
  return out;
}

/**
 * Builds {@link FsckContext.tree}: a breadth-first walk from the root over
 * the entries, recording the link through which each inode is reached. An
 * inode with several links is reached through the one its parent pointer
 * names when that directory is reachable (for a directory, the link `..`
 * agrees with, which pass 3 then keeps); else through the first one met.
 * Pass 3 extends the tree when it reconnects what is unreachable.
 */
export function buildTree(ctx: FsckContext): void {
  ctx.tree.clear();
  ctx.treeBuilt = true;
  const root = ctx.infos.get(ROOT_INO);
  if (!root?.usable || root.type !== S_IFDIR) return;
  extendTree(ctx, ROOT_INO);
}

/** Adds everything reachable from directory `from` (already in the tree, or the root) to the tree. */
export function extendTree(ctx: FsckContext, from: number): void {
  const reached = [from];
  const queue = [from];
  let n = 0;
  /** whether `t` should wait to be reached through the directory its parent pointer names */
  const waits = (t: InodeInfo | undefined, dir: number) =>
    !!t?.usable && t.d!.parentIno !== dir && t.links.length > 1 &&
    t.links.some((l) => l.dir === t.d!.parentIno && l.hash === t.d!.parentHash);
  for (let strict = true;; strict = false) {
    while (queue.length) {
      const d = ctx.infos.get(queue.shift()!)!;
      for (const e of d.entries ?? []) {
        if (e.ino === ROOT_INO || ctx.tree.has(e.ino)) continue;
        const t = ctx.infos.get(e.ino);
        if (strict && waits(t, d.ino)) continue;
        ctx.tree.set(e.ino, { dir: d.ino, name: e.name });
        if (t?.usable && t.type === S_IFDIR) {
          queue.push(e.ino);
          reached.push(e.ino);
        }
      }
      if (++n % 256 === 0) ctx.progress("connectivity", n, n + queue.length);
    }
    if (!strict) break;
    // links that waited for a parent never reached: take them now, from every directory reached
    for (const r of reached) queue.push(r);
  }
}

/** Removes entry `e` of directory `dir` from the model (the directory is rebuilt without it). */
export function removeEntry(ctx: FsckContext, dir: InodeInfo, e: DirEntry): void {
  dir.entries = (dir.entries ?? []).filter((x) => x !== e);
  dir.rebuildDir = true;
  const t = ctx.infos.get(e.ino);
  if (t) {
    const i = t.links.findIndex((l) => l.dir === dir.ino && l.name === e.name);
    if (i >= 0) t.links.splice(i, 1);
    if (t.usable && t.type === S_IFDIR) dir.subdirs--;
  }
}
