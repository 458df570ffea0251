/**
 * The hybrid search's latency through a FUSE mount, for `vexfs bench --text` (bench/text.ts): the image is mounted
 * with `vexfs mount` (the daemon in its own process, as a user runs it), then per query, interleaved, on one held
 * directory descriptor, hits as inode numbers (as the engine figures): the hybrid search (`VEXFS_IOC_HYBRID`, RRF,
 * k 10, the query text tokenized here with the collection's analyzer and sent as terms, as the client does), the
 * vector side alone (`VEXFS_IOC_SEARCH2`, `DirSearcher`), and the text side alone (the hybrid ioctl with terms
 * only); and, once per query, `hybridSearch` of src/ioctl/client_hybrid.ts as `vexfs search` calls it (opens the
 * directory, asks TEXT_INDEX for the analyzer, names each hit with one INO_PATH ioctl). A daemon without the
 * hybrid ioctl (EOPNOTSUPP/ENOTTY) makes the result "not available" with the reason, never a failure of the run.
 * @module
 */
import { FsError } from "../src/errors.ts";
import { DirSearcher } from "../src/ioctl/client_search.ts";
import { ioctl, openPath, system } from "../src/ioctl/client_sys.ts";
import { decodeHybridReply, decodeTextIndexReply, encodeHybrid, encodeTextIndex } from "../src/ioctl/abi_hybrid.ts";
import { VEXFS_IOC_HYBRID, VEXFS_IOC_TEXT_INDEX } from "../src/ioctl/abi_layout.ts";
import { makeAnalyzer } from "../src/text/analyzer.ts";
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
    const fd = await openPath(dir);
    try {
      const stBuf = encodeTextIndex({ op: "stats" });
      const rc = await ioctl(fd, VEXFS_IOC_TEXT_INDEX, stBuf);
      if (rc < 0) throw new FsError("EIO", `TEXT_INDEX stats failed with errno ${-rc}`);
      const params = decodeTextIndexReply(stBuf).params;
      if (!params) throw new FsError("ENODATA", `${dir} has no text index`);
      const analyzer = makeAnalyzer(params);
      const raw = async (vector: Float32Array | null, text: string | null) => {
        const buf = encodeHybrid({ k: 10, query: vector, terms: text === null ? null : analyzer.terms(text) });
        const r = await ioctl(fd, VEXFS_IOC_HYBRID, buf);
        if (r < 0) throw new FsError("EIO", `VEXFS_IOC_HYBRID failed with errno ${-r}`);
        return decodeHybridReply(buf).hits.map((h) => h.ino);
      };
      const runs = {
        hybrid: (i: number) => raw(vec(i), queries[i]),
        vector: (i: number) => s.search(vec(i), 10),
        text: (i: number) => raw(null, queries[i]),
        client: (i: number) => hybridSearch(dir, { vector: vec(i), text: queries[i], k: 10 }),
      };
      const names = ["hybrid", "vector", "text", "client"] as const;
      const us: Record<string, number[]> = { hybrid: [], vector: [], text: [], client: [] };
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
        client: latency(us.client),
        vectorMethod: method,
      };
    } finally {
      await s.close();
      await system().close(fd);
    }
  } finally {
    await unmountAndWait(m, 120_000);
    try {
      Deno.removeSync(mnt);
    } catch { /* busy or gone */ }
  }
}
