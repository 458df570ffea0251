/**
 * Inode attributes: stat(2), the changes of chmod, chown, truncate and
 * utimens, and the relatime rule for access times (docs/FORMAT.md §4:
 * mode, owner, size, and the four timestamps with their s64 seconds). Part
 * of the {@link Vexfs} engine: every function takes the engine first; the
 * `Vexfs` methods wrap them in their operation.
 * @module
 */
import { check } from "../errors.ts";
import { S_IFMT } from "../format/constants.ts";
import { nowTimespec, type Timespec, timespecOf } from "../format/inode.ts";
import type { SetAttr, Stat, Vexfs } from "./fs.ts";

/** What {@link Vexfs.getattr} does (its documentation says how), inside its operation. */
export function getattr(fs: Vexfs, ino: number): Stat {
  const n = fs.iget(ino);
  const d = n.d;
  return {
    ino,
    mode: d.mode,
    nlink: d.nlink,
    uid: d.uid,
    gid: d.gid,
    rdev: d.rdev,
    size: d.size,
    blocks: d.blocks * (fs.blockSize / 512),
    blksize: fs.blockSize,
    atime: { ...d.atime },
    mtime: { ...d.mtime },
    ctime: { ...d.ctime },
    crtime: { ...d.crtime },
    generation: d.generation,
    flags: d.flags,
  };
}

/** What {@link Vexfs.setattr} does (its documentation says how), inside its operation. */
export function setattr(fs: Vexfs, ino: number, a: SetAttr): Stat {
  fs._assertWritable();
  const n = fs.iget(ino);
  const now = nowTimespec();
  if (a.size !== undefined) fs.truncate(ino, a.size);
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
  fs.dirty(n);
  return fs.getattr(ino);
}

/** What {@link Vexfs.touchAtime} does (its documentation says how), inside its operation. */
export function touchAtime(fs: Vexfs, ino: number): void {
  if (fs.isReadOnly) return;
  const n = fs.iget(ino);
  const now = nowTimespec();
  const le = (a: Timespec, b: Timespec) => a.sec < b.sec || (a.sec === b.sec && a.nsec <= b.nsec);
  if (
    le(n.d.atime, n.d.mtime) || le(n.d.atime, n.d.ctime) ||
    now.sec - n.d.atime.sec > 86400
  ) {
    n.d.atime = now;
    fs.dirty(n);
  }
}

/**
 * A timestamp given by a caller, checked to fit the format's s64 seconds
 * and 0..999,999,999 nanoseconds.
 * @throws FsError EINVAL otherwise
 */
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
