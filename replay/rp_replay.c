/*
 * rp_replay.c - `arenatrace replay`: streams a trace's allocator requests
 * through one or several pymalloc models (allocator/pym.h) in one decode.
 *
 * Layers: python feeds the CPython MEM/OBJ domain requests; malloc feeds the
 * malloc family, as if pymalloc served the program.  The replay keeps the
 * live blocks of the trace (real address -> requested size): requests that
 * do not add up (free of an unknown block, double free, allocation over a
 * live block) are counted as anomalies and skipped by every model.  Each
 * model maps real addresses to its own only where the two differ.
 *
 * Arena bases: a model whose arena size is the recorded interpreter's takes
 * each new arena's base from the trace's arena_alloc records (recorded just
 * before the request that needed the arena), so pool alignment matches the
 * real process, and every address it hands out is compared with the
 * interpreter's; other models place arenas themselves.
 *
 * Metrics per model, updated after every request: arenas and bytes held
 * (arenas plus large-object bytes) against requested live bytes, their
 * peaks, and the four Johnstone-Wilson fragmentation measures (ISMM 1998):
 *   jw1  held / live averaged over time (time-weighted, where live > 0)
 *   jw2  held / live at the moment of peak live
 *   jw3  held / live at the moment of peak held
 *   jw4  peak held / peak live
 */
#include "pym.h"
#include "cli.h"
#include "rp_replay.h"
#include "rp_system.h"
#include "tf.h"
#include "tf_summary.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


#define QCAP 64
#define MAX_MODELS RP_MAX_MODELS
#define WITHHELD_KEY0 (UINT64_C(1) << 63) /* keys of withheld blocks in the address map */

/* ---- an open-addressing map of 64-bit keys (key + 2 stored; 1 = deleted) ---- */

typedef struct xmap {
	uint64_t *k, *v;
	size_t cap, used, live; /* used counts deleted slots too */
} xmap;

static size_t xslot(uint64_t k, size_t cap)
{
	return (size_t)((k * 0x9E3779B97F4A7C15ull) >> 21) & (cap - 1);
}

static uint64_t *xfind(const xmap *x, uint64_t k)
{
	if (!x->cap)
		return NULL;
	for (size_t i = xslot(k + 2, x->cap);; i = (i + 1) & (x->cap - 1)) {
		if (x->k[i] == k + 2)
			return &x->v[i];
		if (!x->k[i])
			return NULL;
	}
}

static bool xput(xmap *x, uint64_t k, uint64_t v)
{
	uint64_t *have = xfind(x, k);
	if (have) {
		*have = v;
		return true;
	}
	if ((x->used + 1) * 2 > x->cap) {
		/* grow, or only drop the deleted slots when few are live */
		size_t cap = !x->cap ? 256 : x->live * 4 > x->cap ? x->cap * 2 : x->cap;
		xmap n = {calloc(cap, 8), malloc(cap * 8), cap, 0, 0};
		if (!n.k || !n.v)
			return free(n.k), free(n.v), false;
		for (size_t i = 0; i < x->cap; i++)
			if (x->k[i] > 1)
				xput(&n, x->k[i] - 2, x->v[i]);
		free(x->k), free(x->v);
		*x = n;
	}
	size_t i = xslot(k + 2, x->cap);
	while (x->k[i] > 1)
		i = (i + 1) & (x->cap - 1);
	x->used += !x->k[i];
	x->live++;
	x->k[i] = k + 2, x->v[i] = v;
	return true;
}

static void xdel(xmap *x, uint64_t k)
{
	uint64_t *v = xfind(x, k);
	if (v) {
		x->k[v - x->v] = 1;
		x->live--;
	}
}

static void xfree(xmap *x)
{
	free(x->k), free(x->v);
	memset(x, 0, sizeof(*x));
}

/* ---- the address map: real address -> size, stack, time, each model's block ----
 * One open-addressing table with the record inline (stride words per slot:
 * key + 2, requested size, stack id and allocation time, one model address
 * per model), so a request costs one probe whatever the number of models.
 * Linear probing with deletion by backward shift: no tombstones, so the
 * table stays at most 5/8 full of live blocks and as small as it can be
 * (its random accesses are most of a replay's cache misses). */

typedef struct amap {
	uint64_t *t;
	size_t cap, live;
	unsigned stride;
} amap;

enum { A_KEY, A_SIZE, A_STACK, A_MODEL };

/* The A_STACK word: the stack id in its low 32 bits (request() counts ids
 * beyond as no stack) and the allocation time in its high 32, as a float
 * of ns: to 1 part in 16 million (60 ns at a second, 0.2 ms at an hour),
 * in one word, as 100 M live blocks cost 800 MB a word. */
#define STACK_ID_MAX UINT32_MAX
static uint64_t stack_word(uint64_t stack, uint64_t time_ns)
{
	const float t = (float)time_ns;
	uint32_t bits;
	memcpy(&bits, &t, sizeof(bits));
	return (uint64_t)bits << 32 | stack;
}
static uint64_t word_stack(uint64_t w)
{
	return w & STACK_ID_MAX;
}
static uint64_t word_time(uint64_t w)
{
	const uint32_t bits = (uint32_t)(w >> 32);
	float t;
	memcpy(&t, &bits, sizeof(t));
	return t < 0x1p64f ? (uint64_t)t : UINT64_MAX; /* a time near 2^64 rounds up */
}

static uint64_t *amap_find(const amap *m, uint64_t key)
{
	if (!m->cap)
		return NULL;
	for (size_t i = xslot(key + 2, m->cap);; i = (i + 1) & (m->cap - 1)) {
		uint64_t *s = &m->t[i * m->stride];
		if (s[A_KEY] == key + 2)
			return s;
		if (!s[A_KEY])
			return NULL;
	}
}

/* Tables of a MiB or more are mappings of their own, so that growing
 * gives the old table's memory back while its entries move: the old and
 * the new table at once made most of the peak RSS of a replay of 100 M
 * live blocks. */
#define BIG_TABLE (1u << 20)
#define RELEASE_STEP (2u << 20) /* the old table is let go in steps of this */

static void *table_alloc(size_t bytes)
{
	if (bytes < BIG_TABLE)
		return calloc(1, bytes);
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p; /* zero-filled */
}

/* Frees a table but its first `gone` bytes, already unmapped. */
static void table_free(void *p, size_t bytes, size_t gone)
{
	if (!p)
		return;
	if (bytes < BIG_TABLE)
		free(p);
	else if (bytes > gone)
		munmap((char *)p + gone, bytes - gone);
}

static size_t amap_bytes(const amap *m)
{
	return m->cap * m->stride * sizeof(uint64_t);
}

/* A new slot for key (not in the map); NULL when out of memory.  Slots
 * returned earlier may move. */
static uint64_t *amap_insert(amap *m, uint64_t key)
{
	if ((m->live + 1) * 8 > m->cap * 5) {
		size_t cap = m->cap ? m->cap * 2 : 1024, old = amap_bytes(m), gone = 0;
		uint64_t *t = table_alloc(cap * m->stride * sizeof(uint64_t));
		if (!t)
			return NULL;
		for (size_t i = 0; i < m->cap; i++) {
			const uint64_t *o = &m->t[i * m->stride];
			if (o[A_KEY]) {
				size_t j = xslot(o[A_KEY], cap);
				while (t[j * m->stride])
					j = (j + 1) & (cap - 1);
				memcpy(&t[j * m->stride], o, m->stride * sizeof(uint64_t));
			}
			size_t read = (i + 1) * m->stride * sizeof(uint64_t);
			if (old >= BIG_TABLE && read - gone >= RELEASE_STEP) {
				size_t upto = read & ~(size_t)(RELEASE_STEP - 1);
				munmap((char *)m->t + gone, upto - gone);
				gone = upto;
			}
		}
		table_free(m->t, old, gone);
		m->t = t;
		m->cap = cap;
	}
	size_t i = xslot(key + 2, m->cap);
	while (m->t[i * m->stride])
		i = (i + 1) & (m->cap - 1);
	uint64_t *s = &m->t[i * m->stride];
	m->live++;
	memset(s, 0, m->stride * sizeof(uint64_t));
	s[A_KEY] = key + 2;
	return s;
}

/* Deletes a slot: the later slots of its run whose home is not between
 * the hole and themselves move back into the hole. */
static void amap_del(amap *m, uint64_t *slot)
{
	size_t mask = m->cap - 1, hole = (size_t)(slot - m->t) / m->stride;
	for (size_t j = hole;;) {
		j = (j + 1) & mask;
		uint64_t *s = &m->t[j * m->stride];
		if (!s[A_KEY])
			break;
		size_t home = xslot(s[A_KEY], m->cap);
		bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
		if (!stays) {
			memcpy(&m->t[hole * m->stride], s, m->stride * sizeof(uint64_t));
			hole = j;
		}
	}
	m->t[hole * m->stride + A_KEY] = 0;
	m->live--;
}

/* ---- state ---- */

/* A series' open point, kept together in model_run and written to the
 * series' arrays when it closes: a request's sample touches its two cache
 * lines, not a line in each of the RP_NSERIES arrays. */
typedef struct rp_open_point {
	uint64_t time, v[RP_NSERIES];
} rp_open_point;

struct replay;

typedef struct model_run {
	pym *m;
	const struct replay *r;
	bool recorded_bases;  /* arena bases come from the trace */
	uint64_t queue[QCAP]; /* arena bases recorded but not yet used */
	unsigned qhead, qlen;
	uint64_t addr_mismatch, arena_mismatch, errors;
	uint64_t py_live;     /* requested bytes of the live blocks this model serves from pools */
	bool gc_off;          /* withholds the frees of GC passes (--gc off) */
	uint64_t live, peak_live; /* the trace's live bytes plus those withheld */
	rp_model_gc gc;
	rp_waste waste_peak;  /* at the moment of peak held */
	uint64_t peak_request;  /* the request after which held peaked */
	rp_pinning pin_peak;    /* pinning near the peak (see measure) */
	uint64_t pin_held;      /* held bytes when pin_peak was taken */
	uint64_t held, peak_held, arenas_peak;
	uint64_t live_at_peak_held, held_at_peak_live;
	rp_series *series;
	rp_open_point open;   /* the series' open point */
	double jw1_sum, jw1_time; /* time-weighted held/live */
	rp_arenas arenas;     /* lifelines */
	uint32_t arenas_cap;
	xmap arena_idx;       /* base of a held arena -> its record */
	uint64_t next_arena_id;
	rp_classes classes_peak;
} model_run;

typedef struct replay {
	model_run mr[MAX_MODELS];
	int n;
	bool malloc_layer;
	amap live;           /* the trace's live blocks */
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
	uint64_t gc_passes[3], gc_unfinished;
	uint64_t next_withheld; /* keys of withheld blocks in the address map */
	/* arena lifelines: a tick every tick_step requests */
	uint32_t ticks, tick_step, tick_filled;
	/* call sites, indexed by stack id (0 = none, up to nnodes) */
	uint64_t *site_allocs, *site_bytes, *site_live, *site_live_peak;
	size_t site_cap;
	rp_facts facts;
	uint64_t max_time;
	uint64_t free_unknown, realloc_unknown, alloc_over_live;
	uint64_t examples[3]; /* first address of each anomaly kind */
	uint64_t last_time;
	uint64_t snapshots, snap_bad, snap_unchecked;
	bool not_pymalloc;   /* the trace says pymalloc did not serve the interpreter */
	uint64_t oom;        /* requests dropped: no memory for the address map */
	bool system;         /* --system: the column after the models holds the blocks' ids there */
	bool quiet;          /* nothing on stderr */
	rp_sys *sysrun;      /* --system: the allocator's process */
	rp_system sys;
	FILE *out;
} replay;

/* ---- arenas ---- */

/* A model wants an arena: the next base the trace recorded, or (no record
 * left, or a model of another arena size) its own placement. */
static uint64_t arena_source(void *ctx, uint64_t size)
{
	model_run *mr = ctx;
	(void)size;
	if (!mr->recorded_bases)
		return PYM_ARENA_BUILTIN;
	if (!mr->qlen) {
		mr->arena_mismatch++;
		return PYM_ARENA_BUILTIN;
	}
	uint64_t base = mr->queue[mr->qhead];
	mr->qhead = (mr->qhead + 1) % QCAP;
	mr->qlen--;
	return base;
}

static void on_arena_alloc(replay *r, const tf_arena *a)
{
	for (int i = 0; i < r->n; i++) {
		model_run *mr = &r->mr[i];
		if (mr->gc_off)
			continue; /* its arenas differ from the interpreter's */
		if (a->size != pym_get_params(mr->m)->arena_size) {
			mr->recorded_bases = false;
			continue;
		}
		if (mr->qlen == QCAP) {
			mr->arena_mismatch++;
			continue;
		}
		mr->queue[(mr->qhead + mr->qlen++) % QCAP] = a->addr;
	}
}

static void printable(char *s);

/* What served the interpreter (the first python_allocator record, before
 * any Python-layer request): when it is not pymalloc, no model's address
 * is compared with the interpreter's, and every model places its arenas
 * itself. */
static void on_python_allocator(replay *r, const tf_bytes *name)
{
	rp_facts *f = &r->facts;
	if (f->python_allocator[0])
		return;
	snprintf(f->python_allocator, sizeof(f->python_allocator), "%.*s", (int)name->len,
		 name->ptr);
	printable(f->python_allocator);
	if (tf_pymalloc_served(f->python_allocator))
		return;
	r->not_pymalloc = true;
	for (int i = 0; i < r->n; i++)
		r->mr[i].recorded_bases = false;
}

/* ---- requests ---- */

enum op { OP_NONE, OP_ALLOC, OP_REALLOC, OP_FREE };

/* What a record asks of the allocator in this layer; *n is the size. */
static enum op classify(const tf_record *rec, bool malloc_layer, uint64_t *n)
{
	const tf_alloc *a = &rec->u.alloc;
	*n = a->size;
	if (malloc_layer ? !tf_kind_is_malloc_fn(rec->kind) : !tf_kind_is_python_fn(rec->kind))
		return OP_NONE;
	switch (rec->kind) {
	case TF_FREE:
	case TF_PY_MEM_FREE:
	case TF_PY_OBJ_FREE:
		return OP_FREE;
	case TF_REALLOC:
	case TF_PY_MEM_REALLOC:
	case TF_PY_OBJ_REALLOC:
		return OP_REALLOC;
	case TF_REALLOCARRAY:
	case TF_CALLOC:
	case TF_PY_MEM_CALLOC:
	case TF_PY_OBJ_CALLOC:
		if (__builtin_mul_overflow(a->nmemb, a->size, n))
			*n = UINT64_MAX;
		return rec->kind == TF_REALLOCARRAY ? OP_REALLOC : OP_ALLOC;
	default: /* malloc, valloc, pvalloc, the aligned ones (pymalloc has no alignment) */
		return OP_ALLOC;
	}
}

/* One request on one model; old is the model's block freed or reallocated
 * (old_n bytes requested), real the address the real allocator returned.
 * Returns the model's block (0 for a free or a refused request). */
static uint64_t apply(replay *r, model_run *mr, enum op op, uint64_t old, uint64_t old_n,
		      uint64_t n, uint64_t real)
{
	/* in the Python layer raw blocks keep the interpreter's address */
	uint64_t raw = r->malloc_layer ? 0 : real, out = 0;
	int rc = 0;
	bool was_pymalloc = false;
	switch (op) {
	case OP_ALLOC:
		rc = pym_malloc_at(mr->m, n, raw, &out);
		break;
	case OP_REALLOC:
		was_pymalloc = old && pym_owns(mr->m, old);
		rc = pym_realloc_at(mr->m, old, n, raw, &out);
		break;
	case OP_FREE:
		rc = pym_free_block(mr->m, old, &was_pymalloc);
		if (rc < 0) /* unknown to the model: counted by where it lies */
			was_pymalloc = pym_owns(mr->m, old);
		break;
	case OP_NONE:
		break;
	}
	if (was_pymalloc)
		mr->py_live -= old_n;
	if (rc < 0) {
		mr->errors++;
		return 0;
	}
	if (op == OP_FREE || !out)
		return 0;
	if (pym_owns(mr->m, out))
		mr->py_live += n;
	if (out != real && !r->malloc_layer && mr->recorded_bases && mr->addr_mismatch++ < 3 &&
	    !r->quiet)
		cli_error("replay: %s returned 0x%" PRIx64 " where the interpreter got 0x%" PRIx64,
			 pym_get_params(mr->m)->name, out, real);
	return out;
}

static void anomaly(replay *r, uint64_t *count, int kind, uint64_t addr)
{
	if (!(*count)++)
		r->examples[kind] = addr;
}

/* Where the held bytes go (cli/CLI.md): O(1) from the model's usage. */
static void waste_now(const model_run *mr, rp_waste *w)
{
	const pym_usage *u = pym_usage_of(mr->m);
	const pym_params *p = pym_get_params(mr->m);
	w->requested = mr->py_live;
	w->internal = u->block_bytes - mr->py_live;
	w->free_blocks = u->pools_used * p->pool_size - u->block_bytes;
	w->empty_arenas = u->empty_arenas * p->arena_size;
	w->empty_pools = u->arenas * p->arena_size - u->pools_used * p->pool_size - w->empty_arenas;
	w->large = u->raw_bytes;
}

const char *const rp_series_names[RP_NSERIES] = {
    "live_bytes", "block_bytes", "pool_bytes",		 "arena_bytes",
    "arenas",	  "large_bytes", "pool_requested_bytes", "empty_arena_bytes"};

/* Writes the open point into its place in the series. */
static void close_point(rp_series *s, const rp_open_point *o)
{
	if (!s->n)
		return;
	s->time[s->n - 1] = o->time;
	for (int k = 0; k < RP_NSERIES; k++)
		s->v[k][s->n - 1] = o->v[k];
}

/* Adds the state after one request to the series (max-merge into the open
 * point; when all points are used, pairs merge and the step doubles). */
static void sample(rp_series *s, rp_open_point *o, uint64_t t, const uint64_t v[RP_NSERIES])
{
	if (!s->step)
		s->step = 1;
	if (s->filled == 0) {
		if (s->n == RP_SERIES_MAX) {
			for (uint32_t i = 0; i < RP_SERIES_MAX / 2; i++) {
				s->time[i] = s->time[2 * i + 1];
				for (int k = 0; k < RP_NSERIES; k++)
					s->v[k][i] = s->v[k][2 * i] > s->v[k][2 * i + 1] ? s->v[k][2 * i]
											 : s->v[k][2 * i + 1];
			}
			s->n = RP_SERIES_MAX / 2;
			s->step *= 2;
		}
		*o = (rp_open_point){0};
		s->n++;
	}
	o->time = t;
	for (int k = 0; k < RP_NSERIES; k++)
		if (v[k] > o->v[k])
			o->v[k] = v[k];
	if (++s->filled == s->step) {
		s->filled = 0;
		close_point(s, o);
	}
}

static void pinning(const replay *r, const model_run *mr, rp_pinning *out, rp_pin **all,
		    size_t *nall);
static void classes_now(const model_run *mr, rp_classes *c);
static void sites_live_now(replay *r);

/* After a request: held bytes, peaks and the fragmentation sums. */
static void measure(replay *r, model_run *mr, uint64_t dt)
{
	if (mr->held && mr->live && dt) {
		mr->jw1_sum += (double)dt * (double)mr->held / (double)mr->live;
		mr->jw1_time += (double)dt;
	}
	mr->live = r->live_bytes + mr->gc.withheld.bytes;
	mr->held = pym_held_bytes(mr->m);
	if (mr->live >= mr->peak_live) {
		mr->peak_live = mr->live;
		mr->held_at_peak_live = mr->held;
	}
	if (mr->held > mr->peak_held) {
		mr->peak_held = mr->held;
		mr->live_at_peak_held = mr->live;
		mr->peak_request = r->requests;
		waste_now(mr, &mr->waste_peak);
		/* pinning near the peak: analysed again each time held grows 10% over
		 * the last analysis, so the last one is within 10% of the peak; a few
		 * dozen passes over the live blocks for any trace */
		if (mr->held > mr->pin_held + mr->pin_held / 10) {
			pinning(r, mr, &mr->pin_peak, NULL, NULL);
			classes_now(mr, &mr->classes_peak);
			if (mr == r->mr)
				sites_live_now(r);
			mr->pin_held = mr->held;
		}
	}
	/* read in place: a copy's wide loads of fields the request just
	 * stored would wait for the stores (no store forwarding) */
	const pym_usage *u = pym_usage_of(mr->m);
	if (u->arenas > mr->arenas_peak)
		mr->arenas_peak = u->arenas;
	if (mr->series) {
		const pym_params *p = pym_get_params(mr->m);
		uint64_t v[RP_NSERIES] = {mr->live,
					  u->block_bytes,
					  u->pools_used * p->pool_size,
					  u->arenas * p->arena_size,
					  u->arenas,
					  u->raw_bytes,
					  mr->py_live,
					  u->empty_arenas * p->arena_size};
		sample(mr->series, &mr->open, r->last_time, v);
	}
}

/* ---- arena lifelines ---- */

/* Lets go of every other released arena's record (the held ones stay),
 * when the records reach RP_ARENAS_KEPT; rebuilds the index. */
static void arenas_compact(model_run *mr)
{
	rp_arenas *A = &mr->arenas;
	uint32_t j = 0, nth = 0;
	for (uint32_t i = 0; i < A->n; i++) {
		if (A->a[i].released && nth++ % 2) {
			A->dropped++;
			continue;
		}
		A->a[j++] = A->a[i];
	}
	A->n = j;
	xfree(&mr->arena_idx);
	for (uint32_t i = 0; i < A->n; i++)
		if (!A->a[i].released)
			xput(&mr->arena_idx, A->a[i].base, i);
}

/* The model allocated or released the arena at base (pym_arena_event). */
static void on_model_arena(void *ctx, uint64_t base, bool released)
{
	model_run *mr = ctx;
	rp_arenas *A = &mr->arenas;
	const uint64_t now = mr->r->last_time;
	if (released) {
		uint64_t *i = xfind(&mr->arena_idx, base);
		if (!i)
			return; /* its record was never kept */
		A->a[*i].released = true;
		A->a[*i].released_ns = now;
		xdel(&mr->arena_idx, base);
		return;
	}
	mr->next_arena_id++;
	if (A->n == RP_ARENAS_KEPT)
		arenas_compact(mr);
	if (A->n == mr->arenas_cap) {
		uint32_t cap = mr->arenas_cap ? 2 * mr->arenas_cap : 64;
		rp_arena *a = A->n < RP_ARENAS_KEPT ? realloc(A->a, cap * sizeof(*a)) : NULL;
		if (!a) {
			A->dropped++;
			return;
		}
		A->a = a;
		mr->arenas_cap = cap;
	}
	if (!xput(&mr->arena_idx, base, A->n)) {
		A->dropped++;
		return;
	}
	rp_arena *a = &A->a[A->n++];
	memset(a, 0, sizeof(*a));
	a->id = mr->next_arena_id;
	a->base = base;
	a->allocated_ns = now;
	a->first_tick = UINT32_MAX; /* no sample yet */
}

typedef struct tick_ctx {
	model_run *mr;
	uint32_t t;
} tick_ctx;

static void sample_arena(void *ctx, const pym_arena_use *u)
{
	tick_ctx *c = ctx;
	uint64_t *i = xfind(&c->mr->arena_idx, u->base);
	if (!i)
		return;
	rp_arena *a = &c->mr->arenas.a[*i];
	uint64_t asize = pym_get_params(c->mr->m)->arena_size;
	/* 0..255, and any use at all at least 1 */
	uint64_t use = (u->block_bytes * 255 + asize - 1) / asize;
	a->use[c->t] = (uint8_t)(use > 255 ? 255 : use);
	if (a->use[c->t] > a->peak_use)
		a->peak_use = a->use[c->t];
	if (a->first_tick == UINT32_MAX)
		a->first_tick = c->t;
	a->last_tick = c->t;
}

/* All ticks used: each pair of neighbours becomes one (their mean where
 * the arena was held in both). */
static void merge_ticks(rp_arenas *A)
{
	for (uint32_t i = 0; i < RP_ARENA_TICKS / 2; i++)
		A->tick_ns[i] = A->tick_ns[2 * i + 1];
	for (uint32_t k = 0; k < A->n; k++) {
		rp_arena *a = &A->a[k];
		if (a->first_tick == UINT32_MAX)
			continue;
		for (uint32_t i = a->first_tick / 2; i <= a->last_tick / 2; i++) {
			bool x = 2 * i >= a->first_tick, y = 2 * i + 1 <= a->last_tick;
			unsigned u0 = a->use[2 * i], u1 = a->use[2 * i + 1];
			a->use[i] = (uint8_t)(x && y ? (u0 + u1 + 1) / 2 : x ? u0 : u1);
		}
		a->first_tick /= 2;
		a->last_tick /= 2;
	}
	A->ticks = RP_ARENA_TICKS / 2;
}

/* Every tick_step requests: each model's held arenas' use. */
static void take_tick(replay *r)
{
	r->tick_filled = 0;
	if (r->ticks == RP_ARENA_TICKS) {
		for (int i = 0; i < r->n; i++)
			merge_ticks(&r->mr[i].arenas);
		r->ticks = RP_ARENA_TICKS / 2;
		r->tick_step *= 2;
	}
	uint32_t t = r->ticks++;
	for (int i = 0; i < r->n; i++) {
		tick_ctx c = {&r->mr[i], t};
		r->mr[i].arenas.tick_ns[t] = r->last_time;
		r->mr[i].arenas.ticks = r->ticks;
		pym_each_arena(r->mr[i].m, sample_arena, &c);
	}
}

/* At the end: the live blocks in each held arena, and the stack with the
 * most live bytes in it. */
static void arenas_end(const replay *r, model_run *mr)
{
	rp_arenas *A = &mr->arenas;
	xmap pairs = {0}; /* (arena record, stack) -> index in top[] */
	struct pair {
		uint64_t idx, stack, bytes;
	} *top = NULL;
	size_t ntop = 0, cap = 0;
	const int col = (int)(mr - r->mr);
	for (size_t i = 0; i < r->live.cap; i++) {
		const uint64_t *sl = &r->live.t[i * r->live.stride];
		if (sl[A_KEY] < 2)
			continue;
		uint64_t base = pym_arena_base(mr->m, sl[A_MODEL + col]);
		uint64_t *ai = base ? xfind(&mr->arena_idx, base) : NULL;
		if (!ai)
			continue;
		rp_arena *a = &A->a[*ai];
		a->live_blocks_end++;
		a->live_bytes_end += sl[A_SIZE];
		const uint64_t stack = word_stack(sl[A_STACK]);
		uint64_t key = (stack * 0x9E3779B97F4A7C15ull) ^ (*ai + 1);
		uint64_t *pi = xfind(&pairs, key);
		if (!pi) {
			if (ntop == cap) {
				struct pair *p = realloc(top, (cap = cap ? 2 * cap : 256) * sizeof(*p));
				if (!p)
					break;
				top = p;
			}
			top[ntop] = (struct pair){*ai, stack, 0};
			if (!xput(&pairs, key, ntop))
				break;
			pi = xfind(&pairs, key);
			ntop++;
		}
		top[*pi].bytes += sl[A_SIZE];
	}
	for (size_t k = 0; k < ntop; k++) {
		rp_arena *a = &A->a[top[k].idx];
		if (top[k].bytes > a->top_stack_bytes ||
		    (top[k].bytes == a->top_stack_bytes && top[k].stack < a->top_stack)) {
			a->top_stack_bytes = top[k].bytes;
			a->top_stack = top[k].stack;
		}
	}
	free(top);
	xfree(&pairs);
}

/* ---- call sites ---- */

/* Room for stack id `id` in the per-site arrays (ids are dense: at most
 * the stack nodes seen). */
static bool site_room(replay *r, uint64_t id)
{
	if (id < r->site_cap)
		return true;
	size_t cap = r->site_cap ? r->site_cap : 1024;
	while (cap <= id)
		cap *= 2;
	uint64_t **arr[] = {&r->site_allocs, &r->site_bytes, &r->site_live, &r->site_live_peak};
	for (int k = 0; k < 4; k++) {
		uint64_t *p = realloc(*arr[k], cap * sizeof(uint64_t));
		if (!p)
			return false;
		memset(p + r->site_cap, 0, (cap - r->site_cap) * sizeof(uint64_t));
		*arr[k] = p;
	}
	r->site_cap = cap;
	return true;
}

static void site_alloc(replay *r, uint64_t stack, uint64_t n)
{
	if (stack > r->nnodes)
		stack = 0; /* not a node of this trace: counted as no stack */
	if (!site_room(r, stack))
		return;
	r->site_allocs[stack]++;
	r->site_bytes[stack] += n == UINT64_MAX ? 0 : n;
	r->site_live[stack] += n == UINT64_MAX ? 0 : n;
}

/* A live block of the trace (size as its slot has it) was freed. */
static void site_free(replay *r, uint64_t stack, uint64_t size)
{
	if (!r->site_cap)
		return; /* nothing counted: the arrays could not grow */
	uint64_t *live = &r->site_live[stack < r->site_cap ? stack : 0];
	*live -= size < *live ? size : *live;
}

/* Bytes live per call site now (near the first model's peak): kept up to
 * date by every request, so no pass over the live blocks. */
static void sites_live_now(replay *r)
{
	if (r->site_cap)
		memcpy(r->site_live_peak, r->site_live, r->site_cap * sizeof(uint64_t));
}

static int site_cmp(const void *a, const void *b)
{
	const rp_callsite *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return x->stack < y->stack ? -1 : x->stack > y->stack;
}

/* The call sites that allocated, by bytes, with what they keep at the end;
 * pins: the first model's pinning of every stack.  NULL when none. */
static rp_callsite *callsites_end(const replay *r, const rp_pin *pins, size_t npins, uint64_t *n)
{
	*n = 0;
	if (!r->site_cap)
		return NULL;
	uint64_t *live = calloc(r->site_cap, sizeof(uint64_t));
	uint64_t *blocks = calloc(r->site_cap, sizeof(uint64_t));
	uint64_t *arenas = calloc(r->site_cap, sizeof(uint64_t));
	rp_callsite *out = NULL;
	if (!live || !blocks || !arenas)
		goto out_free;
	for (size_t i = 0; i < r->live.cap; i++) {
		const uint64_t *sl = &r->live.t[i * r->live.stride];
		if (sl[A_KEY] < 2 || sl[A_KEY] - 2 >= WITHHELD_KEY0)
			continue;
		uint64_t st = word_stack(sl[A_STACK]);
		st = st < r->site_cap ? st : 0;
		live[st] += sl[A_SIZE];
		blocks[st]++;
	}
	for (size_t k = 0; k < npins; k++)
		if (pins[k].stack < r->site_cap)
			arenas[pins[k].stack] = pins[k].arenas;
	size_t count = 0;
	for (size_t id = 0; id < r->site_cap; id++)
		count += r->site_allocs[id] > 0;
	if (!count || !(out = malloc(count * sizeof(*out))))
		goto out_free;
	for (size_t id = 0; id < r->site_cap; id++) {
		if (!r->site_allocs[id])
			continue;
		out[(*n)++] = (rp_callsite){id,		r->site_allocs[id], r->site_bytes[id],
					    r->site_live_peak[id], live[id], blocks[id], arenas[id]};
	}
	qsort(out, *n, sizeof(*out), site_cmp);
out_free:
	free(live), free(blocks), free(arenas);
	return out;
}

static void classes_now(const model_run *mr, rp_classes *c)
{
	pym_stats st;
	pym_get_stats(mr->m, &st);
	c->n = st.nclasses < RP_MAX_CLASSES ? st.nclasses : RP_MAX_CLASSES;
	c->align = 1u << pym_get_params(mr->m)->align_shift;
	memcpy(c->pools, st.class_pools, c->n * sizeof(uint64_t));
	memcpy(c->blocks, st.class_blocks, c->n * sizeof(uint64_t));
	memcpy(c->avail, st.class_avail, c->n * sizeof(uint64_t));
}

/* ---- --system: the same requests through a real allocator (rp_system.h) ---- */

/* One request; returns the block's id there (0 for a free). */
static uint64_t system_request(replay *r, enum op op, uint64_t old, uint64_t old_n, uint64_t n)
{
	switch (op) {
	case OP_ALLOC:
		return rp_sys_alloc(r->sysrun, n);
	case OP_REALLOC:
		return rp_sys_realloc(r->sysrun, old, old_n, n);
	case OP_FREE:
		rp_sys_free(r->sysrun, old, old_n);
		break;
	case OP_NONE:
		break;
	}
	return 0;
}

static void withhold(replay *r, uint64_t size, uint64_t stack_w, const uint64_t *old_m);

static void request(replay *r, const tf_record *rec)
{
	const tf_alloc *a = &rec->u.alloc;
	uint64_t n, old_n = 0, old_m[MAX_MODELS + 1] = {0}, *slot;
	enum op op = classify(rec, r->malloc_layer, &n);
	if (op == OP_NONE)
		return;
	r->requests++;
	/* inside a GC pass, on the collecting thread: its frees are the collector's */
	const bool gc_now = r->in_gc && rec->thread == r->gc_thread;
	const bool by_gc = gc_now && op == OP_FREE;
	/* the trace's own bookkeeping first: what does not add up is skipped */
	uint64_t gone = op == OP_FREE ? a->addr : op == OP_REALLOC ? a->old : 0;
	if ((op == OP_ALLOC && !a->addr) || (op == OP_REALLOC && !a->addr && n) ||
	    (op == OP_FREE && !a->addr))
		return; /* a failed request (a realloc's old block stays), or free(NULL) */
	/* a block over a live one (a realloc that moves included): the
	 * trace missed a free; the old block of such a realloc stays */
	if ((op == OP_ALLOC || (op == OP_REALLOC && a->addr && a->addr != gone)) &&
	    amap_find(&r->live, a->addr)) {
		anomaly(r, &r->alloc_over_live, 2, a->addr);
		return;
	}
	if (gone) {
		if (!(slot = amap_find(&r->live, gone))) {
			if (op == OP_FREE)
				anomaly(r, &r->free_unknown, 0, gone);
			else
				anomaly(r, &r->realloc_unknown, 1, gone);
			return;
		}
		old_n = slot[A_SIZE];
		const uint64_t old_sw = slot[A_STACK]; /* stack and allocation time */
		site_free(r, word_stack(old_sw), old_n);
		memcpy(old_m, &slot[A_MODEL], (size_t)(r->n + r->system) * sizeof(uint64_t));
		r->live_bytes -= old_n;
		amap_del(&r->live, slot);
		if (by_gc && r->any_gc_off)
			withhold(r, old_n, old_sw, old_m);
	}
	if (op == OP_REALLOC && !a->addr)
		op = OP_FREE; /* realloc(p, 0) returned NULL: p was freed */
	slot = NULL;
	if (op != OP_FREE && a->addr) {
		if (!(slot = amap_insert(&r->live, a->addr))) {
			r->oom++;
			return;
		}
		slot[A_SIZE] = n == UINT64_MAX ? 0 : n;
		const uint64_t stack = a->stack <= STACK_ID_MAX ? a->stack : 0;
		slot[A_STACK] = stack_word(stack, rec->time);
		r->live_bytes += slot[A_SIZE];
		site_alloc(r, stack, n);
	}
	/* time-weighted measures use the interval the previous state lasted */
	uint64_t dt = rec->time >= r->last_time ? rec->time - r->last_time : 0;
	r->last_time = rec->time;
	if (r->live_bytes >= r->peak_live)
		r->peak_live = r->live_bytes;
	if (by_gc) {
		r->pass.freed.objects++;
		r->pass.freed.bytes += old_n;
	}
	for (int i = 0; i < r->n; i++) {
		model_run *mr = &r->mr[i];
		if (by_gc && mr->gc_off) { /* kept: its block stays in the model */
			mr->gc.withheld.objects++;
			mr->gc.withheld.bytes += old_n;
			measure(r, mr, dt);
			continue;
		}
		uint64_t arenas = op == OP_ALLOC ? 0 : pym_arenas_current(mr->m);
		uint64_t out = apply(r, mr, op, old_m[i], old_n, n, a->addr);
		if (slot)
			slot[A_MODEL + i] = out;
		if (op != OP_ALLOC && pym_arenas_current(mr->m) < arenas) {
			uint64_t released = arenas - pym_arenas_current(mr->m);
			if (gc_now)
				mr->gc.arenas_released_in_gc += released;
			else
				mr->gc.arenas_released_outside += released;
			if (gc_now && i == 0)
				r->pass.arenas_released += released;
		}
		if (op == OP_FREE) {
			rp_freed *f = by_gc ? &mr->gc.by_gc : &mr->gc.by_refcount;
			f->objects++;
			f->bytes += old_n;
		}
		measure(r, mr, dt);
	}
	if (r->system) {
		uint64_t id = system_request(r, op, old_m[r->n], old_n, n);
		if (slot)
			slot[A_MODEL + r->n] = id;
	}
	if (++r->tick_filled >= r->tick_step)
		take_tick(r);
}

/* ---- GC passes ---- */

/* --gc off: a block the collector freed stays allocated in the models that
 * withhold its free; it moves to a key no real address has (so the address
 * can be reused by the trace) and keeps its stack for the pinning. */
static void withhold(replay *r, uint64_t size, uint64_t stack_w, const uint64_t *old_m)
{
	uint64_t *slot = amap_insert(&r->live, r->next_withheld++);
	if (!slot) {
		r->oom++;
		return;
	}
	slot[A_SIZE] = size;
	slot[A_STACK] = stack_w; /* its stack and allocation time */
	for (int i = 0; i < r->n; i++)
		slot[A_MODEL + i] = r->mr[i].gc_off ? old_m[i] : 0;
}

static void on_gc(replay *r, const tf_record *rec)
{
	const tf_gc *g = &rec->u.gc;
	uint32_t gen = g->generation > 2 ? 3 : (uint32_t)g->generation;
	if (rec->kind == TF_GC_START || !r->in_gc) {
		if (rec->kind == TF_GC_START && r->in_gc)
			r->gc_unfinished++;
		r->pass = (rp_gc_pass){.start = rec->time, .generation = gen};
		r->gc_thread = rec->thread;
		r->in_gc = rec->kind == TF_GC_START;
		if (r->in_gc)
			return;
	}
	/* gc_stop (a stop without its start is a pass with no frees) */
	r->in_gc = false;
	r->pass.stop = rec->time;
	r->pass.collected = g->collected;
	r->pass.uncollectable = g->uncollectable;
	if (gen < 3)
		r->gc_passes[gen]++;
	if (r->npasses < RP_GC_PASSES_MAX) {
		if (!r->passes && !(r->passes = malloc(RP_GC_PASSES_MAX * sizeof(*r->passes))))
			return;
		r->passes[r->npasses++] = r->pass;
	}
}

/* ---- snapshots ---- */

static void check_snapshot(replay *r, const tf_record *rec, char *buf, size_t cap)
{
	if (r->not_pymalloc) { /* no pymalloc statistics to compare with */
		r->snap_unchecked++;
		return;
	}
	pym_stats st;
	pym_get_stats(r->mr[0].m, &st);
	size_t len = pym_format_stats(pym_get_params(r->mr[0].m), &st, buf, cap);
	if (len >= cap)
		len = cap - 1;
	const char *want = rec->u.label.text.ptr, *wend = want + rec->u.label.text.len;
	const char *got = buf, *gend = buf + len;
	bool bad = false;
	while (want < wend || got < gend) {
		const char *we = memchr(want, '\n', (size_t)(wend - want));
		const char *ge = memchr(got, '\n', (size_t)(gend - got));
		size_t wl = (size_t)((we ? we : wend) - want), gl = (size_t)((ge ? ge : gend) - got);
		if (wl != gl || memcmp(want, got, wl)) {
			if (!bad)
				fprintf(r->out, "snapshot %.*s:\n", (int)rec->u.label.label.len,
					rec->u.label.label.ptr);
			fprintf(r->out, "  expected: %.*s\n  model:    %.*s\n", (int)wl, want, (int)gl,
				got);
			bad = true;
		}
		want = we ? we + 1 : wend;
		got = ge ? ge + 1 : gend;
	}
	r->snapshots++;
	r->snap_bad += bad;
}

/* ---- pinning ---- */

static void on_stack_node(replay *r, const tf_stack_node *nd)
{
	if (nd->id != r->nnodes + 1)
		return; /* ids come in order; anything else is not ours to fix */
	if (r->nnodes == r->cap_nodes) {
		size_t cap = r->cap_nodes ? 2 * r->cap_nodes : 1024;
		uint64_t *p = realloc(r->node_parent, cap * 8), *q;
		if (!p)
			return;
		r->node_parent = p;
		if (!(q = realloc(r->node_ip, cap * 8)))
			return;
		r->node_ip = q;
		r->cap_nodes = cap;
	}
	r->node_parent[r->nnodes] = nd->parent;
	r->node_ip[r->nnodes++] = nd->ip;
}

static int pin_cmp(const void *a, const void *b)
{
	const rp_pin *x = a, *y = b;
	if (x->arenas != y->arenas)
		return x->arenas < y->arenas ? 1 : -1;
	return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

/* Arenas held at the end with live requested bytes under a quarter of the
 * arena, and the stacks of the blocks in them, ranked by how many such
 * arenas hold their blocks (an arena shared by several stacks counts for
 * each of them). */
static void pinning(const replay *r, const model_run *mr, rp_pinning *out, rp_pin **all,
		    size_t *nall)
{
	memset(out, 0, sizeof(*out));
	const uint64_t asize = pym_get_params(mr->m)->arena_size;
	xmap arena_live = {0}, pairs = {0}, stacks = {0};
	rp_pin *pins = NULL;
	size_t npins = 0, cap = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < r->live.cap; i++) {
			const uint64_t *sl = &r->live.t[i * r->live.stride];
			if (sl[A_KEY] < 2)
				continue;
			uint64_t size = sl[A_SIZE], stack = word_stack(sl[A_STACK]);
			uint64_t base = pym_arena_base(mr->m, sl[A_MODEL + (mr - r->mr)]);
			if (!base)
				continue; /* a large object */
			uint64_t *al = xfind(&arena_live, base);
			if (pass == 0) {
				xput(&arena_live, base, (al ? *al : 0) + size);
				continue;
			}
			if (*al * 4 >= asize)
				continue; /* well used */
			uint64_t *pi = xfind(&stacks, stack);
			if (!pi) {
				if (npins == cap) {
					rp_pin *p = realloc(pins, (cap = cap ? 2 * cap : 64) * sizeof(*p));
					if (!p)
						goto out_free;
					pins = p;
				}
				memset(&pins[npins], 0, sizeof(*pins));
				pins[npins].stack = stack;
				pins[npins].first_ns = UINT64_MAX;
				xput(&stacks, stack, npins);
				pi = xfind(&stacks, stack);
				npins++;
			}
			rp_pin *pin = &pins[*pi];
			pin->blocks++;
			pin->bytes += size;
			const uint64_t t = word_time(sl[A_STACK]);
			pin->first_ns = t < pin->first_ns ? t : pin->first_ns;
			pin->last_ns = t > pin->last_ns ? t : pin->last_ns;
			/* (stack, arena) seen once: mix the two into one key */
			uint64_t key = (stack * 0x9E3779B97F4A7C15ull) ^ base;
			if (!xfind(&pairs, key)) {
				xput(&pairs, key, 1);
				pin->arenas++;
			}
		}
	}
	/* low: arenas with few live bytes, and those with none at all */
	uint64_t with_blocks = 0, low = 0;
	for (size_t i = 0; i < arena_live.cap; i++) {
		with_blocks += arena_live.k[i] > 1;
		low += arena_live.k[i] > 1 && arena_live.v[i] * 4 < asize;
	}
	out->arenas_held = pym_arenas_current(mr->m);
	out->arenas_low = low + out->arenas_held - with_blocks;
	if (npins)
		qsort(pins, npins, sizeof(*pins), pin_cmp);
	for (size_t i = 0; i < npins && out->nstacks < RP_PIN_STACKS; i++) {
		rp_pin *p = &out->stacks[out->nstacks++];
		*p = pins[i];
		uint64_t id = p->stack;
		for (int f = 0; f < RP_PIN_FRAMES && id && id <= r->nnodes; f++) {
			p->frames[f] = r->node_ip[id - 1];
			id = r->node_parent[id - 1];
		}
	}
	if (all) { /* the caller takes every stack's pinning */
		*all = pins;
		*nall = npins;
		pins = NULL;
	}
out_free:
	free(pins);
	xfree(&arena_live), xfree(&pairs), xfree(&stacks);
}

/* ---- output ---- */

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0.0;
}

/* all (may be NULL): every stack's pinning at the end, for the call sites */
static void model_result(const replay *r, const model_run *mr, rp_model_result *out, rp_pin **all,
			 size_t *nall)
{
	pym_stats st;
	pym_get_stats(mr->m, &st);
	*out = (rp_model_result){
	    .addr_mismatch = mr->addr_mismatch,
	    .arena_mismatch = mr->arena_mismatch,
	    .errors = mr->errors + r->oom,
	    .arenas_total = st.arenas_total,
	    .arenas_current = st.arenas_current,
	    .arenas_highwater = st.arenas_highwater,
	    .peak_held = mr->peak_held,
	    .held_end = mr->held,
	    .jw1 = mr->jw1_time > 0 ? mr->jw1_sum / mr->jw1_time : 0.0,
	    .jw2 = ratio(mr->held_at_peak_live, mr->peak_live),
	    .jw3 = ratio(mr->peak_held, mr->live_at_peak_held),
	    .jw4 = ratio(mr->peak_held, mr->peak_live),
	    .gc_off = mr->gc_off,
	    .peak_live = mr->peak_live,
	    .live_end = r->live_bytes + mr->gc.withheld.bytes,
	    .gc = mr->gc,
	};
	snprintf(out->profile, sizeof(out->profile), "%s", pym_get_params(mr->m)->name);
	out->arena_size = pym_get_params(mr->m)->arena_size;
	out->waste_peak = mr->waste_peak;
	waste_now(mr, &out->waste_end);
	if (mr->series && mr->series->filled)
		close_point(mr->series, &mr->open);
	out->series = mr->series;
	pinning(r, mr, &out->pinning, all, nall);
	out->pinning_peak = mr->pin_peak;
	out->peak_request = mr->peak_request;
	const pym_params *p = pym_get_params(mr->m);
	out->pool_size = p->pool_size;
	out->align = 1u << p->align_shift;
	out->threshold = p->threshold;
	out->keep_empty_arena = p->keep_empty_arena;
	classes_now(mr, &out->classes_end);
	out->classes_peak = mr->classes_peak;
	out->arenas = &mr->arenas;
}

static void printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* The header's facts, cut to their fields' sizes. */
static void facts_from_header(rp_facts *f, const tf_header *h)
{
	snprintf(f->exe, sizeof(f->exe), "%.*s", (int)h->exe.len, h->exe.ptr);
	snprintf(f->python, sizeof(f->python), "%.*s", (int)h->python.len, h->python.ptr);
	snprintf(f->tool_version, sizeof(f->tool_version), "%.*s", (int)h->tool_version.len,
		 h->tool_version.ptr);
	size_t n = h->argv.len < sizeof(f->argv) - 1 ? h->argv.len : sizeof(f->argv) - 1;
	memcpy(f->argv, h->argv.ptr, n);
	for (size_t i = 0; i < n; i++)
		if (!f->argv[i])
			f->argv[i] = ' ';
	/* control characters would act on a terminal: shown as '?' */
	printable(f->argv);
	printable(f->exe);
	while (n && f->argv[n - 1] == ' ')
		n--;
	f->argv[n] = 0;
	f->pid = h->pid;
	f->ppid = h->ppid;
	f->start_real_ns = h->start_real_ns;
}

static void json_pinning(FILE *f, const rp_pinning *pn, const rp_replay_opts *o)
{
	fprintf(f, "{\"arenas_held\": %" PRIu64 ", \"arenas_low\": %" PRIu64 ", \"stacks\": [",
		pn->arenas_held, pn->arenas_low);
	for (int k = 0; k < pn->nstacks; k++) {
		const rp_pin *pp = &pn->stacks[k];
		fprintf(f, "%s{\"stack\": %" PRIu64 ", \"frames\": [", k ? ", " : "", pp->stack);
		for (int fr = 0; fr < RP_PIN_FRAMES && pp->frames[fr]; fr++)
			fprintf(f, "%s\"0x%" PRIx64 "\"", fr ? ", " : "", pp->frames[fr]);
		if (o->name_frame) { /* each frame's lines, inlined ones first */
			fputs("], \"symbols\": [", f);
			const char *lines[RP_SYMBOL_LINES];
			bool first = true;
			for (int fr = 0; fr < RP_PIN_FRAMES && pp->frames[fr]; fr++) {
				int n = o->name_frame(o->namer_ctx, pp->frames[fr], pp->stack, lines,
						      RP_SYMBOL_LINES);
				for (int i = 0; i < n; i++, first = false) {
					fputs(first ? "" : ", ", f);
					rp_json_str(f, lines[i], strlen(lines[i]));
				}
			}
		}
		fprintf(f,
			"], \"arenas\": %" PRIu64 ", \"blocks\": %" PRIu64 ", \"bytes\": %" PRIu64
			", \"first_alloc_ns\": %" PRIu64 ", \"last_alloc_ns\": %" PRIu64 "}",
			pp->arenas, pp->blocks, pp->bytes, pp->first_ns, pp->last_ns);
	}
	fputs("]}", f);
}

static void json_freed(FILE *f, const char *key, const rp_freed *x)
{
	fprintf(f, ", \"%s\": {\"objects\": %" PRIu64 ", \"bytes\": %" PRIu64 "}", key, x->objects,
		x->bytes);
}

static void json_gc(FILE *f, const rp_replay_result *res, const rp_model_result *m)
{
	fprintf(f,
		", \"collector\": \"%s\", \"gc\": {\"passes\": [%" PRIu64 ", %" PRIu64 ", %" PRIu64
		"]",
		m->gc_off ? "off" : "on", res->gc_passes[0], res->gc_passes[1], res->gc_passes[2]);
	json_freed(f, "freed_by_gc", &m->gc.by_gc);
	json_freed(f, "freed_by_refcount", &m->gc.by_refcount);
	json_freed(f, "withheld", &m->gc.withheld);
	fprintf(f,
		", \"arenas_released_in_gc\": %" PRIu64 ", \"arenas_released_outside_gc\": %" PRIu64
		"}",
		m->gc.arenas_released_in_gc, m->gc.arenas_released_outside);
}

static void print_json(FILE *f, const rp_replay_result *res, const rp_replay_opts *o)
{
	fprintf(f,
		"{\"events\": %" PRIu64 ", \"layer\": \"%s\", \"requests\": %" PRIu64
		", \"anomalies\": {\"free_unknown\": %" PRIu64 ", \"realloc_unknown\": %" PRIu64
		", \"alloc_over_live\": %" PRIu64 "}, \"live\": {\"peak_bytes\": %" PRIu64
		", \"end_bytes\": %" PRIu64 "}, \"models\": [",
		res->events, res->malloc_layer ? "malloc" : "python", res->requests,
		res->free_unknown, res->realloc_unknown, res->alloc_over_live, res->peak_live,
		res->live_end);
	for (int i = 0; i < res->nmodels; i++) {
		const rp_model_result *m = &res->models[i];
		fprintf(f,
			"%s{\"profile\": \"%s\", \"arenas\": {\"allocated_total\": %" PRIu64
			", \"reclaimed\": %" PRIu64 ", \"highwater\": %" PRIu64
			", \"current\": %" PRIu64 "}, \"peak\": {\"live_bytes\": %" PRIu64
			", \"arena_bytes\": %" PRIu64
			", \"held_bytes\": %" PRIu64 "}, \"end\": {\"held_bytes\": %" PRIu64
			", \"arena_bytes\": %" PRIu64
			"}, \"fragmentation\": {\"jw1\": %.4f, \"jw2\": %.4f, \"jw3\": %.4f, "
			"\"jw4\": %.4f}, \"addresses_unlike_interpreter\": ",
			i ? ", " : "", m->profile, m->arenas_total,
			m->arenas_total - m->arenas_current, m->arenas_highwater, m->arenas_current,
			m->peak_live, m->arenas_highwater * m->arena_size, m->peak_held, m->held_end,
			m->arenas_current * m->arena_size, m->jw1, m->jw2, m->jw3, m->jw4);
		/* null: not compared, as pymalloc did not serve the interpreter */
		if (res->malloc_layer || res->compared)
			fprintf(f, "%" PRIu64 ", \"arena_mismatches\": %" PRIu64 ", \"waste\": {",
				m->addr_mismatch, m->arena_mismatch);
		else
			fputs("null, \"arena_mismatches\": null, \"waste\": {", f);
		const rp_waste *w[] = {&m->waste_peak, &m->waste_end};
		for (int k = 0; k < 2; k++)
			fprintf(f,
				"%s\"%s\": {\"requested\": %" PRIu64 ", \"internal\": %" PRIu64
				", \"free_blocks\": %" PRIu64 ", \"empty_pools\": %" PRIu64
				", \"empty_arenas\": %" PRIu64 ", \"large\": %" PRIu64 "}",
				k ? ", " : "", k ? "end" : "at_peak", w[k]->requested, w[k]->internal,
				w[k]->free_blocks, w[k]->empty_pools, w[k]->empty_arenas, w[k]->large);
		fprintf(f, "}");
		json_gc(f, res, m);
		const rp_series *se = m->series;
		if (se) {
			fprintf(f, ", \"series\": {\"points\": %u, \"requests_per_point\": %u, "
				   "\"time_ns\": [",
				se->n, se->step);
			for (uint32_t j = 0; j < se->n; j++)
				fprintf(f, "%s%" PRIu64, j ? ", " : "", se->time[j]);
			fputc(']', f);
			for (int k = 0; k < RP_NSERIES; k++) {
				fprintf(f, ", \"%s\": [", rp_series_names[k]);
				for (uint32_t j = 0; j < se->n; j++)
					fprintf(f, "%s%" PRIu64, j ? ", " : "", se->v[k][j]);
				fputc(']', f);
			}
			fputc('}', f);
		}
		fputs(", \"pinning\": {\"low_use_below\": 0.25, \"end\": ", f);
		json_pinning(f, &m->pinning, o);
		if (m->pinning_peak.arenas_held) {
			fputs(", \"at_peak\": ", f);
			json_pinning(f, &m->pinning_peak, o);
		}
		fputs("}}", f);
	}
	fputc(']', f);
	fprintf(f,
		", \"gc\": {\"passes\": [%" PRIu64 ", %" PRIu64 ", %" PRIu64 "], \"unfinished\": %" PRIu64
		"}",
		res->gc_passes[0], res->gc_passes[1], res->gc_passes[2], res->gc_unfinished);
	if (res->has_system) {
		const rp_system *y = &res->system;
		fprintf(f,
			", \"system\": {\"allocator\": \"%s\", \"ops\": %" PRIu64
			", \"ns_per_op\": %.1f, \"heap_peak_bytes\": %" PRIu64
			", \"heap_end_bytes\": %" PRIu64 ", \"rss_start_bytes\": %" PRIu64
			", \"rss_peak_bytes\": %" PRIu64 ", \"rss_end_bytes\": %" PRIu64
			", \"trace_threads\": %" PRIu64 "}",
			y->allocator, y->ops, y->ns_per_op, y->heap_peak, y->heap_end, y->rss_start,
			y->rss_peak, y->rss_end, y->threads);
	}
	fprintf(f, "}\n");
}

const char *rp_model_label(const rp_model_result *m, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s%s", m->profile, m->gc_off ? " gc-off" : "");
	return buf;
}

static double growth(uint64_t a, uint64_t b)
{
	return b ? 100.0 * ((double)a - (double)b) / (double)b : 0.0;
}

/* What the collector did, per model; with --gc off, what its absence costs. */
static void summary_gc(FILE *f, const rp_replay_result *res)
{
	const uint64_t *gp = res->gc_passes;
	if (gp[0] + gp[1] + gp[2] + res->gc_unfinished)
		fprintf(f, "gc: %" PRIu64 " passes: %" PRIu64 " of generation 0, %" PRIu64
			   " of generation 1, %" PRIu64 " of generation 2\n",
			gp[0] + gp[1] + gp[2], gp[0], gp[1], gp[2]);
	else if (!res->models[0].gc_off && !res->models[res->nmodels - 1].gc_off)
		return;
	char label[48];
	for (int i = 0; i < res->nmodels; i++) {
		const rp_model_result *m = &res->models[i];
		const rp_model_gc *g = &m->gc;
		rp_model_label(m, label, sizeof(label));
		if (!m->gc_off) {
			fprintf(f,
				"%s: the collector freed %" PRIu64 " blocks (%" PRIu64
				" bytes), reference counting %" PRIu64 " (%" PRIu64
				" bytes); arenas released inside GC passes %" PRIu64 ", outside %" PRIu64 "\n",
				label, g->by_gc.objects, g->by_gc.bytes, g->by_refcount.objects,
				g->by_refcount.bytes, g->arenas_released_in_gc, g->arenas_released_outside);
			continue;
		}
		const rp_model_result *on = &res->models[i - 1]; /* its twin with the collector */
		fprintf(f,
			"%s: %" PRIu64 " blocks (%" PRIu64 " bytes) the collector freed stay live;"
			" peak held %" PRIu64 " bytes (%+.1f%%), arenas at most %" PRIu64 " (%+" PRId64
			"), held at the end %" PRIu64 " (%+" PRId64 ")\n",
			label, g->withheld.objects, g->withheld.bytes, m->peak_held,
			growth(m->peak_held, on->peak_held), m->arenas_highwater,
			(int64_t)(m->arenas_highwater - on->arenas_highwater), m->arenas_current,
			(int64_t)(m->arenas_current - on->arenas_current));
	}
}

static void print_summary(FILE *f, const rp_replay_result *res, const rp_replay_opts *o)
{
	char label[48];
	const rp_facts *x = &res->facts;
	fprintf(f, "trace: %s (pid %" PRIu64 ")%s%s%s%s; %.3f s, %" PRIu64 " events, %" PRIu64
		   " threads%s\n",
		x->argv[0] ? x->argv : x->exe, x->pid, x->python[0] ? ", CPython " : "", x->python,
		x->python_allocator[0] ? " with " : "", x->python_allocator,
		(double)x->span_ns / 1e9, res->events, x->threads,
		x->complete ? "" : "; no end record: cut short");
	fprintf(f, "replay: %s layer, %" PRIu64 " requests; live blocks peak %" PRIu64
		   " bytes, %" PRIu64 " at the end\n",
		res->malloc_layer ? "malloc" : "python", res->requests, res->peak_live,
		res->live_end);
	static const char *const what[] = {"frees of unknown blocks", "reallocs of unknown blocks",
					   "allocations over a live block"};
	const uint64_t count[] = {res->free_unknown, res->realloc_unknown, res->alloc_over_live};
	for (int k = 0; k < 3; k++)
		if (count[k])
			fprintf(f, "anomalies: %" PRIu64 " %s (the first at 0x%" PRIx64 ")\n", count[k],
				what[k], res->examples[k]);
	fprintf(f, "%-19s %8s %8s %8s %8s %14s %6s %6s %6s %6s\n", "model", "arenas", "freed",
		"highest", "now", "peak held", "jw1", "jw2", "jw3", "jw4");
	for (int i = 0; i < res->nmodels; i++) {
		const rp_model_result *m = &res->models[i];
		fprintf(f,
			"%-19s %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %14" PRIu64
			" %6.2f %6.2f %6.2f %6.2f\n",
			rp_model_label(m, label, sizeof(label)), m->arenas_total,
			m->arenas_total - m->arenas_current,
			m->arenas_highwater, m->arenas_current, m->peak_held, m->jw1, m->jw2, m->jw3,
			m->jw4);
	}
	fprintf(f, "%-19s %14s %14s %14s %14s %14s\n", "held at peak", "requested", "internal",
		"free blocks", "empty pools", "empty arenas");
	for (int i = 0; i < res->nmodels; i++) {
		const rp_waste *w = &res->models[i].waste_peak;
		fprintf(f, "%-19s %14" PRIu64 " %14" PRIu64 " %14" PRIu64 " %14" PRIu64 " %14" PRIu64 "\n",
			rp_model_label(&res->models[i], label, sizeof(label)), w->requested, w->internal, w->free_blocks,
			w->empty_pools, w->empty_arenas);
	}
	summary_gc(f, res);
	if (res->has_system) {
		const rp_system *y = &res->system;
		fprintf(f,
			"system allocator %s: %" PRIu64 " calls, %.1f ns each; it holds %" PRIu64
			" bytes for the blocks at the peak (%.2f times the live bytes' peak), %" PRIu64
			" at the end\n",
			y->allocator, y->ops, y->ns_per_op, y->heap_peak,
			ratio(y->heap_peak, res->peak_live), y->heap_end);
		if (y->threads > 1)
			fprintf(f, "  (the trace's %" PRIu64 " threads were replayed in their global "
				   "order on one thread)\n",
				y->threads);
	}
	for (int i = 0; i < res->nmodels; i++)
		for (int at = 0; at < 2; at++) {
			const rp_pinning *pn = at ? &res->models[i].pinning : &res->models[i].pinning_peak;
			if (!at && !pn->arenas_held)
				continue;
			fprintf(f, "%s at %s: %" PRIu64 " arenas held, %" PRIu64 " less than a quarter used",
				rp_model_label(&res->models[i], label, sizeof(label)),
				at ? "the end" : "the peak", pn->arenas_held, pn->arenas_low);
			fprintf(f, pn->nstacks ? "; the stacks whose blocks keep them:\n" : "\n");
			for (int k = 0; k < pn->nstacks; k++) {
				const rp_pin *pp = &pn->stacks[k];
				fprintf(f, "  %3" PRIu64 " arenas, %8" PRIu64 " blocks, %10" PRIu64
					   " bytes, allocated %.3f-%.3f s  stack %" PRIu64,
					pp->arenas, pp->blocks, pp->bytes, pp->first_ns / 1e9,
					pp->last_ns / 1e9, pp->stack);
				if (o->print_stack) { /* symbolized, one frame a line */
					fputc('\n', f);
					o->print_stack(f, pp, o->sym_ctx);
					continue;
				}
				for (int fr = 0; fr < 3 && pp->frames[fr]; fr++)
					fprintf(f, "%s0x%" PRIx64, fr ? " < " : " at ", pp->frames[fr]);
				fputc('\n', f);
			}
		}
}

/* ---- the run ---- */

/* "cpython-3.8,custom:arena=512K,pool=8K,cpython-3.12": a custom spec's
 * own commas separate its keys, so a token with '=' continues the spec
 * before it. */
static int parse_models(const char *list, pym_params *p, int *n)
{
	char specs[MAX_MODELS][512], buf[1024];
	int k = 0;
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (strchr(t, '=') && !strchr(t, ':') && k) {
			size_t len = strlen(specs[k - 1]);
			snprintf(specs[k - 1] + len, sizeof(specs[0]) - len, ",%s", t);
		} else if (k < MAX_MODELS) {
			snprintf(specs[k++], sizeof(specs[0]), "%s", t);
		} else {
			return -1;
		}
	}
	for (*n = 0; *n < k; (*n)++)
		if (pym_params_from_name(specs[*n], &p[*n]) < 0)
			return -1;
	return k ? 0 : -1;
}

/* ---- read-ahead ----
 * Records are decoded up to RA ahead of the one replayed, and the address
 * map's slots of their addresses are prefetched, so that the cache misses
 * of a large live set overlap instead of queueing one per request.  Only
 * requests are read past: any other record may point into the reader's
 * buffers, which the next read reuses, so reading resumes once it has been
 * replayed.  The records are replayed in their order all the same. */

#define RA 16

typedef struct readahead {
	tf_reader *rd;
	tf_record rec[RA];
	unsigned head, len;
	bool taken; /* rec[head] was handed out: dropped at the next call */
	bool hold;  /* the newest record is no request: read no further */
	int rc;     /* the reader's last result */
} readahead;

/* The next record to replay: 1 and *out, 0 at the end, < 0 the reader's error
 * (after every record before it). */
static int ra_next(readahead *ra, const amap *live, tf_record **out)
{
	if (ra->taken) {
		ra->head = (ra->head + 1) % RA;
		ra->taken = false;
		if (!--ra->len)
			ra->hold = false;
	}
	while (ra->len < RA && !ra->hold && ra->rc > 0) {
		tf_record *n = &ra->rec[(ra->head + ra->len) % RA];
		if ((ra->rc = tf_reader_next(ra->rd, n)) <= 0)
			break;
		ra->len++;
		if (!tf_kind_is_malloc_fn(n->kind) && !tf_kind_is_python_fn(n->kind)) {
			ra->hold = true;
		} else if (live->cap) {
			/* the slots of addr and old, and the slot after each (a
			 * probe or a deletion's backward shift reads on into
			 * the next); written out here: GCC drops a call to a
			 * function that only prefetches, as if it had no effect */
			const uint64_t keys[2] = {n->u.alloc.addr, n->u.alloc.old};
			const size_t w = live->stride;
			for (int k = 0; k < 1 + (keys[1] != 0); k++) {
				const uint64_t *s = &live->t[xslot(keys[k] + 2, live->cap) * w];
				__builtin_prefetch(s);
				__builtin_prefetch(s + 2 * w - 1);
			}
		}
	}
	if (!ra->len)
		return ra->rc;
	*out = &ra->rec[ra->head];
	ra->taken = true;
	return 1;
}

int rp_replay_run(tf_reader *rd, const rp_replay_opts *o, const char *path,
		  rp_replay_result *res)
{
	pym_params params[MAX_MODELS];
	int nparams = 0;
	if (o->model && parse_models(o->model, params, &nparams) < 0) {
		cli_error("replay: unknown or invalid model '%s' (arenatrace replay --help)", o->model);
		return CLI_EXIT_USAGE;
	}
	if (o->gc_off && 2 * nparams > MAX_MODELS) {
		cli_error("replay: --gc off runs every model twice: at most %d models", MAX_MODELS / 2);
		return CLI_EXIT_USAGE;
	}
	replay *r = calloc(1, sizeof(*r));
	size_t cap = 1 << 16;
	char *buf = malloc(cap);
	readahead *ra = malloc(sizeof(*ra));
	tf_record *rec = NULL;
	int rc = 0, status = CLI_EXIT_OK;
	uint64_t events = 0;
	rp_callsite *callsites = NULL;
	if (!r || !buf || !ra) {
		cli_error("replay: out of memory");
		free(r), free(buf), free(ra);
		return CLI_EXIT_USAGE;
	}
	*ra = (readahead){.rd = rd, .rc = 1};
	r->out = o->out;
	r->quiet = o->quiet;
	struct timespec start, now_ts;
	clock_gettime(CLOCK_MONOTONIC, &start);
	bool progress = o->progress_bytes && isatty(2), shown = false;
	uint64_t nrec = 0;
	while ((rc = ra_next(ra, &r->live, &rec)) > 0) {
		events += tf_kind_is_event(rec->kind);
		/* a progress line once the replay runs longer than a second */
		if (progress && (++nrec & 0xffff) == 0) {
			clock_gettime(CLOCK_MONOTONIC, &now_ts);
			if (now_ts.tv_sec - start.tv_sec >= 1) {
				tf_reader_status st;
				tf_reader_get_status(rd, &st);
				fprintf(stderr, "\rreplay: %3.0f%%, %.1f M events",
					100.0 * (double)st.bytes_compressed / (double)o->progress_bytes,
					(double)events / 1e6);
				shown = true;
			}
		}
		if (rec->time > r->max_time && tf_kind_is_event(rec->kind))
			r->max_time = rec->time;
		if (rec->kind == TF_HEADER) {
			const char *py = rec->u.header.python.len ? rec->u.header.python.ptr : NULL;
			facts_from_header(&r->facts, &rec->u.header);
			r->tick_step = 1;
			/* auto: the Python domains when the trace is CPython's */
			r->malloc_layer = o->layer == RP_LAYER_MALLOC ||
					  (o->layer == RP_LAYER_AUTO && !py);
			if (!nparams)
				pym_params_for_version(py, &params[nparams++]);
			/* --gc off: each model, then its twin without the collector */
			const int runs = o->gc_off ? 2 * nparams : nparams;
			r->system = o->system;
			r->any_gc_off = o->gc_off;
			r->next_withheld = WITHHELD_KEY0;
			r->live.stride = A_MODEL + (unsigned)runs + r->system;
			char why[256];
			if (r->system && rp_sys_start(&r->sysrun, why, sizeof(why)) < 0) {
				cli_error("replay: --system: %s", why);
				rc = -1;
				break;
			}
			for (int i = 0; i < runs; i++) {
				model_run *mr = &r->mr[i];
				mr->r = r;
				mr->gc_off = o->gc_off && (i & 1);
				mr->recorded_bases = !r->malloc_layer && !mr->gc_off;
				mr->series = calloc(1, sizeof(rp_series));
				pym_hooks hooks = {arena_source, on_model_arena, mr};
				const pym_params *pp = &params[o->gc_off ? i / 2 : i];
				if (!mr->series || pym_create(&mr->m, pp, &hooks) < 0) {
					free(mr->series);
					mr->series = NULL;
					cli_error("replay: out of memory");
					rc = -1;
					break;
				}
				r->n++;
			}
			if (rc < 0)
				break;
		} else if (!r->n) {
			continue;
		} else if (rec->kind == TF_PYTHON_ALLOCATOR) {
			on_python_allocator(r, &rec->u.python_allocator);
		} else if (rec->kind == TF_ARENA_ALLOC && rec->u.arena.addr && !r->malloc_layer) {
			on_arena_alloc(r, &rec->u.arena);
		} else if (tf_kind_is_python_fn(rec->kind) || tf_kind_is_malloc_fn(rec->kind)) {
			request(r, rec);
		} else if (rec->kind == TF_GC_START || rec->kind == TF_GC_STOP) {
			on_gc(r, rec);
		} else if (rec->kind == TF_SNAPSHOT && o->check) {
			check_snapshot(r, rec, buf, cap);
		} else if (rec->kind == TF_STACK) {
			on_stack_node(r, &rec->u.node);
		} else if (rec->kind == TF_MODULE || rec->kind == TF_MODULE_UNLOAD) {
			/* counted whether or not a symbolizer takes them */
			r->facts.modules += rec->kind == TF_MODULE;
			if (o->on_module)
				o->on_module(rec, r->nnodes, o->sym_ctx);
		} else if (rec->kind == TF_THREAD) {
			r->sys.threads++;
		} else if (rec->kind == TF_END) {
			r->facts.complete = true;
			r->facts.end_kind = rec->u.end.clean;
			r->facts.exit_status = rec->u.end.exit_status;
		}
	}
	if (shown)
		fputs("\r\033[K", stderr); /* clear the progress line */
	rp_replay_result result = {0};
	if (rc < 0) {
		if (rc != -1)
			cli_error("%s: %s", path, tf_reader_error(rd));
		status = CLI_EXIT_USAGE;
	} else if (r->n) {
		result = (rp_replay_result){
		    .events = events,
		    .requests = r->requests,
		    .free_unknown = r->free_unknown,
		    .realloc_unknown = r->realloc_unknown,
		    .alloc_over_live = r->alloc_over_live,
		    .peak_live = r->peak_live,
		    .live_end = r->live_bytes,
		    .snapshots = r->snapshots,
		    .snapshots_mismatched = r->snap_bad,
		    .snapshots_unchecked = r->snap_unchecked,
		    .malloc_layer = r->malloc_layer,
		    .compared = !r->malloc_layer && !r->not_pymalloc,
		    .nmodels = r->n,
		    .gc_unfinished = r->gc_unfinished + r->in_gc,
		    .npasses = r->npasses,
		    .passes = r->passes,
		};
		memcpy(result.gc_passes, r->gc_passes, sizeof(result.gc_passes));
		memcpy(result.examples, r->examples, sizeof(result.examples));
		char why[256];
		if (r->system && rp_sys_end(r->sysrun, &r->sys, why, sizeof(why)) < 0) {
			cli_error("replay: --system: %s", why);
			status = CLI_EXIT_USAGE;
		} else if (r->system) {
			result.has_system = true;
			result.system = r->sys;
		}
		r->sysrun = NULL;
		rp_pin *pins = NULL;
		size_t npins = 0;
		for (int i = 0; i < r->n; i++) {
			arenas_end(r, &r->mr[i]);
			model_result(r, &r->mr[i], &result.models[i], i ? NULL : &pins, &npins);
		}
		result.callsites = callsites = callsites_end(r, pins, npins, &result.ncallsites);
		free(pins);
		r->facts.threads = r->sys.threads;
		r->facts.stack_nodes = r->nnodes;
		r->facts.span_ns = r->max_time;
		result.facts = r->facts;
		result.nnodes = r->nnodes;
		result.node_parent = r->node_parent;
		result.node_ip = r->node_ip;
		if (o->stats) {
			for (int i = 0; i < r->n; i++) {
				pym_stats st;
				pym_get_stats(r->mr[i].m, &st);
				size_t len = pym_format_stats(pym_get_params(r->mr[i].m), &st, buf, cap);
				if (r->n > 1)
					fprintf(o->out, "== %s\n", result.models[i].profile);
				fwrite(buf, 1, len < cap ? len : cap - 1, o->out);
			}
		}
		if (o->json)
			print_json(o->out, &result, o);
		else if (o->summary)
			print_summary(o->out, &result, o);
		if (!r->malloc_layer && r->not_pymalloc && !o->quiet)
			fprintf(stderr,
				"replay: model %s, %" PRIu64 " requests, addresses not compared: "
				"%s served the interpreter, not pymalloc, %" PRIu64 " anomalies\n",
				result.models[0].profile, r->requests, r->facts.python_allocator,
				r->free_unknown + r->realloc_unknown + r->alloc_over_live +
				    result.models[0].errors);
		else if (!r->malloc_layer && r->mr[0].recorded_bases && !o->quiet)
			fprintf(stderr,
				"replay: model %s, %" PRIu64 " requests, %" PRIu64
				" addresses unlike the interpreter's, %" PRIu64
				" arena mismatches, %" PRIu64 " anomalies\n",
				result.models[0].profile, r->requests, result.models[0].addr_mismatch,
				result.models[0].arena_mismatch,
				r->free_unknown + r->realloc_unknown + r->alloc_over_live +
				    result.models[0].errors);
		if (o->check) {
			fprintf(o->out, "snapshots: %" PRIu64 " checked, %" PRIu64 " mismatched",
				r->snapshots, r->snap_bad);
			if (r->snap_unchecked)
				fprintf(o->out, "; %" PRIu64 " not checked: %s served the interpreter",
					r->snap_unchecked, r->facts.python_allocator);
			fputc('\n', o->out);
			if (!r->snapshots || r->snap_bad)
				status = CLI_EXIT_CHECK;
		}
	}
	if (o->inspect && r->n && rc >= 0) /* a failed replay has no result to show */
		o->inspect(&result, o->inspect_ctx);
	if (res) {
		*res = result;
		for (int i = 0; i < res->nmodels; i++) {
			res->models[i].series = NULL; /* freed below */
			res->models[i].arenas = NULL;
		}
		res->passes = NULL;
		res->callsites = NULL;
		res->ncallsites = 0;
		res->node_parent = res->node_ip = NULL;
	}
	if (r->sysrun) { /* a replay that failed: the allocator's process ends too */
		rp_system unused;
		char why[256];
		rp_sys_end(r->sysrun, &unused, why, sizeof(why));
	}
	for (int i = 0; i < r->n; i++) {
		pym_free(r->mr[i].m);
		free(r->mr[i].series);
		free(r->mr[i].arenas.a);
		xfree(&r->mr[i].arena_idx);
	}
	free(callsites);
	free(r->site_allocs), free(r->site_bytes), free(r->site_live), free(r->site_live_peak);
	table_free(r->live.t, amap_bytes(&r->live), 0);
	free(r->node_parent), free(r->node_ip);
	free(r->passes);
	free(r), free(buf), free(ra);
	return status;
}
