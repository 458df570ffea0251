/*
 * vx_wasm.h - conventions of the VexFS WebAssembly modules (wasm/build.ts).
 *
 * - Freestanding C (-nostdlib -ffreestanding): no libc; wasm/vx_libc.c gives
 *   memcpy, memmove, memset and memcmp.
 * - One shared memory imported as env.memory; each module's static data and
 *   stack live in its own window (src/wasm/layout.ts); arrays come from the
 *   TypeScript heap (src/wasm/runtime.ts) as byte addresses.
 * - Exports are named explicitly with VX_EXPORT; nothing else is exported.
 * - Pointers and sizes are 32-bit (wasm32); a size_t parameter is a JS number.
 */
#ifndef VX_WASM_H
#define VX_WASM_H

/* Exports function `name` under that name: `int VX_EXPORT(f)(int x) { ... }`. */
#define VX_EXPORT(name) __attribute__((export_name(#name))) name

/* Forces inlining, so a generic helper called with constant arguments is specialised. */
#define VX_ALWAYS_INLINE __attribute__((always_inline)) inline

#endif /* VX_WASM_H */
