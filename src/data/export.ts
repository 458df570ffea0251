/**
 * Export of a directory subtree to JSONL, the format `vexfs import --jsonl`
 * reads (docs/JSONL.md): one object per regular file that has a vector,
 * `{"path", "vector", "text"?, ...extra}`, in a stable order (names sorted
 * by code unit, depth first), streamed one record at a time.
 *
 * Extra fields and `user.*` xattrs map one to one ({@link xattrOfField},
 * {@link fieldOfXattr}): field `lang` is xattr `user.lang`; a string value
 * is stored as its UTF-8 bytes, any other JSON value as its JSON text.
 * `user.vexfs.*` (the vector's own attribute) is never exported.
 *
 * Two walkers: {@link offlineEntries} through the engine on an unmounted
 * image, {@link mountedEntries} through the host kernel (files, xattrs)
 * and the VexFS ioctls (vectors) on a mount.
 * @module
 */
import { FsError } from "../errors.ts";
import { IFL_HAS_VECTOR, S_IFDIR, S_IFMT, S_IFREG } from "../format/constants.ts";
import type { Vexfs } from "../fs/fs.ts";
import * as ioctl from "../ioctl/client.ts";
import { KNOWN_FIELDS } from "./jsonl.ts";
import { getxattr, listxattr } from "../mount/_posix.ts";

/** One exported file. */
export interface ExportEntry {
  /** path relative to the exported directory, "/"-separated */
  path: string;
  vector: Float32Array;
  /** the file's content as UTF-8 text (only when asked for) */
  text?: string;
  /** extra JSONL fields from the file's `user.*` xattrs (name without "user."), values as strings */
  fields: Record<string, string>;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const enc = new TextEncoder();

/**
 * The xattr name and value an extra JSONL field is kept as: `user.<field>`,
 * a string as its UTF-8 bytes, any other JSON value (number, boolean,
 * array, object) as its JSON text. Null means "no field".
 * @throws FsError EINVAL for an empty field name
 */
export function xattrOfField(field: string, value: unknown): { name: string; value: Uint8Array } | null {
  if (value === null || value === undefined) return null;
  if (field === "") throw new FsError("EINVAL", "a field with an empty name cannot be kept as an xattr");
  return { name: `user.${field}`, value: enc.encode(typeof value === "string" ? value : JSON.stringify(value)) };
}

/**
 * The JSONL field an xattr exports as, or null when it is not exported
 * (not `user.*`, or `user.vexfs.*`, the vector's own).
 * @throws FsError EINVAL when the name would collide with a known field
 *   (`user.path`, `user.text`...) or the value is not UTF-8 text
 */
export function fieldOfXattr(where: string, name: string, value: Uint8Array): [string, string] | null {
  if (!name.startsWith("user.") || name.startsWith("user.vexfs.")) return null;
  const field = name.slice(5);
  if (KNOWN_FIELDS.has(field)) {
    throw new FsError(
      "EINVAL",
      `${where}: xattr ${name} would be the JSONL field "${field}", which means something else`,
    );
  }
  try {
    return [field, utf8.decode(value)];
  } catch {
    throw new FsError("EINVAL", `${where}: xattr ${name} is not UTF-8 text and cannot be exported to JSONL`);
  }
}

/**
 * One JSONL line (no newline) for an entry: `path`, `vector` (each element
 * the exact decimal of its f32 value, so that it parses back bit for bit),
 * `text` when present, then the extra fields in name order.
 */
export function exportLine(e: ExportEntry): string {
  const o: Record<string, unknown> = { path: e.path, vector: Array.from(e.vector) };
  if (e.text !== undefined) o.text = e.text;
  for (const k of Object.keys(e.fields).sort()) o[k] = e.fields[k];
  return JSON.stringify(o);
}

function byName<T extends { name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * The files with a vector under directory inode `dir` of an unmounted
 * filesystem, depth first, names sorted; one directory listing is held at
 * a time per level.
 * @param opts.text also read each file's content (must be UTF-8)
 * @throws FsError EINVAL for content or an xattr that is not UTF-8, a colliding xattr name
 */
export function* offlineEntries(fs: Vexfs, dir: number, opts: { text?: boolean } = {}): Generator<ExportEntry> {
  function* walk(ino: number, rel: string): Generator<ExportEntry> {
    const names = [...fs.readdir(ino)].map((e) => ({ name: e.name, ino: e.ino })).sort(byName);
    for (const e of names) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      const st = fs.getattr(e.ino);
      const type = st.mode & S_IFMT;
      if (type === S_IFDIR) {
        yield* walk(e.ino, path);
        continue;
      }
      if (type !== S_IFREG || !(st.flags & IFL_HAS_VECTOR)) continue;
      const vector = fs.collections.getVector(e.ino);
      if (!vector) continue;
      const out: ExportEntry = { path, vector, fields: {} };
      if (opts.text) out.text = decodeText(path, fs.read(e.ino, 0, st.size));
      const xs = fs.listxattr(e.ino);
      for (const name of [...xs.keys()].sort()) {
        const f = fieldOfXattr(path, name, xs.get(name)!);
        if (f) out.fields[f[0]] = f[1];
      }
      yield out;
    }
  }
  yield* walk(dir, "");
}

/**
 * The files with a vector under host directory `dir` on a mounted VexFS:
 * files and xattrs through the kernel, vectors with `VEXFS_IOC_GET_VECTOR`
 * (docs/IOCTL.md); same order as {@link offlineEntries}.
 * @throws FsError as {@link offlineEntries}; errors of the ioctls and reads
 */
export async function* mountedEntries(dir: string, opts: { text?: boolean } = {}): AsyncGenerator<ExportEntry> {
  async function* walk(host: string, rel: string): AsyncGenerator<ExportEntry> {
    const names: Deno.DirEntry[] = [];
    for await (const e of Deno.readDir(host)) names.push(e);
    names.sort(byName);
    for (const e of names) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      const hp = `${host}/${e.name}`;
      if (e.isDirectory) {
        yield* walk(hp, path);
        continue;
      }
      if (!e.isFile) continue;
      const v = await ioctl.getVector(hp);
      if (!v) continue;
      const out: ExportEntry = { path, vector: v.vector, fields: {} };
      if (opts.text) out.text = decodeText(path, await Deno.readFile(hp));
      for (const name of listxattr(hp).sort()) {
        const f = fieldOfXattr(path, name, getxattr(hp, name));
        if (f) out.fields[f[0]] = f[1];
      }
      yield out;
    }
  }
  yield* walk(dir.replace(/\/+$/, "") || "/", "");
}

function decodeText(path: string, data: Uint8Array): string {
  try {
    return utf8.decode(data);
  } catch {
    throw new FsError("EINVAL", `${path}: content is not UTF-8 text; export without --text`);
  }
}
