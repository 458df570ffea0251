/**
 * Descriptions of C structures shared with native code (libfuse's structs in
 * src/fuse/abi.ts, the ioctl structures of kernel/vexfs_ioctl.h in
 * src/ioctl/abi.ts): the C name, `sizeof`, and `[offset, size]` of every
 * member, checked against the C compiler by each module's test.
 * @module
 */

/** A C structure: name, `sizeof`, and `[offset, size]` of its members (all, or those used). */
export interface StructLayout<F extends string = string> {
  /** C type name, e.g. `"struct stat"`. */
  readonly cName: string;
  /** `sizeof` in bytes. */
  readonly size: number;
  /** Member designator (may be nested, e.g. `"st_atim.tv_sec"`) to `[offset, size]` in bytes. */
  readonly fields: { readonly [K in F]: readonly [number, number] };
  /** Member designator to offset (shortcut for `fields[k][0]`). */
  readonly off: { readonly [K in F]: number };
}

/**
 * Builds a frozen {@linkcode StructLayout}.
 * @example
 * ```ts
 * const TS = defineStruct("struct timespec", 16, { tv_sec: [0, 8], tv_nsec: [8, 8] });
 * TS.off.tv_nsec; // 8
 * ```
 */
export function defineStruct<F extends string>(
  cName: string,
  size: number,
  fields: { readonly [K in F]: readonly [number, number] },
): StructLayout<F> {
  const off = {} as { [K in F]: number };
  for (const k of Object.keys(fields) as F[]) off[k] = fields[k][0];
  return Object.freeze({ cName, size, fields: Object.freeze(fields), off: Object.freeze(off) });
}
