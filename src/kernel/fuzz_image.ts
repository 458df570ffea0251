/**
 * Damaged VexFS images for the kernel module's fuzz tests (`fuzz_vm_test.ts`,
 * `scripts/fuzz-kernel.ts`), generated deterministically from a seed.
 *
 * A **base** is a clean image whose metadata blocks were located through the
 * engine (never guessed) and classified by what they hold and how they are
 * checksummed (docs/FORMAT.md §1): the superblock, the bitmaps (no checksum),
 * the inode table (one CRC per 256-byte inode, seeded with its number),
 * directory, extent tree, xattr and xattr-store blocks (a block CRC seeded with
 * the owning inode), the collection table (a CRC per 256-byte record, seeded
 * with the collection id), slot maps and HNSW blocks (a block CRC seeded with
 * the collection id), vector stores and norms (no block checksum), the journal
 * superblock and the live journal log (jbd2's CRCs, §9.2).
 *
 * `fuzzImage(base, seed)` flips bits or writes chosen values into one to three
 * of those blocks (aimed at in-use inodes, headers and fields more often than
 * at padding), and for about half the seeds recomputes every checksum it
 * broke, so that the damage passes the checksum and reaches the code that
 * interprets the fields. The same base and seed always give the same bytes.
 *
 * `makeFuzzBases` builds the bases: an image made and filled through the FUSE
 * mount (`withMount`: nested and hashed directories, a fragmented file with
 * extent tree blocks, sparse and small files, fast and long symlinks, hard
 * links, a fifo, xattrs in a block and in an xattr store, a collection with
 * vectors), and a copy of it on which the engine ran more changes and synced
 * without closing, so that its journal holds committed transactions to replay
 * (incompat RECOVER) whose log blocks are then fuzzed too.
 * @module
 */
import { MemDevice } from "../device/mem.ts";
import {
  COLL_TABLE_INO,
  IFL_INLINE,
  IFL_XATTR_IN_STORE,
  INCOMPAT_JOURNAL,
  INCOMPAT_RECOVER,
  INODE_SIZE,
  JOURNAL_INO,
  S_IFDIR,
  S_IFMT,
} from "../format/constants.ts";
import { crc32c, crc32cSeeded } from "../format/crc.ts";
import {
  decodeJournalSuperblock,
  JBD2_COMMIT_BLOCK,
  JBD2_DESCRIPTOR_BLOCK,
  JBD2_FLAG_LAST_TAG,
  JBD2_FLAG_SAME_UUID,
  JBD2_MAGIC,
  JBD2_REVOKE_BLOCK,
  jbd2Crc,
  journalCsumSeed,
} from "../format/journal.ts";
import { decodeSuperblock } from "../format/superblock.ts";
import { Vexfs } from "../fs/fs.ts";
import { rng } from "../test_random.ts";

/** What a metadata block holds. */
export type MetaKind =
  | "superblock"
  | "blockBitmap"
  | "inodeBitmap"
  | "inodeTable"
  | "dir"
  | "extentTree"
  | "xattr"
  | "collTable"
  | "slotMap"
  | "hnsw"
  | "vectors"
  | "journalSb"
  | "journalLog";

/** How a block's checksum is computed (FORMAT.md §1, §9.2). */
export type Csum =
  | { type: "none" }
  | { type: "superblock" }
  | { type: "inodes"; firstIno: number }
  | { type: "records"; firstId: number }
  | { type: "block"; seed: number }
  | { type: "jsb" }
  | { type: "jtail"; csumSeed: number }
  | { type: "jcommit"; csumSeed: number }
  | { type: "jdata"; csumSeed: number; tagAt: number; sequence: number };

/** One metadata block of a base. */
export interface MetaBlock {
  block: number;
  kind: MetaKind;
  csum: Csum;
}

/** A clean image and its classified metadata blocks. */
export interface FuzzBase {
  name: string;
  bytes: Uint8Array;
  blockSize: number;
  blocks: MetaBlock[];
  /** in-use inode numbers (damage of the inode table aims at them) */
  inodes: number[];
}

/** A damaged image. */
export interface FuzzCase {
  seed: number;
  base: string;
  bytes: Uint8Array;
  /** human-readable list of what was changed */
  damage: string;
  /** whether the checksums the damage broke were recomputed */
  recomputed: boolean;
  /** the kinds of the blocks damaged */
  kinds: MetaKind[];
}

const u32le = (b: Uint8Array, off: number) => new DataView(b.buffer, b.byteOffset + off, 4).getUint32(0, true);
const setU32le = (b: Uint8Array, off: number, v: number) =>
  new DataView(b.buffer, b.byteOffset + off, 4).setUint32(0, v >>> 0, true);
const u32be = (b: Uint8Array, off: number) => new DataView(b.buffer, b.byteOffset + off, 4).getUint32(0, false);
const setU32be = (b: Uint8Array, off: number, v: number) =>
  new DataView(b.buffer, b.byteOffset + off, 4).setUint32(0, v >>> 0, false);

/** True when `block` (block size bytes) ends with a CRC-32C seeded with `seed` (FORMAT.md §1). */
function blockCrcOk(block: Uint8Array, seed: number): boolean {
  const n = block.length;
  return crc32cSeeded(seed, block.subarray(0, n - 4)) === u32le(block, n - 4);
}

/** The live log of a journal that needs recovery: block numbers (device) with their kind of checksum. */
function journalLog(bytes: Uint8Array, bs: number, jblocks: number[]): MetaBlock[] {
  const out: MetaBlock[] = [];
  const dev = (j: number) => jblocks[j];
  const blk = (j: number) => bytes.subarray(dev(j) * bs, (dev(j) + 1) * bs);
  const jsb = decodeJournalSuperblock(blk(0));
  if (jsb.start === 0) return out;
  const csumSeed = journalCsumSeed(jsb.uuid);
  const next = (j: number) => (j + 1 >= jsb.maxlen ? jsb.first : j + 1);
  let j = jsb.start;
  let seq = jsb.sequence;
  for (let guard = 0; guard < jsb.maxlen; guard++) {
    const b = blk(j);
    if (u32be(b, 0) !== JBD2_MAGIC || u32be(b, 8) !== seq) break;
    const type = u32be(b, 4);
    if (type === JBD2_DESCRIPTOR_BLOCK) {
      out.push({ block: dev(j), kind: "journalLog", csum: { type: "jtail", csumSeed } });
      let off = 12;
      let d = next(j);
      while (off + 16 <= bs - 4) {
        const flags = u32be(b, off + 4);
        out.push({
          block: dev(d),
          kind: "journalLog",
          csum: { type: "jdata", csumSeed, tagAt: dev(j) * bs + off, sequence: seq },
        });
        d = next(d);
        off += 16 + (flags & JBD2_FLAG_SAME_UUID ? 0 : 16);
        if (flags & JBD2_FLAG_LAST_TAG) break;
      }
      j = d;
    } else if (type === JBD2_REVOKE_BLOCK) {
      out.push({ block: dev(j), kind: "journalLog", csum: { type: "jtail", csumSeed } });
      j = next(j);
    } else if (type === JBD2_COMMIT_BLOCK) {
      out.push({ block: dev(j), kind: "journalLog", csum: { type: "jcommit", csumSeed } });
      seq = (seq + 1) >>> 0;
      j = next(j);
    } else break;
  }
  return out;
}

/**
 * Locates and classifies every metadata block of a clean image through the
 * engine (read-only; a journal that needs recovery is replayed into memory
 * only, and its live log blocks are classified as `journalLog`).
 */
export function analyzeBase(name: string, bytes: Uint8Array): FuzzBase {
  const fs = Vexfs.openDevice(new MemDevice(bytes.slice(), { readOnly: true }), { readOnly: true });
  const blocks = new Map<number, MetaBlock>();
  const add = (block: number, kind: MetaKind, csum: Csum) => {
    if (!blocks.has(block)) blocks.set(block, { block, kind, csum });
  };
  const inodes: number[] = [];
  try {
    const sb = fs.sb;
    const bs = fs.blockSize;
    const blk = (b: number) => bytes.subarray(b * bs, (b + 1) * bs);
    add(Math.floor(1024 / bs), "superblock", { type: "superblock" });
    for (let i = 0; i < sb.blockBitmapBlocks; i++) add(sb.blockBitmapStart + i, "blockBitmap", { type: "none" });
    for (let i = 0; i < sb.inodeBitmapBlocks; i++) add(sb.inodeBitmapStart + i, "inodeBitmap", { type: "none" });
    const perBlock = bs / INODE_SIZE;
    const collIds = fs.collections.list().map((c) => c.id);
    const records = collIds.map((id) => fs.collections.record(id)!);
    const fileBlocks = (ino: number) => {
      const n = fs.iget(ino);
      const all: number[] = [];
      for (const e of fs.extents(n)) for (let i = 0; i < e.length; i++) all.push(e.physical + i);
      for (const t of n.treeBlocks ?? []) add(t, "extentTree", { type: "block", seed: ino });
      if (n.d.xattrBlock && !(n.d.flags & IFL_XATTR_IN_STORE)) {
        add(n.d.xattrBlock, "xattr", { type: "block", seed: ino });
      }
      return all;
    };
    for (let ino = 1; ino <= sb.inodeCount; ino++) {
      if (!fs.inodeMap.test(ino - 1) || ino === 1 || (ino > 4 && ino < 16)) continue;
      if (ino === JOURNAL_INO && !(sb.featureIncompat & INCOMPAT_JOURNAL)) continue;
      inodes.push(ino);
      const tb = sb.inodeTableStart + Math.floor(((ino - 1) * INODE_SIZE) / bs);
      add(tb, "inodeTable", { type: "inodes", firstIno: (tb - sb.inodeTableStart) * perBlock + 1 });
      const n = fs.iget(ino);
      if (n.d.flags & IFL_INLINE) continue;
      const fb = fileBlocks(ino);
      if (ino === JOURNAL_INO) {
        add(fb[0], "journalSb", { type: "jsb" });
        for (const m of journalLog(bytes, bs, fb)) add(m.block, m.kind, m.csum);
      } else if (ino === COLL_TABLE_INO) {
        fb.forEach((b, i) => add(b, "collTable", { type: "records", firstId: (i * bs) / 256 + 1 }));
      } else if ((n.d.mode & S_IFMT) === S_IFDIR) {
        for (const b of fb) add(b, "dir", { type: "block", seed: ino });
      } else {
        const rec = records.find((r) => [r.vecIno, r.mapIno, r.hnswIno, r.normIno].includes(ino));
        if (!rec) {
          // an xattr store's blocks are metadata; a regular file's contents are not
          for (const b of fb) if (blockCrcOk(blk(b), ino)) add(b, "xattr", { type: "block", seed: ino });
          continue;
        }
        const kind: MetaKind = ino === rec.mapIno ? "slotMap" : ino === rec.hnswIno ? "hnsw" : "vectors";
        for (const b of fb) {
          add(b, kind, blockCrcOk(blk(b), rec.id) ? { type: "block", seed: rec.id } : { type: "none" });
        }
      }
    }
    return { name, bytes, blockSize: bs, blocks: [...blocks.values()].sort((a, b) => a.block - b.block), inodes };
  } finally {
    fs.close();
  }
}

/** Values that make a field interesting: zero, all ones, off-by-one sizes, huge. */
const VALUES32 = [0, 1, 2, 0xffffffff, 0x7fffffff, 0x80000000, 0xffff, 0x10000, 255, 256, 4095, 4096];

/** Recomputes the checksum(s) `c` covers in `bytes` for block `b`, touching `byteOff` (or all of it). */
function recompute(bytes: Uint8Array, bs: number, m: MetaBlock, touched: number[]): void {
  const block = bytes.subarray(m.block * bs, (m.block + 1) * bs);
  const c = m.csum;
  switch (c.type) {
    case "none":
      return;
    case "superblock": {
      const sb = bytes.subarray(1024, 2048);
      setU32le(sb, 1020, crc32c(sb.subarray(0, 1020)));
      return;
    }
    case "inodes":
      for (const off of new Set(touched.map((o) => Math.floor(o / INODE_SIZE) * INODE_SIZE))) {
        const ino = c.firstIno + off / INODE_SIZE;
        setU32le(block, off + 252, crc32cSeeded(ino, block.subarray(off, off + 252)));
      }
      return;
    case "records":
      for (const off of new Set(touched.map((o) => Math.floor(o / 256) * 256))) {
        setU32le(block, off + 252, crc32cSeeded(c.firstId + off / 256, block.subarray(off, off + 252)));
      }
      return;
    case "block":
      setU32le(block, bs - 4, crc32cSeeded(c.seed, block.subarray(0, bs - 4)));
      return;
    case "jsb":
      setU32be(block, 0xfc, 0);
      setU32be(block, 0xfc, jbd2Crc(0xffffffff, block.subarray(0, 1024)));
      return;
    case "jtail":
      setU32be(block, bs - 4, 0);
      setU32be(block, bs - 4, jbd2Crc(c.csumSeed, block));
      return;
    case "jcommit":
      setU32be(block, 16, 0);
      setU32be(block, 16, jbd2Crc(c.csumSeed, block));
      return;
    case "jdata": {
      const seq = new Uint8Array(4);
      setU32be(seq, 0, c.sequence);
      setU32be(bytes, c.tagAt + 12, jbd2Crc(jbd2Crc(c.csumSeed, seq), block));
      return;
    }
  }
}

/**
 * Where in block `m` damage is aimed: the byte range of the structure (the
 * superblock's 1020 bytes, an in-use inode, a collection record, a journal
 * header) and its checksum field's offset, so that a flip lands in data.
 */
function target(base: FuzzBase, m: MetaBlock, rnd: () => number): { lo: number; hi: number } {
  const bs = base.blockSize;
  const at = (n: number) => Math.floor(rnd() * n);
  switch (m.csum.type) {
    case "superblock": {
      const lo = 1024 - m.block * bs;
      // half the time the first 416 bytes, where every field is
      return { lo, hi: lo + (rnd() < 0.5 ? 416 : 1020) };
    }
    case "inodes": {
      const c = m.csum;
      const inBlock = base.inodes.filter((i) => i >= c.firstIno && i < c.firstIno + bs / INODE_SIZE);
      const ino = inBlock.length ? inBlock[at(inBlock.length)] : c.firstIno;
      const lo = (ino - c.firstIno) * INODE_SIZE;
      return { lo, hi: lo + 252 };
    }
    case "records": {
      // the first records are the collections in use
      const lo = (rnd() < 0.7 ? at(2) : at(bs / 256)) * 256;
      return { lo, hi: lo + 252 };
    }
    case "jsb":
      return { lo: 0, hi: rnd() < 0.8 ? 0x5c : 1024 };
    default: {
      // headers hold the counts and pointers: aim at the first 64 bytes half the time
      const hi = m.csum.type === "none" || m.csum.type === "jdata" ? bs : bs - 4;
      return { lo: 0, hi: rnd() < 0.5 ? Math.min(64, hi) : hi };
    }
  }
}

/**
 * Makes damaged image `seed` of `base` (a fresh copy; `base.bytes` is not
 * changed). Deterministic: the same base bytes and seed give the same image.
 */
export function fuzzImage(base: FuzzBase, seed: number): FuzzCase {
  const rnd = rng(Math.imul(seed + 1, 2654435761) ^ 0x5eed);
  const at = (n: number) => Math.floor(rnd() * n);
  const bs = base.blockSize;
  const bytes = base.bytes.slice();
  const recomputed = rnd() < 0.5;
  const kinds = [...new Set(base.blocks.map((b) => b.kind))];
  const damage: string[] = [];
  const hit: MetaKind[] = [];
  const n = 1 + (rnd() < 0.3 ? at(3) : 0);
  for (let i = 0; i < n; i++) {
    // pick a kind first, so that the many inode-table or directory blocks do not crowd out the rest
    const kind = kinds[at(kinds.length)];
    const of = base.blocks.filter((b) => b.kind === kind);
    const m = of[at(of.length)];
    const block = bytes.subarray(m.block * bs, (m.block + 1) * bs);
    const { lo, hi } = target(base, m, rnd);
    const touched: number[] = [];
    const how = rnd();
    if (how < 0.55) {
      const flips = 1 + at(4);
      const done = new Set<number>();
      for (let f = 0; f < flips; f++) {
        const off = lo + at(hi - lo);
        const bit = at(8);
        if (done.has(off * 8 + bit)) continue; // a second flip would undo the first
        done.add(off * 8 + bit);
        block[off] ^= 1 << bit;
        touched.push(off);
      }
      damage.push(`${kind} block ${m.block}: bit flips at ${touched.join(",")}`);
    } else if (how < 0.85) {
      const off = lo + at(Math.max(1, (hi - lo - 4) >> 2)) * 4;
      const v = VALUES32[at(VALUES32.length)];
      const be = kind === "journalSb" || kind === "journalLog";
      const was = be ? u32be(block, off) : u32le(block, off);
      // a value the field already holds would change nothing: flip its low bit instead
      const put = was === v ? (v ^ 1) >>> 0 : v;
      if (be) setU32be(block, off, put);
      else setU32le(block, off, put);
      touched.push(off);
      damage.push(`${kind} block ${m.block}: u32 ${put} at ${off}`);
    } else if (how < 0.95) {
      const len = 1 + at(16);
      const off = lo + at(Math.max(1, hi - lo - len));
      // xor with a non-zero byte: every byte changes
      for (let k = 0; k < len; k++) block[off + k] ^= 1 + at(255), touched.push(off + k);
      damage.push(`${kind} block ${m.block}: ${len} random bytes at ${off}`);
    } else {
      block.fill(0, lo, hi);
      for (let o = lo; o < hi; o += INODE_SIZE) touched.push(o);
      damage.push(`${kind} block ${m.block}: bytes ${lo}..${hi} zeroed`);
      if (block.subarray(lo, hi).every((x, k) => x === base.bytes[m.block * bs + lo + k])) block[lo] ^= 0xff;
    }
    if (recomputed) recompute(bytes, bs, m, touched);
    hit.push(kind);
  }
  return { seed, base: base.name, bytes, damage: damage.join("; "), recomputed, kinds: hit };
}

/** Block numbers (of `bs` bytes) where `a` and `b` differ. */
export function changedBlocks(a: Uint8Array, b: Uint8Array, bs: number): number[] {
  const out: number[] = [];
  for (let off = 0; off < a.length; off += bs) {
    const x = a.subarray(off, off + bs);
    const y = b.subarray(off, off + bs);
    for (let i = 0; i < bs; i++) {
      if (x[i] !== y[i]) {
        out.push(off / bs);
        break;
      }
    }
  }
  return out;
}

/** Whether the superblock of `bytes` says the journal needs recovery. */
export function needsRecovery(bytes: Uint8Array): boolean {
  return (decodeSuperblock(bytes.subarray(1024, 2048)).featureIncompat & INCOMPAT_RECOVER) !== 0;
}

/** Runs a host program; throws with its stderr when it fails. */
async function run(cmd: string, args: string[]): Promise<void> {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!o.success) throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(o.stderr)}`);
}

/**
 * Fills the (mounted) filesystem at `mnt` with something of every metadata
 * kind: nested and hashed directories, a fragmented file (extent tree
 * blocks), small, sparse and empty files, fast and long symlinks, a hard
 * link, a fifo, xattrs in a block and in an xattr store, a collection with
 * vectors.
 */
async function fill(mnt: string): Promise<void> {
  const { createCollection, setVector } = await import("../ioctl/client.ts");
  await Deno.mkdir(`${mnt}/docs/sub/deeper`, { recursive: true });
  await Deno.writeTextFile(`${mnt}/docs/a.md`, "hello kernel\n");
  await Deno.writeTextFile(`${mnt}/docs/sub/b.txt`, "b".repeat(5000));
  await Deno.writeFile(`${mnt}/empty`, new Uint8Array());
  await Deno.mkdir(`${mnt}/many`);
  for (let i = 0; i < 120; i++) await Deno.writeTextFile(`${mnt}/many/file-${i}-${"n".repeat(i % 40)}`, `${i}\n`);
  // two files appended in turns, 1 KiB at a time: many short extents, an extent tree with blocks
  const fa = await Deno.open(`${mnt}/frag`, { write: true, create: true });
  const fb = await Deno.open(`${mnt}/frag2`, { write: true, create: true });
  for (let i = 0; i < 60; i++) {
    await fa.write(new Uint8Array(1024).fill(i));
    await fa.syncData();
    await fb.write(new Uint8Array(1024).fill(255 - i));
    await fb.syncData();
  }
  fa.close();
  fb.close();
  const sp = await Deno.open(`${mnt}/sparse`, { write: true, create: true });
  await sp.seek(300_000, Deno.SeekMode.Start);
  await sp.write(new TextEncoder().encode("end"));
  sp.close();
  await Deno.symlink("docs/a.md", `${mnt}/link`);
  await Deno.symlink("x/".repeat(100) + "long-target", `${mnt}/longlink`);
  await Deno.link(`${mnt}/docs/a.md`, `${mnt}/hardlink`);
  await run("mkfifo", [`${mnt}/fifo`]);
  await run("setfattr", ["-n", "user.small", "-v", "value", `${mnt}/docs/a.md`]);
  await run("setfattr", ["-n", "user.other", "-v", "0x" + "ab".repeat(40), `${mnt}/docs/a.md`]);
  await Deno.writeTextFile(`${mnt}/xstore`, "attributes in a store\n");
  for (let i = 0; i < 6; i++) {
    await run("setfattr", ["-n", `user.big${i}`, "-v", "0x" + (i + 10).toString(16).repeat(600), `${mnt}/xstore`]);
  }
  await Deno.mkdir(`${mnt}/vecs`);
  await createCollection(`${mnt}/vecs`, { dim: 8, metric: "l2", elem: "f32", index: "hnsw" });
  const r = rng(7);
  for (let i = 0; i < 30; i++) {
    await Deno.writeTextFile(`${mnt}/vecs/v${i}`, `vector ${i}\n`);
    await setVector(`${mnt}/vecs/v${i}`, new Float32Array(8).map(() => r() - 0.5));
  }
}

/**
 * Builds the two bases (see the module comment): `fuse`, made and filled
 * through the FUSE mount (4 MiB, 1 KiB blocks, 512 inodes, a journal), and
 * `recover`, the same after more changes by the engine, synced but not
 * closed, so that its journal needs recovery.
 * @throws Error when the FUSE mount is not available or a kind of metadata is missing from the base
 */
export async function makeFuzzBases(): Promise<FuzzBase[]> {
  const { withMount } = await import("../mount/_testutil.ts");
  let img = "";
  await withMount({ size: 4 << 20, blockSize: 1024, inodes: 512, keepImage: true }, async (mnt, image) => {
    img = image;
    await fill(mnt);
  });
  const bytes = await Deno.readFile(img);
  await Deno.remove(img);
  const fuse = analyzeBase("fuse", bytes);
  // the recovering base: more changes by the engine, committed to the journal, never checkpointed
  const dev = new MemDevice(bytes.slice());
  const fs = Vexfs.openDevice(dev);
  const docs = fs.lookup(2, "docs");
  const f = fs.create(docs, "after-crash");
  fs.write(f, 0, new Uint8Array(3000).fill(0x61));
  fs.setxattr(f, "user.k", new TextEncoder().encode("v"));
  fs.mkdir(2, "newdir");
  fs.unlink(2, "hardlink");
  fs.rename(2, "empty", docs, "moved");
  fs.sync();
  const rec = dev.bytes.slice();
  if (!needsRecovery(rec)) throw new Error("makeFuzzBases: the engine left no journal to recover");
  const recover = analyzeBase("recover", rec);
  for (
    const [base, want] of [[fuse, ALL_KINDS.filter((k) => k !== "journalLog")], [recover, ["journalLog"]]] as const
  ) {
    const have = new Set(base.blocks.map((b) => b.kind));
    const missing = want.filter((k) => !have.has(k));
    if (missing.length) throw new Error(`makeFuzzBases: base ${base.name} has no ${missing.join(", ")} blocks`);
  }
  return [fuse, recover];
}

/** Every kind of metadata block. */
export const ALL_KINDS: readonly MetaKind[] = [
  "superblock",
  "blockBitmap",
  "inodeBitmap",
  "inodeTable",
  "dir",
  "extentTree",
  "xattr",
  "collTable",
  "slotMap",
  "hnsw",
  "vectors",
  "journalSb",
  "journalLog",
];
