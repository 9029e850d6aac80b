/*
 * rp_arenas.c - arenas: where a model's next arena goes (the base the trace
 * recorded, so that pools align as in the real process), and each model's
 * arena lifelines for the reports: when each arena was allocated and
 * released, its use sampled at ticks, what is live in it at the end.
 *
 * Invariants: arena_idx maps the base of every held arena that has a
 * record to that record's index; records are in id order; at most
 * RP_ARENA_TICKS ticks, a tick every tick_step requests.
 */
#include "rp_internal.h"

#include <stdlib.h>

/* A model wants an arena: the next base the trace recorded, or (no record
 * left, or a model of another arena size) its own placement. */
uint64_t rp_arena_source(void *ctx, uint64_t size)
{
	model_run *mr = ctx;
	(void)size;
	if (!mr->recorded_bases)
		return PYM_ARENA_BUILTIN;
	if (!mr->qlen) {
		mr->xc.unrecorded++; /* rp_xcheck.c's (d) */
		return PYM_ARENA_BUILTIN;
	}
	uint64_t base = mr->queue[mr->qhead];
	mr->qhead = (mr->qhead + 1) % QCAP;
	mr->qlen--;
	rp_xcheck_taken(mr, base);
	return base;
}

void rp_on_arena_alloc(replay *r, const tf_arena *a)
{
	rp_on_arena_alloc_in(r->mr, r->n, a);
}

void rp_on_arena_alloc_in(model_run *runs, int n, const tf_arena *a)
{
	for (int i = 0; i < n; i++) {
		model_run *mr = &runs[i];
		if (mr->gc_off)
			continue; /* its arenas differ from the interpreter's */
		if (a->size != pym_get_params(mr->m)->arena_size) {
			mr->recorded_bases = false;
			continue;
		}
		rp_xcheck_arena_alloc(mr, a->addr);
		if (mr->qlen == QCAP) {
			mr->xc.recorded_unused++; /* rp_xcheck.c's (c) */
			continue;
		}
		mr->queue[(mr->qhead + mr->qlen++) % QCAP] = a->addr;
	}
}

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
	u64map_clear(&mr->arena_idx);
	for (uint32_t i = 0; i < A->n; i++)
		if (!A->a[i].released)
			u64map_put(&mr->arena_idx, A->a[i].base, i);
}

/* The model allocated or released the arena at base (pym_arena_event). */
void rp_on_model_arena(void *ctx, uint64_t base, bool released)
{
	model_run *mr = ctx;
	rp_arenas *A = &mr->arenas;
	const uint64_t now = mr->r->last_time;
	rp_xcheck_model_arena(mr, base, released);
	if (released) {
		uint64_t *i = u64map_find(&mr->arena_idx, base);
		if (!i)
			return; /* its record was never kept */
		A->a[*i].released = true;
		A->a[*i].released_ns = now;
		u64map_del(&mr->arena_idx, base);
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
	if (!u64map_put(&mr->arena_idx, base, A->n)) {
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
	uint64_t *i = u64map_find(&c->mr->arena_idx, u->base);
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
void rp_take_tick(replay *r)
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
void rp_arenas_end(const replay *r, model_run *mr)
{
	rp_arenas *A = &mr->arenas;
	u64map pairs; /* (arena record, stack) -> index in top[] */
	u64map_init(&pairs, 1, &u64map_heap);
	struct pair {
		uint64_t idx, stack, bytes;
	} *top = NULL;
	size_t ntop = 0, cap = 0;
	const int col = (int)(mr - r->mr);
	size_t pos = 0;
	uint64_t addr, *sl;
	while (u64map_next(&r->live, &pos, &addr, &sl)) {
		uint64_t base = pym_arena_base(mr->m, sl[A_MODEL + col]);
		uint64_t *ai = base ? u64map_find(&mr->arena_idx, base) : NULL;
		if (!ai)
			continue;
		rp_arena *a = &A->a[*ai];
		a->live_blocks_end++;
		a->live_bytes_end += sl[A_SIZE];
		const uint64_t stack = word_stack(sl[A_STACK]);
		uint64_t key = (stack * 0x9E3779B97F4A7C15ull) ^ (*ai + 1);
		uint64_t *pi = u64map_find(&pairs, key);
		if (!pi) {
			if (ntop == cap) {
				struct pair *p = realloc(top, (cap = cap ? 2 * cap : 256) * sizeof(*p));
				if (!p)
					break;
				top = p;
			}
			top[ntop] = (struct pair){*ai, stack, 0};
			if (!u64map_put(&pairs, key, ntop))
				break;
			pi = u64map_find(&pairs, key);
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
	u64map_clear(&pairs);
}

/* ---- call sites ---- */

