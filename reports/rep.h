/*
 * rep.h - the reports: sinks that turn a replay's result (replay/rp_result.h)
 * into files a user reads: CSV tables and one self-contained HTML page.
 * The sinks see the result structs (rp_replay_result and what it points
 * to) only, never the models or the trace: everything a report shows is
 * in the result, so a result built by hand is enough to test a sink.
 *
 * Columns, charts and their meaning: reports/README.md.
 */
#ifndef ARENATRACE_REP_H
#define ARENATRACE_REP_H

#include "rep_sym.h" /* the error codes (rep_strerror) */
#include "rp_result.h"

#include <stdbool.h>
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

/* A Python frame's facts beyond its text (tf_py_frame values, traces/
 * tf_record.h): for grouping stacks by their Python lines and marking the
 * program's own files.  Strings NULL and line 0 when unknown; they live
 * as long as the describer's ctx. */
typedef struct rep_pyframe {
	const char *file, *function;
	unsigned line;
	rep_origin origin;
} rep_pyframe;
/* Describes the Python frame `frame`; false when it is unknown (the trace
 * has no record of its code). */
typedef bool (*rep_py_describer)(void *ctx, uint64_t frame, rep_pyframe *out);

/* --stacks: how the reports show stacks that hold Python frames.  A
 * result without Python frames (rp_facts.py_nodes 0) shows its stacks as
 * it always has, whatever the mode. */
enum {
	REP_STACKS_AUTO,   /* python for a result with Python frames, else native */
	REP_STACKS_PYTHON, /* a stack's Python frames, innermost first (its native frames
			    * folded under them in the page, left out elsewhere; a stack
			    * without Python frames shows its native ones); call sites,
			    * pinning and leaking stacks with the same Python frames (same
			    * code and line in each) are one row */
	REP_STACKS_HYBRID, /* every frame in call order, leaf first; one row a stack */
	REP_STACKS_NATIVE, /* the native frames only; one row a stack */
};

/* What every sink gets. */
typedef struct rep_input {
	const rp_replay_result *res;
	const char *trace;        /* the trace's path, as given */
	rep_frame_namer namer;    /* NULL: frames as hex addresses */
	void *namer_ctx;
	rep_py_describer py;      /* with namer_ctx; NULL: Python frames' lines and
				   * files unknown */
	int stacks;               /* REP_STACKS_* */
	struct rep_view_memo *memo; /* NULL, or where rep_view_sites keeps its rows for
				     * the next sink (rep_view.h) */
	struct rep_prepared *prepared; /* NULL, or the call-site rows' texts worked out
					* ahead (rep_csv_prepare) */
} rep_input;
typedef struct rep_prepared rep_prepared;

/* Where a sink writes: the directory, and the files opened in it so far
 * (rep_open records them, for the manifest; names are the sinks' own
 * static strings). */
#define REP_MAX_FILES 16
typedef struct rep_out {
	const char *dir;
	void (*on_file)(void *ctx, const char *name); /* rep_open: a file is begun */
	void *ctx;
	const char *written[REP_MAX_FILES];
	int nwritten;
	char failed[600]; /* the file that could not be written, and why */
} rep_out;

/* A sink writes some of its files into out->dir (which exists); returns 0
 * or an error, with the failing file in out->failed. */
typedef struct rep_sink {
	const char *name;
	const char *const *files; /* every file it may write, NULL-ended */
	int (*write)(const rep_input *in, rep_out *out);
} rep_sink;

extern const rep_sink rep_csv_sink;  /* timeline, sizeclasses, arenas, callsites, gc, compare,
				      * system */
extern const rep_sink rep_html_sink; /* report.html */

/* What callsites.csv and stacks.csv need of the result and the namer
 * alone, worked out ahead where a thread would otherwise idle (a leading
 * replay's, once it is done, for the result of the replay that follows
 * it): the call-site rows (their grouping into in->memo), and each row's
 * frame lines, path and Python fields, in order.  stop is asked between
 * rows (NULL: never); true ends the work, the rows done so far kept.
 * *out (rep_prepared_free) goes in rep_input.prepared of the result the
 * files are written for: they take the prepared rows while its rows are
 * of the same stacks in the same order, and the same paths, so the files
 * are what they would be without.  REP_OK, or REP_E_NOMEM (*out NULL). */
int rep_csv_prepare(const rep_input *in, bool (*stop)(void *ctx), void *ctx, rep_prepared **out);
void rep_prepared_free(rep_prepared *pp);

/* ---- the report directory (rep_dir.c) ----
 * A report writes into a directory that is new, empty, or holds an earlier
 * report: one whose manifest (REP_MANIFEST: the files that report wrote,
 * each with its size and FNV-1a hash) matches the files there.  Any other
 * directory, or a file of a report's name that is not as the manifest says,
 * needs force.  Files of the earlier report that this one does not write
 * (gc.csv, compare.csv) are removed when still as it wrote them; no other
 * file is ever removed. */
#define REP_MANIFEST "report.manifest"
typedef struct rep_dir rep_dir;
/* Makes path when missing, else checks it as above; *out belongs to the
 * caller (rep_dir_free).  Errors (REP_E_*) come with a message in msg. */
int rep_dir_open(rep_dir **out, const char *path, bool force, char *msg, size_t cap);
/* Runs every sink into the directory, removes the earlier report's files
 * this one did not write, and writes the manifest.  0 or an error, with
 * the failing file and why in msg. */
int rep_dir_write(rep_dir *d, const rep_input *in, char *msg, size_t cap);
/* fn(ctx, name) as rep_dir_write begins each file (a progress line); NULL: none. */
void rep_dir_on_file(rep_dir *d, void (*fn)(void *ctx, const char *name), void *ctx);
/* Frees d; a directory it made and nothing was written into is removed.
 * NULL is a no-op. */
void rep_dir_free(rep_dir *d);

/* Helpers the sinks share (rep_util.c). */

/* s (len bytes) as one RFC 4180 field: quoted when it holds a comma, a
 * quote, CR or LF, quotes doubled. */
void rep_csv_field(FILE *f, const char *s, size_t len);
/* s (len bytes) as HTML text (also safe in a quoted attribute): & < > " '
 * escaped, control bytes and invalid UTF-8 as U+FFFD. */
void rep_html_text(FILE *f, const char *s, size_t len);
/* A forked child's replay in the words the summary and the page share:
 * whose trace it forked from, at which event, and from what state it was
 * replayed ("from P at its event N; replayed ..."), into buf (cap > 0, cut
 * there); false, and buf empty, when the trace is not a forked child's.  The
 * parent's name is at most 511 bytes (rp_facts), so REP_FORK_TEXT holds all. */
#define REP_FORK_TEXT 1024
bool rep_fork_text(const rp_replay_result *res, char *buf, size_t cap);
/* A stack's frames as in->stacks shows them (rep_view.h), through the
 * namer: calls fn once per line (inlined frames give several lines for
 * one address), at most max lines; folded frames are left out. */
void rep_stack_frames(const rep_input *in, uint64_t stack, int max,
		      void (*fn)(void *ctx, const char *line), void *ctx);
/* Opens out->dir/name for writing (a new file, or one truncated; never
 * through a symbolic link) and records name in out->written; NULL with
 * the reason in out->failed. */
FILE *rep_open(rep_out *out, const char *name);
/* fclose with the write errors of f, which rep_open opened as name; 0, or
 * REP_E_IO with out->failed set. */
int rep_close(rep_out *out, FILE *f, const char *name);

#endif
