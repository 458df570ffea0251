/**
 * Creating a VexFS filesystem (docs/FORMAT.md §2): layout computation, the
 * safety checks that keep `mkfs` from destroying data, and writing the
 * initial structures. Only metadata is written (bitmaps, reserved inodes, the
 * root directory, superblocks), so formatting a large sparse image is fast.
 * @module
 */
import { type BlockDevice, Device } from "../device/device.ts";
import { blkidSignatures, blkidUnavailableReason, type FoundSignature, mergeSignatures } from "../device/blkid.ts";
import { mountedState, probeSignatures } from "../device/probe.ts";
import { FsError } from "../errors.ts";
import {
  COLL_TABLE_INO,
  COMPAT_BACKUP_SB,
  COMPAT_XATTR,
  DEFAULT_BLOCK_SIZE,
  EXT_ROOT_MAX,
  FIRST_INO,
  IFL_INTERNAL,
  INCOMPAT_EXTENTS,
  INCOMPAT_HTREE,
  INCOMPAT_JOURNAL,
  INCOMPAT_VECTORS,
  INCOMPAT_XATTR_STORE,
  INODE_DATA_SIZE,
  INODE_SIZE,
  JOURNAL_INO,
  MAX_BLOCK_SIZE,
  MIN_BLOCK_SIZE,
  RO_COMPAT_PARENT_PTR,
  ROOT_INO,
  S_IFDIR,
  S_IFREG,
  SB_OFFSET,
  STATE_CLEAN,
  VERSION_MAJOR,
  VERSION_MINOR,
} from "../format/constants.ts";
import { encodeExtentNode } from "../format/extent.ts";
import { encodeInode, type Inode, type Timespec } from "../format/inode.ts";
import {
  encodeSuperblock,
  firstMetaBlock,
  regionLengths,
  type Superblock,
  uuidFromString,
} from "../format/superblock.ts";
import { dirInit } from "./htree.ts";
import {
  defaultJournalBlocks,
  encodeJournalSuperblock,
  JBD2_MAX_JOURNAL_BLOCKS,
  JBD2_MIN_JOURNAL_BLOCKS,
  newJournalSuperblock,
} from "../format/journal.ts";

/** Values of the superblock's `errors` field, 1-based (FORMAT.md §3.2). */
export const ERRORS_BEHAVIOURS = ["continue", "remount-ro", "panic"] as const;

/** Options in the spirit of mke2fs(8). */
export interface MkfsOptions {
  /** bytes, a power of two from 1024 to 65536 (default 4096) */
  blockSize?: number;
  /** UTF-8, at most 63 bytes */
  label?: string;
  /** "xxxxxxxx-xxxx-..." or 16 bytes; random (v4) by default */
  uuid?: string | Uint8Array;
  /** number of inodes (default: one per `inodeRatio` bytes) */
  inodes?: number;
  /** bytes of space per inode when `inodes` is not given (default 16384) */
  inodeRatio?: number;
  /** image files: create the file, or grow it, to this many bytes first */
  size?: number;
  /** compute and return the layout, write nothing */
  dryRun?: boolean;
  /** format even if the device holds a filesystem or partition table */
  force?: boolean;
  /** directory hash seed (default random); for reproducible test images */
  hashSeed?: number;
  /** creation time in seconds (default now); for reproducible test images */
  time?: number;
  /**
   * Journal length in blocks (FORMAT.md §9.1): 0 for no journal, else 1024 ..
   * 10,240,000. Default: what mke2fs picks for the filesystem's size (none
   * under 2048 blocks).
   */
  journalBlocks?: number;
  /** what `errors` the superblock records (FORMAT.md §3.2; default "continue", as mke2fs) */
  errors?: "continue" | "remount-ro" | "panic";
  /** the journal's first transaction id (default random); for reproducible test images */
  journalSequence?: number;
}

/** Where everything goes; all numbers are block numbers or counts. */
export interface Layout {
  blockSize: number;
  blockCount: number;
  inodeCount: number;
  blockBitmapStart: number;
  blockBitmapBlocks: number;
  inodeBitmapStart: number;
  inodeBitmapBlocks: number;
  inodeTableStart: number;
  inodeTableBlocks: number;
  firstDataBlock: number;
  /** first block of the journal (right after the root directory's block), 0 without one */
  journalStart: number;
  /** journal length in blocks, 0 without one */
  journalBlocks: number;
  backupSuperblock: number;
  /** blocks available for files after mkfs */
  freeBlocks: number;
}

/** What {@link mkfs} did (or would do, for a dry run). */
export interface MkfsResult {
  path: string;
  kind: "file" | "block";
  /** device size in bytes */
  deviceBytes: number;
  layout: Layout;
  uuid: Uint8Array;
  label: string;
  /**
   * signatures that were present (and overwritten, with force): libblkid's
   * findings merged with the project's own probes (src/device/blkid.ts)
   */
  previous: FoundSignature[];
  /** why libblkid was not consulted ("" when it was): only the project's own probes ran */
  blkidMissing: string;
  dryRun: boolean;
}

/**
 * Computes the layout for a device of `deviceBytes` bytes.
 * @throws FsError EINVAL for an invalid block size or inode count, ENOSPC when
 *   the device is too small (the message gives the minimum)
 */
export function computeLayout(
  deviceBytes: number,
  opts: MkfsOptions = {},
): Layout {
  const bs = opts.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (
    !Number.isInteger(bs) || bs < MIN_BLOCK_SIZE || bs > MAX_BLOCK_SIZE ||
    (bs & (bs - 1)) !== 0
  ) {
    throw new FsError(
      "EINVAL",
      `invalid block size ${bs}: use a power of two from ${MIN_BLOCK_SIZE} to ${MAX_BLOCK_SIZE} bytes`,
    );
  }
  const blockCount = Math.floor(deviceBytes / bs);
  const ratio = opts.inodeRatio ?? 16384;
  if (!Number.isInteger(ratio) || ratio < 1024) {
    throw new FsError(
      "EINVAL",
      `inode ratio ${ratio} must be at least 1024 bytes per inode`,
    );
  }
  let inodeCount = opts.inodes ?? Math.floor((blockCount * bs) / ratio);
  if (
    opts.inodes !== undefined &&
    (!Number.isInteger(opts.inodes) || opts.inodes < FIRST_INO + 16)
  ) {
    throw new FsError(
      "EINVAL",
      `inode count ${opts.inodes} is too small (at least ${FIRST_INO + 16})`,
    );
  }
  inodeCount = Math.min(Math.max(inodeCount, FIRST_INO + 48), 0xffffffff);
  const { blockBitmapBlocks, inodeBitmapBlocks, inodeTableBlocks } = regionLengths(blockCount, inodeCount, bs);
  const blockBitmapStart = firstMetaBlock(bs);
  const inodeBitmapStart = blockBitmapStart + blockBitmapBlocks;
  const inodeTableStart = inodeBitmapStart + inodeBitmapBlocks;
  const firstDataBlock = inodeTableStart + inodeTableBlocks;
  const minData = 16;
  if (blockCount < 64 || firstDataBlock + minData + 1 > blockCount) {
    const need = Math.max(64, firstDataBlock + minData + 1) * bs;
    throw new FsError(
      "ENOSPC",
      `device is too small: ${deviceBytes} bytes give ${blockCount} blocks of ${bs} bytes; at least ${need} bytes are needed` +
        (opts.inodes === undefined ? "" : " for that many inodes"),
    );
  }
  let journalBlocks = opts.journalBlocks ?? defaultJournalBlocks(blockCount);
  const fits = (j: number) => firstDataBlock + 1 + j + minData + 1 <= blockCount;
  if (opts.journalBlocks !== undefined && journalBlocks !== 0) {
    if (
      !Number.isInteger(journalBlocks) || journalBlocks < JBD2_MIN_JOURNAL_BLOCKS ||
      journalBlocks > JBD2_MAX_JOURNAL_BLOCKS
    ) {
      throw new FsError(
        "EINVAL",
        `journal size ${journalBlocks} blocks is out of range: jbd2 needs ${JBD2_MIN_JOURNAL_BLOCKS} to ` +
          `${JBD2_MAX_JOURNAL_BLOCKS} blocks (or no journal)`,
      );
    }
    if (!fits(journalBlocks)) {
      throw new FsError(
        "ENOSPC",
        `a journal of ${journalBlocks} blocks does not fit in ${blockCount} blocks with the metadata; ` +
          `use a smaller journal or none`,
      );
    }
  } else if (!fits(journalBlocks)) journalBlocks = 0;
  return {
    blockSize: bs,
    blockCount,
    inodeCount,
    blockBitmapStart,
    blockBitmapBlocks,
    inodeBitmapStart,
    inodeBitmapBlocks,
    inodeTableStart,
    inodeTableBlocks,
    firstDataBlock,
    journalStart: journalBlocks ? firstDataBlock + 1 : 0,
    journalBlocks,
    backupSuperblock: blockCount - 1,
    // minus backup SB, the root directory block and the journal
    freeBlocks: blockCount - firstDataBlock - 1 - 1 - journalBlocks,
  };
}

/**
 * Formats `path` (image file or block device) as VexFS, after refusing when
 * it is mounted or in use, and (unless `force`) when it holds a filesystem or
 * partition table. Nothing is written on a refusal or a dry run.
 * A dry run reports what it found (`previous`) instead of refusing.
 * @throws FsError EBUSY (mounted / in use), EEXIST (existing signature, without
 *   force; the message names it), EINVAL (bad options), ENOSPC (too small), ENOENT
 */
export function mkfs(path: string, opts: MkfsOptions = {}): MkfsResult {
  if (
    opts.label !== undefined && new TextEncoder().encode(opts.label).length > 63
  ) {
    throw new FsError(
      "EINVAL",
      `label '${opts.label}' is longer than 63 bytes`,
    );
  }
  const uuid = typeof opts.uuid === "string" ? uuidFromString(opts.uuid) : opts.uuid ?? randomUuid();
  if (opts.blockSize !== undefined) {
    computeLayout(1 << 30, { blockSize: opts.blockSize }); // validate early
  }
  let exists = true;
  try {
    Deno.statSync(path);
  } catch {
    exists = false;
  }
  if (!exists && opts.size === undefined) {
    throw new FsError(
      "ENOENT",
      `${path} does not exist; give --size to create an image file`,
    );
  }
  if (exists) {
    const ms = mountedState(path);
    if (ms.mounted || ms.busy) {
      throw new FsError(
        "EBUSY",
        `${path} is in use: ${ms.users.join("; ") || `mounted on ${ms.where}`}; unmount it first`,
      );
    }
  }
  if (exists && opts.size !== undefined && !Deno.statSync(path).isFile) {
    throw new FsError(
      "EINVAL",
      `--size only applies to image files; ${path} is a device`,
    );
  }
  // Every check runs before anything is created, grown or written.
  let previous: FoundSignature[] = [];
  let blkidMissing = "";
  let kind: "file" | "block" = "file";
  let deviceBytes = opts.size ?? 0;
  if (exists) {
    const probe = Device.open(path, { readOnly: true, exclusive: false });
    try {
      const blk = blkidSignatures(path);
      blkidMissing = blk ? "" : blkidUnavailableReason() || `libblkid could not open ${path}`;
      previous = mergeSignatures(probeSignatures(probe), blk);
      kind = probe.kind;
      deviceBytes = Math.max(probe.size, kind === "file" ? opts.size ?? 0 : 0);
    } finally {
      probe.close();
    }
  }
  const layout = computeLayout(deviceBytes, opts);
  if (previous.length && !opts.force && !opts.dryRun) {
    const what = previous.map((s) => s.description).join("; ");
    throw new FsError(
      "EEXIST",
      `${path} already contains ${what}; nothing was written. Use -F (--force) to overwrite it (all its data will be lost)${
        blkidMissing ? ` [note: ${blkidMissing}; only VexFS's own probes were used]` : ""
      }`,
    );
  }
  const result: MkfsResult = {
    path,
    kind,
    deviceBytes,
    layout,
    uuid,
    label: opts.label ?? "",
    previous,
    blkidMissing,
    dryRun: !!opts.dryRun,
  };
  if (opts.dryRun) return result;
  const dev = opts.size !== undefined ? Device.create(path, opts.size) : Device.open(path, { exclusive: true });
  try {
    if (dev.size < layout.blockCount * layout.blockSize) {
      throw new FsError(
        "EIO",
        `${path} is smaller (${dev.size} bytes) than when it was checked`,
      );
    }
    writeFilesystem(dev, layout, { ...opts, uuid });
    return result;
  } finally {
    dev.close();
  }
}

/** A random RFC 4122 version 4 UUID. */
export function randomUuid(): Uint8Array {
  const u = crypto.getRandomValues(new Uint8Array(16));
  u[6] = (u[6] & 0x0f) | 0x40;
  u[8] = (u[8] & 0x3f) | 0x80;
  return u;
}

function setBits(bytes: Uint8Array, from: number, to: number): void {
  for (let i = from; i < to; i++) bytes[i >>> 3] |= 1 << (i & 7);
}

/**
 * Writes a fresh filesystem with `layout` onto `dev` (no checks: see {@link mkfs}).
 * Clears old signatures in the first and last MiB.
 */
export function writeFilesystem(
  dev: BlockDevice,
  layout: Layout,
  opts: MkfsOptions & { uuid: Uint8Array },
): void {
  const bs = layout.blockSize;
  const now = opts.time ?? Math.floor(Date.now() / 1000);
  const ts: Timespec = { sec: now, nsec: 0 };
  const wipe = Math.min(1 << 20, layout.blockCount * bs);
  dev.write(0, new Uint8Array(wipe));
  if (dev.size > wipe) {
    const tail = Math.min(1 << 20, dev.size - wipe);
    dev.write(dev.size - tail, new Uint8Array(tail));
  }
  // block bitmap: metadata, root directory block, backup superblock, padding
  const bb = new Uint8Array(layout.blockBitmapBlocks * bs);
  const rootBlock = layout.firstDataBlock;
  setBits(bb, 0, layout.firstDataBlock + 1);
  if (layout.journalBlocks) setBits(bb, layout.journalStart, layout.journalStart + layout.journalBlocks);
  setBits(bb, layout.blockCount - 1, layout.blockBitmapBlocks * bs * 8);
  dev.write(layout.blockBitmapStart * bs, bb);
  // inode bitmap: reserved inodes 1..15, padding
  const ib = new Uint8Array(layout.inodeBitmapBlocks * bs);
  setBits(ib, 0, FIRST_INO - 1);
  setBits(ib, layout.inodeCount, layout.inodeBitmapBlocks * bs * 8);
  dev.write(layout.inodeBitmapStart * bs, ib);
  // inode table: the blocks holding the reserved inodes
  const resBytes = Math.ceil(((FIRST_INO - 1) * INODE_SIZE) / bs) * bs;
  const table = new Uint8Array(resBytes);
  const inode = (
    mode: number,
    nlink: number,
    size: number,
    blocks: number,
    flags: number,
    parent: number,
    data: Uint8Array,
  ): Inode => ({
    mode,
    uid: 0,
    gid: 0,
    nlink,
    size,
    blocks,
    atime: ts,
    mtime: ts,
    ctime: ts,
    crtime: ts,
    flags,
    generation: 0,
    xattrBlock: 0,
    parentIno: parent,
    parentHash: 0,
    collId: 0,
    vecSlot: 0,
    orphanNext: 0,
    rdev: 0,
    data,
  });
  const rootData = new Uint8Array(INODE_DATA_SIZE);
  encodeExtentNode(
    {
      depth: 0,
      max: EXT_ROOT_MAX,
      extents: [{ logical: 0, physical: rootBlock, length: 1, flags: 0 }],
    },
    rootData,
    ROOT_INO,
  );
  const emptyData = new Uint8Array(INODE_DATA_SIZE);
  encodeExtentNode(
    { depth: 0, max: EXT_ROOT_MAX, extents: [] },
    emptyData,
    COLL_TABLE_INO,
  );
  const at = (ino: number) => table.subarray((ino - 1) * INODE_SIZE, ino * INODE_SIZE);
  encodeInode(
    ROOT_INO,
    inode(S_IFDIR | 0o755, 2, bs, 1, 0, ROOT_INO, rootData),
    at(ROOT_INO),
  );
  encodeInode(
    COLL_TABLE_INO,
    inode(S_IFREG | 0o600, 1, 0, 0, IFL_INTERNAL, 0, emptyData),
    at(COLL_TABLE_INO),
  );
  if (layout.journalBlocks) {
    // The journal (FORMAT.md §9.1): inode 4, one extent, an empty log. Only its
    // superblock is written: stale blocks in the log area cannot pass as
    // transactions, whose checksums are seeded with this filesystem's fresh UUID.
    const jdata = new Uint8Array(INODE_DATA_SIZE);
    encodeExtentNode(
      {
        depth: 0,
        max: EXT_ROOT_MAX,
        extents: [{ logical: 0, physical: layout.journalStart, length: layout.journalBlocks, flags: 0 }],
      },
      jdata,
      JOURNAL_INO,
    );
    encodeInode(
      JOURNAL_INO,
      inode(S_IFREG | 0o600, 1, layout.journalBlocks * bs, layout.journalBlocks, IFL_INTERNAL, 0, jdata),
      at(JOURNAL_INO),
    );
    const jsb = newJournalSuperblock(bs, layout.journalBlocks, opts.uuid);
    jsb.sequence = opts.journalSequence ?? (crypto.getRandomValues(new Uint32Array(1))[0] || 1);
    dev.write(layout.journalStart * bs, encodeJournalSuperblock(jsb, bs));
  }
  dev.write(layout.inodeTableStart * bs, table);
  // root directory: an empty hash tree
  const dirBuf = new Uint8Array(bs);
  dirInit({
    blockSize: bs,
    ino: ROOT_INO,
    hashSeed: 0,
    blockCount: () => 1,
    read: () => dirBuf,
    write: (_l, d) => dirBuf.set(d),
    append: () => {
      throw new FsError("ENOSPC", "mkfs: root directory cannot grow");
    },
  });
  dev.write(rootBlock * bs, dirBuf);
  const sb: Superblock = {
    magic: 0,
    versionMajor: VERSION_MAJOR,
    versionMinor: VERSION_MINOR,
    featureCompat: COMPAT_XATTR | COMPAT_BACKUP_SB,
    featureIncompat: INCOMPAT_EXTENTS | INCOMPAT_HTREE | INCOMPAT_VECTORS | INCOMPAT_XATTR_STORE |
      (layout.journalBlocks ? INCOMPAT_JOURNAL : 0),
    featureRoCompat: RO_COMPAT_PARENT_PTR,
    logBlockSize: Math.log2(bs) - 10,
    blockCount: layout.blockCount,
    freeBlocks: layout.freeBlocks,
    inodeCount: layout.inodeCount,
    freeInodes: layout.inodeCount - (FIRST_INO - 1),
    blockBitmapStart: layout.blockBitmapStart,
    blockBitmapBlocks: layout.blockBitmapBlocks,
    inodeBitmapBlocks: layout.inodeBitmapBlocks,
    inodeBitmapStart: layout.inodeBitmapStart,
    inodeTableStart: layout.inodeTableStart,
    inodeTableBlocks: layout.inodeTableBlocks,
    firstDataBlock: layout.firstDataBlock,
    rootIno: ROOT_INO,
    collTableIno: COLL_TABLE_INO,
    inodeSize: INODE_SIZE,
    state: STATE_CLEAN,
    errors: ERRORS_BEHAVIOURS.indexOf(opts.errors ?? "continue") + 1,
    mountCount: 0,
    maxMountCount: 0,
    mkfsTime: now,
    mountTime: 0,
    writeTime: now,
    checkTime: now,
    uuid: opts.uuid,
    label: opts.label ?? "",
    hashSeed: opts.hashSeed ?? (crypto.getRandomValues(new Uint32Array(1))[0]),
    firstIno: FIRST_INO,
    orphanHead: 0,
    journalIno: layout.journalBlocks ? JOURNAL_INO : 0,
    journalBlocks: layout.journalBlocks,
    collCount: 0,
    inodeRatio: opts.inodeRatio ?? 16384,
    checksum: 0,
  };
  const raw = encodeSuperblock(sb);
  dev.write((layout.blockCount - 1) * bs, raw);
  dev.write(SB_OFFSET, raw);
  dev.sync();
}
