/**
 * The VexFS ioctl ABI: the TypeScript mirror of
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
 *
 * The code is split along the ABI's concerns, all re-exported here:
 * abi_layout.ts (numbers: `_IOC`, constants, layouts, commands),
 * abi_codec.ts (the shared field codecs), abi_vectors.ts (filesystem,
 * vector and collection commands), abi_search.ts (SEARCH, SEARCH2),
 * abi_index.ts (INDEX), abi_hybrid.ts (HYBRID, TEXT_INDEX) and abi_admin.ts
 * (STATS, DROP_COLLECTION).
 * @module
 */
export * from "./abi_layout.ts";
export { checkHeader, elemOfCode, ENOTTY, errnoFsError, metricOfCode, newStruct, type U64 } from "./abi_codec.ts";
export * from "./abi_vectors.ts";
export * from "./abi_search.ts";
export * from "./abi_index.ts";
export * from "./abi_hybrid.ts";
