// SPDX-License-Identifier: GPL-2.0
/*
 * rwtool - the system calls module_rw_test.ts needs inside the VM that
 * busybox lacks, one per invocation:
 *
 *   rwtool falloc MODE OFF LEN FILE    fallocate(2); MODE: 0, keep, punch
 *   rwtool seek data|hole OFF FILE     prints lseek(SEEK_DATA/SEEK_HOLE)
 *                                      or the errno name
 *   rwtool pwrite FILE OFF TEXT        pwrite(2) of TEXT at OFF, then fsync
 *   rwtool fsync FILE                  fsync(2)
 *   rwtool orphan FILE SECONDS         open FILE, unlink it, write 1 MiB,
 *                                      print "open", sleep, then check the
 *                                      bytes and print "ok" (or "bad")
 *   rwtool shortwrite FILE MIB         one write(2) of MIB + 1 MiB from a
 *                                      buffer whose last MiB is unmapped
 *                                      (a short copy), then fsync; prints
 *                                      the bytes written
 *
 * Exit status 0 on success; errors print "ERRNO_NAME" and exit 1.
 * Built with gcc -static by module_rw_test.ts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

static const char *ename(int e)
{
	switch (e) {
	case ENXIO: return "ENXIO";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EINVAL: return "EINVAL";
	case EUCLEAN: return "EUCLEAN";
	case EIO: return "EIO";
	case EROFS: return "EROFS";
	case ENOSPC: return "ENOSPC";
	case EFBIG: return "EFBIG";
	case ENOENT: return "ENOENT";
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	default: return "EOTHER";
	}
}

static int fail(void)
{
	printf("%s\n", ename(errno));
	return 1;
}

int main(int argc, char **argv)
{
	int fd;

	if (argc >= 6 && !strcmp(argv[1], "falloc")) {
		int mode = 0;

		if (!strcmp(argv[2], "keep"))
			mode = FALLOC_FL_KEEP_SIZE;
		else if (!strcmp(argv[2], "punch"))
			mode = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE;
		fd = open(argv[5], O_RDWR);
		if (fd < 0 || fallocate(fd, mode, atoll(argv[3]), atoll(argv[4])))
			return fail();
		return close(fd) ? fail() : 0;
	}
	if (argc >= 5 && !strcmp(argv[1], "seek")) {
		off_t r;

		fd = open(argv[4], O_RDONLY);
		if (fd < 0)
			return fail();
		r = lseek(fd, atoll(argv[3]),
			  strcmp(argv[2], "data") ? SEEK_HOLE : SEEK_DATA);
		if (r < 0)
			printf("%s\n", ename(errno));
		else
			printf("%lld\n", (long long)r);
		return 0;
	}
	if (argc >= 5 && !strcmp(argv[1], "pwrite")) {
		size_t n = strlen(argv[4]);

		fd = open(argv[2], O_WRONLY | O_CREAT, 0644);
		if (fd < 0 || pwrite(fd, argv[4], n, atoll(argv[3])) != (ssize_t)n ||
		    fsync(fd))
			return fail();
		return close(fd) ? fail() : 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "fsync")) {
		fd = open(argv[2], O_RDONLY);
		if (fd < 0 || fsync(fd))
			return fail();
		return close(fd) ? fail() : 0;
	}
	if (argc >= 4 && !strcmp(argv[1], "orphan")) {
		static char buf[1 << 20], back[1 << 20];
		size_t i;

		for (i = 0; i < sizeof(buf); i++)
			buf[i] = (char)(i * 7 + 3);
		fd = open(argv[2], O_RDWR | O_CREAT, 0644);
		if (fd < 0 || unlink(argv[2]) ||
		    pwrite(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf) ||
		    fsync(fd))
			return fail();
		printf("open\n");
		fflush(stdout);
		sleep(atoi(argv[3]));
		if (pread(fd, back, sizeof(back), 0) != (ssize_t)sizeof(back))
			return fail();
		printf("%s\n", memcmp(buf, back, sizeof(buf)) ? "bad" : "ok");
		return close(fd) ? fail() : 0;
	}
	if (argc >= 4 && !strcmp(argv[1], "shortwrite")) {
		size_t mib = (size_t)atoll(argv[3]) << 20, i;
		char *buf;
		ssize_t r;

		buf = mmap(NULL, mib + (1 << 20), PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (buf == MAP_FAILED || munmap(buf + mib, 1 << 20))
			return fail();
		for (i = 0; i < mib; i++)
			buf[i] = (char)(i * 13 + 1);
		fd = open(argv[2], O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd < 0)
			return fail();
		r = write(fd, buf, mib + (1 << 20));
		if (r < 0 || fsync(fd))
			return fail();
		printf("%lld\n", (long long)r);
		return close(fd) ? fail() : 0;
	}
	fprintf(stderr, "usage: rwtool falloc|seek|pwrite|fsync|orphan|shortwrite ...\n");
	return 2;
}
