/**
 * Test helper: mount the in-memory test filesystem at `Deno.args[0]`,
 * print "ready", serve until unmounted or signalled, print "closed".
 * Used by session_test.ts to check SIGTERM/SIGINT handling in a separate
 * process.
 * @module
 */
import { createMemFs } from "./_memfs.ts";
import { mountFuse } from "./session.ts";

if (import.meta.main) {
  const m = mountFuse(createMemFs(), Deno.args[0], {
    options: ["fsname=memfs", "subtype=memfs"],
  });
  console.log("ready");
  await m.closed;
  console.log("closed");
}
