/**
 * What the `vexfs` command line says about itself, read from its commander
 * definitions (the same objects `vexfs --help` prints), as plain data for the
 * man pages (src/docs/man.ts) and the shell completions
 * (src/docs/completion.ts). Nothing here knows a particular command: a new
 * command, option or example shows up in both without being written twice.
 * @module
 */
import type { Argument, Command, Option } from "commander";

/** One option of a command, as its help shows it. */
export interface OptionDoc {
  /** the help's term, e.g. `-s, --size <size>` */
  term: string;
  /** the help's description, with commander's "(default: ...)" and "(choices: ...)" appended */
  description: string;
  /** the short flag, e.g. `-s`, if any */
  short?: string;
  /** the long flag, e.g. `--size`, if any */
  long?: string;
  /** whether the option takes a value (required or optional) */
  takesValue: boolean;
  /** whether that value may be left out (`--opt [value]`) */
  optionalValue: boolean;
  /** the value's name without brackets (`size`), if it takes one */
  valueName?: string;
  /** the allowed values (commander `.choices()`), if restricted */
  choices?: string[];
}

/** One positional argument of a command. */
export interface ArgumentDoc {
  /** its name, e.g. `target` */
  name: string;
  /** the help's description */
  description: string;
  /** whether it must be given */
  required: boolean;
  /** whether it takes the rest of the arguments (`<paths...>`) */
  variadic: boolean;
  /** the allowed values, if restricted */
  choices?: string[];
}

/** The text a command adds after its help (commander `addHelpText("after", ...)`), split up. */
export interface HelpExtra {
  /** prose and preformatted blocks, in order; a block may start with a heading ("Modes:") */
  blocks: HelpBlock[];
  /** the example command lines of an "Examples:" block, indentation removed */
  examples: string[];
}

/** A block of the text after a command's help. */
export interface HelpBlock {
  /** a heading line ("Environment:") the block followed, without its colon */
  heading?: string;
  /** paragraphs (lines joined) or preformatted text (indented lines, kept as they are) */
  kind: "prose" | "pre";
  /** the text */
  text: string;
}

/** A command as the man pages and completions need it. */
export interface CommandDoc {
  /** the name (`mkfs`; `vexfs` for the program) */
  name: string;
  /** the words from the program to here: `["collection", "create"]`; `[]` for the program */
  path: string[];
  /** commander's usage line without the program name, e.g. `[options] <target> [fs-size]` */
  usage: string;
  /** the one-line description */
  description: string;
  /** positional arguments */
  arguments: ArgumentDoc[];
  /** options, including `-h, --help` (and `-V, --version` on the program) */
  options: OptionDoc[];
  /** subcommands (not commander's implicit `help` command) */
  commands: CommandDoc[];
  /** the text after the help */
  extra: HelpExtra;
}

/**
 * Reads a command (and its subcommands) from its commander definition.
 * @param cmd the program (`buildProgram()` in main.ts) or any command below it
 * @param path the words from the program to `cmd` (default: computed from its parents)
 * @returns the command's documentation, with every visible option and argument
 */
export function describeCommand(cmd: Command, path?: string[]): CommandDoc {
  const help = cmd.createHelp();
  const p = path ?? commandWords(cmd);
  const usage = help.commandUsage(cmd).split(" ").slice(p.length + 1).join(" ") || cmd.usage();
  return {
    name: p.length ? p[p.length - 1] : cmd.name(),
    path: p,
    usage,
    description: help.commandDescription(cmd),
    arguments: help.visibleArguments(cmd).map((a) => argumentDoc(a, help.argumentDescription(a))),
    options: help.visibleOptions(cmd).map((o) => optionDoc(o, help.optionTerm(o), help.optionDescription(o))),
    // commander's implicit `help` command is visible but not one of cmd.commands
    commands: help.visibleCommands(cmd).filter((c) => cmd.commands.includes(c))
      .map((c) => describeCommand(c, [...p, c.name()])),
    extra: helpExtra(cmd),
  };
}

function commandWords(cmd: Command): string[] {
  const words: string[] = [];
  for (let x: Command | null = cmd; x && x.parent; x = x.parent) words.unshift(x.name());
  return words;
}

function argumentDoc(a: Argument, description: string): ArgumentDoc {
  return {
    name: a.name(),
    description,
    required: a.required,
    variadic: a.variadic,
    ...(a.argChoices ? { choices: [...a.argChoices] } : {}),
  };
}

function optionDoc(o: Option, term: string, description: string): OptionDoc {
  const takesValue = o.required || o.optional;
  const m = /[<[]([^>\]]+)[>\]]/.exec(o.flags);
  return {
    term,
    description,
    ...(o.short ? { short: o.short } : {}),
    ...(o.long ? { long: o.long } : {}),
    takesValue,
    optionalValue: o.optional,
    ...(takesValue && m ? { valueName: m[1].replace(/\.\.\.$/, "") } : {}),
    ...(o.argChoices ? { choices: [...o.argChoices] } : {}),
  };
}

/**
 * The text a command prints after its help (every `addHelpText("after", ...)`),
 * split into prose paragraphs, indented (preformatted) blocks and the lines of
 * its "Examples:" block.
 * @param cmd the command
 */
export function helpExtra(cmd: Command): HelpExtra {
  let text = "";
  // commander runs the addHelpText("after") listeners on this event when it prints the help
  const emitter = cmd as unknown as { emit(event: string, context: unknown): boolean };
  emitter.emit("afterHelp", { error: false, command: cmd, write: (s: string) => (text += s) });
  return parseHelpText(text);
}

/**
 * Splits help text (as commands add after their help) into blocks: a line
 * `Heading:` alone heads the block below it (up to an empty line), indented lines form preformatted
 * blocks, other lines join into paragraphs; the indented lines under
 * `Examples:` become the example list.
 * @param text the text, lines separated by `\n`
 */
export function parseHelpText(text: string): HelpExtra {
  const blocks: HelpBlock[] = [];
  const examples: string[] = [];
  let heading: string | undefined;
  let cur: { kind: "prose" | "pre"; lines: string[] } | undefined;
  const flush = () => {
    if (cur && cur.lines.length) {
      const t = cur.kind === "pre" ? dedent(cur.lines).join("\n") : cur.lines.map((l) => l.trim()).join(" ");
      if (heading?.toLowerCase() === "examples" && cur.kind === "pre") examples.push(...t.split("\n"));
      else blocks.push({ ...(heading ? { heading } : {}), kind: cur.kind, text: t });
    }
    cur = undefined;
  };
  for (const line of text.replace(/\r/g, "").split("\n")) {
    if (line.trim() === "") {
      // a heading covers the block right below it, up to the next empty line
      const ended = cur !== undefined;
      flush();
      if (ended) heading = undefined;
      continue;
    }
    const h = /^([A-Z][A-Za-z0-9 ()'/-]{0,40}):\s*$/.exec(line);
    if (h) {
      flush();
      heading = h[1];
      continue;
    }
    const kind = /^\s{2,}/.test(line) ? "pre" : "prose";
    if (cur && cur.kind !== kind) {
      // a prose line introducing an indented example ("...:\n  {...}") and the prose after it
      flush();
    }
    cur ??= { kind, lines: [] };
    cur.lines.push(line);
  }
  flush();
  return { blocks, examples };
}

function dedent(lines: string[]): string[] {
  const n = Math.min(...lines.filter((l) => l.trim()).map((l) => /^ */.exec(l)![0].length));
  return lines.map((l) => l.slice(n).trimEnd());
}

/** Every command below `doc`, depth first, `doc` itself first. */
export function allCommands(doc: CommandDoc): CommandDoc[] {
  return [doc, ...doc.commands.flatMap(allCommands)];
}
