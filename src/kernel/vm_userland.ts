/**
 * Programs for the inside of the QEMU harness's VM (src/kernel/qemu.ts), whose
 * userland is only busybox: `vmtool` (src/kernel/vmtool.c: a tree walk and a
 * write workload in one process, since every fork costs milliseconds under
 * TCG, plus the device-mapper ioctls busybox lacks), built with `gcc -static`
 * and cached by the hash of its source.
 * @module
 */
import { cacheDir } from "./debian_kernel.ts";

const SOURCE = new URL("./vmtool.c", import.meta.url).pathname;

async function sha256Hex(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return [...h].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The static `vmtool` binary for the VM (x86-64), built on first use and then
 * taken from `<cache>/vmtool/<hash>`.
 * @throws Error when gcc or the static C library (libc6-dev) is missing, with the build's output
 */
export function vmTool(): Promise<Uint8Array> {
  // one build per process, however many VMs start at once
  built ??= buildVmTool().catch((e) => {
    built = null;
    throw e;
  });
  return built;
}

let built: Promise<Uint8Array> | null = null;

async function buildVmTool(): Promise<Uint8Array> {
  const src = await Deno.readFile(SOURCE);
  const dir = `${cacheDir()}/vmtool`;
  const out = `${dir}/${(await sha256Hex(src)).slice(0, 16)}`;
  try {
    return await Deno.readFile(out);
  } catch { /* not built yet */ }
  await Deno.mkdir(dir, { recursive: true });
  const tmp = `${out}.${Deno.pid}.${crypto.randomUUID()}.tmp`;
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
