/**
 * How to run this very program again as a child process (the mount daemon,
 * tests, benchmarks): the compiled `vexfs` binary runs itself; under
 * `deno run` it is `deno run --allow-all --config <repo>/deno.json <repo>/main.ts`.
 * @module
 */

/** Absolute path of the repository root (the directory of main.ts; meaningful when running from source). */
export const REPO_DIR: string = decodeURIComponent(new URL("../..", import.meta.url).pathname).replace(/\/$/, "");
/** Absolute path of main.ts. */
export const MAIN_TS: string = `${REPO_DIR}/main.ts`;
/** Absolute path of the deno.json next to main.ts. */
const DENO_JSON: string = `${REPO_DIR}/deno.json`;

/** Whether this is the compiled `vexfs` binary rather than `deno run main.ts`. */
export function isCompiled(): boolean {
  const base = Deno.execPath().split("/").pop() ?? "";
  return base !== "deno" && base !== "deno.exe";
}

/**
 * The argv that starts `vexfs` with `args`.
 * @param args subcommand and its arguments, e.g. `["mount", "disk.img", "/mnt"]`
 * @returns `[executable, ...arguments]`
 */
export function vexfsArgv(args: readonly string[]): [string, ...string[]] {
  const exe = Deno.execPath();
  if (isCompiled()) return [exe, ...args];
  return [exe, "run", "--allow-all", "--config", DENO_JSON, MAIN_TS, ...args];
}
