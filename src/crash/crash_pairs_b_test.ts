/**
 * Issue 7 §4: ACE workloads of two operations (every pair of one operation
 * of each kind, each followed by fsync, fdatasync or sync), quarters
 * 2 and 3 of 0..3 (the others are in crash_pairs_a_test.ts, so
 * `deno test --parallel` runs the halves side by side). States cut before the
 * second operation's first write are those of the one-operation workload
 * (crash_test.ts) and are not checked again.
 */
import { crashTest } from "./_suite.ts";
import { aceWorkloads } from "./workloads.ts";

for (const part of [2, 3]) {
  crashTest(`ACE, two operations, quarter ${part}`, () => aceWorkloads(2, part, 4), { randomStates: 3, skipOps: 1 });
}
