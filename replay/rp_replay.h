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

#define RP_MAX_MODELS 8

typedef struct rp_replay_result rp_replay_result;
struct rp_pin; /* below */
typedef struct rp_replay_opts {
	const char *model; /* profile names, comma-separated; NULL: from the trace */
	int layer;         /* RP_LAYER_*: which requests go to the models */
	bool stats;        /* print each model's final statistics */
	bool check;        /* compare the first model with every snapshot */
	bool json;         /* the result as one JSON object */
	bool summary;      /* the result as a terminal summary */
	bool system;       /* also replay through this process's malloc/free/realloc */
	uint64_t progress_bytes; /* file size: a progress line on a terminal's stderr, 0 = none */
	bool quiet;        /* nothing on stderr */
	FILE *out;         /* statistics, differences, summary or JSON */
	/* called with the result before the replay's memory goes (series) */
	void (*inspect)(const rp_replay_result *res, void *ctx);
	void *inspect_ctx;
	/* symbolization (reports/rep_stacks.h): on_module gets each module and
	 * module_unload record with the number of stack nodes read so far;
	 * print_stack writes a pinning stack's frames after its summary line
	 * (NULL: the summary shows its first three return addresses) */
	void (*on_module)(const tf_record *rec, uint64_t nodes, void *ctx);
	void (*print_stack)(FILE *f, const struct rp_pin *pin, void *ctx);
	void *sym_ctx;
} rp_replay_opts;

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
enum { RP_S_LIVE, RP_S_BLOCKS, RP_S_POOLS, RP_S_ARENA_BYTES, RP_S_ARENAS, RP_S_LARGE, RP_NSERIES };
typedef struct rp_series {
	uint32_t n;        /* points */
	uint32_t step;     /* requests per point, doubles when full */
	uint32_t filled;   /* requests in the open point */
	uint64_t time[RP_SERIES_MAX];
	uint64_t v[RP_NSERIES][RP_SERIES_MAX];
} rp_series;
extern const char *const rp_series_names[RP_NSERIES];

/* What keeps arenas that are held at low utilisation (at the end). */
#define RP_PIN_STACKS 10
#define RP_PIN_FRAMES 8
typedef struct rp_pin {
	uint64_t stack;                 /* leaf node id in the trace, 0 = no stack */
	uint64_t frames[RP_PIN_FRAMES]; /* return addresses from the leaf outwards, 0-ended */
	uint64_t arenas;                /* low arenas holding its blocks */
	uint64_t blocks, bytes;         /* its live blocks in them */
} rp_pin;

typedef struct rp_pinning {
	uint64_t arenas_held, arenas_low; /* low: live requested bytes < 1/4 of the arena */
	int nstacks;
	rp_pin stacks[RP_PIN_STACKS];     /* by arenas pinned, then bytes */
} rp_pinning;

/* One model's result. */
typedef struct rp_model_result {
	char profile[32];
	uint64_t arena_size;
	uint64_t arenas_total, arenas_current, arenas_highwater;
	uint64_t peak_held;      /* arena bytes + large-object bytes, at most */
	uint64_t held_end;
	double jw1, jw2, jw3, jw4; /* Johnstone-Wilson fragmentation measures */
	uint64_t addr_mismatch;  /* Python layer: model address != interpreter's */
	uint64_t arena_mismatch; /* arenas the model wanted but the trace had not */
	uint64_t errors;         /* requests the model refused */
	rp_waste waste_peak, waste_end; /* at the moment of peak held, and at the end */
	const rp_series *series;        /* valid until rp_replay_run returns */
	rp_pinning pinning;             /* at the end */
	rp_pinning pinning_peak;        /* near peak held: within 10% of it */
	uint64_t peak_request;          /* the request (1-based) after which held peaked */
} rp_model_result;

/* The replay through the replaying process's own allocator (--system). */
typedef struct rp_system {
	char allocator[64];   /* the object that defines malloc, e.g. libjemalloc.so.2 */
	uint64_t ops;         /* malloc, calloc, realloc and free calls made */
	double ns_per_op;     /* mean time inside those calls */
	uint64_t rss_start, rss_peak, rss_end; /* resident bytes, peak sampled every 4096 ops */
	uint64_t threads;     /* threads in the trace (replayed in order on one) */
} rp_system;

/* What a replay counted. */
struct rp_replay_result {
	uint64_t events, requests;
	uint64_t free_unknown, realloc_unknown, alloc_over_live; /* anomalies */
	uint64_t examples[3];    /* the first address of each anomaly kind */
	uint64_t peak_live, live_end; /* requested bytes of live blocks */
	uint64_t snapshots, snapshots_mismatched;
	bool malloc_layer;
	int nmodels;
	rp_model_result models[RP_MAX_MODELS];
	bool has_system;
	rp_system system;
};

/* Replays everything rd yields; path names it in messages; res (may be
 * NULL) gets the counts.  Returns the exit status (RP_EXIT_*): 1 when a
 * snapshot check failed. */
int rp_replay_run(tf_reader *rd, const rp_replay_opts *o, const char *path,
		  rp_replay_result *res);

#endif
