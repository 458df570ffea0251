/**
 * Limits of the BM25 fields of a collection record (FORMAT.md §8.1), in a
 * module of their own without the CRC package: the ioctl ABI
 * (src/ioctl/abi_hybrid.ts) validates against them, and clients such as
 * `deno eval --no-config` scripts load it without the npm dependencies the
 * record codec needs.
 * @module
 */

/** Smallest and largest `bm25_max_file`, bytes (FORMAT.md §8.1). */
export const BM25_MAX_FILE_MIN = 1024;
export const BM25_MAX_FILE_MAX = 2 ** 30;
/** Largest `bm25_k1` (FORMAT.md §8.1; k1 > 0). */
export const BM25_K1_MAX = 10;
/** The one analyzer id defined: `word-v1` (FORMAT.md §8.1). */
export const BM25_ANALYZER_WORD_V1 = 1;

/**
 * Whether `b` (the 8 bytes of `bm25_lang`, FORMAT.md §8.1) is a valid language field: 0..8 ASCII lowercase
 * letters followed only by NULs.
 */
export function bm25LangValid(b: Uint8Array): boolean {
  let i = 0;
  while (i < b.length && b[i] >= 0x61 && b[i] <= 0x7a) i++;
  while (i < b.length && b[i] === 0) i++;
  return i === b.length;
}
