/**
 * File data: reading and writing the bytes of regular files, long symlinks
 * and internal files through their extents (docs/FORMAT.md §5, §5.1 inline
 * data, §5.2 extents), truncate and fallocate. File data goes straight to
 * the device; an internal file's blocks are metadata and go through the
 * cache into the running transaction (FORMAT.md §9.4). Part of the
 * {@link Vexfs} engine, as lib/ext2fs/fileio.c is of ext2fs: every function
 * takes the engine first; the `Vexfs` methods wrap them in their operation.
 * @module
 */
import { check, FsError } from "../errors.ts";
import {
  EXT_UNWRITTEN,
  IFL_INLINE,
  IFL_INTERNAL,
  MAX_FILE_SIZE,
  S_IFDIR,
  S_IFMT,
  S_IFREG,
} from "../format/constants.ts";
import { nowTimespec } from "../format/inode.ts";
import { allocRange, fits, loadExtents, preallocWindow, storeExtents, truncateBlocks } from "./extents_ops.ts";
import { firstEndingAfter, markUnwritten, markWritten, punch, segments } from "./extentmap.ts";
import type { InodeState, Vexfs } from "./fs.ts";

/** What {@link Vexfs.read} does (its documentation says how), inside its operation. */
export function readFile(fs: Vexfs, ino: number, offset: number, length: number): Uint8Array {
  const n = fs.iget(ino);
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
  readInto(fs, n, offset, out);
  return out;
}

/** What {@link Vexfs.readInto} does (its documentation says how). */
export function readInto(fs: Vexfs, n: InodeState, offset: number, out: Uint8Array): void {
  const bs = fs.blockSize;
  const meta = (n.d.flags & IFL_INTERNAL) !== 0;
  const first = Math.floor(offset / bs);
  const last = Math.floor((offset + out.length - 1) / bs);
  for (const s of segments(loadExtents(fs, n), first, last - first + 1)) {
    const segStart = s.lblk * bs;
    const segEnd = (s.lblk + s.count) * bs;
    const from = Math.max(segStart, offset);
    const to = Math.min(segEnd, offset + out.length);
    const dst = out.subarray(from - offset, to - offset);
    if (s.physical === null || s.unwritten) dst.fill(0);
    else {
      fs.dev.read(s.physical * bs + (from - segStart), dst);
      if (meta) {
        const phys = s.physical;
        const p0 = phys + Math.floor((from - segStart) / bs);
        const p1 = phys + Math.floor((to - 1 - segStart) / bs);
        fs.cache.forEachDirtyIn(p0, p1 - p0 + 1, (b, buf) => {
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
function metaWrite(
  fs: Vexfs,
  lblk: number,
  physical: number,
  from: number,
  src: Uint8Array,
  fresh: (l: number) => boolean,
): void {
  const bs = fs.blockSize;
  let pos = from;
  const end = from + src.length;
  while (pos < end) {
    const l = Math.floor(pos / bs);
    const p = physical + (l - lblk);
    const a = pos - l * bs;
    const z = Math.min(bs, end - l * bs);
    const part = src.subarray(pos - from, pos - from + (z - a));
    if (a === 0 && z === bs) fs.cache.put(p, part);
    else {
      const buf = fresh(l) ? fs.cache.getNew(p) : fs.cache.get(p);
      buf.set(part, a);
      fs.cache.markDirty(p);
    }
    // its owner keeps what it writes in memory (the stores, slot maps, norms and collection table)
    fs.cache.markCold(p);
    pos += z - a;
  }
}

/** What {@link Vexfs.write} does (its documentation says how), inside its operation. */
export function writeFile(fs: Vexfs, ino: number, offset: number, data: Uint8Array): number {
  fs._assertWritable();
  const n = fs.iget(ino);
  const type = n.d.mode & S_IFMT;
  if (type === S_IFDIR) {
    throw new FsError("EISDIR", `inode ${ino} is a directory`);
  }
  check(offset >= 0, "EINVAL", `negative offset ${offset}`);
  if (offset + data.length > MAX_FILE_SIZE) {
    throw new FsError("EFBIG", `file would exceed ${MAX_FILE_SIZE} bytes`);
  }
  if (data.length === 0) return 0;
  const bs = fs.blockSize;
  const first = Math.floor(offset / bs);
  const last = Math.floor((offset + data.length - 1) / bs);
  const fresh = allocRange(fs, n, first, last - first + 1);
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
      if ((n.d.flags & IFL_INTERNAL) && !fs._unjournaled) {
        metaWrite(fs, s.lblk, s.physical!, from, src, (l) => s.unwritten || isFresh(l));
        continue;
      }
      const headBlock = Math.floor(from / bs);
      const tailBlock = Math.floor((to - 1) / bs);
      const a = from % bs && (s.unwritten || isFresh(headBlock)) ? headBlock * bs : from;
      const b = to % bs && (s.unwritten || isFresh(tailBlock)) ? (tailBlock + 1) * bs : to;
      if (a === from && b === to) {
        fs.dev.write(s.physical! * bs + (from - segStart), src);
      } else {
        const buf = new Uint8Array(b - a);
        buf.set(src, from - a);
        fs.dev.write(s.physical! * bs + (a - segStart), buf);
      }
    }
  } catch (e) {
    // I/O failed: undo the allocation (only it: punching exactly the new
    // ranges gives back the list as it was) so no block is lost
    let low = Infinity;
    for (const r of fresh) {
      low = Math.min(low, firstEndingAfter(n.exts!, r.lblk));
      for (const f of punch(n.exts!, r.lblk, r.lblk + r.count)) {
        fs.bfree(f.start, f.count);
        n.d.blocks -= f.count;
      }
    }
    if (fresh.length) storeExtents(fs, n, low);
    throw e;
  }
  if (unwritten) {
    const low = markWritten(n.exts!, first, last - first + 1);
    if (low >= 0) storeExtents(fs, n, low);
  }
  if (offset + data.length > n.d.size) n.d.size = offset + data.length;
  const now = nowTimespec();
  n.d.mtime = now;
  n.d.ctime = now;
  fs.dirty(n);

  return data.length;
}

/** What {@link Vexfs.writeSome} does (its documentation says how), inside its operation. */
export function writeSome(fs: Vexfs, ino: number, offset: number, data: Uint8Array): number {
  fs._assertWritable();
  if (data.length === 0 || offset < 0 || offset + data.length > MAX_FILE_SIZE) return fs.write(ino, offset, data);
  const n = fs.iget(ino);
  const bs = fs.blockSize;
  const first = Math.floor(offset / bs);
  const blocks = Math.floor((offset + data.length - 1) / bs) - first + 1;
  if ((n.d.mode & S_IFMT) === S_IFDIR || fits(fs, n, first, blocks)) return fs.write(ino, offset, data);
  // The largest block count that fits (fitting is monotonic in the count).
  let lo = 0, hi = blocks - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (fits(fs, n, first, mid)) lo = mid;
    else hi = mid - 1;
  }
  if (lo === 0) return fs.write(ino, offset, data); // throws ENOSPC, changes nothing
  return fs.write(ino, offset, data.subarray(0, (first + lo) * bs - offset));
}

/** What {@link Vexfs.truncate} does (its documentation says how), inside its operation. */
export function truncateFile(fs: Vexfs, ino: number, size: number): void {
  fs._assertWritable();
  const n = fs.iget(ino);
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
  const bs = fs.blockSize;
  if (size < n.d.size) {
    const eof = Math.ceil(size / bs);
    // An internal file keeps its preallocation window past the new end
    // (its blocks there become UNWRITTEN), so that a store shrinking and
    // growing by one slot at a window's edge does not free and
    // reallocate the window each time.
    const keep = size && (n.d.flags & IFL_INTERNAL) ? preallocWindow(fs, eof) : 0;
    truncateBlocks(fs, n, eof + keep);
    if (keep) {
      const low = markUnwritten(n.exts!, eof, keep);
      if (low >= 0) storeExtents(fs, n, low);
    }
    if (size % bs) {
      const s = segments(n.exts!, Math.floor(size / bs), 1)[0];
      if (s.physical !== null && !s.unwritten) {
        if (n.d.flags & IFL_INTERNAL) {
          fs.cache.get(s.physical).fill(0, size % bs);
          fs.cache.markDirty(s.physical);
        } else {
          fs.dev.write(
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
  fs.dirty(n);
}

/** What {@link Vexfs.fallocate} does (its documentation says how), inside its operation. */
export function fallocate(fs: Vexfs, ino: number, mode: number, offset: number, length: number): void {
  fs._assertWritable();
  const n = fs.iget(ino);
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
  const bs = fs.blockSize;
  if (mode === 0 || mode === 1) {
    const first = Math.floor(offset / bs);
    const last = Math.floor((offset + length - 1) / bs);
    allocRange(fs, n, first, last - first + 1, EXT_UNWRITTEN);
    if (mode === 0 && offset + length > n.d.size) n.d.size = offset + length;
  } else if (mode === 3) {
    const end = Math.min(offset + length, n.d.size);
    const fullFrom = Math.ceil(offset / bs);
    const fullTo = Math.floor(end / bs);
    const zero = (a: number, b: number) => {
      if (b <= a) return;
      const s = segments(n.exts ?? loadExtents(fs, n), Math.floor(a / bs), 1)[0];
      if (s.physical !== null && !s.unwritten) {
        fs.dev.write(s.physical * bs + (a % bs), new Uint8Array(b - a));
      }
    };
    if (fullTo > fullFrom) {
      const low = firstEndingAfter(loadExtents(fs, n), fullFrom);
      for (const f of punch(loadExtents(fs, n), fullFrom, fullTo)) {
        fs.bfree(f.start, f.count);
        n.d.blocks -= f.count;
      }
      storeExtents(fs, n, low);
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
  fs.dirty(n);
}
