/**
 * In-memory allocation bitmaps (docs/FORMAT.md §2.1): bit i of byte i/8,
 * least significant first, set = in use. The whole bitmap is kept in memory
 * (32 MiB for a 1 TiB filesystem of 4 KiB blocks) and written back by block.
 * @module
 */
import { FsError } from "../errors.ts";

/** A bitmap of `bits` bits stored in `blocks` blocks of `blockSize` bytes. */
export class Bitmap {
  readonly bits: number;
  readonly blockSize: number;
  /** raw bitmap bytes, length blocks * blockSize */
  readonly bytes: Uint8Array;
  #dirty = new Set<number>();
  #free: number;
  /**
   * Bits cleared since the last {@link releaseHeld}, byte index → mask: free
   * on disk but not yet allocatable (docs/FORMAT.md §9.4: a block freed by a
   * transaction is not reused until that transaction commits).
   */
  #held = new Map<number, number>();
  #heldCount = 0;
  /** When true, {@link clear} holds the bits it frees until {@link releaseHeld}. */
  holdFrees = false;
  /** where the next search for free bits starts */
  rotor = 0;

  /**
   * @param bytes the bitmap blocks' contents (padding bits past `bits` must be set)
   * @param bits number of meaningful bits
   */
  constructor(bytes: Uint8Array, bits: number, blockSize: number) {
    this.bytes = bytes;
    this.bits = bits;
    this.blockSize = blockSize;
    this.#free = bits - this.countSet(0, bits);
  }

  /** Number of clear bits below `bits` (what the superblock and statfs count as free). */
  get free(): number {
    return this.#free;
  }

  /** Clear bits that may be allocated now: {@link free} less the held ones. */
  get available(): number {
    return this.#free - this.#heldCount;
  }

  /** Number of bits freed but held until the next {@link releaseHeld}. */
  get heldCount(): number {
    return this.#heldCount;
  }

  /** Makes every held bit allocatable (the transaction that freed them committed). */
  releaseHeld(): void {
    this.#held.clear();
    this.#heldCount = 0;
  }

  /** Byte `k` as the allocator sees it: in-use bits plus held ones. */
  #busyByte(k: number): number {
    return this.#heldCount ? this.bytes[k] | (this.#held.get(k) ?? 0) : this.bytes[k];
  }

  /** True when bit `i` is in use or held (not allocatable). */
  #busy(i: number): boolean {
    return (this.#busyByte(i >>> 3) & (1 << (i & 7))) !== 0;
  }

  /** True when bit `i` is set. */
  test(i: number): boolean {
    return (this.bytes[i >>> 3] & (1 << (i & 7))) !== 0;
  }

  /** Sets bits [i, i+n); throws if any is already set (double allocation). */
  set(i: number, n = 1): void {
    for (let k = i; k < i + n; k++) {
      const m = 1 << (k & 7);
      if (this.bytes[k >>> 3] & m) {
        throw new FsError("EUCLEAN", `bitmap: bit ${k} is already set (double allocation: the bitmap is damaged)`);
      }
      this.bytes[k >>> 3] |= m;
    }
    this.#free -= n;
    this.#touch(i, n);
  }

  /** Clears bits [i, i+n); throws if any is already clear (double free). */
  clear(i: number, n = 1): void {
    for (let k = i; k < i + n; k++) {
      const m = 1 << (k & 7);
      if (!(this.bytes[k >>> 3] & m)) {
        throw new FsError("EUCLEAN", `bitmap: bit ${k} is already clear (double free: the bitmap is damaged)`);
      }
      this.bytes[k >>> 3] &= ~m;
      if (this.holdFrees) {
        this.#held.set(k >>> 3, (this.#held.get(k >>> 3) ?? 0) | m);
        this.#heldCount++;
      }
    }
    this.#free += n;
    this.#touch(i, n);
  }

  /** Counts set bits in [from, to). */
  countSet(from: number, to: number): number {
    let c = 0;
    let i = from;
    while (i < to && (i & 7)) c += this.test(i++) ? 1 : 0;
    while (i + 8 <= to) {
      let v = this.bytes[i >>> 3];
      while (v) {
        v &= v - 1;
        c++;
      }
      i += 8;
    }
    while (i < to) c += this.test(i++) ? 1 : 0;
    return c;
  }

  /**
   * Finds up to `want` consecutive clear bits, preferring a run that starts at
   * `goal`, else the first run at or after `goal` (wrapping around). Returns the
   * start and length of the longest run found among the first candidates, or
   * null when no bit is free. Does not set the bits.
   */
  findRun(
    goal: number,
    want: number,
  ): { start: number; length: number } | null {
    if (this.available === 0) return null;
    if (goal < 0 || goal >= this.bits) goal = 0;
    let best: { start: number; length: number } | null = null;
    let scanned = 0;
    let i = goal;
    while (scanned < this.bits) {
      // skip full bytes quickly
      if ((i & 7) === 0 && this.#busyByte(i >>> 3) === 0xff && i + 8 <= this.bits) {
        i += 8;
        scanned += 8;
        if (i >= this.bits) i = 0;
        continue;
      }
      if (!this.#busy(i)) {
        let len = 1;
        while (len < want && i + len < this.bits && !this.#busy(i + len)) len++;
        if (!best || len > best.length) best = { start: i, length: len };
        if (len >= want) return best;
        // keep looking a little for a longer run, but not forever
        if (scanned > 1 << 20 && best) return best;
        i += len;
        scanned += len;
      } else {
        i++;
        scanned++;
      }
      if (i >= this.bits) i = 0;
    }
    return best;
  }

  /** Number of bitmap blocks changed since the last {@link takeDirty}. */
  get dirtyCount(): number {
    return this.#dirty.size;
  }

  /** Block indexes (relative to the bitmap start) that changed since the last {@link takeDirty}. */
  takeDirty(): number[] {
    const d = [...this.#dirty].sort((a, b) => a - b);
    this.#dirty.clear();
    return d;
  }

  #touch(i: number, n: number): void {
    const bitsPerBlock = this.blockSize * 8;
    for (
      let b = Math.floor(i / bitsPerBlock);
      b <= Math.floor((i + n - 1) / bitsPerBlock);
      b++
    ) this.#dirty.add(b);
  }
}
