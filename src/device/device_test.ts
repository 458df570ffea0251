import { Device } from "./device.ts";
import {
  assert,
  assertEquals,
  CAN_LOOP,
  expectFsError,
  loopSkipReason,
  run,
  sparseFile,
  withLoop,
  withMount,
  withTempDir,
} from "./_testutil.ts";
import { deviceSummary, mountedState } from "./probe.ts";

const GiB = 2 ** 30;
const enc = new TextEncoder();

if (!CAN_LOOP) {
  console.warn(`device_test: loop-device tests skipped: ${loopSkipReason()}`);
}

Deno.test("Device.create makes a sparse image; grows, never shrinks, keeps data", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/a.img`;
    const d = Device.create(path, 8 * GiB);
    try {
      assertEquals(d.kind, "file");
      assertEquals(d.size, 8 * GiB);
      assertEquals(d.readOnly, false);
      assertEquals(d.sectorSize, 512);
      d.write(4096, enc.encode("keep me"));
      d.sync();
    } finally {
      d.close();
    }
    const st = Deno.statSync(path);
    assertEquals(st.size, 8 * GiB);
    assert((st.blocks ?? 0) * 512 < 1 << 20, `not sparse: ${st.blocks} blocks`);

    Device.create(path, 1 * GiB).close(); // smaller: no shrink
    assertEquals(Deno.statSync(path).size, 8 * GiB);
    const g = Device.create(path, 9 * GiB); // larger: grows
    try {
      assertEquals(g.size, 9 * GiB);
      const b = new Uint8Array(7);
      g.read(4096, b);
      assertEquals(new TextDecoder().decode(b), "keep me");
    } finally {
      g.close();
    }
    expectFsError(() => Device.create(path, -1), "EINVAL");
    expectFsError(() => Device.create(dir, 4096), "EINVAL");
  });
});

Deno.test("Device: read/write at offsets beyond 4 GiB and range checks", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/big.img`;
    const d = Device.create(path, 6 * GiB + 4096);
    try {
      const data = new Uint8Array(3 * 4096 + 17).map((_, i) => (i * 7 + 3) & 0xff);
      const off = 5 * GiB + 511; // unaligned, straddles pages
      d.write(off, data);
      const back = new Uint8Array(data.length);
      d.read(off, back);
      assertEquals(back, data);
      // A hole reads as zeros.
      const hole = new Uint8Array(4096).fill(0xaa);
      d.read(4 * GiB + 8192, hole);
      assert(hole.every((x) => x === 0));
      // The very last byte is reachable; one more is not.
      d.write(d.size - 1, new Uint8Array([0x5a]));
      expectFsError(() => d.write(d.size - 1, new Uint8Array(2)), "ENOSPC");
      expectFsError(() => d.read(d.size - 1, new Uint8Array(2)), "EIO");
      expectFsError(() => d.read(-1, new Uint8Array(1)), "EINVAL");
      expectFsError(() => d.read(0.5, new Uint8Array(1)), "EINVAL");
      d.read(d.size, new Uint8Array(0)); // empty read at the end is fine
    } finally {
      d.close();
    }
    // Data went to the file at the same byte offsets.
    const f = Deno.openSync(path);
    try {
      f.seekSync(5 * GiB + 511, Deno.SeekMode.Start);
      const b = new Uint8Array(4);
      f.readSync(b);
      assertEquals(b, new Uint8Array([3, 10, 17, 24]));
    } finally {
      f.close();
    }
  });
});

Deno.test("Device: read-only open refuses writes with EROFS", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/ro.img`;
    const w = Device.create(path, 1 << 20);
    w.write(100, enc.encode("hello"));
    w.close();
    const r = Device.open(path, { readOnly: true });
    try {
      assertEquals(r.readOnly, true);
      const b = new Uint8Array(5);
      r.read(100, b);
      assertEquals(new TextDecoder().decode(b), "hello");
      const e = expectFsError(() => r.write(0, new Uint8Array(1)), "EROFS");
      assert(e.message.includes(path));
    } finally {
      r.close();
    }
  });
});

Deno.test("Device: image file locks (one writer, shared readers), close idempotent", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/lock.img`;
    Device.create(path, 1 << 20).close();
    const w = Device.open(path);
    try {
      const e = expectFsError(() => Device.open(path), "EBUSY");
      assert(
        e.message.includes(`${path} is in use by another process (mounted?)`),
        e.message,
      );
      expectFsError(() => Device.open(path, { readOnly: true }), "EBUSY");
      expectFsError(() => Device.create(path, 1 << 20), "EBUSY");
      // Inspection without a lock still works.
      const peek = Device.open(path, { readOnly: true, lock: false });
      peek.close();
      assert(mountedState(path).busy, "a held lock shows as busy");
      assertEquals(mountedState(path).mounted, false);
    } finally {
      w.close();
    }
    w.close(); // idempotent
    expectFsError(() => w.read(0, new Uint8Array(1)), "EBADF");
    assertEquals(mountedState(path).busy, false);
    const r1 = Device.open(path, { readOnly: true });
    const r2 = Device.open(path, { readOnly: true });
    try {
      expectFsError(() => Device.open(path), "EBUSY");
      expectFsError(
        () => Device.open(path, { readOnly: true, exclusive: true }),
        "EBUSY",
      );
    } finally {
      r1.close();
      r2.close();
    }
    expectFsError(() => Device.open(path, { lock: false }), "EINVAL");
  });
});

Deno.test("Device.open: missing path, directory, character device", async () => {
  await withTempDir((dir) => {
    expectFsError(() => Device.open(`${dir}/nope`), "ENOENT");
    expectFsError(() => Device.open(dir), "EISDIR");
    expectFsError(() => Device.open("/dev/null", { readOnly: true }), "EINVAL");
  });
});

Deno.test({
  name: "Device on a loop device: kernel size, sector size, O_EXCL, data reaches the image",
  ignore: !CAN_LOOP,
  fn: async () => {
    await withTempDir(async (dir) => {
      const img = `${dir}/loop.img`;
      const size = 64 * 2 ** 20 + 3 * 512; // not a power of two
      sparseFile(img, size);
      await withLoop(img, (loop) => {
        const d = Device.open(loop);
        try {
          assertEquals(d.kind, "block");
          assertEquals(d.size, size);
          assertEquals(d.sectorSize, 512);
          expectFsError(() => Device.open(loop), "EBUSY");
          // A non-exclusive read-only open is still allowed.
          const r = Device.open(loop, { readOnly: true });
          assertEquals(r.size, size);
          r.close();
          d.write(5 * 2 ** 20, enc.encode("via loop"));
          d.sync();
          expectFsError(() => d.write(size - 2, new Uint8Array(4)), "ENOSPC");
          assert(mountedState(loop).busy, "O_EXCL claim shows as busy");
          assertEquals(mountedState(loop).mounted, false);
        } finally {
          d.close();
        }
        assertEquals(mountedState(loop).busy, false);
        const f = Device.open(img, { readOnly: true, lock: false });
        try {
          const b = new Uint8Array(8);
          f.read(5 * 2 ** 20, b);
          assertEquals(new TextDecoder().decode(b), "via loop");
        } finally {
          f.close();
        }
      });
      // 4096-byte logical sectors come from BLKSSZGET.
      await withLoop(img, (loop) => {
        const d = Device.open(loop, { readOnly: true });
        try {
          assertEquals(d.sectorSize, 4096);
          assertEquals(d.size, size);
        } finally {
          d.close();
        }
      }, ["--sector-size", "4096"]);
    });
  },
});

Deno.test({
  name: "Device on a mounted loop device: EBUSY, reported mounted (device and image)",
  ignore: !CAN_LOOP,
  fn: async () => {
    await withTempDir(async (dir) => {
      const img = `${dir}/ext4.img`;
      const mnt = `${dir}/mnt point`; // a space, escaped as \040 in mountinfo
      Deno.mkdirSync(mnt);
      sparseFile(img, 32 * 2 ** 20);
      await withLoop(img, async (loop) => {
        run("mkfs.ext4", ["-q", "-F", "-E", "nodiscard", "-L", "busy", loop]);
        await withMount([], loop, mnt, () => {
          const e = expectFsError(() => Device.open(loop), "EBUSY");
          assertEquals(
            e.message,
            `EBUSY: ${loop} is in use by another process (mounted?)`,
          );
          const s = mountedState(loop);
          assertEquals(s.mounted, true);
          assertEquals(s.where, mnt);
          assertEquals(s.how, "ext4");
          const i = mountedState(img);
          assertEquals(i.mounted, true);
          assertEquals(i.where, mnt);
          assertEquals(i.how, `ext4 via ${loop}`);
          assert(
            i.users.some((u) => u.includes(`backs loop device ${loop}`)),
            i.users.join("; "),
          );
          // Inspection of a mounted device still works.
          const sum = deviceSummary(loop);
          assertEquals(sum.signatures.map((x) => x.type), ["ext4"]);
          assertEquals(sum.signatures[0].label, "busy");
          assert(sum.mount.mounted);
        });
        assertEquals(mountedState(loop).mounted, false);
        Device.open(loop).close(); // free again after umount
      });
    });
  },
});
