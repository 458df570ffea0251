/**
 * `vexfs mkfs`: format an image file or block device (src/fs/mkfs.ts).
 * @module
 */
import { type Command, Option } from "commander";
import { type DeviceSummary, deviceSummary, formatBytes, formatDeviceSummary } from "../src/device/probe.ts";
import { ERRORS_BEHAVIOURS, type Layout, mkfs, type MkfsOptions, type MkfsResult } from "../src/fs/mkfs.ts";
import { uuidToString } from "../src/format/superblock.ts";
import {
  action,
  c,
  CliError,
  defineCommand,
  examples,
  kvTable,
  parseSize,
  positiveInt,
  say,
  table,
  warn,
} from "./util.ts";
import { printJsonResult } from "./json.ts";

interface MkfsFlags {
  blockSize?: number;
  label?: string;
  uuid?: string;
  inodes?: number;
  inodeRatio?: number;
  size?: number;
  dryRun?: boolean;
  force?: boolean;
  /** the deprecated -f spelling of -F */
  f?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  json?: boolean;
  journalSize?: number;
  journal?: boolean;
  errors?: string;
}

/** One region of the layout, in blocks. */
export interface Region {
  name: string;
  start: number;
  end: number;
  blocks: number;
  bytes: number;
}

/** The regions of a layout in device order (docs/FORMAT.md §2). */
export function regions(l: Layout): Region[] {
  const r = (name: string, start: number, blocks: number): Region => ({
    name,
    start,
    end: start + blocks - 1,
    blocks,
    bytes: blocks * l.blockSize,
  });
  return [
    r("boot area + superblock", 0, l.blockBitmapStart),
    r("block bitmap", l.blockBitmapStart, l.blockBitmapBlocks),
    r("inode bitmap", l.inodeBitmapStart, l.inodeBitmapBlocks),
    r("inode table", l.inodeTableStart, l.inodeTableBlocks),
    ...(l.journalBlocks
      ? [
        r("root directory", l.firstDataBlock, 1),
        r("journal (inode 4)", l.journalStart, l.journalBlocks),
        r("data", l.journalStart + l.journalBlocks, l.backupSuperblock - l.journalStart - l.journalBlocks),
      ]
      : [r("data", l.firstDataBlock, l.backupSuperblock - l.firstDataBlock)]),
    r("backup superblock", l.backupSuperblock, 1),
  ];
}

/** The payload of `mkfs --json` (docs/schema/mkfs.schema.json); `device` only for a dry run. */
function toJson(res: MkfsResult, wouldRefuse: boolean, summary?: DeviceSummary) {
  const l = res.layout;
  return {
    target: res.path,
    kind: res.kind,
    device_bytes: res.deviceBytes,
    dry_run: res.dryRun,
    block_size_bytes: l.blockSize,
    total_blocks: l.blockCount,
    total_inodes: l.inodeCount,
    free_blocks: l.freeBlocks,
    journal_blocks: l.journalBlocks,
    uuid: uuidToString(res.uuid),
    label: res.label,
    layout: {
      block_bitmap_start_block: l.blockBitmapStart,
      block_bitmap_blocks: l.blockBitmapBlocks,
      inode_bitmap_start_block: l.inodeBitmapStart,
      inode_bitmap_blocks: l.inodeBitmapBlocks,
      inode_table_start_block: l.inodeTableStart,
      inode_table_blocks: l.inodeTableBlocks,
      first_data_block: l.firstDataBlock,
      journal_start_block: l.journalBlocks ? l.journalStart : null,
      backup_superblock_block: l.backupSuperblock,
    },
    regions: regions(l).map((r) => ({
      name: r.name,
      start_block: r.start,
      end_block: r.end,
      size_blocks: r.blocks,
      size_bytes: r.bytes,
    })),
    previous: res.previous.map((p) => ({
      type: p.type,
      offset_bytes: p.offset ?? null,
      description: p.description,
      source: p.source,
    })),
    blkid: res.blkidMissing === "" ? "used" : res.blkidMissing,
    would_refuse: res.dryRun ? wouldRefuse : false,
    device: res.dryRun && summary
      ? {
        path: summary.path,
        real_path: summary.realPath,
        kind: summary.kind,
        size_bytes: summary.size,
        sector_size_bytes: summary.sectorSize,
        signatures: summary.signatures.map((x) => ({
          type: x.type,
          offset_bytes: x.offset,
          description: x.description,
          label: x.label ?? null,
          uuid: x.uuid ?? null,
        })),
        mount: {
          mounted: summary.mount.mounted,
          where: summary.mount.where ?? null,
          how: summary.mount.how ?? null,
          busy: summary.mount.busy,
          users: summary.mount.users,
        },
      }
      : null,
  };
}

function printLayout(res: MkfsResult): void {
  const l = res.layout;
  say(kvTable([
    [
      "device",
      `${res.path} (${res.kind === "block" ? "block device" : "image file"}, ${formatBytes(res.deviceBytes)})`,
    ],
    ["block size", formatBytes(l.blockSize)],
    ["blocks", `${l.blockCount} (${formatBytes(l.blockCount * l.blockSize)})`],
    ["inodes", `${l.inodeCount} (256 bytes each)`],
    [
      "journal",
      l.journalBlocks
        ? `${l.journalBlocks} blocks (${formatBytes(l.journalBlocks * l.blockSize)}), jbd2 format, ordered data`
        : c.dim("none (crashes can leave inconsistencies for fsck)"),
    ],
    [
      "free blocks",
      `${l.freeBlocks} (${formatBytes(l.freeBlocks * l.blockSize)})`,
    ],
    ["UUID", uuidToString(res.uuid)],
    ["label", res.label === "" ? c.dim("(none)") : res.label],
  ]));
  say(table(
    ["region", "first block", "last block", "blocks", "size"],
    regions(l).map((
      r,
    ) => [r.name, r.start, r.end, r.blocks, formatBytes(r.bytes)]),
    ["left", "right", "right", "right", "right"],
  ));
}

/** Registers `vexfs mkfs`. */
export function register(program: Command): void {
  const cmd = defineCommand(
    program,
    "mkfs",
    "create a VexFS filesystem on an image file or block device",
  )
    .argument("<target>", "image file or block device to format (DEVICE|IMAGE)")
    .argument(
      "[fs-size]",
      "as mke2fs's fs-size: image files are created or grown to FS-SIZE first (same as --size)",
      parseSize,
    )
    .option(
      "-b, --block-size <bytes>",
      "block size: a power of two from 1024 to 65536 (default 4 KiB)",
      parseSize,
      undefined,
    )
    .option("-L, --label <label>", "volume label (UTF-8, at most 63 bytes)")
    .option(
      "-U, --uuid <uuid>",
      "filesystem UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx; default random)",
    )
    .option(
      "-N, --inodes <count>",
      "number of inodes (default: one per --inode-ratio bytes)",
      positiveInt("--inodes"),
    )
    .option(
      "-i, --inode-ratio <bytes>",
      "bytes of space per inode (default 16 KiB)",
      parseSize,
    )
    .option(
      "-s, --size <size>",
      "image files: create or grow the file to SIZE first (bytes, or 512M, 10G, 1T)",
      parseSize,
    )
    .option(
      "-n, --dry-run",
      "show the device and the layout that would be written; write nothing",
    )
    .option(
      "-F, --force",
      "format even if the target already holds a filesystem, swap, RAID/LUKS member or partition table",
    )
    .addOption(new Option("-f", "deprecated spelling of -F (kept for old scripts)").hideHelp())
    .option("-q, --quiet", "print nothing but errors (as mke2fs -q)")
    .option("-v, --verbose", "also print every signature found and which prober (libblkid or VexFS's own) saw it")
    .option(
      "-J, --journal-size <size>",
      "journal size (bytes, or 16M, 1G; at least 1024 blocks); default: as mke2fs, by filesystem size",
      parseSize,
    )
    .option("--no-journal", "no metadata journal (not crash-safe: a crash may need vexfs fsck -y)")
    .option(
      "-e, --errors <behaviour>",
      "what a mount does when it meets corruption: continue, remount-ro or panic (default continue)",
    )
    .option("--json", "print the layout as JSON")
    .addHelpText(
      "after",
      `
mkfs refuses a target that is mounted or in use, and (without -F/--force) one
that already holds a filesystem, swap, RAID/LVM/LUKS member or partition table;
the message names what was found, and a refused target is left untouched.
Signatures are detected with util-linux's libblkid (what blkid -p and wipefs
see) and VexFS's own probes; without libblkid only the own probes run, and mkfs
says so. -f is the old spelling of -F and still works, with a warning. Only
metadata is written, so large sparse images are fast to format.

A metadata journal in the Linux kernel's jbd2 format is created by default
(sized as mke2fs does: 4 MiB on small filesystems up to 1 GiB on large ones):
after a crash or power cut, the next mount, offline command or fsck replays it
and every fsync'd file and vector is intact.`,
    )
    .action(action("mkfs", (target: string, fsSize: number | undefined, o: MkfsFlags) => {
      if (o.f) {
        if (!o.quiet) warn("mkfs: -f is deprecated; use -F (--force), as mke2fs");
        o.force = true;
      }
      if (o.quiet && o.verbose) throw new CliError("-q and -v contradict each other; give one", 16);
      if (fsSize !== undefined) {
        if (o.size !== undefined && o.size !== fsSize) {
          throw new CliError(`--size ${o.size} and fs-size ${fsSize} disagree; give one`, 16);
        }
        o.size = fsSize;
      }
      if (o.errors !== undefined && !(ERRORS_BEHAVIOURS as readonly string[]).includes(o.errors)) {
        throw new CliError(`--errors must be continue, remount-ro or panic, not '${o.errors}'`, 16);
      }
      const bs = o.blockSize ?? 4096;
      if (o.journal === false && o.journalSize !== undefined) {
        throw new CliError("--journal-size and --no-journal contradict each other; give one", 16);
      }
      if (o.journalSize !== undefined && o.journalSize % bs !== 0) {
        throw new CliError(`--journal-size ${o.journalSize} is not a whole number of ${bs}-byte blocks`, 16);
      }
      const opts = {
        journalBlocks: o.journal === false ? 0 : o.journalSize !== undefined ? o.journalSize / bs : undefined,
        errors: o.errors as MkfsOptions["errors"],
        blockSize: o.blockSize,
        label: o.label,
        uuid: o.uuid,
        inodes: o.inodes,
        inodeRatio: o.inodeRatio,
        size: o.size,
      };
      if (o.dryRun) {
        let summary;
        try {
          summary = deviceSummary(target);
        } catch {
          summary = undefined; // does not exist yet: mkfs says whether --size allows creating it
        }
        const res = mkfs(target, { ...opts, dryRun: true, force: true });
        const wouldRefuse = res.previous.length > 0 && !o.force;
        if (o.json) {
          printJsonResult("mkfs", toJson(res, wouldRefuse, summary));
          return;
        }
        say(
          summary
            ? formatDeviceSummary(summary)
            : `${target}: does not exist; an image file of ${formatBytes(res.deviceBytes)} would be created`,
        );
        say();
        say(
          c.bold(
            "Dry run: this layout would be written (nothing was changed):",
          ),
        );
        printLayout(res);
        if (wouldRefuse) {
          warn(
            `note: ${target} already contains ${
              res.previous.map((s) => s.description).join("; ")
            }; a real run needs --force`,
          );
        }
        return;
      }
      // Validate everything (options, size, mount state, existing contents) with a
      // dry run first: mkfs with --size creates or grows the image file before its
      // own checks, so a refusal would otherwise leave a changed file behind.
      mkfs(target, { ...opts, dryRun: true, force: !!o.force });
      const res = mkfs(target, { ...opts, force: !!o.force });
      if (o.json) {
        printJsonResult("mkfs", toJson(res, false));
        return;
      }
      if (o.quiet) return;
      if (res.blkidMissing) warn(`note: ${res.blkidMissing}; only VexFS's own signature probes were used`);
      if (res.previous.length) {
        warn(`overwrote ${res.previous.map((s) => s.description).join("; ")}`);
      }
      if (o.verbose) {
        say(`Signatures found on ${target} before formatting:`);
        say(
          res.previous.length
            ? table(
              ["type", "offset", "seen by", "description"],
              res.previous.map((s) => [s.type, s.offset ?? "", s.source, s.description]),
              ["left", "right", "left", "left"],
            )
            : "  none",
        );
        say();
      }
      say(`Created a VexFS filesystem on ${target}:`);
      printLayout(res);
    }));
  examples(cmd, [
    "vexfs mkfs -s 1G disk.img                 # create a 1 GiB image file and format it",
    "vexfs mkfs -b 1024 -L data -s 64M small.img",
    "vexfs mkfs -n /dev/sdb1                   # show what is there and the layout; write nothing",
    "vexfs mkfs -F -N 100000 /dev/sdb1         # overwrite an existing filesystem",
    "vexfs mkfs -q disk.img 64M                # as mke2fs: fs-size after the target, quiet",
    "vexfs mkfs --json -s 256M test.img",
    "vexfs mkfs -s 10G -J 256M big.img          # a larger journal for heavy metadata work",
    "vexfs mkfs --no-journal -s 64M scratch.img",
  ]);
}
