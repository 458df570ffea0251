/**
 * Finding a mount in /proc/self/mountinfo and unmounting a VexFS FUSE mount
 * so that the caller can use the device right afterwards: the kernel
 * detaches the mount at once, but the daemon still writes back and closes
 * the device, so {@linkcode unmountAndWait} waits until the device can be
 * claimed again.
 * @module
 */
import { Device } from "../device/device.ts";
import { FsError } from "../errors.ts";

/** One line of /proc/self/mountinfo (proc(5)). */
export interface MountEntry {
  /** mountpoint, unescaped */
  mountpoint: string;
  /** filesystem type, e.g. "fuse.vexfs" */
  fstype: string;
  /** mount source (the `fsname` of a FUSE mount), unescaped */
  source: string;
  /** per-mount options, e.g. "rw,nosuid,nodev,relatime" */
  options: string;
}

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
}

/** Every mount of this process's mount namespace. */
export function listMounts(): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of Deno.readTextFileSync("/proc/self/mountinfo").split("\n")) {
    if (!line) continue;
    const f = line.split(" ");
    const dash = f.indexOf("-", 6);
    if (dash < 0) continue;
    out.push({
      mountpoint: unescape(f[4]),
      options: f[5],
      fstype: f[dash + 1],
      source: unescape(f[dash + 2]),
    });
  }
  return out;
}

/**
 * The mount whose mountpoint is `path` (the last one if stacked), or null.
 * @param path any spelling of the mountpoint (resolved with realpath when it exists)
 */
export function findMount(path: string): MountEntry | null {
  let abs = path;
  try {
    abs = Deno.realPathSync(path);
  } catch { /* a dead FUSE mount may not stat: compare the given path */ }
  const hits = listMounts().filter((m) => m.mountpoint === abs || m.mountpoint === path);
  return hits.at(-1) ?? null;
}

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; err: string }> {
  try {
    const o = await new Deno.Command(cmd, { args, stdin: "null", stdout: "null", stderr: "piped" }).output();
    return { ok: o.success, err: new TextDecoder().decode(o.stderr).trim() };
  } catch (e) {
    return { ok: false, err: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * Unmounts `m` with `fusermount3 -u` (or umount(8)) and waits until its
 * source device or image is released by the daemon (when the source is a
 * path that exists; a custom fsname cannot be waited for).
 * @param timeoutMs how long to wait for the release
 * @throws FsError EBUSY if the mount is busy (open files, a shell's cwd) or the
 *   daemon did not release the device in time
 */
export async function unmountAndWait(m: MountEntry, timeoutMs = 120_000): Promise<void> {
  let r = await run("fusermount3", ["-u", m.mountpoint]);
  if (!r.ok) {
    const r2 = await run("umount", [m.mountpoint]);
    if (!r2.ok) {
      throw new FsError("EBUSY", `cannot unmount ${m.mountpoint}: ${r.err || r2.err}`);
    }
    r = r2;
  }
  let exists = false;
  try {
    exists = Deno.statSync(m.source).isFile || Deno.statSync(m.source).isBlockDevice === true;
  } catch { /* not a path */ }
  if (!exists) return;
  const deadline = Date.now() + timeoutMs;
  for (let delay = 10;; delay = Math.min(delay * 2, 200)) {
    try {
      Device.open(m.source, { readOnly: true, exclusive: true }).close();
      return;
    } catch (e) {
      if (!(e instanceof FsError && e.code === "EBUSY")) return;
      if (Date.now() > deadline) {
        throw new FsError(
          "EBUSY",
          `${m.mountpoint} is unmounted but the daemon still holds ${m.source} after ${timeoutMs / 1000} s`,
        );
      }
    }
    await new Promise((res) => setTimeout(res, delay));
  }
}
