/**
 * VEXFS_IOC_HYBRID and VEXFS_IOC_TEXT_INDEX through a real FUSE mount
 * (docs/IOCTL.md §3.15, §3.16): a collection of text files with vectors and
 * `user.` attributes; ENODATA before a keyword index exists; TEXT_INDEX
 * build and stats; hybrid searches (text only, vector only, RRF, weighted,
 * filters, a subtree, an excluded file, k and depth) recorded through the
 * mount, with files written through the mount in between, then repeated by
 * the offline engine (`searchHybrid`) on the unmounted image: the same
 * inodes, ranks and scores to f32. Every EINVAL field of both structures,
 * EROFS on a read-only mount, and the caller's permissions: a 0600 file of
 * another user is no hit for `nobody` (a C helper run with setpriv), who
 * may not build the index either.
 */
import { ROOT_INO } from "../format/constants.ts";
import { Vexfs } from "../fs/fs.ts";
import { tmpImage } from "../fs/_testutil.ts";
import { mountImage, mountTest, unmount, withMount } from "../mount/_testutil.ts";
import * as posix from "../mount/_posix.ts";
import { searchHybrid } from "../search/hybrid.ts";
import type { WhereClause } from "../search/where.ts";
import { assert, assertEquals } from "../test_assert.ts";
import { rng } from "../test_random.ts";
import {
  decodeHybridReply,
  decodeTextIndexReply,
  encodeHybrid,
  encodeTextIndex,
  FILTER_CLAUSE,
  HYBRID,
  type HybridRequestInput,
  TEXT_INDEX,
  VEXFS_IOC_HYBRID,
  VEXFS_IOC_TEXT_INDEX,
} from "./abi.ts";
import { hybridSearch, textIndex } from "./client_hybrid.ts";
import { ERRNO } from "../errors.ts";
import { runVexfs } from "../../commands/_testutil.ts";

const DIM = 4;
const WORDS = ["deploy", "cloud", "foundry", "annotation", "report", "list", "zebra", "app", "fiori", "launch"];
const enc = new TextEncoder();
const ROOT = new URL("../../", import.meta.url).pathname;
const OTHER = 4321;

/** The corpus: files of c/ and c/sub with text, most with a vector, all with user.lang and user.n. */
function corpus(): { path: string; text: string; vector: Float32Array | null; lang: string; n: number }[] {
  const r = rng(1212);
  return Array.from({ length: 48 }, (_, i) => ({
    path: i % 4 === 3 ? `sub/f${i}.txt` : `f${i}.txt`,
    text: Array.from({ length: 3 + Math.floor(r() * 12) }, () => WORDS[Math.floor(r() * r() * WORDS.length)]).join(
      " ",
    ),
    vector: i % 7 === 5 ? null : Float32Array.from({ length: DIM }, () => r() * 2 - 1),
    lang: ["en", "de", "fr"][i % 3],
    n: i,
  }));
}

/** A fresh image with /c (4-d cosine, flat), its files, /plain outside any collection; the secrets' inodes. */
function makeImage(): { img: string; secrets: number[] } {
  const img = tmpImage(64 << 20);
  const fs = Vexfs.open(img);
  const c = fs.mkdir(ROOT_INO, "c", 0o755);
  fs.collections.create(c, { dim: DIM, metric: "cosine", elem: "f32", index: "flat" });
  const sub = fs.mkdir(c, "sub", 0o755);
  fs.mkdir(ROOT_INO, "plain", 0o755);
  for (const f of corpus()) {
    const [dir, name] = f.path.startsWith("sub/") ? [sub, f.path.slice(4)] : [c, f.path];
    const ino = fs.create(dir, name, 0o644);
    fs.write(ino, 0, enc.encode(f.text));
    fs.setxattr(ino, "user.lang", enc.encode(f.lang));
    fs.setxattr(ino, "user.n", enc.encode(String(f.n)));
    if (f.vector) fs.collections.setVector(ino, f.vector);
  }
  // files another user keeps private, that rank first for "zebra" and for the query vector [1, 0, 0, 0]
  const secrets: number[] = [];
  for (let i = 0; i < 3; i++) {
    const ino = fs.create(c, `secret${i}.txt`, 0o600, OTHER, OTHER);
    fs.write(ino, 0, enc.encode("zebra zebra zebra zebra secret"));
    fs.setxattr(ino, "user.lang", enc.encode("en"));
    fs.collections.setVector(ino, new Float32Array([1, 0.01 * i, 0, 0]));
    secrets.push(ino);
  }
  fs.close();
  return { img, secrets };
}

/** One ioctl by this process (which does not serve the mount) on directory `path`: 0 or the errno; `buf` is filled. */
function raw(path: string, cmd: number, buf: Uint8Array): number {
  const own = new Uint8Array(buf.length);
  own.set(buf);
  const fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC);
  try {
    posix.ioctl(fd, cmd, own);
    buf.set(own);
    return 0;
  } catch (e) {
    if (e instanceof posix.PosixError) return e.errno;
    throw e;
  } finally {
    posix.close(fd);
  }
}

/** The C helper that runs one ioctl with a request read from a file and prints the errno and the reply (hex). */
async function buildHelper(dir: string): Promise<string | null> {
  const src = `${dir}/ioctl_run.c`;
  await Deno.writeTextFile(
    src,
    `#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* ioctl_run DIR CMD REQFILE: prints "errno hex-of-the-structure" */
int main(int argc, char **argv)
{
	static unsigned char buf[16384];
	FILE *f;
	size_t n;
	int fd, r, i;

	if (argc != 4)
		return 2;
	f = fopen(argv[3], "rb");
	if (!f)
		return 3;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 4;
	r = ioctl(fd, (unsigned long)strtoul(argv[2], NULL, 0), buf);
	printf("%d ", r < 0 ? errno : 0);
	for (i = 0; i < (int)n; i++)
		printf("%02x", buf[i]);
	printf("\\n");
	close(fd);
	return 0;
}
`,
  );
  const exe = `${dir}/ioctl_run`;
  try {
    const o = await new Deno.Command("gcc", {
      args: ["-std=c11", "-Wall", "-Wextra", "-Werror", "-I", `${ROOT}kernel`, src, "-o", exe],
      stderr: "piped",
    }).output();
    assert(o.success, new TextDecoder().decode(o.stderr));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  return exe;
}

/** Runs one ioctl as `nobody` through the helper: the errno and the structure after the call. */
async function asNobody(exe: string, tmp: string, dir: string, cmd: number, req: Uint8Array) {
  const file = `${tmp}/req-${crypto.randomUUID()}`;
  await Deno.writeFile(file, req, { mode: 0o644 });
  const o = await new Deno.Command("setpriv", {
    args: ["--reuid=nobody", "--regid=nogroup", "--clear-groups", exe, dir, `0x${(cmd >>> 0).toString(16)}`, file],
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(file);
  assert(o.success, `ioctl_run: ${new TextDecoder().decode(o.stderr)}`);
  const [err, hex] = new TextDecoder().decode(o.stdout).trim().split(" ");
  return { errno: Number(err), buf: Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16))) };
}

/** A query of the differential part: the ioctl request and the directory below the collection root. */
interface Query {
  name: string;
  sub: boolean;
  req: HybridRequestInput;
}

const Q = new Float32Array([0.9, 0.2, -0.1, 0.3]);
const where = (...w: WhereClause[]) => w;

function queries(excludeIno: number): Query[] {
  return [
    { name: "text only", sub: false, req: { k: 10, text: "deploy cloud" } },
    { name: "text only, repeated term", sub: false, req: { k: 20, text: "Zebra zebra launch" } },
    { name: "vector only", sub: false, req: { k: 8, query: Q } },
    { name: "vector only, exact", sub: false, req: { k: 8, query: Q, exact: true } },
    { name: "rrf", sub: false, req: { k: 12, query: Q, text: "annotation report" } },
    { name: "rrf k 5, depth 15", sub: false, req: { k: 12, query: Q, text: "fiori app", rrfK: 5, depth: 15 } },
    { name: "rrf depth < k", sub: false, req: { k: 12, query: Q, text: "fiori app", depth: 3 } },
    {
      name: "weighted",
      sub: false,
      req: { k: 10, query: Q, text: "list foundry", fusion: "weighted", alpha: Math.fround(0.3) },
    },
    {
      name: "where lang=en",
      sub: false,
      req: { k: 10, query: Q, text: "deploy", where: where({ name: "user.lang", op: "=", values: ["en"] }) },
    },
    {
      name: "where n in, n >= (text)",
      sub: false,
      req: {
        k: 10,
        text: "cloud zebra",
        where: where({ name: "user.n", op: ">=", values: ["10"] }, {
          name: "user.lang",
          op: "in",
          values: ["de", "fr"],
        }),
      },
    },
    {
      name: "where exists, vector",
      sub: false,
      req: { k: 10, query: Q, where: where({ name: "user.n", op: "exists", values: [] }) },
    },
    { name: "subtree", sub: true, req: { k: 10, query: Q, text: "deploy launch" } },
    { name: "exclude", sub: false, req: { k: 10, query: Q, text: "deploy cloud", excludeIno } },
    { name: "terms", sub: false, req: { k: 5, terms: ["zebra", "app", "app"] } },
    { name: "k 1", sub: false, req: { k: 1, query: Q, text: "report" } },
    { name: "k 128", sub: false, req: { k: 128, query: Q, text: "report list" } },
  ];
}

/** Compares an ioctl reply with the engine's searchHybrid on the same request. */
function assertSame(fs: Vexfs, dir: number, q: Query, got: ReturnType<typeof decodeHybridReply>, what: string): void {
  const r = q.req;
  const both = r.query && (r.text || r.terms);
  const want = searchHybrid(fs, dir, {
    k: r.k,
    ...(r.query ? { vector: r.query } : {}),
    ...(r.text ? { text: r.text } : {}),
    ...(r.terms ? { terms: r.terms } : {}),
    ...(both ? { fusion: r.fusion ?? "rrf" } : {}),
    ...(both && r.fusion === "weighted" ? { alpha: r.alpha } : {}),
    ...(both && r.rrfK ? { rrfK: r.rrfK } : {}),
    ...(both && r.depth ? { depth: Math.max(r.depth, r.k) } : {}),
    ...(r.where?.length ? { where: r.where } : {}),
    ...(r.excludeIno ? { exclude: new Set([r.excludeIno as number]) } : {}),
    ...(r.exact ? { exact: true } : {}),
    paths: false,
  });
  assertEquals(got.hits.map((h) => h.ino), want.hits.map((h) => h.ino), `${what}: inodes`);
  want.hits.forEach((w, i) => {
    const g = got.hits[i];
    assertEquals(g.score, Math.fround(w.score), `${what}: hit ${i} score`);
    assertEquals(g.vector?.rank ?? 0, w.vector?.rank ?? 0, `${what}: hit ${i} vector rank`);
    assertEquals(g.text?.rank ?? 0, w.text?.rank ?? 0, `${what}: hit ${i} text rank`);
    assertEquals(g.vector?.score ?? 0, Math.fround(w.vector?.score ?? 0), `${what}: hit ${i} vector score`);
    assertEquals(g.text?.score ?? 0, Math.fround(w.text?.score ?? 0), `${what}: hit ${i} text score`);
  });
  assertEquals(got.textMatched, want.method.text?.matched ?? 0, `${what}: text_matched`);
  assertEquals(got.termsUsed, want.method.text?.terms.length ?? 0, `${what}: terms_used`);
  assertEquals(got.filterPassed, want.method.vector?.filterPassed ?? 0, `${what}: filter_passed`);
}

/** A valid hybrid request's bytes with `edit` applied (a DataView on them). */
function edited(req: HybridRequestInput, edit: (dv: DataView, b: Uint8Array) => void): Uint8Array {
  const b = encodeHybrid(req);
  edit(new DataView(b.buffer), b);
  return b;
}

/** Every EINVAL case of HYBRID's fields (docs/IOCTL.md §3.15), as request bytes. */
function badHybrid(): [string, Uint8Array][] {
  const o = HYBRID.off;
  const co = FILTER_CLAUSE.off;
  const text = { k: 5, text: "deploy" };
  const vec = { k: 5, query: Q };
  const bothReq = { k: 5, query: Q, text: "deploy" };
  const filtered = { ...text, where: where({ name: "user.lang", op: "=", values: ["en"] }) };
  const u32 = (off: number, v: number) => (dv: DataView) => dv.setUint32(off, v, true);
  const u8 = (off: number, v: number) => (_: DataView, b: Uint8Array) => void (b[off] = v);
  const terms = (bytes: number[]) => (dv: DataView, b: Uint8Array) => {
    b.fill(0, o.text, o.text + 1024);
    b.set(bytes, o.text);
    dv.setUint16(o.text_len, bytes.length, true);
    dv.setUint32(o.flags, 0x2, true);
  };
  const cl = (off: number) => o.clauses + off;
  return [
    ["k 0", edited(text, u32(o.k, 0))],
    ["k 129", edited(text, u32(o.k, 129))],
    ["dim 2049", edited(vec, u32(o.dim, 2049))],
    ["dim not the collection's", encodeHybrid({ k: 5, query: new Float32Array(3).fill(1) })],
    ["neither side", edited(text, (dv, b) => (b.fill(0, o.text, o.text + 6), dv.setUint16(o.text_len, 0, true)))],
    ["ef over 65535", edited(vec, u32(o.ef, 65536))],
    ["ef without a vector", edited(text, u32(o.ef, 10))],
    ["ef with EXACT", edited(vec, (dv) => (dv.setUint32(o.ef, 10, true), dv.setUint32(o.flags, 1, true)))],
    ["EXACT without a vector", edited(text, u32(o.flags, 1))],
    ["unknown flag", edited(vec, u32(o.flags, 4))],
    ["fusion 2", edited(bothReq, u8(o.fusion, 2))],
    ["fusion 1 with one side", edited(text, u8(o.fusion, 1))],
    ["rrf_k over 65535", edited(bothReq, u32(o.rrf_k, 65536))],
    ["rrf_k with weighted", edited({ ...bothReq, fusion: "weighted", alpha: 0.5 }, u32(o.rrf_k, 5))],
    ["rrf_k with one side", edited(text, u32(o.rrf_k, 5))],
    ["alpha NaN", edited({ ...bothReq, fusion: "weighted" }, (dv) => dv.setFloat32(o.alpha, NaN, true))],
    ["alpha 1.5", edited({ ...bothReq, fusion: "weighted" }, (dv) => dv.setFloat32(o.alpha, 1.5, true))],
    ["alpha with RRF", edited(bothReq, (dv) => dv.setFloat32(o.alpha, 0.5, true))],
    ["alpha with one side", edited(text, (dv) => dv.setFloat32(o.alpha, 0.5, true))],
    ["depth 4097", edited(bothReq, u32(o.depth, 4097))],
    ["text_len 1025", edited(text, (dv) => dv.setUint16(o.text_len, 1025, true))],
    ["text not UTF-8", edited(text, u8(o.text, 0xff))],
    ["TERMS with text_len 0", edited(vec, u32(o.flags, 2))],
    ["term of length 0", edited(text, terms([0]))],
    ["term over 64", edited(text, terms([65, ...new Array(65).fill(0x61)]))],
    ["term past text_len", edited(text, terms([5, 0x61, 0x62]))],
    ["65 terms", edited(text, terms(new Array(65).fill([1, 0x61]).flat()))],
    ["nclauses 9", edited(text, u8(o.nclauses, 9))],
    ["clause op 9", edited(filtered, u8(cl(co.op), 9))],
    ["clause ns 2", edited(filtered, u8(cl(co.ns), 2))],
    ["clause cmp 1", edited(filtered, u8(cl(co.cmp), 1))],
    ["clause reserved", edited(filtered, u8(cl(co.reserved), 1))],
    ["clause name_len 0", edited(filtered, u8(cl(co.name_len), 0))],
    ["clause name_len 64", edited(filtered, u8(cl(co.name_len), 64))],
    ["clause NUL in the name", edited(filtered, u8(cl(co.name + 1), 0))],
    ["clause nvalues 2 for =", edited(filtered, u8(cl(co.nvalues), 2))],
    ["clause value past 120", edited(filtered, u8(cl(co.values), 120))],
    ["clause bytes past the name", edited(filtered, u8(cl(co.name + 40), 0x61))],
    ["clause bytes past the values", edited(filtered, u8(cl(co.values + 100), 0x61))],
    ["unused clause not zero", edited(filtered, u8(o.clauses + FILTER_CLAUSE.size, 1))],
    ["output count", edited(text, u32(o.count, 1))],
    ["output hits", edited(text, u8(o.hits + 3, 1))],
    ["reserved1", edited(text, u8(o.reserved1 + 27, 1))],
    ["query past dim", edited(vec, (dv) => dv.setFloat32(o.query + 4 * DIM, 1, true))],
    ["text past text_len", edited(text, u8(o.text + 6, 0x61))],
    ["header magic", edited(text, u32(0, 0))],
  ];
}

/** Every EINVAL case of TEXT_INDEX's fields (docs/IOCTL.md §3.16). */
function badTextIndex(): [string, Uint8Array][] {
  const o = TEXT_INDEX.off;
  const ed = (r: Parameters<typeof encodeTextIndex>[0], f: (dv: DataView, b: Uint8Array) => void) => {
    const b = encodeTextIndex(r);
    f(new DataView(b.buffer), b);
    return b;
  };
  const an = { analyzer: 1, stemmer: 0 as const, stopwords: 0 as const, lang: "" };
  return [
    ["op 0", ed({ op: "stats" }, (dv) => dv.setUint32(o.op, 0, true))],
    ["op 4", ed({ op: "stats" }, (dv) => dv.setUint32(o.op, 4, true))],
    ["set bit 0x10", ed({ op: "build" }, (dv) => dv.setUint32(o.set, 0x10, true))],
    ["set with stats", ed({ op: "stats" }, (dv) => dv.setUint32(o.set, 1, true))],
    ["set with drop", ed({ op: "drop" }, (dv) => dv.setUint32(o.set, 2, true))],
    ["k1 not set but given", ed({ op: "build" }, (dv) => dv.setFloat64(o.k1, 1.2, true))],
    ["k1 0", ed({ op: "build", k1: 1 }, (dv) => dv.setFloat64(o.k1, 0, true))],
    ["k1 11", ed({ op: "build", k1: 1 }, (dv) => dv.setFloat64(o.k1, 11, true))],
    ["b 1.5", ed({ op: "build", b: 0.5 }, (dv) => dv.setFloat64(o.b, 1.5, true))],
    ["max_file 100", ed({ op: "build", maxFile: 4096 }, (dv) => dv.setUint32(o.max_file, 100, true))],
    ["analyzer 2", ed({ op: "build", analyzer: an }, (_, b) => void (b[o.analyzer] = 2))],
    ["stemmer 2", ed({ op: "build", analyzer: an }, (_, b) => void (b[o.stemmer] = 2))],
    ["stemmer without lang", ed({ op: "build", analyzer: an }, (_, b) => void (b[o.stemmer] = 1))],
    ["lang EN", ed({ op: "build", analyzer: { ...an, lang: "en" } }, (_, b) => void (b[o.lang] = 0x45))],
    ["lang without a stemmer", encodeTextIndex({ op: "build", analyzer: { ...an, stemmer: 1, lang: "qq" } })],
    ["output fresh", ed({ op: "stats" }, (_, b) => void (b[o.fresh] = 1))],
    ["output note", ed({ op: "stats" }, (_, b) => void (b[o.note + 5] = 1))],
    ["reserved", ed({ op: "stats" }, (_, b) => void (b[o.reserved] = 1))],
  ];
}

Deno.test({
  name: "HYBRID and TEXT_INDEX through the mount answer as the engine on the image; EINVAL fields; permissions",
  ...mountTest,
  fn: async () => {
    const { img, secrets } = makeImage();
    const tmp = await Deno.makeTempDir({ prefix: "vexfs-hybrid-" });
    await Deno.chmod(tmp, 0o755);
    const recorded: { q: Query; reply: ReturnType<typeof decodeHybridReply>; phase: string }[] = [];
    let nobodyReplies: { q: Query; reply: ReturnType<typeof decodeHybridReply> }[] = [];
    try {
      const exe = await buildHelper(tmp);
      let excludeIno = 0;
      await withMount({ image: img, options: "allow_other" }, async (mnt) => {
        await Deno.chmod(mnt, 0o755);
        const c = `${mnt}/c`;
        excludeIno = Deno.statSync(`${c}/f0.txt`).ino!;
        // no keyword index yet: ENODATA for a text side, stats say none, a vector search works
        assertEquals(raw(c, VEXFS_IOC_HYBRID, encodeHybrid({ k: 5, text: "deploy" })), ERRNO.ENODATA);
        assertEquals(raw(c, VEXFS_IOC_TEXT_INDEX, encodeTextIndex({ op: "drop" })), ERRNO.ENODATA);
        const none = await textIndex(c, { op: "stats" });
        assertEquals([none.enabled, none.params, none.docCount], [false, null, 0]);
        assertEquals(raw(c, VEXFS_IOC_HYBRID, encodeHybrid({ k: 5, query: Q })), 0);
        let err = await hybridSearch(c, { k: 5, text: "deploy" }).catch((e) => e);
        assertEquals(err.code, "ENODATA");
        assert(/vexfs index build --text/.test(err.message), err.message);
        // nobody may not build it (write permission on the root); root may
        if (exe) {
          const r = await asNobody(exe, tmp, c, VEXFS_IOC_TEXT_INDEX, encodeTextIndex({ op: "build" }));
          assertEquals(r.errno, ERRNO.EACCES, "nobody builds the keyword index");
          const s = await asNobody(exe, tmp, c, VEXFS_IOC_TEXT_INDEX, encodeTextIndex({ op: "stats" }));
          assertEquals(s.errno, 0, "nobody reads the stats");
        }
        const built = await textIndex(c, { op: "build", params: { k1: 1.1, maxFile: 1 << 20 } });
        assertEquals([built.enabled, built.fresh], [true, true]);
        assertEquals(built.params, {
          k1: 1.1,
          b: 0.75,
          maxFile: 1 << 20,
          analyzer: 1,
          stemmer: 0,
          stopwords: 0,
          lang: "",
        });
        assertEquals(built.docCount, 48 + 3);
        assert(built.signature.length > 0 && built.textBytes > 0 && built.segments === 1, JSON.stringify(built));
        // a rebuild keeps the parameters not given
        const rebuilt = await textIndex(c, { op: "build", params: { b: 0.5 } });
        assertEquals([rebuilt.params!.k1, rebuilt.params!.b, rebuilt.params!.maxFile], [1.1, 0.5, 1 << 20]);
        assertEquals((await textIndex(`${c}/sub`, { op: "stats" })).params, rebuilt.params);

        const run = (phase: string) => {
          for (const q of queries(excludeIno)) {
            const buf = encodeHybrid(q.req);
            assertEquals(raw(q.sub ? `${c}/sub` : c, VEXFS_IOC_HYBRID, buf), 0, `${phase} ${q.name}`);
            const reply = decodeHybridReply(buf);
            if (q.req.text || q.req.terms) assert(reply.hits.length > 0, `${phase} ${q.name}: no hits`);
            recorded.push({ q, reply, phase });
          }
        };
        run("built");
        // the secrets are hits for root
        const zebra = recorded[1].reply.hits.map((h) => h.ino);
        assert(secrets.every((s) => zebra.includes(s)), `root sees the secrets: ${zebra} ${secrets}`);
        assert(recorded[2].reply.hits.some((h) => secrets.includes(h.ino)), "root's vector search finds a secret");
        // changes through the mount: the search sees them at once (the engine's overlay), stats say so
        await Deno.writeTextFile(`${c}/new.txt`, "launch launch fiori zebra deploy");
        await Deno.writeTextFile(`${c}/sub/f3.txt`, "report report report annotation");
        await Deno.remove(`${c}/f1.txt`);
        const fresh = await hybridSearch(c, { k: 3, text: "launch launch fiori" });
        assertEquals(fresh.hits[0].path, "new.txt");
        assertEquals(fresh.method.text!.terms, ["launch", "launch", "fiori"]);
        const after = await textIndex(c, { op: "stats" });
        assertEquals(after.docCount, 48 + 3);
        assert(after.textGeneration > rebuilt.textGeneration, "text generation bumped by the writes");
        run("after writes");

        // the client: paths, the same hits as the raw ioctl, filters, a weighted fusion
        const viaClient = await hybridSearch(c, {
          k: 10,
          vector: Q,
          text: "annotation report",
          where: where({ name: "user.lang", op: "!=", values: ["de"] }),
          fusion: "weighted",
          alpha: 0.25,
        });
        const rawBuf = encodeHybrid({
          k: 10,
          query: Q,
          terms: ["annotation", "report"],
          where: where({ name: "user.lang", op: "!=", values: ["de"] }),
          fusion: "weighted",
          alpha: 0.25,
        });
        assertEquals(raw(c, VEXFS_IOC_HYBRID, rawBuf), 0);
        assertEquals(viaClient.hits.map((h) => h.ino), decodeHybridReply(rawBuf).hits.map((h) => h.ino));
        for (const h of viaClient.hits) assertEquals(Deno.statSync(`${c}/${h.path}`).ino, h.ino);
        assertEquals(viaClient.method.fusion, { kind: "weighted", alpha: 0.25, depth: 100 });
        // the command line on the mount goes through the same client
        const cli = await runVexfs(["search", c, "--text", "annotation report", "-k", "5", "--json"]);
        assertEquals(cli.code, 0, cli.stderr);
        const cliHits = JSON.parse(cli.stdout).hits.map((h: { path: string }) => h.path);
        assertEquals(cliHits, (await hybridSearch(c, { k: 5, text: "annotation report" })).hits.map((h) => h.path));
        const cliStats = await runVexfs(["index", "stats", "--text", c, "--json"]);
        assertEquals(cliStats.code, 0, cliStats.stderr);
        err = await hybridSearch(c, { k: 129, text: "x" }).catch((e) => e);
        assertEquals(err.code, "EINVAL");
        err = await hybridSearch(`${mnt}/plain`, { k: 5, text: "deploy" }).catch((e) => e);
        assertEquals(err.code, "EINVAL");
        assert(/not inside a vector collection/.test(err.message), err.message);
        err = await hybridSearch(c, { k: 5, text: "  " }).catch((e) => e);
        assertEquals([err.code, err.detail], ["EINVAL", "the text query is empty"]);
        // no terms after analysis (punctuation only): the raw text goes, the daemon answers with no hits
        assertEquals((await hybridSearch(c, { k: 5, text: "?!" })).hits, []);

        // every EINVAL field, changing nothing
        for (const [name, b] of badHybrid()) assertEquals(raw(c, VEXFS_IOC_HYBRID, b), ERRNO.EINVAL, name);
        for (const [name, b] of badTextIndex()) assertEquals(raw(c, VEXFS_IOC_TEXT_INDEX, b), ERRNO.EINVAL, name);
        assertEquals(raw(`${mnt}/plain`, VEXFS_IOC_HYBRID, encodeHybrid({ k: 5, text: "x" })), ERRNO.EINVAL);
        assertEquals(raw(`${mnt}/plain`, VEXFS_IOC_TEXT_INDEX, encodeTextIndex({ op: "stats" })), ERRNO.EINVAL);
        assertEquals(raw(`${c}/f2.txt`, VEXFS_IOC_HYBRID, encodeHybrid({ k: 5, text: "x" })), ERRNO.ENOTDIR);
        assertEquals((await textIndex(c, { op: "stats" })).textGeneration, after.textGeneration);

        // nobody: the secrets (0600, another user's) are no hits; the rest as the engine without them
        if (exe) {
          for (const q of queries(excludeIno)) {
            const r = await asNobody(exe, tmp, q.sub ? `${c}/sub` : c, VEXFS_IOC_HYBRID, encodeHybrid(q.req));
            assertEquals(r.errno, 0, `nobody: ${q.name}`);
            const reply = decodeHybridReply(r.buf);
            assert(!reply.hits.some((h) => secrets.includes(h.ino)), `nobody: ${q.name} has a secret`);
            nobodyReplies.push({ q, reply });
          }
        } else console.warn("gcc not found: the searches as nobody are skipped");
      });

      // the engine on the unmounted image answers every query of the last phase the same
      const fs = Vexfs.open(img, { readOnly: true });
      try {
        const c = fs.lookup(ROOT_INO, "c");
        const sub = fs.lookup(c, "sub");
        for (const { q, reply, phase } of recorded.filter((x) => x.phase === "after writes")) {
          assertSame(fs, q.sub ? sub : c, q, reply, `${phase} ${q.name}`);
        }
        for (const { q, reply } of nobodyReplies) {
          // as the engine with the secrets (and the excluded file) left out
          const exclude = new Set([...secrets, ...(q.req.excludeIno ? [q.req.excludeIno as number] : [])]);
          const dir = q.sub ? sub : c;
          const r = q.req;
          const both = r.query && (r.text || r.terms);
          const want = searchHybrid(fs, dir, {
            k: r.k,
            ...(r.query ? { vector: r.query } : {}),
            ...(r.text ? { text: r.text } : {}),
            ...(r.terms ? { terms: r.terms } : {}),
            ...(both ? { fusion: r.fusion ?? "rrf" } : {}),
            ...(both && r.fusion === "weighted" ? { alpha: r.alpha } : {}),
            ...(both && r.rrfK ? { rrfK: r.rrfK } : {}),
            ...(both && r.depth ? { depth: Math.max(r.depth, r.k) } : {}),
            ...(r.where?.length ? { where: r.where } : {}),
            exclude,
            ...(r.exact ? { exact: true } : {}),
            paths: false,
          });
          assertEquals(reply.hits.map((h) => h.ino), want.hits.map((h) => h.ino), `nobody ${q.name}`);
          assertEquals(reply.hits.map((h) => h.score), want.hits.map((h) => Math.fround(h.score)), `nobody ${q.name}`);
        }
      } finally {
        fs.close();
      }
      nobodyReplies = [];

      // a read-only mount: build and drop are EROFS, stats and searches are served
      const d = await mountImage({ image: img, options: "ro" });
      try {
        const c = `${d.mnt}/c`;
        assertEquals(raw(c, VEXFS_IOC_TEXT_INDEX, encodeTextIndex({ op: "build" })), ERRNO.EROFS);
        assertEquals(raw(c, VEXFS_IOC_TEXT_INDEX, encodeTextIndex({ op: "drop" })), ERRNO.EROFS);
        const st = encodeTextIndex({ op: "stats" });
        assertEquals(raw(c, VEXFS_IOC_TEXT_INDEX, st), 0);
        assertEquals(decodeTextIndexReply(st).fresh, true);
        const h = await hybridSearch(c, { k: 3, text: "launch fiori" });
        assertEquals(h.hits[0].path, "new.txt");
      } finally {
        await unmount(d);
      }
      // drop through a read-write mount: the index goes, a text search is ENODATA again
      await withMount({ image: img }, async (mnt) => {
        const dropped = await textIndex(`${mnt}/c`, { op: "drop" });
        assertEquals([dropped.enabled, dropped.docCount], [false, 0]);
        assertEquals(raw(`${mnt}/c`, VEXFS_IOC_HYBRID, encodeHybrid({ k: 5, text: "deploy" })), ERRNO.ENODATA);
      });
    } finally {
      await Deno.remove(tmp, { recursive: true });
      Deno.removeSync(img);
    }
  },
});
