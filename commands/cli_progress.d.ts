// Minimal type declarations for the parts of the npm package `cli-progress`
// (3.12, which ships no types) that the CLI uses.

/** Options of a progress bar (subset). */
export interface Options {
  /** a format string with {tokens}, or a function of (options, params, payload) returning the line */
  // deno-lint-ignore no-explicit-any
  format?: string | ((options: any, params: any, payload: any) => string);
  stream?: unknown;
  fps?: number;
  barsize?: number;
  hideCursor?: boolean | null;
  clearOnComplete?: boolean;
  stopOnComplete?: boolean;
  noTTYOutput?: boolean;
  etaBuffer?: number;
  gracefulExit?: boolean;
  /** false (the default) turns the terminal's autowrap off while the bar runs; true leaves it */
  linewrap?: boolean | null;
  barCompleteChar?: string;
  barIncompleteChar?: string;
}

/** A preset: bar characters and format. */
export interface Preset {
  format?: string;
  barCompleteChar?: string;
  barIncompleteChar?: string;
}

/** One progress bar on its own line. */
export class SingleBar {
  constructor(opt: Options, preset?: Preset);
  start(
    total: number,
    startValue: number,
    payload?: Record<string, unknown>,
  ): void;
  update(current: number, payload?: Record<string, unknown>): void;
  increment(step?: number, payload?: Record<string, unknown>): void;
  setTotal(total: number): void;
  stop(): void;
}

/** Built-in presets. */
export const Presets: {
  legacy: Preset;
  rect: Preset;
  shades_classic: Preset;
  shades_grey: Preset;
};

declare const _default: {
  SingleBar: typeof SingleBar;
  Presets: typeof Presets;
};
export default _default;
