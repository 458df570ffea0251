/**
 * Pass 1 (e2fsck's `pass1.c`): every inode marked in use in the inode bitmap,
 * plus the reserved root (2), collection table (3) and, with a journal, the
 * journal inode (4), read straight from the inode table.
 *
 * Checks: the inode checksum, the file type, flags that are unknown or
 * contradict the type, stale fields (coll_id, vec_slot, orphan_next),
 * timestamps, the extent tree (node headers, tree block checksums, depth,
 * order, index keys, ranges, extent flags), the xattr block (and the POSIX
 * ACLs in it, src/fsck/acls.ts), the size
 * against the mapped blocks (directories, symlinks, files), and the `blocks`
 * count. The root must be a directory and the collection table an internal
 * regular file.
 *
 * Gathers for later passes: an {@link InodeInfo} per inode with its decoded
 * fields, its sane extents and its extent tree blocks; {@link ensureInode}
 * loads an inode later passes meet that is not in the bitmap (a directory
 * entry, the orphan list or a slot map naming it). Block ownership is
 * computed from these lists in pass 1b, once every inode is known.
 *
 * Repairs, beside each check: recompute a wrong checksum when the rest of
 * the inode is consistent, else clear the inode (e2fsck's "inode checksum
 * does not match inode"); clear bad flags and stale fields; drop bad extents
 * and rebuild the tree; drop a corrupt xattr block; free blocks mapped past
 * the end; clear impossible symlinks; mark the root and the collection table
 * for re-creation.
 * @module
 */
import {
  COLL_TABLE_INO,
  EXT_ENTRY_SIZE,
  EXT_HEADER_SIZE,
  EXT_MAGIC,
  EXT_MAX_DEPTH,
  EXT_MAX_LEN,
  EXT_ROOT_MAX,
  EXT_UNWRITTEN,
  FIRST_INO,
  IFL_COLL_ROOT,
  IFL_HAS_VECTOR,
  IFL_INLINE,
  IFL_INTERNAL,
  IFL_KNOWN,
  IFL_ORPHAN,
  IFL_XATTR_IN_STORE,
  IFL_XATTR_STORE,
  INCOMPAT_JOURNAL,
  INODE_DATA_SIZE,
  INODE_SIZE,
  JOURNAL_INO,
  MAX_FILE_SIZE,
  ROOT_INO,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  SYMLINK_MAX,
  XATTR_MAGIC,
} from "../format/constants.ts";
import { blockChecksumOk, type Extent, extentBlockMax, setBlockChecksum } from "../format/extent.ts";
import { decodeInode, inodeChecksumOk } from "../format/inode.ts";
import { decodeXattrBlock } from "../format/xattr.ts";
import { PROBLEM_CODES } from "./problems.ts";
import { checkBlockAcls } from "./acls.ts";
import {
  clearInode,
  errText,
  type FsckContext,
  FT_OF,
  hex,
  type InodeInfo,
  newInodeInfo,
  type ProblemContext,
  typeName,
} from "./context.ts";

/** A finding of a pass-1 check: reported (and repaired) once all of an inode's checks have run. */
interface Finding {
  code: string;
  ctx: ProblemContext;
  fix: () => void;
}

/** Whether inode `ino`'s bit is set in the inode bitmap read from disk. */
export function bitmapHas(ctx: FsckContext, ino: number): boolean {
  const i = ino - 1;
  return (ctx.diskInodeBitmap![i >>> 3] & (1 << (i & 7))) !== 0;
}

/** Whether the filesystem has a journal (inode 4 in use). */
export function hasJournal(ctx: FsckContext): boolean {
  return (ctx.sb.featureIncompat & INCOMPAT_JOURNAL) !== 0;
}

/** Reads the inode bitmap into {@link FsckContext.diskInodeBitmap} once. */
export function loadInodeBitmap(ctx: FsckContext): void {
  const sb = ctx.sb;
  ctx.diskInodeBitmap ??= ctx.read(sb.inodeBitmapStart * ctx.bs, sb.inodeBitmapBlocks * ctx.bs);
}

/** Runs pass 1 over the inode table. */
export function passInodes(ctx: FsckContext): void {
  const sb = ctx.sb;
  const bs = ctx.bs;
  loadInodeBitmap(ctx);
  const journal = hasJournal(ctx);
  const total = sb.inodeCount;
  const perChunk = Math.max(1, Math.floor((256 * 1024) / INODE_SIZE));
  let lastReport = 0;
  for (let first = 1; first <= total; first += perChunk) {
    const last = Math.min(total, first + perChunk - 1);
    const want: number[] = [];
    for (let ino = first; ino <= last; ino++) {
      const reserved = ino === ROOT_INO || ino === COLL_TABLE_INO || (journal && ino === JOURNAL_INO);
      if (reserved || (ino >= FIRST_INO && bitmapHas(ctx, ino))) want.push(ino);
    }
    if (want.length) {
      let chunk: Uint8Array | undefined;
      try {
        chunk = ctx.read(sb.inodeTableStart * bs + (first - 1) * INODE_SIZE, (last - first + 1) * INODE_SIZE);
      } catch { /* read one by one below, reporting each failure */ }
      for (const ino of want) {
        if (ctx.infos.has(ino)) continue; // the journal inode, loaded by the journal pass
        loadInode(ctx, ino, chunk?.subarray((ino - first) * INODE_SIZE, (ino - first + 1) * INODE_SIZE));
      }
    }
    if (last - lastReport >= 4096 || last === total) {
      ctx.progress("inodes", last, total);
      lastReport = last;
    }
  }
  checkRoot(ctx);
  checkCollTable(ctx);
}

function checkRoot(ctx: FsckContext): void {
  const root = ctx.infos.get(ROOT_INO)!;
  if (root.usable && root.type === S_IFDIR) return;
  const what = root.usable
    ? `a ${typeName(root.type)}, not a directory`
    : root.cleared
    ? "cleared (it was damaged)"
    : `unusable (${root.why})`;
  if (
    ctx.ask("ROOT_BAD", {
      ino: ROOT_INO,
      detail: `The root directory inode is ${what}; everything below it is unreachable.`,
    })
  ) {
    if (root.usable) clearInode(ctx, root, "cleared: the root was not a directory");
    ctx.recreateRoot = true;
  }
}

function checkCollTable(ctx: FsckContext): void {
  const table = ctx.infos.get(COLL_TABLE_INO)!;
  ctx.internalRole.set(COLL_TABLE_INO, "collection table");
  if (table.usable && table.type === S_IFREG) {
    if (!(table.d!.flags & IFL_INTERNAL)) {
      if (
        ctx.ask("COLL_TABLE_BAD", {
          ino: COLL_TABLE_INO,
          detail: "The collection table lacks the INTERNAL flag.",
          fix: "Set the flag",
          next: "",
        })
      ) {
        table.d!.flags |= IFL_INTERNAL;
        table.dirty = true;
      }
    }
    return;
  }
  const what = table.usable
    ? `a ${typeName(table.type)}`
    : table.cleared
    ? "cleared (it was damaged)"
    : `unusable (${table.why})`;
  if (
    ctx.ask("COLL_TABLE_BAD", {
      ino: COLL_TABLE_INO,
      detail: `The collection table inode is ${what}; it must be an internal regular file. Every collection is lost.`,
    })
  ) {
    if (table.usable) clearInode(ctx, table, "cleared: not the collection table");
    ctx.recreateCollTable = true;
  }
}

/** The {@link InodeInfo} of `ino`, loading and checking it (pass 1's checks and repairs) on first use. */
export function ensureInode(ctx: FsckContext, ino: number): InodeInfo {
  return ctx.infos.get(ino) ?? loadInode(ctx, ino);
}

/** Reads, checks and (when repairing) fixes one inode; `raw` are its 256 bytes if already read. */
function loadInode(ctx: FsckContext, ino: number, raw?: Uint8Array): InodeInfo {
  const info = newInodeInfo(ino, bitmapHas(ctx, ino));
  ctx.infos.set(ino, info);
  try {
    raw ??= ctx.read(ctx.sb.inodeTableStart * ctx.bs + (ino - 1) * INODE_SIZE, INODE_SIZE);
  } catch (e) {
    info.why = `unreadable: ${errText(e)}`;
    ctx.note("READ_ERROR", { ino, what: "The inode", err: errText(e) });
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
  if (info.d.mode === 0 && info.csumOk) info.why = "it is a freed inode (mode 0)";
  else if (!FT_OF[type]) {
    info.why = raw.every((x) => x === 0)
      ? "it is all zeros"
      : `its mode 0${info.d.mode.toString(8)} has no valid file type`;
  } else info.usable = true;
  if (!info.usable) return info;
  let findings: Finding[];
  try {
    findings = checkInodeBody(ctx, info);
  } catch (e) {
    findings = [{
      code: "INODE_FIELDS",
      ctx: { ino, field: "the inode", value: "unreadable", reason: errText(e) },
      fix() {},
    }];
  }
  const errors = findings.filter((f) => (f.ctx.severity ?? PROBLEM_CODES[f.code].severity) === "error");
  if (!info.csumOk && errors.length) {
    const what = [...new Set(errors.map((f) => f.code))].join(", ");
    if (ctx.ask("INODE_CORRUPT", { ino, what })) clearInode(ctx, info, "cleared: damaged");
  } else {
    for (const f of findings) {
      if (!info.usable) break;
      if (ctx.ask(f.code, f.ctx)) {
        f.fix();
        info.dirty = true;
      }
    }
    if (!info.csumOk && info.usable && ctx.ask("INODE_CHECKSUM", { ino })) info.dirty = true;
  }
  return info;
}

/** Whether `xattr_block` is a block number (FORMAT.md §7.1), not the inode number of a store (§7.2). */
export function hasXattrBlock(info: InodeInfo): boolean {
  return info.d!.xattrBlock !== 0 && !(info.d!.flags & IFL_XATTR_IN_STORE);
}

/** Blocks an inode owns by its lists: data, extent tree and xattr block (a store counts its own). */
export function ownedBlocks(ctx: FsckContext, info: InodeInfo): number {
  let n = info.treeBlocks.length;
  for (const e of info.exts) n += e.length;
  if (hasXattrBlock(info) && ctx.inDataArea(info.d!.xattrBlock)) n++;
  return n;
}

function checkInodeBody(ctx: FsckContext, info: InodeInfo): Finding[] {
  const d = info.d!;
  const ino = info.ino;
  const t = info.type;
  const out: Finding[] = [];
  const add = (code: string, c: Omit<ProblemContext, "ino">, fix: () => void) =>
    out.push({ code, ctx: { ino, ...c }, fix });
  const flag = (detail: string, clear: () => void) => add("INODE_FLAGS", { detail }, clear);
  if (d.flags & ~IFL_KNOWN) {
    flag(`Unknown flags ${hex(d.flags & ~IFL_KNOWN)} are set.`, () => d.flags &= IFL_KNOWN);
  }
  if ((d.flags & IFL_INLINE) && t !== S_IFLNK) {
    flag(`The INLINE flag is set on a ${typeName(t)}; only symlinks store data inline.`, () => d.flags &= ~IFL_INLINE);
  }
  if ((d.flags & IFL_COLL_ROOT) && t !== S_IFDIR) {
    flag(`The COLL_ROOT flag is set on a ${typeName(t)}; only directories can be collection roots.`, () => {
      d.flags &= ~IFL_COLL_ROOT;
      if (!(d.flags & IFL_HAS_VECTOR)) d.collId = 0;
    });
  }
  const internal = (d.flags & IFL_INTERNAL) !== 0;
  if ((d.flags & IFL_HAS_VECTOR) && (t !== S_IFREG || internal)) {
    flag(
      `The HAS_VECTOR flag is set on a ${internal ? "internal file" : typeName(t)}; only regular files carry vectors.`,
      () => {
        d.flags &= ~IFL_HAS_VECTOR;
        d.vecSlot = 0;
        if (!(d.flags & IFL_COLL_ROOT) || t !== S_IFDIR) d.collId = 0;
      },
    );
  }
  if (internal && t !== S_IFREG) {
    flag(`The INTERNAL flag is set on a ${typeName(t)}; internal files are regular files.`, () => {
      d.flags &= ~IFL_INTERNAL;
    });
  }
  if (!(d.flags & (IFL_HAS_VECTOR | IFL_COLL_ROOT)) && d.collId !== 0) {
    add("INODE_FIELDS", {
      field: "coll_id",
      value: d.collId,
      reason: "the inode neither carries a vector nor roots a collection",
    }, () => d.collId = 0);
  }
  if (!(d.flags & IFL_HAS_VECTOR) && d.vecSlot !== 0) {
    add("INODE_FIELDS", { field: "vec_slot", value: d.vecSlot, reason: "the inode carries no vector" }, () => {
      d.vecSlot = 0;
    });
  }
  if (!(d.flags & IFL_ORPHAN) && d.orphanNext !== 0) {
    add("INODE_FIELDS", { field: "orphan_next", value: d.orphanNext, reason: "the inode is not an orphan" }, () => {
      d.orphanNext = 0;
    });
  }
  for (
    const [name, ts] of [["atime", d.atime], ["mtime", d.mtime], ["ctime", d.ctime], ["crtime", d.crtime]] as const
  ) {
    if (ts.nsec >= 1e9) add("INODE_TIME", { name, nsec: ts.nsec }, () => ts.nsec = 0);
  }
  // xattr block (a store is checked by the xattr store phase)
  if ((d.flags & IFL_XATTR_STORE) && !(internal && t === S_IFREG)) {
    flag("The XATTR_STORE flag is set on an inode that is not an internal regular file.", () => {
      d.flags &= ~IFL_XATTR_STORE;
    });
  }
  if (d.xattrBlock && !(d.flags & IFL_XATTR_IN_STORE)) {
    const b = d.xattrBlock;
    if (!ctx.inDataArea(b)) {
      add("XATTR_RANGE", { block: b, lo: ctx.sb.firstDataBlock, hi: ctx.sb.blockCount - 2 }, () => {
        d.xattrBlock = 0;
      });
    } else {
      const drop = () => {
        d.xattrBlock = 0;
        ctx.freeBlock(b);
      };
      const found = checkXattr(ctx, ino, b);
      for (const f of found) add(f.code, f.ctx, drop);
      if (!found.length) { for (const f of checkBlockAcls(ctx, info, b)) add(f.code, f.ctx, f.fix); // src/fsck/acls.ts
       }
    }
  }
  // blocks
  const before = out.length;
  if ((d.flags & IFL_INLINE) && t === S_IFLNK) {
    if (d.size < 1 || d.size > INODE_DATA_SIZE) {
      add("SYMLINK_SIZE", {
        detail: `The inline symlink claims ${d.size} bytes but an inline target holds 1..${INODE_DATA_SIZE}.`,
      }, () => clearInode(ctx, info, "cleared: impossible symlink"));
    }
  } else {
    for (const f of walkExtents(ctx, info)) out.push(f);
    for (const f of checkSize(ctx, info)) out.push(f);
  }
  const owned = ownedBlocks(ctx, info);
  if (owned !== d.blocks && out.length === before) {
    add("INODE_BLOCKS", { have: d.blocks, owned }, () => d.blocks = ownedBlocks(ctx, info));
  }
  return out;
}

/** Checks an inode's xattr block: findings without repairs (the caller drops the block). */
function checkXattr(ctx: FsckContext, ino: number, block: number): { code: string; ctx: ProblemContext }[] {
  let b: Uint8Array;
  try {
    b = ctx.readBlock(block);
  } catch (e) {
    return [{ code: "READ_ERROR", ctx: { what: `The xattr block ${block}`, err: errText(e), noFix: true } }];
  }
  const tail = `xattr block ${block}`;
  const magic = new DataView(b.buffer).getUint32(0, true);
  if (magic !== XATTR_MAGIC) {
    return [{
      code: "XATTR_FORMAT",
      ctx: { tail, detail: `The xattr block has bad magic ${hex(magic)}: it is not an xattr block.` },
    }];
  }
  const out: { code: string; ctx: ProblemContext }[] = [];
  if (!blockChecksumOk(b, ino)) out.push({ code: "XATTR_CHECKSUM", ctx: { tail } });
  const copy = b.slice();
  setBlockChecksum(copy, ino);
  try {
    decodeXattrBlock(copy, ino);
  } catch (e) {
    out.push({
      code: "XATTR_FORMAT",
      ctx: { tail, detail: `The xattr block is malformed (${errText(e).replace(/^inode \d+: /, "")}).` },
    });
  }
  return out;
}

/**
 * Walks an inode's extent tree: verifies it and fills `info.exts` with the
 * sane extents and `info.treeBlocks` with the tree blocks. Each finding's
 * repair marks the tree for a rewrite without the bad entries.
 */
function walkExtents(ctx: FsckContext, info: InodeInfo): Finding[] {
  const ino = info.ino;
  const bs = ctx.bs;
  const findings: Finding[] = [];
  const rebuild = () => {
    info.treeDirty = true;
  };
  const err = (code: string, tail: string, detail: string, fix = rebuild) =>
    findings.push({ code, ctx: { ino, tail, detail }, fix });
  const out: Extent[] = [];
  const tree: number[] = [];
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
        `The extent node has bad magic ${hex(magic)} (expected ${hex(EXT_MAGIC)}); the blocks it maps are lost to ` +
          "this file.",
      );
      return;
    }
    if (max !== expectMax) err("EXTENT_HEADER", loc, `The extent node capacity is ${max}, expected ${expectMax}.`);
    const cap = Math.floor((buf.length - EXT_HEADER_SIZE - (expectDepth === null ? 0 : 4)) / EXT_ENTRY_SIZE);
    if (entries > Math.min(max, cap)) {
      err("EXTENT_HEADER", loc, `The extent node claims ${entries} entries but holds at most ${Math.min(max, cap)}.`);
      entries = Math.min(max, cap);
    }
    if (depth > EXT_MAX_DEPTH || (expectDepth !== null && depth !== expectDepth)) {
      err(
        "EXTENT_DEPTH",
        loc,
        `The extent node has depth ${depth}, expected ${expectDepth ?? `at most ${EXT_MAX_DEPTH}`}; its subtree is ` +
          "ignored.",
      );
      return;
    }
    if (depth > 0 && entries === 0) err("EXTENT_HEADER", loc, "An extent index node has no entries.");
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
        err("EXTENT_RANGE", loc, `Entry ${i} has an out-of-range logical block; it is ignored.`);
        continue;
      }
      if (depth === 0) {
        const physical = u64(o + 8);
        const length = dv.getUint32(o + 16, true);
        let flags = dv.getUint32(o + 20, true);
        const what = `file blocks ${logical}..${logical + length - 1} -> device blocks ${physical}..${
          physical + length - 1
        }`;
        if (length < 1 || length > EXT_MAX_LEN) {
          err("EXTENT_RANGE", loc, `Extent ${i} has length ${length} (1..${EXT_MAX_LEN} allowed); it is ignored.`);
          continue;
        }
        if (logical < prevEnd) {
          err(
            "EXTENT_OVERLAP",
            loc,
            `Extent ${i} (${what}) overlaps or precedes the previous extent (which ends before file block ` +
              `${prevEnd}); it is ignored.`,
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
        if (physical < 0 || !ctx.inDataArea(physical, length)) {
          err(
            "EXTENT_RANGE",
            loc,
            `Extent ${i} (${what}) lies outside the data area (${ctx.sb.firstDataBlock}..${
              ctx.sb.blockCount - 2
            }); it is ignored.`,
          );
          continue;
        }
        if (logical + length > MAX_FILE_SIZE / bs + 1) {
          err("EXTENT_RANGE", loc, `Extent ${i} (${what}) maps beyond the 16 TiB file size limit; it is ignored.`);
          continue;
        }
        const ext: Extent = { logical, physical, length, flags };
        if (flags & ~EXT_UNWRITTEN) {
          findings.push({
            code: "EXTENT_FLAGS",
            ctx: { ino, tail: loc, i, what, flags: hex(flags & ~EXT_UNWRITTEN) },
            fix: () => {
              ext.flags &= EXT_UNWRITTEN;
              info.treeDirty = true;
            },
          });
          flags &= EXT_UNWRITTEN;
        }
        prevEnd = logical + length;
        out.push(ext);
      } else {
        const child = u64(o + 8);
        if (logical <= prevKey) {
          err("EXTENT_ORDER", loc, `Index entries ${i - 1} and ${i} are not in increasing file-block order.`);
        }
        prevKey = Math.max(prevKey, logical);
        if (child < 0 || !ctx.inDataArea(child)) {
          err(
            "EXTENT_RANGE",
            loc,
            `Index entry ${i} points to block ${child}, outside the data area; the extents below it are lost.`,
          );
          continue;
        }
        if (seen.has(child)) {
          err("EXTENT_ORDER", loc, `Index entry ${i} points to block ${child}, which this tree already uses.`);
          continue;
        }
        seen.add(child);
        let cb: Uint8Array;
        try {
          cb = ctx.readBlock(child);
        } catch (e) {
          err("READ_ERROR", loc, `Extent tree block ${child} cannot be read: ${errText(e)}.`);
          continue;
        }
        const cloc = `extent tree block ${child}`;
        if (!blockChecksumOk(cb, ino)) {
          findings.push({ code: "EXTENT_CHECKSUM", ctx: { ino, tail: cloc }, fix: rebuild });
        }
        tree.push(child);
        let nextKey = hi;
        for (let j = i + 1; j < entries; j++) {
          const k = u64(EXT_HEADER_SIZE + j * EXT_ENTRY_SIZE);
          if (k > logical) {
            nextKey = Math.min(hi, k);
            break;
          }
        }
        visit(cb, cloc, depth - 1, extentBlockMax(bs), Math.max(lo, logical), nextKey, logical);
      }
    }
  };
  visit(info.d!.data, "extent root", null, EXT_ROOT_MAX, 0, Number.MAX_SAFE_INTEGER, null);
  info.exts = out;
  info.treeBlocks = tree;
  // A READ_ERROR from the walk cannot be repaired by itself; the rest rebuild the tree.
  for (const f of findings) {
    if (f.code === "READ_ERROR") {
      f.ctx = { ino, what: String(f.ctx.tail), err: String(f.ctx.detail), noFix: true };
    }
  }
  return findings;
}

/** Size checks against the (sane) extents. */
function checkSize(ctx: FsckContext, info: InodeInfo): Finding[] {
  const d = info.d!;
  const bs = ctx.bs;
  const t = info.type;
  const ino = info.ino;
  const out: Finding[] = [];
  const exts = info.exts;
  if (t === S_IFDIR) {
    const rebuild = () => {
      info.rebuildDir = true;
    };
    const nblk = d.size / bs;
    if (d.size % bs !== 0 || d.size < bs) {
      out.push({
        code: "DIR_SIZE",
        ctx: { ino, detail: `The directory size ${d.size} is not a positive multiple of the block size ${bs}.` },
        fix: rebuild,
      });
      return out;
    }
    let expect = 0;
    let ok = true;
    for (const e of exts) {
      if (e.logical !== expect || (e.flags & EXT_UNWRITTEN)) ok = false;
      expect = e.logical + e.length;
    }
    if (!ok || expect !== nblk) {
      out.push({
        code: "DIR_SIZE",
        ctx: {
          ino,
          detail: `The directory is ${d.size} bytes (${nblk} blocks) but its extents map ${
            exts.reduce((a, e) => a + e.length, 0)
          } blocks${ok ? "" : " with holes or unwritten extents"}; every directory block must be mapped and nothing ` +
            "beyond.",
        },
        fix: rebuild,
      });
    }
    return out;
  }
  if (t === S_IFREG || t === S_IFLNK) {
    if (d.size > MAX_FILE_SIZE) {
      const mappedEnd = exts.length ? exts[exts.length - 1].logical + exts[exts.length - 1].length : 0;
      const to = Math.min(MAX_FILE_SIZE, mappedEnd * bs);
      out.push({
        code: "INODE_SIZE",
        ctx: {
          ino,
          detail: `The size ${d.size} exceeds the maximum file size of ${MAX_FILE_SIZE} bytes.`,
          fix: `Set it to ${to}`,
        },
        fix: () => d.size = to,
      });
    }
    const eofBlk = Math.ceil(Math.min(d.size, MAX_FILE_SIZE) / bs);
    const past = (e: Extent) => e.logical + e.length > eofBlk && !((e.flags & EXT_UNWRITTEN) && t === S_IFREG);
    const first = exts.find(past);
    if (first) {
      out.push({
        code: "INODE_SIZE",
        ctx: {
          ino,
          detail: `File blocks ${Math.max(first.logical, eofBlk)}..${
            first.logical + first.length - 1
          } are mapped past the end of the file (size ${d.size} bytes, ${eofBlk} blocks).`,
        },
        fix: () => {
          const kept: Extent[] = [];
          for (const e of info.exts) {
            if (!past(e)) kept.push(e);
            else {
              const keep = Math.max(0, eofBlk - e.logical);
              for (let b = e.physical + keep; b < e.physical + e.length; b++) ctx.freeBlock(b);
              if (keep > 0) kept.push({ ...e, length: keep });
            }
          }
          info.exts = kept;
          info.treeDirty = true;
        },
      });
    }
    if (t === S_IFLNK) {
      const clear = () => clearInode(ctx, info, "cleared: impossible symlink");
      if (d.size <= INODE_DATA_SIZE || d.size > SYMLINK_MAX) {
        out.push({
          code: "SYMLINK_SIZE",
          ctx: {
            ino,
            detail: `The symlink stored in blocks claims ${d.size} bytes; block-stored targets are ${
              INODE_DATA_SIZE + 1
            }..${SYMLINK_MAX} bytes.`,
          },
          fix: clear,
        });
      } else {
        const mapped = exts.filter((e) => !(e.flags & EXT_UNWRITTEN)).reduce(
          (a, e) => a + Math.max(0, Math.min(e.logical + e.length, eofBlk) - e.logical),
          0,
        );
        if (mapped < eofBlk) {
          out.push({
            code: "SYMLINK_SIZE",
            ctx: { ino, detail: `The symlink target of ${d.size} bytes is not fully stored (holes in its blocks).` },
            fix: clear,
          });
        }
      }
    }
    return out;
  }
  if (exts.length || info.treeBlocks.length) {
    out.push({
      code: "INODE_SPECIAL_BLOCKS",
      ctx: { ino, type: typeName(t), n: exts.reduce((a, e) => a + e.length, 0) },
      fix: () => {
        for (const e of info.exts) for (let b = e.physical; b < e.physical + e.length; b++) ctx.freeBlock(b);
        info.exts = [];
        info.treeDirty = true;
      },
    });
  }
  return out;
}
