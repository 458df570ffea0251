/**
 * `vexfs demo`: the end-to-end run on real data. Formats a fresh image,
 * imports the 778 SAP Fiori documentation chunks of
 * `@sap-ux/fiori-docs-embeddings` (384-d MiniLM embeddings) as files under
 * /docs, runs searches whose answers are known, checks the filesystem, and
 * reports every step with its time.
 * @module
 */
import type { Command } from "commander";
import { fileNameFor, type FioriDoc, loadFiori } from "../src/data/fiori.ts";
import { formatBytes } from "../src/device/probe.ts";
import { Vexfs } from "../src/fs/fs.ts";
import { mkfs } from "../src/fs/mkfs.ts";
import type { SearchHit } from "../src/fs/vectors.ts";
import { OfflineBackend } from "./backend.ts";
import { runFsck, summaryLine } from "./fsck.ts";
import { scoreText } from "./search.ts";
import {
  action,
  c,
  CliError,
  defineCommand,
  examples,
  formatMs,
  parseSize,
  progress,
  say,
  table,
  warn,
  yielder,
} from "./util.ts";

const DOCS_DIR = "/docs";
const TOP_K = 5;

interface Step {
  step: string;
  detail: string;
  ms: number;
  ok: boolean;
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

/** Registers `vexfs demo`. */
export function register(program: Command): void {
  const cmd = defineCommand(
    program,
    "demo",
    "end-to-end demo on real data: format, import 778 embedded documents, search, check",
  )
    .option(
      "--image <path>",
      "image file to create (must not exist; default: in a new temporary directory)",
    )
    .option("--size <size>", "image size", parseSize, 256 * 2 ** 20)
    .option("--keep", "keep the image afterwards (it is deleted otherwise)")
    .action(
      action(
        "demo",
        async (o: { image?: string; size: number; keep?: boolean }) => {
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
              `${s.ok ? c.green("✓") : c.red("✗")} ${c.bold(step)}: ${s.detail} ${c.dim(`(${formatMs(s.ms)})`)}`,
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
                }, ${r.layout.blockCount} blocks of ${r.layout.blockSize} bytes, ${r.layout.inodeCount} inodes`,
            );

            // import
            const names: string[] = [];
            const titleOf = new Map<string, string>();
            await timed(
              "import",
              async () => {
                const fs = Vexfs.open(image);
                const b = new OfflineBackend(image, fs);
                const enc = new TextEncoder();
                let bytes = 0;
                const bar = progress("importing", ds.docs.length, "docs");
                const tick = yielder(64);
                try {
                  b.mkdirp(DOCS_DIR);
                  b.createCollection(DOCS_DIR, {
                    dim: ds.dim,
                    metric: "cosine",
                    elem: "f32",
                  });
                  const dir = fs.resolve(DOCS_DIR);
                  const used = new Set<string>();
                  for (const d of ds.docs) {
                    const name = fileNameFor(d.title, d.id, used);
                    const ino = fs.create(dir, name);
                    const data = enc.encode(d.content);
                    if (data.length) {
                      fs.write(ino, 0, data);
                    }
                    fs.collections.setVector(ino, d.vector);
                    names.push(name);
                    titleOf.set(name, d.title);
                    bytes += data.length;
                    bar.increment();
                    await tick();
                  }
                } finally {
                  bar.stop();
                  fs.close();
                }
                return bytes;
              },
              (bytes) =>
                `${ds.docs.length} files (${
                  formatBytes(bytes)
                } of text) with ${ds.docs.length} vectors into ${DOCS_DIR} (collection: 384-d cosine f32)`,
            );

            // searches
            const fs = Vexfs.open(image, { readOnly: true });
            try {
              const dir = fs.resolve(DOCS_DIR);
              const show = (hits: SearchHit[], mark: Set<string>) => {
                say(table(
                  ["rank", "cosine", "document title"],
                  hits.map((h, i) => [
                    i + 1,
                    scoreText(h.score),
                    (mark.has(h.path) ? c.green : (s: string) => s)(
                      clip(titleOf.get(h.path) ?? h.path, 72),
                    ),
                  ]),
                  ["right", "right", "left"],
                ));
              };
              const bruteForce = (q: Float32Array, k: number) =>
                ds.docs.map((d) => cosine(q, d.vector)).sort((x, y) => y - x)
                  .slice(0, k);
              for (const i of pickDistinct(ds.docs, 3)) {
                const hits = await timed(
                  `search like "${clip(ds.docs[i].title, 28)}"`,
                  () => fs.collections.search(dir, ds.docs[i].vector, TOP_K),
                  (h) => {
                    const first = h[0];
                    const self = first?.path === names[i];
                    return self
                      ? `itself first with cosine ${scoreText(first.score)}; next ${h[1] ? scoreText(h[1].score) : "-"}`
                      : `NOT sensible: first hit is ${first?.path ?? "nothing"}, expected ${names[i]}`;
                  },
                  (h) => h[0]?.path === names[i] && Math.abs(h[0].score - 1) < 1e-3,
                );
                show(hits, new Set([names[i]]));
                if (
                  !(hits[0]?.path === names[i] &&
                    Math.abs(hits[0].score - 1) < 1e-3)
                ) {
                  failed = true;
                }
              }
              const [a, bIdx] = pickPair(ds.docs, pickDistinct(ds.docs, 1)[0]);
              const mean = new Float32Array(ds.dim);
              for (let j = 0; j < ds.dim; j++) {
                mean[j] = (ds.docs[a].vector[j] + ds.docs[bIdx].vector[j]) / 2;
              }
              const want = new Set([names[a], names[bIdx]]);
              const pairHits = await timed(
                "search mean of two documents",
                () => fs.collections.search(dir, mean, TOP_K),
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
              say(
                c.dim(
                  `  query = mean of "${ds.docs[a].title}" and "${ds.docs[bIdx].title}"`,
                ),
              );
              show(pairHits, want);
              if (![...want].every((n) => pairHits.some((x) => x.path === n))) {
                failed = true;
              }
              // the engine's answer must equal an in-memory brute force over the dataset
              const probes = pickDistinct(ds.docs, 20);
              const vecOf = new Map(
                names.map((n, i) => [n, ds.docs[i].vector]),
              );
              const bad = await timed(
                "verify against brute force",
                () => {
                  let bad = 0;
                  for (const i of probes) {
                    const q = ds.docs[i].vector;
                    const got = fs.collections.search(dir, q, TOP_K);
                    const exp = bruteForce(q, TOP_K);
                    const same = got.length === exp.length &&
                      got.every((h, r) =>
                        Math.abs(h.score - exp[r]) < 1e-5 &&
                        Math.abs(cosine(q, vecOf.get(h.path)!) - h.score) < 1e-5
                      );
                    if (!same) bad++;
                  }
                  return bad;
                },
                (bad) =>
                  bad
                    ? `${bad} of ${probes.length} top-${TOP_K} lists differ from the in-memory brute force`
                    : `${probes.length} top-${TOP_K} lists equal the in-memory brute force`,
                (bad) => bad === 0,
              );
              if (bad) failed = true;
            } finally {
              fs.close();
            }

            const report = await timed(
              "fsck",
              () => runFsck(image, true),
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
                    formatMs(s.ms),
                  ]),
                  [c.bold("total"), "", formatMs(total)],
                ],
                ["left", "left", "right"],
              ));
            }
            if (o.keep) {
              say(
                `Image kept: ${image}  (try: vexfs info ${image}; vexfs ls -l ${image} ${DOCS_DIR})`,
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
384-d all-MiniLM-L6-v2 embeddings), mkfs a 256 MiB image, import every chunk
as /docs/<title>.md with its text as content and its embedding as vector (a
cosine/f32 collection), search with documents' own embeddings (each must come
back first with cosine ~1) and with the mean of two documents (both must be in
the top ${TOP_K}), compare the engine's results with an in-memory brute force,
and run fsck. Exits 1 if any check fails.`,
  );
  examples(cmd, ["vexfs demo", "vexfs demo --keep --image /tmp/docs.img"]);
}
