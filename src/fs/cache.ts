/**
 * A write-back buffer cache of metadata blocks (inode table, bitmaps,
 * directory, extent-tree and xattr blocks, and the blocks of internal files)
 * over a {@link BlockIO}. File contents do not go through it: they are read
 * and written directly.
 *
 * With a journal the cache never writes a block on its own: dirty blocks
 * belong to the running transaction until the engine takes them
 * ({@link BufferCache.takeDirty}) and commits them (docs/FORMAT.md §9.4); a
 * cache full of dirty blocks grows until the operation ends and commits.
 * @module
 */

/** What the cache needs from a device: whole-block I/O at byte offsets. */
export interface BlockIO {
  read(offset: number, buf: Uint8Array): void;
  write(offset: number, data: Uint8Array): void;
}

/**
 * LRU cache of `blockSize`-byte blocks keyed by block number. Callers mutate
 * the returned buffer in place and call {@link BufferCache.markDirty}.
 */
export class BufferCache {
  readonly blockSize: number;
  /** Maximum clean+dirty blocks kept before clean ones are evicted. */
  readonly capacity: number;
  #io: BlockIO;
  #blocks = new Map<number, Uint8Array>();
  #dirty = new Set<number>();
  /** Block reads that went to the device (for tests and benchmarks). */
  reads = 0;
  /**
   * Whether the cache may write dirty blocks home by itself when it is full
   * (no journal). False with a journal: only a commit writes metadata.
   */
  writeBack = true;

  /**
   * @param io device access
   * @param blockSize bytes per block
   * @param capacityBytes memory budget in bytes (default 64 MiB)
   */
  constructor(io: BlockIO, blockSize: number, capacityBytes = 64 << 20) {
    this.#io = io;
    this.blockSize = blockSize;
    this.capacity = Math.max(64, Math.floor(capacityBytes / blockSize));
  }

  /** The cached contents of block `b`, read from the device on a miss. */
  get(b: number): Uint8Array {
    let buf = this.#blocks.get(b);
    if (buf) {
      this.#blocks.delete(b);
      this.#blocks.set(b, buf); // refresh LRU position
      return buf;
    }
    buf = new Uint8Array(this.blockSize);
    this.#io.read(b * this.blockSize, buf);
    this.reads++;
    this.#insert(b, buf);
    return buf;
  }

  /** A zeroed buffer for block `b` without reading it (for newly allocated blocks); marked dirty. */
  getNew(b: number): Uint8Array {
    let buf = this.#blocks.get(b);
    if (buf) buf.fill(0);
    else {
      buf = new Uint8Array(this.blockSize);
      this.#insert(b, buf);
    }
    this.#dirty.add(b);
    return buf;
  }

  /** Replaces block `b` with a copy of `data` and marks it dirty. */
  put(b: number, data: Uint8Array): void {
    const buf = this.#blocks.get(b) ?? new Uint8Array(this.blockSize);
    if (buf !== data) buf.set(data);
    if (!this.#blocks.has(b)) this.#insert(b, buf);
    this.#dirty.add(b);
  }

  /** Marks block `b` (which must be cached) as modified. */
  markDirty(b: number): void {
    if (!this.#blocks.has(b)) {
      throw new Error(`markDirty: block ${b} is not cached`);
    }
    this.#dirty.add(b);
  }

  /** Drops block `b` without writing it (the block was freed). */
  forget(b: number): void {
    this.#blocks.delete(b);
    this.#dirty.delete(b);
  }

  /** Number of dirty blocks waiting to be written. */
  get dirtyCount(): number {
    return this.#dirty.size;
  }

  /** Writes every dirty block to the device, in block order, merging adjacent blocks. */
  flush(): void {
    const list = [...this.#dirty].sort((a, b) => a - b);
    let i = 0;
    while (i < list.length) {
      let j = i + 1;
      while (j < list.length && list[j] === list[j - 1] + 1 && j - i < 256) j++;
      if (j - i === 1) {
        this.#io.write(list[i] * this.blockSize, this.#blocks.get(list[i])!);
      } else {
        const run = new Uint8Array((j - i) * this.blockSize);
        for (let k = i; k < j; k++) {
          run.set(this.#blocks.get(list[k])!, (k - i) * this.blockSize);
        }
        this.#io.write(list[i] * this.blockSize, run);
      }
      i = j;
    }
    this.#dirty.clear();
  }

  /**
   * Takes the dirty blocks for a commit: block number → its buffer (owned by
   * the cache; read it before the next change). They count as clean after.
   */
  takeDirty(): Map<number, Uint8Array> {
    const out = new Map<number, Uint8Array>();
    for (const b of this.#dirty) out.set(b, this.#blocks.get(b)!);
    this.#dirty.clear();
    return out;
  }

  /** Forgets every dirty block without writing it (an abandoned transaction). */
  dropDirty(): void {
    for (const b of this.#dirty) this.#blocks.delete(b);
    this.#dirty.clear();
  }

  /**
   * Calls `fn(block, buffer)` for each dirty block in [start, start+count):
   * the blocks whose contents differ from the device.
   */
  forEachDirtyIn(start: number, count: number, fn: (b: number, buf: Uint8Array) => void): void {
    if (this.#dirty.size === 0) return;
    if (count > this.#dirty.size) {
      for (const b of this.#dirty) if (b >= start && b < start + count) fn(b, this.#blocks.get(b)!);
    } else {
      for (let b = start; b < start + count; b++) if (this.#dirty.has(b)) fn(b, this.#blocks.get(b)!);
    }
  }

  /** Drops every clean block (dirty ones stay). */
  dropClean(): void {
    for (const b of [...this.#blocks.keys()]) {
      if (!this.#dirty.has(b)) this.#blocks.delete(b);
    }
  }

  #insert(b: number, buf: Uint8Array): void {
    this.#blocks.set(b, buf);
    if (this.#blocks.size <= this.capacity) return;
    // Evict the least recently used clean blocks; write back if all are dirty.
    for (const k of this.#blocks.keys()) {
      if (this.#blocks.size <= this.capacity) break;
      if (k === b) continue;
      if (this.#dirty.has(k)) continue;
      this.#blocks.delete(k);
    }
    if (this.#blocks.size > this.capacity && this.writeBack) {
      this.flush();
      for (const k of this.#blocks.keys()) {
        if (this.#blocks.size <= this.capacity) break;
        if (k !== b) this.#blocks.delete(k);
      }
    }
  }
}
