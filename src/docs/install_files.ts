/**
 * The documentation `vexfs install` puts on the system: the man pages
 * (src/docs/man.ts) in `PREFIX/share/man/man8` and the completion scripts
 * (src/docs/completion.ts) where bash-completion and zsh look for them, each
 * marked as written by install (src/install/install.ts) so that uninstall
 * removes exactly them.
 * @module
 */
import type { Command } from "commander";
import { type DataFile, type InstallLayout, withMarker } from "../install/install.ts";
import { bashCompletion, zshCompletion } from "./completion.ts";
import { manPages } from "./man.ts";

/**
 * The man pages and completion scripts for an install layout.
 * @param program the `vexfs` program (buildProgram() of main.ts)
 * @param l where install puts things ({@link InstallLayout})
 * @returns one file per man page, `vexfs` for bash and `_vexfs` for zsh
 * @throws Error when a docs/ source of a man page is missing
 */
export function docFiles(program: Command, l: InstallLayout): DataFile[] {
  return [
    ...manPages(program).map((p) => ({
      path: `${l.man8dir}/${p.file}`,
      text: withMarker(p.roff, '.\\" ', "man page"),
    })),
    { path: `${l.bashCompletionDir}/vexfs`, text: withMarker(bashCompletion(program), "", "bash completion") },
    { path: `${l.zshCompletionDir}/_vexfs`, text: withMarker(zshCompletion(program), "", "zsh completion") },
  ];
}
