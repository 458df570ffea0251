/**
 * Encoders and decoders of the filesystem, vector and collection ioctls
 * (docs/IOCTL.md §3.1–3.10): FS_INFO, SET/GET/DEL_VECTOR,
 * CREATE_COLLECTION, COLLECTION_INFO, INO_PATH, LIST_COLLECTIONS and the
 * SET_VECTORS batch. Conventions are abi.ts's; callers import from abi.ts.
 * @module
 */
import { FsError } from "../errors.ts";
import type { CollectionInfo, CollectionParams } from "../fs/vectors.ts";
import { ELEM_CODE, type ElemType, type Metric, METRIC_CODE } from "../vector/types.ts";
import {
  batchMax,
  COLLECTION,
  COLLECTION_INFO,
  CREATE_COLLECTION,
  DEL_VECTOR,
  FS_INFO,
  HDR,
  INO_PATH,
  LIST_COLLECTIONS,
  SET_VECTORS,
  VECTOR,
  VEXFS_INDEX_FLAT,
  VEXFS_INDEX_HNSW,
  VEXFS_IOC_BATCH_CHECK,
  VEXFS_IOC_FS_RDONLY,
  VEXFS_IOC_LABEL_MAX,
  VEXFS_IOC_LIST_MAX,
  VEXFS_IOC_MAX_DIM,
  VEXFS_IOC_PATH_MAX,
} from "./abi_layout.ts";
import {
  checkDim,
  checkHeader,
  checkZero,
  checkZeroFields,
  dec,
  elemOfCode,
  enc,
  getF32s,
  getU64,
  getU64Exact,
  LITTLE,
  metricOfCode,
  newStruct,
  putF32s,
  readCollection,
  setU16,
  setU32,
  setU64,
  type U64,
  view,
  writeCollection,
} from "./abi_codec.ts";
// ------------------------------------------------------------ FS_INFO

/** Contents of `struct vexfs_ioc_fs_info`. */
export interface FsInfo {
  /** on-disk format version (FORMAT.md), e.g. 1.0 */
  formatMajor: number;
  formatMinor: number;
  /** bytes */
  blockSize: number;
  blockCount: number;
  freeBlocks: number;
  inodeCount: number;
  freeInodes: number;
  collectionCount: number;
  /** largest collection dimension (4096) */
  maxDim: number;
  /** largest dimension through an ioctl (2048) */
  iocMaxDim: number;
  /** largest search k through an ioctl (256) */
  iocMaxK: number;
  featureCompat: number;
  featureIncompat: number;
  featureRoCompat: number;
  /** mounted read-only */
  readOnly: boolean;
  /** 16 bytes */
  uuid: Uint8Array;
  /** at most 63 bytes of UTF-8 */
  label: string;
}

/**
 * Builds the reply of {@linkcode VEXFS_IOC_FS_INFO}.
 * @returns {@linkcode FS_INFO}`.size` bytes
 * @throws RangeError for a uuid that is not 16 bytes; FsError EIO for a
 *   count that is not a u64 (or u32); a label longer than 63 bytes is cut
 *   at a character boundary
 */
export function encodeFsInfo(i: FsInfo): Uint8Array {
  const b = newStruct(FS_INFO);
  const dv = view(b);
  const o = FS_INFO.off;
  dv.setUint16(o.format_major, i.formatMajor, true);
  dv.setUint16(o.format_minor, i.formatMinor, true);
  const f = (name: string) => `${FS_INFO.cName}.${name}`;
  setU32(dv, o.block_size, i.blockSize, f("block_size"), "EIO");
  setU64(dv, o.block_count, i.blockCount, f("block_count"), "EIO");
  setU64(dv, o.free_blocks, i.freeBlocks, f("free_blocks"), "EIO");
  setU64(dv, o.inode_count, i.inodeCount, f("inode_count"), "EIO");
  setU64(dv, o.free_inodes, i.freeInodes, f("free_inodes"), "EIO");
  setU32(dv, o.collection_count, i.collectionCount, f("collection_count"), "EIO");
  setU32(dv, o.max_dim, i.maxDim, f("max_dim"), "EIO");
  setU32(dv, o.ioc_max_dim, i.iocMaxDim, f("ioc_max_dim"), "EIO");
  setU32(dv, o.ioc_max_k, i.iocMaxK, f("ioc_max_k"), "EIO");
  setU32(dv, o.feature_compat, i.featureCompat, f("feature_compat"), "EIO");
  setU32(dv, o.feature_incompat, i.featureIncompat, f("feature_incompat"), "EIO");
  setU32(dv, o.feature_ro_compat, i.featureRoCompat, f("feature_ro_compat"), "EIO");
  setU32(dv, o.fs_flags, i.readOnly ? VEXFS_IOC_FS_RDONLY : 0, f("fs_flags"), "EIO");
  if (i.uuid.length !== 16) throw new RangeError(`uuid has ${i.uuid.length} bytes, 16 expected`);
  b.set(i.uuid, o.uuid);
  let label = i.label;
  while (enc.encode(label).length > VEXFS_IOC_LABEL_MAX - 1) label = [...label].slice(0, -1).join("");
  b.set(enc.encode(label), o.label);
  return b;
}

/**
 * Reads the reply of {@linkcode VEXFS_IOC_FS_INFO}.
 * @throws FsError EIO if `b` is not a VexFS v1 `struct vexfs_ioc_fs_info`,
 *   or a count is above 2^53 - 1
 */
export function decodeFsInfo(b: Uint8Array): FsInfo {
  checkHeader(b, FS_INFO, "EIO");
  const dv = view(b);
  const o = FS_INFO.off;
  const label = b.subarray(o.label, o.label + VEXFS_IOC_LABEL_MAX);
  const nul = label.indexOf(0);
  return {
    formatMajor: dv.getUint16(o.format_major, true),
    formatMinor: dv.getUint16(o.format_minor, true),
    blockSize: dv.getUint32(o.block_size, true),
    blockCount: getU64(dv, o.block_count, `${FS_INFO.cName}.block_count`),
    freeBlocks: getU64(dv, o.free_blocks, `${FS_INFO.cName}.free_blocks`),
    inodeCount: getU64(dv, o.inode_count, `${FS_INFO.cName}.inode_count`),
    freeInodes: getU64(dv, o.free_inodes, `${FS_INFO.cName}.free_inodes`),
    collectionCount: dv.getUint32(o.collection_count, true),
    maxDim: dv.getUint32(o.max_dim, true),
    iocMaxDim: dv.getUint32(o.ioc_max_dim, true),
    iocMaxK: dv.getUint32(o.ioc_max_k, true),
    featureCompat: dv.getUint32(o.feature_compat, true),
    featureIncompat: dv.getUint32(o.feature_incompat, true),
    featureRoCompat: dv.getUint32(o.feature_ro_compat, true),
    readOnly: (dv.getUint32(o.fs_flags, true) & VEXFS_IOC_FS_RDONLY) !== 0,
    uuid: b.slice(o.uuid, o.uuid + 16),
    label: dec.decode(nul < 0 ? label : label.subarray(0, nul)),
  };
}

// ------------------------------------------------------------ vectors

/** A stored vector as {@linkcode VEXFS_IOC_GET_VECTOR} returns it. */
export interface StoredVector {
  /** Float32Array of length dim (decoded from the collection's element type) */
  vector: Float32Array;
  collectionId: number;
  metric: Metric;
  elem: ElemType;
}

/**
 * Builds the request of {@linkcode VEXFS_IOC_SET_VECTOR}.
 * @param v Float32Array of length 1..2048 ({@linkcode VEXFS_IOC_MAX_DIM})
 * @throws FsError EINVAL for an empty or too long vector
 */
export function encodeSetVector(v: Float32Array): Uint8Array {
  checkDim(v.length, "vector length", "EINVAL");
  const b = newStruct(VECTOR);
  const dv = view(b);
  dv.setUint32(VECTOR.off.dim, v.length, true);
  putF32s(dv, VECTOR.off.data, v);
  return b;
}

/**
 * Reads and checks the request of {@linkcode VEXFS_IOC_SET_VECTOR}.
 * Values are not checked (the engine refuses NaN, infinities and values
 * out of range for the element type).
 * @returns Float32Array of length `dim`
 * @throws FsError EINVAL: bad header, dim out of 1..2048, non-zero
 *   collection_id/metric/elem_type/reserved or elements past dim
 */
export function decodeSetVector(b: Uint8Array): Float32Array {
  checkHeader(b, VECTOR);
  const dv = view(b);
  const dim = dv.getUint32(VECTOR.off.dim, true);
  checkDim(dim, "dim", "EINVAL");
  checkZeroFields(b, VECTOR, ["collection_id", "metric", "elem_type", "reserved0", "reserved1"], "EINVAL");
  checkZero(b, VECTOR.off.data + 4 * dim, 4 * (VEXFS_IOC_MAX_DIM - dim), `data past dim ${dim}`, "EINVAL");
  return getF32s(dv, VECTOR.off.data, dim);
}

/** Builds the request of {@linkcode VEXFS_IOC_GET_VECTOR}: the header, all else zero. */
export function encodeGetVector(): Uint8Array {
  return newStruct(VECTOR);
}

/**
 * Checks the request of {@linkcode VEXFS_IOC_GET_VECTOR}: header only, everything else zero.
 * @throws FsError EINVAL
 */
export function decodeGetVector(b: Uint8Array): void {
  checkHeader(b, VECTOR);
  checkZero(b, HDR.size, VECTOR.size - HDR.size, `${VECTOR.cName} after the header`, "EINVAL");
}

/**
 * Builds the reply of {@linkcode VEXFS_IOC_GET_VECTOR}.
 * @param s `vector`: Float32Array of length 1..2048 (the server refuses wider
 *   vectors with EOVERFLOW before encoding)
 * @throws FsError EINVAL if the vector is empty or wider than 2048
 */
export function encodeGetVectorReply(s: StoredVector): Uint8Array {
  checkDim(s.vector.length, "vector length", "EINVAL");
  const b = newStruct(VECTOR);
  const dv = view(b);
  const o = VECTOR.off;
  dv.setUint32(o.dim, s.vector.length, true);
  setU32(dv, o.collection_id, s.collectionId, "collection_id", "EIO");
  dv.setUint8(o.metric, METRIC_CODE[s.metric]);
  dv.setUint8(o.elem_type, ELEM_CODE[s.elem]);
  putF32s(dv, o.data, s.vector);
  return b;
}

/**
 * Reads the reply of {@linkcode VEXFS_IOC_GET_VECTOR}.
 * @throws FsError EIO if `b` is not a valid reply
 */
export function decodeGetVectorReply(b: Uint8Array): StoredVector {
  checkHeader(b, VECTOR, "EIO");
  const dv = view(b);
  const o = VECTOR.off;
  const dim = dv.getUint32(o.dim, true);
  checkDim(dim, "dim", "EIO");
  return {
    vector: getF32s(dv, o.data, dim),
    collectionId: dv.getUint32(o.collection_id, true),
    metric: metricOfCode(dv.getUint8(o.metric), "EIO"),
    elem: elemOfCode(dv.getUint8(o.elem_type), "EIO"),
  };
}

/** Builds the request of {@linkcode VEXFS_IOC_DEL_VECTOR} (the header alone). */
export function encodeDelVector(): Uint8Array {
  return newStruct(DEL_VECTOR);
}

/**
 * Checks the request of {@linkcode VEXFS_IOC_DEL_VECTOR}.
 * @throws FsError EINVAL
 */
export function decodeDelVector(b: Uint8Array): void {
  checkHeader(b, DEL_VECTOR);
}

// ------------------------------------------------------------ collections

/**
 * Builds the request of {@linkcode VEXFS_IOC_CREATE_COLLECTION}.
 * @param p dim (checked by the filesystem: 1..4096), metric, element type
 * @throws FsError EINVAL if dim is not a u32
 */
export function encodeCreateCollection(p: CollectionParams): Uint8Array {
  const b = newStruct(CREATE_COLLECTION);
  const dv = view(b);
  const o = CREATE_COLLECTION.off;
  setU32(dv, o.dim, p.dim, "dim", "EINVAL");
  dv.setUint8(o.metric, METRIC_CODE[p.metric]);
  dv.setUint8(o.elem_type, ELEM_CODE[p.elem]);
  dv.setUint8(o.index, p.index === undefined ? 0 : p.index === "flat" ? VEXFS_INDEX_FLAT : VEXFS_INDEX_HNSW);
  setU16(dv, o.hnsw_m, p.m ?? 0, "hnsw_m");
  setU16(dv, o.hnsw_ef_c, p.efConstruction ?? 0, "hnsw_ef_c");
  setU32(dv, o.ef_search, p.efSearch ?? 0, "ef_search", "EINVAL");
  return b;
}

/**
 * Reads and checks the request of {@linkcode VEXFS_IOC_CREATE_COLLECTION}.
 * `dim` is passed through unchecked (the engine checks 1..4096).
 * @throws FsError EINVAL: bad header, unknown metric or element code,
 *   non-zero reserved or info
 */
export function decodeCreateCollection(b: Uint8Array): CollectionParams {
  checkHeader(b, CREATE_COLLECTION);
  const dv = view(b);
  const o = CREATE_COLLECTION.off;
  checkZeroFields(b, CREATE_COLLECTION, ["reserved0", "info"], "EINVAL");
  const index = dv.getUint8(o.index);
  if (index > VEXFS_INDEX_HNSW) {
    throw new FsError(
      "EINVAL",
      `unknown index code ${index} (0 default, ${VEXFS_INDEX_FLAT} flat, ${VEXFS_INDEX_HNSW} HNSW)`,
    );
  }
  const m = dv.getUint16(o.hnsw_m, true);
  const efc = dv.getUint16(o.hnsw_ef_c, true);
  return {
    dim: dv.getUint32(o.dim, true),
    metric: metricOfCode(dv.getUint8(o.metric)),
    elem: elemOfCode(dv.getUint8(o.elem_type)),
    ...(index ? { index: index === VEXFS_INDEX_FLAT ? "flat" as const : "hnsw" as const } : {}),
    ...(m ? { m } : {}),
    ...(efc ? { efConstruction: efc } : {}),
    ...(dv.getUint32(o.ef_search, true) ? { efSearch: dv.getUint32(o.ef_search, true) } : {}),
  };
}

/**
 * Builds the reply of {@linkcode VEXFS_IOC_CREATE_COLLECTION}: the request's
 * fields echoed, `info` filled.
 */
export function encodeCreateCollectionReply(p: CollectionParams, info: CollectionInfo): Uint8Array {
  const b = encodeCreateCollection(p);
  writeCollection(view(b), CREATE_COLLECTION.off.info, info);
  return b;
}

/**
 * Reads the reply of {@linkcode VEXFS_IOC_CREATE_COLLECTION}.
 * @throws FsError EIO if `b` is not a valid reply
 */
export function decodeCreateCollectionReply(b: Uint8Array): CollectionInfo {
  checkHeader(b, CREATE_COLLECTION, "EIO");
  return readCollection(view(b), CREATE_COLLECTION.off.info);
}

/** Builds the request of {@linkcode VEXFS_IOC_COLLECTION_INFO} (header, rest zero). */
export function encodeCollectionInfo(): Uint8Array {
  return newStruct(COLLECTION_INFO);
}

/**
 * Checks the request of {@linkcode VEXFS_IOC_COLLECTION_INFO}.
 * @throws FsError EINVAL: bad header, non-zero info
 */
export function decodeCollectionInfo(b: Uint8Array): void {
  checkHeader(b, COLLECTION_INFO);
  checkZeroFields(b, COLLECTION_INFO, ["info"], "EINVAL");
}

/** Builds the reply of {@linkcode VEXFS_IOC_COLLECTION_INFO}. */
export function encodeCollectionInfoReply(info: CollectionInfo): Uint8Array {
  const b = newStruct(COLLECTION_INFO);
  writeCollection(view(b), COLLECTION_INFO.off.info, info);
  return b;
}

/**
 * Reads the reply of {@linkcode VEXFS_IOC_COLLECTION_INFO}.
 * @throws FsError EIO if `b` is not a valid reply
 */
export function decodeCollectionInfoReply(b: Uint8Array): CollectionInfo {
  checkHeader(b, COLLECTION_INFO, "EIO");
  return readCollection(view(b), COLLECTION_INFO.off.info);
}

// ------------------------------------------------------------ INO_PATH

/**
 * Builds the request of {@linkcode VEXFS_IOC_INO_PATH}.
 * @param ino inode number (≥ 1), any u64
 * @throws FsError EINVAL if `ino` is not a u64
 */
export function encodeInoPath(ino: U64): Uint8Array {
  const b = newStruct(INO_PATH);
  setU64(view(b), INO_PATH.off.ino, ino, "ino", "EINVAL");
  return b;
}

/**
 * Reads and checks the request of {@linkcode VEXFS_IOC_INO_PATH}.
 * @returns the inode number, exactly: a bigint above 2^53 - 1 (no inode has such a number)
 * @throws FsError EINVAL: bad header, non-zero len, reserved or path
 */
export function decodeInoPath(b: Uint8Array): U64 {
  checkHeader(b, INO_PATH);
  checkZeroFields(b, INO_PATH, ["len", "reserved0", "path"], "EINVAL");
  return getU64Exact(view(b), INO_PATH.off.ino);
}

/**
 * Builds the reply of {@linkcode VEXFS_IOC_INO_PATH}.
 * @param path path bytes without NUL, at most 4095
 * @throws FsError ENAMETOOLONG if the path does not fit
 */
export function encodeInoPathReply(ino: U64, path: Uint8Array): Uint8Array {
  if (path.length > VEXFS_IOC_PATH_MAX - 1) {
    throw new FsError(
      "ENAMETOOLONG",
      `the path of inode ${ino} is ${path.length} bytes; at most ${VEXFS_IOC_PATH_MAX - 1} fit in the ioctl`,
    );
  }
  const b = encodeInoPath(ino);
  view(b).setUint32(INO_PATH.off.len, path.length, true);
  b.set(path, INO_PATH.off.path);
  return b;
}

/**
 * Reads the reply of {@linkcode VEXFS_IOC_INO_PATH}.
 * @returns the path relative to the directory (UTF-8 decoded; invalid bytes become U+FFFD)
 * @throws FsError EIO if `b` is not a valid reply
 */
export function decodeInoPathReply(b: Uint8Array): string {
  checkHeader(b, INO_PATH, "EIO");
  const len = view(b).getUint32(INO_PATH.off.len, true);
  const o = INO_PATH.off.path;
  if (len > VEXFS_IOC_PATH_MAX - 1 || b[o + len] !== 0) {
    throw new FsError("EIO", `ino path reply has len ${len} without a NUL after it`);
  }
  return dec.decode(b.subarray(o, o + len));
}

// ------------------------------------------------------------ LIST_COLLECTIONS

/** The output of {@linkcode VEXFS_IOC_LIST_COLLECTIONS}. */
export interface CollectionPage {
  /** at most {@linkcode VEXFS_IOC_LIST_MAX}, ascending id, all with id ≥ the request's start id */
  collections: CollectionInfo[];
  /** start id of the next call; 0 when this page ends the list */
  nextId: number;
  /** collections in the filesystem when the call was served */
  total: number;
}

/**
 * Builds the request of {@linkcode VEXFS_IOC_LIST_COLLECTIONS}.
 * @param startId list collections with id ≥ this (0 or 1: from the first), a u32
 * @throws FsError EINVAL if `startId` is not a u32
 */
export function encodeListCollections(startId = 0): Uint8Array {
  const b = newStruct(LIST_COLLECTIONS);
  setU32(view(b), LIST_COLLECTIONS.off.start_id, startId, "start_id", "EINVAL");
  return b;
}

/**
 * Reads and checks the request of {@linkcode VEXFS_IOC_LIST_COLLECTIONS}.
 * @returns the start id
 * @throws FsError EINVAL: bad header, non-zero output fields
 */
export function decodeListCollections(b: Uint8Array): number {
  checkHeader(b, LIST_COLLECTIONS);
  checkZeroFields(b, LIST_COLLECTIONS, ["count", "next_id", "total", "entries"], "EINVAL");
  return view(b).getUint32(LIST_COLLECTIONS.off.start_id, true);
}

/**
 * Builds the reply of {@linkcode VEXFS_IOC_LIST_COLLECTIONS}: the start id
 * echoed, the page filled.
 * @throws RangeError if the page holds more than 64 collections
 */
export function encodeListCollectionsReply(startId: number, page: CollectionPage): Uint8Array {
  if (page.collections.length > VEXFS_IOC_LIST_MAX) {
    throw new RangeError(`${page.collections.length} collections in one page, at most ${VEXFS_IOC_LIST_MAX}`);
  }
  const b = encodeListCollections(startId);
  const dv = view(b);
  const o = LIST_COLLECTIONS.off;
  dv.setUint32(o.count, page.collections.length, true);
  setU32(dv, o.next_id, page.nextId, "next_id", "EIO");
  setU32(dv, o.total, page.total, "total", "EIO");
  page.collections.forEach((c, i) => writeCollection(dv, o.entries + i * COLLECTION.size, c));
  return b;
}

/**
 * Reads the reply of {@linkcode VEXFS_IOC_LIST_COLLECTIONS}.
 * @throws FsError EIO if `b` is not a valid reply (bad header, count > 64,
 *   ids not ascending or below the start id, a next id on an empty page or
 *   not past the page's last id)
 */
export function decodeListCollectionsReply(b: Uint8Array): CollectionPage {
  checkHeader(b, LIST_COLLECTIONS, "EIO");
  const dv = view(b);
  const o = LIST_COLLECTIONS.off;
  const start = dv.getUint32(o.start_id, true);
  const count = dv.getUint32(o.count, true);
  const nextId = dv.getUint32(o.next_id, true);
  if (count > VEXFS_IOC_LIST_MAX) throw new FsError("EIO", `collection list reply has count ${count}`);
  const collections: CollectionInfo[] = [];
  let last = start > 0 ? start - 1 : 0;
  for (let i = 0; i < count; i++) {
    const c = readCollection(dv, o.entries + i * COLLECTION.size);
    if (c.id <= last) throw new FsError("EIO", `collection list reply: id ${c.id} after ${last}`);
    collections.push(c);
    last = c.id;
  }
  if (nextId !== 0 && (count === 0 || nextId <= last)) {
    // (so that a caller paging with next_id always moves forward)
    throw new FsError("EIO", `collection list reply: next id ${nextId} after ${count} entries ending at ${last}`);
  }
  return { collections, nextId, total: dv.getUint32(o.total, true) };
}

// ------------------------------------------------------------ SET_VECTORS

/** One item of {@linkcode VEXFS_IOC_SET_VECTORS}: a file named by inode number and its vector. */
export interface BatchItem {
  /** the file's inode number (`st_ino`); any u64 (a bigint above 2^53 - 1 names no inode) */
  ino: U64;
  /** Float32Array of the call's dimension */
  vector: Float32Array;
}

/** The input of {@linkcode VEXFS_IOC_SET_VECTORS}. */
export interface SetVectorsRequest {
  /** dimension of every vector, 1..2048 */
  dim: number;
  /** 1..{@linkcode batchMax}(dim) items */
  items: BatchItem[];
  /** {@linkcode VEXFS_IOC_BATCH_CHECK}: check only, set nothing */
  check: boolean;
}

/**
 * Builds the request of {@linkcode VEXFS_IOC_SET_VECTORS}: the inodes at
 * `data[0]`, then the vectors at `data[8 * count]`.
 * @param items 1..{@linkcode batchMax}(dim) files and vectors, all of one dimension 1..2048
 * @param opts `check`: ask the filesystem to check the items and set none
 * @throws FsError EINVAL: no items, too many for the dimension, vectors of
 *   different lengths or a length out of 1..2048, an inode that is not a u64
 */
export function encodeSetVectors(items: readonly BatchItem[], opts: { check?: boolean } = {}): Uint8Array {
  if (items.length === 0) throw new FsError("EINVAL", "a SET_VECTORS call needs at least one item");
  const dim = items[0].vector.length;
  checkDim(dim, "vector length", "EINVAL");
  const max = batchMax(dim);
  if (items.length > max) {
    throw new FsError(
      "EINVAL",
      `${items.length} items of ${dim} dimensions; at most ${max} fit in one SET_VECTORS call`,
    );
  }
  const b = newStruct(SET_VECTORS);
  const dv = view(b);
  const o = SET_VECTORS.off;
  dv.setUint32(o.dim, dim, true);
  dv.setUint32(o.count, items.length, true);
  if (opts.check) dv.setUint32(o.flags, VEXFS_IOC_BATCH_CHECK, true);
  const vecs = o.data + 8 * items.length;
  const f32 = LITTLE ? new Float32Array(b.buffer, b.byteOffset + vecs, items.length * dim) : null;
  items.forEach((it, i) => {
    if (it.vector.length !== dim) {
      throw new FsError("EINVAL", `item ${i}: vector has ${it.vector.length} elements, item 0 has ${dim}`);
    }
    setU64(dv, o.data + 8 * i, it.ino, `item ${i} ino`, "EINVAL");
    if (f32) f32.set(it.vector, i * dim);
    else putF32s(dv, vecs + 4 * i * dim, it.vector);
  });
  return b;
}

/**
 * Reads and checks the request of {@linkcode VEXFS_IOC_SET_VECTORS}.
 * Vector values are not checked (the engine refuses NaN, infinities and
 * values out of range for the element type); inode numbers are exact (a
 * bigint above 2^53 - 1).
 * @throws FsError EINVAL: bad header, dim out of 1..2048, count 0 or above
 *   {@linkcode batchMax}(dim), unknown flags, non-zero reserved field or
 *   bytes past the items
 */
export function decodeSetVectors(b: Uint8Array): SetVectorsRequest {
  checkHeader(b, SET_VECTORS);
  const dv = view(b);
  const o = SET_VECTORS.off;
  const dim = dv.getUint32(o.dim, true);
  checkDim(dim, "dim", "EINVAL");
  const count = dv.getUint32(o.count, true);
  const max = batchMax(dim);
  if (count < 1 || count > max) {
    throw new FsError("EINVAL", `count = ${count} is out of range (1..${max} items of ${dim} dimensions)`);
  }
  const flags = dv.getUint32(o.flags, true);
  if (flags & ~VEXFS_IOC_BATCH_CHECK) {
    throw new FsError("EINVAL", `flags = 0x${flags.toString(16)}; only VEXFS_IOC_BATCH_CHECK (0x1) is defined`);
  }
  checkZeroFields(b, SET_VECTORS, ["reserved"], "EINVAL");
  const end = o.data + 8 * count + 4 * count * dim;
  checkZero(b, end, b.length - end, `data past ${count} items`, "EINVAL");
  const items: BatchItem[] = [];
  const vecs = o.data + 8 * count;
  for (let i = 0; i < count; i++) {
    const at = vecs + 4 * i * dim;
    const vector = LITTLE
      ? new Float32Array(b.buffer.slice(b.byteOffset + at, b.byteOffset + at + 4 * dim))
      : getF32s(dv, at, dim);
    items.push({ ino: getU64Exact(dv, o.data + 8 * i), vector });
  }
  return { dim, items, check: (flags & VEXFS_IOC_BATCH_CHECK) !== 0 };
}
