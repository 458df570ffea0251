/**
 * Directory name hash of the VexFS format (docs/FORMAT.md §6): MurmurHash3
 * x86_32, the 32-bit variant of Austin Appleby's MurmurHash3 (public domain,
 * https://github.com/aappleby/smhasher, `MurmurHash3_x86_32` in
 * `src/MurmurHash3.cpp`), seeded with `superblock.hash_seed`.
 *
 * @example
 * ```ts
 * import { dirHash } from "./hash.ts";
 * dirHash(new TextEncoder().encode("test"), 0); // 0xBA6BD213
 * ```
 * @module
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** Final avalanche of MurmurHash3 (`fmix32`): every input bit affects every output bit. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * MurmurHash3 x86_32 of `name` with `seed` (Austin Appleby's MurmurHash3, as
 * in SMHasher's `MurmurHash3_x86_32`): 4-byte little-endian blocks mixed with
 * constants 0xcc9e2d51 / 0x1b873593 and rotations 15 / 13, the 1..3 tail bytes
 * mixed the same way, then the length and the `fmix32` finaliser.
 *
 * @param name the bytes to hash (a directory entry name: raw UTF-8, any length)
 * @param seed 32-bit seed (`superblock.hash_seed`); only its low 32 bits are used
 * @returns the hash as an unsigned 32-bit integer (0 .. 2^32-1)
 */
export function dirHash(name: Uint8Array, seed: number): number {
  const len = name.length;
  const nblocks = len >>> 2;
  let h = seed | 0;
  let i = 0;
  for (let b = 0; b < nblocks; b++, i += 4) {
    let k = name[i] | (name[i + 1] << 8) | (name[i + 2] << 16) |
      (name[i + 3] << 24);
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  switch (len & 3) {
    case 3:
      k ^= name[i + 2] << 16;
    // falls through
    case 2:
      k ^= name[i + 1] << 8;
    // falls through
    case 1:
      k ^= name[i];
      k = Math.imul(k, C1);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, C2);
      h ^= k;
  }
  h ^= len;
  return fmix32(h);
}
