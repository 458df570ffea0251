/**
 * `OverlayDevice`: a read-only view of a {@link BlockDevice} with some blocks
 * replaced from memory. A read-only user of a filesystem whose journal needs
 * recovery (a `ro` mount, `fsck -n`, offline reads) replays the journal into
 * such an overlay (docs/FORMAT.md §9.5) and reads through it, so it sees the
 * committed state without writing a byte.
 *
 * @example
 * ```ts
 * import { MemDevice } from "./mem.ts";
 * import { OverlayDevice } from "./overlay.ts";
 * const base = new MemDevice(8192);
 * const ov = new OverlayDevice(base, 4096, new Map([[1, new Uint8Array(4096).fill(7)]]));
 * const b = new Uint8Array(2);
 * ov.read(4095, b); // [0, 7]: the overlay covers block 1
 * ```
 * @module
 */
import { FsError } from "../errors.ts";
import type { BlockDevice } from "./device.ts";
import { DeviceWrapper } from "./wrap.ts";

/** A read-only device: `base` with whole blocks replaced by `overlay`. */
export class OverlayDevice extends DeviceWrapper {
  readonly blockSize: number;
  /** block number → contents (blockSize bytes) that replace the base's */
  readonly overlay: Map<number, Uint8Array>;

  /**
   * @param base the device underneath (its close closes the overlay too)
   * @param blockSize bytes per overlay block
   * @param overlay block number → contents, each `blockSize` bytes
   */
  constructor(base: BlockDevice, blockSize: number, overlay: Map<number, Uint8Array>) {
    super(base);
    this.blockSize = blockSize;
    this.overlay = overlay;
  }

  override get readOnly(): boolean {
    return true;
  }

  override read(offset: number, buf: Uint8Array): void {
    this.base.read(offset, buf);
    if (this.overlay.size === 0 || buf.length === 0) return;
    const bs = this.blockSize;
    const first = Math.floor(offset / bs);
    const last = Math.floor((offset + buf.length - 1) / bs);
    if (last - first + 1 > this.overlay.size) {
      for (const [b, data] of this.overlay) if (b >= first && b <= last) this.#patch(b, data, offset, buf);
    } else {
      for (let b = first; b <= last; b++) {
        const data = this.overlay.get(b);
        if (data) this.#patch(b, data, offset, buf);
      }
    }
  }

  #patch(b: number, data: Uint8Array, offset: number, buf: Uint8Array): void {
    const start = b * this.blockSize;
    const from = Math.max(start, offset);
    const to = Math.min(start + this.blockSize, offset + buf.length);
    buf.set(data.subarray(from - start, to - start), from - offset);
  }

  override write(): void {
    throw new FsError("EROFS", `write ${this.path}: read-only view of a journal replayed in memory`);
  }

  override sync(): void {}
}
