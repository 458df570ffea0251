/**
 * Becoming a daemon the way libfuse's `fuse_daemonize` does, for a process
 * that was started by its parent (Deno cannot fork): leave the parent's
 * session (`setsid`, so the terminal's SIGINT/SIGHUP do not reach it) and,
 * once the mount is ready, point stdin/stdout/stderr at /dev/null or at the
 * log file (`dup2`), so nothing is written to a pipe whose reader has gone.
 * @module
 */
import { O_APPEND, O_CLOEXEC, O_CREAT, O_RDWR, O_WRONLY } from "../device/libc.ts";

const SYMBOLS = {
  setsid: { parameters: [], result: "i32" },
  dup2: { parameters: ["i32", "i32"], result: "i32" },
  open: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
} as const;

let lib: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] | undefined;

function libc() {
  lib ??= Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  return lib;
}

function cstr(s: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(s + "\0");
}

/** Starts a new session (setsid(2)); a no-op if this process already leads one. */
export function newSession(): void {
  libc().setsid();
}

/**
 * Redirects fds 0 and 1 to /dev/null and fd 2 to `logPath` (appending) or
 * /dev/null.
 * @throws Error if /dev/null or the log file cannot be opened (nothing changed then)
 */
export function detachStdio(logPath?: string): void {
  const C = libc();
  const nul = C.open(cstr("/dev/null"), O_RDWR | O_CLOEXEC, 0);
  if (nul < 0) throw new Error("cannot open /dev/null");
  let err = nul;
  if (logPath) {
    err = C.open(cstr(logPath), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644);
    if (err < 0) {
      C.close(nul);
      throw new Error(`cannot open the log file ${logPath}`);
    }
  }
  // Deno keeps its own duplicates of the standard fds (behind Deno.stdout
  // and Deno.stderr): redirect every fd that refers to the same open file.
  const target = (fd: number | string) => {
    try {
      return Deno.readLinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return undefined;
    }
  };
  const std = [target(0), target(1), target(2)];
  const fds = [...Deno.readDirSync("/proc/self/fd")].map((e) => Number(e.name));
  for (const fd of fds) {
    if (fd === nul || fd === err) continue;
    const t = target(fd);
    if (t === undefined || !/^(pipe|socket):|^\/dev\/(pts|tty)/.test(t)) continue;
    if (t === std[2]) C.dup2(err, fd);
    else if (t === std[1] || t === std[0]) C.dup2(nul, fd);
  }
  C.close(nul);
  if (err !== nul) C.close(err);
}
