/**
 * The journal writer (docs/FORMAT.md §9.4): commits transactions of metadata
 * blocks to a jbd2-format log and checkpoints them, the way the kernel's
 * `fs/jbd2/commit.c` and `checkpoint.c` do for ext4, simplified by the
 * engine being single-threaded and committing synchronously:
 *
 * - {@link Journal.commit} writes revoke blocks, descriptors and copies of
 *   the blocks at the log head, flushes (which also makes the ordered file
 *   data written before it durable), writes the commit block, flushes again,
 *   and then writes the blocks to their home locations without waiting.
 * - The tail only moves when the log lacks room for the next transaction:
 *   a flush makes every earlier home write durable, and the journal
 *   superblock then points at the new transaction's start ("checkpoint").
 *   Replaying from an older tail is harmless (replay is idempotent and
 *   revokes protect reused blocks), so the superblock is not rewritten after
 *   every commit.
 * - {@link Journal.revokeNeeded} says whether a freed block was journaled by
 *   a transaction still in the log, so the engine revokes it.
 *
 * @example
 * ```ts
 * const j = Journal.load(dev, sb);          // after recoverJournal(); the log must be empty
 * j.commit(new Map([[17, block17]]), []);   // durable when it returns
 * j.close();                                // log empty: s_start = 0
 * ```
 * @module
 */
import type { BlockDevice } from "../device/device.ts";
import { FsError } from "../errors.ts";
import {
  decodeJournalSuperblock,
  encodeCommit,
  encodeDescriptor,
  encodeJournalSuperblock,
  encodeRevoke,
  journalCsumSeed,
  type JournalSuperblock,
  journalSuperblockProblems,
  needsEscape,
  recordsPerRevoke,
  tagChecksum,
  tagsPerDescriptor,
} from "../format/journal.ts";
import { blockSizeOf, type Superblock } from "../format/superblock.ts";
import { journalMap } from "./map.ts";

/** Counters for tests and benchmarks. */
export interface JournalStats {
  /** transactions committed */
  commits: number;
  /** metadata blocks journaled (each also written home) */
  blocks: number;
  /** revoke records written */
  revokes: number;
  /** times the log was emptied to make room */
  checkpoints: number;
  /** device flushes issued by the journal */
  flushes: number;
}

/** A jbd2-format journal opened for writing (see the module documentation). */
export class Journal {
  readonly dev: BlockDevice;
  readonly blockSize: number;
  /** journal length in blocks (s_maxlen) */
  readonly maxlen: number;
  /** blocks of the circular log (s_maxlen - s_first) */
  readonly logLen: number;
  /**
   * The size at which the engine should commit at the end of an operation,
   * in journal blocks: a quarter of the log, jbd2's own transaction limit.
   */
  readonly softLimit: number;
  readonly stats: JournalStats = { commits: 0, blocks: 0, revokes: 0, checkpoints: 0, flushes: 0 };
  #jsb: JournalSuperblock;
  #map: (j: number) => number;
  #seed: number;
  #tags: number;
  #recs: number;
  /** next journal block to write */
  #head: number;
  /** journal block of the oldest transaction the superblock points at; 0 = log empty */
  #tail = 0;
  #nextTid: number;
  /** filesystem blocks journaled by transactions still in the log (since the tail) */
  #logged = new Set<number>();
  #aborted = false;

  private constructor(dev: BlockDevice, blockSize: number, jsb: JournalSuperblock, map: (j: number) => number) {
    this.dev = dev;
    this.blockSize = blockSize;
    this.#jsb = jsb;
    this.#map = map;
    this.maxlen = jsb.maxlen;
    this.logLen = jsb.maxlen - jsb.first;
    this.softLimit = Math.max(8, Math.floor((jsb.maxlen - 1) / 4));
    this.#seed = journalCsumSeed(jsb.uuid);
    this.#tags = tagsPerDescriptor(this.blockSize);
    this.#recs = recordsPerRevoke(this.blockSize);
    this.#head = jsb.first;
    this.#nextTid = jsb.sequence;
  }

  /**
   * Opens the journal of `sb` for writing. The log must be empty (replay it
   * first with `recoverJournal`).
   * @throws FsError EUCLEAN if the journal inode or superblock is damaged
   *   (the message says what), EBUSY if the log is not empty
   */
  static load(dev: BlockDevice, sb: Superblock): Journal {
    return Journal.openMapped(dev, blockSizeOf(sb), journalMap(dev, sb), sb.journalBlocks);
  }

  /**
   * Opens any jbd2 journal with the VexFS feature set (FORMAT.md §9.3) given
   * how its blocks map to the device: `map(j)` is the device block of journal
   * block `j`. `load` uses it for inode 4; tests use it on an ext4 journal.
   * @param maxlen the journal length in blocks the filesystem expects
   * @throws FsError EUCLEAN (damaged or foreign journal superblock), EBUSY (log not empty)
   */
  static openMapped(dev: BlockDevice, blockSize: number, map: (j: number) => number, maxlen: number): Journal {
    const raw = new Uint8Array(blockSize);
    dev.read(map(0) * blockSize, raw);
    const problems = journalSuperblockProblems(raw, blockSize, maxlen);
    if (problems.length) {
      throw new FsError("EUCLEAN", `journal superblock: ${problems.join("; ")}; run vexfs fsck`);
    }
    const jsb = decodeJournalSuperblock(raw);
    if (jsb.start !== 0) throw new FsError("EBUSY", "the journal needs recovery before it can be written");
    return new Journal(dev, blockSize, jsb, map);
  }

  /** The errno a user recorded when it abandoned this journal (0 if none; FORMAT.md §9.3 `s_errno`). */
  get errno(): number {
    return this.#jsb.errno;
  }

  /** Clears a recorded errno (after the filesystem took note of it, as ext4's `ext4_clear_journal_err`). */
  clearErrno(): void {
    if (this.#jsb.errno === 0 || this.#aborted) return;
    this.#jsb.errno = 0;
    this.#writeSuper();
    this.#flush();
  }

  /** The tid the next commit will use. */
  get nextTid(): number {
    return this.#nextTid;
  }

  /** Whether {@link abort} has run: nothing more is written. */
  get aborted(): boolean {
    return this.#aborted;
  }

  /**
   * Journal blocks a transaction of `blocks` metadata blocks and `revokes`
   * revoke records takes: descriptors, copies, revoke blocks, commit.
   */
  cost(blocks: number, revokes: number): number {
    return blocks + Math.ceil(blocks / this.#tags) + Math.ceil(revokes / this.#recs) + 1;
  }

  /** The largest transaction (in journal blocks) that fits in an empty log. */
  get hardLimit(): number {
    return this.logLen - 1;
  }

  /** Whether a block freed now must be revoked: a transaction still in the log journaled it. */
  revokeNeeded(block: number): boolean {
    return this.#logged.has(block);
  }

  #used(): number {
    if (this.#tail === 0) return 0;
    return this.#head >= this.#tail ? this.#head - this.#tail : this.logLen - (this.#tail - this.#head);
  }

  #wrap(j: number): number {
    return j >= this.maxlen ? this.#jsb.first + (j - this.maxlen) : j;
  }

  #flush(): void {
    this.dev.sync();
    this.stats.flushes++;
  }

  #writeSuper(): void {
    this.dev.write(this.#map(0) * this.blockSize, encodeJournalSuperblock(this.#jsb, this.blockSize));
  }

  /** Writes `list` (journal block → contents) merging physically consecutive blocks into one write. */
  #writeRuns(list: { j: number; data: Uint8Array }[]): void {
    const bs = this.blockSize;
    let i = 0;
    while (i < list.length) {
      const p0 = this.#map(list[i].j);
      let k = i + 1;
      while (k < list.length && k - i < 256 && this.#map(list[k].j) === p0 + (k - i)) k++;
      if (k - i === 1) this.dev.write(p0 * bs, list[i].data);
      else {
        const run = new Uint8Array((k - i) * bs);
        for (let m = i; m < k; m++) run.set(list[m].data, (m - i) * bs);
        this.dev.write(p0 * bs, run);
      }
      i = k;
    }
  }

  /**
   * Commits one transaction and checkpoints it: when this returns, the
   * blocks and revokes are durable in the log (a crash replays them) and
   * have been written (not yet flushed) to their home locations.
   *
   * @param blocks filesystem block → new contents (blockSize bytes each);
   *   the buffers are only read during the call
   * @param revokes filesystem blocks freed by this transaction that an
   *   earlier transaction still in the log journaled ({@link revokeNeeded})
   * @throws FsError EFBIG if the transaction does not fit in an empty log
   *   (split it), EROFS after {@link abort}, EIO from the device
   */
  commit(blocks: Map<number, Uint8Array>, revokes: number[]): void {
    if (this.#aborted) throw new FsError("EROFS", "the journal was aborted after an error; nothing more is written");
    if (blocks.size === 0 && revokes.length === 0) return;
    const bs = this.blockSize;
    const need = this.cost(blocks.size, revokes.length);
    if (need > this.hardLimit) {
      throw new FsError(
        "EFBIG",
        `a transaction of ${need} journal blocks does not fit in the ${this.maxlen}-block journal`,
      );
    }
    const tid = this.#nextTid;
    let superDirty = false;
    if (this.#tail !== 0 && this.logLen - this.#used() < need + 1) {
      // Checkpoint: every earlier transaction was written home after its commit;
      // one flush makes those writes durable, then the log can start over here.
      this.#flush();
      this.#tail = 0;
      this.#logged.clear();
      this.stats.checkpoints++;
    }
    if (this.#tail === 0) {
      this.#tail = this.#head;
      this.#jsb.start = this.#head;
      this.#jsb.sequence = tid;
      superDirty = true;
    }
    const out: { j: number; data: Uint8Array }[] = [];
    let j = this.#head;
    const put = (data: Uint8Array) => {
      out.push({ j, data });
      j = this.#wrap(j + 1);
    };
    for (let i = 0; i < revokes.length; i += this.#recs) {
      put(encodeRevoke(tid, revokes.slice(i, i + this.#recs), bs, this.#seed));
    }
    const entries = [...blocks.entries()].sort((a, b) => a[0] - b[0]);
    for (let i = 0; i < entries.length; i += this.#tags) {
      const chunk = entries.slice(i, i + this.#tags).map(([b, data]) => {
        if (data.length !== bs) throw new RangeError(`block ${b}: ${data.length} bytes, not ${bs}`);
        const escaped = needsEscape(data);
        const copy = escaped ? data.slice() : data;
        if (escaped) copy.fill(0, 0, 4);
        return { block: b, escaped, copy, checksum: tagChecksum(this.#seed, tid, copy) };
      });
      put(encodeDescriptor(tid, chunk, this.#jsb.uuid, bs, this.#seed));
      for (const c of chunk) put(c.copy);
    }
    if (superDirty) this.#writeSuper();
    this.#writeRuns(out);
    this.#flush(); // the log blocks and the ordered file data before the commit block
    const now = Date.now();
    const commitJ = j;
    this.#writeRuns([{
      j: commitJ,
      data: encodeCommit(tid, Math.floor(now / 1000), (now % 1000) * 1e6, bs, this.#seed),
    }]);
    j = this.#wrap(j + 1);
    this.#flush(); // the commit is durable: the transaction counts
    this.#head = j;
    this.#nextTid = (tid + 1) >>> 0;
    this.stats.commits++;
    this.stats.blocks += entries.length;
    this.stats.revokes += revokes.length;
    for (const r of revokes) this.#logged.delete(r);
    // Checkpoint writes: home locations, in block order, merged into runs.
    let i = 0;
    while (i < entries.length) {
      let k = i + 1;
      while (k < entries.length && k - i < 256 && entries[k][0] === entries[k - 1][0] + 1) k++;
      if (k - i === 1) this.dev.write(entries[i][0] * bs, entries[i][1]);
      else {
        const run = new Uint8Array((k - i) * bs);
        for (let m = i; m < k; m++) run.set(entries[m][1], (m - i) * bs);
        this.dev.write(entries[i][0] * bs, run);
      }
      i = k;
    }
    for (const [b] of entries) this.#logged.add(b);
  }

  /**
   * Empties the log: flushes the home writes of every committed transaction
   * and sets `s_start` = 0 (FORMAT.md §9.4), so nothing needs replay. Used at
   * a clean close and before writing outside the journal.
   */
  checkpointAll(): void {
    if (this.#aborted) return;
    this.#flush();
    this.#tail = 0;
    this.#logged.clear();
    this.#jsb.start = 0;
    this.#jsb.sequence = this.#nextTid;
    this.#writeSuper();
    this.#flush();
    this.stats.checkpoints++;
  }

  /**
   * Abandons the journal after an error (jbd2's `journal_abort`): records
   * `errno` (a positive errno number, stored negated as jbd2 does) in the
   * journal superblock after making every committed transaction durable at
   * home, and refuses every later commit.
   */
  abort(errno: number): void {
    if (this.#aborted) return;
    try {
      this.#flush();
      this.#tail = 0;
      this.#jsb.start = 0;
      this.#jsb.sequence = this.#nextTid;
      this.#jsb.errno = -Math.abs(errno);
      this.#writeSuper();
      this.#flush();
    } finally {
      this.#aborted = true;
    }
  }
}
