import { assertEquals, assertFsError } from "../test_assert.ts";
import {
  checkDim,
  decodeElemType,
  decodeMetric,
  ELEM_CODE,
  ELEM_TYPES,
  elemSize,
  encodeElemType,
  encodeMetric,
  MAX_DIM,
  METRIC_CODE,
  METRICS,
  parseElemType,
  parseMetric,
} from "./types.ts";

Deno.test("types: on-disk codes follow FORMAT.md §8.1", () => {
  assertEquals(METRIC_CODE, { l2: 1, cosine: 2, ip: 3 });
  assertEquals(ELEM_CODE, { f32: 1, f16: 2, i8: 3 });
  for (const m of METRICS) assertEquals(decodeMetric(encodeMetric(m)), m);
  for (const t of ELEM_TYPES) {
    assertEquals(decodeElemType(encodeElemType(t)), t);
  }
  assertEquals(elemSize("f32"), 4);
  assertEquals(elemSize("f16"), 2);
  assertEquals(elemSize("i8"), 1);
  assertEquals(MAX_DIM, 4096);
});

Deno.test("types: bad codes are EUCLEAN, bad names EINVAL", () => {
  for (const c of [0, 4, 255, 1.5, -1, NaN]) {
    assertFsError(() => decodeMetric(c), "EUCLEAN", /metric code/);
    assertFsError(() => decodeElemType(c), "EUCLEAN", /element type code/);
  }
  assertFsError(
    () => parseMetric("dot"),
    "EINVAL",
    /expected l2, cosine or ip/,
  );
  assertFsError(
    () => parseElemType("f64"),
    "EINVAL",
    /expected f32, f16 or i8/,
  );
  assertFsError(() => encodeMetric("x" as never), "EINVAL");
  assertFsError(() => encodeElemType("x" as never), "EINVAL");
  assertFsError(() => elemSize("x" as never), "EINVAL");
  assertEquals(parseMetric(" Cosine "), "cosine");
  assertEquals(parseElemType("F16"), "f16");
});

Deno.test("types: checkDim accepts 1..4096 only", () => {
  assertEquals(checkDim(1), 1);
  assertEquals(checkDim(4096), 4096);
  for (const d of [0, 4097, 1.5, -3, NaN, Infinity]) {
    assertFsError(() => checkDim(d), "EINVAL", /1\.\.4096/);
  }
});
