/**
 * Word segmentation of `word-v1` (design §3.1 rule 2): the word-like segments of
 * `new Intl.Segmenter("en", { granularity: "word" })` (ICU's UAX #29 word rules with its CJK and Thai
 * dictionaries), computed fast.
 *
 * {@linkcode segmenterWords} is the definition. {@linkcode forEachWord} gives exactly the same words faster:
 * ASCII text goes through the hand-written scanner of `_ascii.ts`; every stretch of text that holds a non-ASCII
 * character is handed to the Segmenter, cut at ASCII whitespace. The cut is exact because, in ICU's rules,
 * - a word never contains ASCII whitespace (space and `\t` are WSegSpace/Other, `\n \v \f \r` are
 *   LF/Newline/CR; no rule joins them to a letter or digit), so a word ends before it; and
 * - a stretch handed to the Segmenter *starts with* the whitespace character (or at the start of the text), so
 *   a combining mark or format character right after the whitespace (WB4: it attaches to the character
 *   before it) is segmented with the same neighbour as in the whole text.
 * The tests compare the two on random, exhaustive and real (fiori) input.
 *
 * Locale: "en" is fixed. *Measured*: ICU's word rules give the same words for every host locale (LANG=C,
 * en_US, de_DE, sv_SE, fi_FI) when "en" is passed, while `sv`/`fi` would keep `a:b` as one word.
 * @module
 */
import { scanAscii } from "./_ascii.ts";

/** The word segmenter of `word-v1`. */
export const WORD_SEGMENTER: Intl.Segmenter = new Intl.Segmenter("en", { granularity: "word" });

/**
 * Reference segmentation: every segment of `text` that `Intl.Segmenter("en", word)` marks `isWordLike`.
 * @param text any string
 * @returns the words in order, as they appear in `text`
 */
export function segmenterWords(text: string): string[] {
  const out: string[] = [];
  for (const s of WORD_SEGMENTER.segment(text)) if (s.isWordLike) out.push(s.segment);
  return out;
}

/** ASCII gap (code units) between two non-ASCII stretches below which both go to the Segmenter as one call. */
const MERGE_GAP = 48;

// Any UTF-16 code unit ≥ 0x80 (no `u` flag: surrogates match one unit at a time).
const NON_ASCII = /[\u0080-\uffff]/g;

function isAsciiSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/**
 * Calls `emit` with each word of `text` (the words of {@linkcode segmenterWords}, in order).
 * @param text any string (lone surrogates are allowed: they go to the Segmenter)
 * @param emit receives each word as it appears in `text`, and `ascii` = true when the word is all ASCII and
 *   came from the fast path (then NFKC normalization is the identity and may be skipped)
 */
export function forEachWord(text: string, emit: (word: string, ascii: boolean) => void): void {
  const n = text.length;
  const emitAscii = (w: string) => emit(w, true);
  let pos = 0;
  while (pos < n) {
    NON_ASCII.lastIndex = pos;
    const m = NON_ASCII.exec(text);
    if (m === null) {
      scanAscii(text, pos, n, emitAscii);
      return;
    }
    // The stretch starts at the ASCII whitespace before the first non-ASCII character (or at pos)...
    let start = m.index;
    while (start > pos && !isAsciiSpace(text.charCodeAt(start - 1))) start--;
    if (start > pos) start--;
    if (start > pos) scanAscii(text, pos, start, emitAscii);
    // ...and ends at the ASCII whitespace after it; nearby non-ASCII stretches join it.
    let end = m.index + 1;
    for (;;) {
      while (end < n && !isAsciiSpace(text.charCodeAt(end))) end++;
      if (end >= n) break;
      NON_ASCII.lastIndex = end;
      const next = NON_ASCII.exec(text);
      if (next === null || next.index - end > MERGE_GAP) break;
      end = next.index + 1;
    }
    for (const s of WORD_SEGMENTER.segment(text.slice(start, end))) {
      if (s.isWordLike) emit(s.segment, false);
    }
    pos = end;
  }
}
