/*
 * rp_result.h - what a replay found: the traced process's facts, each
 * model's figures (rp_measures.h) and the trace's counts.  The engine
 * (rp_replay.h) fills one; the sinks of reports/ read it.
 */
#ifndef ARENATRACE_RP_RESULT_H
#define ARENATRACE_RP_RESULT_H

#include "rp_measures.h"
#include "rp_moments.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RP_MAX_MODELS 8
/* Subinterpreters' heaps replayed alive at once, at most (each some 50 KB
 * and a model per model): the records of more are not replayed, and no
 * model is compared (RP_NC_HEAPS_LOST). */
#define RP_HEAPS_LIVE_MAX 1024

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
	uint64_t py_nodes;        /* of those, Python frames (FORMAT.md §5.5) */
	bool complete;            /* the end record was read */
	uint64_t dropped;         /* events the tracer could not record (its end record) */
	/* isolated subinterpreters' obmalloc states (heap records), not
	 * replayed: how many (by address), their requests, their arenas
	 * allocated and freed (rp_heaps.c) */
	uint64_t other_heaps, other_heap_requests, other_heap_arenas, other_heap_arenas_freed;
	uint64_t other_heap_lost; /* their records no model could take (RP_NC_HEAPS_LOST) */
	uint64_t end_kind;        /* TF_END_* */
	int64_t exit_status;
	/* initialisations of the interpreter (py_init records, FORMAT.md §5.4): 1 for a CPython
	 * trace without any; and the first one from which the models are not the interpreter's
	 * pymalloc (reinit_number 0: none), after reinit_at requests of the layer */
	uint64_t inits;
	uint64_t reinit_number, reinit_at;
	char reinit_allocator[24]; /* what served that one: not pymalloc (rp_reinit_why) */
	/* a forked child (its header's fork_from, fork_at): the parent's trace
	 * and its events before the fork; ancestors: the traces replayed first,
	 * up to their forks (rp_engine_run_chain), with inherited_events of
	 * theirs; parent_missing: the state the first of them started from is
	 * not in any trace replayed (a child replayed alone) */
	char fork_from[512];
	uint64_t fork_at;
	uint32_t ancestors;
	uint64_t inherited_events;
	bool parent_missing;
} rp_facts;

/* Whether a model's addresses and arenas were compared with the
 * interpreter's (RP_COMPARED), or why not: the malloc layer; pymalloc did
 * not serve the interpreter; the model is not the profile of the recorded
 * version; a --gc off twin; the trace's arenas are not of its size; the
 * interpreter was initialised again and another allocator than pymalloc
 * served it from then on (rp_reinit_why); a forked child replayed without
 * its parent's trace; subinterpreters' heaps that could not be replayed. */
enum { RP_COMPARED, RP_NC_MALLOC_LAYER, RP_NC_NOT_PYMALLOC, RP_NC_PROFILE, RP_NC_GC_OFF,
       RP_NC_ARENA_SIZE, RP_NC_FORKED, RP_NC_REINIT, RP_NC_HEAPS_LOST };

/* The arena cross-check's parts (rp_xcheck.c), of a compared model; the
 * total is their sum: (a) the interpreter freed an arena (arena_free) the
 * model did not release with it; (b) the model released an arena the
 * interpreter did not free with it (later, or never); (c) an arena the
 * interpreter allocated or freed that the model never held; (d) an arena
 * the model placed itself, the trace having none left to give. */
typedef struct rp_arena_mismatch {
	uint64_t freed_held, released_kept, recorded_unused, unrecorded;
} rp_arena_mismatch;

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
	uint64_t arena_mismatch; /* the sum of arena_parts */
	rp_arena_mismatch arena_parts;
	int compared;            /* RP_COMPARED, or RP_NC_*: the two counts above mean nothing */
	uint64_t errors;         /* requests the model refused */
	bool recorded_bases;     /* its arenas were placed where the trace's were, and its
				  * addresses compared with the interpreter's */
	const char *stats;       /* its final state as sys._debugmallocstats() prints it
				  * (rp_config.stats), else NULL; valid until rp_engine_free */
	rp_waste waste_peak, waste_end; /* at the moment of peak held, and at the end */
	const rp_series *series;        /* valid until rp_engine_free */
	rp_pinning pinning;             /* at the end */
	rp_pinning pinning_peak;        /* at the peak moment, when one was analysed */
	uint64_t peak_request, peak_time; /* the request (1-based) after which held peaked */
	uint64_t worst_request, worst_time, worst_waste; /* held minus live at its largest */
	int nmoments;                   /* moments analysed (rp_config.at), in trace order */
	const rp_moment *moments;       /* valid until rp_engine_free */
	uint32_t pool_size, align;      /* the profile's parameters */
	uint32_t threshold;
	bool keep_empty_arena;
	rp_classes classes_end, classes_peak; /* peak: at the peak moment */
	const rp_arenas *arenas;        /* valid until rp_engine_free */
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
	uint64_t heap_peak, heap_end; /* what it holds for the blocks: at most (sampled), at the end */
	uint64_t rss_start, rss_peak, rss_end; /* resident bytes of the allocator's process */
	uint64_t threads;     /* threads in the trace (replayed in order on one) */
} rp_system;

/* Requests that do not add up, which every model skips. */
enum { RP_ANOMALY_FREE_UNKNOWN, RP_ANOMALY_REALLOC_UNKNOWN, RP_ANOMALY_ALLOC_OVER_LIVE,
       RP_ANOMALY_KINDS };

/* What a replay counted. */
typedef struct rp_replay_result {
	uint64_t events, requests;
	uint64_t free_unknown, realloc_unknown, alloc_over_live; /* anomalies */
	/* a forked child replayed without its parent's state: frees and
	 * reallocs of blocks it inherited (skipped as anomalies are, not
	 * counted as such) */
	uint64_t inherited_unknown;
	uint64_t examples[RP_ANOMALY_KINDS]; /* the first address of each (RP_ANOMALY_*) */
	uint64_t peak_live, live_end; /* requested bytes of live blocks */
	uint64_t snapshots, snapshots_mismatched;
	uint64_t snapshots_unchecked; /* --check-snapshots: not pymalloc's (below) */
	uint64_t snapshots_elsewhere; /* --check-snapshots: taken on a subinterpreter's heap */
	bool malloc_layer;
	/* the Python layer, and pymalloc served the interpreter: a model of the recorded
	 * version's profile is compared with it (each model's own `compared` says) */
	bool compared;
	int nmodels;
	rp_model_result models[RP_MAX_MODELS];
	bool has_system;
	rp_system system;
	uint64_t gc_passes[RP_GC_GENERATIONS]; /* completed passes per generation */
	uint64_t gc_unfinished;  /* gc_start without its gc_stop */
	uint32_t npasses;        /* passes kept (at most RP_GC_PASSES_MAX) */
	const rp_gc_pass *passes; /* valid until rp_engine_free */
	rp_facts facts;
	/* call sites that allocated, by bytes; and the stack tree to name
	 * their frames (node id n is [n - 1]: its parent's id and its frame, a
	 * return address or a Python frame, tf_py_frame of traces/tf_record.h);
	 * valid until rp_engine_free */
	uint64_t ncallsites;
	const rp_callsite *callsites;
	uint64_t nnodes;
	const uint64_t *node_parent, *node_ip;
	/* marks read (RP_MARKS_KEPT kept, until rp_engine_free); the interpreter's exit */
	uint64_t nmarks;
	uint32_t nmarks_kept;
	const rp_mark *marks;
	bool has_exit;
	uint64_t exit_request, exit_time;
} rp_replay_result;

/* NULL when m was compared with the interpreter, else why not, in words
 * (into buf; 96 bytes are enough). */
const char *rp_not_compared(const rp_replay_result *res, const rp_model_result *m, char *buf,
			    size_t cap);
/* Why the models stop being the interpreter's pymalloc at a new initialisation
 * (facts.reinit_number != 0), in words, in buf; NULL when they do not. */
const char *rp_reinit_why(const rp_facts *x, char *buf, size_t cap);

/* A model's name in tables: its profile, and " gc-off" for a --gc off
 * twin; writes buf (48 bytes are enough) and returns it. */
const char *rp_model_label(const rp_model_result *m, char *buf, size_t cap);

#endif
