/**
 * The committed WebAssembly modules are what their sources build to: each
 * generated `src/wasm/<name>_wasm.ts` records the sha256 of its sources,
 * headers and flags (checked always, no compiler needed), and, when clang and
 * wasm-ld are installed, every module is rebuilt and must give the same bytes.
 * @module
 */
import assert from "node:assert/strict";
import { MODULES } from "./layout.ts";
import { build, findToolchain, generatedPath, present, ROOT, sourceHash } from "../../wasm/build.ts";
import type { WasmModuleData } from "./layout.ts";

async function committed(name: string): Promise<WasmModuleData> {
  const path = `${ROOT}/${generatedPath(name)}`;
  try {
    Deno.statSync(path);
  } catch {
    throw new Error(`${generatedPath(name)} is missing: run node_modules/deno/deno run -A wasm/build.ts`);
  }
  const m = await import(new URL(`./${name}_wasm.ts`, import.meta.url).href);
  return m[`${name.toUpperCase()}_WASM`] as WasmModuleData;
}

for (const spec of MODULES) {
  Deno.test(`wasm build: ${spec.name} is built from its current sources`, async (t) => {
    if (!present(spec)) {
      console.log(`skipped: ${spec.sources[0]} does not exist`);
      return;
    }
    const data = await committed(spec.name);
    assert.equal(
      data.sha256,
      await sourceHash(spec),
      `${generatedPath(spec.name)} is stale (its sources changed): run node_modules/deno/deno run -A wasm/build.ts`,
    );
    const tc = await findToolchain();
    if ("why" in tc) {
      console.log(`rebuild skipped: ${tc.why}`);
      return;
    }
    if (tc.version !== data.compiler) {
      console.log(`rebuild skipped: built with "${data.compiler}", this machine has "${tc.version}"`);
      return;
    }
    await t.step("rebuild gives the committed bytes", async () => {
      const fresh = await build(spec, tc);
      assert.equal(fresh.wasm.length, data.wasm.length, "size differs");
      assert.ok(fresh.wasm === data.wasm, `rebuilding ${spec.name} gives different bytes`);
    });
  });
}
