/*
 * rp_heaps.c - the obmalloc states (heaps) of a CPython 3.12+ process with
 * isolated subinterpreters.  Each such interpreter has a pymalloc of its
 * own; the trace holds the requests of all of them, and its heap records
 * say, per thread, whose state that thread's Python-layer requests and
 * arena records are for from there on (traces/FORMAT.md §5.4).
 *
 * The models replay the main interpreter's heap, the one every thread
 * starts with; the requests and arenas of the other heaps are set aside
 * and counted (rp_facts: other_heaps and the rest), so that what is
 * replayed and compared is exactly the main interpreter's pymalloc.  An
 * arena_free goes by its base (a subinterpreter's state may be freed by a
 * thread of another interpreter): the base of an arena a set-aside
 * arena_alloc recorded is set aside too.
 *
 * Invariants: threads maps exactly the threads whose heap is not the main
 * one to their state; arenas holds the bases set aside and not yet freed;
 * any is set from the first heap record that names another state, and
 * until then nothing here costs a request anything.
 */
#include "rp_internal.h"

/* A thread's heap changed. */
void rp_heap_record(replay *r, const tf_heap *h)
{
	rp_heaps *H = &r->heaps;
	if (!H->any && !h->state)
		return; /* back to the main heap before any other: nothing to note */
	if (!H->any) {
		H->any = true;
		u64map_init(&H->threads, 1, &u64map_heap);
		u64map_init(&H->states, 1, &u64map_heap);
		u64map_init(&H->arenas, 1, &u64map_heap);
	}
	H->cached = false;
	if (!h->state) {
		u64map_del(&H->threads, h->tid);
		return;
	}
	u64map_put(&H->threads, h->tid, h->state);
	bool made = false;
	if (u64map_get(&H->states, h->state, &made) && made)
		r->facts.other_heaps++;
}

/* Whether the thread's requests are for a heap other than the main one. */
static bool elsewhere(replay *r, uint32_t thread)
{
	rp_heaps *H = &r->heaps;
	if (!H->cached || H->tid != thread) {
		H->tid = thread;
		H->other = u64map_find(&H->threads, thread) != NULL;
		H->cached = true;
	}
	return H->other;
}

bool rp_heap_set_aside(replay *r, const tf_record *rec)
{
	if (!elsewhere(r, rec->thread))
		return false;
	r->facts.other_heap_requests++;
	return true;
}

bool rp_heap_arena_alloc(replay *r, const tf_record *rec)
{
	if (!elsewhere(r, rec->thread))
		return false;
	u64map_put(&r->heaps.arenas, rec->u.arena.addr, 1);
	r->facts.other_heap_arenas++;
	return true;
}

bool rp_heap_arena_free(replay *r, const tf_record *rec)
{
	if (!u64map_find(&r->heaps.arenas, rec->u.arena.addr))
		return false;
	u64map_del(&r->heaps.arenas, rec->u.arena.addr);
	r->facts.other_heap_arenas_freed++;
	return true;
}

bool rp_heap_snapshot_elsewhere(replay *r, const tf_record *rec)
{
	return elsewhere(r, rec->thread);
}

void rp_heaps_free(replay *r)
{
	if (!r->heaps.any)
		return;
	u64map_clear(&r->heaps.threads);
	u64map_clear(&r->heaps.states);
	u64map_clear(&r->heaps.arenas);
}
