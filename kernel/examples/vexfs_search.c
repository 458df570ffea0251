/*
 * vexfs_search: similarity search on a mounted VexFS from C.
 *
 *   cc -I kernel -o vexfs_search kernel/examples/vexfs_search.c
 *   ./vexfs_search /mnt/docs 5 0.1 0.2 0.3 ...   (one value per dimension)
 *
 * Prints "score<TAB>path" per hit, best first, paths relative to the
 * directory. Exit status: 0 on success, 1 on an error, 2 if the directory
 * is not on VexFS.
 */
#define _POSIX_C_SOURCE 200809L	/* O_DIRECTORY, O_CLOEXEC */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vexfs_ioctl.h"

static void vexfs_hdr_init(struct vexfs_ioc_hdr *hdr, size_t size)
{
	memset(hdr, 0, size);
	hdr->magic = VEXFS_IOC_MAGIC;
	hdr->version = VEXFS_IOC_VERSION;
	hdr->size = (__u16)size;
}

int main(int argc, char **argv)
{
	static struct vexfs_ioc_search search;	/* 12 KiB: not on the stack */
	static struct vexfs_ioc_ino_path name;
	struct vexfs_ioc_fs_info info;
	struct vexfs_ioc_collection_info coll;
	const char *dir;
	unsigned int i, dim, k;
	int fd;

	if (argc < 4) {
		fprintf(stderr, "usage: %s DIR K V1 [V2 ...]\n", argv[0]);
		return 1;
	}
	dir = argv[1];
	k = (unsigned int)strtoul(argv[2], NULL, 10);
	dim = (unsigned int)(argc - 3);
	if (k < 1 || k > VEXFS_IOC_MAX_K || dim > VEXFS_IOC_MAX_DIM) {
		fprintf(stderr, "k must be 1..%d and at most %d values\n",
			VEXFS_IOC_MAX_K, VEXFS_IOC_MAX_DIM);
		return 1;
	}

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		perror(dir);
		return 1;
	}

	/* Is this VexFS? Other filesystems answer ENOTTY. */
	if (ioctl(fd, VEXFS_IOC_FS_INFO, &info) < 0 ||
	    info.hdr.magic != VEXFS_IOC_MAGIC) {
		fprintf(stderr, "%s: not on a mounted VexFS (%s)\n", dir,
			strerror(errno));
		close(fd);
		return 2;
	}

	/* The collection the directory is in: its dimension and metric. */
	vexfs_hdr_init(&coll.hdr, sizeof(coll));
	if (ioctl(fd, VEXFS_IOC_COLLECTION_INFO, &coll) < 0) {
		fprintf(stderr, "%s: %s\n", dir, errno == ENODATA ?
			"not inside a vector collection" : strerror(errno));
		close(fd);
		return 1;
	}
	if (coll.info.dim != dim) {
		fprintf(stderr, "%s: the collection has dimension %u, got %u values\n",
			dir, coll.info.dim, dim);
		close(fd);
		return 1;
	}

	vexfs_hdr_init(&search.hdr, sizeof(search));
	search.k = k;
	search.dim = dim;
	for (i = 0; i < dim; i++)
		search.query[i] = strtof(argv[3 + i], NULL);
	if (ioctl(fd, VEXFS_IOC_SEARCH, &search) < 0) {
		perror("VEXFS_IOC_SEARCH");
		close(fd);
		return 1;
	}

	for (i = 0; i < search.count; i++) {
		vexfs_hdr_init(&name.hdr, sizeof(name));
		name.ino = search.hits[i].ino;
		if (ioctl(fd, VEXFS_IOC_INO_PATH, &name) < 0) {
			if (errno == ENOENT)
				continue;	/* deleted since the search */
			perror("VEXFS_IOC_INO_PATH");
			close(fd);
			return 1;
		}
		printf("%.6f\t%s\n", search.hits[i].score, name.path);
	}
	close(fd);
	return 0;
}
