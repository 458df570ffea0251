/**
 * The incremental catch-up of docs/FORMAT.md §8.6 "Reading": a graph whose
 * header does not match the collection (a crash between the journal commit
 * and the graph write, or a writer without HNSW support changed the store),
 * or one decoded leniently after damage, is brought back in line with the
 * store without a full rebuild.
 *
 * Rule (FORMAT.md §8.6): slot `s` is indexed when `slot map[s]` is a live node
 * whose `slot` is `s` and whose `vec_crc` equals the collection slot map's
 * (§8.3) `vec_crc` for `s`; every other slot is (re)inserted, and every live
 * node that no slot validates is deleted. Nodes of blocks that failed their
 * checksum were already dropped by the lenient decode
 * (`HnswGraph.decode(file, params, { lenient: true })`).
 *
 * @example
 * ```ts
 * import { HnswGraph } from "./graph.ts";
 * import { catchUp } from "./catchup.ts";
 * declare const file: Uint8Array, params: import("./params.ts").HnswParams;
 * declare const vecPtr: number, normPtr: number, crcs: Uint32Array; // the store and its slot map's vec_crc
 * const g = HnswGraph.decode(file, params, { lenient: true });
 * g.setStore(vecPtr, normPtr, crcs.length);
 * const plan = catchUp(g, crcs); // plan.insert: slots reinserted, plan.remove: nodes deleted
 * ```
 * @module
 */
import type { HnswGraph } from "./graph.ts";

/** What the catch-up does (or did). */
export interface CatchUpPlan {
  /** slots to (re)insert, ascending */
  insert: number[];
  /** live nodes to delete (their slot no longer names them, or its vector changed), ascending */
  remove: number[];
}

/**
 * Compares the graph with the store's slot map and lists what must change.
 * Reads only; the graph's store must be set (`setStore`) for `apply`, not here.
 * @param graph the decoded graph
 * @param crcs the collection slot map's `vec_crc` of each slot in use (length = the collection's count)
 */
export function planCatchUp(graph: HnswGraph, crcs: ArrayLike<number>): CatchUpPlan {
  const count = crcs.length;
  const insert: number[] = [];
  const remove: number[] = [];
  for (let s = 0; s < count; s++) {
    const n = graph.nodeOfSlot(s);
    const ok = n >= 0 && graph.isLive(n) && graph.slotOfNode(n) === s && graph.nodeCrc(n) === (crcs[s] >>> 0);
    if (!ok) insert.push(s);
  }
  for (let n = 0, nc = graph.nodeCount; n < nc; n++) {
    if (!graph.isLive(n)) continue;
    const s = graph.slotOfNode(n);
    if (s >= count || graph.nodeOfSlot(s) !== n || graph.nodeCrc(n) !== (crcs[s] >>> 0)) remove.push(n);
  }
  return { insert, remove };
}

/**
 * Carries out a plan: deletes the listed nodes (neighbours repaired, ids
 * reclaimed; their vectors are gone, so no search), clears the slot map
 * entries of the slots to reinsert, inserts them with their `vec_crc`,
 * refills the lists of nodes that lost edges in a lenient decode
 * (`HnswGraph.refillDamaged`), and consolidates any deleted node still named.
 * @param graph the graph, with its store set to the collection's (`setStore`)
 * @param plan from {@linkcode planCatchUp} with the same `crcs`
 * @param crcs the collection slot map's `vec_crc` per slot
 * @throws FsError `EINVAL` without a store
 */
export function applyCatchUp(graph: HnswGraph, plan: CatchUpPlan, crcs: ArrayLike<number>): void {
  for (const n of plan.remove) if (graph.isLive(n)) graph.removeNode(n);
  for (const s of plan.insert) graph.unmapSlot(s);
  for (const s of plan.insert) graph.insert(s, crcs[s] >>> 0);
  graph.refillDamaged();
  if (graph.stats().deleted > 0) graph.consolidate();
}

/**
 * {@linkcode planCatchUp} then {@linkcode applyCatchUp}.
 * @returns the plan that was applied
 */
export function catchUp(graph: HnswGraph, crcs: ArrayLike<number>): CatchUpPlan {
  const plan = planCatchUp(graph, crcs);
  applyCatchUp(graph, plan, crcs);
  return plan;
}
