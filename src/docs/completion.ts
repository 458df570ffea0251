/**
 * bash and zsh completion scripts for `vexfs`, generated from its commander
 * definitions (src/docs/help.ts), so every command, subcommand and option is
 * completed as `vexfs --help` lists it, without a second list to keep.
 *
 * What is completed:
 * - subcommands (`vexfs mk<TAB>` -> `mkfs`, `vexfs collection c<TAB>` -> `create`);
 * - options (`vexfs mkfs --<TAB>`), after which a value is expected when the
 *   option takes one;
 * - option values: commander `.choices()`, the metrics, element types, index
 *   kinds and `errors=` behaviours the library accepts (`--metric`,
 *   `--type`, `--index`, `--errors`), the mount options of `vexfs mount -o`
 *   (comma-separated, from src/mount/options.ts), host files for `<file>` /
 *   `<path>` values and directories for `<dir>` / `<hostdir>` values;
 * - positional arguments: directories for MOUNTPOINT, command names for
 *   `vexfs man`, nothing for sizes, host files (images, devices, paths on a
 *   mount) for every other argument.
 *
 * bash: a function `_vexfs` using only bash 4.2 builtins (`compgen`,
 * `compopt`), registered with `complete -F`; it does not need the
 * bash-completion package, but is found by its lazy loader when installed as
 * `share/bash-completion/completions/vexfs`. zsh: a `#compdef vexfs`
 * function built on `_arguments`, `_describe` and `_values` (with option and
 * subcommand descriptions), for `share/zsh/vendor-completions/_vexfs` or
 * `source <(vexfs completion zsh)` after compinit.
 * @module
 */
import type { Command } from "commander";
import { type ArgumentDoc, type CommandDoc, describeCommand, type OptionDoc } from "./help.ts";
import { ELEM_TYPES, METRICS } from "../vector/types.ts";
import { ERRORS_BEHAVIOURS } from "../fs/mkfs.ts";
import { KNOWN_OPTIONS } from "../mount/options.ts";

/** How the value of an option or a positional argument is completed. */
export type ValueKind =
  | { kind: "none" }
  | { kind: "file" }
  | { kind: "dir" }
  | { kind: "words"; words: string[] }
  | { kind: "mount-options" };

/** Values of options the library checks itself (not commander choices), by long flag. */
const VALUE_WORDS: Readonly<Record<string, readonly string[]>> = {
  "--metric": METRICS,
  "--type": ELEM_TYPES,
  "--index": ["hnsw", "flat"],
  "--errors": ERRORS_BEHAVIOURS,
};

/**
 * How an option's value is completed: its choices, the words of
 * {@link VALUE_WORDS}, mount options for `vexfs mount --options`, files or
 * directories by the value's name (`<file>`, `<path>`; `<dir>`, `<hostdir>`),
 * else nothing.
 */
export function optionValueKind(c: CommandDoc, o: OptionDoc): ValueKind {
  if (!o.takesValue) return { kind: "none" };
  if (o.choices) return { kind: "words", words: o.choices };
  const w = o.long ? VALUE_WORDS[o.long] : undefined;
  if (w) return { kind: "words", words: [...w] };
  if (c.path.join(" ") === "mount" && o.long === "--options") return { kind: "mount-options" };
  const n = (o.valueName ?? "").toLowerCase();
  if (n === "dir" || n === "hostdir" || n.endsWith("-dir")) return { kind: "dir" };
  if (n === "file" || n === "path" || n.endsWith("file")) return { kind: "file" };
  return { kind: "none" };
}

/**
 * How a positional argument is completed: directories for a mount point,
 * command names for `vexfs man`'s command, nothing for sizes and free
 * arguments, files for the rest (images, devices, paths on a mount).
 */
export function argumentValueKind(c: CommandDoc, a: ArgumentDoc, program: CommandDoc): ValueKind {
  if (a.choices) return { kind: "words", words: a.choices };
  if (a.name === "mountpoint") return { kind: "dir" };
  if (c.path.join(" ") === "man" && a.name === "command") {
    return { kind: "words", words: program.commands.map((x) => x.name) };
  }
  if (/size$/.test(a.name) || a.name === "args") return { kind: "none" };
  return { kind: "file" };
}

/** Mount option words for completion: `ro`, `commit=` (takes a value), ...; `x-*` left out. */
export function mountOptionWords(): string[] {
  return [...new Set(KNOWN_OPTIONS.filter((o) => !o.includes("*")).map((o) => o.replace(/=.*$/, "=")))];
}

// ------------------------------------------------------------------ bash

/** Quotes a string for bash (single quotes). */
function sq(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

function kindWord(k: ValueKind): string {
  return k.kind === "words" ? `words:${k.words.join(" ")}` : k.kind;
}

/**
 * The bash completion script.
 * @param program the `vexfs` program (buildProgram() of main.ts)
 */
export function bashCompletion(program: Command): string {
  const doc = describeCommand(program);
  const cmds: string[] = [];
  const opts: string[] = [];
  const vopts: string[] = [];
  const args: string[] = [];
  const walk = (c: CommandDoc) => {
    const name = ["vexfs", ...c.path].join(" "); // bash's associative arrays take no empty key
    const key = sq(name);
    const flags = c.options.flatMap((o) => [o.short, o.long].filter((f): f is string => !!f));
    cmds.push(`  [${key}]=${sq(c.commands.map((s) => s.name).join(" "))}`);
    opts.push(`  [${key}]=${sq(flags.join(" "))}`);
    for (const o of c.options) {
      if (!o.takesValue) continue;
      for (const f of [o.short, o.long]) {
        if (f) vopts.push(`  [${sq(`${name}|${f}`)}]=${sq(kindWord(optionValueKind(c, o)))}`);
      }
    }
    c.arguments.forEach((a, i) => {
      const k = kindWord(argumentValueKind(c, a, doc));
      args.push(`  [${sq(`${name}|${i}`)}]=${sq(a.variadic ? `*${k}` : k)}`);
    });
    c.commands.forEach(walk);
  };
  walk(doc);
  return `# bash completion for vexfs(8)
# generated by 'vexfs completion bash' from the command definitions: do not edit
declare -gA _vexfs_cmds=(
${cmds.join("\n")}
)
declare -gA _vexfs_opts=(
${opts.join("\n")}
)
# options that take a value: how the value is completed (none, file, dir, words:..., mount-options)
declare -gA _vexfs_vopts=(
${vopts.join("\n")}
)
# positional arguments by command and index ("*" first: it takes the rest)
declare -gA _vexfs_args=(
${args.join("\n")}
)
_vexfs_mount_options=${sq(mountOptionWords().join(" "))}

_vexfs_value() { # complete $2 as value kind $1
  local kind=$1 cur=$2
  case $kind in
    file) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
    dir) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -d -- "$cur") ;;
    words:*) mapfile -t COMPREPLY < <(compgen -W "\${kind#words:}" -- "$cur") ;;
    mount-options)
      local head= last=$cur
      [[ $cur == *,* ]] && head=\${cur%,*}, && last=\${cur##*,}
      mapfile -t COMPREPLY < <(compgen -P "$head" -W "$_vexfs_mount_options" -- "$last")
      compopt -o nospace 2>/dev/null ;;
    *) COMPREPLY=() ;;
  esac
}

_vexfs() {
  local cur=\${COMP_WORDS[COMP_CWORD]} path=vexfs i w n=0 value=
  COMPREPLY=()
  # the words before the cursor: subcommands extend the path, an option taking a value skips the next word
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    # bash splits "--opt=value" at "=" (COMP_WORDBREAKS): the "=" belongs to the option
    if [[ -n $value ]]; then [[ $w == = ]] || value=; continue; fi
    case $w in
      --*=*) ;;
      -?*) [[ -n \${_vexfs_vopts["$path|$w"]+x} ]] && value=1 ;;
      *)
        if [[ $n -eq 0 && " \${_vexfs_cmds[$path]} " == *" $w "* ]]; then
          path="$path $w"
        else
          n=$((n + 1))
        fi ;;
    esac
  done
  if [[ $cur == = && -n \${_vexfs_vopts["$path|\${COMP_WORDS[COMP_CWORD-1]}"]+x} ]]; then
    value=1 cur=
  fi
  if [[ -n $value ]]; then
    local flag=\${COMP_WORDS[COMP_CWORD-1]}
    [[ $flag == = ]] && flag=\${COMP_WORDS[COMP_CWORD-2]}
    _vexfs_value "\${_vexfs_vopts["$path|$flag"]}" "$cur"
    return 0
  fi
  if [[ $cur == --*=* ]]; then
    local flag=\${cur%%=*}
    [[ -n \${_vexfs_vopts["$path|$flag"]+x} ]] || return 0
    _vexfs_value "\${_vexfs_vopts["$path|$flag"]}" "\${cur#*=}"
    return 0
  fi
  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "\${_vexfs_opts[$path]}" -- "$cur")
    return 0
  fi
  if [[ $n -eq 0 && -n \${_vexfs_cmds[$path]} ]]; then
    mapfile -t COMPREPLY < <(compgen -W "\${_vexfs_cmds[$path]}" -- "$cur")
    return 0
  fi
  # the positional argument under the cursor; a variadic last one takes the rest
  local kind= j
  for ((j = n; j >= 0; j--)); do
    kind=\${_vexfs_args["$path|$j"]}
    if [[ -n $kind ]]; then
      [[ $j -eq $n || $kind == \\** ]] || kind=
      break
    fi
  done
  _vexfs_value "\${kind#\\*}" "$cur"
  return 0
}
complete -F _vexfs vexfs
`;
}

// ------------------------------------------------------------------ zsh

/** Escapes text for the description part `[...]` of an `_arguments` spec, inside single quotes. */
function zdesc(s: string): string {
  return s.replace(/\s+/g, " ").replace(/([[\]\\])/g, "\\$1").replaceAll("'", `'\\''`);
}

/** Escapes a message or value for the `:message:action` parts of a spec. */
function zmsg(s: string): string {
  return s.replace(/([:\\])/g, "\\$1").replaceAll("'", `'\\''`);
}

function zaction(k: ValueKind): string {
  switch (k.kind) {
    case "file":
      return "_files";
    case "dir":
      return "_files -/";
    case "words":
      return `(${k.words.map((w) => w.replace(/([ ()\\])/g, "\\$1")).join(" ")})`;
    case "mount-options":
      return "_vexfs_mount_options";
    default:
      return " ";
  }
}

function zfn(c: CommandDoc): string {
  return ["_vexfs_cmd", ...c.path].join("__").replace(/[^A-Za-z0-9_]/g, "_");
}

function zshOptionSpecs(c: CommandDoc): string[] {
  return c.options.map((o) => {
    const flags = [o.short, o.long].filter((f): f is string => !!f);
    const excl = flags.length > 1 ? `'(${flags.join(" ")})'` : "";
    const names = flags.length > 1 ? `{${flags.join(",")}}` : flags[0];
    const value = o.takesValue
      ? `:${o.optionalValue ? ":" : ""}${zmsg(o.valueName ?? "value")}:${zaction(optionValueKind(c, o))}`
      : "";
    return `${excl}${names}'[${zdesc(o.description)}]${value}'`;
  });
}

/**
 * The zsh completion script (`#compdef vexfs`).
 * @param program the `vexfs` program (buildProgram() of main.ts)
 */
export function zshCompletion(program: Command): string {
  const doc = describeCommand(program);
  const fns: string[] = [];
  const walk = (c: CommandDoc) => {
    const specs = zshOptionSpecs(c);
    if (c.commands.length) {
      const list = c.commands.map((s) => `    '${zmsg(s.name)}:${zdesc(s.description)}'`).join("\n");
      const cases = c.commands.map((s) => `        ${s.name}) ${zfn(s)} ;;`).join("\n");
      fns.push(`${zfn(c)}() {
  local curcontext=$curcontext state state_descr line ret=1
  typeset -A opt_args
  _arguments -C -s -S \\
${specs.map((s) => `    ${s} \\`).join("\n")}
    ': :->command' \\
    '*:: :->argument' && ret=0
  case $state in
    command)
      local -a commands
      commands=(
${list}
      )
      _describe -t commands '${["vexfs", ...c.path].join(" ")} command' commands && ret=0 ;;
    argument)
      curcontext=\${curcontext%:*:*}:${["vexfs", ...c.path].join("-")}-$words[1]:
      case $words[1] in
${cases}
      esac ;;
  esac
  return ret
}`);
      c.commands.forEach(walk);
      return;
    }
    const argSpecs = c.arguments.map((a) => {
      const act = zaction(argumentValueKind(c, a, doc));
      const msg = zmsg(a.name);
      if (a.variadic) return `'*:${msg}:${act}'`;
      return `'${a.required ? "" : ":"}:${msg}:${act}'`;
    });
    fns.push(`${zfn(c)}() {
  _arguments -s -S \\
${[...specs, ...argSpecs].map((s) => `    ${s}`).join(" \\\n")}
}`);
  };
  walk(doc);
  const mountSpecs = KNOWN_OPTIONS.filter((o) => !o.includes("*")).map((o) => {
    const [name, value] = o.split("=");
    if (value === undefined) return `'${name}'`;
    const words = value.includes("|") ? `(${value.split("|").join(" ")})` : " ";
    return `'${name}:${zmsg(value.toLowerCase())}:${words}'`;
  });
  return `#compdef vexfs
# zsh completion for vexfs(8)
# generated by 'vexfs completion zsh' from the command definitions: do not edit

_vexfs_mount_options() {
  _values -s , 'mount option' \\
${[...new Set(mountSpecs)].map((s) => `    ${s}`).join(" \\\n")}
}

${fns.join("\n\n")}

_vexfs() {
  _vexfs_cmd "$@"
}

# autoloaded from fpath: complete now; sourced ('source <(vexfs completion zsh)'): register
if [[ $funcstack[1] == _vexfs ]]; then
  _vexfs "$@"
else
  compdef _vexfs vexfs
fi
`;
}
