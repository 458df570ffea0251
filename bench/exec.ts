/**
 * Process helpers for the benchmarks: run a command and capture its output,
 * find a program on PATH, and start this very program (`vexfs`) again as a
 * child (for `vexfs mkfs` and `vexfs mount`).
 * @module
 */

export { isCompiled, REPO_DIR, vexfsArgv as selfArgv } from "../src/mount/self.ts";

/** What a finished command left behind. */
export interface RunResult {
  /** exit code (128 + signal number if killed by a signal) */
  code: number;
  stdout: string;
  stderr: string;
}

/** An error of the benchmark harness (a missing tool, a failed mount, ...), meant for the user. */
export class BenchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BenchError";
  }
}

/**
 * Runs `cmd args...` to completion with stdin closed and captures both outputs.
 * @param timeoutMs kill the command with SIGKILL after this many milliseconds (default: no limit)
 * @throws BenchError if the program cannot be started (not found, not executable)
 */
export async function run(
  cmd: string,
  args: readonly string[],
  opts: { cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<RunResult> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(cmd, {
      args: [...args],
      cwd: opts.cwd,
      env: opts.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    throw new BenchError(`cannot run ${cmd}: ${e instanceof Error ? e.message : e}`);
  }
  let timer: number | undefined;
  if (opts.timeoutMs !== undefined) {
    timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
    }, opts.timeoutMs);
  }
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return {
      code: out.signal ? 128 + signalNumber(out.signal) : out.code,
      stdout: dec.decode(out.stdout),
      stderr: dec.decode(out.stderr),
    };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

function signalNumber(s: Deno.Signal): number {
  const n: Partial<Record<Deno.Signal, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGSEGV: 11, SIGTERM: 15 };
  return n[s] ?? 0;
}

/**
 * Runs a command that must succeed.
 * @param what what the command does, for the error message ("build passthrough_ll")
 * @returns its standard output
 * @throws BenchError with the command's last lines of stderr when it fails
 */
export async function runOk(
  cmd: string,
  args: readonly string[],
  what: string,
  opts: { cwd?: string; timeoutMs?: number } = {},
): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new BenchError(`${what} failed (${cmd} exited with ${r.code}): ${lastLines(r.stderr || r.stdout)}`);
  }
  return r.stdout;
}

/** The last `n` non-empty lines of a text, joined with " | " (for one-line error messages). */
export function lastLines(text: string, n = 3): string {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  return lines.slice(-n).join(" | ") || "(no output)";
}

/** Absolute path of program `name` on PATH, or undefined. */
export function which(name: string): string | undefined {
  if (name.includes("/")) return isExecutable(name) ? name : undefined;
  const path = Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
  for (const dir of path.split(":")) {
    const p = `${dir || "."}/${name}`;
    if (isExecutable(p)) return p;
  }
  return undefined;
}

function isExecutable(p: string): boolean {
  try {
    const st = Deno.statSync(p);
    return st.isFile && ((st.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Polls `pred` every `everyMs` until it returns true or `timeoutMs` passes.
 * @returns whether `pred` became true in time
 */
export async function waitUntil(
  pred: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 50,
): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    if (await pred()) return true;
    if (performance.now() >= end) return false;
    await sleep(everyMs);
  }
}
