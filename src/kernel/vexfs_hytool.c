/*
 * vexfs_hytool.c - runs VEXFS_IOC_HYBRID and VEXFS_IOC_TEXT_INDEX for
 * src/kernel/module_hybrid_test.ts inside the QEMU VM (static, busybox
 * userland). Each stdin line is "h PATH HEX" or "t PATH HEX": the request
 * structure in hex (built on the host with src/ioctl/abi_hybrid.ts), sent
 * on PATH opened read-only. Prints "HY ERRNO HEX" with the first 128 bytes
 * and the returned hits of the answer, or "TI ERRNO HEX" with the whole
 * answer; ERRNO 0 on success (then HEX is the answer, else the request).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "vexfs_ioctl.h"

static unsigned char req[sizeof(struct vexfs_ioc_hybrid)];

static int unhex(const char *s, unsigned char *out, size_t max)
{
	size_t n = strlen(s), i;

	if (n % 2 || n / 2 != max)
		return -1;
	for (i = 0; i < max; i++) {
		unsigned int v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char)v;
	}
	return 0;
}

static void hex(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		printf("%02x", p[i]);
}

int main(void)
{
	static char line[65536];

	while (fgets(line, sizeof(line), stdin)) {
		char *path, *h, *nl = strchr(line, '\n');
		int fd, rc, err;
		int hybrid = line[0] == 'h';
		size_t size = hybrid ? sizeof(struct vexfs_ioc_hybrid) :
				       sizeof(struct vexfs_ioc_text_index);

		if (nl)
			*nl = 0;
		if (!line[0])
			continue;
		path = strtok(line + 1, " ");
		h = strtok(NULL, " ");
		if (!path || !h || unhex(h, req, size)) {
			printf("BAD %s\n", line);
			continue;
		}
		fd = open(path, O_RDONLY | O_DIRECTORY);
		if (fd < 0) {
			printf("%s %d open\n", hybrid ? "HY" : "TI", errno);
			continue;
		}
		rc = ioctl(fd, hybrid ? VEXFS_IOC_HYBRID : VEXFS_IOC_TEXT_INDEX,
			   req);
		err = rc ? errno : 0;
		close(fd);
		printf("%s %d ", hybrid ? "HY" : "TI", err);
		if (hybrid) {
			const struct vexfs_ioc_hybrid *r = (const void *)req;
			unsigned int count = err ? 0 : r->count;

			if (count > VEXFS_IOC_HYBRID_MAX_K)
				count = 0;
			hex(req, 128);
			printf(" ");
			hex((const unsigned char *)r->hits,
			    count * sizeof(r->hits[0]));
		} else {
			hex(req, size);
		}
		printf("\n");
		fflush(stdout);
	}
	return 0;
}
