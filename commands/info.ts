/**
 * `vexfs info`: decoded superblock, usage and collections of an image.
 * @module
 */
import { mountStats } from "../src/ioctl/client_admin.ts";
import { errorLine, ERRORS_BEHAVIOURS, FS_STATES } from "../src/stats/render.ts";
import type { Command } from "commander";
import {
  COMPAT_BACKUP_SB,
  COMPAT_XATTR,
  INCOMPAT_EXTENTS,
  INCOMPAT_FLEX_META,
  INCOMPAT_HTREE,
  INCOMPAT_JOURNAL,
  INCOMPAT_RECOVER,
  INCOMPAT_VECTORS,
  INCOMPAT_XATTR_STORE,
  RO_COMPAT_BM25,
  RO_COMPAT_HNSW,
  RO_COMPAT_PARENT_PTR,
} from "../src/format/constants.ts";
import { blockSizeOf, type Superblock, uuidToString } from "../src/format/superblock.ts";
import * as ioctl from "../src/ioctl/client.ts";
import type { RecoveryResult } from "../src/journal/recovery.ts";
import { type CollectionView, mountOfDirectory, openBackend } from "./backend.ts";
import { action, c, defineCommand, examples, formatBytes, kvTable, say, table } from "./util.ts";
import { collectionJson, fsHealthJson, isoSeconds, printJsonResult, usageJson } from "./json.ts";

function flagNames(v: number, names: [number, string][]): string[] {
  const out = names.filter(([b]) => v & b).map(([, n]) => n);
  let rest = v;
  for (const [b] of names) rest &= ~b;
  if (rest) out.push(`0x${rest.toString(16)}`);
  return out;
}

/** Feature flags of a superblock (or of `VEXFS_IOC_FS_INFO`) by name (docs/FORMAT.md §3.1). */
export function featureNames(
  sb: Pick<Superblock, "featureCompat" | "featureIncompat" | "featureRoCompat">,
): { compat: string[]; incompat: string[]; roCompat: string[] } {
  return {
    compat: flagNames(sb.featureCompat, [[COMPAT_XATTR, "xattr"], [
      COMPAT_BACKUP_SB,
      "backup_sb",
    ]]),
    incompat: flagNames(sb.featureIncompat, [
      [INCOMPAT_EXTENTS, "extents"],
      [INCOMPAT_HTREE, "htree"],
      [INCOMPAT_VECTORS, "vectors"],
      [INCOMPAT_JOURNAL, "journal"],
      [INCOMPAT_RECOVER, "needs_recovery"],
      [INCOMPAT_XATTR_STORE, "xattr_store"],
      [INCOMPAT_FLEX_META, "flex_meta"],
    ]),
    roCompat: flagNames(sb.featureRoCompat, [
      [RO_COMPAT_PARENT_PTR, "parent_ptr"],
      [RO_COMPAT_HNSW, "hnsw"],
      [RO_COMPAT_BM25, "bm25"],
    ]),
  };
}

const STATES: Record<number, string> = {
  1: "clean",
  2: "dirty (in use or not cleanly unmounted)",
  3: "errors detected",
};
const ERRORS: Record<number, string> = {
  1: "continue",
  2: "remount read-only",
  3: "panic",
};

function time(sec: number): string {
  return sec ? new Date(sec * 1000).toISOString().replace(".000Z", "Z") : "never";
}

function pct(part: number, whole: number): string {
  return whole ? `${((100 * part) / whole).toFixed(1)}%` : "-";
}

/** Collections as table rows. */
export function collectionRows(list: CollectionView[]): (string | number)[][] {
  return list.map((
    x,
  ) => [x.id, x.path, x.dim, x.metric, x.elem, x.count, formatBytes(x.bytes)]);
}

/** Column names matching {@link collectionRows}. */
export const COLLECTION_HEAD = [
  "id",
  "root",
  "dim",
  "metric",
  "type",
  "vectors",
  "data",
];

function printCollections(colls: CollectionView[]): void {
  say(c.bold(`Collections (${colls.length})`));
  if (colls.length) {
    say(
      table(COLLECTION_HEAD, collectionRows(colls), ["right", "left", "right", "left", "left", "right", "right"]),
    );
  } else say(c.dim("  none; create one with 'vexfs collection create'"));
}

/** Space and inode counts, as the superblock or `VEXFS_IOC_FS_INFO` gives them. */
interface Usage {
  blocks: number;
  freeBlocks: number;
  /** block size, bytes */
  bs: number;
  inodes: number;
  freeInodes: number;
}

/** The "Usage" table and the collections, the end of both `info` reports. */
function printUsageAndCollections(u: Usage, colls: CollectionView[]): void {
  const used = u.blocks - u.freeBlocks;
  const usedInodes = u.inodes - u.freeInodes;
  say(c.bold("Usage"));
  say(
    table(["", "total", "used", "free", "used %"], [
      ["blocks", u.blocks, used, u.freeBlocks, pct(used, u.blocks)],
      [
        "bytes",
        formatBytes(u.blocks * u.bs),
        formatBytes(used * u.bs),
        formatBytes(u.freeBlocks * u.bs),
        pct(used, u.blocks),
      ],
      ["inodes", u.inodes, usedInodes, u.freeInodes, pct(usedInodes, u.inodes)],
    ], ["left", "right", "right", "right", "right"]),
  );
  say();
  printCollections(colls);
}

function featuresText(f: ReturnType<typeof featureNames>): string {
  return `incompat: ${f.incompat.join(" ") || "-"}; ro_compat: ${f.roCompat.join(" ") || "-"}; compat: ${
    f.compat.join(" ") || "-"
  }`;
}

/** The superblock's error record (FORMAT.md §3.2), or null when no error was recorded. */
function errorRecord(sb: Superblock) {
  if (!sb.errorCount && !sb.firstErrorTime) return null;
  const one = (errno = 0, t = 0, ino = 0, op = "") => ({ errno, time: time(t), ino, op });
  return {
    count: sb.errorCount ?? 0,
    first: one(sb.firstErrorErrno, sb.firstErrorTime, sb.firstErrorIno, sb.firstErrorOp),
    last: one(sb.lastErrorErrno, sb.lastErrorTime, sb.lastErrorIno, sb.lastErrorOp),
  };
}

/** The superblock's state, errors behaviour and error record as `--json` gives them ({@link fsHealthJson}). */
function sbHealthJson(sb: Superblock) {
  return fsHealthJson(
    sb.state,
    sb.errors,
    sb.errorCount ?? 0,
    {
      errno: sb.firstErrorErrno ?? 0,
      time: sb.firstErrorTime ?? 0,
      ino: sb.firstErrorIno ?? 0,
      op: sb.firstErrorOp ?? "",
    },
    { errno: sb.lastErrorErrno ?? 0, time: sb.lastErrorTime ?? 0, ino: sb.lastErrorIno ?? 0, op: sb.lastErrorOp ?? "" },
  );
}

function errorRows(sb: Superblock): [string, string][] {
  const r = errorRecord(sb);
  if (!r) return [];
  const line = (e: typeof r.first) =>
    `${e.time}: ${e.op || "?"}${e.ino ? ` on inode ${e.ino}` : ""} (${
      e.errno === 5 ? "EIO" : e.errno === 117 ? "EUCLEAN" : `errno ${e.errno}`
    })`;
  return [
    ["errors seen", c.red(`${r.count} since the last repair; run vexfs fsck -y`)],
    ["first error", line(r.first)],
    ["last error", line(r.last)],
  ];
}

function journalJson(sb: Superblock, rec: RecoveryResult | null) {
  if (!(sb.featureIncompat & INCOMPAT_JOURNAL)) return null;
  return {
    ino: sb.journalIno,
    size_blocks: sb.journalBlocks,
    size_bytes: sb.journalBlocks * blockSizeOf(sb),
    needs_recovery: rec?.needed ?? false,
    replayed_in_memory: rec?.needed ? { transactions: rec.transactions, blocks: rec.blocks } : null,
  };
}

/** Feature names as `info --json` gives them (`ro_compat`). */
function featuresJson(f: ReturnType<typeof featureNames>) {
  return { compat: f.compat, incompat: f.incompat, ro_compat: f.roCompat };
}

function journalText(sb: Superblock, rec: RecoveryResult | null): string {
  if (!(sb.featureIncompat & INCOMPAT_JOURNAL)) return c.dim("none (not crash-safe)");
  const size = `${sb.journalBlocks} blocks (${
    formatBytes(sb.journalBlocks * blockSizeOf(sb))
  }) in inode ${sb.journalIno}`;
  if (!rec?.needed) return `${size}; log empty`;
  return `${size}; ${
    c.yellow("needs recovery")
  } (${rec.transactions} transaction(s) replayed in memory for this report; ` +
    `the next mount or fsck replays them)`;
}

/**
 * `vexfs info` on a path of a mounted VexFS: what `VEXFS_IOC_FS_INFO` and
 * `VEXFS_IOC_LIST_COLLECTIONS` report (the superblock itself belongs to the
 * daemon while mounted).
 */
async function mountedInfo(target: string, json: boolean): Promise<void> {
  const m = await mountOfDirectory(target);
  const fi = (await ioctl.fsInfo(m.target))!;
  const colls = await m.listCollections();
  // The superblock's state and error record, from the daemon (null from a daemon older than VEXFS_IOC_STATS)
  const st = await mountStats(m.target).catch(() => null);
  const errState = st
    ? fsHealthJson(st.fsState, st.fsErrors, st.errorCount, st.firstError, st.lastError)
    : { state: null, errors_behaviour: null, error_record: null };
  const feats = featureNames(fi);
  const bs = fi.blockSize;
  const uuid = uuidToString(fi.uuid);
  const usage = {
    blocks: fi.blockCount,
    freeBlocks: fi.freeBlocks,
    bs,
    inodes: fi.inodeCount,
    freeInodes: fi.freeInodes,
  };
  if (json) {
    return printJsonResult("info", {
      target,
      filesystem: {
        version: `${fi.formatMajor}.${fi.formatMinor}`,
        uuid,
        label: fi.label,
        features: featuresJson(feats),
        block_size_bytes: bs,
        collections: fi.collectionCount,
      },
      usage: usageJson({ ...usage, blockSize: bs }),
      superblock: null,
      mount: {
        mountpoint: m.target,
        read_only: fi.readOnly,
        limits: { max_dim: fi.maxDim, ioctl_max_dim: fi.iocMaxDim, ioctl_max_k: fi.iocMaxK },
        ...errState,
      },
      collections: colls.map(collectionJson),
    });
  }
  say(c.bold(`Filesystem mounted on ${m.target}`));
  say(kvTable([
    ["label", fi.label || c.dim("(none)")],
    ["UUID", uuid],
    ["version", `${fi.formatMajor}.${fi.formatMinor}`],
    ["mounted", fi.readOnly ? "read-only" : "read-write"],
    ...(st
      ? [
        ["state", FS_STATES[st.fsState] ?? `unknown (${st.fsState})`] as [string, string],
        ["on errors", ERRORS_BEHAVIOURS[st.fsErrors] ?? `unknown (${st.fsErrors})`] as [string, string],
        ...(st.errorCount
          ? [
            ["errors seen", c.red(`${st.errorCount} since the last repair; unmount and run vexfs fsck -y`)],
            ["first error", errorLine(st.firstError)],
            ["last error", errorLine(st.lastError)],
          ] as [string, string][]
          : []),
      ]
      : []),
    ["features", featuresText(feats)],
    ["block size", formatBytes(bs)],
    ["blocks", `${fi.blockCount} (${formatBytes(fi.blockCount * bs)})`],
    ["inodes", `${fi.inodeCount}`],
    ["limits", `dim ≤ ${fi.maxDim} (≤ ${fi.iocMaxDim} through an ioctl); search k ≤ ${fi.iocMaxK} through an ioctl`],
  ]));
  say(c.dim("  (the superblock's layout and times: 'vexfs info' on the unmounted image)"));
  say();
  printUsageAndCollections(usage, colls);
}

/** Registers `vexfs info`. */
export function register(program: Command): void {
  const cmd = defineCommand(
    program,
    "info",
    "show the superblock, usage and collections of an image, a device or a mount",
  )
    .argument("<target>", "image file or block device (DEVICE|IMAGE), or a directory on a mounted VexFS")
    .option("--json", "print everything as JSON")
    .action(action("info", async (target: string, o: { json?: boolean }) => {
      let dir = false;
      try {
        dir = Deno.statSync(target).isDirectory;
      } catch { /* openBackend explains */ }
      if (dir) return await mountedInfo(target, !!o.json);
      const b = openBackend(target, { write: false });
      try {
        const fs = b.fs;
        const sb = fs.sb;
        const st = fs.statfs();
        const bs = blockSizeOf(sb);
        const colls = b.listCollections();
        const feats = featureNames(sb);
        const usage = { blocks: st.blocks, freeBlocks: st.bfree, bs, inodes: st.files, freeInodes: st.ffree };
        if (o.json) {
          printJsonResult("info", {
            target,
            filesystem: {
              version: `${sb.versionMajor}.${sb.versionMinor}`,
              uuid: uuidToString(sb.uuid),
              label: sb.label,
              features: featuresJson(feats),
              block_size_bytes: bs,
              collections: sb.collCount,
            },
            usage: usageJson({ ...usage, blockSize: bs }),
            superblock: {
              magic: `0x${sb.magic.toString(16)}`,
              ...sbHealthJson(sb),
              inode_size_bytes: sb.inodeSize,
              bytes_per_inode: sb.inodeRatio,
              first_ino: sb.firstIno,
              root_ino: sb.rootIno,
              collection_table_ino: sb.collTableIno,
              block_bitmap_start_block: sb.blockBitmapStart,
              block_bitmap_blocks: sb.blockBitmapBlocks,
              inode_bitmap_start_block: sb.inodeBitmapStart,
              inode_bitmap_blocks: sb.inodeBitmapBlocks,
              inode_table_start_block: sb.inodeTableStart,
              inode_table_blocks: sb.inodeTableBlocks,
              first_data_block: sb.firstDataBlock,
              backup_superblock_block: sb.blockCount - 1,
              mount_count: sb.mountCount,
              max_mount_count: sb.maxMountCount,
              mkfs_time: isoSeconds(sb.mkfsTime),
              mount_time: isoSeconds(sb.mountTime),
              write_time: isoSeconds(sb.writeTime),
              check_time: isoSeconds(sb.checkTime),
              hash_seed: sb.hashSeed,
              orphan_head_ino: sb.orphanHead || null,
              checksum: `0x${sb.checksum.toString(16).padStart(8, "0")}`,
              journal: journalJson(sb, fs.recovery),
            },
            mount: null,
            collections: colls.map(collectionJson),
          });
          return;
        }
        say(c.bold(`Filesystem on ${target}`));
        say(kvTable([
          ["label", sb.label || c.dim("(none)")],
          ["UUID", uuidToString(sb.uuid)],
          [
            "version",
            `${sb.versionMajor}.${sb.versionMinor} (magic 0x${sb.magic.toString(16)})`,
          ],
          ["state", STATES[sb.state] ?? `unknown (${sb.state})`],
          ["on errors", ERRORS[sb.errors] ?? `unknown (${sb.errors})`],
          ...errorRows(sb),
          ["journal", journalText(sb, fs.recovery)],
          ["features", featuresText(feats)],
          ["block size", formatBytes(bs)],
          ["blocks", `${sb.blockCount} (${formatBytes(sb.blockCount * bs)})`],
          [
            "inodes",
            `${sb.inodeCount} of ${sb.inodeSize} bytes; first ordinary inode ${sb.firstIno}`,
          ],
          ["bytes per inode", formatBytes(sb.inodeRatio)],
          [
            "block bitmap",
            `blocks ${sb.blockBitmapStart}-${sb.blockBitmapStart + sb.blockBitmapBlocks - 1}`,
          ],
          [
            "inode bitmap",
            `blocks ${sb.inodeBitmapStart}-${sb.inodeBitmapStart + sb.inodeBitmapBlocks - 1}`,
          ],
          [
            "inode table",
            `blocks ${sb.inodeTableStart}-${sb.inodeTableStart + sb.inodeTableBlocks - 1}`,
          ],
          ["first data block", sb.firstDataBlock],
          ["backup superblock", `block ${sb.blockCount - 1}`],
          ["created", time(sb.mkfsTime)],
          ["last mounted", time(sb.mountTime)],
          ["last written", time(sb.writeTime)],
          ["last checked", time(sb.checkTime)],
          [
            "mount count",
            `${sb.mountCount}${sb.maxMountCount ? ` (check after ${sb.maxMountCount})` : ""}`,
          ],
          ["hash seed", `0x${sb.hashSeed.toString(16).padStart(8, "0")}`],
          [
            "orphan list",
            sb.orphanHead ? `starts at inode ${sb.orphanHead}` : "empty",
          ],
        ]));
        say();
        printUsageAndCollections(usage, colls);
      } finally {
        b.close();
      }
    }));
  cmd.addHelpText(
    "after",
    "\nThe image is opened read-only; nothing is written. On a mount, the daemon answers (VEXFS_IOC_FS_INFO and " +
      "VEXFS_IOC_LIST_COLLECTIONS): usage, features, limits and collections, but not the superblock's layout and times.",
  );
  examples(cmd, [
    "vexfs info disk.img",
    "vexfs info --json /dev/sdb1 | jq .usage.free_bytes",
    "vexfs info /mnt/vexfs",
  ]);
}
