/**
 * Workloads of the crash-state harness, in the manner of CrashMonkey's ACE
 * (Automatic Crash Explorer, Mohan et al., OSDI 2018, §5): a small file set
 * is prepared and synced ({@link setupFileSet}); then every sequence of one
 * or two operations from {@link ACE_OPS} runs on it, each followed by one of
 * fsync, fdatasync (of the file it touched, or of the directory for
 * directory operations) or sync ({@link aceWorkloads}); and seeded random
 * workloads of a few hundred operations put persistence points here and
 * there ({@link randomWorkload}). Every workload ends by closing the
 * filesystem (an unmount, itself a persistence point).
 *
 * A workload is named by a string id that rebuilds it exactly
 * ({@link workloadById}): `ace:<op>.<persist>[+<op>.<persist>]` or
 * `random:<seed>:<ops>`.
 *
 * Operations drive the engine API directly (`Vexfs`) and say beforehand
 * what they touch (paths, directories, subtrees, inodes): the oracle lets
 * those differ from the last persistence point when a crash cuts an
 * operation short or comes after it.
 * @module
 */
import { IFL_COLL_ROOT, ROOT_INO, S_IFDIR, S_IFMT } from "../format/constants.ts";
import type { Vexfs } from "../fs/fs.ts";
import { rng } from "../test_random.ts";
import type { Metric } from "../vector/types.ts";
import type { Touched } from "./oracle.ts";

/** How a step makes things durable. */
export type Persist = "fsync" | "fdatasync" | "sync";

/** What a workload can ask of the harness ({@link Driver} in harness.ts implements it). */
export interface WorkloadDriver {
  readonly fs: Vexfs;
  /**
   * Runs one operation: notes where it starts in the device log and what it
   * touches, then runs `fn`. An FsError from `fn` is recorded (the operation
   * changed nothing, as the engine promises) and `undefined` returned.
   */
  op<T>(name: string, touched: Touched, fn: () => T): T | undefined;
  /** fsync/fdatasync of `ino` (or sync); records the persistence point after it returned. */
  persist(how: Persist, ino: number): void;
  /** Closes the filesystem (an unmount: everything written back, superblock clean); a persistence point like sync. */
  unmount(): void;
  /** Tells the oracle that inode `ino` was created by the current operation. */
  created(ino: number): void;
  /** Inodes held open by the workload (e.g. unlinked while open); released at the end. */
  readonly openFiles: Set<number>;
}

/** One named operation with its arguments; `run` returns the inode a following fsync should target (0: none). */
export interface Op {
  name: string;
  run(d: WorkloadDriver): number;
}

/** A workload: an id that rebuilds it and the steps it runs. */
export interface Workload {
  id: string;
  /** operations this workload runs (for the counts) */
  ops: number;
  run(d: WorkloadDriver): void;
}

// ------------------------------------------------------------------ helpers

/** Deterministic bytes for `tag` (the same tag and length always give the same bytes). */
export function pattern(tag: string, len: number): Uint8Array {
  let h = 2166136261;
  for (let i = 0; i < tag.length; i++) h = Math.imul(h ^ tag.charCodeAt(i), 16777619);
  const r = rng(h);
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = (r() * 256) | 0;
  return out;
}

/** The inode at `path`, or 0 when it does not exist (or cannot be reached). */
export function inoOf(fs: Vexfs, path: string): number {
  try {
    return fs.resolve(path, false);
  } catch {
    return 0;
  }
}

/** Parent directory path and last name of an absolute path. */
export function split(path: string): { dir: string; name: string } {
  const i = path.lastIndexOf("/");
  return { dir: i === 0 ? "/" : path.slice(0, i), name: path.slice(i + 1) };
}

function isDir(fs: Vexfs, ino: number): boolean {
  return ino !== 0 && (fs.getattr(ino).mode & S_IFMT) === S_IFDIR;
}

/** Every inode at or below `ino` (a directory's whole subtree). */
function subtree(fs: Vexfs, ino: number): number[] {
  const out = [ino];
  if (!isDir(fs, ino)) return out;
  for (const e of fs.readdir(ino)) out.push(...subtree(fs, e.ino));
  return out;
}

// ------------------------------------------------------------------ operations

/** create(2) of an empty regular file. */
export function opCreate(path: string): Op {
  return {
    name: `create ${path}`,
    run(d) {
      const { dir, name } = split(path);
      const ino = d.op(this.name, { paths: [path], dirs: [dir] }, () => d.fs.create(inoOf(d.fs, dir), name, 0o644));
      if (ino) d.created(ino);
      return ino ?? inoOf(d.fs, dir);
    },
  };
}

/** pwrite(2) of `len` pattern bytes at `offset`. */
export function opWrite(path: string, offset: number, len: number, tag: string, verb = "write"): Op {
  return {
    name: `${verb} ${path} ${offset}+${len}`,
    run(d) {
      const ino = inoOf(d.fs, path);
      d.op(this.name, { inos: [ino] }, () => d.fs.write(ino, offset, pattern(tag, len)));
      return ino;
    },
  };
}

/** Appends `len` pattern bytes at the end of the file. */
export function opAppend(path: string, len: number, tag: string): Op {
  return {
    name: `append ${path} +${len}`,
    run(d) {
      const ino = inoOf(d.fs, path);
      d.op(this.name, { inos: [ino] }, () => d.fs.write(ino, d.fs.getattr(ino).size, pattern(tag, len)));
      return ino;
    },
  };
}

/** truncate(2) to `size` bytes (shrink or grow). */
export function opTruncate(path: string, size: number): Op {
  return {
    name: `truncate ${path} ${size}`,
    run(d) {
      const ino = inoOf(d.fs, path);
      d.op(this.name, { inos: [ino] }, () => d.fs.truncate(ino, size));
      return ino;
    },
  };
}

/** fallocate(2): mode 0 (allocate, may extend), 1 (KEEP_SIZE) or 3 (PUNCH_HOLE|KEEP_SIZE). */
export function opFallocate(path: string, mode: number, offset: number, len: number): Op {
  return {
    name: `fallocate ${path} mode ${mode} ${offset}+${len}`,
    run(d) {
      const ino = inoOf(d.fs, path);
      d.op(this.name, { inos: [ino] }, () => d.fs.fallocate(ino, mode, offset, len));
      return ino;
    },
  };
}

/** rename(2) `from` to `to` (replacing `to` if it exists; moving a file between collections moves or drops its vector). */
export function opRename(from: string, to: string): Op {
  return {
    name: `rename ${from} ${to}`,
    run(d) {
      const fs = d.fs;
      const a = split(from), b = split(to);
      const src = inoOf(fs, from), dst = inoOf(fs, to);
      const inos = [...(src ? subtree(fs, src) : []), ...(dst ? [dst] : [])];
      d.op(
        this.name,
        { paths: [from, to], dirs: [a.dir, b.dir], trees: [from, to], inos },
        () => fs.rename(inoOf(fs, a.dir), a.name, inoOf(fs, b.dir), b.name),
      );
      return src && inoOf(fs, to) === src && !isDir(fs, src) ? src : inoOf(fs, b.dir);
    },
  };
}

/** link(2): a new name `to` for the file at `from`. */
export function opLink(from: string, to: string): Op {
  return {
    name: `link ${from} ${to}`,
    run(d) {
      const ino = inoOf(d.fs, from);
      const b = split(to);
      d.op(this.name, { paths: [to], dirs: [b.dir], inos: [ino] }, () => d.fs.link(ino, inoOf(d.fs, b.dir), b.name));
      return ino;
    },
  };
}

/** unlink(2); with `keepOpen` the file is opened first and stays open (an orphan until released). */
export function opUnlink(path: string, keepOpen: boolean): Op {
  return {
    name: `unlink${keepOpen ? " open" : ""} ${path}`,
    run(d) {
      const ino = inoOf(d.fs, path);
      const { dir, name } = split(path);
      if (keepOpen && ino && !d.openFiles.has(ino)) {
        d.fs.openInode(ino);
        d.openFiles.add(ino);
      }
      d.op(this.name, { paths: [path], dirs: [dir], inos: [ino] }, () => d.fs.unlink(inoOf(d.fs, dir), name));
      return keepOpen && d.openFiles.has(ino) ? ino : inoOf(d.fs, dir);
    },
  };
}

/** mkdir(2). */
export function opMkdir(path: string): Op {
  return {
    name: `mkdir ${path}`,
    run(d) {
      const { dir, name } = split(path);
      const ino = d.op(this.name, { paths: [path], dirs: [dir, path] }, () => d.fs.mkdir(inoOf(d.fs, dir), name));
      if (ino) d.created(ino);
      return ino ?? inoOf(d.fs, dir);
    },
  };
}

/** rmdir(2). */
export function opRmdir(path: string): Op {
  return {
    name: `rmdir ${path}`,
    run(d) {
      const { dir, name } = split(path);
      const ino = inoOf(d.fs, path);
      d.op(
        this.name,
        { paths: [path], dirs: [dir], trees: [path], inos: [ino] },
        () => d.fs.rmdir(inoOf(d.fs, dir), name),
      );
      return inoOf(d.fs, dir);
    },
  };
}

/** setxattr(2) of `name` to `len` pattern bytes. */
export function opSetxattr(path: string, name: string, len: number, tag: string): Op {
  return {
    name: `setxattr ${path} ${name} ${len}`,
    run(d) {
      const ino = inoOf(d.fs, path);
      d.op(this.name, { inos: [ino] }, () => d.fs.setxattr(ino, name, pattern(tag, len)));
      return ino;
    },
  };
}

/** removexattr(2) of `name` (ENODATA, recorded as a failed operation, when it is absent). */
export function opRemovexattr(path: string, name: string): Op {
  return {
    name: `removexattr ${path} ${name}`,
    run(d) {
      const ino = inoOf(d.fs, path);
      d.op(this.name, { inos: [ino] }, () => d.fs.removexattr(ino, name));
      return ino;
    },
  };
}

/** Makes directory `path` a collection root (`vexfs collection create`). */
export function opCreateCollection(path: string, dim: number, metric: Metric): Op {
  return {
    name: `collection create ${path} ${dim} ${metric}`,
    run(d) {
      const ino = inoOf(d.fs, path);
      d.op(this.name, { inos: [ino] }, () => d.fs.collections.create(ino, { dim, metric, elem: "f32" }));
      return ino;
    },
  };
}

/** Sets (or replaces) the vector of file `path`. */
export function opSetVector(path: string, values: number[]): Op {
  return {
    name: `vector set ${path} [${values.join(",")}]`,
    run(d) {
      const ino = inoOf(d.fs, path);
      d.op(this.name, { inos: [ino] }, () => d.fs.collections.setVector(ino, new Float32Array(values)));
      return ino;
    },
  };
}

/** Deletes the vector of file `path` (the collection's last slot moves into its place). */
export function opDeleteVector(path: string): Op {
  return {
    name: `vector delete ${path}`,
    run(d) {
      const ino = inoOf(d.fs, path);
      d.op(this.name, { inos: [ino] }, () => d.fs.collections.deleteVector(ino));
      return ino;
    },
  };
}

// ------------------------------------------------------------------ the ACE file set and operations

/**
 * Prepares the ACE file set on an open filesystem (the caller syncs or
 * closes it):
 *
 * ```
 * /foo  4000 B, xattr user.a    /bar  1500 B
 * /A/   /A/foo 3000 B  /A/bar 5000 B
 * /B/   (empty)
 * /C/   collection 4-d l2 f32: /C/x, /C/y (vectors), /C/z 100 B (none)
 * /D/   collection 4-d cosine f32: /D/w (vector)
 * ```
 */
export function setupFileSet(fs: Vexfs): void {
  const file = (dir: number, name: string, len: number) => {
    const ino = fs.create(dir, name, 0o644);
    if (len) fs.write(ino, 0, pattern(`setup ${name} ${dir}`, len));
    return ino;
  };
  const foo = file(ROOT_INO, "foo", 4000);
  fs.setxattr(foo, "user.a", pattern("xattr a", 20));
  file(ROOT_INO, "bar", 1500);
  const a = fs.mkdir(ROOT_INO, "A");
  file(a, "foo", 3000);
  file(a, "bar", 5000);
  fs.mkdir(ROOT_INO, "B");
  const c = fs.mkdir(ROOT_INO, "C");
  fs.collections.create(c, { dim: 4, metric: "l2", elem: "f32" });
  fs.collections.setVector(file(c, "x", 700), new Float32Array([1, 0, 0, 1]));
  fs.collections.setVector(file(c, "y", 0), new Float32Array([0, 2, 0, -1]));
  file(c, "z", 100);
  const dd = fs.mkdir(ROOT_INO, "D");
  fs.collections.create(dd, { dim: 4, metric: "cosine", elem: "f32" });
  fs.collections.setVector(file(dd, "w", 50), new Float32Array([0.5, 0.5, 0.5, 0.5]));
}

/**
 * The operations ACE combines, by short name, on the file set of
 * {@link setupFileSet}: each kind of the list with one or two
 * argument choices.
 */
export const ACE_OPS: Readonly<Record<string, Op>> = {
  "create": opCreate("/A/new"),
  "create-coll": opCreate("/C/new"),
  "write": opWrite("/foo", 1024, 2048, "w1"),
  "write-grow": opWrite("/bar", 1000, 3000, "w2"),
  "append": opAppend("/A/foo", 2500, "ap"),
  "truncate-shrink": opTruncate("/foo", 700),
  "truncate-grow": opTruncate("/bar", 9000),
  "fallocate": opFallocate("/bar", 0, 1000, 8000),
  "fallocate-keep": opFallocate("/A/bar", 1, 4000, 6000),
  "punch": opFallocate("/foo", 3, 1000, 2100),
  "rename-over": opRename("/A/foo", "/bar"),
  "rename-over-vec": opRename("/C/x", "/C/y"),
  "link": opLink("/foo", "/B/foo2"),
  "unlink-open": opUnlink("/bar", true),
  "mkdir": opMkdir("/B/sub"),
  "rmdir": opRmdir("/B"),
  "setxattr": opSetxattr("/A/foo", "user.k", 100, "x1"),
  "setxattr-replace": opSetxattr("/foo", "user.a", 300, "x2"),
  // a 64 KiB value: /foo's attributes move from their block to an xattr store (FORMAT.md §7.3)
  "setxattr-big": opSetxattr("/foo", "user.big", 65536, "xb"),
  "removexattr": opRemovexattr("/foo", "user.a"),
  "create-collection": opCreateCollection("/B", 4, "ip"),
  "set-vector": opSetVector("/C/z", [3, 1, 4, 1]),
  "replace-vector": opSetVector("/C/x", [-1, 0.5, 2, 0]),
  "delete-vector": opDeleteVector("/C/x"),
  "move-coll": opRename("/C/y", "/D/y"),
  "move-out": opRename("/C/x", "/A/x"),
};

/**
 * One operation of each kind of issue 7 §4's list (truncate twice: shrink and
 * grow), the set {@link aceWorkloads} combines in pairs.
 */
export const ACE_PAIR_OPS: readonly string[] = [
  "create",
  "write",
  "append",
  "truncate-shrink",
  "truncate-grow",
  "fallocate",
  "rename-over",
  "link",
  "unlink-open",
  "mkdir",
  "rmdir",
  "setxattr",
  "create-collection",
  "set-vector",
  "delete-vector",
  "move-coll",
];

/** The persistence kinds ACE puts after each operation. */
export const PERSISTS: readonly Persist[] = ["fsync", "fdatasync", "sync"];

/** Closes the filesystem as the last step of every workload (an unmount: everything written back, superblock clean). */
function finish(d: WorkloadDriver): void {
  for (const ino of [...d.openFiles]) {
    d.op(`release ${ino}`, { inos: [ino] }, () => d.fs.release(ino));
    d.openFiles.delete(ino);
  }
  d.unmount();
}

function aceWorkload(steps: [string, Persist][]): Workload {
  for (const [op, p] of steps) {
    if (!ACE_OPS[op] || !PERSISTS.includes(p)) throw new Error(`unknown ACE step ${op}.${p}`);
  }
  return {
    id: "ace:" + steps.map(([o, p]) => `${o}.${p}`).join("+"),
    ops: steps.length,
    run(d) {
      for (const [op, p] of steps) {
        const target = ACE_OPS[op].run(d);
        d.persist(p, p === "sync" ? 0 : target);
      }
      finish(d);
    },
  };
}

/**
 * ACE workloads in a fixed order: with `length` 1 every operation of
 * {@link ACE_OPS}, with 2 every pair from {@link ACE_PAIR_OPS}, each
 * operation followed by each of {@link PERSISTS}. Keeps those whose index
 * modulo `of` is `part` (to split the list between test cases).
 */
export function aceWorkloads(length: 1 | 2, part = 0, of = 1): Workload[] {
  const ops = length === 1 ? Object.keys(ACE_OPS) : ACE_PAIR_OPS;
  const steps: [string, Persist][] = ops.flatMap((o) => PERSISTS.map((p) => [o, p] as [string, Persist]));
  const out: Workload[] = [];
  let i = 0;
  for (const s1 of steps) {
    if (length === 1) {
      if (i++ % of === part) out.push(aceWorkload([s1]));
      continue;
    }
    for (const s2 of steps) if (i++ % of === part) out.push(aceWorkload([s1, s2]));
  }
  return out;
}

/**
 * A seeded random workload of `count` operations on the ACE file set: files
 * and directories are created, written, truncated, fallocated, renamed
 * (also across collections), linked, unlinked (some while open), given
 * xattrs and vectors; after each operation a persistence point follows with
 * probability 1/12 (fsync, fdatasync or sync). Sizes stay small so that a
 * 4 MiB image (with its journal) never fills up.
 */
export function randomWorkload(seed: number, count: number): Workload {
  return {
    id: `random:${seed}:${count}`,
    ops: count,
    run(d) {
      const r = rng(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
      const fs = d.fs;
      const dirs = ["/", "/A", "/B", "/C", "/D"];
      let serial = 0;
      const files = () => {
        const out: string[] = [];
        const walk = (p: string, ino: number) => {
          for (const e of fs.readdir(ino)) {
            const q = p === "/" ? `/${e.name}` : `${p}/${e.name}`;
            if (e.type === 2) walk(q, e.ino);
            else out.push(q);
          }
        };
        walk("/", ROOT_INO);
        return out.sort();
      };
      const live = () => {
        const out: string[] = [];
        const walk = (p: string, ino: number) => {
          out.push(p);
          for (const e of fs.readdir(ino)) if (e.type === 2) walk(p === "/" ? `/${e.name}` : `${p}/${e.name}`, e.ino);
        };
        walk("/", ROOT_INO);
        return out.sort();
      };
      const vec = () => Array.from({ length: 4 }, () => Math.round((r() * 4 - 2) * 8) / 8);
      const join = (dir: string, name: string) => dir === "/" ? `/${name}` : `${dir}/${name}`;
      for (let i = 0; i < count; i++) {
        const fl = files();
        const ds = live().filter((p) => dirs.includes(p) || /\/d\d+$/.test(p));
        const colls = ds.filter((p) => fs.getattr(inoOf(fs, p)).flags & IFL_COLL_ROOT);
        const inColl = fl.filter((p) => colls.some((c) => p.startsWith(c + "/")));
        const f = fl.length ? pick(fl) : "/foo";
        const k = r();
        let op: Op;
        if (fl.length < 6 || k < 0.12) op = opCreate(join(pick(ds), `f${serial++}`));
        else if (k < 0.30) {
          const size = fs.getattr(inoOf(fs, f)).size;
          op = opWrite(f, Math.floor(r() * Math.min(size + 1, 12000)), 1 + Math.floor(r() * 4000), `r${seed}.${i}`);
        } else if (k < 0.38) op = opAppend(f, 1 + Math.floor(r() * 3000), `r${seed}.${i}`);
        else if (k < 0.44) op = opTruncate(f, Math.floor(r() * 14000));
        else if (k < 0.48) op = opFallocate(f, pick([0, 1, 3]), Math.floor(r() * 8000), 1 + Math.floor(r() * 6000));
        else if (k < 0.55) op = opRename(f, r() < 0.5 ? pick(fl) : join(pick(ds), `f${serial++}`));
        else if (k < 0.58) op = opLink(f, join(pick(ds), `l${serial++}`));
        else if (k < 0.64) op = opUnlink(f, r() < 0.4);
        else if (k < 0.67) op = opMkdir(join(pick(ds), `d${serial++}`));
        else if (k < 0.69) {
          const mine = ds.filter((p) => /\/d\d+$/.test(p));
          const empty = mine.filter((p) => fs.dirSize(inoOf(fs, p)) === 0);
          if (empty.length && r() < 0.5) op = opRmdir(pick(empty));
          else if (mine.length) op = opRename(pick(mine), join(pick(ds), `d${serial++}`));
          else op = opMkdir(join("/A", `d${serial++}`));
        } else if (k < 0.76) {
          // small values stay in the xattr block; large ones (to 64 KiB) move the file's attributes to a store
          const name = pick(["user.a", "user.b", "user.c", "user.d", "trusted.e"]);
          const q = r();
          if (q < 0.15) op = opRemovexattr(f, name);
          else {
            const len = q < 0.4 ? 3000 + Math.floor(r() * 62537) : Math.floor(r() * 200);
            op = opSetxattr(f, name, len, `x${seed}.${i}`);
          }
        } else if (k < 0.88) {
          op = inColl.length ? opSetVector(pick(inColl), vec()) : opCreate(join(pick([...colls, "/"]), `f${serial++}`));
        } else if (k < 0.93) {
          op = opDeleteVector(inColl.length ? pick(inColl) : f);
        } else if (k < 0.97) {
          op = opRename(inColl.length ? pick(inColl) : f, join(pick([...colls, "/A", "/"]), `m${serial++}`));
        } else {
          const plain = ds.filter((p) => /\/d\d+$/.test(p) && !colls.some((c) => p.startsWith(c + "/")));
          op = plain.length
            ? opCreateCollection(pick(plain), 4, pick(["l2", "ip", "cosine"] as Metric[]))
            : opMkdir(join("/B", `d${serial++}`));
        }
        const target = op.run(d);
        if (r() < 1 / 12) {
          const p = pick(PERSISTS);
          d.persist(p, p === "sync" ? 0 : target);
        }
      }
      finish(d);
    },
  };
}

/**
 * Rebuilds a workload from its id.
 * @throws Error for an id that names no workload
 */
export function workloadById(id: string): Workload {
  if (id.startsWith("ace:")) {
    return aceWorkload(
      id.slice(4).split("+").map((s) => {
        const [o, p] = s.split(".");
        return [o, p as Persist];
      }),
    );
  }
  const m = /^random:(\d+):(\d+)$/.exec(id);
  if (m) return randomWorkload(Number(m[1]), Number(m[2]));
  throw new Error(`unknown workload id '${id}' (use ace:<op>.<persist>[+...] or random:<seed>:<ops>)`);
}
