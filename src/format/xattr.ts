/**
 * Extended-attribute block codec (docs/FORMAT.md §7). All of an inode's
 * attributes live in one block, sorted by (namespace, name).
 * @module
 */
import { FsError } from "../errors.ts";
import { XATTR_MAGIC } from "./constants.ts";
import { blockChecksumOk, setBlockChecksum } from "./extent.ts";

/** Name prefixes by namespace code (FORMAT.md §7): 1 `user.`, 2 `trusted.`, 3 `security.`, 4 `system.`. */
export const XATTR_PREFIXES = ["", "user.", "trusted.", "security.", "system."];
const PREFIXES = XATTR_PREFIXES;

/** The full name ("user.foo") of namespace `ns` and name bytes `name` (decoded as UTF-8). */
export function joinXattrName(ns: number, name: Uint8Array): string {
  return PREFIXES[ns] + new TextDecoder().decode(name);
}

/** Bytes a name adds to the listxattr(2) list: prefix, name and a NUL. */
export function xattrListBytes(ns: number, nameLen: number): number {
  return PREFIXES[ns].length + nameLen + 1;
}

/** Splits "user.foo" into [namespace code, name bytes]; EOPNOTSUPP for unknown prefixes. */
export function splitXattrName(full: string): [number, Uint8Array] {
  for (let ns = 1; ns < PREFIXES.length; ns++) {
    if (full.startsWith(PREFIXES[ns])) {
      const name = new TextEncoder().encode(full.slice(PREFIXES[ns].length));
      if (name.length === 0) throw new FsError("EINVAL", `xattr name '${full}' has nothing after its prefix`);
      if (name.length > 255) throw new FsError("ERANGE", `xattr name '${full}' is longer than 255 bytes`);
      return [ns, name];
    }
  }
  throw new FsError(
    "EOPNOTSUPP",
    `xattr name '${full}' has no supported namespace (user., trusted., security., system.)`,
  );
}

/**
 * Decodes an xattr block into a map from full name ("user.foo") to value.
 * @throws FsError EUCLEAN on a bad magic, checksum or entry layout
 */
export function decodeXattrBlock(b: Uint8Array, ino: number): Map<string, Uint8Array> {
  const dv = new DataView(b.buffer, b.byteOffset, b.length);
  if (dv.getUint32(0, true) !== XATTR_MAGIC) throw new FsError("EUCLEAN", `inode ${ino}: xattr block has bad magic`);
  if (!blockChecksumOk(b, ino)) throw new FsError("EUCLEAN", `inode ${ino}: xattr block checksum mismatch`);
  const count = dv.getUint32(4, true);
  const used = dv.getUint32(8, true);
  if (16 + used > b.length - 4) throw new FsError("EUCLEAN", `inode ${ino}: xattr block claims ${used} bytes in use`);
  const out = new Map<string, Uint8Array>();
  let off = 16;
  const dec = new TextDecoder();
  for (let i = 0; i < count; i++) {
    if (off + 8 > 16 + used) throw new FsError("EUCLEAN", `inode ${ino}: xattr entry ${i} runs past the used area`);
    const ns = b[off];
    const nlen = b[off + 1];
    const vlen = dv.getUint32(off + 4, true);
    const len = (8 + nlen + vlen + 7) & ~7;
    if (ns < 1 || ns > 4 || nlen === 0 || off + len > 16 + used) {
      throw new FsError("EUCLEAN", `inode ${ino}: xattr entry ${i} is malformed`);
    }
    const name = PREFIXES[ns] + dec.decode(b.subarray(off + 8, off + 8 + nlen));
    out.set(name, b.slice(off + 8 + nlen, off + 8 + nlen + vlen));
    off += len;
  }
  if (off !== 16 + used) throw new FsError("EUCLEAN", `inode ${ino}: xattr block used bytes do not match its entries`);
  return out;
}

/** Bytes an attribute takes in the block. */
export function xattrEntrySize(full: string, valueLen: number): number {
  const [, name] = splitXattrName(full);
  return (8 + name.length + valueLen + 7) & ~7;
}

/**
 * Encodes attributes into one block of `blockSize` bytes with its checksum.
 * @throws FsError ENOSPC when they do not fit in one block
 */
export function encodeXattrBlock(attrs: Map<string, Uint8Array>, blockSize: number, ino: number): Uint8Array {
  const entries = [...attrs].map(([full, v]) => {
    const [ns, name] = splitXattrName(full);
    return { ns, name, v };
  }).sort((a, b) => a.ns - b.ns || cmpBytes(a.name, b.name));
  const b = new Uint8Array(blockSize);
  const dv = new DataView(b.buffer);
  let off = 16;
  for (const e of entries) {
    const len = (8 + e.name.length + e.v.length + 7) & ~7;
    if (off + len > blockSize - 4) {
      throw new FsError("ENOSPC", `inode ${ino}: extended attributes need more than one ${blockSize}-byte block`);
    }
    b[off] = e.ns;
    b[off + 1] = e.name.length;
    dv.setUint32(off + 4, e.v.length, true);
    b.set(e.name, off + 8);
    b.set(e.v, off + 8 + e.name.length);
    off += len;
  }
  dv.setUint32(0, XATTR_MAGIC, true);
  dv.setUint32(4, entries.length, true);
  dv.setUint32(8, off - 16, true);
  setBlockChecksum(b, ino);
  return b;
}

function cmpBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}
