/**
 * Which file contents the keyword index treats as text (issue 12, design §3.2).
 *
 * A file is **binary**, and skipped by the BM25 index (counted in the index header's `skipped_binary`), when
 * - one of its first {@linkcode BINARY_SNIFF_BYTES} bytes is NUL: git's rule, `buffer_is_binary()` in
 *   git's `xdiff-interface.c` (`FIRST_FEW_BYTES` = 8000, `memchr(ptr, 0, size)` over the first few bytes); or
 * - any of its bytes is not well-formed UTF-8 (WHATWG Encoding, `TextDecoder` with `fatal: true`:
 *   overlong forms, surrogates encoded in UTF-8, code points past U+10FFFF and truncated sequences all fail).
 *
 * Otherwise the file's text is its UTF-8 decoding with a leading byte-order mark (EF BB BF) dropped.
 *
 * @example
 * ```ts
 * import { decodeText } from "./binary.ts";
 * decodeText(new TextEncoder().encode("\uFEFFhello")); // "hello"
 * decodeText(new Uint8Array([0x68, 0x00, 0x69]));     // null (NUL byte)
 * decodeText(new Uint8Array([0x68, 0xff]));           // null (invalid UTF-8)
 * ```
 * @module
 */

/** Bytes at the start of a file searched for a NUL byte (git's `FIRST_FEW_BYTES`, xdiff-interface.c). */
export const BINARY_SNIFF_BYTES = 8000;

// WHATWG TextDecoder: `fatal` throws a TypeError on malformed input; `ignoreBOM: false` (the default) strips
// one leading U+FEFF. decode() without `stream` keeps no state between calls, so one instance serves all.
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * Returns true when `bytes` has a NUL byte among its first {@linkcode BINARY_SNIFF_BYTES} bytes (a NUL at
 * index 7999 counts, one at index 8000 does not).
 * @param bytes file contents, or at least its first 8000 bytes
 */
export function hasNulPrefix(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, BINARY_SNIFF_BYTES);
  return bytes.subarray(0, n).indexOf(0) !== -1;
}

/**
 * Decodes a file's contents as text for the keyword index.
 * @param bytes the whole file contents
 * @returns the text (UTF-8 decoded, a leading BOM dropped; "" for an empty file), or `null` when the file
 *   is binary: a NUL byte in its first 8000 bytes, or malformed UTF-8 anywhere
 * @throws nothing
 */
export function decodeText(bytes: Uint8Array): string | null {
  if (hasNulPrefix(bytes)) return null;
  try {
    return UTF8.decode(bytes);
  } catch {
    return null;
  }
}
