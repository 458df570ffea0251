/**
 * Progress of long work (import, export, fsck, index build, bench, demo),
 * on standard error, in one of three modes:
 *
 * - **bar** (stderr is a terminal): a cli-progress bar with the count, the
 *   rate (`3,100 files/s`, `12 MiB/s`) and the time left (`ETA 12 s`);
 * - **lines** (stderr is a file or a pipe: cron, systemd, CI logs): a plain
 *   line every interval (5 s by default), e.g.
 *   `import: 12,000/50,000 records (24%), 3,100 records/s, ETA 12 s`, and
 *   when at least one was printed, a closing
 *   `import: 50,000 records in 16 s (3,100 records/s)`;
 * - **none**: `-q`/`--quiet`, or the environment says so.
 *
 * Environment (documented in `vexfs --help`):
 * - `VEXFS_PROGRESS=bar|lines|none` forces a mode (e.g. `lines` on a terminal);
 * - `VEXFS_NO_PROGRESS=1` is `VEXFS_PROGRESS=none` (the older spelling);
 * - `VEXFS_PROGRESS_INTERVAL=SECONDS` is the period of plain lines (default 5;
 *   fractions allowed: the tests use 0.05 so that a small job prints lines).
 *
 * The bar hides no cursor, leaves autowrap on (its lines are cut to the
 * width) and catches no signal, so Ctrl-C stops the command at once (exit
 * 130) and leaves the terminal as it was (cli-progress's gracefulExit
 * swallowed the first SIGINT: the work went on and exited 0).
 *
 * Plain lines are driven by the work's own updates (no timer), so they also
 * come from synchronous work such as fsck, which never yields to timers.
 * Rates and ETAs use the average since the start of the current phase.
 * @module
 */
// @ts-types="./cli_progress.d.ts"
import cliProgress from "cli-progress";
import pc from "picocolors";
import { formatBytes, formatCount, formatDuration, formatRate } from "../src/units.ts";

/** A progress display; every call is cheap. Always call `stop()` (in a `finally`). */
export interface Progress {
  /** Sets the position; optionally a new total and a new label (a new phase: rate and ETA restart). */
  update(value: number, total?: number, label?: string): void;
  /** Advances the position by `step` (default 1). */
  increment(step?: number): void;
  /** Ends the display: the bar stays as it is; plain mode prints its closing line. */
  stop(): void;
}

/** How progress is shown: see the module documentation. */
export type ProgressMode = "bar" | "lines" | "none";

/** Options of {@link progress}. */
export interface ProgressOptions {
  /** what is counted, plural ("files", "records"); "bytes" prints sizes and MiB/s; "" counts bare numbers */
  unit?: string;
  /** show nothing (the command's -q/--quiet) */
  quiet?: boolean;
  /** where plain lines go (default: stderr); for tests */
  write?: (line: string) => void;
  /** the mode (default: {@link progressMode}); for tests */
  mode?: ProgressMode;
  /** period of plain lines in ms (default: VEXFS_PROGRESS_INTERVAL, else 5 s); for tests */
  intervalMs?: number;
  /** the clock in ms (default performance.now); for tests */
  now?: () => number;
}

function env(k: string): string | undefined {
  try {
    return Deno.env.get(k);
  } catch {
    return undefined;
  }
}

/**
 * The mode progress displays use now: VEXFS_PROGRESS if set (bar, lines or
 * none), none with VEXFS_NO_PROGRESS, else bar when stderr is a terminal and
 * lines when it is not.
 * @throws Error when VEXFS_PROGRESS holds something else
 */
export function progressMode(): ProgressMode {
  const forced = env("VEXFS_PROGRESS");
  if (forced !== undefined && forced !== "") {
    if (forced === "bar" || forced === "lines" || forced === "none") return forced;
    throw new Error(`VEXFS_PROGRESS must be bar, lines or none, not '${forced}'`);
  }
  const no = env("VEXFS_NO_PROGRESS");
  if (no !== undefined && no !== "" && no !== "0") return "none";
  try {
    return Deno.stderr.isTerminal() ? "bar" : "lines";
  } catch {
    return "none";
  }
}

/**
 * Period of plain progress lines in ms: VEXFS_PROGRESS_INTERVAL seconds
 * (a positive number, fractions allowed), else 5000.
 * @throws Error when VEXFS_PROGRESS_INTERVAL is not a positive number
 */
export function progressIntervalMs(): number {
  const v = env("VEXFS_PROGRESS_INTERVAL");
  if (v === undefined || v === "") return 5000;
  const s = Number(v);
  if (!(s > 0) || !Number.isFinite(s)) {
    throw new Error(`VEXFS_PROGRESS_INTERVAL must be a positive number of seconds, not '${v}'`);
  }
  return s * 1000;
}

const enc = new TextEncoder();
function stderrLine(line: string): void {
  try {
    const b = enc.encode(line + "\n");
    let off = 0;
    while (off < b.length) off += Deno.stderr.writeSync(b.subarray(off));
  } catch { /* stderr closed: progress is not worth failing for */ }
}

/** Counts, rate and ETA of one phase of work. */
class Tracker {
  label: string;
  total: number;
  value = 0;
  /** start of the current phase, ms */
  start: number;
  /** start of the whole work, ms */
  readonly begin: number;
  phases = 1;
  constructor(label: string, total: number, readonly unit: string, readonly now: () => number) {
    this.label = label;
    this.total = total;
    this.start = this.begin = now();
  }
  /** Applies an update; a new label or a lower value starts a new phase. */
  set(value: number, total?: number, label?: string): void {
    if ((label !== undefined && label !== this.label) || value < this.value) {
      if (label !== undefined && label !== this.label) this.phases++;
      this.start = this.now();
    }
    if (label !== undefined) this.label = label;
    if (total !== undefined) this.total = total;
    this.value = value;
  }
  amount(n: number): string {
    return this.unit === "bytes" ? formatBytes(n) : formatCount(n);
  }
  /** "12,000/50,000 records (24%)" or "12,000 records" without a total; `withUnit` false leaves out "records" */
  counts(withUnit = true): string {
    const u = !withUnit || this.unit === "bytes" || this.unit === "" ? "" : ` ${this.unit}`;
    if (!(this.total > 0)) return `${this.amount(this.value)}${u}`;
    const pct = Math.min(100, Math.floor((this.value / this.total) * 100));
    return `${this.amount(this.value)}/${this.amount(this.total)}${u} (${pct}%)`;
  }
  rate(): string {
    const r = formatRate(this.value, this.now() - this.start, this.unit || "items");
    return this.unit === "" ? r.replace(/ items\/s$/, "/s") : r;
  }
  /** time left at the phase's average rate, or "" when it cannot be told yet */
  eta(): string {
    const ms = this.now() - this.start;
    if (!(this.total > 0) || this.value <= 0 || this.value >= this.total || ms <= 0) return "";
    const left = Math.max(0, this.total - this.value) / (this.value / ms);
    return formatDuration(left);
  }
}

/**
 * Starts showing the progress of `label` (a command name, or "command:
 * phase"), counting up to `total` (0 or less: unknown). The mode is chosen by
 * {@link progressMode} unless `quiet` or `opts.mode` say otherwise.
 * @param label shown before the bar and at the start of plain lines
 * @param total what `value` reaches at the end (0: unknown; no percentage or ETA)
 * @param opts a unit ("files") or {@link ProgressOptions}
 * @throws Error when VEXFS_PROGRESS or VEXFS_PROGRESS_INTERVAL is malformed
 */
export function progress(label: string, total: number, opts: string | ProgressOptions = {}): Progress {
  const o: ProgressOptions = typeof opts === "string" ? { unit: opts } : opts;
  const mode = o.quiet ? "none" : o.mode ?? progressMode();
  if (mode === "none") return { update() {}, increment() {}, stop() {} };
  const now = o.now ?? (() => performance.now());
  const t = new Tracker(label, total, o.unit ?? "items", now);
  return mode === "bar" ? barProgress(t) : lineProgress(t, o.write ?? stderrLine, o.intervalMs ?? progressIntervalMs());
}

function lineProgress(t: Tracker, write: (l: string) => void, intervalMs: number): Progress {
  let last = t.begin;
  let printed = 0;
  let stopped = false;
  const maybe = () => {
    const n = t.now();
    if (n - last < intervalMs) return;
    last = n;
    printed++;
    const eta = t.eta();
    write(`${t.label}: ${t.counts()}, ${t.rate()}${eta ? `, ETA ${eta}` : ""}`);
  };
  return {
    update(value, total, label) {
      t.set(value, total, label);
      maybe();
    },
    increment(step = 1) {
      t.set(t.value + step);
      maybe();
    },
    stop() {
      if (stopped) return;
      stopped = true;
      if (!printed) return; // short work: its own output says it is done
      const took = formatDuration(t.now() - t.begin);
      const base = t.label.replace(/:.*$/, "");
      write(
        t.phases > 1
          ? `${base}: done in ${took}`
          : `${t.label}: ${t.counts().replace(/ \(\d+%\)$/, "")} in ${took} (${t.rate()})`,
      );
    },
  };
}

/**
 * A bar of `width` cells for `fraction` done ("█████░░░░░"), or "" when the
 * total is not known (export of a subtree, a pass before its total): the
 * count and rate then stand alone instead of a bar that is always full.
 */
export function barCells(fraction: number | undefined, width: number): string {
  if (fraction === undefined || !Number.isFinite(fraction)) return "";
  const full = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return "\u2588".repeat(full) + "\u2591".repeat(width - full);
}

function barProgress(t: Tracker): Progress {
  const color = !env("NO_COLOR");
  const cyan = color ? pc.cyan : (s: string) => s;
  let cols = 80;
  try {
    cols = Deno.consoleSize().columns;
  } catch { /* not a console after all: 80 */ }
  // label, bar, "12,345/20,000 (61%)", "1,600 records/s", "ETA 4.6 s": one line of the terminal
  // room for a longer label later (fsck relabels the bar per pass: "fsck: link counts")
  const width = Math.max(10, Math.min(30, cols - 56 - Math.max(20, t.label.length)));
  // cli-progress draws the line (throttled, one line rewritten); the cells are ours, so that an unknown total
  // shows no bar rather than a full one. It changes no terminal state (cursor, autowrap) and installs no signal
  // handler: Ctrl-C stops the work at once (exit 130) as without a terminal, and leaves the terminal as it was;
  // lines are cut to the width instead of relying on autowrap being off.
  const bar = new cliProgress.SingleBar({
    format: (_o: unknown, _p: unknown, x: Record<string, string>) => {
      const plain = `${x.label} ${x.cells}${x.counts} | ${x.rate} | ${x.left}`;
      const line = plain.length > cols - 1 ? plain.slice(0, cols - 1) : plain;
      return x.cells && line.includes(x.cells) ? line.replace(x.cells, cyan(x.cells)) : line;
    },
    hideCursor: false,
    linewrap: true,
    clearOnComplete: false,
    gracefulExit: false,
    fps: 10,
  });
  const pad = (s: string) => s.padEnd(8);
  const payload = () => {
    const eta = t.eta();
    const cells = barCells(t.total > 0 ? t.value / t.total : undefined, width);
    return {
      label: pad(t.label),
      cells: cells ? cells + " " : "",
      counts: t.counts(false),
      rate: t.rate(),
      left: !(t.total > 0)
        ? `${formatDuration(t.now() - t.begin)} so far`
        : t.value >= t.total
        ? "done"
        : eta
        ? `ETA ${eta}`
        : "ETA –",
    };
  };
  bar.start(Math.max(t.total, 1), 0, payload());
  let stopped = false;
  return {
    update(value, total, label) {
      t.set(value, total, label);
      if (total !== undefined) bar.setTotal(Math.max(total, 1));
      bar.update(value, payload());
    },
    increment(step = 1) {
      t.set(t.value + step);
      bar.update(t.value, payload());
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.update(t.value, { ...payload(), left: `in ${formatDuration(t.now() - t.begin)}` });
      bar.stop();
    },
  };
}
