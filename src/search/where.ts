/**
 * Metadata filters on extended attributes: the `--where` grammar, its
 * evaluation on one file's attributes, and its canonical text (the design
 * of issue 12, §5.1 and §5.2). Pure: the engine side (which files pass, kept
 * current as attributes change) is ../fs/xattr_filter.ts.
 *
 * Grammar (one or more `--where` strings, ANDed):
 *
 * ```
 * where   := clause { "AND" clause }          AND in any case
 * clause  := name op value | name "in" "(" value { "," value } ")" | name "exists"
 * op      := "=" | "!=" | "<" | "<=" | ">" | ">="
 * name    := "user." 1*(any character but white space, = ! < > ( ) ,)   at most 255 UTF-8 bytes in all
 * value   := bare | quoted
 * bare    := 1*(any character but white space , ( ) " ')                 taken as written, no escapes
 * quoted  := '"' ... '"' | "'" ... "'"   escapes \" \' \\ \n \t \r
 * ```
 *
 * `in` and `exists` are case-insensitive too. Only `user.` names in this
 * version: `trusted.` needs CAP_SYS_ADMIN to read, `security.` and
 * `system.` are not user data.
 *
 * Evaluation: a file without the attribute fails every clause, `!=`
 * included (as SQL's NULL), and `exists` is false for it. When the stored
 * value and the literal both match JSON number syntax (RFC 8259 §6:
 * `-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`) they compare as f64 numbers;
 * otherwise as byte strings (memcmp order of the UTF-8 bytes, which is code
 * point order). Nothing is trimmed: `echo en | setfattr ...`-style values
 * that end in a newline must be matched with the newline (`"en\n"`);
 * `setfattr -v en` stores no newline. `in` is any of its `=`.
 * @module
 */
import { FsError } from "../errors.ts";

/** A comparison of one clause. */
export type WhereOp = "=" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "exists";

/**
 * One clause: attribute `name` (full, e.g. `"user.lang"`) compared by `op`
 * with `values` (one value for the comparisons, one or more for `in`, none
 * for `exists`), as text (the literal as written, escapes resolved).
 */
export interface WhereClause {
  name: string;
  op: WhereOp;
  values: string[];
}

/** A filter: the AND of its clauses (empty: every file passes). */
export type Where = readonly WhereClause[];

/** Longest full attribute name, bytes (Linux's XATTR_NAME_MAX; the engine's limit). */
export const WHERE_NAME_MAX = 255;

const EXAMPLES = `e.g. user.lang=en, user.year >= 2020, user.lang in (en, de), user.reviewed exists, ` +
  `user.title = "two words"`;
const WS = new Set([" ", "\t", "\n", "\r"]);
/** Characters that end a name. */
const NAME_END = new Set([..."=!<>(),"]);
/** Characters that end a bare value. */
const BARE_END = new Set([...",()\"'"]);
const ESCAPES: Record<string, string> = { '"': '"', "'": "'", "\\": "\\", n: "\n", t: "\t", r: "\r" };
const enc = new TextEncoder();
const dec = new TextDecoder();

/** A recursive-descent reader of one `--where` string. */
class Reader {
  readonly s: string;
  i = 0;
  constructor(s: string) {
    this.s = s;
  }

  get end(): boolean {
    return this.i >= this.s.length;
  }

  skipWs(): void {
    while (this.i < this.s.length && WS.has(this.s[this.i])) this.i++;
  }

  /** An EINVAL naming the expression, the 1-based character position, what was expected and what was found. */
  fail(expected: string, at = this.i, found?: string): FsError {
    const what = found ?? (at >= this.s.length ? "the end" : `'${this.s.slice(at, at + 12)}'`);
    return new FsError(
      "EINVAL",
      `--where '${this.s}': at character ${at + 1}: expected ${expected}, found ${what} (${EXAMPLES})`,
    );
  }

  /** A run of ASCII letters at the cursor (not consumed). */
  peekWord(): string {
    let j = this.i;
    while (j < this.s.length && /[A-Za-z]/.test(this.s[j])) j++;
    return this.s.slice(this.i, j);
  }

  name(): string {
    const start = this.i;
    while (!this.end && !WS.has(this.s[this.i]) && !NAME_END.has(this.s[this.i])) this.i++;
    const name = this.s.slice(start, this.i);
    if (!name) throw this.fail("an attribute name such as user.lang", start);
    if (!name.startsWith("user.") || name.length === 5) {
      const dot = name.indexOf(".");
      const hint = dot < 0 ? ` (did you mean user.${name}?)` : "";
      throw new FsError(
        "EINVAL",
        `--where '${this.s}': at character ${start + 1}: '${name}' is not a user. attribute${hint}; ` +
          `only user.NAME attributes can be filtered on in this version (trusted. needs CAP_SYS_ADMIN to read, ` +
          `security. and system. are not user data) (${EXAMPLES})`,
      );
    }
    const bytes = enc.encode(name).length;
    if (bytes > WHERE_NAME_MAX) {
      throw new FsError(
        "EINVAL",
        `--where '${this.s.slice(0, 60)}...': at character ${start + 1}: the attribute name is ${bytes} bytes; ` +
          `names are at most ${WHERE_NAME_MAX} bytes with the user. prefix (${EXAMPLES})`,
      );
    }
    return name;
  }

  value(after: string): string {
    this.skipWs();
    const start = this.i;
    if (this.end) throw this.fail(`a value after ${after} (a bare word or a quoted string)`);
    const q = this.s[this.i];
    if (q === '"' || q === "'") {
      this.i++;
      let out = "";
      while (!this.end) {
        const c = this.s[this.i];
        if (c === q) {
          this.i++;
          return out;
        }
        if (c === "\\") {
          const e = this.s[this.i + 1];
          const r = e === undefined ? undefined : ESCAPES[e];
          if (r === undefined) {
            throw this.fail(
              `one of the escapes \\" \\' \\\\ \\n \\t \\r after a backslash`,
              this.i,
              e === undefined ? "the end" : `'\\${e}'`,
            );
          }
          out += r;
          this.i += 2;
          continue;
        }
        out += c;
        this.i++;
      }
      throw this.fail(`the closing ${q} of the value that starts at character ${start + 1}`);
    }
    while (!this.end && !WS.has(this.s[this.i]) && !BARE_END.has(this.s[this.i])) this.i++;
    if (this.i === start) throw this.fail(`a value after ${after} (a bare word or a quoted string)`);
    if (!this.end && (this.s[this.i] === '"' || this.s[this.i] === "'")) {
      throw this.fail(`no quote inside a bare value (quote the whole value: "it's" or 'say "hi"')`);
    }
    return this.s.slice(start, this.i);
  }

  clause(): WhereClause {
    this.skipWs();
    const name = this.name();
    this.skipWs();
    const two = this.s.slice(this.i, this.i + 2);
    const one = this.s[this.i];
    if (two === "<=" || two === ">=" || two === "!=") {
      this.i += 2;
      return { name, op: two, values: [this.value(`'${two}'`)] };
    }
    if (one === "=" || one === "<" || one === ">") {
      this.i++;
      return { name, op: one, values: [this.value(`'${one}'`)] };
    }
    const word = this.peekWord();
    const next = this.s[this.i + word.length];
    const delimited = next === undefined || WS.has(next) || next === "(";
    if (word.toLowerCase() === "exists" && (next === undefined || WS.has(next))) {
      this.i += word.length;
      return { name, op: "exists", values: [] };
    }
    if (word.toLowerCase() === "in" && delimited) {
      this.i += word.length;
      this.skipWs();
      if (this.s[this.i] !== "(") throw this.fail("'(' after in, then values separated by commas");
      this.i++;
      const values = [this.value("'('")];
      for (;;) {
        this.skipWs();
        if (this.s[this.i] === ")") {
          this.i++;
          return { name, op: "in", values };
        }
        if (this.s[this.i] !== ",") throw this.fail("',' or ')' in the list of values after in");
        this.i++;
        values.push(this.value("','"));
      }
    }
    throw this.fail(`an operator after the name ${name}: =, !=, <, <=, >, >=, in (...) or exists`);
  }

  all(): WhereClause[] {
    const out: WhereClause[] = [];
    this.skipWs();
    if (this.end) throw this.fail("a clause (the expression is empty)");
    for (;;) {
      out.push(this.clause());
      this.skipWs();
      if (this.end) return out;
      const word = this.peekWord();
      const next = this.s[this.i + word.length];
      if (word.toLowerCase() !== "and" || (next !== undefined && !WS.has(next))) {
        throw this.fail("AND or the end of the expression");
      }
      this.i += word.length;
      this.skipWs();
      if (this.end) throw this.fail("a clause after AND");
    }
  }
}

/**
 * Parses `--where` expressions (each one or more clauses joined by AND; the
 * expressions are ANDed too) into one filter.
 * @param exprs the strings as given, e.g. `["user.lang=en", "user.year >= 2020 AND user.draft exists"]`
 * @returns the clauses in order (empty for no expressions)
 * @throws FsError EINVAL saying which expression, the 1-based character position, what was expected there
 *   and what was found, with examples; a name without the `user.` prefix or over 255 bytes
 * @example
 * ```ts
 * import { parseWhere } from "./where.ts";
 * const w = parseWhere(["user.lang in (en, de) AND user.year >= 2020"]);
 * // [{ name: "user.lang", op: "in", values: ["en", "de"] }, { name: "user.year", op: ">=", values: ["2020"] }]
 * ```
 */
export function parseWhere(exprs: readonly string[]): Where {
  const out: WhereClause[] = [];
  for (const e of exprs) out.push(...new Reader(e).all());
  return out;
}

/** A value written so that {@link parseWhere} reads it back: bare when it can be, else double-quoted. */
function formatValue(v: string): string {
  if (v.length > 0 && ![...v].some((c) => WS.has(c) || BARE_END.has(c))) return v;
  let out = '"';
  for (const c of v) {
    if (c === '"' || c === "\\") out += "\\" + c;
    else if (c === "\n") out += "\\n";
    else if (c === "\t") out += "\\t";
    else if (c === "\r") out += "\\r";
    else out += c;
  }
  return out + '"';
}

/**
 * The canonical text of a filter: clauses joined by ` AND `, each
 * `name op value` with single spaces, `name in (a, b)` or `name exists`,
 * values bare when they can be, else double-quoted. `parseWhere([formatWhere(w)])`
 * equals `w`; equal filters written differently give the same text (a cache key, `--json`).
 * @returns `""` for the empty filter
 */
export function formatWhere(w: Where): string {
  return w.map((c) => {
    if (c.op === "exists") return `${c.name} exists`;
    if (c.op === "in") return `${c.name} in (${c.values.map(formatValue).join(", ")})`;
    return `${c.name} ${c.op} ${formatValue(c.values[0])}`;
  }).join(" AND ");
}

/**
 * The number a byte string spells in JSON number syntax (RFC 8259 §6), or
 * null when it is not one (no white space, no sign `+`, no leading zeros,
 * no `.5` or `5.`). Overflowing exponents give ±Infinity, as JSON.parse.
 */
export function jsonNumber(b: Uint8Array): number | null {
  const n = b.length;
  let i = 0;
  const digit = (j: number) => j < n && b[j] >= 0x30 && b[j] <= 0x39;
  if (i < n && b[i] === 0x2d) i++;
  if (!digit(i)) return null;
  if (b[i] === 0x30) i++;
  else while (digit(i)) i++;
  if (i < n && b[i] === 0x2e) {
    i++;
    if (!digit(i)) return null;
    while (digit(i)) i++;
  }
  if (i < n && (b[i] === 0x65 || b[i] === 0x45)) {
    i++;
    if (i < n && (b[i] === 0x2b || b[i] === 0x2d)) i++;
    if (!digit(i)) return null;
    while (digit(i)) i++;
  }
  if (i !== n) return null;
  return Number(dec.decode(b));
}

/** memcmp order of two byte strings (shorter first on a common prefix): <0, 0 or >0. */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

interface Literal {
  bytes: Uint8Array;
  num: number | null;
}
interface Compiled {
  name: string;
  op: WhereOp;
  lits: Literal[];
}
const compiled = new WeakMap<Where, Compiled[]>();

function compile(w: Where): Compiled[] {
  let c = compiled.get(w);
  if (!c) {
    c = w.map((cl) => ({
      name: cl.name,
      op: cl.op,
      lits: cl.values.map((v) => {
        const bytes = enc.encode(v);
        return { bytes, num: jsonNumber(bytes) };
      }),
    }));
    compiled.set(w, c);
  }
  return c;
}

/** Stored value vs literal: <0, 0, >0; numbers as f64 when both are JSON numbers. */
function compareValue(stored: Uint8Array, lit: Literal): number {
  if (lit.num !== null) {
    const s = jsonNumber(stored);
    if (s !== null) return s < lit.num ? -1 : s > lit.num ? 1 : 0;
  }
  return compareBytes(stored, lit.bytes);
}

/** Whether one clause holds for a stored value (null: the file has no such attribute). */
function clauseHolds(c: Compiled, v: Uint8Array | null): boolean {
  if (v === null) return false;
  switch (c.op) {
    case "exists":
      return true;
    case "in":
      return c.lits.some((l) => compareValue(v, l) === 0);
    case "=":
      return compareValue(v, c.lits[0]) === 0;
    case "!=":
      return compareValue(v, c.lits[0]) !== 0;
    case "<":
      return compareValue(v, c.lits[0]) < 0;
    case "<=":
      return compareValue(v, c.lits[0]) <= 0;
    case ">":
      return compareValue(v, c.lits[0]) > 0;
    case ">=":
      return compareValue(v, c.lits[0]) >= 0;
  }
}

/**
 * Whether a file passes filter `w` (module documentation: missing
 * attributes fail every clause; numbers vs byte strings).
 * @param get the file's value of a full attribute name, or null when it has none; called at most once per
 *   clause, in clause order, stopping at the first clause that fails
 * @example
 * ```ts
 * import { matchWhere, parseWhere } from "./where.ts";
 * const attrs = new Map([["user.year", new TextEncoder().encode("2021")]]);
 * matchWhere(parseWhere(["user.year >= 2020"]), (n) => attrs.get(n) ?? null); // true
 * ```
 */
export function matchWhere(w: Where, get: (name: string) => Uint8Array | null): boolean {
  for (const c of compile(w)) if (!clauseHolds(c, get(c.name))) return false;
  return true;
}
