import fc from "fast-check";
import { decodeVector, encodeVector, parseVectorRaw, parseVectorText, validateVector } from "./codec.ts";
import { roundToF16 } from "./f16.ts";
import { assert, assertEquals, assertFsError, assertMatch } from "../test_assert.ts";
import { elemSize, type ElemType } from "./types.ts";

const F32 = (a: number[]) => new Float32Array(a);

const finiteF32 = (max: number) =>
  fc.float32Array({
    minLength: 1,
    maxLength: max,
    noNaN: true,
    noDefaultInfinity: true,
  });

Deno.test("codec: little-endian byte layout of each element type", () => {
  assertEquals(
    encodeVector(F32([1, -2]), "f32"),
    new Uint8Array([0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]),
  );
  assertEquals(
    encodeVector(F32([1, -2]), "f16"),
    new Uint8Array([0x00, 0x3c, 0x00, 0xc0]),
  );
  assertEquals(
    encodeVector(F32([-1, 127, -128, 0]), "i8"),
    new Uint8Array([0xff, 0x7f, 0x80, 0]),
  );
  assertEquals(
    decodeVector(new Uint8Array([0xff, 0x7f, 0x80]), "i8", 3),
    F32([-1, 127, -128]),
  );
});

Deno.test("codec: f32 round-trips exactly (property)", () => {
  fc.assert(fc.property(finiteF32(64), (v) => {
    const b = encodeVector(v, "f32");
    assertEquals(b.length, v.length * 4);
    assertEquals(decodeVector(b, "f32", v.length), v);
    // Unaligned input decodes the same.
    const u = new Uint8Array(b.length + 1);
    u.set(b, 1);
    assertEquals(decodeVector(u.subarray(1), "f32", v.length), v);
  }));
});

Deno.test("codec: f16 stores the correctly rounded value (property)", () => {
  const v16 = fc.array(
    fc.float({ min: -65504, max: 65504, noNaN: true }),
    { minLength: 1, maxLength: 64 },
  ).map((a) => new Float32Array(a));
  fc.assert(fc.property(v16, (v) => {
    const b = encodeVector(v, "f16");
    assertEquals(b.length, v.length * 2);
    const d = decodeVector(b, "f16", v.length);
    for (let i = 0; i < v.length; i++) assertEquals(d[i], roundToF16(v[i]));
    // Decoding then re-encoding is the identity.
    assertEquals(encodeVector(d, "f16"), b);
  }));
});

Deno.test("codec: i8 round-trips integers (property)", () => {
  const vi8 = fc.array(fc.integer({ min: -128, max: 127 }), {
    minLength: 1,
    maxLength: 64,
  }).map((a) => new Float32Array(a));
  fc.assert(fc.property(vi8, (v) => {
    const b = encodeVector(v, "i8");
    assertEquals(b.length, v.length);
    assertEquals(decodeVector(b, "i8", v.length), v);
  }));
});

Deno.test("codec: validation errors name the index and the rule", () => {
  for (const t of ["f32", "f16", "i8"] as ElemType[]) {
    assertFsError(
      () => encodeVector(F32([0, 1, NaN]), t),
      "EINVAL",
      /vector\[2\] is NaN/,
    );
    assertFsError(
      () => encodeVector(F32([Infinity]), t),
      "EINVAL",
      /vector\[0\] is Infinity/,
    );
    assertFsError(
      () => encodeVector(F32([-Infinity]), t),
      "EINVAL",
      /vector\[0\] is -Infinity/,
    );
    assertFsError(
      () => encodeVector(F32([]), t),
      "EINVAL",
      /dimension must be 1\.\.4096/,
    );
    assertFsError(
      () => encodeVector(new Float32Array(4097), t),
      "EINVAL",
      /4097/,
    );
  }
  assertFsError(
    () => encodeVector(F32([1, 1.5]), "i8"),
    "EINVAL",
    /vector\[1\] = 1\.5: i8 elements must be integers in -128\.\.127/,
  );
  assertFsError(
    () => encodeVector(F32([128]), "i8"),
    "EINVAL",
    /integers in -128\.\.127/,
  );
  assertFsError(
    () => encodeVector(F32([-129]), "i8"),
    "EINVAL",
    /integers in -128\.\.127/,
  );
  assertFsError(
    () => encodeVector(F32([0, 70000]), "f16"),
    "EINVAL",
    /vector\[1\] = 70000 overflows f16/,
  );
  assertFsError(
    () => encodeVector(F32([-65520]), "f16"),
    "EINVAL",
    /overflows f16/,
  );
  // 65519 rounds down to 65504 and is accepted.
  assertEquals(
    decodeVector(encodeVector(F32([65519]), "f16"), "f16", 1),
    F32([65504]),
  );
  assertFsError(
    () => validateVector([1, "x" as unknown as number], "f32"),
    "EINVAL",
    /vector\[1\] is string/,
  );
  assertFsError(
    () => decodeVector(new Uint8Array(7), "f32", 2),
    "EINVAL",
    /needs 8 bytes, got 7/,
  );
  assertFsError(
    () => decodeVector(new Uint8Array(0), "f32", 0),
    "EINVAL",
    /dimension/,
  );
});

Deno.test("codec: parseVectorText accepts JSON and separated numbers", () => {
  assertEquals(parseVectorText("[1, -2.5, 3e-1]"), F32([1, -2.5, 0.3]));
  assertEquals(parseVectorText("  [1,2]\n", 2), F32([1, 2]));
  assertEquals(parseVectorText("1 -2.5\t3e-1\n"), F32([1, -2.5, 0.3]));
  assertEquals(parseVectorText("1,2 , 3,\n4"), F32([1, 2, 3, 4]));
  assertEquals(parseVectorText("\uFEFF.5 +1 -0"), F32([0.5, 1, -0]));
});

Deno.test("codec: parseVectorText errors are specific", () => {
  assertFsError(() => parseVectorText("[1, 2", 2), "EINVAL", /not valid JSON/);
  assertFsError(
    () => parseVectorText('[1, "a"]'),
    "EINVAL",
    /vector\[1\] is string, expected a number/,
  );
  assertFsError(
    () => parseVectorText("[1, null]"),
    "EINVAL",
    /vector\[1\] is null/,
  );
  assertFsError(
    () => parseVectorText("[[1]]"),
    "EINVAL",
    /vector\[0\] is object/,
  );
  assertFsError(
    () => parseVectorText("1 2 abc"),
    "EINVAL",
    /vector\[2\] = "abc" is not a decimal number/,
  );
  assertFsError(
    () => parseVectorText("1 NaN"),
    "EINVAL",
    /vector\[1\] = "NaN"/,
  );
  assertFsError(
    () => parseVectorText("0x10"),
    "EINVAL",
    /not a decimal number/,
  );
  assertFsError(
    () => parseVectorText("1 2 3", 4),
    "EINVAL",
    /has 3 numbers, expected 4/,
  );
  assertFsError(
    () => parseVectorText("[1,2,3]", 2),
    "EINVAL",
    /has 3 numbers, expected 2/,
  );
  assertFsError(() => parseVectorText(""), "EINVAL", /empty/);
  assertFsError(() => parseVectorText("[]"), "EINVAL", /empty/);
  assertFsError(
    () => parseVectorText("1e39"),
    "EINVAL",
    /vector\[0\] = 1e\+39 overflows f32/,
  );
  assertFsError(
    () => parseVectorText("[1e400]"),
    "EINVAL",
    /vector\[0\] is Infinity/,
  );
  assertFsError(
    () => parseVectorText('{"a":1}'),
    "EINVAL",
    /not a decimal number/,
  );
  assertFsError(
    () => parseVectorText(Array(4097).fill(1).join(" ")),
    "EINVAL",
    /at most 4096/,
  );
});

Deno.test("codec: parseVectorText inverts JSON and plain formatting (property)", () => {
  fc.assert(fc.property(finiteF32(50), (v) => {
    const a = Array.from(v);
    const want = v.map((x) => x + 0); // text formatting drops the sign of -0
    assertEquals(parseVectorText(JSON.stringify(a), v.length), want);
    assertEquals(parseVectorText(a.join(" ")), want);
    assertEquals(parseVectorText(a.join(",\n")), want);
  }));
});

Deno.test("codec: parseVectorRaw reads little-endian f32", () => {
  const v = F32([1.5, -2, 3.25]);
  const b = encodeVector(v, "f32");
  assertEquals(parseVectorRaw(b), v);
  assertEquals(parseVectorRaw(b, 3), v);
  const u = new Uint8Array(13);
  u.set(b, 1);
  assertEquals(parseVectorRaw(u.subarray(1)), v);
  assertFsError(
    () => parseVectorRaw(b.subarray(0, 10)),
    "EINVAL",
    /10 bytes, expected a multiple of 4/,
  );
  assertFsError(
    () => parseVectorRaw(b, 4),
    "EINVAL",
    /12 bytes, expected 16 \(dimension 4 × 4 bytes\)/,
  );
  assertFsError(() => parseVectorRaw(new Uint8Array(0)), "EINVAL", /empty/);
  const bad = new Uint8Array(new Float32Array([0, 0, NaN]).buffer);
  const e = assertFsError(
    () => parseVectorRaw(bad),
    "EINVAL",
    /vector\[2\] is NaN/,
  );
  assert(e.errno === 22);
  assertMatch(e.message, /^EINVAL: /);
  for (const t of ["f32", "f16", "i8"] as ElemType[]) assert(elemSize(t) > 0);
});
