/**
 * Direct and buffered I/O on one file through a real `vexfs mount` (FUSE)
 * stay coherent: a buffered read after an O_DIRECT write by another
 * descriptor sees the new bytes, even when the file's pages were cached by
 * readers before the write (files are opened with `keep_cache`).
 * @module
 */
import { assert, assertEquals } from "../test_assert.ts";
import * as P from "./_posix.ts";
import { mountTest, withMount } from "./_testutil.ts";

/** `open(2)` O_DIRECT (asm-generic/fcntl.h; arm64 has its own value). */
const O_DIRECT = Deno.build.arch === "aarch64" ? 0o200000 : 0o40000;
const BLOCK = 4096;

function fill(byte: number, len = BLOCK * 4): Uint8Array<ArrayBuffer> {
  return new Uint8Array(len).fill(byte);
}

Deno.test({
  name: "direct I/O: a buffered read after an O_DIRECT write sees the new bytes, with readers holding the file open",
  ...mountTest,
  fn: () =>
    withMount({ size: 64 << 20 }, (mnt) => {
      const f = `${mnt}/data`;
      const fd0 = P.open(f, P.O_CREAT | P.O_WRONLY, 0o644);
      P.pwrite(fd0, fill(0x61), 0);
      P.close(fd0);
      const bad: string[] = [];
      for (let round = 0; round < 20; round++) {
        const old = 0x61 + round, next = 0x62 + round;
        // readers opened before the write, their pages cached
        const readers = [P.open(f, P.O_RDONLY), P.open(f, P.O_RDONLY)];
        for (const r of readers) {
          const got = P.pread(r, BLOCK * 4, 0);
          if (got[0] !== old || got[BLOCK * 4 - 1] !== old) {
            bad.push(`round ${round}: before the write, read ${got[0]}`);
          }
        }
        const w = P.open(f, P.O_WRONLY | O_DIRECT);
        P.pwrite(w, fill(next, BLOCK * 2), BLOCK); // the middle two blocks
        // another reader reads buffered while the direct descriptor is open
        const mid = P.pread(readers[1], BLOCK * 4, 0);
        P.close(w);
        const want = [old, next, next, old];
        for (
          const [who, got] of [
            ["reader open before", P.pread(readers[0], BLOCK * 4, 0)],
            ["reader during", mid],
            [
              "new reader",
              (() => {
                const r = P.open(f, P.O_RDONLY);
                try {
                  return P.pread(r, BLOCK * 4, 0);
                } finally {
                  P.close(r);
                }
              })(),
            ],
          ] as const
        ) {
          const blocks = [0, 1, 2, 3].map((i) => got[i * BLOCK]);
          if (blocks.join() !== want.join()) bad.push(`round ${round}, ${who}: blocks ${blocks} want ${want}`);
        }
        for (const r of readers) P.close(r);
        // the whole file to the new bytes for the next round
        const w2 = P.open(f, P.O_WRONLY | O_DIRECT);
        P.pwrite(w2, fill(next), 0);
        P.close(w2);
      }
      assertEquals(bad, []);
    }),
});

/**
 * `dio FILE ROUNDS READERS`: READERS threads read FILE buffered in a loop
 * while the main thread, ROUNDS times, writes 16 KiB (page-aligned, or at an
 * odd offset and length on odd rounds) through a new O_DIRECT descriptor and
 * then reads the range back buffered through a descriptor open all along and
 * through a new one. Prints the number of stale reads; exits 1 if any.
 */
const DIO_C = `#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *path;
static volatile int stop;

static void *reader(void *arg)
{
	char b[65536];
	int fd = open(path, O_RDONLY);

	(void)arg;
	while (!stop)
		if (pread(fd, b, sizeof b, 0) < 0)
			break;
	close(fd);
	return NULL;
}

static int check(int fd, off_t off, size_t len, char c)
{
	static char b[65536];
	size_t i;

	if (pread(fd, b, len, off) != (ssize_t)len)
		return 1;
	for (i = 0; i < len; i++)
		if (b[i] != c)
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	int rounds = atoi(argv[2]), nr = atoi(argv[3]), r, i, bad = 0;
	int held = open(argv[1], O_RDONLY);
	pthread_t t[8];
	char *buf;

	path = argv[1];
	if (argc != 4 || nr > 8)
		return fputs("usage: dio FILE ROUNDS READERS(<=8)\\n", stderr), 2;
	if (held < 0 || posix_memalign((void **)&buf, 4096, 65536))
		return perror(path), 2;
	for (i = 0; i < nr; i++)
		pthread_create(&t[i], NULL, reader, NULL);
	for (r = 0; r < rounds; r++) {
		off_t off = r % 2 ? 4096 + 17 : 4096;
		size_t len = r % 2 ? 16384 - 33 : 16384;
		char c = (char)('a' + r % 26);
		int w = open(path, O_WRONLY | O_DIRECT), fresh;

		memset(buf, c, len);
		if (w < 0 || pwrite(w, buf, len, off) != (ssize_t)len)
			return perror("O_DIRECT pwrite"), 2;
		close(w);
		bad += check(held, off, len, c);
		fresh = open(path, O_RDONLY);
		bad += check(fresh, off, len, c);
		close(fresh);
	}
	stop = 1;
	for (i = 0; i < nr; i++)
		pthread_join(t[i], NULL);
	printf("%d\\n", bad);
	return bad != 0;
}
`;

Deno.test({
  name: "direct I/O: O_DIRECT writes with reader threads running, then buffered reads see the new bytes (C helper)",
  ...mountTest,
  fn: async () => {
    const tmp = Deno.makeTempDirSync({ prefix: "vexfs-dio-" });
    try {
      Deno.writeTextFileSync(`${tmp}/dio.c`, DIO_C);
      let o: Deno.CommandOutput;
      try {
        o = new Deno.Command("gcc", {
          args: ["-O2", "-Wall", "-Wextra", "-Werror", "-pthread", `${tmp}/dio.c`, "-o", `${tmp}/dio`],
          stderr: "piped",
        }).outputSync();
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
        console.warn("gcc not found: the O_DIRECT C helper is skipped");
        return;
      }
      assert(o.success, new TextDecoder().decode(o.stderr));
      await withMount({ size: 64 << 20 }, (mnt) => {
        const f = `${mnt}/data`;
        const fd = P.open(f, P.O_CREAT | P.O_WRONLY, 0o644);
        P.pwrite(fd, fill(0x30, 65536), 0);
        P.close(fd);
        const r = new Deno.Command(`${tmp}/dio`, { args: [f, "300", "3"], stdout: "piped", stderr: "piped" })
          .outputSync();
        const dec = new TextDecoder();
        assertEquals(
          [r.code, dec.decode(r.stdout).trim()],
          [0, "0"],
          `stale buffered reads after O_DIRECT writes: ${dec.decode(r.stderr)}`,
        );
      });
    } finally {
      Deno.removeSync(tmp, { recursive: true });
    }
  },
});
