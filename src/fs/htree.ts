/**
 * Directory hash tree of the VexFS format (docs/FORMAT.md §6), over an
 * abstract store of the directory's file blocks ({@link DirBlocks}).
 *
 * The structure follows the idea of ext4's htree (`fs/ext4/namei.c`: a small
 * B+tree keyed by a hash of the name, whose root lives in file block 0), with
 * the fixed-size headers of FORMAT.md §6:
 *
 * - file block 0 is the root index block (`DIRX`); index blocks hold
 *   `{u32 hash, u32 block}` entries sorted by hash, entry 0 storing hash 0;
 *   an entry covers the hashes from its own up to the next entry's;
 * - leaf blocks (`DIRL`) hold directory entries packed from offset 16,
 *   sorted by `(hash, name bytes)`; all entries with one hash live in one leaf;
 * - every block ends with a CRC-32C seeded with the directory's inode number,
 *   verified on every read (`EUCLEAN` when wrong) and set on every write.
 *
 * Lookups binary-search one index block per level and scan one leaf, so they
 * read `root level + 2` blocks whatever the directory size. Insertion only
 * touches the blocks on one root-to-leaf path plus the blocks created by
 * splits.
 *
 * @module
 */
import { crc32cSeeded } from "../format/crc.ts";
import { dirHash } from "../format/hash.ts";
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

// ---------------------------------------------------------------------------
// Layout constants (FORMAT.md §6)

/** Index block magic, bytes "DIRX". */
export const DIRX_MAGIC = 0x58524944;
/** Leaf block magic, bytes "DIRL". */
export const DIRL_MAGIC = 0x4c524944;
/** Highest level of the root index block (3 index levels). */
export const MAX_ROOT_LEVEL = 2;
/** Longest name in bytes. */
const NAME_MAX = 255;
const IDX_HDR = 32; // index block header bytes
const IDX_ENT = 8; // {u32 hash, u32 block}
const LEAF_HDR = 16; // leaf header bytes
const DE_HDR = 16; // directory entry header bytes
const TAIL = 4; // checksum
const U32 = 0x1_0000_0000;

/** Index entries per index block: `(block_size - 36) / 8`. */
function idxLimit(bs: number): number {
  return Math.floor((bs - IDX_HDR - TAIL) / IDX_ENT);
}

/** Bytes of entries a leaf can hold. */
function leafCap(bs: number): number {
  return bs - LEAF_HDR - TAIL;
}

/** Size of a directory entry with a name of `len` bytes: `align8(16 + len)`. */
function entrySize(len: number): number {
  return (DE_HDR + len + 7) & ~7;
}

function viewOf(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

function hex(n: number): string {
  return "0x" + n.toString(16).padStart(8, "0");
}

function corrupt(d: DirBlocks, lblk: number, what: string): FsError {
  return new FsError("EUCLEAN", `directory ${d.ino} block ${lblk}: ${what}`);
}

// ---------------------------------------------------------------------------
// Checksums and verified block I/O

function blockCrc(d: DirBlocks, buf: Uint8Array): number {
  return crc32cSeeded(d.ino, buf.subarray(0, d.blockSize - TAIL));
}

/** Sets the tail checksum of `buf` and stores it as file block `lblk`. */
function writeBlock(d: DirBlocks, lblk: number, buf: Uint8Array): void {
  viewOf(buf).setUint32(d.blockSize - TAIL, blockCrc(d, buf), true);
  d.write(lblk, buf);
}

/**
 * Reads file block `lblk`, verifying size, magic and checksum. Returns a
 * private copy when `copy` is set, else possibly the store's shared buffer.
 */
function readBlock(
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

// ---------------------------------------------------------------------------
// Index blocks

/** A verified index block on the path from the root to a leaf. */
interface IdxNode {
  lblk: number;
  buf: Uint8Array;
  dv: DataView;
  level: number;
  count: number;
  /** Position of the entry the path follows. */
  pos: number;
}

function readIndex(
  d: DirBlocks,
  lblk: number,
  copy: boolean,
  wantLevel: number,
): IdxNode {
  const buf = readBlock(d, lblk, DIRX_MAGIC, copy);
  const dv = viewOf(buf);
  const level = dv.getUint16(4, true);
  const count = dv.getUint16(6, true);
  const limit = dv.getUint16(8, true);
  if (limit !== idxLimit(d.blockSize)) {
    throw corrupt(
      d,
      lblk,
      `index limit ${limit}, expected ${idxLimit(d.blockSize)}`,
    );
  }
  if (count > limit) {
    throw corrupt(d, lblk, `index count ${count} > limit ${limit}`);
  }
  if (lblk === 0) {
    if (level > MAX_ROOT_LEVEL) {
      throw corrupt(d, lblk, `root level ${level} > ${MAX_ROOT_LEVEL}`);
    }
    if (count === 0 && level !== 0) {
      throw corrupt(d, lblk, `empty root at level ${level}`);
    }
  } else {
    if (level !== wantLevel) {
      throw corrupt(d, lblk, `index level ${level}, expected ${wantLevel}`);
    }
    if (count === 0) throw corrupt(d, lblk, "empty index block");
  }
  return { lblk, buf, dv, level, count, pos: 0 };
}

function idxHash(n: IdxNode, i: number): number {
  return n.dv.getUint32(IDX_HDR + i * IDX_ENT, true);
}

function idxBlock(n: IdxNode, i: number): number {
  return n.dv.getUint32(IDX_HDR + i * IDX_ENT + 4, true);
}

/** Position of the last entry whose hash is ≤ `h` (entry 0 always qualifies). */
function idxSearch(n: IdxNode, h: number): number {
  let lo = 0;
  let hi = n.count - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (idxHash(n, mid) <= h) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** A fresh index block image (checksum not yet set). */
function newIndex(
  bs: number,
  level: number,
  entries: ArrayLike<number>, // flattened [hash0, block0, hash1, block1, ...]
): Uint8Array {
  const buf = new Uint8Array(bs);
  const dv = viewOf(buf);
  dv.setUint32(0, DIRX_MAGIC, true);
  dv.setUint16(4, level, true);
  dv.setUint16(6, entries.length / 2, true);
  dv.setUint16(8, idxLimit(bs), true);
  for (let i = 0; i < entries.length; i++) {
    dv.setUint32(IDX_HDR + i * 4, entries[i], true);
  }
  return buf;
}

function getEntryCount(dv: DataView): number {
  return dv.getUint32(20, true) * U32 + dv.getUint32(16, true);
}

function setEntryCount(dv: DataView, n: number): void {
  dv.setUint32(16, n % U32, true);
  dv.setUint32(20, Math.floor(n / U32), true);
}

/**
 * Walks from the root to the leaf covering hash `h`. Returns the index path
 * (root first) and the leaf's file block, or `leaf = -1` for an empty
 * directory. With `copy`, the root's buffer is a private copy; the other
 * path buffers may be the store's shared buffer (only their header fields and
 * `pos` stay valid: re-read them with {@link ownPath} before modifying).
 */
function descend(
  d: DirBlocks,
  h: number,
  copy: boolean,
): { path: IdxNode[]; leaf: number } {
  const root = readIndex(d, 0, copy, 0);
  const path = [root];
  if (root.count === 0) return { path, leaf: -1 };
  const nblk = d.blockCount();
  let node = root;
  for (;;) {
    node.pos = idxSearch(node, h);
    const child = idxBlock(node, node.pos);
    if (child === 0 || child >= nblk) {
      throw corrupt(
        d,
        node.lblk,
        `entry ${node.pos} points to block ${child} outside the directory`,
      );
    }
    if (node.level === 0) return { path, leaf: child };
    node = readIndex(d, child, false, node.level - 1);
    path.push(node);
  }
}

// ---------------------------------------------------------------------------
// Leaf blocks

interface LeafHdr {
  count: number;
  /** Offset one past the last entry byte (16 + used). */
  end: number;
}

function leafHdr(d: DirBlocks, lblk: number, dv: DataView): LeafHdr {
  const count = dv.getUint32(4, true);
  const used = dv.getUint32(8, true);
  if (used > leafCap(d.blockSize) || used % 8 !== 0) {
    throw corrupt(
      d,
      lblk,
      `leaf used ${used} bytes (capacity ${leafCap(d.blockSize)})`,
    );
  }
  return { count, end: LEAF_HDR + used };
}

/** Name length of the entry at `off`, bounds-checked against `end`. */
function entryNameLen(
  d: DirBlocks,
  lblk: number,
  dv: DataView,
  off: number,
  end: number,
): number {
  if (off + DE_HDR > end) {
    throw corrupt(d, lblk, `entry at ${off} beyond used bytes`);
  }
  const len = dv.getUint16(off + 12, true);
  if (len < 1 || len > NAME_MAX || off + entrySize(len) > end) {
    throw corrupt(d, lblk, `entry at ${off} has bad name length ${len}`);
  }
  return len;
}

/** Lexicographic comparison of `a` with `len` bytes of `b` at `off` (shorter prefix first). */
function cmpName(
  a: Uint8Array,
  b: Uint8Array,
  off: number,
  len: number,
): number {
  const n = Math.min(a.length, len);
  for (let i = 0; i < n; i++) {
    const x = a[i] - b[off + i];
    if (x !== 0) return x;
  }
  return a.length - len;
}

function cmpBytes(a: Uint8Array, b: Uint8Array): number {
  return cmpName(a, b, 0, b.length);
}

function readIno(dv: DataView, off: number): number {
  return dv.getUint32(off + 4, true) * U32 + dv.getUint32(off, true);
}

function writeEntry(
  dv: DataView,
  buf: Uint8Array,
  off: number,
  e: { name: Uint8Array; ino: number; type: number; hash: number },
): number {
  const size = entrySize(e.name.length);
  buf.fill(0, off, off + size);
  dv.setUint32(off, e.ino % U32, true);
  dv.setUint32(off + 4, Math.floor(e.ino / U32), true);
  dv.setUint32(off + 8, e.hash, true);
  dv.setUint16(off + 12, e.name.length, true);
  buf[off + 14] = e.type;
  buf.set(e.name, off + DE_HDR);
  return size;
}

function entryAt(
  buf: Uint8Array,
  dv: DataView,
  off: number,
  len: number,
): DirEntry {
  return {
    name: buf.slice(off + DE_HDR, off + DE_HDR + len),
    ino: readIno(dv, off),
    type: buf[off + 14],
    hash: dv.getUint32(off + 8, true),
  };
}

/** Where `(h, name)` is, or would go, in a leaf. */
interface LeafPos {
  /** Offset of the matching entry, or of the first entry after the name. */
  off: number;
  found: boolean;
  /** Name length of the matching entry (when found). */
  len: number;
  hdr: LeafHdr;
}

function leafFind(
  d: DirBlocks,
  lblk: number,
  buf: Uint8Array,
  h: number,
  name: Uint8Array,
): LeafPos {
  const dv = viewOf(buf);
  const hdr = leafHdr(d, lblk, dv);
  let off = LEAF_HDR;
  for (let i = 0; i < hdr.count; i++) {
    const len = entryNameLen(d, lblk, dv, off, hdr.end);
    const eh = dv.getUint32(off + 8, true);
    if (eh === h) {
      const c = cmpName(name, buf, off + DE_HDR, len);
      if (c === 0) return { off, found: true, len, hdr };
      if (c < 0) return { off, found: false, len: 0, hdr };
    } else if (eh > h) {
      return { off, found: false, len: 0, hdr };
    }
    off += entrySize(len);
  }
  if (off !== hdr.end) {
    throw corrupt(d, lblk, `leaf count ${hdr.count} does not match used bytes`);
  }
  return { off, found: false, len: 0, hdr };
}

/** Every entry of a leaf, parsed and bounds-checked. */
function leafEntries(d: DirBlocks, lblk: number, buf: Uint8Array): DirEntry[] {
  const dv = viewOf(buf);
  const hdr = leafHdr(d, lblk, dv);
  const out: DirEntry[] = [];
  let off = LEAF_HDR;
  for (let i = 0; i < hdr.count; i++) {
    const len = entryNameLen(d, lblk, dv, off, hdr.end);
    out.push(entryAt(buf, dv, off, len));
    off += entrySize(len);
  }
  if (off !== hdr.end) {
    throw corrupt(d, lblk, `leaf count ${hdr.count} does not match used bytes`);
  }
  return out;
}

/** A fresh leaf image holding `entries` (already sorted; checksum not yet set). */
function newLeaf(bs: number, entries: DirEntry[]): Uint8Array {
  const buf = new Uint8Array(bs);
  const dv = viewOf(buf);
  dv.setUint32(0, DIRL_MAGIC, true);
  let off = LEAF_HDR;
  for (const e of entries) off += writeEntry(dv, buf, off, e);
  dv.setUint32(4, entries.length, true);
  dv.setUint32(8, off - LEAF_HDR, true);
  return buf;
}

/**
 * Chooses where to split the sorted `entries` of an overfull leaf: the index
 * of the first entry of the upper half. Only hash boundaries qualify (entries
 * with equal hashes stay together) and both halves must fit in a leaf; among
 * those, the one closest to half the bytes wins. Returns -1 if none exists.
 */
function chooseSplit(entries: DirEntry[], cap: number): number {
  let total = 0;
  for (const e of entries) total += entrySize(e.name.length);
  let best = -1;
  let bestDist = Infinity;
  let lower = 0;
  for (let i = 1; i < entries.length; i++) {
    lower += entrySize(entries[i - 1].name.length);
    if (entries[i].hash === entries[i - 1].hash) continue;
    if (lower > cap || total - lower > cap) continue;
    const dist = Math.abs(2 * lower - total);
    if (dist < bestDist) {
      bestDist = dist;
      best = i;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------
// Argument checks

/**
 * Validates a name: 1..255 bytes, no `/` or NUL, not `.` or `..`.
 * @throws FsError ENAMETOOLONG if longer than 255 bytes, EINVAL otherwise
 */
function checkName(name: Uint8Array): void {
  if (!(name instanceof Uint8Array)) {
    throw new FsError("EINVAL", "name must be bytes");
  }
  const err = nameProblem(name);
  if (err === null) return;
  throw new FsError(name.length > NAME_MAX ? "ENAMETOOLONG" : "EINVAL", err);
}

/** Why `name` is not a valid directory entry name, or null if it is. */
function nameProblem(name: Uint8Array): string | null {
  if (name.length === 0) return "empty name";
  if (name.length > NAME_MAX) {
    return `name of ${name.length} bytes (max ${NAME_MAX})`;
  }
  if (
    name.length <= 2 && name[0] === 0x2e &&
    (name.length === 1 || name[1] === 0x2e)
  ) {
    return `name "${name.length === 1 ? "." : ".."}" is reserved`;
  }
  for (let i = 0; i < name.length; i++) {
    if (name[i] === 0) return "name contains NUL";
    if (name[i] === 0x2f) return "name contains '/'";
  }
  return null;
}

function checkTarget(ino: number, type: number): void {
  if (!Number.isSafeInteger(ino) || ino < 1) {
    throw new FsError("EINVAL", `bad inode number ${ino}`);
  }
  if (!Number.isInteger(type) || type < 1 || type > 7) {
    throw new FsError("EINVAL", `bad file type ${type}`);
  }
}

// ---------------------------------------------------------------------------
// Public operations

/**
 * Writes an empty root index block (level 0, count 0, entry_count 0) at file
 * block 0. The caller must already have given the directory at least one
 * block (`d.blockCount() >= 1`); other blocks are left alone and unused.
 * @throws FsError EINVAL if the directory has no block or the block size is out of range
 */
export function dirInit(d: DirBlocks): void {
  if (!(d.blockSize >= 1024 && d.blockSize <= 65536 && d.blockSize % 8 === 0)) {
    throw new FsError("EINVAL", `bad directory block size ${d.blockSize}`);
  }
  if (d.blockCount() < 1) {
    throw new FsError("EINVAL", `directory ${d.ino} has no block 0`);
  }
  writeBlock(d, 0, newIndex(d.blockSize, 0, []));
}

/**
 * Looks `name` up: hashes it, binary-searches one index block per level and
 * scans one leaf (reads `root level + 2` blocks, 1 if the directory is empty).
 * @param name raw name bytes, 1..255
 * @returns a copy of the entry, or null if there is none
 * @throws FsError EUCLEAN on a corrupt block; ENAMETOOLONG / EINVAL for an invalid name
 */
export function dirLookup(d: DirBlocks, name: Uint8Array): DirEntry | null {
  checkName(name);
  const h = dirHash(name, d.hashSeed);
  const { leaf } = descend(d, h, false);
  if (leaf < 0) return null;
  const buf = readBlock(d, leaf, DIRL_MAGIC, false);
  const p = leafFind(d, leaf, buf, h, name);
  return p.found ? entryAt(buf, viewOf(buf), p.off, p.len) : null;
}

/**
 * Adds the entry `name → (ino, type)`. The new entry goes to its place in the
 * leaf covering its hash; a full leaf is split at a hash boundary near the
 * middle into a newly appended block, and `{split hash, new block}` is added
 * to the parent index; full index blocks split the same way and a full root
 * moves its entries into a new index block and rises one level (up to level
 * 2). All blocks a split needs are appended before anything is written, so a
 * failed `append()` leaves the tree unchanged (the blocks appended before the
 * failure are left as unreferenced empty leaves). Reads and writes only the
 * blocks on one root-to-leaf path plus the new blocks.
 * @param name raw name bytes: 1..255, no `/` or NUL, not `.` or `..`
 * @param ino target inode number (≥ 1)
 * @param type file type 1..7
 * @throws FsError EEXIST if the name exists; ENOSPC if the leaf cannot be split
 *   (all its entries share one hash), the tree is full at root level 2, or
 *   `append()` fails; ENAMETOOLONG / EINVAL for a bad name, ino or type;
 *   EUCLEAN on a corrupt block
 */
export function dirInsert(
  d: DirBlocks,
  name: Uint8Array,
  ino: number,
  type: number,
): void {
  checkName(name);
  checkTarget(ino, type);
  const bs = d.blockSize;
  const h = dirHash(name, d.hashSeed);
  const entry: DirEntry = { name, ino, type, hash: h };
  const size = entrySize(name.length);
  const { path, leaf } = descend(d, h, true);
  const root = path[0];

  if (leaf < 0) {
    // Empty directory: the first leaf covers every hash.
    const blk = d.append();
    if (blk <= 0 || blk >= U32) {
      throw new FsError("ENOSPC", `directory block ${blk} not addressable`);
    }
    writeBlock(d, blk, newLeaf(bs, [entry]));
    root.dv.setUint16(6, 1, true);
    root.dv.setUint32(IDX_HDR, 0, true);
    root.dv.setUint32(IDX_HDR + 4, blk, true);
    setEntryCount(root.dv, getEntryCount(root.dv) + 1);
    writeBlock(d, 0, root.buf);
    return;
  }

  const lbuf = readBlock(d, leaf, DIRL_MAGIC, true);
  const p = leafFind(d, leaf, lbuf, h, name);
  if (p.found) throw new FsError("EEXIST", "name exists");
  const used = p.hdr.end - LEAF_HDR;

  if (used + size <= leafCap(bs)) {
    const ldv = viewOf(lbuf);
    lbuf.copyWithin(p.off + size, p.off, p.hdr.end);
    writeEntry(ldv, lbuf, p.off, entry);
    ldv.setUint32(4, p.hdr.count + 1, true);
    ldv.setUint32(8, used + size, true);
    writeBlock(d, leaf, lbuf);
  } else {
    // Split the leaf; plan everything (and allocate) before writing.
    const entries = leafEntries(d, leaf, lbuf);
    let at = 0;
    while (at < entries.length) {
      const e = entries[at];
      if (e.hash > h || (e.hash === h && cmpBytes(name, e.name) < 0)) break;
      at++;
    }
    entries.splice(at, 0, entry);
    const cut = chooseSplit(entries, leafCap(bs));
    if (cut < 0) {
      throw new FsError(
        "ENOSPC",
        `directory ${d.ino}: leaf ${leaf} cannot be split (entries share one hash)`,
      );
    }
    const limit = idxLimit(bs);
    let need = 1;
    for (let i = path.length - 1; i >= 0; i--) {
      if (path[i].count < limit) break;
      if (i > 0) {
        need++;
      } else {
        if (root.level >= MAX_ROOT_LEVEL) {
          throw new FsError("ENOSPC", `directory ${d.ino}: hash tree is full`);
        }
        need += 2;
      }
    }
    ownPath(d, path);
    const fresh: number[] = [];
    try {
      for (let i = 0; i < need; i++) {
        const b = d.append();
        fresh.push(b);
        if (b <= 0 || b >= U32) {
          throw new FsError("ENOSPC", `directory block ${b} not addressable`);
        }
      }
    } catch (e) {
      for (const b of fresh) {
        if (b > 0 && b < d.blockCount()) writeBlock(d, b, newLeaf(bs, []));
      }
      throw e;
    }

    const upperBlk = fresh.shift()!;
    writeBlock(d, upperBlk, newLeaf(bs, entries.slice(cut)));
    writeBlock(d, leaf, newLeaf(bs, entries.slice(0, cut)));
    insertIndex(d, path, path.length - 1, entries[cut].hash, upperBlk, fresh);
  }

  setEntryCount(root.dv, getEntryCount(root.dv) + 1);
  writeBlock(d, 0, root.buf);
}

/** Replaces the interior nodes of `path` by verified private copies. */
function ownPath(d: DirBlocks, path: IdxNode[]): void {
  for (let i = 1; i < path.length; i++) {
    const n = path[i];
    const c = readIndex(d, n.lblk, true, n.level);
    if (c.count !== n.count) throw corrupt(d, n.lblk, "index block changed");
    c.pos = n.pos;
    path[i] = c;
  }
}

/**
 * Adds `{key, child}` after `path[i].pos`, splitting full index blocks
 * upward and growing the root when needed. Writes every changed block except
 * the root (the caller writes it). `fresh` holds the pre-allocated blocks.
 */
function insertIndex(
  d: DirBlocks,
  path: IdxNode[],
  i: number,
  key: number,
  child: number,
  fresh: number[],
): void {
  const bs = d.blockSize;
  const limit = idxLimit(bs);
  for (;;) {
    const n = path[i];
    const at = n.pos + 1;
    if (n.count < limit) {
      const base = IDX_HDR + at * IDX_ENT;
      n.buf.copyWithin(base + IDX_ENT, base, IDX_HDR + n.count * IDX_ENT);
      n.dv.setUint32(base, key, true);
      n.dv.setUint32(base + 4, child, true);
      n.count++;
      n.dv.setUint16(6, n.count, true);
      if (i > 0) writeBlock(d, n.lblk, n.buf);
      return;
    }
    if (i === 0) {
      // Full root: move its entries into a new index block one level down,
      // leave the root with the single entry {0, new}, then split that child.
      const c = fresh.shift()!;
      const cbuf = newIndex(bs, n.level, []);
      cbuf.set(n.buf.subarray(IDX_HDR, IDX_HDR + n.count * IDX_ENT), IDX_HDR);
      const cdv = viewOf(cbuf);
      cdv.setUint16(6, n.count, true);
      const cnode: IdxNode = {
        lblk: c,
        buf: cbuf,
        dv: cdv,
        level: n.level,
        count: n.count,
        pos: n.pos,
      };
      n.buf.fill(0, IDX_HDR, IDX_HDR + n.count * IDX_ENT);
      n.level++;
      n.count = 1;
      n.pos = 0;
      n.dv.setUint16(4, n.level, true);
      n.dv.setUint16(6, 1, true);
      n.dv.setUint32(IDX_HDR + 4, c, true);
      path.splice(1, 0, cnode);
      i = 1;
      continue;
    }
    // Split a full interior block: the upper half moves to a new block whose
    // entry 0 stores hash 0; its real first hash becomes the parent's key.
    const flat: number[] = [];
    for (let k = 0; k < n.count; k++) {
      if (k === at) flat.push(key, child);
      flat.push(idxHash(n, k), idxBlock(n, k));
    }
    if (at === n.count) flat.push(key, child);
    const total = flat.length / 2;
    const mid = total >>> 1;
    const upKey = flat[mid * 2];
    const upper = flat.slice(mid * 2);
    upper[0] = 0;
    const nb = fresh.shift()!;
    writeBlock(d, nb, newIndex(bs, n.level, upper));
    writeBlock(d, n.lblk, newIndex(bs, n.level, flat.slice(0, mid * 2)));
    key = upKey;
    child = nb;
    i--;
  }
}

/**
 * Removes the entry `name` and compacts its leaf (an emptied leaf stays in
 * the tree). Writes the leaf and the root (entry_count).
 * @returns the removed entry
 * @throws FsError ENOENT if absent; ENAMETOOLONG / EINVAL for an invalid name; EUCLEAN on corruption
 */
export function dirRemove(d: DirBlocks, name: Uint8Array): DirEntry {
  checkName(name);
  const h = dirHash(name, d.hashSeed);
  const { path, leaf } = descend(d, h, true);
  if (leaf < 0) throw new FsError("ENOENT", "no such entry");
  const buf = readBlock(d, leaf, DIRL_MAGIC, true);
  const p = leafFind(d, leaf, buf, h, name);
  if (!p.found) throw new FsError("ENOENT", "no such entry");
  const dv = viewOf(buf);
  const old = entryAt(buf, dv, p.off, p.len);
  const size = entrySize(p.len);
  buf.copyWithin(p.off, p.off + size, p.hdr.end);
  buf.fill(0, p.hdr.end - size, p.hdr.end);
  dv.setUint32(4, p.hdr.count - 1, true);
  dv.setUint32(8, p.hdr.end - LEAF_HDR - size, true);
  writeBlock(d, leaf, buf);
  const root = path[0];
  const n = getEntryCount(root.dv);
  if (n === 0) throw corrupt(d, 0, "entry_count is 0 in a non-empty directory");
  setEntryCount(root.dv, n - 1);
  writeBlock(d, 0, root.buf);
  return old;
}

/**
 * Points the existing entry `name` at `(ino, type)` in place (for rename over
 * an existing name). Writes only its leaf.
 * @returns the entry as it was before
 * @throws FsError ENOENT if absent; EINVAL / ENAMETOOLONG for a bad name, ino or type; EUCLEAN on corruption
 */
export function dirReplace(
  d: DirBlocks,
  name: Uint8Array,
  ino: number,
  type: number,
): DirEntry {
  checkName(name);
  checkTarget(ino, type);
  const h = dirHash(name, d.hashSeed);
  const { leaf } = descend(d, h, false);
  if (leaf < 0) throw new FsError("ENOENT", "no such entry");
  const buf = readBlock(d, leaf, DIRL_MAGIC, true);
  const p = leafFind(d, leaf, buf, h, name);
  if (!p.found) throw new FsError("ENOENT", "no such entry");
  const dv = viewOf(buf);
  const old = entryAt(buf, dv, p.off, p.len);
  dv.setUint32(p.off, ino % U32, true);
  dv.setUint32(p.off + 4, Math.floor(ino / U32), true);
  buf[p.off + 14] = type;
  writeBlock(d, leaf, buf);
  return old;
}

/**
 * Number of names in the directory, from the root's `entry_count` (one block
 * read; `.` and `..` are not counted).
 * @throws FsError EUCLEAN if the root block is corrupt
 */
export function dirEntryCount(d: DirBlocks): number {
  return getEntryCount(readIndex(d, 0, false, 0).dv);
}

/**
 * Every entry of the directory in `(hash, name bytes)` order (a depth-first
 * walk of the tree; each leaf is read once, when reached). The directory must
 * not be modified while the generator is running.
 * @throws FsError EUCLEAN on a corrupt block (when reached)
 */
export function* dirIterate(d: DirBlocks): Generator<DirEntry> {
  const root = readIndex(d, 0, true, 0);
  yield* walkEntries(d, root);
}

function* walkEntries(d: DirBlocks, n: IdxNode): Generator<DirEntry> {
  const nblk = d.blockCount();
  for (let i = 0; i < n.count; i++) {
    const child = idxBlock(n, i);
    if (child === 0 || child >= nblk) {
      throw corrupt(
        d,
        n.lblk,
        `entry ${i} points to block ${child} outside the directory`,
      );
    }
    if (n.level > 0) {
      yield* walkEntries(d, readIndex(d, child, true, n.level - 1));
    } else {
      const buf = readBlock(d, child, DIRL_MAGIC, false);
      yield* leafEntries(d, child, buf);
    }
  }
}

/**
 * The entry with name hash `hash` that links inode `ino` (resolving an
 * inode's parent pointer, FORMAT.md §5.3): reads the one leaf covering `hash`.
 * @param hash the inode's `parent_hash`
 * @param ino the inode number to match
 * @returns the first such entry in name order, or null
 * @throws FsError EUCLEAN on a corrupt block
 */
export function dirFindByIno(
  d: DirBlocks,
  hash: number,
  ino: number,
): DirEntry | null {
  const h = hash >>> 0;
  const { leaf } = descend(d, h, false);
  if (leaf < 0) return null;
  const buf = readBlock(d, leaf, DIRL_MAGIC, false);
  const dv = viewOf(buf);
  const hdr = leafHdr(d, leaf, dv);
  let off = LEAF_HDR;
  for (let i = 0; i < hdr.count; i++) {
    const len = entryNameLen(d, leaf, dv, off, hdr.end);
    const eh = dv.getUint32(off + 8, true);
    if (eh > h) break;
    if (eh === h && readIno(dv, off) === ino) return entryAt(buf, dv, off, len);
    off += entrySize(len);
  }
  return null;
}

// ---------------------------------------------------------------------------
// fsck

/**
 * Verifies every invariant of the directory's hash tree, for fsck: block
 * magics and checksums; index header fields (limit, count ≤ limit, reserved
 * zeros, entry_count 0 outside the root, root level ≤ 2, levels decreasing by
 * one per step, no empty interior block); index entries (entry 0 hash 0,
 * strictly increasing hashes inside the range the parent gives, children
 * inside the directory, no block referenced twice or block 0 referenced);
 * leaves (used within capacity and equal to the packed entries, count);
 * entries (ino ≥ 1, type 1..7, valid name, reserved and padding zero, stored
 * hash equal to the hash recomputed from the name, hash within the index
 * range of the leaf, strict `(hash, name)` order across the whole directory,
 * hence no duplicate names); and root entry_count equal to the real count.
 * Blocks not referenced by the tree are not examined (a failed `append()`
 * during a split can leave such blocks; they are harmless).
 * @returns human-readable problems, `[]` if the directory is clean; never throws
 */
export function dirCheck(d: DirBlocks): string[] {
  const out: string[] = [];
  try {
    new Checker(d, out).run();
  } catch (e) {
    out.push(
      `directory ${d.ino}: check aborted: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  return out;
}

class Checker {
  private nblk = 0;
  private visited = new Set<number>();
  private total = 0;
  private prevHash = -1;
  private prevName: Uint8Array = new Uint8Array(0);
  private readonly bs: number;
  private readonly limit: number;

  constructor(private readonly d: DirBlocks, private readonly out: string[]) {
    this.bs = d.blockSize;
    this.limit = idxLimit(d.blockSize);
  }

  private problem(lblk: number, what: string): void {
    this.out.push(`directory ${this.d.ino} block ${lblk}: ${what}`);
  }

  /** A private copy of block `lblk` with its magic and checksum checked, or null. */
  private load(lblk: number, magic: number, what: string): Uint8Array | null {
    let raw: Uint8Array;
    try {
      raw = this.d.read(lblk);
    } catch (e) {
      this.problem(
        lblk,
        `unreadable: ${e instanceof Error ? e.message : String(e)}`,
      );
      return null;
    }
    if (!(raw instanceof Uint8Array) || raw.length !== this.bs) {
      this.problem(
        lblk,
        `read returned ${raw?.length} bytes, expected ${this.bs}`,
      );
      return null;
    }
    const buf = raw.slice();
    const dv = viewOf(buf);
    const m = dv.getUint32(0, true);
    if (m !== magic) {
      const found = m === DIRX_MAGIC ? "an index block" : m === DIRL_MAGIC ? "a leaf block" : `magic ${hex(m)}`;
      this.problem(lblk, `expected ${what}, found ${found}`);
      return null;
    }
    if (dv.getUint32(this.bs - TAIL, true) !== blockCrc(this.d, buf)) {
      this.problem(lblk, "bad checksum");
    }
    return buf;
  }

  run(): void {
    const d = this.d;
    if (!(this.bs >= 1024 && this.bs <= 65536 && this.bs % 8 === 0)) {
      this.out.push(`directory ${d.ino}: bad block size ${this.bs}`);
      return;
    }
    this.nblk = d.blockCount();
    if (this.nblk < 1) {
      this.out.push(`directory ${d.ino}: has no blocks`);
      return;
    }
    const root = this.load(0, DIRX_MAGIC, "the root index block");
    if (root === null) return;
    this.visited.add(0);
    const dv = viewOf(root);
    const level = dv.getUint16(4, true);
    const count = this.indexHeader(0, dv);
    if (level > MAX_ROOT_LEVEL) {
      this.problem(0, `root level ${level} > ${MAX_ROOT_LEVEL}`);
      return;
    }
    if (count === 0 && level !== 0) {
      this.problem(0, `empty root at level ${level}`);
    }
    this.walkIndex(0, dv, level, count, 0, U32);
    const claimed = getEntryCount(dv);
    if (claimed !== this.total) {
      this.problem(
        0,
        `entry_count ${claimed}, but the tree holds ${this.total} entries`,
      );
    }
  }

  /** Checks header fields common to index blocks; returns the usable count. */
  private indexHeader(lblk: number, dv: DataView): number {
    const limit = dv.getUint16(8, true);
    if (limit !== this.limit) {
      this.problem(lblk, `index limit ${limit}, expected ${this.limit}`);
    }
    let count = dv.getUint16(6, true);
    if (count > this.limit) {
      this.problem(lblk, `index count ${count} > limit ${this.limit}`);
      count = this.limit;
    }
    if (dv.getUint16(10, true) !== 0 || dv.getUint32(12, true) !== 0) {
      this.problem(lblk, "index header reserved bytes are not zero");
    }
    if (dv.getUint32(24, true) !== 0 || dv.getUint32(28, true) !== 0) {
      this.problem(lblk, "index header reserved bytes are not zero");
    }
    if (lblk !== 0 && getEntryCount(dv) !== 0) {
      this.problem(
        lblk,
        `entry_count ${getEntryCount(dv)} in a non-root index block`,
      );
    }
    return count;
  }

  /** Checks the entries of an index block covering hashes [lo, hi) and everything below. */
  private walkIndex(
    lblk: number,
    dv: DataView,
    level: number,
    count: number,
    lo: number,
    hi: number,
  ): void {
    const hashes: number[] = [];
    for (let i = 0; i < count; i++) {
      hashes.push(dv.getUint32(IDX_HDR + i * IDX_ENT, true));
    }
    for (let i = 0; i < count; i++) {
      const h = hashes[i];
      if (i === 0) {
        if (h !== 0) {
          this.problem(lblk, `index entry 0 has hash ${hex(h)}, expected 0`);
        }
      } else {
        if (h <= hashes[i - 1] && i > 1) {
          this.problem(
            lblk,
            `index entries ${i - 1} and ${i} are not in increasing hash order`,
          );
        }
        if (h <= lo || h >= hi) {
          this.problem(
            lblk,
            `index entry ${i} hash ${hex(h)} outside the covered range [${hex(lo)}, ${hex(hi)})`,
          );
        }
      }
      const elo = i === 0 ? lo : h;
      const ehi = i + 1 < count ? hashes[i + 1] : hi;
      const child = dv.getUint32(IDX_HDR + i * IDX_ENT + 4, true);
      if (child === 0 || child >= this.nblk) {
        this.problem(
          lblk,
          `index entry ${i} points to block ${child} outside the directory (1..${this.nblk - 1})`,
        );
        continue;
      }
      if (this.visited.has(child)) {
        this.problem(
          lblk,
          `index entry ${i} points to block ${child}, which is referenced twice`,
        );
        continue;
      }
      this.visited.add(child);
      if (level > 0) this.checkIndex(child, level - 1, elo, ehi);
      else this.checkLeaf(child, elo, ehi);
    }
  }

  private checkIndex(
    lblk: number,
    level: number,
    lo: number,
    hi: number,
  ): void {
    const buf = this.load(lblk, DIRX_MAGIC, `an index block of level ${level}`);
    if (buf === null) return;
    const dv = viewOf(buf);
    const count = this.indexHeader(lblk, dv);
    const got = dv.getUint16(4, true);
    if (got !== level) {
      this.problem(lblk, `index level ${got}, expected ${level}`);
      return;
    }
    if (count === 0) this.problem(lblk, "empty interior index block");
    this.walkIndex(lblk, dv, level, count, lo, hi);
  }

  private checkLeaf(lblk: number, lo: number, hi: number): void {
    const buf = this.load(lblk, DIRL_MAGIC, "a leaf block");
    if (buf === null) return;
    const dv = viewOf(buf);
    const count = dv.getUint32(4, true);
    let used = dv.getUint32(8, true);
    if (dv.getUint32(12, true) !== 0) {
      this.problem(lblk, "leaf header reserved bytes are not zero");
    }
    const cap = leafCap(this.bs);
    if (used > cap) {
      this.problem(lblk, `leaf used ${used} bytes > capacity ${cap}`);
      used = cap;
    }
    if (used % 8 !== 0) {
      this.problem(lblk, `leaf used ${used} is not a multiple of 8`);
    }
    const end = LEAF_HDR + used;
    let off = LEAF_HDR;
    let i = 0;
    for (; i < count; i++) {
      if (off + DE_HDR > end) {
        this.problem(
          lblk,
          `leaf count ${count} but only ${i} entries fit in ${used} used bytes`,
        );
        break;
      }
      const len = dv.getUint16(off + 12, true);
      if (len < 1 || len > NAME_MAX) {
        this.problem(
          lblk,
          `entry ${i} at offset ${off}: name length ${len} not in 1..${NAME_MAX}`,
        );
        return;
      }
      const size = entrySize(len);
      if (off + size > end) {
        this.problem(
          lblk,
          `entry ${i} at offset ${off} runs past the used bytes`,
        );
        break;
      }
      this.checkEntry(lblk, buf, dv, off, len, i, lo, hi);
      off += size;
    }
    if (i === count && off !== end) {
      this.problem(
        lblk,
        `leaf used ${used} bytes, but its ${count} entries occupy ${off - LEAF_HDR}`,
      );
    }
  }

  private checkEntry(
    lblk: number,
    buf: Uint8Array,
    dv: DataView,
    off: number,
    len: number,
    i: number,
    lo: number,
    hi: number,
  ): void {
    this.total++;
    const where = `entry ${i} at offset ${off}`;
    const name = buf.subarray(off + DE_HDR, off + DE_HDR + len);
    const ino = readIno(dv, off);
    if (ino === 0) this.problem(lblk, `${where}: inode number 0`);
    const type = buf[off + 14];
    if (type < 1 || type > 7) {
      this.problem(lblk, `${where}: file type ${type} not in 1..7`);
    }
    if (buf[off + 15] !== 0) {
      this.problem(lblk, `${where}: reserved byte is not zero`);
    }
    for (let k = off + DE_HDR + len; k < off + entrySize(len); k++) {
      if (buf[k] !== 0) {
        this.problem(lblk, `${where}: name padding is not zero`);
        break;
      }
    }
    const bad = nameProblem(name);
    if (bad !== null) this.problem(lblk, `${where}: invalid name: ${bad}`);
    const h = dv.getUint32(off + 8, true);
    const want = dirHash(name, this.d.hashSeed);
    if (h !== want) {
      this.problem(
        lblk,
        `${where}: stored hash ${hex(h)}, name hashes to ${hex(want)}`,
      );
    }
    if (h < lo || h >= hi) {
      this.problem(
        lblk,
        `${where}: hash ${hex(h)} outside the leaf's range [${hex(lo)}, ${hex(hi)})`,
      );
    }
    const c = h !== this.prevHash ? h - this.prevHash : cmpBytes(name, this.prevName);
    if (c === 0) {
      this.problem(lblk, `${where}: duplicate name`);
    } else if (c < 0) {
      this.problem(lblk, `${where}: out of (hash, name) order`);
    }
    this.prevHash = h;
    this.prevName = name.slice();
  }
}
