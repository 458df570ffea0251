/**
 * `vexfs resize`: grow an unmounted filesystem to the size of its grown
 * image file or block device (or to a given size), adding blocks and
 * inodes, as resize2fs(8) grows ext4 offline. The work is src/fs/resize.ts.
 * @module
 */
import type { Command } from "commander";
import { formatBytes } from "../src/device/probe.ts";
import { resize, type ResizeResult } from "../src/fs/resize.ts";
import { printJsonResult, roundMs } from "./json.ts";
import { action, c, defineCommand, examples, formatMs, parseSize, positiveInt, progress, say, warn } from "./util.ts";

interface ResizeFlags {
  inodes?: number;
  force?: boolean;
  dryRun?: boolean;
  json?: boolean;
  quiet?: boolean;
}

/** The `--json` fields of a resize (docs/JSON.md: snake_case, `_blocks`, `_block`, `_bytes`, `_ms`). */
function resizeJson(target: string, r: ResizeResult) {
  return {
    target,
    dry_run: r.dryRun,
    nothing_to_do: r.nothingToDo,
    checked: r.checked,
    block_size_bytes: r.blockSize,
    previous_total_blocks: r.oldBlocks,
    total_blocks: r.newBlocks,
    total_bytes: r.newBlocks * r.blockSize,
    previous_total_inodes: r.oldInodes,
    total_inodes: r.newInodes,
    free_blocks: r.freeBlocks,
    free_inodes: r.freeInodes,
    grown_file_bytes: r.grewFileTo || null,
    flex_meta: r.flexMeta,
    moved: r.moved.map((m) => ({
      region: m.region,
      from_block: m.from,
      to_block: m.to,
      length_blocks: m.blocks,
    })),
    inode_note: r.inodeNote || null,
    elapsed_ms: roundMs(r.elapsedMs),
  };
}

/** Registers `vexfs resize`. */
export function register(program: Command): void {
  const cmd = defineCommand(
    program,
    "resize",
    "grow an unmounted filesystem to fill its grown image file or device, adding blocks and inodes (as resize2fs)",
  )
    .argument("<target>", "image file or block device (DEVICE|IMAGE); it must not be mounted")
    .argument(
      "[size]",
      "new size (bytes, or 512M, 10G, 1T); default: the whole device. An image file is grown to it; never smaller",
      parseSize,
    )
    .option(
      "-N, --inodes <count>",
      "inode count after the resize, at least the current one (default: grown in proportion to the size)",
      positiveInt("--inodes"),
    )
    .option("-f, --force", "skip the fsck that must otherwise find the filesystem clean first (as resize2fs -f)")
    .option("-n, --dry-run", "print what would change; change nothing (an image file is not grown either)")
    .option("--json", "print the result as JSON")
    .option("-q, --quiet", "no progress on stderr")
    .addHelpText(
      "after",
      `
Only growing is supported: a size smaller than the filesystem is refused
("shrinking is not supported"), as is a mounted or otherwise held target. The
filesystem is checked first (fsck -n; any problem stops the resize: repair it
with vexfs fsck -y), then the journal is replayed. A bitmap or the inode table
that must grow is written into the new space and the superblock switched to it
in one journal transaction (with the new backup superblock and the bitmap
blocks changed in place), so a crash at any moment leaves either the old
filesystem or the grown one, with every file, xattr and vector intact. Moving a
region sets the FLEX_META feature (docs/FORMAT.md §2.2), which older vexfs
versions refuse. The inode count grows with the size in the proportion mkfs
chose; -N sets it. docs/SIZING.md explains how block size and inode count are
chosen and changed.

The check before and a moved inode table's copy show their progress on stderr:
a bar on a terminal, a plain line every 5 s otherwise (VEXFS_PROGRESS, see
'vexfs --help'); -q silences it.`,
    )
    .action(action("resize", (target: string, size: number | undefined, o: ResizeFlags) => {
      const bar = progress("resize", 0, { unit: "", quiet: o.quiet });
      let r: ResizeResult;
      try {
        r = resize(target, {
          size,
          inodes: o.inodes,
          force: o.force,
          dryRun: o.dryRun,
          onProgress: (phase, done, total) => bar.update(done, total, `resize: ${phase}`),
        });
      } finally {
        bar.stop();
      }
      if (o.json) {
        printJsonResult("resize", resizeJson(target, r));
        return;
      }
      const bs = r.blockSize;
      if (r.nothingToDo) {
        say(
          `The filesystem on ${target} is already ${r.newBlocks} blocks (${formatBytes(r.newBlocks * bs)}) long, ` +
            `with ${r.newInodes} inodes. Nothing to do!`,
        );
        return;
      }
      if (r.inodeNote) warn(`note: ${r.inodeNote}`);
      if (r.grewFileTo) say(`Grew the image file ${target} to ${formatBytes(r.grewFileTo)}.`);
      const head = r.dryRun ? c.bold("Dry run: nothing was changed. Would resize") : "Resized";
      say(
        `${head} ${target} from ${r.oldBlocks} to ${r.newBlocks} blocks of ${bs} bytes (${
          formatBytes(r.oldBlocks * bs)
        } -> ${formatBytes(r.newBlocks * bs)}), ${r.oldInodes} -> ${r.newInodes} inodes.`,
      );
      for (const m of r.moved) {
        say(`  ${m.region}: ${m.blocks} blocks ${r.dryRun ? "would move" : "moved"} from block ${m.from} to ${m.to}`);
      }
      if (!r.moved.length) say("  every region grew in place");
      say(
        `  free: ${r.freeBlocks} blocks (${formatBytes(r.freeBlocks * bs)}), ${r.freeInodes} inodes` +
          `${r.checked ? "; checked clean first" : "; not checked first (--force)"} (${formatMs(r.elapsedMs)})`,
      );
    }));
  examples(cmd, [
    "truncate -s 4G disk.img && vexfs resize disk.img   # grow an image file, then the filesystem",
    "vexfs resize disk.img 4G                           # the same: resize grows the file itself",
    "losetup -c /dev/loop0 && vexfs resize /dev/loop0   # after growing the loop device's backing file",
    "vexfs resize -n /dev/vg0/vexfs                     # after lvextend: show the plan, change nothing",
    "vexfs resize -N 500000 disk.img 8G                 # grow to 8 GiB with 500,000 inodes",
    "vexfs resize --json disk.img",
  ]);
}
