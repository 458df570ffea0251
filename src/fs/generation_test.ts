/**
 * Inode generations (FORMAT.md §4.2): a reused inode number never gets the
 * generation of the inode that had it before, even when the random source
 * repeats itself; mkfs's inodes have generation 0.
 */
import assert from "node:assert/strict";
import { COLL_TABLE_INO, FIRST_INO, ROOT_INO } from "../format/constants.ts";
import { assertFsckClean, tmpImage } from "./_testutil.ts";
import { Vexfs } from "./fs.ts";

Deno.test("the root and the collection table mkfs makes have generation 0", () => {
  const img = tmpImage(16 << 20);
  try {
    const fs = Vexfs.open(img);
    assert.equal(fs.iget(ROOT_INO).d.generation, 0);
    assert.equal(fs.iget(COLL_TABLE_INO).d.generation, 0);
    fs.close();
    assertFsckClean(img);
  } finally {
    Deno.removeSync(img);
  }
});

Deno.test("a reused inode number gets a generation other than its previous inode's, even from a repeating random source", () => {
  const img = tmpImage(16 << 20);
  const random = Math.random;
  try {
    let fs = Vexfs.open(img);
    const gens = new Map<number, number>();
    for (let i = 0; i < 20; i++) {
      const ino = fs.create(ROOT_INO, `f${i}`, 0o644, 0, 0);
      gens.set(ino, fs.iget(ino).d.generation);
    }
    // random: 20 files do not all share one generation
    assert.ok(new Set(gens.values()).size > 1, `generations ${[...gens.values()]}`);
    const victim = fs.lookup(ROOT_INO, "f3");
    assert.ok(victim >= FIRST_INO);
    fs.unlink(ROOT_INO, "f3");
    fs.close();
    // A reopened engine allocates from the lowest free number: the victim's.
    fs = Vexfs.open(img);
    const old = gens.get(victim)!;
    // The random source now offers the old generation first: it must be refused.
    let calls = 0;
    Math.random = () => (calls++ === 0 ? old / 0x100000000 : random());
    const ino = fs.create(ROOT_INO, "reused", 0o644, 0, 0);
    Math.random = random;
    assert.equal(ino, victim, "the freed number is reused");
    assert.ok(calls >= 2, "the repeated value was drawn and refused");
    assert.notEqual(fs.iget(ino).d.generation, old);
    fs.close();
    fs = Vexfs.open(img);
    assert.notEqual(fs.iget(ino).d.generation, old, "as written to the table");
    fs.close();
    assertFsckClean(img);
  } finally {
    Math.random = random;
    Deno.removeSync(img);
  }
});
