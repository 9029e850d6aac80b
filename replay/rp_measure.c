/*
 * rp_measure.c - what a model's state is worth after every request: bytes
 * held against live bytes, their peaks, the Johnstone-Wilson measures
 * (ISMM 1998), the waste split, the time series and the size classes, and
 * a model's result at the end.  What runs after every request
 * (rp_measure) is inline in rp_internal.h; its rare parts are here.
 *
 *   jw1  held / live averaged over time (time-weighted, where live > 0)
 *   jw2  held / live at the moment of peak live
 *   jw3  held / live at the moment of peak held
 *   jw4  peak held / peak live
 *
 * Invariant (the waste split, cli/CLI.md): arenas x arena size ==
 * requested + internal + free_blocks + empty_pools + empty_arenas.
 */
#include "rp_internal.h"

#include <stdio.h>

/* Where the held bytes go (cli/CLI.md): O(1) from the model's usage. */
void rp_waste_now(const model_run *mr, rp_waste *w)
{
	const pym_usage *u = mr->usage;
	w->requested = mr->py_live;
	w->internal = u->block_bytes - mr->py_live;
	w->free_blocks = u->pools_used * mr->pool_size - u->block_bytes;
	w->empty_arenas = u->empty_arenas * mr->arena_size;
	w->empty_pools = u->arenas * mr->arena_size - u->pools_used * mr->pool_size - w->empty_arenas;
	w->large = u->raw_bytes;
}

void rp_model_ready(model_run *mr)
{
	const pym_params *p = pym_get_params(mr->m);
	mr->usage = pym_usage_of(mr->m);
	mr->arena_size = p->arena_size;
	mr->pool_size = p->pool_size;
}

const char *const rp_series_names[RP_NSERIES] = {
    "live_bytes", "block_bytes", "pool_bytes",		 "arena_bytes",
    "arenas",	  "large_bytes", "pool_requested_bytes", "empty_arena_bytes"};

/* Writes the open point into its place in the series: the counts of pools
 * and empty arenas as bytes, and the arena bytes from the arenas (the
 * maximum of a count times a size is the size times the maximum count). */
void rp_series_close(const model_run *mr, rp_series *s, const rp_open_point *o)
{
	if (!s->n)
		return;
	const uint64_t bytes[RP_NSERIES] = {1, 1, mr->pool_size, mr->arena_size, 1, 1, 1,
					    mr->arena_size};
	s->time[s->n - 1] = o->time;
	for (int k = 0; k < RP_NSERIES; k++)
		s->v[k][s->n - 1] = (k == 3 ? o->v[4] : o->v[k]) * bytes[k];
}

/* A new point opens: when all points are used, pairs merge and the step
 * doubles. */
void rp_series_open(rp_series *s, rp_open_point *o)
{
	if (!s->step)
		s->step = 1;
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

/* ---- arena lifelines ---- */

void rp_classes_now(const model_run *mr, rp_classes *c)
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

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0.0;
}

/* all (may be NULL): every stack's pinning at the end, for the call sites */
void rp_model_result_of(const replay *r, const model_run *mr, rp_model_result *out, rp_pin **all,
			 size_t *nall)
{
	pym_stats st;
	pym_get_stats(mr->m, &st);
	*out = (rp_model_result){
	    .addr_mismatch = mr->addr_mismatch,
	    .arena_mismatch = mr->xc.freed_held + mr->xc.released_kept + mr->xc.recorded_unused +
			      mr->xc.unrecorded,
	    .arena_parts = mr->xc,
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
	rp_waste_now(mr, &out->waste_end);
	if (mr->series && mr->series->filled)
		rp_series_close(mr, mr->series, &mr->open);
	out->series = mr->series;
	if (!r->cfg.lead) /* a lead's result is for its moments: its pinning would go unread */
		rp_pinning_of(r, mr, &out->pinning, all, nall);
	out->pinning_peak = mr->pin_peak;
	out->peak_request = mr->peak_request;
	out->peak_time = mr->peak_time;
	out->worst_request = mr->worst_request;
	out->worst_time = mr->worst_time;
	out->worst_waste = mr->worst_waste;
	out->nmoments = mr->nmoments;
	out->moments = mr->moments;
	const pym_params *p = pym_get_params(mr->m);
	out->pool_size = p->pool_size;
	out->align = 1u << p->align_shift;
	out->threshold = p->threshold;
	out->keep_empty_arena = p->keep_empty_arena;
	rp_classes_now(mr, &out->classes_end);
	out->classes_peak = mr->classes_peak;
	out->arenas = &mr->arenas;
}

