/**
 * Tests of the completion scripts in real shells: bash sources the script
 * `vexfs completion bash` prints and runs its `_vexfs` on simulated command
 * lines (COMP_WORDS/COMP_CWORD, as readline fills them); zsh loads
 * `vexfs completion zsh` through compinit in an interactive shell on a
 * pseudo-terminal (zsh/zpty), types a line and TAB, and records every match
 * the completion system adds (a compadd wrapper). Commands and options come
 * from buildProgram(), so commands added later are covered.
 * @module
 */
import assert from "node:assert/strict";
import { buildProgram } from "../../main.ts";
import { allCommands, describeCommand } from "./help.ts";
import { mountOptionWords } from "./completion.ts";
import { ELEM_TYPES, METRICS } from "../vector/types.ts";

const dec = new TextDecoder();
const main = new URL("../../main.ts", import.meta.url).pathname;
const have = (tool: string) =>
  new Deno.Command("sh", { args: ["-c", `command -v ${tool}`], stdout: "null" }).outputSync().success;
const doc = describeCommand(buildProgram());

function script(shell: string): string {
  const o = new Deno.Command(Deno.execPath(), { args: ["run", "-A", main, "completion", shell], stdout: "piped" })
    .outputSync();
  assert.equal(o.code, 0);
  return dec.decode(o.stdout);
}

const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** Runs bash's completion for each command line (the last word is completed); returns the replies. */
function bashComplete(file: string, lines: string[][], cwd?: string): string[][] {
  const body = lines.map((w) =>
    `COMP_WORDS=(${w.map(q).join(" ")}); COMP_CWORD=${w.length - 1}; _vexfs; ` +
    `printf '%s\\n' "\${COMPREPLY[*]}"`
  ).join("\n");
  const o = new Deno.Command("bash", {
    args: ["--norc", "--noprofile", "-c", `. ${q(file)}\n${body}`],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  assert.equal(o.code, 0, dec.decode(o.stderr));
  assert.equal(dec.decode(o.stderr), "");
  return dec.decode(o.stdout).split("\n").slice(0, lines.length).map((l) => l.split(" ").filter(Boolean));
}

Deno.test({
  name: "completion: bash completes every command and subcommand, every option, option values, mount options, " +
    "directories for a mountpoint and files for images",
  ignore: !have("bash"),
  fn: () => {
    const dir = Deno.makeTempDirSync({ prefix: "vexfs-bashcomp-" });
    try {
      const file = `${dir}/vexfs.bash`;
      Deno.writeTextFileSync(file, script("bash"));
      assert.equal(new Deno.Command("bash", { args: ["-n", file] }).outputSync().code, 0);
      Deno.mkdirSync(`${dir}/mnt`);
      Deno.writeTextFileSync(`${dir}/disk.img`, "");
      const cases: [string[], string[]][] = [
        [["vexfs", "mk"], ["mkfs", "mkdir"]],
        [["vexfs", "collection", "cr"], ["create"]],
        [["vexfs", "mkfs", "--bl"], ["--block-size"]],
        [["vexfs", "collection", "create", "--metric", ""], [...METRICS]],
        [["vexfs", "import", "--type", ""], [...ELEM_TYPES]],
        [["vexfs", "mkfs", "--errors", "=", "re"], ["remount-ro"]], // bash splits --errors=re at "="
        [["vexfs", "mount", "-o", "ro,comm"], ["ro,comment", "ro,commit="]],
        [["vexfs", "mount", "disk.img", ""], ["mnt"]], // MOUNTPOINT: directories only
        [["vexfs", "mount", "-o", "ro", "di"], ["disk.img"]], // SOURCE: files (the value of -o is skipped)
        [["vexfs", "man", "umo"], ["umount"]],
        [["vexfs", "completion", ""], ["bash", "zsh"]],
        [["vexfs", "mkfs", "-s", "1G", "disk.img", ""], []], // fs-size: nothing to offer
      ];
      const got = bashComplete(file, cases.map(([w]) => w), dir);
      cases.forEach(([w, want], i) => assert.deepEqual(got[i].sort(), [...want].sort(), w.join(" ")));

      // every command from its first letters, every subcommand, every flag of every command
      const lines: string[][] = [];
      const wants: string[][] = [];
      for (const c of allCommands(doc).slice(1)) {
        const parent = c.path.slice(0, -1);
        lines.push(["vexfs", ...parent, c.name.slice(0, 2)]);
        wants.push([c.name]);
        lines.push(["vexfs", ...c.path, "-"]);
        wants.push(c.options.flatMap((o) => [o.short, o.long].filter((f): f is string => !!f)));
      }
      const all = bashComplete(file, lines, dir);
      lines.forEach((l, i) => {
        for (const w of wants[i]) assert.ok(all[i].includes(w), `${l.join(" ")}: ${w} not in ${all[i].join(" ")}`);
      });
      for (const w of mountOptionWords()) assert.match(w, /^[a-z_]+=?$/);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

/** A zsh program: in an interactive zsh on a pty, with the completion from fpath, types $3 and TAB. */
const ZSH_DRIVER = `
zmodload zsh/zpty
zpty -b z zsh -f -i
zpty -w z "PS1='' RPROMPT=''; fpath=($1 \\$fpath); autoload -Uz compinit; compinit -u -D; cd $4"
zpty -w z "compadd() { local -a m; builtin compadd -O m \\"\\$@\\"; print -rl -- \\$m >> $2; builtin compadd \\"\\$@\\" }"
zpty -w z "_t_done() { print -r -- DONE >> $2 }; zle -N _t_done; bindkey '^X' _t_done"
zpty -w -n z "$3"$'\\t'$'\\x18'
for i in {1..600}; do
  [[ -f $2 ]] && grep -q '^DONE$' $2 && break
  sleep 0.05
done
zpty -d z
`;

Deno.test({
  name: "completion: zsh (compinit, _arguments) completes commands, subcommands, options with their values, " +
    "mount options and directories, typed with TAB in an interactive zsh",
  ignore: !have("zsh"),
  fn: () => {
    const dir = Deno.makeTempDirSync({ prefix: "vexfs-zshcomp-" });
    try {
      Deno.writeTextFileSync(`${dir}/_vexfs`, script("zsh"));
      assert.equal(new Deno.Command("zsh", { args: ["-n", `${dir}/_vexfs`] }).outputSync().code, 0);
      Deno.writeTextFileSync(`${dir}/driver.zsh`, ZSH_DRIVER);
      Deno.mkdirSync(`${dir}/work/mnt`, { recursive: true });
      Deno.writeTextFileSync(`${dir}/work/disk.img`, "");
      const complete = (line: string) => {
        const out = `${dir}/out`;
        try {
          Deno.removeSync(out);
        } catch { /* first */ }
        const o = new Deno.Command("zsh", { args: ["-f", `${dir}/driver.zsh`, dir, out, line, `${dir}/work`] })
          .outputSync();
        assert.equal(o.code, 0, dec.decode(o.stderr));
        const lines = Deno.readTextFileSync(out).split("\n");
        assert.ok(lines.includes("DONE"), `zsh did not finish completing '${line}'`);
        return [...new Set(lines.filter((l) => l && l !== "DONE"))].sort();
      };
      assert.deepEqual(complete("vexfs mk"), ["mkdir", "mkfs"]);
      assert.deepEqual(complete("vexfs collection cr"), ["create"]);
      assert.deepEqual(complete("vexfs collection create --metric "), [...METRICS].sort());
      assert.deepEqual(complete("vexfs mkfs --journal-s"), ["--journal-size"]);
      assert.deepEqual(complete("vexfs mount -o ro,comm"), ["comment", "commit"]);
      assert.deepEqual(complete("vexfs umount "), ["mnt"]);
      assert.deepEqual(complete("vexfs completion "), ["bash", "zsh"]);
      const top = complete("vexfs ");
      for (const c of doc.commands) assert.ok(top.includes(c.name), `vexfs <TAB> lacks ${c.name}`);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
