/**
 * Where the journal's time goes, without FUSE: the workloads of the
 * journal-cost comparison run on the engine in this process (src/fs), once on
 * an image with a journal and once on a `--no-journal` image, through a
 * device that counts and times every write and flush. It prints, per
 * workload and image: wall time, device flushes and the time they took,
 * bytes and time of the writes, and the journal's own counters
 * (`fs.journal.stats`: commits, journaled blocks, flushes).
 *
 * ```sh
 * deno run -A bench/journal_profile.ts                      # 1 GiB, 10,000 files, 10,000 vectors
 * deno run -A bench/journal_profile.ts --size 256M --files 2000 --vectors 2000 --repeat 1 --json
 * ```
 *
 * The mount runs the same engine code behind each FUSE request; what this
 * leaves out is the FUSE round trip itself and the mount's 5-second commit
 * timer (commits here come only from the journal's size limit and the final
 * fsync, as in a workload shorter than 5 s).
 * @module
 */
import type { BlockDevice } from "../src/device/device.ts";
import { Device } from "../src/device/device.ts";
import { Vexfs } from "../src/fs/fs.ts";
import { mkfs } from "../src/fs/mkfs.ts";
import { mulberry32, VECTOR_DIM, VECTOR_SEED, vectorFileName } from "./vectors.ts";

/** Counters of a {@linkcode CountingDevice}. */
export interface DeviceCounts {
  writes: number;
  writeBytes: number;
  writeMs: number;
  reads: number;
  readBytes: number;
  readMs: number;
  flushes: number;
  flushMs: number;
}

/** A device that passes everything to `inner` and counts and times the writes, reads and flushes. */
export class CountingDevice implements BlockDevice {
  readonly inner: BlockDevice;
  counts: DeviceCounts = CountingDevice.zero();
  constructor(inner: BlockDevice) {
    this.inner = inner;
  }
  /** All counters at 0. */
  static zero(): DeviceCounts {
    return { writes: 0, writeBytes: 0, writeMs: 0, reads: 0, readBytes: 0, readMs: 0, flushes: 0, flushMs: 0 };
  }
  /** The counters so far, and starts again from 0. */
  take(): DeviceCounts {
    const c = this.counts;
    this.counts = CountingDevice.zero();
    return c;
  }
  get path(): string {
    return this.inner.path;
  }
  get kind(): "file" | "block" | "memory" {
    return this.inner.kind;
  }
  get size(): number {
    return this.inner.size;
  }
  get sectorSize(): number {
    return this.inner.sectorSize;
  }
  get readOnly(): boolean {
    return this.inner.readOnly;
  }
  get isOpen(): boolean {
    return this.inner.isOpen;
  }
  read(offset: number, buf: Uint8Array): void {
    const t = performance.now();
    this.inner.read(offset, buf);
    this.counts.readMs += performance.now() - t;
    this.counts.reads++;
    this.counts.readBytes += buf.length;
  }
  write(offset: number, data: Uint8Array): void {
    const t = performance.now();
    this.inner.write(offset, data);
    this.counts.writeMs += performance.now() - t;
    this.counts.writes++;
    this.counts.writeBytes += data.length;
  }
  sync(): void {
    const t = performance.now();
    this.inner.sync();
    this.counts.flushMs += performance.now() - t;
    this.counts.flushes++;
  }
  close(): void {
    this.inner.close();
  }
}

/** One workload on one image. */
export interface ProfileRow {
  workload: "seq-write" | "create" | "vectors";
  journal: boolean;
  /** wall time of the workload including its final fsync, ms */
  ms: number;
  /** of which the final fsync, ms */
  fsyncMs: number;
  dev: DeviceCounts;
  /** fs.journal.stats differences (commits, blocks, flushes), when there is a journal */
  commits?: number;
  journaledBlocks?: number;
}

/** The workloads, as the benchmark runs them through the mount, on an open engine. */
function runWorkload(
  fs: Vexfs,
  dev: CountingDevice,
  w: ProfileRow["workload"],
  rep: number,
  o: { sizeBytes: number; files: number; vectors: number },
): ProfileRow {
  const ROOT = 2;
  fs.sync(); // what earlier steps left uncommitted is not this workload's
  const before = { ...(fs.journal?.stats ?? { commits: 0, blocks: 0 }) };
  dev.take();
  const t0 = performance.now();
  let fsyncMs = 0;
  const fsync = (ino: number) => {
    const a = performance.now();
    fs.fsync(ino);
    fsyncMs = performance.now() - a;
  };
  if (w === "seq-write") {
    try {
      fs.unlink(ROOT, "seq.dat");
    } catch { /* first run */ }
    const ino = fs.create(ROOT, "seq.dat");
    fs.openInode(ino);
    const buf = new Uint8Array(1 << 20).fill(0x5a);
    for (let off = 0; off < o.sizeBytes; off += buf.length) fs.write(ino, off, buf);
    fsync(ino);
    fs.release(ino);
  } else if (w === "create") {
    const dir = fs.mkdir(ROOT, `files${rep}`);
    for (let i = 0; i < o.files; i++) {
      const ino = fs.create(dir, `f${String(i).padStart(7, "0")}`);
      fs.openInode(ino);
      fs.release(ino);
    }
    fsync(dir);
  } else {
    const dir = fs.mkdir(ROOT, `vec${rep}`);
    fs.collections.create(dir, { dim: VECTOR_DIM, metric: "l2", elem: "f32" });
    const rnd = mulberry32(VECTOR_SEED);
    const enc = new TextEncoder();
    const v = new Float32Array(VECTOR_DIM);
    for (let i = 0; i < o.vectors; i++) {
      for (let d = 0; d < VECTOR_DIM; d++) v[d] = rnd() * 2 - 1;
      const ino = fs.create(dir, vectorFileName(i));
      fs.openInode(ino);
      fs.write(ino, 0, enc.encode(`vector ${i}\n`));
      fs.release(ino);
      fs.collections.setVector(ino, v);
    }
    fsync(dir);
  }
  const ms = performance.now() - t0;
  const row: ProfileRow = { workload: w, journal: !!fs.journal, ms, fsyncMs, dev: dev.take() };
  if (fs.journal) {
    row.commits = fs.journal.stats.commits - before.commits;
    row.journaledBlocks = fs.journal.stats.blocks - before.blocks;
  }
  return row;
}

function arg(name: string, def: string): string {
  const i = Deno.args.indexOf(name);
  return i >= 0 && i + 1 < Deno.args.length ? Deno.args[i + 1] : def;
}

function parseSize(s: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(s);
  if (!m) throw new Error(`bad size ${s}`);
  return Number(m[1]) * { "": 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 }[m[2].toUpperCase() as "" | "K" | "M" | "G"];
}

if (import.meta.main) {
  const sizeBytes = parseSize(arg("--size", "1G"));
  const files = Number(arg("--files", "10000"));
  const vectors = Number(arg("--vectors", "10000"));
  const repeat = Number(arg("--repeat", "3"));
  const parent = arg("--dir", "/var/tmp");
  const root = await Deno.makeTempDir({ dir: parent, prefix: "vexfs-jprof-" });
  const rows: ProfileRow[] = [];
  try {
    // the same image size and inode count as `vexfs bench` gives its VexFS targets
    const image = sizeBytes + 2 ** 30 + (files + vectors) * 8192;
    const inodes = Math.floor(image / 16384) + files + vectors;
    const opened: { fs: Vexfs; dev: CountingDevice }[] = [];
    for (const journal of [true, false]) {
      const img = `${root}/${journal ? "journal" : "nojournal"}.img`;
      mkfs(img, { size: image, inodes, label: "jprof", ...(journal ? {} : { journalBlocks: 0 }) });
      const dev = new CountingDevice(Device.open(img));
      opened.push({ fs: Vexfs.openDevice(dev), dev });
    }
    // interleaved as in the benchmark: each workload, run by run, journal then no journal
    for (const w of ["seq-write", "create", "vectors"] as const) {
      for (let rep = 0; rep < repeat; rep++) {
        for (const { fs, dev } of opened) {
          const r = runWorkload(fs, dev, w, rep, { sizeBytes, files, vectors });
          rows.push(r);
          const mb = (r.dev.writeBytes / 1e6).toFixed(1);
          console.error(
            `${w} ${r.journal ? "journal   " : "no journal"} run ${rep + 1}: ${r.ms.toFixed(0)} ms ` +
              `(final fsync ${r.fsyncMs.toFixed(1)} ms); ${r.dev.flushes} flushes ${
                r.dev.flushMs.toFixed(1)
              } ms; ${r.dev.writes} writes ${mb} MB ${r.dev.writeMs.toFixed(1)} ms` +
              (r.journal ? `; ${r.commits} commits, ${r.journaledBlocks} blocks journaled` : ""),
          );
        }
      }
    }
    for (const { fs } of opened) fs.close();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
  if (Deno.args.includes("--json")) console.log(JSON.stringify(rows, null, 1));
}
