/**
 * Reader of a collection's BM25 index file (docs/FORMAT.md §8.7; design
 * issue-12 §1.2-§1.4): picks the current header slot, decodes its segments
 * (./segment_decode.ts), and answers which documents are live.
 *
 * Current slot: of the two header slots (file blocks 0 and 1), the valid one
 * (magic and CRC right) with the higher `seq`; a torn header write fails its
 * CRC, so the other slot is used. Liveness: a document of segment `s` is live
 * iff no newer segment lists its ino as a tombstone (a writer always writes a
 * tombstone for every document it re-adds, so a live ino is never listed
 * twice; a reader that finds it twice reports EUCLEAN). Newer segments are
 * later in the header's list; an overlay (the engine's not-yet-written
 * changes, {@linkcode Bm25Index.withOverlay}) is newer than every segment on
 * disk.
 *
 * The decoded segments (doc table, dictionary, streams) stay in memory, so a
 * query costs a binary search per term and segment plus the postings decode.
 *
 * @example
 * ```ts
 * import { Bm25Index } from "./reader.ts";
 * import { encodeSegment } from "./segment.ts";
 * const doc = { ino: 5, igen: 1, dl: 2, ctimeSec: 0, ctimeNsec: 0, crc: 0, size: 9, flags: 0, uniq: 2,
 *   counts: new Map([["vector", 1], ["search", 1]]) };
 * const o = { id: 0, base: true, blockSize: 1024, collectionId: 1, hashSeed: 42 };
 * const ix = Bm25Index.fromSegments([encodeSegment([doc], [], o)], 1024, 1, 42);
 * ix.docCount(); // 1
 * ix.doc(5)?.dl; // 2
 * ```
 * @module
 */
import { FsError } from "../errors.ts";
import {
  type Bm25Header,
  decodeHeader,
  DOC_BINARY,
  DOC_LARGE,
  type DocEntry,
  emptyHeader,
  SEGMENT_BASE,
} from "./layout.ts";
import { decodeSegment, type Segment } from "./segment_decode.ts";

/** Where the index file's blocks come from (the engine reads them through its buffer cache). */
export interface BlockSource {
  /** bytes of a block */
  readonly blockSize: number;
  /**
   * Reads `count` consecutive blocks of the index file from `fileBlock`
   * (holes read as zeros). May return fewer bytes past the end of the file.
   */
  read(fileBlock: number, count: number): Uint8Array;
  /** blocks in the file (its size / block size), when known: segments are checked to lie within it */
  readonly fileBlocks?: number;
}

/** Sizes of one segment, for {@linkcode planCheckpoint} and stats. */
export interface SegmentInfo {
  /** segment id */
  id: number;
  /** a base segment */
  base: boolean;
  /** blocks */
  blockCount: number;
  /** doc-table records */
  docCount: number;
  /** tombstones */
  tombCount: number;
  /** dictionary records */
  termCount: number;
  /** bytes of the postings stream */
  postBytes: number;
}

/** A decoded index: segments oldest first, with liveness. Immutable (but for the segments' postings caches). */
export class Bm25Index {
  /** the current header slot (for an in-memory index: a synthetic header) */
  readonly header: Bm25Header;
  /** which slot the header was read from, or -1 for an in-memory index */
  readonly slot: 0 | 1 | -1;
  /** bytes of a block */
  readonly blockSize: number;
  /** collection id (CRC seed) */
  readonly collectionId: number;
  /** superblock hash_seed (dictionary hash seed) */
  readonly hashSeed: number;
  /** every segment, oldest first: the header's, then the overlay's */
  readonly segments: readonly Segment[];
  /** how many of `segments` come from the file, or from {@linkcode Bm25Index.fromSegments} (the rest are the overlay) */
  readonly diskSegments: number;
  /** per segment, per ordinal: 1 if the document is live */
  readonly live: readonly Uint8Array[];
  /** per segment: every document is live */
  readonly allLive: readonly boolean[];
  #docCount = 0;
  #totalTokens = 0;
  #liveTotal = 0;
  #byIno: Map<number, DocEntry> | null = null;

  private constructor(
    header: Bm25Header,
    slot: 0 | 1 | -1,
    blockSize: number,
    collectionId: number,
    hashSeed: number,
    segments: Segment[],
    diskSegments: number,
  ) {
    this.header = header;
    this.slot = slot;
    this.blockSize = blockSize;
    this.collectionId = collectionId;
    this.hashSeed = hashSeed;
    this.segments = segments;
    this.diskSegments = diskSegments;
    const live: Uint8Array[] = new Array(segments.length);
    const allLive: boolean[] = new Array(segments.length);
    const dead = new Set<number>();
    const seen = new Map<number, number>(); // live ino → segment index
    for (let s = segments.length - 1; s >= 0; s--) {
      const seg = segments[s];
      const l = new Uint8Array(seg.docs.length);
      let all = true;
      for (let o = 0; o < seg.docs.length; o++) {
        const d = seg.docs[o];
        if (dead.has(d.ino)) {
          all = false;
          continue;
        }
        const other = seen.get(d.ino);
        if (other !== undefined) {
          throw new FsError(
            "EUCLEAN",
            `${segments[other].where} re-adds inode ${d.ino} without a tombstone for it (older copy in ${seg.where})`,
          );
        }
        seen.set(d.ino, s);
        l[o] = 1;
        this.#liveTotal++;
        if (d.dl > 0) {
          this.#docCount++;
          this.#totalTokens += d.dl;
        }
      }
      live[s] = l;
      allLive[s] = all;
      for (const t of seg.tombstones) dead.add(t);
    }
    this.live = live;
    this.allLive = allLive;
  }

  /**
   * Opens the index file: the current header slot and its segments.
   * @param src the file's blocks
   * @param collectionId the collection id (CRC seed)
   * @param hashSeed the superblock's `hash_seed`
   * @returns the index, or null when neither header slot is valid (no index
   *   yet, or both torn: the caller builds one)
   * @throws FsError EUCLEAN when the current slot's segments are damaged, lie
   *   outside the file, list a live inode twice, or disagree with the header's
   *   doc_count / total_tokens; or when a slot with a good CRC has bad fields
   */
  static open(src: BlockSource, collectionId: number, hashSeed: number): Bm25Index | null {
    const bs = src.blockSize;
    const slotOf = (i: 0 | 1): Bm25Header | null => {
      if (src.fileBlocks !== undefined && src.fileBlocks <= i) return null;
      const b = src.read(i, 1);
      return b.length === bs ? decodeHeader(b, i, collectionId) : null;
    };
    const h0 = slotOf(0), h1 = slotOf(1);
    const slot: 0 | 1 | -1 = h0 && (!h1 || h0.seq >= h1.seq) ? 0 : h1 ? 1 : -1;
    if (slot === -1) return null;
    const h = (slot === 0 ? h0 : h1)!;
    const segs: Segment[] = [];
    for (const ref of h.segments) {
      const last = ref.firstBlock + ref.blockCount - 1;
      const where = `BM25 segment ${ref.id} (file blocks ${ref.firstBlock}..${last}, header slot ${slot})`;
      if (src.fileBlocks !== undefined && last >= src.fileBlocks) {
        throw new FsError("EUCLEAN", `${where}: past the end of the file (${src.fileBlocks} blocks)`);
      }
      const bytes = src.read(ref.firstBlock, ref.blockCount);
      if (bytes.length !== ref.blockCount * bs) {
        throw new FsError("EUCLEAN", `${where}: the file ends after ${Math.floor(bytes.length / bs)} of its blocks`);
      }
      segs.push(decodeSegment(bytes, bs, collectionId, hashSeed, where, ref.id));
    }
    segs.forEach((s, i) => {
      if ((s.header.flags & SEGMENT_BASE) !== (i === 0 ? SEGMENT_BASE : 0)) {
        throw new FsError(
          "EUCLEAN",
          `${s.where}: ${i === 0 ? "first segment is not a base" : "a base after the first"}`,
        );
      }
    });
    const ix = new Bm25Index(h, slot, bs, collectionId, hashSeed, segs, segs.length);
    if (ix.docCount() !== h.docCount || ix.totalTokens() !== h.totalTokens) {
      throw new FsError(
        "EUCLEAN",
        `BM25 index header slot ${slot}: doc_count ${h.docCount} / total_tokens ${h.totalTokens}, ` +
          `the segments hold ${ix.docCount()} / ${ix.totalTokens()}`,
      );
    }
    return ix;
  }

  /**
   * An index of in-memory segments only (no file): a build before it is
   * written, a reference index in tests. The header is synthetic: empty but
   * for the segment list and doc_count / total_tokens.
   * @param segments segments from {@linkcode encodeSegment}, oldest first
   * @throws FsError EUCLEAN as {@linkcode Bm25Index.open}
   */
  static fromSegments(segments: Uint8Array[], blockSize: number, collectionId: number, hashSeed: number): Bm25Index {
    const segs = segments.map((b, i) =>
      decodeSegment(b, blockSize, collectionId, hashSeed, `BM25 in-memory segment ${i}`)
    );
    const ix = new Bm25Index(emptyHeader(), -1, blockSize, collectionId, hashSeed, segs, segs.length);
    ix.header.docCount = ix.docCount();
    ix.header.totalTokens = ix.totalTokens();
    return ix;
  }

  /**
   * The same index with extra in-memory segments as the newest (the
   * engine's overlay of changes not yet written). This index is unchanged;
   * the file's decoded segments are shared.
   * @param segments segments from {@linkcode encodeSegment}, oldest first
   * @throws FsError EUCLEAN on a segment that does not decode, or a live inode listed twice
   */
  withOverlay(segments: Uint8Array[]): Bm25Index {
    const extra = segments.map((b, i) =>
      decodeSegment(b, this.blockSize, this.collectionId, this.hashSeed, `BM25 overlay segment ${i}`)
    );
    const all = [...this.segments.slice(0, this.diskSegments), ...extra];
    return new Bm25Index(
      this.header,
      this.slot,
      this.blockSize,
      this.collectionId,
      this.hashSeed,
      all,
      this.diskSegments,
    );
  }

  /** N: live documents with dl ≥ 1 (those with at least one token). */
  docCount(): number {
    return this.#docCount;
  }

  /** Σ dl over the live documents. */
  totalTokens(): number {
    return this.#totalTokens;
  }

  /** Live doc-table records, empty and skipped files included. */
  liveCount(): number {
    return this.#liveTotal;
  }

  /**
   * Counts over the live documents, for a writer's header (doc_count,
   * total_tokens, skipped_binary, skipped_large, empty_docs) and stats.
   * @returns N, Σ dl, files skipped as binary / large, text files with no
   *   token, all live records, and the dictionary records of every segment
   */
  liveStats(): {
    docCount: number;
    totalTokens: number;
    skippedBinary: number;
    skippedLarge: number;
    emptyDocs: number;
    liveDocs: number;
    termRecords: number;
  } {
    let skippedBinary = 0, skippedLarge = 0, emptyDocs = 0, termRecords = 0;
    this.segments.forEach((s, i) => {
      termRecords += s.termCount;
      const l = this.live[i];
      for (let o = 0; o < s.docs.length; o++) {
        if (!l[o]) continue;
        const d = s.docs[o];
        if (d.flags & DOC_BINARY) skippedBinary++;
        else if (d.flags & DOC_LARGE) skippedLarge++;
        else if (d.dl === 0) emptyDocs++;
      }
    });
    return {
      docCount: this.#docCount,
      totalTokens: this.#totalTokens,
      skippedBinary,
      skippedLarge,
      emptyDocs,
      liveDocs: this.#liveTotal,
      termRecords,
    };
  }

  /** Every live document (empty and skipped files included), ascending by ino. */
  liveDocs(): DocEntry[] {
    const out: DocEntry[] = [];
    this.segments.forEach((s, i) => {
      const l = this.live[i];
      for (let o = 0; o < s.docs.length; o++) if (l[o]) out.push(s.docs[o]);
    });
    return out.sort((a, b) => a.ino - b.ino);
  }

  /** The live document of inode `ino`, or undefined. */
  doc(ino: number): DocEntry | undefined {
    if (this.#byIno === null) {
      const m = new Map<number, DocEntry>();
      this.segments.forEach((s, i) => {
        const l = this.live[i];
        for (let o = 0; o < s.docs.length; o++) if (l[o]) m.set(s.docs[o].ino, s.docs[o]);
      });
      this.#byIno = m;
    }
    return this.#byIno.get(ino);
  }

  /** Sizes of the segments read from the file (or given to `fromSegments`), oldest first; not the overlay's. */
  segmentInfo(): SegmentInfo[] {
    return this.segments.slice(0, this.diskSegments).map((s) => ({
      id: s.id,
      base: (s.header.flags & SEGMENT_BASE) !== 0,
      blockCount: s.header.blockCount,
      docCount: s.header.docCount,
      tombCount: s.header.tombCount,
      termCount: s.header.termCount,
      postBytes: s.header.postBytes,
    }));
  }
}
