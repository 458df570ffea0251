/*
 * brute: exact k-nearest-neighbour search by brute force, for `vexfs bench vectors`
 * (bench/ann/). Built in the run with gcc -O3 -march=native -fopenmp-simd (the
 * pragmas below let gcc vectorise the float reductions, as -ffast-math would,
 * without changing any other arithmetic).
 *
 *   brute gt   DIM METRIC K BASE QUERIES OUT_IDS OUT_DIST
 *       ground truth: for every query the K nearest rows of BASE, distances in
 *       double precision, ties broken by the lower row; OUT_IDS is nq*K
 *       little-endian i32, OUT_DIST nq*K little-endian f64 in the form of
 *       bench/ann/metrics.ts (l2: Euclidean distance, cosine: 1 - cos, ip: -dot).
 *
 *   brute scan DIM METRIC K BASE QUERIES OUT_IDS OUT_LAT RUNS [MAX_PASS_SECONDS]
 *       the baseline: each query timed alone (clock_gettime, CLOCK_MONOTONIC), a
 *       single-threaded f32 scan of every row keeping the top K; the norms of the
 *       rows are computed once before the queries (as VexFS stores them,
 *       FORMAT.md §8.5). RUNS passes over the queries; the pass with the least
 *       total time is kept: OUT_IDS nq*K i32, OUT_LAT nq f64 microseconds (its CPU
 *       time is printed as cpuSeconds). No
 *       further pass is made once one took longer than MAX_PASS_SECONDS.
 *
 * METRIC is l2, cosine or ip. BASE and QUERIES are raw little-endian f32, rows of
 * DIM elements (the row counts follow from the file sizes). Prints one line of
 * JSON on stdout. Exit status 2 on bad usage, 1 on an I/O error.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum metric { L2, COSINE, IP };

static void die(const char *what, const char *path) {
  fprintf(stderr, "brute: %s %s: %s\n", what, path, strerror(errno));
  exit(1);
}

static float *load(const char *path, long dim, long *rows) {
  FILE *f = fopen(path, "rb");
  if (!f) die("cannot open", path);
  if (fseek(f, 0, SEEK_END) != 0) die("cannot seek", path);
  long size = ftell(f);
  rewind(f);
  if (size < 0 || size % (dim * 4) != 0) {
    fprintf(stderr, "brute: %s: %ld bytes is not a whole number of %ld-d f32 rows\n", path, size, dim);
    exit(1);
  }
  *rows = size / (dim * 4);
  float *p = aligned_alloc(64, ((size_t)size + 63) / 64 * 64);
  if (!p) die("out of memory for", path);
  if (size && fread(p, 1, (size_t)size, f) != (size_t)size) die("cannot read", path);
  fclose(f);
  return p;
}

static void save(const char *path, const void *p, size_t bytes) {
  FILE *f = fopen(path, "wb");
  if (!f) die("cannot create", path);
  if (bytes && fwrite(p, 1, bytes, f) != bytes) die("cannot write", path);
  if (fclose(f) != 0) die("cannot write", path);
}

/* VmHWM of this process in KiB (0 when /proc is not there). */
static long peak_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = 0;
  if (!f) return 0;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "VmHWM:", 6)) kb = atol(line + 6);
  fclose(f);
  return kb;
}

static double cpu_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

/* ---------------------------------------------------------- f32 kernels */

static float dot_f32(const float *restrict a, const float *restrict b, long dim) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (long j = 0; j < dim; j++) s += a[j] * b[j];
  return s;
}

static float l2sq_f32(const float *restrict a, const float *restrict b, long dim) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (long j = 0; j < dim; j++) {
    float d = a[j] - b[j];
    s += d * d;
  }
  return s;
}

/* ---------------------------------------------------------- f64 kernels */

static double dot_f64(const float *restrict a, const float *restrict b, long dim) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (long j = 0; j < dim; j++) s += (double)a[j] * (double)b[j];
  return s;
}

static double l2sq_f64(const float *restrict a, const float *restrict b, long dim) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (long j = 0; j < dim; j++) {
    double d = (double)a[j] - (double)b[j];
    s += d * d;
  }
  return s;
}

/* ------------------------------------------------- top k (insertion, sorted) */

/* Inserts (d, row) into the sorted lists of length *len (at most k): nearer first, then lower row. */
#define TOPK_INSERT(T, dist, ids, len, k, d, row)                                                      \
  do {                                                                                                 \
    if (*(len) == (k) && !((d) < (dist)[(k)-1] || ((d) == (dist)[(k)-1] && (row) < (ids)[(k)-1]))) break; \
    long p_ = *(len) < (k) ? (*(len))++ : (k)-1;                                                       \
    while (p_ > 0 && ((dist)[p_ - 1] > (d) || ((dist)[p_ - 1] == (d) && (ids)[p_ - 1] > (row)))) {     \
      (dist)[p_] = (dist)[p_ - 1];                                                                     \
      (ids)[p_] = (ids)[p_ - 1];                                                                       \
      p_--;                                                                                            \
    }                                                                                                  \
    (dist)[p_] = (T)(d);                                                                               \
    (ids)[p_] = (int)(row);                                                                            \
  } while (0)

static int parse_metric(const char *s) {
  if (!strcmp(s, "l2")) return L2;
  if (!strcmp(s, "cosine")) return COSINE;
  if (!strcmp(s, "ip")) return IP;
  fprintf(stderr, "brute: unknown metric %s (l2, cosine, ip)\n", s);
  exit(2);
}

static int usage(void) {
  fprintf(stderr,
          "usage: brute gt DIM METRIC K BASE QUERIES OUT_IDS OUT_DIST\n"
          "       brute scan DIM METRIC K BASE QUERIES OUT_IDS OUT_LAT RUNS [MAX_PASS_SECONDS]\n");
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 9) return usage();
  int gt = !strcmp(argv[1], "gt");
  if (!gt && (strcmp(argv[1], "scan") || argc < 10 || argc > 11)) return usage();
  if (gt && argc != 9) return usage();
  long dim = atol(argv[2]);
  int metric = parse_metric(argv[3]);
  long k = atol(argv[4]);
  if (dim < 1 || k < 1) return usage();
  long n, nq;
  float *base = load(argv[5], dim, &n);
  float *queries = load(argv[6], dim, &nq);
  if (k > n) k = n;
  int *ids = calloc((size_t)(nq * k) + 1, sizeof(int));
  if (!ids) die("out of memory", "");

  if (gt) {
    double *dist = calloc((size_t)(nq * k) + 1, sizeof(double));
    double *bn = calloc((size_t)n + 1, sizeof(double));
    if (!dist || !bn) die("out of memory", "");
    if (metric == COSINE)
      for (long i = 0; i < n; i++) bn[i] = sqrt(dot_f64(base + i * dim, base + i * dim, dim));
    double t0 = now_us();
    for (long q = 0; q < nq; q++) {
      const float *qv = queries + q * dim;
      double qn = metric == COSINE ? sqrt(dot_f64(qv, qv, dim)) : 0;
      double *dl = dist + q * k;
      int *il = ids + q * k;
      long len = 0;
      for (long i = 0; i < n; i++) {
        const float *x = base + i * dim;
        double d;
        if (metric == L2) d = sqrt(l2sq_f64(qv, x, dim));
        else if (metric == IP) d = -dot_f64(qv, x, dim);
        else {
          double den = qn * bn[i];
          d = 1.0 - (den > 0 ? dot_f64(qv, x, dim) / den : 0.0);
        }
        TOPK_INSERT(double, dl, il, &len, k, d, i);
      }
    }
    double secs = (now_us() - t0) / 1e6;
    save(argv[7], ids, (size_t)(nq * k) * sizeof(int));
    save(argv[8], dist, (size_t)(nq * k) * sizeof(double));
    printf("{\"mode\":\"gt\",\"n\":%ld,\"nq\":%ld,\"dim\":%ld,\"k\":%ld,\"seconds\":%.6f}\n", n, nq, dim, k, secs);
    return 0;
  }

  long runs = atol(argv[9]);
  double max_pass = argc > 10 ? atof(argv[10]) : 1e300;
  if (runs < 1) return usage();
  float *inv = calloc((size_t)n + 1, sizeof(float));
  double *lat = calloc((size_t)nq + 1, sizeof(double));
  double *best_lat = calloc((size_t)nq + 1, sizeof(double));
  int *run_ids = calloc((size_t)(nq * k) + 1, sizeof(int));
  float *dl = calloc((size_t)k + 1, sizeof(float));
  if (!inv || !lat || !best_lat || !run_ids || !dl) die("out of memory", "");
  if (metric == COSINE)
    for (long i = 0; i < n; i++) {
      float nm = sqrtf(dot_f32(base + i * dim, base + i * dim, dim));
      inv[i] = nm > 0 ? 1.0f / nm : 0.0f;
    }
  double best = -1, best_cpu = 0, totals[64];
  long kept = 0;
  for (long r = 0; r < runs; r++) {
    double total = 0, c0 = cpu_s();
    for (long q = 0; q < nq; q++) {
      double t0 = now_us();
      const float *qv = queries + q * dim;
      int *il = run_ids + q * k;
      long len = 0;
      if (metric == L2) {
        for (long i = 0; i < n; i++) {
          float d = l2sq_f32(qv, base + i * dim, dim);
          TOPK_INSERT(float, dl, il, &len, k, d, i);
        }
      } else if (metric == IP) {
        for (long i = 0; i < n; i++) {
          float d = -dot_f32(qv, base + i * dim, dim);
          TOPK_INSERT(float, dl, il, &len, k, d, i);
        }
      } else {
        float qn = sqrtf(dot_f32(qv, qv, dim));
        float qi = qn > 0 ? 1.0f / qn : 0.0f;
        for (long i = 0; i < n; i++) {
          float d = 1.0f - dot_f32(qv, base + i * dim, dim) * inv[i] * qi;
          TOPK_INSERT(float, dl, il, &len, k, d, i);
        }
      }
      lat[q] = now_us() - t0;
      total += lat[q];
    }
    if (r < 64) totals[r] = total;
    if (best < 0 || total < best) {
      best = total;
      best_cpu = cpu_s() - c0;
      memcpy(best_lat, lat, (size_t)nq * sizeof(double));
      memcpy(ids, run_ids, (size_t)(nq * k) * sizeof(int));
    }
    kept++;
    if (total / 1e6 > max_pass) break;
  }
  save(argv[7], ids, (size_t)(nq * k) * sizeof(int));
  save(argv[8], best_lat, (size_t)nq * sizeof(double));
  printf("{\"mode\":\"scan\",\"n\":%ld,\"nq\":%ld,\"dim\":%ld,\"k\":%ld,\"runs\":%ld,\"passSeconds\":[", n, nq, dim, k, kept);
  for (long r = 0; r < kept && r < 64; r++) printf("%s%.6f", r ? "," : "", totals[r] / 1e6);
  printf("],\"cpuSeconds\":%.6f,\"peakKb\":%ld}\n", best_cpu, peak_kb());
  return 0;
}
