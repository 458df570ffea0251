import * as libc from "./libc.ts";
import { assert, assertEquals, expectFsError as fsError, sparseFile, withTempDir } from "./_testutil.ts";

Deno.test("libc: open of a missing path is ENOENT naming call and path", () => {
  const e = fsError(
    () => libc.open("/nonexistent/vexfs-x", libc.O_RDONLY | libc.O_CLOEXEC),
    "ENOENT",
  );
  assert(e.message.includes("open /nonexistent/vexfs-x"), e.message);
  assertEquals(e.errno, 2);
});

Deno.test("libc: errno names map from src/errors.ts; unknown numbers become EIO", () => {
  assertEquals(libc.errnoName(16), "EBUSY");
  assertEquals(libc.errnoName(95), "ENOTSUP");
  assertEquals(libc.errnoName(25), "ENOTTY");
  assertEquals(libc.errnoName(10), undefined);
  const e = libc.errnoError(10, "waitpid", "/x");
  assertEquals(e.code, "EIO");
  assert(e.message.includes("10") && e.message.includes("ECHILD"), e.message);
});

Deno.test("libc: pread/pwrite beyond 4 GiB, short read at EOF, ioctl on a file", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/f`;
    sparseFile(path, 6 * 2 ** 30);
    const fd = libc.open(path, libc.O_RDWR | libc.O_CLOEXEC);
    try {
      const data = new TextEncoder().encode("beyond four gibibytes");
      const off = 5 * 2 ** 30 + 12345;
      libc.pwrite(fd, data, off, path);
      const back = new Uint8Array(data.length);
      assertEquals(libc.pread(fd, back, off, path), data.length);
      assertEquals(back, data);
      // A view with a byte offset is read into at its own offset.
      const big = new Uint8Array(40);
      assertEquals(libc.pread(fd, big.subarray(10, 31), off, path), 21);
      assertEquals(big.subarray(10, 31), data);
      assertEquals(big[9], 0);
      // Short read at end of file.
      const tail = new Uint8Array(100);
      assertEquals(libc.pread(fd, tail, 6 * 2 ** 30 - 10, path), 10);
      libc.fdatasync(fd, path);
      libc.fsync(fd, path);
      libc.ftruncate(fd, 7 * 2 ** 30, path);
      assertEquals(Deno.statSync(path).size, 7 * 2 ** 30);
      // BLKGETSIZE64 on a regular file: ENOTTY.
      fsError(() => libc.blockDeviceSize(fd, path), "ENOTTY");
      // The generic ioctl: FIGETBSZ (_IO(0x00, 2)) gives the block size.
      const bsz = new Uint8Array(4);
      libc.ioctl(fd, 2, bsz, path);
      assert(new DataView(bsz.buffer).getInt32(0, true) >= 512);
      fsError(() => libc.pread(fd, tail, -1, path), "EINVAL");
    } finally {
      libc.close(fd, path);
    }
    fsError(() => libc.close(fd, path), "EBADF");
  });
});

Deno.test("libc: flock conflicts between open file descriptions", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/f`;
    sparseFile(path, 4096);
    const a = libc.open(path, libc.O_RDWR | libc.O_CLOEXEC);
    const b = libc.open(path, libc.O_RDONLY | libc.O_CLOEXEC);
    try {
      assert(libc.flock(a, libc.LOCK_SH | libc.LOCK_NB));
      assert(libc.flock(b, libc.LOCK_SH | libc.LOCK_NB));
      assert(!libc.flock(a, libc.LOCK_EX | libc.LOCK_NB));
      assert(libc.flock(b, libc.LOCK_UN));
      assert(libc.flock(a, libc.LOCK_EX | libc.LOCK_NB));
      assert(!libc.flock(b, libc.LOCK_SH | libc.LOCK_NB));
    } finally {
      libc.close(a);
      libc.close(b);
    }
  });
});

Deno.test("libc: O_CREAT|O_EXCL on an existing file is EEXIST", async () => {
  await withTempDir((dir) => {
    const path = `${dir}/f`;
    libc.close(libc.open(path, libc.O_RDWR | libc.O_CREAT | libc.O_CLOEXEC));
    fsError(
      () => libc.open(path, libc.O_RDWR | libc.O_CREAT | libc.O_EXCL),
      "EEXIST",
    );
  });
});

Deno.test("libc: clockRealtime is the wall clock with nanoseconds and does not run backwards", () => {
  const a = libc.clockRealtime();
  assert(a !== undefined, "FFI is granted in tests");
  assert(Math.abs(a.sec * 1000 + a.nsec / 1e6 - Date.now()) < 1000, `${JSON.stringify(a)} vs ${Date.now()}`);
  assert(Number.isInteger(a.nsec) && a.nsec >= 0 && a.nsec < 1e9);
  let prev = a;
  for (let i = 0; i < 10_000; i++) {
    const t = libc.clockRealtime()!;
    assert(
      t.sec > prev.sec || (t.sec === prev.sec && t.nsec >= prev.nsec),
      `${JSON.stringify(prev)} → ${JSON.stringify(t)}`,
    );
    prev = t;
  }
});
