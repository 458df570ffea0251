/**
 * Tests of the pure parts of `vexfs bench --kernel`: reading the VM's `bench: ` lines,
 * medians and ratios, the targets met or missed, the BENCHMARKS.md block, and the
 * script's rotation of the target order (run in the host's sh). No timing is asserted.
 */

import assert from "node:assert/strict";
import { vmScript } from "./vm.ts";
import {
  collect,
  fileTable,
  median,
  memoryTable,
  nativeEstimate,
  parseVmBenchLog,
  phaseTable,
  renderVmMarkdown,
  searchTable,
  targetLines,
  updateVmMarkdown,
  VM_MD_BEGIN,
  VM_MD_END,
  type VmBenchReport,
  workloadValue,
} from "./vm_report.ts";

const LOG = [
  "[    1.0] some kernel line",
  'bench: kernel 1 {"op":"seq-write","bytes":100000000,"seconds":1.0}',
  'bench: ext4 1 {"op":"seq-write","bytes":100000000,"seconds":0.5}',
  'bench: fuse 1 {"op":"seq-write","bytes":100000000,"seconds":4.0}',
  'bench: kernel 2 {"op":"seq-write","bytes":100000000,"seconds":2.0}',
  'bench: ext4 2 {"op":"seq-write","bytes":100000000,"seconds":0.25}',
  'bench: kernel 3 {"op":"seq-write","bytes":100000000,"seconds":0.8,"writeSeconds":0.7,"fsyncSeconds":0.1,' +
  '"cpuSeconds":0.6}',
  'bench: kernel 1 {"op":"create","files":1000,"seconds":0.5}\r',
  'bench: ext4 1 {"op":"create","files":1000,"seconds":0.6}',
  'bench: kernel 1 {"op":"rand-read","ops":300,"seconds":3}',
  'bench: kernel 1 {"op":"stat","error":"open: No space left on device","errno":28}',
  'bench: kernel 1 {"op":"search","queries":50,"p50Us":120.5,"p99Us":300,"minUs":100,"meanUs":130,' +
  '"vectors":1000,"dim":128,"k":10,"hits":10,"firstIno":42}',
  'bench: kernel 2 {"op":"search","queries":50,"p50Us":110.5,"p99Us":280,"minUs":90,"meanUs":120,' +
  '"vectors":1000,"dim":128,"k":10,"hits":10,"firstIno":42}',
  'bench: fuse 1 {"op":"search","queries":50,"p50Us":2000,"p99Us":5000,"minUs":1500,"meanUs":2500,' +
  '"vectors":1000,"dim":128,"k":10,"hits":10,"firstIno":42}',
  'bench: vm 1 {"op":"scan","queries":50,"p50Us":800,"p99Us":900,"minUs":700,"meanUs":810,"vectors":1000}',
  "bench: unavailable kernel-search mount failed: no such device",
  "bench: mem kernel.module 212992",
  "bench: mem fuse.rss-peak 314572800",
  "bench: fuse 1 {not json}",
  "dmesg: bench: ext4 1 ignored? no: this is not at the start of the line",
].join("\n");

function report(): VmBenchReport {
  const p = parseVmBenchLog(LOG);
  const c = collect(p);
  return {
    date: "2026-12-04 12:00:00 UTC",
    command: "vexfs bench --kernel",
    version: "0.1.0",
    kernel: { series: "6.12", release: "6.12.118+deb12-amd64", qemu: "7.2.0", memoryMiB: 2048, cpu: "max (TCG)" },
    host: { cpu: "Test CPU", cpus: 2 },
    settings: { sizeBytes: 2 ** 30, files: 10_000, repeat: 3, randSeconds: 10, queries: [500, 20], k: 10 },
    unavailable: p.unavailable,
    runs: c.runs,
    phases: c.phases,
    search: c.search,
    scan: { host: { "1000": 50 }, ...c.scan },
    memory: p.memory,
    errors: p.errors,
    notes: [],
    bootSeconds: 3,
    vmSeconds: 100,
  };
}

Deno.test("parseVmBenchLog: samples, errors, unavailable targets and memory; other lines ignored", () => {
  const p = parseVmBenchLog(LOG);
  assert.equal(p.samples.length, 13);
  assert.deepEqual(p.unavailable, { "kernel-search": "mount failed: no such device" });
  assert.deepEqual(p.memory, { "kernel.module": 212992, "fuse.rss-peak": 314572800 });
  assert.equal(p.errors.length, 2);
  assert.match(p.errors[0], /kernel run 1 stat: open: No space left on device/);
  assert.match(p.errors[1], /unreadable output/);
});

Deno.test("workloadValue and median: MB/s, IOPS, files/s; odd and even counts", () => {
  assert.equal(workloadValue({ op: "seq-read", bytes: 5e6, seconds: 2 }), 2.5);
  assert.equal(workloadValue({ op: "rand-read", ops: 100, seconds: 4 }), 25);
  assert.equal(workloadValue({ op: "stat", files: 10, seconds: 0 }), undefined);
  assert.equal(workloadValue({ op: "other", seconds: 1 }), undefined);
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([]), undefined);
});

Deno.test("collect and fileTable: medians per target and the module ÷ ext4, module ÷ FUSE ratios", () => {
  const r = report();
  assert.deepEqual(r.runs.kernel?.["seq-write"], [100, 50, 125]);
  const row = fileTable(r).rows.find((x) => x[0] === "seq-write")!;
  // kernel median 100 MB/s, FUSE 25, ext4 median of 200 and 400 = 300
  assert.deepEqual(row, ["seq-write", "MB/s", "100", "25.0", "300", "0.33×", "4.00×"]);
  const create = fileTable(r).rows.find((x) => x[0] === "create")!;
  assert.deepEqual(create.slice(2), ["2,000", "—", "1,667", "1.20×", "—"]);
});

Deno.test("search: medians over runs, module ÷ FUSE of p50; targets met and missed with the figures", () => {
  const r = report();
  assert.equal(r.search.kernel?.["1000"]?.p50Us, 115.5);
  assert.equal(r.search.kernel?.["1000"]?.runs, 2);
  assert.equal(r.search.kernel?.["1000"]?.minUs, 90);
  assert.deepEqual(searchTable(r).rows[0], ["1,000", "115.5", "290.0", "2,000", "5,000", "0.06×"]);
  const t = targetLines(r);
  assert.equal(t.find((x) => x.text.includes("seq-write"))?.met, false);
  assert.match(t.find((x) => x.text.includes("seq-write"))!.text, /0\.33× — MISSED/);
  assert.equal(t.find((x) => x.text.includes(" create"))?.met, true);
  assert.equal(t.find((x) => x.text.includes("seq-read"))?.met, undefined);
  const s = t.find((x) => x.text.includes("1,000 × 128"))!;
  assert.equal(s.met, false);
  assert.match(s.text, /p50 115\.5 µs/);
  const est = nativeEstimate(r)!;
  assert.equal(est.factor, 16);
  assert.ok(Math.abs(est.kernelUs - 115.5 / 16) < 1e-9);
  assert.deepEqual(memoryTable(r).rows.map((x) => x[1]), ["208 KiB", "300.0 MiB"]);
});

Deno.test("renderVmMarkdown and updateVmMarkdown: the block is replaced in place, text around it kept", () => {
  const block = renderVmMarkdown(report());
  assert.ok(block.startsWith(VM_MD_BEGIN) && block.endsWith(VM_MD_END));
  assert.match(block, /\| seq-write \| MB\/s/);
  assert.match(block, /not measured: kernel-search: mount failed/);
  const first = updateVmMarkdown("# Benchmarks\n\nintro\n", block);
  assert.match(first, /^# Benchmarks\n\nintro\n\n## The kernel module against FUSE and ext4/);
  const hand = first + "\n## Analysis\n\nwritten by hand\n";
  const again = updateVmMarkdown(hand, block.replace("seq-write", "seq-write "));
  assert.equal(again.split(VM_MD_BEGIN).length, 2);
  assert.match(again, /written by hand/);
  assert.equal(updateVmMarkdown(again, block), hand);
});

Deno.test("vmScript: the target order rotates run by run (the script's rot, run by sh)", async () => {
  const script = vmScript({ sizeBytes: 1 << 20, files: 10, repeat: 3, randSeconds: 1, queries: [5, 5], k: 10 });
  const rot = script.split("\n").find((l) => l.startsWith("rot() "))!;
  const cmd = `${rot}\nfor r in 0 1 2 3; do rot " kernel fuse ext4" $r; done; rot "" 1; rot " fuse" 5`;
  const o = await new Deno.Command("sh", { args: ["-c", cmd], stdout: "piped" }).output();
  assert.equal(
    new TextDecoder().decode(o.stdout),
    "kernel fuse ext4\nfuse ext4 kernel\next4 kernel fuse\nkernel fuse ext4\nfuse\n",
  );
});

Deno.test("collect: the write(2) and fsync phases of the seq-write runs that report them; a table of them", () => {
  const r = report();
  assert.deepEqual(r.phases, { kernel: { write: [0.7], fsync: [0.1] } });
  assert.deepEqual(phaseTable(r)?.rows, [["module", "0.70", "0.10"]]);
  assert.match(renderVmMarkdown(r), /\| module +\| +0\.70 \| +0\.10 \|/);
  assert.equal(phaseTable({ ...r, phases: {} }), undefined);
});
