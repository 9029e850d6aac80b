/*
 * pym.c - CPython's pymalloc, modelled request for request: arenas, pools
 * and blocks, their lists, and the entry points (MODEL.md §2-7; CPython
 * Objects/obmalloc.c 3.8-3.13 uses the same words: arena, pool, block,
 * usable_arenas, nfp2lasta, usedpools, freepools).  Pool headers and free
 * chains, which CPython keeps inside the arena memory, are kept here in
 * per-arena arrays; the state and its invariants are in pym_internal.h.
 *
 * Every entry point leaves the state satisfying those invariants, and
 * every one of them is O(1) but for the growth of the arena vector and
 * the tables.  Built with -DPYM_CHECK_EVERY_OP (libpym-checked.a), each
 * entry point that changes the state then runs pym_check() and aborts,
 * with the violation on stderr, on the first one broken.
 */
#include "pym_internal.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RAW_BASE 0x100000000000ull /* private addresses of raw blocks (pym_malloc) */
#define RAW_ALIGN 16ull            /* raw blocks are 16-aligned, like glibc's malloc */
#define RAW_GAP 16ull              /* and a malloc chunk header apart */
#define BUILTIN_TOP 0x7f0000000000ull /* built-in arenas go down from here, like mmap */
#define BUILTIN_GAP 4096ull           /* a page between two built-in arenas */
#define FREE_BASES_FIRST_CAP 16
#define PAGE_MAP_FIRST_BITS 8         /* the page map starts with 2^8 slots */
#define INV_BITS 32                   /* fixed point of inv[]: k = off * inv >> INV_BITS */

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

/* Block index of an offset into the blocks of a pool of class idx
 * (exact: offsets are below 2^16 and sizes at most 2^8 << shift). */
static inline uint32_t block_index(const pym *m, uint32_t idx, uint64_t off)
{
	return (uint32_t)((off * m->inv[idx]) >> INV_BITS);
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
	uint64_t *v = u64map_find(&m->slots, slot), cur = v ? *v : 0;
	uint32_t lo = (uint32_t)cur, hi = (uint32_t)(cur >> 32);
	if (!lo)
		lo = (uint32_t)ai + 1;
	else if (!hi)
		hi = (uint32_t)ai + 1;
	else
		return false; /* three arenas in one slot: they would overlap */
	return u64map_put(&m->slots, slot, (uint64_t)hi << 32 | lo);
}

static void slot_remove(pym *m, uint64_t slot, int32_t ai)
{
	uint64_t *v = u64map_find(&m->slots, slot);
	if (!v)
		return;
	uint32_t lo = (uint32_t)*v, hi = (uint32_t)(*v >> 32);
	if (lo == (uint32_t)ai + 1)
		lo = hi, hi = 0;
	else if (hi == (uint32_t)ai + 1)
		hi = 0;
	if (!lo)
		u64map_del(&m->slots, slot);
	else
		*v = (uint64_t)hi << 32 | lo;
}

/* The arena index holding p, or NONE. */
static int32_t arena_of(const pym *m, uint64_t p)
{
	const uint64_t *v = u64map_find(&m->slots, slot_of(m, p));
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
	return pym_page_find(&m->pages, p >> m->pool_shift) != NONE || arena_of(m, p) != NONE;
}

uint64_t pym_arena_base(const pym *m, uint64_t p)
{
	int32_t ai = arena_of(m, p);
	return ai == NONE ? 0 : m->arenas[ai].address;
}

int32_t pym_arena_index(const pym *m, uint64_t p)
{
	int32_t ai = arena_of(m, p);
	return ai == NONE ? -1 : ai;
}

uint32_t pym_arena_slots(const pym *m)
{
	return m->maxarenas;
}

uint64_t pym_arena_address(const pym *m, int32_t i)
{
	return i >= 0 && (uint32_t)i < m->maxarenas ? m->arenas[i].address : 0;
}

/* ---- radix tree node counts (3.10+, §7-8) ---- */

static void radix_mark(pym *m, uint64_t a)
{
	if (!m->p.radix_bits)
		return;
	radix_shape r = radix_shape_of(&m->p);
	uint64_t addr_mask = m->p.radix_bits == 64 ? ~0ull : (1ull << m->p.radix_bits) - 1;
	a &= addr_mask;
	uint64_t top = a >> (r.arena_bits + r.bot + r.interior); /* names a mid node */
	uint64_t topmid = a >> (r.arena_bits + r.bot);           /* names a bot node */
	u64map_put(&m->radix_mid, top, 1);
	u64map_put(&m->radix_bot, topmid, 1);
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
		m->next_base = BUILTIN_TOP;
	m->next_base -= m->p.arena_size + BUILTIN_GAP;
	return m->next_base;
}

static void builtin_release(pym *m, uint64_t base)
{
	if (m->nfree_bases == m->cap_free_bases) {
		size_t cap = m->cap_free_bases ? 2 * m->cap_free_bases : FREE_BASES_FIRST_CAP;
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
	if (!u64map_reserve(&m->pages, m->max_pools) || !slot_add(m, slot_of(m, base), ai) ||
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
		pym_page_put_new(&m->pages, pools[k].addr >> m->pool_shift,
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
		u64map_del(&m->pages, pools[i].addr >> m->pool_shift);
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
		id = (int32_t)((uint32_t)uai << m->pools_shift | arena_carved(m, ua));
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
	int32_t id = pym_page_find(&m->pages, p >> m->pool_shift);
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
		m->raw_next += (n ? (n + RAW_ALIGN - 1) & ~(RAW_ALIGN - 1) : RAW_ALIGN) + RAW_GAP;
	}
	if (!u64map_put(&m->raw, addr, n))
		return PYM_E_NOMEM;
	m->usage.raw_bytes += n;
	*out = addr;
	return 0;
}

static bool raw_free(pym *m, uint64_t p)
{
	uint64_t *v = u64map_find(&m->raw, p);
	if (!v)
		return false;
	m->usage.raw_bytes -= *v;
	u64map_del(&m->raw, p);
	return true;
}

/* ---- entry points ---- */

static int malloc_at(pym *m, uint64_t n, uint64_t raw_addr, uint64_t *out)
{
	int rc = pymalloc_alloc(m, n, out);
	if (rc < 0 || *out)
		return rc;
	return raw_alloc(m, n, raw_addr, out);
}

/* Inlined whole into pym_free_block, its only caller (realloc_at calls
 * that too): the free path is one function. */
static inline int free_block(pym *m, uint64_t p, bool *was_pymalloc)
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
static int realloc_at(pym *m, uint64_t p, uint64_t n, uint64_t raw_addr, uint64_t *out)
{
	if (!p)
		return malloc_at(m, n, raw_addr, out);
	int32_t id = pym_page_find(&m->pages, p >> m->pool_shift);
	if (id == NONE) {
		if (arena_of(m, p) != NONE)
			return PYM_E_UNKNOWN;
		uint64_t *v = u64map_find(&m->raw, p);
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
	int rc = malloc_at(m, n, raw_addr, out);
	if (rc < 0)
		return rc;
	return pym_free_block(m, p, NULL); /* checked too, in the checked build */
}

/* ---- public API ---- */

#ifdef PYM_CHECK_EVERY_OP
/* The checked build: each operation ends with pym_check(), and the first
 * broken invariant stops the process with its description. */
static int checked(const pym *m, const char *op, int rc)
{
	const char *why = pym_check(m);
	if (why) {
		fprintf(stderr, "pym_check after %s (%s, result %d): %s\n", op, m->p.name, rc, why);
		abort();
	}
	return rc;
}
#define CHECKED(op, rc) checked(m, op, rc)
#else
#define CHECKED(op, rc) (rc)
#endif

int pym_malloc_at(pym *m, uint64_t n, uint64_t raw_addr, uint64_t *out)
{
	return CHECKED("pym_malloc_at", malloc_at(m, n, raw_addr, out));
}

int pym_malloc(pym *m, uint64_t n, uint64_t *out)
{
	return CHECKED("pym_malloc", malloc_at(m, n, 0, out));
}

int pym_calloc(pym *m, uint64_t nelem, uint64_t elsize, uint64_t *out)
{
	uint64_t n;
	if (__builtin_mul_overflow(nelem, elsize, &n))
		n = UINT64_MAX; /* too big for pymalloc: raw, as CPython does */
	return CHECKED("pym_calloc", malloc_at(m, n, 0, out));
}

int pym_free_block(pym *m, uint64_t p, bool *was_pymalloc)
{
	return CHECKED("pym_free_block", free_block(m, p, was_pymalloc));
}

int pym_realloc_at(pym *m, uint64_t p, uint64_t n, uint64_t raw_addr, uint64_t *out)
{
	return CHECKED("pym_realloc_at", realloc_at(m, p, n, raw_addr, out));
}

int pym_realloc(pym *m, uint64_t p, uint64_t n, uint64_t *out)
{
	return CHECKED("pym_realloc", realloc_at(m, p, n, 0, out));
}

/* ---- creation ---- */

int pym_create(pym **out, const pym_params *p, const pym_hooks *hooks)
{
	*out = NULL;
	if (pym_params_check(p))
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
		m->inv[c] = (uint32_t)(((1ull << INV_BITS) + class_size(m, c) - 1) / class_size(m, c));
	m->max_blocks = (p->pool_size - p->pool_overhead) >> p->align_shift;
	m->unused_arena_objects = m->usable_arenas = NONE;
	m->raw_next = RAW_BASE;
	m->nfp2lasta = malloc((m->max_pools + 1) * sizeof(int32_t));
	m->usedpools = malloc(m->nclasses * sizeof(int32_t));
	u64map_init(&m->slots, 1, &u64map_heap), u64map_init(&m->raw, 1, &u64map_heap);
	u64map_init(&m->radix_mid, 1, &u64map_heap), u64map_init(&m->radix_bot, 1, &u64map_heap);
	u64map_init(&m->pages, 1, &u64map_heap);
	if (!m->nfp2lasta || !m->usedpools ||
	    !u64map_reserve(&m->pages, (size_t)1 << (PAGE_MAP_FIRST_BITS - 1))) {
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

/* CPython 3.12's new initialisation (MODEL.md §4): the state starts again
 * as pym_create made it, the arenas of the last one are forgotten (still
 * mapped: they count in held bytes, and the built-in placement never gives
 * their bases again); the raw blocks are malloc's, and stay. */
int pym_forget(pym *m)
{
	m->usage.forgotten_arenas += m->usage.arenas;
	for (size_t i = 0; i < ((size_t)m->maxarenas << m->pools_shift); i++)
		free(m->pools[i].next);
	free(m->pools), free(m->arenas);
	m->pools = NULL, m->arenas = NULL;
	m->maxarenas = 0;
	m->unused_arena_objects = m->usable_arenas = NONE;
	for (uint32_t i = 0; i <= m->max_pools; i++)
		m->nfp2lasta[i] = NONE;
	for (uint32_t i = 0; i < m->nclasses; i++)
		m->usedpools[i] = NONE;
	m->ntimes_arena_allocated = m->narenas_highwater = 0;
	m->usage = (pym_usage){.raw_bytes = m->usage.raw_bytes,
			       .forgotten_arenas = m->usage.forgotten_arenas};
	u64map_clear(&m->slots), u64map_clear(&m->pages);
	u64map_clear(&m->radix_mid), u64map_clear(&m->radix_bot);
	u64map_init(&m->slots, 1, &u64map_heap), u64map_init(&m->pages, 1, &u64map_heap);
	u64map_init(&m->radix_mid, 1, &u64map_heap), u64map_init(&m->radix_bot, 1, &u64map_heap);
	int rc = u64map_reserve(&m->pages, (size_t)1 << (PAGE_MAP_FIRST_BITS - 1)) ? 0 : PYM_E_NOMEM;
	return CHECKED("pym_forget", rc);
}

void pym_free(pym *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < ((size_t)m->maxarenas << m->pools_shift); i++)
		free(m->pools[i].next);
	free(m->pools);
	u64map_clear(&m->pages);
	free(m->arenas);
	free(m->nfp2lasta);
	free(m->usedpools);
	free(m->free_bases);
	u64map_clear(&m->slots), u64map_clear(&m->raw);
	u64map_clear(&m->radix_mid), u64map_clear(&m->radix_bot);
	free(m);
}

const pym_params *pym_get_params(const pym *m)
{
	return &m->p;
}
