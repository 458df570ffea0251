/**
 * Builds the fsck regression corpus (as e2fsprogs' `tests/f_*`): one
 * directory per problem class, `testdata/fsck/<case>/`, holding
 *
 * - `image.gz`: a small image (1 KiB blocks, 1 MiB without a journal or
 *   2 MiB with one) built through the engine and then damaged in one way;
 * - `name`: the problem code the case is about and what was damaged;
 * - `expect.1`: the report of the first `fsck -y` (src/fsck/_testutil.ts
 *   `reportText`: codes, wheres and whether each was fixed, then the exit code);
 * - `expect.2`: the report of a second `fsck -y`, which must be clean.
 *
 * Every damage is located through the engine (inode numbers by path, block
 * numbers by bmap) and made with the format codecs, so it is the damage it
 * says. The generator refuses a case whose `fsck -n` does not report the
 * case's code. `src/fsck/corpus_test.ts` replays every case.
 *
 * Run: `node_modules/deno/deno run -A testdata/fsck/make_corpus.ts [case...]`
 * (all cases without arguments). Images differ between runs only in times
 * and generation numbers; the expect files are regenerated with them.
 * @module
 */
import { MemDevice } from "../../src/device/mem.ts";
import {
  COLL_TABLE_INO,
  IFL_COLL_ROOT,
  IFL_HAS_VECTOR,
  IFL_INTERNAL,
  IFL_ORPHAN,
  INODE_SIZE,
  JOURNAL_INO,
  S_IFREG,
  XATTR_VALUE_BASE,
} from "../../src/format/constants.ts";
import { decodeEntryBlock, encodeEntryBlock } from "../../src/format/xattr_store.ts";
import { decodeXattrBlock, encodeXattrBlock } from "../../src/format/xattr.ts";
import { ACL_ACCESS_XATTR, ACL_TAG, encodeAcl } from "../../src/fs/acl.ts";
import { crc32cSeeded } from "../../src/format/crc.ts";
import { encodeExtentNode, type Extent, setBlockChecksum } from "../../src/format/extent.ts";
import { dirHash } from "../../src/format/hash.ts";
import { decodeInode, encodeInode, type Inode } from "../../src/format/inode.ts";
import { decodeSuperblock, encodeSuperblock, type Superblock } from "../../src/format/superblock.ts";
import { Vexfs } from "../../src/fs/fs.ts";
import { type DirBlocks, dirInsert, dirRemove } from "../../src/fs/htree.ts";
import { fsck } from "../../src/fsck/fsck.ts";
import { buildPopulated, reportText } from "../../src/fsck/_testutil.ts";

const enc = new TextEncoder();
const DIR = new URL(".", import.meta.url);

/** Raw edits of an image, with lookups through a read-only engine opened on the undamaged bytes. */
class Img {
  readonly sb: Superblock;
  readonly bs: number;
  readonly fs: Vexfs;

  constructor(readonly bytes: Uint8Array) {
    this.sb = decodeSuperblock(bytes.subarray(1024, 2048));
    this.bs = 1024 << this.sb.logBlockSize;
    this.fs = Vexfs.openDevice(new MemDevice(bytes.slice(), { readOnly: true }), { readOnly: true });
  }

  ino(path: string): number {
    return this.fs.resolve(path, false);
  }

  block(b: number): Uint8Array {
    return this.bytes.subarray(b * this.bs, (b + 1) * this.bs);
  }

  /** Device block of file block `l` of the inode at `path`. */
  bmap(path: string, l: number): number {
    return this.fs.bmap(this.fs.iget(this.ino(path)), l);
  }

  /** Device block of file block `l` of the xattr store of the inode at `path` (FORMAT.md §7.2). */
  storeBlock(path: string, l: number): number {
    return this.fs.bmap(this.fs.iget(this.inode(this.ino(path)).xattrBlock), l);
  }

  /** Extent tree blocks of the inode at `path`. */
  treeBlocks(path: string): number[] {
    const n = this.fs.iget(this.ino(path));
    this.fs.extents(n);
    return n.treeBlocks ?? [];
  }

  rawInode(ino: number): Uint8Array {
    const off = this.sb.inodeTableStart * this.bs + (ino - 1) * INODE_SIZE;
    return this.bytes.subarray(off, off + INODE_SIZE);
  }

  inode(ino: number): Inode {
    return decodeInode(ino, this.rawInode(ino), false);
  }

  /** Changes an inode's fields and writes it back with a valid checksum. */
  setInode(ino: number, f: (d: Inode) => void): void {
    const d = this.inode(ino);
    f(d);
    encodeInode(ino, d, this.rawInode(ino));
  }

  /** Changes the primary superblock and writes it back with a valid checksum. */
  setSb(f: (sb: Superblock) => void, where = 1024): void {
    const sb = decodeSuperblock(this.bytes.subarray(where, where + 1024));
    f(sb);
    this.bytes.set(encodeSuperblock(sb), where);
  }

  backupOffset(): number {
    return (this.sb.blockCount - 1) * this.bs;
  }

  setBit(start: number, i: number, on: boolean): void {
    const b = this.block(start + Math.floor(i / (8 * this.bs)));
    const j = i % (8 * this.bs);
    if (on) b[j >>> 3] |= 1 << (j & 7);
    else b[j >>> 3] &= ~(1 << (j & 7));
  }

  /** A free block near the end of the data area. */
  freeBlock(): number {
    let b = this.sb.blockCount - 2;
    while (this.fs.blockMap.test(b)) b--;
    return b;
  }

  /** A free inode number. */
  freeIno(): number {
    let i = this.sb.inodeCount;
    while (this.fs.inodeMap.test(i - 1)) i--;
    return i;
  }

  /** The directory at `path` as the hash tree code sees it, over the raw image. */
  dir(path: string): DirBlocks {
    const ino = this.ino(path);
    const n = this.fs.iget(ino);
    return {
      blockSize: this.bs,
      ino,
      hashSeed: this.sb.hashSeed,
      blockCount: () => n.d.size / this.bs,
      read: (l) => this.block(this.fs.bmap(n, l)).slice(),
      write: (l, data) => this.block(this.fs.bmap(n, l)).set(data),
      append: () => {
        throw new Error("corpus: directory cannot grow");
      },
    };
  }

  /** Rewrites the leaf entry named `name` of directory `path` with `edit`, re-checksumming the block. */
  editEntry(path: string, name: string, edit: (dv: DataView, off: number) => void): void {
    const n = this.fs.iget(this.ino(path));
    const want = enc.encode(name);
    for (let l = 1; l < n.d.size / this.bs; l++) {
      const b = this.block(this.fs.bmap(n, l));
      const dv = new DataView(b.buffer, b.byteOffset, this.bs);
      if (dv.getUint32(0, true) !== 0x4c524944) continue;
      const end = 16 + dv.getUint32(8, true);
      for (let off = 16; off < end;) {
        const len = dv.getUint16(off + 12, true);
        if (len === want.length && want.every((x, i) => b[off + 16 + i] === x)) {
          edit(dv, off);
          setBlockChecksum(b, n.ino);
          return;
        }
        off += (16 + len + 7) & ~7;
      }
    }
    throw new Error(`corpus: no entry ${name} in ${path}`);
  }

  close(): void {
    this.fs.close();
  }
}

interface Case {
  name: string;
  /** the problem code `fsck -n` must report */
  code: string;
  desc: string;
  /** base image: "journal" (2 MiB, closed), "plain" (1 MiB, no journal, closed), or left by a crash */
  base?: "journal" | "plain" | "plain-orphan" | "journal-orphan" | "journal-crash";
  damage?: (img: Img) => void;
}

const flip = (img: Img, off: number, bit = 0) => img.bytes[off] ^= 1 << bit;

const CASES: Case[] = [
  { name: "clean", code: "", desc: "an undamaged image: nothing to report" },
  // ---------------------------------------------------------------- superblock
  {
    name: "sb_checksum",
    code: "SB_CHECKSUM",
    desc: "a bit of the primary superblock's mkfs_time flipped: the backup is used and copied over it",
    damage: (img) => flip(img, 1024 + 140),
  },
  {
    name: "sb_zeroed",
    code: "SB_MAGIC",
    desc: "the primary superblock zeroed: the backup is found in the last block and restored",
    damage: (img) => img.bytes.fill(0, 1024, 2048),
  },
  {
    name: "sb_backup_bad",
    code: "SB_BACKUP_BAD",
    desc: "a bit of the backup superblock flipped: it is rewritten from the primary",
    damage: (img) => flip(img, img.backupOffset() + 140),
  },
  {
    name: "sb_backup_stale",
    code: "SB_BACKUP_STALE",
    desc: "the backup superblock's write time older than the primary's (valid checksum)",
    damage: (img) => img.setSb((s) => s.writeTime -= 100, img.backupOffset()),
  },
  {
    name: "sb_backup_mismatch",
    code: "SB_BACKUP_MISMATCH",
    desc: "the backup superblock names another label (valid checksum)",
    damage: (img) => img.setSb((s) => s.label = "other", img.backupOffset()),
  },
  {
    name: "sb_free_counts",
    code: "SB_FREE_BLOCKS",
    desc: "the superblock's free block and inode counts off by a few (valid checksum)",
    damage: (img) =>
      img.setSb((s) => {
        s.freeBlocks += 5;
        s.freeInodes -= 2;
      }),
  },
  {
    name: "sb_features",
    code: "SB_FEATURES",
    desc: "the v1 compat flag XATTR cleared (valid checksum)",
    damage: (img) => img.setSb((s) => s.featureCompat &= ~1),
  },
  {
    name: "sb_state",
    code: "SB_STATE",
    desc: "the superblock's state set to 9 (valid checksum)",
    damage: (img) => img.setSb((s) => s.state = 9),
  },
  {
    name: "sb_fields",
    code: "SB_FIELDS",
    desc: "the superblock's error behaviour set to 7 (valid checksum)",
    damage: (img) => img.setSb((s) => s.errors = 7),
  },
  {
    name: "sb_error_record",
    code: "SB_ERROR_STATE",
    desc: "state 3 and an error record, as the engine leaves them after meeting corruption",
    damage: (img) =>
      img.setSb((s) => {
        s.state = 3;
        s.errorCount = 2;
        s.firstErrorErrno = s.lastErrorErrno = 117;
        s.firstErrorTime = s.lastErrorTime = 1_700_000_100;
        s.firstErrorIno = s.lastErrorIno = 20;
        s.firstErrorOp = "lookup";
        s.lastErrorOp = "read";
      }),
  },
  {
    name: "sb_coll_count",
    code: "SB_COLL_COUNT",
    desc: "the superblock counts 3 collections, the table holds 1",
    damage: (img) => img.setSb((s) => s.collCount = 3),
  },
  {
    name: "sb_dirty",
    code: "SB_DIRTY",
    desc: "no journal, and the process holding an unlinked open file died: state dirty, one orphan",
    base: "plain-orphan",
  },
  // ---------------------------------------------------------------- journal
  {
    name: "journal_recover",
    code: "JOURNAL_RECOVERED",
    desc: "the process died after a sync: the journal holds committed transactions to replay",
    base: "journal-crash",
  },
  {
    name: "journal_superblock",
    code: "JOURNAL_SUPERBLOCK",
    desc: "the journal superblock zeroed: a fresh empty journal superblock is written",
    damage: (img) => img.block(img.fs.bmap(img.fs.iget(JOURNAL_INO), 0)).fill(0),
  },
  {
    name: "journal_inode",
    code: "JOURNAL_INODE",
    desc: "the journal inode zeroed: inode 4 and an empty journal are re-created",
    damage: (img) => img.rawInode(JOURNAL_INO).fill(0),
  },
  // ---------------------------------------------------------------- orphans
  {
    name: "orphan_pending",
    code: "ORPHAN_PENDING",
    desc: "a file unlinked while open by a process that died (journal replayed first): freed",
    base: "journal-orphan",
  },
  {
    name: "orphan_loop",
    code: "ORPHAN_LOOP",
    desc: "the orphan's orphan_next points to itself",
    base: "plain-orphan",
    damage: (img) => img.setInode(img.sb.orphanHead, (d) => d.orphanNext = img.sb.orphanHead),
  },
  {
    name: "orphan_bad_ino",
    code: "ORPHAN_BAD_INO",
    desc: "orphan_head names a free inode",
    damage: (img) => img.setSb((s) => s.orphanHead = img.freeIno()),
  },
  {
    name: "orphan_linked",
    code: "ORPHAN_LINKED",
    desc: "orphan_head names a linked file without the ORPHAN flag",
    damage: (img) => img.setSb((s) => s.orphanHead = img.ino("/docs/a.md")),
  },
  {
    name: "orphan_not_listed",
    code: "ORPHAN_NOT_LISTED",
    desc: "a linked file carries the ORPHAN flag but is on no list",
    damage: (img) => img.setInode(img.ino("/docs/a.md"), (d) => d.flags |= IFL_ORPHAN),
  },
  // ---------------------------------------------------------------- inodes
  {
    name: "inode_checksum",
    code: "INODE_CHECKSUM",
    desc: "a bit of /docs/a.md's mtime flipped: only the checksum is wrong",
    damage: (img) => flip(img, img.rawInode(img.ino("/docs/a.md")).byteOffset + 44, 3),
  },
  {
    name: "inode_corrupt",
    code: "INODE_CORRUPT",
    desc: "/docs/note-4.txt's extent overwritten (no checksum update): checksum and extent both bad, cleared",
    damage: (img) => img.rawInode(img.ino("/docs/note-4.txt")).set([0xde, 0xad, 0xbe, 0xef, 0, 0, 0x10, 0], 136 + 16 + 8),
  },
  {
    name: "inode_flags",
    code: "INODE_FLAGS",
    desc: "an unknown flag 0x100 set on /docs/a.md (valid checksum)",
    damage: (img) => img.setInode(img.ino("/docs/a.md"), (d) => d.flags |= 0x100),
  },
  {
    name: "inode_fields",
    code: "INODE_FIELDS",
    desc: "a stale coll_id on /docs/note-2.txt, which carries no vector (valid checksum)",
    damage: (img) => img.setInode(img.ino("/docs/note-2.txt"), (d) => d.collId = 5),
  },
  {
    name: "inode_time",
    code: "INODE_TIME",
    desc: "/docs/a.md's mtime with 1.5e9 nanoseconds (valid checksum)",
    damage: (img) => img.setInode(img.ino("/docs/a.md"), (d) => d.mtime.nsec = 1_500_000_000),
  },
  {
    name: "inode_blocks",
    code: "INODE_BLOCKS",
    desc: "/docs/a.md's blocks count 2 too high (valid checksum)",
    damage: (img) => img.setInode(img.ino("/docs/a.md"), (d) => d.blocks += 2),
  },
  {
    name: "inode_size",
    code: "INODE_SIZE",
    desc: "/frag's size cut to 2 blocks while 12 stay mapped (valid checksum): the blocks past the end are freed",
    damage: (img) => img.setInode(img.ino("/frag"), (d) => d.size = 2 * img.bs),
  },
  {
    name: "symlink_size",
    code: "SYMLINK_SIZE",
    desc: "the inline symlink /docs/short claims 200 bytes (valid checksum): cleared",
    damage: (img) => img.setInode(img.ino("/docs/short"), (d) => d.size = 200),
  },
  {
    name: "special_blocks",
    code: "INODE_SPECIAL_BLOCKS",
    desc: "the fifo /docs/pipe maps a data block (valid checksum): the block is freed",
    damage: (img) => {
      const b = img.freeBlock();
      img.setInode(img.ino("/docs/pipe"), (d) => {
        encodeExtentNode({ depth: 0, max: 4, extents: [{ logical: 0, physical: b, length: 1, flags: 0 }] }, d.data, 0);
        d.blocks = 1;
      });
    },
  },
  {
    name: "inode_damaged",
    code: "INODE_DAMAGED",
    desc: "/docs/note-7.txt's inode zeroed while its entry remains: the entry is removed",
    damage: (img) => img.rawInode(img.ino("/docs/note-7.txt")).fill(0),
  },
  // ---------------------------------------------------------------- extents
  {
    name: "extent_checksum",
    code: "EXTENT_CHECKSUM",
    desc: "a bit of /frag's extent tree block flipped (in unused space): the tree is rewritten",
    damage: (img) => flip(img, img.treeBlocks("/frag")[0] * img.bs + img.bs - 10),
  },
  {
    name: "extent_range",
    code: "EXTENT_RANGE",
    desc: "/docs/a.md's extent points past the end of the filesystem (valid checksum): dropped",
    damage: (img) =>
      img.setInode(img.ino("/docs/a.md"), (d) => {
        encodeExtentNode(
          { depth: 0, max: 4, extents: [{ logical: 0, physical: img.sb.blockCount + 10, length: 3, flags: 0 }] },
          d.data,
          0,
        );
      }),
  },
  {
    name: "extent_header",
    code: "EXTENT_HEADER",
    desc: "/docs/note-4.txt's extent root magic broken (valid checksum): its blocks are dropped",
    damage: (img) => img.setInode(img.ino("/docs/note-4.txt"), (d) => d.data[0] ^= 0xff),
  },
  {
    name: "extent_overlap",
    code: "EXTENT_OVERLAP",
    desc: "/docs/a.md's extent split into two that overlap (valid checksum)",
    damage: (img) => {
      const p = img.bmap("/docs/a.md", 0);
      img.setInode(img.ino("/docs/a.md"), (d) => {
        const extents: Extent[] = [
          { logical: 0, physical: p, length: 2, flags: 0 },
          { logical: 1, physical: p + 1, length: 2, flags: 0 },
        ];
        encodeExtentNode({ depth: 0, max: 4, extents }, d.data, 0);
      });
    },
  },
  {
    name: "extent_flags",
    code: "EXTENT_FLAGS",
    desc: "an unknown flag 0x40 on /docs/a.md's extent (valid checksum)",
    damage: (img) => {
      const p = img.bmap("/docs/a.md", 0);
      img.setInode(img.ino("/docs/a.md"), (d) => {
        encodeExtentNode({ depth: 0, max: 4, extents: [{ logical: 0, physical: p, length: 3, flags: 0x40 }] }, d.data, 0);
      });
    },
  },
  {
    name: "block_duplicate",
    code: "BLOCK_DUPLICATE",
    desc: "/docs/note-8.txt's extent points at /docs/a.md's first block (valid checksum): it gets its own copy",
    damage: (img) => {
      const p = img.bmap("/docs/a.md", 0);
      img.setInode(img.ino("/docs/note-8.txt"), (d) => {
        encodeExtentNode({ depth: 0, max: 4, extents: [{ logical: 0, physical: p, length: 1, flags: 0 }] }, d.data, 0);
      });
    },
  },
  // ---------------------------------------------------------------- xattrs
  {
    name: "xattr_checksum",
    code: "XATTR_CHECKSUM",
    desc: "a bit of /docs/a.md's xattr block flipped: the attributes are dropped",
    damage: (img) => flip(img, img.inode(img.ino("/docs/a.md")).xattrBlock * img.bs + 20),
  },
  {
    name: "xattr_range",
    code: "XATTR_RANGE",
    desc: "/docs/a.md's xattr block number past the end (valid checksum)",
    damage: (img) => img.setInode(img.ino("/docs/a.md"), (d) => d.xattrBlock = img.sb.blockCount + 5),
  },
  {
    name: "xattr_format",
    code: "XATTR_FORMAT",
    desc: "/docs/a.md's xattr block magic broken",
    damage: (img) => img.block(img.inode(img.ino("/docs/a.md")).xattrBlock).fill(0x55, 0, 4),
  },
  {
    name: "xattr_acl",
    code: "XATTR_ACL",
    desc: "/docs/a.md's xattr block given an access ACL whose named entry has no mask (valid checksum): the ACL goes",
    damage: (img) => {
      const ino = img.ino("/docs/a.md");
      const b = img.inode(ino).xattrBlock;
      const attrs = decodeXattrBlock(img.block(b), ino);
      const U = 0xffffffff;
      attrs.set(
        ACL_ACCESS_XATTR,
        encodeAcl([
          { tag: ACL_TAG.USER_OBJ, perm: 6, id: U },
          { tag: ACL_TAG.USER, perm: 6, id: 1000 },
          { tag: ACL_TAG.GROUP_OBJ, perm: 4, id: U },
          { tag: ACL_TAG.OTHER, perm: 4, id: U },
        ]),
      );
      img.block(b).set(encodeXattrBlock(attrs, img.bs, ino));
    },
  },
  // ---------------------------------------------------------------- directories
  {
    name: "dir_checksum",
    code: "DIR_CHECKSUM",
    desc: "a bit in unused space of a /docs leaf flipped: the directory is rebuilt from its entries",
    damage: (img) => flip(img, img.bmap("/docs", 1) * img.bs + img.bs - 10),
  },
  {
    name: "dir_index_zeroed",
    code: "DIR_STRUCTURE",
    desc: "the root index block of /docs zeroed: every leaf is salvaged and the tree rebuilt",
    damage: (img) => img.block(img.bmap("/docs", 0)).fill(0),
  },
  {
    name: "dir_leaf_zeroed",
    code: "DIR_STRUCTURE",
    desc: "a leaf of /docs zeroed: its files go to /lost+found",
    damage: (img) => img.block(img.bmap("/docs", 1)).fill(0),
  },
  {
    name: "dir_hash",
    code: "DIR_HASH",
    desc: "the stored hash of /docs/sub's entry a-link.md changed (block checksum valid)",
    damage: (img) => img.editEntry("/docs/sub", "a-link.md", (dv, off) => dv.setUint32(off + 8, 0x1234, true)),
  },
  {
    name: "dir_entry_free",
    code: "DIR_ENTRY_FREE_INODE",
    desc: "/docs/sub/a-link.md points to a free inode (block checksum valid)",
    damage: (img) =>
      img.editEntry("/docs/sub", "a-link.md", (dv, off) => dv.setBigUint64(off, BigInt(img.freeIno()), true)),
  },
  {
    name: "dir_entry_type",
    code: "DIR_ENTRY_TYPE",
    desc: "/docs/pipe's entry says regular file (block checksum valid)",
    damage: (img) => img.editEntry("/docs", "pipe", (dv, off) => dv.setUint8(off + 14, 1)),
  },
  {
    name: "dir_entry_bad_ino",
    code: "DIR_ENTRY_BAD_INO",
    desc: "/docs/sub/a-link.md points to inode 99999 (block checksum valid)",
    damage: (img) => img.editEntry("/docs/sub", "a-link.md", (dv, off) => dv.setBigUint64(off, 99999n, true)),
  },
  {
    name: "dir_entry_reserved",
    code: "DIR_ENTRY_RESERVED",
    desc: "/docs/sub/a-link.md points to reserved inode 7 (block checksum valid)",
    damage: (img) => img.editEntry("/docs/sub", "a-link.md", (dv, off) => dv.setBigUint64(off, 7n, true)),
  },
  {
    name: "dir_entry_internal",
    code: "DIR_ENTRY_INTERNAL",
    desc: "an entry /docs/sub/store names the collection's vector store",
    damage: (img) => dirInsert(img.dir("/docs/sub"), enc.encode("store"), img.fs.collections.record(1)!.vecIno, 1),
  },
  {
    name: "dir_entry_name",
    code: "DIR_ENTRY_NAME",
    desc: "an entry named 'a/b' in /docs/sub (hash and block checksum valid)",
    damage: (img) =>
      img.editEntry("/docs/sub", "a-link.md", (dv, off) => {
        const name = enc.encode("a/link.md");
        new Uint8Array(dv.buffer, dv.byteOffset + off + 16, name.length).set(name);
        dv.setUint32(off + 8, dirHash(name, img.sb.hashSeed), true);
      }),
  },
  {
    name: "dir_multiple_links",
    code: "DIR_MULTIPLE_LINKS",
    desc: "a second entry /vecs/deep-again for the directory /docs/sub/deep",
    damage: (img) => dirInsert(img.dir("/vecs"), enc.encode("deep-again"), img.ino("/docs/sub/deep"), 2),
  },
  {
    name: "dir_loop",
    code: "DIR_LOOP",
    desc: "an entry /docs/sub/deep/up for /docs: a loop",
    damage: (img) => dirInsert(img.dir("/docs/sub/deep"), enc.encode("up"), img.ino("/docs"), 2),
  },
  {
    name: "dir_root_link",
    code: "DIR_LOOP",
    desc: "an entry /docs/root for the root directory",
    damage: (img) => dirInsert(img.dir("/docs"), enc.encode("root"), 2, 2),
  },
  {
    name: "dir_unreachable",
    code: "DIR_UNREACHABLE",
    desc: "the entry of /docs/sub removed: the directory goes to /lost+found, which is created",
    damage: (img) => dirRemove(img.dir("/docs"), enc.encode("sub")),
  },
  {
    name: "dir_unreachable_loop",
    code: "DIR_UNREACHABLE",
    desc: "/docs/sub unlinked and linked from its own subdirectory: a loop cut off from the root",
    damage: (img) => {
      dirRemove(img.dir("/docs"), enc.encode("sub"));
      dirInsert(img.dir("/docs/sub/deep"), enc.encode("loop"), img.ino("/docs/sub"), 2);
    },
  },
  {
    name: "dir_parent",
    code: "DIR_PARENT",
    desc: "/docs/sub's parent pointer names the root (valid checksum)",
    damage: (img) => img.setInode(img.ino("/docs/sub"), (d) => d.parentIno = 2),
  },
  {
    name: "root_bad",
    code: "ROOT_BAD",
    desc: "the root inode zeroed: a new root is made and everything goes to /lost+found",
    damage: (img) => img.rawInode(2).fill(0),
  },
  {
    name: "root_not_dir",
    code: "ROOT_BAD",
    desc: "the root inode turned into a regular file (valid checksum)",
    damage: (img) => img.setInode(2, (d) => d.mode = S_IFREG | 0o644),
  },
  // ---------------------------------------------------------------- link counts
  {
    name: "inode_unlinked",
    code: "INODE_UNLINKED",
    desc: "the entry of /docs/note-1.txt removed: the file goes to /lost+found",
    damage: (img) => dirRemove(img.dir("/docs"), enc.encode("note-1.txt")),
  },
  {
    name: "inode_nlink",
    code: "INODE_NLINK",
    desc: "/docs/a.md's link count 3 too high (valid checksum)",
    damage: (img) => img.setInode(img.ino("/docs/a.md"), (d) => d.nlink += 3),
  },
  {
    name: "inode_nlink_zero",
    code: "INODE_NLINK_ZERO",
    desc: "/docs/note-5.txt unlinked with link count 0 but not on the orphan list: freed",
    damage: (img) => {
      const ino = img.ino("/docs/note-5.txt");
      dirRemove(img.dir("/docs"), enc.encode("note-5.txt"));
      img.setInode(ino, (d) => d.nlink = 0);
    },
  },
  {
    name: "inode_parent",
    code: "INODE_PARENT",
    desc: "/docs/note-1.txt's parent pointer names /vecs (valid checksum)",
    damage: (img) => img.setInode(img.ino("/docs/note-1.txt"), (d) => d.parentIno = img.ino("/vecs")),
  },
  // ---------------------------------------------------------------- bitmaps
  {
    name: "block_bitmap_missing",
    code: "BLOCK_BITMAP_MISSING",
    desc: "/docs/a.md's first data block marked free",
    damage: (img) => img.setBit(img.sb.blockBitmapStart, img.bmap("/docs/a.md", 0), false),
  },
  {
    name: "block_bitmap_extra",
    code: "BLOCK_BITMAP_EXTRA",
    desc: "a free block marked in use",
    damage: (img) => img.setBit(img.sb.blockBitmapStart, img.freeBlock(), true),
  },
  {
    name: "inode_bitmap_missing",
    code: "INODE_BITMAP_MISSING",
    desc: "/docs/a.md's inode marked free",
    damage: (img) => img.setBit(img.sb.inodeBitmapStart, img.ino("/docs/a.md") - 1, false),
  },
  {
    name: "inode_bitmap_extra",
    code: "INODE_BITMAP_EXTRA",
    desc: "a free inode marked in use",
    damage: (img) => img.setBit(img.sb.inodeBitmapStart, img.freeIno() - 1, true),
  },
  {
    name: "inode_bitmap_reserved",
    code: "INODE_BITMAP_RESERVED",
    desc: "reserved inode 7 marked free",
    damage: (img) => img.setBit(img.sb.inodeBitmapStart, 6, false),
  },
  {
    name: "bitmap_padding",
    code: "BITMAP_PADDING",
    desc: "a padding bit past the last block cleared",
    damage: (img) => img.setBit(img.sb.blockBitmapStart, img.sb.blockCount + 3, false),
  },
  // ---------------------------------------------------------------- collections
  {
    name: "coll_table_bad",
    code: "COLL_TABLE_BAD",
    desc: "the collection table inode zeroed: re-created empty; the collection, its vectors and stores are dropped",
    damage: (img) => img.rawInode(COLL_TABLE_INO).fill(0),
  },
  {
    name: "coll_record_checksum",
    code: "COLL_RECORD_CHECKSUM",
    desc: "a bit of collection 1's generation flipped: the record is rebuilt",
    damage: (img) => flip(img, img.fs.bmap(img.fs.iget(COLL_TABLE_INO), 0) * img.bs + 72),
  },
  {
    name: "coll_record_magic",
    code: "COLL_RECORD_MAGIC",
    desc: "collection 1's magic overwritten: the collection is dropped",
    damage: (img) => img.block(img.fs.bmap(img.fs.iget(COLL_TABLE_INO), 0)).set([1, 2, 3, 4], 0),
  },
  {
    name: "coll_record_fields",
    code: "COLL_RECORD_FIELDS",
    desc: "collection 1's dimension set to 0 (valid checksum): the collection is dropped",
    damage: (img) => {
      const r = img.block(img.fs.bmap(img.fs.iget(COLL_TABLE_INO), 0)).subarray(0, 256);
      const dv = new DataView(r.buffer, r.byteOffset, 256);
      dv.setUint32(16, 0, true);
      dv.setUint32(252, crc32cSeeded(1, r.subarray(0, 252)), true);
    },
  },
  {
    name: "coll_root",
    code: "COLL_ROOT",
    desc: "/vecs lost its COLL_ROOT flag (valid checksum): it is marked again",
    damage: (img) => img.setInode(img.ino("/vecs"), (d) => d.flags &= ~IFL_COLL_ROOT),
  },
  {
    name: "coll_internal",
    code: "COLL_INTERNAL",
    desc: "the vector store inode zeroed: fresh empty stores, every file of the collection loses its vector",
    damage: (img) => img.rawInode(img.fs.collections.record(1)!.vecIno).fill(0),
  },
  {
    name: "coll_vec_size",
    code: "COLL_VEC_SIZE",
    desc: "the vector store's size 4 bytes too large (valid checksum): the store is rewritten",
    damage: (img) => img.setInode(img.fs.collections.record(1)!.vecIno, (d) => d.size += 4),
  },
  {
    name: "slotmap_checksum",
    code: "SLOTMAP_CHECKSUM",
    desc: "a bit of the slot map's unused tail flipped: the map is rebuilt from the files' vec_slot",
    damage: (img) => {
      const map = img.fs.iget(img.fs.collections.record(1)!.mapIno);
      flip(img, img.fs.bmap(map, 0) * img.bs + img.bs - 10);
    },
  },
  {
    name: "slot_owner",
    code: "SLOT_OWNER",
    desc: "slot 0's owner changed to /docs/a.md (block checksum valid): that vector is dropped",
    damage: (img) => {
      const b = img.block(img.fs.bmap(img.fs.iget(img.fs.collections.record(1)!.mapIno), 0));
      new DataView(b.buffer, b.byteOffset).setBigUint64(0, BigInt(img.ino("/docs/a.md")), true);
      setBlockChecksum(b, 1);
    },
  },
  {
    name: "vector_checksum",
    code: "VECTOR_CHECKSUM",
    desc: "a bit of slot 1's vector flipped: the vector is removed and its file named",
    damage: (img) => {
      const vec = img.fs.iget(img.fs.collections.record(1)!.vecIno);
      flip(img, img.fs.bmap(vec, 0) * img.bs + 32 + 5, 6);
    },
  },
  {
    name: "vector_orphan",
    code: "VECTOR_ORPHAN",
    desc: "/docs/a.md claims a vector in collection 9, which does not exist (valid checksum)",
    damage: (img) =>
      img.setInode(img.ino("/docs/a.md"), (d) => {
        d.flags |= IFL_HAS_VECTOR;
        d.collId = 9;
      }),
  },
  // ---------------------------------------------------------------- xattr stores (FORMAT.md §7.2)
  {
    name: "xattr_store_checksum",
    code: "XATTR_STORE_CHECKSUM",
    desc: "the checksum of /docs/meta.json's first xattr store entry block flipped: recomputed, nothing lost",
    damage: (img) => flip(img, img.storeBlock("/docs/meta.json", 0) * img.bs + img.bs - 2),
  },
  {
    name: "xattr_store_block",
    code: "XATTR_STORE_BLOCK",
    desc: "the magic of /docs/meta.json's first xattr store entry block broken: the block is unmapped",
    damage: (img) => img.block(img.storeBlock("/docs/meta.json", 0)).fill(0x55, 0, 4),
  },
  {
    name: "xattr_store_value",
    code: "XATTR_STORE_ENTRY",
    desc: "a bit of /docs/meta.json's value run flipped: user.blob is removed and its run freed",
    damage: (img) => flip(img, img.storeBlock("/docs/meta.json", XATTR_VALUE_BASE) * img.bs + 40),
  },
  {
    name: "xattr_store_ref",
    code: "XATTR_STORE_REF",
    desc: "/docs/meta.json's xattr store names another owner (valid checksum): the reference and the store go",
    damage: (img) => {
      const sino = img.inode(img.ino("/docs/meta.json")).xattrBlock;
      img.setInode(sino, (d) => d.parentIno = img.ino("/docs/a.md"));
    },
  },
  {
    name: "xattr_store_leak",
    code: "XATTR_STORE_LEAK",
    desc: "the entry of user.blob removed from /docs/meta.json's store: its value run is unused and freed",
    damage: (img) => {
      const sino = img.inode(img.ino("/docs/meta.json")).xattrBlock;
      for (const l of [0, 1]) {
        const b = img.storeBlock("/docs/meta.json", l);
        const ents = decodeEntryBlock(img.block(b), sino, l);
        const keep = ents.filter((e) => e.inline);
        if (keep.length !== ents.length) img.block(b).set(encodeEntryBlock(keep, img.bs, sino, l));
      }
    },
  },
  {
    name: "internal_unclaimed",
    code: "INTERNAL_UNCLAIMED",
    desc: "/docs/note-2.txt unlinked and marked INTERNAL: an internal file no collection uses, freed",
    damage: (img) => {
      const ino = img.ino("/docs/note-2.txt");
      dirRemove(img.dir("/docs"), enc.encode("note-2.txt"));
      img.setInode(ino, (d) => d.flags |= IFL_INTERNAL);
    },
  },
];

const BASES: Record<NonNullable<Case["base"]>, () => Uint8Array> = {
  "journal": () => buildPopulated({ size: 2 << 20 }).dev.bytes,
  "plain": () => buildPopulated({ size: 1 << 20, journalBlocks: 0, inodes: 128 }).dev.bytes,
  "plain-orphan": () => buildPopulated({ size: 1 << 20, journalBlocks: 0, inodes: 128, orphan: true }).dev.bytes,
  "journal-orphan": () => buildPopulated({ size: 2 << 20, orphan: true }).dev.bytes,
  "journal-crash": () => buildPopulated({ size: 2 << 20, crash: true }).dev.bytes,
};

async function gzip(b: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const s = new Blob([b]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(s).arrayBuffer());
}

/** Builds one case: its damaged image, name file and expected reports. */
async function make(c: Case): Promise<void> {
  const bytes = BASES[c.base ?? (c.name.startsWith("journal") ? "journal" : "plain")]().slice();
  if (c.damage) {
    const img = new Img(bytes);
    try {
      c.damage(img);
    } finally {
      img.close();
    }
  }
  const n = fsck(new MemDevice(bytes.slice(), { readOnly: true }), { readOnly: true });
  if (c.code && !n.problems.some((p) => p.code === c.code)) {
    throw new Error(`case ${c.name}: fsck -n does not report ${c.code}:\n${reportText(n)}`);
  }
  const dev = new MemDevice(bytes.slice());
  const r1 = fsck(dev, { yes: true });
  const r2 = fsck(dev, { yes: true });
  if (r2.exitCode !== 0) throw new Error(`case ${c.name}: the second fsck -y is not clean:\n${reportText(r2)}`);
  const dir = new URL(`${c.name}/`, DIR);
  Deno.mkdirSync(dir, { recursive: true });
  Deno.writeFileSync(new URL("image.gz", dir), await gzip(bytes));
  Deno.writeTextFileSync(new URL("name", dir), `${c.code || "(none)"}: ${c.desc}\n`);
  Deno.writeTextFileSync(new URL("expect.1", dir), reportText(r1));
  Deno.writeTextFileSync(new URL("expect.2", dir), reportText(r2));
  console.log(`${c.name.padEnd(24)} ${r1.problems.length} problems, exit ${r1.exitCode}`);
}

if (import.meta.main) {
  const want = new Set(Deno.args);
  const names = new Set(CASES.map((c) => c.name));
  for (const w of want) if (!names.has(w)) throw new Error(`no case ${w}`);
  for (const c of CASES) if (!want.size || want.has(c.name)) await make(c);
}
