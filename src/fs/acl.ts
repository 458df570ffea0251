/**
 * POSIX access control lists (POSIX.1e draft 17, as Linux implements them):
 * the value format of the `system.posix_acl_access` and
 * `system.posix_acl_default` extended attributes, their validation, and the
 * rules that tie an ACL to a file's mode bits. Pure functions over values;
 * the FUSE mount applies them (src/mount/acl.ts), fsck checks stored values
 * with {@linkcode checkAclXattr}.
 *
 * The value format is the one the kernel hands to and takes from every
 * filesystem through the xattr interface (`include/uapi/linux/posix_acl_xattr.h`),
 * all little-endian:
 *
 * | off   | type | field     | meaning                                   |
 * | ----- | ---- | --------- | ----------------------------------------- |
 * | 0     | u32  | a_version | 2                                         |
 * | 4+8i  | u16  | e_tag     | 0x01 user_obj, 0x02 user, 0x04 group_obj, 0x08 group, 0x10 mask, 0x20 other |
 * | 6+8i  | u16  | e_perm    | bits 4 read, 2 write, 1 execute           |
 * | 8+8i  | u32  | e_id      | uid or gid for user/group, else 0xffffffff |
 *
 * VexFS stores the value exactly in this form (docs/FORMAT.md §7).
 *
 * The rules follow the kernel's fs/posix_acl.c, which ext4 uses, so that a
 * VexFS mount answers as ext4 does: {@linkcode validateAcl} is
 * `posix_acl_valid`, {@linkcode equivMode} `posix_acl_equiv_mode`,
 * {@linkcode updateMode} `posix_acl_update_mode`, {@linkcode inheritAcl}
 * `posix_acl_create` (with `posix_acl_create_masq`), {@linkcode chmodAcl}
 * `__posix_acl_chmod`, {@linkcode aclPermits} `posix_acl_permission`.
 * @module
 */
import { FsError } from "../errors.ts";

/** Name of the access ACL attribute. */
export const ACL_ACCESS_XATTR = "system.posix_acl_access";
/** Name of the default ACL attribute (directories only). */
export const ACL_DEFAULT_XATTR = "system.posix_acl_default";
/** `a_version` of the xattr form (POSIX_ACL_XATTR_VERSION). */
export const ACL_XATTR_VERSION = 2;
/** `e_id` of entries that name no user or group (ACL_UNDEFINED_ID). */
export const ACL_UNDEFINED_ID = 0xffffffff;

/** Entry tags (linux/posix_acl.h). */
export const ACL_TAG = Object.freeze({
  USER_OBJ: 0x01,
  USER: 0x02,
  GROUP_OBJ: 0x04,
  GROUP: 0x08,
  MASK: 0x10,
  OTHER: 0x20,
});

/** Permission bits of an entry. */
export const ACL_PERM = Object.freeze({ READ: 4, WRITE: 2, EXECUTE: 1 });

/** One ACL entry. */
export interface AclEntry {
  /** one of {@linkcode ACL_TAG} */
  tag: number;
  /** 0..7: read 4, write 2, execute 1 */
  perm: number;
  /** uid (USER) or gid (GROUP); {@linkcode ACL_UNDEFINED_ID} for the other tags */
  id: number;
}

/** An ACL: its entries in order. */
export type Acl = AclEntry[];

const HEADER = 4;
const ENTRY = 8;
const S_IRWXU = 0o700;
const S_IRWXG = 0o070;
const S_IRWXO = 0o007;
const S_IRWXUGO = 0o777;
const S_ISGID = 0o2000;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** Whether `name` is one of the two ACL attributes. */
export function isAclXattr(name: string): boolean {
  return name === ACL_ACCESS_XATTR || name === ACL_DEFAULT_XATTR;
}

/**
 * Decodes an ACL attribute value as the kernel's `posix_acl_from_xattr`
 * does: the tags are checked, the permissions and the order are not (that
 * is {@linkcode validateAcl}).
 * @param value the attribute value
 * @returns the entries; empty for a value that is only the header (the
 *   kernel reads that as "no ACL")
 * @throws FsError EINVAL when the size is not 4 + 8n, a tag is unknown or a
 *   named entry carries the id 0xffffffff; EOPNOTSUPP when a_version is not 2
 */
export function decodeAcl(value: Uint8Array): Acl {
  if (value.length < HEADER || (value.length - HEADER) % ENTRY !== 0) {
    throw new FsError("EINVAL", `an ACL is 4 + 8n bytes, got ${value.length}`);
  }
  const v = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const version = v.getUint32(0, true);
  if (version !== ACL_XATTR_VERSION) {
    throw new FsError("EOPNOTSUPP", `ACL version ${version}, only version ${ACL_XATTR_VERSION} is known`);
  }
  const out: Acl = [];
  for (let off = HEADER; off < value.length; off += ENTRY) {
    const tag = v.getUint16(off, true);
    const perm = v.getUint16(off + 2, true);
    const id = v.getUint32(off + 4, true);
    switch (tag) {
      case ACL_TAG.USER_OBJ:
      case ACL_TAG.GROUP_OBJ:
      case ACL_TAG.MASK:
      case ACL_TAG.OTHER:
        out.push({ tag, perm, id: ACL_UNDEFINED_ID });
        break;
      case ACL_TAG.USER:
      case ACL_TAG.GROUP:
        if (id === ACL_UNDEFINED_ID) {
          throw new FsError("EINVAL", `ACL entry ${out.length}: ${tagName(tag)} entry without a valid id`);
        }
        out.push({ tag, perm, id });
        break;
      default:
        throw new FsError("EINVAL", `ACL entry ${out.length}: unknown tag 0x${tag.toString(16)}`);
    }
  }
  return out;
}

/**
 * Encodes an ACL in the xattr form (`posix_acl_to_xattr`): the ids of
 * entries other than USER and GROUP are written as 0xffffffff.
 * @param acl entries, in the order to store
 * @returns 4 + 8 × entries bytes
 */
export function encodeAcl(acl: Acl): Uint8Array {
  const out = new Uint8Array(HEADER + ENTRY * acl.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, ACL_XATTR_VERSION, true);
  acl.forEach((e, i) => {
    const off = HEADER + ENTRY * i;
    v.setUint16(off, e.tag, true);
    v.setUint16(off + 2, e.perm, true);
    v.setUint32(off + 4, e.tag === ACL_TAG.USER || e.tag === ACL_TAG.GROUP ? e.id : ACL_UNDEFINED_ID, true);
  });
  return out;
}

function tagName(tag: number): string {
  const name = Object.entries(ACL_TAG).find(([, v]) => v === tag)?.[0];
  return name ? name.toLowerCase() : `0x${tag.toString(16)}`;
}

/**
 * Checks the structure of an ACL as `posix_acl_valid` does: permissions
 * within rwx; exactly one USER_OBJ, then any USER entries, exactly one
 * GROUP_OBJ, then any GROUP entries, a MASK (required when there is a
 * named entry), exactly one OTHER, in that order. (Like the kernel, the
 * order of ids among named entries is not checked.)
 * @throws FsError EINVAL naming the first offending entry
 */
export function validateAcl(acl: Acl): void {
  // states: 1 expect user_obj, 2 in users, 3 in groups, 4 after mask, 0 done
  let state = 1;
  let needsMask = false;
  const bad = (i: number, why: string) => new FsError("EINVAL", `invalid ACL: entry ${i} (${why})`);
  acl.forEach((e, i) => {
    if (e.perm & ~7) throw bad(i, `permission bits 0x${e.perm.toString(16)}`);
    switch (e.tag) {
      case ACL_TAG.USER_OBJ:
        if (state !== 1) throw bad(i, "user_obj not first or repeated");
        state = 2;
        break;
      case ACL_TAG.USER:
        if (state !== 2) throw bad(i, "user entry out of order");
        needsMask = true;
        break;
      case ACL_TAG.GROUP_OBJ:
        if (state !== 2) throw bad(i, "group_obj out of order or repeated");
        state = 3;
        break;
      case ACL_TAG.GROUP:
        if (state !== 3) throw bad(i, "group entry out of order");
        needsMask = true;
        break;
      case ACL_TAG.MASK:
        if (state !== 3) throw bad(i, "mask out of order or repeated");
        state = 4;
        break;
      case ACL_TAG.OTHER:
        if (state === 4 || (state === 3 && !needsMask)) {
          state = 0;
          break;
        }
        throw bad(i, needsMask && state === 3 ? "named entries need a mask" : "other out of order or repeated");
      default:
        throw bad(i, `unknown tag 0x${e.tag.toString(16)}`);
    }
  });
  if (state !== 0) throw new FsError("EINVAL", "invalid ACL: user_obj, group_obj and other entries are required");
}

/**
 * Decodes and validates an ACL attribute value (what the kernel does to a
 * value given to setxattr).
 * @returns the entries, empty when the value is only the header
 * @throws FsError EINVAL or EOPNOTSUPP as {@linkcode decodeAcl} and {@linkcode validateAcl}
 */
export function parseAcl(value: Uint8Array): Acl {
  const acl = decodeAcl(value);
  if (acl.length) validateAcl(acl);
  return acl;
}

/**
 * Why a stored ACL attribute value is not one the kernel would accept
 * (for fsck), or null when it is fine.
 */
export function checkAclXattr(value: Uint8Array): string | null {
  try {
    const acl = parseAcl(value);
    return acl.length ? null : "an ACL with no entries";
  } catch (e) {
    return e instanceof Error ? e.message.replace(/^[A-Z0-9]+: /, "") : String(e);
  }
}

/**
 * The mode an ACL stands for, and whether the mode says all of it
 * (`posix_acl_equiv_mode`): user_obj → owner bits, group_obj → group bits,
 * other → other bits, a mask → group bits (and the ACL is then not
 * equivalent, nor with any named entry).
 * @param acl a valid ACL
 * @param mode st_mode whose type and setuid/setgid/sticky bits are kept
 * @returns `mode` with its rwx bits from the ACL, and `equiv` true when the
 *   ACL can be dropped in favour of the mode
 */
export function equivMode(acl: Acl, mode: number): { mode: number; equiv: boolean } {
  let bits = 0;
  let equiv = true;
  for (const e of acl) {
    const p = e.perm & 7;
    switch (e.tag) {
      case ACL_TAG.USER_OBJ:
        bits |= p << 6;
        break;
      case ACL_TAG.GROUP_OBJ:
        bits |= p << 3;
        break;
      case ACL_TAG.OTHER:
        bits |= p;
        break;
      case ACL_TAG.MASK:
        bits = (bits & ~S_IRWXG) | (p << 3);
        equiv = false;
        break;
      default:
        equiv = false;
    }
  }
  return { mode: (mode & ~S_IRWXUGO) | bits, equiv };
}

/**
 * Setting an access ACL (`posix_acl_update_mode`, as ext4_set_acl uses
 * it): the file's mode takes the ACL's bits; an ACL the mode says in full is
 * not stored (null); and the setgid bit goes unless the setter is in the
 * file's group or holds CAP_FSETID.
 * @param acl the new, valid access ACL
 * @param mode the file's st_mode now
 * @param keepSgid the setter is in the file's group or holds CAP_FSETID
 * @returns the new mode and the ACL to store (null: remove the attribute)
 */
export function updateMode(acl: Acl, mode: number, keepSgid: boolean): { mode: number; acl: Acl | null } {
  const r = equivMode(acl, mode);
  const m = keepSgid ? r.mode : r.mode & ~S_ISGID;
  return { mode: m, acl: r.equiv ? null : acl };
}

/**
 * What a new inode gets from its directory's default ACL (`posix_acl_create`
 * with `posix_acl_create_masq`). Without a default ACL the umask applies.
 * With one, the umask is ignored: the access ACL is the default ACL with
 * user_obj, other and the mask (group_obj without a mask) cut down to the
 * mode asked for, and the mode cut down to them; it is dropped when the
 * mode says it all. A new directory also gets the default ACL as its own
 * default. Symbolic links get nothing and keep their mode.
 * @param def the directory's default ACL (valid), or null
 * @param mode st_mode asked for, with the file type
 * @param umask the creating process's umask
 * @returns the mode, the access ACL to store (or null), the default ACL to store (or null)
 */
export function inheritAcl(
  def: Acl | null,
  mode: number,
  umask: number,
): { mode: number; access: Acl | null; default: Acl | null } {
  if ((mode & S_IFMT) === S_IFLNK) return { mode, access: null, default: null };
  if (!def || def.length === 0) return { mode: mode & ~(umask & S_IRWXUGO), access: null, default: null };
  const acl = def.map((e) => ({ ...e }));
  let m = mode;
  let equiv = true;
  let groupObj: AclEntry | undefined;
  let maskObj: AclEntry | undefined;
  for (const e of acl) {
    switch (e.tag) {
      case ACL_TAG.USER_OBJ:
        e.perm &= (m >> 6) & 7;
        m &= (e.perm << 6) | ~S_IRWXU;
        break;
      case ACL_TAG.USER:
      case ACL_TAG.GROUP:
        equiv = false;
        break;
      case ACL_TAG.GROUP_OBJ:
        groupObj = e;
        break;
      case ACL_TAG.OTHER:
        e.perm &= m & 7;
        m &= e.perm | ~S_IRWXO;
        break;
      case ACL_TAG.MASK:
        maskObj = e;
        equiv = false;
        break;
      default:
        throw new FsError("EIO", `default ACL with unknown tag 0x${e.tag.toString(16)}`);
    }
  }
  const g = maskObj ?? groupObj;
  if (!g) throw new FsError("EIO", "default ACL without a group_obj entry");
  g.perm &= (m >> 3) & 7;
  m &= (g.perm << 3) | ~S_IRWXG;
  return {
    mode: m,
    access: equiv ? null : acl,
    default: (mode & S_IFMT) === S_IFDIR ? def.map((e) => ({ ...e })) : null,
  };
}

/**
 * The access ACL after a chmod (`__posix_acl_chmod`): user_obj and other
 * take the owner and other bits; the mask takes the group bits, or
 * group_obj does when there is no mask. Named entries are kept.
 * @param acl a valid access ACL
 * @param mode the new st_mode
 * @returns a new ACL
 * @throws FsError EIO for an ACL with neither mask nor group_obj
 */
export function chmodAcl(acl: Acl, mode: number): Acl {
  const out = acl.map((e) => ({ ...e }));
  let groupObj: AclEntry | undefined;
  let maskObj: AclEntry | undefined;
  for (const e of out) {
    if (e.tag === ACL_TAG.USER_OBJ) e.perm = (mode & S_IRWXU) >> 6;
    else if (e.tag === ACL_TAG.OTHER) e.perm = mode & S_IRWXO;
    else if (e.tag === ACL_TAG.GROUP_OBJ) groupObj = e;
    else if (e.tag === ACL_TAG.MASK) maskObj = e;
  }
  const g = maskObj ?? groupObj;
  if (!g) throw new FsError("EIO", "access ACL without a mask or group_obj entry");
  g.perm = (mode & S_IRWXG) >> 3;
  return out;
}

/** Who asks, for {@linkcode aclPermits}. */
export interface AclSubject {
  /** filesystem uid */
  uid: number;
  /** filesystem gid and supplementary groups */
  groups: ReadonlySet<number>;
}

/**
 * Whether an ACL grants `want` (`posix_acl_permission`): the owner gets
 * user_obj; a named user its entry masked by the mask; a member of the
 * owning or a named group the first of those entries that grants all of
 * `want`, masked (a member of a matching group that grants nothing is
 * refused); anyone else other. Capabilities (root) are the caller's business.
 * @param acl a valid access ACL
 * @param owner the file's uid
 * @param group the file's gid
 * @param who the caller
 * @param want bits of rwx (4 read, 2 write, 1 execute)
 */
export function aclPermits(acl: Acl, owner: number, group: number, who: AclSubject, want: number): boolean {
  want &= 7;
  const mask = acl.find((e) => e.tag === ACL_TAG.MASK)?.perm ?? 7;
  let found = false;
  for (const e of acl) {
    switch (e.tag) {
      case ACL_TAG.USER_OBJ:
        if (who.uid === owner) return (e.perm & want) === want;
        break;
      case ACL_TAG.USER:
        if (who.uid === e.id) return (e.perm & mask & want) === want;
        break;
      case ACL_TAG.GROUP_OBJ:
      case ACL_TAG.GROUP:
        if (who.groups.has(e.tag === ACL_TAG.GROUP_OBJ ? group : e.id)) {
          found = true;
          if ((e.perm & want) === want) return (e.perm & mask & want) === want;
        }
        break;
      case ACL_TAG.OTHER:
        return !found && (e.perm & want) === want;
    }
  }
  return false;
}
