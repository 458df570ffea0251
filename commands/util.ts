/**
 * Shared plumbing of the `vexfs` command line: command definition with
 * uniform error output, argument parsers, output (tables, JSON, colors,
 * progress bars) and error reporting. Commands stay thin: they parse
 * arguments, call the library in `src/`, and print.
 * @module
 */
import { Command, InvalidArgumentError, Option } from "commander";
import Table from "cli-table3";
import pc from "picocolors";
import { FsError } from "../src/errors.ts";
import { errorJson } from "./json.ts";
import { formatBytes, formatCount, formatDuration, formatRate } from "../src/units.ts";

export { formatBytes, formatCount, formatDuration, formatRate };
export { type Progress, progress, type ProgressOptions } from "./progress.ts";

/** An error meant for the user: printed as `vexfs <cmd>: <message>`, exit code `exitCode`. */
export class CliError extends Error {
  readonly exitCode: number;
  /** errno name of the failure when it has one (`ENOENT`), for `--json` error documents (docs/JSON.md §4) */
  readonly code?: string;
  constructor(message: string, exitCode = 1, code?: string) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
    this.code = code;
  }
}

// ------------------------------------------------------------------ colors

function colorWanted(isTerminal: () => boolean): boolean {
  const env = (k: string) => {
    try {
      return Deno.env.get(k);
    } catch {
      return undefined;
    }
  };
  if (env("NO_COLOR")) return false;
  const force = env("FORCE_COLOR");
  if (force !== undefined && force !== "0" && force !== "false") return true;
  if (env("TERM") === "dumb") return false;
  try {
    return isTerminal();
  } catch {
    return false;
  }
}

/** Colors for standard output (off with NO_COLOR or when stdout is not a terminal). */
export const c: ReturnType<typeof pc.createColors> = pc.createColors(
  colorWanted(() => Deno.stdout.isTerminal()),
);
/** Colors for standard error. */
export const ce: ReturnType<typeof pc.createColors> = pc.createColors(
  colorWanted(() => Deno.stderr.isTerminal()),
);
/** Whether stdout gets colors. */
export const stdoutColor: boolean = colorWanted(() => Deno.stdout.isTerminal());

// ------------------------------------------------------------------ output

const enc = new TextEncoder();

/** Thrown (and caught in main) when stdout was closed by the reader (`| head`). */
export class BrokenPipe extends Error {}

function writeAll(
  f: { writeSync(b: Uint8Array): number },
  bytes: Uint8Array,
): void {
  let off = 0;
  while (off < bytes.length) {
    try {
      off += f.writeSync(bytes.subarray(off));
    } catch (e) {
      if (e instanceof Deno.errors.BrokenPipe) {
        throw new BrokenPipe("stdout closed");
      }
      throw e;
    }
  }
}

/** Writes bytes to stdout completely. */
export function writeStdout(bytes: Uint8Array): void {
  writeAll(Deno.stdout, bytes);
}

/** Prints a line (or several) to stdout. */
export function say(text = ""): void {
  writeAll(Deno.stdout, enc.encode(text + "\n"));
}

/** Prints a line to stderr. */
export function warn(text: string): void {
  writeAll(Deno.stderr, enc.encode(text + "\n"));
}

/**
 * Prints a value as indented JSON on stdout. Commands print their `--json`
 * results with printJsonResult (commands/json.ts), which adds the envelope.
 */
export function printJson(value: unknown): void {
  say(JSON.stringify(value, null, 2));
}

/** Renders a table (cli-table3); `align` gives per-column alignment. */
export function table(
  head: string[],
  rows: (string | number)[][],
  align?: ("left" | "right")[],
): string {
  const t = new Table({
    head: head.map((h) => c.bold(h)),
    style: { head: [], border: [], compact: true },
    colAligns: align,
    wordWrap: false,
  });
  for (const r of rows) t.push(r.map((x) => String(x)));
  return t.toString();
}

/** A two-column "field: value" table. */
export function kvTable(rows: [string, string | number][]): string {
  const t = new Table({ style: { head: [], border: [], compact: true } });
  for (const [k, v] of rows) t.push({ [c.bold(k)]: String(v) });
  return t.toString();
}

/** A duration in milliseconds for people (the same as {@link formatDuration}; older name). */
export const formatMs: (ms: number) => string = formatDuration;

/** Lets the event loop run (so progress bars and signals get a turn) every `every` calls. */
export function yielder(every = 64): () => Promise<void> {
  let n = 0;
  return () => (++n % every === 0 ? new Promise((r) => setTimeout(r, 0)) : Promise.resolve());
}

// ------------------------------------------------------------------ argument parsers

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  k: 2 ** 10,
  m: 2 ** 20,
  g: 2 ** 30,
  t: 2 ** 40,
  p: 2 ** 50,
};

/**
 * Parses a size: plain bytes (`1048576`) or a number with a binary unit
 * suffix K, M, G, T, P (optionally followed by `iB` or `B`): `10G`, `512M`,
 * `1.5T`, `64KiB`. Throws InvalidArgumentError with a readable message.
 */
export function parseSize(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?\s*$/i.exec(s);
  if (!m) {
    throw new InvalidArgumentError(
      `'${s}' is not a size (examples: 4096, 512M, 10G, 1T)`,
    );
  }
  const v = Number(m[1]) * SIZE_UNITS[m[2].toLowerCase()];
  if (!Number.isSafeInteger(Math.floor(v)) || v <= 0) {
    throw new InvalidArgumentError(`size '${s}' is out of range`);
  }
  if (m[2] === "" && !Number.isInteger(v)) {
    throw new InvalidArgumentError(
      `size '${s}' must be a whole number of bytes`,
    );
  }
  return Math.floor(v);
}

/** Parser for a positive integer option. */
export function positiveInt(what: string): (s: string) => number {
  return (s: string) => {
    if (
      !/^\s*\d+\s*$/.test(s) || Number(s) < 1 ||
      !Number.isSafeInteger(Number(s))
    ) {
      throw new InvalidArgumentError(
        `${what} must be a positive integer, got '${s}'`,
      );
    }
    return Number(s);
  };
}

/**
 * An option whose default the help prints for people ("1 GiB", "10 s",
 * "bench/history.sqlite") instead of the raw value commander would print
 * (1073741824, an absolute path of this checkout). Add it with `addOption`.
 * @param flags as for `.option()`, e.g. "-s, --size <size>"
 * @param description the help text
 * @param value the default value the action gets
 * @param shown how the help shows the default
 * @param parse the argument parser, if any
 */
export function optionWithDefault<T>(
  flags: string,
  description: string,
  value: T,
  shown: string,
  parse?: (s: string, prev: T) => T,
): Option {
  const o = new Option(flags, description).default(value, shown);
  return parse ? o.argParser(parse) : o;
}

/** Normalises a path inside the filesystem to an absolute one ("docs/a" -> "/docs/a"). */
export function fsPath(p: string): string {
  const parts = p.split("/").filter((x) => x !== "" && x !== ".");
  return "/" + parts.join("/");
}

// ------------------------------------------------------------------ errors

/** The message of an error, written for people (FsError's errno prefix removed). */
export function errorMessage(e: unknown): string {
  if (e instanceof CliError) return e.message;
  if (e instanceof FsError) return e.message.replace(/^[A-Z0-9]+: /, "");
  if (e instanceof Deno.errors.NotFound) {
    return hostMessage(e, "no such file or directory");
  }
  if (e instanceof Deno.errors.PermissionDenied) {
    return hostMessage(e, "permission denied");
  }
  if (e instanceof Deno.errors.IsADirectory) {
    return hostMessage(e, "is a directory");
  }
  if (e instanceof Error) return e.message;
  return String(e);
}

function hostMessage(e: Error, what: string): string {
  const m = /'([^']+)'\s*$/.exec(e.message);
  return m ? `${m[1]}: ${what}` : e.message;
}

/** Prints `vexfs <cmd>: <message>` (plus the stack with VEXFS_DEBUG=1). */
export function reportError(cmd: string, e: unknown): void {
  warn(`${ce.red(cmd ? `vexfs ${cmd}` : "vexfs")}: ${errorMessage(e)}`);
  if (Deno.env.get("VEXFS_DEBUG") === "1" && e instanceof Error && e.stack) {
    warn(e.stack);
  }
}

/** The full name of a command below the program, e.g. `collection create`. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let x: Command | null = cmd; x && x.parent; x = x.parent) {
    names.unshift(x.name());
  }
  return names.join(" ");
}

// ------------------------------------------------------------------ option letters
//
// One table of short option letters for the whole CLI: a letter means the
// same thing (the same long option) in every command that has it, following
// e2fsprogs (mke2fs, e2fsck, tune2fs) and util-linux/coreutils where they have
// a convention. commands/cli_letters_test.ts holds the same table and walks
// buildProgram() (main.ts): a letter outside the table, or used with another
// long name, fails it. Add a letter here and there, or give the option a long
// name only.
//
//   -a  --auto          fsck                            e2fsck -a (= -p)
//   -b  --block-size    mkfs                            mke2fs -b
//   -c  --max-mount-count  tune                         tune2fs -c
//   -C  --mount-count   tune                            tune2fs -C
//   -d  --dim           collection create, import       vector dimension (VexFS)
//   -e  --errors        mkfs, tune                      mke2fs -e, tune2fs -e
//   -f  --force         fsck, rm, vector delete         e2fsck -f, rm -f
//   -F  --force         mkfs                            mke2fs -F
//   -h  --help          every command
//   -i  --inode-ratio   mkfs                            mke2fs -i
//   -J  --journal-size  mkfs                            mke2fs -J size=
//   -k  --top-k         search, bench, bench vectors    results per query
//   -l  --list          tune                            tune2fs -l
//   -l  --long          ls                              ls -l
//   -L  --label         mkfs, tune                      mke2fs -L, tune2fs -L
//   -m  --metric        collection create, import       vector metric (VexFS)
//   -n  --dry-run       mkfs, fsck                      mke2fs -n, e2fsck -n: change nothing
//   -N  --inodes        mkfs                            mke2fs -N
//   -o  --options       mount                           mount(8) -o (mount.fuse3 passes it)
//   -o  --output        export                          sort -o; the one other -o
//   -p  --parents       put, mkdir, collection create   mkdir -p
//   -p  --preen         fsck                            e2fsck -p (fsck(8) and boot scripts pass it)
//   -q  --quiet         mkfs, fsck, resize, import, export, index build, demo: no progress (mke2fs -q)
//   -r  --recursive     rm                              rm -r
//   -s  --size          mkfs, bench                     a size (mkfs: of the image file)
//   -t  --type          collection create, import       a type (here: the element type; mount(8) -t)
//   -U  --uuid          mkfs, tune                      mke2fs -U, tune2fs -U
//   -v  --verbose       mkfs, fsck                      mke2fs -v, e2fsck -v
//   -V  --version       vexfs
//   -y  --yes           fsck                            e2fsck -y
//
// -l, -o and -p are the letters with two meanings, each fixed by a tool that
// callers already know (tune2fs, mount(8) and e2fsck on one side; ls, sort and
// mkdir on the other) in commands that never meet.
//
// Long names only: --foreground and --debug (mount; FUSE's -f and -d would
// clash with -f force and -d dim), --timeout (umount), --repeat (bench).
//
// Deprecated aliases (hidden, print a warning to stderr, removed in the next
// release; see deprecatedAlias): mkfs -f (use -F), mount -f (--foreground),
// mount -d (--debug), umount -t (--timeout), bench -r (--repeat), fsck
// --read-only (-n/--dry-run).

/**
 * Adds a deprecated spelling `flags` (e.g. "-f" or "-t <seconds>") to `cmd`
 * that does what `replacement` (the long option, e.g. "--foreground") does
 * and prints `vexfs CMD: FLAG is deprecated ...; use REPLACEMENT` to stderr
 * when used. The alias is hidden from the help; its description starts with
 * "deprecated" (commands/cli_letters_test.ts recognises it so).
 * @param cmd the command
 * @param flags the old spelling, with `<arg>` when it takes a value
 * @param replacement the long option it stands for; must exist on `cmd`
 * @param why a few words on why it changed, for the warning
 */
export function deprecatedAlias(cmd: Command, flags: string, replacement: string, why = ""): Command {
  const target = cmd.options.find((o) => o.long === replacement);
  if (!target) throw new Error(`deprecatedAlias: ${commandPath(cmd)} has no ${replacement}`);
  const alias = new Option(flags, `deprecated: use ${replacement}`).hideHelp();
  cmd.addOption(alias);
  const spelled = flags.split(/[ ,]/)[0];
  const attr = target.attributeName();
  cmd.on(`option:${alias.name()}`, (raw?: string) => {
    warn(`vexfs ${commandPath(cmd)}: ${spelled} is deprecated${why ? ` (${why})` : ""}; use ${replacement}`);
    let value: unknown = raw === undefined ? true : raw; // a flag is emitted without a value
    if (raw !== undefined && target.parseArg) {
      try {
        value = target.parseArg(raw, cmd.getOptionValue(attr));
      } catch (e) {
        if (!(e instanceof InvalidArgumentError)) throw e;
        cmd.error(`option '${flags}' argument '${raw}' is invalid. ${e.message}`, {
          exitCode: 1,
          code: "commander.invalidArgument",
        });
      }
    }
    cmd.setOptionValueWithSource(attr, value, "cli");
  });
  return cmd;
}

/**
 * Defines subcommand `name` of `parent` with the CLI's error formatting:
 * commander's usage errors become `vexfs <cmd>: <message>` plus a hint.
 * `hidden` leaves it out of the parent's command list (and so of the man
 * pages and completions made from it).
 */
export function defineCommand(
  parent: Command,
  name: string,
  description: string,
  opts: { hidden?: boolean } = {},
): Command {
  const cmd = parent.command(name, { hidden: !!opts.hidden }).description(description);
  cmd.configureOutput({
    outputError: (str, write) => {
      const full = commandPath(cmd);
      const msg = str.replace(/^error: /, "").trim();
      write(
        `${ce.red(`vexfs ${full}`)}: ${msg}\nTry 'vexfs ${full} --help' for usage.\n`,
      );
    },
  });
  return cmd;
}

/** Adds an "Examples:" section to a command's help. */
export function examples(cmd: Command, lines: string[]): Command {
  return cmd.addHelpText(
    "after",
    "\nExamples:\n" + lines.map((l) => `  ${l}`).join("\n") + "\n",
  );
}

/** Whether the command commander passed to an action (its last argument) was given `--json`. */
function jsonRequested(args: unknown[]): boolean {
  const cmd = args[args.length - 1];
  if (!(cmd instanceof Command)) return false;
  return cmd.opts().json === true;
}

/**
 * Wraps a command implementation: sets the exit code from its result (0 if
 * none), reports errors on one line (exit 1, or CliError.exitCode). With
 * `--json`, a failure also prints the error document of docs/JSON.md §4
 * (`{"schema_version", "command", "error": {code, message, exit_status}}`)
 * on stdout; the line on stderr stays.
 * @param cmdName the command's full name, as `--json` documents carry it in `command`
 */
export function action<A extends unknown[]>(
  cmdName: string,
  fn: (...args: A) => number | void | Promise<number | void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      const code = await fn(...args);
      Deno.exitCode = code ?? 0;
    } catch (e) {
      if (e instanceof BrokenPipe) {
        Deno.exitCode = 0;
        return;
      }
      reportError(cmdName, e);
      Deno.exitCode = e instanceof CliError ? e.exitCode : 1;
      if (jsonRequested(args)) {
        try {
          say(JSON.stringify(errorJson(cmdName, e, errorMessage(e), Deno.exitCode), null, 2));
        } catch { /* stdout closed: the exit status and stderr still tell */ }
      }
    }
  };
}

/** Reads all of stdin. */
export async function readStdin(): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const ch of Deno.stdin.readable) {
    chunks.push(ch);
    n += ch.length;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const ch of chunks) {
    out.set(ch, o);
    o += ch.length;
  }
  return out;
}

/** Reads a host file ("-" = stdin) with a readable error. */
export async function readHostFile(path: string): Promise<Uint8Array> {
  if (path === "-") return await readStdin();
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw new CliError(
      `cannot read ${path}: ${errorMessage(e).replace(`${path}: `, "")}`,
    );
  }
}
