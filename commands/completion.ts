/**
 * `vexfs completion bash|zsh`: print the shell completion script that
 * src/docs/completion.ts generates from the command definitions.
 * @module
 */
import { Argument, type Command } from "commander";
import { bashCompletion, zshCompletion } from "../src/docs/completion.ts";
import { programOf } from "./man.ts";
import { action, CliError, defineCommand, examples, writeStdout } from "./util.ts";

/** Registers `completion` on the program. */
export function register(program: Command): void {
  const cmd = defineCommand(program, "completion", "print the bash or zsh completion script of vexfs")
    .addArgument(new Argument("<shell>", "the shell: bash or zsh").choices(["bash", "zsh"]));
  cmd.addHelpText(
    "after",
    `
'vexfs install' installs both scripts where bash-completion and zsh find them
(PREFIX/share/bash-completion/completions/vexfs, PREFIX/share/zsh/vendor-completions/_vexfs).
Without installing, load one into the running shell (zsh: after compinit).`,
  );
  examples(cmd, [
    "source <(vexfs completion bash)",
    "source <(vexfs completion zsh)",
    "vexfs completion zsh > ~/.zfunc/_vexfs       # a directory in $fpath",
  ]);
  cmd.action(action("completion", (shell: string) => {
    const p = programOf(cmd);
    let text: string;
    if (shell === "bash") text = bashCompletion(p);
    else if (shell === "zsh") text = zshCompletion(p);
    else throw new CliError(`no completion for shell '${shell}': give bash or zsh`);
    writeStdout(new TextEncoder().encode(text));
  }));
}
