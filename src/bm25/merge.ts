/**
 * Merging a BM25 index (design issue-12 §1.4): the live documents of every
 * segment recovered with their term counts from the postings (so a new base
 * is written without re-reading or re-tokenizing any file), and the pure
 * decision of a checkpoint: append a delta segment or write a new base.
 *
 * A merge is `encodeSegment(liveDocInputs(ix), [], { base: true, ... })`:
 * the result scores exactly as a from-scratch build of the same documents
 * (same N, n(t), dl, avgdl; tested in merge_test.ts).
 *
 * @example
 * ```ts
 * import { liveDocInputs, planCheckpoint } from "./merge.ts";
 * import { Bm25Index } from "./reader.ts";
 * import { encodeSegment } from "./segment.ts";
 * const o = { blockSize: 1024, collectionId: 1, hashSeed: 7 };
 * const d = { ino: 4, igen: 1, dl: 1, ctimeSec: 0, ctimeNsec: 0, crc: 0, size: 3, flags: 0, uniq: 1,
 *   counts: new Map([["abc", 1]]) };
 * const ix = Bm25Index.fromSegments([encodeSegment([d], [], { ...o, id: 0, base: true })], 1024, 1, 7);
 * const base = encodeSegment(liveDocInputs(ix), [], { ...o, id: 1, base: true }); // the merged base
 * const h = { ...ix.header, segments: [{ firstBlock: 2, blockCount: 5, id: 0 }] }; // as the file's header would say
 * planCheckpoint(h, ix.segmentInfo(), { postBytes: 10, tombCount: 1 }); // { kind: "merge", ... }: the delta > 25 %
 * ```
 * @module
 */
import { FsError } from "../errors.ts";
import { type Bm25Header, type DocInput, MAX_SEGMENTS } from "./layout.ts";
import type { Bm25Index, SegmentInfo } from "./reader.ts";

/**
 * Every live document of the index (empty and skipped files included), with
 * its term counts recovered from the postings, ascending by ino: the input of
 * a new base segment.
 * @param ix the index (an overlay's documents are included)
 * @returns fresh DocInput objects (the caller may change them)
 * @throws FsError EUCLEAN when a segment's postings do not decode, a term is
 *   not UTF-8, or a document's Σ tf ≠ dl or distinct terms ≠ uniq
 */
export function liveDocInputs(ix: Bm25Index): DocInput[] {
  const out: DocInput[] = [];
  ix.segments.forEach((seg, s) => {
    const live = ix.live[s];
    const counts: (Map<string, number> | null)[] = seg.docs.map((d, o) => live[o] && d.dl > 0 ? new Map() : null);
    for (let i = 0; i < seg.termCount; i++) {
      let term: string | null = null;
      const { ords, tfs } = seg.decodePostings(i);
      for (let k = 0; k < ords.length; k++) {
        const m = counts[ords[k]];
        if (m === null) continue;
        term ??= seg.termOf(i);
        m.set(term, tfs[k]);
      }
    }
    seg.docs.forEach((d, o) => {
      if (!live[o]) return;
      const m = counts[o] ?? new Map<string, number>();
      let sum = 0;
      for (const tf of m.values()) sum += tf;
      if (sum !== d.dl || m.size !== d.uniq) {
        throw new FsError(
          "EUCLEAN",
          `${seg.where} inode ${d.ino}: postings give Σ tf ${sum} over ${m.size} terms, the doc table dl ${d.dl} uniq ${d.uniq}`,
        );
      }
      out.push({ ...d, counts: m });
    });
  });
  return out.sort((a, b) => a.ino - b.ino);
}

/** What a checkpoint writes. */
export type CheckpointPlan =
  /** append the new delta segment */
  | { kind: "delta" }
  /** write a new base of the live documents instead (and no delta); `reason` says which rule */
  | { kind: "merge"; reason: string };

/** A merge is due when the deltas' postings exceed this fraction of the base's. */
export const MERGE_POSTINGS_RATIO = 0.25;
/** A merge is due when the deltas' tombstones exceed this fraction of the base's documents. */
export const MERGE_TOMBSTONE_RATIO = 0.25;

/**
 * Decides between a delta and a merge at a checkpoint (design §1.4): merge
 * when there would be {@linkcode MAX_SEGMENTS} segments, when the deltas
 * (those on disk plus the new one) hold more than 25 % of the base's postings
 * bytes, or when their tombstones exceed 25 % of the base's documents.
 * @param h the current header
 * @param segments the sizes of its segments, base first ({@linkcode Bm25Index.segmentInfo})
 * @param delta the new delta's postings bytes and tombstones (its segment header will do)
 * @returns `{ kind: "delta" }` or `{ kind: "merge", reason }`
 * @throws FsError EINVAL when `segments` does not describe the header's segments, base first
 */
export function planCheckpoint(
  h: Bm25Header,
  segments: SegmentInfo[],
  delta: { postBytes: number; tombCount: number },
): CheckpointPlan {
  const current = h.segments.length;
  if (
    segments.length !== current || current < 1 || segments.some((s, i) => s.id !== h.segments[i].id) ||
    !segments[0].base || segments.slice(1).some((s) => s.base)
  ) {
    throw new FsError("EINVAL", `planCheckpoint: the segment sizes do not match the header's ${current} segments`);
  }
  const base = segments[0];
  const deltas = segments.slice(1);
  if (current + 1 >= MAX_SEGMENTS) {
    return { kind: "merge", reason: `a delta would make ${current + 1} segments (merge at ${MAX_SEGMENTS})` };
  }
  const post = deltas.reduce((a, s) => a + s.postBytes, delta.postBytes);
  if (post > MERGE_POSTINGS_RATIO * base.postBytes) {
    return {
      kind: "merge",
      reason: `deltas would hold ${post} postings bytes, > 25 % of the base's ${base.postBytes}`,
    };
  }
  const tombs = deltas.reduce((a, s) => a + s.tombCount, delta.tombCount);
  if (tombs > MERGE_TOMBSTONE_RATIO * base.docCount) {
    return {
      kind: "merge",
      reason: `deltas would hold ${tombs} tombstones, > 25 % of the base's ${base.docCount} documents`,
    };
  }
  return { kind: "delta" };
}
