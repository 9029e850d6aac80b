/*
 * rp_simulate.c - `arenatrace simulate`: runs an object-graph workload
 * (traces/workloads/README.md) through the refcount/GC model (gcm) with
 * every object's block from the pymalloc model (pym), and optionally
 * writes what happened as an ordinary trace, or writes the equivalent
 * Python program (--emit-python).
 *
 * The trace holds what the tracer records of a CPython process: a header
 * naming the profile's Python version, py_obj_malloc / py_obj_free with
 * the model's addresses, arena_alloc just before the request that needed
 * the arena and arena_free just after the free that released it, and
 * gc_start / gc_stop around each collection; one record per tick of 1 us.
 * Replaying it with the same profile gives back the same addresses.
 */
#include "gcm.h"
#include "pym.h"
#include "rp_workload.h"
#include "tf.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- names: expanded name -> object, chained hash ---- */

typedef struct entry {
	struct entry *next;
	gcm_obj obj;
	char name[]; /* NUL-ended */
} entry;

typedef struct names {
	entry **b;
	size_t cap, n;
} names;

static size_t hash(const char *s)
{
	size_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static entry **names_find(names *t, const char *s)
{
	if (!t->cap)
		return NULL;
	entry **e = &t->b[hash(s) & (t->cap - 1)];
	while (*e && strcmp((*e)->name, s))
		e = &(*e)->next;
	return e;
}

static bool names_grow(names *t)
{
	size_t cap = t->cap ? t->cap * 2 : 256;
	entry **b = calloc(cap, sizeof(entry *));
	if (!b)
		return false;
	for (size_t i = 0; i < t->cap; i++)
		for (entry *e = t->b[i], *nx; e; e = nx) {
			nx = e->next;
			size_t k = hash(e->name) & (cap - 1);
			e->next = b[k];
			b[k] = e;
		}
	free(t->b);
	t->b = b;
	t->cap = cap;
	return true;
}

static void names_free(names *t)
{
	for (size_t i = 0; i < t->cap; i++)
		for (entry *e = t->b[i], *nx; e; e = nx) {
			nx = e->next;
			free(e);
		}
	free(t->b);
}

/* ---- state ---- */

typedef struct sim {
	const rp_workload *w;
	const rp_sim_opts *o;
	rp_sim_result *res;
	pym *m;
	gcm *g;
	names vars;
	tf_writer *tw;
	int werr;            /* first writer error */
	uint64_t tick;
	uint64_t arena_size;
	uint64_t index[RP_WL_MAX_DEPTH]; /* iteration of each open repeat */
	char *err;
	size_t errlen;
	uint32_t line;
} sim;

static int sim_fail(sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sim_fail(sim *s, const char *fmt, ...)
{
	int n = snprintf(s->err, s->errlen, "%s:%u: ", s->o->file ? s->o->file : "workload",
			 s->line);
	if (n >= 0 && (size_t)n < s->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(s->err + n, s->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static void put(sim *s, tf_record *rec)
{
	if (!s->tw || s->werr)
		return;
	rec->thread = 1;
	rec->time = ++s->tick * 1000;
	int rc = tf_writer_put(s->tw, rec);
	if (rc < 0)
		s->werr = rc;
	else
		s->res->records++;
}

/* ---- hooks ---- */

static void on_arena(void *ctx, uint64_t base, bool released)
{
	sim *s = ctx;
	tf_record rec = {.kind = released ? TF_ARENA_FREE : TF_ARENA_ALLOC};
	rec.u.arena = (tf_arena){base, s->arena_size};
	put(s, &rec);
}

static int obj_alloc(void *ctx, uint64_t size, uint64_t *addr)
{
	sim *s = ctx;
	int rc = pym_malloc(s->m, size, addr);
	if (rc < 0)
		return rc;
	s->res->requests++;
	tf_record rec = {.kind = TF_PY_OBJ_MALLOC};
	rec.u.alloc.addr = *addr;
	rec.u.alloc.size = size;
	put(s, &rec);
	uint64_t held = pym_held_bytes(s->m);
	if (held > s->res->peak_held)
		s->res->peak_held = held;
	return 0;
}

static void obj_free(void *ctx, uint64_t addr, uint64_t size)
{
	sim *s = ctx;
	(void)size;
	s->res->requests++;
	tf_record rec = {.kind = TF_PY_OBJ_FREE};
	rec.u.alloc.addr = addr;
	put(s, &rec); /* the free before the arena it may release */
	pym_free_block(s->m, addr, NULL);
}

static void on_gc_start(void *ctx, int gen)
{
	tf_record rec = {.kind = TF_GC_START};
	rec.u.gc.generation = (uint64_t)gen;
	put(ctx, &rec);
}

static void on_gc_stop(void *ctx, int gen, uint64_t collected, uint64_t uncollectable)
{
	tf_record rec = {.kind = TF_GC_STOP};
	rec.u.gc = (tf_gc){(uint64_t)gen, collected, uncollectable};
	put(ctx, &rec);
}

/* ---- statements ---- */

/* The name at offset off with each '%' replaced by the iteration numbers
 * of the repeats around statement st, outermost first, joined by '_'. */
static void expand(const sim *s, const rp_wl_stmt *st, uint32_t off, char *buf, size_t cap)
{
	size_t n = 0;
	for (const char *p = s->w->names + off; *p && n + 1 < cap; p++) {
		if (*p != '%') {
			buf[n++] = *p;
			continue;
		}
		for (int d = 0; d < st->depth; d++) {
			int k = snprintf(buf + n, cap - n, d ? "_%" PRIu64 : "%" PRIu64, s->index[d]);
			if (k < 0 || (size_t)k >= cap - n)
				break;
			n += (size_t)k;
		}
	}
	buf[n] = 0;
}

#define NAME_CAP (RP_WL_MAX_NAME * (RP_WL_MAX_DEPTH * 11 + 1) + 1)

static int lookup(sim *s, const rp_wl_stmt *st, int which, gcm_obj *out)
{
	char buf[NAME_CAP];
	expand(s, st, st->name[which], buf, sizeof(buf));
	entry **e = names_find(&s->vars, buf);
	if (!e || !*e)
		return sim_fail(s, "name '%s' is not bound", buf);
	*out = (*e)->obj;
	return 0;
}

/* Binds the statement's first name to obj, whose reference the name now
 * holds; an object the name held before loses that reference. */
static int bind(sim *s, const rp_wl_stmt *st, gcm_obj obj)
{
	char buf[NAME_CAP];
	expand(s, st, st->name[0], buf, sizeof(buf));
	if (s->vars.n >= s->vars.cap && !names_grow(&s->vars))
		return sim_fail(s, "out of memory");
	entry **e = names_find(&s->vars, buf);
	if (*e) {
		gcm_obj old = (*e)->obj;
		(*e)->obj = obj;
		gcm_decref(s->g, old);
		return 0;
	}
	size_t len = strlen(buf);
	entry *x = malloc(sizeof(entry) + len + 1);
	if (!x)
		return sim_fail(s, "out of memory");
	memcpy(x->name, buf, len + 1);
	x->obj = obj;
	x->next = NULL;
	*e = x;
	s->vars.n++;
	return 0;
}

static int unbind(sim *s, const rp_wl_stmt *st)
{
	char buf[NAME_CAP];
	expand(s, st, st->name[0], buf, sizeof(buf));
	entry **e = names_find(&s->vars, buf);
	if (!e || !*e)
		return sim_fail(s, "drop: name '%s' is not bound", buf);
	entry *x = *e;
	*e = x->next;
	s->vars.n--;
	gcm_obj o = x->obj;
	free(x);
	gcm_decref(s->g, o);
	return 0;
}

static int step(sim *s, const rp_wl_stmt *st)
{
	gcm_obj a, b;
	int rc;
	switch (st->op) {
	case RP_WL_NEW:
		rc = gcm_new(s->g, st->num[0], st->container, &a);
		if (rc < 0)
			return sim_fail(s, "new: %s", gcm_strerror(rc));
		return bind(s, st, a);
	case RP_WL_REF:
	case RP_WL_UNREF:
		if (lookup(s, st, 0, &a) < 0 || lookup(s, st, 1, &b) < 0)
			return -1;
		rc = st->op == RP_WL_REF ? gcm_link(s->g, a, b) : gcm_unlink(s->g, a, b);
		if (rc == GCM_E_NOTCONT)
			return sim_fail(s, "%s: the first object is not a container",
					st->op == RP_WL_REF ? "ref" : "unref");
		if (rc == GCM_E_NOREF)
			return sim_fail(s, "unref: the first object holds no reference to the second");
		if (rc < 0)
			return sim_fail(s, "%s", gcm_strerror(rc));
		return 0;
	case RP_WL_ALIAS:
		if (lookup(s, st, 1, &b) < 0)
			return -1;
		if ((rc = gcm_incref(s->g, b)) < 0)
			return sim_fail(s, "alias: %s", gcm_strerror(rc));
		return bind(s, st, b);
	case RP_WL_DROP:
		return unbind(s, st);
	case RP_WL_COLLECT: {
		uint64_t found = 0;
		if (!s->o->gc_off)
			gcm_collect(s->g, (int)st->num[0], &found);
		if (s->res->explicit_collects < RP_WL_RETURNS)
			s->res->returns[s->res->explicit_collects] = found;
		s->res->explicit_collects++;
		return 0;
	}
	case RP_WL_THRESHOLD: {
		gcm_stats gs;
		gcm_get_stats(s->g, &gs);
		for (int i = 0; i < st->nargs; i++)
			gs.threshold[i] = (uint32_t)st->num[i];
		gcm_set_threshold(s->g, gs.threshold);
		return 0;
	}
	case RP_WL_FREEZE:
		gcm_freeze(s->g);
		return 0;
	case RP_WL_UNFREEZE:
		gcm_unfreeze(s->g);
		return 0;
	case RP_WL_ENABLE:
	case RP_WL_DISABLE:
		if (!s->o->gc_off)
			gcm_enable(s->g, st->op == RP_WL_ENABLE);
		return 0;
	}
	return 0;
}

static int run(sim *s)
{
	const rp_workload *w = s->w;
	uint64_t left[RP_WL_MAX_DEPTH];
	for (size_t pc = 0; pc < w->n; pc++) {
		const rp_wl_stmt *st = &w->s[pc];
		s->line = st->line;
		s->res->statements++;
		if (st->op == RP_WL_REPEAT) {
			left[st->depth] = st->num[0];
			s->index[st->depth] = 0;
			continue;
		}
		if (st->op == RP_WL_END) {
			/* the loop's back edge: an eval-breaker check in 3.12+ */
			gcm_run_scheduled(s->g);
			int d = st->depth;
			if (--left[d]) {
				s->index[d]++;
				pc = st->jump;
			}
			continue;
		}
		if (step(s, st) < 0)
			return -1;
		/* the next eval-breaker check (gcm.h): after each statement */
		gcm_run_scheduled(s->g);
		if (s->o->check) {
			const char *why = gcm_check(s->g);
			if (why)
				return sim_fail(s, "model invariant broken: %s", why);
		}
	}
	return 0;
}

/* "cpython-3.12" -> "3.12"; custom parameters follow 3.13's GC rules. */
static void version_of(const char *profile, char *out, size_t cap)
{
	if (!strncmp(profile, "cpython-", 8))
		snprintf(out, cap, "%s", profile + 8);
	else
		snprintf(out, cap, "3.13");
}

int rp_sim_run(const rp_workload *w, const rp_sim_opts *o, rp_sim_result *res, char *err,
	       size_t errlen)
{
	memset(res, 0, sizeof(*res));
	sim s = {.w = w, .o = o, .res = res, .tw = o->trace, .err = err, .errlen = errlen};
	const char *profile = o->profile ? o->profile : "cpython-3.13";
	pym_params pp;
	if (pym_params_from_name(profile, &pp) < 0) {
		snprintf(err, errlen, "unknown profile '%s'", profile);
		return -1;
	}
	snprintf(res->profile, sizeof(res->profile), "%s", pp.name);
	version_of(profile, res->python, sizeof(res->python));
	s.arena_size = res->arena_size = pp.arena_size;
	gcm_params gp;
	gcm_params_for_version(res->python, &gp);
	if (o->set_threshold)
		memcpy(gp.threshold, o->threshold, sizeof(gp.threshold));
	pym_hooks ph = {NULL, on_arena, &s};
	gcm_hooks gh = {obj_alloc, obj_free, on_gc_start, on_gc_stop, &s};
	int rc = -1;
	if (pym_create(&s.m, &pp, &ph) < 0 || gcm_create(&s.g, &gp, &gh) < 0) {
		snprintf(err, errlen, "out of memory");
		goto out_free;
	}
	if (o->gc_off)
		gcm_enable(s.g, false);
	if (s.tw) {
		tf_record rec = {.kind = TF_THREAD};
		rec.u.thread = (tf_thread){1, 1, {"main", 4}};
		put(&s, &rec);
	}
	rc = run(&s);
	gcm_get_stats(s.g, &res->gc);
	pym_stats ps;
	pym_get_stats(s.m, &ps);
	res->arenas_allocated = ps.arenas_total;
	res->arenas_current = ps.arenas_current;
	res->arenas_released = ps.arenas_total - ps.arenas_current;
	res->arenas_highwater = ps.arenas_highwater;
	if (rc == 0 && s.werr) {
		snprintf(err, errlen, "writing the trace: %s", tf_strerror(s.werr));
		rc = -1;
	}
out_free:
	names_free(&s.vars);
	gcm_free(s.g);
	pym_free(s.m);
	return rc;
}
