/*
 * rep_text.h - the replay's result on a stream: the terminal summary,
 * --stats' statistics and --json's object (sinks of reports/, beside the
 * CSV and HTML ones of rep.h), and string quoting for JSON and dump lines.
 */
#ifndef ARENATRACE_REP_TEXT_H
#define ARENATRACE_REP_TEXT_H

#include "rep.h"
#include "rp_result.h"

#include <stddef.h>
#include <stdio.h>

/* Writes a pinning stack's frames after its summary line, one a line
 * (rep_stacks_print with a rep_sym * as ctx). */
typedef void (*rep_stack_printer)(FILE *f, const rp_pin *pin, void *ctx);

/* The summary `replay` and `report` print, of in->res; print (may be
 * NULL: the first three return addresses) names the pinning stacks'
 * frames of a result without Python frames, in->namer and in->py those of
 * a result with them, as in->stacks says (rep.h).  Nothing for a result
 * without models. */
void rep_summary_write(FILE *f, const rep_input *in, rep_stack_printer print, void *ctx);

/* Each model's final statistics (rp_config.stats), under "== PROFILE"
 * when there are several. */
void rep_stats_write(FILE *f, const rp_replay_result *res);

/* The result in->res as one JSON object and a newline (keys in
 * cli/CLI.md); in->namer (may be NULL) gives each pinning frame's
 * "symbols", in->py and in->stacks as for the summary. */
void rep_json_write(FILE *f, const rep_input *in);

/* s[0..len) as a quoted JSON string (valid UTF-8 kept, other bytes
 * U+FFFD). */
void rep_json_str(FILE *out, const char *s, size_t len);
/* s[0..len) quoted with C escapes (\xNN outside printable ASCII). */
void rep_c_str(FILE *out, const char *s, size_t len);

#endif
