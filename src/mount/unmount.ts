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
  /** st_dev of the mount as "major:minor" (for FUSE the minor is the connection number) */
  dev?: string;
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
      dev: f[2],
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
 * Processes holding the /dev/fuse descriptor of FUSE connection `conn`
 * (the minor number of the mount's st_dev), found through the
 * `fuse_connection:` line Linux (6.x) shows in /proc/PID/fdinfo; empty
 * where the kernel does not show it.
 */
function fuseServers(conn: string): number[] {
  const out: number[] = [];
  let procs: Deno.DirEntry[];
  try {
    procs = [...Deno.readDirSync("/proc")];
  } catch {
    return out;
  }
  for (const p of procs) {
    if (!/^\d+$/.test(p.name)) continue;
    try {
      for (const fd of Deno.readDirSync(`/proc/${p.name}/fd`)) {
        if (Deno.readLinkSync(`/proc/${p.name}/fd/${fd.name}`) !== "/dev/fuse") continue;
        const info = Deno.readTextFileSync(`/proc/${p.name}/fdinfo/${fd.name}`);
        if (new RegExp(`^fuse_connection:\\s*${conn}$`, "m").test(info)) {
          out.push(Number(p.name));
          break;
        }
      }
    } catch { /* gone, or not ours to look at */ }
  }
  return out;
}

/** Whether process `pid` has ended (a zombie counts as ended). */
function ended(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] === "Z";
  } catch {
    return true;
  }
}

/**
 * Unmounts `m` with `fusermount3 -u` (or umount(8)) and waits until its
 * source device or image is released by the daemon. When the source is not
 * a path that exists (a custom `fsname`), it waits instead for the
 * processes serving the FUSE connection to exit (where the kernel names the
 * connection in /proc/PID/fdinfo; otherwise it cannot wait).
 * @param timeoutMs how long to wait for the release
 * @throws FsError EBUSY if the mount is busy (open files, a shell's cwd) or the
 *   daemon did not release the device in time
 */
export async function unmountAndWait(m: MountEntry, timeoutMs = 120_000): Promise<void> {
  let exists = false;
  try {
    const st = Deno.statSync(m.source);
    exists = st.isFile || st.isBlockDevice === true;
  } catch { /* not a path */ }
  const conn = m.dev?.split(":")[1];
  const servers = !exists && conn && /^\d+$/.test(conn) ? fuseServers(conn) : [];
  const r = await run("fusermount3", ["-u", m.mountpoint]);
  if (!r.ok) {
    const r2 = await run("umount", [m.mountpoint]);
    if (!r2.ok) {
      throw new FsError("EBUSY", `cannot unmount ${m.mountpoint}: ${r.err || r2.err}`);
    }
  }
  const deadline = Date.now() + timeoutMs;
  if (!exists) {
    for (let delay = 10; !servers.every(ended); delay = Math.min(delay * 2, 200)) {
      if (Date.now() > deadline) {
        throw new FsError(
          "EBUSY",
          `${m.mountpoint} is unmounted but its daemon (pid ${servers.join(", ")}) is still running after ${
            timeoutMs / 1000
          } s`,
        );
      }
      await new Promise((res) => setTimeout(res, delay));
    }
    return;
  }
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
