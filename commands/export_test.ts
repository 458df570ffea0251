/**
 * `vexfs export` round trips on the fiori dataset (778 docs, 384-d):
 * import → export → import into a fresh image → export gives the same
 * JSONL, byte for byte, offline and through a real mount; vectors bit
 * identical, texts and extra fields (kept as user.* xattrs) preserved;
 * every image fsck-clean.
 */
import assert from "node:assert/strict";
import { Vexfs } from "../src/fs/fs.ts";
import { assertFsckClean, tmpImage } from "../src/fs/_testutil.ts";
import { mountTest, withMount } from "../src/mount/_testutil.ts";
import { vexfsArgv } from "../src/mount/self.ts";
import { loadFiori } from "../src/data/fiori.ts";
import { getxattr } from "../src/mount/_posix.ts";

const dec = new TextDecoder();

async function vexfs(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const [exe, ...rest] = vexfsArgv(args);
  const o = await new Deno.Command(exe, { args: rest, stdout: "piped", stderr: "piped", env: { NO_COLOR: "1" } })
    .output();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

async function ok(...args: string[]): Promise<string> {
  const r = await vexfs(...args);
  assert.equal(r.code, 0, `vexfs ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** The fiori dataset as import JSONL, with extra fields (strings, a number, an array); the records by path. */
async function fioriInput(file: string): Promise<Map<string, Record<string, unknown>>> {
  const { docs } = await loadFiori();
  assert.equal(docs.length, 778);
  const byPath = new Map<string, Record<string, unknown>>();
  const lines: string[] = [];
  docs.forEach((d, i) => {
    const o: Record<string, unknown> = {
      path: `c${i % 5}/${d.id}.md`,
      text: d.content,
      vector: Array.from(d.vector),
      title: d.title,
      n: i,
    };
    if (d.category) o.category = d.category;
    if (i % 3 === 0) o.tags = ["fiori", i];
    byPath.set(o.path as string, o);
    lines.push(JSON.stringify(o));
  });
  await Deno.writeTextFile(file, lines.join("\n") + "\n");
  return byPath;
}

/** Checks an export against the input: same paths, bit-identical vectors, texts, fields as xattr text. */
function checkExport(text: string, input: Map<string, Record<string, unknown>>): void {
  const [header, ...lines] = text.trimEnd().split("\n");
  // the collection's settings first (docs/JSONL.md): what the import created, the defaults here
  assert.deepEqual(JSON.parse(header), {
    vexfs_collection: {
      dim: 384,
      metric: "cosine",
      type: "f32",
      index: "hnsw",
      m: 16,
      ef_construction: 200,
      ef_search: 0,
    },
  });
  assert.equal(lines.length, input.size);
  const seen = new Set<string>();
  for (const l of lines) {
    const o = JSON.parse(l);
    const want = input.get(o.path)!;
    assert.ok(want, `unexpected path ${o.path}`);
    seen.add(o.path);
    const a = new Uint32Array(new Float32Array(o.vector).buffer);
    const b = new Uint32Array(new Float32Array(want.vector as number[]).buffer);
    assert.deepEqual(a, b, `vector bits of ${o.path}`);
    assert.equal(o.text, want.text);
    assert.equal(o.title, want.title);
    assert.equal(o.n, String(want.n), "a number field is kept as its JSON text");
    assert.equal(o.category, want.category);
    assert.equal(o.tags, want.tags === undefined ? undefined : JSON.stringify(want.tags));
  }
  assert.equal(seen.size, input.size);
}

Deno.test("export: fiori round trip offline gives identical JSONL, xattrs from extra fields", async () => {
  const dir = await Deno.makeTempDir();
  const img1 = tmpImage(128 << 20);
  const img2 = tmpImage(128 << 20);
  try {
    const input = await fioriInput(`${dir}/in.jsonl`);
    await ok("import", img1, "/docs", "--jsonl", `${dir}/in.jsonl`);
    await ok("export", img1, "/docs", "--text", "-o", `${dir}/e1.jsonl`);
    const e1 = await Deno.readTextFile(`${dir}/e1.jsonl`);
    checkExport(e1, input);
    // the extra fields are xattrs on the files
    const fs = Vexfs.open(img1, { readOnly: true });
    try {
      const p = [...input.keys()][3];
      assert.equal(dec.decode(fs.getxattr(fs.resolve(`/docs/${p}`), "user.n")), "3");
      assert.equal(dec.decode(fs.getxattr(fs.resolve(`/docs/${p}`), "user.tags")), '["fiori",3]');
    } finally {
      fs.close();
    }
    await ok("import", img2, "/other/place", "--jsonl", `${dir}/e1.jsonl`);
    // stdout, and a subtree
    const e2 = await ok("export", img2, "/other/place", "--text", "-q");
    assert.equal(e2, e1, "export of the re-import is byte-identical");
    const sub = await ok("export", img2, "/other/place/c1", "-q");
    const [subHeader, ...subLines] = sub.trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.equal(subHeader.vexfs_collection.dim, 384, "a subtree's export carries its collection's settings too");
    assert.equal(subLines.length, [...input.keys()].filter((p) => p.startsWith("c1/")).length);
    assert.ok(subLines.every((o) => !o.path.startsWith("c1/") && o.text === undefined));
    // errors: not a directory, no such directory
    const bad = await vexfs("export", img2, "/nope");
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /no such/);
    assertFsckClean(img1);
    assertFsckClean(img2);
  } finally {
    Deno.removeSync(img1);
    Deno.removeSync(img2);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "export: fiori round trip through a mount gives the JSONL of the offline export",
  ...mountTest,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const img1 = tmpImage(128 << 20);
    try {
      const input = await fioriInput(`${dir}/in.jsonl`);
      await ok("import", img1, "/docs", "--jsonl", `${dir}/in.jsonl`);
      const e1 = await ok("export", img1, "/docs", "--text", "-q");
      const img2 = await withMount({ keepImage: true, size: 128 << 20 }, async (mnt, img) => {
        await ok("import", `${mnt}/coll`, "--jsonl", `${dir}/in.jsonl`);
        const p = [...input.keys()][0];
        assert.equal(dec.decode(getxattr(`${mnt}/coll/${p}`, "user.title")), input.get(p)!.title);
        await ok("export", `${mnt}/coll`, "--text", "-o", `${dir}/m.jsonl`);
        assert.equal(await Deno.readTextFile(`${dir}/m.jsonl`), e1, "mounted export = offline export");
        // export → import on the mount → export again
        await ok("import", `${mnt}/again`, "--jsonl", `${dir}/m.jsonl`);
        assert.equal(await ok("export", `${mnt}/again`, "--text", "-q"), e1);
        return img;
      });
      try {
        assert.equal(await ok("export", img2, "/again", "--text", "-q"), e1, "offline export of the mounted import");
        assertFsckClean(img2);
      } finally {
        Deno.removeSync(img2);
      }
      assertFsckClean(img1);
    } finally {
      Deno.removeSync(img1);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("import: extra JSONL fields become user.* xattrs (the documented example file)", async () => {
  const img = tmpImage();
  const dir = await Deno.makeTempDir();
  try {
    await ok("import", img, "/docs", "--jsonl", "testdata/examples/small.jsonl");
    const fs = Vexfs.open(img, { readOnly: true });
    try {
      const x = (p: string, n: string) => dec.decode(fs.getxattr(fs.resolve(p), n));
      assert.equal(x("/docs/guides/intro.md", "user.lang"), "en");
      assert.equal(x("/docs/guides/intro.md", "user.stars"), "4");
      assert.equal(x("/docs/guides/search.md", "user.tags"), '["search","hnsw"]');
      assert.equal(x("/docs/faq-1", "user.lang"), "de");
      assert.deepEqual(fs.xattrNames(fs.resolve("/docs/faq-1")).filter((n) => !n.startsWith("user.vexfs.")), [
        "user.lang",
      ]);
    } finally {
      fs.close();
    }
    const [header, ...out] = (await ok("export", img, "/docs", "-q")).trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(header, {
      vexfs_collection: {
        dim: 4,
        metric: "cosine",
        type: "f32",
        index: "hnsw",
        m: 16,
        ef_construction: 200,
        ef_search: 0,
      },
    });
    assert.deepEqual(out.map((o) => [o.path, o.lang, o.stars, o.tags]), [
      ["faq-1", "de", undefined, undefined],
      ["guides/intro.md", "en", "4", undefined],
      ["guides/search.md", "en", undefined, '["search","hnsw"]'],
    ]);
    // a null field stores nothing; a reserved or empty name is refused with its line, before anything is written
    await Deno.writeTextFile(`${dir}/n.jsonl`, '{"path":"a","vector":[1,2,3,4],"gone":null}\n');
    await ok("import", img, "/docs", "--jsonl", `${dir}/n.jsonl`);
    await Deno.writeTextFile(
      `${dir}/r.jsonl`,
      '{"path":"b","vector":[1,2,3,4]}\n{"path":"c","vector":[1,2,3,4],"vexfs.vector":"x"}\n',
    );
    const r = await vexfs("import", img, "/docs", "--jsonl", `${dir}/r.jsonl`);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /line 2.*reserved/);
    await Deno.writeTextFile(`${dir}/e.jsonl`, '{"path":"b","vector":[1,2,3,4],"":1}\n');
    assert.match((await vexfs("import", img, "/docs", "--jsonl", `${dir}/e.jsonl`)).stderr, /line 1.*empty name/);
    const fs2 = Vexfs.open(img, { readOnly: true });
    try {
      assert.deepEqual(fs2.xattrNames(fs2.resolve("/docs/a")).filter((n) => !n.startsWith("user.vexfs.")), []);
      assert.throws(() => fs2.resolve("/docs/b"), "nothing of a refused file was written");
    } finally {
      fs2.close();
    }
    assertFsckClean(img);
  } finally {
    Deno.removeSync(img);
    await Deno.remove(dir, { recursive: true });
  }
});

/** 12 records of 6-d vectors under a/ and b/, with an extra field, and no header. */
async function smallInput(file: string): Promise<void> {
  const lines = [];
  for (let i = 0; i < 12; i++) {
    const v = Array.from({ length: 6 }, (_, k) => Math.round(Math.cos(i + k) * 64) / 64);
    lines.push(JSON.stringify({ path: `${"ab"[i % 2]}/f${i}.md`, text: `t${i}`, vector: v, n: i }));
  }
  await Deno.writeTextFile(file, lines.join("\n") + "\n");
}

Deno.test("export/import: collection settings round trip (header line), options override, mismatches refused", async () => {
  const dir = await Deno.makeTempDir();
  const img1 = tmpImage();
  const img2 = tmpImage();
  try {
    await smallInput(`${dir}/in.jsonl`);
    const create = [
      "--dim",
      "6",
      "--metric",
      "l2",
      "--type",
      "f16",
      "--m",
      "8",
      "--ef-construction",
      "100",
      "--ef",
      "50",
    ];
    await ok("collection", "create", img1, "/docs", "-p", ...create);
    await ok("import", img1, "/docs", "--jsonl", `${dir}/in.jsonl`);
    await ok("export", img1, "/docs", "--text", "-o", `${dir}/e1.jsonl`);
    const e1 = await Deno.readTextFile(`${dir}/e1.jsonl`);
    assert.deepEqual(JSON.parse(e1.split("\n")[0]), {
      vexfs_collection: { dim: 6, metric: "l2", type: "f16", index: "hnsw", m: 8, ef_construction: 100, ef_search: 50 },
    });
    // into a fresh image: the collection is created with the header's settings; exporting it again gives the same bytes
    await ok("import", img2, "/copy", "--jsonl", `${dir}/e1.jsonl`);
    const info = JSON.parse(await ok("collection", "info", "--json", img2, "/copy")).collection;
    assert.deepEqual(
      [info.dim, info.metric, info.element_type, info.index, info.hnsw],
      [6, "l2", "f16", "hnsw", { m: 8, ef_construction: 100, ef_search: 50 }],
    );
    assert.equal(await ok("export", img2, "/copy", "--text", "-q"), e1, "export → import → export: identical bytes");
    // --no-settings: the records only
    const bare = await ok("export", img2, "/copy", "--text", "-q", "--no-settings");
    assert.equal(bare, e1.slice(e1.indexOf("\n") + 1));
    // explicit options win over the header
    await ok("import", img2, "/flat", "--jsonl", `${dir}/e1.jsonl`, "--index", "flat", "--type", "f32");
    const flat = JSON.parse(await ok("collection", "info", "--json", img2, "/flat")).collection;
    assert.deepEqual([flat.metric, flat.element_type, flat.index, flat.hnsw], ["l2", "f32", "flat", null]);
    // an existing collection with other settings: refused, saying the header asked, nothing written
    await ok("collection", "create", img2, "/cos", "-p", "--dim", "6", "--metric", "cosine");
    const r = await vexfs("import", img2, "/cos", "--jsonl", `${dir}/e1.jsonl`);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /metric cosine, not l2.*type f32, not f16.*collection header/);
    assert.equal(JSON.parse(await ok("collection", "info", "--json", img2, "/cos")).collection.vectors, 0);
    // ... which options may override (the vectors are the same 6-d)
    await ok("import", img2, "/cos", "--jsonl", `${dir}/e1.jsonl`, "--metric", "cosine", "--type", "f32");
    assert.equal(JSON.parse(await ok("collection", "info", "--json", img2, "/cos")).collection.vectors, 12);
    // bad headers: refused with their line, nothing created
    const bad = async (text: string, re: RegExp) => {
      await Deno.writeTextFile(`${dir}/bad.jsonl`, text);
      const x = await vexfs("import", img2, "/bad", "--jsonl", `${dir}/bad.jsonl`);
      assert.equal(x.code, 1, text);
      assert.match(x.stderr, re);
    };
    const rec = '{"path":"x","vector":[1,2,3,4,5,6]}\n';
    await bad('{"vexfs_collection":{"dim":6,"metric":"hamming"}}\n' + rec, /line 1.*metric.*hamming/);
    await bad('{"vexfs_collection":{"metric":"l2"}}\n' + rec, /line 1.*needs "dim"/);
    await bad('{"vexfs_collection":{"dim":5}}\n' + rec, /line 2.*5/);
    await bad(rec + '{"vexfs_collection":{"dim":6}}\n', /line 2.*only allowed as the first line/);
    await bad('{"vexfs_collection":{"dim":6,"index":"flat","m":8}}\n' + rec, /flat collection has no m/);
    await bad('{"vexfs_collection":{"dim":6},"path":"y"}\n' + rec, /stands alone/);
    assert.notEqual((await vexfs("collection", "info", img2, "/bad")).code, 0, "nothing was created");
    assertFsckClean(img1);
    assertFsckClean(img2);
  } finally {
    Deno.removeSync(img1);
    Deno.removeSync(img2);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "export/import: collection settings round trip through a mount",
  ...mountTest,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      await smallInput(`${dir}/in.jsonl`);
      await withMount({}, async (mnt) => {
        const create = ["--dim", "6", "--metric", "ip", "--type", "f16", "--m", "12", "--ef-construction", "64"];
        await ok("collection", "create", "-p", `${mnt}/docs`, ...create); // -p makes the directory on a mount too
        await ok("import", `${mnt}/docs`, "--jsonl", `${dir}/in.jsonl`);
        const e1 = await ok("export", `${mnt}/docs`, "-q");
        assert.deepEqual(JSON.parse(e1.split("\n")[0]), {
          vexfs_collection: {
            dim: 6,
            metric: "ip",
            type: "f16",
            index: "hnsw",
            m: 12,
            ef_construction: 64,
            ef_search: 0,
          },
        });
        await Deno.writeTextFile(`${dir}/e1.jsonl`, e1);
        await ok("import", `${mnt}/copy`, "--jsonl", `${dir}/e1.jsonl`);
        assert.equal(await ok("export", `${mnt}/copy`, "-q"), e1, "mounted export → import → export: identical");
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
