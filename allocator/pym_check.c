/*
 * pym_check.c - the pymalloc model's checker: pym_check() verifies every
 * invariant of pym_internal.h from scratch (MODEL.md §13), in time
 * proportional to the arenas, pools and free blocks held.
 */
#include "pym_internal.h"

/* Whether the slot map names arena ai for address a. */
static bool slot_names(const pym *m, uint64_t a, uint32_t ai)
{
	const uint64_t *v = u64map_find(&m->slots, a >> m->arena_shift);
	return v && ((uint32_t)*v == ai + 1 || (uint32_t)(*v >> 32) == ai + 1);
}

/* The counters, the unused-slot chain and the address tables that are not
 * pools.  (Not usage.raw_bytes: summing the raw blocks would cost as much
 * as all the rest, on every operation of a checked run.) */
static const char *check_bookkeeping(const pym *m)
{
	uint64_t live = 0, unused = 0;
	for (uint32_t i = 0; i < m->maxarenas; i++) {
		const arena *a = &m->arenas[i];
		if (!a->address)
			continue;
		live++;
		if (!slot_names(m, a->address, i) ||
		    !slot_names(m, a->address + m->p.arena_size - 1, i))
			return "slot map: a live arena is missing";
	}
	for (int32_t ai = m->unused_arena_objects; ai != NONE; ai = m->arenas[ai].nextarena)
		if (m->arenas[ai].address || ++unused > m->maxarenas)
			return "unused_arena_objects: a live arena, or a cycle";
	if (live + unused != m->maxarenas)
		return "unused_arena_objects: an unused slot is missing";
	if (m->ntimes_arena_allocated < m->narenas_highwater || m->narenas_highwater < live)
		return "ntimes_arena_allocated >= narenas_highwater >= arenas does not hold";
	if (m->nfp2lasta[0] != NONE)
		return "nfp2lasta[0] is set";
	for (size_t i = 0; i < m->nfree_bases; i++) {
		const uint64_t *v = u64map_find(&m->slots, m->free_bases[i] >> m->arena_shift);
		for (int k = 0; v && k < 2; k++) {
			uint32_t e = (uint32_t)(*v >> (32 * k));
			if (e && m->arenas[e - 1].address == m->free_bases[i])
				return "built-in placement: a released base is live";
		}
	}
	return NULL;
}

/* ---- invariants ---- */

const char *pym_check(const pym *m)
{
	uint64_t live = 0;
	for (uint32_t i = 0; i < m->maxarenas; i++) {
		const arena *a = &m->arenas[i];
		if (!a->address)
			continue;
		live++;
		uint32_t carved = arena_carved(m, a);
		uint32_t total = a->address & (m->p.pool_size - 1) ? m->max_pools - 1 : m->max_pools;
		if (a->ntotalpools != total || carved > total)
			return "arena: pool counts";
		uint32_t nfree = total - carved; /* never carved */
		for (int32_t id = a->freepools; id != NONE; id = pool_of(m, id)->nextpool) {
			if ((uint32_t)id >> m->pools_shift != i || pool_of(m, id)->count)
				return "freepools: a pool of another arena, or in use";
			if (++nfree > total)
				return "freepools: a cycle";
		}
		/* nfreepools = empty cached pools + never carved ones */
		if (a->nfreepools != nfree)
			return "arena: nfreepools != empty + uncarved pools";
		for (uint32_t j = 0; j < carved; j++) {
			const pool *pl = &arena_pools(m, i)[j];
			if (!pl->count)
				continue;
			uint32_t size = class_size(m, pl->szidx), chain = 0;
			if (pl->szidx >= m->nclasses)
				return "pool: size class";
			for (uint16_t b = pl->freeblock; b != BNONE; b = pl->next[b])
				if (++chain > numblocks(m, pl->szidx))
					return "pool: free chain cycle";
			uint32_t virgin = pl->nextoffset <= m->p.pool_size - size
						  ? (m->p.pool_size - pl->nextoffset) / size
						  : 0;
			/* in_use + free + untouched == NUMBLOCKS */
			if (pl->count + chain + virgin != numblocks(m, pl->szidx))
				return "pool: count + free chain + virgin != NUMBLOCKS";
		}
	}
	if (live != m->usage.arenas)
		return "narenas_currently_allocated";
	/* the page map holds exactly the pools of the live arenas */
	uint64_t pages = 0;
	for (uint32_t i = 0; i < m->maxarenas; i++) {
		const arena *a = &m->arenas[i];
		if (!a->address)
			continue;
		pages += a->ntotalpools;
		for (uint32_t j = 0; j < a->ntotalpools; j++) {
			uint64_t addr = a->first_pool + ((uint64_t)j << m->pool_shift);
			if (arena_pools(m, i)[j].addr != addr ||
			    pym_page_find(&m->pages, addr >> m->pool_shift) !=
				(int32_t)(i << m->pools_shift | j))
				return "page map: a pool of a live arena is missing or wrong";
		}
	}
	if (pages != m->pages.live)
		return "page map: entries of released arenas";
	uint64_t bytes = 0, used = 0, empty = 0;
	for (uint32_t i = 0; i < m->maxarenas; i++) {
		const arena *a = &m->arenas[i];
		if (!a->address)
			continue;
		empty += a->nfreepools == a->ntotalpools;
		uint32_t carved = arena_carved(m, a);
		for (uint32_t j = 0; j < carved; j++) {
			const pool *pl = &arena_pools(m, i)[j];
			if (pl->count) {
				used++;
				bytes += (uint64_t)pl->count * class_size(m, pl->szidx);
			}
		}
	}
	if (bytes != m->usage.block_bytes || used != m->usage.pools_used || empty != m->usage.empty_arenas)
		return "block_bytes, pools_used or empty_arenas out of step";
	/* usable_arenas: the live arenas with free pools, ascending nfreepools */
	uint64_t nusable = 0;
	int32_t prev = NONE;
	for (int32_t ai = m->usable_arenas; ai != NONE; prev = ai, ai = m->arenas[ai].nextarena) {
		const arena *a = &m->arenas[ai];
		if (!a->address || !a->nfreepools || a->prevarena != prev)
			return "usable_arenas: links or a full arena";
		if (prev != NONE && m->arenas[prev].nfreepools > a->nfreepools)
			return "usable_arenas: not sorted";
		bool last = a->nextarena == NONE || m->arenas[a->nextarena].nfreepools != a->nfreepools;
		if (last != (m->nfp2lasta[a->nfreepools] == ai))
			return "nfp2lasta: not the rightmost arena with that count";
		if (++nusable > live)
			return "usable_arenas: a cycle";
	}
	for (uint32_t i = 0; i < m->maxarenas; i++)
		if (m->arenas[i].address && m->arenas[i].nfreepools && !nusable--)
			return "usable_arenas: an arena with free pools is missing";
	for (uint32_t k = 0; k <= m->max_pools; k++) {
		int32_t ai = m->nfp2lasta[k];
		if (ai != NONE && (!m->arenas[ai].address || m->arenas[ai].nfreepools != k))
			return "nfp2lasta: a stale entry";
	}
	/* usedpools: rings of the partly used pools of their class */
	uint64_t partly = 0, ringed = 0;
	for (uint32_t i = 0; i < m->maxarenas; i++) {
		const arena *a = &m->arenas[i];
		uint32_t carved = a->address ? arena_carved(m, a) : 0;
		for (uint32_t j = 0; j < carved; j++) {
			const pool *pl = &arena_pools(m, i)[j];
			partly += pl->count && pl->freeblock != BNONE;
		}
	}
	for (uint32_t c = 0; c < m->nclasses; c++) {
		int32_t first = m->usedpools[c], id = first;
		if (id == NONE)
			continue;
		uint64_t n = 0;
		do {
			const pool *pl = pool_of(m, id);
			if (pl->szidx != c || !pl->count || pl->freeblock == BNONE ||
			    pool_of(m, pl->nextpool)->prevpool != id)
				return "usedpools: a pool of another class, empty, full or unlinked";
			if (++n > (uint64_t)m->maxarenas * m->max_pools)
				return "usedpools: a cycle";
			id = pl->nextpool;
		} while (id != first);
		ringed += n;
	}
	if (ringed != partly)
		return "usedpools: a partly used pool is on no ring";
	return check_bookkeeping(m);
}
