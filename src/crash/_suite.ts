/**
 * What the crash test files share: the base image, the environment knobs and
 * one way to register a batch of workloads as a test.
 *
 * Environment (all optional):
 *
 * | variable          | meaning                                                                          |
 * | ----------------- | -------------------------------------------------------------------------------- |
 * | `CRASH_SEED`      | seed of the random states and of the random workloads (default 1)                |
 * | `CRASH_SCALE`     | multiplies the random states per workload (default 1; 0.5 halves, 4 quadruples)  |
 * | `CRASH_SEMANTICS` | `transaction` (default) or `posix` (CrashMonkey's per-file rules, oracle.ts)     |
 * | `CRASH_WORKLOAD`  | a workload id: the `reproduce` test re-checks it (all states, or `CRASH_STATE`)  |
 * | `CRASH_STATE`     | the index of one state of `CRASH_WORKLOAD`                                       |
 * | `CRASH_DUMP`      | with `CRASH_STATE`: write that state's image to this file (for `vexfs fsck`)     |
 * | `CRASH_UNIT`      | atomic write unit in bytes (default the block size; 512 tears blocks at sectors) |
 * | `CRASH_JOURNAL`   | `0`: the `reproduce` test uses an image without a journal (`mkfs --no-journal`)  |
 * | `CRASH_FORCE`     | `1`: run the zero-failure tests even when they would be ignored                  |
 * @module
 */
import assert from "node:assert/strict";
import type { Semantics } from "./oracle.ts";
import { addReport, type BaseImage, checkWorkload, formatTotals, makeBase, newTotals, type Totals } from "./harness.ts";
import type { Workload } from "./workloads.ts";

const env = (k: string) => Deno.env.get(k);

/** The ACE base image (4 MiB, 1 KiB blocks; with a journal once mkfs makes one). */
export const BASE: BaseImage = makeBase();

/** `CRASH_SEED`, default 1. */
export const SEED: number = Number(env("CRASH_SEED") ?? 1);

/** `CRASH_SCALE`, default 1. */
export const SCALE: number = Number(env("CRASH_SCALE") ?? 1);

/** `CRASH_UNIT`, default undefined (the block size). */
export const UNIT: number | undefined = env("CRASH_UNIT") ? Number(env("CRASH_UNIT")) : undefined;

/** `CRASH_SEMANTICS`, default `"transaction"`. */
export const SEMANTICS: Semantics = env("CRASH_SEMANTICS") === "posix" ? "posix" : "transaction";

/**
 * Why the zero-failure tests are ignored, or undefined when they run: the
 * engine is crash-safe only with the metadata journal (FORMAT.md §9), and
 * the oracle needs an fsck that passes the uncrashed base image.
 */
export const SKIP: string | undefined = env("CRASH_FORCE") === "1"
  ? undefined
  : !BASE.hasJournal
  ? "ignored until the journal lands: mkfs made an image without INCOMPAT_JOURNAL, and without a journal the " +
    "engine is not crash-safe (the 'journal-less engine' test shows its failures)"
  : BASE.fsckFindings.length
  ? `ignored until fsck passes the uncrashed journaled base image, which every crash state would inherit: ${
    BASE.fsckFindings.slice(0, 2).join("; ")
  }`
  : undefined;

if (SKIP) console.warn(`crash tests: ${SKIP}`);

/** Options of {@link crashTest}. */
export interface BatchOptions {
  /** random states per workload before `CRASH_SCALE` */
  randomStates: number;
  /** states only after the first write of this operation (see `CheckOptions.skipOps`) */
  skipOps?: number;
}

/** Runs `workloads` on `base` and returns the totals (failures included). */
export function runBatch(workloads: Workload[], opts: BatchOptions, base: BaseImage = BASE): Totals {
  const t = newTotals();
  const t0 = performance.now();
  for (const w of workloads) {
    addReport(
      t,
      checkWorkload(base, w, {
        seed: SEED,
        randomStates: Math.round(opts.randomStates * SCALE),
        skipOps: opts.skipOps,
        semantics: SEMANTICS,
        unit: UNIT,
      }),
    );
  }
  t.ms = performance.now() - t0;
  return t;
}

/**
 * Registers a test that checks every crash state of `workloads()` and
 * requires zero failures; ignored (with the reason in its name) while the
 * image has no journal.
 */
export function crashTest(name: string, workloads: () => Workload[], opts: BatchOptions): void {
  Deno.test({
    name: `crash: ${name}${SKIP ? ` (${SKIP.slice(0, 160)})` : ""}`,
    ignore: !!SKIP,
    fn() {
      const t = runBatch(workloads(), opts);
      console.log(formatTotals(name, t));
      assert.equal(
        t.failures.length,
        0,
        `${t.failures.length} of ${t.states} crash states fail; first: ` +
          JSON.stringify(t.failures[0], null, 1),
      );
    },
  });
}
