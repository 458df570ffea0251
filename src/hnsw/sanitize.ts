/**
 * The lenient load of an HNSW graph file (FORMAT.md §8.6 catch-up): drops
 * what cannot be trusted from the raw records so they are consistent again.
 * @module
 */
import { F, FLAG_DELETED, MAX_LEVEL, NONE } from "./_abi.ts";
import type { RegionGeometry } from "./codec.ts";

/** What {@linkcode sanitizeRecords} reads and repairs in place. */
export interface SanitizeView {
  /** the C state block: counts read; free lists, entry point and top level rewritten */
  st: Uint32Array;
  nodes: Uint32Array;
  uppers: Uint32Array;
  slotmap: Uint32Array;
  nodeWords: number;
  upperWords: number;
  geometry: Readonly<RegionGeometry>;
  /** M of the graph */
  m: number;
}

/**
 * Lenient load: drops what cannot be trusted so the records are consistent:
 * nodes of bad node blocks, nodes whose record or upper chain is broken
 * (or runs through a bad upper block), slot map entries of bad blocks or
 * naming a node that does not name the slot, edges to dropped or free
 * nodes; rebuilds both free lists and the entry point.
 * @param badNode node region blocks whose checksum failed
 * @param badUpper upper region blocks whose checksum failed
 * @param badSlot slot map region blocks whose checksum failed
 * @returns `problems`: what was dropped, one sentence per kind; `damaged`:
 *   the live nodes that lost edges, to refill once a store is set
 */
export function sanitizeRecords(
  v: SanitizeView,
  badNode: Set<number>,
  badUpper: Set<number>,
  badSlot: Set<number>,
): { problems: string[]; damaged: number[] } {
  const out: string[] = [];
  const s = v.st;
  const nodes = v.nodes, ups = v.uppers, map = v.slotmap;
  const w = v.nodeWords, uw = v.upperWords;
  const g = v.geometry;
  const m = v.m, m0 = 2 * m;
  const nc = s[F.NODE_COUNT], uc = s[F.UPPER_COUNT];
  // 0 unknown, 1 kept (live or deleted), 2 free/dropped
  const state = new Uint8Array(nc);
  const upperOwner = new Int32Array(uc).fill(-1);
  let dropped = 0;
  for (let n = 0; n < nc; n++) {
    const b = n * w;
    if (badNode.has(Math.floor(n / g.nodePerBlock))) {
      state[n] = 2;
      dropped++;
      continue;
    }
    const flags = (nodes[b + 1] >> 8) & 0xff;
    if (nodes[b] === NONE && !(flags & FLAG_DELETED)) {
      state[n] = 2;
      continue;
    }
    const level = nodes[b + 1] & 0xff;
    let ok = level <= MAX_LEVEL && nodes[b + 1] >>> 16 <= m0 && (flags & ~FLAG_DELETED) === 0;
    let u = nodes[b + 2];
    const chain: number[] = [];
    for (let l = 1; ok && l <= level; l++) {
      if (u >= uc || badUpper.has(Math.floor(u / g.upperPerBlock)) || upperOwner[u] !== -1) {
        ok = false;
        break;
      }
      const ub = u * uw;
      if (ups[ub] !== n || (ups[ub + 1] & 0xff) !== l || ((ups[ub + 1] >> 8) & 0xff) > m) ok = false;
      chain.push(u);
      u = ups[ub + 2];
    }
    if (ok && (level === 0 ? nodes[b + 2] !== NONE : u !== NONE)) ok = false;
    if (!ok) {
      state[n] = 2;
      dropped++;
      continue;
    }
    state[n] = 1;
    for (const c of chain) upperOwner[c] = n;
  }
  if (dropped) out.push(`${dropped} nodes dropped (bad blocks or broken records)`);
  // edges
  let cut = 0;
  const damaged: number[] = [];
  const fixList = (base: number, count: number, l: number, self: number, arr: Uint32Array): number => {
    let k = 0;
    const seen = new Set<number>();
    for (let i = 0; i < count; i++) {
      const t = arr[base + i];
      if (t >= nc || state[t] !== 1 || t === self || seen.has(t) || (nodes[t * w + 1] & 0xff) < l) {
        cut++;
        continue;
      }
      seen.add(t);
      arr[base + k++] = t;
    }
    for (let i = k; i < count; i++) arr[base + i] = 0;
    return k;
  };
  for (let n = 0; n < nc; n++) {
    if (state[n] !== 1) continue;
    const b = n * w;
    const cutBefore = cut;
    const c0 = fixList(b + 4, nodes[b + 1] >>> 16, 0, n, nodes);
    nodes[b + 1] = (nodes[b + 1] & 0xffff) | (c0 << 16);
    let u = nodes[b + 2];
    for (let l = 1; u !== NONE; l++) {
      const ub = u * uw;
      const c = fixList(ub + 4, (ups[ub + 1] >> 8) & 0xff, l, n, ups);
      ups[ub + 1] = (ups[ub + 1] & 0xffff00ff) | (c << 8);
      u = ups[ub + 2];
    }
    if (cut !== cutBefore) damaged.push(n);
  }
  if (cut) out.push(`${cut} edges cut (to dropped, free or too-low nodes)`);
  // free lists, rebuilt so the lowest ids are taken first
  let freeNode = NONE;
  for (let n = nc - 1; n >= 0; n--) {
    if (state[n] === 1) continue;
    const b = n * w;
    nodes.fill(0, b, b + w);
    nodes[b] = NONE;
    nodes[b + 2] = freeNode;
    freeNode = n;
  }
  let freeUpper = NONE;
  for (let u = uc - 1; u >= 0; u--) {
    if (upperOwner[u] !== -1) continue;
    const ub = u * uw;
    ups.fill(0, ub, ub + uw);
    ups[ub] = NONE;
    ups[ub + 2] = freeUpper;
    freeUpper = u;
  }
  s[F.FREE_NODE] = freeNode;
  s[F.FREE_UPPER] = freeUpper;
  // slot map
  let unmapped = 0;
  for (let sl = 0; sl < map.length; sl++) {
    const n = map[sl];
    if (n === NONE) continue;
    const ok = !badSlot.has(Math.floor(sl / g.slotPerBlock)) && n < nc && state[n] === 1 &&
      nodes[n * w] === sl && !((nodes[n * w + 1] >> 8) & FLAG_DELETED);
    if (!ok) {
      map[sl] = NONE;
      unmapped++;
    }
  }
  for (const b of badSlot) {
    const first = b * g.slotPerBlock;
    map.fill(NONE, first, Math.min(first + g.slotPerBlock, map.length));
  }
  if (unmapped || badSlot.size) out.push(`${unmapped} slot map entries cleared`);
  // live nodes no slot names: deleted, so the catch-up reinserts their slots
  for (let n = 0; n < nc; n++) {
    if (state[n] !== 1) continue;
    const b = n * w;
    const flags = (nodes[b + 1] >> 8) & 0xff;
    if (flags & FLAG_DELETED) continue;
    const sl = nodes[b];
    if (sl >= map.length || map[sl] !== n) nodes[b + 1] |= FLAG_DELETED << 8;
  }
  // entry: the live node of highest level
  let entry = NONE, top = 0;
  for (let n = 0; n < nc; n++) {
    if (state[n] !== 1) continue;
    const b = n * w;
    if ((nodes[b + 1] >> 8) & FLAG_DELETED) continue;
    const l = nodes[b + 1] & 0xff;
    if (entry === NONE || l > top) [entry, top] = [n, l];
  }
  s[F.ENTRY] = entry;
  s[F.MAX_LEVEL] = top;
  return { problems: out, damaged };
}
