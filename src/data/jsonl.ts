/**
 * Parser for vector import files in JSON Lines format: one JSON object per
 * line,
 *
 * ```json
 * {"path": "docs/intro.md", "text": "Hello", "vector": [0.1, 0.2, 0.3]}
 * {"id": "doc-7", "vector": [0.4, 0.5, 0.6]}
 * ```
 *
 * - `vector` (required): array of finite numbers, rounded to f32;
 * - `path` and/or `id` (at least one): non-empty strings naming the target;
 *   the one that names the file (`path`, else `id`) must be a relative path
 *   that stays inside the target directory ({@linkcode relativeFilePath}):
 *   no `..` component, not absolute, no empty component, no NUL, no name
 *   longer than 255 bytes;
 * - `text` (optional): string, e.g. file contents to write;
 * - other fields are kept for the caller (`fields`); blank lines are
 *   skipped; CRLF line ends and a leading UTF-8 byte order mark are accepted;
 * - the first line may be a collection header `{"vexfs_collection": {...}}`
 *   (src/data/jsonl_settings.ts): it is checked, fixes the dimension unless
 *   `options.dim` does, and goes to `options.onSettings`, not to the records.
 *
 * All vectors in one file must have the same dimension: `options.dim` if
 * given, otherwise that of the first record.
 *
 * Records are produced one at a time, so a large file is never held as a
 * whole in memory ({@linkcode readJsonl}, {@linkcode readJsonlFile}).
 * Errors are `FsError("EINVAL")` whose message names the line, e.g.
 * `EINVAL: import.jsonl line 3: missing "vector"`.
 *
 * @example
 * ```ts
 * import { readJsonlFile } from "./jsonl.ts";
 * for await (const r of readJsonlFile("import.jsonl", { dim: 384 })) {
 *   console.log(r.line, r.path ?? r.id, r.vector.length);
 * }
 * ```
 * @module
 */
import { FsError } from "../errors.ts";
import { vectorFromArray } from "../vector/codec.ts";
import { type CollectionSettings, parseSettings, SETTINGS_KEY } from "./jsonl_settings.ts";

/** Longest file name (bytes of UTF-8) a path component may have (FORMAT.md's NAME_MAX). */
const NAME_MAX = 255;

/**
 * Checks a record's file path and returns it normalized: components joined
 * by `/`, `.` components dropped. A `\` separates components like `/`.
 * The path must stay inside the directory it is relative to.
 * @param p the `path` (or `id`) of a record
 * @returns e.g. `"guides/intro.md"` for `"./guides\\intro.md"`
 * @throws FsError `EINVAL` saying why (without a line number): a NUL, an
 *   absolute path, an empty or `..` component, a component longer than 255
 *   bytes, or nothing but `.` components
 */
export function relativeFilePath(p: string): string {
  if (p.includes("\0")) throw new FsError("EINVAL", "contains a NUL character");
  if (p.startsWith("/") || p.startsWith("\\")) {
    throw new FsError("EINVAL", "is absolute; paths are relative to the target directory");
  }
  const parts = p.split(/[/\\]/);
  const out: string[] = [];
  for (const part of parts) {
    if (part === "") throw new FsError("EINVAL", "has an empty component (a doubled or trailing '/')");
    if (part === "..") throw new FsError("EINVAL", "has a '..' component; paths must stay inside the target directory");
    if (part === ".") continue;
    const n = new TextEncoder().encode(part).length;
    if (n > NAME_MAX) throw new FsError("EINVAL", `has a component of ${n} bytes; at most ${NAME_MAX} are allowed`);
    out.push(part);
  }
  if (!out.length) throw new FsError("EINVAL", "does not name a file");
  return out.join("/");
}

/** One parsed import record. */
export interface ImportRecord {
  /** 1-based line number in the input */
  line: number;
  /** target path, if given (a path {@linkcode relativeFilePath} accepts, as written) */
  path?: string;
  /** identifier, if given (non-empty string; checked like `path` when there is no `path`, as it then names the file) */
  id?: string;
  /** text, if given */
  text?: string;
  /** the vector, a `Float32Array` of length dim */
  vector: Float32Array;
  /** the other fields of the object, by name (kept as `user.<name>` xattrs by the import; null values left out) */
  fields?: Record<string, unknown>;
}

/** The JSONL fields with a meaning of their own; every other field is kept as a `user.*` xattr. */
export const KNOWN_FIELDS: ReadonlySet<string> = new Set(["path", "id", "text", "vector", SETTINGS_KEY]);

/** Parser options. */
export interface JsonlOptions {
  /** required vector dimension; default: the first record's */
  dim?: number;
  /** name of the input used in error messages (e.g. the file name) */
  source?: string;
  /** called with the collection header when the first line is one */
  onSettings?: (s: CollectionSettings) => void;
}

/**
 * Incremental parser state: feed it lines in order with
 * {@linkcode JsonlParser.line}. Useful when lines come from elsewhere.
 */
export class JsonlParser {
  #dim: number | undefined;
  readonly #source: string;
  readonly #onSettings?: (s: CollectionSettings) => void;
  #lineNo = 0;
  /** records or a header seen so far: a header is only allowed before them */
  #seen = 0;
  /** the collection header of the input, when it has one */
  settings: CollectionSettings | null = null;

  /** @param options see {@linkcode JsonlOptions} */
  constructor(options: JsonlOptions = {}) {
    this.#dim = options.dim;
    this.#source = options.source ? `${options.source} ` : "";
    this.#onSettings = options.onSettings;
  }

  /** The dimension fixed so far (from options or the first record). */
  get dim(): number | undefined {
    return this.#dim;
  }

  #fail(msg: string): never {
    throw new FsError("EINVAL", `${this.#source}line ${this.#lineNo}: ${msg}`);
  }

  /**
   * Parses the next line (without its `\n`; a trailing `\r` is ignored).
   * @returns the record, or `null` for a blank line
   * @throws FsError `EINVAL` naming the line: malformed JSON, not an object,
   *   missing `vector`, a bad vector (non-array, non-number or non-finite
   *   element naming its index, wrong dimension), neither `path` nor `id`,
   *   a `path`/`id`/`text` that is not a string, or a file path that would
   *   leave the target directory ({@linkcode relativeFilePath})
   */
  line(raw: string): ImportRecord | null {
    this.#lineNo++;
    let s = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (this.#lineNo === 1 && s.charCodeAt(0) === 0xfeff) s = s.slice(1);
    if (s.trim() === "") return null;
    let obj: unknown;
    try {
      obj = JSON.parse(s);
    } catch (e) {
      this.#fail(`malformed JSON: ${(e as Error).message}`);
    }
    if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
      this.#fail("expected a JSON object");
    }
    const o = obj as Record<string, unknown>;
    if (SETTINGS_KEY in o) {
      if (this.#seen) this.#fail(`a collection header ("${SETTINGS_KEY}") is only allowed as the first line`);
      this.#seen++;
      let h: CollectionSettings;
      try {
        h = parseSettings(o);
      } catch (e) {
        this.#fail((e as Error).message.replace(/^EINVAL: /, ""));
      }
      if (this.#dim !== undefined && h.dim !== this.#dim) {
        this.#fail(`the collection header says dimension ${h.dim}, but ${this.#dim} is required here`);
      }
      this.#dim = h.dim;
      this.settings = h;
      this.#onSettings?.(h);
      return null;
    }
    this.#seen++;
    const rec: ImportRecord = {
      line: this.#lineNo,
      vector: new Float32Array(0),
    };
    for (const key of ["path", "id", "text"] as const) {
      const v = o[key];
      if (v === undefined || v === null) continue;
      if (typeof v !== "string") {
        this.#fail(`"${key}" must be a string, got ${typeof v}`);
      }
      if (key !== "text" && v === "") this.#fail(`"${key}" is empty`);
      rec[key] = v;
    }
    if (rec.path === undefined && rec.id === undefined) {
      this.#fail(`record needs "path" or "id"`);
    }
    const key = rec.path !== undefined ? "path" : "id";
    try {
      relativeFilePath(rec[key]!);
    } catch (e) {
      this.#fail(`"${key}" ${JSON.stringify(rec[key])} ${(e as Error).message.replace(/^EINVAL: /, "")}`);
    }
    if (o.vector === undefined || o.vector === null) {
      this.#fail(`missing "vector"`);
    }
    try {
      rec.vector = vectorFromArray(o.vector, this.#dim, "vector");
    } catch (e) {
      this.#fail((e as Error).message.replace(/^EINVAL: /, ""));
    }
    this.#dim ??= rec.vector.length;
    for (const k of Object.keys(o)) {
      if (KNOWN_FIELDS.has(k) || o[k] === null) continue;
      if (k === "") this.#fail("a field has an empty name; it cannot be kept as an xattr");
      if (k.startsWith("vexfs.")) this.#fail(`field "${k}" would be the reserved xattr user.${k}`);
      if (new TextEncoder().encode(k).length > 250) {
        this.#fail(`field name "${k.slice(0, 20)}..." is too long for an xattr`);
      }
      (rec.fields ??= {})[k] = o[k];
    }
    return rec;
  }
}

/**
 * Parses a whole JSONL text, yielding records as it goes.
 * @param text the file contents
 * @param options see {@linkcode JsonlOptions}
 * @throws FsError `EINVAL` naming the line (see {@linkcode JsonlParser.line})
 */
export function* parseJsonl(
  text: string,
  options: JsonlOptions = {},
): Generator<ImportRecord> {
  const p = new JsonlParser(options);
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const r = p.line(text.slice(start, end));
    if (r) yield r;
    start = end + 1;
  }
}

/**
 * Parses JSONL from a byte stream (UTF-8), yielding records as lines
 * complete; only the current partial line is buffered.
 * @param input a `ReadableStream` or any async iterable of byte chunks
 * @param options see {@linkcode JsonlOptions}
 * @throws FsError `EINVAL` naming the line (see {@linkcode JsonlParser.line});
 *   invalid UTF-8 is also `EINVAL`
 */
export async function* readJsonl(
  input: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>,
  options: JsonlOptions = {},
): AsyncGenerator<ImportRecord> {
  const p = new JsonlParser(options);
  // ignoreBOM: keep the BOM so that JsonlParser strips it (once, on line 1).
  const dec = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  let pending = "";
  const decode = (chunk?: Uint8Array): string => {
    try {
      return chunk ? dec.decode(chunk, { stream: true }) : dec.decode();
    } catch {
      throw new FsError(
        "EINVAL",
        `${options.source ? options.source + " " : ""}is not valid UTF-8`,
      );
    }
  };
  for await (const chunk of input as AsyncIterable<Uint8Array>) {
    const from = pending.length;
    pending += decode(chunk);
    let nl = pending.indexOf("\n", from);
    if (nl < 0) continue;
    let start = 0;
    while (nl >= 0) {
      const r = p.line(pending.slice(start, nl));
      if (r) yield r;
      start = nl + 1;
      nl = pending.indexOf("\n", start);
    }
    pending = pending.slice(start);
  }
  pending += decode();
  const r = p.line(pending);
  if (r) yield r;
}

/**
 * Opens a file and parses it with {@linkcode readJsonl}; messages name the
 * file. The file is closed when iteration ends (also on error or `break`).
 * @param path file to read
 * @param options see {@linkcode JsonlOptions}; `source` defaults to `path`
 * @throws `Deno.errors.NotFound` etc. from opening; FsError `EINVAL` for content
 */
export async function* readJsonlFile(
  path: string,
  options: JsonlOptions = {},
): AsyncGenerator<ImportRecord> {
  const file = await Deno.open(path, { read: true });
  try {
    yield* readJsonl(file.readable, { source: path, ...options });
  } finally {
    try {
      file.close();
    } catch {
      // already closed by the stream reaching its end
    }
  }
}
