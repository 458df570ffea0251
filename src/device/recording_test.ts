import assert from "node:assert/strict";
import { FsError } from "../errors.ts";
import { MemDevice } from "./mem.ts";
import { RecordingDevice } from "./recording.ts";

Deno.test("RecordingDevice: logs copies of writes, flushes and marks in order and passes them through", () => {
  const mem = new MemDevice(8192);
  const rec = new RecordingDevice<{ n: number }>(mem);
  const buf = new Uint8Array([1, 2, 3]);
  rec.write(1000, buf);
  buf[0] = 9; // the log keeps what was written, not the caller's buffer
  rec.sync();
  const at = rec.mark("persist", { n: 1 });
  rec.write(4096, new Uint8Array(1024).fill(7));
  assert.equal(at, 2);
  assert.deepEqual(rec.log.map((e) => e.kind), ["write", "flush", "mark", "write"]);
  const w = rec.log[0];
  assert.ok(w.kind === "write");
  assert.equal(w.offset, 1000);
  assert.deepEqual([...w.data], [1, 2, 3]);
  const m = rec.log[2];
  assert.ok(m.kind === "mark" && m.label === "persist" && m.payload.n === 1);
  assert.deepEqual([...mem.bytes.subarray(1000, 1003)], [1, 2, 3]);
  assert.equal(mem.bytes[5000], 7);
  assert.equal(mem.syncs, 1);
  const out = new Uint8Array(3);
  rec.read(1000, out);
  assert.deepEqual([...out], [1, 2, 3]);
  assert.deepEqual(rec.counts(), { writes: 2, flushes: 1, marks: 1 });
  assert.equal(rec.bytesWritten, 1027);
  assert.equal(rec.size, 8192);
  assert.equal(rec.kind, "memory");
});

Deno.test("RecordingDevice: a write the base refuses is not logged", () => {
  const rec = new RecordingDevice(new MemDevice(4096));
  assert.throws(() => rec.write(4000, new Uint8Array(200)), (e) => e instanceof FsError && e.code === "ENOSPC");
  assert.equal(rec.log.length, 0);
});

Deno.test("RecordingDevice: dropFlushes makes a lying disk (the flush is neither passed on nor logged)", () => {
  const mem = new MemDevice(4096);
  const rec = new RecordingDevice(mem, { dropFlushes: (i) => i === 1 });
  rec.sync();
  rec.sync();
  rec.sync();
  assert.equal(rec.syncCalls, 3);
  assert.equal(mem.syncs, 2);
  assert.equal(rec.counts().flushes, 2);
});
