/**
 * Builds the VexFS WebAssembly modules from their C sources and writes each
 * into a generated TypeScript module, so that the program (and
 * `deno compile`'s single binary) needs no compiler at run time.
 *
 * ```sh
 * node_modules/deno/deno run -A wasm/build.ts            # build every module
 * node_modules/deno/deno run -A wasm/build.ts --check    # exit 1 if a committed module is stale
 * ```
 *
 * For each module of {@linkcode MODULES} (src/wasm/layout.ts): clang compiles
 * its sources to wasm32 with SIMD128 and bulk memory (`CFLAGS`), linked with
 * `--import-memory` (all modules share one memory), `--global-base` at the
 * start of its window and its stack after its static data; the linked
 * module's `__heap_base` (end of data and stack) must lie within its window.
 * The result goes to `src/wasm/<name>_wasm.ts` as base64 with the sha256 of
 * what it was built from ({@linkcode sourceHash}). An optional module (hnsw)
 * is skipped while its first source does not exist.
 *
 * Builds are reproducible: the same sources, flags and clang give the same
 * bytes (`src/wasm/build_test.ts` rebuilds and compares).
 *
 * @module
 */
import { CFLAGS, MODULES, type WasmModuleData, type WasmModuleSpec } from "../src/wasm/layout.ts";

/** Repository root (the parent of this file's directory). */
export const ROOT: string = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** The clang and flags a build uses. */
export interface Toolchain {
  /** the clang executable */
  clang: string;
  /** first line of `clang --version` */
  version: string;
}

/**
 * Finds clang with a wasm32 target and wasm-ld (Debian packages `clang` and
 * `lld`): `$CLANG`, else `clang`, else `clang-14` .. `clang-19`.
 * @returns the toolchain, or `null` when none is installed (with the reason in `why`)
 */
export async function findToolchain(): Promise<Toolchain | { why: string }> {
  const names = [Deno.env.get("CLANG"), "clang", ...[14, 15, 16, 17, 18, 19].map((v) => `clang-${v}`)]
    .filter((n): n is string => !!n);
  for (const clang of names) {
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command(clang, { args: ["--version"], stdout: "piped", stderr: "null" }).output();
    } catch {
      continue;
    }
    if (!out.success) continue;
    const version = new TextDecoder().decode(out.stdout).split("\n")[0].trim();
    // The wasm linker: clang runs wasm-ld (Debian: lld-NN provides wasm-ld-NN and clang finds it).
    const probe = await new Deno.Command(clang, {
      args: ["--target=wasm32", "-nostdlib", "-Wl,--no-entry", "-x", "c", "-", "-o", "/dev/null"],
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const w = probe.stdin.getWriter();
    await w.write(new TextEncoder().encode("int x;\n"));
    await w.close();
    const r = await probe.output();
    if (!r.success) {
      return {
        why: `${clang} cannot link wasm32 (is lld installed? apt-get install lld): ${
          new TextDecoder().decode(r.stderr).trim().split("\n")[0]
        }`,
      };
    }
    return { clang, version };
  }
  return { why: "no clang found (apt-get install clang lld)" };
}

/**
 * The headers a C file includes with `#include "..."` (resolved in `wasm/`),
 * recursively, as repository paths. System headers (`<...>`) belong to the
 * compiler and are covered by its version.
 */
export function localIncludes(file: string, seen: Set<string> = new Set()): string[] {
  const text = Deno.readTextFileSync(`${ROOT}/${file}`);
  for (const m of text.matchAll(/^\s*#\s*include\s+"([^"]+)"/gm)) {
    const h = `wasm/${m[1]}`;
    if (seen.has(h)) continue;
    seen.add(h);
    localIncludes(h, seen);
  }
  return [...seen];
}

/** The files a module is built from: its sources in link order, then the headers they include, sorted. */
export function inputs(spec: WasmModuleSpec): string[] {
  const hs = new Set<string>();
  for (const s of spec.sources) localIncludes(s, hs);
  return [...spec.sources, ...[...hs].sort()];
}

/** The clang arguments of a module, before its sources and output. */
export function flags(spec: WasmModuleSpec): string[] {
  return [...CFLAGS, `-Wl,--global-base=${spec.base}`, `-Wl,-z,stack-size=${spec.stackSize}`];
}

/**
 * sha256 (hex) identifying what a module is built from: for each input file
 * (see {@linkcode inputs}) its path, a NUL, its bytes, a NUL; then the flags
 * joined by spaces. Independent of the compiler, so a stale build is detected
 * without one.
 */
export async function sourceHash(spec: WasmModuleSpec): Promise<string> {
  const parts: Uint8Array[] = [];
  const enc = new TextEncoder();
  for (const f of inputs(spec)) {
    parts.push(enc.encode(f + "\0"), Deno.readFileSync(`${ROOT}/${f}`), enc.encode("\0"));
  }
  parts.push(enc.encode(flags(spec).join(" ")));
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(h, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Whether a module is to be built (an optional module needs its first source). */
export function present(spec: WasmModuleSpec): boolean {
  if (!spec.optional) return true;
  try {
    return Deno.statSync(`${ROOT}/${spec.sources[0]}`).isFile;
  } catch {
    return false;
  }
}

/**
 * Compiles and links one module.
 * @returns the `.wasm` bytes
 * @throws Error with clang's output when compiling fails, or when the module's
 *   data and stack do not fit its window
 */
export async function compile(spec: WasmModuleSpec, tc: Toolchain): Promise<Uint8Array> {
  const dir = await Deno.makeTempDir({ prefix: "vexfs-wasm-" });
  try {
    const out = `${dir}/${spec.name}.wasm`;
    const r = await new Deno.Command(tc.clang, {
      args: [...flags(spec), ...spec.sources, "-o", out],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const msg = new TextDecoder().decode(r.stderr).trim();
    if (!r.success) throw new Error(`building wasm module ${spec.name} failed:\n${msg}`);
    if (msg) console.error(msg); // warnings
    const bytes = await Deno.readFile(out);
    checkWindow(spec, bytes);
    return bytes;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Checks that a linked module's static data and stack (up to its exported
 * `__heap_base`) end within its window, by instantiating it on a scratch
 * memory.
 * @throws Error naming the module, its end and its limit
 */
export function checkWindow(spec: WasmModuleSpec, bytes: Uint8Array): void {
  const mod = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  const imports: WebAssembly.Imports = { env: { memory: new WebAssembly.Memory({ initial: spec.limit / 65536 + 1 }) } };
  // Modules may import functions (hnsw: none expected); stub any so the check can instantiate.
  for (const imp of WebAssembly.Module.imports(mod)) {
    if (imp.kind === "function") (imports[imp.module] ??= {})[imp.name] = () => 0;
  }
  const inst = new WebAssembly.Instance(mod, imports);
  const hb = inst.exports.__heap_base as WebAssembly.Global | undefined;
  if (!hb) throw new Error(`wasm module ${spec.name} does not export __heap_base`);
  const end = Number(hb.value);
  if (end > spec.limit) {
    throw new Error(
      `wasm module ${spec.name}: static data and stack end at ${end}, beyond its window ` +
        `${spec.base}..${spec.limit} (src/wasm/layout.ts): shrink its static data or move the window`,
    );
  }
}

/** Path of a module's generated TypeScript file, relative to the root. */
export function generatedPath(name: string): string {
  return `src/wasm/${name}_wasm.ts`;
}

/** The text of a generated module (deno fmt-stable). */
export function render(data: WasmModuleData): string {
  const NAME = `${data.name.toUpperCase()}_WASM`;
  const lines: string[] = [];
  lines.push(`// Generated by \`node_modules/deno/deno run -A wasm/build.ts\`: do not edit.`);
  lines.push(`/**`);
  lines.push(` * The \`${data.name}\` WebAssembly module, built from ${data.sources.join(", ")}`);
  lines.push(` * (see wasm/build.ts; instantiate it with \`instantiate\` of src/wasm/runtime.ts).`);
  lines.push(` * @module`);
  lines.push(` */`);
  lines.push(`import type { WasmModuleData } from "./layout.ts";`);
  lines.push(``);
  lines.push(`/** The \`${data.name}\` module's bytes (base64) and what they were built from. */`);
  lines.push(`export const ${NAME}: WasmModuleData = {`);
  lines.push(`  name: ${JSON.stringify(data.name)},`);
  lines.push(`  sources: [`);
  for (const s of data.sources) lines.push(`    ${JSON.stringify(s)},`);
  lines.push(`  ],`);
  lines.push(`  sha256: ${JSON.stringify(data.sha256)},`);
  lines.push(`  compiler: ${JSON.stringify(data.compiler)},`);
  lines.push(`  base: ${data.base},`);
  lines.push(`  limit: ${data.limit},`);
  lines.push(`  wasm:`);
  lines.push(`    ${JSON.stringify(data.wasm)},`);
  lines.push(`};`);
  return lines.join("\n") + "\n";
}

/** Base64 of bytes. */
export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** Builds one module into its {@linkcode WasmModuleData}. */
export async function build(spec: WasmModuleSpec, tc: Toolchain): Promise<WasmModuleData> {
  const bytes = await compile(spec, tc);
  return {
    name: spec.name,
    sources: inputs(spec),
    sha256: await sourceHash(spec),
    compiler: tc.version,
    base: spec.base,
    limit: spec.limit,
    wasm: toBase64(bytes),
  };
}

async function main(args: string[]): Promise<number> {
  const check = args.includes("--check");
  const only = args.filter((a) => !a.startsWith("-"));
  const tc = await findToolchain();
  if ("why" in tc) {
    console.error(`wasm/build.ts: ${tc.why}`);
    return 2;
  }
  let stale = 0;
  for (const spec of MODULES) {
    if (only.length && !only.includes(spec.name)) continue;
    if (!present(spec)) {
      console.error(`${spec.name}: skipped (${spec.sources[0]} does not exist)`);
      continue;
    }
    const data = await build(spec, tc);
    const text = render(data);
    const path = `${ROOT}/${generatedPath(spec.name)}`;
    let old = "";
    try {
      old = await Deno.readTextFile(path);
    } catch { /* new */ }
    const size = Math.round((data.wasm.length * 3) / 4);
    if (old === text) {
      console.error(`${spec.name}: up to date (${size} bytes)`);
    } else if (check) {
      console.error(`${spec.name}: ${generatedPath(spec.name)} is stale; run wasm/build.ts`);
      stale++;
    } else {
      await Deno.writeTextFile(path, text);
      console.error(`${spec.name}: wrote ${generatedPath(spec.name)} (${size} bytes)`);
    }
  }
  return stale ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
