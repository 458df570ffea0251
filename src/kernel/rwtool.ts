/**
 * `rwtool` for the QEMU harness's VM (src/kernel/rwtool.c: fallocate, lseek
 * SEEK_DATA/SEEK_HOLE, pwrite + fsync, fsync, an unlinked open file — system
 * calls busybox lacks), built with `gcc -static` and cached by the hash of
 * its source, as vm_userland.ts builds vmtool.
 * @module
 */
import { cacheDir } from "./debian_kernel.ts";

const SOURCE = new URL("./rwtool.c", import.meta.url).pathname;

async function sha256Hex(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return [...h].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The static `rwtool` binary (x86-64), built on first use and then taken from
 * `<cache>/rwtool/<hash>`.
 * @throws Error when gcc or the static C library (libc6-dev) is missing, with the build's output
 */
export async function rwTool(): Promise<Uint8Array> {
  const src = await Deno.readFile(SOURCE);
  const dir = `${cacheDir()}/rwtool`;
  const out = `${dir}/${(await sha256Hex(src)).slice(0, 16)}`;
  try {
    return await Deno.readFile(out);
  } catch { /* not built yet */ }
  await Deno.mkdir(dir, { recursive: true });
  const tmp = `${out}.${Deno.pid}.tmp`;
  let o;
  try {
    o = await new Deno.Command("gcc", {
      args: ["-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o", tmp, SOURCE],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error("gcc is missing: apt-get install gcc libc6-dev");
    throw e;
  }
  if (!o.success) {
    throw new Error(`gcc -static ${SOURCE} failed (libc6-dev installed?):\n${new TextDecoder().decode(o.stderr)}`);
  }
  await Deno.rename(tmp, out);
  return await Deno.readFile(out);
}
