/*
 * cli_moments.h - `--at WHEN` (cli_moments.c): the moments replay and
 * report analyse in full.
 */
#ifndef ARENATRACE_CLI_MOMENTS_H
#define ARENATRACE_CLI_MOMENTS_H

#include "rp_replay.h"

/* Whether every WHEN is well formed, before any replay: 0, or -1 after
 * saying which is not. */
int cli_moments_check(const char *const *specs, int n);

/* The triggers for specs (the defaults when n is 0) from a first replay's
 * result res: out has room for RP_MOMENTS_MAX, *n gets how many.  0, or
 * -1 after a one-line error naming cmd (a label the trace has no mark of,
 * a time past its end, exit in a trace that did not record it). */
int cli_moments_resolve(const char *const *specs, int nspecs, const rp_replay_result *res,
			const char *cmd, rp_at *out, int *n);

/* The triggers for specs before any replay, for one that follows a lead
 * (rp_replay.h): peak and worst follow it, the others are as
 * cli_moments_resolve makes them, the defaults' marks every mark;
 * *marks_stop (rp_config.marks_stop) the marks past which the defaults
 * rank them by waste, which takes a first replay.  Whether they are valid
 * for the trace is for cli_moments_resolve to say, on the result.  0, or
 * -1 (too many, or not well formed): two replays then. */
int cli_moments_online(const char *const *specs, int nspecs, rp_at *out, int *n,
		       uint32_t *marks_stop);

#endif
