/*
 * fuzz_pyline.c - libFuzzer target for the Python line-table decoder
 * (traces/tf_pyline.c): any table of any format, at any offset, gives an
 * answer, never a crash, a read outside the table or a hang.
 *
 * Input: one byte of format (its low two bits: TF_PYLINES_*), four bytes
 * of first line (little-endian, signed), then the table.  Every offset
 * from -2 to twice the table's length (at most 4096 of them) is asked.
 * Seeds: tests/fuzz/pylines/, real tables of each format.
 */
#include "tf_pyline.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 5)
		return 0;
	unsigned format = data[0] & 3;
	int32_t first;
	memcpy(&first, data + 1, 4);
	size_t len = size - 5;
	/* a copy of exactly len bytes, so that ASan sees any read past it */
	uint8_t *table = malloc(len ? len : 1);
	if (!table)
		return 0;
	memcpy(table, data + 5, len);
	int64_t last = (int64_t)(len * 2 < 4096 ? len * 2 : 4096);
	volatile int64_t sum = 0; /* garbage may give any line: only the reads matter */
	for (int64_t off = -2; off <= last; off++)
		sum += tf_pyline(format, len ? table : NULL, len, first, off);
	free(table);
	return 0;
}
