/**
 * Constants of the VexFS on-disk format v1 (docs/FORMAT.md). Every number
 * here is part of the contract with the kernel module (kernel/vexfs_fs.h).
 * @module
 */

/** Superblock magic, bytes "VXFS" (FORMAT.md §3). */
export const SB_MAGIC = 0x53465856;
/** Byte offset of the primary superblock on the device. */
export const SB_OFFSET = 1024;
/** Size in bytes of the superblock structure. */
export const SB_SIZE = 1024;
/** Format major version written and accepted. */
export const VERSION_MAJOR = 1;
/** Format minor version written. */
export const VERSION_MINOR = 0;

/** Smallest and largest block sizes in bytes. */
export const MIN_BLOCK_SIZE = 1024;
export const MAX_BLOCK_SIZE = 65536;
export const DEFAULT_BLOCK_SIZE = 4096;
/** Inode record size in bytes. */
export const INODE_SIZE = 256;
/** Size in bytes of the inode `data` area (extent root or inline data). */
export const INODE_DATA_SIZE = 116;
/** Byte offset of the `data` area inside an inode. */
export const INODE_DATA_OFFSET = 136;

/** Reserved inode numbers (FORMAT.md §4). */
export const ROOT_INO = 2;
export const COLL_TABLE_INO = 3;
export const JOURNAL_INO = 4;
export const FIRST_INO = 16;

/** Superblock state values. */
export const STATE_CLEAN = 1;
export const STATE_DIRTY = 2;
export const STATE_ERROR = 3;

/** Feature flags (FORMAT.md §3.1). */
export const INCOMPAT_EXTENTS = 0x1;
export const INCOMPAT_HTREE = 0x2;
export const INCOMPAT_VECTORS = 0x4;
export const INCOMPAT_JOURNAL = 0x8;
/** the journal may hold transactions to replay before use (FORMAT.md §9.5) */
export const INCOMPAT_RECOVER = 0x10;
/** an inode's xattrs may live in an xattr store inode (FORMAT.md §7.2) */
export const INCOMPAT_XATTR_STORE = 0x20;
/** the metadata regions may lie anywhere in the data area; set by `vexfs resize` when it moves them (FORMAT.md §2.2) */
export const INCOMPAT_FLEX_META = 0x40;
export const RO_COMPAT_PARENT_PTR = 0x1;
export const RO_COMPAT_HNSW = 0x2;
/** a collection may keep a BM25 keyword index; a writer that does not keep it current must not write (FORMAT.md §8.7) */
export const RO_COMPAT_BM25 = 0x4;
/** collections may keep the norms of their vectors (FORMAT.md §8.5) */
export const RO_COMPAT_NORMS = 0x8;
export const COMPAT_XATTR = 0x1;
export const COMPAT_BACKUP_SB = 0x2;
/** Features this implementation understands and writes. */
export const SUPPORTED_INCOMPAT = INCOMPAT_EXTENTS | INCOMPAT_HTREE | INCOMPAT_VECTORS | INCOMPAT_JOURNAL |
  INCOMPAT_RECOVER | INCOMPAT_XATTR_STORE | INCOMPAT_FLEX_META;
export const SUPPORTED_RO_COMPAT = RO_COMPAT_PARENT_PTR | RO_COMPAT_HNSW | RO_COMPAT_BM25 | RO_COMPAT_NORMS;
export const SUPPORTED_COMPAT = COMPAT_XATTR | COMPAT_BACKUP_SB;

/** Inode flags (FORMAT.md §4.1). */
export const IFL_HAS_VECTOR = 0x1;
export const IFL_COLL_ROOT = 0x2;
export const IFL_INTERNAL = 0x4;
export const IFL_ORPHAN = 0x8;
export const IFL_INLINE = 0x10;
/** `xattr_block` is the inode number of this inode's xattr store (FORMAT.md §7.2) */
export const IFL_XATTR_IN_STORE = 0x20;
/** this internal file is an xattr store; `parent_ino` is its owner (FORMAT.md §7.2) */
export const IFL_XATTR_STORE = 0x40;
export const IFL_KNOWN = 0x7f;

/** st_mode type bits. */
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

/** Directory entry file types (FORMAT.md §6). */
export const FT_REG = 1;
export const FT_DIR = 2;
export const FT_CHR = 3;
export const FT_BLK = 4;
export const FT_FIFO = 5;
export const FT_SOCK = 6;
export const FT_SYMLINK = 7;

/** Directory entry file type for an st_mode; throws on an unknown type. */
export function fileTypeOfMode(mode: number): number {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return FT_REG;
    case S_IFDIR:
      return FT_DIR;
    case S_IFCHR:
      return FT_CHR;
    case S_IFBLK:
      return FT_BLK;
    case S_IFIFO:
      return FT_FIFO;
    case S_IFSOCK:
      return FT_SOCK;
    case S_IFLNK:
      return FT_SYMLINK;
  }
  throw new Error(`unknown file type in mode 0${mode.toString(8)}`);
}

/** Extent tree constants (FORMAT.md §5.2). */
export const EXT_MAGIC = 0xf30b;
export const EXT_HEADER_SIZE = 16;
export const EXT_ENTRY_SIZE = 24;
export const EXT_ROOT_MAX = 4;
export const EXT_UNWRITTEN = 0x1;
export const EXT_MAX_DEPTH = 5;
export const EXT_MAX_LEN = 0x7fffffff;
/** Largest file size the engine accepts, bytes (16 TiB). */
export const MAX_FILE_SIZE = 2 ** 44;

/** Xattr block (FORMAT.md §7). */
export const XATTR_MAGIC = 0x52544158;
/** Xattr store entry block, bytes `X A T E` (FORMAT.md §7.2). */
export const XATTR_ENTRY_MAGIC = 0x45544158;
/** Xattr store value block, bytes `X A T V` (FORMAT.md §7.2). */
export const XATTR_VALUE_MAGIC = 0x56544158;
/** First file block of an xattr store's value area (FORMAT.md §7.2). */
export const XATTR_VALUE_BASE = 65536;
/** Longest xattr value, bytes (Linux's XATTR_SIZE_MAX). */
export const XATTR_SIZE_MAX = 65536;
/** Longest listxattr(2) list, bytes (Linux's XATTR_LIST_MAX). */
export const XATTR_LIST_MAX = 65536;
/** Bytes of the list a writer keeps for names it synthesises (FORMAT.md §7.2 limits). */
export const XATTR_LIST_RESERVED = 32;
/** Collection record (FORMAT.md §8.1). */
export const COLL_MAGIC = 0x4c4c4f43;
export const COLL_RECORD_SIZE = 256;
/** Slot map entry size in bytes (FORMAT.md §8.3). */
export const SLOT_ENTRY_SIZE = 16;

/** Longest file name in bytes. */
export const NAME_MAX = 255;
/** Longest symlink target in bytes. */
export const SYMLINK_MAX = 4095;
