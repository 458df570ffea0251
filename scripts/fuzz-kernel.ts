/**
 * The full fuzz of the kernel module (issue 11 §3 "Fuzz"), too long for the
 * suite (whose bounded part is src/kernel/fuzz_vm_test.ts): damaged images
 * (src/kernel/fuzz_image.ts) mounted and walked read-only, and more mounted
 * read-write and written, in Debian's 6.1 and 6.12 kernels under QEMU
 * (src/kernel/fuzz_vm.ts), in batches of one VM boot each, both kernels side
 * by side. Prints the counts per kernel and a Markdown table for
 * BENCHMARKS.md; every failing image is kept on disk with its seed.
 *
 *   deno run -A scripts/fuzz-kernel.ts [--ro N] [--rw N] [--batch N] [--kernel 6.1|6.12] [--first-seed S]
 *
 * Defaults: 1,000 read-only and 300 read-write images per kernel, 250 per boot.
 * Exit status 1 when an image failed or a VM crashed.
 */
import { parseArgs } from "node:util";
import { buildModuleFor } from "../src/kernel/_vmtestutil.ts";
import { fuzzImage, makeFuzzBases } from "../src/kernel/fuzz_image.ts";
import { countResults, formatCounts, fuzzMountOptions, type ImageResult, runFuzzVm } from "../src/kernel/fuzz_vm.ts";
import { type KernelSeries, summarize } from "../src/kernel/qemu.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    ro: { type: "string" },
    rw: { type: "string" },
    batch: { type: "string" },
    kernel: { type: "string" },
    "first-seed": { type: "string" },
  },
});
const RO = Number(args.ro ?? 1000);
const RW = Number(args.rw ?? 300);
const BATCH = Number(args.batch ?? 250);
const FIRST = Number(args["first-seed"] ?? 1_000_000);
const kernels: KernelSeries[] = args.kernel ? [args.kernel as KernelSeries] : ["6.1", "6.12"];

const t0 = performance.now();
const bases = await makeFuzzBases();
const mountOptions = fuzzMountOptions();
let failed = false;
const rows: string[] = [];

async function fuzzKernel(kernel: KernelSeries, ki: number): Promise<void> {
  const built = await buildModuleFor(kernel);
  try {
    if (built.warnings.length) console.warn(`${kernel}: W=1 warnings:\n${built.warnings.join("\n")}`);
    for (const [mode, n] of [["ro", RO], ["rw", RW]] as const) {
      const results: ImageResult[] = [];
      const start = FIRST + ki * 10_000_000 + (mode === "rw" ? 5_000_000 : 0);
      for (let b = 0; b < n; b += BATCH) {
        const seeds = Array.from({ length: Math.min(BATCH, n - b) }, (_, i) => start + b + i);
        const { images, vm } = await runFuzzVm({
          kernel,
          ko: built.ko,
          bases,
          seeds,
          rw: mode === "rw",
          mountOptions,
          perImageSeconds: 60,
          timeoutMs: 300_000 + 5_000 * seeds.length,
        });
        results.push(...images);
        if (!vm.ok) {
          failed = true;
          console.error(`${kernel} ${mode} batch from seed ${seeds[0]}: ${summarize(vm)}`);
          await Deno.writeTextFile(`/tmp/vexfs-fuzz-${kernel}-${seeds[0]}.log`, vm.log);
        }
        console.log(`${kernel} ${mode} ${b + seeds.length}/${n}: ${formatCounts(countResults(results))}`);
      }
      for (const r of results.filter((r) => r.failures.length)) {
        failed = true;
        const base = bases.find((x) => x.name === r.base)!;
        const path = `/tmp/vexfs-fuzz-${kernel}-seed${r.seed}.img`;
        await Deno.writeFile(path, fuzzImage(base, r.seed).bytes);
        console.error(`FAIL ${kernel} seed ${r.seed} (${r.base}: ${r.damage}): ${r.failures.join("; ")} -> ${path}`);
      }
      const c = countResults(results);
      rows.push(
        `| ${built.release} | ${mode === "ro" ? "read-only" : "read-write"} | ${c.images} | ${c.refused} | ` +
          `${c.walked} | ${c.written} | ${c.rwRefused} | ${c.hung} | ${c.oopses} | ${c.failed} |`,
      );
    }
  } finally {
    await built.dispose();
  }
}

await Promise.all(kernels.map((k, i) => fuzzKernel(k, i)));
console.log(`\n${((performance.now() - t0) / 60_000).toFixed(1)} min, seeds from ${FIRST}\n`);
console.log("| kernel | mode | images | refused | walked | written | rw refused | hung | oopses | failed |");
console.log("| ------ | ---- | -----: | ------: | -----: | ------: | ---------: | ---: | -----: | -----: |");
for (const r of rows.sort()) console.log(r);
Deno.exit(failed ? 1 : 0);
