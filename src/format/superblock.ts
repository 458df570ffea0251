/**
 * Superblock codec (docs/FORMAT.md §3): a fixed 1024-byte little-endian
 * structure at byte offset 1024, checksummed with CRC-32C over bytes 0..1019.
 * @module
 */
import { FsError } from "../errors.ts";
import { crc32c } from "./crc.ts";
import {
  INCOMPAT_FLEX_META,
  INODE_SIZE,
  MAX_BLOCK_SIZE,
  MIN_BLOCK_SIZE,
  SB_MAGIC,
  SB_SIZE,
  SUPPORTED_INCOMPAT,
  VERSION_MAJOR,
} from "./constants.ts";

/** Decoded superblock. Counts are in blocks or inodes; times in seconds since the epoch. */
export interface Superblock {
  magic: number;
  versionMajor: number;
  versionMinor: number;
  featureCompat: number;
  featureIncompat: number;
  featureRoCompat: number;
  /** block size in bytes = 1024 << logBlockSize */
  logBlockSize: number;
  blockCount: number;
  freeBlocks: number;
  inodeCount: number;
  freeInodes: number;
  blockBitmapStart: number;
  blockBitmapBlocks: number;
  inodeBitmapBlocks: number;
  inodeBitmapStart: number;
  inodeTableStart: number;
  inodeTableBlocks: number;
  firstDataBlock: number;
  rootIno: number;
  collTableIno: number;
  inodeSize: number;
  /** 1 clean, 2 dirty, 3 error */
  state: number;
  errors: number;
  mountCount: number;
  maxMountCount: number;
  mkfsTime: number;
  mountTime: number;
  writeTime: number;
  checkTime: number;
  /** 16 bytes */
  uuid: Uint8Array;
  /** UTF-8, at most 63 bytes */
  label: string;
  hashSeed: number;
  firstIno: number;
  orphanHead: number;
  journalIno: number;
  journalBlocks: number;
  collCount: number;
  inodeRatio: number;
  /** stored checksum (decode only; encode computes it) */
  checksum: number;
  // The error record (FORMAT.md §3.2, offsets 296..407). Optional so that superblocks built before the record
  // existed (mkfs) still type-check; {@link decodeSuperblock} sets all nine when any of them is non-zero and none
  // otherwise, and {@link encodeSuperblock} writes an absent field as 0. Read them as `sb.errorCount ?? 0`.
  /** errors met while in use since the last repair (offset 296) */
  errorCount?: number;
  /** errno of the first error (117 EUCLEAN, 5 EIO, ...), 0 if none (offset 300) */
  firstErrorErrno?: number;
  /** seconds since the epoch of the first error, 0 if none (offset 304) */
  firstErrorTime?: number;
  /** inode the first error concerned, 0 if none or unknown (offset 312) */
  firstErrorIno?: number;
  /** operation that met the first error (`lookup`, `write`, ...), ASCII, at most 32 bytes (offset 320) */
  firstErrorOp?: string;
  /** errno of the most recent error (offset 352) */
  lastErrorErrno?: number;
  /** seconds since the epoch of the most recent error (offset 360) */
  lastErrorTime?: number;
  /** inode the most recent error concerned (offset 368) */
  lastErrorIno?: number;
  /** operation that met the most recent error (offset 376) */
  lastErrorOp?: string;
}

/** Offsets of the error record (FORMAT.md §3.2). */
const ERR_COUNT = 296;
const ERR_FIRST = 300;
const ERR_LAST = 352;
/** Bytes of an error operation name. */
const ERR_OP_BYTES = 32;

function putOp(b: Uint8Array, off: number, op: string | undefined): void {
  const bytes = new TextEncoder().encode(op ?? "");
  if (bytes.length > ERR_OP_BYTES || /[^\x20-\x7e]/.test(op ?? "")) {
    throw new FsError("EINVAL", `error operation '${op}' is not printable ASCII of at most ${ERR_OP_BYTES} bytes`);
  }
  b.set(bytes, off);
}

function getOp(b: Uint8Array, off: number): string {
  const raw = b.subarray(off, off + ERR_OP_BYTES);
  const nul = raw.indexOf(0);
  return new TextDecoder().decode(raw.subarray(0, nul < 0 ? ERR_OP_BYTES : nul));
}

/** Block size in bytes of a superblock. */
export function blockSizeOf(sb: Superblock): number {
  return 1024 << sb.logBlockSize;
}

function u64(dv: DataView, off: number): number {
  const v = dv.getBigUint64(off, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new FsError("EUCLEAN", `superblock field at offset ${off} is out of range (${v})`);
  }
  return Number(v);
}

/**
 * Encodes a superblock into 1024 bytes with its checksum.
 * @param sb the fields; `checksum` is ignored and recomputed
 * @returns Uint8Array of length 1024
 */
export function encodeSuperblock(sb: Superblock): Uint8Array {
  const b = new Uint8Array(SB_SIZE);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, SB_MAGIC, true);
  dv.setUint16(4, sb.versionMajor, true);
  dv.setUint16(6, sb.versionMinor, true);
  dv.setUint32(8, sb.featureCompat, true);
  dv.setUint32(12, sb.featureIncompat, true);
  dv.setUint32(16, sb.featureRoCompat, true);
  dv.setUint32(20, sb.logBlockSize, true);
  const set64 = (off: number, v: number) => dv.setBigUint64(off, BigInt(v), true);
  const sets64 = (off: number, v: number) => dv.setBigInt64(off, BigInt(v), true);
  set64(24, sb.blockCount);
  set64(32, sb.freeBlocks);
  set64(40, sb.inodeCount);
  set64(48, sb.freeInodes);
  set64(56, sb.blockBitmapStart);
  dv.setUint32(64, sb.blockBitmapBlocks, true);
  dv.setUint32(68, sb.inodeBitmapBlocks, true);
  set64(72, sb.inodeBitmapStart);
  set64(80, sb.inodeTableStart);
  set64(88, sb.inodeTableBlocks);
  set64(96, sb.firstDataBlock);
  set64(104, sb.rootIno);
  set64(112, sb.collTableIno);
  dv.setUint16(120, sb.inodeSize, true);
  dv.setUint16(122, sb.state, true);
  dv.setUint16(124, sb.errors, true);
  dv.setUint32(128, sb.mountCount, true);
  dv.setUint32(132, sb.maxMountCount, true);
  sets64(136, sb.mkfsTime);
  sets64(144, sb.mountTime);
  sets64(152, sb.writeTime);
  sets64(160, sb.checkTime);
  b.set(sb.uuid.subarray(0, 16), 168);
  const label = new TextEncoder().encode(sb.label);
  if (label.length > 63) throw new FsError("EINVAL", `label is ${label.length} bytes; at most 63 are allowed`);
  b.set(label, 184);
  dv.setUint32(248, sb.hashSeed, true);
  dv.setUint32(252, sb.firstIno, true);
  set64(256, sb.orphanHead);
  set64(264, sb.journalIno);
  set64(272, sb.journalBlocks);
  dv.setUint32(280, sb.collCount, true);
  set64(288, sb.inodeRatio);
  dv.setUint32(ERR_COUNT, sb.errorCount ?? 0, true);
  dv.setUint32(ERR_FIRST, sb.firstErrorErrno ?? 0, true);
  sets64(ERR_FIRST + 4, sb.firstErrorTime ?? 0);
  set64(ERR_FIRST + 12, sb.firstErrorIno ?? 0);
  putOp(b, ERR_FIRST + 20, sb.firstErrorOp);
  dv.setUint32(ERR_LAST, sb.lastErrorErrno ?? 0, true);
  sets64(ERR_LAST + 8, sb.lastErrorTime ?? 0);
  set64(ERR_LAST + 16, sb.lastErrorIno ?? 0);
  putOp(b, ERR_LAST + 24, sb.lastErrorOp);
  dv.setUint32(1020, crc32c(b.subarray(0, 1020)), true);
  return b;
}

/**
 * Decodes 1024 superblock bytes without validating them (see
 * {@link superblockProblems}); fsck uses this to report on damaged ones.
 * The error record (`errorCount` .. `lastErrorOp`) is present only when one
 * of its bytes is non-zero.
 */
export function decodeSuperblock(b: Uint8Array): Superblock {
  if (b.length < SB_SIZE) throw new FsError("EINVAL", `superblock needs ${SB_SIZE} bytes, got ${b.length}`);
  const dv = new DataView(b.buffer, b.byteOffset, SB_SIZE);
  const labelBytes = b.subarray(184, 248);
  const nul = labelBytes.indexOf(0);
  const sb: Superblock = {
    magic: dv.getUint32(0, true),
    versionMajor: dv.getUint16(4, true),
    versionMinor: dv.getUint16(6, true),
    featureCompat: dv.getUint32(8, true),
    featureIncompat: dv.getUint32(12, true),
    featureRoCompat: dv.getUint32(16, true),
    logBlockSize: dv.getUint32(20, true),
    blockCount: u64(dv, 24),
    freeBlocks: u64(dv, 32),
    inodeCount: u64(dv, 40),
    freeInodes: u64(dv, 48),
    blockBitmapStart: u64(dv, 56),
    blockBitmapBlocks: dv.getUint32(64, true),
    inodeBitmapBlocks: dv.getUint32(68, true),
    inodeBitmapStart: u64(dv, 72),
    inodeTableStart: u64(dv, 80),
    inodeTableBlocks: u64(dv, 88),
    firstDataBlock: u64(dv, 96),
    rootIno: u64(dv, 104),
    collTableIno: u64(dv, 112),
    inodeSize: dv.getUint16(120, true),
    state: dv.getUint16(122, true),
    errors: dv.getUint16(124, true),
    mountCount: dv.getUint32(128, true),
    maxMountCount: dv.getUint32(132, true),
    mkfsTime: Number(dv.getBigInt64(136, true)),
    mountTime: Number(dv.getBigInt64(144, true)),
    writeTime: Number(dv.getBigInt64(152, true)),
    checkTime: Number(dv.getBigInt64(160, true)),
    uuid: b.slice(168, 184),
    label: new TextDecoder().decode(labelBytes.subarray(0, nul < 0 ? 64 : nul)),
    hashSeed: dv.getUint32(248, true),
    firstIno: dv.getUint32(252, true),
    orphanHead: u64(dv, 256),
    journalIno: u64(dv, 264),
    journalBlocks: u64(dv, 272),
    collCount: dv.getUint32(280, true),
    inodeRatio: u64(dv, 288),
    checksum: dv.getUint32(1020, true),
  };
  if (b.subarray(ERR_COUNT, ERR_LAST + 24 + ERR_OP_BYTES).some((x) => x !== 0)) {
    sb.errorCount = dv.getUint32(ERR_COUNT, true);
    sb.firstErrorErrno = dv.getUint32(ERR_FIRST, true);
    sb.firstErrorTime = Number(dv.getBigInt64(ERR_FIRST + 4, true));
    sb.firstErrorIno = Number(dv.getBigUint64(ERR_FIRST + 12, true));
    sb.firstErrorOp = getOp(b, ERR_FIRST + 20);
    sb.lastErrorErrno = dv.getUint32(ERR_LAST, true);
    sb.lastErrorTime = Number(dv.getBigInt64(ERR_LAST + 8, true));
    sb.lastErrorIno = Number(dv.getBigUint64(ERR_LAST + 16, true));
    sb.lastErrorOp = getOp(b, ERR_LAST + 24);
  }
  return sb;
}

/** Lengths in blocks of the metadata regions of docs/FORMAT.md §2. */
export interface RegionLengths {
  /** one bit per block */
  blockBitmapBlocks: number;
  /** one bit per inode */
  inodeBitmapBlocks: number;
  /** 256 bytes per inode */
  inodeTableBlocks: number;
}

/**
 * How long the bitmaps and the inode table are for `blockCount` blocks and
 * `inodeCount` inodes of a `bs`-byte block size (docs/FORMAT.md §2): what
 * mkfs lays out and what the superblock checks expect.
 */
export function regionLengths(blockCount: number, inodeCount: number, bs: number): RegionLengths {
  return {
    blockBitmapBlocks: Math.ceil(blockCount / (8 * bs)),
    inodeBitmapBlocks: Math.ceil(inodeCount / (8 * bs)),
    inodeTableBlocks: Math.ceil((inodeCount * INODE_SIZE) / bs),
  };
}

/**
 * First block a metadata region may start at: after the superblock, which
 * sits at byte 1024 (block 1 of 1 KiB blocks, inside block 0 otherwise).
 */
export function firstMetaBlock(bs: number): number {
  return bs === 1024 ? 2 : 1;
}

/** A run of blocks: `length` blocks from block `start`. */
export interface BlockRun {
  start: number;
  length: number;
}

/** The three metadata regions of docs/FORMAT.md §2: block bitmap, inode bitmap, inode table. */
export function metaRegions(sb: Superblock): BlockRun[] {
  return [
    { start: sb.blockBitmapStart, length: sb.blockBitmapBlocks },
    { start: sb.inodeBitmapStart, length: sb.inodeBitmapBlocks },
    { start: sb.inodeTableStart, length: sb.inodeTableBlocks },
  ];
}

/**
 * Whether the `len` blocks from `b` are all data blocks (docs/FORMAT.md
 * §2, §2.2): from `first_data_block` to `block_count - 2` (the last block
 * holds the backup superblock) and, with `FLEX_META`, outside the three
 * metadata regions. Every extent, extent tree block, xattr block and
 * journal block must pass.
 */
export function isDataRun(sb: Superblock, b: number, len = 1): boolean {
  if (!Number.isSafeInteger(b) || len < 1 || b < sb.firstDataBlock || b + len > sb.blockCount - 1) return false;
  if (!(sb.featureIncompat & INCOMPAT_FLEX_META)) return true;
  for (const r of metaRegions(sb)) if (b < r.start + r.length && b + len > r.start) return false;
  return true;
}

/**
 * Whether the regions of `sb` (block bitmap, inode bitmap, inode table,
 * data) are out of order, overlap, or leave no data block before the backup
 * superblock in the last block (docs/FORMAT.md §2). With `FLEX_META`
 * (§2.2): whether `first_data_block` is not the first block after the
 * superblock, or a region leaves `first_data_block .. block_count - 2` or
 * overlaps another.
 */
export function regionsOverlap(sb: Superblock, bs: number): boolean {
  if (sb.featureIncompat & INCOMPAT_FLEX_META) {
    if (sb.firstDataBlock !== firstMetaBlock(bs) || sb.blockCount < 2) return true;
    const rs = metaRegions(sb).sort((a, b) => a.start - b.start);
    let used = 0;
    for (let i = 0; i < rs.length; i++) {
      const r = rs[i];
      if (r.start < sb.firstDataBlock || r.start + r.length > sb.blockCount - 1) return true;
      if (i > 0 && rs[i - 1].start + rs[i - 1].length > r.start) return true;
      used += r.length;
    }
    return sb.firstDataBlock + used >= sb.blockCount - 1;
  }
  return sb.blockBitmapStart < firstMetaBlock(bs) ||
    sb.inodeBitmapStart < sb.blockBitmapStart + sb.blockBitmapBlocks ||
    sb.inodeTableStart < sb.inodeBitmapStart + sb.inodeBitmapBlocks ||
    sb.firstDataBlock < sb.inodeTableStart + sb.inodeTableBlocks ||
    sb.firstDataBlock >= sb.blockCount - 1;
}

/**
 * Lists what is wrong with a superblock (magic, version, checksum, unsupported
 * incompat features, inconsistent geometry); empty when it is usable.
 * @param b the raw 1024 bytes
 * @param deviceBytes size of the device in bytes, to check block_count against
 */
export function superblockProblems(b: Uint8Array, deviceBytes?: number): string[] {
  const p: string[] = [];
  const dv = new DataView(b.buffer, b.byteOffset, SB_SIZE);
  if (dv.getUint32(0, true) !== SB_MAGIC) {
    return [`no VexFS magic (found 0x${dv.getUint32(0, true).toString(16)}, expected 0x${SB_MAGIC.toString(16)})`];
  }
  const want = crc32c(b.subarray(0, 1020));
  const got = dv.getUint32(1020, true);
  if (want !== got) {
    p.push(`checksum mismatch (stored 0x${got.toString(16)}, computed 0x${want.toString(16)})`);
  }
  let sb: Superblock;
  try {
    sb = decodeSuperblock(b);
  } catch (e) {
    return [...p, (e as Error).message];
  }
  if (sb.versionMajor !== VERSION_MAJOR) {
    p.push(`format version ${sb.versionMajor}.${sb.versionMinor} is not supported (this is version ${VERSION_MAJOR})`);
  }
  const unknown = sb.featureIncompat & ~SUPPORTED_INCOMPAT;
  if (unknown) p.push(`unsupported incompatible features 0x${unknown.toString(16)}`);
  if (sb.logBlockSize > 6) p.push(`invalid block size exponent ${sb.logBlockSize}`);
  else {
    const bs = blockSizeOf(sb);
    if (bs < MIN_BLOCK_SIZE || bs > MAX_BLOCK_SIZE) p.push(`invalid block size ${bs}`);
    if (deviceBytes !== undefined && sb.blockCount * bs > deviceBytes) {
      p.push(
        `filesystem has ${sb.blockCount} blocks of ${bs} bytes (${
          sb.blockCount * bs
        } bytes) but the device holds only ${deviceBytes} bytes (truncated image?)`,
      );
    }
    const want = regionLengths(sb.blockCount, sb.inodeCount, bs);
    if (sb.inodeTableBlocks !== want.inodeTableBlocks) {
      p.push(
        `inode table is ${sb.inodeTableBlocks} blocks, ${want.inodeTableBlocks} expected for ${sb.inodeCount} inodes`,
      );
    }
    if (sb.blockBitmapBlocks !== want.blockBitmapBlocks) {
      p.push(`block bitmap length ${sb.blockBitmapBlocks} does not match ${sb.blockCount} blocks`);
    }
    if (sb.inodeBitmapBlocks !== want.inodeBitmapBlocks) {
      p.push(`inode bitmap length ${sb.inodeBitmapBlocks} does not match ${sb.inodeCount} inodes`);
    }
    if (regionsOverlap(sb, bs)) p.push("layout regions overlap or lie outside the filesystem");
  }
  if (sb.inodeSize !== 256) p.push(`inode size ${sb.inodeSize} is not 256`);
  if (sb.rootIno !== 2 || sb.collTableIno !== 3 || sb.firstIno !== 16) p.push("reserved inode numbers are wrong");
  if (sb.freeBlocks > sb.blockCount) p.push(`free block count ${sb.freeBlocks} exceeds block count ${sb.blockCount}`);
  if (sb.freeInodes > sb.inodeCount) p.push(`free inode count ${sb.freeInodes} exceeds inode count ${sb.inodeCount}`);
  if (sb.state < 1 || sb.state > 3) p.push(`invalid state ${sb.state}`);
  if (sb.orphanHead > sb.inodeCount) p.push(`orphan list head ${sb.orphanHead} is not an inode`);
  return p;
}

/** Formats a 16-byte UUID as the usual 8-4-4-4-12 hex string. */
export function uuidToString(u: Uint8Array): string {
  const h = Array.from(u, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Parses an 8-4-4-4-12 UUID string; throws FsError EINVAL if malformed. */
export function uuidFromString(s: string): Uint8Array {
  const hex = s.replace(/-/g, "");
  if (!/^[0-9a-fA-F]{32}$/.test(hex) || !/^[0-9a-fA-F-]{36}$/.test(s)) {
    throw new FsError("EINVAL", `'${s}' is not a UUID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)`);
  }
  const u = new Uint8Array(16);
  for (let i = 0; i < 16; i++) u[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return u;
}
