/**
 * Mount options of `vexfs mount -o opt,opt,...`, given the way mount(8) and
 * fstab give them, checked and split into what the engine needs and what
 * libfuse gets (`fuse_session_new` arguments, libfuse lib/mount.c).
 * @module
 */
import { FsError } from "../errors.ts";

/** Parsed mount options. */
export interface MountOptions {
  /** `ro`: open the engine read-only and mount read-only. */
  readOnly: boolean;
  /** `allow_other`: let users other than the mounter access the mount (off by default). */
  allowOther: boolean;
  /** `debug`: libfuse logs every request on stderr (implies foreground). */
  debug: boolean;
  /** `log=FILE`: the daemon's log (failed requests, commits, shutdown); default: none in daemon mode, stderr in foreground. */
  log?: string;
  /** `commit=SECONDS`: write metadata back at most this long after a change (default 5, 0 = only on fsync/unmount). */
  commitSeconds: number;
  /** `fsname=NAME`: the source shown by mount(8) and df (default: the device or image path). */
  fsname?: string;
  /** `subtype=NAME`: shown as type `fuse.NAME` (default `vexfs`). */
  subtype: string;
  /** `attr_timeout=SECONDS` / `entry_timeout=SECONDS`: kernel cache timeouts (default 1). */
  attrTimeout: number;
  /** See {@linkcode MountOptions.attrTimeout}. */
  entryTimeout: number;
  /** Generic VFS flags libfuse passes to the kernel at mount (nosuid, nodev, noexec, noatime, sync, dirsync, ...). */
  vfsFlags: string[];
  /**
   * How reads, readdir and exec update atime, as on ext4 (the kernel's
   * per-mount flags): `relatime` (default) only when atime is not newer than
   * mtime or ctime or is more than 24 h old; `strictatime` always; `noatime` never.
   */
  atime: AtimeMode;
  /** `nodiratime`: directories' atime is never updated (`diratime` undoes it). */
  nodiratime: boolean;
  /** `nosymfollow`: the kernel does not follow symlinks on this mount. */
  nosymfollow: boolean;
  /** `remount`: change the options of the mount on MOUNTPOINT instead of mounting. */
  remount: boolean;
  /**
   * `acl` (the default, as on ext4) / `noacl`: POSIX ACLs enforced and
   * inherited, or refused with EOPNOTSUPP (src/mount/acl.ts). Decided at
   * mount time: FUSE negotiates ACL support once, so a remount cannot change it.
   */
  acl: boolean;
  /** `errors=continue|remount-ro|panic`: what to do on corruption (default: the superblock's, FORMAT.md §3.2). */
  errors?: "continue" | "remount-ro" | "panic";
}

/** The atime policies of mount(8) (see {@linkcode MountOptions.atime}). */
export type AtimeMode = "relatime" | "strictatime" | "noatime";

/** Generic mount(8) flags libfuse (3.14, lib/mount.c) passes to the kernel itself. */
const VFS_FLAGS = new Set([
  "rw",
  "suid",
  "nosuid",
  "dev",
  "nodev",
  "exec",
  "noexec",
  "async",
  "sync",
  "dirsync",
  "noatime",
]);

/**
 * Generic mount(8) flags libfuse does not know (it would hand them to the
 * kernel's FUSE option parser, which refuses them): the daemon applies them
 * (the atime policy) and sets them on the mount itself ({@linkcode MountOptions}).
 */
const DAEMON_FLAGS = new Set([
  "atime",
  "relatime",
  "norelatime",
  "strictatime",
  "nostrictatime",
  "diratime",
  "nodiratime",
  "lazytime",
  "nolazytime",
  "symfollow",
  "nosymfollow",
  "mand",
  "nomand",
  "iversion",
  "noiversion",
  "loud",
  "silent",
]);

/** fstab/mount(8) options that only matter to mount(8) itself; accepted and ignored. */
const IGNORED = new Set([
  "defaults",
  "auto",
  "noauto",
  "user",
  "nouser",
  "users",
  "group",
  "owner",
  "nofail",
  "_netdev",
  "comment",
]);

/** Every option name `vexfs mount -o` accepts (for help and errors). */
export const KNOWN_OPTIONS: readonly string[] = [
  "ro",
  "allow_other",
  "default_permissions",
  "fsname=NAME",
  "subtype=NAME",
  "debug",
  "log=FILE",
  "commit=SECONDS",
  "attr_timeout=SECONDS",
  "entry_timeout=SECONDS",
  "errors=continue|remount-ro|panic",
  "acl",
  "noacl",
  "remount",
  ...VFS_FLAGS,
  ...DAEMON_FLAGS,
  ...IGNORED,
  "x-*",
];

function seconds(name: string, v: string | undefined): number {
  const n = Number(v);
  if (v === undefined || v === "" || !Number.isFinite(n) || n < 0 || n > 86400) {
    throw new FsError("EINVAL", `mount option ${name}=${v ?? ""}: give a number of seconds from 0 to 86400`);
  }
  return n;
}

/**
 * Parses `-o` strings (each may hold several comma-separated options; later
 * ones win, as with mount(8)). With `remount` among them, options that only
 * matter when mounting (mount(8) repeats the mount's own, e.g.
 * `user_id=0,group_id=0,allow_other`) are accepted and ignored.
 * @param lists e.g. `["ro,allow_other", "fsname=data"]`
 * @throws FsError EINVAL naming the unknown or malformed option and listing the known ones
 */
export function parseMountOptions(lists: readonly string[]): MountOptions {
  const remount = lists.some((l) => l.split(",").some((x) => x.trim() === "remount"));
  const o: MountOptions = {
    readOnly: false,
    allowOther: false,
    debug: false,
    commitSeconds: 5,
    subtype: "vexfs",
    attrTimeout: 1,
    entryTimeout: 1,
    vfsFlags: [],
    atime: "relatime",
    nodiratime: false,
    nosymfollow: false,
    acl: true,
    remount,
  };
  for (const list of lists) {
    for (const raw of list.split(",")) {
      const opt = raw.trim();
      if (!opt) continue;
      const eq = opt.indexOf("=");
      const name = eq < 0 ? opt : opt.slice(0, eq);
      const value = eq < 0 ? undefined : opt.slice(eq + 1);
      const needs = (what: string) => {
        if (!value) throw new FsError("EINVAL", `mount option ${name} needs a value: ${name}=${what}`);
        if (value.includes(",")) throw new FsError("EINVAL", `mount option ${name}: the value may not contain ','`);
        return value;
      };
      switch (name) {
        case "ro":
          o.readOnly = true;
          break;
        case "rw":
          o.readOnly = false;
          break;
        case "allow_other":
          o.allowOther = true;
          break;
        case "default_permissions":
          break; // always on: permission checks are the kernel's
        case "debug":
          o.debug = true;
          break;
        case "log":
          o.log = needs("FILE");
          break;
        case "commit":
          o.commitSeconds = seconds(name, value);
          break;
        case "attr_timeout":
          o.attrTimeout = seconds(name, value);
          break;
        case "entry_timeout":
          o.entryTimeout = seconds(name, value);
          break;
        case "fsname":
          o.fsname = needs("NAME");
          break;
        case "subtype":
          o.subtype = needs("NAME");
          break;
        case "errors": {
          const v = needs("continue|remount-ro|panic");
          if (v !== "continue" && v !== "remount-ro" && v !== "panic") {
            throw new FsError(
              "EINVAL",
              `mount option errors=${v}: use errors=continue, errors=remount-ro or errors=panic`,
            );
          }
          o.errors = v;
          break;
        }
        case "acl":
        case "noacl":
          if (value !== undefined) throw new FsError("EINVAL", `mount option ${name} takes no value`);
          o.acl = name === "acl";
          break;
        case "remount":
          break;
        default:
          if (value === undefined && VFS_FLAGS.has(name)) {
            const opposite = name.startsWith("no")
              ? name.slice(2)
              : name === "async"
              ? "sync"
              : name === "sync"
              ? "async"
              : `no${name}`;
            o.vfsFlags = o.vfsFlags.filter((f) => f !== name && f !== opposite);
            o.vfsFlags.push(name);
            if (name === "noatime") o.atime = "noatime";
          } else if (value === undefined && DAEMON_FLAGS.has(name)) {
            daemonFlag(o, name);
          } else if (IGNORED.has(name) || name.startsWith("x-") || remount) {
            // fstab-only (or, on a remount, an option of the mount itself)
          } else {
            throw new FsError(
              "EINVAL",
              `unknown mount option '${opt}'; known options: ${KNOWN_OPTIONS.join(", ")}`,
            );
          }
      }
    }
  }
  o.vfsFlags = o.vfsFlags.filter((f) => f !== "rw" && f !== "noatime");
  if (o.atime === "noatime") o.vfsFlags.push("noatime");
  return o;
}

/**
 * Which of `acl` / `noacl` the `-o` strings ask for (the last one), if any:
 * a remount compares it with the mount's, which it cannot change.
 * @returns true for acl, false for noacl, undefined when neither is given
 */
export function aclOption(lists: readonly string[]): boolean | undefined {
  let v: boolean | undefined;
  for (const list of lists) {
    for (const raw of list.split(",")) {
      const opt = raw.trim();
      if (opt === "acl" || opt === "noacl") v = opt === "acl";
    }
  }
  return v;
}

/**
 * Applies one of {@linkcode DAEMON_FLAGS} as the kernel's path_mount does:
 * relatime is the default; `atime` and `nostrictatime` undo noatime
 * (back to relatime); `norelatime` alone leaves it (the kernel keeps
 * relatime); lazytime, mand, iversion, loud/silent change nothing for FUSE.
 */
function daemonFlag(o: MountOptions, name: string): void {
  switch (name) {
    case "atime":
    case "relatime":
    case "nostrictatime":
      o.atime = "relatime";
      break;
    case "strictatime":
      o.atime = "strictatime";
      break;
    case "diratime":
    case "nodiratime":
      o.nodiratime = name === "nodiratime";
      break;
    case "symfollow":
    case "nosymfollow":
      o.nosymfollow = name === "nosymfollow";
      break;
  }
  if (name === "atime" || name === "strictatime" || name === "relatime" || name === "nostrictatime") {
    o.vfsFlags = o.vfsFlags.filter((f) => f !== "noatime");
  }
}

/**
 * The `-o` list for libfuse (`mountFuse`'s `options`): fsname, subtype,
 * default_permissions, ro, allow_other and the VFS flags.
 * @param o parsed options
 * @param source the device or image path, the default fsname
 */
export function fuseOptions(o: MountOptions, source: string): string[] {
  const out = [
    `fsname=${(o.fsname ?? source).replaceAll(",", "\\,")}`,
    `subtype=${o.subtype}`,
    "default_permissions",
  ];
  if (o.readOnly) out.push("ro");
  if (o.allowOther) out.push("allow_other");
  out.push(...o.vfsFlags);
  return out;
}
