// SPDX-License-Identifier: GPL-2.0
/*
 * vmtool - the static helper the QEMU tests run inside the VM, where only
 * busybox exists (src/kernel/vm_userland.ts builds it with gcc -static).
 *
 *   vmtool walk DIR     walk a tree in one process: lstat every entry, read
 *                       every regular file, readlink every symlink, list and
 *                       get every xattr, statfs; then print one summary line
 *   vmtool write DIR    create, write (with holes), fsync, rename, link,
 *                       symlink, setxattr, truncate, unlink; new names and
 *                       existing ones; then sync; one summary line
 *
 * A summary line is "vmtool: OP entries=N ops=N failed=N errnos=NAME:N,..."
 * ("-" when nothing failed). The tool exits 0 whatever the syscalls
 * returned; 2 on bad usage. Loops are bounded (depth 32, 20000 entries,
 * 16 MiB read per file) so that a damaged tree cannot keep it busy.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MAX_DEPTH 32
#define MAX_ENTRIES 20000
#define MAX_READ (16 << 20)
#define NERR 256

static unsigned long n_entries, n_ops, n_failed, err_count[NERR];
static char buf[1 << 16];

/* Records the result of one call: failed when r < 0 (errno set). */
static long note(long r)
{
	n_ops++;
	if (r < 0) {
		n_failed++;
		err_count[errno > 0 && errno < NERR ? errno : 0]++;
	}
	return r;
}

static void summary(const char *op)
{
	int first = 1;

	printf("vmtool: %s entries=%lu ops=%lu failed=%lu errnos=", op,
	       n_entries, n_ops, n_failed);
	for (int e = 0; e < NERR; e++) {
		if (!err_count[e])
			continue;
		printf("%s%s:%lu", first ? "" : ",",
		       e ? strerrorname_np(e) : "E?", err_count[e]);
		first = 0;
	}
	printf("%s\n", first ? "-" : "");
	fflush(stdout);
}

static void xattrs(const char *path)
{
	char names[4096];
	ssize_t len = note(llistxattr(path, names, sizeof(names)));

	for (ssize_t off = 0; len > 0 && off < len;
	     off += strnlen(names + off, len - off) + 1)
		note(lgetxattr(path, names + off, buf, sizeof(buf)));
}

static void walk(const char *path, int depth)
{
	struct stat st;
	DIR *d;
	struct dirent *e;

	if (++n_entries > MAX_ENTRIES || depth > MAX_DEPTH)
		return;
	if (note(lstat(path, &st)) < 0)
		return;
	xattrs(path);
	if (S_ISREG(st.st_mode)) {
		int fd = note(open(path, O_RDONLY | O_NOFOLLOW));
		long total = 0, r;

		if (fd < 0)
			return;
		while (total < MAX_READ &&
		       (r = note(read(fd, buf, sizeof(buf)))) > 0)
			total += r;
		close(fd);
	} else if (S_ISLNK(st.st_mode)) {
		note(readlink(path, buf, sizeof(buf)));
	} else if (S_ISDIR(st.st_mode)) {
		char *child;

		d = opendir(path);
		if (!d) {
			note(-1);
			return;
		}
		for (;;) {
			errno = 0;
			e = readdir(d);
			if (!e) {
				if (errno)
					note(-1);
				break;
			}
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			if (n_entries > MAX_ENTRIES)
				break;
			if (asprintf(&child, "%s/%s", path, e->d_name) < 0)
				break;
			walk(child, depth + 1);
			free(child);
		}
		closedir(d);
	}
}

/* Names of up to `max` entries of `dir` (type from lstat), for the write test. */
static int entries(const char *dir, char names[][300], int want_dir, int max)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat st;
	int n = 0;

	if (!d)
		return note(-1), 0;
	while (n < max && (e = readdir(d))) {
		if (e->d_name[0] == '.' || !strncmp(e->d_name, "fz-", 3))
			continue;
		snprintf(names[n], 300, "%s/%.250s", dir, e->d_name);
		if (lstat(names[n], &st) == 0 &&
		    (S_ISDIR(st.st_mode) ? 1 : 0) == want_dir &&
		    (want_dir || S_ISREG(st.st_mode)))
			n++;
	}
	closedir(d);
	return n;
}

static void write_file(const char *path, off_t at, size_t len, int flags)
{
	int fd = note(open(path, O_WRONLY | O_CREAT | flags, 0644));

	if (fd < 0)
		return;
	memset(buf, 'w', sizeof(buf));
	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);

		if (note(pwrite(fd, buf, n, at)) < 0)
			break;
		at += n;
		len -= n;
	}
	note(fsync(fd));
	close(fd);
}

static void write_tree(const char *root)
{
	static char dirs[8][300], files[8][300];
	char p[1024], q[1024];
	int nd, nf;

	nd = entries(root, dirs, 1, 7);
	snprintf(dirs[nd++], 300, "%s", root);
	for (int i = 0; i < nd; i++) {
		/* new names in every directory: create, write with a hole, rename, link, unlink */
		n_entries++;
		snprintf(p, sizeof(p), "%.300s/fz-new", dirs[i]);
		write_file(p, 0, 5000, O_TRUNC);
		write_file(p, 300000, 3000, 0);
		note(lsetxattr(p, "user.fz", "value", 5, 0));
		snprintf(q, sizeof(q), "%.300s/fz-renamed", dirs[i]);
		note(rename(p, q));
		snprintf(p, sizeof(p), "%.300s/fz-link", dirs[i]);
		note(link(q, p));
		note(unlink(p));
		snprintf(p, sizeof(p), "%.300s/fz-sym", dirs[i]);
		note(symlink("fz-renamed", p));
		snprintf(p, sizeof(p), "%.300s/fz-dir", dirs[i]);
		note(mkdir(p, 0755));
		note(rmdir(p));
		note(truncate(q, 100));
		/* existing files: append, setxattr, truncate, rename, unlink */
		nf = entries(dirs[i], files, 0, 3);
		for (int f = 0; f < nf; f++) {
			n_entries++;
			write_file(files[f], 4096, 2000, O_APPEND);
			note(lsetxattr(files[f], "user.fz2", "v", 1, 0));
			if (f == 0)
				note(truncate(files[f], 1));
			if (f == 1) {
				snprintf(p, sizeof(p), "%.300s-fzmv", files[f]);
				note(rename(files[f], p));
			}
			if (f == 2)
				note(unlink(files[f]));
		}
		if (i > 0) {
			/* across directories */
			snprintf(p, sizeof(p), "%.300s/fz-renamed", dirs[i]);
			snprintf(q, sizeof(q), "%.300s/fz-moved-%d", root, i);
			note(rename(p, q));
		}
	}
	sync();
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "walk")) {
		struct statfs sf;

		note(statfs(argv[2], &sf));
		walk(argv[2], 0);
		summary("walk");
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "write")) {
		write_tree(argv[2]);
		summary("write");
		return 0;
	}
	fprintf(stderr, "usage: vmtool walk DIR | vmtool write DIR\n");
	return 2;
}
