/**
 * One meaning per short option letter across the whole CLI: walks every
 * command of buildProgram() (main.ts) and checks its letters against the
 * table below, the same table as the comment in commands/util.ts. A letter
 * used with two long names fails, unless the table lists both (only -l, -o
 * and -p, each fixed by an outside convention); a letter missing from the table
 * fails too, so that a new one is decided here, not by accident.
 * Deprecated aliases (commands/util.ts deprecatedAlias) are checked to
 * warn and to do what their replacement does.
 */
import assert from "node:assert/strict";
import type { Command, Option } from "commander";
import { buildProgram } from "../main.ts";
import { commandPath } from "./util.ts";
import { vexfsArgv } from "../src/mount/self.ts";

/** letter → its long names (two only for the documented exceptions). */
const LETTERS: Record<string, string[]> = {
  "-a": ["--auto"],
  "-b": ["--block-size"],
  "-c": ["--max-mount-count"], // tune2fs -c
  "-C": ["--mount-count"], // tune2fs -C
  "-d": ["--dim"],
  "-e": ["--errors"],
  "-f": ["--force"],
  "-F": ["--force"],
  "-h": ["--help"],
  "-i": ["--inode-ratio"],
  "-J": ["--journal-size"],
  "-k": ["--top-k"],
  "-l": ["--list", "--long"], // tune2fs -l; ls -l
  "-L": ["--label"],
  "-m": ["--metric"],
  "-n": ["--dry-run"],
  "-N": ["--inodes"],
  "-o": ["--options", "--output"], // mount(8) -o; sort -o (export)
  "-p": ["--parents", "--preen"], // mkdir -p; e2fsck -p, passed by fsck(8)
  "-q": ["--quiet"],
  "-r": ["--recursive"],
  "-s": ["--size"],
  "-t": ["--type"],
  "-U": ["--uuid"],
  "-v": ["--verbose"],
  "-V": ["--version"],
  "-y": ["--yes"],
};

/** Deprecated spellings still accepted (with a warning) for one release: command → flag → replacement. */
const DEPRECATED: Record<string, Record<string, string>> = {
  mkfs: { "-f": "--force" },
  mount: { "-f": "--foreground", "-d": "--debug" },
  umount: { "-t": "--timeout" },
  bench: { "-r": "--repeat" },
  fsck: { "--read-only": "--dry-run" },
};

function* commands(c: Command): Generator<Command> {
  yield c;
  for (const s of c.commands) yield* commands(s);
}

const isDeprecated = (o: Option) => o.hidden && /^deprecated/.test(o.description);

interface Use {
  cmd: string;
  long: string;
}

function letterUses(): Map<string, Use[]> {
  const uses = new Map<string, Use[]>();
  for (const c of commands(buildProgram())) {
    const opts = [...c.options];
    // commander's own -h/--help (and -V/--version on the program)
    const help = (c as unknown as { _getHelpOption?: () => Option | null })._getHelpOption?.();
    if (help) opts.push(help);
    for (const o of opts) {
      if (!o.short || isDeprecated(o)) continue;
      const list = uses.get(o.short) ?? [];
      list.push({ cmd: commandPath(c) || "vexfs", long: o.long ?? "(none)" });
      uses.set(o.short, list);
    }
  }
  return uses;
}

Deno.test("every short option letter is in the table, with its one long name", () => {
  const uses = letterUses();
  const problems: string[] = [];
  for (const [letter, list] of uses) {
    const allowed = LETTERS[letter];
    const longs = [...new Set(list.map((u) => u.long))].sort();
    if (!allowed) {
      problems.push(
        `${letter} (${list.map((u) => `${u.cmd} ${u.long}`).join(", ")}) is not in the letter table: add it to ` +
          `commands/util.ts and commands/cli_letters_test.ts, or give the option a long name only`,
      );
      continue;
    }
    for (const u of list) {
      if (!allowed.includes(u.long)) {
        problems.push(`${u.cmd}: ${letter} is ${u.long}, but the table says ${letter} is ${allowed.join(" or ")}`);
      }
    }
    if (longs.length > 1 && longs.join() !== [...allowed].sort().join()) {
      problems.push(`${letter} has two meanings: ${list.map((u) => `${u.cmd} ${u.long}`).join(", ")}`);
    }
  }
  // a table entry nothing uses is stale
  for (const letter of Object.keys(LETTERS)) {
    const longs = new Set((uses.get(letter) ?? []).map((u) => u.long));
    for (const l of LETTERS[letter]) {
      if (!longs.has(l)) problems.push(`table entry ${letter} ${l} is used by no command`);
    }
  }
  assert.deepEqual(problems, []);
});

Deno.test("the letter table in commands/util.ts's comment matches this one", async () => {
  const text = await Deno.readTextFile(new URL("./util.ts", import.meta.url));
  const rows = [...text.matchAll(/^\/\/ {3}(-[A-Za-z]) {2}(--[a-z-]+)/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
  const want = Object.entries(LETTERS).flatMap(([l, longs]) => longs.map((x) => `${l} ${x}`)).sort();
  assert.deepEqual(rows, want);
});

Deno.test("deprecated aliases are hidden, listed, and set what their replacement sets", async () => {
  const program = buildProgram();
  const seen: Record<string, Record<string, string>> = {};
  for (const c of commands(program)) {
    for (const o of c.options) {
      if (!isDeprecated(o)) continue;
      const flag = (o.short ?? o.long)!;
      (seen[commandPath(c)] ??= {})[flag] = o.description.replace(/^deprecated[^-]*/, "").split(/[ )]/)[0];
    }
  }
  // mkfs's -f predates deprecatedAlias ("deprecated spelling of -F"): its replacement is -F, i.e. --force
  seen.mkfs["-f"] = "--force";
  assert.deepEqual(seen, DEPRECATED);
  // each alias parses to its replacement's value (actions replaced: nothing runs)
  const cases: [string[], string, string, unknown][] = [
    [["mount", "-f", "a.img", "/mnt"], "mount", "foreground", true],
    [["mount", "-d", "a.img", "/mnt"], "mount", "debug", true],
    [["umount", "-t", "7", "/mnt"], "umount", "timeout", "7"],
    [["bench", "-r", "2"], "bench", "repeat", 2],
    [["fsck", "--read-only", "a.img"], "fsck", "dryRun", true],
  ];
  for (const [args, name, attr, want] of cases) {
    const p = buildProgram();
    const cmd = p.commands.find((c) => c.name() === name)!;
    let got: Record<string, unknown> | undefined;
    cmd.action((...a: unknown[]) => {
      got = (a.at(-1) as Command).opts();
    });
    const stderr = Deno.stderr.writeSync;
    try {
      Deno.stderr.writeSync = (b: Uint8Array) => b.length; // the warning is checked below, for real
      await p.parseAsync(args, { from: "user" });
    } finally {
      Deno.stderr.writeSync = stderr;
    }
    assert.equal(got?.[attr], want, `${args.join(" ")} sets ${attr}`);
  }
});

Deno.test("a deprecated alias prints a warning naming its replacement, and works", async () => {
  const [exe, ...args] = vexfsArgv(["umount", "-t", "3", "/proc/not-a-mountpoint"]);
  const r = await new Deno.Command(exe, { args, stdout: "piped", stderr: "piped" }).output();
  const err = new TextDecoder().decode(r.stderr);
  assert.match(err, /vexfs umount: -t is deprecated \(-t means --type in other vexfs commands\); use --timeout/);
  assert.match(err, /is not a mountpoint/); // and the command went on
  assert.equal(r.code, 1);
  // a bad value is still refused through the alias
  const [exe2, ...args2] = vexfsArgv(["umount", "-t", "soon", "/"]);
  const r2 = await new Deno.Command(exe2, { args: args2, stdout: "piped", stderr: "piped" }).output();
  assert.match(new TextDecoder().decode(r2.stderr), /--timeout soon: give a positive number of seconds/);
});
