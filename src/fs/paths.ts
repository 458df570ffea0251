/**
 * Paths: resolving an absolute path inside the filesystem to an inode
 * (following symlinks) and finding the path of an inode from its parent
 * pointer (docs/FORMAT.md §5.3), or by a tree search when a hard link's
 * pointer was cleared. Part of the {@link Vexfs} engine: every function
 * takes the engine first and uses only its public methods.
 * @module
 */
import { FsError } from "../errors.ts";
import { ROOT_INO, S_IFLNK, S_IFMT } from "../format/constants.ts";
import { dirBlocks, dirInode } from "./dir.ts";
import { dirFindByIno } from "./htree.ts";
import type { Vexfs } from "./fs.ts";

const dec = new TextDecoder();

/** What {@link Vexfs.resolve} does (its documentation says how). */
export function resolvePath(fs: Vexfs, path: string, follow: boolean, hops: number): number {
  let ino = ROOT_INO;
  const parts = path.split("/").filter((p) => p.length > 0 && p !== ".");
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    const cur = ino;
    ino = fs.lookup(cur, p);
    const n = fs.iget(ino);
    if ((n.d.mode & S_IFMT) === S_IFLNK && (follow || i < parts.length - 1)) {
      if (++hops > 40) {
        throw new FsError("ELOOP", `too many symlinks in '${path}'`);
      }
      const target = dec.decode(fs.readlink(ino));
      const rest = parts.slice(i + 1).join("/");
      const base = target.startsWith("/") ? target : `${fs.pathOf(cur)}/${target}`;
      return fs.resolve(`${base}/${rest}`, follow, hops);
    }
  }
  return ino;
}

/** What {@link Vexfs.resolveParent} does (its documentation says how). */
export function resolveParent(fs: Vexfs, path: string): { dir: number; name: string } {
  const parts = path.split("/").filter((p) => p.length > 0);
  if (parts.length === 0) {
    throw new FsError("EINVAL", "the root has no parent");
  }
  const name = parts.pop()!;
  return { dir: fs.resolve("/" + parts.join("/")), name };
}

/** What {@link Vexfs.pathOf} does (its documentation says how), inside its operation. */
export function pathOf(fs: Vexfs, ino: number): string {
  const names: string[] = [];
  let cur = ino;
  for (let guard = 0; cur !== ROOT_INO; guard++) {
    if (guard > 4096) {
      throw new FsError(
        "ELOOP",
        `parent chain of inode ${ino} does not reach the root`,
      );
    }
    const n = fs.iget(cur);
    if (!n.d.parentIno) return searchPath(fs, ino);
    const p = dirInode(fs, n.d.parentIno);
    const e = dirFindByIno(dirBlocks(fs, p), n.d.parentHash, cur);
    if (!e) return searchPath(fs, ino);
    names.push(dec.decode(e.name));
    cur = n.d.parentIno;
  }
  return "/" + names.reverse().join("/");
}

/**
 * The path of `ino` found by a breadth-first search from the root.
 * @throws FsError ENOENT if no directory links it
 */
function searchPath(fs: Vexfs, ino: number): string {
  const queue: [number, string][] = [[ROOT_INO, ""]];
  while (queue.length) {
    const [d, p] = queue.shift()!;
    for (const e of fs.readdir(d)) {
      const path = `${p}/${e.name}`;
      if (e.ino === ino) return path;
      if (e.type === 2) queue.push([e.ino, path]);
    }
  }
  throw new FsError("ENOENT", `inode ${ino} is not linked anywhere`);
}
