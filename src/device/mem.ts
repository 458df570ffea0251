/**
 * `MemDevice`: a {@link BlockDevice} whose bytes live in memory. Used where
 * the real device would only cost time: the crash-state harness builds
 * thousands of images after simulated power cuts, the fsck fuzzer thousands
 * of damaged ones, and each is checked without touching the disk.
 *
 * @example
 * ```ts
 * import { MemDevice } from "./mem.ts";
 * const dev = new MemDevice(4 << 20);
 * dev.write(4096, new Uint8Array([1, 2, 3]));
 * const out = new Uint8Array(3);
 * dev.read(4096, out); // out is [1, 2, 3]
 * ```
 * @module
 */
import { FsError } from "../errors.ts";
import type { BlockDevice } from "./device.ts";

/** An in-memory device of a fixed size in bytes. */
export class MemDevice implements BlockDevice {
  readonly path: string;
  readonly kind = "memory" as const;
  readonly size: number;
  readonly sectorSize = 512;
  readonly readOnly: boolean;
  /** The device's bytes (shared, not copied: writes change it). */
  readonly bytes: Uint8Array;
  /** Number of {@link sync} calls so far. */
  syncs = 0;
  #open = true;

  /**
   * @param sizeOrBytes size in bytes (zero-filled), or the image bytes to use as they are (not copied)
   * @param opts `readOnly`: writes throw EROFS; `name`: what messages call it (default "memory")
   */
  constructor(sizeOrBytes: number | Uint8Array, opts: { readOnly?: boolean; name?: string } = {}) {
    this.bytes = typeof sizeOrBytes === "number" ? new Uint8Array(sizeOrBytes) : sizeOrBytes;
    this.size = this.bytes.length;
    this.readOnly = opts.readOnly ?? false;
    this.path = opts.name ?? "memory";
  }

  get isOpen(): boolean {
    return this.#open;
  }

  #check(what: string, offset: number, length: number): void {
    if (!this.#open) throw new FsError("EBADF", `${what} ${this.path}: device is closed`);
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

  read(offset: number, buf: Uint8Array): void {
    this.#check("read", offset, buf.length);
    buf.set(this.bytes.subarray(offset, offset + buf.length));
  }

  write(offset: number, data: Uint8Array): void {
    if (this.readOnly) throw new FsError("EROFS", `write ${this.path}: device is open read-only`);
    this.#check("write", offset, data.length);
    this.bytes.set(data, offset);
  }

  sync(): void {
    if (!this.#open) throw new FsError("EBADF", `sync ${this.path}: device is closed`);
    this.syncs++;
  }

  close(): void {
    this.#open = false;
  }
}
