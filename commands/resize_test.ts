/**
 * CLI tests of `vexfs resize`, running the real command: a filled
 * filesystem on a real loop device grown with `truncate` + `losetup -c`,
 * checked clean by `vexfs fsck -f`, every file, xattr and vector and every
 * search answer unchanged, then mounted with `vexfs mount` (FUSE) and its
 * new inodes and blocks filled through the mount; a mounted target and
 * shrinking refused with clear errors.
 */
import assert from "node:assert/strict";
import { runVexfs } from "./_testutil.ts";
import { snapshot } from "../src/crash/oracle.ts";
import { CAN_LOOP, run, withLoop } from "../src/device/_testutil.ts";
import { assertFsckClean } from "../src/fs/_testutil.ts";
import { fillTree, searches } from "../src/fs/_filltree.ts";
import { Vexfs } from "../src/fs/fs.ts";
import { CAN_MOUNT, withMount } from "../src/mount/_testutil.ts";

const vexfs = (...args: string[]) => runVexfs(args);

Deno.test({
  name: "vexfs resize grows a filled filesystem on a real loop device grown with truncate + losetup -c",
  ignore: !CAN_LOOP || !CAN_MOUNT,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const img = Deno.makeTempFileSync({ suffix: ".img" });
    Deno.removeSync(img);
    try {
      const mk = await vexfs("mkfs", "-q", img, "32M");
      assert.equal(mk.code, 0, mk.stderr);
      let fs = Vexfs.open(img);
      fillTree(fs, 3);
      fs.close();
      fs = Vexfs.open(img, { readOnly: true });
      const tree = snapshot(fs);
      const answers = searches(fs);
      const oldFreeInodes = fs.sb.freeInodes;
      fs.close();
      await withLoop(img, async (loop) => {
        // as an administrator grows a loop device: the backing file, then the kernel's idea of its size
        run("truncate", ["-s", "128M", img]);
        run("losetup", ["-c", loop]);
        const r = await vexfs("resize", loop);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /Resized .* from 8192 to 32768 blocks of 4096 bytes .* 2048 -> 8192 inodes/);
        assert.match(r.stdout, /inode table: \d+ blocks moved/);
        const f = await vexfs("fsck", "-f", loop);
        assert.equal(f.code, 0, f.stdout + f.stderr);
        assert.match(f.stdout, /clean/);
        fs = Vexfs.open(loop, { readOnly: true });
        assert.deepEqual(snapshot(fs), tree, "every file, xattr and vector as before");
        assert.deepEqual(searches(fs), answers, "identical search answers through the graph");
        fs.close();
        const again = await vexfs("resize", loop);
        assert.equal(again.code, 0, again.stderr);
        assert.match(again.stdout, /Nothing to do/);
        const shrink = await vexfs("resize", loop, "64M");
        assert.equal(shrink.code, 1);
        assert.match(shrink.stderr, /shrinking is not supported/);
        const past = await vexfs("resize", loop, "1G");
        assert.equal(past.code, 1);
        assert.match(past.stderr, /cannot be grown to/);
        // the new inodes and blocks, through a FUSE mount of the device
        await withMount({ image: loop }, async (mnt) => {
          const busy = await vexfs("resize", loop);
          assert.equal(busy.code, 1);
          assert.match(busy.stderr, /in use .*unmount it first/);
          Deno.mkdirSync(`${mnt}/new`);
          const n = oldFreeInodes + 500;
          for (let i = 0; i < n; i++) Deno.writeFileSync(`${mnt}/new/${i}`, new Uint8Array([i & 0xff]));
          const big = new Uint8Array(64 << 20).fill(0x5a);
          Deno.writeFileSync(`${mnt}/big`, big);
          const back = Deno.readFileSync(`${mnt}/big`);
          assert.ok(back.length === big.length && back.every((x) => x === 0x5a), "64 MiB in the new space");
          assert.equal(Deno.readFileSync(`${mnt}/new/${n - 1}`)[0], (n - 1) & 0xff);
        });
        assertFsckClean(loop);
        fs = Vexfs.open(loop, { readOnly: true });
        const now = snapshot(fs);
        for (const [p, node] of tree) if (p !== "/") assert.deepEqual(now.get(p), node, p);
        fs.close();
      });
    } finally {
      Deno.removeSync(img);
    }
  },
});

Deno.test("vexfs resize: an image file grown by the command, -N, --dry-run, usage errors", async () => {
  const img = Deno.makeTempFileSync({ suffix: ".img" });
  Deno.removeSync(img);
  try {
    assert.equal((await vexfs("mkfs", "-q", img, "16M")).code, 0);
    const dry = await vexfs("resize", "-n", img, "64M");
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /Dry run: nothing was changed/);
    assert.equal(Deno.statSync(img).size, 16 << 20, "a dry run does not grow the file");
    const r = await vexfs("resize", "-N", "10000", img, "64M");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Grew the image file/);
    assert.match(r.stdout, /-> 10000 inodes/);
    assert.equal(Deno.statSync(img).size, 64 << 20);
    const fewer = await vexfs("resize", "-N", "100", img);
    assert.equal(fewer.code, 1);
    assert.match(fewer.stderr, /can only grow/);
    const bad = await vexfs("resize", img, "lots");
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /not a size/);
    assertFsckClean(img);
  } finally {
    Deno.removeSync(img);
  }
});
