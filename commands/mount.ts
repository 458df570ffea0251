/**
 * `vexfs mount` and `vexfs umount`: serve a VexFS device or image through
 * FUSE (src/mount/) in the background (default) or the foreground, and
 * unmount it, waiting until the daemon has written everything back.
 * @module
 */
import { type Command, Option } from "commander";
import { FsError } from "../src/errors.ts";
import { detachStdio, newSession } from "../src/mount/daemon.ts";
import { aclOption, KNOWN_OPTIONS, type MountOptions, parseMountOptions } from "../src/mount/options.ts";
import { aclsOnAt } from "../src/mount/acl.ts";
import { vexfsArgv } from "../src/mount/self.ts";
import { checkNotMountPoint, type ServedMount, serveVexfs } from "../src/mount/serve.ts";
import { findMount, unmountAndWait } from "../src/mount/unmount.ts";
import { mountStates, remountFlags, remountKernel } from "../src/mount/remount.ts";
import { action, CliError, defineCommand, deprecatedAlias, examples, warn } from "./util.ts";

const READY = "vexfs-mount-ready";

function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

function parseOpts(lists: string[]): MountOptions {
  try {
    return parseMountOptions(lists);
  } catch (e) {
    throw new CliError(e instanceof Error ? e.message.replace(/^EINVAL: /, "") : String(e));
  }
}

function mountError(source: string, mountpoint: string, e: unknown): CliError {
  if (e instanceof FsError) {
    const msg = e.message.replace(/^[A-Z0-9]+: /, "");
    switch (e.code) {
      case "EBUSY":
        if (msg.includes("is already a mount point")) return new CliError(msg);
        return new CliError(
          `${source} is already mounted or in use by another process (a second mount is refused): ${msg}`,
        );
      case "EUCLEAN":
        return new CliError(`cannot mount ${source}: ${msg}. Check it with 'vexfs fsck ${source}'.`);
      case "ENOENT":
        if (msg.includes("mountpoint")) return new CliError(msg);
        return new CliError(`${source}: no such image file or device`);
      default:
        return new CliError(`cannot mount ${source} on ${mountpoint}: ${msg}`);
    }
  }
  if (e instanceof Deno.errors.NotFound) return new CliError(`${source}: no such image file or device`);
  return new CliError(`cannot mount ${source} on ${mountpoint}: ${e instanceof Error ? e.message : String(e)}`);
}

/** Serves in this process until unmounted; `onReady` runs once the mount is live. */
async function serveForeground(
  source: string,
  mountpoint: string,
  o: MountOptions,
  onReady: (m: ServedMount) => void,
): Promise<number> {
  let logFile: Deno.FsFile | undefined;
  const enc = new TextEncoder();
  let log: ((l: string) => void) | undefined;
  if (o.log) {
    logFile = Deno.openSync(o.log, { append: true, create: true });
    log = (l) => logFile!.writeSync(enc.encode(`${new Date().toISOString()} ${l}\n`));
  } else if (o.debug) {
    log = (l) => warn(`vexfs: ${l}`);
  }
  let m: ServedMount;
  try {
    m = serveVexfs(source, mountpoint, o, { log });
  } catch (e) {
    throw mountError(source, mountpoint, e);
  }
  await m.ready; // the per-mount flags are set and remounts followed before anyone is told
  log?.(`mounted ${m.source} on ${m.mountpoint}${o.readOnly ? " read-only" : ""}`);
  onReady(m);
  try {
    await m.closed;
  } catch (e) {
    log?.(`unmount failed to write everything back: ${e instanceof Error ? e.message : e}`);
    throw new CliError(`unmounted ${m.mountpoint}, but writing back failed: ${e instanceof Error ? e.message : e}`);
  }
  log?.(`unmounted ${m.mountpoint}; ${m.source} is clean`);
  logFile?.close();
  return 0;
}

/**
 * Where setsid(1) is: mount(8) runs mount.fuse3, and so `vexfs`, without a
 * PATH; the usual directories are searched then.
 */
function setsidPath(): string {
  const dirs = (Deno.env.get("PATH") ?? "").split(":").filter(Boolean);
  for (const d of [...dirs, "/usr/bin", "/bin", "/usr/sbin", "/sbin"]) {
    try {
      if (Deno.statSync(`${d}/setsid`).isFile) return `${d}/setsid`;
    } catch { /* next */ }
  }
  return "setsid";
}

/**
 * Starts the daemon and waits for its "ready" line (or its failure). Deno
 * kills its own children when it exits, so the daemon is started through
 * `setsid -f` (util-linux): a grandchild in a new session, which keeps
 * serving after this process has returned.
 */
async function startDaemon(args: string[]): Promise<number> {
  const argv = vexfsArgv(["mount", "--daemon-child", ...args]);
  const child = new Deno.Command(setsidPath(), {
    args: ["-f", ...argv],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  const relay = child.stderr.pipeTo(Deno.stderr.writable, { preventClose: true }).catch(() => {});
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  let timedOut = false;
  const deadline = setTimeout(() => {
    timedOut = true;
    reader.cancel().catch(() => {});
  }, 60_000);
  try {
    while (!seen.includes(READY)) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
  } catch {
    // cancelled by the timeout
  } finally {
    clearTimeout(deadline);
  }
  await child.status;
  await relay; // ends when the daemon exits or detaches its stderr
  if (seen.includes(READY)) return 0;
  if (timedOut) throw new CliError("the mount daemon did not become ready within 60 s");
  return 1;
}

/** What a person should know about the filesystem just mounted: a journal replay, errors, an unclean one. */
function mountNotes(m: ServedMount): void {
  if (m.recovered) {
    warn(
      `vexfs: ${m.source}: recovered the journal: ${m.recovered.transactions} transaction(s), ` +
        `${m.recovered.blocks} block(s) replayed`,
    );
  }
  if (m.hadErrors) {
    warn(`vexfs: warning: ${m.source} has errors recorded; run 'vexfs fsck -y' on it after unmounting`);
  }
  if (m.wasDirty) {
    warn(`vexfs: warning: ${m.source} was not cleanly unmounted; run 'vexfs fsck' on it after unmounting`);
  }
}

/**
 * `vexfs mount -o remount,OPTS MOUNTPOINT` (also what mount.fuse3 runs for
 * `mount -o remount,... MOUNTPOINT` as `vexfs SOURCE MOUNTPOINT -o
 * remount,...`): mount(2) with MS_REMOUNT and the mount's flags changed by
 * OPTS, as mount(8) does; the daemon follows the new flags
 * (src/mount/remount.ts). Options that only matter when mounting are ignored.
 */
function remount(mountpoint: string, lists: string[]): number {
  let abs = mountpoint;
  try {
    abs = Deno.realPathSync(mountpoint);
  } catch { /* compared as given */ }
  const cur = mountStates().filter((m) => m.mountpoint === abs).at(-1);
  if (!cur) throw new CliError(`${mountpoint} is not a mountpoint: remount needs a mounted VexFS`);
  if (!cur.fstype.startsWith("fuse")) {
    throw new CliError(`${mountpoint} is a ${cur.fstype} mount, not VexFS: use mount(8)`);
  }
  const acl = aclOption(lists);
  const aclNow = acl === undefined ? null : aclsOnAt(abs);
  if (acl !== undefined && aclNow !== null && acl !== aclNow) {
    throw new CliError(
      `${mountpoint} is mounted ${aclNow ? "acl" : "noacl"}; a remount cannot change that (FUSE settles ACL ` +
        `support when mounting): unmount and mount again with -o ${acl ? "acl" : "noacl"}`,
    );
  }
  try {
    remountKernel(abs, remountFlags(cur, lists));
  } catch (e) {
    const msg = e instanceof Error ? e.message.replace(/^[A-Z]+: /, "") : String(e);
    if (e instanceof FsError && e.code === "EBUSY") {
      throw new CliError(`${msg} (files are open for writing: close them before remounting read-only)`);
    }
    if (e instanceof FsError && e.code === "EPERM") throw new CliError(`${msg} (remount needs root)`);
    throw new CliError(msg);
  }
  return 0;
}

/** Registers `vexfs mount` and `vexfs umount`. */
export function register(program: Command): void {
  const cmd = defineCommand(program, "mount", "mount a VexFS device or image with FUSE")
    .argument("<source>", "block device or image file holding a VexFS filesystem (DEVICE|IMAGE)")
    .argument("[mountpoint]", "existing directory to mount on (with -o remount: the only argument, or after SOURCE)")
    .option("-o, --options <list>", "mount options, comma-separated (repeatable); see below", collect)
    .option("--foreground", "stay in the foreground and serve until unmounted (Ctrl-C unmounts)")
    .option("--debug", "like -o debug: log every FUSE request on stderr (implies --foreground)")
    .addOption(new Option("--daemon-child", "internal: the background process started by 'vexfs mount'").hideHelp());
  deprecatedAlias(cmd, "-f", "--foreground", "-f means --force in other vexfs commands");
  deprecatedAlias(cmd, "-d", "--debug", "-d means --dim in other vexfs commands");
  cmd.addHelpText(
    "after",
    `
Without --foreground, vexfs mount starts a background daemon and returns once
the filesystem is mounted (exit 0) or the mount failed (exit 1, with the
reason). Unmount with 'vexfs umount MOUNTPOINT', 'fusermount3 -u MOUNTPOINT'
or 'umount MOUNTPOINT'; the daemon then writes everything back, marks the
superblock clean and exits. SIGINT and SIGTERM to the daemon unmount too.
A device or image that is already mounted (or opened by another vexfs
command) is refused, and so is a MOUNTPOINT that is already a mount point
(of VexFS or anything else): unmount it first or choose another directory.

Mount options (-o), as mount(8) and fstab give them:
  ro                  read-only (nothing is written, not even the superblock)
  allow_other         let other users access the mount (off by default;
                      needs user_allow_other in /etc/fuse.conf for non-root)
  default_permissions always on: the kernel checks modes and owners
  fsname=NAME         source shown by mount and df (default: SOURCE's path)
  subtype=NAME        type shown as fuse.NAME (default: vexfs)
  debug               log every FUSE request (libfuse -d); implies --foreground
  log=FILE            append the daemon's log (failed requests, mount and
                      unmount) to FILE
  commit=SECONDS      commit the journal (write metadata back) at most SECONDS
                      after a change (default 5 s; 0: only on fsync and unmount)
  remount             change the options of the mount on MOUNTPOINT (given
                      alone): ro/rw (going read-only commits everything;
                      refused while files are open for writing), the atime
                      and other generic flags; the daemon follows (commit=,
                      errors=, log= and the rest only apply when mounting)
  noatime, relatime, strictatime, nodiratime   atime of reads, readdir and
                      exec as on ext4 (default relatime: updated when older
                      than mtime/ctime or more than 24 h old)
  acl, noacl          POSIX ACLs (setfacl/getfacl) enforced and inherited as
                      on ext4 (default acl); noacl refuses them (EOPNOTSUPP)
                      and the group bits are plain permissions. Decided at
                      mount time: a remount cannot change it
  errors=BEHAVIOUR    on corruption: continue (the request fails, the rest
                      works), remount-ro (no more writes) or panic (unmount);
                      default: what mkfs --errors recorded (continue)
  attr_timeout=S, entry_timeout=S   kernel cache timeouts in seconds (default 1 s)
  nosuid, nodev, noexec, sync, dirsync, nosymfollow, ...  kernel flags
  lazytime, mand, iversion   accepted; no effect on FUSE
  defaults, auto, noauto, user, users, group, owner, nofail, _netdev,
  comment=, x-*       fstab-only: accepted, ignored
Known: ${KNOWN_OPTIONS.join(", ")}.`,
  );
  cmd.action(action("mount", async (source: string, mountpoint: string | undefined, flags: {
    options: string[];
    foreground?: boolean;
    debug?: boolean;
    daemonChild?: boolean;
  }) => {
    const lists = [...(flags.options ?? []), ...(flags.debug ? ["debug"] : [])];
    const o = parseOpts(lists);
    if (o.remount) return remount(mountpoint ?? source, lists);
    if (mountpoint === undefined) throw new CliError("missing argument 'mountpoint'");
    if (flags.daemonChild) {
      newSession();
      return await serveForeground(source, mountpoint, o, (m) => {
        mountNotes(m);
        Deno.stdout.writeSync(new TextEncoder().encode(READY + "\n"));
        detachStdio(o.log);
      });
    }
    if (flags.foreground || o.debug) {
      return await serveForeground(source, mountpoint, o, (m) => {
        warn(
          `vexfs: ${m.source} mounted on ${m.mountpoint}${o.readOnly ? " (read-only)" : ""}; serving in the ` +
            `foreground. Unmount with 'vexfs umount ${m.mountpoint}' or Ctrl-C.`,
        );
        mountNotes(m);
      });
    }
    // Refused here too, so that no daemon is started for it.
    try {
      checkNotMountPoint(mountpoint);
    } catch (e) {
      throw mountError(source, mountpoint, e);
    }
    const args = [...lists.flatMap((l) => ["-o", l]), source, mountpoint];
    return await startDaemon(args);
  }));
  examples(cmd, [
    "vexfs mount disk.img /mnt/vexfs",
    "vexfs mount -o ro,allow_other /dev/sdb1 /mnt/vexfs",
    "vexfs mount --foreground -o log=/var/log/vexfs.log disk.img /mnt/vexfs",
    "vexfs mount -o remount,ro /mnt/vexfs      # or: mount -o remount,ro /mnt/vexfs",
    "# /etc/fstab (mount.fuse3 runs 'vexfs SOURCE MOUNTPOINT -o OPTS'; vexfs in /usr/local/bin):",
    "#   /srv/notes.img /mnt/vexfs fuse.vexfs defaults,allow_other 0 0",
  ]);

  const um = defineCommand(program, "umount", "unmount a VexFS mount and wait until it is written back")
    .argument("<mountpoint>", "where the filesystem is mounted")
    .addOption(
      new Option("--timeout <seconds>", "how long to wait for the daemon to write everything back and exit")
        .default("120", "2 min"),
    );
  deprecatedAlias(um, "-t <seconds>", "--timeout", "-t means --type in other vexfs commands");
  um.action(action("umount", async (mountpoint: string, flags: { timeout: string }) => {
    const timeoutMs = Number(flags.timeout) * 1000;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new CliError(`--timeout ${flags.timeout}: give a positive number of seconds`);
    }
    const m = findMount(mountpoint);
    if (!m) throw new CliError(`${mountpoint} is not a mountpoint`);
    if (!m.fstype.startsWith("fuse")) {
      throw new CliError(`${mountpoint} is a ${m.fstype} mount, not VexFS: use umount(8)`);
    }
    await unmountAndWait(m, timeoutMs);
  }));
  examples(um, ["vexfs umount /mnt/vexfs"]);
}
