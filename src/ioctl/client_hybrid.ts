/**
 * Client side of the hybrid search on a mount (design of issue 12, §6.2:
 * `VEXFS_IOC_HYBRID`, command 0x0F): a query vector, a query text (or its
 * analysed terms), fusion parameters and an xattr filter in one call, hits
 * with fused and per-side ranks and scores. The one function the CLI's
 * mounted backend (commands/mounted.ts) calls for `vexfs search --text` and
 * `--where` on a mount.
 *
 * Status: the ioctl's ABI (`src/ioctl/abi_hybrid.ts`) and the daemon's side
 * are not in this version yet, so {@linkcode hybridSearch} refuses with
 * EOPNOTSUPP and a message saying what to do instead, never answering with
 * something else (a plain vector search would silently ignore the text and
 * the filter). Completing it: encode the request with abi_hybrid.ts (the
 * kernel takes terms only: tokenize with the collection's analyzer, design
 * §6.3), call the ioctl on the directory, name each hit with `inoPathFd`
 * as `searchExWithPaths` (./client_search.ts) does, and map ENOTTY (a
 * daemon older than HYBRID) to the same advice.
 * @module
 */
import { FsError } from "../errors.ts";
import type { TextIndexParams, TextIndexStats } from "../fs/text_index_types.ts";
import type { SearchHit, SearchMethod } from "../fs/vector_types.ts";
import type { FusedHit } from "../search/fusion.ts";
import type { FusionMethod, HybridTextMethod } from "../search/hybrid.ts";
import type { Where } from "../search/where.ts";

/** A hybrid search request on a mount (the fields of `struct vexfs_ioc_hybrid` the client fills). */
export interface HybridRequest {
  /** query vector (the collection's dimension), absent: no vector side */
  vector?: Float32Array;
  /** query text, absent: no text side */
  text?: string;
  /** 1..128 through the ioctl */
  k: number;
  fusion?: "rrf" | "weighted";
  alpha?: number;
  rrfK?: number;
  /** candidates per side, k..4096 (default max(k, 100)) */
  depth?: number;
  /** at most 8 clauses, names of at most 63 bytes after `user.`, 119 value bytes a clause through the ioctl */
  where?: Where;
  /** inode to leave out (the `--like` file) */
  excludeIno?: number;
  ef?: number;
  exact?: boolean;
}

/** Hits with paths relative to the searched directory, and how each side answered. */
export interface HybridReply {
  hits: (FusedHit & SearchHit)[];
  method: { vector: SearchMethod | null; text: HybridTextMethod | null; fusion: FusionMethod | null };
}

/** What a search asked of the mount that only the hybrid ioctl can answer, for messages. */
function asked(req: HybridRequest): string {
  const parts = [];
  if (req.text !== undefined) parts.push("--text");
  if (req.where?.length) parts.push("--where");
  return parts.join(" and ") || "a hybrid search";
}

/**
 * Hybrid search below host directory `dir` on a mounted VexFS, hits named
 * by path.
 * @param dir a directory on the mount (a collection root or below it)
 * @param req the query ({@link HybridRequest})
 * @returns hits best first with paths relative to `dir`, and the method
 * @throws FsError EOPNOTSUPP: the hybrid search ioctl is not in this version (the message says to search the
 *   unmounted image instead)
 */
export function hybridSearch(dir: string, req: HybridRequest): Promise<HybridReply> {
  return Promise.reject(
    new FsError(
      "EOPNOTSUPP",
      `${asked(req)} on a mount needs the hybrid search ioctl (VEXFS_IOC_HYBRID), which this version of vexfs ` +
        `does not have yet; unmount and search the image instead (vexfs search IMAGE DIR ...), ` +
        `or search ${dir} by vector only`,
    ),
  );
}

/**
 * `vexfs index build|drop|stats --text` on a mounted VexFS (design §6.5: `VEXFS_IOC_TEXT_INDEX`, command 0x10):
 * one operation on the keyword index of the collection containing host directory `dir`.
 * @returns the index's figures after the operation
 * @throws FsError EOPNOTSUPP: the daemon's side of the ioctl is not in this version (the message says to run the
 *   command on the unmounted image instead)
 */
export function textIndex(
  dir: string,
  req: { op: "build"; params?: Partial<TextIndexParams> } | { op: "drop" } | { op: "stats" },
): Promise<TextIndexStats> {
  return Promise.reject(
    new FsError(
      "EOPNOTSUPP",
      `--text on a mount needs the text index ioctl (VEXFS_IOC_TEXT_INDEX), which this version of vexfs does not ` +
        `have yet; unmount and run it on the image instead (vexfs index ${req.op} IMAGE DIR --text), ` +
        `not on ${dir}`,
    ),
  );
}
