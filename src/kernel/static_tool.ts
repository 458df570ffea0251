/**
 * Static x86-64 programs for the QEMU harness's VM (src/kernel/qemu.ts), whose
 * userland is only busybox: the C helpers of src/kernel (vmtool.c, rwtool.c,
 * vxt.c, vexfs_vectool.c) built with `gcc -static` once and cached under the
 * test cache (`cacheDir()`), keyed by the hash of the source, the compiler
 * flags and every header of the include directories, so that an edit of any
 * of them rebuilds and nothing else does.
 *
 * ```ts
 * import { staticTool } from "./static_tool.ts";
 * const vmtool = await staticTool("vmtool.c"); // bytes for the VM's /bin/vmtool
 * ```
 * @module
 */
import { cacheDir } from "./debian_kernel.ts";

const HERE = new URL(".", import.meta.url).pathname;
const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

/** How to build one tool. */
export interface StaticToolOptions {
  /** Directories given to gcc with `-I`, relative to the repository root (e.g. `["kernel"]` for vexfs_ioctl.h). */
  include?: string[];
  /** Optimisation level flag; default `-O2`. */
  opt?: string;
}

async function sha256Hex(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return [...h].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** One build per key and process, however many tests ask at once. */
const building = new Map<string, Promise<string>>();

/**
 * The path of the static binary built from `source` (a file name in
 * src/kernel), built on first use and then taken from
 * `<cache>/static-tools/<name>-<hash>`. The file is shared: copy it or read
 * it, do not remove it.
 *
 * @throws Error when gcc or the static C library (libc6-dev) is missing, or the
 *   source does not compile without a warning (`-Wall -Wextra -Werror`), with
 *   the compiler's output
 */
export function staticToolPath(source: string, opts: StaticToolOptions = {}): Promise<string> {
  const key = JSON.stringify([source, opts.include ?? [], opts.opt ?? "-O2"]);
  let p = building.get(key);
  if (!p) {
    p = build(source, opts);
    building.set(key, p);
    p.catch(() => building.delete(key));
  }
  return p;
}

/**
 * The bytes of the static binary built from `source` (see {@link staticToolPath}),
 * e.g. for the `files` of a VM run.
 *
 * @throws Error as {@link staticToolPath}
 */
export async function staticTool(source: string, opts: StaticToolOptions = {}): Promise<Uint8Array> {
  return await Deno.readFile(await staticToolPath(source, opts));
}

async function build(source: string, opts: StaticToolOptions): Promise<string> {
  const src = `${HERE}${source}`;
  const includes = (opts.include ?? []).map((d) => `${ROOT}/${d}`);
  const args = ["-static", opts.opt ?? "-O2", "-Wall", "-Wextra", "-Werror", ...includes.flatMap((d) => ["-I", d])];
  // the key covers the flags, the source and every header it could include
  const parts: Uint8Array[] = [new TextEncoder().encode(args.join(" ")), await Deno.readFile(src)];
  for (const dir of includes) {
    const names = [...Deno.readDirSync(dir)].filter((e) => e.isFile && e.name.endsWith(".h")).map((e) => e.name).sort();
    for (const n of names) parts.push(new TextEncoder().encode(n), await Deno.readFile(`${dir}/${n}`));
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  const dir = `${cacheDir()}/static-tools`;
  const out = `${dir}/${source.replace(/\.c$/, "")}-${(await sha256Hex(all)).slice(0, 16)}`;
  try {
    await Deno.stat(out);
    return out;
  } catch { /* not built yet */ }
  await Deno.mkdir(dir, { recursive: true });
  const tmp = `${out}.${Deno.pid}.${crypto.randomUUID()}.tmp`;
  let o;
  try {
    o = await new Deno.Command("gcc", { args: [...args, "-o", tmp, src], stdout: "piped", stderr: "piped" }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error("gcc is missing: apt-get install gcc libc6-dev");
    throw e;
  }
  if (!o.success) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`gcc -static ${src} failed (libc6-dev installed?):\n${new TextDecoder().decode(o.stderr)}`);
  }
  // atomic: a concurrent process sees the old state or the whole binary
  await Deno.rename(tmp, out);
  return out;
}
