/**
 * The xattr store phase (VexFS; FORMAT.md §7.2), after pass 1 has loaded
 * every inode: each inode with `XATTR_IN_STORE` must name an allocated
 * internal regular file flagged `XATTR_STORE` whose `parent_ino` is that
 * inode and that no other inode names; that store is then given its role (so
 * the collections phase does not free it as unclaimed) and its blocks are
 * checked: entry blocks (magic, checksum, recorded file block, entry layout,
 * names unique across the store), value runs (every block mapped, magic,
 * checksum, recorded file block, length), value blocks that no entry
 * uses, and POSIX ACL values (src/fsck/acls.ts).
 *
 * Repairs: drop the reference to an unusable store (the attributes are
 * lost; an unreferenced store is then freed as unclaimed); recompute the
 * checksum of an entry block whose entries are intact; unmap an entry block
 * that does not decode (its attributes are lost); remove a duplicate entry
 * and an entry whose value run is damaged; unmap value blocks no entry uses.
 * Store blocks are found through the store's sane extents from pass 1, and
 * unmapping one rewrites the store's extent tree.
 * @module
 */
import {
  EXT_UNWRITTEN,
  IFL_INTERNAL,
  IFL_XATTR_IN_STORE,
  IFL_XATTR_STORE,
  S_IFREG,
  XATTR_VALUE_BASE,
} from "../format/constants.ts";
import { blockChecksumOk, type Extent } from "../format/extent.ts";
import { joinXattrName } from "../format/xattr.ts";
import {
  decodeEntryBlock,
  decodeValueBlock,
  encodeEntryBlock,
  type StoreEntry,
  valueRunLength,
} from "../format/xattr_store.ts";
import { ensureInode } from "./pass1_inodes.ts";
import { isAclXattr } from "../fs/acl.ts";
import { aclProblem } from "./acls.ts";
import { errText, type FsckContext, type InodeInfo, typeName } from "./context.ts";

/** Runs the phase over every inode pass 1 found usable. */
export function passXattrStores(ctx: FsckContext): void {
  const claimedBy = new Map<number, number>();
  const owners = [...ctx.infos.values()].filter((i) => i.usable && (i.d!.flags & IFL_XATTR_IN_STORE))
    .sort((a, b) => a.ino - b.ino);
  for (const owner of owners) {
    const d = owner.d!;
    const sino = d.xattrBlock;
    const why = unusable(ctx, owner, sino, claimedBy);
    if (why) {
      if (
        ctx.ask("XATTR_STORE_REF", {
          ino: owner.ino,
          detail: `The inode keeps its extended attributes in xattr store inode ${sino}, but ${why}.`,
        })
      ) {
        d.flags &= ~IFL_XATTR_IN_STORE;
        d.xattrBlock = 0;
        owner.dirty = true;
      }
      continue;
    }
    claimedBy.set(sino, owner.ino);
    ctx.internalRole.set(sino, `xattr store of inode ${owner.ino}`);
    checkStore(ctx, owner.ino, ctx.infos.get(sino)!);
  }
}

/** Why `sino` cannot be `owner`'s store, or "" when it can. */
function unusable(ctx: FsckContext, owner: InodeInfo, sino: number, claimedBy: Map<number, number>): string {
  if (!Number.isSafeInteger(sino) || sino < ctx.sb.firstIno || sino > ctx.sb.inodeCount || sino === owner.ino) {
    return "that is not an ordinary inode number";
  }
  if (owner.d!.flags & IFL_XATTR_STORE) return "the inode is itself an xattr store";
  const s = ensureInode(ctx, sino);
  if (!s.usable) return `that inode is unusable (${s.why ?? "cleared"})`;
  const sd = s.d!;
  if (s.type !== S_IFREG) return `that inode is a ${typeName(s.type)}`;
  if ((sd.flags & (IFL_INTERNAL | IFL_XATTR_STORE)) !== (IFL_INTERNAL | IFL_XATTR_STORE)) {
    return "that inode is not flagged as an internal xattr store";
  }
  if (sd.flags & IFL_XATTR_IN_STORE) return "that store claims a store of its own";
  if (sd.parentIno !== owner.ino) return `that store belongs to inode ${sd.parentIno}`;
  const other = claimedBy.get(sino);
  if (other !== undefined) return `inode ${other} already keeps its attributes there`;
  return "";
}

/** The physical block of file block `l` in `exts` (written extents only), or 0. */
function physOf(exts: Extent[], l: number): number {
  for (const e of exts) {
    if (l >= e.logical && l < e.logical + e.length) return e.flags & EXT_UNWRITTEN ? 0 : e.physical + (l - e.logical);
  }
  return 0;
}

/** Removes file blocks [l, l+count) from the store's extents, freeing them. */
function unmap(ctx: FsckContext, s: InodeInfo, l: number, count: number): void {
  const out: Extent[] = [];
  for (const e of s.exts) {
    const a = Math.max(e.logical, l);
    const z = Math.min(e.logical + e.length, l + count);
    if (a >= z) {
      out.push(e);
      continue;
    }
    for (let b = a; b < z; b++) ctx.freeBlock(e.physical + (b - e.logical));
    if (e.logical < a) out.push({ ...e, length: a - e.logical });
    if (z < e.logical + e.length) {
      out.push({ ...e, logical: z, physical: e.physical + (z - e.logical), length: e.logical + e.length - z });
    }
  }
  s.exts = out;
  s.treeDirty = true;
  s.dirty = true;
}

/** Checks (and repairs) the blocks of store `s` of inode `owner`. */
function checkStore(ctx: FsckContext, owner: number, s: InodeInfo): void {
  const sino = s.ino;
  const bs = ctx.bs;
  const seen = new Set<string>();
  /** value blocks used by an entry, so far */
  const used = new Set<number>();
  const entryBlocks: number[] = [];
  for (const e of s.exts) {
    if (e.flags & EXT_UNWRITTEN) continue;
    for (let l = e.logical; l < Math.min(e.logical + e.length, XATTR_VALUE_BASE); l++) entryBlocks.push(l);
  }
  for (const l of entryBlocks) {
    const p = physOf(s.exts, l);
    const tail = `xattr store entry block ${l} (block ${p})`;
    let buf: Uint8Array;
    try {
      buf = ctx.readBlock(p);
    } catch (e) {
      ctx.note("READ_ERROR", { ino: sino, what: `The ${tail}`, err: errText(e) });
      continue;
    }
    let ents: StoreEntry[];
    try {
      ents = decodeEntryBlock(buf, sino, l, false);
    } catch (e) {
      if (
        ctx.ask("XATTR_STORE_BLOCK", {
          ino: owner,
          tail,
          detail: `The xattr store's entry block ${l} is damaged (${
            errText(e).replace(/^inode \d+: [^:]*: /, "")
          }); its attributes are lost.`,
        })
      ) unmap(ctx, s, l, 1);
      continue;
    }
    let rewrite = false;
    if (!blockChecksumOk(buf, sino)) {
      if (ctx.ask("XATTR_STORE_CHECKSUM", { ino: owner, tail })) rewrite = true;
    }
    const keep: StoreEntry[] = [];
    for (const ent of ents) {
      const name = joinXattrName(ent.ns, ent.name);
      const key = `${ent.ns}/${[...ent.name].join(",")}`;
      let why = "";
      if (seen.has(key)) why = `is a second attribute named '${name}'`;
      else if (!ent.inline) why = checkRun(ctx, s, ent, used);
      if (why) {
        if (ctx.ask("XATTR_STORE_ENTRY", { ino: owner, tail, detail: `The attribute entry '${name}' ${why}.` })) {
          rewrite = true;
          continue;
        }
      } else if (isAclXattr(name)) { // src/fsck/acls.ts
        const acl = aclProblem(name, ent.inline ?? runValue(ctx, s, ent), ctx.infos.get(owner)!.type);
        if (acl && ctx.ask("XATTR_ACL", { ino: owner, tail, name, why: acl })) {
          rewrite = true;
          continue;
        }
      }
      seen.add(key);
      keep.push(ent);
      if (!ent.inline) { for (let i = 0; i < valueRunLength(ent.valueLen, bs); i++) used.add(ent.valueBlock + i); }
    }
    if (rewrite) {
      if (keep.length) ctx.writeBlock(p, encodeEntryBlock(keep, bs, sino, l));
      else unmap(ctx, s, l, 1);
    }
  }
  // value blocks no entry uses
  const stray: number[] = [];
  for (const e of s.exts) {
    for (let l = Math.max(e.logical, XATTR_VALUE_BASE); l < e.logical + e.length; l++) if (!used.has(l)) stray.push(l);
  }
  if (stray.length) {
    if (
      ctx.ask("XATTR_STORE_LEAK", {
        ino: owner,
        n: stray.length,
        detail: `file blocks ${stray[0]}${stray.length > 1 ? `..${stray[stray.length - 1]}` : ""}`,
      })
    ) {
      for (const l of stray) unmap(ctx, s, l, 1);
    }
  }
}

/** The value of `ent` from its value run (which {@linkcode checkRun} found sound). */
function runValue(ctx: FsckContext, s: InodeInfo, ent: StoreEntry): Uint8Array {
  const out = new Uint8Array(ent.valueLen);
  let at = 0;
  for (let i = 0; i < valueRunLength(ent.valueLen, ctx.bs); i++) {
    const l = ent.valueBlock + i;
    const part = decodeValueBlock(ctx.readBlock(physOf(s.exts, l)), s.ino, l, i, ent.valueLen);
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Why the value run of `ent` is unusable, or "" (every block mapped, well-formed and not used by another entry). */
function checkRun(ctx: FsckContext, s: InodeInfo, ent: StoreEntry, used: Set<number>): string {
  const n = valueRunLength(ent.valueLen, ctx.bs);
  for (let i = 0; i < n; i++) {
    const l = ent.valueBlock + i;
    if (used.has(l)) return `shares value block ${l} with another attribute`;
    const p = physOf(s.exts, l);
    if (!p) return `has its value in file block ${l}, which is not mapped`;
    try {
      decodeValueBlock(ctx.readBlock(p), s.ino, l, i, ent.valueLen);
    } catch (e) {
      return `has a damaged value block ${l} (${errText(e).replace(/^inode \d+: [^:]*: /, "")})`;
    }
  }
  return "";
}
