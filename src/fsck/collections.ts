/**
 * Vector collections (FORMAT.md §8; a VexFS pass with no e2fsck
 * counterpart): the collection table (inode 3), each collection's vector
 * store and slot map, and the inodes that carry vectors.
 *
 * Checks: each record's magic, checksum and fields; that its root is a
 * directory marked as the root of this collection and not inside another
 * collection; that its two internal inodes exist, are internal regular files
 * and are used by no other collection; the sizes of the vector store and the
 * slot map; each slot-map block's checksum, flags and zero tail; each slot's
 * owner pointing back (a regular file with HAS_VECTOR, this collection and
 * this slot); each vector's CRC-32C; then every inode's view: a file with a
 * vector must own its slot, a directory marked COLL_ROOT must be its
 * collection's root, an internal inode must be used, and the superblock's
 * `coll_count` must match. The BM25 fields of a record (FORMAT.md §8.1) are
 * range-checked (`bm25RecordProblems`); its index file (§8.7) is claimed as
 * an internal file of the collection and checked by ./text_index.ts.
 *
 * Gathers for later passes: the internal inodes' roles (for messages and
 * pass 4), the records and slot owners, and, when repairing, every vector
 * that is kept, read into memory.
 *
 * Repairs: a damaged record is rebuilt from the store or dropped when its
 * fields cannot be trusted (bad BM25 fields drop only the text index, which
 * `vexfs index build --text` rebuilds); a file whose vector fails its CRC, whose slot
 * does not point back, or whose collection does not exist loses its vector
 * (and is named in the report); {@link writeCollections} then rewrites each
 * affected store from the files that keep their vectors (slots renumbered
 * in their old order, counts recomputed), fresh stores replace unusable
 * internal inodes, and the table is rewritten.
 * @module
 */
import {
  COLL_MAGIC,
  COLL_RECORD_SIZE,
  COLL_TABLE_INO,
  FIRST_INO,
  IFL_COLL_ROOT,
  IFL_HAS_VECTOR,
  IFL_INTERNAL,
  RO_COMPAT_BM25,
  ROOT_INO,
  S_IFDIR,
  S_IFREG,
  SLOT_ENTRY_SIZE,
} from "../format/constants.ts";
import {
  bm25RecordProblems,
  COLL_IN_USE,
  COLL_INDEX_BM25,
  COLL_INDEX_HNSW,
  type CollectionRecord,
  collectionReservedZero,
  decodeCollection,
  encodeCollection,
  encodeSlotBlock,
  slotsPerBlock,
} from "../format/collection.ts";
import { crc32c, crc32cSeeded } from "../format/crc.ts";
import { blockChecksumOk } from "../format/extent.ts";
import { segments } from "../fs/extentmap.ts";
import { ELEM_TYPES, elemSize, MAX_DIM } from "../vector/types.ts";
import { clearInode, errText, type FsckContext, hex, type InodeInfo, typeName } from "./context.ts";
import { ensureInode } from "./pass1_inodes.ts";
import { bmap } from "./pass2_dirs.ts";
import { newInode, writeFileContent } from "./rewrite.ts";
import { vectorNorm } from "../vector/norm.ts";
import { HnswGraph } from "../hnsw/graph.ts";
import { checkTextIndex, textMembers } from "./text_index.ts";
import { hnswParamsOf } from "../hnsw/params.ts";

/** What the pass knows of one collection. */
interface Coll {
  id: number;
  rec: CollectionRecord;
  /** bytes per vector */
  stride: number;
  /** slots examined: the record's count, bounded by what the stores and the inode count allow */
  count: number;
  vec?: InodeInfo;
  map?: InodeInfo;
  /** the BM25 index file (FORMAT.md §8.7), when the record names a usable one */
  bm25?: InodeInfo;
  /** the norms file (FORMAT.md §8.5), when the record names one */
  norms?: InodeInfo;
  /** repair: rewrite the norms file from the vectors (or create it) */
  rebuildNorms: boolean;
  /** slot owners and CRCs from the slot map */
  owners: number[];
  crcs: number[];
  /** the slot-map block holding the slot passed its checksum */
  trusted: boolean[];
  /** slots whose vector failed its CRC */
  badCrc: Set<number>;
  /** slots a file has been matched to */
  taken: Set<number>;
  /** repair: each slot's vector bytes as read */
  slotBytes: (Uint8Array | undefined)[];
  /** repair: vectors kept, by owner inode */
  keep: Map<number, { bytes: Uint8Array; slot: number }>;
  /** repair: rewrite the stores */
  rebuild: boolean;
  /** repair: the internal inodes are unusable; create new ones */
  newStores: boolean;
  /** repair: the collection is dropped */
  dropped: boolean;
}

interface State {
  colls: Map<number, Coll>;
  /** repair: rewrite the collection table */
  tableDirty: boolean;
}

const STATE = new WeakMap<FsckContext, State>();

/**
 * Reads `len` bytes at byte `off` of a file through its extents (holes and
 * unwritten extents read as zeros).
 * @throws ReadFail
 */
export function readFile(ctx: FsckContext, info: InodeInfo, off: number, len: number): Uint8Array {
  const bs = ctx.bs;
  const out = new Uint8Array(len);
  if (len === 0) return out;
  const first = Math.floor(off / bs);
  const last = Math.floor((off + len - 1) / bs);
  for (const s of segments(info.exts, first, last - first + 1)) {
    if (s.physical === null || s.unwritten) continue;
    const segStart = s.lblk * bs;
    const from = Math.max(segStart, off);
    const to = Math.min((s.lblk + s.count) * bs, off + len);
    out.set(ctx.read(s.physical * bs + (from - segStart), to - from), from - off);
  }
  return out;
}

/** Bytes mapped by a file's extents, from 0 to the end of its last extent. */
function mappedBytes(ctx: FsckContext, info: InodeInfo): number {
  const e = info.exts[info.exts.length - 1];
  return e ? (e.logical + e.length) * ctx.bs : 0;
}

/** Runs the collections pass. */
export function passCollections(ctx: FsckContext): void {
  const st: State = { colls: new Map(), tableDirty: false };
  STATE.set(ctx, st);
  ctx.internalRole.set(COLL_TABLE_INO, "collection table");
  if (ctx.recreateCollTable) {
    newInode(ctx, COLL_TABLE_INO, S_IFREG | 0o600, IFL_INTERNAL, 0, 0);
    st.tableDirty = true;
  }
  const table = ctx.infos.get(COLL_TABLE_INO);
  if (!table?.usable || table.type !== S_IFREG) return;
  const d = table.d!;
  if (d.size % COLL_RECORD_SIZE !== 0 || d.size > mappedBytes(ctx, table) + COLL_RECORD_SIZE) {
    if (
      ctx.ask("COLL_TABLE_BAD", {
        ino: COLL_TABLE_INO,
        detail: `The collection table is ${d.size} bytes, not a multiple of the ${COLL_RECORD_SIZE}-byte record ` +
          "size or more than its blocks hold.",
        fix: "Rewrite the table",
      })
    ) st.tableDirty = true;
  }
  const nrec = Math.min(
    Math.floor(d.size / COLL_RECORD_SIZE),
    Math.ceil(mappedBytes(ctx, table) / COLL_RECORD_SIZE),
    ctx.sb.inodeCount,
  );
  let raw: Uint8Array;
  try {
    raw = readFile(ctx, table, 0, nrec * COLL_RECORD_SIZE);
  } catch (e) {
    ctx.note("READ_ERROR", { ino: COLL_TABLE_INO, what: "The collection table", err: errText(e) });
    return;
  }
  const claimedBy = new Map<number, number>();
  let found = 0;
  for (let i = 0; i < nrec; i++) {
    const c = checkRecord(ctx, st, i + 1, raw.slice(i * COLL_RECORD_SIZE, (i + 1) * COLL_RECORD_SIZE), claimedBy);
    if (c !== "free") found++;
    ctx.progress("collections", i + 1, nrec);
  }
  ctx.progress("collections", nrec, nrec);
  if (ctx.sb.collCount !== found) {
    if (ctx.ask("SB_COLL_COUNT", { where: "superblock", sb: ctx.sb.collCount, table: found })) {
      ctx.sb.collCount = found;
      ctx.sbDirty = true;
    }
  }
  checkNesting(ctx, st);
  checkTextIndexes(ctx, st);
  checkInodes(ctx, st);
  const kept = [...st.colls.values()].filter((c) => !c.dropped);
  ctx.stats.collections = found;
  ctx.stats.vectors = kept.reduce((a, c) => a + c.rec.count, 0);
  for (const c of kept) ctx.collRecords.set(c.id, c.rec);
}

/** Checks record `id`; returns "free" for a free record. */
function checkRecord(
  ctx: FsckContext,
  st: State,
  id: number,
  r: Uint8Array,
  claimedBy: Map<number, number>,
): "free" | "bad" | Coll {
  const where = `collection ${id}`;
  const dv = new DataView(r.buffer);
  const magic = dv.getUint32(0, true);
  if (magic === 0) return "free";
  if (magic !== COLL_MAGIC) {
    if (ctx.ask("COLL_RECORD_MAGIC", { where, magic: hex(magic) })) st.tableDirty = true;
    return "bad";
  }
  let rebuild = false;
  const csumOk = dv.getUint32(252, true) === crc32cSeeded(id, r.subarray(0, 252));
  if (!csumOk) {
    if (ctx.ask("COLL_RECORD_CHECKSUM", { where })) rebuild = true;
    dv.setUint32(252, crc32cSeeded(id, r.subarray(0, 252)), true);
  }
  const rec = decodeCollection(id, r)!;
  const fatal: string[] = [];
  const minor: string[] = [];
  const flags = dv.getUint32(4, true);
  if ((flags & ~(COLL_INDEX_HNSW | COLL_INDEX_BM25)) !== COLL_IN_USE) {
    minor.push(`flags ${hex(flags)} (expected 0x1, with 0x2 for an HNSW index and 0x4 for a BM25 index)`);
  }
  if (rec.dim < 1 || rec.dim > MAX_DIM) fatal.push(`dimension ${rec.dim} (1..${MAX_DIM})`);
  if (rec.metric < 1 || rec.metric > 3) fatal.push(`metric ${rec.metric} (1..3)`);
  if (rec.elemType < 1 || rec.elemType > 3) fatal.push(`element type ${rec.elemType} (1..3)`);
  if (!Number.isSafeInteger(rec.count)) fatal.push(`count ${rec.count}`);
  else if (rec.count > ctx.sb.inodeCount) minor.push(`count ${rec.count} exceeds the number of inodes`);
  const hnsw = (flags & COLL_INDEX_HNSW) !== 0;
  // BM25 fields (FORMAT.md §8.1): a bad one drops only the text index (derived data, rebuilt by `vexfs index`).
  const bm25Bad = bm25RecordProblems(r);
  if (
    hnsw && (rec.hnswM < 2 || rec.hnswM > 128 || rec.hnswEfConstruction < rec.hnswM || rec.hnswEfConstruction > 4096)
  ) {
    minor.push(`HNSW parameters M ${rec.hnswM}, efConstruction ${rec.hnswEfConstruction} are out of range`);
  }
  if (!hnsw && (rec.hnswIno || rec.hnswM || rec.hnswEfConstruction)) {
    minor.push("HNSW fields are set but the collection has no HNSW index");
  }
  const otherMinor = minor.length;
  minor.push(...bm25Bad);
  // re-encoding the record zeroes them
  if (!collectionReservedZero(r)) minor.push("reserved bytes 136..251 are not zero");
  const drop = (c?: Coll) => {
    st.tableDirty = true;
    if (c) c.dropped = true;
  };
  if (fatal.length) {
    if (
      ctx.ask("COLL_RECORD_FIELDS", {
        where,
        fields: [...fatal, ...minor].join(", "),
        fix: "Drop the collection",
      })
    ) {
      drop();
      unmarkRoot(ctx, rec.rootIno, id);
    }
    return "bad";
  }
  if (minor.length) {
    if (ctx.ask("COLL_RECORD_FIELDS", { where, fields: minor.join(", ") })) {
      // An index whose parameters cannot be trusted is dropped: the engine builds a new one from the store.
      // The BM25 fields and reserved bytes concern the record alone: rewriting the table is enough.
      if (otherMinor) {
        rebuild = true;
        rec.flags = COLL_IN_USE;
        rec.hnswIno =
          rec.hnswM =
          rec.hnswEfConstruction =
            0;
      }
      if (otherMinor || bm25Bad.length) dropBm25(rec);
      st.tableDirty = true;
    }
  }
  if ((rec.flags & COLL_INDEX_BM25) && !(ctx.sb.featureRoCompat & RO_COMPAT_BM25)) {
    const detail = `Collection ${id} has a BM25 index but the superblock's ro_compat BM25 flag is clear.`;
    if (ctx.ask("SB_FEATURES", { where, detail })) {
      ctx.sb.featureRoCompat |= RO_COMPAT_BM25;
      ctx.sbDirty = true;
    }
  }
  const stride = rec.dim * elemSize(ELEM_TYPES[rec.elemType - 1]);
  const c: Coll = {
    id,
    rec,
    stride,
    count: 0,
    owners: [],
    crcs: [],
    trusted: [],
    badCrc: new Set(),
    taken: new Set(),
    slotBytes: [],
    keep: new Map(),
    rebuild,
    newStores: false,
    dropped: false,
    rebuildNorms: false,
  };
  st.colls.set(id, c);
  // root
  const rootOk = Number.isSafeInteger(rec.rootIno) && rec.rootIno >= 1 && rec.rootIno <= ctx.sb.inodeCount;
  const root = rootOk ? ensureInode(ctx, rec.rootIno) : undefined;
  const rd = root?.usable ? root.d! : undefined;
  if (!rd || root!.type !== S_IFDIR || !(rd.flags & IFL_COLL_ROOT) || rd.collId !== id) {
    const is = rd
      ? ` (it is a ${typeName(root!.type)} with ${
        rd.flags & IFL_COLL_ROOT ? `COLL_ROOT for collection ${rd.collId}` : "no COLL_ROOT flag"
      })`
      : "";
    const remark = !!rd && root!.type === S_IFDIR && !(rd.flags & IFL_COLL_ROOT);
    const detail = `The collection's root_ino ${rec.rootIno} is not a directory marked as the root of collection ` +
      `${id}${is}.`;
    if (remark) {
      if (ctx.ask("COLL_ROOT", { where, detail, fix: "Mark the directory as the collection's root" })) {
        rd.flags |= IFL_COLL_ROOT;
        rd.collId = id;
        rd.flags &= ~IFL_HAS_VECTOR;
        rd.vecSlot = 0;
        root!.dirty = true;
      }
    } else if (ctx.ask("COLL_ROOT", { where, detail, fix: "Drop the collection" })) {
      drop(c);
      return c;
    }
  }
  // internal files
  const internal = (ino: number, role: string): InodeInfo | undefined => {
    const other = claimedBy.get(ino);
    const valid = Number.isSafeInteger(ino) && ino >= FIRST_INO && ino <= ctx.sb.inodeCount && other === undefined;
    const t = valid ? ensureInode(ctx, ino) : undefined;
    if (t) t.otherRefs++;
    if (!t || !t.usable || t.type !== S_IFREG || !(t.d!.flags & IFL_INTERNAL)) {
      const is = !valid
        ? other !== undefined ? `already used by collection ${other}` : "not a valid inode number"
        : !t!.usable
        ? (t!.cleared ? "cleared (it was damaged)" : t!.inBitmap ? `damaged (${t!.why})` : "free")
        : `a ${typeName(t!.type)}${t!.d!.flags & IFL_INTERNAL ? "" : " without the INTERNAL flag"}`;
      if (
        ctx.ask("COLL_INTERNAL", {
          where,
          detail: `The ${role} inode ${ino} is ${is}; the collection's vectors cannot be trusted.`,
        })
      ) {
        c.newStores = true;
        c.rebuild = true;
      }
      return t?.usable && t.type === S_IFREG && valid ? t : undefined;
    }
    claimedBy.set(ino, id);
    ctx.internalRole.set(ino, `${role} of collection ${id}`);
    return t;
  };
  c.vec = internal(rec.vecIno, "vector data");
  c.map = internal(rec.mapIno, "slot map");
  if (rec.normIno) {
    const n = internal(rec.normIno, "norms");
    if (n && (n.d!.flags & IFL_INTERNAL) && ctx.internalRole.has(n.ino)) c.norms = n;
    else c.rebuildNorms = true;
  }
  // The HNSW graph is derived data (FORMAT.md §8.6): a file that is not a usable internal file is
  // forgotten and the engine builds the graph again from the store.
  if (rec.hnswIno) {
    const g = ensureInode(ctx, rec.hnswIno);
    if (g?.usable && g.type === S_IFREG && (g.d!.flags & IFL_INTERNAL) && claimedBy.get(g.ino) === undefined) {
      g.otherRefs++;
      claimedBy.set(g.ino, id);
      ctx.internalRole.set(g.ino, `HNSW graph of collection ${id}`);
      checkGraph(ctx, rec, g, where, st);
    } else if (ctx.ask("COLL_RECORD_FIELDS", { where, fields: `HNSW graph inode ${rec.hnswIno} is not usable` })) {
      rec.hnswIno = 0;
      st.tableDirty = true;
    }
  }
  // The BM25 index (FORMAT.md §8.7) is derived data too: an unusable file is forgotten and rebuilt.
  if (rec.bm25Ino) {
    const t = ensureInode(ctx, rec.bm25Ino);
    if (t?.usable && t.type === S_IFREG && (t.d!.flags & IFL_INTERNAL) && claimedBy.get(t.ino) === undefined) {
      t.otherRefs++;
      claimedBy.set(t.ino, id);
      ctx.internalRole.set(t.ino, `BM25 index of collection ${id}`);
      c.bm25 = t; // checked once every collection is known (checkTextIndexes)
    } else if (ctx.ask("COLL_RECORD_FIELDS", { where, fields: `BM25 index inode ${rec.bm25Ino} is not usable` })) {
      rec.bm25Ino = 0;
      st.tableDirty = true;
    }
  }
  if (c.newStores) {
    // fresh stores replace both; an old one that was sane is then unused and freed
    for (const t of [c.vec, c.map]) if (t && claimedBy.get(t.ino) === id) ctx.internalRole.delete(t.ino);
    c.vec = c.map = undefined;
    return c;
  }
  const per = slotsPerBlock(ctx.bs);
  let count = Math.min(rec.count, ctx.sb.inodeCount);
  if (!csumOk) {
    count = Math.min(
      count,
      Math.floor((c.vec?.d?.size ?? 0) / stride),
      Math.floor((c.map?.d?.size ?? 0) / ctx.bs) * per,
    );
  }
  c.count = count;
  const vec = c.vec;
  const map = c.map;
  if (vec && vec.d!.size !== rec.count * stride) {
    if (ctx.ask("COLL_VEC_SIZE", { where, size: vec.d!.size, count: rec.count, stride, want: rec.count * stride })) {
      c.rebuild = true;
    }
  }
  if (map && map.d!.size !== Math.ceil(rec.count / per) * ctx.bs) {
    if (
      ctx.ask("COLL_MAP_SIZE", {
        where,
        detail: `The slot map is ${map.d!.size} bytes but ${rec.count} slots need exactly ${
          Math.ceil(rec.count / per) * ctx.bs
        }.`,
      })
    ) c.rebuild = true;
  }
  if (map) checkSlotMap(ctx, c, map);
  ctx.slotOwners.set(id, c.owners);
  checkSlots(ctx, c);
  if (vec) checkVectors(ctx, c, vec);
  if (c.norms) checkNorms(ctx, c, vec, where);
  return c;
}

/**
 * The BM25 index files (./text_index.ts). A damaged or inconsistent one is
 * dropped as a damaged HNSW graph is: `bm25_ino` 0 (the flag and parameters
 * stay) and the file freed; the engine builds a new one from the files when
 * the collection is next used. One that needs verifying after an unclean
 * shutdown is made stale (text generation bumped) for the engine to catch up.
 */
function checkTextIndexes(ctx: FsckContext, st: State): void {
  let members: Map<number, number[]> | undefined;
  for (const c of st.colls.values()) {
    const t = c.bm25;
    if (c.dropped || !t || !(c.rec.flags & COLL_INDEX_BM25) || c.rec.bm25Ino !== t.ino) continue;
    const r = checkTextIndex(ctx, c.rec, t, () => (members ??= textMembers(ctx)).get(c.id) ?? []);
    if (r === "drop") {
      c.rec.bm25Ino = 0;
      st.tableDirty = true;
      ctx.internalRole.delete(t.ino);
      clearInode(ctx, t, "cleared: a damaged BM25 index (the engine rebuilds it)");
    } else if (r === "stale") {
      c.rec.textGeneration++;
      st.tableDirty = true;
    }
  }
}

/** Forgets a record's BM25 index: flag, inode and fields (the engine builds a new one when asked). */
function dropBm25(rec: CollectionRecord): void {
  rec.flags &= ~COLL_INDEX_BM25;
  rec.bm25Ino =
    rec.textGeneration =
    rec.bm25K1 =
    rec.bm25B =
    rec.bm25MaxFile =
    rec.bm25Analyzer =
    rec.bm25Stemmer =
    rec.bm25Stopwords =
      0;
  rec.bm25Lang = "";
}

/**
 * The HNSW graph file (FORMAT.md §8.6): every block's checksum and the
 * graph's own consistency (HnswGraph.check). The graph is derived data, so
 * the repair drops it and the engine rebuilds it; a graph that is only
 * behind the store is reported for the record (the engine catches it up).
 */
function checkGraph(ctx: FsckContext, rec: CollectionRecord, g: InodeInfo, where: string, st: State): void {
  if (!(rec.flags & COLL_INDEX_HNSW)) return;
  let file: Uint8Array;
  try {
    file = readFile(ctx, g, 0, g.d!.size);
  } catch (e) {
    ctx.note("READ_ERROR", { where, what: "The HNSW graph", err: errText(e) });
    return;
  }
  let graph: HnswGraph;
  try {
    graph = HnswGraph.decode(file, hnswParamsOf(rec, ctx.bs), { lenient: true });
  } catch (e) {
    // No usable header: a write of the whole file cut short (or the header block damaged).
    ctx.ask("HNSW_INCOMPLETE", { where, detail: errText(e) });
    return;
  }
  let problems: string[];
  try {
    const m = graph.matches;
    if (m.generation !== rec.generation || m.count !== rec.count) {
      // Blocks may be from a write in progress when the header was not yet rewritten (FORMAT.md §8.6):
      // nothing is wrong, the engine drops what fails and catches up.
      ctx.ask("HNSW_BEHIND", { where, graph: m.generation, store: rec.generation });
      return;
    }
    // The header says the graph is complete for this generation: every block must check.
    problems = [...graph.decodeProblems, ...graph.check()];
  } catch (e) {
    problems = [errText(e)];
  } finally {
    graph.free();
  }
  if (problems.length && ctx.ask("HNSW_DAMAGED", { where, detail: problems.slice(0, 3).join("; ") })) {
    rec.hnswIno = 0;
    st.tableDirty = true;
    ctx.internalRole.delete(g.ino);
    clearInode(ctx, g, "cleared: a damaged HNSW graph (the engine rebuilds it)");
  }
}

/** The norms file against the store (FORMAT.md §8.5): its size, and each slot's norm recomputed. */
function checkNorms(ctx: FsckContext, c: Coll, vec: InodeInfo | undefined, where: string): void {
  const t = c.norms!;
  const count = c.count;
  if (t.d!.size !== count * 4) {
    if (
      ctx.ask("NORMS_WRONG", {
        where,
        detail: `The norms file is ${t.d!.size} bytes; ${count} slots need ${count * 4}`,
      })
    ) {
      c.rebuildNorms = true;
    }
    return;
  }
  if (!vec || count === 0) return;
  const elem = ELEM_TYPES[c.rec.elemType - 1];
  let norms: Uint8Array, bytes: Uint8Array;
  try {
    norms = readFile(ctx, t, 0, count * 4);
    bytes = readFile(ctx, vec, 0, Math.min(count * c.stride, vec.d!.size));
  } catch (e) {
    ctx.note("READ_ERROR", { where, what: "The norms", err: errText(e) });
    return;
  }
  const dv = new DataView(norms.buffer, norms.byteOffset, norms.length);
  let bad = 0, first = -1;
  for (let s = 0; s < count && (s + 1) * c.stride <= bytes.length; s++) {
    if (c.badCrc.has(s)) continue;
    const want = vectorNorm(bytes.subarray(s * c.stride, (s + 1) * c.stride), elem, c.rec.dim);
    if (!Object.is(dv.getFloat32(s * 4, true), want)) {
      bad++;
      if (first < 0) first = s;
    }
  }
  if (
    bad &&
    ctx.ask("NORMS_WRONG", { where, detail: `${bad} stored norm(s) differ from their vectors (first: slot ${first})` })
  ) {
    c.rebuildNorms = true;
  }
}

/** Clears the COLL_ROOT flag of a dropped collection's root (repairs only). */
function unmarkRoot(ctx: FsckContext, rootIno: number, id: number): void {
  const root = ctx.infos.get(rootIno);
  if (root?.usable && (root.d!.flags & IFL_COLL_ROOT) && root.d!.collId === id) {
    root.d!.flags &= ~IFL_COLL_ROOT;
    root.d!.collId = 0;
    root.dirty = true;
  }
}

function checkSlotMap(ctx: FsckContext, c: Coll, map: InodeInfo): void {
  const bs = ctx.bs;
  const per = slotsPerBlock(bs);
  const id = c.id;
  const nblk = Math.ceil(c.count / per);
  for (let b = 0; b < nblk; b++) {
    const where = `collection ${id} slot map block ${b}`;
    const n = Math.min(per, c.count - b * per);
    const p = bmap(map, b);
    if (p === null) {
      if (
        ctx.ask("COLL_MAP_SIZE", {
          where,
          detail: `The slot-map block for slots ${b * per}..${b * per + n - 1} is missing (a hole); those vectors ` +
            "have no owners.",
        })
      ) c.rebuild = true;
      continue;
    }
    let buf: Uint8Array;
    try {
      buf = ctx.readBlock(p);
    } catch (e) {
      ctx.note("READ_ERROR", { where, what: `Block ${p}`, err: errText(e) });
      continue;
    }
    const trusted = blockChecksumOk(buf, id);
    if (!trusted) {
      if (ctx.ask("SLOTMAP_CHECKSUM", { where: `${where} (device block ${p})`, from: b * per, to: b * per + n - 1 })) {
        c.rebuild = true;
      }
    }
    const dv = new DataView(buf.buffer);
    for (let i = 0; i < n; i++) {
      const o = i * SLOT_ENTRY_SIZE;
      const s = b * per + i;
      const v = dv.getBigUint64(o, true);
      c.owners[s] = v > BigInt(Number.MAX_SAFE_INTEGER) ? 0 : Number(v);
      c.crcs[s] = dv.getUint32(o + 8, true);
      c.trusted[s] = trusted;
      if (trusted && dv.getUint32(o + 12, true) !== 1) {
        if (
          ctx.ask("SLOT_OWNER", {
            where: `collection ${id} slot ${s}`,
            detail: `The slot-map entry has flags ${
              hex(dv.getUint32(o + 12, true))
            } but slots below the count must be marked in use (0x1).`,
            fix: "Rewrite the slot map",
          })
        ) c.rebuild = true;
      }
    }
    if (trusted && buf.subarray(n * SLOT_ENTRY_SIZE, bs - 4).some((x) => x !== 0)) {
      if (ctx.ask("SLOTMAP_TAIL", { where: `${where} (device block ${p})`, n })) c.rebuild = true;
    }
  }
}

/** Whether file `o` owns slot `s` of `c` as the slot map says (its fields point back). */
function pointsBack(ctx: FsckContext, c: Coll, o: number, s: number): InodeInfo | undefined {
  const t = o >= FIRST_INO && o <= ctx.sb.inodeCount ? ctx.infos.get(o) : undefined;
  const td = t?.usable ? t.d! : undefined;
  if (
    !t || !td || t.type !== S_IFREG || (td.flags & IFL_INTERNAL) || !(td.flags & IFL_HAS_VECTOR) ||
    td.collId !== c.id || td.vecSlot !== s
  ) return undefined;
  return t;
}

function checkSlots(ctx: FsckContext, c: Coll): void {
  const ownerSlot = new Map<number, number>();
  for (let s = 0; s < c.owners.length; s++) {
    const o = c.owners[s];
    if (o === undefined || !c.trusted[s]) continue;
    const sw = `collection ${c.id} slot ${s}`;
    if (ownerSlot.has(o)) {
      if (ctx.ask("SLOT_DUPLICATE", { where: sw, owner: o, a: ownerSlot.get(o)!, b: s })) c.rebuild = true;
      continue;
    }
    ownerSlot.set(o, s);
    const t = o >= FIRST_INO && o <= ctx.sb.inodeCount ? ensureInode(ctx, o) : undefined;
    if (pointsBack(ctx, c, o, s)) continue;
    const td = t?.usable ? t.d! : undefined;
    const why = !t
      ? "not a valid inode number"
      : !td
      ? (t.cleared ? "cleared" : t.inBitmap ? `damaged (${t.why})` : "free")
      : t.type !== S_IFREG || (td.flags & IFL_INTERNAL)
      ? `a ${td.flags & IFL_INTERNAL ? "internal file" : typeName(t.type)}`
      : !(td.flags & IFL_HAS_VECTOR)
      ? "a file without the HAS_VECTOR flag"
      : `a file whose vector is in collection ${td.collId} slot ${td.vecSlot}`;
    if (t?.cleared && t.why?.startsWith("freed")) {
      // an orphan this run freed: its slot goes with the rebuild, nothing to report
      c.rebuild = true;
      continue;
    }
    if (
      ctx.ask("SLOT_OWNER", {
        where: sw,
        detail: `The slot's owner, inode ${o}, is ${why}.`,
      })
    ) c.rebuild = true;
  }
}

function checkVectors(ctx: FsckContext, c: Coll, vec: InodeInfo): void {
  const stride = c.stride;
  const count = Math.min(c.count, c.crcs.length);
  const perRead = Math.max(1, Math.floor((1 << 20) / stride));
  for (let s0 = 0; s0 < count; s0 += perRead) {
    const n = Math.min(perRead, count - s0);
    let bytes: Uint8Array;
    try {
      bytes = readFile(ctx, vec, s0 * stride, n * stride);
    } catch (e) {
      ctx.note("READ_ERROR", {
        where: `collection ${c.id} slots ${s0}..${s0 + n - 1}`,
        what: "The vectors",
        err: errText(e),
      });
      continue;
    }
    for (let k = 0; k < n; k++) {
      const s = s0 + k;
      const v = bytes.subarray(k * stride, (k + 1) * stride);
      if ((s + 1) * stride <= vec.d!.size && ctx.repairing) c.slotBytes[s] = v.slice();
      if (c.crcs[s] === undefined || !c.trusted[s]) continue;
      if (crc32c(v) === c.crcs[s]) continue;
      const owner = pointsBack(ctx, c, c.owners[s], s);
      if (!owner) continue; // SLOT_OWNER said it
      c.badCrc.add(s);
      if (
        ctx.ask("VECTOR_CHECKSUM", { where: `collection ${c.id} slot ${s}`, file: { ino: owner.ino }, off: s * stride })
      ) {
        dropVector(owner);
        c.rebuild = true;
      }
    }
  }
}

/** Clears a file's vector fields in the model. */
function dropVector(t: InodeInfo): void {
  const d = t.d!;
  d.flags &= ~IFL_HAS_VECTOR;
  d.collId = 0;
  d.vecSlot = 0;
  t.dirty = true;
}

/**
 * Repairs: writes the norms file of `c` from its vectors (FORMAT.md §8.5),
 * creating it when it is missing or unusable, and bumps the generation so an
 * HNSW graph built on the old state is caught up.
 */
function rewriteNorms(ctx: FsckContext, c: Coll, vecBytes: Uint8Array, count: number): void {
  if (!c.norms) {
    const ino = ctx.allocInodeNumber();
    if (ino === null) {
      c.rec.normIno = 0; // readers compute norms when the file is absent
      return;
    }
    c.norms = newInode(ctx, ino, S_IFREG | 0o600, IFL_INTERNAL, 0, 0);
    ctx.internalRole.set(ino, `norms of collection ${c.id}`);
    c.rec.normIno = ino;
  }
  const elem = ELEM_TYPES[c.rec.elemType - 1];
  const out = new Uint8Array(count * 4);
  const dv = new DataView(out.buffer);
  for (let s = 0; s < count; s++) {
    dv.setFloat32(s * 4, vectorNorm(vecBytes.subarray(s * c.stride, (s + 1) * c.stride), elem, c.rec.dim), true);
  }
  writeFileContent(ctx, c.norms, out);
  c.rec.generation++;
  STATE.get(ctx)!.tableDirty = true;
}

/** Collections whose root lies inside another collection (walking up the tree of first links). */
function checkNesting(ctx: FsckContext, st: State): void {
  for (const c of st.colls.values()) {
    if (c.dropped) continue;
    for (let cur = ctx.tree.get(c.rec.rootIno)?.dir, guard = 0; cur && guard < 4096; guard++) {
      const up = ctx.infos.get(cur);
      const outer = up?.usable && (up.d!.flags & IFL_COLL_ROOT) ? st.colls.get(up.d!.collId) : undefined;
      if (outer && !outer.dropped && outer.rec.rootIno === cur) {
        if (
          ctx.ask("COLL_NESTED", {
            ino: c.rec.rootIno,
            id: c.id,
            outer: outer.id,
            outerRoot: cur,
          })
        ) {
          c.dropped = true;
          st.tableDirty = true;
          unmarkRoot(ctx, c.rec.rootIno, c.id);
          for (const t of [c.vec, c.map]) if (t) ctx.internalRole.delete(t.ino);
        }
        break;
      }
      if (cur === ROOT_INO) break;
      cur = ctx.tree.get(cur)?.dir;
    }
  }
}

/** Every inode's view of the collections: vectors, COLL_ROOT flags, internal files. */
function checkInodes(ctx: FsckContext, st: State): void {
  const live = (id: number) => {
    const c = st.colls.get(id);
    return c && !c.dropped ? c : undefined;
  };
  const infos = [...ctx.infos.values()].filter((i) => i.usable).sort((a, b) => a.ino - b.ino);
  for (const info of infos) {
    const d = info.d!;
    if ((d.flags & IFL_HAS_VECTOR) && info.type === S_IFREG && !(d.flags & IFL_INTERNAL)) {
      const c = live(d.collId);
      const s = d.vecSlot;
      if (c && c.badCrc.has(s) && c.owners[s] === info.ino) continue; // VECTOR_CHECKSUM said it
      let detail: string | undefined;
      if (!c) {
        detail = `The file claims a vector in collection ${d.collId}, which does not exist.`;
      } else if (c.newStores) {
        detail = `The file's vector was in collection ${c.id}'s store, which is unusable.`;
      } else if (s >= c.count) {
        detail = `The file claims the vector in collection ${c.id} slot ${s}, but that slot does not exist ` +
          `(${c.count} slots).`;
      } else if (c.taken.has(s) || (c.trusted[s] && c.owners[s] !== info.ino)) {
        detail = `The file claims the vector in collection ${c.id} slot ${s}, but that slot belongs to inode ${
          c.owners[s]
        }.`;
      } else if (ctx.repairing && !c.slotBytes[s]) {
        detail = `The file's vector in collection ${c.id} slot ${s} lies beyond the end of the vector store.`;
      }
      if (detail !== undefined) {
        if (ctx.ask("VECTOR_ORPHAN", { ino: info.ino, detail })) {
          dropVector(info);
          if (c) c.rebuild = true;
        }
      } else {
        c!.taken.add(s);
        if (ctx.repairing) c!.keep.set(info.ino, { bytes: c!.slotBytes[s]!, slot: s });
      }
    }
    if ((d.flags & IFL_COLL_ROOT) && info.type === S_IFDIR) {
      const c = live(d.collId);
      if (!c || c.rec.rootIno !== info.ino) {
        if (
          ctx.ask("COLL_ROOT", {
            ino: info.ino,
            detail: `The directory is marked as the root of collection ${d.collId}, but ${
              c ? `that collection's root is inode ${c.rec.rootIno}` : "no such collection exists"
            }.`,
            fix: "Clear the COLL_ROOT flag",
          })
        ) {
          d.flags &= ~IFL_COLL_ROOT;
          d.collId = 0;
          info.dirty = true;
        }
      }
    }
    // an internal file on the orphan list is being freed (FORMAT.md §5.4): the list claims it
    if ((d.flags & IFL_INTERNAL) && !ctx.internalRole.has(info.ino) && !info.onOrphanList) {
      if (ctx.ask("INTERNAL_UNCLAIMED", { ino: info.ino })) clearInode(ctx, info, "cleared: unused internal file");
    }
  }
}

/**
 * Repairs: rewrites the stores of every collection that needs it from the
 * files that keep their vectors, creates fresh stores where the old ones were
 * unusable, and rewrites the collection table and `coll_count`.
 * @throws RepairError when the filesystem is full
 */
export function writeCollections(ctx: FsckContext): void {
  const st = STATE.get(ctx);
  if (!st) return;
  const bs = ctx.bs;
  let changed = st.tableDirty;
  for (const c of st.colls.values()) {
    if (c.dropped) {
      changed = true;
      continue;
    }
    if (!c.rebuild && !c.newStores && !ctx.collRebuild.has(c.id)) {
      if (c.rebuildNorms && c.vec) {
        rewriteNorms(ctx, c, readFile(ctx, c.vec, 0, c.rec.count * c.stride), c.rec.count);
        changed = true;
      }
      continue;
    }
    changed = true;
    if (c.newStores || !c.vec || !c.map) {
      for (const role of ["vector data", "slot map"] as const) {
        const ino = ctx.allocInodeNumber();
        if (ino === null) {
          ctx.note("REPAIR_FAILED", {
            where: `collection ${c.id}`,
            what: `The stores of collection ${c.id}`,
            err: "no free inode is left; the collection is dropped",
          });
          c.dropped = true;
          unmarkRoot(ctx, c.rec.rootIno, c.id);
          break;
        }
        const t = newInode(ctx, ino, S_IFREG | 0o600, IFL_INTERNAL, 0, 0);
        ctx.internalRole.set(ino, `${role} of collection ${c.id}`);
        if (role === "vector data") c.vec = t;
        else c.map = t;
      }
      if (c.dropped) continue;
      c.rec.vecIno = c.vec!.ino;
      c.rec.mapIno = c.map!.ino;
    }
    const files = [...c.keep.entries()]
      .filter(([ino]) => {
        const t = ctx.infos.get(ino);
        return t?.usable && (t.d!.flags & IFL_HAS_VECTOR) && t.d!.collId === c.id;
      })
      .sort((a, b) => a[1].slot - b[1].slot || a[0] - b[0]);
    const vecBytes = new Uint8Array(files.length * c.stride);
    const entries = files.map(([ino, v], i) => {
      vecBytes.set(v.bytes, i * c.stride);
      const t = ctx.infos.get(ino)!;
      if (t.d!.vecSlot !== i) {
        t.d!.vecSlot = i;
        t.dirty = true;
      }
      return { ino, vecCrc: crc32c(v.bytes) };
    });
    const per = slotsPerBlock(bs);
    const nblk = Math.ceil(entries.length / per);
    const mapBytes = new Uint8Array(nblk * bs);
    for (let b = 0; b < nblk; b++) {
      mapBytes.set(encodeSlotBlock(entries.slice(b * per, (b + 1) * per), bs, c.id), b * bs);
    }
    writeFileContent(ctx, c.vec!, vecBytes);
    writeFileContent(ctx, c.map!, mapBytes);
    if (c.rec.normIno || c.rebuildNorms) rewriteNorms(ctx, c, vecBytes, files.length);
    c.rec.count = files.length;
    c.rec.generation++;
  }
  if (!changed) return;
  const kept = [...st.colls.values()].filter((c) => !c.dropped);
  const maxId = kept.reduce((a, c) => Math.max(a, c.id), 0);
  const content = new Uint8Array(maxId * COLL_RECORD_SIZE);
  for (const c of kept) {
    encodeCollection(c.rec, content.subarray((c.id - 1) * COLL_RECORD_SIZE, c.id * COLL_RECORD_SIZE));
  }
  const table = ctx.infos.get(COLL_TABLE_INO);
  if (table?.usable) writeFileContent(ctx, table, content);
  if (ctx.sb.collCount !== kept.length) {
    ctx.sb.collCount = kept.length;
    ctx.sbDirty = true;
  }
  ctx.stats.collections = kept.length;
  ctx.stats.vectors = kept.reduce((a, c) => a + c.rec.count, 0);
}
