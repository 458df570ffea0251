/**
 * The BM25 keyword index of a collection (docs/FORMAT.md §8.7; a VexFS check
 * with no e2fsck counterpart), called by the collections pass for each
 * record whose `bm25_ino` names a usable internal file (collections.ts
 * claims it).
 *
 * Checks, in order:
 * 1. the two header slots (file blocks 0 and 1): a slot whose CRC is right
 *    but a field is not is damage (`BM25_HEADER`); neither slot valid is a
 *    build cut short when at most one slot holds bytes (`BM25_INCOMPLETE`,
 *    info; a file with no header bytes at all is an index not written yet
 *    and says nothing), damage when both do; two valid slots with the same
 *    `seq` is damage (a writer always writes `seq + 1`);
 * 2. the current slot's segments (reader.ts `Bm25Index.open`: every block's
 *    CRC, the doc table, tombstones, dictionary order and hashes, stream
 *    bounds, a live inode in two segments, header `doc_count` /
 *    `total_tokens` against the live documents), then each segment's
 *    `verify()` (every posting list decodes with `df` pairs, Σ tf = dl,
 *    distinct terms = uniq, UTF-8 terms), then the header's
 *    `skipped_binary`, `skipped_large`, `empty_docs` recomputed from the live
 *    documents (`BM25_DAMAGED`);
 * 3. freshness: a header whose `text_generation` or analyzer fields differ
 *    from the record is stale, which is not an error (the engine catches it
 *    up or rebuilds it, as a graph behind its store: `BM25_STALE`, info);
 * 4. for a fresh index, the doc table against the inodes: every live
 *    document is a regular file of this collection (the `parent_ino` rule,
 *    FORMAT.md §8.7, as pass 4 will leave the parent pointers) with the same
 *    generation and size, skipped as large exactly when larger than
 *    `bm25_max_file`, and, when not, the same CRC-32C of its bytes (every
 *    document is read once); every regular file of the collection has a
 *    live document (`BM25_DOCS`). After an unclean shutdown (a superblock not
 *    marked clean, or a journal replayed) a difference is expected (file
 *    data is not journaled, FORMAT.md §8.7): `BM25_UNVERIFIED` (info), whose
 *    repair bumps the record's `text_generation` so the index is stale for
 *    every reader, since the repair marks the filesystem clean and the
 *    engine would otherwise trust the header;
 * 5. written blocks of the file, past the header slots and within its size, that neither valid slot names
 *    (`BM25_GARBAGE`, info: the engine's next write punches them).
 *
 * The non-current valid slot's segments are not decoded (readers use them
 * only after a torn write of the current slot, which a writer's next header
 * replaces). Documents are not re-tokenized: a doc record whose `dl` and
 * postings agree with each other but not with the text is not found.
 *
 * Repair (the HNSW graph's precedent, collections.ts `checkGraph`): a damaged
 * or inconsistent index is dropped, `bm25_ino` set to 0 and its file freed,
 * with `COLL_INDEX_BM25` and the parameters kept; the engine builds a new
 * index from the files when the collection is next used (a search, or a
 * change of its files), as it does for an index never written. fsck does not
 * tokenize: the analyzer build is the engine's.
 * @module
 */
import {
  EXT_UNWRITTEN,
  IFL_COLL_ROOT,
  IFL_INTERNAL,
  ROOT_INO,
  S_IFDIR,
  S_IFREG,
  STATE_CLEAN,
} from "../format/constants.ts";
import type { CollectionRecord } from "../format/collection.ts";
import { crc32c } from "../format/crc.ts";
import { FsError } from "../errors.ts";
import { type Bm25Header, decodeHeader, DOC_LARGE } from "../bm25/layout.ts";
import { type BlockSource, Bm25Index } from "../bm25/reader.ts";
import { errText, type FsckContext, type InodeInfo, ReadFail } from "./context.ts";
import { readFile } from "./collections.ts";

/** What the caller does to the record after {@link checkTextIndex}. */
export type TextIndexRepair = "none" | "drop" | "stale";

/** At most this many differences are named in a `BM25_DOCS` message. */
const MAX_NAMED = 5;

/**
 * Checks the BM25 index file `file` of collection record `rec`.
 * @param ctx the run
 * @param rec the collection's record (COLL_INDEX_BM25 set, `bm25_ino` = `file.ino`)
 * @param file the index file: a usable internal regular file, claimed by the caller
 * @param members the regular files that are documents of the collection, ascending (computed on first call)
 * @returns the repair the caller makes: "drop" (forget the file and free it), "stale" (bump
 *   `text_generation`), "none"; never a repair in check mode
 */
export function checkTextIndex(
  ctx: FsckContext,
  rec: CollectionRecord,
  file: InodeInfo,
  members: () => number[],
): TextIndexRepair {
  const where = `collection ${rec.id} BM25 index`;
  const bs = ctx.bs;
  const size = file.d!.size;
  const fileBlocks = Math.ceil(size / bs);
  const src: BlockSource = {
    blockSize: bs,
    fileBlocks,
    read: (fileBlock, count) => {
      const from = fileBlock * bs;
      const len = Math.max(0, Math.min(count * bs, fileBlocks * bs - from));
      return readFile(ctx, file, from, len);
    },
  };
  const drop = (code: string, detail: string, severity?: "warning"): TextIndexRepair =>
    ctx.ask(code, { where, detail, ...(severity ? { severity } : {}) }) ? "drop" : "none";
  // 1. header slots
  let raw: Uint8Array;
  try {
    raw = src.read(0, 2);
  } catch (e) {
    ctx.note("READ_ERROR", { where, what: "The BM25 index header slots", err: errText(e) });
    return "none";
  }
  const slotBytes = (i: 0 | 1) => {
    const b = new Uint8Array(bs);
    b.set(raw.subarray(i * bs, Math.min(raw.length, (i + 1) * bs)));
    return b;
  };
  const headers: (Bm25Header | null)[] = [];
  const bad: string[] = [];
  const written: boolean[] = [];
  for (const i of [0, 1] as const) {
    const b = slotBytes(i);
    written.push(b.some((x) => x !== 0));
    try {
      headers.push(decodeHeader(b, i, rec.id));
    } catch (e) {
      headers.push(null);
      bad.push(errText(e));
    }
  }
  const [h0, h1] = headers;
  if (bad.length) return drop("BM25_HEADER", bad.join("; "));
  if (!h0 && !h1) {
    if (!written[0] && !written[1]) {
      // an empty file is an index not written yet (the engine allocates it before the first write)
      if (size > 0) ctx.ask("BM25_INCOMPLETE", { where, detail: "both slots are zero" });
      return "none";
    }
    if (written[0] && written[1]) {
      return drop("BM25_HEADER", "neither slot has a valid magic and CRC (both hold bytes, so not a torn write)");
    }
    ctx.ask("BM25_INCOMPLETE", { where, detail: "one slot was torn, the other never written" });
    return "none";
  }
  if (h0 && h1 && h0.seq === h1.seq) return drop("BM25_HEADER", `both slots have seq ${h0.seq}`);
  const cur = (h0 && (!h1 || h0.seq > h1.seq) ? h0 : h1)!;
  // 3. (first, for the severity of damage) freshness
  const stale = staleWhy(cur, rec);
  // 2. the current slot's segments
  let ix: Bm25Index;
  try {
    ix = Bm25Index.open(src, rec.id, ctx.sb.hashSeed)!;
    for (const s of ix.segments) s.verify();
    const st = ix.liveStats();
    const diff: string[] = [];
    if (st.skippedBinary !== cur.skippedBinary) {
      diff.push(`skipped_binary ${cur.skippedBinary}, the live documents say ${st.skippedBinary}`);
    }
    if (st.skippedLarge !== cur.skippedLarge) {
      diff.push(`skipped_large ${cur.skippedLarge}, the live documents say ${st.skippedLarge}`);
    }
    if (st.emptyDocs !== cur.emptyDocs) {
      diff.push(`empty_docs ${cur.emptyDocs}, the live documents say ${st.emptyDocs}`);
    }
    if (diff.length) throw new FsError("EUCLEAN", `the current header slot's ${diff.join(", ")}`);
  } catch (e) {
    if (e instanceof ReadFail) {
      ctx.note("READ_ERROR", { where, what: "The BM25 index segments", err: errText(e) });
      return "none";
    }
    // EUCLEAN from the reader; anything else it throws on bad bytes is damage too (never a phase abort).
    // a stale index that does not open is rebuilt by the engine anyway: not an error, but still dropped
    return drop("BM25_DAMAGED", errText(e), stale ? "warning" : undefined);
  }
  // 5. garbage blocks
  const named: [number, number][] = [];
  for (const h of [h0, h1]) for (const s of h?.segments ?? []) named.push([s.firstBlock, s.firstBlock + s.blockCount]);
  let garbage = 0;
  for (const e of file.exts) {
    if (e.flags & EXT_UNWRITTEN) continue; // preallocated (past the end, by the engine's writes): reads as zeros
    for (let b = Math.max(2, e.logical); b < Math.min(e.logical + e.length, fileBlocks); b++) {
      if (!named.some(([a, z]) => b >= a && b < z)) garbage++;
    }
  }
  if (garbage) ctx.ask("BM25_GARBAGE", { where, n: garbage });
  if (stale) {
    ctx.ask("BM25_STALE", { where, detail: stale });
    return "none";
  }
  // 4. the doc table against the files
  const diffs = docDifferences(ctx, rec, ix, members());
  if (diffs.count === 0) return "none";
  const detail = `${diffs.count} difference(s): ${diffs.named.join("; ")}${
    diffs.count > diffs.named.length ? "; ..." : ""
  }`;
  if (ctx.replayed || ctx.sb.state !== STATE_CLEAN) {
    return ctx.ask("BM25_UNVERIFIED", { where, detail }) ? "stale" : "none";
  }
  return ctx.ask("BM25_DOCS", { where, gen: rec.textGeneration, detail }) ? "drop" : "none";
}

/** Why header `h` is stale for record `rec` (FORMAT.md §8.7 "Freshness", without the signature), or "" when fresh. */
function staleWhy(h: Bm25Header, rec: CollectionRecord): string {
  if (
    h.analyzer !== rec.bm25Analyzer || h.stemmer !== rec.bm25Stemmer || h.stopwords !== rec.bm25Stopwords ||
    h.lang !== rec.bm25Lang || h.maxFile !== rec.bm25MaxFile
  ) {
    return "was made with other analyzer parameters or max_file than the record's (it will be rebuilt)";
  }
  if (h.textGeneration !== rec.textGeneration) {
    return `matches text generation ${h.textGeneration}, the collection is at ${rec.textGeneration}`;
  }
  return "";
}

/** The live documents of `ix` against the member files: how many differ, the first few described. */
function docDifferences(
  ctx: FsckContext,
  rec: CollectionRecord,
  ix: Bm25Index,
  members: number[],
): { count: number; named: string[] } {
  const named: string[] = [];
  let count = 0;
  const say = (s: string) => {
    count++;
    if (named.length < MAX_NAMED) named.push(s);
  };
  const isMember = new Set(members);
  const docs = ix.liveDocs();
  const indexed = new Set<number>();
  for (const d of docs) {
    indexed.add(d.ino);
    if (!isMember.has(d.ino)) {
      const t = ctx.infos.get(d.ino);
      say(`inode ${d.ino} has a document but is ${t?.usable ? "not a file of the collection" : "not in use"}`);
      continue;
    }
    const t = ctx.infos.get(d.ino)!;
    const n = t.d!;
    if (n.generation !== d.igen) {
      say(`inode ${d.ino}: generation ${n.generation}, its document says ${d.igen}`);
      continue;
    }
    if (n.size !== d.size) {
      say(`inode ${d.ino}: ${n.size} bytes, its document says ${d.size}`);
      continue;
    }
    const large = n.size > rec.bm25MaxFile;
    if (large !== ((d.flags & DOC_LARGE) !== 0)) {
      say(
        `inode ${d.ino}: ${large ? "larger" : "not larger"} than max_file ${rec.bm25MaxFile} but ${
          large ? "not " : ""
        }skipped as large`,
      );
      continue;
    }
    if (large) continue;
    let bytes: Uint8Array;
    try {
      bytes = readFile(ctx, t, 0, n.size);
    } catch (e) {
      ctx.note("READ_ERROR", { ino: d.ino, what: "The document's data", err: errText(e) });
      continue;
    }
    const crc = crc32c(bytes);
    if (crc !== d.crc) {
      say(`inode ${d.ino}: content CRC 0x${crc.toString(16)}, its document says 0x${d.crc.toString(16)}`);
    }
  }
  for (const ino of members) if (!indexed.has(ino)) say(`inode ${ino} is a file of the collection without a document`);
  return { count, named };
}

/**
 * The documents of every collection (FORMAT.md §8.7): the usable regular
 * files, not internal, reached from the root, whose parent directory (their
 * `parent_ino` when a directory entry there names them, else their first
 * link, as pass 4 repairs it) lies below a collection root without passing
 * another root.
 * @returns collection id → its files, ascending
 */
export function textMembers(ctx: FsckContext): Map<number, number[]> {
  const dirColl = new Map<number, number>([[0, 0]]);
  const collOfDir = (dir: number): number => {
    const path: number[] = [];
    let c: number | undefined;
    for (let cur = dir, guard = 0; c === undefined; guard++) {
      c = dirColl.get(cur);
      if (c !== undefined) break;
      path.push(cur);
      const t = ctx.infos.get(cur);
      if (guard > 4096 || !t?.usable || t.type !== S_IFDIR) c = 0;
      else if (t.d!.flags & IFL_COLL_ROOT) c = t.d!.collId;
      else if (cur === ROOT_INO) c = 0;
      else cur = ctx.tree.get(cur)?.dir ?? 0;
    }
    for (const d of path) dirColl.set(d, c);
    return c;
  };
  const out = new Map<number, number[]>();
  for (const t of ctx.infos.values()) {
    if (!t.usable || t.type !== S_IFREG || (t.d!.flags & IFL_INTERNAL) || !ctx.tree.has(t.ino)) continue;
    const p = t.d!.parentIno;
    const dir = t.links.some((l) => l.dir === p) ? p : ctx.tree.get(t.ino)!.dir;
    const c = collOfDir(dir);
    if (!c) continue;
    let list = out.get(c);
    if (!list) out.set(c, list = []);
    list.push(t.ino);
  }
  for (const list of out.values()) list.sort((a, b) => a - b);
  return out;
}
