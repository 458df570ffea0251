/**
 * Helpers shared by the fsck fuzzer (`fuzz_test.ts`, `_fuzz_worker.ts`), the
 * corpus (`testdata/fsck/make_corpus.ts`, `corpus_test.ts`): a populated image
 * built through the engine on a {@link MemDevice}, the metadata blocks of
 * such an image located through the engine (never guessed), seeded damage,
 * the stable text of a report, and the engine smoke test a repaired image must pass.
 * @module
 */
import { MemDevice } from "../device/mem.ts";
import {
  COLL_TABLE_INO,
  IFL_XATTR_IN_STORE,
  IFL_XATTR_STORE,
  INCOMPAT_JOURNAL,
  INODE_SIZE,
  JOURNAL_INO,
  S_IFIFO,
} from "../format/constants.ts";
import { computeLayout, writeFilesystem } from "../fs/mkfs.ts";
import { Vexfs } from "../fs/fs.ts";
import type { FsckReport } from "./fsck.ts";

const enc = new TextEncoder();

/** Options of {@link buildPopulated}. */
export interface BuildOptions {
  /** image bytes (default 4 MiB) */
  size?: number;
  /** block size (default 1024) */
  blockSize?: number;
  /** journal blocks: 0 for none (default: mkfs's choice) */
  journalBlocks?: number;
  /** inodes (default: mkfs's choice, one per 16 KiB) */
  inodes?: number;
  /** leave an unlinked-but-open orphan and do not close (the journal then needs recovery) */
  orphan?: boolean;
  /** sync and do not close, as if the process died (the journal then needs recovery) */
  crash?: boolean;
}

/** Metadata blocks of a populated image, by kind. */
export interface MetaBlocks {
  superblock: number[];
  blockBitmap: number[];
  inodeBitmap: number[];
  /** inode table blocks holding inodes in use */
  inodeTable: number[];
  dir: number[];
  extentTree: number[];
  xattr: number[];
  collTable: number[];
  slotMap: number[];
  vectors: number[];
  journalSb: number[];
}

/** Inode numbers of interesting files of a populated image. */
export interface Landmarks {
  docs: number;
  a: number;
  frag: number;
  vecs: number;
  vecFiles: number[];
  orphan: number;
}

/** A fixed UUID so images differ only where the engine's clock and random generation numbers go. */
const UUID = Uint8Array.from({ length: 16 }, (_, i) => (i * 37 + 11) & 0xff);

/**
 * Formats a {@link MemDevice} and fills it through the engine: directories,
 * regular files with data, hard links, short and long symlinks, a fifo,
 * xattrs, a fragmented file with an extent tree block, a collection with
 * vectors (one deleted, so a slot moved) and optionally an unlinked-open
 * orphan left by a process that died (the image is then not closed).
 */
export function buildPopulated(opts: BuildOptions = {}): { dev: MemDevice; lm: Landmarks } {
  const bs = opts.blockSize ?? 1024;
  const dev = new MemDevice(opts.size ?? 4 << 20, { name: "fuzz-base" });
  const layout = computeLayout(dev.size, { blockSize: bs, journalBlocks: opts.journalBlocks, inodes: opts.inodes });
  writeFilesystem(dev, layout, {
    blockSize: bs,
    uuid: UUID,
    hashSeed: 0x5eed,
    time: 1_700_000_000,
    journalSequence: 7,
  });
  const fs = Vexfs.openDevice(dev);
  const docs = fs.mkdir(2, "docs");
  const sub = fs.mkdir(docs, "sub");
  const deep = fs.mkdir(sub, "deep");
  const a = fs.create(docs, "a.md");
  fs.write(a, 0, new Uint8Array(3000).fill(0x61));
  fs.setxattr(a, "user.tag", enc.encode("hello"));
  fs.link(a, sub, "a-link.md");
  // more attributes than one block holds: an xattr store (FORMAT.md §7.2) of two entry blocks and a value run
  const meta = fs.create(docs, "meta.json");
  for (let i = 0; i < 40; i++) fs.setxattr(meta, `user.k${i}`, enc.encode(`value ${i} `.repeat(3)));
  fs.setxattr(meta, "user.blob", Uint8Array.from({ length: 2500 }, (_, i) => i & 0xff));
  for (let i = 0; i < 40; i++) {
    const f = fs.create(i % 3 ? docs : deep, `note-${i}.txt`);
    if (i % 4 === 0) fs.write(f, 0, enc.encode(`note ${i} `.repeat(20 + i)));
    if (i % 7 === 0) fs.setxattr(f, "user.n", enc.encode(String(i)));
  }
  fs.symlink(docs, "short", "a.md");
  fs.symlink(2, "long", "/docs/" + "x".repeat(300));
  fs.mknod(docs, "pipe", S_IFIFO | 0o644);
  const frag = fs.create(2, "frag");
  const fill = fs.create(2, "fill");
  const blk = new Uint8Array(bs).fill(0x42);
  for (let i = 0; i < 12; i++) {
    fs.write(frag, i * bs, blk);
    fs.write(fill, i * bs, blk);
  }
  const vecs = fs.mkdir(2, "vecs");
  fs.collections.create(vecs, { dim: 8, metric: "l2", elem: "f32" });
  const vecFiles: number[] = [];
  const inner = fs.mkdir(vecs, "inner");
  for (let i = 0; i < 12; i++) {
    const f = fs.create(i % 2 ? vecs : inner, `v${i}`);
    fs.write(f, 0, enc.encode(`vector file ${i}`));
    fs.collections.setVector(f, Float32Array.from({ length: 8 }, (_, k) => i + k * 0.5));
    vecFiles.push(f);
  }
  fs.unlink(vecs, "v3"); // swap-remove of a vector
  vecFiles.splice(3, 1);
  let orphan = 0;
  if (opts.orphan) {
    orphan = fs.create(2, "tmp");
    fs.write(orphan, 0, new Uint8Array(5000).fill(7));
    fs.openInode(orphan);
    fs.unlink(2, "tmp");
    fs.sync(); // the holder dies here: never released, never closed
  } else if (opts.crash) {
    fs.write(a, 3000, new TextEncoder().encode("appended before the crash"));
    fs.sync();
  } else fs.close();
  return { dev, lm: { docs, a, frag, vecs, vecFiles, orphan } };
}

/** Locates every metadata block of an image through the engine (read-only, replaying into memory). */
export function metaBlocks(bytes: Uint8Array): MetaBlocks {
  const fs = Vexfs.openDevice(new MemDevice(bytes.slice(), { readOnly: true }), { readOnly: true });
  try {
    const sb = fs.sb;
    const bs = fs.blockSize;
    const range = (start: number, n: number) => Array.from({ length: n }, (_, i) => start + i);
    const out: MetaBlocks = {
      superblock: [Math.floor(1024 / bs)],
      blockBitmap: range(sb.blockBitmapStart, sb.blockBitmapBlocks),
      inodeBitmap: range(sb.inodeBitmapStart, sb.inodeBitmapBlocks),
      inodeTable: [],
      dir: [],
      extentTree: [],
      xattr: [],
      collTable: [],
      slotMap: [],
      vectors: [],
      journalSb: [],
    };
    const tableBlocks = new Set<number>();
    const fileBlocks = (ino: number) => {
      const n = fs.iget(ino);
      const exts = fs.extents(n);
      const all: number[] = [];
      for (const e of exts) all.push(...range(e.physical, e.length));
      out.extentTree.push(...(n.treeBlocks ?? []));
      if (n.d.xattrBlock && !(n.d.flags & IFL_XATTR_IN_STORE)) out.xattr.push(n.d.xattrBlock);
      return all;
    };
    for (let ino = 1; ino <= sb.inodeCount; ino++) {
      if (!fs.inodeMap.test(ino - 1) || (ino > 4 && ino < 16) || ino === 1) continue;
      if (ino === JOURNAL_INO && !(sb.featureIncompat & INCOMPAT_JOURNAL)) continue;
      tableBlocks.add(sb.inodeTableStart + Math.floor(((ino - 1) * INODE_SIZE) / bs));
      const n = fs.iget(ino);
      const type = n.d.mode & 0o170000;
      if (ino === JOURNAL_INO) {
        out.journalSb.push(fileBlocks(ino)[0]);
      } else if (ino === COLL_TABLE_INO) out.collTable.push(...fileBlocks(ino));
      else if (type === 0o040000) out.dir.push(...fileBlocks(ino));
      else if (type === 0o100000 || type === 0o120000) {
        if (n.d.flags & 0x10) continue;
        const blocks = fileBlocks(ino);
        if (n.d.flags & IFL_XATTR_STORE) out.xattr.push(...blocks);
        else if (n.d.flags & 0x4) {
          const rec = fs.collections.list().map((c) => fs.collections.record(c.id)!).find((r) =>
            r.vecIno === ino || r.mapIno === ino
          );
          if (rec?.mapIno === ino) out.slotMap.push(...blocks);
          else if (rec?.vecIno === ino) out.vectors.push(...blocks);
        }
      } else fileBlocks(ino);
    }
    out.inodeTable = [...tableBlocks].sort((x, y) => x - y);
    return out;
  } finally {
    fs.close();
  }
}

/**
 * The stable text form of a report used by the corpus (`testdata/fsck/<case>/expect.1`
 * and `expect.2`): one line per problem, `CODE @ where: fixed|not fixed|no fix`, then
 * `exit N`. Messages are left out so that rewording one does not change the corpus.
 */
export function reportText(r: FsckReport): string {
  const lines = r.problems.map((p) => `${p.code} @ ${p.where}: ${p.fixed ? "fixed" : p.fix ? "not fixed" : "no fix"}`);
  lines.push(`exit ${r.exitCode}`);
  return lines.join("\n") + "\n";
}

/** The kinds of damage the fuzzer does to a metadata block. */
export const DAMAGE = ["random bytes", "bit flips", "zeroed", "swapped", "u64"] as const;

/**
 * Damages block `b` of `bytes` (block size `bs`) in place with `kind`,
 * drawing from `rnd`; `other` is the block swapped with for "swapped".
 * @returns a short description for failure messages
 */
export function damageBlock(
  bytes: Uint8Array,
  bs: number,
  b: number,
  kind: (typeof DAMAGE)[number],
  rnd: () => number,
  other: number,
): string {
  const at = (n: number) => Math.floor(rnd() * n);
  const block = bytes.subarray(b * bs, (b + 1) * bs);
  // the primary superblock lives at byte 1024 whatever the block size: aim at it
  const lo = b === 0 && bs > 1024 ? 1024 : 0;
  const hi = b === 0 && bs > 1024 ? 2048 : bs;
  switch (kind) {
    case "random bytes": {
      const n = 1 + at(16);
      const off = lo + at(hi - lo - n);
      for (let i = 0; i < n; i++) block[off + i] = at(256);
      return `${n} random bytes at ${b}:${off}`;
    }
    case "bit flips": {
      const n = 1 + at(4);
      const offs: number[] = [];
      for (let i = 0; i < n; i++) {
        const off = lo + at(hi - lo);
        block[off] ^= 1 << at(8);
        offs.push(off);
      }
      return `bit flips at ${b}:${offs.join(",")}`;
    }
    case "zeroed":
      block.fill(0, lo, hi);
      return `block ${b} zeroed`;
    case "swapped": {
      const o = bytes.subarray(other * bs, (other + 1) * bs);
      const tmp = block.slice();
      block.set(o);
      o.set(tmp);
      return `blocks ${b} and ${other} swapped`;
    }
    case "u64": {
      const off = lo + at((hi - lo) / 8) * 8;
      new DataView(block.buffer, block.byteOffset).setBigUint64(
        off,
        BigInt(at(2 ** 31)) * BigInt(at(2 ** 20) + 1),
        true,
      );
      return `u64 at ${b}:${off}`;
    }
  }
}

/**
 * What the engine must still do on a repaired image: open read-write, create
 * and write a file, read it back, list the root and the file's directory,
 * read every file it can reach, sync and close.
 * @returns problems found (empty when all worked)
 */
export function engineSmoke(dev: MemDevice, tag: string): string[] {
  const out: string[] = [];
  let fs: Vexfs;
  try {
    fs = Vexfs.openDevice(dev);
  } catch (e) {
    return [`engine open failed: ${e instanceof Error ? e.message : e}`];
  }
  try {
    const data = enc.encode(`written after repair ${tag}\n`.repeat(40));
    const ino = fs.create(2, `after-${tag}`);
    fs.write(ino, 0, data);
    const back = fs.read(ino, 0, data.length);
    if (back.length !== data.length || back.some((x, i) => x !== data[i])) out.push("read back differs");
    const names = [...fs.readdir(2)].map((e) => e.name);
    if (!names.includes(`after-${tag}`)) out.push("the new file is not listed");
    const stack = [2];
    let seen = 0;
    while (stack.length && seen < 2000) {
      const d = stack.pop()!;
      for (const e of fs.readdir(d)) {
        seen++;
        if (e.type === 2) stack.push(e.ino);
        else if (e.type === 1) fs.read(e.ino, 0, 1 << 16);
      }
    }
    fs.sync();
  } catch (e) {
    out.push(`engine use failed: ${e instanceof Error ? e.message : e}`);
  } finally {
    try {
      fs.close();
    } catch (e) {
      out.push(`engine close failed: ${e instanceof Error ? e.message : e}`);
    }
  }
  return out;
}
