/**
 * Commands that are planned but not implemented yet: `build` (the Linux
 * kernel module, issue 11). They are hidden from `vexfs --help` (and so from
 * the man pages and completions generated from it), answer `vexfs build
 * --help` with what they will do and what to use today, and fail honestly
 * with exit status 1 without doing anything.
 * @module
 */
import type { Command } from "commander";
import { action, CliError, defineCommand } from "./util.ts";

const PLANNED: [name: string, what: string, today: string][] = [
  [
    "build",
    "build the Linux kernel module",
    "the kernel module arrives with a later issue; for the single vexfs binary run 'deno task compile' " +
    "(it needs Deno's runtime download) or 'vexfs install' (a launcher on PATH)",
  ],
];

/** Registers the planned commands, hidden from the command list. */
export function register(program: Command): void {
  for (const [name, what, today] of PLANNED) {
    defineCommand(program, name, `not available yet (planned: ${what})`, { hidden: true })
      .argument("[args...]", "ignored")
      .allowUnknownOption(true)
      .allowExcessArguments(true)
      .addHelpText(
        "after",
        `\n'vexfs ${name}' is not available in this version: it exits with status 1\nwithout doing anything. Today: ${today}.`,
      )
      .action(action(name, () => {
        throw new CliError(`not available yet: ${today}`);
      }));
  }
}
