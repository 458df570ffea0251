/**
 * Helpers for tests through a real VexFS FUSE mount. The filesystem is
 * served by a separate `vexfs mount --foreground` process (the real command), so the
 * test process may use synchronous file APIs on the mount freely. After the
 * test body: unmount, require the daemon to exit 0, and require fsck to
 * find nothing (the superblock must be clean).
 * @module
 */
import { createHash } from "node:crypto";
import { SB_OFFSET, SB_SIZE } from "../format/constants.ts";
import { decodeSuperblock, type Superblock } from "../format/superblock.ts";
import { assertFsckClean, tmpImage } from "../fs/_testutil.ts";
import { assert, assertEquals } from "../test_assert.ts";
import { vexfsArgv } from "./self.ts";
import { findMount } from "./unmount.ts";

/** Whether real FUSE mounts can run here (root, /dev/fuse, fusermount3, libfuse3). */
export const CAN_MOUNT: boolean = (() => {
  try {
    Deno.statSync("/dev/fuse");
    Deno.dlopen("libfuse3.so.3", {}).close();
    return Deno.uid() === 0;
  } catch {
    return false;
  }
})();

/** A running `vexfs mount --foreground` daemon. */
export interface Daemon {
  /** absolute mountpoint */
  mnt: string;
  /** image path */
  img: string;
  /** the daemon process */
  child: Deno.ChildProcess;
  /** its stderr so far (collected in the background) */
  stderr(): string;
}

/** Options of {@linkcode mountImage} and {@linkcode withMount}. */
export interface TestMountOptions {
  /** image size in bytes (default 256 MiB) when a new image is made */
  size?: number;
  /** block size (default 4096) */
  blockSize?: number;
  /** inode count (default: mkfs's) */
  inodes?: number;
  /** existing image to mount instead of a fresh one */
  image?: string;
  /** `-o` options */
  options?: string;
  /** keep the image after the test (default: removed) */
  keepImage?: boolean;
  /** mount here (made if missing) instead of in a new temporary directory */
  mnt?: string;
}

const dec = new TextDecoder();

/**
 * Starts `vexfs mount --foreground IMG MNT` and waits until the mount shows in
 * /proc/self/mountinfo (or the daemon exits: then throws with its stderr).
 */
export async function mountImage(opts: TestMountOptions = {}): Promise<Daemon> {
  const img = opts.image ?? tmpImage(opts.size ?? 256 << 20, opts.blockSize ?? 4096, opts.inodes);
  const mnt = opts.mnt ?? Deno.makeTempDirSync({ prefix: "vexfs-mnt-" });
  if (opts.mnt) Deno.mkdirSync(mnt, { recursive: true });
  const args = ["mount", "--foreground", ...(opts.options ? ["-o", opts.options] : []), img, mnt];
  const [exe, ...rest] = vexfsArgv(args);
  const child = new Deno.Command(exe, { args: rest, stdin: "null", stdout: "piped", stderr: "piped" }).spawn();
  let err = "";
  (async () => {
    for await (const ch of child.stderr) err += dec.decode(ch);
  })();
  child.stdout.cancel();
  let exited = false;
  child.status.then(() => exited = true);
  for (let i = 0; i < 600; i++) {
    if (findMount(mnt)?.fstype.startsWith("fuse")) return { mnt, img, child, stderr: () => err };
    if (exited) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  const st = await Promise.race([child.status, new Promise((r) => setTimeout(r, 100))]);
  try {
    Deno.removeSync(mnt);
  } catch { /* still mounted? */ }
  throw new Error(`vexfs mount did not come up (${JSON.stringify(st)}): ${err}`);
}

/**
 * Unmounts with `fusermount3 -u` and waits for the daemon to exit; asserts
 * exit status 0. Removes the mountpoint directory.
 */
export async function unmount(d: Daemon): Promise<void> {
  // A descriptor a just-finished child process held is released asynchronously
  // (at its exit): fusermount3 can see the mount busy for a moment. Retry EBUSY briefly.
  let o = await new Deno.Command("fusermount3", { args: ["-u", d.mnt], stderr: "piped" }).output();
  for (let i = 0; i < 50 && !o.success && /busy/i.test(dec.decode(o.stderr)); i++) {
    await new Promise((r) => setTimeout(r, 100));
    o = await new Deno.Command("fusermount3", { args: ["-u", d.mnt], stderr: "piped" }).output();
  }
  assert(o.success, `fusermount3 -u ${d.mnt}: ${dec.decode(o.stderr)}`);
  const st = await d.child.status;
  assertEquals(st.code, 0, `vexfs mount exited with ${st.code}: ${d.stderr()}`);
  Deno.removeSync(d.mnt);
}

/**
 * Mounts a fresh (or given) image, runs `fn(mnt, img)`, unmounts, and
 * requires a clean fsck. The image is removed unless `keepImage`.
 */
export async function withMount<T>(
  opts: TestMountOptions,
  fn: (mnt: string, img: string) => T | Promise<T>,
): Promise<T> {
  const d = await mountImage(opts);
  let result: T;
  try {
    result = await fn(d.mnt, d.img);
  } catch (e) {
    try {
      await unmount(d);
    } catch { /* report the first failure */ }
    if (!opts.keepImage && !opts.image) Deno.removeSync(d.img);
    throw e;
  }
  await unmount(d);
  assertFsckClean(d.img);
  if (!opts.keepImage && !opts.image) Deno.removeSync(d.img);
  return result;
}

/**
 * Detaches the mount of a daemon that was killed: `fusermount3 -u`, retried
 * for up to 10 s while it is busy (a request in flight or a descriptor not
 * yet failed with ENOTCONN), then lazily (`-u -z`) as an administrator
 * would. Removes the mount point.
 * @throws Error when fusermount3 fails for another reason
 */
export async function detachDeadMount(mnt: string): Promise<void> {
  const tryIt = (lazy: boolean) => {
    const o = new Deno.Command("fusermount3", { args: lazy ? ["-u", "-z", mnt] : ["-u", mnt] }).outputSync();
    return { ok: o.success, err: new TextDecoder().decode(o.stderr) };
  };
  let r = tryIt(false);
  for (let i = 0; i < 100 && !r.ok && /busy/i.test(r.err); i++) {
    await new Promise((res) => setTimeout(res, 100));
    r = tryIt(false);
  }
  if (!r.ok && /busy/i.test(r.err)) r = tryIt(true);
  if (!r.ok) throw new Error(`fusermount3 -u ${mnt}: ${r.err}`);
  Deno.removeSync(mnt);
}

/** Test-step options for tests that need real mounts. */
export const mountTest: { ignore: boolean; sanitizeResources: boolean; sanitizeOps: boolean } = {
  ignore: !CAN_MOUNT,
  sanitizeResources: false,
  sanitizeOps: false,
};

/** sha256 (hex) of a file, read in 1 MiB pieces (images and large files are not held in memory). */
export function sha256File(path: string): string {
  const h = createHash("sha256");
  const f = Deno.openSync(path);
  const buf = new Uint8Array(1 << 20);
  try {
    for (;;) {
      const n = f.readSync(buf);
      if (n === null) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    f.close();
  }
  return h.digest("hex");
}

function runTool(cmd: string, args: string[]): void {
  const o = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  if (!o.success) throw new Error(`${cmd} ${args.join(" ")}: ${dec.decode(o.stderr)}`);
}

/**
 * Mounts a fresh 64 MiB ext4 on a loop device (a tmpfs if that fails: `kind`
 * says which) as a reference for differential tests; runs `fn(dir, kind)`;
 * unmounts and removes the image. `features` is mkfs.ext4's `-O` list
 * (default `^has_journal`; e.g. `^has_journal,ea_inode` for 64 KiB xattrs).
 */
export async function withExt4<T>(
  fn: (dir: string, kind: string) => T | Promise<T>,
  features = "^has_journal",
): Promise<T> {
  const dir = Deno.makeTempDirSync({ prefix: "vexfs-ref-" });
  const img = Deno.makeTempFileSync({ prefix: "vexfs-ref-ext4-", suffix: ".img" });
  let kind = "ext4";
  try {
    try {
      Deno.truncateSync(img, 64 << 20);
      runTool("mkfs.ext4", ["-q", "-F", "-O", features, img]);
      runTool("mount", ["-o", "loop", img, dir]);
    } catch (e) {
      kind = `tmpfs (no ext4: ${(e as Error).message.split("\n")[0]})`;
      runTool("mount", ["-t", "tmpfs", "-o", "size=64m", "vexfs-ref", dir]);
    }
    try {
      return await fn(dir, kind);
    } finally {
      try {
        runTool("umount", [dir]);
      } catch {
        runTool("umount", ["-l", dir]);
      }
    }
  } finally {
    Deno.removeSync(dir);
    Deno.removeSync(img);
  }
}

/** The superblock of an image as on disk (read raw: it may be mounted and in use). */
export function superblockOf(img: string): Superblock {
  const f = Deno.openSync(img);
  try {
    const raw = new Uint8Array(SB_SIZE);
    f.seekSync(SB_OFFSET, Deno.SeekMode.Start);
    let got = 0;
    while (got < SB_SIZE) got += f.readSync(raw.subarray(got)) ?? SB_SIZE;
    return decodeSuperblock(raw);
  } finally {
    f.close();
  }
}
