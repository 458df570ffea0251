/**
 * `vexfs man [COMMAND]`: show or write the man pages src/docs/man.ts makes
 * from the command definitions and docs/.
 * @module
 */
import type { Command } from "commander";
import { manPages } from "../src/docs/man.ts";
import { action, CliError, defineCommand, examples, say, writeStdout } from "./util.ts";
import { printJsonResult } from "./json.ts";

/** The program a command belongs to (the root of its parent chain). */
export function programOf(cmd: Command): Command {
  let p = cmd;
  while (p.parent) p = p.parent;
  return p;
}

/** Registers `man` on the program. */
export function register(program: Command): void {
  const cmd = defineCommand(
    program,
    "man",
    "show the man page of vexfs or of a command, or write every page (--out) as roff",
  )
    .argument(
      "[command]",
      "the command whose page to show (vexfs-COMMAND(8)); a page name such as mount.vexfs also works",
    )
    .option("--out <dir>", "write every page to DIR/man8/ instead (DIR as a man(1) -M directory)")
    .option("--markdown", "print the markdown the page is rendered from instead of roff")
    .option("--json", "with --out: print the files written as JSON");
  examples(cmd, [
    "vexfs man                          # vexfs(8), through man(1) on a terminal",
    "vexfs man mkfs                     # vexfs-mkfs(8)",
    "vexfs man mount.vexfs | man -l -",
    "vexfs man --out /tmp/man && man -M /tmp/man fsck.vexfs",
  ]);
  cmd.action(
    action("man", async (name: string | undefined, o: { out?: string; markdown?: boolean; json?: boolean }) => {
      const pages = manPages(programOf(cmd));
      if (o.out !== undefined) {
        if (name !== undefined) throw new CliError("give a command or --out, not both");
        const dir = `${o.out.replace(/\/+$/, "")}/man8`;
        Deno.mkdirSync(dir, { recursive: true });
        const files: string[] = [];
        for (const p of pages) {
          Deno.writeTextFileSync(`${dir}/${p.file}`, o.markdown && p.markdown ? p.markdown : p.roff);
          files.push(`${dir}/${p.file}`);
        }
        if (o.json) return printJsonResult("man", { dir, files });
        say(`wrote ${files.length} pages to ${dir}`);
        return;
      }
      const want = name === undefined ? "vexfs.8" : /\.8$/.test(name) ? name : [`vexfs-${name}.8`, `${name}.8`];
      const page = pages.find((p) => (Array.isArray(want) ? want.includes(p.file) : p.file === want));
      if (!page) {
        throw new CliError(
          `no man page for '${name}'; pages: ${pages.map((p) => p.file.replace(/\.8$/, "")).join(", ")}`,
        );
      }
      const target = page.markdown === undefined
        ? pages.find((p) => page.roff.trim() === `.so man8/${p.file}`) ?? page
        : page;
      const text = o.markdown ? target.markdown ?? "" : target.roff;
      if (!o.markdown && Deno.stdout.isTerminal()) {
        // a person at a terminal: let man(1) format and page it
        try {
          const child = new Deno.Command("man", { args: ["-l", "-"], stdin: "piped" }).spawn();
          const w = child.stdin.getWriter();
          await w.write(new TextEncoder().encode(text));
          await w.close();
          return (await child.status).code;
        } catch (e) {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        }
      }
      writeStdout(new TextEncoder().encode(text));
    }),
  );
}
