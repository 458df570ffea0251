import { crc32c } from "../format/crc.ts";
import { Device } from "./device.ts";
import {
  deviceSummary,
  formatBytes,
  formatDeviceSummary,
  majorMinor,
  mountedState,
  probeSignatures,
  type Signature,
  VEXFS_MAGIC,
} from "./probe.ts";
import {
  assert,
  assertEquals,
  CAN_LOOP,
  expectFsError,
  hasTool,
  loopSkipReason,
  run,
  sparseFile,
  withLoop,
  withMount,
  withTempDir,
} from "./_testutil.ts";

const MiB = 2 ** 20;

if (!CAN_LOOP) {
  console.warn(`probe_test: loop-device tests skipped: ${loopSkipReason()}`);
}

function probeFile(path: string): Signature[] {
  const d = Device.open(path, { readOnly: true });
  try {
    return probeSignatures(d);
  } finally {
    d.close();
  }
}

function types(s: Signature[]): string[] {
  return s.map((x) => x.type);
}

/** Blkid's view, to check our UUIDs and labels against util-linux. */
function blkid(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  let text = "";
  try {
    text = run("blkid", ["-p", "-o", "export", path]);
  } catch { /* nothing found */ }
  for (const line of text.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

interface ToolCase {
  name: string;
  tool: string;
  pkg: string;
  size: number;
  /** Makes the signature on `target` (a loop device). */
  make: (target: string) => void;
  type: string;
  offset: number;
  label?: string;
  /** Text the description must contain. */
  says: string[];
}

const TOOL_CASES: ToolCase[] = [
  {
    name: "mkfs.ext4",
    tool: "mkfs.ext4",
    pkg: "e2fsprogs",
    size: 64 * MiB,
    make: (t) => run("mkfs.ext4", ["-q", "-F", "-E", "nodiscard", "-L", "data", t]),
    type: "ext4",
    offset: 1080,
    label: "data",
    says: ["ext4 filesystem (label 'data', UUID ", "64 MiB"],
  },
  {
    name: "mkfs.ext3",
    tool: "mkfs.ext3",
    pkg: "e2fsprogs",
    size: 32 * MiB,
    make: (t) => run("mkfs.ext3", ["-q", "-F", "-E", "nodiscard", t]),
    type: "ext3",
    offset: 1080,
    says: ["ext3 filesystem (UUID "],
  },
  {
    name: "mkfs.ext2",
    tool: "mkfs.ext2",
    pkg: "e2fsprogs",
    size: 32 * MiB,
    make: (t) => run("mkfs.ext2", ["-q", "-F", "-E", "nodiscard", "-L", "old", t]),
    type: "ext2",
    offset: 1080,
    label: "old",
    says: ["ext2 filesystem (label 'old'"],
  },
  {
    name: "mkfs.xfs",
    tool: "mkfs.xfs",
    pkg: "xfsprogs",
    size: 320 * MiB, // xfsprogs refuses file systems under 300 MB
    make: (t) => run("mkfs.xfs", ["-q", "-f", "-K", "-L", "xlabel", t]),
    type: "xfs",
    offset: 0,
    label: "xlabel",
    says: ["XFS filesystem (label 'xlabel', UUID "],
  },
  {
    name: "mkfs.btrfs",
    tool: "mkfs.btrfs",
    pkg: "btrfs-progs",
    size: 128 * MiB,
    make: (t) => run("mkfs.btrfs", ["-q", "-f", "-K", "-L", "blabel", t]),
    type: "btrfs",
    offset: 0x10040,
    label: "blabel",
    says: ["btrfs filesystem (label 'blabel', UUID ", "128 MiB"],
  },
  {
    name: "mkswap",
    tool: "mkswap",
    pkg: "util-linux",
    size: 16 * MiB,
    make: (t) => run("mkswap", ["-L", "sw", t]),
    type: "swap",
    offset: 4086,
    label: "sw",
    says: ["Linux swap space (label 'sw', UUID ", "page size 4096", "16 MiB"],
  },
  {
    name: "mkfs.vfat FAT32",
    tool: "mkfs.vfat",
    pkg: "dosfstools",
    size: 64 * MiB,
    make: (t) => run("mkfs.vfat", ["-F", "32", "-n", "BOOT", t]),
    type: "vfat",
    offset: 82,
    label: "BOOT",
    says: ["FAT32 (vfat) filesystem (label 'BOOT', serial "],
  },
  {
    name: "sfdisk GPT",
    tool: "sfdisk",
    pkg: "fdisk",
    size: 32 * MiB,
    make: (t) =>
      run(
        "sfdisk",
        ["-q", "--no-reread", t],
        "label: gpt\nstart=2048, size=8192, name=root\n",
      ),
    type: "gpt",
    offset: 512,
    says: [
      "GPT partition table (disk GUID ",
      "1 partition: #1 'root' at byte 1048576, 4 MiB",
    ],
  },
  {
    name: "sfdisk MBR",
    tool: "sfdisk",
    pkg: "fdisk",
    size: 32 * MiB,
    make: (t) =>
      run(
        "sfdisk",
        ["-q", "--no-reread", t],
        "label: dos\nstart=2048, size=8192, type=83\nstart=10240, size=2048, type=82\n",
      ),
    type: "mbr",
    offset: 510,
    says: [
      "DOS/MBR partition table (disk identifier 0x",
      "2 partitions: #1 Linux (0x83) at byte 1048576, 4 MiB; #2 Linux swap (0x82)",
    ],
  },
];

for (const c of TOOL_CASES) {
  const missing = !hasTool(c.tool);
  if (CAN_LOOP && missing) {
    console.warn(
      `probe_test: ${c.name} case skipped: ${c.tool} not installed (apt-get install ${c.pkg})`,
    );
  }
  Deno.test({
    name: `probeSignatures: ${c.name} on a loop device`,
    ignore: !CAN_LOOP || missing,
    fn: async () => {
      await withTempDir(async (dir) => {
        const img = `${dir}/t.img`;
        sparseFile(img, c.size);
        await withLoop(img, (loop) => {
          c.make(loop);
          const viaLoop = probeFile(loop);
          const viaFile = probeFile(img);
          const want = c.type === "gpt" ? ["gpt", "mbr"] : [c.type];
          assertEquals(
            types(viaLoop).sort(),
            want.sort(),
            JSON.stringify(viaLoop),
          );
          assertEquals(viaFile, viaLoop, "image and loop device agree");
          const s = viaLoop.find((x) => x.type === c.type)!;
          assertEquals(s.offset, c.offset);
          assertEquals(s.label, c.label);
          for (const t of c.says) {
            assert(s.description.includes(t), `${s.description} lacks ${t}`);
          }
          const b = blkid(img);
          if (b.UUID) {
            assertEquals(
              s.uuid?.toLowerCase(),
              b.UUID.toLowerCase(),
              "UUID as blkid",
            );
          }
          if (b.PTUUID) assertEquals(s.uuid, b.PTUUID, "PTUUID as blkid");
          if (c.type === "gpt") {
            const m = viaLoop.find((x) => x.type === "mbr")!;
            assert(m.description.startsWith("protective MBR"), m.description);
          }
        });
      });
    },
  });
}

/** Writes `parts` ([offset, bytes]) into a fresh image and probes it. */
async function probeSynthetic(
  size: number,
  parts: [number, Uint8Array | string][],
): Promise<Signature[]> {
  return await withTempDir((dir) => {
    const path = `${dir}/s.img`;
    const d = Device.create(path, size);
    try {
      for (const [off, b] of parts) {
        d.write(off, typeof b === "string" ? latin1(b) : b);
      }
      return probeSignatures(d);
    } finally {
      d.close();
    }
  });
}

function latin1(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

function vexfsSuperblock(label: string, goodCrc: boolean): Uint8Array {
  const sb = new Uint8Array(1024);
  const v = new DataView(sb.buffer);
  v.setUint32(0, VEXFS_MAGIC, true);
  v.setUint16(4, 1, true);
  v.setUint32(20, 2, true); // 4096-byte blocks
  v.setBigUint64(24, 2048n, true);
  sb.set(Uint8Array.from({ length: 16 }, (_, i) => i + 0xa0), 168);
  sb.set(new TextEncoder().encode(label), 184);
  v.setUint32(1020, crc32c(sb.subarray(0, 1020)) ^ (goodCrc ? 0 : 1), true);
  return sb;
}

Deno.test("probeSignatures: VexFS superblock, with good and bad checksum", async () => {
  const good = await probeSynthetic(8 * MiB, [[
    1024,
    vexfsSuperblock("vecs", true),
  ]]);
  assertEquals(good.length, 1);
  assertEquals(good[0].type, "vexfs");
  assertEquals(good[0].offset, 1024);
  assertEquals(good[0].label, "vecs");
  assertEquals(good[0].uuid, "a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf");
  assertEquals(
    good[0].description,
    "VexFS filesystem v1.0 (label 'vecs', UUID a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf, 2048 blocks of 4096 bytes, 8 MiB)",
  );
  const bad = await probeSynthetic(8 * MiB, [[
    1024,
    vexfsSuperblock("", false),
  ]]);
  assert(
    bad[0].description.includes("superblock checksum BAD"),
    bad[0].description,
  );
  assertEquals(bad[0].label, undefined);
  // Our own bytes at 1024 really are "VXFS".
  assertEquals(latin1("VXFS"), vexfsSuperblock("", true).subarray(0, 4));
});

Deno.test("probeSignatures: an empty image has no signature", async () => {
  assertEquals(await probeSynthetic(1 * MiB, []), []);
  assertEquals(await probeSynthetic(100, []), []); // smaller than any superblock
});

Deno.test("probeSignatures: LUKS1/LUKS2, ISO 9660, LVM2, md RAID, swap at 64 KiB pages", async () => {
  const luks2 = new Uint8Array(208);
  luks2.set(latin1("LUKS\xba\xbe\x00\x02"));
  luks2.set(latin1("secret"), 24);
  luks2.set(latin1("3f2a1e44-0f7c-4b8e-9d1e-2c3b4a5d6e7f"), 168);
  let s = await probeSynthetic(MiB, [[0, luks2]]);
  assertEquals(s, [{
    type: "luks",
    offset: 0,
    description: "LUKS2 encrypted volume (label 'secret', UUID 3f2a1e44-0f7c-4b8e-9d1e-2c3b4a5d6e7f)",
    label: "secret",
    uuid: "3f2a1e44-0f7c-4b8e-9d1e-2c3b4a5d6e7f",
  }]);
  s = await probeSynthetic(MiB, [[0, "LUKS\xba\xbe\x00\x01"]]);
  assertEquals(s[0].description, "LUKS1 encrypted volume");

  const pvd = new Uint8Array(2048);
  pvd.set(latin1("\x01CD001\x01"));
  pvd.set(latin1("MY_DISC".padEnd(32, " ")), 40);
  new DataView(pvd.buffer).setUint32(80, 512, true);
  new DataView(pvd.buffer).setUint16(128, 2048, true);
  s = await probeSynthetic(2 * MiB, [[0x8000, pvd]]);
  assertEquals(s.map((x) => [x.type, x.offset, x.description]), [
    ["iso9660", 0x8001, "ISO 9660 CD/DVD filesystem (volume 'MY_DISC', 1 MiB)"],
  ]);

  s = await probeSynthetic(MiB, [[512, "LABELONE"], [
    512 + 24,
    "LVM2 001" + "A".repeat(32),
  ]]);
  assertEquals(types(s), ["lvm2"]);
  assertEquals(s[0].offset, 512);

  const md = new Uint8Array(64);
  new DataView(md.buffer).setUint32(0, 0xa92b4efc, true);
  new DataView(md.buffer).setUint32(4, 1, true);
  md.set(latin1("host:0"), 32);
  s = await probeSynthetic(MiB, [[4096, md]]);
  assertEquals(types(s), ["linux_raid"]);
  assert(
    s[0].description.includes("metadata 1.2 (array 'host:0'"),
    s[0].description,
  );

  s = await probeSynthetic(MiB, [[65536 - 10, "SWAPSPACE2"]]);
  assertEquals(types(s), ["swap"]);
  assert(s[0].description.includes("page size 65536"), s[0].description);
  // MBR signature alone, with no partition in use, is not a partition table.
  s = await probeSynthetic(MiB, [[510, "\x55\xaa"]]);
  assertEquals(s, []);
});

Deno.test({
  name: "probeSignatures: GPT with 4096-byte sectors, and a lone backup GPT header",
  ignore: !CAN_LOOP || !hasTool("sfdisk"),
  fn: async () => {
    await withTempDir(async (dir) => {
      const img = `${dir}/g.img`;
      sparseFile(img, 16 * MiB);
      await withLoop(img, (loop) => {
        run(
          "sfdisk",
          ["-q", "--no-reread", loop],
          "label: gpt\nstart=256, size=1024\n",
        );
        const s = probeFile(loop);
        const gpt = s.find((x) => x.type === "gpt")!;
        assertEquals(gpt.offset, 4096);
        assert(
          gpt.description.includes(
            "4096-byte sectors, 1 partition: #1 at byte 1048576, 4 MiB",
          ),
          gpt.description,
        );
        assertEquals(probeFile(img), s);
      }, ["--sector-size", "4096"]);
      // Wipe the primary header and the protective MBR: the backup still tells.
      const d = Device.open(img);
      d.write(0, new Uint8Array(8192));
      d.close();
      const s = probeFile(img);
      assertEquals(types(s), ["gpt"]);
      assertEquals(s[0].offset, 16 * MiB - 4096);
      assert(
        s[0].description.startsWith("backup GPT header (primary missing)"),
        s[0].description,
      );
      assert(s[0].description.includes("1 partition"), s[0].description);
    });
  },
});

Deno.test({
  name: "mountedState: an image backing a loop device; a mount naming the image (FUSE-style)",
  ignore: !CAN_LOOP,
  fn: async () => {
    await withTempDir(async (dir) => {
      const img = `${dir}/backing.img`;
      sparseFile(img, 8 * MiB);
      assertEquals(mountedState(img), {
        mounted: false,
        busy: false,
        users: [],
      });
      await withLoop(img, (loop) => {
        const s = mountedState(img);
        assertEquals(s.mounted, false);
        assertEquals(s.busy, true);
        assertEquals(s.users, [`${img} backs loop device ${loop}`]);
        // Found through another path to the same file, too.
        Deno.symlinkSync(img, `${dir}/alias.img`);
        assertEquals(mountedState(`${dir}/alias.img`).busy, true);
        const sum = deviceSummary(img);
        assert(
          formatDeviceSummary(sum).includes(
            `in use: ${img} backs loop device ${loop}`,
          ),
        );
      });
      assertEquals(mountedState(img).busy, false, "detached");
      // FUSE mounts list the image as their source; tmpfs keeps any source string.
      const mnt = `${dir}/fuse`;
      Deno.mkdirSync(mnt);
      await withMount(["-t", "tmpfs"], `${dir}/./backing.img`, mnt, () => {
        const s = mountedState(img);
        assertEquals(s.mounted, true);
        assertEquals(s.where, mnt);
        assertEquals(s.how, "tmpfs");
      });
      assertEquals(mountedState(img).mounted, false);
    });
  },
});

Deno.test("deviceSummary and formatDeviceSummary on an image", async () => {
  await withTempDir((dir) => {
    const img = `${dir}/sum.img`;
    const d = Device.create(img, 8 * MiB);
    d.write(1024, vexfsSuperblock("s", true));
    d.close();
    const s = deviceSummary(img);
    assertEquals(s.kind, "file");
    assertEquals(s.size, 8 * MiB);
    assertEquals(types(s.signatures), ["vexfs"]);
    assertEquals(s.mount.busy, false);
    const text = formatDeviceSummary(s);
    assert(
      text.startsWith(
        `${img}: image file, 8 MiB (8388608 bytes), 512-byte sectors\n  contains: VexFS filesystem v1.0 (label 's'`,
      ),
      text,
    );
    assert(text.endsWith("at byte 1024\n  in use: no"), text);
    expectFsError(() => deviceSummary(`${dir}/missing`), "ENOENT");
    expectFsError(() => mountedState(`${dir}/missing`), "ENOENT");
  });
});

Deno.test("formatBytes and majorMinor", () => {
  assertEquals(formatBytes(512), "512 bytes");
  assertEquals(formatBytes(1024), "1 KiB");
  assertEquals(formatBytes(1.5 * 2 ** 30), "1.5 GiB");
  assertEquals(formatBytes(320 * MiB), "320 MiB");
  assertEquals(majorMinor(0x0700), "7:0");
  assertEquals(majorMinor(0x10301), "259:1"); // glibc: major 259 -> (0x103 << 8)
  assertEquals(majorMinor(2 ** 44 + 5), "4096:5"); // high major bits above bit 32
  assertEquals(majorMinor(0x100000), "0:256"); // high minor bits from bit 20
});
