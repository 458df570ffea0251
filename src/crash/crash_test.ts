/**
 * Issue 7 §4, "a crash loses nothing": every ACE workload of one operation,
 * seeded random workloads of 300 operations, each run through a
 * RecordingDevice, every flush state and a bounded number of seeded
 * prefix/subset states checked by the oracle (src/crash/oracle.ts). The
 * pairs of operations are in crash_pairs_*_test.ts (separate modules, so
 * `deno test --parallel` runs them side by side).
 *
 * These require zero failures; they are ignored while mkfs makes images
 * without a journal or fsck rejects the uncrashed base image (_suite.ts).
 * Two tests run either way and prove that the oracle can fail: a device
 * that drops flushes, and the engine on an image without a journal. `reproduce` re-checks one workload or state from the environment
 * (see _suite.ts): e.g.
 * `CRASH_WORKLOAD='ace:write.fsync' CRASH_STATE=3 deno test -A src/crash/crash_test.ts --filter reproduce`.
 */
import assert from "node:assert/strict";
import { addReport, checkWorkload, formatTotals, makeBase, newTotals, reproduce } from "./harness.ts";
import { BASE, crashTest, runBatch, SEED, SEMANTICS, UNIT } from "./_suite.ts";
import { aceWorkloads, randomWorkload, workloadById } from "./workloads.ts";

/** Random workloads: seeds derived from CRASH_SEED, 300 operations each. */
const randoms = (from: number, to: number) => {
  const out = [];
  for (let i = from; i < to; i++) out.push(randomWorkload(SEED * 1000 + i, 300));
  return out;
};

crashTest("ACE, one operation and its persistence point", () => aceWorkloads(1), { randomStates: 12 });
crashTest("random workloads of 300 operations", () => randoms(0, 6), { randomStates: 150 });

Deno.test("crash: the oracle catches a device that drops flushes (the barriers of fsync never reach the disk)", () => {
  const t = newTotals();
  for (const id of ["ace:write.fsync", "ace:create.fsync", "ace:set-vector.fdatasync", "ace:append.sync"]) {
    // every flush after the engine's open is a lie: nothing the workload fsyncs is durable
    addReport(t, checkWorkload(BASE, workloadById(id), { seed: SEED, randomStates: 16, dropFlushes: (i) => i > 0 }));
  }
  console.log(formatTotals("dropped flushes", t, 1));
  assert.ok(t.failures.length > 0, "a lying disk must lose fsync'd data in some crash state");
  assert.ok(
    t.failures.some((f) => f.messages.some((m) => /missing|differs|has \d+ bytes|has vector|has xattrs/.test(m))),
    "some failure is a lost fsync'd change, not only an inconsistency",
  );
});

Deno.test("crash: the journal-less engine (mkfs --no-journal) is not crash-safe: the harness finds failing states", () => {
  const base = makeBase({ journal: false });
  assert.equal(base.hasJournal, false);
  assert.deepEqual(base.fsckFindings, []);
  const t = runBatch(aceWorkloads(1), { randomStates: 12 }, base);
  console.log(formatTotals("journal-less engine, ACE one operation", t, 3));
  assert.ok(t.failures.length > 0, "without a journal some crash state must be inconsistent");
});

Deno.test({
  name: "crash: reproduce CRASH_WORKLOAD [CRASH_STATE CRASH_SEED CRASH_RANDOM_STATES CRASH_SKIP_OPS CRASH_DUMP]",
  ignore: !Deno.env.get("CRASH_WORKLOAD"),
  fn() {
    const id = Deno.env.get("CRASH_WORKLOAD")!;
    const st = Deno.env.get("CRASH_STATE");
    const index = st === undefined ? undefined : Number(st);
    const num = (k: string, d: number) => Number(Deno.env.get(k) ?? d);
    const base = Deno.env.get("CRASH_JOURNAL") === "0" ? makeBase({ journal: false }) : BASE;
    const r = reproduce(base, workloadById(id), SEED, index, {
      randomStates: num("CRASH_RANDOM_STATES", 8),
      skipOps: num("CRASH_SKIP_OPS", 0),
      semantics: SEMANTICS,
      unit: UNIT,
    });
    console.log(r.log.join("\n"));
    const t = newTotals();
    addReport(t, r.report);
    console.log(formatTotals(id, t, 20));
    const dump = Deno.env.get("CRASH_DUMP");
    if (dump && r.image) {
      Deno.writeFileSync(dump, r.image);
      console.log(`state image written to ${dump}`);
    }
    assert.equal(r.report.failures.length, 0);
  },
});
