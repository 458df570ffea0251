/**
 * Writes the golden images in testdata/ (run once when the format changes,
 * then update src/format/golden_test.ts):
 *   deno run -A testdata/make_golden.ts
 * The content is fixed; mkfs gets a fixed UUID, hash seed and time, and the
 * file times are set explicitly, so only inode generations are random.
 */
import { Vexfs } from "../src/fs/fs.ts";
import { mkfs } from "../src/fs/mkfs.ts";
import { Device } from "../src/device/device.ts";
import { DeviceWrapper } from "../src/device/wrap.ts";

const dir = new URL(".", import.meta.url).pathname;
const enc = new TextEncoder();
const t = { sec: 1700000001, nsec: 500000000 };

for (const bs of [1024, 4096]) {
  const path = `${dir}golden-${bs / 1024}k.vexfs`;
  try {
    Deno.removeSync(path);
  } catch { /* absent */ }
  mkfs(path, {
    size: bs === 1024 ? 128 * 1024 : 256 * 1024,
    blockSize: bs,
    inodes: 64,
    label: "golden",
    uuid: "0123f567-89ab-4def-8123-456789abcdef",
    hashSeed: 0x12345678,
    time: 1700000000,
  });
  const fs = Vexfs.open(path);
  const hello = fs.create(2, "hello.txt", 0o644, 1000, 1000);
  fs.write(hello, 0, enc.encode("Hello, VexFS!\n"));
  fs.setxattr(hello, "user.tag", enc.encode("golden"));
  fs.symlink(2, "link", "hello.txt");
  const docs = fs.mkdir(2, "docs", 0o755);
  fs.collections.create(docs, { dim: 4, metric: "l2", elem: "f32" });
  const a = fs.create(docs, "a.md");
  fs.write(a, 0, enc.encode("alpha\n"));
  fs.collections.setVector(a, new Float32Array([1, 2, 3, 4]));
  const b = fs.create(docs, "b.md");
  fs.collections.setVector(b, new Float32Array([0.5, -1, 0, 2]));
  for (const ino of [hello, fs.lookup(2, "link"), docs, a, b, 2]) fs.setattr(ino, { atime: t, mtime: t });
  fs.close();
  console.log(`wrote ${path}`);
}

// A journaled image left as a power cut right after a commit leaves it: the
// transaction is in the log, its blocks never reached their home locations
// (FORMAT.md §9). Readers must replay it: src/format/golden_test.ts checks the
// jbd2 structures field by field and the replayed contents.
{
  const path = `${dir}golden-journal-1k.vexfs`;
  try {
    Deno.removeSync(path);
  } catch { /* absent */ }
  mkfs(path, {
    size: 2 << 20,
    blockSize: 1024,
    inodes: 64,
    label: "golden-journal",
    uuid: "0123f567-89ab-4def-8123-456789abcde0",
    hashSeed: 0x12345678,
    time: 1700000000,
    journalSequence: 100,
  });
  const dev = Device.open(path);
  /** Drops every write after `cut` flushes, as a power cut would. */
  let cut = Number.MAX_SAFE_INTEGER;
  let syncs = 0;
  const lossy = new class extends DeviceWrapper {
    override write(o: number, d: Uint8Array) {
      if (syncs < cut) this.base.write(o, d);
    }
    override sync() {
      syncs++;
      if (syncs <= cut) this.base.sync();
    }
  }(dev);
  const fs = Vexfs.openDevice(lossy); // commits transaction 100 (RECOVER)
  const f = fs.create(2, "journaled.txt", 0o644, 1000, 1000);
  fs.write(f, 0, enc.encode("replay me\n"));
  fs.setattr(f, { atime: t, mtime: t });
  fs.mkdir(2, "dir", 0o750);
  fs.sync(); // commits transaction 101; its home writes are the first writes after the commit
  cut = syncs;
  fs.close();
  console.log(`wrote ${path}`);
}
