/**
 * Set-user-id and set-group-id bits after an unprivileged write, truncate,
 * fallocate or O_TRUNC open, through a real `vexfs mount` (FUSE), compared
 * with ext4 (tmpfs if ext4 cannot be mounted here): the kernel's
 * `file_remove_privs` rule, where set-group-id goes when the group may
 * execute the file or the writer is not in the file's group.
 * @module
 */
import { assertEquals } from "../test_assert.ts";
import * as P from "./_posix.ts";
import { mountTest, withExt4, withMount } from "./_testutil.ts";

const NOGROUP = 65534;

/** Runs `sh -c script` as nobody:nogroup without supplementary groups; true when it succeeded. */
function asNobody(script: string): boolean {
  return new Deno.Command("setpriv", {
    args: ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "sh", "-c", script],
    cwd: "/",
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).outputSync().success;
}

const OPS: Record<string, (f: string) => string> = {
  write: (f) => `printf x >> '${f}'`,
  truncate: (f) => `truncate -s 100 '${f}'`,
  fallocate: (f) => `fallocate -l 65536 '${f}'`,
  "O_TRUNC open": (f) => `: > '${f}'`,
};

/** [mode, group]: 0 is root's group (nobody is not in it), NOGROUP nobody's own. */
const FILES: [number, number][] = [
  [0o6666, 0],
  [0o6755, 0],
  [0o2755, 0],
  [0o6777, 0],
  [0o2666, 0],
  [0o6666, NOGROUP],
  [0o2666, NOGROUP],
  [0o6676, NOGROUP],
  [0o2776, NOGROUP],
];

/** What each (op, mode, group) case gives in `dir`: whether nobody's command succeeded, and the mode after. */
function outcomes(dir: string): string[] {
  const out: string[] = [];
  for (const [op, script] of Object.entries(OPS)) {
    for (const [mode, gid] of FILES) {
      const f = `${dir}/f-${op.replace(" ", "_")}-${mode.toString(8)}-${gid}`;
      P.close(P.open(f, P.O_CREAT | P.O_WRONLY, 0o600));
      P.lchown(f, 0, gid);
      P.chmod(f, mode);
      const ok = asNobody(script(f));
      const after = P.stat(f).mode & 0o7777;
      out.push(`${op} on ${mode.toString(8)} group ${gid}: ${ok ? "ok" : "refused"}, mode ${after.toString(8)}`);
    }
  }
  return out;
}

Deno.test({
  name: "killpriv: an unprivileged write, truncate, fallocate or O_TRUNC open clears setuid/setgid as ext4 does",
  ...mountTest,
  fn: async () => {
    const [ref, kind] = await withExt4((dir, kind) => [outcomes(dir), kind] as const);
    const vex = await withMount({ size: 64 << 20, options: "allow_other" }, (mnt) => outcomes(mnt));
    assertEquals(vex, ref, `reference: ${kind}`);
    // the case the issue named: 6666 written by a user outside the group loses both bits
    assertEquals(vex[0], "write on 6666 group 0: ok, mode 666", kind);
  },
});
