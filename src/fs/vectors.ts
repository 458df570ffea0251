/**
 * Vector collections inside the engine (docs/FORMAT.md §8): the collection
 * table (inode 3), each collection's contiguous vector store and slot map,
 * the rules that keep them consistent when files are deleted or moved, and
 * exact (flat) top-k search.
 * This module holds the coordinator, {@linkcode Collections}; beside it:
 * the shapes it takes and reports in ./vector_types.ts, the table in
 * ./collection_table.ts, the store and slot map reads in ./vector_store.ts,
 * the graph's load and write in ./vector_index.ts, the rename rule in
 * ./vector_moves.ts and the search's checks and subtrees in
 * ./vector_search.ts.
 * @module
 */
import { LatencyHistogram } from "../stats/histogram.ts";
import { check, FsError } from "../errors.ts";
import {
  COLL_RECORD_SIZE,
  COLL_TABLE_INO,
  IFL_COLL_ROOT,
  IFL_HAS_VECTOR,
  IFL_INTERNAL,
  RO_COMPAT_HNSW,
  RO_COMPAT_NORMS,
  ROOT_INO,
  S_IFDIR,
  S_IFMT,
  S_IFREG,
} from "../format/constants.ts";
import {
  COLL_INDEX_HNSW,
  type CollectionRecord,
  encodeCollection,
  encodeSlotBlock,
  slotsPerBlock,
} from "../format/collection.ts";
import { crc32c } from "../format/crc.ts";
import { nowTimespec } from "../format/inode.ts";
import type { InodeState, Vexfs } from "./fs.ts";
import { decodeVector, encodeVector } from "../vector/codec.ts";
import { vectorNorm } from "../vector/norm.ts";
import { scanTopK, type WasmStore } from "../vector/simd.ts";
import { HnswGraph } from "../hnsw/graph.ts";
import { DEFAULT_EF, hnswParamsOf } from "../hnsw/params.ts";
import { SlotFilter } from "../hnsw/slot_filter.ts";
import { ELEM_TYPES, MAX_DIM, METRICS } from "../vector/types.ts";
import type { Loaded } from "./_loaded.ts";
import { collectionInfo, readCollectionTable } from "./collection_table.ts";
import { loadGraph, writeGraphs } from "./vector_index.ts";
import { moveVectorsAfter } from "./vector_moves.ts";
import { TextIndexes } from "./text_index.ts";
import {
  checkSearchArgs,
  EXACT_SCAN_ELEMENTS,
  SUBTREE_EXACT_FRACTION,
  SUBTREE_EXACT_MAX,
  subtreeOf,
  whereSlotsOf,
} from "./vector_search.ts";
import { f32Bytes, readSlotMap, readStore, strideOf } from "./vector_store.ts";
import {
  type CollectionInfo,
  type CollectionParams,
  HNSW_DEFAULTS,
  type IndexStats,
  type SearchHit,
  type SearchMethod,
  type SearchOptions,
} from "./vector_types.ts";

const ELEMS = ELEM_TYPES;

export { HNSW_DEFAULTS } from "./vector_types.ts";
export type {
  CollectionInfo,
  CollectionParams,
  IndexStats,
  SearchHit,
  SearchMethod,
  SearchOptions,
} from "./vector_types.ts";

/** Manages every collection of one open filesystem. */
export class Collections {
  #fs: Vexfs;
  #loaded = new Map<number, Loaded>();
  #records?: Map<number, CollectionRecord>;
  /**
   * HNSW collections of at most this many elements (vectors × dim) are
   * scanned exactly: a SIMD scan of them takes about a millisecond and is
   * exact. Tests lower it to exercise the graph on small data.
   */
  exactScanElements: number = EXACT_SCAN_ELEMENTS;
  /** Subtrees of at most this many vectors are scanned exactly (tests lower it to exercise the filtered traversal). */
  subtreeExactMax: number = SUBTREE_EXACT_MAX;
  /** ... and subtrees of at most this fraction of the collection. */
  subtreeExactFraction: number = SUBTREE_EXACT_FRACTION;
  /**
   * A search catches a stale graph up (or builds a missing one) before it
   * answers only when that takes at most this many insertions, or 2% of the
   * collection if more: a search must not hold a mount for minutes after a
   * crash in a bulk import. Beyond it the search scans exactly and says so,
   * until `vexfs index build` or the next change to the collection (which
   * catches the graph up whatever it costs) brings it up to date.
   */
  searchCatchUpVectors: number = 20_000;
  /** Latencies of the searches answered ({@link Collections.searchEx}), ns: their count is the number of searches (for `vexfs stats`). */
  readonly searchLatency: LatencyHistogram = new LatencyHistogram();
  /** Vectors set or replaced since open ({@link Collections.setVector}, batches item by item; for `vexfs stats`). */
  vectorsSet = 0;
  /** Vectors deleted since open ({@link Collections.deleteVector}, and those of dropped collections; for `vexfs stats`). */
  vectorsDeleted = 0;

  /** The collections' text (BM25) indexes (design issue 12; FORMAT.md §8.7). */
  readonly text: TextIndexes;

  constructor(fs: Vexfs) {
    this.#fs = fs;
    this.text = new TextIndexes(fs, this);
  }

  #table(): Map<number, CollectionRecord> {
    if (this.#records) return this.#records;
    const m = readCollectionTable(this.#fs);
    this.#records = m;
    return m;
  }

  /**
   * Inside {@link setVectors}: the slot-map blocks and collection records to
   * write once at the end of the batch instead of after every vector. Both
   * are rewrites of blocks the files already have (nothing to allocate), so
   * writing them later cannot fail for want of space.
   */
  #deferred: { slots: Map<Loaded, Set<number>>; records: Set<CollectionRecord> } | null = null;

  /** Writes what {@link #deferred} holds (slot blocks past the collection's end are gone, not written). */
  #flushDeferred(): void {
    const d = this.#deferred;
    if (!d) return;
    this.#deferred = null;
    const per = slotsPerBlock(this.#fs.blockSize);
    for (const [l, blocks] of d.slots) {
      for (const b of [...blocks].sort((x, y) => x - y)) if (b * per < l.rec.count) this.#writeSlotBlock(l, b * per);
    }
    for (const rec of d.records) this.#writeRecord(rec);
  }

  #writeRecord(rec: CollectionRecord): void {
    if (this.#deferred) {
      this.#deferred.records.add(rec);
      return;
    }
    this.#fs.write(
      COLL_TABLE_INO,
      (rec.id - 1) * COLL_RECORD_SIZE,
      encodeCollection(rec),
    );
  }

  /**
   * Writes a changed record into the collection table, in the running
   * transaction (for the text indexes, ./text_index.ts).
   * @internal
   */
  saveRecord(rec: CollectionRecord): void {
    this.#writeRecord(rec);
  }

  #info(r: CollectionRecord): CollectionInfo {
    return collectionInfo(r);
  }

  /** Every collection. */
  list(): CollectionInfo[] {
    return [...this.#table().values()].sort((a, b) => a.id - b.id).map((r) => this.#info(r));
  }

  /** One collection by id. @throws FsError ENOENT */
  get(id: number): CollectionInfo {
    const r = this.#table().get(id);
    if (!r) throw new FsError("ENOENT", `no collection ${id}`);
    return this.#info(r);
  }

  /** Raw record (for fsck). */
  record(id: number): CollectionRecord | undefined {
    return this.#table().get(id);
  }

  /**
   * The collection a directory belongs to: the nearest collection root at or
   * above it, or 0.
   */
  collectionOfDir(dir: number): number {
    const fs = this.#fs;
    let cur = dir;
    for (let guard = 0; guard < 4096; guard++) {
      const n = fs.iget(cur);
      if (n.d.flags & IFL_COLL_ROOT) return n.d.collId;
      if (cur === ROOT_INO || !n.d.parentIno) return 0;
      cur = n.d.parentIno;
    }
    throw new FsError("ELOOP", `parent chain of ${dir} is too long`);
  }

  /**
   * Makes directory `dir` a collection root.
   * @throws FsError ENOTDIR, EINVAL (bad parameters, already in or above a collection), ENOSPC
   */
  create(dir: number, p: CollectionParams): CollectionInfo {
    return this.#fs.op(() => {
      const fs = this.#fs;
      const n = fs.iget(dir);
      if ((n.d.mode & S_IFMT) !== S_IFDIR) {
        throw new FsError("ENOTDIR", `inode ${dir} is not a directory`);
      }
      check(
        Number.isInteger(p.dim) && p.dim >= 1 && p.dim <= MAX_DIM,
        "EINVAL",
        `dimension ${p.dim} is out of range (1..${MAX_DIM})`,
      );
      const metric = METRICS.indexOf(p.metric) + 1;
      const elemType = ELEM_TYPES.indexOf(p.elem) + 1;
      check(
        metric > 0,
        "EINVAL",
        `unknown metric '${p.metric}' (use l2, cosine or ip)`,
      );
      check(
        elemType > 0,
        "EINVAL",
        `unknown element type '${p.elem}' (use f32, f16 or i8)`,
      );
      const inside = this.collectionOfDir(dir);
      if (inside) {
        throw new FsError(
          "EINVAL",
          `directory is already inside collection ${inside} (rooted at ${
            fs.pathOf(this.get(inside).rootIno)
          }); collections do not nest`,
        );
      }
      for (const r of this.#table().values()) {
        if (fs.isAncestor(dir, r.rootIno)) {
          throw new FsError(
            "EINVAL",
            `directory contains collection ${r.id} (at ${fs.pathOf(r.rootIno)}); collections do not nest`,
          );
        }
      }
      const index = p.index ?? "hnsw";
      check(index === "hnsw" || index === "flat", "EINVAL", `unknown index '${index}' (use hnsw or flat)`);
      const m = p.m ?? HNSW_DEFAULTS.m;
      const efc = p.efConstruction ?? HNSW_DEFAULTS.efConstruction;
      const efs = p.efSearch ?? 0;
      if (index === "hnsw") {
        check(Number.isInteger(m) && m >= 2 && m <= 128, "EINVAL", `HNSW M ${m} is out of range (2..128)`);
        check(
          Number.isInteger(efc) && efc >= m && efc <= 4096,
          "EINVAL",
          `HNSW efConstruction ${efc} is out of range (M..4096)`,
        );
      }
      check(Number.isInteger(efs) && efs >= 0 && efs <= 65535, "EINVAL", `ef ${efs} is out of range (0..65535)`);
      let id = 1;
      while (this.#table().has(id)) id++;
      const vec = fs.ialloc(S_IFREG | 0o600, 0, 0, 0, 0, IFL_INTERNAL);
      const map = fs.ialloc(S_IFREG | 0o600, 0, 0, 0, 0, IFL_INTERNAL);
      const norms = fs.ialloc(S_IFREG | 0o600, 0, 0, 0, 0, IFL_INTERNAL);
      fs.sb.featureRoCompat |= RO_COMPAT_NORMS | (index === "hnsw" ? RO_COMPAT_HNSW : 0);
      const rec: CollectionRecord = {
        id,
        flags: index === "hnsw" ? COLL_INDEX_HNSW : 0,
        rootIno: dir,
        dim: p.dim,
        metric,
        elemType,
        count: 0,
        vecIno: vec.ino,
        mapIno: map.ino,
        hnswIno: 0,
        bm25Ino: 0,
        created: Math.floor(Date.now() / 1000),
        generation: 0,
        hnswM: index === "hnsw" ? m : 0,
        hnswEfConstruction: index === "hnsw" ? efc : 0,
        hnswEfSearch: efs,
        normIno: norms.ino,
        textGeneration: 0,
        bm25K1: 0,
        bm25B: 0,
        bm25MaxFile: 0,
        bm25Analyzer: 0,
        bm25Stemmer: 0,
        bm25Stopwords: 0,
        bm25Lang: "",
      };
      this.#writeRecord(rec);
      this.#table().set(id, rec);
      n.d.flags |= IFL_COLL_ROOT;
      n.d.collId = id;
      fs.dirty(n);
      fs.sb.collCount = this.#table().size;
      return this.#info(rec);
    });
  }

  #load(id: number): Loaded {
    const hit = this.#loaded.get(id);
    if (hit) return hit;
    const rec = this.#table().get(id);
    if (!rec) {
      throw new FsError(
        "EUCLEAN",
        `collection ${id} is referenced but not in the collection table`,
      );
    }
    const { owners, crcs } = readSlotMap(this.#fs, rec);
    const l: Loaded = { rec, owners, crcs };
    this.#loaded.set(id, l);
    return l;
  }

  #writeSlotBlock(l: Loaded, slot: number): void {
    const fs = this.#fs;
    const per = slotsPerBlock(fs.blockSize);
    const b = Math.floor(slot / per);
    // Deferred only where the block exists: a new block is written (allocated) now, so that a full
    // disk fails the vector that needs it, never the flush at the end of the batch.
    if (this.#deferred && (b + 1) * fs.blockSize <= fs.iget(l.rec.mapIno).d.size) {
      let set = this.#deferred.slots.get(l);
      if (!set) this.#deferred.slots.set(l, set = new Set());
      set.add(b);
      return;
    }
    const entries = [];
    for (let s = b * per; s < Math.min(l.rec.count, (b + 1) * per); s++) {
      entries.push({ ino: l.owners[s], vecCrc: l.crcs[s] });
    }
    fs.write(
      l.rec.mapIno,
      b * fs.blockSize,
      encodeSlotBlock(entries, fs.blockSize, l.rec.id),
    );
  }

  #shrinkFiles(l: Loaded): void {
    const fs = this.#fs;
    const per = slotsPerBlock(fs.blockSize);
    fs.truncate(l.rec.vecIno, l.rec.count * strideOf(l.rec));
    fs.truncate(l.rec.mapIno, Math.ceil(l.rec.count / per) * fs.blockSize);
    if (l.rec.normIno) fs.truncate(l.rec.normIno, l.rec.count * 4);
  }

  /** Writes slot `slot`'s norm to the norms file (FORMAT.md §8.5), when the collection has one. */
  #writeNorm(l: Loaded, slot: number, norm: number): void {
    if (l.rec.normIno) this.#fs.write(l.rec.normIno, slot * 4, f32Bytes(norm));
  }

  #bump(l: Loaded): void {
    l.rec.generation++;
    this.#writeRecord(l.rec);
  }

  /**
   * The collection that a vector set on file `ino` would go to: its current
   * vector's collection, else the collection of its parent directory.
   * @throws FsError EINVAL if the file is not in any collection
   */
  collectionForFile(ino: number): number {
    const n = this.#fs.iget(ino);
    if (n.d.flags & IFL_HAS_VECTOR) return n.d.collId;
    const c = n.d.parentIno ? this.collectionOfDir(n.d.parentIno) : 0;
    if (!c) {
      throw new FsError(
        "EINVAL",
        `${
          this.#fs.pathOf(ino)
        } is not inside a vector collection (make a directory above it one with 'vexfs collection create')`,
      );
    }
    return c;
  }

  /**
   * Sets the vectors of many files in one operation (one transaction unless
   * it outgrows the journal's soft limit; FORMAT.md §9.4): what the batch
   * ioctl and `vexfs import` use.
   * @param items files and their vectors (each a Float32Array of the file's collection's dim)
   * @returns how many were set; on the first failure it throws, and the items before it stay set
   * @throws FsError as {@link setVector}, with the failing item's index in the message
   */
  setVectors(items: readonly { ino: number; vector: Float32Array }[]): number {
    return this.#fs.op(() => {
      const outer = this.#deferred === null;
      if (outer) this.#deferred = { slots: new Map(), records: new Set() };
      try {
        for (let i = 0; i < items.length; i++) {
          try {
            this.setVector(items[i].ino, items[i].vector);
          } catch (e) {
            if (e instanceof FsError) throw new FsError(e.code, `item ${i} (inode ${items[i].ino}): ${e.detail}`);
            throw e;
          }
        }
      } finally {
        // also after a failure: the items before it stay set, and their slot blocks and records must be written
        if (outer) this.#flushDeferred();
      }
      return items.length;
    }, "setVectors");
  }

  /**
   * Sets (or replaces) the vector of regular file `ino`.
   * @param v Float32Array of length `dim` of the file's collection
   * @throws FsError EINVAL (not a regular file, not in a collection, wrong
   *   length, NaN/Inf, out of range for the element type), ENOSPC. Nothing
   *   changes when it throws.
   */
  setVector(ino: number, v: Float32Array): void {
    this.#setVector(ino, v);
    this.vectorsSet++;
  }

  #setVector(ino: number, v: Float32Array): void {
    return this.#fs.op(() => {
      const fs = this.#fs;
      const n = fs.iget(ino);
      if ((n.d.mode & S_IFMT) !== S_IFREG || (n.d.flags & IFL_INTERNAL)) {
        throw new FsError(
          "EINVAL",
          `only regular files carry vectors (inode ${ino} is not one)`,
        );
      }
      const id = this.collectionForFile(ino);
      const l = this.#load(id);
      const rec = l.rec;
      // The graph (and the store in memory) are loaded as they are before this change, then follow it.
      const g = this.#graphForChange(l);
      if (v.length !== rec.dim) {
        throw new FsError(
          "EINVAL",
          `vector has ${v.length} elements but collection ${id} has dimension ${rec.dim}`,
        );
      }
      const elem = ELEMS[rec.elemType - 1];
      const bytes = encodeVector(v, elem);
      const crc = crc32c(bytes);
      const norm = vectorNorm(bytes, elem, rec.dim);
      const stride = strideOf(rec);
      if (n.d.flags & IFL_HAS_VECTOR) {
        const slot = n.d.vecSlot;
        fs.write(rec.vecIno, slot * stride, bytes);
        this.#writeNorm(l, slot, norm);
        l.crcs[slot] = crc;
        this.#writeSlotBlock(l, slot);
        l.mem?.put(slot, bytes, norm);
        if (g) {
          this.#attach(l);
          g.replace(slot, crc);
        }
        this.#bump(l);
        return;
      }
      const slot = rec.count;
      fs.write(rec.vecIno, slot * stride, bytes);
      l.owners.push(ino);
      l.crcs.push(crc);
      rec.count++;
      try {
        this.#writeNorm(l, slot, norm);
        this.#writeSlotBlock(l, slot);
      } catch (e) {
        l.owners.pop();
        l.crcs.pop();
        rec.count--;
        this.#shrinkFiles(l);
        throw e;
      }
      n.d.flags |= IFL_HAS_VECTOR;
      n.d.collId = id;
      n.d.vecSlot = slot;
      n.d.ctime = nowTimespec();
      fs.dirty(n);
      l.mem?.put(slot, bytes, norm);
      if (g) {
        this.#attach(l);
        g.insert(slot, crc);
      }
      this.#bump(l);
    });
  }

  /** Raw stored bytes of a file's vector, or null if it has none. */
  getVectorBytes(ino: number): { bytes: Uint8Array; collId: number } | null {
    const fs = this.#fs;
    const n = fs.iget(ino);
    if (!(n.d.flags & IFL_HAS_VECTOR)) return null;
    const l = this.#load(n.d.collId);
    const stride = strideOf(l.rec);
    // The copy in memory was verified when it was read and follows every change since.
    if (l.mem) {
      return { bytes: l.mem.bytes.slice(n.d.vecSlot * stride, (n.d.vecSlot + 1) * stride), collId: n.d.collId };
    }
    const bytes = fs.read(l.rec.vecIno, n.d.vecSlot * stride, stride);
    if (crc32c(bytes) !== l.crcs[n.d.vecSlot]) {
      throw new FsError(
        "EUCLEAN",
        `vector of inode ${ino} fails its checksum (collection ${n.d.collId} slot ${n.d.vecSlot}); run vexfs fsck`,
      );
    }
    return { bytes, collId: n.d.collId };
  }

  /**
   * The vector of file `ino` as Float32Array of length dim, or null if it has none.
   * @throws FsError EUCLEAN when the stored vector fails its checksum
   */
  getVector(ino: number): Float32Array | null {
    const r = this.getVectorBytes(ino);
    if (!r) return null;
    const rec = this.#table().get(r.collId)!;
    return decodeVector(r.bytes, ELEMS[rec.elemType - 1], rec.dim);
  }

  /**
   * Removes the vector of file `ino` (swap-remove: the last slot moves into
   * the freed one). Does nothing when it has none.
   * @returns whether a vector was removed
   */
  deleteVector(ino: number): boolean {
    const done = this.#deleteVector(ino);
    if (done) this.vectorsDeleted++;
    return done;
  }

  #deleteVector(ino: number): boolean {
    return this.#fs.op(() => {
      const fs = this.#fs;
      const n = fs.iget(ino);
      if (!(n.d.flags & IFL_HAS_VECTOR)) return false;
      const l = this.#load(n.d.collId);
      const rec = l.rec;
      const slot = n.d.vecSlot;
      const last = rec.count - 1;
      const stride = strideOf(rec);
      const g = this.#graphForChange(l);
      g?.remove(slot); // while the slot still holds the vector (FORMAT.md §8.6 repair)
      if (slot !== last) {
        const bytes = l.mem
          ? l.mem.bytes.slice(last * stride, (last + 1) * stride)
          : fs.read(rec.vecIno, last * stride, stride);
        fs.write(rec.vecIno, slot * stride, bytes);
        if (rec.normIno) {
          const norm = l.mem ? l.mem.norms[last] : vectorNorm(bytes, ELEMS[rec.elemType - 1], rec.dim);
          this.#writeNorm(l, slot, norm);
        }
        const mover = fs.iget(l.owners[last]);
        l.owners[slot] = l.owners[last];
        l.crcs[slot] = l.crcs[last];
        mover.d.vecSlot = slot;
        fs.dirty(mover);
      }
      l.owners.pop();
      l.crcs.pop();
      rec.count--;
      const per = slotsPerBlock(fs.blockSize);
      const touched = new Set<number>();
      if (slot < rec.count) touched.add(Math.floor(slot / per));
      if (Math.floor(last / per) * per < rec.count) {
        touched.add(Math.floor(last / per));
      }
      for (const b of touched) this.#writeSlotBlock(l, b * per);
      this.#shrinkFiles(l);
      n.d.flags &= ~IFL_HAS_VECTOR;
      n.d.collId = 0;
      n.d.vecSlot = 0;
      if (n.d.nlink > 0) n.d.ctime = nowTimespec();
      fs.dirty(n);
      l.mem?.removeSwap(slot);
      if (g) {
        if (slot !== last) g.moveSlot(last, slot);
        this.#attach(l);
      }
      this.#bump(l);
      return true;
    });
  }

  /**
   * Refuses a move that would nest collections: a collection root (or a
   * directory containing one) moved into a collection.
   * @throws FsError EINVAL
   */
  checkMove(n: InodeState, newDir: number): void {
    if ((n.d.mode & S_IFMT) !== S_IFDIR) return;
    const target = this.collectionOfDir(newDir);
    if (!target) return;
    for (const r of this.#table().values()) {
      if (r.id !== target && this.#fs.isAncestor(n.ino, r.rootIno)) {
        throw new FsError(
          "EINVAL",
          `cannot move collection ${r.id} into collection ${target}: collections do not nest`,
        );
      }
    }
  }

  /**
   * Applies FORMAT.md §8.4 after `n` moved from `oldDir` to `newDir`: vectors
   * that leave their collection move to the new one if it has the same dim
   * and element type, else they are deleted.
   */
  afterMove(n: InodeState, oldDir: number, newDir: number): void {
    moveVectorsAfter(this, this.#fs, n, oldDir, newDir);
  }

  /**
   * Deletes a collection: every vector in it, its store files and its record;
   * the root directory becomes an ordinary directory.
   */
  dropCollection(id: number): void {
    return this.#fs.op(() => {
      const fs = this.#fs;
      const rec = this.#table().get(id);
      if (!rec) return;
      const l = this.#load(id);
      const dropped = l.owners.length;
      for (const ino of l.owners) {
        const n = fs.iget(ino);
        n.d.flags &= ~IFL_HAS_VECTOR;
        n.d.collId = 0;
        n.d.vecSlot = 0;
        fs.dirty(n);
      }
      for (const ino of [rec.vecIno, rec.mapIno, rec.normIno, rec.hnswIno, rec.bm25Ino]) {
        if (!ino) continue;
        const n = fs.iget(ino);
        fs.truncate(ino, 0);
        n.d.nlink = 0;
        fs.forceFree(ino);
      }
      try {
        const root = fs.iget(rec.rootIno);
        root.d.flags &= ~IFL_COLL_ROOT;
        root.d.collId = 0;
        fs.dirty(root);
      } catch { /* root already being freed */ }
      fs.write(
        COLL_TABLE_INO,
        (id - 1) * COLL_RECORD_SIZE,
        new Uint8Array(COLL_RECORD_SIZE),
      );
      this.#table().delete(id);
      this.#unload(id);
      this.text.forget(id);
      fs.sb.collCount = this.#table().size;
      this.vectorsDeleted += dropped;
    });
  }

  /** The whole vector store of a collection (count * stride bytes), held in memory. */
  storeBytes(id: number): Uint8Array {
    return this.#mem(this.#load(id)).bytes;
  }

  /** The norms of a collection's vectors (FORMAT.md §8.5), slot by slot. */
  norms(id: number): Float32Array {
    return this.#mem(this.#load(id)).norms;
  }

  /**
   * The collection's vectors in memory: read once (every vector checked
   * against its CRC, norms read from the norms file or computed), then kept
   * in step with every change.
   * @throws FsError EUCLEAN when the store is short or a vector fails its checksum
   */
  #mem(l: Loaded): WasmStore {
    if (l.mem) return l.mem;
    const mem = readStore(this.#fs, l);
    l.mem = mem;
    return mem;
  }

  /** Frees what a collection holds in memory (store, graph) and forgets it. */
  #unload(id: number): void {
    const l = this.#loaded.get(id);
    l?.graph?.free();
    l?.mem?.free();
    l?.subtree?.filter?.free();
    this.#loaded.delete(id);
  }

  /** Frees every collection's memory (at close). */
  unloadAll(): void {
    for (const id of [...this.#loaded.keys()]) this.#unload(id);
  }

  /** Tells the graph where the store is now (it may move when it grows). */
  #attach(l: Loaded): void {
    l.graph!.setStore(l.mem!.dataPtr, l.mem!.normsPtr, l.mem!.count);
  }

  /**
   * The graph of an HNSW collection about to change, loaded (and brought up
   * to date) first so that it follows the change; null for a flat collection.
   */
  #graphForChange(l: Loaded): HnswGraph | null {
    if (!(l.rec.flags & COLL_INDEX_HNSW)) return null;
    return this.#graph(l);
  }

  /**
   * The collection's HNSW graph in memory, current with the store. Loaded
   * from `hnsw_ino` (FORMAT.md §8.6): used as is when it matches the
   * collection's generation and count and every block checks; otherwise
   * what can be trusted is kept and the rest caught up (slots reinserted,
   * stale nodes deleted). Built from the store when there is no file.
   */
  #graph(l: Loaded): HnswGraph {
    return this.#graphWithin(l, Infinity)!;
  }

  /**
   * {@link #graph}, unless bringing the graph up to date would take more
   * than `limit` insertions: then null (and `l.behind` says by how many).
   */
  #graphWithin(l: Loaded, limit: number): HnswGraph | null {
    if (l.graph) return l.graph;
    if (l.behind !== undefined && l.behind > limit) return null;
    const mem = this.#mem(l);
    return loadGraph(this.#fs, l, mem, limit);
  }

  /** How many insertions a search may make to bring the graph of a `count`-vector collection up to date ({@link searchCatchUpVectors}). */
  #searchCatchUpLimit(count: number): number {
    return Math.max(this.searchCatchUpVectors, Math.floor(0.02 * count));
  }

  /**
   * Writes every changed graph to its file (FORMAT.md §8.6 "Writing"): the
   * changed region blocks outside the journal, a commit of the file's
   * metadata (which flushes them), then the header naming the collection
   * generation it matches, and a flush. The engine calls it after each
   * commit; a crash in between leaves a graph the next load catches up.
   */
  checkpoint(force = false): void {
    const fs = this.#fs;
    if (fs.isReadOnly) return;
    void force; // every commit writes the changed graphs: what a crash leaves to catch up is one commit's worth
    const todo = [...this.#loaded.values()].filter((l) =>
      l.graph && (l.graph.matches.generation !== l.rec.generation || l.graph.matches.count !== l.rec.count ||
        l.graph.dirty)
    );
    if (todo.length) writeGraphs(fs, todo, (rec) => this.#writeRecord(rec));
    this.text.checkpoint(force);
  }

  /**
   * Builds (or rebuilds from scratch) the HNSW graph of the collection
   * containing `dir`, making the collection an HNSW one if it was flat.
   * @param params M and efConstruction (default: the collection's, else 16 and 200); `onProgress`
   *   gets (vectors inserted, total) every few thousand insertions (HnswGraph.build)
   * @returns the index stats after the build
   */
  buildIndex(
    dir: number,
    params: { m?: number; efConstruction?: number; onProgress?: (done: number, total: number) => void } = {},
  ): IndexStats {
    return this.#fs.op(() => {
      const id = this.#collectionOf(dir);
      const l = this.#load(id);
      const rec = l.rec;
      const m = params.m ?? (rec.hnswM || HNSW_DEFAULTS.m);
      const efc = params.efConstruction ?? (rec.hnswEfConstruction || HNSW_DEFAULTS.efConstruction);
      check(Number.isInteger(m) && m >= 2 && m <= 128, "EINVAL", `HNSW M ${m} is out of range (2..128)`);
      check(Number.isInteger(efc) && efc >= m && efc <= 4096, "EINVAL", `HNSW efConstruction ${efc} (M..4096)`);
      l.graph?.free();
      l.graph = undefined;
      if (rec.hnswIno) {
        this.#fs.truncate(rec.hnswIno, 0);
      }
      rec.flags |= COLL_INDEX_HNSW;
      rec.hnswM = m;
      rec.hnswEfConstruction = efc;
      this.#fs.sb.featureRoCompat |= RO_COMPAT_HNSW;
      this.#bump(l);
      const t0 = performance.now();
      const mem = this.#mem(l);
      const g = HnswGraph.create(hnswParamsOf(rec, this.#fs.blockSize, { m, efConstruction: efc }));
      g.setStore(mem.dataPtr, mem.normsPtr, mem.count);
      g.build(Uint32Array.from({ length: rec.count }, (_, i) => i), Uint32Array.from(l.crcs), params.onProgress);
      l.graph = g;
      l.graphNote = `built from ${rec.count} vectors in ${Math.round(performance.now() - t0)} ms`;
      return this.indexStats(dir);
    }, "index build");
  }

  /**
   * Drops the HNSW graph of the collection containing `dir`: it becomes flat
   * (exact scans only) and the graph file is freed.
   */
  dropIndex(dir: number): void {
    this.#fs.op(() => {
      const l = this.#load(this.#collectionOf(dir));
      const rec = l.rec;
      l.graph?.free();
      l.graph = undefined;
      l.graphNote = undefined;
      l.behind = undefined;
      if (rec.hnswIno) {
        const ino = rec.hnswIno;
        rec.hnswIno = 0;
        this.#fs.truncate(ino, 0);
        this.#fs.iget(ino).d.nlink = 0;
        this.#fs.forceFree(ino);
      }
      rec.flags &= ~COLL_INDEX_HNSW;
      rec.hnswM = 0;
      rec.hnswEfConstruction = 0;
      this.#bump(l);
    }, "index drop");
  }

  /** Compacts the graph of the collection containing `dir` (no deleted or free nodes left). */
  optimizeIndex(dir: number): IndexStats {
    return this.#fs.op(() => {
      const l = this.#load(this.#collectionOf(dir));
      check(!!(l.rec.flags & COLL_INDEX_HNSW), "EINVAL", `collection ${l.rec.id} has no HNSW index (index build it)`);
      const g = this.#graph(l);
      this.#attach(l);
      g.optimize();
      // A new generation, so that the graph's header on disk stops vouching for blocks about to be rewritten.
      this.#bump(l);
      return this.indexStats(dir);
    }, "index optimize");
  }

  /** What the index of the collection containing `dir` looks like (loads the graph). */
  indexStats(dir: number): IndexStats {
    const l = this.#load(this.#collectionOf(dir));
    const rec = l.rec;
    const fileBytes = rec.hnswIno ? this.#fs.iget(rec.hnswIno).d.size : 0;
    if (!(rec.flags & COLL_INDEX_HNSW)) return { index: "flat", current: null, note: "exact scans", fileBytes };
    const before = l.graph;
    const g = this.#graphWithin(l, this.#searchCatchUpLimit(rec.count));
    if (!g) return { index: "hnsw", current: false, note: l.graphNote ?? "", fileBytes };
    const current = g.matches.generation === rec.generation && g.matches.count === rec.count &&
      !g.dirty;
    return {
      index: "hnsw",
      current,
      note: l.graphNote ?? (before ? "in memory" : ""),
      graph: g.stats(),
      fileBytes,
    };
  }

  /** The collection containing directory `dir`. @throws FsError ENOTDIR, EINVAL */
  #collectionOf(dir: number): number {
    const fs = this.#fs;
    const dn = fs.iget(dir);
    if ((dn.d.mode & S_IFMT) !== S_IFDIR) throw new FsError("ENOTDIR", `inode ${dir} is not a directory`);
    const id = this.collectionOfDir(dir);
    if (!id) throw new FsError("EINVAL", `${fs.pathOf(dir)} is not inside a vector collection`);
    return id;
  }

  /** Slot owners of a collection (slot index -> inode), for fsck and tests. */
  owners(id: number): readonly number[] {
    return this.#load(id).owners;
  }

  /** Stored vector CRCs of a collection (slot index -> CRC-32C). */
  crcs(id: number): readonly number[] {
    return this.#load(id).crcs;
  }

  /**
   * Top-k search over the collection that contains directory `dir`,
   * restricted to files below `dir` when it is not the collection root. See
   * {@link searchEx}.
   * @param query Float32Array of length dim (no NaN/Inf)
   * @param k 1..65536
   * @returns hits, best first (FORMAT.md §8.4 ordering), with paths relative to `dir` (`""` with `paths: false`)
   * @throws FsError ENOTDIR, EINVAL (not in a collection, wrong dimension, bad k, NaN)
   */
  search(dir: number, query: Float32Array, k: number, opts: SearchOptions = {}): SearchHit[] {
    return this.searchEx(dir, query, k, opts).hits;
  }

  /**
   * Top-k search that also says how it was answered. A flat collection, an
   * `exact` search and a small subtree are scanned exactly (SIMD scan,
   * identical to a brute force). An HNSW collection is searched through its
   * graph (current with the store: caught up when it was loaded) with `ef`
   * (default the collection's, else max(k, 64)); without an explicit `ef`, a
   * collection of at most {@link exactScanElements} elements is scanned
   * instead (as fast, and exact); a subtree through a filtered
   * traversal. `where` (xattr filter, ./xattr_filter.ts) narrows the
   * subtree's slots (or the collection's) to the files that pass, and the
   * same rule applies to them: few → an exact scan of them (recall 1), else
   * the filtered traversal; `method.filterPassed` says how many passed. Graph hits are rescored from the store, so every score is
   * exact; HNSW can only miss neighbours (recall < 1), never return a wrong
   * score.
   * @throws FsError as {@link search}
   */
  searchEx(
    dir: number,
    query: Float32Array,
    k: number,
    opts: SearchOptions = {},
  ): { hits: SearchHit[]; method: SearchMethod } {
    const t0 = performance.now();
    const r = this.#searchEx(dir, query, k, opts);
    this.searchLatency.record(Math.round((performance.now() - t0) * 1e6));
    return r;
  }

  #searchEx(
    dir: number,
    query: Float32Array,
    k: number,
    opts: SearchOptions,
  ): { hits: SearchHit[]; method: SearchMethod } {
    const fs = this.#fs;
    const id = this.#collectionOf(dir);
    const l = this.#load(id);
    const rec = l.rec;
    checkSearchArgs(rec, id, query, k, opts.ef);
    const metric = METRICS[rec.metric - 1];
    const mem = this.#mem(l);
    const exclude = opts.exclude;
    const owners = l.owners;
    let subtree: number[] | null = null;
    if (dir !== rec.rootIno) {
      subtree = subtreeOf(fs, l, dir).slots;
    }
    // A --where filter narrows the slots further (subtree AND filter); the same rule then picks scan or graph.
    const where = opts.where?.length ? opts.where : null;
    if (where) subtree = whereSlotsOf(fs, l, dir, subtree, where);
    const passed = where ? { filterPassed: subtree!.length } : {};
    let method: SearchMethod;
    let found: { ino: number; score: number }[];
    const hnsw = (rec.flags & COLL_INDEX_HNSW) !== 0;
    // A subtree is scanned when that is cheap (as a small collection is) or when it holds few of the vectors:
    // a filtered traversal must visit the nodes that fail the filter too.
    const small = subtree !== null &&
      (subtree.length <= this.subtreeExactMax || subtree.length <= this.subtreeExactFraction * mem.count ||
        subtree.length * rec.dim <= this.exactScanElements);
    // An explicit ef asks for the graph; without one, a collection this small is scanned (as fast, and exact).
    const tiny = opts.ef === undefined && mem.count * rec.dim <= this.exactScanElements;
    const scan = !hnsw || opts.exact || small || tiny || mem.count <= k;
    const g = scan ? null : this.#graphWithin(l, this.#searchCatchUpLimit(mem.count));
    if (!g) {
      method = {
        method: "exact",
        ...(hnsw
          ? {
            reason: opts.exact
              ? "exact search asked for"
              : small
              ? (where ? "few files pass the filter: they are scanned" : "a small subtree is scanned")
              : tiny
              ? "a small collection: an exact scan is as fast"
              : mem.count <= k
              ? "k ≥ vectors"
              : "the HNSW graph is far behind the vectors; scanned exactly until it is caught up",
          }
          : {}),
        ...passed,
      };
      found = scanTopK(mem, { query, k, metric, owners, exclude, ...(subtree ? { slots: subtree } : {}) });
    } else {
      this.#attach(l);
      const ef = Math.max(opts.ef ?? (rec.hnswEfSearch || Math.max(k, DEFAULT_EF)), k);
      const want = k + (exclude?.size ?? 0);
      // A filtered search's bitmap lives for this search only; a subtree's is kept with its slots.
      let own: SlotFilter | undefined;
      try {
        let filter: SlotFilter | undefined;
        if (where) {
          filter = own = new SlotFilter(mem.count);
          for (const s of subtree!) own.add(s);
        } else if (subtree) {
          const c = l.subtree!;
          if (!c.filter) {
            c.filter = new SlotFilter(mem.count);
            for (const s of subtree) c.filter.add(s);
          }
          filter = c.filter;
        }
        // A filtered traversal visits non-matching nodes too: widen ef by how rare matches are.
        const efEff = subtree
          ? Math.min(65535, Math.ceil(ef * Math.min(8, mem.count / Math.max(1, subtree.length))))
          : ef;
        const r = g.search(query, want, efEff, filter);
        // Rescore exactly from the store and order as FORMAT.md §8.4 says.
        found = scanTopK(mem, { query, k, metric, owners, exclude, slots: r.slots });
        method = { method: "hnsw", ef: efEff, ...passed };
      } finally {
        own?.free();
      }
    }
    let hits: SearchHit[];
    if (opts.paths === false) hits = found.map((h) => ({ ino: h.ino, score: h.score, path: "" }));
    else {
      const base = dir === ROOT_INO ? "" : fs.pathOf(dir);
      hits = found.map((h) => {
        const p = fs.pathOf(h.ino);
        return { ino: h.ino, score: h.score, path: p.startsWith(base + "/") ? p.slice(base.length + 1) : p };
      });
    }
    return { hits, method };
  }

  /** Verifies the slot-map blocks of every collection can be read (used by fsck). */
  loadAll(): void {
    for (const id of this.#table().keys()) this.#load(id);
  }
}
