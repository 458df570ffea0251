/**
 * Remounting a VexFS FUSE mount (read-only ↔ read-write, atime and the other
 * generic flags) and how the daemon learns of it.
 *
 * The design: for FUSE the kernel owns the mount flags. A remount is a
 * mount(2) with MS_REMOUNT, made by mount(8) itself or by `vexfs mount -o
 * remount,...` ({@linkcode remountKernel}); the kernel syncs the superblock
 * (dirty pages reach the daemon as writes), flips its flags and from then
 * on refuses writes itself (EROFS), but it sends the daemon no request about
 * it. So the daemon watches its own mount's line in /proc/self/mountinfo
 * ({@linkcode watchMount}): whoever made the remount and however (mount(8),
 * mount.fuse3, `vexfs mount`, a bare mount(2)), the flags the kernel shows
 * are the truth, and the daemon follows them: read-only → commit everything
 * and refuse every change (the vector ioctls too, which the kernel does not
 * check); read-write → reopen the engine read-write if it was opened
 * read-only; the atime flags (noatime, relatime, strictatime, nodiratime)
 * decide its atime updates. A control channel from the remounting process
 * would miss remounts made by mount(8) without a helper, so it is not used.
 * @module
 */
import { FsError } from "../errors.ts";
import type { AtimeMode, MountOptions } from "./options.ts";

/** mount(2) flags (linux/mount.h). */
export const MS = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  SYNCHRONOUS: 16,
  REMOUNT: 32,
  DIRSYNC: 128,
  NOSYMFOLLOW: 256,
  NOATIME: 1024,
  NODIRATIME: 2048,
  BIND: 4096,
  RELATIME: 1 << 21,
  STRICTATIME: 1 << 24,
  LAZYTIME: 1 << 25,
} as const;

const SYMBOLS = {
  mount: { parameters: ["buffer", "buffer", "buffer", "u64", "buffer"], result: "i32" },
  /** mount(2) on a Deno worker thread (errno is that thread's, so it is not read) */
  mountOffThread: {
    name: "mount",
    parameters: ["buffer", "buffer", "buffer", "u64", "buffer"],
    result: "i32",
    nonblocking: true,
  },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const;

let lib: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] | undefined;

function libc() {
  lib ??= Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  return lib;
}

function cstr(s: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(s + "\0");
}

/** The state of one mount as /proc/self/mountinfo shows it. */
export interface MountState {
  /** The mount ID (first field), stable for the life of the mount. */
  id: string;
  /** The mountpoint, unescaped. */
  mountpoint: string;
  /** The source (a FUSE mount's fsname), unescaped. */
  source: string;
  /** The filesystem type, e.g. `fuse.vexfs`. */
  fstype: string;
  /** Per-mount options, e.g. `rw,nosuid,relatime`. */
  options: string[];
  /** Superblock options, e.g. `rw,user_id=0,group_id=0`. */
  superOptions: string[];
  /** The superblock is read-only (what decides whether the filesystem may change). */
  readOnly: boolean;
  /** The atime policy the per-mount flags give. */
  atime: AtimeMode;
  /** Directories' atime is not updated. */
  nodiratime: boolean;
  /** The whole mountinfo line (to notice any change). */
  line: string;
}

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
}

/** Parses one line of /proc/self/mountinfo (proc(5)); null for a malformed line. */
export function parseMountinfoLine(line: string): MountState | null {
  const f = line.split(" ");
  const dash = f.indexOf("-", 6);
  if (dash < 0 || f.length < dash + 4) return null;
  const options = f[5].split(",");
  const superOptions = f[dash + 3].split(",");
  return {
    id: f[0],
    mountpoint: unescape(f[4]),
    fstype: f[dash + 1],
    source: unescape(f[dash + 2]),
    options,
    superOptions,
    readOnly: superOptions.includes("ro"),
    atime: options.includes("noatime") ? "noatime" : options.includes("relatime") ? "relatime" : "strictatime",
    nodiratime: options.includes("nodiratime"),
    line,
  };
}

/** Every mount of this process's mount namespace, in mount order. */
export function mountStates(): MountState[] {
  const out: MountState[] = [];
  for (const line of Deno.readTextFileSync("/proc/self/mountinfo").split("\n")) {
    const m = line ? parseMountinfoLine(line) : null;
    if (m) out.push(m);
  }
  return out;
}

function errno(): number {
  const p = libc().__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
}

/**
 * Calls mount(2) with MS_REMOUNT on `mountpoint`.
 * @param mountpoint absolute mountpoint
 * @param flags MS_* flags besides MS_REMOUNT (with MS_BIND only the per-mount flags change)
 * @throws FsError with the errno's name (EPERM without CAP_SYS_ADMIN, EBUSY when
 *   going read-only while files are open for writing, EINVAL)
 */
export function remountKernel(mountpoint: string, flags: number): void {
  const none = cstr("none");
  const r = libc().mount(none, cstr(mountpoint), null, BigInt(MS.REMOUNT | flags), null);
  if (r === 0) return;
  const e = errno();
  const codes: Record<number, "EPERM" | "EBUSY" | "EINVAL" | "EACCES" | "EROFS"> = {
    1: "EPERM",
    16: "EBUSY",
    22: "EINVAL",
    13: "EACCES",
    30: "EROFS",
  };
  const code = codes[e] ?? "EIO";
  const msg = libc().strerror(e);
  throw new FsError(code, `remount of ${mountpoint}: ${msg ? new Deno.UnsafePointerView(msg).getCString() : e}`);
}

/**
 * {@linkcode remountKernel} on another thread, for the daemon, whose own
 * thread must go on serving the mount's requests meanwhile. errno belongs
 * to that thread, so a failure is only reported, not named.
 * @param mountpoint absolute mountpoint
 * @param flags MS_* flags besides MS_REMOUNT
 * @returns whether mount(2) succeeded
 */
export async function remountKernelOffThread(mountpoint: string, flags: number): Promise<boolean> {
  return await libc().mountOffThread(cstr("none"), cstr(mountpoint), null, BigInt(MS.REMOUNT | flags), null) === 0;
}

/** The per-mount atime/symfollow flags of `o` for mount(2). */
export function perMountFlags(o: MountOptions): number {
  let f = o.atime === "noatime" ? MS.NOATIME : o.atime === "strictatime" ? MS.STRICTATIME : MS.RELATIME;
  if (o.nodiratime) f |= MS.NODIRATIME;
  if (o.nosymfollow) f |= MS.NOSYMFOLLOW;
  for (const v of o.vfsFlags) {
    if (v === "nosuid") f |= MS.NOSUID;
    if (v === "nodev") f |= MS.NODEV;
    if (v === "noexec") f |= MS.NOEXEC;
  }
  return f;
}

/**
 * The mount(2) flags of a remount of `current` with the options `lists`
 * (`-o` strings, `remount` among them), as mount(8) computes them: start
 * from the mount's present flags and apply the options given in order.
 */
export function remountFlags(current: MountState, lists: readonly string[]): number {
  const on = new Set([...current.options, ...current.superOptions.filter((s) => s === "ro" || s === "rw")]);
  if (current.readOnly) on.add("ro");
  let ro = on.has("ro");
  let f = 0;
  const set = (bit: number, v: boolean) => (f = v ? f | bit : f & ~bit);
  set(MS.NOSUID, on.has("nosuid"));
  set(MS.NODEV, on.has("nodev"));
  set(MS.NOEXEC, on.has("noexec"));
  set(MS.NOSYMFOLLOW, on.has("nosymfollow"));
  set(MS.SYNCHRONOUS, current.superOptions.includes("sync"));
  set(MS.DIRSYNC, current.superOptions.includes("dirsync"));
  set(MS.LAZYTIME, current.superOptions.includes("lazytime"));
  let atime: AtimeMode = current.atime;
  let nodiratime = current.nodiratime;
  for (const list of lists) {
    for (const raw of list.split(",")) {
      const opt = raw.trim();
      const flag: Record<string, [number, boolean]> = {
        suid: [MS.NOSUID, false],
        nosuid: [MS.NOSUID, true],
        dev: [MS.NODEV, false],
        nodev: [MS.NODEV, true],
        exec: [MS.NOEXEC, false],
        noexec: [MS.NOEXEC, true],
        sync: [MS.SYNCHRONOUS, true],
        async: [MS.SYNCHRONOUS, false],
        dirsync: [MS.DIRSYNC, true],
        lazytime: [MS.LAZYTIME, true],
        nolazytime: [MS.LAZYTIME, false],
        symfollow: [MS.NOSYMFOLLOW, false],
        nosymfollow: [MS.NOSYMFOLLOW, true],
      };
      if (opt === "ro") ro = true;
      else if (opt === "rw") ro = false;
      else if (flag[opt]) set(...flag[opt]);
      else if (opt === "noatime") atime = "noatime";
      else if (opt === "atime" || opt === "relatime" || opt === "nostrictatime") atime = "relatime";
      else if (opt === "strictatime") atime = "strictatime";
      else if (opt === "nodiratime" || opt === "diratime") nodiratime = opt === "nodiratime";
    }
  }
  if (ro) f |= MS.RDONLY;
  f |= atime === "noatime" ? MS.NOATIME : atime === "strictatime" ? MS.STRICTATIME : MS.RELATIME;
  if (nodiratime) f |= MS.NODIRATIME;
  return f;
}

/** A watch made by {@linkcode watchMount}. */
export interface MountWatch {
  /** Looks at the mount's line now (e.g. before refusing a write as read-only); calls `onChange` if it changed. */
  check(): void;
  /** Stops watching. */
  stop(): void;
}

/**
 * Watches the mount with ID `id` in /proc/self/mountinfo and calls
 * `onChange` with its new state whenever its line changes (a remount). The
 * file is re-read every `intervalMs` (a few KiB; the timer does not keep
 * the process alive) and whenever {@linkcode MountWatch.check} asks: the
 * kernel's read-only → read-write switch is immediate, so the daemon checks
 * before it refuses a change rather than answering EROFS for up to
 * `intervalMs`; the other way the kernel refuses writes itself at once.
 */
export function watchMount(id: string, onChange: (m: MountState) => void, intervalMs = 200): MountWatch {
  const find = () => mountStates().find((m) => m.id === id);
  let last = find()?.line;
  const check = () => {
    let m: MountState | undefined;
    try {
      m = find();
    } catch {
      return;
    }
    if (!m || m.line === last) return;
    last = m.line;
    onChange(m);
  };
  const timer = setInterval(check, intervalMs);
  Deno.unrefTimer(timer);
  return { check, stop: () => clearInterval(timer) };
}
