// SPDX-License-Identifier: GPL-2.0
/*
 * vxt - the system calls busybox lacks, for the kernel module's tests in the
 * QEMU VM (src/kernel/module_ns_test.ts, module_mount_cases_test.ts); built
 * with gcc -static on the host and put into the initramfs.
 *
 * Each command prints one line: its result, or the errno name of the
 * failure (e.g. "ENODATA"), and exits 0 either way, so a shell script
 * compares the line with what ext4 answers. Values are given and printed
 * in hex ("-" for empty).
 *
 *   vxt get PATH NAME [SIZE]      value in hex (SIZE: buffer size to pass)
 *   vxt list PATH [SIZE]          names, sorted, space-separated
 *   vxt set PATH NAME HEX [create|replace]
 *   vxt setlen PATH NAME LEN [create|replace]   a value of LEN bytes 'v'
 *   vxt rm PATH NAME
 *   vxt lget PATH NAME / lset / lrm   the same without following symlinks
 *   vxt rename2 OLD NEW noreplace|exchange|whiteout
 *   vxt tmpfile DIR [MODE] [LINKNAME]   O_TMPFILE, write "tmp", link it
 *   vxt mkdir PATH MODE / vxt open PATH FLAGS MODE / vxt errno-of CMD...
 *   vxt stat PATH                 "mode nlink uid gid size" (lstat)
 *   vxt times PATH                "atime mtime ctime" with nanoseconds
 *   vxt utimens PATH ASEC ANSEC MSEC MNSEC
 *   vxt create-many DIR N PREFIX  creates N empty files DIR/PREFIX-i
 *   vxt unlink-many DIR N PREFIX  removes them
 *   vxt link OLD NEW / symlink TARGET PATH / unlink PATH / rmdir PATH
 *   vxt mknod PATH MODE MAJOR MINOR   (MODE in octal, with the type bits)
 *   vxt readlink PATH
 *   vxt runas UID GID CMD ARGS... runs CMD as that user (no supplementary
 *                                 groups, no capabilities)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <grp.h>
#include <linux/fs.h>

static int fail(void)
{
	const char *n = strerrorname_np(errno);

	printf("%s\n", n ? n : "E?");
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static size_t unhex(const char *s, unsigned char *out)
{
	size_t n = 0;

	if (!strcmp(s, "-"))
		return 0;
	while (s[0] && s[1]) {
		out[n++] = hexval(s[0]) << 4 | hexval(s[1]);
		s += 2;
	}
	return n;
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int flagsof(const char *s)
{
	if (!s)
		return 0;
	if (!strcmp(s, "create"))
		return XATTR_CREATE;
	if (!strcmp(s, "replace"))
		return XATTR_REPLACE;
	return atoi(s);
}

static unsigned char buf[1 << 17], val[1 << 17];

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	int l = cmd[0] == 'l' && strcmp(cmd, "list") && strcmp(cmd, "link");
	const char *op = l ? cmd + 1 : cmd;
	ssize_t n;
	int i;

	if (!strcmp(cmd, "runas") && argc > 4) {
		gid_t g = strtoul(argv[3], NULL, 0);

		if (setgroups(0, NULL) || setresgid(g, g, g) ||
		    setresuid(strtoul(argv[2], NULL, 0),
			      strtoul(argv[2], NULL, 0),
			      strtoul(argv[2], NULL, 0)))
			return fail();
		execvp(argv[4], argv + 4);
		return fail();
	}
	if (argc < 3) {
		fprintf(stderr, "usage: see vxt.c\n");
		return 2;
	}
	if (!strcmp(op, "get")) {
		size_t size = argc > 4 ? strtoul(argv[4], NULL, 0) : sizeof(buf);

		n = l ? lgetxattr(argv[2], argv[3], size ? buf : NULL, size) :
			getxattr(argv[2], argv[3], size ? buf : NULL, size);
		if (n < 0)
			return fail();
		if (!size) {
			printf("%zd\n", n);
			return 0;
		}
		if (n == 0)
			printf("-");
		for (i = 0; i < n; i++)
			printf("%02x", buf[i]);
		printf("\n");
	} else if (!strcmp(cmd, "list")) {
		size_t size = argc > 3 ? strtoul(argv[3], NULL, 0) : sizeof(buf);
		char *names[20000];
		int k = 0;
		char *p;

		n = llistxattr(argv[2], size ? (char *)buf : NULL, size);
		if (n < 0)
			return fail();
		if (!size) {
			printf("%zd\n", n);
			return 0;
		}
		for (p = (char *)buf; p < (char *)buf + n && k < 20000;
		     p += strlen(p) + 1)
			names[k++] = p;
		qsort(names, k, sizeof(*names), cmpstr);
		for (i = 0; i < k; i++)
			printf("%s%s", i ? " " : "", names[i]);
		printf(k ? "\n" : "-\n");
	} else if (!strcmp(op, "set") || !strcmp(op, "setlen")) {
		size_t len;

		if (argc < 5)
			return 2;
		if (!strcmp(op, "set")) {
			len = unhex(argv[4], val);
		} else {
			len = strtoul(argv[4], NULL, 0);
			if (len > sizeof(val))
				len = sizeof(val);
			memset(val, 'v', len);
		}
		if ((l ? lsetxattr : setxattr)(argv[2], argv[3], val, len,
					       flagsof(argv[5])) < 0)
			return fail();
		printf("OK\n");
	} else if (!strcmp(op, "rm")) {
		if ((l ? lremovexattr : removexattr)(argv[2], argv[3]) < 0)
			return fail();
		printf("OK\n");
	} else if (!strcmp(cmd, "rename2")) {
		unsigned int flags = 0;

		if (argc < 5)
			return 2;
		if (!strcmp(argv[4], "noreplace"))
			flags = RENAME_NOREPLACE;
		else if (!strcmp(argv[4], "exchange"))
			flags = RENAME_EXCHANGE;
		else if (!strcmp(argv[4], "whiteout"))
			flags = RENAME_WHITEOUT;
		else
			flags = strtoul(argv[4], NULL, 0);
		if (syscall(SYS_renameat2, AT_FDCWD, argv[2], AT_FDCWD,
			    argv[3], flags) < 0)
			return fail();
		printf("OK\n");
	} else if (!strcmp(cmd, "tmpfile")) {
		mode_t mode = argc > 3 ? strtoul(argv[3], NULL, 8) : 0600;
		char path[64];
		int fd = open(argv[2], O_TMPFILE | O_RDWR, mode);

		if (fd < 0)
			return fail();
		if (write(fd, "tmp", 3) != 3)
			return fail();
		if (argc > 4) {
			snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
			if (linkat(AT_FDCWD, path, AT_FDCWD, argv[4],
				   AT_SYMLINK_FOLLOW) < 0)
				return fail();
		}
		close(fd);
		printf("OK\n");
	} else if (!strcmp(cmd, "link") && argc > 3) {
		if (link(argv[2], argv[3]))
			return fail();
		printf("OK\n");
	} else if (!strcmp(cmd, "symlink") && argc > 3) {
		if (symlink(argv[2], argv[3]))
			return fail();
		printf("OK\n");
	} else if (!strcmp(cmd, "unlink")) {
		if (unlink(argv[2]))
			return fail();
		printf("OK\n");
	} else if (!strcmp(cmd, "rmdir")) {
		if (rmdir(argv[2]))
			return fail();
		printf("OK\n");
	} else if (!strcmp(cmd, "mknod") && argc > 5) {
		if (mknod(argv[2], strtoul(argv[3], NULL, 8),
			  makedev(strtoul(argv[4], NULL, 0),
				  strtoul(argv[5], NULL, 0))))
			return fail();
		printf("OK\n");
	} else if (!strcmp(cmd, "readlink")) {
		n = readlink(argv[2], (char *)buf, sizeof(buf) - 1);
		if (n < 0)
			return fail();
		buf[n] = 0;
		printf("%s\n", buf);
	} else if (!strcmp(cmd, "mkdir")) {
		if (mkdir(argv[2], argc > 3 ? strtoul(argv[3], NULL, 8) : 0777))
			return fail();
		printf("OK\n");
	} else if (!strcmp(cmd, "open")) {
		int fd = open(argv[2], argc > 3 ? strtoul(argv[3], NULL, 0) : 0,
			      argc > 4 ? strtoul(argv[4], NULL, 8) : 0666);

		if (fd < 0)
			return fail();
		close(fd);
		printf("OK\n");
	} else if (!strcmp(cmd, "stat")) {
		struct stat st;

		if (lstat(argv[2], &st))
			return fail();
		printf("%o %lu %u %u %lld\n", st.st_mode, (unsigned long)st.st_nlink,
		       st.st_uid, st.st_gid, (long long)st.st_size);
	} else if (!strcmp(cmd, "times")) {
		struct stat st;

		if (lstat(argv[2], &st))
			return fail();
		printf("%lld.%09ld %lld.%09ld %lld.%09ld\n",
		       (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
		       (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
		       (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
	} else if (!strcmp(cmd, "utimens")) {
		struct timespec ts[2];

		if (argc < 7)
			return 2;
		ts[0].tv_sec = strtoll(argv[3], NULL, 0);
		ts[0].tv_nsec = strtol(argv[4], NULL, 0);
		ts[1].tv_sec = strtoll(argv[5], NULL, 0);
		ts[1].tv_nsec = strtol(argv[6], NULL, 0);
		if (utimensat(AT_FDCWD, argv[2], ts, AT_SYMLINK_NOFOLLOW))
			return fail();
		printf("OK\n");
	} else if (!strcmp(cmd, "create-many") || !strcmp(cmd, "unlink-many")) {
		long count = argc > 3 ? strtol(argv[3], NULL, 0) : 0;
		const char *prefix = argc > 4 ? argv[4] : "f";
		char path[4096];

		for (i = 0; i < count; i++) {
			snprintf(path, sizeof(path), "%s/%s-%d", argv[2], prefix, i);
			if (cmd[0] == 'c') {
				int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);

				if (fd < 0)
					return fail();
				close(fd);
			} else if (unlink(path)) {
				return fail();
			}
		}
		printf("OK\n");
	} else {
		fprintf(stderr, "vxt: unknown command %s\n", cmd);
		return 2;
	}
	return 0;
}
