/**
 * Where VexFS's time goes (`vexfs bench vectors --profile`): V8's sampling
 * CPU profiler, started and stopped around one part of a runner (the build,
 * or the search at one ef) through `node:inspector` in the same process, and
 * a summary of the profile (self time by function and by source file).
 * @module
 */
import { Session } from "node:inspector";

/** A V8 CPU profile (the Chrome DevTools `Profiler.Profile`). */
export interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber?: number };
    hitCount?: number;
    children?: number[];
  }[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** Starts the sampling profiler in this process; the returned function stops it and gives the profile. */
export async function startProfile(intervalUs = 200): Promise<() => Promise<CpuProfile>> {
  const s = new Session();
  s.connect();
  const post = <T>(method: string, params?: Record<string, unknown>) =>
    new Promise<T>((res, rej) =>
      // deno-lint-ignore no-explicit-any
      s.post(method, params as any, (e: Error | null, r: unknown) => (e ? rej(e) : res(r as T)))
    );
  await post("Profiler.enable");
  await post("Profiler.setSamplingInterval", { interval: intervalUs });
  await post("Profiler.start");
  return async () => {
    const r = await post<{ profile: CpuProfile }>("Profiler.stop");
    await post("Profiler.disable");
    s.disconnect();
    return r.profile;
  };
}

/** One line of a profile summary. */
export interface ProfileEntry {
  name: string;
  ms: number;
  /** share of the sampled time, 0..1 */
  share: number;
}

/** What {@linkcode summarizeProfile} gives. */
export interface ProfileSummary {
  /** sampled milliseconds */
  totalMs: number;
  /** self time by function (`name file:line`), largest first */
  functions: ProfileEntry[];
  /** self time by source file (relative to the repository; `wasm`, `(gc)`, `(program)`, runtime), largest first */
  files: ProfileEntry[];
}

/** The short name of a script URL: relative to `root` when inside it, `wasm` for WebAssembly, else its last parts. */
export function shortUrl(url: string, root: string): string {
  if (!url) return "";
  if (url.startsWith("wasm://")) return "wasm";
  let p = url;
  try {
    if (url.startsWith("file://")) p = decodeURIComponent(new URL(url).pathname);
  } catch { /* keep */ }
  const r = root.endsWith("/") ? root : root + "/";
  if (p.startsWith(r)) p = p.slice(r.length);
  if (p.startsWith("ext:") || p.startsWith("node:")) return `runtime (${p.split("/")[0]})`;
  const nm = p.lastIndexOf("node_modules/");
  if (nm >= 0) return p.slice(nm);
  return p;
}

/**
 * Self time of a profile by function and by file: each sample is charged the
 * time since the previous one (`timeDeltas`), or the sampling interval from
 * `hitCount` when a profile has no samples.
 * @param root the repository directory, to shorten paths
 * @param top how many entries of each list to keep
 */
export function summarizeProfile(p: CpuProfile, root: string, top = 15): ProfileSummary {
  const self = new Map<number, number>();
  if (p.samples?.length && p.timeDeltas?.length) {
    for (let i = 0; i < p.samples.length; i++) {
      const dt = Math.max(0, p.timeDeltas[i] ?? 0);
      self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + dt);
    }
  } else {
    const hits = p.nodes.reduce((s, n) => s + (n.hitCount ?? 0), 0);
    const per = hits ? (p.endTime - p.startTime) / hits : 0;
    for (const n of p.nodes) self.set(n.id, (n.hitCount ?? 0) * per);
  }
  const byFn = new Map<string, number>();
  const byFile = new Map<string, number>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const label = (n: CpuProfile["nodes"][number]) => {
    const { functionName, url, lineNumber } = n.callFrame;
    return `${functionName || "(anonymous)"} ${shortUrl(url, root) || "(native)"}${url ? `:${lineNumber + 1}` : ""}`;
  };
  let total = 0;
  for (const n of p.nodes) {
    const us = self.get(n.id) ?? 0;
    if (!us) continue;
    const { functionName, url } = n.callFrame;
    // the profiler's own frames (the inspector session) and idle time are not the program's
    if (functionName === "(idle)" || url.startsWith("node:inspector") || url.includes("inspector")) continue;
    const special = functionName.startsWith("(") && !url;
    let file = special ? functionName.replace("(garbage collector)", "(gc)") : shortUrl(url, root) || "(native)";
    let fn = special ? functionName : label(n);
    if (url.startsWith("wasm://")) {
      // wasm functions have no names here: charge them to the nearest JavaScript caller
      let a = parent.get(n.id);
      // past other wasm frames and V8's nameless js-to-wasm wrappers
      const glue = (x: number) => {
        const f = byId.get(x)!.callFrame;
        return f.url.startsWith("wasm://") || (!f.url && f.functionName.startsWith("js-to-wasm"));
      };
      while (a !== undefined && glue(a)) a = parent.get(a);
      const caller = a !== undefined ? byId.get(a)! : undefined;
      fn = caller ? `wasm called by ${label(caller)}` : "wasm";
      file = caller ? `wasm (from ${shortUrl(caller.callFrame.url, root) || "(native)"})` : "wasm";
    }
    byFn.set(fn, (byFn.get(fn) ?? 0) + us);
    byFile.set(file, (byFile.get(file) ?? 0) + us);
    total += us;
  }
  const list = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => ({
      name,
      ms: us / 1000,
      share: total ? us / total : 0,
    }));
  return { totalMs: total / 1000, functions: list(byFn), files: list(byFile) };
}
