/**
 * VEXFS_IOC_SET_VECTORS through a real FUSE mount (docs/IOCTL.md §3.10):
 * the TypeScript client in calls of `VEXFS_IOC_BATCH_MAX(dim)` items, a
 * refused item named with the CHECK bisection and the items before it set
 * (none after), and the per-item permission checks (modes and POSIX ACLs)
 * with a C program built from kernel/vexfs_ioctl.h run as nobody through
 * setpriv(1).
 */
import assert from "node:assert/strict";
import { Vexfs } from "../fs/fs.ts";
import { mountTest, withMount } from "../mount/_testutil.ts";
import { batchMax } from "./abi.ts";
import { BatchItemError, BatchSetter, createCollection, getVector, setVectors } from "./client.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Writes `n` small files `dir/f<i>` and returns their inode numbers. */
function files(dir: string, n: number, from = 0): number[] {
  const out: number[] = [];
  for (let i = from; i < from + n; i++) {
    Deno.writeTextFileSync(`${dir}/f${i}`, `file ${i}\n`);
    out.push(Deno.statSync(`${dir}/f${i}`).ino!);
  }
  return out;
}

const vec = (dim: number, i: number) => new Float32Array(dim).map((_, k) => Math.sin(i * 7 + k));

Deno.test({
  name: "SET_VECTORS through the mount: calls of BATCH_MAX(dim) items; the engine then answers as if set one by one",
  ...mountTest,
  fn: async () => {
    let inos: number[] = [];
    const dim = 128;
    const img = await withMount({ keepImage: true }, async (mnt, img) => {
      const c = `${mnt}/c`;
      Deno.mkdirSync(c);
      Deno.mkdirSync(`${c}/sub`);
      await createCollection(c, { dim, metric: "l2", elem: "f32", index: "flat" });
      inos = [...files(c, 250), ...files(`${c}/sub`, 50, 250)];
      const b = await BatchSetter.open(c);
      try {
        assert.equal(await b.set(inos.map((ino, i) => ({ ino, vector: vec(dim, i) }))), 300);
        assert.equal(b.calls, Math.ceil(300 / batchMax(dim)), "31 vectors a call");
      } finally {
        await b.close();
      }
      for (const i of [0, 30, 31, 249, 250, 299]) {
        const p = i < 250 ? `${c}/f${i}` : `${c}/sub/f${i}`;
        assert.deepEqual((await getVector(p))!.vector, vec(dim, i), p);
      }
      // replace some, from the subdirectory: only files below it may be named
      await setVectors(`${c}/sub`, [{ ino: inos[260], vector: vec(dim, 1000) }]);
      const f = Deno.openSync(c);
      f.syncSync();
      f.close();
      return img;
    });
    const fs = Vexfs.open(img, { readOnly: true });
    try {
      const c = fs.resolve("/c");
      const want = new Map(inos.map((ino, i) => [ino, i === 260 ? vec(dim, 1000) : vec(dim, i)]));
      for (const [ino, v] of want) assert.deepEqual(fs.collections.getVector(ino), v);
      const q = vec(dim, 12345);
      const brute = [...want].map(([ino, v]) => ({
        ino,
        d: Math.sqrt(v.reduce((a, x, k) => a + (x - q[k]) ** 2, 0)),
      })).sort((a, b) => a.d - b.d || a.ino - b.ino).slice(0, 10);
      const got = fs.collections.search(c, q, 10, { paths: false, exact: true });
      assert.deepEqual(got.map((h) => h.ino), brute.map((h) => h.ino));
    } finally {
      fs.close();
      Deno.removeSync(img);
    }
  },
});

Deno.test({
  name: "SET_VECTORS through the mount: a refused item is named, the items before it are set, none after",
  ...mountTest,
  fn: async () => {
    await withMount({}, async (mnt) => {
      const c = `${mnt}/c`;
      Deno.mkdirSync(c);
      Deno.mkdirSync(`${mnt}/elsewhere`);
      await createCollection(c, { dim: 4, metric: "l2", elem: "f32", index: "flat" });
      const inos = files(c, 40);
      const outside = files(`${mnt}/elsewhere`, 1, 100)[0];
      const items = inos.map((ino, i) => ({ ino, vector: vec(4, i) }));
      items.splice(25, 0, { ino: outside, vector: vec(4, 99) });
      const b = await BatchSetter.open(c);
      try {
        const err = await b.set(items).then(() => null, (e) => e);
        assert.ok(err instanceof BatchItemError, String(err));
        assert.equal(err.code, "ENOENT");
        assert.equal(err.index, 25);
        assert.equal(err.ino, outside);
        assert.match(err.message, /item 25 .*not below/);
      } finally {
        await b.close();
      }
      for (let i = 0; i < 40; i++) {
        const got = await getVector(`${c}/f${i}`);
        if (i < 25) assert.deepEqual(got!.vector, vec(4, i), `f${i} before the refused item is set`);
        else assert.equal(got, null, `f${i} after the refused item is not`);
      }
      // a wrong dimension for the collection: EINVAL for the item
      const wrong = await setVectors(c, [{ ino: inos[30], vector: new Float32Array(3) }]).then(() => null, (e) => e);
      assert.ok(wrong instanceof BatchItemError && wrong.code === "EINVAL", String(wrong));
      assert.equal(await getVector(`${c}/f30`), null);
    });
  },
});

/** Builds the C helper: `batch_set DIR DIM INO...` sets each inode's vector to 1..DIM in one call, prints errno. */
async function buildHelper(dir: string): Promise<string | null> {
  const src = `${dir}/batch_set.c`;
  await Deno.writeTextFile(
    src,
    `#define _POSIX_C_SOURCE 200809L	/* O_DIRECTORY */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "vexfs_ioctl.h"

int main(int argc, char **argv)
{
	static struct vexfs_ioc_set_vectors s;
	unsigned int i, k, dim = (unsigned int)atoi(argv[2]);
	int fd = open(argv[1], O_RDONLY | O_DIRECTORY);

	if (fd < 0)
		return perror(argv[1]), 2;
	memset(&s, 0, sizeof s);
	s.hdr.magic = VEXFS_IOC_MAGIC;
	s.hdr.version = VEXFS_IOC_VERSION;
	s.hdr.size = sizeof s;
	s.dim = dim;
	s.count = (unsigned int)(argc - 3);
	for (i = 0; i < s.count; i++) {
		VEXFS_IOC_BATCH_INO(&s, i) = strtoull(argv[3 + i], NULL, 10);
		for (k = 0; k < dim; k++)
			VEXFS_IOC_BATCH_VEC(&s, i)[k] = (float)(k + 1);
	}
	printf("%d\\n", ioctl(fd, VEXFS_IOC_SET_VECTORS, &s) < 0 ? errno : 0);
	return 0;
}
`,
  );
  const exe = `${dir}/batch_set`;
  try {
    const o = await new Deno.Command("gcc", {
      args: ["-std=c11", "-Wall", "-Wextra", "-Werror", "-I", `${ROOT}kernel`, src, "-o", exe],
      stderr: "piped",
    }).output();
    assert.ok(o.success, new TextDecoder().decode(o.stderr));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  return exe;
}

Deno.test({
  name: "SET_VECTORS through the mount: as nobody, write on every file and search on every directory to it",
  ...mountTest,
  fn: async () => {
    const tmp = await Deno.makeTempDir({ prefix: "vexfs-batch-" });
    await Deno.chmod(tmp, 0o755);
    const exe = await buildHelper(tmp);
    if (!exe) {
      console.warn("gcc not found: the C helper run as nobody is skipped");
      return;
    }
    try {
      await withMount({ options: "allow_other" }, async (mnt) => {
        await Deno.chmod(mnt, 0o755);
        const c = `${mnt}/c`;
        Deno.mkdirSync(c, { mode: 0o755 });
        Deno.mkdirSync(`${c}/private`, { mode: 0o700 });
        await createCollection(c, { dim: 3, metric: "l2", elem: "f32", index: "flat" });
        const [mine, theirs, open, hidden] = files(c, 3).concat(files(`${c}/private`, 1, 3));
        Deno.chownSync(`${c}/f0`, 65534, 65534);
        Deno.chmodSync(`${c}/f2`, 0o666);
        Deno.chmodSync(`${c}/private/f3`, 0o666);
        const asNobody = async (...inos: number[]) => {
          const o = await new Deno.Command("setpriv", {
            args: ["--reuid=nobody", "--regid=nogroup", "--clear-groups", exe, c, "3", ...inos.map(String)],
            stdout: "piped",
            stderr: "piped",
          }).output();
          assert.ok(o.success, new TextDecoder().decode(o.stderr));
          return Number(new TextDecoder().decode(o.stdout).trim());
        };
        const EACCES = 13;
        assert.equal(await asNobody(mine), 0, "nobody's own file");
        assert.equal(await asNobody(open), 0, "a 0666 file");
        assert.equal(await asNobody(theirs), EACCES, "root's 0644 file");
        assert.equal(await asNobody(hidden), EACCES, "a 0666 file in a 0700 directory of root's");
        assert.equal(await asNobody(mine, theirs), EACCES, "one forbidden item refuses the call");
        const v = new Float32Array([1, 2, 3]);
        assert.deepEqual((await getVector(`${c}/f0`))!.vector, v);
        assert.deepEqual((await getVector(`${c}/f2`))!.vector, v);
        assert.equal(await getVector(`${c}/f1`), null);
        assert.equal(await getVector(`${c}/private/f3`), null);
        // POSIX ACLs count (src/mount/acl.ts): named-user entries grant what the modes do not, under the mask
        const setfacl = (...args: string[]) => {
          const o = new Deno.Command("setfacl", { args, stderr: "piped" }).outputSync();
          assert.ok(o.success, new TextDecoder().decode(o.stderr));
        };
        setfacl("-m", "u:nobody:rw", `${c}/f1`);
        setfacl("-m", "u:nobody:x", `${c}/private`);
        assert.equal(await asNobody(theirs, hidden), 0, "write and search granted by ACL entries");
        assert.deepEqual((await getVector(`${c}/f1`))!.vector, v);
        assert.deepEqual((await getVector(`${c}/private/f3`))!.vector, v);
        setfacl("-m", "m::r", `${c}/f1`);
        assert.equal(await asNobody(theirs), EACCES, "the mask takes the named entry's write away");
      });
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
