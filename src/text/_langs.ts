/**
 * Languages of the `word-v1` analyzer's optional stemming and stop words: ISO 639-1 code → the
 * `@orama/stemmers` and `@orama/stopwords` modules of that language (npm, Apache-2.0, version
 * {@linkcode ORAMA_VERSION}; their export names are English language names, mapped here to ISO codes).
 *
 * Only languages that have both a stemmer and a stop list are offered, so that any language accepts any
 * combination of the two options. Left out: `japanese` and `mandarin` (stop lists only; ICU's dictionaries
 * segment them and there is no stemmer) and `slovenian` (stop lists only; in 3.1.18 its export points at the
 * Russian list). `indian` is Hindi (`hi`).
 *
 * A language's two modules are loaded on first use with `require` (node:module `createRequire`, the
 * packages' CommonJS builds), so `makeAnalyzer` stays synchronous and a command that never stems does not
 * pay for the 56 modules: imported statically they cost every `vexfs` start about 0.2 s and 10 MB. The
 * `compile` task in deno.json includes both package directories for the single binary.
 * @module
 */
import { createRequire } from "node:module";
import { FsError } from "../errors.ts";

/** Version of `@orama/stemmers` and `@orama/stopwords` in package.json (checked by analyzer_test.ts). */
export const ORAMA_VERSION = "3.1.18";

/** One language's stemmer and stop list. */
export interface LangData {
  /** the packages' export name, e.g. "english" */
  name: string;
  /** word → stem; expects a lowercase word */
  stemmer: (word: string) => string;
  /** the stop list as shipped (lowercase) */
  stopwords: readonly string[];
}

/** ISO 639-1 code → the packages' export name of that language. */
export const LANG_NAMES: Readonly<Record<string, string>> = Object.freeze({
  ar: "arabic",
  bg: "bulgarian",
  da: "danish",
  de: "german",
  el: "greek",
  en: "english",
  es: "spanish",
  fi: "finnish",
  fr: "french",
  ga: "irish",
  hi: "indian",
  hu: "hungarian",
  hy: "armenian",
  id: "indonesian",
  it: "italian",
  lt: "lithuanian",
  ne: "nepali",
  nl: "dutch",
  no: "norwegian",
  pt: "portuguese",
  ro: "romanian",
  ru: "russian",
  sa: "sanskrit",
  sr: "serbian",
  sv: "swedish",
  ta: "tamil",
  tr: "turkish",
  uk: "ukrainian",
});

const loaded = new Map<string, LangData>();
const require = createRequire(import.meta.url);

/**
 * The stemmer and stop list of a language of {@linkcode LANG_NAMES}, loaded on first use.
 * @param code ISO 639-1 code, a key of LANG_NAMES
 * @throws FsError EINVAL for a code not in LANG_NAMES; EIO when the package cannot be loaded (an
 *   incomplete `node_modules`: run `npm install` again)
 */
export function langData(code: string): LangData {
  const hit = loaded.get(code);
  if (hit) return hit;
  if (!Object.hasOwn(LANG_NAMES, code)) throw new FsError("EINVAL", `no stemmer and stop words for language ${code}`);
  const name = LANG_NAMES[code];
  let data: LangData;
  try {
    const stem = require(`@orama/stemmers/${name}`) as { stemmer: (w: string) => string };
    const stop = require(`@orama/stopwords/${name}`) as { stopwords: readonly string[] };
    data = { name, stemmer: stem.stemmer, stopwords: stop.stopwords };
  } catch (e) {
    throw new FsError(
      "EIO",
      `cannot load the ${name} stemmer or stop words (@orama/stemmers, @orama/stopwords ${ORAMA_VERSION}): ` +
        `${e instanceof Error ? e.message : e}; run 'npm install' in the VexFS checkout again`,
    );
  }
  if (typeof data.stemmer !== "function" || !Array.isArray(data.stopwords)) {
    throw new FsError("EIO", `the ${name} stemmer or stop list of @orama ${ORAMA_VERSION} has an unexpected shape`);
  }
  loaded.set(code, data);
  return data;
}
