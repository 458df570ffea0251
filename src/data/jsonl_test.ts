import fc from "fast-check";
import { assertEquals, assertFsError, assertRejectsFsError } from "../test_assert.ts";
import { type ImportRecord, parseJsonl, readJsonl, readJsonlFile, relativeFilePath } from "./jsonl.ts";
import assert from "node:assert/strict";
import { readJsonlSettings, settingsLine } from "./jsonl_settings.ts";

const F32 = (a: number[]) => new Float32Array(a);

function all(text: string, dim?: number): ImportRecord[] {
  return [...parseJsonl(text, { dim })];
}

async function collect(
  it: AsyncIterable<ImportRecord>,
): Promise<ImportRecord[]> {
  const out: ImportRecord[] = [];
  for await (const r of it) out.push(r);
  return out;
}

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (const ch of chunks) c.enqueue(ch);
      c.close();
    },
  });
}

Deno.test("jsonl: parses records with line numbers", () => {
  const text = '\uFEFF{"path": "a/b.md", "text": "hi", "vector": [1, 2]}\r\n' +
    "\n" +
    '   {"id": "x", "vector": [3, 4.5], "extra": true}\n' +
    '{"path": "c", "id": "y", "vector": [0, -1]}';
  assertEquals(all(text), [
    { line: 1, path: "a/b.md", text: "hi", vector: F32([1, 2]) },
    { line: 3, id: "x", vector: F32([3, 4.5]), fields: { extra: true } }, // kept, as user.extra on import
    { line: 4, path: "c", id: "y", vector: F32([0, -1]) },
  ]);
  assertEquals(all(""), []);
  assertEquals(all("\n\n"), []);
});

Deno.test("jsonl: errors name the line", () => {
  const ok = '{"id": "a", "vector": [1, 2]}\n';
  assertFsError(
    () => all(ok + '{"id": "b", "vector": [1, 2]\n'),
    "EINVAL",
    /^EINVAL: line 2: malformed JSON/,
  );
  assertFsError(
    () => all(ok + ok + '{"id": "c"}'),
    "EINVAL",
    /line 3: missing "vector"/,
  );
  assertFsError(
    () => all('{"text": "t", "vector": [1]}'),
    "EINVAL",
    /line 1: record needs "path" or "id"/,
  );
  assertFsError(
    () => all("[1, 2]"),
    "EINVAL",
    /line 1: expected a JSON object/,
  );
  assertFsError(
    () => all('{"path": 3, "vector": [1]}'),
    "EINVAL",
    /line 1: "path" must be a string, got number/,
  );
  assertFsError(
    () => all('{"id": "", "vector": [1]}'),
    "EINVAL",
    /line 1: "id" is empty/,
  );
  assertFsError(
    () => all('{"id": "a", "vector": "1 2"}'),
    "EINVAL",
    /line 1: vector must be a JSON array of numbers/,
  );
  assertFsError(
    () => all('{"id": "a", "vector": [1, "2"]}'),
    "EINVAL",
    /line 1: vector\[1\] is string, expected a number/,
  );
  assertFsError(
    () => all('{"id": "a", "vector": []}'),
    "EINVAL",
    /line 1: vector is empty/,
  );
  assertFsError(
    () => all('{"id": "a", "vector": [1e39]}'),
    "EINVAL",
    /line 1: vector\[0\] = 1e\+39 overflows f32/,
  );
  // Dimension fixed by the first record, or by the option.
  assertFsError(
    () => all(ok + '{"id": "b", "vector": [1, 2, 3]}'),
    "EINVAL",
    /line 2: vector has 3 numbers, expected 2/,
  );
  assertFsError(
    () => all(ok, 3),
    "EINVAL",
    /line 1: vector has 2 numbers, expected 3/,
  );
});

Deno.test("jsonl: a file path must stay inside the target directory", () => {
  assertEquals(relativeFilePath("a/b.md"), "a/b.md");
  assertEquals(relativeFilePath("./a/./b.md"), "a/b.md");
  assertEquals(relativeFilePath("a\\b.md"), "a/b.md");
  assertEquals(relativeFilePath("..a/b..c/..."), "..a/b..c/...");
  assertEquals(relativeFilePath("x".repeat(255)), "x".repeat(255));
  for (
    const [p, why] of [
      ["../coll/a.md", /'\.\.' component/],
      ["../../escape.md", /'\.\.' component/],
      ["a/../../b", /'\.\.' component/],
      ["a/..", /'\.\.' component/],
      ["..\\x", /'\.\.' component/],
      ["/etc/passwd", /absolute/],
      ["\\x", /absolute/],
      ["a//b", /empty component/],
      ["a/", /empty component/],
      ["a\u0000b", /NUL/],
      [".", /does not name a file/],
      ["./.", /does not name a file/],
      ["x".repeat(256), /256 bytes; at most 255/],
    ] as const
  ) {
    assertFsError(() => relativeFilePath(p), "EINVAL", why);
  }
  // The parser refuses such a record naming the line and the path, before yielding anything for it.
  const ok = '{"path": "fine.md", "vector": [1, 2]}\n';
  assertFsError(
    () => all(ok + '{"path": "../coll/a.md", "vector": [1, 2]}'),
    "EINVAL",
    /^EINVAL: line 2: "path" "\.\.\/coll\/a\.md" has a '\.\.' component; paths must stay inside the target directory$/,
  );
  assertFsError(() => all('{"path": "/abs", "vector": [1]}'), "EINVAL", /line 1: "path" "\/abs" is absolute/);
  assertFsError(
    () => all('{"path": "a\\u0000b", "vector": [1]}'),
    "EINVAL",
    /line 1: "path" "a\\u0000b" contains a NUL/,
  );
  // "id" names the file when there is no "path", so it is checked then (and only then).
  assertFsError(() => all('{"id": "../x", "vector": [1]}'), "EINVAL", /line 1: "id" "\.\.\/x" has a '\.\.'/);
  assertEquals(all('{"path": "p", "id": "../x", "vector": [1]}').map((r) => r.id), ["../x"]);
});

Deno.test("jsonl: the stream reader matches parseJsonl for any chunking (property)", async () => {
  const rec = fc.record({
    path: fc.option(fc.string({ minLength: 1, unit: "grapheme" }), {
      nil: undefined,
    }),
    id: fc.string({ minLength: 1, unit: "grapheme" }),
    text: fc.option(fc.string({ unit: "grapheme" }), { nil: undefined }),
    vector: fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), {
      minLength: 3,
      maxLength: 3,
    }),
  }).filter((r) => {
    try {
      relativeFilePath(r.path ?? r.id); // the name of the file must stay inside the target
      return true;
    } catch {
      return false;
    }
  });
  await fc.assert(
    fc.asyncProperty(
      fc.array(rec, { maxLength: 12 }),
      fc.array(fc.nat(), { maxLength: 8 }),
      fc.boolean(),
      async (recs, cuts, crlf) => {
        const nl = crlf ? "\r\n" : "\n";
        const text = recs.map((r) => JSON.stringify(r)).join(nl);
        const bytes = new TextEncoder().encode(text);
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))]
          .sort((a, b) => a - b);
        const chunks: Uint8Array[] = [];
        let prev = 0;
        for (const p of [...points, bytes.length]) {
          chunks.push(bytes.slice(prev, p)); // may split a UTF-8 sequence
          prev = p;
        }
        const want = [...parseJsonl(text)];
        assertEquals(await collect(readJsonl(streamOf(chunks))), want);
        assertEquals(want.length, recs.length);
        want.forEach((w, i) => {
          assertEquals(w.line, i + 1);
          assertEquals(w.id, recs[i].id);
          assertEquals(w.path, recs[i].path);
          // JSON drops the sign of -0
          assertEquals(w.vector, F32(recs[i].vector.map((x) => x + 0)));
        });
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("jsonl: readJsonlFile names the file in errors", async () => {
  const path = await Deno.makeTempFile({ suffix: ".jsonl" });
  try {
    await Deno.writeTextFile(
      path,
      '{"path": "p1", "vector": [1, 2]}\n{"path": "p2", "vector": [1, 2]}\n',
    );
    const recs = await collect(readJsonlFile(path, { dim: 2 }));
    assertEquals(recs.map((r) => [r.line, r.path]), [[1, "p1"], [2, "p2"]]);
    // Early exit closes the file without error.
    for await (const _ of readJsonlFile(path)) break;
    await Deno.writeTextFile(
      path,
      '{"path": "p1", "vector": [1, 2]}\n{oops}\n',
    );
    const escaped = path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    await assertRejectsFsError(
      () => collect(readJsonlFile(path)),
      "EINVAL",
      new RegExp(`^EINVAL: ${escaped} line 2: malformed JSON`),
    );
    await Deno.writeFile(path, new Uint8Array([0x7b, 0xff, 0x7d, 0x0a]));
    await assertRejectsFsError(
      () => collect(readJsonlFile(path)),
      "EINVAL",
      /not valid UTF-8/,
    );
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("jsonl: a collection header on the first line goes to onSettings, fixes the dimension, is no record", () => {
  let got: unknown = null;
  const text = '\n{"vexfs_collection":{"dim":2,"metric":"l2","type":"f16","index":"hnsw","m":8,"ef_construction":50,' +
    '"ef_search":0}}\n{"path":"a","vector":[1,2]}\n';
  const recs = [...parseJsonl(text, { onSettings: (s) => got = s })];
  assert.equal(recs.length, 1);
  assert.equal(recs[0].line, 3);
  assert.deepEqual(got, { dim: 2, metric: "l2", elem: "f16", index: "hnsw", m: 8, efConstruction: 50, efSearch: 0 });
  assert.throws(
    () => [...parseJsonl('{"vexfs_collection":{"dim":3}}\n{"path":"a","vector":[1,2]}\n')],
    /line 2: .*3 elements|line 2/,
  );
  assert.throws(() => [...parseJsonl('{"vexfs_collection":{"dim":3}}\n', { dim: 2 })], /line 1: .*says dimension 3/);
  assert.throws(
    () => [...parseJsonl('{"path":"a","vector":[1,2]}\n{"vexfs_collection":{"dim":2}}\n')],
    /line 2: .*first line/,
  );
  assert.throws(() => [...parseJsonl('{"vexfs_collection":{"dim":2,"colour":"red"}}\n')], /unknown collection setting/);
  assert.throws(() => [...parseJsonl('{"vexfs_collection":{"dim":2,"m":1}}\n')], /"m" must be an integer 2..128/);
  assert.throws(() => [...parseJsonl('{"vexfs_collection":{"dim":2,"m":16,"ef_construction":8}}\n')], /below m/);
  assert.throws(() => [...parseJsonl('{"vexfs_collection":[2]}\n')], /must be an object/);
});

Deno.test("jsonl: settingsLine and readJsonlSettings round trip; a file without a header has none", async () => {
  const line = settingsLine({ dim: 3, metric: "ip", elem: "i8", index: "flat" });
  assert.equal(line, '{"vexfs_collection":{"dim":3,"metric":"ip","type":"i8","index":"flat"}}');
  const f = await Deno.makeTempFile({ suffix: ".jsonl" });
  try {
    await Deno.writeTextFile(f, `\uFEFF\r\n${line}\r\n{"path":"a","vector":[1,2,3]}\n`);
    assert.deepEqual(await readJsonlSettings(f), { dim: 3, metric: "ip", elem: "i8", index: "flat" });
    await Deno.writeTextFile(f, '{"path":"a","vector":[1,2,3]}\n');
    assert.equal(await readJsonlSettings(f), null);
    await Deno.writeTextFile(f, "");
    assert.equal(await readJsonlSettings(f), null);
    await Deno.writeTextFile(f, '{"vexfs_collection":{"dim":0}}');
    await assert.rejects(() => readJsonlSettings(f), /line 1: .*"dim" must be an integer 1..4096/);
  } finally {
    await Deno.remove(f);
  }
});
