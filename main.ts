/**
 * `vexfs`: the command-line front end of VexFS, a vector-native filesystem.
 *
 * Every subcommand is a thin layer over the library in `src/` (as
 * e2fsprogs' tools are over lib/ext2fs): it parses arguments, calls the
 * engine, and prints. Run `vexfs --help` or `vexfs <command> --help`.
 * @module
 */
import { Command } from "commander";
import { register as registerMkfs } from "./commands/mkfs.ts";
import { register as registerFsck } from "./commands/fsck.ts";
import { register as registerTune } from "./commands/tune.ts";
import { register as registerResize } from "./commands/resize.ts";
import { register as registerInfo } from "./commands/info.ts";
import { register as registerFiles } from "./commands/files.ts";
import { register as registerCollection } from "./commands/collection.ts";
import { register as registerVector } from "./commands/vector.ts";
import { register as registerImport } from "./commands/import.ts";
import { register as registerExport } from "./commands/export.ts";
import { register as registerSearch } from "./commands/search.ts";
import { register as registerIndex } from "./commands/index.ts";
import { register as registerDemo } from "./commands/demo.ts";
import { register as registerBench } from "./commands/bench.ts";
import { register as registerMount } from "./commands/mount.ts";
import { register as registerBuild } from "./commands/build.ts";
import { register as registerInstall } from "./commands/install.ts";
import { register as registerMan } from "./commands/man.ts";
import { register as registerCompletion } from "./commands/completion.ts";
import { register as registerStats } from "./commands/stats.ts";
import { ce, reportError } from "./commands/util.ts";

/** Version of the command-line tool (package.json). */
export const VERSION = "0.1.0";

/** Builds the `vexfs` program with every subcommand registered. */
export function buildProgram(): Command {
  const program = new Command("vexfs")
    .description(
      "VexFS: a vector-native filesystem. Files can carry embedding vectors; a directory " +
        "can be a vector collection searched by similarity. These tools work on VexFS images " +
        "and devices, and on mounted VexFS: mkfs, fsck, tune, mount and umount; info, collection, " +
        "vector, import, export, search and index on an unmounted image or device, or on a " +
        "path on a mount (through the VexFS ioctls); ls, cat, put, mkdir and rm inside an " +
        "unmounted image (on a mount, use the ordinary tools).",
    )
    .version(VERSION, "-V, --version", "print the version")
    .helpOption("-h, --help", "show this help")
    .helpCommand("help [command]", "show help for a command")
    .showSuggestionAfterError(true)
    .configureOutput({
      outputError: (str, write) => {
        write(
          `${ce.red("vexfs")}: ${str.replace(/^error: /, "").trim()}\nTry 'vexfs --help' for usage.\n`,
        );
      },
    });
  registerMkfs(program);
  registerFsck(program);
  registerTune(program);
  registerResize(program);
  registerInfo(program);
  registerFiles(program);
  registerCollection(program);
  registerVector(program);
  registerImport(program);
  registerExport(program);
  registerSearch(program);
  registerIndex(program);
  registerMount(program);
  registerStats(program);
  registerDemo(program);
  registerBench(program);
  registerInstall(program);
  registerMan(program);
  registerCompletion(program);
  registerBuild(program);
  program.addHelpText(
    "after",
    `
Targets: IMAGE is an image file, DEVICE a block device; PATH and DIR are paths
inside the filesystem ("/docs/a.md"; a missing leading "/" is implied). On a
mounted VexFS, give the path on the mount instead of IMAGE PATH
("vexfs search /mnt/vexfs/docs ..."). An image or device that is mounted, or
open in another vexfs command, is refused as IMAGE, except by 'fsck -n' and
'tune -l', which read it (what they show may be changing).

Option letters mean the same in every command (-f is --force, -n --dry-run,
-q --quiet, -v --verbose, -d --dim, -t --type, ...), except three that keep
the meaning their tools gave them: -l, -o and -p are tune's --list (tune2fs),
mount's --options (mount(8)) and fsck's --preen (e2fsck), and ls's --long,
export's --output and mkdir's --parents elsewhere. Old spellings that meant
something else (mount -f and -d, umount -t, bench -r, fsck --read-only, mkfs
-f) still work in this release and print a warning naming the new one.

Environment:
  NO_COLOR=1                 no colors (also off when output is not a terminal)
  FORCE_COLOR=1              colors even when output is not a terminal
  VEXFS_DEBUG=1              print stack traces with errors
  VEXFS_PROGRESS=MODE        progress of long work on stderr: bar (default on a
                             terminal), lines (default otherwise: a plain line
                             with count, rate and ETA every interval, and a
                             closing line) or none; -q silences it too
  VEXFS_PROGRESS_INTERVAL=S  seconds between plain progress lines (default 5)
  VEXFS_NO_PROGRESS=1        the same as VEXFS_PROGRESS=none

Exit status: 0 success, 1 usage or operational error; fsck uses fsck(8)'s codes
(see 'vexfs fsck --help'); mkfs exits 16 when options contradict each other.

Examples:
  vexfs mkfs -s 1G disk.img
  vexfs mkdir -p disk.img /docs
  vexfs collection create disk.img /docs --dim 384 --metric cosine
  vexfs import disk.img /docs --jsonl corpus.jsonl
  vexfs search disk.img /docs --top-k 5 --like /docs/intro.md
  vexfs fsck disk.img
  vexfs mount disk.img /mnt/vexfs && vexfs search /mnt/vexfs/docs -k 5 --like intro.md
  vexfs demo                  # format, import 778 real documents, search, check
`,
  );
  return program;
}

/**
 * The arguments as `vexfs mount` should see them when VexFS is started the
 * way mount.fuse3(8) starts a FUSE filesystem of type `fuse.vexfs` (from
 * /etc/fstab or `mount -t fuse.vexfs`): `vexfs SOURCE MOUNTPOINT -o OPTS`,
 * without a subcommand: SOURCE exists and MOUNTPOINT is a directory. Any
 * other argument list is returned unchanged.
 * @param args command-line arguments (without the program)
 * @param commands names of the program's subcommands
 */
export function mountHelperArgs(args: readonly string[], commands: readonly string[]): string[] {
  const [source, mountpoint] = args;
  if (args.length < 2 || source.startsWith("-") || commands.includes(source)) return [...args];
  try {
    // A mistyped command (`vexfs moutn a b`) names no existing source: leave it to the "unknown command" message.
    Deno.statSync(source);
    if (!Deno.statSync(mountpoint).isDirectory) return [...args];
  } catch {
    return [...args];
  }
  return ["mount", ...args];
}

if (import.meta.main) {
  try {
    const program = buildProgram();
    const names = program.commands.flatMap((c) => [c.name(), ...c.aliases()]);
    await program.parseAsync(mountHelperArgs(Deno.args, [...names, "help"]), { from: "user" });
  } catch (e) {
    if (e instanceof Deno.errors.BrokenPipe) {
      Deno.exitCode = 0; // the reader went away (e.g. '| head'), as in every action
    } else {
      reportError("", e);
      Deno.exitCode = 1;
    }
  }
}
