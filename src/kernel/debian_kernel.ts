/**
 * Debian's kernel packages for the QEMU harness (`src/kernel/qemu.ts`): which ones to
 * test, and their vmlinuz and modules unpacked in a cache.
 *
 * - `resolveKernel` picks the newest `linux-image-6.1.0-N-amd64` (or
 *   `linux-image-6.12.M+deb12-amd64`) for which `linux-headers-` of the same N/M is
 *   also in the apt lists, so that a module built against those headers loads in the
 *   kernel booted (`apt-cache pkgnames`; nothing is hard-coded).
 * - `prepareKernel` downloads the image package with `apt-get download` into the
 *   cache, unpacks it, runs `depmod -b` on the unpacked tree (the package ships no
 *   modules.dep; depmod makes the one the installed kernel would have), and keeps
 *   vmlinuz and the dependency closure of `HARNESS_MODULES`, decompressed, under
 *   `<cache>/kernels/<package>_<version>_v<layout>/`; the rest is deleted.
 *
 * Cache: `$VEXFS_TEST_CACHE`, else `$XDG_CACHE_HOME/vexfs-test`, else
 * `/var/cache/vexfs-test` for root and `~/.cache/vexfs-test` otherwise.
 * Needs apt, dpkg, kmod (depmod) and xz-utils, all on every Debian system.
 */

/** The two kernel series the module supports: bookworm's and bookworm-security's. */
export type KernelSeries = "6.1" | "6.12";

/** Modules (names as in /proc/modules) the cache keeps for each kernel, with their dependencies. */
export const HARNESS_MODULES = [
  "virtio_pci",
  "virtio_blk",
  "crc32c_generic",
  "libcrc32c",
  "ext4",
  "jbd2",
  "mbcache",
  "dm_mod",
  "dm_log_writes",
  "loop",
  "fuse",
];

/** The Debian packages of one kernel: the image to boot and the headers a module is built with. */
export interface KernelPackages {
  series: KernelSeries;
  /** `uname -r` of the kernel, e.g. "6.1.0-57-amd64" or "6.12.118+deb12-amd64". */
  release: string;
  /** e.g. "linux-image-6.1.0-57-amd64". */
  imagePackage: string;
  /** e.g. "linux-headers-6.1.0-57-amd64". */
  headersPackage: string;
}

/** A kernel unpacked in the cache. */
export interface PreparedKernel extends KernelPackages {
  /** Debian version of the image package, e.g. "6.1.192-3". */
  version: string;
  /** The cache directory of this package version. */
  dir: string;
  vmlinuz: string;
  /** The same kernel uncompressed (ELF, booted through PVH, faster under TCG), or null when not extracted. */
  vmlinux: string | null;
  /** Module name → path of its uncompressed .ko in the cache. */
  modules: Map<string, string>;
  /** Module name → the modules to load first, in load order (from modules.dep). */
  deps: Map<string, string[]>;
  /** Modules built into the kernel (from modules.builtin), which need no loading. */
  builtin: Set<string>;
}

/** Where large derived files (kernels, modules) are kept; never inside the repository. */
export function cacheDir(): string {
  const env = Deno.env.get("VEXFS_TEST_CACHE");
  if (env) return env;
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  if (xdg) return `${xdg}/vexfs-test`;
  if (Deno.uid() === 0) return "/var/cache/vexfs-test";
  return `${Deno.env.get("HOME") ?? "/tmp"}/.cache/vexfs-test`;
}

async function run(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<string> {
  let out;
  try {
    out = await new Deno.Command(cmd, { args, cwd: opts.cwd, stdout: "piped", stderr: "piped" }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(`${cmd} is not installed (run 'bash scripts/bootstrap.sh test' or apt-get install it)`);
    }
    throw e;
  }
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim();
    throw new Error(`${cmd} ${args.join(" ")} failed (exit ${out.code}): ${err}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** The package-name patterns of a series; group 1 is N (6.1) or M (6.12). */
function patterns(series: KernelSeries): { image: RegExp; headers: RegExp; release: (n: string) => string } {
  if (series === "6.1") {
    return {
      image: /^linux-image-6\.1\.0-(\d+)-amd64$/,
      headers: /^linux-headers-6\.1\.0-(\d+)-amd64$/,
      release: (n) => `6.1.0-${n}-amd64`,
    };
  }
  return {
    image: /^linux-image-6\.12\.(\d+)\+deb12-amd64$/,
    headers: /^linux-headers-6\.12\.(\d+)\+deb12-amd64$/,
    release: (n) => `6.12.${n}+deb12-amd64`,
  };
}

/**
 * Picks the kernel of a series to test: the newest N (6.1.0-N) or M (6.12.M+deb12)
 * for which both the image and the headers package are in the apt lists. Pure over
 * the list of package names given (see `resolveKernel` for the apt query).
 *
 * @throws Error when no N/M has both packages.
 */
export function pickKernel(series: KernelSeries, packageNames: string[]): KernelPackages {
  const p = patterns(series);
  const images = new Set<number>();
  const headers = new Set<number>();
  for (const name of packageNames) {
    const i = p.image.exec(name);
    if (i) images.add(Number(i[1]));
    const h = p.headers.exec(name);
    if (h) headers.add(Number(h[1]));
  }
  const both = [...images].filter((n) => headers.has(n)).sort((a, b) => b - a);
  if (!both.length) {
    throw new Error(
      `no Debian kernel ${series} with both linux-image and linux-headers packages in the apt lists ` +
        `(images: ${[...images].sort((a, b) => a - b).join(", ") || "none"}; headers: ` +
        `${[...headers].sort((a, b) => a - b).join(", ") || "none"}); run 'apt-get update'` +
        (series === "6.12" ? " with bookworm-security in the sources" : ""),
    );
  }
  const release = p.release(String(both[0]));
  return { series, release, imagePackage: `linux-image-${release}`, headersPackage: `linux-headers-${release}` };
}

/** `pickKernel` over the apt lists of this machine (`apt-cache pkgnames`). */
export async function resolveKernel(series: KernelSeries): Promise<KernelPackages> {
  const names = [
    ...(await run("apt-cache", ["pkgnames", "linux-image-6."])).split("\n"),
    ...(await run("apt-cache", ["pkgnames", "linux-headers-6."])).split("\n"),
  ];
  return pickKernel(series, names);
}

/** Module name as the kernel spells it: file name without .ko[.xz|.zst|.gz], dashes as underscores. */
export function moduleName(path: string): string {
  return path.replace(/^.*\//, "").replace(/\.ko(\.(xz|zst|gz))?$/, "").replaceAll("-", "_");
}

/**
 * Parses modules.dep ("kernel/a/x.ko.xz: kernel/b/y.ko.xz kernel/c/z.ko.xz") into
 * module name → { path, deps }. depmod lists a module's dependencies so that loading
 * them from last to first works (the order modprobe uses).
 */
export function parseModulesDep(text: string): Map<string, { path: string; deps: string[] }> {
  const out = new Map<string, { path: string; deps: string[] }>();
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const path = line.slice(0, colon).trim();
    const deps = line.slice(colon + 1).trim().split(/\s+/).filter(Boolean).map(moduleName);
    out.set(moduleName(path), { path, deps });
  }
  return out;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

const CACHE_LAYOUT = "3"; // bump when what a kernel cache directory holds changes

/**
 * Makes sure the image package of `series` is unpacked in the cache and returns where
 * things are. The first call for a package version downloads (~70–110 MB) and unpacks
 * it (a few seconds); later calls read `kernel.json` only. Safe against concurrent
 * callers: the directory is built under a temporary name and renamed into place.
 *
 * @throws Error when apt-get, dpkg-deb or depmod fail (message has their stderr), or a
 *   module of `HARNESS_MODULES` is neither in the package nor built in.
 */
export async function prepareKernel(series: KernelSeries): Promise<PreparedKernel> {
  const pkgs = await resolveKernel(series);
  const show = await run("apt-cache", ["show", "--no-all-versions", pkgs.imagePackage]);
  const version = /^Version: (.+)$/m.exec(show)?.[1];
  if (!version) throw new Error(`apt-cache show ${pkgs.imagePackage}: no Version field`);
  const root = `${cacheDir()}/kernels`;
  const dir = `${root}/${pkgs.imagePackage}_${version.replaceAll(/[^A-Za-z0-9.+_-]/g, "_")}_v${CACHE_LAYOUT}`;
  if (!(await exists(`${dir}/kernel.json`))) await unpackKernel(pkgs, version, root, dir);
  const meta = JSON.parse(await Deno.readTextFile(`${dir}/kernel.json`)) as {
    release: string;
    deps: Record<string, string[]>;
    builtin: string[];
  };
  if (meta.release !== pkgs.release) throw new Error(`${dir}/kernel.json is for ${meta.release}, not ${pkgs.release}`);
  const modules = new Map<string, string>();
  for (const name of Object.keys(meta.deps)) modules.set(name, `${dir}/modules/${name}.ko`);
  return {
    ...pkgs,
    version,
    dir,
    vmlinuz: `${dir}/vmlinuz`,
    vmlinux: (await exists(`${dir}/vmlinux`)) ? `${dir}/vmlinux` : null,
    modules,
    deps: new Map(Object.entries(meta.deps)),
    builtin: new Set(meta.builtin),
  };
}

async function unpackKernel(pkgs: KernelPackages, version: string, root: string, dir: string): Promise<void> {
  await Deno.mkdir(root, { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: root, prefix: ".unpack-" });
  try {
    // apt drops privileges to _apt for downloads; let it write into the directory.
    await Deno.chmod(tmp, 0o777);
    await run("apt-get", ["download", "-q", `${pkgs.imagePackage}=${version}`], { cwd: tmp });
    const deb = [...Deno.readDirSync(tmp)].find((e) => e.name.endsWith(".deb"));
    if (!deb) throw new Error(`apt-get download ${pkgs.imagePackage} left no .deb in ${tmp}`);
    const tree = `${tmp}/tree`;
    await run("dpkg-deb", ["-x", `${tmp}/${deb.name}`, tree]);
    await Deno.remove(`${tmp}/${deb.name}`);
    const modRoot = `${tree}/lib/modules/${pkgs.release}`;
    if (!(await exists(modRoot))) throw new Error(`${pkgs.imagePackage} has no lib/modules/${pkgs.release}`);
    await run("depmod", ["-b", tree, pkgs.release]);
    const all = parseModulesDep(await Deno.readTextFile(`${modRoot}/modules.dep`));
    const builtin = new Set(
      (await Deno.readTextFile(`${modRoot}/modules.builtin`)).split("\n").filter(Boolean).map(moduleName),
    );
    const deps: Record<string, string[]> = {};
    const keep = new Set<string>();
    for (const name of HARNESS_MODULES) {
      if (builtin.has(name)) continue;
      const m = all.get(name);
      if (!m) throw new Error(`${pkgs.imagePackage}: module ${name} is neither built in nor in modules.dep`);
      deps[name] = [...m.deps].reverse();
      keep.add(name);
      for (const d of m.deps) keep.add(d);
    }
    for (const name of keep) deps[name] ??= [...all.get(name)!.deps].reverse();
    const out = `${tmp}/out`;
    await Deno.mkdir(`${out}/modules`, { recursive: true });
    for (const name of keep) {
      const src = `${modRoot}/${all.get(name)!.path}`;
      const dst = `${out}/modules/${name}.ko`;
      if (src.endsWith(".ko")) await Deno.copyFile(src, dst);
      else if (src.endsWith(".ko.xz")) await decompress("xz", src, dst);
      else if (src.endsWith(".ko.zst")) await decompress("zstd", src, dst);
      else throw new Error(`unknown module compression: ${src}`);
    }
    await Deno.copyFile(`${tree}/boot/vmlinuz-${pkgs.release}`, `${out}/vmlinuz`);
    const config = await Deno.readTextFile(`${tree}/boot/config-${pkgs.release}`);
    const vmlinux = /^CONFIG_PVH=y$/m.test(config) ? await extractVmlinux(await Deno.readFile(`${out}/vmlinuz`)) : null;
    if (vmlinux) await Deno.writeFile(`${out}/vmlinux`, vmlinux);
    await Deno.writeTextFile(
      `${out}/kernel.json`,
      JSON.stringify({ release: pkgs.release, version, deps, builtin: [...builtin].sort() }, null, 1) + "\n",
    );
    try {
      await Deno.rename(out, dir);
    } catch (e) {
      // Another process finished first: its copy is as good as ours.
      if (!(await exists(`${dir}/kernel.json`))) throw e;
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

/**
 * The uncompressed kernel (ELF vmlinux) inside a bzImage, or null when it cannot be had.
 *
 * Why: under TCG the kernel's own decompressor is slow (about 2 s of a 4–6 s boot for
 * Debian's xz- and zstd-compressed kernels); QEMU boots an ELF vmlinux directly through
 * its PVH entry point (a kernel built with CONFIG_PVH, as Debian's are), skipping it.
 * Where the payload is (Documentation/arch/x86/boot.rst): the protected-mode part starts
 * at (setup_sects + 1) * 512 (setup_sects at 0x1f1, 0 meaning 4); payload_offset (0x248)
 * and payload_length (0x24c) locate the compressed kernel within it, whose last 4 bytes
 * are the uncompressed size, little-endian (Kbuild's size_append).
 */
export async function extractVmlinux(bz: Uint8Array): Promise<Uint8Array | null> {
  if (bz.length < 0x250) return null;
  const v = new DataView(bz.buffer, bz.byteOffset, bz.byteLength);
  if (v.getUint32(0x202, true) !== 0x53726448) return null; // "HdrS"
  const pm = ((bz[0x1f1] || 4) + 1) * 512;
  const off = pm + v.getUint32(0x248, true);
  const len = v.getUint32(0x24c, true);
  if (len < 8 || off + len > bz.length) return null;
  const payload = bz.subarray(off, off + len - 4);
  const size = v.getUint32(off + len - 4, true);
  const tool = payload[0] === 0xfd && payload[1] === 0x37
    ? "xz" // "\xfd7zXZ"
    : v.getUint32(off, true) === 0xfd2fb528
    ? "zstd"
    : payload[0] === 0x1f && payload[1] === 0x8b
    ? "gzip"
    : null;
  if (!tool) return null;
  let child;
  try {
    child = new Deno.Command(tool, { args: ["-dc"], stdin: "piped", stdout: "piped", stderr: "null" }).spawn();
  } catch {
    return null; // the decompressor is not installed: boot the bzImage
  }
  const w = child.stdin.getWriter();
  const [out] = await Promise.all([child.output(), w.write(payload).then(() => w.close())]);
  const elf = out.stdout;
  if (!out.success || elf.length !== size || elf[0] !== 0x7f || elf[1] !== 0x45) return null;
  return elf;
}

async function decompress(tool: string, src: string, dst: string): Promise<void> {
  const out = await new Deno.Command(tool, { args: ["-dc", src], stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`${tool} -dc ${src}: ${new TextDecoder().decode(out.stderr).trim()}`);
  await Deno.writeFile(dst, out.stdout);
}
