/**
 * ASCII fast path of the `word-v1` word segmenter: a hand-written scanner that finds, in a string of ASCII
 * characters, exactly the word-like segments `new Intl.Segmenter("en", { granularity: "word" })` finds there.
 * Used by `_words.ts` for ASCII runs (`Intl.Segmenter` costs ~10× more per character).
 *
 * The rules are UAX #29 "Unicode Text Segmentation" §4.1.1 (word boundary rules WB5–WB13b) restricted to
 * ASCII, with the character classes ICU's root `word.txt` rules give them. The classes were *measured* on this
 * Deno's ICU (Unicode 15.1) rather than read from UAX #29, because ICU tailors two of them:
 *
 * | class             | characters                  | UAX #29 says                          | ICU (measured)              |
 * | ----------------- | --------------------------- | ------------------------------------- | --------------------------- |
 * | letter (ALetter)  | `A-Z a-z`                   |                                       |                             |
 * | digit (Numeric)   | `0-9`                       |                                       |                             |
 * | `_` ExtendNumLet  | `_`                         |                                       |                             |
 * | quote             | `'`                         | Single_Quote (MidNumLetQ)             | same                        |
 * | mid-number        | `, . ;`                     | `.` is MidNumLet, `, ;` MidNum         | all three MidNum only       |
 * | other / space     | everything else             | `:` is MidLetter                      | `:` breaks (tailored out)   |
 *
 * So, between two characters of a run:
 * - letters, digits and `_` stick together (WB5, WB8, WB9, WB10, WB13a, WB13b);
 * - `'` joins two letters (WB6, WB7): `can't`; `'`, `,`, `.`, `;` join two digits (WB11, WB12): `3.14`,
 *   `1,000.5`, `3'4`; a letter before `.` does not: `e.g.` → `e`, `g`; `v1.2.3` is one word because `1.2.3`
 *   is joined digit to digit and `v1` letter to digit;
 * - everything else breaks (WB999): `x86-64` → `x86`, `64`; `foo:bar` → `foo`, `bar`.
 *
 * A segment is word-like (ICU rule status ≥ 100) when it has a letter or digit, or is two or more `_`: a lone
 * `_` is a segment with status 0 (no rule joins it to anything), so it is not a word.
 *
 * Equality with `Intl.Segmenter` is proved by `_words_test.ts`: exhaustively over all strings of up to 5
 * characters from one representative per class, over all ASCII pairs, by fast-check properties and on the
 * whole fiori corpus. A different ICU (a Deno upgrade) that tailors differently fails those tests.
 * @module
 */

/** Class of an ASCII character that breaks every word: punctuation other than the ones below, controls. */
export const K_OTHER = 0;
/** `A-Z a-z` (ALetter). */
export const K_LETTER = 1;
/** `0-9` (Numeric). */
export const K_DIGIT = 2;
/** `_` (ExtendNumLet). */
export const K_UNDERSCORE = 3;
/** `'` (Single_Quote: between two letters or two digits). */
export const K_QUOTE = 4;
/** `, . ;` (MidNum as ICU has it: between two digits only). */
export const K_MIDNUM = 5;
/** ASCII whitespace: space, `\t`, `\n`, `\v`, `\f`, `\r` (breaks every word; `_words.ts` cuts text there). */
export const K_SPACE = 6;

/** Class of each ASCII code unit 0..127 (one of the `K_` constants). */
export const ASCII_CLASS: Uint8Array = (() => {
  const t = new Uint8Array(128);
  for (let c = 0x41; c <= 0x5a; c++) t[c] = K_LETTER;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = K_LETTER;
  for (let c = 0x30; c <= 0x39; c++) t[c] = K_DIGIT;
  t[0x5f] = K_UNDERSCORE;
  t[0x27] = K_QUOTE;
  t[0x2c] = t[0x2e] = t[0x3b] = K_MIDNUM;
  for (const c of [0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]) t[c] = K_SPACE;
  return t;
})();

/**
 * Calls `emit` with each word-like segment of `text[from, to)`, in order, as `Intl.Segmenter("en")` would
 * find them in that substring (module doc for the rules).
 * @param text the string; every code unit in `[from, to)` must be < 128 (not checked: the caller routes
 *   non-ASCII text elsewhere)
 * @param from first index, inclusive
 * @param to last index, exclusive
 * @param emit receives each word exactly as it appears in `text` (no case change)
 */
export function scanAscii(text: string, from: number, to: number, emit: (word: string) => void): void {
  const cls = ASCII_CLASS;
  let i = from;
  while (i < to) {
    const first = cls[text.charCodeAt(i)];
    if (first !== K_LETTER && first !== K_DIGIT && first !== K_UNDERSCORE) {
      i++;
      continue;
    }
    const start = i;
    let last = first; // class of the word's last character: decides what a quote or mid-number may join
    i++;
    while (i < to) {
      const k = cls[text.charCodeAt(i)];
      if (k === K_LETTER || k === K_DIGIT || k === K_UNDERSCORE) {
        last = k;
        i++;
      } else if (
        ((k === K_QUOTE && (last === K_LETTER || last === K_DIGIT)) || (k === K_MIDNUM && last === K_DIGIT)) &&
        i + 1 < to && cls[text.charCodeAt(i + 1)] === last
      ) {
        i += 2; // WB6/WB7 (letter ' letter) or WB11/WB12 (digit [',.;] digit)
      } else {
        break;
      }
    }
    if (i - start === 1 && first === K_UNDERSCORE) continue; // a lone "_" is not word-like
    emit(text.slice(start, i));
  }
}
