/**
 * Helpers for tests that run the VexFS kernel module in the QEMU harness (`qemu.ts`):
 * building `vexfs.ko` for the exact kernel a test boots.
 *
 * The headers used are those of the same N/M as the image booted (`resolveKernel`
 * pairs them), from `/usr/src/linux-headers-RELEASE` (the Debian package
 * `linux-headers-RELEASE`). The build is `vexfs build --kernel-dir DIR --json` once the
 * program has that command (src/kernel/build.ts present), else the kbuild command of
 * kernel/Makefile (`make -C DIR M=COPY modules W=1`) on a copy of kernel/.
 * @module
 */

import { type KernelSeries, resolveKernel } from "./debian_kernel.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

/** Whether qemu-system-x86_64 runs here. */
export function hasQemu(): boolean {
  try {
    return new Deno.Command("qemu-system-x86_64", { args: ["--version"], stdout: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

/**
 * The kernel-headers directory (`/usr/src/linux-headers-RELEASE`) to build the
 * module for the `series` kernel the harness boots, or null when a VM test
 * named `test` cannot run here: no QEMU or no headers. Prints why and what to
 * install (`scripts/bootstrap.sh test` installs both).
 *
 * ```ts
 * const kdir = await vmTestKernelDir("module_rw_test", "6.12");
 * if (!kdir) return; // skipped, with a message
 * ```
 */
export async function vmTestKernelDir(test: string, series: KernelSeries): Promise<string | null> {
  if (!hasQemu()) {
    console.warn(`${test}: qemu-system-x86_64 missing, skipped (scripts/bootstrap.sh test installs it)`);
    return null;
  }
  const k = await resolveKernel(series);
  const kdir = `/usr/src/linux-headers-${k.release}`;
  try {
    Deno.statSync(`${kdir}/Makefile`);
  } catch {
    console.warn(`${test}: ${kdir} missing, skipped (apt-get install ${k.headersPackage})`);
    return null;
  }
  return kdir;
}

/** Whether the module's C sources are in this checkout (kernel/Kbuild and its .c files). */
export function moduleSourcesPresent(): boolean {
  try {
    Deno.statSync(`${ROOT}/kernel/Kbuild`);
    return [...Deno.readDirSync(`${ROOT}/kernel`)].some((e) => e.name.endsWith(".c"));
  } catch {
    return false;
  }
}

/** The module's sources: kernel/ file name → text (for tests that adapt to what the module does). */
export function moduleSource(name: string): string {
  return Deno.readTextFileSync(`${ROOT}/kernel/${name}`);
}

/** A built module and how it was built. */
export interface BuiltModule {
  ko: string;
  release: string;
  via: "vexfs build" | "make";
  /** Compiler warnings seen (W=1); empty for a clean build. */
  warnings: string[];
  /** Removes what the build left in a temporary directory (nothing for a cached `vexfs build`). */
  dispose(): Promise<void>;
}

/**
 * Builds vexfs.ko for the kernel of `series` that the harness boots.
 *
 * @throws Error when the headers package is not installed (the message names it) or
 *   the build fails (with the compiler's output).
 */
export async function buildModuleFor(series: KernelSeries): Promise<BuiltModule> {
  const pkgs = await resolveKernel(series);
  const kdir = `/usr/src/${pkgs.headersPackage}`;
  try {
    Deno.statSync(`${kdir}/Makefile`);
  } catch {
    throw new Error(`${kdir} is missing: apt-get install ${pkgs.headersPackage} (scripts/bootstrap.sh test does)`);
  }
  const dec = new TextDecoder();
  let hasBuild = true;
  try {
    Deno.statSync(`${ROOT}/src/kernel/build.ts`);
  } catch {
    hasBuild = false;
  }
  if (hasBuild) {
    const o = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}/main.ts`, "build", "--kernel-dir", kdir, "--json"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = dec.decode(o.stdout);
    if (!o.success) throw new Error(`vexfs build --kernel-dir ${kdir} failed: ${dec.decode(o.stderr)}${out}`);
    const j = JSON.parse(out);
    return {
      ko: j.ko,
      release: pkgs.release,
      via: "vexfs build",
      warnings: j.warnings ?? [],
      dispose: () => Promise.resolve(),
    };
  }
  const dir = await Deno.makeTempDir({ prefix: `vexfs-ko-${pkgs.release}-` });
  for (const e of Deno.readDirSync(`${ROOT}/kernel`)) {
    if (e.isFile && (/\.[ch]$/.test(e.name) || e.name === "Kbuild" || e.name === "Makefile")) {
      await Deno.copyFile(`${ROOT}/kernel/${e.name}`, `${dir}/${e.name}`);
    }
  }
  const o = await new Deno.Command("make", {
    args: ["-C", kdir, `M=${dir}`, "modules", "W=1"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const log = dec.decode(o.stdout) + dec.decode(o.stderr);
  const dispose = () => Deno.remove(dir, { recursive: true });
  if (!o.success) {
    await dispose();
    throw new Error(`make -C ${kdir} M=${dir} modules failed:\n${log}`);
  }
  const warnings = log.split("\n").filter((l) => /\bwarning:/.test(l));
  return { ko: `${dir}/vexfs.ko`, release: pkgs.release, via: "make", warnings, dispose };
}
