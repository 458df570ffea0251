/**
 * The VexFS engine: a POSIX filesystem over a {@link Device}, implementing
 * docs/FORMAT.md. `mkfs`, `fsck`, `mount` and the offline commands all use it,
 * the way e2fsprogs' tools use lib/ext2fs.
 *
 * The engine is synchronous and single-threaded. Metadata goes through a
 * write-back {@link BufferCache}; file contents are read and written
 * directly. {@link Vexfs.sync} makes everything durable; {@link Vexfs.close}
 * also marks the superblock clean.
 *
 * @example
 * ```ts
 * const fs = Vexfs.open("disk.img");
 * const ino = fs.create(ROOT_INO, "hello.txt", 0o644);
 * fs.write(ino, 0, new TextEncoder().encode("hi\n"));
 * fs.close();
 * ```
 * @module
 */
import { type BlockDevice, Device } from "../device/device.ts";
import { OverlayDevice } from "../device/overlay.ts";
import { check, FsError } from "../errors.ts";
import {
  COLL_TABLE_INO,
  EXT_MAX_DEPTH,
  EXT_ROOT_MAX,
  EXT_UNWRITTEN,
  fileTypeOfMode,
  FIRST_INO,
  IFL_COLL_ROOT,
  IFL_HAS_VECTOR,
  IFL_INLINE,
  IFL_INTERNAL,
  IFL_ORPHAN,
  IFL_XATTR_STORE,
  INCOMPAT_JOURNAL,
  INCOMPAT_RECOVER,
  INODE_DATA_SIZE,
  INODE_SIZE,
  MAX_FILE_SIZE,
  NAME_MAX,
  ROOT_INO,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  SB_OFFSET,
  SB_SIZE,
  STATE_CLEAN,
  STATE_DIRTY,
  STATE_ERROR,
  SUPPORTED_RO_COMPAT,
  SYMLINK_MAX,
} from "../format/constants.ts";
import { blockChecksumOk, decodeExtentNode, encodeExtentNode, type Extent, extentBlockMax } from "../format/extent.ts";
import {
  decodeInode,
  encodeInode,
  type Inode,
  nowTimespec,
  slotGeneration,
  type Timespec,
  timespecOf,
} from "../format/inode.ts";
import {
  blockSizeOf,
  decodeSuperblock,
  encodeSuperblock,
  type Superblock,
  superblockProblems,
} from "../format/superblock.ts";
import { dirHash } from "../format/hash.ts";
import { Bitmap } from "./bitmap.ts";
import { type BlockIO, BufferCache } from "./cache.ts";
import { firstEndingAfter, insertExtent, mappedEnd, markUnwritten, markWritten, punch, segments } from "./extentmap.ts";
import {
  type DirBlocks,
  dirEntryCount,
  dirFindByIno,
  dirInit,
  dirInsert,
  dirIterate,
  DIRL_MAGIC,
  dirLookup,
  dirRemove,
  dirReplace,
  DIRX_MAGIC,
} from "./htree.ts";
import { Collections } from "./vectors.ts";
import { Xattrs } from "./xattrs.ts";
import { Journal } from "../journal/journal.ts";
import { recoverJournal, type RecoveryResult } from "../journal/recovery.ts";
import { journalExtents } from "../journal/map.ts";
import { ERRORS_BEHAVIOURS } from "./mkfs.ts";

/** A file name: a string (encoded as UTF-8) or raw bytes. */
export type Name = string | Uint8Array;

/** Attributes of an inode, as stat(2) reports them. */
export interface Stat {
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  /** bytes */
  size: number;
  /** 512-byte units allocated, as st_blocks */
  blocks: number;
  /** preferred I/O size in bytes */
  blksize: number;
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;
  crtime: Timespec;
  generation: number;
  /** VexFS inode flags (FORMAT.md §4.1) */
  flags: number;
}

/** Changes for {@link Vexfs.setattr}; absent fields stay as they are. */
export interface SetAttr {
  mode?: number;
  uid?: number;
  gid?: number;
  /** bytes; truncates or extends */
  size?: number;
  atime?: Timespec | "now";
  mtime?: Timespec | "now";
}

/** One directory entry as listed by {@link Vexfs.readdir}. */
export interface DirEntryInfo {
  /** raw name bytes */
  nameBytes: Uint8Array;
  /** name decoded as UTF-8 */
  name: string;
  ino: number;
  /** FORMAT.md §6 file type (1 reg, 2 dir, ...) */
  type: number;
}

/** statfs(2) numbers; counts in blocks of `bsize` bytes or in inodes. */
export interface StatFs {
  bsize: number;
  blocks: number;
  bfree: number;
  /** what file data can still use: `bfree` less the one block every allocation keeps in reserve */
  bavail: number;
  files: number;
  ffree: number;
  namelen: number;
}

/** Options for {@link Vexfs.open}. */
export interface OpenOptions {
  /** open read-only: nothing is written, not even the superblock state */
  readOnly?: boolean;
  /** open even if the superblock says the filesystem has errors or is dirty (default true) */
  force?: boolean;
  /** called with a warning the engine wants a person to see (journal trouble, a split transaction) */
  onWarning?: (message: string) => void;
  /** what to do on corruption, overriding the superblock's `errors` (FORMAT.md §3.2; the mount option `errors=`) */
  errors?: "continue" | "remount-ro" | "panic";
}

/** In-memory state of a loaded inode. */
export interface InodeState {
  ino: number;
  d: Inode;
  /** sorted extent list (loaded lazily) */
  exts?: Extent[];
  /** blocks of the on-disk extent tree (excluding the root in the inode) */
  treeBlocks?: number[];
  /**
   * The same blocks by level, leaves first, each level in key order, when
   * the tree has the canonical shape the engine writes (every node full but
   * the last of its level): then a change rewrites only the nodes from the
   * one holding the first changed extent on (one leaf and the path above it
   * for an append). Undefined when unknown, so the next change rewrites the
   * whole tree in that shape.
   */
  treeLevels?: number[][];
  dirty: boolean;
}

/** Largest preallocation of an internal file, in bytes (see {@link Vexfs.write}). */
const PREALLOC_MAX_BYTES = 8 << 20;

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Converts a {@link Name} to bytes and validates it as one path component. */
export function nameBytes(name: Name): Uint8Array {
  const b = typeof name === "string" ? enc.encode(name) : name;
  if (b.length === 0) throw new FsError("ENOENT", "empty file name");
  if (b.length > NAME_MAX) {
    throw new FsError(
      "ENAMETOOLONG",
      `file name is ${b.length} bytes; at most ${NAME_MAX} are allowed`,
    );
  }
  if (b.includes(0x2f) || b.includes(0)) {
    throw new FsError(
      "EINVAL",
      `file name '${dec.decode(b)}' contains '/' or NUL`,
    );
  }
  if (
    (b.length === 1 && b[0] === 0x2e) ||
    (b.length === 2 && b[0] === 0x2e && b[1] === 0x2e)
  ) {
    throw new FsError("EINVAL", "'.' and '..' cannot be used as names here");
  }
  return b;
}

/**
 * An open VexFS filesystem. See the module documentation.
 */
/**
 * A checkpoint of the HNSW graphs that is not forced waits this many times
 * the previous one's duration after it (FORMAT.md §8.6 "Writing").
 */
const GRAPH_CHECKPOINT_RATIO = 9;

export class Vexfs {
  readonly dev: BlockDevice;
  readonly sb: Superblock;
  readonly blockSize: number;
  readonly readOnly: boolean;
  readonly cache: BufferCache;
  readonly blockMap: Bitmap;
  readonly inodeMap: Bitmap;
  /** vector collections (FORMAT.md §8) */
  readonly collections: Collections;
  /** Extended attributes (FORMAT.md §7). */
  readonly xattrs: Xattrs;
  #inodes = new Map<number, InodeState>();
  #open = new Map<number, number>();
  #closed = false;
  /** orphans freed while opening (the previous holder died) */
  readonly recoveredOrphans: number[] = [];
  /** Superblock state found on disk when opened (STATE_CLEAN, STATE_DIRTY or STATE_ERROR), before this open marked it in use. */
  readonly stateAtOpen: number;
  /**
   * The journal writer (docs/FORMAT.md §9.4), when the filesystem has a
   * journal and is open read-write.
   */
  journal: Journal | null = null;
  /** What replaying the journal at open did (null without a journal). */
  recovery: RecoveryResult | null = null;
  /** Where warnings go (see {@link OpenOptions.onWarning}). */
  onWarning: (message: string) => void = () => {};
  /** nesting depth of {@link op}: no commit happens inside an operation */
  #depth = 0;
  /** inodes changed in memory and not yet encoded into the inode table */
  #dirtyInodes = new Set<InodeState>();
  /** inode-table block → dirty inodes in it: how many table blocks a commit would journal */
  #dirtyTableBlocks = new Map<number, number>();
  /** blocks freed in the running transaction that an earlier one still in the log journaled */
  #revokes: number[] = [];
  /** superblock image of the last commit, to tell whether the superblock changed since */
  #sbCommitted?: Uint8Array;
  /** Extent tree blocks written (nodes encoded, the root in the inode aside), for tests and benchmarks. */
  treeNodesWritten = 0;

  private constructor(dev: BlockDevice, sb: Superblock, readOnly: boolean) {
    this.dev = dev;
    this.sb = sb;
    this.readOnly = readOnly;
    this.blockSize = blockSizeOf(sb);
    const io: BlockIO = dev;
    this.cache = new BufferCache(io, this.blockSize);
    const bs = this.blockSize;
    const bb = new Uint8Array(sb.blockBitmapBlocks * bs);
    dev.read(sb.blockBitmapStart * bs, bb);
    this.blockMap = new Bitmap(bb, sb.blockCount, bs);
    const ib = new Uint8Array(sb.inodeBitmapBlocks * bs);
    dev.read(sb.inodeBitmapStart * bs, ib);
    this.inodeMap = new Bitmap(ib, sb.inodeCount, bs);
    this.blockMap.rotor = sb.firstDataBlock;
    this.inodeMap.rotor = FIRST_INO - 1;
    this.collections = new Collections(this);
    this.xattrs = new Xattrs(this);
    this.stateAtOpen = sb.state;
  }

  /**
   * Opens the filesystem on an image file or block device.
   * @throws FsError EUCLEAN if the superblock is not a valid VexFS v1 superblock
   *   (the message says what is wrong), EBUSY if another process holds it,
   *   EROFS if it has read-only-compatible features this version cannot write.
   */
  static open(path: string, opts: OpenOptions = {}): Vexfs {
    const readOnly = opts.readOnly ?? false;
    const dev = Device.open(path, { readOnly });
    try {
      return Vexfs.openDevice(dev, opts);
    } catch (e) {
      dev.close();
      throw e;
    }
  }

  /**
   * Like {@link Vexfs.open} on an already opened device (which the filesystem
   * then owns). A journal that needs recovery is replayed first (docs/FORMAT.md
   * §9.5): onto the device when opening read-write, into memory when
   * read-only (nothing is written).
   * @throws FsError EUCLEAN (not VexFS, damaged superblock, a journal that
   *   needs recovery but cannot be replayed), EROFS (read-only-compatible
   *   features this version cannot write)
   */
  static openDevice(dev: BlockDevice, opts: OpenOptions = {}): Vexfs {
    const readOnly = opts.readOnly ?? dev.readOnly;
    let sb: Superblock;
    let recovery: RecoveryResult | null = null;
    try {
      sb = readSuperblock(dev);
    } catch (e) {
      // A primary superblock torn by a power cut during its home write is repaired
      // by replaying the journal, which holds the superblock's block in every
      // transaction (FORMAT.md §9.4); the backup superblock says where the journal is.
      const backup = findBackupSuperblock(dev);
      if (!backup || !(backup.featureIncompat & INCOMPAT_JOURNAL)) throw e;
      recovery = recoverJournal(dev, backup, { write: !readOnly });
      if (!recovery.needed || recovery.transactions === 0) throw e;
      if (readOnly && recovery.overlay?.size) dev = new OverlayDevice(dev, blockSizeOf(backup), recovery.overlay);
      sb = readSuperblock(dev);
    }
    if (!readOnly && (sb.featureRoCompat & ~SUPPORTED_RO_COMPAT)) {
      throw new FsError(
        "EROFS",
        `${dev.path} uses features 0x${
          (sb.featureRoCompat & ~SUPPORTED_RO_COMPAT).toString(16)
        } that this version can only read: open it read-only`,
      );
    }
    if (sb.featureIncompat & INCOMPAT_JOURNAL && !recovery) {
      recovery = recoverJournal(dev, sb, { write: !readOnly });
      const broken = recovery.problems.filter((p) => p.startsWith("journal superblock") || p.startsWith("journal_ino"));
      if (broken.length && (recovery.needed || !readOnly)) {
        throw new FsError(
          "EUCLEAN",
          `${dev.path}: the journal ${recovery.needed ? "needs recovery but " : ""}is damaged (${
            broken.join("; ")
          }); run vexfs fsck`,
        );
      }
      if (recovery.needed) {
        if (readOnly && recovery.overlay?.size) dev = new OverlayDevice(dev, blockSizeOf(sb), recovery.overlay);
        sb = readSuperblock(dev);
      }
    }
    const fs = new Vexfs(dev, sb, readOnly);
    fs.recovery = recovery;
    if (opts.onWarning) fs.onWarning = opts.onWarning;
    fs.errorsBehaviour = opts.errors ?? ERRORS_BEHAVIOURS[sb.errors - 1] ?? "continue";
    if (recovery?.problems.length) fs.onWarning(`journal: ${recovery.problems.join("; ")}`);
    const distrust = fs.#distrust();
    if (distrust.length) {
      const what = `${dev.path}: ${distrust.join("; ")}`;
      if (!readOnly) {
        throw new FsError("EUCLEAN", `${what}; run vexfs fsck -y to repair it (it can still be opened read-only)`);
      }
      fs.onWarning(`${what}; run vexfs fsck`);
    }
    if (!readOnly) {
      if (sb.featureIncompat & INCOMPAT_JOURNAL) {
        fs.journal = Journal.load(dev, sb);
        fs.blockMap.holdFrees = true;
        fs.cache.writeBack = false;
        sb.featureIncompat |= INCOMPAT_RECOVER;
        if (fs.journal.errno) {
          fs.onWarning(`the journal records an error (errno ${-fs.journal.errno}) from an earlier use; run vexfs fsck`);
          sb.state = STATE_ERROR;
          fs.journal.clearErrno();
        }
      } else if (sb.state === STATE_CLEAN) sb.state = STATE_DIRTY;
      sb.mountCount++;
      sb.mountTime = Math.floor(Date.now() / 1000);
      if (fs.journal) {
        // With a journal the superblock is only ever written through it, so a torn
        // superblock write is always repaired by a replay: this commit carries RECOVER.
        fs.op(() => fs.#recoverOrphans());
        fs.#commit();
      } else {
        fs.#writeSuperblock(false);
        dev.sync();
        fs.op(() => fs.#recoverOrphans());
        if (fs.recoveredOrphans.length) fs.sync();
      }
    }
    return fs;
  }

  /**
   * What the metadata read at open contradicts (the mount must not trust a
   * damaged bitmap, FORMAT.md §2.1): free counts of the bitmaps against the
   * superblock (when the superblock is known to be current: a journal, or a
   * clean close) and the bits that must always be set (metadata, the backup
   * superblock, the journal, reserved inodes). Empty when all agree.
   */
  #distrust(): string[] {
    const sb = this.sb;
    const out: string[] = [];
    const current = (sb.featureIncompat & INCOMPAT_JOURNAL) !== 0 || sb.state === STATE_CLEAN;
    if (current && this.blockMap.free !== sb.freeBlocks) {
      out.push(`the block bitmap counts ${this.blockMap.free} free blocks but the superblock says ${sb.freeBlocks}`);
    }
    if (current && this.inodeMap.free !== sb.freeInodes) {
      out.push(`the inode bitmap counts ${this.inodeMap.free} free inodes but the superblock says ${sb.freeInodes}`);
    }
    if (this.blockMap.countSet(0, sb.firstDataBlock) !== sb.firstDataBlock || !this.blockMap.test(sb.blockCount - 1)) {
      out.push("the block bitmap marks metadata blocks free");
    }
    if (sb.journalBlocks && sb.featureIncompat & INCOMPAT_JOURNAL) {
      try {
        const js = journalExtents(this.dev, sb);
        if (js.some((e) => this.blockMap.countSet(e.physical, e.physical + e.length) !== e.length)) {
          out.push("the block bitmap marks journal blocks free");
        }
      } catch (e) {
        out.push(e instanceof Error ? e.message : String(e));
      }
    }
    if (this.inodeMap.countSet(0, FIRST_INO - 1) !== FIRST_INO - 1) {
      out.push("the inode bitmap marks reserved inodes free");
    }
    return out;
  }

  /**
   * Runs `fn` as one operation: everything it changes joins the running
   * transaction and no commit happens inside it (so a crash shows all of it
   * or none); when the outermost operation ends, the transaction commits if
   * it has grown past the journal's soft limit. Nested calls join the outer
   * operation. Used by every mutating method and by {@link Collections}.
   * Corruption (EUCLEAN, EIO) that escapes the outermost operation is
   * recorded in the superblock and handled as `errors=` says.
   * @param name what the operation is called in the error record (at most 32 ASCII bytes)
   */
  op<T>(fn: () => T, name = "operation"): T {
    this.#depth++;
    try {
      return fn();
    } catch (e) {
      if (this.#depth === 1 && e instanceof FsError && (e.code === "EUCLEAN" || e.code === "EIO")) {
        this.#recordError(name, e);
      }
      throw e;
    } finally {
      if (--this.#depth === 0) this.#maybeCommit();
    }
  }

  /**
   * What to do on corruption (FORMAT.md §3.2): the superblock's `errors`, or
   * the mount option that overrides it for this open.
   */
  errorsBehaviour: "continue" | "remount-ro" | "panic" = "continue";
  /** Called once when `errors=panic` met an error: the mount unmounts. */
  onPanic: (() => void) | null = null;
  /** Set when an error made this open read-only (`errors=remount-ro` or `panic`). */
  #errorRo = false;

  /** True when the filesystem is read-only: opened so, or turned so by an error. */
  get isReadOnly(): boolean {
    return this.readOnly || this.#errorRo;
  }

  /**
   * Records corruption met while in use (FORMAT.md §3.2, as ext4's
   * `ext4_handle_error`): the superblock's error record and state ERROR,
   * then `errors=` decides: continue (commit the record now), remount-ro or
   * panic (abandon the running transaction, write only the error record,
   * refuse every later change; panic also calls {@link onPanic}).
   */
  #recordError(op: string, e: FsError): void {
    const sb = this.sb;
    const now = Math.floor(Date.now() / 1000);
    const errno = e.code === "EIO" ? 5 : 117;
    const ino = Number(/inode (\d+)/.exec(e.message)?.[1] ?? 0);
    const opName = op.slice(0, 32);
    const apply = (t: Superblock) => {
      t.errorCount = (t.errorCount ?? 0) + 1;
      if (!t.firstErrorTime) {
        t.firstErrorErrno = errno;
        t.firstErrorTime = now;
        t.firstErrorIno = ino;
        t.firstErrorOp = opName;
      }
      t.lastErrorErrno = errno;
      t.lastErrorTime = now;
      t.lastErrorIno = ino;
      t.lastErrorOp = opName;
      t.state = STATE_ERROR;
    };
    apply(sb);
    this.onWarning(`error in ${op}${ino ? ` (inode ${ino})` : ""}: ${e.message}`);
    if (this.readOnly || this.#errorRo || this.#closed) return;
    try {
      if (this.errorsBehaviour === "continue") {
        this.#commit();
        if (!this.journal) {
          this.#writeSuperblock(true);
          this.dev.sync();
        }
        return;
      }
      // remount-ro / panic: the running transaction is abandoned; the disk keeps the
      // last committed state plus the error record, written in place.
      this.#errorRo = true;
      this.cache.writeBack = false;
      let onDisk: Superblock;
      if (this.journal) {
        this.journal.abort(errno);
        onDisk = this.#sbCommitted ? decodeSuperblock(this.#sbCommitted) : readSuperblock(this.dev);
        onDisk.featureIncompat &= ~INCOMPAT_RECOVER;
      } else onDisk = readSuperblock(this.dev);
      apply(onDisk);
      onDisk.errorCount = sb.errorCount;
      const raw = encodeSuperblock(onDisk);
      this.dev.write(SB_OFFSET, raw);
      this.dev.write((sb.blockCount - 1) * this.blockSize, raw);
      this.dev.sync();
      this.onWarning(`the filesystem is now read-only (errors=${this.errorsBehaviour}); run vexfs fsck`);
    } catch (e2) {
      this.onWarning(`could not record the error: ${e2 instanceof Error ? e2.message : e2}`);
    } finally {
      if (this.errorsBehaviour === "panic") this.onPanic?.();
    }
  }

  /**
   * {@link op} for a public method named `name`. With `retry`, an ENOSPC at
   * the outermost level while freed blocks wait for their transaction to
   * commit (FORMAT.md §9.4) commits and tries once more, as ext4 does
   * (`ext4_should_retry_alloc`); such methods change nothing before they
   * refuse with ENOSPC.
   */
  #op<T>(name: string, fn: () => T, retry = false): T {
    try {
      return this.op(fn, name);
    } catch (e) {
      if (
        retry && this.#depth === 0 && e instanceof FsError && e.code === "ENOSPC" && this.journal &&
        this.blockMap.heldCount > 0 && !this.#errorRo
      ) {
        this.#commit();
        return this.op(fn, name);
      }
      throw e;
    }
  }

  // ---------------------------------------------------------------- inodes

  /**
   * Loads inode `ino` (cached).
   * @throws FsError ENOENT if the inode is not allocated, EUCLEAN if its checksum fails
   */
  iget(ino: number): InodeState {
    const hit = this.#inodes.get(ino);
    if (hit) return hit;
    if (
      !Number.isSafeInteger(ino) || ino < 1 || ino > this.sb.inodeCount ||
      !this.inodeMap.test(ino - 1)
    ) {
      throw new FsError("ENOENT", `inode ${ino} is not in use`);
    }
    const { block, off } = this.#inodeLoc(ino);
    const buf = this.cache.get(block);
    const d = decodeInode(ino, buf.subarray(off, off + INODE_SIZE));
    const st: InodeState = { ino, d, dirty: false };
    this.#inodes.set(ino, st);
    return st;
  }

  #inodeLoc(ino: number): { block: number; off: number } {
    const byte = (ino - 1) * INODE_SIZE;
    return {
      block: this.sb.inodeTableStart + Math.floor(byte / this.blockSize),
      off: byte % this.blockSize,
    };
  }

  /** Marks an inode modified; it is written to the inode table at the next flush. */
  dirty(n: InodeState): void {
    this.#assertWritable();
    n.dirty = true;
    this.#markInodeDirty(n);
  }

  #markInodeDirty(n: InodeState): void {
    if (this.#dirtyInodes.has(n)) return;
    this.#dirtyInodes.add(n);
    const { block } = this.#inodeLoc(n.ino);
    this.#dirtyTableBlocks.set(block, (this.#dirtyTableBlocks.get(block) ?? 0) + 1);
  }

  #writeInode(n: InodeState): void {
    const { block, off } = this.#inodeLoc(n.ino);
    const buf = this.cache.get(block);
    encodeInode(n.ino, n.d, buf.subarray(off, off + INODE_SIZE));
    this.cache.markDirty(block);
    n.dirty = false;
    if (this.#dirtyInodes.delete(n)) {
      const left = (this.#dirtyTableBlocks.get(block) ?? 1) - 1;
      if (left > 0) this.#dirtyTableBlocks.set(block, left);
      else this.#dirtyTableBlocks.delete(block);
    }
  }

  /**
   * Allocates and initialises a new inode.
   * @param mode full st_mode (type and permission bits)
   * @throws FsError ENOSPC when no inode is free
   */
  ialloc(
    mode: number,
    uid: number,
    gid: number,
    parentIno: number,
    parentHash: number,
    flags = 0,
  ): InodeState {
    this.#assertWritable();
    const run = this.inodeMap.findRun(this.inodeMap.rotor, 1);
    if (!run) {
      throw new FsError(
        "ENOSPC",
        "no free inodes left (mkfs with more inodes: --inodes)",
      );
    }
    this.inodeMap.set(run.start);
    this.inodeMap.rotor = run.start + 1;
    const ino = run.start + 1;
    const now = nowTimespec();
    const d: Inode = {
      mode,
      uid,
      gid,
      nlink: 1,
      size: 0,
      blocks: 0,
      atime: now,
      mtime: now,
      ctime: now,
      crtime: now,
      flags,
      generation: this.#newGeneration(ino),
      xattrBlock: 0,
      parentIno,
      parentHash,
      collId: 0,
      vecSlot: 0,
      orphanNext: 0,
      rdev: 0,
      data: new Uint8Array(INODE_DATA_SIZE),
    };
    const n: InodeState = { ino, d, exts: [], treeBlocks: [], treeLevels: [], dirty: true };
    this.#markInodeDirty(n);
    this.#storeExtents(n, 0);
    this.#inodes.set(ino, n);
    return n;
  }

  /**
   * The generation of a new inode `ino` (FORMAT.md §4.2): random, as ext4's,
   * and never the one the slot's previous inode had (read raw from the free
   * slot's bytes, which freeing leaves in place), so a file handle of that
   * inode is stale for this one.
   */
  #newGeneration(ino: number): number {
    const { block, off } = this.#inodeLoc(ino);
    const old = slotGeneration(this.cache.get(block).subarray(off, off + INODE_SIZE));
    for (;;) {
      const g = (Math.random() * 0x100000000) >>> 0;
      if (g !== old) return g;
    }
  }

  /** Frees an inode and everything it owns (blocks, xattrs, vector). */
  #ifree(n: InodeState): void {
    if (n.d.flags & IFL_HAS_VECTOR) this.collections.deleteVector(n.ino);
    if ((n.d.flags & IFL_COLL_ROOT)) {
      this.collections.dropCollection(n.d.collId);
    }
    if (!(n.d.flags & IFL_INLINE)) this.#truncateBlocks(n, 0);
    this.xattrs.free(n);
    n.d.mode = 0;
    n.d.nlink = 0;
    n.d.flags = 0;
    n.d.size = 0;
    n.d.blocks = 0;
    this.#writeInode(n);
    this.inodeMap.clear(n.ino - 1);
    this.#inodes.delete(n.ino);
  }

  /** Frees an inode that has no links and is not open (internal files of a dropped collection). */
  forceFree(ino: number): void {
    return this.#op("forceFree", () => {
      const n = this.iget(ino);
      check(
        n.d.nlink === 0 && !this.#open.has(ino),
        "EBUSY",
        `inode ${ino} is still linked or open`,
      );
      this.#ifree(n);
    });
  }

  // ---------------------------------------------------------------- blocks

  /**
   * Allocates up to `want` contiguous blocks near `goal` (at least one).
   * @returns the first block and the count obtained
   * @throws FsError ENOSPC when the filesystem is full
   */
  balloc(goal: number, want: number): { start: number; length: number } {
    this.#assertWritable();
    const run = this.blockMap.findRun(goal || this.blockMap.rotor, want);
    if (!run) throw new FsError("ENOSPC", "no space left on device");
    if (run.start < this.sb.firstDataBlock || run.start + run.length > this.sb.blockCount - 1) {
      throw new FsError("EUCLEAN", `the block bitmap offers metadata block ${run.start} as free (damaged bitmap)`);
    }
    this.blockMap.set(run.start, run.length);
    this.blockMap.rotor = run.start + run.length;
    return run;
  }

  /**
   * Frees `count` blocks from `start`, dropping them from the cache. With a
   * journal they stay unallocatable until the transaction commits, and a
   * block an earlier transaction still in the log journaled is revoked
   * (FORMAT.md §9.4).
   */
  bfree(start: number, count: number): void {
    this.blockMap.clear(start, count);
    const j = this.journal;
    for (let b = start; b < start + count; b++) {
      this.cache.forget(b);
      if (j?.revokeNeeded(b)) this.#revokes.push(b);
    }
  }

  /** Free blocks available for new data. */
  get freeBlocks(): number {
    return this.blockMap.free;
  }

  // ---------------------------------------------------------------- extents

  /** The inode's extent list, loading (and verifying) its tree on first use. */
  extents(n: InodeState): Extent[] {
    if (n.exts) return n.exts;
    if (n.d.flags & IFL_INLINE) {
      n.exts = [];
      n.treeBlocks = [];
      n.treeLevels = [];
      return n.exts;
    }
    const exts: Extent[] = [];
    const tree: number[] = [];
    /** tree nodes by depth (0: leaves), in key order: block and entries */
    const shape: { block: number; count: number }[][] = [];
    const walk = (node: ReturnType<typeof decodeExtentNode>, level: number) => {
      if (node.depth === 0) {
        for (const e of (node as { extents: Extent[] }).extents) exts.push(e);
        return;
      }
      if (level > EXT_MAX_DEPTH) {
        throw new FsError("EUCLEAN", `inode ${n.ino}: extent tree too deep`);
      }
      for (const ix of (node as { index: { child: number }[] }).index) {
        this.#checkBlockNo(ix.child, n.ino);
        const b = this.cache.get(ix.child);
        if (!blockChecksumOk(b, n.ino)) {
          throw new FsError(
            "EUCLEAN",
            `inode ${n.ino}: extent tree block ${ix.child} checksum mismatch`,
          );
        }
        tree.push(ix.child);
        const child = decodeExtentNode(b, n.ino);
        const entries = child.depth === 0
          ? (child as { extents: Extent[] }).extents.length
          : (child as { index: unknown[] }).index.length;
        (shape[child.depth] ??= []).push({ block: ix.child, count: entries });
        if (child.depth !== node.depth - 1) {
          throw new FsError(
            "EUCLEAN",
            `inode ${n.ino}: extent tree depth is inconsistent`,
          );
        }
        walk(child, level + 1);
      }
    };
    const root = decodeExtentNode(n.d.data, n.ino);
    walk(root, 0);
    for (let i = 0; i < exts.length; i++) {
      const e = exts[i];
      this.#checkBlockNo(e.physical, n.ino, e.length);
      if (i > 0 && exts[i - 1].logical + exts[i - 1].length > e.logical) {
        throw new FsError(
          "EUCLEAN",
          `inode ${n.ino}: extents overlap or are out of order`,
        );
      }
      this.#checkInUse(n.ino, e.physical, e.length);
    }
    for (const b of tree) this.#checkInUse(n.ino, b, 1);
    n.exts = exts;
    n.treeBlocks = tree;
    n.treeLevels = this.#canonical(exts.length, root.depth, shape)
      ? shape.map((l) => l.map((x) => x.block))
      : undefined;
    return exts;
  }

  /**
   * Nodes per level of the canonical tree of `count` extents, leaves first
   * (empty when they fit in the inode's root); its length is the root's depth.
   */
  #treeShape(count: number): number[] {
    const out: number[] = [];
    if (count <= EXT_ROOT_MAX) return out;
    const m = extentBlockMax(this.blockSize);
    let nodes = Math.ceil(count / m);
    out.push(nodes);
    while (nodes > EXT_ROOT_MAX) {
      nodes = Math.ceil(nodes / m);
      out.push(nodes);
    }
    return out;
  }

  /** Whether a loaded tree (root depth and nodes by depth) has the canonical shape of {@link #treeShape}. */
  #canonical(count: number, depth: number, shape: { count: number }[][]): boolean {
    const want = this.#treeShape(count);
    if (depth !== want.length || shape.length !== want.length) return false;
    const m = extentBlockMax(this.blockSize);
    return want.every((nodes, l) =>
      shape[l].length === nodes && shape[l].every((x, i) => i === nodes - 1 ? x.count > 0 : x.count === m)
    );
  }

  /** A block an inode uses must be marked in use: a free bit means a damaged bitmap (or tree). */
  #checkInUse(ino: number, b: number, len: number): void {
    if (this.blockMap.countSet(b, b + len) !== len) {
      throw new FsError(
        "EUCLEAN",
        `inode ${ino}: blocks ${b}..${b + len - 1} belong to it but the block bitmap marks some of them free ` +
          `(damaged bitmap); run vexfs fsck`,
      );
    }
  }

  #checkBlockNo(b: number, ino: number, len = 1): void {
    if (
      b < this.sb.firstDataBlock || b + len > this.sb.blockCount - 1 || len < 1
    ) {
      throw new FsError(
        "EUCLEAN",
        `inode ${ino}: block ${b} (+${len}) lies outside the data area`,
      );
    }
  }

  /** Tree blocks needed to store `n` extents beyond the in-inode root. */
  treeBlocksFor(n: number): number {
    if (n <= EXT_ROOT_MAX) return 0;
    const m = extentBlockMax(this.blockSize);
    let total = 0;
    let nodes = Math.ceil(n / m);
    total += nodes;
    while (nodes > EXT_ROOT_MAX) {
      nodes = Math.ceil(nodes / m);
      total += nodes;
    }
    return total;
  }

  /**
   * Writes the on-disk extent tree of `n` after its extent list changed from
   * index `from` on: in the canonical shape (every node full but the last of
   * its level), only the nodes holding entries from `from` on are rewritten,
   * with their index path and the root in the inode, so appending costs the
   * same at 10 extents or 100,000; a tree of unknown shape is rewritten whole
   * (reusing its blocks). Tree blocks are allocated or freed as the shape
   * needs.
   * @throws FsError EFBIG past 5 levels, ENOSPC when a new tree block does not fit
   */
  #storeExtents(n: InodeState, from: number): void {
    const exts = n.exts!;
    const m = extentBlockMax(this.blockSize);
    const want = this.#treeShape(exts.length);
    if (want.length > EXT_MAX_DEPTH) throw new FsError("EFBIG", `inode ${n.ino}: too many extents`);
    n.d.flags &= ~IFL_INLINE;
    let old = n.treeLevels;
    const pool: number[] = [];
    if (!old) {
      pool.push(...(n.treeBlocks ?? []));
      old = [];
      from = 0;
    }
    let changed = !n.treeLevels;
    const free = (b: number) => {
      this.bfree(b, 1);
      n.d.blocks--;
      changed = true;
    };
    /** the key of node `i` of level `l`: the first logical block below it */
    const key = (l: number, i: number) => exts[i * m ** (l + 1)].logical;
    const levels: number[][] = [];
    let first = from; // first changed entry of the level being written
    for (let l = 0; l < want.length; l++) {
      const blocks = old[l] ? [...old[l]] : [];
      first = Math.floor(first / m);
      while (blocks.length > want[l]) free(blocks.pop()!);
      if (blocks.length < want[l]) {
        first = Math.min(first, blocks.length);
        changed = true;
        while (blocks.length < want[l] && pool.length) blocks.push(pool.shift()!);
        while (blocks.length < want[l]) {
          const goal = blocks.length ? blocks[blocks.length - 1] + 1 : (levels[l - 1]?.at(-1) ?? exts[0].physical) + 1;
          const r = this.balloc(goal, want[l] - blocks.length);
          for (let k = 0; k < r.length; k++) blocks.push(r.start + k);
          n.d.blocks += r.length;
        }
      }
      for (let i = first; i < want[l]; i++) {
        this.treeNodesWritten++;
        const buf = this.cache.getNew(blocks[i]);
        if (l === 0) {
          encodeExtentNode({ depth: 0, max: m, extents: exts.slice(i * m, (i + 1) * m) }, buf, n.ino, this.blockSize);
        } else {
          const index = [];
          for (let c = i * m; c < Math.min((i + 1) * m, want[l - 1]); c++) {
            index.push({ logical: key(l - 1, c), child: levels[l - 1][c] });
          }
          encodeExtentNode({ depth: l, max: m, index }, buf, n.ino, this.blockSize);
        }
      }
      levels.push(blocks);
    }
    for (let l = want.length; l < old.length; l++) for (const b of old[l]) free(b);
    for (const b of pool) free(b);
    const root = new Uint8Array(INODE_DATA_SIZE);
    const depth = want.length;
    if (depth === 0) encodeExtentNode({ depth: 0, max: EXT_ROOT_MAX, extents: exts }, root, n.ino);
    else {
      const index = levels[depth - 1].map((child, i) => ({ logical: key(depth - 1, i), child }));
      encodeExtentNode({ depth, max: EXT_ROOT_MAX, index }, root, n.ino);
    }
    n.d.data = root;
    n.treeLevels = levels;
    if (changed) n.treeBlocks = levels.flat();
    this.dirty(n);
  }

  /** Physical block of file block `lblk`, or 0 for a hole. */
  bmap(n: InodeState, lblk: number): number {
    const exts = this.extents(n);
    const e = exts[firstEndingAfter(exts, lblk)];
    return e && e.logical <= lblk ? e.physical + (lblk - e.logical) : 0;
  }

  /**
   * Whether allocating file blocks `lblk .. lblk+count-1` of `n` fits in the
   * free space: the data blocks of its holes, the extent tree blocks they may
   * add, and one block kept in reserve.
   */
  #fits(n: InodeState, lblk: number, count: number): boolean {
    const exts = this.extents(n);
    const holes = segments(exts, lblk, count).filter((s) => s.physical === null);
    const need = holes.reduce((a, s) => a + s.count, 0);
    if (need === 0) return true;
    const treeNeed = this.treeBlocksFor(exts.length + 2 * holes.length) - (n.treeBlocks?.length ?? 0);
    return need + Math.max(0, treeNeed) + 1 <= this.blockMap.available;
  }

  /**
   * Blocks an internal file ending at file block `end` preallocates past it:
   * a quarter of its length, at least 4 blocks and at most 8 MiB, so that a
   * file of n blocks is in O(log n) extents while small and n / 8 MiB after
   * (see {@link Vexfs.write}).
   */
  #preallocWindow(end: number): number {
    return Math.min(Math.floor(PREALLOC_MAX_BYTES / this.blockSize), Math.max(4, end >> 2));
  }

  /**
   * Maps file blocks [lblk, lblk+count), allocating blocks for holes (with
   * extent `flags`). An internal file that grows at its end also gets
   * {@link #preallocWindow} blocks past it as an UNWRITTEN extent, when
   * space is plentiful, so its store stays in few extents.
   * @returns the file-block ranges newly allocated, the preallocation included
   * @throws FsError ENOSPC before changing anything if space does not suffice
   */
  #allocRange(
    n: InodeState,
    lblk: number,
    count: number,
    flags = 0,
  ): { lblk: number; count: number }[] {
    const exts = this.extents(n);
    const holes = segments(exts, lblk, count).filter((s) => s.physical === null);
    const need = holes.reduce((a, s) => a + s.count, 0);
    if (need === 0) return [];
    if (!this.#fits(n, lblk, count)) {
      throw new FsError(
        "ENOSPC",
        `no space left on device (${need} blocks needed, ${this.blockMap.available} free)`,
      );
    }
    const added: { lblk: number; count: number }[] = [];
    let low = Infinity;
    const goalFor = (l: number) => {
      const p = l > 0 ? this.bmap(n, l - 1) : 0;
      return p ? p + 1 : this.blockMap.rotor;
    };
    for (const h of holes) {
      let l = h.lblk;
      let left = h.count;
      while (left > 0) {
        const r = this.balloc(goalFor(l), left);
        low = Math.min(low, insertExtent(exts, { logical: l, physical: r.start, length: r.length, flags }));
        added.push({ lblk: l, count: r.length });
        n.d.blocks += r.length;
        l += r.length;
        left -= r.length;
      }
    }
    const end = lblk + count;
    // (not an xattr store: its value runs are placed in holes, FORMAT.md §7.3)
    if ((n.d.flags & (IFL_INTERNAL | IFL_XATTR_STORE)) === IFL_INTERNAL && flags === 0 && mappedEnd(exts) === end) {
      const extra = Math.min(this.#preallocWindow(end), Math.floor(this.blockMap.available / 16));
      const treeNeed = Math.max(0, this.treeBlocksFor(exts.length + 1) - (n.treeBlocks?.length ?? 0));
      if (extra > 0 && extra + treeNeed + 1 <= this.blockMap.available) {
        const r = this.balloc(goalFor(end), extra);
        low = Math.min(
          low,
          insertExtent(exts, { logical: end, physical: r.start, length: r.length, flags: EXT_UNWRITTEN }),
        );
        added.push({ lblk: end, count: r.length });
        n.d.blocks += r.length;
      }
    }
    this.#storeExtents(n, low);
    return added;
  }

  /** Frees every block of `n` at or beyond file block `fromLblk`. */
  #truncateBlocks(n: InodeState, fromLblk: number): void {
    const exts = this.extents(n);
    const low = firstEndingAfter(exts, fromLblk);
    const freed = punch(exts, fromLblk);
    for (const f of freed) {
      this.bfree(f.start, f.count);
      n.d.blocks -= f.count;
    }
    if (freed.length || !n.treeLevels) this.#storeExtents(n, low);
  }

  // ---------------------------------------------------------------- file data

  /**
   * Reads up to `length` bytes from byte `offset` of a regular file (or
   * internal file / long symlink). Holes and unwritten extents read as zeros.
   * @returns the bytes read (shorter at end of file)
   * @throws FsError EISDIR for a directory, EINVAL for a negative offset
   */
  read(ino: number, offset: number, length: number): Uint8Array {
    return this.#op("read", () => {
      const n = this.iget(ino);
      if ((n.d.mode & S_IFMT) === S_IFDIR) {
        throw new FsError("EISDIR", `inode ${ino} is a directory`);
      }
      check(
        offset >= 0 && length >= 0,
        "EINVAL",
        `invalid read range offset ${offset} length ${length}`,
      );
      if (n.d.flags & IFL_INLINE) {
        return n.d.data.slice(
          Math.min(offset, n.d.size),
          Math.min(n.d.size, offset + length),
        );
      }
      const end = Math.min(n.d.size, offset + length);
      if (end <= offset) return new Uint8Array(0);
      const out = new Uint8Array(end - offset);
      this.readInto(n, offset, out);
      return out;
    });
  }

  /**
   * Reads `out.length` bytes from byte `offset` of `n` (must be within its
   * size). An internal file's blocks are metadata (FORMAT.md §9.4): they are
   * read from the device and then from the cache where it holds changes not
   * yet written.
   */
  readInto(n: InodeState, offset: number, out: Uint8Array): void {
    const bs = this.blockSize;
    const meta = (n.d.flags & IFL_INTERNAL) !== 0;
    const first = Math.floor(offset / bs);
    const last = Math.floor((offset + out.length - 1) / bs);
    for (const s of segments(this.extents(n), first, last - first + 1)) {
      const segStart = s.lblk * bs;
      const segEnd = (s.lblk + s.count) * bs;
      const from = Math.max(segStart, offset);
      const to = Math.min(segEnd, offset + out.length);
      const dst = out.subarray(from - offset, to - offset);
      if (s.physical === null || s.unwritten) dst.fill(0);
      else {
        this.dev.read(s.physical * bs + (from - segStart), dst);
        if (meta) {
          const phys = s.physical;
          const p0 = phys + Math.floor((from - segStart) / bs);
          const p1 = phys + Math.floor((to - 1 - segStart) / bs);
          this.cache.forEachDirtyIn(p0, p1 - p0 + 1, (b, buf) => {
            const bStart = (s.lblk + (b - phys)) * bs; // file byte of block b
            const a = Math.max(bStart, from);
            const z = Math.min(bStart + bs, to);
            dst.set(buf.subarray(a - bStart, z - bStart), a - from);
          });
        }
      }
    }
  }

  /**
   * Writes `src` to the blocks of an internal file through the cache, so it
   * joins the transaction (FORMAT.md §9.4). `from` is the file byte of
   * `src[0]`; the range lies in one segment mapped from file block `lblk` to
   * device block `physical`; `fresh(l)` says file block `l` holds nothing yet.
   */
  #metaWrite(lblk: number, physical: number, from: number, src: Uint8Array, fresh: (l: number) => boolean): void {
    const bs = this.blockSize;
    let pos = from;
    const end = from + src.length;
    while (pos < end) {
      const l = Math.floor(pos / bs);
      const p = physical + (l - lblk);
      const a = pos - l * bs;
      const z = Math.min(bs, end - l * bs);
      const part = src.subarray(pos - from, pos - from + (z - a));
      if (a === 0 && z === bs) this.cache.put(p, part);
      else {
        const buf = fresh(l) ? this.cache.getNew(p) : this.cache.get(p);
        buf.set(part, a);
        this.cache.markDirty(p);
      }
      // its owner keeps what it writes in memory (the stores, slot maps, norms and collection table)
      this.cache.markCold(p);
      pos += z - a;
    }
  }

  /**
   * Writes `data` at byte `offset` of a regular or internal file, allocating
   * blocks for holes and extending the size. All or nothing: on ENOSPC
   * nothing is written.
   * @returns bytes written (= data.length)
   * @throws FsError EISDIR, EFBIG past 16 TiB, ENOSPC, EROFS
   */
  write(ino: number, offset: number, data: Uint8Array): number {
    return this.#op("write", () => {
      this.#assertWritable();
      const n = this.iget(ino);
      const type = n.d.mode & S_IFMT;
      if (type === S_IFDIR) {
        throw new FsError("EISDIR", `inode ${ino} is a directory`);
      }
      check(offset >= 0, "EINVAL", `negative offset ${offset}`);
      if (offset + data.length > MAX_FILE_SIZE) {
        throw new FsError("EFBIG", `file would exceed ${MAX_FILE_SIZE} bytes`);
      }
      if (data.length === 0) return 0;
      const bs = this.blockSize;
      const first = Math.floor(offset / bs);
      const last = Math.floor((offset + data.length - 1) / bs);
      const fresh = this.#allocRange(n, first, last - first + 1);
      const isFresh = (l: number) => fresh.some((r) => l >= r.lblk && l < r.lblk + r.count);
      let unwritten = false;
      try {
        for (const s of segments(n.exts!, first, last - first + 1)) {
          if (s.unwritten) unwritten = true;
          const segStart = s.lblk * bs;
          const from = Math.max(segStart, offset);
          const to = Math.min((s.lblk + s.count) * bs, offset + data.length);
          const src = data.subarray(from - offset, to - offset);
          // A partially written edge block that is fresh or unwritten gets the rest of
          // it zero-filled; freshness is per block, since a fresh block may have been
          // merged into the extent (and so the segment) of an old neighbour.
          if ((n.d.flags & IFL_INTERNAL) && !this.#unjournaled) {
            this.#metaWrite(s.lblk, s.physical!, from, src, (l) => s.unwritten || isFresh(l));
            continue;
          }
          const headBlock = Math.floor(from / bs);
          const tailBlock = Math.floor((to - 1) / bs);
          const a = from % bs && (s.unwritten || isFresh(headBlock)) ? headBlock * bs : from;
          const b = to % bs && (s.unwritten || isFresh(tailBlock)) ? (tailBlock + 1) * bs : to;
          if (a === from && b === to) {
            this.dev.write(s.physical! * bs + (from - segStart), src);
          } else {
            const buf = new Uint8Array(b - a);
            buf.set(src, from - a);
            this.dev.write(s.physical! * bs + (a - segStart), buf);
          }
        }
      } catch (e) {
        // I/O failed: undo the allocation (only it: punching exactly the new
        // ranges gives back the list as it was) so no block is lost
        let low = Infinity;
        for (const r of fresh) {
          low = Math.min(low, firstEndingAfter(n.exts!, r.lblk));
          for (const f of punch(n.exts!, r.lblk, r.lblk + r.count)) {
            this.bfree(f.start, f.count);
            n.d.blocks -= f.count;
          }
        }
        if (fresh.length) this.#storeExtents(n, low);
        throw e;
      }
      if (unwritten) {
        const low = markWritten(n.exts!, first, last - first + 1);
        if (low >= 0) this.#storeExtents(n, low);
      }
      if (offset + data.length > n.d.size) n.d.size = offset + data.length;
      const now = nowTimespec();
      n.d.mtime = now;
      n.d.ctime = now;
      this.dirty(n);

      return data.length;
    }, true);
  }

  /**
   * `write(2)` semantics on top of {@linkcode Vexfs.write}: when the free
   * space holds only part of `data`, writes the longest prefix that fits
   * (ending on a block boundary) and returns its length, like ext4's short
   * write on a nearly full disk; ENOSPC only when not even the first block
   * fits. Used by the mount's `write` operation; internal files keep the
   * all-or-nothing {@linkcode Vexfs.write}.
   * @returns bytes written, 1..data.length (0 for empty data)
   * @throws FsError as {@linkcode Vexfs.write}
   */
  writeSome(ino: number, offset: number, data: Uint8Array): number {
    return this.#op("writeSome", () => {
      this.#assertWritable();
      if (data.length === 0 || offset < 0 || offset + data.length > MAX_FILE_SIZE) return this.write(ino, offset, data);
      const n = this.iget(ino);
      const bs = this.blockSize;
      const first = Math.floor(offset / bs);
      const blocks = Math.floor((offset + data.length - 1) / bs) - first + 1;
      if ((n.d.mode & S_IFMT) === S_IFDIR || this.#fits(n, first, blocks)) return this.write(ino, offset, data);
      // The largest block count that fits (fitting is monotonic in the count).
      let lo = 0, hi = blocks - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (this.#fits(n, first, mid)) lo = mid;
        else hi = mid - 1;
      }
      if (lo === 0) return this.write(ino, offset, data); // throws ENOSPC, changes nothing
      return this.write(ino, offset, data.subarray(0, (first + lo) * bs - offset));
    }, true);
  }

  /**
   * Sets the size of a regular file: shrinking frees blocks past the end and
   * zeroes the tail of the last block; growing leaves a hole.
   * @throws FsError EISDIR, EINVAL for negative sizes, EFBIG
   */
  truncate(ino: number, size: number): void {
    return this.#op("truncate", () => {
      this.#assertWritable();
      const n = this.iget(ino);
      if ((n.d.mode & S_IFMT) === S_IFDIR) {
        throw new FsError("EISDIR", `inode ${ino} is a directory`);
      }
      check(
        size >= 0 && Number.isSafeInteger(size),
        "EINVAL",
        `invalid size ${size}`,
      );
      if (size > MAX_FILE_SIZE) {
        throw new FsError("EFBIG", `size ${size} exceeds ${MAX_FILE_SIZE} bytes`);
      }
      const bs = this.blockSize;
      if (size < n.d.size) {
        const eof = Math.ceil(size / bs);
        // An internal file keeps its preallocation window past the new end
        // (its blocks there become UNWRITTEN), so that a store shrinking and
        // growing by one slot at a window's edge does not free and
        // reallocate the window each time.
        const keep = size && (n.d.flags & IFL_INTERNAL) ? this.#preallocWindow(eof) : 0;
        this.#truncateBlocks(n, eof + keep);
        if (keep) {
          const low = markUnwritten(n.exts!, eof, keep);
          if (low >= 0) this.#storeExtents(n, low);
        }
        if (size % bs) {
          const s = segments(n.exts!, Math.floor(size / bs), 1)[0];
          if (s.physical !== null && !s.unwritten) {
            if (n.d.flags & IFL_INTERNAL) {
              this.cache.get(s.physical).fill(0, size % bs);
              this.cache.markDirty(s.physical);
            } else {
              this.dev.write(
                s.physical * bs + (size % bs),
                new Uint8Array(bs - (size % bs)),
              );
            }
          }
        }
      }
      n.d.size = size;
      const now = nowTimespec();
      n.d.mtime = now;
      n.d.ctime = now;
      this.dirty(n);
    });
  }

  /**
   * fallocate(2): mode 0 allocates (unwritten) blocks and may extend the
   * size, FALLOC_FL_KEEP_SIZE (1) keeps the size, FALLOC_FL_PUNCH_HOLE|KEEP_SIZE (3)
   * deallocates the range and zeroes partial blocks.
   * @throws FsError EOPNOTSUPP for other modes, ENOSPC, EINVAL
   */
  fallocate(ino: number, mode: number, offset: number, length: number): void {
    return this.#op("fallocate", () => {
      this.#assertWritable();
      const n = this.iget(ino);
      if ((n.d.mode & S_IFMT) !== S_IFREG) {
        throw new FsError("ENODEV", "fallocate works on regular files only");
      }
      check(
        offset >= 0 && length > 0,
        "EINVAL",
        `invalid range offset ${offset} length ${length}`,
      );
      if (offset + length > MAX_FILE_SIZE) {
        throw new FsError("EFBIG", `range exceeds ${MAX_FILE_SIZE} bytes`);
      }
      const bs = this.blockSize;
      if (mode === 0 || mode === 1) {
        const first = Math.floor(offset / bs);
        const last = Math.floor((offset + length - 1) / bs);
        this.#allocRange(n, first, last - first + 1, EXT_UNWRITTEN);
        if (mode === 0 && offset + length > n.d.size) n.d.size = offset + length;
      } else if (mode === 3) {
        const end = Math.min(offset + length, n.d.size);
        const fullFrom = Math.ceil(offset / bs);
        const fullTo = Math.floor(end / bs);
        const zero = (a: number, b: number) => {
          if (b <= a) return;
          const s = segments(n.exts ?? this.extents(n), Math.floor(a / bs), 1)[0];
          if (s.physical !== null && !s.unwritten) {
            this.dev.write(s.physical * bs + (a % bs), new Uint8Array(b - a));
          }
        };
        if (fullTo > fullFrom) {
          const low = firstEndingAfter(this.extents(n), fullFrom);
          for (const f of punch(this.extents(n), fullFrom, fullTo)) {
            this.bfree(f.start, f.count);
            n.d.blocks -= f.count;
          }
          this.#storeExtents(n, low);
          zero(offset, fullFrom * bs);
          zero(fullTo * bs, end);
        } else if (end > offset) { // a hole at or past the end of file changes nothing
          zero(offset, Math.min(end, Math.ceil((offset + 1) / bs) * bs));
          if (Math.floor(end / bs) !== Math.floor(offset / bs)) {
            zero(Math.floor(end / bs) * bs, end);
          }
        }
      } else {
        throw new FsError(
          "EOPNOTSUPP",
          `fallocate mode ${mode} is not supported (0, KEEP_SIZE and PUNCH_HOLE|KEEP_SIZE are)`,
        );
      }
      // as ext4 and tmpfs: every successful fallocate is a modification (mtime and ctime)
      const now = nowTimespec();
      n.d.mtime = now;
      n.d.ctime = now;
      this.dirty(n);
    }, true);
  }

  // ---------------------------------------------------------------- directories

  /** The hash-tree block store of a directory inode. */
  dirBlocks(n: InodeState): DirBlocks {
    const bs = this.blockSize;
    return {
      blockSize: bs,
      ino: n.ino,
      hashSeed: this.sb.hashSeed,
      blockCount: () => Math.floor(n.d.size / bs),
      verifiedReads: true,
      read: (l: number) => {
        const p = this.bmap(n, l);
        if (!p) {
          throw new FsError(
            "EUCLEAN",
            `directory ${n.ino}: block ${l} is not mapped`,
          );
        }
        // The checksum is verified when the block comes from disk (a block
        // with a wrong magic is left to the tree, which names what it found).
        return this.cache.get(p, (buf) => {
          const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
          const magic = dv.getUint32(0, true);
          if ((magic === DIRX_MAGIC || magic === DIRL_MAGIC) && !blockChecksumOk(buf, n.ino)) {
            throw new FsError("EUCLEAN", `directory ${n.ino} block ${l}: bad checksum`);
          }
        });
      },
      write: (l: number, data: Uint8Array) => {
        const p = this.bmap(n, l);
        if (!p) {
          throw new FsError(
            "EUCLEAN",
            `directory ${n.ino}: block ${l} is not mapped`,
          );
        }
        this.cache.put(p, data);
      },
      append: () => {
        const l = Math.floor(n.d.size / bs);
        const exts = this.extents(n);
        const goal = exts.length ? exts[exts.length - 1].physical + exts[exts.length - 1].length : 0;
        if (this.blockMap.available < 2 + this.treeBlocksFor(exts.length + 1)) {
          throw new FsError("ENOSPC", "no space left on device");
        }
        const r = this.balloc(goal, 1);
        const low = insertExtent(exts, {
          logical: l,
          physical: r.start,
          length: 1,
          flags: 0,
        });
        n.d.blocks += 1;
        n.d.size += bs;
        this.#storeExtents(n, low);
        this.cache.getNew(r.start);
        return l;
      },
    };
  }

  #dir(ino: number): InodeState {
    const n = this.iget(ino);
    if ((n.d.mode & S_IFMT) !== S_IFDIR) {
      throw new FsError("ENOTDIR", `inode ${ino} is not a directory`);
    }
    return n;
  }

  /**
   * Looks up `name` in directory `dir`.
   * @returns the inode number
   * @throws FsError ENOENT, ENOTDIR, ENAMETOOLONG
   */
  lookup(dir: number, name: Name): number {
    const ino = this.find(dir, name);
    if (ino === 0) {
      throw new FsError(
        "ENOENT",
        `no entry '${typeof name === "string" ? name : dec.decode(name)}' in directory ${dir}`,
      );
    }
    return ino;
  }

  /**
   * {@linkcode Vexfs.lookup} that answers a missing name with 0 instead of
   * throwing: the miss is a hot path (every `open(O_CREAT|O_EXCL)` and every
   * search along `$PATH` looks up a name that does not exist), and building
   * an exception costs more than the lookup.
   * @returns the inode number, or 0 (never an inode number) when `dir` has no entry `name`
   * @throws FsError ENOTDIR, ENAMETOOLONG, EUCLEAN
   */
  find(dir: number, name: Name): number {
    return this.#op("lookup", () => {
      const d = this.#dir(dir);
      if (
        name === "." ||
        (name instanceof Uint8Array && name.length === 1 && name[0] === 0x2e)
      ) return dir;
      if (
        name === ".." ||
        (name instanceof Uint8Array && name.length === 2 && name[0] === 0x2e &&
          name[1] === 0x2e)
      ) {
        return dir === ROOT_INO ? ROOT_INO : d.d.parentIno;
      }
      const e = dirLookup(this.dirBlocks(d), nameBytes(name));
      if (e && (e.ino < 1 || e.ino > this.sb.inodeCount || !this.inodeMap.test(e.ino - 1))) {
        throw new FsError(
          "EUCLEAN",
          `directory inode ${dir}: entry '${
            dec.decode(e.name)
          }' names inode ${e.ino}, which is not in use; run vexfs fsck`,
        );
      }
      return e ? e.ino : 0;
    });
  }

  /** Every entry of a directory (not `.` and `..`), in hash order. */
  *readdir(dir: number): Generator<DirEntryInfo> {
    const d = this.#dir(dir);
    for (const e of dirIterate(this.dirBlocks(d))) {
      yield {
        nameBytes: e.name,
        name: dec.decode(e.name),
        ino: e.ino,
        type: e.type,
      };
    }
  }

  /** Number of entries in a directory (without `.` and `..`). */
  dirSize(dir: number): number {
    return dirEntryCount(this.dirBlocks(this.#dir(dir)));
  }

  #touchDir(d: InodeState): void {
    const now = nowTimespec();
    d.d.mtime = now;
    d.d.ctime = now;
    this.dirty(d);
  }

  /**
   * Creates a new inode of type `mode & S_IFMT` linked as `name` in `dir`.
   * Used by create, mkdir, mknod and symlink.
   * @throws FsError EEXIST, ENOSPC, ENOTDIR, ENAMETOOLONG, EROFS
   */
  #makeNode(
    dir: number,
    name: Name,
    mode: number,
    uid: number,
    gid: number,
  ): InodeState {
    this.#assertWritable();
    const d = this.#dir(dir);
    if (d.d.nlink === 0) {
      throw new FsError("ENOENT", `directory ${dir} has been removed`);
    }
    const nb = nameBytes(name);
    const blocks = this.dirBlocks(d);
    if (dirLookup(blocks, nb)) {
      throw new FsError("EEXIST", `'${dec.decode(nb)}' already exists`);
    }
    const isDir = (mode & S_IFMT) === S_IFDIR;
    if (isDir && d.d.nlink >= 65000) {
      throw new FsError(
        "EMLINK",
        `directory ${dir} has too many subdirectories`,
      );
    }
    if (this.blockMap.available < 4) {
      throw new FsError("ENOSPC", "no space left on device");
    }
    const hash = dirHash(nb, this.sb.hashSeed);
    const n = this.ialloc(mode, uid, gid, dir, hash);
    try {
      if (isDir) {
        n.d.nlink = 2;
        const nb2 = this.dirBlocks(n);
        nb2.append();
        dirInit(nb2);
      }
      dirInsert(blocks, nb, n.ino, fileTypeOfMode(mode));
    } catch (e) {
      n.d.nlink = 0;
      this.#ifree(n);
      throw e;
    }
    if (isDir) d.d.nlink++;
    this.#touchDir(d);

    return n;
  }

  /** Creates a regular file; returns its inode number. See {@link Vexfs.mknod} for errors. */
  create(dir: number, name: Name, perm = 0o644, uid = 0, gid = 0): number {
    return this.#op("create", () => {
      return this.#makeNode(dir, name, S_IFREG | (perm & 0o7777), uid, gid).ino;
    }, true);
  }

  /** Creates a directory; returns its inode number. */
  mkdir(dir: number, name: Name, perm = 0o755, uid = 0, gid = 0): number {
    return this.#op("mkdir", () => {
      return this.#makeNode(dir, name, S_IFDIR | (perm & 0o7777), uid, gid).ino;
    }, true);
  }

  /**
   * Creates a node of any type given by `mode` (regular, fifo, socket, char or
   * block device with `rdev`).
   * @throws FsError EEXIST, ENOSPC, EINVAL for a directory or symlink mode
   */
  mknod(
    dir: number,
    name: Name,
    mode: number,
    rdev = 0,
    uid = 0,
    gid = 0,
  ): number {
    return this.#op("mknod", () => {
      const t = mode & S_IFMT;
      check(
        t !== S_IFDIR && t !== S_IFLNK,
        "EINVAL",
        "use mkdir/symlink for directories and symlinks",
      );
      const n = this.#makeNode(
        dir,
        name,
        t === 0 ? S_IFREG | (mode & 0o7777) : mode,
        uid,
        gid,
      );
      n.d.rdev = rdev;
      this.dirty(n);
      return n.ino;
    }, true);
  }

  /**
   * Creates a symlink `name` in `dir` pointing at `target` (stored inline when
   * at most 116 bytes).
   * @throws FsError ENAMETOOLONG for targets over 4095 bytes, EEXIST, ENOSPC
   */
  symlink(dir: number, name: Name, target: Name, uid = 0, gid = 0): number {
    return this.#op("symlink", () => {
      const t = typeof target === "string" ? enc.encode(target) : target;
      check(t.length > 0, "ENOENT", "empty symlink target");
      if (t.length > SYMLINK_MAX) {
        throw new FsError(
          "ENAMETOOLONG",
          `symlink target is ${t.length} bytes; at most ${SYMLINK_MAX}`,
        );
      }
      const n = this.#makeNode(dir, name, S_IFLNK | 0o777, uid, gid);
      if (t.length <= INODE_DATA_SIZE) {
        const data = new Uint8Array(INODE_DATA_SIZE);
        data.set(t);
        n.d.data = data;
        n.d.flags |= IFL_INLINE;
        n.exts = [];
        n.treeBlocks = [];
        n.d.size = t.length;
        this.dirty(n);
      } else {
        try {
          this.write(n.ino, 0, t);
        } catch (e) {
          this.unlink(dir, name);
          throw e;
        }
      }
      return n.ino;
    }, true);
  }

  /** The target of a symlink. @throws FsError EINVAL if `ino` is not a symlink */
  readlink(ino: number): Uint8Array {
    return this.#op("readlink", () => {
      const n = this.iget(ino);
      if ((n.d.mode & S_IFMT) !== S_IFLNK) {
        throw new FsError("EINVAL", `inode ${ino} is not a symlink`);
      }
      if (n.d.flags & IFL_INLINE) return n.d.data.slice(0, n.d.size);
      const out = new Uint8Array(n.d.size);
      this.readInto(n, 0, out);
      return out;
    });
  }

  /**
   * Adds a hard link `name` in `dir` to inode `ino`.
   * @throws FsError EPERM for directories, EMLINK, EEXIST
   */
  link(ino: number, dir: number, name: Name): void {
    return this.#op("link", () => {
      this.#assertWritable();
      const n = this.iget(ino);
      const d = this.#dir(dir);
      const nb = nameBytes(name);
      const blocks = this.dirBlocks(d);
      // same order of checks as Linux: EEXIST (filename_create) before EPERM (vfs_link)
      if (dirLookup(blocks, nb)) {
        throw new FsError("EEXIST", `'${dec.decode(nb)}' already exists`);
      }
      if ((n.d.mode & S_IFMT) === S_IFDIR) {
        throw new FsError("EPERM", "hard links to directories are not allowed");
      }
      if (n.d.nlink === 0) {
        throw new FsError("ENOENT", `inode ${ino} has been removed`);
      }
      if (n.d.nlink >= 65000) {
        throw new FsError("EMLINK", `inode ${ino} has too many links`);
      }
      dirInsert(blocks, nb, ino, fileTypeOfMode(n.d.mode));
      n.d.nlink++;
      this.namespaceVersion++;
      if (!n.d.parentIno) {
        n.d.parentIno = dir;
        n.d.parentHash = dirHash(nb, this.sb.hashSeed);
      }
      n.d.ctime = nowTimespec();
      this.dirty(n);
      this.#touchDir(d);
    }, true);
  }

  /** Drops one link of `n` (already removed from its directory). */
  #dropLink(n: InodeState, dir: number, hash: number): void {
    this.namespaceVersion++;
    n.d.nlink--;
    n.d.ctime = nowTimespec();
    if (n.d.parentIno === dir && n.d.parentHash === hash) n.d.parentIno = 0;
    if (n.d.nlink === 0 || ((n.d.mode & S_IFMT) === S_IFDIR)) {
      n.d.nlink = 0;
      if ((this.#open.get(n.ino) ?? 0) > 0) this.#addOrphan(n);
      else this.#ifree(n);
      return;
    }
    this.dirty(n);
  }

  /**
   * The existing entry `name` of directory `dir` with its inode.
   * @throws FsError ENOENT, ENOTDIR, ENAMETOOLONG
   */
  #entry(dir: number, name: Name) {
    const d = this.#dir(dir);
    const nb = nameBytes(name);
    const blocks = this.dirBlocks(d);
    const e = dirLookup(blocks, nb);
    if (!e) throw new FsError("ENOENT", `no entry '${dec.decode(nb)}'`);
    return { d, nb, blocks, e, n: this.iget(e.ino) };
  }

  /**
   * Removes the entry `name` (not a directory) from `dir`; the inode is freed
   * when its last link goes and nobody has it open.
   * @throws FsError ENOENT, EISDIR, ENOTDIR
   */
  unlink(dir: number, name: Name): void {
    return this.#op("unlink", () => {
      this.#assertWritable();
      const { d, nb, blocks, e, n } = this.#entry(dir, name);
      if ((n.d.mode & S_IFMT) === S_IFDIR) {
        throw new FsError(
          "EISDIR",
          `'${dec.decode(nb)}' is a directory (use rmdir)`,
        );
      }
      dirRemove(blocks, nb);
      this.#touchDir(d);
      this.#dropLink(n, dir, e.hash);
    });
  }

  /**
   * Removes the empty directory `name` from `dir`.
   * @throws FsError ENOENT, ENOTDIR, ENOTEMPTY, EBUSY for the root
   */
  rmdir(dir: number, name: Name): void {
    return this.#op("rmdir", () => {
      this.#assertWritable();
      const { d, nb, blocks, e, n } = this.#entry(dir, name);
      if ((n.d.mode & S_IFMT) !== S_IFDIR) {
        throw new FsError("ENOTDIR", `'${dec.decode(nb)}' is not a directory`);
      }
      if (dirEntryCount(this.dirBlocks(n)) > 0) {
        throw new FsError(
          "ENOTEMPTY",
          `directory '${dec.decode(nb)}' is not empty`,
        );
      }
      dirRemove(blocks, nb);
      d.d.nlink--;
      this.#touchDir(d);
      this.#dropLink(n, dir, e.hash);
    });
  }

  /** True when directory `a` is `b` or an ancestor of `b`. */
  isAncestor(a: number, b: number): boolean {
    let cur = b;
    for (let i = 0; i < 4096; i++) {
      if (cur === a) return true;
      if (cur === ROOT_INO) return false;
      const p = this.iget(cur).d.parentIno;
      if (!p || p === cur) return false;
      cur = p;
    }
    throw new FsError(
      "ELOOP",
      "directory parent chain is too long (corrupted?)",
    );
  }

  /**
   * rename(2)/renameat2(2). `flags`: 1 RENAME_NOREPLACE, 2 RENAME_EXCHANGE.
   * Vectors follow the rules of FORMAT.md §8.4 when a file leaves its collection.
   * @throws FsError ENOENT, EEXIST (NOREPLACE), EISDIR, ENOTDIR, ENOTEMPTY,
   *   EINVAL (directory into itself, bad flags), EBUSY (root)
   */
  rename(
    oldDir: number,
    oldName: Name,
    newDir: number,
    newName: Name,
    flags = 0,
  ): void {
    return this.#op("rename", () => {
      this.#assertWritable();
      check(
        (flags & ~3) === 0 && flags !== 3,
        "EINVAL",
        `invalid rename flags ${flags}`,
      );
      const od = this.#dir(oldDir);
      const nd = this.#dir(newDir);
      const onb = nameBytes(oldName);
      const nnb = nameBytes(newName);
      const ob = this.dirBlocks(od);
      const nbk = this.dirBlocks(nd);
      const src = dirLookup(ob, onb);
      if (!src) throw new FsError("ENOENT", `no entry '${dec.decode(onb)}'`);
      const dst = dirLookup(nbk, nnb);
      const sn = this.iget(src.ino);
      const srcIsDir = (sn.d.mode & S_IFMT) === S_IFDIR;
      if (flags === 2) {
        if (!dst) {
          throw new FsError(
            "ENOENT",
            `no entry '${dec.decode(nnb)}' to exchange with`,
          );
        }
        const dn = this.iget(dst.ino);
        const dstIsDir = (dn.d.mode & S_IFMT) === S_IFDIR;
        if (srcIsDir && oldDir !== newDir && this.isAncestor(src.ino, newDir)) {
          throw new FsError("EINVAL", "cannot move a directory into itself");
        }
        if (dstIsDir && oldDir !== newDir && this.isAncestor(dst.ino, oldDir)) {
          throw new FsError("EINVAL", "cannot move a directory into itself");
        }
        if (src.ino === dst.ino) return;
        this.collections.checkMove(sn, newDir);
        this.collections.checkMove(dn, oldDir);
        dirReplace(ob, onb, dst.ino, dst.type);
        dirReplace(nbk, nnb, src.ino, src.type);
        this.#reparent(
          sn,
          oldDir,
          src.hash,
          newDir,
          dirHash(nnb, this.sb.hashSeed),
        );
        this.#reparent(
          dn,
          newDir,
          dst.hash,
          oldDir,
          dirHash(onb, this.sb.hashSeed),
        );
        if (srcIsDir !== dstIsDir && oldDir !== newDir) {
          if (srcIsDir) {
            od.d.nlink--;
            nd.d.nlink++;
          } else {
            od.d.nlink++;
            nd.d.nlink--;
          }
        }
        this.collections.afterMove(sn, oldDir, newDir);
        this.collections.afterMove(dn, newDir, oldDir);
        this.#touchDir(od);
        this.#touchDir(nd);
        return;
      }
      if (dst && flags === 1) {
        throw new FsError("EEXIST", `'${dec.decode(nnb)}' already exists`);
      }
      if (dst && dst.ino === src.ino) return; // same inode: POSIX says do nothing
      if (srcIsDir && this.isAncestor(src.ino, newDir)) {
        throw new FsError(
          "EINVAL",
          "cannot move a directory into itself or its subdirectory",
        );
      }
      let dn: InodeState | undefined;
      if (dst) {
        dn = this.iget(dst.ino);
        const dstIsDir = (dn.d.mode & S_IFMT) === S_IFDIR;
        if (srcIsDir && !dstIsDir) {
          throw new FsError("ENOTDIR", `'${dec.decode(nnb)}' is not a directory`);
        }
        if (!srcIsDir && dstIsDir) {
          throw new FsError("EISDIR", `'${dec.decode(nnb)}' is a directory`);
        }
        if (dstIsDir && dirEntryCount(this.dirBlocks(dn)) > 0) {
          throw new FsError(
            "ENOTEMPTY",
            `directory '${dec.decode(nnb)}' is not empty`,
          );
        }
      } else if (srcIsDir && oldDir !== newDir && nd.d.nlink >= 65000) {
        throw new FsError(
          "EMLINK",
          "target directory has too many subdirectories",
        );
      }
      this.collections.checkMove(sn, newDir);
      const newHash = dirHash(nnb, this.sb.hashSeed);
      if (dst) {
        dirReplace(nbk, nnb, src.ino, src.type);
      } else {
        dirInsert(nbk, nnb, src.ino, src.type);
      }
      dirRemove(ob, onb);
      this.#reparent(sn, oldDir, src.hash, newDir, newHash);
      if (srcIsDir && oldDir !== newDir) {
        od.d.nlink--;
        nd.d.nlink++;
      }
      if (dn) {
        if ((dn.d.mode & S_IFMT) === S_IFDIR) nd.d.nlink--;
        this.#dropLink(dn, newDir, dst!.hash);
      }
      this.collections.afterMove(sn, oldDir, newDir);
      this.#touchDir(od);
      this.#touchDir(nd);
    }, true);
  }

  #reparent(
    n: InodeState,
    oldDir: number,
    oldHash: number,
    newDir: number,
    newHash: number,
  ): void {
    const isDir = (n.d.mode & S_IFMT) === S_IFDIR;
    this.namespaceVersion++;
    if (
      isDir || n.d.nlink === 1 ||
      (n.d.parentIno === oldDir && n.d.parentHash === oldHash) || !n.d.parentIno
    ) {
      n.d.parentIno = newDir;
      n.d.parentHash = newHash;
    }
    n.d.ctime = nowTimespec();
    this.dirty(n);
  }

  // ---------------------------------------------------------------- attributes

  /** stat(2) of inode `ino`. @throws FsError ENOENT */
  getattr(ino: number): Stat {
    return this.#op("getattr", () => {
      const n = this.iget(ino);
      const d = n.d;
      return {
        ino,
        mode: d.mode,
        nlink: d.nlink,
        uid: d.uid,
        gid: d.gid,
        rdev: d.rdev,
        size: d.size,
        blocks: d.blocks * (this.blockSize / 512),
        blksize: this.blockSize,
        atime: { ...d.atime },
        mtime: { ...d.mtime },
        ctime: { ...d.ctime },
        crtime: { ...d.crtime },
        generation: d.generation,
        flags: d.flags,
      };
    });
  }

  /**
   * Changes mode, owner, size or times (chmod, chown, truncate, utimens).
   * ctime is updated as POSIX requires. Permission checks are the caller's.
   * @returns the new attributes
   */
  setattr(ino: number, a: SetAttr): Stat {
    return this.#op("setattr", () => {
      this.#assertWritable();
      const n = this.iget(ino);
      const now = nowTimespec();
      if (a.size !== undefined) this.truncate(ino, a.size);
      if (a.mode !== undefined) {
        n.d.mode = (n.d.mode & S_IFMT) | (a.mode & 0o7777);
      }
      if (a.uid !== undefined && a.uid !== -1) n.d.uid = a.uid >>> 0;
      if (a.gid !== undefined && a.gid !== -1) n.d.gid = a.gid >>> 0;
      if (a.atime !== undefined) {
        n.d.atime = a.atime === "now" ? now : checkTime(a.atime);
      }
      if (a.mtime !== undefined) {
        n.d.mtime = a.mtime === "now" ? now : checkTime(a.mtime);
      }
      n.d.ctime = now;
      this.dirty(n);
      return this.getattr(ino);
    });
  }

  /** Records an access (relatime rule: only if atime <= mtime/ctime or older than a day). */
  touchAtime(ino: number): void {
    return this.#op("touchAtime", () => {
      if (this.isReadOnly) return;
      const n = this.iget(ino);
      const now = nowTimespec();
      const le = (a: Timespec, b: Timespec) => a.sec < b.sec || (a.sec === b.sec && a.nsec <= b.nsec);
      if (
        le(n.d.atime, n.d.mtime) || le(n.d.atime, n.d.ctime) ||
        now.sec - n.d.atime.sec > 86400
      ) {
        n.d.atime = now;
        this.dirty(n);
      }
    });
  }

  // ---------------------------------------------------------------- xattrs

  /** All extended attributes of an inode, by full name ("user.foo"). */
  listxattr(ino: number): Map<string, Uint8Array> {
    return this.#op("listxattr", () => this.xattrs.list(this.iget(ino)));
  }

  /** The full names of an inode's extended attributes (values stored apart are not read). */
  xattrNames(ino: number): string[] {
    return this.#op("listxattr", () => this.xattrs.names(this.iget(ino)));
  }

  /** One attribute's value. @throws FsError ENODATA if absent */
  getxattr(ino: number, name: string): Uint8Array {
    const v = this.findxattr(ino, name);
    if (!v) throw new FsError("ENODATA", `no attribute '${name}'`);
    return v;
  }

  /** One attribute's value, or undefined when absent (no exception: the mount's hot path). */
  findxattr(ino: number, name: string): Uint8Array | undefined {
    return this.#op("getxattr", () => this.xattrs.get(this.iget(ino), name));
  }

  /**
   * Sets an attribute. `flags`: 1 XATTR_CREATE (fail if it exists), 2 XATTR_REPLACE (fail if not).
   * Limits and the storage used are {@link Xattrs.set}'s (FORMAT.md §7).
   * @throws FsError EEXIST, ENODATA, ERANGE, E2BIG, ENOSPC, EOPNOTSUPP for unknown namespaces
   */
  setxattr(ino: number, name: string, value: Uint8Array, flags = 0): void {
    return this.#op("setxattr", () => {
      this.#assertWritable();
      this.xattrs.set(this.iget(ino), name, value, flags);
    }, true);
  }

  /** Removes an attribute. @throws FsError ENODATA if absent */
  removexattr(ino: number, name: string): void {
    return this.#op("removexattr", () => {
      this.#assertWritable();
      this.xattrs.remove(this.iget(ino), name);
    });
  }

  // ---------------------------------------------------------------- open files and orphans

  /** Notes that `ino` is open (an unlinked open file stays readable until {@link release}). */
  openInode(ino: number): void {
    this.iget(ino);
    this.#open.set(ino, (this.#open.get(ino) ?? 0) + 1);
  }

  /** Closes one open reference; frees the inode if it was the last and it has no links. */
  release(ino: number): void {
    return this.#op("release", () => {
      const c = (this.#open.get(ino) ?? 0) - 1;
      if (c > 0) {
        this.#open.set(ino, c);
        return;
      }
      this.#open.delete(ino);
      const n = this.#inodes.get(ino);
      if (n && n.d.nlink === 0 && !this.readOnly) {
        this.#removeOrphan(n);
        this.#ifree(n);
      }
    });
  }

  /** Open count of an inode. */
  openCount(ino: number): number {
    return this.#open.get(ino) ?? 0;
  }

  #addOrphan(n: InodeState): void {
    n.d.flags |= IFL_ORPHAN;
    n.d.orphanNext = this.sb.orphanHead;
    this.sb.orphanHead = n.ino;
    this.dirty(n);
  }

  #removeOrphan(n: InodeState): void {
    if (!(n.d.flags & IFL_ORPHAN)) return;
    if (this.sb.orphanHead === n.ino) this.sb.orphanHead = n.d.orphanNext;
    else {
      let cur = this.sb.orphanHead;
      for (let guard = 0; cur && guard < this.sb.inodeCount; guard++) {
        const c = this.iget(cur);
        if (c.d.orphanNext === n.ino) {
          c.d.orphanNext = n.d.orphanNext;
          this.dirty(c);
          break;
        }
        cur = c.d.orphanNext;
      }
    }
    n.d.flags &= ~IFL_ORPHAN;
    n.d.orphanNext = 0;
  }

  #recoverOrphans(): void {
    let cur = this.sb.orphanHead;
    const seen = new Set<number>();
    while (cur && !seen.has(cur)) {
      seen.add(cur);
      let n: InodeState;
      try {
        n = this.iget(cur);
      } catch {
        break; // fsck reports a broken list
      }
      const next = n.d.orphanNext;
      n.d.flags &= ~IFL_ORPHAN;
      n.d.orphanNext = 0;
      if (n.d.nlink === 0) {
        this.#ifree(n);
        this.recoveredOrphans.push(cur);
      } else this.dirty(n);
      cur = next;
    }
    this.sb.orphanHead = 0;
  }

  // ---------------------------------------------------------------- paths

  /**
   * Resolves an absolute path inside the filesystem ("/docs/a.md") to an inode.
   * Symlinks in the middle are followed; the last component's is followed
   * only if `follow`.
   * @throws FsError ENOENT, ENOTDIR, ELOOP
   */
  resolve(path: string, follow = true, hops = 0): number {
    let ino = ROOT_INO;
    const parts = path.split("/").filter((p) => p.length > 0 && p !== ".");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      const cur = ino;
      ino = this.lookup(cur, p);
      const n = this.iget(ino);
      if ((n.d.mode & S_IFMT) === S_IFLNK && (follow || i < parts.length - 1)) {
        if (++hops > 40) {
          throw new FsError("ELOOP", `too many symlinks in '${path}'`);
        }
        const target = dec.decode(this.readlink(ino));
        const rest = parts.slice(i + 1).join("/");
        const base = target.startsWith("/") ? target : `${this.pathOf(cur)}/${target}`;
        return this.resolve(`${base}/${rest}`, follow, hops);
      }
    }
    return ino;
  }

  /** Splits a path into its parent directory inode and last component. */
  resolveParent(path: string): { dir: number; name: string } {
    const parts = path.split("/").filter((p) => p.length > 0);
    if (parts.length === 0) {
      throw new FsError("EINVAL", "the root has no parent");
    }
    const name = parts.pop()!;
    return { dir: this.resolve("/" + parts.join("/")), name };
  }

  /**
   * The absolute path of an inode, found by walking parent pointers (FORMAT.md §5.3),
   * or by a tree search for a hard-linked file whose pointer was cleared.
   * @throws FsError ENOENT if the inode is not reachable
   */
  pathOf(ino: number): string {
    return this.#op("pathOf", () => {
      const names: string[] = [];
      let cur = ino;
      for (let guard = 0; cur !== ROOT_INO; guard++) {
        if (guard > 4096) {
          throw new FsError(
            "ELOOP",
            `parent chain of inode ${ino} does not reach the root`,
          );
        }
        const n = this.iget(cur);
        if (!n.d.parentIno) return this.#searchPath(ino);
        const p = this.#dir(n.d.parentIno);
        const e = dirFindByIno(this.dirBlocks(p), n.d.parentHash, cur);
        if (!e) return this.#searchPath(ino);
        names.push(dec.decode(e.name));
        cur = n.d.parentIno;
      }
      return "/" + names.reverse().join("/");
    });
  }

  #searchPath(ino: number): string {
    const queue: [number, string][] = [[ROOT_INO, ""]];
    while (queue.length) {
      const [d, p] = queue.shift()!;
      for (const e of this.readdir(d)) {
        const path = `${p}/${e.name}`;
        if (e.ino === ino) return path;
        if (e.type === 2) queue.push([e.ino, path]);
      }
    }
    throw new FsError("ENOENT", `inode ${ino} is not linked anywhere`);
  }

  // ---------------------------------------------------------------- filesystem

  /** statfs(2) numbers. */
  statfs(): StatFs {
    return {
      bsize: this.blockSize,
      blocks: this.sb.blockCount,
      bfree: this.blockMap.free,
      // Every allocation keeps one block in reserve (see #fits), so one free block is never available to data.
      bavail: Math.max(0, this.blockMap.free - 1),
      files: this.sb.inodeCount,
      ffree: this.inodeMap.free,
      namelen: NAME_MAX,
    };
  }

  /**
   * Blocks the running transaction would journal now (an upper bound): dirty
   * cache blocks, the inode-table blocks holding dirty inodes, dirty bitmap
   * blocks, the superblock.
   */
  #txnEstimate(): number {
    return this.cache.dirtyCount + this.#dirtyTableBlocks.size + this.blockMap.dirtyCount + this.inodeMap.dirtyCount +
      1;
  }

  /** At the end of an outermost operation: commit when the transaction or the cache has grown large. */
  #maybeCommit(): void {
    if (this.readOnly || this.#closed || this.#errorRo) return;
    const j = this.journal;
    if (j) {
      if (j.aborted) return;
      const est = this.#txnEstimate();
      if (j.cost(est, this.#revokes.length) >= j.softLimit || this.cache.dirtyCount > this.cache.capacity / 2) {
        this.#commit();
        // A long offline import commits only here: its graphs are written when due, not only at close.
        this.#checkpointGraphs(false);
      }
    } else if (this.cache.dirtyCount > this.cache.capacity / 2) this.#commit();
    if (this.#inodes.size > 50000) {
      this.#commit();
      for (const [ino, n] of this.#inodes) {
        if (!n.dirty && !this.#open.has(ino) && ino > COLL_TABLE_INO) {
          this.#inodes.delete(ino);
        }
      }
    }
  }

  /** Encodes dirty inodes and bitmap blocks into the cache. */
  #stageMeta(): void {
    for (const n of [...this.#dirtyInodes]) this.#writeInode(n);
    const bs = this.blockSize;
    for (const b of this.blockMap.takeDirty()) {
      this.cache.put(
        this.sb.blockBitmapStart + b,
        this.blockMap.bytes.subarray(b * bs, (b + 1) * bs),
      );
    }
    for (const b of this.inodeMap.takeDirty()) {
      this.cache.put(
        this.sb.inodeBitmapStart + b,
        this.inodeMap.bytes.subarray(b * bs, (b + 1) * bs),
      );
    }
  }

  /**
   * Makes every metadata change so far durable. With a journal: one
   * transaction (FORMAT.md §9.4) holding the changed blocks and the
   * superblock's block, or nothing when nothing changed. Without: writes the
   * changed blocks in place (the superblock is the caller's).
   */
  #commit(): void {
    if (this.readOnly || this.#closed || this.#errorRo) return;
    this.#stageMeta();
    const j = this.journal;
    if (!j) {
      this.cache.flush();
      return;
    }
    if (j.aborted) return;
    const sbImage = this.#superblockImage(false);
    const sbChanged = !this.#sbCommitted || !sameBytes(sbImage, this.#sbCommitted);
    if (this.cache.dirtyCount === 0 && this.#revokes.length === 0 && !sbChanged) return;
    this.#stageSuperblock();
    const blocks = this.cache.takeDirty();
    const revokes = this.#revokes;
    this.#revokes = [];
    if (j.cost(blocks.size, revokes.length) <= j.hardLimit) j.commit(blocks, revokes);
    else this.#commitSplit(j, blocks, revokes);
    this.#sbCommitted = sbImage;
    this.blockMap.releaseHeld();
  }

  /**
   * The last resort for an operation too large for the whole log: commit it
   * as several transactions. Each is atomic, the whole is not; a warning says
   * so. Operations that can grow this large split themselves into consistent
   * steps first (FORMAT.md §9.4), so this is not expected to run.
   */
  #commitSplit(j: Journal, blocks: Map<number, Uint8Array>, revokes: number[]): void {
    const sorted = [...blocks.keys()].sort((a, b) => a - b);
    const sbBlock = this.#sbBlock();
    const order = sorted.filter((b) => b !== sbBlock);
    if (blocks.has(sbBlock)) order.push(sbBlock);
    let per = j.hardLimit - 1 - Math.ceil(revokes.length / 4);
    while (per > 1 && j.cost(per, revokes.length) > j.hardLimit) per--;
    this.onWarning(
      `an operation changed ${blocks.size} metadata blocks, more than the ${j.maxlen}-block journal holds; ` +
        `it was committed in ${Math.ceil(order.length / per)} parts, so a crash in between could leave it half done ` +
        `(vexfs fsck repairs that); make the journal larger (mkfs --journal-size)`,
    );
    for (let i = 0; i < order.length; i += per) {
      const part = new Map(order.slice(i, i + per).map((b) => [b, blocks.get(b)!]));
      j.commit(part, i === 0 ? revokes : []);
    }
  }

  /** The block that holds the primary superblock (FORMAT.md §2). */
  #sbBlock(): number {
    return Math.floor(SB_OFFSET / this.blockSize);
  }

  /** The superblock's 1024 bytes with the counts of now; `stamp` also sets write_time. */
  #superblockImage(stamp: boolean): Uint8Array {
    this.sb.freeBlocks = this.blockMap.free;
    this.sb.freeInodes = this.inodeMap.free;
    if (stamp) this.sb.writeTime = Math.floor(Date.now() / 1000);
    return encodeSuperblock(this.sb);
  }

  /** Puts the superblock into its block in the cache, for the journal. */
  #stageSuperblock(): void {
    const b = this.#sbBlock();
    const buf = this.cache.get(b);
    buf.set(this.#superblockImage(true), SB_OFFSET - b * this.blockSize);
    this.cache.markDirty(b);
  }

  /** Writes the superblock in place (and the backup): at open and close, when the log is empty. */
  #writeSuperblock(backup: boolean): void {
    const raw = this.#superblockImage(true);
    this.dev.write(SB_OFFSET, raw);
    if (backup) this.dev.write((this.sb.blockCount - 1) * this.blockSize, raw);
    const b = this.#sbBlock();
    this.cache.forget(b); // the cached copy of its block is stale now
  }

  /**
   * Makes everything so far durable: with a journal, commits the running
   * transaction (or, when no metadata changed, flushes the device so file
   * data is durable); without, writes all metadata and the superblock (still
   * marked in use) and flushes.
   * @throws FsError EIO from the device, EROFS once the journal was aborted
   */
  sync(): void {
    if (this.readOnly || this.#closed || this.#errorRo) return;
    if (this.journal) {
      if (this.journal.aborted) throw new FsError("EROFS", "the filesystem went read-only after an error");
      const before = this.journal.stats.commits;
      this.#commit();
      if (this.journal.stats.commits === before) this.dev.sync();
    } else {
      this.#commit();
      this.#writeSuperblock(true);
      this.dev.sync();
    }
    this.#checkpointGraphs(false);
  }

  /**
   * After a commit: the collections write their changed HNSW graphs
   * (FORMAT.md §8.6 "Writing"). Unless `force`d (at close), a checkpoint
   * waits until {@link GRAPH_CHECKPOINT_RATIO} times the last one's duration
   * has passed since it ended, so that writing a large graph again and again
   * costs a bulk import at most about a tenth of its time; what a crash
   * leaves to catch up is the vectors set since.
   */
  #checkpointGraphs(force: boolean): void {
    if (this.#checkpointing) return;
    const now = performance.now();
    if (!force && now < this.#graphsDue) return;
    this.#checkpointing = true;
    try {
      this.collections.checkpoint(force);
    } finally {
      this.#checkpointing = false;
      const end = performance.now();
      this.#graphsDue = end + GRAPH_CHECKPOINT_RATIO * (end - now);
    }
  }

  /** performance.now() before which a checkpoint of the graphs is not due (see {@link #checkpointGraphs}) */
  #graphsDue = 0;

  /**
   * Counts changes of the namespace that can move a file in or out of a
   * directory's subtree (links made or dropped, renames), so that what is
   * derived from ancestry (a search's subtree, src/fs/vectors.ts) can be
   * cached until it changes. In memory only.
   */
  namespaceVersion = 0;

  /** set while {@link writeUnjournaled} writes: internal-file data goes to the device, not the journal */
  #unjournaled = false;
  /** set while the collections write their graphs after a commit (see {@link sync}) */
  #checkpointing = false;

  /**
   * Writes bytes of an internal file outside the journal: the HNSW graph of
   * FORMAT.md §8.6, derived data a crash can leave behind but never wrong.
   * Its blocks are allocated in the running transaction (journaled metadata)
   * and written straight to the device, as file data is in ordered mode.
   * @returns bytes written
   * @throws FsError as {@link write}
   */
  writeUnjournaled(ino: number, offset: number, data: Uint8Array): number {
    this.#unjournaled = true;
    try {
      return this.write(ino, offset, data);
    } finally {
      this.#unjournaled = false;
    }
  }

  /**
   * fsync(2)/fdatasync(2) of inode `ino`: when it returns, the file's data,
   * its metadata and every change made before the call are durable (the
   * whole running transaction commits, as on ext4).
   * @param dataOnly fdatasync: the same here (a commit is needed either way for a new block map)
   * @throws FsError ENOENT for a freed inode, EIO from the device
   */
  fsync(ino: number, dataOnly = false): void {
    void dataOnly;
    if (ino) this.iget(ino);
    this.sync();
  }

  /**
   * Syncs, marks the superblock clean (unless errors were recorded) and closes
   * the device. Open files are forgotten; unlinked ones are freed. With a
   * journal: the last transaction commits, the log is checkpointed and
   * emptied, and RECOVER is cleared (FORMAT.md §9.5).
   */
  close(): void {
    if (this.#closed) return;
    try {
      if (!this.readOnly && !this.#errorRo) {
        for (const ino of [...this.#open.keys()]) {
          this.#open.set(ino, 1);
          this.release(ino);
        }
        this.sync(); // everything committed
        this.#checkpointGraphs(true); // and the HNSW graphs written after it
        const j = this.journal;
        if (j && !j.aborted) {
          // The last transaction carries the superblock without RECOVER; the
          // checkpoint makes its home write durable before the log is emptied.
          this.sb.featureIncompat &= ~INCOMPAT_RECOVER;
          this.#commit();
          j.checkpointAll();
          this.dev.write((this.sb.blockCount - 1) * this.blockSize, this.#superblockImage(false));
          this.dev.sync();
        } else if (!j) {
          this.#commit();
          if (this.sb.state === STATE_DIRTY) this.sb.state = STATE_CLEAN;
          this.#writeSuperblock(true);
          this.dev.sync();
        }
      }
    } finally {
      this.#closed = true;
      try {
        this.collections.unloadAll(); // the stores and graphs held in wasm memory
      } finally {
        this.dev.close();
      }
    }
  }

  /** Whether {@link close} has run. */
  get closed(): boolean {
    return this.#closed;
  }

  #assertWritable(): void {
    if (this.readOnly) {
      throw new FsError("EROFS", "the filesystem is open read-only");
    }
    if (this.#errorRo) {
      throw new FsError("EROFS", "the filesystem went read-only after an error (errors=remount-ro); run vexfs fsck");
    }
    if (this.#closed) throw new FsError("EBADF", "the filesystem is closed");
  }
}

/**
 * Reads and validates the primary superblock of `dev`.
 * @throws FsError EUCLEAN naming what is wrong
 */
function readSuperblock(dev: BlockDevice): Superblock {
  if (dev.size < SB_OFFSET + SB_SIZE) {
    throw new FsError(
      "EUCLEAN",
      `${dev.path} is only ${dev.size} bytes: too small to hold a VexFS superblock`,
    );
  }
  const raw = new Uint8Array(SB_SIZE);
  dev.read(SB_OFFSET, raw);
  const problems = superblockProblems(raw, dev.size);
  if (problems.length) {
    throw new FsError(
      "EUCLEAN",
      `${dev.path} does not hold a usable VexFS filesystem: ${problems.join("; ")}`,
    );
  }
  return decodeSuperblock(raw);
}

/**
 * The backup superblock (FORMAT.md §2: offset 0 of the last block), found
 * without the primary by trying every block size; null when none is valid.
 */
export function findBackupSuperblock(dev: BlockDevice): Superblock | null {
  for (let bs = 1024; bs <= 65536; bs *= 2) {
    const count = Math.floor(dev.size / bs);
    if (count < 64) break;
    const raw = new Uint8Array(SB_SIZE);
    try {
      dev.read((count - 1) * bs, raw);
    } catch {
      continue;
    }
    if (superblockProblems(raw, dev.size).length) continue;
    const sb = decodeSuperblock(raw);
    if (blockSizeOf(sb) === bs && sb.blockCount === count) return sb;
  }
  return null;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function checkTime(t: Timespec): Timespec {
  const sec = t.exactSec ?? (Number.isSafeInteger(t.sec) ? BigInt(t.sec) : undefined);
  check(
    sec !== undefined && sec >= S64_MIN && sec <= S64_MAX && Number.isInteger(t.nsec) && t.nsec >= 0 && t.nsec < 1e9,
    "EINVAL",
    `invalid timestamp ${t.exactSec ?? t.sec}.${t.nsec} (seconds must fit the format's s64)`,
  );
  return timespecOf(sec!, t.nsec);
}

const S64_MAX = (1n << 63n) - 1n;
const S64_MIN = -(1n << 63n);

/** True when a mode is a directory. */
export function isDirMode(mode: number): boolean {
  return (mode & S_IFMT) === S_IFDIR;
}

/** True when a mode is a regular file. */
export function isRegMode(mode: number): boolean {
  return (mode & S_IFMT) === S_IFREG;
}
