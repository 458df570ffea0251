/**
 * Worker of `fuzz_test.ts`: runs the fuzz cases it is given (seed s on base
 * s mod the number of bases) and reports each
 * one as it starts and ends, so the test's watchdog can name a case that hangs.
 * @module
 */
/// <reference lib="deno.worker" />
import { fuzzOne } from "./_fuzz.ts";
import { metaBlocks } from "./_testutil.ts";

self.onmessage = (ev: MessageEvent<{ bases: Uint8Array[]; bs: number; seeds: number[] }>) => {
  const { bases, bs, seeds } = ev.data;
  const metas = bases.map((b) => metaBlocks(b));
  for (const seed of seeds) {
    self.postMessage({ type: "start", seed });
    const i = seed % bases.length;
    self.postMessage({ type: "result", result: fuzzOne(bases[i], metas[i], bs, seed) });
  }
  self.postMessage({ type: "done" });
};
