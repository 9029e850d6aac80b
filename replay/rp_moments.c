/*
 * rp_moments.c - the moments of rp_moments.h: which records and requests
 * trigger them, and what a model looks like there.
 *
 * A moment is taken between two requests, so that every figure of it is
 * of the same state: a mark or py_finalize record as it is read, a time
 * before the first request past it, peak and worst after the request a
 * first replay found (the engine is deterministic: a second replay of the
 * same trace passes through the same states) or that a leading replay
 * says, a lag ahead (follow triggers, rp_replay.h), the end at
 * rp_engine_finish.  The marks and the worst moment are also noted while
 * any replay runs, so that a first replay says where to look.
 *
 * Invariants: next_request is the smallest request of a PEAK or WORST
 * trigger not yet taken (UINT64_MAX when none), or with a lead to follow
 * the request after follow_bound when that is smaller; next_time the same
 * for TIME triggers; a model has at most RP_MOMENTS_MAX moments, in the
 * order they were taken, and at most one per follow trigger (moment_at).
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

void rp_moment_release(rp_moment *m)
{
	free((void *)(uintptr_t)m->pinning.ranked);
	free((void *)(uintptr_t)m->leaks_ranked);
}

/* Drops the moment follow trigger k took before, if any: a later request
 * overtook it.  The moments stay in the order they were taken. */
static void drop_taken_by(model_run *mr, int k)
{
	for (int j = 0; j < mr->nmoments; j++) {
		if (mr->moment_at[j] != k)
			continue;
		rp_moment_release(&mr->moments[j]);
		const int after = mr->nmoments - j - 1;
		memmove(&mr->moments[j], &mr->moments[j + 1], (size_t)after * sizeof(rp_moment));
		memmove(&mr->moment_at[j], &mr->moment_at[j + 1],
			(size_t)after * sizeof(mr->moment_at[0]));
		memmove(&mr->moment_mark[j], &mr->moment_mark[j + 1],
			(size_t)after * sizeof(mr->moment_mark[0]));
		mr->nmoments--;
		return;
	}
}

/* Takes model mr's moment now (after r->requests requests), for trigger
 * k (a follow trigger's earlier moment goes). */
static void take(replay *r, model_run *mr, int k, int kind, const char *label)
{
	if (r->at[k].follow)
		drop_taken_by(mr, k);
	if (mr->nmoments == RP_MOMENTS_MAX)
		return;
	if (!mr->moments && !(mr->moments = calloc(RP_MOMENTS_MAX, sizeof(rp_moment))))
		return;
	mr->moment_at[mr->nmoments] = (int16_t)k;
	mr->moment_mark[mr->nmoments] = kind == RP_AT_MARK ? r->taking_mark : 0;
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

/* Trigger k's moment of every model, or only of model `only` (>= 0). */
static void take_all(replay *r, int k, int only, int kind, const char *label)
{
	for (int i = 0; i < r->n; i++)
		if (only < 0 || only == i)
			take(r, &r->mr[i], k, kind, label);
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
	/* past the bound the follow triggers must learn the lead's candidates */
	if (r->cfg.follow && r->follow_bound < r->at_next_request)
		r->at_next_request = r->follow_bound + 1; /* the bound is below UINT64_MAX */
}

/* The lead's candidates for the follow triggers, once the lead is a lag
 * past this request (rp_replay.h).  A candidate at or after this request
 * is pending; one before it was taken already: when this replay was there
 * the lead, a lag further on, had the same one. */
static void follow_lead(replay *r)
{
	rp_lead *l = r->cfg.follow;
	const uint64_t x = r->requests;
	uint64_t peak[MAX_MODELS], worst[MAX_MODELS];
	const uint64_t lag = rp_lead_lag(l, x);
	const uint64_t got = rp_lead_wait(l, x > UINT64_MAX - lag ? UINT64_MAX : x + lag, r->n,
					  peak, worst);
	/* any request y <= got - lag(got) has y + lag(y) <= got */
	const uint64_t glag = got == UINT64_MAX ? 0 : rp_lead_lag(l, got);
	r->follow_bound = got == UINT64_MAX ? UINT64_MAX : got - glag > x ? got - glag : x;
	for (int k = 0; k < r->cfg.nat; k++) {
		rp_at *at = &r->at[k];
		if (!at->follow)
			continue;
		const uint64_t c = (at->kind == RP_AT_PEAK ? peak : worst)[at->model];
		if (c && c >= x && c != at->request) {
			at->request = c;
			r->at_taken[k] = false;
		}
	}
}

/* A follow trigger for every model (rp_at.model -1) made one per model;
 * each waits for its first candidate (taken: none pending). */
static int expand_follow(replay *r)
{
	int n = 0;
	for (int k = 0; k < r->cfg.nat; k++)
		n += r->at[k].follow && r->at[k].model < 0 ? r->n : 1;
	rp_at *at = malloc((size_t)(n ? n : 1) * sizeof(rp_at));
	if (!at || !(r->at_taken = calloc((size_t)(n ? n : 1), sizeof(bool)))) {
		free(at);
		return RP_E_NOMEM;
	}
	int j = 0;
	for (int k = 0; k < r->cfg.nat; k++) {
		const rp_at *a = &r->at[k];
		for (int i = 0; i < (a->follow && a->model < 0 ? r->n : 1); i++) {
			at[j] = *a;
			if (a->follow) {
				at[j].model = a->model < 0 ? i : a->model;
				at[j].request = 0;
				r->at_taken[j] = true;
			}
			j++;
		}
	}
	free(r->at);
	r->at = at;
	r->cfg.at = at;
	r->cfg.nat = n;
	return RP_OK;
}

int rp_moments_start(replay *r)
{
	if (r->cfg.nat > RP_MOMENTS_MAX)
		return RP_E_MODELS;
	for (int k = 0; k < r->cfg.nat; k++)
		if (r->at[k].follow && (!r->cfg.follow || r->at[k].model >= r->n))
			return RP_E_MODELS; /* no lead to follow, or no such model */
	bool follows = false;
	for (int k = 0; k < r->cfg.nat; k++)
		follows |= r->at[k].follow;
	if (!follows)
		r->cfg.follow = NULL; /* nothing waits for the lead */
	if (r->cfg.nat && expand_follow(r) < 0)
		return RP_E_NOMEM;
	next_triggers(r);
	/* moments at request 0: before the first request */
	if (r->at_next_request == 0)
		rp_moments_after_request(r);
	return RP_OK;
}

void rp_moments_after_request(replay *r)
{
	if (r->cfg.follow && r->requests > r->follow_bound)
		follow_lead(r);
	for (int k = 0; k < r->cfg.nat; k++) {
		const rp_at *at = &r->cfg.at[k];
		if (r->at_taken[k] || (at->kind != RP_AT_PEAK && at->kind != RP_AT_WORST) ||
		    at->request != r->requests)
			continue;
		r->at_taken[k] = true;
		take_all(r, k, at->model, at->kind, rp_moment_kind(at->kind));
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
		take_all(r, k, -1, RP_AT_TIME, at->label);
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
		if (r->at_taken[k] || at->kind != RP_AT_MARK ||
		    (!at->any_mark && strcmp(at->label, name)) ||
		    (at->occurrence && at->occurrence != occurrence))
			continue;
		char moment[RP_MOMENT_LABEL];
		if (occurrence > 1 || at->occurrence)
			snprintf(moment, sizeof(moment), "%.50s#%llu", name, (unsigned long long)occurrence);
		else
			snprintf(moment, sizeof(moment), "%s", name);
		if (at->occurrence)
			r->at_taken[k] = true;
		r->taking_mark = occurrence;
		take_all(r, k, -1, RP_AT_MARK, moment);
		r->taking_mark = 0;
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
			take_all(r, k, -1, RP_AT_EXIT, "exit");
		}
}

/* The first mark of a label the trace has again, taken by an any_mark
 * trigger as LABEL: LABEL#1, as the later ones are LABEL#N. */
static void name_first_marks(replay *r)
{
	for (int i = 0; i < r->n; i++) {
		model_run *mr = &r->mr[i];
		for (int j = 0; j < mr->nmoments; j++) {
			rp_moment *m = &mr->moments[j];
			if (mr->moment_mark[j] != 1 || !r->at[mr->moment_at[j]].any_mark)
				continue;
			uint32_t same = 0;
			for (uint32_t k = 0; k < r->nmarks_kept && same < 2; k++)
				same += !strcmp(r->marks[k].label, m->label);
			if (same > 1) {
				char first[RP_MOMENT_LABEL];
				snprintf(first, sizeof(first), "%.50s#1", m->label);
				memcpy(m->label, first, sizeof(first));
			}
		}
	}
}

void rp_moments_end(replay *r)
{
	name_first_marks(r);
	/* times the requests never passed: the state at the end is theirs */
	for (int k = 0; k < r->cfg.nat; k++) {
		const rp_at *at = &r->cfg.at[k];
		if (!r->at_taken[k] && at->kind == RP_AT_TIME && at->time_ns <= r->max_time) {
			r->at_taken[k] = true;
			take_all(r, k, -1, RP_AT_TIME, at->label);
		}
	}
	for (int k = 0; k < r->cfg.nat; k++)
		if (!r->at_taken[k] && r->cfg.at[k].kind == RP_AT_END &&
		    !(r->cfg.at[k].unless_exit && r->has_exit)) {
			r->at_taken[k] = true;
			take_all(r, k, -1, RP_AT_END, "end");
		}
}
