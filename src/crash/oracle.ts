/**
 * The oracle of the crash-state harness: what a crashed image must show.
 *
 * As in CrashMonkey (Mohan et al., OSDI 2018, §4.3), the expected state is
 * read from the file system itself at each persistence point of the
 * workload ({@link snapshot}: the tree as the engine shows it right after
 * fsync/fdatasync/sync returned), and a crash state is checked against the
 * last persistence point it reached:
 *
 * 1. the engine opens it (replaying the journal, if any, and freeing
 *    orphans, as a mount does);
 * 2. every reachable file reads back without error, every collection's
 *    search equals a brute force over the vectors present;
 * 3. what the persistence points guaranteed is there ({@link claimsAt},
 *    {@link compareClaims});
 * 4. after the engine closed it, `fsck -n` reports no error and no warning.
 *
 * What a persistence point guarantees depends on {@link Semantics}:
 *
 * - `"posix"` is CrashMonkey's oracle with ext4's rules: after fsync(f) or
 *   fdatasync(f), f's data, size, xattrs, vector and link count; f's name
 *   too when f was created since the previous persistence point (ext4 makes
 *   the entry of a new file durable with it); after fsync of a directory,
 *   its entries; after sync(), everything.
 * - `"transaction"` (the default): VexFS's fsync and fdatasync commit the
 *   whole running transaction, as ext4's do (`Vexfs.fsync`), so every
 *   persistence point guarantees the whole tree as sync() does: every path
 *   with its inode and type, the exact entries of every directory, and every
 *   inode's contents. This contains the `posix` guarantees.
 *
 * Either way a guarantee stops applying to what an operation issued after
 * the persistence point (and before the cut) touched ({@link Touched}): such
 * an object may show the old state, the new one, or a mix (e.g. ordered-mode
 * data written in place), which POSIX allows until the next persistence
 * point. Everything else must match exactly.
 * @module
 */
import { IFL_COLL_ROOT, IFL_HAS_VECTOR, ROOT_INO, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from "../format/constants.ts";
import type { Vexfs } from "../fs/fs.ts";
import type { FsckReport } from "../fsck/fsck.ts";
import { lowerIsBetter, scoreFn } from "../vector/distance.ts";

/** One object of a {@link Snapshot}, reached by `path`. */
export interface SnapNode {
  /** absolute path, `/` for the root */
  path: string;
  ino: number;
  type: "file" | "dir" | "symlink" | "other";
  /** st_nlink (files only; 0 for directories, whose count fsck checks) */
  nlink: number;
  /** permission bits and type, as st_mode */
  mode: number;
  /** bytes (files and symlinks) */
  size: number;
  /** contents of a file, target of a symlink; empty for directories */
  data: Uint8Array;
  /** xattrs as sorted `name=hex` strings */
  xattrs: string[];
  /** the file's vector as numbers and its collection id, or null */
  vector: { coll: number; values: number[] } | null;
  /** a directory's sorted entry names */
  names?: string[];
  /** a collection root's parameters, e.g. `"4 l2 f32"` */
  collection?: string;
}

/** A file tree as the engine shows it: path → node (hard links appear under each path). */
export type Snapshot = Map<string, SnapNode>;

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/**
 * Reads the whole tree of `fs` (every path, file contents, xattrs, vectors,
 * collection parameters) through the engine. Reads only.
 * @param fs an open filesystem
 * @param errors receives one message per object that could not be read (e.g. `EUCLEAN`); the object is left out
 * @throws FsError only when the root itself cannot be read
 */
export function snapshot(fs: Vexfs, errors?: string[]): Snapshot {
  const out: Snapshot = new Map();
  const visit = (path: string, ino: number) => {
    const st = fs.getattr(ino);
    const t = st.mode & S_IFMT;
    const type = t === S_IFREG ? "file" : t === S_IFDIR ? "dir" : t === S_IFLNK ? "symlink" : "other";
    const node: SnapNode = {
      path,
      ino,
      type,
      nlink: type === "dir" ? 0 : st.nlink,
      mode: st.mode,
      size: type === "dir" ? 0 : st.size,
      data: new Uint8Array(0),
      xattrs: [...fs.listxattr(ino)].map(([k, v]) => `${k}=${hex(v)}`).sort(),
      vector: null,
    };
    if (type === "file") {
      node.data = fs.read(ino, 0, st.size);
      if (node.data.length !== st.size) throw new Error(`read ${node.data.length} of ${st.size} bytes`);
      if (st.flags & IFL_HAS_VECTOR) {
        const v = fs.collections.getVector(ino);
        const coll = fs.iget(ino).d.collId;
        node.vector = v ? { coll, values: Array.from(v) } : null;
      }
    } else if (type === "symlink") node.data = fs.readlink(ino);
    out.set(path, node);
    if (type !== "dir") return;
    if (st.flags & IFL_COLL_ROOT) {
      const c = fs.collections.get(fs.iget(ino).d.collId);
      node.collection = `${c.id} ${c.dim} ${c.metric} ${c.elem}`;
    }
    const kids = [...fs.readdir(ino)].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    node.names = kids.map((k) => k.name);
    for (const k of kids) {
      const p = path === "/" ? `/${k.name}` : `${path}/${k.name}`;
      try {
        visit(p, k.ino);
      } catch (e) {
        if (!errors) throw e;
        errors.push(`${p}: cannot be read: ${e instanceof Error ? e.message : e}`);
      }
    }
  };
  visit("/", ROOT_INO);
  return out;
}

/**
 * What an operation changed, by name: claims on these may fail until the
 * next persistence point. `trees` covers a path and everything below it.
 */
export interface Touched {
  /** names (absolute paths) created, removed or re-pointed */
  paths?: string[];
  /** directories whose list of entries changed */
  dirs?: string[];
  /** subtrees moved or removed as a whole */
  trees?: string[];
  /** inodes whose contents, xattrs, vector or link count changed */
  inos?: number[];
}

/** How far a persistence point reaches (see the module documentation). */
export type Semantics = "transaction" | "posix";

/** A persistence point as the workload recorded it. */
export interface PersistPoint {
  /** how the workload made things durable */
  how: "fsync" | "fdatasync" | "sync" | "base";
  /** the fsync'd inode (0 for sync and base) */
  ino: number;
  /** the tree right after the call returned */
  snap: Snapshot;
  /** number of operations begun before this point */
  opSeq: number;
  /** inodes created since the previous persistence point (for the posix rule on new files) */
  created: Set<number>;
}

/** One expectation: a key (`p:/path`, `d:/dir`, `i:ino`) and the node it was read from. */
export interface Claim {
  key: string;
  node: SnapNode;
  /** operations with this sequence number or higher may undo it */
  opSeq: number;
}

/**
 * The claims in force after the persistence points `points` (in order),
 * before operations after them are taken into account.
 */
export function claimsAt(points: readonly PersistPoint[], semantics: Semantics = "transaction"): Map<string, Claim> {
  let claims = new Map<string, Claim>();
  for (const p of points) {
    const all = semantics === "transaction" || p.how === "sync" || p.how === "base";
    if (all) claims = new Map();
    const add = (key: string, node: SnapNode) => claims.set(key, { key, node, opSeq: p.opSeq });
    if (all) {
      for (const n of p.snap.values()) {
        if (n.path !== "/") add(`p:${n.path}`, n);
        if (n.type === "dir") add(`d:${n.path}`, n);
        add(`i:${n.ino}`, n);
      }
      continue;
    }
    // posix fsync/fdatasync of one inode
    const mine = [...p.snap.values()].filter((n) => n.ino === p.ino);
    for (const n of mine) {
      add(`i:${n.ino}`, n);
      if (p.created.has(n.ino)) add(`p:${n.path}`, n);
      if (n.type === "dir") {
        add(`d:${n.path}`, n);
        for (const name of n.names ?? []) {
          const child = p.snap.get(n.path === "/" ? `/${name}` : `${n.path}/${name}`);
          if (child) add(`p:${child.path}`, child);
        }
      }
    }
  }
  return claims;
}

const under = (p: string, t: string) => p === t || p.startsWith(t === "/" ? "/" : t + "/");

/** Whether `claim` is touched by `t`. */
export function touches(t: Touched, claim: Claim): boolean {
  const kind = claim.key[0];
  const what = claim.key.slice(2);
  if (kind === "i") return (t.inos ?? []).includes(Number(what));
  if (kind === "p" && (t.paths ?? []).includes(what)) return true;
  if (kind === "d" && (t.dirs ?? []).includes(what)) return true;
  return (t.trees ?? []).some((tr) => under(what, tr));
}

/** Inode → first node of a snapshot. */
function byIno(s: Snapshot): Map<number, SnapNode> {
  const m = new Map<number, SnapNode>();
  for (const n of s.values()) if (!m.has(n.ino)) m.set(n.ino, n);
  return m;
}

function firstDiff(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/** Describes how node `got` differs in contents from `want`, or returns null. */
export function contentDiff(want: SnapNode, got: SnapNode): string | null {
  if (want.type !== got.type) return `is a ${got.type}, expected a ${want.type}`;
  if (want.nlink !== got.nlink) return `has ${got.nlink} links, expected ${want.nlink}`;
  if ((want.mode & 0o7777) !== (got.mode & 0o7777)) {
    return `has mode ${(got.mode & 0o7777).toString(8)}, expected ${(want.mode & 0o7777).toString(8)}`;
  }
  if (want.size !== got.size) return `has ${got.size} bytes, expected ${want.size}`;
  const d = firstDiff(want.data, got.data);
  if (d >= 0) return `differs from byte ${d} on (${got.data[d] ?? "end"} instead of ${want.data[d] ?? "end"})`;
  if (want.xattrs.join() !== got.xattrs.join()) {
    return `has xattrs [${got.xattrs.join(", ")}], expected [${want.xattrs.join(", ")}]`;
  }
  const vs = (v: SnapNode["vector"]) => v ? `coll ${v.coll} [${v.values.join(", ")}]` : "none";
  if (vs(want.vector) !== vs(got.vector)) return `has vector ${vs(got.vector)}, expected ${vs(want.vector)}`;
  if ((want.collection ?? "") !== (got.collection ?? "")) {
    return `is collection ${got.collection ?? "none"}, expected ${want.collection ?? "none"}`;
  }
  return null;
}

/**
 * Checks the claims against the recovered tree `got`.
 * @returns one message per claim that does not hold (empty when all hold)
 */
export function compareClaims(claims: Iterable<Claim>, got: Snapshot): string[] {
  const out: string[] = [];
  const inos = byIno(got);
  for (const c of claims) {
    const what = c.key.slice(2);
    const want = c.node;
    if (c.key[0] === "p") {
      const g = got.get(what);
      if (!g) out.push(`${what} (inode ${want.ino}) is missing`);
      else if (g.ino !== want.ino || g.type !== want.type) {
        out.push(`${what} is inode ${g.ino} (${g.type}), expected inode ${want.ino} (${want.type})`);
      }
    } else if (c.key[0] === "d") {
      const g = got.get(what);
      if (!g || g.type !== "dir") continue; // the path claim reports it
      const a = (want.names ?? []).join("/"), b = (g.names ?? []).join("/");
      if (a !== b) {
        const extra = (g.names ?? []).filter((n) => !(want.names ?? []).includes(n));
        const lost = (want.names ?? []).filter((n) => !(g.names ?? []).includes(n));
        out.push(`directory ${what} has extra [${extra.join(", ")}] and lacks [${lost.join(", ")}]`);
      }
    } else {
      const g = inos.get(want.ino);
      if (!g) continue; // unreachable: a path claim reports it if its name was guaranteed
      const d = contentDiff(want, g);
      if (d) out.push(`inode ${want.ino} (${want.path}, now ${g.path}) ${d}`);
    }
  }
  return out;
}

/**
 * Compares every collection's search (k = all its vectors, from its root)
 * with a brute force over the vectors of the files of `snap`.
 * @returns one message per collection whose answer differs
 */
export function checkSearch(fs: Vexfs, snap: Snapshot): string[] {
  const out: string[] = [];
  for (const c of fs.collections.list()) {
    const mine = [...byIno(snap).values()].filter((n) => n.vector?.coll === c.id);
    if (mine.length !== c.count) {
      out.push(`collection ${c.id} counts ${c.count} vectors but ${mine.length} reachable files carry one`);
      continue;
    }
    if (!c.count) continue;
    const q = new Float32Array(c.dim).map((_, i) => (i % 3) - 0.5 + i / 10);
    let hits;
    try {
      hits = fs.collections.search(c.rootIno, q, Math.min(c.count, 65536), { paths: false });
    } catch (e) {
      out.push(`collection ${c.id}: search failed: ${e instanceof Error ? e.message : e}`);
      continue;
    }
    const f = scoreFn(c.metric);
    const want = new Map(mine.map((n) => [n.ino, f(q, n.vector!.values)]));
    const lower = lowerIsBetter(c.metric);
    for (let i = 0; i < hits.length; i++) {
      const w = want.get(hits[i].ino);
      if (w === undefined || Math.abs(w - hits[i].score) > 1e-4 * Math.max(1, Math.abs(w))) {
        out.push(`collection ${c.id}: hit ${i} inode ${hits[i].ino} score ${hits[i].score}, brute force ${w}`);
        break;
      }
      if (i && (lower ? hits[i].score < hits[i - 1].score - 1e-5 : hits[i].score > hits[i - 1].score + 1e-5)) {
        out.push(`collection ${c.id}: hits out of order at ${i}`);
        break;
      }
    }
    if (hits.length !== mine.length || new Set(hits.map((h) => h.ino)).size !== mine.length) {
      out.push(`collection ${c.id}: search returned ${hits.length} distinct hits, ${mine.length} files carry vectors`);
    }
  }
  return out;
}

/** The findings of an fsck report that count as failures: severity error or warning. */
export function fsckFindings(r: FsckReport): string[] {
  return r.problems.filter((p) => p.severity !== "info").map((p) =>
    `fsck ${p.severity} ${p.code} at ${p.where}: ${p.message}`
  );
}
