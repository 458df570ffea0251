/**
 * End-to-end tests of the `vexfs` command line: every test runs main.ts as a
 * subprocess on temporary images and checks output and exit codes.
 */
import { rng } from "../src/test_random.ts";
import { buildProgram } from "../main.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;
const dec = new TextDecoder();
const enc = new TextEncoder();

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  out: Uint8Array;
}

async function vexfs(
  args: string[],
  opts: { stdin?: Uint8Array; env?: Record<string, string> } = {},
): Promise<Run> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd: ROOT,
    stdin: opts.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...(opts.env ?? {}) },
  });
  const child = cmd.spawn();
  if (opts.stdin) {
    const w = child.stdin.getWriter();
    await w.write(opts.stdin);
    await w.close();
  }
  const r = await child.output();
  return {
    code: r.code,
    stdout: dec.decode(r.stdout),
    stderr: dec.decode(r.stderr),
    out: r.stdout,
  };
}

/** Runs and requires exit code 0. */
async function ok(
  args: string[],
  opts: { stdin?: Uint8Array; env?: Record<string, string> } = {},
): Promise<Run> {
  const r = await vexfs(args, opts);
  if (r.code !== 0) {
    throw new Error(
      `vexfs ${args.join(" ")} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`,
    );
  }
  return r;
}

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

function assertEquals(a: unknown, b: unknown, msg = ""): void {
  const sa = JSON.stringify(a), sb = JSON.stringify(b);
  if (sa !== sb) throw new Error(`assertion failed ${msg}: ${sa} !== ${sb}`);
}

/** Failure with a one-line `vexfs <cmd>: ...` message and no stack trace. */
function assertCleanError(
  r: Run,
  code: number,
  cmd: string,
  ...needles: string[]
): void {
  assert(
    r.code === code,
    `exit code ${r.code}, expected ${code}; stderr: ${r.stderr}`,
  );
  assert(
    r.stderr.startsWith(`vexfs ${cmd}: `),
    `stderr starts with 'vexfs ${cmd}: ': ${r.stderr}`,
  );
  assert(!/\n\s+at /.test(r.stderr), `no stack trace: ${r.stderr}`);
  for (const n of needles) {
    assert(r.stderr.includes(n), `stderr mentions '${n}': ${r.stderr}`);
  }
}

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "vexfs-cli-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function randomVector(r: () => number, dim: number): number[] {
  return Array.from({ length: dim }, () => Math.fround(r() * 2 - 1));
}

function score(metric: string, q: number[], v: number[]): number {
  let dot = 0, nq = 0, nv = 0, d2 = 0;
  for (let i = 0; i < q.length; i++) {
    dot += q[i] * v[i];
    nq += q[i] * q[i];
    nv += v[i] * v[i];
    d2 += (q[i] - v[i]) ** 2;
  }
  if (metric === "l2") return Math.sqrt(d2);
  if (metric === "ip") return dot;
  return nq && nv ? dot / Math.sqrt(nq * nv) : 0;
}

/** Independent exact top-k: sorted by score (ascending for l2), paths relative. */
function bruteForce(
  metric: string,
  q: number[],
  items: { path: string; v: number[] }[],
  k: number,
) {
  const scored = items.map((it) => ({
    path: it.path,
    score: score(metric, q, it.v),
  }));
  scored.sort((
    a,
    b,
  ) => (metric === "l2" ? a.score - b.score : b.score - a.score));
  return scored.slice(0, k);
}

function assertSearchEquals(
  got: { rank: number; path: string; score: number }[],
  exp: { path: string; score: number }[],
) {
  assertEquals(got.length, exp.length, "number of hits");
  got.forEach((h, i) => {
    assertEquals(h.rank, i + 1, "rank");
    assertEquals(h.path, exp[i].path, `path at rank ${i + 1}`);
    assert(
      Math.abs(h.score - exp[i].score) < 1e-4,
      `score at rank ${i + 1}: ${h.score} vs ${exp[i].score}`,
    );
  });
}

Deno.test("mkfs prints the layout as a table and as JSON; info decodes it", async () => {
  await withTmp(async (dir) => {
    const img = `${dir}/a.img`;
    const r = await ok([
      "mkfs",
      "-s",
      "64M",
      "-L",
      "tests",
      "-U",
      "12345678-1234-4234-8234-123456789abc",
      img,
    ]);
    for (
      const s of [
        "block size",
        "4 KiB",
        "16384",
        "inode table",
        "backup superblock",
        "12345678-1234-4234-8234-123456789abc",
        "tests",
      ]
    ) {
      assert(r.stdout.includes(s), `table mentions ${s}: ${r.stdout}`);
    }
    assertEquals((await Deno.stat(img)).size, 64 * 2 ** 20, "image size");
    const j = JSON.parse(
      (await ok(["mkfs", "--json", "-f", "-b", "1024", "-N", "2048", img]))
        .stdout,
    );
    assertEquals([j.schema_version, j.command], [1, "mkfs"]);
    assertEquals([j.block_size_bytes, j.total_blocks, j.total_inodes], [
      1024,
      65536,
      2048,
    ]);
    assertEquals(j.regions.map((x: { name: string }) => x.name), [
      "boot area + superblock",
      "block bitmap",
      "inode bitmap",
      "inode table",
      "root directory",
      "journal (inode 4)",
      "data",
      "backup superblock",
    ]);
    assertEquals(j.journal_blocks, 4096, "mke2fs's journal size for 65,536 blocks");
    assertEquals(
      j.regions[0].size_blocks,
      2,
      "1 KiB blocks: boot area and superblock take 2 blocks",
    );
    assertEquals(j.regions[7].start_block, 65535);
    assert(
      j.previous.some((p: { type: string }) => p.type === "vexfs"),
      "the overwritten VexFS was reported",
    );
    const info = JSON.parse((await ok(["info", "--json", img])).stdout);
    assertEquals(info.filesystem.block_size_bytes, 1024);
    assertEquals(info.usage.total_inodes, 2048);
    assertEquals(info.filesystem.features.incompat, [
      "extents",
      "htree",
      "vectors",
      "journal",
      "xattr_store",
    ]);
    assertEquals(info.collections, []);
    const text = await ok(["info", img]);
    assert(
      text.stdout.includes("Usage") && text.stdout.includes("Collections (0)"),
      text.stdout,
    );
    // dry run: device summary and layout, nothing written
    const before = await Deno.readFile(img);
    const dry = await ok(["mkfs", "-n", "-b", "4096", img]);
    assert(
      dry.stdout.includes("Dry run") && dry.stdout.includes("VexFS filesystem"),
      dry.stdout,
    );
    assertEquals(
      (await Deno.readFile(img)).every((b, i) => b === before[i]),
      true,
      "dry run changed nothing",
    );
  });
});

Deno.test("mkfs as mke2fs: a minix image (only libblkid knows it) is refused, -F formats, -f is a deprecated -F, -q, -v, positional fs-size", async () => {
  await withTmp(async (dir) => {
    const img = `${dir}/m.img`;
    await Deno.writeFile(img, new Uint8Array(0));
    await Deno.truncate(img, 8 * 2 ** 20);
    const m = await new Deno.Command("mkfs.minix", { args: [img], stdout: "null", stderr: "null" }).output();
    assert(m.success, "mkfs.minix (util-linux) made the minix image");
    const before = await Deno.readFile(img);
    const r = await vexfs(["mkfs", img, "16M"]);
    assertCleanError(r, 1, "mkfs", "minix filesystem", "-F (--force)", "nothing was written");
    assertEquals(await Deno.readFile(img), before, "a refused mkfs leaves the minix image byte-identical");
    // -v: the signatures table names what was overwritten and who saw it
    const v = await ok(["mkfs", "-F", "-v", img]);
    assert(/minix\s*│\s*1040\s*│\s*libblkid\s*│\s*minix filesystem/.test(v.stdout), `-v table: ${v.stdout}`);
    assert(v.stderr.includes("overwrote minix filesystem"), v.stderr);
    await ok(["fsck", img]);
    // the old -f still forces, with a deprecation warning; -q silences everything else
    const f = await ok(["mkfs", "-f", img]);
    assert(f.stderr.includes("-f is deprecated; use -F"), f.stderr);
    assert(f.stdout.includes("Created a VexFS filesystem"), f.stdout);
    const q = await ok(["mkfs", "-q", "-F", img]);
    assertEquals([q.stdout, q.stderr], ["", ""], "-q prints nothing");
    assertCleanError(await vexfs(["mkfs", "-q", "-v", "-F", img]), 16, "mkfs", "-q and -v");
    // a positional fs-size, as mke2fs: creates the image at that size
    const sized = `${dir}/sized.img`;
    const s = await ok(["mkfs", "-q", sized, "64M"]);
    assertEquals(s.stdout, "");
    assertEquals((await Deno.stat(sized)).size, 64 * 2 ** 20);
    await ok(["fsck", sized]);
    assertCleanError(await vexfs(["mkfs", "-s", "32M", `${dir}/x.img`, "64M"]), 16, "mkfs", "disagree");
    const j = JSON.parse((await ok(["mkfs", "--json", "-F", sized, "64M"])).stdout);
    assertEquals([j.device_bytes, j.blkid], [64 * 2 ** 20, "used"]);
    assertEquals(j.previous.map((p: { type: string }) => p.type), ["vexfs"]);
  });
});

Deno.test("mkfs refuses an ext4 image, a bad block size and a too small size", async () => {
  await withTmp(async (dir) => {
    const img = `${dir}/e.img`;
    let haveExt4 = true;
    try {
      await Deno.writeFile(img, new Uint8Array(0));
      await Deno.truncate(img, 16 * 2 ** 20);
      const m = await new Deno.Command("mkfs.ext4", {
        args: ["-q", "-F", "-L", "keepme", img],
        stdout: "null",
        stderr: "null",
      }).output();
      haveExt4 = m.success;
    } catch {
      haveExt4 = false;
    }
    if (haveExt4) {
      const r = await vexfs(["mkfs", "-s", "32M", img]);
      assertCleanError(r, 1, "mkfs", "ext4", "--force", "keepme");
      assertEquals(
        (await Deno.stat(img)).size,
        16 * 2 ** 20,
        "refused mkfs did not grow the image",
      );
      await ok(["mkfs", "--force", img]);
      assert(
        (await ok(["info", img])).stdout.includes("clean"),
        "formatted after --force",
      );
    } else console.warn("mkfs.ext4 not available: ext4 refusal not tested");
    assertCleanError(
      await vexfs(["mkfs", "-b", "3000", "-s", "8M", `${dir}/b.img`]),
      1,
      "mkfs",
      "invalid block size 3000",
      "power of two",
    );
    const small = `${dir}/small.img`;
    assertCleanError(
      await vexfs(["mkfs", "-s", "100K", small]),
      1,
      "mkfs",
      "too small",
    );
    let exists = true;
    try {
      await Deno.stat(small);
    } catch {
      exists = false;
    }
    assert(!exists, "a refused mkfs must not leave an image behind");
    assertCleanError(
      await vexfs(["mkfs", `${dir}/none.img`]),
      1,
      "mkfs",
      "--size",
    );
    assertCleanError(
      await vexfs(["mkfs", "-s", "12Q", small]),
      1,
      "mkfs",
      "not a size",
    );
  });
});

Deno.test("put, cat, ls, mkdir and rm round-trip files", async () => {
  await withTmp(async (dir) => {
    const img = `${dir}/f.img`;
    await ok(["mkfs", "-s", "32M", img]);
    const r = rng(7);
    const blob = Uint8Array.from(
      { length: 300_000 },
      () => Math.floor(r() * 256),
    );
    await Deno.writeFile(`${dir}/blob.bin`, blob);
    await ok(["mkdir", "-p", img, "/a/b/c", "/d"]);
    assertCleanError(
      await vexfs(["mkdir", img, "/a"]),
      1,
      "mkdir",
      "already exists",
    );
    assertCleanError(await vexfs(["mkdir", img, "/x/y"]), 1, "mkdir", "-p");
    await ok(["put", img, `${dir}/blob.bin`, "/a/b/"]);
    await ok(["put", "-p", img, `${dir}/blob.bin`, "/n/e/w.bin"]);
    await ok(["put", img, "-", "/hello.txt"], {
      stdin: enc.encode("hello, world\n"),
    });
    const cat = await ok(["cat", img, "/a/b/blob.bin"]);
    assertEquals(cat.out.length, blob.length, "cat length");
    assert(
      cat.out.every((b, i) => b === blob[i]),
      "cat returns the bytes that were put",
    );
    assertEquals((await ok(["cat", img, "n/e/w.bin"])).out.length, blob.length);
    assertEquals(
      (await ok(["cat", img, "/hello.txt"])).stdout,
      "hello, world\n",
    );
    // replace keeps only the new contents
    await ok(["put", img, "-", "/hello.txt"], { stdin: enc.encode("bye\n") });
    assertEquals((await ok(["cat", img, "/hello.txt"])).stdout, "bye\n");
    assertEquals((await ok(["ls", img])).stdout.split("\n").filter(Boolean), [
      "a/",
      "d/",
      "hello.txt",
      "n/",
    ]);
    const ls = JSON.parse((await ok(["ls", "--json", img, "/a/b"])).stdout);
    assertEquals([ls.command, ls.path], ["ls", "/a/b"]);
    assertEquals(
      ls.entries.map((
        e: { name: string; type: string; size_bytes: number },
      ) => [e.name, e.type, e.size_bytes]),
      [["blob.bin", "file", 300000], ["c", "dir", 4096]],
    );
    const long = await ok(["ls", "-l", img, "/a/b"]);
    assert(
      long.stdout.includes("-rw-r--r--") && long.stdout.includes("drwxr-xr-x"),
      long.stdout,
    );
    assertCleanError(
      await vexfs(["cat", img, "/nope"]),
      1,
      "cat",
      "/nope",
      "no such file",
    );
    assertCleanError(await vexfs(["cat", img, "/a"]), 1, "cat", "directory");
    assertCleanError(await vexfs(["rm", img, "/a"]), 1, "rm", "-r");
    await ok(["rm", "-r", img, "/a", "/n"]);
    await ok(["rm", img, "/hello.txt"]);
    await ok(["rm", "-f", img, "/not-there"]);
    assertEquals((await ok(["ls", img])).stdout.trim(), "d/");
    assertEquals((await ok(["fsck", "-n", img])).code, 0);
  });
});

Deno.test("collection create/list/info and vector set/get/delete", async () => {
  await withTmp(async (dir) => {
    const img = `${dir}/v.img`;
    await ok(["mkfs", "-s", "32M", img]);
    await ok([
      "collection",
      "create",
      "-p",
      img,
      "/emb",
      "--dim",
      "4",
      "--metric",
      "l2",
      "--type",
      "f32",
    ]);
    assertCleanError(
      await vexfs([
        "collection",
        "create",
        "-p",
        img,
        "/emb/inner",
        "--dim",
        "4",
      ]),
      1,
      "collection create",
      "nest",
    );
    assertCleanError(
      await vexfs(["collection", "create", img, "/x", "--dim", "4"]),
      1,
      "collection create",
      "/x",
    );
    assertCleanError(
      await vexfs([
        "collection",
        "create",
        img,
        "/emb",
        "--dim",
        "4",
        "--metric",
        "manhattan",
      ]),
      1,
      "collection create",
      "metric",
    );
    assertCleanError(
      await vexfs(["collection", "create", img, "/emb"]),
      1,
      "collection create",
      "--dim",
    );
    await ok(["put", img, "-", "/emb/a.txt"], { stdin: enc.encode("a") });
    await ok(["put", img, "-", "/emb/b.txt"], { stdin: enc.encode("b") });
    await ok([
      "vector",
      "set",
      img,
      "/emb/a.txt",
      "--vector",
      "[1, 2, 3, 4.5]",
    ]);
    assertEquals(
      (await ok(["vector", "get", img, "/emb/a.txt"])).stdout.trim(),
      "[1, 2, 3, 4.5]",
    );
    const raw = new Uint8Array(16);
    const dv = new DataView(raw.buffer);
    [0.25, -1, 3.5, 1e-3].forEach((x, i) => dv.setFloat32(i * 4, x, true));
    await ok(["vector", "set", img, "/emb/b.txt", "--raw", "-"], {
      stdin: raw,
    });
    const got = await ok(["vector", "get", "--raw", img, "/emb/b.txt"]);
    assertEquals(Array.from(got.out), Array.from(raw), "raw round trip");
    const j = JSON.parse(
      (await ok(["vector", "get", "--json", img, "emb/b.txt"])).stdout,
    );
    assertEquals([j.collection.dim, j.collection.metric, j.collection.element_type, j.collection.path], [
      4,
      "l2",
      "f32",
      "/emb",
    ]);
    assertEquals(j.vector, [0.25, -1, 3.5, 0.001]);
    assertCleanError(
      await vexfs(["vector", "set", img, "/emb/a.txt", "--vector", "[1, 2]"]),
      1,
      "vector set",
      "expected 4",
    );
    assertCleanError(
      await vexfs(["vector", "set", img, "/emb/a.txt"]),
      1,
      "vector set",
      "--vector",
      "--raw",
    );
    await ok(["put", img, "-", "/outside.txt"], { stdin: enc.encode("o") });
    assertCleanError(
      await vexfs([
        "vector",
        "set",
        img,
        "/outside.txt",
        "--vector",
        "1 2 3 4",
      ]),
      1,
      "vector set",
      "collection",
    );
    const list = JSON.parse(
      (await ok(["collection", "list", "--json", img])).stdout,
    );
    assertEquals(
      list.collections.map((
        x: { id: number; path: string; vectors: number },
      ) => [x.id, x.path, x.vectors]),
      [[1, "/emb", 2]],
    );
    const info = JSON.parse(
      (await ok(["collection", "info", "--json", img, "/emb"])).stdout,
    );
    const ci = info.collection;
    assertEquals([ci.dim, ci.metric, ci.element_type, ci.vectors, ci.vector_bytes], [
      4,
      "l2",
      "f32",
      2,
      32,
    ]);
    await ok(["vector", "delete", img, "/emb/a.txt"]);
    assertCleanError(
      await vexfs(["vector", "get", img, "/emb/a.txt"]),
      1,
      "vector get",
      "no vector",
    );
    assertCleanError(
      await vexfs(["vector", "delete", img, "/emb/a.txt"]),
      1,
      "vector delete",
      "no vector",
    );
    await ok(["vector", "delete", "-f", img, "/emb/a.txt"]);
    assertEquals(
      JSON.parse(
        (await ok(["collection", "info", "--json", img, "/emb"])).stdout,
      ).collection.vectors,
      1,
    );
    // the file kept its contents; the remaining vector is intact after the swap-remove
    assertEquals((await ok(["cat", img, "/emb/a.txt"])).stdout, "a");
    assertEquals(
      JSON.parse(
        (await ok(["vector", "get", "--json", img, "/emb/b.txt"])).stdout,
      ).vector,
      [0.25, -1, 3.5, 0.001],
    );
    assertEquals((await ok(["fsck", "-n", img])).code, 0);
  });
});

Deno.test("import from JSONL and from a directory; search equals a brute force", async () => {
  await withTmp(async (dir) => {
    const img = `${dir}/i.img`;
    await ok(["mkfs", "-s", "64M", img]);
    const r = rng(42);
    // JSONL dataset: paths in subdirectories and bare ids
    const dim = 16;
    const recs: { path: string; v: number[] }[] = [];
    const lines: string[] = [];
    for (let i = 0; i < 120; i++) {
      const v = randomVector(r, dim);
      const rel = i % 3 === 0 ? `id-${i}` : `part${i % 2}/doc-${i}.txt`;
      recs.push({ path: rel, v });
      lines.push(
        JSON.stringify(
          i % 3 === 0 ? { id: rel, text: `text ${i}`, vector: v } : { path: rel, text: `text ${i}`, vector: v },
        ),
      );
    }
    await Deno.writeTextFile(`${dir}/data.jsonl`, lines.join("\n") + "\n");
    const s = JSON.parse(
      (await ok([
        "import",
        "--json",
        img,
        "/corpus",
        "--jsonl",
        `${dir}/data.jsonl`,
      ])).stdout,
    );
    assertEquals([
      s.files,
      s.vectors,
      s.collection_created,
      s.collection.dim,
      s.collection.metric,
      s.collection.vectors,
    ], [120, 120, true, dim, "cosine", 120]);
    assertEquals(
      (await ok(["cat", img, "/corpus/part1/doc-7.txt"])).stdout,
      "text 7",
    );
    assertEquals((await ok(["cat", img, "/corpus/id-9"])).stdout, "text 9");
    // search over the whole collection and over a subtree, against the brute force
    for (
      const [qi, sub, k] of [[5, "", 10], [8, "/part0", 7], [
        11,
        "/part1",
        200,
      ]] as const
    ) {
      const q = recs[qi].v;
      const items = recs
        .filter((x) => !sub || x.path.startsWith(sub.slice(1) + "/"))
        .map((x) => ({
          path: sub ? x.path.slice(sub.length) : x.path,
          v: x.v,
        }));
      const got = JSON.parse(
        (await ok([
          "search",
          "--json",
          img,
          `/corpus${sub}`,
          "--top-k",
          String(k),
          "--vector",
          JSON.stringify(q),
        ])).stdout,
      );
      assertSearchEquals(got.hits, bruteForce("cosine", q, items, k));
    }
    // --like leaves the query file out unless --include-self
    const like = JSON.parse(
      (await ok([
        "search",
        "--json",
        img,
        "/corpus",
        "-k",
        "3",
        "--like",
        "/corpus/id-0",
      ])).stdout,
    );
    assertSearchEquals(like.hits, bruteForce("cosine", recs[0].v, recs.slice(1), 3));
    const self = JSON.parse(
      (await ok([
        "search",
        "--json",
        img,
        "/corpus",
        "-k",
        "1",
        "--like",
        "id-0",
        "--include-self",
      ])).stdout,
    );
    assertEquals(self.hits[0].path, "id-0");
    assert(Math.abs(self.hits[0].score - 1) < 1e-5, "self similarity is 1");
    const table = await ok([
      "search",
      img,
      "/corpus",
      "-k",
      "2",
      "--like",
      "/corpus/id-0",
    ]);
    assert(
      table.stdout.includes("rank") && table.stdout.includes("cosine"),
      table.stdout,
    );
    assertCleanError(
      await vexfs(["search", img, "/corpus", "--vector", "[1, 2]"]),
      1,
      "search",
      "expected 16",
    );
    assertCleanError(
      await vexfs(["search", img, "/corpus"]),
      1,
      "search",
      "--like",
    );
    assertCleanError(
      await vexfs([
        "import",
        img,
        "/corpus",
        "--jsonl",
        `${dir}/data.jsonl`,
        "--dim",
        "3",
      ]),
      1,
      "import",
      "dimension 16",
    );

    // directory tree: sidecars, a JSONL keyed by path, an l2 collection
    const tree = `${dir}/tree`;
    const files: { path: string; v: number[] }[] = [];
    const jsonl: string[] = [];
    for (let i = 0; i < 30; i++) {
      const rel = `${["x", "y", "y/z"][i % 3]}/f${i}.md`;
      await Deno.mkdir(`${tree}/${rel.slice(0, rel.lastIndexOf("/"))}`, {
        recursive: true,
      });
      await Deno.writeTextFile(`${tree}/${rel}`, `file ${i}\n`);
      const v = randomVector(r, 8);
      files.push({ path: rel, v });
      if (i % 2) {
        await Deno.writeTextFile(
          `${tree}/${rel}.vec.json`,
          JSON.stringify(i % 4 === 1 ? v : { vector: v }),
        );
      } else jsonl.push(JSON.stringify({ path: rel, vector: v }));
    }
    await Deno.writeTextFile(`${tree}/novec.txt`, "no vector");
    await Deno.writeTextFile(`${dir}/tree.jsonl`, jsonl.join("\n"));
    const t = JSON.parse(
      (await ok([
        "import",
        "--json",
        img,
        "/tree",
        "--from-dir",
        tree,
        "--vectors-from-jsonl",
        `${dir}/tree.jsonl`,
        "--metric",
        "l2",
      ])).stdout,
    );
    assertEquals([t.files, t.vectors, t.collection.metric, t.collection.dim], [
      31,
      30,
      "l2",
      8,
    ]);
    assertEquals(
      (await ok(["cat", img, "/tree/y/z/f5.md"])).stdout,
      "file 5\n",
    );
    assertCleanError(
      await vexfs(["cat", img, "/tree/y/z/f5.md.vec.json"]),
      1,
      "cat",
      "no such file",
    );
    const q = randomVector(r, 8);
    const all = JSON.parse(
      (await ok([
        "search",
        "--json",
        img,
        "/tree",
        "-k",
        "12",
        "--vector",
        q.join(" "),
      ])).stdout,
    );
    assertSearchEquals(all.hits, bruteForce("l2", q, files, 12));
    const yz = JSON.parse(
      (await ok([
        "search",
        "--json",
        img,
        "/tree/y",
        "-k",
        "50",
        "--vector",
        q.join(","),
      ])).stdout,
    );
    assertSearchEquals(
      yz.hits,
      bruteForce(
        "l2",
        q,
        files.filter((f) => f.path.startsWith("y/")).map((f) => ({
          path: f.path.slice(2),
          v: f.v,
        })),
        50,
      ),
    );
    const raw = new Uint8Array(32);
    q.forEach((x, i) => new DataView(raw.buffer).setFloat32(i * 4, x, true));
    const viaRaw = JSON.parse(
      (await ok(["search", "--json", img, "/tree", "-k", "12", "--raw", "-"], {
        stdin: raw,
      })).stdout,
    );
    assertEquals(viaRaw.hits, all.hits, "--raw query equals --vector query");
    const fsck = await ok(["fsck", "-n", img]);
    assert(
      fsck.stdout.includes("clean") &&
        fsck.stdout.includes("150 vectors in 2 collections"),
      fsck.stdout,
    );
  });
});

Deno.test("import keeps JSONL paths inside the target and writes nothing for input it refuses", async () => {
  await withTmp(async (dir) => {
    const img = `${dir}/i.img`;
    await ok(["mkfs", "-s", "64M", img]);
    const jsonl = async (name: string, recs: unknown[]) => {
      const p = `${dir}/${name}.jsonl`;
      await Deno.writeTextFile(p, recs.map((r) => typeof r === "string" ? r : JSON.stringify(r)).join("\n") + "\n");
      return p;
    };
    await ok(["import", img, "/coll", "--jsonl", await jsonl("a", [{ path: "a.md", text: "A", vector: [1, 2] }])]);
    const ls = async (p: string) => (await ok(["ls", img, p])).stdout.split(/\s+/).filter(Boolean).sort();
    const rootBefore = await ls("/");
    assertEquals(rootBefore, ["coll/"]);
    const unchanged = async () => {
      assertEquals(await ls("/"), rootBefore, "nothing created at the root");
      assertEquals((await ok(["cat", img, "/coll/a.md"])).stdout, "A", "the other collection's file");
      assertEquals(JSON.parse((await ok(["vector", "get", "--json", img, "/coll/a.md"])).stdout).vector, [1, 2]);
    };
    const good = { path: "ok.md", text: "ok", vector: [3, 4] };
    for (
      const [p, why] of [
        ["../coll/a.md", "has a '..' component"],
        ["../../escape.md", "has a '..' component"],
        ["sub/../../escape.md", "has a '..' component"],
        ["/escape.md", "is absolute"],
        ["a//b.md", "empty component"],
        ["a\u0000b", "NUL"],
      ]
    ) {
      const f = await jsonl("bad", [good, { path: p, text: "X", vector: [5, 6] }]);
      assertCleanError(
        await vexfs(["import", img, "/other", "--jsonl", f]),
        1,
        "import",
        `${f} line 2: "path" ${JSON.stringify(p)}`,
        why,
      );
      await unchanged();
    }
    // "id" names the file when there is no "path": checked the same way
    const byId = await jsonl("id", [good, { id: "../coll/a.md", vector: [5, 6] }]);
    assertCleanError(await vexfs(["import", img, "/other", "--jsonl", byId]), 1, "import", "line 2", "'..'");
    await unchanged();
    // a missing or malformed input creates nothing, not even the target directory
    assertCleanError(
      await vexfs(["import", img, "/newdir", "--jsonl", `${dir}/missing.jsonl`]),
      1,
      "import",
      "missing.jsonl",
      "no such file",
    );
    const malformed = await jsonl("malformed", [good, good, "{oops"]);
    assertCleanError(await vexfs(["import", img, "/newdir", "--jsonl", malformed]), 1, "import", "line 3");
    const wrongDim = await jsonl("dim", [good, { path: "b.md", vector: [1, 2, 3] }]);
    assertCleanError(await vexfs(["import", img, "/coll", "--jsonl", wrongDim]), 1, "import", "line 2", "expected 2");
    await unchanged();
    assertEquals((await ok(["ls", img, "/coll"])).stdout.trim(), "a.md", "nothing added to /coll");
    // --from-dir: a missing tree or an unsafe JSONL path creates nothing either
    assertCleanError(await vexfs(["import", img, "/tree", "--from-dir", `${dir}/nope`]), 1, "import", "nope");
    await Deno.mkdir(`${dir}/tree`);
    await Deno.writeTextFile(`${dir}/tree/t.md`, "t");
    assertCleanError(
      await vexfs(["import", img, "/tree", "--from-dir", `${dir}/tree`, "--vectors-from-jsonl", byId]),
      1,
      "import",
      "line 2",
      "'..'",
    );
    await unchanged();
    // A failure while writing (here an i8 collection given 1000) keeps the lines before it, as --help says;
    // running the import again, fixed, replaces them.
    await ok(["mkdir", img, "/q"]);
    await ok(["collection", "create", img, "/q", "--dim", "2", "--type", "i8", "--metric", "l2"]);
    const half = await jsonl("half", [
      { path: "one.md", text: "1", vector: [1, 1] },
      { path: "two.md", text: "2", vector: [1000, 1] },
      { path: "three.md", text: "3", vector: [3, 3] },
    ]);
    assertCleanError(
      await vexfs(["import", img, "/q", "--jsonl", half]),
      1,
      "import",
      `${half} line 2`,
      "lines before it stay imported",
    );
    assertEquals(JSON.parse((await ok(["vector", "get", "--json", img, "/q/one.md"])).stdout).vector, [1, 1]);
    assertEquals((await vexfs(["cat", img, "/q/three.md"])).code, 1, "nothing after the failing line");
    const fixed = await jsonl("fixed", [
      { path: "one.md", text: "1", vector: [1, 1] },
      { path: "two.md", text: "2", vector: [100, 1] },
      { path: "three.md", text: "3", vector: [3, 3] },
    ]);
    const again = JSON.parse((await ok(["import", "--json", img, "/q", "--jsonl", fixed])).stdout);
    assertEquals([again.files, again.vectors, again.collection.vectors], [3, 3, 3]);
    const help = (await ok(["import", "--help"])).stdout;
    for (const n of ["must stay inside it", "changes nothing", "stay imported", "again is safe"]) {
      assert(help.replace(/\s+/g, " ").includes(n), `import --help says '${n}': ${help}`);
    }
    assertEquals((await ok(["fsck", "-n", img])).code, 0);
  });
});

Deno.test("fsck exit codes follow the report", async () => {
  await withTmp(async (dir) => {
    const img = `${dir}/k.img`;
    await ok(["mkfs", "-s", "16M", img]);
    await ok(["put", "-p", img, "-", "/d/file.txt"], {
      stdin: enc.encode("x"),
    });
    const json = JSON.parse((await ok(["fsck", "--json", "-n", img])).stdout);
    assertEquals([json.exit_status, json.stats.files, json.stats.dirs], [0, 1, 2]);
    // corrupt the inode table entry of /d/file.txt: a checksum error, exit 4
    const ino = JSON.parse((await ok(["ls", "--json", img, "/d/file.txt"])).stdout).entries[0]
      .ino;
    const info = JSON.parse((await ok(["info", "--json", img])).stdout);
    const sb = {
      inodeTableStart: info.superblock.inode_table_start_block,
      blockSize: info.filesystem.block_size_bytes,
    };
    const f = await Deno.open(img, { read: true, write: true });
    await f.seek(
      sb.inodeTableStart * sb.blockSize + (ino - 1) * 256 + 16,
      Deno.SeekMode.Start,
    );
    await f.write(new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
    f.close();
    const bad = await vexfs(["fsck", "-n", img]);
    assertEquals(
      bad.code,
      4,
      `exit code of a corrupted image: ${bad.stdout}${bad.stderr}`,
    );
    assert(bad.stdout.includes("error"), bad.stdout);
    const notFs = await vexfs(["fsck", `${dir}/missing.img`]);
    assertEquals(notFs.code, 8, "operational error");
  });
});

Deno.test("--help of every command mentions all its options and examples", async () => {
  const program = buildProgram();
  const all: { path: string[]; flags: string[]; hidden: boolean }[] = [];
  const walk = (cmd: typeof program, path: string[]) => {
    for (const sub of cmd.commands) {
      const p = [...path, sub.name()];
      all.push({
        path: p,
        // hidden options (deprecated aliases, internal ones) are not in the help
        flags: sub.options.filter((o) => !o.hidden).map((o) => o.long ?? o.short!).filter(Boolean),
        // hidden commands (planned ones: vexfs build) are not in the command list
        hidden: !!(sub as unknown as { _hidden?: boolean })._hidden,
      });
      walk(sub, p);
    }
  };
  walk(program, []);
  const names = all.map((x) => x.path.join(" "));
  for (
    const want of [
      "mkfs",
      "fsck",
      "info",
      "ls",
      "cat",
      "put",
      "mkdir",
      "rm",
      "collection create",
      "vector set",
      "import",
      "search",
      "demo",
      "bench",
      "build",
      "mount",
    ]
  ) {
    assert(names.includes(want), `command ${want} is registered`);
  }
  const top = await ok(["--help"]);
  for (const n of all.filter((x) => x.path.length === 1)) {
    const listed = new RegExp(`^  ${n.path[0]} `, "m").test(top.stdout);
    assert(listed === !n.hidden, `top help ${n.hidden ? "hides" : "lists"} ${n.path[0]}`);
  }
  await Promise.all(
    all.filter((x) => x.path[0] !== "help").map(async ({ path, flags }) => {
      const r = await ok([...path, "--help"]);
      for (const f of [...flags, "--help"]) {
        assert(
          r.stdout.includes(f),
          `'vexfs ${path.join(" ")} --help' mentions ${f}`,
        );
      }
      if (!["bench", "mount"].includes(path[0])) {
        assert(
          r.stdout.includes("Examples:"),
          `'vexfs ${path.join(" ")} --help' has examples`,
        );
      }
    }),
  );
});

Deno.test("usage errors, a build for a missing kernel and VEXFS_DEBUG", async () => {
  const unknown = await vexfs(["frobnicate"]);
  assertEquals(unknown.code, 1);
  assert(
    unknown.stderr.startsWith("vexfs: unknown command 'frobnicate'"),
    unknown.stderr,
  );
  assertCleanError(
    await vexfs(["ls", "--bogus", "x.img"]),
    1,
    "ls",
    "unknown option '--bogus'",
  );
  assertCleanError(await vexfs(["build", "--kernel-dir", "/nonexistent-kernel"]), 1, "build", "does not exist");
  assertCleanError(await vexfs(["mount"]), 1, "mount", "missing required argument 'source'");
  assertCleanError(
    await vexfs(["info", "/nonexistent.img"]),
    1,
    "info",
    "/nonexistent.img",
  );
  await withTmp(async (dir) => {
    await Deno.writeFile(`${dir}/zero.img`, new Uint8Array(1 << 20));
    assertCleanError(await vexfs(["ls", `${dir}/zero.img`]), 1, "ls", "VexFS");
    const dbg = await vexfs(["ls", `${dir}/zero.img`], {
      env: { VEXFS_DEBUG: "1" },
    });
    assert(
      /\n\s+at /.test(dbg.stderr),
      `VEXFS_DEBUG=1 prints the stack: ${dbg.stderr}`,
    );
    assertCleanError(
      await vexfs(["search", dir, "/", "--vector", "1"]),
      1,
      "search",
      "give just the path on the mount",
    );
    assertCleanError(
      await vexfs(["search", dir, "--vector", "1"]),
      1,
      "search",
      "is not on a mounted VexFS",
    );
  });
});

Deno.test("demo runs end to end on the real dataset", async () => {
  const r = await vexfs(["demo"]);
  assert(r.code === 0, `demo exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  for (
    const s of [
      "778 documents",
      "itself first",
      "both documents found",
      "equal the in-memory brute force",
      "identical to those on the mount",
      "of the 5 query words",
      "RRF of both rankings",
      "every hit is in it",
      "superblock clean",
      "fsck",
      "all checks passed",
    ]
  ) {
    assert(r.stdout.includes(s), `demo output mentions '${s}'`);
  }
  const img = /VexFS demo: (\S+)/.exec(r.stdout)?.[1];
  assert(img, "demo names its image");
  let exists = true;
  try {
    await Deno.stat(img);
  } catch {
    exists = false;
  }
  assert(!exists, "the demo image is removed without --keep");
});
