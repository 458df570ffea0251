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
 * The modules are imported statically (≈ 340 kB of JavaScript, parsed lazily by V8) so that `makeAnalyzer`
 * stays synchronous and `deno compile` includes them.
 * @module
 */
import { stemmer as stem_ar } from "@orama/stemmers/arabic";
import { stopwords as stop_ar } from "@orama/stopwords/arabic";
import { stemmer as stem_bg } from "@orama/stemmers/bulgarian";
import { stopwords as stop_bg } from "@orama/stopwords/bulgarian";
import { stemmer as stem_da } from "@orama/stemmers/danish";
import { stopwords as stop_da } from "@orama/stopwords/danish";
import { stemmer as stem_de } from "@orama/stemmers/german";
import { stopwords as stop_de } from "@orama/stopwords/german";
import { stemmer as stem_el } from "@orama/stemmers/greek";
import { stopwords as stop_el } from "@orama/stopwords/greek";
import { stemmer as stem_en } from "@orama/stemmers/english";
import { stopwords as stop_en } from "@orama/stopwords/english";
import { stemmer as stem_es } from "@orama/stemmers/spanish";
import { stopwords as stop_es } from "@orama/stopwords/spanish";
import { stemmer as stem_fi } from "@orama/stemmers/finnish";
import { stopwords as stop_fi } from "@orama/stopwords/finnish";
import { stemmer as stem_fr } from "@orama/stemmers/french";
import { stopwords as stop_fr } from "@orama/stopwords/french";
import { stemmer as stem_ga } from "@orama/stemmers/irish";
import { stopwords as stop_ga } from "@orama/stopwords/irish";
import { stemmer as stem_hi } from "@orama/stemmers/indian";
import { stopwords as stop_hi } from "@orama/stopwords/indian";
import { stemmer as stem_hu } from "@orama/stemmers/hungarian";
import { stopwords as stop_hu } from "@orama/stopwords/hungarian";
import { stemmer as stem_hy } from "@orama/stemmers/armenian";
import { stopwords as stop_hy } from "@orama/stopwords/armenian";
import { stemmer as stem_id } from "@orama/stemmers/indonesian";
import { stopwords as stop_id } from "@orama/stopwords/indonesian";
import { stemmer as stem_it } from "@orama/stemmers/italian";
import { stopwords as stop_it } from "@orama/stopwords/italian";
import { stemmer as stem_lt } from "@orama/stemmers/lithuanian";
import { stopwords as stop_lt } from "@orama/stopwords/lithuanian";
import { stemmer as stem_ne } from "@orama/stemmers/nepali";
import { stopwords as stop_ne } from "@orama/stopwords/nepali";
import { stemmer as stem_nl } from "@orama/stemmers/dutch";
import { stopwords as stop_nl } from "@orama/stopwords/dutch";
import { stemmer as stem_no } from "@orama/stemmers/norwegian";
import { stopwords as stop_no } from "@orama/stopwords/norwegian";
import { stemmer as stem_pt } from "@orama/stemmers/portuguese";
import { stopwords as stop_pt } from "@orama/stopwords/portuguese";
import { stemmer as stem_ro } from "@orama/stemmers/romanian";
import { stopwords as stop_ro } from "@orama/stopwords/romanian";
import { stemmer as stem_ru } from "@orama/stemmers/russian";
import { stopwords as stop_ru } from "@orama/stopwords/russian";
import { stemmer as stem_sa } from "@orama/stemmers/sanskrit";
import { stopwords as stop_sa } from "@orama/stopwords/sanskrit";
import { stemmer as stem_sr } from "@orama/stemmers/serbian";
import { stopwords as stop_sr } from "@orama/stopwords/serbian";
import { stemmer as stem_sv } from "@orama/stemmers/swedish";
import { stopwords as stop_sv } from "@orama/stopwords/swedish";
import { stemmer as stem_ta } from "@orama/stemmers/tamil";
import { stopwords as stop_ta } from "@orama/stopwords/tamil";
import { stemmer as stem_tr } from "@orama/stemmers/turkish";
import { stopwords as stop_tr } from "@orama/stopwords/turkish";
import { stemmer as stem_uk } from "@orama/stemmers/ukrainian";
import { stopwords as stop_uk } from "@orama/stopwords/ukrainian";

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

/** ISO 639-1 code → language data. */
export const LANG_DATA: Readonly<Record<string, LangData>> = Object.freeze({
  ar: { name: "arabic", stemmer: stem_ar, stopwords: stop_ar },
  bg: { name: "bulgarian", stemmer: stem_bg, stopwords: stop_bg },
  da: { name: "danish", stemmer: stem_da, stopwords: stop_da },
  de: { name: "german", stemmer: stem_de, stopwords: stop_de },
  el: { name: "greek", stemmer: stem_el, stopwords: stop_el },
  en: { name: "english", stemmer: stem_en, stopwords: stop_en },
  es: { name: "spanish", stemmer: stem_es, stopwords: stop_es },
  fi: { name: "finnish", stemmer: stem_fi, stopwords: stop_fi },
  fr: { name: "french", stemmer: stem_fr, stopwords: stop_fr },
  ga: { name: "irish", stemmer: stem_ga, stopwords: stop_ga },
  hi: { name: "indian", stemmer: stem_hi, stopwords: stop_hi },
  hu: { name: "hungarian", stemmer: stem_hu, stopwords: stop_hu },
  hy: { name: "armenian", stemmer: stem_hy, stopwords: stop_hy },
  id: { name: "indonesian", stemmer: stem_id, stopwords: stop_id },
  it: { name: "italian", stemmer: stem_it, stopwords: stop_it },
  lt: { name: "lithuanian", stemmer: stem_lt, stopwords: stop_lt },
  ne: { name: "nepali", stemmer: stem_ne, stopwords: stop_ne },
  nl: { name: "dutch", stemmer: stem_nl, stopwords: stop_nl },
  no: { name: "norwegian", stemmer: stem_no, stopwords: stop_no },
  pt: { name: "portuguese", stemmer: stem_pt, stopwords: stop_pt },
  ro: { name: "romanian", stemmer: stem_ro, stopwords: stop_ro },
  ru: { name: "russian", stemmer: stem_ru, stopwords: stop_ru },
  sa: { name: "sanskrit", stemmer: stem_sa, stopwords: stop_sa },
  sr: { name: "serbian", stemmer: stem_sr, stopwords: stop_sr },
  sv: { name: "swedish", stemmer: stem_sv, stopwords: stop_sv },
  ta: { name: "tamil", stemmer: stem_ta, stopwords: stop_ta },
  tr: { name: "turkish", stemmer: stem_tr, stopwords: stop_tr },
  uk: { name: "ukrainian", stemmer: stem_uk, stopwords: stop_uk },
});
