/**
 * Runs a shell test script in Debian's kernels under QEMU (TCG) with the harness of
 * src/kernel/qemu.ts, and prints "N passed, N failed" per kernel.
 *
 *   node_modules/deno/deno run -A scripts/qemu-run.ts [--kernel 6.1|6.12|both] [--disk IMG]...
 *       [--module KO]... [--timeout SECONDS] [--log] SCRIPT|-
 *
 * The script runs in busybox ash with the harness's test library sourced (`t_ok`,
 * `t_fail`, `t_check`, `t_eq`, `modload`: see VM_TEST_LIB); disks are /dev/vda, /dev/vdb,
 * … in order and are changed in place. `--log` prints the whole serial console.
 * Exit status: 0 when every kernel's run is ok, 1 otherwise, 2 for bad arguments.
 */

import { parseArgs } from "node:util";
import { type KernelSeries, runInVm, summarize } from "../src/kernel/qemu.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    kernel: { type: "string", default: "both" },
    disk: { type: "string", multiple: true, default: [] },
    module: { type: "string", multiple: true, default: [] },
    timeout: { type: "string", default: "300" },
    log: { type: "boolean", default: false },
  },
});
const kernels: KernelSeries[] = values.kernel === "both"
  ? ["6.1", "6.12"]
  : values.kernel === "6.1" || values.kernel === "6.12"
  ? [values.kernel]
  : [];
const timeout = Number(values.timeout);
if (!kernels.length || positionals.length !== 1 || !(timeout > 0)) {
  console.error(
    "usage: qemu-run.ts [--kernel 6.1|6.12|both] [--disk IMG]... [--module KO]... [--timeout SECONDS] [--log] SCRIPT|-",
  );
  Deno.exit(2);
}
const script = positionals[0] === "-"
  ? await new Response(Deno.stdin.readable).text()
  : await Deno.readTextFile(positionals[0]);
let allOk = true;
for (const kernel of kernels) {
  const r = await runInVm({ kernel, disks: values.disk, modules: values.module, script, timeoutMs: timeout * 1000 });
  if (values.log) console.log(r.log);
  for (const name of r.failed) console.log(`not ok ${name}`);
  for (const line of r.crashes) console.log(`crash: ${line}`);
  console.log(
    `${summarize(r)}; boot ${r.bootSeconds === null ? "-" : r.bootSeconds.toFixed(1)} s, ` +
      `whole VM ${r.totalSeconds.toFixed(1)} s`,
  );
  allOk &&= r.ok;
}
Deno.exit(allOk ? 0 : 1);
