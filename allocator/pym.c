/*
 * pym.c - CPython's pymalloc, modelled request for request
 * (../shared/design/PYMALLOC.md; CPython Objects/obmalloc.c 3.8-3.13 use
 * the same words: arena, pool, block, usable_arenas, nfp2lasta, usedpools,
 * freepools).  Pool headers and free chains, which CPython keeps inside the
 * arena memory, are kept here in per-arena arrays.
 */
#include "pym.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NONE (-1)
#define BNONE 0xffffu       /* end of a block free chain */
#define DUMMY_SIZE_IDX 0xffffu
#define INITIAL_ARENA_OBJECTS 16
#define RAW_BASE 0x100000000000ull /* private addresses of raw blocks (pym_malloc) */

/* ---- a small u64 -> u64 hash map (open addressing, tombstones) ---- */

typedef struct map {
	uint64_t *k, *v; /* key 0 = empty, 1 = deleted; keys are stored + 2 */
	size_t cap, used, live;
} map;

static size_t map_slot(uint64_t k, size_t cap)
{
	return (size_t)((k * 0x9E3779B97F4A7C15ull) >> 23) & (cap - 1);
}

static uint64_t *map_find(const map *m, uint64_t key)
{
	if (!m->cap)
		return NULL;
	key += 2;
	for (size_t i = map_slot(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (m->k[i] == key)
			return &m->v[i];
		if (!m->k[i])
			return NULL;
	}
}

static bool map_put(map *m, uint64_t key, uint64_t v);

static bool map_grow(map *m)
{
	map n = {0};
	n.cap = m->cap ? (m->live * 4 > m->cap ? m->cap * 2 : m->cap) : 64;
	n.k = calloc(n.cap, sizeof(uint64_t));
	n.v = malloc(n.cap * sizeof(uint64_t));
	if (!n.k || !n.v) {
		free(n.k), free(n.v);
		return false;
	}
	for (size_t i = 0; i < m->cap; i++)
		if (m->k[i] > 1)
			map_put(&n, m->k[i] - 2, m->v[i]);
	free(m->k), free(m->v);
	*m = n;
	return true;
}

static bool map_put(map *m, uint64_t key, uint64_t v)
{
	uint64_t *p = map_find(m, key);
	if (p) {
		*p = v;
		return true;
	}
	if ((m->used + 1) * 2 > m->cap && !map_grow(m))
		return false;
	key += 2;
	size_t i = map_slot(key, m->cap);
	while (m->k[i] > 1)
		i = (i + 1) & (m->cap - 1);
	m->used += !m->k[i];
	m->live++;
	m->k[i] = key, m->v[i] = v;
	return true;
}

static void map_del(map *m, uint64_t key)
{
	uint64_t *p = map_find(m, key);
	if (p) {
		m->k[p - m->v] = 1;
		m->live--;
	}
}

static void map_free(map *m)
{
	free(m->k), free(m->v);
	memset(m, 0, sizeof(*m));
}

/* ---- the page map: pool-aligned page -> pool id ----
 *
 * Pools are pool-aligned (first_pool is rounded up), so p >> pool_shift
 * names p's pool.  One probe of this table, whose key and value share a
 * slot, finds the pool of a freed address without going through its
 * arena: every live arena's pools are in it.  Linear probing, load at most
 * 1/2, deletion by backward shift (arenas come and go all the time under
 * 3.8's rules, tombstones would pile up). */

typedef struct page_slot {
	uint64_t page; /* 0 = empty (pages of arenas are never 0) */
	int32_t id;
} page_slot;

typedef struct page_map {
	page_slot *e;
	size_t mask, n;
	unsigned shift; /* 64 - log2(capacity) */
} page_map;

static inline size_t page_home(const page_map *t, uint64_t page)
{
	return (size_t)((page * 0x9E3779B97F4A7C15ull) >> t->shift);
}

static bool page_init(page_map *t, unsigned bits)
{
	t->e = calloc((size_t)1 << bits, sizeof(page_slot));
	t->mask = ((size_t)1 << bits) - 1;
	t->shift = 64 - bits;
	t->n = 0;
	return t->e != NULL;
}

static inline int32_t page_find(const page_map *t, uint64_t page)
{
	for (size_t i = page_home(t, page);; i = (i + 1) & t->mask) {
		if (t->e[i].page == page)
			return t->e[i].id;
		if (!t->e[i].page)
			return NONE;
	}
}

static void page_put_new(page_map *t, uint64_t page, int32_t id)
{
	size_t i = page_home(t, page);
	while (t->e[i].page)
		i = (i + 1) & t->mask;
	t->e[i] = (page_slot){page, id};
	t->n++;
}

/* Room for `more` new pages. */
static bool page_reserve(page_map *t, size_t more)
{
	if ((t->n + more) * 2 <= t->mask + 1)
		return true;
	unsigned bits = 64 - t->shift;
	while ((t->n + more) * 2 > (size_t)1 << bits)
		bits++;
	page_map n;
	if (!page_init(&n, bits))
		return false;
	for (size_t i = 0; i <= t->mask; i++)
		if (t->e[i].page)
			page_put_new(&n, t->e[i].page, t->e[i].id);
	free(t->e);
	*t = n;
	return true;
}

static void page_del(page_map *t, uint64_t page)
{
	size_t i = page_home(t, page);
	while (t->e[i].page != page) {
		if (!t->e[i].page)
			return;
		i = (i + 1) & t->mask;
	}
	/* backward shift: pull later entries of the run into the hole unless
	 * their home lies cyclically in (hole, their slot] */
	for (size_t j = i;;) {
		j = (j + 1) & t->mask;
		if (!t->e[j].page)
			break;
		size_t h = page_home(t, t->e[j].page);
		bool stays = i <= j ? (h > i && h <= j) : (h > i || h <= j);
		if (!stays) {
			t->e[i] = t->e[j];
			i = j;
		}
	}
	t->e[i].page = 0;
	t->n--;
}

/* ---- state ---- */

typedef struct pool {   /* 40 bytes: the freed blocks' pools are most of the cache misses */
	uint16_t count;        /* ref.count: blocks in use (fewer than BNONE) */
	uint16_t szidx;        /* size class, DUMMY_SIZE_IDX when freshly carved */
	uint16_t freeblock;    /* first block of the free chain, BNONE = empty chain */
	uint32_t nextoffset;   /* bytes from the pool start to the next virgin block */
	int32_t nextpool, prevpool; /* pool ids: usedpools ring, or freepools list (next only) */
	uint16_t *next;        /* free chain links, one per block */
	uint64_t addr;         /* the pool's address */
} pool;

typedef struct arena {
	uint64_t address;      /* base, 0 = slot unused */
	uint64_t first_pool;   /* first pool-aligned address */
	uint64_t pool_address; /* next never-carved pool */
	uint32_t nfreepools, ntotalpools;
	int32_t freepools;     /* pool id, LIFO of empty pools */
	int32_t nextarena, prevarena;
	bool builtin;          /* placed by the model itself */
} arena;

struct pym {
	pym_params p;
	pym_hooks hooks;
	uint32_t arena_shift, pool_shift, pools_shift; /* log2 of arena, pool, max_pools */
	uint32_t inv[PYM_MAX_CLASSES]; /* ceil(2^32 / block size): k = off * inv >> 32 */
	uint32_t max_pools;  /* MAX_POOLS_IN_ARENA */
	uint32_t nclasses;
	uint32_t max_blocks; /* blocks of the smallest class in a pool */
	arena *arenas;
	pool *pools;         /* [maxarenas << pools_shift]: pool id = index */
	uint32_t maxarenas;
	int32_t unused_arena_objects;
	int32_t usable_arenas;
	int32_t *nfp2lasta;  /* [max_pools + 1] */
	int32_t *usedpools;  /* [nclasses]: first pool of the ring, NONE = empty */
	uint64_t ntimes_arena_allocated, narenas_highwater;
	/* O(1) figures for the replay's waste split, kept up to date in place
	 * (pym_check recomputes them); usage.arenas is
	 * narenas_currently_allocated */
	pym_usage usage;
	map slots;           /* arena_size-aligned slot -> up to two arena indices (+1) */
	page_map pages;      /* pool page -> pool id, every pool of every live arena */
	map raw;             /* live raw block -> requested size */
	uint64_t raw_next;   /* next private raw address */
	map radix_mid, radix_bot; /* radix tree nodes ever created (keys) */
	uint64_t next_base;  /* built-in arena placement */
	uint64_t *free_bases; /* built-in: released bases, reused LIFO */
	size_t nfree_bases, cap_free_bases;
};

const char *pym_strerror(int err)
{
	switch (err) {
	case PYM_OK: return "success";
	case PYM_E_NOMEM: return "out of memory";
	case PYM_E_PARAMS: return "invalid allocator parameters";
	case PYM_E_UNKNOWN: return "address not allocated by this model";
	case PYM_E_NOARENA: return "no arena address available";
	case PYM_E_ARENA: return "arena overlaps a live arena";
	}
	return "unknown error";
}

static inline uint32_t class_size(const pym *m, uint32_t idx)
{
	return (idx + 1) << m->p.align_shift;
}

static inline uint32_t numblocks(const pym *m, uint32_t idx)
{
	return (m->p.pool_size - m->p.pool_overhead) / class_size(m, idx);
}

/* Pool ids: arena index << pools_shift | pool number in the arena. */
static inline pool *pool_of(const pym *m, int32_t id)
{
	return &m->pools[(uint32_t)id];
}

/* Arena ai's max_pools pools (ids ai << pools_shift on). */
static inline pool *arena_pools(const pym *m, uint32_t ai)
{
	return &m->pools[(size_t)ai << m->pools_shift];
}

/* Block index of an offset into the blocks of a pool of class idx
 * (exact: offsets are below 2^16 and sizes at most 2^8 << shift). */
static inline uint32_t block_index(const pym *m, uint32_t idx, uint64_t off)
{
	return (uint32_t)((off * m->inv[idx]) >> 32);
}

static inline uint64_t block_addr(const pym *m, int32_t id, uint32_t k)
{
	const pool *pl = pool_of(m, id);
	return pl->addr + m->p.pool_overhead + (uint64_t)k * class_size(m, pl->szidx);
}

/* ---- address lookup: which live arena holds p ---- */

static uint64_t slot_of(const pym *m, uint64_t a)
{
	return a >> m->arena_shift;
}

static bool slot_add(pym *m, uint64_t slot, int32_t ai)
{
	uint64_t *v = map_find(&m->slots, slot), cur = v ? *v : 0;
	uint32_t lo = (uint32_t)cur, hi = (uint32_t)(cur >> 32);
	if (!lo)
		lo = (uint32_t)ai + 1;
	else if (!hi)
		hi = (uint32_t)ai + 1;
	else
		return false; /* three arenas in one slot: they would overlap */
	return map_put(&m->slots, slot, (uint64_t)hi << 32 | lo);
}

static void slot_remove(pym *m, uint64_t slot, int32_t ai)
{
	uint64_t *v = map_find(&m->slots, slot);
	if (!v)
		return;
	uint32_t lo = (uint32_t)*v, hi = (uint32_t)(*v >> 32);
	if (lo == (uint32_t)ai + 1)
		lo = hi, hi = 0;
	else if (hi == (uint32_t)ai + 1)
		hi = 0;
	if (!lo)
		map_del(&m->slots, slot);
	else
		*v = (uint64_t)hi << 32 | lo;
}

/* The arena index holding p, or NONE. */
static int32_t arena_of(const pym *m, uint64_t p)
{
	const uint64_t *v = map_find(&m->slots, slot_of(m, p));
	if (!v)
		return NONE;
	for (int i = 0; i < 2; i++) {
		uint32_t e = (uint32_t)(*v >> (32 * i));
		if (!e)
			continue;
		const arena *a = &m->arenas[e - 1];
		if (a->address && p >= a->address && p - a->address < m->p.arena_size)
			return (int32_t)(e - 1);
	}
	return NONE;
}

bool pym_owns(const pym *m, uint64_t p)
{
	/* a block is in a pool page: one probe of the page map, which the
	 * request on it is about to make too */
	return page_find(&m->pages, p >> m->pool_shift) != NONE || arena_of(m, p) != NONE;
}

uint64_t pym_arena_base(const pym *m, uint64_t p)
{
	int32_t ai = arena_of(m, p);
	return ai == NONE ? 0 : m->arenas[ai].address;
}

/* ---- radix tree node counts (3.10+, §7-8) ---- */

static void radix_mark(pym *m, uint64_t a)
{
	if (!m->p.radix_bits)
		return;
	unsigned ab = (unsigned)__builtin_ctz(m->p.arena_size);
	unsigned bits = m->p.radix_bits - ab, interior = (bits + 2) / 3, bot = bits - 2 * interior;
	uint64_t addr_mask = m->p.radix_bits == 64 ? ~0ull : (1ull << m->p.radix_bits) - 1;
	a &= addr_mask;
	uint64_t top = a >> (ab + bot + interior);
	uint64_t topmid = a >> (ab + bot);
	map_put(&m->radix_mid, top, 1);
	map_put(&m->radix_bot, topmid, 1);
}

/* ---- arenas (§4) ---- */

static uint64_t builtin_source(pym *m)
{
	/* mmap-like: a released base is reused first (LIFO), else a new one
	 * below the last, one page apart so 16 KiB pools lose alignment as
	 * real mmap addresses usually do */
	if (m->nfree_bases)
		return m->free_bases[--m->nfree_bases];
	if (!m->next_base)
		m->next_base = 0x7f0000000000ull;
	m->next_base -= m->p.arena_size + 4096;
	return m->next_base;
}

static void builtin_release(pym *m, uint64_t base)
{
	if (m->nfree_bases == m->cap_free_bases) {
		size_t cap = m->cap_free_bases ? 2 * m->cap_free_bases : 16;
		uint64_t *p = realloc(m->free_bases, cap * sizeof(*p));
		if (!p)
			return;
		m->free_bases = p, m->cap_free_bases = cap;
	}
	m->free_bases[m->nfree_bases++] = base;
}

/* new_arena(): 0 and *out, or an error; NONE in *out if the source failed
 * (pymalloc then falls back to raw malloc). */
static int new_arena(pym *m, int32_t *out)
{
	*out = NONE;
	if (m->unused_arena_objects == NONE) {
		uint32_t n = m->maxarenas ? m->maxarenas * 2 : INITIAL_ARENA_OBJECTS;
		arena *v = realloc(m->arenas, n * sizeof(arena));
		if (!v)
			return PYM_E_NOMEM;
		m->arenas = v;
		pool *pv = realloc(m->pools, ((size_t)n << m->pools_shift) * sizeof(pool));
		if (!pv)
			return PYM_E_NOMEM;
		m->pools = pv;
		memset(pv + ((size_t)m->maxarenas << m->pools_shift), 0,
		       ((size_t)(n - m->maxarenas) << m->pools_shift) * sizeof(pool));
		for (uint32_t i = m->maxarenas; i < n; i++) {
			memset(&v[i], 0, sizeof(arena));
			v[i].nextarena = i + 1 < n ? (int32_t)(i + 1) : NONE;
		}
		m->unused_arena_objects = (int32_t)m->maxarenas;
		m->maxarenas = n;
	}
	int32_t ai = m->unused_arena_objects;
	arena *a = &m->arenas[ai];
	uint64_t base = m->hooks.source ? m->hooks.source(m->hooks.ctx, m->p.arena_size)
				       : PYM_ARENA_BUILTIN;
	bool builtin = base == PYM_ARENA_BUILTIN;
	if (builtin)
		base = builtin_source(m);
	if (!base || base + m->p.arena_size - 1 < base)
		return 0; /* allocation failed (or a base no arena fits after): the slot stays unused */
	if (arena_of(m, base) != NONE || arena_of(m, base + m->p.arena_size - 1) != NONE)
		return PYM_E_ARENA;
	if (!page_reserve(&m->pages, m->max_pools) || !slot_add(m, slot_of(m, base), ai) ||
	    (slot_of(m, base + m->p.arena_size - 1) != slot_of(m, base) &&
	     !slot_add(m, slot_of(m, base + m->p.arena_size - 1), ai))) {
		slot_remove(m, slot_of(m, base), ai);
		return PYM_E_NOMEM;
	}
	m->unused_arena_objects = a->nextarena;
	a->address = base;
	a->builtin = builtin;
	pool *pools = arena_pools(m, (uint32_t)ai);
	memset(pools, 0, m->max_pools * sizeof(pool));
	radix_mark(m, base);
	if (base % m->p.arena_size)
		radix_mark(m, base + m->p.arena_size);
	m->usage.arenas++;
	m->ntimes_arena_allocated++;
	if (m->usage.arenas > m->narenas_highwater)
		m->narenas_highwater = m->usage.arenas;
	a->freepools = NONE;
	a->pool_address = base;
	a->nfreepools = m->max_pools;
	uint64_t excess = base & (m->p.pool_size - 1);
	if (excess) {
		a->nfreepools--;
		a->pool_address += m->p.pool_size - excess;
	}
	a->first_pool = a->pool_address;
	a->ntotalpools = a->nfreepools;
	for (uint32_t k = 0; k < a->ntotalpools; k++) {
		pools[k].addr = a->first_pool + ((uint64_t)k << m->pool_shift);
		page_put_new(&m->pages, pools[k].addr >> m->pool_shift,
			     (int32_t)((uint32_t)ai << m->pools_shift | k));
	}
	m->usage.empty_arenas++;
	if (m->hooks.event)
		m->hooks.event(m->hooks.ctx, base, false);
	*out = ai;
	return 0;
}

static void release_arena(pym *m, int32_t ai)
{
	arena *a = &m->arenas[ai];
	uint64_t base = a->address;
	pool *pools = arena_pools(m, (uint32_t)ai);
	for (uint32_t i = 0; i < a->ntotalpools; i++) {
		free(pools[i].next);
		pools[i].next = NULL;
		page_del(&m->pages, pools[i].addr >> m->pool_shift);
	}
	slot_remove(m, slot_of(m, base), ai);
	slot_remove(m, slot_of(m, base + m->p.arena_size - 1), ai);
	a->nextarena = m->unused_arena_objects;
	m->unused_arena_objects = ai;
	a->address = 0;
	m->usage.arenas--;
	m->usage.empty_arenas--; /* only wholly free arenas are released */
	if (a->builtin)
		builtin_release(m, base);
	if (m->hooks.event)
		m->hooks.event(m->hooks.ctx, base, true);
}

/* ---- usedpools rings ---- */

static void ring_insert_front(pym *m, uint32_t idx, int32_t id)
{
	pool *pl = pool_of(m, id);
	int32_t first = m->usedpools[idx];
	if (first == NONE) {
		pl->nextpool = pl->prevpool = id;
	} else {
		pool *f = pool_of(m, first);
		pool *last = pool_of(m, f->prevpool);
		pl->nextpool = first;
		pl->prevpool = f->prevpool;
		last->nextpool = id;
		f->prevpool = id;
	}
	m->usedpools[idx] = id;
}

static void ring_unlink(pym *m, uint32_t idx, int32_t id)
{
	pool *pl = pool_of(m, id);
	if (pl->nextpool == id) {
		m->usedpools[idx] = NONE;
		return;
	}
	pool_of(m, pl->prevpool)->nextpool = pl->nextpool;
	pool_of(m, pl->nextpool)->prevpool = pl->prevpool;
	if (m->usedpools[idx] == id)
		m->usedpools[idx] = pl->nextpool;
}

/* ---- allocation (§5) ---- */

/* An arena whose last free pool was taken leaves usable_arenas (its head). */
static void usable_pop_if_full(pym *m, arena *ua)
{
	if (ua->nfreepools == 0) {
		m->usable_arenas = ua->nextarena;
		if (m->usable_arenas != NONE)
			m->arenas[m->usable_arenas].prevarena = NONE;
	}
}

/* allocate_from_new_pool(): 0 with *bp set, or 0 with *bp = 0 when no
 * arena could be had, or an error. */
static int allocate_from_new_pool(pym *m, uint32_t idx, uint64_t *bp)
{
	*bp = 0;
	if (m->usable_arenas == NONE) {
		int32_t ai;
		int rc = new_arena(m, &ai);
		if (rc < 0 || ai == NONE)
			return rc;
		m->usable_arenas = ai;
		m->arenas[ai].nextarena = m->arenas[ai].prevarena = NONE;
		assert(m->nfp2lasta[m->arenas[ai].nfreepools] == NONE);
		m->nfp2lasta[m->arenas[ai].nfreepools] = ai;
	}
	int32_t uai = m->usable_arenas;
	arena *ua = &m->arenas[uai];
	if (m->nfp2lasta[ua->nfreepools] == uai)
		m->nfp2lasta[ua->nfreepools] = NONE; /* it was the last with this count */
	if (ua->nfreepools > 1) {
		assert(m->nfp2lasta[ua->nfreepools - 1] == NONE);
		m->nfp2lasta[ua->nfreepools - 1] = uai;
	}
	int32_t id = ua->freepools;
	if (id != NONE) { /* the most recently emptied pool */
		ua->freepools = pool_of(m, id)->nextpool;
	} else { /* carve a new pool */
		id = (int32_t)((uint32_t)uai << m->pools_shift |
			       (uint32_t)((ua->pool_address - ua->first_pool) >> m->pool_shift));
		pool *pl = pool_of(m, id);
		pl->szidx = DUMMY_SIZE_IDX;
		ua->pool_address += m->p.pool_size;
	}
	if (ua->nfreepools == ua->ntotalpools)
		m->usage.empty_arenas--;
	ua->nfreepools--;
	usable_pop_if_full(m, ua);
	m->usage.pools_used++;
	pool *pl = pool_of(m, id);
	ring_insert_front(m, idx, id); /* the ring was empty */
	pl->count = 1;
	m->usage.block_bytes += class_size(m, idx);
	if (pl->szidx == idx) { /* an empty pool that last served this class */
		uint16_t b = pl->freeblock;
		pl->freeblock = pl->next[b];
		*bp = block_addr(m, id, b);
		return 0;
	}
	if (!pl->next) {
		pl->next = malloc(m->max_blocks * sizeof(uint16_t));
		if (!pl->next)
			return PYM_E_NOMEM;
	}
	uint32_t size = class_size(m, idx);
	pl->szidx = idx;
	pl->nextoffset = m->p.pool_overhead + 2 * size;
	pl->freeblock = 1; /* block 1, a chain of one */
	pl->next[1] = BNONE;
	*bp = block_addr(m, id, 0);
	return 0;
}

/* pymalloc_alloc(): 0 with *bp (0 = refused: raw), or an error. */
static int pymalloc_alloc(pym *m, uint64_t n, uint64_t *bp)
{
	*bp = 0;
	if (n == 0 || n > m->p.threshold)
		return 0;
	uint32_t idx = (uint32_t)((n - 1) >> m->p.align_shift);
	int32_t id = m->usedpools[idx];
	if (id == NONE)
		return allocate_from_new_pool(m, idx, bp);
	pool *pl = pool_of(m, id);
	pl->count++;
	m->usage.block_bytes += class_size(m, idx);
	uint16_t b = pl->freeblock;
	pl->freeblock = pl->next[b];
	if (pl->freeblock == BNONE) { /* pymalloc_pool_extend */
		uint32_t size = class_size(m, idx);
		if (pl->nextoffset <= m->p.pool_size - size) { /* maxnextoffset */
			uint16_t k = (uint16_t)block_index(m, idx, pl->nextoffset - m->p.pool_overhead);
			pl->freeblock = k;
			pl->next[k] = BNONE;
			pl->nextoffset += size;
		} else {
			ring_unlink(m, idx, id); /* full */
		}
	}
	*bp = block_addr(m, id, b);
	return 0;
}

/* ---- free (§6) ---- */

static void insert_to_freepool(pym *m, int32_t id)
{
	pool *pl = pool_of(m, id);
	ring_unlink(m, pl->szidx, id);
	int32_t ai = (int32_t)((uint32_t)id >> m->pools_shift);
	arena *ao = &m->arenas[ai];
	pl->nextpool = ao->freepools;
	ao->freepools = id;
	uint32_t nf = ao->nfreepools;
	int32_t lastnf = m->nfp2lasta[nf];
	if (lastnf == ai) { /* the rightmost with nf */
		int32_t p = ao->prevarena;
		m->nfp2lasta[nf] = (p != NONE && m->arenas[p].nfreepools == nf) ? p : NONE;
	}
	ao->nfreepools = ++nf;
	if (nf == ao->ntotalpools)
		m->usage.empty_arenas++; /* wholly free: released below, or kept (3.9+) */
	/* Case 1: wholly free.  3.8 always releases it; 3.9+ keeps it when it
	 * is the last arena of usable_arenas (bpo-37257). */
	if (nf == ao->ntotalpools && (!m->p.keep_empty_arena || ao->nextarena != NONE)) {
		if (ao->prevarena == NONE)
			m->usable_arenas = ao->nextarena;
		else
			m->arenas[ao->prevarena].nextarena = ao->nextarena;
		if (ao->nextarena != NONE)
			m->arenas[ao->nextarena].prevarena = ao->prevarena;
		release_arena(m, ai);
		return;
	}
	if (nf == 1) { /* Case 2: it was full, on no list: to the head */
		ao->nextarena = m->usable_arenas;
		ao->prevarena = NONE;
		if (m->usable_arenas != NONE)
			m->arenas[m->usable_arenas].prevarena = ai;
		m->usable_arenas = ai;
		if (m->nfp2lasta[1] == NONE)
			m->nfp2lasta[1] = ai;
		return;
	}
	if (m->nfp2lasta[nf] == NONE)
		m->nfp2lasta[nf] = ai;
	if (ai == lastnf) /* Case 4: it stays where it is */
		return;
	/* Case 3: move it right, just after lastnf */
	assert(ao->nextarena != NONE && lastnf != NONE);
	if (ao->prevarena != NONE)
		m->arenas[ao->prevarena].nextarena = ao->nextarena;
	else
		m->usable_arenas = ao->nextarena;
	m->arenas[ao->nextarena].prevarena = ao->prevarena;
	arena *l = &m->arenas[lastnf];
	ao->prevarena = lastnf;
	ao->nextarena = l->nextarena;
	if (ao->nextarena != NONE)
		m->arenas[ao->nextarena].prevarena = ai;
	l->nextarena = ai;
}

/* pymalloc_free(): true if p was pymalloc's; -1 if inside an arena but not
 * a live block's address. */
static int pymalloc_free(pym *m, uint64_t p)
{
	int32_t id = page_find(&m->pages, p >> m->pool_shift);
	if (id == NONE) /* outside every pool: raw, or an arena's alignment excess */
		return arena_of(m, p) == NONE ? 0 : -1;
	pool *pl = pool_of(m, id);
	uint64_t off = p - pl->addr;
	if (!pl->count || pl->szidx == DUMMY_SIZE_IDX || off < m->p.pool_overhead ||
	    off >= pl->nextoffset)
		return -1;
	uint32_t k = block_index(m, pl->szidx, off - m->p.pool_overhead);
	if ((uint64_t)k * class_size(m, pl->szidx) != off - m->p.pool_overhead)
		return -1; /* inside a block, not at its start */
	uint16_t lastfree = pl->freeblock;
	pl->next[k] = lastfree;
	pl->freeblock = (uint16_t)k;
	pl->count--;
	m->usage.block_bytes -= class_size(m, pl->szidx);
	if (lastfree == BNONE) { /* it was full: to the front of usedpools */
		ring_insert_front(m, pl->szidx, id);
		return 1;
	}
	if (pl->count)
		return 1;
	m->usage.pools_used--;
	insert_to_freepool(m, id); /* now empty */
	return 1;
}

/* ---- the large-object layer ---- */

static int raw_alloc(pym *m, uint64_t n, uint64_t addr, uint64_t *out)
{
	if (!addr) {
		addr = m->raw_next;
		m->raw_next += (n ? (n + 15) & ~15ull : 16) + 16;
	}
	if (!map_put(&m->raw, addr, n))
		return PYM_E_NOMEM;
	m->usage.raw_bytes += n;
	*out = addr;
	return 0;
}

static bool raw_free(pym *m, uint64_t p)
{
	uint64_t *v = map_find(&m->raw, p);
	if (!v)
		return false;
	m->usage.raw_bytes -= *v;
	map_del(&m->raw, p);
	return true;
}

/* ---- public API ---- */

int pym_malloc_at(pym *m, uint64_t n, uint64_t raw_addr, uint64_t *out)
{
	int rc = pymalloc_alloc(m, n, out);
	if (rc < 0 || *out)
		return rc;
	return raw_alloc(m, n, raw_addr, out);
}

int pym_malloc(pym *m, uint64_t n, uint64_t *out)
{
	return pym_malloc_at(m, n, 0, out);
}

int pym_calloc(pym *m, uint64_t nelem, uint64_t elsize, uint64_t *out)
{
	uint64_t n;
	if (__builtin_mul_overflow(nelem, elsize, &n))
		n = UINT64_MAX; /* too big for pymalloc: raw, as CPython does */
	return pym_malloc_at(m, n, 0, out);
}

int pym_free_block(pym *m, uint64_t p, bool *was_pymalloc)
{
	if (was_pymalloc)
		*was_pymalloc = false;
	if (!p)
		return 0;
	int r = pymalloc_free(m, p);
	if (r < 0)
		return PYM_E_UNKNOWN;
	if (r) {
		if (was_pymalloc)
			*was_pymalloc = true;
		return 0;
	}
	return raw_free(m, p) ? 0 : PYM_E_UNKNOWN;
}

/* _PyObject_Realloc (§2): a pymalloc block stays if 3/4 size < n <= size;
 * otherwise the new block is taken before the old one is freed.  A raw
 * block stays raw. */
int pym_realloc_at(pym *m, uint64_t p, uint64_t n, uint64_t raw_addr, uint64_t *out)
{
	if (!p)
		return pym_malloc_at(m, n, raw_addr, out);
	int32_t id = page_find(&m->pages, p >> m->pool_shift);
	if (id == NONE) {
		if (arena_of(m, p) != NONE)
			return PYM_E_UNKNOWN;
		uint64_t *v = map_find(&m->raw, p);
		if (!v)
			return PYM_E_UNKNOWN;
		raw_free(m, p);
		return raw_alloc(m, n, raw_addr ? raw_addr : p, out);
	}
	const pool *pl = pool_of(m, id);
	if (!pl->count || pl->szidx == DUMMY_SIZE_IDX)
		return PYM_E_UNKNOWN;
	uint64_t size = class_size(m, pl->szidx);
	if (n <= size && 4 * n > 3 * size) {
		*out = p;
		return 0;
	}
	int rc = pym_malloc_at(m, n, raw_addr, out);
	if (rc < 0)
		return rc;
	return pym_free_block(m, p, NULL);
}

int pym_realloc(pym *m, uint64_t p, uint64_t n, uint64_t *out)
{
	return pym_realloc_at(m, p, n, 0, out);
}

/* ---- creation ---- */

static int check_params(const pym_params *p)
{
	if (!p->pool_size || (p->pool_size & (p->pool_size - 1)) || p->pool_size > (1u << 16) ||
	    !p->arena_size || (p->arena_size & (p->arena_size - 1)) || p->align_shift < 3 ||
	    p->align_shift > 8 || p->arena_size < 2 * p->pool_size ||
	    p->arena_size / p->pool_size > 4096 || p->threshold < (1u << p->align_shift) ||
	    (p->threshold >> p->align_shift) > PYM_MAX_CLASSES ||
	    p->threshold % (1u << p->align_shift) || p->pool_overhead >= p->pool_size ||
	    (p->pool_size - p->pool_overhead) / p->threshold < 2 ||
	    (p->pool_size - p->pool_overhead) >> p->align_shift >= BNONE ||
	    (p->radix_bits && p->radix_bits != 48 && p->radix_bits != 64))
		return PYM_E_PARAMS;
	return 0;
}

int pym_create(pym **out, const pym_params *p, const pym_hooks *hooks)
{
	*out = NULL;
	if (check_params(p))
		return PYM_E_PARAMS;
	pym *m = calloc(1, sizeof(*m));
	if (!m)
		return PYM_E_NOMEM;
	m->p = *p;
	if (hooks)
		m->hooks = *hooks;
	m->max_pools = p->arena_size / p->pool_size;
	m->arena_shift = (uint32_t)__builtin_ctz(p->arena_size);
	m->pool_shift = (uint32_t)__builtin_ctz(p->pool_size);
	m->pools_shift = (uint32_t)__builtin_ctz(m->max_pools);
	m->nclasses = p->threshold >> p->align_shift;
	for (uint32_t c = 0; c < m->nclasses; c++)
		m->inv[c] = (uint32_t)(((1ull << 32) + class_size(m, c) - 1) / class_size(m, c));
	m->max_blocks = (p->pool_size - p->pool_overhead) >> p->align_shift;
	m->unused_arena_objects = m->usable_arenas = NONE;
	m->raw_next = RAW_BASE;
	m->nfp2lasta = malloc((m->max_pools + 1) * sizeof(int32_t));
	m->usedpools = malloc(m->nclasses * sizeof(int32_t));
	if (!m->nfp2lasta || !m->usedpools || !page_init(&m->pages, 8)) {
		pym_free(m);
		return PYM_E_NOMEM;
	}
	for (uint32_t i = 0; i <= m->max_pools; i++)
		m->nfp2lasta[i] = NONE;
	for (uint32_t i = 0; i < m->nclasses; i++)
		m->usedpools[i] = NONE;
	*out = m;
	return 0;
}

void pym_free(pym *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < ((size_t)m->maxarenas << m->pools_shift); i++)
		free(m->pools[i].next);
	free(m->pools);
	free(m->pages.e);
	free(m->arenas);
	free(m->nfp2lasta);
	free(m->usedpools);
	free(m->free_bases);
	map_free(&m->slots), map_free(&m->raw), map_free(&m->radix_mid), map_free(&m->radix_bot);
	free(m);
}

const pym_params *pym_get_params(const pym *m)
{
	return &m->p;
}

uint64_t pym_arenas_current(const pym *m)
{
	return m->usage.arenas;
}

void pym_get_usage(const pym *m, pym_usage *u)
{
	*u = m->usage;
}

const pym_usage *pym_usage_of(const pym *m)
{
	return &m->usage;
}

void pym_each_arena(const pym *m, void (*fn)(void *ctx, const pym_arena_use *u), void *ctx)
{
	for (uint32_t i = 0; i < m->maxarenas; i++) {
		const arena *a = &m->arenas[i];
		if (!a->address)
			continue;
		pym_arena_use u = {a->address, a->ntotalpools, 0, 0};
		uint32_t carved = (uint32_t)((a->pool_address - a->first_pool) >> m->pool_shift);
		for (uint32_t k = 0; k < carved; k++) {
			const pool *pl = &arena_pools(m, i)[k];
			if (!pl->count)
				continue;
			u.pools_used++;
			u.block_bytes += (uint64_t)pl->count * class_size(m, pl->szidx);
		}
		fn(ctx, &u);
	}
}

uint64_t pym_held_bytes(const pym *m)
{
	return m->usage.arenas * m->p.arena_size + m->usage.raw_bytes;
}

/* ---- statistics (§8) ---- */

void pym_get_stats(const pym *m, pym_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->nclasses = m->nclasses;
	for (uint32_t i = 0; i < m->maxarenas; i++) {
		const arena *a = &m->arenas[i];
		if (!a->address)
			continue;
		if (a->address & (m->p.pool_size - 1))
			st->arena_alignment += m->p.pool_size;
		st->unused_pools += a->nfreepools;
		uint32_t carved = (uint32_t)((a->pool_address - a->first_pool) / m->p.pool_size);
		for (uint32_t j = 0; j < carved; j++) {
			const pool *pl = &arena_pools(m, i)[j];
			if (!pl->count)
				continue;
			st->class_pools[pl->szidx]++;
			st->class_blocks[pl->szidx] += pl->count;
			st->class_avail[pl->szidx] += numblocks(m, pl->szidx) - pl->count;
		}
	}
	for (uint32_t c = 0; c < m->nclasses; c++) {
		uint64_t size = class_size(m, c);
		st->bytes_allocated += st->class_blocks[c] * size;
		st->bytes_available += st->class_avail[c] * size;
		st->pool_headers += st->class_pools[c] * m->p.pool_overhead;
		st->quantization += st->class_pools[c] * ((m->p.pool_size - m->p.pool_overhead) % size);
	}
	st->arenas_total = m->ntimes_arena_allocated;
	st->arenas_current = m->usage.arenas;
	st->arenas_highwater = m->narenas_highwater;
	st->map_mid = m->radix_mid.live;
	st->map_bot = m->radix_bot.live;
	st->raw_blocks = m->raw.live;
	st->raw_bytes = m->usage.raw_bytes;
}

/* printone(): the label padded to 35 columns, '=', the value with
 * thousands commas right-aligned in 21 columns. */
static size_t printone(char *buf, size_t cap, const char *label, uint64_t v)
{
	char digits[32], num[32];
	int n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)v), o = 0;
	for (int i = 0; i < n; i++) {
		num[o++] = digits[i];
		if ((n - i - 1) % 3 == 0 && i != n - 1)
			num[o++] = ',';
	}
	num[o] = 0;
	int k = snprintf(buf, cap, "%-35s=%21s\n", label, num);
	return k < 0 ? 0 : (size_t)k;
}

#define APPEND(expr)                                                                       \
	do {                                                                               \
		size_t k_ = (expr);                                                        \
		len += k_;                                                                 \
		if (len < cap)                                                             \
			buf += k_, left -= k_;                                             \
		else                                                                       \
			buf = scratch, left = sizeof(scratch);                             \
	} while (0)

size_t pym_format_stats(const pym_params *p, const pym_stats *st, char *buf, size_t cap)
{
	char scratch[256], label[64];
	size_t len = 0, left = cap;
	if (!cap)
		buf = scratch, left = sizeof(scratch);
	APPEND((size_t)snprintf(buf, left, "Small block threshold = %u, in %u size classes.\n\n",
				p->threshold, st->nclasses));
	APPEND((size_t)snprintf(buf, left,
				"class   size   num pools   blocks in use  avail blocks\n"
				"-----   ----   ---------   -------------  ------------\n"));
	for (uint32_t c = 0; c < st->nclasses; c++)
		if (st->class_pools[c])
			APPEND((size_t)snprintf(buf, left, "%5u %6u %11llu %15llu %13llu\n", c,
						(c + 1) << p->align_shift,
						(unsigned long long)st->class_pools[c],
						(unsigned long long)st->class_blocks[c],
						(unsigned long long)st->class_avail[c]));
	APPEND((size_t)snprintf(buf, left, "\n"));
	APPEND(printone(buf, left, "# arenas allocated total", st->arenas_total));
	APPEND(printone(buf, left, "# arenas reclaimed", st->arenas_total - st->arenas_current));
	APPEND(printone(buf, left, "# arenas highwater mark", st->arenas_highwater));
	APPEND(printone(buf, left, "# arenas allocated current", st->arenas_current));
	snprintf(label, sizeof(label), "%llu arenas * %u bytes/arena",
		 (unsigned long long)st->arenas_current, p->arena_size);
	APPEND(printone(buf, left, label, st->arenas_current * p->arena_size));
	APPEND((size_t)snprintf(buf, left, "\n"));
	uint64_t total = st->bytes_allocated + st->bytes_available +
			 st->unused_pools * p->pool_size + st->pool_headers + st->quantization +
			 st->arena_alignment;
	APPEND(printone(buf, left, "# bytes in allocated blocks", st->bytes_allocated));
	APPEND(printone(buf, left, "# bytes in available blocks", st->bytes_available));
	snprintf(label, sizeof(label), "%llu unused pools * %u bytes",
		 (unsigned long long)st->unused_pools, p->pool_size);
	APPEND(printone(buf, left, label, st->unused_pools * p->pool_size));
	APPEND(printone(buf, left, "# bytes lost to pool headers", st->pool_headers));
	APPEND(printone(buf, left, "# bytes lost to quantization", st->quantization));
	APPEND(printone(buf, left, "# bytes lost to arena alignment", st->arena_alignment));
	APPEND(printone(buf, left, "Total", total));
	if (p->radix_bits) {
		unsigned ab = (unsigned)__builtin_ctz(p->arena_size);
		unsigned bits = p->radix_bits - ab, interior = (bits + 2) / 3,
			 bot = bits - 2 * interior;
		uint64_t root_b = (1ull << interior) * 8, mid_b = root_b, bot_b = (1ull << bot) * 8;
		APPEND((size_t)snprintf(buf, left, "\narena map counts\n"));
		APPEND(printone(buf, left, "# arena map mid nodes", st->map_mid));
		APPEND(printone(buf, left, "# arena map bot nodes", st->map_bot));
		APPEND((size_t)snprintf(buf, left, "\n"));
		APPEND(printone(buf, left, "# bytes lost to arena map root", root_b));
		APPEND(printone(buf, left, "# bytes lost to arena map mid", st->map_mid * mid_b));
		APPEND(printone(buf, left, "# bytes lost to arena map bot", st->map_bot * bot_b));
		APPEND(printone(buf, left, "Total", root_b + st->map_mid * mid_b + st->map_bot * bot_b));
	}
	return len;
}

/* ---- profiles ---- */

const char *const pym_profile_names[] = {"cpython-3.8",  "cpython-3.9",  "cpython-3.10",
					 "cpython-3.11", "cpython-3.12", "cpython-3.13", NULL};

/* §1 and §11: 256 KiB arenas and 4 KiB pools up to 3.9, 1 MiB and 16 KiB
 * from 3.10 (64-bit, radix tree on); the last wholly free arena is kept
 * from 3.9 (bpo-37257); the radix tree covers 48 address bits in 3.10 and
 * all 64 from 3.11 (bpo-45526). */
static void profile(int minor, pym_params *o)
{
	memset(o, 0, sizeof(*o));
	snprintf(o->name, sizeof(o->name), "cpython-3.%d", minor);
	o->align_shift = 4;
	o->threshold = 512;
	o->pool_overhead = 48;
	o->arena_size = minor <= 9 ? 256u << 10 : 1u << 20;
	o->pool_size = minor <= 9 ? 4096 : 16384;
	o->keep_empty_arena = minor >= 9;
	o->radix_bits = minor <= 9 ? 0 : minor == 10 ? 48 : 64;
}

static bool parse_size(const char *v, size_t len, uint32_t *out)
{
	char *end;
	char tmp[32];
	if (!len || len >= sizeof(tmp))
		return false;
	memcpy(tmp, v, len);
	tmp[len] = 0;
	unsigned long long n = strtoull(tmp, &end, 10);
	if (end == tmp)
		return false;
	if (*end == 'K' || *end == 'k')
		n <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		n <<= 20, end++;
	if (*end || n > UINT32_MAX)
		return false;
	*out = (uint32_t)n;
	return true;
}

int pym_params_from_name(const char *name, pym_params *out)
{
	for (int i = 0; pym_profile_names[i]; i++)
		if (!strcmp(name, pym_profile_names[i])) {
			profile(8 + i, out);
			return 0;
		}
	if (strncmp(name, "custom", 6) || (name[6] && name[6] != ':'))
		return PYM_E_PARAMS;
	profile(13, out);
	snprintf(out->name, sizeof(out->name), "custom");
	const char *p = name[6] ? name + 7 : name + 6;
	while (*p) {
		size_t n = strcspn(p, ","), k = strcspn(p, "=");
		if (k >= n)
			return PYM_E_PARAMS;
		const char *v = p + k + 1;
		size_t vl = n - k - 1;
		uint32_t x;
		if (!parse_size(v, vl, &x))
			return PYM_E_PARAMS;
		if (k == 5 && !strncmp(p, "arena", 5))
			out->arena_size = x;
		else if (k == 4 && !strncmp(p, "pool", 4))
			out->pool_size = x;
		else if (k == 5 && !strncmp(p, "align", 5) && x && !(x & (x - 1)))
			out->align_shift = (uint32_t)__builtin_ctz(x);
		else if (k == 9 && !strncmp(p, "threshold", 9))
			out->threshold = x;
		else if (k == 10 && !strncmp(p, "keep-empty", 10) && x <= 1)
			out->keep_empty_arena = x;
		else if (k == 5 && !strncmp(p, "radix", 5))
			out->radix_bits = x;
		else
			return PYM_E_PARAMS;
		p += n + (p[n] == ',');
	}
	return check_params(out);
}

void pym_params_for_version(const char *version, pym_params *out)
{
	int major = 0, minor = 0;
	if (!version || sscanf(version, "%d.%d", &major, &minor) != 2 || major != 3 || minor < 8 ||
	    minor > 13)
		minor = 13;
	profile(minor, out);
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
		uint32_t carved = (uint32_t)((a->pool_address - a->first_pool) / m->p.pool_size);
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
			    page_find(&m->pages, addr >> m->pool_shift) !=
				(int32_t)(i << m->pools_shift | j))
				return "page map: a pool of a live arena is missing or wrong";
		}
	}
	if (pages != m->pages.n)
		return "page map: entries of released arenas";
	uint64_t bytes = 0, used = 0, empty = 0;
	for (uint32_t i = 0; i < m->maxarenas; i++) {
		const arena *a = &m->arenas[i];
		if (!a->address)
			continue;
		empty += a->nfreepools == a->ntotalpools;
		uint32_t carved = (uint32_t)((a->pool_address - a->first_pool) >> m->pool_shift);
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
		uint32_t carved = a->address ? (uint32_t)((a->pool_address - a->first_pool) /
							    m->p.pool_size)
					     : 0;
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
	return NULL;
}
