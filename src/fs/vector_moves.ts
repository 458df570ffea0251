/**
 * Vectors of files that change collection by a rename (docs/FORMAT.md
 * §8.4): they move to the new collection when it has the same dim and
 * element type, else they are deleted.
 * @module
 */
import { IFL_COLL_ROOT, IFL_HAS_VECTOR, S_IFDIR, S_IFMT } from "../format/constants.ts";
import type { InodeState, Vexfs } from "./fs.ts";
import type { Collections } from "./vectors.ts";

/**
 * Applies FORMAT.md §8.4 after `n` moved from `oldDir` to `newDir` (see
 * {@linkcode Collections.afterMove}).
 */
export function moveVectorsAfter(c: Collections, fs: Vexfs, n: InodeState, oldDir: number, newDir: number): void {
  if (oldDir === newDir) return;
  if (n.d.flags & IFL_COLL_ROOT) return;
  const to = c.collectionOfDir(newDir);
  const isDir = (n.d.mode & S_IFMT) === S_IFDIR;
  if (!isDir) {
    if ((n.d.flags & IFL_HAS_VECTOR) && n.d.collId !== to) {
      moveVector(c, fs, n.ino, to);
    }
    return;
  }
  if (c.collectionOfDir(oldDir) === to) return;
  const stack = [n.ino];
  while (stack.length) {
    const d = stack.pop()!;
    for (const e of fs.readdir(d)) {
      if (e.type === 2) stack.push(e.ino);
      else if (e.type === 1) {
        const f = fs.iget(e.ino);
        if ((f.d.flags & IFL_HAS_VECTOR) && f.d.collId !== to) {
          moveVector(c, fs, e.ino, to);
        }
      }
    }
  }
}

/** Moves the vector of file `ino` to collection `to` (0: none), or deletes it. */
function moveVector(c: Collections, fs: Vexfs, ino: number, to: number): void {
  const n = fs.iget(ino);
  const from = c.record(n.d.collId)!;
  const target = to ? c.record(to) : undefined;
  if (
    target && target.dim === from.dim && target.elemType === from.elemType
  ) {
    const v = c.getVector(ino)!;
    c.deleteVector(ino);
    c.setVector(ino, v);
  } else c.deleteVector(ino);
}
