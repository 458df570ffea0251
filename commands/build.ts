/**
 * `vexfs build`: parse the options, build the kernel module with
 * src/kernel/build.ts and print where vexfs.ko is.
 * @module
 */
import type { Command } from "commander";
import { buildModule, KernelBuildError } from "../src/kernel/build.ts";
import { action, CliError, defineCommand, examples, say, warn } from "./util.ts";
import { printJsonResult, roundMs } from "./json.ts";

/** Registers `build` on the program. */
export function register(program: Command): void {
  const cmd = defineCommand(
    program,
    "build",
    "write out the Linux kernel module's C sources and build vexfs.ko with kbuild against a kernel's headers; " +
      "prints the path of vexfs.ko",
  )
    .option("--out <dir>", "write the sources and build in DIR (default: a cache directory per kernel and sources)")
    .option(
      "--kernel-dir <dir>",
      "kernel build directory (headers) to build against (default /lib/modules/$(uname -r)/build)",
    )
    .option("--install", "install the module (make modules_install, depmod) for its kernel")
    .option("--load", "load the module into the running kernel (modprobe after --install, else insmod)")
    .option("--json", "print what was built as JSON");
  cmd.addHelpText(
    "after",
    "\nThe module supports Linux 6.1 to 6.12 (tested with Debian bookworm's 6.1 and bookworm-security's 6.12\n" +
      "headers, built with W=1 and no warning). It needs make, the compiler the headers were made with\n" +
      "(gcc-12 on Debian 12) and the headers: 'apt-get install linux-headers-$(uname -r)' for the running\n" +
      "kernel. In this version the module mounts read-only (mount -t vexfs -o ro DEVICE DIR).",
  );
  examples(cmd, [
    "vexfs build                                    # for the running kernel; prints .../vexfs.ko",
    "vexfs build --install --load                   # then: mount -t vexfs -o ro /dev/sdb1 /mnt",
    "vexfs build --kernel-dir /usr/src/linux-headers-6.1.0-57-amd64 --out /tmp/vexfs-6.1",
  ]);
  cmd.action(action("build", async (flags: {
    out?: string;
    kernelDir?: string;
    install?: boolean;
    load?: boolean;
    json?: boolean;
  }) => {
    let r;
    try {
      r = await buildModule({ out: flags.out, kernelDir: flags.kernelDir, install: flags.install, load: flags.load });
    } catch (e) {
      if (e instanceof KernelBuildError) throw new CliError(e.message);
      throw e;
    }
    for (const w of r.warnings) warn(w);
    if (flags.json) {
      return printJsonResult("build", {
        ko: r.ko,
        dir: r.dir,
        kernel_dir: r.kernelDir,
        kernel_release: r.kernelRelease,
        kernel_version: r.kernelVersion,
        warnings: r.warnings,
        build_ms: roundMs(r.buildMs),
        installed: r.installed,
        loaded: r.loaded,
      });
    }
    if (r.installed) say(`installed ${r.installed} for ${r.kernelRelease}`);
    if (r.loaded) say("loaded: /proc/filesystems lists vexfs");
    say(r.ko);
  }));
}
