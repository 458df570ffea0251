/**
 * Codecs for the metadata journal (docs/FORMAT.md §9): the on-disk format of
 * the Linux kernel's jbd2 (`include/linux/jbd2.h`; e2fsprogs
 * `lib/ext2fs/kernel-jbd.h`), restricted to what VexFS writes: a v2 journal
 * superblock, descriptor blocks of `journal_block_tag3_t` tags (CSUM_V3),
 * revoke blocks of 64-bit records, and commit blocks, every one checksummed
 * with CRC-32C as jbd2 does it.
 *
 * **Every field here is big-endian** (jbd2 is), unlike the rest of the
 * format; each accessor passes the byte order explicitly.
 *
 * @example
 * ```ts
 * import { decodeJournalSuperblock, encodeJournalSuperblock, newJournalSuperblock } from "./journal.ts";
 * const jsb = newJournalSuperblock(4096, 1024, new Uint8Array(16));
 * const raw = encodeJournalSuperblock(jsb, 4096);
 * decodeJournalSuperblock(raw).maxlen; // 1024
 * ```
 * @module
 */
import CRC32C from "crc-32/crc32c.js";

/** `h_magic` of every journal metadata block (the first 4 bytes of /dev/random, says jbd2.h). */
export const JBD2_MAGIC = 0xc03b3998;
/** Block types (`h_blocktype`). */
export const JBD2_DESCRIPTOR_BLOCK = 1;
export const JBD2_COMMIT_BLOCK = 2;
export const JBD2_SUPERBLOCK_V1 = 3;
export const JBD2_SUPERBLOCK_V2 = 4;
export const JBD2_REVOKE_BLOCK = 5;

/** Incompat features (`s_feature_incompat`). */
export const JBD2_FEATURE_INCOMPAT_REVOKE = 0x1;
export const JBD2_FEATURE_INCOMPAT_64BIT = 0x2;
export const JBD2_FEATURE_INCOMPAT_ASYNC_COMMIT = 0x4;
export const JBD2_FEATURE_INCOMPAT_CSUM_V2 = 0x8;
export const JBD2_FEATURE_INCOMPAT_CSUM_V3 = 0x10;
export const JBD2_FEATURE_INCOMPAT_FAST_COMMIT = 0x20;
/** What VexFS writes (FORMAT.md §9.3). */
export const VEXFS_JBD2_INCOMPAT = JBD2_FEATURE_INCOMPAT_REVOKE | JBD2_FEATURE_INCOMPAT_64BIT |
  JBD2_FEATURE_INCOMPAT_CSUM_V3;
/** What VexFS reads: its own set, plus ASYNC_COMMIT that a kernel jbd2 may set. */
export const VEXFS_JBD2_INCOMPAT_READ = VEXFS_JBD2_INCOMPAT | JBD2_FEATURE_INCOMPAT_ASYNC_COMMIT;
/** `s_checksum_type` for CRC-32C. */
export const JBD2_CRC32C_CHKSUM = 4;

/** Tag flags (`t_flags`). */
export const JBD2_FLAG_ESCAPE = 0x1;
export const JBD2_FLAG_SAME_UUID = 0x2;
export const JBD2_FLAG_DELETED = 0x4;
export const JBD2_FLAG_LAST_TAG = 0x8;

/** jbd2's smallest journal, in blocks (`JBD2_MIN_JOURNAL_BLOCKS`). */
export const JBD2_MIN_JOURNAL_BLOCKS = 1024;
/** jbd2's largest journal, in blocks (`JBD2_MAX_JOURNAL_BLOCKS`). */
export const JBD2_MAX_JOURNAL_BLOCKS = 1024 * 10000;

/** Bytes of the common block header. */
export const JBD2_HEADER_SIZE = 12;
/** Bytes of a `journal_block_tag3_t`. */
export const JBD2_TAG3_SIZE = 16;
/** Bytes of the UUID that follows a tag without SAME_UUID. */
export const JBD2_UUID_SIZE = 16;
/** Bytes of the checksum tail of descriptor and revoke blocks. */
export const JBD2_TAIL_SIZE = 4;
/** Bytes of the revoke header (common header + r_count). */
export const JBD2_REVOKE_HEADER_SIZE = 16;
/** Bytes of the used part of the journal superblock. */
export const JBD2_SUPERBLOCK_SIZE = 1024;

const SB_CHECKSUM_OFF = 0xfc;
const COMMIT_CHKSUM_OFF = 16;

/**
 * jbd2's checksum: the CRC-32C register after `data`, starting from `seed`,
 * with no final inversion (the kernel's `crc32c(seed, buf, len)`; FORMAT.md §9.2).
 * @param seed u32 register to start from (`~0 >>> 0` for a fresh one)
 * @returns u32
 */
export function jbd2Crc(seed: number, data: Uint8Array): number {
  // crc-32 computes ~update(~prev, data); with prev = ~seed that is ~update(seed, data).
  return (~CRC32C.buf(data, ~seed)) >>> 0;
}

/** `csum_seed` of FORMAT.md §9.2: jbd2Crc(~0, uuid) over the journal's 16-byte UUID. */
export function journalCsumSeed(uuid: Uint8Array): number {
  return jbd2Crc(0xffffffff, uuid.subarray(0, 16));
}

/** Decoded journal superblock (v2). Block numbers are journal blocks. */
export interface JournalSuperblock {
  /** `h_blocktype`: 4 (v2) or 3 (v1) */
  blockType: number;
  /** bytes */
  blockSize: number;
  /** journal length in blocks */
  maxlen: number;
  /** first log block (1) */
  first: number;
  /** tid of the first transaction in the log, or the next one to write when the log is empty */
  sequence: number;
  /** journal block of the log's first transaction; 0 = empty */
  start: number;
  /** 0, or a negative errno after an abort */
  errno: number;
  featureCompat: number;
  featureIncompat: number;
  featureRoCompat: number;
  /** 16 bytes */
  uuid: Uint8Array;
  nrUsers: number;
  checksumType: number;
  numFcBlocks: number;
  /** stored checksum (decode only) */
  checksum: number;
}

/**
 * A fresh, empty journal superblock as VexFS's mkfs writes it (FORMAT.md §9.3).
 * @param blockSize filesystem block size in bytes
 * @param maxlen journal length in blocks (≥ 1024)
 * @param uuid the filesystem's 16-byte UUID
 */
export function newJournalSuperblock(blockSize: number, maxlen: number, uuid: Uint8Array): JournalSuperblock {
  return {
    blockType: JBD2_SUPERBLOCK_V2,
    blockSize,
    maxlen,
    first: 1,
    sequence: 1,
    start: 0,
    errno: 0,
    featureCompat: 0,
    featureIncompat: VEXFS_JBD2_INCOMPAT,
    featureRoCompat: 0,
    uuid: uuid.slice(0, 16),
    nrUsers: 1,
    checksumType: JBD2_CRC32C_CHKSUM,
    numFcBlocks: 0,
    checksum: 0,
  };
}

/**
 * Encodes a journal superblock into one block (the rest zero) with its checksum.
 * @param blockSize bytes of the returned buffer (≥ 1024)
 * @returns Uint8Array of length blockSize
 */
export function encodeJournalSuperblock(j: JournalSuperblock, blockSize: number): Uint8Array {
  const b = new Uint8Array(blockSize);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, JBD2_MAGIC, false);
  dv.setUint32(4, j.blockType, false);
  dv.setUint32(8, 0, false);
  dv.setUint32(0x0c, j.blockSize, false);
  dv.setUint32(0x10, j.maxlen, false);
  dv.setUint32(0x14, j.first, false);
  dv.setUint32(0x18, j.sequence >>> 0, false);
  dv.setUint32(0x1c, j.start, false);
  dv.setInt32(0x20, j.errno, false);
  dv.setUint32(0x24, j.featureCompat, false);
  dv.setUint32(0x28, j.featureIncompat, false);
  dv.setUint32(0x2c, j.featureRoCompat, false);
  b.set(j.uuid.subarray(0, 16), 0x30);
  dv.setUint32(0x40, j.nrUsers, false);
  b[0x50] = j.checksumType;
  dv.setUint32(0x54, j.numFcBlocks, false);
  dv.setUint32(SB_CHECKSUM_OFF, jbd2Crc(0xffffffff, b.subarray(0, JBD2_SUPERBLOCK_SIZE)), false);
  return b;
}

/** Decodes the first 1024 bytes of journal block 0 without validating them (see {@link journalSuperblockProblems}). */
export function decodeJournalSuperblock(b: Uint8Array): JournalSuperblock {
  const dv = new DataView(b.buffer, b.byteOffset, JBD2_SUPERBLOCK_SIZE);
  return {
    blockType: dv.getUint32(4, false),
    blockSize: dv.getUint32(0x0c, false),
    maxlen: dv.getUint32(0x10, false),
    first: dv.getUint32(0x14, false),
    sequence: dv.getUint32(0x18, false),
    start: dv.getUint32(0x1c, false),
    errno: dv.getInt32(0x20, false),
    featureCompat: dv.getUint32(0x24, false),
    featureIncompat: dv.getUint32(0x28, false),
    featureRoCompat: dv.getUint32(0x2c, false),
    uuid: b.slice(0x30, 0x40),
    nrUsers: dv.getUint32(0x40, false),
    checksumType: b[0x50],
    numFcBlocks: dv.getUint32(0x54, false),
    checksum: dv.getUint32(SB_CHECKSUM_OFF, false),
  };
}

/**
 * What is wrong with a journal superblock for a filesystem of `blockSize`
 * bytes per block whose superblock says the journal has `journalBlocks`
 * blocks (FORMAT.md §9.3, the reader's refusals); empty when it is usable.
 * @param b journal block 0 (at least 1024 bytes)
 */
export function journalSuperblockProblems(b: Uint8Array, blockSize: number, journalBlocks: number): string[] {
  const dv = new DataView(b.buffer, b.byteOffset, JBD2_SUPERBLOCK_SIZE);
  const magic = dv.getUint32(0, false);
  if (magic !== JBD2_MAGIC) {
    return [`no jbd2 magic (found 0x${magic.toString(16)}, expected 0x${JBD2_MAGIC.toString(16)})`];
  }
  const p: string[] = [];
  const j = decodeJournalSuperblock(b);
  if (j.blockType !== JBD2_SUPERBLOCK_V2) {
    return [`block type ${j.blockType} is not a v2 journal superblock (4)`];
  }
  const copy = b.slice(0, JBD2_SUPERBLOCK_SIZE);
  new DataView(copy.buffer).setUint32(SB_CHECKSUM_OFF, 0, false);
  const want = jbd2Crc(0xffffffff, copy);
  if (want !== j.checksum) {
    p.push(`checksum mismatch (stored 0x${j.checksum.toString(16)}, computed 0x${want.toString(16)})`);
  }
  if (j.blockSize !== blockSize) p.push(`block size ${j.blockSize} differs from the filesystem's ${blockSize}`);
  if (j.maxlen !== journalBlocks) {
    p.push(`length ${j.maxlen} blocks differs from the superblock's journal_blocks ${journalBlocks}`);
  }
  if (j.maxlen < JBD2_MIN_JOURNAL_BLOCKS) p.push(`length ${j.maxlen} blocks is below jbd2's minimum of 1024`);
  if (j.first < 1 || j.first >= j.maxlen) p.push(`first log block ${j.first} is outside 1..${j.maxlen - 1}`);
  if (j.start !== 0 && (j.start < j.first || j.start >= j.maxlen)) {
    p.push(`log start ${j.start} is outside ${j.first}..${j.maxlen - 1}`);
  }
  const unknown = j.featureIncompat & ~VEXFS_JBD2_INCOMPAT_READ;
  if (unknown) p.push(`unsupported incompatible jbd2 features 0x${unknown.toString(16)}`);
  if (!(j.featureIncompat & JBD2_FEATURE_INCOMPAT_64BIT)) p.push("the 64BIT feature is not set");
  if (!(j.featureIncompat & JBD2_FEATURE_INCOMPAT_CSUM_V3)) {
    p.push("CSUM_V3 is not set (only journals with CRC-32C block checksums, v3, are supported)");
  }
  if (j.checksumType !== JBD2_CRC32C_CHKSUM) p.push(`checksum type ${j.checksumType} is not CRC-32C (4)`);
  if (j.numFcBlocks !== 0 || (j.featureIncompat & JBD2_FEATURE_INCOMPAT_FAST_COMMIT)) {
    p.push("fast-commit blocks are not supported");
  }
  return p;
}

/** Reads a block header: magic, type and sequence (tid). */
export function readHeader(b: Uint8Array): { magic: number; blockType: number; sequence: number } {
  const dv = new DataView(b.buffer, b.byteOffset, JBD2_HEADER_SIZE);
  return { magic: dv.getUint32(0, false), blockType: dv.getUint32(4, false), sequence: dv.getUint32(8, false) };
}

function writeHeader(b: Uint8Array, blockType: number, tid: number): void {
  const dv = new DataView(b.buffer, b.byteOffset, JBD2_HEADER_SIZE);
  dv.setUint32(0, JBD2_MAGIC, false);
  dv.setUint32(4, blockType, false);
  dv.setUint32(8, tid >>> 0, false);
}

/** True when a block starts with the jbd2 magic and must be escaped in the journal. */
export function needsEscape(block: Uint8Array): boolean {
  return block[0] === 0xc0 && block[1] === 0x3b && block[2] === 0x39 && block[3] === 0x98;
}

/** Restores the magic of an escaped block in place (replay of a tag with ESCAPE). */
export function unescapeBlock(block: Uint8Array): void {
  new DataView(block.buffer, block.byteOffset, 4).setUint32(0, JBD2_MAGIC, false);
}

/**
 * Tags that fit in one descriptor block of `blockSize` bytes, with the UUID
 * after the first tag only and the checksum tail at the end.
 */
export function tagsPerDescriptor(blockSize: number): number {
  return Math.floor((blockSize - JBD2_HEADER_SIZE - JBD2_UUID_SIZE - JBD2_TAIL_SIZE) / JBD2_TAG3_SIZE);
}

/** Revoke records (64-bit) that fit in one revoke block of `blockSize` bytes. */
export function recordsPerRevoke(blockSize: number): number {
  return Math.floor((blockSize - JBD2_REVOKE_HEADER_SIZE - JBD2_TAIL_SIZE) / 8);
}

/** Sets the checksum tail of a descriptor or revoke block (FORMAT.md §9.2). */
export function setBlockTail(b: Uint8Array, csumSeed: number): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  dv.setUint32(b.length - JBD2_TAIL_SIZE, 0, false);
  dv.setUint32(b.length - JBD2_TAIL_SIZE, jbd2Crc(csumSeed, b), false);
}

/** Whether the checksum tail of a descriptor or revoke block matches. */
export function blockTailOk(b: Uint8Array, csumSeed: number): boolean {
  const copy = b.slice();
  const dv = new DataView(copy.buffer);
  const stored = dv.getUint32(copy.length - JBD2_TAIL_SIZE, false);
  dv.setUint32(copy.length - JBD2_TAIL_SIZE, 0, false);
  return jbd2Crc(csumSeed, copy) === stored;
}

/**
 * The tag checksum of a journaled block (CSUM_V3): jbd2Crc over the
 * big-endian tid, then the block as written to the journal (escaped).
 */
export function tagChecksum(csumSeed: number, tid: number, journaled: Uint8Array): number {
  const seq = new Uint8Array(4);
  new DataView(seq.buffer).setUint32(0, tid >>> 0, false);
  return jbd2Crc(jbd2Crc(csumSeed, seq), journaled);
}

/** One tag of a descriptor block. */
export interface JournalTag {
  /** filesystem block number the journaled block belongs to */
  block: number;
  /** JBD2_FLAG_* bits */
  flags: number;
  /** t_checksum */
  checksum: number;
}

/**
 * Encodes a descriptor block for transaction `tid` with `tags` (at most
 * {@link tagsPerDescriptor}); sets SAME_UUID on every tag after the first
 * and LAST_TAG on the last, and the checksum tail.
 * @returns Uint8Array of length blockSize
 */
export function encodeDescriptor(
  tid: number,
  tags: { block: number; escaped: boolean; checksum: number }[],
  uuid: Uint8Array,
  blockSize: number,
  csumSeed: number,
): Uint8Array {
  if (tags.length === 0 || tags.length > tagsPerDescriptor(blockSize)) {
    throw new RangeError(`a descriptor holds 1..${tagsPerDescriptor(blockSize)} tags, not ${tags.length}`);
  }
  const b = new Uint8Array(blockSize);
  const dv = new DataView(b.buffer);
  writeHeader(b, JBD2_DESCRIPTOR_BLOCK, tid);
  let off = JBD2_HEADER_SIZE;
  tags.forEach((t, i) => {
    let flags = t.escaped ? JBD2_FLAG_ESCAPE : 0;
    if (i > 0) flags |= JBD2_FLAG_SAME_UUID;
    if (i === tags.length - 1) flags |= JBD2_FLAG_LAST_TAG;
    dv.setUint32(off, t.block % 0x100000000, false);
    dv.setUint32(off + 4, flags, false);
    dv.setUint32(off + 8, Math.floor(t.block / 0x100000000), false);
    dv.setUint32(off + 12, t.checksum >>> 0, false);
    off += JBD2_TAG3_SIZE;
    if (i === 0) {
      b.set(uuid.subarray(0, 16), off);
      off += JBD2_UUID_SIZE;
    }
  });
  setBlockTail(b, csumSeed);
  return b;
}

/**
 * The tags of a descriptor block, as jbd2's recovery reads them: until a tag
 * with LAST_TAG or until no whole tag fits before the tail.
 * @param is64 whether the 64BIT feature is set (t_blocknr_high is used)
 */
export function decodeDescriptorTags(b: Uint8Array, is64 = true): JournalTag[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const tags: JournalTag[] = [];
  let off = JBD2_HEADER_SIZE;
  while (off + JBD2_TAG3_SIZE <= b.length - JBD2_TAIL_SIZE) {
    const lo = dv.getUint32(off, false);
    const flags = dv.getUint32(off + 4, false);
    const hi = is64 ? dv.getUint32(off + 8, false) : 0;
    tags.push({ block: hi * 0x100000000 + lo, flags, checksum: dv.getUint32(off + 12, false) });
    off += JBD2_TAG3_SIZE;
    if (!(flags & JBD2_FLAG_SAME_UUID)) off += JBD2_UUID_SIZE;
    if (flags & JBD2_FLAG_LAST_TAG) break;
  }
  return tags;
}

/**
 * Encodes a revoke block for transaction `tid` with 64-bit `blocks` (at most
 * {@link recordsPerRevoke}) and its checksum tail.
 * @returns Uint8Array of length blockSize
 */
export function encodeRevoke(tid: number, blocks: number[], blockSize: number, csumSeed: number): Uint8Array {
  if (blocks.length > recordsPerRevoke(blockSize)) {
    throw new RangeError(`a revoke block holds at most ${recordsPerRevoke(blockSize)} records`);
  }
  const b = new Uint8Array(blockSize);
  const dv = new DataView(b.buffer);
  writeHeader(b, JBD2_REVOKE_BLOCK, tid);
  dv.setUint32(12, JBD2_REVOKE_HEADER_SIZE + 8 * blocks.length, false);
  blocks.forEach((blk, i) => dv.setBigUint64(JBD2_REVOKE_HEADER_SIZE + 8 * i, BigInt(blk), false));
  setBlockTail(b, csumSeed);
  return b;
}

/**
 * The block numbers of a revoke block (`r_count` bounds them; a count past
 * the block's usable end is clipped).
 * @param is64 whether records are 8 bytes (64BIT) or 4
 */
export function decodeRevoke(b: Uint8Array, is64 = true): number[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const count = Math.min(dv.getUint32(12, false), b.length - JBD2_TAIL_SIZE);
  const rec = is64 ? 8 : 4;
  const out: number[] = [];
  for (let off = JBD2_REVOKE_HEADER_SIZE; off + rec <= count; off += rec) {
    out.push(is64 ? Number(dv.getBigUint64(off, false)) : dv.getUint32(off, false));
  }
  return out;
}

/**
 * Encodes a commit block for transaction `tid` with its CSUM_V2/V3 checksum.
 * @param sec commit time, seconds since the epoch
 * @param nsec 0..999,999,999
 */
export function encodeCommit(tid: number, sec: number, nsec: number, blockSize: number, csumSeed: number): Uint8Array {
  const b = new Uint8Array(blockSize);
  const dv = new DataView(b.buffer);
  writeHeader(b, JBD2_COMMIT_BLOCK, tid);
  dv.setBigUint64(48, BigInt(Math.max(0, Math.floor(sec))), false);
  dv.setUint32(56, nsec >>> 0, false);
  dv.setUint32(COMMIT_CHKSUM_OFF, jbd2Crc(csumSeed, b), false);
  return b;
}

/** Whether a commit block's CSUM_V2/V3 checksum (`h_chksum[0]`) matches. */
export function commitChecksumOk(b: Uint8Array, csumSeed: number): boolean {
  const copy = b.slice();
  const dv = new DataView(copy.buffer);
  const stored = dv.getUint32(COMMIT_CHKSUM_OFF, false);
  dv.setUint32(COMMIT_CHKSUM_OFF, 0, false);
  return jbd2Crc(csumSeed, copy) === stored;
}

/** Commit time of a commit block, seconds since the epoch (`h_commit_sec`). */
export function commitTime(b: Uint8Array): number {
  return Number(new DataView(b.buffer, b.byteOffset, b.length).getBigUint64(48, false));
}

/** jbd2's `tid_gt`: whether tid `x` is after `y`, modulo 2^32. */
export function tidGt(x: number, y: number): boolean {
  return ((x - y) | 0) > 0;
}

/** jbd2's `tid_geq`. */
export function tidGeq(x: number, y: number): boolean {
  return ((x - y) | 0) >= 0;
}

/**
 * The journal size mke2fs would pick for a filesystem of `blockCount` blocks
 * (e2fsprogs `ext2fs_default_journal_size`; FORMAT.md §9.1), in blocks, or 0
 * for "too small for a journal".
 */
export function defaultJournalBlocks(blockCount: number): number {
  if (blockCount < 2048) return 0;
  if (blockCount < 32768) return 1024;
  if (blockCount < 256 * 1024) return 4096;
  if (blockCount < 512 * 1024) return 8192;
  if (blockCount < 4096 * 1024) return 16384;
  if (blockCount < 8192 * 1024) return 32768;
  if (blockCount < 16384 * 1024) return 65536;
  if (blockCount < 32768 * 1024) return 131072;
  return 262144;
}
