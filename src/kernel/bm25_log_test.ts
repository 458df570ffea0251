/**
 * The kernel's ln (kernel/bm25_log.h, used by kernel/bm25_fpu.c for BM25's
 * idf, FORMAT.md §8.7) equals the engine's `Math.log` bit for bit, so the
 * module's BM25 scores equal the engine's before the f32 rounding of the
 * ioctl (design note of issue 12, §2.1). The header is compiled on the host
 * with gcc and the kernel's floating-point flags (`-msse2
 * -ffp-contract=off`, as kernel/Kbuild gives bm25_fpu.o) into a probe
 * (src/kernel/bm25_log_probe.c) that maps binary64 inputs to their logs.
 *
 * Inputs: special values (zeros, subnormals, 1 and its neighbours,
 * infinities, NaN, negatives), a seeded random spread over the whole
 * exponent range, integers up to 2e9, and every idf argument
 * `1 + (N − n + 0.5) / (n + 0.5)` for N < 3000 and n ≤ 50.
 *
 * Needs gcc; without it the test is skipped with a warning (as format_test).
 */
import { assertEquals } from "../test_assert.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

async function hasGcc(): Promise<boolean> {
  try {
    return (await new Deno.Command("gcc", { args: ["--version"], stdout: "null", stderr: "null" }).output()).success;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

const GCC = await hasGcc();
if (!GCC) console.warn("kernel/bm25_log_test: gcc not found, skipped (apt-get install -y gcc)");

/** mulberry32: a small seeded generator, so every run checks the same values. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function inputs(): Float64Array {
  const xs: number[] = [
    0,
    -0,
    1,
    -1,
    2,
    0.5,
    Math.E,
    10,
    Infinity,
    -Infinity,
    NaN,
    Number.MIN_VALUE,
    2.2250738585072014e-308,
    2.225073858507201e-308,
    Number.MAX_VALUE,
    Number.EPSILON,
    1 + Number.EPSILON,
    1 - Number.EPSILON / 2,
    0.7071067811865476,
    1.4142135623730951,
    1e-320,
    3e-310,
  ];
  const r = rng(12);
  for (let i = 0; i < 200_000; i++) xs.push(Math.exp((r() - 0.5) * 1400));
  for (let i = 0; i < 100_000; i++) xs.push(1 + (r() * 1e6) / (r() * 1e3 + 0.5));
  for (let i = 0; i < 50_000; i++) xs.push(1 + (r() - 0.5) * 2 ** -(r() * 40));
  for (let i = 0; i < 50_000; i++) xs.push(Math.floor(r() * 2e9) + 1);
  for (let N = 1; N < 3000; N++) {
    for (let n = 0; n <= Math.min(N, 50); n++) xs.push(1 + (N - n + 0.5) / (n + 0.5));
  }
  return Float64Array.from(xs);
}

Deno.test({
  name: "bm25_log.h: the kernel's ln equals Math.log bit for bit",
  ignore: !GCC,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "vexfs-bm25-log-" });
    try {
      const exe = `${dir}/probe`;
      const cc = await new Deno.Command("gcc", {
        args: [
          "-O2",
          "-msse2",
          "-ffp-contract=off",
          "-Wall",
          "-Wextra",
          "-Werror",
          "-I",
          `${ROOT}/kernel`,
          "-o",
          exe,
          `${ROOT}/src/kernel/bm25_log_probe.c`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(cc.success, true, new TextDecoder().decode(cc.stderr));
      const xs = inputs();
      const child = new Deno.Command(exe, { stdin: "piped", stdout: "piped", stderr: "piped" }).spawn();
      const w = child.stdin.getWriter();
      const done = child.output();
      await w.write(new Uint8Array(xs.buffer));
      await w.close();
      const out = await done;
      assertEquals(out.success, true, new TextDecoder().decode(out.stderr));
      assertEquals(out.stdout.length, xs.length * 8);
      const got = new Float64Array(
        out.stdout.buffer.slice(out.stdout.byteOffset, out.stdout.byteOffset + out.stdout.length),
      );
      const bad: string[] = [];
      for (let i = 0; i < xs.length; i++) {
        if (!Object.is(got[i], Math.log(xs[i]))) bad.push(`ln(${xs[i]}) = ${got[i]}, Math.log ${Math.log(xs[i])}`);
      }
      assertEquals(bad.slice(0, 10), [], `${bad.length} of ${xs.length} differ`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
