/**
 * Finds the messages of `new CliError(...)` in the source of a command
 * module, as patterns: the static text of each string literal (template
 * literals' `${...}` and non-literal operands of `+` become wildcards), so a
 * test can require that docs/TROUBLESHOOTING.md explains every message a
 * user can get from the command line. Private to the docs tests.
 * @module
 */

/** One error message found in the source. */
export interface CliErrorMessage {
  /** 1-based line of the `new CliError(` */
  line: number;
  /** the message with every wildcard written as `…` */
  text: string;
  /** matches the message in text whose whitespace was collapsed; a wildcard matches up to 80 characters, no backtick */
  pattern: RegExp;
}

const WILD = "\u0000";

/** Reads a string literal starting at `src[i]` (a quote); returns its text (with WILD for `${}`) and the end index. */
function literal(src: string, i: number): [string, number] {
  const quote = src[i];
  let out = "";
  let j = i + 1;
  while (j < src.length && src[j] !== quote) {
    if (src[j] === "\\") {
      const n = src[j + 1];
      out += n === "n" ? "\n" : n === "t" ? "\t" : n;
      j += 2;
      continue;
    }
    if (quote === "`" && src[j] === "$" && src[j + 1] === "{") {
      j = skipBalanced(src, j + 1);
      out += WILD;
      continue;
    }
    out += src[j++];
  }
  return [out, j + 1];
}

/** From an opening bracket at `src[i]`, the index after its match (strings inside are skipped). */
function skipBalanced(src: string, i: number): number {
  const open = src[i];
  const close = open === "(" ? ")" : open === "{" ? "}" : "]";
  let depth = 0;
  let j = i;
  while (j < src.length) {
    const ch = src[j];
    if (ch === '"' || ch === "'" || ch === "`") {
      j = literal(src, j)[1];
      continue;
    }
    if (ch === open) depth++;
    if (ch === close && --depth === 0) return j + 1;
    j++;
  }
  return j;
}

/** Splits an argument list at top-level commas. */
function topLevel(src: string, sep: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let j = 0;
  while (j < src.length) {
    const ch = src[j];
    if (ch === '"' || ch === "'" || ch === "`") j = literal(src, j)[1];
    else if (ch === "(" || ch === "{" || ch === "[") j = skipBalanced(src, j);
    else if (ch === sep) {
      parts.push(src.slice(start, j));
      start = ++j;
    } else j++;
  }
  parts.push(src.slice(start));
  return parts;
}

/** The message alternatives of one operand of `+`: a literal's text, or the literals inside an expression. */
function operand(expr: string): string[] {
  const e = expr.trim();
  if (/^["'`]/.test(e)) {
    const [text, end] = literal(e, 0);
    if (end >= e.length) return [text];
  }
  // an expression (a call, a ternary): its own long literals are alternatives; the value itself is a wildcard
  const alts: string[] = [];
  for (let j = 0; j < e.length;) {
    if (e[j] === '"' || e[j] === "'" || e[j] === "`") {
      const [text, end] = literal(e, j);
      if (text.replaceAll(WILD, "").trim().length >= 15) alts.push(text);
      j = end;
    } else j++;
  }
  return alts.length ? alts : [WILD];
}

/**
 * Every `new CliError(message, ...)` of a source file, as message patterns.
 * A message with less than 8 characters of static text (one that only
 * passes on another error's message) is left out.
 * @param source TypeScript source
 */
export function cliErrorMessages(source: string): CliErrorMessage[] {
  const out: CliErrorMessage[] = [];
  const re = /new CliError\(/g;
  for (let m = re.exec(source); m; m = re.exec(source)) {
    const open = m.index + m[0].length - 1;
    const args = source.slice(open + 1, skipBalanced(source, open) - 1);
    const first = topLevel(args, ",")[0];
    let messages = [""];
    for (const op of topLevel(first, "+")) {
      const alts = operand(op);
      messages = messages.flatMap((pre) => alts.map((a) => pre + a));
    }
    const line = source.slice(0, m.index).split("\n").length;
    for (const msg of messages) {
      const text = msg.replace(/\s+/g, " ").trim();
      if (text.replaceAll(WILD, "").replace(/[^A-Za-z]/g, "").length < 8) continue;
      const body = text.split(WILD).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("[^`]{0,80}?");
      out.push({ line, text: text.replaceAll(WILD, "…"), pattern: new RegExp(body) });
    }
  }
  return out;
}
