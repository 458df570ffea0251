/**
 * The report of `vexfs bench --text` (bench/text.ts): tables, the issue's targets (issue 12 §3: indexing and p50
 * query latency no slower than the faster of MiniSearch and Orama, the index at most twice the text it covers), the
 * generated block of BENCHMARKS.md, and the run appended to the SQLite history (table `text_runs` of
 * bench/history.sqlite, beside `vexfs bench vectors`' tables):
 *
 * ```sql
 * CREATE TABLE text_runs (id INTEGER PRIMARY KEY AUTOINCREMENT, date TEXT NOT NULL, command TEXT NOT NULL,
 *   commit_id TEXT, load_before REAL, load_after REAL, report TEXT NOT NULL);  -- report: the --json report
 * ```
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import type { CorpusReport, TextBenchReport, TextSystem } from "./text.ts";

/** Start of the generated block of BENCHMARKS.md. */
export const TEXT_MD_BEGIN =
  "<!-- vexfs bench --text: generated results begin (refreshed by `vexfs bench --text --write-md`) -->";
/** End of it. */
export const TEXT_MD_END = "<!-- vexfs bench --text: generated results end -->";

const NAMES: Record<TextSystem, string> = { vexfs: "VexFS", minisearch: "MiniSearch 7.2.0", orama: "Orama 3.1.18" };

function us(x: number): string {
  return x >= 1000 ? `${(x / 1000).toFixed(2)} ms` : `${x.toFixed(x < 10 ? 1 : 0)} µs`;
}

function sec(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
}

function mb(b: number | null): string {
  return b === null ? "-" : `${(b / 1e6).toFixed(2)} MB`;
}

/** One target line: what, our figure, the bound, met. */
export interface TextTarget {
  corpus: string;
  what: string;
  ours: string;
  bound: string;
  met: boolean;
}

/** The issue's targets for one corpus. */
export function textTargets(c: CorpusReport): TextTarget[] {
  const fasterIndex = Math.min(c.indexMs.minisearch.median, c.indexMs.orama.median);
  const fasterP50 = Math.min(c.query.minisearch.p50Us, c.query.orama.p50Us);
  const who = (a: number, b: number) => (a <= b ? "MiniSearch" : "Orama");
  return [
    {
      corpus: c.corpus,
      what: "indexing (in memory)",
      ours: sec(c.indexMs.vexfs.median),
      bound: `≤ ${sec(fasterIndex)} (${who(c.indexMs.minisearch.median, c.indexMs.orama.median)})`,
      met: c.indexMs.vexfs.median <= fasterIndex,
    },
    {
      corpus: c.corpus,
      what: "query p50",
      ours: us(c.query.vexfs.p50Us),
      bound: `≤ ${us(fasterP50)} (${who(c.query.minisearch.p50Us, c.query.orama.p50Us)})`,
      met: c.query.vexfs.p50Us <= fasterP50,
    },
    {
      corpus: c.corpus,
      what: "index size",
      ours: `${mb(c.size.vexfsFile)} (${(c.size.vexfsFile / c.textBytes).toFixed(2)} × text)`,
      bound: `≤ 2 × ${mb(c.textBytes)} of text`,
      met: c.size.vexfsFile <= 2 * c.textBytes,
    },
  ];
}

/** Rows of the comparison table of one corpus: system, indexing, ratio, p50, p95, ratio, size, × text, hits. */
export function comparisonRows(c: CorpusReport): { head: string[]; rows: string[][] } {
  const fasterIndex = Math.min(c.indexMs.minisearch.median, c.indexMs.orama.median);
  const fasterP50 = Math.min(c.query.minisearch.p50Us, c.query.orama.p50Us);
  const size: Record<TextSystem, number | null> = {
    vexfs: c.size.vexfsFile,
    minisearch: c.size.minisearchJson,
    orama: c.size.oramaJson,
  };
  const rows = (["vexfs", "minisearch", "orama"] as const).map((s) => [
    NAMES[s],
    sec(c.indexMs[s].median),
    `${(c.indexMs[s].median / fasterIndex).toFixed(2)}×`,
    c.indexCpuMs ? sec(c.indexCpuMs[s].median) : "-",
    us(c.query[s].p50Us),
    us(c.query[s].p95Us),
    `${(c.query[s].p50Us / fasterP50).toFixed(2)}×`,
    mb(size[s]) + (s === "vexfs" ? " file" : " JSON"),
    size[s] === null ? "-" : `${(size[s]! / c.textBytes).toFixed(2)}`,
    c.meanHits[s].toFixed(1),
  ]);
  return {
    head: [
      "system",
      "indexing",
      "÷ faster other",
      "indexing CPU",
      "query p50",
      "query p95",
      "p50 ÷ faster other",
      "index size",
      "÷ text",
      "hits/query",
    ],
    rows,
  };
}

/** Lines about the end-to-end build and the hybrid search of one corpus. */
export function detailLines(c: CorpusReport): string[] {
  const e = c.e2e;
  const out = [
    `${c.corpus}: ${c.description}; ${(c.textBytes / 1e6).toFixed(1)} MB of text, ${c.tokens} tokens, ${c.terms} ` +
    `terms (word-v1); ${c.query.vexfs.count} timed queries per system`,
    `${c.corpus}: VexFS end to end on an image: ${c.docs} files written through the engine in ${sec(e.writeMs)}, ` +
    `fs.collections.text.build ${sec(e.buildMs)} (reads, checks and tokenizes every file, writes ${mb(e.fileBytes)} ` +
    `in ${e.segments} segment); reopen + first query ${sec(e.reopenFirstQueryMs)}; in-memory segment ` +
    `${mb(c.size.vexfsSegment)}`,
  ];
  const h = c.hybrid;
  if (h) {
    for (const [where, x] of [["engine", h.engine], ["mount", h.mount]] as const) {
      if (!x.available) out.push(`${c.corpus}: hybrid through the ${where}: not measured: ${x.reason}`);
      else {
        out.push(
          `${c.corpus}: hybrid (RRF, k 10, depth 100) through the ${where}: p50 ${us(x.hybrid!.p50Us)}, p95 ` +
            `${us(x.hybrid!.p95Us)}; vector side alone p50 ${us(x.vector!.p50Us)} (${x.vectorMethod}), text side ` +
            `alone p50 ${us(x.text!.p50Us)}` +
            (x.client
              ? `; vexfs's client hybridSearch (open, TEXT_INDEX, 10 hits named by path) p50 ` +
                `${us(x.client.p50Us)}`
              : ""),
        );
      }
    }
  }
  return out;
}

function mdTable(head: string[], rows: string[][]): string[] {
  return [
    `| ${head.join(" | ")} |`,
    `| ${head.map((_, i) => (i ? "---:" : "---")).join(" | ")} |`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ];
}

/** The generated block of BENCHMARKS.md (between the markers). */
export function renderTextMarkdown(r: TextBenchReport): string {
  const m = r.machine;
  const lines = [
    TEXT_MD_BEGIN,
    "",
    `Run of ${r.date} (${(r.seconds / 60).toFixed(1)} min): \`${r.command}\`, ${m.versions["vexfs commit"] ?? ""}; ` +
    `${m.cpu} × ${m.cpus}, ${(m.memoryBytes / 2 ** 30).toFixed(0)} GiB, Linux ${m.kernel}; ` +
    `${m.versions.deno ? `Deno ${m.versions.deno}` : ""}. Load average ${r.loadBefore?.toFixed(1) ?? "?"} before, ` +
    `${r.loadAfter?.toFixed(1) ?? "?"} after.`,
    "",
  ];
  for (const c of r.corpora) {
    lines.push(`**${c.corpus}**: ${c.description}.`, "");
    const t = comparisonRows(c);
    lines.push(...mdTable(t.head, t.rows), "");
    for (const d of detailLines(c).slice(1)) lines.push(`- ${d.replace(`${c.corpus}: `, "")}`);
    lines.push("");
  }
  lines.push("Targets (issue 12 §3):", "");
  lines.push(
    ...mdTable(
      ["corpus", "target", "VexFS", "bound", "met"],
      r.corpora.flatMap(textTargets).map((x) => [x.corpus, x.what, x.ours, x.bound, x.met ? "yes" : "**no**"]),
    ),
    "",
  );
  for (const n of r.notes) lines.push(`Note: ${n}`, "");
  lines.push(TEXT_MD_END);
  return lines.join("\n");
}

/** `existing` with its generated block replaced by `block` (appended when it has none). */
export function updateTextMarkdown(existing: string | undefined, block: string): string {
  if (!existing) return `# Benchmarks\n\n${block}\n`;
  const a = existing.indexOf(TEXT_MD_BEGIN);
  const b = existing.indexOf(TEXT_MD_END);
  if (a < 0 || b < a) return `${existing.trimEnd()}\n\n${block}\n`;
  return existing.slice(0, a) + block + existing.slice(b + TEXT_MD_END.length);
}

/**
 * Appends the run to the history's `text_runs` table (made if missing).
 * @returns the run's id
 */
export function recordTextRun(path: string, r: TextBenchReport): number {
  const db = new DatabaseSync(path);
  try {
    db.exec(
      `CREATE TABLE IF NOT EXISTS text_runs (id INTEGER PRIMARY KEY AUTOINCREMENT, date TEXT NOT NULL,
        command TEXT NOT NULL, commit_id TEXT, load_before REAL, load_after REAL, report TEXT NOT NULL)`,
    );
    const commit = r.machine.versions["vexfs commit"]?.replace(" (with uncommitted changes)", "+dirty") ?? null;
    const res = db.prepare(
      "INSERT INTO text_runs (date, command, commit_id, load_before, load_after, report) VALUES (?, ?, ?, ?, ?, ?)",
    ).run(r.date, r.command, commit, r.loadBefore ?? null, r.loadAfter ?? null, JSON.stringify(r));
    return Number(res.lastInsertRowid);
  } finally {
    db.close();
  }
}
