/**
 * `vexfs stats` on a real FUSE mount (docs/MONITORING.md): the counters move
 * by exactly what was done — N creates are N create requests, a missing name
 * is a lookup counted under ENOENT, the bytes written and read are the
 * files' sizes, searches and vector changes are counted — through
 * `VEXFS_IOC_STATS` and the CLI's `--json`; `VEXFS_STATS=off` keeps the
 * request counters off; corruption met on the mount shows in `vexfs stats`
 * and `vexfs info` and is cleared by `vexfs fsck -y`.
 */
import assert from "node:assert/strict";
import { Vexfs } from "../fs/fs.ts";
import { assertFsckClean } from "../fs/_testutil.ts";
import { fsck } from "../fsck/fsck.ts";
import { INODE_SIZE, ROOT_INO } from "../format/constants.ts";
import { decodeSuperblock } from "../format/superblock.ts";
import { mountImage, mountTest, unmount, withMount } from "../mount/_testutil.ts";
import { vexfsArgv } from "../mount/self.ts";
import { createCollection, deleteVector, fsInfo, search, setVector } from "../ioctl/client.ts";
import { mountStats } from "../ioctl/client_admin.ts";
import { getxattr, setxattr } from "../mount/_posix.ts";
import type { StatsReport } from "./report.ts";

const dec = new TextDecoder();

function op(r: StatsReport, name: string) {
  return r.ops.find((o) => o.name === name) ?? { requests: 0, errors: 0, maxNs: 0, p50Ns: 0, p99Ns: 0 };
}

function errnoCount(r: StatsReport, opName: string, errno: number): number {
  return r.opErrnos.find((e) => e.name === opName && e.errno === errno)?.count ?? 0;
}

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const [exe, ...rest] = vexfsArgv(args);
  const o = await new Deno.Command(exe, { args: rest, stdout: "piped", stderr: "piped" }).output();
  return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

Deno.test({
  name: "stats on a mount: creates, ENOENT lookups, bytes written and read, searches and vectors counted exactly",
  ...mountTest,
  fn: async () => {
    const N = 25;
    const sizes = Array.from({ length: N }, (_, i) => 1000 + 37 * i);
    const img = await withMount({ keepImage: true }, async (mnt, img) => {
      const s0 = await mountStats(mnt);
      assert.equal(s0.requestsCounted, true);
      assert.equal(op(s0, "create").requests, 0);
      Deno.mkdirSync(`${mnt}/docs`);
      for (let i = 0; i < N; i++) Deno.writeFileSync(`${mnt}/docs/f${i}`, new Uint8Array(sizes[i]).fill(i));
      const sMid = await mountStats(mnt);
      for (let i = 0; i < 7; i++) assert.throws(() => Deno.statSync(`${mnt}/docs/missing${i}`), Deno.errors.NotFound);
      const s1 = await mountStats(mnt);
      assert.equal(op(s1, "create").requests, N, "N files created: N create requests");
      assert.equal(op(s1, "create").errors, 0);
      assert.equal(op(s1, "mkdir").requests, 1);
      assert.equal(s1.bytesWritten, sizes.reduce((a, b) => a + b, 0), "bytes written = the files' sizes");
      // (each create's lookup of the new name was a miss too)
      assert.ok(errnoCount(sMid, "lookup", 2) >= N, "the lookups before the creates");
      assert.equal(errnoCount(s1, "lookup", 2) - errnoCount(sMid, "lookup", 2), 7, "7 missing names: 7 ENOENT lookups");
      assert.ok(op(s1, "lookup").errors >= 7);
      assert.ok((s1.errnos.find((e) => e.errno === 2)?.count ?? 0) >= 7);
      assert.equal(s1.errors, s1.ops.reduce((a, o) => a + o.errors, 0));
      assert.equal(s1.requests, s1.ops.reduce((a, o) => a + o.requests, 0));
      const c = op(s1, "create");
      assert.ok(c.maxNs > 0 && c.p50Ns > 0 && c.p50Ns <= c.maxNs && c.p99Ns <= c.maxNs, JSON.stringify(c));
      assert.ok(s1.uptimeNs > s0.uptimeNs);
      assert.ok(s1.inodeCacheHits + s1.inodeCacheMisses > 0 && s1.blockCacheHits + s1.blockCacheMisses > 0);

      // vectors and searches
      await createCollection(`${mnt}/docs`, { dim: 4, metric: "l2", elem: "f32", index: "flat" });
      for (let i = 0; i < 10; i++) await setVector(`${mnt}/docs/f${i}`, new Float32Array([i, 1, 2, 3]));
      assert.equal(await deleteVector(`${mnt}/docs/f9`), true);
      for (let i = 0; i < 3; i++) await search(`${mnt}/docs`, new Float32Array([1, 1, 2, 3]), 3);
      const f = Deno.openSync(`${mnt}/docs`);
      f.syncSync();
      f.close();
      const s2 = await mountStats(mnt);
      assert.equal(s2.vectorsSet - s1.vectorsSet, 10);
      assert.equal(s2.vectorsDeleted - s1.vectorsDeleted, 1);
      assert.equal(s2.searches - s1.searches, 3);
      assert.ok(s2.searchMaxNs > 0 && s2.searchP50Ns <= s2.searchMaxNs);
      assert.ok(s2.journalCommits > s0.journalCommits && s2.journalBlocks >= s2.journalCommits, "fsync commits");

      // xattrs that outgrow one block live in a shared store (FORMAT.md §7.2), whose decoded entries the engine keeps
      for (let i = 0; i < 12; i++) setxattr(`${mnt}/docs/f0`, `user.big${i}`, "x".repeat(1000));
      const sx = await mountStats(mnt);
      for (let i = 0; i < 12; i++) assert.equal(getxattr(`${mnt}/docs/f0`, `user.big${i}`).length, 1000);
      const sy = await mountStats(mnt);
      assert.ok(sx.xattrCacheMisses + sx.xattrCacheHits > 0, "the store was loaded");
      assert.ok(sy.xattrCacheHits - sx.xattrCacheHits >= 12, "reading its values again: from the decoded entries");
      assert.ok(op(s2, "ioctl").requests >= 15);

      // the CLI's --json: the same figures under the documented names
      const j = await cli("stats", "--json", mnt);
      assert.equal(j.code, 0, j.err);
      const js = JSON.parse(j.out);
      assert.equal(js.schema_version, 1);
      assert.equal(js.command, "stats");
      assert.equal(js.written_bytes, s1.bytesWritten);
      assert.equal(js.operations.find((o: { op: string }) => o.op === "create").requests, N);
      assert.ok(
        js.errors_by_op.some((e: { op: string; errno_name: string }) => e.op === "lookup" && e.errno_name === "ENOENT"),
      );
      assert.equal(js.vectors.set, s2.vectorsSet);
      assert.deepEqual([js.filesystem.errors_behaviour, js.filesystem.error_record], ["continue", null]);
      assert.ok(["clean", "dirty"].includes(js.filesystem.state), js.filesystem.state);
      const t = await cli("stats", mnt);
      assert.equal(t.code, 0, t.err);
      assert.match(t.out, /create\s*│\s*25\s*│/);
      assert.match(t.out, /ENOENT/);
      return img;
    });
    // A fresh mount starts from zero and reads come from the daemon (no page cache yet).
    await withMount({ image: img }, async (mnt) => {
      const s0 = await mountStats(mnt);
      assert.equal(op(s0, "create").requests, 0, "counters run from the mount");
      for (let i = 0; i < N; i++) assert.equal(Deno.readFileSync(`${mnt}/docs/f${i}`).length, sizes[i]);
      const s1 = await mountStats(mnt);
      assert.equal(s1.bytesRead, sizes.reduce((a, b) => a + b, 0), "bytes read = the files' sizes");
    });
    Deno.removeSync(img);
  },
});

Deno.test({
  name: "stats with VEXFS_STATS=off: no request counters, the engine's still there",
  ...mountTest,
  fn: async () => {
    Deno.env.set("VEXFS_STATS", "off");
    try {
      await withMount({}, async (mnt) => {
        Deno.writeTextFileSync(`${mnt}/a`, "hello");
        const s = await mountStats(mnt);
        assert.equal(s.requestsCounted, false);
        assert.equal(s.requests, 0);
        assert.equal(s.ops.length, 0);
        assert.ok(s.inodeCacheHits + s.inodeCacheMisses > 0);
        const t = await cli("stats", mnt);
        assert.match(t.out, /not counted/);
      });
    } finally {
      Deno.env.delete("VEXFS_STATS");
    }
  },
});

Deno.test({
  name: "corruption met on a mount: counted under EUCLEAN, shown by stats and info, cleared by fsck -y",
  ...mountTest,
  fn: async () => {
    const img = await withMount({ keepImage: true, size: 64 << 20 }, (mnt, img) => {
      for (let i = 0; i < 5; i++) Deno.writeTextFileSync(`${mnt}/f${i}`, `file ${i}\n`);
      return img;
    });
    const fs = Vexfs.open(img, { readOnly: true });
    const victim = fs.find(ROOT_INO, "f3");
    fs.close();
    const bytes = Deno.readFileSync(img);
    const sb = decodeSuperblock(bytes.subarray(1024, 2048));
    const f = Deno.openSync(img, { write: true });
    const at = sb.inodeTableStart * 4096 + (victim - 1) * INODE_SIZE + 16;
    f.seekSync(at, Deno.SeekMode.Start);
    f.writeSync(new Uint8Array([bytes[at] ^ 0xff]));
    f.close();
    const d = await mountImage({ image: img });
    try {
      assert.throws(() => Deno.statSync(`${d.mnt}/f3`));
      const s = await mountStats(d.mnt);
      assert.ok(s.errorCount >= 1, JSON.stringify(s.lastError));
      assert.equal(s.fsState, 3);
      assert.equal(s.firstError.errno, 117);
      assert.equal(s.firstError.ino, victim);
      assert.ok(s.firstError.time > 0 && s.firstError.op.length > 0);
      assert.ok(errnoCount(s, "lookup", 117) >= 1, JSON.stringify(s.opErrnos));
      const i = await cli("info", d.mnt);
      assert.equal(i.code, 0, i.err);
      assert.match(i.out, /errors seen/);
      assert.match(i.out, new RegExp(`inode ${victim}`));
      const ij = JSON.parse((await cli("info", "--json", d.mnt)).out);
      assert.equal(ij.mount.error_record.first.ino, victim);
      assert.equal(ij.mount.state, "errors");
    } finally {
      await unmount(d);
    }
    const r = fsck(img, { yes: true });
    assert.ok(r.exitCode <= 1, `fsck -y: ${r.exitCode}`);
    const after = decodeSuperblock(Deno.readFileSync(img).subarray(1024, 2048));
    assert.equal(after.errorCount ?? 0, 0, "fsck -y clears the error record");
    assertFsckClean(img);
    Deno.removeSync(img);
  },
});

Deno.test({
  name: "stats across remounts: the engine reopened read-only and read-write again keeps counting from the mount",
  ...mountTest,
  fn: async () => {
    await withMount({}, async (mnt) => {
      Deno.mkdirSync(`${mnt}/c`);
      await createCollection(`${mnt}/c`, { dim: 2, metric: "l2", elem: "f32", index: "flat" });
      for (let i = 0; i < 3; i++) {
        Deno.writeTextFileSync(`${mnt}/c/f${i}`, "x");
        await setVector(`${mnt}/c/f${i}`, new Float32Array([i, 1]));
      }
      const s1 = await mountStats(mnt);
      const remount = async (how: "ro" | "rw") => {
        const r = await cli("mount", "-o", `remount,${how}`, mnt);
        assert.equal(r.code, 0, r.err);
        for (let t = 0; t < 200 && (await fsInfo(mnt))!.readOnly !== (how === "ro"); t++) {
          await new Promise((res) => setTimeout(res, 50));
        }
        assert.equal((await fsInfo(mnt))!.readOnly, how === "ro", `the daemon follows remount,${how}`);
      };
      await remount("ro");
      const s2 = await mountStats(mnt);
      assert.equal(s2.vectorsSet, s1.vectorsSet, "the vectors set before the remount stay counted");
      assert.ok(s2.journalCommits >= s1.journalCommits && s2.inodeCacheHits >= s1.inodeCacheHits);
      assert.equal(op(s2, "create").requests, 3);
      await remount("rw");
      await setVector(`${mnt}/c/f0`, new Float32Array([5, 5]));
      const s3 = await mountStats(mnt);
      assert.equal(s3.vectorsSet, s1.vectorsSet + 1);
      assert.ok(s3.journalCommits >= s2.journalCommits);
    });
  },
});
