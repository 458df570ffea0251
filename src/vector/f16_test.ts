import { assert, assertEquals } from "../test_assert.ts";
import fc from "fast-check";
import { F16_MAX, F16_TO_F32, f16BitsToNumber, f16IsNonFinite, numberToF16Bits, roundToF16 } from "./f16.ts";

const f16round = (Math as unknown as { f16round?: (x: number) => number })
  .f16round;
const Float16 = (globalThis as unknown as {
  Float16Array?: new (b: ArrayBuffer) => ArrayLike<number>;
}).Float16Array;

/** f32 neighbours of an f32-representable number (positive, finite). */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function f32Step(x: number, d: 1 | -1): number {
  f32[0] = x;
  u32[0] += d;
  return f32[0];
}

Deno.test("f16: every one of the 65536 halves round-trips", () => {
  for (let h = 0; h < 65536; h++) {
    const v = f16BitsToNumber(h);
    const back = numberToF16Bits(v);
    if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) {
      assert(Number.isNaN(v), `0x${h.toString(16)} should decode to NaN`);
      assert(f16IsNonFinite(back) && (back & 0x3ff) !== 0);
    } else {
      assertEquals(
        back,
        h,
        `0x${h.toString(16)} -> ${v} -> 0x${back.toString(16)}`,
      );
      // The value must also survive a trip through f32 (exact widening).
      assertEquals(numberToF16Bits(Math.fround(v)), h);
    }
  }
});

Deno.test("f16: decoding table agrees with the platform Float16Array", {
  ignore: Float16 === undefined,
}, () => {
  const bits = new Uint16Array(65536);
  for (let h = 0; h < 65536; h++) bits[h] = h;
  const ref = new Float16!(bits.buffer);
  for (let h = 0; h < 65536; h++) {
    assert(
      Object.is(F16_TO_F32[h], ref[h]) ||
        (Number.isNaN(F16_TO_F32[h]) && Number.isNaN(ref[h])),
      `0x${h.toString(16)}`,
    );
  }
});

Deno.test("f16: round to nearest, ties to even, at every midpoint", () => {
  for (let h = 0; h <= 0x7bff; h++) {
    const lo = f16BitsToNumber(h);
    const hi = h === 0x7bff ? 65536 : f16BitsToNumber(h + 1);
    const mid = (lo + hi) / 2; // exact, and representable in f32
    assertEquals(Math.fround(mid), mid);
    const even = (h & 1) === 0 ? h : h + 1;
    for (const sign of [0, 0x8000]) {
      const s = sign ? -1 : 1;
      assertEquals(numberToF16Bits(s * mid), sign | even, `mid ${s * mid}`);
      assertEquals(numberToF16Bits(s * f32Step(mid, -1)), sign | h);
      assertEquals(numberToF16Bits(s * f32Step(mid, 1)), sign | (h + 1));
    }
  }
});

Deno.test("f16: special values", () => {
  assertEquals(numberToF16Bits(1), 0x3c00);
  assertEquals(numberToF16Bits(-2), 0xc000);
  assertEquals(numberToF16Bits(F16_MAX), 0x7bff);
  assertEquals(numberToF16Bits(65519.99), 0x7bff);
  assertEquals(numberToF16Bits(65520), 0x7c00);
  assertEquals(numberToF16Bits(1e10), 0x7c00);
  assertEquals(numberToF16Bits(Infinity), 0x7c00);
  assertEquals(numberToF16Bits(-Infinity), 0xfc00);
  assertEquals(numberToF16Bits(NaN), 0x7e00);
  assertEquals(numberToF16Bits(0), 0);
  assertEquals(numberToF16Bits(-0), 0x8000);
  assertEquals(numberToF16Bits(2 ** -24), 1);
  assertEquals(numberToF16Bits(2 ** -25), 0); // tie -> even (0)
  assertEquals(numberToF16Bits(3 * 2 ** -25), 2); // tie between 1 and 2 -> 2
  assertEquals(numberToF16Bits(2 ** -25 * 1.0001), 1);
  assertEquals(numberToF16Bits(5e-324), 0);
  assertEquals(numberToF16Bits(-5e-324), 0x8000);
  assertEquals(numberToF16Bits(2 ** -14), 0x0400);
  assertEquals(numberToF16Bits(2 ** -14 - 2 ** -25), 0x0400); // tie 0x3ff/0x400 -> even
  assertEquals(f16BitsToNumber(0x7c00), Infinity);
  assertEquals(f16BitsToNumber(0x3555), 0.333251953125);
  assertEquals(roundToF16(0.1), 0.0999755859375);
});

Deno.test("f16: agrees with Math.f16round on random f32 and f64", {
  ignore: f16round === undefined,
}, () => {
  const same = (x: number) => {
    const a = roundToF16(x);
    const b = f16round!(x);
    return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
  };
  fc.assert(fc.property(fc.float(), same), { numRuns: 20000 });
  fc.assert(fc.property(fc.double(), same), { numRuns: 20000 });
  fc.assert(
    fc.property(fc.double({ min: -70000, max: 70000 }), same),
    { numRuns: 20000 },
  );
  fc.assert(
    fc.property(fc.double({ min: -1e-4, max: 1e-4 }), same),
    { numRuns: 20000 },
  );
});
