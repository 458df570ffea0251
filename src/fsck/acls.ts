/**
 * POSIX ACL attributes as fsck checks them (FORMAT.md §7; the rules are
 * src/fs/acl.ts): `system.posix_acl_access` and `system.posix_acl_default`
 * must hold a value the kernel accepts (version 2, known tags, the order
 * and completeness `posix_acl_valid` asks, at least one entry), and a
 * default ACL belongs to a directory. A mount hands a bad value to the
 * kernel, which then refuses every permission check that needs it (EIO or
 * EINVAL), so the repair removes the attribute: the file keeps its mode
 * bits, which an access ACL had kept in step with it.
 *
 * Pass 1 asks {@linkcode checkBlockAcls} about an inode's xattr block; the
 * xattr store phase asks {@linkcode aclProblem} about each entry of a store.
 * @module
 */
import { S_IFDIR } from "../format/constants.ts";
import { decodeXattrBlock, encodeXattrBlock } from "../format/xattr.ts";
import { ACL_DEFAULT_XATTR, checkAclXattr, isAclXattr } from "../fs/acl.ts";
import { type FsckContext, type InodeInfo, type ProblemContext, typeName } from "./context.ts";

/**
 * Why attribute `name` holding `value` on an inode of file type `type`
 * (S_IFMT bits) is not a usable POSIX ACL, or "" when it is, or is not an
 * ACL attribute at all.
 */
export function aclProblem(name: string, value: Uint8Array, type: number): string {
  if (!isAclXattr(name)) return "";
  const why = checkAclXattr(value);
  if (why) return why;
  if (name === ACL_DEFAULT_XATTR && type !== S_IFDIR) return `a default ACL on a ${typeName(type)}`;
  return "";
}

/**
 * The ACL findings of the xattr block `block` of `info` (a block that
 * decoded): each repair removes that attribute from the block, rewriting
 * it, or frees the block when nothing is left.
 * @returns findings for pass 1 (code `XATTR_ACL`), with their repairs
 */
export function checkBlockAcls(
  ctx: FsckContext,
  info: InodeInfo,
  block: number,
): { code: string; ctx: ProblemContext; fix: () => void }[] {
  let attrs: Map<string, Uint8Array>;
  try {
    attrs = decodeXattrBlock(ctx.readBlock(block), info.ino);
  } catch {
    return []; // reported by the xattr block checks
  }
  const out: { code: string; ctx: ProblemContext; fix: () => void }[] = [];
  for (const [name, value] of attrs) {
    const why = aclProblem(name, value, info.type);
    if (!why) continue;
    out.push({
      code: "XATTR_ACL",
      ctx: { name, why, tail: `xattr block ${block}` },
      fix: () => {
        const d = info.d!;
        if (d.xattrBlock !== block) return; // the block was dropped by another repair
        const now = decodeXattrBlock(ctx.readBlock(block), info.ino);
        now.delete(name);
        if (now.size) {
          ctx.writeBlock(block, encodeXattrBlock(now, ctx.bs, info.ino));
        } else {
          d.xattrBlock = 0;
          d.blocks--;
          ctx.freeBlock(block);
        }
      },
    });
  }
  return out;
}
