/**
 * `DeviceWrapper`: a {@link BlockDevice} that passes everything to another
 * one. Devices that change one thing about a device (read through a replayed
 * journal, record writes and flushes, drop writes after a simulated power
 * cut, count flushes for a benchmark) extend it and override only that.
 *
 * @example
 * ```ts
 * import { DeviceWrapper } from "./wrap.ts";
 * import { MemDevice } from "./mem.ts";
 * class CountingDevice extends DeviceWrapper {
 *   flushes = 0;
 *   override sync(): void {
 *     this.flushes++;
 *     super.sync();
 *   }
 * }
 * const dev = new CountingDevice(new MemDevice(1 << 20));
 * dev.sync(); // dev.flushes is 1
 * ```
 * @module
 */
import type { BlockDevice } from "./device.ts";

/** Forwards every call and property to `base`; subclasses override what they change. */
export class DeviceWrapper implements BlockDevice {
  /** The device underneath (its `close` is this one's). */
  readonly base: BlockDevice;

  constructor(base: BlockDevice) {
    this.base = base;
  }

  get path(): string {
    return this.base.path;
  }
  get kind(): BlockDevice["kind"] {
    return this.base.kind;
  }
  get size(): number {
    return this.base.size;
  }
  get sectorSize(): number {
    return this.base.sectorSize;
  }
  get readOnly(): boolean {
    return this.base.readOnly;
  }
  get isOpen(): boolean {
    return this.base.isOpen;
  }

  read(offset: number, buf: Uint8Array): void {
    this.base.read(offset, buf);
  }

  write(offset: number, data: Uint8Array): void {
    this.base.write(offset, data);
  }

  sync(): void {
    this.base.sync();
  }

  close(): void {
    this.base.close();
  }
}
