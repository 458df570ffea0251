/**
 * The field codecs the ioctl encoders and decoders share: u64/s64/u32/u16
 * fields with their errnos (EINVAL for a request's field, EIO for a reply's),
 * the structure header (magic, version, size), zero checks, metric and
 * element codes, f32 arrays, the collection member, and errno numbers.
 * abi.ts re-exports the public ones ({@linkcode newStruct},
 * {@linkcode checkHeader}, {@linkcode metricOfCode}, {@linkcode elemOfCode},
 * {@linkcode errnoFsError}, {@linkcode ENOTTY}, {@linkcode U64}); the rest
 * serve the abi_*.ts modules only.
 * @module
 */
import type { StructLayout } from "../struct_layout.ts";
import { ERRNO, type ErrnoName, FsError } from "../errors.ts";
import type { CollectionInfo } from "../fs/vectors.ts";
import { ELEM_CODE, ELEM_TYPES, elemSize, type ElemType, type Metric, METRIC_CODE, METRICS } from "../vector/types.ts";
import {
  COLLECTION,
  structVersion,
  VECTOR_XATTR,
  VEXFS_INDEX_FLAT,
  VEXFS_INDEX_HNSW,
  VEXFS_IOC_MAGIC,
  VEXFS_IOC_MAX_DIM,
} from "./abi_layout.ts";

// ------------------------------------------------------------ helpers

/** The errno of a bad field: EINVAL in a request (the caller's), EIO in a reply (the filesystem's). */
export type Code = "EINVAL" | "EIO";

/** A little-endian view of the bytes of `b` (no copy). */
export function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * A u64 inode number a caller passes in: a `number` up to 2^53 - 1
 * (`Number.MAX_SAFE_INTEGER`), a `bigint` above, so that every u64 value
 * round-trips exactly. No VexFS inode number is above 2^53 - 1 (the engine
 * numbers inodes 1..inode_count with `number`s), so a `bigint` names no inode.
 */
export type U64 = number | bigint;

/** 2^53 - 1 as a bigint: the largest u64 a `number` holds exactly. */
export const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);
/** 2^64 - 1. */
export const U64_MAX = (1n << 64n) - 1n;

/** A u64 of a request, exactly: a number up to 2^53 - 1, a bigint above. */
export function getU64Exact(dv: DataView, off: number): U64 {
  const v = dv.getBigUint64(off, true);
  return v <= SAFE_MAX ? Number(v) : v;
}

/**
 * A u64 of a reply as a number.
 * @throws FsError EIO above 2^53 - 1, which a number cannot hold exactly
 */
export function getU64(dv: DataView, off: number, field: string): number {
  const v = dv.getBigUint64(off, true);
  if (v > SAFE_MAX) {
    throw new FsError("EIO", `${field} = ${v} is above 2^53 - 1, more than this program can represent exactly`);
  }
  return Number(v);
}

/** An s64 of a reply as a number; FsError EIO beyond ±(2^53 - 1). */
export function getS64(dv: DataView, off: number, field: string): number {
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
export function setU64(dv: DataView, off: number, v: U64, field: string, code: Code): void {
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
export function setS64(dv: DataView, off: number, v: number, field: string, code: Code): void {
  if (!Number.isSafeInteger(v)) throw new FsError(code, `${field} = ${v} is not an integer an s64 holds exactly`);
  dv.setBigInt64(off, BigInt(v), true);
}

/** Writes a u32; FsError `code` (see {@linkcode setU64}) naming the field for any other value. */
export function setU32(dv: DataView, off: number, v: number, field: string, code: Code): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new FsError(code, `${field} = ${v} is not a u32`);
  dv.setUint32(off, v, true);
}

/** Writes a u16 request field; FsError EINVAL naming the field for any other value. */
export function setU16(dv: DataView, off: number, v: number, field: string): void {
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
export function checkZero(b: Uint8Array, off: number, len: number, what: string, code: Code): void {
  const end = off + len;
  for (let i = off; i < end; i++) {
    if (b[i] !== 0) {
      throw new FsError(code, `${what} must be zero (byte ${i - off} of it is ${b[i]})`);
    }
  }
}

/** Checks that the listed members of `layout` are zero in `b`. */
export function checkZeroFields<F extends string>(
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

/**
 * Checks a dimension carried by an ioctl: 1..{@linkcode VEXFS_IOC_MAX_DIM}.
 * @throws FsError `code` naming `what`, with the xattr to use for wider vectors
 */
export function checkDim(dim: number, what: string, code: Code): void {
  if (dim < 1 || dim > VEXFS_IOC_MAX_DIM) {
    throw new FsError(
      code,
      `${what} = ${dim} is out of range (1..${VEXFS_IOC_MAX_DIM} through an ioctl; ` +
        `wider vectors go through the ${VECTOR_XATTR} extended attribute)`,
    );
  }
}

/** Writes `v.length` little-endian f32s at byte `off`. */
export function putF32s(dv: DataView, off: number, v: Float32Array): void {
  for (let i = 0; i < v.length; i++) dv.setFloat32(off + 4 * i, v[i], true);
}

/** Reads `n` little-endian f32s at byte `off`: a new `Float32Array` of length n. */
export function getF32s(dv: DataView, off: number, n: number): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = dv.getFloat32(off + 4 * i, true);
  return v;
}

/** UTF-8 codecs of the string members (paths, labels, notes). */
export const enc = new TextEncoder();
export const dec = new TextDecoder();
/** Whether this CPU is little-endian, as the ABI is: f32 arrays can then be copied as they are. */
export const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// ------------------------------------------------------------ collection

/** Writes a collection the filesystem reports (values that do not fit are FsError EIO). */
export function writeCollection(dv: DataView, at: number, c: CollectionInfo): void {
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

/**
 * Reads a `struct vexfs_ioc_collection` at byte `at` of a reply.
 * @throws FsError EIO for an unknown metric or element code, or a u64 above 2^53 - 1
 */
export function readCollection(dv: DataView, at: number): CollectionInfo {
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
