/**
 * The command line's side of the administration ioctls (docs/IOCTL.md
 * §3.13, §3.14): {@linkcode mountStats} (`VEXFS_IOC_STATS`, for `vexfs
 * stats` and `vexfs info` on a mount) and {@linkcode dropCollection}
 * (`VEXFS_IOC_DROP_COLLECTION`, `vexfs collection drop` on a mount). The
 * descriptor handling and the common error messages are client.ts's.
 * @module
 */
import { ERRNO } from "../errors.ts";
import type { StatsReport } from "../stats/report.ts";
import { errnoFsError, VEXFS_IOC_DROP_COLLECTION, VEXFS_IOC_STATS } from "./abi.ts";
import {
  decodeDropCollectionReply,
  decodeStatsReply,
  type DropReply,
  encodeDropCollection,
  encodeStats,
} from "./abi_admin.ts";
import { commonError, ioctl, isVexfs, withFd } from "./client.ts";

const ENOTTY = 25;

/**
 * The counters of the daemon serving the mount that holds `path`
 * (`VEXFS_IOC_STATS`).
 * @param path any file or directory on the mount
 * @throws FsError ENOTTY when the daemon is older than the ioctl (the
 *   message says to remount), ENOTTY/EOPNOTSUPP when `path` is not on a
 *   VexFS mount, ENOENT/EACCES for the path, EIO for a malformed reply
 */
export async function mountStats(path: string): Promise<StatsReport> {
  return await withFd(path, async (fd) => {
    const buf = encodeStats();
    const r = await ioctl(fd, VEXFS_IOC_STATS, buf);
    if (r >= 0) return decodeStatsReply(buf);
    const e = -r;
    if (e === ENOTTY && (await isVexfs(fd))) {
      throw errnoFsError(
        e,
        `${path}: the VexFS daemon serving this mount is older than VEXFS_IOC_STATS; remount it with this vexfs`,
      );
    }
    throw commonError(e, path, "read the daemon's counters") ?? errnoFsError(e, `${path}: cannot read the counters`);
  });
}

/**
 * Drops the collection whose root directory is `dir` on a mount
 * (`VEXFS_IOC_DROP_COLLECTION`): the collection, its vectors and its index
 * go; the directory and its files stay.
 * @throws FsError ENODATA (`dir` is in no collection), EINVAL (`dir` is
 *   inside a collection but not its root), ENOTDIR, EROFS, EACCES (the
 *   caller may not write `dir`), ENOTTY (an older daemon: unmount and drop
 *   offline), EUCLEAN
 */
export async function dropCollection(dir: string): Promise<DropReply> {
  return await withFd(dir, async (fd) => {
    const buf = encodeDropCollection();
    const r = await ioctl(fd, VEXFS_IOC_DROP_COLLECTION, buf);
    if (r >= 0) return decodeDropCollectionReply(buf);
    const e = -r;
    if (e === ENOTTY && (await isVexfs(fd))) {
      throw errnoFsError(
        e,
        `${dir}: the VexFS daemon serving this mount is older than VEXFS_IOC_DROP_COLLECTION; remount it with ` +
          `this vexfs, or unmount and run 'vexfs collection drop IMAGE DIR'`,
      );
    }
    const common = commonError(e, dir, "drop the collection");
    if (common) throw common;
    if (e === ERRNO.ENODATA) throw errnoFsError(e, `${dir} is not inside a vector collection`);
    if (e === ERRNO.ENOTDIR) throw errnoFsError(e, `${dir} is not a directory; give the collection's root`);
    if (e === ERRNO.EINVAL) {
      throw errnoFsError(e, `${dir} is inside a collection but is not its root; give the collection's root directory`);
    }
    throw errnoFsError(e, `${dir}: cannot drop the collection`);
  });
}
