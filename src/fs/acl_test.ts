import { assert, assertEquals } from "../test_assert.ts";
import { FsError } from "../errors.ts";
import {
  type Acl,
  ACL_TAG as T,
  ACL_UNDEFINED_ID as U,
  aclPermits,
  checkAclXattr,
  chmodAcl,
  decodeAcl,
  encodeAcl,
  equivMode,
  inheritAcl,
  parseAcl,
  updateMode,
  validateAcl,
} from "./acl.ts";

/** An ACL from "u::rw,u:1000:r,g::r,g:50:rwx,m::rw,o::" style text (ids numeric). */
function acl(text: string): Acl {
  return text.split(",").map((s) => {
    const [t, id, p] = s.split(":");
    const perm = (p.includes("r") ? 4 : 0) | (p.includes("w") ? 2 : 0) | (p.includes("x") ? 1 : 0);
    const tag = t === "u"
      ? (id ? T.USER : T.USER_OBJ)
      : t === "g"
      ? (id ? T.GROUP : T.GROUP_OBJ)
      : t === "m"
      ? T.MASK
      : T.OTHER;
    return { tag, perm, id: id ? Number(id) : U };
  });
}

function errno(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof FsError) return e.code;
    throw e;
  }
  return "none";
}

Deno.test("encodeAcl/decodeAcl: the kernel's xattr form, little-endian, undefined ids for unnamed entries", () => {
  const a = acl("u::rw,u:1000:r,g::r,m::r,o::");
  const bytes = encodeAcl(a);
  assertEquals(bytes.length, 4 + 8 * 5);
  // setfacl -m u:1000:r on a 0644 file, as ext4 returns it from getxattr
  assertEquals(
    [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(""),
    "02000000" + "01000600ffffffff" + "02000400e8030000" + "04000400ffffffff" + "10000400ffffffff" +
      "20000000ffffffff",
  );
  assertEquals(decodeAcl(bytes), a);
  assertEquals(decodeAcl(encodeAcl([])), []);
});

Deno.test("decodeAcl: bad sizes, versions, tags and named entries without an id are refused", () => {
  const good = encodeAcl(acl("u::rw,g::r,o::r"));
  assertEquals(errno(() => decodeAcl(good.subarray(0, 3))), "EINVAL");
  assertEquals(errno(() => decodeAcl(good.subarray(0, good.length - 1))), "EINVAL");
  const v3 = good.slice();
  v3[0] = 3;
  assertEquals(errno(() => decodeAcl(v3)), "EOPNOTSUPP");
  const badTag = good.slice();
  badTag[4] = 0x40;
  assertEquals(errno(() => decodeAcl(badTag)), "EINVAL");
  const named = encodeAcl([{ tag: T.USER_OBJ, perm: 6, id: U }]).slice();
  named[4] = T.USER;
  assertEquals(errno(() => decodeAcl(named)), "EINVAL");
});

Deno.test("validateAcl: posix_acl_valid's order and completeness rules", () => {
  for (const ok of ["u::rw,g::r,o::r", "u::rw,u:1:r,g::r,m::r,o::", "u::rw,g::r,g:5:w,m::rw,o::", "u::,g::,m::,o::"]) {
    validateAcl(acl(ok));
  }
  for (
    const bad of [
      "u::rw,g::r", // no other
      "g::r,u::rw,o::r", // order
      "u::rw,u::r,g::r,o::r", // two user_obj
      "u::rw,u:1:r,g::r,o::r", // named without mask
      "u::rw,g::r,u:1:r,m::r,o::r", // user after group
      "u::rw,g::r,m::r,m::r,o::r", // two masks
      "u::rw,g::r,o::r,o::r", // two others
    ]
  ) {
    assertEquals(errno(() => validateAcl(acl(bad))), "EINVAL", bad);
  }
  assertEquals(errno(() => validateAcl([...acl("u::rw,g::r"), { tag: T.OTHER, perm: 8, id: U }])), "EINVAL");
  // the kernel does not check the order of ids among named entries
  validateAcl(acl("u::rw,u:9:r,u:2:r,g::r,m::r,o::"));
  assertEquals(parseAcl(encodeAcl([])), []);
  assertEquals(checkAclXattr(encodeAcl(acl("u::rw,g::r,o::r"))), null);
  assert(checkAclXattr(encodeAcl(acl("u::rw,g::r")))?.includes("required"));
  assertEquals(checkAclXattr(encodeAcl([])), "an ACL with no entries");
});

Deno.test("equivMode/updateMode: the mode follows the ACL; a minimal ACL is dropped; setgid kept only when allowed", () => {
  assertEquals(equivMode(acl("u::rwx,g::r,o::"), 0o100644), { mode: 0o100740, equiv: true });
  assertEquals(equivMode(acl("u::rw,g::rwx,m::r,o::r"), 0o100000), { mode: 0o100644, equiv: false });
  assertEquals(equivMode(acl("u::rw,u:5:rw,g::r,m::rw,o::"), 0o102777), { mode: 0o102660, equiv: false });
  assertEquals(updateMode(acl("u::rw,g::r,o::r"), 0o102755, true), { mode: 0o102644, acl: null });
  const named = acl("u::rw,u:5:rw,g::r,m::rw,o::");
  assertEquals(updateMode(named, 0o102755, false), { mode: 0o100660, acl: named });
});

Deno.test("chmodAcl: user_obj, other and the mask (group_obj without a mask) follow the mode", () => {
  assertEquals(chmodAcl(acl("u::rw,u:5:rw,g::r,m::rw,o::r"), 0o100750), acl("u::rwx,u:5:rw,g::r,m::rx,o::"));
  assertEquals(chmodAcl(acl("u::rw,g::r,o::r"), 0o100700), acl("u::rwx,g::,o::"));
  assertEquals(errno(() => chmodAcl(acl("u::rw,o::r"), 0o600)), "EIO");
});

Deno.test("inheritAcl: posix_acl_create — the umask only without a default ACL, masq cuts ACL and mode", () => {
  assertEquals(inheritAcl(null, 0o100666, 0o022), { mode: 0o100644, access: null, default: null });
  assertEquals(inheritAcl(null, 0o120777, 0o022).mode, 0o120777); // symlinks: never masked
  const def = acl("u::rwx,u:65534:rwx,g::rx,m::rwx,o::");
  const f = inheritAcl(def, 0o100666, 0o077);
  assertEquals(f, { mode: 0o100660, access: acl("u::rw,u:65534:rwx,g::rx,m::rw,o::"), default: null });
  const d = inheritAcl(def, 0o042777, 0o077);
  assertEquals(d, { mode: 0o042770, access: acl("u::rwx,u:65534:rwx,g::rx,m::rwx,o::"), default: def });
  // a minimal default ACL gives no access ACL; group_obj plays the mask
  assertEquals(inheritAcl(acl("u::rwx,g::rx,o::"), 0o100666, 0o077), {
    mode: 0o100640,
    access: null,
    default: null,
  });
  assertEquals(inheritAcl(def, 0o120777, 0).access, null);
  // the default ACL itself is not changed by inheriting from it
  assertEquals(def, acl("u::rwx,u:65534:rwx,g::rx,m::rwx,o::"));
});

Deno.test("aclPermits: owner, named user under the mask, groups (first granting), other", () => {
  const a = acl("u::r,u:7:rw,g::r,g:50:rw,m::r,o::r");
  const who = (uid: number, ...groups: number[]) => ({ uid, groups: new Set(groups) });
  assert(aclPermits(a, 1, 2, who(1), 4));
  assert(!aclPermits(a, 1, 2, who(1), 2)); // the owner's entry, not the mask or others
  assert(aclPermits(a, 1, 2, who(7), 4));
  assert(!aclPermits(a, 1, 2, who(7), 2)); // masked
  assert(aclPermits(a, 1, 2, who(8, 50), 4));
  assert(!aclPermits(a, 1, 2, who(8, 50), 2)); // masked
  assert(aclPermits(a, 1, 2, who(9, 99), 4)); // other
  const g = acl("u::rw,g::,g:50:,m::rwx,o::r");
  assert(!aclPermits(g, 1, 2, who(9, 50), 4)); // in a matching group that grants nothing: not other
  assert(aclPermits(g, 1, 2, who(9, 51), 4));
  assertEquals(errno(() => validateAcl(acl("u::rw,g::,g:50:,o::r"))), "EINVAL");
});
