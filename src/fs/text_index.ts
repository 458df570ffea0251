/**
 * The text (BM25) indexes of an open filesystem (design issue 12 §1.4,
 * §1.5, §4; docs/FORMAT.md §8.7): what follows the files as they change,
 * builds and drops an index, answers keyword searches, and writes the index
 * files after commits.
 *
 * Model (the HNSW graph's, FORMAT.md §8.6): the index file is derived
 * data written outside the journal after a commit. Every change of a
 * collection's text documents bumps the record's `text_generation` in the
 * transaction of the change (once per collection per transaction) and puts
 * the inode into an in-memory pending set. A search answers from the index
 * plus an in-memory overlay segment of the pending files, so it is exact
 * between checkpoints; a checkpoint writes them as a delta segment (or a
 * merged base) and a header naming the generation it matches. An index
 * whose header is behind the record (a crash between a commit and a
 * checkpoint) is caught up by comparing the tree with its doc table; one
 * made with another analyzer (or none) is rebuilt. Read-only engines catch
 * up in memory only.
 * @module
 */
import { check, FsError } from "../errors.ts";
import { IFL_INTERNAL, RO_COMPAT_BM25, ROOT_INO, S_IFDIR, S_IFMT, S_IFREG } from "../format/constants.ts";
import { COLL_INDEX_BM25, type CollectionRecord } from "../format/collection.ts";
import { type Analyzer, type AnalyzerParams, DEFAULT_ANALYZER, makeAnalyzer } from "../text/analyzer.ts";
import type { Bm25Header, DocEntry, DocInput } from "../bm25/layout.ts";
import { encodeSegment } from "../bm25/segment.ts";
import { Bm25Index } from "../bm25/reader.ts";
import { scoreBm25 } from "../bm25/score.ts";
import { mergeSegments, planCheckpoint } from "../bm25/merge.ts";
import type { Vexfs } from "./fs.ts";
import type { Collections } from "./vectors.ts";
import type { SearchHit } from "./vector_types.ts";
import { underDir } from "./vector_search.ts";
import { inoFilter } from "./xattr_filter.ts";
import { decodeSegmentHeader, DOC_BINARY, DOC_LARGE } from "../bm25/layout.ts";
import { differing, memberFiles, type TokenizedDoc, tokenizeFile } from "./text_index_docs.ts";
import { fileSource, readSlots, type Slots, writeSegment } from "./text_index_file.ts";
import type { TextIndexParams, TextIndexStats, TextMethod, TextSearchOptions } from "./text_index_types.ts";

export type { TextIndexParams, TextIndexStats, TextMethod, TextSearchOptions } from "./text_index_types.ts";

/** Default BM25 parameters and document size limit (design §1.1). */
export const TEXT_INDEX_DEFAULTS = { k1: 1.2, b: 0.75, maxFile: 4 << 20 } as const;

/** One collection's text index in memory. */
interface TextState {
  id: number;
  /** inodes changed since what `ix` describes: re-tokenized, or only tombstoned when no longer documents */
  pending: Set<number>;
  /** bumped on every change of `pending` (the overlay is remade when it differs) */
  version: number;
  /** the record's text generation before this open's first change, while `ix` is not loaded */
  baseGen?: number;
  /** {@link Vexfs.commitCount} at this collection's last bump: one bump per transaction */
  bumpedAt: number;
  /** the index: loaded from the file (and checked), or built in memory */
  ix?: Bm25Index;
  analyzer?: Analyzer;
  /** the file's header slots when `ix` came from it */
  slots?: Slots;
  /** `ix` is not on disk: the next checkpoint writes a whole new base */
  rebuild: boolean;
  /** the header on disk names an older text generation than the record's */
  behind: boolean;
  /** the index was caught up or rebuilt in this open */
  caughtUp: boolean;
  note: string;
  /** pending files tokenized (null: no longer a document), dropped when touched again */
  docs: Map<number, TokenizedDoc | null>;
  /** `ix` with the pending files as an overlay segment, for `version` */
  view?: { version: number; ix: Bm25Index };
  /** the base segment (id 1) of a build in memory, while nothing changed since: written as is */
  built?: Uint8Array;
  /** the header's long_tokens, plus the tokens dropped in documents tokenized since */
  longTokens: number;
  buildMs: number;
}

/**
 * Text indexes of every collection of one open filesystem; reachable as
 * `fs.collections.text`. The engine's hooks call {@link touch} (design §4.2);
 * {@link Collections.checkpoint} calls {@link checkpoint} after commits.
 */
export class TextIndexes {
  #fs: Vexfs;
  #c: Collections;
  #states = new Map<number, TextState>();
  /** whether some collection has a text index (undefined: not known yet): the hooks' fast path */
  #any: boolean | undefined;
  /** directory → its collection, valid for namespace version {@link #ns} */
  #dirColl = new Map<number, number>();
  #ns = -1;
  /** set while an index file is written (its commit runs the checkpoint hook again) */
  #writing = false;
  /**
   * Decides between a delta and a merged base at a checkpoint (design §1.4;
   * B's rule). Tests replace it to exercise chains of deltas on small
   * indexes.
   */
  plan: typeof planCheckpoint = planCheckpoint;
  /** opened after an unclean shutdown: every index is verified against the files when loaded (see {@link opened}) */
  #verify = false;

  constructor(fs: Vexfs, c: Collections) {
    this.#fs = fs;
    this.#c = c;
  }

  // ------------------------------------------------------------------ tracking

  /** Whether some collection has a text index: computed once, kept by build, drop and dropCollection. */
  #anyIndexed(): boolean {
    if (this.#any !== undefined) return this.#any;
    try {
      this.#any = this.#c.list().some((i) => ((this.#c.record(i.id)?.flags ?? 0) & COLL_INDEX_BM25) !== 0);
    } catch {
      return false; // an unreadable collection table: what needs it reports it; a file write must not fail here
    }
    return this.#any;
  }

  /**
   * The collection whose text document regular file `ino` is (design §4.1:
   * the collection of the directory its `parent_ino` names; with
   * `parent_ino` 0, of the directory its path search finds), or 0: not a
   * regular user file, unlinked, or in no collection.
   */
  collectionOfFile(ino: number): number {
    const fs = this.#fs;
    let n;
    try {
      n = fs.iget(ino);
    } catch {
      return 0;
    }
    if ((n.d.mode & S_IFMT) !== S_IFREG || (n.d.flags & IFL_INTERNAL) || n.d.nlink === 0) return 0;
    if (fs.namespaceVersion !== this.#ns) {
      this.#dirColl.clear();
      this.#ns = fs.namespaceVersion;
    }
    let dir = n.d.parentIno;
    try {
      if (!dir) dir = fs.resolveParent(fs.pathOf(ino)).dir;
      let c = this.#dirColl.get(dir);
      if (c === undefined) {
        c = this.#c.collectionOfDir(dir);
        this.#dirColl.set(dir, c);
      }
      return c;
    } catch {
      return 0;
    }
  }

  /**
   * Hook: regular file `ino` changed (content, size, name, links, or it is
   * about to leave its collection). Outside collections with a text index
   * it costs a flag check. Inside one: the inode joins the pending set and
   * the record's text generation is bumped, once per transaction.
   */
  touch(ino: number): void {
    if (!this.#anyIndexed()) return;
    const id = this.collectionOfFile(ino);
    if (id) this.#mark(id, ino);
  }

  /**
   * Hook, before a rename moves `n` from `oldDir` to `newDir`: the regular
   * files whose document changes (the file itself; for a directory moving
   * between collections, every regular file below it), touched in their
   * old collection. Pass the result to {@link moved} after the move.
   */
  moving(ino: number, oldDir: number, newDir: number): number[] | null {
    if (!this.#anyIndexed()) return null;
    const fs = this.#fs;
    const n = fs.iget(ino);
    if ((n.d.mode & S_IFMT) === S_IFREG) {
      this.touch(ino);
      return [ino];
    }
    if ((n.d.mode & S_IFMT) !== S_IFDIR) return null;
    const from = this.#c.collectionOfDir(oldDir);
    const to = this.#c.collectionOfDir(newDir);
    if (from === to || (!this.#indexed(from) && !this.#indexed(to))) return null;
    const files = memberFiles(fs, ino, () => true);
    for (const f of files) this.touch(f);
    return files;
  }

  /** Hook, after the rename {@link moving} saw: the files touched again, in their new collection. */
  moved(files: number[] | null): void {
    if (files) { for (const f of files) this.touch(f); }
  }

  #indexed(id: number): boolean {
    return id !== 0 && ((this.#c.record(id)?.flags ?? 0) & COLL_INDEX_BM25) !== 0;
  }

  #state(id: number): TextState {
    let s = this.#states.get(id);
    if (!s) {
      s = {
        id,
        pending: new Set(),
        version: 0,
        bumpedAt: -1,
        rebuild: false,
        behind: false,
        caughtUp: false,
        note: "",
        docs: new Map(),
        longTokens: 0,
        buildMs: 0,
      };
      this.#states.set(id, s);
    }
    return s;
  }

  #mark(id: number, ino: number): void {
    const rec = this.#c.record(id);
    if (!rec || !(rec.flags & COLL_INDEX_BM25)) return;
    const s = this.#state(id);
    s.pending.add(ino);
    s.docs.delete(ino);
    s.version++;
    s.built = undefined;
    const fs = this.#fs;
    if (s.bumpedAt !== fs.commitCount) {
      if (!s.ix && s.baseGen === undefined) s.baseGen = rec.textGeneration;
      rec.textGeneration++;
      this.#c.saveRecord(rec);
      s.bumpedAt = fs.commitCount;
    }
  }

  /** Hook of {@link Collections.dropCollection}: forgets collection `id` (its file is freed with the others). */
  forget(id: number): void {
    this.#states.delete(id);
    this.#any = undefined;
    this.#dirColl.clear();
  }

  /**
   * Hook at open. After an unclean shutdown (`unclean`: a journal that
   * needed recovery, or a superblock not marked clean) a file's data written
   * in place may be on disk while the transaction that bumped its
   * collection's text generation is lost (file data is not journaled), so a
   * header that names the record's generation proves nothing: every index is
   * verified (caught up, CRCs compared) when it is first loaded in this open.
   * A read-write open also bumps each indexed collection's text generation,
   * so that an open after this one (should this one end before loading an
   * index) still sees it stale.
   */
  opened(unclean: boolean): void {
    if (!unclean) return;
    this.#verify = true;
    const fs = this.#fs;
    if (fs.isReadOnly) return;
    try {
      fs.op(() => {
        for (const i of this.#c.list()) {
          const rec = this.#c.record(i.id)!;
          if (!(rec.flags & COLL_INDEX_BM25)) continue;
          rec.textGeneration++;
          this.#c.saveRecord(rec);
        }
      }, "text index verify");
    } catch (e) {
      // the collection table could not be read: the operations that need it report it
      fs.onWarning(`text indexes: ${e instanceof Error ? e.message : e}`);
    }
  }

  // ------------------------------------------------------------------ build, drop, stats

  /** The collection of directory `dir` and its record. @throws FsError ENOTDIR, EINVAL */
  #collection(dir: number): { id: number; rec: CollectionRecord } {
    const fs = this.#fs;
    const dn = fs.iget(dir);
    if ((dn.d.mode & S_IFMT) !== S_IFDIR) throw new FsError("ENOTDIR", `inode ${dir} is not a directory`);
    const id = this.#c.collectionOfDir(dir);
    if (!id) throw new FsError("EINVAL", `${fs.pathOf(dir)} is not inside a collection`);
    return { id, rec: this.#c.record(id)! };
  }

  /** {@link #collection} that must have a text index. @throws FsError ENOTDIR, EINVAL, ENODATA */
  #withIndex(dir: number): { id: number; rec: CollectionRecord } {
    const r = this.#collection(dir);
    if (!(r.rec.flags & COLL_INDEX_BM25)) {
      throw new FsError(
        "ENODATA",
        `collection ${r.id} (at ${this.#fs.pathOf(r.rec.rootIno)}) has no text index; build one with ` +
          `'vexfs index build --text DIR'`,
      );
    }
    return r;
  }

  /**
   * Builds the text index of the collection containing `dir` from scratch
   * (design §1.4 "Full build"): sets COLL_INDEX_BM25 and the parameters in
   * the record, RO_COMPAT_BM25 in the superblock, tokenizes every regular
   * file of the collection and writes one base segment and a header.
   * @param p parameters; missing ones take the defaults (k1 1.2, b 0.75, 4 MiB, word-v1 without stemming or stop words)
   * @throws FsError ENOTDIR, EINVAL (not in a collection, bad parameters), EROFS, ENOSPC
   */
  build(dir: number, p: Partial<TextIndexParams> = {}): TextIndexStats {
    const fs = this.#fs;
    if (fs.isReadOnly) throw new FsError("EROFS", "the filesystem is open read-only; a text index cannot be built");
    const params = checkParams({ ...TEXT_INDEX_DEFAULTS, ...DEFAULT_ANALYZER, ...p });
    const analyzer = makeAnalyzer(params);
    const id = fs.op(() => {
      const { id, rec } = this.#collection(dir);
      rec.flags |= COLL_INDEX_BM25;
      rec.bm25K1 = params.k1;
      rec.bm25B = params.b;
      rec.bm25MaxFile = params.maxFile;
      rec.bm25Analyzer = params.analyzer;
      rec.bm25Stemmer = params.stemmer;
      rec.bm25Stopwords = params.stopwords;
      rec.bm25Lang = params.lang;
      rec.textGeneration++;
      this.#c.saveRecord(rec);
      fs.sb.featureRoCompat |= RO_COMPAT_BM25;
      this.#any = true;
      this.#states.delete(id);
      const s = this.#state(id);
      s.bumpedAt = fs.commitCount;
      s.analyzer = analyzer;
      this.#buildInMemory(s, rec, "built");
      return id;
    }, "text index build");
    fs.sync();
    this.#write(this.#state(id));
    return this.stats(dir);
  }

  /**
   * Drops the text index of the collection containing `dir`: frees its
   * file, clears COLL_INDEX_BM25 and the parameters (RO_COMPAT_BM25 stays).
   * @throws FsError ENOTDIR, EINVAL, ENODATA (no text index), EROFS
   */
  drop(dir: number): void {
    const fs = this.#fs;
    if (fs.isReadOnly) throw new FsError("EROFS", "the filesystem is open read-only; a text index cannot be dropped");
    fs.op(() => {
      const { id, rec } = this.#withIndex(dir);
      if (rec.bm25Ino) {
        const ino = rec.bm25Ino;
        rec.bm25Ino = 0;
        fs.truncate(ino, 0);
        fs.iget(ino).d.nlink = 0;
        fs.forceFree(ino);
      }
      rec.flags &= ~COLL_INDEX_BM25;
      rec.textGeneration = 0;
      rec.bm25K1 = rec.bm25B = rec.bm25MaxFile = 0;
      rec.bm25Analyzer = rec.bm25Stemmer = rec.bm25Stopwords = 0;
      rec.bm25Lang = "";
      this.#c.saveRecord(rec);
      this.#states.delete(id);
      this.#any = undefined;
    }, "text index drop");
  }

  /**
   * What the text index of the collection containing `dir` holds (loads it,
   * catching it up in memory when stale).
   * @throws FsError ENOTDIR, EINVAL, EUCLEAN
   */
  stats(dir: number): TextIndexStats {
    const fs = this.#fs;
    const { id, rec } = this.#collection(dir);
    if (!(rec.flags & COLL_INDEX_BM25)) {
      return {
        enabled: false,
        fresh: false,
        note: "no text index (vexfs index build --text DIR)",
        params: null,
        docCount: 0,
        totalTokens: 0,
        terms: 0,
        segments: 0,
        fileBytes: 0,
        textBytes: 0,
        skippedBinary: 0,
        skippedLarge: 0,
        emptyDocs: 0,
        longTokens: 0,
        textGeneration: 0,
        buildMs: 0,
        signature: "",
      };
    }
    const s = this.#current(id);
    const fresh = !s.rebuild && !s.behind && s.pending.size === 0;
    const view = this.#view(s);
    const live = view.liveDocs();
    const c = counts(live);
    const h = s.ix!.header;
    return {
      enabled: true,
      fresh,
      note: s.note,
      params: paramsOf(rec),
      docCount: view.docCount(),
      totalTokens: view.totalTokens(),
      terms: termCount(s.ix!),
      segments: h.segments.length,
      fileBytes: rec.bm25Ino ? fs.iget(rec.bm25Ino).d.blocks * fs.blockSize : 0,
      textBytes: live.reduce((a, d) => a + (d.flags ? 0 : d.size), 0),
      skippedBinary: c.binary,
      skippedLarge: c.large,
      emptyDocs: c.empty,
      longTokens: s.longTokens,
      textGeneration: rec.textGeneration,
      buildMs: s.buildMs || h.buildNs / 1e6,
      signature: s.rebuild ? s.analyzer!.signature : h.signature,
    };
  }

  /** The analyzer of the text index of the collection containing `dir`: what a client must tokenize a query with. */
  analyzerOf(dir: number): Analyzer {
    const { id, rec } = this.#withIndex(dir);
    const s = this.#state(id);
    s.analyzer ??= makeAnalyzer(paramsOf(rec));
    return s.analyzer;
  }

  // ------------------------------------------------------------------ search

  /**
   * BM25 top-k search of the text of the files below `dir` (design §2.1:
   * Lucene's BM25 without the (k1 + 1) factor), the query analysed with the
   * collection's analyzer. Answers from a fresh index: pending changes are
   * an in-memory overlay, a stale index is caught up first.
   * @param k 1..65536
   * @returns hits best first (ties: ino ascending), paths relative to `dir` as {@link Collections.search}'s
   * @throws FsError ENOTDIR, EINVAL (not in a collection, empty query, bad k), ENODATA (no text index), EUCLEAN
   */
  search(dir: number, query: string, k: number, o: TextSearchOptions = {}): { hits: SearchHit[]; method: TextMethod } {
    check(query.trim().length > 0, "EINVAL", "the text query is empty");
    const terms = this.analyzerOf(dir).terms(query);
    return this.searchTerms(dir, terms, k, o);
  }

  /**
   * {@link search} with terms already analysed by {@link analyzerOf} (what
   * the kernel's ioctl takes); duplicates count again.
   * @throws FsError as {@link search}
   */
  searchTerms(
    dir: number,
    terms: string[],
    k: number,
    o: TextSearchOptions = {},
  ): { hits: SearchHit[]; method: TextMethod } {
    const fs = this.#fs;
    check(Number.isInteger(k) && k >= 1 && k <= 65536, "EINVAL", `k = ${k} is out of range (1..65536)`);
    const { id, rec } = this.#withIndex(dir);
    const s = this.#current(id);
    const view = this.#view(s);
    const under = dir !== rec.rootIno ? underDir(fs, dir) : undefined;
    const where = o.where?.length ? inoFilter(fs, id, o.where) : undefined;
    const filter = under && where ? (ino: number) => under(ino) && where(ino) : under ?? where;
    const depth = Math.max(k, o.depth ?? k);
    const r = scoreBm25(view, terms, { k1: rec.bm25K1, b: rec.bm25B }, { depth, filter, exclude: o.exclude });
    const found = r.hits.slice(0, k);
    let hits: SearchHit[];
    if (o.paths === false) hits = found.map((h) => ({ ino: h.ino, score: h.score, path: "" }));
    else {
      const base = dir === ROOT_INO ? "" : fs.pathOf(dir);
      hits = found.map((h) => {
        const p = fs.pathOf(h.ino);
        return { ino: h.ino, score: h.score, path: p.startsWith(base + "/") ? p.slice(base.length + 1) : p };
      });
    }
    return {
      hits,
      method: {
        docs: view.docCount(),
        terms,
        matched: r.matched,
        textGeneration: rec.textGeneration,
        caughtUp: s.caughtUp,
      },
    };
  }

  // ------------------------------------------------------------------ loading, catch-up, overlay

  /**
   * The state of collection `id` with its index loaded and trusted: from the
   * file when its header is fresh (design §1.5); caught up (the differing
   * files become pending) when only behind; rebuilt in memory when there is
   * no usable header or another analyzer made it.
   * @throws FsError EUCLEAN (a damaged index under a fresh header)
   */
  #current(id: number): TextState {
    const s = this.#state(id);
    if (s.ix) return s;
    const fs = this.#fs;
    const rec = this.#c.record(id)!;
    s.analyzer ??= makeAnalyzer(paramsOf(rec));
    const want = s.baseGen ?? rec.textGeneration;
    let why = "no index file yet";
    if (rec.bm25Ino) {
      const src = fileSource(fs, rec.bm25Ino);
      const slots = readSlots(src, id);
      const h = slots.current === -1 ? null : slots.headers[slots.current];
      if (!h) why = "neither header slot of the index file is valid";
      else if (!sameAnalyzer(h, rec, s.analyzer)) {
        why = `the index was made with another analyzer (${h.signature}; now ${s.analyzer.signature})`;
      } else {
        const fresh = h.textGeneration === want && !this.#verify;
        let ix: Bm25Index | null;
        try {
          ix = Bm25Index.open(src, id, fs.sb.hashSeed);
        } catch (e) {
          if (fresh) throw e;
          ix = null;
          why = `the stale index could not be read (${e instanceof Error ? e.message : e})`;
        }
        if (ix) {
          s.ix = ix;
          s.slots = slots;
          s.longTokens = h.longTokens;
          s.buildMs = h.buildNs / 1e6;
          s.behind = h.textGeneration !== rec.textGeneration;
          s.baseGen = undefined;
          if (fresh) {
            s.note = "current";
            return s;
          }
          const t0 = performance.now();
          const files = memberFiles(fs, rec.rootIno, (f) => this.collectionOfFile(f) === id);
          const diff = differing(fs, files, ix.liveDocs(), rec.bm25MaxFile);
          for (const f of diff) {
            s.pending.add(f);
            s.docs.delete(f);
          }
          s.built = undefined;
          s.version++;
          s.caughtUp = true;
          s.note = (h.textGeneration === want
            ? `verified after an unclean shutdown: `
            : `caught up: the index matched text generation ${h.textGeneration}, the collection is at ${want}; `) +
            `${diff.length} of ${files.length} files differed (${Math.round(performance.now() - t0)} ms)`;
          return s;
        }
      }
    }
    this.#buildInMemory(s, rec, `rebuilt (${why})`);
    s.caughtUp = true;
    return s;
  }

  /** Tokenizes every document of the collection into a new in-memory index (`s.rebuild`: to be written whole). */
  #buildInMemory(s: TextState, rec: CollectionRecord, note: string): void {
    const fs = this.#fs;
    const t0 = performance.now();
    const a = s.analyzer ??= makeAnalyzer(paramsOf(rec));
    const files = memberFiles(fs, rec.rootIno, (f) => this.collectionOfFile(f) === s.id);
    const docs: DocInput[] = [];
    let longTokens = 0;
    for (const f of files) {
      const t = tokenizeFile(fs, f, a, rec.bm25MaxFile);
      docs.push(t.doc);
      longTokens += t.longTokens;
    }
    const bs = fs.blockSize;
    const opts = { id: 1, base: true, blockSize: bs, collectionId: s.id, hashSeed: fs.sb.hashSeed };
    const seg = encodeSegment(docs, [], opts);
    s.buildMs = performance.now() - t0;
    s.longTokens = longTokens;
    s.ix = Bm25Index.fromSegments([seg], bs, s.id, fs.sb.hashSeed);
    s.built = seg;
    s.slots = undefined;
    s.pending.clear();
    s.docs.clear();
    s.version++;
    s.view = undefined;
    s.rebuild = true;
    s.behind = true;
    s.baseGen = undefined;
    s.note = `${note} from ${files.length} files in ${Math.round(s.buildMs)} ms`;
  }

  /** The pending files as documents (tokenized once) and tombstones (every pending inode, ascending). */
  #pendingDocs(s: TextState): { docs: DocInput[]; tombstones: number[]; longTokens: number } {
    const rec = this.#c.record(s.id)!;
    const tombstones = [...s.pending].sort((a, b) => a - b);
    const docs: DocInput[] = [];
    let longTokens = 0;
    for (const ino of tombstones) {
      let t = s.docs.get(ino);
      if (t === undefined) {
        t = this.collectionOfFile(ino) === s.id ? tokenizeFile(this.#fs, ino, s.analyzer!, rec.bm25MaxFile) : null;
        s.docs.set(ino, t);
      }
      if (t) {
        docs.push(t.doc);
        longTokens += t.longTokens;
      }
    }
    return { docs, tombstones, longTokens };
  }

  /** The index of a loaded state with its pending files as an in-memory overlay segment (design §4.2 "search"). */
  #view(s: TextState): Bm25Index {
    const ix = s.ix!;
    if (!s.pending.size) return ix;
    if (s.view?.version === s.version) return s.view.ix;
    const fs = this.#fs;
    const { docs, tombstones } = this.#pendingDocs(s);
    const seg = encodeSegment(docs, tombstones, {
      id: ix.header.nextSegmentId,
      base: false,
      blockSize: fs.blockSize,
      collectionId: s.id,
      hashSeed: fs.sb.hashSeed,
    });
    s.view = { version: s.version, ix: ix.withOverlay([seg]) };
    return s.view.ix;
  }

  // ------------------------------------------------------------------ checkpoint

  /**
   * After a commit (and forced at close): writes every index with pending
   * changes, a header behind its record, or a rebuild in memory (design
   * §1.4). Nothing on a read-only engine.
   */
  checkpoint(force = false): void {
    void force; // every commit writes what is pending: what a crash leaves to catch up is one commit's worth
    if (this.#fs.isReadOnly || this.#writing) return;
    for (const s of [...this.#states.values()]) {
      const rec = this.#c.record(s.id);
      if (!rec || !(rec.flags & COLL_INDEX_BM25)) {
        this.#states.delete(s.id);
        continue;
      }
      if (!(s.pending.size || s.rebuild || s.behind || !s.ix)) continue;
      try {
        this.#write(s);
      } catch (e) {
        // Derived data: a failed write (ENOSPC, EIO) must not fail the commit or fsync that ran it. What is
        // pending stays pending, in memory, and the next checkpoint tries again; searches stay exact.
        if (!(e instanceof FsError)) throw e;
        this.#fs.onWarning(`text index of collection ${s.id} not written: ${e.message}`);
      }
    }
  }

  /** Writes one collection's index: a delta, a merged base or a whole new file. */
  #write(s: TextState): void {
    const fs = this.#fs;
    this.#writing = true;
    try {
      this.#current(s.id);
      const rec = this.#c.record(s.id)!;
      if (!s.pending.size && !s.rebuild && !s.behind) return;
      const bs = fs.blockSize;
      const a = s.analyzer!;
      const ix = s.ix!;
      const slots: Slots = s.rebuild || !s.slots ? { headers: [null, null], current: -1 } : s.slots;
      const cur = slots.current === -1 ? null : slots.headers[slots.current];
      // A whole new file (truncated first) starts again at segment 1: none of its old blocks stays in it.
      const nextId = !cur ? 1 : Math.max(
        slots.headers[0]?.nextSegmentId ?? 1,
        slots.headers[1]?.nextSegmentId ?? 1,
        diskNextId(fs, rec),
      );
      const pend = this.#pendingDocs(s);
      const view = this.#view(s);
      const segOpts = (base: boolean) => ({
        id: nextId,
        base,
        blockSize: bs,
        collectionId: s.id,
        hashSeed: fs.sb.hashSeed,
      });
      let seg: Uint8Array;
      let base: boolean;
      if (!cur) {
        seg = s.built && !s.pending.size ? s.built : mergeSegments(view, segOpts(true));
        base = true;
      } else if (!s.pending.size) {
        seg = new Uint8Array(0);
        base = false;
      } else {
        const delta = encodeSegment(pend.docs, pend.tombstones, segOpts(false));
        const dh = decodeSegmentHeader(delta.subarray(0, bs), "the new delta segment");
        if (this.plan(cur, ix.segmentInfo(), dh).kind === "merge") {
          seg = mergeSegments(view, segOpts(true));
          base = true;
        } else {
          seg = delta;
          base = false;
        }
      }
      const longTokens = s.longTokens + pend.longTokens;
      const live = view.liveDocs();
      const after = writeSegment(
        fs,
        rec,
        (r) => this.#c.saveRecord(r),
        slots,
        seg,
        !cur,
        (seq, firstBlock, blockCount) =>
          headerOf(rec, a, live, {
            seq,
            longTokens,
            nextSegmentId: seg.length ? nextId + 1 : nextId,
            buildNs: base ? Math.round(s.buildMs * 1e6) : cur!.buildNs,
            segments: !seg.length
              ? cur!.segments
              : base
              ? [{ firstBlock, blockCount, id: nextId }]
              : [...cur!.segments, { firstBlock, blockCount, id: nextId }],
            docCount: view.docCount(),
            totalTokens: view.totalTokens(),
          }),
      );
      s.ix = Bm25Index.open(fileSource(fs, rec.bm25Ino), s.id, fs.sb.hashSeed)!;
      s.slots = after;
      s.pending.clear();
      s.docs.clear();
      s.version++;
      s.view = undefined;
      s.rebuild = false;
      s.behind = false;
      s.baseGen = undefined;
      s.built = undefined;
      s.longTokens = longTokens;
    } finally {
      this.#writing = false;
    }
  }
}

/** The next segment id of the file of `rec` (never reused within a file): above both slots' and the segments they name. */
function diskNextId(fs: Vexfs, rec: CollectionRecord): number {
  const slots = readSlots(fileSource(fs, rec.bm25Ino), rec.id);
  let n = 1;
  for (const h of slots.headers) if (h) n = Math.max(n, h.nextSegmentId, ...h.segments.map((s) => s.id + 1));
  return n;
}

/** The header of an index over documents `docs` for record `rec` (the counts over `docs` unless given). */
function headerOf(
  rec: CollectionRecord,
  a: Analyzer,
  docs: DocEntry[],
  o: Pick<Bm25Header, "seq" | "longTokens" | "nextSegmentId" | "buildNs" | "segments"> & {
    docCount?: number;
    totalTokens?: number;
  },
): Bm25Header {
  const c = counts(docs);
  return {
    seq: o.seq,
    textGeneration: rec.textGeneration,
    analyzer: rec.bm25Analyzer,
    stemmer: rec.bm25Stemmer,
    stopwords: rec.bm25Stopwords,
    maxFile: rec.bm25MaxFile,
    lang: rec.bm25Lang,
    signature: a.signature,
    docCount: o.docCount ?? c.n,
    totalTokens: o.totalTokens ?? c.tokens,
    skippedBinary: c.binary,
    skippedLarge: c.large,
    longTokens: o.longTokens,
    emptyDocs: c.empty,
    nextSegmentId: o.nextSegmentId,
    buildNs: o.buildNs,
    segments: o.segments,
  };
}

/** Counts over live documents: N (dl ≥ 1), Σ dl, skipped binary and large, empty text files. */
function counts(docs: DocEntry[]): { n: number; tokens: number; binary: number; large: number; empty: number } {
  let n = 0, tokens = 0, binary = 0, large = 0, empty = 0;
  for (const d of docs) {
    if (d.flags & DOC_BINARY) binary++;
    else if (d.flags & DOC_LARGE) large++;
    else if (d.dl === 0) empty++;
    else {
      n++;
      tokens += d.dl;
    }
  }
  return { n, tokens, binary, large, empty };
}

/** Whether header `h` was made by the analyzer and limits `rec` names, with the analyzer build `a`. */
function sameAnalyzer(h: Bm25Header, rec: CollectionRecord, a: Analyzer): boolean {
  return h.analyzer === rec.bm25Analyzer && h.stemmer === rec.bm25Stemmer && h.stopwords === rec.bm25Stopwords &&
    h.lang === rec.bm25Lang && h.maxFile === rec.bm25MaxFile && h.signature === a.signature;
}

/** The text index parameters a record holds. */
function paramsOf(rec: CollectionRecord): TextIndexParams {
  return {
    analyzer: rec.bm25Analyzer,
    stemmer: rec.bm25Stemmer as 0 | 1,
    stopwords: rec.bm25Stopwords as 0 | 1,
    lang: rec.bm25Lang,
    k1: rec.bm25K1,
    b: rec.bm25B,
    maxFile: rec.bm25MaxFile,
  };
}

/** Dictionary records of the index's segments read from its file (the overlay's not included). */
function termCount(ix: Bm25Index): number {
  return ix.segmentInfo().reduce((a, s) => a + s.termCount, 0);
}

/**
 * Checks text index parameters (design §1.1).
 * @throws FsError EINVAL naming the first bad one
 */
function checkParams(p: TextIndexParams): TextIndexParams {
  check(Number.isFinite(p.k1) && p.k1 > 0 && p.k1 <= 10, "EINVAL", `BM25 k1 ${p.k1} is out of range (0 < k1 ≤ 10)`);
  check(Number.isFinite(p.b) && p.b >= 0 && p.b <= 1, "EINVAL", `BM25 b ${p.b} is out of range (0..1)`);
  check(
    Number.isInteger(p.maxFile) && p.maxFile >= 1024 && p.maxFile <= 1 << 30,
    "EINVAL",
    `maximum file size ${p.maxFile} is out of range (1 KiB .. 1 GiB)`,
  );
  check(p.stemmer === 0 || p.stemmer === 1, "EINVAL", `stemmer ${p.stemmer} (0 or 1)`);
  check(p.stopwords === 0 || p.stopwords === 1, "EINVAL", `stopwords ${p.stopwords} (0 or 1)`);
  check(typeof p.lang === "string" && /^[a-z]{0,8}$/.test(p.lang), "EINVAL", `language '${p.lang}' (a code like 'en')`);
  return p;
}

export type { AnalyzerParams };
