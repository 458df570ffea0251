/**
 * What `vexfs bench vectors` does around a run (commands/bench.ts parses
 * the options and prints): the run itself (or, with `reportOnly`, the last
 * run of the history), the history, the plots and BENCHMARKS.md.
 * @module
 */
import { REPO_DIR } from "../exec.ts";
import { type Change, compareRun, insertRun, latestRun, openHistory, reportOf } from "./history.ts";
import { plotSpec, renderSvg } from "./plot.ts";
import { renderVectorsMarkdown, updateVectorsMarkdown } from "./report.ts";
import { runVectorsBench, type VectorsBenchOptions, type VectorsReport } from "./run.ts";

/** Where the history lives by default. */
export const DEFAULT_HISTORY = `${REPO_DIR}/bench/history.sqlite`;
/** Where the plots go by default. */
export const DEFAULT_PLOTS = `${REPO_DIR}/bench/plots`;

/** Options beyond the run's. */
export interface VectorsMainOptions {
  run: VectorsBenchOptions;
  /** history file, or false for none */
  history: string | false;
  /** compare with the previous measurements (true) or with this run id */
  compare?: boolean | number;
  /** redraw from the history's latest run instead of running */
  reportOnly?: boolean;
  /** directory of the SVG plots, or false for none */
  plots: string | false;
  /** BENCHMARKS.md to refresh, when given */
  writeMd?: string;
}

/** What came of it. */
export interface VectorsOutcome {
  report: VectorsReport;
  /** the run's id in the history */
  runId?: number;
  changes: Change[];
  /** dataset → SVG file written */
  plotFiles: Record<string, string>;
  mdFile?: string;
}

/** Path of `file` relative to the directory of `base` (for links in Markdown). */
export function relativeTo(base: string, file: string): string {
  const from = base.split("/").slice(0, -1);
  const to = file.split("/");
  let i = 0;
  while (i < from.length && i < to.length - 1 && from[i] === to[i]) i++;
  return [...from.slice(i).map(() => ".."), ...to.slice(i)].join("/");
}

/** Runs (or reloads) the benchmark and writes its history, plots and Markdown. */
export async function benchVectors(o: VectorsMainOptions): Promise<VectorsOutcome> {
  let report: VectorsReport;
  let runId: number | undefined;
  let changes: Change[] = [];
  const db = o.history ? openHistory(o.history) : undefined;
  try {
    if (o.reportOnly) {
      if (!db) throw new Error("--report-only needs the history");
      runId = latestRun(db);
      const r = runId !== undefined ? reportOf(db, runId) : undefined;
      if (!r) throw new Error(`the history ${o.history} holds no run yet`);
      report = r;
    } else {
      report = await runVectorsBench(o.run);
      if (db) runId = insertRun(db, report);
    }
    if (db && runId !== undefined) {
      changes = compareRun(db, runId, typeof o.compare === "number" ? o.compare : undefined);
    }
  } finally {
    db?.close();
  }
  const plotFiles: Record<string, string> = {};
  if (o.plots) {
    await Deno.mkdir(o.plots, { recursive: true });
    for (const d of report.datasets) {
      const series = d.systems.filter((s) => s.available && s.points.length).map((s) => ({
        system: s.system,
        points: s.points,
      }));
      if (!series.length) continue;
      const file = `${o.plots}/${d.id}.svg`;
      await Deno.writeTextFile(file, await renderSvg(plotSpec(d.title, report.settings.k, series)) + "\n");
      plotFiles[d.id] = file;
    }
  }
  let mdFile: string | undefined;
  if (o.writeMd) {
    mdFile = o.writeMd.startsWith("/") ? o.writeMd : `${Deno.cwd()}/${o.writeMd}`;
    let old: string | undefined;
    try {
      old = await Deno.readTextFile(mdFile);
    } catch { /* a new file */ }
    const links = Object.fromEntries(Object.entries(plotFiles).map(([id, f]) => [id, relativeTo(mdFile!, f)]));
    await Deno.writeTextFile(
      mdFile,
      updateVectorsMarkdown(old, renderVectorsMarkdown(report, links, o.compare !== false ? changes : [], runId)),
    );
  }
  return { report, runId, changes, plotFiles, mdFile };
}
