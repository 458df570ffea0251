/**
 * Timestamps through a real `vexfs mount` (FUSE): the engine stamps inodes
 * from one clock (the kernel's CLOCK_REALTIME), so a change never gets a
 * ctime earlier than the mtime stamped before it, and the times of one
 * inode never run backwards. Times far beyond 2^53 seconds are kept exactly
 * (the format's s64 seconds, docs/FORMAT.md §4), where ext4 clamps them.
 * @module
 */
import { assert, assertEquals } from "../test_assert.ts";
import * as P from "./_posix.ts";
import { mountTest, withExt4, withMount } from "./_testutil.ts";

const enc = new TextEncoder();

Deno.test({
  name: "times: create then chmod never gives ctime < mtime, and an inode's times never run backwards",
  ...mountTest,
  fn: () =>
    withMount({}, (mnt) => {
      const bad: string[] = [];
      for (let i = 0; i < 200; i++) {
        const p = `${mnt}/dev${i}`;
        P.mknod(p, P.S_IFCHR | 0o644, P.makedev(1, 3));
        const a = P.lstat(p);
        P.chmod(p, 0o600);
        const b = P.lstat(p);
        if (b.ctimeNs < b.mtimeNs) bad.push(`${p}: ctime ${b.ctimeNs} < mtime ${b.mtimeNs}`);
        if (b.ctimeNs < a.ctimeNs) bad.push(`${p}: ctime ran back ${a.ctimeNs} → ${b.ctimeNs}`);
      }
      const f = `${mnt}/file`;
      const fd = P.open(f, P.O_CREAT | P.O_WRONLY, 0o644);
      try {
        let prev = P.fstat(fd);
        for (let i = 0; i < 200; i++) {
          P.pwrite(fd, enc.encode(`x${i}`), i);
          const w = P.fstat(fd);
          P.utimensat(f, null); // both to "now"
          const u = P.fstat(fd);
          for (const [what, s] of [["write", w], ["utimens", u]] as const) {
            if (s.ctimeNs < s.mtimeNs) bad.push(`${what} ${i}: ctime ${s.ctimeNs} < mtime ${s.mtimeNs}`);
            if (s.ctimeNs < prev.ctimeNs) bad.push(`${what} ${i}: ctime ran back ${prev.ctimeNs} → ${s.ctimeNs}`);
            if (s.mtimeNs < prev.mtimeNs) bad.push(`${what} ${i}: mtime ran back ${prev.mtimeNs} → ${s.mtimeNs}`);
            prev = s;
          }
          assert(u.mtimeNs >= w.mtimeNs, `utimens ${i}: mtime ${u.mtimeNs} before the write's ${w.mtimeNs}`);
        }
      } finally {
        P.close(fd);
      }
      assertEquals(bad, []);
    }),
});

/** The year 2147483647's last second: above 2^53, within s64. */
const FAR = 67767976233532799n;
const NS = 1_000_000_000n;

/** Sets `f`'s atime and mtime with touch(1) to `@sec`; returns [atime, mtime] seconds and nanoseconds read back. */
function touchAt(f: string, sec: bigint): string[] {
  const o = new Deno.Command("touch", { args: ["-d", `@${sec}`, f], stderr: "piped" }).outputSync();
  if (!o.success) return [`touch failed: ${new TextDecoder().decode(o.stderr).trim()}`];
  const st = P.stat(f);
  return [st.atimeNs, st.mtimeNs].map((t) => `${t / NS}.${t % NS}`);
}

Deno.test({
  name:
    "times: seconds beyond 2^53 (the year 2147483647) are kept exactly through the mount and a remount; ext4 clamps",
  ...mountTest,
  fn: async () => {
    const cases = [FAR, -FAR, (1n << 53n) + 1n, (1n << 62n) + 12345n];
    const ext4 = await withExt4((dir, kind) => [kind, ...cases.map((c) => touchAt(`${dir}/f`, c)[1])]);
    const img = await withMount({ size: 64 << 20, keepImage: true }, (mnt, img) => {
      for (const [i, c] of cases.entries()) {
        P.close(P.open(`${mnt}/f${i}`, P.O_CREAT | P.O_WRONLY, 0o644));
        assertEquals(touchAt(`${mnt}/f${i}`, c), [`${c}.0`, `${c}.0`], `touch -d @${c} (ext4: ${ext4.join(", ")})`);
      }
      return img;
    });
    try {
      // written to the image and read back by a new daemon: the inode field holds the exact s64
      await withMount({ image: img }, (mnt) => {
        for (const [i, c] of cases.entries()) {
          const st = P.stat(`${mnt}/f${i}`);
          assertEquals([st.atimeNs, st.mtimeNs], [c * NS, c * NS], `after remount, f${i}`);
        }
      });
    } finally {
      Deno.removeSync(img);
    }
    // ext4 clamps what does not fit its range (to 2446 on this layout); VexFS keeps the value
    if (ext4[0] === "ext4") assert(ext4[1] !== `${FAR}.0`, `ext4 kept ${ext4[1]}`);
  },
});
