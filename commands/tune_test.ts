/**
 * CLI tests of `vexfs tune`: the real command on real images, its output,
 * JSON and exit codes, and its refusal of a mounted image (a real FUSE
 * mount).
 */
import assert from "node:assert/strict";
import { runVexfs } from "./_testutil.ts";
import { assertFsckClean } from "../src/fs/_testutil.ts";
import { mountTest, withMount } from "../src/mount/_testutil.ts";
import { SB_OFFSET, SB_SIZE } from "../src/format/constants.ts";
import { decodeSuperblock, uuidToString } from "../src/format/superblock.ts";

const vexfs = (...args: string[]) => runVexfs(args);

async function image(): Promise<string> {
  const img = Deno.makeTempFileSync({ suffix: ".img" });
  Deno.removeSync(img);
  const r = await vexfs("mkfs", "-q", img, "64M");
  assert.equal(r.code, 0, r.stderr);
  return img;
}

function sb(img: string) {
  const f = Deno.openSync(img);
  const b = new Uint8Array(SB_SIZE);
  f.seekSync(SB_OFFSET, Deno.SeekMode.Start);
  f.readSync(b);
  f.close();
  return decodeSuperblock(b);
}

Deno.test("vexfs tune sets every field with tune2fs's letters and lists them", async () => {
  const img = await image();
  try {
    const uuid = "a1b2c3d4-e5f6-4718-9a0b-1c2d3e4f5a6b";
    const r = await vexfs("tune", "-L", "photos", "-U", uuid, "-e", "panic", "-c", "-1", "-C", "3", img);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /label \(none\) -> photos/);
    assert.match(r.stdout, /uuid .* -> a1b2c3d4/);
    const s = sb(img);
    assert.equal(s.label, "photos");
    assert.equal(uuidToString(s.uuid), uuid);
    assert.equal(s.errors, 3);
    assert.equal(s.maxMountCount, 0);
    assert.equal(s.mountCount, 3);
    const l = await vexfs("tune", "-l", img);
    assert.equal(l.code, 0, l.stderr);
    assert.match(l.stdout, /photos/);
    assert.match(l.stdout, /panic/);
    const j = await vexfs("tune", "--json", "-c", "20", img);
    assert.equal(j.code, 0, j.stderr);
    const doc = JSON.parse(j.stdout);
    assert.equal(doc.schema_version, 1);
    assert.equal(doc.command, "tune");
    assert.deepEqual(doc.changed, ["max_mount_count"]);
    assert.equal(doc.previous.max_mount_count, 0);
    assert.equal(doc.tunables.max_mount_count, 20);
    assert.match(doc.tunables.check_time, /^\d{4}-\d\d-\d\dT/);
    const jl = JSON.parse((await vexfs("tune", "--json", "-l", img)).stdout);
    assert.equal(jl.tunables.label, "photos");
    assert.equal(jl.in_use, null);
    assert.equal(jl.previous, null);
    const rnd = await vexfs("tune", "-c", "random", img);
    assert.equal(rnd.code, 0, rnd.stderr);
    assert.ok(sb(img).maxMountCount >= 20 && sb(img).maxMountCount <= 40);
    assertFsckClean(img);
  } finally {
    Deno.removeSync(img);
  }
});

Deno.test("vexfs tune refuses bad values and no change with exit 1, writing nothing", async () => {
  const img = await image();
  try {
    const before = sb(img);
    for (
      const [args, msg] of [
        [["-L", "x".repeat(64)], /at most 63/],
        [["-U", "12-34"], /not a UUID/],
        [["-e", "ignore"], /continue, remount-ro or panic/],
        [["-c", "70000"], /not a maximal mount count/],
        [["-C", "-3"], /not a mount count|unknown option/],
        [[], /nothing to do/],
      ] as [string[], RegExp][]
    ) {
      const r = await vexfs("tune", ...args, img);
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stdout}`);
      assert.match(r.stderr, msg);
    }
    assert.deepEqual(sb(img), before);
    const missing = await vexfs("tune", "-L", "a", "/nonexistent/none.img");
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no such file/i);
  } finally {
    Deno.removeSync(img);
  }
});

Deno.test({
  name: "vexfs tune refuses a mounted image with a clear error; -l works",
  ...mountTest,
  fn: async () => {
    await withMount({ size: 64 << 20 }, async (mnt, img) => {
      const r = await vexfs("tune", "-L", "busy", img);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /in use .*mounted on .*unmount it first/);
      assert.ok(r.stderr.includes(mnt) || r.stderr.includes("in use"), r.stderr);
      const l = await vexfs("tune", "-l", img);
      assert.equal(l.code, 0, l.stderr);
      assert.match(l.stderr, /is in use/);
      assert.match(l.stdout, /mount count\s*│ 1/);
    });
  },
});
