/*
 * rp_moments.c - the moments of rp_moments.h: which records and requests
 * trigger them, and what a model looks like there.
 *
 * A moment is taken between two requests, so that every figure of it is
 * of the same state: a mark or py_finalize record as it is read, a time
 * before the first request past it, peak and worst after the request a
 * first replay found (the engine is deterministic: a second replay of the
 * same trace passes through the same states), the end at rp_engine_finish.
 * The marks and the worst moment are also noted while any replay runs, so
 * that a first replay says where to look.
 *
 * Invariants: next_request is the smallest request of a PEAK or WORST
 * trigger not yet taken (UINT64_MAX when none), next_time the same for
 * TIME triggers; a model has at most RP_MOMENTS_MAX moments.
 */
#include "rp_internal.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- what a model looks like at a moment ---- */

typedef struct use_ctx {
	uint64_t arena_size;
	uint64_t *bins;
} use_ctx;

static void bin_arena(void *ctx, const pym_arena_use *u)
{
	use_ctx *c = ctx;
	uint64_t quarter = u->block_bytes * RP_USE_BINS / (c->arena_size ? c->arena_size : 1);
	c->bins[quarter < RP_USE_BINS ? quarter : RP_USE_BINS - 1]++;
}

static int leak_cmp(const void *a, const void *b)
{
	const rp_leak *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return x->stack < y->stack ? -1 : x->stack > y->stack;
}

/* The live blocks by stack, with the arenas they are in (each (stack,
 * arena) counted once); the RP_LEAK_STACKS with the most bytes. */
static void leaks_of(const replay *r, const model_run *mr, rp_moment *m)
{
	u64map by_stack, pairs;
	u64map_init(&by_stack, 3, &u64map_heap); /* stack -> blocks, bytes, arenas */
	u64map_init(&pairs, 1, &u64map_heap);
	const int col = (int)(mr - r->mr);
	size_t pos = 0;
	uint64_t addr, *sl;
	while (u64map_next(&r->live, &pos, &addr, &sl)) {
		const uint64_t stack = word_stack(sl[A_STACK]);
		bool made;
		uint64_t *v = u64map_get(&by_stack, stack, &made);
		if (!v)
			goto out; /* out of memory: no leak list */
		v[0]++;
		v[1] += sl[A_SIZE];
		m->leak_blocks++;
		m->leak_bytes += sl[A_SIZE];
		const uint64_t base = pym_arena_base(mr->m, sl[A_MODEL + col]);
		if (base && u64map_get(&pairs, (stack * 0x9E3779B97F4A7C15ull) ^ base, &made) && made)
			v[2]++;
	}
	size_t n = by_stack.live, k = 0;
	rp_leak *all = n ? malloc(n * sizeof(*all)) : NULL;
	if (!all)
		goto out;
	pos = 0;
	uint64_t stack, *v;
	while (u64map_next(&by_stack, &pos, &stack, &v))
		all[k++] = (rp_leak){.stack = stack, .blocks = v[0], .bytes = v[1], .arenas = v[2]};
	qsort(all, n, sizeof(*all), leak_cmp);
	for (size_t i = 0; i < n && m->nleaks < RP_LEAK_STACKS; i++) {
		rp_leak *l = &m->leaks[m->nleaks++];
		*l = all[i];
		rp_frames_of(r, l->stack, l->frames);
	}
	if (r->facts.py_nodes) { /* more of the ranking: `all` itself, cut */
		const size_t keep = n < RP_RANKED_STACKS ? n : RP_RANKED_STACKS;
		for (size_t i = 0; i < keep; i++)
			rp_frames_of(r, all[i].stack, all[i].frames);
		rp_leak *cut = realloc(all, keep * sizeof(*all));
		m->leaks_ranked = cut ? cut : all;
		m->nleaks_ranked = (int)keep;
		all = NULL;
	}
	free(all);
out:
	u64map_clear(&by_stack);
	u64map_clear(&pairs);
}

/* Takes model mr's moment now (after r->requests requests). */
static void take(replay *r, model_run *mr, int kind, const char *label)
{
	if (mr->nmoments == RP_MOMENTS_MAX)
		return;
	if (!mr->moments && !(mr->moments = calloc(RP_MOMENTS_MAX, sizeof(rp_moment))))
		return;
	rp_moment *m = &mr->moments[mr->nmoments++];
	memset(m, 0, sizeof(*m));
	m->kind = kind;
	snprintf(m->label, sizeof(m->label), "%s", label);
	m->request = r->requests;
	m->time_ns = r->last_time;
	m->held = mr->held;
	m->live = mr->live;
	rp_waste_now(mr, &m->waste);
	m->arenas_held = pym_arenas_current(mr->m);
	use_ctx c = {pym_get_params(mr->m)->arena_size, m->arenas_by_use};
	pym_each_arena(mr->m, bin_arena, &c);
	rp_pinning_of(r, mr, &m->pinning, NULL, NULL);
	if (rp_moment_has_leaks(kind))
		leaks_of(r, mr, m);
	if (kind == RP_AT_PEAK) { /* the reports' "at the peak" tables are this moment's */
		mr->pin_peak = m->pinning;
		rp_classes_now(mr, &mr->classes_peak);
		if (mr == r->mr)
			rp_sites_live_now(r);
	}
}

/* Every model's moment, or only model `only` (>= 0). */
static void take_all(replay *r, int only, int kind, const char *label)
{
	for (int i = 0; i < r->n; i++)
		if (only < 0 || only == i)
			take(r, &r->mr[i], kind, label);
}

/* ---- triggers ---- */

static void next_triggers(replay *r)
{
	r->at_next_request = UINT64_MAX;
	r->at_next_time = UINT64_MAX;
	for (int k = 0; k < r->cfg.nat; k++) {
		const rp_at *at = &r->cfg.at[k];
		if (r->at_taken[k])
			continue;
		if ((at->kind == RP_AT_PEAK || at->kind == RP_AT_WORST) &&
		    at->request < r->at_next_request)
			r->at_next_request = at->request;
		if (at->kind == RP_AT_TIME && at->time_ns < r->at_next_time)
			r->at_next_time = at->time_ns;
	}
}

int rp_moments_start(replay *r)
{
	if (r->cfg.nat > RP_MOMENTS_MAX)
		return RP_E_MODELS;
	if (r->cfg.nat && !(r->at_taken = calloc((size_t)r->cfg.nat, sizeof(bool))))
		return RP_E_NOMEM;
	next_triggers(r);
	/* moments at request 0: before the first request */
	if (r->at_next_request == 0)
		rp_moments_after_request(r);
	return RP_OK;
}

void rp_moments_after_request(replay *r)
{
	for (int k = 0; k < r->cfg.nat; k++) {
		const rp_at *at = &r->cfg.at[k];
		if (r->at_taken[k] || (at->kind != RP_AT_PEAK && at->kind != RP_AT_WORST) ||
		    at->request != r->requests)
			continue;
		r->at_taken[k] = true;
		take_all(r, at->model, at->kind, rp_moment_kind(at->kind));
	}
	next_triggers(r);
}

void rp_moments_before_time(replay *r, uint64_t time_ns)
{
	for (int k = 0; k < r->cfg.nat; k++) {
		const rp_at *at = &r->cfg.at[k];
		if (r->at_taken[k] || at->kind != RP_AT_TIME || at->time_ns >= time_ns)
			continue;
		r->at_taken[k] = true;
		take_all(r, -1, RP_AT_TIME, at->label);
	}
	next_triggers(r);
}

/* A mark: noted (its place and the first model's waste there), and the
 * moments it triggers. */
void rp_moments_on_mark(replay *r, const tf_bytes *label)
{
	char name[RP_MOMENT_LABEL];
	size_t n = label->len < sizeof(name) - 1 ? label->len : sizeof(name) - 1;
	if (n) /* an empty label may have no bytes at all */
		memcpy(name, label->ptr, n);
	name[n] = '\0';
	for (size_t i = 0; i < n; i++) /* control characters would act on a terminal */
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			name[i] = '?';
	uint64_t occurrence = 1;
	for (uint32_t i = 0; i < r->nmarks_kept; i++)
		occurrence += !strcmp(r->marks[i].label, name);
	r->nmarks++;
	if (r->nmarks_kept < RP_MARKS_KEPT &&
	    (r->marks || (r->marks = malloc(RP_MARKS_KEPT * sizeof(rp_mark))))) {
		const model_run *mr = &r->mr[0];
		rp_mark *mk = &r->marks[r->nmarks_kept++];
		memcpy(mk->label, name, n + 1);
		mk->occurrence = occurrence;
		mk->request = r->requests;
		mk->time_ns = r->last_time;
		mk->waste = mr->held > mr->live ? mr->held - mr->live : 0;
	}
	for (int k = 0; k < r->cfg.nat; k++) {
		const rp_at *at = &r->cfg.at[k];
		if (r->at_taken[k] || at->kind != RP_AT_MARK || strcmp(at->label, name) ||
		    (at->occurrence && at->occurrence != occurrence))
			continue;
		char moment[RP_MOMENT_LABEL];
		if (occurrence > 1 || at->occurrence)
			snprintf(moment, sizeof(moment), "%.50s#%llu", name, (unsigned long long)occurrence);
		else
			snprintf(moment, sizeof(moment), "%s", name);
		if (at->occurrence)
			r->at_taken[k] = true;
		take_all(r, -1, RP_AT_MARK, moment);
	}
}

void rp_moments_on_exit(replay *r)
{
	if (r->has_exit)
		return; /* the first one */
	r->has_exit = true;
	r->exit_request = r->requests;
	r->exit_time = r->last_time;
	for (int k = 0; k < r->cfg.nat; k++)
		if (!r->at_taken[k] && r->cfg.at[k].kind == RP_AT_EXIT) {
			r->at_taken[k] = true;
			take_all(r, -1, RP_AT_EXIT, "exit");
		}
}

void rp_moments_end(replay *r)
{
	/* times the requests never passed: the state at the end is theirs */
	for (int k = 0; k < r->cfg.nat; k++) {
		const rp_at *at = &r->cfg.at[k];
		if (!r->at_taken[k] && at->kind == RP_AT_TIME && at->time_ns <= r->max_time) {
			r->at_taken[k] = true;
			take_all(r, -1, RP_AT_TIME, at->label);
		}
	}
	for (int k = 0; k < r->cfg.nat; k++)
		if (!r->at_taken[k] && r->cfg.at[k].kind == RP_AT_END) {
			r->at_taken[k] = true;
			take_all(r, -1, RP_AT_END, "end");
		}
}
