/**
 * The documents of a collection's text index (design issue 12 §3.2, §4.1,
 * §1.5): which regular files belong to a collection (the `parent_ino`
 * rule), how one file becomes a document record with its term counts
 * (skipped when larger than `max_file` or binary), and the catch-up
 * comparison of a tree with an index's doc table.
 * @module
 */
import { crc32c } from "../format/crc.ts";
import { IFL_INTERNAL, S_IFDIR, S_IFMT, S_IFREG } from "../format/constants.ts";
import { DOC_BINARY, DOC_LARGE, type DocEntry, type DocInput } from "../bm25/layout.ts";
import type { Analyzer } from "../text/analyzer.ts";
import { decodeText } from "../text/binary.ts";
import type { Vexfs } from "./fs.ts";

/** A document with what the header counts and the doc table does not keep. */
export interface TokenizedDoc {
  doc: DocInput;
  /** tokens dropped for being longer than 64 bytes */
  longTokens: number;
}

/**
 * The document record of regular file `ino` as it is now: its content read
 * (unless larger than `maxFile` bytes: then skipped by size without a
 * read), classified (binary: no postings) and tokenized with `analyzer`.
 * @throws FsError ENOENT when the inode is gone, EIO/EUCLEAN from the read
 */
export function tokenizeFile(fs: Vexfs, ino: number, analyzer: Analyzer, maxFile: number): TokenizedDoc {
  const n = fs.iget(ino);
  const size = n.d.size;
  const base = {
    ino,
    igen: n.d.generation,
    ctimeSec: n.d.ctime.sec,
    ctimeNsec: n.d.ctime.nsec,
    size,
    dl: 0,
    uniq: 0,
    counts: new Map<string, number>(),
  };
  if (size > maxFile) return { doc: { ...base, crc: 0, flags: DOC_LARGE }, longTokens: 0 };
  const bytes = size ? fs.read(ino, 0, size) : new Uint8Array(0);
  const crc = crc32c(bytes);
  const text = decodeText(bytes);
  if (text === null) return { doc: { ...base, crc, flags: DOC_BINARY }, longTokens: 0 };
  const t = analyzer.document(text);
  return {
    doc: { ...base, crc, flags: 0, dl: t.dl, uniq: t.counts.size, counts: t.counts },
    longTokens: t.longTokens,
  };
}

/**
 * Regular files below directory `root` (collections do not nest, so the walk
 * skips nothing) for which `member(ino)` holds, ascending, each once (a file
 * linked twice in the tree is one document).
 */
export function memberFiles(fs: Vexfs, root: number, member: (ino: number) => boolean): number[] {
  const seen = new Set<number>();
  const stack = [root];
  while (stack.length) {
    const d = stack.pop()!;
    for (const e of fs.readdir(d)) {
      if (e.type === 2) stack.push(e.ino);
      else if (e.type === 1 && !seen.has(e.ino)) {
        seen.add(e.ino);
      }
    }
  }
  return [...seen].filter(member).sort((a, b) => a - b);
}

/** True when inode `ino` is a regular user file that could be a document (not internal, linked). */
export function isDocCandidate(fs: Vexfs, ino: number): boolean {
  let n;
  try {
    n = fs.iget(ino);
  } catch {
    return false;
  }
  return (n.d.mode & S_IFMT) === S_IFREG && !(n.d.flags & IFL_INTERNAL) && n.d.nlink > 0;
}

/** True when inode `ino` is a directory. */
export function isDir(fs: Vexfs, ino: number): boolean {
  return (fs.iget(ino).d.mode & S_IFMT) === S_IFDIR;
}

/**
 * The catch-up of design §1.5: the files of the tree (`files`, ascending)
 * against the live documents `docs` of an index. A file is different when
 * it is new, when its igen or size differ from its record, or when they
 * match and its content CRC does not; a record without a file is gone.
 * ctime is not compared: it is racy with a coarse clock (git's "racy"
 * problem) and changes without the text (chmod, a vector set, a rename), so
 * the CRC decides. Files skipped as larger than `maxFile` are compared by
 * size only (they are never read).
 * @returns the inodes to re-tokenize or tombstone
 */
export function differing(fs: Vexfs, files: number[], docs: DocEntry[], maxFile: number): number[] {
  const byIno = new Map<number, DocEntry>();
  for (const d of docs) byIno.set(d.ino, d);
  const out: number[] = [];
  const inTree = new Set(files);
  for (const ino of files) {
    const d = byIno.get(ino);
    const n = fs.iget(ino);
    if (!d || d.igen !== n.d.generation || d.size !== n.d.size) {
      out.push(ino);
      continue;
    }
    const large = n.d.size > maxFile;
    if (large !== ((d.flags & DOC_LARGE) !== 0)) {
      out.push(ino);
      continue;
    }
    if (large) continue;
    const bytes = n.d.size ? fs.read(ino, 0, n.d.size) : new Uint8Array(0);
    if (crc32c(bytes) !== d.crc) out.push(ino);
  }
  for (const d of docs) if (!inTree.has(d.ino)) out.push(d.ino);
  return out.sort((a, b) => a - b);
}
