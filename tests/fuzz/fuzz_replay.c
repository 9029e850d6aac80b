/*
 * fuzz_replay.c - libFuzzer target for the replay and the report sinks: the
 * input is a decompressed record stream, whose records drive the pymalloc
 * model (arena bases, requests, GC passes, snapshots to compare), and the
 * result goes through the CSV and HTML sinks.  Whatever the records say,
 * the replay must count anomalies and never crash, and the reports must
 * be written.
 */
#include "rep.h"
#include "rp_replay.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void remove_dir(void)
{
	static const char *const files[] = {"timeline.csv", "sizeclasses.csv", "arenas.csv",
					    "callsites.csv", "gc.csv", "compare.csv", "report.html",
					    REP_MANIFEST};
	char path[128];
	for (size_t k = 0; k < sizeof(files) / sizeof(files[0]); k++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[k]);
		unlink(path);
	}
	rmdir(dir);
}

/* Every input's report goes into the same directory, an earlier report's
 * from the second input on: what `report` does when run again. */
static void write_reports(const rp_replay_result *res, void *ctx)
{
	(void)ctx;
	char msg[700];
	rep_dir *d;
	rep_input in = {res, "fuzz input", NULL, NULL};
	if (rep_dir_open(&d, dir, false, msg, sizeof(msg)) < 0 ||
	    rep_dir_write(d, &in, msg, sizeof(msg)) < 0)
		abort(); /* the directory is ours: writing cannot fail */
	rep_dir_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *sink;
	if (!sink) {
		const char *tmp = getenv("TMPDIR");
		snprintf(dir, sizeof(dir), "%.40s/atr-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(dir))
			return 0;
		atexit(remove_dir);
		sink = fopen("/dev/null", "w");
	}
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
			    .out = sink,
			    .inspect = write_reports};
	rp_replay_run(r, &o, "fuzz input", NULL);
	tf_reader_free(r);
	return 0;
}
