/**
 * Builds the C brute force of `vexfs bench vectors` (bench/ann/brute.c) with
 * gcc in the run, once per source, flags, compiler and CPU, into the
 * benchmarks' build cache (default `bench/.build/ann-<hash>/brute`).
 * @module
 */
import { defaultBuildDir } from "../build.ts";
import { BenchError, run, runOk, which } from "../exec.ts";
import { sha256Hex } from "./datasets.ts";

/** gcc flags of the brute force: -O3 -march=native as the issue asks; -fopenmp-simd lets the `omp simd` reductions vectorise. */
export const BRUTE_CFLAGS: readonly string[] = ["-O3", "-march=native", "-fopenmp-simd", "-Wall"];

/** The built brute force. */
export interface BruteBinary {
  path: string;
  /** the gcc command line, for the report */
  command: string;
  /** gcc's version line */
  gcc: string;
}

/**
 * Builds (or reuses) the brute force.
 * @throws BenchError when gcc is missing or fails, or the source is not there (a compiled vexfs binary)
 */
export async function buildBrute(cacheDir: string = defaultBuildDir()): Promise<BruteBinary> {
  if (!which("gcc")) throw new BenchError("gcc not found: apt-get install gcc");
  let src: Uint8Array;
  try {
    src = await Deno.readFile(new URL("./brute.c", import.meta.url));
  } catch (e) {
    throw new BenchError(`bench/ann/brute.c not found (run vexfs bench vectors from the repository): ${e}`);
  }
  const gcc = (await run("gcc", ["--version"])).stdout.split("\n")[0];
  let cpu = "";
  try {
    const info = await Deno.readTextFile("/proc/cpuinfo");
    cpu = (/^model name\s*:.*$/m.exec(info)?.[0] ?? "") + (/^flags\s*:.*$/m.exec(info)?.[0] ?? "");
  } catch { /* not Linux: -march=native still works */ }
  const enc = new TextEncoder();
  const key = sha256Hex([src, enc.encode(BRUTE_CFLAGS.join(" ")), enc.encode(gcc), enc.encode(cpu)]).slice(0, 16);
  const dir = `${cacheDir}/ann-${key}`;
  const path = `${dir}/brute`;
  const command = `gcc ${BRUTE_CFLAGS.join(" ")} brute.c -o brute -lm`;
  try {
    await Deno.stat(`${dir}/.done`);
    await Deno.stat(path);
    return { path, command, gcc };
  } catch { /* build it */ }
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeFile(`${dir}/brute.c`, src);
  await runOk("gcc", [...BRUTE_CFLAGS, "brute.c", "-o", "brute", "-lm"], "building the C brute force", { cwd: dir });
  await Deno.writeTextFile(`${dir}/.done`, new Date().toISOString() + "\n");
  return { path, command, gcc };
}
