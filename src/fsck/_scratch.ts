import { MemDevice } from "../device/mem.ts";
import { buildPopulated, DAMAGE, damageBlock, engineSmoke, type MetaBlocks, metaBlocks } from "./_testutil.ts";
import { fsck } from "./fsck.ts";
import { rng } from "../test_random.ts";
const { dev } = buildPopulated({ orphan: true, size: 2 << 20 });
const base = dev.bytes.slice();
const meta = metaBlocks(base);
const codes = new Map<string, number>();
const from = Number(Deno.args[0] ?? 1), to = Number(Deno.args[1] ?? 3000), maxDmg = Number(Deno.args[2] ?? 8);
let fails = 0;
for (let seed = from; seed <= to; seed++) {
  const rnd = rng(seed * 7919);
  const pick = <T>(a: readonly T[]) => a[Math.floor(rnd() * a.length)];
  const bytes = base.slice();
  const kinds = (Object.keys(meta) as (keyof MetaBlocks)[]).filter((k) => meta[k].length && k !== "superblock");
  const all = kinds.flatMap((k) => meta[k]);
  const dmg: string[] = [];
  for (let i = 0; i < 1 + Math.floor(rnd() * maxDmg); i++) {
    const kind = pick(kinds);
    const b = pick(meta[kind]);
    let how = pick(DAMAGE);
    const o = pick(all);
    if (how === "swapped" && o === b) how = "zeroed";
    dmg.push(`${kind}: ${damageBlock(bytes, 1024, b, how, rnd, o)}`);
  }
  const f: string[] = [];
  try {
    const ro = fsck(new MemDevice(bytes, { readOnly: true }), { readOnly: true });
    for (const p of ro.problems) codes.set(p.code, (codes.get(p.code) ?? 0) + 1);
    if (ro.problems.some((p) => p.code === "CHECKER_FAILED" || p.code === "PHASE_ABORTED")) {
      f.push(
        "-n checker failure " +
          JSON.stringify(ro.problems.filter((p) => p.code === "CHECKER_FAILED" || p.code === "PHASE_ABORTED")),
      );
    }
    const d = new MemDevice(bytes);
    const y = fsck(d, { yes: true });
    if (y.exitCode > 1) {
      f.push(
        `-y exit ${y.exitCode}: ` +
          y.problems.filter((p) => !p.fixed && p.severity === "error").map((p) => `${p.code} ${p.where} ${p.message}`)
            .join(" | "),
      );
    }
    const snap = bytes.slice();
    const y2 = fsck(d, { yes: true });
    if (y2.exitCode !== 0) {
      f.push(`-y2 exit ${y2.exitCode}: ` + y2.problems.map((p) => `${p.code} ${p.where} ${p.message}`).join(" | "));
    } else if (bytes.some((x, i) => x !== snap[i])) f.push("-y2 changed bytes");
    f.push(...engineSmoke(d, String(seed)));
    const l = fsck(new MemDevice(bytes, { readOnly: true }), { readOnly: true });
    if (l.exitCode !== 0 || l.problems.some((p) => p.severity !== "info")) {
      f.push("after engine: " + l.problems.map((p) => `${p.code} ${p.where} ${p.message}`).join(" | "));
    }
  } catch (e) {
    f.push("threw " + (e as Error).stack);
  }
  if (f.length) {
    fails++;
    if (fails <= 8) console.log(`seed ${seed} [${dmg.join("; ")}]\n  ${f.join("\n  ")}`);
  }
}
console.log("fails", fails);
console.log([...codes].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c}:${n}`).join(" "));
