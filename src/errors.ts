/**
 * Errors thrown by the VexFS engine. Every failure that a POSIX caller could
 * see carries an errno name and number, so that the FUSE layer and the CLI
 * can map it without guessing.
 * @module
 */

/** Linux errno numbers (asm-generic/errno-base.h, errno.h) used by the engine. */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  ENOTTY: 25,
  EFBIG: 27,
  ENOSPC: 28,
  ESPIPE: 29,
  EROFS: 30,
  EMLINK: 31,
  ERANGE: 34,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ENODATA: 61,
  EOVERFLOW: 75,
  EBADMSG: 74,
  ENOTSUP: 95,
  EOPNOTSUPP: 95,
  ESTALE: 116,
  EUCLEAN: 117,
} as const;

/** Name of an errno the engine may throw, e.g. `"ENOENT"`. */
export type ErrnoName = keyof typeof ERRNO;

/**
 * A filesystem error with a POSIX errno. `EUCLEAN` means "structure needs
 * cleaning": on-disk corruption was detected (bad checksum, bad magic).
 */
export class FsError extends Error {
  /** errno name, e.g. "ENOENT" */
  readonly code: ErrnoName;
  /** errno number, e.g. 2 */
  readonly errno: number;
  /** the message without the errno prefix, for people */
  readonly detail: string;
  constructor(code: ErrnoName, message: string) {
    super(`${code}: ${message}`);
    this.name = "FsError";
    this.code = code;
    this.errno = ERRNO[code];
    this.detail = message;
  }
}

/** Throws `FsError(code, message)` unless `cond` holds. */
export function check(
  cond: unknown,
  code: ErrnoName,
  message: string,
): asserts cond {
  if (!cond) throw new FsError(code, message);
}
