/**
 * Seeded fuzzer of fsck (issue 7 §2): a populated image (files, directories,
 * hard links, symlinks, a fifo, xattrs, an extent tree block, a collection
 * with vectors, an unlinked-open orphan; one base with a journal to replay,
 * one without a journal and not cleanly closed, alternating) is damaged at
 * 1 to 3 metadata blocks per seed (random bytes, bit flips, zeroed, swapped,
 * a changed u64; in the superblock, bitmaps, inode table, directories,
 * extent tree, xattr, collection table, slot map, vector store and journal
 * superblock blocks). For every seed: `fsck -n` neither throws nor hangs,
 * `fsck -y` repairs, a second `fsck -y` changes nothing and exits 0, and the
 * engine opens the result read-write and creates, writes, reads and lists.
 * The cases run in two workers under a watchdog that fails a case making no
 * progress for 60 s.
 *
 * `FSCK_FUZZ_SEEDS=n` runs seeds 1..n (default 1000); `FSCK_FUZZ_SEED=s` runs
 * seed s alone and prints its reports.
 * @module
 */
import assert from "node:assert/strict";
import { buildPopulated, metaBlocks } from "./_testutil.ts";
import { fuzzOne, type FuzzResult } from "./_fuzz.ts";

const WATCHDOG_MS = 60_000;

Deno.test({
  name: "fsck fuzz: damaged metadata is found by -n, repaired by -y, clean on a second -y, and usable by the engine",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // two bases: a journal holding the last transactions (replayed first), and no journal with an unclean state
    const bases = [
      buildPopulated({ orphan: true, size: 2 << 20 }).dev.bytes.slice(),
      buildPopulated({ orphan: true, size: 1 << 20, journalBlocks: 0, inodes: 128 }).dev.bytes.slice(),
    ];
    const bs = 1024;
    const only = Deno.env.get("FSCK_FUZZ_SEED");
    if (only) {
      const base = bases[Number(only) % 2];
      const r = fuzzOne(base, metaBlocks(base), bs, Number(only));
      console.log(JSON.stringify({ ...r, failures: undefined }, null, 2));
      for (const f of r.failures) console.log(f);
      assert.deepEqual(r.failures, []);
      return;
    }
    const n = Number(Deno.env.get("FSCK_FUZZ_SEEDS") ?? 1000);
    const seeds = Array.from({ length: n }, (_, i) => i + 1);
    const nWorkers = Math.max(1, Math.min(Number(Deno.env.get("FSCK_FUZZ_WORKERS") ?? 1), n));
    const results: FuzzResult[] = [];
    const hung: string[] = [];
    const t0 = performance.now();
    await Promise.all(Array.from({ length: nWorkers }, (_, w) =>
      new Promise<void>((resolve) => {
        const worker = new Worker(new URL("./_fuzz_worker.ts", import.meta.url).href, { type: "module" });
        let current = -1;
        let last = performance.now();
        const finish = () => {
          clearInterval(timer);
          worker.terminate();
          resolve();
        };
        const timer = setInterval(() => {
          if (performance.now() - last > WATCHDOG_MS) {
            hung.push(`seed ${current} made no progress for ${WATCHDOG_MS / 1000} s (hang?)`);
            finish();
          }
        }, 1000);
        worker.onmessage = (ev) => {
          last = performance.now();
          if (ev.data.type === "start") current = ev.data.seed;
          else if (ev.data.type === "result") results.push(ev.data.result);
          else if (ev.data.type === "done") finish();
        };
        worker.onerror = (e) => {
          e.preventDefault();
          hung.push(`worker ${w} failed at seed ${current}: ${e.message}`);
          finish();
        };
        worker.postMessage({ bases, bs, seeds: seeds.filter((_, i) => i % nWorkers === w) });
      })));
    const failed = results.filter((r) => r.failures.length);
    const sum = (f: (r: FuzzResult) => number) => results.reduce((a, r) => a + f(r), 0);
    console.log(
      `fsck fuzz: ${results.length} images in ${((performance.now() - t0) / 1000).toFixed(1)} s, ` +
        `${sum((r) => r.found)} problems found by -n, ${sum((r) => r.repaired)} repaired by -y, ` +
        `${sum((r) => r.unrecoverable ? 1 : 0)} with both superblocks gone (exit 8), ${failed.length} failed; ` +
        `slowest fsck ${Math.max(0, ...results.map((r) => r.slowestMs)).toFixed(0)} ms`,
    );
    const report = failed.slice(0, 8).map((r) => `seed ${r.seed} (${r.damage}):\n  ${r.failures.join("\n  ")}`);
    assert.deepEqual(hung, [], hung.join("\n"));
    assert.equal(results.length, n, "every seed ran");
    assert.equal(
      failed.length,
      0,
      `${failed.length} seeds failed; rerun one with FSCK_FUZZ_SEED=<seed>:\n${report.join("\n")}`,
    );
  },
});
