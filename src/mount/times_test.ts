/**
 * Timestamps through a real `vexfs mount` (FUSE): the engine stamps inodes
 * from one clock (the kernel's CLOCK_REALTIME), so a change never gets a
 * ctime earlier than the mtime stamped before it, and the times of one
 * inode never run backwards.
 * @module
 */
import { assert, assertEquals } from "../test_assert.ts";
import * as P from "./_posix.ts";
import { mountTest, withMount } from "./_testutil.ts";

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
