/**
 * VEXFS_IOC_HYBRID and VEXFS_IOC_TEXT_INDEX (abi_hybrid.ts, docs/IOCTL.md
 * §3.15-3.16): requests and replies filled in C through kernel/vexfs_ioctl.h
 * (compiled with gcc) equal the TypeScript encoders byte for byte and decode
 * to the same values; the decoders refuse what the errno tables say is
 * EINVAL. Sizes, offsets, command numbers and constants of the new
 * structures are checked with every other one by abi_test.ts's probe.
 *
 * Needs gcc for the C half; without it that test is skipped with a message.
 */
import { assert, assertEquals, assertFsError } from "../test_assert.ts";
import {
  decodeHybrid,
  decodeHybridReply,
  decodeTextIndex,
  decodeTextIndexReply,
  encodeHybrid,
  encodeHybridReply,
  encodeTextIndex,
  encodeTextIndexReply,
  FILTER_CLAUSE,
  HYBRID,
  type HybridReply,
  hybridRequest,
  type HybridRequestInput,
  TEXT_INDEX,
  type TextIndexReply,
  type TextIndexRequest,
  VEXFS_IOC_HYBRID,
  VEXFS_IOC_TEXT_INDEX,
} from "./abi.ts";

const HEADER_DIR = new URL("../../kernel", import.meta.url).pathname;

async function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function hasGcc(): Promise<boolean> {
  try {
    return (await run("gcc", ["--version"])).code === 0;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

const GCC = await hasGcc();
if (!GCC) console.warn("abi_hybrid_test: gcc not found, C checks skipped (apt-get install -y gcc)");

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (s: string) =>
  Uint8Array.from({ length: s.length / 2 }, (_, i) => parseInt(s.slice(2 * i, 2 * i + 2), 16));

/** The hybrid request the C probe fills: both sides, weighted fusion, terms, two clauses. */
const HREQ: HybridRequestInput = {
  k: 10,
  query: new Float32Array([0.5, -1, 0.25]),
  excludeIno: 77,
  ef: 64,
  terms: ["deploy", "cloud"],
  fusion: "weighted",
  alpha: 0.25,
  depth: 200,
  where: [
    { name: "user.lang", op: "in", values: ["en", "de"] },
    { name: "user.year", op: ">=", values: ["2020"] },
  ],
};

const HREP: HybridReply = {
  hits: [
    { ino: 21, score: 0.75, vector: { rank: 1, score: 0.5 }, text: { rank: 3, score: 2.5 } },
    { ino: 2 ** 33, score: 0.125, vector: null, text: { rank: 1, score: 7.25 } },
  ],
  collectionId: 4,
  generation: 2 ** 32 + 1,
  textGeneration: 2 ** 40 + 3,
  metric: "cosine",
  vecMethod: { method: "hnsw", ef: 64 },
  textMatched: 30,
  filterPassed: 500,
  termsUsed: 2,
};

const TREQ: TextIndexRequest = {
  op: "build",
  k1: 1.5,
  b: 0.5,
  analyzer: { analyzer: 1, stemmer: 1, stopwords: 0, lang: "en" },
};

const TREP: TextIndexReply = {
  params: { k1: 1.5, b: 0.5, maxFile: 4 << 20, analyzer: 1, stemmer: 1, stopwords: 0, lang: "en" },
  fresh: true,
  collectionId: 3,
  segments: 2,
  textGeneration: 2 ** 33 + 9,
  docCount: 778,
  totalTokens: 657426,
  terms: 15942,
  fileBytes: 1200128,
  textBytes: 6162290,
  skippedBinary: 1,
  skippedLarge: 2,
  buildUs: 812345,
  signature: "word-v1 icu71.1 u14.0",
  note: "built from 778 files",
};

const PROBE = `#include <stdio.h>
#include <string.h>
#include "vexfs_ioctl.h"
static void dump(const char *tag, const void *p, size_t n) {
  const unsigned char *b = p; printf("%s ", tag);
  for (size_t i = 0; i < n; i++) printf("%02x", b[i]);
  printf("\\n");
}
static void hdr(struct vexfs_ioc_hdr *h, size_t n) {
  memset(h, 0, n); h->magic = VEXFS_IOC_MAGIC; h->version = VEXFS_IOC_VERSION; h->size = (__u16)n;
}
static struct vexfs_ioc_hybrid q;
int main(void) {
  struct vexfs_ioc_filter_clause *c;
  struct vexfs_ioc_text_index t;
  printf("cmd %lu %lu\\n", (unsigned long)VEXFS_IOC_HYBRID, (unsigned long)VEXFS_IOC_TEXT_INDEX);
  hdr(&q.hdr, sizeof q);
  q.k = 10; q.dim = 3; q.exclude_ino = 77; q.ef = 64; q.flags = VEXFS_IOC_HYBRID_TERMS;
  q.fusion = VEXFS_FUSION_WEIGHTED; q.nclauses = 2; q.alpha = 0.25f; q.depth = 200;
  c = &q.clauses[0]; c->op = VEXFS_FILTER_IN; c->ns = VEXFS_FILTER_NS_USER; c->name_len = 4;
  memcpy(c->name, "lang", 4); c->nvalues = 2; memcpy(c->values, "\\002en\\002de", 6);
  c = &q.clauses[1]; c->op = VEXFS_FILTER_GE; c->ns = VEXFS_FILTER_NS_USER; c->name_len = 4;
  memcpy(c->name, "year", 4); c->nvalues = 1; memcpy(c->values, "\\0042020", 5);
  memcpy(q.text, "\\006deploy\\005cloud", 13); q.text_len = 13;
  q.query[0] = 0.5f; q.query[1] = -1.0f; q.query[2] = 0.25f;
  dump("hybrid", &q, sizeof q);
  q.count = 2; q.collection_id = 4; q.generation = 0x100000001ULL; q.text_generation = 0x10000000003ULL;
  q.metric = VEXFS_METRIC_COSINE; q.vec_method = VEXFS_SEARCH_METHOD_HNSW; q.ef_used = 64;
  q.text_matched = 30; q.filter_passed = 500; q.terms_used = 2;
  q.hits[0].ino = 21; q.hits[0].score = 0.75f; q.hits[0].vec_score = 0.5f; q.hits[0].vec_rank = 1;
  q.hits[0].text_score = 2.5f; q.hits[0].text_rank = 3;
  q.hits[1].ino = 0x200000000ULL; q.hits[1].score = 0.125f; q.hits[1].text_score = 7.25f; q.hits[1].text_rank = 1;
  dump("hybrid_reply", &q, sizeof q);
  hdr(&t.hdr, sizeof t);
  t.op = VEXFS_TEXT_INDEX_OP_BUILD; t.set = VEXFS_TEXT_INDEX_SET_K1 | VEXFS_TEXT_INDEX_SET_B | VEXFS_TEXT_INDEX_SET_ANALYZER;
  t.k1 = 1.5; t.b = 0.5; t.analyzer = VEXFS_ANALYZER_WORD_V1; t.stemmer = 1; memcpy(t.lang, "en", 2);
  dump("text_index", &t, sizeof t);
  t.max_file = 4u << 20; t.fresh = 1; t.collection_id = 3; t.segments = 2; t.text_generation = 0x200000009ULL;
  t.doc_count = 778; t.total_tokens = 657426; t.terms = 15942; t.file_bytes = 1200128; t.text_bytes = 6162290;
  t.skipped_binary = 1; t.skipped_large = 2; t.build_us = 812345;
  strcpy(t.signature, "word-v1 icu71.1 u14.0"); strcpy(t.note, "built from 778 files");
  dump("text_index_reply", &t, sizeof t);
  return 0;
}
`;

Deno.test({
  name: "ioctl abi: HYBRID and TEXT_INDEX filled in C equal the TypeScript encoders and decode the same",
  ignore: !GCC,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "vexfs-ioctl-hybrid-" });
    const out = new Map<string, string>();
    try {
      await Deno.writeTextFile(`${dir}/probe.c`, PROBE);
      const cc = await run("gcc", [
        "-std=c11",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-I",
        HEADER_DIR,
        `${dir}/probe.c`,
        "-o",
        `${dir}/probe`,
      ]);
      assertEquals(cc.code, 0, `gcc failed:\n${cc.stderr}`);
      const r = await run(`${dir}/probe`, []);
      assertEquals(r.code, 0, r.stderr);
      for (const line of r.stdout.trim().split("\n")) {
        const i = line.indexOf(" ");
        out.set(line.slice(0, i), line.slice(i + 1));
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
    assertEquals(out.get("cmd"), `${VEXFS_IOC_HYBRID} ${VEXFS_IOC_TEXT_INDEX}`);
    const hreq = unhex(out.get("hybrid")!);
    assertEquals(hex(encodeHybrid(HREQ)), hex(hreq), "HYBRID request");
    assertEquals(decodeHybrid(hreq), hybridRequest(HREQ));
    const hrep = unhex(out.get("hybrid_reply")!);
    assertEquals(hex(encodeHybridReply(HREQ, HREP)), hex(hrep), "HYBRID reply");
    assertEquals(decodeHybridReply(hrep), HREP);
    const treq = unhex(out.get("text_index")!);
    assertEquals(hex(encodeTextIndex(TREQ)), hex(treq), "TEXT_INDEX request");
    assertEquals(decodeTextIndex(treq), TREQ);
    const trep = unhex(out.get("text_index_reply")!);
    assertEquals(hex(encodeTextIndexReply(TREQ, TREP)), hex(trep), "TEXT_INDEX reply");
    assertEquals(decodeTextIndexReply(trep), TREP);
  },
});

Deno.test("ioctl abi: HYBRID and TEXT_INDEX command numbers are those of docs/IOCTL.md", () => {
  assertEquals(VEXFS_IOC_HYBRID, 0xfa80e70f);
  assertEquals(VEXFS_IOC_TEXT_INDEX, 0xc150e710);
  assertEquals([HYBRID.size, FILTER_CLAUSE.size, TEXT_INDEX.size], [14976, 192, 336]);
});

Deno.test("ioctl abi: HYBRID requests round trip for text only, vector only and raw text", () => {
  const cases: HybridRequestInput[] = [
    { k: 1, text: "deploy app to cloud foundry" },
    {
      k: 128,
      query: new Float32Array(2048).fill(0.5),
      exact: true,
      where: [{ name: "user.x", op: "exists", values: [] }],
    },
    { k: 5, query: new Float32Array([1]), text: "ünïcode ✓", rrfK: 10, depth: 4096, excludeIno: 2n ** 60n },
    { k: 5, terms: Array.from({ length: 64 }, (_, i) => `t${i}`), where: [{ name: "user.e", op: "=", values: [""] }] },
  ];
  for (const c of cases) assertEquals(decodeHybrid(encodeHybrid(c)), hybridRequest(c), JSON.stringify(c.text ?? c.k));
  const rep: HybridReply = {
    ...HREP,
    vecMethod: null,
    hits: [{ ino: 9, score: 3, vector: null, text: { rank: 1, score: 3 } }],
  };
  assertEquals(decodeHybridReply(encodeHybridReply(cases[0], rep)), rep);
  const ex: HybridReply = { ...HREP, vecMethod: { method: "exact" }, exactReason: "flat" };
  assertEquals(decodeHybridReply(encodeHybridReply(HREQ, ex)), ex);
});

Deno.test("ioctl abi: HYBRID encoders and decoders refuse what docs/IOCTL.md says is EINVAL", () => {
  const bad: [HybridRequestInput, RegExp][] = [
    [{ k: 0, text: "a" }, /k = 0/],
    [{ k: 129, text: "a" }, /k = 129/],
    [{ k: 1 }, /neither/],
    [{ k: 1, text: "a", terms: ["a"] }, /both text and terms/],
    [{ k: 1, text: "a", ef: 10 }, /without a query vector/],
    [{ k: 1, query: new Float32Array(1), ef: 10, exact: true }, /exact scan/],
    [{ k: 1, text: "a", fusion: "weighted" }, /one side/],
    [{ k: 1, text: "a", query: new Float32Array(1), alpha: 0.5 }, /alpha = 0.5 with RRF/],
    [{ k: 1, text: "a", query: new Float32Array(1), fusion: "weighted", alpha: 2 }, /alpha = 2/],
    [{ k: 1, text: "a", query: new Float32Array(1), fusion: "weighted", rrfK: 5 }, /rrf_k = 5 with weighted/],
    [{ k: 1, text: "a", query: new Float32Array(1), rrfK: 65536 }, /rrf_k = 65536/],
    [{ k: 1, text: "a", depth: 4097 }, /depth = 4097/],
    [{ k: 1, text: "x".repeat(1025) }, /1025 bytes/],
    [{ k: 1, terms: ["x".repeat(65)] }, /65 bytes/],
    [{ k: 1, terms: Array.from({ length: 65 }, () => "a") }, /65 query terms/],
    [{ k: 1, terms: Array.from({ length: 64 }, () => "x".repeat(16)) }, /1088 bytes/],
    [{ k: 1, text: "a", where: [{ name: "trusted.x", op: "=", values: ["1"] }] }, /only user\./],
    [{ k: 1, text: "a", where: [{ name: "user." + "n".repeat(64), op: "exists", values: [] }] }, /64 bytes/],
    [{ k: 1, text: "a", where: [{ name: "user.x", op: "in", values: Array(17).fill("a") }] }, /17 values/],
    [{ k: 1, text: "a", where: [{ name: "user.x", op: "=", values: ["v".repeat(120)] }] }, /120 bytes/],
    [{ k: 1, text: "a", where: Array(9).fill({ name: "user.x", op: "exists", values: [] }) }, /9 where clauses/],
  ];
  for (const [r, re] of bad) assertFsError(() => encodeHybrid(r), "EINVAL", re);
  // decoder: bytes a client could send that no encoder makes
  const o = HYBRID.off;
  const damaged: [(b: Uint8Array, dv: DataView) => void, RegExp][] = [
    [(_b, dv) => dv.setUint32(o.flags, 4, true), /flags = 0x4/],
    [(b) => b[o.fusion] = 2, /fusion = 2/],
    [(b) => b[o.nclauses] = 9, /nclauses = 9/],
    [(_b, dv) => dv.setUint16(o.text_len, 1025, true), /text_len = 1025/],
    [(b) => b[o.text + 200] = 1, /text past text_len/],
    [(b) => b[o.text] = 0xff, /not valid UTF-8/],
    [(_b, dv) => dv.setFloat32(o.alpha, NaN, true), /alpha is NaN/],
    [(_b, dv) => dv.setUint32(o.count, 1, true), /count must be zero/],
    [(b) => b[o.clauses + FILTER_CLAUSE.off.ns] = 2, /ns = 2/],
    [(b) => b[o.clauses + FILTER_CLAUSE.off.cmp] = 1, /cmp = 1/],
    [(b) => b[o.clauses + FILTER_CLAUSE.off.op] = 9, /op = 9/],
    [(b) => b[o.clauses + FILTER_CLAUSE.off.name + 60] = 1, /name past name_len/],
    [(b) => b[o.clauses + FILTER_CLAUSE.size * 3] = 1, /clauses past nclauses/],
    [(_b, dv) => dv.setFloat32(o.query + 4 * 5, 1, true), /query past dim/],
  ];
  const base = { k: 3, query: new Float32Array([1, 2]), text: "hello", where: [HREQ.where![1]] };
  for (const [f, re] of damaged) {
    const b = encodeHybrid(base);
    f(b, new DataView(b.buffer));
    assertFsError(() => decodeHybrid(b), "EINVAL", re);
  }
  // TERMS: a zero-length or overrunning term
  const t = encodeHybrid({ k: 1, terms: ["ab", "c"] });
  t[o.text + 3] = 0;
  assertFsError(() => decodeHybrid(t), "EINVAL", /length 0/);
  t[o.text + 3] = 9;
  assertFsError(() => decodeHybrid(t), "EINVAL", /runs past text_len/);
  // a reply with more hits than k
  const rep = encodeHybridReply(HREQ, HREP);
  new DataView(rep.buffer).setUint32(o.count, 11, true);
  assertFsError(() => decodeHybridReply(rep), "EIO", /count 11/);
});

Deno.test("ioctl abi: TEXT_INDEX requests round trip and refuse bad parameters", () => {
  for (
    const r of [
      { op: "stats" },
      { op: "drop" },
      { op: "build" },
      { op: "build", maxFile: 1024 },
      TREQ,
    ] as TextIndexRequest[]
  ) {
    assertEquals(decodeTextIndex(encodeTextIndex(r)), r);
  }
  const bad: [TextIndexRequest, RegExp][] = [
    [{ op: "stats", k1: 1 }, /only apply to build/],
    [{ op: "build", k1: 0 }, /k1 = 0/],
    [{ op: "build", k1: 11 }, /k1 = 11/],
    [{ op: "build", b: 1.5 }, /b = 1.5/],
    [{ op: "build", maxFile: 1023 }, /max_file = 1023/],
    [{ op: "build", analyzer: { analyzer: 2, stemmer: 0, stopwords: 0, lang: "" } }, /analyzer = 2/],
    [{ op: "build", analyzer: { analyzer: 1, stemmer: 1, stopwords: 0, lang: "" } }, /need a lang/],
    [{ op: "build", analyzer: { analyzer: 1, stemmer: 0, stopwords: 0, lang: "EN" } }, /lowercase/],
  ];
  for (const [r, re] of bad) assertFsError(() => encodeTextIndex(r), "EINVAL", re);
  const o = TEXT_INDEX.off;
  const b = encodeTextIndex({ op: "build", b: 0.5 });
  new DataView(b.buffer).setFloat64(o.k1, 1.2, true); // k1 given without its set bit
  assertFsError(() => decodeTextIndex(b), "EINVAL", /k1 must be zero/);
  const s = encodeTextIndex({ op: "stats" });
  s[o.fresh] = 1;
  assertFsError(() => decodeTextIndex(s), "EINVAL", /fresh must be zero/);
  new DataView(s.buffer).setUint32(o.set, 1, true);
  assertFsError(() => decodeTextIndex(s), "EINVAL", /with stats/);
  // no index: params null, every figure 0; a long note is cut at a character boundary
  const none: TextIndexReply = { ...TREP, params: null, fresh: false, note: "é".repeat(100) };
  const got = decodeTextIndexReply(encodeTextIndexReply({ op: "stats" }, none));
  assertEquals(got.params, null);
  assertEquals(got.note, "é".repeat(63));
  assert(!got.fresh);
});
