import assert from "node:assert/strict";
import { MemDevice } from "../device/mem.ts";
import { RecordingDevice } from "../device/recording.ts";
import { CowDevice, enumerateStates, piecesOf, StateBuilder } from "./states.ts";

/** A log: w(0: A), flush, w(1024: B, 2 KiB), w(100: C), flush, w(3072: D). */
function sample() {
  const rec = new RecordingDevice(new MemDevice(8192));
  const fill = (n: number, v: number) => new Uint8Array(n).fill(v);
  rec.write(0, fill(1024, 0xa));
  rec.sync();
  rec.mark("persist", null);
  rec.write(1024, fill(2048, 0xb));
  rec.write(100, fill(10, 0xc));
  rec.sync();
  rec.write(3072, fill(1024, 0xd));
  return rec.log;
}

Deno.test("piecesOf splits a write at unit boundaries of the device", () => {
  const log = sample();
  assert.deepEqual(piecesOf(log, 3, 1024), [{ entry: 3, from: 0, to: 1024 }, { entry: 3, from: 1024, to: 2048 }]);
  assert.deepEqual(piecesOf(log, 4, 1024), [{ entry: 4, from: 0, to: 10 }]);
  assert.deepEqual(piecesOf(log, 1, 1024), []);
});

Deno.test("enumerateStates: a flush state before the first write and after each flush (marks after it included)", () => {
  const log = sample();
  const flush = enumerateStates(log, { randomStates: 0 });
  assert.deepEqual(flush.map((s) => [s.kind, s.cut, s.durable]), [["flush", 0, -1], ["flush", 3, 1], ["flush", 6, 5]]);
  const rand = enumerateStates(log, { randomStates: 20, seed: 7, noFlushStates: true });
  assert.ok(rand.length > 3 && rand.length <= 20);
  for (const s of rand) {
    assert.ok(s.landed.length > 0);
    for (const p of s.landed) assert.ok(p.entry > s.durable && p.entry < s.cut, "pieces come from the cut epoch");
    for (let i = s.durable + 1; i < s.cut; i++) assert.notEqual(log[i].kind, "flush");
  }
  assert.deepEqual(
    enumerateStates(log, { randomStates: 20, seed: 7 }),
    enumerateStates(log, { randomStates: 20, seed: 7 }),
  );
  const late = enumerateStates(log, { randomStates: 20, seed: 3, after: 5 });
  assert.ok(late.every((s) => s.cut > 5));
});

Deno.test("StateBuilder: durable writes all present, later ones only as landed; the base is never changed", () => {
  const log = sample();
  const base = new Uint8Array(8192).fill(1);
  const b = new StateBuilder(base, log, 1024);
  const at = (d: CowDevice, off: number) => {
    const x = new Uint8Array(1);
    d.read(off, x);
    return x[0];
  };
  const s0 = b.build({ kind: "flush", cut: 0, durable: -1, landed: [] });
  assert.equal(at(s0, 0), 1);
  const s1 = b.build({ kind: "flush", cut: 3, durable: 1, landed: [] });
  assert.deepEqual([at(s1, 0), at(s1, 1024), at(s1, 100)], [0xa, 1, 0xa]);
  // torn: only the second block of the 2 KiB write, and the small write over the first block
  const s2 = b.build({
    kind: "subset",
    cut: 5,
    durable: 1,
    landed: [{ entry: 3, from: 1024, to: 2048 }, { entry: 4, from: 0, to: 10 }],
  });
  assert.deepEqual([at(s2, 1024), at(s2, 2048), at(s2, 100), at(s2, 99)], [1, 0xb, 0xc, 0xa]);
  const s3 = b.build({ kind: "flush", cut: 6, durable: 5, landed: [] });
  assert.deepEqual([at(s3, 1024), at(s3, 2048), at(s3, 100), at(s3, 3072)], [0xb, 0xb, 0xc, 1]);
  // a device's own writes stay private to it
  s3.write(50, new Uint8Array([9, 9]));
  assert.equal(at(s3, 50), 9);
  assert.equal(at(b.build({ kind: "flush", cut: 6, durable: 5, landed: [] }), 50), 0xa);
  assert.ok(base.every((x) => x === 1));
  const img = s3.materialize();
  assert.deepEqual([img[0], img[50], img[2048], img[5000]], [0xa, 9, 0xb, 1]);
});

Deno.test("CowDevice: reads and writes across units, refuses past the end", () => {
  const d = new CowDevice(new Uint8Array(4096), new Map(), 1024);
  d.write(1000, new Uint8Array(100).fill(5));
  const out = new Uint8Array(200);
  d.read(950, out);
  assert.deepEqual([out[49], out[50], out[149], out[150]], [0, 5, 5, 0]);
  assert.equal(d.overlay.size, 2);
  assert.throws(() => d.write(4090, new Uint8Array(10)));
  assert.throws(() => d.read(4090, new Uint8Array(10)));
  d.close();
  assert.throws(() => d.read(0, new Uint8Array(1)));
  d.reopen();
  d.read(0, new Uint8Array(1));
});
