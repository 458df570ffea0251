/**
 * POSIX ACLs on a VexFS FUSE mount, with ext4's semantics (the rules
 * themselves are src/fs/acl.ts). What the kernel does and what is left to
 * the daemon (fs/fuse/acl.c, inode.c, dir.c, fs/posix_acl.c). The division
 * is the same from Linux 6.1 to 6.18: 6.2 moved the VFS to the
 * `get_acl`/`set_acl` inode operations (before, an xattr handler did the
 * same checks) and refuses ACLs of daemons without `FUSE_POSIX_ACL` only in
 * user namespaces other than the initial one; nothing else changed for a
 * daemon. Checked on 6.18 by src/mount/acl_test.ts against ext4.
 *
 * - With `FUSE_POSIX_ACL` granted at init the kernel turns
 *   `default_permissions` on, reads `system.posix_acl_access` and
 *   `system.posix_acl_default` through getxattr, caches them per inode and
 *   enforces them in its permission checks (`generic_permission`). It
 *   drops the cache after its own setattr and ACL changes.
 * - Setting or removing an ACL through the xattr calls is parsed and
 *   checked by the VFS first (`posix_acl_valid`, owner or CAP_FOWNER, a
 *   default ACL only on a directory), then reaches the daemon as
 *   setxattr/removexattr with the kernel's canonical encoding (an empty ACL
 *   as removexattr, whose ENODATA the kernel passes on where ext4 answers
 *   0, so the daemon answers 0). Updating the
 *   mode from an access ACL (`posix_acl_update_mode`: the bits, dropping
 *   an ACL the mode says in full, clearing setgid for a setter outside the
 *   group without CAP_FSETID) is the daemon's job. The kernel would say
 *   whether to clear setgid (`FUSE_SETXATTR_ACL_KILL_SGID`) only through
 *   the extended setxattr request, which libfuse 3.14 does not pass on, so
 *   the daemon decides from the caller's groups and capabilities.
 * - chmod arrives as a plain setattr: rewriting the access ACL's mask (or
 *   group_obj) and user_obj/other to match (`posix_acl_chmod`) is the
 *   daemon's job.
 * - New inodes: the kernel never applies default ACLs for FUSE. It strips
 *   the umask from the mode itself unless `FUSE_DONT_MASK` is granted;
 *   with it, the mode arrives whole with the caller's umask beside it, so
 *   the daemon can ignore the umask when the directory has a default ACL
 *   (`posix_acl_create`) and apply it otherwise.
 *
 * With ACLs off (`-o noacl`) neither capability is asked for: the kernel
 * masks with the umask, never looks at ACLs, and hands ACL xattr calls to
 * the daemon, which refuses them with EOPNOTSUPP and leaves the names out
 * of listxattr, as ext4 mounted `noacl` does. ACLs stored earlier stay on
 * disk untouched.
 * @module
 */
import { FsError } from "../errors.ts";
import { S_IFDIR, S_IFMT } from "../format/constants.ts";
import {
  type Acl,
  ACL_ACCESS_XATTR,
  ACL_DEFAULT_XATTR,
  aclPermits,
  type AclSubject,
  chmodAcl,
  encodeAcl,
  inheritAcl,
  isAclXattr,
  parseAcl,
  updateMode,
} from "../fs/acl.ts";
import type { Vexfs } from "../fs/fs.ts";
import { FUSE_CAP } from "../fuse/abi.ts";
import type { ConnInfo } from "../fuse/session.ts";

/** What a new inode gets from its directory ({@linkcode MountAcls.inherit}). */
export interface Inherited {
  /** st_mode to create the inode with (type and permission bits) */
  mode: number;
  /** access ACL to store on it, or null */
  access: Acl | null;
  /** default ACL to store on it (a new directory), or null */
  default: Acl | null;
}

/** The ACL side of the mount's operations. */
export interface MountAcls {
  /** Whether ACLs are on (asked for with `acl`, the default, and granted by the kernel). */
  readonly enabled: boolean;
  /** At FUSE_INIT: asks for POSIX_ACL and DONT_MASK when ACLs are wanted and the kernel offers them. */
  negotiate(conn: ConnInfo): void;
  /**
   * The mode and ACLs of a new inode made in `dir` with st_mode `mode`
   * (file type included) by a process with umask `umask`.
   */
  inherit(dir: number, mode: number, umask: number): Inherited;
  /** Stores the ACLs of {@linkcode inherit} on the new inode `ino`. */
  applyInherited(ino: number, inh: Inherited): void;
  /** After a chmod of `ino` (its mode already changed): the access ACL follows the mode. */
  chmod(ino: number): void;
  /**
   * setxattr of an ACL attribute. The access ACL sets the mode's bits (or
   * is dropped for the mode alone) and may clear setgid.
   * @param keepSgid the setter is in the file's group or holds CAP_FSETID
   * @throws FsError EOPNOTSUPP with ACLs off; EINVAL for a malformed ACL;
   *   EACCES for a default ACL on a non-directory
   */
  set(ino: number, name: string, value: Uint8Array, keepSgid: boolean): void;
  /**
   * getxattr of an ACL attribute: its value, undefined when there is none
   * (no exception: the kernel asks once per inode a non-owner touches).
   * @throws FsError EOPNOTSUPP with ACLs off
   */
  get(ino: number, name: string): Uint8Array | undefined;
  /** removexattr of an ACL attribute; none there is fine, as on ext4. @throws FsError EOPNOTSUPP with ACLs off */
  remove(ino: number, name: string): void;
  /** The attribute names listxattr shows (ACL names hidden with ACLs off). */
  visible(names: string[]): string[];
  /**
   * Whether `who` may access `ino` for `want` (rwx bits) by its mode and
   * ACL, as the kernel's generic_permission without capabilities.
   */
  permits(ino: number, who: AclSubject, want: number): boolean;
}

/**
 * The ACL handling of one mount.
 * @param engine the engine now serving (a remount may replace it)
 * @param wanted ACLs asked for (`acl`, the default) or not (`noacl`)
 * @param log where to say that the kernel did not grant ACL support
 */
export function mountAcls(engine: () => Vexfs, wanted: boolean, log?: (line: string) => void): MountAcls {
  let enabled = false;
  /** The kernel leaves the umask to us (FUSE_DONT_MASK granted). */
  let dontMask = false;

  /** The ACL `name` of `ino`, or null (no exception when there is none: every create asks). */
  const stored = (ino: number, name: string): Acl | null => {
    const value = engine().findxattr(ino, name);
    if (!value) return null;
    try {
      const acl = parseAcl(value);
      return acl.length ? acl : null;
    } catch (e) {
      throw new FsError("EUCLEAN", `inode ${ino}: ${name} is corrupt: ${e instanceof Error ? e.message : e}`);
    }
  };
  const refuse = (name: string) => {
    if (!enabled) throw new FsError("EOPNOTSUPP", `${name}: the filesystem is mounted noacl`);
  };

  return {
    get enabled() {
      return enabled;
    },

    negotiate(conn) {
      if (!wanted) return;
      const caps = FUSE_CAP.POSIX_ACL | FUSE_CAP.DONT_MASK;
      conn.want |= conn.capable & caps;
      enabled = (conn.capable & FUSE_CAP.POSIX_ACL) !== 0;
      dontMask = enabled && (conn.capable & FUSE_CAP.DONT_MASK) !== 0;
      if (!enabled) log?.("the kernel does not offer POSIX ACL support (FUSE_POSIX_ACL): mounted as noacl");
    },

    inherit(dir, mode, umask) {
      // Without DONT_MASK the kernel has applied the umask already (or ACLs are off).
      if (!enabled) return { mode, access: null, default: null };
      const def = stored(dir, ACL_DEFAULT_XATTR);
      return inheritAcl(def, mode, dontMask ? umask : 0);
    },

    applyInherited(ino, inh) {
      const fs = engine();
      if (inh.default) fs.setxattr(ino, ACL_DEFAULT_XATTR, encodeAcl(inh.default));
      if (inh.access) fs.setxattr(ino, ACL_ACCESS_XATTR, encodeAcl(inh.access));
    },

    chmod(ino) {
      if (!enabled) return;
      const acl = stored(ino, ACL_ACCESS_XATTR);
      if (!acl) return;
      const fs = engine();
      const value = encodeAcl(chmodAcl(acl, fs.iget(ino).d.mode));
      const old = encodeAcl(acl);
      if (old.length === value.length && old.every((b, i) => b === value[i])) return; // unchanged (a setuid kill)
      fs.setxattr(ino, ACL_ACCESS_XATTR, value);
    },

    set(ino, name, value, keepSgid) {
      refuse(name);
      const acl = parseAcl(value);
      const fs = engine();
      const d = fs.iget(ino).d;
      if (name === ACL_DEFAULT_XATTR) {
        if ((d.mode & S_IFMT) !== S_IFDIR) {
          if (acl.length) throw new FsError("EACCES", "a default ACL can only be set on a directory");
          return;
        }
        if (acl.length) store(fs, ino, name, encodeAcl(acl));
        else removeIfThere(fs, ino, name);
        return;
      }
      if (!acl.length) {
        removeIfThere(fs, ino, name);
        return;
      }
      const u = updateMode(acl, d.mode, keepSgid);
      if (u.acl) store(fs, ino, name, encodeAcl(u.acl));
      else removeIfThere(fs, ino, name);
      if (u.mode !== d.mode) fs.setattr(ino, { mode: u.mode & 0o7777 });
    },

    get(ino, name) {
      refuse(name);
      return engine().findxattr(ino, name);
    },

    remove(ino, name) {
      refuse(name);
      removeIfThere(engine(), ino, name); // as ext4: removing an ACL that is not there succeeds
    },

    visible(names) {
      return enabled ? names : names.filter((n) => !isAclXattr(n));
    },

    permits(ino, who, want) {
      const d = engine().iget(ino).d;
      const acl = enabled && d.mode & 0o070 ? stored(ino, ACL_ACCESS_XATTR) : null;
      if (who.uid !== d.uid && acl) return aclPermits(acl, d.uid, d.gid, who, want);
      const shift = who.uid === d.uid ? 6 : who.groups.has(d.gid) ? 3 : 0;
      return ((d.mode >> shift) & want & 7) === (want & 7);
    },
  };
}

/** Stores an ACL value unless it is already there (as ext4, which then leaves ctime alone). */
function store(fs: Vexfs, ino: number, name: string, value: Uint8Array): void {
  const old = fs.findxattr(ino, name);
  if (old && old.length === value.length && old.every((b, i) => b === value[i])) return;
  fs.setxattr(ino, name, value);
}

function removeIfThere(fs: Vexfs, ino: number, name: string): void {
  try {
    fs.removexattr(ino, name);
  } catch (e) {
    if (!(e instanceof FsError && e.code === "ENODATA")) throw e;
  }
}

const PROBE_SYMBOLS = {
  getxattr: { parameters: ["buffer", "buffer", "pointer", "usize"], result: "isize" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

/**
 * Whether POSIX ACLs are on for the mounted filesystem at `path`, told by
 * getxattr(2) of `system.posix_acl_access` on it: EOPNOTSUPP when they are
 * off (`noacl`), a value or ENODATA when on. Used to refuse a remount that
 * asks to switch them (FUSE fixes ACL support at mount time).
 * @param path a file or directory on the mount (a symlink is followed)
 * @returns true or false; null when getxattr fails otherwise (e.g. ENOENT)
 */
export function aclsOnAt(path: string): boolean | null {
  const lib = Deno.dlopen("libc.so.6", PROBE_SYMBOLS);
  try {
    const enc = new TextEncoder();
    const r = lib.symbols.getxattr(enc.encode(path + "\0"), enc.encode(ACL_ACCESS_XATTR + "\0"), null, 0n);
    if (r >= 0) return true;
    const p = lib.symbols.__errno_location();
    const errno = p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
    if (errno === 61) return true; // ENODATA: supported, none set
    if (errno === 95) return false; // EOPNOTSUPP
    return null;
  } finally {
    lib.close();
  }
}
