/**
 * `Device`: the engine's only way to touch storage. A device is either an
 * image file (a regular file, usually sparse) or a Linux block device; both
 * are addressed by byte offset with positioned I/O (`pread`/`pwrite` with
 * 64-bit offsets, see `libc.ts`).
 *
 * Exclusion: a block device opened read-write is claimed with `O_EXCL`, so
 * the kernel refuses (EBUSY) while it is mounted, used as swap, held by
 * device-mapper/md or claimed by another process. An image file gets an
 * advisory `flock` (exclusive for read-write, shared for read-only), so two
 * VexFS processes never open one image read-write at once.
 *
 * @example
 * ```ts
 * const dev = Device.create("/tmp/vexfs.img", 64 << 20);
 * dev.write(1024, superblockBytes);
 * dev.sync();
 * dev.close();
 * ```
 * @module
 */
import { FsError } from "../errors.ts";
import * as libc from "./libc.ts";

/** Options of {@link Device.open}. */
export interface DeviceOpenOptions {
  /** Open for reading only; writes throw EROFS. Default false. */
  readOnly?: boolean;
  /**
   * Claim the device exclusively. Default: true for read-write, false for
   * read-only. Block devices: `O_EXCL` (the kernel says EBUSY if the device is
   * mounted or held). Image files: an exclusive `flock` even when read-only
   * (a read-write image file is always locked exclusively).
   */
  exclusive?: boolean;
  /**
   * Image files only: take the `flock` at all. Default true. `false` is only
   * allowed with `readOnly` and is meant for inspection tools (probing, dump)
   * that must see an image another process holds.
   */
  lock?: boolean;
}

/**
 * What the engine, mkfs, fsck and the journal need from storage: positioned
 * byte I/O, a durability barrier and a size. {@link Device} is the real one
 * (image file or block device); `MemDevice` (src/device/mem.ts) keeps an
 * image in memory and `RecordingDevice` records writes and flushes for the
 * crash-state harness. All offsets and sizes are in bytes.
 */
export interface BlockDevice {
  /** What to call the device in messages (a path, or a name for in-memory devices). */
  readonly path: string;
  /** `"file"` for an image file, `"block"` for a block device, `"memory"` for an in-memory one. */
  readonly kind: "file" | "block" | "memory";
  /** Size in bytes. */
  readonly size: number;
  /** Smallest unit the device writes atomically, in bytes (512 for files). */
  readonly sectorSize: number;
  /** True if `write` throws EROFS. */
  readonly readOnly: boolean;
  /** True until `close`. */
  readonly isOpen: boolean;
  /**
   * Fills `buf` exactly with the bytes from byte `offset`.
   * @throws FsError EIO (past the end, short read, media error), EBADF
   */
  read(offset: number, buf: Uint8Array): void;
  /**
   * Writes all of `data` at byte `offset`. Not durable until {@link sync}.
   * @throws FsError EROFS, ENOSPC (past the end), EIO, EBADF
   */
  write(offset: number, data: Uint8Array): void;
  /**
   * Barrier: every write completed before the call is durable when it returns
   * (fdatasync/fsync, which also flushes a disk's write cache).
   * @throws FsError EIO (a write-back error), EBADF
   */
  sync(): void;
  /** Releases the device (and its lock). Idempotent. */
  close(): void;
}

/**
 * An open image file or block device. Offsets and sizes are in bytes.
 * All methods are synchronous and throw {@link FsError}.
 */
export class Device implements BlockDevice {
  /** The path given to `open`/`create`. */
  readonly path: string;
  /** `"file"` for an image file, `"block"` for a block device. */
  readonly kind: "file" | "block";
  /**
   * Size in bytes: for a block device `BLKGETSIZE64` from the kernel, for an
   * image file its size when opened (or grown by `create`).
   */
  readonly size: number;
  /**
   * Logical sector size in bytes: `BLKSSZGET` for a block device, 512 for an
   * image file. The smallest unit the device can write atomically.
   */
  readonly sectorSize: number;
  /** True if opened read-only: `write` throws EROFS. */
  readonly readOnly: boolean;
  #fd: number;

  private constructor(
    path: string,
    fd: number,
    kind: "file" | "block",
    size: number,
    sectorSize: number,
    readOnly: boolean,
  ) {
    this.path = path;
    this.#fd = fd;
    this.kind = kind;
    this.size = size;
    this.sectorSize = sectorSize;
    this.readOnly = readOnly;
  }

  /**
   * Opens an image file or block device.
   * @param path path of a regular file or block device (symlinks followed)
   * @throws FsError ENOENT (no such path), EINVAL (neither a regular file nor
   *   a block device, or `lock: false` without `readOnly`), EBUSY ("<path> is
   *   in use by another process (mounted?)": block device mounted/held/claimed,
   *   or image file locked by another VexFS process), EACCES, EROFS (read-write
   *   open of a read-only device), EIO
   */
  static open(path: string, opts: DeviceOpenOptions = {}): Device {
    const readOnly = opts.readOnly ?? false;
    const exclusive = opts.exclusive ?? !readOnly;
    const lock = opts.lock ?? true;
    if (!lock && !readOnly) {
      throw new FsError("EINVAL", `${path}: lock: false needs readOnly`);
    }
    const kind = kindOf(path);
    let flags = (readOnly ? libc.O_RDONLY : libc.O_RDWR) | libc.O_CLOEXEC;
    if (kind === "block" && exclusive) flags |= libc.O_EXCL;
    let fd: number;
    try {
      fd = libc.open(path, flags);
    } catch (e) {
      if (e instanceof FsError && e.code === "EBUSY") throw busy(path);
      throw e;
    }
    try {
      if (kind === "file") {
        if (lock) {
          const op = (readOnly && !exclusive ? libc.LOCK_SH : libc.LOCK_EX) |
            libc.LOCK_NB;
          if (!flockBriefly(fd, op, path)) throw busy(path);
        }
        const st = Deno.statSync(path);
        if (!st.isFile) throw new FsError("EINVAL", `${path} changed type`);
        return new Device(path, fd, "file", st.size, 512, readOnly);
      }
      const size = libc.blockDeviceSize(fd, path);
      const sector = libc.blockSectorSize(fd, path);
      return new Device(path, fd, "block", size, sector, readOnly);
    } catch (e) {
      try {
        libc.close(fd, path);
      } catch { /* the original error matters */ }
      throw e;
    }
  }

  /**
   * Creates an image file of `sizeBytes`, or grows an existing one to it
   * (sparse, by `ftruncate`). Never shrinks and never truncates existing data:
   * an existing larger file keeps its size. Returns it opened read-write with
   * an exclusive lock.
   * @param sizeBytes wanted size in bytes, a safe integer ≥ 0
   * @throws FsError EINVAL (bad size, or the path is not a regular file),
   *   EBUSY (locked by another process), EFBIG/ENOSPC (file system limits),
   *   EACCES, ENOENT (missing parent directory)
   */
  static create(path: string, sizeBytes: number): Device {
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 0) {
      throw new FsError("EINVAL", `${path}: bad image size ${sizeBytes}`);
    }
    try {
      if (!Deno.statSync(path).isFile) {
        throw new FsError(
          "EINVAL",
          `${path} exists and is not a regular file; Device.create makes image files only`,
        );
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    const fd = libc.open(
      path,
      libc.O_RDWR | libc.O_CREAT | libc.O_CLOEXEC,
      0o644,
    );
    try {
      if (!libc.flock(fd, libc.LOCK_EX | libc.LOCK_NB, path)) throw busy(path);
      let size = Deno.statSync(path).size;
      if (size < sizeBytes) {
        libc.ftruncate(fd, sizeBytes, path);
        size = sizeBytes;
      }
      return new Device(path, fd, "file", size, 512, false);
    } catch (e) {
      try {
        libc.close(fd, path);
      } catch { /* the original error matters */ }
      throw e;
    }
  }

  /** The raw file descriptor (for `ioctl` and tests); EBADF once closed. */
  get fd(): number {
    this.#checkOpen("fd");
    return this.#fd;
  }

  /** True until `close`. */
  get isOpen(): boolean {
    return this.#fd >= 0;
  }

  #checkOpen(what: string): void {
    if (this.#fd < 0) {
      throw new FsError("EBADF", `${what} ${this.path}: device is closed`);
    }
  }

  #checkRange(what: string, offset: number, length: number): void {
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new FsError("EINVAL", `${what} ${this.path}: bad offset ${offset}`);
    }
    if (offset + length > this.size) {
      throw new FsError(
        what === "write" ? "ENOSPC" : "EIO",
        `${what} ${this.path}: bytes ${offset}..${
          offset + length
        } are beyond the end of the device (${this.size} bytes)`,
      );
    }
  }

  /**
   * Fills `buf` exactly with the bytes from byte `offset`.
   * @throws FsError EIO (range past the end of the device, a short read
   *   inside it, or a media error), EINVAL (bad offset), EBADF (closed)
   */
  read(offset: number, buf: Uint8Array): void {
    this.#checkOpen("read");
    this.#checkRange("read", offset, buf.length);
    const n = libc.pread(this.#fd, buf, offset, this.path);
    if (n !== buf.length) {
      throw new FsError(
        "EIO",
        `read ${this.path}: short read at byte ${
          offset + n
        } (wanted ${buf.length} bytes from ${offset}); device shrank?`,
      );
    }
  }

  /**
   * Writes all of `data` at byte `offset`.
   * @throws FsError EROFS (opened read-only), ENOSPC (range past the end of
   *   the device, or the host file system is full), EIO, EINVAL, EBADF
   */
  write(offset: number, data: Uint8Array): void {
    this.#checkOpen("write");
    if (this.readOnly) {
      throw new FsError(
        "EROFS",
        `write ${this.path}: device is open read-only`,
      );
    }
    this.#checkRange("write", offset, data.length);
    libc.pwrite(this.#fd, data, offset, this.path);
  }

  /**
   * Makes every completed write durable: `fdatasync` for an image file,
   * `fsync` for a block device (which also flushes its write cache).
   * @throws FsError EIO (a write-back error since the last sync), EBADF
   */
  sync(): void {
    this.#checkOpen("sync");
    if (this.kind === "block") libc.fsync(this.#fd, this.path);
    else libc.fdatasync(this.#fd, this.path);
  }

  /**
   * Closes the device, releasing its lock or `O_EXCL` claim. Idempotent.
   * @throws FsError EIO (a delayed write error reported by close)
   */
  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    libc.close(fd, this.path);
  }
}

/**
 * flock with a short grace period. A lock can outlive its holder's close(2)
 * for a moment when another thread forks a child between our open and close:
 * the child shares the open file description until it execs (O_CLOEXEC only
 * acts at exec). A real holder (a mount, another vexfs) keeps it far longer
 * than this grace period.
 * @returns false if the lock is still held after about 500 ms
 */
function flockBriefly(fd: number, op: number, path: string): boolean {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let i = 0; i < 50; i++) {
    if (libc.flock(fd, op, path)) return true;
    Atomics.wait(pause, 0, 0, 10);
  }
  return false;
}

function busy(path: string): FsError {
  return new FsError(
    "EBUSY",
    `${path} is in use by another process (mounted?)`,
  );
}

function kindOf(path: string): "file" | "block" {
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new FsError("ENOENT", `${path}: no such file or device`);
    }
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new FsError("EACCES", `${path}: permission denied`);
    }
    throw e;
  }
  if (st.isFile) return "file";
  if (st.isBlockDevice) return "block";
  if (st.isDirectory) throw new FsError("EISDIR", `${path} is a directory`);
  throw new FsError(
    "EINVAL",
    `${path} is neither a regular file nor a block device`,
  );
}
