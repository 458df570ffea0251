import assert from "node:assert/strict";
import { blkidSignatures, mergeSignatures } from "./blkid.ts";
import { probeSignatures } from "./probe.ts";
import { Device } from "./device.ts";
import { run } from "./_testutil.ts";

Deno.test("mergeSignatures: without libblkid the own probes stand alone; a type both saw is listed once", () => {
  const own = [{ type: "ext4", offset: 1080, description: "ext4 filesystem (16 MiB)" }, {
    type: "mbr",
    offset: 510,
    description: "MBR partition table",
  }];
  assert.deepEqual(mergeSignatures(own, undefined).map((s) => [s.type, s.source]), [["ext4", "vexfs"], [
    "mbr",
    "vexfs",
  ]]);
  const merged = mergeSignatures(own, [
    { type: "ext4", kind: "superblock", usage: "filesystem", offset: 1080, description: "ext4 filesystem" },
    { type: "dos", kind: "partition table", offset: 510, description: "MBR (dos) partition table" },
    { type: "minix", kind: "superblock", usage: "filesystem", offset: 1040, description: "minix filesystem" },
  ]);
  assert.deepEqual(merged.map((s) => [s.type, s.source]), [["ext4", "both"], ["dos", "both"], ["minix", "libblkid"]]);
  assert.equal(merged[0].description, "ext4 filesystem (16 MiB)", "own description (with size) kept");
});

Deno.test("blkidSignatures agrees with blkid -p on a real swap image, with label and UUID; the own probes see it too", () => {
  const img = Deno.makeTempFileSync({ suffix: ".img" });
  try {
    run("truncate", ["-s", "4M", img]);
    run("mkswap", ["-L", "sw1", img]);
    const uuid = run("blkid", ["-p", "-s", "UUID", "-o", "value", img]).trim();
    const s = blkidSignatures(img);
    assert.ok(s, "libblkid loads");
    assert.equal(s.length, 1);
    assert.equal(s[0].type, "swap");
    assert.equal(s[0].label, "sw1");
    assert.equal(s[0].uuid, uuid);
    const dev = Device.open(img, { readOnly: true, exclusive: false });
    try {
      assert.deepEqual(mergeSignatures(probeSignatures(dev), s).map((x) => [x.type, x.source]), [["swap", "both"]]);
    } finally {
      dev.close();
    }
  } finally {
    Deno.removeSync(img);
  }
});
