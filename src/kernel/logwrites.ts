/**
 * Crash testing with the kernel's dm-log-writes target (issue 11 §3 "Crash").
 *
 * In the VM a filesystem is mounted on a `log-writes` device-mapper target
 * whose log device records every write that reached the disk, in completion
 * order, with the flush and FUA flags, plus marks the workload sends
 * (`vmtool crash-work`, src/kernel/vmtool.c). On the host the log is parsed
 * (`parseLog`, the format of the kernel's
 * Documentation/admin-guide/device-mapper/log-writes.rst and
 * drivers/md/dm-log-writes.c) and replayed onto a copy of the image as it was
 * before the workload (`replayPoints`); each flush or FUA entry is a point
 * where the disk could have lost power with everything before it durable,
 * and the image there is checked (`checkPoints`): the filesystem's checker
 * finds it clean after journal replay, and every file whose last durable
 * state the marks name has exactly those bytes (or, after a durable removal,
 * is absent).
 *
 * Log layout: sector 0 (of `sectorsize` bytes, the device's logical block
 * size) holds the super, `{u64 magic 0x6a736677736872, u64 version 1, u64
 * nr_entries, u32 sectorsize}` (little-endian); entries follow from sector 1,
 * each a `{u64 sector, u64 nr_sectors, u64 flags, u64 data_len}` in a sector
 * of its own, followed by `nr_sectors` sectors of the data written (none for a
 * discard; a mark's text is in its entry's sector after the 32 bytes).
 * Sectors are in `sectorsize` units. Flags: 1 FLUSH, 2 FUA, 4 DISCARD,
 * 8 MARK, 16 METADATA.
 * @module
 */

export const LOG_FLUSH = 1;
export const LOG_FUA = 2;
export const LOG_DISCARD = 4;
export const LOG_MARK = 8;
export const LOG_METADATA = 16;
const LOG_MAGIC = 0x6a736677736872n;

/** One entry of the log. */
export interface LogEntry {
  index: number;
  /** first sector written, in `sectorSize` units */
  sector: number;
  nrSectors: number;
  flags: number;
  /** the mark's text (MARK entries) */
  mark?: string;
  /** byte offset of the data in the log (writes) */
  dataOffset: number;
}

/** A parsed log. */
export interface WriteLog {
  sectorSize: number;
  entries: LogEntry[];
}

/**
 * Parses a dm-log-writes log device.
 * @throws Error when the super's magic or version is wrong, or an entry runs past the log
 */
export function parseLog(log: Uint8Array): WriteLog {
  const v = new DataView(log.buffer, log.byteOffset, log.byteLength);
  const u64 = (off: number) => {
    const x = v.getBigUint64(off, true);
    if (x > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`log: value ${x} at byte ${off} is out of range`);
    return Number(x);
  };
  if (log.length < 512 || v.getBigUint64(0, true) !== LOG_MAGIC) {
    throw new Error("log: bad magic (not a log-writes log)");
  }
  if (v.getBigUint64(8, true) !== 1n) throw new Error(`log: version ${v.getBigUint64(8, true)}, want 1`);
  const count = u64(16);
  const sectorSize = v.getUint32(24, true);
  if (sectorSize < 512 || sectorSize > 65536 || sectorSize & (sectorSize - 1)) {
    throw new Error(`log: sector size ${sectorSize}`);
  }
  const entries: LogEntry[] = [];
  let pos = sectorSize;
  for (let i = 0; i < count; i++) {
    if (pos + sectorSize > log.length) throw new Error(`log: entry ${i} at byte ${pos} is past the end`);
    const e: LogEntry = {
      index: i,
      sector: u64(pos),
      nrSectors: u64(pos + 8),
      flags: u64(pos + 16),
      dataOffset: pos + sectorSize,
    };
    const dataLen = u64(pos + 24);
    pos += sectorSize;
    if (e.flags & LOG_MARK) {
      if (dataLen > sectorSize - 32) throw new Error(`log: mark ${i} of ${dataLen} bytes`);
      e.mark = new TextDecoder().decode(
        log.subarray(e.dataOffset - sectorSize + 32, e.dataOffset - sectorSize + 32 + dataLen),
      );
    } else if (!(e.flags & LOG_DISCARD)) {
      pos += e.nrSectors * sectorSize;
      if (pos > log.length) throw new Error(`log: data of entry ${i} runs past the end`);
    }
    entries.push(e);
  }
  return { sectorSize, entries };
}

/** What the marks say must hold of a path at a point: its bytes, or that it is gone. */
export type Claim = { kind: "file"; size: number; hash: string } | { kind: "gone" };

/** One crash point: the image after entry `index` (a flush or FUA, or the end of the log). */
export interface CrashPoint {
  index: number;
  flags: number;
  /** the image at this point (a buffer reused by the next point: copy what you keep) */
  image: Uint8Array;
  /** path (relative to the workload's directory) → what must hold there */
  claims: Map<string, Claim>;
}

/** Applies a mark to the claims: `sync:PATH:SIZE:HASH`, `gone:PATH`, `dirty:PATH`; other marks are ignored. */
export function applyMark(claims: Map<string, Claim>, mark: string): void {
  const [what, path, size, hash] = mark.split(":");
  if (what === "sync" && path && hash) claims.set(path, { kind: "file", size: Number(size), hash });
  else if (what === "gone" && path) claims.set(path, { kind: "gone" });
  else if (what === "dirty" && path) claims.delete(path);
}

/**
 * Replays `log` onto a copy of `base` and yields the image at every flush
 * or FUA entry and after the last entry. Discarded ranges are zeroed.
 * @param every yield only every `every`-th point (and the last), default 1
 */
export function* replayPoints(base: Uint8Array, logBytes: Uint8Array, log: WriteLog, every = 1): Generator<CrashPoint> {
  const img = base.slice();
  const claims = new Map<string, Claim>();
  const ss = log.sectorSize;
  let n = 0;
  for (const [k, e] of log.entries.entries()) {
    if (e.mark !== undefined) applyMark(claims, e.mark);
    else if (e.nrSectors) {
      const at = e.sector * ss;
      const len = e.nrSectors * ss;
      if (at + len > img.length) {
        throw new Error(`log entry ${e.index} writes past the image (${at + len} > ${img.length})`);
      }
      if (e.flags & LOG_DISCARD) img.fill(0, at, at + len);
      else img.set(logBytes.subarray(e.dataOffset, e.dataOffset + len), at);
    }
    const last = k === log.entries.length - 1;
    if ((e.flags & (LOG_FLUSH | LOG_FUA) && n++ % every === 0) || last) {
      yield { index: e.index, flags: e.flags, image: img, claims: new Map(claims) };
    }
  }
}

/** FNV-1a 64 of `b`, as 16 hex digits (what vmtool's marks carry). */
export function fnv1a64(b: Uint8Array): string {
  let h = 0xcbf29ce484222325n;
  for (const x of b) h = BigInt.asUintN(64, (h ^ BigInt(x)) * 0x100000001b3n);
  return h.toString(16).padStart(16, "0");
}

/** How a filesystem's images are checked at a point. */
export interface PointChecker {
  /** problems of the filesystem at `image` after journal replay; empty when its checker finds it clean */
  fsck(image: Uint8Array): Promise<string[]>;
  /** the files below the workload's directory: relative path → contents (after journal replay) */
  files(image: Uint8Array): Promise<Map<string, Uint8Array>>;
}

/** What checking the points found. */
export interface PointsResult {
  points: number;
  claimsChecked: number;
  failures: string[];
}

/**
 * Checks every point: `checker.fsck` clean, and each claim holds in `checker.files`.
 * @param maxFailures stop collecting after this many
 */
export async function checkPoints(
  points: Iterable<CrashPoint>,
  checker: PointChecker,
  maxFailures = 20,
): Promise<PointsResult> {
  const res: PointsResult = { points: 0, claimsChecked: 0, failures: [] };
  for (const p of points) {
    res.points++;
    const at = `entry ${p.index}${p.flags & LOG_FLUSH ? " (flush)" : p.flags & LOG_FUA ? " (FUA)" : ""}`;
    const problems = await checker.fsck(p.image);
    if (problems.length) res.failures.push(`${at}: fsck: ${problems.slice(0, 5).join("; ")}`);
    const files = await checker.files(p.image);
    for (const [path, c] of p.claims) {
      res.claimsChecked++;
      const got = files.get(path);
      if (c.kind === "gone") {
        if (got) res.failures.push(`${at}: ${path} was durably removed but exists (${got.length} bytes)`);
      } else if (!got) res.failures.push(`${at}: ${path} was fsync'd (${c.size} bytes) but is missing`);
      else if (got.length !== c.size || fnv1a64(got) !== c.hash) {
        res.failures.push(
          `${at}: ${path} was fsync'd with ${c.size} bytes (${c.hash}) but has ${got.length} (${fnv1a64(got)})`,
        );
      }
    }
    if (res.failures.length >= maxFailures) break;
  }
  return res;
}

async function runTool(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
}

/**
 * The ext4 checker (the harness's self-test): `e2fsck -E journal_only -y` on a
 * copy replays the journal, then `e2fsck -fn` must exit 0; the files come
 * from `debugfs -R "rdump /DIR OUT"`.
 */
export function ext4Checker(dir: string): PointChecker {
  const tmp = Deno.makeTempDirSync({ prefix: "vexfs-lw-ext4-" });
  let replayed: { image: Uint8Array; path: string } | null = null;
  const prepare = async (image: Uint8Array) => {
    if (replayed?.image === image) return replayed.path;
    const path = `${tmp}/img`;
    await Deno.writeFile(path, image);
    const j = await runTool("e2fsck", ["-E", "journal_only", "-y", path]);
    if (j.code > 1) throw new Error(`e2fsck -E journal_only: exit ${j.code}: ${j.out}`);
    replayed = { image, path };
    return path;
  };
  return {
    async fsck(image) {
      replayed = null;
      const path = await prepare(image);
      const r = await runTool("e2fsck", ["-fn", path]);
      return r.code === 0 ? [] : [`e2fsck -fn exit ${r.code}: ${r.out.trim().split("\n").slice(0, 8).join(" | ")}`];
    },
    async files(image) {
      const path = await prepare(image);
      const out = `${tmp}/out`;
      await Deno.remove(out, { recursive: true }).catch(() => {});
      await Deno.mkdir(out);
      const r = await runTool("debugfs", ["-R", `rdump /${dir} ${out}`, path]);
      const files = new Map<string, Uint8Array>();
      const walk = async (d: string, rel: string) => {
        for await (const e of Deno.readDir(d)) {
          if (e.isDirectory) await walk(`${d}/${e.name}`, `${rel}${e.name}/`);
          else if (e.isFile) files.set(`${rel}${e.name}`, await Deno.readFile(`${d}/${e.name}`));
        }
      };
      try {
        await walk(`${out}/${dir}`, "");
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
        if (!/not found|File not found/i.test(r.out)) throw new Error(`debugfs rdump: ${r.out}`);
      }
      return files;
    },
  };
}

/**
 * The VexFS checker: `vexfs fsck -n` in process (`fsck` with `readOnly`,
 * which replays the journal into memory), and the files read through the
 * engine opened read-only (replaying likewise).
 */
export async function vexfsChecker(dir: string): Promise<PointChecker> {
  const { MemDevice } = await import("../device/mem.ts");
  const { fsck } = await import("../fsck/fsck.ts");
  const { Vexfs } = await import("../fs/fs.ts");
  const S_IFDIR = 0o040000;
  const S_IFREG = 0o100000;
  return {
    fsck(image) {
      const r = fsck(new MemDevice(image.slice(), { readOnly: true }), { readOnly: true });
      const bad = r.problems.filter((p) => p.severity !== "info");
      return Promise.resolve(
        bad.map((p) => `${p.severity} ${p.code} at ${p.where}: ${p.message}`).concat(
          r.exitCode === 0 || bad.length ? [] : [`exit ${r.exitCode}`],
        ),
      );
    },
    files(image) {
      const fs = Vexfs.openDevice(new MemDevice(image.slice(), { readOnly: true }), { readOnly: true });
      const files = new Map<string, Uint8Array>();
      try {
        let root;
        try {
          root = fs.resolve(`/${dir}`);
        } catch {
          return Promise.resolve(files);
        }
        const walk = (ino: number, rel: string) => {
          for (const e of fs.readdir(ino)) {
            const st = fs.getattr(e.ino);
            if ((st.mode & 0o170000) === S_IFDIR) walk(e.ino, `${rel}${e.name}/`);
            else if ((st.mode & 0o170000) === S_IFREG) files.set(`${rel}${e.name}`, fs.read(e.ino, 0, st.size));
          }
        };
        walk(root, "");
      } finally {
        fs.close();
      }
      return Promise.resolve(files);
    },
  };
}

/** Options of `recordWorkload`. */
export interface RecordOptions {
  kernel: import("./qemu.ts").KernelSeries;
  /** "ext4" (the harness's self-test) or "vexfs" (the module, `ko`) */
  fs: "ext4" | "vexfs";
  /** the filesystem image (changed by the run); keep a copy of it as the replay base */
  image: string;
  ko?: string;
  seed: number;
  ops: number;
  /** log device size in bytes (default 256 MiB, sparse) */
  logBytes?: number;
  timeoutMs?: number;
  /** the directory of the workload inside the filesystem (default "w") */
  dir?: string;
}

/**
 * Boots a VM that mounts `opts.image` through a log-writes target and runs
 * `vmtool crash-work` there; returns the log device's bytes and the VM result.
 */
export async function recordWorkload(
  opts: RecordOptions,
): Promise<{ log: Uint8Array; vm: import("./qemu.ts").VmResult }> {
  const { runInVm } = await import("./qemu.ts");
  const { staticTool } = await import("./static_tool.ts");
  const logImg = await Deno.makeTempFile({ prefix: "vexfs-lw-log-", suffix: ".img" });
  const dir = opts.dir ?? "w";
  try {
    await Deno.truncate(logImg, opts.logBytes ?? 256 << 20);
    const vm = await runInVm({
      kernel: opts.kernel,
      disks: [opts.image, logImg],
      modules: opts.fs === "vexfs" && opts.ko ? [opts.ko] : [],
      files: { "/bin/vmtool": await staticTool("vmtool.c") },
      timeoutMs: opts.timeoutMs ?? 600_000,
      script: `
t_check "modload dm_log_writes" modload dm_log_writes
sectors=$(cat /sys/block/vda/size)
t_check "dm-create log-writes" vmtool dm-create lw "0 $sectors log-writes $(cat /sys/block/vda/dev) $(cat /sys/block/vdb/dev)"
n=0; while [ ! -b /dev/dm-0 ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
mkdir -p /mnt/c
vmtool dm-message lw "mark start"
t_check "mount ${opts.fs} on log-writes" mount -t ${opts.fs} /dev/dm-0 /mnt/c
mkdir -p /mnt/c/${dir}
echo "lw: $(vmtool crash-work /mnt/c/${dir} lw ${opts.seed} ${opts.ops})"
t_check "umount" umount /mnt/c
t_check "dm-remove" vmtool dm-remove lw
sync
`,
    });
    return { log: await Deno.readFile(logImg), vm };
  } finally {
    await Deno.remove(logImg).catch(() => {});
  }
}
