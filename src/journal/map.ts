/**
 * Where the journal's blocks are (docs/FORMAT.md §9.1): journal block `j` is
 * file block `j` of inode 4, mapped by its extent tree. Read straight from the
 * inode table, without the engine, because recovery runs before anything
 * else may trust the metadata.
 * @module
 */
import type { BlockDevice } from "../device/device.ts";
import { FsError } from "../errors.ts";
import { EXT_UNWRITTEN, INODE_SIZE, JOURNAL_INO } from "../format/constants.ts";
import { blockChecksumOk, decodeExtentNode, type Extent } from "../format/extent.ts";
import { decodeInode } from "../format/inode.ts";
import { blockSizeOf, isDataRun, type Superblock } from "../format/superblock.ts";

/**
 * The extents of the journal inode, checked: sorted, contiguous from file
 * block 0 to `journal_blocks - 1`, written, inside the data area.
 * @returns the extent list (file block → device block runs)
 * @throws FsError EUCLEAN naming what is wrong with inode 4
 */
export function journalExtents(dev: BlockDevice, sb: Superblock): Extent[] {
  const bs = blockSizeOf(sb);
  const byte = (JOURNAL_INO - 1) * INODE_SIZE;
  const table = sb.inodeTableStart * bs + byte;
  const raw = new Uint8Array(INODE_SIZE);
  dev.read(table, raw);
  const bad = (why: string) => new FsError("EUCLEAN", `journal inode ${JOURNAL_INO}: ${why}; run vexfs fsck`);
  let ino;
  try {
    ino = decodeInode(JOURNAL_INO, raw);
  } catch (e) {
    throw bad(e instanceof Error ? e.message : String(e));
  }
  const exts: Extent[] = [];
  const inData = (b: number, len: number) => isDataRun(sb, b, len);
  const walk = (buf: Uint8Array, level: number): void => {
    const node = decodeExtentNode(buf, JOURNAL_INO);
    if (node.depth === 0) {
      exts.push(...(node as { extents: Extent[] }).extents);
      return;
    }
    if (level >= 5) throw bad("extent tree is too deep");
    for (const ix of (node as { index: { child: number }[] }).index) {
      if (!inData(ix.child, 1)) throw bad(`extent tree block ${ix.child} lies outside the data area`);
      const child = new Uint8Array(bs);
      dev.read(ix.child * bs, child);
      if (!blockChecksumOk(child, JOURNAL_INO)) throw bad(`extent tree block ${ix.child} fails its checksum`);
      walk(child, level + 1);
    }
  };
  try {
    walk(ino.data, 0);
  } catch (e) {
    if (e instanceof FsError && e.message.startsWith(`journal inode`)) throw e;
    throw bad(e instanceof Error ? e.message : String(e));
  }
  let next = 0;
  for (const e of exts) {
    if (e.logical !== next) throw bad(`file block ${next} is not mapped (journal has a hole)`);
    if (e.flags & EXT_UNWRITTEN) throw bad(`extent at file block ${e.logical} is unwritten`);
    if (!inData(e.physical, e.length)) throw bad(`extent at file block ${e.logical} lies outside the data area`);
    next += e.length;
  }
  if (next < sb.journalBlocks) throw bad(`maps ${next} blocks but journal_blocks is ${sb.journalBlocks}`);
  return exts;
}

/**
 * A function from journal block number to device block number for the
 * filesystem's journal (FORMAT.md §9.1).
 * @throws FsError EUCLEAN (from {@link journalExtents}); the returned function
 *   throws FsError EIO for a journal block past `journal_blocks`
 */
export function journalMap(dev: BlockDevice, sb: Superblock): (j: number) => number {
  const exts = journalExtents(dev, sb);
  if (exts.length === 1) {
    const p = exts[0].physical;
    return (j) => {
      if (j < 0 || j >= sb.journalBlocks) throw new FsError("EIO", `journal block ${j} is out of range`);
      return p + j;
    };
  }
  return (j) => {
    if (j < 0 || j >= sb.journalBlocks) throw new FsError("EIO", `journal block ${j} is out of range`);
    let lo = 0, hi = exts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (exts[mid].logical <= j) lo = mid;
      else hi = mid - 1;
    }
    return exts[lo].physical + (j - exts[lo].logical);
  };
}
