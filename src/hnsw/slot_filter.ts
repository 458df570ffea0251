/**
 * A bitmap over slots in the shared WebAssembly memory, the filter of a
 * filtered HNSW search.
 * @module
 */
import { WasmArray } from "../wasm/runtime.ts";

type U8A = WasmArray<Uint8ArrayConstructor>;

/**
 * A bitmap over slots in the shared memory, for filtered search
 * ({@linkcode HnswGraph.search}): bit `s & 7` of byte `s >> 3` set = slot s
 * may be returned.
 */
export class SlotFilter {
  readonly #bits: U8A;
  /** slots the bitmap covers */
  readonly size: number;
  /**
   * A bitmap in the shared memory with no slot passing.
   * @param size slots to cover
   * @throws FsError `ENOMEM`
   */
  constructor(size: number) {
    this.size = size;
    this.#bits = new WasmArray(Uint8Array, Math.ceil(size / 8) + 1);
  }
  /** Address of the bitmap. */
  get ptr(): number {
    return this.#bits.ptr;
  }
  /** Lets slot s pass. */
  add(s: number): void {
    this.#bits.view[s >> 3] |= 1 << (s & 7);
  }
  /** Whether slot s passes. */
  has(s: number): boolean {
    return (this.#bits.view[s >> 3] & (1 << (s & 7))) !== 0;
  }
  /** Frees the bitmap. */
  free(): void {
    this.#bits.free();
  }
}
