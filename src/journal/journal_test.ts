/**
 * Tests of the jbd2-format journal (docs/FORMAT.md §9): the codecs, the
 * writer and recovery against each other and, because the format is jbd2's,
 * against e2fsprogs in both directions: a transaction debugfs writes into an
 * ext4 journal is replayed by `scanLog`/`replayLog`, and a transaction our
 * writer puts into an ext4 journal is listed by `debugfs logdump` and replayed
 * by `e2fsck`.
 */
import assert from "node:assert/strict";
import { Device } from "../device/device.ts";
import { MemDevice } from "../device/mem.ts";
import { DeviceWrapper } from "../device/wrap.ts";
import { INCOMPAT_JOURNAL, INCOMPAT_RECOVER, ROOT_INO } from "../format/constants.ts";
import {
  decodeDescriptorTags,
  decodeJournalSuperblock,
  decodeRevoke,
  encodeDescriptor,
  encodeJournalSuperblock,
  encodeRevoke,
  JBD2_FLAG_ESCAPE,
  JBD2_FLAG_LAST_TAG,
  JBD2_FLAG_SAME_UUID,
  JBD2_MAGIC,
  jbd2Crc,
  journalCsumSeed,
  journalSuperblockProblems,
  newJournalSuperblock,
  VEXFS_JBD2_INCOMPAT,
} from "../format/journal.ts";
import { decodeSuperblock } from "../format/superblock.ts";
import { computeLayout, writeFilesystem } from "../fs/mkfs.ts";
import { Vexfs } from "../fs/fs.ts";
import { Journal } from "./journal.ts";
import { recoverJournal, replayLog, scanLog } from "./recovery.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A formatted in-memory image (1 KiB blocks, a 1024-block journal unless told otherwise). */
function memImage(size = 4 << 20, journalBlocks?: number, inodes?: number): MemDevice {
  const dev = new MemDevice(size);
  const layout = computeLayout(size, { blockSize: 1024, journalBlocks, inodes });
  writeFilesystem(dev, layout, { uuid: crypto.getRandomValues(new Uint8Array(16)) });
  return dev;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * A device that stops writing after its `cutAfterSync`-th sync: every later
 * write is lost, as in a power cut right after that flush.
 */
class CutDevice extends DeviceWrapper {
  syncs = 0;
  lost = 0;
  constructor(base: MemDevice, public cutAfterSync: number) {
    super(base);
  }
  override write(off: number, data: Uint8Array) {
    if (this.syncs >= this.cutAfterSync) this.lost++;
    else this.base.write(off, data);
  }
  override sync() {
    this.syncs++;
  }
  override close() {}
}

Deno.test("jbd2Crc is the kernel's crc32c(): no final inversion", () => {
  // crc32c("123456789") = 0xE3069283 with the final XOR; jbd2 keeps the raw register.
  assert.equal(jbd2Crc(0xffffffff, enc.encode("123456789")), (~0xe3069283) >>> 0);
  // chaining is the same as one pass
  const a = enc.encode("1234"), b = enc.encode("56789");
  assert.equal(jbd2Crc(jbd2Crc(0xffffffff, a), b), jbd2Crc(0xffffffff, enc.encode("123456789")));
});

Deno.test("journal superblock: round trip, checksum, and the reader's refusals", () => {
  const uuid = crypto.getRandomValues(new Uint8Array(16));
  const j = newJournalSuperblock(4096, 2048, uuid);
  const raw = encodeJournalSuperblock(j, 4096);
  assert.deepEqual(journalSuperblockProblems(raw, 4096, 2048), []);
  const back = decodeJournalSuperblock(raw);
  assert.equal(back.maxlen, 2048);
  assert.equal(back.featureIncompat, VEXFS_JBD2_INCOMPAT);
  assert.deepEqual(back.uuid, uuid);
  assert.equal(new DataView(raw.buffer).getUint32(0, false), JBD2_MAGIC, "big-endian magic");
  const bad = raw.slice();
  bad[0x18] ^= 1;
  assert.match(journalSuperblockProblems(bad, 4096, 2048).join(), /checksum/);
  assert.match(journalSuperblockProblems(raw, 1024, 2048).join(), /block size/);
  assert.match(journalSuperblockProblems(raw, 4096, 4096).join(), /differs/);
  const noCsum = encodeJournalSuperblock({ ...j, featureIncompat: 0x3 }, 4096);
  assert.match(journalSuperblockProblems(noCsum, 4096, 2048).join(), /CSUM_V3/);
});

Deno.test("descriptor and revoke blocks: 64-bit tags, UUID after the first, flags, tails", () => {
  const uuid = crypto.getRandomValues(new Uint8Array(16));
  const seed = journalCsumSeed(uuid);
  const tags = [
    { block: 5, escaped: false, checksum: 1 },
    { block: 2 ** 40 + 7, escaped: true, checksum: 2 },
    { block: 9, escaped: false, checksum: 3 },
  ];
  const d = encodeDescriptor(77, tags, uuid, 1024, seed);
  const got = decodeDescriptorTags(d);
  assert.deepEqual(got.map((t) => t.block), [5, 2 ** 40 + 7, 9]);
  assert.equal(got[0].flags & JBD2_FLAG_SAME_UUID, 0);
  assert.ok(got[1].flags & JBD2_FLAG_SAME_UUID && got[1].flags & JBD2_FLAG_ESCAPE);
  assert.ok(got[2].flags & JBD2_FLAG_LAST_TAG);
  const r = encodeRevoke(77, [3, 2 ** 35], 1024, seed);
  assert.deepEqual(decodeRevoke(r), [3, 2 ** 35]);
});

Deno.test("a committed transaction survives a power cut before its home writes and replays", () => {
  const base = memImage();
  let fs = Vexfs.openDevice(new MemDevice(base.bytes));
  const a = fs.create(ROOT_INO, "a.txt");
  fs.write(a, 0, enc.encode("before"));
  fs.close();
  // Power is cut right after the commit's second flush: home writes are lost.
  const cut = new CutDevice(base, Number.MAX_SAFE_INTEGER);
  fs = Vexfs.openDevice(cut);
  const b = fs.create(ROOT_INO, "b.txt");
  fs.write(b, 0, enc.encode("durable"));
  fs.mkdir(ROOT_INO, "dir");
  const syncsBefore = cut.syncs;
  fs.fsync(b);
  assert.equal(cut.syncs - syncsBefore, 2, "a commit is two flushes: before and after the commit block");
  cut.cutAfterSync = cut.syncs; // nothing after this reaches the disk
  fs.create(ROOT_INO, "lost.txt"); // never committed
  fs.sync();
  assert.ok(cut.lost > 0);
  // The home locations do not have b.txt yet; the journal does.
  const sb = decodeSuperblock(base.bytes.subarray(1024, 2048));
  assert.ok(sb.featureIncompat & INCOMPAT_RECOVER, "RECOVER is set while in use");
  fs = Vexfs.openDevice(new MemDevice(base.bytes));
  assert.ok(fs.recovery?.needed);
  assert.ok((fs.recovery?.transactions ?? 0) >= 1);
  assert.equal(dec.decode(fs.read(fs.lookup(ROOT_INO, "b.txt"), 0, 100)), "durable");
  assert.equal(dec.decode(fs.read(fs.lookup(ROOT_INO, "a.txt"), 0, 100)), "before");
  fs.lookup(ROOT_INO, "dir");
  assert.throws(() => fs.lookup(ROOT_INO, "lost.txt"), /no entry/);
  fs.close();
  const after = decodeSuperblock(base.bytes.subarray(1024, 2048));
  assert.equal(after.featureIncompat & INCOMPAT_RECOVER, 0, "a clean close clears RECOVER");
  assert.ok(after.featureIncompat & INCOMPAT_JOURNAL);
});

Deno.test("a primary superblock torn by a power cut during its home write is restored from the journal", () => {
  const base = memImage();
  const cut = new CutDevice(base, Number.MAX_SAFE_INTEGER);
  const fs = Vexfs.openDevice(cut);
  fs.create(ROOT_INO, "kept");
  fs.sync(); // committed; the superblock's block is in the log
  cut.cutAfterSync = cut.syncs;
  fs.close();
  // Tear the primary: its second sector is garbage, as a cut between two sector writes leaves it.
  base.bytes.fill(0x5a, 1536, 2048);
  const warnings: string[] = [];
  const again = Vexfs.openDevice(new MemDevice(base.bytes), { onWarning: (m) => warnings.push(m) });
  assert.ok(again.recovery?.transactions, "the replay restored the superblock");
  again.lookup(ROOT_INO, "kept");
  again.close();
  assert.equal(decodeSuperblock(base.bytes.subarray(1024, 2048)).magic, 0x53465856);
  // Without a journal entry to restore it from, a torn primary is refused (fsck repairs it from the backup).
  const noLog = memImage();
  noLog.bytes.fill(0x5a, 1536, 2048);
  assert.throws(() => Vexfs.openDevice(noLog), /checksum/);
});

Deno.test("a read-only open replays into memory and writes nothing", () => {
  const base = memImage();
  const cut = new CutDevice(base, Number.MAX_SAFE_INTEGER);
  const fs = Vexfs.openDevice(cut);
  const f = fs.create(ROOT_INO, "f");
  fs.write(f, 0, enc.encode("x"));
  fs.sync();
  cut.cutAfterSync = cut.syncs;
  fs.close(); // lost: the image needs recovery
  const image = base.bytes.slice();
  const ro = Vexfs.openDevice(new MemDevice(image, { readOnly: true }), { readOnly: true });
  assert.ok(ro.recovery?.needed);
  assert.equal(dec.decode(ro.read(ro.lookup(ROOT_INO, "f"), 0, 10)), "x");
  ro.close();
  assert.ok(sameBytes(image, base.bytes), "not a byte changed");
});

Deno.test("freed blocks wait for the commit and journaled ones are revoked", () => {
  const base = memImage();
  const fs = Vexfs.openDevice(base);
  const d = fs.mkdir(ROOT_INO, "d");
  for (let i = 0; i < 200; i++) fs.create(d, `file-with-a-long-name-${i}`); // directory blocks, journaled
  fs.sync();
  const dirBlocks = [...fs.extents(fs.iget(d))].flatMap((e) =>
    Array.from({ length: e.length }, (_, k) => e.physical + k)
  );
  for (let i = 0; i < 200; i++) fs.unlink(d, `file-with-a-long-name-${i}`);
  fs.rmdir(ROOT_INO, "d");
  assert.ok(fs.blockMap.heldCount >= dirBlocks.length, "freed blocks are held until the commit");
  // A data write now must not land on a block freed in this transaction.
  const g = fs.create(ROOT_INO, "g");
  fs.write(g, 0, new Uint8Array(20 * 1024).fill(9));
  const used = fs.extents(fs.iget(g)).flatMap((e) => Array.from({ length: e.length }, (_, k) => e.physical + k));
  assert.deepEqual(used.filter((b) => dirBlocks.includes(b)), []);
  const before = fs.journal!.stats.revokes;
  fs.sync();
  assert.ok(fs.journal!.stats.revokes - before >= dirBlocks.length, "the freed directory blocks were revoked");
  assert.equal(fs.blockMap.heldCount, 0);
  fs.close();
});

Deno.test("a transaction larger than a quarter of the log commits at the end of its operation", () => {
  const base = memImage(8 << 20, undefined, 4096);
  const fs = Vexfs.openDevice(base);
  const soft = fs.journal!.softLimit;
  const before = fs.journal!.stats.commits;
  for (let i = 0; i < 2000; i++) fs.create(ROOT_INO, `n${i}`); // ~ 1 inode block per 4 files, plus directory blocks
  assert.ok(fs.journal!.stats.commits > before, `commits happen without sync once ${soft} blocks are dirty`);
  // the log wraps around many times without a checkpoint going wrong
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 2000; i += 7) fs.setattr(fs.lookup(ROOT_INO, `n${i}`), { mode: 0o600 + (round & 7) });
    fs.sync();
  }
  assert.ok(fs.journal!.stats.checkpoints > 0);
  fs.close();
  const again = Vexfs.openDevice(new MemDevice(base.bytes));
  assert.equal(again.getattr(again.lookup(ROOT_INO, "n1995")).mode & 0o777, 0o600 + (19 & 7));
  again.close();
});

// ------------------------------------------------------------------ e2fsprogs

function have(cmd: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`], stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}

function run(cmd: string, args: string[]): { code: number; out: string } {
  const r = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  return { code: r.code, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
}

const haveE2fs = have("mkfs.ext4") && have("debugfs") && have("e2fsck");

/** An ext4 image with a 1024-block journal; returns its path and the journal's block map (inode 8). */
function ext4Image(): { path: string; map: (j: number) => number } {
  const path = Deno.makeTempFileSync({ suffix: ".ext4" });
  Deno.truncateSync(path, 64 << 20);
  const mk = run("mkfs.ext4", ["-q", "-F", "-b", "4096", "-O", "metadata_csum", "-J", "size=4", path]);
  assert.equal(mk.code, 0, mk.out);
  const stat = run("debugfs", ["-R", "stat <8>", path]).out;
  const runs = [...stat.matchAll(/\((\d+)(?:-(\d+))?\):(\d+)(?:-\d+)?/g)].map((m) => ({
    lo: Number(m[1]),
    hi: Number(m[2] ?? m[1]),
    p: Number(m[3]),
  }));
  assert.ok(runs.length > 0, stat);
  return {
    path,
    map: (j) => {
      const r = runs.find((x) => j >= x.lo && j <= x.hi)!;
      return r.p + (j - r.lo);
    },
  };
}

Deno.test({
  name: "e2fsprogs -> VexFS: a transaction debugfs writes into an ext4 journal replays with scanLog/replayLog",
  ignore: !haveE2fs,
  fn() {
    const { path, map } = ext4Image();
    try {
      const blk = crypto.getRandomValues(new Uint8Array(4096));
      const blkFile = Deno.makeTempFileSync();
      Deno.writeFileSync(blkFile, blk);
      const cmds = Deno.makeTempFileSync();
      Deno.writeTextFileSync(cmds, `jo -c\njw -b 3000 ${blkFile}\njw -r 3001\njc\n`);
      const w = run("debugfs", ["-w", "-f", cmds, path]);
      assert.match(w.out, /csum v3/, w.out);
      const dev = Device.open(path, { readOnly: true });
      try {
        const readJ = (j: number) => {
          const b = new Uint8Array(4096);
          dev.read(map(j) * 4096, b);
          return b;
        };
        const jsb = decodeJournalSuperblock(readJ(0));
        assert.deepEqual(journalSuperblockProblems(readJ(0), 4096, jsb.maxlen), [], "we accept e2fsprogs' superblock");
        const scan = scanLog(readJ, jsb);
        assert.deepEqual(scan.notes, []);
        assert.equal(scan.transactions.length, 2);
        assert.deepEqual(scan.transactions[0].blocks.map((b) => b.fsBlock), [3000]);
        assert.deepEqual(scan.transactions[1].revokes, [3001]);
        const applied = new Map<number, Uint8Array>();
        const stats = replayLog(readJ, jsb, scan, 1 << 20, (b, data) => applied.set(b, data));
        assert.deepEqual(stats.badBlocks, [], "e2fsprogs' tag checksums verify");
        assert.deepEqual(applied.get(3000), blk);
      } finally {
        dev.close();
        Deno.removeSync(blkFile);
        Deno.removeSync(cmds);
      }
    } finally {
      Deno.removeSync(path);
    }
  },
});

Deno.test({
  name: "VexFS -> e2fsprogs: our transactions pass debugfs logdump and e2fsck replays them (escape and revoke too)",
  ignore: !haveE2fs,
  fn() {
    const { path, map } = ext4Image();
    try {
      // mke2fs leaves the journal features to the first mount; give it ours (as the kernel would for metadata_csum).
      {
        const dev = Device.open(path);
        const raw = new Uint8Array(4096);
        dev.read(map(0) * 4096, raw);
        const jsb = decodeJournalSuperblock(raw);
        jsb.featureIncompat = VEXFS_JBD2_INCOMPAT;
        jsb.checksumType = 4;
        dev.write(map(0) * 4096, encodeJournalSuperblock(jsb, 4096));
        dev.sync();
        dev.close();
      }
      const plain = crypto.getRandomValues(new Uint8Array(4096));
      const magic = crypto.getRandomValues(new Uint8Array(4096));
      new DataView(magic.buffer).setUint32(0, JBD2_MAGIC, false); // must be escaped
      const old = new Uint8Array(4096).fill(0x55);
      const dev = Device.open(path);
      try {
        const j = Journal.openMapped(dev, 4096, map, 1024);
        j.commit(new Map([[3005, old]]), []); // an older copy of 3005 ...
        j.commit(new Map([[3000, plain], [3002, magic]]), [3005]); // ... revoked here
        // Lose the home writes, as if power went before them.
        dev.write(3000 * 4096, new Uint8Array(4096));
        dev.write(3002 * 4096, new Uint8Array(4096));
        dev.write(3005 * 4096, new Uint8Array(4096).fill(0xaa)); // "new data" the revoke protects
        dev.sync();
      } finally {
        dev.close();
      }
      assert.equal(run("debugfs", ["-w", "-R", "feature needs_recovery", path]).code, 0);
      const dump = run("debugfs", ["-R", "logdump", path]).out;
      assert.match(dump, /Found expected sequence \d+, type 1 \(descriptor block\)/, dump);
      assert.match(dump, /type 5 \(revoke table\)/, dump);
      assert.match(dump, /type 2 \(commit block\)/, dump);
      assert.doesNotMatch(dump, /checksum|bad|corrupt/i, dump);
      const fsck = run("e2fsck", ["-fy", path]);
      assert.ok(fsck.code === 0 || fsck.code === 1, fsck.out);
      assert.match(fsck.out, /recovering journal/, fsck.out);
      const back = Device.open(path, { readOnly: true });
      try {
        const b = new Uint8Array(4096);
        back.read(3000 * 4096, b);
        assert.deepEqual(b, plain, "replayed");
        back.read(3002 * 4096, b);
        assert.deepEqual(b, magic, "replayed with its escaped magic restored");
        back.read(3005 * 4096, b);
        assert.deepEqual(b, new Uint8Array(4096).fill(0xaa), "the revoked old copy was not replayed");
      } finally {
        back.close();
      }
    } finally {
      Deno.removeSync(path);
    }
  },
});

Deno.test("recoverJournal on an image without a journal or with an empty log does nothing", () => {
  const noj = memImage(4 << 20, 0);
  const sb = decodeSuperblock(noj.bytes.subarray(1024, 2048));
  assert.equal(sb.featureIncompat & INCOMPAT_JOURNAL, 0);
  assert.equal(recoverJournal(noj, sb, { write: true }).needed, false);
  const withj = memImage();
  const sb2 = decodeSuperblock(withj.bytes.subarray(1024, 2048));
  const copy = withj.bytes.slice();
  const r = recoverJournal(withj, sb2, { write: true });
  assert.equal(r.needed, false);
  assert.ok(sameBytes(withj.bytes, copy));
});
