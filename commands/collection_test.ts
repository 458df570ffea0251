/**
 * `vexfs collection drop` on a mount (VEXFS_IOC_DROP_COLLECTION) and
 * `vexfs collection rename` offline and on a mount: the collection keeps its
 * id, vectors and index across a rename and searches under the new path
 * work; a drop keeps the files; refusals change nothing; every image
 * fsck-clean.
 */
import assert from "node:assert/strict";
import { Vexfs } from "../src/fs/fs.ts";
import { assertFsckClean, tmpImage } from "../src/fs/_testutil.ts";
import { mountTest, withMount } from "../src/mount/_testutil.ts";
import { vexfsArgv } from "../src/mount/self.ts";

const dec = new TextDecoder();

async function vexfs(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const [exe, ...rest] = vexfsArgv(args);
  const o = await new Deno.Command(exe, { args: rest, stdout: "piped", stderr: "piped", env: { NO_COLOR: "1" } })
    .output();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

async function ok(args: string[]): Promise<string> {
  const r = await vexfs(args);
  assert.equal(r.code, 0, `vexfs ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** 20 files with 8-d vectors under c/ (a, b subdirectories), an HNSW collection. */
async function input(file: string): Promise<void> {
  const lines = [];
  for (let i = 0; i < 20; i++) {
    const v = Array.from({ length: 8 }, (_, k) => Math.sin(i * 3 + k));
    lines.push(JSON.stringify({ path: `${"ab"[i % 2]}/f${i}.md`, text: `text ${i}`, vector: v }));
  }
  await Deno.writeTextFile(file, lines.join("\n") + "\n");
}

Deno.test({
  name: "collection drop on a mount: the daemon drops it, files stay, fsck clean after",
  ...mountTest,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      await input(`${dir}/in.jsonl`);
      const img = await withMount({ keepImage: true }, async (mnt, img) => {
        await ok(["import", `${mnt}/c`, "--jsonl", `${dir}/in.jsonl`, "--dim", "8"]);
        let r = await vexfs(["collection", "drop", `${mnt}/c/a`]);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /not a collection root/);
        r = await vexfs(["collection", "drop", mnt]);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /not inside a vector collection/);
        const x = JSON.parse(await ok(["collection", "drop", "--json", `${mnt}/c`])).collection;
        assert.equal(x.id, 1);
        assert.equal(x.vectors, 20);
        assert.equal(JSON.parse(await ok(["collection", "list", "--json", mnt])).collections.length, 0);
        assert.equal(await Deno.readTextFile(`${mnt}/c/b/f3.md`), "text 3");
        r = await vexfs(["vector", "get", `${mnt}/c/b/f3.md`]);
        assert.notEqual(r.code, 0, "the vectors went with the collection");
        // the directory may become a collection again
        await ok(["collection", "create", `${mnt}/c`, "--dim", "8"]);
        return img;
      });
      const fs = Vexfs.open(img, { readOnly: true });
      try {
        assert.equal(fs.collections.list().length, 1);
        assert.equal(fs.collections.list()[0].count, 0);
        assert.equal(dec.decode(fs.read(fs.resolve("/c/a/f0.md"), 0, 100)), "text 0");
      } finally {
        fs.close();
      }
      assertFsckClean(img);
      Deno.removeSync(img);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("collection rename offline: same id, vectors and index; search under the new path; refusals", async () => {
  const img = tmpImage();
  const dir = await Deno.makeTempDir();
  try {
    await input(`${dir}/in.jsonl`);
    await ok(["import", img, "/docs", "--jsonl", `${dir}/in.jsonl`, "--dim", "8"]);
    await ok(["index", "build", img, "/docs"]);
    const before = JSON.parse(await ok(["collection", "info", "--json", img, "/docs"])).collection;
    const hitsBefore = JSON.parse(await ok(["search", img, "/docs", "-k", "5", "--like", "/docs/b/f7.md", "--json"]));
    let r = await vexfs(["collection", "rename", img, "/docs/a", "/x"]);
    assert.match(r.stderr, /not a collection root/);
    r = await vexfs(["collection", "rename", img, "/docs", "/docs/a/inner"]);
    assert.match(r.stderr, /into itself/);
    const x = JSON.parse(await ok(["collection", "rename", "--json", img, "/docs", "/notes"])).collection;
    assert.equal(x.id, before.id);
    assert.equal(x.path, "/notes");
    assert.equal(x.vectors, 20);
    const after = JSON.parse(await ok(["collection", "info", "--json", img, "/notes/b"])).collection;
    assert.equal(after.id, before.id);
    assert.equal(after.index, "hnsw");
    assert.deepEqual(after.hnsw, before.hnsw);
    assert.equal(after.generation, before.generation, "a rename does not touch the vectors");
    const hitsAfter = JSON.parse(await ok(["search", img, "/notes", "-k", "5", "--like", "/notes/b/f7.md", "--json"]));
    assert.equal(hitsAfter.hits.length, 5);
    assert.deepEqual(hitsAfter.hits, hitsBefore.hits);
    r = await vexfs(["collection", "info", img, "/docs"]);
    assert.notEqual(r.code, 0, "the old path is gone");
    // NEW exists: refused, nothing changes
    await ok(["mkdir", img, "/taken"]);
    r = await vexfs(["collection", "rename", img, "/notes", "/taken"]);
    assert.match(r.stderr, /already exists/);
    // into another collection: refused (collections do not nest)
    await ok(["collection", "create", img, "/other", "--dim", "3", "-p"]);
    r = await vexfs(["collection", "rename", img, "/notes", "/other/notes"]);
    assert.notEqual(r.code, 0);
    assert.equal(JSON.parse(await ok(["collection", "info", "--json", img, "/notes"])).collection.id, before.id);
    assertFsckClean(img);
  } finally {
    Deno.removeSync(img);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "collection rename on a mount: rename(2) of the root; id, vectors and index kept; search works; fsck clean",
  ...mountTest,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      await input(`${dir}/in.jsonl`);
      await withMount({}, async (mnt) => {
        await ok(["import", `${mnt}/docs`, "--jsonl", `${dir}/in.jsonl`, "--dim", "8"]);
        await ok(["index", "build", `${mnt}/docs`]);
        const before = JSON.parse(await ok(["collection", "info", "--json", `${mnt}/docs`])).collection;
        const hitsBefore = JSON.parse(
          await ok(["search", `${mnt}/docs`, "-k", "5", "--like", `${mnt}/docs/b/f7.md`, "--json"]),
        );
        Deno.mkdirSync(`${mnt}/archive`);
        let r = await vexfs(["collection", "rename", `${mnt}/docs/a`, `${mnt}/x`]);
        assert.match(r.stderr, /not a collection root/);
        const x = JSON.parse(await ok(["collection", "rename", "--json", `${mnt}/docs`, `${mnt}/archive/docs`]))
          .collection;
        assert.equal(x.id, before.id);
        assert.equal(x.path, `${mnt}/archive/docs`);
        assert.equal(x.vectors, 20);
        const after = JSON.parse(await ok(["collection", "info", "--json", `${mnt}/archive/docs/a`])).collection;
        assert.equal(after.id, before.id);
        assert.equal(after.index, "hnsw");
        assert.equal(after.generation, before.generation);
        const hitsAfter = JSON.parse(
          await ok(["search", `${mnt}/archive/docs`, "-k", "5", "--like", `${mnt}/archive/docs/b/f7.md`, "--json"]),
        );
        assert.equal(hitsAfter.hits.length, 5);
        assert.deepEqual(hitsAfter.hits, hitsBefore.hits);
        assert.ok(!(await Deno.stat(`${mnt}/docs`).then(() => true, () => false)));
        Deno.mkdirSync(`${mnt}/taken`);
        r = await vexfs(["collection", "rename", `${mnt}/archive/docs`, `${mnt}/taken`]);
        assert.match(r.stderr, /already exists/);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
