/**
 * `vexfs resize`: grow a filesystem that is not mounted to fill a grown
 * image file or block device, adding blocks and inodes, as resize2fs(8)
 * grows ext4 offline. Shrinking is not supported.
 *
 * **Layout** (docs/FORMAT.md §2, §2.2, §2.3). VexFS has one block bitmap,
 * one inode bitmap and one inode table. A region whose length does not
 * change with the new size (the last bitmap block often has room) stays
 * where it is; a region that must grow is written whole into the new space,
 * from the old `block_count` on, in the order block bitmap, inode bitmap,
 * inode table, and the superblock then points at it with incompat
 * `FLEX_META` set. Its old blocks, and the old backup superblock block,
 * become free data blocks. The inode count grows with the size in the same
 * proportion as mkfs chose it (`inode_count * new_blocks / old_blocks`),
 * or to a count given; when the new space cannot hold a moved inode table,
 * the largest count that fits is taken (at least the current one).
 *
 * **Crash safety.** Nothing the filesystem uses before the change is
 * written before the change commits:
 *
 * 1. The filesystem is checked first (fsck, changing nothing; `force` skips
 *    it), its journal replayed and its log emptied.
 * 2. The moved regions (new bitmaps, the copied inode table with zeroed new
 *    slots) are written beyond the old `block_count`, in blocks that no
 *    state of the old filesystem uses; then a flush.
 * 3. One jbd2 transaction (FORMAT.md §9.4) holds the new superblock, the
 *    block of the new backup superblock (the new last block) and the bitmap
 *    blocks that change in place (the old backup's bit, padding bits turned
 *    into new free blocks or inodes); it commits (flush), is checkpointed
 *    home (flush), and the log is emptied.
 *
 * A crash before the commit block is durable leaves the old filesystem
 * exactly as it was (the device is merely larger, which readers accept);
 * after it, replay applies the whole transaction and the regions it points
 * at are already durable. Either way every file, xattr, vector and graph is
 * intact and fsck finds it clean. Without a journal the in-place bitmap
 * blocks are written and flushed first, then the backup and the primary
 * superblock (each flushed): a crash in between leaves the old superblock
 * with bitmap bits fsck -p repairs (padding and the old backup's bit), and
 * nothing else.
 * @module
 */
import { type BlockDevice, Device } from "../device/device.ts";
import { FsError } from "../errors.ts";
import { INCOMPAT_FLEX_META, INODE_SIZE, STATE_CLEAN } from "../format/constants.ts";
import { blockSizeOf, firstMetaBlock, regionLengths, type Superblock } from "../format/superblock.ts";
import { fsck } from "../fsck/fsck.ts";
import { commitSuperblock, quiesce } from "./sb_commit.ts";
import { readForOpen } from "./superblock_io.ts";
import { refuseInUse } from "./tune.ts";

/** The most inodes a filesystem can have (u32 inode numbers). */
export const MAX_INODES = 0xffffffff;

/** Options of {@link resize}. */
export interface ResizeOptions {
  /** new size in bytes (default: the whole device); an image file smaller than this is grown to it */
  size?: number;
  /** new inode count, at least the current one (default: grown in proportion to the blocks) */
  inodes?: number;
  /** skip the fsck that must otherwise find the filesystem clean first (as resize2fs -f) */
  force?: boolean;
  /** compute and return the plan; change nothing (the image file is not grown either) */
  dryRun?: boolean;
  /**
   * Progress of the long parts: the check before (phase "check: PASS", fsck's
   * own onProgress) and the copy of a moved inode table (phase "inode table",
   * blocks written of its length).
   */
  onProgress?: (phase: string, done: number, total: number) => void;
}

/** A metadata region that moves (block numbers). */
export interface MovedRegion {
  region: "block bitmap" | "inode bitmap" | "inode table";
  from: number;
  to: number;
  /** its new length in blocks */
  blocks: number;
}

/** What a resize changes (see {@link planResize}). */
export interface ResizePlan {
  blockSize: number;
  oldBlocks: number;
  newBlocks: number;
  oldInodes: number;
  newInodes: number;
  /** regions written into the new space; empty when everything grows in place */
  moved: MovedRegion[];
  /** the new superblock's FLEX_META (set before, or set now because a region moved) */
  flexMeta: boolean;
  /** nothing would change: same size and inode count */
  nothingToDo: boolean;
  /** why the inode count is lower than asked or proportional ("" when it is not) */
  inodeNote: string;
}

/** What {@link resize} did. */
export interface ResizeResult extends ResizePlan {
  path: string;
  /** bytes the image file was grown to, 0 if it was not grown */
  grewFileTo: number;
  /** free blocks and inodes after */
  freeBlocks: number;
  freeInodes: number;
  /** whether the fsck before the resize ran (not with `force`) */
  checked: boolean;
  dryRun: boolean;
  elapsedMs: number;
}

/** Layout of `inodes` inodes on `newBlocks` blocks: which regions move and where, null when they do not fit. */
function layoutFor(sb: Superblock, newBlocks: number, inodes: number): MovedRegion[] | null {
  const bs = blockSizeOf(sb);
  const want = regionLengths(newBlocks, inodes, bs);
  const moved: MovedRegion[] = [];
  let at = sb.blockCount;
  const place = (region: MovedRegion["region"], from: number, had: number, need: number) => {
    if (need === had) return;
    moved.push({ region, from, to: at, blocks: need });
    at += need;
  };
  place("block bitmap", sb.blockBitmapStart, sb.blockBitmapBlocks, want.blockBitmapBlocks);
  place("inode bitmap", sb.inodeBitmapStart, sb.inodeBitmapBlocks, want.inodeBitmapBlocks);
  place("inode table", sb.inodeTableStart, sb.inodeTableBlocks, want.inodeTableBlocks);
  return moved.length === 0 || at <= newBlocks - 1 ? moved : null; // the new last block holds the backup superblock
}

/**
 * Plans growing the filesystem of `sb` to `newBlocks` blocks (pure: reads
 * and writes nothing).
 * @param inodes the inode count wanted (default: in proportion to the blocks)
 * @throws FsError EINVAL (fewer blocks: shrinking is not supported; fewer
 *   inodes; more than {@link MAX_INODES}), ENOSPC (the grown regions do not
 *   fit in the new space: the message gives the size needed)
 */
export function planResize(sb: Superblock, newBlocks: number, inodes?: number): ResizePlan {
  const bs = blockSizeOf(sb);
  if (!Number.isSafeInteger(newBlocks) || newBlocks < sb.blockCount) {
    throw new FsError(
      "EINVAL",
      `shrinking is not supported: the filesystem has ${sb.blockCount} blocks of ${bs} bytes (${
        sb.blockCount * bs
      } bytes) and the new size gives ${newBlocks} blocks; vexfs resize only grows`,
    );
  }
  if (inodes !== undefined && (!Number.isInteger(inodes) || inodes < sb.inodeCount || inodes > MAX_INODES)) {
    throw new FsError(
      "EINVAL",
      `inode count ${inodes} is out of range: the filesystem has ${sb.inodeCount} inodes, and the count can ` +
        `only grow (at most ${MAX_INODES})`,
    );
  }
  const proportional = Math.min(
    MAX_INODES,
    Math.max(sb.inodeCount, Math.floor(sb.inodeCount * (newBlocks / sb.blockCount))),
  );
  let newInodes = inodes ?? proportional;
  let moved = layoutFor(sb, newBlocks, newInodes);
  let inodeNote = "";
  if (!moved && inodes === undefined) {
    // The largest count from the current one up that fits (what moves only grows with the count).
    let lo = sb.inodeCount, hi = newInodes - 1;
    if (!layoutFor(sb, newBlocks, lo)) hi = lo - 1;
    while (lo < hi) {
      const mid = Math.floor((lo + hi + 1) / 2);
      if (layoutFor(sb, newBlocks, mid)) lo = mid;
      else hi = mid - 1;
    }
    if (hi >= sb.inodeCount) {
      inodeNote = `${proportional} inodes (in proportion to the size) need a larger inode table than the ${
        newBlocks - sb.blockCount
      } new blocks can hold; ${lo} inodes fit`;
      newInodes = lo;
      moved = layoutFor(sb, newBlocks, lo);
    }
  }
  if (!moved) {
    const want = regionLengths(newBlocks, newInodes, bs);
    const need = (want.blockBitmapBlocks !== sb.blockBitmapBlocks ? want.blockBitmapBlocks : 0) +
      (want.inodeBitmapBlocks !== sb.inodeBitmapBlocks ? want.inodeBitmapBlocks : 0) +
      (want.inodeTableBlocks !== sb.inodeTableBlocks ? want.inodeTableBlocks : 0);
    throw new FsError(
      "ENOSPC",
      `growing from ${sb.blockCount} to ${newBlocks} blocks with ${newInodes} inodes needs ${need} new blocks ` +
        `for the bitmaps and inode table that no longer fit in place, plus the backup superblock, but only ${
          newBlocks - sb.blockCount
        } are added: grow to at least ${(sb.blockCount + need + 1) * bs} bytes` +
        (inodes !== undefined ? ", or ask for fewer inodes" : ""),
    );
  }
  return {
    blockSize: bs,
    oldBlocks: sb.blockCount,
    newBlocks,
    oldInodes: sb.inodeCount,
    newInodes,
    moved,
    flexMeta: moved.length > 0 || (sb.featureIncompat & INCOMPAT_FLEX_META) !== 0,
    nothingToDo: newBlocks === sb.blockCount && newInodes === sb.inodeCount,
    inodeNote,
  };
}

function setBits(b: Uint8Array, from: number, to: number, on: boolean): void {
  for (let i = from; i < to; i++) {
    if (on) b[i >>> 3] |= 1 << (i & 7);
    else b[i >>> 3] &= ~(1 << (i & 7));
  }
}

function countClear(b: Uint8Array, bits: number): number {
  let n = 0;
  for (let i = 0; i < bits; i++) if (!(b[i >>> 3] & (1 << (i & 7)))) n++;
  return n;
}

/** The new superblock, bitmaps and what changes in place, for a plan (nothing written). */
function build(dev: BlockDevice, sb: Superblock, plan: ResizePlan) {
  const bs = plan.blockSize;
  const want = regionLengths(plan.newBlocks, plan.newInodes, bs);
  const where = (r: MovedRegion["region"], old: number) => plan.moved.find((m) => m.region === r)?.to ?? old;
  const nsb: Superblock = {
    ...sb,
    uuid: sb.uuid.slice(),
    blockCount: plan.newBlocks,
    inodeCount: plan.newInodes,
    blockBitmapStart: where("block bitmap", sb.blockBitmapStart),
    blockBitmapBlocks: want.blockBitmapBlocks,
    inodeBitmapStart: where("inode bitmap", sb.inodeBitmapStart),
    inodeBitmapBlocks: want.inodeBitmapBlocks,
    inodeTableStart: where("inode table", sb.inodeTableStart),
    inodeTableBlocks: want.inodeTableBlocks,
  };
  if (plan.flexMeta) {
    nsb.featureIncompat |= INCOMPAT_FLEX_META;
    nsb.firstDataBlock = firstMetaBlock(bs);
  }
  // block bitmap: the old bits up to the old backup block, which is free now like every new block
  const oldBB = new Uint8Array(sb.blockBitmapBlocks * bs);
  dev.read(sb.blockBitmapStart * bs, oldBB);
  const bb = new Uint8Array(want.blockBitmapBlocks * bs);
  bb.set(oldBB);
  setBits(bb, sb.blockCount - 1, bb.length * 8, false);
  for (const m of plan.moved) {
    const oldLen = m.region === "block bitmap"
      ? sb.blockBitmapBlocks
      : m.region === "inode bitmap"
      ? sb.inodeBitmapBlocks
      : sb.inodeTableBlocks;
    setBits(bb, m.from, m.from + oldLen, false);
    setBits(bb, m.to, m.to + m.blocks, true);
  }
  setBits(bb, plan.newBlocks - 1, bb.length * 8, true); // the new backup superblock and the padding
  // inode bitmap: the old bits; new inodes free; padding set
  const oldIB = new Uint8Array(sb.inodeBitmapBlocks * bs);
  dev.read(sb.inodeBitmapStart * bs, oldIB);
  const ib = new Uint8Array(want.inodeBitmapBlocks * bs);
  ib.set(oldIB);
  setBits(ib, sb.inodeCount, ib.length * 8, false);
  setBits(ib, plan.newInodes, ib.length * 8, true);
  nsb.freeBlocks = countClear(bb, plan.newBlocks);
  nsb.freeInodes = countClear(ib, plan.newInodes);
  // bitmap blocks that change where they are: they go into the transaction
  const inPlace = new Map<number, Uint8Array>();
  const diff = (start: number, oldBytes: Uint8Array, bytes: Uint8Array) => {
    for (let i = 0; i < bytes.length / bs; i++) {
      const a = oldBytes.subarray(i * bs, (i + 1) * bs), b = bytes.subarray(i * bs, (i + 1) * bs);
      if (a.some((x, k) => x !== b[k])) inPlace.set(start + i, b.slice());
    }
  };
  if (nsb.blockBitmapStart === sb.blockBitmapStart) diff(sb.blockBitmapStart, oldBB, bb);
  if (nsb.inodeBitmapStart === sb.inodeBitmapStart) diff(sb.inodeBitmapStart, oldIB, ib);
  return { nsb, bb, ib, inPlace };
}

/** Copies the inode table to its new place, zeroing the slots of the new inodes. */
function copyInodeTable(
  dev: BlockDevice,
  sb: Superblock,
  to: number,
  blocks: number,
  onProgress?: (done: number, total: number) => void,
): void {
  const bs = blockSizeOf(sb);
  const chunk = Math.max(1, Math.floor((4 << 20) / bs)); // blocks per write
  const oldBytes = sb.inodeCount * INODE_SIZE;
  for (let b = 0; b < blocks; b += chunk) {
    const n = Math.min(chunk, blocks - b);
    const buf = new Uint8Array(n * bs);
    const from = b * bs;
    if (from < oldBytes) {
      const len = Math.min(buf.length, oldBytes - from, sb.inodeTableBlocks * bs - from);
      if (len > 0) dev.read(sb.inodeTableStart * bs + from, buf.subarray(0, len));
    }
    dev.write((to + b) * bs, buf);
    onProgress?.(b + n, blocks);
  }
}

/**
 * Grows the filesystem on `target` (see the module documentation).
 * @param target image file or block device path (refused when mounted or in
 *   use), or an open {@link BlockDevice} (used as it is and closed afterwards)
 * @returns the plan carried out (`nothingToDo` when the filesystem already fills the size)
 * @throws FsError EBUSY (mounted or in use), EINVAL (shrinking, a size larger
 *   than a block device, fewer inodes), ENOSPC (see {@link planResize}),
 *   EUCLEAN (not VexFS, damaged, or fsck found problems: run vexfs fsck -y first)
 */
export function resize(target: string | BlockDevice, opts: ResizeOptions = {}): ResizeResult {
  const t0 = performance.now();
  const path = typeof target === "string" ? target : target.path;
  if (opts.size !== undefined && (!Number.isSafeInteger(opts.size) || opts.size <= 0)) {
    throw new FsError("EINVAL", `size ${opts.size} is not a positive number of bytes`);
  }
  let dev: BlockDevice;
  if (typeof target === "string") {
    refuseInUse(target, "vexfs resize grows unmounted filesystems only");
    dev = Device.open(target, { readOnly: !!opts.dryRun, exclusive: true });
  } else dev = target;
  try {
    // Plan on the superblock as a replay would leave it, before anything is written: a refusal changes nothing.
    const size = opts.size ?? dev.size;
    let sb = readForOpen(dev, true).sb;
    if (sb.state !== STATE_CLEAN && !opts.force) {
      throw new FsError("EUCLEAN", `${path} is not marked clean; run vexfs fsck -y first`);
    }
    let plan = planResize(sb, Math.floor(size / blockSizeOf(sb)), opts.inodes);
    let grewFileTo = 0;
    if (size > dev.size) {
      if (dev.kind !== "file" || typeof target !== "string") {
        throw new FsError("EINVAL", `${path} holds ${dev.size} bytes; it cannot be grown to ${size}`);
      }
      if (!opts.dryRun) {
        // As resize2fs does for image files: extend the file (sparse), keeping the claim in between short.
        dev.close();
        Device.create(target, size).close();
        grewFileTo = size;
        dev = Device.open(target, { readOnly: false, exclusive: true });
      }
    }
    let checked = false;
    if (!opts.force && !plan.nothingToDo) {
      const r = fsck(dev, {
        readOnly: true,
        force: true,
        onProgress: opts.onProgress && ((phase, done, total) => opts.onProgress!(`check: ${phase}`, done, total)),
      });
      const bad = r.problems.filter((p) => p.severity !== "info");
      if (r.exitCode !== 0 || bad.length) {
        throw new FsError(
          "EUCLEAN",
          `${path}: fsck found problems (${
            bad.slice(0, 3).map((p) => `${p.code}: ${p.message}`).join("; ") || `exit ${r.exitCode}`
          }); run vexfs fsck -y first (or resize --force to skip this check)`,
        );
      }
      checked = true;
    }
    const result: ResizeResult = {
      ...plan,
      path,
      grewFileTo,
      freeBlocks: sb.freeBlocks,
      freeInodes: sb.freeInodes,
      checked,
      dryRun: !!opts.dryRun,
      elapsedMs: 0,
    };
    if (plan.nothingToDo || opts.dryRun) {
      if (!plan.nothingToDo) {
        const { nsb } = build(dev, sb, plan);
        result.freeBlocks = nsb.freeBlocks;
        result.freeInodes = nsb.freeInodes;
      }
      result.elapsedMs = performance.now() - t0;
      return result;
    }
    // 1. replay onto the device and empty the log; the plan is the same on the replayed superblock
    sb = quiesce(dev);
    plan = planResize(sb, plan.newBlocks, opts.inodes);
    const { nsb, bb, ib, inPlace } = build(dev, sb, plan);
    // 2. the moved regions, beyond the old end: no state of the old filesystem reads them
    const bs = plan.blockSize;
    for (const m of plan.moved) {
      if (m.region === "block bitmap") dev.write(m.to * bs, bb);
      else if (m.region === "inode bitmap") dev.write(m.to * bs, ib);
      else {copyInodeTable(
          dev,
          sb,
          m.to,
          m.blocks,
          opts.onProgress && ((d, t) => opts.onProgress!("inode table", d, t)),
        );}
    }
    dev.sync();
    // 3. one transaction: superblock, new backup, in-place bitmap blocks
    commitSuperblock(dev, sb, nsb, inPlace);
    Object.assign(result, plan, { freeBlocks: nsb.freeBlocks, freeInodes: nsb.freeInodes });
    result.elapsedMs = performance.now() - t0;
    return result;
  } finally {
    dev.close();
  }
}
