/**
 * Test helper: runs the real `vexfs` program (main.ts under the Deno that
 * runs the tests) as a child process, as a user would from a shell.
 * @module
 */

const ROOT = new URL("..", import.meta.url).pathname;
const MAIN = `${ROOT}main.ts`;
const dec = new TextDecoder();
const enc = new TextEncoder();

/** What one run of `vexfs` left: exit status and its output decoded as UTF-8. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `vexfs ...args` from the repository root with colors off
 * (`NO_COLOR=1`) and waits for it.
 * @param args the command line after `vexfs`
 * @param opts.stdin text given on standard input (none: /dev/null)
 * @param opts.env variables added to the environment
 */
export async function runVexfs(
  args: string[],
  opts: { stdin?: string; env?: Record<string, string> } = {},
): Promise<CliRun> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd: ROOT,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...opts.env },
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(enc.encode(opts.stdin));
    await w.close();
  }
  const r = await child.output();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
}
