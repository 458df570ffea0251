/**
 * The shapes the engine's API ({@linkcode Vexfs} in ./fs.ts) takes and
 * returns: names, stat and setattr fields, directory entries, statfs
 * numbers, open options, and the in-memory state of a loaded inode.
 * @module
 */
import type { Extent } from "../format/extent.ts";
import type { Inode, Timespec } from "../format/inode.ts";

/** A file name: a string (encoded as UTF-8) or raw bytes. */
export type Name = string | Uint8Array;

/** Attributes of an inode, as stat(2) reports them. */
export interface Stat {
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  /** bytes */
  size: number;
  /** 512-byte units allocated, as st_blocks */
  blocks: number;
  /** preferred I/O size in bytes */
  blksize: number;
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;
  crtime: Timespec;
  generation: number;
  /** VexFS inode flags (FORMAT.md §4.1) */
  flags: number;
}

/** Changes for {@link Vexfs.setattr}; absent fields stay as they are. */
export interface SetAttr {
  mode?: number;
  uid?: number;
  gid?: number;
  /** bytes; truncates or extends */
  size?: number;
  atime?: Timespec | "now";
  mtime?: Timespec | "now";
}

/** One directory entry as listed by {@link Vexfs.readdir}. */
export interface DirEntryInfo {
  /** raw name bytes */
  nameBytes: Uint8Array;
  /** name decoded as UTF-8 */
  name: string;
  ino: number;
  /** FORMAT.md §6 file type (1 reg, 2 dir, ...) */
  type: number;
}

/** statfs(2) numbers; counts in blocks of `bsize` bytes or in inodes. */
export interface StatFs {
  bsize: number;
  blocks: number;
  bfree: number;
  /** what file data can still use: `bfree` less the one block every allocation keeps in reserve */
  bavail: number;
  files: number;
  ffree: number;
  namelen: number;
}

/** Options for {@link Vexfs.open}. */
export interface OpenOptions {
  /** open read-only: nothing is written, not even the superblock state */
  readOnly?: boolean;
  /** open even if the superblock says the filesystem has errors or is dirty (default true) */
  force?: boolean;
  /** called with a warning the engine wants a person to see (journal trouble, a split transaction) */
  onWarning?: (message: string) => void;
  /** what to do on corruption, overriding the superblock's `errors` (FORMAT.md §3.2; the mount option `errors=`) */
  errors?: "continue" | "remount-ro" | "panic";
}

/** In-memory state of a loaded inode. */
export interface InodeState {
  ino: number;
  d: Inode;
  /** sorted extent list (loaded lazily) */
  exts?: Extent[];
  /** blocks of the on-disk extent tree (excluding the root in the inode) */
  treeBlocks?: number[];
  /**
   * The same blocks by level, leaves first, each level in key order, when
   * the tree has the canonical shape the engine writes (every node full but
   * the last of its level): then a change rewrites only the nodes from the
   * one holding the first changed extent on (one leaf and the path above it
   * for an append). Undefined when unknown, so the next change rewrites the
   * whole tree in that shape.
   */
  treeLevels?: number[][];
  dirty: boolean;
}
