import fc from "fast-check";
import { assert, assertEquals, assertMatch } from "../test_assert.ts";
import { norm } from "../vector/distance.ts";
import { fileNameFor, fioriDataDir, loadFiori, MAX_FILE_NAME } from "./fiori.ts";

const NAME_RE = /^[a-z0-9][a-z0-9-]*\.md$/;
const bytes = (s: string) => new TextEncoder().encode(s).length;

Deno.test("fiori: loads 778 documents of dimension 384", async () => {
  assertMatch(await fioriDataDir(), /fiori-docs-embeddings\/data\/embeddings$/);
  const { dim, docs } = await loadFiori();
  assertEquals(dim, 384);
  assertEquals(docs.length, 778);
  assertEquals(docs[0].id, "local-btp-fiori-tools-0-chunk-0");
  assertEquals(
    docs[0].title,
    "Deploying an SAP Fiori Application (ABAP and Cloud Foundry)",
  );
  assertEquals(docs[0].category, "Btp Fiori Tools");
  assertMatch(docs[0].content, /^\*\*TITLE\*\*: Deploying/);
  assertEquals(new Set(docs.map((d) => d.id)).size, 778);
  for (const d of docs) {
    assertEquals(d.vector.length, 384);
    assert(d.vector.every(Number.isFinite));
    // all-MiniLM-L6-v2 embeddings are unit-normalised.
    assert(Math.abs(norm(d.vector) - 1) < 1e-3, `norm of ${d.id}`);
  }
  // The first vector matches embeddings.bin bytes 0..1535 read directly.
  const raw = await Deno.readFile(`${await fioriDataDir()}/embeddings.bin`);
  const dv = new DataView(raw.buffer);
  for (let j = 0; j < 384; j++) {
    assertEquals(docs[0].vector[j], dv.getFloat32(j * 4, true));
    assertEquals(docs[777].vector[j], dv.getFloat32((777 * 384 + j) * 4, true));
  }
});

Deno.test("fiori: fileNameFor gives unique safe names for every document", async () => {
  const { docs } = await loadFiori();
  const used = new Set<string>();
  const names = docs.map((d) => fileNameFor(d.title, d.id, used));
  assertEquals(new Set(names).size, docs.length);
  for (const n of names) {
    assertMatch(n, NAME_RE);
    assert(bytes(n) <= MAX_FILE_NAME, n);
  }
  assertEquals(
    names[0],
    "deploying-an-sap-fiori-application-abap-and-cloud-foundry.md",
  );
});

Deno.test("fiori: fileNameFor examples", () => {
  const used = new Set<string>();
  assertEquals(fileNameFor("Hello, World!", "x", used), "hello-world.md");
  assertEquals(fileNameFor("hello world", "x", used), "hello-world-2.md");
  assertEquals(fileNameFor("HELLO   world??", "x", used), "hello-world-3.md");
  assertEquals(fileNameFor("Crème brûlée", "x", used), "creme-brulee.md");
  assertEquals(fileNameFor("日本語", "Doc_42", used), "doc-42.md");
  assertEquals(fileNameFor("", "", used), "doc.md");
  assertEquals(fileNameFor("../etc/passwd", "x", used), "etc-passwd.md");
  const long = "word ".repeat(40);
  const a = fileNameFor(long, "x", used);
  const b = fileNameFor(long, "x", used);
  assert(bytes(a) <= 80 && bytes(b) <= 80 && a !== b, `${a} ${b}`);
  assertMatch(a, /^word(-word)*\.md$/);
  assertMatch(b, /^word(-word)*-2\.md$/);
});

Deno.test("fiori: fileNameFor is safe and unique for any input (property)", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(fc.string({ unit: "grapheme", maxLength: 120 }), fc.string()),
        {
          maxLength: 40,
        },
      ),
      (pairs) => {
        const used = new Set<string>();
        const names = pairs.map(([t, id]) => fileNameFor(t, id, used));
        assertEquals(new Set(names).size, names.length);
        for (const n of names) {
          assertMatch(n, NAME_RE);
          assert(bytes(n) <= MAX_FILE_NAME);
        }
      },
    ),
    { numRuns: 300 },
  );
});
