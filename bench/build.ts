/**
 * Builds the native helpers of the benchmarks with gcc, once, into a cache
 * directory keyed by a hash of their sources and flags:
 *
 * - `passthrough_ll`: libfuse's own low-level passthrough example, compiled
 *   unchanged from Debian's `libfuse3-dev` examples
 *   (/usr/share/doc/libfuse3-dev/examples/passthrough_ll.c), the baseline
 *   every result is compared with;
 * - `fileops`: a tiny C program that creates or stats N files and prints the
 *   elapsed time as JSON, so the metadata workload runs in a separate process
 *   with no runtime overhead of its own.
 * @module
 */
import { BenchError, isCompiled, REPO_DIR, run, runOk, which } from "./exec.ts";

/** Where Debian's libfuse3-dev installs the libfuse examples. */
export const LIBFUSE_EXAMPLES = "/usr/share/doc/libfuse3-dev/examples";

/** Optimisation flags used for both helpers (Debian builds its packages with -O2). */
export const CFLAGS: readonly string[] = ["-Wall", "-O2"];

/**
 * Source of `fileops`: `fileops create|stat DIR COUNT` creates (open with
 * O_CREAT|O_EXCL, then close) or stats `DIR/f0000000` .. `DIR/f<COUNT-1>` in
 * order; `fileops append DIR COUNT` opens `DIR/append.dat` (O_CREAT|O_TRUNC|O_APPEND)
 * and makes COUNT 4-byte write(2)s to it, then fsyncs it (timed). Each prints one JSON line:
 * `{"op","count","seconds","p50_us","p99_us","max_us","sync_us"}`. `create`
 * ends with an fsync of DIR, inside `seconds` (`sync_us` is its share): the
 * files are durable when the clock stops, as fio's end_fsync makes the
 * sequential write durable. An fsync of the directory is what reaches every
 * target: the disk's filesystem commits its journal, passthrough_ll passes
 * FSYNCDIR on to the same, VexFS commits (a FUSE syncfs(2) never reaches a
 * FUSE server that is not virtiofs).
 */
export const FILEOPS_C =
  `/* fileops: create or stat COUNT files in DIR, or append COUNT 4-byte writes to one; prints JSON timings. Part of vexfs bench. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc != 4 || (strcmp(argv[1], "create") && strcmp(argv[1], "stat") && strcmp(argv[1], "append"))) {
    fprintf(stderr, "usage: fileops create|stat|append DIR COUNT\\n");
    return 2;
  }
  int create = strcmp(argv[1], "create") == 0;
  int append = strcmp(argv[1], "append") == 0;
  const char *dir = argv[2];
  long n = atol(argv[3]);
  if (n < 1) {
    fprintf(stderr, "fileops: COUNT must be positive\\n");
    return 2;
  }
  double *lat = malloc((size_t)n * sizeof(double));
  if (!lat) return 1;
  char path[4096];
  int afd = -1;
  if (append) {
    snprintf(path, sizeof path, "%s/append.dat", dir);
    afd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_APPEND | O_CLOEXEC, 0644);
    if (afd < 0) {
      fprintf(stderr, "fileops: open %s: %s\\n", path, strerror(errno));
      return 1;
    }
  }
  double t0 = now();
  for (long i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/f%07ld", dir, i);
    double a = now();
    if (append) {
      char rec[4] = {(char)('a' + i % 26), (char)(i >> 8), (char)i, '\\n'};
      if (write(afd, rec, sizeof rec) != (ssize_t)sizeof rec) {
        fprintf(stderr, "fileops: append to %s/append.dat: %s\\n", dir, strerror(errno));
        return 1;
      }
    } else if (create) {
      int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
      if (fd < 0 || close(fd) != 0) {
        fprintf(stderr, "fileops: create %s: %s\\n", path, strerror(errno));
        return 1;
      }
    } else {
      struct stat st;
      if (stat(path, &st) != 0) {
        fprintf(stderr, "fileops: stat %s: %s\\n", path, strerror(errno));
        return 1;
      }
    }
    lat[i] = now() - a;
  }
  double sync_s = 0;
  if (append) {
    double a = now();
    if (fsync(afd) != 0 || close(afd) != 0) {
      fprintf(stderr, "fileops: fsync %s/append.dat: %s\\n", dir, strerror(errno));
      return 1;
    }
    sync_s = now() - a;
  } else if (create) {
    double a = now();
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0 || close(dfd) != 0) {
      fprintf(stderr, "fileops: fsync %s: %s\\n", dir, strerror(errno));
      return 1;
    }
    sync_s = now() - a;
  }
  double total = now() - t0;
  qsort(lat, (size_t)n, sizeof(double), cmp);
  printf("{\\"op\\":\\"%s\\",\\"count\\":%ld,\\"seconds\\":%.9f,\\"p50_us\\":%.3f,\\"p99_us\\":%.3f,\\"max_us\\":%.3f,"
         "\\"sync_us\\":%.3f}\\n",
         argv[1], n, total, lat[n / 2] * 1e6, lat[(long)((double)(n - 1) * 0.99)] * 1e6, lat[n - 1] * 1e6, sync_s * 1e6);
  free(lat);
  return 0;
}
`;

/** Paths of the built helpers. */
export interface Tools {
  /** the passthrough_ll binary */
  passthroughLl: string;
  /** the fileops binary */
  fileops: string;
  /** directory holding both (and the copied sources) */
  dir: string;
  /** the gcc command lines used, for the report */
  commands: string[];
}

/**
 * The default cache directory: `bench/.build` when running from the
 * repository, `$TMPDIR/vexfs-bench-build` (default /tmp) for the compiled binary.
 */
export function defaultBuildDir(): string {
  if (!isCompiled()) return `${REPO_DIR}/bench/.build`;
  return `${Deno.env.get("TMPDIR") ?? "/tmp"}/vexfs-bench-build`;
}

async function sha256Hex(parts: (string | Uint8Array)[]): Promise<string> {
  const enc = new TextEncoder();
  const chunks = parts.map((p) => typeof p === "string" ? enc.encode(p + "\0") : p);
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    all.set(c, o);
    o += c.length;
  }
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return [...h].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Reads an example source, also when Debian shipped it gzip-compressed. */
async function readExample(dir: string, name: string): Promise<Uint8Array> {
  if (exists(`${dir}/${name}`)) return await Deno.readFile(`${dir}/${name}`);
  if (exists(`${dir}/${name}.gz`)) {
    const r = await run("gzip", ["-dc", `${dir}/${name}.gz`]);
    if (r.code === 0) return new TextEncoder().encode(r.stdout);
  }
  throw new BenchError(
    `${dir}/${name} not found: install the libfuse examples with 'apt-get install libfuse3-dev' ` +
      `(if it is installed, check that dpkg does not exclude /usr/share/doc)`,
  );
}

/**
 * Builds (or reuses) `passthrough_ll` and `fileops` in `cacheDir`.
 * @param cacheDir parent directory of the build (default {@linkcode defaultBuildDir})
 * @param examplesDir where passthrough_ll.c and passthrough_helpers.h are
 * @throws BenchError naming the missing package when gcc, pkg-config,
 *   libfuse3-dev or the example sources are missing, or with gcc's message
 */
export async function buildTools(
  cacheDir: string = defaultBuildDir(),
  examplesDir: string = LIBFUSE_EXAMPLES,
): Promise<Tools> {
  if (!which("gcc")) throw new BenchError("gcc not found: apt-get install gcc");
  if (!which("pkg-config")) throw new BenchError("pkg-config not found: apt-get install pkg-config");
  const fuseFlags = await run("pkg-config", ["fuse3", "--cflags", "--libs"]);
  if (fuseFlags.code !== 0) {
    throw new BenchError("pkg-config does not know fuse3: apt-get install libfuse3-dev");
  }
  const flags = fuseFlags.stdout.trim().split(/\s+/).filter((x) => x);
  const ptSrc = await readExample(examplesDir, "passthrough_ll.c");
  const helpers = await readExample(examplesDir, "passthrough_helpers.h");
  const gccVersion = (await run("gcc", ["--version"])).stdout.split("\n")[0];
  const key = (await sha256Hex([ptSrc, helpers, FILEOPS_C, ...CFLAGS, ...flags, gccVersion])).slice(0, 16);
  const dir = `${cacheDir}/${key}`;
  const tools: Tools = {
    passthroughLl: `${dir}/passthrough_ll`,
    fileops: `${dir}/fileops`,
    dir,
    commands: [
      `gcc ${CFLAGS.join(" ")} passthrough_ll.c $(pkg-config fuse3 --cflags --libs) -o passthrough_ll`,
      `gcc ${CFLAGS.join(" ")} fileops.c -o fileops`,
    ],
  };
  if (exists(`${dir}/.done`) && exists(tools.passthroughLl) && exists(tools.fileops)) return tools;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeFile(`${dir}/passthrough_ll.c`, ptSrc);
  await Deno.writeFile(`${dir}/passthrough_helpers.h`, helpers);
  await Deno.writeTextFile(`${dir}/fileops.c`, FILEOPS_C);
  await runOk("gcc", [...CFLAGS, "passthrough_ll.c", ...flags, "-o", "passthrough_ll"], "building passthrough_ll", {
    cwd: dir,
  });
  await runOk("gcc", [...CFLAGS, "fileops.c", "-o", "fileops"], "building fileops", { cwd: dir });
  await Deno.writeTextFile(`${dir}/.done`, new Date().toISOString() + "\n");
  return tools;
}
