/**
 * Pass 1b (e2fsck's `pass1b.c`): blocks claimed more than once.
 *
 * Runs once every inode is known and every other repair has been decided:
 * it computes which blocks are in use, from scratch, from the model
 * (metadata regions, then each inode in use in number order: xattr block,
 * data extents, extent tree blocks), which is also the computed block bitmap
 * pass 5 compares with the disk.
 *
 * Checks: no block has two owners (two inodes, two extents of one inode, or
 * an inode and itself through its tree).
 *
 * Gathers for later passes: {@link FsckContext.claimed}, the block bitmap as
 * it must be, and the claims that name a block's owners in messages.
 *
 * Repairs: the first claimant keeps a shared block and every other one gets
 * its own copy (e2fsck's "clone"): a data block is copied to a newly
 * allocated block and remapped, an xattr block is copied and re-checksummed
 * for its new owner, an extent tree block is left to the first owner and the
 * others' trees are rebuilt. When no block is free the block is cut from the
 * later owner instead (it becomes a hole), and the report says so.
 * @module
 */
import { EXT_MAX_LEN } from "../format/constants.ts";
import { type Extent, setBlockChecksum } from "../format/extent.ts";
import { firstMetaBlock } from "../format/superblock.ts";
import { hasXattrBlock } from "./pass1_inodes.ts";
import { type Claim, type FsckContext, MAX_PER_CODE } from "./context.ts";

/** A claim as pass 1b records it, with the extent of a data claim. */
interface OwnedClaim extends Claim {
  ext?: Extent;
}

/** Computes the block bitmap the model implies ({@link FsckContext.claimed}) and the duplicates. */
export function computeClaims(ctx: FsckContext): void {
  const sb = ctx.sb;
  const bs = ctx.bs;
  ctx.resetClaims();
  ctx.claim(0, firstMetaBlock(bs), 0, "the boot area and primary superblock");
  ctx.claim(sb.blockBitmapStart, sb.blockBitmapBlocks, 0, "the block bitmap");
  ctx.claim(sb.inodeBitmapStart, sb.inodeBitmapBlocks, 0, "the inode bitmap");
  ctx.claim(sb.inodeTableStart, sb.inodeTableBlocks, 0, "the inode table");
  ctx.claim(sb.blockCount - 1, 1, 0, "the backup superblock");
  const infos = [...ctx.infos.values()].filter((i) => i.usable).sort((a, b) => a.ino - b.ino);
  for (const info of infos) {
    const d = info.d!;
    if (hasXattrBlock(info) && ctx.inDataArea(d.xattrBlock)) ctx.claim(d.xattrBlock, 1, info.ino, "xattr block");
    for (const e of info.exts) {
      ctx.claim(e.physical, e.length, info.ino, "data");
      (ctx.claims[ctx.claims.length - 1] as OwnedClaim).ext = e;
    }
    for (const b of info.treeBlocks) ctx.claim(b, 1, info.ino, "extent tree block");
  }
}

/** The owners of block `b`, for messages. */
export function ownersOf(ctx: FsckContext, b: number): string {
  const names = ctx.claims.filter((c) => b >= c.start && b < c.start + c.len).map((c) =>
    c.owner ? `inode ${c.owner} (${c.what})` : c.what
  );
  return [...new Set(names)].join(" and ") || "nothing";
}

/** Runs pass 1b. */
export function passDuplicates(ctx: FsckContext): void {
  computeClaims(ctx);
  if (!ctx.dups.size) return;
  const dups = [...ctx.dups].sort((a, b) => a - b);
  // the owners of every shared block, from one walk over the claims
  const names = new Map<number, string[]>();
  for (const c of ctx.claims) {
    for (let b = c.start; b < c.start + c.len; b++) {
      if (!ctx.dups.has(b)) continue;
      const n = names.get(b) ?? [];
      n.push(c.owner ? `inode ${c.owner} (${c.what})` : c.what);
      names.set(b, n);
    }
  }
  const ownersOfDup = (b: number) => [...new Set(names.get(b))].join(" and ");
  const fix = new Set<number>();
  let i = 0;
  let runs = 0;
  while (i < dups.length) {
    if (++runs > MAX_PER_CODE) {
      const rest = dups.slice(i);
      if (
        ctx.ask("BLOCK_DUPLICATE", {
          where: `blocks ${dups[i]}..${dups[dups.length - 1]}`,
          detail: `${rest.length} more blocks are claimed more than once (owners not listed).`,
        })
      ) { for (const b of rest) fix.add(b); }
      break;
    }
    const owners = ownersOfDup(dups[i]);
    let j = i;
    while (j + 1 < dups.length && dups[j + 1] === dups[j] + 1 && ownersOfDup(dups[j + 1]) === owners) j++;
    const range = i === j ? `block ${dups[i]}` : `blocks ${dups[i]}..${dups[j]}`;
    const claimants = names.get(dups[i])!;
    const inodes = new Set(claimants.filter((n) => n.startsWith("inode ")).map((n) => n.split(" ")[1]));
    const self = claimants.length > 1 && inodes.size === 1 && claimants.every((n) => n.startsWith("inode "));
    if (
      ctx.ask("BLOCK_DUPLICATE", {
        where: range,
        detail: `${range[0].toUpperCase()}${range.slice(1)} ${i === j ? "is" : "are"} claimed by ${owners}${
          self ? " (twice by the same inode)" : ""
        }; writing one corrupts the other.`,
      })
    ) { for (let k = i; k <= j; k++) fix.add(dups[k]); }
    i = j + 1;
  }
  if (fix.size) resolve(ctx, fix);
}

/** Gives every claimant of the blocks in `fix` but the first its own copy (or cuts the block from it). */
function resolve(ctx: FsckContext, fix: Set<number>): void {
  // claims in order; the first claim of each block keeps it
  const firstSeen = new Set<number>();
  /** per inode: data blocks to move, by extent; tree blocks and xattr blocks to give up */
  const moves = new Map<number, { data: Map<Extent, Set<number>>; tree: Set<number>; xattr: boolean }>();
  const of = (ino: number) => {
    let m = moves.get(ino);
    if (!m) moves.set(ino, m = { data: new Map(), tree: new Set(), xattr: false });
    return m;
  };
  for (const c of ctx.claims as OwnedClaim[]) {
    for (let b = c.start; b < c.start + c.len; b++) {
      if (!fix.has(b)) continue;
      if (!firstSeen.has(b)) {
        firstSeen.add(b);
        continue;
      }
      if (!c.owner) continue; // metadata always comes first
      const m = of(c.owner);
      if (c.ext) {
        let s = m.data.get(c.ext);
        if (!s) m.data.set(c.ext, s = new Set());
        s.add(b);
      } else if (c.what === "xattr block") m.xattr = true;
      else m.tree.add(b);
    }
  }
  for (const b of fix) ctx.dups.delete(b);
  let cut = 0;
  for (const [ino, m] of moves) {
    const info = ctx.infos.get(ino)!;
    const d = info.d!;
    if (m.xattr) {
      const nb = ctx.allocBlock(d.xattrBlock, ino, "xattr block");
      if (nb === null) {
        d.xattrBlock = 0;
        cut++;
      } else {
        const buf = ctx.readBlock(d.xattrBlock);
        setBlockChecksum(buf, ino);
        ctx.writeBlock(nb, buf);
        d.xattrBlock = nb;
      }
      info.dirty = true;
    }
    if (m.tree.size) {
      info.treeBlocks = info.treeBlocks.filter((b) => !m.tree.has(b));
      info.treeDirty = true;
    }
    if (m.data.size) {
      const exts: Extent[] = [];
      const push = (e: Extent) => {
        const last = exts[exts.length - 1];
        if (
          last && last.logical + last.length === e.logical && last.physical + last.length === e.physical &&
          last.flags === e.flags && last.length + e.length <= EXT_MAX_LEN
        ) last.length += e.length;
        else exts.push({ ...e });
      };
      for (const e of info.exts) {
        const give = m.data.get(e);
        if (!give) {
          push(e);
          continue;
        }
        for (let k = 0; k < e.length; k++) {
          const b = e.physical + k;
          const piece = { logical: e.logical + k, physical: b, length: 1, flags: e.flags };
          if (!give.has(b)) {
            push(piece);
            continue;
          }
          const nb = ctx.allocBlock(b, ino, "data");
          if (nb === null) {
            cut++;
            if (info.type === 0o040000) info.rebuildDir = true;
            continue;
          }
          ctx.writeBlock(nb, ctx.readBlock(b));
          push({ ...piece, physical: nb });
        }
      }
      info.exts = exts;
      info.treeDirty = true;
      info.dirty = true;
    }
  }
  if (cut) {
    ctx.note("REPAIR_FAILED", {
      where: "shared blocks",
      what: `${cut} shared block(s)`,
      err: "no free block was left for a copy, so they were cut from their later owners (now holes)",
      severity: "warning",
    });
  }
}
