/*
 * rp_replay.h - the replay engine: a trace's allocator requests through one
 * or several pymalloc models (and, for --system, a real allocator), in one
 * pass.  No output of its own: what it finds is a result (rp_result.h) that
 * the sinks of reports/ turn into text, JSON, CSV and HTML; what happens on
 * the way reaches the caller through an observer.
 *
 *   rp_engine *e;
 *   rp_engine_create(&e, &cfg);          // once
 *   rp_engine_run(e, reader);            // or rp_engine_feed per record
 *   rp_engine_finish(e);
 *   const rp_replay_result *res = rp_engine_result(e);
 *   rp_engine_free(e);                   // the result goes with it
 *
 * Errors are negative RP_E_* codes; rp_engine_error says what went wrong
 * in one line, rp_strerror names a code.
 */
#ifndef ARENATRACE_RP_REPLAY_H
#define ARENATRACE_RP_REPLAY_H

#include "rp_result.h"
#include "tf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { RP_LAYER_AUTO, RP_LAYER_PYTHON, RP_LAYER_MALLOC };

enum {
	RP_OK = 0,
	RP_E_NOMEM = -1,   /* out of memory */
	RP_E_MODEL = -2,   /* an unknown or invalid model */
	RP_E_MODELS = -3,  /* too many models (--gc off runs each twice), or moments */
	RP_E_READ = -4,    /* the trace could not be read to its end */
	RP_E_SYSTEM = -5,  /* --system: the allocator's process failed */
	RP_E_STATE = -6,   /* a call out of order (feed after finish, result before) */
	RP_E_SHORT = -7,   /* rp_engine_run_chain: an ancestor's trace ends before its fork */
	RP_E_MARKS = -8,   /* rp_config.marks_stop: a mark past so many was read */
	RP_E_STOPPED = -9, /* rp_config.lead: its follower stopped the replay */
};

/* One line naming an error code. */
const char *rp_strerror(int code);

/* What happens during a replay, for a caller that shows it; any may be
 * NULL.  The engine calls them from rp_engine_feed/run/finish. */
typedef struct rp_observer {
	void *ctx;
	/* a module or module_unload record, with the stack nodes read so far
	 * (a symbolizer's stamp) */
	void (*on_module)(void *ctx, const tf_record *rec, uint64_t nodes);
	/* one of the first few addresses a model gave where the interpreter's
	 * differed (Python layer, recorded arena bases) */
	void (*on_address)(void *ctx, const char *profile, uint64_t model, uint64_t real);
	/* --check-snapshots: a line of the snapshot `label` where the first
	 * model's statistics differ from the real allocator's text; first is
	 * true for the first such line of that snapshot */
	void (*on_snapshot_line)(void *ctx, const tf_bytes *label, bool first, const char *want,
				 size_t want_len, const char *got, size_t got_len);
	/* every 65,536 records: events so far (rp_engine_run only) */
	void (*on_progress)(void *ctx, const tf_reader *rd, uint64_t events);
	/* a py_code record (FORMAT.md §5.5), for a symbolizer: the Python
	 * frames of the result's stacks name their code by its id */
	void (*on_py_code)(void *ctx, const tf_record *rec);
} rp_observer;

typedef struct rp_lead rp_lead; /* below */

typedef struct rp_config {
	const char *model; /* profile names, comma-separated; NULL: from the trace */
	int layer;         /* RP_LAYER_*: which requests go to the models */
	bool check;        /* compare the first model with every snapshot */
	bool stats;        /* keep each model's final statistics as text */
	bool system;       /* also replay through a real allocator (rp_system.h: runs this
			    * executable again, so only from arenatrace itself) */
	bool gc_off;       /* also run every model as if cyclic GC were disabled */
	const rp_at *at;   /* moments to analyse in full (rp_moments.h; copied) */
	int nat;           /* at most RP_MOMENTS_MAX */
	rp_observer obs;
	rp_lead *lead;     /* this engine leads: it tells lead how far it is (at most one
			    * engine per lead; its follower runs on another thread) */
	bool lead_stacks;  /* a lead keeps the stack nodes all the same, and with them
			    * its call sites (a report prepares them on its thread) */
	rp_lead *follow;   /* the lead its rp_at.follow moments follow */
	uint32_t marks_stop; /* > 0: a mark past this many stops the replay (RP_E_MARKS): the
			    * defaults' moments among more marks are the ones with the most
			    * waste, which a first replay must rank */
} rp_config;

typedef struct rp_engine rp_engine;

/* ---- one pass that finds and analyses the moments ----
 * Peak and worst are known only once the trace has been read.  A leading
 * engine (rp_config.lead), on another thread and without moments, tells
 * how far it has read and each model's peak and worst request so far; a
 * following engine (rp_at.follow) takes those moments when it reaches the
 * lead's current ones, staying a lag behind: a request it passes is the
 * final peak only if the lead, a lag further on, has found none later.
 * A moment taken at a request that is overtaken later is taken again, in
 * its place; the lag bounds how often (a request survives only if no
 * higher peak came in the lag after it).  Both engines replay the same
 * trace with the same models, so they pass through the same states: the
 * follower's moments are those a second replay would take where a first
 * found them. */
/* A lead for up to RP_MAX_MODELS models; lag_min: the follower stays at
 * least this many requests behind (and an eighth of its requests), 0 for
 * the default.  NULL when out of memory. */
rp_lead *rp_lead_create(uint64_t lag_min);
/* The leading engine is done (finished, failed or stopped): the follower
 * waits no more.  res: its result, NULL when it has none. */
void rp_lead_done(rp_lead *l, const rp_replay_result *res);
/* The follower asks the leading engine to stop (RP_E_STOPPED). */
void rp_lead_stop(rp_lead *l);
/* Whether rp_lead_stop was called: the leading thread's work after its
 * replay (rp_lead_done) asks, to end when the follower no longer waits. */
bool rp_lead_stopped(rp_lead *l);
void rp_lead_free(rp_lead *l);

/* A new engine for one trace, or *out NULL and RP_E_NOMEM, RP_E_MODEL (an
 * unknown or invalid name in cfg->model) or RP_E_MODELS (more than
 * RP_MAX_MODELS runs). */
int rp_engine_create(rp_engine **out, const rp_config *cfg);

/* One record, in the trace's order (the header first).  The engine keeps
 * nothing that points into rec.  0 or a negative code; after an error the
 * engine takes no more records. */
int rp_engine_feed(rp_engine *e, const tf_record *rec);

/* Every record rd yields, read ahead (the address map's slots prefetched):
 * the same as rp_engine_feed on each, faster.  0, or a negative code
 * (RP_E_READ: the reader's error, tf_reader_error). */
int rp_engine_run(rp_engine *e, tf_reader *rd);

/* A forked child's trace from its parent's state: rds[0 .. n-2] are its
 * ancestors' traces, the oldest first, each replayed up to its until[i]-th
 * event (the fork_at of the next trace's header), and rds[n-1] the child's,
 * to its end.  The later traces' stack, code, module and thread ids and
 * their times are moved past the earlier ones', so the result names every
 * frame and its time axis starts at the first trace's start.  n == 1 is
 * rp_engine_run.  0, or a negative code (RP_E_SHORT: an ancestor's trace
 * has fewer events than its child's header says). */
int rp_engine_run_chain(rp_engine *e, tf_reader *const *rds, const uint64_t *until, int n);

/* Which trace of rp_engine_run_chain's was being read (0 the first): the
 * one an RP_E_READ error is of. */
int rp_engine_segment(const rp_engine *e);

/* Ends the replay and makes the result; 0 or a negative code.  A trace
 * without a header has no result (RP_E_READ). */
int rp_engine_finish(rp_engine *e);

/* The result, after rp_engine_finish returned 0; valid until rp_engine_free. */
const rp_replay_result *rp_engine_result(const rp_engine *e);

/* The last error as one line ("" when none); e may be NULL. */
const char *rp_engine_error(const rp_engine *e);

/* Frees e and its result; NULL is a no-op.  An allocator's process that
 * --system started ends too. */
void rp_engine_free(rp_engine *e);
/* After rp_engine_finish: frees the memory of the replay that its result
 * does not need (the live blocks' map, the per-call-site counters, whose
 * figures are in the result's call sites), for work on the result that
 * runs on while the process needs its memory elsewhere (a record after
 * the end is refused as ever). */
void rp_engine_trim(rp_engine *e);

#endif
