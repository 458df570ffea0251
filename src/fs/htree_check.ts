/**
 * The fsck check of a directory hash tree (docs/FORMAT.md §6): every
 * invariant of its index and leaf blocks and entries, reported as
 * sentences, never thrown.
 * @module
 */
import { dirHash } from "../format/hash.ts";
import {
  blockCrc,
  DE_HDR,
  type DirBlocks,
  DIRL_MAGIC,
  DIRX_MAGIC,
  entrySize,
  hex,
  IDX_ENT,
  IDX_HDR,
  idxLimit,
  LEAF_HDR,
  leafCap,
  MAX_ROOT_LEVEL,
  NAME_MAX,
  TAIL,
  U32,
  viewOf,
} from "./htree_block.ts";
import { getEntryCount } from "./htree_index.ts";
import { cmpBytes, readIno } from "./htree_leaf.ts";
import { nameProblem } from "./htree_name.ts";

/**
 * Verifies every invariant of the directory's hash tree, for fsck: block
 * magics and checksums; index header fields (limit, count ≤ limit, reserved
 * zeros, entry_count 0 outside the root, root level ≤ 2, levels decreasing by
 * one per step, no empty interior block); index entries (entry 0 hash 0,
 * strictly increasing hashes inside the range the parent gives, children
 * inside the directory, no block referenced twice or block 0 referenced);
 * leaves (used within capacity and equal to the packed entries, count);
 * entries (ino ≥ 1, type 1..7, valid name, reserved and padding zero, stored
 * hash equal to the hash recomputed from the name, hash within the index
 * range of the leaf, strict `(hash, name)` order across the whole directory,
 * hence no duplicate names); and root entry_count equal to the real count.
 * Blocks not referenced by the tree are not examined (a failed `append()`
 * during a split can leave such blocks; they are harmless).
 * @returns human-readable problems, `[]` if the directory is clean; never throws
 */
export function dirCheck(d: DirBlocks): string[] {
  const out: string[] = [];
  try {
    new Checker(d, out).run();
  } catch (e) {
    out.push(
      `directory ${d.ino}: check aborted: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  return out;
}

class Checker {
  private nblk = 0;
  private visited = new Set<number>();
  private total = 0;
  private prevHash = -1;
  private prevName: Uint8Array = new Uint8Array(0);
  private readonly bs: number;
  private readonly limit: number;

  constructor(private readonly d: DirBlocks, private readonly out: string[]) {
    this.bs = d.blockSize;
    this.limit = idxLimit(d.blockSize);
  }

  private problem(lblk: number, what: string): void {
    this.out.push(`directory ${this.d.ino} block ${lblk}: ${what}`);
  }

  /** A private copy of block `lblk` with its magic and checksum checked, or null. */
  private load(lblk: number, magic: number, what: string): Uint8Array | null {
    let raw: Uint8Array;
    try {
      raw = this.d.read(lblk);
    } catch (e) {
      this.problem(
        lblk,
        `unreadable: ${e instanceof Error ? e.message : String(e)}`,
      );
      return null;
    }
    if (!(raw instanceof Uint8Array) || raw.length !== this.bs) {
      this.problem(
        lblk,
        `read returned ${raw?.length} bytes, expected ${this.bs}`,
      );
      return null;
    }
    const buf = raw.slice();
    const dv = viewOf(buf);
    const m = dv.getUint32(0, true);
    if (m !== magic) {
      const found = m === DIRX_MAGIC ? "an index block" : m === DIRL_MAGIC ? "a leaf block" : `magic ${hex(m)}`;
      this.problem(lblk, `expected ${what}, found ${found}`);
      return null;
    }
    if (dv.getUint32(this.bs - TAIL, true) !== blockCrc(this.d, buf)) {
      this.problem(lblk, "bad checksum");
    }
    return buf;
  }

  run(): void {
    const d = this.d;
    if (!(this.bs >= 1024 && this.bs <= 65536 && this.bs % 8 === 0)) {
      this.out.push(`directory ${d.ino}: bad block size ${this.bs}`);
      return;
    }
    this.nblk = d.blockCount();
    if (this.nblk < 1) {
      this.out.push(`directory ${d.ino}: has no blocks`);
      return;
    }
    const root = this.load(0, DIRX_MAGIC, "the root index block");
    if (root === null) return;
    this.visited.add(0);
    const dv = viewOf(root);
    const level = dv.getUint16(4, true);
    const count = this.indexHeader(0, dv);
    if (level > MAX_ROOT_LEVEL) {
      this.problem(0, `root level ${level} > ${MAX_ROOT_LEVEL}`);
      return;
    }
    if (count === 0 && level !== 0) {
      this.problem(0, `empty root at level ${level}`);
    }
    this.walkIndex(0, dv, level, count, 0, U32);
    const claimed = getEntryCount(dv);
    if (claimed !== this.total) {
      this.problem(
        0,
        `entry_count ${claimed}, but the tree holds ${this.total} entries`,
      );
    }
  }

  /** Checks header fields common to index blocks; returns the usable count. */
  private indexHeader(lblk: number, dv: DataView): number {
    const limit = dv.getUint16(8, true);
    if (limit !== this.limit) {
      this.problem(lblk, `index limit ${limit}, expected ${this.limit}`);
    }
    let count = dv.getUint16(6, true);
    if (count > this.limit) {
      this.problem(lblk, `index count ${count} > limit ${this.limit}`);
      count = this.limit;
    }
    if (dv.getUint16(10, true) !== 0 || dv.getUint32(12, true) !== 0) {
      this.problem(lblk, "index header reserved bytes are not zero");
    }
    if (dv.getUint32(24, true) !== 0 || dv.getUint32(28, true) !== 0) {
      this.problem(lblk, "index header reserved bytes are not zero");
    }
    if (lblk !== 0 && getEntryCount(dv) !== 0) {
      this.problem(
        lblk,
        `entry_count ${getEntryCount(dv)} in a non-root index block`,
      );
    }
    return count;
  }

  /** Checks the entries of an index block covering hashes [lo, hi) and everything below. */
  private walkIndex(
    lblk: number,
    dv: DataView,
    level: number,
    count: number,
    lo: number,
    hi: number,
  ): void {
    const hashes: number[] = [];
    for (let i = 0; i < count; i++) {
      hashes.push(dv.getUint32(IDX_HDR + i * IDX_ENT, true));
    }
    for (let i = 0; i < count; i++) {
      const h = hashes[i];
      if (i === 0) {
        if (h !== 0) {
          this.problem(lblk, `index entry 0 has hash ${hex(h)}, expected 0`);
        }
      } else {
        if (h <= hashes[i - 1] && i > 1) {
          this.problem(
            lblk,
            `index entries ${i - 1} and ${i} are not in increasing hash order`,
          );
        }
        if (h <= lo || h >= hi) {
          this.problem(
            lblk,
            `index entry ${i} hash ${hex(h)} outside the covered range [${hex(lo)}, ${hex(hi)})`,
          );
        }
      }
      const elo = i === 0 ? lo : h;
      const ehi = i + 1 < count ? hashes[i + 1] : hi;
      const child = dv.getUint32(IDX_HDR + i * IDX_ENT + 4, true);
      if (child === 0 || child >= this.nblk) {
        this.problem(
          lblk,
          `index entry ${i} points to block ${child} outside the directory (1..${this.nblk - 1})`,
        );
        continue;
      }
      if (this.visited.has(child)) {
        this.problem(
          lblk,
          `index entry ${i} points to block ${child}, which is referenced twice`,
        );
        continue;
      }
      this.visited.add(child);
      if (level > 0) this.checkIndex(child, level - 1, elo, ehi);
      else this.checkLeaf(child, elo, ehi);
    }
  }

  private checkIndex(
    lblk: number,
    level: number,
    lo: number,
    hi: number,
  ): void {
    const buf = this.load(lblk, DIRX_MAGIC, `an index block of level ${level}`);
    if (buf === null) return;
    const dv = viewOf(buf);
    const count = this.indexHeader(lblk, dv);
    const got = dv.getUint16(4, true);
    if (got !== level) {
      this.problem(lblk, `index level ${got}, expected ${level}`);
      return;
    }
    if (count === 0) this.problem(lblk, "empty interior index block");
    this.walkIndex(lblk, dv, level, count, lo, hi);
  }

  private checkLeaf(lblk: number, lo: number, hi: number): void {
    const buf = this.load(lblk, DIRL_MAGIC, "a leaf block");
    if (buf === null) return;
    const dv = viewOf(buf);
    const count = dv.getUint32(4, true);
    let used = dv.getUint32(8, true);
    if (dv.getUint32(12, true) !== 0) {
      this.problem(lblk, "leaf header reserved bytes are not zero");
    }
    const cap = leafCap(this.bs);
    if (used > cap) {
      this.problem(lblk, `leaf used ${used} bytes > capacity ${cap}`);
      used = cap;
    }
    if (used % 8 !== 0) {
      this.problem(lblk, `leaf used ${used} is not a multiple of 8`);
    }
    const end = LEAF_HDR + used;
    let off = LEAF_HDR;
    let i = 0;
    for (; i < count; i++) {
      if (off + DE_HDR > end) {
        this.problem(
          lblk,
          `leaf count ${count} but only ${i} entries fit in ${used} used bytes`,
        );
        break;
      }
      const len = dv.getUint16(off + 12, true);
      if (len < 1 || len > NAME_MAX) {
        this.problem(
          lblk,
          `entry ${i} at offset ${off}: name length ${len} not in 1..${NAME_MAX}`,
        );
        return;
      }
      const size = entrySize(len);
      if (off + size > end) {
        this.problem(
          lblk,
          `entry ${i} at offset ${off} runs past the used bytes`,
        );
        break;
      }
      this.checkEntry(lblk, buf, dv, off, len, i, lo, hi);
      off += size;
    }
    if (i === count && off !== end) {
      this.problem(
        lblk,
        `leaf used ${used} bytes, but its ${count} entries occupy ${off - LEAF_HDR}`,
      );
    }
  }

  private checkEntry(
    lblk: number,
    buf: Uint8Array,
    dv: DataView,
    off: number,
    len: number,
    i: number,
    lo: number,
    hi: number,
  ): void {
    this.total++;
    const where = `entry ${i} at offset ${off}`;
    const name = buf.subarray(off + DE_HDR, off + DE_HDR + len);
    const ino = readIno(dv, off);
    if (ino === 0) this.problem(lblk, `${where}: inode number 0`);
    const type = buf[off + 14];
    if (type < 1 || type > 7) {
      this.problem(lblk, `${where}: file type ${type} not in 1..7`);
    }
    if (buf[off + 15] !== 0) {
      this.problem(lblk, `${where}: reserved byte is not zero`);
    }
    for (let k = off + DE_HDR + len; k < off + entrySize(len); k++) {
      if (buf[k] !== 0) {
        this.problem(lblk, `${where}: name padding is not zero`);
        break;
      }
    }
    const bad = nameProblem(name);
    if (bad !== null) this.problem(lblk, `${where}: invalid name: ${bad}`);
    const h = dv.getUint32(off + 8, true);
    const want = dirHash(name, this.d.hashSeed);
    if (h !== want) {
      this.problem(
        lblk,
        `${where}: stored hash ${hex(h)}, name hashes to ${hex(want)}`,
      );
    }
    if (h < lo || h >= hi) {
      this.problem(
        lblk,
        `${where}: hash ${hex(h)} outside the leaf's range [${hex(lo)}, ${hex(hi)})`,
      );
    }
    const c = h !== this.prevHash ? h - this.prevHash : cmpBytes(name, this.prevName);
    if (c === 0) {
      this.problem(lblk, `${where}: duplicate name`);
    } else if (c < 0) {
      this.problem(lblk, `${where}: out of (hash, name) order`);
    }
    this.prevHash = h;
    this.prevName = name.slice();
  }
}
