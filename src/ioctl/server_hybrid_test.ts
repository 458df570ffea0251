/**
 * server_hybrid.ts on the engine, without a mount: `handleIoctl` with
 * HYBRID and TEXT_INDEX for callers of several uids. Hits are exactly the
 * engine's `searchHybrid` with the files the caller may not read left out,
 * also when the unreadable files fill a side's whole candidate list many
 * times over (the side is asked again); TEXT_INDEX build and drop need
 * write permission on the collection's root; ioctlChangesFs says which
 * TEXT_INDEX requests change the filesystem.
 */
import { ROOT_INO } from "../format/constants.ts";
import { tmpImage } from "../fs/_testutil.ts";
import { Vexfs } from "../fs/fs.ts";
import { searchHybrid } from "../search/hybrid.ts";
import { assert, assertEquals } from "../test_assert.ts";
import { rng } from "../test_random.ts";
import { FsError } from "../errors.ts";
import {
  decodeHybridReply,
  decodeTextIndexReply,
  encodeHybrid,
  encodeTextIndex,
  type HybridRequestInput,
  iocSize,
  VEXFS_IOC_HYBRID,
  VEXFS_IOC_TEXT_INDEX,
} from "./abi.ts";
import { handleIoctl, type IoctlCaller, ioctlChangesFs } from "./server.ts";

const enc = new TextEncoder();
const WORDS = ["alpha", "beta", "gamma", "delta", "omega"];

/** An image with /c (3-d l2 flat): 60 files of uids 0, 1000 and 2000 with modes 0644 / 0600 / 0640, a text index. */
function setup(): { img: string; fs: Vexfs; c: number; files: { ino: number; uid: number; mode: number }[] } {
  const img = tmpImage(32 << 20);
  const fs = Vexfs.open(img);
  const c = fs.mkdir(ROOT_INO, "c", 0o755);
  fs.collections.create(c, { dim: 3, metric: "l2", elem: "f32", index: "flat" });
  const r = rng(77);
  const files = [];
  for (let i = 0; i < 60; i++) {
    const uid = [0, 1000, 2000][i % 3];
    // the first 30 files are 0600 of uid 2000 or 0: the best ones for "alpha" and near [0, 0, 0]
    const mode = i < 30 ? 0o600 : [0o644, 0o600, 0o640][i % 3];
    const ino = fs.create(c, `f${i}`, mode, uid, uid);
    const n = i < 30 ? 6 : 1;
    fs.write(ino, 0, enc.encode(`${"alpha ".repeat(n)}${WORDS[i % 5]} ${WORDS[(i * 7) % 5]}`));
    fs.collections.setVector(ino, new Float32Array([i < 30 ? r() * 0.1 : 1 + r(), r(), r()]));
    fs.setxattr(ino, "user.n", enc.encode(String(i)));
    files.push({ ino, uid, mode });
  }
  fs.collections.text.build(c);
  return { img, fs, c, files };
}

function hybrid(fs: Vexfs, dir: number, req: HybridRequestInput, caller?: IoctlCaller) {
  const out = handleIoctl(fs, dir, VEXFS_IOC_HYBRID, encodeHybrid(req), iocSize(VEXFS_IOC_HYBRID), caller);
  return decodeHybridReply(out);
}

Deno.test("HYBRID on the engine: hits are the engine's without the files the caller may not read", () => {
  const { img, fs, c, files } = setup();
  try {
    const q = new Float32Array([0, 0, 0]);
    const reqs: HybridRequestInput[] = [
      { k: 10, text: "alpha" },
      { k: 10, query: q },
      { k: 8, query: q, text: "alpha beta", depth: 5 },
      { k: 8, query: q, terms: ["alpha", "omega"], fusion: "weighted", alpha: 0.5 },
      { k: 5, query: q, text: "alpha", where: [{ name: "user.n", op: ">=", values: ["20"] }] },
    ];
    const callers: IoctlCaller[] = [{ uid: 0, gid: 0 }, { uid: 1000, gid: 1000 }, { uid: 2000, gid: 3000 }, {
      uid: 4000,
      gid: 2000,
    }];
    for (const caller of callers) {
      const readable = (f: { uid: number; mode: number }) =>
        caller.uid === 0 || ((f.mode >> (f.uid === caller.uid ? 6 : 0)) & 4) !== 0 ||
        (f.uid !== caller.uid && f.uid === caller.gid && (f.mode & 0o040) !== 0);
      const hidden = new Set(files.filter((f) => !readable(f)).map((f) => f.ino));
      if (caller.uid !== 0) assert(hidden.size >= 20, `uid ${caller.uid} may not read many files`);
      for (const req of reqs) {
        const got = hybrid(fs, c, req, caller);
        const both = req.query && (req.text || req.terms);
        const want = searchHybrid(fs, c, {
          k: req.k,
          ...(req.query ? { vector: req.query } : {}),
          ...(req.text ? { text: req.text } : {}),
          ...(req.terms ? { terms: req.terms } : {}),
          ...(both ? { fusion: req.fusion ?? "rrf" } : {}),
          ...(both && req.fusion === "weighted" ? { alpha: req.alpha } : {}),
          ...(both && req.depth ? { depth: Math.max(req.depth, req.k) } : {}),
          ...(req.where ? { where: req.where } : {}),
          exclude: hidden,
          paths: false,
        });
        const what = `uid ${caller.uid}, ${JSON.stringify({ ...req, query: undefined })}`;
        assertEquals(got.hits.map((h) => h.ino), want.hits.map((h) => h.ino), what);
        assertEquals(got.hits.map((h) => h.score), want.hits.map((h) => Math.fround(h.score)), what);
        assert(got.hits.length > 0, `${what}: hits`);
        assert(got.hits.every((h) => !hidden.has(h.ino)), `${what}: no hidden file`);
      }
    }
    // the mount's own check (ACLs, groups) is used when given
    const none = hybrid(fs, c, { k: 10, text: "alpha" }, { uid: 1000, gid: 1000, permits: () => false });
    assertEquals(none.hits, []);
  } finally {
    fs.close();
    Deno.removeSync(img);
  }
});

Deno.test("TEXT_INDEX on the engine: build and drop need write on the collection root, stats none", () => {
  const { img, fs, c } = setup();
  try {
    const size = iocSize(VEXFS_IOC_TEXT_INDEX);
    const run = (op: "build" | "drop" | "stats", caller?: IoctlCaller) =>
      decodeTextIndexReply(handleIoctl(fs, c, VEXFS_IOC_TEXT_INDEX, encodeTextIndex({ op }), size, caller));
    const other = { uid: 1000, gid: 1000 };
    assertEquals(run("stats", other).docCount, 60);
    for (const op of ["build", "drop"] as const) {
      let code = "";
      try {
        run(op, other);
      } catch (e) {
        code = e instanceof FsError ? e.code : String(e);
      }
      assertEquals(code, "EACCES", op);
    }
    assertEquals(run("stats").fresh, true, "nothing changed");
    assertEquals(run("drop", { uid: 0, gid: 0 }).params, null);
    assertEquals(run("build", { uid: 1000, gid: 1000, permits: (_ino, want) => want === 2 }).docCount, 60);
    assertEquals(ioctlChangesFs(VEXFS_IOC_TEXT_INDEX, encodeTextIndex({ op: "stats" })), false);
    assertEquals(ioctlChangesFs(VEXFS_IOC_TEXT_INDEX, encodeTextIndex({ op: "build" })), true);
    assertEquals(ioctlChangesFs(VEXFS_IOC_TEXT_INDEX, encodeTextIndex({ op: "drop" })), true);
    assertEquals(ioctlChangesFs(VEXFS_IOC_HYBRID, encodeHybrid({ k: 1, text: "x" })), false);
  } finally {
    fs.close();
    Deno.removeSync(img);
  }
});
