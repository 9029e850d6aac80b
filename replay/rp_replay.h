/*
 * rp_replay.h - the replay of a trace through the pymalloc model, callable
 * on any reader (the CLI's file, a fuzzer's bytes).
 */
#ifndef ARENATRACE_RP_REPLAY_H
#define ARENATRACE_RP_REPLAY_H

#include "tf.h"

#include <stdbool.h>
#include <stdio.h>

enum { RP_LAYER_AUTO, RP_LAYER_PYTHON, RP_LAYER_MALLOC };

typedef struct rp_replay_opts {
	const char *model; /* profile name, NULL: from the trace's header */
	int layer;         /* RP_LAYER_*: which requests go to the model */
	bool stats;        /* print the final statistics */
	bool check;        /* compare with every snapshot */
	FILE *out;         /* statistics, differences and the summary line */
} rp_replay_opts;

/* What a replay counted. */
typedef struct rp_replay_result {
	uint64_t requests;       /* requests of the replayed layer */
	uint64_t anomalies;      /* unknown frees/reallocs, allocations over a live block */
	uint64_t addr_mismatch;  /* Python layer: model address != interpreter's */
	uint64_t arena_mismatch; /* Python layer: arenas the model wanted but the trace had not */
	uint64_t snapshots, snapshots_mismatched;
	bool malloc_layer;
} rp_replay_result;

/* Replays everything rd yields; path names it in messages; res (may be
 * NULL) gets the counts.  Returns the exit status (RP_EXIT_*): 1 when a
 * snapshot check failed. */
int rp_replay_run(tf_reader *rd, const rp_replay_opts *o, const char *path,
		  rp_replay_result *res);

#endif
