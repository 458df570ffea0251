/*
 * crc32c.c - CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, as in
 * iSCSI: RFC 3720 §B.4) for the checksums of docs/FORMAT.md §1, exported by
 * the `kernels` module and called from src/format/crc.ts.
 *
 * Algorithm: table-driven "slicing-by-8" (M. E. Kounavis and F. L. Berry,
 * "A Systematic Approach to Building High Performance Software-Based CRC
 * Generators", Intel, ISCC 2005): eight 256-entry tables T[k][b] = CRC of byte
 * b followed by k zero bytes, so eight input bytes are folded with eight
 * independent table lookups instead of a chain of eight. WebAssembly has no
 * CRC or carry-less multiply instruction, so tables are the fastest portable
 * way. To hide the latency of the lookups, long inputs are cut into three
 * lanes checksummed in one loop (three independent dependency chains) and
 * joined with CRC "shifts": crc(A || B) = shift(crc(A), |B|) ^ crc(B) for the
 * raw (non-inverted) register, where shift multiplies by x^(8|B|) mod P,
 * applied with four 256-entry tables built for the lane length (the technique
 * of Intel's crc_pcl / Linux's crc32c-pcl-intel, with tables instead of
 * PCLMULQDQ).
 *
 * Tables (8 KiB + 4 KiB per distinct lane length cached) are built on first
 * use in the module's static data.
 */
#include <stddef.h>
#include <stdint.h>

#include "vx_wasm.h"


#define POLY 0x82F63B78u

static uint32_t T[8][256];
static int tables_ready;

static void build_tables(void) {
  for (uint32_t b = 0; b < 256; b++) {
    uint32_t c = b;
    for (int i = 0; i < 8; i++) c = (c >> 1) ^ (POLY & (0u - (c & 1)));
    T[0][b] = c;
  }
  for (uint32_t b = 0; b < 256; b++) {
    for (int k = 1; k < 8; k++) T[k][b] = (T[k - 1][b] >> 8) ^ T[0][T[k - 1][b] & 0xff];
  }
  tables_ready = 1;
}

static inline uint32_t load32(const uint8_t *p) {
  uint32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

/* Raw register update (no inversion) over n bytes, slicing-by-8. */
static inline uint32_t update(uint32_t c, const uint8_t *p, size_t n) {
  while (n && ((uintptr_t)p & 7)) {
    c = T[0][(c ^ *p++) & 0xff] ^ (c >> 8);
    n--;
  }
  while (n >= 8) {
    uint32_t a = load32(p) ^ c, b = load32(p + 4);
    c = T[7][a & 0xff] ^ T[6][(a >> 8) & 0xff] ^ T[5][(a >> 16) & 0xff] ^ T[4][a >> 24] ^
        T[3][b & 0xff] ^ T[2][(b >> 8) & 0xff] ^ T[1][(b >> 16) & 0xff] ^ T[0][b >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) c = T[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return c;
}

/* ---- shifting a raw register over zero bytes ---------------------------- */

/*
 * GF(2) polynomial product a * b mod P in the reflected representation
 * (bit 31 is x^0): the classic multmodp of zlib's crc32.c (Mark Adler).
 */
static uint32_t multmodp(uint32_t a, uint32_t b) {
  uint32_t m = 1u << 31, p = 0;
  if (a == 0) return 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) == 0) break;
    }
    m >>= 1;
    b = b & 1 ? (b >> 1) ^ POLY : b >> 1;
  }
  return p;
}

/* x^(8n) mod P, reflected, by square-and-multiply over the bits of n. */
static uint32_t x8nmodp(size_t n) {
  uint32_t r = 1u << 31;     /* x^0 */
  uint32_t sq = 1u << 23;    /* x^8 */
  while (n) {
    if (n & 1) r = multmodp(sq, r);
    sq = multmodp(sq, sq);
    n >>= 1;
  }
  return r;
}

/*
 * Shift tables for one lane length: S[i][b] = (b << 8i) * x^(8n) mod P, so
 * shift(c) = S[0][c&255] ^ S[1][(c>>8)&255] ^ S[2][(c>>16)&255] ^ S[3][c>>24]
 * (multiplication distributes over xor). Cached for the last length used.
 */
static uint32_t S[4][256];
static size_t shift_len = (size_t)-1;

static void build_shift(size_t n) {
  uint32_t m = x8nmodp(n);
  for (int i = 0; i < 4; i++) {
    for (uint32_t b = 0; b < 256; b++) S[i][b] = multmodp(b << (8 * i), m);
  }
  shift_len = n;
}

static inline uint32_t shift(uint32_t c) {
  return S[0][c & 0xff] ^ S[1][(c >> 8) & 0xff] ^ S[2][(c >> 16) & 0xff] ^ S[3][c >> 24];
}

/* Lane length for three-way interleaving: inputs shorter than 3 lanes of this use one chain. */
#define LANE 4096

/* Raw register update over n bytes with three interleaved chains for long inputs. */
static uint32_t update_long(uint32_t c, const uint8_t *p, size_t n) {
  if (n < 3 * LANE) return update(c, p, n);
  if (shift_len != LANE) build_shift(LANE);
  while (n >= 3 * LANE) {
    uint32_t c0 = c, c1 = 0, c2 = 0;
    const uint8_t *p0 = p, *p1 = p + LANE, *p2 = p + 2 * LANE;
    for (size_t i = 0; i < LANE; i += 8) {
      uint32_t a0 = load32(p0 + i) ^ c0, b0 = load32(p0 + i + 4);
      uint32_t a1 = load32(p1 + i) ^ c1, b1 = load32(p1 + i + 4);
      uint32_t a2 = load32(p2 + i) ^ c2, b2 = load32(p2 + i + 4);
      c0 = T[7][a0 & 0xff] ^ T[6][(a0 >> 8) & 0xff] ^ T[5][(a0 >> 16) & 0xff] ^ T[4][a0 >> 24] ^
           T[3][b0 & 0xff] ^ T[2][(b0 >> 8) & 0xff] ^ T[1][(b0 >> 16) & 0xff] ^ T[0][b0 >> 24];
      c1 = T[7][a1 & 0xff] ^ T[6][(a1 >> 8) & 0xff] ^ T[5][(a1 >> 16) & 0xff] ^ T[4][a1 >> 24] ^
           T[3][b1 & 0xff] ^ T[2][(b1 >> 8) & 0xff] ^ T[1][(b1 >> 16) & 0xff] ^ T[0][b1 >> 24];
      c2 = T[7][a2 & 0xff] ^ T[6][(a2 >> 8) & 0xff] ^ T[5][(a2 >> 16) & 0xff] ^ T[4][a2 >> 24] ^
           T[3][b2 & 0xff] ^ T[2][(b2 >> 8) & 0xff] ^ T[1][(b2 >> 16) & 0xff] ^ T[0][b2 >> 24];
    }
    /* crc(A||B||C) raw = shift(shift(cA) ^ cB) ^ cC (cB, cC started from 0). */
    c = shift(shift(c0) ^ c1) ^ c2;
    p += 3 * LANE;
    n -= 3 * LANE;
  }
  return update(c, p, n);
}

/*
 * CRC-32C of n bytes at p continuing from prev, the finished CRC of the bytes
 * before them (0 to start): the same value as the crc-32 npm package's
 * CRC32C.buf(data, prev) taken as unsigned.
 */
uint32_t VX_EXPORT(vx_crc32c)(uint32_t prev, const uint8_t *p, size_t n) {
  if (!tables_ready) build_tables();
  return ~update_long(~prev, p, n);
}

/*
 * CRC-32C of each of count records of len bytes, the first at p and record i
 * at p + i * stride, into out[i] (u32). One call checks every slot of a
 * vector store (FORMAT.md §8.3 vec_crc) at memory speed.
 */
void VX_EXPORT(vx_crc32c_records)(const uint8_t *p, size_t stride, size_t len, size_t count, uint32_t *out) {
  if (!tables_ready) build_tables();
  for (size_t i = 0; i < count; i++) out[i] = ~update_long(~0u, p + i * stride, len);
}
