/**
 * How to run this very program again as a child process (the mount daemon,
 * tests, benchmarks): the compiled `vexfs` binary runs itself; under
 * `deno run` it is `deno run --allow-all <repo>/main.ts`.
 * @module
 */

/** Absolute path of main.ts next to src/. */
export const MAIN_TS: string = new URL("../../main.ts", import.meta.url).pathname;
/** Absolute path of the deno.json next to main.ts. */
const DENO_JSON: string = new URL("../../deno.json", import.meta.url).pathname;

/**
 * The argv that starts `vexfs` with `args`.
 * @param args subcommand and its arguments, e.g. `["mount", "disk.img", "/mnt"]`
 * @returns `[executable, ...arguments]`
 */
export function vexfsArgv(args: readonly string[]): [string, ...string[]] {
  const exe = Deno.execPath();
  const base = exe.split("/").pop() ?? "";
  if (base === "deno" || base === "deno.exe") {
    return [exe, "run", "--allow-all", "--config", DENO_JSON, MAIN_TS, ...args];
  }
  return [exe, ...args];
}
