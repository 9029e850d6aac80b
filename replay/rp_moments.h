/*
 * rp_moments.h - the moments a replay analyses in full (--at): a mark, a
 * time, the peak, the worst moment, the interpreter's exit, the end.  At
 * each, every figure of a model is taken after the same request: held
 * and live bytes, the waste split, the arenas held and how full they are,
 * the stacks that pin the nearly empty ones, and (at exit and end) the
 * stacks whose blocks are still live: the leaks.
 */
#ifndef ARENATRACE_RP_MOMENTS_H
#define ARENATRACE_RP_MOMENTS_H

#include "rp_measures.h"

#include <stdbool.h>
#include <stdint.h>

enum {
	RP_AT_MARK,  /* a mark's label: every occurrence, or the n-th */
	RP_AT_TIME,  /* after the last request at or before a time */
	RP_AT_PEAK,  /* after the request where held bytes peaked (first reached) */
	RP_AT_WORST, /* after the request where held minus live bytes was largest */
	RP_AT_EXIT,  /* when the interpreter began to finalise (before its teardown) */
	RP_AT_END,   /* after the last request */
};

#define RP_MOMENT_LABEL 64  /* bytes of a moment's label */
#define RP_MOMENTS_MAX 48   /* moments analysed per model */
#define RP_LEAK_STACKS 10   /* stacks listed as leaks */
#define RP_USE_BINS 4       /* arenas by use: under 25%, 50%, 75%, and more */

/* Where to analyse: given to the engine (rp_config.at). */
typedef struct rp_at {
	int kind;              /* RP_AT_* */
	char label[RP_MOMENT_LABEL]; /* MARK: the mark's label */
	uint64_t occurrence;   /* MARK: the n-th (1-based), 0 = every one */
	uint64_t time_ns;      /* TIME: since the trace's start */
	uint64_t request;      /* PEAK, WORST: after this many requests (a first replay's) */
	int model;             /* PEAK, WORST: the model it is for; -1 for all */
	bool follow;           /* PEAK, WORST: request from rp_config.follow, for each
				* model (rp_replay.h) */
	bool unless_exit;      /* END: only when no py_finalize was read */
	bool any_mark;         /* MARK: every mark, whatever its label, named as the
				* defaults name them: LABEL, or LABEL#N when the trace
				* has more than one mark of that label */
} rp_at;

/* The stacks whose blocks are live at a moment, by bytes. */
typedef struct rp_leak {
	uint64_t stack;                 /* leaf node id, 0 = no stack */
	uint64_t frames[RP_PIN_FRAMES]; /* return addresses from the leaf outwards, 0-ended */
	uint64_t blocks, bytes;         /* live blocks and their requested bytes */
	uint64_t arenas;                /* arenas holding at least one of them */
} rp_leak;

/* One model at one moment. */
typedef struct rp_moment {
	int kind;                       /* RP_AT_* */
	char label[RP_MOMENT_LABEL];    /* "peak", "after evict", "after evict#2", "1.5s" */
	uint64_t request;               /* after this many requests */
	uint64_t time_ns;               /* of that request */
	uint64_t held, live;            /* arena and large bytes; requested bytes live */
	rp_waste waste;
	uint64_t arenas_held;
	uint64_t arenas_by_use[RP_USE_BINS]; /* block bytes in use / arena size */
	rp_pinning pinning;             /* what keeps its nearly empty arenas */
	int nleaks;                     /* EXIT and END: the live blocks by stack */
	uint64_t leak_blocks, leak_bytes; /* every live block, all stacks */
	rp_leak leaks[RP_LEAK_STACKS];
	/* as rp_pinning's ranked: the first RP_RANKED_STACKS of leaks' ranking,
	 * in a trace with Python frames; valid until rp_engine_free */
	int nleaks_ranked;
	const rp_leak *leaks_ranked;
} rp_moment;

/* A kind's name, as the outputs write it ("peak"), "?" for none. */
static inline const char *rp_moment_kind(int kind)
{
	static const char *const names[] = {"mark", "time", "peak", "worst", "exit", "end"};
	return kind >= 0 && kind <= RP_AT_END ? names[kind] : "?";
}

/* Whether a moment of this kind lists the live blocks (the leaks). */
static inline bool rp_moment_has_leaks(int kind)
{
	return kind == RP_AT_EXIT || kind == RP_AT_END;
}

/* A mark the replay saw (the first RP_MARKS_KEPT; count has them all). */
#define RP_MARKS_KEPT 4096
typedef struct rp_mark {
	char label[RP_MOMENT_LABEL];
	uint64_t occurrence;            /* of its label, 1-based */
	uint64_t request, time_ns;
	uint64_t waste;                 /* the first model's held minus live bytes there */
} rp_mark;

#endif
