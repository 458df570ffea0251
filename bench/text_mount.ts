/**
 * The hybrid search's latency through a FUSE mount, for `vexfs bench --text` (bench/text.ts): the image is mounted
 * with `vexfs mount` (the daemon in its own process, as a user runs it), then per query, interleaved: the hybrid
 * search (`hybridSearch` of src/ioctl/client_hybrid.ts: `VEXFS_IOC_HYBRID`, RRF, k 10, hits named by path), the
 * vector side alone (`VEXFS_IOC_SEARCH2` on a held directory descriptor, `DirSearcher`), and the text side alone
 * (the hybrid ioctl with text only). A daemon without the hybrid ioctl (EOPNOTSUPP/ENOTTY) makes the result
 * "not available" with the reason, never a failure of the run.
 * @module
 */
import { FsError } from "../src/errors.ts";
import { DirSearcher } from "../src/ioctl/client_search.ts";
import { hybridSearch } from "../src/ioctl/client_hybrid.ts";
import { vexfsArgv } from "../src/mount/self.ts";
import { findMount, unmountAndWait } from "../src/mount/unmount.ts";
import { percentile } from "./text_corpus.ts";
import type { HybridLatency, Latency } from "./text.ts";

function latency(us: number[]): Latency {
  return {
    count: us.length,
    p50Us: percentile(us, 50),
    p95Us: percentile(us, 95),
    meanUs: us.reduce((a, b) => a + b, 0) / us.length,
  };
}

/**
 * Mounts `image` on `mnt` (created), measures, unmounts.
 * @param queries query texts (the first 200 are used)
 * @param vectors the documents' vectors (query i uses vector (i · 7919) mod n, as the engine measurement)
 * @param passes timed passes after one warm-up pass
 */
export async function mountHybridLatency(
  image: string,
  mnt: string,
  queries: string[],
  vectors: Float32Array[],
  passes: number,
): Promise<HybridLatency> {
  Deno.mkdirSync(mnt, { recursive: true });
  const [exe, ...args] = vexfsArgv(["mount", image, mnt]);
  const out = await new Deno.Command(exe, { args, stdin: "null", stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    return { available: false, reason: `vexfs mount failed: ${new TextDecoder().decode(out.stderr).trim()}` };
  }
  const m = findMount(mnt);
  if (!m) return { available: false, reason: `vexfs mount returned but ${mnt} is not mounted` };
  const dir = `${mnt}/docs`;
  try {
    const n = Math.min(queries.length, 200);
    const vec = (i: number) => vectors[(i * 7919) % vectors.length];
    try {
      await hybridSearch(dir, { vector: vec(0), text: queries[0], k: 10 });
    } catch (e) {
      if (e instanceof FsError && (e.code === "EOPNOTSUPP" || e.code === "ENOTTY")) {
        return { available: false, reason: e.message };
      }
      throw e;
    }
    const s = await DirSearcher.open(dir);
    try {
      const runs = {
        hybrid: (i: number) => hybridSearch(dir, { vector: vec(i), text: queries[i], k: 10 }),
        vector: (i: number) => s.search(vec(i), 10),
        text: (i: number) => hybridSearch(dir, { text: queries[i], k: 10 }),
      };
      const names = ["hybrid", "vector", "text"] as const;
      const us: Record<string, number[]> = { hybrid: [], vector: [], text: [] };
      for (let p = 0; p <= passes; p++) {
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < names.length; j++) {
            const name = names[(i + p + j) % names.length];
            const t0 = performance.now();
            await runs[name](i);
            if (p > 0) us[name].push((performance.now() - t0) * 1e3);
          }
        }
      }
      const method = (await s.search(vec(0), 10)).method.method;
      return {
        available: true,
        hybrid: latency(us.hybrid),
        vector: latency(us.vector),
        text: latency(us.text),
        vectorMethod: method,
      };
    } finally {
      await s.close();
    }
  } finally {
    await unmountAndWait(m, 120_000);
    try {
      Deno.removeSync(mnt);
    } catch { /* busy or gone */ }
  }
}
