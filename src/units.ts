/**
 * Sizes, durations, counts and rates written for people: "4 KiB", "1.5 GiB",
 * "12.5 µs", "350 ms", "2 min 5 s", "12,000", "3,100 files/s", "12.5 MiB/s".
 *
 * The one formatter of the project: the command line (commands/util.ts
 * re-exports it), `vexfs stats` (src/stats/render.ts) and the library's own
 * messages (src/device/probe.ts) use it, so a size or a time reads the same everywhere. Sizes are binary (IEC
 * 80000-13: KiB = 1024 bytes), as `df -h`, `ls -lh` and mke2fs print them.
 * Machine output (`--json`) never goes through here: it keeps raw numbers.
 * @module
 */

const SIZE_UNITS = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

/**
 * A byte count for people: below 1 KiB in bytes ("512 bytes"), above in the
 * largest binary unit that keeps the number at least 1, with one decimal
 * below 100 and none when it is whole ("4 KiB", "1.5 GiB", "320 MiB").
 * @param bytes a non-negative number of bytes (a fraction is rounded)
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return String(bytes);
  if (bytes < 0) return `-${formatBytes(-bytes)}`;
  if (bytes < 1024) return `${Math.round(bytes)} byte${Math.round(bytes) === 1 ? "" : "s"}`;
  let v = bytes;
  let u = -1;
  while (v >= 1024 && u < SIZE_UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  // 1023.96 KiB would print as "1024 KiB": carry into the next unit
  if (Number(v.toFixed(v >= 100 ? 0 : 1)) >= 1024 && u < SIZE_UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const s = v >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toFixed(1);
  return `${s.replace(/\.0$/, "")} ${SIZE_UNITS[u]}`;
}

/**
 * A duration for people, at a precision that fits its size:
 * "850 ns", "3.5 µs", "420 µs", "3.5 ms", "350 ms", "1.2 s", "12 s",
 * "2 min 5 s", "1 h 2 min", "2 d 3 h" (one decimal below 10 of a unit,
 * none above; a trailing ".0" dropped).
 * @param ms milliseconds (negative or non-finite values print as they are)
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return `${ms} ms`;
  const small = (v: number, unit: string) =>
    v < 9.95 ? `${v.toFixed(1).replace(/\.0$/, "")} ${unit}` : `${Math.round(v)} ${unit}`;
  if (ms < 0.0009995) return `${Math.round(ms * 1e6)} ns`;
  if (ms < 0.9995) return small(ms * 1e3, "µs");
  if (ms < 999.5) return small(ms, "ms");
  const s = ms / 1000;
  if (s < 59.5) return small(s, "s");
  const total = Math.round(s);
  if (total < 3600) {
    const m = Math.floor(total / 60);
    const r = total % 60;
    return r ? `${m} min ${r} s` : `${m} min`;
  }
  const mins = Math.round(total / 60);
  if (mins < 24 * 60) {
    const h = Math.floor(mins / 60);
    const m = mins % 60;
    return m ? `${h} h ${m} min` : `${h} h`;
  }
  const hours = Math.round(mins / 60);
  const d = Math.floor(hours / 24);
  const h = hours % 24;
  return h ? `${d} d ${h} h` : `${d} d`;
}

/** A whole count with thousands separators: 12000 → "12,000". */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/**
 * A rate for people: `count` things (or bytes, with `unit` "bytes") done in
 * `ms` milliseconds, as "3,100 files/s", "12.5 records/s" below 100 (one
 * decimal), or "12.5 MiB/s" for bytes. "–" when no time has passed.
 * @param count things done (or bytes)
 * @param ms milliseconds taken
 * @param unit what is counted ("files", "records"); "bytes" prints a size per second
 */
export function formatRate(count: number, ms: number, unit: string): string {
  if (!(ms > 0)) return `– ${unit === "bytes" ? "B" : unit}/s`;
  const perS = count / (ms / 1000);
  if (unit === "bytes") return `${formatBytes(perS).replace(/ bytes?$/, " B")}/s`;
  const n = perS >= 100 ? formatCount(perS) : perS.toFixed(1).replace(/\.0$/, "");
  return `${n} ${unit}/s`;
}
