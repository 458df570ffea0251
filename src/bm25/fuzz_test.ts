/**
 * Damage fuzzing of the decoder (./segment_decode.ts, ./reader.ts): random
 * bytes of a segment are changed and the blocks RE-SEALED, so the CRC cannot
 * catch them; then the segment is decoded, every term's postings read, the
 * index scored and merged. Each run must either work or throw
 * `FsError("EUCLEAN")`: never another exception (a RangeError from an
 * out-of-bounds read, an allocation failure), never a hang. Seeded: a
 * failure reproduces from its round number.
 */
import assert from "node:assert/strict";
import { FsError } from "../errors.ts";
import { rng } from "../test_random.ts";
import { buildFile, MemFile, randomDocs } from "./_testutil.ts";
import { sealBlock } from "./layout.ts";
import { liveDocInputs, mergeSegments } from "./merge.ts";
import { Bm25Index } from "./reader.ts";
import { scoreBm25 } from "./score.ts";
import { encodeSegment } from "./segment.ts";

const COLL = 3, SEED = 4242, BS = 1024;

Deno.test("re-sealed random damage to a segment: it works or it is EUCLEAN, nothing else", () => {
  const docs = randomDocs(5, 40, 150, 30, 2, 3);
  const good = encodeSegment(docs, [7, 8, 100], {
    id: 6,
    base: true,
    blockSize: BS,
    collectionId: COLL,
    hashSeed: SEED,
  });
  const nb = good.length / BS;
  const r = rng(99);
  let euclean = 0, fine = 0;
  for (let round = 0; round < 600; round++) {
    const bad = good.slice();
    const flips = 1 + Math.floor(r() * 3);
    for (let f = 0; f < flips; f++) {
      // favour the header and record fields: block 0 and the first bytes of blocks
      const b = r() < 0.3 ? 0 : Math.floor(r() * nb);
      const at = r() < 0.5 ? Math.floor(r() * 128) : Math.floor(r() * (BS - 4));
      const v = r();
      bad[b * BS + at] = v < 0.3 ? 0 : v < 0.5 ? 0xff : Math.floor(r() * 256);
    }
    for (let b = 0; b < nb; b++) sealBlock(bad.subarray(b * BS, (b + 1) * BS), COLL, 6);
    try {
      const ix = Bm25Index.fromSegments([bad], BS, COLL, SEED);
      const seg = ix.segments[0];
      for (let i = 0; i < seg.termCount; i++) seg.postings(i);
      seg.verify();
      scoreBm25(ix, ["w1", "w2", "w3", "w1"], { k1: 1.2, b: 0.75 }, { depth: 5 });
      liveDocInputs(ix);
      mergeSegments(ix, { id: 9, blockSize: BS, collectionId: COLL, hashSeed: SEED });
      fine++;
    } catch (e) {
      if (!(e instanceof FsError) || e.code !== "EUCLEAN") {
        throw new Error(`round ${round}: ${e instanceof Error ? e.stack : e}`);
      }
      euclean++;
    }
  }
  assert.ok(euclean > 300, `${euclean} EUCLEAN, ${fine} fine`);
});

Deno.test("re-sealed random damage to a header slot: open works, finds no index, or is EUCLEAN", () => {
  const specs = [{ docs: randomDocs(8, 30, 100, 20), tombs: [] }, {
    docs: randomDocs(9, 5, 100, 20, 12),
    tombs: [12, 13, 14, 15, 16, 3],
  }];
  const { file } = buildFile(specs, { blockSize: BS, collectionId: COLL, hashSeed: SEED });
  const r = rng(7);
  const seen = { ok: 0, none: 0, euclean: 0 };
  for (let round = 0; round < 400; round++) {
    const bad = file.slice();
    const at = r() < 0.7 ? Math.floor(r() * 300) : Math.floor(r() * (BS - 4));
    bad[at] = r() < 0.3 ? 0xff : Math.floor(r() * 256);
    sealBlock(bad.subarray(0, BS), COLL, -1);
    // with and without the file size known to the reader
    for (
      const src of [new MemFile(bad, BS), {
        blockSize: BS,
        read: (b: number, n: number) => bad.slice(b * BS, (b + n) * BS),
      }]
    ) {
      try {
        const ix = Bm25Index.open(src, COLL, SEED);
        if (ix === null) seen.none++;
        else {
          scoreBm25(ix, ["w1"], { k1: 1.2, b: 0.75 });
          seen.ok++;
        }
      } catch (e) {
        if (!(e instanceof FsError) || e.code !== "EUCLEAN") {
          throw new Error(`round ${round} byte ${at}: ${e instanceof Error ? e.stack : e}`);
        }
        seen.euclean++;
      }
    }
  }
  assert.ok(seen.euclean > 100 && seen.ok > 10, JSON.stringify(seen));
});
