/**
 * The memory map shared by every VexFS WebAssembly module, and the shape of
 * the generated modules that carry their bytes. Used by the build
 * (`wasm/build.ts`) and the runtime (`src/wasm/runtime.ts`), so the two agree
 * by construction.
 *
 * All modules import one `WebAssembly.Memory` (`env.memory`, linked with
 * `--import-memory`). Each module owns a window at the bottom of it for its
 * static data and its C stack (`--global-base`, `-z stack-size`); everything
 * from {@linkcode HEAP_BASE} up is the heap, allocated from TypeScript
 * (`WasmHeap` in runtime.ts) for stores, graphs and scratch arrays:
 *
 * ```
 * 0 ........ 1 KiB   unused (address 0 is never valid data)
 * 1 KiB .... 1 MiB   kernels: static data, then its stack
 * 1 MiB .... 4 MiB   hnsw: static data, then its stack
 * 4 MiB .... 4 GiB   heap (grown on demand, 64 KiB pages)
 * ```
 *
 * @module
 */

/** One WebAssembly page, 64 KiB. */
export const PAGE = 65536;

/** Start of the heap managed from TypeScript: 4 MiB. */
export const HEAP_BASE = 4 * 1024 * 1024;

/** Pages of a 4 GiB memory, the most a wasm32 memory can have. */
export const MAX_PAGES = 65536;

/** Where a module's static data and stack live, and how its C sources are built. */
export interface WasmModuleSpec {
  /** module name, e.g. `"kernels"` (the generated file is `src/wasm/<name>_wasm.ts`) */
  name: string;
  /** C sources, relative to the repository root, in link order */
  sources: string[];
  /** the first source must exist for the module to be built (optional modules) */
  optional?: boolean;
  /** `--global-base`: byte address where the module's static data starts */
  base: number;
  /** byte address where the module's window ends: data and stack must end below it */
  limit: number;
  /** C stack size in bytes (placed after the static data) */
  stackSize: number;
}

/** The modules and their windows. The windows must not overlap, and must end at or below {@linkcode HEAP_BASE}. */
export const MODULES: readonly WasmModuleSpec[] = [
  {
    name: "kernels",
    sources: ["wasm/kernels.c", "wasm/crc32c.c", "wasm/vx_libc.c"],
    base: 1024,
    limit: 1024 * 1024,
    stackSize: 64 * 1024,
  },
  {
    name: "hnsw",
    sources: ["wasm/hnsw.c", "wasm/vx_libc.c"],
    optional: true,
    base: 1024 * 1024,
    limit: HEAP_BASE,
    stackSize: 1024 * 1024,
  },
];

/** Compiler flags every module is built with (besides its window's `--global-base` and stack size). */
export const CFLAGS: readonly string[] = [
  "--target=wasm32",
  "-msimd128",
  "-mbulk-memory",
  "-O3",
  "-nostdlib",
  "-ffreestanding",
  "-Wall",
  "-Wl,--no-entry",
  "-Wl,--import-memory",
  "-Wl,--strip-all",
  "-Wl,--export=__heap_base",
];

/**
 * A built module as the generated `src/wasm/<name>_wasm.ts` exports it.
 */
export interface WasmModuleData {
  /** module name, as in {@linkcode MODULES} */
  name: string;
  /** the sources and headers it was built from (repository paths) */
  sources: string[];
  /** sha256 (hex) of the sources, headers and flags (see `wasm/build.ts`), to detect a stale build */
  sha256: string;
  /** `clang --version`'s first line at build time */
  compiler: string;
  /** its window: static data from `base`, data and stack below `limit` */
  base: number;
  /** end of its window */
  limit: number;
  /** the `.wasm` bytes, base64 */
  wasm: string;
}
