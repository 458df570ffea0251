/**
 * fsck's modes and options, as e2fsck's: -n changes nothing, -p repairs only
 * what is safe and otherwise stops with exit 4, -y repairs all and a second
 * -y is clean, bad combinations are usage errors (16), a clean filesystem is
 * skipped without -f, a repair records the check and clears the error
 * record, and the command line says all this with fsck(8)'s exit codes.
 * @module
 */
import assert from "node:assert/strict";
import { MemDevice } from "../device/mem.ts";
import { INODE_SIZE } from "../format/constants.ts";
import { decodeSuperblock, encodeSuperblock } from "../format/superblock.ts";
import { Vexfs } from "../fs/fs.ts";
import { computeLayout, writeFilesystem } from "../fs/mkfs.ts";
import { fsck, FSCK_ERROR, FSCK_NONDESTRUCT, FSCK_OK, FSCK_UNCORRECTED, FSCK_USAGE, type FsckReport } from "./fsck.ts";
import { buildPopulated, reportText } from "./_testutil.ts";

const show = (r: FsckReport) => reportText(r);

/** A closed, clean image (no journal, 1 MiB) and helpers to damage it. */
function image(): { bytes: Uint8Array; a: number } {
  const { dev, lm } = buildPopulated({ size: 1 << 20, journalBlocks: 0, inodes: 128 });
  return { bytes: dev.bytes, a: lm.a };
}

function editSb(bytes: Uint8Array, f: (sb: ReturnType<typeof decodeSuperblock>) => void): void {
  const sb = decodeSuperblock(bytes.subarray(1024, 2048));
  f(sb);
  bytes.set(encodeSuperblock(sb), 1024);
}

function flipInodeByte(bytes: Uint8Array, ino: number, off: number): void {
  const sb = decodeSuperblock(bytes.subarray(1024, 2048));
  bytes[sb.inodeTableStart * (1024 << sb.logBlockSize) + (ino - 1) * INODE_SIZE + off] ^= 0x08;
}

Deno.test("fsck -n changes nothing, even with problems and a journal to replay", () => {
  // Built and closed, then a second run that leaves an orphan and a journal to replay: that run turns no feature
  // on, so its transactions do not hold the backup superblock (a first collection's would), and the damage to the
  // backup below stays after the replay.
  const dev = new MemDevice(buildPopulated({ size: 2 << 20 }).dev.bytes);
  const fs = Vexfs.openDevice(dev);
  const tmp = fs.create(2, "tmp");
  fs.write(tmp, 0, new Uint8Array(5000).fill(7));
  fs.openInode(tmp);
  fs.unlink(2, "tmp");
  fs.sync(); // the holder dies here: never released, never closed
  dev.bytes[dev.bytes.length - 1024 + 140] ^= 1; // the backup superblock, which the journal does not hold
  const before = dev.bytes.slice();
  const r = fsck(new MemDevice(dev.bytes), { readOnly: true });
  assert.equal(r.exitCode, FSCK_UNCORRECTED, show(r));
  assert.ok(r.problems.some((p) => p.code === "JOURNAL_RECOVERED" && !p.fixed), show(r));
  assert.ok(r.problems.every((p) => !p.fixed), show(r));
  assert.ok(dev.bytes.every((x, i) => x === before[i]), "nothing written");
});

Deno.test("fsck -p repairs what is safe (counts, orphans, dirty flag) and a second -p is clean", () => {
  const { bytes } = image();
  editSb(bytes, (sb) => {
    sb.freeBlocks += 3;
    sb.state = 2;
  });
  const dev = new MemDevice(bytes);
  const r = fsck(dev, { preen: true });
  assert.equal(r.exitCode, FSCK_NONDESTRUCT, show(r));
  assert.ok(r.problems.some((p) => p.code === "SB_FREE_BLOCKS" && p.fixed), show(r));
  const again = fsck(dev, { preen: true });
  assert.equal(again.exitCode, FSCK_OK, show(again));
  assert.equal(again.problems.length, 0, show(again));
});

Deno.test("fsck -p stops at a problem that needs a person: exit 4, UNEXPECTED INCONSISTENCY, nothing written", () => {
  const { bytes, a } = image();
  flipInodeByte(bytes, a, 44);
  editSb(bytes, (sb) => sb.freeBlocks += 3);
  const before = bytes.slice();
  const r = fsck(new MemDevice(bytes), { preen: true });
  assert.equal(r.exitCode, FSCK_UNCORRECTED, show(r));
  const halt = r.problems.find((p) => p.code === "PREEN_HALT");
  assert.ok(halt && /UNEXPECTED INCONSISTENCY/.test(halt.message) && /INODE_CHECKSUM/.test(halt.message), show(r));
  assert.ok(bytes.every((x, i) => x === before[i]), "a halted preen writes nothing");
  const y = fsck(new MemDevice(bytes), { yes: true });
  assert.equal(y.exitCode, FSCK_NONDESTRUCT, show(y));
});

Deno.test("fsck -y records the check: state clean, error record and mount count zeroed, check_time set", () => {
  const { bytes } = image();
  editSb(bytes, (sb) => {
    sb.state = 3;
    sb.errorCount = 4;
    sb.firstErrorErrno = sb.lastErrorErrno = 117;
    sb.firstErrorTime = sb.lastErrorTime = 1_700_000_000;
    sb.firstErrorIno = sb.lastErrorIno = 19;
    sb.firstErrorOp = "lookup";
    sb.lastErrorOp = "write";
    sb.mountCount = 9;
    sb.checkTime = 5;
  });
  const dev = new MemDevice(bytes);
  const r = fsck(dev, { yes: true });
  assert.equal(r.exitCode, FSCK_NONDESTRUCT, show(r));
  assert.ok(r.problems.some((p) => p.code === "SB_ERROR_STATE" && p.fixed), show(r));
  for (const at of [1024, bytes.length - 1024]) {
    const sb = decodeSuperblock(bytes.subarray(at, at + 1024));
    assert.equal(sb.state, 1);
    assert.equal(sb.errorCount, undefined, "the error record is all zeros");
    assert.equal(sb.mountCount, 0);
    assert.ok(sb.checkTime > 1_700_000_000);
  }
  assert.equal(fsck(dev, { yes: true }).exitCode, FSCK_OK);
});

Deno.test("fsck usage errors (exit 16), a read-only device cannot be repaired (exit 8)", () => {
  const { bytes } = image();
  for (const opts of [{ readOnly: true, yes: true }, { readOnly: true, preen: true }, { preen: true, yes: true }]) {
    const r = fsck(new MemDevice(bytes), opts);
    assert.equal(r.exitCode, FSCK_USAGE, JSON.stringify(opts));
    assert.equal(r.problems[0].code, "USAGE");
  }
  const ro = fsck(new MemDevice(bytes, { readOnly: true }), { yes: true });
  assert.equal(ro.exitCode, FSCK_ERROR, show(ro));
});

Deno.test("without force a clean filesystem is skipped with its counts; anything unclean is checked", () => {
  const { dev } = buildPopulated({ size: 2 << 20 });
  const r = fsck(new MemDevice(dev.bytes, { readOnly: true }), { force: false });
  assert.equal(r.skipped, true);
  assert.equal(r.exitCode, 0);
  const full = fsck(new MemDevice(dev.bytes, { readOnly: true }));
  assert.deepEqual(
    [r.stats.files, r.stats.dirs, r.stats.symlinks, r.stats.vectors, r.stats.collections],
    [full.stats.files, full.stats.dirs, full.stats.symlinks, full.stats.vectors, full.stats.collections],
  );
  // a damaged inode forces the check (the quick scan verifies what it reads)
  const damaged = dev.bytes.slice();
  flipInodeByte(damaged, 19, 44);
  const d = fsck(new MemDevice(damaged, { readOnly: true }), { force: false });
  assert.equal(d.skipped, false);
  assert.equal(d.exitCode, FSCK_UNCORRECTED, show(d));
  // a journal that needs recovery forces it too
  const crashed = buildPopulated({ size: 2 << 20, crash: true }).dev.bytes;
  const c = fsck(new MemDevice(crashed, { readOnly: true }), { force: false });
  assert.equal(c.skipped, false);
  assert.ok(c.problems.some((p) => p.code === "JOURNAL_RECOVERED"), show(c));
  // bitmaps that the engine would not trust (it refuses to mount and says "run vexfs fsck -y") force it as well
  const zeroed = dev.bytes.slice();
  const sb = decodeSuperblock(zeroed.subarray(1024, 2048));
  zeroed.fill(0, sb.blockBitmapStart * 1024, (sb.blockBitmapStart + sb.blockBitmapBlocks) * 1024);
  const z = fsck(new MemDevice(zeroed), { force: false, yes: true });
  assert.equal(z.skipped, false);
  assert.equal(z.exitCode, FSCK_NONDESTRUCT, show(z));
  Vexfs.openDevice(new MemDevice(zeroed)).close(); // and the engine trusts the repaired image
});

Deno.test("the engine opens what fsck -y leaves after a recovery, and fsck counts what the engine does", () => {
  const { dev } = buildPopulated({ size: 2 << 20, orphan: true });
  const d = new MemDevice(dev.bytes);
  const r = fsck(d, { yes: true });
  assert.ok(r.exitCode === FSCK_OK || r.exitCode === FSCK_NONDESTRUCT, show(r));
  const fs = Vexfs.openDevice(new MemDevice(dev.bytes));
  assert.deepEqual(fs.recoveredOrphans, [], "fsck freed the orphan");
  fs.close();
  assert.equal(fsck(new MemDevice(dev.bytes)).exitCode, FSCK_OK);
});

// ---------------------------------------------------------------- the command line

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const DENO = Deno.execPath();

async function vexfs(args: string[]): Promise<{ code: number; out: string }> {
  const o = await new Deno.Command(DENO, {
    args: ["run", "--allow-all", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", VEXFS_NO_PROGRESS: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
}

Deno.test({
  name: "vexfs fsck: -n, -p, -y, -f and their exit codes; a repair of an image in use is refused",
  sanitizeResources: false,
  fn: async () => {
    const dir = Deno.makeTempDirSync({ prefix: "vexfs-fsck-cli-" });
    try {
      const img = `${dir}/d.img`;
      const { bytes, a } = image();
      Deno.writeFileSync(img, bytes);
      let r = await vexfs(["fsck", img]);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /clean.*not checked: marked clean/);
      r = await vexfs(["fsck", "-n", "-y", img]);
      assert.equal(r.code, 16, r.out);
      r = await vexfs(["fsck", "--no-such-option", img]);
      assert.equal(r.code, 16, r.out);
      const damaged = bytes.slice();
      flipInodeByte(damaged, a, 44);
      Deno.writeFileSync(img, damaged);
      r = await vexfs(["fsck", "-f", img]);
      assert.equal(r.code, 4, r.out);
      assert.match(r.out, /INODE_CHECKSUM .*Recompute the checksum\? no/);
      assert.match(r.out, /Nothing was changed/);
      r = await vexfs(["fsck", "-p", img]);
      assert.equal(r.code, 4, r.out);
      assert.match(r.out, /UNEXPECTED INCONSISTENCY/);
      r = await vexfs(["fsck", "-y", img]);
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, /Recompute the checksum\? yes/);
      assert.match(r.out, /FILESYSTEM WAS MODIFIED/);
      r = await vexfs(["fsck", "-f", "-y", img]);
      assert.equal(r.code, 0, r.out);
      const fs = Vexfs.open(img);
      try {
        r = await vexfs(["fsck", "-y", img]);
        assert.equal(r.code, 8, r.out);
        assert.match(r.out, /in use/);
        // without an explicit -n, even a check is refused while in use, as e2fsck refuses a mounted filesystem
        r = await vexfs(["fsck", "-f", img]);
        assert.equal(r.code, 8, r.out);
        assert.match(r.out, /unmount it first, or check it read-only with -n/);
        r = await vexfs(["fsck", "-n", "-f", img]);
        assert.ok(r.code === 0 || r.code === 4, r.out);
        assert.match(r.out, /IN_USE/);
      } finally {
        fs.close();
      }
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test("on a full filesystem, what is reconnected goes into / when /lost+found cannot be created (as e2fsck)", () => {
  const dev = new MemDevice(1 << 20);
  writeFilesystem(dev, computeLayout(dev.size, { blockSize: 1024, journalBlocks: 0 }), {
    uuid: new Uint8Array(16).fill(1),
    blockSize: 1024,
  });
  const fs = Vexfs.openDevice(dev);
  const d = fs.mkdir(2, "d");
  for (let i = 0; i < 20; i++) fs.create(d, `f${i}`);
  const big = fs.create(2, "big");
  assert.throws(() => {
    for (let off = 0;; off += 1024) fs.write(big, off, new Uint8Array(1024).fill(1));
  });
  fs.close();
  const ro = Vexfs.openDevice(new MemDevice(dev.bytes.slice(), { readOnly: true }), { readOnly: true });
  const leaf = ro.bmap(ro.iget(2), 1);
  ro.close();
  dev.bytes.fill(0, leaf * 1024, leaf * 1024 + 1024); // the root's leaf: d and big are unreachable
  const m = new MemDevice(dev.bytes);
  const r = fsck(m, { yes: true });
  assert.equal(r.exitCode, FSCK_NONDESTRUCT, show(r));
  assert.ok(
    r.problems.some((p) => p.code === "LOST_FOUND" && p.fix === "Place what is reconnected in / instead"),
    show(r),
  );
  assert.equal(fsck(m, { yes: true }).exitCode, FSCK_OK);
  const after = Vexfs.openDevice(new MemDevice(dev.bytes, { readOnly: true }), { readOnly: true });
  const names = [...after.readdir(2)].map((e) => e.name).sort();
  after.close();
  assert.deepEqual(names, [`#${big}`, `#${d}`].sort());
});
