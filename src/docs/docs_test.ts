/**
 * Tests that the guides in docs/ stay true to the command line:
 * - every `new CliError(...)` message of commands/*.ts is explained in
 *   docs/TROUBLESHOOTING.md (so a new error must be documented to pass);
 * - every `vexfs ...` command line in the guides and man page sources names
 *   a real command and only options that command has (buildProgram());
 * - every `--option` the prose mentions exists on some command;
 * - every relative link points at a file that exists, and every `#anchor`
 *   of a link into docs/ at a heading of that file;
 * - the import/export example of GUIDE.md runs as written and gives what it says.
 * @module
 */
import assert from "node:assert/strict";
import { buildProgram } from "../../main.ts";
import { allCommands, type CommandDoc, describeCommand } from "./help.ts";
import { cliErrorMessages } from "./_cli_errors.ts";
import { section, slug } from "./man.ts";
import { assertFsckClean } from "../fs/_testutil.ts";

const root = new URL("../../", import.meta.url);
const read = (rel: string) => Deno.readTextFileSync(new URL(rel, root));
const program = describeCommand(buildProgram());

/** The guides this issue added, and the man page sources. */
const GUIDES = [
  "docs/INSTALL.md",
  "docs/GUIDE.md",
  "docs/ADMIN.md",
  "docs/TUNING.md",
  "docs/TROUBLESHOOTING.md",
  "docs/SIZING.md",
];
const MAN_SOURCES = [...Deno.readDirSync(new URL("docs/man/", root))].filter((e) => e.name.endsWith(".md"))
  .map((e) => `docs/man/${e.name}`).sort();

/** Options of other programs the guides mention in prose, with the program they belong to. */
const FOREIGN_OPTIONS: Record<string, string> = {
  "--fstab": "mount(8)",
  "--target": "mount(8)",
  "--sparse": "cp(1)",
  "--include": "deno compile",
};

Deno.test("docs: every CliError message of commands/*.ts is explained in docs/TROUBLESHOOTING.md", () => {
  const doc = read("docs/TROUBLESHOOTING.md").replace(/\s+/g, " ");
  const missing: string[] = [];
  let n = 0;
  for (const e of Deno.readDirSync(new URL("commands/", root))) {
    if (!e.name.endsWith(".ts") || e.name.endsWith("_test.ts")) continue;
    for (const m of cliErrorMessages(read(`commands/${e.name}`))) {
      n++;
      if (!m.pattern.test(doc)) missing.push(`commands/${e.name}:${m.line}: ${m.text}`);
    }
  }
  assert.ok(n >= 80, `only ${n} messages found: is the extractor still finding them?`);
  assert.deepEqual(missing, [], `document these in docs/TROUBLESHOOTING.md:\n${missing.join("\n")}`);
});

Deno.test("docs: the CliError extractor reads literals, templates, concatenations and ternaries", () => {
  const src = `
    throw new CliError(\`\${p}: no such file or directory in \${target}\`);
    throw new CliError("give exactly one source: " + "--from-dir HOSTDIR or --jsonl FILE", 2);
    throw new CliError(ok ? \`\${t} looks like an image or device\` : \`\${t} is not on a mounted VexFS, sadly\`);
    throw new CliError(msg);`;
  const m = cliErrorMessages(src);
  assert.deepEqual(m.map((x) => [x.line, x.text]), [
    [2, "…: no such file or directory in …"],
    [3, "give exactly one source: --from-dir HOSTDIR or --jsonl FILE"],
    [4, "… looks like an image or device"],
    [4, "… is not on a mounted VexFS, sadly"],
  ]);
  assert.ok(m[0].pattern.test("`PATH: no such file or directory in IMAGE`"));
  assert.ok(!m[0].pattern.test("`PATH: no such file or directory`"));
});

/** Command lines (`vexfs ...`) in code blocks and code spans of a markdown text. */
function commandLines(md: string): string[] {
  const code: string[] = [];
  let fence = false;
  for (const line of md.split("\n")) {
    if (/^\s*```/.test(line)) {
      fence = !fence;
      continue;
    }
    if (fence) code.push(line);
    else for (const m of line.matchAll(/`([^`]+)`/g)) code.push(m[1]);
  }
  return code.flatMap((l) => l.replace(/\s#\s.*$/, "").split(/\s*(?:\||&&|;|\$\()\s*/))
    .map((s) => s.trim().replace(/^sudo\s+/, ""))
    .filter((s) => /^vexfs\s/.test(s));
}

/** The command a command line runs, and the options it gives, or undefined when it names no command. */
function parseLine(line: string): { cmd: CommandDoc; flags: string[] } | undefined {
  const words = line.split(/\s+/).slice(1);
  let cmd = program;
  const flags: string[] = [];
  let i = 0;
  for (; i < words.length; i++) {
    const sub = cmd.commands.find((c) => c.name === words[i]);
    if (!sub) break;
    cmd = sub;
  }
  if (cmd === program && !/^-/.test(words[0] ?? "")) return undefined; // `vexfs COMMAND`, `vexfs SOURCE DIR`
  for (; i < words.length; i++) {
    const w = words[i];
    if (/^--[a-z]/.test(w)) flags.push(w.replace(/=.*$/, ""));
    else if (/^-[A-Za-z]+$/.test(w)) {
      for (const ch of w.slice(1)) {
        flags.push(`-${ch}`);
        const o = cmd.options.find((x) => x.short === `-${ch}`);
        if (o?.takesValue) break; // `-s1G`: the rest is the value
      }
    } else continue;
    const o = cmd.options.find((x) => x.long === flags[flags.length - 1] || x.short === flags[flags.length - 1]);
    if (o?.takesValue && !o.optionalValue && !w.includes("=") && !/^-[A-Za-z]{2,}/.test(w)) i++;
  }
  return { cmd, flags };
}

Deno.test("docs: every vexfs command line in the guides and man page sources runs a real command with its own options", () => {
  const bad: string[] = [];
  let lines = 0;
  for (const f of [...GUIDES, ...MAN_SOURCES, "README.md"]) {
    for (const line of commandLines(read(f))) {
      const p = parseLine(line);
      if (!p) continue;
      lines++;
      for (const flag of p.flags) {
        if (!p.cmd.options.some((o) => o.long === flag || o.short === flag)) {
          bad.push(`${f}: '${line}': 'vexfs ${p.cmd.path.join(" ")}' has no option ${flag}`);
        }
      }
    }
  }
  assert.ok(lines >= 60, `only ${lines} command lines found`);
  assert.deepEqual(bad, []);
});

Deno.test("docs: every --option the guides mention exists on some vexfs command (or is another program's, named)", () => {
  const known = new Set(allCommands(program).flatMap((c) => c.options.map((o) => o.long).filter(Boolean)));
  const bad: string[] = [];
  for (const f of [...GUIDES, ...MAN_SOURCES]) {
    for (const m of read(f).matchAll(/(?<![\w-])--[a-z][a-z0-9-]*/g)) {
      if (!known.has(m[0]) && !(m[0] in FOREIGN_OPTIONS)) bad.push(`${f}: ${m[0]}`);
    }
  }
  assert.deepEqual(bad, []);
});

Deno.test("docs: relative links of the guides point at files that exist, and their anchors at headings", () => {
  const bad: string[] = [];
  for (const f of [...GUIDES, "README.md"]) {
    const base = new URL(f, root);
    for (const m of read(f).matchAll(/\]\(([^)\s]+)\)/g)) {
      const href = m[1];
      if (/^[a-z]+:/.test(href)) continue;
      const [path, anchor] = href.split("#");
      const target = path ? new URL(path, base) : base;
      let text: string;
      try {
        text = Deno.readTextFileSync(target);
      } catch {
        try {
          Deno.statSync(target);
          continue; // a directory
        } catch {
          bad.push(`${f}: ${href}: no such file`);
          continue;
        }
      }
      if (anchor && target.pathname.endsWith(".md")) {
        const anchors = [...text.matchAll(/^#{1,6}\s+(.*)$/gm)].map((h) => slug(h[1]));
        if (!anchors.includes(anchor)) bad.push(`${f}: ${href}: no heading with that anchor`);
      }
    }
  }
  assert.deepEqual(bad, []);
});

Deno.test("docs: GUIDE.md's import/export example quotes testdata/examples/small.jsonl and its commands do what it says", () => {
  const guide = section(read("docs/GUIDE.md"), "import-and-export");
  const blocks = [...guide.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1], text: m[2] }));
  const json = blocks.find((b) => b.lang === "json")!;
  assert.equal(json.text, read("testdata/examples/small.jsonl"), "the quoted example is not the file");
  const sh = blocks.find((b) => b.lang === "sh" && b.text.includes("small.jsonl"))!;
  const dir = Deno.makeTempDirSync({ prefix: "vexfs-guide-" });
  try {
    const outputs: string[] = [];
    for (const line of sh.text.split("\n").map((l) => l.replace(/\s+#.*$/, "").trim()).filter(Boolean)) {
      // the commands as written, with their files in a temporary directory and the example from the repository
      const args = [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]).slice(1)
        .map((a) => a === "demo.img" || a === "docs.jsonl" ? `${dir}/${a}` : a)
        .map((a) => a.startsWith("testdata/") ? new URL(a, root).pathname : a);
      const o = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", new URL("main.ts", root).pathname, ...args],
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).outputSync();
      assert.equal(o.code, 0, `${line}: ${new TextDecoder().decode(o.stderr)}`);
      outputs.push(new TextDecoder().decode(o.stdout));
    }
    assert.equal(outputs.length, 5);
    assert.deepEqual(outputs[2].split(/\s+/).filter(Boolean), ["intro.md", "search.md"]); // ls
    const first = outputs[3].split("\n").find((l) => /^\W*1\W/.test(l)) ?? ""; // rank 1 of the search
    assert.match(first, /1\.000000.*faq-1/);
    // export gives the records back: the same files, vectors, texts and extra fields (as strings)
    const records = (t: string) =>
      t.split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((r) => !("vexfs_collection" in r))
        .map((r) => [r.path ?? r.id, r.vector, r.text, r.lang]).sort();
    assert.deepEqual(
      records(Deno.readTextFileSync(`${dir}/docs.jsonl`)),
      records(read("testdata/examples/small.jsonl")),
    );
    assertFsckClean(`${dir}/demo.img`);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
