/**
 * Operations on a file's extent list held in memory: a sorted,
 * non-overlapping `Extent[]` (docs/FORMAT.md §5.2). The engine writes the
 * on-disk tree from this list whenever it changes; the functions that change
 * it report the lowest list index they changed, so that the engine rewrites
 * only the tree leaves from there on (one leaf for an append) instead of the
 * whole tree. Every function costs O(log n) plus the entries it changes
 * (`Array.prototype.splice` of the tail aside), never a pass over the list.
 * @module
 */
import { EXT_MAX_LEN, EXT_UNWRITTEN } from "../format/constants.ts";
import type { Extent } from "../format/extent.ts";

/** A piece of a file range: mapped (`physical` set) or a hole (`physical` null). */
export interface Segment {
  /** first file block */
  lblk: number;
  /** blocks */
  count: number;
  /** first device block, or null for a hole */
  physical: number | null;
  /** allocated but reads as zeros */
  unwritten: boolean;
}

/** Index of the first extent whose end is after `lblk` (binary search). */
export function firstEndingAfter(exts: Extent[], lblk: number): number {
  let lo = 0, hi = exts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (exts[mid].logical + exts[mid].length <= lblk) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Splits file blocks [lblk, lblk+count) into mapped segments and holes, in order. */
export function segments(
  exts: Extent[],
  lblk: number,
  count: number,
): Segment[] {
  const out: Segment[] = [];
  let cur = lblk;
  const end = lblk + count;
  let i = firstEndingAfter(exts, lblk);
  while (cur < end) {
    const e = exts[i];
    if (!e || e.logical >= end) {
      out.push({
        lblk: cur,
        count: end - cur,
        physical: null,
        unwritten: false,
      });
      break;
    }
    if (e.logical > cur) {
      out.push({
        lblk: cur,
        count: e.logical - cur,
        physical: null,
        unwritten: false,
      });
      cur = e.logical;
    }
    const n = Math.min(end, e.logical + e.length) - cur;
    out.push({
      lblk: cur,
      count: n,
      physical: e.physical + (cur - e.logical),
      unwritten: (e.flags & EXT_UNWRITTEN) !== 0,
    });
    cur += n;
    i++;
  }
  return out;
}

/**
 * Inserts a new extent (which must not overlap any) and merges it with
 * contiguous neighbours.
 * @returns the lowest index of `exts` that changed
 */
export function insertExtent(exts: Extent[], ext: Extent): number {
  let i = firstEndingAfter(exts, ext.logical);
  if (i === exts.length) exts.push({ ...ext });
  else exts.splice(i, 0, { ...ext });
  // merge with previous
  if (i > 0 && canMerge(exts[i - 1], exts[i])) {
    exts[i - 1].length += exts[i].length;
    if (i === exts.length - 1) exts.pop();
    else exts.splice(i, 1);
    i--;
  }
  if (i + 1 < exts.length && canMerge(exts[i], exts[i + 1])) {
    exts[i].length += exts[i + 1].length;
    exts.splice(i + 1, 1);
  }
  return i;
}

/** File block just past the last mapped one (0 for an empty list). */
export function mappedEnd(exts: readonly Extent[]): number {
  const e = exts[exts.length - 1];
  return e ? e.logical + e.length : 0;
}

function canMerge(a: Extent, b: Extent): boolean {
  return a.logical + a.length === b.logical &&
    a.physical + a.length === b.physical && a.flags === b.flags &&
    a.length + b.length <= EXT_MAX_LEN;
}

/**
 * Removes the mapping of file blocks [from, to) (to = Infinity for "to the
 * end"), splitting extents at the edges.
 * @returns the device block ranges that were unmapped, to be freed by the caller
 *   (the list changes from index `firstEndingAfter(exts, from)` on)
 */
export function punch(
  exts: Extent[],
  from: number,
  to = Infinity,
): { start: number; count: number }[] {
  const freed: { start: number; count: number }[] = [];
  let i = firstEndingAfter(exts, from);
  while (i < exts.length && exts[i].logical < to) {
    const e = exts[i];
    const s = Math.max(from, e.logical);
    const t = Math.min(to, e.logical + e.length);
    freed.push({ start: e.physical + (s - e.logical), count: t - s });
    const head = s - e.logical;
    const tailLen = e.logical + e.length - t;
    const repl: Extent[] = [];
    if (head > 0) {
      repl.push({
        logical: e.logical,
        physical: e.physical,
        length: head,
        flags: e.flags,
      });
    }
    if (tailLen > 0) {
      repl.push({
        logical: t,
        physical: e.physical + (t - e.logical),
        length: tailLen,
        flags: e.flags,
      });
    }
    exts.splice(i, 1, ...repl);
    i += repl.length;
    if (head > 0 && tailLen > 0) break;
  }
  return freed;
}

/**
 * Sets or clears the UNWRITTEN flag of file blocks [lblk, lblk+count),
 * splitting extents at the edges and merging the neighbours that became
 * compatible (only around the range).
 * @returns the lowest index of `exts` that changed, or -1 when nothing did
 */
function setUnwritten(exts: Extent[], lblk: number, count: number, unwritten: boolean): number {
  const end = lblk + count;
  const i0 = firstEndingAfter(exts, lblk);
  let i = i0;
  let changed = -1;
  while (i < exts.length && exts[i].logical < end) {
    const e = exts[i];
    if (((e.flags & EXT_UNWRITTEN) !== 0) === unwritten) {
      i++;
      continue;
    }
    if (changed < 0) changed = i;
    const s = Math.max(lblk, e.logical);
    const t = Math.min(end, e.logical + e.length);
    const parts: Extent[] = [];
    if (s > e.logical) {
      parts.push({ logical: e.logical, physical: e.physical, length: s - e.logical, flags: e.flags });
    }
    parts.push({
      logical: s,
      physical: e.physical + (s - e.logical),
      length: t - s,
      flags: unwritten ? e.flags | EXT_UNWRITTEN : e.flags & ~EXT_UNWRITTEN,
    });
    if (t < e.logical + e.length) {
      parts.push({
        logical: t,
        physical: e.physical + (t - e.logical),
        length: e.logical + e.length - t,
        flags: e.flags,
      });
    }
    if (parts.length === 1) exts[i] = parts[0];
    else exts.splice(i, 1, ...parts);
    i += parts.length;
  }
  if (changed < 0) return -1;
  // merge neighbours that became compatible, from just after the range back to just before it
  const lo = Math.max(1, changed);
  for (let k = Math.min(i, exts.length - 1); k >= lo; k--) {
    if (canMerge(exts[k - 1], exts[k])) {
      exts[k - 1].length += exts[k].length;
      exts.splice(k, 1);
    }
  }
  return Math.max(0, changed - 1);
}

/**
 * Clears the UNWRITTEN flag on file blocks [lblk, lblk+count), splitting
 * extents as needed.
 * @returns the lowest index of `exts` that changed, or -1 when nothing did
 */
export function markWritten(exts: Extent[], lblk: number, count: number): number {
  return setUnwritten(exts, lblk, count, false);
}

/**
 * Sets the UNWRITTEN flag on file blocks [lblk, lblk+count) (they keep
 * their device blocks but read as zeros), splitting extents as needed.
 * @returns the lowest index of `exts` that changed, or -1 when nothing did
 */
export function markUnwritten(exts: Extent[], lblk: number, count: number): number {
  return setUnwritten(exts, lblk, count, true);
}
