/**
 * `vexfs install` and `vexfs uninstall`: parse the options and print what
 * src/install/install.ts wrote or removed.
 * @module
 */
import type { Command } from "commander";
import { findCheckout, install, layout, uninstall } from "../src/install/install.ts";
import { docFiles } from "../src/docs/install_files.ts";
import { programOf } from "./man.ts";
import { action, defineCommand, examples, say } from "./util.ts";
import { printJsonResult } from "./json.ts";

/** Registers `install` and `uninstall` on the program. */
export function register(program: Command): void {
  const inst = defineCommand(
    program,
    "install",
    "put a 'vexfs' launcher on PATH, the mkfs.vexfs, fsck.vexfs, mount.vexfs helpers where mkfs(8), fsck(8) " +
      "and mount(8) find them, the man pages and the bash and zsh completions",
  )
    .option("--prefix <dir>", "install prefix: the launcher goes to PREFIX/bin (default /usr/local)")
    .option("--sbindir <dir>", "where the helpers go (default /sbin; PREFIX/sbin when --prefix is given)")
    .option("--json", "print what was written as JSON");
  examples(inst, [
    "vexfs install                       # /usr/local/bin/vexfs, /sbin/{mkfs,fsck,mount}.vexfs",
    "vexfs install --prefix ~/.local     # launcher in ~/.local/bin, helpers in ~/.local/sbin",
  ]);
  inst.action(action("install", (flags: { prefix?: string; sbindir?: string; json?: boolean }) => {
    const co = findCheckout();
    const l = layout(flags.prefix, flags.sbindir);
    const r = install(l, co, docFiles(programOf(inst), l));
    if (flags.json) {
      return printJsonResult("install", {
        files: r.files,
        dirs: r.dirs,
        deno: co.deno,
        main: co.main,
        manifest: l.manifest,
      });
    }
    const docs = r.files.filter((f) => f.startsWith(`${l.man8dir}/`));
    for (const f of r.files) if (!docs.includes(f)) say(`installed ${f}`);
    say(`installed ${docs.length} man pages in ${l.man8dir}`);
    say(
      `runs ${co.deno} run -A ${co.main}; 'vexfs uninstall${
        flags.prefix ? ` --prefix ${flags.prefix}` : ""
      }' removes it`,
    );
  }));

  const un = defineCommand(program, "uninstall", "remove exactly what 'vexfs install' wrote (from its manifest)")
    .option("--prefix <dir>", "the prefix given to install (default /usr/local)")
    .option("--json", "print what was removed as JSON");
  examples(un, [
    "vexfs uninstall                     # what 'vexfs install' wrote under /usr/local and /sbin",
    "vexfs uninstall --prefix ~/.local",
  ]);
  un.action(action("uninstall", (flags: { prefix?: string; json?: boolean }) => {
    const r = uninstall(layout(flags.prefix));
    if (flags.json) return printJsonResult("uninstall", { files: r.files, dirs: r.dirs });
    for (const f of [...r.files, ...r.dirs]) say(`removed ${f}`);
  }));
}
