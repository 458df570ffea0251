/**
 * Filtered vector search keeps recall@10 ≥ 0.95 at 1 % and 10 %
 * selectivity (issue 12; design §5.3): 16,000 seeded Gaussian-mixture
 * 64-d vectors in one HNSW collection, `user.bucket` uniform 0..99
 * (`= 7` ≈ 1 %, `< 10` ≈ 10 %), ground truth an exact scan over the
 * passing files. Through the filtered graph traversal (thresholds lowered,
 * as hnsw_test.ts does) the recall must be ≥ 0.95; with the default rule
 * these filters are scanned exactly (recall 1). The correlated filter
 * (`user.cluster`, one mixture component) is checked too. Larger runs:
 * `deno run -A bench/filter_recall.ts`.
 */
import assert from "node:assert/strict";
import { buildFilterRecallSet, forceGraph, measureFilterRecall } from "./filter_recall.ts";

Deno.test("filtered search: recall@10 ≥ 0.95 at 1% and 10% through the graph, 1.0 by the default rule", () => {
  const s = buildFilterRecallSet({
    n: 16_000,
    dim: 64,
    clusters: 16,
    queries: 60,
    seed: 12,
    m: 16,
    efConstruction: 100,
  });
  try {
    const report: string[] = [];
    forceGraph(s, true);
    for (
      const [where, share] of [["user.bucket = 7", 0.01], ["user.bucket < 10", 0.1], [
        "user.cluster = 3",
        1 / 16,
      ]] as const
    ) {
      const r = measureFilterRecall(s, where);
      report.push(`graph ${where}: ${r.passed} passed, recall@10 ${r.recall.toFixed(4)}, ef ${r.method.ef}`);
      assert.equal(r.method.method, "hnsw", `${where} through the graph`);
      assert.ok(Math.abs(r.passed / 16_000 - share) < share / 3, `${where}: ${r.passed} files passed`);
      assert.ok(r.recall >= 0.95, report.join("; "));
    }
    forceGraph(s, false);
    for (const where of ["user.bucket = 7", "user.bucket < 10"]) {
      const r = measureFilterRecall(s, where);
      report.push(`default ${where}: ${r.method.method}, recall@10 ${r.recall}`);
      assert.equal(r.method.method, "exact", `${where}: the default rule scans the passing files`);
      assert.equal(r.recall, 1, report.join("; "));
    }
    console.log(report.join("\n"));
  } finally {
    s.fs.close();
  }
});
