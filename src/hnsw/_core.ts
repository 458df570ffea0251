/**
 * The C core of the HNSW graph (wasm/hnsw.c) as the graph meets it: the one
 * module instance, checked against ./_abi.ts, and its result codes turned
 * into errors.
 * @module
 */
import { FsError } from "../errors.ts";
import { HNSW_WASM } from "../wasm/hnsw_wasm.ts";
import { instantiate } from "../wasm/runtime.ts";
import { HN, type HnswExports, NFIELDS } from "./_abi.ts";

let wasm: HnswExports | undefined;
/**
 * The module instance (instantiated on first use).
 * @throws FsError `EINVAL` when its state block has another field count than ./_abi.ts
 */
export function core(): HnswExports {
  wasm ??= instantiate<HnswExports>(HNSW_WASM);
  if (wasm.hn_nfields() !== NFIELDS) {
    throw new FsError(
      "EINVAL",
      `hnsw module has ${wasm.hn_nfields()} state fields, src/hnsw/_abi.ts ${NFIELDS}: rebuild (wasm/build.ts)`,
    );
  }
  return wasm;
}

/** The error for result code `code` (`HN.*`, negative) of operation `what`. */
export function hnswError(code: number, what: string): FsError {
  switch (code) {
    case HN.EEXIST:
      return new FsError("EEXIST", `HNSW ${what}: slot already indexed`);
    case HN.ENOENT:
      return new FsError("ENOENT", `HNSW ${what}: not indexed`);
    case HN.ENOSPC:
      return new FsError("ENOMEM", `HNSW ${what}: out of room`);
    default:
      return new FsError("EINVAL", `HNSW ${what}: invalid argument (code ${code})`);
  }
}
