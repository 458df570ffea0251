/**
 * Issue 7 §4, process crashes through the real mount: the `vexfs mount`
 * daemon is killed with SIGKILL at a random (seeded, printed) moment while
 * (a) files are written into a collection and given vectors with
 * `VEXFS_IOC_SET_VECTOR`, each then fsync'd, and (b) `cp -r` copies a tree
 * onto the mount, each copied directory then fsync'd file by file with
 * coreutils `sync FILE...`. The workload notes what was fsync'd before the
 * kill. Then the dead mount is detached (`fusermount3 -u`) and the image
 * mounted again (the journal is replayed); every fsync'd file and vector
 * must be intact, every file readable, each collection's search must equal
 * a brute force over the vectors present, and after a clean unmount
 * `vexfs fsck -n` must find nothing.
 *
 * The killer is a separate process (`sleep; kill -9`), so the kill lands
 * anywhere, also inside a request. Ignored while a fresh image has no
 * journal or fsck does not pass it (as src/crash/_suite.ts). Seed:
 * `CRASH_SEED` (default 1); trials: `MOUNT_CRASH_TRIALS` per workload
 * (default 11, so 22 in all); `CRASH_FORCE=1` runs them even when they
 * would be ignored for the image.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { INCOMPAT_JOURNAL, SB_OFFSET, SB_SIZE } from "../format/constants.ts";
import { decodeSuperblock } from "../format/superblock.ts";
import { tmpImage } from "../fs/_testutil.ts";
import { fsck } from "../fsck/fsck.ts";
import { createCollection, getVector, search, setVector } from "../ioctl/client.ts";
import { rng } from "../test_random.ts";
import { l2Distance } from "../vector/distance.ts";
import { CAN_MOUNT, type Daemon, detachDeadMount, mountImage, unmount } from "./_testutil.ts";
import * as posix from "./_posix.ts";
import { vexfsArgv } from "./self.ts";
import { findMount } from "./unmount.ts";

const SEED = Number(Deno.env.get("CRASH_SEED") ?? 1);
const TRIALS = Number(Deno.env.get("MOUNT_CRASH_TRIALS") ?? 11);
const IMAGE_BYTES = 64 << 20;
const DIM = 16;
/** top directories of the `cp -r` source tree (30 files each) */
const DIRS = 16;
const dec = new TextDecoder();

/** Why the tests are ignored (no FUSE, no journal, fsck rejects a fresh image), or undefined. */
const SKIP: string | undefined = (() => {
  if (!CAN_MOUNT) return "needs root, /dev/fuse and libfuse3";
  if (Deno.env.get("CRASH_FORCE") === "1") return undefined;
  const img = tmpImage(IMAGE_BYTES);
  try {
    const raw = new Uint8Array(SB_SIZE);
    const f = Deno.openSync(img);
    try {
      f.seekSync(SB_OFFSET, Deno.SeekMode.Start);
      f.readSync(raw);
    } finally {
      f.close();
    }
    if (!(decodeSuperblock(raw).featureIncompat & INCOMPAT_JOURNAL)) {
      return "ignored until the journal lands: mkfs makes images without INCOMPAT_JOURNAL, which are not crash-safe";
    }
    const bad = fsck(img, { readOnly: true }).problems.filter((p) => p.severity !== "info");
    if (bad.length) {
      return `ignored until fsck passes a fresh journaled image: ${bad[0].code} ${bad[0].message}`;
    }
    return undefined;
  } finally {
    Deno.removeSync(img);
  }
})();

if (SKIP && CAN_MOUNT) console.warn(`mount crash tests: ${SKIP}`);

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function run(cmd: string, args: string[]): { code: number; out: string; err: string } {
  const o = new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" }).outputSync();
  return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

/** Starts a process that kills the daemon with SIGKILL after `ms` milliseconds. */
function killLater(d: Daemon, ms: number): Deno.ChildProcess {
  const s = (ms / 1000).toFixed(3);
  return new Deno.Command("sh", { args: ["-c", `sleep ${s}; kill -9 ${d.child.pid}`], stdin: "null" }).spawn();
}

/** Waits for the kill, detaches the dead mount and mounts the image again. */
async function afterKill(d: Daemon, killer: Deno.ChildProcess): Promise<Daemon> {
  await killer.status;
  const st = await d.child.status;
  assert.equal(st.signal, "SIGKILL", `the daemon died of SIGKILL (status ${JSON.stringify(st)}): ${d.stderr()}`);
  // A workload request still in flight (or a descriptor it has not closed yet)
  // keeps the dead mount busy for a moment: EBUSY until it has failed with ENOTCONN.
  const mnt = d.mnt;
  await detachDeadMount(mnt);
  assert.equal(findMount(mnt), null);
  return await mountImage({ image: d.img });
}

/** Unmounts cleanly and requires `vexfs fsck -n` to find no error and no warning. */
async function unmountAndCheck(d: Daemon, what: string): Promise<void> {
  await unmount(d);
  const [exe, ...args] = vexfsArgv(["fsck", "-n", d.img]);
  const r = run(exe, args);
  assert.equal(r.code, 0, `${what}: vexfs fsck -n exit ${r.code}:\n${r.out}${r.err}`);
  assert.doesNotMatch(r.out + r.err, /\bwarning\b|\berror\b/i, `${what}: vexfs fsck -n:\n${r.out}${r.err}`);
}

/** Every regular file below `dir` (relative path → bytes); reading each must work. */
function readTree(dir: string, rel = ""): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const e of Deno.readDirSync(dir + rel)) {
    const p = `${rel}/${e.name}`;
    if (e.isDirectory) { for (const [k, v] of readTree(dir, p)) out.set(k, v); }
    else out.set(p, Deno.readFileSync(dir + p));
  }
  return out;
}

function fsyncPath(path: string, dir = false): void {
  const fd = posix.open(path, dir ? posix.O_RDONLY | posix.O_DIRECTORY : posix.O_RDONLY);
  try {
    posix.fsync(fd);
  } finally {
    posix.close(fd);
  }
}

Deno.test({
  name: "mount crash: kill -9 of the daemon while files get vectors and fsync: fsync'd files and vectors survive, " +
    "search equals brute force, fsck clean" + (SKIP ? ` (${SKIP})` : ""),
  ignore: !!SKIP,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const r = rng(SEED * 7919 + 1);
    for (let trial = 0; trial < TRIALS; trial++) {
      const delay = Math.round(100 + r() * 1400);
      const what = `vector trial ${trial} (CRASH_SEED=${SEED}, kill after ${delay} ms)`;
      let d = await mountImage({ size: IMAGE_BYTES });
      const img = d.img;
      try {
        const coll = `${d.mnt}/vec`;
        Deno.mkdirSync(coll);
        await createCollection(coll, { dim: DIM, metric: "l2", elem: "f32" });
        Deno.mkdirSync(`${coll}/sub`);
        fsyncPath(coll, true);
        const durable = new Map<string, { sha: string; v: number[] }>();
        const killer = killLater(d, delay);
        const t0 = Date.now();
        let stopped = "";
        for (let i = 0; Date.now() - t0 < 6000; i++) {
          const rel = i % 3 === 2 ? `/sub/f${i}` : `/f${i}`;
          const data = new Uint8Array(1 + Math.floor(r() * 6000)).map(() => r() * 256);
          const v = Array.from({ length: DIM }, () => Math.round((r() * 2 - 1) * 1000) / 1000);
          try {
            Deno.writeFileSync(coll + rel, data);
            await setVector(coll + rel, new Float32Array(v));
            fsyncPath(coll + rel);
          } catch (e) {
            stopped = e instanceof Error ? e.message : String(e);
            break;
          }
          durable.set(rel, { sha: sha(data), v });
        }
        assert.ok(stopped, `${what}: the workload ran 6 s without the kill`);
        d = await afterKill(d, killer);
        const files = readTree(`${d.mnt}/vec`);
        for (const [rel, want] of durable) {
          const got = files.get(rel);
          assert.ok(got, `${what}: fsync'd ${rel} is missing (${durable.size} fsync'd, ${files.size} present)`);
          assert.equal(sha(got), want.sha, `${what}: fsync'd ${rel} has other contents`);
          const gv = await getVector(`${d.mnt}/vec${rel}`);
          assert.deepEqual(
            gv && Array.from(gv.vector),
            Array.from(new Float32Array(want.v)),
            `${what}: vector of ${rel}`,
          );
        }
        // search == brute force over the vectors present
        const items: { ino: number; v: Float32Array }[] = [];
        for (const rel of files.keys()) {
          const p = `${d.mnt}/vec${rel}`;
          const gv = await getVector(p);
          if (gv) items.push({ ino: Deno.statSync(p).ino!, v: gv.vector });
        }
        for (let q = 0; q < 3 && items.length; q++) {
          const query = new Float32Array(DIM).map(() => r() * 2 - 1);
          const k = Math.min(items.length, 1 + Math.floor(r() * 40));
          const hits = await search(`${d.mnt}/vec`, query, k);
          const brute = items.map((it) => ({ ino: it.ino, score: l2Distance(query, it.v) }))
            .sort((a, b) => a.score - b.score || a.ino - b.ino);
          assert.equal(hits.length, k, `${what}: search returned ${hits.length} of ${k}`);
          for (let i = 0; i < k; i++) {
            assert.ok(Math.abs(hits[i].score - brute[i].score) <= 1e-4, `${what}: hit ${i} score vs brute force`);
            const tie = brute.filter((b) => Math.abs(b.score - hits[i].score) <= 1e-4).map((b) => b.ino);
            assert.ok(tie.includes(hits[i].ino), `${what}: hit ${i} is inode ${hits[i].ino}, brute force says ${tie}`);
          }
        }
        console.log(
          `${what}: ${durable.size} fsync'd files with vectors intact, ${files.size} present, ${items.length} vectors; ` +
            `stopped by: ${stopped.slice(0, 60)}`,
        );
        await unmountAndCheck(d, what);
      } finally {
        if (findMount(d.mnt)) await unmount(d).catch(() => {});
        try {
          Deno.removeSync(img);
        } catch { /* already gone */ }
      }
    }
  },
});

/** A source tree for `cp -r`: `dirs` top directories of two levels with files of 1 B .. 48 KiB. */
function makeTree(r: () => number, dirs: number): string {
  const root = Deno.makeTempDirSync({ prefix: "vexfs-crash-src-" });
  for (let d = 0; d < dirs; d++) {
    for (const sub of ["", "/x", "/x/y"]) {
      Deno.mkdirSync(`${root}/d${d}${sub}`, { recursive: true });
      for (let f = 0; f < 10; f++) {
        const n = 1 + Math.floor(r() * r() * 48 * 1024);
        Deno.writeFileSync(`${root}/d${d}${sub}/f${f}`, new Uint8Array(n).map(() => r() * 256));
      }
    }
  }
  return root;
}

Deno.test({
  name: "mount crash: kill -9 of the daemon during cp -r with per-directory fsync: synced directories are complete " +
    "and identical, everything reads, fsck clean" + (SKIP ? ` (${SKIP})` : ""),
  ignore: !!SKIP,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const r = rng(SEED * 104729 + 2);
    const src = makeTree(r, DIRS);
    const want = readTree(src);
    try {
      for (let trial = 0; trial < TRIALS; trial++) {
        const delay = Math.round(50 + r() * 800);
        const what = `cp trial ${trial} (CRASH_SEED=${SEED}, kill after ${delay} ms)`;
        let d = await mountImage({ size: IMAGE_BYTES });
        const img = d.img;
        try {
          // each top directory: cp -r, then fsync of every file and directory in it, then report it
          const script = `cd '${src}' && for t in d*; do cp -r "$t" '${d.mnt}/' || exit 1; ` +
            `find '${d.mnt}'/"$t" -print0 | xargs -0 sync || exit 1; echo "synced $t"; done`;
          const killer = killLater(d, delay);
          const o = await new Deno.Command("bash", { args: ["-c", script], stdout: "piped", stderr: "piped" }).output();
          const synced = dec.decode(o.stdout).split("\n").filter((l) => l.startsWith("synced ")).map((l) => l.slice(7));
          d = await afterKill(d, killer);
          const got = readTree(d.mnt);
          for (const t of synced) {
            const mine = [...want.keys()].filter((k) => k.startsWith(`/${t}/`));
            for (const k of mine) {
              assert.ok(got.has(k), `${what}: ${k} of synced ${t} is missing`);
              assert.equal(sha(got.get(k)!), sha(want.get(k)!), `${what}: ${k} of synced ${t} differs`);
            }
            const extra = [...got.keys()].filter((k) => k.startsWith(`/${t}/`) && !want.has(k));
            assert.deepEqual(extra, [], `${what}: synced ${t} has files the source has not`);
          }
          console.log(
            `${what}: ${synced.length} of ${DIRS} directories synced and intact, ${got.size} files present` +
              (o.success ? " (cp finished before the kill)" : ""),
          );
          await unmountAndCheck(d, what);
        } finally {
          if (findMount(d.mnt)) await unmount(d).catch(() => {});
          try {
            Deno.removeSync(img);
          } catch { /* already gone */ }
        }
      }
    } finally {
      Deno.removeSync(src, { recursive: true });
    }
  },
});
