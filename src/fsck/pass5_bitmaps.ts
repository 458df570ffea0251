/**
 * Pass 5 (e2fsck's `pass5.c`): the bitmaps and the free counts.
 *
 * Checks: the block bitmap on disk against the block bitmap the model
 * implies (pass 1b's claims, after repairs), run by run; the inode bitmap
 * against the inodes in use; padding bits past the last block and inode;
 * reserved inodes 1..15 marked in use; the superblock's free block and inode
 * counts against the bitmaps. Blocks and inodes that repairs of this run
 * freed or allocated count as already right on disk, so only what was
 * wrong before is reported (as e2fsck's allocation statistics do).
 *
 * Gathers: the number of blocks in use, for the report.
 *
 * Repairs: both bitmaps are rewritten from the model (preen-safe) and the
 * free counts set from them.
 * @module
 */
import { FIRST_INO, STATE_CLEAN } from "../format/constants.ts";
import { type FsckContext, MAX_PER_CODE } from "./context.ts";
import { ownersOf } from "./pass1b_dups.ts";

const POP = new Uint8Array(256);
for (let v = 1; v < 256; v++) POP[v] = (v & 1) + POP[v >>> 1];

const bit = (a: Uint8Array, i: number) => (a[i >>> 3] & (1 << (i & 7))) !== 0;
const setBit = (a: Uint8Array, i: number) => a[i >>> 3] |= 1 << (i & 7);
const clearBit = (a: Uint8Array, i: number) => a[i >>> 3] &= ~(1 << (i & 7));

/** Bits set among the first `n` bits. */
function popcount(a: Uint8Array, n: number): number {
  let c = 0;
  const full = n >>> 3;
  for (let i = 0; i < full; i++) c += POP[a[i]];
  for (let i = full * 8; i < n; i++) if (bit(a, i)) c++;
  return c;
}

/** First clear padding bit at or after `bits`, or -1. */
function padding(bm: Uint8Array, bits: number): number {
  for (let i = bits; i < bm.length * 8; i++) if (!bit(bm, i)) return i;
  return -1;
}

/** Runs pass 5. */
export function passBitmaps(ctx: FsckContext): void {
  const sb = ctx.sb;
  const bs = ctx.bs;
  const dirtyish = sb.state !== STATE_CLEAN;
  // ---------------------------------------------------------------- blocks
  const disk = ctx.read(sb.blockBitmapStart * bs, sb.blockBitmapBlocks * bs);
  const want = new Uint8Array(disk.length);
  want.set(ctx.claimed!);
  for (let i = sb.blockCount; i < want.length * 8; i++) setBit(want, i);
  // what this run's repairs freed and allocated is already accounted for
  let sbFree = sb.freeBlocks;
  for (const b of ctx.freedBlocks) {
    if (!ctx.isClaimed(b) && bit(disk, b)) {
      clearBit(disk, b);
      sbFree++;
    }
  }
  for (const b of ctx.allocatedBlocks) {
    if (!bit(disk, b)) {
      setBit(disk, b);
      sbFree--;
    }
  }
  let fixBlocks = false;
  let runStart = -1;
  let runKind = 0; // 1 missing, 2 extra
  let missingRuns = 0;
  const flush = (end: number) => {
    if (runStart < 0) return;
    const one = end - 1 === runStart;
    const range = one ? `block ${runStart}` : `blocks ${runStart}..${end - 1}`;
    const c = { where: `block bitmap (${range})`, range, is: one ? "is" : "are", it: one ? "it" : "them" };
    if (runKind === 1) {
      const owners = ++missingRuns <= MAX_PER_CODE ? ownersOf(ctx, runStart) : "an inode";
      if (ctx.ask("BLOCK_BITMAP_MISSING", { ...c, owners })) fixBlocks = true;
    } else if (ctx.ask("BLOCK_BITMAP_EXTRA", c)) fixBlocks = true;
    runStart = -1;
  };
  for (let i = 0; i < sb.blockCount; i++) {
    if ((i & 0xfffff) === 0 && i > 0) ctx.progress("bitmaps", i, sb.blockCount + sb.inodeCount);
    if ((i & 7) === 0 && i + 8 <= sb.blockCount && want[i >>> 3] === disk[i >>> 3]) {
      if (runKind !== 0) {
        flush(i);
        runKind = 0;
      }
      i += 7;
      continue;
    }
    const m = bit(want, i);
    const dsk = bit(disk, i);
    const kind = m === dsk ? 0 : m ? 1 : 2;
    if (kind !== runKind || kind === 0) {
      flush(i);
      if (kind) runStart = i;
      runKind = kind;
    }
  }
  flush(sb.blockCount);
  const padBad = padding(disk, sb.blockCount);
  if (
    padBad >= 0 &&
    ctx.ask("BITMAP_PADDING", { where: "block bitmap", bit: padBad, count: sb.blockCount, what: "blocks" })
  ) {
    fixBlocks = true;
  }
  ctx.stats.blocksUsed = popcount(want, sb.blockCount);
  // repairs that freed or allocated blocks change the bitmap even when nothing else was wrong with it
  if (ctx.repairing && (ctx.freedBlocks.size || ctx.allocatedBlocks.size)) fixBlocks = true;
  const bitmapFree = sb.blockCount - popcount(fixBlocks ? want : disk, sb.blockCount);
  if (fixBlocks) ctx.write(sb.blockBitmapStart * bs, want);
  if (sbFree !== bitmapFree) {
    const note = dirtyish ? " (expected after an unclean unmount; the next mount recounts them)" : "";
    if (
      ctx.ask("SB_FREE_BLOCKS", {
        where: "superblock",
        sb: sbFree,
        bitmap: bitmapFree,
        note,
        severity: dirtyish ? "warning" : "error",
      })
    ) sbFree = bitmapFree;
  }
  if (sb.freeBlocks !== sbFree) {
    sb.freeBlocks = sbFree;
    ctx.sbDirty = true;
  }
  // ---------------------------------------------------------------- inodes
  const ib = ctx.diskInodeBitmap!.slice();
  let sbIfree = sb.freeInodes;
  const iwant = new Uint8Array(ib.length);
  for (let i = 0; i < FIRST_INO - 1; i++) setBit(iwant, i);
  for (let i = sb.inodeCount; i < iwant.length * 8; i++) setBit(iwant, i);
  for (const info of ctx.infos.values()) if (info.usable) setBit(iwant, info.ino - 1);
  for (const ino of ctx.freedInodes) {
    if (!bit(iwant, ino - 1) && bit(ib, ino - 1)) {
      clearBit(ib, ino - 1);
      sbIfree++;
    }
  }
  for (const ino of ctx.allocatedInodes) {
    if (bit(iwant, ino - 1) && !bit(ib, ino - 1)) {
      setBit(ib, ino - 1);
      sbIfree--;
    }
  }
  let fixInodes = false;
  for (let ino = 1; ino < FIRST_INO; ino++) {
    if (!bit(ib, ino - 1)) {
      if (ctx.ask("INODE_BITMAP_RESERVED", { where: `inode bitmap bit ${ino - 1}`, target: ino })) fixInodes = true;
    }
  }
  for (const info of [...ctx.infos.values()].sort((a, b) => a.ino - b.ino)) {
    const ino = info.ino;
    if (ino < FIRST_INO) continue;
    const dsk = bit(ib, ino - 1);
    const where = `inode bitmap (inode ${ino})`;
    if (dsk && !info.usable && !info.links.length && !info.otherRefs) {
      if (ctx.ask("INODE_BITMAP_EXTRA", { where, target: ino, why: info.why ?? "free" })) fixInodes = true;
    } else if (!dsk && info.usable) {
      if (ctx.ask("INODE_BITMAP_MISSING", { where, target: ino, what: ctx.describe(ino) })) fixInodes = true;
    }
  }
  const ipad = padding(ib, sb.inodeCount);
  if (
    ipad >= 0 && ctx.ask("BITMAP_PADDING", { where: "inode bitmap", bit: ipad, count: sb.inodeCount, what: "inodes" })
  ) {
    fixInodes = true;
  }
  if (ctx.repairing && (ctx.freedInodes.size || ctx.allocatedInodes.size)) fixInodes = true;
  if (fixInodes) ctx.write(sb.inodeBitmapStart * bs, iwant);
  const ibitmapFree = sb.inodeCount - popcount(fixInodes ? iwant : ib, sb.inodeCount);
  if (sbIfree !== ibitmapFree) {
    const note = dirtyish ? " (expected after an unclean unmount; the next mount recounts them)" : "";
    if (
      ctx.ask("SB_FREE_INODES", {
        where: "superblock",
        sb: sbIfree,
        bitmap: ibitmapFree,
        note,
        severity: dirtyish ? "warning" : "error",
      })
    ) sbIfree = ibitmapFree;
  }
  if (sb.freeInodes !== sbIfree) {
    sb.freeInodes = sbIfree;
    ctx.sbDirty = true;
  }
  ctx.progress("bitmaps", sb.blockCount + sb.inodeCount, sb.blockCount + sb.inodeCount);
}
