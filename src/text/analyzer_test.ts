import fc from "fast-check";
import { assert, assertEquals, assertFsError } from "../test_assert.ts";
import {
  ANALYZER_LANGS,
  ANALYZER_WORD_V1,
  type AnalyzerParams,
  DEFAULT_ANALYZER,
  foldCase,
  makeAnalyzer,
  MAX_TERM_BYTES,
  utf8Length,
} from "./analyzer.ts";
import { langData, ORAMA_VERSION } from "./_langs.ts";

const plain = makeAnalyzer(DEFAULT_ANALYZER);
const en = (stemmer: 0 | 1, stopwords: 0 | 1) => makeAnalyzer({ analyzer: 1, stemmer, stopwords, lang: "en" });

Deno.test("terms: word-v1 examples (punctuation rules, case)", () => {
  const cases: [string, string[]][] = [
    ["Can't stop", ["can't", "stop"]],
    ["pi is 3.14, or 1,000.5 / 3", ["pi", "is", "3.14", "or", "1,000.5", "3"]],
    ["Release v1.2.3 of foo_bar", ["release", "v1.2.3", "of", "foo_bar"]],
    ["x86-64 e.g. foo:bar", ["x86", "64", "e", "g", "foo", "bar"]],
    ["see https://help.sap.com/docs?q=1", ["see", "https", "help", "sap", "com", "docs", "q", "1"]],
    ["Deploy App to Cloud Foundry", ["deploy", "app", "to", "cloud", "foundry"]],
  ];
  for (const [text, want] of cases) assertEquals(plain.terms(text), want, JSON.stringify(text));
});

Deno.test("terms: Unicode text (CJK dictionary, NFKC, full width, Turkish İ, ß)", () => {
  assertEquals(plain.terms("東京都に住む"), ["東京", "都", "に", "住む"]);
  assertEquals(plain.terms("ﬁle ﬂow"), ["file", "flow"]); // ligatures U+FB01, U+FB02
  assertEquals(plain.terms("ＡＢＣ　１２３"), ["abc", "123"]); // full-width letters, digits, ideographic space
  // Default (not Turkish) lowercasing: İ (U+0130) → i + U+0307, I → i; the same at query time.
  assertEquals(plain.terms("İstanbul ISTANBUL"), ["i\u0307stanbul", "istanbul"]);
  assertEquals(plain.terms("STRASSE Straße"), ["strasse", "straße"]); // no full case folding: ß stays
  assertEquals(plain.terms("Ελληνικά Русский"), ["ελληνικά", "русский"]);
  assertEquals(plain.terms("café"), plain.terms("cafe\u0301")); // NFKC composes
});

Deno.test("document: tokens over 64 UTF-8 bytes are dropped and counted", () => {
  const a64 = "a".repeat(64), a65 = "a".repeat(65);
  const e32 = "é".repeat(32), e33 = "é".repeat(33); // 2 bytes each: 64 and 66 bytes
  const d = plain.document(`${a64} ${a65} ${e32} ${e33} ok ${a65.toUpperCase()}`);
  assertEquals(d.longTokens, 3);
  assertEquals(d.dl, 3);
  assertEquals([...d.counts.keys()], [a64, e32, "ok"]);
  assertEquals(utf8Length(e32), MAX_TERM_BYTES);
  assertEquals(plain.terms(`${a65} x`), ["x"]);
  // Measured after NFKC: U+FDFA (one code unit) expands to 18 Arabic letters, 33 bytes; two make 66.
  assertEquals(utf8Length(foldCase("\uFDFA\uFDFA")) > 64, true);
  assertEquals(plain.document("\uFDFA\uFDFA").longTokens, 1);
});

Deno.test("document: empty and all-punctuation text has dl 0", () => {
  for (const text of ["", "   \n\t", "... --- !!! ()[]{} \"'", "_", "…—“”"]) {
    const d = plain.document(text);
    assertEquals(d.dl, 0, JSON.stringify(text));
    assertEquals(d.counts.size, 0);
    assertEquals(d.longTokens, 0);
    assertEquals(plain.terms(text), []);
  }
});

Deno.test("document: counts, dl and duplicates", () => {
  const d = plain.document("To be, or not to be: that is the question. TO BE!");
  assertEquals(d.dl, 12);
  assertEquals(d.counts.get("to"), 3);
  assertEquals(d.counts.get("be"), 3);
  assertEquals(d.counts.get("question"), 1);
  assertEquals(plain.terms("be be BE"), ["be", "be", "be"]);
});

Deno.test("stop words and stemming, on and off", () => {
  const text = "The apps are running and the deployments were deployed";
  assertEquals(en(0, 0).terms(text), [
    "the",
    "apps",
    "are",
    "running",
    "and",
    "the",
    "deployments",
    "were",
    "deployed",
  ]);
  assertEquals(en(0, 1).terms(text), ["apps", "running", "deployments", "deployed"]);
  assertEquals(en(1, 0).terms("running apps deployed"), ["run", "app", "deploi"]); // Porter-style stems
  assertEquals(en(1, 1).terms(text), ["app", "run", "deploy", "deploi"]);
  assertEquals(en(1, 1).document(text).dl, 4);
  // Stop words are matched after case folding; German stemming and stop words.
  assertEquals(en(0, 1).terms("THE And OF"), []);
  const de = makeAnalyzer({ analyzer: 1, stemmer: 1, stopwords: 1, lang: "de" });
  assertEquals(de.terms("Die Häuser und die Bäume"), ["haus", "baum"]);
});

Deno.test("terms and document agree (same terms, same counts) for every option", () => {
  const analyzers = [plain, en(0, 1), en(1, 0), en(1, 1)];
  const alphabet = [..."aeiouXYZ0_.,'-:", " ", " ", "\n", "é", "東", "ß", "İ", "ﬁ", "running ", "the ", "THE "];
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...alphabet), { maxLength: 80 }), (chars) => {
      const text = chars.join("");
      for (const a of analyzers) {
        const terms = a.terms(text);
        const d = a.document(text);
        assertEquals(d.dl, terms.length);
        const counts = new Map<string, number>();
        for (const t of terms) counts.set(t, (counts.get(t) ?? 0) + 1);
        assertEquals([...d.counts.entries()].sort(), [...counts.entries()].sort());
        for (const t of terms) assert(t !== "" && utf8Length(t) <= MAX_TERM_BYTES, `term ${t}`);
      }
    }),
    { numRuns: 500, seed: 12_004 },
  );
});

Deno.test("makeAnalyzer: bad parameters are EINVAL with what to do", () => {
  const p = (o: Partial<AnalyzerParams>): AnalyzerParams => ({ ...DEFAULT_ANALYZER, ...o });
  assertFsError(() => makeAnalyzer(p({ analyzer: 2 })), "EINVAL", /unknown text analyzer id 2.*word-v1/);
  assertFsError(() => makeAnalyzer(p({ analyzer: 0 })), "EINVAL", /unknown text analyzer id 0/);
  assertFsError(() => makeAnalyzer(p({ lang: "xx" })), "EINVAL", /unsupported analyzer language "xx".*en, es/);
  assertFsError(() => makeAnalyzer(p({ lang: "english" })), "EINVAL", /unsupported/);
  assertFsError(() => makeAnalyzer(p({ lang: "toString" })), "EINVAL", /unsupported/);
  assertFsError(() => makeAnalyzer(p({ stemmer: 1 })), "EINVAL", /stemming need a language: give one of ar, bg/);
  assertFsError(() => makeAnalyzer(p({ stopwords: 1 })), "EINVAL", /stop words need a language/);
  assertFsError(() => makeAnalyzer(p({ stemmer: 2 as 1 })), "EINVAL", /stemmer flag 2/);
  // A language alone (no stemming, no stop words) is accepted and changes nothing.
  assertEquals(makeAnalyzer(p({ lang: "fr" })).terms("Les Maisons"), ["les", "maisons"]);
  assertEquals(makeAnalyzer(DEFAULT_ANALYZER), plain); // cached
});

Deno.test("signature: ≤ 64 ASCII bytes naming analyzer, V8, Unicode and packages when used", () => {
  const v8 = Deno.version.v8.replace(/-.*$/, "");
  assertEquals(plain.signature.startsWith(`word-v1 v8-${v8} u`), true, plain.signature);
  assertEquals(/^word-v1 v8-\S+ u1\d\.\d$/.test(plain.signature), true, plain.signature);
  assertEquals(en(1, 0).signature, `${plain.signature} @orama/stemmers@${ORAMA_VERSION}`);
  assertEquals(en(0, 1).signature, `${plain.signature} @orama/stopwords@${ORAMA_VERSION}`);
  assertEquals(en(1, 1).signature, `${plain.signature} @orama/stemmers+stopwords@${ORAMA_VERSION}`);
  for (const a of [plain, en(1, 0), en(0, 1), en(1, 1)]) {
    assert(a.signature.length <= 64 && /^[\x20-\x7e]+$/.test(a.signature), a.signature);
  }
  assertEquals(plain.params.analyzer, ANALYZER_WORD_V1);
});

Deno.test("languages: every code has a stemmer and a stop list of the pinned package version", async () => {
  for (const pkg of ["stemmers", "stopwords"]) {
    const url = new URL(`../../node_modules/@orama/${pkg}/package.json`, import.meta.url);
    assertEquals(JSON.parse(await Deno.readTextFile(url)).version, ORAMA_VERSION, pkg);
  }
  assertEquals(ANALYZER_LANGS.length, 28);
  for (const lang of ANALYZER_LANGS) {
    assert(/^[a-z]{2}$/.test(lang), lang);
    const data = langData(lang);
    assert(data.stopwords.length > 10, `${lang} stop list`);
    assertEquals(typeof data.stemmer("word"), "string");
    const a = makeAnalyzer({ analyzer: 1, stemmer: 1, stopwords: 1, lang });
    // The language's own first stop word is dropped.
    assertEquals(a.terms(data.stopwords[0]).includes(foldCase(data.stopwords[0])), false, lang);
  }
});

Deno.test("terms: the same under another host locale (Turkish, Swedish), in a child process", async () => {
  const text = "TITLE Istanbul İzmir a:b foo.bar 3.14 東京都 ﬁle";
  const mod = new URL("./analyzer.ts", import.meta.url).href;
  const code = `const { makeAnalyzer, DEFAULT_ANALYZER } = await import(${JSON.stringify(mod)});
console.log(JSON.stringify(makeAnalyzer(DEFAULT_ANALYZER).terms(${JSON.stringify(text)})));`;
  for (const locale of ["tr_TR.UTF-8", "sv_SE.UTF-8"]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", code],
      env: { LANG: locale, LC_ALL: locale, LANGUAGE: locale.slice(0, 2) },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    assertEquals(JSON.parse(new TextDecoder().decode(out.stdout)), plain.terms(text), locale);
  }
  assertEquals(plain.terms("TITLE a:b"), ["title", "a", "b"]);
});
