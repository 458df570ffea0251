/*
 * vexfs_vectool: runs vector ioctls (kernel/vexfs_ioctl.h) on a mounted
 * VexFS for the kernel module's tests (src/kernel/module_vec_test.ts,
 * module_vec_write_test.ts). Built static on the host (gcc -static) and put
 * into the VM's initramfs.
 *
 * Reads commands from stdin, one per line, and prints one result line per
 * command, starting with "VT ", with the errno (0 on success) and the
 * results; scores and vector elements as f32 bit patterns in hex, so that
 * the test compares them exactly or within a tolerance as it chooses:
 *
 *   search DIR K EXCLUDE DIM V...      VT S errno count coll gen metric elem ino:bits...
 *   search2 DIR K EF FLAGS DIM V...    VT S2 errno count method reason ef_used ino:bits...
 *   get FILE                           VT G errno dim coll metric elem fnv64
 *   getv FILE                          VT GV errno dim bits...
 *   set FILE DIM V...                  VT SET errno
 *   del FILE                           VT DEL errno
 *   create DIR DIM METRIC ELEM INDEX   VT C errno id
 *   info PATH                          VT I errno id dim root metric elem esize m efc count bytes gen index
 *   list PATH START                    VT L errno count next total id...
 *   path DIR INO                       VT P errno len path
 *   fsinfo PATH                        VT F errno major bs collections ioc_max_dim ioc_max_k rdonly
 *   errs DIR FILE                      VT E name errno   (one line per case)
 *   xget FILE SIZE                     VT X errno len fnv64   (getxattr user.vexfs.vector)
 *   xlist FILE                         VT XL errno listed(0/1)
 *   xset FILE FLAGS HEX                VT XS errno   (setxattr user.vexfs.vector)
 *   xdel FILE                          VT XD errno   (removexattr)
 *   rename FROM TO                     VT R errno   (rename(2))
 *   drop DIR [BAD]                     VT D errno id vectors root_ino  (BAD: a
 *                                      non-zero input byte)
 *
 * V... are decimal floats (strtof: the test prints f32 values exactly).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "vexfs_ioctl.h"

static union {
	struct vexfs_ioc_search s;
	struct vexfs_ioc_search2 s2;
	struct vexfs_ioc_vector v;
	struct vexfs_ioc_ino_path p;
	struct vexfs_ioc_list_collections l;
	struct vexfs_ioc_collection_info ci;
	struct vexfs_ioc_create_collection cc;
	struct vexfs_ioc_fs_info fi;
	struct vexfs_ioc_del_vector dv;
	struct vexfs_ioc_stats st;
	struct vexfs_ioc_set_vectors sv;
	struct vexfs_ioc_index ix;
	struct vexfs_ioc_drop_collection dc;
	unsigned char raw[16384];
} u;

static char line[1 << 20];

static void hdr(void *p, size_t size, unsigned int version)
{
	struct vexfs_ioc_hdr *h = p;

	memset(p, 0, size);
	h->magic = VEXFS_IOC_MAGIC;
	h->version = (__u16)version;
	h->size = (__u16)size;
}

static uint32_t bits(float f)
{
	uint32_t b;

	memcpy(&b, &f, 4);
	return b;
}

/* ioctl on a fresh descriptor of path; returns 0 or errno. */
static int call(const char *path, unsigned long cmd, void *arg)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r, e;

	if (fd < 0)
		return errno;
	r = ioctl(fd, cmd, arg);
	e = r < 0 ? errno : 0;
	close(fd);
	return e;
}

static unsigned int floats(char **save, float *out, unsigned int n)
{
	unsigned int i;
	char *t;

	for (i = 0; i < n && (t = strtok_r(NULL, " \n", save)); i++)
		out[i] = strtof(t, NULL);
	return i;
}

static char *tok(char **save)
{
	char *t = strtok_r(NULL, " \n", save);

	return t ? t : "";
}

static void print_hits(const struct vexfs_ioc_search_hit *h, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		printf(" %llu:%08x", (unsigned long long)h[i].ino, bits(h[i].score));
}

/* errno of an ioctl whose structure is prepared by f(), on path. */
#define CASE(name, path, cmd, prep) do {				\
		prep;							\
		printf("VT E %s %d\n", name, call(path, cmd, &u));	\
	} while (0)

static void errs(const char *dir, const char *file)
{
	unsigned long bad;

	/* header */
	CASE("bad-magic", file, VEXFS_IOC_GET_VECTOR,
	     (hdr(&u.v, sizeof(u.v), 1), u.v.hdr.magic = 1));
	CASE("bad-version", file, VEXFS_IOC_GET_VECTOR,
	     (hdr(&u.v, sizeof(u.v), 2)));
	CASE("bad-size-field", file, VEXFS_IOC_GET_VECTOR,
	     (hdr(&u.v, sizeof(u.v), 1), u.v.hdr.size = 16));
	CASE("hdr-flags", file, VEXFS_IOC_GET_VECTOR,
	     (hdr(&u.v, sizeof(u.v), 1), u.v.hdr.flags = 1));
	CASE("hdr-reserved", file, VEXFS_IOC_GET_VECTOR,
	     (hdr(&u.v, sizeof(u.v), 1), u.v.hdr.reserved = 1));
	/* a known number with another size, an unknown number */
	bad = _IOC(_IOC_READ | _IOC_WRITE, VEXFS_IOC_TYPE, 0x03, 100);
	CASE("wrong-size-cmd", file, bad, hdr(&u.v, sizeof(u.v), 1));
	bad = _IOC(_IOC_READ | _IOC_WRITE, VEXFS_IOC_TYPE, 0x30, 16);
	CASE("unknown-nr", file, bad, hdr(&u.v, 16, 1));
	bad = _IOC(_IOC_READ, 'f', 0x30, 8);
	CASE("other-type", file, bad, hdr(&u.v, 16, 1));
	/* descriptor types */
	CASE("get-on-dir", dir, VEXFS_IOC_GET_VECTOR, hdr(&u.v, sizeof(u.v), 1));
	CASE("search-on-file", file, VEXFS_IOC_SEARCH,
	     (hdr(&u.s, sizeof(u.s), 1), u.s.k = 1, u.s.dim = 1));
	CASE("path-on-file", file, VEXFS_IOC_INO_PATH,
	     (hdr(&u.p, sizeof(u.p), 1), u.p.ino = 2));
	/* fields */
	CASE("get-nonzero-dim", file, VEXFS_IOC_GET_VECTOR,
	     (hdr(&u.v, sizeof(u.v), 1), u.v.dim = 3));
	CASE("get-nonzero-data", file, VEXFS_IOC_GET_VECTOR,
	     (hdr(&u.v, sizeof(u.v), 1), u.v.data[2047] = 1));
	CASE("search-k0", dir, VEXFS_IOC_SEARCH,
	     (hdr(&u.s, sizeof(u.s), 1), u.s.k = 0, u.s.dim = 4));
	CASE("search-k257", dir, VEXFS_IOC_SEARCH,
	     (hdr(&u.s, sizeof(u.s), 1), u.s.k = 257, u.s.dim = 4));
	CASE("search-dim0", dir, VEXFS_IOC_SEARCH,
	     (hdr(&u.s, sizeof(u.s), 1), u.s.k = 1, u.s.dim = 0));
	CASE("search-dim2049", dir, VEXFS_IOC_SEARCH,
	     (hdr(&u.s, sizeof(u.s), 1), u.s.k = 1, u.s.dim = 2049));
	CASE("search-dim-mismatch", dir, VEXFS_IOC_SEARCH,
	     (hdr(&u.s, sizeof(u.s), 1), u.s.k = 1, u.s.dim = 3));
	CASE("search-nan", dir, VEXFS_IOC_SEARCH,
	     (hdr(&u.s, sizeof(u.s), 1), u.s.k = 1, u.s.dim = 1,
	      u.s.query[0] = __builtin_nanf("")));
	CASE("search-query-past-dim", dir, VEXFS_IOC_SEARCH,
	     (hdr(&u.s, sizeof(u.s), 1), u.s.k = 1, u.s.dim = 1,
	      u.s.query[5] = 1));
	CASE("search-output-set", dir, VEXFS_IOC_SEARCH,
	     (hdr(&u.s, sizeof(u.s), 1), u.s.k = 1, u.s.dim = 1,
	      u.s.count = 1));
	CASE("search-hits-set", dir, VEXFS_IOC_SEARCH,
	     (hdr(&u.s, sizeof(u.s), 1), u.s.k = 1, u.s.dim = 1,
	      u.s.hits[255].reserved = 1));
	CASE("search2-v1", dir, VEXFS_IOC_SEARCH2,
	     (hdr(&u.s2, sizeof(u.s2), 1), u.s2.k = 1, u.s2.dim = 1));
	CASE("search2-ef-big", dir, VEXFS_IOC_SEARCH2,
	     (hdr(&u.s2, sizeof(u.s2), 2), u.s2.k = 1, u.s2.dim = 1,
	      u.s2.ef = 65536));
	CASE("search2-exact-ef", dir, VEXFS_IOC_SEARCH2,
	     (hdr(&u.s2, sizeof(u.s2), 2), u.s2.k = 1, u.s2.dim = 1,
	      u.s2.ef = 5, u.s2.flags = VEXFS_IOC_SEARCH2_EXACT));
	CASE("search2-flags", dir, VEXFS_IOC_SEARCH2,
	     (hdr(&u.s2, sizeof(u.s2), 2), u.s2.k = 1, u.s2.dim = 1,
	      u.s2.flags = 2));
	CASE("search-root-not-in-collection", "/mnt", VEXFS_IOC_SEARCH,
	     (hdr(&u.s, sizeof(u.s), 1), u.s.k = 1, u.s.dim = 1));
	CASE("info-root-enodata", "/mnt", VEXFS_IOC_COLLECTION_INFO,
	     hdr(&u.ci, sizeof(u.ci), 1));
	CASE("info-nonzero", dir, VEXFS_IOC_COLLECTION_INFO,
	     (hdr(&u.ci, sizeof(u.ci), 1), u.ci.info.id = 1));
	CASE("list-nonzero", dir, VEXFS_IOC_LIST_COLLECTIONS,
	     (hdr(&u.l, sizeof(u.l), 1), u.l.total = 1));
	CASE("path-nonzero", dir, VEXFS_IOC_INO_PATH,
	     (hdr(&u.p, sizeof(u.p), 1), u.p.ino = 2, u.p.path[4095] = 'x'));
	CASE("path-ino1", dir, VEXFS_IOC_INO_PATH,
	     (hdr(&u.p, sizeof(u.p), 1), u.p.ino = 1));
	CASE("path-ino3", dir, VEXFS_IOC_INO_PATH,
	     (hdr(&u.p, sizeof(u.p), 1), u.p.ino = 3));
	CASE("path-huge", dir, VEXFS_IOC_INO_PATH,
	     (hdr(&u.p, sizeof(u.p), 1), u.p.ino = ~0ULL));
	CASE("path-root-from-dir", dir, VEXFS_IOC_INO_PATH,
	     (hdr(&u.p, sizeof(u.p), 1), u.p.ino = 2));
	/* what the kernel does not serve */
	CASE("stats", dir, VEXFS_IOC_STATS, (void)0);
	CASE("index", dir, VEXFS_IOC_INDEX,
	     (hdr(&u.ix, sizeof(u.ix), 1), u.ix.op = VEXFS_INDEX_OP_STATS));
	CASE("drop", dir, VEXFS_IOC_DROP_COLLECTION, hdr(&u.dc, sizeof(u.dc), 1));
	CASE("set-vectors", dir, VEXFS_IOC_SET_VECTORS,
	     (hdr(&u.sv, sizeof(u.sv), 1), u.sv.dim = 1, u.sv.count = 1));
	/* a bad pointer */
	{
		int fd = open(dir, O_RDONLY);

		printf("VT E efault %d\n",
		       ioctl(fd, VEXFS_IOC_SEARCH, (void *)16) < 0 ? errno : 0);
		close(fd);
	}
}

int main(void)
{
	static float vals[VEXFS_MAX_DIM];

	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		char *save = NULL, *cmd = strtok_r(line, " \n", &save);
		int e;

		if (!cmd)
			continue;
		if (!strcmp(cmd, "search")) {
			const char *dir = tok(&save);
			unsigned int k = strtoul(tok(&save), NULL, 10);
			unsigned long long ex = strtoull(tok(&save), NULL, 10);
			unsigned int dim = strtoul(tok(&save), NULL, 10), i;

			hdr(&u.s, sizeof(u.s), 1);
			u.s.k = k;
			u.s.dim = dim;
			u.s.exclude_ino = ex;
			floats(&save, vals, dim > 2048 ? 2048 : dim);
			for (i = 0; i < dim && i < 2048; i++)
				u.s.query[i] = vals[i];
			e = call(dir, VEXFS_IOC_SEARCH, &u.s);
			printf("VT S %d %u %u %llu %u %u", e, u.s.count,
			       u.s.collection_id,
			       (unsigned long long)u.s.generation, u.s.metric,
			       u.s.elem_type);
			if (!e)
				print_hits(u.s.hits, u.s.count);
			printf("\n");
		} else if (!strcmp(cmd, "search2")) {
			const char *dir = tok(&save);
			unsigned int k = strtoul(tok(&save), NULL, 10);
			unsigned int ef = strtoul(tok(&save), NULL, 10);
			unsigned int fl = strtoul(tok(&save), NULL, 10);
			unsigned int dim = strtoul(tok(&save), NULL, 10), i;

			hdr(&u.s2, sizeof(u.s2), 2);
			u.s2.k = k;
			u.s2.dim = dim;
			u.s2.ef = ef;
			u.s2.flags = fl;
			floats(&save, vals, dim > 2048 ? 2048 : dim);
			for (i = 0; i < dim && i < 2048; i++)
				u.s2.query[i] = vals[i];
			e = call(dir, VEXFS_IOC_SEARCH2, &u.s2);
			printf("VT S2 %d %u %u %u %u", e, u.s2.count,
			       u.s2.method, u.s2.exact_reason, u.s2.ef_used);
			if (!e)
				print_hits(u.s2.hits, u.s2.count);
			printf("\n");
		} else if (!strcmp(cmd, "get") || !strcmp(cmd, "getv")) {
			const char *f = tok(&save);
			uint64_t h = 0xcbf29ce484222325ULL;
			unsigned int i;

			hdr(&u.v, sizeof(u.v), 1);
			e = call(f, VEXFS_IOC_GET_VECTOR, &u.v);
			for (i = 0; i < 4 * u.v.dim && i < sizeof(u.v.data); i++) {
				h ^= ((unsigned char *)u.v.data)[i];
				h *= 1099511628211ULL;
			}
			if (cmd[3] == 'v') {
				printf("VT GV %d %u", e, u.v.dim);
				for (i = 0; !e && i < u.v.dim; i++)
					printf(" %08x", bits(u.v.data[i]));
				printf("\n");
			} else {
				printf("VT G %d %u %u %u %u %016llx\n", e, u.v.dim,
				       u.v.collection_id, u.v.metric,
				       u.v.elem_type, (unsigned long long)h);
			}
		} else if (!strcmp(cmd, "set")) {
			const char *f = tok(&save);
			unsigned int dim = strtoul(tok(&save), NULL, 10), i;

			hdr(&u.v, sizeof(u.v), 1);
			u.v.dim = dim;
			floats(&save, vals, dim > 2048 ? 2048 : dim);
			for (i = 0; i < dim && i < 2048; i++)
				u.v.data[i] = vals[i];
			printf("VT SET %d\n", call(f, VEXFS_IOC_SET_VECTOR, &u.v));
		} else if (!strcmp(cmd, "del")) {
			const char *f = tok(&save);

			hdr(&u.dv, sizeof(u.dv), 1);
			printf("VT DEL %d\n", call(f, VEXFS_IOC_DEL_VECTOR, &u.dv));
		} else if (!strcmp(cmd, "create")) {
			const char *d = tok(&save);

			hdr(&u.cc, sizeof(u.cc), 1);
			u.cc.dim = strtoul(tok(&save), NULL, 10);
			u.cc.metric = (__u8)strtoul(tok(&save), NULL, 10);
			u.cc.elem_type = (__u8)strtoul(tok(&save), NULL, 10);
			u.cc.index = (__u8)strtoul(tok(&save), NULL, 10);
			e = call(d, VEXFS_IOC_CREATE_COLLECTION, &u.cc);
			printf("VT C %d %u\n", e, e ? 0 : u.cc.info.id);
		} else if (!strcmp(cmd, "rename")) {
			const char *from = tok(&save);

			e = rename(from, tok(&save)) ? errno : 0;
			printf("VT R %d\n", e);
		} else if (!strcmp(cmd, "drop")) {
			const char *d = tok(&save);

			hdr(&u.dc, sizeof(u.dc), 1);
			if (*tok(&save))
				u.dc.reserved1 = 1;
			e = call(d, VEXFS_IOC_DROP_COLLECTION, &u.dc);
			printf("VT D %d %u %llu %llu\n", e, u.dc.collection_id,
			       (unsigned long long)u.dc.vectors,
			       (unsigned long long)u.dc.root_ino);
		} else if (!strcmp(cmd, "info")) {
			const struct vexfs_ioc_collection *c = &u.ci.info;

			hdr(&u.ci, sizeof(u.ci), 1);
			e = call(tok(&save), VEXFS_IOC_COLLECTION_INFO, &u.ci);
			printf("VT I %d %u %u %llu %u %u %u %u %u %llu %llu %llu %u\n",
			       e, c->id, c->dim, (unsigned long long)c->root_ino,
			       c->metric, c->elem_type, c->elem_size, c->hnsw_m,
			       c->hnsw_ef_c, (unsigned long long)c->count,
			       (unsigned long long)c->bytes,
			       (unsigned long long)c->generation, c->index);
		} else if (!strcmp(cmd, "list")) {
			const char *p = tok(&save);
			unsigned int i;

			hdr(&u.l, sizeof(u.l), 1);
			u.l.start_id = strtoul(tok(&save), NULL, 10);
			e = call(p, VEXFS_IOC_LIST_COLLECTIONS, &u.l);
			printf("VT L %d %u %u %u", e, u.l.count, u.l.next_id,
			       u.l.total);
			for (i = 0; !e && i < u.l.count; i++)
				printf(" %u:%llu", u.l.entries[i].id,
				       (unsigned long long)u.l.entries[i].count);
			printf("\n");
		} else if (!strcmp(cmd, "path")) {
			const char *d = tok(&save);

			hdr(&u.p, sizeof(u.p), 1);
			u.p.ino = strtoull(tok(&save), NULL, 10);
			e = call(d, VEXFS_IOC_INO_PATH, &u.p);
			printf("VT P %d %u %s\n", e, u.p.len, e ? "-" : u.p.path);
		} else if (!strcmp(cmd, "fsinfo")) {
			e = call(tok(&save), VEXFS_IOC_FS_INFO, &u.fi);
			printf("VT F %d %u %u %u %u %u %u\n", e, u.fi.format_major,
			       u.fi.block_size, u.fi.collection_count,
			       u.fi.ioc_max_dim, u.fi.ioc_max_k, u.fi.fs_flags);
		} else if (!strcmp(cmd, "xget")) {
			const char *f = tok(&save);
			size_t size = strtoul(tok(&save), NULL, 10);
			uint64_t h = 0xcbf29ce484222325ULL;
			ssize_t n, i;

			n = getxattr(f, "user.vexfs.vector", u.raw,
				     size > sizeof(u.raw) ? sizeof(u.raw) : size);
			e = n < 0 ? errno : 0;
			for (i = 0; i < n && size; i++) {
				h ^= u.raw[i];
				h *= 1099511628211ULL;
			}
			printf("VT X %d %zd %016llx\n", e, n < 0 ? 0 : n,
			       (unsigned long long)h);
		} else if (!strcmp(cmd, "xset")) {
			const char *f = tok(&save);
			int fl = (int)strtol(tok(&save), NULL, 10);
			const char *hex = tok(&save);
			size_t n = strlen(hex) / 2, i;

			for (i = 0; i < n && i < sizeof(u.raw); i++)
				sscanf(hex + 2 * i, "%2hhx", &u.raw[i]);
			e = setxattr(f, "user.vexfs.vector", u.raw, i, fl) < 0 ?
			    errno : 0;
			printf("VT XS %d\n", e);
		} else if (!strcmp(cmd, "xdel")) {
			e = removexattr(tok(&save), "user.vexfs.vector") < 0 ?
			    errno : 0;
			printf("VT XD %d\n", e);
		} else if (!strcmp(cmd, "xlist")) {
			const char *f = tok(&save);
			ssize_t n = listxattr(f, (char *)u.raw, sizeof(u.raw)), i;
			int has = 0;

			e = n < 0 ? errno : 0;
			for (i = 0; i < n; i += strlen((char *)u.raw + i) + 1)
				if (!strcmp((char *)u.raw + i, "user.vexfs.vector"))
					has = 1;
			printf("VT XL %d %d\n", e, has);
		} else if (!strcmp(cmd, "errs")) {
			const char *d = tok(&save);

			errs(d, tok(&save));
		} else {
			printf("VT ? %s\n", cmd);
		}
	}
	return 0;
}
