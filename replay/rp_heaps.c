/*
 * rp_heaps.c - the obmalloc states (heaps) of a CPython 3.12+ process with
 * isolated subinterpreters.  Each such interpreter has a pymalloc of its
 * own; the trace holds the requests of all of them, and its heap records
 * say, per thread, whose state that thread's Python-layer requests and
 * arena records are for from there on (traces/FORMAT.md §5.4).
 *
 * The engine's models are the main interpreter's heap, the one every
 * thread starts with, and everything the replay measures is theirs.  Each
 * other heap is replayed through models of its own, one per model of the
 * engine with the same profile, which take their arena bases from the
 * arena_alloc records of that heap: their addresses and arenas are
 * compared with the interpreter's as the main heap's are, and added to
 * the exactness of the engine's model of the same index.  An arena_free
 * goes to the heap that allocated its base, whatever the thread (a
 * subinterpreter's arenas may be freed by a thread of another).
 *
 * A heap ends when the malloc-family block its heap record names is freed
 * (3.12: the PyInterpreterState that holds the state; 3.13: the state):
 * CPython 3.13 frees all its arenas just before when none of its blocks
 * is allocated (else, and always in 3.12, they stay mapped: a leak), and
 * a later interpreter may get a state at the same address, which is then
 * a new heap.
 *
 * Invariants: threads holds exactly the threads whose heap record named a
 * state other than the main one; live maps each state not freed yet to its
 * heap, blocks each such heap's block; arenas maps the bases its heaps'
 * arena_alloc records gave that no arena_free has taken back.  Nothing
 * here costs a request anything until a heap record names another state.
 */
#include "rp_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { H_SIZE, H_MODEL }; /* a heap's live block: requested size, then a block per model */
enum { T_STATE, T_BLOCK }; /* threads: the state and its block */

struct rp_heap {
	uint64_t state, block;
	uint32_t index;         /* in heaps.heap[] */
	model_run mr[MAX_MODELS];
	u64map live;            /* real address -> H_SIZE, H_MODEL + i */
	uint64_t requests;      /* replayed: its arena cross-check's clock */
	bool cur_realloc;       /* the request being replayed is a realloc */
};

/* A model's arena allocated or released: only the cross-check follows a
 * heap's arenas (no lifelines: what is measured is the main heap). */
static void on_arena(void *ctx, uint64_t base, bool released)
{
	rp_xcheck_model_arena(ctx, base, released);
}

static void heap_free(rp_heap *h, int n)
{
	for (int i = 0; i < n; i++) {
		pym_free(h->mr[i].m);
		rp_xcheck_free(&h->mr[i]);
	}
	u64map_clear(&h->live);
	free(h);
}

/* A new heap for state, its models as the engine's; NULL out of memory. */
static rp_heap *heap_new(replay *r, uint64_t state, uint64_t block)
{
	rp_heaps *H = &r->heaps;
	if (H->nlive == RP_HEAPS_LIVE_MAX)
		return NULL;
	if (H->nheap == H->cap) {
		uint32_t cap = H->cap ? 2 * H->cap : 8;
		rp_heap **a = realloc(H->heap, cap * sizeof(*a));
		if (!a)
			return NULL;
		H->heap = a;
		H->cap = cap;
	}
	rp_heap *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->state = state;
	h->block = block;
	h->index = H->nheap;
	u64map_init(&h->live, H_MODEL + (unsigned)r->n, &u64map_heap);
	for (int i = 0; i < r->n; i++) {
		model_run *mr = &h->mr[i];
		mr->r = r;
		mr->clock = &h->requests;
		mr->in_realloc = &h->cur_realloc;
		mr->recorded_bases = r->mr[i].recorded_bases;
		u64map_init(&mr->xc_lives, 1, &u64map_heap);
		pym_hooks hooks = {rp_arena_source, on_arena, mr};
		if (pym_create(&mr->m, pym_get_params(r->mr[i].m), &hooks) < 0) {
			heap_free(h, i);
			return NULL;
		}
		rp_model_ready(mr);
	}
	if (!u64map_put(&H->live, state, h->index) || (block && !u64map_put(&H->blocks, block, h->index))) {
		u64map_del(&H->live, state);
		heap_free(h, r->n);
		return NULL;
	}
	H->heap[H->nheap++] = h;
	H->nlive++;
	r->facts.other_heaps++;
	return h;
}

/* Its models' exactness, into the totals; then it is gone. */
static void heap_end(replay *r, rp_heap *h, bool freed)
{
	rp_heaps *H = &r->heaps;
	/* 3.13+ frees a state's arenas with it when none of its blocks is
	 * allocated; 3.12 never */
	int major = 0, minor = 0;
	sscanf(r->facts.python, "%d.%d", &major, &minor);
	const bool frees_all = freed && (major > 3 || (major == 3 && minor >= 13));
	for (int i = 0; i < r->n; i++) {
		model_run *mr = &h->mr[i];
		pym_stats st;
		pym_get_stats(mr->m, &st);
		uint64_t blocks = 0;
		for (uint32_t c = 0; c < st.nclasses; c++)
			blocks += st.class_blocks[c];
		if (freed)
			rp_xcheck_heap_end(mr, frees_all, blocks == 0);
		rp_xcheck_end(mr);
		H->addr_mismatch[i] += mr->addr_mismatch;
		H->errors[i] += mr->errors;
		H->xc[i].freed_held += mr->xc.freed_held;
		H->xc[i].released_kept += mr->xc.released_kept;
		H->xc[i].recorded_unused += mr->xc.recorded_unused;
		H->xc[i].unrecorded += mr->xc.unrecorded;
	}
	u64map_del(&H->live, h->state);
	if (h->block)
		u64map_del(&H->blocks, h->block);
	H->heap[h->index] = NULL;
	H->nlive--;
	H->cached = false;
	heap_free(h, r->n);
}

void rp_heap_record(replay *r, const tf_heap *h)
{
	rp_heaps *H = &r->heaps;
	if (!H->any && !h->state)
		return; /* back to the main heap before any other: nothing to note */
	if (!H->any) {
		H->any = true;
		u64map_init(&H->threads, 2, &u64map_heap);
		u64map_init(&H->live, 1, &u64map_heap);
		u64map_init(&H->blocks, 1, &u64map_heap);
		u64map_init(&H->arenas, 1, &u64map_heap);
	}
	H->cached = false;
	if (!h->state) {
		u64map_del(&H->threads, h->tid);
		return;
	}
	bool made;
	uint64_t *v = u64map_get(&H->threads, h->tid, &made);
	if (!v) {
		r->facts.other_heap_lost++; /* its requests would go to the main heap */
		return;
	}
	v[T_STATE] = h->state;
	v[T_BLOCK] = h->block;
}

/* The heap the thread's Python-layer records are for; NULL for the main
 * heap, or for another that could not be made (too many alive, or no
 * memory: then its records are lost, other_heap_lost, and no model is
 * compared). */
static rp_heap *heap_of(replay *r, uint32_t thread)
{
	rp_heaps *H = &r->heaps;
	if (H->cached && H->tid == thread)
		return H->cur;
	rp_heap *h = NULL;
	const uint64_t *t = u64map_find(&H->threads, thread);
	if (t) {
		const uint64_t *i = u64map_find(&H->live, t[T_STATE]);
		h = i ? H->heap[*i] : heap_new(r, t[T_STATE], t[T_BLOCK]);
	}
	H->cached = h || !t; /* a heap that could not be made is tried again */
	H->tid = thread;
	H->cur = h;
	return h;
}

/* A record of a thread with no heap to take it: the main heap's (false),
 * or another's that could not be made, lost (true). */
static bool lost(replay *r, uint32_t thread)
{
	if (!u64map_find(&r->heaps.threads, thread))
		return false;
	r->facts.other_heap_lost++;
	return true;
}

/* As rp_engine.c's request(), on the heap's own address map and models;
 * what a heap measures is not kept. */
static void heap_request(replay *r, rp_heap *h, const tf_record *rec)
{
	const tf_alloc *a = &rec->u.alloc;
	uint64_t n, old_n = 0, old_m[MAX_MODELS] = {0}, *slot;
	enum op op = rp_request_op(rec, &n);
	if (op == OP_NONE)
		return;
	r->facts.other_heap_requests++;
	h->requests++;
	h->cur_realloc = op == OP_REALLOC;
	uint64_t gone = op == OP_FREE ? a->addr : op == OP_REALLOC ? a->old : 0;
	if ((op == OP_ALLOC && !a->addr) || (op == OP_REALLOC && !a->addr && n) ||
	    (op == OP_FREE && !a->addr))
		return;
	if ((op == OP_ALLOC || (op == OP_REALLOC && a->addr && a->addr != gone)) &&
	    u64map_find(&h->live, a->addr)) {
		rp_anomaly(r, RP_ANOMALY_ALLOC_OVER_LIVE, a->addr);
		return;
	}
	if (gone) {
		if (!(slot = u64map_find(&h->live, gone))) {
			rp_anomaly(r, op == OP_FREE ? RP_ANOMALY_FREE_UNKNOWN : RP_ANOMALY_REALLOC_UNKNOWN,
				   gone);
			return;
		}
		old_n = slot[H_SIZE];
		memcpy(old_m, &slot[H_MODEL], (size_t)r->n * sizeof(uint64_t));
		u64map_remove(&h->live, slot);
	}
	if (op == OP_REALLOC && !a->addr)
		op = OP_FREE;
	slot = NULL;
	if (op != OP_FREE && a->addr) {
		if (!(slot = u64map_insert(&h->live, a->addr))) {
			r->facts.other_heap_lost++;
			return;
		}
		slot[H_SIZE] = n == UINT64_MAX ? 0 : n;
	}
	for (int i = 0; i < r->n; i++) {
		uint64_t out = rp_model_apply(r, &h->mr[i], op, old_m[i], old_n, n, a->addr);
		if (slot)
			slot[H_MODEL + i] = out;
	}
	rp_xcheck_after_request_in(h->mr, r->n);
}

bool rp_heap_request(replay *r, const tf_record *rec)
{
	rp_heap *h = heap_of(r, rec->thread);
	if (!h)
		return lost(r, rec->thread);
	heap_request(r, h, rec);
	return true;
}

bool rp_heap_arena_alloc(replay *r, const tf_record *rec)
{
	rp_heaps *H = &r->heaps;
	rp_heap *h = heap_of(r, rec->thread);
	if (!h) { /* the main heap's; a base an ended heap left is another arena now */
		u64map_del(&H->arenas, rec->u.arena.addr);
		return lost(r, rec->thread);
	}
	u64map_put(&H->arenas, rec->u.arena.addr, h->index);
	r->facts.other_heap_arenas++;
	rp_on_arena_alloc_in(h->mr, r->n, &rec->u.arena);
	return true;
}

bool rp_heap_arena_free(replay *r, const tf_record *rec)
{
	rp_heaps *H = &r->heaps;
	uint64_t *i = u64map_find(&H->arenas, rec->u.arena.addr);
	if (!i)
		return false;
	rp_heap *h = H->heap[*i];
	u64map_del(&H->arenas, rec->u.arena.addr);
	r->facts.other_heap_arenas_freed++;
	if (h)
		rp_xcheck_arena_free_in(h->mr, r->n, &rec->u.arena);
	return true;
}

void rp_heap_block_freed(replay *r, uint64_t addr)
{
	const uint64_t *i = u64map_find(&r->heaps.blocks, addr);
	if (i)
		heap_end(r, r->heaps.heap[*i], true);
}

bool rp_heap_snapshot_elsewhere(replay *r, const tf_record *rec)
{
	return u64map_find(&r->heaps.threads, rec->thread) != NULL;
}

/* At the end of the replay: the heaps still there, then every heap's
 * exactness into the engine's models (rp_model_result_of reads them). */
void rp_heaps_end(replay *r)
{
	rp_heaps *H = &r->heaps;
	if (!H->any)
		return;
	for (uint32_t k = 0; k < H->nheap; k++)
		if (H->heap[k])
			heap_end(r, H->heap[k], false);
	for (int i = 0; i < r->n; i++) {
		model_run *mr = &r->mr[i];
		mr->addr_mismatch += H->addr_mismatch[i];
		mr->errors += H->errors[i];
		mr->xc.freed_held += H->xc[i].freed_held;
		mr->xc.released_kept += H->xc[i].released_kept;
		mr->xc.recorded_unused += H->xc[i].recorded_unused;
		mr->xc.unrecorded += H->xc[i].unrecorded;
	}
}

void rp_heaps_free(replay *r)
{
	rp_heaps *H = &r->heaps;
	if (!H->any)
		return;
	for (uint32_t k = 0; k < H->nheap; k++)
		if (H->heap[k])
			heap_free(H->heap[k], r->n);
	free(H->heap);
	u64map_clear(&H->threads);
	u64map_clear(&H->live);
	u64map_clear(&H->blocks);
	u64map_clear(&H->arenas);
}
