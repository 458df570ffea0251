// SPDX-License-Identifier: GPL-2.0
/*
 * vmtool - the static helper the QEMU tests run inside the VM, where only
 * busybox exists (src/kernel/static_tool.ts builds it with gcc -static).
 *
 *   vmtool walk DIR     walk a tree in one process: lstat every entry, read
 *                       every regular file, readlink every symlink, list and
 *                       get every xattr, statfs; then print one summary line
 *   vmtool write DIR    create, write (with holes), fsync, rename, link,
 *                       symlink, setxattr, truncate, unlink; new names and
 *                       existing ones; then sync; one summary line
 *   vmtool dm-create NAME TABLE   create and resume a device-mapper device
 *                       with a one-line table ("START LEN TARGET ARGS");
 *                       prints its dev_t as MAJOR:MINOR
 *   vmtool dm-message NAME MSG    send a target message (log-writes: "mark X")
 *   vmtool dm-remove NAME         remove the device
 *   vmtool crash-work DIR DMNAME SEED OPS
 *                       the dm-log-writes workload (src/kernel/logwrites.ts):
 *                       OPS seeded operations on 12 names in DIR and DIR/d
 *                       (write and fsync, append, overwrite without fsync,
 *                       rename, unlink, truncate), with a mark in the log
 *                       (dm-message) after each durable step: "sync:PATH:SIZE:HASH"
 *                       once a file and its directory are fsync'd, "gone:PATH"
 *                       once its removal is, and "dirty:PATH" before a file
 *                       changes (HASH: FNV-1a 64 of the contents, hex)
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
#include <sys/ioctl.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <stdint.h>
#include <linux/dm-ioctl.h>

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

static void write_file(const char *path, off_t at, size_t len, int flags,
		       int do_fsync)
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
	if (do_fsync)
		note(fsync(fd));
	close(fd);
}

static void write_tree(const char *root)
{
	static char dirs[5][300], files[3][300];
	char p[1024], q[1024];
	int nd, nf;

	nd = entries(root, dirs, 1, 4);
	snprintf(dirs[nd++], 300, "%s", root);
	for (int i = 0; i < nd; i++) {
		/* new names in every directory: create, write with a hole, rename, link, unlink */
		n_entries++;
		snprintf(p, sizeof(p), "%.300s/fz-new", dirs[i]);
		write_file(p, 0, 5000, O_TRUNC, 0);
		write_file(p, 300000, 3000, 0, 1);
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
			write_file(files[f], 4096, 2000, O_APPEND, 0);
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

/* One device-mapper ioctl: header, then `payload` of `len` bytes. */
static int dm_ioctl(unsigned long cmd, const char *name, unsigned int flags,
		    const void *payload, size_t len, struct dm_ioctl *out)
{
	static char io[16384];
	struct dm_ioctl *h = (struct dm_ioctl *)io;
	int fd, r;

	if (sizeof(*h) + len > sizeof(io))
		return errno = E2BIG, -1;
	memset(io, 0, sizeof(io));
	h->version[0] = DM_VERSION_MAJOR;
	h->data_size = sizeof(io);
	h->data_start = sizeof(*h);
	h->flags = flags;
	snprintf(h->name, sizeof(h->name), "%s", name);
	if (len)
		memcpy(io + sizeof(*h), payload, len);
	if (cmd == DM_TABLE_LOAD)
		h->target_count = 1;
	fd = open("/dev/mapper/control", O_RDWR);
	if (fd < 0)
		return -1;
	r = ioctl(fd, cmd, io);
	close(fd);
	if (out)
		*out = *h;
	return r;
}

static int dm_create(const char *name, const char *table)
{
	char spec[4096];
	struct dm_target_spec *t = (struct dm_target_spec *)spec;
	unsigned long long start, len;
	char target[DM_MAX_TYPE_NAME];
	int used = 0;
	struct dm_ioctl h;

	memset(spec, 0, sizeof(spec));
	if (sscanf(table, "%llu %llu %15s %n", &start, &len, target, &used) < 3 ||
	    !used) {
		fprintf(stderr, "vmtool: bad table '%s'\n", table);
		return 2;
	}
	t->sector_start = start;
	t->length = len;
	snprintf(t->target_type, sizeof(t->target_type), "%s", target);
	snprintf(spec + sizeof(*t), sizeof(spec) - sizeof(*t), "%s",
		 table + used);
	t->next = 0;
	if (dm_ioctl(DM_DEV_CREATE, name, 0, NULL, 0, NULL) < 0) {
		perror("vmtool: DM_DEV_CREATE");
		return 1;
	}
	if (dm_ioctl(DM_TABLE_LOAD, name, 0, spec,
		     sizeof(*t) + strlen(spec + sizeof(*t)) + 1, NULL) < 0) {
		perror("vmtool: DM_TABLE_LOAD");
		dm_ioctl(DM_DEV_REMOVE, name, 0, NULL, 0, NULL);
		return 1;
	}
	if (dm_ioctl(DM_DEV_SUSPEND, name, 0, NULL, 0, &h) < 0) {
		perror("vmtool: DM_DEV_SUSPEND (resume)");
		dm_ioctl(DM_DEV_REMOVE, name, 0, NULL, 0, NULL);
		return 1;
	}
	printf("%u:%u\n", (unsigned int)((h.dev >> 8) & 0xfff),
	       (unsigned int)((h.dev & 0xff) | ((h.dev >> 12) & 0xfff00)));
	return 0;
}

static int dm_message(const char *name, const char *msg)
{
	char m[1024];
	struct dm_target_msg *t = (struct dm_target_msg *)m;

	memset(m, 0, sizeof(m));
	t->sector = 0;
	snprintf(t->message, sizeof(m) - sizeof(*t), "%s", msg);
	if (dm_ioctl(DM_TARGET_MSG, name, 0, m,
		     sizeof(*t) + strlen(t->message) + 1, NULL) < 0) {
		perror("vmtool: DM_TARGET_MSG");
		return 1;
	}
	return 0;
}

/* FNV-1a 64 of `len` bytes. */
static uint64_t fnv(const unsigned char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (len--)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}

static uint64_t rnd_state;

static uint32_t rnd(void)
{
	rnd_state = rnd_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(rnd_state >> 33);
}

#define CW_NAMES 12
#define CW_MAX (96 * 1024)

/*
 * What the workload knows of each name: exists, its bytes (the page cache's
 * view), and whether those bytes are durable (fsync'd since the last change).
 */
static struct {
	int exists, durable;
	size_t size;
	unsigned char *data;
} cw[CW_NAMES];
static const char *cw_dir, *cw_dm;

static void cw_path(int i, char *out, size_t n)
{
	snprintf(out, n, "%s/%sf%d", cw_dir, i % 3 == 2 ? "d/" : "", i);
}

static void cw_rel(int i, char *out, size_t n)
{
	snprintf(out, n, "%sf%d", i % 3 == 2 ? "d/" : "", i);
}

static void cw_mark(const char *what, int i)
{
	char rel[64], msg[256];

	cw_rel(i, rel, sizeof(rel));
	cw[i].durable = !strcmp(what, "sync");
	if (!strcmp(what, "sync"))
		snprintf(msg, sizeof(msg), "mark sync:%s:%zu:%016llx", rel,
			 cw[i].size,
			 (unsigned long long)fnv(cw[i].data, cw[i].size));
	else
		snprintf(msg, sizeof(msg), "mark %s:%s", what, rel);
	if (dm_message(cw_dm, msg))
		exit(1);
}

static void cw_fsync_dir(int i)
{
	char p[600];
	int fd;

	snprintf(p, sizeof(p), "%s%s", cw_dir, i % 3 == 2 ? "/d" : "");
	fd = note(open(p, O_RDONLY | O_DIRECTORY));
	if (fd >= 0) {
		note(fsync(fd));
		close(fd);
	}
}

/* Writes `len` bytes at `at` into name i (through the page cache), keeping cw[i]. */
static int cw_write(int i, size_t at, size_t len, int trunc, int do_fsync)
{
	char p[600];
	int fd;

	if (at + len > CW_MAX)
		len = CW_MAX - at;
	cw_path(i, p, sizeof(p));
	fd = note(open(p, O_WRONLY | O_CREAT | (trunc ? O_TRUNC : 0), 0644));
	if (fd < 0)
		return -1;
	if (trunc)
		cw[i].size = 0;
	for (size_t k = 0; k < len; k++)
		cw[i].data[at + k] = (unsigned char)rnd();
	if (at > cw[i].size)
		memset(cw[i].data + cw[i].size, 0, at - cw[i].size);
	if (note(pwrite(fd, cw[i].data + at, len, at)) != (long)len) {
		close(fd);
		return -1;
	}
	if (at + len > cw[i].size)
		cw[i].size = at + len;
	cw[i].exists = 1;
	if (do_fsync && note(fsync(fd)) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int crash_work(int ops)
{
	char p[600], q[600];

	snprintf(p, sizeof(p), "%s/d", cw_dir);
	note(mkdir(p, 0755));
	sync();
	for (int i = 0; i < CW_NAMES; i++)
		cw[i].data = calloc(1, CW_MAX);
	for (int n = 0; n < ops; n++) {
		int i = rnd() % CW_NAMES, j = rnd() % CW_NAMES, op = rnd() % 8;

		n_entries++;
		if (op <= 2 || !cw[i].exists) {
			/* (re)write and make durable */
			/* a claim of "gone" ends here too */
			cw_mark("dirty", i);
			if (cw_write(i, 0, 1 + rnd() % 40000, 1, 1) == 0) {
				cw_fsync_dir(i);
				cw_mark("sync", i);
			}
		} else if (op == 3) {
			/* append, durable */
			cw_mark("dirty", i);
			if (cw_write(i, cw[i].size, 1 + rnd() % 9000, 0, 1) == 0)
				cw_mark("sync", i);
		} else if (op == 4) {
			/* overwrite in place without fsync: no longer known until synced again */
			cw_mark("dirty", i);
			cw_write(i, rnd() % (cw[i].size + 1), 1 + rnd() % 5000, 0, 0);
		} else if (op == 5 && i != j) {
			/*
			 * rename over another name, both directories fsync'd:
			 * the name is durable, the bytes only if they were
			 * (an overwrite without fsync may still be in flight)
			 */
			int was_durable = cw[i].durable;

			cw_mark("dirty", i);
			cw_mark("dirty", j);
			cw_path(i, p, sizeof(p));
			cw_path(j, q, sizeof(q));
			if (note(rename(p, q)) == 0) {
				unsigned char *t = cw[j].data;

				cw[j] = cw[i];
				cw[i].data = t;
				cw[i].exists = 0;
				cw[i].size = 0;
				cw_fsync_dir(i);
				cw_fsync_dir(j);
				if (was_durable)
					cw_mark("sync", j);
				cw_mark("gone", i);
			}
		} else if (op == 6) {
			cw_mark("dirty", i);
			cw_path(i, p, sizeof(p));
			if (note(unlink(p)) == 0) {
				cw[i].exists = 0;
				cw[i].size = 0;
				cw_fsync_dir(i);
				cw_mark("gone", i);
			}
		} else {
			/* truncate, durable */
			size_t to = rnd() % (cw[i].size + 1);
			int fd;

			cw_mark("dirty", i);
			cw_path(i, p, sizeof(p));
			fd = note(open(p, O_WRONLY));
			if (fd >= 0) {
				if (note(ftruncate(fd, to)) == 0 &&
				    note(fsync(fd)) == 0) {
					cw[i].size = to;
					cw_mark("sync", i);
				}
				close(fd);
			}
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "dm-create"))
		return dm_create(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "dm-message"))
		return dm_message(argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[1], "dm-remove")) {
		if (dm_ioctl(DM_DEV_REMOVE, argv[2], 0, NULL, 0, NULL) < 0) {
			perror("vmtool: DM_DEV_REMOVE");
			return 1;
		}
		return 0;
	}
	if (argc == 6 && !strcmp(argv[1], "crash-work")) {
		cw_dir = argv[2];
		cw_dm = argv[3];
		rnd_state = strtoull(argv[4], NULL, 0) * 2654435761ULL + 1;
		crash_work(atoi(argv[5]));
		summary("crash-work");
		return 0;
	}
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
	fprintf(stderr, "usage: vmtool walk DIR | write DIR | dm-create NAME TABLE | dm-message NAME MSG | "
		"dm-remove NAME | crash-work DIR DMNAME SEED OPS\n");
	return 2;
}
