/**
 * `RecordingDevice`: a {@link BlockDevice} that passes every call through to
 * a base device and keeps, in order, a copy of every write, every flush
 * (`sync`) and the markers a workload adds ("persistence point reached
 * here, and this is what it guaranteed"). It is the user-space counterpart
 * of Linux's dm-log-writes target (Documentation/admin-guide/device-mapper/
 * log-writes.rst), which CrashMonkey (Mohan et al., "Finding Crash-
 * Consistency Bugs with Bounded Black-Box Crash Testing", OSDI 2018) uses to
 * record the block I/O of a workload and then replay any prefix or subset of
 * it to build the images a power cut could leave.
 *
 * What a power cut may leave, given such a log (the model of
 * `src/crash/states.ts`): every write issued before the last *completed*
 * flush is on the media; of the writes issued after it, any subset is (a
 * disk's volatile cache reorders freely), torn at the device's atomic unit.
 *
 * The log holds copies, so the caller may reuse its buffers; reads are not
 * logged. Marker payloads are kept by reference.
 *
 * @example
 * ```ts
 * import { MemDevice } from "./mem.ts";
 * import { RecordingDevice } from "./recording.ts";
 * const rec = new RecordingDevice<string>(new MemDevice(1 << 20));
 * rec.write(4096, new Uint8Array([1, 2, 3]));
 * rec.sync();
 * rec.mark("persist", "block 4 holds 1 2 3");
 * // rec.log: write(4096, 3 bytes), flush, mark("persist")
 * ```
 * @module
 */
import type { BlockDevice } from "./device.ts";
import { DeviceWrapper } from "./wrap.ts";

/** One write as issued: `data` is a private copy of the bytes written at byte `offset`. */
export interface WriteEntry {
  kind: "write";
  /** byte offset on the device */
  offset: number;
  /** the bytes written (a copy) */
  data: Uint8Array;
}

/** A completed flush: every earlier write is durable. */
export interface FlushEntry {
  kind: "flush";
}

/** A marker placed by the workload between device calls. */
export interface MarkEntry<M> {
  kind: "mark";
  /** short name, e.g. `"op"` or `"persist"` */
  label: string;
  /** what the workload attaches (kept by reference) */
  payload: M;
}

/** An entry of {@link RecordingDevice.log}, in issue order. */
export type LogEntry<M = unknown> = WriteEntry | FlushEntry | MarkEntry<M>;

/** Options of {@link RecordingDevice}. */
export interface RecordingOptions {
  /**
   * Make the device lie about flushes, as a disk with a write cache that
   * ignores FLUSH does: a dropped flush still calls nothing on the base and
   * is not logged, so the writes before it stay undurable. `true` drops all,
   * a function gets the 0-based index of each `sync` call and says whether
   * to drop it. Used to show that the crash oracle catches a broken barrier.
   */
  dropFlushes?: boolean | ((index: number) => boolean);
}

/**
 * Records writes, flushes and markers while passing them to `base`. Offsets
 * and sizes are in bytes. Errors of the base device propagate unchanged; a
 * write that the base refuses is not logged.
 * @typeParam M the type of marker payloads
 */
export class RecordingDevice<M = unknown> extends DeviceWrapper {
  /** Every write, flush and marker so far, in issue order. */
  readonly log: LogEntry<M>[] = [];
  /** Number of `sync` calls (including dropped ones). */
  syncCalls = 0;
  /** Bytes written so far. */
  bytesWritten = 0;
  #drop: (index: number) => boolean;

  /**
   * @param base the device that actually stores the bytes (it stays owned by the caller until {@link close})
   * @param opts see {@link RecordingOptions}
   */
  constructor(base: BlockDevice, opts: RecordingOptions = {}) {
    super(base);
    const d = opts.dropFlushes ?? false;
    this.#drop = typeof d === "function" ? d : () => d;
  }

  override write(offset: number, data: Uint8Array): void {
    this.base.write(offset, data);
    this.log.push({ kind: "write", offset, data: data.slice() });
    this.bytesWritten += data.length;
  }

  override sync(): void {
    const i = this.syncCalls++;
    if (this.#drop(i)) return;
    this.base.sync();
    this.log.push({ kind: "flush" });
  }

  /**
   * Notes a point in the workload, between device calls: e.g. "an operation
   * starts here" or "fsync returned here; this is what it made durable".
   * @returns the marker's index in {@link log}
   */
  mark(label: string, payload: M): number {
    this.log.push({ kind: "mark", label, payload });
    return this.log.length - 1;
  }

  /** Counts of the log's entries by kind. */
  counts(): { writes: number; flushes: number; marks: number } {
    let writes = 0, flushes = 0, marks = 0;
    for (const e of this.log) {
      if (e.kind === "write") writes++;
      else if (e.kind === "flush") flushes++;
      else marks++;
    }
    return { writes, flushes, marks };
  }
}
