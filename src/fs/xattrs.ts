/**
 * Extended attributes of the VexFS engine (docs/FORMAT.md §7): an inode's
 * attributes live in one xattr block (§7.1) while they fit, then in an xattr
 * store (§7.2), an internal file of entry blocks and value runs, as §7.3
 * says. The store's blocks are internal-file blocks, so every change joins
 * the running journal transaction with the owner's inode: one attribute
 * change is atomic across a crash.
 *
 * Limits and errors are Linux's (`fs/xattr.c`): a full name longer than 255
 * bytes ERANGE, a value longer than 65,536 bytes E2BIG, `XATTR_CREATE` on an
 * existing name EEXIST, `XATTR_REPLACE` (or a removal) of a missing one
 * ENODATA, and ENOSPC when the name list would pass 65,504 bytes (64 KiB
 * less room for `user.vexfs.vector`) or space runs out, changing nothing.
 * @module
 */
import { isDataRun } from "../format/superblock.ts";
import { FsError } from "../errors.ts";
import {
  EXT_UNWRITTEN,
  IFL_INTERNAL,
  IFL_XATTR_IN_STORE,
  IFL_XATTR_STORE,
  INCOMPAT_XATTR_STORE,
  S_IFREG,
  XATTR_LIST_MAX,
  XATTR_LIST_RESERVED,
  XATTR_SIZE_MAX,
  XATTR_VALUE_BASE,
} from "../format/constants.ts";
import { nowTimespec } from "../format/inode.ts";
import { decodeXattrBlock, encodeXattrBlock, joinXattrName, splitXattrName, xattrListBytes } from "../format/xattr.ts";
import {
  decodeEntryBlock,
  decodeValueBlock,
  encodeEntryBlock,
  encodeValueRun,
  entryBlockCapacity,
  type StoreEntry,
  storeEntrySize,
  valueRunLength,
} from "../format/xattr_store.ts";
import type { InodeState, Vexfs } from "./fs.ts";

/** setxattr(2) flag: fail with EEXIST if the attribute exists. */
export const XATTR_CREATE = 1;
/** setxattr(2) flag: fail with ENODATA if the attribute does not exist. */
export const XATTR_REPLACE = 2;
/** Longest full attribute name ("user.foo"), bytes (Linux's XATTR_NAME_MAX). */
export const XATTR_NAME_MAX = 255;
/** Longest list of stored names, bytes: XATTR_LIST_MAX less the room kept for synthesised names. */
export const XATTR_STORED_LIST_MAX = XATTR_LIST_MAX - XATTR_LIST_RESERVED;

/** An inode's attributes as loaded for one operation. */
type Model =
  | { kind: "none" }
  | { kind: "block"; attrs: Map<string, Uint8Array> }
  | { kind: "store"; store: InodeState; blocks: Map<number, StoreEntry[]> };

interface Found {
  block: number;
  index: number;
  entry: StoreEntry;
}

const enc = new TextEncoder();

function sameName(e: StoreEntry, ns: number, name: Uint8Array): boolean {
  if (e.ns !== ns || e.name.length !== name.length) return false;
  for (let i = 0; i < name.length; i++) if (e.name[i] !== name[i]) return false;
  return true;
}

/**
 * The attribute engine of one {@link Vexfs}. Its methods run inside the
 * caller's operation (`Vexfs.op`), which makes each change one transaction.
 */
export class Xattrs {
  readonly #fs: Vexfs;
  /**
   * Decoded entry blocks of recently used stores, by store inode number, in
   * use order. Every change to a store's entry blocks goes through this
   * class, which keeps its copy current, and drops it when a change fails
   * part way.
   */
  readonly #decoded = new Map<number, Map<number, StoreEntry[]>>();
  static readonly #DECODED_MAX = 64;
  /** Loads of a shared store's entries served from the decoded copies (for `vexfs stats`). */
  storeHits = 0;
  /** Loads that decoded a store's entry blocks (for `vexfs stats`). */
  storeMisses = 0;
  /**
   * Called as an inode's attributes change: `(ino, full name)` at a set or
   * a removal (before it, so that one failing part way leaves no stale
   * copy), `(ino, null)` when they are freed with the inode. What caches
   * attribute values (../fs/xattr_filter.ts) listens and forgets them.
   */
  readonly listeners: Set<(ino: number, name: string | null) => void> = new Set();

  constructor(fs: Vexfs) {
    this.#fs = fs;
  }

  /** Value bytes above which a store keeps a value in a value run: `block_size / 16` (FORMAT.md §7.3). */
  get inlineMax(): number {
    return this.#fs.blockSize / 16;
  }

  /** All attributes of `n` by full name ("user.foo"). @throws FsError EUCLEAN on damaged storage */
  list(n: InodeState): Map<string, Uint8Array> {
    const m = this.#load(n);
    if (m.kind === "none") return new Map();
    if (m.kind === "block") return m.attrs;
    const out = new Map<string, Uint8Array>();
    for (const ents of m.blocks.values()) {
      for (const e of ents) out.set(joinXattrName(e.ns, e.name), this.#value(m.store, e).slice());
    }
    return out;
  }

  /** The full names of `n`'s attributes, without reading values stored apart. */
  names(n: InodeState): string[] {
    const m = this.#load(n);
    if (m.kind === "none") return [];
    if (m.kind === "block") return [...m.attrs.keys()];
    const out: string[] = [];
    for (const ents of m.blocks.values()) for (const e of ents) out.push(joinXattrName(e.ns, e.name));
    return out;
  }

  /**
   * One attribute's value, or undefined when `n` has none of that name (or
   * the name cannot exist: no known prefix). Reads only that value.
   */
  get(n: InodeState, full: string): Uint8Array | undefined {
    let ns: number, name: Uint8Array;
    try {
      [ns, name] = splitXattrName(full);
    } catch {
      return undefined;
    }
    const m = this.#load(n);
    if (m.kind === "none") return undefined;
    if (m.kind === "block") return m.attrs.get(full);
    const f = this.#find(m.blocks, ns, name);
    return f ? this.#value(m.store, f.entry).slice() : undefined;
  }

  /**
   * Sets attribute `full` of `n` to `value`; `flags` {@link XATTR_CREATE} or {@link XATTR_REPLACE}.
   * @throws FsError EOPNOTSUPP (unknown namespace), EINVAL (empty name), ERANGE (name over 255 bytes),
   *   E2BIG (value over 65,536 bytes), EEXIST, ENODATA, ENOSPC (list limit, no space, no inode)
   */
  set(n: InodeState, full: string, value: Uint8Array, flags = 0): void {
    this.#changed(n.ino, full); // first: also a change that fails part way leaves no stale copy
    const [ns, name] = splitXattrName(full);
    if (enc.encode(full).length > XATTR_NAME_MAX) {
      throw new FsError("ERANGE", `xattr name '${full.slice(0, 40)}...' is longer than ${XATTR_NAME_MAX} bytes`);
    }
    if (value.length > XATTR_SIZE_MAX) {
      throw new FsError("E2BIG", `xattr value of ${value.length} bytes exceeds ${XATTR_SIZE_MAX} bytes`);
    }
    const m = this.#load(n);
    const found = m.kind === "store" ? this.#find(m.blocks, ns, name) : undefined;
    const exists = m.kind === "block" ? m.attrs.has(full) : found !== undefined;
    if (flags & XATTR_CREATE && exists) throw new FsError("EEXIST", `attribute '${full}' exists`);
    if (flags & XATTR_REPLACE && !exists) throw new FsError("ENODATA", `no attribute '${full}'`);
    if (!exists && this.#listBytes(m) + xattrListBytes(ns, name.length) > XATTR_STORED_LIST_MAX) {
      throw new FsError(
        "ENOSPC",
        `inode ${n.ino}: the attribute names would pass ${XATTR_STORED_LIST_MAX} bytes (listxattr's 64 KiB limit)`,
      );
    }
    if (m.kind === "store") this.#guard(m.store, () => this.#storeSet(m.store, m.blocks, found, { ns, name }, value));
    else {
      const attrs = m.kind === "block" ? m.attrs : new Map<string, Uint8Array>();
      attrs.set(full, value.slice());
      let block: Uint8Array | null = null;
      try {
        block = encodeXattrBlock(attrs, this.#fs.blockSize, n.ino);
      } catch (e) {
        if (!(e instanceof FsError && e.code === "ENOSPC")) throw e;
      }
      if (block) this.#writeBlock(n, block);
      else this.#convert(n, attrs);
    }
    this.#touch(n);
  }

  /** Removes attribute `full` of `n`. @throws FsError ENODATA if absent */
  remove(n: InodeState, full: string): void {
    this.#changed(n.ino, full);
    const [ns, name] = splitXattrName(full);
    const m = this.#load(n);
    if (m.kind === "store") {
      const f = this.#find(m.blocks, ns, name);
      if (!f) throw new FsError("ENODATA", `no attribute '${full}'`);
      this.#guard(m.store, () => {
        const ents = m.blocks.get(f.block)!;
        ents.splice(f.index, 1);
        if (ents.length === 0) m.blocks.delete(f.block);
        if (m.blocks.size === 0) this.#freeStore(n);
        else {
          this.#putEntryBlock(m.store, f.block, ents);
          if (!f.entry.inline) this.#punch(m.store, f.entry.valueBlock, valueRunLength(f.entry.valueLen, this.#bs));
        }
      });
    } else {
      if (m.kind === "none" || !m.attrs.delete(full)) throw new FsError("ENODATA", `no attribute '${full}'`);
      if (m.attrs.size) this.#writeBlock(n, encodeXattrBlock(m.attrs, this.#fs.blockSize, n.ino));
      else {
        this.#fs.bfree(n.d.xattrBlock, 1);
        n.d.xattrBlock = 0;
        n.d.blocks--;
      }
    }
    this.#touch(n);
  }

  /** Frees all of `n`'s attribute storage (its block or its store); for freeing the inode. */
  free(n: InodeState): void {
    this.#changed(n.ino, null);
    if (n.d.flags & IFL_XATTR_IN_STORE) this.#freeStore(n);
    else if (n.d.xattrBlock) {
      this.#fs.bfree(n.d.xattrBlock, 1);
      n.d.xattrBlock = 0;
      n.d.blocks--;
    }
  }

  // ------------------------------------------------------------ internals

  #changed(ino: number, name: string | null): void {
    for (const f of this.listeners) f(ino, name);
  }

  get #bs(): number {
    return this.#fs.blockSize;
  }

  /** Runs a change of `store`, forgetting its decoded copy if the change fails part way. */
  #guard(store: InodeState, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.#decoded.delete(store.ino);
      throw e;
    }
  }

  #touch(n: InodeState): void {
    n.d.ctime = nowTimespec();
    this.#fs.dirty(n);
  }

  #load(n: InodeState): Model {
    const fs = this.#fs;
    if (n.d.flags & IFL_XATTR_IN_STORE) {
      const store = this.#storeOf(n);
      const hit = this.#decoded.get(store.ino);
      if (hit) {
        this.#decoded.delete(store.ino);
        this.#decoded.set(store.ino, hit);
        this.storeHits++;
        return { kind: "store", store, blocks: hit };
      }
      this.storeMisses++;
      const blocks = new Map<number, StoreEntry[]>();
      for (const e of fs.extents(store)) {
        if (e.logical >= XATTR_VALUE_BASE) break;
        if (e.flags & EXT_UNWRITTEN) continue;
        const end = Math.min(e.logical + e.length, XATTR_VALUE_BASE);
        for (let l = e.logical; l < end; l++) {
          blocks.set(l, decodeEntryBlock(fs.cache.get(e.physical + (l - e.logical)), store.ino, l));
        }
      }
      this.#decoded.set(store.ino, blocks);
      if (this.#decoded.size > Xattrs.#DECODED_MAX) this.#decoded.delete(this.#decoded.keys().next().value!);
      return { kind: "store", store, blocks };
    }
    if (!n.d.xattrBlock) return { kind: "none" };
    const b = n.d.xattrBlock;
    if (!isDataRun(fs.sb, b) || !fs.blockMap.test(b)) {
      throw new FsError("EUCLEAN", `inode ${n.ino}: xattr block ${b} is not an allocated data block`);
    }
    return { kind: "block", attrs: decodeXattrBlock(fs.cache.get(b), n.ino) };
  }

  /** The store inode of `n`, checked to be an xattr store owned by `n`. */
  #storeOf(n: InodeState): InodeState {
    const sino = n.d.xattrBlock;
    let store: InodeState;
    try {
      store = this.#fs.iget(sino);
    } catch (e) {
      throw new FsError("EUCLEAN", `inode ${n.ino}: its xattr store ${sino} is unusable (${(e as Error).message})`);
    }
    const want = IFL_INTERNAL | IFL_XATTR_STORE;
    if ((store.d.flags & want) !== want || store.d.parentIno !== n.ino || (store.d.mode & 0o170000) !== S_IFREG) {
      throw new FsError("EUCLEAN", `inode ${n.ino}: inode ${sino} is not its xattr store`);
    }
    return store;
  }

  #find(blocks: Map<number, StoreEntry[]>, ns: number, name: Uint8Array): Found | undefined {
    for (const [block, ents] of blocks) {
      for (let i = 0; i < ents.length; i++) if (sameName(ents[i], ns, name)) return { block, index: i, entry: ents[i] };
    }
    return undefined;
  }

  #listBytes(m: Model): number {
    let total = 0;
    if (m.kind === "block") { for (const k of m.attrs.keys()) total += enc.encode(k).length + 1; }
    else if (m.kind === "store") {
      for (const ents of m.blocks.values()) for (const e of ents) total += xattrListBytes(e.ns, e.name.length);
    }
    return total;
  }

  /** A value of the store: inline, or read from its value run. */
  #value(store: InodeState, e: StoreEntry): Uint8Array {
    if (e.inline) return e.inline;
    const fs = this.#fs;
    const bs = this.#bs;
    const out = new Uint8Array(e.valueLen);
    const n = valueRunLength(e.valueLen, bs);
    let off = 0;
    for (let i = 0; i < n; i++) {
      const l = e.valueBlock + i;
      const p = fs.bmap(store, l);
      if (!p) throw new FsError("EUCLEAN", `inode ${store.ino}: xattr store value block ${l} is not mapped`);
      const data = decodeValueBlock(fs.cache.get(p), store.ino, l, i, e.valueLen);
      out.set(data, off);
      off += data.length;
    }
    return out;
  }

  /** Writes the single xattr block (FORMAT.md §7.1), allocating it if needed. */
  #writeBlock(n: InodeState, block: Uint8Array): void {
    const fs = this.#fs;
    if (!n.d.xattrBlock) {
      n.d.xattrBlock = fs.balloc(fs.blockMap.rotor, 1).start;
      n.d.blocks++;
    }
    fs.cache.put(n.d.xattrBlock, block);
  }

  /** The store entry for a value: inline up to {@link inlineMax} bytes, else in a run at `runAt`. */
  #entry(ns: number, name: Uint8Array, value: Uint8Array, runAt: number): StoreEntry {
    const external = value.length > this.inlineMax;
    return { ns, name, valueLen: value.length, valueBlock: external ? runAt : 0, inline: external ? null : value };
  }

  /**
   * Moves `attrs` (the block's attributes with the change applied) into a
   * new store (FORMAT.md §7.3), setting `XATTR_STORE` on an older image.
   */
  #convert(n: InodeState, attrs: Map<string, Uint8Array>): void {
    const fs = this.#fs;
    const bs = this.#bs;
    const store = fs.ialloc(S_IFREG | 0o600, 0, 0, n.ino, 0, IFL_INTERNAL | IFL_XATTR_STORE);
    try {
      const cap = entryBlockCapacity(bs);
      const blocks: StoreEntry[][] = [[]];
      let used = 0;
      let run = XATTR_VALUE_BASE;
      for (const [full, value] of attrs) {
        const [ns, name] = splitXattrName(full);
        const e = this.#entry(ns, name, value, run);
        if (!e.inline) {
          fs.write(store.ino, run * bs, encodeValueRun(value, bs, store.ino, run));
          run += valueRunLength(value.length, bs);
        }
        const size = storeEntrySize(name.length, e.inline ? e.inline.length : 0);
        if (used + size > cap) {
          blocks.push([]);
          used = 0;
        }
        blocks[blocks.length - 1].push(e);
        used += size;
      }
      for (let l = 0; l < blocks.length; l++) {
        fs.write(store.ino, l * bs, encodeEntryBlock(blocks[l], bs, store.ino, l));
      }
    } catch (e) {
      store.d.nlink = 0;
      fs.forceFree(store.ino);
      throw e;
    }
    if (n.d.xattrBlock) {
      fs.bfree(n.d.xattrBlock, 1);
      n.d.blocks--;
    }
    n.d.flags |= IFL_XATTR_IN_STORE;
    n.d.xattrBlock = store.ino;
    fs.sb.featureIncompat |= INCOMPAT_XATTR_STORE;
  }

  /** Sets (adds or replaces) one attribute in a store (FORMAT.md §7.3). */
  #storeSet(
    store: InodeState,
    blocks: Map<number, StoreEntry[]>,
    old: Found | undefined,
    key: { ns: number; name: Uint8Array },
    value: Uint8Array,
  ): void {
    const fs = this.#fs;
    const bs = this.#bs;
    const external = value.length > this.inlineMax;
    const runLen = external ? valueRunLength(value.length, bs) : 0;
    const runAt = external ? this.#firstHole(store, XATTR_VALUE_BASE, Infinity, runLen) : 0;
    const e = this.#entry(key.ns, key.name, value.slice(), runAt);
    if (external) fs.write(store.ino, runAt * bs, encodeValueRun(value, bs, store.ino, runAt));
    let target: number;
    try {
      if (old) blocks.get(old.block)!.splice(old.index, 1);
      const size = storeEntrySize(key.name.length, e.inline ? e.inline.length : 0);
      const cap = entryBlockCapacity(bs);
      const room = [...blocks].sort((a, b) => a[0] - b[0]).find(([, ents]) =>
        ents.reduce((a, x) => a + storeEntrySize(x.name.length, x.inline ? x.inline.length : 0), 0) + size <= cap
      );
      if (room) target = room[0];
      else {
        target = this.#firstHole(store, 0, XATTR_VALUE_BASE, 1);
        if (target >= XATTR_VALUE_BASE) {
          throw new FsError("ENOSPC", `inode ${store.ino}: the xattr store has no free entry block`);
        }
        blocks.set(target, []);
      }
      blocks.get(target)!.push(e);
      fs.write(store.ino, target * bs, encodeEntryBlock(blocks.get(target)!, bs, store.ino, target));
    } catch (err) {
      if (external) this.#punch(store, runAt, runLen);
      throw err;
    }
    if (old) {
      if (old.block !== target) {
        const ents = blocks.get(old.block)!;
        this.#putEntryBlock(store, old.block, ents);
        if (ents.length === 0) blocks.delete(old.block);
      }
      if (!old.entry.inline) this.#punch(store, old.entry.valueBlock, valueRunLength(old.entry.valueLen, bs));
    }
  }

  /** Rewrites an entry block of a store, or unmaps it when it holds no entry. */
  #putEntryBlock(store: InodeState, l: number, ents: StoreEntry[]): void {
    if (ents.length === 0) this.#punch(store, l, 1);
    else this.#fs.write(store.ino, l * this.#bs, encodeEntryBlock(ents, this.#bs, store.ino, l));
  }

  /** Unmaps (frees) `count` file blocks of the store from `l`. */
  #punch(store: InodeState, l: number, count: number): void {
    this.#fs.fallocate(store.ino, 3, l * this.#bs, count * this.#bs);
  }

  /** Lowest file block ≥ `from` starting `count` unmapped blocks (below `limit`, else `limit` or more). */
  #firstHole(store: InodeState, from: number, limit: number, count: number): number {
    let at = from;
    for (const e of this.#fs.extents(store)) {
      if (e.logical + e.length <= at) continue;
      if (e.logical - at >= count || at >= limit) break;
      at = e.logical + e.length;
    }
    return at;
  }

  /** Frees `n`'s store and clears its reference. */
  #freeStore(n: InodeState): void {
    const store = this.#storeOf(n);
    this.#decoded.delete(store.ino);
    store.d.nlink = 0;
    this.#fs.forceFree(store.ino);
    n.d.flags &= ~IFL_XATTR_IN_STORE;
    n.d.xattrBlock = 0;
  }
}
