/**
 * `vexfs bench --kernel`: the kernel module, the FUSE daemon and ext4 side by side in
 * ONE QEMU VM and one run (issue 11 §4), so that all three see the same emulated CPU,
 * the same virtio disks and the same noise. The report (medians, ratios, memory,
 * targets, BENCHMARKS.md block) is `vm_report.ts`.
 *
 * One run:
 * 1. On the host: vexfs.ko is built for the headers of the kernel booted
 *    (`src/kernel/build.ts`, the same build as `vexfs build --kernel-dir`);
 *    `bench/vm/vmbench.c` is built twice with `gcc -static` (-O2, and -O3 with
 *    AVX2/FMA for the scan loop's vectorised figure); the scan loop runs natively
 *    (the host-native figure of the same C distance loop).
 * 2. Images in a work directory below `--dir` (sparse files): one fresh `vexfs mkfs`
 *    image for the module, one for the FUSE daemon, an ext4 image (Debian's mke2fs
 *    defaults), and a vectors image: `vexfs mkfs`, mounted with `vexfs mount` on the
 *    host, two flat l2 collections of 1,000 and 100,000 seeded 128-d vectors imported
 *    with `vexfs import` through the mount (`bench/vectors.ts` makes the JSONL),
 *    unmounted, and copied so the module and the daemon each mount their own copy.
 * 3. One VM (`src/kernel/qemu.ts`, TCG, `tools: true` so the real `vexfs` runs
 *    inside, `-cpu max`): the module mounts /dev/vda read-write (when it refuses,
 *    or mounts read-only, the kernel target is reported as not measured with its
 *    reason), `vexfs mount` /dev/vdb, ext4 /dev/vdc; for each run, every file
 *    workload on every target with the targets in rotating order; then memory
 *    figures; then both vectors copies mounted read-only (module, FUSE) and the
 *    search ioctl timed on each collection, run by run in rotating order; the scan
 *    loop in the VM; memory again.
 * 4. The console's `bench: ` lines become the report.
 * @module
 */

import { buildModule } from "../src/kernel/build.ts";
import { type KernelSeries, resolveKernel } from "../src/kernel/debian_kernel.ts";
import { runInVm, summarize } from "../src/kernel/qemu.ts";
import { toolsEntries, toolsKey } from "../src/kernel/tools_image.ts";
import { cacheDir } from "../src/kernel/debian_kernel.ts";
import { BenchError, lastLines, REPO_DIR, run, runOk, selfArgv, sleep } from "./exec.ts";
import { mountAt } from "./system.ts";
import { VECTOR_DIM, writeVectorJsonl } from "./vectors.ts";
import { collect, parseVmBenchLog, SEARCH_SIZES, type VmBenchReport } from "./vm_report.ts";

/** Default size of the sequential file (the 1 GiB). */
export const VM_DEFAULT_SIZE = 2 ** 30;
/** Default timed queries per run: 1,000 vectors, 100,000 vectors (each query scans them all under TCG). */
export const VM_DEFAULT_QUERIES: readonly [number, number] = [500, 20];
/** Default memory of the benchmark VM, MiB. */
export const VM_DEFAULT_MEMORY = 2048;

/** What to run. */
export interface VmBenchOptions {
  series: KernelSeries;
  sizeBytes: number;
  files: number;
  repeat: number;
  randSeconds: number;
  /** timed queries per run for 1,000 and for 100,000 vectors */
  queries: readonly [number, number];
  k: number;
  /** the work directory is made below this */
  parentDir: string;
  keep?: boolean;
  memoryMiB?: number;
  version: string;
  command: string;
  log: (line: string) => void;
}

const SEED = 0x5eed_11;

async function buildVmbench(dir: string): Promise<{ plain: string; simd: string }> {
  const src = `${REPO_DIR}/bench/vm/vmbench.c`;
  try {
    Deno.statSync(src);
  } catch {
    throw new BenchError(`${src} is missing: run 'vexfs bench --kernel' from a source checkout`);
  }
  const inc = `${REPO_DIR}/kernel`;
  const plain = `${dir}/vmbench`, simd = `${dir}/vmbench-simd`;
  const common = ["-static", "-Wall", "-Wextra", `-I${inc}`, src];
  await runOk("gcc", [...common, "-O2", "-o", plain], "gcc -static vmbench.c (apt-get install gcc libc6-dev)");
  await runOk("gcc", [...common, "-O3", "-mavx2", "-mfma", "-ffast-math", "-o", simd], "gcc -static -O3 vmbench.c");
  return { plain, simd };
}

/** `vexfs mkfs` of a sparse image of `bytes`, with `inodes` inodes. */
async function mkfsVexfs(img: string, bytes: number, inodes: number): Promise<void> {
  const [exe, ...args] = selfArgv(["mkfs", "-q", "-N", String(inodes), img, String(bytes)]);
  await runOk(exe, args, `vexfs mkfs ${img}`);
}

/**
 * The vectors image: two flat l2 collections, /c1000 and /c100000, filled through the
 * FUSE mount (about 5 minutes on a loaded 2-core host), cached under the test cache
 * (`cacheDir()/bench-vectors`) keyed by the hash of the engine's sources (src/ but
 * src/kernel/, commands/, main.ts: what makes and fills the image) and the seed, and copied into
 * `work`.
 */
async function vectorsImage(work: string, log: (l: string) => void): Promise<string> {
  const engine = (await toolsEntries()).filter((e) => /^vexfs\/(src\/(?!kernel\/)|commands\/|main\.ts$)/.test(e.path));
  const key = (await toolsKey(engine)).slice(0, 32);
  const dir = `${cacheDir()}/bench-vectors`;
  const cached = `${dir}/vectors-${SEED.toString(16)}-${key}.img`;
  const img = `${work}/vectors.img`;
  try {
    Deno.statSync(cached);
    log(`vectors image from the cache: ${cached}`);
    await runOk("cp", ["--sparse=always", cached, img], "copying the cached vectors image");
    return img;
  } catch { /* not cached: make it */ }
  await makeVectorsImage(work, img, log);
  await Deno.mkdir(dir, { recursive: true });
  const tmp = `${cached}.${Deno.pid}.tmp`;
  await runOk("cp", ["--sparse=always", img, tmp], "caching the vectors image");
  await Deno.rename(tmp, cached);
  return img;
}

async function makeVectorsImage(work: string, img: string, log: (l: string) => void): Promise<void> {
  const total = SEARCH_SIZES.reduce((a, b) => a + b, 0);
  await mkfsVexfs(img, 2 * 2 ** 30, total + 4096);
  const mnt = `${work}/vectors-mnt`;
  await Deno.mkdir(mnt);
  const [exe, ...args] = selfArgv(["mount", img, mnt]);
  await runOk(exe, args, `vexfs mount ${img}`);
  const umount = async () => {
    const [e, ...a] = selfArgv(["umount", mnt]);
    const r = await run(e, a);
    for (let i = 0; i < 100 && mountAt(mnt); i++) await sleep(100);
    if (r.code !== 0 && mountAt(mnt)) throw new BenchError(`vexfs umount ${mnt}: ${lastLines(r.stderr)}`);
    await Deno.remove(mnt);
  };
  try {
    for (const n of SEARCH_SIZES) {
      const jsonl = `${work}/v${n}.jsonl`;
      await writeVectorJsonl(jsonl, n, VECTOR_DIM, SEED + n);
      log(`importing ${n} vectors (128-d) through the FUSE mount`);
      const [e, ...a] = selfArgv([
        "import",
        `${mnt}/c${n}`,
        "--jsonl",
        jsonl,
        "--dim",
        String(VECTOR_DIM),
        "--metric",
        "l2",
        "--index",
        "flat",
        "--quiet",
      ]);
      await runOk(e, a, `vexfs import of ${n} vectors`);
      await Deno.remove(jsonl);
    }
  } catch (e) {
    await umount().catch(() => {});
    throw e;
  }
  await umount();
}

/** The host-native figures of the scan loop (p50 µs by vectors), for the -O2 and the AVX2 build. */
async function hostScan(bin: string, queries: readonly [number, number], k: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [i, n] of SEARCH_SIZES.entries()) {
    const q = Math.max(i === 0 ? 2000 : 50, queries[i]);
    const r = JSON.parse(await runOk(bin, ["scan", String(n), String(VECTOR_DIM), String(q), String(k), "7"], "scan"));
    out[String(n)] = r.p50Us;
  }
  return out;
}

/** The shell script the VM runs (busybox ash; `vexfs` from the tools image). Exported for its test. */
export function vmScript(o: {
  sizeBytes: number;
  files: number;
  repeat: number;
  randSeconds: number;
  queries: readonly [number, number];
  k: number;
}): string {
  return `
B=/bin/vmbench
say() { echo "bench: $*"; }
oneline() { tr '\\n' ' ' | cut -c1-300; }
# the list $1 rotated left by $2
rot() { n=$2; set -- $1; [ $# -gt 0 ] || return 0; i=0; while [ $i -lt $((n % $#)) ]; do f=$1; shift; set -- "$@" $f; i=$((i + 1)); done; echo "$@"; }
daemon_of() { for d in /proc/[0-9]*; do c=$(tr '\\0' ' ' < $d/cmdline 2>/dev/null); case "$c" in *" mount "*"$1 "*) echo \${d#/proc/}; return;; esac; done; }
kib() { grep "^$2:" /proc/$1/status 2>/dev/null | tr -s ' ' | cut -d' ' -f2; }
slab() { awk 'tolower($1) ~ /vexfs/ { s += $3 * $4 } END { print s + 0 }' /proc/slabinfo; }
coresize() { s=0; for m in "$@"; do [ -r /sys/module/$m/coresize ] && s=$((s + $(cat /sys/module/$m/coresize))); done; echo $s; }
mkdir -p /mnt/kernel /mnt/fuse /mnt/ext4 /mnt/kv /mnt/fv
# QEMU backs guest RAM on the host at its first write: touch it once, before any target runs
echo "vmbench: warm-up $($B touchmem 256)"
T=""
if out=$(mount -t vexfs /dev/vda /mnt/kernel 2>&1); then
	if [ "$(grep '^/dev/vda /mnt/kernel ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1)" != rw ]; then
		say unavailable kernel "the module mounted /dev/vda read-only (no read-write mount in this build)"
		umount /mnt/kernel
	elif ! out=$(touch /mnt/kernel/.probe 2>&1); then
		say unavailable kernel "the module mounts read-write but cannot create a file yet ($(echo "$out" | oneline))"
		umount /mnt/kernel
	else
		rm -f /mnt/kernel/.probe; T="$T kernel"
	fi
else
	say unavailable kernel "mount -t vexfs failed: $(echo "$out" | oneline)"
fi
if out=$(vexfs mount /dev/vdb /mnt/fuse 2>&1); then T="$T fuse"; FPID=$(daemon_of /dev/vdb); else say unavailable fuse "vexfs mount failed: $(echo "$out" | oneline)"; fi
if out=$(mount -t ext4 /dev/vdc /mnt/ext4 2>&1); then T="$T ext4"; else say unavailable ext4 "mount failed: $(echo "$out" | oneline)"; fi
HWM=0
r=1
while [ $r -le ${o.repeat} ]; do
	order=$(rot "$T" $((r - 1)))
	echo "vmbench: run $r of ${o.repeat}: $order"
	for t in $order; do mkdir -p /mnt/$t/r$r/d; done
	for t in $order; do say $t $r "$($B seqwrite /mnt/$t/r$r/big ${o.sizeBytes})"; done
	for t in $order; do say $t $r "$($B seqread /mnt/$t/r$r/big)"; done
	for t in $order; do say $t $r "$($B randread /mnt/$t/r$r/big ${o.randSeconds} $r)"; done
	for t in $order; do say $t $r "$($B create /mnt/$t/r$r/d ${o.files})"; done
	for t in $order; do say $t $r "$($B stat /mnt/$t/r$r/d ${o.files})"; done
	if [ -n "$FPID" ]; then h=$(kib $FPID VmHWM); [ -n "$h" ] && [ "$h" -gt $HWM ] && HWM=$h; fi
	for t in $order; do rm -rf /mnt/$t/r$r 2>/dev/null; done
	r=$((r + 1))
done
case "$T" in *kernel*) say mem kernel.slab $(slab);; esac
say mem kernel.module $(coresize vexfs)
say mem ext4.module $(coresize ext4 jbd2 mbcache)
if [ -n "$FPID" ]; then say mem fuse.rss-peak $((HWM * 1024)); say mem fuse.rss $(( $(kib $FPID VmRSS) * 1024 )); fi
say mem deno.binary $(stat -c %s /tools/vexfs/node_modules/deno/deno)
for t in $T; do case $t in fuse) vexfs umount /mnt/fuse;; *) umount /mnt/$t;; esac || say unavailable umount-$t "umount failed"; done
S=""
if out=$(mount -t vexfs -o ro /dev/vdd /mnt/kv 2>&1); then S="$S kernel"; else say unavailable kernel-search "mount -t vexfs -o ro failed: $(echo "$out" | oneline)"; fi
if out=$(vexfs mount -o ro /dev/vde /mnt/fv 2>&1); then S="$S fuse"; VPID=$(daemon_of /dev/vde); else say unavailable fuse-search "vexfs mount -o ro failed: $(echo "$out" | oneline)"; fi
r=1
while [ $r -le ${o.repeat} ]; do
	order=$(rot "$S" $((r - 1)))
	for n in 1000 100000; do
		q=${o.queries[0]}; [ $n = 1000 ] || q=${o.queries[1]}
		for t in $order; do
			case $t in kernel) m=/mnt/kv;; *) m=/mnt/fv;; esac
			out=$($B search $m/c$n $q ${o.k} ${SEED})
			say $t $r "$out"
			case "$out" in *'"error"'*) say unavailable $t-search "$out"; S=$(echo $S | tr ' ' '\\n' | grep -vx $t | tr '\\n' ' ');; esac
		done
		order=$(for t in $order; do case " $S " in *" $t "*) echo $t;; esac; done)
	done
	r=$((r + 1))
done
case "$S" in *kernel*) say mem kernel.slab-vectors $(slab);; esac
if [ -n "$VPID" ]; then say mem fusevec.rss-peak $(( $(kib $VPID VmHWM) * 1024 )); fi
for t in $S; do case $t in fuse) vexfs umount /mnt/fv;; *) umount /mnt/kv;; esac; done
say vm 1 "$($B scan 1000 128 ${o.queries[0]} ${o.k} 7)"
say vm 1 "$($B scan 100000 128 ${Math.max(5, Math.ceil(o.queries[1] / 4))} ${o.k} 7)"
say vm-simd 1 "$(/bin/vmbench-simd scan 1000 128 ${o.queries[0]} ${o.k} 7)"
true
`;
}

async function firstLine(cmd: string, args: string[]): Promise<string> {
  try {
    return (await run(cmd, args)).stdout.split("\n")[0].trim();
  } catch {
    return "unknown";
  }
}

/**
 * Runs the whole benchmark and returns its report.
 *
 * @throws BenchError when a host step fails (gcc, mkfs, the FUSE import, the VM
 *   harness): the message says which and why. A target the VM cannot measure does
 *   not throw: it is listed in `unavailable` with its reason.
 */
export async function runVmBench(o: VmBenchOptions): Promise<VmBenchReport> {
  const started = new Date();
  const pkgs = await resolveKernel(o.series);
  const work = await Deno.makeTempDir({ dir: o.parentDir, prefix: "vexfs-bench-kernel-" });
  try {
    o.log(`building vexfs.ko against /usr/src/${pkgs.headersPackage}`);
    let ko: string;
    try {
      ko = (await buildModule({ kernelDir: `/usr/src/${pkgs.headersPackage}` })).ko;
    } catch (e) {
      throw new BenchError(`building vexfs.ko for ${pkgs.release}: ${e instanceof Error ? e.message : e}`);
    }
    o.log("building bench/vm/vmbench.c (gcc -static)");
    const bins = await buildVmbench(work);
    o.log("the scan loop natively on the host");
    const scan: VmBenchReport["scan"] = {
      host: await hostScan(bins.plain, o.queries, o.k),
      "host-simd": await hostScan(bins.simd, o.queries, o.k),
    };
    const imgBytes = Math.ceil((o.sizeBytes * o.repeat + 512 * 2 ** 20) / 2 ** 20) * 2 ** 20;
    const inodes = o.files * o.repeat + 8192;
    o.log(`images of ${Math.round(imgBytes / 2 ** 20)} MiB (sparse) in ${work}`);
    await mkfsVexfs(`${work}/kernel.img`, imgBytes, inodes);
    await mkfsVexfs(`${work}/fuse.img`, imgBytes, inodes);
    const f = await Deno.open(`${work}/ext4.img`, { write: true, create: true });
    await f.truncate(imgBytes);
    f.close();
    await runOk("mkfs.ext4", ["-q", "-F", `${work}/ext4.img`], "mkfs.ext4 (apt-get install e2fsprogs)");
    const vec = await vectorsImage(work, o.log);
    await runOk("cp", ["--sparse=always", vec, `${work}/vectors-fuse.img`], "copying the vectors image");
    const memoryMiB = o.memoryMiB ?? VM_DEFAULT_MEMORY;
    const perRunMin = (o.sizeBytes / 2 ** 30) * 15 + (o.files / 10_000) * 10 + o.randSeconds / 20;
    const timeoutMs = Math.round((20 + o.repeat * (perRunMin + 10)) * 60_000);
    o.log(`booting Debian's ${pkgs.release} in QEMU (TCG); the run takes minutes (limit ${timeoutMs / 60_000} min)`);
    const r = await runInVm({
      kernel: o.series,
      disks: [`${work}/kernel.img`, `${work}/fuse.img`, `${work}/ext4.img`, vec, `${work}/vectors-fuse.img`],
      modules: [ko],
      tools: true,
      memoryMiB,
      timeoutMs,
      files: { "/bin/vmbench": await Deno.readFile(bins.plain), "/bin/vmbench-simd": await Deno.readFile(bins.simd) },
      script: vmScript(o),
    });
    const parsed = parseVmBenchLog(r.log);
    const notes: string[] = [];
    if (!r.ok) {
      notes.push(`the VM run was not clean: ${summarize(r)}`);
      if (r.crashes.length) notes.push(`kernel log: ${r.crashes.slice(0, 3).join(" | ")}`);
      if (r.failed.length) notes.push(`failed in the VM: ${r.failed.join(", ")}`);
    }
    const c = collect(parsed);
    if (!Object.keys(c.runs).length && !Object.keys(c.search).length) {
      throw new BenchError(`the VM produced no measurement: ${summarize(r)}\n${lastLines(r.log, 30)}`);
    }
    const k1 = c.search.kernel?.["1000"], f1 = c.search.fuse?.["1000"];
    if (k1 && f1 && k1.firstIno !== f1.firstIno) {
      notes.push(
        `the module and FUSE disagree on the best hit of the last 1,000-vector query (inode ${k1.firstIno} ` +
          `vs ${f1.firstIno})`,
      );
    }
    const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
    const commit = await firstLine("git", ["-C", REPO_DIR, "rev-parse", "--short", "HEAD"]);
    return {
      date: started.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC"),
      command: o.command,
      version: o.version,
      commit: /^[0-9a-f]{7,}$/.test(commit) ? commit : undefined,
      kernel: {
        series: o.series,
        release: r.release ?? pkgs.release,
        qemu: (await firstLine("qemu-system-x86_64", ["--version"])).replace(/^QEMU emulator version /, ""),
        memoryMiB,
        cpu: "max (TCG)",
      },
      host: {
        cpu: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
        cpus: navigator.hardwareConcurrency,
      },
      settings: {
        sizeBytes: o.sizeBytes,
        files: o.files,
        repeat: o.repeat,
        randSeconds: o.randSeconds,
        queries: [...o.queries],
        k: o.k,
      },
      unavailable: parsed.unavailable,
      runs: c.runs,
      phases: c.phases,
      search: c.search,
      scan: { ...scan, ...c.scan },
      memory: parsed.memory,
      errors: parsed.errors,
      notes,
      bootSeconds: r.bootSeconds,
      vmSeconds: r.totalSeconds,
    };
  } finally {
    if (o.keep) o.log(`kept ${work}`);
    else await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}
