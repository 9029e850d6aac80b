/*
 * rep.h - the reports: sinks that turn a replay's result (replay/rp_replay.h)
 * into files a user reads: CSV tables and one self-contained HTML page.
 * They see the result structs only, never the models (STYLE.md 14).
 *
 * Columns, charts and their meaning: reports/README.md.
 */
#ifndef ARENATRACE_REP_H
#define ARENATRACE_REP_H

#include "rep_sym.h" /* the error codes (rep_strerror) */
#include "rp_replay.h"

#include <stddef.h>
#include <stdio.h>

/* Names the frame at return address ip of the stack whose leaf node is
 * `leaf` (rep_sym.h's stamp): writes at most max lines (the function and
 * what is inlined in it, innermost first) into lines[], each a
 * NUL-terminated string of at most REP_FRAME_MAX bytes; returns how many
 * (0: name it by its address).  The strings are the namer's, valid until
 * its next call. */
#define REP_FRAME_MAX 512
typedef int (*rep_frame_namer)(void *ctx, uint64_t ip, uint64_t leaf, const char **lines,
			       int max);

/* What every sink gets. */
typedef struct rep_input {
	const rp_replay_result *res;
	const char *trace;        /* the trace's path, as given */
	rep_frame_namer namer;    /* NULL: frames as hex addresses */
	void *namer_ctx;
} rep_input;

/* A sink writes its files into dir (which exists); returns 0 or an error,
 * with the failing file's name in failed (cap bytes). */
typedef struct rep_sink {
	const char *name;
	int (*write)(const rep_input *in, const char *dir, char *failed, size_t cap);
} rep_sink;

extern const rep_sink rep_csv_sink;  /* timeline, sizeclasses, arenas, callsites, gc, compare */
extern const rep_sink rep_html_sink; /* report.html */

/* Helpers the sinks share (rep_util.c). */

/* s (len bytes) as one RFC 4180 field: quoted when it holds a comma, a
 * quote, CR or LF, quotes doubled. */
void rep_csv_field(FILE *f, const char *s, size_t len);
/* s (len bytes) as HTML text (also safe in a quoted attribute): & < > " '
 * escaped, control bytes and invalid UTF-8 as U+FFFD. */
void rep_html_text(FILE *f, const char *s, size_t len);
/* A stack's frames, leaf first, through the namer: calls fn once per line
 * (inlined frames give several lines for one address), at most max lines. */
void rep_stack_frames(const rep_input *in, uint64_t stack, int max,
		      void (*fn)(void *ctx, const char *line), void *ctx);
/* fopen(dir/name, "w"); NULL with name copied into failed on failure. */
FILE *rep_open(const char *dir, const char *name, char *failed, size_t cap);
/* fclose with the write errors of f; 0 or REP_E_IO. */
int rep_close(FILE *f);

#endif
