/**
 * Filtered vector search (`--where`, issue 12 design §5.3) on the engine in
 * process: recall@10 and latency at 1 %, 10 % and 100 % selectivity and
 * for a filter correlated with the vectors (one mixture component), by the
 * default rule (exact scan of few passing files, filtered graph traversal
 * otherwise) and forced through the graph. Data: src/fs/filter_recall.ts
 * (seeded Gaussian mixture, `user.bucket` uniform 0..99, `user.cluster`).
 *
 * ```sh
 * node_modules/deno/deno run -A bench/filter_recall.ts                          # 100,000 × 128-d, 200 queries
 * node_modules/deno/deno run -A bench/filter_recall.ts --n 20000 --dim 64 --queries 100
 * node_modules/deno/deno run -A bench/filter_recall.ts --ef 16                  # a smaller base ef (widened ×8 at most)
 * ```
 * @module
 */
import { buildFilterRecallSet, forceGraph, measureFilterRecall } from "../src/fs/filter_recall.ts";

function arg(name: string, dflt: string): string {
  const i = Deno.args.indexOf(name);
  return i >= 0 && i + 1 < Deno.args.length ? Deno.args[i + 1] : dflt;
}

if (import.meta.main) {
  const n = Number(arg("--n", "100000"));
  const dim = Number(arg("--dim", "128"));
  const queries = Number(arg("--queries", "200"));
  const ef = arg("--ef", "") ? Number(arg("--ef", "")) : undefined;
  const s = buildFilterRecallSet({ n, dim, clusters: 16, queries, seed: 1, m: 16, efConstruction: 200 });
  console.log(
    `${n} × ${dim}-d l2, 16 clusters, M 16, efConstruction 200, ${queries} queries; files ${
      (s.buildMs.files / 1000).toFixed(1)
    } s, graph ${(s.buildMs.graph / 1000).toFixed(1)} s${ef ? `; base ef ${ef}` : ""}\n`,
  );
  console.log("| filter | selectivity | path | ef | recall@10 | p50 ms | p95 ms |");
  console.log("| ------ | ----------- | ---- | -- | --------- | ------ | ------ |");
  try {
    for (const graph of [false, true]) {
      forceGraph(s, graph);
      for (const where of ["user.bucket = 7", "user.bucket < 10", "user.bucket exists", "user.cluster = 3"]) {
        const r = measureFilterRecall(s, where, 10, ef);
        console.log(
          `| \`${where}\` | ${(100 * r.passed / n).toFixed(1)} % | ${graph ? "forced " : ""}${r.method.method} | ${
            r.method.ef ?? "–"
          } | ${r.recall.toFixed(4)} | ${r.p50.toFixed(2)} | ${r.p95.toFixed(2)} |`,
        );
      }
    }
  } finally {
    s.fs.close();
  }
}
