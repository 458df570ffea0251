/**
 * Which files of a collection pass a `--where` filter (../search/where.ts),
 * answered from an attribute column cache (design of issue 12, §5.2): per
 * collection and attribute name, the value of each file asked about
 * (`Map<name, Map<ino, value | null>>`), read from the file's attributes
 * (FORMAT.md §7) the first time and kept until it may have changed. The
 * engine's attribute code tells every change ({@link Xattrs.listeners}:
 * a set or removal of one name, the free of an inode), and the cache forgets
 * exactly that value; nothing else can change one. A filtered search over
 * N files therefore reads each file's attributes once, and later searches
 * read only what changed.
 *
 * `user.vexfs.vector` (the mount's synthetic attribute: the file's vector)
 * is answered from the vector itself, so `user.vexfs.vector exists` means
 * "has a vector".
 * @module
 */
import { FsError } from "../errors.ts";
import { IFL_HAS_VECTOR } from "../format/constants.ts";
import { formatWhere, matchWhere, type Where } from "../search/where.ts";
import type { Vexfs } from "./fs.ts";

/** The synthetic attribute holding a file's vector (src/mount/ops.ts). */
const VECTOR_XATTR = "user.vexfs.vector";

/** A value per file: null = the file has no such attribute. */
type Column = Map<number, Uint8Array | null>;

/** Values at most this long are shared between the files that have them (1M files of `user.lang=en`: one array). */
const INTERN_MAX_BYTES = 64;
/** ... by at most this many distinct values per column (a column of unique titles stops interning). */
const INTERN_MAX_VALUES = 65536;
const latin1 = new TextDecoder("latin1");

/** Whether each file asked about passes one filter: forgotten per file exactly as the values it was computed from. */
interface Memo {
  names: Set<string>;
  pass: Map<number, boolean>;
}

/** Filters whose per-file answers are kept, most recently made last (a search after a change re-tests only what changed). */
const MEMOS_MAX = 4;

interface Columns {
  /** bumped whenever a cached value is forgotten (or could have been cached): the key of derived caches */
  version: number;
  /** collection id → attribute name → column */
  byCollection: Map<number, Map<string, Column>>;
  /** `${collection id} ${canonical filter}` → its answers */
  memos: Map<string, Memo>;
}

const perFs = new WeakMap<Vexfs, Columns>();
/** The shared copies of a column's short values, by their bytes. */
const internOf = new WeakMap<Column, Map<string, Uint8Array>>();

/** The column cache of `fs`, made (and subscribed to attribute changes) on first use. */
function columnsOf(fs: Vexfs): Columns {
  let c = perFs.get(fs);
  if (c) return c;
  const cols: Columns = { version: 0, byCollection: new Map(), memos: new Map() };
  fs.xattrs.listeners.add((ino, name) => {
    for (const m of cols.memos.values()) if (name === null || m.names.has(name)) m.pass.delete(ino);
    for (const names of cols.byCollection.values()) {
      if (name === null) {
        for (const col of names.values()) if (col.delete(ino)) cols.version++;
      } else if (names.has(name)) {
        names.get(name)!.delete(ino);
        cols.version++;
      }
    }
  });
  perFs.set(fs, cols);
  c = cols;
  return c;
}

/**
 * A number that changes whenever an attribute value the filters of `fs`
 * may have used changes: with a collection's generation and the namespace
 * version, the key under which a filter's answer over a collection may be
 * kept (./vector_search.ts).
 */
export function xattrFilterVersion(fs: Vexfs): number {
  return columnsOf(fs).version;
}

/**
 * A predicate "file `ino` passes filter `w`" over the files of collection
 * `collectionId`, reading attributes through the collection's column cache.
 * A file that no longer exists passes nothing.
 * @param w the filter; empty: every file passes (no attribute is read)
 * @returns the predicate; it stays valid and current across changes (values are re-read after a change)
 * @throws FsError EUCLEAN from the predicate when a file's attribute storage is damaged
 * @example
 * ```ts
 * import { parseWhere } from "../search/where.ts";
 * const pass = inoFilter(fs, 1, parseWhere(["user.lang=en"]));
 * const english = fs.collections.owners(1).filter(pass);
 * ```
 */
export function inoFilter(fs: Vexfs, collectionId: number, w: Where): (ino: number) => boolean {
  if (!w.length) return () => true;
  const cols = columnsOf(fs);
  let names = cols.byCollection.get(collectionId);
  if (!names) cols.byCollection.set(collectionId, names = new Map());
  const byName = names;
  const columns = new Map<string, Column>();
  const intern = (col: Column, v: Uint8Array): Uint8Array => {
    if (v.length > INTERN_MAX_BYTES) return v;
    let m = internOf.get(col);
    if (!m) internOf.set(col, m = new Map());
    const key = latin1.decode(v);
    const hit = m.get(key);
    if (hit) return hit;
    if (m.size < INTERN_MAX_VALUES) m.set(key, v);
    return v;
  };

  for (const c of w) {
    if (c.name === VECTOR_XATTR || columns.has(c.name)) continue;
    let col = byName.get(c.name);
    if (!col) {
      byName.set(c.name, col = new Map());
      cols.version++;
    }
    columns.set(c.name, col);
  }
  const test = (ino: number) => {
    try {
      return matchWhere(w, (name) => {
        if (name === VECTOR_XATTR) {
          return fs.iget(ino).d.flags & IFL_HAS_VECTOR ? fs.collections.getVectorBytes(ino)!.bytes : null;
        }
        const col = columns.get(name)!;
        let v = col.get(ino);
        if (v === undefined) {
          const found = fs.findxattr(ino, name);
          v = found ? intern(col, found) : null;
          col.set(ino, v);
        }
        return v;
      });
    } catch (e) {
      if (e instanceof FsError && e.code === "ENOENT") return false;
      throw e;
    }
  };
  // The vector attribute changes without an attribute hook: a filter reading it is not memoised.
  if (w.some((c) => c.name === VECTOR_XATTR)) return test;
  const key = `${collectionId} ${formatWhere(w)}`;
  let memo = cols.memos.get(key);
  if (memo) cols.memos.delete(key); // re-inserted last: the most recently used
  else {
    memo = { names: new Set(w.map((c) => c.name)), pass: new Map() };
    if (cols.memos.size >= MEMOS_MAX) cols.memos.delete(cols.memos.keys().next().value!);
  }
  cols.memos.set(key, memo);
  const pass = memo.pass;
  // A file that has none of the names fails every clause: a freed inode's false stays right when it is reused,
  // until an attribute is set on it (which forgets it).
  return (ino: number) => {
    let r = pass.get(ino);
    if (r === undefined) pass.set(ino, r = test(ino));
    return r;
  };
}

/** Forgets the columns of a collection (e.g. after it was dropped). */
export function forgetCollection(fs: Vexfs, collectionId: number): void {
  const cols = perFs.get(fs);
  if (!cols) return;
  if (cols.byCollection.delete(collectionId)) cols.version++;
  for (const k of [...cols.memos.keys()]) if (k.startsWith(`${collectionId} `)) cols.memos.delete(k);
}

/** What the cache holds, for tests and `vexfs stats`: columns and cached values over every collection. */
export function xattrFilterStats(fs: Vexfs): { columns: number; values: number } {
  const cols = perFs.get(fs);
  let columns = 0, values = 0;
  for (const names of cols?.byCollection.values() ?? []) {
    for (const col of names.values()) {
      columns++;
      values += col.size;
    }
  }
  return { columns, values };
}
