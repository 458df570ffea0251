/**
 * The collection table (inode 3, docs/FORMAT.md §8.1) as the engine reads
 * it, and a record as the CLI and ioctls report it.
 * @module
 */
import { COLL_INDEX_HNSW, type CollectionRecord, decodeCollection } from "../format/collection.ts";
import { COLL_RECORD_SIZE, COLL_TABLE_INO } from "../format/constants.ts";
import { ELEM_TYPES, elemSize, METRICS } from "../vector/types.ts";
import type { Vexfs } from "./fs.ts";
import type { CollectionInfo } from "./vector_types.ts";

/** Every record of the collection table, by collection id. */
export function readCollectionTable(fs: Vexfs): Map<number, CollectionRecord> {
  const t = fs.iget(COLL_TABLE_INO);
  const raw = fs.read(COLL_TABLE_INO, 0, t.d.size);
  const m = new Map<number, CollectionRecord>();
  for (let i = 0; i * COLL_RECORD_SIZE < raw.length; i++) {
    const r = decodeCollection(
      i + 1,
      raw.subarray(i * COLL_RECORD_SIZE, (i + 1) * COLL_RECORD_SIZE),
    );
    if (r) m.set(r.id, r);
  }
  return m;
}

/** A collection's parameters and counts from its record. */
export function collectionInfo(r: CollectionRecord): CollectionInfo {
  const elem = ELEM_TYPES[r.elemType - 1];
  return {
    id: r.id,
    rootIno: r.rootIno,
    dim: r.dim,
    metric: METRICS[r.metric - 1],
    elem,
    count: r.count,
    bytes: r.count * r.dim * elemSize(elem),
    generation: r.generation,
    created: r.created,
    index: r.flags & COLL_INDEX_HNSW ? "hnsw" : "flat",
    m: r.hnswM,
    efConstruction: r.hnswEfConstruction,
    efSearch: r.hnswEfSearch,
  };
}
