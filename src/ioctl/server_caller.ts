/**
 * Who calls an ioctl of the daemon, and the permission check the commands
 * that check their own files use (docs/IOCTL.md §1 "Permissions"): shared
 * by server.ts and server_hybrid.ts.
 * @module
 */
import type { Inode } from "../format/inode.ts";

/**
 * Who makes the call, as the mount knows it from the FUSE request: the ids
 * `SET_VECTORS`, `INDEX`, `HYBRID` and `TEXT_INDEX` check permissions with
 * (the kernel module will use the caller's credentials).
 */
export interface IoctlCaller {
  /** user id (0 may do anything) */
  uid: number;
  /** primary group (a FUSE request carries no supplementary groups) */
  gid: number;
  /**
   * The mount's own permission check, when it has one: whether the caller
   * may access inode `ino` for `want` (4 read, 2 write, 1 search) by mode,
   * POSIX ACL and supplementary groups (src/mount/acl.ts). Without it the
   * mode is checked with `uid` and `gid` alone.
   */
  permits?: (ino: number, want: number) => boolean;
}

/**
 * Whether `caller` has permission `bit` (4 read, 2 write, 1 search) on inode
 * `ino` (disk inode `d`): uid 0 always; else the caller's own check when it
 * brings one, else by the mode, owner and primary group.
 */
export function permits(caller: IoctlCaller, ino: number, d: Inode, bit: number): boolean {
  if (caller.uid === 0) return true;
  if (caller.permits) return caller.permits(ino, bit);
  const shift = caller.uid === d.uid ? 6 : caller.gid === d.gid ? 3 : 0;
  return ((d.mode >> shift) & bit) !== 0;
}
