/**
 * The `--where` grammar (design §5.1) and evaluation (§5.2): tables of
 * expressions and what they parse to, of malformed ones and the position
 * and expectation their error names, of stored values against clauses
 * (numbers vs byte strings, missing attributes), and the canonical text's
 * round trip.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { FsError } from "../errors.ts";
import { formatWhere, jsonNumber, matchWhere, parseWhere, type WhereClause } from "./where.ts";

const enc = new TextEncoder();

Deno.test("parseWhere: clauses, operators, in, exists, AND in any case, quoting and escapes", () => {
  const table: [string[], WhereClause[]][] = [
    [["user.lang=en"], [{ name: "user.lang", op: "=", values: ["en"] }]],
    [["user.lang = en"], [{ name: "user.lang", op: "=", values: ["en"] }]],
    [["  user.year>=2020  "], [{ name: "user.year", op: ">=", values: ["2020"] }]],
    [["user.year<=2020"], [{ name: "user.year", op: "<=", values: ["2020"] }]],
    [["user.year<2020"], [{ name: "user.year", op: "<", values: ["2020"] }]],
    [["user.year>2020"], [{ name: "user.year", op: ">", values: ["2020"] }]],
    [["user.lang!=en"], [{ name: "user.lang", op: "!=", values: ["en"] }]],
    [["user.x=a=b"], [{ name: "user.x", op: "=", values: ["a=b"] }]],
    [["user.x=-1.5e3"], [{ name: "user.x", op: "=", values: ["-1.5e3"] }]],
    [["user.x = C:\\dir"], [{ name: "user.x", op: "=", values: ["C:\\dir"] }]],
    [["user.lang in (en, de,fr)"], [{ name: "user.lang", op: "in", values: ["en", "de", "fr"] }]],
    [["user.lang IN(en)"], [{ name: "user.lang", op: "in", values: ["en"] }]],
    [["user.lang in ( 'a b' , \"c\" )"], [{ name: "user.lang", op: "in", values: ["a b", "c"] }]],
    [["user.reviewed exists"], [{ name: "user.reviewed", op: "exists", values: [] }]],
    [["user.reviewed EXISTS"], [{ name: "user.reviewed", op: "exists", values: [] }]],
    [["user.vexfs.vector exists"], [{ name: "user.vexfs.vector", op: "exists", values: [] }]],
    [['user.t = "two words"'], [{ name: "user.t", op: "=", values: ["two words"] }]],
    [['user.t = "say \\"hi\\""'], [{ name: "user.t", op: "=", values: ['say "hi"'] }]],
    [["user.t = 'it\\'s'"], [{ name: "user.t", op: "=", values: ["it's"] }]],
    [['user.t = "a\\\\b"'], [{ name: "user.t", op: "=", values: ["a\\b"] }]],
    [['user.t = "en\\n"'], [{ name: "user.t", op: "=", values: ["en\n"] }]],
    [['user.t = ""'], [{ name: "user.t", op: "=", values: [""] }]],
    [["user.t = 'and'"], [{ name: "user.t", op: "=", values: ["and"] }]],
    [["user.t = AND"], [{ name: "user.t", op: "=", values: ["AND"] }]],
    [["user.ünï=größe"], [{ name: "user.ünï", op: "=", values: ["größe"] }]],
    [
      ["user.a=1 AND user.b exists and user.c in (x) And user.d != 'y'"],
      [
        { name: "user.a", op: "=", values: ["1"] },
        { name: "user.b", op: "exists", values: [] },
        { name: "user.c", op: "in", values: ["x"] },
        { name: "user.d", op: "!=", values: ["y"] },
      ],
    ],
    [
      ["user.a=1", "user.b<2 AND user.c>3"],
      [
        { name: "user.a", op: "=", values: ["1"] },
        { name: "user.b", op: "<", values: ["2"] },
        { name: "user.c", op: ">", values: ["3"] },
      ],
    ],
    [[], []],
  ];
  for (const [exprs, want] of table) {
    assert.deepEqual(parseWhere(exprs), want, JSON.stringify(exprs));
  }
});

Deno.test("parseWhere: EINVAL names the position, what was expected and what was found", () => {
  const table: [string, RegExp][] = [
    ["", /at character 1: expected a clause \(the expression is empty\), found the end/],
    ["   ", /at character 4: expected a clause/],
    ["lang=en", /'lang' is not a user\. attribute \(did you mean user\.lang\?\).*only user\.NAME/],
    ["trusted.x=1", /at character 1: 'trusted\.x' is not a user\. attribute; only user\.NAME.*CAP_SYS_ADMIN/],
    ["user.=1", /'user\.' is not a user\. attribute/],
    ["=en", /at character 1: expected an attribute name such as user\.lang, found '=en'/],
    ["user.lang", /at character 10: expected an operator after the name user\.lang: =, !=.*found the end/],
    ["user.lang ~ en", /at character 11: expected an operator.*found '~ en'/],
    ["user.lang ! en", /at character 11: expected an operator/],
    ["user.lang=", /at character 11: expected a value after '=' \(a bare word or a quoted string\), found the end/],
    ["user.lang= ", /at character 12: expected a value after '='/],
    ["user.lang=(en)", /at character 11: expected a value after '='.*found '\(en\)'/],
    ["user.lang='en", /at character 14: expected the closing ' of the value that starts at character 11/],
    ['user.lang="e\\qn"', /at character 13: expected one of the escapes .* found '\\q'/],
    ["user.lang=it's", /at character 13: expected no quote inside a bare value/],
    ["user.lang in en", /at character 14: expected '\(' after in/],
    ["user.lang in (en", /at character 17: expected ',' or '\)' in the list of values after in, found the end/],
    ["user.lang in (en,)", /at character 18: expected a value after ','/],
    ["user.lang in ()", /at character 15: expected a value after '\('/],
    ["user.lang inx (en)", /expected an operator/],
    ["user.lang existsx", /expected an operator/],
    ["user.a=1 user.b=2", /at character 10: expected AND or the end of the expression, found 'user\.b=2'/],
    ["user.a=1 OR user.b=2", /at character 10: expected AND or the end/],
    ["user.a=1 AND", /at character 13: expected a clause after AND/],
    ["user.a=1 ANDuser.b=2", /at character 10: expected AND or the end/],
    ["user.a=1)", /at character 9: expected AND or the end of the expression, found '\)'/],
    ["user." + "x".repeat(251) + "=1", /the attribute name is 256 bytes; names are at most 255 bytes/],
  ];
  for (const [expr, re] of table) {
    let err: unknown;
    try {
      parseWhere([expr]);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof FsError, `${expr}: throws FsError`);
    assert.equal(err.code, "EINVAL", expr);
    assert.match(err.message, re, expr);
    assert.match(err.message, /e\.g\. user\.lang=en/, `${expr}: the message gives an example`);
  }
  // a name of exactly 255 bytes is accepted; the second expression's error names it
  parseWhere(["user." + "x".repeat(250) + "=1"]);
  assert.throws(() => parseWhere(["user.a=1", "user.b"]), /--where 'user\.b': at character 7/);
});

/** Evaluates `expr` on a file whose attributes are `attrs` (strings stored as UTF-8, Uint8Arrays as given). */
function holds(expr: string, attrs: Record<string, string | Uint8Array>): boolean {
  const w = parseWhere([expr]);
  return matchWhere(w, (n) => {
    const v = attrs[n];
    return v === undefined ? null : typeof v === "string" ? enc.encode(v) : v;
  });
}

Deno.test("matchWhere: numbers as f64 when both sides are JSON numbers, else UTF-8 byte order", () => {
  const table: [string, Record<string, string | Uint8Array>, boolean][] = [
    // numbers
    ["user.n = 1", { "user.n": "1.0" }, true],
    ["user.n = 1", { "user.n": "1e0" }, true],
    ["user.n < 10", { "user.n": "9" }, true], // as strings "9" > "10"
    ["user.n < 10", { "user.n": "10" }, false],
    ["user.n <= 10", { "user.n": "10" }, true],
    ["user.n > -1", { "user.n": "-0.5" }, true],
    ["user.n >= 2e3", { "user.n": "2000" }, true],
    ["user.n != 2", { "user.n": "2.00" }, false],
    ["user.n > 1e308", { "user.n": "1e400" }, true], // overflow: +Infinity, as JSON.parse
    // not JSON numbers on one side: byte order
    ["user.n < 10", { "user.n": "+9" }, true], // "+" (0x2b) < "1"
    ["user.n < 10", { "user.n": " 9" }, true], // space < "1": no trimming
    ["user.n = 1", { "user.n": "01" }, false], // leading zero: a string
    ["user.n = 1", { "user.n": "1\n" }, false], // echo's newline: a string, not 1
    ['user.n = "1\\n"', { "user.n": "1\n" }, true],
    ["user.n = .5", { "user.n": "0.5" }, false], // ".5" is not a JSON number
    ["user.n = 0x10", { "user.n": "16" }, false],
    ["user.n > 9", { "user.n": "abc" }, true], // "a" > "9" as bytes
    // strings
    ["user.s = en", { "user.s": "en" }, true],
    ["user.s = en", { "user.s": "EN" }, false],
    ["user.s = en", { "user.s": "en\n" }, false],
    ["user.s < b", { "user.s": "a" }, true],
    ["user.s < b", { "user.s": "ba" }, false],
    ["user.s > b", { "user.s": "ba" }, true], // prefix is smaller
    ["user.s < é", { "user.s": "z" }, true], // code point order: z (0x7a) < é (0xc3 0xa9)
    ["user.s < \u{1F600}", { "user.s": "\uFFFD" }, true], // UTF-8 order = code point order (UTF-16 would differ)
    ["user.s = ''", { "user.s": "" }, true],
    ["user.s > ''", { "user.s": "a" }, true],
    ["user.s = a", { "user.s": new Uint8Array([0x61, 0]) }, false],
    ["user.s > a", { "user.s": new Uint8Array([0x61, 0]) }, true],
    ["user.s = \u00e9", { "user.s": new Uint8Array([0xc3, 0xa9]) }, true],
    // in, exists
    ["user.s in (de, en)", { "user.s": "en" }, true],
    ["user.s in (de, fr)", { "user.s": "en" }, false],
    ["user.n in (1, 2)", { "user.n": "2.0" }, true],
    ["user.s exists", { "user.s": "" }, true],
    ["user.s exists", { "user.t": "x" }, false],
    // a missing attribute fails every clause, != included
    ["user.s != en", {}, false],
    ["user.s != en", { "user.s": "de" }, true],
    ["user.s < zzz", {}, false],
    ["user.s in (a)", {}, false],
    // AND
    ["user.a = 1 AND user.b = 2", { "user.a": "1", "user.b": "2" }, true],
    ["user.a = 1 AND user.b = 2", { "user.a": "1", "user.b": "3" }, false],
    ["user.a = 1 AND user.b exists", { "user.a": "1" }, false],
  ];
  for (const [expr, attrs, want] of table) {
    assert.equal(holds(expr, attrs), want, `${expr} on ${JSON.stringify(attrs)}`);
  }
  assert.equal(matchWhere([], () => null), true, "the empty filter passes everything");
});

Deno.test("matchWhere: reads each clause's attribute once, in order, and stops at the first failing clause", () => {
  const asked: string[] = [];
  const w = parseWhere(["user.a = 1 AND user.b = 2 AND user.c = 3"]);
  const ok = matchWhere(w, (n) => {
    asked.push(n);
    return n === "user.b" ? enc.encode("9") : enc.encode(n === "user.a" ? "1" : "3");
  });
  assert.equal(ok, false);
  assert.deepEqual(asked, ["user.a", "user.b"]);
});

Deno.test("jsonNumber: RFC 8259 number syntax only", () => {
  const yes: [string, number][] = [["0", 0], ["-0", -0], ["12", 12], ["1.25", 1.25], ["-3e2", -300], ["1E+2", 100], [
    "5e-1",
    0.5,
  ]];
  for (const [s, n] of yes) assert.equal(jsonNumber(enc.encode(s)), n, s);
  for (const s of ["", "-", "+1", "01", "1.", ".1", "1e", "1e+", " 1", "1 ", "0x1", "NaN", "Infinity", "1_0", "١"]) {
    assert.equal(jsonNumber(enc.encode(s)), null, JSON.stringify(s));
  }
  fc.assert(fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
    const s = JSON.stringify(x);
    assert.equal(jsonNumber(enc.encode(s)), JSON.parse(s));
  }));
});

Deno.test("formatWhere: canonical text that parses back to the same filter", () => {
  assert.equal(
    formatWhere(parseWhere(["user.lang=en  and user.year>=2020", "user.t IN('a b',\"c\") AND user.d EXISTS"])),
    'user.lang = en AND user.year >= 2020 AND user.t in ("a b", c) AND user.d exists',
  );
  assert.equal(formatWhere(parseWhere([`user.q = 'say "hi"\\n'`])), 'user.q = "say \\"hi\\"\\n"');
  assert.equal(formatWhere([]), "");
  const value = fc.string({ unit: "binary", maxLength: 12 });
  const name = fc.stringMatching(/^user\.[a-z0-9._-]{1,12}$/);
  const clause = fc.oneof(
    fc.record({
      name,
      op: fc.constantFrom("=" as const, "!=" as const, "<" as const, "<=" as const, ">" as const, ">=" as const),
      values: fc.tuple(value).map((v) => [...v]),
    }),
    fc.record({ name, op: fc.constant("in" as const), values: fc.array(value, { minLength: 1, maxLength: 4 }) }),
    fc.record({ name, op: fc.constant("exists" as const), values: fc.constant([] as string[]) }),
  );
  fc.assert(fc.property(fc.array(clause, { minLength: 1, maxLength: 4 }), (drawn) => {
    const w = drawn.map((c) => ({ name: c.name, op: c.op, values: [...c.values] }));
    const text = formatWhere(w);
    assert.deepEqual(parseWhere([text]), w, text);
    assert.equal(formatWhere(parseWhere([text])), text);
  }));
});
