/**
 * Commands that are planned but not implemented yet: `build` (the kernel
 * module). It is registered so that `vexfs --help` shows the whole plan, and
 * it fails honestly.
 * @module
 */
import type { Command } from "commander";
import { action, CliError, defineCommand } from "./util.ts";

const PLANNED: [name: string, args: string, what: string][] = [
  [
    "build",
    "[args...]",
    "build the Linux kernel module and the standalone vexfs binary",
  ],
];

/** Registers the planned commands. */
export function register(program: Command): void {
  for (const [name, args, what] of PLANNED) {
    defineCommand(
      program,
      name,
      `${what} (not available yet: arrives in a later issue)`,
    )
      .argument(args, "ignored")
      .allowUnknownOption(true)
      .allowExcessArguments(true)
      .addHelpText(
        "after",
        `\n'vexfs ${name}' is not implemented in this version: it arrives in a later issue.\nIt exits with status 1 without doing anything.`,
      )
      .action(action(name, () => {
        throw new CliError(
          `not available yet: '${name}' arrives in a later issue (${what})`,
        );
      }));
  }
}
