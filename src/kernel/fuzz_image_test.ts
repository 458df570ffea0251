/**
 * The fuzz images and the fuzz log parser without a VM: the same seed gives
 * the same bytes, recomputed checksums verify where the damage broke them,
 * every kind of metadata block is found in the bases, and a hang, a kernel
 * bug, a forbidden errno or an image that never ran fails the image.
 */
import { assert, assertEquals } from "../test_assert.ts";
import { CAN_MOUNT } from "../mount/_testutil.ts";
import { crc32c, crc32cSeeded } from "../format/crc.ts";
import { ALL_KINDS, changedBlocks, fuzzImage, makeFuzzBases } from "./fuzz_image.ts";
import { type CaseInfo, countResults, parseFuzzLog } from "./fuzz_vm.ts";

Deno.test({
  name: "fuzz images: deterministic, every kind of block hit, recomputed checksums verify",
  ignore: !CAN_MOUNT,
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const bases = await makeFuzzBases();
  const kinds = new Set(bases.flatMap((b) => b.blocks.map((m) => m.kind)));
  assertEquals([...kinds].sort(), [...ALL_KINDS].sort());
  const hit = new Set<string>();
  let recomputed = 0;
  for (let seed = 0; seed < 300; seed++) {
    const base = bases[seed % 2];
    const a = fuzzImage(base, seed);
    const b = fuzzImage(base, seed);
    assertEquals(a.bytes, b.bytes, `seed ${seed} is deterministic`);
    const changed = changedBlocks(base.bytes, a.bytes, base.blockSize);
    assert(changed.length > 0, `seed ${seed} changed nothing: ${a.damage}`);
    a.kinds.forEach((k) => hit.add(k));
    if (!a.recomputed) continue;
    const bs = base.blockSize;
    for (const m of base.blocks.filter((m) => changed.includes(m.block))) {
      const blk = a.bytes.subarray(m.block * bs, (m.block + 1) * bs);
      const le = (off: number) => new DataView(blk.buffer, blk.byteOffset + off).getUint32(0, true);
      if (m.csum.type === "superblock") {
        const sb = a.bytes.subarray(1024, 2048);
        assertEquals(crc32c(sb.subarray(0, 1020)), new DataView(sb.buffer, sb.byteOffset).getUint32(1020, true));
        recomputed++;
      } else if (m.csum.type === "block") {
        assertEquals(crc32cSeeded(m.csum.seed, blk.subarray(0, bs - 4)), le(bs - 4), `seed ${seed}: ${a.damage}`);
        recomputed++;
      } else if (m.csum.type === "inodes") {
        for (let off = 0; off < bs; off += 256) {
          const ino = m.csum.firstIno + off / 256;
          if (!base.inodes.includes(ino)) continue;
          assertEquals(crc32cSeeded(ino, blk.subarray(off, off + 252)), le(off + 252), `seed ${seed} inode ${ino}`);
        }
        recomputed++;
      }
    }
  }
  assertEquals([...hit].sort(), [...ALL_KINDS].sort(), "300 seeds damage every kind of block");
  assert(recomputed > 50, `only ${recomputed} recomputed checksums checked`);
});

Deno.test("fuzz log: a hang, a kernel bug, a forbidden errno or a missing image fails it", () => {
  const cases = new Map<number, CaseInfo>();
  for (let s = 1; s <= 6; s++) cases.set(s, { seed: s, base: "fuse", damage: "d", recomputed: false });
  const log = [
    "fz 1 mounted ro",
    "fz 1 vmtool: walk entries=10 ops=40 failed=2 errnos=EUCLEAN:2",
    "fz 1 rw-refused",
    "fz 1 done",
    "fz 2 refused",
    "fz 2 done",
    "fz 3 mounted ro",
    "fz 3 hung",
    "fz 3 done",
    "fz 4 mounted rw",
    "fz 4 vmtool: walk entries=10 ops=40 failed=0 errnos=-",
    "fz 4 rw",
    "fz 4 vmtool: write entries=3 ops=30 failed=1 errnos=ENOMEM:1",
    "fz 4 done",
    "fz 5 refused",
    "fz 5 kernel-bug",
    "fz 5 done",
    "fz -1 mounted ro",
    "fz -1 vmtool: walk entries=10 ops=40 failed=0 errnos=-",
    "fz -1 rw",
    "fz -1 vmtool: write entries=3 ops=30 failed=1 errnos=EPERM:1",
    "fz -1 done",
    "fz 7 mounted ro",
    "fz 7 vmtool: walk entries=10 ops=40 failed=1 errnos=EPERM:1",
    "fz 7 rw",
    "fz 7 vmtool: write entries=3 ops=30 failed=1 errnos=EPERM:1",
    "fz 7 done",
  ].join("\n");
  // the control (-1) gets EPERM from its writes: so may image 7's writes, not its walk
  cases.set(-1, { seed: -1, base: "fuse", damage: "none", recomputed: false });
  cases.set(7, { seed: 7, base: "fuse", damage: "d", recomputed: false });
  const all = parseFuzzLog(log, cases);
  assertEquals(all[0].seed, -1);
  assertEquals(all[0].failures, []);
  assertEquals(all[all.length - 1].failures, ["walk gave EPERM (1x)"]);
  const rs = all.filter((r) => r.seed >= 1 && r.seed <= 6);
  assertEquals(rs.map((r) => [r.seed, r.failures.length > 0]), [
    [1, false],
    [2, false],
    [3, true],
    [4, true],
    [5, true],
    [6, true],
  ]);
  assertEquals(countResults(rs), {
    images: 6,
    refused: 2,
    walked: 2,
    written: 1,
    rwRefused: 1,
    hung: 1,
    oopses: 1,
    failed: 4,
  });
});
