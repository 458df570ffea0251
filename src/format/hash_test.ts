import { dirHash } from "./hash.ts";

/** Minimal equality assertion (no std library is available offline). */
function eq(actual: unknown, expected: unknown, msg = ""): void {
  if (actual !== expected) {
    throw new Error(
      `${msg}: expected ${String(expected)}, got ${String(actual)}`,
    );
  }
}

const enc = new TextEncoder();

Deno.test("dirHash: MurmurHash3 x86_32 reference vectors", () => {
  const cases: [string, number, number][] = [
    ["", 0, 0],
    ["", 1, 0x514e28b7],
    ["", 0xffffffff, 0x81f16f39],
    ["test", 0, 0xba6bd213],
    ["Hello, world!", 1234, 0xfaf6cdb3],
    ["The quick brown fox jumps over the lazy dog", 0, 0x2e4ff723],
    // tails of 1, 2, 3 bytes and a full block (common SMHasher-derived vectors)
    ["a", 0x9747b28c, 0x7fa09ea6],
    ["aa", 0x9747b28c, 0x5d211726],
    ["aaa", 0x9747b28c, 0x283e0130],
    ["aaaa", 0x9747b28c, 0x5a97808a],
    ["Hello, world!", 0x9747b28c, 0x24884cba],
  ];
  for (const [s, seed, want] of cases) {
    eq(dirHash(enc.encode(s), seed), want, `${JSON.stringify(s)} seed ${seed}`);
  }
});

Deno.test("dirHash: raw bytes, unsigned result, seed sensitivity", () => {
  const zeros = new Uint8Array([0, 0, 0, 0]);
  // from the SMHasher verification vectors commonly used for x86_32
  eq(dirHash(zeros, 0), 0x2362f9de);
  const high = new Uint8Array([0xff, 0xfe, 0x80, 0x81, 0x7f]);
  const h = dirHash(high, 42);
  eq(h >>> 0, h);
  eq(h >= 0 && h <= 0xffffffff, true);
  const name = enc.encode("file.txt");
  eq(dirHash(name, 1) === dirHash(name, 2), false);
  // a subarray view hashes its own bytes only
  const buf = enc.encode("xxfile.txtyy");
  eq(dirHash(buf.subarray(2, 10), 7), dirHash(name, 7));
});
