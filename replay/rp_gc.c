/*
 * rp_gc.c - GC passes: frees on the collecting thread between a gc_start
 * and its gc_stop are the cyclic collector's, every other free reference
 * counting's; with --gc off, a model's twin keeps the blocks the collector
 * freed (withheld) to the end.
 */
#include "rp_internal.h"

#include <stdlib.h>

/* --gc off: a block the collector freed stays allocated in the models that
 * withhold its free; it moves to a key no real address has (so the address
 * can be reused by the trace) and keeps its stack for the pinning. */
void rp_withhold(replay *r, uint64_t size, uint64_t stack_w, const uint64_t *old_m)
{
	uint64_t *slot = u64map_insert(&r->live, r->next_withheld++);
	if (!slot) {
		r->oom++;
		return;
	}
	slot[A_SIZE] = size;
	slot[A_STACK] = stack_w; /* its stack and allocation time */
	for (int i = 0; i < r->n; i++)
		slot[A_MODEL + i] = r->mr[i].gc_off ? old_m[i] : 0;
}

void rp_on_gc(replay *r, const tf_record *rec)
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

