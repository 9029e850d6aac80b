/*
 * rp_measures.h - what the replay measures of one model: where the held
 * bytes go, time series, what pins arenas, GC passes, arena lifelines,
 * size classes and call sites.  Plain structs, filled by the engine
 * (rp_replay.h) and read by the sinks of reports/.
 */
#ifndef ARENATRACE_RP_MEASURES_H
#define ARENATRACE_RP_MEASURES_H

#include <stdbool.h>
#include <stdint.h>

/* Where a model's held bytes go at one moment: arenas × ARENA_SIZE =
 * requested + internal + free_blocks + empty_pools + empty_arenas. */
typedef struct rp_waste {
	uint64_t requested;    /* requested bytes of the live blocks in pools */
	uint64_t internal;     /* their blocks' bytes beyond the request */
	uint64_t free_blocks;  /* free blocks, headers and tails of used pools */
	uint64_t empty_pools;  /* empty pools (and alignment loss) of arenas in use */
	uint64_t empty_arenas; /* wholly empty arenas kept */
	uint64_t large;        /* the large-object layer's bytes (not in arenas) */
} rp_waste;

/* Time series, sampled adaptively: at most RP_SERIES_MAX points whatever
 * the trace's length; each point holds, per series, the maximum over the
 * requests it covers (so peaks survive the sampling) and the time of its
 * last request. */
#define RP_SERIES_MAX 2000
enum {
	RP_S_LIVE,          /* requested bytes of live blocks (large ones included) */
	RP_S_BLOCKS,        /* block bytes in use */
	RP_S_POOLS,         /* pools in use × pool size */
	RP_S_ARENA_BYTES,   /* arenas held × arena size */
	RP_S_ARENAS,        /* arenas held */
	RP_S_LARGE,         /* the large-object layer's bytes */
	RP_S_POOL_LIVE,     /* requested bytes of the live blocks in pools */
	RP_S_EMPTY_ARENAS,  /* wholly empty arenas kept × arena size */
	RP_NSERIES
};
typedef struct rp_series {
	uint32_t n;        /* points */
	uint32_t step;     /* requests per point, doubles when full */
	uint32_t filled;   /* requests in the open point */
	uint64_t time[RP_SERIES_MAX];
	uint64_t v[RP_NSERIES][RP_SERIES_MAX];
} rp_series;
extern const char *const rp_series_names[RP_NSERIES];

/* What keeps arenas that are held at low utilisation. */
#define RP_PIN_STACKS 10
#define RP_PIN_FRAMES 8
#define RP_SYMBOL_LINES 16 /* most lines of one frame's "symbols" in --json */
typedef struct rp_pin {
	uint64_t stack;                 /* leaf node id in the trace, 0 = no stack */
	uint64_t frames[RP_PIN_FRAMES]; /* frames from the leaf outwards, 0-ended: return
					 * addresses and Python frames (tf_py_frame) */
	uint64_t arenas;                /* low arenas holding its blocks */
	uint64_t blocks, bytes;         /* its live blocks in them */
	uint64_t first_ns, last_ns;     /* when the oldest and newest of them were
					 * allocated (or reallocated), to the ms */
} rp_pin;

/* Ranked stacks kept beyond the RP_PIN_STACKS (RP_LEAK_STACKS) a table
 * shows, in traces with Python frames: the reports merge the stacks of
 * the same Python lines into one row (reports/rep_view.h), and a row of
 * one line reached by many C paths would otherwise leave too few rows. */
#define RP_RANKED_STACKS 128

typedef struct rp_pinning {
	uint64_t arenas_held, arenas_low; /* low: live requested bytes < 1/4 of the arena */
	int nstacks;
	rp_pin stacks[RP_PIN_STACKS];     /* by arenas pinned, then bytes */
	/* in a trace with Python frames, the first RP_RANKED_STACKS of the same
	 * ranking (stacks[] their first ones), else none; valid until rp_engine_free */
	int nranked;
	const rp_pin *ranked;
} rp_pinning;

/* Frees attributed to one mechanism: those on the collecting thread
 * between a gc_start and its gc_stop are the cyclic collector's, the
 * others reference counting's (or, outside CPython, plain frees). */
typedef struct rp_freed {
	uint64_t objects, bytes;
} rp_freed;

/* One model's view of the collector. */
typedef struct rp_model_gc {
	rp_freed by_gc;         /* blocks this model freed inside GC passes */
	rp_freed by_refcount;   /* and outside them */
	rp_freed withheld;      /* --gc off: GC frees not done, kept to the end */
	uint64_t arenas_released_in_gc, arenas_released_outside;
} rp_model_gc;

/* CPython's collector has generations 0, 1 and 2. */
#define RP_GC_GENERATIONS 3

/* One recorded GC pass (gc_start .. gc_stop). */
typedef struct rp_gc_pass {
	uint64_t start, stop;        /* ns since the trace's start */
	uint32_t generation;
	uint64_t collected, uncollectable; /* as gc.callbacks reported them */
	rp_freed freed;              /* blocks the layer freed inside it */
	uint64_t arenas_released;    /* by the first model */
} rp_gc_pass;

/* GC passes kept for the reports (the counts are exact beyond it). */
#define RP_GC_PASSES_MAX 4096

/* Arena lifelines: one record per arena a model allocated, with its use
 * (block bytes in use / arena size, 0..255) sampled at ticks: a tick
 * every `step` requests, at most RP_ARENA_TICKS of them whatever the
 * trace's length (when full, neighbours merge and the step doubles). */
#define RP_ARENA_TICKS 128
#define RP_ARENAS_KEPT 20000 /* records; beyond, half the released ones go */
typedef struct rp_arena {
	uint64_t id;              /* 1, 2, … in allocation order */
	uint64_t base;
	uint64_t allocated_ns, released_ns; /* since the trace's start */
	bool released;
	uint32_t first_tick, last_tick;     /* use[] is valid in first..last */
	uint8_t peak_use;         /* highest use sampled */
	uint8_t use[RP_ARENA_TICKS];
	uint64_t live_blocks_end, live_bytes_end; /* live blocks in it at the end, requested bytes */
	uint64_t top_stack, top_stack_bytes;      /* the stack with most live bytes in it at the end */
} rp_arena;

typedef struct rp_arenas {
	uint32_t n;               /* records, by id */
	rp_arena *a;
	uint64_t dropped;         /* released arenas whose records were let go */
	uint32_t ticks;           /* ticks taken */
	uint64_t tick_ns[RP_ARENA_TICKS]; /* time of each tick */
} rp_arenas;

/* The model's size classes (sys._debugmallocstats() columns). */
#define RP_MAX_CLASSES 128
typedef struct rp_classes {
	uint32_t n;               /* size classes */
	uint32_t align;           /* block size of class i = (i + 1) × align */
	uint64_t pools[RP_MAX_CLASSES], blocks[RP_MAX_CLASSES], avail[RP_MAX_CLASSES];
} rp_classes;

/* What one call site (leaf stack node) allocated; the first model's view. */
typedef struct rp_callsite {
	uint64_t stack;           /* leaf node id, 0 = no stack */
	uint64_t allocs, bytes;   /* allocation requests from there, their bytes */
	uint64_t live_peak;       /* bytes live near the first model's peak held */
	uint64_t live_end, blocks_end; /* live at the end */
	uint64_t arenas;          /* low-use arenas its blocks keep at the end */
} rp_callsite;

#endif
