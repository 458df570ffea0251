/**
 * The region blocks of an HNSW graph file (FORMAT.md §8.6): node, upper and
 * slot map records copied between the graph's arrays and sealed blocks.
 * The header block is ./codec.ts's.
 * @module
 */
import { FsError } from "../errors.ts";
import { NONE } from "./_abi.ts";
import { blockOk, sealBlock } from "./codec.ts";

/** One region's records as the graph holds them, for {@linkcode encodeRegionBlock}. */
export interface RegionSource {
  /** the records, `recWords` u32 each */
  src: Uint32Array;
  /** u32 words per record */
  recWords: number;
  /** records per block */
  perBlock: number;
  /** records in use (the rest of the region is zeros, or "none" in the slot map) */
  have: number;
  /** the slot map: entries past `have` are "none" */
  slotMap: boolean;
}

/** Region block `b` of region `r`, sealed with the collection's checksum seed. */
export function encodeRegionBlock(r: RegionSource, b: number, blockSize: number, collectionId: number): Uint8Array {
  const out = new Uint8Array(blockSize);
  const { src, recWords, perBlock: per, have } = r;
  const first = b * per;
  const last = Math.min((b + 1) * per, have);
  if (last > first) {
    const bytes = new Uint8Array(src.buffer, src.byteOffset + first * recWords * 4, (last - first) * recWords * 4);
    out.set(bytes);
  }
  if (r.slotMap) {
    // slot map entries the memory does not hold (past its capacity) are "none"
    const v = new DataView(out.buffer);
    for (let i = Math.max(last, first) - first; i < per; i++) v.setUint32(4 * i, NONE, true);
  }
  sealBlock(out, collectionId);
  return out;
}

/**
 * One region to read, for {@linkcode readRegions}: its name (for messages),
 * first file block, records per block, capacity, the set that collects its
 * bad blocks, the array the records go to, u32 words per record, records in use.
 */
export type RegionTarget = [string, number, number, number, Set<number>, Uint32Array, number, number];

/**
 * Copies the records of each region's blocks of `file` into the graph's
 * arrays, checking every block's checksum.
 * @returns the bad blocks, one sentence each (lenient; their numbers are
 *   added to the region's set and their records left as they were)
 * @throws FsError `EUCLEAN` on the first bad block unless `lenient`
 */
export function readRegions(
  file: Uint8Array,
  regions: RegionTarget[],
  blockSize: number,
  collectionId: number,
  lenient: boolean,
): string[] {
  const bs = blockSize, id = collectionId;
  const problems: string[] = [];
  for (const [name, start, per, cap, bad, dst, words, count] of regions) {
    const nb = Math.ceil(cap / per);
    for (let b = 0; b < nb; b++) {
      const off = (start + b) * bs;
      const block = file.subarray(off, off + bs);
      if (!blockOk(block, id)) {
        const why = `HNSW graph ${name} region block ${b} (file block ${start + b}): checksum mismatch`;
        if (!lenient) throw new FsError("EUCLEAN", why);
        problems.push(why);
        bad.add(b);
        continue;
      }
      const first = b * per, last = Math.min((b + 1) * per, count);
      if (last <= first) continue;
      const src = new Uint32Array(
        block.buffer.slice(block.byteOffset, block.byteOffset + (last - first) * words * 4),
      );
      dst.set(src, first * words);
    }
  }
  return problems;
}
