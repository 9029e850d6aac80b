/*
 * rp_internal.h - what the replay engine's files share (replay/rp_*.c):
 * its state, the address map and the small map of 64-bit keys, and the
 * functions one file calls in another.  Not for use outside replay/.
 *
 * The engine keeps the trace's live blocks (real address -> requested
 * size, stack and time, each model's own block): requests that do not add
 * up are anomalies that every model skips, so all models and the trace
 * agree on what is live.  A model whose arena size is the recorded
 * interpreter's takes each new arena's base from the trace's arena_alloc
 * records, so every address it hands out can be compared with the
 * interpreter's (allocator/MODEL.md).
 */
#ifndef ARENATRACE_RP_INTERNAL_H
#define ARENATRACE_RP_INTERNAL_H

#include "pym.h"
#include "rp_replay.h"
#include "rp_system.h"
#include "tf.h"
#include "u64map.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define QCAP 64 /* arena bases recorded ahead of the request that uses them */
#define MAX_MODELS RP_MAX_MODELS
#define WITHHELD_KEY0 (UINT64_C(1) << 63) /* keys of withheld blocks in the address map */

/* ---- the maps (common/u64map.h) ----
 * The address map (r->live): real address -> the block's record, the
 * values below then one model address per model and --system's id, so a
 * request costs one probe whatever the number of models.  The small maps
 * (arena records, pinning's passes) hold one value per key (u64map_put,
 * u64map_del). */

enum { A_SIZE, A_STACK, A_MODEL }; /* a live block's values: requested size, stack word, models */

/* The A_STACK word: the stack id in its low 32 bits (request() counts ids
 * beyond as no stack) and the allocation time in its high 32, as a float
 * of ns: to 1 part in 16 million (60 ns at a second, 0.2 ms at an hour),
 * in one word, as 100 M live blocks cost 800 MB a word. */
#define STACK_ID_MAX UINT32_MAX
static inline uint64_t stack_word(uint64_t stack, uint64_t time_ns)
{
	const float t = (float)time_ns;
	uint32_t bits;
	memcpy(&bits, &t, sizeof(bits));
	return (uint64_t)bits << 32 | stack;
}
static inline uint64_t word_stack(uint64_t w)
{
	return w & STACK_ID_MAX;
}
static inline uint64_t word_time(uint64_t w)
{
	const uint32_t bits = (uint32_t)(w >> 32);
	float t;
	memcpy(&t, &bits, sizeof(t));
	return t < 0x1p64f ? (uint64_t)t : UINT64_MAX; /* a time near 2^64 rounds up */
}

/* ---- the engine's state ---- */

/* A series' open point, kept together in model_run and written to the
 * series' arrays when it closes: a request's sample touches its two cache
 * lines, not a line in each of the RP_NSERIES arrays. */
typedef struct rp_open_point {
	uint64_t time, v[RP_NSERIES];
} rp_open_point;

typedef struct rp_engine replay;

typedef struct model_run {
	pym *m;
	const replay *r;
	bool recorded_bases;  /* arena bases come from the trace */
	/* the arena cross-check's clock: NULL for the engine's requests and
	 * cur_realloc, else a subinterpreter heap's own (rp_heaps.c) */
	const uint64_t *clock;
	const bool *in_realloc;
	uint64_t queue[QCAP]; /* arena bases recorded but not yet used */
	unsigned qhead, qlen;
	uint64_t addr_mismatch, errors;
	/* the arena cross-check (rp_xcheck.c) */
	rp_arena_mismatch xc;
	uint64_t xc_taken;    /* the base rp_arena_source just gave from a record, or 0 */
	u64map xc_lives;      /* base of an arena the model took from a record -> XC_HELD,
			       * or the request that released it, the interpreter's
			       * arena_free not read yet */
	struct xc_pending *xc_pend; /* arena_free records waiting for the model's release */
	uint32_t xc_npend, xc_cap;
	uint64_t py_live;     /* requested bytes of the live blocks this model serves from pools */
	bool gc_off;          /* withholds the frees of GC passes (--gc off) */
	uint64_t live, peak_live; /* the trace's live bytes plus those withheld */
	rp_model_gc gc;
	rp_waste waste_peak;  /* at the moment of peak held */
	uint64_t peak_request;  /* the request after which held peaked */
	uint64_t peak_time;     /* of that request */
	rp_pinning pin_peak;    /* pinning at the peak (its moment, when one was taken) */
	uint64_t worst_waste;   /* held minus live bytes, at most */
	uint64_t worst_request, worst_time; /* after which request it was first that large */
	rp_moment *moments;     /* the moments taken (rp_moments.c) */
	int nmoments;
	int16_t moment_at[RP_MOMENTS_MAX]; /* the trigger that took each */
	uint64_t moment_mark[RP_MOMENTS_MAX]; /* a mark's: its occurrence, else 0 */
	uint64_t held, peak_held, arenas_peak;
	uint64_t live_at_peak_held, held_at_peak_live;
	rp_series *series;
	rp_open_point open;   /* the series' open point (pools and empty arenas as
			       * counts, arena bytes not kept: made when it closes) */
	const pym_usage *usage; /* the model's, in place (rp_model_ready) */
	uint64_t arena_size, pool_size;
	double jw1_sum, jw1_time; /* time-weighted held/live */
	rp_arenas arenas;     /* lifelines */
	uint32_t arenas_cap;
	u64map arena_idx;     /* base of a held arena -> its record */
	uint64_t next_arena_id;
	rp_classes classes_peak;
} model_run;

/* The heaps of isolated subinterpreters (rp_heaps.c), at most
 * RP_HEAPS_LIVE_MAX alive at once (rp_result.h). */
typedef struct rp_heap rp_heap;
typedef struct rp_heaps {
	bool any;       /* a heap record named a state other than the main one */
	u64map threads; /* thread -> its state and the block that ends it, for the
			 * threads not on the main heap */
	u64map live;    /* state -> its heap (index in heap[]), while not freed */
	u64map blocks;  /* block -> the heap its free ends */
	u64map arenas;  /* arena base -> the heap it is of, not freed yet */
	rp_heap **heap; /* every heap replayed, NULL once ended */
	uint32_t nheap, cap, nlive;
	bool cached;    /* cur is the heap of thread tid (NULL: the main heap) */
	uint32_t tid;
	rp_heap *cur;
	/* the ended heaps' exactness, per model: added to the main heap's */
	uint64_t addr_mismatch[MAX_MODELS], errors[MAX_MODELS];
	rp_arena_mismatch xc[MAX_MODELS];
} rp_heaps;

struct rp_engine {
	model_run mr[MAX_MODELS];
	int n;
	bool malloc_layer;
	u64map live;         /* the trace's live blocks (the address map) */
	uint64_t *node_parent, *node_ip; /* stack nodes by id */
	size_t nnodes, cap_nodes;
	uint64_t live_bytes, peak_live;
	uint64_t requests;
	/* GC passes: frees on gc_thread between gc_start and gc_stop are the
	 * collector's */
	bool in_gc, any_gc_off;
	uint32_t gc_thread;
	rp_gc_pass pass;      /* the open one */
	rp_gc_pass *passes;
	uint32_t npasses;
	uint64_t gc_passes[RP_GC_GENERATIONS], gc_unfinished;
	uint64_t next_withheld; /* keys of withheld blocks in the address map */
	/* arena lifelines: a tick every tick_step requests */
	uint32_t ticks, tick_step, tick_filled;
	/* call sites, indexed by stack id (0 = none, up to nnodes) */
	uint64_t *site_allocs, *site_bytes, *site_live, *site_live_peak;
	size_t site_cap;
	rp_facts facts;
	uint64_t max_time;
	uint64_t free_unknown, realloc_unknown, alloc_over_live;
	uint64_t inherited_unknown; /* facts.parent_missing: frees of blocks from before its trace */
	uint64_t examples[RP_ANOMALY_KINDS]; /* first address of each anomaly kind */
	/* a forked child after its ancestors (rp_engine_run_chain): each later
	 * trace's ids and times are moved past those of the traces before it,
	 * so one stack tree, one set of code objects, modules and threads, one
	 * time axis (from the first header's start) hold them all */
	struct {
		bool on;
		uint64_t nodes, codes, modules, threads, time;
	} shift;
	uint64_t max_code, max_module, max_thread; /* ids fed so far (shifted) */
	uint64_t origin_mono; /* the first header's start_mono_ns */
	bool joining;         /* the next header continues this replay */
	int segment;          /* the trace of the chain being read, from 0 */
	uint64_t last_time;
	uint64_t snapshots, snap_bad, snap_unchecked;
	bool not_pymalloc;   /* the trace says pymalloc did not serve the interpreter */
	bool reinit_apart;   /* from a new initialisation on, the models are not its pymalloc
			      * (facts.reinit_number) */
	bool cur_realloc;    /* the request being replayed is a realloc (rp_xcheck.c) */
	uint64_t oom;        /* requests dropped: no memory for the address map */
	bool system;         /* --system: the column after the models holds the blocks' ids there */
	rp_sys *sysrun;      /* --system: the allocator's process */
	rp_system sys;
	/* the engine's own state (rp_engine.c) */
	rp_config cfg;
	pym_params params[MAX_MODELS];
	int nparams;
	uint64_t events;
	int failed;          /* the error that stopped the replay, 0 if none */
	bool finished;
	char *buf;           /* statistics text, for snapshots */
	size_t buf_cap;
	char *stats[MAX_MODELS]; /* cfg.stats: each model's final statistics */
	rp_callsite *callsites;
	/* moments (rp_moments.c): the triggers, and what every replay notes */
	rp_at *at;           /* cfg.at, copied */
	bool *at_taken;      /* per trigger: taken (every-occurrence marks never are) */
	uint64_t at_next_request, at_next_time;
	uint64_t lead_told;    /* cfg.lead: the requests it was last told */
	uint64_t taking_mark;  /* while a mark's moments are taken: its occurrence */
	uint64_t follow_bound; /* cfg.follow: the requests up to which the follow
				* triggers hold the lead's candidates, a lag ahead */
	rp_mark *marks;      /* the first RP_MARKS_KEPT marks */
	uint32_t nmarks_kept;
	uint64_t nmarks;
	bool has_exit;       /* a py_finalize record was read */
	bool in_teardown;    /* since the last py_finalize, no py_init */
	uint64_t exit_request, exit_time;
	rp_replay_result result;
	rp_heaps heaps;      /* rp_heaps.c */
	uint64_t snap_elsewhere; /* snapshots taken on another interpreter's heap */
	char msg[320];       /* rp_engine_error */
};

enum op { OP_NONE, OP_ALLOC, OP_REALLOC, OP_FREE };


/* ---- across the engine's files ---- */

/* rp_arenas.c: arena bases from the trace, and the models' arena lifelines */
uint64_t rp_arena_source(void *ctx, uint64_t size);
void rp_on_arena_alloc(replay *r, const tf_arena *a);
void rp_on_arena_alloc_in(model_run *runs, int n, const tf_arena *a);
void rp_on_model_arena(void *ctx, uint64_t base, bool released);
void rp_take_tick(replay *r);
void rp_arenas_end(const replay *r, model_run *mr);

/* rp_xcheck.c: the models' arena releases against the trace's arena_free */
void rp_xcheck_taken(model_run *mr, uint64_t base);    /* from a record, by rp_arena_source */
void rp_xcheck_model_arena(model_run *mr, uint64_t base, bool released);
void rp_xcheck_arena_alloc(model_run *mr, uint64_t base); /* before it is queued */
void rp_xcheck_arena_free(replay *r, const tf_arena *a);
void rp_xcheck_after_request(replay *r);
/* the same for any runs (a subinterpreter heap's), each by its own clock */
void rp_xcheck_arena_free_in(model_run *runs, int n, const tf_arena *a);
void rp_xcheck_after_request_in(model_run *runs, int n);
void rp_xcheck_heap_end(model_run *mr, bool frees_all, bool model_empty);
void rp_xcheck_end(model_run *mr);
void rp_xcheck_free(model_run *mr);

/* rp_measure.c (and rp_measure below): held bytes, peaks, the waste split,
 * series, size classes */
void rp_waste_now(const model_run *mr, rp_waste *w);
/* After pym_create: what rp_measure reads of the model after every request,
 * kept in mr (the usage in place, the sizes). */
void rp_model_ready(model_run *mr);
/* A series' point opens (when all are used, pairs merge and the step
 * doubles); the open point is written into the series. */
void rp_series_open(rp_series *s, rp_open_point *o);
void rp_series_close(const model_run *mr, rp_series *s, const rp_open_point *o);

static inline void rp_keep_max(uint64_t *at, uint64_t v)
{
	*at = v > *at ? v : *at;
}

/* After a request: held bytes, peaks and the fragmentation sums.  It runs
 * for every model after every request, so it is inline here, the model's
 * figures read in place (a copy's wide loads of fields the request just
 * stored would wait for the stores), and the series' open point takes the
 * maximum of each figure without a branch (pools and empty arenas as counts,
 * arena bytes from the arenas: rp_series_close makes them bytes). */
static inline __attribute__((always_inline)) void rp_measure(replay *r, model_run *mr,
							       uint64_t dt)
{
	if (mr->held && mr->live && dt) {
		mr->jw1_sum += (double)dt * (double)mr->held / (double)mr->live;
		mr->jw1_time += (double)dt;
	}
	const pym_usage *u = mr->usage;
	mr->live = r->live_bytes + mr->gc.withheld.bytes;
	mr->held = pym_usage_held(u, mr->arena_size);
	if (mr->live >= mr->peak_live) {
		mr->peak_live = mr->live;
		mr->held_at_peak_live = mr->held;
	}
	if (mr->held > mr->peak_held) {
		mr->peak_held = mr->held;
		mr->live_at_peak_held = mr->live;
		mr->peak_request = r->requests;
		mr->peak_time = r->last_time;
		rp_waste_now(mr, &mr->waste_peak);
	}
	/* the worst moment: where fragmentation costs the most; for a Python
	 * program, outside the interpreter's teardown (which frees nearly
	 * everything while the arenas go last), until it is initialised again */
	if (mr->held > mr->live && mr->held - mr->live > mr->worst_waste && !r->in_teardown) {
		mr->worst_waste = mr->held - mr->live;
		mr->worst_request = r->requests;
		mr->worst_time = r->last_time;
	}
	rp_keep_max(&mr->arenas_peak, u->arenas);
	rp_series *s = mr->series;
	if (!s)
		return;
	rp_open_point *o = &mr->open;
	if (__builtin_expect(s->filled == 0, 0))
		rp_series_open(s, o);
	o->time = r->last_time;
	rp_keep_max(&o->v[0], mr->live);
	rp_keep_max(&o->v[1], u->block_bytes);
	rp_keep_max(&o->v[2], u->pools_used);
	rp_keep_max(&o->v[4], u->arenas); /* and arena_bytes (v[3]) when it closes */
	rp_keep_max(&o->v[5], u->raw_bytes);
	rp_keep_max(&o->v[6], mr->py_live);
	rp_keep_max(&o->v[7], u->empty_arenas);
	if (++s->filled == s->step) {
		s->filled = 0;
		rp_series_close(mr, s, o);
	}
}
void rp_classes_now(const model_run *mr, rp_classes *c);
/* all (may be NULL): every stack's pinning at the end, for the call sites */
void rp_model_result_of(const replay *r, const model_run *mr, rp_model_result *out,
			rp_pin **all, size_t *nall);

/* rp_pinning.c: stack nodes, call sites, what pins the little-used arenas */
void rp_on_stack_node(replay *r, const tf_stack_node *nd);
void rp_site_alloc(replay *r, uint64_t stack, uint64_t n);
void rp_site_free(replay *r, uint64_t stack, uint64_t size);
void rp_sites_live_now(replay *r);
/* Frees the per-site arrays (none counted after). */
void rp_sites_free(replay *r);
rp_callsite *rp_callsites_end(const replay *r, const rp_pin *pins, size_t npins, uint64_t *n);
/* A stack's frames from its leaf outwards, the first RP_PIN_FRAMES (0-ended
 * when fewer; frames[] zeroed by the caller). */
void rp_frames_of(const replay *r, uint64_t stack, uint64_t frames[RP_PIN_FRAMES]);
/* out->ranked is malloc'd: the caller frees it (rp_engine_free does). */
void rp_pinning_of(const replay *r, const model_run *mr, rp_pinning *out, rp_pin **all,
		   size_t *nall);

/* rp_lead.c: a leading engine's progress (rp_replay.h) */
#define RP_LEAD_LAG (1u << 18) /* requests the follower stays behind, at least */
#define LEAD_EVERY 4095u       /* the lead publishes when (requests & LEAD_EVERY) == 0 */
uint64_t rp_lead_lag(const rp_lead *l, uint64_t requests);
/* r's requests and candidates; false when the follower asked it to stop */
bool rp_lead_publish(rp_lead *l, const replay *r);
/* Waits until the lead has replayed want requests or is done; its n
 * models' peak and worst requests then; returns its requests
 * (UINT64_MAX once done). */
uint64_t rp_lead_wait(rp_lead *l, uint64_t want, int n, uint64_t *peak, uint64_t *worst);

/* rp_moments.c: moments analysed in full */
int rp_moments_start(replay *r); /* after the models exist: 0 or RP_E_* */
void rp_moment_release(rp_moment *m); /* what a moment holds: its ranked stacks */
void rp_moments_after_request(replay *r);
void rp_moments_before_time(replay *r, uint64_t time_ns);
void rp_moments_on_mark(replay *r, const tf_bytes *label);
void rp_moments_on_exit(replay *r);
void rp_moments_end(replay *r);

/* rp_gc.c: GC passes, and --gc off's withheld frees */
void rp_on_gc(replay *r, const tf_record *rec);
void rp_withhold(replay *r, uint64_t size, uint64_t stack_w, const uint64_t *old_m);

/* rp_heaps.c: the heaps of isolated subinterpreters, each replayed through
 * models of its own; the first three are true when the record is another
 * heap's (and replayed there) */
bool rp_heap_request(replay *r, const tf_record *rec);
bool rp_heap_arena_alloc(replay *r, const tf_record *rec);
bool rp_heap_arena_free(replay *r, const tf_record *rec);
void rp_heap_block_freed(replay *r, uint64_t addr);
bool rp_heap_snapshot_elsewhere(replay *r, const tf_record *rec);
void rp_heap_record(replay *r, const tf_heap *h);
void rp_heaps_end(replay *r);
void rp_heaps_free(replay *r);
/* rp_engine.c's request steps, for rp_heaps.c */
enum op rp_request_op(const tf_record *rec, uint64_t *n);
uint64_t rp_model_apply(replay *r, model_run *mr, enum op op, uint64_t old, uint64_t old_n,
			uint64_t n, uint64_t real);
void rp_anomaly(replay *r, int kind, uint64_t addr);
/* rp_engine.c's header facts, for rp_lifecycle.c: the header's facts cut
 * to their fields' sizes; control characters made '?' */
void rp_facts_from_header(rp_facts *f, const tf_header *h);
void rp_printable(char *s);

/* rp_lifecycle.c: a forked child's trace after its ancestors', and an
 * interpreter initialised again */
/* The header of a trace that continues the replay: from here on its ids
 * and times move past everything fed so far. */
void rp_join(replay *r, const tf_header *h);
/* rec with the shift applied, in buf. */
const tf_record *rp_shifted(const replay *r, const tf_record *rec, tf_record *buf);
/* A py_init record: 0, or RP_E_NOMEM (the replay stops). */
int rp_on_py_init(replay *r, const tf_py_init *pi);

#endif
