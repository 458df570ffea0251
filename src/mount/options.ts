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
  /** Generic VFS flags passed through to the kernel (nosuid, nodev, noexec, noatime, ...). */
  vfsFlags: string[];
  /** `errors=continue|remount-ro|panic`: what to do on corruption (default: the superblock's, FORMAT.md §3.2). */
  errors?: "continue" | "remount-ro" | "panic";
}

/** Generic mount(8) flags libfuse passes to the kernel. */
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
  "atime",
  "noatime",
]);

/** fstab/mount(8) options that only matter to mount(8) itself; accepted and ignored. */
const IGNORED = new Set(["defaults", "auto", "noauto", "user", "nouser", "users", "nofail", "_netdev", "relatime"]);

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
  ...VFS_FLAGS,
  ...IGNORED,
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
 * ones win, as with mount(8)).
 * @param lists e.g. `["ro,allow_other", "fsname=data"]`
 * @throws FsError EINVAL naming the unknown or malformed option and listing the known ones
 */
export function parseMountOptions(lists: readonly string[]): MountOptions {
  const o: MountOptions = {
    readOnly: false,
    allowOther: false,
    debug: false,
    commitSeconds: 5,
    subtype: "vexfs",
    attrTimeout: 1,
    entryTimeout: 1,
    vfsFlags: [],
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
            throw new FsError("EINVAL", `mount option errors=${v}: use errors=continue, errors=remount-ro or errors=panic`);
          }
          o.errors = v;
          break;
        }
        default:
          if (value === undefined && VFS_FLAGS.has(name)) {
            o.vfsFlags = o.vfsFlags.filter((f) => f !== name);
            o.vfsFlags.push(name);
          } else if (IGNORED.has(name) || name.startsWith("x-")) {
            // fstab-only
          } else {
            throw new FsError(
              "EINVAL",
              `unknown mount option '${opt}'; known options: ${KNOWN_OPTIONS.join(", ")}`,
            );
          }
      }
    }
  }
  o.vfsFlags = o.vfsFlags.filter((f) => f !== "rw");
  return o;
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
