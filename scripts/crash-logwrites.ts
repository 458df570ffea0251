/**
 * The larger dm-log-writes crash run (issue 11 §3 "Crash"; the bounded part
 * is src/kernel/logwrites_vm_test.ts): a longer seeded workload recorded in
 * Debian's 6.1 and 6.12 kernels under QEMU, on ext4 (the harness's
 * self-test) and on the kernel module, replayed on the host to every flush
 * and FUA point (src/kernel/logwrites.ts): clean after journal replay
 * (`e2fsck -fn` / `vexfs fsck -n`), every fsync'd file intact. Prints the
 * points and claims checked as a Markdown table for BENCHMARKS.md.
 *
 *   deno run -A scripts/crash-logwrites.ts [--ops N] [--seeds N] [--fs ext4,vexfs] [--kernel 6.1|6.12]
 *
 * Defaults: 300 operations, 2 seeds per kernel and filesystem. Exit 1 on any failure.
 */
import { parseArgs } from "node:util";
import { tmpImage } from "../src/fs/_testutil.ts";
import { buildModuleFor } from "../src/kernel/_vmtestutil.ts";
import {
  checkPoints,
  ext4Checker,
  parseLog,
  recordWorkload,
  replayPoints,
  vexfsChecker,
} from "../src/kernel/logwrites.ts";
import { type KernelSeries, summarize } from "../src/kernel/qemu.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    ops: { type: "string" },
    seeds: { type: "string" },
    fs: { type: "string" },
    kernel: { type: "string" },
  },
});
const OPS = Number(args.ops ?? 300);
const SEEDS = Number(args.seeds ?? 2);
const FSES = (args.fs ?? "ext4,vexfs").split(",") as ("ext4" | "vexfs")[];
const kernels: KernelSeries[] = args.kernel ? [args.kernel as KernelSeries] : ["6.1", "6.12"];

let failed = false;
const rows: string[] = [];
const t0 = performance.now();

async function one(kernel: KernelSeries, fs: "ext4" | "vexfs", seed: number, ko?: string): Promise<void> {
  let img: string;
  if (fs === "ext4") {
    img = await Deno.makeTempFile({ prefix: "vexfs-lw-", suffix: ".img" });
    await Deno.truncate(img, 64 << 20);
    const mk = await new Deno.Command("mkfs.ext4", { args: ["-q", "-F", img] }).output();
    if (!mk.success) throw new Error("mkfs.ext4 failed");
  } else img = tmpImage(32 << 20, 4096);
  try {
    const base = await Deno.readFile(img);
    const { log, vm } = await recordWorkload({
      kernel,
      fs,
      image: img,
      ko,
      seed,
      ops: OPS,
      logBytes: 1 << 30,
      timeoutMs: 900_000,
    });
    if (!vm.ok) {
      failed = true;
      console.error(`${kernel} ${fs} seed ${seed}: ${summarize(vm)}\n${vm.log.slice(-5000)}`);
      return;
    }
    const wl = parseLog(log);
    const r = await checkPoints(
      replayPoints(base, log, wl),
      fs === "ext4" ? ext4Checker("w") : await vexfsChecker("w"),
      50,
    );
    if (r.failures.length) failed = true;
    for (const f of r.failures) console.error(`FAIL ${kernel} ${fs} seed ${seed}: ${f}`);
    console.log(
      `${kernel} ${fs} seed ${seed}: ${wl.entries.length} log entries, ${r.points} crash points, ` +
        `${r.claimsChecked} claims, ${r.failures.length} failures`,
    );
    rows.push(
      `| ${vm.release} | ${fs} | ${seed} | ${OPS} | ${wl.entries.length} | ${r.points} | ${r.claimsChecked} | ` +
        `${r.failures.length} |`,
    );
  } finally {
    await Deno.remove(img);
  }
}

await Promise.all(kernels.map(async (kernel) => {
  const built = FSES.includes("vexfs") ? await buildModuleFor(kernel) : null;
  try {
    for (const fs of FSES) {
      for (let s = 0; s < SEEDS; s++) await one(kernel, fs, 1000 + s, built?.ko);
    }
  } finally {
    await built?.dispose();
  }
}));
console.log(`\n${((performance.now() - t0) / 60_000).toFixed(1)} min\n`);
console.log("| kernel | filesystem | seed | operations | log entries | crash points | claims checked | failures |");
console.log("| ------ | ---------- | ---: | ---------: | ----------: | -----------: | -------------: | -------: |");
for (const r of rows.sort()) console.log(r);
Deno.exit(failed ? 1 : 0);
