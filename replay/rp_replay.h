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
	bool system;       /* also replay through a real allocator (rp_system.h: runs this
			    * executable again, so only from arenatrace itself) */
	bool gc_off;       /* also run every model as if cyclic GC were disabled */
	uint64_t progress_bytes; /* file size: a progress line on a terminal's stderr, 0 = none */
	bool quiet;        /* nothing on stderr */
	FILE *out;         /* statistics, differences, summary or JSON */
	/* called with the result before the replay's memory goes (series);
	 * not when the trace could not be read to its end */
	void (*inspect)(const rp_replay_result *res, void *ctx);
	void *inspect_ctx;
	/* symbolization (reports/rep_stacks.h): on_module gets each module and
	 * module_unload record with the number of stack nodes read so far;
	 * print_stack writes a pinning stack's frames after its summary line
	 * (NULL: the summary shows its first three return addresses) */
	void (*on_module)(const tf_record *rec, uint64_t nodes, void *ctx);
	void (*print_stack)(FILE *f, const struct rp_pin *pin, void *ctx);
	void *sym_ctx;
	/* --json: a pinning stack's frames symbolized, as lines (at most max),
	 * for its "symbols" key (NULL: no such key); leaf is the stack's node */
	int (*name_frame)(void *ctx, uint64_t ip, uint64_t leaf, const char **lines, int max);
	void *namer_ctx;
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

/* What keeps arenas that are held at low utilisation (at the end). */
#define RP_PIN_STACKS 10
#define RP_PIN_FRAMES 8
#define RP_SYMBOL_LINES 16 /* most lines of one frame's "symbols" in --json */
typedef struct rp_pin {
	uint64_t stack;                 /* leaf node id in the trace, 0 = no stack */
	uint64_t frames[RP_PIN_FRAMES]; /* return addresses from the leaf outwards, 0-ended */
	uint64_t arenas;                /* low arenas holding its blocks */
	uint64_t blocks, bytes;         /* its live blocks in them */
	uint64_t first_ns, last_ns;     /* when the oldest and newest of them were
					 * allocated (or reallocated), to the ms */
} rp_pin;

typedef struct rp_pinning {
	uint64_t arenas_held, arenas_low; /* low: live requested bytes < 1/4 of the arena */
	int nstacks;
	rp_pin stacks[RP_PIN_STACKS];     /* by arenas pinned, then bytes */
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

/* The traced process (header and end record). */
typedef struct rp_facts {
	char exe[512];
	char argv[1024];          /* the arguments, separated by spaces (cut at 1023 bytes) */
	char python[32];          /* CPython version, empty if none */
	char python_allocator[24]; /* what served its OBJ domain (python_allocator), empty if unsaid */
	char tool_version[32];
	uint64_t pid, ppid;
	uint64_t start_real_ns;   /* wall clock at the start, ns since the epoch */
	uint64_t span_ns;         /* time of the last event */
	uint64_t threads, modules, stack_nodes;
	bool complete;            /* the end record was read */
	uint64_t end_kind;        /* TF_END_* */
	int64_t exit_status;
} rp_facts;

/* One model's result. */
typedef struct rp_model_result {
	char profile[32];
	bool gc_off;             /* this run withheld the collector's frees */
	uint64_t peak_live;      /* requested bytes of live blocks, at most (withheld included) */
	uint64_t live_end;
	rp_model_gc gc;
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
	uint32_t pool_size, align;      /* the profile's parameters */
	uint32_t threshold;
	bool keep_empty_arena;
	rp_classes classes_end, classes_peak; /* peak: when pinning_peak was taken */
	const rp_arenas *arenas;        /* valid until rp_replay_run returns */
} rp_model_result;

/* The per-model figures put side by side (compare.csv, the HTML page's
 * comparison), defined once: X(key, label, kind, value of the
 * `const rp_model_result *m`), kind 'u' for counts and bytes, 'f' for ratios. */
#define RP_MODEL_METRICS(X)                                                               \
	X(arenas_allocated, "arenas allocated", 'u', m->arenas_total)                     \
	X(arenas_released, "arenas released", 'u', m->arenas_total - m->arenas_current)   \
	X(arenas_highwater, "arenas held at most", 'u', m->arenas_highwater)              \
	X(arenas_end, "arenas held at the end", 'u', m->arenas_current)                   \
	X(peak_live_bytes, "peak live bytes", 'u', m->peak_live)                          \
	X(peak_held_bytes, "peak held bytes", 'u', m->peak_held)                          \
	X(end_held_bytes, "held bytes at the end", 'u', m->held_end)                      \
	X(jw1, "held/live over time (jw1)", 'f', m->jw1)                                  \
	X(jw2, "held/live at peak live (jw2)", 'f', m->jw2)                               \
	X(jw3, "held/live at peak held (jw3)", 'f', m->jw3)                               \
	X(jw4, "peak held/peak live (jw4)", 'f', m->jw4)                                  \
	X(peak_requested, "at peak: requested", 'u', m->waste_peak.requested)             \
	X(peak_internal, "at peak: internal waste", 'u', m->waste_peak.internal)          \
	X(peak_free_blocks, "at peak: free blocks in used pools", 'u',                    \
	  m->waste_peak.free_blocks)                                                      \
	X(peak_empty_pools, "at peak: empty pools", 'u', m->waste_peak.empty_pools)       \
	X(peak_empty_arenas, "at peak: empty arenas kept", 'u', m->waste_peak.empty_arenas) \
	X(peak_large, "at peak: large objects", 'u', m->waste_peak.large)                 \
	X(gc_freed_bytes, "bytes freed by the collector", 'u', m->gc.by_gc.bytes)         \
	X(refcount_freed_bytes, "bytes freed by reference counting", 'u',                 \
	  m->gc.by_refcount.bytes)                                                        \
	X(gc_withheld_bytes, "bytes withheld (gc off)", 'u', m->gc.withheld.bytes)        \
	X(arenas_released_in_gc, "arenas released inside GC passes", 'u',                 \
	  m->gc.arenas_released_in_gc)

/* The replay through a real allocator (--system, replay/rp_system.h). */
typedef struct rp_system {
	char allocator[64];   /* the object that defines malloc, e.g. libjemalloc.so.2 */
	uint64_t ops;         /* malloc, calloc, realloc and free calls made */
	double ns_per_op;     /* mean time inside those calls */
	uint64_t heap_peak, heap_end; /* resident bytes the allocator holds for the replayed
				       * blocks: at most (sampled), and at the end */
	uint64_t rss_start, rss_peak, rss_end; /* resident bytes of the allocator's process */
	uint64_t threads;     /* threads in the trace (replayed in order on one) */
} rp_system;

/* What a replay counted. */
struct rp_replay_result {
	uint64_t events, requests;
	uint64_t free_unknown, realloc_unknown, alloc_over_live; /* anomalies */
	uint64_t examples[3];    /* the first address of each anomaly kind */
	uint64_t peak_live, live_end; /* requested bytes of live blocks */
	uint64_t snapshots, snapshots_mismatched;
	uint64_t snapshots_unchecked; /* --check-snapshots: not pymalloc's (below) */
	bool malloc_layer;
	/* the Python layer's addresses were compared with the interpreter's: false
	 * when pymalloc did not serve it (tf_pymalloc_served); then no model's
	 * addr_mismatch or arena_mismatch means anything */
	bool compared;
	int nmodels;
	rp_model_result models[RP_MAX_MODELS];
	bool has_system;
	rp_system system;
	uint64_t gc_passes[3];   /* completed passes per generation */
	uint64_t gc_unfinished;  /* gc_start without its gc_stop */
	uint32_t npasses;        /* passes kept (at most RP_GC_PASSES_MAX) */
	const rp_gc_pass *passes; /* valid until rp_replay_run returns */
	rp_facts facts;
	/* call sites that allocated, by bytes; and the stack tree to name
	 * their frames (node id n is [n - 1]); valid until rp_replay_run returns */
	uint64_t ncallsites;
	const rp_callsite *callsites;
	uint64_t nnodes;
	const uint64_t *node_parent, *node_ip;
};

/* A model's name in tables: its profile, and " gc-off" for a --gc off
 * twin; writes buf (48 bytes are enough) and returns it. */
const char *rp_model_label(const rp_model_result *m, char *buf, size_t cap);

/* Replays everything rd yields; path names it in messages; res (may be
 * NULL) gets the counts.  Returns the exit status (CLI_EXIT_*): 1 when a
 * snapshot check failed. */
int rp_replay_run(tf_reader *rd, const rp_replay_opts *o, const char *path,
		  rp_replay_result *res);

#endif
