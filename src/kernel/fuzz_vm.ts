/**
 * Runs damaged images (`fuzz_image.ts`) through the kernel module in one VM
 * boot of the QEMU harness (`qemu.ts`): the bounded suite test
 * (`fuzz_vm_test.ts`) and the full run (`scripts/fuzz-kernel.ts`) share it.
 *
 * The VM gets the clean base image as /dev/vda and, as /dev/vdb, only the
 * blocks each damaged image changes; for each image it copies the base to
 * tmpfs, writes that image's blocks over it and attaches it to a loop
 * device, so hundreds of images need one boot and a few MB of disk. Then:
 *
 * 1. `mount -t vexfs -o ro` (even seeds) or read-write (odd seeds: the mount
 *    itself replays and writes), refused or mounted;
 * 2. mounted: `vmtool walk` (lstat, read, readlink, listxattr/getxattr of
 *    every entry, statfs; `vmtool.c`, built by `static_tool.ts`);
 * 3. with `rw`: a read-only mount is remounted read-write; then
 *    `vmtool write` (create, write with holes, fsync, rename, link, symlink,
 *    mkdir, setxattr, truncate, unlink, on new and existing names, sync);
 * 4. unmount, detach.
 *
 * Each image runs in the background under a watchdog of `perImageSeconds`: a
 * task that does not finish is reported as hung and the run goes on with the
 * next image (on a new loop device). After each image the kernel log is
 * read and cleared (`dmesg -c`): a log with an oops, BUG, WARNING, soft lockup
 * or stall is printed in full (as `dmesg: ` lines, which the harness scans), so
 * that a flood of the module's corruption messages can never push a WARNING
 * out of the ring buffer before the harness's final dump.
 *
 * Every syscall error must be an errno a damaged filesystem may give
 * (`ALLOWED_ERRNOS`): EUCLEAN or EIO for the damage, ENOENT, ENODATA,
 * EOPNOTSUPP for names and attributes that are not there, EROFS after
 * errors=remount-ro, ENOSPC for a full or damaged allocator; or one the same
 * steps give on the undamaged base (a control run first in the same VM for
 * each base, which must mount and walk, and may give only those errnos and
 * the ones of an operation the module lacks, `MISSING_OPERATION_ERRNOS`).
 * @module
 */
import { changedBlocks, type FuzzBase, fuzzImage } from "./fuzz_image.ts";
import { type KernelSeries, runInVm, type VmResult } from "./qemu.ts";
import { staticTool } from "./static_tool.ts";

/** Errnos a walk or a write on a damaged image may give (others fail the image). */
export const ALLOWED_ERRNOS = new Set([
  "EUCLEAN",
  "EIO",
  "ENOENT",
  "ENODATA",
  "EOPNOTSUPP",
  "EROFS",
  "ENOSPC",
  "ENOTEMPTY",
  "EEXIST",
]);

/** What became of one image. */
export interface ImageResult {
  seed: number;
  base: string;
  damage: string;
  recomputed: boolean;
  /** the first mount refused it */
  refused: boolean;
  /** mounted and walked */
  walked: boolean;
  /** a read-write mount or remount succeeded and the write workload ran */
  written: boolean;
  /** a read-write mount or remount was refused (after a read-only mount, or the mount itself) */
  rwRefused: boolean;
  /** errnos seen, name → count */
  errnos: Record<string, number>;
  /** of them, by the walk and by the write workload */
  walkErrnos: Record<string, number>;
  writeErrnos: Record<string, number>;
  /** the watchdog fired */
  hung: boolean;
  /** the kernel log after this image showed an oops, BUG, WARNING, lockup or stall */
  crashed: boolean;
  /** why the image failed; empty when it passed */
  failures: string[];
  /** the module's first dmesg line for the image, if any */
  firstMessage: string;
}

/** What is known of an image before it runs. */
export type CaseInfo = Pick<ImageResult, "seed" | "base" | "damage" | "recomputed">;

/** Counts over a run. */
export interface FuzzCounts {
  images: number;
  refused: number;
  walked: number;
  written: number;
  rwRefused: number;
  hung: number;
  oopses: number;
  failed: number;
}

/** Options of `runFuzzVm`. */
export interface FuzzVmOptions {
  kernel: KernelSeries;
  ko: string;
  /** clean images; seed s damages base `floor(s / 2) % bases.length` */
  bases: FuzzBase[];
  seeds: number[];
  /** remount/mount read-write and write (default true) */
  rw?: boolean;
  /** mount options of image `seed`, e.g. "errors=remount-ro" (default none) */
  mountOptions?: (seed: number) => string;
  /** watchdog per image inside the VM, seconds (default 60) */
  perImageSeconds?: number;
  /** limit for the whole VM, ms (default: 30 s + 20 s per image) */
  timeoutMs?: number;
}

/** Kernel-log lines that mean a kernel bug (more than the harness's own list: lockups, stalls, hung tasks). */
const KERNEL_BUG =
  "Oops|BUG: |kernel BUG at|WARNING: CPU|general protection fault|UBSAN|KASAN|soft lockup|rcu.*stall|blocked for more than|Call Trace";

const SCRIPT = `
. /fuzz-conf.sh
modload loop || t_fail "modload loop"
for i in $(seq 0 $((FZ_BASES - 1))); do
	dd if=/dev/vd$(echo abcdefgh | cut -c$((i + 1))) of=/tmp/base$i bs=64k 2>/dev/null
done
mkdir -p /mnt/f
chmod 755 /bin/vmtool
dmesg -c >/dev/null
fz_work() {
	seed=$1 dev=$2
	ro="ro\${FZ_OPTS:+,$FZ_OPTS}"
	if [ $((seed % 2)) = 1 ] && [ "$FZ_RW" = 1 ]; then
		# read-write from the start: the mount itself replays the journal and writes
		if mount -t vexfs \${FZ_OPTS:+-o $FZ_OPTS} $dev /mnt/f 2>/dev/null; then
			# busybox mount falls back to read-only when read-write is refused: ask /proc/mounts
			if grep -q " /mnt/f vexfs rw," /proc/mounts; then
				echo "fz $seed mounted rw"
				echo "fz $seed $(vmtool walk /mnt/f)"
				echo "fz $seed rw"
				echo "fz $seed $(vmtool write /mnt/f)"
				umount /mnt/f 2>/dev/null || echo "fz $seed umount-failed"
				return
			fi
			umount /mnt/f 2>/dev/null || echo "fz $seed umount-failed"
		fi
		echo "fz $seed rw-refused"
	fi
	if mount -t vexfs -o $ro $dev /mnt/f 2>/dev/null; then
		echo "fz $seed mounted ro"
		echo "fz $seed $(vmtool walk /mnt/f)"
		if [ "$FZ_RW" = 1 ] && [ $((seed % 2)) = 0 ]; then
			mount -o remount,rw /mnt/f 2>/dev/null
			if grep -q " /mnt/f vexfs rw," /proc/mounts; then
				echo "fz $seed rw"
				echo "fz $seed $(vmtool write /mnt/f)"
			else
				echo "fz $seed rw-refused"
			fi
		fi
		umount /mnt/f 2>/dev/null || echo "fz $seed umount-failed"
	else
		echo "fz $seed refused"
	fi
}
fz() {
	seed=$1 base=$2 FZ_OPTS=$3; shift 3
	[ "$FZ_OPTS" = - ] && FZ_OPTS=
	cp /tmp/base$base /tmp/img
	for p in "$@"; do
		dd if=$FZ_PATCHES of=/tmp/img bs=$FZ_BS skip=\${p#*:} seek=\${p%:*} count=1 conv=notrunc 2>/dev/null
	done
	dev=$(losetup -f)
	losetup $dev /tmp/img || { t_fail "fuzz $seed" "losetup"; return; }
	fz_work $seed $dev > /tmp/out 2>&1 &
	pid=$!
	n=0
	while kill -0 $pid 2>/dev/null; do
		n=$((n + 1))
		if [ $n -gt $((FZ_WATCHDOG * 10)) ]; then echo "fz $seed hung"; break; fi
		sleep 0.1
	done
	cat /tmp/out
	losetup -d $dev 2>/dev/null
	dmesg -c > /tmp/dm
	if grep -Eq '${KERNEL_BUG}' /tmp/dm; then
		echo "fz $seed kernel-bug"
		sed 's/^/dmesg: /' /tmp/dm
	fi
	first=$(grep -m1 vexfs /tmp/dm)
	[ -n "$first" ] && echo "fz $seed msg $first"
	echo "fz $seed done"
}
. /fuzz-list.sh
echo "fz end"
`;

/** Parses the `fz SEED ...` lines of a VM log into per-image results. */
export function parseFuzzLog(log: string, cases: Map<number, CaseInfo>): ImageResult[] {
  const out = new Map<number, ImageResult>();
  for (const raw of log.split("\n")) {
    const m = /^fz (-?\d+) (.*)$/.exec(raw.replace(/\r$/, ""));
    if (!m) continue;
    const seed = Number(m[1]);
    const c = cases.get(seed);
    if (!c) continue;
    let r = out.get(seed);
    if (!r) {
      r = {
        ...c,
        refused: false,
        walked: false,
        written: false,
        rwRefused: false,
        errnos: {},
        walkErrnos: {},
        writeErrnos: {},
        hung: false,
        crashed: false,
        failures: [],
        firstMessage: "",
      };
      out.set(seed, r);
    }
    const rest = m[2];
    let v;
    if (rest === "refused") r.refused = true;
    else if (rest === "rw") r.written = true;
    else if (rest === "rw-refused") r.rwRefused = true;
    else if (rest === "hung") r.hung = true, r.failures.push("hung (watchdog)");
    else if (rest === "kernel-bug") r.crashed = true, r.failures.push("kernel log shows a bug");
    else if (rest === "umount-failed") r.failures.push("umount failed");
    else if ((v = /^msg (.*)$/.exec(rest))) r.firstMessage = v[1];
    else if ((v = /^vmtool: (walk|write) .*errnos=(\S+)$/.exec(rest))) {
      if (v[1] === "walk") r.walked = true;
      if (v[2] !== "-") {
        for (const kv of v[2].split(",")) {
          const [name, n] = kv.split(":");
          r.errnos[name] = (r.errnos[name] ?? 0) + Number(n);
          const seen = v[1] === "walk" ? r.walkErrnos : r.writeErrnos;
          seen[name] = (seen[name] ?? 0) + Number(n);
        }
      }
    }
  }
  for (const [seed, c] of cases) {
    const r = out.get(seed);
    if (!r) {
      out.set(seed, {
        ...c,
        refused: false,
        walked: false,
        written: false,
        rwRefused: false,
        errnos: {},
        walkErrnos: {},
        writeErrnos: {},
        hung: false,
        crashed: false,
        failures: ["never ran (the VM stopped before it)"],
        firstMessage: "",
      });
    } else if (!log.includes(`fz ${seed} done`)) r.failures.push("did not finish");
  }
  const all = [...out.values()].sort((a, b) => a.seed - b.seed);
  // errnos: the allowed ones, and what the same workload gets on the undamaged base (a control,
  // seed < 0), e.g. EPERM from an operation the module does not have, which damage does not cause
  const controls = new Map(all.filter((r) => r.seed < 0).map((r) => [r.base, r]));
  for (const r of all) {
    const control = r.seed < 0 ? undefined : controls.get(r.base);
    for (const [what, errnos] of [["walk", r.walkErrnos], ["write", r.writeErrnos]] as const) {
      const ok = new Set([
        ...ALLOWED_ERRNOS,
        ...Object.keys((what === "walk" ? control?.walkErrnos : control?.writeErrnos) ?? {}),
        ...(r.seed < 0 ? MISSING_OPERATION_ERRNOS : []),
      ]);
      for (const [name, n] of Object.entries(errnos)) {
        if (!ok.has(name)) r.failures.push(`${what} gave ${name} (${n}x)`);
      }
    }
  }
  return all;
}

/** Errnos of an operation a filesystem does not implement, allowed on the undamaged controls only. */
export const MISSING_OPERATION_ERRNOS = ["EPERM", "EACCES", "EOPNOTSUPP", "ENOTTY"];

/** Totals of a list of results. */
export function countResults(rs: ImageResult[]): FuzzCounts {
  return {
    images: rs.length,
    refused: rs.filter((r) => r.refused).length,
    walked: rs.filter((r) => r.walked).length,
    written: rs.filter((r) => r.written).length,
    rwRefused: rs.filter((r) => r.rwRefused).length,
    hung: rs.filter((r) => r.hung).length,
    oopses: rs.filter((r) => r.crashed).length,
    failed: rs.filter((r) => r.failures.length).length,
  };
}

/** One line: "N images: N refused, N walked, N written, N rw refused, N hung, N oopses". */
export function formatCounts(c: FuzzCounts): string {
  return `${c.images} images: ${c.refused} refused, ${c.walked} walked, ${c.written} written, ` +
    `${c.rwRefused} rw refused, ${c.hung} hung, ${c.oopses} oopses, ${c.failed} failed`;
}

/**
 * Runs `opts.seeds` damaged images of `opts.base` in one VM boot.
 * @returns per-image results and the VM's result (whose `ok` also covers crashes anywhere in the log)
 */
export async function runFuzzVm(
  opts: FuzzVmOptions,
): Promise<{ images: ImageResult[]; controls: ImageResult[]; vm: VmResult }> {
  const bs = opts.bases[0].blockSize;
  if (opts.bases.some((b) => b.blockSize !== bs)) throw new Error("runFuzzVm: the bases differ in block size");
  const patches: Uint8Array[] = [];
  const lines: string[] = [];
  const cases = new Map<number, CaseInfo>();
  for (const [bi, b] of opts.bases.entries()) {
    // the control: the undamaged base, under the seed -2 - 2 * its index (even: mounted
    // read-only, walked, remounted read-write, written)
    const seed = -2 - 2 * bi;
    cases.set(seed, { seed, base: b.name, damage: "none (control)", recomputed: false });
    lines.push(`fz ${seed} ${bi} ${opts.mountOptions?.(0) || "-"}`);
  }
  for (const seed of opts.seeds) {
    if (seed < 0) throw new Error(`runFuzzVm: seed ${seed} < 0 (negative seeds are the controls)`);
    const bi = Math.floor(seed / 2) % opts.bases.length;
    const base = opts.bases[bi];
    const c = fuzzImage(base, seed);
    cases.set(seed, { seed, base: c.base, damage: c.damage, recomputed: c.recomputed });
    const pairs = changedBlocks(base.bytes, c.bytes, bs).map((b) => {
      patches.push(c.bytes.subarray(b * bs, (b + 1) * bs));
      return `${b}:${patches.length - 1}`;
    });
    lines.push(`fz ${seed} ${bi} ${opts.mountOptions?.(seed) || "-"} ${pairs.join(" ")}`);
  }
  const dir = await Deno.makeTempDir({ prefix: "vexfs-fuzz-" });
  try {
    const disks: string[] = [];
    for (const [i, b] of opts.bases.entries()) {
      disks.push(`${dir}/base${i}.img`);
      await Deno.writeFile(disks[i], b.bytes);
    }
    const pd = new Uint8Array(Math.max(1, Math.ceil((patches.length * bs) / 512)) * 512);
    patches.forEach((p, i) => pd.set(p, i * bs));
    disks.push(`${dir}/patches.img`);
    await Deno.writeFile(disks[disks.length - 1], pd);
    const conf = `FZ_BS=${bs}\nFZ_RW=${opts.rw === false ? 0 : 1}\n` +
      `FZ_WATCHDOG=${opts.perImageSeconds ?? 60}\nFZ_BASES=${opts.bases.length}\n` +
      `FZ_PATCHES=/dev/vd${"abcdefgh"[opts.bases.length]}\n`;
    const vm = await runInVm({
      kernel: opts.kernel,
      disks,
      modules: [opts.ko],
      files: {
        "/bin/vmtool": await staticTool("vmtool.c"),
        "/fuzz-conf.sh": conf,
        "/fuzz-list.sh": lines.join("\n") + "\n",
      },
      script: SCRIPT,
      timeoutMs: opts.timeoutMs ?? 30_000 + 20_000 * opts.seeds.length,
    });
    const all = parseFuzzLog(vm.log, cases);
    return { images: all.filter((r) => r.seed >= 0), controls: all.filter((r) => r.seed < 0), vm };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Mount options for the fuzz: once the module parses `errors=`, seeds alternate
 * in pairs between `errors=continue` (a write goes on after the damage is
 * met, which reaches the most code) and `errors=remount-ro`, so that a
 * damaged superblock's `errors` field (panic, §3.2) never decides; before,
 * none.
 */
export function fuzzMountOptions(): (seed: number) => string {
  const dir = new URL("../../kernel/", import.meta.url).pathname;
  let src = "";
  for (const e of Deno.readDirSync(dir)) if (e.name.endsWith(".c")) src += Deno.readTextFileSync(dir + e.name);
  if (!/"errors"/.test(src)) return () => "";
  return (seed) => (seed % 4 < 2 ? "errors=continue" : "errors=remount-ro");
}
