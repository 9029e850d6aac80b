/*
 * rp_xcheck.c - the arena cross-check: for every model whose arenas are the
 * interpreter's (it takes their bases from the trace's arena_alloc records,
 * rp_arenas.c), each arena it releases against the trace's arena_free
 * records, so that a replay whose arenas part from the interpreter's says
 * so (rp_arena_mismatch in rp_result.h, cli/CLI.md).
 *
 * When two releases match.  An arena_free record read after request n of
 * the layer (between requests n and n + 1) matches the model's release of
 * the same base while it replayed request n, or request n + 1 when that
 * one is a realloc: the tracer records a free before the call that frees
 * the arena, and a realloc after its call, so in the real process the
 * arena went at that request.  Nothing else matches, not a release one
 * request later or earlier.
 *
 * What does not match is counted once, on the side that let go first:
 * (a) freed_held: the interpreter freed an arena the model did not release
 * with it (later, or never; or the interpreter allocated that base again
 * while the model still held it, its arena_free missing); (b)
 * released_kept: the model released an arena the interpreter did not free
 * with it (later, never by the end, or not before the trace's next
 * arena_alloc of the same base); (c) recorded_unused: an arena_alloc the
 * model never took (still queued at the end, dropped from a full queue, or
 * freed by the interpreter first: then taken out of the queue, so that the
 * bases after it still go to the arenas they went to), or an arena_free of
 * an arena the model never held; (d) unrecorded: an arena the model placed
 * itself, the trace having no base left to give (rp_arena_source).
 *
 * Invariants: xc_lives holds the base of every arena the model took from a
 * record and still holds (XC_HELD), or released at request N (value N)
 * with no arena_free of it read since; xc_pend holds the arena_free records
 * read after request `after` whose arena the model still held then, each
 * at most until request after + 1 is done; a base is in xc_pend only while
 * xc_lives holds it as XC_HELD.
 */
#include "rp_internal.h"

#include <stdlib.h>

#define XC_HELD UINT64_MAX /* xc_lives: the model holds the arena */

typedef struct xc_pending {
	uint64_t base;
	uint64_t after; /* the record was read after this many requests */
} xc_pending;

static bool checked(const model_run *mr)
{
	return mr->recorded_bases;
}

/* The requests the run has replayed, and whether the one replayed now is a
 * realloc: the engine's, or those of the heap the run models (rp_heaps.c). */
static uint64_t now_of(const model_run *mr)
{
	return mr->clock ? *mr->clock : mr->r->requests;
}

static bool in_realloc(const model_run *mr)
{
	return mr->in_realloc ? *mr->in_realloc : mr->r->cur_realloc;
}

static xc_pending *pending_of(model_run *mr, uint64_t base)
{
	for (uint32_t i = 0; i < mr->xc_npend; i++)
		if (mr->xc_pend[i].base == base)
			return &mr->xc_pend[i];
	return NULL;
}

static void pending_remove(model_run *mr, xc_pending *p)
{
	*p = mr->xc_pend[--mr->xc_npend];
}

/* Takes base out of the queue of recorded bases; false if it is not there. */
static bool unqueue(model_run *mr, uint64_t base)
{
	for (unsigned k = 0; k < mr->qlen; k++) {
		if (mr->queue[(mr->qhead + k) % QCAP] != base)
			continue;
		for (; k + 1 < mr->qlen; k++)
			mr->queue[(mr->qhead + k) % QCAP] = mr->queue[(mr->qhead + k + 1) % QCAP];
		mr->qlen--;
		return true;
	}
	return false;
}

void rp_xcheck_taken(model_run *mr, uint64_t base)
{
	mr->xc_taken = base;
}

void rp_xcheck_model_arena(model_run *mr, uint64_t base, bool released)
{
	if (!checked(mr))
		return;
	if (!released) {
		/* an arena of its own placement is no life: its (d) is counted */
		if (base == mr->xc_taken && !u64map_put(&mr->xc_lives, base, XC_HELD))
			mr->xc.recorded_unused++; /* no memory to follow it */
		mr->xc_taken = 0;
		return;
	}
	uint64_t *v = u64map_find(&mr->xc_lives, base);
	if (!v || *v != XC_HELD)
		return; /* not from a record, or its mismatch is counted */
	const uint64_t now = now_of(mr);
	xc_pending *p = pending_of(mr, base);
	if (!p) {
		*v = now; /* until its arena_free is read */
		return;
	}
	/* the interpreter's arena_free came first: a realloc's, or too early */
	if (!(p->after + 1 == now && in_realloc(mr)))
		mr->xc.freed_held++;
	pending_remove(mr, p);
	u64map_del(&mr->xc_lives, base);
}

void rp_xcheck_arena_alloc(model_run *mr, uint64_t base)
{
	if (!checked(mr))
		return;
	uint64_t *v = u64map_find(&mr->xc_lives, base);
	if (!v || pending_of(mr, base))
		return; /* a pending arena_free waits for its request */
	if (*v == XC_HELD)
		mr->xc.freed_held++; /* the interpreter let it go unrecorded */
	else
		mr->xc.released_kept++; /* the interpreter never freed it before */
	u64map_del(&mr->xc_lives, base);
}

void rp_xcheck_arena_free_in(model_run *runs, int n, const tf_arena *a)
{
	for (int i = 0; i < n; i++) {
		model_run *mr = &runs[i];
		const uint64_t now = now_of(mr);
		if (!checked(mr) || a->size != pym_get_params(mr->m)->arena_size)
			continue;
		uint64_t *v = u64map_find(&mr->xc_lives, a->addr);
		if (v && !pending_of(mr, a->addr)) {
			if (*v != XC_HELD) { /* the model released it first */
				if (*v != now)
					mr->xc.released_kept++;
				u64map_del(&mr->xc_lives, a->addr);
				continue;
			}
			if (mr->xc_npend == mr->xc_cap) {
				uint32_t cap = mr->xc_cap ? 2 * mr->xc_cap : 8;
				xc_pending *p = realloc(mr->xc_pend, cap * sizeof(*p));
				if (!p) { /* no memory to wait: as if it never came */
					mr->xc.freed_held++;
					u64map_del(&mr->xc_lives, a->addr);
					continue;
				}
				mr->xc_pend = p;
				mr->xc_cap = cap;
			}
			mr->xc_pend[mr->xc_npend++] = (xc_pending){a->addr, now};
			continue;
		}
		/* never the model's: never taken (out of the queue now), or a
		 * second arena_free of one, or of one the trace never allocated */
		unqueue(mr, a->addr);
		mr->xc.recorded_unused++;
	}
}

void rp_xcheck_arena_free(replay *r, const tf_arena *a)
{
	rp_xcheck_arena_free_in(r->mr, r->n, a);
}

/* After a request: the arena_free records whose request has gone by
 * without the model releasing their arena. */
void rp_xcheck_after_request_in(model_run *runs, int n)
{
	for (int i = 0; i < n; i++) {
		model_run *mr = &runs[i];
		if (!mr->xc_npend)
			continue; /* most requests: nothing waits (always in the malloc layer) */
		const uint64_t now = now_of(mr);
		for (uint32_t k = 0; k < mr->xc_npend;) {
			xc_pending *p = &mr->xc_pend[k];
			if (p->after >= now) {
				k++;
				continue;
			}
			mr->xc.freed_held++;
			u64map_del(&mr->xc_lives, p->base);
			pending_remove(mr, p);
		}
	}
}

void rp_xcheck_after_request(replay *r)
{
	rp_xcheck_after_request_in(r->mr, r->n);
}

/* A subinterpreter's obmalloc state was freed (rp_heaps.c).  CPython 3.13
 * frees every arena of the state first when no block is allocated in it,
 * 3.12 never (frees_all): the arena_free records since the state's last
 * request match the model's arenas when the model has no block either,
 * and an arena the model holds then that the interpreter did not free is
 * one the model would have released. */
void rp_xcheck_heap_end(model_run *mr, bool frees_all, bool model_empty)
{
	if (!checked(mr))
		return;
	const bool released = frees_all && model_empty;
	for (uint32_t k = 0; k < mr->xc_npend;) {
		xc_pending *p = &mr->xc_pend[k];
		if (!released)
			mr->xc.freed_held++; /* the model keeps it */
		u64map_del(&mr->xc_lives, p->base);
		pending_remove(mr, p);
	}
	size_t pos = 0;
	uint64_t base, *v;
	while (released && u64map_next(&mr->xc_lives, &pos, &base, &v))
		mr->xc.released_kept += *v == XC_HELD; /* freed by the model, not the interpreter */
}

/* At the end: what is still waiting for the other side. */
void rp_xcheck_end(model_run *mr)
{
	if (!checked(mr))
		return;
	mr->xc.freed_held += mr->xc_npend;
	mr->xc_npend = 0;
	size_t pos = 0;
	uint64_t base, *v;
	while (u64map_next(&mr->xc_lives, &pos, &base, &v))
		mr->xc.released_kept += *v != XC_HELD;
	mr->xc.recorded_unused += mr->qlen;
}

void rp_xcheck_free(model_run *mr)
{
	free(mr->xc_pend);
	mr->xc_pend = NULL;
	u64map_clear(&mr->xc_lives);
}
