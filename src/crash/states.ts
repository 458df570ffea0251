/**
 * Crash states: the device images a power cut could leave, built from a
 * {@link RecordingDevice} log the way CrashMonkey (Mohan et al., OSDI 2018,
 * §4) builds them from a dm-log-writes log.
 *
 * The model of the disk: a write is volatile until a flush completes; then
 * every write issued before the flush is durable. A power cut at a point of
 * the log therefore leaves every write before the last completed flush, plus
 * any subset of the writes issued after it, each write possibly torn at
 * `unit` bytes (the device's atomic write unit; default the filesystem block,
 * as jbd2 and ext4 assume). The states enumerated for one log are:
 *
 * - `flush`: the cut right after each flush (and before the first write),
 *   every earlier write present: what the workload's persistence points
 *   promise. The cut is placed just before the next write, so markers that
 *   follow the flush (fsync returned) count as reached.
 * - `prefix`: the writes of one epoch (between two flushes) replayed in
 *   order up to a random piece, as `dm-log-writes` replay to a mark does.
 * - `subset`: a random (seeded) subset of the pieces of one epoch up to a
 *   random cut, CrashMonkey's reordering of in-flight writes.
 *
 * Images are built copy-on-write ({@link CowDevice}): the base image bytes
 * are shared by every state and only the units a state changes are copied.
 * @module
 */
import { FsError } from "../errors.ts";
import type { BlockDevice } from "../device/device.ts";
import type { LogEntry } from "../device/recording.ts";
import { rng } from "../test_random.ts";

/** What kind of power cut a {@link CrashState} is (see the module documentation). */
export type CrashKind = "flush" | "prefix" | "subset";

/** A piece of a logged write: bytes `from..to` of the data of log entry `entry` (device-unit aligned). */
export interface Piece {
  /** index of the write in the log */
  entry: number;
  /** byte range within that write's data */
  from: number;
  to: number;
}

/** One power cut of a recorded log. */
export interface CrashState {
  kind: CrashKind;
  /** Log entries with index < cut were issued before the power went (markers below it were reached). */
  cut: number;
  /** Index of the last flush before `cut`, or -1: every write before it is on the media. */
  durable: number;
  /** Pieces of the writes between `durable` and `cut` that reached the media (empty for `flush`). */
  landed: Piece[];
}

/** Options of {@link enumerateStates}. */
export interface EnumerateOptions {
  /** atomic write unit in bytes (pieces never straddle a multiple of it); default 1024 */
  unit?: number;
  /** at most this many `prefix` + `subset` states for the whole log (default 8) */
  randomStates?: number;
  /** seed of the random choices */
  seed?: number;
  /** only states whose cut is after this log index (earlier ones are checked elsewhere); default -1 */
  after?: number;
  /** leave out the `flush` states (default false) */
  noFlushStates?: boolean;
}

/** Splits write `entry` of the log into pieces at multiples of `unit` device bytes. */
export function piecesOf(log: readonly LogEntry<unknown>[], entry: number, unit: number): Piece[] {
  const e = log[entry];
  if (e.kind !== "write") return [];
  const out: Piece[] = [];
  let from = 0;
  while (from < e.data.length) {
    const abs = e.offset + from;
    const to = Math.min(e.data.length, (Math.floor(abs / unit) + 1) * unit - e.offset);
    out.push({ entry, from, to });
    from = to;
  }
  return out;
}

/**
 * The crash states of a log: every `flush` state, then up to `randomStates`
 * `prefix`/`subset` states (one in four a prefix) spread over the epochs
 * that have writes, chosen by `seed`. The same log, options and seed give
 * the same list, so `(seed, index)` names a state.
 */
export function enumerateStates(log: readonly LogEntry<unknown>[], opts: EnumerateOptions = {}): CrashState[] {
  const unit = opts.unit ?? 1024;
  const after = opts.after ?? -1;
  const states: CrashState[] = [];
  // epochs: [start, end) ranges of log indices between flushes
  const flushes: number[] = [];
  log.forEach((e, i) => {
    if (e.kind === "flush") flushes.push(i);
  });
  const nextWrite = (i: number) => {
    for (let j = i + 1; j < log.length; j++) if (log[j].kind === "write") return j;
    return log.length;
  };
  if (!opts.noFlushStates) {
    for (const f of [-1, ...flushes]) {
      const cut = nextWrite(f);
      if (cut > after) states.push({ kind: "flush", cut, durable: f, landed: [] });
    }
  }
  interface Epoch {
    durable: number;
    pieces: Piece[];
    /** smallest number of issued pieces that puts the cut after `after` */
    minUpto: number;
  }
  const epochs: Epoch[] = [];
  for (const f of [-1, ...flushes]) {
    const pieces: Piece[] = [];
    for (let j = f + 1; j < log.length && log[j].kind !== "flush"; j++) {
      if (log[j].kind === "write") pieces.push(...piecesOf(log, j, unit));
    }
    const minUpto = pieces.findIndex((p) => p.entry + 1 > after) + 1;
    if (minUpto > 0) epochs.push({ durable: f, pieces, minUpto });
  }
  const want = opts.randomStates ?? 8;
  if (!epochs.length || want <= 0) return states;
  const r = rng(opts.seed ?? 1);
  const seen = new Set<string>();
  for (let tries = 0; seen.size < want && tries < want * 8; tries++) {
    const ep = epochs[Math.floor(r() * epochs.length)];
    const n = ep.pieces.length;
    const upto = ep.minUpto + Math.floor(r() * (n - ep.minUpto + 1)); // pieces[0..upto) were issued
    const prefix = r() < 0.25;
    let landed: Piece[];
    if (prefix) landed = ep.pieces.slice(0, upto);
    else {
      landed = ep.pieces.slice(0, upto).filter(() => r() < 0.5);
      if (!landed.length) landed = [ep.pieces[Math.floor(r() * upto)]];
    }
    const cut = ep.pieces[upto - 1].entry + 1;
    const key = `${ep.durable}:${cut}:${landed.map((p) => `${p.entry}.${p.from}`).join(",")}`;
    if (seen.has(key)) continue;
    seen.add(key);
    states.push({ kind: prefix ? "prefix" : "subset", cut, durable: ep.durable, landed });
  }
  return states;
}

/**
 * Builds the images of crash states of one log over one base image,
 * incrementally: the durable part of each flush is computed once and shared
 * (copy-on-write) by every state that starts from it.
 */
export class StateBuilder {
  readonly base: Uint8Array;
  readonly unit: number;
  readonly log: readonly LogEntry<unknown>[];
  /** durable flush index → overlay after applying every write before it (units are never mutated) */
  #at = new Map<number, Map<number, Uint8Array>>();
  #cur = new Map<number, Uint8Array>();
  #curAt = -1;

  /**
   * @param base the image before the first logged write (not copied; must not change)
   * @param log the recorded log
   * @param unit bytes per copy-on-write unit (a divisor of every piece boundary: use the atomic unit)
   */
  constructor(base: Uint8Array, log: readonly LogEntry<unknown>[], unit = 1024) {
    this.base = base;
    this.log = log;
    this.unit = unit;
    this.#at.set(-1, new Map());
  }

  #durable(f: number): Map<number, Uint8Array> {
    const hit = this.#at.get(f);
    if (hit) return hit;
    if (f < this.#curAt) {
      this.#cur = new Map();
      this.#curAt = -1;
    }
    for (let i = this.#curAt + 1; i < f; i++) {
      const e = this.log[i];
      if (e.kind === "write") applyWrite(this.base, this.#cur, this.unit, e.offset, e.data, false);
    }
    this.#curAt = f;
    const snap = new Map(this.#cur);
    this.#at.set(f, snap);
    return snap;
  }

  /** A fresh writable device holding the image of `s` (the engine and fsck may use it; it shares the base). */
  build(s: CrashState, name = "crash-state"): CowDevice {
    const ov = new Map(this.#durable(s.durable));
    const owned = new Set<number>();
    for (const p of s.landed) {
      const e = this.log[p.entry];
      if (e.kind !== "write") continue;
      applyWrite(this.base, ov, this.unit, e.offset + p.from, e.data.subarray(p.from, p.to), owned);
    }
    return new CowDevice(this.base, ov, this.unit, name, owned);
  }
}

/**
 * Writes `data` at byte `offset` into overlay `ov` over `base`. A unit not in
 * `owned` (or every unit when `owned` is false) is copied before it is
 * changed, so overlays may share unit buffers.
 */
function applyWrite(
  base: Uint8Array,
  ov: Map<number, Uint8Array>,
  unit: number,
  offset: number,
  data: Uint8Array,
  owned: Set<number> | false,
): void {
  let pos = 0;
  while (pos < data.length) {
    const abs = offset + pos;
    const u = Math.floor(abs / unit);
    const off = abs - u * unit;
    const n = Math.min(unit - off, data.length - pos);
    let buf = ov.get(u);
    if (!buf || !owned || !owned.has(u)) {
      const src = buf ?? base.subarray(u * unit, (u + 1) * unit);
      if (off === 0 && n === unit) buf = new Uint8Array(unit);
      else buf = src.slice();
      ov.set(u, buf);
      if (owned) owned.add(u);
    }
    buf.set(data.subarray(pos, pos + n), off);
    pos += n;
  }
}

/**
 * A {@link BlockDevice} whose bytes are a shared, never-modified base image
 * with private copies of the units written since (copy-on-write). Reads and
 * writes may cross unit boundaries. `sync` only counts.
 */
export class CowDevice implements BlockDevice {
  readonly path: string;
  readonly kind = "memory" as const;
  readonly size: number;
  readonly sectorSize = 512;
  readonly readOnly = false;
  readonly unit: number;
  /** unit index → its bytes (those in `owned` belong to this device) */
  readonly overlay: Map<number, Uint8Array>;
  /** flushes so far */
  syncs = 0;
  #base: Uint8Array;
  #owned: Set<number>;
  #open = true;

  /**
   * @param base image bytes (shared, never written)
   * @param overlay unit index → unit bytes replacing the base's (taken over; units not in `owned` are copied before a write)
   * @param unit bytes per unit
   * @param name what messages call the device
   * @param owned units of `overlay` this device may change in place
   */
  constructor(
    base: Uint8Array,
    overlay = new Map<number, Uint8Array>(),
    unit = 1024,
    name = "cow",
    owned = new Set<number>(),
  ) {
    this.#base = base;
    this.size = base.length;
    this.overlay = overlay;
    this.unit = unit;
    this.path = name;
    this.#owned = owned;
  }

  get isOpen(): boolean {
    return this.#open;
  }

  #check(what: string, offset: number, length: number): void {
    if (!this.#open) throw new FsError("EBADF", `${what} ${this.path}: device is closed`);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > this.size) {
      throw new FsError(
        what === "write" ? "ENOSPC" : "EIO",
        `${what} ${this.path}: bytes ${offset}..${offset + length} are outside the device (${this.size} bytes)`,
      );
    }
  }

  read(offset: number, buf: Uint8Array): void {
    this.#check("read", offset, buf.length);
    buf.set(this.#base.subarray(offset, offset + buf.length));
    if (!this.overlay.size) return;
    const unit = this.unit;
    const first = Math.floor(offset / unit);
    const last = Math.floor((offset + buf.length - 1) / unit);
    if (last - first + 1 > this.overlay.size) {
      for (const [u, b] of this.overlay) if (u >= first && u <= last) this.#copyUnit(u, b, offset, buf);
    } else {
      for (let u = first; u <= last; u++) {
        const b = this.overlay.get(u);
        if (b) this.#copyUnit(u, b, offset, buf);
      }
    }
  }

  #copyUnit(u: number, b: Uint8Array, offset: number, buf: Uint8Array): void {
    const start = u * this.unit;
    const from = Math.max(start, offset);
    const to = Math.min(start + this.unit, offset + buf.length);
    buf.set(b.subarray(from - start, to - start), from - offset);
  }

  write(offset: number, data: Uint8Array): void {
    this.#check("write", offset, data.length);
    applyWrite(this.#base, this.overlay, this.unit, offset, data, this.#owned);
  }

  sync(): void {
    if (!this.#open) throw new FsError("EBADF", `sync ${this.path}: device is closed`);
    this.syncs++;
  }

  close(): void {
    this.#open = false;
  }

  /** The whole image as one new array (for writing it to a file to reproduce a state). */
  materialize(): Uint8Array {
    const out = this.#base.slice();
    for (const [u, b] of this.overlay) out.set(b, u * this.unit);
    return out;
  }

  /** Reopens a closed device (the same bytes), so a checker can run after the engine closed it. */
  reopen(): this {
    this.#open = true;
    return this;
  }
}
