/**
 * The fsck regression corpus (as e2fsprogs' `tests/f_*`): every case in
 * `testdata/fsck/<case>/` is a damaged image with the report the first
 * `fsck -y` must give (`expect.1`), the report of a second `fsck -y`
 * (`expect.2`, clean), and the problem code it is about (`name`), which
 * `fsck -n` must report. The repaired image must then open in the engine and
 * work. `testdata/fsck/make_corpus.ts` builds the cases; rerun it after a
 * deliberate change of what fsck reports, and review the diff of the
 * expect files.
 * @module
 */
import assert from "node:assert/strict";
import { MemDevice } from "../device/mem.ts";
import { fsck } from "./fsck.ts";
import { engineSmoke, reportText } from "./_testutil.ts";

const ROOT = new URL("../../testdata/fsck/", import.meta.url);

async function gunzip(b: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const s = new Blob([b]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(s).arrayBuffer());
}

const cases = [...Deno.readDirSync(ROOT)].filter((e) => e.isDirectory).map((e) => e.name).sort();

Deno.test("fsck corpus: at least 40 cases, one per problem class", () => {
  assert.ok(cases.length >= 40, `${cases.length} cases`);
  const codes = new Set(cases.map((c) => Deno.readTextFileSync(new URL(`${c}/name`, ROOT)).split(":")[0]));
  assert.ok(codes.size >= 40, `${codes.size} distinct codes`);
});

for (const name of cases) {
  Deno.test(`fsck corpus ${name}: -y gives expect.1, a second -y expect.2, and the engine works after`, async () => {
    const dir = new URL(`${name}/`, ROOT);
    const code = Deno.readTextFileSync(new URL("name", dir)).split(":")[0];
    const bytes = await gunzip(Deno.readFileSync(new URL("image.gz", dir)));
    const n = fsck(new MemDevice(bytes.slice(), { readOnly: true }), { readOnly: true });
    if (code !== "(none)") {
      assert.ok(n.problems.some((p) => p.code === code), `fsck -n reports ${code}:\n${reportText(n)}`);
    }
    const dev = new MemDevice(bytes, { name: "memory" });
    assert.equal(
      reportText(fsck(dev, { yes: true })),
      Deno.readTextFileSync(new URL("expect.1", dir)),
      "first fsck -y",
    );
    const after = bytes.slice();
    assert.equal(
      reportText(fsck(dev, { yes: true })),
      Deno.readTextFileSync(new URL("expect.2", dir)),
      "second fsck -y",
    );
    assert.ok(bytes.every((x, i) => x === after[i]), "the second fsck -y changed nothing");
    assert.deepEqual(engineSmoke(dev, name), [], "the engine works on the repaired image");
    const last = fsck(new MemDevice(bytes, { readOnly: true }), { readOnly: true });
    assert.equal(last.exitCode, 0, reportText(last));
  });
}
