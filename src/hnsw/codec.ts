/**
 * The on-disk encoding of an HNSW graph file (docs/FORMAT.md §8.6): the header
 * block, the geometry of the three regions (node records, upper-level
 * records, slot map) and the per-block CRC-32C tail seeded with the
 * collection id (FORMAT.md §1).
 *
 * The records themselves are not encoded here: the core (wasm/hnsw.c) keeps
 * them in memory byte for byte as they are on disk, so a region block is a
 * copy of `perBlock` records, zero padding and the checksum
 * ({@linkcode sealBlock}). The graph (./graph.ts) does that copying.
 *
 * @example
 * ```ts
 * import { decodeHeader, encodeHeader, emptyHeader, planLayout } from "./codec.ts";
 * const h = emptyHeader({ m: 16, efConstruction: 200, dim: 128, metric: 1, elem: 1, seed: 7 });
 * Object.assign(h, planLayout(4096, 16, { nodes: 1000, uppers: 100, slots: 1000 }));
 * const block = encodeHeader(h, 7, 4096);
 * decodeHeader(block, 7).nodeCap; // >= 1000
 * ```
 * @module
 */
import { FsError } from "../errors.ts";
import { crc32cSeeded } from "../format/crc.ts";

/** `H N S W` as a little-endian u32. */
export const HNSW_MAGIC = 0x57534e48;
/** Format version of the graph file. */
export const HNSW_VERSION = 1;
/** Bytes of the header fields (the rest of block 0 is zero up to the checksum). */
export const HEADER_BYTES = 144;
/** "none" for u32 node / record ids. */
export const NO_ID = 0xffffffff;

/** Bytes of a node record: 16 + 4 * M0. */
export function nodeRecordSize(m0: number): number {
  return 16 + 4 * m0;
}

/** Bytes of an upper-level record: 16 + 4 * M. */
export function upperRecordSize(m: number): number {
  return 16 + 4 * m;
}

/**
 * Records of `recordSize` bytes one block holds: `floor((blockSize - 4) / recordSize)`
 * (records never straddle a block; the last 4 bytes are the checksum).
 */
export function recordsPerBlock(blockSize: number, recordSize: number): number {
  return Math.floor((blockSize - 4) / recordSize);
}

/** The decoded header (block 0). u64 fields are numbers (safe integers). */
export interface HnswHeader {
  /** M: neighbours per node on levels ≥ 1 */
  m: number;
  /** neighbours on level 0, 2M */
  m0: number;
  /** efConstruction the graph was built with */
  efConstruction: number;
  /** the collection's dimension */
  dim: number;
  /** metric code of FORMAT.md §8.1 (1 l2, 2 cosine, 3 ip) */
  metric: number;
  /** element type code (1 f32, 2 f16, 3 i8) */
  elem: number;
  /** entry point node, {@link NO_ID} when empty */
  entry: number;
  /** level of the entry point */
  maxLevel: number;
  /** nodes 0 .. nodeCount - 1 exist (in use, deleted or free) */
  nodeCount: number;
  /** records the node region holds */
  nodeCap: number;
  /** upper-level records 0 .. upperCount - 1 exist */
  upperCount: number;
  /** records the upper region holds */
  upperCap: number;
  /** entries the slot map region holds */
  slotCap: number;
  /** first free node (chained through `upper`), {@link NO_ID} if none */
  freeNode: number;
  /** first free upper record (chained through `next`), {@link NO_ID} if none */
  freeUpper: number;
  /** the collection generation the graph matches */
  generation: number;
  /** the collection count at that generation */
  count: number;
  /** first block of the node region */
  nodeStart: number;
  /** first block of the upper region */
  upperStart: number;
  /** first block of the slot map region */
  slotStart: number;
  /** level generator seed */
  seed: number;
  /** level multiplier mL (1 / ln M) */
  ml: number;
  /** nodes marked deleted, not yet reclaimed */
  deleted: number;
  /** nodes reclaimed since the graph was built */
  reclaimed: number;
  /** nanoseconds the last full build took */
  buildNs: number;
  /** insertions since the last full build */
  inserts: number;
}

/** Where the regions lie and how many records they hold. */
export interface HnswLayout {
  /** the filesystem block size */
  blockSize: number;
  /** first block of the node region */
  nodeStart: number;
  /** node records it holds (whole blocks) */
  nodeCap: number;
  /** first block of the upper region */
  upperStart: number;
  /** upper records it holds */
  upperCap: number;
  /** first block of the slot map region */
  slotStart: number;
  /** slot map entries it holds */
  slotCap: number;
  /** blocks of the whole file (header included) */
  fileBlocks: number;
}

/** Per-block record counts of the three regions. */
export interface RegionGeometry {
  /** node records per block */
  nodePerBlock: number;
  /** upper records per block */
  upperPerBlock: number;
  /** slot map entries (u32) per block */
  slotPerBlock: number;
}

/**
 * Records per block of each region for a block size and M.
 * @throws FsError `EINVAL` when a node record does not fit a block (M too large for the block size)
 */
export function geometry(blockSize: number, m: number): RegionGeometry {
  const nodePerBlock = recordsPerBlock(blockSize, nodeRecordSize(2 * m));
  if (nodePerBlock < 1) {
    throw new FsError(
      "EINVAL",
      `HNSW M ${m}: a node record (${nodeRecordSize(2 * m)} bytes) does not fit a ${blockSize}-byte block`,
    );
  }
  return {
    nodePerBlock,
    upperPerBlock: recordsPerBlock(blockSize, upperRecordSize(m)),
    slotPerBlock: recordsPerBlock(blockSize, 4),
  };
}

/**
 * A layout holding at least the given numbers of records, with room to grow
 * (a quarter more, at least one block per region), regions in the order
 * nodes, uppers, slot map after the header block.
 */
export function planLayout(
  blockSize: number,
  m: number,
  need: { nodes: number; uppers: number; slots: number },
): HnswLayout {
  const g = geometry(blockSize, m);
  const blocks = (n: number, per: number) => Math.max(1, Math.ceil(Math.ceil(n * 1.25) / per));
  const nb = blocks(need.nodes, g.nodePerBlock);
  const ub = blocks(need.uppers, g.upperPerBlock);
  const sb = blocks(need.slots, g.slotPerBlock);
  return {
    blockSize,
    nodeStart: 1,
    nodeCap: nb * g.nodePerBlock,
    upperStart: 1 + nb,
    upperCap: ub * g.upperPerBlock,
    slotStart: 1 + nb + ub,
    slotCap: sb * g.slotPerBlock,
    fileBlocks: 1 + nb + ub + sb,
  };
}

/** The layout a header describes (file size from its last region). */
export function layoutOf(h: HnswHeader, blockSize: number): HnswLayout {
  const g = geometry(blockSize, h.m);
  return {
    blockSize,
    nodeStart: h.nodeStart,
    nodeCap: h.nodeCap,
    upperStart: h.upperStart,
    upperCap: h.upperCap,
    slotStart: h.slotStart,
    slotCap: h.slotCap,
    fileBlocks: Math.max(
      h.nodeStart + Math.ceil(h.nodeCap / g.nodePerBlock),
      h.upperStart + Math.ceil(h.upperCap / g.upperPerBlock),
      h.slotStart + Math.ceil(h.slotCap / g.slotPerBlock),
    ),
  };
}

/** A header for an empty graph with the given parameters (no layout yet). */
export function emptyHeader(p: {
  m: number;
  efConstruction: number;
  dim: number;
  metric: number;
  elem: number;
  seed: number;
}): HnswHeader {
  return {
    m: p.m,
    m0: 2 * p.m,
    efConstruction: p.efConstruction,
    dim: p.dim,
    metric: p.metric,
    elem: p.elem,
    entry: NO_ID,
    maxLevel: 0,
    nodeCount: 0,
    nodeCap: 0,
    upperCount: 0,
    upperCap: 0,
    slotCap: 0,
    freeNode: NO_ID,
    freeUpper: NO_ID,
    generation: 0,
    count: 0,
    nodeStart: 0,
    upperStart: 0,
    slotStart: 0,
    seed: p.seed,
    ml: 1 / Math.log(p.m),
    deleted: 0,
    reclaimed: 0,
    buildNs: 0,
    inserts: 0,
  };
}

/** Writes the 4-byte CRC-32C tail of one block, seeded with the collection id (FORMAT.md §1). */
export function sealBlock(block: Uint8Array, collectionId: number): void {
  const n = block.length;
  const crc = crc32cSeeded(collectionId, block.subarray(0, n - 4));
  new DataView(block.buffer, block.byteOffset, n).setUint32(n - 4, crc, true);
}

/** Whether a block's CRC-32C tail matches its bytes, seeded with the collection id. */
export function blockOk(block: Uint8Array, collectionId: number): boolean {
  const n = block.length;
  const want = new DataView(block.buffer, block.byteOffset, n).getUint32(n - 4, true);
  return crc32cSeeded(collectionId, block.subarray(0, n - 4)) === want;
}

/**
 * Block 0: the header fields, zeros, the checksum.
 * @param h the header
 * @param collectionId checksum seed
 * @param blockSize bytes of the block
 */
export function encodeHeader(h: HnswHeader, collectionId: number, blockSize: number): Uint8Array {
  const b = new Uint8Array(blockSize);
  const v = new DataView(b.buffer);
  const u64 = (off: number, x: number) => v.setBigUint64(off, BigInt(x), true);
  v.setUint32(0, HNSW_MAGIC, true);
  v.setUint16(4, HNSW_VERSION, true);
  v.setUint16(6, h.m, true);
  v.setUint16(8, h.m0, true);
  v.setUint16(10, h.efConstruction, true);
  v.setUint32(12, h.dim, true);
  v.setUint8(16, h.metric);
  v.setUint8(17, h.elem);
  v.setUint32(20, h.entry, true);
  v.setUint32(24, h.maxLevel, true);
  v.setUint32(28, h.nodeCount, true);
  v.setUint32(32, h.nodeCap, true);
  v.setUint32(36, h.upperCount, true);
  v.setUint32(40, h.upperCap, true);
  v.setUint32(44, h.slotCap, true);
  v.setUint32(48, h.freeNode, true);
  v.setUint32(52, h.freeUpper, true);
  u64(56, h.generation);
  u64(64, h.count);
  u64(72, h.nodeStart);
  u64(80, h.upperStart);
  u64(88, h.slotStart);
  u64(96, h.seed);
  v.setFloat64(104, h.ml, true);
  u64(112, h.deleted);
  u64(120, h.reclaimed);
  u64(128, h.buildNs);
  u64(136, h.inserts);
  sealBlock(b, collectionId);
  return b;
}

/**
 * Decodes and validates block 0.
 * @param block the header block (its length is the block size)
 * @param collectionId checksum seed
 * @throws FsError `EUCLEAN` naming what is wrong: checksum, magic, version,
 *   M0 ≠ 2M, counts above capacities, ids out of range, regions overlapping
 *   the header or each other
 */
export function decodeHeader(block: Uint8Array, collectionId: number): HnswHeader {
  const bad = (why: string) => new FsError("EUCLEAN", `HNSW graph header: ${why}`);
  if (block.length < 1024) throw bad(`block of ${block.length} bytes is too small`);
  const v = new DataView(block.buffer, block.byteOffset, block.length);
  const magic = v.getUint32(0, true);
  if (magic !== HNSW_MAGIC) throw bad(`bad magic 0x${magic.toString(16)} (expected 0x${HNSW_MAGIC.toString(16)})`);
  if (!blockOk(block, collectionId)) throw bad(`checksum mismatch (seed ${collectionId})`);
  const version = v.getUint16(4, true);
  if (version !== HNSW_VERSION) throw bad(`unsupported version ${version} (this reader knows ${HNSW_VERSION})`);
  const u64 = (off: number) => {
    const x = v.getBigUint64(off, true);
    if (x > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`field at ${off} is too large (${x})`);
    return Number(x);
  };
  const h: HnswHeader = {
    m: v.getUint16(6, true),
    m0: v.getUint16(8, true),
    efConstruction: v.getUint16(10, true),
    dim: v.getUint32(12, true),
    metric: v.getUint8(16),
    elem: v.getUint8(17),
    entry: v.getUint32(20, true),
    maxLevel: v.getUint32(24, true),
    nodeCount: v.getUint32(28, true),
    nodeCap: v.getUint32(32, true),
    upperCount: v.getUint32(36, true),
    upperCap: v.getUint32(40, true),
    slotCap: v.getUint32(44, true),
    freeNode: v.getUint32(48, true),
    freeUpper: v.getUint32(52, true),
    generation: u64(56),
    count: u64(64),
    nodeStart: u64(72),
    upperStart: u64(80),
    slotStart: u64(88),
    seed: u64(96),
    ml: v.getFloat64(104, true),
    deleted: u64(112),
    reclaimed: u64(120),
    buildNs: u64(128),
    inserts: u64(136),
  };
  if (h.m < 2 || h.m > 128) throw bad(`M ${h.m} out of range 2..128`);
  if (h.m0 !== 2 * h.m) throw bad(`M0 ${h.m0} is not 2M (${2 * h.m})`);
  if (h.dim < 1 || h.dim > 4096) throw bad(`dim ${h.dim} out of range`);
  if (h.metric < 1 || h.metric > 3) throw bad(`metric code ${h.metric}`);
  if (h.elem < 1 || h.elem > 3) throw bad(`element type code ${h.elem}`);
  if (!(h.ml > 0 && Number.isFinite(h.ml))) throw bad(`level multiplier ${h.ml}`);
  if (h.nodeCount > h.nodeCap) throw bad(`node_count ${h.nodeCount} > node_cap ${h.nodeCap}`);
  if (h.upperCount > h.upperCap) throw bad(`upper_count ${h.upperCount} > upper_cap ${h.upperCap}`);
  if (h.count > h.slotCap) throw bad(`count ${h.count} > slot_cap ${h.slotCap}`);
  if (h.entry !== NO_ID && h.entry >= h.nodeCount) throw bad(`entry ${h.entry} ≥ node_count ${h.nodeCount}`);
  if (h.maxLevel > 31) throw bad(`max_level ${h.maxLevel} > 31`);
  if (h.freeNode !== NO_ID && h.freeNode >= h.nodeCount) throw bad(`free_node ${h.freeNode} ≥ node_count`);
  if (h.freeUpper !== NO_ID && h.freeUpper >= h.upperCount) throw bad(`free_upper ${h.freeUpper} ≥ upper_count`);
  const g = geometry(block.length, h.m);
  const regions = [
    ["node", h.nodeStart, Math.ceil(h.nodeCap / g.nodePerBlock)],
    ["upper", h.upperStart, Math.ceil(h.upperCap / g.upperPerBlock)],
    ["slot map", h.slotStart, Math.ceil(h.slotCap / g.slotPerBlock)],
  ] as const;
  for (const [name, start, n] of regions) {
    if (start < 1) throw bad(`${name} region starts at block ${start}, over the header`);
    for (const [name2, start2, n2] of regions) {
      if (name2 !== name && start < start2 + n2 && start2 < start + n && n > 0 && n2 > 0) {
        throw bad(`${name} region (blocks ${start}+${n}) overlaps the ${name2} region (${start2}+${n2})`);
      }
    }
  }
  return h;
}
