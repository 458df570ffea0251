/**
 * The journaled golden image (testdata/golden-journal-1k.vexfs, written by
 * testdata/make_golden.ts): a filesystem left as a power cut right after a
 * commit leaves it. Its jbd2 structures are checked byte by byte and field by
 * field (docs/FORMAT.md §9), the log is scanned, and replaying it (in memory)
 * must show what the committed transaction made. The kernel module is to
 * replay the same image through fs/jbd2.
 */
import assert from "node:assert/strict";
import { MemDevice } from "../device/mem.ts";
import { IFL_INTERNAL, INCOMPAT_JOURNAL, INCOMPAT_RECOVER, JOURNAL_INO, ROOT_INO } from "../format/constants.ts";
import { decodeExtentNode, type Extent } from "../format/extent.ts";
import { decodeInode } from "../format/inode.ts";
import {
  decodeDescriptorTags,
  decodeJournalSuperblock,
  JBD2_FLAG_LAST_TAG,
  journalSuperblockProblems,
  readHeader,
} from "../format/journal.ts";
import { decodeSuperblock, uuidToString } from "../format/superblock.ts";
import { Vexfs } from "../fs/fs.ts";
import { recoverJournal, scanLog } from "./recovery.ts";

const BS = 1024;

Deno.test("golden journal image: superblock, journal inode and jbd2 superblock decode field by field", () => {
  const img = Deno.readFileSync(new URL("../../testdata/golden-journal-1k.vexfs", import.meta.url));
  const sb = decodeSuperblock(img.subarray(1024, 2048));
  assert.equal(sb.featureIncompat, 0x1f, "EXTENTS|HTREE|VECTORS|JOURNAL|RECOVER");
  assert.ok(sb.featureIncompat & INCOMPAT_JOURNAL && sb.featureIncompat & INCOMPAT_RECOVER);
  assert.equal(sb.state, 1, "a journaled filesystem stays clean while in use");
  assert.deepEqual([sb.journalIno, sb.journalBlocks], [4, 1024]);
  const ji = decodeInode(
    JOURNAL_INO,
    img.subarray(sb.inodeTableStart * BS + (JOURNAL_INO - 1) * 256, sb.inodeTableStart * BS + JOURNAL_INO * 256),
  );
  assert.equal(ji.mode, 0o100600);
  assert.equal(ji.flags, IFL_INTERNAL);
  assert.equal(ji.nlink, 1);
  assert.equal(ji.size, 1024 * BS);
  assert.equal(ji.blocks, 1024);
  const root = decodeExtentNode(ji.data, JOURNAL_INO) as { depth: 0; extents: Extent[] };
  assert.deepEqual(root.extents, [{ logical: 0, physical: sb.firstDataBlock + 1, length: 1024, flags: 0 }]);
  const j0 = sb.firstDataBlock + 1;
  const jraw = img.subarray(j0 * BS, (j0 + 1) * BS);
  // big-endian on disk: magic c03b3998, block type 4 (superblock v2)
  assert.deepEqual([...jraw.subarray(0, 8)], [0xc0, 0x3b, 0x39, 0x98, 0, 0, 0, 4]);
  assert.deepEqual(journalSuperblockProblems(jraw, BS, 1024), []);
  const jsb = decodeJournalSuperblock(jraw);
  assert.equal(jsb.blockSize, 1024);
  assert.equal(jsb.maxlen, 1024);
  assert.equal(jsb.first, 1);
  assert.equal(jsb.sequence, 100, "the first transaction in the log");
  assert.equal(jsb.start, 1, "the log is not empty: it needs recovery");
  assert.equal(jsb.errno, 0);
  assert.equal(jsb.featureCompat, 0);
  assert.equal(jsb.featureIncompat, 0x13, "REVOKE|64BIT|CSUM_V3");
  assert.equal(jsb.featureRoCompat, 0);
  assert.equal(uuidToString(jsb.uuid), uuidToString(sb.uuid));
  assert.equal(jsb.nrUsers, 1);
  assert.equal(jsb.checksumType, 4);
  assert.equal(jsb.numFcBlocks, 0);
});

Deno.test("golden journal image: the log holds transactions 100 and 101 and replaying them shows the files", () => {
  const img = Deno.readFileSync(new URL("../../testdata/golden-journal-1k.vexfs", import.meta.url));
  const sb = decodeSuperblock(img.subarray(1024, 2048));
  const j0 = sb.firstDataBlock + 1;
  const readJ = (j: number) => img.slice((j0 + j) * BS, (j0 + j + 1) * BS);
  const jsb = decodeJournalSuperblock(readJ(0));
  const scan = scanLog(readJ, jsb);
  assert.deepEqual(scan.notes, []);
  assert.deepEqual(scan.transactions.map((t) => t.tid), [100, 101]);
  assert.equal(scan.nextTid, 102);
  // every transaction carries the superblock's block (1 with 1 KiB blocks) first in block order
  for (const t of scan.transactions) assert.ok(t.blocks.some((b) => b.fsBlock === 1), `transaction ${t.tid}`);
  const t101 = scan.transactions[1];
  assert.ok(t101.blocks.some((b) => b.fsBlock === sb.inodeBitmapStart), "the inode bitmap");
  assert.ok(t101.blocks.some((b) => b.fsBlock === sb.firstDataBlock), "the root directory block");
  // its descriptor is the first block of the transaction, its last tag says so
  const d = readJ(t101.start);
  assert.deepEqual(readHeader(d), { magic: 0xc03b3998, blockType: 1, sequence: 101 });
  const tags = decodeDescriptorTags(d);
  assert.equal(tags.length, t101.blocks.length);
  assert.ok(tags.at(-1)!.flags & JBD2_FLAG_LAST_TAG);
  // Home locations were never written: the root directory on disk does not know the file.
  const name = new TextEncoder().encode("journaled.txt");
  const rootHome = img.subarray(sb.firstDataBlock * BS, (sb.firstDataBlock + 1) * BS);
  assert.ok(!contains(rootHome, name), "the root directory's home block predates the transaction");
  const homeRo = Vexfs.openDevice(new MemDevice(img.slice(), { readOnly: true }), { readOnly: true });
  assert.equal(dec(homeRo.read(homeRo.lookup(ROOT_INO, "journaled.txt"), 0, 100)), "replay me\n", "read-only replay");
  homeRo.close();
  const copy = img.slice();
  const r = recoverJournal(new MemDevice(copy), sb, { write: false });
  assert.equal(r.transactions, 2);
  assert.ok(r.overlay!.size > 0);
  assert.ok(copy.every((b, i) => b === img[i]), "replaying into memory writes nothing");
  const rw = Vexfs.openDevice(new MemDevice(copy));
  assert.equal(rw.recovery?.transactions, 2);
  assert.equal(rw.getattr(rw.lookup(ROOT_INO, "journaled.txt")).uid, 1000);
  assert.equal(rw.getattr(rw.lookup(ROOT_INO, "dir")).mode, 0o40750);
  rw.close();
  const after = decodeSuperblock(copy.subarray(1024, 2048));
  assert.equal(after.featureIncompat & INCOMPAT_RECOVER, 0);
});

function dec(b: Uint8Array): string {
  return new TextDecoder().decode(b);
}

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let k = 0; k < needle.length; k++) if (hay[i + k] !== needle[k]) continue outer;
    return true;
  }
  return false;
}
