/**
 * Correctness at scale through real mounts (issue 3 §1): a 1 GiB file
 * written in 1 MiB chunks and read back after a remount with streaming
 * checksums, 10,000 files in one directory (create, list, stat, remove),
 * and four separate processes writing and reading their own files at once.
 * Nothing here is timed; the sizes are what matter.
 */
import { createHash } from "node:crypto";
import { assert, assertEquals } from "../test_assert.ts";
import { assertFsckClean } from "../fs/_testutil.ts";
import { type Daemon, mountImage, mountTest, unmount, withMount } from "./_testutil.ts";
import { findMount } from "./unmount.ts";

const MiB = 1 << 20;
const dec = new TextDecoder();

/**
 * Fills `out` with the reproducible content of chunk `i` (xorshift128 over
 * 32-bit words; every chunk differs, so misplaced chunks are caught).
 */
function fillChunk(out: Uint8Array, i: number): void {
  const w = new Uint32Array(out.buffer, out.byteOffset, out.byteLength >>> 2);
  let x = 0x9e3779b9 ^ i, y = 362436069 + i * 7, z = 521288629, t = 88675123 ^ (i << 8);
  for (let j = 0; j < w.length; j++) {
    const s = x ^ (x << 11);
    x = y;
    y = z;
    z = t;
    t = (t ^ (t >>> 19) ^ (s ^ (s >>> 8))) >>> 0;
    w[j] = t;
  }
}

/** "free-blocks free-inodes" of the filesystem mounted at `mnt` (statfs, through stat -f). */
function freeCounts(mnt: string): string {
  const o = new Deno.Command("stat", { args: ["-f", "-c", "%f %d", mnt], stdout: "piped" }).outputSync();
  assert(o.success, "stat -f");
  return dec.decode(o.stdout).trim();
}

/** Reads exactly `buf.length` bytes (or to EOF); returns how many. */
function readFull(f: Deno.FsFile, buf: Uint8Array): number {
  let got = 0;
  while (got < buf.length) {
    const n = f.readSync(buf.subarray(got));
    if (n === null) break;
    got += n;
  }
  return got;
}

Deno.test({
  name: "scale: a 1 GiB file written in 1 MiB chunks reads back identical after a remount (streaming sha256)",
  ...mountTest,
  async fn() {
    const CHUNKS = 1024;
    let d: Daemon = await mountImage({ size: 1088 * MiB, inodes: 1024 });
    const img = d.img;
    try {
      const chunk = new Uint8Array(MiB);
      const wHash = createHash("sha256");
      const f = Deno.openSync(`${d.mnt}/big.bin`, { write: true, create: true, truncate: true });
      for (let i = 0; i < CHUNKS; i++) {
        fillChunk(chunk, i);
        let off = 0;
        while (off < MiB) off += f.writeSync(chunk.subarray(off));
        wHash.update(chunk);
      }
      f.syncSync();
      f.close();
      const written = wHash.digest("hex");
      assertEquals(Deno.statSync(`${d.mnt}/big.bin`).size, CHUNKS * MiB);
      await unmount(d);
      assertFsckClean(img);

      // Read back through a fresh mount (nothing can come from the page cache).
      d = await mountImage({ image: img });
      assertEquals(Deno.statSync(`${d.mnt}/big.bin`).size, CHUNKS * MiB);
      const rHash = createHash("sha256");
      const want = new Uint8Array(MiB);
      const r = Deno.openSync(`${d.mnt}/big.bin`);
      let bad = -1;
      for (let i = 0; i < CHUNKS; i++) {
        assertEquals(readFull(r, chunk), MiB, `chunk ${i} is complete`);
        rHash.update(chunk);
        if (bad < 0) {
          fillChunk(want, i);
          const a = new Uint32Array(chunk.buffer), b = new Uint32Array(want.buffer);
          for (let j = 0; j < a.length; j++) {
            if (a[j] !== b[j]) {
              bad = i;
              break;
            }
          }
        }
      }
      assertEquals(readFull(r, chunk), 0, "nothing past 1 GiB");
      // Unaligned reads across chunk boundaries.
      for (const at of [MiB - 1, 517 * MiB + 12345, CHUNKS * MiB - 70_000]) {
        r.seekSync(at, Deno.SeekMode.Start);
        const got = new Uint8Array(70_000);
        assertEquals(readFull(r, got), 70_000);
        const exp = new Uint8Array(70_000);
        let filled = 0;
        for (let c = Math.floor(at / MiB); filled < exp.length; c++) {
          fillChunk(want, c);
          const from = filled === 0 ? at - c * MiB : 0;
          const n = Math.min(MiB - from, exp.length - filled);
          exp.set(want.subarray(from, from + n), filled);
          filled += n;
        }
        assertEquals(got, exp, `70,000 bytes at ${at}`);
      }
      r.close();
      assertEquals(bad, -1, `first differing chunk`);
      assertEquals(rHash.digest("hex"), written, "sha256 of the whole file");
      await unmount(d);
      assertFsckClean(img);
    } finally {
      if (findMount(d.mnt)) await unmount(d);
      Deno.removeSync(img);
    }
  },
});

Deno.test({
  name: "scale: 10,000 files in one directory are created, listed exactly after a remount, stat'ed and removed",
  ...mountTest,
  async fn() {
    const N = 10_000;
    const name = (i: number) => `file-${String(i).padStart(5, "0")}-${(i * 2654435761 >>> 0).toString(36)}.txt`;
    const body = (i: number) => `this is file number ${i}\n`.repeat(1 + i % 3);
    let img = "";
    let baseline = "";
    try {
      await withMount({ size: 256 * MiB, inodes: 12_000, keepImage: true }, (mnt, image) => {
        img = image;
        Deno.writeTextFileSync(`${mnt}/keep`, "the root directory has grown to its first entry\n");
        baseline = freeCounts(mnt);
        Deno.mkdirSync(`${mnt}/many`);
        for (let i = 0; i < N; i++) Deno.writeTextFileSync(`${mnt}/many/${name(i)}`, body(i));
      });
      await withMount({ image: img }, (mnt) => {
        const names = Array.from(Deno.readDirSync(`${mnt}/many`), (e) => {
          assert(e.isFile, `${e.name} is a file`);
          return e.name;
        });
        assertEquals(names.length, N, "readdir count");
        assertEquals(new Set(names).size, N, "no duplicates");
        const want = Array.from({ length: N }, (_, i) => name(i));
        assertEquals(names.sort(), want, "exact names");
        // The same listing through ls(1) (getdents with a different buffer size).
        const ls = new Deno.Command("ls", { args: ["-1U", `${mnt}/many`], stdout: "piped" }).outputSync();
        assertEquals(dec.decode(ls.stdout).trim().split("\n").sort(), want, "ls -1U");
        const inos = new Set<number>();
        for (let i = 0; i < N; i++) {
          const st = Deno.statSync(`${mnt}/many/${name(i)}`);
          assertEquals(st.size, body(i).length, `size of ${name(i)}`);
          assertEquals(st.nlink, 1);
          inos.add(st.ino!);
        }
        assertEquals(inos.size, N, "distinct inodes");
        for (const i of [0, 1, 4999, 9999]) assertEquals(Deno.readTextFileSync(`${mnt}/many/${name(i)}`), body(i));
        assertEquals(Deno.statSync(`${mnt}/many`).nlink, 2);
        for (let i = N - 1; i >= 0; i -= 2) Deno.removeSync(`${mnt}/many/${name(i)}`);
        assertEquals(Array.from(Deno.readDirSync(`${mnt}/many`)).length, N / 2, "half removed");
        for (let i = 0; i < N; i += 2) Deno.removeSync(`${mnt}/many/${name(i)}`);
        assertEquals(Array.from(Deno.readDirSync(`${mnt}/many`)), [], "empty after removing all");
        Deno.removeSync(`${mnt}/many`);
        assertEquals(Array.from(Deno.readDirSync(mnt), (e) => e.name), ["keep"]);
        assertEquals(freeCounts(mnt), baseline, "every block and inode is free again (statfs)");
      });
    } finally {
      if (img) Deno.removeSync(img);
    }
  },
});

/**
 * One worker process: writes its own files (whole, renamed into place,
 * appended in odd pieces with fsyncs, patched at offsets), removes some,
 * reads everything back and checks it, and prints `{path: sha256}` of what
 * it left.
 */
const WORKER = `
import { createHash } from "node:crypto";
const mnt = Deno.env.get("MNT");
const id = Number(Deno.env.get("ID"));
function gen(n, seed) {
  const out = new Uint8Array(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}
const sha = (b) => createHash("sha256").update(b).digest("hex");
function writeAll(f, b) { let o = 0; while (o < b.length) o += f.writeSync(b.subarray(o)); }
const dir = mnt + "/w" + id;
Deno.mkdirSync(dir);
const want = new Map();
let seed = id * 100000;
const sizes = [0, 1, 4095, 4096, 4097, 65537, 300000, 1048576, 2097152 + 7];
for (let i = 0; i < 27; i++) {
  const data = gen(sizes[i % sizes.length] + i * 13, ++seed);
  Deno.writeFileSync(dir + "/tmp-" + i, data);
  Deno.renameSync(dir + "/tmp-" + i, dir + "/f" + i);
  want.set("f" + i, data);
}
const f = Deno.openSync(dir + "/log", { append: true, create: true });
const parts = [];
for (let i = 0; i < 300; i++) {
  const b = gen(1 + (i * 7919) % 20000, ++seed);
  writeAll(f, b);
  parts.push(b);
  if (i % 50 === 0) f.syncSync();
}
f.close();
const log = new Uint8Array(parts.reduce((a, b) => a + b.length, 0));
let o = 0;
for (const b of parts) { log.set(b, o); o += b.length; }
want.set("log", log);
const p = Deno.openSync(dir + "/f7", { read: true, write: true });
const f7 = want.get("f7");
for (const at of [0, 4095, 100000, f7.length - 10]) {
  const b = gen(5000, ++seed).subarray(0, Math.min(5000, f7.length + 5000 - at));
  p.seekSync(at, Deno.SeekMode.Start);
  writeAll(p, b);
  const grown = new Uint8Array(Math.max(f7.length, at + b.length));
  grown.set(want.get("f7"));
  grown.set(b, at);
  want.set("f7", grown);
}
p.close();
for (let i = 0; i < 27; i += 5) { Deno.removeSync(dir + "/f" + i); want.delete("f" + i); }
const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
if (JSON.stringify(names) !== JSON.stringify([...want.keys()].sort())) {
  throw new Error("worker " + id + ": directory holds " + names.join(","));
}
const out = {};
for (const [name, data] of want) {
  const got = Deno.readFileSync(dir + "/" + name);
  if (got.length !== data.length || sha(got) !== sha(data)) {
    throw new Error("worker " + id + ": " + name + " differs (" + got.length + " vs " + data.length + " bytes)");
  }
  out["w" + id + "/" + name] = sha(data);
}
console.log(JSON.stringify(out));
`;

Deno.test({
  name: "scale: 4 processes write and read their own files at once, each verifying its data; all intact after remount",
  ...mountTest,
  async fn() {
    let img = "";
    const expected = new Map<string, string>();
    try {
      await withMount({ size: 512 * MiB, keepImage: true }, async (mnt, image) => {
        img = image;
        const workers = [0, 1, 2, 3].map((id) =>
          new Deno.Command(Deno.execPath(), {
            args: ["eval", "--no-config", WORKER],
            cwd: "/",
            env: { MNT: mnt, ID: String(id), NO_COLOR: "1" },
            stdin: "null",
            stdout: "piped",
            stderr: "piped",
          }).output()
        );
        const results = await Promise.all(workers);
        for (const [id, r] of results.entries()) {
          assertEquals(r.code, 0, `worker ${id}: ${dec.decode(r.stderr)}`);
          for (const [p, h] of Object.entries(JSON.parse(dec.decode(r.stdout)) as Record<string, string>)) {
            expected.set(p, h);
          }
        }
        assertEquals(expected.size, 4 * (27 - 6 + 1), "files left by the workers");
      });
      await withMount({ image: img }, (mnt) => {
        assertEquals(Array.from(Deno.readDirSync(mnt), (e) => e.name).sort(), ["w0", "w1", "w2", "w3"]);
        let n = 0;
        for (let id = 0; id < 4; id++) {
          for (const e of Deno.readDirSync(`${mnt}/w${id}`)) {
            const p = `w${id}/${e.name}`;
            assert(expected.has(p), `unexpected ${p}`);
            const h = createHash("sha256").update(Deno.readFileSync(`${mnt}/${p}`)).digest("hex");
            assertEquals(h, expected.get(p), `${p} after remount`);
            n++;
          }
        }
        assertEquals(n, expected.size);
      });
    } finally {
      if (img) Deno.removeSync(img);
    }
  },
});
