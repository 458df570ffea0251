/**
 * `fsck`: the consistency checker of VexFS, what e2fsck(8) is to ext4. It
 * reads the raw on-disk structures of docs/FORMAT.md through the format
 * codecs (never through a mounted engine), so a damaged structure becomes a
 * reported problem instead of an exception.
 *
 * The passes follow e2fsck's model:
 *
 * | phase          | e2fsck      | what is checked                                                    |
 * | -------------- | ----------- | ------------------------------------------------------------------ |
 * | `superblock`   | setup       | magic, version, checksum, features, geometry, state, backup copy   |
 * | `inodes`       | pass 1      | every allocated inode: checksum, mode, flags, extents, xattrs      |
 * | `directories`  | pass 2      | hash trees (`dirCheck`), entries and their targets                 |
 * | `connectivity` | pass 3      | every directory reachable from the root exactly once, no loops     |
 * | `orphans`      | (journal)   | the orphan list                                                    |
 * | `collections`  | (VexFS)     | collection records, slot maps, vector checksums, vector ownership  |
 * | `link counts`  | pass 4      | nlink, parent pointers, unlinked inodes                            |
 * | `bitmaps`      | pass 5      | block and inode bitmaps against what is reachable, free counts     |
 *
 * This version only checks (like `e2fsck -n`): it opens the device read-only
 * and never writes. Exit codes follow fsck(8):
 *
 * - 0: no error-severity problem. Warnings (e.g. "not cleanly unmounted")
 *   and info (e.g. orphans that the next mount frees) alone give 0: a dirty
 *   flag on an otherwise consistent filesystem needs no repair.
 * - 1: problems were corrected (not produced by this read-only version).
 * - 4: at least one error-severity problem was found and left uncorrected.
 * - 8: operational error: the path cannot be opened or read, it holds no
 *   VexFS filesystem, its superblock and backup are both unusable, it uses
 *   incompatible features this version does not know, or the checker failed.
 * - 32: cancelled (the `onProgress` callback threw {@link FsckCancelled}).
 *
 * @example
 * ```ts
 * const r = fsck("disk.img", { onProgress: (p, d, t) => console.log(p, d, t) });
 * for (const p of r.problems) console.log(`${p.severity}: ${p.where}: ${p.message}`);
 * Deno.exit(r.exitCode);
 * ```
 * @module
 */
import { type BlockDevice, Device } from "../device/device.ts";
import { mountedState } from "../device/probe.ts";
import { FsError } from "../errors.ts";
import {
  COLL_MAGIC,
  COLL_RECORD_SIZE,
  COLL_TABLE_INO,
  COMPAT_BACKUP_SB,
  COMPAT_XATTR,
  EXT_ENTRY_SIZE,
  EXT_HEADER_SIZE,
  EXT_MAGIC,
  EXT_MAX_DEPTH,
  EXT_MAX_LEN,
  EXT_ROOT_MAX,
  EXT_UNWRITTEN,
  FIRST_INO,
  FT_BLK,
  FT_CHR,
  FT_DIR,
  FT_FIFO,
  FT_REG,
  FT_SOCK,
  FT_SYMLINK,
  IFL_COLL_ROOT,
  IFL_HAS_VECTOR,
  IFL_INLINE,
  IFL_INTERNAL,
  IFL_KNOWN,
  IFL_ORPHAN,
  INCOMPAT_EXTENTS,
  INCOMPAT_HTREE,
  INCOMPAT_VECTORS,
  INODE_DATA_SIZE,
  INODE_SIZE,
  MAX_BLOCK_SIZE,
  MAX_FILE_SIZE,
  MIN_BLOCK_SIZE,
  RO_COMPAT_PARENT_PTR,
  ROOT_INO,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
  SB_MAGIC,
  SB_OFFSET,
  SB_SIZE,
  SLOT_ENTRY_SIZE,
  STATE_CLEAN,
  STATE_DIRTY,
  STATE_ERROR,
  SUPPORTED_COMPAT,
  SUPPORTED_INCOMPAT,
  SUPPORTED_RO_COMPAT,
  SYMLINK_MAX,
  VERSION_MAJOR,
} from "../format/constants.ts";
import { type CollectionRecord, decodeCollection, slotsPerBlock } from "../format/collection.ts";
import { crc32c, crc32cSeeded } from "../format/crc.ts";
import { blockChecksumOk, type Extent, extentBlockMax, setBlockChecksum } from "../format/extent.ts";
import { decodeInode, type Inode, inodeChecksumOk } from "../format/inode.ts";
import {
  decodeSuperblock,
  firstMetaBlock,
  regionLengths,
  regionsOverlap,
  type Superblock,
} from "../format/superblock.ts";
import { decodeXattrBlock } from "../format/xattr.ts";
import { type DirBlocks, dirCheck, type DirEntry, dirIterate, DIRL_MAGIC } from "../fs/htree.ts";
import { segments } from "../fs/extentmap.ts";
import { ELEM_TYPES, elemSize, MAX_DIM } from "../vector/types.ts";

/** How bad a problem is. Only `"error"` makes the exit code 4. */
export type FsckSeverity = "error" | "warning" | "info";

/** One finding of {@link fsck}. */
export interface FsckProblem {
  /** Stable identifier such as `"INODE_CHECKSUM"` (see {@link PROBLEM_CODES}). */
  code: string;
  /**
   * `"error"`: an inconsistency that a repair would fix; `"warning"`:
   * suspicious or stale but harmless on its own; `"info"`: for the record.
   */
  severity: FsckSeverity;
  /**
   * What is affected, e.g. `"inode 123 (/docs/a.md)"`, `"block bitmap"`,
   * `"collection 1 slot 5"`, `"primary superblock"`.
   */
  where: string;
  /** A sentence a person can act on. */
  message: string;
}

/** The result of {@link fsck}. */
export interface FsckReport {
  /** The path that was checked. */
  path: string;
  /** Every problem found, in the order the phases found them. */
  problems: FsckProblem[];
  /**
   * fsck(8) exit code: 0 clean (warnings/info allowed), 1 corrected, 4 errors
   * left uncorrected, 8 operational error (cannot open/read, not VexFS),
   * 16 usage error, 32 cancelled.
   */
  exitCode: number;
  /** Counts gathered while checking (inodes and blocks as found, not as the superblock claims). */
  stats: {
    /** inodes in use (root, collection table, internal files, files, orphans) */
    inodes: number;
    /** directories */
    dirs: number;
    /** regular files (not internal ones) */
    files: number;
    /** symbolic links */
    symlinks: number;
    /** blocks owned by metadata and inodes (what the block bitmap should mark) */
    blocksUsed: number;
    /** blocks in the filesystem */
    blockCount: number;
    /** vectors stored in all collections */
    vectors: number;
    /** collections in the collection table */
    collections: number;
    /** inodes on the orphan list */
    orphans: number;
  };
  /** Wall-clock time of the check in milliseconds. */
  elapsedMs: number;
}

/** Options of {@link fsck}. */
export interface FsckOptions {
  /**
   * `-n`: open read-only and change nothing. This version never writes
   * whatever the value; `false` only adds an info problem saying that repair
   * is not implemented yet.
   */
  readOnly?: boolean;
  /**
   * Called as the check advances: `phase` is one of `"superblock"`,
   * `"inodes"`, `"directories"`, `"connectivity"`, `"orphans"`,
   * `"collections"`, `"link counts"`, `"bitmaps"`; `done` of `total` units
   * (inodes, directories, ...) of that phase are finished. Throwing
   * {@link FsckCancelled} stops the check with exit code 32.
   */
  onProgress?: (phase: string, done: number, total: number) => void;
}

/** Throw this from `onProgress` to cancel a check (exit code 32). */
export class FsckCancelled extends Error {
  constructor(message = "check cancelled") {
    super(message);
    this.name = "FsckCancelled";
  }
}

/**
 * Every problem code {@link fsck} can report, with its usual severity.
 * Codes are stable: scripts and tests may rely on them.
 */
export const PROBLEM_CODES: Readonly<Record<string, string>> = {
  OPEN_FAILED: "error: the path cannot be opened (exit 8)",
  NOT_VEXFS: "error: no VexFS superblock, primary or backup (exit 8)",
  IN_USE: "warning: the device or image is in use (mounted); results may be inconsistent",
  REPAIR_UNSUPPORTED: "info: repair was asked for but this version only checks",
  CHECKER_FAILED: "error: the checker itself failed (exit 8)",
  PHASE_ABORTED: "error: a phase stopped early because a structure could not be read",
  READ_ERROR: "error: a block could not be read",
  SB_MAGIC: "error: superblock magic wrong",
  SB_CHECKSUM: "error: superblock checksum mismatch",
  SB_VERSION: "error: unsupported format version (exit 8 if no usable copy)",
  SB_FEATURES: "error/warning: unknown or missing feature flags",
  SB_GEOMETRY: "error: superblock layout fields are inconsistent",
  SB_FIELDS: "warning: superblock fields with invalid or reserved values",
  SB_STATE: "error: invalid superblock state value",
  SB_DIRTY: "warning: not cleanly unmounted",
  SB_ERROR_STATE: "error: the engine recorded an error",
  SB_MOUNT_COUNT: "info: maximal mount count reached",
  SB_USING_BACKUP: "info: the primary is damaged, the backup is used",
  SB_BACKUP_BAD: "error: the backup superblock is damaged",
  SB_BACKUP_MISMATCH: "error: backup superblock describes another layout",
  SB_BACKUP_STALE: "warning: backup superblock is older than the primary",
  SB_FREE_BLOCKS: "error (warning when dirty): free block count differs from the bitmap",
  SB_FREE_INODES: "error (warning when dirty): free inode count differs from the bitmap",
  SB_COLL_COUNT: "error: coll_count differs from the collection table",
  DEVICE_TRUNCATED: "error: the device is smaller than the filesystem",
  INODE_CHECKSUM: "error: inode checksum mismatch",
  INODE_MODE: "error: invalid file type in mode",
  INODE_FLAGS: "error: unknown or contradictory inode flags",
  INODE_FIELDS: "warning: reserved or meaningless inode fields are set",
  INODE_TIME: "error: a timestamp has nanoseconds >= 1e9",
  INODE_SIZE: "error: size does not match the mapped blocks",
  INODE_BLOCKS: "error: the blocks field differs from the blocks owned",
  INODE_SPECIAL_BLOCKS: "error: a device, fifo or socket owns blocks",
  INODE_DAMAGED: "error: an in-use inode holds no valid inode",
  INODE_NLINK: "error: link count differs from the directory entries",
  INODE_NLINK_ZERO: "error: no links and not on the orphan list",
  INODE_UNLINKED: "error: in use but linked from no directory",
  INODE_PARENT: "error: parent pointer names no link of the file",
  SYMLINK_SIZE: "error: symlink size impossible for its storage",
  EXTENT_HEADER: "error: bad extent node header",
  EXTENT_CHECKSUM: "error: extent tree block checksum mismatch",
  EXTENT_DEPTH: "error: extent tree depth inconsistent",
  EXTENT_ORDER: "error: extent index entries out of order",
  EXTENT_OVERLAP: "error: extents overlap or are out of order",
  EXTENT_INDEX_KEY: "error: index key does not match its child",
  EXTENT_RANGE: "error: extent outside the data area or of bad length",
  EXTENT_FLAGS: "error: unknown extent flags",
  XATTR_RANGE: "error: xattr block number outside the data area",
  XATTR_CHECKSUM: "error: xattr block checksum mismatch",
  XATTR_FORMAT: "error: xattr block magic or layout invalid",
  DIR_CHECKSUM: "error: directory block checksum mismatch",
  DIR_HASH: "error: entry hash does not match its name",
  DIR_DUPLICATE: "error: duplicate name in a directory",
  DIR_STRUCTURE: "error: directory hash tree invariant broken",
  DIR_SIZE: "error: directory size or block mapping wrong",
  DIR_ENTRY_BAD_INO: "error: entry inode number out of range",
  DIR_ENTRY_RESERVED: "error: entry points to a reserved inode",
  DIR_ENTRY_INTERNAL: "error: entry points to an internal inode",
  DIR_ENTRY_FREE_INODE: "error: entry points to a free inode",
  DIR_ENTRY_TYPE: "error: entry file type differs from the inode's",
  DIR_PARENT: "error: directory parent pointer wrong",
  DIR_MULTIPLE_LINKS: "error: directory linked more than once",
  DIR_LOOP: "error: directory linked from inside itself",
  DIR_UNREACHABLE: "error: directory not connected to the root",
  ROOT_BAD: "error: the root inode is not a usable directory",
  ORPHAN_PENDING: "info: unlinked-but-open inode freed at next mount",
  ORPHAN_BAD_INO: "error: orphan list points to a bad inode",
  ORPHAN_LOOP: "error: orphan list loops",
  ORPHAN_LINKED: "error: an orphan-list inode still has links",
  ORPHAN_NOT_LISTED: "error: ORPHAN flag but not on the list",
  COLL_TABLE_BAD: "error: inode 3 is not the collection table",
  COLL_RECORD_MAGIC: "error: collection record magic wrong",
  COLL_RECORD_CHECKSUM: "error: collection record checksum mismatch",
  COLL_RECORD_FIELDS: "error: collection record fields invalid",
  COLL_ROOT: "error: collection root and record disagree",
  COLL_NESTED: "error: a collection inside another",
  COLL_INTERNAL: "error: vector/slot-map inode wrong",
  COLL_VEC_SIZE: "error: vector file size wrong",
  COLL_MAP_SIZE: "error: slot map size wrong",
  SLOTMAP_CHECKSUM: "error: slot-map block checksum mismatch",
  SLOTMAP_TAIL: "error: unused slot-map bytes not zero",
  SLOT_OWNER: "error: slot owner does not point back",
  SLOT_DUPLICATE: "error: one inode owns two slots",
  VECTOR_CHECKSUM: "error: stored vector fails its CRC",
  VECTOR_ORPHAN: "error: HAS_VECTOR without a slot pointing back",
  INTERNAL_UNCLAIMED: "error: internal inode used by no collection",
  BLOCK_DUPLICATE: "error: block claimed twice",
  BLOCK_BITMAP_MISSING: "error: used block marked free",
  BLOCK_BITMAP_EXTRA: "error: free block marked used",
  INODE_BITMAP_MISSING: "error: used inode marked free",
  INODE_BITMAP_EXTRA: "error: free inode marked used",
  INODE_BITMAP_RESERVED: "error: reserved inode marked free",
  BITMAP_PADDING: "error: bitmap padding bits clear",
};

/** Problems of one code kept before the rest are summarised. */
const MAX_PER_CODE = 100;

interface Raw {
  code: string;
  severity: FsckSeverity;
  /** inode the problem is about; `where` is derived from it at the end */
  ino?: number;
  /** appended to the inode description ("block 3") */
  tail?: string;
  /** used when `ino` is absent */
  where?: string;
  message: string;
}

interface Link {
  dir: number;
  hash: number;
  name: Uint8Array;
}

interface InodeInfo {
  ino: number;
  inBitmap: boolean;
  /** decoded (without checksum verification), or undefined if undecodable */
  d?: Inode;
  csumOk: boolean;
  /** decoded with a valid, non-zero file type: checked and counted */
  usable: boolean;
  /** why it is not usable */
  why?: string;
  type: number;
  exts: Extent[];
  treeBlocks: number[];
  /** directory entries naming it */
  links: Link[];
  /** references from the orphan list or a collection (not links) */
  otherRefs: number;
  /** directories: entries whose target is a directory */
  subdirs: number;
  /** directories: the entries, for the connectivity pass */
  entries?: DirEntry[];
  onOrphanList: boolean;
}

interface Claim {
  start: number;
  len: number;
  /** inode number, or 0 for filesystem metadata */
  owner: number;
  what: string;
}

const dec = new TextDecoder();

/** Reason a read failed, for messages. */
class ReadFail extends Error {}

/**
 * Checks the VexFS filesystem on an image file or block device.
 *
 * Never throws for anything about the filesystem: an unopenable path gives
 * exit code 8 with an `OPEN_FAILED` problem, a file without VexFS gives 8
 * with `NOT_VEXFS`, a corrupted structure gives problems and exit code 4.
 * Nothing is written. An image file is opened with a shared `flock`; if
 * another process holds it exclusively (a read-write mount), it is read
 * without the lock and an `IN_USE` warning says the results may be
 * inconsistent; a mounted block device is checked read-only with the same
 * warning. A {@link BlockDevice} given by the caller (such as a `MemDevice`)
 * is read as it is, without locks or mount probes, and left open.
 *
 * @param target image file or block device path, or an open {@link BlockDevice}
 * @param opts see {@link FsckOptions}
 * @returns the report; `exitCode` follows fsck(8) (see the module documentation)
 */
export function fsck(target: string | BlockDevice, opts: FsckOptions = {}): FsckReport {
  const t0 = performance.now();
  const path = typeof target === "string" ? target : target.path;
  const c = new Checker(path, opts, typeof target === "string" ? undefined : target);
  let exit: number | undefined;
  try {
    exit = c.run();
  } catch (e) {
    if (e instanceof FsckCancelled) exit = 32;
    else {
      c.add({
        code: "CHECKER_FAILED",
        severity: "error",
        where: path,
        message: `The checker stopped unexpectedly: ${
          errText(e)
        }. Please report this as a bug; the filesystem was not modified.`,
      });
      exit = 8;
    }
  } finally {
    c.close();
  }
  const problems = c.finish();
  const exitCode = exit ??
    (problems.some((p) => p.severity === "error") ? 4 : 0);
  return {
    path,
    problems,
    exitCode,
    stats: c.stats,
    elapsedMs: performance.now() - t0,
  };
}

function errText(e: unknown): string {
  if (e instanceof FsError) return e.detail;
  return e instanceof Error ? e.message : String(e);
}

function typeName(t: number): string {
  switch (t) {
    case S_IFREG:
      return "regular file";
    case S_IFDIR:
      return "directory";
    case S_IFLNK:
      return "symlink";
    case S_IFCHR:
      return "character device";
    case S_IFBLK:
      return "block device";
    case S_IFIFO:
      return "fifo";
    case S_IFSOCK:
      return "socket";
  }
  return `unknown type 0${t.toString(8)}`;
}

const FT_OF: Record<number, number> = {
  [S_IFREG]: FT_REG,
  [S_IFDIR]: FT_DIR,
  [S_IFCHR]: FT_CHR,
  [S_IFBLK]: FT_BLK,
  [S_IFIFO]: FT_FIFO,
  [S_IFSOCK]: FT_SOCK,
  [S_IFLNK]: FT_SYMLINK,
};

const FT_NAME = [
  "?",
  "regular file",
  "directory",
  "character device",
  "block device",
  "fifo",
  "socket",
  "symlink",
];

/** Superblock fields that never change after mkfs: primary and backup must agree. */
const STATIC_SB_FIELDS: (keyof Superblock)[] = [
  "versionMajor",
  "featureCompat",
  "featureIncompat",
  "featureRoCompat",
  "logBlockSize",
  "blockCount",
  "inodeCount",
  "blockBitmapStart",
  "blockBitmapBlocks",
  "inodeBitmapBlocks",
  "inodeBitmapStart",
  "inodeTableStart",
  "inodeTableBlocks",
  "firstDataBlock",
  "rootIno",
  "collTableIno",
  "inodeSize",
  "mkfsTime",
  "hashSeed",
  "firstIno",
  "inodeRatio",
];

interface SbVerdict {
  sb?: Superblock;
  /** cannot be used to check the filesystem */
  fatal: boolean;
  /** exit 8 even when nothing better exists (unknown incompat features) */
  unsupported: boolean;
  issues: { code: string; severity: FsckSeverity; message: string }[];
}

/** Validates 1024 superblock bytes: every issue with a code, and whether the copy is usable. */
function judgeSuperblock(raw: Uint8Array): SbVerdict {
  const issues: SbVerdict["issues"] = [];
  const dv = new DataView(raw.buffer, raw.byteOffset, SB_SIZE);
  const magic = dv.getUint32(0, true);
  if (magic !== SB_MAGIC) {
    issues.push({
      code: "SB_MAGIC",
      severity: "error",
      message: `No VexFS magic (found 0x${magic.toString(16)}, expected 0x${SB_MAGIC.toString(16)}).`,
    });
    return { fatal: true, unsupported: false, issues };
  }
  const want = crc32c(raw.subarray(0, 1020));
  const got = dv.getUint32(1020, true);
  if (want !== got) {
    issues.push({
      code: "SB_CHECKSUM",
      severity: "error",
      message: `Checksum mismatch (stored 0x${got.toString(16)}, computed 0x${
        want.toString(16)
      }): some bytes of this superblock are damaged.`,
    });
  }
  let sb: Superblock;
  try {
    sb = decodeSuperblock(raw);
  } catch (e) {
    issues.push({
      code: "SB_GEOMETRY",
      severity: "error",
      message: `Cannot be decoded: ${errText(e)}.`,
    });
    return { fatal: true, unsupported: false, issues };
  }
  let fatal = false;
  let unsupported = false;
  const geo = (m: string) => {
    issues.push({ code: "SB_GEOMETRY", severity: "error", message: m });
    fatal = true;
  };
  if (sb.versionMajor !== VERSION_MAJOR) {
    issues.push({
      code: "SB_VERSION",
      severity: "error",
      message:
        `Format version ${sb.versionMajor}.${sb.versionMinor} is not supported by this checker (version ${VERSION_MAJOR}); use a newer vexfs.`,
    });
    fatal = true;
    unsupported = true;
  }
  const unknownIncompat = sb.featureIncompat & ~SUPPORTED_INCOMPAT;
  if (unknownIncompat) {
    issues.push({
      code: "SB_FEATURES",
      severity: "error",
      message: `Uses incompatible features 0x${
        unknownIncompat.toString(16)
      } that this version does not understand; it cannot be checked safely. Use a newer vexfs.`,
    });
    fatal = true;
    unsupported = true;
  }
  const unknownRo = sb.featureRoCompat & ~SUPPORTED_RO_COMPAT;
  if (unknownRo) {
    issues.push({
      code: "SB_FEATURES",
      severity: "warning",
      message: `Uses read-only-compatible features 0x${
        unknownRo.toString(16)
      } this version does not know; their structures are not checked.`,
    });
  }
  const unknownCompat = sb.featureCompat & ~SUPPORTED_COMPAT;
  if (unknownCompat) {
    issues.push({
      code: "SB_FEATURES",
      severity: "info",
      message: `Has compatible features 0x${unknownCompat.toString(16)} this version ignores.`,
    });
  }
  const required = [
    [
      sb.featureIncompat,
      INCOMPAT_EXTENTS | INCOMPAT_HTREE | INCOMPAT_VECTORS,
      "incompat EXTENTS|HTREE|VECTORS",
    ],
    [sb.featureRoCompat, RO_COMPAT_PARENT_PTR, "ro_compat PARENT_PTR"],
    [
      sb.featureCompat,
      COMPAT_XATTR | COMPAT_BACKUP_SB,
      "compat XATTR|BACKUP_SB",
    ],
  ] as const;
  for (const [have, need, name] of required) {
    if ((have & need) !== need) {
      issues.push({
        code: "SB_FEATURES",
        severity: "error",
        message: `The v1 feature flags ${name} are not all set (found 0x${
          have.toString(16)
        }); a repair would set them.`,
      });
    }
  }
  if (sb.logBlockSize > 6) {
    geo(`Invalid block size exponent ${sb.logBlockSize} (0..6 allowed).`);
  } else {
    const bs = 1024 << sb.logBlockSize;
    if (bs < MIN_BLOCK_SIZE || bs > MAX_BLOCK_SIZE) {
      geo(`Invalid block size ${bs}.`);
    }
    if (sb.blockCount < 64) {
      geo(`Block count ${sb.blockCount} is below the minimum of 64.`);
    }
    if (sb.inodeCount < FIRST_INO) {
      geo(`Inode count ${sb.inodeCount} is below ${FIRST_INO}.`);
    }
    const want = regionLengths(sb.blockCount, sb.inodeCount, bs);
    if (sb.inodeTableBlocks !== want.inodeTableBlocks) {
      geo(
        `Inode table is ${sb.inodeTableBlocks} blocks; ${want.inodeTableBlocks} are needed for ${sb.inodeCount} inodes.`,
      );
    }
    if (sb.blockBitmapBlocks !== want.blockBitmapBlocks) {
      geo(
        `Block bitmap is ${sb.blockBitmapBlocks} blocks; ${want.blockBitmapBlocks} are needed for ${sb.blockCount} blocks.`,
      );
    }
    if (sb.inodeBitmapBlocks !== want.inodeBitmapBlocks) {
      geo(
        `Inode bitmap is ${sb.inodeBitmapBlocks} blocks; ${want.inodeBitmapBlocks} are needed for ${sb.inodeCount} inodes.`,
      );
    }
    if (regionsOverlap(sb, bs)) {
      geo(
        "The layout regions (bitmaps, inode table, data) overlap or lie outside the filesystem.",
      );
    }
  }
  if (sb.inodeSize !== INODE_SIZE) {
    geo(`Inode size ${sb.inodeSize} is not ${INODE_SIZE}.`);
  }
  if (
    sb.rootIno !== ROOT_INO || sb.collTableIno !== COLL_TABLE_INO ||
    sb.firstIno !== FIRST_INO
  ) {
    geo(
      `Reserved inode numbers are wrong (root ${sb.rootIno}, collection table ${sb.collTableIno}, first ${sb.firstIno}; expected 2, 3, 16).`,
    );
  }
  if (sb.freeBlocks > sb.blockCount) {
    issues.push({
      code: "SB_FREE_BLOCKS",
      severity: "error",
      message: `Free block count ${sb.freeBlocks} exceeds the block count ${sb.blockCount}.`,
    });
  }
  if (sb.freeInodes > sb.inodeCount) {
    issues.push({
      code: "SB_FREE_INODES",
      severity: "error",
      message: `Free inode count ${sb.freeInodes} exceeds the inode count ${sb.inodeCount}.`,
    });
  }
  if (sb.state < STATE_CLEAN || sb.state > STATE_ERROR) {
    issues.push({
      code: "SB_STATE",
      severity: "error",
      message: `Invalid state ${sb.state} (1 clean, 2 dirty, 3 error); a repair would set it.`,
    });
  }
  if (sb.errors < 1 || sb.errors > 3) {
    issues.push({
      code: "SB_FIELDS",
      severity: "warning",
      message: `Invalid error behaviour ${sb.errors} (1 continue, 2 remount read-only, 3 panic).`,
    });
  }
  if (sb.journalIno !== 0 || sb.journalBlocks !== 0) {
    issues.push({
      code: "SB_FIELDS",
      severity: "warning",
      message: "The reserved journal fields are not zero.",
    });
  }
  return { sb, fatal, unsupported, issues };
}

class Checker {
  readonly stats: FsckReport["stats"] = {
    inodes: 0,
    dirs: 0,
    files: 0,
    symlinks: 0,
    blocksUsed: 0,
    blockCount: 0,
    vectors: 0,
    collections: 0,
    orphans: 0,
  };
  #raw: Raw[] = [];
  #dev?: BlockDevice;
  /** the device was given by the caller: read it as it is and leave it open */
  #given?: BlockDevice;
  #sb!: Superblock;
  #bs = 0;
  #infos = new Map<number, InodeInfo>();
  #inodeBitmap?: Uint8Array;
  /** blocks claimed so far (computed block bitmap) */
  #claimed!: Uint8Array;
  #claims: Claim[] = [];
  #dups = new Set<number>();
  /** connectivity: first link of each reachable inode */
  #tree = new Map<number, { dir: number; name: Uint8Array }>();
  #internalRole = new Map<number, string>();
  #collRecords = new Map<number, CollectionRecord>();

  constructor(readonly path: string, readonly opts: FsckOptions, given?: BlockDevice) {
    this.#given = given;
  }

  add(p: Raw): void {
    this.#raw.push(p);
  }

  close(): void {
    try {
      if (!this.#given) this.#dev?.close();
    } catch { /* nothing was written; a close error changes nothing */ }
  }

  #progress(phase: string, done: number, total: number): void {
    this.opts.onProgress?.(phase, done, total);
  }

  // ------------------------------------------------------------------ driver

  run(): number | undefined {
    if (this.opts.readOnly === false) {
      this.add({
        code: "REPAIR_UNSUPPORTED",
        severity: "info",
        where: this.path,
        message: "Repair is not implemented in this version; the filesystem was only checked and nothing was changed.",
      });
    }
    const opened = this.#open();
    if (opened !== undefined) return opened;
    this.#progress("superblock", 0, 1);
    const sbExit = this.#superblock();
    this.#progress("superblock", 1, 1);
    if (sbExit !== undefined) return sbExit;
    const phases: [string, () => void][] = [
      ["inodes", () => this.#passInodes()],
      ["directories", () => this.#passDirectories()],
      ["connectivity", () => this.#passConnectivity()],
      ["orphans", () => this.#passOrphans()],
      ["collections", () => this.#passCollections()],
      ["link counts", () => this.#passLinks()],
      ["bitmaps", () => this.#passBitmaps()],
    ];
    for (const [name, fn] of phases) {
      try {
        fn();
      } catch (e) {
        if (e instanceof FsckCancelled) throw e;
        this.add({
          code: "PHASE_ABORTED",
          severity: "error",
          where: `phase ${name}`,
          message: `The ${name} phase stopped early: ${errText(e)}. Later findings may be incomplete.`,
        });
      }
    }
    return undefined;
  }

  #open(): number | undefined {
    if (this.#given) {
      // A device opened by the caller (e.g. a MemDevice of the crash-state harness): no lock, no mount probe.
      if (!this.#given.isOpen) return this.#openFailed(new FsError("EBADF", "the device is closed"));
      this.#dev = this.#given;
      return undefined;
    }
    let dev: Device;
    try {
      dev = Device.open(this.path, { readOnly: true, exclusive: false });
    } catch (e) {
      if (e instanceof FsError && e.code === "EBUSY") {
        try {
          dev = Device.open(this.path, {
            readOnly: true,
            exclusive: false,
            lock: false,
          });
          this.add({
            code: "IN_USE",
            severity: "warning",
            where: this.path,
            message:
              "The image is held read-write by another process (mounted?); it was checked without its lock and " +
              "the results may show changes in flight. Unmount it for a reliable check.",
          });
        } catch (e2) {
          return this.#openFailed(e2);
        }
      } else return this.#openFailed(e);
    }
    this.#dev = dev;
    if (dev.kind === "block") {
      try {
        const ms = mountedState(this.path);
        if (ms.mounted || ms.busy) {
          this.add({
            code: "IN_USE",
            severity: "warning",
            where: this.path,
            message:
              `The device is in use (${
                ms.users.join("; ") || `mounted on ${ms.where}`
              }); it was checked read-only and ` +
              "the results may show changes in flight. Unmount it for a reliable check.",
          });
        }
      } catch { /* best effort */ }
    }
    return undefined;
  }

  #openFailed(e: unknown): number {
    this.add({
      code: "OPEN_FAILED",
      severity: "error",
      where: this.path,
      message: `Cannot open ${this.path}: ${errText(e)}.`,
    });
    return 8;
  }

  // ------------------------------------------------------------------ I/O

  #read(offset: number, len: number): Uint8Array {
    const dev = this.#dev!;
    if (offset + len > dev.size) {
      throw new ReadFail(
        `bytes ${offset}..${offset + len} lie beyond the end of the device (${dev.size} bytes; truncated image?)`,
      );
    }
    const buf = new Uint8Array(len);
    try {
      dev.read(offset, buf);
    } catch (e) {
      throw new ReadFail(errText(e));
    }
    return buf;
  }

  #readBlock(b: number): Uint8Array {
    return this.#read(b * this.#bs, this.#bs);
  }

  // ------------------------------------------------------------------ superblock

  #superblock(): number | undefined {
    const dev = this.#dev!;
    if (dev.size < SB_OFFSET + SB_SIZE) {
      this.add({
        code: "NOT_VEXFS",
        severity: "error",
        where: this.path,
        message: `${this.path} is only ${dev.size} bytes: too small to hold a VexFS filesystem.`,
      });
      return 8;
    }
    const primaryRaw = this.#read(SB_OFFSET, SB_SIZE);
    const primary = judgeSuperblock(primaryRaw);
    // Locate the backup: from the primary's geometry, else by trying every block size.
    let backupRaw: Uint8Array | undefined;
    let backupBlock = -1;
    let backup: SbVerdict | undefined;
    const backupBeyondEnd = primary.sb && !primary.fatal &&
      (primary.sb.blockCount * (1024 << primary.sb.logBlockSize) > dev.size);
    if (primary.sb && !primary.fatal) {
      const bs = 1024 << primary.sb.logBlockSize;
      backupBlock = primary.sb.blockCount - 1;
      if (!backupBeyondEnd) {
        backupRaw = this.#read(backupBlock * bs, SB_SIZE);
        backup = judgeSuperblock(backupRaw);
      }
    } else {
      for (let log = 0; log <= 6 && !backup; log++) {
        const bs = 1024 << log;
        const last = Math.floor(dev.size / bs) - 1;
        if (last < 63) continue;
        const raw = this.#read(last * bs, SB_SIZE);
        const v = judgeSuperblock(raw);
        if (
          !v.fatal && v.sb!.logBlockSize === log &&
          v.sb!.blockCount - 1 === last && !v.issues.some((i) => i.code === "SB_CHECKSUM")
        ) {
          backup = v;
          backupRaw = raw;
          backupBlock = last;
        }
      }
    }
    const backupGood = !!backup && !backup.fatal &&
      !backup.issues.some((i) => i.severity === "error");
    const primaryCsumBad = primary.issues.some((i) => i.code === "SB_CHECKSUM");
    const report = (v: SbVerdict, where: string) => {
      for (const i of v.issues) this.add({ ...i, where });
    };
    let sb: Superblock;
    if (
      primary.fatal && primary.issues.length === 1 &&
      primary.issues[0].code === "SB_MAGIC" && !backupGood
    ) {
      this.add({
        code: "NOT_VEXFS",
        severity: "error",
        where: this.path,
        message:
          `${this.path} does not hold a VexFS filesystem: no VexFS superblock at byte ${SB_OFFSET} and no backup superblock in the last block. ` +
          "If it should, the superblocks are destroyed; check that this is the right device.",
      });
      return 8;
    }
    report(primary, "primary superblock");
    if ((primary.fatal || primaryCsumBad) && backupGood) {
      sb = backup!.sb!;
      this.add({
        code: "SB_USING_BACKUP",
        severity: "info",
        where: "primary superblock",
        message:
          `The primary superblock is damaged but the backup in block ${backupBlock} is intact; it is used for this check, and a repair would copy it over the primary.`,
      });
    } else if (primary.fatal) {
      if (backup && backupBlock >= 0) {
        report(backup, `backup superblock (block ${backupBlock})`);
      }
      this.add({
        code: "NOT_VEXFS",
        severity: "error",
        where: this.path,
        message: primary.unsupported
          ? "This filesystem cannot be checked by this version of vexfs (see the superblock problems); use a newer vexfs."
          : "Neither the primary superblock nor a backup is usable, so the filesystem cannot be checked. Restore the superblock from a copy or re-create the filesystem.",
      });
      return 8;
    } else {
      sb = primary.sb!;
      if (backupBeyondEnd) {
        // reported as DEVICE_TRUNCATED below
      } else if (
        !backup || backup.fatal ||
        backup.issues.some((i) => i.severity === "error")
      ) {
        const what = backup?.issues.filter((i) => i.severity === "error").map((i) => i.message).join(" ") ??
          "it cannot be read.";
        this.add({
          code: "SB_BACKUP_BAD",
          severity: "error",
          where: `backup superblock (block ${backupBlock})`,
          message: `The backup superblock is damaged: ${what} A repair would rewrite it from the primary.`,
        });
      } else {
        const b = backup.sb!;
        const differ = STATIC_SB_FIELDS.filter((f) => b[f] !== sb[f]);
        if (b.label !== sb.label) differ.push("label");
        if (b.uuid.some((x, i) => x !== sb.uuid[i])) differ.push("uuid");
        if (differ.length) {
          this.add({
            code: "SB_BACKUP_MISMATCH",
            severity: "error",
            where: `backup superblock (block ${backupBlock})`,
            message: `The backup superblock disagrees with the primary on ${
              differ.join(", ")
            }; a repair would rewrite it from the primary.`,
          });
        } else if (
          sb.state === STATE_CLEAN && backupRaw && !primaryCsumBad &&
          backupRaw.some((x, i) => x !== primaryRaw[i])
        ) {
          this.add({
            code: "SB_BACKUP_STALE",
            severity: "warning",
            where: `backup superblock (block ${backupBlock})`,
            message:
              "The backup superblock is older than the primary although the filesystem was cleanly unmounted; a repair would refresh it.",
          });
        }
      }
    }
    this.#sb = sb;
    const bs = 1024 << sb.logBlockSize;
    this.#bs = bs;
    this.stats.blockCount = sb.blockCount;
    if (sb.blockCount * bs > dev.size) {
      this.add({
        code: "DEVICE_TRUNCATED",
        severity: "error",
        where: this.path,
        message:
          `The filesystem has ${sb.blockCount} blocks of ${bs} bytes (${
            sb.blockCount * bs
          } bytes) but the device holds only ${dev.size} bytes: ` +
          `the image was truncated or the device shrank. Blocks from ${
            Math.floor(dev.size / bs)
          } on are lost; grow it back to ${sb.blockCount * bs} bytes before anything else.`,
      });
    }
    if (sb.state === STATE_DIRTY) {
      this.add({
        code: "SB_DIRTY",
        severity: "warning",
        where: "superblock",
        message:
          "The filesystem was not cleanly unmounted (or is still in use); structures below are checked for the damage this can cause.",
      });
    } else if (sb.state === STATE_ERROR) {
      this.add({
        code: "SB_ERROR_STATE",
        severity: "error",
        where: "superblock",
        message:
          "The engine recorded an error while the filesystem was in use; a repair would clear the flag after fixing what is listed here.",
      });
    }
    if (sb.maxMountCount > 0 && sb.mountCount >= sb.maxMountCount) {
      this.add({
        code: "SB_MOUNT_COUNT",
        severity: "info",
        where: "superblock",
        message:
          `Mounted ${sb.mountCount} times since the last check (maximum ${sb.maxMountCount}); a full check was due.`,
      });
    }
    this.#claimed = new Uint8Array(Math.ceil(sb.blockCount / 8));
    this.#claim(0, firstMetaBlock(bs), 0, "the boot area and primary superblock");
    this.#claim(
      sb.blockBitmapStart,
      sb.blockBitmapBlocks,
      0,
      "the block bitmap",
    );
    this.#claim(
      sb.inodeBitmapStart,
      sb.inodeBitmapBlocks,
      0,
      "the inode bitmap",
    );
    this.#claim(sb.inodeTableStart, sb.inodeTableBlocks, 0, "the inode table");
    this.#claim(sb.blockCount - 1, 1, 0, "the backup superblock");
    return undefined;
  }

  // ------------------------------------------------------------------ blocks

  #claim(start: number, len: number, owner: number, what: string): void {
    this.#claims.push({ start, len, owner, what });
    const c = this.#claimed;
    for (let b = start; b < start + len; b++) {
      const m = 1 << (b & 7);
      if (c[b >>> 3] & m) this.#dups.add(b);
      else c[b >>> 3] |= m;
    }
  }

  #inDataArea(b: number, len = 1): boolean {
    return Number.isSafeInteger(b) && len >= 1 &&
      b >= this.#sb.firstDataBlock && b + len <= this.#sb.blockCount - 1;
  }

  // ------------------------------------------------------------------ inodes (pass 1)

  #bitmapHas(ino: number): boolean {
    const bm = this.#inodeBitmap!;
    const i = ino - 1;
    return (bm[i >>> 3] & (1 << (i & 7))) !== 0;
  }

  #passInodes(): void {
    const sb = this.#sb;
    const bs = this.#bs;
    this.#inodeBitmap = this.#read(
      sb.inodeBitmapStart * bs,
      sb.inodeBitmapBlocks * bs,
    );
    for (let ino = 1; ino < FIRST_INO; ino++) {
      if (!this.#bitmapHas(ino)) {
        this.add({
          code: "INODE_BITMAP_RESERVED",
          severity: "error",
          where: `inode bitmap bit ${ino - 1}`,
          message: `Reserved inode ${ino} is marked free in the inode bitmap; a repair would mark it in use.`,
        });
      }
    }
    const total = sb.inodeCount;
    const perChunk = Math.max(1, Math.floor((256 * 1024) / INODE_SIZE));
    let lastReport = 0;
    for (let first = 1; first <= total; first += perChunk) {
      const last = Math.min(total, first + perChunk - 1);
      const want: number[] = [];
      for (let ino = first; ino <= last; ino++) {
        if (
          (ino === ROOT_INO || ino === COLL_TABLE_INO || ino >= FIRST_INO) &&
          this.#bitmapHas(ino)
        ) want.push(ino);
      }
      if (want.length) {
        let chunk: Uint8Array | undefined;
        try {
          chunk = this.#read(
            sb.inodeTableStart * bs + (first - 1) * INODE_SIZE,
            (last - first + 1) * INODE_SIZE,
          );
        } catch { /* fall back to single inodes below */ }
        for (const ino of want) {
          const raw = chunk?.subarray(
            (ino - first) * INODE_SIZE,
            (ino - first + 1) * INODE_SIZE,
          );
          this.#loadInode(ino, raw);
        }
      }
      if (last - lastReport >= 4096 || last === total) {
        this.#progress("inodes", last, total);
        lastReport = last;
      }
    }
    for (const ino of [ROOT_INO, COLL_TABLE_INO]) {
      const info = this.#infos.get(ino);
      if (!info || !info.usable) {
        this.add({
          code: ino === ROOT_INO ? "ROOT_BAD" : "COLL_TABLE_BAD",
          severity: "error",
          ino,
          message: `${ino === ROOT_INO ? "The root directory" : "The collection table"} inode is ${
            !info ? "marked free" : `unusable (${info.why})`
          }; a repair would re-create it${ino === ROOT_INO ? " and reconnect everything to it" : ""}.`,
        });
      }
    }
    const root = this.#infos.get(ROOT_INO);
    if (root?.usable && root.type !== S_IFDIR) {
      this.add({
        code: "ROOT_BAD",
        severity: "error",
        ino: ROOT_INO,
        message: `The root inode is a ${typeName(root.type)}, not a directory.`,
      });
    }
  }

  /** Loads (and checks, if usable) an inode; idempotent. */
  #ensureInode(ino: number): InodeInfo {
    return this.#infos.get(ino) ?? this.#loadInode(ino);
  }

  #loadInode(ino: number, raw?: Uint8Array): InodeInfo {
    const info: InodeInfo = {
      ino,
      inBitmap: this.#bitmapHas(ino),
      csumOk: false,
      usable: false,
      type: 0,
      exts: [],
      treeBlocks: [],
      links: [],
      otherRefs: 0,
      subdirs: 0,
      onOrphanList: false,
    };
    this.#infos.set(ino, info);
    try {
      raw ??= this.#read(
        this.#sb.inodeTableStart * this.#bs + (ino - 1) * INODE_SIZE,
        INODE_SIZE,
      );
    } catch (e) {
      info.why = `unreadable: ${errText(e)}`;
      this.add({
        code: "READ_ERROR",
        severity: "error",
        ino,
        message: `The inode cannot be read: ${errText(e)}.`,
      });
      return info;
    }
    info.csumOk = inodeChecksumOk(ino, raw);
    try {
      info.d = decodeInode(ino, raw, false);
    } catch (e) {
      info.why = errText(e);
      return info;
    }
    const type = info.d.mode & S_IFMT;
    info.type = type;
    if (info.d.mode === 0 && info.csumOk) {
      info.why = "it is a freed inode (mode 0)";
    } else if (!FT_OF[type]) {
      info.why = raw.every((x) => x === 0)
        ? "it is all zeros"
        : `its mode 0${info.d.mode.toString(8)} has no valid file type`;
    } else info.usable = true;
    if (!info.usable) return info;
    if (!info.csumOk) {
      this.add({
        code: "INODE_CHECKSUM",
        severity: "error",
        ino,
        message:
          "The inode fails its checksum: some of its bytes are damaged. It was checked as it reads; a repair would recompute the checksum or clear the inode.",
      });
    }
    try {
      this.#checkInodeBody(info);
    } catch (e) {
      this.add({
        code: "INODE_FIELDS",
        severity: "error",
        ino,
        message: `The inode could not be checked completely: ${errText(e)}.`,
      });
    }
    return info;
  }

  #checkInodeBody(info: InodeInfo): void {
    const d = info.d!;
    const ino = info.ino;
    const t = info.type;
    const err = (
      code: string,
      message: string,
      severity: FsckSeverity = "error",
    ) => this.add({ code, severity, ino, message });
    if (d.flags & ~IFL_KNOWN) {
      err(
        "INODE_FLAGS",
        `Unknown flags 0x${(d.flags & ~IFL_KNOWN).toString(16)} are set; a repair would clear them.`,
      );
    }
    if ((d.flags & IFL_INLINE) && t !== S_IFLNK) {
      err(
        "INODE_FLAGS",
        `The INLINE flag is set on a ${typeName(t)}; only symlinks store data inline.`,
      );
    }
    if ((d.flags & IFL_COLL_ROOT) && t !== S_IFDIR) {
      err(
        "INODE_FLAGS",
        `The COLL_ROOT flag is set on a ${typeName(t)}; only directories can be collection roots.`,
      );
    }
    if (
      (d.flags & IFL_HAS_VECTOR) && (t !== S_IFREG || (d.flags & IFL_INTERNAL))
    ) {
      err(
        "INODE_FLAGS",
        `The HAS_VECTOR flag is set on a ${
          d.flags & IFL_INTERNAL ? "internal file" : typeName(t)
        }; only regular files carry vectors.`,
      );
    }
    if ((d.flags & IFL_INTERNAL) && t !== S_IFREG) {
      err(
        "INODE_FLAGS",
        `The INTERNAL flag is set on a ${typeName(t)}; internal files are regular files.`,
      );
    }
    if ((d.flags & IFL_ORPHAN) && d.nlink !== 0) {
      err(
        "INODE_FLAGS",
        `The ORPHAN flag is set but the inode has ${d.nlink} links; a repair would clear the flag.`,
      );
    }
    if (!(d.flags & (IFL_HAS_VECTOR | IFL_COLL_ROOT)) && d.collId !== 0) {
      err(
        "INODE_FIELDS",
        `coll_id is ${d.collId} although the inode neither carries a vector nor roots a collection.`,
        "warning",
      );
    }
    if (!(d.flags & IFL_HAS_VECTOR) && d.vecSlot !== 0) {
      err(
        "INODE_FIELDS",
        `vec_slot is ${d.vecSlot} although the inode carries no vector.`,
        "warning",
      );
    }
    if (!(d.flags & IFL_ORPHAN) && d.orphanNext !== 0) {
      err(
        "INODE_FIELDS",
        `orphan_next is ${d.orphanNext} although the inode is not an orphan.`,
        "warning",
      );
    }
    for (
      const [name, ts] of [["atime", d.atime], ["mtime", d.mtime], [
        "ctime",
        d.ctime,
      ], ["crtime", d.crtime]] as const
    ) {
      if (ts.nsec >= 1e9) {
        err(
          "INODE_TIME",
          `${name} has ${ts.nsec} nanoseconds (must be below 1000000000); a repair would set it to 0.`,
        );
      }
    }
    // xattr block
    let owned = 0;
    if (d.xattrBlock) {
      if (!this.#inDataArea(d.xattrBlock)) {
        err(
          "XATTR_RANGE",
          `The xattr block number ${d.xattrBlock} lies outside the data area (${this.#sb.firstDataBlock}..${
            this.#sb.blockCount - 2
          }); a repair would drop the attributes.`,
        );
      } else {
        owned++;
        this.#claim(d.xattrBlock, 1, ino, "xattr block");
        this.#checkXattr(info, d.xattrBlock);
      }
    }
    // blocks
    if (d.flags & IFL_INLINE) {
      if (t === S_IFLNK && (d.size < 1 || d.size > INODE_DATA_SIZE)) {
        err(
          "SYMLINK_SIZE",
          `The inline symlink claims ${d.size} bytes but an inline target holds 1..${INODE_DATA_SIZE}.`,
        );
      }
    } else {
      this.#walkExtents(info);
      for (const e of info.exts) owned += e.length;
      owned += info.treeBlocks.length;
      this.#checkSize(info);
    }
    if (owned !== d.blocks) {
      err(
        "INODE_BLOCKS",
        `The blocks field says ${d.blocks} but the inode owns ${owned} (data, extent tree and xattr blocks); a repair would correct it.`,
      );
    }
    if (t === S_IFREG && !(d.flags & IFL_INTERNAL)) this.stats.files++;
    if (t === S_IFDIR) this.stats.dirs++;
    if (t === S_IFLNK) this.stats.symlinks++;
    this.stats.inodes++;
  }

  #checkSize(info: InodeInfo): void {
    const d = info.d!;
    const bs = this.#bs;
    const t = info.type;
    const ino = info.ino;
    const err = (code: string, message: string) => this.add({ code, severity: "error", ino, message });
    const exts = info.exts;
    if (t === S_IFDIR) {
      const nblk = d.size / bs;
      if (d.size % bs !== 0 || d.size < bs) {
        err(
          "DIR_SIZE",
          `The directory size ${d.size} is not a positive multiple of the block size ${bs}.`,
        );
        return;
      }
      let expect = 0;
      let ok = true;
      for (const e of exts) {
        if (e.logical !== expect || (e.flags & EXT_UNWRITTEN)) ok = false;
        expect = e.logical + e.length;
      }
      if (!ok || expect !== nblk) {
        err(
          "DIR_SIZE",
          `The directory is ${d.size} bytes (${nblk} blocks) but its extents map ${
            exts.reduce((a, e) => a + e.length, 0)
          } blocks${
            ok ? "" : " with holes or unwritten extents"
          }; every directory block must be mapped and nothing beyond.`,
        );
      }
      return;
    }
    if (t === S_IFREG || t === S_IFLNK) {
      if (d.size > MAX_FILE_SIZE) {
        err(
          "INODE_SIZE",
          `The size ${d.size} exceeds the maximum file size of ${MAX_FILE_SIZE} bytes.`,
        );
      }
      const eofBlk = Math.ceil(d.size / bs);
      for (const e of exts) {
        const end = e.logical + e.length;
        const unwritten = (e.flags & EXT_UNWRITTEN) !== 0;
        if (end > eofBlk && !(unwritten && t === S_IFREG)) {
          err(
            "INODE_SIZE",
            `File blocks ${Math.max(e.logical, eofBlk)}..${
              end - 1
            } are mapped past the end of the file (size ${d.size} bytes, ${eofBlk} blocks); a repair would free them.`,
          );
          break;
        }
      }
      if (t === S_IFLNK) {
        if (d.size <= INODE_DATA_SIZE || d.size > SYMLINK_MAX) {
          err(
            "SYMLINK_SIZE",
            `The symlink stored in blocks claims ${d.size} bytes; block-stored targets are ${
              INODE_DATA_SIZE + 1
            }..${SYMLINK_MAX} bytes.`,
          );
        } else {
          const mapped = exts.filter((e) => !(e.flags & EXT_UNWRITTEN)).reduce(
            (a, e) =>
              a +
              Math.max(0, Math.min(e.logical + e.length, eofBlk) - e.logical),
            0,
          );
          if (mapped < eofBlk) {
            err(
              "SYMLINK_SIZE",
              `The symlink target of ${d.size} bytes is not fully stored (holes in its blocks).`,
            );
          }
        }
      }
      return;
    }
    if (exts.length || info.treeBlocks.length) {
      err(
        "INODE_SPECIAL_BLOCKS",
        `A ${typeName(t)} owns ${exts.reduce((a, e) => a + e.length, 0)} data blocks; a repair would free them.`,
      );
    }
  }

  #checkXattr(info: InodeInfo, block: number): void {
    const ino = info.ino;
    let b: Uint8Array;
    try {
      b = this.#readBlock(block);
    } catch (e) {
      this.add({
        code: "READ_ERROR",
        severity: "error",
        ino,
        message: `The xattr block ${block} cannot be read: ${errText(e)}.`,
      });
      return;
    }
    const magic = new DataView(b.buffer).getUint32(0, true);
    if (magic !== 0x52544158) {
      this.add({
        code: "XATTR_FORMAT",
        severity: "error",
        ino,
        tail: `xattr block ${block}`,
        message: `The xattr block has bad magic 0x${
          magic.toString(16)
        }: it is not an xattr block; a repair would drop the attributes.`,
      });
      return;
    }
    if (!blockChecksumOk(b, ino)) {
      this.add({
        code: "XATTR_CHECKSUM",
        severity: "error",
        ino,
        tail: `xattr block ${block}`,
        message:
          "The xattr block fails its checksum: its attributes may be damaged; a repair would drop the damaged attributes.",
      });
    }
    const copy = b.slice();
    setBlockChecksum(copy, ino);
    try {
      decodeXattrBlock(copy, ino);
    } catch (e) {
      this.add({
        code: "XATTR_FORMAT",
        severity: "error",
        ino,
        tail: `xattr block ${block}`,
        message: `The xattr block is malformed (${
          errText(e).replace(/^EUCLEAN: /, "")
        }); a repair would drop the attributes.`,
      });
    }
  }

  /** Walks the extent tree: verifies it, claims its blocks, fills info.exts / info.treeBlocks. */
  #walkExtents(info: InodeInfo): void {
    const ino = info.ino;
    const bs = this.#bs;
    const err = (code: string, tail: string, message: string) =>
      this.add({ code, severity: "error", ino, tail, message });
    const out: Extent[] = [];
    const seen = new Set<number>();
    let prevEnd = 0;
    const visit = (
      buf: Uint8Array,
      loc: string,
      expectDepth: number | null,
      expectMax: number,
      lo: number,
      hi: number,
      key: number | null,
    ) => {
      const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
      const magic = dv.getUint16(0, true);
      let entries = dv.getUint16(2, true);
      const max = dv.getUint16(4, true);
      const depth = dv.getUint16(6, true);
      if (magic !== EXT_MAGIC) {
        err(
          "EXTENT_HEADER",
          loc,
          `The extent node has bad magic 0x${magic.toString(16)} (expected 0x${
            EXT_MAGIC.toString(16)
          }); the blocks it maps are lost to this file.`,
        );
        return;
      }
      if (max !== expectMax) {
        err(
          "EXTENT_HEADER",
          loc,
          `The extent node capacity is ${max}, expected ${expectMax}.`,
        );
      }
      const cap = Math.floor(
        (buf.length - EXT_HEADER_SIZE - (expectDepth === null ? 0 : 4)) /
          EXT_ENTRY_SIZE,
      );
      if (entries > Math.min(max, cap)) {
        err(
          "EXTENT_HEADER",
          loc,
          `The extent node claims ${entries} entries but holds at most ${Math.min(max, cap)}.`,
        );
        entries = Math.min(max, cap);
      }
      if (
        depth > EXT_MAX_DEPTH || (expectDepth !== null && depth !== expectDepth)
      ) {
        err(
          "EXTENT_DEPTH",
          loc,
          `The extent node has depth ${depth}, expected ${
            expectDepth ?? `at most ${EXT_MAX_DEPTH}`
          }; its subtree is ignored.`,
        );
        return;
      }
      if (depth > 0 && entries === 0) {
        err("EXTENT_HEADER", loc, "An extent index node has no entries.");
      }
      const u64 = (off: number) => {
        const v = dv.getBigUint64(off, true);
        return v > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(v);
      };
      let prevKey = -1;
      for (let i = 0; i < entries; i++) {
        const o = EXT_HEADER_SIZE + i * EXT_ENTRY_SIZE;
        const logical = u64(o);
        if (i === 0 && key !== null && logical !== key) {
          err(
            "EXTENT_INDEX_KEY",
            loc,
            `The index entry pointing here says file block ${key} but the node's first entry starts at ${logical}.`,
          );
        }
        if (logical < 0) {
          err(
            "EXTENT_RANGE",
            loc,
            `Entry ${i} has an out-of-range logical block; it is ignored.`,
          );
          continue;
        }
        if (depth === 0) {
          const physical = u64(o + 8);
          const length = dv.getUint32(o + 16, true);
          const flags = dv.getUint32(o + 20, true);
          const what = `file blocks ${logical}..${logical + length - 1} -> device blocks ${physical}..${
            physical + length - 1
          }`;
          if (length < 1 || length > EXT_MAX_LEN) {
            err(
              "EXTENT_RANGE",
              loc,
              `Extent ${i} has length ${length} (1..${EXT_MAX_LEN} allowed); it is ignored.`,
            );
            continue;
          }
          if (flags & ~EXT_UNWRITTEN) {
            err(
              "EXTENT_FLAGS",
              loc,
              `Extent ${i} (${what}) has unknown flags 0x${(flags & ~EXT_UNWRITTEN).toString(16)}.`,
            );
          }
          if (logical < prevEnd) {
            err(
              "EXTENT_OVERLAP",
              loc,
              `Extent ${i} (${what}) overlaps or precedes the previous extent (which ends before file block ${prevEnd}); it is ignored.`,
            );
            continue;
          }
          if (logical < lo || logical + length > hi) {
            err(
              "EXTENT_INDEX_KEY",
              loc,
              `Extent ${i} (${what}) lies outside the file range [${lo}, ${hi}) its index entry covers.`,
            );
          }
          if (physical < 0 || !this.#inDataArea(physical, length)) {
            err(
              "EXTENT_RANGE",
              loc,
              `Extent ${i} (${what}) lies outside the data area (${this.#sb.firstDataBlock}..${
                this.#sb.blockCount - 2
              }); a repair would drop it.`,
            );
            continue;
          }
          if (logical + length > MAX_FILE_SIZE / bs + 1) {
            err(
              "EXTENT_RANGE",
              loc,
              `Extent ${i} (${what}) maps beyond the 16 TiB file size limit.`,
            );
          }
          prevEnd = logical + length;
          out.push({ logical, physical, length, flags });
          this.#claim(physical, length, ino, "data");
        } else {
          const child = u64(o + 8);
          if (logical <= prevKey) {
            err(
              "EXTENT_ORDER",
              loc,
              `Index entries ${i - 1} and ${i} are not in increasing file-block order.`,
            );
          }
          prevKey = Math.max(prevKey, logical);
          if (child < 0 || !this.#inDataArea(child)) {
            err(
              "EXTENT_RANGE",
              loc,
              `Index entry ${i} points to block ${child}, outside the data area; the extents below it are lost.`,
            );
            continue;
          }
          if (seen.has(child)) {
            err(
              "EXTENT_ORDER",
              loc,
              `Index entry ${i} points to block ${child}, which this tree already uses.`,
            );
            continue;
          }
          seen.add(child);
          let cb: Uint8Array;
          try {
            cb = this.#readBlock(child);
          } catch (e) {
            err(
              "READ_ERROR",
              loc,
              `Extent tree block ${child} cannot be read: ${errText(e)}.`,
            );
            continue;
          }
          const cloc = `extent tree block ${child}`;
          if (!blockChecksumOk(cb, ino)) {
            err(
              "EXTENT_CHECKSUM",
              cloc,
              "The extent tree block fails its checksum: the mapping it holds may be damaged; a repair would rebuild the tree from the extents that look sane.",
            );
          }
          this.#claim(child, 1, ino, "extent tree block");
          info.treeBlocks.push(child);
          let nextKey = hi;
          for (let j = i + 1; j < entries; j++) {
            const k = u64(EXT_HEADER_SIZE + j * EXT_ENTRY_SIZE);
            if (k > logical) {
              nextKey = Math.min(hi, k);
              break;
            }
          }
          visit(
            cb,
            cloc,
            depth - 1,
            extentBlockMax(bs),
            Math.max(lo, logical),
            nextKey,
            logical,
          );
        }
      }
    };
    visit(
      info.d!.data,
      "extent root",
      null,
      EXT_ROOT_MAX,
      0,
      Number.MAX_SAFE_INTEGER,
      null,
    );
    info.exts = out;
  }

  // ------------------------------------------------------------------ directories (pass 2)

  /** Device block of file block `l` of `info`, or null for a hole. */
  #bmap(info: InodeInfo, l: number): number | null {
    const s = segments(info.exts, l, 1)[0];
    return s.physical !== null && !s.unwritten ? s.physical : null;
  }

  #dirBlocks(info: InodeInfo, lenient: boolean): DirBlocks {
    const bs = this.#bs;
    return {
      blockSize: bs,
      ino: info.ino,
      hashSeed: this.#sb.hashSeed,
      blockCount: () => Math.floor(info.d!.size / bs),
      read: (l: number) => {
        const p = this.#bmap(info, l);
        if (p === null) throw new Error(`file block ${l} is not mapped`);
        const b = this.#readBlock(p);
        if (lenient) setBlockChecksum(b, info.ino);
        return b;
      },
      write: () => {
        throw new FsError("EROFS", "fsck is read-only");
      },
      append: () => {
        throw new FsError("EROFS", "fsck is read-only");
      },
    };
  }

  #passDirectories(): void {
    const queue = [...this.#infos.values()].filter((i) => i.usable && i.type === S_IFDIR).map((i) => i.ino);
    const done = new Set<number>();
    let n = 0;
    this.#progress("directories", 0, queue.length);
    while (queue.length) {
      const ino = queue.shift()!;
      if (done.has(ino)) continue;
      done.add(ino);
      this.#checkDir(this.#infos.get(ino)!, queue);
      n++;
      if (n % 256 === 0) this.#progress("directories", n, n + queue.length);
    }
    this.#progress("directories", n, n);
  }

  #checkDir(info: InodeInfo, queue: number[]): void {
    const ino = info.ino;
    for (const m of dirCheck(this.#dirBlocks(info, false))) {
      const rest = m.replace(/^directory \d+ /, "");
      const blk = /^block (\d+): /.exec(rest);
      const what = blk ? rest.slice(blk[0].length) : rest.replace(/^: /, "");
      const tail = blk ? `block ${blk[1]}` : undefined;
      let code = "DIR_STRUCTURE";
      if (/bad checksum/.test(what)) code = "DIR_CHECKSUM";
      else if (/stored hash .* name hashes to/.test(what)) code = "DIR_HASH";
      else if (/duplicate name/.test(what)) code = "DIR_DUPLICATE";
      const advice = code === "DIR_CHECKSUM"
        ? "The directory block fails its checksum: entries in it may be damaged; a repair would rebuild the directory from the entries that are sane."
        : `${what[0].toUpperCase()}${what.slice(1)}; a repair would rebuild the directory index.`;
      this.add({ code, severity: "error", ino, tail, message: advice });
    }
    let entries: DirEntry[] = [];
    try {
      for (const e of dirIterate(this.#dirBlocks(info, true))) entries.push(e);
    } catch {
      // dirCheck reported why; salvage what the leaves still hold, as a repair would
      entries = this.#salvageDir(info);
    }
    info.entries = [];
    for (const e of entries) {
      const nm = dec.decode(e.name);
      const tail = `entry '${nm}'`;
      const err = (code: string, message: string) => this.add({ code, severity: "error", ino, tail, message });
      if (
        !Number.isSafeInteger(e.ino) || e.ino < 1 || e.ino > this.#sb.inodeCount
      ) {
        err(
          "DIR_ENTRY_BAD_INO",
          `The entry points to inode ${e.ino}, which does not exist (1..${this.#sb.inodeCount}); a repair would remove the entry.`,
        );
        continue;
      }
      if (e.ino !== ROOT_INO && e.ino < FIRST_INO) {
        err(
          "DIR_ENTRY_RESERVED",
          `The entry points to reserved inode ${e.ino}; a repair would remove the entry.`,
        );
        continue;
      }
      const t = this.#ensureInode(e.ino);
      if (!t.usable) {
        if (!t.inBitmap) {
          err(
            "DIR_ENTRY_FREE_INODE",
            `The entry points to inode ${e.ino}, which is free; a repair would remove the entry.`,
          );
        } else {err(
            "DIR_ENTRY_FREE_INODE",
            `The entry points to inode ${e.ino}, which is damaged beyond use (${t.why}); a repair would remove the entry.`,
          );}
        t.otherRefs++;
        continue;
      }
      if (t.d!.flags & IFL_INTERNAL) {
        err(
          "DIR_ENTRY_INTERNAL",
          `The entry points to internal inode ${e.ino} (a collection's private file), which no directory may link; a repair would remove the entry.`,
        );
        continue;
      }
      const ft = FT_OF[t.type];
      if (e.type !== ft) {
        err(
          "DIR_ENTRY_TYPE",
          `The entry says ${FT_NAME[e.type] ?? `type ${e.type}`} but inode ${e.ino} is a ${
            typeName(t.type)
          }; a repair would correct the entry.`,
        );
      }
      t.links.push({ dir: ino, hash: e.hash, name: e.name });
      info.entries.push(e);
      if (t.type === S_IFDIR) {
        info.subdirs++;
        queue.push(t.ino);
      }
    }
  }

  /**
   * Every plausible entry of every leaf block of a directory whose tree
   * cannot be walked: entries are parsed from offset 16 up to the leaf's used
   * bytes (clamped to its capacity) until the first malformed one.
   */
  #salvageDir(info: InodeInfo): DirEntry[] {
    const bs = this.#bs;
    const nblk = Math.floor(info.d!.size / bs);
    const out: DirEntry[] = [];
    const names = new Set<string>();
    for (let l = 1; l < nblk; l++) {
      const p = this.#bmap(info, l);
      if (p === null) continue;
      let b: Uint8Array;
      try {
        b = this.#readBlock(p);
      } catch {
        continue;
      }
      const dv = new DataView(b.buffer);
      if (dv.getUint32(0, true) !== DIRL_MAGIC) continue;
      const end = 16 + Math.min(dv.getUint32(8, true), bs - 20);
      for (let off = 16; off + 16 <= end;) {
        const len = dv.getUint16(off + 12, true);
        const size = (16 + len + 7) & ~7;
        if (len < 1 || len > 255 || off + size > end) break;
        const name = b.slice(off + 16, off + 16 + len);
        const raw = dv.getBigUint64(off, true);
        const ino = raw > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(raw);
        const type = b[off + 14];
        const key = dec.decode(name);
        if (
          ino !== 0 && type >= 1 && type <= 7 && !name.includes(0) &&
          !name.includes(0x2f) && !names.has(key)
        ) {
          names.add(key);
          out.push({ name, ino, type, hash: dv.getUint32(off + 8, true) });
        }
        off += size;
      }
    }
    return out;
  }

  // ------------------------------------------------------------------ connectivity (pass 3)

  #passConnectivity(): void {
    const root = this.#infos.get(ROOT_INO);
    if (!root?.usable || root.type !== S_IFDIR) return;
    const queue = [ROOT_INO];
    const reached = new Set<number>([ROOT_INO]);
    let n = 0;
    while (queue.length) {
      const d = this.#infos.get(queue.shift()!)!;
      for (const e of d.entries ?? []) {
        if (reached.has(e.ino)) continue;
        reached.add(e.ino);
        this.#tree.set(e.ino, { dir: d.ino, name: e.name });
        const t = this.#infos.get(e.ino)!;
        if (t.type === S_IFDIR) queue.push(e.ino);
      }
      if (++n % 256 === 0) this.#progress("connectivity", n, n + queue.length);
    }
    this.#progress("connectivity", n, n);
    const isAncestor = (a: number, b: number) => {
      for (let cur = b, guard = 0; guard < 100000; guard++) {
        if (cur === a) return true;
        const up = this.#tree.get(cur);
        if (!up) return false;
        cur = up.dir;
      }
      return false;
    };
    for (const info of this.#infos.values()) {
      if (!info.usable || info.type !== S_IFDIR) continue;
      const ino = info.ino;
      const links = info.links;
      if (ino === ROOT_INO) {
        for (const l of links) {
          this.add({
            code: "DIR_LOOP",
            severity: "error",
            ino: l.dir,
            tail: `entry '${dec.decode(l.name)}'`,
            message: "The entry links the root directory, which makes a loop; a repair would remove the entry.",
          });
        }
        continue;
      }
      if (links.length > 1) {
        const first = this.#tree.get(ino);
        for (const l of links) {
          if (
            first && l.dir === first.dir && l.name.every((x, i) => x === first.name[i]) &&
            l.name.length === first.name.length
          ) continue;
          const loop = isAncestor(ino, l.dir);
          this.add({
            code: loop ? "DIR_LOOP" : "DIR_MULTIPLE_LINKS",
            severity: "error",
            ino: l.dir,
            tail: `entry '${dec.decode(l.name)}'`,
            message: loop
              ? `The entry links directory ${ino}, which contains this directory: a loop. A repair would remove the entry.`
              : `The entry is a second link to directory ${ino}; directories have exactly one. A repair would remove this entry.`,
          });
        }
      }
    }
  }

  #pathOf(ino: number): string | null {
    if (ino === ROOT_INO) return "/";
    const parts: string[] = [];
    for (let cur = ino, guard = 0; cur !== ROOT_INO; guard++) {
      const up = this.#tree.get(cur);
      if (!up || guard > 4096) return null;
      parts.push(dec.decode(up.name));
      cur = up.dir;
    }
    return "/" + parts.reverse().join("/");
  }

  // ------------------------------------------------------------------ orphans

  #passOrphans(): void {
    const seen = new Set<number>();
    let cur = this.#sb.orphanHead;
    let from = "the superblock's orphan_head";
    while (cur) {
      if (
        !Number.isSafeInteger(cur) || cur < FIRST_INO ||
        cur > this.#sb.inodeCount
      ) {
        this.add({
          code: "ORPHAN_BAD_INO",
          severity: "error",
          where: "orphan list",
          message: `${from} points to inode ${cur}, which cannot be an orphan; a repair would cut the list there.`,
        });
        break;
      }
      if (seen.has(cur)) {
        this.add({
          code: "ORPHAN_LOOP",
          severity: "error",
          where: "orphan list",
          message: `${from} points back to inode ${cur}: the orphan list loops. A repair would cut the loop.`,
        });
        break;
      }
      seen.add(cur);
      const t = this.#ensureInode(cur);
      if (!t.usable) {
        this.add({
          code: "ORPHAN_BAD_INO",
          severity: "error",
          where: "orphan list",
          message: `${from} points to inode ${cur}, which is ${
            t.inBitmap ? `damaged (${t.why})` : "free"
          }; a repair would cut the list there.`,
        });
        break;
      }
      t.onOrphanList = true;
      t.otherRefs++;
      this.stats.orphans++;
      const d = t.d!;
      if (d.nlink !== 0 || !(d.flags & IFL_ORPHAN)) {
        this.add({
          code: "ORPHAN_LINKED",
          severity: "error",
          ino: cur,
          message: `The inode is on the orphan list but has ${d.nlink} links${
            d.flags & IFL_ORPHAN ? "" : " and no ORPHAN flag"
          }; a repair would take it off the list.`,
        });
      } else {
        this.add({
          code: "ORPHAN_PENDING",
          severity: "info",
          ino: cur,
          message: `The ${
            typeName(t.type)
          } was deleted while still open (${d.size} bytes, ${d.blocks} blocks); it will be freed at the next read-write open or mount.`,
        });
      }
      from = `inode ${cur}'s orphan_next`;
      cur = d.orphanNext;
    }
    this.#progress("orphans", seen.size, seen.size);
  }

  // ------------------------------------------------------------------ collections

  /** Reads `len` bytes at `off` of a file through its extents (holes read as zeros). */
  #readFile(
    info: InodeInfo,
    off: number,
    len: number,
  ): { bytes: Uint8Array; holes: boolean } {
    const bs = this.#bs;
    const out = new Uint8Array(len);
    if (len === 0) return { bytes: out, holes: false };
    let holes = false;
    const first = Math.floor(off / bs);
    const last = Math.floor((off + len - 1) / bs);
    for (const s of segments(info.exts, first, last - first + 1)) {
      const segStart = s.lblk * bs;
      const from = Math.max(segStart, off);
      const to = Math.min((s.lblk + s.count) * bs, off + len);
      if (s.physical === null || s.unwritten) {
        holes = true;
        continue;
      }
      out.set(
        this.#read(s.physical * bs + (from - segStart), to - from),
        from - off,
      );
    }
    return { bytes: out, holes };
  }

  #passCollections(): void {
    const table = this.#infos.get(COLL_TABLE_INO);
    this.#internalRole.set(COLL_TABLE_INO, "collection table");
    if (!table?.usable) return;
    const d = table.d!;
    if (table.type !== S_IFREG || !(d.flags & IFL_INTERNAL)) {
      this.add({
        code: "COLL_TABLE_BAD",
        severity: "error",
        ino: COLL_TABLE_INO,
        message: `The collection table inode is a ${typeName(table.type)}${
          d.flags & IFL_INTERNAL ? "" : " without the INTERNAL flag"
        }; it must be an internal regular file.`,
      });
      if (table.type !== S_IFREG) return;
    }
    if (d.size % COLL_RECORD_SIZE !== 0) {
      this.add({
        code: "COLL_TABLE_BAD",
        severity: "error",
        ino: COLL_TABLE_INO,
        message: `The collection table is ${d.size} bytes, not a multiple of the ${COLL_RECORD_SIZE}-byte record size.`,
      });
    }
    const nrec = Math.floor(d.size / COLL_RECORD_SIZE);
    let raw: Uint8Array;
    try {
      raw = this.#readFile(table, 0, nrec * COLL_RECORD_SIZE).bytes;
    } catch (e) {
      this.add({
        code: "READ_ERROR",
        severity: "error",
        ino: COLL_TABLE_INO,
        message: `The collection table cannot be read: ${errText(e)}.`,
      });
      return;
    }
    const claimedBy = new Map<number, number>();
    for (let i = 0; i < nrec; i++) {
      const id = i + 1;
      const where = `collection ${id}`;
      const r = raw.slice(i * COLL_RECORD_SIZE, (i + 1) * COLL_RECORD_SIZE);
      const dv = new DataView(r.buffer);
      const magic = dv.getUint32(0, true);
      if (magic === 0) continue;
      if (magic !== COLL_MAGIC) {
        this.add({
          code: "COLL_RECORD_MAGIC",
          severity: "error",
          where,
          message: `The collection record has bad magic 0x${
            magic.toString(16)
          }; it is neither free nor a collection. A repair would clear it.`,
        });
        continue;
      }
      if (dv.getUint32(252, true) !== crc32cSeeded(id, r.subarray(0, 252))) {
        this.add({
          code: "COLL_RECORD_CHECKSUM",
          severity: "error",
          where,
          message:
            "The collection record fails its checksum: some of its fields are damaged. It was checked as it reads; a repair would rebuild it from the slot map and the vector file.",
        });
        dv.setUint32(252, crc32cSeeded(id, r.subarray(0, 252)), true);
      }
      const rec = decodeCollection(id, r)!;
      this.stats.collections++;
      const bad: string[] = [];
      if (dv.getUint32(4, true) !== 1) {
        bad.push(
          `flags 0x${dv.getUint32(4, true).toString(16)} (expected 0x1)`,
        );
      }
      if (rec.dim < 1 || rec.dim > MAX_DIM) {
        bad.push(`dimension ${rec.dim} (1..${MAX_DIM})`);
      }
      if (rec.metric < 1 || rec.metric > 3) {
        bad.push(`metric ${rec.metric} (1..3)`);
      }
      if (rec.elemType < 1 || rec.elemType > 3) {
        bad.push(`element type ${rec.elemType} (1..3)`);
      }
      if (!Number.isSafeInteger(rec.count)) bad.push(`count ${rec.count}`);
      if (rec.hnswIno || rec.bm25Ino || rec.hnswM || rec.hnswEfConstruction) {
        bad.push("reserved HNSW/BM25 fields are not zero");
      }
      if (bad.length) {
        this.add({
          code: "COLL_RECORD_FIELDS",
          severity: "error",
          where,
          message: `The collection record has invalid fields: ${bad.join(", ")}.`,
        });
      }
      const usableRec = rec.dim >= 1 && rec.dim <= MAX_DIM &&
        rec.elemType >= 1 && rec.elemType <= 3 &&
        Number.isSafeInteger(rec.count);
      this.#collRecords.set(id, rec);
      // root
      const rootOk = rec.rootIno >= 1 && rec.rootIno <= this.#sb.inodeCount;
      const root = rootOk ? this.#ensureInode(rec.rootIno) : undefined;
      if (
        !root?.usable || root.type !== S_IFDIR ||
        !(root.d!.flags & IFL_COLL_ROOT) || root.d!.collId !== id
      ) {
        this.add({
          code: "COLL_ROOT",
          severity: "error",
          where,
          message:
            `The collection's root_ino ${rec.rootIno} is not a directory marked as the root of collection ${id}` +
            (root?.usable
              ? ` (it is a ${typeName(root.type)} with ${
                root.d!.flags & IFL_COLL_ROOT ? `COLL_ROOT for collection ${root.d!.collId}` : "no COLL_ROOT flag"
              })`
              : "") +
            "; a repair would re-mark the root or drop the collection.",
        });
      }
      // internal files
      const internal = (ino: number, role: string): InodeInfo | undefined => {
        const other = claimedBy.get(ino);
        if (
          ino < FIRST_INO || ino > this.#sb.inodeCount || other !== undefined
        ) {
          this.add({
            code: "COLL_INTERNAL",
            severity: "error",
            where,
            message: `The ${role} inode number ${ino} is ${
              other !== undefined ? `already used by collection ${other}` : "not a valid inode number"
            }.`,
          });
          return undefined;
        }
        claimedBy.set(ino, id);
        this.#internalRole.set(ino, `${role} of collection ${id}`);
        const t = this.#ensureInode(ino);
        t.otherRefs++;
        if (!t.usable || t.type !== S_IFREG || !(t.d!.flags & IFL_INTERNAL)) {
          this.add({
            code: "COLL_INTERNAL",
            severity: "error",
            where,
            message: `The ${role} inode ${ino} is ${
              !t.usable
                ? (t.inBitmap ? `damaged (${t.why})` : "free")
                : `a ${typeName(t.type)}${t.d!.flags & IFL_INTERNAL ? "" : " without the INTERNAL flag"}`
            }; the collection's vectors cannot be trusted.`,
          });
          return t.usable && t.type === S_IFREG ? t : undefined;
        }
        return t;
      };
      const vec = internal(rec.vecIno, "vector data");
      const map = internal(rec.mapIno, "slot map");
      if (!usableRec) continue;
      this.stats.vectors += rec.count;
      const stride = rec.dim * elemSize(ELEM_TYPES[rec.elemType - 1]);
      const per = slotsPerBlock(this.#bs);
      if (vec && vec.d!.size !== rec.count * stride) {
        this.add({
          code: "COLL_VEC_SIZE",
          severity: "error",
          where,
          message: `The vector file is ${vec.d!.size} bytes but ${rec.count} vectors of ${stride} bytes need exactly ${
            rec.count * stride
          }.`,
        });
      }
      if (map && map.d!.size !== Math.ceil(rec.count / per) * this.#bs) {
        this.add({
          code: "COLL_MAP_SIZE",
          severity: "error",
          where,
          message: `The slot map is ${map.d!.size} bytes but ${rec.count} slots need exactly ${
            Math.ceil(rec.count / per) * this.#bs
          }.`,
        });
      }
      const owners: number[] = [];
      const crcs: number[] = [];
      if (map) this.#checkSlotMap(rec, map, owners, crcs);
      const ownerSlot = new Map<number, number>();
      for (let s = 0; s < owners.length; s++) {
        const o = owners[s];
        const sw = `collection ${id} slot ${s}`;
        if (o === undefined) continue;
        if (ownerSlot.has(o)) {
          this.add({
            code: "SLOT_DUPLICATE",
            severity: "error",
            where: sw,
            message: `Inode ${o} owns both slot ${
              ownerSlot.get(o)
            } and slot ${s}; a file has at most one vector. A repair would drop the slot it does not point to.`,
          });
          continue;
        }
        ownerSlot.set(o, s);
        const t = o >= FIRST_INO && o <= this.#sb.inodeCount ? this.#ensureInode(o) : undefined;
        const td = t?.usable ? t.d! : undefined;
        if (
          !t || !td || t.type !== S_IFREG || (td.flags & IFL_INTERNAL) ||
          !(td.flags & IFL_HAS_VECTOR) || td.collId !== id || td.vecSlot !== s
        ) {
          const why = !t
            ? "not a valid inode number"
            : !td
            ? (t.inBitmap ? `damaged (${t.why})` : "free")
            : t.type !== S_IFREG || (td.flags & IFL_INTERNAL)
            ? `a ${td.flags & IFL_INTERNAL ? "internal file" : typeName(t.type)}`
            : !(td.flags & IFL_HAS_VECTOR)
            ? "a file without the HAS_VECTOR flag"
            : `a file whose vector is in collection ${td.collId} slot ${td.vecSlot}`;
          this.add({
            code: "SLOT_OWNER",
            severity: "error",
            where: sw,
            message: `The slot's owner, inode ${o}, is ${why}; a repair would drop the vector in this slot.`,
          });
        }
      }
      if (vec) this.#checkVectors(rec, vec, stride, owners, crcs);
      this.#progress("collections", i + 1, nrec);
    }
    this.#progress("collections", nrec, nrec);
    if (this.#sb.collCount !== this.#collRecords.size) {
      this.add({
        code: "SB_COLL_COUNT",
        severity: "error",
        where: "superblock",
        message:
          `The superblock counts ${this.#sb.collCount} collections but the collection table holds ${this.#collRecords.size}; a repair would correct the count.`,
      });
    }
    // Inodes' view of collections.
    for (const info of this.#infos.values()) {
      if (!info.usable) continue;
      const d2 = info.d!;
      if ((d2.flags & IFL_HAS_VECTOR) && info.type === S_IFREG) {
        const rec = this.#collRecords.get(d2.collId);
        const ok = rec &&
          this.#slotOwners.get(d2.collId)?.[d2.vecSlot] === info.ino;
        if (!ok) {
          this.add({
            code: "VECTOR_ORPHAN",
            severity: "error",
            ino: info.ino,
            message: rec
              ? `The file claims the vector in collection ${d2.collId} slot ${d2.vecSlot}, but that slot ${
                d2.vecSlot < rec.count
                  ? `belongs to inode ${this.#slotOwners.get(d2.collId)?.[d2.vecSlot]}`
                  : `does not exist (${rec.count} slots)`
              }; a repair would clear the file's HAS_VECTOR flag.`
              : `The file claims a vector in collection ${d2.collId}, which does not exist; a repair would clear its HAS_VECTOR flag.`,
          });
        }
      }
      if ((d2.flags & IFL_COLL_ROOT) && info.type === S_IFDIR) {
        const rec = this.#collRecords.get(d2.collId);
        if (!rec || rec.rootIno !== info.ino) {
          this.add({
            code: "COLL_ROOT",
            severity: "error",
            ino: info.ino,
            message: `The directory is marked as the root of collection ${d2.collId}, but ${
              rec ? `that collection's root is inode ${rec.rootIno}` : "no such collection exists"
            }; a repair would clear the COLL_ROOT flag.`,
          });
        } else {
          for (
            let cur = this.#tree.get(info.ino)?.dir, guard = 0;
            cur && guard < 4096;
            guard++
          ) {
            const up = this.#infos.get(cur);
            if (up?.usable && (up.d!.flags & IFL_COLL_ROOT)) {
              this.add({
                code: "COLL_NESTED",
                severity: "error",
                ino: info.ino,
                message: `Collection ${d2.collId} lies inside collection ${
                  up.d!.collId
                } (rooted at inode ${cur}); collections do not nest.`,
              });
              break;
            }
            if (cur === ROOT_INO) break;
            cur = this.#tree.get(cur)?.dir;
          }
        }
      }
      if ((d2.flags & IFL_INTERNAL) && !this.#internalRole.has(info.ino)) {
        this.add({
          code: "INTERNAL_UNCLAIMED",
          severity: "error",
          ino: info.ino,
          message:
            "The inode is marked INTERNAL but no collection uses it (left over from a dropped collection?); a repair would free it.",
        });
      }
    }
  }

  #slotOwners = new Map<number, number[]>();

  #checkSlotMap(
    rec: CollectionRecord,
    map: InodeInfo,
    owners: number[],
    crcs: number[],
  ): void {
    const bs = this.#bs;
    const per = slotsPerBlock(bs);
    const id = rec.id;
    this.#slotOwners.set(id, owners);
    const nblk = Math.ceil(rec.count / per);
    for (let b = 0; b < nblk; b++) {
      const where = `collection ${id} slot map block ${b}`;
      const p = this.#bmap(map, b);
      const n = Math.min(per, rec.count - b * per);
      if (p === null) {
        this.add({
          code: "COLL_MAP_SIZE",
          severity: "error",
          where,
          message: `The slot-map block for slots ${b * per}..${
            b * per + n - 1
          } is missing (a hole); those vectors have no owners.`,
        });
        continue;
      }
      let buf: Uint8Array;
      try {
        buf = this.#readBlock(p);
      } catch (e) {
        this.add({
          code: "READ_ERROR",
          severity: "error",
          where,
          message: `Block ${p} cannot be read: ${errText(e)}.`,
        });
        continue;
      }
      if (!blockChecksumOk(buf, id)) {
        this.add({
          code: "SLOTMAP_CHECKSUM",
          severity: "error",
          where: `${where} (device block ${p})`,
          message: `The slot-map block fails its checksum: owners or vector CRCs of slots ${b * per}..${
            b * per + n - 1
          } may be damaged; a repair would rebuild it from the files' vec_slot fields.`,
        });
      }
      const dv = new DataView(buf.buffer);
      for (let i = 0; i < n; i++) {
        const o = i * SLOT_ENTRY_SIZE;
        const v = dv.getBigUint64(o, true);
        owners[b * per + i] = v > BigInt(Number.MAX_SAFE_INTEGER) ? 0 : Number(v);
        crcs[b * per + i] = dv.getUint32(o + 8, true);
        if (dv.getUint32(o + 12, true) !== 1) {
          this.add({
            code: "SLOT_OWNER",
            severity: "error",
            where: `collection ${id} slot ${b * per + i}`,
            message: `The slot-map entry has flags 0x${
              dv.getUint32(o + 12, true).toString(16)
            } but slots below the count must be marked in use (0x1).`,
          });
        }
      }
      if (buf.subarray(n * SLOT_ENTRY_SIZE, bs - 4).some((x) => x !== 0)) {
        this.add({
          code: "SLOTMAP_TAIL",
          severity: "error",
          where: `${where} (device block ${p})`,
          message:
            `Bytes after the ${n} slots in use are not zero (stale entries past the count); a repair would clear them.`,
        });
      }
    }
  }

  #checkVectors(
    rec: CollectionRecord,
    vec: InodeInfo,
    stride: number,
    owners: number[],
    crcs: number[],
  ): void {
    const count = Math.min(rec.count, crcs.length);
    const perRead = Math.max(1, Math.floor((1 << 20) / stride));
    for (let s0 = 0; s0 < count; s0 += perRead) {
      const n = Math.min(perRead, count - s0);
      let bytes: Uint8Array;
      try {
        bytes = this.#readFile(vec, s0 * stride, n * stride).bytes;
      } catch (e) {
        this.add({
          code: "READ_ERROR",
          severity: "error",
          where: `collection ${rec.id} slots ${s0}..${s0 + n - 1}`,
          message: `The vectors cannot be read: ${errText(e)}.`,
        });
        continue;
      }
      for (let k = 0; k < n; k++) {
        const s = s0 + k;
        if (crcs[s] === undefined) continue;
        if (crc32c(bytes.subarray(k * stride, (k + 1) * stride)) !== crcs[s]) {
          this.add({
            code: "VECTOR_CHECKSUM",
            severity: "error",
            where: `collection ${rec.id} slot ${s}`,
            message: `The vector of inode ${owners[s]} fails its CRC-32C: its bytes in the vector file (offset ${
              s * stride
            }) are damaged. Searches return wrong scores for it; a repair would drop the vector so it can be set again.`,
          });
        }
      }
    }
  }

  // ------------------------------------------------------------------ link counts (pass 4)

  #passLinks(): void {
    const rootUsable = this.#infos.get(ROOT_INO)?.usable;
    let n = 0;
    const total = this.#infos.size;
    for (const info of this.#infos.values()) {
      if (++n % 4096 === 0) this.#progress("link counts", n, total);
      const ino = info.ino;
      if (!info.usable) {
        if (info.inBitmap && (info.links.length || info.otherRefs)) {
          this.add({
            code: "INODE_DAMAGED",
            severity: "error",
            ino,
            message:
              `The inode is in use but does not hold a valid inode (${info.why}); a repair would clear it and remove what refers to it.`,
          });
        }
        continue;
      }
      const d = info.d!;
      const isDir = info.type === S_IFDIR;
      const refs = info.links.length;
      if (d.flags & IFL_INTERNAL) {
        if (d.nlink !== 1) {
          this.add({
            code: "INODE_NLINK",
            severity: "error",
            ino,
            message: `The internal file has ${d.nlink} links; internal files have exactly 1.`,
          });
        }
        continue;
      }
      if ((d.flags & IFL_ORPHAN) && !info.onOrphanList) {
        this.add({
          code: "ORPHAN_NOT_LISTED",
          severity: "error",
          ino,
          message:
            "The inode has the ORPHAN flag but is not on the orphan list, so it would never be freed; a repair would free it (or clear the flag if it is linked).",
        });
      }
      if (d.nlink === 0) {
        if (!info.onOrphanList && !(d.flags & IFL_ORPHAN) && refs === 0) {
          this.add({
            code: "INODE_NLINK_ZERO",
            severity: "error",
            ino,
            message:
              "The inode has no links and is not on the orphan list: its space is leaked. A repair would free it.",
          });
        }
        if (refs > 0) {
          this.add({
            code: "INODE_NLINK",
            severity: "error",
            ino,
            message: `The link count is 0 but ${refs} directory ${
              refs === 1 ? "entry refers" : "entries refer"
            } to it; a repair would set it to ${isDir ? 2 + info.subdirs : refs}.`,
          });
        }
        continue;
      }
      if (ino !== ROOT_INO && refs === 0) {
        if (rootUsable) {
          this.add({
            code: isDir ? "DIR_UNREACHABLE" : "INODE_UNLINKED",
            severity: "error",
            ino,
            message: `The ${
              typeName(info.type)
            } (${d.nlink} links, ${d.size} bytes) is not linked from any directory; a repair would move it to /lost+found.`,
          });
        }
        continue;
      }
      if (isDir && ino !== ROOT_INO && rootUsable && !this.#tree.has(ino)) {
        // linked only from directories that are themselves disconnected: report the cycle's members
        let cycle = false;
        for (let cur = info.links[0].dir, guard = 0; guard < 4096; guard++) {
          if (cur === ino) {
            cycle = true;
            break;
          }
          const up = this.#infos.get(cur);
          if (!up?.links.length) break;
          cur = up.links[0].dir;
        }
        if (cycle) {
          this.add({
            code: "DIR_UNREACHABLE",
            severity: "error",
            ino,
            message:
              "The directory is part of a loop of directories not connected to the root; a repair would move it to /lost+found.",
          });
        }
      }
      const want = isDir ? 2 + info.subdirs : refs;
      if (d.nlink !== want) {
        this.add({
          code: "INODE_NLINK",
          severity: "error",
          ino,
          message: isDir
            ? `The link count is ${d.nlink} but a directory with ${info.subdirs} subdirectories has ${want}; a repair would correct it.`
            : `The link count is ${d.nlink} but ${refs} directory ${
              refs === 1 ? "entry refers" : "entries refer"
            } to it; a repair would set it to ${refs}.`,
        });
      }
      // parent pointers
      if (ino === ROOT_INO) {
        if (d.parentIno !== ROOT_INO) {
          this.add({
            code: "DIR_PARENT",
            severity: "error",
            ino,
            message: `The root's parent pointer is ${d.parentIno}; the root is its own parent (2).`,
          });
        }
      } else if (isDir) {
        const l = this.#tree.get(ino) ?? info.links[0];
        const lh = info.links.find((x) => x.dir === l.dir && x.name === l.name)?.hash ?? info.links[0].hash;
        if (d.parentIno !== l.dir || d.parentHash !== lh) {
          this.add({
            code: "DIR_PARENT",
            severity: "error",
            ino,
            message:
              `The directory's parent pointer (inode ${d.parentIno}, hash 0x${
                d.parentHash.toString(16)
              }) does not name the directory that contains it ` +
              `(inode ${l.dir}, hash 0x${lh.toString(16)}): '..' and path lookups go wrong. A repair would correct it.`,
          });
        }
      } else if (
        d.parentIno !== 0 &&
        !info.links.some((x) => x.dir === d.parentIno && x.hash === d.parentHash)
      ) {
        this.add({
          code: "INODE_PARENT",
          severity: "error",
          ino,
          message: `The parent pointer (inode ${d.parentIno}, hash 0x${
            d.parentHash.toString(16)
          }) names no link of this file; a repair would point it at one of its ${refs} links.`,
        });
      }
    }
    this.#progress("link counts", total, total);
  }

  // ------------------------------------------------------------------ bitmaps (pass 5)

  #passBitmaps(): void {
    const sb = this.#sb;
    const bs = this.#bs;
    this.#reportDuplicates();
    // block bitmap
    const disk = this.#read(
      sb.blockBitmapStart * bs,
      sb.blockBitmapBlocks * bs,
    );
    const mine = this.#claimed;
    const bit = (a: Uint8Array, i: number) => (a[i >>> 3] & (1 << (i & 7))) !== 0;
    let used = 0;
    let diskUsed = 0;
    let runStart = -1;
    let missingRuns = 0;
    let runKind = 0; // 1 missing, 2 extra
    const flush = (end: number) => {
      if (runStart < 0) return;
      const range = end - 1 === runStart ? `block ${runStart}` : `blocks ${runStart}..${end - 1}`;
      if (runKind === 1) {
        // owner lookup is a scan of all claims: only for the problems that are listed
        const owners = ++missingRuns <= MAX_PER_CODE ? this.#ownersOf(runStart) : "an inode";
        this.add({
          code: "BLOCK_BITMAP_MISSING",
          severity: "error",
          where: `block bitmap (${range})`,
          message: `${range[0].toUpperCase()}${range.slice(1)} ${
            end - 1 === runStart ? "is" : "are"
          } used by ${owners} but marked free: the allocator could hand ${
            end - 1 === runStart ? "it" : "them"
          } out again and corrupt the owner. A repair would mark ${end - 1 === runStart ? "it" : "them"} in use.`,
        });
      } else {
        this.add({
          code: "BLOCK_BITMAP_EXTRA",
          severity: "error",
          where: `block bitmap (${range})`,
          message: `${range[0].toUpperCase()}${range.slice(1)} ${
            end - 1 === runStart ? "is" : "are"
          } marked in use but nothing owns ${
            end - 1 === runStart ? "it" : "them"
          } (leaked space); a repair would mark ${end - 1 === runStart ? "it" : "them"} free.`,
        });
      }
      runStart = -1;
    };
    const POP = new Uint8Array(256);
    for (let v = 1; v < 256; v++) POP[v] = (v & 1) + POP[v >>> 1];
    for (let i = 0; i < sb.blockCount; i++) {
      if ((i & 0xfffff) === 0 && i > 0) {
        this.#progress("bitmaps", i, sb.blockCount + sb.inodeCount);
      }
      if (
        (i & 7) === 0 && i + 8 <= sb.blockCount &&
        mine[i >>> 3] === disk[i >>> 3]
      ) {
        // fast path: a whole byte agrees
        const c = POP[mine[i >>> 3]];
        used += c;
        diskUsed += c;
        if (runKind !== 0) {
          flush(i);
          runKind = 0;
        }
        i += 7;
        continue;
      }
      const m = bit(mine, i);
      const dsk = bit(disk, i);
      if (m) used++;
      if (dsk) diskUsed++;
      const kind = m === dsk ? 0 : m ? 1 : 2;
      if (kind !== runKind || kind === 0) {
        flush(i);
        if (kind) runStart = i;
        runKind = kind;
      }
    }
    flush(sb.blockCount);
    this.stats.blocksUsed = used;
    const padBad = this.#padding(disk, sb.blockCount);
    if (padBad >= 0) {
      this.add({
        code: "BITMAP_PADDING",
        severity: "error",
        where: "block bitmap",
        message:
          `Padding bit ${padBad} (past the ${sb.blockCount} blocks) is clear; padding bits must be set so nothing is allocated there. A repair would set them.`,
      });
    }
    const dirtyish = sb.state !== STATE_CLEAN;
    const diskFree = sb.blockCount - diskUsed;
    if (diskFree !== sb.freeBlocks) {
      this.add({
        code: "SB_FREE_BLOCKS",
        severity: dirtyish ? "warning" : "error",
        where: "superblock",
        message: `The superblock says ${sb.freeBlocks} free blocks but the block bitmap has ${diskFree}` +
          (dirtyish
            ? " (expected after an unclean unmount); the next mount recounts them."
            : "; a repair would correct the count."),
      });
    }
    // inode bitmap
    const ib = this.#inodeBitmap!;
    let diskIused = 0;
    for (let i = 0; i < sb.inodeCount; i++) {
      if ((i & 7) === 0 && i + 8 <= sb.inodeCount) {
        diskIused += POP[ib[i >>> 3]];
        i += 7;
      } else if (bit(ib, i)) diskIused++;
    }
    for (
      const info of [...this.#infos.values()].sort((a, b) => a.ino - b.ino)
    ) {
      const ino = info.ino;
      const dsk = bit(ib, ino - 1);
      if (
        dsk && info && !info.usable && !info.links.length && !info.otherRefs
      ) {
        this.add({
          code: "INODE_BITMAP_EXTRA",
          severity: "error",
          where: `inode bitmap (inode ${ino})`,
          message:
            `Inode ${ino} is marked in use but holds no inode (${info.why}) and nothing refers to it; a repair would mark it free.`,
        });
      } else if (!dsk && info?.usable) {
        this.add({
          code: "INODE_BITMAP_MISSING",
          severity: "error",
          where: `inode bitmap (inode ${ino})`,
          message: `Inode ${ino} is in use (${
            this.#describe(ino)
          }) but marked free in the inode bitmap: it could be allocated again and overwritten. A repair would mark it in use.`,
        });
      }
    }
    const ipad = this.#padding(ib, sb.inodeCount);
    if (ipad >= 0) {
      this.add({
        code: "BITMAP_PADDING",
        severity: "error",
        where: "inode bitmap",
        message:
          `Padding bit ${ipad} (past the ${sb.inodeCount} inodes) is clear; padding bits must be set. A repair would set them.`,
      });
    }
    const diskIfree = sb.inodeCount - diskIused;
    if (diskIfree !== sb.freeInodes) {
      this.add({
        code: "SB_FREE_INODES",
        severity: dirtyish ? "warning" : "error",
        where: "superblock",
        message: `The superblock says ${sb.freeInodes} free inodes but the inode bitmap has ${diskIfree}` +
          (dirtyish
            ? " (expected after an unclean unmount); the next mount recounts them."
            : "; a repair would correct the count."),
      });
    }
    this.#progress(
      "bitmaps",
      sb.blockCount + sb.inodeCount,
      sb.blockCount + sb.inodeCount,
    );
  }

  /** First clear padding bit at or after `bits`, or -1. */
  #padding(bm: Uint8Array, bits: number): number {
    for (let i = bits; i < bm.length * 8; i++) {
      if (!(bm[i >>> 3] & (1 << (i & 7)))) return i;
    }
    return -1;
  }

  #ownerName(c: Claim): string {
    return c.owner ? `inode ${c.owner} (${c.what})` : c.what;
  }

  #ownersOf(b: number): string {
    const names = this.#claims.filter((c) => b >= c.start && b < c.start + c.len).map((c) => this.#ownerName(c));
    return [...new Set(names)].join(" and ") || "nothing";
  }

  #reportDuplicates(): void {
    const dups = [...this.#dups].sort((a, b) => a - b);
    let i = 0;
    let runs = 0;
    while (i < dups.length) {
      if (++runs > MAX_PER_CODE) {
        this.add({
          code: "BLOCK_DUPLICATE",
          severity: "error",
          where: `blocks ${dups[i]}..${dups[dups.length - 1]}`,
          message: `${dups.length - i} more blocks are claimed more than once (owners not listed).`,
        });
        break;
      }
      const owners = this.#ownersOf(dups[i]);
      let j = i;
      while (
        j + 1 < dups.length && dups[j + 1] === dups[j] + 1 &&
        this.#ownersOf(dups[j + 1]) === owners
      ) j++;
      const range = i === j ? `block ${dups[i]}` : `blocks ${dups[i]}..${dups[j]}`;
      const claimants = this.#claims.filter((c) => dups[i] >= c.start && dups[i] < c.start + c.len);
      const inodes = [
        ...new Set(claimants.filter((c) => c.owner).map((c) => c.owner)),
      ];
      this.add({
        code: "BLOCK_DUPLICATE",
        severity: "error",
        where: range,
        message: `${range[0].toUpperCase()}${range.slice(1)} ${i === j ? "is" : "are"} claimed by ${owners}${
          claimants.length > 1 && inodes.length === 1 && claimants.every((c) => c.owner)
            ? " (twice by the same inode)"
            : ""
        }; writing one corrupts the other. A repair would give each owner its own copy.`,
      });
      i = j + 1;
    }
  }

  // ------------------------------------------------------------------ report

  #describe(ino: number): string {
    const role = this.#internalRole.get(ino);
    if (role) return role;
    const p = this.#pathOf(ino);
    if (p) return p;
    const info = this.#infos.get(ino);
    if (info?.onOrphanList) return "orphan";
    return "not linked";
  }

  finish(): FsckProblem[] {
    const out: FsckProblem[] = [];
    const perCode = new Map<string, number>();
    for (const r of this.#raw) {
      const n = (perCode.get(r.code) ?? 0) + 1;
      perCode.set(r.code, n);
      if (n > MAX_PER_CODE) continue;
      let where = r.where ?? "";
      if (r.ino !== undefined) {
        where = `inode ${r.ino} (${this.#sb ? this.#describe(r.ino) : "?"})`;
        if (r.tail) where += ` ${r.tail}`;
      }
      out.push({
        code: r.code,
        severity: r.severity,
        where,
        message: r.message,
      });
    }
    for (const [code, n] of perCode) {
      if (n > MAX_PER_CODE) {
        const sev = this.#raw.find((r) => r.code === code)!.severity;
        out.push({
          code,
          severity: sev,
          where: "(summary)",
          message: `${n - MAX_PER_CODE} more problems of this kind were found and not listed.`,
        });
      }
    }
    return out;
  }
}
