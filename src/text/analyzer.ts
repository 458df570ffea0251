/**
 * The text analyzer of the BM25 keyword index (issue 12, design §3.1): turns a file's text or a query into
 * terms. One analyzer exists today, `word-v1` (id {@linkcode ANALYZER_WORD_V1}); a collection's record names
 * it with its options (FORMAT.md §3.1: `bm25_analyzer`, `bm25_stemmer`, `bm25_stopwords`, `bm25_lang`).
 *
 * `word-v1`, per token, in this order:
 * 1. words: the word-like segments of `new Intl.Segmenter("en", { granularity: "word" })` (ICU's UAX #29
 *    word rules; CJK and Thai by ICU's dictionaries: `東京都に住む` → `東京`, `都`, `に`, `住む`), computed by
 *    `_words.ts` with an exact ASCII fast path;
 * 2. case: `token.normalize("NFKC").toLowerCase()`: NFKC folds ligatures and width variants (`ﬁ` → `fi`,
 *    `ＡＢＣ` → `abc`); `toLowerCase` is the locale-independent Unicode default lowercasing (never
 *    `toLocaleLowerCase`, which depends on the host locale). It is not full case folding: `ß` stays `ß`, `İ`
 *    becomes `i̇` (`i` + U+0307);
 * 3. tokens longer than {@linkcode MAX_TERM_BYTES} UTF-8 bytes are dropped and counted (`longTokens`);
 * 4. with stop words on: tokens in the language's stop list (`@orama/stopwords`, normalized as in step 2) are
 *    dropped;
 * 5. with stemming on: the token becomes its stem (`@orama/stemmers`, Snowball-family stemmers); a stem
 *    longer than 64 bytes is dropped and counted like a long token, an empty stem keeps the token.
 * The query goes through the same steps ({@linkcode Analyzer.terms}), so a query term matches an indexed term
 * exactly when both come from the same word.
 *
 * The {@linkcode Analyzer.signature} names the exact build (analyzer, V8 — which bundles the ICU that does
 * step 1 —, Unicode version, and the npm packages when used); an index built under another signature is stale
 * and rebuilt (design §9 Q4). The ICU version itself is not reachable from JavaScript in Deno:
 * `process.versions.icu` is a constant in Deno's Node compatibility layer ("71.1"), not the ICU in use, so the
 * signature carries `Deno.version.v8` and the Unicode version, probed from the regular expression engine.
 *
 * @example
 * ```ts
 * import { DEFAULT_ANALYZER, makeAnalyzer } from "./analyzer.ts";
 * const a = makeAnalyzer(DEFAULT_ANALYZER);
 * a.terms("Deploy the app: v1.2.3 can't fail"); // ["deploy", "the", "app", "v1.2.3", "can't", "fail"]
 * a.document("to be or not to be").counts.get("be"); // 2
 * const en = makeAnalyzer({ analyzer: 1, stemmer: 1, stopwords: 1, lang: "en" });
 * en.terms("Deploying the apps"); // ["deploy", "app"]
 * ```
 * @module
 */
import { FsError } from "../errors.ts";
import { forEachWord } from "./_words.ts";
import { LANG_NAMES, langData, ORAMA_VERSION } from "./_langs.ts";

/** Analyzer id of `word-v1` (the collection record's `bm25_analyzer`). */
export const ANALYZER_WORD_V1 = 1;

/** Analyzer choice of a collection (the collection record's `bm25_*` fields, FORMAT.md §3.1). */
export interface AnalyzerParams {
  /** analyzer id: {@linkcode ANALYZER_WORD_V1} */
  analyzer: number;
  /** 1: stem tokens with the language's stemmer; needs `lang` */
  stemmer: 0 | 1;
  /** 1: drop the language's stop words; needs `lang` */
  stopwords: 0 | 1;
  /** ISO 639-1 code from {@linkcode ANALYZER_LANGS}, or "" (no language: no stemming, no stop words) */
  lang: string;
}

/** `word-v1` without stemming or stop words: what `vexfs index build --text` uses unless told otherwise. */
export const DEFAULT_ANALYZER: AnalyzerParams = Object.freeze({ analyzer: 1, stemmer: 0, stopwords: 0, lang: "" });

/** Longest term kept, in UTF-8 bytes (the index dictionary's term length is 1..64, FORMAT.md §8.7). */
export const MAX_TERM_BYTES = 64;

/** What a document contributes to the index. */
export interface DocumentTerms {
  /** term → its count in the document (tf) */
  counts: Map<string, number>;
  /** tokens kept (Σ counts): the document length of BM25 */
  dl: number;
  /** tokens dropped for being longer than {@linkcode MAX_TERM_BYTES} bytes (before or after stemming) */
  longTokens: number;
}

/** A text analyzer, made by {@linkcode makeAnalyzer}. */
export interface Analyzer {
  /** the parameters it was made from (a frozen copy) */
  readonly params: AnalyzerParams;
  /** ≤ 64 ASCII bytes naming the exact build, e.g. `"word-v1 v8-14.0.365.5 u15.1"` */
  readonly signature: string;
  /** Query side: the kept terms in text order, duplicates kept. */
  terms(text: string): string[];
  /** Index side: term counts, dl and dropped long tokens. */
  document(text: string): DocumentTerms;
}

/** ISO 639-1 codes of the languages with both a stemmer and a stop list, sorted. */
export const ANALYZER_LANGS: readonly string[] = Object.freeze(Object.keys(LANG_NAMES).sort());

/**
 * Highest Unicode version whose new letters this runtime's regular expressions know (V8's `\p{…}` and
 * `Intl.Segmenter` use the same ICU data). Probes: a letter first assigned in each version.
 */
function unicodeVersion(): string {
  const probes: [string, number][] = [
    ["13.0", 0x1fad0], // U+1FAD0 BLUEBERRIES
    ["14.0", 0x1e290], // U+1E290 TOTO LETTER PA
    ["15.0", 0x1e030], // U+1E030 MODIFIER LETTER CYRILLIC SMALL A
    ["15.1", 0x2ebf0], // U+2EBF0 CJK Extension I
    ["16.0", 0x10d50], // U+10D50 GARAY CAPITAL LETTER A
    ["17.0", 0x10940], // U+10940 SIDETIC LETTER N01
  ];
  let v = "12";
  for (const [ver, cp] of probes) if (/\p{Assigned}/u.test(String.fromCodePoint(cp))) v = ver;
  return v;
}

/** `word-v1 v8-<V8 version> u<Unicode version>`: the build of step 1 and 2. */
const BASE_SIGNATURE = `word-v1 v8-${Deno.version.v8.replace(/-.*$/, "")} u${unicodeVersion()}`;

/** FNV-1a 32-bit of an ASCII string, 8 hex digits. */
function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}

/**
 * The signature of an analyzer with these parameters: {@linkcode BASE_SIGNATURE}, then
 * `@orama/stemmers@V`, `@orama/stopwords@V` or `@orama/stemmers+stopwords@V` when used. Should a future
 * runtime's version strings make it longer than 64 bytes, the tail is replaced by an FNV-1a hash of the whole.
 */
function signatureOf(p: AnalyzerParams): string {
  const pkg = p.stemmer && p.stopwords
    ? ` @orama/stemmers+stopwords@${ORAMA_VERSION}`
    : p.stemmer
    ? ` @orama/stemmers@${ORAMA_VERSION}`
    : p.stopwords
    ? ` @orama/stopwords@${ORAMA_VERSION}`
    : "";
  const full = BASE_SIGNATURE + pkg;
  return full.length <= 64 ? full : `${full.slice(0, 55)} ${fnv1a(full)}`;
}

/** UTF-8 length of a string in bytes (a lone surrogate counts 3, as its U+FFFD replacement). */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2; // a pair: 2 code units, 4 bytes
      i++;
    } else n += 2;
  }
  return n;
}

/** Step 2 of the module doc: NFKC, then default lowercasing. */
export function foldCase(token: string): string {
  return token.normalize("NFKC").toLowerCase();
}

function checkParams(p: AnalyzerParams): void {
  if (p.analyzer !== ANALYZER_WORD_V1) {
    throw new FsError(
      "EINVAL",
      `unknown text analyzer id ${p.analyzer}: this vexfs knows ${ANALYZER_WORD_V1} (word-v1); ` +
        `an index made by a newer vexfs needs that version`,
    );
  }
  for (const [name, v] of [["stemmer", p.stemmer], ["stopwords", p.stopwords]] as const) {
    if (v !== 0 && v !== 1) throw new FsError("EINVAL", `bad analyzer ${name} flag ${v}: must be 0 or 1`);
  }
  if (typeof p.lang !== "string" || (p.lang !== "" && !Object.hasOwn(LANG_NAMES, p.lang))) {
    throw new FsError(
      "EINVAL",
      `unsupported analyzer language ${JSON.stringify(p.lang)}: use one of ${ANALYZER_LANGS.join(", ")}`,
    );
  }
  if ((p.stemmer || p.stopwords) && p.lang === "") {
    throw new FsError(
      "EINVAL",
      `${p.stemmer ? "stemming" : "stop words"} need a language: give one of ${ANALYZER_LANGS.join(", ")}`,
    );
  }
}

/** Entries of an analyzer's stem memo before it is emptied (bounds memory on huge vocabularies). */
const STEM_CACHE_SIZE = 65_536;

class WordV1 implements Analyzer {
  readonly params: AnalyzerParams;
  readonly signature: string;
  readonly #stop: Set<string> | null;
  readonly #stem: ((w: string) => string) | null;
  /** token → stem memo (the stemmers cost ~3 µs a call; a text repeats its words) */
  readonly #stems = new Map<string, string>();

  constructor(p: AnalyzerParams) {
    this.params = Object.freeze({ analyzer: p.analyzer, stemmer: p.stemmer, stopwords: p.stopwords, lang: p.lang });
    this.signature = signatureOf(p);
    const data = p.lang === "" || (!p.stemmer && !p.stopwords) ? null : langData(p.lang);
    this.#stop = p.stopwords && data ? new Set(data.stopwords.map(foldCase)) : null;
    this.#stem = p.stemmer && data ? data.stemmer : null;
  }

  /**
   * Runs steps 1–5 over `text`; `keep` receives each kept term, `long` is called once per long token.
   */
  #run(text: string, keep: (term: string) => void, long: () => void): void {
    const stop = this.#stop;
    const stem = this.#stem;
    forEachWord(text, (word, ascii) => {
      let t: string;
      if (ascii) {
        if (word.length > MAX_TERM_BYTES) return long();
        t = word.toLowerCase();
      } else {
        t = foldCase(word);
        if (t === "") return;
        if (utf8Length(t) > MAX_TERM_BYTES) return long();
      }
      if (stop !== null && stop.has(t)) return;
      if (stem !== null) {
        let s = this.#stems.get(t);
        if (s === undefined) {
          s = stem(t);
          if (s === "") s = t;
          if (this.#stems.size >= STEM_CACHE_SIZE) this.#stems.clear();
          this.#stems.set(t, s);
        }
        if (s !== t && utf8Length(s) > MAX_TERM_BYTES) return long();
        t = s;
      }
      keep(t);
    });
  }

  terms(text: string): string[] {
    const out: string[] = [];
    this.#run(text, (t) => out.push(t), () => {});
    return out;
  }

  document(text: string): DocumentTerms {
    const counts = new Map<string, number>();
    let dl = 0;
    let longTokens = 0;
    this.#run(text, (t) => {
      dl++;
      counts.set(t, (counts.get(t) ?? 0) + 1);
    }, () => longTokens++);
    return { counts, dl, longTokens };
  }
}

const cache = new Map<string, Analyzer>();

/**
 * Makes (or returns the cached) analyzer for a collection's parameters.
 * @param p analyzer id, stemming and stop-word flags, language
 * @returns the analyzer; the same object for equal parameters
 * @throws FsError `EINVAL`: unknown analyzer id, a flag not 0/1, a language not in {@linkcode ANALYZER_LANGS}
 *   (the message lists them), or stemming/stop words without a language
 */
export function makeAnalyzer(p: AnalyzerParams): Analyzer {
  checkParams(p);
  const key = `${p.analyzer}/${p.stemmer}/${p.stopwords}/${p.lang}`;
  let a = cache.get(key);
  if (a === undefined) {
    a = new WordV1(p);
    cache.set(key, a);
  }
  return a;
}
