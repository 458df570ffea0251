/**
 * The recall-versus-QPS plot of a dataset, drawn as ann-benchmarks draws
 * them (ann_benchmarks/plotting: recall on x, queries per second on a log
 * y axis, one line per system through the Pareto frontier of its sweep, a
 * marker per point): a Vega-Lite specification ({@linkcode plotSpec}, pure)
 * rendered headless to SVG by Vega ({@linkcode renderSvg}), no browser or
 * canvas needed. The points off the frontier are drawn faintly, and the
 * recall target as a dashed rule.
 * @module
 */
import { paretoFrontier, RECALL_TARGET, type SweepPoint } from "./metrics.ts";
import { SYSTEM_IDS, SYSTEM_LABELS, type SystemId } from "./protocol.ts";

/** What a plot shows of one system. */
export interface PlotSeries {
  system: SystemId;
  points: readonly SweepPoint[];
}

/** A row of the plot's data. */
export interface PlotDatum {
  system: string;
  recall: number;
  qps: number;
  ef: string;
  /** on the system's Pareto frontier */
  frontier: boolean;
  /** order along the line (recall ascending) */
  order: number;
}

/** Marker shapes per system (as ann-benchmarks gives each algorithm its own). */
const SHAPES: Record<SystemId, string> = {
  hnswlib: "circle",
  usearch: "square",
  vexfs: "triangle-up",
  "vexfs-mount": "diamond",
  "vexfs-exact": "cross",
  "brute-c": "triangle-down",
};
/** Colours per system (Tableau 10, VexFS in the warm ones). */
const COLORS: Record<SystemId, string> = {
  hnswlib: "#4e79a7",
  usearch: "#59a14f",
  vexfs: "#e15759",
  "vexfs-mount": "#f28e2b",
  "vexfs-exact": "#b07aa1",
  "brute-c": "#7f7f7f",
};

/** The plot's data rows: every point, marked whether it is on its system's frontier. */
export function plotData(series: readonly PlotSeries[]): PlotDatum[] {
  const out: PlotDatum[] = [];
  for (const s of series) {
    const front = new Set(paretoFrontier(s.points));
    const sorted = [...s.points].sort((a, b) => a.recall - b.recall || a.qps - b.qps);
    sorted.forEach((p, i) =>
      out.push({
        system: SYSTEM_LABELS[s.system],
        recall: p.recall,
        qps: p.qps,
        ef: p.ef === null ? "exact" : String(p.ef),
        frontier: front.has(p),
        order: i,
      })
    );
  }
  return out;
}

/**
 * The Vega-Lite specification of a dataset's plot.
 * @param title e.g. "MNIST (9,000 × 784, l2)"
 * @param k the k of recall@k
 */
export function plotSpec(title: string, k: number, series: readonly PlotSeries[]): Record<string, unknown> {
  const data = plotData(series);
  const present = SYSTEM_IDS.filter((id) => series.some((s) => s.system === id && s.points.length));
  const minRecall = data.length ? Math.min(...data.map((d) => d.recall)) : 0;
  const lo = Math.max(0, Math.min(RECALL_TARGET - 0.05, Math.floor(minRecall * 10) / 10));
  const color = {
    field: "system",
    type: "nominal",
    title: null,
    scale: { domain: present.map((s) => SYSTEM_LABELS[s]), range: present.map((s) => COLORS[s]) },
    legend: { orient: "right", labelLimit: 400 },
  };
  const shape = {
    field: "system",
    type: "nominal",
    scale: { domain: present.map((s) => SYSTEM_LABELS[s]), range: present.map((s) => SHAPES[s]) },
  };
  const x = {
    field: "recall",
    type: "quantitative",
    title: `Recall@${k}`,
    scale: { domain: [lo, 1], nice: false, zero: false, padding: 10 },
  };
  const y = {
    field: "qps",
    type: "quantitative",
    title: "Queries per second (1/s), one thread",
    scale: { type: "log" },
  };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: `${title}: recall@${k} vs queries per second`, subtitle: "up and to the right is better" },
    width: 560,
    height: 380,
    background: "white",
    data: { values: data },
    layer: [
      {
        mark: { type: "rule", strokeDash: [4, 4], color: "#999" },
        data: { values: [{ recall: RECALL_TARGET }] },
        encoding: { x },
      },
      {
        transform: [{ filter: "datum.frontier" }],
        mark: { type: "line", point: false, strokeWidth: 2, clip: true },
        encoding: { x, y, color, order: { field: "order", type: "quantitative" } },
      },
      {
        mark: { type: "point", filled: true, size: 60, clip: true },
        encoding: {
          x,
          y,
          color,
          shape,
          opacity: { condition: { test: "datum.frontier", value: 1 }, value: 0.3 },
        },
      },
    ],
    config: { font: "sans-serif", axis: { grid: true, gridColor: "#eee" } },
  };
}

/**
 * Renders a Vega-Lite specification to an SVG document (headless: Vega's SVG
 * string renderer, no DOM or canvas).
 */
export async function renderSvg(spec: Record<string, unknown>): Promise<string> {
  const vega = await import("vega");
  const vl = await import("vega-lite");
  // deno-lint-ignore no-explicit-any
  const compiled = vl.compile(spec as any).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
