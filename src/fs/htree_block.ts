/**
 * The blocks of a directory hash tree (docs/FORMAT.md §6): the store the
 * tree sees ({@linkcode DirBlocks}), an entry ({@linkcode DirEntry}), the
 * layout constants and sizes, and block I/O that sets and verifies the
 * checksums. The tree itself is ./htree.ts.
 * @module
 */
import { crc32cSeeded } from "../format/crc.ts";
import { FsError } from "../errors.ts";

/**
 * The file blocks of one directory, as the hash tree sees them. The engine
 * implements it over the directory inode's extent tree; tests use memory.
 */
export interface DirBlocks {
  /** Bytes per block, 1024..65536. */
  readonly blockSize: number;
  /** Directory inode number: the seed of every block checksum. */
  readonly ino: number;
  /** `superblock.hash_seed`: the seed of the name hash. */
  readonly hashSeed: number;
  /** Number of file blocks the directory has now. */
  blockCount(): number;
  /** Bytes of file block `lblk` (may be a shared buffer: the tree copies what it keeps). */
  read(lblk: number): Uint8Array;
  /**
   * True when {@link read} returns only blocks whose checksum was verified
   * when they came from disk (the engine's buffer cache: a cached block is
   * trusted); the tree then does not recompute it on every access.
   */
  readonly verifiedReads?: boolean;
  /**
   * Stores file block `lblk` (`data.length === blockSize`, checksum set). The
   * tree hands over a fresh buffer each time and never touches it again, so
   * the store may keep it without copying.
   */
  write(lblk: number, data: Uint8Array): void;
  /** Grows the directory by one block and returns its file block number; may throw `FsError("ENOSPC")`. */
  append(): number;
}

/** One directory entry (FORMAT.md §6). */
export interface DirEntry {
  /** Name bytes (raw UTF-8), 1..255 bytes; a private copy. */
  name: Uint8Array;
  /** Inode number the name links to. */
  ino: number;
  /** File type: 1 reg, 2 dir, 3 chr, 4 blk, 5 fifo, 6 sock, 7 symlink. */
  type: number;
  /** Name hash: MurmurHash3 x86_32 of `name` seeded with `hash_seed`. */
  hash: number;
}

/** Index block magic, bytes "DIRX". */
export const DIRX_MAGIC = 0x58524944;
/** Leaf block magic, bytes "DIRL". */
export const DIRL_MAGIC = 0x4c524944;
/** Highest level of the root index block (3 index levels). */
export const MAX_ROOT_LEVEL = 2;
/** Longest name in bytes. */
export const NAME_MAX = 255;
export const IDX_HDR = 32; // index block header bytes
export const IDX_ENT = 8; // {u32 hash, u32 block}
export const LEAF_HDR = 16; // leaf header bytes
export const DE_HDR = 16; // directory entry header bytes
export const TAIL = 4; // checksum
export const U32 = 0x1_0000_0000;

/** Index entries per index block: `(block_size - 36) / 8`. */
export function idxLimit(bs: number): number {
  return Math.floor((bs - IDX_HDR - TAIL) / IDX_ENT);
}

/** Bytes of entries a leaf can hold. */
export function leafCap(bs: number): number {
  return bs - LEAF_HDR - TAIL;
}

/** Size of a directory entry with a name of `len` bytes: `align8(16 + len)`. */
export function entrySize(len: number): number {
  return (DE_HDR + len + 7) & ~7;
}

/** A DataView over exactly the bytes of `buf`. */
export function viewOf(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** `n` as 0x and 8 hex digits (for messages). */
export function hex(n: number): string {
  return "0x" + n.toString(16).padStart(8, "0");
}

/** The EUCLEAN error for damage `what` in block `lblk` of directory `d`. */
export function corrupt(d: DirBlocks, lblk: number, what: string): FsError {
  return new FsError("EUCLEAN", `directory ${d.ino} block ${lblk}: ${what}`);
}

/** The checksum block `buf` must end with: CRC-32C of the rest, seeded with the directory's inode number. */
export function blockCrc(d: DirBlocks, buf: Uint8Array): number {
  return crc32cSeeded(d.ino, buf.subarray(0, d.blockSize - TAIL));
}

/** Sets the tail checksum of `buf` and stores it as file block `lblk`. */
export function writeBlock(d: DirBlocks, lblk: number, buf: Uint8Array): void {
  viewOf(buf).setUint32(d.blockSize - TAIL, blockCrc(d, buf), true);
  d.write(lblk, buf);
}

/**
 * Reads file block `lblk`, verifying size, magic and checksum. Returns a
 * private copy when `copy` is set, else possibly the store's shared buffer.
 */
export function readBlock(
  d: DirBlocks,
  lblk: number,
  magic: number,
  copy: boolean,
): Uint8Array {
  if (lblk < 0 || lblk >= d.blockCount()) {
    throw corrupt(
      d,
      lblk,
      `block outside the directory (${d.blockCount()} blocks)`,
    );
  }
  const raw = d.read(lblk);
  if (raw.length !== d.blockSize) {
    throw corrupt(d, lblk, `read ${raw.length} bytes, expected ${d.blockSize}`);
  }
  const dv = viewOf(raw);
  const m = dv.getUint32(0, true);
  if (m !== magic) {
    throw corrupt(
      d,
      lblk,
      `bad magic ${hex(m)}, expected ${magic === DIRX_MAGIC ? "index (DIRX)" : "leaf (DIRL)"}`,
    );
  }
  if (!d.verifiedReads && dv.getUint32(d.blockSize - TAIL, true) !== blockCrc(d, raw)) {
    throw corrupt(d, lblk, "bad checksum");
  }
  return copy ? raw.slice() : raw;
}
