/**
 * Xattr store codec (docs/FORMAT.md §7.2): the entry blocks and value blocks
 * of an internal "xattr store" file that holds the attributes of an inode
 * whose attributes outgrew one xattr block (§7.1). Every block ends with a
 * CRC-32C seeded with the store's inode number and records its own file
 * block number. All integers are little-endian.
 * @module
 */
import { FsError } from "../errors.ts";
import { XATTR_ENTRY_MAGIC, XATTR_SIZE_MAX, XATTR_VALUE_BASE, XATTR_VALUE_MAGIC } from "./constants.ts";
import { blockChecksumOk, setBlockChecksum } from "./extent.ts";

/** Entry flag: the value lives in a value run, not inline (FORMAT.md §7.2). */
export const XENT_EXTERNAL = 0x1;
/** Bytes of an entry block before its entries. */
export const XATTR_ENTRY_HEADER = 24;
/** Bytes of an entry before its name. */
export const XATTR_ENTRY_FIXED = 16;
/** Bytes of a value block before its data. */
export const XATTR_VALUE_HEADER = 16;

/** One entry of an entry block. */
export interface StoreEntry {
  /** namespace code 1..4 (FORMAT.md §7) */
  ns: number;
  /** name bytes after the prefix, 1..255 */
  name: Uint8Array;
  /** value length in bytes, 0..65536 */
  valueLen: number;
  /** with {@link XENT_EXTERNAL}: first file block of the value run (≥ 65536), else 0 */
  valueBlock: number;
  /** the inline value bytes, or null for an external value */
  inline: Uint8Array | null;
}

/** Bytes an entry takes in an entry block: `align8(16 + name_len + inline bytes)`. */
export function storeEntrySize(nameLen: number, inlineLen: number): number {
  return (XATTR_ENTRY_FIXED + nameLen + inlineLen + 7) & ~7;
}

/** Bytes of entries an entry block of `blockSize` bytes holds. */
export function entryBlockCapacity(blockSize: number): number {
  return blockSize - 4 - XATTR_ENTRY_HEADER;
}

/** Value bytes one value block holds: `block_size - 20`. */
export function valueBlockPayload(blockSize: number): number {
  return blockSize - XATTR_VALUE_HEADER - 4;
}

/** File blocks of the value run of a `valueLen`-byte value: `ceil(valueLen / (block_size - 20))`. */
export function valueRunLength(valueLen: number, blockSize: number): number {
  return Math.ceil(valueLen / valueBlockPayload(blockSize));
}

/**
 * Decodes an entry block of the store inode `storeIno` at file block `fileBlock`.
 * @param verify check the checksum (fsck decodes a block whose checksum it already judged)
 * @throws FsError EUCLEAN on a bad magic, checksum, file block, or entry layout (the message says which)
 */
export function decodeEntryBlock(b: Uint8Array, storeIno: number, fileBlock: number, verify = true): StoreEntry[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const where = `xattr store ${storeIno} entry block ${fileBlock}`;
  const bad = (why: string) => new FsError("EUCLEAN", `inode ${storeIno}: ${where}: ${why}`);
  if (dv.getUint32(0, true) !== XATTR_ENTRY_MAGIC) throw bad("bad magic");
  if (verify && !blockChecksumOk(b, storeIno)) throw bad("checksum mismatch");
  if (Number(dv.getBigUint64(16, true)) !== fileBlock) {
    throw bad(`records file block ${dv.getBigUint64(16, true)}`);
  }
  const count = dv.getUint32(4, true);
  const used = dv.getUint32(8, true);
  const end = XATTR_ENTRY_HEADER + used;
  if (used > entryBlockCapacity(b.length)) throw bad(`claims ${used} bytes in use`);
  const out: StoreEntry[] = [];
  let off = XATTR_ENTRY_HEADER;
  for (let i = 0; i < count; i++) {
    if (off + XATTR_ENTRY_FIXED > end) throw bad(`entry ${i} runs past the used area`);
    const ns = b[off];
    const nlen = b[off + 1];
    const flags = dv.getUint16(off + 2, true);
    const vlen = dv.getUint32(off + 4, true);
    const vblock = dv.getBigUint64(off + 8, true);
    const external = (flags & XENT_EXTERNAL) !== 0;
    if (ns < 1 || ns > 4 || nlen === 0) throw bad(`entry ${i} has namespace ${ns} and name length ${nlen}`);
    if (flags & ~XENT_EXTERNAL) throw bad(`entry ${i} has unknown flags 0x${flags.toString(16)}`);
    if (vlen > XATTR_SIZE_MAX) throw bad(`entry ${i} has a ${vlen}-byte value (at most ${XATTR_SIZE_MAX})`);
    if (external && (vlen === 0 || vblock < BigInt(XATTR_VALUE_BASE) || vblock > BigInt(Number.MAX_SAFE_INTEGER))) {
      throw bad(`entry ${i} has an external value of ${vlen} bytes at file block ${vblock}`);
    }
    if (!external && vblock !== 0n) throw bad(`entry ${i} has an inline value but value_block ${vblock}`);
    const len = storeEntrySize(nlen, external ? 0 : vlen);
    if (off + len > end) throw bad(`entry ${i} runs past the used area`);
    const nameAt = off + XATTR_ENTRY_FIXED;
    out.push({
      ns,
      name: b.slice(nameAt, nameAt + nlen),
      valueLen: vlen,
      valueBlock: Number(vblock),
      inline: external ? null : b.slice(nameAt + nlen, nameAt + nlen + vlen),
    });
    off += len;
  }
  if (off !== end) throw bad(`used bytes (${used}) do not match its entries (${off - XATTR_ENTRY_HEADER})`);
  return out;
}

/**
 * Encodes entries into an entry block of `blockSize` bytes for store `storeIno` at file block `fileBlock`.
 * @throws FsError ENOSPC when they do not fit (callers check {@link entryBlockCapacity} first)
 */
export function encodeEntryBlock(
  entries: StoreEntry[],
  blockSize: number,
  storeIno: number,
  fileBlock: number,
): Uint8Array {
  const b = new Uint8Array(blockSize);
  const dv = new DataView(b.buffer);
  let off = XATTR_ENTRY_HEADER;
  for (const e of entries) {
    const inl = e.inline ? e.inline.length : 0;
    const len = storeEntrySize(e.name.length, inl);
    if (off + len > blockSize - 4) {
      throw new FsError("ENOSPC", `inode ${storeIno}: xattr store entry block ${fileBlock} is full`);
    }
    b[off] = e.ns;
    b[off + 1] = e.name.length;
    dv.setUint16(off + 2, e.inline ? 0 : XENT_EXTERNAL, true);
    dv.setUint32(off + 4, e.valueLen, true);
    dv.setBigUint64(off + 8, BigInt(e.inline ? 0 : e.valueBlock), true);
    b.set(e.name, off + XATTR_ENTRY_FIXED);
    if (e.inline) b.set(e.inline, off + XATTR_ENTRY_FIXED + e.name.length);
    off += len;
  }
  dv.setUint32(0, XATTR_ENTRY_MAGIC, true);
  dv.setUint32(4, entries.length, true);
  dv.setUint32(8, off - XATTR_ENTRY_HEADER, true);
  dv.setBigUint64(16, BigInt(fileBlock), true);
  setBlockChecksum(b, storeIno);
  return b;
}

/**
 * Encodes a value into its run: `valueRunLength` blocks for file blocks
 * `firstBlock ..`, each with its header and checksum (FORMAT.md §7.2).
 */
export function encodeValueRun(value: Uint8Array, blockSize: number, storeIno: number, firstBlock: number): Uint8Array {
  const per = valueBlockPayload(blockSize);
  const n = valueRunLength(value.length, blockSize);
  const out = new Uint8Array(n * blockSize);
  for (let i = 0; i < n; i++) {
    const b = out.subarray(i * blockSize, (i + 1) * blockSize);
    const dv = new DataView(b.buffer, b.byteOffset, blockSize);
    const part = value.subarray(i * per, Math.min(value.length, (i + 1) * per));
    dv.setUint32(0, XATTR_VALUE_MAGIC, true);
    dv.setUint32(4, part.length, true);
    dv.setBigUint64(8, BigInt(firstBlock + i), true);
    b.set(part, XATTR_VALUE_HEADER);
    setBlockChecksum(b, storeIno);
  }
  return out;
}

/**
 * The data of value block `i` of a run (at file block `fileBlock`) of a
 * `valueLen`-byte value.
 * @throws FsError EUCLEAN on a bad magic, checksum, file block or length
 */
export function decodeValueBlock(
  b: Uint8Array,
  storeIno: number,
  fileBlock: number,
  i: number,
  valueLen: number,
  verify = true,
): Uint8Array {
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  const bad = (why: string) =>
    new FsError("EUCLEAN", `inode ${storeIno}: xattr store ${storeIno} value block ${fileBlock}: ${why}`);
  if (dv.getUint32(0, true) !== XATTR_VALUE_MAGIC) throw bad("bad magic");
  if (verify && !blockChecksumOk(b, storeIno)) throw bad("checksum mismatch");
  if (Number(dv.getBigUint64(8, true)) !== fileBlock) throw bad(`records file block ${dv.getBigUint64(8, true)}`);
  const per = valueBlockPayload(b.length);
  const want = Math.min(per, valueLen - i * per);
  const len = dv.getUint32(4, true);
  if (len !== want) throw bad(`holds ${len} bytes, expected ${want}`);
  return b.subarray(XATTR_VALUE_HEADER, XATTR_VALUE_HEADER + len);
}
