/**
 * The VexFS vector ioctl ABI: the TypeScript mirror of
 * `kernel/vexfs_ioctl.h` (described in docs/IOCTL.md). Every structure has
 * `hdr.version` 1 but {@linkcode SEARCH2}, the second layout of the search,
 * whose is 2 ({@linkcode structVersion}).
 *
 * - Command numbers are computed with {@linkcode ioc} exactly like the
 *   `_IOC` macro of Linux `include/uapi/asm-generic/ioctl.h` (the encoding
 *   of x86-64, arm64 and riscv: nr bits 0-7, type 8-15, size 16-29,
 *   direction 30-31); they are unsigned 32-bit `number`s, usable as the
 *   `cmd` FUSE hands to the daemon and as the request of `ioctl(2)`.
 * - Every structure is a {@linkcode StructLayout}: `sizeof` and the
 *   `[offset, size]` of every member. `abi_test.ts` compiles a C probe
 *   against the header and checks every number here.
 * - Every command is a "restricted" ioctl (Linux `fs/fuse/ioctl.c`): one
 *   fixed-size structure, no user pointers, at most 16383 bytes.
 * - `encode*` functions build a structure's bytes; `decode*` functions
 *   check and read them. Byte order is little-endian (the CPU order on
 *   every supported platform). Request decoders throw `FsError("EINVAL")`
 *   naming the offending field; reply decoders throw `FsError("EIO")`
 *   (a reply that is not a VexFS v1 structure is a protocol error).
 * - u64 fields: the inode numbers a caller passes in (`exclude_ino` of
 *   SEARCH, `ino` of INO_PATH) round-trip exactly as a {@linkcode U64}
 *   (a `bigint` above 2^53 - 1, which no VexFS inode reaches); the u64
 *   fields of replies decode to `number`s, and a value above 2^53 - 1,
 *   which a `number` cannot hold exactly, is `FsError("EIO")`. Encoders
 *   never throw a RangeError for a field value: a value that is not a u64
 *   (or u32) is `FsError("EINVAL")` in a request and `FsError("EIO")` in a
 *   reply, naming the field.
 *
 * @example
 * ```ts
 * import { decodeSearchReply, encodeSearch, VEXFS_IOC_SEARCH } from "./abi.ts";
 * const req = encodeSearch({ k: 10, query: new Float32Array(384), excludeIno: 0 });
 * // ioctl(fd, VEXFS_IOC_SEARCH, req) fills req in place; then:
 * // const { hits } = decodeSearchReply(req);
 * ```
 * @module
 */
import { defineStruct, type StructLayout } from "../struct_layout.ts";
import { ERRNO, type ErrnoName, FsError } from "../errors.ts";
import type { CollectionInfo, CollectionParams, IndexStats, SearchMethod } from "../fs/vectors.ts";
import { ELEM_CODE, ELEM_TYPES, elemSize, type ElemType, type Metric, METRIC_CODE, METRICS } from "../vector/types.ts";

// ------------------------------------------------------------ _IOC encoding

/** `_IOC_NONE`: no data transfer. */
export const IOC_NONE = 0;
/** `_IOC_WRITE`: userspace writes, the filesystem reads (`_IOW`). */
export const IOC_WRITE = 1;
/** `_IOC_READ`: the filesystem writes, userspace reads (`_IOR`). */
export const IOC_READ = 2;
/** Largest `_IOC_SIZE` (14 bits): 16383 bytes. */
export const IOC_SIZE_MAX = (1 << 14) - 1;

/**
 * `_IOC(dir, type, nr, size)` of `include/uapi/asm-generic/ioctl.h`.
 * @param dir {@linkcode IOC_NONE}, {@linkcode IOC_WRITE}, {@linkcode IOC_READ} or both
 * @param type the type byte, 0..255
 * @param nr the command's sequence number, 0..255
 * @param size bytes of the argument structure, 0..16383
 * @returns the command number as an unsigned 32-bit integer
 * @throws RangeError if a part does not fit its bit field
 */
export function ioc(dir: number, type: number, nr: number, size: number): number {
  const fits = (v: number, bits: number) => Number.isInteger(v) && v >= 0 && v < 2 ** bits;
  if (!fits(dir, 2) || !fits(type, 8) || !fits(nr, 8) || !fits(size, 14)) {
    throw new RangeError(`_IOC(${dir}, ${type}, ${nr}, ${size}): a field is out of range`);
  }
  return ((dir << 30) | (size << 16) | (type << 8) | nr) >>> 0;
}

/** `_IOR(type, nr, size)`: the filesystem fills `size` bytes. */
export function ior(type: number, nr: number, size: number): number {
  return ioc(IOC_READ, type, nr, size);
}

/** `_IOW(type, nr, size)`: the filesystem reads `size` bytes. */
export function iow(type: number, nr: number, size: number): number {
  return ioc(IOC_WRITE, type, nr, size);
}

/** `_IOWR(type, nr, size)`: `size` bytes go in and come back. */
export function iowr(type: number, nr: number, size: number): number {
  return ioc(IOC_READ | IOC_WRITE, type, nr, size);
}

/** `_IOC_DIR(cmd)`: {@linkcode IOC_READ} / {@linkcode IOC_WRITE} bits. */
export function iocDir(cmd: number): number {
  return (cmd >>> 30) & 3;
}

/** `_IOC_TYPE(cmd)`: the type byte. */
export function iocType(cmd: number): number {
  return (cmd >>> 8) & 0xff;
}

/** `_IOC_NR(cmd)`: the sequence number. */
export function iocNr(cmd: number): number {
  return cmd & 0xff;
}

/** `_IOC_SIZE(cmd)`: bytes of the argument structure. */
export function iocSize(cmd: number): number {
  return (cmd >>> 16) & IOC_SIZE_MAX;
}

// ------------------------------------------------------------ constants

/** ioctl type byte of VexFS (`VEXFS_IOC_TYPE`): 0xE7, see docs/IOCTL.md §1. */
export const VEXFS_IOC_TYPE = 0xe7;
/** `hdr.magic` of every structure: the bytes "VXIO" read as a little-endian u32. */
export const VEXFS_IOC_MAGIC = 0x4f495856;
/** `hdr.version` of every structure but {@linkcode SEARCH2}. */
export const VEXFS_IOC_VERSION = 1;
/** `hdr.version` of `struct vexfs_ioc_search2` ({@linkcode SEARCH2}): the search's second layout (docs/IOCTL.md §6). */
export const VEXFS_IOC_SEARCH2_VERSION = 2;
/** Largest vector dimension an ioctl carries (wider vectors: the `user.vexfs.vector` xattr). */
export const VEXFS_IOC_MAX_DIM = 2048;
/** Largest dimension of a collection (FORMAT.md §8). */
export const VEXFS_MAX_DIM = 4096;
/** Largest `k` of {@linkcode VEXFS_IOC_SEARCH}. */
export const VEXFS_IOC_MAX_K = 256;
/** Bytes of `vexfs_ioc_ino_path.path`, including the terminating NUL. */
export const VEXFS_IOC_PATH_MAX = 4096;
/** Bytes of `vexfs_ioc_fs_info.label`, including the terminating NUL. */
export const VEXFS_IOC_LABEL_MAX = 64;
/** Entries of `vexfs_ioc_list_collections.entries`: collections per {@linkcode VEXFS_IOC_LIST_COLLECTIONS} call. */
export const VEXFS_IOC_LIST_MAX = 64;
/** `vexfs_ioc_fs_info.fs_flags`: the filesystem is mounted read-only. */
export const VEXFS_IOC_FS_RDONLY = 0x1;
/** Bytes of `vexfs_ioc_set_vectors.data`: the inodes and vectors of a {@linkcode VEXFS_IOC_SET_VECTORS} call. */
export const VEXFS_IOC_BATCH_DATA = 16344;
/** `vexfs_ioc_set_vectors.flags`: check every item as a real call would, and set none. */
export const VEXFS_IOC_BATCH_CHECK = 0x1;
/** Largest `ef` of {@linkcode VEXFS_IOC_SEARCH2} (the engine's limit too). */
export const VEXFS_IOC_MAX_EF = 65535;
/** `vexfs_ioc_search2.flags`: scan exactly, whatever the collection's index. */
export const VEXFS_IOC_SEARCH2_EXACT = 0x1;
/** `vexfs_ioc_search2.method`: a scan of the stored vectors answered. */
export const VEXFS_SEARCH_METHOD_EXACT = 1;
/** `vexfs_ioc_search2.method`: the HNSW graph answered. */
export const VEXFS_SEARCH_METHOD_HNSW = 2;
/** `vexfs_ioc_search2.exact_reason`: the collection has no HNSW index. */
export const VEXFS_EXACT_FLAT = 1;
/** `vexfs_ioc_search2.exact_reason`: the caller asked for an exact scan ({@linkcode VEXFS_IOC_SEARCH2_EXACT}). */
export const VEXFS_EXACT_ASKED = 2;
/** `vexfs_ioc_search2.exact_reason`: the collection is small enough that a scan is as fast (only with ef 0). */
export const VEXFS_EXACT_SMALL = 3;
/** `vexfs_ioc_search2.exact_reason`: the directory's subtree holds few of the collection's vectors. */
export const VEXFS_EXACT_SUBTREE = 4;
/** `vexfs_ioc_search2.exact_reason`: k is at least the number of vectors. */
export const VEXFS_EXACT_FEW = 5;
/** `vexfs_ioc_search2.exact_reason`: the HNSW graph on disk is far behind the vectors (not caught up for a search). */
export const VEXFS_EXACT_STALE = 6;
/** `vexfs_ioc_search2.exact_reason`: another reason (a reader takes unknown codes as this one). */
export const VEXFS_EXACT_OTHER = 255;
/** `vexfs_ioc_index.op`: build the HNSW graph from scratch. */
export const VEXFS_INDEX_OP_BUILD = 1;
/** `vexfs_ioc_index.op`: drop the graph (the collection becomes flat). */
export const VEXFS_INDEX_OP_DROP = 2;
/** `vexfs_ioc_index.op`: rebuild the graph without deleted or free nodes. */
export const VEXFS_INDEX_OP_OPTIMIZE = 3;
/** `vexfs_ioc_index.op`: change nothing, report. */
export const VEXFS_INDEX_OP_STATS = 4;
/** Entries of `vexfs_ioc_index.levels` (the graph's levels 0..31). */
export const VEXFS_IOC_INDEX_LEVELS = 32;
/** Bytes of `vexfs_ioc_index.note`, including the terminating NUL. */
export const VEXFS_IOC_NOTE_MAX = 128;

/**
 * `VEXFS_IOC_BATCH_MAX(dim)`: the most items of dimension `dim` one
 * {@linkcode VEXFS_IOC_SET_VECTORS} call carries (a u64 inode and `dim`
 * f32 each): 31 at 128, 10 at 384, 1 at 2048.
 * @param dim 1..2048
 */
export function batchMax(dim: number): number {
  return Math.floor(VEXFS_IOC_BATCH_DATA / (8 + 4 * dim));
}
/** The extended attribute that carries a file's vector as raw stored elements (docs/IOCTL.md §5). */
export const VECTOR_XATTR = "user.vexfs.vector";

// ------------------------------------------------------------ layouts

export type { StructLayout };
const struct = defineStruct;

/** Prefixes the members of an embedded structure with `name.`. */
function embed<P extends string, F extends string>(
  name: P,
  at: number,
  inner: StructLayout<F>,
): { [K in `${P}.${F}`]: readonly [number, number] } {
  const out: Record<string, readonly [number, number]> = {};
  for (const [k, [o, s]] of Object.entries(inner.fields) as [string, readonly [number, number]][]) {
    out[`${name}.${k}`] = [at + o, s];
  }
  return out as { [K in `${P}.${F}`]: readonly [number, number] };
}

/** `struct vexfs_ioc_hdr` (16 bytes): the common header of every structure. */
export const HDR = struct("struct vexfs_ioc_hdr", 16, {
  magic: [0, 4],
  version: [4, 2],
  size: [6, 2],
  flags: [8, 4],
  reserved: [12, 4],
});

/** `struct vexfs_ioc_fs_info` (192 bytes), output of {@linkcode VEXFS_IOC_FS_INFO}. */
export const FS_INFO = struct("struct vexfs_ioc_fs_info", 192, {
  ...embed("hdr", 0, HDR),
  format_major: [16, 2],
  format_minor: [18, 2],
  block_size: [20, 4],
  block_count: [24, 8],
  free_blocks: [32, 8],
  inode_count: [40, 8],
  free_inodes: [48, 8],
  collection_count: [56, 4],
  max_dim: [60, 4],
  ioc_max_dim: [64, 4],
  ioc_max_k: [68, 4],
  feature_compat: [72, 4],
  feature_incompat: [76, 4],
  feature_ro_compat: [80, 4],
  fs_flags: [84, 4],
  uuid: [88, 16],
  label: [104, 64],
  reserved: [168, 24],
});

/** `struct vexfs_ioc_vector` (8224 bytes) of {@linkcode VEXFS_IOC_SET_VECTOR} and {@linkcode VEXFS_IOC_GET_VECTOR}. */
export const VECTOR = struct("struct vexfs_ioc_vector", 8224, {
  ...embed("hdr", 0, HDR),
  dim: [16, 4],
  collection_id: [20, 4],
  metric: [24, 1],
  elem_type: [25, 1],
  reserved0: [26, 2],
  reserved1: [28, 4],
  data: [32, 4 * VEXFS_IOC_MAX_DIM],
});

/** `struct vexfs_ioc_del_vector` (16 bytes, the header alone) of {@linkcode VEXFS_IOC_DEL_VECTOR}. */
export const DEL_VECTOR = struct("struct vexfs_ioc_del_vector", 16, {
  ...embed("hdr", 0, HDR),
});

/** `index` of `struct vexfs_ioc_collection`: exact scans only. */
export const VEXFS_INDEX_FLAT = 1;
/** `index` of `struct vexfs_ioc_collection`: an HNSW graph (FORMAT.md §8.6). */
export const VEXFS_INDEX_HNSW = 2;

/** `struct vexfs_ioc_collection` (64 bytes): one collection, embedded in the collection commands. */
export const COLLECTION = struct("struct vexfs_ioc_collection", 64, {
  id: [0, 4],
  dim: [4, 4],
  root_ino: [8, 8],
  metric: [16, 1],
  elem_type: [17, 1],
  elem_size: [18, 2],
  hnsw_m: [20, 2],
  hnsw_ef_c: [22, 2],
  count: [24, 8],
  bytes: [32, 8],
  generation: [40, 8],
  created: [48, 8],
  ef_search: [56, 4],
  index: [60, 1],
  reserved1: [61, 3],
});

/** `struct vexfs_ioc_create_collection` (96 bytes) of {@linkcode VEXFS_IOC_CREATE_COLLECTION}. */
export const CREATE_COLLECTION = struct("struct vexfs_ioc_create_collection", 96, {
  ...embed("hdr", 0, HDR),
  dim: [16, 4],
  metric: [20, 1],
  elem_type: [21, 1],
  index: [22, 1],
  reserved0: [23, 1],
  hnsw_m: [24, 2],
  hnsw_ef_c: [26, 2],
  ef_search: [28, 4],
  info: [32, 64],
  ...embed("info", 32, COLLECTION),
});

/** `struct vexfs_ioc_collection_info` (80 bytes) of {@linkcode VEXFS_IOC_COLLECTION_INFO}. */
export const COLLECTION_INFO = struct("struct vexfs_ioc_collection_info", 80, {
  ...embed("hdr", 0, HDR),
  info: [16, 64],
  ...embed("info", 16, COLLECTION),
});

/** `struct vexfs_ioc_search_hit` (16 bytes): one search result. */
export const SEARCH_HIT = struct("struct vexfs_ioc_search_hit", 16, {
  ino: [0, 8],
  score: [8, 4],
  reserved: [12, 4],
});

/** `struct vexfs_ioc_search` (12344 bytes) of {@linkcode VEXFS_IOC_SEARCH}. */
export const SEARCH = struct("struct vexfs_ioc_search", 12344, {
  ...embed("hdr", 0, HDR),
  k: [16, 4],
  dim: [20, 4],
  exclude_ino: [24, 8],
  count: [32, 4],
  collection_id: [36, 4],
  generation: [40, 8],
  metric: [48, 1],
  elem_type: [49, 1],
  reserved0: [50, 2],
  reserved1: [52, 4],
  query: [56, 4 * VEXFS_IOC_MAX_DIM],
  hits: [56 + 4 * VEXFS_IOC_MAX_DIM, SEARCH_HIT.size * VEXFS_IOC_MAX_K],
});

/** `struct vexfs_ioc_ino_path` (4128 bytes) of {@linkcode VEXFS_IOC_INO_PATH}. */
export const INO_PATH = struct("struct vexfs_ioc_ino_path", 4128, {
  ...embed("hdr", 0, HDR),
  ino: [16, 8],
  len: [24, 4],
  reserved0: [28, 4],
  path: [32, VEXFS_IOC_PATH_MAX],
});

/** `struct vexfs_ioc_list_collections` (4128 bytes) of {@linkcode VEXFS_IOC_LIST_COLLECTIONS}. */
export const LIST_COLLECTIONS = struct("struct vexfs_ioc_list_collections", 32 + 64 * VEXFS_IOC_LIST_MAX, {
  ...embed("hdr", 0, HDR),
  start_id: [16, 4],
  count: [20, 4],
  next_id: [24, 4],
  total: [28, 4],
  entries: [32, COLLECTION.size * VEXFS_IOC_LIST_MAX],
});

/** `struct vexfs_ioc_set_vectors` (16376 bytes) of {@linkcode VEXFS_IOC_SET_VECTORS}. */
export const SET_VECTORS = struct("struct vexfs_ioc_set_vectors", 32 + VEXFS_IOC_BATCH_DATA, {
  ...embed("hdr", 0, HDR),
  dim: [16, 4],
  count: [20, 4],
  flags: [24, 4],
  reserved: [28, 4],
  data: [32, VEXFS_IOC_BATCH_DATA],
});

/**
 * `struct vexfs_ioc_search2` (12360 bytes, `hdr.version` 2) of
 * {@linkcode VEXFS_IOC_SEARCH2}: the fields of {@linkcode SEARCH} at the
 * same offsets, then `ef`, `flags`, `method`, `exact_reason`, `ef_used`.
 */
export const SEARCH2 = struct("struct vexfs_ioc_search2", 12360, {
  ...embed("hdr", 0, HDR),
  k: [16, 4],
  dim: [20, 4],
  exclude_ino: [24, 8],
  count: [32, 4],
  collection_id: [36, 4],
  generation: [40, 8],
  metric: [48, 1],
  elem_type: [49, 1],
  reserved0: [50, 2],
  reserved1: [52, 4],
  ef: [56, 4],
  flags: [60, 4],
  method: [64, 1],
  exact_reason: [65, 1],
  reserved2: [66, 2],
  ef_used: [68, 4],
  query: [72, 4 * VEXFS_IOC_MAX_DIM],
  hits: [72 + 4 * VEXFS_IOC_MAX_DIM, SEARCH_HIT.size * VEXFS_IOC_MAX_K],
});

/** `struct vexfs_ioc_index` (448 bytes) of {@linkcode VEXFS_IOC_INDEX}: an operation in, the index's figures out. */
export const INDEX = struct("struct vexfs_ioc_index", 448, {
  ...embed("hdr", 0, HDR),
  op: [16, 4],
  m: [20, 4],
  ef_construction: [24, 4],
  reserved0: [28, 4],
  collection_id: [32, 4],
  index: [36, 1],
  current: [37, 1],
  metric: [38, 1],
  elem_type: [39, 1],
  generation: [40, 8],
  file_bytes: [48, 8],
  bytes: [56, 8],
  memory_bytes: [64, 8],
  build_us: [72, 8],
  distances: [80, 8],
  hops: [88, 8],
  nodes: [96, 4],
  deleted: [100, 4],
  free: [104, 4],
  node_count: [108, 4],
  upper_count: [112, 4],
  reclaimed: [116, 4],
  inserts_since_build: [120, 4],
  ef_search: [124, 4],
  hnsw_m: [128, 2],
  hnsw_m0: [130, 2],
  hnsw_ef_c: [132, 2],
  max_level: [134, 1],
  level_count: [135, 1],
  dim: [136, 4],
  entry: [140, 4],
  levels: [144, 4 * VEXFS_IOC_INDEX_LEVELS],
  note: [272, VEXFS_IOC_NOTE_MAX],
  reserved1: [400, 48],
});

/** Entries of `vexfs_ioc_stats.ops`: one per FUSE opcode 0..63 (src/stats/fuse_stats.ts). */
export const VEXFS_STATS_OPS = 64;
/** Entries of `vexfs_ioc_stats.errnos`: errors by errno, the last valid one (err 0) for every other errno. */
export const VEXFS_STATS_ERRNOS = 32;
/** Entries of `vexfs_ioc_stats.op_errnos`: errors by operation and errno, most frequent first. */
export const VEXFS_STATS_OP_ERRNOS = 128;
/** `vexfs_ioc_stats.stats_flags`: the daemon keeps no request counters (`VEXFS_STATS=off`); those fields are 0. */
export const VEXFS_STATS_REQUESTS_OFF = 0x1;

/** `struct vexfs_ioc_stats_op` (56 bytes): one operation's requests, errors and latency. */
export const STATS_OP = struct("struct vexfs_ioc_stats_op", 56, {
  requests: [0, 8],
  errors: [8, 8],
  total_ns: [16, 8],
  p50_ns: [24, 8],
  p90_ns: [32, 8],
  p99_ns: [40, 8],
  max_ns: [48, 8],
});

/** `struct vexfs_ioc_stats_errno` (16 bytes): errors with one errno (err 0: every errno without an entry). */
export const STATS_ERRNO = struct("struct vexfs_ioc_stats_errno", 16, {
  err: [0, 4],
  reserved: [4, 4],
  count: [8, 8],
});

/** `struct vexfs_ioc_stats_op_errno` (16 bytes): errors of one operation with one errno (err 0: other errnos). */
export const STATS_OP_ERRNO = struct("struct vexfs_ioc_stats_op_errno", 16, {
  opcode: [0, 4],
  err: [4, 4],
  count: [8, 8],
});

/** `struct vexfs_ioc_stats` (6528 bytes), output of {@linkcode VEXFS_IOC_STATS}: the daemon's counters since the mount. */
export const STATS = struct(
  "struct vexfs_ioc_stats",
  384 + 56 * VEXFS_STATS_OPS + 16 * VEXFS_STATS_ERRNOS + 16 * VEXFS_STATS_OP_ERRNOS,
  {
    ...embed("hdr", 0, HDR),
    uptime_ns: [16, 8],
    mount_time: [24, 8],
    requests: [32, 8],
    errors: [40, 8],
    bytes_read: [48, 8],
    bytes_written: [56, 8],
    block_cache_hits: [64, 8],
    block_cache_misses: [72, 8],
    inode_cache_hits: [80, 8],
    inode_cache_misses: [88, 8],
    journal_commits: [96, 8],
    journal_blocks: [104, 8],
    journal_revokes: [112, 8],
    journal_checkpoints: [120, 8],
    searches: [128, 8],
    search_total_ns: [136, 8],
    search_p50_ns: [144, 8],
    search_p90_ns: [152, 8],
    search_p99_ns: [160, 8],
    search_max_ns: [168, 8],
    vectors_set: [176, 8],
    vectors_deleted: [184, 8],
    fs_state: [192, 2],
    fs_errors: [194, 2],
    error_count: [196, 4],
    first_error_errno: [200, 4],
    last_error_errno: [204, 4],
    first_error_time: [208, 8],
    first_error_ino: [216, 8],
    last_error_time: [224, 8],
    last_error_ino: [232, 8],
    first_error_op: [240, 32],
    last_error_op: [272, 32],
    stats_flags: [304, 4],
    op_count: [308, 4],
    errno_count: [312, 4],
    op_errno_count: [316, 4],
    op_errno_other: [320, 8],
    xattr_cache_hits: [328, 8],
    xattr_cache_misses: [336, 8],
    reserved: [344, 40],
    ops: [384, 56 * VEXFS_STATS_OPS],
    errnos: [384 + 56 * VEXFS_STATS_OPS, 16 * VEXFS_STATS_ERRNOS],
    op_errnos: [384 + 56 * VEXFS_STATS_OPS + 16 * VEXFS_STATS_ERRNOS, 16 * VEXFS_STATS_OP_ERRNOS],
  },
);

/** `struct vexfs_ioc_drop_collection` (48 bytes) of {@linkcode VEXFS_IOC_DROP_COLLECTION}. */
export const DROP_COLLECTION = struct("struct vexfs_ioc_drop_collection", 48, {
  ...embed("hdr", 0, HDR),
  collection_id: [16, 4],
  reserved0: [20, 4],
  vectors: [24, 8],
  root_ino: [32, 8],
  reserved1: [40, 8],
});

/** Structures whose `hdr.version` is not {@linkcode VEXFS_IOC_VERSION}. */
const STRUCT_VERSIONS = new Map<StructLayout, number>([[SEARCH2, VEXFS_IOC_SEARCH2_VERSION]]);

/**
 * The `hdr.version` a structure carries: {@linkcode VEXFS_IOC_SEARCH2_VERSION}
 * (2) for {@linkcode SEARCH2}, {@linkcode VEXFS_IOC_VERSION} (1) for every other.
 */
export function structVersion(layout: StructLayout): number {
  return STRUCT_VERSIONS.get(layout) ?? VEXFS_IOC_VERSION;
}

// ------------------------------------------------------------ commands

/** `_IOR(0xE7, 1, struct vexfs_ioc_fs_info)`: any descriptor; tells whether the filesystem is VexFS. */
export const VEXFS_IOC_FS_INFO = ior(VEXFS_IOC_TYPE, 0x01, FS_INFO.size);
/** `_IOW(0xE7, 2, struct vexfs_ioc_vector)`: regular file; sets its vector. */
export const VEXFS_IOC_SET_VECTOR = iow(VEXFS_IOC_TYPE, 0x02, VECTOR.size);
/** `_IOWR(0xE7, 3, struct vexfs_ioc_vector)`: regular file; reads its vector. */
export const VEXFS_IOC_GET_VECTOR = iowr(VEXFS_IOC_TYPE, 0x03, VECTOR.size);
/** `_IOW(0xE7, 4, struct vexfs_ioc_del_vector)`: regular file; deletes its vector. */
export const VEXFS_IOC_DEL_VECTOR = iow(VEXFS_IOC_TYPE, 0x04, DEL_VECTOR.size);
/** `_IOWR(0xE7, 5, struct vexfs_ioc_create_collection)`: directory; makes it a collection root. */
export const VEXFS_IOC_CREATE_COLLECTION = iowr(VEXFS_IOC_TYPE, 0x05, CREATE_COLLECTION.size);
/** `_IOWR(0xE7, 6, struct vexfs_ioc_collection_info)`: file or directory; its collection. */
export const VEXFS_IOC_COLLECTION_INFO = iowr(VEXFS_IOC_TYPE, 0x06, COLLECTION_INFO.size);
/** `_IOWR(0xE7, 7, struct vexfs_ioc_search)`: directory; top-k search below it. */
export const VEXFS_IOC_SEARCH = iowr(VEXFS_IOC_TYPE, 0x07, SEARCH.size);
/** `_IOWR(0xE7, 8, struct vexfs_ioc_ino_path)`: directory; path of an inode below it. */
export const VEXFS_IOC_INO_PATH = iowr(VEXFS_IOC_TYPE, 0x08, INO_PATH.size);
/** `_IOWR(0xE7, 9, struct vexfs_ioc_list_collections)`: any descriptor; up to 64 collections from `start_id` on. */
export const VEXFS_IOC_LIST_COLLECTIONS = iowr(VEXFS_IOC_TYPE, 0x09, LIST_COLLECTIONS.size);
/** `_IOW(0xE7, 10, struct vexfs_ioc_set_vectors)`: directory; sets the vectors of files below it, by inode number. */
export const VEXFS_IOC_SET_VECTORS = iow(VEXFS_IOC_TYPE, 0x0a, SET_VECTORS.size);
/** `_IOWR(0xE7, 11, struct vexfs_ioc_search2)`: directory; top-k search below it with ef or exactly, saying how. */
export const VEXFS_IOC_SEARCH2 = iowr(VEXFS_IOC_TYPE, 0x0b, SEARCH2.size);
/** `_IOWR(0xE7, 12, struct vexfs_ioc_index)`: directory; build, drop, optimize or inspect its collection's index. */
export const VEXFS_IOC_INDEX = iowr(VEXFS_IOC_TYPE, 0x0c, INDEX.size);
/** `_IOR(0xE7, 13, struct vexfs_ioc_stats)`: any descriptor; the daemon's counters since the mount. */
export const VEXFS_IOC_STATS = ior(VEXFS_IOC_TYPE, 0x0d, STATS.size);
/** `_IOWR(0xE7, 14, struct vexfs_ioc_drop_collection)`: a collection's root; drops the collection, keeps the files. */
export const VEXFS_IOC_DROP_COLLECTION = iowr(VEXFS_IOC_TYPE, 0x0e, DROP_COLLECTION.size);

/** One command: its C macro name, number and structure. */
export interface IoctlCommand {
  /** C macro, e.g. `"VEXFS_IOC_SEARCH"`. */
  readonly name: string;
  /** Command number (unsigned 32-bit). */
  readonly cmd: number;
  /** Structure passed by pointer; its size is `iocSize(cmd)`. */
  readonly layout: StructLayout;
}

/** Every command, in number order. */
export const COMMANDS: readonly IoctlCommand[] = Object.freeze([
  { name: "VEXFS_IOC_FS_INFO", cmd: VEXFS_IOC_FS_INFO, layout: FS_INFO },
  { name: "VEXFS_IOC_SET_VECTOR", cmd: VEXFS_IOC_SET_VECTOR, layout: VECTOR },
  { name: "VEXFS_IOC_GET_VECTOR", cmd: VEXFS_IOC_GET_VECTOR, layout: VECTOR },
  { name: "VEXFS_IOC_DEL_VECTOR", cmd: VEXFS_IOC_DEL_VECTOR, layout: DEL_VECTOR },
  { name: "VEXFS_IOC_CREATE_COLLECTION", cmd: VEXFS_IOC_CREATE_COLLECTION, layout: CREATE_COLLECTION },
  { name: "VEXFS_IOC_COLLECTION_INFO", cmd: VEXFS_IOC_COLLECTION_INFO, layout: COLLECTION_INFO },
  { name: "VEXFS_IOC_SEARCH", cmd: VEXFS_IOC_SEARCH, layout: SEARCH },
  { name: "VEXFS_IOC_INO_PATH", cmd: VEXFS_IOC_INO_PATH, layout: INO_PATH },
  { name: "VEXFS_IOC_LIST_COLLECTIONS", cmd: VEXFS_IOC_LIST_COLLECTIONS, layout: LIST_COLLECTIONS },
  { name: "VEXFS_IOC_SET_VECTORS", cmd: VEXFS_IOC_SET_VECTORS, layout: SET_VECTORS },
  { name: "VEXFS_IOC_SEARCH2", cmd: VEXFS_IOC_SEARCH2, layout: SEARCH2 },
  { name: "VEXFS_IOC_INDEX", cmd: VEXFS_IOC_INDEX, layout: INDEX },
  { name: "VEXFS_IOC_STATS", cmd: VEXFS_IOC_STATS, layout: STATS },
  { name: "VEXFS_IOC_DROP_COLLECTION", cmd: VEXFS_IOC_DROP_COLLECTION, layout: DROP_COLLECTION },
]);

/** Every structure of the header (for the layout test). */
export const STRUCTS: readonly StructLayout[] = Object.freeze([
  HDR,
  FS_INFO,
  VECTOR,
  DEL_VECTOR,
  COLLECTION,
  CREATE_COLLECTION,
  COLLECTION_INFO,
  SEARCH_HIT,
  SEARCH,
  INO_PATH,
  LIST_COLLECTIONS,
  SET_VECTORS,
  SEARCH2,
  INDEX,
  STATS_OP,
  STATS_ERRNO,
  STATS_OP_ERRNO,
  STATS,
  DROP_COLLECTION,
]);

/** Integer macros of the header and their values (for the layout test). */
export const C_CONSTANTS: Readonly<Record<string, number>> = Object.freeze({
  VEXFS_IOC_TYPE,
  VEXFS_IOC_MAGIC,
  VEXFS_IOC_VERSION,
  VEXFS_IOC_MAX_DIM,
  VEXFS_MAX_DIM,
  VEXFS_IOC_MAX_K,
  VEXFS_IOC_PATH_MAX,
  VEXFS_IOC_LABEL_MAX,
  VEXFS_IOC_LIST_MAX,
  VEXFS_IOC_FS_RDONLY,
  VEXFS_IOC_BATCH_DATA,
  VEXFS_IOC_BATCH_CHECK,
  VEXFS_IOC_SEARCH2_VERSION,
  VEXFS_IOC_MAX_EF,
  VEXFS_IOC_SEARCH2_EXACT,
  VEXFS_SEARCH_METHOD_EXACT,
  VEXFS_SEARCH_METHOD_HNSW,
  VEXFS_EXACT_FLAT,
  VEXFS_EXACT_ASKED,
  VEXFS_EXACT_SMALL,
  VEXFS_EXACT_SUBTREE,
  VEXFS_EXACT_FEW,
  VEXFS_EXACT_STALE,
  VEXFS_EXACT_OTHER,
  VEXFS_INDEX_OP_BUILD,
  VEXFS_INDEX_OP_DROP,
  VEXFS_INDEX_OP_OPTIMIZE,
  VEXFS_INDEX_OP_STATS,
  VEXFS_IOC_INDEX_LEVELS,
  VEXFS_IOC_NOTE_MAX,
  VEXFS_INDEX_FLAT,
  VEXFS_INDEX_HNSW,
  VEXFS_METRIC_L2: METRIC_CODE.l2,
  VEXFS_METRIC_COSINE: METRIC_CODE.cosine,
  VEXFS_METRIC_IP: METRIC_CODE.ip,
  VEXFS_ELEM_F32: ELEM_CODE.f32,
  VEXFS_ELEM_F16: ELEM_CODE.f16,
  VEXFS_ELEM_I8: ELEM_CODE.i8,
  VEXFS_IOC_HDR_SIZE: HDR.size,
  VEXFS_IOC_FS_INFO_SIZE: FS_INFO.size,
  VEXFS_IOC_VECTOR_SIZE: VECTOR.size,
  VEXFS_IOC_DEL_VECTOR_SIZE: DEL_VECTOR.size,
  VEXFS_IOC_COLLECTION_SIZE: COLLECTION.size,
  VEXFS_IOC_CREATE_COLLECTION_SIZE: CREATE_COLLECTION.size,
  VEXFS_IOC_COLLECTION_INFO_SIZE: COLLECTION_INFO.size,
  VEXFS_IOC_SEARCH_HIT_SIZE: SEARCH_HIT.size,
  VEXFS_IOC_SEARCH_SIZE: SEARCH.size,
  VEXFS_IOC_INO_PATH_SIZE: INO_PATH.size,
  VEXFS_IOC_LIST_COLLECTIONS_SIZE: LIST_COLLECTIONS.size,
  VEXFS_IOC_SET_VECTORS_SIZE: SET_VECTORS.size,
  VEXFS_IOC_SEARCH2_SIZE: SEARCH2.size,
  VEXFS_IOC_INDEX_SIZE: INDEX.size,
  VEXFS_STATS_OPS,
  VEXFS_STATS_ERRNOS,
  VEXFS_STATS_OP_ERRNOS,
  VEXFS_STATS_REQUESTS_OFF,
  VEXFS_IOC_STATS_OP_SIZE: STATS_OP.size,
  VEXFS_IOC_STATS_ERRNO_SIZE: STATS_ERRNO.size,
  VEXFS_IOC_STATS_OP_ERRNO_SIZE: STATS_OP_ERRNO.size,
  VEXFS_IOC_STATS_SIZE: STATS.size,
  VEXFS_IOC_DROP_COLLECTION_SIZE: DROP_COLLECTION.size,
});

// ------------------------------------------------------------ helpers

type Code = "EINVAL" | "EIO";

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * A u64 inode number a caller passes in: a `number` up to 2^53 - 1
 * (`Number.MAX_SAFE_INTEGER`), a `bigint` above, so that every u64 value
 * round-trips exactly. No VexFS inode number is above 2^53 - 1 (the engine
 * numbers inodes 1..inode_count with `number`s), so a `bigint` names no inode.
 */
export type U64 = number | bigint;

const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);
const U64_MAX = (1n << 64n) - 1n;

/** A u64 of a request, exactly: a number up to 2^53 - 1, a bigint above. */
function getU64Exact(dv: DataView, off: number): U64 {
  const v = dv.getBigUint64(off, true);
  return v <= SAFE_MAX ? Number(v) : v;
}

/**
 * A u64 of a reply as a number.
 * @throws FsError EIO above 2^53 - 1, which a number cannot hold exactly
 */
function getU64(dv: DataView, off: number, field: string): number {
  const v = dv.getBigUint64(off, true);
  if (v > SAFE_MAX) {
    throw new FsError("EIO", `${field} = ${v} is above 2^53 - 1, more than this program can represent exactly`);
  }
  return Number(v);
}

/** An s64 of a reply as a number; FsError EIO beyond ±(2^53 - 1). */
function getS64(dv: DataView, off: number, field: string): number {
  const v = dv.getBigInt64(off, true);
  if (v > SAFE_MAX || v < -SAFE_MAX) {
    throw new FsError("EIO", `${field} = ${v} is beyond ±(2^53 - 1), more than this program can represent exactly`);
  }
  return Number(v);
}

/**
 * Writes a u64: a number must be an integer 0..2^53 - 1 (a larger number
 * has already lost its low bits), a bigint 0..2^64 - 1.
 * @param code `"EINVAL"` for a request field (the caller's value), `"EIO"`
 *   for a reply field (the filesystem's)
 * @throws FsError `code` naming the field, for any other value
 */
function setU64(dv: DataView, off: number, v: U64, field: string, code: Code): void {
  const ok = typeof v === "bigint" ? v >= 0n && v <= U64_MAX : Number.isSafeInteger(v) && v >= 0;
  if (!ok) {
    const hint = typeof v === "number" && Number.isInteger(v) && v > 0
      ? " exactly (a number above 2^53 - 1 has lost its low bits; pass a bigint)"
      : "";
    throw new FsError(code, `${field} = ${v} is not a u64${hint}`);
  }
  dv.setBigUint64(off, BigInt(v), true);
}

/** Writes an s64 (a number that is an integer within ±(2^53 - 1)); FsError `code` otherwise. */
function setS64(dv: DataView, off: number, v: number, field: string, code: Code): void {
  if (!Number.isSafeInteger(v)) throw new FsError(code, `${field} = ${v} is not an integer an s64 holds exactly`);
  dv.setBigInt64(off, BigInt(v), true);
}

/** Writes a u32; FsError `code` (see {@linkcode setU64}) naming the field for any other value. */
function setU32(dv: DataView, off: number, v: number, field: string, code: Code): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new FsError(code, `${field} = ${v} is not a u32`);
  dv.setUint32(off, v, true);
}

/** Writes a u16 request field; FsError EINVAL naming the field for any other value. */
function setU16(dv: DataView, off: number, v: number, field: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new FsError("EINVAL", `${field} = ${v} is not a u16`);
  dv.setUint16(off, v, true);
}

/**
 * A zeroed structure with its header filled in (magic, version
 * ({@linkcode structVersion}), size).
 * @returns `layout.size` bytes
 */
export function newStruct(layout: StructLayout): Uint8Array {
  const b = new Uint8Array(layout.size);
  const dv = view(b);
  dv.setUint32(0, VEXFS_IOC_MAGIC, true);
  dv.setUint16(4, structVersion(layout), true);
  dv.setUint16(6, layout.size, true);
  return b;
}

/**
 * Checks the length and header of a structure: `b.length`, magic, version
 * ({@linkcode structVersion}) and size must be those of `layout`, flags
 * and reserved 0.
 * @param code errno for a bad structure: `"EINVAL"` (request) or `"EIO"` (reply)
 * @throws FsError `code` naming what is wrong
 */
export function checkHeader(b: Uint8Array, layout: StructLayout, code: Code = "EINVAL"): void {
  const what = layout.cName;
  if (b.length !== layout.size) {
    throw new FsError(code, `${what}: ${b.length} bytes, ${layout.size} expected`);
  }
  const dv = view(b);
  const magic = dv.getUint32(0, true);
  if (magic !== VEXFS_IOC_MAGIC) {
    throw new FsError(
      code,
      `${what}: hdr.magic is 0x${magic.toString(16)}, 0x${VEXFS_IOC_MAGIC.toString(16)} (VEXFS_IOC_MAGIC) expected`,
    );
  }
  const version = dv.getUint16(4, true);
  const want = structVersion(layout);
  if (version !== want) {
    throw new FsError(code, `${what}: hdr.version is ${version}; this structure is version ${want}`);
  }
  const size = dv.getUint16(6, true);
  if (size !== layout.size) {
    throw new FsError(code, `${what}: hdr.size is ${size}, sizeof is ${layout.size}`);
  }
  const flags = dv.getUint32(8, true);
  if (flags !== 0) throw new FsError(code, `${what}: hdr.flags is 0x${flags.toString(16)}; no flags are defined`);
  if (dv.getUint32(12, true) !== 0) throw new FsError(code, `${what}: hdr.reserved is not zero`);
}

/** Throws `FsError(code)` unless bytes `[off, off + len)` of `b` are all zero. */
function checkZero(b: Uint8Array, off: number, len: number, what: string, code: Code): void {
  const end = off + len;
  for (let i = off; i < end; i++) {
    if (b[i] !== 0) {
      throw new FsError(code, `${what} must be zero (byte ${i - off} of it is ${b[i]})`);
    }
  }
}

/** Checks that the listed members of `layout` are zero in `b`. */
function checkZeroFields<F extends string>(
  b: Uint8Array,
  layout: StructLayout<F>,
  fields: readonly F[],
  code: Code,
): void {
  for (const f of fields) {
    const [o, s] = layout.fields[f];
    checkZero(b, o, s, `${layout.cName}.${f}`, code);
  }
}

/**
 * Metric of an ABI code (`VEXFS_METRIC_*`).
 * @throws FsError `code` for an unknown code
 */
export function metricOfCode(c: number, code: Code = "EINVAL"): Metric {
  const m = METRICS[c - 1];
  if (!m) throw new FsError(code, `unknown metric code ${c} (1 l2, 2 cosine, 3 ip)`);
  return m;
}

/**
 * Element type of an ABI code (`VEXFS_ELEM_*`).
 * @throws FsError `code` for an unknown code
 */
export function elemOfCode(c: number, code: Code = "EINVAL"): ElemType {
  const t = ELEM_TYPES[c - 1];
  if (!t) throw new FsError(code, `unknown element type code ${c} (1 f32, 2 f16, 3 i8)`);
  return t;
}

function checkDim(dim: number, what: string, code: Code): void {
  if (dim < 1 || dim > VEXFS_IOC_MAX_DIM) {
    throw new FsError(
      code,
      `${what} = ${dim} is out of range (1..${VEXFS_IOC_MAX_DIM} through an ioctl; ` +
        `wider vectors go through the ${VECTOR_XATTR} extended attribute)`,
    );
  }
}

function putF32s(dv: DataView, off: number, v: Float32Array): void {
  for (let i = 0; i < v.length; i++) dv.setFloat32(off + 4 * i, v[i], true);
}

function getF32s(dv: DataView, off: number, n: number): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = dv.getFloat32(off + 4 * i, true);
  return v;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
/** Whether this CPU is little-endian, as the ABI is: f32 arrays can then be copied as they are. */
const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// ------------------------------------------------------------ collection

/** Writes a collection the filesystem reports (values that do not fit are FsError EIO). */
function writeCollection(dv: DataView, at: number, c: CollectionInfo): void {
  const o = COLLECTION.off;
  const f = (name: string) => `collection ${c.id} ${name}`;
  setU32(dv, at + o.id, c.id, "collection id", "EIO");
  setU32(dv, at + o.dim, c.dim, f("dim"), "EIO");
  setU64(dv, at + o.root_ino, c.rootIno, f("root_ino"), "EIO");
  dv.setUint8(at + o.metric, METRIC_CODE[c.metric]);
  dv.setUint8(at + o.elem_type, ELEM_CODE[c.elem]);
  dv.setUint16(at + o.elem_size, elemSize(c.elem), true);
  setU64(dv, at + o.count, c.count, f("count"), "EIO");
  setU64(dv, at + o.bytes, c.bytes, f("bytes"), "EIO");
  setU64(dv, at + o.generation, c.generation, f("generation"), "EIO");
  setS64(dv, at + o.created, Math.trunc(c.created), f("created"), "EIO");
  dv.setUint16(at + o.hnsw_m, c.m ?? 0, true);
  dv.setUint16(at + o.hnsw_ef_c, c.efConstruction ?? 0, true);
  dv.setUint32(at + o.ef_search, c.efSearch ?? 0, true);
  dv.setUint8(at + o.index, c.index === "hnsw" ? VEXFS_INDEX_HNSW : c.index === "flat" ? VEXFS_INDEX_FLAT : 0);
}

function readCollection(dv: DataView, at: number): CollectionInfo {
  const o = COLLECTION.off;
  const f = (name: string) => `${COLLECTION.cName}.${name}`;
  return {
    id: dv.getUint32(at + o.id, true),
    rootIno: getU64(dv, at + o.root_ino, f("root_ino")),
    dim: dv.getUint32(at + o.dim, true),
    metric: metricOfCode(dv.getUint8(at + o.metric), "EIO"),
    elem: elemOfCode(dv.getUint8(at + o.elem_type), "EIO"),
    count: getU64(dv, at + o.count, f("count")),
    bytes: getU64(dv, at + o.bytes, f("bytes")),
    generation: getU64(dv, at + o.generation, f("generation")),
    created: getS64(dv, at + o.created, f("created")),
    ...(dv.getUint8(at + o.index)
      ? {
        index: dv.getUint8(at + o.index) === VEXFS_INDEX_HNSW ? "hnsw" as const : "flat" as const,
        m: dv.getUint16(at + o.hnsw_m, true),
        efConstruction: dv.getUint16(at + o.hnsw_ef_c, true),
        efSearch: dv.getUint32(at + o.ef_search, true),
      }
      : {}),
  };
}

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

// ------------------------------------------------------------ search

/** The input of {@linkcode VEXFS_IOC_SEARCH}. */
export interface SearchRequest {
  /** hits wanted, 1..256 */
  k: number;
  /** Float32Array of length 1..2048 (the collection's dim) */
  query: Float32Array;
  /**
   * inode left out of the results (e.g. the query's own file), 0 for none;
   * any u64 (a bigint above 2^53 - 1, which names no inode, so nothing is left out)
   */
  excludeIno: U64;
}

/** One hit: inode and score (FORMAT.md §8.4: l2 distance, lower is nearer; cosine/ip similarity, higher is nearer). */
export interface IoctlHit {
  ino: number;
  /** rounded to float32 */
  score: number;
}

/** The output of {@linkcode VEXFS_IOC_SEARCH}. */
export interface SearchReply {
  /** best first, at most k */
  hits: IoctlHit[];
  collectionId: number;
  /** the collection's generation when it was searched */
  generation: number;
  metric: Metric;
  elem: ElemType;
}

/**
 * Builds the request of {@linkcode VEXFS_IOC_SEARCH}.
 * @throws FsError EINVAL: k out of 1..256, query length out of 1..2048,
 *   excludeIno not a u64
 */
export function encodeSearch(r: SearchRequest): Uint8Array {
  if (!Number.isInteger(r.k) || r.k < 1 || r.k > VEXFS_IOC_MAX_K) {
    throw new FsError("EINVAL", `k = ${r.k} is out of range (1..${VEXFS_IOC_MAX_K} through an ioctl)`);
  }
  checkDim(r.query.length, "query length", "EINVAL");
  const b = newStruct(SEARCH);
  const dv = view(b);
  const o = SEARCH.off;
  dv.setUint32(o.k, r.k, true);
  dv.setUint32(o.dim, r.query.length, true);
  setU64(dv, o.exclude_ino, r.excludeIno, "exclude_ino", "EINVAL");
  putF32s(dv, o.query, r.query);
  return b;
}

/**
 * Reads and checks the request of {@linkcode VEXFS_IOC_SEARCH}. Query
 * values are not checked (the engine refuses NaN and infinities).
 * `excludeIno` is exact: a bigint above 2^53 - 1, so that the reply echoes it.
 * @throws FsError EINVAL: bad header, k out of 1..256, dim out of 1..2048,
 *   non-zero output fields, reserved fields, query elements past dim or hits
 */
export function decodeSearch(b: Uint8Array): SearchRequest {
  checkHeader(b, SEARCH);
  const dv = view(b);
  const o = SEARCH.off;
  const k = dv.getUint32(o.k, true);
  if (k < 1 || k > VEXFS_IOC_MAX_K) {
    throw new FsError("EINVAL", `k = ${k} is out of range (1..${VEXFS_IOC_MAX_K})`);
  }
  const dim = dv.getUint32(o.dim, true);
  checkDim(dim, "dim", "EINVAL");
  checkZeroFields(
    b,
    SEARCH,
    ["count", "collection_id", "generation", "metric", "elem_type", "reserved0", "reserved1", "hits"],
    "EINVAL",
  );
  checkZero(b, o.query + 4 * dim, 4 * (VEXFS_IOC_MAX_DIM - dim), `query past dim ${dim}`, "EINVAL");
  return { k, query: getF32s(dv, o.query, dim), excludeIno: getU64Exact(dv, o.exclude_ino) };
}

/**
 * Builds the reply of {@linkcode VEXFS_IOC_SEARCH}: the request echoed,
 * the outputs filled.
 * @throws RangeError if there are more hits than `k`; FsError EIO for a
 *   generation or hit inode that is not a u64
 */
export function encodeSearchReply(r: SearchRequest, out: SearchReply): Uint8Array {
  if (out.hits.length > r.k) throw new RangeError(`${out.hits.length} hits for k = ${r.k}`);
  const b = encodeSearch(r);
  const dv = view(b);
  const o = SEARCH.off;
  dv.setUint32(o.count, out.hits.length, true);
  setU32(dv, o.collection_id, out.collectionId, "collection_id", "EIO");
  setU64(dv, o.generation, out.generation, "generation", "EIO");
  dv.setUint8(o.metric, METRIC_CODE[out.metric]);
  dv.setUint8(o.elem_type, ELEM_CODE[out.elem]);
  out.hits.forEach((h, i) => {
    const at = o.hits + i * SEARCH_HIT.size;
    setU64(dv, at + SEARCH_HIT.off.ino, h.ino, `hits[${i}].ino`, "EIO");
    dv.setFloat32(at + SEARCH_HIT.off.score, h.score, true);
  });
  return b;
}

/**
 * Reads the reply of {@linkcode VEXFS_IOC_SEARCH}.
 * @throws FsError EIO if `b` is not a valid reply (bad header, count > k,
 *   a hit inode or the generation above 2^53 - 1)
 */
export function decodeSearchReply(b: Uint8Array): SearchReply {
  checkHeader(b, SEARCH, "EIO");
  const dv = view(b);
  const o = SEARCH.off;
  const count = dv.getUint32(o.count, true);
  const k = dv.getUint32(o.k, true);
  if (count > k || count > VEXFS_IOC_MAX_K) throw new FsError("EIO", `search reply has count ${count} for k = ${k}`);
  const hits: IoctlHit[] = [];
  for (let i = 0; i < count; i++) {
    const at = o.hits + i * SEARCH_HIT.size;
    hits.push({
      ino: getU64(dv, at + SEARCH_HIT.off.ino, `${SEARCH.cName}.hits[${i}].ino`),
      score: dv.getFloat32(at + SEARCH_HIT.off.score, true),
    });
  }
  return {
    hits,
    collectionId: dv.getUint32(o.collection_id, true),
    generation: getU64(dv, o.generation, `${SEARCH.cName}.generation`),
    metric: metricOfCode(dv.getUint8(o.metric), "EIO"),
    elem: elemOfCode(dv.getUint8(o.elem_type), "EIO"),
  };
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

// ------------------------------------------------------------ SEARCH2

/** The input of {@linkcode VEXFS_IOC_SEARCH2}: a {@linkcode SearchRequest} plus the method's knobs. */
export interface Search2Request extends SearchRequest {
  /**
   * HNSW search breadth 1..65535 ({@linkcode VEXFS_IOC_MAX_EF}), or 0 for
   * the engine's choice (the collection's `ef_search`, and an exact scan of
   * a small collection)
   */
  ef: number;
  /** scan exactly whatever the collection's index ({@linkcode VEXFS_IOC_SEARCH2_EXACT}); excludes a non-zero `ef` */
  exact: boolean;
}

/** Why an exact scan answered a search (`vexfs_ioc_search2.exact_reason`, docs/IOCTL.md §3.11). */
export type ExactReason = "flat" | "asked" | "small" | "subtree" | "few" | "stale" | "other";

/** `VEXFS_EXACT_*` code of each {@linkcode ExactReason}. */
export const EXACT_REASON_CODE: Readonly<Record<ExactReason, number>> = Object.freeze({
  flat: VEXFS_EXACT_FLAT,
  asked: VEXFS_EXACT_ASKED,
  small: VEXFS_EXACT_SMALL,
  subtree: VEXFS_EXACT_SUBTREE,
  few: VEXFS_EXACT_FEW,
  stale: VEXFS_EXACT_STALE,
  other: VEXFS_EXACT_OTHER,
});

/**
 * How the engine words each {@linkcode ExactReason} in `SearchMethod.reason`
 * (src/fs/vectors.ts `Collections.searchEx`), so that a search on a mount
 * prints what the same search prints on the unmounted image; a flat
 * collection's scan has no reason there (undefined).
 */
export const EXACT_REASON_TEXT: Readonly<Record<ExactReason, string | undefined>> = Object.freeze({
  flat: undefined,
  asked: "exact search asked for",
  small: "a small collection: an exact scan is as fast",
  subtree: "a small subtree is scanned",
  few: "k ≥ vectors",
  stale: "the HNSW graph is far behind the vectors; scanned exactly until it is caught up",
  other: "another reason (reported by a newer VexFS)",
});

/**
 * The {@linkcode ExactReason} of an engine search answered by a scan.
 * @param m what `Collections.searchEx` reported (`method` "exact")
 * @param flat whether the collection has no HNSW index (the engine gives no reason then)
 * @returns the reason; `"other"` for a wording this module does not know
 */
export function exactReasonOf(m: SearchMethod, flat: boolean): ExactReason {
  if (flat) return "flat";
  const r = m.reason ?? "";
  if (/asked/.test(r)) return "asked";
  if (/subtree/.test(r)) return "subtree";
  if (/small collection/.test(r)) return "small";
  if (/k (≥|>=) vectors/.test(r)) return "few";
  if (/far behind/.test(r)) return "stale";
  return "other";
}

/** The output of {@linkcode VEXFS_IOC_SEARCH2}: a {@linkcode SearchReply} plus how it was answered. */
export interface Search2Reply extends SearchReply {
  /**
   * the method as the engine reports it: `{method: "hnsw", ef}` (the ef
   * used) or `{method: "exact", reason}` (reason: {@linkcode EXACT_REASON_TEXT}
   * of `exactReason`, absent for a flat collection); `{method: "unknown"}`
   * for a method code this module does not know
   */
  method: SearchMethod;
  /** why an exact scan answered; absent for HNSW */
  exactReason?: ExactReason;
}

/**
 * Builds the request of {@linkcode VEXFS_IOC_SEARCH2}.
 * @throws FsError EINVAL: k out of 1..256, query length out of 1..2048,
 *   excludeIno not a u64, ef not an integer 0..65535, `exact` with a
 *   non-zero ef
 */
export function encodeSearch2(r: Search2Request): Uint8Array {
  checkEf(r.ef, r.exact, "EINVAL");
  const b = newStruct(SEARCH2);
  const v1 = encodeSearch(r);
  // the fields SEARCH2 shares with SEARCH, at the same offsets
  b.set(v1.subarray(HDR.size, SEARCH.off.query), HDR.size);
  const dv = view(b);
  const o = SEARCH2.off;
  dv.setUint32(o.ef, r.ef, true);
  dv.setUint32(o.flags, r.exact ? VEXFS_IOC_SEARCH2_EXACT : 0, true);
  putF32s(dv, o.query, r.query);
  return b;
}

function checkEf(ef: number, exact: boolean, code: Code): void {
  if (!Number.isInteger(ef) || ef < 0 || ef > VEXFS_IOC_MAX_EF) {
    throw new FsError(code, `ef = ${ef} is out of range (1..${VEXFS_IOC_MAX_EF}, or 0 for the collection's)`);
  }
  if (exact && ef !== 0) {
    throw new FsError(
      code,
      `ef = ${ef} with an exact scan: ef is the breadth of a graph search; give one or the other`,
    );
  }
}

/**
 * Reads and checks the request of {@linkcode VEXFS_IOC_SEARCH2}. Query
 * values are not checked (the engine refuses NaN and infinities);
 * `excludeIno` is exact (a bigint above 2^53 - 1).
 * @throws FsError EINVAL: bad header (version 2 expected), k out of 1..256,
 *   dim out of 1..2048, ef above 65535, unknown flags, EXACT with a
 *   non-zero ef, non-zero output or reserved fields, query elements past
 *   dim or hits
 */
export function decodeSearch2(b: Uint8Array): Search2Request {
  checkHeader(b, SEARCH2);
  const dv = view(b);
  const o = SEARCH2.off;
  const k = dv.getUint32(o.k, true);
  if (k < 1 || k > VEXFS_IOC_MAX_K) {
    throw new FsError("EINVAL", `k = ${k} is out of range (1..${VEXFS_IOC_MAX_K})`);
  }
  const dim = dv.getUint32(o.dim, true);
  checkDim(dim, "dim", "EINVAL");
  const flags = dv.getUint32(o.flags, true);
  if (flags & ~VEXFS_IOC_SEARCH2_EXACT) {
    throw new FsError(
      "EINVAL",
      `flags = 0x${flags.toString(16)}; only VEXFS_IOC_SEARCH2_EXACT (0x${
        VEXFS_IOC_SEARCH2_EXACT.toString(16)
      }) is defined`,
    );
  }
  const exact = (flags & VEXFS_IOC_SEARCH2_EXACT) !== 0;
  const ef = dv.getUint32(o.ef, true);
  checkEf(ef, exact, "EINVAL");
  checkZeroFields(
    b,
    SEARCH2,
    [
      "count",
      "collection_id",
      "generation",
      "metric",
      "elem_type",
      "reserved0",
      "reserved1",
      "method",
      "exact_reason",
      "reserved2",
      "ef_used",
      "hits",
    ],
    "EINVAL",
  );
  checkZero(b, o.query + 4 * dim, 4 * (VEXFS_IOC_MAX_DIM - dim), `query past dim ${dim}`, "EINVAL");
  return { k, query: getF32s(dv, o.query, dim), excludeIno: getU64Exact(dv, o.exclude_ino), ef, exact };
}

/**
 * Builds the reply of {@linkcode VEXFS_IOC_SEARCH2}: the request echoed,
 * the outputs filled (`method` and `ef_used` from `out.method`,
 * `exact_reason` from `out.exactReason`, "other" when an exact scan has none).
 * @throws RangeError if there are more hits than `k`; FsError EIO for a
 *   generation or hit inode that is not a u64, or an HNSW ef that is not a u32
 */
export function encodeSearch2Reply(r: Search2Request, out: Search2Reply): Uint8Array {
  if (out.hits.length > r.k) throw new RangeError(`${out.hits.length} hits for k = ${r.k}`);
  const b = encodeSearch2(r);
  const dv = view(b);
  const o = SEARCH2.off;
  dv.setUint32(o.count, out.hits.length, true);
  setU32(dv, o.collection_id, out.collectionId, "collection_id", "EIO");
  setU64(dv, o.generation, out.generation, "generation", "EIO");
  dv.setUint8(o.metric, METRIC_CODE[out.metric]);
  dv.setUint8(o.elem_type, ELEM_CODE[out.elem]);
  const m = out.method.method;
  if (m === "hnsw") {
    dv.setUint8(o.method, VEXFS_SEARCH_METHOD_HNSW);
    setU32(dv, o.ef_used, out.method.ef ?? 0, "ef_used", "EIO");
  } else if (m === "exact") {
    dv.setUint8(o.method, VEXFS_SEARCH_METHOD_EXACT);
    dv.setUint8(o.exact_reason, EXACT_REASON_CODE[out.exactReason ?? "other"]);
  }
  out.hits.forEach((h, i) => {
    const at = o.hits + i * SEARCH_HIT.size;
    setU64(dv, at + SEARCH_HIT.off.ino, h.ino, `hits[${i}].ino`, "EIO");
    dv.setFloat32(at + SEARCH_HIT.off.score, h.score, true);
  });
  return b;
}

/**
 * Reads the reply of {@linkcode VEXFS_IOC_SEARCH2}. An unknown
 * `exact_reason` reads as "other", an unknown `method` as "unknown" (a
 * newer daemon may define more).
 * @throws FsError EIO if `b` is not a valid reply (bad header, count > k,
 *   a hit inode or the generation above 2^53 - 1, unknown metric or element code)
 */
export function decodeSearch2Reply(b: Uint8Array): Search2Reply {
  checkHeader(b, SEARCH2, "EIO");
  const dv = view(b);
  const o = SEARCH2.off;
  const count = dv.getUint32(o.count, true);
  const k = dv.getUint32(o.k, true);
  if (count > k || count > VEXFS_IOC_MAX_K) throw new FsError("EIO", `search reply has count ${count} for k = ${k}`);
  const hits: IoctlHit[] = [];
  for (let i = 0; i < count; i++) {
    const at = o.hits + i * SEARCH_HIT.size;
    hits.push({
      ino: getU64(dv, at + SEARCH_HIT.off.ino, `${SEARCH2.cName}.hits[${i}].ino`),
      score: dv.getFloat32(at + SEARCH_HIT.off.score, true),
    });
  }
  const mcode = dv.getUint8(o.method);
  let method: SearchMethod;
  let exactReason: ExactReason | undefined;
  if (mcode === VEXFS_SEARCH_METHOD_HNSW) method = { method: "hnsw", ef: dv.getUint32(o.ef_used, true) };
  else if (mcode === VEXFS_SEARCH_METHOD_EXACT) {
    const rc = dv.getUint8(o.exact_reason);
    exactReason = (Object.keys(EXACT_REASON_CODE) as ExactReason[]).find((x) => EXACT_REASON_CODE[x] === rc) ??
      "other";
    const text = EXACT_REASON_TEXT[exactReason];
    method = { method: "exact", ...(text !== undefined ? { reason: text } : {}) };
  } else method = { method: "unknown" };
  return {
    hits,
    collectionId: dv.getUint32(o.collection_id, true),
    generation: getU64(dv, o.generation, `${SEARCH2.cName}.generation`),
    metric: metricOfCode(dv.getUint8(o.metric), "EIO"),
    elem: elemOfCode(dv.getUint8(o.elem_type), "EIO"),
    method,
    ...(exactReason ? { exactReason } : {}),
  };
}

// ------------------------------------------------------------ INDEX

/** An operation of {@linkcode VEXFS_IOC_INDEX} (`vexfs index build|drop|optimize|stats`). */
export type IndexOpName = "build" | "drop" | "optimize" | "stats";

/** `VEXFS_INDEX_OP_*` code of each {@linkcode IndexOpName}. */
export const INDEX_OP_CODE: Readonly<Record<IndexOpName, number>> = Object.freeze({
  build: VEXFS_INDEX_OP_BUILD,
  drop: VEXFS_INDEX_OP_DROP,
  optimize: VEXFS_INDEX_OP_OPTIMIZE,
  stats: VEXFS_INDEX_OP_STATS,
});

/** The input of {@linkcode VEXFS_IOC_INDEX}. */
export interface IndexRequest {
  op: IndexOpName;
  /** build only: M, 2..128 (absent or 0: the collection's, else 16) */
  m?: number;
  /** build only: efConstruction, M..4096 (absent or 0: the collection's, else 200) */
  efConstruction?: number;
}

/**
 * The output of {@linkcode VEXFS_IOC_INDEX}: the engine's
 * {@linkcode IndexStats} plus the collection's figures the structure carries.
 */
export interface IndexReply extends IndexStats {
  collectionId: number;
  /** the collection's generation after the operation */
  generation: number;
  /** the collection's default search ef (0: the engine's, max(k, 64)) */
  efSearch: number;
  /** the collection's dimension, metric and element type */
  dim: number;
  metric: Metric;
  elem: ElemType;
}

/**
 * Builds the request of {@linkcode VEXFS_IOC_INDEX}.
 * @throws FsError EINVAL: m or efConstruction not a u32, or given (non-zero)
 *   for an operation other than build
 */
export function encodeIndex(r: IndexRequest): Uint8Array {
  const b = newStruct(INDEX);
  const dv = view(b);
  const o = INDEX.off;
  const m = r.m ?? 0, efc = r.efConstruction ?? 0;
  if (r.op !== "build" && (m || efc)) {
    throw new FsError("EINVAL", `index ${r.op}: m and efConstruction only apply to build`);
  }
  const code = INDEX_OP_CODE[r.op];
  if (code === undefined) throw new FsError("EINVAL", `unknown index operation ${JSON.stringify(r.op)}`);
  dv.setUint32(o.op, code, true);
  setU32(dv, o.m, m, "m", "EINVAL");
  setU32(dv, o.ef_construction, efc, "ef_construction", "EINVAL");
  return b;
}

/**
 * Reads and checks the request of {@linkcode VEXFS_IOC_INDEX}. M and
 * efConstruction are passed through for the engine to check (2..128, M..4096).
 * @returns the operation; `m`/`efConstruction` only where non-zero
 * @throws FsError EINVAL: bad header, unknown op, m or ef_construction
 *   non-zero for an operation other than build, non-zero reserved or
 *   output fields
 */
export function decodeIndex(b: Uint8Array): IndexRequest {
  checkHeader(b, INDEX);
  const dv = view(b);
  const o = INDEX.off;
  const code = dv.getUint32(o.op, true);
  const op = (Object.keys(INDEX_OP_CODE) as IndexOpName[]).find((x) => INDEX_OP_CODE[x] === code);
  if (!op) {
    throw new FsError(
      "EINVAL",
      `unknown index op ${code} (${VEXFS_INDEX_OP_BUILD} build, ${VEXFS_INDEX_OP_DROP} drop, ` +
        `${VEXFS_INDEX_OP_OPTIMIZE} optimize, ${VEXFS_INDEX_OP_STATS} stats)`,
    );
  }
  const m = dv.getUint32(o.m, true);
  const efc = dv.getUint32(o.ef_construction, true);
  if (op !== "build" && (m || efc)) {
    throw new FsError("EINVAL", `index ${op}: m = ${m}, ef_construction = ${efc}; both must be 0 except for build`);
  }
  checkZeroFields(b, INDEX, ["reserved0"], "EINVAL");
  checkZero(b, o.collection_id, INDEX.size - o.collection_id, `${INDEX.cName} output fields`, "EINVAL");
  return { op, ...(m ? { m } : {}), ...(efc ? { efConstruction: efc } : {}) };
}

/**
 * Builds the reply of {@linkcode VEXFS_IOC_INDEX}: the request echoed, the
 * figures filled (every graph figure 0 for a flat collection; the note cut
 * at 127 bytes on a character boundary; the build time rounded to
 * microseconds).
 * @throws FsError EIO for a figure that does not fit its field (a count
 *   that is not a u32 or u64, more than 32 levels)
 */
export function encodeIndexReply(r: IndexRequest, s: IndexReply): Uint8Array {
  const b = encodeIndex(r);
  const dv = view(b);
  const o = INDEX.off;
  const f = (name: string) => `${INDEX.cName}.${name}`;
  setU32(dv, o.collection_id, s.collectionId, f("collection_id"), "EIO");
  dv.setUint8(o.index, s.index === "hnsw" ? VEXFS_INDEX_HNSW : VEXFS_INDEX_FLAT);
  dv.setUint8(o.current, s.current ? 1 : 0);
  dv.setUint8(o.metric, METRIC_CODE[s.metric]);
  dv.setUint8(o.elem_type, ELEM_CODE[s.elem]);
  setU64(dv, o.generation, s.generation, f("generation"), "EIO");
  setU64(dv, o.file_bytes, s.fileBytes, f("file_bytes"), "EIO");
  setU32(dv, o.ef_search, s.efSearch, f("ef_search"), "EIO");
  setU32(dv, o.dim, s.dim, f("dim"), "EIO");
  let note = s.note;
  while (enc.encode(note).length > VEXFS_IOC_NOTE_MAX - 1) note = [...note].slice(0, -1).join("");
  b.set(enc.encode(note), o.note);
  const g = s.graph;
  if (s.index !== "hnsw" || !g) return b;
  setU64(dv, o.bytes, g.bytes, f("bytes"), "EIO");
  setU64(dv, o.memory_bytes, g.memoryBytes, f("memory_bytes"), "EIO");
  setU64(dv, o.build_us, Math.round(g.buildMs * 1000), f("build_us"), "EIO");
  setU64(dv, o.distances, g.distances, f("distances"), "EIO");
  setU64(dv, o.hops, g.hops, f("hops"), "EIO");
  setU32(dv, o.nodes, g.nodes, f("nodes"), "EIO");
  setU32(dv, o.deleted, g.deleted, f("deleted"), "EIO");
  setU32(dv, o.free, g.free, f("free"), "EIO");
  setU32(dv, o.node_count, g.nodeCount, f("node_count"), "EIO");
  setU32(dv, o.upper_count, g.upperCount, f("upper_count"), "EIO");
  setU32(dv, o.reclaimed, g.reclaimed, f("reclaimed"), "EIO");
  setU32(dv, o.inserts_since_build, g.insertsSinceBuild, f("inserts_since_build"), "EIO");
  for (const [k, v] of [["hnsw_m", g.m], ["hnsw_m0", g.m0], ["hnsw_ef_c", g.efConstruction]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new FsError("EIO", `${f(k)} = ${v} is not a u16`);
    dv.setUint16(o[k], v, true);
  }
  if (g.levels.length > VEXFS_IOC_INDEX_LEVELS || g.maxLevel < 0 || g.maxLevel >= VEXFS_IOC_INDEX_LEVELS) {
    throw new FsError("EIO", `the graph has ${g.levels.length} levels (max level ${g.maxLevel}); at most 32 fit`);
  }
  dv.setUint8(o.max_level, g.maxLevel);
  dv.setUint8(o.level_count, g.levels.length);
  if (!Number.isInteger(g.entry) || g.entry < -1 || g.entry > 0x7fffffff) {
    throw new FsError("EIO", `${f("entry")} = ${g.entry} is not an s32`);
  }
  dv.setInt32(o.entry, g.entry, true);
  g.levels.forEach((n, l) => setU32(dv, o.levels + 4 * l, n, `${f("levels")}[${l}]`, "EIO"));
  return b;
}

/**
 * Reads the reply of {@linkcode VEXFS_IOC_INDEX}: the figures as the
 * engine's {@linkcode IndexStats} (`graph` only for an HNSW index, `current`
 * null for a flat one) plus the collection's.
 * @throws FsError EIO if `b` is not a valid reply (bad header, unknown
 *   index, metric or element code, level_count above 32, a u64 above 2^53 - 1)
 */
export function decodeIndexReply(b: Uint8Array): IndexReply {
  checkHeader(b, INDEX, "EIO");
  const dv = view(b);
  const o = INDEX.off;
  const f = (name: string) => `${INDEX.cName}.${name}`;
  const index = dv.getUint8(o.index);
  if (index !== VEXFS_INDEX_FLAT && index !== VEXFS_INDEX_HNSW) {
    throw new FsError("EIO", `${f("index")} = ${index} (1 flat, 2 HNSW)`);
  }
  const metric = metricOfCode(dv.getUint8(o.metric), "EIO");
  const elem = elemOfCode(dv.getUint8(o.elem_type), "EIO");
  const dim = dv.getUint32(o.dim, true);
  const noteBytes = b.subarray(o.note, o.note + VEXFS_IOC_NOTE_MAX);
  const nul = noteBytes.indexOf(0);
  const base = {
    collectionId: dv.getUint32(o.collection_id, true),
    generation: getU64(dv, o.generation, f("generation")),
    efSearch: dv.getUint32(o.ef_search, true),
    dim,
    metric,
    elem,
    note: dec.decode(nul < 0 ? noteBytes : noteBytes.subarray(0, nul)),
    fileBytes: getU64(dv, o.file_bytes, f("file_bytes")),
  };
  if (index === VEXFS_INDEX_FLAT) return { ...base, index: "flat", current: null };
  const levelCount = dv.getUint8(o.level_count);
  if (levelCount > VEXFS_IOC_INDEX_LEVELS) throw new FsError("EIO", `${f("level_count")} = ${levelCount}`);
  // hnsw_m 0: the graph was not loaded (far behind the vectors; docs/IOCTL.md §3.12), its figures are 0
  if (dv.getUint16(o.hnsw_m, true) === 0) return { ...base, index: "hnsw", current: dv.getUint8(o.current) !== 0 };
  return {
    ...base,
    index: "hnsw",
    current: dv.getUint8(o.current) !== 0,
    graph: {
      nodes: dv.getUint32(o.nodes, true),
      deleted: dv.getUint32(o.deleted, true),
      free: dv.getUint32(o.free, true),
      nodeCount: dv.getUint32(o.node_count, true),
      upperCount: dv.getUint32(o.upper_count, true),
      reclaimed: dv.getUint32(o.reclaimed, true),
      levels: Array.from({ length: levelCount }, (_, l) => dv.getUint32(o.levels + 4 * l, true)),
      maxLevel: dv.getUint8(o.max_level),
      entry: dv.getInt32(o.entry, true),
      bytes: getU64(dv, o.bytes, f("bytes")),
      memoryBytes: getU64(dv, o.memory_bytes, f("memory_bytes")),
      m: dv.getUint16(o.hnsw_m, true),
      m0: dv.getUint16(o.hnsw_m0, true),
      efConstruction: dv.getUint16(o.hnsw_ef_c, true),
      dim,
      metric,
      elem,
      buildMs: getU64(dv, o.build_us, f("build_us")) / 1000,
      insertsSinceBuild: dv.getUint32(o.inserts_since_build, true),
      distances: getU64(dv, o.distances, f("distances")),
      hops: getU64(dv, o.hops, f("hops")),
    },
  };
}

// ------------------------------------------------------------ errors

/** errno numbers the ioctls may produce that src/errors.ts may not name. */
const EXTRA_ERRNOS: Readonly<Record<number, string>> = { 14: "EFAULT", 25: "ENOTTY" };

/** `ENOTTY` (25): "inappropriate ioctl for device", the answer to an unknown command. */
export const ENOTTY = 25;

/**
 * An `FsError` for errno number `errno`, named after it: the name from
 * `ERRNO` of src/errors.ts when it has one; `ENOTTY` and `EFAULT` by name
 * even when src/errors.ts does not list them yet (`code` and `errno` are
 * then set on the instance); any other number becomes `EIO` with the number
 * in the message.
 * @param errno positive errno number
 * @param message what failed and what to do (without the errno prefix)
 */
export function errnoFsError(errno: number, message: string): FsError {
  const known = (Object.entries(ERRNO) as [ErrnoName, number][]).find(([, n]) => n === errno);
  if (known) return new FsError(known[0], message);
  const extra = EXTRA_ERRNOS[errno];
  if (!extra) return new FsError("EIO", `${message} (errno ${errno})`);
  const e = new FsError("EIO", message);
  Object.defineProperty(e, "code", { value: extra, enumerable: true });
  Object.defineProperty(e, "errno", { value: errno, enumerable: true });
  e.message = `${extra}: ${message}`;
  return e;
}
