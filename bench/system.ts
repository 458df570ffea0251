/**
 * What the benchmarks need from the host: dropping the page cache, the mount
 * table, CPU time of processes (to see whether a FUSE server is CPU-bound),
 * and a description of the machine and tool versions for the report.
 * @module
 */
import { isCompiled, REPO_DIR, run, which } from "./exec.ts";

// ------------------------------------------------------------------ page cache

/** Result of {@linkcode dropCaches}. */
export type DropResult = { ok: true } | { ok: false; reason: string };

/**
 * Writes back dirty data (`sync`) and drops the kernel's clean caches (page
 * cache, dentries and inodes: `echo 3 > /proc/sys/vm/drop_caches`). Needs
 * root. FUSE servers' own caches in their processes are not affected.
 * @returns `{ ok: false, reason }` when the write is not permitted (the sync still ran)
 */
export async function dropCaches(): Promise<DropResult> {
  await run("sync", []).catch(() => undefined);
  try {
    await Deno.writeTextFile("/proc/sys/vm/drop_caches", "3\n");
    return { ok: true };
  } catch (e) {
    const why = e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotCapable
      ? "permission denied (run as root)"
      : e instanceof Deno.errors.NotFound
      ? "/proc/sys/vm/drop_caches does not exist"
      : e instanceof Error
      ? e.message
      : String(e);
    return { ok: false, reason: `cannot drop caches: ${why}` };
  }
}

// ------------------------------------------------------------------ mounts

/** One line of /proc/self/mountinfo. */
export interface MountEntry {
  /** mount point, unescaped */
  mountPoint: string;
  /** filesystem type, e.g. `ext4`, `fuse.passthrough_ll` */
  fsType: string;
  /** mount source, e.g. `/dev/vda1`, `passthrough_ll` */
  source: string;
  /** per-superblock options, e.g. `rw,relatime` */
  superOptions: string;
}

/** Undoes the octal escapes (`\040` for a space, ...) of /proc mount tables. */
function unescapeProc(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * Parses the text of /proc/self/mountinfo (Documentation/filesystems/proc.rst
 * §3.5). Lines that do not have the expected shape are skipped.
 */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(" ");
    const sep = f.indexOf("-", 6);
    if (f.length < 10 || sep < 0 || sep + 2 >= f.length) continue;
    out.push({
      mountPoint: unescapeProc(f[4]),
      fsType: f[sep + 1],
      source: unescapeProc(f[sep + 2]),
      superOptions: f[sep + 3] ?? "",
    });
  }
  return out;
}

/** The current mount table of this process's namespace. */
export function mounts(): MountEntry[] {
  try {
    return parseMountinfo(Deno.readTextFileSync("/proc/self/mountinfo"));
  } catch {
    return [];
  }
}

/** The topmost mount on exactly `path` (absolute, no trailing slash), or undefined. */
export function mountAt(path: string): MountEntry | undefined {
  const all = mounts().filter((m) => m.mountPoint === path);
  return all[all.length - 1];
}

// ------------------------------------------------------------------ CPU time

let clkTck: number | undefined;

/** Clock ticks per second of /proc/<pid>/stat times (`getconf CLK_TCK`, 100 on Linux). */
export async function clockTicks(): Promise<number> {
  if (clkTck === undefined) {
    const r = await run("getconf", ["CLK_TCK"]).catch(() => undefined);
    const n = Number(r?.stdout.trim());
    clkTck = Number.isFinite(n) && n > 0 ? n : 100;
  }
  return clkTck;
}

/**
 * CPU time used so far by process `pid` (all its threads, user + system), in
 * seconds; undefined if the process is gone.
 */
export function processCpuSeconds(pid: number, ticksPerSecond: number): number | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  return parseStatCpuTicks(text) / ticksPerSecond;
}

/**
 * utime + stime (fields 14 and 15, in clock ticks) of a /proc/<pid>/stat
 * line; the command name in parentheses may contain spaces and parentheses.
 */
export function parseStatCpuTicks(statLine: string): number {
  const rest = statLine.slice(statLine.lastIndexOf(")") + 2).split(" ");
  // rest[0] is field 3 (state); utime is field 14, stime field 15
  return Number(rest[11]) + Number(rest[12]);
}

/** Whether process `pid` exists (and is not a zombie). */
export function processAlive(pid: number): boolean {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return s.slice(s.lastIndexOf(")") + 2, s.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/**
 * Processes whose command line has `arg` as one whole argument (e.g. a FUSE
 * server given its mount point), except this process.
 * @returns their pids
 */
export function pidsWithArg(arg: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    try {
      const args = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0");
      if (args.includes(arg)) out.push(Number(e.name));
    } catch { /* gone */ }
  }
  return out;
}

/** The 1-minute load average (/proc/loadavg), or undefined. */
export function loadAverage(): number | undefined {
  const v = Number(readText("/proc/loadavg")?.split(" ")[0]);
  return Number.isFinite(v) ? v : undefined;
}

// ------------------------------------------------------------------ machine

/** The machine, the filesystem under test and the software versions, for the report. */
export interface MachineInfo {
  /** ISO 8601 date and time of the run */
  date: string;
  hostname: string;
  /** CPU model from /proc/cpuinfo */
  cpu: string;
  /** logical CPUs */
  cpus: number;
  /** total memory in bytes */
  memoryBytes: number;
  /** `uname -r` */
  kernel: string;
  /** distribution (PRETTY_NAME of /etc/os-release) */
  os: string;
  /** the work directory the benchmarks ran in */
  dir: string;
  /** filesystem holding `dir`: `source (type, options)` */
  filesystem: string;
  /** block device under it: name, size, rotational flag, model */
  disk: string;
  /** program name -> version line */
  versions: Record<string, string>;
}

function readText(p: string): string | undefined {
  try {
    return Deno.readTextFileSync(p).trim();
  } catch {
    return undefined;
  }
}

function firstLine(s: string): string {
  return s.split("\n").map((l) => l.trim()).find((l) => l !== "") ?? "";
}

/** Describes the block device `source` (e.g. `/dev/vda1`): size, rotational, model. */
function describeDisk(source: string): string {
  if (!source.startsWith("/dev/")) return `${source} (not a block device)`;
  let name: string;
  try {
    name = Deno.realPathSync(source).split("/").pop()!;
  } catch {
    return source;
  }
  let sys: string;
  try {
    sys = Deno.realPathSync(`/sys/class/block/${name}`);
  } catch {
    return source;
  }
  // a partition's parent directory is the whole disk
  const whole = readText(`${sys}/partition`) !== undefined ? sys.replace(/\/[^/]+$/, "") : sys;
  const sectors = Number(readText(`${sys}/size`) ?? "0");
  const rot = readText(`${whole}/queue/rotational`);
  const model = readText(`${whole}/device/model`);
  const vendor = readText(`${whole}/device/vendor`);
  const driver = (() => {
    try {
      return Deno.realPathSync(`${whole}/device/driver`).split("/").pop();
    } catch {
      return undefined;
    }
  })();
  const parts = [
    `${(sectors * 512 / 2 ** 30).toFixed(0)} GiB`,
    rot === undefined ? undefined : rot === "1" ? "rotational" : "non-rotational",
    [vendor, model].filter((x) => x).join(" ") || undefined,
    driver ? `driver ${driver}` : undefined,
  ].filter((x) => x);
  return `${source} (${parts.join(", ")})`;
}

async function versionOf(cmd: string, args: string[]): Promise<string | undefined> {
  if (!which(cmd)) return undefined;
  const r = await run(cmd, args, { timeoutMs: 10_000 }).catch(() => undefined);
  if (!r) return undefined;
  return firstLine(r.stdout || r.stderr) || undefined;
}

async function gitDescribe(): Promise<string | undefined> {
  if (isCompiled() || !which("git")) return undefined;
  const head = await run("git", ["-C", REPO_DIR, "rev-parse", "--short", "HEAD"]).catch(() => undefined);
  if (!head || head.code !== 0) return undefined;
  const st = await run("git", ["-C", REPO_DIR, "status", "--porcelain", "--untracked-files=no"]).catch(() => undefined);
  return head.stdout.trim() + (st && st.stdout.trim() !== "" ? " (with uncommitted changes)" : "");
}

/**
 * Collects the machine description for a run in `dir`.
 * @param vexfsVersion version of this program
 */
export async function machineInfo(dir: string, vexfsVersion: string): Promise<MachineInfo> {
  const cpuinfo = readText("/proc/cpuinfo") ?? "";
  const cpu = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown";
  const memKb = Number(/^MemTotal:\s*(\d+)/m.exec(readText("/proc/meminfo") ?? "")?.[1] ?? "0");
  const osRelease = readText("/etc/os-release") ?? "";
  const os = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(osRelease)?.[1] ?? "unknown";
  // the mount holding dir: the longest mount point that is a prefix of it
  let real = dir;
  try {
    real = Deno.realPathSync(dir);
  } catch { /* keep */ }
  const holder = mounts()
    .filter((m) => real === m.mountPoint || real.startsWith(m.mountPoint === "/" ? "/" : m.mountPoint + "/"))
    .sort((a, b) => a.mountPoint.length - b.mountPoint.length)
    .pop();
  const versions: Record<string, string> = { vexfs: vexfsVersion };
  const git = await gitDescribe();
  if (git) versions["vexfs commit"] = git;
  versions.deno = `${Deno.version.deno} (V8 ${Deno.version.v8}, TypeScript ${Deno.version.typescript})`;
  const more: [string, string, string[]][] = [
    ["fio", "fio", ["--version"]],
    ["libfuse", "pkg-config", ["--modversion", "fuse3"]],
    ["fusermount3", "fusermount3", ["--version"]],
    ["gcc", "gcc", ["--version"]],
  ];
  for (const [name, cmd, args] of more) {
    const v = await versionOf(cmd, args);
    // "fio-3.33", "fusermount3 version: 3.14.0", "gcc (Debian 12.2.0-14) 12.2.0" -> without the name
    if (v) versions[name] = v.replace(new RegExp(`^${cmd}(?:-|\\s+version:?\\s*|\\s+)`), "");
  }
  return {
    date: new Date().toISOString(),
    hostname: Deno.hostname(),
    cpu,
    cpus: navigator.hardwareConcurrency,
    memoryBytes: memKb * 1024,
    kernel: Deno.osRelease(),
    os,
    dir: real,
    filesystem: holder ? `${holder.source} mounted on ${holder.mountPoint} (${holder.fsType})` : "unknown",
    disk: holder ? describeDisk(holder.source) : "unknown",
    versions,
  };
}
