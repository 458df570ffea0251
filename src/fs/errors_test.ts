/**
 * Tests of how the engine meets corruption (docs/FORMAT.md §3.2): it does not
 * trust a bitmap that contradicts the superblock, it records errors in the
 * superblock, never marks a damaged filesystem clean, and follows
 * `errors=continue|remount-ro|panic`.
 */
import assert from "node:assert/strict";
import { MemDevice } from "../device/mem.ts";
import { INODE_SIZE, ROOT_INO, STATE_CLEAN, STATE_ERROR } from "../format/constants.ts";
import { decodeSuperblock, encodeSuperblock } from "../format/superblock.ts";
import { code } from "./_testutil.ts";
import { Vexfs } from "./fs.ts";
import { computeLayout, writeFilesystem } from "./mkfs.ts";

function populated(journal = true): { bytes: Uint8Array; files: number[] } {
  const dev = new MemDevice(4 << 20);
  writeFilesystem(dev, computeLayout(dev.size, { blockSize: 1024, journalBlocks: journal ? undefined : 0 }), {
    uuid: crypto.getRandomValues(new Uint8Array(16)),
  });
  const fs = Vexfs.openDevice(dev);
  const files: number[] = [];
  for (let i = 0; i < 30; i++) {
    const f = fs.create(ROOT_INO, `f${i}`);
    fs.write(f, 0, new Uint8Array(3000).fill(i));
    files.push(f);
  }
  fs.close();
  return { bytes: dev.bytes, files };
}

function superblock(bytes: Uint8Array) {
  return decodeSuperblock(bytes.subarray(1024, 2048));
}

for (const journal of [true, false]) {
  Deno.test(`a zeroed block bitmap is not trusted (${journal ? "journal" : "no journal"}): read-write open refused, read-only works`, () => {
    const { bytes, files } = populated(journal);
    const sb = superblock(bytes);
    bytes.fill(0, sb.blockBitmapStart * 1024, (sb.blockBitmapStart + sb.blockBitmapBlocks) * 1024);
    const copy = bytes.slice();
    assert.throws(() => Vexfs.openDevice(new MemDevice(bytes)), /block bitmap.*fsck/);
    assert.ok(bytes.every((b, i) => b === copy[i]), "a refused open writes nothing");
    const warnings: string[] = [];
    const ro = Vexfs.openDevice(new MemDevice(bytes, { readOnly: true }), {
      readOnly: true,
      onWarning: (m) => warnings.push(m),
    });
    assert.match(warnings.join(), /block bitmap/);
    // Reading a file whose blocks the bitmap calls free is refused, not served.
    assert.equal(code(() => ro.read(files[3], 0, 10)), "EUCLEAN");
    ro.close();
  });
}

Deno.test("corruption met while in use is recorded; the filesystem is never marked clean after it", () => {
  const { bytes, files } = populated();
  const sb = superblock(bytes);
  // Damage one inode's checksum: reading it is EUCLEAN.
  const victim = files[5];
  bytes[sb.inodeTableStart * 1024 + (victim - 1) * INODE_SIZE + 16] ^= 0xff;
  const warnings: string[] = [];
  const fs = Vexfs.openDevice(new MemDevice(bytes), { onWarning: (m) => warnings.push(m) });
  assert.equal(code(() => fs.read(victim, 0, 10)), "EUCLEAN");
  // errors=continue: the rest keeps working
  assert.equal(new TextDecoder().decode(fs.read(files[6], 0, 1)), "\u0006");
  fs.create(ROOT_INO, "new");
  fs.close();
  const after = superblock(bytes);
  assert.equal(after.state, STATE_ERROR, "not marked clean");
  assert.equal(after.errorCount, 1);
  assert.equal(after.firstErrorErrno, 117);
  assert.equal(after.firstErrorIno, victim);
  assert.equal(after.lastErrorOp, "read");
  assert.ok((after.firstErrorTime ?? 0) > 0);
  assert.match(warnings.join(), /inode/);
  // It stays in error across opens until fsck repairs it.
  const again = Vexfs.openDevice(new MemDevice(bytes));
  again.close();
  assert.equal(superblock(bytes).state, STATE_ERROR);
  assert.notEqual(superblock(bytes).state, STATE_CLEAN);
});

Deno.test("errors=remount-ro abandons the running transaction and refuses changes; panic also calls onPanic", () => {
  for (const mode of ["remount-ro", "panic"] as const) {
    const { bytes, files } = populated();
    const sb = superblock(bytes);
    bytes[sb.inodeTableStart * 1024 + (files[2] - 1) * INODE_SIZE + 16] ^= 0xff;
    let panicked = 0;
    const fs = Vexfs.openDevice(new MemDevice(bytes), { errors: mode });
    fs.onPanic = () => panicked++;
    fs.create(ROOT_INO, "committed");
    fs.sync();
    fs.create(ROOT_INO, "uncommitted");
    assert.equal(code(() => fs.read(files[2], 0, 1)), "EUCLEAN");
    assert.ok(fs.isReadOnly);
    assert.equal(code(() => fs.create(ROOT_INO, "refused")), "EROFS");
    assert.equal(panicked, mode === "panic" ? 1 : 0);
    fs.close();
    const after = superblock(bytes);
    assert.equal(after.state, STATE_ERROR);
    assert.equal(after.errorCount, 1);
    const back = Vexfs.openDevice(new MemDevice(bytes), { readOnly: true });
    back.lookup(ROOT_INO, "committed");
    assert.equal(code(() => back.lookup(ROOT_INO, "uncommitted")), "ENOENT", "the abandoned transaction is gone");
    back.close();
  }
});

Deno.test("a directory entry naming a free inode is corruption, not ENOENT", () => {
  const { bytes, files } = populated();
  const sb = superblock(bytes);
  // Free f7's inode in the bitmap and in the count, as a damaged bitmap block would.
  const bit = files[7] - 1;
  bytes[sb.inodeBitmapStart * 1024 + (bit >> 3)] &= ~(1 << (bit & 7));
  sb.freeInodes++;
  bytes.set(encodeSuperblock(sb), 1024);
  const fs = Vexfs.openDevice(new MemDevice(bytes), { onWarning: () => {} });
  assert.equal(code(() => fs.lookup(ROOT_INO, "f7")), "EUCLEAN");
  assert.equal(code(() => fs.lookup(ROOT_INO, "f8")), "ok");
  fs.close();
  assert.equal(superblock(bytes).state, STATE_ERROR);
});
