/**
 * The man pages of VexFS, section 8, made from what already documents it
 * rather than written a second time:
 * - one page per command, `vexfs-<command>(8)` as git has `git-<command>(1)`,
 *   generated from the command's commander definition (description, usage,
 *   arguments, every option with its help, the text and examples it adds after
 *   its help; the subcommands of `collection`, `vector`, `index`, ... as
 *   sections of their group's page), plus, when `docs/man/vexfs-<command>.8.md`
 *   exists, its hand-written sections (for `fsck` the exit codes, for `mount`
 *   the mount options: included from docs/ADMIN.md);
 * - `vexfs(8)`, `fsck.vexfs(8)` and `mount.vexfs(8)` from `docs/man/<page>.md`,
 *   which pull in sections of the guides in docs/ and generated parts;
 * - `mkfs.vexfs(8)` and `mount.fuse.vexfs(8)`: `.so` links to
 *   `vexfs-mkfs(8)` and `mount.vexfs(8)`.
 *
 * The markdown of a page uses ronn's first line (`# vexfs-mkfs(8) -- make a
 * filesystem`, which gives `.TH` and NAME) and is rendered to roff (man(7)
 * macros, tables for tbl(1)) by `marked` with `marked-man`. Markdown
 * comments in docs/man/*.md are directives, expanded before rendering:
 * - `<!-- include FILE.md#heading-slug -->`: the body of that section of
 *   docs/FILE.md (up to the next heading of its level or above; its
 *   subheadings become subsections; links become their text);
 * - `<!-- vexfs:commands -->`: every command with its description;
 * - `<!-- vexfs:usage WORDS -->`, `<!-- vexfs:options WORDS -->`,
 *   `<!-- vexfs:arguments WORDS -->`, `<!-- vexfs:examples WORDS -->`: those
 *   parts of the command named by WORDS (none: the program itself).
 * - `<!-- vexfs:heading NAME -->`: the blocks under `NAME:` in `vexfs --help`;
 * - `<!-- vexfs:paragraph WORDS -->`: the paragraph of `vexfs --help` that
 *   starts with WORDS.
 * @module
 */
import type { Command } from "commander";
import { Marked } from "marked";
// @ts-types="./marked_man.d.ts"
import markedMan from "marked-man";
import { type CommandDoc, describeCommand } from "./help.ts";

/** The docs/ directory of this checkout (markdown sources of the guides and of docs/man/). */
export const DOCS_DIR: URL = new URL("../../docs/", import.meta.url);

/** The man section of every VexFS page (system administration). */
export const SECTION = "8";

/** One man page. */
export interface ManPage {
  /** its file name, e.g. `vexfs-mkfs.8` */
  file: string;
  /** its roff source (a `.so` line for the link pages) */
  roff: string;
  /** the markdown it was rendered from (undefined for `.so` links) */
  markdown?: string;
}

/** Options of {@link manPages}. */
export interface ManOptions {
  /** where the guides and docs/man/ are (default {@link DOCS_DIR}) */
  docsDir?: URL;
  /** the date in the pages' footers (default: SOURCE_DATE_EPOCH if set, else now) */
  date?: Date;
}

/** Pages that are `.so` links to another page: link file -> target file. */
export const LINK_PAGES: Readonly<Record<string, string>> = {
  "mkfs.vexfs.8": "vexfs-mkfs.8",
  "mount.fuse.vexfs.8": "mount.vexfs.8",
};

/** Hand-written whole pages in docs/man/ (besides per-command additions). */
export const STANDALONE_PAGES: readonly string[] = ["vexfs.8", "fsck.vexfs.8", "mount.vexfs.8"];

/**
 * Every man page of the program: `vexfs.8`, one `vexfs-<command>.8` per
 * command of `program`, `fsck.vexfs.8`, `mount.vexfs.8` and the `.so` links.
 * @param program the `vexfs` program (`buildProgram()` of main.ts)
 * @param opts where the docs are, the footer date
 * @returns the pages sorted by file name
 * @throws Error when a docs/man page or an included section is missing, or a directive names an unknown command
 */
export function manPages(program: Command, opts: ManOptions = {}): ManPage[] {
  const docs = opts.docsDir ?? DOCS_DIR;
  const doc = describeCommand(program);
  const version = program.version() ?? "";
  const date = opts.date ?? defaultDate();
  const read = (name: string) => Deno.readTextFileSync(new URL(name, docs));
  const optional = (name: string) => {
    try {
      return read(name);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
  };
  const pages: ManPage[] = [];
  const add = (file: string, markdown: string) => {
    const md = expandDirectives(markdown, doc, read);
    pages.push({ file, markdown: md, roff: renderRoff(md, { version, date, source: file }) });
  };
  for (const file of STANDALONE_PAGES) add(file, read(`man/${file}.md`));
  for (const c of doc.commands) {
    const file = `${pageName(c)}.${SECTION}`;
    add(file, commandMarkdown(c, optional(`man/${file}.md`)));
  }
  for (const [file, target] of Object.entries(LINK_PAGES)) {
    pages.push({ file, roff: `.so man${SECTION}/${target}\n` });
  }
  return pages.sort((a, b) => a.file.localeCompare(b.file));
}

function defaultDate(): Date {
  const epoch = Deno.env.get("SOURCE_DATE_EPOCH");
  return epoch && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000) : new Date();
}

/** The page name of a command: `vexfs-mkfs` (the program: `vexfs`). */
export function pageName(c: CommandDoc): string {
  return ["vexfs", ...c.path].join("-");
}

/** Escapes text for markdown (so help texts with `<`, `*`, `_`, `[` stay literal). */
export function mdEscape(s: string): string {
  return s.replace(/([\\`*_[\]<>|#~])/g, "\\$1");
}

/** Inline code (the text may not hold a backtick run as long as the fence). */
function code(s: string): string {
  const fence = s.includes("`") ? "``" : "`";
  return `${fence}${fence.length > 1 ? " " : ""}${s}${fence.length > 1 ? " " : ""}${fence}`;
}

function optionsList(c: CommandDoc): string {
  return c.options.map((o) => `- ${code(o.term)}: ${mdEscape(o.description)}`).join("\n") + "\n";
}

function argumentsList(c: CommandDoc): string {
  return c.arguments.map((a) =>
    `- ${code(a.variadic ? `${a.name}...` : a.name)}: ${mdEscape(a.description || "(see DESCRIPTION)")}`
  ).join("\n") + "\n";
}

function usageLine(c: CommandDoc): string {
  return code(["vexfs", ...c.path, c.usage].filter(Boolean).join(" "));
}

function extraText(c: CommandDoc, level: number): string {
  let out = "";
  let lastHeading: string | undefined;
  for (const b of c.extra.blocks) {
    if (b.heading && b.heading !== lastHeading) out += `${"#".repeat(level)} ${mdEscape(b.heading)}\n\n`;
    lastHeading = b.heading;
    out += b.kind === "pre" ? "```\n" + b.text + "\n```\n\n" : `${mdEscape(b.text)}\n\n`;
  }
  return out;
}

function examplesBlock(lines: string[]): string {
  return lines.length ? "```\n" + lines.join("\n") + "\n```\n" : "";
}

function sentence(s: string): string {
  const t = s.trim().replace(/^\p{Ll}/u, (ch) => ch.toUpperCase());
  return t && !/[.!?]$/.test(t) ? `${t}.` : t;
}

/**
 * The markdown page of one command (and its subcommands), from its commander
 * definition, with the hand-written sections of docs/man/vexfs-<command>.8.md.
 * @param c the command ({@link describeCommand})
 * @param handWritten extra sections (markdown starting at a `##` heading), inserted before SEE ALSO
 */
export function commandMarkdown(c: CommandDoc, handWritten?: string): string {
  const name = pageName(c);
  let md = `# ${name}(${SECTION}) -- ${c.description.split(/\n/)[0]}\n\n## SYNOPSIS\n\n`;
  md += (c.commands.length ? c.commands : [c]).map(usageLine).join("  \n") + "\n\n";
  md += `## DESCRIPTION\n\n${mdEscape(sentence(c.description))}\n\n${extraText(c, 3)}`;
  if (c.arguments.length) md += `## ARGUMENTS\n\n${argumentsList(c)}\n`;
  md += `## OPTIONS\n\n${optionsList(c)}\n`;
  const examples = [...c.extra.examples];
  if (c.commands.length) {
    md += `## COMMANDS\n\n`;
    for (const s of c.commands) {
      md += `### ${["vexfs", ...s.path].join(" ")}\n\n${usageLine(s)}\n\n${mdEscape(sentence(s.description))}\n\n`;
      md += extraText(s, 4).replace(/^#### /gm, "**").replace(/^(\*\*.*)$/gm, "$1:**");
      if (s.arguments.length) md += `Arguments:\n\n${argumentsList(s)}\n`;
      md += `Options:\n\n${optionsList(s)}\n`;
      examples.push(...s.extra.examples);
      if (s.commands.length) {
        md += `Subcommands: ${s.commands.map((x) => code(x.name)).join(", ")} (see \`vexfs ${
          s.path.join(" ")
        } --help\`).\n\n`;
      }
    }
  }
  if (examples.length) md += `## EXAMPLES\n\n${examplesBlock(examples)}\n`;
  if (handWritten) md += handWritten.trim() + "\n\n";
  if (!/^## SEE ALSO/m.test(handWritten ?? "")) md += `## SEE ALSO\n\n**vexfs**(${SECTION})\n`;
  return md;
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as dashes. */
export function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[`*_]/g, "").replace(/[^\p{L}\p{N} -]/gu, "").replace(/ /g, "-");
}

/**
 * The body of the section of a markdown document under the heading whose
 * slug is `anchor`, up to the next heading of the same level or above.
 * @throws Error when no heading has that slug
 */
export function section(markdown: string, anchor: string, where = "the document"): string {
  const lines = markdown.split("\n");
  let inFence = false;
  let start = -1;
  let level = 0;
  const out: string[] = [];
  for (const line of lines) {
    if (/^(```|~~~)/.test(line)) inFence = !inFence;
    const h = inFence ? null : /^(#{1,6})\s+(.*)$/.exec(line);
    if (start < 0) {
      if (h && slug(h[2]) === anchor) {
        start = out.length;
        level = h[1].length;
      }
      continue;
    }
    if (h && h[1].length <= level) break;
    out.push(line);
  }
  if (start < 0) throw new Error(`no section '#${anchor}' in ${where}`);
  return out.join("\n").trim() + "\n";
}

/** Headings of an included part become subsections (`###`, .SS); lines in code blocks (`# comment`) stay. */
function demoteHeadings(markdown: string): string {
  let fence = false;
  return markdown.split("\n").map((line) => {
    if (/^(```|~~~)/.test(line)) fence = !fence;
    return fence ? line : line.replace(/^#{1,6}(\s)/, "###$1");
  }).join("\n");
}

/**
 * Expands the directives of a docs/man page (see the module doc) and turns
 * relative links into their text.
 * @param markdown the page source
 * @param program the program's documentation
 * @param read reads a file of docs/ by relative name
 * @throws Error for an unknown directive, file, section or command
 */
export function expandDirectives(markdown: string, program: CommandDoc, read: (name: string) => string): string {
  const find = (words: string[]) => {
    let c: CommandDoc | undefined = program;
    for (const w of words) c = c?.commands.find((x) => x.name === w);
    if (!c) throw new Error(`man page directive: no command 'vexfs ${words.join(" ")}'`);
    return c;
  };
  const out = markdown.replace(/<!--\s*(include|vexfs:[a-z]+)\s*([^>]*?)\s*-->/g, (_m, what: string, arg: string) => {
    const words = arg.split(/\s+/).filter(Boolean);
    switch (what) {
      case "include": {
        const [file, anchor] = arg.split("#");
        const body = section(read(file), anchor ?? "", `docs/${file}`);
        return demoteHeadings(body).trim();
      }
      case "vexfs:commands":
        return program.commands.map((c) =>
          `- ${code(["vexfs", c.name].join(" "))}: ${mdEscape(sentence(c.description))} See **${
            pageName(c)
          }**(${SECTION}).`
        ).join("\n");
      case "vexfs:usage":
        return usageLine(find(words));
      case "vexfs:options":
        return optionsList(find(words)).trim();
      case "vexfs:arguments":
        return argumentsList(find(words)).trim();
      case "vexfs:examples":
        return examplesBlock(find(words).extra.examples).trim();
      case "vexfs:heading": {
        // the blocks under a heading of the program's help ("Environment:")
        const blocks = program.extra.blocks.filter((b) => b.heading === arg.trim());
        if (!blocks.length) throw new Error(`man page directive: no '${arg.trim()}:' in 'vexfs --help'`);
        return blocks.map((b) => b.kind === "pre" ? "```\n" + b.text + "\n```" : mdEscape(b.text)).join("\n\n");
      }
      case "vexfs:paragraph": {
        // the paragraph of the program's help that starts with the words given ("Exit status")
        const b = program.extra.blocks.find((b) => b.kind === "prose" && !b.heading && b.text.startsWith(arg.trim()));
        if (!b) throw new Error(`man page directive: no paragraph '${arg.trim()}...' in 'vexfs --help'`);
        return mdEscape(b.text);
      }
      default:
        throw new Error(`unknown man page directive '${what}'`);
    }
  });
  // remarks for the editor stay out of the page; links to other documents become their text
  return out.replace(/<!--[\s\S]*?-->\n?/g, "").replace(/(?<!!)\[([^\]]+)\]\((?!https?:)[^)]*\)/g, "$1");
}

/** Options of {@link renderRoff}. */
export interface RenderOptions {
  /** shown in the footer */
  version: string;
  /** shown in the footer */
  date: Date;
  /** named in the header comment */
  source?: string;
}

const manRenderer = {
  // `term`: description  ->  .TP (as man pages list options); other items stay bullets
  listitem(text: string): string {
    const t = text.trim().replace(/^\.P\s/, "");
    const m = /^(\\fB[^\n]*?\\f[PR][^\n:]*?):\s+([\s\S]*)$/.exec(t);
    if (m) return `.TP\n${m[1]}\n${m[2].replace(/\n\.P\n/g, "\n.IP\n")}\n`;
    return `.IP \\(bu 2\n${t.replace(/\n\.P\n/g, "\n.IP\n")}\n`;
  },
  list(body: string): string {
    return body.includes(".IP \\(bu") ? `.RS 1\n${body}.RE\n` : `${body}.PP\n`;
  },
};

/**
 * Renders a markdown man page to roff (man(7) macros; tables for tbl(1),
 * which the first line `'\" t` asks man(1) to run).
 * @param markdown the page, starting with `# name(section) -- summary`
 * @param opts footer version and date
 */
export function renderRoff(markdown: string, opts: RenderOptions): string {
  const marked = new Marked(markedMan, { renderer: manRenderer as never });
  const roff = marked.parse(markdown, {
    breaks: false,
    gfm: true,
    date: opts.date.getTime(),
    manVersion: opts.version ? `vexfs ${opts.version}` : "",
    manual: "VexFS Manual",
  } as never) as string;
  return `'\\" t\n.\\" ${opts.source ?? "page"}: generated by vexfs from its command definitions and docs/\n` +
    asciiRoff(tidy(roff));
}

/** Non-ASCII characters as groff's `\\[uXXXX]` escapes, so no preconv(1) is needed (`×` -> `\\[u00D7]`). */
function asciiRoff(roff: string): string {
  return roff.replace(/[\u0080-\u{10FFFF}]/gu, (ch) => {
    const cp = ch.codePointAt(0)!;
    return `\\[u${cp.toString(16).toUpperCase().padStart(4, "0")}]`;
  });
}

/** Drops empty lines outside no-fill blocks, and spaces a table from what follows it. */
function tidy(roff: string): string {
  const out: string[] = [];
  let nofill = false;
  let table = -1; // lines since .TS, -1 outside a table
  for (let line of roff.split("\n")) {
    if (line === ".TS") table = 0;
    else if (line === ".TE") table = -1;
    else if (table >= 0 && ++table > 2 && !/^(T\{|T\}\|T\{|T\}|_|=)$/.test(line)) {
      // '|' separates tbl's cells (marked-man's tab(|)): inside a cell it is the character \[ba]
      // (not the "\\|" of a roff escape: marked-man writes "\\|." for a line that starts with a dot)
      line = line.replace(/(?<!\\)\|/g, "\\[ba]");
    }
    if (line === ".nf") nofill = true;
    if (line === ".fi") nofill = false;
    if (line === "" && !nofill) continue;
    const prev = out[out.length - 1];
    if (prev === ".TE" && !/^\.(P|PP|SH|SS|TP|sp)\b/.test(line)) out.push(".sp");
    // a code block after running text gets a blank line before it, as a paragraph would
    if (line === ".nf" && prev === ".RS 2" && !/^\.(P|PP|SH|SS|TP|IP|sp)\b/.test(out[out.length - 2] ?? "")) {
      out.splice(out.length - 1, 0, ".sp");
    }
    // tables: the last column takes the width that is left (tbl's x), not an equal share
    if (/^tab\(\|\) expand nowarn box;$/.test(prev ?? "") && /^[lrc]( [lrc])*\.$/.test(line)) {
      out[out.length - 1] = "tab(|) nowarn box;";
      out.push(line.replace(/\.$/, "x."));
      continue;
    }
    if (line === ".PP" && (prev === ".PP" || prev === ".P")) continue;
    if (/^\.(P|SH|SS)\b/.test(line) && prev === ".PP") out.pop();
    out.push(line);
    // ragged right and no hyphenation: option names and paths stay whole (man-pages(7) allows both)
    if (line.startsWith(".TH ")) out.push(".ad l", ".nh");
  }
  return out.join("\n").replace(/\n*$/, "\n");
}
