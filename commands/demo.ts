/**
 * `vexfs demo`: the main job, end to end on real data, the way a user runs
 * it: format a fresh image, mount it (`vexfs mount`, a FUSE daemon in its
 * own process), write the 778 SAP Fiori documentation chunks of
 * `@sap-ux/fiori-docs-embeddings` as files with ordinary file I/O, set their
 * 384-d MiniLM embeddings and search them through the vector ioctls, show
 * `ls`/`cat`/`df` on the mount, unmount, compare with a search of the
 * unmounted image, check the collection's HNSW index (current, recall@k
 * through the graph), and fsck. Every step is reported with its time.
 * @module
 */
import type { Command } from "commander";
import { fileNameFor, type FioriDoc, loadFiori } from "../src/data/fiori.ts";
import { formatBytes } from "../src/device/probe.ts";
import { Vexfs } from "../src/fs/fs.ts";
import { mkfs } from "../src/fs/mkfs.ts";
import type { SearchHit } from "../src/fs/vectors.ts";
import { searchHybrid } from "../src/search/hybrid.ts";
import { parseWhere } from "../src/search/where.ts";
import * as ioctl from "../src/ioctl/client.ts";
import { vexfsArgv } from "../src/mount/self.ts";
import { findMount, type MountEntry, unmountAndWait } from "../src/mount/unmount.ts";
import { runFsck, summaryLine } from "./fsck.ts";
import { scoreText } from "./search.ts";
import {
  action,
  c,
  CliError,
  defineCommand,
  examples,
  formatDuration,
  optionWithDefault,
  parseSize,
  progress,
  say,
  table,
  warn,
} from "./util.ts";

const DOCS_DIR = "/docs";
const TOP_K = 5;
/** The keyword query of the demo (issue 12). */
const TEXT_QUERY = "deploy app to cloud foundry";

interface Step {
  step: string;
  detail: string;
  ms: number;
  ok: boolean;
}

/** Runs a host tool and returns its stdout (throws with its stderr on failure). */
async function sh(cmd: string, args: string[]): Promise<string> {
  const o = await new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  if (!o.success) throw new CliError(`${cmd} ${args.join(" ")}: ${dec.decode(o.stderr).trim()}`);
  return dec.decode(o.stdout);
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : s.slice(0, n - 1) + "…";
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na && nb ? dot / Math.sqrt(na * nb) : 0;
}

/** Indices of `count` documents spread over the dataset whose vectors have no near-duplicate. */
function pickDistinct(docs: FioriDoc[], count: number): number[] {
  const out: number[] = [];
  for (let j = 0; j < docs.length && out.length < count; j++) {
    const i = Math.floor((j * 7919) % docs.length); // deterministic spread
    if (out.includes(i)) continue;
    let dup = false;
    for (let k = 0; k < docs.length && !dup; k++) {
      if (k !== i && cosine(docs[i].vector, docs[k].vector) > 0.9999) {
        dup = true;
      }
    }
    if (!dup) out.push(i);
  }
  return out;
}

/** Two distinct documents from different categories (and titles) for the "mean of two" query. */
function pickPair(docs: FioriDoc[], first: number): [number, number] {
  const a = docs[first];
  for (let k = 1; k < docs.length; k++) {
    const j = (first + k * 389) % docs.length;
    const b = docs[j];
    if (
      b.category !== a.category && b.title !== a.title &&
      cosine(a.vector, b.vector) < 0.5
    ) return [first, j];
  }
  return [first, (first + 1) % docs.length];
}

/** The demo's step runner: runs `fn`, prints and records the step with its detail and whether its check passed. */
type Timed = <T>(
  step: string,
  fn: () => T | Promise<T>,
  detail: (r: T) => string,
  ok?: (r: T) => boolean,
) => Promise<T>;

/**
 * The keyword and hybrid search steps (issue 12) on the unmounted image: each file's `user.category` xattr from
 * the dataset (engine), the collection's text (BM25) index (`vexfs index build IMAGE /docs --text`, the CLI), then
 * through the engine a keyword search, a hybrid search (`--like` a document + `--text`, RRF) and a keyword search
 * filtered by category.
 * @returns whether every check passed
 */
async function textSteps(
  timed: Timed,
  image: string,
  docs: FioriDoc[],
  names: string[],
  titleOf: Map<string, string>,
): Promise<boolean> {
  let ok = true;
  const categoryOf = new Map(names.map((n, i) => [n, docs[i].category]));
  await timed(
    "user.category xattrs (engine)",
    () => {
      const fs = Vexfs.open(image);
      try {
        const dir = fs.resolve(DOCS_DIR);
        const enc = new TextEncoder();
        let n = 0;
        names.forEach((name, i) => {
          if (!docs[i].category) return;
          fs.setxattr(fs.lookup(dir, name), "user.category", enc.encode(docs[i].category));
          n++;
        });
        return n;
      } finally {
        fs.close();
      }
    },
    (n) => `${n} files carry their dataset category, e.g. user.category="${docs[0].category}"`,
  );
  say(c.dim(`  $ vexfs index build ${image} ${DOCS_DIR} --text`));
  const built = await timed(
    "vexfs index build --text",
    async () => {
      const [exe, ...args] = vexfsArgv(["index", "build", image, DOCS_DIR, "--text"]);
      const r = await new Deno.Command(exe, { args, stdin: "null", stdout: "piped", stderr: "piped" }).output();
      if (!r.success) {
        throw new CliError(
          `vexfs index build ${image} ${DOCS_DIR} --text failed (exit ${r.code}): ` +
            new TextDecoder().decode(r.stderr).trim(),
        );
      }
      const fs = Vexfs.open(image, { readOnly: true });
      try {
        return fs.collections.text.stats(fs.resolve(DOCS_DIR));
      } finally {
        fs.close();
      }
    },
    (st) =>
      `${st.docCount} documents, ${st.terms} terms, ${formatBytes(st.fileBytes)} for ` +
      `${formatBytes(st.textBytes)} of text (${(st.fileBytes / st.textBytes).toFixed(2)}×), ` +
      `${st.fresh ? "fresh" : "NOT fresh"}`,
    (st) => st.fresh && st.docCount === docs.length && st.fileBytes <= 2 * st.textBytes,
  );
  if (!(built.fresh && built.docCount === docs.length && built.fileBytes <= 2 * built.textBytes)) ok = false;
  const fs = Vexfs.open(image, { readOnly: true });
  try {
    const dir = fs.resolve(DOCS_DIR);
    const inoOf = new Map(names.map((n) => [n, fs.lookup(dir, n)]));
    const analyzer = fs.collections.text.analyzerOf(dir);
    const has = (name: string, terms: string[]) => {
      const counts = analyzer.document(new TextDecoder().decode(fs.read(inoOf.get(name)!, 0, 1 << 24))).counts;
      return terms.filter((t) => counts.has(t));
    };
    const terms = analyzer.terms(TEXT_QUERY);
    const showText = (hits: SearchHit[]) =>
      say(table(
        ["rank", "BM25", "category", "document title"],
        hits.map((h, i) => [i + 1, h.score.toFixed(2), categoryOf.get(h.path) ?? "", clip(titleOf.get(h.path)!, 60)]),
        ["right", "right", "left", "left"],
      ));

    say(c.dim(`  (as: vexfs search ${image} ${DOCS_DIR} --text '${TEXT_QUERY}')`));
    const kw = await timed(
      `keyword search "${TEXT_QUERY}"`,
      () => fs.collections.text.search(dir, TEXT_QUERY, TOP_K),
      (r) => {
        const top = r.hits[0];
        const found = top ? has(top.path, terms) : [];
        return `${r.method.matched} of ${r.method.docs} documents match; the first hit holds ${found.length} of the ` +
          `${terms.length} query words (${found.join(", ")})`;
      },
      (r) => r.hits.length === TOP_K && has(r.hits[0].path, terms).length === terms.length,
    );
    showText(kw.hits);
    if (!(kw.hits.length === TOP_K && has(kw.hits[0].path, terms).length === terms.length)) ok = false;

    // hybrid: like a document about something else, plus the keywords; each fused score is RRF's (k 60)
    const rrf = (h: { vector: { rank: number } | null; text: { rank: number } | null }) =>
      (h.vector ? 1 / (60 + h.vector.rank) : 0) + (h.text ? 1 / (60 + h.text.rank) : 0);
    const hybridOk = (hits: { score: number; vector: { rank: number } | null; text: { rank: number } | null }[]) =>
      hits.length === TOP_K && hits.some((h) => h.vector) && hits.some((h) => h.text) &&
      hits.every((h) => Math.abs(h.score - rrf(h)) < 1e-9);
    const like = pickDistinct(docs, 3)[1]; // a document about something else than the keywords
    const likeName = names[like];
    say(c.dim(`  (as: vexfs search ${image} ${DOCS_DIR} --like '${likeName}' --text '${TEXT_QUERY}')`));
    const hy = await timed(
      `hybrid search like "${clip(docs[like].title, 24)}" + text`,
      () =>
        searchHybrid(fs, dir, {
          vector: docs[like].vector,
          text: TEXT_QUERY,
          k: TOP_K,
          exclude: new Set([inoOf.get(likeName)!]),
        }),
      (r) => {
        const both = r.hits.filter((h) => h.vector && h.text).length;
        const v = r.hits.filter((h) => h.vector && !h.text).length;
        const t = r.hits.filter((h) => !h.vector && h.text).length;
        return `RRF of both rankings (each score = Σ 1/(60 + rank)): ${both} hits found by both, ${v} by the vector ` +
          `only, ${t} by the keywords only`;
      },
      (r) => hybridOk(r.hits),
    );
    say(table(
      ["rank", "RRF", "vector rank", "text rank", "document title"],
      hy.hits.map((h, i) => [
        i + 1,
        h.score.toFixed(4),
        h.vector ? String(h.vector.rank) : "-",
        h.text ? String(h.text.rank) : "-",
        clip(titleOf.get(h.path)!, 60),
      ]),
      ["right", "right", "right", "right", "left"],
    ));
    if (!hybridOk(hy.hits)) ok = false;

    // the same keywords among one category's files
    const cat = categoryOf.get(kw.hits[0].path) ?? "";
    const where = parseWhere([`user.category = "${cat}"`]);
    const inCat = names.filter((n) => categoryOf.get(n) === cat).length;
    say(c.dim(`  (as: vexfs search ${image} ${DOCS_DIR} --text '${TEXT_QUERY}' --where 'user.category = "${cat}"')`));
    const fl = await timed(
      `keyword search --where user.category="${cat}"`,
      () => fs.collections.text.search(dir, TEXT_QUERY, TOP_K, { where }),
      (r) =>
        `${r.method.matched} matching documents among the ${inCat} of that category (${kw.method.matched} ` +
        `unfiltered); every hit is in it`,
      (r) =>
        r.hits.length > 0 && r.hits.every((h) => categoryOf.get(h.path) === cat) &&
        r.method.matched < kw.method.matched,
    );
    showText(fl.hits);
    if (!(fl.hits.length > 0 && fl.hits.every((h) => categoryOf.get(h.path) === cat))) ok = false;
  } finally {
    fs.close();
  }
  return ok;
}

/** Registers `vexfs demo`. */
export function register(program: Command): void {
  const cmd = defineCommand(
    program,
    "demo",
    "end-to-end demo on real data: mkfs, mount, write 778 embedded documents, search by ioctl, unmount, fsck",
  )
    .option(
      "--image <path>",
      "image file to create (must not exist; default: in a new temporary directory)",
    )
    .addOption(
      optionWithDefault("--size <size>", "image size (bytes, or 512M, 1G)", 256 * 2 ** 20, "256 MiB", parseSize),
    )
    .option("--keep", "keep the image afterwards (it is deleted otherwise)")
    .option("-q, --quiet", "no progress bars or lines on stderr (the steps still print)")
    .action(
      action(
        "demo",
        async (o: { image?: string; size: number; keep?: boolean; quiet?: boolean }) => {
          const steps: Step[] = [];
          const timed = async <T>(
            step: string,
            fn: () => T | Promise<T>,
            detail: (r: T) => string,
            ok: (r: T) => boolean = () => true,
          ): Promise<T> => {
            const t0 = performance.now();
            const r = await fn();
            const s = {
              step,
              detail: detail(r),
              ms: performance.now() - t0,
              ok: ok(r),
            };
            steps.push(s);
            say(
              `${s.ok ? c.green("✓") : c.red("✗")} ${c.bold(step)}: ${s.detail} ${c.dim(`(${formatDuration(s.ms)})`)}`,
            );
            return r;
          };
          let tmpDir: string | undefined;
          let image: string;
          if (o.image) {
            image = o.image;
            let exists = true;
            try {
              Deno.statSync(image);
            } catch {
              exists = false;
            }
            if (exists) {
              throw new CliError(
                `${image} already exists; the demo formats a new image: remove it or choose another --image`,
              );
            }
          } else {
            tmpDir = Deno.makeTempDirSync({ prefix: "vexfs-demo-" });
            image = `${tmpDir}/demo.img`;
          }
          let failed = false;
          let mounted = null as MountEntry | null;
          let mountDir: string | undefined;
          const t0 = performance.now();
          try {
            say(c.bold(`VexFS demo: ${image}`));
            const ds = await timed(
              "load dataset",
              () => loadFiori(),
              (d) => `${d.docs.length} documents, ${d.dim}-d embeddings (@sap-ux/fiori-docs-embeddings)`,
            );
            await timed(
              "mkfs",
              () => mkfs(image, { size: o.size, label: "vexfs-demo" }),
              (r) =>
                `${
                  formatBytes(r.deviceBytes)
                }, ${r.layout.blockCount} blocks of ${r.layout.blockSize} bytes, ${r.layout.inodeCount} inodes, ${
                  formatBytes(r.layout.journalBlocks * r.layout.blockSize)
                } jbd2 journal`,
            );

            // mount: the daemon is a separate process, as for a user
            const mnt = `${tmpDir ?? Deno.makeTempDirSync({ prefix: "vexfs-demo-" })}/mnt`;
            mountDir = mnt;
            Deno.mkdirSync(mnt, { recursive: true });
            await timed(
              "mount",
              async () => {
                const [exe, ...args] = vexfsArgv(["mount", image, mnt]);
                const r = await new Deno.Command(exe, { args, stdin: "null", stdout: "inherit", stderr: "inherit" })
                  .output();
                if (!r.success) throw new CliError(`vexfs mount ${image} ${mnt} failed (exit ${r.code})`);
                mounted = findMount(mnt);
                if (!mounted) throw new CliError(`vexfs mount returned but ${mnt} is not mounted`);
                return mounted;
              },
              (m) => `${m.fstype} daemon serving ${mnt} (${m.options})`,
            );
            const docsDir = `${mnt}${DOCS_DIR}`;

            // ordinary file I/O through the kernel, then vectors by ioctl
            const names: string[] = [];
            const titleOf = new Map<string, string>();
            const bytes = await timed(
              "write files",
              async () => {
                await Deno.mkdir(docsDir);
                const enc = new TextEncoder();
                const used = new Set<string>();
                let bytes = 0;
                const bar = progress("demo: writing", ds.docs.length, { unit: "files", quiet: o.quiet });
                try {
                  for (const d of ds.docs) {
                    const name = fileNameFor(d.title, d.id, used);
                    const data = enc.encode(d.content);
                    await Deno.writeFile(`${docsDir}/${name}`, data);
                    names.push(name);
                    titleOf.set(name, d.title);
                    bytes += data.length;
                    bar.increment();
                  }
                } finally {
                  bar.stop();
                }
                return bytes;
              },
              (bytes) => `${ds.docs.length} files (${formatBytes(bytes)}) written with Deno.writeFile into ${DOCS_DIR}`,
            );
            await timed(
              "create collection (ioctl)",
              () => ioctl.createCollection(docsDir, { dim: ds.dim, metric: "cosine", elem: "f32" }),
              (x) => `VEXFS_IOC_CREATE_COLLECTION on ${DOCS_DIR}: collection ${x.id}, ${x.dim}-d ${x.metric} ${x.elem}`,
            );
            await timed(
              "set vectors (batch ioctl)",
              async () => {
                const items: ioctl.BatchItem[] = [];
                for (let i = 0; i < ds.docs.length; i++) {
                  const st = await Deno.stat(`${docsDir}/${names[i]}`);
                  items.push({ ino: st.ino!, vector: ds.docs[i].vector });
                }
                return await ioctl.setVectors(docsDir, items);
              },
              (n) =>
                `${n} vectors in batches of VEXFS_IOC_SET_VECTORS (${
                  formatBytes(bytes)
                } of text now carries ${n} vectors)`,
              (n) => n === ds.docs.length,
            );

            // what ordinary tools see
            await timed(
              "ls, cat, df on the mount",
              async () => {
                const ls = await sh("ls", ["-l", docsDir]);
                const lines = ls.split("\n").filter(Boolean);
                say(c.dim(`  $ ls -l ${docsDir} | head -4`));
                for (const l of lines.slice(0, 4)) say(`  ${l}`);
                const first = names[pickDistinct(ds.docs, 1)[0]];
                const text = await sh("cat", [`${docsDir}/${first}`]);
                say(c.dim(`  $ cat '${docsDir}/${first}' | head -c 200`));
                say(`  ${clip(text.replace(/\s+/g, " "), 200)}`);
                const df = await sh("df", ["-h", mnt]);
                say(c.dim(`  $ df -h ${mnt}`));
                for (const l of df.split("\n").filter(Boolean)) say(`  ${l}`);
                return lines.length - 1;
              },
              (n) => `ls lists ${n} files; cat and df work as on any filesystem`,
              (n) => n === ds.docs.length,
            );

            // searches by ioctl
            const search = (q: Float32Array, k: number) => ioctl.searchWithPaths(docsDir, q, k);
            const show = (hits: SearchHit[], mark: Set<string>) => {
              say(table(
                ["rank", "cosine", "document title"],
                hits.map((h, i) => [
                  i + 1,
                  scoreText(h.score),
                  (mark.has(h.path) ? c.green : (s: string) => s)(clip(titleOf.get(h.path) ?? h.path, 72)),
                ]),
                ["right", "right", "left"],
              ));
            };
            const bruteForce = (q: Float32Array, k: number) =>
              ds.docs.map((d) => cosine(q, d.vector)).sort((x, y) => y - x).slice(0, k);
            for (const i of pickDistinct(ds.docs, 3)) {
              const hits = await timed(
                `search (ioctl) like "${clip(ds.docs[i].title, 24)}"`,
                () => search(ds.docs[i].vector, TOP_K),
                (h) => {
                  const first = h[0];
                  return first?.path === names[i]
                    ? `itself first with cosine ${scoreText(first.score)}; next ${h[1] ? scoreText(h[1].score) : "-"}`
                    : `NOT sensible: first hit is ${first?.path ?? "nothing"}, expected ${names[i]}`;
                },
                (h) => h[0]?.path === names[i] && Math.abs(h[0].score - 1) < 1e-3,
              );
              show(hits, new Set([names[i]]));
              if (!(hits[0]?.path === names[i] && Math.abs(hits[0].score - 1) < 1e-3)) failed = true;
            }
            const [a, bIdx] = pickPair(ds.docs, pickDistinct(ds.docs, 1)[0]);
            const mean = new Float32Array(ds.dim);
            for (let j = 0; j < ds.dim; j++) mean[j] = (ds.docs[a].vector[j] + ds.docs[bIdx].vector[j]) / 2;
            const want = new Set([names[a], names[bIdx]]);
            const pairHits = await timed(
              "search (ioctl) mean of two documents",
              () => search(mean, TOP_K),
              (h) => {
                const ranks = [names[a], names[bIdx]].map((n) => h.findIndex((x) => x.path === n) + 1);
                return ranks.every((r) => r > 0)
                  ? `both documents found, at ranks ${ranks.join(" and ")}`
                  : `NOT sensible: ${
                    ranks.map((r, k) => `${[names[a], names[bIdx]][k]} ${r ? `rank ${r}` : `not in top ${TOP_K}`}`)
                      .join(", ")
                  }`;
              },
              (h) => [...want].every((n) => h.some((x) => x.path === n)),
            );
            say(c.dim(`  query = mean of "${ds.docs[a].title}" and "${ds.docs[bIdx].title}"`));
            show(pairHits, want);
            if (![...want].every((n) => pairHits.some((x) => x.path === n))) failed = true;

            // the mount's answers must equal an in-memory brute force over the dataset
            const probes = pickDistinct(ds.docs, 20);
            const vecOf = new Map(names.map((n, i) => [n, ds.docs[i].vector]));
            const mountAnswers: SearchHit[][] = [];
            const bad = await timed(
              "verify against brute force",
              async () => {
                let bad = 0;
                for (const i of probes) {
                  const q = ds.docs[i].vector;
                  const got = await search(q, TOP_K);
                  mountAnswers.push(got);
                  const exp = bruteForce(q, TOP_K);
                  const same = got.length === exp.length &&
                    got.every((h, r) =>
                      Math.abs(h.score - exp[r]) < 1e-5 && Math.abs(cosine(q, vecOf.get(h.path)!) - h.score) < 1e-5
                    );
                  if (!same) bad++;
                }
                return bad;
              },
              (bad) =>
                bad
                  ? `${bad} of ${probes.length} top-${TOP_K} lists differ from the in-memory brute force`
                  : `${probes.length} top-${TOP_K} lists by ioctl equal the in-memory brute force`,
              (bad) => bad === 0,
            );
            if (bad) failed = true;

            await timed(
              "unmount",
              async () => {
                await unmountAndWait(mounted!, 120_000);
                mounted = null;
              },
              () => `the daemon wrote everything back and marked the superblock clean`,
            );

            // the same searches on the unmounted image, through the engine directly
            const differ = await timed(
              "search the unmounted image",
              () => {
                const fs = Vexfs.open(image, { readOnly: true });
                try {
                  const dir = fs.resolve(DOCS_DIR);
                  let differ = 0;
                  probes.forEach((i, n) => {
                    const off = fs.collections.search(dir, ds.docs[i].vector, TOP_K);
                    const on = mountAnswers[n];
                    if (
                      off.length !== on.length ||
                      off.some((h, r) =>
                        h.ino !== on[r].ino || h.path !== on[r].path || Math.fround(h.score) !== on[r].score
                      )
                    ) differ++;
                  });
                  return differ;
                } finally {
                  fs.close();
                }
              },
              (d) =>
                d
                  ? `${d} of ${probes.length} result lists differ between the mount and the image`
                  : `${probes.length} result lists identical to those on the mount (inodes, paths, f32 scores)`,
              (d) => d === 0,
            );
            if (differ) failed = true;

            // the collection's HNSW index, kept by the daemon with every vector it set
            const graph = await timed(
              "HNSW index of the unmounted image",
              () => {
                const fs = Vexfs.open(image, { readOnly: true });
                try {
                  const dir = fs.resolve(DOCS_DIR);
                  const st = fs.collections.indexStats(dir);
                  const recallAt = (ef: number) => {
                    let hit = 0;
                    let graphMs = 0;
                    let exactMs = 0;
                    for (const d of ds.docs) {
                      let t = performance.now();
                      const a = fs.collections.searchEx(dir, d.vector, TOP_K, { ef, paths: false });
                      graphMs += performance.now() - t;
                      if (a.method.method !== "hnsw") throw new Error(`ef ${ef} was answered by ${a.method.method}`);
                      t = performance.now();
                      const want = new Set(
                        fs.collections.search(dir, d.vector, TOP_K, { exact: true, paths: false })
                          .map((h) => h.ino),
                      );
                      exactMs += performance.now() - t;
                      for (const h of a.hits) if (want.has(h.ino)) hit++;
                    }
                    return { ef, recall: hit / (TOP_K * ds.docs.length), graphUs: graphMs * 1e3 / ds.docs.length };
                  };
                  return { st, points: [recallAt(10), recallAt(64)] };
                } finally {
                  fs.close();
                }
              },
              ({ st, points }) =>
                `${st.graph?.nodes ?? 0} nodes, ${st.graph?.levels.length ?? 0} levels, ${
                  st.current ? "current with the vectors" : "NOT current"
                }; recall@${TOP_K} over all ${ds.docs.length} documents: ${
                  points.map((p) => `${p.recall.toFixed(3)} at ef ${p.ef} (${p.graphUs.toFixed(0)} µs/query)`).join(
                    ", ",
                  )
                }`,
              ({ st, points }) =>
                st.index === "hnsw" && st.current === true && st.graph?.nodes === ds.docs.length &&
                points[1].recall >= 0.95,
            );
            if (!(graph.st.current && graph.points[1].recall >= 0.95)) failed = true;

            if (!(await textSteps(timed, image, ds.docs, names, titleOf))) failed = true;

            const report = await timed(
              "fsck",
              () => runFsck(image, true, o.quiet),
              (r) => {
                const errs = r.problems.filter((p) => p.severity === "error").length;
                return r.exitCode === 0
                  ? `clean: ${r.stats.files} files, ${r.stats.vectors} vectors, ${r.problems.length} findings`
                  : `exit code ${r.exitCode}, ${errs} errors`;
              },
              (r) => r.exitCode === 0,
            );
            if (report.exitCode !== 0) {
              failed = true;
              for (const p of report.problems) {
                warn(`  ${p.severity} ${p.code} ${p.where}: ${p.message}`);
              }
            }
            say(c.dim(summaryLine(report)));
          } finally {
            const still = mounted;
            if (still) {
              try {
                await unmountAndWait(still, 120_000);
                mounted = null;
              } catch (e) {
                warn(`could not unmount ${still.mountpoint}: ${e instanceof Error ? e.message : e}`);
              }
            }
            if (mountDir && !tmpDir) {
              try {
                Deno.removeSync(mountDir);
                Deno.removeSync(mountDir.replace(/\/mnt$/, ""));
              } catch { /* busy or gone */ }
            }
            const total = performance.now() - t0;
            if (steps.length) {
              say();
              say(table(
                ["step", "result", "time"],
                [
                  ...steps.map((
                    s,
                  ) => [
                    `${s.ok ? c.green("✓") : c.red("✗")} ${s.step}`,
                    s.detail,
                    formatDuration(s.ms),
                  ]),
                  [c.bold("total"), "", formatDuration(total)],
                ],
                ["left", "left", "right"],
              ));
            }
            if (mounted) {
              warn(`${mounted.mountpoint} is still mounted; leaving ${image} in place`);
            } else if (o.keep) {
              say(
                `Image kept: ${image}  (try: vexfs info ${image}; vexfs mount ${image} /mnt; vexfs search /mnt${DOCS_DIR} ...)`,
              );
            } else {
              try {
                if (tmpDir) {
                  Deno.removeSync(tmpDir, { recursive: true });
                } else Deno.removeSync(image);
              } catch { /* already gone */ }
            }
          }
          if (failed) throw new CliError("some checks failed (see above)");
          say(c.green("Demo finished: all checks passed."));
        },
      ),
    );
  cmd.addHelpText(
    "after",
    `
Steps: load the dataset (778 chunks of the SAP Fiori tools documentation with
384-d all-MiniLM-L6-v2 embeddings), mkfs an image of --size, mount it with
'vexfs mount' (FUSE; needs root or fusermount3 and /dev/fuse), write every
chunk as /docs/<title>.md with Deno.writeFile, make /docs a cosine/f32
collection (with the default HNSW index) and set the embeddings with the
batch ioctl, show ls/cat/df on the mount,
search by ioctl with documents' own embeddings (each must come back first
with cosine ~1) and with the mean of two documents (both must be in the top
${TOP_K}), compare with an in-memory brute force, unmount, search the unmounted
image (results must be identical), check that the HNSW graph the daemon kept
is current and measure its recall@${TOP_K} over every document (≥ 0.95 at ef 64),
then, on the image: set each file's user.category xattr from the dataset,
build the collection's text (BM25) index with 'vexfs index build IMAGE /docs
--text' (at most 2x the text), and through the engine search the keywords '${TEXT_QUERY}' (the first hit must hold every
query word), a hybrid search like another document plus those keywords (RRF:
hits from both rankings, each score the sum of 1/(60 + rank)), and the
keywords with --where user.category=... (every hit in that category); run
fsck. Exits 1 if any check fails.`,
  );
  examples(cmd, ["vexfs demo", "vexfs demo --keep --image /tmp/docs.img"]);
}
