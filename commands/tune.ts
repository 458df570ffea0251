/**
 * `vexfs tune`: change the label, UUID, errors behaviour and mount counts of
 * a filesystem that is not mounted, or list them, with tune2fs(8)'s option
 * letters. The work is src/fs/tune.ts.
 * @module
 */
import { type Command, InvalidArgumentError } from "commander";
import { ERRORS_BEHAVIOURS } from "../src/fs/mkfs.ts";
import { MAX_MOUNT_COUNT_LIMIT, readTunables, type Tunables, tune, type TuneChanges } from "../src/fs/tune.ts";
import { isoSeconds, printJsonResult } from "./json.ts";
import { action, c, CliError, defineCommand, examples, kvTable, say, warn } from "./util.ts";

interface TuneFlags {
  label?: string;
  uuid?: string;
  errors?: string;
  maxMountCount?: number;
  mountCount?: number;
  list?: boolean;
  json?: boolean;
}

/** Parses -c: an integer from -1 to the limit, or `random` (20 to 40, as tune2fs). */
function parseMaxMountCount(s: string): number {
  if (s.trim().toLowerCase() === "random") return 20 + Math.floor(Math.random() * 21);
  if (!/^\s*-?\d+\s*$/.test(s) || Number(s) < -1 || Number(s) > MAX_MOUNT_COUNT_LIMIT) {
    throw new InvalidArgumentError(
      `'${s}' is not a maximal mount count: give 1..${MAX_MOUNT_COUNT_LIMIT}, 0 or -1 (never), or random`,
    );
  }
  return Number(s);
}

/** Parses -C: an integer 0 .. 2^32-1. */
function parseMountCount(s: string): number {
  if (!/^\s*\d+\s*$/.test(s) || Number(s) > 0xffffffff) {
    throw new InvalidArgumentError(`'${s}' is not a mount count (0..4294967295)`);
  }
  return Number(s);
}

/** The JSON form of the tunable fields (docs/JSON.md: snake_case, ISO-8601 UTC times, null = never). */
function tunablesJson(t: Tunables) {
  return {
    label: t.label,
    uuid: t.uuid,
    errors_behaviour: t.errors,
    mount_count: t.mountCount,
    max_mount_count: t.maxMountCount,
    // the state names every --json uses (FS_STATE_NAMES of commands/json.ts)
    state: t.state === "error" ? "errors" : t.state,
    mount_time: isoSeconds(t.mountTime),
    write_time: isoSeconds(t.writeTime),
    check_time: isoSeconds(t.checkTime),
  };
}

const SNAKE: Record<keyof Tunables, string> = {
  label: "label",
  uuid: "uuid",
  errors: "errors_behaviour",
  mountCount: "mount_count",
  maxMountCount: "max_mount_count",
  state: "state",
  mountTime: "mount_time",
  writeTime: "write_time",
  checkTime: "check_time",
};

function printTunables(t: Tunables): void {
  const when = (s: number) => s ? new Date(s * 1000).toISOString().replace(".000Z", "Z") : c.dim("never");
  say(kvTable([
    ["label", t.label === "" ? c.dim("(none)") : t.label],
    ["UUID", t.uuid],
    ["errors behaviour", t.errors],
    ["state", t.state],
    ["mount count", t.mountCount],
    ["maximal mount count", t.maxMountCount ? t.maxMountCount : `${c.dim("0 (never forces a check)")}`],
    ["last mounted", when(t.mountTime)],
    ["last written", when(t.writeTime)],
    ["last checked", when(t.checkTime)],
  ]));
}

/** Registers `vexfs tune`. */
export function register(program: Command): void {
  const cmd = defineCommand(
    program,
    "tune",
    "change the label, UUID, errors behaviour or mount counts of an unmounted filesystem (as tune2fs), or list them",
  )
    .argument("<target>", "image file or block device (DEVICE|IMAGE); it must not be mounted to be changed")
    .option("-L, --label <label>", "set the volume label (UTF-8, at most 63 bytes; '' clears it)")
    .option(
      "-U, --uuid <uuid>",
      "set the UUID: xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, random (version 4), time (version 1) or clear",
    )
    .option(
      "-e, --errors <behaviour>",
      "what a mount does on corruption: continue, remount-ro or panic (the mount option errors= overrides it)",
    )
    .option(
      "-c, --max-mount-count <n>",
      "mounts after which fsck checks the filesystem even when clean; 0 or -1: never; random: 20 to 40",
      parseMaxMountCount,
    )
    .option("-C, --mount-count <n>", "set the number of mounts since the last check", parseMountCount)
    .option("-l, --list", "list the fields tune changes (after any changes given); works while mounted")
    .option("--json", "print the fields (and what changed) as JSON")
    .addHelpText(
      "after",
      `
Every change is one journal transaction holding the primary superblock and its
backup in the last block, so a crash leaves the old values or the new ones. A
mounted filesystem is refused (its daemon keeps its own copy of the superblock);
unmount it first. Editing the superblock does not count as a mount. A read-write
mount or offline write increments the mount count; fsck without -f checks a
filesystem marked clean once the count reaches the maximum, and a check resets
it (as e2fsck). See docs/SIZING.md for resizing and the inode count.`,
    )
    .action(action("tune", (target: string, o: TuneFlags) => {
      if (o.errors !== undefined && !(ERRORS_BEHAVIOURS as readonly string[]).includes(o.errors)) {
        throw new CliError(`--errors must be continue, remount-ro or panic, not '${o.errors}'`, 1);
      }
      const changes: TuneChanges = {
        label: o.label,
        uuid: o.uuid,
        errors: o.errors as TuneChanges["errors"],
        maxMountCount: o.maxMountCount,
        mountCount: o.mountCount,
      };
      const any = Object.values(changes).some((v) => v !== undefined);
      if (!any && !o.list) {
        throw new CliError("nothing to do: give a change (-L, -U, -e, -c, -C) or -l to list; see --help", 1);
      }
      if (!any) {
        const { tunables, inUse } = readTunables(target);
        if (o.json) {
          printJsonResult("tune", {
            target,
            in_use: inUse,
            changed: [],
            previous: null,
            tunables: tunablesJson(tunables),
          });
          return;
        }
        if (inUse) warn(`note: ${target} is in use (${inUse}); a mount's latest changes may not be on disk yet`);
        printTunables(tunables);
        return;
      }
      const r = tune(target, changes);
      if (o.json) {
        printJsonResult("tune", {
          target,
          in_use: null,
          changed: r.changed.map((k) => SNAKE[k]),
          previous: tunablesJson(r.before),
          tunables: tunablesJson(r.after),
        });
        return;
      }
      if (!r.changed.length) say(`${target}: nothing changed (the values were already set)`);
      for (const k of r.changed) {
        const show = (v: unknown) => v === "" ? "(none)" : String(v);
        say(`${target}: ${SNAKE[k].replace(/_/g, " ")} ${show(r.before[k])} -> ${show(r.after[k])}`);
      }
      if (o.list) printTunables(r.after);
    }));
  examples(cmd, [
    "vexfs tune -l disk.img                     # list label, UUID, errors, mount counts (also while mounted)",
    "vexfs tune -L archive disk.img             # set the label",
    "vexfs tune -U random /dev/sdb1             # a new random UUID (e.g. after copying the image)",
    "vexfs tune -U time disk.img                # a time-based (version 1) UUID",
    "vexfs tune -e remount-ro disk.img          # stop writing on corruption",
    "vexfs tune -c 30 -C 0 disk.img             # full fsck every 30 mounts; count from 0",
    "vexfs tune -c -1 disk.img                  # never force a check by mount count",
    "vexfs tune --json -l disk.img",
  ]);
}
