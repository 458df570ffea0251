/*
 * bm25_log_probe.c - host probe of kernel/bm25_log.h for
 * src/kernel/bm25_log_test.ts: reads little-endian binary64 values from
 * stdin until EOF and writes the bit pattern of vexfs_log() of each one to
 * stdout, 8 bytes per value, in the same order.
 */
#include <stdio.h>
#include "bm25_log.h"

int main(void)
{
	double x, y;

	while (fread(&x, sizeof(x), 1, stdin) == 1) {
		y = vexfs_log(x);
		if (fwrite(&y, sizeof(y), 1, stdout) != 1)
			return 1;
	}
	return ferror(stdin) ? 1 : 0;
}
