/**
 * Encoders and decoders of the administration ioctls (docs/IOCTL.md §3.13,
 * §3.14): `VEXFS_IOC_STATS`, the daemon's counters
 * ({@linkcode StatsReport}, src/stats/report.ts), and
 * `VEXFS_IOC_DROP_COLLECTION`. Their layouts ({@linkcode STATS},
 * {@linkcode DROP_COLLECTION}) are in abi.ts with the other structures,
 * checked against kernel/vexfs_ioctl.h by abi_test.ts; the conventions are
 * abi.ts's: reply decoders throw `FsError("EIO")`, request decoders
 * `FsError("EINVAL")`, little-endian, u64 counts as `number`s (exact up to
 * 2^53 - 1; a larger count read back is EIO).
 * @module
 */
import { FsError } from "../errors.ts";
import { opName, type StatsReport } from "../stats/report.ts";
import {
  checkHeader,
  DROP_COLLECTION,
  newStruct,
  STATS,
  STATS_ERRNO,
  STATS_OP,
  STATS_OP_ERRNO,
  VEXFS_STATS_ERRNOS,
  VEXFS_STATS_OP_ERRNOS,
  VEXFS_STATS_OPS,
  VEXFS_STATS_REQUESTS_OFF,
} from "./abi.ts";
import { dec, enc, getS64, getU64, view } from "./abi_codec.ts";

/** Writes a count (a non-negative number, rounded; clamped to 2^53 - 1). */
function putU64(dv: DataView, off: number, v: number): void {
  const n = Number.isFinite(v) && v > 0 ? Math.min(Math.round(v), Number.MAX_SAFE_INTEGER) : 0;
  dv.setBigUint64(off, BigInt(n), true);
}

function putS64(dv: DataView, off: number, v: number): void {
  dv.setBigInt64(off, BigInt(Math.trunc(Number.isFinite(v) ? v : 0)), true);
}

/** An ASCII name into a NUL-padded field of `len` bytes (cut at `len - 1`). */
function putName(b: Uint8Array, off: number, len: number, s: string): void {
  b.set(enc.encode(s).subarray(0, len - 1), off);
}

function getName(b: Uint8Array, off: number, len: number): string {
  const f = b.subarray(off, off + len);
  const nul = f.indexOf(0);
  return dec.decode(nul < 0 ? f : f.subarray(0, nul));
}

/** A request of {@linkcode VEXFS_IOC_STATS}: none (an `_IOR` command); the buffer to pass is a zeroed {@linkcode STATS}. */
export function encodeStats(): Uint8Array {
  return newStruct(STATS);
}

/**
 * The reply of `VEXFS_IOC_STATS`: every operation with requests in its
 * opcode's entry of `ops`, up to 32 errno entries and 128 (operation,
 * errno) entries, most first (errors of pairs beyond go to `op_errno_other`).
 * @throws FsError EIO for an opcode outside 0..63
 */
export function encodeStatsReply(r: StatsReport): Uint8Array {
  const b = newStruct(STATS);
  const dv = view(b);
  const o = STATS.off;
  const u64: [number, number][] = [
    [o.uptime_ns, r.uptimeNs],
    [o.requests, r.requests],
    [o.errors, r.errors],
    [o.bytes_read, r.bytesRead],
    [o.bytes_written, r.bytesWritten],
    [o.block_cache_hits, r.blockCacheHits],
    [o.block_cache_misses, r.blockCacheMisses],
    [o.inode_cache_hits, r.inodeCacheHits],
    [o.inode_cache_misses, r.inodeCacheMisses],
    [o.journal_commits, r.journalCommits],
    [o.journal_blocks, r.journalBlocks],
    [o.journal_revokes, r.journalRevokes],
    [o.journal_checkpoints, r.journalCheckpoints],
    [o.searches, r.searches],
    [o.search_total_ns, r.searchTotalNs],
    [o.search_p50_ns, r.searchP50Ns],
    [o.search_p90_ns, r.searchP90Ns],
    [o.search_p99_ns, r.searchP99Ns],
    [o.search_max_ns, r.searchMaxNs],
    [o.vectors_set, r.vectorsSet],
    [o.vectors_deleted, r.vectorsDeleted],
    [o.first_error_ino, r.firstError.ino],
    [o.last_error_ino, r.lastError.ino],
    [o.op_errno_other, r.opErrnoOther],
    [o.xattr_cache_hits, r.xattrCacheHits],
    [o.xattr_cache_misses, r.xattrCacheMisses],
  ];
  for (const [off, v] of u64) putU64(dv, off, v);
  putS64(dv, o.mount_time, r.mountTime);
  putS64(dv, o.first_error_time, r.firstError.time);
  putS64(dv, o.last_error_time, r.lastError.time);
  dv.setUint16(o.fs_state, r.fsState, true);
  dv.setUint16(o.fs_errors, r.fsErrors, true);
  dv.setUint32(o.error_count, r.errorCount >>> 0, true);
  dv.setUint32(o.first_error_errno, r.firstError.errno >>> 0, true);
  dv.setUint32(o.last_error_errno, r.lastError.errno >>> 0, true);
  putName(b, o.first_error_op, 32, r.firstError.op);
  putName(b, o.last_error_op, 32, r.lastError.op);
  dv.setUint32(o.stats_flags, r.requestsCounted ? 0 : VEXFS_STATS_REQUESTS_OFF, true);
  dv.setUint32(o.op_count, VEXFS_STATS_OPS, true);
  const q = STATS_OP.off;
  for (const op of r.ops) {
    if (!(Number.isInteger(op.opcode) && op.opcode >= 0 && op.opcode < VEXFS_STATS_OPS)) {
      throw new FsError("EIO", `opcode ${op.opcode} is outside 0..${VEXFS_STATS_OPS - 1}`);
    }
    const at = o.ops + op.opcode * STATS_OP.size;
    putU64(dv, at + q.requests, op.requests);
    putU64(dv, at + q.errors, op.errors);
    putU64(dv, at + q.total_ns, op.totalNs);
    putU64(dv, at + q.p50_ns, op.p50Ns);
    putU64(dv, at + q.p90_ns, op.p90Ns);
    putU64(dv, at + q.p99_ns, op.p99Ns);
    putU64(dv, at + q.max_ns, op.maxNs);
  }
  const errnos = r.errnos.slice(0, VEXFS_STATS_ERRNOS);
  dv.setUint32(o.errno_count, errnos.length, true);
  errnos.forEach((e, i) => {
    const at = o.errnos + i * STATS_ERRNO.size;
    dv.setUint32(at + STATS_ERRNO.off.err, e.errno, true);
    putU64(dv, at + STATS_ERRNO.off.count, e.count);
  });
  const pairs = r.opErrnos.slice(0, VEXFS_STATS_OP_ERRNOS);
  const spill = r.opErrnos.slice(VEXFS_STATS_OP_ERRNOS).reduce((a, x) => a + x.count, 0);
  if (spill) putU64(dv, o.op_errno_other, r.opErrnoOther + spill);
  dv.setUint32(o.op_errno_count, pairs.length, true);
  pairs.forEach((e, i) => {
    const at = o.op_errnos + i * STATS_OP_ERRNO.size;
    dv.setUint32(at + STATS_OP_ERRNO.off.opcode, e.opcode, true);
    dv.setUint32(at + STATS_OP_ERRNO.off.err, e.errno, true);
    putU64(dv, at + STATS_OP_ERRNO.off.count, e.count);
  });
  return b;
}

/**
 * Reads the reply of `VEXFS_IOC_STATS`.
 * @returns the report; `ops` holds the opcodes with requests, in opcode order
 * @throws FsError EIO: a bad header, counts beyond 2^53 - 1, table counts
 *   beyond their arrays
 */
export function decodeStatsReply(b: Uint8Array): StatsReport {
  checkHeader(b, STATS, "EIO");
  const dv = view(b);
  const o = STATS.off;
  const g = (f: keyof typeof o) => getU64(dv, o[f], `${STATS.cName}.${f}`);
  const opCount = dv.getUint32(o.op_count, true);
  const errnoCount = dv.getUint32(o.errno_count, true);
  const pairCount = dv.getUint32(o.op_errno_count, true);
  if (opCount > VEXFS_STATS_OPS || errnoCount > VEXFS_STATS_ERRNOS || pairCount > VEXFS_STATS_OP_ERRNOS) {
    throw new FsError(
      "EIO",
      `${STATS.cName}: op_count ${opCount}, errno_count ${errnoCount}, op_errno_count ${pairCount}`,
    );
  }
  const q = STATS_OP.off;
  const ops = [];
  for (let i = 0; i < opCount; i++) {
    const at = o.ops + i * STATS_OP.size;
    const requests = getU64(dv, at + q.requests, `ops[${i}].requests`);
    if (!requests) continue;
    const n = (f: keyof typeof q) => getU64(dv, at + q[f], `ops[${i}].${f}`);
    ops.push({
      opcode: i,
      name: opName(i),
      requests,
      errors: n("errors"),
      totalNs: n("total_ns"),
      p50Ns: n("p50_ns"),
      p90Ns: n("p90_ns"),
      p99Ns: n("p99_ns"),
      maxNs: n("max_ns"),
    });
  }
  const errnos = [];
  for (let i = 0; i < errnoCount; i++) {
    const at = o.errnos + i * STATS_ERRNO.size;
    errnos.push({
      errno: dv.getUint32(at + STATS_ERRNO.off.err, true),
      count: getU64(dv, at + STATS_ERRNO.off.count, `errnos[${i}].count`),
    });
  }
  const opErrnos = [];
  for (let i = 0; i < pairCount; i++) {
    const at = o.op_errnos + i * STATS_OP_ERRNO.size;
    const opcode = dv.getUint32(at + STATS_OP_ERRNO.off.opcode, true);
    opErrnos.push({
      opcode,
      name: opName(opcode),
      errno: dv.getUint32(at + STATS_OP_ERRNO.off.err, true),
      count: getU64(dv, at + STATS_OP_ERRNO.off.count, `op_errnos[${i}].count`),
    });
  }
  return {
    uptimeNs: g("uptime_ns"),
    mountTime: getS64(dv, o.mount_time, "mount_time"),
    requestsCounted: (dv.getUint32(o.stats_flags, true) & VEXFS_STATS_REQUESTS_OFF) === 0,
    requests: g("requests"),
    errors: g("errors"),
    bytesRead: g("bytes_read"),
    bytesWritten: g("bytes_written"),
    blockCacheHits: g("block_cache_hits"),
    blockCacheMisses: g("block_cache_misses"),
    inodeCacheHits: g("inode_cache_hits"),
    inodeCacheMisses: g("inode_cache_misses"),
    xattrCacheHits: g("xattr_cache_hits"),
    xattrCacheMisses: g("xattr_cache_misses"),
    journalCommits: g("journal_commits"),
    journalBlocks: g("journal_blocks"),
    journalRevokes: g("journal_revokes"),
    journalCheckpoints: g("journal_checkpoints"),
    searches: g("searches"),
    searchTotalNs: g("search_total_ns"),
    searchP50Ns: g("search_p50_ns"),
    searchP90Ns: g("search_p90_ns"),
    searchP99Ns: g("search_p99_ns"),
    searchMaxNs: g("search_max_ns"),
    vectorsSet: g("vectors_set"),
    vectorsDeleted: g("vectors_deleted"),
    fsState: dv.getUint16(o.fs_state, true),
    fsErrors: dv.getUint16(o.fs_errors, true),
    errorCount: dv.getUint32(o.error_count, true),
    firstError: {
      errno: dv.getUint32(o.first_error_errno, true),
      time: getS64(dv, o.first_error_time, "first_error_time"),
      ino: g("first_error_ino"),
      op: getName(b, o.first_error_op, 32),
    },
    lastError: {
      errno: dv.getUint32(o.last_error_errno, true),
      time: getS64(dv, o.last_error_time, "last_error_time"),
      ino: g("last_error_ino"),
      op: getName(b, o.last_error_op, 32),
    },
    ops,
    errnos,
    opErrnos,
    opErrnoOther: g("op_errno_other"),
  };
}

/** Reply of `VEXFS_IOC_DROP_COLLECTION`: what was dropped. */
export interface DropReply {
  /** the id the collection had */
  collectionId: number;
  /** vectors deleted with it */
  vectors: number;
  /** inode of its root directory (which stays) */
  rootIno: number;
}

/** The request of `VEXFS_IOC_DROP_COLLECTION`: the header alone, the rest zero. */
export function encodeDropCollection(): Uint8Array {
  return newStruct(DROP_COLLECTION);
}

/**
 * Checks a `VEXFS_IOC_DROP_COLLECTION` request.
 * @throws FsError EINVAL: bad header, a non-zero byte past it
 */
export function decodeDropCollection(b: Uint8Array): void {
  checkHeader(b, DROP_COLLECTION);
  for (let i = DROP_COLLECTION.off.collection_id; i < b.length; i++) {
    if (b[i] !== 0) throw new FsError("EINVAL", `${DROP_COLLECTION.cName}: byte ${i} must be zero in a request`);
  }
}

/** Builds the reply of `VEXFS_IOC_DROP_COLLECTION`. */
export function encodeDropCollectionReply(r: DropReply): Uint8Array {
  const b = newStruct(DROP_COLLECTION);
  const dv = view(b);
  const o = DROP_COLLECTION.off;
  dv.setUint32(o.collection_id, r.collectionId, true);
  putU64(dv, o.vectors, r.vectors);
  putU64(dv, o.root_ino, r.rootIno);
  return b;
}

/**
 * Reads the reply of `VEXFS_IOC_DROP_COLLECTION`.
 * @throws FsError EIO for a bad header
 */
export function decodeDropCollectionReply(b: Uint8Array): DropReply {
  checkHeader(b, DROP_COLLECTION, "EIO");
  const dv = view(b);
  const o = DROP_COLLECTION.off;
  return {
    collectionId: dv.getUint32(o.collection_id, true),
    vectors: getU64(dv, o.vectors, "vectors"),
    rootIno: getU64(dv, o.root_ino, "root_ino"),
  };
}
