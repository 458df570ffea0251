/**
 * The engine on damaged images (issue: "mounting a damaged image never kills
 * the daemon: requests on damaged parts fail with EIO or EUCLEAN and the rest
 * keeps working"). A seeded fuzzer damages the metadata blocks of a populated
 * image and then uses it as the mount would: open, walk every directory, stat,
 * read, list xattrs, search, create and write. Every failure must be an
 * `FsError` (which the FUSE layer turns into an errno), never a TypeError,
 * RangeError or a hang, and a refused open must say why.
 */
import assert from "node:assert/strict";
import { MemDevice } from "../device/mem.ts";
import { FsError } from "../errors.ts";
import { ROOT_INO, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from "../format/constants.ts";
import { decodeSuperblock } from "../format/superblock.ts";
import { rng } from "../test_random.ts";
import { Vexfs } from "./fs.ts";
import { computeLayout, writeFilesystem } from "./mkfs.ts";

const IMAGES = Number(Deno.env.get("DAMAGE_IMAGES") ?? 400);
const SEED = Number(Deno.env.get("DAMAGE_SEED") ?? 1);

/** A populated 4 MiB image (1 KiB blocks, journal): its bytes and the blocks that hold metadata. */
function populated(): { bytes: Uint8Array; meta: number[] } {
  const dev = new MemDevice(4 << 20);
  writeFilesystem(dev, computeLayout(dev.size, { blockSize: 1024, inodes: 512 }), {
    uuid: new Uint8Array(16).fill(7),
  });
  const fs = Vexfs.openDevice(dev);
  const r = rng(99);
  const docs = fs.mkdir(ROOT_INO, "docs");
  fs.collections.create(docs, { dim: 8, metric: "cosine", elem: "f32" });
  for (let d = 0; d < 6; d++) {
    const sub = fs.mkdir(d % 2 ? docs : ROOT_INO, `dir${d}`);
    for (let i = 0; i < 25; i++) {
      const f = fs.create(sub, `file-${d}-${i}-${"x".repeat(i)}`);
      fs.write(f, 0, new Uint8Array(((i * 997) % 5000) + 1).fill(i));
      if (i % 4 === 0) fs.setxattr(f, `user.tag${i}`, new Uint8Array(40).fill(i));
      if (d % 2 && i % 2) fs.collections.setVector(f, new Float32Array(8).map(() => r() - 0.5));
      if (i % 9 === 0) fs.link(f, ROOT_INO, `link-${d}-${i}`);
    }
    fs.symlink(sub, "up", "..");
    fs.symlink(sub, "long", "/".repeat(1) + "a".repeat(300));
  }
  // a fragmented file, so that it has extent tree blocks
  const frag = fs.create(ROOT_INO, "fragmented");
  for (let i = 0; i < 200; i++) fs.write(frag, i * 2048, new Uint8Array(100).fill(i));
  fs.close();
  // every block that holds metadata: superblock, bitmaps, inode table, and the
  // directory, extent tree, xattr and internal-file blocks found by walking
  const sb = decodeSuperblock(dev.bytes.subarray(1024, 2048));
  const meta = new Set<number>([1]);
  for (let b = sb.blockBitmapStart; b < sb.inodeTableStart + Math.min(sb.inodeTableBlocks, 40); b++) meta.add(b);
  const ro = Vexfs.openDevice(new MemDevice(dev.bytes.slice(), { readOnly: true }), { readOnly: true });
  for (let ino = 2; ino <= sb.inodeCount; ino++) {
    let n;
    try {
      n = ro.iget(ino);
    } catch {
      continue;
    }
    if (ino === 4) continue; // the journal's log is not metadata of the filesystem
    if (n.d.xattrBlock) meta.add(n.d.xattrBlock);
    const t = n.d.mode & S_IFMT;
    const internal = (n.d.flags & 0x4) !== 0;
    ro.extents(n);
    for (const b of n.treeBlocks ?? []) meta.add(b);
    if (t === S_IFDIR || internal) {
      for (const e of n.exts ?? []) for (let k = 0; k < e.length; k++) meta.add(e.physical + k);
    }
  }
  ro.close();
  return { bytes: dev.bytes, meta: [...meta].sort((a, b) => a - b) };
}

const BASE = populated();

/** Damages 1..3 metadata blocks of a copy of the base image, the way the seed says. */
function damaged(seed: number): { bytes: Uint8Array; what: string[] } {
  const r = rng(seed);
  const bytes = BASE.bytes.slice();
  const what: string[] = [];
  const pick = () => BASE.meta[Math.floor(r() * BASE.meta.length)];
  const n = 1 + Math.floor(r() * 3);
  for (let i = 0; i < n; i++) {
    const b = pick();
    const at = b * 1024;
    const kind = Math.floor(r() * 5);
    if (kind === 0) {
      for (let k = 0; k < 1024; k++) bytes[at + k] = Math.floor(r() * 256);
      what.push(`block ${b}: random bytes`);
    } else if (kind === 1) {
      for (let k = 0; k < 1 + Math.floor(r() * 8); k++) {
        const off = Math.floor(r() * 1024);
        bytes[at + off] ^= 1 << Math.floor(r() * 8);
      }
      what.push(`block ${b}: bit flips`);
    } else if (kind === 2) {
      bytes.fill(0, at, at + 1024);
      what.push(`block ${b}: zeroed`);
    } else if (kind === 3) {
      const c = pick();
      const tmp = bytes.slice(at, at + 1024);
      bytes.copyWithin(at, c * 1024, c * 1024 + 1024);
      bytes.set(tmp, c * 1024);
      what.push(`blocks ${b} and ${c}: swapped`);
    } else {
      // a plausible field change: a 64-bit value somewhere in the block set large
      const off = Math.floor(r() * 1016) & ~7;
      new DataView(bytes.buffer).setBigUint64(at + off, BigInt(Math.floor(r() * 2 ** 40)), true);
      what.push(`block ${b}: u64 at ${off} changed`);
    }
  }
  return { bytes, what };
}

/** Runs `f`; an FsError is an answer, anything else is a bug. Returns the errno or "ok". */
const answers = new Map<string, number>();

function attempt(what: string, f: () => unknown, bugs: string[]): string {
  try {
    f();
    return "ok";
  } catch (e) {
    if (e instanceof FsError) {
      answers.set(e.code, (answers.get(e.code) ?? 0) + 1);
      return e.code;
    }
    bugs.push(`${what}: ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`);
    return "BUG";
  }
}

/** Uses a damaged filesystem the way a mount does; returns the unexpected exceptions. */
function exercise(fs: Vexfs, bugs: string[]): void {
  const seen = new Set<number>();
  const queue = [ROOT_INO];
  let steps = 0;
  while (queue.length && steps++ < 2000) {
    const dir = queue.shift()!;
    if (seen.has(dir)) continue;
    seen.add(dir);
    attempt(`readdir ${dir}`, () => {
      for (const e of fs.readdir(dir)) {
        attempt(`lookup ${e.name}`, () => fs.lookup(dir, e.nameBytes), bugs);
        attempt(`getattr ${e.ino}`, () => {
          const st = fs.getattr(e.ino);
          const t = st.mode & S_IFMT;
          if (t === S_IFDIR) queue.push(e.ino);
          else if (t === S_IFREG) {
            attempt(`read ${e.ino}`, () => fs.read(e.ino, 0, 1 << 20), bugs);
            attempt(`vector ${e.ino}`, () => fs.collections.getVector(e.ino), bugs);
          } else if (t === S_IFLNK) attempt(`readlink ${e.ino}`, () => fs.readlink(e.ino), bugs);
          attempt(`listxattr ${e.ino}`, () => fs.listxattr(e.ino), bugs);
          attempt(`pathOf ${e.ino}`, () => fs.pathOf(e.ino), bugs);
        }, bugs);
      }
    }, bugs);
  }
  attempt("collections", () => {
    for (const c of fs.collections.list()) {
      attempt(`search ${c.id}`, () => fs.collections.search(c.rootIno, new Float32Array(c.dim).fill(0.1), 5), bugs);
    }
  }, bugs);
  attempt("statfs", () => fs.statfs(), bugs);
  if (!fs.isReadOnly) {
    attempt("create", () => {
      const f = fs.create(ROOT_INO, "after-damage");
      fs.write(f, 0, new Uint8Array(3000).fill(1));
      fs.mkdir(ROOT_INO, "new-dir");
      fs.unlink(ROOT_INO, "after-damage");
    }, bugs);
    attempt("sync", () => fs.sync(), bugs);
  }
}

Deno.test(`damaged images: ${IMAGES} seeded images, every failure is an FsError and the rest keeps working`, () => {
  const counts = { refused: 0, opened: 0, readOnly: 0 };
  const bugs: string[] = [];
  const slow: string[] = [];
  for (let i = 0; i < IMAGES; i++) {
    const seed = SEED * 100_003 + i;
    const { bytes, what } = damaged(seed);
    const t0 = performance.now();
    const before = bugs.length;
    for (const readOnly of [false, true]) {
      let fs: Vexfs | undefined;
      const r = attempt(
        `open${readOnly ? " ro" : ""}`,
        () => fs = Vexfs.openDevice(new MemDevice(bytes.slice(), { readOnly }), { readOnly, onWarning: () => {} }),
        bugs,
      );
      if (r !== "ok") {
        counts.refused++;
        continue;
      }
      counts[readOnly ? "readOnly" : "opened"]++;
      exercise(fs!, bugs);
      attempt("close", () => fs!.close(), bugs);
    }
    if (bugs.length > before) bugs.push(`  ^ seed ${seed} (DAMAGE_SEED=${SEED}, image ${i}): ${what.join("; ")}`);
    const ms = performance.now() - t0;
    if (ms > 5000) slow.push(`seed ${seed}: ${Math.round(ms)} ms (${what.join("; ")})`);
  }
  console.log(
    `damaged images: ${IMAGES}, opened read-write ${counts.opened}, read-only ${counts.readOnly}, ` +
      `opens refused ${counts.refused}, unexpected exceptions ${bugs.filter((b) => !b.startsWith("  ^")).length}; ` +
      `errors answered: ${[...answers].map(([k, v]) => `${k} ${v}`).join(", ")}`,
  );
  assert.ok((answers.get("EUCLEAN") ?? 0) > IMAGES / 4, "the damage is met (EUCLEAN answers)");
  assert.deepEqual(slow, [], "no image takes more than 5 s (a hang)");
  assert.deepEqual(bugs.slice(0, 20), [], "every failure is an FsError");
});
