/*
 * vmbench - the workloads of `vexfs bench --kernel`, run inside the QEMU VM on
 * the kernel module's mount, the FUSE mount and ext4 alike (bench/vm.ts).
 *
 * Built on the host with `gcc -static -O2` (the VM has no C library), so each
 * workload is the same machine code on every target. Every command prints one
 * JSON line on stdout, `{"op": ..., ...}`; on failure a line with "error" and
 * exit status 1. Times are CLOCK_MONOTONIC; caches are dropped (sync, then
 * /proc/sys/vm/drop_caches = 3) where a command says so.
 *
 *   seqwrite FILE BYTES      1 MiB write(2)s, then fsync; time includes fsync
 *                            ("seconds"); "writeSeconds" is the open and the
 *                            write(2)s, "fsyncSeconds" the fsync, and
 *                            "cpuSeconds" the CPU time the writer itself spent
 *                            (user + system, getrusage), the rest of the time
 *                            being writeback, the journal and waiting
 *   seqread FILE             drop caches, 1 MiB read(2)s to the end
 *   touchmem KEEP_MIB        writes one byte in every page of anonymous
 *                            memory, 64 MiB at a time, until MemFree would
 *                            fall below KEEP_MIB, then frees it: QEMU backs
 *                            guest RAM on the host only when it is first
 *                            written, a cost that would otherwise land on
 *                            whichever target runs first
 *   randread FILE SECS SEED  drop caches, 4 KiB pread(2)s at random block
 *                            offsets (each block at most once), for SECS
 *   create DIR N             N empty files (O_CREAT|O_EXCL), then fsync(DIR)
 *   stat DIR N               drop caches, stat(2) of each of them
 *   search DIR Q K SEED      VEXFS_IOC_SEARCH on the collection root DIR with
 *                            Q seeded random queries (after 5 untimed ones);
 *                            per-query latency p50/p99 in microseconds
 *   scan N DIM Q K SEED      the exact search loop in memory: N x DIM f32
 *                            vectors, squared L2 per row (the module's f64
 *                            sum) and top K by insertion; per-query
 *                            latency (the host-native and in-VM figure of the
 *                            same loop, to tell TCG's cost from the module's)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "vexfs_ioctl.h"

#define MIB (1024 * 1024)
#define BLK 4096

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int fail(const char *op, const char *what)
{
	int e = errno;

	printf("{\"op\":\"%s\",\"error\":\"%s: %s\",\"errno\":%d}\n", op, what,
	       strerror(e), e);
	return 1;
}

static void drop_caches(void)
{
	int fd;

	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "3\n", 2) != 2)
			perror("drop_caches");
		close(fd);
	}
}

/* xorshift64*: seeded, the same sequence on every target */
static uint64_t rng;

static uint64_t next(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static float unit(void)
{
	return (float)((next() >> 40) / (double)(1 << 24)) * 2.0f - 1.0f;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void print_lat(const char *op, double *lat, int n, const char *extra)
{
	double sum = 0;
	int i;

	for (i = 0; i < n; i++)
		sum += lat[i];
	qsort(lat, n, sizeof(*lat), cmpd);
	printf("{\"op\":\"%s\",\"queries\":%d,\"p50Us\":%.3f,\"p99Us\":%.3f,"
	       "\"minUs\":%.3f,\"meanUs\":%.3f%s}\n", op, n, lat[n / 2] * 1e6,
	       lat[(int)((n - 1) * 0.99)] * 1e6, lat[0] * 1e6, sum / n * 1e6,
	       extra);
}

/* CPU time (user + system) of this process so far, seconds. */
static double cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int seqwrite(const char *file, long long bytes)
{
	char *buf = malloc(MIB);
	long long done = 0;
	double t0, tw, t1, c0;
	int fd, i;

	for (i = 0; i < MIB; i++)
		buf[i] = (char)(i * 131 + 7);
	drop_caches();
	c0 = cpu_seconds();
	t0 = now();
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return fail("seq-write", "open");
	while (done < bytes) {
		ssize_t w = write(fd, buf, MIB);

		if (w <= 0)
			return fail("seq-write", "write");
		done += w;
		buf[0]++;
	}
	tw = now();
	if (fsync(fd))
		return fail("seq-write", "fsync");
	t1 = now();
	close(fd);
	printf("{\"op\":\"seq-write\",\"bytes\":%lld,\"seconds\":%.6f,"
	       "\"writeSeconds\":%.6f,\"fsyncSeconds\":%.6f,"
	       "\"cpuSeconds\":%.6f}\n", done, t1 - t0, tw - t0, t1 - tw,
	       cpu_seconds() - c0);
	return 0;
}

/* MemFree of /proc/meminfo in bytes, or -1. */
static long long mem_free(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	long long kib = -1;
	char line[256];

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemFree: %lld kB", &kib) == 1)
			break;
	fclose(f);
	return kib < 0 ? -1 : kib * 1024;
}

static int touchmem(long long keep)
{
	const long long chunk = 64LL * MIB;
	char *maps[1024];
	long long done = 0, off;
	double t0 = now();
	int n = 0, i;

	while (n < 1024 && mem_free() > keep + chunk) {
		char *p = mmap(NULL, chunk, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			break;
		for (off = 0; off < chunk; off += BLK)
			p[off] = 1;
		maps[n++] = p;
		done += chunk;
	}
	for (i = 0; i < n; i++)
		munmap(maps[i], chunk);
	printf("{\"op\":\"touch\",\"bytes\":%lld,\"seconds\":%.6f}\n", done,
	       now() - t0);
	return 0;
}

static int seqread(const char *file)
{
	char *buf = malloc(MIB);
	long long done = 0;
	double t0, t1;
	ssize_t r;
	int fd;

	drop_caches();
	t0 = now();
	fd = open(file, O_RDONLY);
	if (fd < 0)
		return fail("seq-read", "open");
	while ((r = read(fd, buf, MIB)) > 0)
		done += r;
	if (r < 0)
		return fail("seq-read", "read");
	t1 = now();
	close(fd);
	printf("{\"op\":\"seq-read\",\"bytes\":%lld,\"seconds\":%.6f}\n", done,
	       t1 - t0);
	return 0;
}

static int randread(const char *file, double secs, uint64_t seed)
{
	static char buf[BLK];
	struct stat st;
	uint32_t *perm, n, i;
	double t0, t1 = 0;
	long ops = 0;
	int fd;

	fd = open(file, O_RDONLY);
	if (fd < 0 || fstat(fd, &st))
		return fail("rand-read", "open");
	n = (uint32_t)(st.st_size / BLK);
	if (!n) {
		errno = EINVAL;
		return fail("rand-read", "empty file");
	}
	perm = malloc(sizeof(*perm) * n);
	for (i = 0; i < n; i++)
		perm[i] = i;
	rng = seed | 1;
	for (i = n - 1; i > 0; i--) {
		uint32_t j = (uint32_t)(next() % (i + 1)), t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	drop_caches();
	t0 = now();
	for (i = 0; i < n; i++) {
		if (pread(fd, buf, BLK, (off_t)perm[i] * BLK) != BLK)
			return fail("rand-read", "pread");
		ops++;
		if (!(ops & 63) && (t1 = now()) - t0 >= secs)
			break;
	}
	t1 = now();
	close(fd);
	printf("{\"op\":\"rand-read\",\"ops\":%ld,\"seconds\":%.6f}\n", ops,
	       t1 - t0);
	return 0;
}

static int files(const char *op, const char *dir, int n)
{
	char name[4096];
	struct stat st;
	double t0, t1;
	int i, fd, dfd;

	if (!strcmp(op, "stat"))
		drop_caches();
	t0 = now();
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s/f%07d", dir, i);
		if (!strcmp(op, "create")) {
			fd = open(name, O_WRONLY | O_CREAT | O_EXCL, 0644);
			if (fd < 0)
				return fail(op, "open");
			close(fd);
		} else if (stat(name, &st)) {
			return fail(op, "stat");
		}
	}
	if (!strcmp(op, "create")) {
		dfd = open(dir, O_RDONLY | O_DIRECTORY);
		if (dfd < 0 || fsync(dfd))
			return fail(op, "fsync of the directory");
		close(dfd);
	}
	t1 = now();
	printf("{\"op\":\"%s\",\"files\":%d,\"seconds\":%.6f}\n", op, n,
	       t1 - t0);
	return 0;
}

static void hdr(struct vexfs_ioc_hdr *h, unsigned int version,
		unsigned int size)
{
	h->magic = VEXFS_IOC_MAGIC;
	h->version = version;
	h->size = size;
}

static int search(const char *dir, int q, int k, uint64_t seed)
{
	static struct vexfs_ioc_collection_info ci;
	static struct vexfs_ioc_search s;
	char extra[160];
	double *lat = malloc(sizeof(*lat) * q), t0;
	unsigned int dim, d, count = 0;
	int fd, i;

	fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return fail("search", "open");
	hdr(&ci.hdr, VEXFS_IOC_VERSION, sizeof(ci));
	if (ioctl(fd, VEXFS_IOC_COLLECTION_INFO, &ci))
		return fail("search", "VEXFS_IOC_COLLECTION_INFO");
	dim = ci.info.dim;
	if (dim > VEXFS_IOC_MAX_DIM) {
		errno = EINVAL;
		return fail("search", "collection dimension");
	}
	rng = seed | 1;
	for (i = -5; i < q; i++) {
		memset(&s, 0, sizeof(s));
		hdr(&s.hdr, VEXFS_IOC_VERSION, sizeof(s));
		s.k = (unsigned int)k;
		s.dim = dim;
		for (d = 0; d < dim; d++)
			s.query[d] = unit();
		t0 = now();
		if (ioctl(fd, VEXFS_IOC_SEARCH, &s))
			return fail("search", "VEXFS_IOC_SEARCH");
		if (i >= 0)
			lat[i] = now() - t0;
		count = s.count;
	}
	close(fd);
	snprintf(extra, sizeof(extra),
		 ",\"vectors\":%llu,\"dim\":%u,\"k\":%d,\"hits\":%u,\"firstIno\":%llu",
		 (unsigned long long)ci.info.count, dim, k, count,
		 (unsigned long long)s.hits[0].ino);
	print_lat("search", lat, q, extra);
	return 0;
}

/*
 * The flat scan: squared L2 of every row, top k kept sorted by insertion. The
 * distance is the module's (kernel/search_fpu.c vexfs_sum): f32 elements
 * widened to f64, four accumulators over dim / 4 steps, a scalar tail,
 * (a0 + a1) + (a2 + a3); -O2 without -ffast-math keeps that order (as the
 * module's -ffp-contract=off does), so the host figure is the same arithmetic.
 */
static double l2_sum(const double *q, const float *x, unsigned int dim)
{
	double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
	unsigned int j = 0;

	for (; j + 4 <= dim; j += 4) {
		double e0 = q[j] - x[j], e1 = q[j + 1] - x[j + 1];
		double e2 = q[j + 2] - x[j + 2], e3 = q[j + 3] - x[j + 3];

		a0 += e0 * e0;
		a1 += e1 * e1;
		a2 += e2 * e2;
		a3 += e3 * e3;
	}
	for (; j < dim; j++) {
		double e = q[j] - x[j];

		a0 += e * e;
	}
	return (a0 + a1) + (a2 + a3);
}

static unsigned int scan_one(const float *rows, unsigned int n,
			     unsigned int dim, const double *query,
			     unsigned int k, double *best, unsigned int *ids)
{
	unsigned int i, have = 0, j;

	for (i = 0; i < n; i++) {
		double sum = l2_sum(query, rows + (size_t)i * dim, dim);

		if (have == k && sum >= best[k - 1])
			continue;
		j = have < k ? have++ : k - 1;
		while (j > 0 && best[j - 1] > sum) {
			best[j] = best[j - 1];
			ids[j] = ids[j - 1];
			j--;
		}
		best[j] = sum;
		ids[j] = i;
	}
	return have;
}

static int scan(unsigned int n, unsigned int dim, int q, unsigned int k,
		uint64_t seed)
{
	float *rows = malloc(sizeof(float) * (size_t)n * dim);
	double *query = malloc(sizeof(double) * dim), best[VEXFS_IOC_MAX_K];
	unsigned int ids[VEXFS_IOC_MAX_K], sink = 0;
	double *lat = malloc(sizeof(*lat) * q), t0;
	char extra[128];
	size_t x;
	int i;

	if (!k || k > VEXFS_IOC_MAX_K) {
		errno = EINVAL;
		return fail("scan", "k");
	}
	rng = seed | 1;
	for (x = 0; x < (size_t)n * dim; x++)
		rows[x] = unit();
	for (i = -5; i < q; i++) {
		unsigned int d;

		for (d = 0; d < dim; d++)
			query[d] = (double)unit();
		t0 = now();
		sink += scan_one(rows, n, dim, query, k, best, ids) + ids[0];
		if (i >= 0)
			lat[i] = now() - t0;
	}
	snprintf(extra, sizeof(extra),
		 ",\"vectors\":%u,\"dim\":%u,\"k\":%u,\"sink\":%u", n, dim, k,
		 sink);
	print_lat("scan", lat, q, extra);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "seqwrite"))
		return seqwrite(argv[2], atoll(argv[3]));
	if (argc == 3 && !strcmp(argv[1], "seqread"))
		return seqread(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "touchmem"))
		return touchmem(atoll(argv[2]) * MIB);
	if (argc == 5 && !strcmp(argv[1], "randread"))
		return randread(argv[2], atof(argv[3]),
				strtoull(argv[4], NULL, 0));
	if (argc == 4 && (!strcmp(argv[1], "create") ||
			  !strcmp(argv[1], "stat")))
		return files(argv[1], argv[2], atoi(argv[3]));
	if (argc == 6 && !strcmp(argv[1], "search"))
		return search(argv[2], atoi(argv[3]), atoi(argv[4]),
			      strtoull(argv[5], NULL, 0));
	if (argc == 7 && !strcmp(argv[1], "scan"))
		return scan((unsigned int)atoi(argv[2]),
			    (unsigned int)atoi(argv[3]), atoi(argv[4]),
			    (unsigned int)atoi(argv[5]),
			    strtoull(argv[6], NULL, 0));
	fprintf(stderr,
		"usage: vmbench seqwrite FILE BYTES | seqread FILE | touchmem KEEP_MIB |\n"
		"       randread FILE SECS SEED |\n"
		"       create DIR N | stat DIR N | search DIR Q K SEED | scan N DIM Q K SEED\n");
	return 2;
}
