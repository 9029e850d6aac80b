/*
 * rp_replay.h - the replay of a trace through the pymalloc model, callable
 * on any reader (the CLI's file, a fuzzer's bytes).
 */
#ifndef ARENATRACE_RP_REPLAY_H
#define ARENATRACE_RP_REPLAY_H

#include "tf.h"

#include <stdbool.h>
#include <stdio.h>

typedef struct rp_replay_opts {
	const char *model; /* profile name, NULL: from the trace's header */
	bool stats;        /* print the final statistics */
	bool check;        /* compare with every snapshot */
	FILE *out;         /* statistics, differences and the summary line */
} rp_replay_opts;

/* Replays everything rd yields; path names it in messages.  Returns the
 * exit status (RP_EXIT_*): 1 when a snapshot check failed. */
int rp_replay_run(tf_reader *rd, const rp_replay_opts *o, const char *path);

#endif
