/**
 * The fiori corpus for the ranking comparisons (minisearch_test.ts,
 * orama_test.ts): the 778 chunks of `@sap-ux/fiori-docs-embeddings`
 * (src/data/fiori.ts), analysed with `word-v1` (src/text/analyzer.ts, no
 * stemming or stop words), as one base segment; and the query set of design
 * §2.4.2: fixed human queries plus terms sampled by df bucket.
 * @module
 */
import { loadFiori } from "../data/fiori.ts";
import { rng } from "../test_random.ts";
import { type Analyzer, DEFAULT_ANALYZER, makeAnalyzer } from "../text/analyzer.ts";
import type { DocInput } from "./layout.ts";
import { Bm25Index } from "./reader.ts";
import { encodeSegment } from "./segment.ts";

/** The corpus, analysed and indexed. */
export interface FioriCorpus {
  /** the analyzer used for documents and queries */
  analyzer: Analyzer;
  /** chunk texts; document i has inode number i + 1 */
  texts: string[];
  /** UTF-8 bytes of all texts */
  textBytes: number;
  /** the index: one base segment in memory */
  index: Bm25Index;
  /** bytes of that segment (plus the two header slots of a file) */
  indexBytes: number;
}

let cached: Promise<FioriCorpus> | undefined;

/** Loads, analyses and indexes fiori once per test module (4 KiB blocks). */
export function fioriCorpus(): Promise<FioriCorpus> {
  cached ??= (async () => {
    const { docs } = await loadFiori();
    const analyzer = makeAnalyzer(DEFAULT_ANALYZER);
    const texts = docs.map((d) => d.content);
    const enc = new TextEncoder();
    const inputs: DocInput[] = texts.map((t, i) => {
      const { counts, dl } = analyzer.document(t);
      const bytes = enc.encode(t);
      return {
        ino: i + 1,
        igen: 1,
        dl,
        ctimeSec: 0,
        ctimeNsec: 0,
        crc: 0,
        size: bytes.length,
        flags: 0,
        uniq: counts.size,
        counts,
      };
    });
    const textBytes = inputs.reduce((a, d) => a + d.size, 0);
    const bs = 4096;
    const seg = encodeSegment(inputs, [], { id: 1, base: true, blockSize: bs, collectionId: 1, hashSeed: 0x5eed });
    const index = Bm25Index.fromSegments([seg], bs, 1, 0x5eed);
    return { analyzer, texts, textBytes, index, indexBytes: seg.length + 2 * bs };
  })();
  return cached;
}

/** Human queries (the design's 15 plus 5 more). */
export const FIXED_QUERIES = [
  "deploy cloud foundry",
  "fiori elements",
  "annotation",
  "odata v4 service",
  "flexible programming model",
  "page map",
  "destination",
  "ui5 tooling",
  "the",
  "error message troubleshooting",
  "abap",
  "sap fiori tools generator",
  "chart",
  "filter bar",
  "manifest json",
  "how to add a custom column to a table",
  "preview application with mock data",
  "i18n translation texts",
  "business application studio dev space",
  "value help dropdown",
];

/**
 * Queries of 1-3 terms sampled from the index's dictionary by df bucket (1,
 * 2-9, 10-99, ≥ 100), deterministic from `seed`.
 */
export function sampledQueries(ix: Bm25Index, count: number, seed: number): string[] {
  const seg = ix.segments[0];
  const buckets: string[][] = [[], [], [], []];
  for (let i = 0; i < seg.termCount; i++) {
    const df = seg.dfs[i];
    buckets[df === 1 ? 0 : df < 10 ? 1 : df < 100 ? 2 : 3].push(seg.termOf(i));
  }
  const r = rng(seed);
  const out: string[] = [];
  for (let q = 0; q < count; q++) {
    const n = 1 + (q % 3);
    const terms: string[] = [];
    for (let k = 0; k < n; k++) {
      const b = buckets[Math.floor(r() * 4)];
      terms.push(b[Math.floor(r() * b.length)]);
    }
    out.push(terms.join(" "));
  }
  return out;
}

/**
 * Asserts that another engine's results rank as ours (design §2.4.2): the
 * same matching documents, every score = ours × `scale` within 1e-12
 * relative, and the same top `k` except where scores tie within 1e-12.
 * @param ours our hits, best first
 * @param theirs their (ino, score) pairs in their order
 * @returns the largest relative score difference seen
 */
export function assertSameRanking(
  ours: { ino: number; score: number }[],
  theirs: [number, number][],
  scale: number,
  k: number,
  what: string,
): number {
  const tol = 1e-12;
  if (ours.length !== theirs.length) throw new Error(`${what}: ${ours.length} hits vs ${theirs.length}`);
  const mine = new Map(ours.map((h) => [h.ino, h.score]));
  let worst = 0;
  for (const [ino, s] of theirs) {
    const m = mine.get(ino);
    if (m === undefined) throw new Error(`${what}: their hit ${ino} is not ours`);
    const rel = Math.abs(s / scale - m) / m;
    worst = Math.max(worst, rel);
    if (!(rel <= tol)) throw new Error(`${what}: ino ${ino} scores ${s} vs ours ${m} × ${scale} (relative ${rel})`);
  }
  for (let i = 0; i < Math.min(k, ours.length); i++) {
    const [ino, s] = theirs[i];
    if (ino === ours[i].ino) continue;
    if (Math.abs(s / scale - ours[i].score) / ours[i].score > tol) {
      throw new Error(
        `${what}: rank ${i + 1} is ${ino} (${s / scale}), ours ${ours[i].ino} (${ours[i].score}): not a tie`,
      );
    }
  }
  return worst;
}
