/**
 * `vexfs tune`: change the superblock fields an administrator may change
 * after mkfs, as tune2fs(8) does for ext2/3/4: the label, the UUID, the
 * `errors` behaviour (docs/FORMAT.md §3.2), the mount count and the maximal
 * mount count after which fsck checks a filesystem marked clean (§3, as
 * e2fsck's "maximal mount count reached").
 *
 * A change replays the journal if it needs it, then commits the new
 * primary superblock and its backup in the last block (§2) as one jbd2
 * transaction (FORMAT.md §9.4) and empties the log (`sb_commit.ts`); without
 * a journal both are written in place, backup first, each flushed. A crash
 * therefore leaves either the old fields or the new ones. Editing the
 * superblock is not a mount: `mount_count` and `mount_time` are unchanged.
 *
 * A mounted filesystem is refused: the mount's daemon keeps its own copy of
 * the superblock and writes it back at every commit, so a change made
 * underneath would be lost (or would lose the daemon's). Listing
 * ({@link readTunables}) reads without changing anything and works while
 * mounted, as `tune2fs -l` does.
 *
 * Changing the UUID also rewrites the jbd2 superblock's `s_uuid` (FORMAT.md
 * §9.3), after the log is empty; the journal's checksums are seeded with
 * that UUID, so it is only ever changed while no transaction is in the log.
 * @module
 */
import { type BlockDevice, Device } from "../device/device.ts";
import { mountedState } from "../device/probe.ts";
import { FsError } from "../errors.ts";
import { INCOMPAT_JOURNAL } from "../format/constants.ts";
import { decodeJournalSuperblock, encodeJournalSuperblock } from "../format/journal.ts";
import { blockSizeOf, type Superblock, uuidFromString, uuidToString } from "../format/superblock.ts";
import { journalMap } from "../journal/map.ts";
import { ERRORS_BEHAVIOURS, randomUuid } from "./mkfs.ts";
import { readForOpen } from "./superblock_io.ts";
import { commitSuperblock, quiesce } from "./sb_commit.ts";

/** What the superblock's `errors` field may say (FORMAT.md §3.2). */
export type ErrorsBehaviour = typeof ERRORS_BEHAVIOURS[number];

/** The largest maximal mount count accepted (as tune2fs, which keeps it to 16 bits). */
export const MAX_MOUNT_COUNT_LIMIT = 65535;

/** Changes {@link tune} can make; absent fields are left as they are. */
export interface TuneChanges {
  /** the volume label: UTF-8, at most 63 bytes, no NUL ("" clears it) */
  label?: string;
  /**
   * The new UUID: an `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` string, `random`
   * (version 4), `time` (version 1, from the clock and a random node) or
   * `clear` (all zeros), as tune2fs -U accepts them.
   */
  uuid?: string;
  /** what a user does on corruption (FORMAT.md §3.2) */
  errors?: ErrorsBehaviour;
  /**
   * Mounts (read-write opens) after which fsck checks the filesystem even
   * when marked clean; 0 or -1: never (as tune2fs -c). At most
   * {@link MAX_MOUNT_COUNT_LIMIT}.
   */
  maxMountCount?: number;
  /** the mount count itself (tune2fs -C), 0 .. 2^32-1 */
  mountCount?: number;
}

/** The superblock fields tune shows and changes (times in seconds since the epoch, 0 = never). */
export interface Tunables {
  label: string;
  /** 8-4-4-4-12 hex */
  uuid: string;
  errors: ErrorsBehaviour;
  mountCount: number;
  /** 0 = never force a check */
  maxMountCount: number;
  /** "clean", "dirty" or "error" (FORMAT.md §3.2) */
  state: "clean" | "dirty" | "error";
  mountTime: number;
  writeTime: number;
  checkTime: number;
}

/** What {@link tune} did. */
export interface TuneResult {
  path: string;
  before: Tunables;
  after: Tunables;
  /** names of the {@link Tunables} fields whose value changed */
  changed: (keyof Tunables)[];
}

/** The tunable fields of a decoded superblock. */
export function tunablesOf(sb: Superblock): Tunables {
  return {
    label: sb.label,
    uuid: uuidToString(sb.uuid),
    errors: ERRORS_BEHAVIOURS[sb.errors - 1] ?? "continue",
    mountCount: sb.mountCount,
    maxMountCount: sb.maxMountCount,
    state: sb.state === 1 ? "clean" : sb.state === 3 ? "error" : "dirty",
    mountTime: sb.mountTime,
    writeTime: sb.writeTime,
    checkTime: sb.checkTime,
  };
}

/**
 * A version 1 (time-based) UUID as RFC 4122 §4.2 builds it: the count of
 * 100 ns intervals since 1582-10-15 in `time_low`/`time_mid`/`time_hi`, a
 * random clock sequence and a random node with the multicast bit set (§4.5:
 * a node that is not a network card's address).
 */
export function timeUuid(nowMs = Date.now()): Uint8Array {
  const t = BigInt(nowMs) * 10000n + 0x01b21dd213814000n;
  const u = crypto.getRandomValues(new Uint8Array(16));
  const dv = new DataView(u.buffer);
  dv.setUint32(0, Number(t & 0xffffffffn));
  dv.setUint16(4, Number((t >> 32n) & 0xffffn));
  dv.setUint16(6, Number((t >> 48n) & 0x0fffn) | 0x1000);
  u[8] = (u[8] & 0x3f) | 0x80;
  u[10] |= 0x01;
  return u;
}

/**
 * The 16 bytes a `-U` argument names (see {@link TuneChanges.uuid}).
 * @throws FsError EINVAL naming the accepted forms
 */
export function parseUuidSpec(spec: string): Uint8Array {
  const s = spec.trim().toLowerCase();
  if (s === "random") return randomUuid();
  if (s === "time") return timeUuid();
  if (s === "clear" || s === "null") return new Uint8Array(16);
  try {
    return uuidFromString(s);
  } catch {
    throw new FsError(
      "EINVAL",
      `'${spec}' is not a UUID: give xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, random, time or clear`,
    );
  }
}

/** Validates `changes` before anything is opened. @throws FsError EINVAL */
function validate(c: TuneChanges): void {
  if (c.label !== undefined) {
    const n = new TextEncoder().encode(c.label).length;
    if (n > 63) throw new FsError("EINVAL", `label '${c.label}' is ${n} bytes; at most 63 are allowed`);
    if (c.label.includes("\0")) throw new FsError("EINVAL", "a label cannot contain a NUL character");
  }
  if (c.uuid !== undefined) parseUuidSpec(c.uuid);
  if (c.errors !== undefined && !ERRORS_BEHAVIOURS.includes(c.errors)) {
    throw new FsError("EINVAL", `errors behaviour '${c.errors}' is not one of ${ERRORS_BEHAVIOURS.join(", ")}`);
  }
  const m = c.maxMountCount;
  if (m !== undefined && (!Number.isInteger(m) || m < -1 || m > MAX_MOUNT_COUNT_LIMIT)) {
    throw new FsError(
      "EINVAL",
      `maximal mount count ${m} is out of range: give 1..${MAX_MOUNT_COUNT_LIMIT}, or 0 or -1 to never force a check`,
    );
  }
  const n = c.mountCount;
  if (n !== undefined && (!Number.isInteger(n) || n < 0 || n > 0xffffffff)) {
    throw new FsError("EINVAL", `mount count ${n} is out of range (0..4294967295)`);
  }
}

/**
 * Refuses a path that is mounted or held by another process.
 * @throws FsError EBUSY saying where it is mounted and what to do
 */
export function refuseInUse(path: string, what: string): void {
  const ms = mountedState(path);
  if (ms.mounted || ms.busy) {
    throw new FsError(
      "EBUSY",
      `${path} is in use (${ms.users.join("; ") || `mounted on ${ms.where}`}): ${what}; unmount it first`,
    );
  }
}

/**
 * Reads the tunable fields without changing anything (tune2fs -l): a
 * journal that needs recovery is replayed in memory only. Works on a
 * mounted image (read without its lock, so a mount's latest changes may not
 * be on disk yet).
 * @returns the fields and, when the target is in use, a note saying so
 * @throws FsError EUCLEAN (not VexFS), ENOENT, EACCES
 */
export function readTunables(target: string | BlockDevice): { tunables: Tunables; inUse: string | null } {
  let inUse: string | null = null;
  let dev: BlockDevice;
  let owned = false;
  if (typeof target === "string") {
    const ms = mountedState(target);
    if (ms.mounted || ms.busy) inUse = ms.users.join("; ") || `mounted on ${ms.where}`;
    try {
      dev = Device.open(target, { readOnly: true, exclusive: false });
    } catch (e) {
      if (!(e instanceof FsError && e.code === "EBUSY")) throw e;
      inUse ??= "held read-write by another process (mounted?)";
      dev = Device.open(target, { readOnly: true, exclusive: false, lock: false });
    }
    owned = true;
  } else dev = target;
  try {
    return { tunables: tunablesOf(readForOpen(dev, true).sb), inUse };
  } finally {
    if (owned) dev.close();
  }
}

/**
 * Applies `changes` to the filesystem on `target` (see the module
 * documentation for how it is written).
 * @param target image file or block device path (refused when mounted or in
 *   use), or an open {@link BlockDevice}, which is closed afterwards
 * @returns the fields before and after
 * @throws FsError EINVAL (a bad value: nothing is opened), EBUSY (mounted or
 *   in use), EUCLEAN (not VexFS, or damaged: the engine refuses to open it
 *   read-write; run vexfs fsck), EROFS (features this version can only read)
 */
export function tune(target: string | BlockDevice, changes: TuneChanges): TuneResult {
  validate(changes);
  const path = typeof target === "string" ? target : target.path;
  let dev: BlockDevice;
  if (typeof target === "string") {
    refuseInUse(target, "vexfs tune cannot change a mounted filesystem, whose daemon keeps its own superblock");
    dev = Device.open(target, { readOnly: false, exclusive: true });
  } else dev = target;
  try {
    const old = quiesce(dev);
    const sb: Superblock = { ...old, uuid: old.uuid.slice() };
    const before = tunablesOf(old);
    if (changes.label !== undefined) sb.label = changes.label;
    if (changes.uuid !== undefined) sb.uuid = parseUuidSpec(changes.uuid);
    if (changes.errors !== undefined) sb.errors = ERRORS_BEHAVIOURS.indexOf(changes.errors) + 1;
    if (changes.maxMountCount !== undefined) sb.maxMountCount = Math.max(0, changes.maxMountCount);
    if (changes.mountCount !== undefined) sb.mountCount = changes.mountCount;
    const after = tunablesOf(sb);
    const changed = (Object.keys(after) as (keyof Tunables)[]).filter((k) =>
      k !== "writeTime" && after[k] !== before[k]
    );
    if (changed.length) {
      commitSuperblock(dev, old, sb);
      if (changed.includes("uuid") && sb.featureIncompat & INCOMPAT_JOURNAL) setJournalUuid(dev, sb);
    }
    return { path, before, after: tunablesOf(sb), changed };
  } finally {
    dev.close();
  }
}

/**
 * Writes `sb.uuid` into the jbd2 superblock's `s_uuid` (FORMAT.md §9.3).
 * The log must be empty (it is after a clean close): no logged block's
 * checksum depends on the old UUID any more.
 * @throws FsError EBUSY if the log is not empty
 */
function setJournalUuid(dev: BlockDevice, sb: Superblock): void {
  const bs = blockSizeOf(sb);
  const at = journalMap(dev, sb)(0) * bs;
  const raw = new Uint8Array(bs);
  dev.read(at, raw);
  const jsb = decodeJournalSuperblock(raw);
  if (jsb.start !== 0) throw new FsError("EBUSY", "the journal is not empty; its UUID was left unchanged");
  jsb.uuid = sb.uuid.slice(0, 16);
  dev.write(at, encodeJournalSuperblock(jsb, bs));
  dev.sync();
}
