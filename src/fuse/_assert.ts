/**
 * Minimal assertions for the FUSE tests (the project pins no assertion
 * library).
 * @module
 */

/** Error thrown by a failed assertion. */
export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

function show(x: unknown): string {
  try {
    return JSON.stringify(
      x,
      (_k, v) => typeof v === "bigint" ? `${v}n` : v,
    ) ?? String(x);
  } catch {
    return String(x);
  }
}

/** Structural equality over primitives, arrays, typed arrays and plain objects. */
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
  return ka.every((k) =>
    deepEqual(
      (a as Record<string, unknown>)[k],
      (b as Record<string, unknown>)[k],
    )
  );
}

/** Throw unless `actual` deep-equals `expected`. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  if (!deepEqual(actual, expected)) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}expected ${show(expected)}, got ${show(actual)}`,
    );
  }
}

/** Throw unless `cond` is truthy. */
export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new AssertionError(msg);
}

/** Throw unless `s` contains `sub`. */
export function assertStringIncludes(s: string, sub: string, msg?: string) {
  if (!s.includes(sub)) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}expected ${show(s)} to include ${show(sub)}`,
    );
  }
}
