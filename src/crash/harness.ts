/**
 * The crash-state harness: runs a workload (`workloads.ts`) on the engine
 * over a {@link RecordingDevice}, enumerates the images a power cut could
 * leave (`states.ts`), and checks each with the oracle (`oracle.ts`) — the
 * method of CrashMonkey (Mohan et al., "Finding Crash-Consistency Bugs with
 * Bounded Black-Box Crash Testing", OSDI 2018) on a dm-log-writes style log.
 *
 * A failing state is named by its workload id, the seed and its index in
 * the workload's state list; {@link reproduce} rebuilds and re-checks it
 * (and `src/crash/crash_test.ts` does so from the environment variables
 * `CRASH_WORKLOAD`, `CRASH_SEED`, `CRASH_STATE`).
 *
 * @example
 * ```ts
 * import { checkWorkload, makeBase } from "./harness.ts";
 * import { workloadById } from "./workloads.ts";
 * const base = makeBase();
 * const r = checkWorkload(base, workloadById("ace:write.fsync"), { seed: 1 });
 * console.log(r.states, r.failures.map((f) => f.messages));
 * ```
 * @module
 */
import { MemDevice } from "../device/mem.ts";
import { type LogEntry, RecordingDevice, type RecordingOptions } from "../device/recording.ts";
import { FsError } from "../errors.ts";
import { INCOMPAT_JOURNAL, SB_OFFSET, SB_SIZE } from "../format/constants.ts";
import { blockSizeOf, decodeSuperblock } from "../format/superblock.ts";
import { Vexfs } from "../fs/fs.ts";
import { computeLayout, writeFilesystem } from "../fs/mkfs.ts";
import { fsck } from "../fsck/fsck.ts";
import {
  checkSearch,
  claimsAt,
  compareClaims,
  fsckFindings,
  type PersistPoint,
  type Semantics,
  type Snapshot,
  snapshot,
  type Touched,
  touches,
} from "./oracle.ts";
import { type CrashKind, type CrashState, enumerateStates, StateBuilder } from "./states.ts";
import { type Persist, setupFileSet, type Workload, type WorkloadDriver } from "./workloads.ts";

/** The image every workload starts from: the ACE file set, synced and cleanly closed. */
export interface BaseImage {
  /** the image bytes (never modified; shared by every crash state) */
  bytes: Uint8Array;
  /** filesystem block size in bytes, also the atomic write unit of the crash model */
  blockSize: number;
  /** whether the image has a metadata journal (INCOMPAT_JOURNAL) */
  hasJournal: boolean;
  /** its tree, the persistence point every workload starts from */
  snap: Snapshot;
  /** what `fsck -n` finds on it (errors and warnings): anything here makes every crash state fail */
  fsckFindings: string[];
}

/** Options of {@link makeBase}. */
export interface BaseOptions {
  /** device bytes (default 4 MiB) */
  size?: number;
  /** bytes (default 1024) */
  blockSize?: number;
  /** false: no journal (`mkfs --no-journal`); default: whatever mkfs does by default */
  journal?: boolean;
}

/**
 * Formats an in-memory image (mkfs defaults but 1 KiB blocks and fixed
 * uuid, hash seed and time), creates the ACE file set and closes it.
 */
export function makeBase(opts: BaseOptions = {}): BaseImage {
  const size = opts.size ?? 4 << 20;
  const blockSize = opts.blockSize ?? 1024;
  const dev = new MemDevice(size, { name: "crash-base" });
  const mk = { blockSize, ...(opts.journal === false ? { journalBlocks: 0 } : {}) };
  const layout = computeLayout(size, mk);
  writeFilesystem(dev, layout, {
    ...mk,
    uuid: new Uint8Array(16).map((_, i) => i * 17 + 1),
    hashSeed: 0x5eed,
    time: 1_700_000_000,
  });
  const fs = Vexfs.openDevice(dev);
  setupFileSet(fs);
  fs.close();
  const bytes = dev.bytes;
  const sb = decodeSuperblock(bytes.subarray(SB_OFFSET, SB_OFFSET + SB_SIZE));
  const ro = Vexfs.openDevice(new MemDevice(bytes.slice(), { readOnly: true }), { readOnly: true });
  const snap = snapshot(ro);
  ro.close();
  const findings = fsckFindings(
    fsck(new MemDevice(bytes.slice(), { readOnly: true, name: "crash-base" }), { readOnly: true }),
  );
  return {
    bytes,
    blockSize: blockSizeOf(sb),
    hasJournal: (sb.featureIncompat & INCOMPAT_JOURNAL) !== 0,
    snap,
    fsckFindings: findings,
  };
}

/** A marker in the log: an operation starts, or a persistence point was reached. */
export type Marker =
  | { type: "op"; seq: number; name: string; touched: Touched; error?: string }
  | { type: "persist"; point: PersistPoint };

/** Runs workloads on the engine and records their markers ({@link WorkloadDriver} for the harness). */
export class Driver implements WorkloadDriver {
  readonly fs: Vexfs;
  readonly rec: RecordingDevice<Marker>;
  readonly openFiles = new Set<number>();
  #seq = 0;
  #created = new Set<number>();

  constructor(fs: Vexfs, rec: RecordingDevice<Marker>) {
    this.fs = fs;
    this.rec = rec;
  }

  op<T>(name: string, touched: Touched, fn: () => T): T | undefined {
    const m: Marker = { type: "op", seq: this.#seq++, name, touched };
    this.rec.mark("op", m);
    try {
      return fn();
    } catch (e) {
      if (!(e instanceof FsError)) throw e;
      m.error = e.code;
      return undefined;
    }
  }

  created(ino: number): void {
    this.#created.add(ino);
  }

  persist(how: Persist, ino: number): void {
    if (how === "sync") this.fs.sync();
    else this.fs.fsync(ino, how === "fdatasync");
    this.#point(how, ino, snapshot(this.fs));
  }

  unmount(): void {
    const snap = snapshot(this.fs);
    this.fs.close();
    this.#point("sync", 0, snap);
  }

  #point(how: PersistPoint["how"], ino: number, snap: Snapshot): void {
    this.rec.mark("persist", { type: "persist", point: { how, ino, snap, opSeq: this.#seq, created: this.#created } });
    this.#created = new Set();
  }
}

/** A workload's recorded run. */
export interface RecordedRun {
  workload: Workload;
  log: LogEntry<Marker>[];
  /** operations that failed with an errno (`name: ECODE`) */
  opErrors: string[];
}

/**
 * Runs `fn` with a deterministic `Date.now` (a fixed epoch, one millisecond
 * later at each call), so that a workload issues the same writes every time
 * it runs: the engine compares second-granular times (e.g. whether the
 * superblock changed since the last commit), and a second boundary falling
 * elsewhere would change the log and so which state an index names.
 */
export function withClock<T>(fn: () => T): T {
  const real = Date.now;
  let t = 1_750_000_000_000;
  Date.now = () => ++t;
  try {
    return fn();
  } finally {
    Date.now = real;
  }
}

/**
 * Runs `w` on a copy of the base image through a {@link RecordingDevice}
 * (the engine's open is recorded too), under {@link withClock}. The base
 * image is a persistence point (`how: "base"`, first log entry).
 * @throws whatever the workload throws other than an operation's FsError (a harness or engine bug)
 */
export function runWorkload(base: BaseImage, w: Workload, rec0: RecordingOptions = {}): RecordedRun {
  return withClock(() => record(base, w, rec0));
}

function record(base: BaseImage, w: Workload, rec0: RecordingOptions): RecordedRun {
  const rec = new RecordingDevice<Marker>(new MemDevice(base.bytes.slice(), { name: w.id }), rec0);
  rec.mark("persist", {
    type: "persist",
    point: { how: "base", ino: 0, snap: base.snap, opSeq: 0, created: new Set() },
  });
  const fs = Vexfs.openDevice(rec);
  const d = new Driver(fs, rec);
  w.run(d);
  if (!fs.closed) fs.close();
  const opErrors = rec.log.flatMap((e) =>
    e.kind === "mark" && e.payload.type === "op" && e.payload.error ? [`${e.payload.name}: ${e.payload.error}`] : []
  );
  return { workload: w, log: rec.log, opErrors };
}

/** Options of {@link checkWorkload}. */
export interface CheckOptions {
  /** seed of the random states (combined with the workload id); default 1 */
  seed?: number;
  /** random (`prefix`/`subset`) states per workload; default 8 */
  randomStates?: number;
  /** only states cut after the first write of operation number `skipOps` (0-based); default 0 (all) */
  skipOps?: number;
  /** what persistence points guarantee (oracle.ts); default "transaction" */
  semantics?: Semantics;
  /** check only the state with this index */
  only?: number;
  /** stop after this many failing states (default: check all) */
  maxFailures?: number;
  /** atomic write unit of the crash model in bytes (default the block size; 512 tears blocks into sectors) */
  unit?: number;
  /** record through a lying device (RecordingOptions.dropFlushes), to show that the oracle notices */
  dropFlushes?: RecordingOptions["dropFlushes"];
}

/** A crash state the oracle rejected. */
export interface Failure {
  workload: string;
  seed: number;
  /** index in the workload's state list */
  index: number;
  kind: CrashKind;
  /** log index of the cut and of the last completed flush */
  cut: number;
  durable: number;
  /** write pieces of the cut epoch that landed */
  landed: number;
  /** the last persistence point reached and the operations issued after it */
  context: string;
  messages: string[];
  /** a command line that re-checks just this state */
  repro: string;
}

/** What {@link checkWorkload} found. */
export interface WorkloadReport {
  workload: string;
  states: number;
  byKind: Record<CrashKind, number>;
  failures: Failure[];
  opErrors: string[];
  /** log counts */
  writes: number;
  flushes: number;
}

/** The seed of a workload's random states: FNV-1a of its id mixed with the run's seed. */
export function stateSeed(id: string, seed: number): number {
  let h = 2166136261 ^ seed;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** The command line that re-checks state `index` of workload `id` checked with `opts`. */
export function reproCommand(id: string, index: number, opts: CheckOptions, journal = true): string {
  return `CRASH_WORKLOAD='${id}' CRASH_STATE=${index} CRASH_SEED=${opts.seed ?? 1} ${
    journal ? "" : "CRASH_JOURNAL=0 "
  }` +
    `CRASH_RANDOM_STATES=${opts.randomStates ?? 8} CRASH_SKIP_OPS=${opts.skipOps ?? 0} ` +
    `CRASH_SEMANTICS=${opts.semantics ?? "transaction"} ${opts.unit ? `CRASH_UNIT=${opts.unit} ` : ""}` +
    `node_modules/deno/deno test --allow-all src/crash/crash_test.ts --filter reproduce`;
}

/** The crash states of a recorded run (deterministic for the same run, options and seed). */
export function statesOf(base: BaseImage, run: RecordedRun, opts: CheckOptions = {}): CrashState[] {
  let after = -1;
  const skip = opts.skipOps ?? 0;
  if (skip > 0) {
    const log = run.log;
    const at = log.findIndex((e) => e.kind === "mark" && e.payload.type === "op" && e.payload.seq === skip);
    if (at >= 0) {
      after = log.length;
      for (let j = at + 1; j < log.length; j++) {
        if (log[j].kind === "write") {
          after = j;
          break;
        }
      }
    }
  }
  return enumerateStates(run.log, {
    unit: opts.unit ?? base.blockSize,
    randomStates: opts.randomStates ?? 8,
    seed: stateSeed(run.workload.id, opts.seed ?? 1),
    after,
  });
}

/**
 * Checks one crash state: opens it with the engine (journal replay, orphan
 * recovery), reads the whole tree, compares it with the claims of the
 * persistence points reached (minus what later operations touched), checks
 * search against brute force, closes, and runs `fsck -n`.
 * @returns the oracle's complaints (empty: the state is fine)
 */
export function checkState(
  builder: StateBuilder,
  run: RecordedRun,
  s: CrashState,
  semantics: Semantics = "transaction",
): string[] {
  const log = run.log;
  const points: PersistPoint[] = [];
  const ops: { seq: number; touched: Touched }[] = [];
  for (let i = 0; i < s.cut; i++) {
    const e = log[i];
    if (e.kind !== "mark") continue;
    if (e.payload.type === "persist") points.push(e.payload.point);
    else ops.push(e.payload);
  }
  const claims = [...claimsAt(points, semantics).values()].filter((c) =>
    !ops.some((o) => o.seq >= c.opSeq && touches(o.touched, c))
  );
  const dev = builder.build(s, `${run.workload.id}#state`);
  const out: string[] = [];
  let fs: Vexfs;
  try {
    fs = Vexfs.openDevice(dev);
  } catch (e) {
    return [`the engine cannot open the image: ${e instanceof Error ? e.message : e}`];
  }
  try {
    const errors: string[] = [];
    const got = snapshot(fs, errors);
    out.push(...errors, ...compareClaims(claims, got));
    try {
      out.push(...checkSearch(fs, got));
    } catch (e) {
      out.push(`search check failed: ${e instanceof Error ? e.message : e}`);
    }
  } catch (e) {
    out.push(`reading the tree failed: ${e instanceof Error ? e.message : e}`);
  } finally {
    try {
      fs.close();
    } catch (e) {
      out.push(`closing failed: ${e instanceof Error ? e.message : e}`);
    }
  }
  const r = fsck(dev.reopen(), { readOnly: true });
  out.push(...fsckFindings(r));
  return out;
}

/** A line saying which persistence point a state reached and which operations it cut into or after. */
export function describeCut(run: RecordedRun, s: CrashState): string {
  let last = "base image";
  const after: string[] = [];
  for (let i = 0; i < s.cut; i++) {
    const e = run.log[i];
    if (e.kind !== "mark") continue;
    if (e.payload.type === "persist") {
      const p = e.payload.point;
      last = p.how === "base" ? "base image" : `${p.how}${p.ino ? ` of inode ${p.ino}` : ""} (after ${p.opSeq} ops)`;
      after.length = 0;
    } else after.push(e.payload.name + (e.payload.error ? ` (${e.payload.error})` : ""));
  }
  return `last persistence point: ${last}; issued after it: ${after.length ? after.join(", ") : "nothing"}`;
}

/**
 * Runs workload `w` and checks its crash states.
 * @returns counts and the failing states (each with a repro command)
 */
export function checkWorkload(base: BaseImage, w: Workload, opts: CheckOptions = {}): WorkloadReport {
  return checkRun(base, runWorkload(base, w, { dropFlushes: opts.dropFlushes }), opts);
}

/** {@link checkWorkload} of an already recorded run. */
export function checkRun(base: BaseImage, run: RecordedRun, opts: CheckOptions = {}): WorkloadReport {
  const w = run.workload;
  const seed = opts.seed ?? 1;
  const states = statesOf(base, run, opts);
  const builder = new StateBuilder(base.bytes, run.log, Math.min(opts.unit ?? base.blockSize, base.blockSize));
  const byKind: Record<CrashKind, number> = { flush: 0, prefix: 0, subset: 0 };
  const failures: Failure[] = [];
  let checked = 0;
  for (let i = 0; i < states.length; i++) {
    if (opts.only !== undefined && i !== opts.only) continue;
    if (opts.maxFailures !== undefined && failures.length >= opts.maxFailures) break;
    const s = states[i];
    byKind[s.kind]++;
    checked++;
    const messages = checkState(builder, run, s, opts.semantics);
    if (messages.length) {
      failures.push({
        workload: w.id,
        seed,
        index: i,
        kind: s.kind,
        cut: s.cut,
        durable: s.durable,
        landed: s.landed.length,
        context: describeCut(run, s),
        messages,
        repro: reproCommand(w.id, i, opts, base.hasJournal),
      });
    }
  }
  let writes = 0, flushes = 0;
  for (const e of run.log) {
    if (e.kind === "write") writes++;
    else if (e.kind === "flush") flushes++;
  }
  return { workload: w.id, states: checked, byKind, failures, opErrors: run.opErrors, writes, flushes };
}

/** Sums of several {@link WorkloadReport}s. */
export interface Totals {
  workloads: number;
  states: number;
  byKind: Record<CrashKind, number>;
  failures: Failure[];
  ms: number;
}

/** Adds `r` into `t`. */
export function addReport(t: Totals, r: WorkloadReport): void {
  t.workloads++;
  t.states += r.states;
  for (const k of Object.keys(r.byKind) as CrashKind[]) t.byKind[k] += r.byKind[k];
  t.failures.push(...r.failures);
}

/** Empty totals. */
export function newTotals(): Totals {
  return { workloads: 0, states: 0, byKind: { flush: 0, prefix: 0, subset: 0 }, failures: [], ms: 0 };
}

/** A short multi-line report of totals and the first failures. */
export function formatTotals(name: string, t: Totals, show = 5): string {
  const lines = [
    `${name}: ${t.workloads} workloads, ${t.states} crash states (flush ${t.byKind.flush}, prefix ${t.byKind.prefix}, ` +
    `subset ${t.byKind.subset}), ${t.failures.length} failing, ${(t.ms / 1000).toFixed(1)} s`,
  ];
  for (const f of t.failures.slice(0, show)) {
    lines.push(
      `  FAIL ${f.workload} state ${f.index} (${f.kind}, cut ${f.cut}, durable ${f.durable}, ${f.landed} pieces)`,
      `    ${f.context}`,
      ...f.messages.slice(0, 4).map((m) => `    - ${m}`),
      `    repro: ${f.repro}`,
    );
  }
  return lines.join("\n");
}

/**
 * Re-checks one state (or every state, without `index`) of workload `id`
 * and describes the log around it, for debugging a failure.
 * @returns the failures, and the image bytes of the state when `index` is given
 */
export function reproduce(
  base: BaseImage,
  w: Workload,
  seed: number,
  index?: number,
  opts: CheckOptions = {},
): { report: WorkloadReport; image?: Uint8Array; log: string[] } {
  const run = runWorkload(base, w);
  const report = checkRun(base, run, { ...opts, seed, only: index });
  const log: string[] = [];
  run.log.forEach((e, i) => {
    if (e.kind === "write") log.push(`${i}: write ${e.offset}+${e.data.length} (block ${e.offset / base.blockSize})`);
    else if (e.kind === "flush") log.push(`${i}: flush`);
    else if (e.payload.type === "op") log.push(`${i}: op ${e.payload.seq} ${e.payload.name}`);
    else log.push(`${i}: persist ${e.payload.point.how} ${e.payload.point.ino || ""}`);
  });
  let image: Uint8Array | undefined;
  if (index !== undefined) {
    const states = statesOf(base, run, { ...opts, seed });
    if (states[index]) image = new StateBuilder(base.bytes, run.log, base.blockSize).build(states[index]).materialize();
  }
  return { report, image, log };
}
