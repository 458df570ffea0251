/**
 * The dm-log-writes log parser and the replay without a VM: a log written
 * here in the kernel's format replays write by write, points fall on flush
 * and FUA entries, marks make and drop claims, and a file whose bytes differ
 * from its claim, a missing one or a resurrected one fails the point.
 */
import { assertEquals, assertMatch } from "../test_assert.ts";
import {
  checkPoints,
  fnv1a64,
  LOG_FLUSH,
  LOG_FUA,
  LOG_MARK,
  parseLog,
  type PointChecker,
  replayPoints,
} from "./logwrites.ts";

const SS = 512;

/** A log of `entries` (write data in whole sectors, or a mark). */
function makeLog(entries: { sector?: number; data?: Uint8Array; flags?: number; mark?: string }[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const sb = new Uint8Array(SS);
  const v = new DataView(sb.buffer);
  v.setBigUint64(0, 0x6a736677736872n, true);
  v.setBigUint64(8, 1n, true);
  v.setBigUint64(16, BigInt(entries.length), true);
  v.setUint32(24, SS, true);
  parts.push(sb);
  for (const e of entries) {
    const h = new Uint8Array(SS);
    const hv = new DataView(h.buffer);
    const n = e.data ? e.data.length / SS : 0;
    hv.setBigUint64(0, BigInt(e.sector ?? 0), true);
    hv.setBigUint64(8, BigInt(n), true);
    hv.setBigUint64(16, BigInt((e.flags ?? 0) | (e.mark ? LOG_MARK : 0)), true);
    const m = new TextEncoder().encode(e.mark ?? "");
    hv.setBigUint64(24, BigInt(e.mark ? m.length : 0), true);
    h.set(m, 32);
    parts.push(h);
    if (e.data) parts.push(e.data);
  }
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, o), o += p.length;
  return out;
}

/** A toy "filesystem": sector k holds file "fK" as a length byte and that many bytes. */
const toy: PointChecker = {
  fsck: (img) => Promise.resolve(img[0] === 0xee ? ["sector 0 damaged"] : []),
  files: (img) => {
    const m = new Map<string, Uint8Array>();
    for (let k = 1; k < img.length / SS; k++) {
      const len = img[k * SS];
      if (len) m.set(`f${k}`, img.slice(k * SS + 1, k * SS + 1 + len));
    }
    return Promise.resolve(m);
  },
};

function sector(bytes: number[]): Uint8Array {
  const s = new Uint8Array(SS);
  s[0] = bytes.length;
  s.set(bytes, 1);
  return s;
}

Deno.test("log-writes: parse, replay to flush/FUA points, claims from marks", async () => {
  const base = new Uint8Array(8 * SS);
  const a = [1, 2, 3];
  const log = makeLog([
    { sector: 1, data: sector(a) },
    { flags: LOG_FLUSH },
    { mark: `sync:f1:3:${fnv1a64(new Uint8Array(a))}` },
    { sector: 2, data: sector([9]), flags: LOG_FUA },
    { mark: "dirty:f1" },
    { sector: 1, data: sector([7, 7]) },
    { flags: LOG_FLUSH },
    { mark: "gone:f3" },
  ]);
  const wl = parseLog(log);
  assertEquals(wl.entries.map((e) => e.mark ?? e.flags), [
    0,
    LOG_FLUSH,
    wl.entries[2].mark,
    LOG_FUA,
    "dirty:f1",
    0,
    1,
    "gone:f3",
  ]);
  const points = [...replayPoints(base, log, wl)].map((p) => ({ index: p.index, claims: [...p.claims.keys()] }));
  assertEquals(points, [
    { index: 1, claims: [] },
    { index: 3, claims: ["f1"] },
    { index: 6, claims: [] },
    { index: 7, claims: ["f3"] },
  ]);
  const ok = await checkPoints(replayPoints(base, log, wl), toy);
  assertEquals(ok.failures, []);
  assertEquals([ok.points, ok.claimsChecked], [4, 2]);
  // the same claims against a disk where f1 changed before its claim ended, and f3 exists
  const bad = makeLog([
    { sector: 1, data: sector([1, 2, 4]) },
    { flags: LOG_FLUSH },
    { mark: `sync:f1:3:${fnv1a64(new Uint8Array(a))}` },
    { mark: "gone:f3" },
    { sector: 3, data: sector([5]), flags: LOG_FUA },
    { sector: 0, data: new Uint8Array(SS).fill(0xee), flags: LOG_FUA },
  ]);
  const r = await checkPoints(replayPoints(base, bad, parseLog(bad)), toy);
  assertEquals(r.failures.length, 5, r.failures.join("\n")); // f1 and f3 at both FUA points, and sector 0
  let err = "";
  try {
    parseLog(new Uint8Array(SS));
  } catch (e) {
    err = String(e);
  }
  assertMatch(err, /bad magic/);
});
