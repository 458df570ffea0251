/**
 * Export support (src/mount/export.ts): file handles of a VexFS mount made
 * by `name_to_handle_at(2)` open with `open_by_handle_at(2)` after the
 * kernel has dropped its caches (`echo 2 > /proc/sys/vm/drop_caches`) and
 * after an unmount and a new mount of the same image; a handle of a deleted
 * file or directory is stale (ESTALE), also when its inode number now
 * belongs to a new file; directory handles reconnect to the tree (their
 * path, "..").
 *
 * The same scenario runs on ext4 on a loop device and every outcome must
 * agree (differential). VexFS alone: the decoding after a cache drop really
 * reached the daemon (the `debug` log shows the LOOKUP of the handle's node
 * id), handles made by hand for reserved, internal, free or out-of-range
 * inode numbers and with a wrong generation are refused with ESTALE and
 * change nothing, and the engine-level rules of {@linkcode exportLookup}.
 * @module
 */
import assert from "node:assert/strict";
import { hasTool, run } from "../device/_testutil.ts";
import { FsError } from "../errors.ts";
import { COLL_TABLE_INO, FIRST_INO, IFL_INTERNAL, JOURNAL_INO, ROOT_INO } from "../format/constants.ts";
import { assertFsckClean, code, tmpImage } from "../fs/_testutil.ts";
import { Vexfs } from "../fs/fs.ts";
import { type FileHandle, fuseHandle, fuseHandleFields, nameToHandle, openat, openByHandle } from "./_handles.ts";
import * as P from "./_posix.ts";
import { type Daemon, mountImage, mountTest, unmount } from "./_testutil.ts";
import { exportLookup } from "./export.ts";
import { vexfsArgv } from "./self.ts";

const DROP_CACHES = "/proc/sys/vm/drop_caches";

/** Whether this process may drop the kernel's dentry and inode caches. */
const CAN_DROP = (() => {
  try {
    Deno.openSync(DROP_CACHES, { write: true }).close();
    return true;
  } catch {
    return false;
  }
})();

/** Evicts every unused dentry and inode of every filesystem (FUSE sends FORGET for its inodes). */
function dropCaches(): void {
  Deno.writeTextFileSync(DROP_CACHES, "2");
}

const dec = new TextDecoder();

/** A filesystem under test that can be unmounted and mounted again. */
interface Target {
  /** its current mount point */
  mnt(): string;
  /** unmounts and mounts the same filesystem again (no descriptor may be open) */
  remount(): Promise<void>;
}

/** Runs `f` with a descriptor of the mount's root as `mount_fd`, closing it after. */
function withRoot<T>(mnt: string, f: (fd: number) => T): T {
  const fd = P.open(mnt, P.O_RDONLY | P.O_DIRECTORY);
  try {
    return f(fd);
  } finally {
    P.close(fd);
  }
}

/** `"ok:<contents>"` of the file a handle names, or the errno name. */
function readByHandle(mnt: string, h: FileHandle): string {
  return withRoot(mnt, (root) => {
    const r = P.tryCall(() => {
      const fd = openByHandle(root, h, P.O_RDONLY);
      try {
        return dec.decode(P.readAll(fd));
      } finally {
        P.close(fd);
      }
    });
    return r.code === "ok" ? `ok:${r.value!.slice(0, 40)}` : r.code; // short: a wrong answer may be a whole journal
  });
}

/** "ok" or the errno name of opening a directory handle. */
function openDirByHandle(mnt: string, h: FileHandle): string {
  return withRoot(mnt, (root) => P.res(() => P.close(openByHandle(root, h, P.O_RDONLY | P.O_DIRECTORY))));
}

/**
 * What a directory handle gives: its path relative to the mount (the kernel
 * reconnects it through ".." and the parent's listing), its listing, and
 * whether ".." through it is the expected parent.
 */
function dirByHandle(mnt: string, h: FileHandle, parentIno: bigint): string {
  return withRoot(mnt, (root) => {
    const fd = openByHandle(root, h, P.O_RDONLY | P.O_DIRECTORY);
    try {
      const path = Deno.readLinkSync(`/proc/self/fd/${fd}`);
      const names: string[] = [];
      for (let part = P.getdents(fd); part.length; part = P.getdents(fd)) {
        names.push(...part.map((e) => e.name).filter((n) => n !== "lost+found")); // ext4's, not VexFS's
      }
      const up = openat(fd, "..", P.O_RDONLY | P.O_DIRECTORY);
      const upIno = P.fstat(up).ino;
      P.close(up);
      return `${path.slice(mnt.length) || "/"} [${names.sort().join(",")}] ..${
        upIno === parentIno ? "=parent" : "≠parent"
      }`;
    } finally {
      P.close(fd);
    }
  });
}

/**
 * The scenario both filesystems run: handles made, caches dropped, links
 * removed, files deleted, the filesystem remounted, an inode number reused.
 * @returns outcome of each step by name
 */
async function scenario(t: Target): Promise<Record<string, string>> {
  const r: Record<string, string> = {};
  let m = t.mnt();
  Deno.writeTextFileSync(`${m}/f`, "file f");
  Deno.linkSync(`${m}/f`, `${m}/f2`);
  Deno.mkdirSync(`${m}/d/sub`, { recursive: true });
  Deno.writeTextFileSync(`${m}/d/sub/g`, "file g");
  Deno.mkdirSync(`${m}/d2`);
  Deno.writeTextFileSync(`${m}/v`, "victim");
  Deno.mkdirSync(`${m}/rd`);
  const h = Object.fromEntries(
    ["f", "d", "d/sub", "d/sub/g", "d2", "v", "rd", "."].map((p) => [p, nameToHandle(`${m}/${p}`).handle]),
  );
  const ino = (p: string) => P.stat(`${m}/${p}`).ino;
  const inoD = ino("d"), inoV = ino("v");

  const checks = (label: string) => {
    r[`${label}: f`] = readByHandle(m, h.f);
    r[`${label}: g`] = readByHandle(m, h["d/sub/g"]);
    r[`${label}: sub`] = dirByHandle(m, h["d/sub"], inoD);
    // ".." of a mount's root is the directory the mount point is in
    r[`${label}: root`] = dirByHandle(m, h["."], P.stat(`${m}/..`).ino);
    // any descriptor of the mount serves as mount_fd, not only its root
    const sub = P.open(`${m}/d/sub`, P.O_RDONLY | P.O_DIRECTORY);
    try {
      const fd = openByHandle(sub, h.f, P.O_WRONLY | P.O_APPEND);
      P.write(fd, new TextEncoder().encode("+"));
      P.close(fd);
    } finally {
      P.close(sub);
    }
    r[`${label}: f appended through its handle`] = Deno.readTextFileSync(`${m}/f`);
  };

  r["cached: f"] = readByHandle(m, h.f);
  dropCaches();
  checks("after drop_caches");

  Deno.removeSync(`${m}/f2`);
  dropCaches();
  r["f after its other link is removed"] = readByHandle(m, h.f);

  Deno.removeSync(`${m}/v`);
  Deno.removeSync(`${m}/rd`);
  dropCaches();
  r["deleted file"] = readByHandle(m, h.v);
  r["removed directory"] = openDirByHandle(m, h.rd);

  // A directory opened through its handle (after the drop: decoded afresh), removed while open.
  dropCaches();
  withRoot(m, (root) => {
    const fd = openByHandle(root, h.d2, P.O_RDONLY | P.O_DIRECTORY);
    Deno.removeSync(`${m}/d2`);
    r["removed while open through its handle: nlink"] = String(P.fstat(fd).nlink);
    P.close(fd);
  });
  r["removed while open, then closed"] = openDirByHandle(m, h.d2);

  await t.remount();
  m = t.mnt();
  checks("after remount");
  r["deleted file, after remount"] = readByHandle(m, h.v);

  // Reuse the deleted file's inode number (both allocate the lowest free number here).
  let reused = "";
  for (let i = 0; i < 32 && !reused; i++) {
    Deno.writeTextFileSync(`${m}/new${i}`, `new file ${i}`);
    if (ino(`new${i}`) === inoV) reused = `new${i}`;
  }
  r["v's inode number reused"] = reused ? "yes" : "no";
  if (reused) {
    r["deleted file's handle, its number reused"] = readByHandle(m, h.v);
    const now = readByHandle(m, nameToHandle(`${m}/${reused}`).handle);
    r["handle of the file now at that number"] = now === `ok:new file ${reused.slice(3)}` ? "ok" : now;
    await t.remount();
    m = t.mnt();
    r["deleted file's handle, its number reused, after remount"] = readByHandle(m, h.v);
  }
  return r;
}

/**
 * Removes a directory that was a mountpoint just now: rmdir can be EBUSY for
 * a moment under load (a parallel test's `unshare -m` may have copied the
 * mount), so it is retried, then the directory is detached lazily.
 */
async function removeMountDir(dir: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    try {
      Deno.removeSync(dir);
      return;
    } catch (e) {
      if (!(e instanceof Deno.errors.Busy) && !/EBUSY|busy/i.test(String(e))) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  new Deno.Command("umount", { args: ["-l", dir], stderr: "null", stdout: "null" }).outputSync();
  Deno.removeSync(dir);
}

/** A VexFS image mounted by `vexfs mount --foreground` (the real command), remounted on request. */
async function vexfsTarget(img: string, options?: string): Promise<Target & { daemon(): Daemon }> {
  let d = await mountImage({ image: img, options });
  return {
    mnt: () => d.mnt,
    daemon: () => d,
    async remount() {
      await unmount(d);
      d = await mountImage({ image: img, options });
    },
  };
}

Deno.test({
  name: "file handles: survive drop_caches and remount, go stale with their file, as on ext4 (differential)",
  ...mountTest,
  ignore: mountTest.ignore || !CAN_DROP || !hasTool("mkfs.ext4"),
  async fn() {
    // ext4 on a loop device, remounted the same way
    const extImg = Deno.makeTempFileSync({ prefix: "vexfs-export-ext4-", suffix: ".img" });
    const extMnt = Deno.makeTempDirSync({ prefix: "vexfs-export-ext4-" });
    let ext: Record<string, string>;
    try {
      Deno.truncateSync(extImg, 64 << 20);
      // with a journal: without one, ext4 skips inode numbers deleted in the last seconds
      run("mkfs.ext4", ["-q", "-F", extImg]);
      run("mount", ["-o", "loop", extImg, extMnt]);
      try {
        ext = await scenario({
          mnt: () => extMnt,
          remount() {
            run("umount", [extMnt]);
            run("mount", ["-o", "loop", extImg, extMnt]);
            return Promise.resolve();
          },
        });
      } finally {
        run("umount", [extMnt]);
      }
    } finally {
      await removeMountDir(extMnt);
      Deno.removeSync(extImg);
    }

    const img = tmpImage(64 << 20);
    try {
      const t = await vexfsTarget(img);
      let vx: Record<string, string>;
      try {
        vx = await scenario(t);
      } finally {
        await unmount(t.daemon());
      }
      assertFsckClean(img);
      if (Deno.env.get("VEXFS_EXPORT_SHOW")) console.log(vx);
      assert.deepEqual(vx, ext);
      // and what both said is what it should be
      assert.equal(vx["after remount: f"], "ok:file f+");
      assert.equal(vx["after remount: sub"], "/d/sub [.,..,g] ..=parent");
      assert.equal(vx["after remount: root"], "/ [.,..,d,f] ..=parent");
      assert.equal(vx["deleted file"], "ESTALE");
      assert.equal(vx["v's inode number reused"], "yes");
      assert.equal(vx["deleted file's handle, its number reused, after remount"], "ESTALE");
    } finally {
      Deno.removeSync(img);
    }
  },
});

Deno.test("exportLookup: what a handle's node id may name, on the engine", () => {
  const img = tmpImage(32 << 20);
  try {
    const fs = Vexfs.open(img);
    const d = fs.mkdir(ROOT_INO, "d", 0o755, 0, 0);
    const sub = fs.mkdir(d, "sub", 0o755, 0, 0);
    const f = fs.create(sub, "f", 0o644, 0, 0);
    const open = fs.create(ROOT_INO, "open", 0o644, 0, 0);
    const gone = fs.create(ROOT_INO, "gone", 0o644, 0, 0);
    fs.unlink(ROOT_INO, "gone");
    fs.collections.create(d, { dim: 4, metric: "l2", elem: "f32" });
    const internal: number[] = [];
    for (let i = FIRST_INO; i < 200; i++) {
      try {
        if (fs.iget(i).d.flags & IFL_INTERNAL) internal.push(i); // the collection's store, slot map, norms
      } catch { /* free */ }
    }
    assert.ok(internal.length >= 3, `internal inodes ${internal}`);
    const look = (nodeid: bigint | number, name: "." | ".." = ".") => {
      try {
        return exportLookup(fs, BigInt(nodeid), name);
      } catch (e) {
        if (e instanceof FsError) return e.code;
        throw e;
      }
    };
    assert.equal(look(1), ROOT_INO);
    assert.equal(look(1, ".."), ROOT_INO);
    assert.equal(look(d), d);
    assert.equal(look(d, ".."), ROOT_INO);
    assert.equal(look(sub, ".."), d);
    assert.equal(look(f), f);
    assert.equal(look(f, ".."), "ENOTDIR");
    // the root's own number (its node id is 1), reserved and internal inodes, free and impossible numbers
    for (const n of [0, ROOT_INO, COLL_TABLE_INO, JOURNAL_INO, FIRST_INO - 1, ...internal]) {
      assert.equal(look(n), "ESTALE");
    }
    assert.equal(look(gone), "ESTALE");
    assert.equal(look(fs.sb.inodeCount), "ESTALE");
    assert.equal(look(fs.sb.inodeCount + 1), "ESTALE");
    assert.equal(look((1n << 32n) + BigInt(f)), "ESTALE");
    assert.equal(look(1n << 63n), "ESTALE");
    // unlinked but still open: the kernel holds such an inode and never asks; a handle of it is stale
    fs.openInode(open);
    fs.unlink(ROOT_INO, "open");
    assert.equal(look(open), "ESTALE");
    fs.release(open);
    assert.equal(code(() => fs.iget(open)), "ENOENT");
    assert.equal(fs.sb.errorCount ?? 0, 0, "refusals are not errors");
    fs.close();
    assertFsckClean(img);
  } finally {
    Deno.removeSync(img);
  }
});

Deno.test({
  name: "file handles made by hand: reserved, internal, free, out-of-range numbers and wrong generations are ESTALE",
  ...mountTest,
  ignore: mountTest.ignore || !CAN_DROP,
  async fn() {
    const img = tmpImage(64 << 20);
    try {
      const t = await vexfsTarget(img);
      let st: P.Stat;
      try {
        const m = t.mnt();
        Deno.mkdirSync(`${m}/docs`);
        Deno.writeTextFileSync(`${m}/docs/a`, "a");
        st = P.stat(`${m}/docs/a`);
        const h = nameToHandle(`${m}/docs/a`).handle;
        const { nodeid, generation } = fuseHandleFields(h);
        assert.equal(nodeid, st.ino, "the node id of a handle is the inode number");
        assert.equal(fuseHandleFields(nameToHandle(m).handle).nodeid, 1n, "the root's node id is 1");
        assert.equal(fuseHandleFields(nameToHandle(m).handle).generation, 0, "the root's generation is 0");
        assert.deepEqual(fuseHandle(nodeid, generation), h);
        // collection internals exist (store, slot map, norms) at numbers a handle must not reach
        const [exe, ...args] = vexfsArgv(["collection", "create", `${m}/docs`, "--dim", "4"]);
        run(exe, args);
        dropCaches();
        const results: Record<string, string> = {};
        const tryH = (label: string, hh: FileHandle) => results[label] = readByHandle(m, hh);
        tryH("own", h);
        tryH("wrong generation", fuseHandle(nodeid, generation ^ 1));
        tryH("node id 0", fuseHandle(0n, 0));
        tryH("root's inode number 2", fuseHandle(2n, 0));
        tryH("collection table", fuseHandle(BigInt(COLL_TABLE_INO), 0));
        tryH("journal", fuseHandle(BigInt(JOURNAL_INO), 0));
        tryH("reserved 15", fuseHandle(15n, 0));
        for (let i = 1n; i <= 3n; i++) tryH(`next after a: ${i}`, fuseHandle(nodeid + i, 0));
        tryH("free", fuseHandle(5000n, 0));
        tryH("beyond the inode table", fuseHandle(1n << 31n, 0));
        tryH("beyond 32 bits", fuseHandle((1n << 32n) + nodeid, generation));
        assert.deepEqual(results, {
          "own": "ok:a",
          "wrong generation": "ESTALE",
          "node id 0": "ESTALE",
          "root's inode number 2": "ESTALE",
          "collection table": "ESTALE",
          "journal": "ESTALE",
          "reserved 15": "ESTALE",
          "next after a: 1": "ESTALE",
          "next after a: 2": "ESTALE",
          "next after a: 3": "ESTALE",
          "free": "ESTALE",
          "beyond the inode table": "ESTALE",
          "beyond 32 bits": "ESTALE",
        });
        assert.equal(readByHandle(m, h), "ok:a", "the mount still serves");
      } finally {
        await unmount(t.daemon());
      }
      assertFsckClean(img);
      const fs = Vexfs.open(img, { readOnly: true });
      assert.equal(fs.sb.errorCount ?? 0, 0, "no error recorded");
      for (let i = 1; i <= 3; i++) {
        assert.ok(fs.iget(Number(st.ino) + i).d.flags & IFL_INTERNAL, `inode ${Number(st.ino) + i} is internal`);
      }
      fs.close();
    } finally {
      Deno.removeSync(img);
    }
  },
});
