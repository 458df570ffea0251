/**
 * Building the VexFS kernel module (`vexfs build`): the module's C sources
 * are part of the program (the `kernel/` directory next to main.ts; `deno
 * compile --include kernel` embeds it), are written to a directory and built
 * with kbuild (`make -C KDIR M=DIR modules W=1`) against a kernel's headers,
 * then optionally installed (`modules_install`, `depmod`) and loaded.
 *
 * Every precondition is checked first, with the fix in the message: the
 * headers (with the exact Debian package), make, the compiler the headers
 * were made with, and the kernel version (6.1 or later).
 * @module
 */
import { crc32c } from "../format/crc.ts";

/** The oldest kernel the module supports (kernel/compat.h). */
export const MIN_KERNEL: readonly [number, number] = [6, 1];
/** The newest kernel line the module is tested against. */
export const MAX_TESTED_KERNEL: readonly [number, number] = [6, 12];

/** A build that cannot start or that failed; the message says what to do. */
export class KernelBuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KernelBuildError";
  }
}

/** What {@linkcode buildModule} does. */
export interface BuildOptions {
  /** where the sources are written and built (default: a cache directory keyed by kernel and sources) */
  out?: string;
  /** kernel build directory (headers); default `/lib/modules/$(uname -r)/build` */
  kernelDir?: string;
  /** run `make modules_install` and `depmod` after the build */
  install?: boolean;
  /** load the module (modprobe after --install, else insmod) */
  load?: boolean;
}

/** What a build did. */
export interface BuildResult {
  /** absolute path of the built vexfs.ko */
  ko: string;
  /** the directory holding the sources and the build */
  dir: string;
  /** the kernel build directory used */
  kernelDir: string;
  /** the release the module is for (`6.1.0-57-amd64`), from the headers */
  kernelRelease: string;
  /** the kernel version, e.g. `6.1` */
  kernelVersion: string;
  /** compiler warnings (W=1): empty for a clean build */
  warnings: string[];
  /** wall time of the make run, milliseconds */
  buildMs: number;
  /** where modules_install put the module, null without `install` */
  installed: string | null;
  /** whether the module was loaded by this run */
  loaded: boolean;
}

/** The kernel/ directory of this program (also inside a `deno compile` binary). */
export function kernelSourceDir(): string {
  return new URL("../../kernel/", import.meta.url).pathname;
}

/** The module's source files (name → bytes): the .c and .h files, Kbuild and Makefile of kernel/. */
export function kernelSources(): Map<string, Uint8Array> {
  const dir = kernelSourceDir();
  const out = new Map<string, Uint8Array>();
  let names: string[];
  try {
    names = [...Deno.readDirSync(dir)].filter((e) => e.isFile).map((e) => e.name).sort();
  } catch (e) {
    throw new KernelBuildError(
      `the module's sources are missing from this program (${dir}: ${(e as Error).message}); ` +
        `a compiled vexfs must be built with 'deno task compile', which includes kernel/`,
    );
  }
  for (const n of names) {
    if (/\.(c|h)$/.test(n) || n === "Kbuild" || n === "Makefile") out.set(n, Deno.readFileSync(dir + n));
  }
  if (!out.has("Kbuild") || !out.has("super.c")) {
    throw new KernelBuildError(`the module's sources in ${dir} are incomplete (no Kbuild or super.c)`);
  }
  return out;
}

/** Reads a text file, or null when it does not exist. */
function readText(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return null;
    throw e;
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

async function run(
  cmd: string,
  args: string[],
  env?: Record<string, string>,
): Promise<{ code: number; out: string }> {
  try {
    const r = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
    const dec = new TextDecoder();
    return { code: r.code, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { code: 127, out: `${cmd}: not found` };
    throw e;
  }
}

/** Whether a program is on PATH. */
async function onPath(cmd: string): Promise<boolean> {
  return (await run("sh", ["-c", `command -v '${cmd.replace(/'/g, "")}'`])).code === 0;
}

/** Facts about a kernel build directory, read from its generated headers. */
export interface KernelInfo {
  dir: string;
  /** UTS_RELEASE, e.g. `6.12.118+deb12-amd64` */
  release: string;
  major: number;
  minor: number;
  /** the compiler the kernel was configured with (first word of CONFIG_CC_VERSION_TEXT), or null */
  compiler: string | null;
}

/**
 * Reads release, version and compiler of a kernel build directory.
 * @throws KernelBuildError when the directory is not a configured kernel build tree
 */
export function kernelInfo(dir: string): KernelInfo {
  const uts = readText(`${dir}/include/generated/utsrelease.h`);
  const ver = readText(`${dir}/include/generated/uapi/linux/version.h`);
  if (!exists(`${dir}/Makefile`) || uts === null || ver === null) {
    throw new KernelBuildError(
      `${dir} is not a prepared kernel build directory (no Makefile or include/generated headers): ` +
        `give the headers of the kernel to build for, e.g. --kernel-dir /usr/src/linux-headers-VERSION ` +
        `(apt-get install linux-headers-VERSION)`,
    );
  }
  const release = /UTS_RELEASE\s+"([^"]+)"/.exec(uts)?.[1];
  const code = /LINUX_VERSION_CODE\s+(\d+)/.exec(ver)?.[1];
  if (!release || !code) throw new KernelBuildError(`${dir}: cannot read the kernel release and version`);
  const auto = readText(`${dir}/include/config/auto.conf`) ?? "";
  const cc = /^CONFIG_CC_VERSION_TEXT="?(\S+)/m.exec(auto)?.[1] ?? null;
  return { dir, release, major: Number(code) >> 16, minor: (Number(code) >> 8) & 0xff, compiler: cc };
}

/** The Debian package holding a compiler command (`x86_64-linux-gnu-gcc-12` → `gcc-12`). */
export function compilerPackage(cc: string): string {
  return cc.replace(/^[a-z0-9_]+-linux-gnu-/, "");
}

/** Whether apt knows a package (false when apt-cache is missing). */
async function aptHas(pkg: string): Promise<boolean> {
  const r = await run("apt-cache", ["show", "--no-all-versions", pkg]);
  return r.code === 0 && /^Package:/m.test(r.out);
}

/**
 * The kernel build directory to use: `dir`, or the running kernel's
 * `/lib/modules/RELEASE/build`, with a message naming the package when the
 * headers are missing.
 */
export async function resolveKernelDir(dir: string | undefined): Promise<KernelInfo> {
  if (dir !== undefined) {
    if (!exists(dir)) {
      throw new KernelBuildError(
        `kernel directory ${dir} does not exist: give the headers of the kernel to build for, ` +
          `e.g. --kernel-dir /usr/src/linux-headers-VERSION`,
      );
    }
    return kernelInfo(dir);
  }
  const release = Deno.osRelease();
  const build = `/lib/modules/${release}/build`;
  if (!exists(`${build}/Makefile`)) {
    const pkg = `linux-headers-${release}`;
    if (await aptHas(pkg)) {
      throw new KernelBuildError(
        `no headers for the running kernel ${release} (${build} is missing): install them with ` +
          `'apt-get install ${pkg}', or build for another kernel with --kernel-dir DIR`,
      );
    }
    throw new KernelBuildError(
      `no headers for the running kernel ${release} (${build} is missing), and no package ${pkg} exists ` +
        `(not a Debian kernel): build for a Debian kernel with --kernel-dir /usr/src/linux-headers-VERSION ` +
        `(e.g. 'apt-get install linux-headers-amd64'), or install this kernel's headers from its vendor`,
    );
  }
  return kernelInfo(build);
}

/** The default build directory: a cache keyed by kernel release and sources. */
export function defaultBuildDir(release: string, sources: Map<string, Uint8Array>): string {
  const home = Deno.env.get("HOME") ?? "/root";
  const cache = Deno.env.get("XDG_CACHE_HOME") || `${home}/.cache`;
  let crc = 0;
  for (const [name, bytes] of sources) {
    crc = crc32c(new TextEncoder().encode(name), crc);
    crc = crc32c(bytes, crc);
  }
  return `${cache}/vexfs/module/${release}-${crc.toString(16).padStart(8, "0")}`;
}

/** The compiler warnings in kbuild's output (`file:line:col: warning: ...` and modpost's `WARNING:`). */
export function warningsOf(output: string): string[] {
  return output.split("\n").filter((l) => /\bwarning:|^WARNING:/i.test(l));
}

function lastLines(s: string, n: number): string {
  return s.trimEnd().split("\n").slice(-n).join("\n");
}

/**
 * Writes the sources and builds vexfs.ko; then installs and loads it when asked.
 * @throws KernelBuildError naming the fix: missing headers (with the apt
 *   package), make or the kernel's compiler missing, a kernel older than 6.1,
 *   a failed compile (with the compiler's last lines), a module for another
 *   kernel than the running one asked to load
 */
export async function buildModule(opts: BuildOptions = {}): Promise<BuildResult> {
  const sources = kernelSources();
  const k = await resolveKernelDir(opts.kernelDir);
  if (k.major < MIN_KERNEL[0] || (k.major === MIN_KERNEL[0] && k.minor < MIN_KERNEL[1])) {
    throw new KernelBuildError(
      `kernel ${k.release} (${k.major}.${k.minor}) is older than ${MIN_KERNEL.join(".")}, ` +
        `the oldest VexFS supports: use a newer kernel, or 'vexfs mount' (FUSE)`,
    );
  }
  if (!(await onPath("make"))) {
    throw new KernelBuildError("make is not installed: apt-get install make");
  }
  if (k.compiler && !(await onPath(k.compiler))) {
    throw new KernelBuildError(
      `the compiler the kernel headers in ${k.dir} were made with, ${k.compiler}, is not installed: ` +
        `apt-get install ${compilerPackage(k.compiler)}`,
    );
  }
  if (opts.load && k.release !== Deno.osRelease()) {
    throw new KernelBuildError(
      `--load: the module would be built for kernel ${k.release} but this machine runs ${Deno.osRelease()}: ` +
        `it can be loaded only on a ${k.release} kernel (build without --load and insmod vexfs.ko there)`,
    );
  }
  const dir = opts.out ?? defaultBuildDir(k.release, sources);
  Deno.mkdirSync(dir, { recursive: true });
  const abs = Deno.realPathSync(dir);
  // Builds of one directory take turns (tests build the cached directory side by side:
  // two makes in one tree race on its objects), and a source is written only when it
  // changed, so that an unchanged tree is not rebuilt.
  const lock = await Deno.open(`${abs}/.vexfs-build.lock`, { create: true, write: true });
  let make, buildMs;
  try {
    await lock.lock(true);
    for (const [name, bytes] of sources) {
      let same = false;
      try {
        const old = Deno.readFileSync(`${abs}/${name}`);
        same = old.length === bytes.length && old.every((b, i) => b === bytes[i]);
      } catch { /* not written yet */ }
      if (!same) Deno.writeFileSync(`${abs}/${name}`, bytes);
    }
    const t0 = performance.now();
    make = await run("make", ["-C", k.dir, `M=${abs}`, "modules", "W=1"]);
    buildMs = performance.now() - t0;
    // an up-to-date tree compiles nothing and prints no warnings: report the last compile's
    const saved = `${abs}/.vexfs-build-warnings`;
    if (/\bCC \[M\]/.test(make.out)) Deno.writeTextFileSync(saved, warningsOf(make.out).join("\n"));
    else if (make.code === 0) make.out += `\n${readText(saved) ?? ""}`;
  } finally {
    lock.close();
  }
  const ko = `${abs}/vexfs.ko`;
  if (make.code !== 0 || !exists(ko)) {
    throw new KernelBuildError(
      `building the module against ${k.dir} failed (make exit ${make.code}):\n${lastLines(make.out, 20)}`,
    );
  }
  const result: BuildResult = {
    ko,
    dir: abs,
    kernelDir: k.dir,
    kernelRelease: k.release,
    kernelVersion: `${k.major}.${k.minor}`,
    warnings: warningsOf(make.out),
    buildMs,
    installed: null,
    loaded: false,
  };
  if (opts.install) result.installed = await installModule(k, abs);
  if (opts.load) {
    await loadModule(result);
    result.loaded = true;
  }
  return result;
}

async function installModule(k: KernelInfo, dir: string): Promise<string> {
  const r = await run("make", ["-C", k.dir, `M=${dir}`, "modules_install"]);
  if (r.code !== 0) {
    throw new KernelBuildError(`make modules_install failed (exit ${r.code}):\n${lastLines(r.out, 10)}`);
  }
  const d = await run("depmod", [k.release]);
  if (d.code !== 0) throw new KernelBuildError(`depmod ${k.release} failed (exit ${d.code}): ${lastLines(d.out, 3)}`);
  const path = `/lib/modules/${k.release}/updates/vexfs.ko`;
  for (const p of [path, `/lib/modules/${k.release}/extra/vexfs.ko`]) if (exists(p)) return p;
  const found = /INSTALL\s+(\S*vexfs\.ko\S*)/.exec(r.out)?.[1];
  return found ?? `/lib/modules/${k.release}`;
}

/** Whether /proc/filesystems lists vexfs (the module is loaded). */
export function vexfsRegistered(): boolean {
  return /\tvexfs$/m.test(readText("/proc/filesystems") ?? "");
}

async function loadModule(r: BuildResult): Promise<void> {
  if (vexfsRegistered()) {
    throw new KernelBuildError("a vexfs module is already loaded: unmount its filesystems and 'rmmod vexfs' first");
  }
  if (r.installed) {
    const m = await run("modprobe", ["vexfs"]);
    if (m.code !== 0) throw new KernelBuildError(`modprobe vexfs failed: ${lastLines(m.out, 3)}`);
    return;
  }
  // insmod does not resolve dependencies: load the CRC-32C library first.
  await run("modprobe", ["-q", "libcrc32c"]);
  const i = await run("insmod", [r.ko]);
  if (i.code !== 0) throw new KernelBuildError(`insmod ${r.ko} failed: ${lastLines(i.out, 3)} (see dmesg)`);
}
