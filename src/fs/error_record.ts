/**
 * The superblock's error record (docs/FORMAT.md §3.2, as ext4's
 * `ext4_handle_error`): what an error met in use is recorded as, and how a
 * superblock takes it. When to record and what follows (`errors=`) is the
 * engine's ({@linkcode Vexfs} in ./fs.ts).
 * @module
 */
import type { FsError } from "../errors.ts";
import { STATE_ERROR } from "../format/constants.ts";
import type { Superblock } from "../format/superblock.ts";

/** One error as the superblock records it. */
export interface ErrorRecord {
  /** 5 (EIO) or 117 (EUCLEAN) */
  errno: number;
  /** seconds since the epoch */
  time: number;
  /** the inode its message names, 0 if none */
  ino: number;
  /** the operation, at most 32 bytes */
  op: string;
}

/** The record of error `e` met in operation `op`, now. */
export function errorRecordOf(op: string, e: FsError): ErrorRecord {
  const now = Math.floor(Date.now() / 1000);
  const errno = e.code === "EIO" ? 5 : 117;
  const ino = Number(/inode (\d+)/.exec(e.message)?.[1] ?? 0);
  const opName = op.slice(0, 32);
  return { errno, time: now, ino, op: opName };
}

/**
 * Adds record `r` to superblock `t`: one more error, the first error's
 * fields when there was none, the last error's fields, state ERROR.
 */
export function applyErrorRecord(t: Superblock, r: ErrorRecord): void {
  const { errno, time: now, ino, op: opName } = r;
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
}
