/**
 * The backup superblock (FORMAT.md §2) follows the features the running engine turns on: a power cut after the
 * first collection, its HNSW index or a text index, before any close, leaves primary and backup agreeing (fsck
 * compares their features), because the backup joins the transaction that sets the feature.
 */
import assert from "node:assert/strict";
import { RO_COMPAT_BM25, RO_COMPAT_HNSW, ROOT_INO } from "../format/constants.ts";
import { findBackupSuperblock } from "./superblock_io.ts";
import { MemDevice } from "../device/mem.ts";
import { fsckClean, image, open, put } from "./text_index_testutil.ts";

Deno.test("backup superblock: features set at run time are in it after a power cut before any close", () => {
  const dev = image();
  const fs = open(dev.bytes);
  const d = fs.mkdir(ROOT_INO, "docs", 0o755, 0, 0);
  put(fs, d, "a.txt", "alpha beta");
  fs.sync();
  fs.collections.create(d, { dim: 4, metric: "l2", elem: "f32", index: "hnsw" });
  fs.sync();
  let crashed = dev.bytes.slice(); // the power cut: fs is never closed
  fsckClean(crashed);
  assert.ok(findBackupSuperblock(new MemDevice(crashed))!.featureRoCompat & RO_COMPAT_HNSW);

  fs.collections.text.build(d);
  put(fs, d, "b.txt", "gamma");
  fs.sync();
  crashed = dev.bytes.slice();
  fsckClean(crashed);
  assert.ok(findBackupSuperblock(new MemDevice(crashed))!.featureRoCompat & RO_COMPAT_BM25);
  fs.close();
  fsckClean(dev.bytes);
});
