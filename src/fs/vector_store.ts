/**
 * A vector collection's files as the engine reads them (docs/FORMAT.md §8.3,
 * §8.5): the slot map (owner and vector CRC of each slot) and the vector
 * store, read once into wasm memory and checked against the CRCs.
 * @module
 */
import { FsError } from "../errors.ts";
import { type CollectionRecord, decodeSlotBlock, slotsPerBlock } from "../format/collection.ts";
import { WasmStore } from "../vector/simd.ts";
import { ELEM_TYPES, elemSize } from "../vector/types.ts";
import type { Loaded } from "./_loaded.ts";
import type { Vexfs } from "./fs.ts";

/** A Float32 as its 4 little-endian bytes. */
export function f32Bytes(x: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, x, true);
  return b;
}

/** Bytes of one stored vector of collection `rec` (dim × element size). */
export function strideOf(rec: CollectionRecord): number {
  return rec.dim * elemSize(ELEM_TYPES[rec.elemType - 1]);
}

/**
 * The slot map of collection `rec`: the owner inode and vector CRC of each
 * of its `count` slots.
 * @throws FsError EUCLEAN when the slot map is short or a block fails its checksum
 */
export function readSlotMap(fs: Vexfs, rec: CollectionRecord): { owners: number[]; crcs: number[] } {
  const id = rec.id;
  const bs = fs.blockSize;
  const per = slotsPerBlock(bs);
  const owners: number[] = [];
  const crcs: number[] = [];
  for (let b = 0; b * per < rec.count; b++) {
    const n = Math.min(per, rec.count - b * per);
    const raw = fs.read(rec.mapIno, b * bs, bs);
    if (raw.length < bs) {
      throw new FsError(
        "EUCLEAN",
        `collection ${id}: slot map is shorter than ${rec.count} slots`,
      );
    }
    for (const e of decodeSlotBlock(raw, id, n)) {
      owners.push(e.ino);
      crcs.push(e.vecCrc);
    }
  }
  return { owners, crcs };
}

/**
 * The collection's vectors read into wasm memory, every vector checked
 * against its CRC in the slot map, norms computed.
 * @throws FsError EUCLEAN when the store is short or a vector fails its checksum
 */
export function readStore(fs: Vexfs, l: Loaded): WasmStore {
  const id = l.rec.id;
  const stride = strideOf(l.rec);
  const data = fs.read(l.rec.vecIno, 0, l.rec.count * stride);
  if (data.length !== l.rec.count * stride) {
    throw new FsError(
      "EUCLEAN",
      `collection ${id}: vector store holds ${data.length} bytes, ${l.rec.count * stride} expected`,
    );
  }
  // The norms are computed here (in wasm, FORMAT.md §8.5's rule) rather than read from the norms file:
  // the exact scan's error bounds rely on them, and fsck checks the file against the vectors.
  const mem = WasmStore.from(ELEM_TYPES[l.rec.elemType - 1], l.rec.dim, data, l.rec.count);
  const crcs = mem.crcs();
  for (let s = 0; s < l.rec.count; s++) {
    if (crcs[s] !== l.crcs[s] >>> 0) {
      mem.free();
      throw new FsError(
        "EUCLEAN",
        `collection ${id}: vector in slot ${s} (inode ${l.owners[s]}) fails its checksum; run vexfs fsck`,
      );
    }
  }
  return mem;
}
