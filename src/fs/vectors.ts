/**
 * Vector collections inside the engine (docs/FORMAT.md §8): the collection
 * table (inode 3), each collection's contiguous vector store and slot map,
 * the rules that keep them consistent when files are deleted or moved, and
 * exact (flat) top-k search.
 * @module
 */
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
import { scanStore } from "../vector/distance.ts";
import { TopK } from "../vector/topk.ts";
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
  /** "hnsw": through the graph; "exact": a scan of the store (or of the subtree's vectors) */
  method: "hnsw" | "exact";
  /** why an HNSW collection was scanned exactly, when it was (stale graph, --exact, small subtree, ...) */
  reason?: string;
  /** the ef used, for "hnsw" */
  ef?: number;
}

/**
 * A collection's vectors held in memory, kept equal to the store on every
 * change (appended, patched, swap-removed), so a search never rereads the
 * store: `bytes` holds `count * stride` bytes (in a buffer with room to grow)
 * and `norms` the f32 norm of each slot (FORMAT.md §8.5).
 */
class MemStore {
  #buf: Uint8Array;
  #norms: Float32Array;
  count = 0;
  constructor(readonly stride: number, capacity = 16) {
    this.#buf = new Uint8Array(stride * capacity);
    this.#norms = new Float32Array(capacity);
  }
  /** The vectors, slot after slot (`count * stride` bytes; a view, valid until the next change). */
  get bytes(): Uint8Array {
    return this.#buf.subarray(0, this.count * this.stride);
  }
  /** The norms (`count` of them; a view). */
  get norms(): Float32Array {
    return this.#norms.subarray(0, this.count);
  }
  #reserve(n: number): void {
    if (n * this.stride <= this.#buf.length && n <= this.#norms.length) return;
    const cap = Math.max(n, Math.ceil(this.#norms.length * 1.5) + 16);
    const b = new Uint8Array(cap * this.stride);
    b.set(this.#buf.subarray(0, this.count * this.stride));
    this.#buf = b;
    const m = new Float32Array(cap);
    m.set(this.#norms.subarray(0, this.count));
    this.#norms = m;
  }
  /** Sets slot `s` (s ≤ count; s = count appends). */
  put(s: number, v: Uint8Array, norm: number): void {
    if (s === this.count) {
      this.#reserve(s + 1);
      this.count++;
    }
    this.#buf.set(v, s * this.stride);
    this.#norms[s] = norm;
  }
  /** The swap-remove of FORMAT.md §8.4: the last slot moves into `s`, the store shrinks by one. */
  removeSwap(s: number): void {
    const last = this.count - 1;
    if (s !== last) {
      this.#buf.copyWithin(s * this.stride, last * this.stride, (last + 1) * this.stride);
      this.#norms[s] = this.#norms[last];
    }
    this.count--;
  }
}

interface Loaded {
  rec: CollectionRecord;
  owners: number[];
  crcs: number[];
  /** the vectors and norms in memory, once read (then kept in step with every change) */
  mem?: MemStore;
}

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

  #writeRecord(rec: CollectionRecord): void {
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
      for (let i = 0; i < items.length; i++) {
        try {
          this.setVector(items[i].ino, items[i].vector);
        } catch (e) {
          if (e instanceof FsError) throw new FsError(e.code, `item ${i} (inode ${items[i].ino}): ${e.detail}`);
          throw e;
        }
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
    return this.#fs.op(() => {
      const fs = this.#fs;
      const n = fs.iget(ino);
      if (!(n.d.flags & IFL_HAS_VECTOR)) return false;
      const l = this.#load(n.d.collId);
      const rec = l.rec;
      const slot = n.d.vecSlot;
      const last = rec.count - 1;
      const stride = this.#stride(rec);
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
      this.#loaded.delete(id);
      fs.sb.collCount = this.#table().size;
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
  #mem(l: Loaded): MemStore {
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
    for (let s = 0; s < l.rec.count; s++) {
      if (crc32c(data.subarray(s * stride, (s + 1) * stride)) !== l.crcs[s]) {
        throw new FsError(
          "EUCLEAN",
          `collection ${id}: vector in slot ${s} (inode ${l.owners[s]}) fails its checksum; run vexfs fsck`,
        );
      }
    }
    const elem = ELEMS[l.rec.elemType - 1];
    let norms: Float32Array | undefined;
    if (l.rec.normIno) {
      const raw = this.#fs.read(l.rec.normIno, 0, l.rec.count * 4);
      if (raw.length === l.rec.count * 4) norms = new Float32Array(raw.buffer, raw.byteOffset, l.rec.count);
    }
    const mem = new MemStore(stride, l.rec.count + 16);
    for (let s = 0; s < l.rec.count; s++) {
      const v = data.subarray(s * stride, (s + 1) * stride);
      mem.put(s, v, norms ? norms[s] : vectorNorm(v, elem, l.rec.dim));
    }
    l.mem = mem;
    return mem;
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
   * Exact top-k search over the collection that contains directory `dir`,
   * restricted to files below `dir` when it is not the collection root.
   * @param query Float32Array of length dim (no NaN/Inf)
   * @param k 1..65536
   * @returns hits, best first (FORMAT.md §8.4 ordering), with paths relative to `dir` (`""` with `paths: false`)
   * @throws FsError ENOTDIR, EINVAL (not in a collection, wrong dimension, bad k, NaN)
   */
  search(
    dir: number,
    query: Float32Array,
    k: number,
    opts: SearchOptions = {},
  ): SearchHit[] {
    const fs = this.#fs;
    const dn = fs.iget(dir);
    if ((dn.d.mode & S_IFMT) !== S_IFDIR) {
      throw new FsError("ENOTDIR", `inode ${dir} is not a directory`);
    }
    const id = this.collectionOfDir(dir);
    if (!id) {
      throw new FsError(
        "EINVAL",
        `${fs.pathOf(dir)} is not inside a vector collection`,
      );
    }
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
    const metric = METRICS[rec.metric - 1];
    const data = this.storeBytes(id);
    const top = new TopK(k, metric);
    const under = dir === rec.rootIno ? null : this.#underCache(dir);
    const exclude = opts.exclude;
    scanStore(
      data,
      ELEMS[rec.elemType - 1],
      rec.dim,
      rec.count,
      query,
      metric,
      (slot, score) => {
        const ino = l.owners[slot];
        if (exclude?.has(ino)) return;
        if (under && !under(ino)) return;
        top.push(ino, score);
      },
    );
    if (opts.paths === false) return top.result().map((h) => ({ ino: h.ino, score: h.score, path: "" }));
    const base = dir === ROOT_INO ? "" : fs.pathOf(dir);
    return top.result().map((h) => {
      const p = fs.pathOf(h.ino);
      return {
        ino: h.ino,
        score: h.score,
        path: p.startsWith(base + "/") ? p.slice(base.length + 1) : p,
      };
    });
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
