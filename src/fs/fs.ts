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
 * {@link Vexfs} is a facade: the operations live in modules of functions
 * taking the engine (dir.ts, file.ts, attr.ts, extents_ops.ts, paths.ts,
 * orphan.ts, ...); the shapes of its API are in ./types.ts, the superblock
 * writes in ./sb_write.ts, the error record in ./error_record.ts and the
 * journal's split commit in ./commit_split.ts.
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
import { check, FsError } from "../errors.ts";
import {
  COLL_TABLE_INO,
  FIRST_INO,
  IFL_COLL_ROOT,
  IFL_HAS_VECTOR,
  IFL_INLINE,
  INCOMPAT_JOURNAL,
  INCOMPAT_RECOVER,
  INODE_SIZE,
  NAME_MAX,
  S_IFDIR,
  S_IFMT,
  S_IFREG,
  SB_OFFSET,
  STATE_CLEAN,
  STATE_DIRTY,
  STATE_ERROR,
} from "../format/constants.ts";
import type { Extent } from "../format/extent.ts";
import { decodeInode, encodeInode, type Inode } from "../format/inode.ts";
import { blockSizeOf, decodeSuperblock, encodeSuperblock, isDataRun, type Superblock } from "../format/superblock.ts";
import { Bitmap } from "./bitmap.ts";
import { type BlockIO, BufferCache } from "./cache.ts";
import type { DirBlocks } from "./htree.ts";
import {
  dirBlocks,
  dirSize,
  findName,
  isAncestor,
  linkIn,
  lookupName,
  makeNode,
  mknodIn,
  readDir,
  readSymlink,
  renameIn,
  rmdirIn,
  symlinkIn,
  unlinkIn,
} from "./dir.ts";
import { bmap, loadExtents, storeExtents, treeBlocksFor, truncateBlocks } from "./extents_ops.ts";
import { fallocate, readFile, readInto, truncateFile, writeFile, writeSome } from "./file.ts";
import { getattr, setattr, touchAtime } from "./attr.ts";
import { recoverOrphans, removeOrphan } from "./orphan.ts";
import { pathOf, resolveParent, resolvePath } from "./paths.ts";
import { distrust, readForOpen, readSuperblock } from "./superblock_io.ts";
import { inodeLoc, newInode } from "./inode.ts";
import { Collections } from "./vectors.ts";
import { Xattrs } from "./xattrs.ts";
import { Journal } from "../journal/journal.ts";
import type { RecoveryResult } from "../journal/recovery.ts";
import { ERRORS_BEHAVIOURS } from "./mkfs.ts";
import { applyErrorRecord, errorRecordOf } from "./error_record.ts";
import { commitSplit } from "./commit_split.ts";
import {
  featureWords,
  sbBlock,
  stageBackupSuperblock,
  stageSuperblock,
  superblockImage,
  writeSuperblock,
} from "./sb_write.ts";

export type { DirEntryInfo, InodeState, Name, OpenOptions, SetAttr, Stat, StatFs } from "./types.ts";
import type { DirEntryInfo, InodeState, Name, OpenOptions, SetAttr, Stat, StatFs } from "./types.ts";
export { nameBytes } from "./dir.ts";

/**
 * A checkpoint of the HNSW graphs that is not forced waits this many times
 * the previous one's duration after it (FORMAT.md §8.6 "Writing").
 */
const GRAPH_CHECKPOINT_RATIO = 9;

/**
 * An open VexFS filesystem. See the module documentation.
 */
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
  /** the feature words the backup superblock holds (a change is staged into the next commit) */
  #backupFeatures = "";
  /** Extent tree blocks written (nodes encoded, the root in the inode aside), for tests and benchmarks. */
  treeNodesWritten = 0;
  /** {@link Vexfs.iget} calls served from the inode cache (for `vexfs stats`) */
  inodeHits = 0;
  /** {@link Vexfs.iget} calls that decoded the inode from its table block (for `vexfs stats`) */
  inodeMisses = 0;

  private constructor(dev: BlockDevice, sb: Superblock, readOnly: boolean) {
    this.dev = dev;
    this.sb = sb;
    this.#backupFeatures = featureWords(sb);
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
    const opened = readForOpen(dev, readOnly);
    dev = opened.dev;
    const { sb, recovery } = opened;
    const fs = new Vexfs(dev, sb, readOnly);
    fs.recovery = recovery;
    if (opts.onWarning) fs.onWarning = opts.onWarning;
    fs.errorsBehaviour = opts.errors ?? ERRORS_BEHAVIOURS[sb.errors - 1] ?? "continue";
    if (recovery?.problems.length) fs.onWarning(`journal: ${recovery.problems.join("; ")}`);
    const doubts = distrust(fs);
    if (doubts.length) {
      const what = `${dev.path}: ${doubts.join("; ")}`;
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
        fs.op(() => recoverOrphans(fs));
        fs.#commit();
      } else {
        writeSuperblock(fs, false);
        dev.sync();
        fs.op(() => recoverOrphans(fs));
        if (fs.recoveredOrphans.length) fs.sync();
      }
    }
    // After a crash, file data written in place may be newer than the last commit: text indexes are verified.
    fs.collections.text.opened(fs.stateAtOpen !== STATE_CLEAN || !!recovery?.needed);
    return fs;
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
    const rec = errorRecordOf(op, e);
    const { errno, ino } = rec;
    const apply = (t: Superblock) => applyErrorRecord(t, rec);
    apply(sb);
    this.onWarning(`error in ${op}${ino ? ` (inode ${ino})` : ""}: ${e.message}`);
    if (this.readOnly || this.#errorRo || this.#closed) return;
    try {
      if (this.errorsBehaviour === "continue") {
        this.#commit();
        if (!this.journal) {
          writeSuperblock(this, true);
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
    if (hit) {
      this.inodeHits++;
      return hit;
    }
    if (
      !Number.isSafeInteger(ino) || ino < 1 || ino > this.sb.inodeCount ||
      !this.inodeMap.test(ino - 1)
    ) {
      throw new FsError("ENOENT", `inode ${ino} is not in use`);
    }
    const { block, off } = inodeLoc(this, ino);
    let d: Inode;
    try {
      d = decodeInode(ino, this.cache.get(block).subarray(off, off + INODE_SIZE));
    } catch (e) {
      // Outside an operation (a caller reading an inode directly, as the mount does for an entry's
      // generation) nothing else records the corruption: record it here (FORMAT.md §3.2).
      if (this.#depth === 0 && e instanceof FsError && (e.code === "EUCLEAN" || e.code === "EIO")) {
        this.#recordError("iget", e);
      }
      throw e;
    }
    const st: InodeState = { ino, d, dirty: false };
    this.#inodes.set(ino, st);
    this.inodeMisses++;
    return st;
  }

  /** Marks an inode modified; it is written to the inode table at the next flush. */
  dirty(n: InodeState): void {
    this._assertWritable();
    n.dirty = true;
    this.#markInodeDirty(n);
  }

  #markInodeDirty(n: InodeState): void {
    if (this.#dirtyInodes.has(n)) return;
    this.#dirtyInodes.add(n);
    const { block } = inodeLoc(this, n.ino);
    this.#dirtyTableBlocks.set(block, (this.#dirtyTableBlocks.get(block) ?? 0) + 1);
  }

  #writeInode(n: InodeState): void {
    const { block, off } = inodeLoc(this, n.ino);
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
    this._assertWritable();
    const n = newInode(this, mode, uid, gid, parentIno, parentHash, flags);
    this.#markInodeDirty(n);
    storeExtents(this, n, 0);
    this.#inodes.set(n.ino, n);
    return n;
  }

  /**
   * Frees an inode and everything it owns (blocks, xattrs, vector).
   * @internal for the engine's modules (dir.ts)
   */
  _ifree(n: InodeState): void {
    if (n.d.flags & IFL_HAS_VECTOR) this.collections.deleteVector(n.ino);
    if ((n.d.flags & IFL_COLL_ROOT)) {
      this.collections.dropCollection(n.d.collId);
    }
    if (!(n.d.flags & IFL_INLINE)) truncateBlocks(this, n, 0);
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
      this._ifree(n);
    });
  }

  // ---------------------------------------------------------------- blocks

  /**
   * Allocates up to `want` contiguous blocks near `goal` (at least one).
   * @returns the first block and the count obtained
   * @throws FsError ENOSPC when the filesystem is full
   */
  balloc(goal: number, want: number): { start: number; length: number } {
    this._assertWritable();
    const run = this.blockMap.findRun(goal || this.blockMap.rotor, want);
    if (!run) throw new FsError("ENOSPC", "no space left on device");
    if (!isDataRun(this.sb, run.start, run.length)) {
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

  // ---------------------------------------------------------------- extents (extents_ops.ts)

  /** The inode's extent list, loading (and verifying) its tree on first use. */
  extents(n: InodeState): Extent[] {
    return n.exts ?? loadExtents(this, n);
  }

  /** Tree blocks needed to store `n` extents beyond the in-inode root. */
  treeBlocksFor(n: number): number {
    return treeBlocksFor(this, n);
  }

  /** Physical block of file block `lblk`, or 0 for a hole. */
  bmap(n: InodeState, lblk: number): number {
    return bmap(this, n, lblk);
  }

  // ---------------------------------------------------------------- file data (file.ts)

  /**
   * Reads up to `length` bytes from byte `offset` of a regular file (or
   * internal file / long symlink). Holes and unwritten extents read as zeros.
   * @returns the bytes read (shorter at end of file)
   * @throws FsError EISDIR for a directory, EINVAL for a negative offset
   */
  read(ino: number, offset: number, length: number): Uint8Array {
    return this.#op("read", () => readFile(this, ino, offset, length));
  }

  /**
   * Reads `out.length` bytes from byte `offset` of `n` (must be within its
   * size). An internal file's blocks are metadata (FORMAT.md §9.4): they are
   * read from the device and then from the cache where it holds changes not
   * yet written.
   */
  readInto(n: InodeState, offset: number, out: Uint8Array): void {
    readInto(this, n, offset, out);
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
      const r = writeFile(this, ino, offset, data);
      this.collections.text.touch(ino);
      return r;
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
    return this.#op("writeSome", () => writeSome(this, ino, offset, data), true);
  }

  /**
   * Sets the size of a regular file: shrinking frees blocks past the end and
   * zeroes the tail of the last block; growing leaves a hole.
   * @throws FsError EISDIR, EINVAL for negative sizes, EFBIG
   */
  truncate(ino: number, size: number): void {
    return this.#op("truncate", () => {
      truncateFile(this, ino, size);
      this.collections.text.touch(ino);
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
      fallocate(this, ino, mode, offset, length);
      this.collections.text.touch(ino);
    }, true);
  }

  // ---------------------------------------------------------------- directories (dir.ts)

  /** The hash-tree block store of a directory inode. */
  dirBlocks(n: InodeState): DirBlocks {
    return dirBlocks(this, n);
  }

  /**
   * Looks up `name` in directory `dir`.
   * @returns the inode number
   * @throws FsError ENOENT, ENOTDIR, ENAMETOOLONG
   */
  lookup(dir: number, name: Name): number {
    return lookupName(this, dir, name);
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
    return this.#op("lookup", () => findName(this, dir, name));
  }

  /** Every entry of a directory (not `.` and `..`), in hash order. */
  readdir(dir: number): Generator<DirEntryInfo> {
    return readDir(this, dir);
  }

  /** Number of entries in a directory (without `.` and `..`). */
  dirSize(dir: number): number {
    return dirSize(this, dir);
  }

  /** Creates a regular file; returns its inode number. See {@link Vexfs.mknod} for errors. */
  create(dir: number, name: Name, perm = 0o644, uid = 0, gid = 0): number {
    return this.#op("create", () => makeNode(this, dir, name, S_IFREG | (perm & 0o7777), uid, gid).ino, true);
  }

  /** Creates a directory; returns its inode number. */
  mkdir(dir: number, name: Name, perm = 0o755, uid = 0, gid = 0): number {
    return this.#op("mkdir", () => makeNode(this, dir, name, S_IFDIR | (perm & 0o7777), uid, gid).ino, true);
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
    return this.#op("mknod", () => mknodIn(this, dir, name, mode, rdev, uid, gid), true);
  }

  /**
   * Creates a symlink `name` in `dir` pointing at `target` (stored inline when
   * at most 116 bytes).
   * @throws FsError ENAMETOOLONG for targets over 4095 bytes, EEXIST, ENOSPC
   */
  symlink(dir: number, name: Name, target: Name, uid = 0, gid = 0): number {
    return this.#op("symlink", () => symlinkIn(this, dir, name, target, uid, gid), true);
  }

  /** The target of a symlink. @throws FsError EINVAL if `ino` is not a symlink */
  readlink(ino: number): Uint8Array {
    return this.#op("readlink", () => readSymlink(this, ino));
  }

  /**
   * Adds a hard link `name` in `dir` to inode `ino`.
   * @throws FsError EPERM for directories, EMLINK, EEXIST
   */
  link(ino: number, dir: number, name: Name): void {
    return this.#op("link", () => linkIn(this, ino, dir, name), true);
  }

  /**
   * Removes the entry `name` (not a directory) from `dir`; the inode is freed
   * when its last link goes and nobody has it open.
   * @throws FsError ENOENT, EISDIR, ENOTDIR
   */
  unlink(dir: number, name: Name): void {
    return this.#op("unlink", () => unlinkIn(this, dir, name));
  }

  /**
   * Removes the empty directory `name` from `dir`.
   * @throws FsError ENOENT, ENOTDIR, ENOTEMPTY, EBUSY for the root
   */
  rmdir(dir: number, name: Name): void {
    return this.#op("rmdir", () => rmdirIn(this, dir, name));
  }

  /** True when directory `a` is `b` or an ancestor of `b`. */
  isAncestor(a: number, b: number): boolean {
    return isAncestor(this, a, b);
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
    return this.#op("rename", () => renameIn(this, oldDir, oldName, newDir, newName, flags), true);
  }

  // ---------------------------------------------------------------- attributes (attr.ts)

  /** stat(2) of inode `ino`. @throws FsError ENOENT */
  getattr(ino: number): Stat {
    return this.#op("getattr", () => getattr(this, ino));
  }

  /**
   * Changes mode, owner, size or times (chmod, chown, truncate, utimens).
   * ctime is updated as POSIX requires. Permission checks are the caller's.
   * @returns the new attributes
   */
  setattr(ino: number, a: SetAttr): Stat {
    return this.#op("setattr", () => setattr(this, ino, a));
  }

  /** Records an access (relatime rule: only if atime <= mtime/ctime or older than a day). */
  touchAtime(ino: number): void {
    return this.#op("touchAtime", () => touchAtime(this, ino));
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
      this._assertWritable();
      this.xattrs.set(this.iget(ino), name, value, flags);
    }, true);
  }

  /** Removes an attribute. @throws FsError ENODATA if absent */
  removexattr(ino: number, name: string): void {
    return this.#op("removexattr", () => {
      this._assertWritable();
      this.xattrs.remove(this.iget(ino), name);
    });
  }

  // ---------------------------------------------------------------- open files (orphans: orphan.ts)

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
        removeOrphan(this, n);
        this._ifree(n);
      }
    });
  }

  /** Open count of an inode. */
  openCount(ino: number): number {
    return this.#open.get(ino) ?? 0;
  }

  // ---------------------------------------------------------------- paths (paths.ts)

  /**
   * Resolves an absolute path inside the filesystem ("/docs/a.md") to an inode.
   * Symlinks in the middle are followed; the last component's is followed
   * only if `follow`.
   * @throws FsError ENOENT, ENOTDIR, ELOOP
   */
  resolve(path: string, follow = true, hops = 0): number {
    return resolvePath(this, path, follow, hops);
  }

  /** Splits a path into its parent directory inode and last component. */
  resolveParent(path: string): { dir: number; name: string } {
    return resolveParent(this, path);
  }

  /**
   * The absolute path of an inode, found by walking parent pointers (FORMAT.md §5.3),
   * or by a tree search for a hard-linked file whose pointer was cleared.
   * @throws FsError ENOENT if the inode is not reachable
   */
  pathOf(ino: number): string {
    return this.#op("pathOf", () => pathOf(this, ino));
  }

  // ---------------------------------------------------------------- filesystem

  /** statfs(2) numbers. */
  statfs(): StatFs {
    return {
      bsize: this.blockSize,
      blocks: this.sb.blockCount,
      bfree: this.blockMap.free,
      // Every allocation keeps one block in reserve (see fits in extents_ops.ts), so one free block is never available to data.
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
      this.commitCount++;
      return;
    }
    if (j.aborted) return;
    const sbImage = superblockImage(this, false);
    const sbChanged = !this.#sbCommitted || !sameBytes(sbImage, this.#sbCommitted);
    if (this.cache.dirtyCount === 0 && this.#revokes.length === 0 && !sbChanged) return;
    stageSuperblock(this);
    // A feature turned on at run time (a first collection, HNSW, a text index) goes into the backup superblock in
    // the same transaction: fsck requires primary and backup to agree on features, and with a journal the backup
    // is otherwise written only at close, so a power cut before it left the two disagreeing.
    const features = featureWords(this.sb);
    if (features !== this.#backupFeatures) stageBackupSuperblock(this);
    const blocks = this.cache.takeDirty();
    const revokes = this.#revokes;
    this.#revokes = [];
    if (j.cost(blocks.size, revokes.length) <= j.hardLimit) j.commit(blocks, revokes);
    else commitSplit(j, blocks, revokes, sbBlock(this.blockSize), (m) => this.onWarning(m));
    this.#sbCommitted = sbImage;
    this.#backupFeatures = features;
    this.blockMap.releaseHeld();
    this.commitCount++;
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
      writeSuperblock(this, true);
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

  /**
   * Commits made since open (in memory): what changes between two
   * transactions, so that a change can be recorded once per transaction
   * (the text indexes' generation bump, ./text_index.ts).
   */
  commitCount = 0;

  /** performance.now() before which a checkpoint of the graphs is not due (see {@link #checkpointGraphs}) */
  #graphsDue = 0;

  /**
   * Counts changes of the namespace that can move a file in or out of a
   * directory's subtree (links made or dropped, renames), so that what is
   * derived from ancestry (a search's subtree, src/fs/vector_search.ts) can be
   * cached until it changes. In memory only.
   */
  namespaceVersion = 0;

  /**
   * Set while {@link writeUnjournaled} writes: internal-file data goes to the device, not the journal.
   * @internal for the engine's modules (file.ts)
   */
  _unjournaled = false;
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
    this._unjournaled = true;
    try {
      return this.write(ino, offset, data);
    } finally {
      this._unjournaled = false;
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
          this.dev.write((this.sb.blockCount - 1) * this.blockSize, superblockImage(this, false));
          this.dev.sync();
        } else if (!j) {
          this.#commit();
          if (this.sb.state === STATE_DIRTY) this.sb.state = STATE_CLEAN;
          writeSuperblock(this, true);
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

  /**
   * Throws unless the filesystem can be changed now.
   * @throws FsError EROFS (opened read-only, or read-only after an error), EBADF (closed)
   * @internal for the engine's modules
   */
  _assertWritable(): void {
    if (this.readOnly) {
      throw new FsError("EROFS", "the filesystem is open read-only");
    }
    if (this.#errorRo) {
      throw new FsError("EROFS", "the filesystem went read-only after an error (errors=remount-ro); run vexfs fsck");
    }
    if (this.#closed) throw new FsError("EBADF", "the filesystem is closed");
  }
}

export { findBackupSuperblock } from "./superblock_io.ts";

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** True when a mode is a directory. */
export function isDirMode(mode: number): boolean {
  return (mode & S_IFMT) === S_IFDIR;
}

/** True when a mode is a regular file. */
export function isRegMode(mode: number): boolean {
  return (mode & S_IFMT) === S_IFREG;
}
