/**
 * Internal files on the orphan list (FORMAT.md §5.4): a writer that cannot
 * free an unused internal file in one transaction (an xattr store whose owner
 * was freed, the store files of a dropped collection; the kernel module does
 * this) gives it `nlink` 0 and puts it on the orphan list, keeping `INTERNAL`.
 * Until the next read-write open frees it, `vexfs fsck -n` must see a pending
 * orphan (info), not an unclaimed internal file or a wrong link count; the
 * engine's open and fsck's repair free it.
 */
import { assert, assertEquals } from "../test_assert.ts";
import { tmpImage } from "../fs/_testutil.ts";
import { Vexfs } from "../fs/fs.ts";
import { addOrphan } from "../fs/orphan.ts";
import { fsck } from "./fsck.ts";
import { COLL_RECORD_SIZE, COLL_TABLE_INO, IFL_COLL_ROOT, IFL_XATTR_IN_STORE, ROOT_INO } from "../format/constants.ts";

function problems(img: string, yes = false): string[] {
  const r = fsck(img, { yes });
  return r.problems.filter((p) => p.code !== "JOURNAL_RECOVERED").map((p) => `${p.severity} ${p.code}`);
}

/** What the image holds after the engine's open freed the orphans, and fsck then. */
function reopened(img: string, want: number[]): void {
  const fs = Vexfs.open(img);
  try {
    assertEquals(fs.recoveredOrphans.slice().sort((a, b) => a - b), want);
    assertEquals(fs.sb.orphanHead, 0);
  } finally {
    fs.close();
  }
  assertEquals(problems(img), []);
}

Deno.test("fsck: an xattr store on the orphan list after its owner was freed is a pending orphan", () => {
  const img = tmpImage(16 << 20);
  const copy = `${img}.copy`;
  try {
    const fs = Vexfs.open(img);
    let sino = 0;
    try {
      const ino = fs.create(ROOT_INO, "f");
      for (let i = 0; i < 4; i++) fs.setxattr(ino, `user.big${i}`, new Uint8Array(3000).fill(i + 1));
      const n = fs.iget(ino);
      assert(n.d.flags & IFL_XATTR_IN_STORE, "the attributes went to a store");
      sino = n.d.xattrBlock;
      // the owner's last transaction: its store detached and orphaned, the owner freed
      const s = fs.iget(sino);
      n.d.flags &= ~IFL_XATTR_IN_STORE;
      n.d.xattrBlock = 0;
      fs.dirty(n);
      s.d.nlink = 0;
      addOrphan(fs, s);
      fs.unlink(ROOT_INO, "f");
      fs.sync(); // the writer "dies" before it frees the store
    } finally {
      fs.dev.close();
    }
    Deno.copyFileSync(img, copy);
    assertEquals(problems(img), ["info ORPHAN_PENDING"]);
    reopened(img, [sino]);
    assertEquals(problems(copy, true), ["info ORPHAN_PENDING"]);
    assertEquals(problems(copy), []);
  } finally {
    Deno.removeSync(img);
    Deno.removeSync(copy);
  }
});

Deno.test("fsck: the store files of a dropped collection on the orphan list are pending orphans", () => {
  const img = tmpImage(16 << 20);
  try {
    const fs0 = Vexfs.open(img);
    const dir = fs0.mkdir(ROOT_INO, "c");
    const id = fs0.collections.create(dir, { dim: 4, metric: "l2", elem: "f32" }).id;
    fs0.close(); // the backup superblock gets the new ro_compat features
    const fs = Vexfs.open(img);
    let stores: number[] = [];
    try {
      const rec = fs.collections.record(id)!;
      stores = [rec.vecIno, rec.mapIno, rec.normIno].filter((x) => x);
      assertEquals(stores.length, 3);
      // the drop's last transaction: record, count and flag gone, stores orphaned
      fs.op(() => {
        for (const ino of stores) {
          const s = fs.iget(ino);
          s.d.nlink = 0;
          addOrphan(fs, s);
        }
        fs.write(COLL_TABLE_INO, (id - 1) * COLL_RECORD_SIZE, new Uint8Array(COLL_RECORD_SIZE));
        fs.sb.collCount = 0;
        const root = fs.iget(dir);
        root.d.flags &= ~IFL_COLL_ROOT;
        root.d.collId = 0;
        fs.dirty(root);
      });
      fs.sync();
    } finally {
      fs.dev.close();
    }
    assertEquals(problems(img), stores.map(() => "info ORPHAN_PENDING"));
    reopened(img, stores.slice().sort((a, b) => a - b));
  } finally {
    Deno.removeSync(img);
  }
});
