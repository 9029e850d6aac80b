/*
 * pym_internal.h - the pymalloc model's state, shared by its files (pym.c
 * the allocator, pym_table.c its address tables, pym_stats.c the figures,
 * pym_profile.c the parameter sets, pym_check.c the checker) and by tests
 * that break the state on purpose.  Not for other callers: pym.h is the
 * interface.
 *
 * The counting invariants are written next to the fields they relate;
 * pym_check() verifies each of them but the raw layer's byte count
 * (MODEL.md §13 lists them all).
 * "carved(a)" below is (a->pool_address - a->first_pool) >> pool_shift,
 * the pools of arena a handed out at least once.
 */
#ifndef ARENATRACE_PYM_INTERNAL_H
#define ARENATRACE_PYM_INTERNAL_H

#include "pym.h"
#include "u64map.h"

#define NONE (-1)             /* no arena, no pool (ids are indices) */
#define BNONE 0xffffu         /* end of a block free chain */
#define DUMMY_SIZE_IDX 0xffffu /* szidx of a pool carved but not yet given a class */
#define INITIAL_ARENA_OBJECTS 16 /* the arena vector's first size (CPython's constant) */

/* ---- address tables (common/u64map.h) ---- */

/* A u64 -> u64 map: arena slots, raw blocks, radix tree nodes. */
typedef u64map pym_map;

/* its maps hold one value per key (u64map_put, u64map_del) */

/* The page map: pool-aligned page (address >> pool_shift) -> pool id,
 * every pool of every live arena and nothing else, so one probe finds the
 * pool of a freed address; its live == Σ ntotalpools over the live arenas.
 * Room is reserved before an arena's pages go in, so that adding them
 * cannot fail half-way. */
typedef u64map pym_page_map;

/* The pool id of a page, or NONE: on every free, so inline. */
static inline int32_t pym_page_find(const pym_page_map *t, uint64_t page)
{
	const uint64_t *v = u64map_find(t, page);
	return v ? (int32_t)*v : NONE;
}

/* A page not in the map yet, with room for it reserved. */
static inline void pym_page_put_new(pym_page_map *t, uint64_t page, int32_t id)
{
	*u64map_insert(t, page) = (uint64_t)(uint32_t)id;
}

/* ---- state ---- */

/* A pool (CPython's pool_header, kept outside the arena).  Its state:
 *   virgin  k >= carved(arena): never handed out, fields undefined;
 *   used    count > 0, freeblock != BNONE: on the ring usedpools[szidx];
 *   full    count > 0, freeblock == BNONE: on no list;
 *   empty   count == 0, carved: on its arena's freepools, keeping szidx,
 *           its free chain and nextoffset for a reuse by the same class.
 * In a used or full pool of block size `size`:
 *   count + len(free chain) + virgin blocks == NUMBLOCKS(szidx)
 * where the virgin blocks are those at offsets >= nextoffset (none once
 * nextoffset > POOL_SIZE - size).  40 bytes: the freed blocks' pools are
 * most of the model's cache misses. */
typedef struct pool {
	uint16_t count;        /* ref.count: blocks in use, < BNONE */
	uint16_t szidx;        /* size class, DUMMY_SIZE_IDX when freshly carved */
	uint16_t freeblock;    /* first block of the free chain, BNONE = empty chain */
	uint32_t nextoffset;   /* bytes from the pool start to the first virgin block */
	int32_t nextpool, prevpool; /* pool ids: usedpools ring, or freepools list (next only) */
	uint16_t *next;        /* free chain links, max_blocks of them once the pool had a class */
	uint64_t addr;         /* first_pool + (k << pool_shift) for pool k of its arena */
} pool;

/* An arena object.  address == 0: the slot is unused and on the
 * unused_arena_objects chain (through nextarena).  A live arena:
 *   first_pool = address rounded up to POOL_SIZE;
 *   ntotalpools = max_pools, less one when address % POOL_SIZE != 0;
 *   carved <= ntotalpools;
 *   nfreepools == len(freepools) + (ntotalpools - carved)
 *     (empty pools cached + pools never carved);
 *   on usable_arenas iff nfreepools > 0;
 *   wholly free iff nfreepools == ntotalpools. */
typedef struct arena {
	uint64_t address;      /* base, 0 = slot unused */
	uint64_t first_pool;   /* first pool-aligned address */
	uint64_t pool_address; /* next never-carved pool */
	uint32_t nfreepools;   /* empty + never-carved pools */
	uint32_t ntotalpools;  /* pools that fit after alignment */
	int32_t freepools;     /* pool id, LIFO of empty pools (through nextpool) */
	int32_t nextarena, prevarena; /* usable_arenas, or the unused chain (next only) */
	bool builtin;          /* placed by the model itself */
} arena;

/* The model.  Pool ids: arena index << pools_shift | pool number k in the
 * arena, so pools[id] is the pool and id >> pools_shift its arena.
 *
 * usable_arenas: the live arenas with nfreepools > 0, doubly linked,
 *   sorted by nfreepools ascending (the most used first); full arenas are
 *   on no list.
 * nfp2lasta[k]: the rightmost arena of usable_arenas with nfreepools == k,
 *   NONE if there is none; nfp2lasta[0] is always NONE.
 * usedpools[c]: a ring of exactly the used pools of class c (NONE when
 *   there are none); allocation takes its head.
 * The waste split (usage):
 *   usage.arenas * ARENA_SIZE == usage.pools_used * POOL_SIZE
 *     + (empty, never-carved and alignment-lost pools) * POOL_SIZE in the
 *       arenas that are not wholly free
 *     + usage.empty_arenas * ARENA_SIZE. */
struct pym {
	pym_params p;
	pym_hooks hooks;
	uint32_t arena_shift, pool_shift, pools_shift; /* log2 of arena, pool, max_pools */
	uint32_t inv[PYM_MAX_CLASSES]; /* ceil(2^32 / block size): k = off * inv >> 32 */
	uint32_t max_pools;  /* MAX_POOLS_IN_ARENA = ARENA_SIZE / POOL_SIZE */
	uint32_t nclasses;   /* threshold >> align_shift */
	uint32_t max_blocks; /* blocks of the smallest class in a pool */
	arena *arenas;       /* [maxarenas] */
	pool *pools;         /* [maxarenas << pools_shift]: pool id = index */
	uint32_t maxarenas;  /* grows 16, 32, 64, ...; never shrinks */
	int32_t unused_arena_objects; /* chain of the slots with address 0 */
	int32_t usable_arenas;        /* head (above) */
	int32_t *nfp2lasta;  /* [max_pools + 1] (above) */
	int32_t *usedpools;  /* [nclasses]: first pool of the ring, NONE = empty */
	uint64_t ntimes_arena_allocated; /* >= usage.arenas */
	uint64_t narenas_highwater;      /* max of usage.arenas over time */
	/* O(1) figures for the replay's waste split, kept up to date in place:
	 *   usage.arenas == live arenas (narenas_currently_allocated);
	 *   usage.pools_used == pools with count > 0;
	 *   usage.block_bytes == Σ count * block size over those pools;
	 *   usage.empty_arenas == live arenas with nfreepools == ntotalpools;
	 *   usage.raw_bytes == Σ the values of raw */
	pym_usage usage;
	pym_map slots;       /* arena_size-aligned slot -> up to two arena indices (+1):
			      * an arena covers one or two slots, and three in one
			      * would overlap */
	pym_page_map pages;  /* pool page -> pool id (above) */
	pym_map raw;         /* live raw block -> requested size */
	uint64_t raw_next;   /* next private raw address (RAW_BASE on, 16-aligned) */
	pym_map radix_mid, radix_bot; /* radix tree nodes ever created (keys) */
	uint64_t next_base;  /* built-in arena placement: the last new base */
	uint64_t *free_bases; /* built-in: released bases, reused LIFO; none is live */
	size_t nfree_bases, cap_free_bases;
};

static inline uint32_t class_size(const pym *m, uint32_t idx)
{
	return (idx + 1) << m->p.align_shift; /* INDEX2SIZE */
}

static inline uint32_t numblocks(const pym *m, uint32_t idx)
{
	return (m->p.pool_size - m->p.pool_overhead) / class_size(m, idx);
}

static inline pool *pool_of(const pym *m, int32_t id)
{
	return &m->pools[(uint32_t)id];
}

/* Arena ai's max_pools pools (ids ai << pools_shift on). */
static inline pool *arena_pools(const pym *m, uint32_t ai)
{
	return &m->pools[(size_t)ai << m->pools_shift];
}

/* Pools of arena a handed out at least once. */
static inline uint32_t arena_carved(const pym *m, const arena *a)
{
	return (uint32_t)((a->pool_address - a->first_pool) >> m->pool_shift);
}

/* The radix tree of address_in_range (3.10+): the address bits above
 * the arena bits split into RADIX_LEVELS levels, the root and mid ones of
 * `interior` bits each and the bot one of the rest (CPython's MAP_TOP,
 * MAP_MID and MAP_BOT bits); an entry of any node takes
 * RADIX_ENTRY_BYTES (a pointer, or the bot's two 32-bit coverage ints). */
#define RADIX_LEVELS 3
#define RADIX_ENTRY_BYTES 8

typedef struct radix_shape {
	unsigned arena_bits; /* log2(ARENA_SIZE) */
	unsigned interior;   /* bits of the root and mid levels */
	unsigned bot;        /* bits of the bot level */
} radix_shape;

static inline radix_shape radix_shape_of(const pym_params *p)
{
	radix_shape r;
	r.arena_bits = (unsigned)__builtin_ctz(p->arena_size);
	unsigned bits = p->radix_bits - r.arena_bits;
	r.interior = (bits + RADIX_LEVELS - 1) / RADIX_LEVELS;
	r.bot = bits - (RADIX_LEVELS - 1) * r.interior;
	return r;
}

/* 0 if the parameters are ones the model can run, else PYM_E_PARAMS
 * (pym_profile.c). */
int pym_params_check(const pym_params *p);

#endif
