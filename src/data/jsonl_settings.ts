/**
 * The collection header of a JSONL file (docs/JSONL.md, "Collection
 * settings"): an optional first line
 *
 * ```json
 * {"vexfs_collection":{"dim":384,"metric":"cosine","type":"f32","index":"hnsw","m":16,"ef_construction":200,"ef_search":0}}
 * ```
 *
 * that `vexfs export` writes for the collection it exports from, and that
 * `vexfs import` uses to create the collection when the target directory
 * is not in one yet (explicit command-line options win; an existing
 * collection with another dimension, metric or type is an error). Only
 * `dim` is required; a missing setting takes the import's default.
 * @module
 */
import { FsError } from "../errors.ts";
import { ELEM_TYPES, type ElemType, MAX_DIM, type Metric, METRICS } from "../vector/types.ts";

/** The key of the header object. */
export const SETTINGS_KEY = "vexfs_collection";

/** A collection's settings as a JSONL header carries them. */
export interface CollectionSettings {
  /** 1..4096 */
  dim: number;
  metric?: Metric;
  elem?: ElemType;
  /** "hnsw" or "flat" */
  index?: "hnsw" | "flat";
  /** HNSW M (2..128) */
  m?: number;
  /** HNSW efConstruction (M..4096) */
  efConstruction?: number;
  /** default search ef (0..65535; 0: the engine's) */
  efSearch?: number;
}

/**
 * The header line (no newline) for a collection: `dim`, `metric`, `type`,
 * `index`, and for an HNSW collection `m`, `ef_construction`, `ef_search`.
 */
export function settingsLine(c: {
  dim: number;
  metric: Metric;
  elem: ElemType;
  index?: "hnsw" | "flat";
  m?: number;
  efConstruction?: number;
  efSearch?: number;
}): string {
  const o: Record<string, unknown> = { dim: c.dim, metric: c.metric, type: c.elem };
  if (c.index) o.index = c.index;
  if (c.index === "hnsw") {
    if (c.m) o.m = c.m;
    if (c.efConstruction) o.ef_construction = c.efConstruction;
    o.ef_search = c.efSearch ?? 0;
  }
  return JSON.stringify({ [SETTINGS_KEY]: o });
}

/**
 * Reads and checks a header object (the whole parsed line).
 * @returns the settings
 * @throws FsError EINVAL (without a line number) saying what is wrong: other
 *   keys beside `vexfs_collection`, not an object, an unknown setting, a
 *   missing or bad `dim`, an unknown metric, type or index, M or
 *   efConstruction out of range, HNSW settings with `"index":"flat"`
 */
export function parseSettings(o: Record<string, unknown>): CollectionSettings {
  const extra = Object.keys(o).filter((k) => k !== SETTINGS_KEY);
  if (extra.length) {
    throw new FsError("EINVAL", `the collection header has other fields (${extra.join(", ")}); it stands alone`);
  }
  const h = o[SETTINGS_KEY];
  if (h === null || typeof h !== "object" || Array.isArray(h)) {
    throw new FsError("EINVAL", `"${SETTINGS_KEY}" must be an object of settings`);
  }
  const s = h as Record<string, unknown>;
  const known = new Set(["dim", "metric", "type", "index", "m", "ef_construction", "ef_search"]);
  for (const k of Object.keys(s)) {
    if (!known.has(k)) {
      throw new FsError("EINVAL", `unknown collection setting "${k}" (known: ${[...known].join(", ")})`);
    }
  }
  const int = (k: string, lo: number, hi: number): number | undefined => {
    const v = s[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "number" || !Number.isInteger(v) || v < lo || v > hi) {
      throw new FsError(
        "EINVAL",
        `collection setting "${k}" must be an integer ${lo}..${hi}, not ${JSON.stringify(v)}`,
      );
    }
    return v;
  };
  const dim = int("dim", 1, MAX_DIM);
  if (dim === undefined) throw new FsError("EINVAL", `the collection header needs "dim"`);
  const out: CollectionSettings = { dim };
  const oneOf = <T extends string>(k: string, allowed: readonly T[]): T | undefined => {
    const v = s[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "string" || !(allowed as readonly string[]).includes(v)) {
      throw new FsError(
        "EINVAL",
        `collection setting "${k}" must be one of ${allowed.join(", ")}, not ${JSON.stringify(v)}`,
      );
    }
    return v as T;
  };
  const metric = oneOf("metric", METRICS);
  const elem = oneOf("type", ELEM_TYPES);
  const index = oneOf("index", ["hnsw", "flat"] as const);
  const m = int("m", 2, 128);
  const efConstruction = int("ef_construction", 2, 4096);
  const efSearch = int("ef_search", 0, 65535);
  if (index === "flat" && (m !== undefined || efConstruction !== undefined || efSearch)) {
    throw new FsError("EINVAL", `a flat collection has no m, ef_construction or ef_search`);
  }
  if (m !== undefined && efConstruction !== undefined && efConstruction < m) {
    throw new FsError("EINVAL", `ef_construction ${efConstruction} is below m ${m}`);
  }
  if (metric) out.metric = metric;
  if (elem) out.elem = elem;
  if (index) out.index = index;
  if (m !== undefined) out.m = m;
  if (efConstruction !== undefined) out.efConstruction = efConstruction;
  if (efSearch !== undefined) out.efSearch = efSearch;
  return out;
}

/**
 * The collection header of JSONL file `path`, or null when its first
 * non-blank line is a record (or the file is empty). Reads only up to that line.
 * @throws FsError EINVAL (naming the file and line 1..) for a malformed
 *   header; `Deno.errors.NotFound` etc. from opening
 */
export async function readJsonlSettings(path: string): Promise<CollectionSettings | null> {
  const file = await Deno.open(path, { read: true });
  const dec = new TextDecoder("utf-8", { ignoreBOM: false });
  let buf = "";
  let lineNo = 0;
  try {
    const reader = file.readable.getReader();
    try {
      for (;;) {
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          lineNo++;
          const line = buf.slice(0, nl).replace(/\r$/, "");
          buf = buf.slice(nl + 1);
          if (line.trim() !== "") return settingsOfLine(line, path, lineNo);
        }
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        if (buf.length > 1 << 20 && buf.indexOf("\n") < 0) break; // a long first line is a record, not a header
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
  } finally {
    try {
      file.close();
    } catch { /* closed by the stream */ }
  }
  buf += dec.decode();
  return buf.trim() === "" ? null : settingsOfLine(buf.replace(/\r$/, ""), path, lineNo + 1);
}

function settingsOfLine(line: string, path: string, lineNo: number): CollectionSettings | null {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    return null; // the record parser reports malformed JSON with its line
  }
  if (o === null || typeof o !== "object" || Array.isArray(o) || !(SETTINGS_KEY in o)) return null;
  try {
    return parseSettings(o as Record<string, unknown>);
  } catch (e) {
    throw new FsError("EINVAL", `${path} line ${lineNo}: ${(e as Error).message.replace(/^EINVAL: /, "")}`);
  }
}
