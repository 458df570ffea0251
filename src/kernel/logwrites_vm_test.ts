/**
 * Crash points recorded with dm-log-writes in Debian's 6.1 and 6.12 kernels
 * under QEMU (issue 11 §3 "Crash", `logwrites.ts`): a seeded workload (files
 * written and fsync'd, appended, overwritten without fsync, renamed over each
 * other, truncated, unlinked, with a mark after each durable step) runs on a
 * filesystem mounted through a log-writes target; on the host the log is
 * replayed onto the image as it was before, and at each flush or FUA entry
 * the image must be clean for the filesystem's checker after journal replay,
 * with every file fsync'd before that point intact and every durable removal
 * still removed.
 *
 * First the harness itself on ext4 (`e2fsck -fn` after `e2fsck -E
 * journal_only`, files through debugfs), every point up to a bound; then the
 * kernel module (`vexfs fsck -n` in process, files through the engine), every
 * point. Both kernels run side by side. Prints the number of crash points and
 * claims checked. The larger run is `scripts/crash-logwrites.ts`.
 */
import { assert, assertEquals } from "../test_assert.ts";
import { tmpImage } from "../fs/_testutil.ts";
import { resolveKernel } from "./debian_kernel.ts";
import { buildModuleFor, hasQemu } from "./_vmtestutil.ts";
import { checkPoints, ext4Checker, parseLog, recordWorkload, replayPoints, vexfsChecker } from "./logwrites.ts";
import { type KernelSeries, summarize } from "./qemu.ts";

const KERNELS: KernelSeries[] = ["6.1", "6.12"];
const OPS = Number(Deno.env.get("VEXFS_LW_OPS") ?? 40);
/** ext4 points checked per kernel at most (each costs two e2fsck runs and a debugfs) */
const EXT4_POINTS = 25;

function hasTools(): string | null {
  for (const t of ["mkfs.ext4", "e2fsck", "debugfs"]) {
    try {
      new Deno.Command(t, { args: ["-V"], stdout: "null", stderr: "null" }).outputSync();
    } catch {
      return t;
    }
  }
  return null;
}

/**
 * Whether the module in kernel/ runs the workload: it mounts read-write (the
 * write path) and has create, rename and unlink (the namespace operations).
 */
function moduleWrites(): boolean {
  const dir = new URL("../../kernel/", import.meta.url);
  let src = "";
  for (const e of Deno.readDirSync(dir)) if (e.name.endsWith(".c")) src += Deno.readTextFileSync(new URL(e.name, dir));
  return !/mounts read-only only/.test(src) &&
    [/\.create\s*=/, /\.rename\s*=/, /\.unlink\s*=/].every((re) => re.test(src));
}

async function ext4Run(kernel: KernelSeries, seed: number) {
  const img = await Deno.makeTempFile({ prefix: "vexfs-lw-ext4-", suffix: ".img" });
  try {
    await Deno.truncate(img, 32 << 20);
    const mk = await new Deno.Command("mkfs.ext4", { args: ["-q", "-F", img] }).output();
    assert(mk.success, "mkfs.ext4");
    const base = await Deno.readFile(img);
    const { log, vm } = await recordWorkload({ kernel, fs: "ext4", image: img, seed, ops: OPS });
    assert(vm.ok, `${summarize(vm)}\n${vm.log.slice(-10_000)}`);
    const wl = parseLog(log);
    const flushes = wl.entries.filter((e) => e.flags & 3).length;
    return await checkPoints(
      replayPoints(base, log, wl, Math.max(1, Math.ceil(flushes / EXT4_POINTS))),
      ext4Checker("w"),
    );
  } finally {
    await Deno.remove(img);
  }
}

async function vexfsRun(kernel: KernelSeries, ko: string, seed: number) {
  const img = tmpImage(16 << 20, 4096);
  try {
    const base = await Deno.readFile(img);
    const { log, vm } = await recordWorkload({ kernel, fs: "vexfs", image: img, ko, seed, ops: OPS });
    assert(vm.ok, `${summarize(vm)}\n${vm.log.slice(-10_000)}`);
    const wl = parseLog(log);
    return await checkPoints(replayPoints(base, log, wl), await vexfsChecker("w"));
  } finally {
    await Deno.remove(img);
  }
}

Deno.test({
  name: "dm-log-writes crash points (QEMU, 6.1 and 6.12): clean after journal replay, every fsync'd file intact",
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  if (!hasQemu()) {
    console.warn("logwrites_vm_test: qemu-system-x86_64 missing, skipped (scripts/bootstrap.sh test installs it)");
    return;
  }
  const missing = hasTools();
  if (missing) {
    console.warn(`logwrites_vm_test: ${missing} missing, skipped (apt-get install e2fsprogs)`);
    return;
  }
  for (const k of KERNELS) {
    const p = await resolveKernel(k);
    try {
      Deno.statSync(`/usr/src/${p.headersPackage}/Makefile`);
    } catch {
      console.warn(`logwrites_vm_test: /usr/src/${p.headersPackage} missing, skipped`);
      return;
    }
  }
  await t.step("the harness on ext4: every checked point clean, every claim holds", async () => {
    const rs = await Promise.all(KERNELS.map((k, i) => ext4Run(k, 11 + i)));
    for (const [i, r] of rs.entries()) {
      console.log(`logwrites ext4 ${KERNELS[i]}: ${r.points} crash points, ${r.claimsChecked} claims checked`);
      assertEquals(r.failures, [], `ext4 on ${KERNELS[i]}`);
      assert(r.points >= 10 && r.claimsChecked >= 50, `too little checked on ${KERNELS[i]}`);
    }
  });
  if (!moduleWrites()) {
    console.warn(
      "logwrites_vm_test: the module has no read-write mount or namespace operations yet; the VexFS part waits for them",
    );
    return;
  }
  await t.step("the kernel module: every point clean for vexfs fsck -n, every fsync'd file intact", async () => {
    const built = await Promise.all(KERNELS.map((k) => buildModuleFor(k)));
    try {
      const rs = await Promise.all(KERNELS.map((k, i) => vexfsRun(k, built[i].ko, 21 + i)));
      for (const [i, r] of rs.entries()) {
        console.log(`logwrites vexfs ${KERNELS[i]}: ${r.points} crash points, ${r.claimsChecked} claims checked`);
        assertEquals(r.failures, [], `vexfs on ${KERNELS[i]}`);
        assert(r.points >= 10 && r.claimsChecked >= 50, `too little checked on ${KERNELS[i]}`);
      }
    } finally {
      for (const b of built) await b.dispose();
    }
  });
});
