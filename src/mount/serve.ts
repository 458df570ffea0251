/**
 * Serving a VexFS device or image on a mountpoint through FUSE: open the
 * engine (which claims the device, so a second mount is refused), mount
 * with libfuse, and on the end of the session (umount, `fusermount3 -u`,
 * SIGINT/SIGTERM, {@linkcode ServedMount.unmount}) write everything back and
 * mark the superblock clean.
 * @module
 */
import { FsError } from "../errors.ts";
import { STATE_DIRTY, STATE_ERROR } from "../format/constants.ts";
import { Device } from "../device/device.ts";
import { Vexfs } from "../fs/fs.ts";
import { type FuseMount, mountFuse } from "../fuse/session.ts";
import { resolve } from "node:path";
import { createVexfsOps } from "./ops.ts";
import { FuseStats, statsEnabled } from "../stats/fuse_stats.ts";
import { MountCounters } from "../stats/report.ts";
import { fuseOptions, type MountOptions } from "./options.ts";
import { listMounts } from "./unmount.ts";
import {
  type MountState,
  mountStates,
  type MountWatch,
  MS,
  remountFlags,
  remountKernelOffThread,
  watchMount,
} from "./remount.ts";

/** A live mount made by {@linkcode serveVexfs}. */
export interface ServedMount {
  /** Absolute mountpoint. */
  readonly mountpoint: string;
  /** Absolute path of the device or image. */
  readonly source: string;
  /**
   * True if the superblock of a filesystem without a journal said it was not
   * cleanly unmounted before this mount (with a journal a crash only means a
   * replay: see {@linkcode ServedMount.recovered}).
   */
  readonly wasDirty: boolean;
  /** True if the superblock records errors met earlier (state ERROR): fsck should repair it. */
  readonly hadErrors: boolean;
  /** What the journal replay at mount did: transactions and blocks replayed (null: no journal or nothing to replay). */
  readonly recovered: { transactions: number; blocks: number } | null;
  /** Orphan inodes (unlinked while open when the previous holder died) freed at mount. */
  readonly recoveredOrphans: number;
  /** Unmounts (as `fusermount3 -u` would) and waits until the filesystem is closed. */
  unmount(): Promise<void>;
  /**
   * Resolves when the session has ended and the filesystem is written back
   * and closed (superblock marked clean); rejects if the final write-back failed.
   */
  readonly closed: Promise<void>;
  /**
   * Settles once the per-mount flags libfuse cannot pass (nodiratime,
   * strictatime, nosymfollow) are set and remounts are followed: a mount
   * reported ready before then could be remounted by its user with the
   * flags still missing, or unseen by the daemon. Never rejects.
   */
  readonly ready: Promise<void>;
}

/** What {@linkcode serveVexfs} needs besides the parsed options. */
export interface ServeOptions {
  /** Log lines (failed requests, commit failures); default: none. */
  log?: (line: string) => void;
  /** Unmount on SIGINT/SIGTERM (default true). */
  handleSignals?: boolean;
}

/**
 * Refuses a directory that is already a mount point (a VexFS mount or any
 * other, live or dead), as mount(8) does, instead of stacking a second
 * mount over it: reads /proc/self/mountinfo.
 * @param mountpoint the directory as given (relative to the working directory or absolute)
 * @throws FsError EBUSY: "DIR is already a mount point of SOURCE (FSTYPE);
 *   unmount it first or choose another directory"
 */
export function checkNotMountPoint(mountpoint: string): void {
  let abs: string;
  try {
    abs = Deno.realPathSync(mountpoint);
  } catch {
    abs = resolve(mountpoint); // a dead FUSE mount does not stat ("Transport endpoint is not connected")
  }
  const m = listMounts().filter((e) => e.mountpoint === abs).at(-1);
  if (m) {
    throw new FsError(
      "EBUSY",
      `${mountpoint} is already a mount point of ${m.source} (${m.fstype}); ` +
        `unmount it first or choose another directory`,
    );
  }
}

/**
 * Mounts the VexFS on `source` at `mountpoint` and serves it from this
 * process until unmounted. Never access the mountpoint synchronously from
 * this process afterwards (its JS thread serves the requests).
 *
 * @param source device or image path
 * @param mountpoint an existing directory
 * @param opts parsed `-o` options
 * @throws FsError EBUSY (before anything else) when `mountpoint` is already
 *   a mount point ({@linkcode checkNotMountPoint}), ENOTDIR/ENOENT for a bad mountpoint, EUCLEAN for a non-VexFS
 *   or damaged image (message says what is wrong), EBUSY when the device is
 *   mounted or in use, EROFS for unsupported read-only features; Error when
 *   libfuse cannot mount (message from libfuse on stderr).
 */
export function serveVexfs(
  source: string,
  mountpoint: string,
  opts: MountOptions,
  serve: ServeOptions = {},
): ServedMount {
  checkNotMountPoint(mountpoint);
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(mountpoint);
  } catch {
    throw new FsError("ENOENT", `mountpoint ${mountpoint} does not exist: create the directory first`);
  }
  if (!st.isDirectory) throw new FsError("ENOTDIR", `mountpoint ${mountpoint} is not a directory`);
  const absSource = Deno.realPathSync(source);
  const absMount = Deno.realPathSync(mountpoint);
  // Claimed exclusively even read-only: a second mount of any kind is refused.
  let m: FuseMount | undefined;
  let watch: MountWatch | undefined;
  const open = (readOnly: boolean) => {
    const dev = Device.open(absSource, { readOnly, exclusive: true });
    try {
      const fs = Vexfs.openDevice(dev, {
        readOnly,
        errors: opts.errors,
        onWarning: (msg) => serve.log?.(`warning: ${msg}`),
      });
      // errors=panic: the engine stops writing and the mount goes away (ext4 would panic the kernel).
      fs.onPanic = () => {
        serve.log?.("errors=panic: unmounting after an error");
        setTimeout(() => m?.unmount().catch((e) => serve.log?.(`unmount after panic failed: ${e}`)), 0);
      };
      return fs;
    } catch (e) {
      dev.close();
      throw e;
    }
  };
  const fs = open(opts.readOnly);
  const recoveredOrphans = fs.recoveredOrphans.length;
  // Counters of requests unless VEXFS_STATS=off; those of the engine always (docs/MONITORING.md).
  const counters = new MountCounters(statsEnabled() ? new FuseStats() : null);
  const v = createVexfsOps(fs, {
    attrTimeout: opts.attrTimeout,
    entryTimeout: opts.entryTimeout,
    commitSeconds: opts.commitSeconds,
    log: serve.log,
    atime: opts.atime,
    nodiratime: opts.nodiratime,
    acl: opts.acl,
    reopen: open,
    recheckReadOnly: () => watch?.check(),
    counters,
  });
  try {
    m = mountFuse(v.ops, absMount, {
      options: fuseOptions(opts, absSource),
      debug: opts.debug,
      handleSignals: serve.handleSignals ?? true,
      attrTimeout: opts.attrTimeout,
      entryTimeout: opts.entryTimeout,
      stats: counters.fuse,
      onError: (e, op) => serve.log?.(`${op}: ${e instanceof Error ? e.stack ?? e.message : String(e)}`),
    });
  } catch (e) {
    v.close();
    throw e;
  }
  const fm = m;
  // Remounts (src/mount/remount.ts): follow the kernel's flags of this mount.
  const follow = (s: MountState) => {
    try {
      v.setReadOnly(s.readOnly);
    } catch (e) {
      serve.log?.(`remount read-write failed, staying read-only: ${e instanceof Error ? e.message : e}`);
    }
    v.setAtime(s.atime, s.nodiratime);
    serve.log?.(`remounted: ${v.readOnly ? "ro" : "rw"},${s.atime}${s.nodiratime ? ",nodiratime" : ""}`);
  };
  let ended = false;
  const self = mountStates().filter((s) => s.mountpoint === absMount).at(-1);
  const flagsSet = self ? applyPerMountFlags(self, opts, serve.log) : Promise.resolve();
  const ready = flagsSet.catch((e) => serve.log?.(`setting the per-mount flags failed: ${e}`)).then(() => {
    if (self && !ended) watch = watchMount(self.id, follow);
  });
  const closed = fm.closed.then(() => {
    ended = true;
    watch?.stop();
    v.close();
  });
  const r = fs.recovery;
  return {
    mountpoint: absMount,
    source: absSource,
    wasDirty: fs.stateAtOpen === STATE_DIRTY,
    hadErrors: fs.stateAtOpen === STATE_ERROR,
    recovered: r?.needed ? { transactions: r.transactions, blocks: r.blocks } : null,
    recoveredOrphans,
    async unmount() {
      await fm.unmount();
      await closed;
    },
    closed,
    ready,
  };
}

/**
 * Sets the per-mount flags libfuse cannot pass (strictatime, nodiratime,
 * nosymfollow) with a bind remount, so that /proc/self/mountinfo, mount(8)
 * and later remounts see the daemon's atime policy. Runs mount(2) on
 * another thread: this one serves the mount's requests. Needs
 * CAP_SYS_ADMIN; without it the daemon still applies the policy itself.
 */
async function applyPerMountFlags(
  self: MountState,
  o: MountOptions,
  log?: (line: string) => void,
): Promise<void> {
  const want = [o.atime, o.nodiratime ? "nodiratime" : "diratime", o.nosymfollow ? "nosymfollow" : "symfollow"];
  const perMount = ~(MS.SYNCHRONOUS | MS.DIRSYNC | MS.LAZYTIME);
  const flags = remountFlags(self, [want.join(",")]) & perMount;
  if ((remountFlags(self, []) & perMount) === flags) return;
  if (!await remountKernelOffThread(self.mountpoint, MS.BIND | flags)) {
    log?.(`could not set ${want.join(",")} on the mount (needs CAP_SYS_ADMIN); applied by the daemon`);
  }
}
