/**
 * Merging a BM25 index (design issue-12 §1.4): the live documents of every
 * segment recovered with their term counts from the postings (so a new base
 * is written without re-reading or re-tokenizing any file), and the pure
 * decision of a checkpoint: append a delta segment or write a new base.
 *
 * A merge is {@linkcode mergeSegments}: the live documents' postings copied
 * from the decoded segments with new ordinals, byte-identical to
 * `encodeSegment(liveDocInputs(ix), [], { base: true, ... })` and so to a
 * from-scratch build of the same documents (tested in merge_test.ts), but
 * without a Map of terms per document (on 50,000 documents of ~300 tokens the
 * Map route needs minutes and gigabytes; this one reads each posting once).
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
import { type SegmentOptions, writeSegment } from "./_segment_write.ts";
import { varintLength, writeVarint } from "./_varint.ts";
import { type Bm25Header, type DocEntry, type DocInput, MAX_SEGMENTS } from "./layout.ts";
import type { Bm25Index, SegmentInfo } from "./reader.ts";
import { compareBytes } from "./segment.ts";

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

/** A growable byte buffer. */
class ByteSink {
  buf = new Uint8Array(1 << 16);
  len = 0;
  /** Makes room for `n` more bytes. */
  room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }
  /** The bytes written (a copy of exactly `len` bytes). */
  bytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/**
 * Writes a new base segment of the index's live documents (a merge, design
 * §1.4) straight from the decoded segments: the dictionaries, already sorted
 * by (hash, term bytes), are merged in that order; each term's live postings
 * get the new ordinals (live documents in ino order). Terms left without a
 * live posting are dropped. No term is decoded to a string, no hash recomputed.
 * @param ix the index (with its overlay, if any: merged too)
 * @param o the new segment's id, block size, CRC seed and the hash seed (must be the index's)
 * @returns the base segment, byte-identical to `encodeSegment(liveDocInputs(ix), [], { ...o, base: true })`
 * @throws FsError EINVAL when `o.hashSeed` or `o.blockSize` differ from the index's; EUCLEAN when a segment's
 *   postings do not decode or a live document's Σ tf ≠ dl or distinct terms ≠ uniq
 */
export function mergeSegments(ix: Bm25Index, o: Omit<SegmentOptions, "base">): Uint8Array {
  if (o.hashSeed !== ix.hashSeed || o.blockSize !== ix.blockSize) {
    throw new FsError("EINVAL", "mergeSegments: the hash seed and block size must be the index's");
  }
  const segs = ix.segments;
  // Live documents in ino order; new ordinal of each (segment, ordinal), -1 if dead.
  const all: [number, number, number][] = [];
  segs.forEach((seg, s) => {
    const live = ix.live[s];
    for (let k = 0; k < seg.docs.length; k++) if (live[k]) all.push([seg.docs[k].ino, s, k]);
  });
  all.sort((a, b) => a[0] - b[0]);
  const newOrd = segs.map((seg) => new Int32Array(seg.docs.length).fill(-1));
  const docs: DocEntry[] = all.map(([, s, k], i) => {
    newOrd[s][k] = i;
    return segs[s].docs[k];
  });
  const n = docs.length;
  const sum = new Float64Array(n), cnt = new Uint32Array(n);
  const hashes: number[] = [], lens: number[] = [], dfs: number[] = [], postLens: number[] = [];
  const terms = new ByteSink(), post = new ByteSink();
  const tmpOrd = new Uint32Array(n), tmpTf = new Uint32Array(n);
  const pos = new Array<number>(segs.length).fill(0);
  const from: number[] = [];
  for (;;) {
    // the smallest (hash, bytes) among the segments' next records, and every segment holding it
    from.length = 0;
    let hash = 0, bytes: Uint8Array | null = null;
    for (let s = 0; s < segs.length; s++) {
      const i = pos[s];
      if (i >= segs[s].termCount) continue;
      const h = segs[s].hashes[i];
      const c = bytes === null ? -1 : h !== hash ? h - hash : compareBytes(segs[s].termBytesOf(i), bytes);
      if (c < 0) {
        from.length = 0;
        hash = h;
        bytes = segs[s].termBytesOf(i);
      }
      if (c <= 0) from.push(s);
    }
    if (bytes === null) break;
    let df = 0;
    for (const s of from) {
      const { ords, tfs } = segs[s].decodePostings(pos[s]++);
      const map = newOrd[s];
      for (let k = 0; k < ords.length; k++) {
        const to = map[ords[k]];
        if (to < 0) continue;
        tmpOrd[df] = to;
        tmpTf[df++] = tfs[k];
      }
    }
    if (df === 0) continue;
    let order: number[] | null = null;
    if (from.length > 1) order = Array.from({ length: df }, (_, k) => k).sort((a, b) => tmpOrd[a] - tmpOrd[b]);
    let len = 0, prev = 0;
    for (let k = 0; k < df; k++) {
      const j = order ? order[k] : k;
      len += varintLength(tmpOrd[j] - prev) + varintLength(tmpTf[j]);
      prev = tmpOrd[j];
    }
    post.room(len);
    prev = 0;
    for (let k = 0; k < df; k++) {
      const j = order ? order[k] : k;
      const ord = tmpOrd[j], tf = tmpTf[j];
      post.len = writeVarint(post.buf, post.len, ord - prev);
      post.len = writeVarint(post.buf, post.len, tf);
      prev = ord;
      sum[ord] += tf;
      cnt[ord]++;
    }
    terms.room(bytes.length);
    terms.buf.set(bytes, terms.len);
    terms.len += bytes.length;
    hashes.push(hash);
    lens.push(bytes.length);
    dfs.push(df);
    postLens.push(len);
  }
  let liveTokens = 0;
  for (let i = 0; i < n; i++) {
    const d = docs[i];
    if (sum[i] !== d.dl || cnt[i] !== d.uniq) {
      const where = segs[all[i][1]].where;
      throw new FsError(
        "EUCLEAN",
        `${where} inode ${d.ino}: postings give Σ tf ${sum[i]} over ${
          cnt[i]
        } terms, the doc table dl ${d.dl} uniq ${d.uniq}`,
      );
    }
    liveTokens += d.dl;
  }
  return writeSegment({
    docs,
    uniq: Uint32Array.from(docs, (d) => d.uniq),
    tombs: [],
    hashes: Uint32Array.from(hashes),
    lens: Uint16Array.from(lens),
    dfs: Uint32Array.from(dfs),
    postLens: Uint32Array.from(postLens),
    termStream: terms.bytes(),
    postStream: post.bytes(),
    liveTokens,
  }, { ...o, base: true });
}
