/**
 * Sequential and random I/O through fio (https://github.com/axboe/fio): job
 * arguments, running one job, and reading its JSON output.
 *
 * Every job is a single thread doing synchronous buffered I/O (`psync`,
 * queue depth 1) on one file, as an ordinary program would; `fallocate=none`
 * so that the file is written, not preallocated (FUSE servers differ in
 * fallocate support). Writes end with an fsync that is included in the time.
 * @module
 */
import { BenchError, lastLines, run, which } from "./exec.ts";

/** One fio job on one file. */
export interface FioJob {
  /** job name (shows in fio's output) */
  name: string;
  /** the file to read or write */
  filename: string;
  /** access pattern */
  rw: "write" | "read" | "randread";
  /** block size in bytes */
  bs: number;
  /** file size in bytes (the region read or written) */
  size: number;
  /** writes: fsync the file at the end, inside the measured time */
  endFsync?: boolean;
  /** stop after this many seconds even if not done */
  runtimeS?: number;
  /** stop after this many I/Os (random reads: at most one pass over the file) */
  numberIos?: number;
}

/** The fio command-line arguments (after `fio`) for `job`, writing JSON to `outFile`. */
export function fioArgs(job: FioJob, outFile: string): string[] {
  const a = [
    `--name=${job.name}`,
    `--filename=${job.filename}`,
    `--rw=${job.rw}`,
    `--bs=${job.bs}`,
    `--size=${job.size}`,
    "--ioengine=psync",
    "--iodepth=1",
    "--numjobs=1",
    "--fallocate=none",
    "--randrepeat=1",
    "--output-format=json",
    `--output=${outFile}`,
  ];
  if (job.endFsync) a.push("--end_fsync=1");
  if (job.runtimeS !== undefined) a.push(`--runtime=${job.runtimeS}`);
  if (job.numberIos !== undefined) a.push(`--number_ios=${job.numberIos}`);
  return a;
}

/** The numbers of one finished fio job. */
export interface FioResult {
  /** bytes transferred */
  bytes: number;
  /** I/O operations completed */
  ios: number;
  /** job run time in milliseconds (includes the final fsync of write jobs) */
  runtimeMs: number;
  /** throughput in bytes per second */
  bytesPerS: number;
  /** I/O operations per second */
  iops: number;
  /** mean completion latency of one I/O in microseconds */
  latMeanUs: number;
  /** median completion latency in microseconds (undefined if fio gave no percentiles) */
  latP50Us?: number;
  /** 99th-percentile completion latency in microseconds */
  latP99Us?: number;
  /** fio's own CPU use, user time, percent of one CPU */
  usrCpuPct: number;
  /** fio's own CPU use, system time (includes the kernel's FUSE and page cache work), percent of one CPU */
  sysCpuPct: number;
}

/**
 * Reads fio's `--output-format=json` output for the first job. Text before
 * the JSON object (fio prints some warnings there) is ignored.
 * @param dir which direction's statistics to read
 * @throws BenchError if the output is not fio JSON or the job reports an error
 */
export function parseFioJson(text: string, dir: "read" | "write"): FioResult {
  const start = text.indexOf("{");
  let j: Record<string, unknown>;
  try {
    if (start < 0) throw new Error("no JSON object");
    j = JSON.parse(text.slice(start));
  } catch (e) {
    throw new BenchError(`fio output is not JSON (${e instanceof Error ? e.message : e}): ${lastLines(text)}`);
  }
  const jobs = j.jobs as Record<string, unknown>[] | undefined;
  const job = jobs?.[0];
  if (!job) throw new BenchError("fio output has no jobs");
  if (typeof job.error === "number" && job.error !== 0) {
    throw new BenchError(`fio job ${job.jobname ?? ""} failed with error ${job.error}`);
  }
  const d = job[dir] as Record<string, unknown> | undefined;
  if (!d) throw new BenchError(`fio output has no ${dir} statistics`);
  const num = (v: unknown, what: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n)) throw new BenchError(`fio output: ${what} is not a number`);
    return n;
  };
  const clat = (d.clat_ns ?? {}) as Record<string, unknown>;
  const pct = (clat.percentile ?? {}) as Record<string, unknown>;
  const pick = (p: string) => {
    const k = Object.keys(pct).find((x) => Number(x) === Number(p));
    return k === undefined ? undefined : Number(pct[k]) / 1000;
  };
  return {
    bytes: num(d.io_bytes, "io_bytes"),
    ios: num(d.total_ios, "total_ios"),
    runtimeMs: num(d.runtime, "runtime"),
    bytesPerS: num(d.bw_bytes, "bw_bytes"),
    iops: num(d.iops, "iops"),
    latMeanUs: num(clat.mean ?? 0, "clat_ns.mean") / 1000,
    latP50Us: pick("50"),
    latP99Us: pick("99"),
    usrCpuPct: num(job.usr_cpu ?? 0, "usr_cpu"),
    sysCpuPct: num(job.sys_cpu ?? 0, "sys_cpu"),
  };
}

/** `fio --version`, e.g. `fio-3.33`, or undefined when fio is not installed. */
export async function fioVersion(): Promise<string | undefined> {
  if (!which("fio")) return undefined;
  const r = await run("fio", ["--version"]);
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/**
 * Runs one fio job.
 * @param tmpDir a directory for fio's JSON output file
 * @throws BenchError if fio is missing or fails
 */
export async function runFio(job: FioJob, tmpDir: string): Promise<FioResult> {
  if (!which("fio")) throw new BenchError("fio not found: apt-get install fio (or: bash scripts/bootstrap.sh bench)");
  const out = `${tmpDir}/fio-${job.name}.json`;
  const r = await run("fio", fioArgs(job, out));
  let text = "";
  try {
    text = await Deno.readTextFile(out);
  } catch { /* fio failed before writing */ }
  if (r.code !== 0) {
    throw new BenchError(`fio ${job.name} on ${job.filename} failed: ${lastLines(r.stderr || r.stdout || text)}`);
  }
  return parseFioJson(text, job.rw === "write" ? "write" : "read");
}
