/**
 * The kernel module on damaged images, in Debian's 6.1 and 6.12 kernels under
 * QEMU (issue 11 §3 "Fuzz"): `VEXFS_FUZZ_VM_IMAGES` (default 100) damaged
 * images per kernel, different seeds on each, made by `fuzz_image.ts` from a
 * FUSE-made image and from a copy whose journal needs recovery (metadata
 * blocks of every kind with bits flipped or fields overwritten, half with
 * their checksums recomputed), all in one VM boot per kernel, the two VMs
 * running side by side (`fuzz_vm.ts`). Each image is mounted (read-only or
 * read-write), walked, remounted read-write and written, and unmounted: it
 * must be refused or give only the errnos of `ALLOWED_ERRNOS` (EUCLEAN, EIO,
 * ...), never an oops, BUG, WARNING, lockup, stall or hang (a watchdog per
 * image in the VM, and the kernel log read after each image). Prints the
 * counts; a failing image is kept on disk with its seed and damage named.
 *
 * The full run (1,000+ images per kernel) is `scripts/fuzz-kernel.ts`.
 * Skipped with a message without QEMU, the kernel headers or FUSE.
 */
import { assert, assertEquals } from "../test_assert.ts";
import { CAN_MOUNT } from "../mount/_testutil.ts";
import { resolveKernel } from "./debian_kernel.ts";
import { buildModuleFor, hasQemu } from "./_vmtestutil.ts";
import { fuzzImage, makeFuzzBases } from "./fuzz_image.ts";
import { countResults, formatCounts, fuzzMountOptions, type ImageResult, runFuzzVm } from "./fuzz_vm.ts";
import { summarize } from "./qemu.ts";

const PER_KERNEL = Number(Deno.env.get("VEXFS_FUZZ_VM_IMAGES") ?? 100);
const KERNELS = ["6.1", "6.12"] as const;

/** Whether the module in kernel/ mounts read-write (the write path has landed). */
function moduleWrites(): boolean {
  const src = Deno.readTextFileSync(new URL("../../kernel/super.c", import.meta.url));
  return !/mounts read-only only/.test(src);
}

async function missingHeaders(): Promise<string | null> {
  for (const k of KERNELS) {
    const p = await resolveKernel(k);
    try {
      Deno.statSync(`/usr/src/${p.headersPackage}/Makefile`);
    } catch {
      return p.headersPackage;
    }
  }
  return null;
}

Deno.test({
  name: `kernel module on damaged images (QEMU, 6.1 and 6.12): ${PER_KERNEL} per kernel, ` +
    "refused or EUCLEAN/EIO, never an oops or hang",
  // the base is made through the FUSE mount and the ioctl client (FFI), which stays loaded
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  if (!hasQemu()) {
    console.warn("fuzz_vm_test: qemu-system-x86_64 missing, skipped (scripts/bootstrap.sh test installs it)");
    return;
  }
  const headers = await missingHeaders();
  if (headers) {
    console.warn(`fuzz_vm_test: /usr/src/${headers} missing, skipped (apt-get install ${headers})`);
    return;
  }
  if (!CAN_MOUNT) {
    console.warn("fuzz_vm_test: FUSE mounts unavailable here (the base image is made through one), skipped");
    return;
  }
  const t0 = performance.now();
  const secs = () => ((performance.now() - t0) / 1000).toFixed(0);
  const [bases, built] = await Promise.all([makeFuzzBases(), Promise.all(KERNELS.map((k) => buildModuleFor(k)))]);
  console.log(`fuzz: bases made and modules built in ${secs()} s`);
  try {
    for (const b of built) assertEquals(b.warnings, [], `W=1 warnings building for ${b.release}`);
    const runs = await Promise.all(KERNELS.map((kernel, i) =>
      runFuzzVm({
        kernel,
        ko: built[i].ko,
        bases,
        seeds: Array.from({ length: PER_KERNEL }, (_, s) => i * 100_000 + s),
        mountOptions: fuzzMountOptions(),
        perImageSeconds: 60,
        timeoutMs: 300_000 + 8_000 * PER_KERNEL,
      })
    ));
    const all: ImageResult[] = runs.flatMap((r) => r.images);
    for (const [i, r] of runs.entries()) {
      console.log(
        `fuzz ${KERNELS[i]}: ${formatCounts(countResults(r.images))} (VM ${r.vm.totalSeconds.toFixed(0)} s)`,
      );
    }
    console.log(`fuzz total: ${formatCounts(countResults(all))}`);
    for (const [i, r] of runs.entries()) {
      for (const c of r.controls) {
        const e = Object.entries(c.errnos).map(([k, n]) => `${k}:${n}`).join(",") || "none";
        console.log(`fuzz ${KERNELS[i]}: control (undamaged ${c.base}): errnos ${e}`);
      }
    }
    for (const [i, { images, controls, vm }] of runs.entries()) {
      await t.step(`${KERNELS[i]}: the undamaged bases mount, walk (and write) cleanly`, () => {
        assertEquals(controls.map((c) => [c.base, c.failures]).sort(), bases.map((b) => [b.name, []]).sort());
        assert(controls.find((c) => c.base === "fuse")?.walked, "the undamaged FUSE-made base mounts and walks");
        if (moduleWrites()) {
          // with the write path the module replays the journal too: every control is walked and written
          assertEquals(controls.map((c) => [c.walked, c.written]), bases.map(() => [true, true]), "controls");
        }
      });
      await t.step(
        `${KERNELS[i]}: every image refused or walked with allowed errnos; no oops, hang or stall`,
        async () => {
          const bad = images.filter((r) => r.failures.length);
          const kept: string[] = [];
          for (const r of bad.slice(0, 5)) {
            const base = bases.find((b) => b.name === r.base)!;
            const path = `${Deno.env.get("TMPDIR") ?? "/tmp"}/vexfs-fuzz-${KERNELS[i]}-seed${r.seed}.img`;
            await Deno.writeFile(path, fuzzImage(base, r.seed).bytes);
            kept.push(
              `seed ${r.seed} (${r.base}, ${r.damage}${r.recomputed ? ", checksums recomputed" : ""}): ` +
                `${r.failures.join("; ")}; ${r.firstMessage}; image kept as ${path}`,
            );
          }
          assertEquals(kept, [], `${bad.length} images failed`);
          assert(vm.ok, `${summarize(vm)}\n${vm.log.slice(-20_000)}`);
          assertEquals(images.length, PER_KERNEL);
        },
      );
    }
    await t.step("the damage reached the module: some images mounted and walked, some refused", () => {
      const c = countResults(all);
      assert(c.walked > c.images / 10, `only ${c.walked} of ${c.images} images walked`);
      assert(c.refused > 0, "no image refused");
    });
  } finally {
    for (const b of built) await b.dispose();
  }
});
