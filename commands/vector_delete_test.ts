/**
 * Deleting many vectors at once (paths, globs inside an image, --stdin),
 * offline and through a mount, and `collection drop` keeping the files;
 * every image fsck-clean.
 */
import assert from "node:assert/strict";
import { Vexfs } from "../src/fs/fs.ts";
import { assertFsckClean, tmpImage } from "../src/fs/_testutil.ts";
import { mountTest, withMount } from "../src/mount/_testutil.ts";
import { vexfsArgv } from "../src/mount/self.ts";
import { globComponent } from "../src/fs/glob.ts";

const dec = new TextDecoder();

async function vexfs(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const [exe, ...rest] = vexfsArgv(args);
  const p = new Deno.Command(exe, {
    args: rest,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  if (stdin !== undefined) {
    const w = p.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const o = await p.output();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

async function ok(args: string[], stdin?: string): Promise<string> {
  const r = await vexfs(args, stdin);
  assert.equal(r.code, 0, `vexfs ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** 12 files a/f0.md..., b/..., with 4-d vectors, plus .hidden.md in a. */
async function input(file: string): Promise<void> {
  const lines = [];
  for (let i = 0; i < 12; i++) {
    lines.push(
      JSON.stringify({ path: `${"ab"[i % 2]}/f${i}.${i % 3 ? "md" : "txt"}`, text: `t${i}`, vector: [i, 1, 2, 3] }),
    );
  }
  lines.push(JSON.stringify({ path: "a/.hidden.md", vector: [9, 9, 9, 9] }));
  await Deno.writeTextFile(file, lines.join("\n") + "\n");
}

/** Paths with a vector under `dir`, from `vexfs export`. */
async function withVectors(...target: string[]): Promise<string[]> {
  const out = await ok(["export", ...target, "-q"]);
  // the first line is the collection's settings (docs/JSONL.md), not a file
  return out.trimEnd().split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((o) => !o.vexfs_collection)
    .map((o) => o.path);
}

Deno.test("glob: components as sh(1)", () => {
  const m = (p: string, s: string) => globComponent(p).test(s);
  assert.ok(m("*.md", "a.md") && !m("*.md", "a.mdx") && m("f?.md", "f1.md") && !m("f?.md", "f10.md"));
  assert.ok(m("f[0-2].md", "f2.md") && !m("f[!0-2].md", "f2.md") && m("a.b", "a.b") && !m("a.b", "axb"));
  assert.ok(m("[x", "[x"), "an unclosed [ matches itself");
});

Deno.test("vector delete: many paths, globs and --stdin offline; refusals change nothing", async () => {
  const img = tmpImage();
  const dir = await Deno.makeTempDir();
  try {
    await input(`${dir}/in.jsonl`);
    await ok(["import", img, "/c", "--jsonl", `${dir}/in.jsonl`]);
    assert.equal((await withVectors(img, "/c")).length, 13);
    // refused before anything is deleted: a missing path, a directory
    let r = await vexfs(["vector", "delete", img, "/c/a/f0.txt", "/c/nope"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /nope: no such file \(nothing was deleted\)/);
    r = await vexfs(["vector", "delete", img, "/c/a/f0.txt", "/c/b"]);
    assert.match(r.stderr, /not a regular file/);
    assert.equal((await withVectors(img, "/c")).length, 13);
    // two paths
    assert.match(await ok(["vector", "delete", img, "/c/a/f0.txt", "/c/b/f1.md"]), /deleted 2 vectors/);
    // again: refused without -f, skipped with it
    r = await vexfs(["vector", "delete", img, "/c/a/f0.txt"]);
    assert.match(r.stderr, /has no vector/);
    assert.equal(JSON.parse(await ok(["vector", "delete", "-f", "--json", img, "/c/a/f0.txt"])).without_vector, 1);
    // a glob: *.txt at any depth (f3, f6, f9; f0 already done), not the hidden file
    assert.deepEqual(JSON.parse(await ok(["vector", "delete", "--json", img, "/c/**/*.txt"])), {
      schema_version: 1,
      command: "vector delete",
      deleted: 3,
      without_vector: 1,
    });
    r = await vexfs(["vector", "delete", img, "/c/*.none"]);
    assert.match(r.stderr, /no file matches/);
    // --stdin
    assert.match(await ok(["vector", "delete", "--stdin", img], "/c/a/f2.md\r\n\n/c/a/f4.md\n"), /deleted 2/);
    assert.deepEqual(await withVectors(img, "/c"), [
      "a/.hidden.md",
      "a/f10.md",
      "a/f8.md",
      "b/f11.md",
      "b/f5.md",
      "b/f7.md",
    ]);
    // the files stay
    const fs = Vexfs.open(img, { readOnly: true });
    try {
      assert.equal(dec.decode(fs.read(fs.resolve("/c/a/f0.txt"), 0, 10)), "t0");
      assert.equal(fs.collections.get(fs.collections.collectionOfDir(fs.resolve("/c"))).count, 6);
    } finally {
      fs.close();
    }
    assertFsckClean(img);
  } finally {
    Deno.removeSync(img);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "vector delete: many files and --stdin through a mount",
  ...mountTest,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      await input(`${dir}/in.jsonl`);
      await withMount({}, async (mnt) => {
        await ok(["import", `${mnt}/c`, "--jsonl", `${dir}/in.jsonl`]);
        assert.match(await ok(["vector", "delete", `${mnt}/c/a/f0.txt`, `${mnt}/c/b/f1.md`]), /deleted 2/);
        const r = await vexfs(["vector", "delete", `${mnt}/c/a/f2.md`, `${mnt}/c/a/f0.txt`]);
        assert.match(r.stderr, /has no vector \(nothing was deleted/);
        assert.match(
          await ok(["vector", "delete", "--stdin", mnt], `${mnt}/c/a/f2.md\n${mnt}/c/b/f3.txt\n`),
          /deleted 2/,
        );
        assert.equal((await withVectors(`${mnt}/c`)).length, 13 - 4);
        assert.equal(await Deno.readTextFile(`${mnt}/c/a/f0.txt`), "t0");
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("collection drop: removes the collection and its vectors, keeps files and xattrs", async () => {
  const img = tmpImage();
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/in.jsonl`, '{"path":"s/a.md","text":"A","vector":[1,2],"lang":"en"}\n');
    await ok(["import", img, "/docs", "--jsonl", `${dir}/in.jsonl`]);
    let r = await vexfs(["collection", "drop", img, "/docs/s"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not a collection root \(it is inside \/docs\)/);
    r = await vexfs(["collection", "drop", dir, "/docs"]);
    assert.match(r.stderr, /is a directory/);
    assert.match(await ok(["collection", "drop", img, "/docs"]), /dropped collection 1 at \/docs \(1 vectors\)/);
    assert.equal(JSON.parse(await ok(["collection", "list", img, "--json"])).collections.length, 0);
    const fs = Vexfs.open(img, { readOnly: true });
    try {
      const ino = fs.resolve("/docs/s/a.md");
      assert.equal(dec.decode(fs.read(ino, 0, 10)), "A");
      assert.equal(dec.decode(fs.getxattr(ino, "user.lang")), "en");
      assert.equal(fs.collections.getVector(ino), null);
    } finally {
      fs.close();
    }
    assertFsckClean(img);
    // a new collection can take its place
    await ok(["import", img, "/docs", "--jsonl", `${dir}/in.jsonl`]);
    assertFsckClean(img);
  } finally {
    Deno.removeSync(img);
    await Deno.remove(dir, { recursive: true });
  }
});
