/**
 * The superblock (e2fsck's `super.c` and the superblock part of `unix.c`):
 * the first thing fsck reads and the last thing a repair writes.
 *
 * Checks: the primary superblock's magic, checksum, version, features,
 * geometry (FORMAT.md §2), state, error behaviour and reserved fields; the
 * backup copy in the last block (damaged, describing another layout, or
 * stale); a device smaller than the filesystem; the state (dirty, error
 * recorded) and the mount count.
 *
 * Gathers for later passes: the superblock in use ({@link FsckContext.sb},
 * the backup's when the primary is damaged) and the block size.
 *
 * Repairs: the primary is restored from an intact backup, or rewritten with
 * a correct checksum and fields; the backup is rewritten from the primary.
 * {@link writeSuperblock} does it at the end of a repairing run, when it also
 * records the check time, marks the filesystem clean (if nothing was left
 * uncorrected), zeroes the error record (FORMAT.md §3.2) and the mount count.
 *
 * {@link quickCheck} is the `-f`-less shortcut: a filesystem marked clean is
 * only scanned for the report's counts.
 * @module
 */
import type { BlockDevice } from "../device/device.ts";
import {
  COLL_MAGIC,
  COLL_RECORD_SIZE,
  COLL_TABLE_INO,
  COMPAT_BACKUP_SB,
  COMPAT_XATTR,
  FIRST_INO,
  INCOMPAT_EXTENTS,
  INCOMPAT_HTREE,
  INCOMPAT_JOURNAL,
  INCOMPAT_RECOVER,
  INCOMPAT_VECTORS,
  INODE_SIZE,
  JOURNAL_INO,
  MAX_BLOCK_SIZE,
  MIN_BLOCK_SIZE,
  RO_COMPAT_PARENT_PTR,
  ROOT_INO,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  SB_MAGIC,
  SB_OFFSET,
  SB_SIZE,
  STATE_CLEAN,
  STATE_DIRTY,
  STATE_ERROR,
  SUPPORTED_COMPAT,
  SUPPORTED_INCOMPAT,
  SUPPORTED_RO_COMPAT,
  VERSION_MAJOR,
} from "../format/constants.ts";
import { crc32c, crc32cSeeded } from "../format/crc.ts";
import { decodeExtentNode } from "../format/extent.ts";
import { decodeInode, inodeChecksumOk } from "../format/inode.ts";
import {
  decodeSuperblock,
  encodeSuperblock,
  metaRegions,
  regionLengths,
  regionsOverlap,
  type Superblock,
  superblockProblems,
} from "../format/superblock.ts";
import { FSCK_ERROR, type FsckContext, type FsckSeverity, type FsckStats, hex } from "./context.ts";

/** Incompatible features fsck understands. */
export const FSCK_INCOMPAT = SUPPORTED_INCOMPAT | INCOMPAT_JOURNAL | INCOMPAT_RECOVER;

/** Superblock fields that never change after mkfs: primary and backup must agree. */
const STATIC_SB_FIELDS: (keyof Superblock)[] = [
  "versionMajor",
  "featureCompat",
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
  "journalIno",
  "journalBlocks",
];

interface Issue {
  code: string;
  severity?: FsckSeverity;
  /** template values */
  v: Record<string, string | number>;
  /** this issue cannot be repaired by rewriting the superblock */
  noFix?: boolean;
  /** the repair to make when this copy is used */
  repair?: (sb: Superblock) => void;
}

interface Verdict {
  sb?: Superblock;
  /** cannot be used to check the filesystem */
  fatal: boolean;
  /** exit 8 even when nothing better exists (unknown incompat features) */
  unsupported: boolean;
  issues: Issue[];
}

const isError = (i: Issue) => (i.severity ?? "error") === "error";

/** Validates 1024 superblock bytes: every issue with a code, and whether the copy is usable. */
function judge(raw: Uint8Array): Verdict {
  const issues: Issue[] = [];
  const dv = new DataView(raw.buffer, raw.byteOffset, SB_SIZE);
  const magic = dv.getUint32(0, true);
  if (magic !== SB_MAGIC) {
    issues.push({ code: "SB_MAGIC", v: { found: hex(magic), want: hex(SB_MAGIC) } });
    return { fatal: true, unsupported: false, issues };
  }
  const want = crc32c(raw.subarray(0, 1020));
  const got = dv.getUint32(1020, true);
  if (want !== got) issues.push({ code: "SB_CHECKSUM", v: { stored: hex(got), computed: hex(want) } });
  let sb: Superblock;
  try {
    sb = decodeSuperblock(raw);
  } catch (e) {
    issues.push({ code: "SB_GEOMETRY", v: { detail: `Cannot be decoded: ${(e as Error).message}.` } });
    return { fatal: true, unsupported: false, issues };
  }
  let fatal = false;
  let unsupported = false;
  const geo = (m: string) => {
    issues.push({ code: "SB_GEOMETRY", v: { detail: m } });
    fatal = true;
  };
  if (sb.versionMajor !== VERSION_MAJOR) {
    issues.push({
      code: "SB_VERSION",
      v: { version: `${sb.versionMajor}.${sb.versionMinor}`, supported: VERSION_MAJOR },
    });
    fatal = true;
    unsupported = true;
  }
  const unknownIncompat = sb.featureIncompat & ~FSCK_INCOMPAT;
  if (unknownIncompat) {
    issues.push({
      code: "SB_FEATURES",
      noFix: true,
      v: {
        detail: `Uses incompatible features ${
          hex(unknownIncompat)
        } that this version does not understand; it cannot be checked safely. Use a newer vexfs.`,
      },
    });
    fatal = true;
    unsupported = true;
  }
  const unknownRo = sb.featureRoCompat & ~SUPPORTED_RO_COMPAT;
  if (unknownRo) {
    issues.push({
      code: "SB_FEATURES",
      severity: "warning",
      noFix: true,
      v: {
        detail: `Uses read-only-compatible features ${hex(unknownRo)} this version does not know; their structures ` +
          "are not checked.",
      },
    });
  }
  const unknownCompat = sb.featureCompat & ~SUPPORTED_COMPAT;
  if (unknownCompat) {
    issues.push({
      code: "SB_FEATURES",
      severity: "info",
      noFix: true,
      v: { detail: `Has compatible features ${hex(unknownCompat)} this version ignores.` },
    });
  }
  const required = [
    ["featureIncompat", INCOMPAT_EXTENTS | INCOMPAT_HTREE | INCOMPAT_VECTORS, "incompat EXTENTS|HTREE|VECTORS"],
    ["featureRoCompat", RO_COMPAT_PARENT_PTR, "ro_compat PARENT_PTR"],
    ["featureCompat", COMPAT_XATTR | COMPAT_BACKUP_SB, "compat XATTR|BACKUP_SB"],
  ] as const;
  for (const [field, need, name] of required) {
    if ((sb[field] & need) !== need) {
      issues.push({
        code: "SB_FEATURES",
        v: { detail: `The v1 feature flags ${name} are not all set (found ${hex(sb[field])}).` },
        repair: (s) => s[field] |= need,
      });
    }
  }
  if ((sb.featureIncompat & INCOMPAT_RECOVER) && !(sb.featureIncompat & INCOMPAT_JOURNAL)) {
    issues.push({
      code: "SB_FEATURES",
      v: { detail: "The RECOVER flag is set but the filesystem has no journal." },
      repair: (s) => s.featureIncompat &= ~INCOMPAT_RECOVER,
    });
  }
  if (sb.logBlockSize > 6) {
    geo(`Invalid block size exponent ${sb.logBlockSize} (0..6 allowed).`);
  } else {
    const bs = 1024 << sb.logBlockSize;
    if (bs < MIN_BLOCK_SIZE || bs > MAX_BLOCK_SIZE) geo(`Invalid block size ${bs}.`);
    if (sb.blockCount < 64) geo(`Block count ${sb.blockCount} is below the minimum of 64.`);
    if (sb.inodeCount < FIRST_INO) geo(`Inode count ${sb.inodeCount} is below ${FIRST_INO}.`);
    const want = regionLengths(sb.blockCount, sb.inodeCount, bs);
    if (sb.inodeTableBlocks !== want.inodeTableBlocks) {
      geo(
        `Inode table is ${sb.inodeTableBlocks} blocks; ${want.inodeTableBlocks} are needed for ${sb.inodeCount} inodes.`,
      );
    }
    if (sb.blockBitmapBlocks !== want.blockBitmapBlocks) {
      geo(
        `Block bitmap is ${sb.blockBitmapBlocks} blocks; ${want.blockBitmapBlocks} are needed for ${sb.blockCount} ` +
          "blocks.",
      );
    }
    if (sb.inodeBitmapBlocks !== want.inodeBitmapBlocks) {
      geo(
        `Inode bitmap is ${sb.inodeBitmapBlocks} blocks; ${want.inodeBitmapBlocks} are needed for ${sb.inodeCount} ` +
          "inodes.",
      );
    }
    if (regionsOverlap(sb, bs)) {
      geo("The layout regions (bitmaps, inode table, data) overlap or lie outside the filesystem.");
    }
  }
  if (sb.inodeSize !== INODE_SIZE) geo(`Inode size ${sb.inodeSize} is not ${INODE_SIZE}.`);
  if (sb.rootIno !== ROOT_INO || sb.collTableIno !== COLL_TABLE_INO || sb.firstIno !== FIRST_INO) {
    geo(
      `Reserved inode numbers are wrong (root ${sb.rootIno}, collection table ${sb.collTableIno}, first ${sb.firstIno}; ` +
        "expected 2, 3, 16).",
    );
  }
  if (sb.state < STATE_CLEAN || sb.state > STATE_ERROR) {
    issues.push({ code: "SB_STATE", v: { state: sb.state }, repair: (s) => s.state = STATE_DIRTY });
  }
  if (sb.errors < 1 || sb.errors > 3) {
    issues.push({
      code: "SB_FIELDS",
      severity: "warning",
      v: { detail: `Invalid error behaviour ${sb.errors} (1 continue, 2 remount read-only, 3 panic).` },
      repair: (s) => s.errors = 1,
    });
  }
  if (!(sb.featureIncompat & INCOMPAT_JOURNAL) && (sb.journalIno !== 0 || sb.journalBlocks !== 0)) {
    issues.push({
      code: "SB_FIELDS",
      severity: "warning",
      v: { detail: "The journal fields are not zero although the filesystem has no journal." },
      repair: (s) => {
        s.journalIno = 0;
        s.journalBlocks = 0;
      },
    });
  }
  return { sb, fatal, unsupported, issues };
}

/**
 * Reads and judges the superblocks and sets {@link FsckContext.sb}.
 * @returns an exit code when the filesystem cannot be checked at all (8), else undefined
 */
export function passSuperblock(ctx: FsckContext): number | undefined {
  const dev = ctx.dev;
  if (dev.size < SB_OFFSET + SB_SIZE) {
    ctx.note("NOT_VEXFS", {
      where: ctx.path,
      detail: `${ctx.path} is only ${dev.size} bytes: too small to hold a VexFS filesystem.`,
    });
    return FSCK_ERROR;
  }
  const primaryRaw = ctx.read(SB_OFFSET, SB_SIZE);
  const primary = judge(primaryRaw);
  const primaryBad = primary.fatal || primary.issues.some((i) => i.code === "SB_CHECKSUM");
  let backup: { v: Verdict; raw: Uint8Array; block: number } | undefined;
  let backupBeyondEnd = false;
  if (primary.sb && !primary.fatal) {
    const bs = 1024 << primary.sb.logBlockSize;
    const block = primary.sb.blockCount - 1;
    if (primary.sb.blockCount * bs > dev.size) backupBeyondEnd = true;
    else {
      const raw = ctx.read(block * bs, SB_SIZE);
      backup = { v: judge(raw), raw, block };
    }
  }
  const good = (b?: { v: Verdict }) => !!b && !b.v.fatal && !b.v.issues.some(isError);
  if (primaryBad && !good(backup)) {
    // the primary's geometry may be what is damaged: try the last block for every block size
    for (let log = 0; log <= 6; log++) {
      const bs = 1024 << log;
      const last = Math.floor(dev.size / bs) - 1;
      if (last < 63) continue;
      const raw = ctx.read(last * bs, SB_SIZE);
      const v = judge(raw);
      if (good({ v }) && v.sb!.logBlockSize === log && v.sb!.blockCount - 1 === last) {
        backup = { v, raw, block: last };
        backupBeyondEnd = false;
        break;
      }
    }
  }
  /** Reports a copy's issues; `restorable`: they all go away when the primary is restored from the backup. */
  const report = (v: Verdict, where: string, restorable: boolean) => {
    for (const i of v.issues) {
      if (ctx.ask(i.code, { where, severity: i.severity, noFix: !restorable, ...i.v })) ctx.sbDirty = true;
    }
  };
  if (primary.fatal && primary.issues.length === 1 && primary.issues[0].code === "SB_MAGIC" && !good(backup)) {
    ctx.note("NOT_VEXFS", {
      where: ctx.path,
      detail: `${ctx.path} does not hold a VexFS filesystem: no VexFS superblock at byte ${SB_OFFSET} and no backup ` +
        "superblock in the last block. If it should, the superblocks are destroyed; check that this is the right " +
        "device.",
    });
    return FSCK_ERROR;
  }
  let sb: Superblock;
  if (primaryBad && good(backup)) {
    sb = backup!.v.sb!;
    report(primary, "primary superblock", true);
    if (ctx.ask("SB_USING_BACKUP", { where: "primary superblock", block: backup!.block })) ctx.sbDirty = true;
    for (const i of backup!.v.issues) i.repair?.(sb);
  } else if (primary.fatal) {
    report(primary, "primary superblock", false);
    if (backup) report(backup.v, `backup superblock (block ${backup.block})`, false);
    ctx.note("NOT_VEXFS", {
      where: ctx.path,
      detail: primary.unsupported
        ? "This filesystem cannot be checked by this version of vexfs (see the superblock problems); use a newer vexfs."
        : "Neither the primary superblock nor a backup is usable, so the filesystem cannot be checked. Restore the " +
          "superblock from a copy or re-create the filesystem.",
    });
    return FSCK_ERROR;
  } else {
    sb = primary.sb!;
    for (const i of primary.issues) {
      if (ctx.ask(i.code, { where: "primary superblock", severity: i.severity, noFix: i.noFix, ...i.v })) {
        i.repair?.(sb);
        ctx.sbDirty = true;
      }
    }
    if (!backupBeyondEnd) {
      const b = backup;
      const where = `backup superblock (block ${sb.blockCount - 1})`;
      if (!b || b.v.fatal || b.v.issues.some(isError)) {
        const what = b?.v.issues.filter(isError).map((i) => i.code).join(", ") ?? "it cannot be read";
        if (ctx.ask("SB_BACKUP_BAD", { where, detail: `${what}.` })) ctx.backupDirty = true;
      } else {
        const differ: string[] = STATIC_SB_FIELDS.filter((f) => b.v.sb![f] !== sb[f]);
        if (b.v.sb!.label !== sb.label) differ.push("label");
        if (b.v.sb!.uuid.some((x, i) => x !== sb.uuid[i])) differ.push("uuid");
        if (differ.length) {
          if (ctx.ask("SB_BACKUP_MISMATCH", { where, fields: differ.join(", ") })) ctx.backupDirty = true;
        } else if (
          sb.state === STATE_CLEAN && !primaryBad && !ctx.replayed && !(sb.featureIncompat & INCOMPAT_RECOVER) &&
          b.raw.some((x, i) => x !== primaryRaw[i])
        ) {
          if (ctx.ask("SB_BACKUP_STALE", { where })) ctx.backupDirty = true;
        }
      }
    }
  }
  ctx.sb = sb;
  const bs = 1024 << sb.logBlockSize;
  ctx.bs = bs;
  ctx.stats.blockCount = sb.blockCount;
  if (sb.blockCount * bs > dev.size) {
    ctx.note("DEVICE_TRUNCATED", {
      where: ctx.path,
      detail: `The filesystem has ${sb.blockCount} blocks of ${bs} bytes (${
        sb.blockCount * bs
      } bytes) but the device holds only ${dev.size} bytes: the image was truncated or the device shrank. Blocks from ${
        Math.floor(dev.size / bs)
      } on are lost; grow it back to ${sb.blockCount * bs} bytes before anything else.`,
    });
    if (ctx.repairing) return FSCK_ERROR;
  }
  if (sb.state === STATE_DIRTY) {
    if (ctx.ask("SB_DIRTY", { where: "superblock" })) ctx.sbDirty = true;
  }
  const errors = sb.errorCount ?? 0;
  if (sb.state === STATE_ERROR || errors > 0) {
    const first = sb.firstErrorTime
      ? ` (first: ${sb.firstErrorOp || "?"} on inode ${sb.firstErrorIno} at ${
        new Date(sb.firstErrorTime * 1000).toISOString()
      }, errno ${sb.firstErrorErrno})`
      : "";
    if (ctx.ask("SB_ERROR_STATE", { where: "superblock", count: Math.max(errors, 1), first })) ctx.sbDirty = true;
  }
  if (sb.maxMountCount > 0 && sb.mountCount >= sb.maxMountCount) {
    if (ctx.ask("SB_MOUNT_COUNT", { where: "superblock", count: sb.mountCount, max: sb.maxMountCount })) {
      ctx.sbDirty = true;
    }
  }
  return undefined;
}

/**
 * End of a repairing run: when anything was repaired, records the check
 * (check_time, mount count 0), marks the filesystem clean unless errors were
 * left, zeroes the error record, and writes the primary and the backup
 * superblock. Nothing is written in check mode or when nothing changed.
 */
export function writeSuperblock(ctx: FsckContext): void {
  if (!ctx.repairing || (!ctx.sbDirty && !ctx.backupDirty && ctx.fixes === 0)) return;
  const sb = ctx.sb;
  const now = Math.floor(Date.now() / 1000);
  if (!ctx.uncorrected) {
    sb.state = STATE_CLEAN;
    sb.errorCount = 0;
    sb.firstErrorErrno = sb.lastErrorErrno = 0;
    sb.firstErrorTime = sb.lastErrorTime = 0;
    sb.firstErrorIno = sb.lastErrorIno = 0;
    sb.firstErrorOp = sb.lastErrorOp = "";
    sb.mountCount = 0;
    sb.checkTime = now;
  }
  sb.writeTime = now;
  const raw = encodeSuperblock(sb);
  ctx.write(SB_OFFSET, raw);
  ctx.write((sb.blockCount - 1) * ctx.bs, raw);
}

// ------------------------------------------------------------------ the -f-less shortcut

/**
 * Whether a filesystem may be skipped without `-f`, as e2fsck skips one
 * marked clean: a valid primary superblock, state clean, no RECOVER flag,
 * an empty journal, no recorded errors and the mount count below its
 * maximum. The counts of the report come from a quick scan of the inode
 * table and the collection table, which also verifies their checksums: any
 * failure forces the full check.
 * @returns the counts, or a reason to check fully
 */
export function quickCheck(dev: BlockDevice): { stats: FsckStats } | { reason: string } {
  if (dev.size < SB_OFFSET + SB_SIZE) return { reason: "too small" };
  const raw = new Uint8Array(SB_SIZE);
  dev.read(SB_OFFSET, raw);
  if (superblockProblems(raw, dev.size).length) return { reason: "the superblock has problems" };
  const sb = decodeSuperblock(raw);
  if (sb.featureIncompat & ~FSCK_INCOMPAT) return { reason: "unknown features" };
  if (sb.state !== STATE_CLEAN) return { reason: "not cleanly unmounted" };
  if (sb.featureIncompat & INCOMPAT_RECOVER) return { reason: "the journal needs recovery" };
  if ((sb.errorCount ?? 0) > 0) return { reason: "errors were recorded" };
  if (sb.maxMountCount > 0 && sb.mountCount >= sb.maxMountCount) return { reason: "maximal mount count reached" };
  const bs = 1024 << sb.logBlockSize;
  const ibm = new Uint8Array(sb.inodeBitmapBlocks * bs);
  dev.read(sb.inodeBitmapStart * bs, ibm);
  const stats: FsckStats = {
    inodes: 0,
    dirs: 0,
    files: 0,
    symlinks: 0,
    blocksUsed: sb.blockCount - sb.freeBlocks,
    blockCount: sb.blockCount,
    vectors: 0,
    collections: 0,
    orphans: 0,
  };
  const readInode = (ino: number) => {
    const b = new Uint8Array(INODE_SIZE);
    dev.read(sb.inodeTableStart * bs + (ino - 1) * INODE_SIZE, b);
    return b;
  };
  const perChunk = 1024;
  for (let first = 1; first <= sb.inodeCount; first += perChunk) {
    const last = Math.min(sb.inodeCount, first + perChunk - 1);
    let any = false;
    for (let ino = first; ino <= last && !any; ino++) any = (ibm[(ino - 1) >>> 3] & (1 << ((ino - 1) & 7))) !== 0;
    if (!any) continue;
    const chunk = new Uint8Array((last - first + 1) * INODE_SIZE);
    dev.read(sb.inodeTableStart * bs + (first - 1) * INODE_SIZE, chunk);
    for (let ino = Math.max(first, ROOT_INO); ino <= last; ino++) {
      const reserved = ino < FIRST_INO && !(ino === ROOT_INO || ino === COLL_TABLE_INO ||
        (ino === JOURNAL_INO && (sb.featureIncompat & INCOMPAT_JOURNAL)));
      if (reserved || !(ibm[(ino - 1) >>> 3] & (1 << ((ino - 1) & 7)))) continue;
      const r = chunk.subarray((ino - first) * INODE_SIZE, (ino - first + 1) * INODE_SIZE);
      if (!inodeChecksumOk(ino, r)) return { reason: `inode ${ino} fails its checksum` };
      const d = decodeInode(ino, r, false);
      const t = d.mode & S_IFMT;
      stats.inodes++;
      if (t === S_IFREG && !(d.flags & 0x4)) stats.files++;
      if (t === S_IFDIR) stats.dirs++;
      if (t === S_IFLNK) stats.symlinks++;
    }
  }
  if (sb.orphanHead) return { reason: "the orphan list is not empty" };
  // The bitmaps must agree with the superblock's counts and keep metadata in use: what the
  // engine checks before it trusts them (it refuses to mount otherwise and sends the user here).
  let freeInodes = 0;
  for (let i = 0; i < sb.inodeCount; i++) if (!(ibm[i >>> 3] & (1 << (i & 7)))) freeInodes++;
  if (freeInodes !== sb.freeInodes) return { reason: "the inode bitmap disagrees with the free inode count" };
  for (let i = 0; i < FIRST_INO - 1; i++) {
    if (!(ibm[i >>> 3] & (1 << (i & 7)))) return { reason: "the inode bitmap marks reserved inodes free" };
  }
  const bbm = new Uint8Array(sb.blockBitmapBlocks * bs);
  dev.read(sb.blockBitmapStart * bs, bbm);
  let freeBlocks = 0;
  for (let i = 0; i < sb.blockCount; i++) if (!(bbm[i >>> 3] & (1 << (i & 7)))) freeBlocks++;
  if (freeBlocks !== sb.freeBlocks) return { reason: "the block bitmap disagrees with the free block count" };
  for (const r of [{ start: 0, length: sb.firstDataBlock }, ...metaRegions(sb)]) {
    for (let i = r.start; i < r.start + r.length; i++) {
      if (!(bbm[i >>> 3] & (1 << (i & 7)))) return { reason: "the block bitmap marks metadata free" };
    }
  }
  // the journal: s_start (big-endian u32 at 0x1C of journal block 0) must be 0
  if (sb.featureIncompat & INCOMPAT_JOURNAL) {
    try {
      const j = decodeInode(JOURNAL_INO, readInode(JOURNAL_INO));
      const root = decodeExtentNode(j.data, JOURNAL_INO);
      const first = root.depth === 0
        ? (root as { extents: { logical: number; physical: number }[] }).extents[0]
        : undefined;
      if (!first || first.logical !== 0) return { reason: "the journal inode is not plain" };
      const jb = new Uint8Array(1024);
      dev.read(first.physical * bs, jb);
      if (new DataView(jb.buffer).getUint32(0x1c, false) !== 0) return { reason: "the journal needs recovery" };
    } catch {
      return { reason: "the journal cannot be read" };
    }
  }
  // collections: records verified, vectors counted
  if (sb.collCount) {
    try {
      const t = decodeInode(COLL_TABLE_INO, readInode(COLL_TABLE_INO));
      const root = decodeExtentNode(t.data, COLL_TABLE_INO);
      if (root.depth !== 0) return { reason: "the collection table is large" };
      for (const e of (root as { extents: { logical: number; physical: number; length: number }[] }).extents) {
        const buf = new Uint8Array(e.length * bs);
        if (e.physical + e.length > sb.blockCount) return { reason: "the collection table is damaged" };
        dev.read(e.physical * bs, buf);
        for (let off = 0; off + COLL_RECORD_SIZE <= buf.length; off += COLL_RECORD_SIZE) {
          const id = (e.logical * bs + off) / COLL_RECORD_SIZE + 1;
          if ((id - 1) * COLL_RECORD_SIZE >= t.size) break;
          const r = buf.subarray(off, off + COLL_RECORD_SIZE);
          const dv = new DataView(r.buffer, r.byteOffset, COLL_RECORD_SIZE);
          if (dv.getUint32(0, true) !== COLL_MAGIC) continue;
          if (dv.getUint32(252, true) !== crc32cSeeded(id, r.subarray(0, 252))) {
            return { reason: `collection ${id} fails its checksum` };
          }
          stats.collections++;
          stats.vectors += Number(dv.getBigUint64(24, true));
        }
      }
    } catch {
      return { reason: "the collection table cannot be read" };
    }
  }
  return { stats };
}
