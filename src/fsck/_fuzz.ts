/**
 * One fuzz case of `fuzz_test.ts`: damage a copy of the populated base image
 * (seeded), then require that `fsck -n` neither throws nor takes long, that
 * `fsck -y` repairs it, that a second `fsck -y` changes nothing and exits 0,
 * and that the engine then opens it read-write and works. Runs in workers
 * (`_fuzz_worker.ts`) so a hang is caught by the test's watchdog.
 * @module
 */
import { MemDevice } from "../device/mem.ts";
import { rng } from "../test_random.ts";
import { fsck, type FsckReport } from "./fsck.ts";
import { DAMAGE, damageBlock, engineSmoke, type MetaBlocks } from "./_testutil.ts";

/** What one case found. */
export interface FuzzResult {
  seed: number;
  /** the damage done */
  damage: string;
  /** problems `fsck -n` reported */
  found: number;
  /** problems the first `fsck -y` repaired */
  repaired: number;
  /** `fsck -n` said the filesystem cannot be checked (exit 8: both superblocks gone) */
  unrecoverable: boolean;
  /** why the case failed; empty when it passed */
  failures: string[];
  /** the slowest fsck run, ms */
  slowestMs: number;
}

/** Longest a single fsck of a small image may take, ms. */
export const MAX_FSCK_MS = 10_000;

function summary(r: FsckReport): string {
  return r.problems.map((p) => `    ${p.severity} ${p.code} @ ${p.where}: ${p.message}${p.fixed ? " [fixed]" : ""}`)
    .slice(0, 30).join("\n");
}

/**
 * Runs case `seed` on a copy of `base`.
 * @param base the undamaged image
 * @param meta its metadata blocks by kind
 * @param bs its block size
 */
export function fuzzOne(base: Uint8Array, meta: MetaBlocks, bs: number, seed: number): FuzzResult {
  const rnd = rng(seed * 2654435761);
  const pick = <T>(a: readonly T[]) => a[Math.floor(rnd() * a.length)];
  const bytes = base.slice();
  const kinds = (Object.keys(meta) as (keyof MetaBlocks)[]).filter((k) => meta[k].length);
  const all = kinds.flatMap((k) => meta[k]);
  const damage: string[] = [];
  const n = 1 + Math.floor(rnd() * 3);
  for (let i = 0; i < n; i++) {
    const kind = pick(kinds);
    const block = pick(meta[kind]);
    let how = pick(DAMAGE);
    const other = pick(all);
    if (how === "swapped" && other === block) how = "zeroed";
    damage.push(`${kind}: ${damageBlock(bytes, bs, block, how, rnd, other)}`);
  }
  const res: FuzzResult = {
    seed,
    damage: damage.join("; "),
    found: 0,
    repaired: 0,
    unrecoverable: false,
    failures: [],
    slowestMs: 0,
  };
  const fail = (what: string, r?: FsckReport) => res.failures.push(r ? `${what}\n${summary(r)}` : what);
  const run = (label: string, f: () => FsckReport) => {
    const t0 = performance.now();
    let r: FsckReport;
    try {
      r = f();
    } catch (e) {
      fail(`${label} threw: ${e instanceof Error ? e.stack : e}`);
      return undefined;
    }
    const ms = performance.now() - t0;
    res.slowestMs = Math.max(res.slowestMs, ms);
    if (ms > MAX_FSCK_MS) fail(`${label} took ${ms.toFixed(0)} ms`);
    if (r.problems.some((p) => p.code === "CHECKER_FAILED" || p.code === "PHASE_ABORTED")) {
      fail(`${label}: checker failure`, r);
    }
    return r;
  };
  const ro = run("fsck -n", () => fsck(new MemDevice(bytes, { readOnly: true }), { readOnly: true }));
  if (!ro) return res;
  res.found = ro.problems.length;
  if (![0, 4, 8].includes(ro.exitCode)) fail(`fsck -n exit ${ro.exitCode}`, ro);
  if (ro.exitCode === 8) {
    res.unrecoverable = true;
    if (!ro.problems.some((p) => p.code === "NOT_VEXFS")) fail("fsck -n exit 8 without NOT_VEXFS", ro);
    return res;
  }
  const dev = new MemDevice(bytes, { name: `fuzz-${seed}` });
  const y1 = run("fsck -y", () => fsck(dev, { yes: true }));
  if (!y1) return res;
  res.repaired = y1.fixed;
  if (y1.exitCode !== 0 && y1.exitCode !== 1) fail(`fsck -y exit ${y1.exitCode}`, y1);
  const after = bytes.slice();
  const y2 = run("second fsck -y", () => fsck(dev, { yes: true }));
  if (!y2) return res;
  if (y2.exitCode !== 0 || y2.problems.some((p) => p.fixed)) fail(`second fsck -y exit ${y2.exitCode}`, y2);
  if (bytes.some((x, i) => x !== after[i])) fail("second fsck -y changed the image");
  for (const f of engineSmoke(dev, String(seed))) fail(f);
  const last = run(
    "fsck -n after the engine",
    () => fsck(new MemDevice(bytes, { readOnly: true }), { readOnly: true }),
  );
  if (last && (last.exitCode !== 0 || last.problems.some((p) => p.severity !== "info"))) {
    fail(`fsck -n after the engine used the repaired image: exit ${last.exitCode}`, last);
  }
  return res;
}
