/**
 * Tests of src/fs/tune.ts: every field changed in the primary and the
 * backup superblock, the journal's UUID kept equal to the filesystem's, bad
 * values refused before anything is written, the maximal mount count
 * honoured by fsck as e2fsck does, a mounted image refused (a real FUSE
 * mount), and every crash state of a tune leaving the old fields or the new
 * ones on an fsck-clean filesystem.
 */
import assert from "node:assert/strict";
import { MemDevice } from "../device/mem.ts";
import { RecordingDevice } from "../device/recording.ts";
import { enumerateStates, StateBuilder } from "../crash/states.ts";
import { SB_OFFSET, SB_SIZE } from "../format/constants.ts";
import { decodeJournalSuperblock } from "../format/journal.ts";
import { blockSizeOf, decodeSuperblock, type Superblock, uuidToString } from "../format/superblock.ts";
import { fsck } from "../fsck/fsck.ts";
import { journalMap } from "../journal/map.ts";
import { mountTest, withMount } from "../mount/_testutil.ts";
import { assertFsckClean, code, tmpImage } from "./_testutil.ts";
import { Vexfs } from "./fs.ts";
import { computeLayout, writeFilesystem } from "./mkfs.ts";
import { parseUuidSpec, readTunables, timeUuid, tune } from "./tune.ts";

function superblocks(img: string): { primary: Superblock; backup: Superblock } {
  const bytes = Deno.readFileSync(img);
  const primary = decodeSuperblock(bytes.subarray(SB_OFFSET, SB_OFFSET + SB_SIZE));
  const at = (primary.blockCount - 1) * blockSizeOf(primary);
  return { primary, backup: decodeSuperblock(bytes.subarray(at, at + SB_SIZE)) };
}

function journalUuid(img: string): string {
  const dev = new MemDevice(Deno.readFileSync(img));
  const { primary } = superblocks(img);
  const bs = blockSizeOf(primary);
  const raw = new Uint8Array(bs);
  dev.read(journalMap(dev, primary)(0) * bs, raw);
  return uuidToString(decodeJournalSuperblock(raw).uuid);
}

Deno.test("tune changes label, UUID, errors and mount counts in both superblocks without counting a mount", () => {
  const img = tmpImage(64 << 20);
  try {
    const before = superblocks(img).primary;
    const uuid = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
    const r = tune(img, { label: "archive", uuid, errors: "remount-ro", maxMountCount: 25, mountCount: 7 });
    assert.deepEqual(r.changed.sort(), ["errors", "label", "maxMountCount", "mountCount", "uuid"]);
    assert.equal(r.before.label, "");
    for (const sb of Object.values(superblocks(img))) {
      assert.equal(sb.label, "archive");
      assert.equal(uuidToString(sb.uuid), uuid);
      assert.equal(sb.errors, 2);
      assert.equal(sb.maxMountCount, 25);
      assert.equal(sb.mountCount, 7);
      assert.equal(sb.mountTime, before.mountTime, "tune is not a mount");
      assert.equal(sb.state, 1);
    }
    assert.equal(journalUuid(img), uuid, "the jbd2 superblock's s_uuid follows the filesystem's");
    // -c 0 / -1 disable the check; a label can be cleared
    tune(img, { maxMountCount: -1, label: "" });
    assert.equal(superblocks(img).primary.maxMountCount, 0);
    assert.equal(superblocks(img).primary.label, "");
    assert.deepEqual(readTunables(img).tunables.errors, "remount-ro");
    // the journal still works with its new UUID: a write commits and replays
    const fs = Vexfs.open(img);
    fs.write(fs.create(2, "after-uuid"), 0, new TextEncoder().encode("x"));
    fs.close();
    assertFsckClean(img);
  } finally {
    Deno.removeSync(img);
  }
});

Deno.test("tune -U random/time/clear make valid UUIDs of the right version", () => {
  const v = (u: Uint8Array) => u[6] >> 4;
  assert.equal(v(parseUuidSpec("random")), 4);
  assert.equal(v(parseUuidSpec("time")), 1);
  assert.equal(parseUuidSpec("time")[8] >> 6, 0b10, "RFC 4122 variant");
  assert.ok(parseUuidSpec("clear").every((x) => x === 0));
  // the time field counts 100 ns intervals since 1582-10-15: 2026-01-01 gives this time_hi
  const t = timeUuid(Date.UTC(2026, 0, 1));
  const ticks = BigInt(Date.UTC(2026, 0, 1)) * 10000n + 0x01b21dd213814000n;
  assert.equal(new DataView(t.buffer).getUint32(0), Number(ticks & 0xffffffffn));
  assert.equal(new DataView(t.buffer).getUint16(6) & 0x0fff, Number((ticks >> 48n) & 0xfffn));
  assert.throws(() => parseUuidSpec("not-a-uuid"), /is not a UUID/);
});

Deno.test("tune refuses bad values before it opens anything", () => {
  const img = tmpImage(64 << 20);
  try {
    const raw = Deno.readFileSync(img);
    assert.equal(code(() => tune(img, { label: "x".repeat(64) })), "EINVAL");
    assert.equal(code(() => tune(img, { label: "a\0b" })), "EINVAL");
    assert.equal(code(() => tune(img, { uuid: "1234" })), "EINVAL");
    assert.equal(code(() => tune(img, { maxMountCount: 70000 })), "EINVAL");
    assert.equal(code(() => tune(img, { mountCount: -2 })), "EINVAL");
    // deno-lint-ignore no-explicit-any
    assert.equal(code(() => tune(img, { errors: "ignore" as any })), "EINVAL");
    const now = Deno.readFileSync(img);
    assert.ok(now.length === raw.length && now.every((x, i) => x === raw[i]), "nothing was written");
    assert.equal(code(() => tune("/nonexistent/x.img", { label: "a" })), "ENOENT");
  } finally {
    Deno.removeSync(img);
  }
});

Deno.test("a filesystem past its maximal mount count is checked even when clean, and fsck -p resets the count", () => {
  const img = tmpImage(64 << 20);
  try {
    tune(img, { maxMountCount: 2 });
    assert.equal(fsck(img, { force: false }).skipped, true, "clean and under the maximum: skipped");
    for (let i = 0; i < 2; i++) Vexfs.open(img).close(); // two read-write opens count as mounts
    assert.equal(superblocks(img).primary.mountCount, 2);
    const r = fsck(img, { force: false });
    assert.equal(r.skipped, false, "the maximal mount count forces a full check");
    assert.ok(r.problems.some((p) => p.code === "SB_MOUNT_COUNT"));
    const p = fsck(img, { preen: true });
    assert.ok(p.exitCode === 0 || p.exitCode === 1, `fsck -p exit ${p.exitCode}`);
    assert.equal(superblocks(img).primary.mountCount, 0, "a check resets the count");
    assert.equal(fsck(img, { force: false }).skipped, true);
    // tune -C sets the count directly, so the next fsck -p checks
    tune(img, { mountCount: 5 });
    assert.equal(fsck(img, { force: false }).skipped, false);
    assertFsckClean(img);
  } finally {
    Deno.removeSync(img);
  }
});

Deno.test("tune without a journal writes both superblocks in place", () => {
  const img = Deno.makeTempFileSync({ suffix: ".img" });
  Deno.removeSync(img);
  try {
    const dev = new MemDevice(16 << 20);
    writeFilesystem(dev, computeLayout(dev.size, { journalBlocks: 0 }), { uuid: parseUuidSpec("random") });
    Deno.writeFileSync(img, dev.bytes);
    tune(img, { label: "nojournal", errors: "panic" });
    for (const sb of Object.values(superblocks(img))) {
      assert.equal(sb.label, "nojournal");
      assert.equal(sb.errors, 3);
      assert.equal(sb.state, 1, "closed clean");
    }
    assertFsckClean(img);
  } finally {
    Deno.removeSync(img);
  }
});

Deno.test("every crash state of a tune has the old or the new fields and checks clean", () => {
  const base = new MemDevice(32 << 20);
  writeFilesystem(base, computeLayout(base.size, {}), { uuid: parseUuidSpec("random"), hashSeed: 1, time: 1 });
  const image = base.bytes.slice();
  const rec = new RecordingDevice(new MemDevice(image.slice()));
  const newUuid = "11111111-2222-4333-8444-555555555555";
  tune(rec, { label: "crashed", uuid: newUuid, maxMountCount: 9 });
  const states = enumerateStates(rec.log, { randomStates: 40, seed: 7 });
  assert.ok(states.length >= 4, `only ${states.length} states`);
  const builder = new StateBuilder(image, rec.log, 1024);
  let oldSeen = 0, newSeen = 0;
  for (const st of states) {
    const dev = builder.build(st);
    const r = fsck(dev, { readOnly: true, force: true });
    const bad = r.problems.filter((p) => p.severity !== "info");
    assert.deepEqual(bad, [], `${st.kind} cut ${st.cut}: ${bad.map((p) => `${p.code}: ${p.message}`).join("; ")}`);
    const fs = Vexfs.openDevice(dev, { readOnly: true });
    const label = fs.sb.label;
    const uuid = uuidToString(fs.sb.uuid);
    fs.close();
    if (label === "") {
      oldSeen++;
      assert.notEqual(uuid, newUuid);
    } else {
      newSeen++;
      assert.equal(label, "crashed");
      assert.equal(uuid, newUuid, "label and UUID change together");
    }
  }
  assert.ok(oldSeen > 0 && newSeen > 0, `old ${oldSeen}, new ${newSeen}`);
});

Deno.test({
  name: "tune refuses a mounted image and -l still reads it",
  ...mountTest,
  fn: async () => {
    await withMount({ size: 64 << 20 }, (_mnt, img) => {
      assert.throws(() => tune(img, { label: "busy" }), /in use .*unmount it first/);
      const { tunables, inUse } = readTunables(img);
      assert.ok(inUse, "says it is in use");
      assert.equal(tunables.mountCount, 1, "the mount counted");
    });
  },
});
