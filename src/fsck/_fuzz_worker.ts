/**
 * Worker of `fuzz_test.ts`: runs the fuzz cases it is given and reports each
 * one as it starts and ends, so the test's watchdog can name a case that hangs.
 * @module
 */
/// <reference lib="deno.worker" />
import { fuzzOne } from "./_fuzz.ts";
import { metaBlocks } from "./_testutil.ts";

self.onmessage = (ev: MessageEvent<{ base: Uint8Array; bs: number; seeds: number[] }>) => {
  const { base, bs, seeds } = ev.data;
  const meta = metaBlocks(base);
  for (const seed of seeds) {
    self.postMessage({ type: "start", seed });
    self.postMessage({ type: "result", result: fuzzOne(base, meta, bs, seed) });
  }
  self.postMessage({ type: "done" });
};
