/*
 * rp_pinning.c - the trace's stack tree, the call sites that allocated,
 * and what pins arenas: the stacks of the live blocks in the arenas held
 * at low use (live requested bytes under a quarter of the arena).
 *
 * Invariants: stack ids are dense (node n is [n - 1]); a node's frame is
 * its return address, or a Python frame as tf_py_frame (code, offset)
 * (traces/tf_record.h), whose top bit no return address has; the per-site arrays
 * have site_cap entries, indexed by stack id, 0 for no stack; site_live
 * is the requested bytes live per site now.  A leading engine (rp_config
 * lead) counts allocations and bytes alone: its call sites are for their
 * order (a report groups them ahead), their live figures zero.
 */
#include "rp_internal.h"

#include <stdlib.h>

/* Whether the per-site arrays count live bytes (site_live, site_live_peak):
 * all but a leading engine's. */
static inline bool sites_count_live(const replay *r)
{
	return !r->cfg.lead;
}

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
	for (int k = 0; k < (sites_count_live(r) ? 4 : 2); k++) {
		uint64_t *p = realloc(*arr[k], cap * sizeof(uint64_t));
		if (!p)
			return false;
		memset(p + r->site_cap, 0, (cap - r->site_cap) * sizeof(uint64_t));
		*arr[k] = p;
	}
	r->site_cap = cap;
	return true;
}

void rp_site_alloc(replay *r, uint64_t stack, uint64_t n)
{
	if (stack > r->nnodes)
		stack = 0; /* not a node of this trace: counted as no stack */
	if (!site_room(r, stack))
		return;
	r->site_allocs[stack]++;
	r->site_bytes[stack] += n == UINT64_MAX ? 0 : n;
	if (sites_count_live(r))
		r->site_live[stack] += n == UINT64_MAX ? 0 : n;
}

/* A live block of the trace (size as its slot has it) was freed. */
void rp_site_free(replay *r, uint64_t stack, uint64_t size)
{
	if (!r->site_cap || !sites_count_live(r))
		return; /* nothing counted: the arrays could not grow */
	uint64_t *live = &r->site_live[stack < r->site_cap ? stack : 0];
	*live -= size < *live ? size : *live;
}

/* Bytes live per call site now (near the first model's peak): kept up to
 * date by every request, so no pass over the live blocks. */
void rp_sites_live_now(replay *r)
{
	if (r->site_cap && sites_count_live(r))
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
rp_callsite *rp_callsites_end(const replay *r, const rp_pin *pins, size_t npins, uint64_t *n)
{
	*n = 0;
	if (!r->site_cap)
		return NULL;
	rp_callsite *out = NULL;
	uint64_t *live = NULL, *blocks = NULL, *arenas = NULL;
	if (!sites_count_live(r))
		goto count; /* the order alone */
	live = calloc(r->site_cap, sizeof(uint64_t));
	blocks = calloc(r->site_cap, sizeof(uint64_t));
	arenas = calloc(r->site_cap, sizeof(uint64_t));
	if (!live || !blocks || !arenas)
		goto out_free;
	size_t pos = 0;
	uint64_t addr, *sl;
	while (u64map_next(&r->live, &pos, &addr, &sl)) {
		if (addr >= WITHHELD_KEY0)
			continue;
		uint64_t st = word_stack(sl[A_STACK]);
		st = st < r->site_cap ? st : 0;
		live[st] += sl[A_SIZE];
		blocks[st]++;
	}
	for (size_t k = 0; k < npins; k++)
		if (pins[k].stack < r->site_cap)
			arenas[pins[k].stack] = pins[k].arenas;
count:;
	size_t count = 0;
	for (size_t id = 0; id < r->site_cap; id++)
		count += r->site_allocs[id] > 0;
	if (!count || !(out = malloc(count * sizeof(*out))))
		goto out_free;
	for (size_t id = 0; id < r->site_cap; id++) {
		if (!r->site_allocs[id])
			continue;
		rp_callsite *c = &out[(*n)++];
		*c = (rp_callsite){.stack = id, .allocs = r->site_allocs[id], .bytes = r->site_bytes[id]};
		if (live) { /* the live figures, where they are counted */
			c->live_peak = r->site_live_peak[id];
			c->live_end = live[id];
			c->blocks_end = blocks[id];
			c->arenas = arenas[id];
		}
	}
	qsort(out, *n, sizeof(*out), site_cmp);
out_free:
	free(live), free(blocks), free(arenas);
	return out;
}

void rp_sites_free(replay *r)
{
	free(r->site_allocs), free(r->site_bytes), free(r->site_live), free(r->site_live_peak);
	r->site_allocs = r->site_bytes = r->site_live = r->site_live_peak = NULL;
	r->site_cap = 0;
}

void rp_on_stack_node(replay *r, const tf_stack_node *nd)
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
	r->facts.py_nodes += nd->code != 0;
	/* a Python frame as (code, offset) in one word, told apart by its top bit */
	r->node_ip[r->nnodes++] = nd->code ? tf_py_frame(nd->code, nd->ip) : nd->ip;
}

void rp_frames_of(const replay *r, uint64_t stack, uint64_t frames[RP_PIN_FRAMES])
{
	uint64_t id = stack;
	for (int f = 0; f < RP_PIN_FRAMES && id && id <= r->nnodes; f++) {
		frames[f] = r->node_ip[id - 1];
		id = r->node_parent[id - 1];
	}
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
void rp_pinning_of(const replay *r, const model_run *mr, rp_pinning *out, rp_pin **all,
		    size_t *nall)
{
	memset(out, 0, sizeof(*out));
	const uint64_t asize = pym_get_params(mr->m)->arena_size;
	/* by arena (pym_arena_index): its live requested bytes, and whether
	 * it holds a live block at all */
	const uint32_t slots = pym_arena_slots(mr->m);
	uint64_t *arena_live = calloc(slots ? slots : 1, sizeof(*arena_live));
	uint8_t *arena_has = calloc(slots ? slots : 1, 1);
	u64map pairs, stacks;
	u64map_init(&pairs, 1, &u64map_heap);
	u64map_init(&stacks, 1, &u64map_heap);
	rp_pin *pins = NULL;
	size_t npins = 0, cap = 0;
	/* one walk of the live map (most of its slots are empty): the blocks
	 * in arenas, with their arena, for the second pass */
	typedef struct {
		uint64_t size, word;
		int32_t arena;
	} in_arena;
	in_arena *blk = r->live.live ? malloc(r->live.live * sizeof(*blk)) : NULL;
	size_t nblk = 0, pos = 0;
	uint64_t addr, *sl;
	if ((r->live.live && !blk) || !arena_live || !arena_has)
		goto out_free; /* out of memory: no pinning, as below */
	while (u64map_next(&r->live, &pos, &addr, &sl)) {
		const int32_t ai = pym_arena_index(mr->m, sl[A_MODEL + (mr - r->mr)]);
		if (ai < 0)
			continue; /* a large object */
		arena_live[ai] += sl[A_SIZE];
		arena_has[ai] = 1;
		blk[nblk++] = (in_arena){sl[A_SIZE], sl[A_STACK], ai};
	}
	for (size_t b = 0; b < nblk; b++) {
		const uint64_t size = blk[b].size, stack = word_stack(blk[b].word);
		if (arena_live[blk[b].arena] * 4 >= asize)
			continue; /* well used */
		const uint64_t base = pym_arena_address(mr->m, blk[b].arena);
		uint64_t *pi = u64map_find(&stacks, stack);
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
			u64map_put(&stacks, stack, npins);
			pi = u64map_find(&stacks, stack);
			npins++;
		}
		rp_pin *pin = &pins[*pi];
		pin->blocks++;
		pin->bytes += size;
		const uint64_t t = word_time(blk[b].word);
		pin->first_ns = t < pin->first_ns ? t : pin->first_ns;
		pin->last_ns = t > pin->last_ns ? t : pin->last_ns;
		/* (stack, arena) seen once: mix the two into one key */
		uint64_t key = (stack * 0x9E3779B97F4A7C15ull) ^ base;
		if (!u64map_find(&pairs, key)) {
			u64map_put(&pairs, key, 1);
			pin->arenas++;
		}
	}
	/* low: arenas with few live bytes, and those with none at all */
	uint64_t with_blocks = 0, low = 0;
	for (uint32_t i = 0; i < slots; i++) {
		with_blocks += arena_has[i];
		low += arena_has[i] && arena_live[i] * 4 < asize;
	}
	out->arenas_held = pym_arenas_current(mr->m);
	out->arenas_low = low + out->arenas_held - with_blocks;
	if (npins)
		qsort(pins, npins, sizeof(*pins), pin_cmp);
	for (size_t i = 0; i < npins && out->nstacks < RP_PIN_STACKS; i++) {
		rp_pin *p = &out->stacks[out->nstacks++];
		*p = pins[i];
		rp_frames_of(r, p->stack, p->frames);
	}
	/* with Python frames, more of the ranking (out of memory: none) */
	rp_pin *ranked = r->facts.py_nodes && npins ? malloc(
				 (npins < RP_RANKED_STACKS ? npins : RP_RANKED_STACKS) * sizeof(*ranked))
						    : NULL;
	for (size_t i = 0; ranked && i < npins && i < RP_RANKED_STACKS; i++) {
		ranked[out->nranked] = pins[i];
		rp_frames_of(r, pins[i].stack, ranked[out->nranked++].frames);
	}
	out->ranked = ranked;
	if (all) { /* the caller takes every stack's pinning */
		*all = pins;
		*nall = npins;
		pins = NULL;
	}
out_free:
	free(pins), free(blk), free(arena_live), free(arena_has);
	u64map_clear(&pairs), u64map_clear(&stacks);
}

/* ---- output ---- */

