/**
 * The shared context of one fsck run (e2fsck's `e2fsck_t`, `e2fsck/e2fsck.h`):
 * the device and its superblock, what each pass learns about every inode
 * ({@link InodeInfo}), the computed block bitmap ("claims"), the problems
 * found, and the few primitives every pass uses: raw block I/O, asking
 * whether to fix a problem ({@link FsckContext.ask}), block and inode
 * allocation for repairs, and naming an inode by its path.
 *
 * The exit codes of fsck(8) are named here once ({@link FSCK_OK} ..
 * {@link FSCK_CANCELED}); `commands/fsck.ts` uses them too.
 *
 * Repairs change the model first (an inode's fields, its extent list, a
 * directory's entries) and mark what changed; `rewrite.ts` writes it all in
 * place, outside any journal, once every pass has looked (as e2fsck writes
 * through its own block cache). Blocks and inodes that repairs free or
 * allocate are remembered so that pass 5 reports only bitmap errors that were
 * on the disk before, not the effects of the repairs themselves.
 * @module
 */
import type { BlockDevice } from "../device/device.ts";
import { FsError } from "../errors.ts";
import {
  FT_BLK,
  FT_CHR,
  FT_DIR,
  FT_FIFO,
  FT_REG,
  FT_SOCK,
  FT_SYMLINK,
  IFL_HAS_VECTOR,
  IFL_XATTR_IN_STORE,
  IFL_XATTR_STORE,
  ROOT_INO,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFREG,
  S_IFSOCK,
} from "../format/constants.ts";
import type { CollectionRecord } from "../format/collection.ts";
import type { Extent } from "../format/extent.ts";
import type { Inode } from "../format/inode.ts";
import { isDataRun, type Superblock } from "../format/superblock.ts";
import type { DirEntry } from "../fs/htree.ts";
import { type FsckSeverity, PROBLEM_CODES, type ProblemVar, renderTemplate } from "./problems.ts";

export type { FsckSeverity } from "./problems.ts";

// ------------------------------------------------------------------ exit codes (fsck(8), e2fsck/e2fsck.h)

/** No errors (warnings and info allowed). */
export const FSCK_OK = 0;
/** Errors were found and corrected. */
export const FSCK_NONDESTRUCT = 1;
/** The system should be rebooted (a mounted root was repaired; never returned by vexfs). */
export const FSCK_REBOOT = 2;
/** Errors were left uncorrected. */
export const FSCK_UNCORRECTED = 4;
/** Operational error: cannot open or read, not VexFS, in use, checker failure. */
export const FSCK_ERROR = 8;
/** Usage or syntax error (bad option combinations). */
export const FSCK_USAGE = 16;
/** Cancelled by the user. */
export const FSCK_CANCELED = 32;

// ------------------------------------------------------------------ public types

/** What fsck may change: `check` (-n, the default), `preen` (-p: only safe fixes), `yes` (-y: fix everything). */
export type FsckMode = "check" | "preen" | "yes";

/** One finding of {@link fsck}. */
export interface FsckProblem {
  /** Stable identifier such as `"INODE_CHECKSUM"` (see `PROBLEM_CODES` in problems.ts). */
  code: string;
  /**
   * `"error"`: an inconsistency; `"warning"`: suspicious or stale but
   * harmless on its own; `"info"`: for the record.
   */
  severity: FsckSeverity;
  /**
   * What is affected, e.g. `"inode 123 (/docs/a.md)"`, `"block bitmap"`,
   * `"collection 1 slot 5"`, `"primary superblock"`.
   */
  where: string;
  /** A sentence a person can act on (with what to do next, once fixed). */
  message: string;
  /** The repair as a prompt ("Clear the inode"); absent when fsck cannot repair it. */
  fix?: string;
  /** Whether the repair was made (never with -n). */
  fixed: boolean;
  /** What to do next now that it is repaired ("Set it again with 'vexfs vector set'."), when there is something. */
  next?: string;
}

/** Counts gathered while checking (inodes and blocks as found, not as the superblock claims). */
export interface FsckStats {
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
}

/** The result of {@link fsck}. */
export interface FsckReport {
  /** The path (or device name) that was checked. */
  path: string;
  /** What fsck was allowed to change. */
  mode: FsckMode;
  /** Every problem found, in the order the passes found them (over all runs, see `runs`). */
  problems: FsckProblem[];
  /**
   * fsck(8) exit code, a sum of: 1 errors corrected, 4 errors left
   * uncorrected; or 0 clean (warnings/info allowed), 8 operational error,
   * 16 usage error, 32 cancelled.
   */
  exitCode: number;
  /** True when the filesystem was marked clean and not checked (no `force`): the stats then come from a quick scan. */
  skipped: boolean;
  /** Problems repaired. */
  fixed: number;
  /**
   * Checks made: 1, or more when repairs changed the filesystem and it was
   * checked again from the start to verify them (as e2fsck restarts).
   */
  runs: number;
  /** Counts of the last run. */
  stats: FsckStats;
  /** Wall-clock time in milliseconds. */
  elapsedMs: number;
}

/** Options of {@link fsck}; the flags of e2fsck(8). */
export interface FsckOptions {
  /** `-n`: open read-only and change nothing. The default when neither `preen` nor `yes` is given. */
  readOnly?: boolean;
  /**
   * `-p` / `-a`: repair what is safe without a person (free counts, bitmaps,
   * link counts, orphans, a dirty flag); stop with exit 4 and a
   * `PREEN_HALT` problem at the first problem that needs more.
   */
  preen?: boolean;
  /** `-y`: repair everything that can be repaired. */
  yes?: boolean;
  /**
   * `-f`: check even when the filesystem is marked clean. Default true for
   * library callers; `vexfs fsck` passes its `-f`, and without it a clean
   * filesystem (state 1, no RECOVER flag, empty journal, no recorded errors,
   * mount count below the maximum) is only scanned quickly.
   */
  force?: boolean;
  /**
   * Called as the check advances: `phase` is one of `"superblock"`,
   * `"journal"`, `"inodes"`, `"directories"`, `"orphans"`, `"collections"`,
   * `"connectivity"`, `"link counts"`, `"duplicates"`, `"repairs"`,
   * `"bitmaps"`; `done` of `total` units of that phase are finished.
   * Throwing {@link FsckCancelled} stops the check with exit code 32.
   */
  onProgress?: (phase: string, done: number, total: number) => void;
}

/** Throw this from `onProgress` to cancel a check (exit code 32). */
export class FsckCancelled extends Error {
  /** A cancellation; `message` says why (default "check cancelled"). */
  constructor(message = "check cancelled") {
    super(message);
    this.name = "FsckCancelled";
  }
}

/** Thrown by {@link FsckContext.ask} in preen mode at a problem whose repair is not preen-safe. */
export class PreenHalt extends Error {
  /** A halt at problem `code`, which needs a manual repair. */
  constructor(readonly code: string) {
    super(`${code} needs a manual repair`);
    this.name = "PreenHalt";
  }
}

/** A read failed (past the end of the device, I/O error); the message says why. */
export class ReadFail extends Error {}

// ------------------------------------------------------------------ what passes learn about inodes

/** A directory entry naming an inode. */
export interface Link {
  /** directory holding the entry */
  dir: number;
  /** name hash computed from `name` (not the stored one, which may be damaged) */
  hash: number;
  /** the entry's name bytes */
  name: Uint8Array;
}

/** What the passes know about one inode. */
export interface InodeInfo {
  /** inode number */
  ino: number;
  /** its bit in the inode bitmap as read from disk */
  inBitmap: boolean;
  /** decoded (without checksum verification), or undefined if undecodable */
  d?: Inode;
  /** its checksum matched */
  csumOk: boolean;
  /** in use in the model: decoded with a valid file type and not cleared by fsck */
  usable: boolean;
  /** why it is not usable */
  why?: string;
  /** S_IFMT bits of the mode */
  type: number;
  /** data extents, sorted, sane (bad ones dropped by pass 1) */
  exts: Extent[];
  /** extent tree blocks */
  treeBlocks: number[];
  /** directory entries naming it (pass 2) */
  links: Link[];
  /** references from the orphan list or a collection (not links) */
  otherRefs: number;
  /** directories: entries whose target is a directory */
  subdirs: number;
  /** directories: the entries (pass 2), as the directory must hold them */
  entries?: DirEntry[];
  /** reached by the orphan list walk (and kept on it) */
  onOrphanList: boolean;
  /** repair: the inode's fields changed; write it */
  dirty: boolean;
  /** repair: `exts` changed; write a new extent tree */
  treeDirty: boolean;
  /** repair: directory `entries` changed; rebuild its hash tree */
  rebuildDir: boolean;
  /** repair: freed by fsck in this run */
  cleared: boolean;
  /** repair: created by fsck in this run */
  created: boolean;
}

/** A block range claimed by metadata (`owner` 0) or an inode. */
export interface Claim {
  /** first block */
  start: number;
  /** blocks */
  len: number;
  /** inode number, 0 for filesystem metadata */
  owner: number;
  /** what the blocks are to the owner ("data", "xattr block", "the inode table", ...) */
  what: string;
}

/** The values a check gives {@link FsckContext.ask}: where the problem is, template values, overrides. */
export interface ProblemContext {
  /** inode the problem is about; `where` becomes `inode N (path)` */
  ino?: number;
  /** appended to the inode description ("extent tree block 3") */
  tail?: string;
  /** where, when `ino` is absent */
  where?: string;
  /** overrides the code's usual severity */
  severity?: FsckSeverity;
  /** overrides the code's fix prompt for this finding */
  fix?: string;
  /** this finding cannot be repaired (e.g. no backup superblock to restore from) */
  noFix?: boolean;
  /** overrides the code's advice once repaired ("" for none) */
  next?: string;
  /** template values */
  [name: string]: ProblemVar | boolean | undefined;
}

interface RawProblem {
  code: string;
  ctx: ProblemContext;
  severity: FsckSeverity;
  fixed: boolean;
  fix?: string;
}

/** Problems of one code listed before the rest are summarised. */
export const MAX_PER_CODE = 100;

const dec = new TextDecoder();

/** Decodes a name for messages. */
export function nameText(name: Uint8Array): string {
  return dec.decode(name);
}

/** The message of an exception, without an errno prefix. */
export function errText(e: unknown): string {
  if (e instanceof FsError) return e.detail;
  return e instanceof Error ? e.message : String(e);
}

/** "regular file", "directory", ... for S_IFMT bits. */
export function typeName(t: number): string {
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

/** Directory entry file type of S_IFMT bits (FORMAT.md §6). */
export const FT_OF: Readonly<Record<number, number>> = {
  [S_IFREG]: FT_REG,
  [S_IFDIR]: FT_DIR,
  [S_IFCHR]: FT_CHR,
  [S_IFBLK]: FT_BLK,
  [S_IFIFO]: FT_FIFO,
  [S_IFSOCK]: FT_SOCK,
  [S_IFLNK]: FT_SYMLINK,
};

/** Names of directory entry file types. */
export const FT_NAME: readonly string[] = [
  "?",
  "regular file",
  "directory",
  "character device",
  "block device",
  "fifo",
  "socket",
  "symlink",
];

/** `0x` hex of a number. */
export function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

// ------------------------------------------------------------------ the context

/** The state of one run over the filesystem, shared by all passes. */
export class FsckContext {
  /** counts for the report (pass 5 and the collections pass fill theirs; the driver counts inodes) */
  readonly stats: FsckStats = {
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
  readonly #raw: RawProblem[] = [];
  /** the device: the caller's, the opened path, or a read-only overlay of a replayed journal */
  dev!: BlockDevice;
  /** the superblock in use (the primary, or the backup when the primary is damaged) */
  sb!: Superblock;
  /** block size in bytes */
  bs = 0;
  /** repair: write the primary superblock at the end */
  sbDirty = false;
  /** repair: write the backup superblock at the end */
  backupDirty = false;
  /** every inode looked at */
  readonly infos = new Map<number, InodeInfo>();
  /** the inode bitmap as read from disk (pass 1, or the journal pass) */
  diskInodeBitmap?: Uint8Array;
  /** the journal was replayed before this check (the backup superblock may lag) */
  replayed = false;
  /** the computed block bitmap: what metadata and inodes own (pass 1b on) */
  claimed?: Uint8Array;
  /** blocks claimed more than once */
  readonly dups = new Set<number>();
  /** every claim, for naming a block's owners */
  claims: Claim[] = [];
  /** connectivity: the link through which each reachable inode was first reached */
  readonly tree = new Map<number, { dir: number; name: Uint8Array }>();
  /** the link an inode cleared by fsck had, for naming it in the report */
  readonly formerLinks = new Map<number, { dir: number; name: Uint8Array }>();
  /** internal inodes and what they are ("slot map of collection 1") */
  readonly internalRole = new Map<number, string>();
  /** problems repaired in this run */
  fixes = 0;
  /** something was written in this run */
  wrote = false;
  /** blocks freed by repairs (pass 5 counts them free on the disk bitmap too) */
  readonly freedBlocks = new Set<number>();
  /** blocks allocated by repairs */
  readonly allocatedBlocks = new Set<number>();
  /** inodes freed by repairs */
  readonly freedInodes = new Set<number>();
  /** inodes allocated by repairs */
  readonly allocatedInodes = new Set<number>();
  /** collection records in use, by id (collections pass) */
  readonly collRecords = new Map<number, CollectionRecord>();
  /** slot owners of each collection, as the slot map says (collections pass) */
  readonly slotOwners = new Map<number, number[]>();
  /** repair: collections whose stores `rewrite.ts` rebuilds from the inodes that carry vectors */
  readonly collRebuild = new Set<number>();
  /** repair: the directory that reconnected inodes go to, once found or created */
  lostFound = 0;
  /** repair: the root was unusable and is to be re-created (pass 3) */
  recreateRoot = false;
  /** repair: the collection table was unusable and is to be re-created */
  recreateCollTable = false;
  /** work for `rewrite.ts` once every pass has looked, in order */
  readonly pending: { what: string; run: () => void }[] = [];

  /**
   * @param path what to call the device in messages
   * @param mode what may be changed
   * @param onProgress see {@link FsckOptions.onProgress}
   */
  /** A context for one run; the driver then sets {@link FsckContext.dev}. */
  constructor(
    readonly path: string,
    readonly mode: FsckMode,
    readonly onProgress?: (phase: string, done: number, total: number) => void,
  ) {}

  /** Whether repairs are allowed at all in this run. */
  get repairing(): boolean {
    return this.mode !== "check";
  }

  /** Reports progress (may throw {@link FsckCancelled}). */
  progress(phase: string, done: number, total: number): void {
    this.onProgress?.(phase, done, total);
  }

  /**
   * Records a problem and says whether to repair it (e2fsck's
   * `fix_problem()`): never with -n, always with -y when the code has a fix,
   * and with -p only when its fix is preen-safe. In preen mode a problem that
   * needs more stops the run: it is recorded with a `PREEN_HALT` problem and
   * {@link PreenHalt} is thrown, so nothing more is changed.
   * @param code a key of PROBLEM_CODES
   * @param ctx where and the template values
   * @returns true when the caller must make the repair now
   */
  ask(code: string, ctx: ProblemContext = {}): boolean {
    const def = PROBLEM_CODES[code];
    if (!def) throw new Error(`unknown problem code ${code}`);
    const fix = ctx.noFix ? undefined : ctx.fix ?? def.fix;
    const severity = ctx.severity ?? def.severity;
    let fixed = false;
    if (fix !== undefined && this.mode === "yes") fixed = true;
    else if (fix !== undefined && this.mode === "preen") {
      if (def.preen) fixed = true;
      else {
        this.#raw.push({ code, ctx, severity, fixed: false, fix });
        this.#raw.push({ code: "PREEN_HALT", ctx: { where: this.path, code }, severity: "error", fixed: false });
        throw new PreenHalt(code);
      }
    }
    this.#raw.push({ code, ctx, severity, fixed, fix });
    if (fixed) this.fixes++;
    return fixed;
  }

  /** Records a problem that cannot be repaired (or is only reported). */
  note(code: string, ctx: ProblemContext = {}): void {
    this.ask(code, { ...ctx, noFix: true });
  }

  /** Whether an error-severity problem was found and not repaired in this run. */
  get uncorrected(): boolean {
    return this.#raw.some((r) => r.severity === "error" && !r.fixed);
  }

  /** Number of problems recorded so far in this run. */
  get problemCount(): number {
    return this.#raw.length;
  }

  // ---------------------------------------------------------------- I/O

  /**
   * Reads `len` bytes at byte `offset`.
   * @throws ReadFail past the end of the device or on an I/O error
   */
  read(offset: number, len: number): Uint8Array {
    const dev = this.dev;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + len > dev.size) {
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

  /** Reads block `b`. @throws ReadFail */
  readBlock(b: number): Uint8Array {
    return this.read(b * this.bs, this.bs);
  }

  /**
   * Writes `data` at byte `offset` in place (repairs only).
   * @throws Error in check mode (a bug), FsError from the device
   */
  write(offset: number, data: Uint8Array): void {
    if (!this.repairing) throw new Error("fsck: write in check mode");
    this.wrote = true;
    this.dev.write(offset, data);
  }

  /** Writes block `b` (repairs only). */
  writeBlock(b: number, data: Uint8Array): void {
    if (data.length !== this.bs) throw new Error(`fsck: block ${b} write of ${data.length} bytes`);
    this.write(b * this.bs, data);
  }

  // ---------------------------------------------------------------- blocks

  /** Whether `len` blocks from `b` lie in the data area (FORMAT.md §2). */
  inDataArea(b: number, len = 1): boolean {
    return isDataRun(this.sb, b, len);
  }

  /** Starts a fresh computed block bitmap (pass 1b). */
  resetClaims(): void {
    this.claimed = new Uint8Array(Math.ceil(this.sb.blockCount / 8));
    this.claims = [];
    this.dups.clear();
  }

  /** Marks `len` blocks from `start` as owned by `owner` (0: filesystem metadata); a second claim is a duplicate. */
  claim(start: number, len: number, owner: number, what: string): void {
    this.claims.push({ start, len, owner, what });
    const c = this.claimed!;
    const end = Math.min(start + len, this.sb.blockCount);
    for (let b = Math.max(0, start); b < end; b++) {
      const m = 1 << (b & 7);
      if (c[b >>> 3] & m) this.dups.add(b);
      else c[b >>> 3] |= m;
    }
  }

  /** Whether block `b` is claimed. */
  isClaimed(b: number): boolean {
    return (this.claimed![b >>> 3] & (1 << (b & 7))) !== 0;
  }

  /**
   * Allocates a free data block for a repair, the first at or after `goal`
   * (wrapping), and claims it.
   * @returns the block, or null when the filesystem is full
   */
  allocBlock(goal: number, owner: number, what: string): number | null {
    const lo = this.sb.firstDataBlock;
    const hi = this.sb.blockCount - 1; // the backup superblock
    const c = this.claimed!;
    const start = goal >= lo && goal < hi ? goal : lo;
    for (let i = 0; i < hi - lo; i++) {
      let b = start + i;
      if (b >= hi) b -= hi - lo;
      if ((b & 7) === 0 && c[b >>> 3] === 0xff && b + 8 <= hi) {
        i += 7;
        continue;
      }
      if (!(c[b >>> 3] & (1 << (b & 7)))) {
        this.claim(b, 1, owner, what);
        this.allocatedBlocks.add(b);
        this.freedBlocks.delete(b);
        return b;
      }
    }
    return null;
  }

  /** Gives back a block a repair no longer uses (it stays claimed if another owner shares it). */
  freeBlock(b: number): void {
    if (this.claimed) {
      if (this.dups.has(b)) this.dups.delete(b);
      else this.claimed[b >>> 3] &= ~(1 << (b & 7));
    }
    // a block allocated by this run and given back was never in use on disk
    if (!this.allocatedBlocks.delete(b)) this.freedBlocks.add(b);
  }

  /**
   * A free inode number for a repair (lost+found, vector stores): the first
   * at or after `first_ino` that nothing in the model uses.
   * @returns the number, or null when no inode is free
   */
  allocInodeNumber(): number | null {
    for (let ino = this.sb.firstIno; ino <= this.sb.inodeCount; ino++) {
      const info = this.infos.get(ino);
      if (info ? !info.usable && !info.links.length && !info.otherRefs : !this.#bitSet(ino)) {
        this.allocatedInodes.add(ino);
        this.freedInodes.delete(ino);
        return ino;
      }
    }
    return null;
  }

  #bitSet(ino: number): boolean {
    const i = ino - 1;
    return (this.diskInodeBitmap![i >>> 3] & (1 << (i & 7))) !== 0;
  }

  // ---------------------------------------------------------------- names

  /** Path of a reachable inode, or null. */
  pathOf(ino: number): string | null {
    if (ino === ROOT_INO) return "/";
    const parts: string[] = [];
    for (let cur = ino, guard = 0; cur !== ROOT_INO; guard++) {
      const up = this.tree.get(cur);
      if (!up || guard > 4096) return null;
      parts.push(dec.decode(up.name));
      cur = up.dir;
    }
    return "/" + parts.reverse().join("/");
  }

  /** What an inode is, for messages: its path, its internal role, "orphan", "not linked" or "cleared". */
  describe(ino: number): string {
    const role = this.internalRole.get(ino);
    if (role) return role;
    const p = this.pathOf(ino);
    if (p) return p;
    const info = this.infos.get(ino);
    if (info?.onOrphanList) return "orphan";
    if (info?.cleared) {
      const was = this.formerLinks.get(ino);
      const dir = was && this.pathOf(was.dir);
      return dir ? `was ${dir === "/" ? "" : dir}/${dec.decode(was.name)}, cleared` : "cleared";
    }
    return "not linked";
  }

  /** The tree of first links is known (pass 2 ran): paths can be given. */
  treeBuilt = false;

  /** `inode N (what)`, or `inode N` before paths are known. */
  inodeWhere(ino: number): string {
    if (!this.sb || (!this.treeBuilt && !this.internalRole.has(ino))) return `inode ${ino}`;
    return `inode ${ino} (${this.describe(ino)})`;
  }

  /**
   * The problems of this run as the report lists them: `where` and messages
   * rendered with the final paths, at most {@link MAX_PER_CODE} of each code
   * and a summary line for the rest.
   */
  finish(): FsckProblem[] {
    const out: FsckProblem[] = [];
    const perCode = new Map<string, number>();
    const vars = (c: ProblemContext) => c as Record<string, ProblemVar | undefined>;
    const describeIno = (ino: number) => this.inodeWhere(ino);
    for (const r of this.#raw) {
      const n = (perCode.get(r.code) ?? 0) + 1;
      perCode.set(r.code, n);
      if (n > MAX_PER_CODE) continue;
      let where = r.ctx.where ?? "";
      if (r.ctx.ino !== undefined) {
        where = this.inodeWhere(r.ctx.ino);
        if (r.ctx.tail) where += ` ${r.ctx.tail}`;
      }
      const def = PROBLEM_CODES[r.code];
      const message = renderTemplate(def.message, vars(r.ctx), describeIno);
      const p: FsckProblem = { code: r.code, severity: r.severity, where, message, fixed: r.fixed };
      if (r.fix !== undefined) p.fix = renderTemplate(r.fix, vars(r.ctx), describeIno);
      const after = typeof r.ctx.next === "string" ? r.ctx.next : def.after;
      if (r.fixed && after) p.next = renderTemplate(after, vars(r.ctx), describeIno);
      out.push(p);
    }
    for (const [code, n] of perCode) {
      if (n > MAX_PER_CODE) {
        const rest = this.#raw.filter((r) => r.code === code).slice(MAX_PER_CODE);
        out.push({
          code,
          severity: rest[0].severity,
          where: "(summary)",
          message: `${n - MAX_PER_CODE} more problems of this kind were found and not listed.`,
          fixed: rest.every((r) => r.fixed),
        });
      }
    }
    return out;
  }
}

/**
 * Frees an inode in the model (e2fsck's `deallocate_inode`): its blocks and
 * xattr block go back, its number is free, a vector it carried leaves its
 * collection (which is then rebuilt). `rewrite.ts` writes it as a zeroed
 * inode (mode 0) and pass 5 clears its bits.
 */
export function clearInode(ctx: FsckContext, info: InodeInfo, why: string): void {
  if (info.cleared) return;
  const d = info.d;
  if (info.usable && d) {
    for (const e of info.exts) for (let b = e.physical; b < e.physical + e.length; b++) ctx.freeBlock(b);
    for (const b of info.treeBlocks) ctx.freeBlock(b);
    if (d.flags & IFL_XATTR_IN_STORE) {
      // its xattr store (FORMAT.md §7.2) goes with it
      const s = ctx.infos.get(d.xattrBlock);
      if (s?.usable && s.d!.parentIno === info.ino && (s.d!.flags & IFL_XATTR_STORE)) {
        clearInode(ctx, s, "cleared: the xattr store of a cleared inode");
      }
    } else if (d.xattrBlock && ctx.inDataArea(d.xattrBlock)) ctx.freeBlock(d.xattrBlock);
    if (d.flags & IFL_HAS_VECTOR) ctx.collRebuild.add(d.collId);
  }
  info.usable = false;
  info.cleared = true;
  info.why = why;
  info.exts = [];
  info.treeBlocks = [];
  info.onOrphanList = false;
  ctx.freedInodes.add(info.ino);
  ctx.allocatedInodes.delete(info.ino);
}

/** A fresh {@link InodeInfo} for inode `ino`. */
export function newInodeInfo(ino: number, inBitmap: boolean): InodeInfo {
  return {
    ino,
    inBitmap,
    csumOk: false,
    usable: false,
    type: 0,
    exts: [],
    treeBlocks: [],
    links: [],
    otherRefs: 0,
    subdirs: 0,
    onOrphanList: false,
    dirty: false,
    treeDirty: false,
    rebuildDir: false,
    cleared: false,
    created: false,
  };
}
