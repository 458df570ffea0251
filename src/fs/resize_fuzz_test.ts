/**
 * The fsck fuzzer (src/fsck/_fuzz.ts) on a grown filesystem whose inode
 * table was moved into the new space (FLEX_META, FORMAT.md §2.2): damaged
 * metadata is found by `fsck -n`, repaired by `fsck -y`, clean on a second
 * `fsck -y`, and the engine works on the result, as on an mkfs layout.
 * `RESIZE_FUZZ_SEEDS=n` runs seeds 1..n (default 100).
 */
import assert from "node:assert/strict";
import { MemDevice } from "../device/mem.ts";
import { INCOMPAT_FLEX_META } from "../format/constants.ts";
import { fuzzOne } from "../fsck/_fuzz.ts";
import { buildPopulated, metaBlocks } from "../fsck/_testutil.ts";
import { Vexfs } from "./fs.ts";
import { resize } from "./resize.ts";

Deno.test("fsck fuzz on a resized filesystem with moved metadata: found, repaired, clean twice, usable", () => {
  const small = buildPopulated({ size: 2 << 20 }).dev.bytes;
  const grown = new MemDevice(6 << 20);
  grown.bytes.set(small);
  const r = resize(grown);
  assert.ok(r.moved.some((m) => m.region === "inode table"), JSON.stringify(r.moved));
  const base = grown.bytes.slice();
  const fs = Vexfs.openDevice(new MemDevice(base.slice(), { readOnly: true }), { readOnly: true });
  assert.ok(fs.sb.featureIncompat & INCOMPAT_FLEX_META);
  fs.close();
  const meta = metaBlocks(base);
  const seeds = Number(Deno.env.get("RESIZE_FUZZ_SEEDS") ?? 100);
  const failed: string[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    const f = fuzzOne(base, meta, 1024, seed);
    if (f.failures.length) failed.push(`seed ${seed} (${f.damage}): ${f.failures.join("; ")}`);
  }
  assert.deepEqual(failed, []);
});
