/**
 * The WebAssembly runtime of VexFS: one shared `WebAssembly.Memory` for every
 * module (kernels, hnsw), a heap allocator for the large arrays kept in it
 * (vector stores, norms, graphs, scratch), views over it, and
 * {@linkcode instantiate}, which gives a module's exports.
 *
 * Memory map (src/wasm/layout.ts): each module's static data and C stack sit
 * in its own window below 4 MiB; the heap is everything from
 * {@linkcode HEAP_BASE} (4 MiB) to the end of the memory, which grows on
 * demand up to 4 GiB (the wasm32 limit). Addresses are byte offsets into the
 * memory, passed to C as pointers.
 *
 * ## The view rule
 *
 * Growing a `WebAssembly.Memory` detaches its old `ArrayBuffer`: every typed
 * array made over it becomes empty (length 0) and reads as `undefined`.
 * Memory grows only in {@linkcode WasmHeap.alloc}, {@linkcode WasmHeap.realloc}
 * (and what calls them, such as `WasmArray.resize` or `WasmStore.put` in
 * src/vector/simd.ts) and in {@linkcode growMemory}; no exported C function
 * grows it (the modules never execute `memory.grow`). So:
 *
 * - never keep a raw view across a call that may allocate; re-derive it after;
 * - or hold a {@linkcode WasmArray}, whose `.view` re-derives itself when the
 *   memory has grown, or call {@linkcode heapU8} and friends, which return a
 *   view of the current buffer (cached until the next growth).
 *
 * Instances are per module and per process: a module is instantiated once
 * (a second instance would re-initialise its static data in the shared
 * memory under the first one).
 *
 * @example
 * ```ts
 * import { heap, instantiate, WasmArray } from "./runtime.ts";
 * import { KERNELS_WASM } from "./kernels_wasm.ts";
 * const k = instantiate<{ vx_crc32c(prev: number, p: number, n: number): number }>(KERNELS_WASM);
 * const buf = new WasmArray(Uint8Array, 9);
 * buf.view.set(new TextEncoder().encode("123456789"));
 * k.vx_crc32c(0, buf.ptr, 9) >>> 0; // 0xe3069283
 * buf.free();
 * heap().stats().used; // bytes allocated
 * ```
 * @module
 */
import { FsError } from "../errors.ts";
import { HEAP_BASE, MAX_PAGES, PAGE, type WasmModuleData } from "./layout.ts";

export { HEAP_BASE, MAX_PAGES, PAGE };

let mem: WebAssembly.Memory | undefined;

/**
 * The shared memory (created on first use with the module windows and an
 * empty heap: 4 MiB; maximum 4 GiB).
 */
export function memory(): WebAssembly.Memory {
  mem ??= new WebAssembly.Memory({ initial: HEAP_BASE / PAGE, maximum: MAX_PAGES });
  return mem;
}

/** The shared memory's current buffer (detached when the memory grows). */
export function buffer(): ArrayBuffer {
  return memory().buffer as ArrayBuffer;
}

/**
 * Whether a view lies in the shared memory's current buffer (its `byteOffset`
 * is then its address). False before the memory exists; never creates it.
 */
export function inMemory(view: ArrayBufferView): boolean {
  return mem !== undefined && view.buffer === mem.buffer;
}

/** Current size of the shared memory in bytes. */
export function memoryBytes(): number {
  return memory().buffer.byteLength;
}

/**
 * Grows the shared memory to at least `bytes` bytes (rounded up to pages).
 * Detaches every view (see the module doc).
 * @throws FsError `ENOMEM` if that is more than 4 GiB or the engine refuses
 */
export function growMemory(bytes: number): void {
  const m = memory();
  const have = m.buffer.byteLength / PAGE;
  const want = Math.ceil(bytes / PAGE);
  if (want <= have) return;
  if (want > MAX_PAGES) {
    throw new FsError("ENOMEM", `wasm memory of ${bytes} bytes requested; the limit is 4 GiB`);
  }
  try {
    m.grow(want - have);
  } catch (e) {
    throw new FsError("ENOMEM", `cannot grow wasm memory to ${want * PAGE} bytes: ${(e as Error).message}`);
  }
}

// ---- views -------------------------------------------------------------------

/** The typed-array constructors whose views runtime.ts hands out ({@linkcode WasmArray}, the heap views). */
export type ElementCtor =
  | Uint8ArrayConstructor
  | Int8ArrayConstructor
  | Uint16ArrayConstructor
  | Int16ArrayConstructor
  | Uint32ArrayConstructor
  | Int32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor;

let viewBuf: ArrayBuffer | undefined;
const views = new Map<ElementCtor, ArrayBufferView>();

function whole<C extends ElementCtor>(C: C): InstanceType<C> {
  const b = buffer();
  if (b !== viewBuf) {
    views.clear();
    viewBuf = b;
  }
  let v = views.get(C);
  if (!v) {
    v = new C(b);
    views.set(C, v);
  }
  return v as InstanceType<C>;
}

/** The whole memory as bytes (a view valid until the memory grows; see the module doc). */
export function heapU8(): Uint8Array {
  return whole(Uint8Array);
}
/** The whole memory as i8 (valid until the memory grows). */
export function heapI8(): Int8Array {
  return whole(Int8Array);
}
/** The whole memory as u16 (index = address / 2; valid until the memory grows). */
export function heapU16(): Uint16Array {
  return whole(Uint16Array);
}
/** The whole memory as u32 (index = address / 4; valid until the memory grows). */
export function heapU32(): Uint32Array {
  return whole(Uint32Array);
}
/** The whole memory as i32 (index = address / 4; valid until the memory grows). */
export function heapI32(): Int32Array {
  return whole(Int32Array);
}
/** The whole memory as f32 (index = address / 4; valid until the memory grows). */
export function heapF32(): Float32Array {
  return whole(Float32Array);
}
/** The whole memory as f64 (index = address / 8; valid until the memory grows). */
export function heapF64(): Float64Array {
  return whole(Float64Array);
}

// ---- allocator ---------------------------------------------------------------

/** What {@linkcode WasmHeap.stats} reports. */
export interface HeapStats {
  /** bytes in live allocations (rounded sizes) */
  used: number;
  /** bytes free between {@linkcode HEAP_BASE} and the end of the memory */
  free: number;
  /** live allocations */
  blocks: number;
  /** free ranges (fragmentation) */
  holes: number;
  /** size of the shared memory in bytes */
  memory: number;
}

/** Allocation granule and default alignment: 16 bytes (one v128). */
export const ALIGN = 16;

/**
 * Heap allocator over the shared memory from {@linkcode HEAP_BASE} to its end.
 *
 * Design: for few, large, long-lived arrays (a collection's store is one
 * allocation), not for many small objects. Sizes are rounded up to 16 bytes;
 * free space is a list of ranges sorted by address, coalesced on free;
 * allocation is first fit, splitting off the alignment padding and the rest;
 * when no range fits the memory grows (by at least 1/8 of its size, to keep
 * the number of growths logarithmic) and the range at the end is extended.
 * `realloc` extends in place into a free neighbour when it can, else moves
 * (one `copyWithin`). Every operation is O(number of free ranges). The
 * bookkeeping lives in JavaScript, not in the memory, so a C overrun cannot
 * corrupt it (it corrupts a neighbour's data instead).
 *
 * Errors: a size that is not a non-negative safe integer or an alignment that
 * is not a power of two from 1 to 64 KiB is `EINVAL`; more than 4 GiB is
 * `ENOMEM`; freeing or resizing an address that is not a live allocation is
 * `EINVAL`.
 */
export class WasmHeap {
  /** free ranges sorted by address (parallel arrays) */
  #fa: number[] = [];
  #fs: number[] = [];
  /** live allocations: address -> rounded size */
  #live = new Map<number, number>();
  /** end of the managed area (= memory size when last seen) */
  #end = HEAP_BASE;

  /** Takes in pages the memory gained since the last look (it may be grown by others). */
  #sync(): void {
    const end = memoryBytes();
    if (end > this.#end) {
      this.#insertFree(this.#end, end - this.#end);
      this.#end = end;
    }
  }

  /**
   * Allocates `size` bytes aligned to `align`. The bytes are not cleared
   * (memory fresh from growth is zero; reused memory is not).
   * @param size bytes (0 gives a distinct 16-byte block)
   * @param align power of two, 1 .. 65536 (default 16)
   * @returns the address (> 0)
   * @throws FsError `EINVAL`, `ENOMEM`
   */
  alloc(size: number, align: number = ALIGN): number {
    const n = roundSize(size);
    checkAlign(align);
    this.#sync();
    for (;;) {
      const i = this.#fit(n, align);
      if (i >= 0) return this.#take(i, n, align);
      this.#grow(n, align);
    }
  }

  /**
   * Allocates `size` zeroed bytes aligned to `align` (see {@linkcode alloc}).
   * @throws FsError `EINVAL`, `ENOMEM`
   */
  calloc(size: number, align: number = ALIGN): number {
    const p = this.alloc(size, align);
    heapU8().fill(0, p, p + roundSize(size));
    return p;
  }

  /**
   * Frees an allocation.
   * @param ptr an address returned by alloc/calloc/realloc and not yet freed
   * @throws FsError `EINVAL` if it is not a live allocation
   */
  free(ptr: number): void {
    const n = this.#live.get(ptr);
    if (n === undefined) throw new FsError("EINVAL", `wasm heap: free of ${ptr}, which is not allocated`);
    this.#live.delete(ptr);
    this.#insertFree(ptr, n);
  }

  /**
   * Resizes an allocation, keeping its first min(old, new) bytes; bytes past
   * the old size are not cleared. The address changes unless the block can
   * grow in place (shrinking always stays in place).
   * @param ptr a live allocation
   * @param size new size in bytes
   * @param align alignment the result must have (default 16)
   * @returns the (possibly new) address
   * @throws FsError `EINVAL`, `ENOMEM` (the old block is then left as it was)
   */
  realloc(ptr: number, size: number, align: number = ALIGN): number {
    const old = this.#live.get(ptr);
    if (old === undefined) throw new FsError("EINVAL", `wasm heap: realloc of ${ptr}, which is not allocated`);
    const n = roundSize(size);
    checkAlign(align);
    if (ptr % align === 0) {
      if (n <= old) {
        if (n < old) {
          this.#live.set(ptr, n);
          this.#insertFree(ptr + n, old - n);
        }
        return ptr;
      }
      this.#sync();
      // Grow in place into the free range right after the block.
      let i = this.#indexAt(ptr + old);
      if (i < 0 && ptr + old === this.#end) {
        this.#grow(n - old, ALIGN);
        i = this.#indexAt(ptr + old);
      }
      if (i >= 0 && old + this.#fs[i] >= n) {
        const rest = old + this.#fs[i] - n;
        if (rest > 0) {
          this.#fa[i] = ptr + n;
          this.#fs[i] = rest;
        } else {
          this.#fa.splice(i, 1);
          this.#fs.splice(i, 1);
        }
        this.#live.set(ptr, n);
        return ptr;
      }
    }
    const p = this.alloc(size, align);
    heapU8().copyWithin(p, ptr, ptr + Math.min(old, n));
    this.free(ptr);
    return p;
  }

  /**
   * Size of a live allocation in bytes (the requested size rounded up to 16).
   * @throws FsError `EINVAL` if `ptr` is not a live allocation
   */
  sizeOf(ptr: number): number {
    const n = this.#live.get(ptr);
    if (n === undefined) throw new FsError("EINVAL", `wasm heap: ${ptr} is not allocated`);
    return n;
  }

  /** Usage figures (see {@linkcode HeapStats}). */
  stats(): HeapStats {
    this.#sync();
    let used = 0;
    for (const n of this.#live.values()) used += n;
    return {
      used,
      free: this.#fs.reduce((a, b) => a + b, 0),
      blocks: this.#live.size,
      holes: this.#fa.length,
      memory: memoryBytes(),
    };
  }

  /** Index of the first free range that can hold n bytes at alignment `align`, or -1. */
  #fit(n: number, align: number): number {
    for (let i = 0; i < this.#fa.length; i++) {
      const a = this.#fa[i];
      const p = alignUp(a, align);
      if (p + n <= a + this.#fs[i]) return i;
    }
    return -1;
  }

  /** Carves n bytes at alignment `align` out of free range i. */
  #take(i: number, n: number, align: number): number {
    const a = this.#fa[i], s = this.#fs[i];
    const p = alignUp(a, align);
    const before = p - a, after = a + s - (p + n);
    this.#fa.splice(i, 1);
    this.#fs.splice(i, 1);
    if (after > 0) this.#insertFree(p + n, after);
    if (before > 0) this.#insertFree(a, before);
    this.#live.set(p, n);
    return p;
  }

  /** Grows the memory so that the free range at its end (if any) can hold n bytes at `align`. */
  #grow(n: number, align: number): void {
    const last = this.#fa.length - 1;
    const tail = last >= 0 && this.#fa[last] + this.#fs[last] === this.#end ? this.#fa[last] : this.#end;
    const need = alignUp(tail, align) + n;
    const cur = memoryBytes();
    const target = Math.min(Math.max(need, cur + Math.floor(cur / 8)), MAX_PAGES * PAGE);
    if (need > MAX_PAGES * PAGE) {
      throw new FsError("ENOMEM", `wasm heap: ${n} bytes do not fit in the 4 GiB memory`);
    }
    try {
      growMemory(target);
    } catch {
      growMemory(need); // the larger step failed: try exactly what is needed
    }
    this.#sync();
  }

  /** Index of the free range starting at address a, or -1. */
  #indexAt(a: number): number {
    const i = this.#lowerBound(a);
    return i < this.#fa.length && this.#fa[i] === a ? i : -1;
  }

  /** First index whose range starts at or after a. */
  #lowerBound(a: number): number {
    let lo = 0, hi = this.#fa.length;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if (this.#fa[m] < a) lo = m + 1;
      else hi = m;
    }
    return lo;
  }

  /** Adds [a, a+n) to the free list, merging with its neighbours. */
  #insertFree(a: number, n: number): void {
    if (n <= 0) return;
    const i = this.#lowerBound(a);
    const prevEnd = i > 0 ? this.#fa[i - 1] + this.#fs[i - 1] : -1;
    const nextStart = i < this.#fa.length ? this.#fa[i] : -1;
    if (prevEnd > a || (nextStart >= 0 && a + n > nextStart)) {
      throw new FsError("EINVAL", `wasm heap: free range ${a}+${n} overlaps a free range (double free?)`);
    }
    if (prevEnd === a) {
      this.#fs[i - 1] += n;
      if (nextStart === a + n) {
        this.#fs[i - 1] += this.#fs[i];
        this.#fa.splice(i, 1);
        this.#fs.splice(i, 1);
      }
    } else if (nextStart === a + n) {
      this.#fa[i] = a;
      this.#fs[i] += n;
    } else {
      this.#fa.splice(i, 0, a);
      this.#fs.splice(i, 0, n);
    }
  }
}

function roundSize(size: number): number {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new FsError("EINVAL", `wasm heap: bad size ${size}`);
  }
  if (size > MAX_PAGES * PAGE) throw new FsError("ENOMEM", `wasm heap: ${size} bytes exceed 4 GiB`);
  return Math.max(ALIGN, Math.ceil(size / ALIGN) * ALIGN);
}

function checkAlign(align: number): void {
  if (!Number.isInteger(align) || align < 1 || align > PAGE || (align & (align - 1)) !== 0) {
    throw new FsError("EINVAL", `wasm heap: bad alignment ${align} (a power of two, 1..65536)`);
  }
}

function alignUp(a: number, align: number): number {
  return Math.ceil(a / align) * align;
}

let theHeap: WasmHeap | undefined;

/** The heap of the shared memory (one per process). */
export function heap(): WasmHeap {
  theHeap ??= new WasmHeap();
  return theHeap;
}

// ---- arrays in the heap ------------------------------------------------------------

const finalizer = new FinalizationRegistry<number>((ptr) => {
  try {
    heap().free(ptr);
  } catch { /* already freed */ }
});

/**
 * A typed array allocated in the shared heap, for data C reads and writes:
 * `ptr` is its address, `view` a typed array over it that stays usable after
 * the memory grows (it is re-derived when the memory's buffer changed).
 * Free it with {@linkcode free} when done; one that is garbage collected
 * without being freed is freed then (a safety net, not the rule).
 */
export class WasmArray<C extends ElementCtor> {
  readonly #C: C;
  #ptr: number;
  #length: number;
  #view: InstanceType<C> | undefined;
  #buf: ArrayBuffer | undefined;
  #token = {};

  /**
   * Allocates `length` elements in the shared heap.
   * @param C element type, e.g. `Float32Array`
   * @param length elements (≥ 0)
   * @param zero clear the elements (default true)
   * @throws FsError `EINVAL`, `ENOMEM`
   */
  constructor(C: C, length: number, zero = true) {
    this.#C = C;
    this.#length = length;
    const bytes = length * C.BYTES_PER_ELEMENT;
    this.#ptr = zero ? heap().calloc(bytes) : heap().alloc(bytes);
    finalizer.register(this, this.#ptr, this.#token);
  }

  /** Address of element 0 in the shared memory (16-byte aligned); 0 once freed. */
  get ptr(): number {
    return this.#ptr;
  }

  /** Number of elements. */
  get length(): number {
    return this.#length;
  }

  /** The elements as a typed array over the current memory buffer. */
  get view(): InstanceType<C> {
    if (this.#ptr === 0) throw new FsError("EINVAL", "WasmArray used after free");
    const b = buffer();
    if (b !== this.#buf || !this.#view) {
      this.#view = new this.#C(b, this.#ptr, this.#length) as InstanceType<C>;
      this.#buf = b;
    }
    return this.#view;
  }

  /**
   * Changes the length, keeping the first min(old, new) elements (new ones
   * are zero when `zero`, the default). May move the array (`ptr` changes)
   * and grow the memory.
   * @throws FsError `ENOMEM`
   */
  resize(length: number, zero = true): void {
    if (this.#ptr === 0) throw new FsError("EINVAL", "WasmArray used after free");
    const bpe = this.#C.BYTES_PER_ELEMENT;
    const p = heap().realloc(this.#ptr, length * bpe);
    if (p !== this.#ptr) {
      finalizer.unregister(this.#token);
      finalizer.register(this, p, this.#token);
    }
    if (zero && length > this.#length) heapU8().fill(0, p + this.#length * bpe, p + length * bpe);
    this.#ptr = p;
    this.#length = length;
    this.#view = undefined;
  }

  /** Makes sure the array has at least `length` elements, growing it by half again when it must grow. */
  reserve(length: number): void {
    if (length > this.#length) this.resize(Math.max(length, Math.ceil(this.#length * 1.5)));
  }

  /** Frees the memory; the array must not be used after. Idempotent. */
  free(): void {
    if (this.#ptr === 0) return;
    finalizer.unregister(this.#token);
    heap().free(this.#ptr);
    this.#ptr = 0;
    this.#length = 0;
    this.#view = undefined;
  }
}

// ---- modules -----------------------------------------------------------------------

const instances = new Map<string, WebAssembly.Exports>();

/** Decodes base64 to bytes. */
export function fromBase64(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * The exports of a module built by wasm/build.ts, instantiated once per
 * process on the shared memory (later calls return the same instance).
 * Synchronous: modules are small (tens of KiB) and compile in milliseconds.
 *
 * @param data the generated module (`KERNELS_WASM` of `./kernels_wasm.ts`,
 *   `HNSW_WASM` of `./hnsw_wasm.ts`)
 * @param imports functions the module imports besides `env.memory`, if any
 * @typeParam E the exports' type (functions take and return numbers; a
 *   pointer is an address, a `size_t` a number; an `i64` a bigint)
 * @throws FsError `EINVAL` if the module's window overlaps the heap or the
 *   bytes do not compile (a corrupt generated file)
 */
export function instantiate<E extends object = WebAssembly.Exports>(
  data: WasmModuleData,
  imports: Record<string, WebAssembly.ImportValue> = {},
): E {
  let ex = instances.get(data.name);
  if (!ex) {
    if (data.limit > HEAP_BASE) {
      throw new FsError("EINVAL", `wasm module ${data.name}: window ends at ${data.limit}, above the heap`);
    }
    let inst: WebAssembly.Instance;
    try {
      const mod = new WebAssembly.Module(fromBase64(data.wasm));
      inst = new WebAssembly.Instance(mod, { env: { ...imports, memory: memory() } });
    } catch (e) {
      throw new FsError("EINVAL", `wasm module ${data.name} does not load: ${(e as Error).message}`);
    }
    ex = inst.exports;
    const hb = ex.__heap_base as WebAssembly.Global | undefined;
    if (hb && Number(hb.value) > data.limit) {
      throw new FsError("EINVAL", `wasm module ${data.name}: data ends at ${hb.value}, beyond ${data.limit}`);
    }
    instances.set(data.name, ex);
  }
  return ex as E;
}
