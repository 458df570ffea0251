/**
 * Minimal assertions shared by the tests (JSR's @std/assert cannot be
 * installed here). Tests may also use `node:assert/strict`.
 * @module
 */
import { FsError } from "./errors.ts";

/** Error thrown by a failed assertion. */
export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

function show(x: unknown): string {
  if (ArrayBuffer.isView(x)) {
    return `${x.constructor.name}(${Array.from(x as unknown as ArrayLike<number>).slice(0, 16).join(", ")}${
      (x as unknown as ArrayLike<number>).length > 16 ? ", ..." : ""
    })`;
  }
  try {
    return JSON.stringify(x) ?? String(x);
  } catch {
    return String(x);
  }
}

/** Deep equality: Object.is on primitives, element-wise on arrays and typed arrays, keys on objects. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || !a || !b) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (Array.isArray(a) || ArrayBuffer.isView(a)) {
    const x = a as ArrayLike<unknown>, y = b as ArrayLike<unknown>;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!deepEqual(x[i], y[i])) return false;
    return true;
  }
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (
      !deepEqual(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
      )
    ) return false;
  }
  return true;
}

/** Throws unless `cond` is truthy. */
export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new AssertionError(msg);
}

/** Throws unless `actual` deep-equals `expected`. */
export function assertEquals(
  actual: unknown,
  expected: unknown,
  msg?: string,
): void {
  if (!deepEqual(actual, expected)) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}expected ${show(expected)}, got ${show(actual)}`,
    );
  }
}

/** Throws unless `re` matches `s`. */
export function assertMatch(s: string, re: RegExp, msg?: string): void {
  if (!re.test(s)) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}${JSON.stringify(s)} does not match ${re}`,
    );
  }
}

/** Throws unless |a - b| ≤ tol. */
export function assertClose(a: number, b: number, tol: number, msg?: string) {
  if (!(Math.abs(a - b) <= tol)) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}${a} and ${b} differ by more than ${tol}`,
    );
  }
}

/**
 * Runs `fn` and checks that it throws an `FsError` with errno name `code`
 * whose message matches `re`.
 * @returns the error
 */
export function assertFsError(
  fn: () => unknown,
  code: string,
  re?: RegExp,
): FsError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  return checkFsError(err, code, re);
}

/** Async variant of {@linkcode assertFsError}. */
export async function assertRejectsFsError(
  fn: () => Promise<unknown>,
  code: string,
  re?: RegExp,
): Promise<FsError> {
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  return checkFsError(err, code, re);
}

function checkFsError(err: unknown, code: string, re?: RegExp): FsError {
  if (err === undefined) throw new AssertionError("expected an FsError");
  if (!(err instanceof FsError)) {
    throw new AssertionError(`expected FsError, got ${err}`);
  }
  if (err.code !== code) {
    throw new AssertionError(`expected ${code}, got ${err.message}`);
  }
  if (re) assertMatch(err.message, re);
  return err;
}

/** Throw unless `s` contains `sub`. */
export function assertStringIncludes(s: string, sub: string, msg?: string): void {
  if (!s.includes(sub)) {
    throw new AssertionError(`${msg ? msg + ": " : ""}expected ${JSON.stringify(s)} to include ${JSON.stringify(sub)}`);
  }
}
