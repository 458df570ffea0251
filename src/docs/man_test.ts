/**
 * Tests of the man pages: every command of the real program (buildProgram()
 * of main.ts, so a command added later is covered without touching this
 * file) has a page that groff formats without a single warning, names every
 * option and example of the command, and man(1) finds the `.so` link pages.
 * @module
 */
import assert from "node:assert/strict";
import { buildProgram } from "../../main.ts";
import { describeCommand, parseHelpText } from "./help.ts";
import { expandDirectives, LINK_PAGES, manPages, section, slug, STANDALONE_PAGES } from "./man.ts";

const dec = new TextDecoder();
const read0 = (_: string) => "";
const includes = (text: string, part: string, what = part) => assert.ok(text.includes(part), `missing: ${what}`);
const have = (tool: string) =>
  new Deno.Command("sh", { args: ["-c", `command -v ${tool}`], stdout: "null" }).outputSync().success;

function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const o = new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).outputSync();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

const program = buildProgram();
const doc = describeCommand(program);
const DATE = new Date("2026-12-04T00:00:00Z");
const pages = manPages(program, { date: DATE });
const byFile = new Map(pages.map((p) => [p.file, p]));

Deno.test("man: every command of the program has a vexfs-COMMAND(8) page, plus vexfs(8) and the helpers' pages", () => {
  assert(doc.commands.length >= 20, `only ${doc.commands.length} commands`);
  for (const c of doc.commands) {
    const p = byFile.get(`vexfs-${c.name}.8`);
    assert(p, `no page for 'vexfs ${c.name}'`);
    includes(p.roff, `.TH "VEXFS\\-${c.name.toUpperCase().replaceAll("-", "\\-")}" "8"`);
    includes(p.roff, `.SH "NAME"\n\\fBvexfs-${c.name}\\fR \\- `);
    for (const s of c.commands) includes(p.markdown!, `### vexfs ${c.name} ${s.name}\n`);
  }
  for (const f of [...STANDALONE_PAGES, ...Object.keys(LINK_PAGES)]) assert(byFile.has(f), f);
  assert.deepEqual(pages.length, doc.commands.length + STANDALONE_PAGES.length + Object.keys(LINK_PAGES).length);
  assert.deepEqual(byFile.get("mkfs.vexfs.8")!.roff, ".so man8/vexfs-mkfs.8\n");
});

Deno.test({
  name: "man: groff formats every page with all warnings on (-ww) and says nothing; the text names every option, " +
    "argument, subcommand and example of the command",
  ignore: !have("groff"),
  fn: () => {
    const dir = Deno.makeTempDirSync({ prefix: "vexfs-man-" });
    try {
      const text = new Map<string, string>();
      for (const p of pages) {
        if (p.markdown === undefined) continue;
        const f = `${dir}/${p.file}`;
        Deno.writeTextFileSync(f, p.roff);
        // -t: tbl (the pages' first line asks man for it); -P-cbou: plain text, no escapes
        const r = run("groff", ["-man", "-t", "-Tutf8", "-ww", "-P", "-cbou", f]);
        assert.deepEqual([r.code, r.stderr], [0, ""], p.file);
        assert(!/\\f[BIRP]|\\\[|\\-|^\.[A-Za-z]/m.test(r.stdout), `${p.file}: roff left in the text`);
        text.set(p.file, r.stdout.replace(/\s+/g, " "));
      }
      for (const c of doc.commands) {
        const t = text.get(`vexfs-${c.name}.8`)!;
        for (const x of [c, ...c.commands]) {
          for (const o of x.options) for (const flag of [o.short, o.long]) if (flag) includes(t, flag);
          for (const a of x.arguments) includes(t, a.name);
          for (const e of x.extra.examples) includes(t, e.replace(/\s+/g, " ").trim());
          if (x !== c) includes(t, `vexfs ${c.name} ${x.name}`);
        }
      }
      // the hand-written parts: fsck's exit codes and the mount options come from docs/ADMIN.md
      includes(text.get("vexfs-fsck.8")!, "EXIT STATUS");
      includes(text.get("fsck.vexfs.8")!, "operational error");
      includes(text.get("mount.vexfs.8")!, "entry_timeout=SECONDS");
      includes(text.get("vexfs.8")!, "VexFS is a vector-native filesystem");
      for (const c of doc.commands) includes(text.get("vexfs.8")!, `vexfs-${c.name}(8)`);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "man: 'vexfs man --out DIR' writes pages man -M DIR finds, .so links included (mkfs.vexfs -> vexfs-mkfs)",
  ignore: !have("man"),
  fn: () => {
    const dir = Deno.makeTempDirSync({ prefix: "vexfs-manout-" });
    try {
      const main = new URL("../../main.ts", import.meta.url).pathname;
      const w = run(Deno.execPath(), ["run", "-A", main, "man", "--out", dir]);
      assert.deepEqual(w.code, 0, w.stderr);
      assert.deepEqual([...Deno.readDirSync(`${dir}/man8`)].map((e) => e.name).sort(), pages.map((p) => p.file));
      for (
        const [name, title] of [["mkfs.vexfs", "VEXFS-MKFS(8)"], ["fsck.vexfs", "FSCK.VEXFS(8)"], ["vexfs", "VEXFS(8)"]]
      ) {
        const r = run("man", ["-M", dir, name], {
          MANWIDTH: "80",
          MAN_KEEP_FORMATTING: "",
          PATH: Deno.env.get("PATH")!,
        });
        assert.deepEqual(r.code, 0, r.stderr);
        includes(r.stdout, title);
      }
      // a page by command name, as roff when stdout is not a terminal; an unknown one is an error
      const one = run(Deno.execPath(), ["run", "-A", main, "man", "umount"], {
        SOURCE_DATE_EPOCH: String(DATE.getTime() / 1000),
      });
      assert.deepEqual(one.code, 0, one.stderr);
      assert.deepEqual(one.stdout, byFile.get("vexfs-umount.8")!.roff);
      const bad = run(Deno.execPath(), ["run", "-A", main, "man", "no-such-command"]);
      assert.deepEqual(bad.code, 1);
      includes(bad.stderr, "no man page for 'no-such-command'");
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test("man: sections of the docs are found by GitHub's heading anchors; a missing one is an error", () => {
  assert.deepEqual(slug("Checking and repairing: fsck"), "checking-and-repairing-fsck");
  assert.deepEqual(slug("`vexfs` and *fstab*"), "vexfs-and-fstab");
  const md = "# T\n\n## A b\n\ntext\n\n```\n## not a heading\n```\n\n### Sub\n\nmore\n\n## Next\n\nno\n";
  assert.deepEqual(section(md, "a-b"), "text\n\n```\n## not a heading\n```\n\n### Sub\n\nmore\n");
  assert.throws(() => section(md, "nope", "docs/X.md"), /no section '#nope' in docs\/X\.md/);
  // an include: its headings become subsections, a "# comment" in its code stays, links become their text
  const page = expandDirectives("## A\n\n<!-- include X.md#a-b -->\n", doc, (f) => {
    assert.equal(f, "X.md");
    return md.replace("more", "see [B](B.md#x)").replace("## not a heading", "# a comment");
  });
  assert.equal(page, "## A\n\ntext\n\n```\n# a comment\n```\n\n### Sub\n\nsee B\n");
  assert.throws(() => expandDirectives("<!-- vexfs:options nosuch -->", doc, read0), /no command 'vexfs nosuch'/);
  assert.deepEqual(parseHelpText("\nA note\nwrapped.\n\nExamples:\n  vexfs a\n  vexfs b   # c\n"), {
    blocks: [{ kind: "prose", text: "A note wrapped." }],
    examples: ["vexfs a", "vexfs b   # c"],
  });
});
