/**
 * Tokenizing speed of the `word-v1` analyzer (src/text/analyzer.ts) against the tokenizers of the two reference
 * engines of issue 12, on the fiori corpus (778 documents of `@sap-ux/fiori-docs-embeddings`, 6.1 M characters),
 * in one run, interleaved:
 *
 * - `word-v1 terms`: `makeAnalyzer(DEFAULT_ANALYZER).terms(text)` (words, NFKC + lowercase, length limit);
 * - `word-v1 document`: `.document(text)`: the same plus the per-document term counts the index stores;
 * - `word-v1 en stem+stop`: `document()` with English stop words and stemming;
 * - `Segmenter only`: the definition without the ASCII fast path (`Intl.Segmenter` word-like segments,
 *   `normalize("NFKC").toLowerCase()` each): what the fast path saves;
 * - `MiniSearch 7.2.0`: its default `tokenize` (`text.split(/[\n\r\p{Z}\p{P}]+/u)`, `SPACE_OR_PUNCTUATION` in
 *   src/MiniSearch.ts) and default `processTerm` (`toLowerCase`), empty terms dropped, as `addFields` does;
 * - `MiniSearch + counts`: that plus a per-document `Map` of term counts (like `document`);
 * - `Orama 3.1.18`: `tokenizer.createTokenizer({ allowDuplicates: true })` from `@orama/orama/components`,
 *   `tokenize(text, undefined, "content", false)` as its index insert calls it (English splitter, diacritics
 *   folded, no stemming).
 *
 * Tokens per second count each tokenizer's own tokens (they split differently: MiniSearch splits `3.14` and
 * `can't`, keeps `x86-64` whole). Speed is never asserted in tests.
 *
 * ```sh
 * node_modules/deno/deno run -A bench/text_tokenize.ts              # 9 rounds, median
 * node_modules/deno/deno run -A bench/text_tokenize.ts --rounds 3
 * ```
 * @module
 */
import { tokenizer as oramaTokenizer } from "@orama/orama/components";
import { loadFiori } from "../src/data/fiori.ts";
import { DEFAULT_ANALYZER, foldCase, makeAnalyzer } from "../src/text/analyzer.ts";
import { segmenterWords } from "../src/text/_words.ts";

const SPACE_OR_PUNCTUATION = /[\n\r\p{Z}\p{P}]+/u;

/** One tokenizer under test: returns the number of tokens of one document. */
type Run = (text: string) => number;

function tokenizers(): [string, Run][] {
  const plain = makeAnalyzer(DEFAULT_ANALYZER);
  const en = makeAnalyzer({ analyzer: 1, stemmer: 1, stopwords: 1, lang: "en" });
  const orama = oramaTokenizer.createTokenizer({ allowDuplicates: true });
  return [
    ["word-v1 terms", (t) => plain.terms(t).length],
    ["word-v1 document", (t) => plain.document(t).dl],
    ["word-v1 en stem+stop", (t) => en.document(t).dl],
    ["Segmenter only", (t) => segmenterWords(t).map(foldCase).length],
    ["MiniSearch 7.2.0", (t) => {
      const out: string[] = [];
      for (const w of t.split(SPACE_OR_PUNCTUATION)) if (w) out.push(w.toLowerCase());
      return out.length;
    }],
    ["MiniSearch + counts", (t) => {
      const counts = new Map<string, number>();
      let n = 0;
      for (const w of t.split(SPACE_OR_PUNCTUATION)) {
        if (!w) continue;
        const k = w.toLowerCase();
        counts.set(k, (counts.get(k) ?? 0) + 1);
        n++;
      }
      return n;
    }],
    ["Orama 3.1.18", (t) => orama.tokenize(t, undefined, "content", false).length],
  ];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

async function main(): Promise<void> {
  const i = Deno.args.indexOf("--rounds");
  const rounds = i >= 0 ? Number(Deno.args[i + 1]) : 9;
  const { docs } = await loadFiori();
  const texts = docs.map((d) => d.content);
  const chars = texts.reduce((n, t) => n + t.length, 0);
  const runs = tokenizers();
  const times = new Map<string, number[]>(runs.map(([name]) => [name, []]));
  const tokens = new Map<string, number>();
  for (let r = 0; r < rounds + 1; r++) {
    // Rotate the order each round; round 0 is a warm-up (JIT) and not counted.
    for (let j = 0; j < runs.length; j++) {
      const [name, run] = runs[(j + r) % runs.length];
      const t0 = performance.now();
      let n = 0;
      for (const t of texts) n += run(t);
      const ms = performance.now() - t0;
      if (r > 0) times.get(name)!.push(ms);
      tokens.set(name, n);
    }
  }
  console.log(`fiori: ${texts.length} documents, ${(chars / 1e6).toFixed(2)} M characters; median of ${rounds} rounds`);
  console.log(`Deno ${Deno.version.deno}, V8 ${Deno.version.v8}, ${navigator.hardwareConcurrency} CPUs`);
  console.log("tokenizer".padEnd(22) + "tokens".padStart(10) + "ms".padStart(9) + "M tokens/s".padStart(12));
  for (const [name] of runs) {
    const ms = median(times.get(name)!);
    const n = tokens.get(name)!;
    console.log(
      name.padEnd(22) + String(n).padStart(10) + ms.toFixed(1).padStart(9) + (n / ms / 1e3).toFixed(2).padStart(12),
    );
  }
}

if (import.meta.main) await main();
