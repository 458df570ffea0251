/**
 * A vector collection's HNSW graph as the engine keeps it (docs/FORMAT.md
 * §8.6): loaded from its file and caught up with the store (or built when
 * there is none), and written back block by block at a checkpoint.
 * @module
 */
import type { CollectionRecord } from "../format/collection.ts";
import { IFL_INTERNAL, S_IFREG } from "../format/constants.ts";
import { applyCatchUp, planCatchUp } from "../hnsw/catchup.ts";
import { HnswGraph } from "../hnsw/graph.ts";
import { hnswParamsOf } from "../hnsw/params.ts";
import type { WasmStore } from "../vector/simd.ts";
import type { Loaded } from "./_loaded.ts";
import type { Vexfs } from "./fs.ts";

/**
 * The collection's HNSW graph, current with the store `mem`: loaded from
 * `hnsw_ino` and used as is when it matches the collection's generation and
 * count and every block checks; otherwise what can be trusted is kept and
 * the rest caught up (slots reinserted, stale nodes deleted). Built from the
 * store when there is no file. Null when that would take more than `limit`
 * insertions (then `l.behind` says by how many). Sets `l.graph` and
 * `l.graphNote`.
 */
export function loadGraph(fs: Vexfs, l: Loaded, mem: WasmStore, limit: number): HnswGraph | null {
  const rec = l.rec;
  const params = hnswParamsOf(rec, fs.blockSize);
  const t0 = performance.now();
  let g: HnswGraph | undefined;
  if (rec.hnswIno) {
    try {
      const size = fs.iget(rec.hnswIno).d.size;
      g = HnswGraph.decode(fs.read(rec.hnswIno, 0, size), params, { lenient: true });
    } catch (e) {
      l.graphNote = `the graph file could not be read (${e instanceof Error ? e.message : e}); rebuilt`;
    }
  }
  if (g) {
    g.setStore(mem.dataPtr, mem.normsPtr, mem.count);
    const m = g.matches;
    const problems = g.decodeProblems;
    if (m.generation === rec.generation && m.count === rec.count && problems.length === 0) {
      l.graphNote = "current";
      g.markClean(); // what was read is what the file holds
    } else {
      const plan = planCatchUp(g, l.crcs);
      if (plan.insert.length > limit) return declined(l, g, plan.insert.length);
      applyCatchUp(g, plan, l.crcs);
      l.graphNote = `caught up with the store (${plan.insert.length} inserted, ${plan.remove.length} removed${
        problems.length ? `; ${problems.length} damaged part(s) dropped` : ""
      }) in ${Math.round(performance.now() - t0)} ms`;
    }
  } else {
    if (rec.count > limit) return declined(l, undefined, rec.count);
    g = HnswGraph.create(params);
    g.setStore(mem.dataPtr, mem.normsPtr, mem.count);
    g.build(Uint32Array.from({ length: rec.count }, (_, i) => i), Uint32Array.from(l.crcs));
    l.graphNote ??= `built from ${rec.count} vectors in ${Math.round(performance.now() - t0)} ms`;
  }
  l.graph = g;
  l.behind = undefined;
  return g;
}

/** A search's refusal to catch up `behind` vectors: frees the decoded graph, notes why. */
function declined(l: Loaded, g: HnswGraph | undefined, behind: number): null {
  g?.free();
  l.behind = behind;
  l.graphNote = `the graph on disk is ${behind} vectors behind the store (a crash during a bulk import?): ` +
    `searches scan exactly until 'vexfs index build' or the next change to the collection catches it up`;
  return null;
}

/**
 * Writes the graphs of `todo` to their files (FORMAT.md §8.6 "Writing"):
 * the changed region blocks outside the journal (a graph file is allocated
 * first where there is none, its record written with `writeRecord`), a
 * commit of the files' metadata (which flushes them), then each header
 * naming the collection generation it matches, and a flush.
 */
export function writeGraphs(fs: Vexfs, todo: Loaded[], writeRecord: (rec: CollectionRecord) => void): void {
  const bs = fs.blockSize;
  fs.op(() => {
    for (const l of todo) {
      const g = l.graph!;
      if (!l.rec.hnswIno) {
        l.rec.hnswIno = fs.ialloc(S_IFREG | 0o600, 0, 0, 0, 0, IFL_INTERNAL).ino;
        writeRecord(l.rec);
      }
      const plan = g.dirtyBlocks();
      if (plan.rewrite) fs.truncate(l.rec.hnswIno, 0);
      // Block 0 (the header) is allocated now, zeroed, so that the commit below holds it in the file's
      // extents: written first after that commit, it could otherwise get a block the log never records.
      if (plan.rewrite || fs.iget(l.rec.hnswIno).d.size < bs) {
        fs.writeUnjournaled(l.rec.hnswIno, 0, new Uint8Array(bs));
      }
      for (const b of plan.blocks) fs.writeUnjournaled(l.rec.hnswIno, b.block * bs, b.data);
      if (fs.iget(l.rec.hnswIno).d.size < plan.fileBlocks * bs) fs.truncate(l.rec.hnswIno, plan.fileBlocks * bs);
    }
  }, "checkpoint");
  fs.sync(); // commits the file's extents and size, and flushes the blocks written above
  for (const l of todo) {
    const g = l.graph!;
    fs.writeUnjournaled(l.rec.hnswIno, 0, g.encodeHeader(l.rec.generation, l.rec.count));
  }
  fs.dev.sync();
  for (const l of todo) l.graph!.markClean();
}
