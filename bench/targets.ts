/**
 * The things measured, all on the same disk (under one work directory):
 *
 * - `disk`: a plain directory of the host filesystem (no FUSE);
 * - `passthrough_ll`: libfuse's example mounted over another directory
 *   (`passthrough_ll -f -o source=SRC MNT`, its defaults: multi-threaded,
 *   1 s attribute/entry timeouts, no writeback cache);
 * - `vexfs`: `vexfs mkfs` of an image file (with its metadata journal, the
 *   default), then `vexfs mount IMAGE MNT` (a daemon that returns once mounted);
 * - `vexfs-nojournal`: the same with `vexfs mkfs --no-journal`, so that the
 *   journal's cost is measured in the same run (journal ÷ no journal);
 * - `vexfs-nostats`: `vexfs` with the daemon started with `VEXFS_STATS=off`
 *   (no request counters, docs/MONITORING.md), so that their cost is
 *   measured in the same run.
 *
 * Each is started with a `start*` function and stopped with
 * {@linkcode Target.stop}, which unmounts and waits for the server to exit.
 * @module
 */
import { BenchError, lastLines, run, selfArgv, waitUntil, which } from "./exec.ts";
import { mountAt, pidsWithArg, processAlive } from "./system.ts";

/** Names of the targets, in report order. */
export const TARGET_IDS = ["disk", "passthrough_ll", "vexfs", "vexfs-nojournal", "vexfs-nostats"] as const;
/** One of {@linkcode TARGET_IDS}. */
export type TargetId = typeof TARGET_IDS[number];
/** The VexFS targets (with and without the metadata journal). */
export const VEXFS_TARGETS: readonly TargetId[] = ["vexfs", "vexfs-nojournal", "vexfs-nostats"];
/** Whether `id` is a VexFS target (vector workloads run only there). */
export function isVexfs(id: TargetId): boolean {
  return VEXFS_TARGETS.includes(id);
}

/** A mounted (or plain) directory the workloads run in. */
export interface Target {
  id: TargetId;
  /** directory where the workloads create their files */
  dir: string;
  /** how it was set up, for the report */
  description: string;
  /** pids of the FUSE server (empty for the disk) */
  serverPids: number[];
  /** remarks about the set-up for the report */
  notes?: string[];
  /** unmounts and waits until the server has exited (idempotent) */
  stop(): Promise<void>;
}

/** A target that could not be set up, with the reason. */
export interface Unavailable {
  id: TargetId;
  reason: string;
}

/** The plain directory `root/disk`. */
export async function startDisk(root: string): Promise<Target> {
  const dir = `${root}/disk`;
  await Deno.mkdir(dir, { recursive: true });
  return { id: "disk", dir, description: `plain directory ${dir}`, serverPids: [], stop: () => Promise.resolve() };
}

/** Unmounts `mnt` with fusermount3 (falling back to umount) unless it is not mounted. */
async function unmount(mnt: string): Promise<void> {
  if (!mountAt(mnt)) return;
  const tools: [string, string[]][] = [["fusermount3", ["-u", mnt]], ["umount", [mnt]]];
  let last = "";
  for (const [cmd, args] of tools) {
    if (!which(cmd)) continue;
    const r = await run(cmd, args, { timeoutMs: 120_000 });
    if (r.code === 0) return;
    last = `${cmd}: ${lastLines(r.stderr)}`;
  }
  if (mountAt(mnt)) throw new BenchError(`cannot unmount ${mnt}: ${last}`);
}

/** Waits for the processes to exit; SIGTERM after `graceMs`, SIGKILL 5 s later. */
async function waitExit(pids: number[], graceMs: number): Promise<void> {
  const alive = () => pids.some(processAlive);
  if (await waitUntil(() => !alive(), graceMs)) return;
  for (const sig of ["SIGTERM", "SIGKILL"] as const) {
    for (const p of pids.filter(processAlive)) {
      try {
        Deno.kill(p, sig);
      } catch { /* gone */ }
    }
    if (await waitUntil(() => !alive(), 5000)) return;
  }
}

/**
 * Mounts `passthrough_ll` (the binary at `binary`) from `root/pt-src` on
 * `root/pt-mnt`, in the foreground as a child of this process.
 * @throws BenchError with the server's stderr if it does not mount within 10 s
 */
export async function startPassthrough(root: string, binary: string): Promise<Target> {
  const src = `${root}/pt-src`;
  const mnt = `${root}/pt-mnt`;
  await Deno.mkdir(src, { recursive: true });
  await Deno.mkdir(mnt, { recursive: true });
  const child = new Deno.Command(binary, {
    args: ["-f", "-o", `source=${src}`, mnt],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const drain = (async () => {
    const dec = new TextDecoder();
    for await (const ch of child.stderr) stderr += dec.decode(ch, { stream: true });
  })().catch(() => {});
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const up = await waitUntil(() => exited || mountAt(mnt)?.fsType === "fuse.passthrough_ll", 10_000);
  if (!up || exited) {
    if (!exited) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }
    const st = await status;
    await drain;
    throw new BenchError(`passthrough_ll did not mount on ${mnt} (exit ${st.code}): ${lastLines(stderr)}`);
  }
  let stopped = false;
  return {
    id: "passthrough_ll",
    dir: mnt,
    description: `${binary} -f -o source=${src} ${mnt}`,
    serverPids: [child.pid],
    async stop() {
      if (stopped) return;
      stopped = true;
      await unmount(mnt);
      const t = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, 30_000);
      await status;
      clearTimeout(t);
      await drain;
    },
  };
}

/** Result of {@linkcode vexfsMountAvailable}. */
export type Availability = { ok: true } | { ok: false; reason: string };

/**
 * Whether this program has a working `vexfs mount` (while it is planned but
 * not implemented, its help says "not available yet").
 */
export async function vexfsMountAvailable(): Promise<Availability> {
  const [exe, ...args] = selfArgv(["mount", "--help"]);
  const r = await run(exe, args, { timeoutMs: 60_000 });
  const text = r.stdout + r.stderr;
  if (r.code !== 0) return { ok: false, reason: `'vexfs mount --help' failed: ${lastLines(text, 1)}` };
  if (/not available yet/i.test(text)) {
    return { ok: false, reason: "'vexfs mount' is not available yet in this version" };
  }
  return { ok: true };
}

/**
 * Formats `root/ID.img` (a sparse image of `imageBytes` with `inodes`
 * inodes; `vexfs-nojournal` with `--no-journal`) and mounts it on
 * `root/ID-mnt` with `vexfs mount` (daemon mode).
 * The mount is taken as ready when `vexfs mount` exits 0, or when the mount
 * point is mounted (if `vexfs mount` then does not return within 10 s, the
 * run goes on and {@linkcode Target.notes} says so).
 * @throws BenchError with vexfs's message if mkfs or mount fails; a mount
 *   that appeared anyway is undone first
 */
export async function startVexfs(
  root: string,
  imageBytes: number,
  inodes: number,
  id: "vexfs" | "vexfs-nojournal" | "vexfs-nostats" = "vexfs",
): Promise<Target> {
  const img = `${root}/${id}.img`;
  const mnt = `${root}/${id}-mnt`;
  const journalArgs = id === "vexfs-nojournal" ? ["--no-journal"] : [];
  await Deno.mkdir(mnt, { recursive: true });
  try {
    await Deno.remove(img);
  } catch { /* not there */ }
  const [exe, ...mkfsArgs] = selfArgv([
    "mkfs",
    img,
    "-s",
    String(imageBytes),
    "-N",
    String(inodes),
    "-L",
    "bench",
    ...journalArgs,
  ]);
  const mk = await run(exe, mkfsArgs, { timeoutMs: 300_000 });
  if (mk.code !== 0) throw new BenchError(`vexfs mkfs ${img} failed: ${lastLines(mk.stderr || mk.stdout)}`);
  return await mountVexfs(
    img,
    mnt,
    id,
    `vexfs mkfs ${img} -s ${imageBytes} -N ${inodes}${journalArgs.map((a) => " " + a).join("")}; `,
  );
}

/**
 * Mounts the VexFS image `img` on the directory `mnt` with `vexfs mount`
 * (daemon mode), as {@linkcode startVexfs} does after its mkfs.
 * The mount is taken as ready when `vexfs mount` exits 0, or when the mount
 * point is mounted (if `vexfs mount` then does not return within 10 s, the
 * run goes on and {@linkcode Target.notes} says so).
 * @param id the target's name in the report
 * @param describe text put before the mount command in the target's description
 * @throws BenchError with vexfs's message if the mount fails; a mount that
 *   appeared anyway is undone first
 */
export async function mountVexfs(img: string, mnt: string, id: TargetId, describe = ""): Promise<Target> {
  await Deno.mkdir(mnt, { recursive: true });
  const [exe2, ...mountArgs] = selfArgv(["mount", img, mnt]);
  const t0 = performance.now();
  // vexfs-nostats: the daemon keeps no request counters (it inherits this environment)
  const env = id === "vexfs-nostats" ? { VEXFS_STATS: "off" } : undefined;
  const child = new Deno.Command(exe2, { args: mountArgs, env, stdin: "null", stdout: "piped", stderr: "piped" })
    .spawn();
  let output = "";
  const dec = new TextDecoder();
  const drain = Promise.all([child.stdout, child.stderr].map(async (st) => {
    for await (const ch of st) output += dec.decode(ch, { stream: true });
  })).catch(() => {});
  let exitCode: number | undefined;
  const status = child.status.then((s) => (exitCode = s.code));
  const kill = () => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  };
  const undo = async () => {
    await unmount(mnt).catch(() => {});
    await waitExit(pidsWithArg(mnt), 30_000);
  };
  const up = await waitUntil(() => exitCode !== undefined || mountAt(mnt) !== undefined, 120_000);
  const notes: string[] = [];
  if (exitCode === undefined && up) {
    // mounted; vexfs mount should return at once
    if (!await waitUntil(() => exitCode !== undefined, 10_000)) {
      notes.push(
        `'vexfs mount' had not returned 10 s after ${mnt} was mounted (contract: it returns once the mount is ready); ` +
          `the benchmark went on with the mount`,
      );
    }
  }
  if (!up || (exitCode !== undefined && exitCode !== 0)) {
    if (exitCode === undefined) kill();
    await status;
    await drain;
    await undo();
    throw new BenchError(
      up
        ? `vexfs mount failed (exit ${exitCode}): ${lastLines(output)}`
        : `vexfs mount did not mount ${mnt} within 120 s: ${lastLines(output)}`,
    );
  }
  if (!await waitUntil(() => mountAt(mnt) !== undefined, 10_000)) {
    await undo();
    throw new BenchError(`vexfs mount returned but ${mnt} is not a mount point`);
  }
  const readyS = (performance.now() - t0) / 1000;
  // the daemon has the mount point as an argument (the front process too, while it runs)
  let pids: number[] = [];
  await waitUntil(() => (pids = pidsWithArg(mnt).filter((p) => p !== child.pid)).length > 0, 2000);
  let stopped = false;
  return {
    id,
    dir: mnt,
    description: `${describe}vexfs mount ${img} ${mnt} (ready in ${readyS.toFixed(1)} s)`,
    serverPids: pids,
    notes,
    async stop() {
      if (stopped) return;
      stopped = true;
      await unmount(mnt);
      // the daemon writes back and exits after the unmount
      await waitExit(pids, 120_000);
      if (exitCode === undefined) {
        const t = setTimeout(kill, 10_000);
        await status;
        clearTimeout(t);
      }
      await drain;
    },
  };
}
