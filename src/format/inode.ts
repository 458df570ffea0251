/**
 * Inode codec (docs/FORMAT.md §4): 256-byte little-endian records,
 * checksummed with CRC-32C seeded with the inode number.
 * @module
 */
import { FsError } from "../errors.ts";
import { clockRealtime } from "../device/libc.ts";
import { crc32cSeeded } from "./crc.ts";
import { INODE_DATA_OFFSET, INODE_DATA_SIZE, INODE_SIZE } from "./constants.ts";

/**
 * A timestamp: seconds since the epoch (may be negative) and nanoseconds
 * 0..999,999,999. The format keeps any s64 seconds (FORMAT.md §4); seconds
 * beyond ±`Number.MAX_SAFE_INTEGER` (past the year 285 million) are held
 * exactly in `exactSec`, with `sec` their nearest double (good for
 * comparisons and ages, not for storing). Build such values with
 * {@linkcode timespecOf} and read seconds for storage with
 * {@linkcode secondsOf}.
 */
export interface Timespec {
  sec: number;
  nsec: number;
  /** The exact seconds when they are not a safe integer; absent otherwise. */
  exactSec?: bigint;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * A Timespec from exact seconds (any bigint; the format stores s64) and
 * nanoseconds: `exactSec` is set only when the seconds are not a safe integer.
 */
export function timespecOf(sec: bigint, nsec: number): Timespec {
  if (sec > MAX_SAFE || sec < -MAX_SAFE) return { sec: Number(sec), nsec, exactSec: sec };
  return { sec: Number(sec), nsec };
}

/** The exact seconds of a Timespec (`exactSec` when present, else `sec`). */
export function secondsOf(t: Timespec): bigint {
  return t.exactSec ?? BigInt(t.sec);
}

/** Decoded inode. Sizes are in bytes, `blocks` in filesystem blocks. */
export interface Inode {
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  size: number;
  blocks: number;
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;
  crtime: Timespec;
  flags: number;
  generation: number;
  xattrBlock: number;
  parentIno: number;
  parentHash: number;
  collId: number;
  vecSlot: number;
  orphanNext: number;
  rdev: number;
  /** 116 bytes: extent root or inline data */
  data: Uint8Array;
}

function u64(dv: DataView, off: number, ino: number): number {
  const v = dv.getBigUint64(off, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new FsError("EUCLEAN", `inode ${ino}: field at offset ${off} out of range`);
  }
  return Number(v);
}

/**
 * Encodes an inode into 256 bytes, computing its checksum.
 * @param ino the inode number (checksum seed)
 * @param out optional 256-byte destination (e.g. a slice of an inode-table block)
 */
export function encodeInode(ino: number, n: Inode, out: Uint8Array = new Uint8Array(INODE_SIZE)): Uint8Array {
  out.fill(0, 0, INODE_SIZE);
  const dv = new DataView(out.buffer, out.byteOffset, INODE_SIZE);
  dv.setUint16(0, n.mode, true);
  dv.setUint32(4, n.uid >>> 0, true);
  dv.setUint32(8, n.gid >>> 0, true);
  dv.setUint32(12, n.nlink, true);
  dv.setBigUint64(16, BigInt(n.size), true);
  dv.setBigUint64(24, BigInt(n.blocks), true);
  dv.setBigInt64(32, secondsOf(n.atime), true);
  dv.setBigInt64(40, secondsOf(n.mtime), true);
  dv.setBigInt64(48, secondsOf(n.ctime), true);
  dv.setBigInt64(56, secondsOf(n.crtime), true);
  dv.setUint32(64, n.atime.nsec, true);
  dv.setUint32(68, n.mtime.nsec, true);
  dv.setUint32(72, n.ctime.nsec, true);
  dv.setUint32(76, n.crtime.nsec, true);
  dv.setUint32(80, n.flags, true);
  dv.setUint32(84, n.generation >>> 0, true);
  dv.setBigUint64(88, BigInt(n.xattrBlock), true);
  dv.setBigUint64(96, BigInt(n.parentIno), true);
  dv.setUint32(104, n.parentHash >>> 0, true);
  dv.setUint32(108, n.collId, true);
  dv.setBigUint64(112, BigInt(n.vecSlot), true);
  dv.setBigUint64(120, BigInt(n.orphanNext), true);
  dv.setUint32(128, n.rdev >>> 0, true);
  out.set(n.data.subarray(0, INODE_DATA_SIZE), INODE_DATA_OFFSET);
  dv.setUint32(252, crc32cSeeded(ino, out.subarray(0, 252)), true);
  return out;
}

/** True when the inode bytes carry a valid checksum for inode number `ino`. */
export function inodeChecksumOk(ino: number, b: Uint8Array): boolean {
  const dv = new DataView(b.buffer, b.byteOffset, INODE_SIZE);
  return dv.getUint32(252, true) === crc32cSeeded(ino, b.subarray(0, 252));
}

/**
 * Decodes 256 inode bytes.
 * @throws FsError EUCLEAN when the checksum does not match (unless `verify` is false)
 */
export function decodeInode(ino: number, b: Uint8Array, verify = true): Inode {
  if (verify && !inodeChecksumOk(ino, b)) {
    throw new FsError("EUCLEAN", `inode ${ino}: checksum mismatch (corrupted inode; run vexfs fsck)`);
  }
  const dv = new DataView(b.buffer, b.byteOffset, INODE_SIZE);
  return {
    mode: dv.getUint16(0, true),
    uid: dv.getUint32(4, true),
    gid: dv.getUint32(8, true),
    nlink: dv.getUint32(12, true),
    size: u64(dv, 16, ino),
    blocks: u64(dv, 24, ino),
    atime: timespecOf(dv.getBigInt64(32, true), dv.getUint32(64, true)),
    mtime: timespecOf(dv.getBigInt64(40, true), dv.getUint32(68, true)),
    ctime: timespecOf(dv.getBigInt64(48, true), dv.getUint32(72, true)),
    crtime: timespecOf(dv.getBigInt64(56, true), dv.getUint32(76, true)),
    flags: dv.getUint32(80, true),
    generation: dv.getUint32(84, true),
    xattrBlock: u64(dv, 88, ino),
    parentIno: u64(dv, 96, ino),
    parentHash: dv.getUint32(104, true),
    collId: dv.getUint32(108, true),
    vecSlot: u64(dv, 112, ino),
    orphanNext: u64(dv, 120, ino),
    rdev: dv.getUint32(128, true),
    data: b.slice(INODE_DATA_OFFSET, INODE_DATA_OFFSET + INODE_DATA_SIZE),
  };
}

/**
 * The `generation` field (offset 84) of a 256-byte inode slot, read without
 * decoding or verifying the rest: for a free slot, the generation its last
 * inode had (FORMAT.md §4.2), or whatever bytes a never-used slot holds.
 */
export function slotGeneration(b: Uint8Array): number {
  return new DataView(b.buffer, b.byteOffset, INODE_SIZE).getUint32(84, true);
}

/**
 * The fields of a new inode (FORMAT.md §4): owned by `uid`:`gid` (default
 * root), one link unless told, no bytes, blocks, xattrs, vector or orphan
 * link, every timestamp `now`, and `data` (the 60-byte extent root or inline
 * area) all zeros unless given. Used by the engine's allocation and by fsck's
 * repairs, so the two make inodes the same way.
 */
export function blankInode(f: {
  mode: number;
  flags: number;
  parentIno: number;
  parentHash: number;
  now: Timespec;
  uid?: number;
  gid?: number;
  nlink?: number;
  generation?: number;
  data?: Uint8Array;
}): Inode {
  return {
    mode: f.mode,
    uid: f.uid ?? 0,
    gid: f.gid ?? 0,
    nlink: f.nlink ?? 1,
    size: 0,
    blocks: 0,
    atime: f.now,
    mtime: f.now,
    ctime: f.now,
    crtime: f.now,
    flags: f.flags,
    generation: f.generation ?? 0,
    xattrBlock: 0,
    parentIno: f.parentIno,
    parentHash: f.parentHash,
    collId: 0,
    vecSlot: 0,
    orphanNext: 0,
    rdev: 0,
    data: f.data ?? new Uint8Array(INODE_DATA_SIZE),
  };
}

/** Last value of the pure fallback clock, in nanoseconds since the epoch. */
let lastFallbackNs = 0n;

/**
 * Current time as a Timespec with nanosecond resolution: the kernel's
 * `CLOCK_REALTIME` read through libc's `clock_gettime` (one clock, so two
 * stamps taken one after the other never run backwards unless the system
 * clock is stepped back).
 *
 * Without FFI (no `--allow-ffi`, or no glibc) it falls back to
 * `performance.timeOrigin + performance.now()` (one clock too, at the
 * resolution Deno gives it), never returning less than its previous value.
 */
export function nowTimespec(): Timespec {
  const t = clockRealtime();
  if (t) return t;
  let ns = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
  if (ns <= lastFallbackNs) ns = lastFallbackNs + 1n;
  lastFallbackNs = ns;
  return { sec: Number(ns / 1_000_000_000n), nsec: Number(ns % 1_000_000_000n) };
}
