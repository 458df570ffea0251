/**
 * Vector collections inside the engine (docs/FORMAT.md §8): the collection
 * table (inode 3), each collection's contiguous vector store and slot map,
 * the rules that keep them consistent when files are deleted or moved, and
 * exact (flat) top-k search.
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
  decodeCollection,
  decodeSlotBlock,
  encodeCollection,
  encodeSlotBlock,
  slotsPerBlock,
} from "../format/collection.ts";
import { crc32c } from "../format/crc.ts";
import { nowTimespec } from "../format/inode.ts";
import type { InodeState, Vexfs } from "./fs.ts";
import { decodeVector, encodeVector } from "../vector/codec.ts";
import { vectorNorm } from "../vector/norm.ts";
import { scanTopK, WasmStore } from "../vector/simd.ts";
import { HnswGraph } from "../hnsw/graph.ts";
import { DEFAULT_EF, hnswParamsOf } from "../hnsw/params.ts";
import type { HnswStats } from "../hnsw/types.ts";
import { SlotFilter } from "../hnsw/slot_filter.ts";
import { applyCatchUp, planCatchUp } from "../hnsw/catchup.ts";
import { ELEM_TYPES, elemSize, type ElemType, MAX_DIM, type Metric, METRICS } from "../vector/types.ts";

const ELEMS = ELEM_TYPES;

/** A collection's parameters and counts, as the CLI and ioctls report them. */
export interface CollectionInfo {
  id: number;
  /** inode of the collection root directory */
  rootIno: number;
  dim: number;
  metric: Metric;
  elem: ElemType;
  /** vectors stored */
  count: number;
  /** bytes of vector data (count * dim * element size) */
  bytes: number;
  generation: number;
  created: number;
  /** "hnsw" when the collection keeps an HNSW graph (FORMAT.md §8.6), else "flat" (absent: not reported) */
  index?: "hnsw" | "flat";
  /** HNSW M and efConstruction (0 for flat) */
  m?: number;
  efConstruction?: number;
  /** default ef of a search (0: the engine's default) */
  efSearch?: number;
}

/** Parameters of a new collection. */
export interface CollectionParams {
  /** 1..4096 */
  dim: number;
  metric: Metric;
  elem: ElemType;
  /** "hnsw" (the default): keep an HNSW graph for approximate search; "flat": exact scans only */
  index?: "hnsw" | "flat";
  /** HNSW M, neighbours per node on the upper levels (2..128, default 16; level 0 keeps 2M) */
  m?: number;
  /** HNSW efConstruction (M..4096, default 200) */
  efConstruction?: number;
  /** default ef of a search (0..65535, default 0: max(k, 64)) */
  efSearch?: number;
}

/** Default HNSW parameters (as hnswlib's examples). */
export const HNSW_DEFAULTS = { m: 16, efConstruction: 200 } as const;

/** One search hit. `score` follows FORMAT.md §8.4 (l2: distance; cosine, ip: similarity). */
export interface SearchHit {
  ino: number;
  score: number;
  /** path relative to the searched directory (no leading slash) */
  path: string;
}

/** Options for {@link Collections.search}. */
export interface SearchOptions {
  /** inodes to leave out of the results (e.g. the query file itself) */
  exclude?: Set<number>;
  /**
   * Compute each hit's `path` (default true). With `false` every `path` is
   * `""`, which saves a parent-pointer walk per hit (the ioctl search
   * returns inode numbers only).
   */
  paths?: boolean;
  /** HNSW search breadth (ignored by exact scans); default the collection's `efSearch`, else max(k, 64) */
  ef?: number;
  /** scan exactly even when the collection has a usable graph */
  exact?: boolean;
}

/** How a search was answered (what {@link Collections.searchEx} reports besides the hits). */
export interface SearchMethod {
  /** "hnsw": through the graph; "exact": a scan of the store (or of the subtree's vectors); "unknown": not reported */
  method: "hnsw" | "exact" | "unknown";
  /** why an HNSW collection was scanned exactly, when it was (stale graph, --exact, small subtree, ...) */
  reason?: string;
  /** the ef used, for "hnsw" */
  ef?: number;
}

interface Loaded {
  rec: CollectionRecord;
  owners: number[];
  crcs: number[];
  /** the vectors and norms in wasm memory, once read (then kept in step with every change) */
  mem?: WasmStore;
  /** the HNSW graph in memory, once loaded (kept current with every change) */
  graph?: HnswGraph;
  /** what loading the graph found (built, caught up, current), for `index stats` */
  graphNote?: string;
  /** vectors the graph on disk is behind by, when a search declined to catch it up (see {@link Collections.searchCatchUpVectors}) */
  behind?: number;
  /** the slots below the directory searched last (and its graph filter), while nothing they depend on changed */
  subtree?: SubtreeCache;
}

/** The slots of a directory's subtree, valid for one collection generation and namespace version. */
interface SubtreeCache {
  dir: number;
  generation: number;
  count: number;
  namespace: number;
  slots: number[];
  /** the slots as a graph filter, made on first use */
  filter?: SlotFilter;
}

/** What `vexfs index stats` reports of a collection's index. */
export interface IndexStats {
  /** "hnsw" or "flat" */
  index: "hnsw" | "flat";
  /** whether the graph on disk matches the collection (FORMAT.md §8.6); null for flat */
  current: boolean | null;
  /** what the engine did when it loaded the graph (built, caught up, ...) */
  note: string;
  /** the graph's own figures (HNSW only) */
  graph?: HnswStats;
  /** bytes of the graph file on disk */
  fileBytes: number;
}

/**
 * Subtrees holding at most this fraction of a collection are searched by an
 * exact scan of their vectors; larger ones by a filtered graph traversal.
 */
const SUBTREE_EXACT_FRACTION = 0.05;
/**
 * Collections of at most this many elements (vectors × dim) are scanned
 * exactly even with an HNSW index: a SIMD scan of them takes about a
 * millisecond, and its answer is exact.
 */
const EXACT_SCAN_ELEMENTS = 4 << 20;
/** ... and subtrees of at most this many vectors always exactly. */
const SUBTREE_EXACT_MAX = 4096;

/** A Float32 as its 4 little-endian bytes. */
function f32Bytes(x: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, x, true);
  return b;
}

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

  constructor(fs: Vexfs) {
    this.#fs = fs;
  }

  #table(): Map<number, CollectionRecord> {
    if (this.#records) return this.#records;
    const fs = this.#fs;
    const t = fs.iget(COLL_TABLE_INO);
    const raw = fs.read(COLL_TABLE_INO, 0, t.d.size);
    const m = new Map<number, CollectionRecord>();
    for (let i = 0; i * COLL_RECORD_SIZE < raw.length; i++) {
      const r = decodeCollection(
        i + 1,
        raw.subarray(i * COLL_RECORD_SIZE, (i + 1) * COLL_RECORD_SIZE),
      );
      if (r) m.set(r.id, r);
    }
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

  #info(r: CollectionRecord): CollectionInfo {
    const elem = ELEMS[r.elemType - 1];
    return {
      id: r.id,
      rootIno: r.rootIno,
      dim: r.dim,
      metric: METRICS[r.metric - 1],
      elem,
      count: r.count,
      bytes: r.count * r.dim * elemSize(elem),
      generation: r.generation,
      created: r.created,
      index: r.flags & COLL_INDEX_HNSW ? "hnsw" : "flat",
      m: r.hnswM,
      efConstruction: r.hnswEfConstruction,
      efSearch: r.hnswEfSearch,
    };
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
    const fs = this.#fs;
    const bs = fs.blockSize;
    const per = slotsPerBlock(bs);
    const owners: number[] = [];
    const crcs: number[] = [];
    for (let b = 0; b * per < rec.count; b++) {
      const n = Math.min(per, rec.count - b * per);
      const raw = fs.read(rec.mapIno, b * bs, bs);
      if (raw.length < bs) {
        throw new FsError(
          "EUCLEAN",
          `collection ${id}: slot map is shorter than ${rec.count} slots`,
        );
      }
      for (const e of decodeSlotBlock(raw, id, n)) {
        owners.push(e.ino);
        crcs.push(e.vecCrc);
      }
    }
    const l: Loaded = { rec, owners, crcs };
    this.#loaded.set(id, l);
    return l;
  }

  #stride(rec: CollectionRecord): number {
    return rec.dim * elemSize(ELEMS[rec.elemType - 1]);
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
    fs.truncate(l.rec.vecIno, l.rec.count * this.#stride(l.rec));
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
      const stride = this.#stride(rec);
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
    const stride = this.#stride(l.rec);
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
      const stride = this.#stride(rec);
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
    if (oldDir === newDir) return;
    if (n.d.flags & IFL_COLL_ROOT) return;
    const to = this.collectionOfDir(newDir);
    const isDir = (n.d.mode & S_IFMT) === S_IFDIR;
    if (!isDir) {
      if ((n.d.flags & IFL_HAS_VECTOR) && n.d.collId !== to) {
        this.#moveVector(n.ino, to);
      }
      return;
    }
    if (this.collectionOfDir(oldDir) === to) return;
    const fs = this.#fs;
    const stack = [n.ino];
    while (stack.length) {
      const d = stack.pop()!;
      for (const e of fs.readdir(d)) {
        if (e.type === 2) stack.push(e.ino);
        else if (e.type === 1) {
          const f = fs.iget(e.ino);
          if ((f.d.flags & IFL_HAS_VECTOR) && f.d.collId !== to) {
            this.#moveVector(e.ino, to);
          }
        }
      }
    }
  }

  #moveVector(ino: number, to: number): void {
    const fs = this.#fs;
    const n = fs.iget(ino);
    const from = this.#table().get(n.d.collId)!;
    const target = to ? this.#table().get(to) : undefined;
    if (
      target && target.dim === from.dim && target.elemType === from.elemType
    ) {
      const v = this.getVector(ino)!;
      this.deleteVector(ino);
      this.setVector(ino, v);
    } else this.deleteVector(ino);
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
      for (const ino of [rec.vecIno, rec.mapIno, rec.normIno, rec.hnswIno]) {
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
    const id = l.rec.id;
    const stride = this.#stride(l.rec);
    const data = this.#fs.read(l.rec.vecIno, 0, l.rec.count * stride);
    if (data.length !== l.rec.count * stride) {
      throw new FsError(
        "EUCLEAN",
        `collection ${id}: vector store holds ${data.length} bytes, ${l.rec.count * stride} expected`,
      );
    }
    // The norms are computed here (in wasm, FORMAT.md §8.5's rule) rather than read from the norms file:
    // the exact scan's error bounds rely on them, and fsck checks the file against the vectors.
    const mem = WasmStore.from(ELEMS[l.rec.elemType - 1], l.rec.dim, data, l.rec.count);
    const crcs = mem.crcs();
    for (let s = 0; s < l.rec.count; s++) {
      if (crcs[s] !== l.crcs[s] >>> 0) {
        mem.free();
        throw new FsError(
          "EUCLEAN",
          `collection ${id}: vector in slot ${s} (inode ${l.owners[s]}) fails its checksum; run vexfs fsck`,
        );
      }
    }
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
    const rec = l.rec;
    const params = hnswParamsOf(rec, this.#fs.blockSize);
    const t0 = performance.now();
    let g: HnswGraph | undefined;
    if (rec.hnswIno) {
      try {
        const size = this.#fs.iget(rec.hnswIno).d.size;
        g = HnswGraph.decode(this.#fs.read(rec.hnswIno, 0, size), params, { lenient: true });
      } catch (e) {
        l.graphNote = `the graph file could not be read (${e instanceof Error ? e.message : e}); rebuilt`;
      }
    }
    if (g) {
      g.setStore(mem.dataPtr, mem.normsPtr, mem.count);
      const m = g.matches;
      const problems = g.decodeProblems;
      if (m.generation === rec.generation && m.count === rec.count && problems.length === 0) {
        l.graphNote = "current";
        g.markClean(); // what was read is what the file holds
      } else {
        const plan = planCatchUp(g, l.crcs);
        if (plan.insert.length > limit) return this.#declined(l, g, plan.insert.length);
        applyCatchUp(g, plan, l.crcs);
        l.graphNote = `caught up with the store (${plan.insert.length} inserted, ${plan.remove.length} removed${
          problems.length ? `; ${problems.length} damaged part(s) dropped` : ""
        }) in ${Math.round(performance.now() - t0)} ms`;
      }
    } else {
      if (rec.count > limit) return this.#declined(l, undefined, rec.count);
      g = HnswGraph.create(params);
      g.setStore(mem.dataPtr, mem.normsPtr, mem.count);
      g.build(Uint32Array.from({ length: rec.count }, (_, i) => i), Uint32Array.from(l.crcs));
      l.graphNote ??= `built from ${rec.count} vectors in ${Math.round(performance.now() - t0)} ms`;
    }
    l.graph = g;
    l.behind = undefined;
    return g;
  }

  /** How many insertions a search may make to bring the graph of a `count`-vector collection up to date ({@link searchCatchUpVectors}). */
  #searchCatchUpLimit(count: number): number {
    return Math.max(this.searchCatchUpVectors, Math.floor(0.02 * count));
  }

  /** A search's refusal to catch up `behind` vectors: frees the decoded graph, notes why. */
  #declined(l: Loaded, g: HnswGraph | undefined, behind: number): null {
    g?.free();
    l.behind = behind;
    l.graphNote = `the graph on disk is ${behind} vectors behind the store (a crash during a bulk import?): ` +
      `searches scan exactly until 'vexfs index build' or the next change to the collection catches it up`;
    return null;
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
    if (!todo.length) return;
    const bs = fs.blockSize;
    fs.op(() => {
      for (const l of todo) {
        const g = l.graph!;
        if (!l.rec.hnswIno) {
          l.rec.hnswIno = fs.ialloc(S_IFREG | 0o600, 0, 0, 0, 0, IFL_INTERNAL).ino;
          this.#writeRecord(l.rec);
        }
        const plan = g.dirtyBlocks();
        if (plan.rewrite) fs.truncate(l.rec.hnswIno, 0);
        // Block 0 (the header) is allocated now, zeroed, so that the commit below holds it in the file's
        // extents: written first after that commit, it could otherwise get a block the log never records.
        if (plan.rewrite || fs.iget(l.rec.hnswIno).d.size < bs) {
          fs.writeUnjournaled(l.rec.hnswIno, 0, new Uint8Array(bs));
        }
        for (const b of plan.blocks) fs.writeUnjournaled(l.rec.hnswIno, b.block * bs, b.data);
        if (fs.iget(l.rec.hnswIno).d.size < plan.fileBlocks * bs) fs.truncate(l.rec.hnswIno, plan.fileBlocks * bs);
      }
    }, "checkpoint");
    fs.sync(); // commits the file's extents and size, and flushes the blocks written above
    for (const l of todo) {
      const g = l.graph!;
      fs.writeUnjournaled(l.rec.hnswIno, 0, g.encodeHeader(l.rec.generation, l.rec.count));
    }
    fs.dev.sync();
    for (const l of todo) l.graph!.markClean();
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
   * traversal. Graph hits are rescored from the store, so every score is
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
    check(
      Number.isInteger(k) && k >= 1 && k <= 65536,
      "EINVAL",
      `k = ${k} is out of range (1..65536)`,
    );
    if (query.length !== rec.dim) {
      throw new FsError(
        "EINVAL",
        `query has ${query.length} elements but collection ${id} has dimension ${rec.dim}`,
      );
    }
    for (let i = 0; i < query.length; i++) {
      if (!Number.isFinite(query[i])) {
        throw new FsError(
          "EINVAL",
          `query element ${i} is ${query[i]}; vectors must be finite`,
        );
      }
    }
    if (opts.ef !== undefined) {
      check(Number.isInteger(opts.ef) && opts.ef >= 1 && opts.ef <= 65535, "EINVAL", `ef ${opts.ef} (1..65535)`);
    }
    const metric = METRICS[rec.metric - 1];
    const mem = this.#mem(l);
    const exclude = opts.exclude;
    const owners = l.owners;
    let subtree: number[] | null = null;
    if (dir !== rec.rootIno) {
      subtree = this.#subtree(l, dir).slots;
    }
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
              ? "a small subtree is scanned"
              : tiny
              ? "a small collection: an exact scan is as fast"
              : mem.count <= k
              ? "k ≥ vectors"
              : "the HNSW graph is far behind the vectors; scanned exactly until it is caught up",
          }
          : {}),
      };
      found = scanTopK(mem, { query, k, metric, owners, exclude, ...(subtree ? { slots: subtree } : {}) });
    } else {
      this.#attach(l);
      const ef = Math.max(opts.ef ?? (rec.hnswEfSearch || Math.max(k, DEFAULT_EF)), k);
      const want = k + (exclude?.size ?? 0);
      {
        let filter: SlotFilter | undefined;
        if (subtree) {
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
        method = { method: "hnsw", ef: efEff };
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

  /**
   * The slots of collection `l` whose files are below directory `dir`,
   * computed once and kept (with their graph filter) until the collection's
   * vectors or the namespace change, or another directory is searched.
   */
  #subtree(l: Loaded, dir: number): SubtreeCache {
    const c = l.subtree;
    const ns = this.#fs.namespaceVersion;
    if (c && c.dir === dir && c.generation === l.rec.generation && c.count === l.rec.count && c.namespace === ns) {
      return c;
    }
    c?.filter?.free();
    const under = this.#underCache(dir);
    const slots: number[] = [];
    const owners = l.owners;
    for (let s = 0, n = l.rec.count; s < n; s++) if (under(owners[s])) slots.push(s);
    l.subtree = { dir, generation: l.rec.generation, count: l.rec.count, namespace: ns, slots };
    return l.subtree;
  }

  /** A predicate "file is below directory `dir`" with memoised ancestry of parent directories. */
  #underCache(dir: number): (ino: number) => boolean {
    const fs = this.#fs;
    const memo = new Map<number, boolean>();
    const dirUnder = (d: number): boolean => {
      const chain: number[] = [];
      let cur = d;
      let ans = false;
      for (let guard = 0; guard < 4096; guard++) {
        const m = memo.get(cur);
        if (m !== undefined) {
          ans = m;
          break;
        }
        if (cur === dir) {
          ans = true;
          break;
        }
        chain.push(cur);
        if (cur === ROOT_INO) break;
        const p = fs.iget(cur).d.parentIno;
        if (!p) break;
        cur = p;
      }
      for (const c of chain) memo.set(c, ans);
      return ans;
    };
    return (ino: number) => {
      const p = fs.iget(ino).d.parentIno;
      if (p) return dirUnder(p);
      try {
        const path = fs.pathOf(ino);
        const base = fs.pathOf(dir);
        return path.startsWith(base + "/");
      } catch {
        return false;
      }
    };
  }

  /** Verifies the slot-map blocks of every collection can be read (used by fsck). */
  loadAll(): void {
    for (const id of this.#table().keys()) this.#load(id);
  }
}
