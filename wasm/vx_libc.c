/*
 * vx_libc.c - the few C library functions a freestanding VexFS wasm module
 * needs: clang emits calls to memcpy, memmove and memset for struct copies and
 * loops it recognises, and -nostdlib provides none. Built with -mbulk-memory,
 * so each is one memory.copy or memory.fill instruction. Linked into every
 * module (see wasm/build.ts); each module has its own copy.
 */
#include <stddef.h>

void *memcpy(void *restrict dst, const void *restrict src, size_t n) {
  __builtin_memcpy(dst, src, n);
  return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
  __builtin_memmove(dst, src, n);
  return dst;
}

void *memset(void *dst, int c, size_t n) {
  __builtin_memset(dst, c, n);
  return dst;
}

int memcmp(const void *a, const void *b, size_t n) {
  const unsigned char *p = a, *q = b;
  for (size_t i = 0; i < n; i++) {
    if (p[i] != q[i]) return p[i] < q[i] ? -1 : 1;
  }
  return 0;
}
