/**
 * The numbers of the VexFS ioctl ABI (`kernel/vexfs_ioctl.h`, docs/IOCTL.md):
 * the `_IOC` encoding, the constants, every structure's layout and every
 * command number. `abi_test.ts` compiles a C probe against the header and
 * checks every number here. Re-exported by abi.ts, which callers import.
 * @module
 */
import { defineStruct, type StructLayout } from "../struct_layout.ts";
import { ELEM_CODE, METRIC_CODE } from "../vector/types.ts";

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

// ------------------------------------------------------------ HYBRID, TEXT_INDEX

/** Largest `k` of {@linkcode VEXFS_IOC_HYBRID} (its 32-byte hits must fit a restricted ioctl). */
export const VEXFS_IOC_HYBRID_MAX_K = 128;
/** Most filter clauses of one {@linkcode VEXFS_IOC_HYBRID} (ANDed). */
export const VEXFS_IOC_HYBRID_MAX_CLAUSES = 8;
/** Bytes of `vexfs_ioc_hybrid.text`. */
export const VEXFS_IOC_HYBRID_TEXT_MAX = 1024;
/** Most terms in `text` with {@linkcode VEXFS_IOC_HYBRID_TERMS}. */
export const VEXFS_IOC_HYBRID_MAX_TERMS = 64;
/** Longest term, bytes (the analyzer's limit, FORMAT.md §8.7). */
export const VEXFS_IOC_HYBRID_TERM_MAX = 64;
/** Largest `depth` (candidates per side). */
export const VEXFS_IOC_HYBRID_MAX_DEPTH = 4096;
/** The RRF constant `rrf_k` 0 stands for (Cormack et al. 2009). */
export const VEXFS_IOC_HYBRID_RRF_K = 60;
/** Largest `rrf_k`. */
export const VEXFS_IOC_HYBRID_MAX_RRF_K = 65535;
/** `vexfs_ioc_hybrid.flags`: the vector side scans exactly whatever the index. */
export const VEXFS_IOC_HYBRID_EXACT = 0x1;
/** `vexfs_ioc_hybrid.flags`: `text` holds analysed terms `{u8 len, bytes}`, not raw text. */
export const VEXFS_IOC_HYBRID_TERMS = 0x2;
/** `vexfs_ioc_hybrid.fusion`: Reciprocal Rank Fusion. */
export const VEXFS_FUSION_RRF = 0;
/** `vexfs_ioc_hybrid.fusion`: weighted sum of min-max normalised scores. */
export const VEXFS_FUSION_WEIGHTED = 1;
/** `vexfs_ioc_filter_clause.op` codes: `=`. */
export const VEXFS_FILTER_EQ = 1;
/** `!=` */
export const VEXFS_FILTER_NE = 2;
/** `<` */
export const VEXFS_FILTER_LT = 3;
/** `<=` */
export const VEXFS_FILTER_LE = 4;
/** `>` */
export const VEXFS_FILTER_GT = 5;
/** `>=` */
export const VEXFS_FILTER_GE = 6;
/** `in (...)` */
export const VEXFS_FILTER_IN = 7;
/** `exists` */
export const VEXFS_FILTER_EXISTS = 8;
/** `vexfs_ioc_filter_clause.ns`: the name is in the `user.` namespace (the only one of version 1). */
export const VEXFS_FILTER_NS_USER = 1;
/** `vexfs_ioc_filter_clause.cmp`: numbers when both sides are JSON numbers, else bytes (the only one of version 1). */
export const VEXFS_FILTER_CMP_AUTO = 0;
/** Bytes of `vexfs_ioc_filter_clause.name` (a name of 1..63 bytes, NUL padded). */
export const VEXFS_IOC_FILTER_NAME_MAX = 64;
/** Bytes of `vexfs_ioc_filter_clause.values` (`{u8 len, bytes}` × nvalues). */
export const VEXFS_IOC_FILTER_VALUES_MAX = 120;
/** Most values of an `in` clause. */
export const VEXFS_IOC_FILTER_MAX_VALUES = 16;
/** `vexfs_ioc_text_index.op`: build the keyword index from scratch (and enable it). */
export const VEXFS_TEXT_INDEX_OP_BUILD = 1;
/** `vexfs_ioc_text_index.op`: drop the keyword index. */
export const VEXFS_TEXT_INDEX_OP_DROP = 2;
/** `vexfs_ioc_text_index.op`: change nothing, report. */
export const VEXFS_TEXT_INDEX_OP_STATS = 3;
/** `vexfs_ioc_text_index.set`: `k1` is given. */
export const VEXFS_TEXT_INDEX_SET_K1 = 0x1;
/** `vexfs_ioc_text_index.set`: `b` is given. */
export const VEXFS_TEXT_INDEX_SET_B = 0x2;
/** `vexfs_ioc_text_index.set`: `max_file` is given. */
export const VEXFS_TEXT_INDEX_SET_MAX_FILE = 0x4;
/** `vexfs_ioc_text_index.set`: `analyzer`, `stemmer`, `stopwords` and `lang` are given. */
export const VEXFS_TEXT_INDEX_SET_ANALYZER = 0x8;
/** `vexfs_ioc_text_index.analyzer`: `word-v1` (FORMAT.md §8.1). */
export const VEXFS_ANALYZER_WORD_V1 = 1;
/** Bytes of `vexfs_ioc_text_index.lang`. */
export const VEXFS_IOC_LANG_MAX = 8;
/** Bytes of `vexfs_ioc_text_index.signature`. */
export const VEXFS_IOC_SIGNATURE_MAX = 64;

/** `struct vexfs_ioc_filter_clause` (192 bytes): one clause of a HYBRID filter. */
export const FILTER_CLAUSE = struct("struct vexfs_ioc_filter_clause", 192, {
  op: [0, 1],
  ns: [1, 1],
  name_len: [2, 1],
  nvalues: [3, 1],
  cmp: [4, 1],
  reserved: [5, 3],
  name: [8, VEXFS_IOC_FILTER_NAME_MAX],
  values: [72, VEXFS_IOC_FILTER_VALUES_MAX],
});

/** `struct vexfs_ioc_hybrid_hit` (32 bytes): one fused hit and each side's rank and score. */
export const HYBRID_HIT = struct("struct vexfs_ioc_hybrid_hit", 32, {
  ino: [0, 8],
  score: [8, 4],
  vec_score: [12, 4],
  text_score: [16, 4],
  vec_rank: [20, 4],
  text_rank: [24, 4],
  reserved: [28, 4],
});

/** `struct vexfs_ioc_hybrid` (14976 bytes) of {@linkcode VEXFS_IOC_HYBRID}. */
export const HYBRID = struct("struct vexfs_ioc_hybrid", 14976, {
  ...embed("hdr", 0, HDR),
  k: [16, 4],
  dim: [20, 4],
  exclude_ino: [24, 8],
  ef: [32, 4],
  flags: [36, 4],
  fusion: [40, 1],
  nclauses: [41, 1],
  text_len: [42, 2],
  rrf_k: [44, 4],
  alpha: [48, 4],
  depth: [52, 4],
  count: [56, 4],
  collection_id: [60, 4],
  generation: [64, 8],
  text_generation: [72, 8],
  metric: [80, 1],
  vec_method: [81, 1],
  exact_reason: [82, 1],
  reserved0: [83, 1],
  ef_used: [84, 4],
  text_matched: [88, 4],
  filter_passed: [92, 4],
  terms_used: [96, 4],
  reserved1: [100, 28],
  clauses: [128, FILTER_CLAUSE.size * VEXFS_IOC_HYBRID_MAX_CLAUSES],
  text: [1664, VEXFS_IOC_HYBRID_TEXT_MAX],
  query: [2688, 4 * VEXFS_IOC_MAX_DIM],
  hits: [10880, HYBRID_HIT.size * VEXFS_IOC_HYBRID_MAX_K],
});

/** `struct vexfs_ioc_text_index` (336 bytes) of {@linkcode VEXFS_IOC_TEXT_INDEX}. */
export const TEXT_INDEX = struct("struct vexfs_ioc_text_index", 336, {
  ...embed("hdr", 0, HDR),
  op: [16, 4],
  set: [20, 4],
  k1: [24, 8],
  b: [32, 8],
  max_file: [40, 4],
  analyzer: [44, 1],
  stemmer: [45, 1],
  stopwords: [46, 1],
  fresh: [47, 1],
  lang: [48, VEXFS_IOC_LANG_MAX],
  collection_id: [56, 4],
  segments: [60, 4],
  text_generation: [64, 8],
  doc_count: [72, 8],
  total_tokens: [80, 8],
  terms: [88, 8],
  file_bytes: [96, 8],
  text_bytes: [104, 8],
  skipped_binary: [112, 8],
  skipped_large: [120, 8],
  build_us: [128, 8],
  signature: [136, VEXFS_IOC_SIGNATURE_MAX],
  note: [200, VEXFS_IOC_NOTE_MAX],
  reserved: [328, 8],
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
/** `_IOWR(0xE7, 15, struct vexfs_ioc_hybrid)`: directory; keyword, vector or hybrid search below it, filtered. */
export const VEXFS_IOC_HYBRID = iowr(VEXFS_IOC_TYPE, 0x0f, HYBRID.size);
/** `_IOWR(0xE7, 16, struct vexfs_ioc_text_index)`: directory; build, drop or inspect its collection's keyword index. */
export const VEXFS_IOC_TEXT_INDEX = iowr(VEXFS_IOC_TYPE, 0x10, TEXT_INDEX.size);

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
  { name: "VEXFS_IOC_HYBRID", cmd: VEXFS_IOC_HYBRID, layout: HYBRID },
  { name: "VEXFS_IOC_TEXT_INDEX", cmd: VEXFS_IOC_TEXT_INDEX, layout: TEXT_INDEX },
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
  FILTER_CLAUSE,
  HYBRID_HIT,
  HYBRID,
  TEXT_INDEX,
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
  VEXFS_IOC_HYBRID_MAX_K,
  VEXFS_IOC_HYBRID_MAX_CLAUSES,
  VEXFS_IOC_HYBRID_TEXT_MAX,
  VEXFS_IOC_HYBRID_MAX_TERMS,
  VEXFS_IOC_HYBRID_TERM_MAX,
  VEXFS_IOC_HYBRID_MAX_DEPTH,
  VEXFS_IOC_HYBRID_RRF_K,
  VEXFS_IOC_HYBRID_MAX_RRF_K,
  VEXFS_IOC_HYBRID_EXACT,
  VEXFS_IOC_HYBRID_TERMS,
  VEXFS_FUSION_RRF,
  VEXFS_FUSION_WEIGHTED,
  VEXFS_FILTER_EQ,
  VEXFS_FILTER_NE,
  VEXFS_FILTER_LT,
  VEXFS_FILTER_LE,
  VEXFS_FILTER_GT,
  VEXFS_FILTER_GE,
  VEXFS_FILTER_IN,
  VEXFS_FILTER_EXISTS,
  VEXFS_FILTER_NS_USER,
  VEXFS_FILTER_CMP_AUTO,
  VEXFS_IOC_FILTER_NAME_MAX,
  VEXFS_IOC_FILTER_VALUES_MAX,
  VEXFS_IOC_FILTER_MAX_VALUES,
  VEXFS_TEXT_INDEX_OP_BUILD,
  VEXFS_TEXT_INDEX_OP_DROP,
  VEXFS_TEXT_INDEX_OP_STATS,
  VEXFS_TEXT_INDEX_SET_K1,
  VEXFS_TEXT_INDEX_SET_B,
  VEXFS_TEXT_INDEX_SET_MAX_FILE,
  VEXFS_TEXT_INDEX_SET_ANALYZER,
  VEXFS_ANALYZER_WORD_V1,
  VEXFS_IOC_LANG_MAX,
  VEXFS_IOC_SIGNATURE_MAX,
  VEXFS_IOC_FILTER_CLAUSE_SIZE: FILTER_CLAUSE.size,
  VEXFS_IOC_HYBRID_HIT_SIZE: HYBRID_HIT.size,
  VEXFS_IOC_HYBRID_SIZE: HYBRID.size,
  VEXFS_IOC_TEXT_INDEX_SIZE: TEXT_INDEX.size,
});
