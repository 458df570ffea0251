/**
 * Test helpers of src/bm25: an in-memory index file, random documents, and a
 * writer that lays segments and a header slot out as the engine does
 * (design issue-12 §1.4), so tests can open, damage and reopen whole files.
 * @module
 */
import { rng } from "../test_random.ts";
import { type Bm25Header, type DocInput, emptyHeader, encodeHeader } from "./layout.ts";
import { type BlockSource, Bm25Index } from "./reader.ts";
import { encodeSegment } from "./segment.ts";

/** A {@linkcode BlockSource} over bytes in memory (a whole number of blocks). */
export class MemFile implements BlockSource {
  constructor(readonly bytes: Uint8Array, readonly blockSize: number) {}
  get fileBlocks(): number {
    return Math.floor(this.bytes.length / this.blockSize);
  }
  read(fileBlock: number, count: number): Uint8Array {
    return this.bytes.slice(fileBlock * this.blockSize, (fileBlock + count) * this.blockSize);
  }
}

/** A document record with these counts and default metadata (igen 1, ctime = ino, crc = ino). */
export function docOf(ino: number, counts: Map<string, number>, flags = 0): DocInput {
  let dl = 0;
  for (const c of counts.values()) dl += c;
  return {
    ino,
    igen: 1 + (ino % 3),
    dl,
    ctimeSec: 1_700_000_000 + ino,
    ctimeNsec: ino % 1_000_000_000,
    crc: (ino * 2654435761) >>> 0,
    size: dl * 6,
    flags,
    uniq: counts.size,
    counts,
  };
}

/** Term counts of a whitespace-separated text (a stand-in analyzer for codec tests). */
export function countsOf(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of text.split(/\s+/)) if (t !== "") m.set(t, (m.get(t) ?? 0) + 1);
  return m;
}

/** Vocabulary word `i`: ASCII mostly, some multi-byte UTF-8 and some 64-byte terms. */
export function word(i: number): string {
  if (i % 97 === 5) return `ü${i}é`;
  if (i % 131 === 7) return `東京${i}`;
  if (i % 211 === 3) return ("w" + i).padEnd(64, "x");
  return "w" + i.toString(36);
}

/**
 * Random documents with Zipf-like term frequencies: inos `firstIno`,
 * `firstIno + step`, ...; about 5 % empty and 3 % skipped (binary or large).
 */
export function randomDocs(
  seed: number,
  n: number,
  vocab: number,
  maxLen: number,
  firstIno = 10,
  step = 1,
): DocInput[] {
  const r = rng(seed);
  const docs: DocInput[] = [];
  for (let i = 0; i < n; i++) {
    const ino = firstIno + i * step;
    const x = r();
    if (x < 0.03) {
      docs.push(docOf(ino, new Map(), x < 0.015 ? 1 : 2));
      continue;
    }
    const counts = new Map<string, number>();
    const len = x < 0.08 ? 0 : 1 + Math.floor(r() * maxLen);
    for (let k = 0; k < len; k++) {
      const w = word(Math.floor(vocab * r() ** 3));
      counts.set(w, (counts.get(w) ?? 0) + 1);
    }
    docs.push(docOf(ino, counts));
  }
  return docs;
}

/** One segment to lay out: its documents and tombstones. */
export interface SegmentSpec {
  docs: DocInput[];
  tombs: number[];
}

/**
 * Lays out an index file: header slot `slot` names the segments (ids 1, 2,
 * ... unless given), written one after the other from file block `gap + 2`;
 * the other slot is left zero unless `other` gives it a header too.
 * @returns the file bytes, the header written, and the segments' byte arrays
 */
export function buildFile(
  specs: SegmentSpec[],
  o: { blockSize: number; collectionId: number; hashSeed: number; slot?: 0 | 1; seq?: number; gap?: number },
): { file: Uint8Array; header: Bm25Header; segments: Uint8Array[] } {
  const bs = o.blockSize;
  const segments = specs.map((s, i) =>
    encodeSegment(s.docs, s.tombs, {
      id: i + 1,
      base: i === 0,
      blockSize: bs,
      collectionId: o.collectionId,
      hashSeed: o.hashSeed,
    })
  );
  const mem = Bm25Index.fromSegments(segments, bs, o.collectionId, o.hashSeed);
  const header: Bm25Header = {
    ...emptyHeader(),
    seq: o.seq ?? 1,
    textGeneration: 7,
    analyzer: 1,
    lang: "en",
    signature: "test-analyzer v1",
    maxFile: 4 << 20,
    docCount: mem.docCount(),
    totalTokens: mem.totalTokens(),
    nextSegmentId: segments.length + 1,
    segments: [],
  };
  let block = 2 + (o.gap ?? 0);
  segments.forEach((s, i) => {
    header.segments.push({ firstBlock: block, blockCount: s.length / bs, id: i + 1 });
    block += s.length / bs;
  });
  const file = new Uint8Array(block * bs);
  const slot = o.slot ?? 0;
  file.set(encodeHeader(header, slot, bs, o.collectionId), slot * bs);
  header.segments.forEach((r, i) => file.set(segments[i], r.firstBlock * bs));
  return { file, header, segments };
}
