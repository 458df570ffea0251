/**
 * The codecs of VEXFS_IOC_STATS and VEXFS_IOC_DROP_COLLECTION
 * (src/ioctl/abi_admin.ts): a report survives encode → decode, the tables
 * are capped at their array sizes with the rest counted, and malformed
 * requests and replies are refused. (Offsets and sizes against the C header
 * are abi_test.ts's.)
 */
import assert from "node:assert/strict";
import { FsError } from "../errors.ts";
import type { StatsReport } from "../stats/report.ts";
import { DROP_COLLECTION, STATS, VEXFS_STATS_OP_ERRNOS } from "./abi.ts";
import {
  decodeDropCollection,
  decodeDropCollectionReply,
  decodeStatsReply,
  encodeDropCollection,
  encodeDropCollectionReply,
  encodeStatsReply,
} from "./abi_admin.ts";

function report(): StatsReport {
  return {
    uptimeNs: 123_456_789_012,
    mountTime: 1_796_000_000,
    requestsCounted: true,
    requests: 30,
    errors: 4,
    bytesRead: 2 ** 40 + 3,
    bytesWritten: 77,
    blockCacheHits: 10,
    blockCacheMisses: 2,
    inodeCacheHits: 50,
    inodeCacheMisses: 5,
    xattrCacheHits: 6,
    xattrCacheMisses: 7,
    journalCommits: 3,
    journalBlocks: 9,
    journalRevokes: 1,
    journalCheckpoints: 0,
    searches: 4,
    searchTotalNs: 4000,
    searchP50Ns: 900,
    searchP90Ns: 1100,
    searchP99Ns: 1200,
    searchMaxNs: 1200,
    vectorsSet: 8,
    vectorsDeleted: 1,
    fsState: 3,
    fsErrors: 2,
    errorCount: 2,
    firstError: { errno: 117, time: 1_796_000_100, ino: 19, op: "lookup" },
    lastError: { errno: 5, time: 1_796_000_200, ino: 0, op: "a-very-long-operation-name-over-31-bytes" },
    ops: [
      {
        opcode: 1,
        name: "lookup",
        requests: 20,
        errors: 3,
        totalNs: 20000,
        p50Ns: 800,
        p90Ns: 1500,
        p99Ns: 3000,
        maxNs: 3100,
      },
      {
        opcode: 39,
        name: "ioctl",
        requests: 10,
        errors: 1,
        totalNs: 9000,
        p50Ns: 700,
        p90Ns: 900,
        p99Ns: 999,
        maxNs: 999,
      },
    ],
    errnos: [{ errno: 2, count: 3 }, { errno: 0, count: 1 }],
    opErrnos: [{ opcode: 1, name: "lookup", errno: 2, count: 3 }, { opcode: 39, name: "ioctl", errno: 0, count: 1 }],
    opErrnoOther: 0,
  };
}

Deno.test("STATS: a report survives encode and decode (op names from the opcode, error ops cut at 31 bytes)", () => {
  const r = report();
  const b = encodeStatsReply(r);
  assert.equal(b.length, STATS.size);
  const back = decodeStatsReply(b);
  assert.deepEqual(back, {
    ...r,
    lastError: { ...r.lastError, op: r.lastError.op.slice(0, 31) },
  });
  const off = decodeStatsReply(encodeStatsReply({ ...r, requestsCounted: false }));
  assert.equal(off.requestsCounted, false);
});

Deno.test("STATS: more (op, errno) pairs than the table holds: the most first, the rest in op_errno_other", () => {
  const r = report();
  r.opErrnos = Array.from({ length: VEXFS_STATS_OP_ERRNOS + 5 }, (_, i) => ({
    opcode: 1,
    name: "lookup",
    errno: i + 1,
    count: 1000 - i,
  }));
  const back = decodeStatsReply(encodeStatsReply(r));
  assert.equal(back.opErrnos.length, VEXFS_STATS_OP_ERRNOS);
  assert.equal(back.opErrnoOther, [0, 1, 2, 3, 4].reduce((a, i) => a + 1000 - VEXFS_STATS_OP_ERRNOS - i, 0));
});

Deno.test("STATS: a malformed reply is EIO; an opcode outside the table cannot be encoded", () => {
  const b = encodeStatsReply(report());
  b[0] ^= 1; // magic
  assert.throws(() => decodeStatsReply(b), (e) => e instanceof FsError && e.code === "EIO");
  const c = encodeStatsReply(report());
  new DataView(c.buffer).setUint32(STATS.off.op_errno_count, 999, true);
  assert.throws(() => decodeStatsReply(c), /op_errno_count 999/);
  assert.throws(() => encodeStatsReply({ ...report(), ops: [{ ...report().ops[0], opcode: 64 }] }), /outside 0..63/);
});

Deno.test("DROP_COLLECTION: request is the header alone, reply round trips, a non-zero byte is EINVAL", () => {
  const req = encodeDropCollection();
  assert.equal(req.length, DROP_COLLECTION.size);
  decodeDropCollection(req);
  req[DROP_COLLECTION.off.vectors] = 1;
  assert.throws(() => decodeDropCollection(req), (e) => e instanceof FsError && e.code === "EINVAL");
  const r = { collectionId: 7, vectors: 12345, rootIno: 2 ** 40 };
  assert.deepEqual(decodeDropCollectionReply(encodeDropCollectionReply(r)), r);
});
