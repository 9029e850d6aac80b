/*
 * fuzz_replay.c - libFuzzer target for the replay: the input is a
 * decompressed record stream, whose records drive the pymalloc model
 * (arena bases, requests, GC passes, snapshots to compare).  Whatever the records
 * say, the replay must count anomalies and never crash.
 */
#include "rp_replay.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	if (!sink)
		sink = fopen("/dev/null", "w");
	tf_reader *r;
	if (!sink || tf_reader_open_raw(&r, data, size) < 0)
		return 0;
	/* the input's length picks the variant: with and without --gc off
	 * twins, JSON or the summary */
	rp_replay_opts o = {.stats = true,
			    .check = true,
			    .gc_off = size & 1,
			    .json = size & 2,
			    .summary = !(size & 2),
			    .quiet = true,
			    .out = sink};
	rp_replay_run(r, &o, "fuzz input", NULL);
	tf_reader_free(r);
	return 0;
}
