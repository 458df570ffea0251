import assert from "node:assert/strict";
import { bucketHigh, bucketLow, bucketOf, BUCKETS, LatencyHistogram } from "./histogram.ts";
import { ERRNO_LIST, ERRNO_OTHER, errnoBucket, FuseStats, statsEnabled } from "./fuse_stats.ts";
import { rng } from "../test_random.ts";

Deno.test("histogram: buckets tile the integers in order, each at most 1/8 of its lower bound wide", () => {
  assert.equal(bucketOf(0), 0);
  assert.equal(bucketOf(-5), 0);
  assert.equal(bucketOf(7), 7);
  assert.equal(bucketOf(8), 8);
  for (let i = 0; i < BUCKETS - 1; i++) {
    assert.equal(bucketLow(i + 1), bucketHigh(i) + 1, `bucket ${i} ends where ${i + 1} starts`);
    assert.equal(bucketOf(bucketLow(i)), i);
    assert.equal(bucketOf(bucketHigh(i)), i);
    if (i >= 8) assert.ok(bucketHigh(i) - bucketLow(i) + 1 <= bucketLow(i) / 8, `bucket ${i} width`);
  }
  assert.equal(bucketOf(2 ** 52), BUCKETS - 1, "beyond 2^48 counts in the last bucket");
  assert.equal(bucketOf(2 ** 32 + 5), bucketOf(2 ** 32), "values above 2^32 use the high word");
  assert.ok(bucketOf(2 ** 33) > bucketOf(2 ** 32));
});

Deno.test("histogram: quantiles are within 12.5% of the exact ones; max and count exact", () => {
  const rnd = rng(7);
  const h = new LatencyHistogram();
  const vals: number[] = [];
  for (let i = 0; i < 20000; i++) {
    // log-uniform from 100 ns to 100 ms, as request latencies spread
    const v = Math.round(100 * 10 ** (6 * rnd()));
    vals.push(v);
    h.record(v);
  }
  vals.sort((a, b) => a - b);
  for (const q of [0.5, 0.9, 0.99, 0.999]) {
    const exact = vals[Math.ceil(q * vals.length) - 1];
    const got = h.quantile(q);
    assert.ok(got >= exact && got <= exact * 1.125 + 1, `q${q}: ${got} vs exact ${exact}`);
  }
  assert.equal(h.max, vals.at(-1));
  assert.equal(h.count, 20000);
  assert.equal(h.quantile(1), vals.at(-1));
  assert.equal(new LatencyHistogram().quantile(0.5), 0, "empty: 0");
});

Deno.test("FuseStats: counts by opcode and errno bucket; unknown errnos are 'other'", () => {
  const s = new FuseStats();
  s.record(1, 1000, 0);
  s.record(1, 3000, 2);
  s.record(1, 2000, 2);
  s.record(16, 500, 4000);
  s.record(99, 1, 0); // outside the table: ignored
  assert.equal(s.requests[1], 3);
  assert.equal(s.errors[1], 2);
  const f = s.op(1);
  assert.equal(f.name, "lookup");
  assert.equal(f.maxNs, 3000);
  assert.equal(f.totalNs, 6000);
  assert.ok(f.p50Ns >= 2000 && f.p50Ns <= 2250, String(f.p50Ns));
  assert.equal(errnoBucket(2), ERRNO_LIST.indexOf(2));
  assert.equal(errnoBucket(4000), ERRNO_OTHER);
  assert.equal(s.errnos[16 * (ERRNO_LIST.length + 1) + ERRNO_OTHER], 1);
  assert.equal(statsEnabled(() => "off"), false);
  assert.equal(statsEnabled(() => "0"), false);
  assert.equal(statsEnabled(() => undefined), true);
});
