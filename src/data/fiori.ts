/**
 * Loader for the real text-embedding dataset shipped in the npm package
 * `@sap-ux/fiori-docs-embeddings` (Apache-2.0, SAP open-ux-tools): chunks of
 * the SAP Fiori tools documentation with 384-dimensional
 * `Xenova/all-MiniLM-L6-v2` sentence embeddings.
 *
 * Package layout used (`data/embeddings/`):
 * - `metadata.json`: `{ dimensions, totalVectors, model, ... }`;
 * - `records.jsonl`: one JSON object per line with `id`, `content`, `title`,
 *   `category`, `path`, ...;
 * - `embeddings.bin`: `totalVectors × dimensions` little-endian f32, in the
 *   order of `records.jsonl`.
 *
 * @example
 * ```ts
 * import { fileNameFor, loadFiori } from "./fiori.ts";
 * const { dim, docs } = await loadFiori(); // dim 384, 778 docs
 * const used = new Set<string>();
 * fileNameFor(docs[0].title, docs[0].id, used);
 * // "deploying-an-sap-fiori-application-abap-and-cloud-foundry.md"
 * ```
 * @module
 */
import { FsError } from "../errors.ts";
import { packageDir } from "./package_dir.ts";
import { decodeVector } from "../vector/codec.ts";
import { checkDim } from "../vector/types.ts";

/** npm name of the dataset package. */
export const FIORI_PACKAGE = "@sap-ux/fiori-docs-embeddings";

/** One documentation chunk with its embedding. */
export interface FioriDoc {
  /** unique chunk id, e.g. `"local-btp-fiori-tools-0-chunk-0"` */
  id: string;
  /** human-readable title of the chunk's document */
  title: string;
  /** category, e.g. `"Btp Fiori Tools"` (empty string if absent) */
  category: string;
  /** the chunk's Markdown text */
  content: string;
  /** embedding, a `Float32Array` of length dim */
  vector: Float32Array;
}

/** The whole dataset. */
export interface FioriDataset {
  /** embedding dimension (384 for the shipped model) */
  dim: number;
  /** documents in package order (the order of `records.jsonl`) */
  docs: FioriDoc[];
}

/**
 * Finds the package's `data/embeddings` directory. Tries, in order: module
 * resolution of the package (`import.meta.resolve`), `node_modules` relative
 * to this source file (repository layout `src/data/`), and `node_modules`
 * under the current working directory.
 * @returns absolute directory path
 * @throws FsError `ENOENT` listing the places tried
 */
export function fioriDataDir(): Promise<string> {
  return packageDir(FIORI_PACKAGE, "data/embeddings", "./data/embeddings/", "records.jsonl");
}

/**
 * Loads all documents and their embeddings.
 * @returns `{ dim, docs }`: dim from `metadata.json` (384), docs in file
 *   order, each with a fresh `Float32Array` of length dim
 * @throws FsError `ENOENT` if the package is missing; `EINVAL` if the files
 *   disagree (line count vs. vector count, `embeddings.bin` size, a malformed
 *   record or a non-finite vector element), naming the file and line
 */
export async function loadFiori(): Promise<FioriDataset> {
  const dir = await fioriDataDir();
  const meta = JSON.parse(await Deno.readTextFile(`${dir}/metadata.json`));
  const dim = Number(meta.dimensions);
  try {
    checkDim(dim);
  } catch {
    throw new FsError(
      "EINVAL",
      `${dir}/metadata.json: bad dimensions ${meta.dimensions}`,
    );
  }
  const lines = (await Deno.readTextFile(`${dir}/records.jsonl`))
    .split("\n")
    .filter((l) => l.trim() !== "");
  const bin = await Deno.readFile(`${dir}/embeddings.bin`);
  const stride = dim * 4;
  if (bin.length !== lines.length * stride) {
    throw new FsError(
      "EINVAL",
      `${dir}/embeddings.bin has ${bin.length} bytes, expected ${
        lines.length * stride
      } (${lines.length} records × ${dim} × 4)`,
    );
  }
  const docs: FioriDoc[] = [];
  for (let i = 0; i < lines.length; i++) {
    let r: Record<string, unknown>;
    try {
      r = JSON.parse(lines[i]);
    } catch (e) {
      throw new FsError(
        "EINVAL",
        `${dir}/records.jsonl line ${i + 1}: ${(e as Error).message}`,
      );
    }
    if (typeof r.id !== "string" || r.id === "") {
      throw new FsError(
        "EINVAL",
        `${dir}/records.jsonl line ${i + 1}: missing string "id"`,
      );
    }
    const vector = decodeVector(
      bin.subarray(i * stride, (i + 1) * stride),
      "f32",
      dim,
    );
    for (let j = 0; j < dim; j++) {
      if (!Number.isFinite(vector[j])) {
        throw new FsError(
          "EINVAL",
          `${dir}/embeddings.bin: vector ${i} element ${j} is not finite`,
        );
      }
    }
    docs.push({
      id: r.id,
      title: typeof r.title === "string" && r.title !== "" ? r.title : r.id,
      category: typeof r.category === "string" ? r.category : "",
      content: typeof r.content === "string" ? r.content : "",
      vector,
    });
  }
  return { dim, docs };
}

/** Longest file name {@linkcode fileNameFor} returns, in bytes. */
export const MAX_FILE_NAME = 80;

function slug(s: string): string {
  return s
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "") // strip combining accents
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
}

function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  const cut = s.slice(0, max);
  const dash = cut.lastIndexOf("-");
  // Prefer a word boundary unless that would lose more than half.
  return (dash >= max / 2 ? cut.slice(0, dash) : cut).replace(/-+$/, "");
}

/**
 * Derives a readable, unique, filesystem-safe file name for a document:
 * the title lowercased, accents stripped, every run of characters other than
 * `a-z0-9` replaced by one `-`, cut at a word boundary so that the whole name
 * is at most {@linkcode MAX_FILE_NAME} (80) bytes, plus `.md`. If the title
 * yields nothing, the id is used the same way, then `"doc"`. If the name is
 * already in `used`, `-2`, `-3`, ... is appended before `.md` (still within
 * 80 bytes). The chosen name is added to `used`.
 *
 * @param title document title (any Unicode)
 * @param id document id (fallback)
 * @param used names already taken in the target directory; updated
 * @returns a name of 1..80 ASCII bytes matching `^[a-z0-9][a-z0-9-]*\.md$`
 */
export function fileNameFor(
  title: string,
  id: string,
  used: Set<string>,
): string {
  const base = slug(title) || slug(id) || "doc";
  const ext = ".md";
  const first = truncate(base, MAX_FILE_NAME - ext.length) + ext;
  if (!used.has(first)) {
    used.add(first);
    return first;
  }
  for (let n = 2;; n++) {
    const suffix = `-${n}`;
    const name = truncate(base, MAX_FILE_NAME - ext.length - suffix.length) +
      suffix + ext;
    if (!used.has(name)) {
      used.add(name);
      return name;
    }
  }
}
