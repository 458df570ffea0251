import assert from "node:assert/strict";
import { FsError } from "../errors.ts";
import { run, withLoop } from "../device/_testutil.ts";
import { ROOT_INO } from "../format/constants.ts";
import { Vexfs } from "./fs.ts";
import { computeLayout, mkfs } from "./mkfs.ts";
import { blkidSignatures } from "../device/blkid.ts";
import { assertFsckClean } from "./_testutil.ts";

function errOf(f: () => unknown): FsError {
  try {
    f();
  } catch (e) {
    if (e instanceof FsError) return e;
    throw e;
  }
  throw new Error("expected an FsError");
}

function sha(path: string): string {
  return run("sha256sum", [path]).split(" ")[0];
}

Deno.test("mkfs: a 10 GiB sparse image formats quickly and writes only metadata", () => {
  const dir = Deno.makeTempDirSync();
  const img = `${dir}/big.img`;
  try {
    const t = performance.now();
    const r = mkfs(img, { size: 10 * 2 ** 30 });
    const ms = performance.now() - t;
    assert.ok(ms < 1000, `mkfs took ${ms} ms`);
    assert.equal(r.layout.blockCount, 2621440);
    const st = Deno.statSync(img);
    assert.equal(st.size, 10 * 2 ** 30);
    assert.ok(
      st.blocks! * 512 < 8 << 20,
      `only metadata is allocated (${st.blocks! * 512} bytes)`,
    );
    const fs = Vexfs.open(img);
    assert.equal(fs.statfs().bfree, r.layout.freeBlocks);
    fs.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("mkfs refusals on image files change nothing", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const ext4 = `${dir}/ext4.img`;
    run("truncate", ["-s", "16M", ext4]);
    run("mkfs.ext4", ["-q", "-L", "precious", ext4]);
    const before = sha(ext4);
    const e = errOf(() => mkfs(ext4, { size: 64 << 20 }));
    assert.equal(e.code, "EEXIST");
    assert.match(e.message, /ext4/);
    assert.match(e.message, /--force/);
    assert.equal(sha(ext4), before);
    assert.equal(Deno.statSync(ext4).size, 16 << 20, "not grown");
    assert.equal(
      errOf(() => mkfs(`${dir}/small.img`, { size: 4096 })).code,
      "ENOSPC",
    );
    assert.throws(
      () => Deno.statSync(`${dir}/small.img`),
      "a refused mkfs leaves no file behind",
    );
    assert.equal(
      errOf(() => mkfs(`${dir}/x.img`, { size: 1 << 20, blockSize: 3000 }))
        .code,
      "EINVAL",
    );
    assert.equal(
      errOf(() => mkfs(`${dir}/x.img`, { size: 1 << 20, blockSize: 128 * 1024 })).code,
      "EINVAL",
    );
    assert.equal(errOf(() => mkfs(`${dir}/missing.img`)).code, "ENOENT");
    // a VexFS image is also protected; --force formats it
    const vx = `${dir}/vx.img`;
    mkfs(vx, { size: 8 << 20 });
    assert.equal(errOf(() => mkfs(vx)).code, "EEXIST");
    const r = mkfs(ext4, { force: true });
    assert.deepEqual(r.previous.map((s) => s.type), ["ext4"]);
    const fs = Vexfs.open(ext4);
    assert.equal(fs.dirSize(ROOT_INO), 0);
    fs.close();
    // an image held open read-write by another VexFS process is in use
    const held = Vexfs.open(vx);
    try {
      assert.equal(errOf(() => mkfs(vx, { force: true })).code, "EBUSY");
    } finally {
      held.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test({
  name: "mkfs refusals on a real loop device: existing ext4, mounted, too small; size from the kernel",
  ignore: Deno.uid() !== 0,
  async fn() {
    const dir = Deno.makeTempDirSync();
    const img = `${dir}/disk.img`;
    run("truncate", ["-s", "48M", img]);
    const mnt = `${dir}/mnt`;
    Deno.mkdirSync(mnt);
    try {
      await withLoop(img, (loop) => {
        run("mkfs.ext4", ["-q", loop]);
        const before = sha(img);
        const e = errOf(() => mkfs(loop));
        assert.equal(e.code, "EEXIST");
        assert.match(e.message, /ext4/);
        assert.equal(sha(img), before, "the refusal wrote nothing");
        run("mount", [loop, mnt]);
        try {
          const busy = errOf(() => mkfs(loop, { force: true }));
          assert.equal(busy.code, "EBUSY");
          assert.match(busy.message, /mounted|in use/);
        } finally {
          run("umount", [mnt]);
        }
        const r = mkfs(loop, { force: true, blockSize: 1024 });
        assert.equal(r.kind, "block");
        assert.equal(r.deviceBytes, 48 << 20);
        assert.equal(r.layout.blockCount, 48 * 1024);
        const fs = Vexfs.open(loop);
        const f = fs.create(ROOT_INO, "on-a-block-device");
        fs.write(f, 0, new TextEncoder().encode("hello"));
        fs.close();
      });
      const again = Vexfs.open(img, { readOnly: true });
      assert.equal(
        new TextDecoder().decode(
          again.read(again.lookup(ROOT_INO, "on-a-block-device"), 0, 5),
        ),
        "hello",
      );
      again.close();
      const tiny = `${dir}/tiny.img`;
      run("truncate", ["-s", "32K", tiny]);
      await withLoop(tiny, (small) => {
        assert.equal(errOf(() => mkfs(small)).code, "ENOSPC");
      });
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test("computeLayout: regions are ordered and sized as FORMAT.md §2 says", () => {
  for (const bs of [1024, 2048, 4096, 65536]) {
    const l = computeLayout(256 << 20, { blockSize: bs });
    assert.equal(l.blockBitmapStart, bs === 1024 ? 2 : 1);
    assert.equal(l.inodeBitmapStart, l.blockBitmapStart + l.blockBitmapBlocks);
    assert.equal(l.inodeTableStart, l.inodeBitmapStart + l.inodeBitmapBlocks);
    assert.equal(l.firstDataBlock, l.inodeTableStart + l.inodeTableBlocks);
    assert.equal(l.blockBitmapBlocks, Math.ceil(l.blockCount / (8 * bs)));
    assert.equal(l.inodeTableBlocks, Math.ceil((l.inodeCount * 256) / bs));
    assert.equal(l.backupSuperblock, l.blockCount - 1);
  }
});

function have(tool: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `PATH=$PATH:/sbin:/usr/sbin command -v ${tool}`] }).outputSync()
      .success;
  } catch {
    return false;
  }
}

/**
 * Real images from the system's own tools, each named by libblkid (`blkid -p`):
 * mkfs must refuse each without force, byte-identical afterwards, and format it with force.
 * minix and cramfs are what VexFS's own probes do not know: only libblkid sees them.
 */
Deno.test("mkfs refuses every signature libblkid knows (minix, cramfs, ext4, xfs, btrfs, GPT, MBR, swap) and leaves it byte-identical; force formats it fsck-clean", () => {
  const dir = Deno.makeTempDirSync();
  const makers: [string, string, (img: string) => void][] = [
    ["minix", "mkfs.minix", (t) => run("mkfs.minix", [t])],
    ["cramfs", "mkfs.cramfs", (t) => {
      Deno.mkdirSync(`${dir}/cram`, { recursive: true });
      Deno.writeTextFileSync(`${dir}/cram/hello`, "hello\n");
      Deno.removeSync(t);
      run("mkfs.cramfs", [`${dir}/cram`, t]);
      run("truncate", ["-s", "16M", t]); // room for a VexFS
    }],
    ["ext4", "mkfs.ext4", (t) => run("mkfs.ext4", ["-q", t])],
    ["xfs", "mkfs.xfs", (t) => {
      run("truncate", ["-s", "300M", t]);
      run("mkfs.xfs", ["-q", "-f", t]);
    }],
    ["btrfs", "mkfs.btrfs", (t) => {
      run("truncate", ["-s", "128M", t]);
      run("mkfs.btrfs", ["-q", "-f", t]);
    }],
    ["gpt", "sfdisk", (t) => run("sfdisk", ["-q", t], "label: gpt\n,8M\n")],
    ["dos", "sfdisk", (t) => run("sfdisk", ["-q", t], "label: dos\n,8M\n")],
    ["swap", "mkswap", (t) => run("mkswap", [t])],
  ];
  try {
    assert.ok(blkidSignatures("/etc/hostname") !== undefined, "libblkid.so.1 loads (util-linux is installed)");
    for (const [type, tool, make] of makers) {
      if (!have(tool)) {
        console.warn(`${tool} not installed: ${type} refusal not tested`);
        continue;
      }
      const img = `${dir}/${type}.img`;
      run("truncate", ["-s", "16M", img]);
      make(img);
      assert.match(run("blkid", ["-p", img]), new RegExp(`(PT)?TYPE="${type}"`), `blkid -p names ${type}`);
      const before = sha(img);
      const size = Deno.statSync(img).size;
      const e = errOf(() => mkfs(img));
      assert.equal(e.code, "EEXIST", `${type}: ${e.message}`);
      assert.match(e.message, new RegExp(type === "dos" ? "MBR" : type), `${type} named: ${e.message}`);
      assert.match(e.message, /-F \(--force\)/);
      assert.equal(sha(img), before, `${type}: a refusal changes nothing`);
      // with a size too: still nothing grown or written
      assert.equal(errOf(() => mkfs(img, { size: size + (1 << 20) })).code, "EEXIST");
      assert.equal(sha(img), before, `${type}: a refusal with --size changes nothing`);
      assert.equal(Deno.statSync(img).size, size);
      const r = mkfs(img, { force: true });
      assert.ok(r.previous.some((s) => s.type === type), `${type} in previous: ${JSON.stringify(r.previous)}`);
      assert.equal(r.blkidMissing, "");
      assertFsckClean(img);
      assert.deepEqual(blkidSignatures(img), [], `${type}: no stale signature left for blkid after formatting`);
      Deno.removeSync(img);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
