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
 *
 * Clean and dirty blocks are kept apart: clean ones in least-recently-used
 * order (the next to evict first), dirty ones unordered since they cannot be
 * evicted. Eviction therefore takes the oldest clean block in O(1) however
 * many dirty blocks a large transaction holds. Blocks marked cold
 * ({@link BufferCache.markCold}: the blocks of vector stores and other
 * internal files, written once and read from memory by their owner) are
 * evicted before any other clean block, so that an import writing half a
 * gigabyte of vectors through the cache does not push out the directory
 * and inode-table blocks every file creation needs.
 *
 * **Checksums are verified when a block comes from the device, not on every
 * access** (issue 8): {@link BufferCache.get} takes the caller's verifier and
 * runs it on a miss only; a block stays verified while it is cached (the
 * cache holds the only copy the engine changes), and blocks the engine wrote
 * itself ({@link BufferCache.getNew}, {@link BufferCache.put}) need none. A
 * block read without a verifier is verified by the first `get` that brings
 * one.
 * @module
 */

/** What the cache needs from a device: whole-block I/O at byte offsets. */
export interface BlockIO {
  read(offset: number, buf: Uint8Array): void;
  write(offset: number, data: Uint8Array): void;
}

/**
 * Checks a block just read from the device (its checksum, magic...) and
 * throws (an `FsError` EUCLEAN) when it is damaged; the block is then not
 * cached, so the next access reads and checks it again.
 */
export type BlockVerifier = (buf: Uint8Array) => void;

/**
 * LRU cache of `blockSize`-byte blocks keyed by block number. Callers mutate
 * the returned buffer in place and call {@link BufferCache.markDirty}.
 */
export class BufferCache {
  readonly blockSize: number;
  /** Maximum clean+dirty blocks kept before clean ones are evicted. */
  readonly capacity: number;
  #io: BlockIO;
  /** clean blocks, least recently used first */
  #clean = new Map<number, Uint8Array>();
  /** clean blocks marked cold, least recently used first: evicted before {@link #clean} */
  #cold = new Map<number, Uint8Array>();
  /** dirty blocks that go to {@link #cold} when they are clean */
  #coldDirty = new Set<number>();
  /** dirty blocks (never evicted) */
  #dirty = new Map<number, Uint8Array>();
  /** cached blocks read without a verifier: the first `get` with one checks them */
  #unverified = new Set<number>();
  /** Block reads that went to the device: the misses of {@link BufferCache.get} (for `vexfs stats`, tests and benchmarks). */
  reads = 0;
  /** {@link BufferCache.get} calls served from the cache (for `vexfs stats`). */
  hits = 0;
  /** Blocks checked by a verifier after a read (for tests and benchmarks). */
  verified = 0;
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

  /**
   * The cached contents of block `b`, read from the device on a miss.
   * @param verify run on the block when it comes from the device (or was
   *   cached without being verified), not when it is served from the cache
   * @throws whatever `verify` throws; the block is then not cached
   */
  get(b: number, verify?: BlockVerifier): Uint8Array {
    let buf = this.#dirty.get(b);
    if (buf) {
      if (verify && this.#unverified.size && this.#unverified.has(b)) this.#check(b, buf, verify);
      this.hits++;
      return buf;
    }
    buf = this.#clean.get(b);
    if (buf) {
      if (verify && this.#unverified.size && this.#unverified.has(b)) this.#check(b, buf, verify);
      this.#clean.delete(b);
      this.#clean.set(b, buf); // refresh LRU position
      this.hits++;
      return buf;
    }
    buf = this.#cold.get(b);
    if (buf) {
      if (verify && this.#unverified.size && this.#unverified.has(b)) this.#check(b, buf, verify);
      this.#cold.delete(b);
      this.#cold.set(b, buf);
      this.hits++;
      return buf;
    }
    buf = new Uint8Array(this.blockSize);
    this.#io.read(b * this.blockSize, buf);
    this.reads++;
    if (verify) {
      verify(buf);
      this.verified++;
    } else this.#unverified.add(b);
    this.#insert(b, buf);
    return buf;
  }

  #check(b: number, buf: Uint8Array, verify: BlockVerifier): void {
    try {
      verify(buf);
      this.verified++;
    } catch (e) {
      // not trusted: drop it unless it holds changes, so that the next access reads and checks it again
      if (!this.#dirty.has(b)) {
        this.#clean.delete(b);
        this.#cold.delete(b);
      }
      throw e;
    }
    this.#unverified.delete(b);
  }

  /** A zeroed buffer for block `b` without reading it (for newly allocated blocks); marked dirty. */
  getNew(b: number): Uint8Array {
    const buf = this.#take(b);
    if (buf) buf.fill(0);
    this.#dirty.set(b, buf ?? new Uint8Array(this.blockSize));
    this.#grew();
    return this.#dirty.get(b)!;
  }

  /** Replaces block `b` with a copy of `data` and marks it dirty. */
  put(b: number, data: Uint8Array): void {
    const buf = this.#take(b) ?? new Uint8Array(this.blockSize);
    if (buf !== data) buf.set(data);
    this.#dirty.set(b, buf);
    this.#grew();
  }

  /** Marks block `b` (which must be cached) as modified. */
  markDirty(b: number): void {
    if (this.#dirty.has(b)) return;
    let buf = this.#clean.get(b);
    if (buf) this.#clean.delete(b);
    else {
      buf = this.#cold.get(b);
      if (!buf) throw new Error(`markDirty: block ${b} is not cached`);
      this.#cold.delete(b);
      this.#coldDirty.add(b);
    }
    this.#dirty.set(b, buf);
  }

  /**
   * Marks cached block `b` cold: it is not expected to be read again soon
   * (the engine writes the blocks of internal files through the cache but
   * their owners keep the contents in memory), so once clean it is evicted
   * before every other clean block. A later change without this mark makes
   * it an ordinary block again.
   */
  markCold(b: number): void {
    if (this.#dirty.has(b)) {
      this.#coldDirty.add(b);
      return;
    }
    const buf = this.#clean.get(b);
    if (buf) {
      this.#clean.delete(b);
      this.#cold.set(b, buf);
    }
  }

  /** Removes block `b` from the lists and returns its buffer (a block the engine rewrites is trusted, and hot). */
  #take(b: number): Uint8Array | undefined {
    let buf = this.#dirty.get(b);
    if (!buf) {
      buf = this.#clean.get(b);
      if (buf) this.#clean.delete(b);
      else {
        buf = this.#cold.get(b);
        if (buf) this.#cold.delete(b);
      }
    }
    if (this.#coldDirty.size) this.#coldDirty.delete(b);
    if (this.#unverified.size) this.#unverified.delete(b);
    return buf;
  }

  /** Drops block `b` without writing it (the block was freed). */
  forget(b: number): void {
    this.#clean.delete(b);
    this.#cold.delete(b);
    this.#dirty.delete(b);
    if (this.#coldDirty.size) this.#coldDirty.delete(b);
    if (this.#unverified.size) this.#unverified.delete(b);
  }

  /** Number of dirty blocks waiting to be written. */
  get dirtyCount(): number {
    return this.#dirty.size;
  }

  /** Number of cached blocks, clean and dirty. */
  get size(): number {
    return this.#clean.size + this.#cold.size + this.#dirty.size;
  }

  /** Writes every dirty block to the device, in block order, merging adjacent blocks. */
  flush(): void {
    const list = [...this.#dirty.keys()].sort((a, b) => a - b);
    let i = 0;
    while (i < list.length) {
      let j = i + 1;
      while (j < list.length && list[j] === list[j - 1] + 1 && j - i < 256) j++;
      if (j - i === 1) {
        this.#io.write(list[i] * this.blockSize, this.#dirty.get(list[i])!);
      } else {
        const run = new Uint8Array((j - i) * this.blockSize);
        for (let k = i; k < j; k++) {
          run.set(this.#dirty.get(list[k])!, (k - i) * this.blockSize);
        }
        this.#io.write(list[i] * this.blockSize, run);
      }
      i = j;
    }
    this.#cleanAll();
  }

  /**
   * Takes the dirty blocks for a commit: block number → its buffer (owned by
   * the cache; read it before the next change). They count as clean after.
   */
  takeDirty(): Map<number, Uint8Array> {
    const out = new Map(this.#dirty);
    this.#cleanAll();
    return out;
  }

  /** Moves every dirty block to the clean list (most recently used; cold ones to the cold list), then evicts. */
  #cleanAll(): void {
    const cold = this.#coldDirty;
    for (const [b, buf] of this.#dirty) (cold.size && cold.has(b) ? this.#cold : this.#clean).set(b, buf);
    this.#dirty.clear();
    cold.clear();
    this.#evict(-1);
  }

  /** Forgets every dirty block without writing it (an abandoned transaction). */
  dropDirty(): void {
    for (const b of this.#dirty.keys()) this.#unverified.delete(b);
    this.#dirty.clear();
    this.#coldDirty.clear();
  }

  /**
   * Calls `fn(block, buffer)` for each dirty block in [start, start+count):
   * the blocks whose contents differ from the device.
   */
  forEachDirtyIn(start: number, count: number, fn: (b: number, buf: Uint8Array) => void): void {
    if (this.#dirty.size === 0) return;
    if (count > this.#dirty.size) {
      for (const [b, buf] of this.#dirty) if (b >= start && b < start + count) fn(b, buf);
    } else {
      for (let b = start; b < start + count; b++) {
        const buf = this.#dirty.get(b);
        if (buf) fn(b, buf);
      }
    }
  }

  /** Drops every clean block (dirty ones stay). */
  dropClean(): void {
    for (const b of this.#clean.keys()) this.#unverified.delete(b);
    for (const b of this.#cold.keys()) this.#unverified.delete(b);
    this.#clean.clear();
    this.#cold.clear();
  }

  #insert(b: number, buf: Uint8Array): void {
    this.#clean.set(b, buf);
    this.#evict(b);
  }

  /** After a block became dirty: keeps within the capacity (dirty blocks grow past it with a journal). */
  #grew(): void {
    if (this.size > this.capacity) this.#evict(-1);
  }

  /**
   * Evicts clean blocks (never `keep`), cold ones first, each list least
   * recently used first, until the cache is within its capacity; when only
   * dirty blocks are left and the cache may write back, writes them and
   * evicts clean ones.
   */
  #evict(keep: number): void {
    if (this.size <= this.capacity) return;
    for (const list of [this.#cold, this.#clean]) {
      for (const k of list.keys()) {
        if (this.size <= this.capacity) return;
        if (k === keep) continue;
        list.delete(k);
        if (this.#unverified.size) this.#unverified.delete(k);
      }
    }
    if (this.size > this.capacity && this.writeBack && this.#dirty.size) this.flush();
  }
}
