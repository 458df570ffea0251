import assert from "node:assert/strict";
import { formatBytes, formatCount, formatDuration, formatRate } from "./units.ts";

Deno.test("formatBytes: bytes below 1 KiB, binary units above, one decimal below 100", () => {
  assert.equal(formatBytes(0), "0 bytes");
  assert.equal(formatBytes(1), "1 byte");
  assert.equal(formatBytes(512), "512 bytes");
  assert.equal(formatBytes(1024), "1 KiB");
  assert.equal(formatBytes(4096), "4 KiB");
  assert.equal(formatBytes(1536), "1.5 KiB");
  assert.equal(formatBytes(2 ** 30), "1 GiB");
  assert.equal(formatBytes(1.5 * 2 ** 30), "1.5 GiB");
  assert.equal(formatBytes(320 * 2 ** 20), "320 MiB");
  assert.equal(formatBytes(268435456), "256 MiB");
  assert.equal(formatBytes(1024 * 1024 - 1), "1 MiB"); // 1023.999 KiB carries into the next unit
  assert.equal(formatBytes(2 ** 60), "1 EiB");
  assert.equal(formatBytes(-2048), "-2 KiB");
});

Deno.test("formatDuration: ns, µs, ms, s, min, h and d at a precision that fits", () => {
  assert.equal(formatDuration(0.00085), "850 ns");
  assert.equal(formatDuration(0.0035), "3.5 µs");
  assert.equal(formatDuration(0.0123), "12 µs");
  assert.equal(formatDuration(0.42), "420 µs");
  assert.equal(formatDuration(0.9996), "1 ms");
  assert.equal(formatDuration(3.5), "3.5 ms");
  assert.equal(formatDuration(4), "4 ms");
  assert.equal(formatDuration(350), "350 ms");
  assert.equal(formatDuration(999.4), "999 ms");
  assert.equal(formatDuration(999.6), "1 s");
  assert.equal(formatDuration(1200), "1.2 s");
  assert.equal(formatDuration(9940), "9.9 s");
  assert.equal(formatDuration(12_000), "12 s");
  assert.equal(formatDuration(59_400), "59 s");
  assert.equal(formatDuration(60_000), "1 min");
  assert.equal(formatDuration(125_000), "2 min 5 s");
  assert.equal(formatDuration(3_600_000), "1 h");
  assert.equal(formatDuration(3_720_000), "1 h 2 min");
  assert.equal(formatDuration(51 * 3_600_000), "2 d 3 h");
  assert.equal(formatDuration(-1), "-1 ms");
});

Deno.test("formatCount and formatRate", () => {
  assert.equal(formatCount(12000), "12,000");
  assert.equal(formatCount(999.6), "1,000");
  assert.equal(formatRate(3100, 1000, "files"), "3,100 files/s");
  assert.equal(formatRate(25, 2000, "records"), "12.5 records/s");
  assert.equal(formatRate(10, 1000, "files"), "10 files/s");
  assert.equal(formatRate(12.5 * 2 ** 20, 1000, "bytes"), "12.5 MiB/s");
  assert.equal(formatRate(100, 1000, "bytes"), "100 B/s");
  assert.equal(formatRate(5, 0, "files"), "– files/s");
});
