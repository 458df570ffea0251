/**
 * Signature detection through util-linux's libblkid (libblkid.so.1), bound
 * with `Deno.dlopen`: the same library `blkid -p` and `wipefs` use, so every
 * filesystem, RAID/LVM/LUKS member, swap area and partition table it knows
 * (minix, cramfs, squashfs, f2fs, ... far more than src/device/probe.ts) is
 * seen. The enumeration is wipefs's: superblock and partition chains with
 * magic offsets, `blkid_do_probe` until it reports no more.
 *
 * API used (libblkid(3), util-linux docs "libblkid Reference Manual"):
 * `blkid_new_probe_from_filename`, `blkid_probe_enable_superblocks`,
 * `blkid_probe_set_superblocks_flags`, `blkid_probe_enable_partitions`,
 * `blkid_probe_set_partitions_flags`, `blkid_do_probe`,
 * `blkid_probe_lookup_value`, `blkid_free_probe`.
 *
 * When the library cannot be loaded (not installed, or no FFI permission),
 * {@link blkidSignatures} returns `undefined` and callers rely on the
 * project's own probes alone.
 * @module
 */

/** One signature libblkid reports. */
export interface BlkidSignature {
  /** libblkid's name for it: `minix`, `cramfs`, `ext4`, `swap`, `dos`, `gpt`, `crypto_LUKS`, ... */
  type: string;
  /** `superblock` (filesystems, RAID, swap, LUKS) or `partition table`. */
  kind: "superblock" | "partition table";
  /** USAGE of a superblock: `filesystem`, `raid`, `crypto`, `other`; absent for partition tables. */
  usage?: string;
  /** Byte offset of the magic, when libblkid reports it. */
  offset?: number;
  label?: string;
  uuid?: string;
  /** e.g. `ext4 filesystem (label 'data', UUID 0b6f...)` or `gpt partition table`. */
  description: string;
}

// Flag values from <blkid/blkid.h>.
const BLKID_SUBLKS_LABEL = 1 << 1;
const BLKID_SUBLKS_UUID = 1 << 3;
const BLKID_SUBLKS_TYPE = 1 << 5;
const BLKID_SUBLKS_USAGE = 1 << 7;
const BLKID_SUBLKS_MAGIC = 1 << 9;
const BLKID_SUBLKS_BADCSUM = 1 << 10;
const BLKID_PARTS_MAGIC = 1 << 3;

const SYMBOLS = {
  blkid_new_probe_from_filename: { parameters: ["buffer"], result: "pointer" },
  blkid_free_probe: { parameters: ["pointer"], result: "void" },
  blkid_probe_enable_superblocks: { parameters: ["pointer", "i32"], result: "i32" },
  blkid_probe_set_superblocks_flags: { parameters: ["pointer", "i32"], result: "i32" },
  blkid_probe_enable_partitions: { parameters: ["pointer", "i32"], result: "i32" },
  blkid_probe_set_partitions_flags: { parameters: ["pointer", "i32"], result: "i32" },
  blkid_do_probe: { parameters: ["pointer"], result: "i32" },
  blkid_probe_lookup_value: { parameters: ["pointer", "buffer", "buffer", "buffer"], result: "i32" },
} as const;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
let loadError = "";

/** Opens libblkid.so.1; null (with {@link blkidUnavailableReason}) when it cannot. */
function open(): Lib | null {
  for (const name of ["libblkid.so.1", "/lib/x86_64-linux-gnu/libblkid.so.1", "/usr/lib/libblkid.so.1"]) {
    try {
      return Deno.dlopen(name, SYMBOLS).symbols;
    } catch (e) {
      loadError = e instanceof Error ? e.message : String(e);
    }
  }
  return null;
}

// Loaded once, when the module is first imported (as src/device/libc.ts loads libc), for the process's life.
const lib: Lib | null = open();
const load = (): Lib | null => lib;

/** Why libblkid is not used ("" when it is available). */
export function blkidUnavailableReason(): string {
  return load() ? "" : `libblkid.so.1 could not be loaded (${loadError})`;
}

const enc = new TextEncoder();
const cstr = (s: string) => enc.encode(s + "\0");

/**
 * Every signature libblkid finds on `path` (image file or block device),
 * read-only, in the order libblkid reports them (superblocks, then
 * partition tables).
 * @returns the signatures (empty if none), or `undefined` when libblkid is
 *   not available or cannot open `path` — the caller then falls back to its own probes
 */
export function blkidSignatures(path: string): BlkidSignature[] | undefined {
  const b = load();
  if (!b) return undefined;
  const pr = b.blkid_new_probe_from_filename(cstr(path));
  if (pr === null) return undefined;
  try {
    b.blkid_probe_enable_superblocks(pr, 1);
    b.blkid_probe_set_superblocks_flags(
      pr,
      BLKID_SUBLKS_MAGIC | BLKID_SUBLKS_TYPE | BLKID_SUBLKS_USAGE | BLKID_SUBLKS_LABEL | BLKID_SUBLKS_UUID |
        BLKID_SUBLKS_BADCSUM,
    );
    b.blkid_probe_enable_partitions(pr, 1);
    b.blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC);
    const dataPtr = new BigUint64Array(1);
    const lenBuf = new BigUint64Array(1);
    const lookup = (name: string): string | undefined => {
      if (b.blkid_probe_lookup_value(pr, cstr(name), dataPtr, lenBuf) !== 0 || dataPtr[0] === 0n) return undefined;
      const p = Deno.UnsafePointer.create(dataPtr[0]);
      if (p === null) return undefined;
      return new Deno.UnsafePointerView(p).getCString();
    };
    const out: BlkidSignature[] = [];
    // blkid_do_probe: 0 = one more signature, 1 = done, -1 = error.
    for (let i = 0; i < 64 && b.blkid_do_probe(pr) === 0; i++) {
      const type = lookup("TYPE");
      const pttype = lookup("PTTYPE");
      if (type !== undefined) {
        const usage = lookup("USAGE");
        const label = lookup("LABEL");
        const uuid = lookup("UUID");
        const off = lookup("SBMAGIC_OFFSET");
        const what = usage === "filesystem" || usage === undefined
          ? "filesystem"
          : usage === "raid"
          ? "RAID member"
          : usage === "crypto"
          ? "encrypted volume"
          : type === "swap"
          ? "area"
          : "signature";
        const extra = [label ? `label '${label}'` : "", uuid ? `UUID ${uuid}` : ""].filter(Boolean).join(", ");
        out.push({
          type,
          kind: "superblock",
          usage,
          offset: off === undefined ? undefined : Number(off),
          label,
          uuid,
          description: `${type} ${what}${extra ? ` (${extra})` : ""}`,
        });
      } else if (pttype !== undefined) {
        const off = lookup("PTMAGIC_OFFSET");
        out.push({
          type: pttype,
          kind: "partition table",
          offset: off === undefined ? undefined : Number(off),
          description: `${pttype === "dos" ? "MBR (dos)" : pttype} partition table`,
        });
      }
    }
    return out;
  } finally {
    b.blkid_free_probe(pr);
  }
}

/** A signature found by either prober; `type` uses libblkid's names where it saw it. */
export interface FoundSignature {
  type: string;
  /** Byte offset of the magic, when known. */
  offset?: number;
  description: string;
  /** Which prober saw it: `libblkid`, `vexfs` (src/device/probe.ts) or both. */
  source: "libblkid" | "vexfs" | "both";
}

/** libblkid's names for the types src/device/probe.ts also knows, by probe.ts's name. */
const BLKID_NAME: Record<string, string> = {
  mbr: "dos",
  luks: "crypto_LUKS",
  lvm2: "LVM2_member",
  linux_raid: "linux_raid_member",
};

/**
 * Merges libblkid's findings (primary) with the project's own probes (a
 * second opinion: they alone know VexFS, and they are all there is when
 * libblkid is missing). A type both saw is listed once, as libblkid names it.
 * @param own signatures from `probeSignatures` (src/device/probe.ts)
 * @param blkid signatures from {@link blkidSignatures}, or undefined when libblkid was unavailable
 */
export function mergeSignatures(
  own: { type: string; offset: number; description: string }[],
  blkid: BlkidSignature[] | undefined,
): FoundSignature[] {
  const out: FoundSignature[] = (blkid ?? []).map((s) => ({
    type: s.type,
    offset: s.offset,
    description: s.description,
    source: "libblkid" as const,
  }));
  for (const s of own) {
    const name = BLKID_NAME[s.type] ?? s.type;
    const same = out.find((b) =>
      b.type === name || (s.type === "ext2" || s.type === "ext3" || s.type === "ext4") && /^ext[234]$/.test(b.type) ||
      (s.type === "jbd" && b.type === "jbd")
    );
    if (same) {
      same.source = "both";
      same.description = s.description; // ours carries sizes and names
    } else out.push({ type: s.type, offset: s.offset, description: s.description, source: "vexfs" });
  }
  return out;
}
