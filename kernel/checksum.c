// SPDX-License-Identifier: GPL-2.0
/*
 * checksum.c - CRC-32C as FORMAT.md section 1 defines it: the kernel's
 * crc32c() with initial value ~0 and a final inversion; "seeded with X"
 * means the 8 little-endian bytes of X, then the covered bytes.
 */
#include <linux/crc32c.h>
#include "vexfs.h"

u32 vexfs_crc(const void *buf, size_t len)
{
	return ~crc32c(~0U, buf, len);
}

u32 vexfs_crc_seeded(u64 seed, const void *buf, size_t len)
{
	__le64 s = cpu_to_le64(seed);

	return ~crc32c(crc32c(~0U, &s, sizeof(s)), buf, len);
}

/* Whether a block's last 4 bytes are the CRC-32C of the rest seeded with seed. */
bool vexfs_block_csum_ok(const void *block, size_t bs, u64 seed)
{
	__le32 want;

	memcpy(&want, (const u8 *)block + bs - VEXFS_CSUM_SIZE, sizeof(want));
	return vexfs_crc_seeded(seed, block, bs - VEXFS_CSUM_SIZE) ==
	       le32_to_cpu(want);
}

/* Sets a block's last 4 bytes to the CRC-32C of the rest seeded with seed. */
void vexfs_block_csum_set(void *block, size_t bs, u64 seed)
{
	__le32 c = cpu_to_le32(vexfs_crc_seeded(seed, block,
						bs - VEXFS_CSUM_SIZE));

	memcpy((u8 *)block + bs - VEXFS_CSUM_SIZE, &c, sizeof(c));
}
