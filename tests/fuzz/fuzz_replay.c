/*
 * fuzz_replay.c - libFuzzer target for the replay and the report sinks: the
 * input is a decompressed record stream, whose records drive the pymalloc
 * model (arena bases, requests, GC passes, snapshots to compare), and the
 * result goes through the CSV and HTML sinks.  Whatever the records say,
 * the replay must count anomalies and never crash, and the reports must
 * be written.
 */
#include "rep.h"
#include "rep_text.h"
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
					    "callsites.csv", "moments.csv", "gc.csv", "compare.csv", "report.html",
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
static void write_reports(const rep_input *in)
{
	char msg[700];
	rep_dir *d;
	if (rep_dir_open(&d, dir, false, msg, sizeof(msg)) < 0 ||
	    rep_dir_write(d, in, msg, sizeof(msg)) < 0)
		abort(); /* the directory is ours: writing cannot fail */
	rep_dir_free(d);
}

/* Snapshot differences and addresses unlike the interpreter's, written as
 * the command line writes them. */
static void on_address(void *ctx, const char *profile, uint64_t model, uint64_t real)
{
	fprintf(ctx, "%s 0x%llx 0x%llx\n", profile, (unsigned long long)model,
		(unsigned long long)real);
}

static void on_snapshot_line(void *ctx, const tf_bytes *label, bool first, const char *want,
			     size_t want_len, const char *got, size_t got_len)
{
	if (first)
		fprintf(ctx, "snapshot %.*s:\n", (int)label->len, label->ptr);
	fprintf(ctx, "%.*s\n%.*s\n", (int)want_len, want, (int)got_len, got);
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
	rp_config cfg = {.stats = true,
			 .check = true,
			 .gc_off = size & 1,
			 .obs = {.ctx = sink, .on_address = on_address,
				 .on_snapshot_line = on_snapshot_line}};
	rp_engine *e;
	if (rp_engine_create(&e, &cfg) < 0) { /* out of memory: no model is named */
		tf_reader_free(r);
		return 0;
	}
	const rp_replay_result *res = NULL;
	if (rp_engine_run(e, r) == RP_OK && rp_engine_finish(e) == RP_OK)
		res = rp_engine_result(e);
	if (res) {
		/* and each way of showing stacks (Python frames or not) */
		rep_input in = {.res = res, .trace = "fuzz input", .stacks = (int)(size >> 2) % 4};
		rep_stats_write(sink, res);
		if (size & 2)
			rep_json_write(sink, &in);
		else
			rep_summary_write(sink, &in, NULL, NULL);
		if (res->nmodels)
			write_reports(&in);
	}
	rp_engine_free(e);
	tf_reader_free(r);
	return 0;
}
