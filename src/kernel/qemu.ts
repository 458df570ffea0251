/**
 * A QEMU harness that boots Debian's own kernel packages and runs shell tests inside.
 *
 * Why Debian's kernels: the kernel module (`kernel/`, built by `vexfs build`) must work
 * on the kernels users run, bookworm's 6.1 and bookworm-security's 6.12, not on one we
 * configure ourselves. Why TCG: KVM is not usable on the machines this runs on, so every
 * guest instruction is emulated; the VM is kept minimal to boot quickly (no root
 * filesystem, no network, a few modules, `quiet`).
 *
 * One run (`runInVm`):
 * 1. `prepareKernel` (`src/kernel/debian_kernel.ts`) gives vmlinuz and modules from the
 *    cache (downloading the package the first time).
 * 2. An initramfs is written (`src/kernel/cpio.ts`): busybox-static, those modules, an
 *    `/init` that mounts proc, sys, dev and a tmpfs on /tmp, loads virtio and ext4,
 *    waits for the disks, loads the extra modules given (each reported as a test
 *    `insmod NAME`), runs the test script with the shell library `VM_TEST_LIB` sourced,
 *    prints the kernel log and powers off. It is rebuilt each run (a few MB, milliseconds).
 * 3. `qemu-system-x86_64 -accel tcg` runs it with the images as virtio disks
 *    (`/dev/vda`, `/dev/vdb`, … in order) under a timeout; the serial console is
 *    captured and parsed by `parseVmLog`: `ok NAME` / `not ok NAME` lines (TAP-like),
 *    and kernel oopses, BUGs, WARNINGs and panics anywhere in the console or the kernel
 *    log, which fail the run whatever the script said.
 *
 * Needs qemu-system-x86 and busybox-static (`scripts/bootstrap.sh test` installs them).
 */

import { type CpioEntry, encodeCpio } from "./cpio.ts";
import { type KernelSeries, moduleName, type PreparedKernel, prepareKernel } from "./debian_kernel.ts";
import { TOOLS_DIR, toolsImage } from "./tools_image.ts";

export type { KernelSeries, PreparedKernel };

/** Loaded by /init before the test script runs (skipped when built in). */
const BOOT_MODULES = ["virtio_pci", "virtio_blk", "crc32c_generic", "ext4"];

/**
 * The shell library every test script has sourced (busybox ash). Results are lines
 * `ok NAME` or `not ok NAME`, details lines starting with `# `:
 * - `t_ok NAME`, `t_fail NAME [WHY]`: report directly.
 * - `t_check NAME CMD...`: runs CMD; ok when it exits 0, else not ok with its output.
 * - `t_eq NAME WANT GOT`: ok when the two strings are equal.
 * - `modload NAME`: loads a module of the harness set with its dependencies.
 */
export const VM_TEST_LIB = `
t_ok() { echo "ok $*"; }
t_fail() { n=$1; shift; echo "not ok $n"; [ $# -gt 0 ] && echo "# $*"; return 0; }
t_check() {
	n=$1; shift
	if out=$("$@" 2>&1); then echo "ok $n"; else
		rc=$?; echo "not ok $n"; echo "# exit $rc: $*"
		printf '%s\\n' "$out" | sed 's/^/# /'
	fi
}
t_eq() {
	if [ "$2" = "$3" ]; then echo "ok $1"; else echo "not ok $1"; echo "# want: $2"; echo "# got:  $3"; fi
}
modload() {
	for _ml_m in $(cat /lib/modules/$1.deps) $1; do
		grep -q "^$_ml_m " /proc/modules && continue
		insmod /lib/modules/$_ml_m.ko || return 1
	done
}
`;

/** The /init of the VM. Configuration comes from /etc/vmtest.conf (written per run). */
const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
. /etc/vmtest.conf
. /lib/vmtest.sh
for m in $VMTEST_BOOT_MODULES; do modload $m || echo "vmtest: cannot load module $m"; done
i=0
while [ $i -lt $VMTEST_DISKS ]; do
	d=/dev/vd$(echo abcdefghijklmnop | cut -c$((i + 1)))
	n=0
	while [ ! -b $d ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
	[ -b $d ] || echo "vmtest: $d did not appear"
	i=$((i + 1))
done
if [ -n "$VMTEST_TOOLS" ]; then
	mkdir -p ${TOOLS_DIR} /lib64 /usr/bin /usr/sbin /sbin
	mount -t ext4 -o ro $VMTEST_TOOLS ${TOOLS_DIR} || echo "vmtest: cannot mount the tools image $VMTEST_TOOLS"
	ln -sf ${TOOLS_DIR}/lib/ld-linux-x86-64.so.2 /lib64/ld-linux-x86-64.so.2
	for c in mount umount tr; do ln -sf /bin/busybox /usr/bin/$c; done
	for m in $VMTEST_TOOLS_MODULES; do modload $m || echo "vmtest: cannot load module $m"; done
	export PATH=${TOOLS_DIR}/bin:/bin LD_LIBRARY_PATH=${TOOLS_DIR}/lib DENO_DIR=/tmp/.deno HOME=/tmp DENO_NO_UPDATE_CHECK=1
fi
echo "vmtest: ready $(uname -r) uptime $(cut -d' ' -f1 /proc/uptime)"
for x in $VMTEST_EXTRA; do
	ok=1 out=""
	for d in $(cat /extra/$x.deps); do modload $d || ok=0 out="cannot load $d"; done
	if [ $ok = 1 ] && out=$(insmod /extra/$x.ko 2>&1); then t_ok "insmod $x"; else t_fail "insmod $x" "$out"; fi
done
if [ -n "$VMTEST_MOUNT_ALL" ]; then
	for d in $(grep -v '^#' /etc/fstab | awk '{ print $2 }'); do mkdir -p "$d"; done
	PATH=/sbin:/usr/sbin:/usr/bin:$PATH mount -a
	echo "vmtest: mount -a exit $?"
fi
cd /tmp
sh -c '. /lib/vmtest.sh; . /test.sh'
echo "vmtest: script exit $?"
echo "vmtest: dmesg begin"
dmesg | sed 's/^/dmesg: /'
echo "vmtest: dmesg end"
sync
echo "vmtest: poweroff"
poweroff -f
`;

/** What to run in a VM. */
export interface VmOptions {
  kernel: KernelSeries;
  /** Raw images attached as /dev/vda, /dev/vdb, … in this order (read-write). */
  disks?: string[];
  /**
   * Extra kernel modules (.ko files) copied to /extra and loaded with insmod before the
   * script, after the harness modules they depend on (`modinfo -F depends`); each
   * load is reported as a test `insmod NAME`.
   */
  modules?: string[];
  /** Files put into the VM's root: absolute path → contents (mode 0755). */
  files?: Record<string, Uint8Array | string>;
  /** Shell script (busybox ash) run with `VM_TEST_LIB` sourced, in /tmp. */
  script: string;
  /** Wall-clock limit for the whole VM in ms (default 120,000); the VM is killed after it. */
  timeoutMs?: number;
  /** Memory of the VM in MiB (default 1024). */
  memoryMiB?: number;
  /**
   * Attach the tools image (`tools_image.ts`) read-only after `disks` and mount it at
   * /tools before the script: `vexfs` (the real program on the real Deno) and
   * fusermount3 are in PATH, libfuse3 loads, /dev/fuse works (module fuse loaded).
   */
  tools?: boolean;
  /**
   * After the extra modules are loaded, run `mount -a` as a boot would: /etc/fstab (give
   * it in `files`) with its mount points made, and /sbin, /usr/sbin in PATH so that
   * mount helpers (`mount.TYPE`) are found. Prints `vmtest: mount -a exit N`.
   */
  mountAll?: boolean;
}

/** What a run found. */
export interface VmResult {
  /** True when the VM finished, no test failed, the script exited 0 and the log has no crash. */
  ok: boolean;
  /** Names of the `ok NAME` lines, in order. */
  passed: string[];
  /** Names of the `not ok NAME` lines, in order. */
  failed: string[];
  /** Kernel log lines that show an oops, BUG, WARNING or panic (empty when none). */
  crashes: string[];
  /** The script's exit status, or null when the VM stopped before it ended. */
  scriptExit: number | null;
  /** True when /init reached its poweroff. */
  finished: boolean;
  /** True when the VM was killed for exceeding `timeoutMs`. */
  timedOut: boolean;
  /** `uname -r` printed by the VM, or null. */
  release: string | null;
  /** Seconds from starting QEMU until the VM was ready to run the script, or null. */
  bootSeconds: number | null;
  /** Seconds QEMU ran. */
  totalSeconds: number;
  /** The whole serial console (the kernel log follows as `dmesg: ` lines). */
  log: string;
  kernel: PreparedKernel;
}

/** Console or kernel-log lines that mean the kernel hit a bug (as syzkaller and xfstests look for them). */
const CRASH_PATTERNS = [
  /\bOops\b/,
  /\bBUG: /,
  /kernel BUG at/,
  /Kernel panic - not syncing/,
  /WARNING: CPU: \d+ PID: \d+/,
  /\bgeneral protection fault\b/,
  /\bUBSAN: /,
  /\bKASAN: /,
  /Unable to handle kernel/,
  /\bdouble fault\b/,
];

/**
 * Parses a VM's serial console. Pure: testable without QEMU.
 *
 * Test lines are `ok NAME` / `not ok NAME` at the start of a line (carriage returns
 * ignored); kernel-log lines repeated at the end (`dmesg: …`) never count as tests.
 * Crash lines are matched everywhere, so an oops that panics the VM (no dmesg dump)
 * is found on the console.
 */
export function parseVmLog(log: string): {
  passed: string[];
  failed: string[];
  crashes: string[];
  scriptExit: number | null;
  finished: boolean;
  release: string | null;
} {
  const passed: string[] = [];
  const failed: string[] = [];
  const crashes: string[] = [];
  let scriptExit: number | null = null;
  let finished = false;
  let release: string | null = null;
  for (const raw of log.split("\n")) {
    const line = raw.replaceAll("\r", "");
    if (CRASH_PATTERNS.some((p) => p.test(line))) crashes.push(line);
    if (line.startsWith("dmesg: ")) continue;
    let m;
    if ((m = /^ok (.+)$/.exec(line))) passed.push(m[1].trim());
    else if ((m = /^not ok (.+)$/.exec(line))) failed.push(m[1].trim());
    else if ((m = /^vmtest: script exit (\d+)$/.exec(line))) scriptExit = Number(m[1]);
    else if ((m = /^vmtest: ready (\S+) /.exec(line))) release = m[1];
    else if (line === "vmtest: poweroff") finished = true;
  }
  return { passed, failed, crashes, scriptExit, finished, release };
}

/** True when the ELF file at `bytes` has a PT_INTERP header (a dynamically linked program). */
function isDynamicElf(bytes: Uint8Array): boolean {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 64 || v.getUint32(0) !== 0x7f454c46 || bytes[4] !== 2) return true;
  const phoff = Number(v.getBigUint64(0x20, true));
  const phentsize = v.getUint16(0x36, true);
  const phnum = v.getUint16(0x38, true);
  for (let i = 0; i < phnum; i++) {
    if (v.getUint32(phoff + i * phentsize, true) === 3) return true;
  }
  return false;
}

async function busybox(): Promise<Uint8Array> {
  let bytes;
  try {
    bytes = await Deno.readFile("/bin/busybox");
  } catch {
    throw new Error(
      "/bin/busybox is missing: apt-get install busybox-static (or run 'bash scripts/bootstrap.sh test')",
    );
  }
  if (isDynamicElf(bytes)) {
    throw new Error("/bin/busybox is dynamically linked: apt-get install busybox-static (it replaces busybox)");
  }
  return bytes;
}

async function modinfoDepends(ko: string): Promise<string[]> {
  const out = await new Deno.Command("modinfo", { args: ["-F", "depends", ko], stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) throw new Error(`modinfo ${ko}: ${new TextDecoder().decode(out.stderr).trim()}`);
  return new TextDecoder().decode(out.stdout).trim().split(",").filter(Boolean).map(moduleName);
}

/** Builds the initramfs of one run: base system, harness modules, config, script, extra modules and files. */
async function buildInitramfs(k: PreparedKernel, opts: VmOptions): Promise<Uint8Array> {
  const enc = new TextEncoder();
  const entries: CpioEntry[] = [];
  const dirs = new Set<string>();
  const dir = (p: string) => {
    const parts = p.split("/").filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const d = parts.slice(0, i).join("/");
      if (!dirs.has(d)) dirs.add(d), entries.push({ type: "dir", path: d });
    }
  };
  for (const d of ["bin", "dev", "proc", "sys", "tmp", "mnt", "run", "etc", "lib/modules", "extra"]) dir(d);
  entries.push({ type: "char", path: "dev/console", major: 5, minor: 1 });
  entries.push({ type: "char", path: "dev/null", major: 1, minor: 3, mode: 0o666 });
  entries.push({ type: "file", path: "bin/busybox", data: await busybox(), mode: 0o755 });
  entries.push({ type: "file", path: "init", data: enc.encode(INIT), mode: 0o755 });
  entries.push({ type: "file", path: "lib/vmtest.sh", data: enc.encode(VM_TEST_LIB) });
  for (const [name, path] of k.modules) {
    entries.push({ type: "file", path: `lib/modules/${name}.ko`, data: await Deno.readFile(path) });
    entries.push({ type: "file", path: `lib/modules/${name}.deps`, data: enc.encode(k.deps.get(name)!.join(" ")) });
  }
  const extra: string[] = [];
  for (const ko of opts.modules ?? []) {
    const name = moduleName(ko);
    const deps = (await modinfoDepends(ko)).filter((d) => !k.builtin.has(d));
    const missing = deps.filter((d) => !k.modules.has(d));
    if (missing.length) {
      throw new Error(`${ko} needs modules the harness does not carry: ${missing.join(", ")} (add to HARNESS_MODULES)`);
    }
    entries.push({ type: "file", path: `extra/${name}.ko`, data: await Deno.readFile(ko) });
    entries.push({ type: "file", path: `extra/${name}.deps`, data: enc.encode(deps.join(" ")) });
    extra.push(name);
  }
  const boot = BOOT_MODULES.filter((m) => !k.builtin.has(m));
  const nDisks = (opts.disks ?? []).length;
  const conf = `VMTEST_DISKS=${nDisks + (opts.tools ? 1 : 0)}\nVMTEST_BOOT_MODULES="${boot.join(" ")}"\n` +
    `VMTEST_EXTRA="${extra.join(" ")}"\n` + (opts.mountAll ? "VMTEST_MOUNT_ALL=1\n" : "") +
    (opts.tools
      ? `VMTEST_TOOLS=/dev/vd${"abcdefghijklmnop"[nDisks]}\n` +
        `VMTEST_TOOLS_MODULES="${["fuse"].filter((m) => !k.builtin.has(m)).join(" ")}"\n`
      : "");
  entries.push({ type: "file", path: "etc/vmtest.conf", data: enc.encode(conf) });
  entries.push({ type: "file", path: "test.sh", data: enc.encode(opts.script) });
  for (const [path, data] of Object.entries(opts.files ?? {})) {
    if (!path.startsWith("/")) throw new Error(`VM file path must be absolute: ${path}`);
    dir(path.slice(0, path.lastIndexOf("/")));
    entries.push({ type: "file", path, data: typeof data === "string" ? enc.encode(data) : data, mode: 0o755 });
  }
  return encodeCpio(entries);
}

/** The qemu-system-x86_64 arguments of a run (exported for the runner script's --dry-run). */
export function qemuArgs(
  vmlinuz: string,
  initrd: string,
  disks: string[],
  memoryMiB: number,
  readOnlyDisks: string[] = [],
  cpu?: string,
): string[] {
  const args = [
    "-accel",
    "tcg",
    ...(cpu ? ["-cpu", cpu] : []),
    "-M",
    "pc",
    "-m",
    String(memoryMiB),
    "-smp",
    "1",
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-serial",
    "stdio",
    "-monitor",
    "none",
    "-no-reboot",
    "-kernel",
    vmlinuz,
    "-initrd",
    initrd,
    "-append",
    "console=ttyS0 panic=-1 quiet 8250.nr_uarts=1 i8042.noaux i8042.nokbd i8042.nopnp",
  ];
  for (const d of disks) args.push("-drive", `file=${d},if=virtio,format=raw`);
  for (const d of readOnlyDisks) args.push("-drive", `file=${d},if=virtio,format=raw,readonly=on`);
  return args;
}

/**
 * Boots `opts.kernel` in QEMU (TCG), runs `opts.script` inside and reports what it
 * printed. The disks are changed in place (the VM syncs before powering off, so what
 * it wrote is on them when this returns).
 *
 * @throws Error when the kernel cannot be prepared, QEMU or busybox-static is missing,
 *   or an extra module needs a module the harness does not carry. A VM that crashes,
 *   hangs or fails tests does not throw: see `VmResult.ok` and its fields.
 */
export async function runInVm(opts: VmOptions): Promise<VmResult> {
  const kernel = await prepareKernel(opts.kernel);
  const initrd = await Deno.makeTempFile({ prefix: "vexfs-vm-", suffix: ".cpio" });
  try {
    await Deno.writeFile(initrd, await buildInitramfs(kernel, opts));
    const ro = opts.tools ? [await toolsImage()] : [];
    // Deno's WebAssembly kernels need SSE4.1 (Wasm SIMD), which QEMU's default qemu64 CPU lacks.
    const cpu = opts.tools ? "max" : undefined;
    const args = qemuArgs(kernel.vmlinux ?? kernel.vmlinuz, initrd, opts.disks ?? [], opts.memoryMiB ?? 1024, ro, cpu);
    let child;
    try {
      child = new Deno.Command("qemu-system-x86_64", { args, stdin: "null", stdout: "piped", stderr: "piped" })
        .spawn();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new Error("qemu-system-x86_64 is not installed: apt-get install qemu-system-x86");
      }
      throw e;
    }
    const start = performance.now();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
    }, opts.timeoutMs ?? 120_000);
    let log = "";
    let bootSeconds: number | null = null;
    const dec = new TextDecoder();
    const stderr = new Response(child.stderr).text();
    try {
      for await (const chunk of child.stdout) {
        log += dec.decode(chunk, { stream: true });
        if (bootSeconds === null && log.includes("vmtest: ready ")) bootSeconds = (performance.now() - start) / 1000;
      }
      log += dec.decode();
      await child.status;
    } finally {
      clearTimeout(timer);
    }
    const totalSeconds = (performance.now() - start) / 1000;
    const err = (await stderr).trim();
    if (err) log += `\nqemu stderr: ${err}\n`;
    const p = parseVmLog(log);
    const ok = p.finished && !timedOut && p.failed.length === 0 && p.crashes.length === 0 && p.scriptExit === 0;
    return { ...p, ok, timedOut, bootSeconds, totalSeconds, log, kernel };
  } finally {
    await Deno.remove(initrd).catch(() => {});
  }
}

/** One-line summary of a result: "N passed, N failed" plus what else went wrong. */
export function summarize(r: VmResult): string {
  const extra = [];
  if (r.crashes.length) extra.push(`kernel crash: ${r.crashes[0].trim()}`);
  if (r.timedOut) extra.push("timed out");
  else if (!r.finished) extra.push("VM stopped before the script ended");
  else if (r.scriptExit !== 0) extra.push(`script exit ${r.scriptExit}`);
  return `${r.kernel.release}: ${r.passed.length} passed, ${r.failed.length} failed` +
    (extra.length ? ` (${extra.join("; ")})` : "");
}
