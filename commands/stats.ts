/**
 * `vexfs stats MOUNTPOINT`: the daemon's counters since the mount
 * (`VEXFS_IOC_STATS`, docs/MONITORING.md), as tables or `--json`.
 * @module
 */
import type { Command } from "commander";
import { mountStats } from "../src/ioctl/client_admin.ts";
import { errnoRows, opRows, statsJson, summaryRows } from "../src/stats/render.ts";
import { mountOfDirectory } from "./backend.ts";
import { action, c, CliError, defineCommand, examples, kvTable, say, table } from "./util.ts";
import { fsHealthJson, printJsonResult } from "./json.ts";

/** Registers `vexfs stats`. */
export function register(program: Command): void {
  const cmd = defineCommand(
    program,
    "stats",
    "show the counters of a mount's daemon since it was mounted: requests, errors, latency, caches, journal, searches",
  )
    .argument("<mountpoint>", "a mounted VexFS (its mountpoint or any path on it)")
    .option("--json", "print the counters as JSON (docs/MONITORING.md)")
    .action(action("stats", async (target: string, o: { json?: boolean }) => {
      const st = await Deno.stat(target).catch(() => null);
      if (!st) throw new CliError(`${target} does not exist`);
      if (!st.isDirectory && !st.isFile) throw new CliError(`${target} is not a file or directory on a mount`);
      const m = await mountOfDirectory(st.isDirectory ? target : target.replace(/\/[^/]*$/, "") || ".");
      const r = await mountStats(target);
      if (o.json) {
        return printJsonResult("stats", {
          ...statsJson(r, m.target),
          filesystem: fsHealthJson(r.fsState, r.fsErrors, r.errorCount, r.firstError, r.lastError),
        });
      }
      say(c.bold(`VexFS daemon counters for ${m.target}`));
      say(kvTable(summaryRows(r)));
      const ops = opRows(r);
      if (ops.rows.length) {
        say();
        say(table(ops.head, ops.rows, ["left", "right", "right", "right", "right", "right", "right", "right"]));
      }
      const errs = errnoRows(r);
      if (errs.rows.length) {
        say();
        say(table(errs.head, errs.rows, ["left", "right", "left"]));
      }
    }));
  cmd.addHelpText(
    "after",
    "\nThe counters run from the mount and are kept in the daemon's memory; unmounting resets them. Latency " +
      "percentiles come from log buckets (within 12.5%); max is exact. The daemon keeps the request counters unless " +
      "it was started with VEXFS_STATS=off. See docs/MONITORING.md for each figure and how to collect them.",
  );
  examples(cmd, [
    "vexfs stats /mnt/vexfs",
    "vexfs stats --json /mnt/vexfs | jq '.operations[] | select(.op == \"lookup\")'",
  ]);
}
