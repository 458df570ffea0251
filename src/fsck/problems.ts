/**
 * Every problem fsck can report, as data (the model is e2fsck's
 * `e2fsck/problem.c`): a stable code, a severity, a message template, the
 * prompt of its repair and whether that repair is safe in preen mode (`-p`,
 * e2fsck's `PR_PREEN_OK`). A check fills a problem context and asks
 * ({@link FsckContext.ask} in `context.ts`); the repair sits inside that `if`,
 * beside the check.
 *
 * Templates name context values in braces (`{nlink}`); a value that is an
 * `{ ino }` reference is rendered as `inode N (/path)` once paths are known,
 * at the end of the run. A few codes whose findings differ too much to share
 * one sentence take the whole sentence from the check as `{detail}`.
 *
 * Severities: `error` is an inconsistency (exit 4 if left uncorrected),
 * `warning` is stale or suspicious but harmless on its own, `info` is for the
 * record. Codes are stable: scripts and tests may rely on them.
 * @module
 */

/** How bad a problem is. Only `"error"` left uncorrected makes the exit code 4. */
export type FsckSeverity = "error" | "warning" | "info";

/** One entry of {@link PROBLEM_CODES}. */
export interface ProblemDef {
  /** usual severity (a check may raise or lower it, e.g. free counts after an unclean unmount) */
  severity: FsckSeverity;
  /** message template; `{name}` is replaced by the problem context's `name` */
  message: string;
  /** the repair, as a prompt ("Clear the inode"); absent when fsck cannot repair it */
  fix?: string;
  /** the repair is safe without a person (preen, `-p`) */
  preen: boolean;
  /** what the user does next once it is repaired (the `next` of a fixed problem) */
  after?: string;
}

const d = (
  severity: FsckSeverity,
  message: string,
  fix?: string,
  preen = false,
  after?: string,
): ProblemDef => ({ severity, message, fix, preen, after });

const REWRITE_SB = "Rewrite the superblock";
const REBUILD_TREE = "Rebuild the extent tree without the bad entries";
const REMOVE_ENTRY = "Remove the entry";
const REBUILD_DIR = "Rebuild the directory from its readable entries";
const LOST_FOUND = "Reconnect it to /lost+found";
const SET_AGAIN = "Set it again with 'vexfs vector set'.";

/**
 * Every problem code {@link fsck} can report. Codes are stable: scripts and
 * tests may rely on them.
 */
export const PROBLEM_CODES: Readonly<Record<string, ProblemDef>> = {
  // ---------------------------------------------------------------- operational (exit 8 / 16 / 32)
  OPEN_FAILED: d("error", "Cannot open {path}: {err}."),
  NOT_VEXFS: d("error", "{detail}"),
  IN_USE: d("warning", "{detail}"),
  USAGE: d("error", "{detail}"),
  CHECKER_FAILED: d("error", "The checker stopped unexpectedly: {err}. Please report this as a bug; {state}."),
  PHASE_ABORTED: d("error", "The {phase} phase stopped early: {err}. Later findings may be incomplete."),
  READ_ERROR: d("error", "{what} cannot be read: {err}."),
  REPAIR_FAILED: d("error", "{what} could not be repaired: {err}."),
  PREEN_HALT: d(
    "error",
    "UNEXPECTED INCONSISTENCY; RUN fsck BY HAND: {code} needs a repair that is not safe without a person, so this " +
      "run stopped without writing its repairs. Run 'vexfs fsck -y' (look first with -n if in doubt).",
  ),
  RESTARTED: d(
    "info",
    "The repairs changed the filesystem, so it was checked again from the start to verify them (run {run}).",
  ),

  // ---------------------------------------------------------------- superblock
  SB_MAGIC: d("error", "No VexFS magic (found {found}, expected {want}).", REWRITE_SB),
  SB_CHECKSUM: d(
    "error",
    "Checksum mismatch (stored {stored}, computed {computed}): some bytes of this superblock are damaged.",
    REWRITE_SB,
  ),
  SB_VERSION: d(
    "error",
    "Format version {version} is not supported by this checker (version {supported}); use a newer vexfs.",
    REWRITE_SB,
  ),
  SB_FEATURES: d("error", "{detail}", "Set the v1 feature flags"),
  SB_GEOMETRY: d("error", "{detail}", REWRITE_SB),
  SB_FIELDS: d("warning", "{detail}", "Correct the fields", true),
  SB_STATE: d("error", "Invalid state {state} (1 clean, 2 dirty, 3 error).", "Set it", true),
  SB_DIRTY: d(
    "warning",
    "The filesystem was not cleanly unmounted (or is still in use); everything below is checked for the damage this " +
      "can cause.",
    "Mark it clean",
    true,
  ),
  SB_ERROR_STATE: d(
    "error",
    "The filesystem recorded {count} error(s) while it was in use{first}; what they damaged is listed here.",
    "Clear the error record",
    true,
  ),
  SB_MOUNT_COUNT: d(
    "info",
    "Mounted {count} times since the last check (maximum {max}); a full check was due.",
    "Reset the mount count",
    true,
  ),
  SB_USING_BACKUP: d(
    "info",
    "The primary superblock is damaged but the backup in block {block} is intact; it is used for this check.",
    "Copy the backup over the primary",
  ),
  SB_BACKUP_BAD: d("error", "The backup superblock is damaged: {detail}", "Rewrite it from the primary", true),
  SB_BACKUP_MISMATCH: d(
    "error",
    "The backup superblock disagrees with the primary on {fields}.",
    "Rewrite it from the primary",
    true,
  ),
  SB_BACKUP_STALE: d(
    "warning",
    "The backup superblock is older than the primary although the filesystem was cleanly unmounted.",
    "Refresh it",
    true,
  ),
  SB_FREE_BLOCKS: d(
    "error",
    "The superblock says {sb} free blocks but the block bitmap has {bitmap}{note}.",
    "Correct the count",
    true,
  ),
  SB_FREE_INODES: d(
    "error",
    "The superblock says {sb} free inodes but the inode bitmap has {bitmap}{note}.",
    "Correct the count",
    true,
  ),
  SB_COLL_COUNT: d(
    "error",
    "The superblock counts {sb} collections but the collection table holds {table}.",
    "Correct the count",
    true,
  ),
  DEVICE_TRUNCATED: d("error", "{detail}"),

  // ---------------------------------------------------------------- journal (FORMAT.md §9)
  JOURNAL_INODE: d(
    "error",
    "The journal inode is unusable ({why}); the journal cannot be replayed or used.",
    "Re-create an empty journal",
  ),
  JOURNAL_SUPERBLOCK: d(
    "error",
    "The journal superblock is damaged ({why}); the journal cannot be replayed or used.",
    "Re-create an empty journal",
  ),
  JOURNAL_FIELDS: d("warning", "{detail}", "Correct the fields", true),
  JOURNAL_RECOVERED: d(
    "info",
    "The journal held {transactions} committed transaction(s) ({blocks} blocks, {revoked} revoked){how}.",
    "Replay it",
    true,
  ),
  JOURNAL_REPLAY_PROBLEM: d("warning", "Journal replay: {detail}."),

  // ---------------------------------------------------------------- inodes (pass 1)
  INODE_CHECKSUM: d(
    "error",
    "The inode fails its checksum; its fields are otherwise consistent, so only the checksum is wrong.",
    "Recompute the checksum",
  ),
  INODE_CORRUPT: d(
    "error",
    "The inode fails its checksum and its fields are inconsistent too ({what}): it is damaged beyond a checksum " +
      "repair.",
    "Clear the inode",
  ),
  INODE_FLAGS: d("error", "{detail}", "Clear the flag"),
  INODE_FIELDS: d("warning", "{field} is {value} although {reason}.", "Zero it", true),
  INODE_TIME: d("error", "{name} has {nsec} nanoseconds (must be below 1000000000).", "Set them to 0", true),
  INODE_SIZE: d("error", "{detail}", "Free the blocks past the end"),
  INODE_BLOCKS: d(
    "error",
    "The blocks field says {have} but the inode owns {owned} (data, extent tree and xattr blocks).",
    "Correct it",
    true,
  ),
  INODE_SPECIAL_BLOCKS: d("error", "A {type} owns {n} data blocks.", "Free them"),
  INODE_DAMAGED: d("error", "The inode is in use but does not hold a valid inode ({why}).", "Clear it"),
  INODE_NLINK: d("error", "The link count is {have} but should be {want} ({reason}).", "Set it to {want}", true),
  INODE_NLINK_ZERO: d(
    "error",
    "The inode has no links and is not on the orphan list: its space is leaked.",
    "Free it",
    true,
  ),
  INODE_UNLINKED: d(
    "error",
    "The {type} ({nlink} links, {size} bytes) is not linked from any directory.",
    LOST_FOUND,
    false,
    "Look for it in /lost+found as '#{num}'.",
  ),
  INODE_PARENT: d(
    "error",
    "The parent pointer (inode {pino}, hash {phash}) names no link of this file.",
    "Point it at one of its links",
    true,
  ),
  SYMLINK_SIZE: d("error", "{detail}", "Clear the inode"),
  EXTENT_HEADER: d("error", "{detail}", REBUILD_TREE),
  EXTENT_CHECKSUM: d(
    "error",
    "The extent tree block fails its checksum: the mapping it holds may be damaged.",
    REBUILD_TREE,
  ),
  EXTENT_DEPTH: d("error", "{detail}", REBUILD_TREE),
  EXTENT_ORDER: d("error", "{detail}", REBUILD_TREE),
  EXTENT_OVERLAP: d("error", "{detail}", REBUILD_TREE),
  EXTENT_INDEX_KEY: d("error", "{detail}", REBUILD_TREE),
  EXTENT_RANGE: d("error", "{detail}", REBUILD_TREE),
  EXTENT_FLAGS: d("error", "Extent {i} ({what}) has unknown flags {flags}.", "Clear the unknown flags"),
  XATTR_RANGE: d(
    "error",
    "The xattr block number {block} lies outside the data area ({lo}..{hi}).",
    "Drop the attributes",
  ),
  XATTR_CHECKSUM: d(
    "error",
    "The xattr block fails its checksum: its attributes may be damaged.",
    "Clear the attributes",
    false,
    "Set the file's extended attributes again.",
  ),
  XATTR_FORMAT: d("error", "{detail}", "Clear the attributes", false, "Set the file's extended attributes again."),
  XATTR_STORE_REF: d(
    "error",
    "{detail}",
    "Drop the reference (the attributes are lost)",
    false,
    "Set the file's extended attributes again.",
  ),
  XATTR_STORE_BLOCK: d(
    "error",
    "{detail}",
    "Remove the entry block from the store",
    false,
    "Set the file's extended attributes again.",
  ),
  XATTR_STORE_CHECKSUM: d(
    "error",
    "An xattr store entry block fails its checksum, but its entries are well formed.",
    "Recompute the checksum",
    true,
  ),
  XATTR_STORE_ENTRY: d("error", "{detail}", "Remove the attribute", false, "Set the attribute again."),
  XATTR_ACL: d(
    "error",
    "The attribute '{name}' is not a POSIX ACL the kernel accepts ({why}).",
    "Remove the ACL (the mode bits stay)",
    false,
    "Set the ACL again with setfacl if it is still wanted.",
  ),
  XATTR_STORE_LEAK: d(
    "warning",
    "The xattr store maps {n} value blocks no attribute uses ({detail}).",
    "Free them",
    true,
  ),
  BLOCK_DUPLICATE: d("error", "{detail}", "Give each owner its own copy"),
  ROOT_BAD: d("error", "{detail}", "Re-create the root directory"),

  // ---------------------------------------------------------------- directories (pass 2)
  DIR_CHECKSUM: d(
    "error",
    "The directory block fails its checksum: entries in it may be damaged.",
    REBUILD_DIR,
  ),
  DIR_HASH: d("error", "{detail}", REBUILD_DIR),
  DIR_DUPLICATE: d("error", "{detail}", REBUILD_DIR),
  DIR_STRUCTURE: d("error", "{detail}", REBUILD_DIR),
  DIR_SIZE: d("error", "{detail}", REBUILD_DIR),
  DIR_ENTRY_BAD_INO: d("error", "The entry points to inode {target}, which does not exist (1..{max}).", REMOVE_ENTRY),
  DIR_ENTRY_RESERVED: d("error", "The entry points to reserved inode {target}.", REMOVE_ENTRY),
  DIR_ENTRY_INTERNAL: d(
    "error",
    "The entry points to internal inode {target} (a private file of a collection or the journal), which no " +
      "directory may link.",
    REMOVE_ENTRY,
  ),
  DIR_ENTRY_FREE_INODE: d("error", "The entry points to inode {target}, which is {state}.", REMOVE_ENTRY),
  DIR_ENTRY_TYPE: d("error", "The entry says {said} but inode {target} is a {is}.", "Correct the entry"),
  DIR_ENTRY_NAME: d("error", "The entry's name is not a valid file name ({why}).", REMOVE_ENTRY),

  // ---------------------------------------------------------------- connectivity (pass 3)
  DIR_MULTIPLE_LINKS: d(
    "error",
    "The entry is a second link to directory {target}; directories have exactly one.",
    REMOVE_ENTRY,
  ),
  DIR_LOOP: d("error", "{detail}", REMOVE_ENTRY),
  DIR_UNREACHABLE: d("error", "{detail}", LOST_FOUND, false, "Look for it in /lost+found as '#{num}'."),
  LOST_FOUND: d("error", "/lost+found {state}; it is needed to reconnect what is not linked.", "Create it"),

  // ---------------------------------------------------------------- link counts (pass 4)
  DIR_PARENT: d(
    "error",
    "The directory's parent pointer (inode {pino}, hash {phash}) does not name the directory that contains it " +
      "(inode {dir}, hash {hash}): '..' and path lookups go wrong.",
    "Correct it",
  ),

  // ---------------------------------------------------------------- orphans
  ORPHAN_PENDING: d(
    "info",
    "The {type} was deleted while still open ({size} bytes, {blocks} blocks); the next read-write open frees it.",
    "Free it now",
    true,
  ),
  ORPHAN_BAD_INO: d("error", "{from} points to inode {target}, which {why}.", "Cut the list there"),
  ORPHAN_LOOP: d("error", "{from} points back to inode {target}: the orphan list loops.", "Cut the loop"),
  ORPHAN_LINKED: d(
    "error",
    "The inode is on the orphan list but has {nlink} link(s){why}.",
    "Take it off the list",
    true,
  ),
  ORPHAN_NOT_LISTED: d(
    "error",
    "The inode has the ORPHAN flag but is not on the orphan list, so it would never be freed.",
    "Free it",
    true,
  ),

  // ---------------------------------------------------------------- collections (FORMAT.md §8)
  COLL_TABLE_BAD: d(
    "error",
    "{detail}",
    "Re-create the collection table",
    false,
    "Create the collections again with 'vexfs collection create' and set their vectors.",
  ),
  COLL_RECORD_MAGIC: d(
    "error",
    "The collection record has bad magic {magic}; it is neither free nor a collection.",
    "Clear the record",
    false,
    "The collection is gone: create it again with 'vexfs collection create' and set its vectors.",
  ),
  COLL_RECORD_CHECKSUM: d(
    "error",
    "The collection record fails its checksum: some of its fields may be damaged.",
    "Rebuild the record from the vector store",
  ),
  COLL_RECORD_FIELDS: d("error", "The collection record has invalid fields: {fields}.", "Correct them"),
  COLL_ROOT: d("error", "{detail}", "Correct the root"),
  COLL_NESTED: d(
    "error",
    "Collection {id} lies inside collection {outer} (rooted at inode {outerRoot}); collections do not nest.",
    "Drop the inner collection",
    false,
    "Its vectors are gone; make the directory a collection elsewhere if needed.",
  ),
  COLL_INTERNAL: d("error", "{detail}", "Re-create its vector store empty", false, "Set its vectors again."),
  COLL_VEC_SIZE: d(
    "error",
    "The vector file is {size} bytes but {count} vectors of {stride} bytes need exactly {want}.",
    "Rebuild the vector store",
  ),
  COLL_MAP_SIZE: d("error", "{detail}", "Rebuild the slot map"),
  SLOTMAP_CHECKSUM: d(
    "error",
    "The slot-map block fails its checksum: owners or vector CRCs of slots {from}..{to} may be damaged.",
    "Rebuild the slot map from the files' vec_slot fields",
  ),
  SLOTMAP_TAIL: d(
    "error",
    "Bytes after the {n} slots in use are not zero (stale entries past the count).",
    "Clear them",
  ),
  SLOT_OWNER: d("error", "{detail}", "Drop the slot"),
  SLOT_DUPLICATE: d(
    "error",
    "Inode {owner} owns both slot {a} and slot {b}; a file has at most one vector.",
    "Drop the slot it does not point to",
  ),
  VECTOR_CHECKSUM: d(
    "error",
    "The vector of {file} fails its CRC-32C: its bytes in the vector file (offset {off}) are damaged, so searches " +
      "would score it wrongly.",
    "Remove the vector",
    false,
    SET_AGAIN,
  ),
  VECTOR_ORPHAN: d("error", "{detail}", "Clear its vector flag", false, SET_AGAIN),
  HNSW_DAMAGED: d(
    "error",
    "The collection's HNSW graph is damaged: {detail}. Searches would scan exactly until it is rebuilt.",
    "Drop the graph (the engine rebuilds it from the vectors when the collection is next used)",
    true,
  ),
  HNSW_INCOMPLETE: d(
    "info",
    "The collection's HNSW graph file has no usable header ({detail}): a write of the whole graph was cut short; " +
      "the engine rebuilds it on next use (FORMAT.md §8.6).",
  ),
  HNSW_BEHIND: d(
    "info",
    "The collection's HNSW graph matches generation {graph} of the store, which is at {store} (a crash after a " +
      "commit, or a writer without HNSW support); the next use catches it up (FORMAT.md §8.6).",
  ),
  BM25_HEADER: d(
    "error",
    "The collection's BM25 index file has bad header slots: {detail}. Keyword searches would fail until it is rebuilt.",
    "Drop the index file (the engine rebuilds it from the files when the collection is next used)",
    true,
  ),
  BM25_DAMAGED: d(
    "error",
    "The collection's BM25 index is damaged: {detail}. Keyword searches would fail until it is rebuilt.",
    "Drop the index file (the engine rebuilds it from the files when the collection is next used)",
    true,
  ),
  BM25_DOCS: d(
    "error",
    "The collection's BM25 index says it is current (text generation {gen}) but its documents differ from the " +
      "files: {detail}. Keyword searches would answer from wrong postings.",
    "Drop the index file (the engine rebuilds it from the files when the collection is next used)",
    true,
  ),
  BM25_UNVERIFIED: d(
    "info",
    "After an unclean shutdown the collection's BM25 index differs from the files it says it matches ({detail}): " +
      "file data written in place before the crash (FORMAT.md §8.7); the engine verifies and catches it up when it " +
      "next loads it.",
    "Mark the index stale (bump the collection's text generation) so every reader catches it up",
    true,
  ),
  BM25_STALE: d(
    "info",
    "The collection's BM25 index {detail}; the engine catches it up or rebuilds it when the collection is next used " +
      "(FORMAT.md §8.7).",
  ),
  BM25_INCOMPLETE: d(
    "info",
    "The collection's BM25 index file has no valid header slot ({detail}): a build was cut short; the engine " +
      "rebuilds it on next use (FORMAT.md §8.7).",
  ),
  BM25_GARBAGE: d(
    "info",
    "{n} block(s) of the collection's BM25 index file are named by neither header slot (segments freed by a write " +
      "that a crash cut short); the engine's next index write frees them (FORMAT.md §8.7).",
  ),
  NORMS_WRONG: d(
    "error",
    "{detail} (FORMAT.md §8.5: the norms must follow the store slot by slot, or cosine scores are wrong).",
    "Recompute the norms",
    true,
  ),
  INTERNAL_UNCLAIMED: d(
    "error",
    "The inode is marked INTERNAL but nothing uses it (left over from a dropped collection?).",
    "Free it",
  ),

  // ---------------------------------------------------------------- bitmaps (pass 5)
  BLOCK_BITMAP_MISSING: d(
    "error",
    "{Range} {is} used by {owners} but marked free: the allocator could hand {it} out again and corrupt the owner.",
    "Mark {it} in use",
    true,
  ),
  BLOCK_BITMAP_EXTRA: d(
    "error",
    "{Range} {is} marked in use but nothing owns {it} (leaked space).",
    "Mark {it} free",
    true,
  ),
  INODE_BITMAP_MISSING: d(
    "error",
    "Inode {target} is in use ({what}) but marked free in the inode bitmap: it could be allocated again and " +
      "overwritten.",
    "Mark it in use",
    true,
  ),
  INODE_BITMAP_EXTRA: d(
    "error",
    "Inode {target} is marked in use but holds no inode ({why}) and nothing refers to it.",
    "Mark it free",
    true,
  ),
  INODE_BITMAP_RESERVED: d(
    "error",
    "Reserved inode {target} is marked free in the inode bitmap.",
    "Mark it in use",
    true,
  ),
  BITMAP_PADDING: d(
    "error",
    "Padding bit {bit} (past the {count} {what}) is clear; padding bits must be set so nothing is allocated there.",
    "Set them",
    true,
  ),
};

/** A value a problem template can name: text, a number, or an inode rendered as `inode N (/path)`. */
export type ProblemVar = string | number | { ino: number };

/**
 * Fills a template: `{name}` becomes `vars[name]` (an `{ ino }` through
 * `describeIno`). `{Name}` with a capital first letter capitalises the value.
 * Unknown names are left as they are, so a missing value shows.
 */
export function renderTemplate(
  template: string,
  vars: Record<string, ProblemVar | undefined>,
  describeIno: (ino: number) => string,
): string {
  return template.replace(/\{([A-Za-z]\w*)\}/g, (m, name: string) => {
    const lower = name[0].toLowerCase() + name.slice(1);
    const v = vars[name] ?? vars[lower];
    if (v === undefined) return m;
    const s = typeof v === "object" ? describeIno(v.ino) : String(v);
    return name !== lower ? s[0]?.toUpperCase() + s.slice(1) : s;
  });
}
