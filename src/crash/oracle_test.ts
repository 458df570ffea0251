import assert from "node:assert/strict";
import { MemDevice } from "../device/mem.ts";
import { ROOT_INO } from "../format/constants.ts";
import { Vexfs } from "../fs/fs.ts";
import { computeLayout, writeFilesystem } from "../fs/mkfs.ts";
import { checkSearch, type Claim, claimsAt, compareClaims, type PersistPoint, snapshot, touches } from "./oracle.ts";

function fresh(): Vexfs {
  const dev = new MemDevice(2 << 20);
  const layout = computeLayout(dev.size, { blockSize: 1024, journalBlocks: 0 });
  writeFilesystem(dev, layout, { blockSize: 1024, journalBlocks: 0, uuid: new Uint8Array(16).fill(3) });
  return Vexfs.openDevice(dev);
}

const enc = new TextEncoder();
const point = (snap: PersistPoint["snap"], how: PersistPoint["how"], ino = 0, opSeq = 0): PersistPoint => ({
  how,
  ino,
  snap,
  opSeq,
  created: new Set(),
});

Deno.test("snapshot reads paths, contents, xattrs, vectors and collections through the engine", () => {
  const fs = fresh();
  const d = fs.mkdir(ROOT_INO, "c");
  fs.collections.create(d, { dim: 2, metric: "l2", elem: "f32" });
  const f = fs.create(d, "f");
  fs.write(f, 0, enc.encode("hello"));
  fs.setxattr(f, "user.k", enc.encode("v"));
  fs.collections.setVector(f, new Float32Array([1, 2]));
  fs.link(f, ROOT_INO, "g");
  const s = snapshot(fs);
  assert.deepEqual([...s.keys()].sort(), ["/", "/c", "/c/f", "/g"]);
  const n = s.get("/c/f")!;
  assert.equal(n.nlink, 2);
  assert.deepEqual(new TextDecoder().decode(n.data), "hello");
  assert.deepEqual(n.xattrs, ["user.k=76"]);
  assert.deepEqual(n.vector?.values, [1, 2]);
  assert.match(s.get("/c")!.collection!, / 2 l2 f32$/);
  assert.deepEqual(s.get("/")!.names, ["c", "g"]);
  assert.deepEqual(checkSearch(fs, s), []);
  fs.close();
});

Deno.test("claims: a sync claims the whole tree; posix fsync only the file (and its name when new)", () => {
  const fs = fresh();
  const a = fs.create(ROOT_INO, "a");
  fs.write(a, 0, enc.encode("aaa"));
  const s1 = snapshot(fs);
  const all = claimsAt([point(s1, "sync")]);
  assert.deepEqual([...all.keys()].sort(), ["d:/", "i:2", `i:${a}`, "p:/a"].sort());
  const b = fs.create(ROOT_INO, "b");
  const s2 = snapshot(fs);
  const p = point(s2, "fsync", b, 1);
  assert.deepEqual(
    [...claimsAt([point(s1, "sync"), p], "posix").keys()].sort(),
    ["d:/", "i:2", `i:${a}`, "p:/a"].concat(
      [`i:${b}`],
    ).sort(),
    "an old file's name is not claimed again",
  );
  p.created.add(b);
  assert.ok(claimsAt([point(s1, "sync"), p], "posix").has("p:/b"), "a new file's name is durable with it (ext4)");
  assert.ok(claimsAt([point(s1, "sync"), p], "transaction").has("p:/b"), "transaction: the whole tree");
  fs.close();
});

Deno.test("touches and compareClaims: what an operation touched is exempt, everything else must match", () => {
  const fs = fresh();
  const a = fs.create(ROOT_INO, "a");
  fs.write(a, 0, enc.encode("aaa"));
  fs.mkdir(ROOT_INO, "d");
  const want = [...claimsAt([point(snapshot(fs), "sync")]).values()];
  const c = (k: string) => want.find((x) => x.key === k)! as Claim;
  assert.ok(touches({ inos: [a] }, c(`i:${a}`)));
  assert.ok(touches({ trees: ["/d"] }, c("p:/d")));
  assert.ok(touches({ dirs: ["/"] }, c("d:/")));
  assert.ok(!touches({ paths: ["/d"] }, c("p:/a")));
  assert.deepEqual(compareClaims(want, snapshot(fs)), []);
  fs.write(a, 1, enc.encode("X"));
  fs.create(ROOT_INO, "extra");
  fs.rmdir(ROOT_INO, "d");
  const msgs = compareClaims(want, snapshot(fs));
  assert.equal(msgs.length, 3, msgs.join("\n"));
  assert.match(msgs.join("\n"), /differs from byte 1/);
  assert.match(msgs.join("\n"), /\/d \(inode \d+\) is missing/);
  assert.match(msgs.join("\n"), /extra \[extra\] and lacks \[d\]/);
  fs.close();
});
