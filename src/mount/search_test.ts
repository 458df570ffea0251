/**
 * Vector search through a real mount on real data (issue 3 §4): the 778
 * SAP Fiori documentation chunks (384-d MiniLM embeddings, cosine) and
 * 3,000 MNIST digits (784-d pixels, l2) are written as files with
 * `Deno.writeFile`, their vectors set with the ioctl client, and searched
 * with `VEXFS_IOC_SEARCH` (k = 10 and 256, several queries, whole
 * collection and subdirectories). Every answer is compared with
 * (a) an independent brute force in this file (exact, f64, ties by inode,
 * FORMAT.md §8.4) and (b) the offline engine's search on the unmounted
 * image; the xattr view of every vector is compared with its bytes.
 * Last, the documented refusals of the ioctls (docs/IOCTL.md §3) through
 * the mount, each changing nothing.
 */
import { ERRNO } from "../errors.ts";
import { fileNameFor, type FioriDoc, loadFiori } from "../data/fiori.ts";
import { loadMnist } from "../data/mnist.ts";
import { Vexfs } from "../fs/fs.ts";
import type { CollectionInfo, SearchHit } from "../fs/vectors.ts";
import {
  encodeCollectionInfo,
  encodeCreateCollection,
  encodeGetVector,
  encodeSearch,
  encodeSetVector,
  HDR,
  ioc,
  IOC_READ,
  IOC_WRITE,
  SEARCH,
  VECTOR,
  VEXFS_IOC_COLLECTION_INFO,
  VEXFS_IOC_CREATE_COLLECTION,
  VEXFS_IOC_GET_VECTOR,
  VEXFS_IOC_SEARCH,
  VEXFS_IOC_SET_VECTOR,
  VEXFS_IOC_TYPE,
} from "../ioctl/abi.ts";
import {
  collectionInfo,
  createCollection,
  deleteVector,
  getVector,
  type Metric,
  search,
  searchWithPaths,
  setVector,
} from "../ioctl/client.ts";
import { assert, assertEquals, assertRejectsFsError } from "../test_assert.ts";
import { mountTest, withMount } from "./_testutil.ts";
import * as posix from "./_posix.ts";

const enc = new TextEncoder();

// ------------------------------------------------------------------ raw calls (this process does not serve the mount)

/** The result of `f`, or the errno of the PosixError it threw. */
function errnoOf<T>(f: () => T): T | number {
  try {
    return f();
  } catch (e) {
    if (e instanceof posix.PosixError) return e.errno;
    throw e;
  }
}

/** Sets an xattr; 0 or the errno. */
function setXattr(path: string, name: string, value: Uint8Array): number {
  return errnoOf(() => {
    posix.setxattr(path, name, value);
    return 0;
  });
}

/** An xattr's value, or the errno. */
function getXattr(path: string, name: string): Uint8Array | number {
  return errnoOf(() => posix.getxattr(path, name));
}

/** A copy whose buffer is a plain ArrayBuffer (what FFI "buffer" parameters take). */
function own(b: Uint8Array): Uint8Array<ArrayBuffer> {
  const o = new Uint8Array(b.length);
  o.set(b);
  return o;
}

/** One raw ioctl on `path` (opened O_RDONLY): 0 or the errno; `buf` is updated in place. */
function rawIoctl(path: string, cmd: number, buf: Uint8Array<ArrayBuffer>): number {
  const fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC);
  try {
    return errnoOf(() => {
      posix.ioctl(fd, cmd, buf);
      return 0;
    });
  } finally {
    posix.close(fd);
  }
}

// ------------------------------------------------------------------ brute force

/** One vector-carrying file as the test knows it. */
interface Item {
  ino: number;
  /** path relative to the collection root */
  rel: string;
  v: Float32Array;
}

/** FORMAT.md §8.4 scores, computed here independently in f64. */
function score(metric: Metric, q: Float32Array, v: Float32Array): number {
  let dot = 0, nq = 0, nv = 0, d2 = 0;
  for (let i = 0; i < q.length; i++) {
    dot += q[i] * v[i];
    nq += q[i] * q[i];
    nv += v[i] * v[i];
    d2 += (q[i] - v[i]) * (q[i] - v[i]);
  }
  if (metric === "l2") return Math.sqrt(d2);
  if (metric === "ip") return dot;
  if (nq === 0 || nv === 0) return 0;
  return Math.max(-1, Math.min(1, dot / (Math.sqrt(nq) * Math.sqrt(nv))));
}

/** Exact top-k of the items below `sub` ("" = the root), best first, ties by inode; paths relative to `sub`. */
function bruteForce(
  items: Item[],
  metric: Metric,
  q: Float32Array,
  k: number,
  sub: string,
  exclude?: number,
): { hits: SearchHit[]; all: Map<number, number> } {
  const all = new Map<number, number>();
  const scored: SearchHit[] = [];
  for (const it of items) {
    if (sub && !it.rel.startsWith(sub + "/")) continue;
    if (it.ino === exclude) continue;
    const s = score(metric, q, it.v);
    all.set(it.ino, s);
    scored.push({ ino: it.ino, score: s, path: sub ? it.rel.slice(sub.length + 1) : it.rel });
  }
  scored.sort((
    a,
    b,
  ) => (a.score !== b.score ? (metric === "l2" ? a.score - b.score : b.score - a.score) : a.ino - b.ino));
  return { hits: scored.slice(0, k), all };
}

/**
 * The ioctl's hits equal the brute force: same length, scores within
 * `tol` (relative above 1), the same inode at every rank unless the two
 * candidates' exact scores differ by less than `tol` without being equal
 * (then either order is exact up to rounding; equal scores must be ordered
 * by inode), and every path is that inode's path.
 */
function assertMatchesBruteForce(
  got: SearchHit[],
  exp: { hits: SearchHit[]; all: Map<number, number> },
  pathOf: Map<number, string>,
  what: string,
): number {
  assertEquals(got.length, exp.hits.length, `${what}: number of hits`);
  assertEquals(new Set(got.map((h) => h.ino)).size, got.length, `${what}: no inode twice`);
  let swaps = 0;
  got.forEach((h, i) => {
    const e = exp.hits[i];
    const tol = 1e-5 * Math.max(1, Math.abs(e.score));
    assert(Math.abs(h.score - e.score) <= tol, `${what}: score at rank ${i + 1}: ${h.score} vs ${e.score}`);
    if (h.ino !== e.ino) {
      // Exact ties are ordered by inode (no leeway); near-ties within rounding may come in either order.
      const mine = exp.all.get(h.ino);
      assert(
        mine !== undefined && mine !== e.score && Math.abs(mine - e.score) <= tol,
        `${what}: rank ${
          i + 1
        } is inode ${h.ino} (${h.path}, exact score ${mine}), expected ${e.ino} (${e.path}, ${e.score})`,
      );
      swaps++;
    }
    assertEquals(h.path, pathOf.get(h.ino), `${what}: path of inode ${h.ino} at rank ${i + 1}`);
  });
  return swaps;
}

/** The offline engine and the ioctl give the same inodes, paths, and scores up to the ioctl's f32 rounding. */
function assertMatchesEngine(got: SearchHit[], offline: SearchHit[], what: string): void {
  assertEquals(got.map((h) => h.ino), offline.map((h) => h.ino), `${what}: inodes (ioctl vs offline)`);
  assertEquals(got.map((h) => h.path), offline.map((h) => h.path), `${what}: paths (ioctl vs offline)`);
  got.forEach((h, i) =>
    assertEquals(h.score, Math.fround(offline[i].score), `${what}: score at rank ${i + 1} (ioctl vs offline)`)
  );
}

/** The stored vector as raw little-endian f32 bytes. */
function f32Bytes(v: Float32Array): Uint8Array {
  return new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
}

interface Query {
  name: string;
  q: Float32Array;
  /** subdirectory of the collection root, "" for the root */
  sub: string;
  k: number;
  exclude?: number;
}

/**
 * Runs every query through the mount, checks it against the brute force,
 * and returns the ioctl answers for the offline comparison.
 */
async function searchAll(
  root: string,
  items: Item[],
  metric: Metric,
  queries: Query[],
): Promise<SearchHit[][]> {
  const pathOfRoot = new Map(items.map((it) => [it.ino, it.rel]));
  const answers: SearchHit[][] = [];
  for (const qq of queries) {
    const dir = qq.sub ? `${root}/${qq.sub}` : root;
    const what = `${qq.name} in /${qq.sub} k=${qq.k}`;
    const got = await searchWithPaths(dir, qq.q, qq.k, qq.exclude ? { excludeIno: qq.exclude } : {});
    const exp = bruteForce(items, metric, qq.q, qq.k, qq.sub, qq.exclude);
    const pathOf = new Map(
      [...pathOfRoot].filter(([, p]) => !qq.sub || p.startsWith(qq.sub + "/")).map((
        [ino, p],
      ) => [ino, qq.sub ? p.slice(qq.sub.length + 1) : p]),
    );
    assertMatchesBruteForce(got, exp, pathOf, what);
    // search (inodes only) agrees with searchWithPaths.
    const bare = await search(dir, qq.q, qq.k, qq.exclude ? { excludeIno: qq.exclude } : {});
    assertEquals(
      bare.map((h) => [h.ino, h.score]),
      got.map((h) => [h.ino, h.score]),
      `${what}: search vs searchWithPaths`,
    );
    if (qq.exclude) assert(!got.some((h) => h.ino === qq.exclude), `${what}: excluded inode absent`);
    answers.push(got);
  }
  return answers;
}

/** The same queries on the unmounted image with the offline engine. */
function offlineAll(img: string, rootPath: string, queries: Query[], answers: SearchHit[][]): void {
  const fs = Vexfs.open(img, { readOnly: true });
  try {
    queries.forEach((qq, i) => {
      const dir = fs.resolve(qq.sub ? `${rootPath}/${qq.sub}` : rootPath);
      const off = fs.collections.search(dir, qq.q, qq.k, qq.exclude ? { exclude: new Set([qq.exclude]) } : {});
      assertMatchesEngine(answers[i], off, `${qq.name} in /${qq.sub} k=${qq.k}`);
    });
  } finally {
    fs.close();
  }
}

/** A reproducible pseudo-random vector in [-1, 1). */
function randomVector(dim: number, seed: number): Float32Array {
  let x = seed >>> 0 || 1;
  return Float32Array.from({ length: dim }, () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 31 - 1;
  });
}

function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "misc";
}

// ------------------------------------------------------------------ fiori

/**
 * Writes the fiori documents below `root` (a new cosine f32 collection):
 * one directory per category, the biggest split in two (`sapui5/a`,
 * `sapui5/b`), plus `dups/` with four files carrying doc 0's vector, set
 * in reverse inode order (exact ties whose slots are not in inode order).
 * Appends every file to `items`.
 */
async function populateFiori(root: string, docs: FioriDoc[], items: Item[]): Promise<CollectionInfo> {
  Deno.mkdirSync(root);
  const info = await createCollection(root, { dim: docs[0].vector.length, metric: "cosine", elem: "f32" });
  assertEquals([info.dim, info.metric, info.elem, info.count], [384, "cosine", "f32", 0]);
  // Category directories; the biggest one split further, so subtree searches span directories.
  const used = new Map<string, Set<string>>();
  for (const [i, d] of docs.entries()) {
    let dir = slug(d.category);
    if (dir === "sapui5") dir += i % 2 ? "/b" : "/a";
    if (!used.has(dir)) {
      used.set(dir, new Set());
      Deno.mkdirSync(`${root}/${dir}`, { recursive: true });
    }
    const rel = `${dir}/${fileNameFor(d.title, d.id, used.get(dir)!)}`;
    await Deno.writeFile(`${root}/${rel}`, enc.encode(d.content));
    await setVector(`${root}/${rel}`, d.vector);
    items.push({ ino: Deno.statSync(`${root}/${rel}`).ino!, rel, v: d.vector });
  }
  // Exact ties: four more files with doc 0's vector, set in reverse inode order (slots ≠ inode order).
  Deno.mkdirSync(`${root}/dups`);
  const dups = [0, 1, 2, 3].map((i) => {
    Deno.writeFileSync(`${root}/dups/copy-${i}.md`, enc.encode(docs[0].content));
    return `dups/copy-${i}.md`;
  });
  for (const rel of [...dups].reverse()) {
    await setVector(`${root}/${rel}`, docs[0].vector);
    items.push({ ino: Deno.statSync(`${root}/${rel}`).ino!, rel, v: docs[0].vector });
  }
  return info;
}

Deno.test({
  name: "search: 778 fiori documents (384-d, cosine) through the mount equal a brute force and the offline engine",
  ...mountTest,
  async fn() {
    const { dim, docs } = await loadFiori();
    assertEquals([dim, docs.length], [384, 778]);
    const items: Item[] = [];
    let img = "";
    let queries: Query[] = [];
    let answers: SearchHit[][] = [];
    try {
      await withMount({ size: 128 << 20, keepImage: true }, async (mnt, image) => {
        img = image;
        const root = `${mnt}/fiori`;
        const info = await populateFiori(root, docs, items);
        const after = (await collectionInfo(root))!;
        assertEquals([after.id, after.count, after.bytes], [info.id, 782, 782 * 384 * 4]);
        // The xattr view and GET_VECTOR give back exactly what was set.
        for (const it of items) {
          assertEquals(getXattr(`${root}/${it.rel}`, "user.vexfs.vector"), f32Bytes(it.v), `xattr of ${it.rel}`);
        }
        for (const it of items.slice(0, 50)) {
          const sv = (await getVector(`${root}/${it.rel}`))!;
          assertEquals([sv.vector, sv.metric, sv.elem, sv.collectionId], [it.v, "cosine", "f32", info.id]);
        }

        const mean = new Float32Array(dim);
        for (const d of [docs[3], docs[300], docs[600]]) d.vector.forEach((x, j) => mean[j] += x / 3);
        queries = [];
        for (const k of [10, 256]) {
          queries.push(
            { name: "doc 0", q: docs[0].vector, sub: "", k },
            { name: "doc 417", q: docs[417].vector, sub: "", k },
            { name: "mean of 3 docs", q: mean, sub: "", k },
            { name: "random", q: randomVector(dim, 42), sub: "", k },
            { name: "doc 5 without itself", q: docs[5].vector, sub: "", k, exclude: items[5].ino },
            { name: "doc 0", q: docs[0].vector, sub: "btp-fiori-tools", k },
            { name: "doc 2", q: docs[2].vector, sub: "sapui5", k },
            { name: "random", q: randomVector(dim, 7), sub: "sapui5/b", k },
          );
        }
        answers = await searchAll(root, items, "cosine", queries);
        // A document's own vector finds it and its four copies first, tied, in inode order.
        const tied = [items[0], ...items.filter((it) => it.rel.startsWith("dups/"))].map((it) => it.ino);
        assertEquals(answers[0].slice(0, 5).map((h) => h.ino), tied.sort((a, b) => a - b), "ties by inode");
        assertEquals(new Set(answers[0].slice(0, 5).map((h) => h.score)).size, 1, "tied scores are equal");
        assert(Math.abs(answers[0][0].score - 1) < 1e-6, `self-similarity ${answers[0][0].score}`);
        // A subtree search never leaves the subtree; k larger than the subtree gives all of it.
        const btp = items.filter((it) => it.rel.startsWith("btp-fiori-tools/")).length;
        const at = queries.findIndex((q) => q.sub === "btp-fiori-tools" && q.k === 256);
        assertEquals(answers[at].length, Math.min(256, btp));
      });
      offlineAll(img, "/fiori", queries, answers);
    } finally {
      if (img) Deno.removeSync(img);
    }
  },
});

Deno.test({
  name: "search: after unlinks, renames, replaced and deleted vectors and moves between collections, the mount's " +
    "answers still equal a brute force and the offline engine",
  ...mountTest,
  async fn() {
    const { dim, docs } = await loadFiori();
    const items: Item[] = [];
    let img = "";
    const queries: Query[] = [];
    const otherQueries: Query[] = [];
    let answers: SearchHit[][] = [];
    let otherAnswers: SearchHit[][] = [];
    try {
      await withMount({ size: 128 << 20, keepImage: true }, async (mnt, image) => {
        img = image;
        const root = `${mnt}/fiori`;
        const info = await populateFiori(root, docs, items);
        Deno.mkdirSync(`${mnt}/other`);
        const other = await createCollection(`${mnt}/other`, { dim, metric: "cosine", elem: "f32" });
        Deno.mkdirSync(`${mnt}/plain`);
        const live = new Map(items.map((it) => [it.ino, it]));
        const moved: Item[] = [];
        const base = (rel: string) => rel.slice(rel.lastIndexOf("/") + 1);
        let renamed = 0;
        for (let i = 1; i < docs.length; i++) {
          const it = items[i];
          const path = `${root}/${it.rel}`;
          if (i % 19 === 1) {
            Deno.removeSync(path); // the vector goes with the file
            live.delete(it.ino);
          } else if (it.rel.startsWith("sapui5/a/") && i % 7 === 0 && renamed++ < 30) {
            it.rel = `btp-fiori-tools/moved-${base(it.rel)}`; // within the collection: the vector stays
            Deno.renameSync(path, `${root}/${it.rel}`);
          } else if (i % 23 === 2) {
            it.v = docs[(i * 7) % docs.length].vector; // replaced
            await setVector(path, it.v);
          } else if (i % 29 === 3) {
            assertEquals(await deleteVector(path), true);
            assertEquals(await getVector(path), null);
            live.delete(it.ino);
          } else if (i % 31 === 4) {
            // Into another collection of the same dim and type: the vector moves along.
            Deno.renameSync(path, `${mnt}/other/${base(it.rel)}`);
            live.delete(it.ino);
            moved.push({ ino: it.ino, rel: base(it.rel), v: it.v });
          } else if (i % 37 === 5) {
            // Out of every collection: the vector is dropped.
            Deno.renameSync(path, `${mnt}/plain/${base(it.rel)}`);
            live.delete(it.ino);
            assertEquals(await getVector(`${mnt}/plain/${base(it.rel)}`), null);
            assertEquals(getXattr(`${mnt}/plain/${base(it.rel)}`, "user.vexfs.vector"), ERRNO.ENODATA);
          }
        }
        const rest = [...live.values()];
        assertEquals((await collectionInfo(root))!.count, rest.length, "vectors left in /fiori");
        assertEquals((await collectionInfo(`${mnt}/other`))!.count, moved.length, "vectors moved to /other");
        assert(moved.length >= 20 && rest.length < 700, `${moved.length} moved, ${rest.length} left`);
        for (const it of [...rest, ...moved.map((m) => ({ ...m, rel: `../other/${m.rel}` }))]) {
          assertEquals(getXattr(`${root}/${it.rel}`, "user.vexfs.vector"), f32Bytes(it.v), `xattr of ${it.rel}`);
        }
        const gen = (await collectionInfo(root))!.generation;
        assert(gen > info.generation, "the generation counts the changes");

        for (const k of [10, 256]) {
          queries.push(
            { name: "doc 0", q: docs[0].vector, sub: "", k },
            { name: "doc 46", q: docs[46].vector, sub: "", k },
            { name: "random", q: randomVector(dim, 1), sub: "", k },
            { name: "doc 0", q: docs[0].vector, sub: "btp-fiori-tools", k },
            { name: "random", q: randomVector(dim, 2), sub: "sapui5", k },
          );
          otherQueries.push(
            { name: "doc 4", q: docs[4].vector, sub: "", k },
            { name: "random", q: randomVector(dim, 3), sub: "", k },
          );
        }
        answers = await searchAll(root, rest, "cosine", queries);
        otherAnswers = await searchAll(`${mnt}/other`, moved, "cosine", otherQueries);
        assertEquals(otherAnswers[0][0].path, base(items[4].rel), "a moved document is found in its new collection");
        assertEquals(otherAnswers[0].length, Math.min(10, moved.length));
        assertEquals((await collectionInfo(`${mnt}/other`))!.id, other.id);
      });
      offlineAll(img, "/fiori", queries, answers);
      offlineAll(img, "/other", otherQueries, otherAnswers);
    } finally {
      if (img) Deno.removeSync(img);
    }
  },
});

// ------------------------------------------------------------------ mnist

Deno.test({
  name: "search: 3,000 MNIST digits (784-d, l2) through the mount equal a brute force and the offline engine",
  ...mountTest,
  async fn() {
    const N = 3000;
    const { images, labels } = await loadMnist(N);
    assertEquals(images.length, N);
    const items: Item[] = [];
    let img = "";
    let queries: Query[] = [];
    let answers: SearchHit[][] = [];
    try {
      await withMount({ size: 128 << 20, keepImage: true }, async (mnt, image) => {
        img = image;
        const root = `${mnt}/mnist`;
        Deno.mkdirSync(root);
        await createCollection(root, { dim: 784, metric: "l2", elem: "f32" });
        for (let d = 0; d < 10; d++) Deno.mkdirSync(`${root}/${d}`);
        for (let i = 0; i < N; i++) {
          // The file is the digit as a PGM image; the vector its pixels.
          const pgm = new Uint8Array(15 + 784);
          pgm.set(enc.encode("P5\n28 28\n255\n".padEnd(15, " ")));
          images[i].forEach((x, j) => pgm[15 + j] = Math.round(x * 255));
          const rel = `${labels[i]}/digit-${String(i).padStart(4, "0")}.pgm`;
          await Deno.writeFile(`${root}/${rel}`, pgm);
          await setVector(`${root}/${rel}`, images[i]);
          items.push({ ino: Deno.statSync(`${root}/${rel}`).ino!, rel, v: images[i] });
        }
        // Exact ties: three more files with image 0's pixels, set in reverse inode order.
        const dups = ["dup-a", "dup-b", "dup-c"].map((n) => {
          Deno.writeTextFileSync(`${root}/${labels[0]}/${n}.txt`, "copy of digit 0");
          return `${labels[0]}/${n}.txt`;
        });
        for (const rel of [...dups].reverse()) {
          await setVector(`${root}/${rel}`, images[0]);
          items.push({ ino: Deno.statSync(`${root}/${rel}`).ino!, rel, v: images[0] });
        }
        assertEquals((await collectionInfo(root))!.count, N + 3);
        for (let i = 0; i < N; i += 7) {
          assertEquals(getXattr(`${root}/${items[i].rel}`, "user.vexfs.vector"), f32Bytes(images[i]), items[i].rel);
        }
        const blend = new Float32Array(784);
        images[10].forEach((x, j) => blend[j] = (x + images[11][j]) / 2);
        queries = [];
        for (const k of [10, 256]) {
          queries.push(
            { name: "digit 0", q: images[0], sub: "", k },
            { name: "digit 1234", q: images[1234], sub: "", k },
            { name: "blend of a 0 and a 1", q: blend, sub: "", k },
            { name: "zeros", q: new Float32Array(784), sub: "", k },
            { name: "digit 9 without itself", q: images[9], sub: "", k, exclude: items[9].ino },
            { name: "digit 3", q: images[3], sub: "3", k },
            { name: "digit 13 in the 8s", q: images[13], sub: "8", k },
          );
        }
        answers = await searchAll(root, items, "l2", queries);
        const tied = [items[0], ...items.slice(N)].map((it) => it.ino).sort((a, b) => a - b);
        assertEquals(answers[0].slice(0, 4).map((h) => [h.ino, h.score]), tied.map((ino) => [ino, 0]), "ties by inode");
        assertEquals(answers[0][0].path, items[0].rel, "an image finds itself at distance 0");
        // Nearest neighbours of a digit are mostly the same digit (the data is real).
        const top = answers[queries.findIndex((q) => q.name === "digit 1234" && q.k === 10)];
        const same = top.filter((h) => h.path.startsWith(`${labels[1234]}/`)).length;
        assert(same >= 6, `${same} of 10 neighbours of a ${labels[1234]} are ${labels[1234]}s`);
      });
      offlineAll(img, "/mnist", queries, answers);
    } finally {
      if (img) Deno.removeSync(img);
    }
  },
});

/** A worker process: files with random 16-d vectors in its own subdirectory, set and searched by ioctl. */
const VECTOR_WORKER = `
import { search, setVector } from ${JSON.stringify(new URL("../ioctl/client.ts", import.meta.url).href)};
const root = Deno.env.get("ROOT");
const id = Number(Deno.env.get("ID"));
let x = (id + 1) * 2654435761 >>> 0;
const rand = () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 2 ** 31 - 1; };
Deno.mkdirSync(root + "/w" + id);
const out = {};
for (let i = 0; i < 150; i++) {
  const rel = "w" + id + "/f" + i;
  await Deno.writeTextFile(root + "/" + rel, rel);
  const v = Float32Array.from({ length: 16 }, rand);
  await setVector(root + "/" + rel, v);
  if (i % 10 === 0) {
    const hits = await search(root, v, 5);
    if (hits.length === 0) throw new Error("a search found nothing");
  }
  out[rel] = Array.from(v);
}
for (let i = 0; i < 150; i += 9) {
  Deno.removeSync(root + "/w" + id + "/f" + i);
  delete out["w" + id + "/f" + i];
}
for (let i = 1; i < 150; i += 9) {
  const v = Float32Array.from({ length: 16 }, rand);
  await setVector(root + "/w" + id + "/f" + i, v);
  out["w" + id + "/f" + i] = Array.from(v);
}
console.log(JSON.stringify(out));
`;

Deno.test({
  name: "search: 4 processes setting vectors and searching at once in one collection; the result equals a brute " +
    "force and the offline engine",
  ...mountTest,
  async fn() {
    const items: Item[] = [];
    let img = "";
    const queries: Query[] = [];
    let answers: SearchHit[][] = [];
    try {
      await withMount({ size: 64 << 20, keepImage: true }, async (mnt, image) => {
        img = image;
        const root = `${mnt}/shared`;
        Deno.mkdirSync(root);
        await createCollection(root, { dim: 16, metric: "ip", elem: "f32" });
        const dec = new TextDecoder();
        const results = await Promise.all([0, 1, 2, 3].map((id) =>
          new Deno.Command(Deno.execPath(), {
            args: ["eval", "--no-config", VECTOR_WORKER],
            cwd: "/",
            env: { ROOT: root, ID: String(id), NO_COLOR: "1" },
            stdin: "null",
            stdout: "piped",
            stderr: "piped",
          }).output()
        ));
        for (const [id, r] of results.entries()) {
          assertEquals(r.code, 0, `worker ${id}: ${dec.decode(r.stderr)}`);
          for (const [rel, v] of Object.entries(JSON.parse(dec.decode(r.stdout)) as Record<string, number[]>)) {
            items.push({ ino: Deno.statSync(`${root}/${rel}`).ino!, rel, v: Float32Array.from(v) });
          }
        }
        assertEquals(items.length, 4 * (150 - 17));
        assertEquals((await collectionInfo(root))!.count, items.length);
        for (const k of [10, 256]) {
          queries.push(
            { name: "random", q: randomVector(16, 5), sub: "", k },
            { name: "a worker's vector", q: items[100].v, sub: "", k },
            { name: "random", q: randomVector(16, 6), sub: "w2", k },
          );
        }
        answers = await searchAll(root, items, "ip", queries);
      });
      offlineAll(img, "/shared", queries, answers);
    } finally {
      if (img) Deno.removeSync(img);
    }
  },
});

Deno.test({
  name: "search: a 3000-d collection (wider than an ioctl) takes its vectors through the xattr; ioctls say so; " +
    "the offline engine searches it",
  ...mountTest,
  async fn() {
    const DIM = 3000;
    let img = "";
    const vecs: Float32Array[] = [];
    try {
      await withMount({ size: 64 << 20, keepImage: true }, async (mnt, image) => {
        img = image;
        Deno.mkdirSync(`${mnt}/wide`);
        await createCollection(`${mnt}/wide`, { dim: DIM, metric: "l2", elem: "f32" });
        for (let i = 0; i < 5; i++) {
          Deno.writeTextFileSync(`${mnt}/wide/f${i}`, `wide ${i}`);
          vecs.push(randomVector(DIM, 100 + i));
          assertEquals(setXattr(`${mnt}/wide/f${i}`, "user.vexfs.vector", f32Bytes(vecs[i])), 0);
          assertEquals(getXattr(`${mnt}/wide/f${i}`, "user.vexfs.vector"), f32Bytes(vecs[i]));
        }
        assertEquals(setXattr(`${mnt}/wide/f0`, "user.vexfs.vector", new Uint8Array(4 * DIM - 4)), ERRNO.EINVAL);
        await assertRejectsFsError(() => getVector(`${mnt}/wide/f0`), "EOVERFLOW", /extended attribute/);
        await assertRejectsFsError(() => setVector(`${mnt}/wide/f0`, new Float32Array(DIM)), "EINVAL", /attribute/);
        await assertRejectsFsError(() => search(`${mnt}/wide`, new Float32Array(DIM), 3), "EINVAL", /unmounted/);
        assertEquals((await collectionInfo(`${mnt}/wide`))!.count, 5);
      });
      const fs = Vexfs.open(img, { readOnly: true });
      try {
        const items = vecs.map((v, i) => ({ ino: fs.resolve(`/wide/f${i}`), rel: `f${i}`, v }));
        const hits = fs.collections.search(fs.resolve("/wide"), vecs[3], 5);
        const exp = bruteForce(items, "l2", vecs[3], 5, "");
        assertMatchesBruteForce(hits, exp, new Map(items.map((it) => [it.ino, it.rel])), "offline 3000-d");
        assertEquals(hits[0].path, "f3");
      } finally {
        fs.close();
      }
    } finally {
      if (img) Deno.removeSync(img);
    }
  },
});

// ------------------------------------------------------------------ refusals

Deno.test({
  name: "search: ioctl refusals through the mount give the documented errno and change nothing",
  ...mountTest,
  async fn() {
    await withMount({ size: 32 << 20 }, async (mnt) => {
      const coll = `${mnt}/coll`;
      Deno.mkdirSync(`${coll}/sub`, { recursive: true });
      Deno.mkdirSync(`${mnt}/plain`);
      Deno.writeTextFileSync(`${mnt}/plain/p.txt`, "outside");
      await createCollection(coll, { dim: 4, metric: "l2", elem: "f32" });
      const files = ["a", "b", "sub/c"];
      for (const [i, f] of files.entries()) {
        Deno.writeTextFileSync(`${coll}/${f}`, f);
        await setVector(`${coll}/${f}`, Float32Array.from([i, i + 1, i + 2, i + 3]));
      }
      Deno.writeTextFileSync(`${coll}/novec`, "no vector");
      const q = Float32Array.from([1, 1, 1, 1]);
      const snapshot = async () => ({
        info: await collectionInfo(coll),
        vectors: await Promise.all(files.map(async (f) => Array.from((await getVector(`${coll}/${f}`))!.vector))),
        novec: await getVector(`${coll}/novec`),
        hits: await searchWithPaths(coll, q, 10),
        plain: await collectionInfo(`${mnt}/plain`),
        names: Array.from(Deno.readDirSync(coll), (e) => e.name).sort(),
      });
      const before = await snapshot();
      assertEquals(before.hits.length, 3);
      assertEquals(before.plain, null);

      // Through the client: the errno and a message that says what was wrong.
      await assertRejectsFsError(() => setVector(`${coll}/a`, new Float32Array(3)), "EINVAL", /dimension 4/);
      await assertRejectsFsError(() => setVector(`${coll}/a`, new Float32Array(5)), "EINVAL", /dimension 4/);
      await assertRejectsFsError(() => setVector(`${coll}/a`, Float32Array.from([1, NaN, 1, 1])), "EINVAL");
      await assertRejectsFsError(() => setVector(`${coll}/a`, Float32Array.from([1, Infinity, 1, 1])), "EINVAL");
      await assertRejectsFsError(() => setVector(`${mnt}/plain/p.txt`, q), "EINVAL", /collection/);
      await assertRejectsFsError(() => setVector(`${coll}/sub`, q), "EISDIR", /directory/);
      await assertRejectsFsError(() => search(coll, new Float32Array(3), 5), "EINVAL", /dimension 4/);
      await assertRejectsFsError(() => search(coll, q, 0), "EINVAL", /k = 0/);
      await assertRejectsFsError(() => search(coll, q, 257), "EINVAL", /k = 257/);
      await assertRejectsFsError(() => search(coll, Float32Array.from([0, NaN, 0, 0]), 5), "EINVAL");
      await assertRejectsFsError(() => search(`${mnt}/plain`, q, 5), "EINVAL", /not inside/);
      await assertRejectsFsError(() => search(`${coll}/a`, q, 5), "ENOTDIR");
      await assertRejectsFsError(
        () => createCollection(`${coll}/sub`, { dim: 4, metric: "l2", elem: "f32" }),
        "EINVAL",
        /do not nest/,
      );
      await assertRejectsFsError(() => createCollection(mnt, { dim: 4, metric: "l2", elem: "f32" }), "EINVAL");
      await assertRejectsFsError(
        () => createCollection(`${coll}/a`, { dim: 4, metric: "l2", elem: "f32" }),
        "ENOTDIR",
      );

      // Raw ioctls, so that the client's own checks cannot hide what the filesystem answers.
      const searchBuf = (query: Float32Array, k: number) => {
        const b = own(encodeSearch({ k: 1, query, excludeIno: 0 }));
        new DataView(b.buffer).setUint32(SEARCH.off.k, k, true);
        return b;
      };
      const setBuf = (v: Float32Array) => own(encodeSetVector(v));
      const raw: [string, string, number, Uint8Array<ArrayBuffer>, number][] = [
        ["search k=0", coll, VEXFS_IOC_SEARCH, searchBuf(q, 0), ERRNO.EINVAL],
        ["search k=257", coll, VEXFS_IOC_SEARCH, searchBuf(q, 257), ERRNO.EINVAL],
        ["search wrong dim", coll, VEXFS_IOC_SEARCH, searchBuf(new Float32Array(3), 5), ERRNO.EINVAL],
        ["search NaN", coll, VEXFS_IOC_SEARCH, searchBuf(Float32Array.from([0, 0, NaN, 0]), 5), ERRNO.EINVAL],
        [
          "search -Infinity",
          coll,
          VEXFS_IOC_SEARCH,
          searchBuf(Float32Array.from([-Infinity, 0, 0, 0]), 5),
          ERRNO.EINVAL,
        ],
        ["search outside any collection", `${mnt}/plain`, VEXFS_IOC_SEARCH, searchBuf(q, 5), ERRNO.EINVAL],
        ["search on a file", `${coll}/a`, VEXFS_IOC_SEARCH, searchBuf(q, 5), ERRNO.ENOTDIR],
        ["set vector on a directory", `${coll}/sub`, VEXFS_IOC_SET_VECTOR, setBuf(q), ERRNO.EISDIR],
        ["set vector on the root", mnt, VEXFS_IOC_SET_VECTOR, setBuf(q), ERRNO.EISDIR],
        ["set vector wrong dim", `${coll}/a`, VEXFS_IOC_SET_VECTOR, setBuf(new Float32Array(5)), ERRNO.EINVAL],
        ["set vector NaN", `${coll}/a`, VEXFS_IOC_SET_VECTOR, setBuf(Float32Array.from([NaN, 0, 0, 0])), ERRNO.EINVAL],
        ["set vector outside", `${mnt}/plain/p.txt`, VEXFS_IOC_SET_VECTOR, setBuf(q), ERRNO.EINVAL],
        ["get vector without one", `${coll}/novec`, VEXFS_IOC_GET_VECTOR, own(encodeGetVector()), ERRNO.ENODATA],
        [
          "collection info outside",
          `${mnt}/plain`,
          VEXFS_IOC_COLLECTION_INFO,
          own(encodeCollectionInfo()),
          ERRNO.ENODATA,
        ],
        [
          "create collection inside one",
          `${coll}/sub`,
          VEXFS_IOC_CREATE_COLLECTION,
          own(encodeCreateCollection({ dim: 4, metric: "l2", elem: "f32" })),
          ERRNO.EINVAL,
        ],
        [
          "create collection on a file",
          `${coll}/a`,
          VEXFS_IOC_CREATE_COLLECTION,
          own(encodeCreateCollection({ dim: 4, metric: "l2", elem: "f32" })),
          ERRNO.ENOTDIR,
        ],
      ];
      // Malformed structures: wrong magic, non-zero reserved bytes, data past dim, unknown command.
      const badMagic = setBuf(q);
      badMagic[HDR.off.magic] ^= 1;
      raw.push(["set vector, bad magic", `${coll}/a`, VEXFS_IOC_SET_VECTOR, badMagic, ERRNO.EINVAL]);
      const reserved = setBuf(q);
      reserved[VECTOR.off.reserved1] = 1;
      raw.push(["set vector, reserved field", `${coll}/a`, VEXFS_IOC_SET_VECTOR, reserved, ERRNO.EINVAL]);
      const pastDim = setBuf(q);
      new DataView(pastDim.buffer).setFloat32(VECTOR.off.data + 4 * 4, 1, true);
      raw.push(["set vector, element past dim", `${coll}/a`, VEXFS_IOC_SET_VECTOR, pastDim, ERRNO.EINVAL]);
      const hits = searchBuf(q, 5);
      hits[SEARCH.off.hits] = 1;
      raw.push(["search, non-zero hits on input", coll, VEXFS_IOC_SEARCH, hits, ERRNO.EINVAL]);
      const unknown = ioc(IOC_READ | IOC_WRITE, VEXFS_IOC_TYPE, 0x30, 16);
      raw.push(["unknown command", coll, unknown, new Uint8Array(16), ERRNO.ENOTTY]);
      for (const [what, path, cmd, buf, want] of raw) {
        const copy = buf.slice();
        assertEquals(rawIoctl(path, cmd, buf), want, what);
        assertEquals(buf, copy, `${what}: the caller's structure is not written on a refusal`);
      }

      // Values out of range for the collection's element type.
      Deno.mkdirSync(`${mnt}/half`);
      Deno.mkdirSync(`${mnt}/bytes`);
      await createCollection(`${mnt}/half`, { dim: 2, metric: "l2", elem: "f16" });
      await createCollection(`${mnt}/bytes`, { dim: 2, metric: "l2", elem: "i8" });
      Deno.writeTextFileSync(`${mnt}/half/h`, "h");
      Deno.writeTextFileSync(`${mnt}/bytes/b`, "b");
      await setVector(`${mnt}/half/h`, Float32Array.from([65519, -0.5])); // rounds to 65504
      await setVector(`${mnt}/bytes/b`, Float32Array.from([-128, 127]));
      await assertRejectsFsError(() => setVector(`${mnt}/half/h`, Float32Array.from([65520, 0])), "EINVAL", /f16/);
      await assertRejectsFsError(() => setVector(`${mnt}/bytes/b`, Float32Array.from([1.5, 0])), "EINVAL", /i8/);
      await assertRejectsFsError(() => setVector(`${mnt}/bytes/b`, Float32Array.from([128, 0])), "EINVAL", /i8/);
      assertEquals(Array.from((await getVector(`${mnt}/half/h`))!.vector), [65504, -0.5]);
      assertEquals(Array.from((await getVector(`${mnt}/bytes/b`))!.vector), [-128, 127]);
      assertEquals(getXattr(`${mnt}/half/h`, "user.vexfs.vector"), Uint8Array.from([0xff, 0x7b, 0x00, 0xb8]));
      assertEquals(getXattr(`${mnt}/bytes/b`, "user.vexfs.vector"), Uint8Array.from([0x80, 0x7f]));

      const after = await snapshot();
      assertEquals(after, before, "refused ioctls changed nothing");
      // And the valid calls still work after all that.
      await setVector(`${coll}/novec`, Float32Array.from([1, 1, 1, 1]));
      const now = await searchWithPaths(coll, q, 1);
      assertEquals(now, [{ ino: Deno.statSync(`${coll}/novec`).ino!, score: 0, path: "novec" }]);
      assertEquals((await collectionInfo(coll))!.generation, before.info!.generation + 1);
    });
  },
});
