/**
 * Helpers for the device tests: temp dirs, running tools, loop devices and
 * mounts that are always cleaned up. Not part of the engine.
 * @module
 */
import { FsError } from "../errors.ts";

/** True when running as root with losetup and mount available (CI runs as root). */
export const CAN_LOOP = Deno.uid() === 0 && hasTool("losetup") &&
  hasTool("mount");

/** Why loop-device tests are skipped, printed once. */
export function loopSkipReason(): string | undefined {
  if (CAN_LOOP) return undefined;
  return "needs root and util-linux losetup/mount (tests run as root in CI)";
}

/** Whether `name` is an executable on PATH (or in /sbin, /usr/sbin). */
export function hasTool(name: string): boolean {
  const dirs = (Deno.env.get("PATH") ?? "").split(":").concat([
    "/sbin",
    "/usr/sbin",
  ]);
  for (const d of dirs) {
    try {
      if (Deno.statSync(`${d}/${name}`).isFile) return true;
    } catch { /* not here */ }
  }
  return false;
}

/**
 * Runs `cmd args...`, returns stdout; throws with stderr on failure.
 * @param stdin optional text fed to the command
 */
export function run(cmd: string, args: string[], stdin?: string): string {
  const c = new Deno.Command(cmd, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { PATH: `${Deno.env.get("PATH") ?? ""}:/sbin:/usr/sbin` },
  });
  let out: Deno.CommandOutput;
  if (stdin === undefined) {
    out = c.outputSync();
  } else {
    // outputSync cannot feed stdin: go through a shell with a here-string file.
    const f = Deno.makeTempFileSync({ prefix: "vexfs-stdin-" });
    try {
      Deno.writeTextFileSync(f, stdin);
      return run("sh", ["-c", `exec "$0" "$@" < '${f}'`, cmd, ...args]);
    } finally {
      Deno.removeSync(f);
    }
  }
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${out.code}): ${dec.decode(out.stderr)}`,
    );
  }
  return dec.decode(out.stdout);
}

/** Runs `fn` with a fresh temp directory, removed afterwards. */
export async function withTempDir<T>(
  fn: (dir: string) => T | Promise<T>,
): Promise<T> {
  const dir = Deno.makeTempDirSync({ prefix: "vexfs-dev-test-" });
  try {
    return await fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** Creates a sparse file of `size` bytes. */
export function sparseFile(path: string, size: number): void {
  const f = Deno.openSync(path, { create: true, write: true, truncate: true });
  try {
    f.truncateSync(size);
  } finally {
    f.close();
  }
}

/**
 * Attaches `image` to a free loop device (`losetup --find --show`), runs `fn`
 * with its path and always detaches it, retrying while the kernel still
 * holds it briefly.
 */
export async function withLoop<T>(
  image: string,
  fn: (loop: string) => T | Promise<T>,
  extra: string[] = [],
): Promise<T> {
  const loop = run("losetup", [...extra, "--find", "--show", image]).trim();
  try {
    return await fn(loop);
  } finally {
    detach(loop);
  }
}

function detach(loop: string): void {
  for (let i = 0;; i++) {
    try {
      run("losetup", ["-d", loop]);
      return;
    } catch (e) {
      if (i >= 20) throw e;
      const t = Date.now() + 50;
      while (Date.now() < t) { /* brief spin: udev may hold it */ }
    }
  }
}

/** Mounts `source` on `dir` (extra `mount` args first), runs `fn`, always unmounts. */
export async function withMount<T>(
  args: string[],
  source: string,
  dir: string,
  fn: () => T | Promise<T>,
): Promise<T> {
  run("mount", [...args, source, dir]);
  try {
    return await fn();
  } finally {
    try {
      run("umount", [dir]);
    } catch {
      run("umount", ["-l", dir]);
    }
  }
}

/**
 * Runs `fn`, expecting an `FsError` with errno name `code`; returns it.
 * @throws AssertionError if `fn` returns or throws something else
 */
export function expectFsError(fn: () => unknown, code: string): FsError {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof FsError)) throw e;
    assert(e.code === code, `expected ${code}, got ${e.message}`);
    return e;
  }
  throw new Error(`expected FsError ${code}, nothing was thrown`);
}

/** Throws unless `cond` holds. */
export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    return x.length === y.length && x.every((v, i) => v === y[i]);
  }
  if (typeof a !== "object" || typeof b !== "object" || !a || !b) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) =>
    deepEqual(
      (a as Record<string, unknown>)[k],
      (b as Record<string, unknown>)[k],
    )
  );
}

/** Throws unless `actual` deep-equals `expected` (byte views compared by content). */
export function assertEquals(
  actual: unknown,
  expected: unknown,
  msg = "",
): void {
  if (!deepEqual(actual, expected)) {
    const show = (v: unknown) => ArrayBuffer.isView(v) ? `bytes[${(v as Uint8Array).length}]` : JSON.stringify(v);
    throw new Error(
      `${msg ? msg + ": " : ""}expected ${show(expected)}, got ${show(actual)}`,
    );
  }
}
