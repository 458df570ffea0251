/**
 * Helpers shared by the engine's tests: fresh images, errno capture and the
 * rule that every image a test makes passes fsck.
 * @module
 */
import assert from "node:assert/strict";
import { FsError } from "../errors.ts";
import { fsck } from "../fsck/fsck.ts";
import { mkfs } from "./mkfs.ts";

/** A freshly formatted image file in the temp directory; the caller removes it. */
export function tmpImage(size = 64 << 20, blockSize = 4096, inodes?: number): string {
  const p = Deno.makeTempFileSync({ suffix: ".img" });
  Deno.removeSync(p);
  mkfs(p, { size, blockSize, inodes });
  return p;
}

/** Runs `f` and returns "ok" or the errno name of the FsError it threw. */
export function code(f: () => unknown): string {
  try {
    f();
    return "ok";
  } catch (e) {
    if (e instanceof FsError) return e.code;
    throw e;
  }
}

/** Every image a test produces must pass fsck with no errors or warnings. */
export function assertFsckClean(img: string): void {
  const r = fsck(img);
  const bad = r.problems.filter((p) => p.severity !== "info");
  // The message replaces assert's diff, so it carries the problems itself.
  assert.deepEqual(
    bad,
    [],
    `fsck of ${img}: ${bad.map((p) => `${p.severity} ${p.code} at ${p.where}: ${p.message}`).join("; ")}`,
  );
  assert.equal(r.exitCode, 0);
}
