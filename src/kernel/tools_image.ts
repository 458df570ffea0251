/**
 * The tools image of the QEMU harness: an ext4 disk image holding this program, the
 * real Deno binary that runs it, and libfuse 3 with fusermount3, so that inside a VM
 * (`runInVm({ tools: true })`, `qemu.ts`) `vexfs mount` (FUSE), `vexfs fsck`,
 * `vexfs install` and the `mount.vexfs` helper run exactly as on the host.
 *
 * Why an image and not the initramfs: the Deno binary alone is about 110 MB; an
 * initramfs is copied into the guest's memory and unpacked at every boot (slow under
 * TCG), while a read-only virtio disk costs nothing until a file is read.
 *
 * Layout of the image (mounted read-only at {@link TOOLS_DIR} in the VM):
 * - `vexfs/`: a checkout as `vexfs install` expects one: main.ts, deno.json,
 *   package.json, src/, commands/, bench/, kernel/, docs/ (tests and test data left
 *   out), and the runtime node_modules (package-lock.json's non-dev packages;
 *   `node_modules/deno/deno` is the Deno binary itself).
 * - `bin/`: `vexfs` (a launcher, as `vexfs install` writes one), `fusermount3`, `setsid`.
 * - `lib/`: the shared libraries Deno, libfuse3 and fusermount3 load (from `ldd`),
 *   with the dynamic loader `ld-linux-x86-64.so.2`; /init links /lib64's loader to it
 *   and sets `LD_LIBRARY_PATH` (Deno's `dlopen("libfuse3.so.3")` finds it there).
 *
 * Built on the host with `mkfs.ext4 -d` (e2fsprogs) from a staging directory, and
 * cached as `<cache>/tools/tools-<key>.img` (`cacheDir()` of debian_kernel.ts), where
 * the key is the SHA-256 of every file's path, mode and contents: any change to the
 * program, Deno or the libraries makes a new image, and an unchanged tree reuses the
 * old one (hashing takes about a second; building a few). Images unused for a day are
 * removed. Safe against concurrent builders: an image is written under a temporary
 * name and renamed into place.
 * @module
 */

import { cacheDir } from "./debian_kernel.ts";

/** Where /init mounts the tools image in the VM. */
export const TOOLS_DIR = "/tools";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

/** Top-level files and directories of the checkout the image carries. */
const PROGRAM = ["main.ts", "deno.json", "package.json", "src", "commands", "bench", "kernel", "docs"];

/**
 * Programs copied into bin/ (with their libraries into lib/): fusermount3, and
 * util-linux's setsid, whose `-f` the background `vexfs mount` uses (busybox's has none).
 */
const HOST_PROGRAMS = ["/usr/bin/fusermount3", "/usr/bin/setsid"];

/** Libraries loaded with dlopen at run time (not seen by ldd of a binary), searched in the usual places. */
const DLOPEN_LIBS = ["libfuse3.so.3"];
const LIB_DIRS = ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64"];

/** One file of the image: where it goes (relative to the image root) and where it comes from. */
export interface ToolsEntry {
  /** Path inside the image, relative, e.g. "vexfs/main.ts". */
  path: string;
  /** Host file to copy, or text to write. */
  source: { file: string } | { text: string };
  mode: number;
}

/** What the program's tree contributes: files that tests and test data are not. */
export function programFile(rel: string): boolean {
  const base = rel.slice(rel.lastIndexOf("/") + 1);
  if (/_test\.ts$/.test(base) || base === "_testutil.ts" || base === "_vmtestutil.ts") return false;
  if (/(^|\/)(testdata|plots)(\/|$)/.test(rel)) return false;
  return !/\.(img|sqlite|png|svg)$/.test(base);
}

function walk(dir: string, rel: string, out: string[]): void {
  for (const e of Deno.readDirSync(dir)) {
    const r = `${rel}/${e.name}`;
    if (e.isDirectory) walk(`${dir}/${e.name}`, r, out);
    else if (e.isFile) out.push(r);
  }
}

/** The runtime packages of package-lock.json (not "dev"), without Deno's duplicate platform package. */
export function runtimePackages(lock: { packages: Record<string, { dev?: boolean }> }): string[] {
  return Object.entries(lock.packages)
    .filter(([k, v]) => k.startsWith("node_modules/") && !v.dev && !k.startsWith("node_modules/@deno/"))
    .map(([k]) => k)
    .sort();
}

/** Paths `ldd` lists for `file` (resolved to real files), the loader included. */
async function lddPaths(file: string): Promise<string[]> {
  const o = await new Deno.Command("ldd", { args: [file], stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(o.stdout);
  if (!o.success) throw new Error(`ldd ${file}: ${new TextDecoder().decode(o.stderr).trim()}`);
  const paths: string[] = [];
  for (const line of text.split("\n")) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) paths.push(m[1]);
  }
  return paths;
}

function findLib(name: string): string {
  for (const d of LIB_DIRS) {
    try {
      Deno.statSync(`${d}/${name}`);
      return `${d}/${name}`;
    } catch { /* next */ }
  }
  throw new Error(`${name} is not installed: apt-get install fuse3 libfuse3-3`);
}

/** Every file the image holds, in a stable order. */
export async function toolsEntries(root = ROOT): Promise<ToolsEntry[]> {
  const entries: ToolsEntry[] = [];
  const add = (path: string, file: string) => entries.push({ path, source: { file }, mode: Deno.statSync(file).mode! });
  for (const top of PROGRAM) {
    const st = Deno.statSync(`${root}/${top}`);
    if (st.isFile) add(`vexfs/${top}`, `${root}/${top}`);
    else {
      const files: string[] = [];
      walk(`${root}/${top}`, top, files);
      for (const f of files.sort()) if (programFile(f)) add(`vexfs/${f}`, `${root}/${f}`);
    }
  }
  const lock = JSON.parse(Deno.readTextFileSync(`${root}/package-lock.json`));
  for (const pkg of runtimePackages(lock)) {
    const files: string[] = [];
    walk(Deno.realPathSync(`${root}/${pkg}`), "", files);
    // A package's own node_modules holds nested packages, listed separately in the lock.
    for (const f of files.sort()) if (!f.startsWith("/node_modules/")) add(`vexfs/${pkg}${f}`, `${root}/${pkg}${f}`);
  }
  const deno = Deno.realPathSync(`${root}/node_modules/deno/deno`);
  const libs = new Map<string, string>();
  for (const bin of [deno, ...HOST_PROGRAMS, ...DLOPEN_LIBS.map(findLib)]) {
    for (const p of await lddPaths(bin)) libs.set(p.slice(p.lastIndexOf("/") + 1), p);
  }
  for (const name of DLOPEN_LIBS) libs.set(name, findLib(name));
  for (const [name, p] of [...libs].sort()) add(`lib/${name}`, Deno.realPathSync(p));
  for (const p of HOST_PROGRAMS) add(`bin/${p.slice(p.lastIndexOf("/") + 1)}`, p);
  entries.push({
    path: "bin/vexfs",
    source: {
      text: `#!/bin/sh\n# the vexfs launcher of the tools image (src/kernel/tools_image.ts)\n` +
        `exec ${TOOLS_DIR}/vexfs/node_modules/deno/deno run -A ${TOOLS_DIR}/vexfs/main.ts "$@"\n`,
    },
    mode: 0o755,
  });
  return entries;
}

/** SHA-256 (hex) of the entries' paths, modes and contents: the cache key. */
export async function toolsKey(entries: ToolsEntry[]): Promise<string> {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const data = "file" in e.source ? await Deno.readFile(e.source.file) : enc.encode(e.source.text);
    const fileHash = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
    parts.push(enc.encode(`${e.path}\0${(e.mode & 0o7777).toString(8)}\0`), fileHash);
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) all.set(p, off), off += p.length;
  return [...new Uint8Array(await crypto.subtle.digest("SHA-256", all))].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Removes tools images not used (mtime, touched on every use) for a day, except `keep`. */
async function prune(dir: string, keep: string): Promise<void> {
  const day = Date.now() - 24 * 3600 * 1000;
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (p === keep || !/^tools-[0-9a-f]{64}\.img$/.test(e.name)) continue;
    const st = await Deno.stat(p).catch(() => null);
    if (st?.mtime && st.mtime.getTime() < day) await Deno.remove(p).catch(() => {});
  }
}

/**
 * The path of the tools image for this checkout, built when the cache has none for
 * its contents.
 *
 * @throws Error when mkfs.ext4 (e2fsprogs), ldd, libfuse3 or fusermount3 (fuse3) is
 *   missing, or the Deno binary is not in node_modules (the message says what to install).
 */
export async function toolsImage(root = ROOT): Promise<string> {
  const entries = await toolsEntries(root);
  const key = await toolsKey(entries);
  const dir = `${cacheDir()}/tools`;
  const img = `${dir}/tools-${key}.img`;
  if (await exists(img)) {
    const now = new Date();
    await Deno.utime(img, now, now).catch(() => {});
    return img;
  }
  await Deno.mkdir(dir, { recursive: true });
  const stage = await Deno.makeTempDir({ dir, prefix: ".stage-" });
  try {
    let bytes = 0;
    const enc = new TextEncoder();
    for (const e of entries) {
      const dst = `${stage}/tree/${e.path}`;
      await Deno.mkdir(dst.slice(0, dst.lastIndexOf("/")), { recursive: true });
      if ("file" in e.source) await Deno.copyFile(e.source.file, dst);
      else await Deno.writeFile(dst, enc.encode(e.source.text));
      await Deno.chmod(dst, e.mode & 0o7777);
      bytes += (await Deno.stat(dst)).size;
    }
    // Room for ext4's metadata and the per-file block rounding; the image is sparse.
    const mib = Math.ceil((bytes * 1.25) / 2 ** 20) + 64;
    const tmpImg = `${stage}/tools.img`;
    const o = await new Deno.Command("mkfs.ext4", {
      args: ["-q", "-F", "-L", "vexfs-tools", "-O", "^has_journal", "-d", `${stage}/tree`, tmpImg, `${mib}M`],
      stdout: "piped",
      stderr: "piped",
    }).output().catch((e) => {
      if (e instanceof Deno.errors.NotFound) throw new Error("mkfs.ext4 is not installed: apt-get install e2fsprogs");
      throw e;
    });
    if (!o.success) throw new Error(`mkfs.ext4 -d for the tools image failed: ${new TextDecoder().decode(o.stderr)}`);
    await Deno.rename(tmpImg, img);
  } finally {
    await Deno.remove(stage, { recursive: true }).catch(() => {});
  }
  await prune(dir, img);
  return img;
}
