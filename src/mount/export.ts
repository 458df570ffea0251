/**
 * File handles of a VexFS mount: what FUSE export support asks of the daemon.
 *
 * A handle the kernel makes for a FUSE file (fs/fuse/inode.c
 * `fuse_encode_fh`, type `FILEID_INO64_GEN`) holds the node id and the
 * inode's generation. The node id of a VexFS inode is its inode number (the
 * root's is 1, src/mount/ops.ts) and its generation is the on-disk field
 * (FORMAT.md §4.2), so a handle names the same file across cache drops,
 * remounts and restarts of the daemon. When the kernel has no inode cached
 * for a handle's node id (`fuse_get_dentry`) it sends LOOKUP of "." in that
 * node id, and to reconnect a directory to the tree (`fuse_get_parent`)
 * LOOKUP of ".." — both only if the daemon negotiated
 * `FUSE_CAP_EXPORT_SUPPORT` at init. It then compares the reply's
 * generation with the handle's (a mismatch is ESTALE) and takes a lookup
 * reference like any entry reply (so the daemon counts it and gets a
 * `forget` later). The VFS never sends "." or ".." otherwise.
 *
 * {@linkcode exportLookup} answers those two lookups for any node id, one
 * the kernel has never been given in this session included, and refuses
 * what a handle must not reach: free inodes, inodes with no links left,
 * reserved and internal inodes (journal, collection table, vector stores):
 * ESTALE, as ext4's `ext4_nfs_get_inode` refuses them. It reads only; a
 * forged handle cannot damage the filesystem or record an error.
 * @module
 */
import { FsError } from "../errors.ts";
import { FIRST_INO, IFL_INTERNAL, ROOT_INO, S_IFDIR, S_IFMT } from "../format/constants.ts";
import type { Vexfs } from "../fs/fs.ts";

/** FUSE node id of the root directory (`FUSE_ROOT_ID`). */
const FUSE_ROOT_ID = 1n;

/** Whether a LOOKUP name is "." or ".." — asked only through file handles (see the module doc). */
export function dotName(name: Uint8Array): "." | ".." | undefined {
  if (name.length === 1 && name[0] === 0x2e) return ".";
  if (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e) return "..";
  return undefined;
}

/**
 * The inode a LOOKUP of "." (the inode itself) or ".." (a directory's
 * parent) in FUSE node id `nodeid` names, for a file handle.
 *
 * @param fs the engine
 * @param nodeid the node id from the handle (1 = root; otherwise the inode number)
 * @param name "." or ".."
 * @returns the engine inode number (the root for ".." of the root)
 * @throws FsError ESTALE when `nodeid` is not a file a handle may name now:
 *   out of range, free, reserved (below FIRST_INO, the root's own number 2
 *   included: the root is node 1), internal, or with no links left (an
 *   unlinked file still open is cached by the kernel, which then never
 *   asks); ENOTDIR for ".." of a non-directory; EUCLEAN when the inode is
 *   damaged
 */
export function exportLookup(fs: Vexfs, nodeid: bigint, name: "." | ".."): number {
  if (nodeid === FUSE_ROOT_ID) return ROOT_INO;
  if (nodeid < BigInt(FIRST_INO) || nodeid > BigInt(fs.sb.inodeCount)) {
    throw new FsError("ESTALE", `node id ${nodeid} names no file of this filesystem`);
  }
  const ino = Number(nodeid);
  let d;
  try {
    d = fs.iget(ino).d;
  } catch (e) {
    if (e instanceof FsError && e.code === "ENOENT") {
      throw new FsError("ESTALE", `inode ${ino} is free: the file of this handle was deleted`);
    }
    throw e;
  }
  if (d.flags & IFL_INTERNAL) throw new FsError("ESTALE", `inode ${ino} is internal, not a file`);
  if (d.nlink === 0) throw new FsError("ESTALE", `inode ${ino} has no links left: its file was deleted`);
  if (name === ".") return ino;
  if ((d.mode & S_IFMT) !== S_IFDIR) throw new FsError("ENOTDIR", `inode ${ino} is not a directory`);
  return fs.lookup(ino, "..");
}
