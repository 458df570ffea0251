/**
 * fsck and POSIX ACL attributes (src/fsck/acls.ts): malformed values and
 * default ACLs on non-directories are found in an xattr block and in an
 * xattr store, and the repair removes just that attribute; valid ACLs and
 * the other attributes stay, and a second run is clean.
 */
import assert from "node:assert/strict";
import { IFL_XATTR_IN_STORE, ROOT_INO } from "../format/constants.ts";
import { ACL_ACCESS_XATTR, ACL_DEFAULT_XATTR, ACL_TAG, encodeAcl } from "../fs/acl.ts";
import { Vexfs } from "../fs/fs.ts";
import { assertFsckClean, tmpImage } from "../fs/_testutil.ts";
import { fsck } from "./fsck.ts";

const enc = new TextEncoder();
const U = 0xffffffff;
const GOOD = encodeAcl([
  { tag: ACL_TAG.USER_OBJ, perm: 6, id: U },
  { tag: ACL_TAG.USER, perm: 6, id: 65534 },
  { tag: ACL_TAG.GROUP_OBJ, perm: 4, id: U },
  { tag: ACL_TAG.MASK, perm: 6, id: U },
  { tag: ACL_TAG.OTHER, perm: 4, id: U },
]);
/** A named entry without the mask it needs: posix_acl_valid says EINVAL. */
const NO_MASK = encodeAcl([
  { tag: ACL_TAG.USER_OBJ, perm: 6, id: U },
  { tag: ACL_TAG.USER, perm: 6, id: 65534 },
  { tag: ACL_TAG.GROUP_OBJ, perm: 4, id: U },
  { tag: ACL_TAG.OTHER, perm: 4, id: U },
]);
/** Not 4 + 8n bytes. */
const TORN = GOOD.subarray(0, GOOD.length - 3);

function codes(img: string): string[] {
  return fsck(img, { force: true }).problems.map((p) => p.code);
}

for (const bs of [1024, 4096]) {
  Deno.test(`fsck (${bs}-byte blocks): bad ACLs in xattr blocks are found and removed, the rest kept`, () => {
    const img = tmpImage(16 << 20, bs);
    try {
      const fs = Vexfs.open(img);
      const ok = fs.create(ROOT_INO, "ok", 0o664);
      fs.setxattr(ok, ACL_ACCESS_XATTR, GOOD);
      fs.setxattr(ok, "user.x", enc.encode("kept"));
      const dir = fs.mkdir(ROOT_INO, "dir", 0o775);
      fs.setxattr(dir, ACL_DEFAULT_XATTR, GOOD);
      const bad = fs.create(ROOT_INO, "bad", 0o664);
      fs.setxattr(bad, ACL_ACCESS_XATTR, NO_MASK);
      fs.setxattr(bad, "user.y", enc.encode("kept too"));
      const alone = fs.create(ROOT_INO, "alone", 0o664);
      fs.setxattr(alone, ACL_ACCESS_XATTR, TORN);
      const dflt = fs.create(ROOT_INO, "default-on-a-file", 0o664);
      fs.setxattr(dflt, ACL_DEFAULT_XATTR, GOOD);
      fs.close();

      const found = fsck(img, { force: true });
      assert.deepEqual(found.problems.map((p) => p.code), ["XATTR_ACL", "XATTR_ACL", "XATTR_ACL"]);
      assert.match(found.problems.map((p) => p.message).join("\n"), /named entries need a mask/);
      assert.match(found.problems.map((p) => p.message).join("\n"), /4 \+ 8n bytes/);
      assert.match(found.problems.map((p) => p.message).join("\n"), /a default ACL on a regular file/);
      const r = fsck(img, { force: true, yes: true });
      assert.equal(r.exitCode, 1, JSON.stringify(r.problems));
      assertFsckClean(img);

      const after = Vexfs.open(img, { readOnly: true });
      try {
        assert.deepEqual(after.getxattr(ok, ACL_ACCESS_XATTR), GOOD);
        assert.deepEqual(after.getxattr(dir, ACL_DEFAULT_XATTR), GOOD);
        assert.deepEqual([...after.listxattr(bad).keys()], ["user.y"]);
        assert.equal(after.listxattr(alone).size, 0);
        assert.equal(after.iget(alone).d.xattrBlock, 0, "the emptied block is freed");
        assert.equal(after.listxattr(dflt).size, 0);
        assert.equal(after.getattr(bad).mode & 0o777, 0o664, "the mode stays");
      } finally {
        after.close();
      }
    } finally {
      Deno.removeSync(img);
    }
  });

  Deno.test(`fsck (${bs}-byte blocks): a bad ACL in an xattr store is found and removed, the rest kept`, () => {
    const img = tmpImage(16 << 20, bs);
    try {
      const fs = Vexfs.open(img);
      const f = fs.create(ROOT_INO, "many", 0o664);
      for (let i = 0; i < 200; i++) fs.setxattr(f, `user.attr${i}`, enc.encode(`value number ${i}`));
      // a large ACL (an external value run in a 1 KiB-block store) with a hole in its order
      const big = encodeAcl([
        { tag: ACL_TAG.USER_OBJ, perm: 6, id: U },
        ...Array.from({ length: 200 }, (_, i) => ({ tag: ACL_TAG.USER, perm: 4, id: 1000 + i })),
        { tag: ACL_TAG.GROUP_OBJ, perm: 4, id: U },
        { tag: ACL_TAG.OTHER, perm: 4, id: U },
      ]);
      fs.setxattr(f, ACL_ACCESS_XATTR, big);
      fs.setxattr(f, ACL_DEFAULT_XATTR, GOOD); // on a file: removed too
      assert.ok(fs.iget(f).d.flags & IFL_XATTR_IN_STORE, "the attributes live in a store");
      fs.close();

      assert.deepEqual(codes(img), ["XATTR_ACL", "XATTR_ACL"]);
      fsck(img, { force: true, yes: true });
      assertFsckClean(img);
      const after = Vexfs.open(img, { readOnly: true });
      try {
        const names = after.xattrNames(f);
        assert.equal(names.length, 200);
        assert.ok(!names.some((n) => n.startsWith("system.")), names.join());
      } finally {
        after.close();
      }
    } finally {
      Deno.removeSync(img);
    }
  });
}
