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

#endif
