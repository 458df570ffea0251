/**
 * What `vexfs mkfs` must check before it writes: which signatures (file
 * systems, partition tables, swap, RAID/LVM/LUKS headers) a device already
 * holds, and whether the device or image is mounted or otherwise in use.
 *
 * Signature offsets and layouts follow each format's own definition (cited per
 * probe below) and the same places util-linux libblkid's superblock and
 * partition-table probers look; the code here is written from those
 * definitions, not copied.
 *
 * @example
 * ```ts
 * const s = deviceSummary("/dev/sdb");
 * console.log(formatDeviceSummary(s));
 * if (s.mount.busy) throw new Error("refusing: device in use");
 * ```
 * @module
 */
import { FsError } from "../errors.ts";
import { crc32c } from "../format/crc.ts";
import { Device } from "./device.ts";
import { formatBytes } from "../units.ts";
import * as libc from "./libc.ts";

/** Kinds of content {@link probeSignatures} recognises. */
export type SignatureType =
  | "vexfs"
  | "ext2"
  | "ext3"
  | "ext4"
  | "jbd"
  | "xfs"
  | "btrfs"
  | "swap"
  | "mbr"
  | "gpt"
  | "iso9660"
  | "vfat"
  | "ntfs"
  | "luks"
  | "lvm2"
  | "linux_raid";

/** One recognised signature on a device. */
export interface Signature {
  /** What was found. */
  type: SignatureType;
  /** Byte offset of the magic bytes on the device (what a wipe must clear). */
  offset: number;
  /**
   * A sentence a person understands, e.g. `ext4 filesystem (label 'data',
   * UUID 0b6f..., 64 MiB)`.
   */
  description: string;
  /** Volume label, when the format has one and it is set. */
  label?: string;
  /** Volume/set UUID in the usual text form, when the format has one. */
  uuid?: string;
}

/** The bytes probed at the start of a device: up to btrfs's superblock end. */
const HEAD_BYTES = 0x11000;

/**
 * Detects existing contents of `dev` by their magic numbers. Reads at most
 * the first 68 KiB, one GPT entry array and the last 8 KiB of the device.
 * Signatures that overlap (a FAT boot sector also ends in 0x55AA; a GPT disk
 * has a protective MBR) are all reported, each with its own offset.
 * @returns signatures sorted by offset; empty if none is recognised
 * @throws FsError EIO if the device cannot be read
 */
export function probeSignatures(dev: Device): Signature[] {
  const headLen = Math.min(dev.size, HEAD_BYTES);
  const head = new Uint8Array(headLen);
  if (headLen > 0) dev.read(0, head);
  const p = new Probe(dev, head);
  const out: Signature[] = [];
  for (
    const probe of [
      probeVexfs,
      probeExt,
      probeXfs,
      probeBtrfs,
      probeSwap,
      probeIso9660,
      probeBootSector,
      probeGpt,
      probeLuks,
      probeLvm2,
      probeMdRaid,
    ]
  ) {
    out.push(...probe(p));
  }
  return out.sort((a, b) => a.offset - b.offset);
}

/** Byte access helpers over the head of a device, with bounds checks. */
class Probe {
  readonly view: DataView;
  constructor(readonly dev: Device, readonly head: Uint8Array) {
    this.view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  }
  has(offset: number, len: number): boolean {
    return offset >= 0 && offset + len <= this.head.length;
  }
  bytesAt(offset: number, len: number): Uint8Array {
    return this.head.subarray(offset, offset + len);
  }
  /** true if the bytes at `offset` equal `magic` (a latin1 string). */
  matches(offset: number, magic: string): boolean {
    if (!this.has(offset, magic.length)) return false;
    for (let i = 0; i < magic.length; i++) {
      if (this.head[offset + i] !== magic.charCodeAt(i)) return false;
    }
    return true;
  }
  u16(o: number, le = true): number {
    return this.view.getUint16(o, le);
  }
  u32(o: number, le = true): number {
    return this.view.getUint32(o, le);
  }
  u64(o: number, le = true): number {
    return Number(this.view.getBigUint64(o, le));
  }
  /** Reads bytes anywhere on the device, or undefined if out of range. */
  readAt(offset: number, len: number): Uint8Array | undefined {
    if (offset < 0 || offset + len > this.dev.size) return undefined;
    if (offset + len <= this.head.length) return this.bytesAt(offset, len);
    const buf = new Uint8Array(len);
    this.dev.read(offset, buf);
    return buf;
  }
}

const latin1 = new TextDecoder("latin1");
const utf8 = new TextDecoder("utf-8");

/** A NUL-padded (and optionally space-padded) string field. */
function cString(b: Uint8Array, ascii = false): string {
  let end = b.indexOf(0);
  if (end < 0) end = b.length;
  return (ascii ? latin1 : utf8).decode(b.subarray(0, end)).trimEnd();
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** RFC 4122 text form of 16 bytes stored in order (ext4, XFS, btrfs, swap). */
function uuidString(b: Uint8Array): string {
  const h = hex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** GUID text form of 16 bytes in the mixed-endian EFI layout (UEFI spec App. A). */
function guidString(b: Uint8Array): string {
  const v = new DataView(b.buffer, b.byteOffset, 16);
  const p = (n: number, w: number) => n.toString(16).padStart(w, "0");
  return `${p(v.getUint32(0, true), 8)}-${p(v.getUint16(4, true), 4)}-${p(v.getUint16(6, true), 4)}-${
    hex(b.subarray(8, 10))
  }-${hex(b.subarray(10, 16))}`;
}

function isZero(b: Uint8Array): boolean {
  return b.every((x) => x === 0);
}

/** Human size with binary units (`64 MiB`, `1.5 GiB`, `512 bytes`): the project's one formatter, src/units.ts. */
export { formatBytes };

/** Joins the `(…)` part of a description from its optional pieces. */
function details(...parts: (string | false | undefined)[]): string {
  const kept = parts.filter((x): x is string => !!x);
  return kept.length ? ` (${kept.join(", ")})` : "";
}

function sig(
  type: SignatureType,
  offset: number,
  description: string,
  label?: string,
  uuid?: string,
): Signature {
  const s: Signature = { type, offset, description };
  if (label) s.label = label;
  if (uuid) s.uuid = uuid;
  return s;
}

// --- VexFS: docs/FORMAT.md §3 --------------------------------------------

/** VexFS superblock magic, bytes "VXFS" at device offset 1024 (FORMAT.md §3). */
export const VEXFS_MAGIC = 0x53465856;

function probeVexfs(p: Probe): Signature[] {
  const sb = 1024;
  if (!p.has(sb, 1024) || p.u32(sb) !== VEXFS_MAGIC) return [];
  const major = p.u16(sb + 4), minor = p.u16(sb + 6);
  const log = p.u32(sb + 20);
  const blocks = p.u64(sb + 24);
  const uuid = uuidString(p.bytesAt(sb + 168, 16));
  const label = cString(p.bytesAt(sb + 184, 64));
  const crcOk = crc32c(p.bytesAt(sb, 1020)) === p.u32(sb + 1020);
  const bs = log <= 6 ? 1024 << log : 0;
  return [sig(
    "vexfs",
    sb,
    `VexFS filesystem v${major}.${minor}${
      details(
        label && `label '${label}'`,
        `UUID ${uuid}`,
        bs > 0 &&
          `${blocks} blocks of ${bs} bytes, ${formatBytes(blocks * bs)}`,
        !crcOk && "superblock checksum BAD",
      )
    }`,
    label,
    uuid,
  )];
}

// --- ext2/3/4: fs/ext4/ext4.h struct ext4_super_block ------------------------

const EXT_MAGIC = 0xef53;
const EXT_COMPAT_HAS_JOURNAL = 0x4;
const EXT_INCOMPAT_JOURNAL_DEV = 0x8;
const EXT_INCOMPAT_64BIT = 0x80;
/** incompat features ext3 already had: FILETYPE, RECOVER, META_BG. */
const EXT3_INCOMPAT = 0x2 | 0x4 | 0x10;
/** ro_compat features ext3 already had: SPARSE_SUPER, LARGE_FILE, BTREE_DIR. */
const EXT3_RO_COMPAT = 0x1 | 0x2 | 0x4;

function probeExt(p: Probe): Signature[] {
  const sb = 1024;
  if (!p.has(sb, 1024) || p.u16(sb + 56) !== EXT_MAGIC) return [];
  const compat = p.u32(sb + 0x5c);
  const incompat = p.u32(sb + 0x60);
  const roCompat = p.u32(sb + 0x64);
  const uuid = uuidString(p.bytesAt(sb + 0x68, 16));
  const label = cString(p.bytesAt(sb + 0x78, 16));
  const log = p.u32(sb + 24);
  let blocks = p.u32(sb + 4);
  if (incompat & EXT_INCOMPAT_64BIT) blocks += p.u32(sb + 0x150) * 2 ** 32;
  const bs = log <= 6 ? 1024 << log : 0;
  let type: SignatureType;
  let what: string;
  if (incompat & EXT_INCOMPAT_JOURNAL_DEV) {
    type = "jbd";
    what = "ext3/ext4 external journal device";
  } else if (
    (incompat & ~EXT3_INCOMPAT) !== 0 || (roCompat & ~EXT3_RO_COMPAT) !== 0
  ) {
    type = "ext4";
    what = "ext4 filesystem";
  } else if (compat & EXT_COMPAT_HAS_JOURNAL) {
    type = "ext3";
    what = "ext3 filesystem";
  } else {
    type = "ext2";
    what = "ext2 filesystem";
  }
  return [sig(
    type,
    sb + 56,
    what + details(
      label && `label '${label}'`,
      `UUID ${uuid}`,
      bs > 0 && blocks > 0 && formatBytes(blocks * bs),
    ),
    label,
    uuid,
  )];
}

// --- XFS: fs/xfs/libxfs/xfs_format.h struct xfs_dsb (big-endian) -------------

function probeXfs(p: Probe): Signature[] {
  if (!p.matches(0, "XFSB") || !p.has(0, 120)) return [];
  const bs = p.u32(4, false);
  const dblocks = p.u64(8, false);
  const uuid = uuidString(p.bytesAt(32, 16));
  const label = cString(p.bytesAt(108, 12));
  return [sig(
    "xfs",
    0,
    "XFS filesystem" + details(
      label && `label '${label}'`,
      `UUID ${uuid}`,
      formatBytes(bs * dblocks),
    ),
    label,
    uuid,
  )];
}

// --- btrfs: fs/btrfs/ctree.h / uapi btrfs_tree.h struct btrfs_super_block ----

const BTRFS_SB = 0x10000;

function probeBtrfs(p: Probe): Signature[] {
  if (!p.matches(BTRFS_SB + 0x40, "_BHRfS_M") || !p.has(BTRFS_SB, 0x22b)) {
    return [];
  }
  const uuid = uuidString(p.bytesAt(BTRFS_SB + 0x20, 16));
  const total = p.u64(BTRFS_SB + 0x70);
  const devices = p.u64(BTRFS_SB + 0x88);
  const label = cString(p.bytesAt(BTRFS_SB + 0x12b, 256));
  return [sig(
    "btrfs",
    BTRFS_SB + 0x40,
    "btrfs filesystem" + details(
      label && `label '${label}'`,
      `UUID ${uuid}`,
      formatBytes(total),
      devices > 1 && `${devices} devices`,
    ),
    label,
    uuid,
  )];
}

// --- swap: include/linux/swap.h union swap_header ---------------------------

const SWAP_PAGE_SIZES = [4096, 8192, 16384, 65536];
const SWAP_MAGICS: [string, string][] = [
  ["SWAPSPACE2", "Linux swap space"],
  ["SWAP-SPACE", "Linux swap space (old v0 format)"],
  ["S1SUSPEND", "Linux swap space holding a hibernation image"],
  ["S2SUSPEND", "Linux swap space holding a hibernation image"],
  ["ULSUSPEND", "Linux swap space holding a hibernation image"],
  ["LINHIB0001", "Linux swap space holding a hibernation image"],
];

function probeSwap(p: Probe): Signature[] {
  for (const ps of SWAP_PAGE_SIZES) {
    for (const [magic, what] of SWAP_MAGICS) {
      const off = ps - 10;
      if (!p.matches(off, magic)) continue;
      let label: string | undefined, uuid: string | undefined, size = 0;
      if (magic === "SWAPSPACE2" && p.has(1024, 44)) {
        const lastPage = p.u32(1028);
        size = (lastPage + 1) * ps;
        const u = p.bytesAt(1036, 16);
        if (!isZero(u)) uuid = uuidString(u);
        label = cString(p.bytesAt(1052, 16)) || undefined;
      }
      return [sig(
        "swap",
        off,
        what + details(
          label && `label '${label}'`,
          uuid && `UUID ${uuid}`,
          `page size ${ps}`,
          size > 0 && formatBytes(size),
        ),
        label,
        uuid,
      )];
    }
  }
  return [];
}

// --- ISO 9660: ECMA-119 §8.4 primary volume descriptor at sector 16 ---------

function probeIso9660(p: Probe): Signature[] {
  const vd = 0x8000;
  if (!p.matches(vd + 1, "CD001") || !p.has(vd, 2048)) return [];
  const label = cString(p.bytesAt(vd + 40, 32), true);
  const blocks = p.u32(vd + 80);
  const bs = p.u16(vd + 128);
  return [sig(
    "iso9660",
    vd + 1,
    "ISO 9660 CD/DVD filesystem" + details(
      label && `volume '${label}'`,
      blocks > 0 && bs > 0 && formatBytes(blocks * bs),
    ),
    label,
  )];
}

// --- boot sector: FAT (Microsoft FAT spec "BPB"), NTFS, MBR (sector 0) ------

/** Names of common MBR partition type bytes. */
const MBR_TYPES: Record<number, string> = {
  0x01: "FAT12",
  0x05: "Extended",
  0x06: "FAT16",
  0x07: "NTFS/exFAT",
  0x0b: "FAT32",
  0x0c: "FAT32 LBA",
  0x0e: "FAT16 LBA",
  0x0f: "Extended LBA",
  0x82: "Linux swap",
  0x83: "Linux",
  0x85: "Linux extended",
  0x8e: "Linux LVM",
  0xa5: "FreeBSD",
  0xee: "GPT protective",
  0xef: "EFI System",
  0xfd: "Linux RAID",
};

function probeBootSector(p: Probe): Signature[] {
  if (!p.has(0, 512) || p.head[510] !== 0x55 || p.head[511] !== 0xaa) {
    return [];
  }
  const out: Signature[] = [];
  const jump = p.head[0] === 0xeb || p.head[0] === 0xe9;
  const sectorBytes = p.u16(11);
  const bpbOk = jump && sectorBytes >= 512 && sectorBytes <= 4096 &&
    (sectorBytes & (sectorBytes - 1)) === 0;
  let fs = false;
  if (bpbOk && p.matches(3, "NTFS    ")) {
    fs = true;
    const serial = p.u64(0x48).toString(16).toUpperCase();
    out.push(sig("ntfs", 3, `NTFS filesystem (serial ${serial})`));
  } else if (bpbOk) {
    // FAT12/16 keep BS_FilSysType at 54, FAT32 at 82; label and serial precede it.
    let fat: { kind: string; base: number } | undefined;
    if (p.matches(82, "FAT32   ")) fat = { kind: "FAT32", base: 64 };
    else if (p.matches(54, "FAT")) {
      fat = { kind: cString(p.bytesAt(54, 8), true) || "FAT", base: 36 };
    }
    if (fat) {
      fs = true;
      const serial = p.u32(fat.base + 3).toString(16).toUpperCase().padStart(
        8,
        "0",
      );
      const uuid = `${serial.slice(0, 4)}-${serial.slice(4)}`;
      let label: string | undefined = cString(
        p.bytesAt(fat.base + 7, 11),
        true,
      );
      if (label === "NO NAME" || label === "") label = undefined;
      const sectors = p.u16(19) || p.u32(32);
      out.push(sig(
        "vfat",
        fat.base + 18,
        `${fat.kind} (vfat) filesystem` + details(
          label && `label '${label}'`,
          `serial ${uuid}`,
          sectors > 0 && formatBytes(sectors * sectorBytes),
        ),
        label,
        uuid,
      ));
    }
  }
  if (fs) return out;
  // DOS/MBR partition table: four 16-byte entries at 446, status 0x00/0x80.
  const parts: string[] = [];
  let protective = false;
  for (let i = 0; i < 4; i++) {
    const e = 446 + 16 * i;
    const status = p.head[e];
    if (status !== 0 && status !== 0x80) return out; // not a partition table
    const type = p.head[e + 4];
    const start = p.u32(e + 8), count = p.u32(e + 12);
    if (type === 0 || count === 0) continue;
    if (type === 0xee) protective = true;
    const name = MBR_TYPES[type] ?? "unknown type";
    parts.push(
      `#${i + 1} ${name} (0x${type.toString(16).padStart(2, "0")}) at byte ${start * 512}, ${formatBytes(count * 512)}`,
    );
  }
  if (parts.length === 0) return out;
  const diskId = p.u32(440).toString(16).padStart(8, "0");
  out.push(sig(
    "mbr",
    510,
    protective
      ? "protective MBR of a GPT disk (0xEE entry)"
      : `DOS/MBR partition table (disk identifier 0x${diskId}, ${parts.length} partition${
        parts.length > 1 ? "s" : ""
      }: ${parts.join("; ")})`,
    undefined,
    protective ? undefined : diskId,
  ));
  return out;
}

// --- GPT: UEFI spec §5.3 GUID partition table header -------------------------

function probeGpt(p: Probe): Signature[] {
  const out: Signature[] = [];
  let primary = false;
  for (const sector of [512, 4096]) {
    if (!p.matches(sector, "EFI PART") || !p.has(sector, 92)) continue;
    primary = true;
    out.push(gptSignature(p, sector, sector, false));
  }
  if (!primary) {
    // Only the backup header at the last sector survives: still a GPT disk.
    for (const sector of [512, 4096]) {
      const off = p.dev.size - sector;
      if (off <= sector) continue;
      const hdr = p.readAt(off, 92);
      if (hdr && latin1.decode(hdr.subarray(0, 8)) === "EFI PART") {
        out.push(gptSignature(new Probe(p.dev, hdr), 0, sector, true, off));
      }
    }
  }
  return out;
}

function gptSignature(
  p: Probe,
  at: number,
  sector: number,
  backup: boolean,
  devOffset = at,
): Signature {
  const diskGuid = guidString(p.bytesAt(at + 56, 16));
  const entriesLba = p.u64(at + 72);
  const nEntries = p.u32(at + 80);
  const entrySize = p.u32(at + 84);
  const parts: string[] = [];
  if (
    entrySize >= 128 && entrySize <= 4096 && nEntries > 0 && nEntries <= 1024
  ) {
    const arr = p.readAt(entriesLba * sector, nEntries * entrySize);
    if (arr) {
      const v = new DataView(arr.buffer, arr.byteOffset, arr.byteLength);
      for (let i = 0; i < nEntries; i++) {
        const e = i * entrySize;
        if (isZero(arr.subarray(e, e + 16))) continue;
        const first = Number(v.getBigUint64(e + 32, true));
        const last = Number(v.getBigUint64(e + 40, true));
        const nameBytes = arr.subarray(e + 56, e + 128);
        let name = new TextDecoder("utf-16le").decode(nameBytes);
        const nul = name.indexOf("\0");
        if (nul >= 0) name = name.slice(0, nul);
        parts.push(
          `#${i + 1}${name ? ` '${name}'` : ""} at byte ${first * sector}, ${formatBytes((last - first + 1) * sector)}`,
        );
      }
    }
  }
  const where = backup ? "backup GPT header (primary missing)" : "GPT partition table";
  return sig(
    "gpt",
    devOffset,
    `${where} (disk GUID ${diskGuid}, ${sector}-byte sectors, ${parts.length} partition${
      parts.length === 1 ? "" : "s"
    }${parts.length ? ": " + parts.join("; ") : ""})`,
    undefined,
    diskGuid,
  );
}

// --- LUKS: cryptsetup docs "LUKS1 On-Disk Format", "LUKS2 On-Disk Format" ---

function probeLuks(p: Probe): Signature[] {
  if (!p.matches(0, "LUKS\xba\xbe") || !p.has(0, 208)) return [];
  const version = p.u16(6, false);
  const uuid = cString(p.bytesAt(168, 40), true);
  const label = version === 2 ? cString(p.bytesAt(24, 48)) : "";
  return [sig(
    "luks",
    0,
    `LUKS${version} encrypted volume` +
      details(label && `label '${label}'`, uuid && `UUID ${uuid}`),
    label,
    uuid,
  )];
}

// --- LVM2 physical volume: lib/format_text/layout.h label_header ------------

function probeLvm2(p: Probe): Signature[] {
  for (let s = 0; s < 4; s++) {
    const off = s * 512;
    if (!p.matches(off, "LABELONE") || !p.matches(off + 24, "LVM2 001")) {
      continue;
    }
    const id = latin1.decode(p.bytesAt(off + 32, 32));
    return [sig(
      "lvm2",
      off,
      `LVM2 physical volume (PV UUID ${id})`,
      undefined,
      id,
    )];
  }
  return [];
}

// --- Linux software RAID (md) v1.x: include/uapi/linux/raid/md_p.h ----------

const MD_MAGIC = 0xa92b4efc;

function probeMdRaid(p: Probe): Signature[] {
  const cands: [number, string][] = [[0, "1.1"], [4096, "1.2"]];
  const sectors = Math.floor(p.dev.size / 512);
  if (sectors >= 24) cands.push([((sectors - 16) & ~7) * 512, "1.0"]);
  for (const [off, ver] of cands) {
    const sb = p.readAt(off, 64);
    if (!sb) continue;
    const v = new DataView(sb.buffer, sb.byteOffset, 64);
    if (v.getUint32(0, true) !== MD_MAGIC || v.getUint32(4, true) !== 1) {
      continue;
    }
    const uuid = uuidString(sb.subarray(16, 32));
    const name = cString(sb.subarray(32, 64));
    return [sig(
      "linux_raid",
      off,
      `Linux software RAID (md) member, metadata ${ver}${details(name && `array '${name}'`, `UUID ${uuid}`)}`,
      name,
      uuid,
    )];
  }
  return [];
}

// --- mount state --------------------------------------------------------------

/** Whether a device or image is mounted or otherwise in use. */
export interface MountState {
  /**
   * True if a filesystem or swap on it is active: directly, through a
   * partition of it, or (for an image file) through a loop device it backs or
   * as the source of a (FUSE) mount.
   */
  mounted: boolean;
  /** Mount point of the first mount found, or `"[SWAP]"` for swap. */
  where?: string;
  /** How it is mounted, e.g. `"ext4 via /dev/loop3"`, `"fuse.vexfs"`, `"swap"`. */
  how?: string;
  /**
   * True if anything uses it: `mounted`, or held by device-mapper/md, backing
   * a loop device, claimed with `O_EXCL`, or locked by another VexFS process.
   */
  busy: boolean;
  /** Every use found, one readable sentence each. */
  users: string[];
}

interface MountEntry {
  majMin: string;
  mountPoint: string;
  fsType: string;
  source: string;
}

/** Undoes the octal escapes (`\040` etc.) of /proc mount tables. */
function unescapeProc(s: string): string {
  return s.replace(
    /\\([0-7]{3})/g,
    (_, o) => String.fromCharCode(parseInt(o, 8)),
  );
}

/** Parses /proc/self/mountinfo (Documentation/filesystems/proc.rst §3.5). */
function readMountinfo(): MountEntry[] {
  let text: string;
  try {
    text = Deno.readTextFileSync("/proc/self/mountinfo");
  } catch {
    return [];
  }
  const out: MountEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(" ");
    const sep = f.indexOf("-", 6);
    if (f.length < 10 || sep < 0) continue;
    out.push({
      majMin: f[2],
      mountPoint: unescapeProc(f[4]),
      fsType: f[sep + 1],
      source: unescapeProc(f[sep + 2] ?? ""),
    });
  }
  return out;
}

/** The paths in /proc/swaps. */
function readSwaps(): string[] {
  try {
    return Deno.readTextFileSync("/proc/swaps").split("\n").slice(1)
      .map((l) => l.split(/\s+/)[0]).filter((x) => x).map(unescapeProc);
  } catch {
    return [];
  }
}

/** `major:minor` of a glibc `dev_t` (sys/sysmacros.h encoding). */
export function majorMinor(dev: number): string {
  const d = BigInt(dev);
  const major = ((d >> 8n) & 0xfffn) | ((d >> 32n) & 0xfffff000n);
  const minor = (d & 0xffn) | ((d >> 12n) & 0xffffff00n);
  return `${major}:${minor}`;
}

function statOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch {
    return null;
  }
}

function readSys(path: string): string | null {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return null;
  }
}

class Usage {
  mounted = false;
  where?: string;
  how?: string;
  users: string[] = [];
  mount(where: string, how: string, sentence: string): void {
    if (!this.mounted) {
      this.mounted = true;
      this.where = where;
      this.how = how;
    }
    this.users.push(sentence);
  }
  result(): MountState {
    const r: MountState = {
      mounted: this.mounted,
      busy: this.users.length > 0,
      users: this.users,
    };
    if (this.where !== undefined) r.where = this.where;
    if (this.how !== undefined) r.how = this.how;
    return r;
  }
}

/**
 * Records the uses of the block device `majMin` (mounts, swap, holders) and
 * of its partitions. `name` names it in sentences; `via` is set when it is a
 * loop device reached from an image file.
 */
function blockUses(
  u: Usage,
  majMin: string,
  name: string,
  mounts: MountEntry[],
  swaps: string[],
  via?: string,
): void {
  const viaText = via ? ` via ${via}` : "";
  for (const m of mounts) {
    let hit = m.majMin === majMin;
    // btrfs (and others) report an anonymous 0:N device: match the source too.
    if (!hit && m.source.startsWith("/")) {
      const st = statOrNull(m.source);
      hit = !!st?.isBlockDevice && st.rdev !== null &&
        majorMinor(st.rdev) === majMin;
    }
    if (hit) {
      u.mount(
        m.mountPoint,
        `${m.fsType}${viaText}`,
        `${name} is mounted on ${m.mountPoint} (${m.fsType})`,
      );
    }
  }
  for (const s of swaps) {
    const st = statOrNull(s);
    if (
      st?.isBlockDevice && st.rdev !== null && majorMinor(st.rdev) === majMin
    ) {
      u.mount("[SWAP]", `swap${viaText}`, `${name} is in use as swap`);
    }
  }
  const sysDir = `/sys/dev/block/${majMin}`;
  try {
    for (const h of Deno.readDirSync(`${sysDir}/holders`)) {
      u.users.push(
        `${name} is held by ${h.name} (device-mapper, md RAID or similar)`,
      );
    }
  } catch { /* no sysfs entry */ }
  // Partitions of a whole disk: subdirectories with a "partition" file.
  try {
    for (const e of Deno.readDirSync(sysDir)) {
      if (!e.isDirectory) continue;
      if (readSys(`${sysDir}/${e.name}/partition`) === null) continue;
      const dev = readSys(`${sysDir}/${e.name}/dev`);
      if (dev) {
        blockUses(u, dev, `partition /dev/${e.name}`, mounts, swaps, via);
      }
    }
  } catch { /* no sysfs entry */ }
}

/**
 * Whether `path` (a block device or an image file) is mounted or in use.
 *
 * Block devices: compares `major:minor` (from `stat().rdev`) with
 * /proc/self/mountinfo (and each mount's source device, since btrfs reports
 * an anonymous device number), /proc/swaps, holders in
 * /sys/dev/block/MAJ:MIN/holders, the same for each partition, and finally
 * tries an `O_EXCL` open, which the kernel refuses when someone else has
 * claimed the device.
 *
 * Image files: finds loop devices backed by it (/sys/block/loop*
 * /loop/backing_file, matched by device and inode number) and checks those as
 * above, mounts whose source is the image (FUSE mounts name the image as
 * their source; matched by device and inode number, so any path to it
 * matches), swap files, and whether another process holds its `flock`.
 * @throws FsError ENOENT if `path` does not exist
 */
export function mountedState(path: string): MountState {
  const st = statOrNull(path);
  if (!st) throw new FsError("ENOENT", `${path}: no such file or device`);
  const u = new Usage();
  const mounts = readMountinfo();
  const swaps = readSwaps();
  if (st.isBlockDevice && st.rdev !== null) {
    blockUses(u, majorMinor(st.rdev), path, mounts, swaps);
    if (u.users.length === 0) {
      try {
        const fd = libc.open(
          path,
          libc.O_RDONLY | libc.O_EXCL | libc.O_CLOEXEC,
        );
        libc.close(fd, path);
      } catch (e) {
        if (e instanceof FsError && e.code === "EBUSY") {
          u.users.push(`${path} is claimed exclusively by another process`);
        }
      }
    }
    return u.result();
  }
  if (!st.isFile) return u.result();
  const same = (o: Deno.FileInfo | null) => !!o && o.isFile && o.dev === st.dev && o.ino === st.ino;
  // Loop devices backed by the image.
  let loops: string[] = [];
  try {
    loops = [...Deno.readDirSync("/sys/block")].map((e) => e.name)
      .filter((n) => n.startsWith("loop")).sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  } catch { /* no sysfs */ }
  for (const loop of loops) {
    let backing = readSys(`/sys/block/${loop}/loop/backing_file`);
    if (!backing) continue;
    backing = backing.replace(/ \(deleted\)$/, "");
    if (!same(statOrNull(backing))) continue;
    const dev = `/dev/${loop}`;
    u.users.push(`${path} backs loop device ${dev}`);
    const majMin = readSys(`/sys/block/${loop}/dev`);
    if (majMin) blockUses(u, majMin, dev, mounts, swaps, dev);
  }
  // Mounts naming the image as their source (FUSE, or mount -o loop records).
  for (const m of mounts) {
    if (!m.source.startsWith("/")) continue;
    if (same(statOrNull(m.source))) {
      u.mount(
        m.mountPoint,
        m.fsType,
        `${path} is mounted on ${m.mountPoint} (${m.fsType})`,
      );
    }
  }
  for (const s of swaps) {
    if (same(statOrNull(s))) {
      u.mount("[SWAP]", "swap", `${path} is in use as a swap file`);
    }
  }
  // Another process (a VexFS engine) holding the image's lock.
  try {
    const fd = libc.open(path, libc.O_RDONLY | libc.O_CLOEXEC);
    try {
      if (!libc.flock(fd, libc.LOCK_SH | libc.LOCK_NB, path)) {
        u.users.push(
          `${path} is locked by another process (a VexFS engine has it open read-write)`,
        );
      }
    } finally {
      libc.close(fd, path);
    }
  } catch { /* unreadable: nothing more to learn */ }
  return u.result();
}

// --- summary --------------------------------------------------------------------

/** Everything `vexfs mkfs --dry-run` shows about a target. */
export interface DeviceSummary {
  /** The path as given. */
  path: string;
  /** The path with symlinks resolved. */
  realPath: string;
  /** Image file or block device. */
  kind: "file" | "block";
  /** Size in bytes (block devices: from the kernel). */
  size: number;
  /** Logical sector size in bytes (512 for image files). */
  sectorSize: number;
  /** Existing contents, by offset. */
  signatures: Signature[];
  /** Mounts and other uses. */
  mount: MountState;
}

/**
 * Inspects `path` without changing it: kind, size, signatures and mount
 * state. Opens read-only, without claiming or locking, so it works on mounted
 * devices and on images another process holds.
 * @throws FsError ENOENT, EACCES, EISDIR/EINVAL (neither a regular file nor a
 *   block device), EIO
 */
export function deviceSummary(path: string): DeviceSummary {
  const dev = Device.open(path, {
    readOnly: true,
    exclusive: false,
    lock: false,
  });
  try {
    return {
      path,
      realPath: Deno.realPathSync(path),
      kind: dev.kind,
      size: dev.size,
      sectorSize: dev.sectorSize,
      signatures: probeSignatures(dev),
      mount: mountedState(path),
    };
  } finally {
    dev.close();
  }
}

/**
 * Text form of a {@link DeviceSummary}, several lines, e.g.
 * ```
 * /dev/loop3: block device, 128 MiB (134217728 bytes), 512-byte sectors
 *   contains: ext4 filesystem (label 'data', UUID ..., 128 MiB) at byte 1080
 *   in use: /dev/loop3 is mounted on /mnt (ext4)
 * ```
 */
export function formatDeviceSummary(s: DeviceSummary): string {
  const name = s.realPath !== s.path ? `${s.path} (${s.realPath})` : s.path;
  const lines = [
    `${name}: ${s.kind === "block" ? "block device" : "image file"}, ${
      formatBytes(s.size)
    } (${s.size} bytes), ${s.sectorSize}-byte sectors`,
  ];
  if (s.signatures.length === 0) lines.push("  contains: no known signature");
  for (const g of s.signatures) {
    lines.push(`  contains: ${g.description} at byte ${g.offset}`);
  }
  if (s.mount.users.length === 0) lines.push("  in use: no");
  for (const user of s.mount.users) lines.push(`  in use: ${user}`);
  return lines.join("\n");
}
